//! Pure codecs of the Session wire formats: no sockets, files or clocks — bytes in, values
//! out, and back. Every parser here accepts arbitrary (adversarial) input without
//! panicking and reports what was wrong, and where, as a [`WireError`].
//!
//! * [`proto`]: the prost-generated protobuf messages (`SessionProtos`,
//!   `WebSocketProtos`);
//! * [`message`]: `Content` / `Envelope` / `WebSocketMessage` wrapping and lenient
//!   unwrapping (client-protocol §3, §5.4, §6.6);
//! * [`onion`]: onion-request layer frames, control JSON, the proxy URL filter, v4
//!   request/response bodies, storage-node responses and the relay dict (storage-node §7,
//!   client-protocol §8.3–8.4);
//! * [`storage`]: the message hash, the `sn.data` bulk format and monitor notifications
//!   (storage-node §5.1, §5.7, §2.15);
//! * [`request_sig`]: the byte strings signed by storage RPC requests (storage-node §3.2);
//! * [`quic`]: the `BTRequestStream` message framing (storage-node §1.5).
//!
//! Bencode itself is `session_bt`; cryptography is `session_crypto`.

#![warn(missing_docs)]

pub mod error;
pub mod message;
pub mod onion;
pub mod proto;
pub mod quic;
pub mod request_sig;
pub mod storage;

mod hexkey;

pub use error::WireError;
