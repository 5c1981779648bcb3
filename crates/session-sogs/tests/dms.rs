#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Blinded direct messages over real HTTP on every backend (§5.6): sending, inbox and
//! outbox, `since` with 304, deletion, expiry, and who may use them.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{User, another, json_of, servers};
use serde_json::json;
use session_crypto::sogs_auth::SogsAuthPolicy;
use session_sogs::server::SogsSettings;
use session_sogs::store::Scope;

#[tokio::test]
async fn send_and_read() {
    for srv in servers().await {
        let alice = User::new();
        let bob = User::new();
        srv.ensure(&alice);
        let to_bob = format!("/inbox/{}", bob.hex(&srv));
        let msg = json!({"message": STANDARD.encode(b"\x00secret")});

        // Bob is unknown to the server yet: 404.
        assert_eq!(srv.send(Some(&alice), "POST", &to_bob, &msg).await.0, 404);
        srv.ensure(&bob);
        assert_eq!(srv.send(None, "POST", &to_bob, &msg).await.0, 401);
        for bad in [json!({}), json!({"message": "!!"}), json!({"message": 5})] {
            assert_eq!(
                srv.send(Some(&alice), "POST", &to_bob, &bad).await.0,
                400,
                "{bad}"
            );
        }
        // Only blinded ids in the path.
        let plain = format!("/inbox/05{}", "ab".repeat(32));
        assert_eq!(srv.send(Some(&alice), "POST", &plain, &msg).await.0, 404);

        let (code, sent) = srv.send(Some(&alice), "POST", &to_bob, &msg).await;
        assert_eq!(code, 201, "{}", srv.backend);
        let id = sent["id"].as_i64().unwrap();
        assert_eq!(sent["sender"], alice.hex(&srv));
        assert_eq!(sent["recipient"], bob.hex(&srv));
        assert_eq!(sent["posted_at"], srv.now());
        assert_eq!(sent["expires_at"], srv.now() + 15.0 * 86_400.0);
        assert!(sent.get("message").is_none());

        let (code, inbox) = srv.get(Some(&bob), "/inbox").await;
        assert_eq!(code, 200);
        assert_eq!(inbox.as_array().unwrap().len(), 1);
        assert_eq!(inbox[0]["id"], id);
        assert_eq!(inbox[0]["message"], STANDARD.encode(b"\x00secret"));
        assert_eq!(inbox[0]["sender"], alice.hex(&srv));
        let (_, outbox) = srv.get(Some(&alice), "/outbox").await;
        assert_eq!(outbox, inbox);
        let (_, empty) = srv.get(Some(&alice), "/inbox").await;
        assert_eq!(empty, json!([]));

        // since: 304 with an empty body when nothing is new; since/0 = everything.
        let r = srv
            .call(Some(&bob), "GET", &format!("/inbox/since/{id}"), b"")
            .await;
        assert_eq!(r.status, 304);
        assert!(r.body.is_empty());
        let r = srv
            .call(Some(&alice), "GET", &format!("/outbox/since/{id}"), b"")
            .await;
        assert_eq!(r.status, 304);
        let (code, list) = srv.get(Some(&bob), "/inbox/since/0").await;
        assert_eq!((code, list), (200, inbox.clone()));
        let (_, second) = srv.send(Some(&alice), "POST", &to_bob, &msg).await;
        let (code, list) = srv.get(Some(&bob), &format!("/inbox/since/{id}")).await;
        assert_eq!(code, 200);
        assert_eq!(list[0]["id"], second["id"]);
        let (_, list) = srv.get(Some(&bob), "/inbox?limit=1").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(srv.get(Some(&bob), "/inbox/since/-1").await.0, 404);

        // Reading needs a user.
        assert_eq!(srv.get(None, "/inbox").await.0, 401);
        assert_eq!(srv.get(None, "/outbox/since/1").await.0, 401);

        // Deleting the inbox.
        let r = srv.call(Some(&bob), "DELETE", "/inbox", b"").await;
        assert_eq!((r.status, json_of(&r)), (200, json!({"deleted": 2})));
        let (_, list) = srv.get(Some(&bob), "/inbox").await;
        assert_eq!(list, json!([]));
        assert_eq!(srv.call(None, "DELETE", "/inbox", b"").await.status, 401);

        // Expiry after 15 days.
        srv.send(Some(&alice), "POST", &to_bob, &msg).await;
        srv.clock.advance(Duration::from_secs(15 * 86_400 + 1));
        let (_, list) = srv.get(Some(&bob), "/inbox").await;
        assert_eq!(list, json!([]));

        // Globally banned recipients cannot be written to.
        srv.store
            .ban(Scope::Global, &bob.id(&srv), None, srv.now())
            .unwrap();
        assert_eq!(srv.send(Some(&alice), "POST", &to_bob, &msg).await.0, 404);
    }
}

#[tokio::test]
async fn unblinded_users_cannot_read() {
    for srv in servers().await {
        let open = another(
            &srv,
            SogsSettings {
                auth: SogsAuthPolicy {
                    require_blinding: false,
                    accept_blind25: true,
                },
                ..SogsSettings::default()
            },
        )
        .await;
        let plain = User::unblinded();
        let blinded = User::new();
        open.ensure(&blinded);
        let r = open.call(Some(&plain), "GET", "/inbox", b"").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.text(), "This endpoint requires blinded pubkeys be used");
        assert_eq!(
            open.call(Some(&plain), "DELETE", "/inbox", b"")
                .await
                .status,
            401
        );
        // Sending needs only a user.
        let (code, _) = open
            .send(
                Some(&plain),
                "POST",
                &format!("/inbox/{}", blinded.hex(&open)),
                &json!({"message": "aGk="}),
            )
            .await;
        assert_eq!(code, 201);
        let (_, list) = open.get(Some(&blinded), "/inbox").await;
        // Recorded under the 05 Session ID of the 00 key.
        let sender = list[0]["sender"].as_str().unwrap();
        assert!(sender.starts_with("05"), "{sender}");
        assert_ne!(sender, plain.hex(&open));
    }
}
