//! Request authentication (storage-node spec §3): the owner key of an account (05 Session
//! IDs via `pubkey_ed25519`, every other prefix directly), subaccount tokens (§3.3) and
//! the revocation list.
//!
//! Subaccount tokens are checked by `session_crypto::groups::SubaccountRequest`; only the
//! revocation lookup (the store) is the node's own.

use std::collections::HashMap;
use std::sync::Mutex;

use session_crypto::Ed25519PublicKey;
use session_crypto::curve::ed25519_pk_to_x25519;
use session_crypto::ed25519::verify;
use session_crypto::groups::{SubaccountFlags, SubaccountRequest};

use crate::error::Result;
use crate::rpc::request::Auth;
use crate::store::{MessageStore, lock};
use crate::types::UserPubkey;

/// Remembers Ed25519 → X25519 conversions of `pubkey_ed25519` values: clients poll with
/// the same key over and over, and the conversion (a point decompression and a field
/// inversion) costs about as much as half a signature check. Only valid keys are kept;
/// the table is emptied when it reaches its bound.
#[derive(Debug, Default)]
pub struct KeyCache {
    map: Mutex<HashMap<[u8; 32], [u8; 32]>>,
}

impl KeyCache {
    /// Most entries kept (about 7 MB).
    const MAX_ENTRIES: usize = 100_000;

    /// The X25519 form of `ed`, or `None` if it is not a valid point.
    pub fn ed_to_x(&self, ed: &[u8; 32]) -> Option<[u8; 32]> {
        if let Some(x) = lock(&self.map).get(ed) {
            return Some(*x);
        }
        let x = ed25519_pk_to_x25519(ed).ok()?;
        let mut map = lock(&self.map);
        if map.len() >= Self::MAX_ENTRIES {
            map.clear();
        }
        map.insert(*ed, x);
        Some(x)
    }
}

/// The Ed25519 key that must have signed a request for `pubkey`, before subaccounts:
/// for 05 accounts with `pubkey_ed25519`, that key (after checking that it converts to
/// the account's X25519 key); otherwise the account's own 32 bytes.
pub fn owner_key(
    keys: &KeyCache,
    pubkey: &UserPubkey,
    pubkey_ed25519: Option<&[u8; 32]>,
) -> Option<[u8; 32]> {
    match pubkey_ed25519 {
        Some(ed) if pubkey.prefix() == 0x05 => {
            let x = keys.ed_to_x(ed)?;
            (x == *pubkey.key()).then_some(*ed)
        }
        _ => Some(*pubkey.key()),
    }
}

/// Verifies the request signature `auth` over `message` for `pubkey`, with subaccount
/// rules (`required` flags; revocation unless `skip_revoke_check`). `Ok(false)` for any
/// authentication failure; `Err` only when the revocation list cannot be read.
pub async fn verify_request(
    store: &dyn MessageStore,
    keys: &KeyCache,
    pubkey: &UserPubkey,
    auth: &Auth,
    required: u8,
    skip_revoke_check: bool,
    message: &[u8],
) -> Result<bool> {
    let Some(owner) = owner_key(keys, pubkey, auth.pubkey_ed25519.as_ref()) else {
        return Ok(false);
    };
    let Some(sub) = &auth.subaccount else {
        return Ok(verify(&owner, message, &auth.signature).is_ok());
    };
    if !skip_revoke_check && store.is_revoked(pubkey, &sub.token).await? {
        return Ok(false);
    }
    // Prefix and permission checks, the owner's signature over the token, then the
    // request signature by the token's key: `session_crypto`'s one implementation (the
    // revocation list was consulted above, from the store).
    let request = SubaccountRequest {
        token: &sub.token.0,
        admin_signature: &sub.signature,
        signature: &auth.signature,
        message,
    };
    Ok(request
        .verify(
            pubkey.prefix(),
            &Ed25519PublicKey(owner),
            SubaccountFlags::from_bits(required),
            &[],
        )
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreFutureExt;
    use crate::store::memory::MemoryStore;
    use crate::types::{SignedSubaccount, SubaccountToken, access};
    use session_crypto::Ed25519Keypair;

    fn kp(n: u8) -> Ed25519Keypair {
        Ed25519Keypair::from_seed(session_crypto::Ed25519Seed::from_array([n; 32]))
    }

    fn token(prefix: u8, flags: u8, sub: &Ed25519Keypair) -> SubaccountToken {
        let mut t = [0u8; 36];
        t[0] = prefix;
        t[1] = flags;
        t[4..].copy_from_slice(sub.public().as_bytes());
        SubaccountToken(t)
    }

    #[test]
    fn session_id_needs_matching_ed25519_key() {
        let user = kp(1);
        let x = user.to_x25519();
        let pk = UserPubkey::new(5, *x.public());
        let ed = *user.public().as_bytes();
        assert_eq!(owner_key(&KeyCache::default(), &pk, Some(&ed)), Some(ed));
        let other = *kp(2).public().as_bytes();
        assert_eq!(owner_key(&KeyCache::default(), &pk, Some(&other)), None);
        // Without pubkey_ed25519, the 32 bytes are used as an Ed25519 key.
        assert_eq!(
            owner_key(&KeyCache::default(), &pk, None),
            Some(*x.public())
        );
        // Non-05 prefixes use their key directly.
        let g = UserPubkey::new(3, ed);
        assert_eq!(owner_key(&KeyCache::default(), &g, None), Some(ed));
    }

    #[tokio::test]
    async fn subaccount_rules() {
        let store = MemoryStore::new();
        let group = kp(3);
        let member = kp(4);
        let pk = UserPubkey::new(3, *group.public().as_bytes());
        let t = token(3, access::READ | access::WRITE, &member);
        let sub = SignedSubaccount {
            token: t,
            signature: group.sign(&t.0),
        };
        let msg = b"retrieve1700000000000";
        let auth = Auth {
            signature: member.sign(msg),
            pubkey_ed25519: None,
            subaccount: Some(sub),
        };
        assert!(
            verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &auth,
                access::READ,
                false,
                msg
            )
            .await
            .unwrap()
        );
        assert!(
            !verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &auth,
                access::DELETE,
                false,
                msg
            )
            .await
            .unwrap()
        );
        // Wrong prefix (same key as 05 would be another account).
        let other_prefix = UserPubkey::new(0x04, *group.public().as_bytes());
        assert!(
            !verify_request(
                &store,
                &KeyCache::default(),
                &other_prefix,
                &auth,
                access::READ,
                false,
                msg
            )
            .await
            .unwrap()
        );
        // Not signed by the owner.
        let mut forged = auth.clone();
        forged.subaccount = Some(SignedSubaccount {
            token: t,
            signature: member.sign(&t.0),
        });
        assert!(
            !verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &forged,
                access::READ,
                false,
                msg
            )
            .await
            .unwrap()
        );
        // Request signed by the owner instead of the subaccount.
        let mut wrong_signer = auth.clone();
        wrong_signer.signature = group.sign(msg);
        assert!(
            !verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &wrong_signer,
                access::READ,
                false,
                msg
            )
            .await
            .unwrap()
        );
        // Revoked, unless the check is skipped.
        store.revoke_subaccounts(&pk, &[t], 1).wait().unwrap();
        assert!(
            !verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &auth,
                access::READ,
                false,
                msg
            )
            .await
            .unwrap()
        );
        assert!(
            verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &auth,
                access::READ,
                true,
                msg
            )
            .await
            .unwrap()
        );
    }

    #[tokio::test]
    async fn any_prefix_flag() {
        let store = MemoryStore::new();
        let owner = kp(5);
        let member = kp(6);
        let pk = UserPubkey::new(0x04, *owner.public().as_bytes());
        let t = token(3, access::READ | access::ANY_PREFIX, &member);
        let auth = Auth {
            signature: member.sign(b"m"),
            pubkey_ed25519: None,
            subaccount: Some(SignedSubaccount {
                token: t,
                signature: owner.sign(&t.0),
            }),
        };
        assert!(
            verify_request(
                &store,
                &KeyCache::default(),
                &pk,
                &auth,
                access::READ,
                false,
                b"m"
            )
            .await
            .unwrap()
        );
    }
}
