//! The node's view of the network, an *input* of the storage service: which swarm owns
//! an account, who the members are, the network hard fork and height, and whether the
//! node may serve clients. [`crate::registry::RegistryNetwork`] is the live
//! implementation fed by the registry; without a registry [`SingleNodeNetwork`] makes
//! this node a one-member swarm owning every account.

use std::fmt;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::types::UserPubkey;

/// Contact and identity of one service node, as listed by `get_swarm`.
#[derive(Clone, PartialEq, Eq)]
pub struct SnodeInfo {
    /// Ed25519 public key (signs the node's responses).
    pub pubkey_ed25519: [u8; 32],
    /// X25519 public key (onion requests).
    pub pubkey_x25519: [u8; 32],
    /// Legacy registration key (equals the Ed25519 key for new registrations).
    pub pubkey_legacy: [u8; 32],
    /// Public IPv4 address.
    pub ip: Ipv4Addr,
    /// HTTPS port.
    pub https_port: u16,
    /// OxenMQ / QUIC port.
    pub omq_port: u16,
}

impl fmt::Debug for SnodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnodeInfo")
            .field("pubkey_ed25519", &hex::encode(self.pubkey_ed25519))
            .field("https_port", &self.https_port)
            .finish_non_exhaustive()
    }
}

impl SnodeInfo {
    /// The `get_swarm` JSON of this node (spec §2.13), including the deprecated
    /// `address` (z-base-32 of the legacy key + ".snode") and string `port`.
    pub fn to_json(&self) -> Value {
        json!({
            "address": format!("{}.snode", base32z(&self.pubkey_legacy)),
            "ip": self.ip.to_string(),
            "port": self.https_port.to_string(),
            "port_https": self.https_port,
            "port_omq": self.omq_port,
            "port_quic": self.omq_port,
            "pubkey_ed25519": hex::encode(self.pubkey_ed25519),
            "pubkey_legacy": hex::encode(self.pubkey_legacy),
            "pubkey_x25519": hex::encode(self.pubkey_x25519),
        })
    }
}

/// A swarm: its id and members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swarm {
    /// The swarm id (`u64::MAX` = no swarm).
    pub id: u64,
    /// The members.
    pub members: Vec<SnodeInfo>,
}

impl Swarm {
    /// The `get_swarm` / 421 body without `t`/`hf`: swarm id as unpadded lowercase hex.
    pub fn to_json(swarm: Option<&Swarm>) -> Value {
        match swarm {
            Some(s) => json!({
                "swarm": format!("{:x}", s.id),
                "snodes": s.members.iter().map(SnodeInfo::to_json).collect::<Vec<_>>(),
            }),
            None => {
                json!({"swarm": format!("{:x}", session_swarm::SwarmId::UNASSIGNED), "snodes": []})
            }
        }
    }
}

/// Where an account's messages live, from this node's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwarmLookup {
    /// This node's swarm owns the account; `peers` are the *other* members (to which
    /// recursive requests are forwarded).
    Ours {
        /// Other members of this node's swarm.
        peers: Vec<SnodeInfo>,
    },
    /// Another swarm owns the account: answer 421 with it.
    Elsewhere(Swarm),
    /// No swarm is known at all.
    Unknown,
}

/// The network as the storage service sees it. Implementations must be cheap to call:
/// every request asks.
pub trait NetworkView: Send + Sync + fmt::Debug + 'static {
    /// Which swarm owns `pubkey`.
    fn lookup(&self, pubkey: &UserPubkey) -> SwarmLookup;
    /// The swarm owning `pubkey` (for `get_swarm`), `None` when no swarm is known.
    fn swarm_for(&self, pubkey: &UserPubkey) -> Option<Swarm>;
    /// The network hard fork `[major, minor]`.
    fn hardfork(&self) -> (u8, u8);
    /// The current block height.
    fn height(&self) -> u64;
    /// `Ok` when the node may serve clients, else the reason (answered with 503).
    fn readiness(&self) -> Result<(), String>;
    /// The contact of `pubkey` if it is an *active* service node (node-to-node requests
    /// are accepted only from those). A network without a registry knows none.
    fn active_node(&self, pubkey: &[u8; 32]) -> Option<SnodeInfo> {
        let _ = pubkey;
        None
    }
    /// The contact of `pubkey` if the registry lists it at all (active or
    /// decommissioned): onion requests may be relayed to any funded node.
    fn funded_node(&self, pubkey: &[u8; 32]) -> Option<SnodeInfo> {
        let _ = pubkey;
        None
    }
}

/// A one-node network: this node is the only member of swarm 0 and owns every account.
#[derive(Debug, Clone)]
pub struct SingleNodeNetwork {
    me: SnodeInfo,
    hardfork: (u8, u8),
    height: u64,
}

impl SingleNodeNetwork {
    /// Hard fork reported by default: 19.4 (multi-expiry `expire` enabled).
    pub const DEFAULT_HARDFORK: (u8, u8) = (19, 4);

    /// A one-node network around `me`.
    pub fn new(me: SnodeInfo) -> Self {
        Self {
            me,
            hardfork: Self::DEFAULT_HARDFORK,
            height: 0,
        }
    }

    /// Overrides the reported hard fork.
    pub fn with_hardfork(mut self, hf: (u8, u8)) -> Self {
        self.hardfork = hf;
        self
    }

    /// Overrides the reported height.
    pub fn with_height(mut self, height: u64) -> Self {
        self.height = height;
        self
    }
}

impl NetworkView for SingleNodeNetwork {
    fn lookup(&self, _pubkey: &UserPubkey) -> SwarmLookup {
        SwarmLookup::Ours { peers: Vec::new() }
    }

    fn swarm_for(&self, _pubkey: &UserPubkey) -> Option<Swarm> {
        Some(Swarm {
            id: 0,
            members: vec![self.me.clone()],
        })
    }

    fn hardfork(&self) -> (u8, u8) {
        self.hardfork
    }

    fn height(&self) -> u64 {
        self.height
    }

    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }
}

/// z-base-32 (the `.snode` address alphabet), most significant bits first, the last
/// group zero-padded.
pub fn base32z(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snode_address_matches_reference_example() {
        // storage.json reference.get_swarm_example
        let legacy: [u8; 32] =
            hex::decode("decaf05befd9df412b26811b4021bae83ea1334c90e5b41534bf0018c17d581a")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(
            base32z(&legacy),
            "55fxys9x58xwnk3gorpwyep47y9knc4c1d15efjwzhybtom7mypy"
        );
    }

    #[test]
    fn swarm_id_hex_has_no_padding() {
        let j = Swarm::to_json(Some(&Swarm {
            id: 0x3fff_ffff_ffff_ffff,
            members: vec![],
        }));
        assert_eq!(j["swarm"], "3fffffffffffffff");
        let j = Swarm::to_json(Some(&Swarm {
            id: 0,
            members: vec![],
        }));
        assert_eq!(j["swarm"], "0");
        assert_eq!(Swarm::to_json(None)["swarm"], "ffffffffffffffff");
    }
}
