//! Runtime helpers shared by the Session services (node, registry, community and file
//! servers): an injected [`clock::Clock`], graceful [`shutdown`], HTTP(S) server
//! scaffolding ([`http::serve`]) and a lean client, typed TOML [`config`] loading,
//! self-signed [`tls`] certificates, private-file helpers, log [`redact`]ion, the
//! server side of v4 onion requests ([`lsrpc`]) and private, versioned SQLite files
//! ([`sqlite`]), and UTC calendar [`time`] for display and HTTP dates.

pub mod clock;
pub mod config;
pub mod error;
pub mod fs;
pub mod http;
pub mod logging;
pub mod lsrpc;
pub mod redact;
pub mod server_key;
pub mod shutdown;
pub mod sqlite;
pub mod time;
pub mod tls;
pub mod url;

pub use clock::{Clock, MockClock, SystemClock};
pub use error::RtError;
pub use shutdown::{Shutdown, ShutdownTrigger};
