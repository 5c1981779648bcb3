#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Communities end to end: an in-process community server (SOGS) on 127.0.0.1:0 with a
//! room, and accounts using [`CommunityClient`] against it — directly (join, post,
//! read with signatures checked, a tampered message flagged, reactions, deletion,
//! blinded DMs with the sender recovered), through onion paths of a `session-testkit`
//! network (with room files: uploaded, posted, saved back, bad pointers refused), and
//! the real `session community` commands with `--direct` (incl. `post --file`, `save`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_client::attachments::{MAX_UPLOAD, NewFile, Stage};
use session_client::community::message::{sign_data, text_content};
use session_client::community::{ApiRequest, Route};
use session_client::store::{ClientStore, DmDirection, MemoryStore, MessageStatus, SqliteStore};
use session_client::{ClientError, CommunityClient, JoinUrl, NetworkConfig, OnionClient};
use session_crypto::sogs_auth::SogsAuthMode;
use session_crypto::{AccountKeys, X25519Keypair};
use session_rt::{Clock, MockClock, ShutdownTrigger, SystemClock};
use session_sogs::server::{Sogs, SogsSettings, router};
use session_sogs::store::testing::{TestStore, sqlite};
use session_sogs::store::{NewRoom, Retention, RoomDefaults};

const START_MS: u64 = 1_750_000_000_000;

/// A community server with rooms `lobby` and `other`, answering plain HTTP and v4 onion
/// requests.
struct Server {
    addr: SocketAddr,
    pubkey: [u8; 32],
    _trigger: ShutdownTrigger,
    _store: TestStore,
}

impl Server {
    async fn start(clock: Arc<dyn Clock>) -> Self {
        let store = sqlite(Retention::default());
        #[allow(clippy::cast_precision_loss)]
        let now = clock.now_ms() as f64 / 1000.0;
        for (token, name) in [("lobby", "The Lobby"), ("other", "Other")] {
            store
                .store
                .create_room(
                    &NewRoom {
                        token: token.into(),
                        name: name.into(),
                        description: Some("a test room".into()),
                        defaults: RoomDefaults::default(),
                    },
                    now,
                )
                .unwrap();
        }
        let key = X25519Keypair::generate().unwrap();
        let pubkey = *key.public();
        let sogs = Sogs::new(
            Arc::clone(&store.store),
            clock,
            key,
            SogsSettings::default(),
        );
        // The router answers plain HTTP and the onion entry `/oxen/v4/lsrpc`.
        let app = router(sogs);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        tokio::spawn(session_rt::http::serve(
            listener,
            app,
            None,
            shutdown,
            session_rt::http::ServeOptions::default(),
        ));
        Self {
            addr,
            pubkey,
            _trigger: trigger,
            _store: store,
        }
    }

    fn url(&self, room: &str) -> JoinUrl {
        format!(
            "http://127.0.0.1:{}/{room}?public_key={}",
            self.addr.port(),
            hex::encode(self.pubkey)
        )
        .parse()
        .unwrap()
    }
}

fn client(
    url: &JoinUrl,
    keys: &AccountKeys,
    route: Route,
    store: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    name: &str,
) -> CommunityClient {
    CommunityClient::new(
        keys.clone(),
        url.server.clone(),
        url.pubkey,
        route,
        store,
        clock,
    )
    .with_display_name(Some(name.into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_post_read_react_delete_and_dm_directly() {
    let clock = MockClock::new(START_MS);
    let server = Server::start(clock.shared()).await;
    let url = server.url("Lobby");
    assert_eq!(url.room, "lobby");
    let dir = tempfile::tempdir().unwrap();
    let (alice_keys, bob_keys) = (
        AccountKeys::generate().unwrap(),
        AccountKeys::generate().unwrap(),
    );
    let alice_store: Arc<dyn ClientStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let alice = client(
        &url,
        &alice_keys,
        Route::Direct,
        alice_store,
        clock.shared(),
        "Alice",
    );
    let bob = client(
        &url,
        &bob_keys,
        Route::Direct,
        Arc::new(MemoryStore::new()),
        clock.shared(),
        "Bob",
    );

    // Join: capabilities (blinded), room info, remembered with the route.
    let (room, info) = alice.join(&url.room).await.unwrap();
    assert_eq!(
        (room.name.as_str(), room.direct, room.blinded),
        ("The Lobby", true, Some(true))
    );
    assert!(info.write && info.read);
    assert_eq!(alice.own_id(), alice.blinded_id());
    assert_eq!(alice.own_id().to_hex().get(..2), Some("15"));
    bob.join("lobby").await.unwrap();
    // An unknown room is refused with the server's status.
    let err = alice.join("nope").await.unwrap_err();
    assert!(
        matches!(err, ClientError::Community { status: 404, .. }),
        "{err}"
    );
    assert!(
        alice
            .store()
            .community(alice.base_url(), "nope")
            .unwrap()
            .is_none()
    );

    // Post and read each other's posts; signatures verify under the blinded ids.
    let a1 = alice.post("lobby", "hello from alice").await.unwrap();
    assert_eq!(
        (a1.sender, a1.status),
        (alice.blinded_id(), MessageStatus::Valid)
    );
    let b1 = bob.post("lobby", "hi alice").await.unwrap();
    let report = bob.poll().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.batched, "one signed /batch per poll");
    assert_eq!((report.new_messages, report.bad_messages), (1, 0));
    let seen = bob.messages("lobby", 10).unwrap();
    assert_eq!(
        seen.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["hello from alice", "hi alice"]
    );
    assert_eq!(seen[0].sender, alice.blinded_id());
    assert_eq!(seen[0].display_name.as_deref(), Some("Alice"));
    assert_eq!(seen[0].status, MessageStatus::Valid);
    assert_eq!(seen[0].sent_ms, Some(START_MS));
    alice.poll().await.unwrap();
    let seen = alice.messages("lobby", 10).unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[1].id, seen[1].display_name.as_deref()),
        (b1.id, Some("Bob"))
    );
    // Nothing new: a second poll is empty.
    let again = alice.poll().await.unwrap();
    assert_eq!((again.new_messages, again.changed_messages), (0, 0));

    // Mallory posts a message whose signature covers another text: flagged.
    let mallory_keys = AccountKeys::generate().unwrap();
    let mallory = client(
        &url,
        &mallory_keys,
        Route::Direct,
        Arc::new(MemoryStore::new()),
        clock.shared(),
        "Mallory",
    );
    mallory.capabilities().await.unwrap();
    let shown = text_content("send your seed to mallory", Some("Alice"), START_MS);
    let signed = text_content("harmless", Some("Mallory"), START_MS);
    let sig = sign_data(
        mallory_keys.ed25519(),
        SogsAuthMode::Blind15,
        &server.pubkey,
        &signed,
    );
    let reply = mallory
        .request(&ApiRequest::json(
            "POST",
            "/room/lobby/message",
            &json!({"data": STANDARD.encode(&shown), "signature": STANDARD.encode(sig)}),
        ))
        .await
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.text());
    let report = bob.poll().await.unwrap();
    assert_eq!((report.new_messages, report.bad_messages), (1, 1));
    let bad = bob.messages("lobby", 1).unwrap().pop().unwrap();
    assert_eq!(bad.status, MessageStatus::BadSignature);
    assert!(bad.body.is_empty(), "an unverified text is not kept");

    // Reactions: added once, seen by the author, removed again.
    assert!(bob.react("lobby", a1.id, "👍", true).await.unwrap());
    assert!(!bob.react("lobby", a1.id, "👍", true).await.unwrap());
    let report = alice.poll().await.unwrap();
    assert!(report.changed_messages >= 1, "{report:?}");
    let m = alice
        .store()
        .community_message(alice.base_url(), "lobby", a1.id)
        .unwrap()
        .unwrap();
    assert_eq!(m.reactions.len(), 1);
    assert_eq!(
        (
            m.reactions[0].emoji.as_str(),
            m.reactions[0].count,
            m.reactions[0].you
        ),
        ("👍", 1, false)
    );
    assert_eq!(m.reactions[0].reactors, [bob.blinded_id().to_hex()]);
    assert!(bob.react("lobby", a1.id, "👍", false).await.unwrap());
    alice.poll().await.unwrap();
    let m = alice
        .store()
        .community_message(alice.base_url(), "lobby", a1.id)
        .unwrap()
        .unwrap();
    assert!(m.reactions.is_empty());

    // Deletion: only the author (or a moderator) may; everyone sees it go.
    let err = bob.delete("lobby", a1.id).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Community { status: 403, .. }),
        "{err}"
    );
    alice.delete("lobby", a1.id).await.unwrap();
    assert!(
        alice
            .messages("lobby", 10)
            .unwrap()
            .iter()
            .all(|m| m.id != a1.id)
    );
    bob.poll().await.unwrap();
    assert!(
        bob.messages("lobby", 10)
            .unwrap()
            .iter()
            .all(|m| m.id != a1.id)
    );
    assert!(
        bob.store()
            .community_message(bob.base_url(), "lobby", a1.id)
            .unwrap()
            .unwrap()
            .deleted
    );

    // A DM to Bob's blinded id: Bob reads it and learns Alice's Session ID.
    let sent = alice.send_dm(&bob.blinded_id(), "psst, bob").await.unwrap();
    assert_eq!(sent.direction, DmDirection::Outbox);
    let report = bob.poll().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.new_dms, 1);
    let dms = bob.dms(10).unwrap();
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].direction, DmDirection::Inbox);
    assert_eq!(dms[0].body, "psst, bob");
    assert_eq!(dms[0].status, MessageStatus::Valid);
    assert_eq!(dms[0].peer, alice.blinded_id());
    assert_eq!(dms[0].sender_session_id, Some(alice_keys.session_id()));
    assert_eq!(dms[0].display_name.as_deref(), Some("Alice"));
    // Alice's outbox poll finds the copy she stored when sending.
    let report = alice.poll().await.unwrap();
    assert_eq!(report.new_dms, 0, "{report:?}");
    let out = alice.dms(10).unwrap();
    assert_eq!((out.len(), out[0].body.as_str()), (1, "psst, bob"));
    // Bob answers; a DM to someone who never used the server is refused.
    bob.send_dm(&alice.blinded_id(), "hi alice").await.unwrap();
    alice.poll().await.unwrap();
    let got = alice.dms(10).unwrap();
    let inbox: Vec<_> = got
        .iter()
        .filter(|d| d.direction == DmDirection::Inbox)
        .collect();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].body, "hi alice");
    assert_eq!(inbox[0].sender_session_id, Some(bob_keys.session_id()));
    let stranger = AccountKeys::generate().unwrap();
    let stranger_id =
        session_crypto::blinding::BlindedKeypair::blind15(stranger.ed25519(), &server.pubkey)
            .account_id();
    let err = alice.send_dm(&stranger_id, "hello?").await.unwrap_err();
    assert!(
        matches!(err, ClientError::Community { status: 404, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_post_and_read_through_onion_paths() {
    let net = session_testkit::TestNetwork::start(9).await.unwrap();
    let server = Server::start(net.clock().shared()).await;
    let url = server.url("lobby");
    let onion = || {
        let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
        cfg.storage_https = false;
        cfg.client.connect_timeout_ms = 2_000;
        cfg.client.request_timeout_ms = 10_000;
        Route::Onion(OnionClient::new(cfg, net.clock().shared()))
    };
    let (ka, kb) = (
        AccountKeys::generate().unwrap(),
        AccountKeys::generate().unwrap(),
    );
    let alice = client(
        &url,
        &ka,
        onion(),
        Arc::new(MemoryStore::new()),
        net.clock().shared(),
        "Alice",
    );
    let bob = client(
        &url,
        &kb,
        onion(),
        Arc::new(MemoryStore::new()),
        net.clock().shared(),
        "Bob",
    );
    let (room, _) = alice.join("lobby").await.unwrap();
    assert!(!room.direct, "joined through the onion");
    bob.join("lobby").await.unwrap();
    let posted = alice
        .post("lobby", "hello through three hops")
        .await
        .unwrap();
    // An emoji path and a JSON body through the onion.
    assert!(bob.react("lobby", posted.id, "🧅", true).await.unwrap());
    let report = bob.poll().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let seen = bob.messages("lobby", 10).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].body.as_str(), seen[0].status, seen[0].sender),
        (
            "hello through three hops",
            MessageStatus::Valid,
            alice.blinded_id()
        )
    );
    assert_eq!(seen[0].reactions[0].emoji, "🧅");

    // Files through the onion: a 1 MiB file and a small one in one post, in plaintext on
    // the room (as Session clients do), saved back byte-identical by the other account.
    let big: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(7919) >> 3) as u8)
        .collect();
    let files = [
        NewFile {
            data: big.clone(),
            file_name: Some("big.bin".into()),
            content_type: Some("application/octet-stream".into()),
        },
        NewFile {
            data: b"tiny".to_vec(),
            file_name: Some("tiny.txt".into()),
            content_type: Some("text/plain".into()),
        },
    ];
    let mut stages = Vec::new();
    let with_files = alice
        .post_files("lobby", "two files", &files, &mut |p| stages.push(p.stage))
        .await
        .unwrap();
    assert!(stages.contains(&Stage::Uploading));
    assert_eq!(with_files.attachments.len(), 2);
    assert!(
        with_files.attachments[0].key.is_empty(),
        "room files are not encrypted"
    );
    bob.poll().await.unwrap();
    let got = bob
        .messages("lobby", 10)
        .unwrap()
        .into_iter()
        .find(|m| m.id == with_files.id)
        .unwrap();
    assert_eq!(got.body, "two files");
    assert_eq!(got.attachments, with_files.attachments);
    assert_eq!(bob.fetch_file(&got, 0, &mut |_| {}).await.unwrap(), big);
    assert_eq!(bob.fetch_file(&got, 1, &mut |_| {}).await.unwrap(), b"tiny");
    let e = bob.fetch_file(&got, 2, &mut |_| {}).await.unwrap_err();
    assert!(matches!(e, ClientError::NotFound(_)), "{e}");
    // A pointer to somewhere else is not fetched with this server's auth.
    let mut foreign = got.clone();
    foreign.attachments[0].url = "http://evil.example/room/lobby/file/1".into();
    let e = bob.fetch_file(&foreign, 0, &mut |_| {}).await.unwrap_err();
    assert!(matches!(e, ClientError::BadInput { .. }), "{e}");
    // A size that differs from the post is refused.
    let mut lying = got.clone();
    lying.attachments[1].size = 5;
    let e = bob.fetch_file(&lying, 1, &mut |_| {}).await.unwrap_err();
    assert!(
        e.to_string().contains("not the file that was posted"),
        "{e}"
    );
    // Too large: refused before any upload.
    let huge = [NewFile {
        data: vec![0; MAX_UPLOAD + 1],
        file_name: None,
        content_type: None,
    }];
    let e = alice
        .post_files("lobby", "", &huge, &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::BadInput { .. }), "{e}");
    net.shutdown().await.unwrap();
}

fn session(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_session"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SESSION_NETWORK")
        .output()
        .unwrap();
    eprintln!(
        "$ session {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(ok(out).trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_command_joins_posts_and_reads_directly() {
    let server = Server::start(SystemClock::shared()).await;
    let url = server.url("lobby").to_string();
    let alice = tempfile::tempdir().unwrap();
    let bob = tempfile::tempdir().unwrap();
    let (a, b) = (alice.path().to_owned(), bob.path().to_owned());
    tokio::task::spawn_blocking(move || {
        for dir in [&a, &b] {
            ok(&session(dir, &["account", "new", "--json"]));
        }
        // Not joined yet: says how.
        let out = session(&a, &["community", "read", "lobby"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("session community join"));

        let joined = json_of(&session(
            &a,
            &["community", "join", &url, "--direct", "--json"],
        ));
        assert_eq!(joined["room"], "lobby");
        assert_eq!(joined["route"], "direct");
        let alice_id = joined["blinded_id"].as_str().unwrap().to_owned();
        let text = ok(&session(&b, &["community", "join", &url, "--direct"]));
        assert!(text.contains("Joined The Lobby"), "{text}");

        let posted = json_of(&session(
            &a,
            // Options go before the text: everything after ROOM is the message.
            &[
                "--json",
                "community",
                "post",
                "lobby",
                "hello",
                "from",
                "the",
                "cli",
            ],
        ));
        let id = posted["id"].as_u64().unwrap();
        let shown = ok(&session(&b, &["community", "read", "lobby"]));
        assert!(shown.contains("hello from the cli"), "{shown}");
        let list = json_of(&session(&b, &["community", "read", "lobby", "--json"]));
        assert_eq!(list[0]["body"], "hello from the cli");
        assert_eq!(list[0]["sender"], alice_id.as_str());
        assert_eq!(list[0]["status"], "valid");

        ok(&session(
            &b,
            &["community", "react", "lobby", &id.to_string(), "👍"],
        ));
        let list = json_of(&session(&a, &["community", "read", "lobby", "--json"]));
        assert_eq!(list[0]["reactions"][0]["emoji"], "👍");

        // A file with a caption, saved by the other account.
        let path = a.join("notes.txt");
        std::fs::write(&path, b"meeting at noon").unwrap();
        let with_file = json_of(&session(
            &a,
            &[
                "--json",
                "community",
                "post",
                "--file",
                path.to_str().unwrap(),
                "lobby",
                "see",
                "attached",
            ],
        ));
        let file_id = with_file["id"].as_u64().unwrap().to_string();
        assert_eq!(with_file["attachments"][0]["file_name"], "notes.txt");
        let shown = ok(&session(&b, &["community", "read", "lobby"]));
        assert!(
            shown.contains("see attached  📎 notes.txt (15 B, text/plain)"),
            "{shown}"
        );
        let saved = json_of(&session(
            &b,
            &[
                "--json",
                "community",
                "save",
                "lobby",
                &file_id,
                b.to_str().unwrap(),
            ],
        ));
        assert_eq!(saved["size"], 15);
        assert_eq!(
            std::fs::read(b.join("notes.txt")).unwrap(),
            b"meeting at noon"
        );
        let out = session(
            &b,
            &["community", "save", "lobby", &file_id, b.to_str().unwrap()],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
        let out = session(
            &b,
            &["community", "save", "--index", "2", "lobby", &file_id],
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("--index 2 does not exist"));
        ok(&session(&a, &["community", "delete", "lobby", &file_id]));

        let rooms = json_of(&session(&a, &["community", "list", "--json"]));
        assert_eq!(rooms.as_array().unwrap().len(), 1);
        ok(&session(
            &a,
            &["community", "delete", "lobby", &format!("#{id}")],
        ));
        let list = json_of(&session(&b, &["community", "read", "lobby", "--json"]));
        assert!(list.as_array().unwrap().is_empty(), "{list}");

        // A refusal shows the status.
        let out = session(&b, &["community", "delete", "lobby", "99999"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404"));
        ok(&session(&a, &["community", "leave", "lobby"]));
        let rooms = json_of(&session(&a, &["community", "list", "--json"]));
        assert!(rooms.as_array().unwrap().is_empty());
    })
    .await
    .unwrap();
}
