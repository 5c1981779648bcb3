//! Messages: building and reading what Session clients put in swarms for one-to-one
//! conversations (client-protocol §3 and §9). Pure functions: no I/O, no clocks — the
//! caller passes the network time and stores/retrieves the bytes.
//!
//! * [`outgoing`]: an [`Outgoing`] message (text with profile and disappearing setting,
//!   its sync copy for one's own swarm, expiry update, read receipt, unsend, request
//!   acceptance) sealed into a [`SealedMessage`]: the `WebSocketMessage` bytes to `store`
//!   in namespace 0 of the destination's swarm, with the TTL and the message hash.
//! * [`incoming`]: [`open`] turns stored bytes into an [`Incoming`] message — sender
//!   (signature checked), sent time, disappearing setting and [`IncomingKind`] — or a
//!   [`Rejected`] reason to drop and count it.
//! * [`fields`]: [`Profile`], [`Expiry`] and the storage constants.
//!
//! The cryptography is `session_crypto::session_protocol`, the protobuf layers
//! `session_wire::message`.
//!
//! ```
//! use session_client::message::{open, IncomingKind, Outgoing, Profile};
//! use session_crypto::AccountKeys;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (alice, bob) = (AccountKeys::generate()?, AccountKeys::generate()?);
//! let msg = Outgoing::Text {
//!     body: "hello".into(),
//!     attachments: Vec::new(),
//!     profile: Some(Profile::named("Alice")),
//!     expiry: None,
//! };
//! // One copy for Bob's swarm, one (with syncTarget = Bob) for Alice's own swarm.
//! let sealed = msg.seal_with_sync(&alice, &bob.session_id(), 1_700_000_000_000)?;
//! assert_eq!(sealed.len(), 2);
//! let got = open(&bob, &sealed[0].data)?;
//! assert_eq!(got.sender, alice.session_id());
//! assert!(matches!(got.kind, IncomingKind::Text { ref body, .. } if body == "hello"));
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod fields;
pub mod incoming;
pub mod outgoing;

pub use fields::{
    DEFAULT_TTL_MS, DM_NAMESPACE, Expiry, ExpiryMode, MAX_BODY_CHARS, MIN_TTL_MS, Profile,
    ProfilePicture, ttl_ms,
};
pub use incoming::{Incoming, IncomingKind, Rejected, open, open_base64};
pub use outgoing::{Outgoing, OutgoingError, SealedMessage};
