#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The community server's HTTP API over real HTTP on a port-0 listener, on every store
//! backend, with a mock clock and clients signing with blind15 keys: capabilities,
//! rooms, polling, authentication, posting, reactions and pins.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{START_MS, User, another, json_of, servers};
use serde_json::{Value, json};
use session_crypto::sogs_auth::{SogsAuthPolicy, SogsRequest, sign_request_with_nonce};
use session_sogs::server::{RateLimit, SogsSettings};
use session_sogs::store::{PermissionChange, RoomDefaults, Scope, Setting};

// ---- general and rooms ----

#[tokio::test]
async fn capabilities_and_required() {
    for srv in servers().await {
        let (code, body) = srv.get(None, "/capabilities").await;
        assert_eq!(code, 200);
        assert_eq!(
            body,
            json!({"capabilities": ["blind", "reactions", "sogs"]})
        );
        let (code, body) = srv.get(None, "/capabilities?required=sogs,blind").await;
        assert_eq!(code, 200);
        assert!(body.get("missing").is_none());
        let (code, body) = srv.get(None, "/capabilities?required=zzz,sogs,aaa").await;
        assert_eq!(code, 412);
        assert_eq!(body["missing"], json!(["zzz", "aaa"]));
        assert_eq!(body["capabilities"], json!(["blind", "reactions", "sogs"]));

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
        let (_, body) = open.get(None, "/capabilities").await;
        assert_eq!(body, json!({"capabilities": ["reactions", "sogs"]}));
    }
}

#[tokio::test]
async fn rooms_and_room_info() {
    for srv in servers().await {
        srv.add_room(
            "secret",
            RoomDefaults {
                read: false,
                accessible: false,
                ..RoomDefaults::default()
            },
        );
        srv.add_room(
            "lockedview",
            RoomDefaults {
                read: false,
                accessible: true,
                write: false,
                upload: false,
            },
        );
        let (code, body) = srv.get(None, "/rooms").await;
        assert_eq!(code, 200);
        let tokens: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["token"].as_str().unwrap())
            .collect();
        assert_eq!(tokens, ["lobby", "lockedview"]);

        let (code, info) = srv.get(None, "/room/LOBBY").await;
        assert_eq!(code, 200);
        assert_eq!(info["token"], "lobby");
        assert_eq!(info["name"], "The Lobby");
        assert_eq!(info["description"], "hello");
        assert_eq!(info["info_updates"], 0);
        assert_eq!(info["message_sequence"], 0);
        assert_eq!(info["active_users_cutoff"], 604_800);
        assert!(info["created"].is_f64());
        assert_eq!(info["moderators"], json!([]));
        assert_eq!(info["admins"], json!([]));
        assert_eq!(info["read"], true);
        assert_eq!(info["write"], true);
        assert_eq!(info["upload"], true);
        assert!(info.get("moderator").is_none());
        assert!(info.get("default_read").is_none());
        assert!(info.get("pinned_messages").is_none());

        assert_eq!(srv.get(None, "/room/nope").await.0, 404);
        assert_eq!(srv.get(None, "/room/secret").await.0, 404);
        assert_eq!(srv.get(None, "/room/bad.token").await.0, 404);
        let (code, info) = srv.get(None, "/room/lockedview").await;
        assert_eq!(code, 200);
        assert_eq!(info["read"], false);
        assert_eq!(
            srv.get(None, "/room/lockedview/messages/recent").await.0,
            403
        );
        assert_eq!(srv.get(None, "/room/secret/messages/recent").await.0, 404);

        // A moderator sees the defaults and the flags; an admin is listed as such.
        let admin = User::new();
        srv.make_mod(&admin, "lobby", true);
        let (code, info) = srv.get(Some(&admin), "/room/lobby").await;
        assert_eq!(code, 200);
        assert_eq!(info["moderator"], true);
        assert_eq!(info["admin"], true);
        assert_eq!(info["default_read"], true);
        assert_eq!(info["default_accessible"], true);
        assert_eq!(info["admins"], json!([admin.id(&srv).to_hex()]));
        assert!(info["info_updates"].as_i64().unwrap() > 0);
    }
}

#[tokio::test]
async fn poll_info_details_only_when_changed() {
    for srv in servers().await {
        let user = User::new();
        let (code, body) = srv.get(Some(&user), "/room/lobby/pollInfo/0").await;
        assert_eq!(code, 200);
        assert_eq!(body["token"], "lobby");
        assert_eq!(body["read"], true);
        assert_eq!(body["write"], true);
        assert_eq!(body["upload"], true);
        assert!(body["active_users"].is_i64());
        assert!(body.get("details").is_none());
        let (_, body) = srv.get(None, "/room/lobby/pollInfo/7").await;
        assert_eq!(body["details"]["token"], "lobby");
        assert_eq!(body["details"]["name"], "The Lobby");
        assert_eq!(srv.get(None, "/room/lobby/pollInfo/-1").await.0, 404);
        assert_eq!(srv.get(None, "/room/nope/pollInfo/0").await.0, 404);

        let m = User::new();
        srv.make_mod(&m, "lobby", false);
        let (_, info) = srv.get(None, "/room/lobby").await;
        let iu = info["info_updates"].as_i64().unwrap();
        let (_, body) = srv
            .get(Some(&m), &format!("/room/lobby/pollInfo/{iu}"))
            .await;
        assert_eq!(body["moderator"], true);
        assert_eq!(body["default_write"], true);
        assert!(body.get("admin").is_none());
        assert!(body.get("details").is_none());
        assert_eq!(body["details"], Value::Null);
    }
}

// ---- authentication ----

#[tokio::test]
async fn authentication_failures() {
    for srv in servers().await {
        let user = User::new();
        let body = json!({"data": STANDARD.encode(b"hi"), "signature": STANDARD.encode([1u8; 64])})
            .to_string();

        // No auth where required.
        let r = srv
            .raw("POST", "/room/lobby/message", &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.text(), "X-SOGS-* request authentication required");

        // Some headers missing.
        let mut h = srv.headers(&user, "GET", "/room/lobby", b"");
        h.truncate(2);
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.text(),
            "Invalid authentication headers: missing 2/4 required X-SOGS-* headers"
        );

        // Signature over another body.
        let h = srv.headers(&user, "POST", "/room/lobby/message", b"{}");
        let r = srv
            .raw("POST", "/room/lobby/message", &h, body.as_bytes())
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(
            r.text(),
            "Invalid authentication: X-SOGS-Signature verification failed"
        );

        // Signature over another path (the query is signed too).
        let h = srv.headers(&user, "GET", "/room/lobby/messages/recent?limit=1", b"");
        let r = srv
            .raw("GET", "/room/lobby/messages/recent?limit=2", &h, b"")
            .await;
        assert_eq!(r.status, 401);

        // Stale and future timestamps.
        let h = srv.headers(&user, "GET", "/room/lobby", b"");
        srv.clock.advance(Duration::from_secs(86_400 + 5));
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 425);
        assert_eq!(
            r.text(),
            "Invalid authentication: X-SOGS-Timestamp is too far from current time"
        );
        let h = srv.headers(&user, "GET", "/room/lobby", b"");
        srv.clock.set_ms(START_MS);
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 425);
        // Within the window: fine.
        let h = srv.headers(&user, "GET", "/room/lobby", b"");
        srv.clock.advance(Duration::from_secs(86_000));
        assert_eq!(srv.raw("GET", "/room/lobby", &h, b"").await.status, 200);

        // Replayed nonce.
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 425);
        assert_eq!(
            r.text(),
            "Invalid authentication: X-SOGS-Nonce cannot be reused"
        );
        // The nonce is global: another user with the same nonce is refused too.
        let other = User::new();
        let nonce = [9u8; 16];
        for (who, want) in [(&user, 200), (&other, 425)] {
            let h = sign_request_with_nonce(
                &who.keys,
                who.mode,
                &srv.pk,
                &SogsRequest {
                    method: "GET",
                    path: "/room/lobby",
                    body: b"",
                },
                srv.ts(),
                &nonce,
            );
            let pairs: Vec<(String, String)> = h
                .pairs()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(
                srv.raw("GET", "/room/lobby", &pairs, b"").await.status,
                want
            );
        }

        // Garbage pubkey, garbage nonce.
        let mut h = srv.headers(&user, "GET", "/room/lobby", b"");
        h[0].1 = "zz".repeat(33);
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.text(),
            "Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id"
        );
        let mut h = srv.headers(&user, "GET", "/room/lobby", b"");
        h[2].1 = "abc".into();
        assert_eq!(srv.raw("GET", "/room/lobby", &h, b"").await.status, 400);
    }
}

#[tokio::test]
async fn unblinded_keys() {
    for srv in servers().await {
        let plain = User::unblinded();
        let r = srv.call(Some(&plain), "GET", "/room/lobby", b"").await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.text(),
            "Invalid authentication: this server requires the use of blinded ids"
        );

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
        let (code, msg) = open.post_msg(&plain, b"plain").await;
        assert_eq!(code, 201);
        // Recorded under the 05 Session ID.
        assert!(msg["session_id"].as_str().unwrap().starts_with("05"));
        let blinded = User::new();
        let (code, msg) = open.post_msg(&blinded, b"blinded").await;
        assert_eq!(code, 201);
        assert_eq!(msg["session_id"], blinded.id(&open).to_hex());
    }
}

#[tokio::test]
async fn banned_user_gets_403_before_signature_check() {
    for srv in servers().await {
        let user = User::new();
        srv.store
            .ban(Scope::Global, &user.id(&srv), None, srv.now())
            .unwrap();
        // Correctly signed.
        let r = srv.call(Some(&user), "GET", "/room/lobby", b"").await;
        assert_eq!(r.status, 403);
        assert_eq!(r.text(), "Banned");
        // Badly signed: still 403, not 401.
        let h = srv.headers(&user, "GET", "/room/other", b"");
        let r = srv.raw("GET", "/room/lobby", &h, b"").await;
        assert_eq!(r.status, 403);
        // Room ban: the room looks nonexistent.
        let roomban = User::new();
        srv.store
            .ban(Scope::Room("lobby"), &roomban.id(&srv), None, srv.now())
            .unwrap();
        assert_eq!(srv.get(Some(&roomban), "/room/lobby").await.0, 404);
        assert_eq!(srv.post_msg(&roomban, b"x").await.0, 404);
    }
}

// ---- messages ----

#[tokio::test]
async fn post_poll_edit_delete() {
    for srv in servers().await {
        let alice = User::new();
        let bob = User::new();

        let (code, m1) = srv.post_msg(&alice, b"hello\x80\0\0").await;
        assert_eq!(code, 201);
        assert_eq!(m1["session_id"], alice.id(&srv).to_hex());
        assert_eq!(m1["data"], STANDARD.encode(b"hello\x80\0\0"));
        assert_eq!(m1["signature"], STANDARD.encode([7u8; 64]));
        assert_eq!(m1["reactions"], json!({}));
        assert_eq!(m1["seqno"], 1);
        assert!(m1["posted"].is_f64());
        assert!(m1.get("edited").is_none());
        assert!(m1.get("whisper").is_none());
        let id1 = m1["id"].as_i64().unwrap();
        srv.clock.advance(Duration::from_secs(1));
        let (_, m2) = srv.post_msg(&bob, b"second").await;
        let id2 = m2["id"].as_i64().unwrap();

        // Polling.
        let (code, list) = srv.get(None, "/room/lobby/messages/since/0").await;
        assert_eq!(code, 200);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(list[0]["id"], id1);
        assert_eq!(list[1]["id"], id2);
        let (_, list) = srv.get(None, "/room/lobby/messages/since/1").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (_, list) = srv.get(None, "/room/lobby/messages/since/0?limit=1").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (_, list) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(list[0]["id"], id2);
        assert_eq!(list[1]["id"], id1);
        let (_, list) = srv
            .get(None, &format!("/room/lobby/messages/before/{id2}"))
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["id"], id1);
        let (code, one) = srv.get(None, &format!("/room/lobby/message/{id1}")).await;
        assert_eq!(code, 200);
        assert_eq!(one["data"], m1["data"]);
        assert_eq!(srv.get(None, "/room/lobby/message/999").await.0, 404);
        assert_eq!(
            srv.get(None, "/room/lobby/messages/since/0?limit=x")
                .await
                .0,
            400
        );
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert_eq!(info["message_sequence"], 2);

        // Edits: author only.
        let edit = json!({"data": STANDARD.encode(b"hello again"), "signature": STANDARD.encode([8u8; 64])});
        let path = format!("/room/lobby/message/{id1}");
        assert_eq!(srv.send(Some(&bob), "PUT", &path, &edit).await.0, 403);
        assert_eq!(srv.send(None, "PUT", &path, &edit).await.0, 401);
        let (code, body) = srv.send(Some(&alice), "PUT", &path, &edit).await;
        assert_eq!((code, body), (200, json!({})));
        let (_, list) = srv.get(None, "/room/lobby/messages/since/2").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["data"], STANDARD.encode(b"hello again"));
        assert_eq!(list[0]["seqno"], 3);
        assert!(list[0]["edited"].is_f64());
        assert_eq!(
            srv.send(Some(&alice), "PUT", "/room/lobby/message/999", &edit)
                .await
                .0,
            404
        );

        // Deletion: another non-mod may not; the author may; a mod may.
        let r = srv.call(Some(&bob), "DELETE", &path, b"").await;
        assert_eq!(r.status, 403);
        let r = srv.call(Some(&alice), "DELETE", &path, b"").await;
        assert_eq!((r.status, json_of(&r)), (200, json!({})));
        let r = srv.call(Some(&alice), "DELETE", &path, b"").await;
        assert_eq!(r.status, 404);
        let (_, list) = srv.get(None, "/room/lobby/messages/since/3").await;
        let tomb = &list[0];
        assert_eq!(tomb["id"], id1);
        assert_eq!(tomb["deleted"], true);
        assert_eq!(tomb["data"], Value::Null);
        assert!(tomb.get("signature").is_none());
        assert!(tomb.get("reactions").is_none());
        assert!(tomb["edited"].is_f64());
        assert_eq!(srv.get(None, &path).await.0, 404);
        let (_, list) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let m = User::new();
        srv.make_mod(&m, "lobby", false);
        let r = srv
            .call(
                Some(&m),
                "DELETE",
                &format!("/room/lobby/message/{id2}"),
                b"",
            )
            .await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn post_input_and_permission_errors() {
    for srv in servers().await {
        let user = User::new();
        let path = "/room/lobby/message";
        // Malformed JSON.
        let r = srv.call(Some(&user), "POST", path, b"{not json").await;
        assert_eq!(r.status, 400);
        // Bad base64, short signature, missing data.
        for body in [
            json!({"data": "!!!", "signature": STANDARD.encode([0u8; 64])}),
            json!({"data": "aGk", "signature": STANDARD.encode([0u8; 63])}),
            json!({"signature": STANDARD.encode([0u8; 64])}),
        ] {
            assert_eq!(srv.send(Some(&user), "POST", path, &body).await.0, 400);
        }
        // Unpadded base64 is fine.
        let body =
            json!({"data": "aGk", "signature": STANDARD.encode([0u8; 64]).trim_end_matches('=')});
        assert_eq!(srv.send(Some(&user), "POST", path, &body).await.0, 201);
        // Unknown room.
        assert_eq!(
            srv.send(Some(&user), "POST", "/room/nope/message", &body)
                .await
                .0,
            404
        );
        // Without write.
        let muted = User::new();
        srv.store
            .set_permissions(
                "lobby",
                &muted.id(&srv),
                &PermissionChange {
                    write: Setting::Set(false),
                    ..PermissionChange::default()
                },
                srv.now(),
            )
            .unwrap();
        let (code, _) = srv.post_msg(&muted, b"x").await;
        assert_eq!(code, 403);
        // Oversize body.
        let huge = vec![b' '; 17 * 1024 * 1024];
        let r = srv.raw("POST", path, &[], &huge).await;
        assert_eq!(r.status, 413);
    }
}

#[tokio::test]
async fn whispers_need_a_moderator() {
    for srv in servers().await {
        let user = User::new();
        let target = User::new();
        let m = User::new();
        srv.make_mod(&m, "lobby", false);
        let body = json!({
            "data": STANDARD.encode(b"psst"),
            "signature": STANDARD.encode([1u8; 64]),
            "whisper_to": target.id(&srv).to_hex(),
        });
        assert_eq!(
            srv.send(Some(&user), "POST", "/room/lobby/message", &body)
                .await
                .0,
            403
        );
        let (code, w) = srv
            .send(Some(&m), "POST", "/room/lobby/message", &body)
            .await;
        assert_eq!(code, 201);
        assert_eq!(w["whisper"], true);
        assert_eq!(w["whisper_mods"], false);
        assert_eq!(w["whisper_to"], target.id(&srv).to_hex());
        // Visible to the target, not to others or anonymous callers.
        let (_, list) = srv.get(Some(&target), "/room/lobby/messages/recent").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (_, list) = srv.get(Some(&user), "/room/lobby/messages/recent").await;
        assert_eq!(list, json!([]));
        let (_, list) = srv.get(None, "/room/lobby/messages/since/0").await;
        assert_eq!(list, json!([]));
    }
}

#[tokio::test]
async fn rate_limit_five_per_sixteen_seconds() {
    for srv in servers().await {
        let user = User::new();
        for i in 0..5 {
            assert_eq!(srv.post_msg(&user, &[b'a' + i]).await.0, 201);
        }
        let r = srv
            .call(
                Some(&user),
                "POST",
                "/room/lobby/message",
                json!({"data": "aGk=", "signature": STANDARD.encode([0u8; 64])})
                    .to_string()
                    .as_bytes(),
            )
            .await;
        assert_eq!(r.status, 429);
        assert_eq!(r.text(), "Rate limited");
        srv.clock.advance(Duration::from_secs(17));
        assert_eq!(srv.post_msg(&user, b"later").await.0, 201);

        // Admins are not limited.
        let admin = User::new();
        srv.make_mod(&admin, "lobby", true);
        for _ in 0..7 {
            assert_eq!(srv.post_msg(&admin, b"admin").await.0, 201);
        }

        let custom = another(
            &srv,
            SogsSettings {
                rate_limit: RateLimit {
                    posts: 1,
                    interval: 60.0,
                },
                ..SogsSettings::default()
            },
        )
        .await;
        assert_eq!(custom.post_msg(&user, b"1").await.0, 201);
        assert_eq!(custom.post_msg(&user, b"2").await.0, 429);
    }
}

#[tokio::test]
async fn reactions() {
    for srv in servers().await {
        let alice = User::new();
        let bob = User::new();
        let (_, m) = srv.post_msg(&alice, b"react to me").await;
        let id = m["id"].as_i64().unwrap();
        let seq0 = m["seqno"].as_i64().unwrap();
        let eggplant = format!("/room/lobby/reaction/{id}/%F0%9F%8D%86");

        assert_eq!(srv.send(None, "PUT", &eggplant, &json!({})).await.0, 401);
        let (code, body) = srv.send(Some(&bob), "PUT", &eggplant, &json!({})).await;
        assert_eq!(code, 200);
        assert_eq!(body["added"], true);
        let seq1 = body["seqno"].as_i64().unwrap();
        assert!(seq1 > seq0);
        let (_, body) = srv.send(Some(&bob), "PUT", &eggplant, &json!({})).await;
        assert_eq!(body["added"], false);
        let (_, body) = srv
            .send(
                Some(&alice),
                "PUT",
                &format!("/room/lobby/reaction/{id}/a/b"),
                &json!({}),
            )
            .await;
        assert_eq!(body["added"], true);

        // Reaction-only update with t=r; nothing without it.
        let (_, list) = srv
            .get(
                Some(&bob),
                &format!("/room/lobby/messages/since/{seq0}?t=r"),
            )
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let u = &list[0];
        assert_eq!(u.as_object().unwrap().len(), 3, "{u}");
        assert_eq!(u["id"], id);
        let r = &u["reactions"]["🍆"];
        assert_eq!(r["index"], 0);
        assert_eq!(r["count"], 1);
        assert_eq!(r["reactors"], json!([bob.id(&srv).to_hex()]));
        assert_eq!(r["you"], true);
        assert_eq!(u["reactions"]["a/b"]["index"], 1);
        assert!(u["reactions"]["a/b"].get("you").is_none());
        let (_, list) = srv
            .get(None, &format!("/room/lobby/messages/since/{seq0}"))
            .await;
        assert_eq!(list, json!([]));
        let (_, one) = srv
            .get(None, &format!("/room/lobby/message/{id}?reactors=0"))
            .await;
        assert!(one["reactions"]["🍆"].get("reactors").is_none());

        // Reactors list.
        let (code, who) = srv
            .get(None, &format!("/room/lobby/reactors/{id}/%F0%9F%8D%86"))
            .await;
        assert_eq!(code, 200);
        assert_eq!(who[0][0], bob.id(&srv).to_hex());
        assert!(who[0][1].is_f64());

        // Bad reactions and missing messages.
        let long = "x".repeat(13);
        assert_eq!(
            srv.send(
                Some(&bob),
                "PUT",
                &format!("/room/lobby/reaction/{id}/{long}"),
                &json!({})
            )
            .await
            .0,
            400
        );
        assert_eq!(
            srv.send(Some(&bob), "PUT", "/room/lobby/reaction/999/x", &json!({}))
                .await
                .0,
            404
        );

        // Removing one's own.
        let r = srv.call(Some(&bob), "DELETE", &eggplant, b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["removed"], true);
        let r = srv.call(Some(&bob), "DELETE", &eggplant, b"").await;
        assert_eq!(json_of(&r)["removed"], false);

        // Clearing is for moderators.
        let clear = format!("/room/lobby/reactions/{id}");
        assert_eq!(
            srv.call(Some(&bob), "DELETE", &clear, b"").await.status,
            403
        );
        assert_eq!(srv.call(None, "DELETE", &clear, b"").await.status, 401);
        let m = User::new();
        srv.make_mod(&m, "lobby", false);
        let r = srv.call(Some(&m), "DELETE", &clear, b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["removed"], 1);
        let (_, one) = srv.get(None, &format!("/room/lobby/message/{id}")).await;
        assert_eq!(one["reactions"], json!({}));
    }
}

#[tokio::test]
async fn pins() {
    for srv in servers().await {
        let alice = User::new();
        let admin = User::new();
        srv.make_mod(&admin, "lobby", true);
        let (_, m) = srv.post_msg(&alice, b"pin me").await;
        let id = m["id"].as_i64().unwrap();
        let pin = format!("/room/lobby/pin/{id}");
        assert_eq!(srv.call(None, "POST", &pin, b"").await.status, 403);
        assert_eq!(srv.call(Some(&alice), "POST", &pin, b"").await.status, 403);
        let (_, before) = srv.get(None, "/room/lobby").await;
        let r = srv.call(Some(&admin), "POST", &pin, b"").await;
        assert_eq!(r.status, 200);
        let iu = json_of(&r)["info_updates"].as_i64().unwrap();
        assert!(iu > before["info_updates"].as_i64().unwrap());
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert_eq!(info["pinned_messages"][0]["id"], id);
        assert_eq!(
            info["pinned_messages"][0]["pinned_by"],
            admin.id(&srv).to_hex()
        );
        assert!(info["pinned_messages"][0]["pinned_at"].is_f64());
        assert_eq!(
            srv.call(Some(&admin), "POST", "/room/lobby/pin/999", b"")
                .await
                .status,
            404
        );

        let r = srv
            .call(
                Some(&admin),
                "POST",
                &format!("/room/lobby/unpin/{id}"),
                b"",
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["unpinned"], true);
        let r = srv
            .call(
                Some(&admin),
                "POST",
                &format!("/room/lobby/unpin/{id}"),
                b"",
            )
            .await;
        assert_eq!(json_of(&r)["unpinned"], false);
        srv.call(Some(&admin), "POST", &pin, b"").await;
        let r = srv
            .call(Some(&admin), "POST", "/room/lobby/unpin/all", b"")
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["unpinned"], 1);
        assert!(json_of(&r)["info_updates"].is_i64());
        assert_eq!(
            srv.call(Some(&alice), "POST", "/room/lobby/unpin/all", b"")
                .await
                .status,
            403
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_shutdown() {
    for srv in servers().await {
        assert_eq!(srv.get(None, "/nothing/here").await.0, 404);
        assert_eq!(srv.get(None, "/room/lobby/message/-3").await.0, 404);
        srv.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), srv.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

// ---- content filter ----

fn padded_post(body: &str) -> Vec<u8> {
    use session_wire::proto::session::{Content, DataMessage};
    let content = Content {
        data_message: Some(DataMessage {
            body: Some(body.to_owned()),
            ..DataMessage::default()
        }),
        ..Content::default()
    };
    let mut bytes = session_wire::message::encode_content(&content);
    bytes.push(0x80);
    bytes.extend([0u8; 9]);
    bytes
}

#[tokio::test]
async fn content_filter() {
    use session_sogs::server::filter::{Alphabet, WordFilter};
    use std::sync::Arc;
    for base in servers().await {
        for silent in [false, true] {
            let filter = WordFilter {
                words: vec!["spam".into()],
                alphabets: vec![Alphabet::Cyrillic],
                silent,
                filter_mods: false,
            };
            let srv = another(
                &base,
                SogsSettings {
                    filter: Some(Arc::new(filter)),
                    ..SogsSettings::default()
                },
            )
            .await;
            let user = User::new();
            let m = User::new();
            srv.make_mod(&m, "lobby", false);
            let (code, ok) = srv.post_msg(&user, &padded_post("fine text")).await;
            assert_eq!(code, 201, "{}", srv.backend);
            assert!(ok.get("filtered").is_none());
            for bad in ["buy SPAM now", "привет"] {
                let (code, msg) = srv.post_msg(&user, &padded_post(bad)).await;
                if silent {
                    assert_eq!(code, 201);
                    assert_eq!(msg["filtered"], true);
                } else {
                    assert_eq!(code, 429, "{bad}");
                }
            }
            // Nobody else sees silently filtered posts.
            let (_, list) = srv.get(None, "/room/lobby/messages/since/0").await;
            assert_eq!(list.as_array().unwrap().len(), 1);
            // Moderators are spared.
            assert_eq!(srv.post_msg(&m, &padded_post("spam")).await.0, 201);
            // Edits are refused either way.
            let id = ok["id"].as_i64().unwrap();
            let edit = json!({"data": STANDARD.encode(padded_post("spam")), "signature": STANDARD.encode([1u8; 64])});
            let path = format!("/room/lobby/message/{id}");
            assert_eq!(srv.send(Some(&user), "PUT", &path, &edit).await.0, 429);
            let edit = json!({"data": STANDARD.encode(padded_post("ok")), "signature": STANDARD.encode([1u8; 64])});
            assert_eq!(srv.send(Some(&user), "PUT", &path, &edit).await.0, 200);
        }
    }
}
