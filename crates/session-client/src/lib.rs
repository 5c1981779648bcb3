//! The Session client's network layer: how a client joins a network and reaches
//! service nodes and servers through onion paths (client-protocol §8, storage-node §7).
//!
//! * [`config`]: the network file (`network.toml`) and the client's settings.
//! * [`directory`]: the node directory — bootstrap answers, refresh intersection,
//!   failure counting.
//! * [`paths`]: guard and path selection (one node per /24), path failure counting.
//! * [`onion`]: building layered requests to a node or a server and decoding replies.
//! * [`transport`]: HTTP(S) to nodes and registries with time limits and keep-alive.
//! * [`client`]: [`OnionClient`], which ties them together: storage RPCs to a node or
//!   an account's swarm, v4 requests to servers, retries and network time.
//! * [`message`]: the one-to-one message codec; [`store`]: the local store.
//! * [`messenger`]: [`Messenger`], one account sending, polling, and applying
//!   Session's message semantics (requests, unsend, disappearing, receipts, names).
//! * [`community`]: [`CommunityClient`], one account on a community server (SOGS):
//!   join URLs, blinded request signing, polling, posting, reactions and blinded DMs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_client::ClientError> {
//! use session_client::{NetworkConfig, OnionClient};
//! let net = NetworkConfig::load(std::path::Path::new("network.toml"))?;
//! let client = OnionClient::with_system_clock(net);
//! let account = format!("05{}", "ab".repeat(32));
//! let reply = client
//!     .swarm_request(&account, "retrieve", serde_json::json!({"pubkey": account}))
//!     .await?;
//! println!("{} {}", reply.status, reply.body);
//! # Ok(()) }
//! ```

pub mod attachments;
pub mod client;
pub mod community;
pub mod config;
pub mod directory;
pub mod error;
pub mod message;
pub mod messenger;
pub mod onion;
pub mod paths;
pub mod rng;
pub mod store;
pub mod transport;

pub use client::OnionClient;
pub use community::{CommunityClient, JoinUrl};
pub use config::{ClientSettings, FileServerSettings, NetworkConfig, SeedNode};
pub use directory::{NodeDirectory, Snode};
pub use error::{ClientError, Result};
pub use messenger::{Event, Messenger, MessengerSettings, PollReport, PollerHandle, Sent};
pub use onion::{ServerTarget, SnodeReply};
pub use paths::OnionPath;
pub use session_crypto::onion::EncType;
pub use session_wire::onion::{Protocol, V4RequestInfo, V4Response, V4ResponseInfo};
