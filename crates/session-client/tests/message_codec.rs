#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The one-to-one message codec (client-protocol §3, §9): round trips of every kind,
//! exact protobuf field usage, the sync copy, and rejection of forged, misaddressed,
//! truncated and garbage input — plus the upstream vectors of `session_protocol.json`.

use base64::Engine as _;
use prost::Message as _;
use session_client::message::{
    DEFAULT_TTL_MS, DM_NAMESPACE, Expiry, ExpiryMode, Incoming, IncomingKind, MAX_BODY_CHARS,
    Outgoing, OutgoingError, Profile, ProfilePicture, Rejected, SealedMessage, open, open_base64,
};
use session_crypto::session_protocol::{
    PADDING_BLOCK, encrypt_for_recipient, open_signed, pad_message, unpad_message,
};
use session_crypto::{AccountId, AccountKeys, Ed25519Seed, IdPrefix, sealed_box};
use session_wire::message::{
    encode_envelope, session_envelope, unwrap_1o1, wrap_1o1, wrap_websocket,
};
use session_wire::proto::session::{
    CallMessage, Content, DataMessage, ReceiptMessage, SharedConfigMessage, TypingMessage,
    UnsendRequest, call_message, data_message, envelope, receipt_message, typing_message,
};
use session_wire::proto::websocket::{
    WebSocketMessage, WebSocketRequestMessage, web_socket_message,
};
use session_wire::storage::{StoragePubkey, message_hash};

const T: u64 = 1_700_000_000_123;

fn keys(byte: u8) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_array([byte; 32]))
}

fn alice() -> AccountKeys {
    keys(0xa1)
}
fn bob() -> AccountKeys {
    keys(0xb0)
}
fn carol() -> AccountKeys {
    keys(0xc4)
}

fn full_profile() -> Profile {
    Profile {
        display_name: Some("Alice ✨".into()),
        picture: Some(ProfilePicture {
            url: "http://filev2.getsession.org/file/12345".into(),
            key: (0u8..32).collect(),
        }),
        updated_at_s: Some(1_700_000_000),
    }
}

fn text(body: &str) -> Outgoing {
    Outgoing::Text {
        attachments: Vec::new(),
        body: body.into(),
        profile: Some(full_profile()),
        expiry: None,
    }
}

/// The padded plaintext inside a sealed message, opened with `own` (signature checked).
fn plaintext(own: &AccountKeys, sealed: &SealedMessage) -> Vec<u8> {
    let un = unwrap_1o1(&sealed.data).unwrap();
    open_signed(own, un.content()).unwrap().content
}

/// The `Content` inside a sealed message.
fn content_of(own: &AccountKeys, sealed: &SealedMessage) -> Content {
    Content::decode(unpad_message(&plaintext(own, sealed))).unwrap()
}

/// A swarm payload carrying an arbitrary `Content`, sealed the normal way.
fn raw(sender: &AccountKeys, recipient: &AccountKeys, content: &Content, env_ts: u64) -> Vec<u8> {
    let ct =
        encrypt_for_recipient(sender, &recipient.session_id(), &content.encode_to_vec()).unwrap();
    wrap_1o1(&ct, env_ts, None)
}

fn open_ok(own: &AccountKeys, data: &[u8]) -> Incoming {
    open(own, data).unwrap_or_else(|e| panic!("rejected: {e}"))
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn text_round_trip_with_profile() {
    let (alice, bob) = (alice(), bob());
    let sealed = text("hello bob")
        .seal(&alice, &bob.session_id(), T)
        .unwrap();
    assert_eq!(sealed.destination, bob.session_id());
    assert_eq!(sealed.namespace, 0);
    assert_eq!(DM_NAMESPACE, 0);
    assert_eq!(sealed.ttl_ms, 14 * 24 * 3600 * 1000);
    assert_eq!(sealed.sent_ms, T);
    assert_eq!(sealed.expiry_ms(), T + DEFAULT_TTL_MS);
    assert_eq!(
        sealed.data[0], 0x08,
        "a WebSocketMessage starts with its type field"
    );
    assert_eq!(
        sealed.hash,
        message_hash(&StoragePubkey::from(bob.session_id()), 0, &sealed.data)
    );
    assert_eq!(sealed.hash.len(), 43);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(sealed.data_base64())
            .unwrap(),
        sealed.data
    );

    let got = open_ok(&bob, &sealed.data);
    assert_eq!(got.sender, alice.session_id());
    assert_eq!(got.sender_ed25519, alice.ed25519_public());
    assert_eq!(got.sent_ms, T);
    assert_eq!(got.expiry, None);
    assert_eq!(
        got.kind,
        IncomingKind::Text {
            attachments: Vec::new(),
            body: "hello bob".into(),
            profile: Some(full_profile()),
        }
    );
    // The same through base64, padded and unpadded.
    assert_eq!(open_base64(&bob, &sealed.data_base64()).unwrap(), got);
    let unpadded = sealed.data_base64().trim_end_matches('=').to_string();
    assert_eq!(open_base64(&bob, &unpadded).unwrap(), got);
    // Debug output does not leak the body.
    assert!(!format!("{got:?}").contains("hello bob"));
    assert!(!format!("{sealed:?}").contains(&hex::encode(&sealed.data[..8])));
}

#[test]
fn text_without_profile_and_name_only_profile() {
    let (alice, bob) = (alice(), bob());
    for (profile, expected) in [
        (None, None),
        (Some(Profile::default()), None),
        (Some(Profile::named("Al")), Some(Profile::named("Al"))),
    ] {
        let msg = Outgoing::Text {
            attachments: Vec::new(),
            body: "x".into(),
            profile,
            expiry: None,
        };
        let sealed = msg.seal(&alice, &bob.session_id(), T).unwrap();
        let c = content_of(&bob, &sealed);
        let dm = c.data_message.as_ref().unwrap();
        assert_eq!(dm.profile.is_some(), expected.is_some());
        assert_eq!(dm.profile_key, None);
        match open_ok(&bob, &sealed.data).kind {
            IncomingKind::Text { profile, .. } => assert_eq!(profile, expected),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn sync_copy_goes_to_own_swarm_and_names_the_recipient() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::Text {
        attachments: Vec::new(),
        body: "to bob".into(),
        profile: Some(full_profile()),
        expiry: Some(Expiry::after_send(300)),
    };
    let sealed = msg.seal_with_sync(&alice, &bob.session_id(), T).unwrap();
    assert_eq!(sealed.len(), 2);
    let (to_bob, to_self) = (&sealed[0], &sealed[1]);
    assert_eq!(to_bob.destination, bob.session_id());
    assert_eq!(to_self.destination, alice.session_id());
    assert_eq!(to_self.namespace, 0);
    assert_eq!(
        to_self.sent_ms, T,
        "the sync copy keeps the original sent time"
    );
    assert_eq!(to_self.ttl_ms, 300_000);
    assert_ne!(to_bob.hash, to_self.hash);

    // Protobuf: syncTarget = bob's id, no profile, same expiry fields.
    let c = content_of(&alice, to_self);
    let dm = c.data_message.as_ref().unwrap();
    assert_eq!(
        dm.sync_target.as_deref(),
        Some(bob.session_id().to_hex().as_str())
    );
    assert_eq!(dm.body.as_deref(), Some("to bob"));
    assert_eq!(dm.profile, None);
    assert_eq!(dm.profile_key, None);
    assert_eq!(c.expiration_type, Some(2));
    assert_eq!(c.expiration_timer, Some(300));
    assert_eq!(c.sig_timestamp, Some(T));

    let got = open_ok(&alice, &to_self.data);
    assert_eq!(got.sender, alice.session_id());
    assert_eq!(got.sent_ms, T);
    assert_eq!(got.expiry, Some(Expiry::after_send(300)));
    assert_eq!(
        got.kind,
        IncomingKind::Sync {
            attachments: Vec::new(),
            target: bob.session_id(),
            body: "to bob".into()
        }
    );
    // Bob cannot open Alice's own copy; Alice cannot open Bob's.
    assert_eq!(open(&bob, &to_self.data), Err(Rejected::NotForUs));
    assert_eq!(open(&alice, &to_bob.data), Err(Rejected::NotForUs));

    // Note to Self: one copy, no syncTarget.
    let nts = text("note")
        .seal_with_sync(&alice, &alice.session_id(), T)
        .unwrap();
    assert_eq!(nts.len(), 1);
    assert!(matches!(
        open_ok(&alice, &nts[0].data).kind,
        IncomingKind::Text { ref body, .. } if body == "note"
    ));
    // Read receipts and request acceptances have no sync copy.
    for msg in [
        Outgoing::ReadReceipt {
            timestamps: vec![T],
        },
        Outgoing::AcceptRequest { profile: None },
    ] {
        assert_eq!(
            msg.seal_with_sync(&alice, &bob.session_id(), T)
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn read_receipt_round_trip() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::ReadReceipt {
        timestamps: vec![T - 5, T - 1],
    };
    let sealed = msg.seal(&bob, &alice.session_id(), T).unwrap();
    assert_eq!(sealed.ttl_ms, DEFAULT_TTL_MS);
    let c = content_of(&alice, &sealed);
    let r = c.receipt_message.as_ref().unwrap();
    assert_eq!(r.r#type, receipt_message::Type::Read as i32);
    assert_eq!(r.timestamp, vec![T - 5, T - 1]);
    assert_eq!((c.expiration_type, c.expiration_timer), (None, None));
    assert!(c.data_message.is_none());

    let got = open_ok(&alice, &sealed.data);
    assert_eq!(got.sender, bob.session_id());
    assert_eq!(
        got.kind,
        IncomingKind::ReadReceipt {
            timestamps: vec![T - 5, T - 1]
        }
    );
}

#[test]
fn unsend_round_trip_and_own_swarm_copy() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::Unsend {
        author: alice.session_id(),
        sent_ms: T - 1000,
    };
    let sealed = msg.seal_with_sync(&alice, &bob.session_id(), T).unwrap();
    assert_eq!(
        sealed.len(),
        2,
        "unsend goes to the conversation and to our own swarm"
    );
    let c = content_of(&bob, &sealed[0]);
    let u = c.unsend_request.as_ref().unwrap();
    assert_eq!(u.timestamp, T - 1000);
    assert_eq!(u.author, alice.session_id().to_hex());
    for (own, s) in [(&bob, &sealed[0]), (&alice, &sealed[1])] {
        let got = open_ok(own, &s.data);
        assert_eq!(
            got.kind,
            IncomingKind::Unsend {
                author: alice.session_id(),
                sent_ms: T - 1000
            }
        );
    }
}

#[test]
fn accept_request_round_trip() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::AcceptRequest {
        profile: Some(full_profile()),
    };
    let sealed = msg.seal(&alice, &bob.session_id(), T).unwrap();
    let c = content_of(&bob, &sealed);
    let r = c.message_request_response.as_ref().unwrap();
    assert!(r.is_approved);
    assert_eq!(
        r.profile_key.as_deref(),
        Some(&(0u8..32).collect::<Vec<_>>()[..])
    );
    let p = r.profile.as_ref().unwrap();
    assert_eq!(p.display_name.as_deref(), Some("Alice ✨"));
    assert_eq!(
        p.profile_picture.as_deref(),
        Some("http://filev2.getsession.org/file/12345")
    );
    assert_eq!(p.last_profile_update_seconds, Some(1_700_000_000));
    assert_eq!(
        open_ok(&bob, &sealed.data).kind,
        IncomingKind::RequestAccepted {
            profile: Some(full_profile())
        }
    );
    // Without a profile.
    let sealed = Outgoing::AcceptRequest { profile: None }
        .seal(&alice, &bob.session_id(), T)
        .unwrap();
    assert_eq!(
        open_ok(&bob, &sealed.data).kind,
        IncomingKind::RequestAccepted { profile: None }
    );
}

#[test]
fn disappearing_messages_fields_and_ttls() {
    let (alice, bob) = (alice(), bob());
    for (expiry, ty, timer, ttl) in [
        (None, 0, 0, DEFAULT_TTL_MS),
        (Some(Expiry::after_read(86_400)), 1, 86_400, DEFAULT_TTL_MS),
        (Some(Expiry::after_send(3600)), 2, 3600, 3_600_000),
    ] {
        let msg = Outgoing::Text {
            attachments: Vec::new(),
            body: "tick".into(),
            profile: None,
            expiry,
        };
        let sealed = msg.seal(&alice, &bob.session_id(), T).unwrap();
        assert_eq!(sealed.ttl_ms, ttl);
        let c = content_of(&bob, &sealed);
        // Current clients always send both fields on messages that can disappear.
        assert_eq!(c.expiration_type, Some(ty));
        assert_eq!(c.expiration_timer, Some(timer));
        assert_eq!(open_ok(&bob, &sealed.data).expiry, expiry);
    }
    assert_eq!(Expiry::after_read(1).mode, ExpiryMode::AfterRead);
}

#[test]
fn expiry_update_round_trip() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::ExpiryUpdate {
        expiry: Some(Expiry::after_read(43_200)),
        sync_target: None,
    };
    let sealed = msg.seal_with_sync(&alice, &bob.session_id(), T).unwrap();
    assert_eq!(sealed.len(), 2);
    let c = content_of(&bob, &sealed[0]);
    let dm = c.data_message.as_ref().unwrap();
    assert_eq!(
        dm.flags,
        Some(data_message::Flags::ExpirationTimerUpdate as u32)
    );
    assert_eq!(dm.body, None);
    assert_eq!(
        (c.expiration_type, c.expiration_timer),
        (Some(1), Some(43_200))
    );

    let got = open_ok(&bob, &sealed[0].data);
    assert_eq!(got.kind, IncomingKind::ExpiryUpdate { sync_target: None });
    assert_eq!(got.expiry, Some(Expiry::after_read(43_200)));
    let own = open_ok(&alice, &sealed[1].data);
    assert_eq!(
        own.kind,
        IncomingKind::ExpiryUpdate {
            sync_target: Some(bob.session_id())
        }
    );
    // Turning it off: (UNKNOWN, 0) on the wire, no expiry when read.
    let off = Outgoing::ExpiryUpdate {
        expiry: None,
        sync_target: None,
    }
    .seal(&alice, &bob.session_id(), T)
    .unwrap();
    let c = content_of(&bob, &off);
    assert_eq!((c.expiration_type, c.expiration_timer), (Some(0), Some(0)));
    assert_eq!(open_ok(&bob, &off.data).expiry, None);
}

// ---------------------------------------------------------------------------------------
// Exact wire layout

#[test]
fn exact_wire_layers_of_a_text_message() {
    let (alice, bob) = (alice(), bob());
    let msg = Outgoing::Text {
        attachments: Vec::new(),
        body: "hi".into(),
        profile: None,
        expiry: None,
    };
    let sealed = msg.seal(&alice, &bob.session_id(), 1).unwrap();

    // WebSocketMessage{type REQUEST, request{verb "", path "", body, requestId 0}}.
    let wsm = WebSocketMessage::decode(&sealed.data[..]).unwrap();
    assert_eq!(wsm.r#type, Some(web_socket_message::Type::Request as i32));
    let req = wsm.request.unwrap();
    assert_eq!(req.verb.as_deref(), Some(""));
    assert_eq!(req.path.as_deref(), Some(""));
    assert_eq!(req.request_id, Some(0));

    // Envelope{type 6, sourceDevice 1, timestamp = sent ms, content, 64-byte proSig, no source}.
    let env = unwrap_1o1(&sealed.data).unwrap().envelope;
    assert_eq!(env.r#type, envelope::Type::SessionMessage as i32);
    assert_eq!(env.source, None);
    assert_eq!(env.source_device, Some(1));
    assert_eq!(env.timestamp, 1);
    assert_eq!(env.pro_sig.as_ref().map(Vec::len), Some(64));

    // Padded to a multiple of 160 with 0x80 then zeros (libsession ≥ 2025 rule).
    let p = plaintext(&bob, &sealed);
    assert_eq!(p.len() % PADDING_BLOCK, 0);
    // Content{dataMessage(1){body(1) "hi"}, expirationType(12) 0, expirationTimer(13) 0,
    // sigTimestamp(15) 1}, hand-encoded from the §3.4 field numbers.
    let expected = hex::decode("0a040a02686960006800780180").unwrap();
    assert_eq!(&p[..expected.len()], &expected[..]);
    assert!(p[expected.len()..].iter().all(|&b| b == 0));
    assert_eq!(p, pad_message(&expected[..expected.len() - 1]));
}

#[test]
fn exact_field_numbers_of_profile_sync_and_control_messages() {
    let (alice, bob) = (alice(), bob());
    let profile = Profile {
        display_name: Some("A".into()),
        picture: Some(ProfilePicture {
            url: "u".into(),
            key: vec![0xee],
        }),
        updated_at_s: Some(2),
    };
    let msg = Outgoing::Text {
        attachments: Vec::new(),
        body: "b".into(),
        profile: Some(profile),
        expiry: Some(Expiry::after_send(60)),
    };
    let p = plaintext(&bob, &msg.seal(&alice, &bob.session_id(), 3).unwrap());
    // dataMessage(1){body(1) "b", profileKey(6) ee, profile(101){displayName(1) "A",
    // profilePicture(2) "u", lastProfileUpdateSeconds(3) 2}}, expirationType(12) 2,
    // expirationTimer(13) 60, sigTimestamp(15) 3.
    let expected = "0a110a0162 3201ee aa0608 0a0141 120175 1802 6002 683c 7803 80";
    let expected = hex::decode(expected.replace(' ', "")).unwrap();
    assert_eq!(&p[..expected.len()], &expected[..]);

    let sync = Outgoing::Sync {
        attachments: Vec::new(),
        target: bob.session_id(),
        body: "b".into(),
        expiry: None,
    };
    let p = plaintext(&alice, &sync.seal(&alice, &alice.session_id(), 3).unwrap());
    // dataMessage(1){body(1) "b", syncTarget(105) "05…"}.
    let mut expected = hex::decode("0a480a0162ca0642").unwrap();
    expected.extend_from_slice(bob.session_id().to_hex().as_bytes());
    expected.extend_from_slice(&hex::decode("6000680078 0380".replace(' ', "")).unwrap());
    assert_eq!(&p[..expected.len()], &expected[..]);

    // receiptMessage(5){type(1) READ, timestamp(2) 7, 8}, sigTimestamp(15) 3.
    let receipt = Outgoing::ReadReceipt {
        timestamps: vec![7, 8],
    };
    let p = plaintext(&bob, &receipt.seal(&alice, &bob.session_id(), 3).unwrap());
    let expected = hex::decode("2a0608011007100878 0380".replace(' ', "")).unwrap();
    assert_eq!(&p[..expected.len()], &expected[..]);

    // unsendRequest(9){timestamp(1) 5, author(2) "05…"}, sigTimestamp(15) 3.
    let unsend = Outgoing::Unsend {
        author: alice.session_id(),
        sent_ms: 5,
    };
    let p = plaintext(&bob, &unsend.seal(&alice, &bob.session_id(), 3).unwrap());
    let mut expected = hex::decode("4a460805 1242".replace(' ', "")).unwrap();
    expected.extend_from_slice(alice.session_id().to_hex().as_bytes());
    expected.extend_from_slice(&[0x78, 0x03, 0x80]);
    assert_eq!(&p[..expected.len()], &expected[..]);

    // messageRequestResponse(10){isApproved(1) true}, sigTimestamp(15) 3.
    let accept = Outgoing::AcceptRequest { profile: None };
    let p = plaintext(&bob, &accept.seal(&alice, &bob.session_id(), 3).unwrap());
    let expected = hex::decode("5202080178 0380".replace(' ', "")).unwrap();
    assert_eq!(&p[..expected.len()], &expected[..]);
}

#[test]
fn deterministic_twin_is_reproducible() {
    let (alice, bob) = (alice(), bob());
    let a = text("same")
        .seal_deterministic(&alice, &bob.session_id(), T)
        .unwrap();
    let b = text("same")
        .seal_deterministic(&alice, &bob.session_id(), T)
        .unwrap();
    assert_eq!(a, b);
    let c = text("same")
        .seal_deterministic(&alice, &bob.session_id(), T + 1)
        .unwrap();
    assert_ne!(a.data, c.data);
    let r1 = text("same").seal(&alice, &bob.session_id(), T).unwrap();
    let r2 = text("same").seal(&alice, &bob.session_id(), T).unwrap();
    assert_ne!(r1.data, r2.data, "random ephemeral key and decoy");
    assert_eq!(open_ok(&bob, &a.data), open_ok(&bob, &r1.data));
}

#[test]
fn sealing_refuses_bad_input() {
    let (alice, bob) = (alice(), bob());
    let bob_id = bob.session_id();
    assert_eq!(
        text("x").seal(&alice, &bob_id, 0).unwrap_err(),
        OutgoingError::ZeroTimestamp
    );
    assert_eq!(
        text("").seal(&alice, &bob_id, T).unwrap_err(),
        OutgoingError::EmptyBody
    );
    assert!(matches!(
        text(&"a".repeat(MAX_BODY_CHARS + 1)).seal(&alice, &bob_id, T),
        Err(OutgoingError::BodyTooLong { .. })
    ));
    // A group id (03) is not a one-to-one recipient.
    let group = AccountId::new(IdPrefix::Group, [3; 32]);
    assert!(matches!(
        text("x").seal(&alice, &group, T),
        Err(OutgoingError::Crypto(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Rejections

/// `P || A || SIG` sealed to `to`, where the signature is made over `P || A || Y_signed`.
fn hand_sealed(
    sender: &AccountKeys,
    to: &AccountKeys,
    signed_for: &AccountKeys,
    content: &[u8],
    tamper: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let p = pad_message(content);
    let a = sender.ed25519_public();
    let mut signed = p.clone();
    signed.extend_from_slice(a.as_bytes());
    signed.extend_from_slice(signed_for.session_id().key());
    let sig = sender.ed25519().sign(&signed);
    let mut inner = p;
    inner.extend_from_slice(a.as_bytes());
    inner.extend_from_slice(&sig);
    tamper(&mut inner);
    let ct = sealed_box::seal(to.session_id().key(), &inner).unwrap();
    wrap_1o1(&ct, T, None)
}

#[test]
fn forged_signatures_are_rejected() {
    let (alice, bob, carol) = (alice(), bob(), carol());
    let content = text("forged").content(T).unwrap().encode_to_vec();

    // Control: the hand-built message is accepted.
    let good = hand_sealed(&alice, &bob, &bob, &content, |_| {});
    assert_eq!(open_ok(&bob, &good).sender, alice.session_id());

    // A flipped signature byte.
    for pos in [0usize, 31, 32, 63] {
        let forged = hand_sealed(&alice, &bob, &bob, &content, |inner| {
            let n = inner.len();
            inner[n - 64 + pos] ^= 0x01;
        });
        assert_eq!(
            open(&bob, &forged),
            Err(Rejected::BadSignature),
            "sig byte {pos}"
        );
    }
    // A flipped plaintext byte under a valid box (the signature covers P).
    let forged = hand_sealed(&alice, &bob, &bob, &content, |inner| inner[3] ^= 0x01);
    assert_eq!(open(&bob, &forged), Err(Rejected::BadSignature));
    // Claiming to be carol with alice's signature.
    let forged = hand_sealed(&alice, &bob, &bob, &content, |inner| {
        let n = inner.len();
        inner[n - 96..n - 64].copy_from_slice(carol.ed25519_public().as_bytes());
    });
    assert_eq!(open(&bob, &forged), Err(Rejected::BadSignature));
    // An invalid sender key.
    let forged = hand_sealed(&alice, &bob, &bob, &content, |inner| {
        let n = inner.len();
        inner[n - 96..n - 64].fill(0xff);
    });
    assert_eq!(open(&bob, &forged), Err(Rejected::BadSignature));
    // Signed for carol, re-sealed to bob (the recipient key is signed, not sent).
    let replayed = hand_sealed(&alice, &bob, &carol, &content, |_| {});
    assert_eq!(open(&bob, &replayed), Err(Rejected::BadSignature));
    assert_eq!(Rejected::BadSignature.label(), "bad_signature");
}

#[test]
fn messages_for_someone_else_are_rejected() {
    let (alice, bob, carol) = (alice(), bob(), carol());
    let sealed = text("for carol")
        .seal(&alice, &carol.session_id(), T)
        .unwrap();
    assert_eq!(open(&bob, &sealed.data), Err(Rejected::NotForUs));
    assert!(open(&carol, &sealed.data).is_ok());
    assert_eq!(Rejected::NotForUs.label(), "not_for_us");
}

#[test]
fn truncated_tampered_and_garbage_input_is_rejected_without_panic() {
    let (alice, bob) = (alice(), bob());
    let sealed = text("truncate me")
        .seal(&alice, &bob.session_id(), T)
        .unwrap();
    for len in 0..sealed.data.len() {
        let r = open(&bob, &sealed.data[..len]);
        assert!(r.is_err(), "prefix of {len} bytes accepted");
    }
    // Every single-byte flip: either rejected or (framing bytes like the decoy proSig)
    // accepted with the very same sender and body.
    let reference = open_ok(&bob, &sealed.data);
    for i in 0..sealed.data.len() {
        let mut d = sealed.data.clone();
        d[i] ^= 0x40;
        if let Ok(got) = open(&bob, &d) {
            assert_eq!(got.sender, reference.sender, "flip at {i}");
            assert_eq!(got.kind, reference.kind, "flip at {i}");
            assert_eq!(got.sent_ms, reference.sent_ms, "flip at {i}");
        }
    }
    // A box shorter than 144 bytes inside a valid wrapper.
    assert_eq!(
        open(&bob, &wrap_1o1(&[0u8; 143], T, None)),
        Err(Rejected::TooShort { len: 143 })
    );
    // Garbage.
    for garbage in [
        &b""[..],
        b"\x08",
        b"\xff\xff\xff\xff",
        b"hello world",
        &[0x08, 0x01, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f][..],
    ] {
        assert!(matches!(open(&bob, garbage), Err(Rejected::BadWrapper(_))));
    }
    let mut x: u64 = 0x1234_5678;
    for len in [1usize, 7, 100, 500, 2000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(open(&bob, &bytes).is_err());
    }
    assert!(matches!(
        open_base64(&bob, "not base64!"),
        Err(Rejected::BadWrapper(_))
    ));
    // v2 DMs are recognised.
    assert_eq!(
        open(&bob, &[0x00, 0x02, 0x00]),
        Err(Rejected::V2Unsupported)
    );
}

#[test]
fn decrypted_garbage_is_bad_content() {
    let (alice, bob) = (alice(), bob());
    let ct = encrypt_for_recipient(&alice, &bob.session_id(), &[0x0f, 0xff, 0xff]).unwrap();
    assert!(matches!(
        open(&bob, &wrap_1o1(&ct, T, None)),
        Err(Rejected::BadContent(_))
    ));
}

#[test]
fn envelope_and_wrapper_variants() {
    let (alice, bob) = (alice(), bob());
    let content = text("v").content(T).unwrap().encode_to_vec();
    let ct = encrypt_for_recipient(&alice, &bob.session_id(), &content).unwrap();

    // The envelope type is ignored (§3.2: inferred from the namespace).
    let mut env = session_envelope(&ct, T, None);
    env.r#type = envelope::Type::ClosedGroupMessage as i32;
    assert!(open(&bob, &wrap_websocket(&encode_envelope(&env))).is_ok());
    env.r#type = 99;
    assert!(open(&bob, &wrap_websocket(&encode_envelope(&env))).is_ok());

    // Old clients: verb PUT, path /api/v1/message, random requestId, source "".
    let mut env = session_envelope(&ct, T, None);
    env.source = Some(String::new());
    let old = WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some("PUT".into()),
            path: Some("/api/v1/message".into()),
            body: Some(encode_envelope(&env)),
            request_id: Some(0xdead_beef),
            headers: vec![],
        }),
        response: None,
    };
    assert!(open(&bob, &old.encode_to_vec()).is_ok());

    // A RESPONSE, or a request without body, is not a message.
    let mut resp = old.clone();
    resp.r#type = Some(web_socket_message::Type::Response as i32);
    assert!(matches!(
        open(&bob, &resp.encode_to_vec()),
        Err(Rejected::BadWrapper(_))
    ));
    let mut no_body = old;
    if let Some(r) = no_body.request.as_mut() {
        r.body = None;
    }
    assert!(matches!(
        open(&bob, &no_body.encode_to_vec()),
        Err(Rejected::BadWrapper(_))
    ));
    // An envelope without content.
    let mut env = session_envelope(&ct, T, None);
    env.content = None;
    assert!(matches!(
        open(&bob, &wrap_websocket(&encode_envelope(&env))),
        Err(Rejected::BadWrapper(_))
    ));
}

#[test]
fn envelope_timestamp_must_match_the_signed_timestamp() {
    let (alice, bob) = (alice(), bob());
    let content = text("when").content(T).unwrap();
    assert_eq!(
        open(&bob, &raw(&alice, &bob, &content, T + 1)),
        Err(Rejected::TimestampMismatch {
            envelope_ms: T + 1,
            signed_ms: T
        })
    );
    // Legacy senders without sigTimestamp: the envelope time is used.
    let mut legacy = content.clone();
    legacy.sig_timestamp = None;
    assert_eq!(
        open_ok(&bob, &raw(&alice, &bob, &legacy, T + 7)).sent_ms,
        T + 7
    );
    // No envelope time: the signed one.
    assert_eq!(open_ok(&bob, &raw(&alice, &bob, &content, 0)).sent_ms, T);
    assert_eq!(
        open(&bob, &raw(&alice, &bob, &legacy, 0)),
        Err(Rejected::NoTimestamp)
    );
}

#[test]
fn sync_messages_from_others_and_foreign_unsends_are_rejected() {
    let (alice, bob, carol) = (alice(), bob(), carol());
    // Bob pretends to be one of Alice's devices.
    let fake_sync = Outgoing::Sync {
        attachments: Vec::new(),
        target: carol.session_id(),
        body: "fake".into(),
        expiry: None,
    };
    let sealed = fake_sync.seal(&bob, &alice.session_id(), T).unwrap();
    assert_eq!(
        open(&alice, &sealed.data),
        Err(Rejected::ForeignSync {
            sender: bob.session_id()
        })
    );
    // Bob asks Alice to delete a message Alice wrote.
    let unsend = Outgoing::Unsend {
        author: alice.session_id(),
        sent_ms: 5,
    };
    let sealed = unsend.seal(&bob, &alice.session_id(), T).unwrap();
    assert!(matches!(
        open(&alice, &sealed.data),
        Err(Rejected::UnsendNotByAuthor { .. })
    ));
    // An unsend with garbage author or zero timestamp.
    let mut c = Content {
        unsend_request: Some(UnsendRequest {
            timestamp: 5,
            author: "nope".into(),
        }),
        sig_timestamp: Some(T),
        ..Content::default()
    };
    assert!(matches!(
        open(&alice, &raw(&bob, &alice, &c, T)),
        Err(Rejected::UnsendNotByAuthor { .. })
    ));
    c.unsend_request = Some(UnsendRequest {
        timestamp: 0,
        author: bob.session_id().to_hex(),
    });
    assert!(matches!(
        open(&alice, &raw(&bob, &alice, &c, T)),
        Err(Rejected::Invalid(_))
    ));
    // A bad syncTarget, unknown DataMessage flags.
    let c = Content {
        data_message: Some(DataMessage {
            body: Some("x".into()),
            sync_target: Some("05zz".into()),
            ..DataMessage::default()
        }),
        ..Content::default()
    };
    assert!(matches!(
        open(&alice, &raw(&alice, &alice, &c, T)),
        Err(Rejected::Invalid(_))
    ));
    let c = Content {
        data_message: Some(DataMessage {
            body: Some("x".into()),
            flags: Some(1),
            ..DataMessage::default()
        }),
        ..Content::default()
    };
    assert_eq!(
        open(&alice, &raw(&bob, &alice, &c, T)),
        Err(Rejected::Invalid("unknown DataMessage flags"))
    );
}

#[test]
fn other_content_is_unsupported_not_rejected() {
    let (alice, bob) = (alice(), bob());
    let cases: Vec<(Content, &str)> = vec![
        (
            Content {
                typing_message: Some(TypingMessage {
                    timestamp: T,
                    action: typing_message::Action::Started as i32,
                }),
                ..Content::default()
            },
            "typingMessage",
        ),
        (
            Content {
                call_message: Some(CallMessage {
                    r#type: call_message::Type::PreOffer as i32,
                    uuid: "u".into(),
                    ..CallMessage::default()
                }),
                ..Content::default()
            },
            "callMessage",
        ),
        (
            Content {
                receipt_message: Some(ReceiptMessage {
                    r#type: receipt_message::Type::Delivery as i32,
                    timestamp: vec![1],
                }),
                ..Content::default()
            },
            "delivery receipt",
        ),
        (
            Content {
                data_message: Some(DataMessage {
                    reaction: Some(data_message::Reaction {
                        id: 1,
                        author: alice.session_id().to_hex(),
                        emoji: Some("👍".into()),
                        action: 0,
                    }),
                    ..DataMessage::default()
                }),
                ..Content::default()
            },
            "reaction",
        ),
        (
            Content {
                shared_config_message: Some(SharedConfigMessage::default()),
                ..Content::default()
            },
            "sharedConfigMessage",
        ),
        (Content::default(), "empty Content"),
    ];
    for (content, what) in cases {
        let got = open_ok(&bob, &raw(&alice, &bob, &content, T));
        assert_eq!(got.kind, IncomingKind::Unsupported(what));
        assert_eq!(got.content, content, "the raw Content is handed back");
    }
}

#[test]
fn bodies_round_trip_property() {
    // A small property test with plain loops: many bodies (ASCII, multi-byte, boundary
    // lengths around the 160-byte padding blocks and the character limit).
    let (alice, bob) = (alice(), bob());
    let alphabet: Vec<char> = "aZ0 ✨é漢🙂\n\"\\".chars().collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut lens: Vec<usize> = vec![
        1, 2, 100, 130, 140, 150, 159, 160, 161, 319, 320, 1999, 2000,
    ];
    lens.extend((0..20).map(|i| 1 + (i * 97) % MAX_BODY_CHARS));
    for len in lens {
        let body: String = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect();
        let sent = T + len as u64;
        let msg = Outgoing::Text {
            attachments: Vec::new(),
            body: body.clone(),
            profile: None,
            expiry: Some(Expiry::after_send(u32::try_from(len).unwrap() + 60)),
        };
        let sealed = msg.seal_with_sync(&alice, &bob.session_id(), sent).unwrap();
        let got = open_ok(&bob, &sealed[0].data);
        assert_eq!(got.sent_ms, sent);
        assert_eq!(
            got.kind,
            IncomingKind::Text {
                attachments: Vec::new(),
                body: body.clone(),
                profile: None
            }
        );
        assert_eq!(plaintext(&bob, &sealed[0]).len() % PADDING_BLOCK, 0);
        let own = open_ok(&alice, &sealed[1].data);
        assert_eq!(
            own.kind,
            IncomingKind::Sync {
                attachments: Vec::new(),
                target: bob.session_id(),
                body
            }
        );
    }
}

// ---------------------------------------------------------------------------------------
// Upstream vectors (session_protocol.json, from session-testvectors).

fn vector(id: &str) -> serde_json::Value {
    let path = session_testvectors::path("session_protocol.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("vector {id} missing"))
        .clone()
}

fn hex_field(v: &serde_json::Value, path: &[&str]) -> Vec<u8> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    hex::decode(cur.as_str().unwrap()).unwrap()
}

#[test]
fn vector_real_old_client_blob_opens() {
    // A real message from an older client: verb PUT, source "", legacy padding (639),
    // no sigTimestamp; a legacy config push to oneself.
    let v = vector("legacy_old_client_config_blob");
    let own = AccountKeys::from_seed(
        Ed25519Seed::from_bytes(&hex_field(&v, &["input", "ed25519_seed"])).unwrap(),
    );
    let blob = hex_field(&v, &["input", "blob"]);
    let got = open_ok(&own, &blob);
    assert_eq!(
        got.sender.to_hex(),
        v["expected"]["owner_session_id"].as_str().unwrap()
    );
    assert_eq!(got.sender, own.session_id());
    assert_eq!(
        got.sent_ms,
        v["expected"]["envelope_timestamp"].as_u64().unwrap()
    );
    assert_eq!(got.kind, IncomingKind::Unsupported("sharedConfigMessage"));
    let cfg = got.content.shared_config_message.as_ref().unwrap();
    assert_eq!(
        i64::from(cfg.kind),
        v["expected"]["sharedConfig_kind"].as_i64().unwrap()
    );
    assert_eq!(
        cfg.seqno,
        v["expected"]["sharedConfig_seqno"].as_i64().unwrap()
    );
    assert_eq!(
        cfg.data.len() as u64,
        v["expected"]["sharedConfig_data_len"].as_u64().unwrap()
    );
    // Someone else cannot open it.
    assert_eq!(open(&bob(), &blob), Err(Rejected::NotForUs));
}

#[test]
fn vector_legacy_config_wrap_opens() {
    let v = vector("legacy_wrap.user_profile_empty_push");
    let own = AccountKeys::from_seed(
        Ed25519Seed::from_bytes(&hex_field(&v, &["input", "ed25519_seed"])).unwrap(),
    );
    let got = open_ok(&own, &hex_field(&v, &["expected", "pushed_bytes"]));
    assert_eq!(got.sender, own.session_id());
    assert_eq!(got.sent_ms, 1);
    assert_eq!(got.kind, IncomingKind::Unsupported("sharedConfigMessage"));
}

#[test]
fn vector_deterministic_box_decrypts_but_is_not_content() {
    // The upstream deterministic box of the bytes "hello": the signature and sender come
    // out right, but "hello" is not a Content protobuf, so the message is dropped.
    let v = vector("encrypt_for_recipient_deterministic.hello");
    let bob = AccountKeys::from_seed(
        Ed25519Seed::from_bytes(&hex_field(&v, &["input", "recipient_ed25519_seed"])).unwrap(),
    );
    assert_eq!(
        bob.session_id().to_hex(),
        v["input"]["recipient_session_id"].as_str().unwrap()
    );
    let ct = hex_field(&v, &["expected", "ciphertext"]);
    let msg = open_signed(&bob, &ct).unwrap();
    assert_eq!(
        msg.sender_id.to_hex(),
        v["expected"]["decrypted_sender_session_id"]
            .as_str()
            .unwrap()
    );
    assert!(matches!(
        open(&bob, &wrap_1o1(&ct, T, None)),
        Err(Rejected::BadContent(_))
    ));
}

#[test]
fn attachment_pointers_travel_in_texts_and_sync_copies() {
    let (alice, bob) = (alice(), bob());
    let pointer = session_client::attachments::Attachment {
        url: "http://127.0.0.1:22099/file/12345#p=00ff&d".replace("00ff", &"ab".repeat(32)),
        id: 12345,
        key: vec![1; 32],
        digest: Some(vec![2; 32]),
        size: 1_048_576,
        content_type: Some("application/pdf".into()),
        file_name: Some("report.pdf".into()),
    };
    // A file without a caption: the body may be empty, and is then absent on the wire.
    let msg = Outgoing::Text {
        attachments: vec![pointer.clone()],
        body: String::new(),
        profile: None,
        expiry: None,
    };
    let sealed = msg.seal_with_sync(&alice, &bob.session_id(), T).unwrap();
    let dm = content_of(&bob, &sealed[0]).data_message.unwrap();
    assert_eq!(dm.body, None);
    let wire = &dm.attachments[0];
    assert_eq!(
        (wire.id, wire.size, wire.key.as_deref()),
        (12345, Some(1_048_576), Some(&[1u8; 32][..]))
    );
    assert_eq!(wire.url.as_deref(), Some(pointer.url.as_str()));
    match open_ok(&bob, &sealed[0].data).kind {
        IncomingKind::Text {
            body, attachments, ..
        } => {
            assert_eq!(body, "");
            assert_eq!(attachments, vec![pointer.clone()]);
        }
        other => panic!("{other:?}"),
    }
    match open_ok(&alice, &sealed[1].data).kind {
        IncomingKind::Sync { attachments, .. } => assert_eq!(attachments, vec![pointer]),
        other => panic!("{other:?}"),
    }
    // Neither text nor file: still refused.
    let empty = Outgoing::Text {
        attachments: Vec::new(),
        body: String::new(),
        profile: None,
        expiry: None,
    };
    assert_eq!(empty.content(T), Err(OutgoingError::EmptyBody));
}
