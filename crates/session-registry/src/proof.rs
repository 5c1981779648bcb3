//! Uptime proofs in oxend's HF21 wire form (network-governance §3.1, §8.7): a bencoded
//! dict with keys in ASCII order `ip, l2, lv, pk?, pke, q, shp, sop, sv, t, v` (`pk` is
//! omitted because it equals `pke`), signed with Ed25519 by `pke` over the **Keccak-256**
//! of the exact proof bytes. Unknown extra keys are allowed (they are signed too);
//! `bk`/`bp` (BLS key and proof of possession) are ignored.
//!
//! Deliberate relaxations for a devnet without L2 or Lokinet: `l2` and `lv` may be
//! omitted. Version minimums are not enforced.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use session_bt::{RawDict, Value};
use session_crypto::Ed25519Keypair;

use crate::error::{RegistryError, Result};
use crate::types::{HexBytes, Sig64};
use session_crypto::hash::keccak256;

/// The content of an uptime proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UptimeProof {
    /// `pke`: the node's Ed25519 key (its primary key since HF21).
    pub pubkey_ed25519: [u8; 32],
    /// `ip`: public IPv4 address.
    pub public_ip: Ipv4Addr,
    /// `l2`: the node's latest L2 height (omitted on a devnet without L2).
    pub l2_height: Option<u64>,
    /// `lv`: Lokinet version (omitted on a devnet without Lokinet).
    pub lokinet_version: Option<[u16; 3]>,
    /// `q`: quorumnet port (non-zero).
    pub quorumnet_port: u16,
    /// `shp`: storage server HTTPS port.
    pub storage_https_port: u16,
    /// `sop`: storage server OMQ/QUIC port.
    pub storage_omq_port: u16,
    /// `sv`: storage server version.
    pub storage_server_version: [u16; 3],
    /// `t`: unix timestamp in seconds.
    pub timestamp: u64,
    /// `v`: service node (oxend) version.
    pub version: [u16; 3],
}

/// A proof as submitted and stored in blocks: the exact bytes and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedProof {
    /// The bencoded proof.
    pub proof: HexBytes,
    /// Ed25519 signature by `pke` over `keccak256(proof)`.
    pub ed_sig: Option<Sig64>,
}

fn version_value(v: [u16; 3]) -> Value {
    Value::List(v.iter().map(|&x| Value::Int(i64::from(x))).collect())
}

fn int_value(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl UptimeProof {
    /// The canonical bencoded proof bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = std::collections::BTreeMap::new();
        d.insert(b"ip".to_vec(), Value::bytes(self.public_ip.to_string()));
        if let Some(l2) = self.l2_height {
            d.insert(b"l2".to_vec(), int_value(l2));
        }
        if let Some(lv) = self.lokinet_version {
            d.insert(b"lv".to_vec(), version_value(lv));
        }
        d.insert(b"pke".to_vec(), Value::bytes(self.pubkey_ed25519.to_vec()));
        d.insert(b"q".to_vec(), Value::Int(i64::from(self.quorumnet_port)));
        d.insert(
            b"shp".to_vec(),
            Value::Int(i64::from(self.storage_https_port)),
        );
        d.insert(
            b"sop".to_vec(),
            Value::Int(i64::from(self.storage_omq_port)),
        );
        d.insert(b"sv".to_vec(), version_value(self.storage_server_version));
        d.insert(b"t".to_vec(), int_value(self.timestamp));
        d.insert(b"v".to_vec(), version_value(self.version));
        Value::Dict(d).encode()
    }

    /// Encodes and signs the proof with the node's key (which must be `pubkey_ed25519`).
    pub fn sign(&self, key: &Ed25519Keypair) -> SignedProof {
        let proof = self.encode();
        let sig = key.sign(&keccak256(&[&proof]));
        SignedProof {
            proof: HexBytes(proof),
            ed_sig: Some(Sig64(sig)),
        }
    }

    /// Parses proof bytes (no signature check).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| RegistryError::MalformedProof(m);
        let dict = RawDict::parse(bytes).map_err(|e| bad(format!("not a bencoded dict: {e}")))?;
        let bytes_of = |k: &str| -> Result<Option<&[u8]>> {
            dict.get(k.as_bytes())
                .map(|e| e.as_bytes().map_err(|e| bad(format!("`{k}`: {e}"))))
                .transpose()
        };
        let int_of = |k: &str| -> Result<Option<i64>> {
            dict.get(k.as_bytes())
                .map(|e| e.as_int().map_err(|e| bad(format!("`{k}`: {e}"))))
                .transpose()
        };
        let version_of = |k: &str| -> Result<Option<[u16; 3]>> {
            let Some(e) = dict.get(k.as_bytes()) else {
                return Ok(None);
            };
            let v = e.decode().map_err(|e| bad(format!("`{k}`: {e}")))?;
            let items = v
                .as_list()
                .ok_or_else(|| bad(format!("`{k}` must be a list of three integers")))?;
            let nums: Vec<u16> = items
                .iter()
                .map(|x| x.as_int().and_then(|i| u16::try_from(i).ok()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("`{k}` must hold integers 0..65535")))?;
            let arr: [u16; 3] = nums
                .try_into()
                .map_err(|_| bad(format!("`{k}` must have exactly three elements")))?;
            Ok(Some(arr))
        };
        let port_of = |k: &str| -> Result<u16> {
            let v = int_of(k)?.ok_or_else(|| bad(format!("missing `{k}`")))?;
            u16::try_from(v).map_err(|_| bad(format!("`{k}` = {v} is not a port")))
        };
        let pke: [u8; 32] = bytes_of("pke")?
            .ok_or_else(|| bad("missing `pke`".into()))?
            .try_into()
            .map_err(|_| bad("`pke` must be 32 bytes".into()))?;
        if let Some(pk) = bytes_of("pk")?
            && pk != pke
        {
            return Err(bad(
                "`pk` differs from `pke` (not allowed since HF21)".into()
            ));
        }
        let ip_text = bytes_of("ip")?.ok_or_else(|| bad("missing `ip`".into()))?;
        let public_ip: Ipv4Addr = std::str::from_utf8(ip_text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("`ip` is not a dotted IPv4 address".into()))?;
        let timestamp = int_of("t")?.ok_or_else(|| bad("missing `t`".into()))?;
        let timestamp =
            u64::try_from(timestamp).map_err(|_| bad("`t` must not be negative".into()))?;
        let l2_height = int_of("l2")?
            .map(|v| u64::try_from(v).map_err(|_| bad("`l2` must not be negative".into())))
            .transpose()?;
        let quorumnet_port = port_of("q")?;
        if quorumnet_port == 0 {
            return Err(bad("`q` (quorumnet port) must not be 0".into()));
        }
        Ok(Self {
            pubkey_ed25519: pke,
            public_ip,
            l2_height,
            lokinet_version: version_of("lv")?,
            quorumnet_port,
            storage_https_port: port_of("shp")?,
            storage_omq_port: port_of("sop")?,
            storage_server_version: version_of("sv")?.ok_or_else(|| bad("missing `sv`".into()))?,
            timestamp,
            version: version_of("v")?.ok_or_else(|| bad("missing `v`".into()))?,
        })
    }
}

impl SignedProof {
    /// Parses the proof and checks its signature (by the proof's own `pke`).
    pub fn verify(&self) -> Result<UptimeProof> {
        let proof = UptimeProof::parse(&self.proof.0)?;
        let sig = self.ed_sig.ok_or(RegistryError::MissingSignature {
            what: "uptime proof",
        })?;
        session_crypto::ed25519::verify(
            &proof.pubkey_ed25519,
            &keccak256(&[&self.proof.0]),
            &sig.0,
        )
        .map_err(|_| RegistryError::BadSignature {
            what: "uptime proof",
        })?;
        Ok(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_crypto::Ed25519Seed;

    fn vector_proof() -> (Ed25519Keypair, UptimeProof) {
        let key = Ed25519Keypair::from_seed(Ed25519Seed::from_array([1u8; 32]));
        let proof = UptimeProof {
            pubkey_ed25519: key.public().0,
            public_ip: Ipv4Addr::new(1, 2, 3, 4),
            l2_height: Some(123_456_789),
            lokinet_version: Some([0, 9, 11]),
            quorumnet_port: 22025,
            storage_https_port: 22021,
            storage_omq_port: 22020,
            storage_server_version: [2, 8, 0],
            timestamp: 1_700_000_000,
            version: [11, 0, 6],
        };
        (key, proof)
    }

    /// `derived.uptime_proof.hf21_mainnet` in governance.json.
    #[test]
    fn vector_hf21_mainnet() {
        let (key, proof) = vector_proof();
        let expected = "64323a6970373a312e322e332e34323a6c326931323334353637383965323a6c766c6930656939656931316565333a706b6533323a8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c313a7169323230323565333a73687069323230323165333a736f7069323230323065323a73766c69326569386569306565313a74693137303030303030303065313a766c693131656930656936656565";
        let bytes = proof.encode();
        assert_eq!(hex::encode(&bytes), expected);
        assert_eq!(
            hex::encode(keccak256(&[&bytes])),
            "1ad3f29ced47d72d253f16f5e1d07163e0971464dff9e60a7d470fc723d132f2"
        );
        let signed = proof.sign(&key);
        assert_eq!(
            hex::encode(signed.ed_sig.unwrap().0),
            "b8740e2b09992b56bd13015f3fbd5d0c1c640ba10e494ba3ce8120161598d2a8ec16fe58e4393d4e638d6b1c2a2d66a8ea195ee8660dadb98470e96c2ba8b103"
        );
        assert_eq!(signed.verify().unwrap(), proof);
    }

    #[test]
    fn tampering_and_bad_forms_are_rejected() {
        let (key, proof) = vector_proof();
        let mut signed = proof.sign(&key);
        signed.proof.0[10] ^= 1;
        assert!(signed.verify().is_err());
        let unsigned = SignedProof {
            proof: HexBytes(proof.encode()),
            ed_sig: None,
        };
        assert!(matches!(
            unsigned.verify(),
            Err(RegistryError::MissingSignature { .. })
        ));
        let no_q = UptimeProof {
            quorumnet_port: 0,
            ..proof.clone()
        };
        assert!(UptimeProof::parse(&no_q.encode()).is_err());
        assert!(UptimeProof::parse(b"le").is_err());
        // Optional keys round-trip.
        let devnet = UptimeProof {
            l2_height: None,
            lokinet_version: None,
            ..proof
        };
        assert_eq!(UptimeProof::parse(&devnet.encode()).unwrap(), devnet);
    }
}
