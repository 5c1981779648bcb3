#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Room files over real HTTP on every backend (§5.4): uploads with file names, the
//! download headers, permissions, size limit, expiry, and room images (`PUT /room`).

mod common;

use std::time::Duration;

use common::{User, another, json_of, servers};
use serde_json::json;
use session_sogs::server::SogsSettings;
use session_sogs::store::{PermissionChange, RoomDefaults, Setting};

const OCTET: (&str, &str) = ("content-type", "application/octet-stream");

#[tokio::test]
async fn upload_and_download_with_headers() {
    for srv in servers().await {
        let alice = User::new();
        let data = b"\x00\x01binary\xff".to_vec();
        // Anonymous uploads are refused.
        let r = srv
            .call_with(None, "POST", "/room/lobby/file", &[OCTET], &data)
            .await;
        assert_eq!(r.status, 401, "{}", srv.backend);

        let disp = (
            "content-disposition",
            "attachment; filename*=UTF-8''%F0%9F%8E%82 cake.txt",
        );
        let r = srv
            .call_with(
                Some(&alice),
                "POST",
                "/room/lobby/file",
                &[OCTET, disp],
                &data,
            )
            .await;
        assert_eq!(r.status, 201);
        let body = json_of(&r);
        let id = body["id"].as_i64().expect("integer id");
        assert_eq!(body.as_object().unwrap().len(), 1);

        for path in [
            format!("/room/lobby/file/{id}"),
            format!("/room/LOBBY/file/{id}/whatever.txt"),
        ] {
            let r = srv.call(None, "GET", &path, b"").await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(&r.body[..], &data[..]);
            assert_eq!(r.header("content-type"), Some("application/octet-stream"));
            assert_eq!(r.header("content-length"), Some("9"));
            assert_eq!(
                r.header("content-disposition"),
                Some("attachment; filename*=UTF-8''%F0%9F%8E%82%20cake.txt")
            );
            assert_eq!(r.header("date"), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
            // Unattached uploads live one hour.
            assert_eq!(r.header("expires"), Some("Tue, 14 Nov 2023 23:13:20 GMT"));
        }

        // A quoted file name; no file name.
        let r = srv
            .call_with(
                Some(&alice),
                "POST",
                "/room/lobby/file",
                &[
                    OCTET,
                    ("content-disposition", "attachment; filename=\"a b.png\""),
                ],
                b"png",
            )
            .await;
        let id2 = json_of(&r)["id"].as_i64().unwrap();
        let r = srv
            .call(None, "GET", &format!("/room/lobby/file/{id2}"), b"")
            .await;
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename*=UTF-8''a%20b.png")
        );
        let r = srv
            .call_with(Some(&alice), "POST", "/room/lobby/file", &[OCTET], b"x")
            .await;
        let id3 = json_of(&r)["id"].as_i64().unwrap();
        let r = srv
            .call(None, "GET", &format!("/room/lobby/file/{id3}"), b"")
            .await;
        assert_eq!(r.header("content-disposition"), Some("attachment"));

        // Unknown file, unknown room, negative id.
        assert_eq!(
            srv.call(None, "GET", "/room/lobby/file/99999", b"")
                .await
                .status,
            404
        );
        assert_eq!(
            srv.call(None, "GET", &format!("/room/nope/file/{id}"), b"")
                .await
                .status,
            404
        );
        assert_eq!(
            srv.call(None, "GET", "/room/lobby/file/-1", b"")
                .await
                .status,
            404
        );
        let r = srv
            .call_with(Some(&alice), "POST", "/room/nope/file", &[OCTET], b"x")
            .await;
        assert_eq!(r.status, 404);

        // A file of another room is not found through this one.
        srv.add_room("other", RoomDefaults::default());
        assert_eq!(
            srv.call(None, "GET", &format!("/room/other/file/{id}"), b"")
                .await
                .status,
            404
        );

        // After an hour unattached uploads are gone (even before cleanup).
        srv.clock.advance(Duration::from_secs(3601));
        assert_eq!(
            srv.call(None, "GET", &format!("/room/lobby/file/{id}"), b"")
                .await
                .status,
            404
        );
    }
}

#[tokio::test]
async fn upload_permissions_and_limits() {
    for srv in servers().await {
        let user = User::new();
        // No upload permission → 403; no write → 403.
        for change in [
            PermissionChange {
                upload: Setting::Set(false),
                ..PermissionChange::default()
            },
            PermissionChange {
                upload: Setting::Clear,
                write: Setting::Set(false),
                ..PermissionChange::default()
            },
        ] {
            srv.store
                .set_permissions("lobby", &user.id(&srv), &change, srv.now())
                .unwrap();
            let r = srv
                .call_with(Some(&user), "POST", "/room/lobby/file", &[OCTET], b"x")
                .await;
            assert_eq!(r.status, 403, "{}", srv.backend);
        }
        // Readable rooms only: accessible-but-unreadable → 403 on download.
        srv.add_room(
            "locked",
            RoomDefaults {
                read: false,
                accessible: true,
                write: true,
                upload: true,
            },
        );
        let uploader = User::new();
        let r = srv
            .call_with(Some(&uploader), "POST", "/room/locked/file", &[OCTET], b"x")
            .await;
        assert_eq!(r.status, 201);
        let id = json_of(&r)["id"].as_i64().unwrap();
        assert_eq!(
            srv.call(None, "GET", &format!("/room/locked/file/{id}"), b"")
                .await
                .status,
            403
        );

        // The size limit.
        let small = another(
            &srv,
            SogsSettings {
                max_upload: 100,
                ..SogsSettings::default()
            },
        )
        .await;
        let r = small
            .call_with(
                Some(&user),
                "POST",
                "/room/lobby/file",
                &[OCTET],
                &[1u8; 100],
            )
            .await;
        assert_eq!(r.status, 201);
        let r = small
            .call_with(
                Some(&user),
                "POST",
                "/room/lobby/file",
                &[OCTET],
                &[1u8; 101],
            )
            .await;
        assert_eq!(r.status, 413);
    }
}

#[tokio::test]
async fn room_image_and_attachment_expiry() {
    for srv in servers().await {
        let admin = User::new();
        let user = User::new();
        srv.make_mod(&admin, "lobby", true);
        let r = srv
            .call_with(Some(&admin), "POST", "/room/lobby/file", &[OCTET], b"img")
            .await;
        let img = json_of(&r)["id"].as_i64().unwrap();
        let (_, before) = srv.get(None, "/room/lobby").await;
        let iu = before["info_updates"].as_i64().unwrap();

        // Not admin: 403; anonymous: 401.
        let body = json!({"image": img});
        assert_eq!(
            srv.send(Some(&user), "PUT", "/room/lobby", &body).await.0,
            403
        );
        assert_eq!(srv.send(None, "PUT", "/room/lobby", &body).await.0, 401);
        // A file that does not exist or is another room's: 406.
        assert_eq!(
            srv.send(
                Some(&admin),
                "PUT",
                "/room/lobby",
                &json!({"image": 987_654})
            )
            .await
            .0,
            406,
            "{}",
            srv.backend
        );
        srv.add_room("other", RoomDefaults::default());
        srv.make_mod(&admin, "other", true);
        let r = srv
            .call_with(Some(&admin), "POST", "/room/other/file", &[OCTET], b"o")
            .await;
        let foreign = json_of(&r)["id"].as_i64().unwrap();
        assert_eq!(
            srv.send(
                Some(&admin),
                "PUT",
                "/room/lobby",
                &json!({"image": foreign})
            )
            .await
            .0,
            406
        );

        let (code, out) = srv.send(Some(&admin), "PUT", "/room/lobby", &body).await;
        assert_eq!(code, 200);
        assert_eq!(out, json!({"info_updates": iu + 1}));
        let (_, info) = srv.get(None, "/room/lobby").await;
        assert_eq!(info["image_id"], img);

        // The image never expires.
        srv.clock.advance(Duration::from_secs(7200));
        let r = srv
            .call(None, "GET", &format!("/room/lobby/file/{img}"), b"")
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("expires"), None);

        // An attached upload lives 15 days from attachment.
        let r = srv
            .call_with(Some(&user), "POST", "/room/lobby/file", &[OCTET], b"att")
            .await;
        let att = json_of(&r)["id"].as_i64().unwrap();
        let (code, _) = srv
            .send(
                Some(&user),
                "POST",
                "/room/lobby/message",
                &json!({"data": "aGk=", "signature": base64_sig(), "files": [att]}),
            )
            .await;
        assert_eq!(code, 201);
        srv.clock.advance(Duration::from_secs(3 * 3600));
        let r = srv
            .call(None, "GET", &format!("/room/lobby/file/{att}"), b"")
            .await;
        assert_eq!(r.status, 200);
        // Attached 2 h after the start: expires 15 days later.
        assert_eq!(r.header("expires"), Some("Thu, 30 Nov 2023 00:13:20 GMT"));
        srv.clock.advance(Duration::from_secs(15 * 86_400));
        let r = srv
            .call(None, "GET", &format!("/room/lobby/file/{att}"), b"")
            .await;
        assert_eq!(r.status, 404);
    }
}

fn base64_sig() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([3u8; 64])
}
