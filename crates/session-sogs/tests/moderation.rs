#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Room administration and moderation over real HTTP on every backend (§5.2, §5.5,
//! §6.4): `PUT /room`, permission overrides and scheduled changes, moderator
//! appointment, bans with timeouts, unbans, and deleting a user's posts.

mod common;

use std::time::Duration;

use common::{User, json_of, servers};
use serde_json::{Value, json};
use session_sogs::store::RoomDefaults;

#[tokio::test]
async fn update_room_info() {
    for srv in servers().await {
        let admin = User::new();
        let m = User::new();
        srv.make_mod(&admin, "lobby", true);
        srv.make_mod(&m, "lobby", false);
        let (_, info) = srv.get(None, "/room/lobby").await;
        let iu = info["info_updates"].as_i64().unwrap();

        let body = json!({"name": "New\u{1}Name", "description": "line1\nline2\t\u{7}!"});
        assert_eq!(srv.send(None, "PUT", "/room/lobby", &body).await.0, 401);
        assert_eq!(srv.send(Some(&m), "PUT", "/room/lobby", &body).await.0, 403);
        assert_eq!(
            srv.send(Some(&admin), "PUT", "/room/nope", &body).await.0,
            404
        );
        let (code, out) = srv.send(Some(&admin), "PUT", "/room/lobby", &body).await;
        assert_eq!(code, 200, "{}", srv.backend);
        assert_eq!(out, json!({"info_updates": iu + 2}));
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert_eq!(info["name"], "NewName");
        assert_eq!(info["description"], "line1\nline2\t!");

        // Default permissions do not bump info_updates.
        let (code, out) = srv
            .send(
                Some(&admin),
                "PUT",
                "/room/lobby",
                &json!({"default_write": false, "default_upload": 0}),
            )
            .await;
        assert_eq!(code, 200);
        assert_eq!(out, json!({"info_updates": iu + 2}));
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert_eq!(info["write"], false);
        assert_eq!(info["upload"], false);
        let (_, info) = srv.get(Some(&m), "/room/lobby").await;
        assert_eq!(info["default_write"], false);
        assert_eq!(info["default_read"], true);

        // An empty description removes it.
        let (code, _) = srv
            .send(
                Some(&admin),
                "PUT",
                "/room/lobby",
                &json!({"description": ""}),
            )
            .await;
        assert_eq!(code, 200);
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert!(info.get("description").is_none());

        // Nothing to change, wrong types, malformed JSON.
        for bad in [
            json!({}),
            json!({"unrelated": 1}),
            json!({"name": 5}),
            json!({"description": []}),
            json!({"image": "x"}),
            json!({"default_read": "yes"}),
            json!([1]),
        ] {
            assert_eq!(
                srv.send(Some(&admin), "PUT", "/room/lobby", &bad).await.0,
                400,
                "{bad}"
            );
        }
        let r = srv.call(Some(&admin), "PUT", "/room/lobby", b"{nope").await;
        assert_eq!(r.status, 400);
    }
}

#[tokio::test]
async fn permission_overrides() {
    for srv in servers().await {
        let m = User::new();
        let user = User::new();
        srv.make_mod(&m, "lobby", false);
        srv.ensure(&user);
        let path = format!("/room/lobby/permissions/{}", user.hex(&srv));

        // Moderators only.
        let body = json!({"write": false, "upload": false, "accessible": true});
        assert_eq!(srv.send(None, "POST", &path, &body).await.0, 401);
        assert_eq!(srv.send(Some(&user), "POST", &path, &body).await.0, 403);
        assert_eq!(srv.get(Some(&user), "/room/lobby/permissions").await.0, 403);
        assert_eq!(
            srv.send(Some(&m), "POST", "/room/nope/permissions/x", &body)
                .await
                .0,
            404
        );
        // Not a Session ID (and 05 ids do not match when blinding is required).
        assert_eq!(
            srv.send(Some(&m), "POST", "/room/lobby/permissions/15abc", &body)
                .await
                .0,
            404
        );
        let plain = format!("/room/lobby/permissions/05{}", "ab".repeat(32));
        assert_eq!(srv.send(Some(&m), "POST", &plain, &body).await.0, 404);

        let (code, out) = srv.send(Some(&m), "POST", &path, &body).await;
        assert_eq!(code, 200, "{}", srv.backend);
        assert_eq!(
            out,
            json!({"write": false, "upload": false, "accessible": true})
        );
        assert_eq!(srv.post_msg(&user, b"muted").await.0, 403);
        let (_, info) = srv.get(Some(&user), "/room/lobby").await;
        assert_eq!(info["write"], false);

        let (code, all) = srv.get(Some(&m), "/room/lobby/permissions").await;
        assert_eq!(code, 200);
        assert_eq!(all[user.hex(&srv)], out);
        // The moderator's own row shows as a moderator.
        assert_eq!(all[m.hex(&srv)], json!({"moderator": true}));
        let (code, one) = srv.get(Some(&m), &path).await;
        assert_eq!((code, one), (200, out));

        // Clearing overrides; setting and clearing the same one is a 400.
        let (code, out) = srv
            .send(
                Some(&m),
                "POST",
                &path,
                &json!({"default_write": true, "default_upload": true}),
            )
            .await;
        assert_eq!(code, 200);
        assert_eq!(out, json!({"accessible": true}));
        assert_eq!(srv.post_msg(&user, b"free").await.0, 201);
        let (code, _) = srv
            .send(
                Some(&m),
                "POST",
                &path,
                &json!({"read": false, "default_read": true}),
            )
            .await;
        assert_eq!(code, 400);
        assert_eq!(
            srv.send(Some(&m), "POST", &path, &json!({"read": "no"}))
                .await
                .0,
            400
        );
        let (code, out) = srv
            .send(
                Some(&m),
                "POST",
                &path,
                &json!({"default_accessible": true}),
            )
            .await;
        assert_eq!((code, out), (200, json!({})));
        let (code, out) = srv.get(Some(&m), &path).await;
        assert_eq!((code, out), (200, json!({})));

        // Read override: the room becomes unreadable (403) but stays accessible.
        let (code, _) = srv
            .send(Some(&m), "POST", &path, &json!({"read": false}))
            .await;
        assert_eq!(code, 200);
        assert_eq!(
            srv.get(Some(&user), "/room/lobby/messages/recent").await.0,
            403
        );
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 200);
    }
}

#[tokio::test]
async fn future_permissions() {
    for srv in servers().await {
        let m = User::new();
        let user = User::new();
        srv.make_mod(&m, "lobby", false);
        srv.ensure(&user);
        let hex = user.hex(&srv);
        let path = format!("/room/lobby/permissions/{hex}");
        let fpath = format!("/room/lobby/futurePermissions/{hex}");
        // A timed mute: write=false now, write=true in 60 s.
        srv.send(Some(&m), "POST", &path, &json!({"write": false}))
            .await;
        assert_eq!(
            srv.send(
                Some(&user),
                "POST",
                &fpath,
                &json!({"write": true, "in": 60})
            )
            .await
            .0,
            403
        );
        for bad in [
            json!({"in": 60}),
            json!({"write": true}),
            json!({"write": true, "in": 0}),
            json!({"write": true, "in": 1e9}),
            json!({"write": true, "in": "soon"}),
        ] {
            assert_eq!(
                srv.send(Some(&m), "POST", &fpath, &bad).await.0,
                400,
                "{bad}"
            );
        }
        let (code, list) = srv
            .send(Some(&m), "POST", &fpath, &json!({"write": true, "in": 60}))
            .await;
        assert_eq!(code, 200, "{}", srv.backend);
        let at = srv.now() + 60.0;
        assert_eq!(list, json!([{"at": at, "write": true}]));
        let (code, all) = srv.get(Some(&m), "/room/lobby/futurePermissions").await;
        assert_eq!(code, 200);
        assert_eq!(all, json!([{"session_id": hex, "at": at, "write": true}]));
        assert_eq!(srv.get(None, "/room/lobby/futurePermissions").await.0, 401);
        let (_, one) = srv.get(Some(&m), &fpath).await;
        assert_eq!(one, list);

        assert_eq!(srv.post_msg(&user, b"x").await.0, 403);
        srv.clock.advance(Duration::from_secs(61));
        srv.store.cleanup(srv.now()).unwrap();
        assert_eq!(srv.post_msg(&user, b"x").await.0, 201);
        let (_, list) = srv.get(Some(&m), &fpath).await;
        assert_eq!(list, json!([]));
    }
}

fn tokens(info: &Value, key: &str) -> Vec<String> {
    info[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn appointing_moderators() {
    for srv in servers().await {
        let admin = User::new();
        let m = User::new();
        let user = User::new();
        srv.make_mod(&admin, "lobby", true);
        srv.make_mod(&m, "lobby", false);
        srv.add_room("other", RoomDefaults::default());
        let path = format!("/user/{}/moderator", user.hex(&srv));
        let (_, info) = srv.get(None, "/room/lobby").await;
        let iu = info["info_updates"].as_i64().unwrap();

        let make = json!({"rooms": ["lobby"], "global": false, "visible": true, "admin": false, "moderator": true});
        assert_eq!(srv.send(None, "POST", &path, &make).await.0, 401);
        assert_eq!(srv.send(Some(&m), "POST", &path, &make).await.0, 403);
        // Unknown tokens and rooms where the caller is not admin: 403.
        let bad_room = json!({"rooms": ["lobby", "nope"], "moderator": true});
        assert_eq!(
            srv.send(Some(&admin), "POST", &path, &bad_room).await.0,
            403
        );
        let not_admin = json!({"rooms": ["other"], "moderator": true});
        assert_eq!(
            srv.send(Some(&admin), "POST", &path, &not_admin).await.0,
            403
        );
        // Global changes need a global admin.
        let global = json!({"global": true, "moderator": true});
        assert_eq!(srv.send(Some(&admin), "POST", &path, &global).await.0, 403);
        // Malformed.
        for bad in [
            json!({"rooms": ["lobby"]}),
            json!({"rooms": ["lobby"], "moderator": null, "admin": null}),
            json!({"rooms": ["lobby"], "admin": true, "moderator": false}),
            json!({"rooms": ["lobby"], "global": true, "moderator": true}),
            json!({"moderator": true}),
            json!({"rooms": [], "moderator": true}),
            json!({"rooms": "lobby", "moderator": true}),
            json!({"rooms": ["*", "lobby"], "moderator": true}),
            json!({"rooms": ["lobby"], "moderator": "yes"}),
        ] {
            assert_eq!(
                srv.send(Some(&admin), "POST", &path, &bad).await.0,
                400,
                "{bad}"
            );
        }
        assert_eq!(
            srv.send(Some(&admin), "POST", "/user/zz/moderator", &make)
                .await
                .0,
            404
        );

        let (code, out) = srv.send(Some(&admin), "POST", &path, &make).await;
        assert_eq!(code, 200, "{}", srv.backend);
        assert_eq!(out, json!({"info_updates": {"lobby": iu + 1}}));
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert!(tokens(&info, "moderators").contains(&user.hex(&srv)));
        // Promote to admin, hidden; "*" = every room where the caller is admin.
        let (code, _) = srv
            .send(
                Some(&admin),
                "POST",
                &path,
                &json!({"rooms": ["*"], "admin": true, "visible": false}),
            )
            .await;
        assert_eq!(code, 200);
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert!(!tokens(&info, "moderators").contains(&user.hex(&srv)));
        assert!(!tokens(&info, "admins").contains(&user.hex(&srv)));
        let (_, info) = srv.get(Some(&m), "/room/lobby").await;
        assert!(tokens(&info, "hidden_admins").contains(&user.hex(&srv)));
        let (_, info) = srv.get(Some(&user), "/room/lobby").await;
        assert_eq!(info["admin"], true);
        // Remove entirely.
        let (code, _) = srv
            .send(
                Some(&admin),
                "POST",
                &path,
                &json!({"rooms": ["lobby"], "moderator": false}),
            )
            .await;
        assert_eq!(code, 200);
        let (_, info) = srv.get(Some(&user), "/room/lobby").await;
        assert!(info.get("moderator").is_none());

        // A global admin appoints a global moderator: every room's info_updates moves.
        let boss = User::new();
        srv.make_global_mod(&boss, true);
        let (code, out) = srv.send(Some(&boss), "POST", &path, &global).await;
        assert_eq!(code, 200);
        let updates = out["info_updates"].as_object().unwrap();
        assert_eq!(updates.len(), 2);
        assert!(updates.contains_key("lobby") && updates.contains_key("other"));
        let (_, info) = srv.get(Some(&user), "/room/other").await;
        assert_eq!(info["global_moderator"], true);
        assert_eq!(info["moderator"], true);
        // Global moderators are hidden by default.
        let (_, info) = srv.get(None, "/room/other").await;
        assert!(!tokens(&info, "moderators").contains(&user.hex(&srv)));
    }
}

#[tokio::test]
async fn bans_and_unbans() {
    for srv in servers().await {
        let admin = User::new();
        let m = User::new();
        let m2 = User::new();
        let user = User::new();
        let gmod = User::new();
        srv.make_mod(&admin, "lobby", true);
        srv.make_mod(&m, "lobby", false);
        srv.make_mod(&m2, "lobby", false);
        srv.make_global_mod(&gmod, false);
        srv.add_room("other", RoomDefaults::default());
        let ban = |u: &User| format!("/user/{}/ban", u.hex(&srv));
        let lobby = json!({"rooms": ["lobby"]});

        assert_eq!(srv.send(None, "POST", &ban(&user), &lobby).await.0, 401);
        assert_eq!(srv.send(Some(&user), "POST", &ban(&m), &lobby).await.0, 403);
        // Cannot ban oneself, a global moderator, or (unless admin) a moderator.
        assert_eq!(srv.send(Some(&m), "POST", &ban(&m), &lobby).await.0, 403);
        assert_eq!(srv.send(Some(&m), "POST", &ban(&gmod), &lobby).await.0, 403);
        assert_eq!(srv.send(Some(&m), "POST", &ban(&m2), &lobby).await.0, 403);
        // Unknown rooms, rooms the caller does not moderate.
        let other = json!({"rooms": ["other"]});
        assert_eq!(srv.send(Some(&m), "POST", &ban(&user), &other).await.0, 403);
        let nope = json!({"rooms": ["nope"]});
        assert_eq!(srv.send(Some(&m), "POST", &ban(&user), &nope).await.0, 403);
        // Global bans need a global moderator.
        let global = json!({"global": true});
        assert_eq!(
            srv.send(Some(&admin), "POST", &ban(&user), &global).await.0,
            403
        );
        for bad in [
            json!({"rooms": ["lobby"], "timeout": "1h"}),
            json!({"rooms": ["lobby"], "timeout": -5}),
            json!({}),
        ] {
            assert_eq!(
                srv.send(Some(&m), "POST", &ban(&user), &bad).await.0,
                400,
                "{bad}"
            );
        }

        // A timed room ban.
        assert_eq!(srv.post_msg(&user, b"before").await.0, 201);
        let (code, out) = srv
            .send(
                Some(&m),
                "POST",
                &ban(&user),
                &json!({"rooms": ["lobby"], "timeout": 600}),
            )
            .await;
        assert_eq!((code, out), (200, json!({})), "{}", srv.backend);
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 404);
        assert_eq!(srv.post_msg(&user, b"banned").await.0, 404);
        let (_, futures) = srv.get(Some(&m), "/room/lobby/futurePermissions").await;
        assert_eq!(futures[0]["session_id"], user.hex(&srv));
        assert_eq!(futures[0]["banned"], false);
        let (_, perms) = srv
            .get(
                Some(&m),
                &format!("/room/lobby/permissions/{}", user.hex(&srv)),
            )
            .await;
        assert_eq!(perms, json!({"banned": true}));
        // Messages are kept.
        let (_, msgs) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(msgs.as_array().unwrap().len(), 1);
        srv.clock.advance(Duration::from_secs(601));
        srv.store.cleanup(srv.now()).unwrap();
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 200);

        // Permanent ban, then unban.
        let (code, _) = srv.send(Some(&m), "POST", &ban(&user), &lobby).await;
        assert_eq!(code, 200);
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 404);
        let unban = format!("/user/{}/unban", user.hex(&srv));
        assert_eq!(srv.send(Some(&user), "POST", &unban, &lobby).await.0, 403);
        let (code, out) = srv.send(Some(&m), "POST", &unban, &lobby).await;
        assert_eq!((code, out), (200, json!({})));
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 200);

        // An admin may ban a moderator (who loses the moderator flag).
        let (code, _) = srv.send(Some(&admin), "POST", &ban(&m2), &lobby).await;
        assert_eq!(code, 200);
        assert_eq!(srv.get(Some(&m2), "/room/lobby").await.0, 404);

        // A global ban: 403 Banned on every authenticated request; room bans are separate.
        let (code, _) = srv.send(Some(&gmod), "POST", &ban(&user), &global).await;
        assert_eq!(code, 200);
        let r = srv.call(Some(&user), "GET", "/room/lobby", b"").await;
        assert_eq!((r.status, r.text().as_str()), (403, "Banned"));
        let (code, _) = srv.send(Some(&gmod), "POST", &unban, &global).await;
        assert_eq!(code, 200);
        assert_eq!(srv.get(Some(&user), "/room/lobby").await.0, 200);
    }
}

#[tokio::test]
async fn deleting_all_posts() {
    for srv in servers().await {
        let admin = User::new();
        let m = User::new();
        let user = User::new();
        let other = User::new();
        srv.make_mod(&admin, "lobby", true);
        srv.make_mod(&m, "lobby", false);
        srv.add_room("second", RoomDefaults::default());
        for _ in 0..2 {
            srv.post_msg(&user, b"spam").await;
        }
        srv.post_to(&user, "second", b"more").await;
        srv.post_msg(&other, b"ham").await;
        srv.post_msg(&admin, b"admin post").await;
        let path = format!("/room/lobby/all/{}", user.hex(&srv));

        assert_eq!(srv.call(None, "DELETE", &path, b"").await.status, 401);
        assert_eq!(
            srv.call(Some(&other), "DELETE", &path, b"").await.status,
            403
        );
        // A moderator may not wipe an admin's posts.
        let admin_path = format!("/room/lobby/all/{}", admin.hex(&srv));
        assert_eq!(
            srv.call(Some(&m), "DELETE", &admin_path, b"").await.status,
            403
        );
        // Unknown user: 404.
        let ghost = format!("/room/lobby/all/15{}", "cd".repeat(32));
        assert_eq!(srv.call(Some(&m), "DELETE", &ghost, b"").await.status, 404);
        assert_eq!(
            srv.call(
                Some(&m),
                "DELETE",
                &format!("/room/nope/all/{}", user.hex(&srv)),
                b""
            )
            .await
            .status,
            404
        );

        let r = srv.call(Some(&m), "DELETE", &path, b"").await;
        assert_eq!((r.status, json_of(&r)), (200, json!({})), "{}", srv.backend);
        let (_, msgs) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(msgs.as_array().unwrap().len(), 2);
        // Nothing left to delete: 404.
        assert_eq!(srv.call(Some(&m), "DELETE", &path, b"").await.status, 404);
        // One's own posts.
        let own = format!("/room/lobby/all/{}", other.hex(&srv));
        assert_eq!(
            srv.call(Some(&other), "DELETE", &own, b"").await.status,
            200
        );

        // Every room where the caller may: the user's own deletion covers both rooms.
        srv.post_msg(&user, b"again").await;
        let everywhere = format!("/rooms/all/{}", user.hex(&srv));
        assert_eq!(srv.call(None, "DELETE", &everywhere, b"").await.status, 401);
        let r = srv.call(Some(&m), "DELETE", &everywhere, b"").await;
        assert_eq!(r.status, 200);
        // The moderator of lobby only reaches lobby.
        assert_eq!(json_of(&r), json!({"total": 1, "rooms": {"lobby": 1}}));
        let r = srv.call(Some(&user), "DELETE", &everywhere, b"").await;
        assert_eq!(
            json_of(&r),
            json!({"total": 1, "rooms": {"lobby": 0, "second": 1}})
        );
        assert_eq!(
            srv.call(
                Some(&m),
                "DELETE",
                &format!("/rooms/all/15{}", "cd".repeat(32)),
                b""
            )
            .await
            .status,
            404
        );
    }
}
