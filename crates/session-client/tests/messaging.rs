#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! One-to-one messaging end to end on an in-process network (registry + 9 nodes, real
//! HTTP on loopback, onion paths, SQLite stores), with two or three [`Messenger`]s on
//! the network's mock clock:
//!
//! * send → receive, with the profile and the sync copy (a second device of the sender
//!   sees its own message); the recipient offline during the sends, then online;
//! * a message request, then its acceptance (seen by the sender);
//! * unsend: gone from the recipient, from the recipient's swarm and from the sender's;
//! * disappearing messages: after-send vanish on time locally and in the swarm (virtual
//!   time); after-read start on read and the swarm copy is shortened;
//! * read receipts; SNS names as recipients (registered on the registry, agreed by 3
//!   nodes); a restarted client keeps its history and does not duplicate it;
//! * garbage, a message sealed to someone else and a forged signature in the swarm:
//!   counted, dropped, and the poll goes on to the good message after them;
//! * the background poller delivers live; Note to Self; refused sends keep nothing;
//! * a newly polled swarm member does not skip what the previous one lacked (last
//!   hashes per node); concurrent senders lose nothing.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use session_client::message::{Expiry, Outgoing, Profile};
use session_client::messenger::rpc;
use session_client::store::{ClientStore, ConversationKind, Direction, MemoryStore, SqliteStore};
use session_client::{
    ClientError, Event, Messenger, MessengerSettings, NetworkConfig, OnionClient,
};
use session_crypto::{AccountKeys, Ed25519Seed, ons, sealed_box};
use session_testkit::TestNetwork;

/// A well-formed message hash no node holds (retrieve then returns everything).
const UNKNOWN_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn keys(n: u8) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_array([n; 32]))
}

fn client(net: &TestNetwork) -> OnionClient {
    let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
    cfg.storage_https = false;
    cfg.client.connect_timeout_ms = 2_000;
    cfg.client.request_timeout_ms = 10_000;
    OnionClient::new(cfg, net.clock().shared())
}

fn messenger(net: &TestNetwork, keys: AccountKeys, name: &str) -> Messenger {
    messenger_with(net, keys, Arc::new(MemoryStore::new()), name)
}

fn messenger_with(
    net: &TestNetwork,
    keys: AccountKeys,
    store: Arc<dyn ClientStore>,
    name: &str,
) -> Messenger {
    let settings = MessengerSettings {
        profile: Some(Profile::named(name)),
        read_receipts: false,
    };
    Messenger::new(keys, client(net), store, settings)
}

/// The raw messages of `account`'s swarm in namespace 0 (asked of a member directly).
async fn swarm_hashes(net: &TestNetwork, keys: &AccountKeys) -> Vec<String> {
    let sid = keys.session_id();
    let swarm = net.swarm_of_key(sid.key()).unwrap();
    let node = net.nodes_in(swarm)[0];
    let params = rpc::retrieve_params(keys, 0, net.now_ms(), None);
    let (status, body) = net
        .node(node)
        .unwrap()
        .rpc("retrieve", params)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hash"].as_str().unwrap().to_owned())
        .collect()
}

/// Sets `m`'s last hash at every node (whichever member it polls).
fn set_last_hashes(net: &TestNetwork, m: &Messenger, hash: &str) {
    for node in net.nodes() {
        m.store()
            .set_last_hash(&m.session_id(), &node.pubkey(), 0, hash)
            .unwrap();
    }
}

fn bodies(store: &Arc<dyn ClientStore>, peer: &session_crypto::AccountId) -> Vec<String> {
    store
        .history(peer, None, 100)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receive_offline_request_accept_sync_and_restart() {
    let net = TestNetwork::start(9).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ka, kb) = (keys(1), keys(2));
    let alice = messenger(&net, ka.clone(), "Alice");
    let bob_store: Arc<dyn ClientStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let (a, b) = (alice.session_id(), kb.session_id());

    // Bob is offline (no messenger at all) while Alice sends three messages.
    let mut sent = Vec::new();
    for text in ["hi Bob", "are you there?", "ping"] {
        let s = alice.send_text(&b, text).await.unwrap();
        assert!(s.synced);
        assert_ne!(
            s.message.server_hash.as_deref(),
            Some(s.recipient_hash.as_str())
        );
        sent.push(s);
        net.clock().advance(Duration::from_millis(5));
    }
    assert!(
        sent.windows(2)
            .all(|w| w[0].message.sent_ms < w[1].message.sent_ms)
    );
    // Writing first makes it an accepted conversation on Alice's side.
    let conv = alice.store().conversation(&b).unwrap().unwrap();
    assert!(conv.accepted);
    assert_eq!(conv.unread, 0);

    // Bob comes online: one fetch gets all three, in order, as a message request.
    let bob = messenger_with(&net, kb.clone(), bob_store.clone(), "Bob");
    let report = bob.fetch().await.unwrap();
    assert_eq!(report.new_messages.len(), 3, "{report:?}");
    assert_eq!(
        bodies(bob.store(), &a),
        ["hi Bob", "are you there?", "ping"]
    );
    let requests = bob
        .store()
        .conversations(ConversationKind::Requests)
        .unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].peer, a);
    assert_eq!(requests[0].unread, 3);
    assert_eq!(
        requests[0].display_name.as_deref(),
        Some("Alice"),
        "profile travels"
    );
    assert!(
        bob.store()
            .conversations(ConversationKind::Accepted)
            .unwrap()
            .is_empty()
    );
    let got = bob.store().history(&a, None, 10).unwrap();
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(g.sent_ms, s.message.sent_ms);
        assert_eq!(g.server_hash.as_deref(), Some(s.recipient_hash.as_str()));
        assert_eq!(g.direction, Direction::Incoming);
    }
    // Polling again finds nothing new (last hash).
    let again = bob.fetch().await.unwrap();
    assert_eq!(again.retrieved, 0, "{again:?}");

    // Bob accepts; Alice learns it (and Bob's name).
    let mut alice_events = alice.subscribe();
    bob.accept_request(&a).await.unwrap();
    assert!(bob.store().conversation(&a).unwrap().unwrap().accepted);
    alice.fetch().await.unwrap();
    let contact = alice.store().contact(&b).unwrap().unwrap();
    assert!(contact.approved_me);
    assert_eq!(contact.display_name.as_deref(), Some("Bob"));
    let mut saw_accept = false;
    while let Ok(e) = alice_events.try_recv() {
        saw_accept |= matches!(e, Event::RequestAccepted { peer } if peer == b);
    }
    assert!(saw_accept);

    // Bob answers; Alice gets it.
    bob.send_text(&a, "hello Alice").await.unwrap();
    let r = alice.fetch().await.unwrap();
    assert_eq!(r.new_messages.len(), 1, "{r:?}");
    assert_eq!(r.new_messages[0].body, "hello Alice");

    // A second device of Alice (same keys, empty store) sees the whole conversation
    // from her swarm: her sent messages via their sync copies, Bob's reply.
    let alice2 = messenger(&net, ka.clone(), "Alice");
    alice2.fetch().await.unwrap();
    let hist = alice2.store().history(&b, None, 10).unwrap();
    let dirs: Vec<_> = hist
        .iter()
        .map(|m| (m.direction, m.body.as_str()))
        .collect();
    assert_eq!(
        dirs,
        [
            (Direction::Outgoing, "hi Bob"),
            (Direction::Outgoing, "are you there?"),
            (Direction::Outgoing, "ping"),
            (Direction::Incoming, "hello Alice"),
        ]
    );
    // The sync copies carry the sent messages' own-swarm hashes.
    assert_eq!(hist[0].server_hash, sent[0].message.server_hash);

    // Bob restarts: a new messenger on the same SQLite file keeps history and poll
    // state, and re-polling from scratch does not duplicate anything.
    drop(bob);
    let bob_store: Arc<dyn ClientStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let bob = messenger_with(&net, kb.clone(), bob_store, "Bob");
    assert_eq!(
        bodies(bob.store(), &a),
        ["hi Bob", "are you there?", "ping", "hello Alice"]
    );
    let r = bob.fetch().await.unwrap();
    assert!(r.new_messages.is_empty(), "{r:?}");
    set_last_hashes(&net, &bob, UNKNOWN_HASH);
    let r = bob.fetch().await.unwrap();
    assert!(r.new_messages.is_empty(), "{r:?}");
    assert!(r.duplicates >= 4, "everything came again: {r:?}");
    assert_eq!(bodies(bob.store(), &a).len(), 4);
    // A stored last hash the nodes refuse outright is dropped, not a dead end.
    set_last_hashes(&net, &bob, "not a hash");
    bob.fetch().await.unwrap();
    let repaired = net
        .nodes()
        .iter()
        .filter(|n| {
            bob.store()
                .last_hash(&b, &n.pubkey(), 0)
                .unwrap()
                .as_deref()
                != Some("not a hash")
        })
        .count();
    assert_eq!(repaired, 1, "the polled node's last hash was replaced");

    // Read receipts (on at Bob's): Alice's messages are marked read by the peer.
    let mut settings = bob.settings();
    settings.read_receipts = true;
    bob.set_settings(settings);
    assert_eq!(bob.mark_read(&a).await.unwrap().len(), 3);
    assert!(bob.mark_read(&a).await.unwrap().is_empty(), "read once");
    alice.fetch().await.unwrap();
    let read: Vec<bool> = alice
        .store()
        .history(&b, None, 10)
        .unwrap()
        .iter()
        .filter(|m| m.direction == Direction::Outgoing)
        .map(|m| m.peer_read)
        .collect();
    assert_eq!(read, [true, true, true]);
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsend_removes_the_message_everywhere() {
    let net = TestNetwork::start(9).await.unwrap();
    let (ka, kb) = (keys(3), keys(4));
    let alice = messenger(&net, ka.clone(), "Alice");
    let bob = messenger(&net, kb.clone(), "Bob");
    let (a, b) = (alice.session_id(), bob.session_id());

    let keep = alice.send_text(&b, "this stays").await.unwrap();
    let oops = alice.send_text(&b, "oops, wrong chat").await.unwrap();
    bob.fetch().await.unwrap();
    assert_eq!(bodies(bob.store(), &a), ["this stays", "oops, wrong chat"]);
    let own_hash = oops.message.server_hash.clone().unwrap();
    assert!(swarm_hashes(&net, &ka).await.contains(&own_hash));
    assert!(swarm_hashes(&net, &kb).await.contains(&oops.recipient_hash));

    // Bob may not unsend Alice's message.
    let e = bob.unsend(&oops.recipient_hash).await.unwrap_err();
    assert!(matches!(e, ClientError::NotAllowed(_)), "{e}");
    let e = alice.unsend("no-such-hash").await.unwrap_err();
    assert!(matches!(e, ClientError::NotFound(_)), "{e}");

    alice.unsend(&own_hash).await.unwrap();
    assert_eq!(bodies(alice.store(), &b), ["this stays"]);
    assert!(
        !swarm_hashes(&net, &ka).await.contains(&own_hash),
        "sender's copy deleted"
    );

    let mut events = bob.subscribe();
    bob.fetch().await.unwrap();
    assert_eq!(bodies(bob.store(), &a), ["this stays"]);
    let bob_swarm = swarm_hashes(&net, &kb).await;
    assert!(
        !bob_swarm.contains(&oops.recipient_hash),
        "recipient's swarm copy deleted"
    );
    assert!(bob_swarm.contains(&keep.recipient_hash));
    let mut saw = false;
    while let Ok(e) = events.try_recv() {
        saw |= matches!(e, Event::Deleted { why: "unsent", ref messages } if messages.len() == 1);
    }
    assert!(saw);

    // Delete-for-me touches only this device.
    let kept_hash = keep.recipient_hash.clone();
    bob.delete_for_me(&kept_hash).unwrap();
    assert!(bodies(bob.store(), &a).is_empty());
    assert!(swarm_hashes(&net, &kb).await.contains(&kept_hash));
    assert_eq!(bodies(alice.store(), &b), ["this stays"]);
    // …and a re-poll does not bring it back.
    set_last_hashes(&net, &bob, UNKNOWN_HASH);
    bob.fetch().await.unwrap();
    assert!(bodies(bob.store(), &a).is_empty());
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disappearing_messages_vanish_on_time_and_receipts_arrive() {
    let net = TestNetwork::start(9).await.unwrap();
    let (ka, kb) = (keys(5), keys(6));
    let alice = messenger(&net, ka.clone(), "Alice");
    let bob = messenger(&net, kb.clone(), "Bob");
    let (a, b) = (alice.session_id(), bob.session_id());
    bob.send_text(&a, "let's talk").await.unwrap();
    alice.fetch().await.unwrap();
    alice.accept_request(&b).await.unwrap();

    // After-send, 60 s: the setting travels with the update and with the message.
    alice
        .set_disappearing(&b, Some(Expiry::after_send(60)))
        .await
        .unwrap();
    bob.fetch().await.unwrap();
    assert_eq!(
        bob.store().disappearing(&a).unwrap(),
        Some(Expiry::after_send(60))
    );
    let s = alice.send_text(&b, "gone in a minute").await.unwrap();
    assert_eq!(s.message.expiry, Some(Expiry::after_send(60)));
    bob.fetch().await.unwrap();
    let m = bob
        .store()
        .message_by_hash(&s.recipient_hash)
        .unwrap()
        .unwrap();
    assert_eq!(m.expires_at_ms, Some(s.message.sent_ms + 60_000));

    net.clock().advance(Duration::from_secs(59));
    bob.fetch().await.unwrap();
    assert!(
        bob.store()
            .message_by_hash(&s.recipient_hash)
            .unwrap()
            .is_some()
    );
    assert!(swarm_hashes(&net, &kb).await.contains(&s.recipient_hash));
    net.clock().advance(Duration::from_secs(2));
    let r = bob.fetch().await.unwrap();
    assert_eq!(r.expired, 1, "{r:?}");
    assert!(
        bob.store()
            .message_by_hash(&s.recipient_hash)
            .unwrap()
            .is_none()
    );
    assert!(
        !swarm_hashes(&net, &kb).await.contains(&s.recipient_hash),
        "TTL = timer"
    );
    assert_eq!(
        alice.delete_expired().unwrap().len(),
        1,
        "the sender's copy too"
    );

    // After-read, 30 s, with read receipts on at Bob's: the timer starts when Bob
    // reads, the swarm copy is shortened to match, and Alice sees the receipt.
    alice
        .set_disappearing(&b, Some(Expiry::after_read(30)))
        .await
        .unwrap();
    let mut settings = bob.settings();
    settings.read_receipts = true;
    bob.set_settings(settings);
    let s = alice.send_text(&b, "read me").await.unwrap();
    bob.fetch().await.unwrap();
    let m = bob
        .store()
        .message_by_hash(&s.recipient_hash)
        .unwrap()
        .unwrap();
    assert_eq!(m.expires_at_ms, None, "not read yet");
    net.clock().advance(Duration::from_secs(100));
    bob.fetch().await.unwrap();
    assert!(
        bob.store()
            .message_by_hash(&s.recipient_hash)
            .unwrap()
            .is_some()
    );
    let read = bob.mark_read(&a).await.unwrap();
    assert_eq!(read.len(), 1);
    let read_at = net.now_ms();
    assert_eq!(read[0].expires_at_ms, Some(read_at + 30_000));
    // Alice's own copy is gone already (after-read starts at send for the sender),
    // but the receipt still arrives.
    let mut alice_events = alice.subscribe();
    alice.fetch().await.unwrap();
    let mut receipt = None;
    while let Ok(e) = alice_events.try_recv() {
        if let Event::PeerRead { peer, sent_ms } = e {
            receipt = Some((peer, sent_ms));
        }
    }
    assert_eq!(receipt, Some((b, vec![s.message.sent_ms])));

    net.clock().advance(Duration::from_secs(31));
    assert!(
        !swarm_hashes(&net, &kb).await.contains(&s.recipient_hash),
        "shortened by expire"
    );
    let r = bob.fetch().await.unwrap();
    assert_eq!(r.expired, 1);

    // Turning it off travels too.
    alice.set_disappearing(&b, None).await.unwrap();
    bob.fetch().await.unwrap();
    assert_eq!(bob.store().disappearing(&a).unwrap(), None);
    let e = alice
        .set_disappearing(&b, Some(Expiry::after_send(0)))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Message(_)), "{e}");
    net.shutdown().await.unwrap();
}

/// Registers `name` → `owner`'s Session ID on the registry and mines it.
async fn register(net: &TestNetwork, owner: &AccountKeys, name: &str) {
    let stored = ons::encrypt_value(name, &owner.session_id().to_bytes()).unwrap();
    let ed = owner.ed25519();
    let h =
        session_registry::tx::ons_update_hash(Some(&stored), Some(&ed.public().0), None, &[0; 32]);
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "ons_buy_mapping",
        "params": {
            "type": "session",
            "name": name,
            "encrypted_value": hex::encode(&stored),
            "owner": hex::encode(ed.public().0),
            "signature": hex::encode(ed.sign(&h)),
        }
    });
    let (status, reply) = net.registry().handle_rpc(body.to_string().as_bytes());
    assert_eq!(status, 200, "{reply}");
    assert!(reply.get("error").is_none(), "{reply}");
    net.advance_block().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_names_resolve_through_three_nodes() {
    let net = TestNetwork::start(9).await.unwrap();
    let (ka, kb) = (keys(7), keys(8));
    register(&net, &kb, "bob-the-builder").await;
    let alice = messenger(&net, ka, "Alice");
    let bob = messenger(&net, kb, "Bob");

    let id = alice.resolve_recipient("@Bob-The-Builder").await.unwrap();
    assert_eq!(id, bob.session_id());
    alice.send_text(&id, "found you by name").await.unwrap();
    let r = bob.fetch().await.unwrap();
    assert_eq!(r.new_messages[0].body, "found you by name");

    // Ids still parse; unknown and invalid names fail with a reason.
    let sid = bob.session_id().to_hex();
    assert_eq!(
        alice.resolve_recipient(&sid).await.unwrap(),
        bob.session_id()
    );
    let e = alice.resolve_recipient("@nobody-here").await.unwrap_err();
    assert!(e.to_string().contains("no such name"), "{e}");
    let e = alice.resolve_recipient("@not a name!").await.unwrap_err();
    assert!(e.to_string().contains("not a valid Session name"), "{e}");
    let e = alice
        .resolve_recipient(&format!("15{}", &sid[2..]))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::BadInput { .. }), "{e}");
    net.shutdown().await.unwrap();
}

/// Deposits raw bytes in `to`'s swarm, namespace 0, as anyone can.
async fn deposit_raw(net: &TestNetwork, to: &AccountKeys, data: &[u8]) {
    let swarm = net.swarm_of_key(to.session_id().key()).unwrap();
    let node = net.nodes_in(swarm)[0];
    let params = json!({
        "pubkey": to.session_id().to_hex(),
        "namespace": 0,
        "timestamp": net.now_ms(),
        "ttl": 3_600_000,
        "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data),
    });
    let (status, body): (u16, Value) = net.node(node).unwrap().rpc("store", params).await.unwrap();
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_misaddressed_and_garbage_messages_are_dropped_and_counted() {
    let net = TestNetwork::start(9).await.unwrap();
    let (ka, kb, kc) = (keys(9), keys(10), keys(11));
    let alice = messenger(&net, ka.clone(), "Alice");
    let bob = messenger(&net, kb.clone(), "Bob");

    // Garbage.
    deposit_raw(&net, &kb, b"\x00\x01 not a message at all").await;
    // A real message, but sealed to Carol and dropped in Bob's swarm.
    let to_carol = Outgoing::Text {
        attachments: Vec::new(),
        body: "for Carol".into(),
        profile: None,
        expiry: None,
    }
    .seal(&ka, &kc.session_id(), net.now_ms())
    .unwrap();
    deposit_raw(&net, &kb, &to_carol.data).await;
    // A forged signature: Mallory seals to Bob a message claiming to be Alice's, with
    // a signature that is not Alice's.
    let content = prost::Message::encode_to_vec(
        &Outgoing::Text {
            attachments: Vec::new(),
            body: "I am Alice, trust me".into(),
            profile: None,
            expiry: None,
        }
        .content(net.now_ms())
        .unwrap(),
    );
    let mut inner = session_crypto::session_protocol::pad_message(&content);
    let mallory = keys(12);
    let mut signed = inner.clone();
    signed.extend_from_slice(ka.ed25519_public().as_bytes());
    signed.extend_from_slice(kb.session_id().key());
    let sig = mallory.ed25519().sign(&signed);
    inner.extend_from_slice(ka.ed25519_public().as_bytes());
    inner.extend_from_slice(&sig);
    let ct = sealed_box::seal(kb.session_id().key(), &inner).unwrap();
    deposit_raw(
        &net,
        &kb,
        &session_wire::message::wrap_1o1(&ct, net.now_ms(), None),
    )
    .await;
    // Then a good one.
    alice
        .send_text(&bob.session_id(), "the real Alice")
        .await
        .unwrap();

    let mut events = bob.subscribe();
    let r = bob.fetch().await.unwrap();
    assert_eq!(r.retrieved, 4);
    assert_eq!(r.rejected.malformed, 1, "{r:?}");
    assert_eq!(r.rejected.not_for_us, 1, "{r:?}");
    assert_eq!(r.rejected.bad_signature, 1, "{r:?}");
    assert_eq!(r.new_messages.len(), 1);
    assert_eq!(r.new_messages[0].body, "the real Alice");
    assert_eq!(bodies(bob.store(), &alice.session_id()), ["the real Alice"]);
    let counts = bob.store().rejected_counts().unwrap();
    assert_eq!(counts.total(), 3);
    let mut rejected = 0;
    while let Ok(e) = events.try_recv() {
        if let Event::Rejected { .. } = e {
            rejected += 1;
        }
        if let Event::Message(m) = e {
            assert_eq!(m.body, "the real Alice");
        }
    }
    assert_eq!(rejected, 3);
    // Polled once, not counted again.
    bob.fetch().await.unwrap();
    assert_eq!(bob.store().rejected_counts().unwrap().total(), 3);
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_poller_delivers_live() {
    let net = TestNetwork::start(9).await.unwrap();
    let alice = messenger(&net, keys(13), "Alice");
    let bob = messenger(&net, keys(14), "Bob");
    let mut events = bob.subscribe();
    let poller = bob.spawn_poller(Duration::from_millis(20));
    alice.send_text(&bob.session_id(), "live!").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Event::Message(m) = events.recv().await.unwrap() {
                return m;
            }
        }
    })
    .await
    .expect("the poller delivers within 20 s");
    assert_eq!(got.body, "live!");
    poller.stop().await;

    // Note to Self: one copy, in our own swarm; polling it back is not a new message.
    let me = alice.session_id();
    let note = alice.send_text(&me, "buy milk").await.unwrap();
    assert_eq!(
        note.message.server_hash.as_deref(),
        Some(note.recipient_hash.as_str())
    );
    let r = alice.fetch().await.unwrap();
    assert!(r.new_messages.is_empty(), "{r:?}");
    assert_eq!(bodies(alice.store(), &me), ["buy milk"]);

    // Refused sends leave nothing behind.
    let e = alice.send_text(&bob.session_id(), "").await.unwrap_err();
    assert!(matches!(e, ClientError::Message(_)), "{e}");
    let e = alice
        .send_text(&bob.session_id(), &"x".repeat(2001))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("2001"), "{e}");
    assert_eq!(bodies(alice.store(), &bob.session_id()), ["live!"]);
    net.shutdown().await.unwrap();
}

/// Members of a swarm can hold messages in different orders (concurrent stores reach
/// them in different orders; a member that missed one gets it later). A last hash is
/// only meaningful at the node that gave it: after the polled member stops, polling
/// another must not skip what that one stored before the hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_polled_member_does_not_skip_messages() {
    let mut net = TestNetwork::start(9).await.unwrap();
    let (ka, kb) = (keys(16), keys(17));
    let bob = messenger(&net, kb.clone(), "Bob");
    bob.fetch().await.unwrap();
    let pinned = bob.polled_node().unwrap().ed25519;

    let sealed: Vec<_> = ["m1", "m2", "m3"]
        .iter()
        .zip(1..)
        .map(|(t, k)| {
            Outgoing::Text {
                attachments: Vec::new(),
                body: (*t).into(),
                profile: None,
                expiry: None,
            }
            .seal(&ka, &kb.session_id(), net.now_ms() + k)
            .unwrap()
        })
        .collect();
    let owner = session_node::types::UserPubkey::from_hex(&kb.session_id().to_hex()).unwrap();
    let swarm = net.swarm_of_key(kb.session_id().key()).unwrap();
    let mut pinned_index = None;
    for i in net.nodes_in(swarm) {
        let node = net.node(i).unwrap();
        // The polled member missed m2; every other member holds all three.
        let missed_m2 = node.pubkey() == pinned;
        if missed_m2 {
            pinned_index = Some(i);
        }
        for (k, s) in sealed.iter().enumerate() {
            if missed_m2 && k == 1 {
                continue;
            }
            let msg = session_node::store::NewMessage {
                pubkey: owner,
                hash: s.hash.clone(),
                namespace: session_node::types::Namespace(0),
                timestamp: i64::try_from(s.sent_ms).unwrap(),
                expiry: i64::try_from(s.expiry_ms()).unwrap(),
                data: s.data.clone(),
            };
            node.store().store(msg, false).await.unwrap();
        }
    }
    let r = bob.fetch().await.unwrap();
    let got: Vec<_> = r.new_messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(got, ["m1", "m3"]);

    net.stop_node(pinned_index.unwrap()).await.unwrap();
    bob.fetch().await.unwrap();
    assert_ne!(bob.polled_node().unwrap().ed25519, pinned, "moved on");
    let mut all = bodies(bob.store(), &ka.session_id());
    all.sort();
    assert_eq!(all, ["m1", "m2", "m3"]);
    net.shutdown().await.unwrap();
}

/// Many senders at once while the recipient polls: every message arrives (a small
/// version of the e2e benchmark's throughput run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_lose_nothing() {
    let net = TestNetwork::start(9).await.unwrap();
    let bob = messenger(&net, keys(15), "Bob");
    let b = bob.session_id();
    let poller = bob.spawn_poller(Duration::from_millis(2));
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..8u8 {
        let sender = messenger(&net, keys(20 + s), "sender");
        tasks.spawn(async move {
            for i in 0..6 {
                sender.send_text(&b, &format!("{s}-{i}")).await.unwrap();
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    poller.stop().await;
    bob.fetch().await.unwrap();
    let total: usize = bob
        .store()
        .conversations(ConversationKind::Requests)
        .unwrap()
        .iter()
        .map(|c| bodies(bob.store(), &c.peer).len())
        .sum();
    assert_eq!(total, 48);
    net.shutdown().await.unwrap();
}
