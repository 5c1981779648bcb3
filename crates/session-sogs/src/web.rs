//! The web front page (community-server spec §5.9, §9.3): a room directory and one page
//! per room with its join URL and QR code, for people who found the server's address
//! and want to join from the Session app.
//!
//! * `GET /`: the rooms everyone may read (name, description, active users), or a
//!   "no rooms yet" page telling the operator how to add one; 403 when
//!   `[web] show_index` is off.
//! * `GET /r/{token}`: 308 to `/r/{token}/`.
//! * `GET /r/{token}/`: the room's page: join URL (in a `<pre>`, easy to select and
//!   copy), the QR code inline as SVG, how to join, and the newest messages when
//!   `[web] show_recent` is on (decoded on the server: no JavaScript). 404 for an
//!   unknown room, 403 for a room not readable by default.
//! * `GET /r/{token}/invite.png`: the QR code as a 512×512 PNG.
//!
//! Join URL: `{base_url}/{token}?public_key={64 lowercase hex}` ([`join_url`]).
//!
//! The pages are static HTML with inline CSS; every value from the store is escaped, and
//! a strict `Content-Security-Policy` (no scripts, no external resources) goes with them.
//! These routes never overlap the API's (`/capabilities`, `/rooms`, `/room/…`, …), so
//! [`router`] merges with [`crate::server::router`].

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use qrcode::{Color, QrCode};

use crate::server::Sogs;
use crate::store::{Message, ReadOptions, Room, SogsStore, StoreError};

/// The size of `invite.png`, in pixels.
pub const INVITE_PNG_SIZE: u32 = 512;

/// How many recent messages a room page shows.
pub const RECENT_MESSAGES: usize = 25;

/// White modules around a QR code (the standard's quiet zone).
const QUIET_ZONE: usize = 4;

/// What the web pages need besides the server state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSettings {
    /// The base of join URLs, `http(s)://host[:port]` without a trailing `/`.
    pub base_url: String,
    /// Serve the room directory at `/`.
    pub show_index: bool,
    /// Show recent messages on room pages.
    pub show_recent: bool,
}

/// A room's join URL: `{base_url}/{token}?public_key={hex}`.
pub fn join_url(base_url: &str, token: &str, server_pubkey: &[u8; 32]) -> String {
    format!(
        "{}/{token}?public_key={}",
        base_url.trim_end_matches('/'),
        hex::encode(server_pubkey)
    )
}

#[derive(Clone)]
struct Web {
    sogs: Sogs,
    settings: Arc<WebSettings>,
}

/// The web pages as an axum router, to merge with the API router.
pub fn router(sogs: Sogs, settings: WebSettings) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/r/{token}", get(room_redirect))
        .route("/r/{token}/", get(room_page))
        .route("/r/{token}/invite.png", get(invite_png))
        .with_state(Web {
            sogs,
            settings: Arc::new(settings),
        })
}

// ---- responses ----

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn error_page(status: StatusCode, title: &str, text: &str) -> Response {
    let mut body = String::new();
    page_start(&mut body, title);
    let _ = write!(
        body,
        "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/\">Room directory</a></p>\n",
        escape(title),
        escape(text)
    );
    page_end(&mut body);
    html(status, body)
}

fn internal_error(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!("web page failed: {e}");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not build this page. Try again later.",
    )
}

async fn with_store<T, F>(web: &Web, f: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&dyn SogsStore) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(web.sogs.store());
    match tokio::task::spawn_blocking(move || crate::store::blocking_section(|| f(store.as_ref())))
        .await
    {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal_error(&e)),
        Err(e) => Err(internal_error(&e)),
    }
}

/// The room a web page is about: 404 if unknown, 403 if not readable by default.
async fn readable_room(web: &Web, token: String) -> Result<Room, Response> {
    let room = with_store(web, move |s| s.room(&token)).await?;
    match room {
        None => Err(error_page(
            StatusCode::NOT_FOUND,
            "No such room",
            "This server has no room with that name. Check the link you were given.",
        )),
        Some(r) if !r.defaults.read => Err(error_page(
            StatusCode::FORBIDDEN,
            "Private room",
            "This room is not public. Ask its moderators for an invitation.",
        )),
        Some(r) => Ok(r),
    }
}

// ---- handlers ----

async fn index(State(web): State<Web>) -> Response {
    if !web.settings.show_index {
        return error_page(
            StatusCode::FORBIDDEN,
            "Room directory disabled",
            "The operator of this Session community server does not publish its list of \
             rooms. Use the join link you were given.",
        );
    }
    let rooms = match with_store(&web, |s| s.rooms()).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let any = !rooms.is_empty();
    let public: Vec<Room> = rooms.into_iter().filter(|r| r.defaults.read).collect();
    html(StatusCode::OK, index_html(&public, any))
}

fn index_html(rooms: &[Room], any_room: bool) -> String {
    let mut b = String::new();
    page_start(&mut b, "Session community rooms");
    b.push_str("<h1>Session community rooms</h1>\n");
    if rooms.is_empty() {
        if any_room {
            b.push_str(
                "<p>This server has no public rooms. Use the join link a room's moderators \
                 gave you.</p>\n",
            );
        } else {
            b.push_str(
                "<p>This Session community server is running, but has <strong>no rooms \
                 yet</strong>.</p>\n<p>If you run it, add a room with:</p>\n<pre class=\"url\">\
                 session sogs add-room lobby --name \"Lobby\" --description \"Say hello\"</pre>\n\
                 <p>then reload this page for the room's join link and QR code.</p>\n",
            );
        }
        page_end(&mut b);
        return b;
    }
    b.push_str(
        "<p>Open a room to join it with the <a href=\"https://getsession.org\">Session</a> \
         app.</p>\n<ul class=\"rooms\">\n",
    );
    for room in rooms {
        let _ = write!(
            b,
            "<li><a class=\"room\" href=\"/r/{t}/\"><span class=\"name\">{name}</span>\
             <span class=\"meta\">{users}</span>",
            t = escape(&room.token),
            name = escape(&room.name),
            users = escape(&active_users(room.active_users)),
        );
        if let Some(d) = room.description.as_deref().filter(|d| !d.trim().is_empty()) {
            let _ = write!(b, "<span class=\"desc\">{}</span>", escape(d));
        }
        b.push_str("</a></li>\n");
    }
    b.push_str("</ul>\n");
    page_end(&mut b);
    b
}

fn active_users(n: i64) -> String {
    match n {
        1 => "1 active user".to_owned(),
        n => format!("{n} active users"),
    }
}

async fn room_redirect(Path(token): Path<String>) -> Response {
    // Only a plausible token is echoed into the Location header.
    if crate::store::check_token(&token).is_err() {
        return error_page(
            StatusCode::NOT_FOUND,
            "No such room",
            "This server has no room with that name. Check the link you were given.",
        );
    }
    Redirect::permanent(&format!("/r/{token}/")).into_response()
}

async fn room_page(State(web): State<Web>, Path(token): Path<String>) -> Response {
    let room = match readable_room(&web, token).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let recent = if web.settings.show_recent {
        let t = room.token.clone();
        match with_store(&web, move |s| {
            s.messages_recent(&t, None, RECENT_MESSAGES, &ReadOptions::default())
        })
        .await
        {
            Ok(m) => Some(m),
            Err(resp) => return resp,
        }
    } else {
        None
    };
    let url = join_url(&web.settings.base_url, &room.token, web.sogs.public_key());
    let qr = match QrCode::new(url.as_bytes()) {
        Ok(q) => q,
        Err(e) => return internal_error(&e),
    };
    html(
        StatusCode::OK,
        room_html(&room, &url, &qr_svg(&qr), recent.as_deref()),
    )
}

fn room_html(room: &Room, url: &str, svg: &str, recent: Option<&[Message]>) -> String {
    let mut b = String::new();
    page_start(&mut b, &room.name);
    let _ = write!(
        b,
        "<p class=\"crumb\"><a href=\"/\">All rooms</a></p>\n<h1>{}</h1>\n",
        escape(&room.name)
    );
    if let Some(d) = room.description.as_deref().filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(b, "<p class=\"lead\">{}</p>", escape(d));
    }
    let _ = write!(
        b,
        "<p class=\"meta\">{}</p>\n<div class=\"join\">\n<figure class=\"qr\">{svg}\
         <figcaption><a href=\"invite.png\" download=\"{t}-invite.png\">Download QR code \
         (PNG)</a></figcaption></figure>\n<div class=\"how\">\n<h2>Join this room</h2>\n\
         <ol><li>Open Session and tap <strong>+</strong>, then <strong>Join \
         Community</strong>.</li><li>Scan this QR code, or paste the link below.</li></ol>\n\
         <label for=\"join-url\">Join link</label>\n<pre id=\"join-url\" class=\"url\">{u}</pre>\n\
         </div>\n</div>\n",
        escape(&active_users(room.active_users)),
        t = escape(&room.token),
        u = escape(url),
    );
    if let Some(messages) = recent {
        b.push_str("<h2>Recent messages</h2>\n");
        if messages.is_empty() {
            b.push_str("<p class=\"meta\">Nothing has been posted yet.</p>\n");
        } else {
            b.push_str("<ol class=\"messages\">\n");
            // Oldest first, like a conversation.
            for m in messages.iter().rev() {
                message_html(&mut b, m);
            }
            b.push_str("</ol>\n");
        }
    }
    page_end(&mut b);
    b
}

fn message_html(b: &mut String, m: &Message) {
    let text = m.data.as_deref().map(decode_post).unwrap_or_default();
    let id = m.session_id.to_hex();
    let short = match (id.get(..6), id.get(id.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) => format!("{head}…{tail}"),
        _ => id.clone(),
    };
    let who = match &text.author {
        Some(name) => format!(
            "<span class=\"who\">{}</span> <span class=\"sid\">{}</span>",
            escape(name),
            escape(&short)
        ),
        None => format!("<span class=\"who sid\">{}</span>", escape(&short)),
    };
    let body = match (&text.body, text.attachments) {
        (Some(body), _) => format!("<p>{}</p>", escape(body)),
        (None, n) if n > 0 => format!(
            "<p class=\"meta\">{} attachment{}</p>",
            n,
            if n == 1 { "" } else { "s" }
        ),
        _ => "<p class=\"meta\">(a message this page cannot show)</p>".to_owned(),
    };
    let _ = writeln!(
        b,
        "<li><div class=\"head\">{who} <time>{}</time></div>{body}</li>",
        escape(&utc_time(m.posted))
    );
}

/// What a page shows of a post.
#[derive(Debug, Default, PartialEq, Eq)]
struct PostText {
    author: Option<String>,
    body: Option<String>,
    attachments: usize,
}

/// Decodes a community post: padded `Content` protobuf (0x80 then zeros) with a
/// `dataMessage`. Anything else yields an empty [`PostText`].
fn decode_post(data: &[u8]) -> PostText {
    let Some(dm) = crate::server::filter::decode_post(data) else {
        return PostText::default();
    };
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    PostText {
        author: nonempty(dm.profile.and_then(|p| p.display_name)),
        body: nonempty(dm.body),
        attachments: dm.attachments.len(),
    }
}

async fn invite_png(State(web): State<Web>, Path(token): Path<String>) -> Response {
    let room = match readable_room(&web, token).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let url = join_url(&web.settings.base_url, &room.token, web.sogs.public_key());
    match QrCode::new(url.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|q| qr_png(&q, INVITE_PNG_SIZE).map_err(|e| e.to_string()))
    {
        Ok(png) => {
            let mut r = png.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => internal_error(&e),
    }
}

// ---- QR rendering ----

/// The QR code as an SVG element: one path, a module per unit, with the quiet zone.
pub fn qr_svg(code: &QrCode) -> String {
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 2 * QUIET_ZONE;
    let mut path = String::new();
    for y in 0..w {
        let mut x = 0;
        while x < w {
            if colors.get(y * w + x) == Some(&Color::Dark) {
                let start = x;
                while x < w && colors.get(y * w + x) == Some(&Color::Dark) {
                    x += 1;
                }
                let _ = write!(
                    path,
                    "M{} {}h{}v1h-{}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE,
                    x - start,
                    x - start
                );
            } else {
                x += 1;
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         role=\"img\" aria-label=\"QR code of the join link\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    )
}

/// The QR code as a `size`×`size` 8-bit greyscale PNG: square modules of a whole number
/// of pixels, centred, with at least the quiet zone of white around.
pub fn qr_png(code: &QrCode, size: u32) -> Result<Vec<u8>, png::EncodingError> {
    let w = code.width();
    let colors = code.to_colors();
    let side = size as usize;
    let modules = w + 2 * QUIET_ZONE;
    let scale = (side / modules).max(1);
    let offset = side.saturating_sub(w * scale) / 2;
    let mut pixels = vec![0xffu8; side * side];
    for (i, px) in pixels.iter_mut().enumerate() {
        let (py, pxx) = (i / side, i % side);
        if py < offset || pxx < offset {
            continue;
        }
        let (my, mx) = ((py - offset) / scale, (pxx - offset) / scale);
        if my < w && mx < w && colors.get(my * w + mx) == Some(&Color::Dark) {
            *px = 0;
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, size, size);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

// ---- HTML helpers ----

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#5c5c5c;--bg:#f6f7f6;--card:#fff;\
--line:#dfe3df;--accent:#00a35a;--accent-fg:#006b3b}\
@media (prefers-color-scheme:dark){:root{--fg:#f1f1f1;--muted:#a9a9a9;--bg:#161616;\
--card:#232323;--line:#363636;--accent:#00f782;--accent-fg:#00f782}}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,\
'Segoe UI',Roboto,sans-serif}\
header{background:var(--card);border-bottom:3px solid var(--accent)}\
header .bar{max-width:52rem;margin:0 auto;padding:.8rem 1.25rem;font-weight:600}\
header .bar span{color:var(--muted);font-weight:400}\
main{max-width:52rem;margin:0 auto;padding:1.25rem}\
h1{font-size:1.9rem;margin:.6rem 0 .4rem;overflow-wrap:anywhere}\
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}\
a{color:var(--accent-fg)}\
a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
.lead{font-size:1.1rem;white-space:pre-line}\
.meta,.crumb{color:var(--muted);margin:.2rem 0}\
ul.rooms{list-style:none;padding:0;margin:1rem 0;display:grid;gap:.75rem}\
a.room{display:grid;gap:.15rem;padding:1rem 1.1rem;background:var(--card);\
border:1px solid var(--line);border-radius:12px;text-decoration:none;color:var(--fg)}\
a.room:hover{border-color:var(--accent)}\
a.room .name{font-size:1.2rem;font-weight:600;color:var(--accent-fg)}\
a.room .meta{font-size:.9rem}\
a.room .desc{white-space:pre-line}\
.join{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start;background:var(--card);\
border:1px solid var(--line);border-radius:12px;padding:1.25rem;margin-top:1rem}\
figure.qr{margin:0;text-align:center}\
figure.qr svg{display:block;width:15rem;height:15rem;border-radius:6px}\
figcaption{margin-top:.4rem;font-size:.9rem}\
.how{flex:1 1 18rem;min-width:0}\
.how h2{margin-top:0}\
.how ol{padding-left:1.3rem}\
label{display:block;font-weight:600;margin-top:.8rem}\
pre.url{white-space:pre-wrap;word-break:break-all;user-select:all;background:var(--bg);\
border:1px solid var(--line);border-radius:8px;padding:.7rem .8rem;margin:.3rem 0;\
font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
ol.messages{list-style:none;padding:0;display:grid;gap:.6rem}\
ol.messages li{background:var(--card);border:1px solid var(--line);border-radius:10px;\
padding:.6rem .9rem}\
ol.messages p{margin:.2rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}\
.head{font-size:.9rem;color:var(--muted)}\
.who{font-weight:600;color:var(--fg)}\
.sid{font-family:ui-monospace,monospace;font-size:.85rem}\
time{float:right}";

fn page_start(b: &mut String, title: &str) {
    let _ = write!(
        b,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<header><div class=\"bar\">Session \
         <span>community server</span></div></header>\n<main>\n",
        escape(title)
    );
}

fn page_end(b: &mut String) {
    b.push_str("</main>\n</body>\n</html>\n");
}

/// `YYYY-MM-DD HH:MM UTC` for Unix seconds (empty for a time that cannot be).
fn utc_time(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return String::new();
    }
    format!(
        "{} UTC",
        session_rt::time::UtcTime::from_unix_f64(secs).minutes()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_urls() {
        let pk = [0xab; 32];
        let u = join_url("https://sogs.example.org/", "lobby", &pk);
        assert_eq!(
            u,
            format!(
                "https://sogs.example.org/lobby?public_key={}",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn times() {
        assert_eq!(utc_time(0.0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_700_000_000.5), "2023-11-14 22:13 UTC");
        assert_eq!(utc_time(951_782_400.0), "2000-02-29 00:00 UTC");
        assert_eq!(utc_time(f64::NAN), "");
    }

    #[test]
    fn png_is_512_square_and_has_dark_and_light() {
        let code = QrCode::new(b"http://127.0.0.1:4242/lobby?public_key=00").unwrap();
        let png_bytes = qr_png(&code, INVITE_PNG_SIZE).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (512, 512));
        let pixels = &buf[..info.buffer_size()];
        assert!(pixels.contains(&0) && pixels.contains(&255));
        // The corners are quiet zone (white); the top-left finder pattern starts dark.
        assert_eq!(pixels[0], 255);
        let w = code.width();
        let scale = 512 / (w + 8);
        let offset = (512 - w * scale) / 2;
        assert_eq!(pixels[offset * 512 + offset], 0);
        assert_eq!(pixels[(offset - 1) * 512 + offset - 1], 255);
    }

    #[test]
    fn svg_has_one_path_within_the_view_box() {
        let code = QrCode::new(b"hello").unwrap();
        let svg = qr_svg(&code);
        let size = code.width() + 8;
        assert!(svg.contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        assert_eq!(svg.matches("<path").count(), 1);
        // The finder pattern's top row: 7 dark modules starting at the quiet zone.
        assert!(svg.contains("M4 4h7v1h-7z"), "{svg}");
    }

    #[test]
    fn posts_decode() {
        use session_wire::proto::session::{Content, DataMessage, LokiProfile};
        let content = Content {
            data_message: Some(DataMessage {
                body: Some("hi <there>".into()),
                profile: Some(LokiProfile {
                    display_name: Some("Alice".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut data = session_wire::message::encode_content(&content);
        data.push(0x80);
        data.resize(160, 0);
        let p = decode_post(&data);
        assert_eq!(p.author.as_deref(), Some("Alice"));
        assert_eq!(p.body.as_deref(), Some("hi <there>"));
        assert_eq!(decode_post(b"garbage\xff"), PostText::default());
        assert_eq!(decode_post(&[]), PostText::default());
    }
}
