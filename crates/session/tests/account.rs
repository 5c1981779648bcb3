//! End-to-end tests of `session account …`, running the real binary against a temporary
//! data directory. Known answers come from the shared vectors
//! (mnemonic.json `derived.mnemonic_to_session_id.01234567`, blinding.json
//! `derived.blind_ids.session_encrypt_keys.01234567`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const WORDS: &str =
    "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
const SEED16: &str = "0123456789abcdef0123456789abcdef";
const SESSION_ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const ED_PK: &str = "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7";
const SERVER_PK: &str = "1d7e7f92b1ed3643855c98ecac02fc7274033a3467653f047d6e433540c03f17";
const BLIND15: &str = "155678ab7f648665b1e90e3c19e56bbaa9d5890f367d1000101aebe265c46ae8c4";
const BLIND25: &str = "258ce2ed7e357093056e9c4a72a1cba4718647134f2c23b76dedcc9c79b7a1f53a";

fn session(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_session"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SESSION_DATA_DIR");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn session");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn stderr_of(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn new_then_show_is_the_same_account_and_the_key_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_of(&session(dir.path(), &["account", "new", "--json"], None));
    let sid = created["session_id"].as_str().unwrap().to_string();
    assert!(sid.starts_with("05") && sid.len() == 66, "{sid}");
    let words = created["recovery_password"].as_str().unwrap();
    assert_eq!(words.split_whitespace().count(), 13);

    let shown = json_of(&session(dir.path(), &["account", "show", "--json"], None));
    assert_eq!(shown["session_id"], created["session_id"]);
    assert_eq!(shown["ed25519_pubkey"], created["ed25519_pubkey"]);
    assert!(
        shown.get("recovery_password").is_none(),
        "words are never shown unless asked"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("account.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The printed words restore the same account elsewhere.
    let other = tempfile::tempdir().unwrap();
    let restored = json_of(&session(
        other.path(),
        &["account", "restore", "--words", words, "--json"],
        None,
    ));
    assert_eq!(restored["session_id"].as_str().unwrap(), sid);

    // A second `new` never overwrites the account.
    let err = stderr_of(&session(dir.path(), &["account", "new"], None));
    assert!(err.contains("never overwritten"), "{err}");
    let again = json_of(&session(dir.path(), &["account", "show", "--json"], None));
    assert_eq!(again["session_id"].as_str().unwrap(), sid);
}

#[test]
fn human_output_has_id_words_and_qr() {
    let dir = tempfile::tempdir().unwrap();
    let out = session(dir.path(), &["account", "new"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Session ID  05"), "{text}");
    assert!(
        text.contains('▀') || text.contains('▄') || text.contains('█'),
        "no QR code:\n{text}"
    );
    assert!(text.contains("Recovery password"), "{text}");
}

#[test]
fn restore_from_words_seed_and_stdin_gives_the_known_id() {
    for (args, stdin) in [
        (vec!["account", "restore", "--words", WORDS, "--json"], None),
        (vec!["account", "restore", "--seed", SEED16, "--json"], None),
        (
            vec!["account", "restore", "--json"],
            Some(format!("{WORDS}\n")),
        ),
        // Prefixes and odd case are accepted, as Session clients accept them.
        (
            vec!["account", "restore", "--json"],
            Some(WORDS.to_uppercase().replace("pigment", "pigxx")),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let v = json_of(&session(dir.path(), &args, stdin.as_deref()));
        assert_eq!(v["session_id"], SESSION_ID, "{args:?}");
        assert_eq!(v["ed25519_pubkey"], ED_PK, "{args:?}");
    }
}

#[test]
fn show_blinded_ids_for_a_community() {
    let dir = tempfile::tempdir().unwrap();
    json_of(&session(
        dir.path(),
        &["account", "restore", "--seed", SEED16, "--json"],
        None,
    ));
    let v = json_of(&session(
        dir.path(),
        &["account", "show", "--community-pubkey", SERVER_PK, "--json"],
        None,
    ));
    assert_eq!(v["session_id"], SESSION_ID);
    assert_eq!(v["blinded15_id"], BLIND15);
    assert_eq!(v["blinded25_id"], BLIND25);
    let words = json_of(&session(
        dir.path(),
        &["account", "show", "--recovery-password", "--json"],
        None,
    ));
    assert_eq!(words["recovery_password"], WORDS);
}

#[test]
fn bad_input_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = stderr_of(&session(dir.path(), &["account", "show"], None));
    assert!(err.contains("session account new"), "{err}");

    let cases: &[(&[&str], &str)] = &[
        (&["account", "restore", "--seed", "xyz"], "hex"),
        (&["account", "restore", "--seed", "00ff"], "16, 32 or 64"),
        (
            &[
                "account",
                "restore",
                "--words",
                "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed amaze",
            ],
            "checksum",
        ),
        (
            &[
                "account",
                "restore",
                "--words",
                "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed zzzzz",
            ],
            "word 13",
        ),
        (&["account", "restore", "--words", "amaze buffet"], "words"),
    ];
    for (args, needle) in cases {
        let d = tempfile::tempdir().unwrap();
        let err = stderr_of(&session(d.path(), args, None));
        assert!(err.to_lowercase().contains(needle), "{args:?}: {err}");
        assert!(
            !d.path().join("account.json").exists(),
            "{args:?} left a key file"
        );
    }
    let err = stderr_of(&session(dir.path(), &["account", "restore"], Some("\n")));
    assert!(err.contains("no recovery password"), "{err}");

    json_of(&session(
        dir.path(),
        &["account", "restore", "--seed", SEED16, "--json"],
        None,
    ));
    let err = stderr_of(&session(
        dir.path(),
        &["account", "show", "--community-pubkey", "abcd"],
        None,
    ));
    assert!(err.contains("community-pubkey"), "{err}");
}
