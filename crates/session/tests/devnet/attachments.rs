//! Attachments through the devnet with the real binary: `session send --file` and
//! `session save` between two accounts for 0 B, 1 B, 1 MiB and the largest file, saved
//! byte-identical; the devnet's file server holds only ciphertext; bad inputs and a
//! file gone from the server fail clearly and write nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::User;

/// Bytes that look random, so a plaintext window cannot turn up by chance.
fn content(len: usize, salt: u64) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64 ^ salt;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Every file under `dir`, read.
fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    out
}

/// Waits (bounded) until `b` has `n` messages from `a` with attachments.
fn wait_for_files(b: &User, a: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, err) = b.run(&["--json", "read", a]);
        if ok {
            let list: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
            let with_files: Vec<Value> = list
                .into_iter()
                .filter(|m| !m["attachments"].as_array().unwrap().is_empty())
                .collect();
            if with_files.len() >= n {
                return with_files;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{n} files did not arrive within 60 s (last: {out}{err})"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn attachments_flow(devnet: &Path, dir: &Path, network: &Path) {
    // The largest attachment: the most bytes whose encryption fits in one upload.
    let max_file = session_client::attachments::max_file_size();
    let a = User::new(dir.join("a"), network);
    let b = User::new(dir.join("b"), network);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();

    // Bad inputs first: each says what to fix, and nothing is sent.
    let missing = files.join("missing.bin");
    let err = a.fails(&["send", "--file", missing.to_str().unwrap(), &b.id]);
    assert!(
        err.contains("cannot read") && err.contains("missing.bin"),
        "{err}"
    );
    let err = a.fails(&["send", "--file", files.to_str().unwrap(), &b.id]);
    assert!(err.contains("is not a file"), "{err}");
    let too_big = files.join("too-big.bin");
    std::fs::write(&too_big, vec![0u8; max_file + 1]).unwrap();
    let err = a.fails(&["send", "--file", too_big.to_str().unwrap(), &b.id]);
    assert!(err.contains("at most"), "{err}");
    std::fs::remove_file(&too_big).unwrap();

    // A sends four files; the 1-byte one with a caption.
    let sizes = [0usize, 1, 1 << 20, max_file];
    let mut originals = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let data = content(*size, i as u64);
        let path = files.join(format!("file-{size}.bin"));
        std::fs::write(&path, &data).unwrap();
        // Both orders work: options before TO, or `send TO --file PATH [CAPTION]`.
        let mut args = vec!["send", "--file", path.to_str().unwrap(), b.id.as_str()];
        if *size == 1 {
            args = vec!["send", &b.id, "--file", path.to_str().unwrap(), "one byte"];
        }
        let sent = a.json(&args);
        let att = &sent["attachments"][0];
        assert_eq!(att["size"], *size as u64, "{sent}");
        assert_eq!(att["file_name"], format!("file-{size}.bin"), "{sent}");
        assert!(
            sent.to_string().find("\"key\"").is_none(),
            "no key in the output: {sent}"
        );
        originals.push(data);
    }

    // The file server holds ciphertext only.
    let stored = all_bytes(&devnet.join("files"));
    assert!(!stored.is_empty(), "nothing stored under DIR/files");
    for data in &originals[2..] {
        let window = &data[data.len() / 2..data.len() / 2 + 32];
        assert!(
            !stored.iter().any(|f| f.windows(32).any(|w| w == window)),
            "plaintext found in the devnet's file server"
        );
    }

    // B receives four messages with files and saves each byte-identical.
    let got = wait_for_files(&b, &a.id, sizes.len());
    let out = dir.join("saved");
    std::fs::create_dir_all(&out).unwrap();
    for (i, msg) in got.iter().enumerate() {
        let hash = msg["hash"].as_str().unwrap();
        let name = msg["attachments"][0]["file_name"].as_str().unwrap();
        let size = msg["attachments"][0]["size"].as_u64().unwrap() as usize;
        let k = sizes.iter().position(|s| *s == size).unwrap();
        let saved = b.json(&["save", hash, out.to_str().unwrap()]);
        let path = out.join(name);
        assert_eq!(saved["path"], path.display().to_string(), "{saved}");
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes == originals[k], "file {i} ({size} B) differs");
        if size == 1 {
            assert_eq!(msg["body"], "one byte", "{msg}");
        }
    }
    let (ok, text, err) = b.run(&["read", &a.id, "--offline"]);
    assert!(
        ok && text.contains("📎 file-1048576.bin (1.0 MB"),
        "{text}{err}"
    );
    assert!(text.contains("session save"), "{text}");

    // Saving again onto an existing file is refused (nothing changes); --force works.
    let first = got[0]["hash"].as_str().unwrap();
    let name = got[0]["attachments"][0]["file_name"].as_str().unwrap();
    let err = b.fails(&["save", first, out.to_str().unwrap()]);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    b.json(&["save", "--force", first, out.join(name).to_str().unwrap()]);
    let err = b.fails(&["save", "--index", "2", first]);
    assert!(err.contains("--index 2 does not exist"), "{err}");
    let err = b.fails(&["save", "0123456789abcdef"]);
    assert!(err.contains("session read"), "{err}");

    // A blob gone from the server (expired early): a clear error, no file written.
    for f in std::fs::read_dir(devnet.join("files/data/files")).unwrap() {
        let sub = f.unwrap().path();
        if sub.is_dir() {
            std::fs::remove_dir_all(&sub).unwrap();
        }
    }
    let target = dir.join("gone.bin");
    let (ok, _, err) = b.run(&["save", first, target.to_str().unwrap()]);
    assert!(!ok, "saving a deleted file succeeded");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!target.exists(), "a partial file was left behind");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
