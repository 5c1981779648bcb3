#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Attachments end to end on an in-process network (registry + nodes, real HTTP on
//! loopback, onion paths) with a real file server (SQLite + files on disk) on the
//! network's mock clock:
//!
//! * Alice sends files of 0 B, 1 B, 1 MiB and the largest size to Bob; Bob polls, sees
//!   the pointers and gets every file back byte-identical (uploads and downloads go
//!   through onion paths); Alice's own sync copy carries the pointer too;
//! * the server never holds plaintext: its files and database are scanned for the
//!   content;
//! * a tampered blob, a wrong key, a truncated blob, an expired file and an oversize
//!   file each give their own clear error, and a refused send keeps nothing; a
//!   legacy-format (AES-CBC + HMAC) blob downloads and decrypts the same way.

use std::sync::Arc;
use std::time::Duration;

use session_client::attachments::{
    self, Attachment, FileServerClient, NewFile, crypt, max_file_size,
};
use session_client::community::{Route, ServerUrl};
use session_client::store::MemoryStore;
use session_client::{
    ClientError, FileServerSettings, Messenger, MessengerSettings, NetworkConfig, OnionClient,
};
use session_crypto::attachments::AttachmentError;
use session_crypto::{AccountKeys, Ed25519Seed, X25519Keypair};
use session_files::server::PURGE_INTERVAL;
use session_files::{FileServer, FileSettings, FileStore, purge_loop, serve};
use session_rt::ShutdownTrigger;
use session_testkit::TestNetwork;

struct Files {
    url: String,
    key: [u8; 32],
    store: Arc<FileStore>,
    dir: tempfile::TempDir,
    _trigger: ShutdownTrigger,
}

async fn start_files(net: &TestNetwork) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path()).unwrap());
    let keypair = Arc::new(X25519Keypair::generate().unwrap());
    let key = *keypair.public();
    let state = FileServer::new(
        Arc::clone(&store),
        net.clock().shared(),
        keypair,
        FileSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (trigger, shutdown) = session_rt::shutdown::channel();
    tokio::spawn(serve(state, listener, shutdown.clone()));
    tokio::spawn(purge_loop(
        Arc::clone(&store),
        net.clock().shared(),
        PURGE_INTERVAL,
        shutdown,
    ));
    Files {
        url,
        key,
        store,
        dir,
        _trigger: trigger,
    }
}

fn messenger(net: &TestNetwork, files: &Files, seed: u8, name: &str) -> Messenger {
    let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
    cfg.storage_https = false;
    cfg.client.connect_timeout_ms = 2_000;
    cfg.client.request_timeout_ms = 20_000;
    cfg.file_server = Some(FileServerSettings {
        url: files.url.clone(),
        pubkey_x25519: hex::encode(files.key),
    });
    let client = OnionClient::new(cfg, net.clock().shared());
    let settings = MessengerSettings {
        profile: Some(session_client::message::Profile::named(name)),
        read_receipts: false,
    };
    let keys = AccountKeys::from_seed(Ed25519Seed::from_array([seed; 32]));
    Messenger::new(keys, client, Arc::new(MemoryStore::new()), settings)
}

/// Deterministic bytes that look random (so a plaintext window cannot occur by chance).
fn content(len: usize, salt: u8) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(salt);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every byte the file server keeps: its files and its database.
fn server_bytes(files: &Files) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![files.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn file_id(a: &Attachment) -> String {
    attachments::DownloadUrl::parse(&a.url).unwrap().file_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_every_size_arrive_byte_identical_through_the_onion() {
    let net = TestNetwork::start(9).await.unwrap();
    let files = start_files(&net).await;
    let alice = messenger(&net, &files, 1, "Alice");
    let bob = messenger(&net, &files, 2, "Bob");
    let b = bob.session_id();

    let max = max_file_size();
    assert!(max > 9_900_000 && max < 10_000_000, "{max}");
    let sizes = [0usize, 1, 1 << 20, max];
    let mut sent = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let data = content(size, i as u8);
        let file = NewFile {
            data: data.clone(),
            file_name: Some(format!("file-{size}.bin")),
            content_type: Some("application/octet-stream".into()),
        };
        let mut stages = Vec::new();
        let s = alice
            .send_file(
                &b,
                &file,
                if size == 1 { "one byte" } else { "" },
                &mut |p| {
                    stages.push(p.stage);
                },
            )
            .await
            .unwrap_or_else(|e| panic!("sending {size} bytes: {e}"));
        assert!(stages.contains(&attachments::Stage::Encrypting));
        assert!(stages.contains(&attachments::Stage::Uploading));
        let a = &s.message.attachments[0];
        assert_eq!(a.size, size as u64);
        assert!(
            a.url.starts_with(&files.url) && a.url.ends_with("&d"),
            "{}",
            a.url
        );
        sent.push((data, a.clone()));
        net.clock().advance(Duration::from_millis(5));
    }

    // The server holds only ciphertext: no 32-byte window of the 1 MiB or largest
    // plaintext appears in any of its files or its database.
    let stored = server_bytes(&files);
    for (data, _) in &sent[2..] {
        for start in [0, data.len() / 2, data.len() - 32] {
            let window = &data[start..start + 32];
            assert!(
                !stored.iter().any(|f| contains(f, window)),
                "plaintext found on the server"
            );
        }
    }

    // Bob polls: four messages with one pointer each, and every file comes back whole.
    let report = bob.fetch().await.unwrap();
    assert_eq!(report.new_messages.len(), 4, "{report:?}");
    for (msg, (data, pointer)) in report.new_messages.iter().zip(&sent) {
        assert_eq!(msg.attachments, vec![pointer.clone()]);
        let got = bob
            .fetch_attachment(msg, 0, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("fetching {} bytes: {e}", data.len()));
        assert!(got == *data, "{} bytes differ", data.len());
    }
    assert_eq!(report.new_messages[1].body, "one byte");

    // Alice's other device sees her sync copy with the same pointer.
    let alice2 = messenger(&net, &files, 1, "Alice");
    let mine = alice2.fetch().await.unwrap();
    assert!(
        mine.new_messages
            .iter()
            .any(|m| m.attachments == vec![sent[2].1.clone()]),
        "{mine:?}"
    );
    let index = bob
        .fetch_attachment(&report.new_messages[0], 1, &mut |_| {})
        .await;
    assert!(matches!(index, Err(ClientError::NotFound(_))), "{index:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_wrong_key_truncated_expired_and_oversize_files_fail_clearly() {
    let net = TestNetwork::start(9).await.unwrap();
    let files = start_files(&net).await;
    let alice = messenger(&net, &files, 3, "Alice");
    let b = messenger(&net, &files, 4, "Bob").session_id();
    let server = FileServerClient::new(
        ServerUrl::parse(&files.url).unwrap(),
        files.key,
        Route::Direct,
    );
    let download = |a: Attachment| {
        let server = server.clone();
        async move { attachments::download(&a, Some(&server), Route::Direct, &mut |_| {}).await }
    };
    let data = content(100_000, 9);
    let file = NewFile {
        data: data.clone(),
        file_name: Some("a.bin".into()),
        content_type: None,
    };
    let good = alice
        .send_file(&b, &file, "", &mut |_| {})
        .await
        .unwrap()
        .message
        .attachments[0]
        .clone();
    assert_eq!(download(good.clone()).await.unwrap(), data);
    let path = files.store.file_path(&file_id(&good));
    let blob = std::fs::read(&path).unwrap();

    // Tampered: one flipped byte on the server.
    let mut bad = blob.clone();
    bad[50_000] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let e = download(good.clone()).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Attachment(AttachmentError::DigestMismatch)),
        "{e}"
    );
    assert!(e.to_string().contains("digest mismatch"), "{e}");
    // … and without a digest to compare, the stream's authentication catches it.
    let mut no_digest = good.clone();
    no_digest.digest = None;
    let e = download(no_digest.clone()).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Attachment(AttachmentError::Tampered { .. })),
        "{e}"
    );

    // Truncated: the blob's end is missing.
    std::fs::write(&path, &blob[..blob.len() - 1000]).unwrap();
    let e = download(good.clone()).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Attachment(AttachmentError::DigestMismatch)),
        "{e}"
    );
    let e = download(no_digest).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Attachment(AttachmentError::Truncated { .. })
        ),
        "{e}"
    );
    std::fs::write(&path, &blob).unwrap();

    // Wrong key.
    let mut wrong = good.clone();
    wrong.key = vec![0x11; 32];
    let e = download(wrong).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Attachment(AttachmentError::WrongKeyOrCorrupt)
        ),
        "{e}"
    );
    assert_eq!(download(good.clone()).await.unwrap(), data);

    // A legacy-format (AES-CBC + HMAC) file, as older clients upload them, downloads
    // and decrypts through the same path.
    let legacy = session_crypto::attachments::legacy_encrypt(&data, true).unwrap();
    let up = server
        .upload(legacy.blob.clone(), &mut |_| {})
        .await
        .unwrap();
    let old_style = Attachment {
        url: format!("{}/file/{}", files.url, up.id),
        id: up.id.parse().unwrap(),
        key: legacy.key.as_bytes().to_vec(),
        digest: Some(legacy.digest.to_vec()),
        size: data.len() as u64,
        content_type: None,
        file_name: None,
    };
    assert_eq!(download(old_style.clone()).await.unwrap(), data);
    let mut old_tampered = old_style;
    old_tampered.key[40] ^= 1;
    let e = download(old_tampered).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Attachment(AttachmentError::WrongKeyOrCorrupt)
        ),
        "{e}"
    );

    // A URL naming a server whose key is unknown.
    let mut stranger = good.clone();
    stranger.url = "http://127.0.0.1:9/file/1".into();
    let e = download(stranger).await.unwrap_err();
    assert!(e.to_string().contains("onion key is unknown"), "{e}");

    // Expired: three weeks later the purge has deleted it; the error says so.
    net.clock().advance(Duration::from_secs(21 * 86_400 + 60));
    let mut gone = false;
    for _ in 0..200 {
        if !path.exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the purge did not delete the expired blob");
    let e = download(good).await.unwrap_err();
    assert!(matches!(e, ClientError::FileServer { .. }), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");

    // Oversize: refused before anything is uploaded or sent.
    let before = server_bytes(&files).len();
    let big = NewFile {
        data: vec![0; max_file_size() + 1],
        file_name: None,
        content_type: None,
    };
    let e = alice
        .send_file(&b, &big, "", &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::BadInput { .. }), "{e}");
    assert!(e.to_string().contains("at most"), "{e}");
    let e = server
        .upload(vec![0; attachments::MAX_UPLOAD + 1], &mut |_| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 10000000"), "{e}");
    assert_eq!(server_bytes(&files).len(), before);
    let history = alice.store().history(&b, None, 10).unwrap();
    assert_eq!(history.len(), 1, "a refused send keeps nothing");

    // The encryption's own size limit matches what the server takes.
    assert!(crypt::encrypted_size(max_file_size()).unwrap() <= attachments::MAX_UPLOAD);
    assert!(crypt::encrypted_size(max_file_size() + 1).unwrap() > attachments::MAX_UPLOAD);
}
