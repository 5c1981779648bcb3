//! The conformance suite every [`MessageStore`] backend must pass. Each check is a
//! function over a fresh store; the macro at the bottom instantiates it for the
//! in-memory and the SQLite backends.

use super::*;
use crate::store::StoreFutureExt;
use crate::types::{SubaccountToken, message_hash};

fn pk(n: u8) -> UserPubkey {
    UserPubkey::new(5, [n; 32])
}

fn msg(owner: UserPubkey, ns: i16, data: &str, ts: i64, expiry: i64) -> NewMessage {
    NewMessage {
        pubkey: owner,
        hash: message_hash(&owner, Namespace(ns), data.as_bytes()),
        namespace: Namespace(ns),
        timestamp: ts,
        expiry,
        data: data.as_bytes().to_vec(),
    }
}

const ALL: RetrieveLimits = RetrieveLimits {
    max_count: None,
    max_size: i64::MAX,
};

fn hashes(r: &Retrieved) -> Vec<String> {
    r.messages.iter().map(|m| m.hash.clone()).collect()
}

pub fn insertion_order_and_last_hash(s: &dyn MessageStore) {
    let a = pk(1);
    let mut hs = Vec::new();
    // Timestamps deliberately out of order: retrieve order is insertion order.
    for (i, ts) in [50, 10, 40, 20, 30].iter().enumerate() {
        let m = msg(a, 0, &format!("m{i}"), *ts, 1_000);
        hs.push(m.hash.clone());
        assert_eq!(s.store(m, false).wait().unwrap(), StoreOutcome::New);
    }
    s.store(msg(a, 3, "other ns", 1, 1_000), false)
        .wait()
        .unwrap();
    s.store(msg(pk(2), 0, "other owner", 1, 1_000), false)
        .wait()
        .unwrap();
    let r = s.retrieve(&a, Namespace(0), None, ALL, 0).wait().unwrap();
    assert_eq!(hashes(&r), hs);
    assert!(!r.more);
    assert_eq!(r.messages[0].data, b"m0");
    assert_eq!(r.messages[0].timestamp, 50);
    assert_eq!(r.messages[0].expiry, 1_000);
    let r = s
        .retrieve(&a, Namespace(0), Some(&hs[1]), ALL, 0)
        .wait()
        .unwrap();
    assert_eq!(hashes(&r), hs[2..]);
    // Unknown last hash, or one from another namespace: from the start.
    let r = s
        .retrieve(&a, Namespace(0), Some(&"A".repeat(43)), ALL, 0)
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 5);
    let other_ns = message_hash(&a, Namespace(3), b"other ns");
    let r = s
        .retrieve(&a, Namespace(0), Some(&other_ns), ALL, 0)
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 5);
    let r = s
        .retrieve(&a, Namespace(0), Some(&hs[4]), ALL, 0)
        .wait()
        .unwrap();
    assert!(r.messages.is_empty());
    // Unknown owner.
    assert!(
        s.retrieve(&pk(9), Namespace(0), None, ALL, 0)
            .wait()
            .unwrap()
            .messages
            .is_empty()
    );
}

pub fn limits(s: &dyn MessageStore) {
    let a = pk(1);
    for i in 0..10 {
        s.store(msg(a, 0, &format!("{i:0>30}"), i, 1_000), false)
            .wait()
            .unwrap();
    }
    let r = s
        .retrieve(
            &a,
            Namespace(0),
            None,
            RetrieveLimits {
                max_count: Some(3),
                max_size: i64::MAX,
            },
            0,
        )
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 3);
    assert!(r.more);
    let r = s
        .retrieve(
            &a,
            Namespace(0),
            None,
            RetrieveLimits {
                max_count: Some(10),
                max_size: i64::MAX,
            },
            0,
        )
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 10);
    assert!(!r.more);
    // cost = 100 + 43 + 30*4/3 = 183 per message.
    let cost = retrieve_cost(&r.messages[0].hash, 30);
    assert_eq!(cost, 183);
    let r = s
        .retrieve(
            &a,
            Namespace(0),
            None,
            RetrieveLimits {
                max_count: None,
                max_size: cost * 4,
            },
            0,
        )
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 4);
    assert!(r.more);
    let r = s
        .retrieve(
            &a,
            Namespace(0),
            None,
            RetrieveLimits {
                max_count: None,
                max_size: cost * 4 - 1,
            },
            0,
        )
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 3);
    // At least one message, however small the budget.
    let r = s
        .retrieve(
            &a,
            Namespace(0),
            None,
            RetrieveLimits {
                max_count: None,
                max_size: 1,
            },
            0,
        )
        .wait()
        .unwrap();
    assert_eq!(r.messages.len(), 1);
    assert!(r.more);
}

pub fn duplicate_hash_extends_expiry(s: &dyn MessageStore) {
    let a = pk(1);
    let m = msg(a, 0, "same", 1, 1_000);
    assert_eq!(s.store(m.clone(), false).wait().unwrap(), StoreOutcome::New);
    let mut shorter = m.clone();
    shorter.expiry = 500;
    assert_eq!(
        s.store(shorter, false).wait().unwrap(),
        StoreOutcome::Exists { expiry: 1_000 }
    );
    assert_eq!(
        s.store(m.clone(), false).wait().unwrap(),
        StoreOutcome::Exists { expiry: 1_000 }
    );
    let mut longer = m.clone();
    longer.expiry = 2_000;
    longer.timestamp = 99;
    assert_eq!(
        s.store(longer, false).wait().unwrap(),
        StoreOutcome::Extended
    );
    let r = s.retrieve(&a, Namespace(0), None, ALL, 0).wait().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].expiry, 2_000);
    assert_eq!(r.messages[0].timestamp, 1, "timestamp is not updated");
    assert_eq!(s.message_count().wait().unwrap(), 1);
}

pub fn public_outbox_keeps_one(s: &dyn MessageStore) {
    let a = pk(1);
    s.store(msg(a, -1, "first", 1, 1_000), true).wait().unwrap();
    s.store(msg(a, 0, "inbox", 1, 1_000), false).wait().unwrap();
    let second = msg(a, -1, "second", 2, 1_000);
    s.store(second.clone(), true).wait().unwrap();
    let r = s.retrieve(&a, Namespace(-1), None, ALL, 0).wait().unwrap();
    assert_eq!(hashes(&r), vec![second.hash.clone()]);
    // Storing the same message again keeps it (extends only).
    let mut again = second.clone();
    again.expiry = 5_000;
    assert_eq!(s.store(again, true).wait().unwrap(), StoreOutcome::Extended);
    assert_eq!(
        s.retrieve(&a, Namespace(-1), None, ALL, 0)
            .wait()
            .unwrap()
            .messages
            .len(),
        1
    );
    assert_eq!(
        s.retrieve(&a, Namespace(0), None, ALL, 0)
            .wait()
            .unwrap()
            .messages
            .len(),
        1
    );
}

pub fn deletes(s: &dyn MessageStore) {
    let a = pk(1);
    let b = pk(2);
    let m1 = msg(a, 0, "1", 10, 1_000);
    let m2 = msg(a, 2, "2", 20, 1_000);
    let m3 = msg(a, 0, "3", 30, 1_000);
    let mb = msg(b, 0, "b", 10, 1_000);
    for m in [&m1, &m2, &m3, &mb] {
        s.store(m.clone(), false).wait().unwrap();
    }
    // Another owner's hash is not deleted.
    let d = s
        .delete_by_hash(&a, &[mb.hash.clone(), m2.hash.clone(), "x".repeat(43)])
        .wait()
        .unwrap();
    assert_eq!(d, vec![m2.hash.clone()]);
    assert_eq!(s.message_count().wait().unwrap(), 3);
    let d = s
        .delete_before(&a, NsSelector::One(Namespace(0)), 10)
        .wait()
        .unwrap();
    assert_eq!(d, vec![(Namespace(0), m1.hash.clone())]);
    s.store(m2.clone(), false).wait().unwrap();
    let mut d = s.delete_all(&a, NsSelector::All).wait().unwrap();
    d.sort();
    let mut want = vec![
        (Namespace(0), m3.hash.clone()),
        (Namespace(2), m2.hash.clone()),
    ];
    want.sort();
    assert_eq!(d, want);
    assert_eq!(s.message_count().wait().unwrap(), 1);
    assert!(s.delete_all(&a, NsSelector::All).wait().unwrap().is_empty());
    assert!(
        s.delete_all(&pk(9), NsSelector::One(Namespace(0)))
            .wait()
            .unwrap()
            .is_empty()
    );
}

pub fn expiries(s: &dyn MessageStore) {
    let a = pk(1);
    let m1 = msg(a, 0, "1", 10, 1_000);
    let m2 = msg(a, 5, "2", 20, 2_000);
    let mb = msg(pk(2), 0, "b", 10, 3_000);
    for m in [&m1, &m2, &mb] {
        s.store(m.clone(), false).wait().unwrap();
    }
    let all = [m1.hash.clone(), m2.hash.clone(), mb.hash.clone()];
    let e = s.get_expiries(&a, &all).wait().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(e[&m1.hash], 1_000);
    // Shorten-all touches only later expiries.
    let mut u = s.shorten_all(&a, NsSelector::All, 1_500).wait().unwrap();
    u.sort();
    assert_eq!(u, vec![(Namespace(5), m2.hash.clone())]);
    assert!(
        s.shorten_all(&a, NsSelector::One(Namespace(0)), 5_000)
            .wait()
            .unwrap()
            .is_empty()
    );
    // Extend only.
    let u = s
        .update_expiries(
            &a,
            &[(m1.hash.clone(), 1_200), (m2.hash.clone(), 1_200)],
            ExpireMode::ExtendOnly,
        )
        .wait()
        .unwrap();
    assert_eq!(u, vec![(m1.hash.clone(), 1_200)]);
    // Shorten only.
    let u = s
        .update_expiries(
            &a,
            &[(m1.hash.clone(), 1_300), (m2.hash.clone(), 1_100)],
            ExpireMode::ShortenOnly,
        )
        .wait()
        .unwrap();
    assert_eq!(u, vec![(m2.hash.clone(), 1_100)]);
    // Unconditional; never another owner's message.
    let u = s
        .update_expiries(
            &a,
            &[(m1.hash.clone(), 9_000), (mb.hash.clone(), 9_000)],
            ExpireMode::Any,
        )
        .wait()
        .unwrap();
    assert_eq!(u, vec![(m1.hash.clone(), 9_000)]);
    assert_eq!(
        s.get_expiries(&pk(2), std::slice::from_ref(&mb.hash))
            .wait()
            .unwrap()[&mb.hash],
        3_000
    );
}

pub fn expiry_sweep_and_owner_cleanup(s: &dyn MessageStore) {
    let a = pk(1);
    s.store(msg(a, 0, "short", 1, 100), false).wait().unwrap();
    s.store(msg(a, 0, "long", 1, 200), false).wait().unwrap();
    s.store(msg(pk(2), 0, "b", 1, 100), false).wait().unwrap();
    assert_eq!(s.owner_count().wait().unwrap(), 2);
    // Expired but not yet swept: not returned.
    let r = s.retrieve(&a, Namespace(0), None, ALL, 100).wait().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(s.message_count().wait().unwrap(), 3);
    assert_eq!(s.delete_expired(100).wait().unwrap(), 2);
    assert_eq!(s.message_count().wait().unwrap(), 1);
    assert_eq!(
        s.owner_count().wait().unwrap(),
        1,
        "owner without messages is removed"
    );
    assert_eq!(s.delete_expired(200).wait().unwrap(), 1);
    assert_eq!(s.owner_count().wait().unwrap(), 0);
}

pub fn revocations(s: &dyn MessageStore) {
    let a = pk(1);
    let tok = |n: u8| {
        let mut t = [0u8; 36];
        t[0] = 3;
        t[1] = 3;
        t[4] = n;
        SubaccountToken(t)
    };
    assert!(!s.is_revoked(&a, &tok(1)).wait().unwrap());
    s.revoke_subaccounts(&a, &[tok(1), tok(2)], 10)
        .wait()
        .unwrap();
    assert!(s.is_revoked(&a, &tok(1)).wait().unwrap());
    assert!(!s.is_revoked(&pk(2), &tok(1)).wait().unwrap());
    // Revocations survive the account's last message being deleted.
    s.store(msg(a, 0, "x", 1, 100), false).wait().unwrap();
    s.delete_expired(100).wait().unwrap();
    assert!(s.is_revoked(&a, &tok(1)).wait().unwrap());
    assert_eq!(
        s.unrevoke_subaccounts(&a, &[tok(1), tok(3)])
            .wait()
            .unwrap(),
        1
    );
    assert!(!s.is_revoked(&a, &tok(1)).wait().unwrap());
    assert!(s.is_revoked(&a, &tok(2)).wait().unwrap());
    assert_eq!(s.unrevoke_subaccounts(&a, &[tok(2)]).wait().unwrap(), 1);
    assert_eq!(
        s.owner_count().wait().unwrap(),
        0,
        "owner removed with its last revocation"
    );
    // Only the newest 50 are kept.
    for i in 0..60u8 {
        s.revoke_subaccounts(&a, &[tok(i)], 1_000 + i64::from(i))
            .wait()
            .unwrap();
    }
    assert!(!s.is_revoked(&a, &tok(9)).wait().unwrap());
    assert!(s.is_revoked(&a, &tok(10)).wait().unwrap());
    assert!(s.is_revoked(&a, &tok(59)).wait().unwrap());
    // Re-revoking refreshes the time, so an old one can be kept alive.
    s.revoke_subaccounts(&a, &[tok(10)], 5_000).wait().unwrap();
    s.revoke_subaccounts(&a, &[tok(100)], 5_001).wait().unwrap();
    assert!(s.is_revoked(&a, &tok(10)).wait().unwrap());
    assert!(!s.is_revoked(&a, &tok(11)).wait().unwrap());
}

pub fn same_key_other_prefix_is_another_account(s: &dyn MessageStore) {
    let a5 = UserPubkey::new(5, [1; 32]);
    let a3 = UserPubkey::new(3, [1; 32]);
    s.store(msg(a5, 0, "x", 1, 100), false).wait().unwrap();
    s.store(msg(a3, 0, "x", 1, 100), false).wait().unwrap();
    assert_eq!(
        s.message_count().wait().unwrap(),
        2,
        "different prefix, different hash"
    );
    assert_eq!(
        s.retrieve(&a3, Namespace(0), None, ALL, 0)
            .wait()
            .unwrap()
            .messages
            .len(),
        1
    );
    assert_eq!(s.delete_all(&a5, NsSelector::All).wait().unwrap().len(), 1);
    assert_eq!(
        s.retrieve(&a3, Namespace(0), None, ALL, 0)
            .wait()
            .unwrap()
            .messages
            .len(),
        1
    );
}

pub fn concurrent_writers(s: &dyn MessageStore) {
    std::thread::scope(|scope| {
        for t in 0..8u8 {
            scope.spawn(move || {
                for i in 0..50 {
                    let m = msg(pk(t), 0, &format!("{t}-{i}"), i, 1_000);
                    assert_eq!(s.store(m, false).wait().unwrap(), StoreOutcome::New);
                }
            });
        }
    });
    assert_eq!(s.message_count().wait().unwrap(), 400);
    for t in 0..8u8 {
        let r = s
            .retrieve(&pk(t), Namespace(0), None, ALL, 0)
            .wait()
            .unwrap();
        let want: Vec<Vec<u8>> = (0..50).map(|i| format!("{t}-{i}").into_bytes()).collect();
        let got: Vec<Vec<u8>> = r.messages.into_iter().map(|m| m.data).collect();
        assert_eq!(got, want, "per-writer order preserved");
    }
}

fn sorted(mut v: Vec<UserPubkey>) -> Vec<UserPubkey> {
    v.sort();
    v
}

pub fn owners_listing(s: &dyn MessageStore) {
    let (a, b, c) = (pk(1), pk(2), pk(3));
    assert!(s.owners().wait().unwrap().is_empty());
    s.store(msg(a, 0, "a1", 1, 100), false).wait().unwrap();
    s.store(msg(a, 4, "a2", 1, 200), false).wait().unwrap();
    let mb = msg(b, 0, "b1", 1, 1_000);
    s.store(mb.clone(), false).wait().unwrap();
    // An account with revocations only has no messages: not listed.
    let mut t = [0u8; 36];
    t[0] = 3;
    s.revoke_subaccounts(&c, &[SubaccountToken(t)], 1)
        .wait()
        .unwrap();
    assert_eq!(s.owner_count().wait().unwrap(), 3);
    assert_eq!(
        sorted(s.owners().wait().unwrap()),
        vec![a, b],
        "no duplicates"
    );
    // The last message of b deleted: b is gone.
    s.delete_by_hash(&b, std::slice::from_ref(&mb.hash))
        .wait()
        .unwrap();
    assert_eq!(s.owners().wait().unwrap(), vec![a]);
    // Expired but not swept still counts as stored; swept does not.
    s.delete_expired(100).wait().unwrap();
    assert_eq!(s.owners().wait().unwrap(), vec![a]);
    s.delete_expired(200).wait().unwrap();
    assert!(s.owners().wait().unwrap().is_empty());
}

pub fn dump_owner_order_and_expiry(s: &dyn MessageStore) {
    let a = pk(1);
    let m1 = msg(a, 0, "1", 40, 1_000);
    let m2 = msg(a, 5, "2", 10, 1_000);
    let m3 = msg(a, 0, "3", 30, 100);
    let m4 = msg(a, -1, "4", 20, 2_000);
    let mb = msg(pk(2), 0, "other owner", 1, 1_000);
    for m in [&m1, &m2, &mb, &m3, &m4] {
        s.store(m.clone(), m.namespace.0 == -1).wait().unwrap();
    }
    let want = |ms: &[&NewMessage]| -> Vec<(Namespace, StoredMessage)> {
        ms.iter()
            .map(|m| {
                (
                    m.namespace,
                    StoredMessage {
                        hash: m.hash.clone(),
                        timestamp: m.timestamp,
                        expiry: m.expiry,
                        data: m.data.clone(),
                    },
                )
            })
            .collect()
    };
    // Insertion order across namespaces, whatever the timestamps.
    assert_eq!(
        s.dump_owner(&a, 0).wait().unwrap(),
        want(&[&m1, &m2, &m3, &m4])
    );
    assert_eq!(s.dump_owner(&a, 99).wait().unwrap().len(), 4);
    // expiry <= now is left out (before any sweep).
    assert_eq!(
        s.dump_owner(&a, 100).wait().unwrap(),
        want(&[&m1, &m2, &m4])
    );
    assert_eq!(s.dump_owner(&a, 1_000).wait().unwrap(), want(&[&m4]));
    assert!(s.dump_owner(&a, 2_000).wait().unwrap().is_empty());
    assert_eq!(s.dump_owner(&pk(2), 0).wait().unwrap(), want(&[&mb]));
    assert!(s.dump_owner(&pk(9), 0).wait().unwrap().is_empty());
}

pub fn insert_bulk_mix(s: &dyn MessageStore) {
    let (a, b) = (pk(1), pk(2));
    let now = 100;
    let existing = msg(a, 0, "existing", 1, 1_000);
    let outbox = msg(a, -1, "outbox 1", 1, 1_000);
    s.store(existing.clone(), false).wait().unwrap();
    s.store(outbox.clone(), true).wait().unwrap();
    let new1 = msg(a, 2, "new 1", 5, 1_000);
    let new2 = msg(b, 0, "new 2", 6, 1_000);
    let outbox2 = msg(a, -1, "outbox 2", 7, 1_000);
    let mut dup_later = existing.clone();
    dup_later.expiry = 5_000;
    dup_later.timestamp = 99;
    let expired_now = msg(a, 0, "expires now", 1, now);
    let expired_before = msg(pk(7), 0, "long gone", 1, 50);
    let mut new1_again = new1.clone();
    new1_again.expiry = 9_000;
    let batch = vec![
        new1.clone(),
        dup_later,
        expired_now.clone(),
        new2.clone(),
        expired_before.clone(),
        new1_again,
        outbox2.clone(),
    ];
    assert_eq!(s.insert_bulk(batch.clone(), now).wait().unwrap(), 3);
    assert_eq!(s.message_count().wait().unwrap(), 5);
    // The existing message keeps its expiry and timestamp (no extension).
    let e = s
        .get_expiries(&a, &[existing.hash.clone(), new1.hash.clone()])
        .wait()
        .unwrap();
    assert_eq!(e[&existing.hash], 1_000);
    assert_eq!(e[&new1.hash], 1_000, "the first copy in the batch wins");
    let r = s.retrieve(&a, Namespace(0), None, ALL, 0).wait().unwrap();
    assert_eq!(hashes(&r), vec![existing.hash.clone()]);
    assert_eq!(r.messages[0].timestamp, 1);
    // Inserted messages land in their namespaces, after the existing ones.
    let dump: Vec<(Namespace, String)> = s
        .dump_owner(&a, 0)
        .wait()
        .unwrap()
        .into_iter()
        .map(|(ns, m)| (ns, m.hash))
        .collect();
    assert_eq!(
        dump,
        vec![
            (Namespace(0), existing.hash.clone()),
            (Namespace(-1), outbox.hash.clone()),
            (Namespace(2), new1.hash.clone()),
            (Namespace(-1), outbox2.hash.clone()),
        ],
        "no replace-namespace semantics"
    );
    let r = s.retrieve(&b, Namespace(0), None, ALL, 0).wait().unwrap();
    assert_eq!(hashes(&r), vec![new2.hash.clone()]);
    assert_eq!(r.messages[0].data, b"new 2");
    assert_eq!(r.messages[0].timestamp, 6);
    // Expired messages were skipped, and their owners not created.
    assert!(
        s.get_expiries(&a, &[expired_now.hash])
            .wait()
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.owner_count().wait().unwrap(), 2);
    assert_eq!(sorted(s.owners().wait().unwrap()), vec![a, b]);
    // The same batch again inserts nothing.
    assert_eq!(s.insert_bulk(batch, now).wait().unwrap(), 0);
    assert_eq!(s.message_count().wait().unwrap(), 5);
}

pub fn insert_bulk_empty(s: &dyn MessageStore) {
    assert_eq!(s.insert_bulk(Vec::new(), 0).wait().unwrap(), 0);
    assert_eq!(s.message_count().wait().unwrap(), 0);
    assert_eq!(s.owner_count().wait().unwrap(), 0);
}

pub fn get_message_lookup(s: &dyn MessageStore) {
    let (a, b) = (pk(1), pk(2));
    let m = msg(a, 3, "hit", 7, 1_000);
    let mb = msg(b, 0, "b", 1, 1_000);
    s.store(m.clone(), false).wait().unwrap();
    s.store(mb.clone(), false).wait().unwrap();
    let want = StoredMessage {
        hash: m.hash.clone(),
        timestamp: 7,
        expiry: 1_000,
        data: b"hit".to_vec(),
    };
    assert_eq!(
        s.get_message(&a, &m.hash, 0).wait().unwrap(),
        Some((Namespace(3), want.clone()))
    );
    assert_eq!(
        s.get_message(&a, &m.hash, 999).wait().unwrap(),
        Some((Namespace(3), want))
    );
    // Expired (expiry <= now), even before a sweep.
    assert_eq!(s.get_message(&a, &m.hash, 1_000).wait().unwrap(), None);
    // Unknown hash, another owner's hash, unknown owner.
    assert_eq!(s.get_message(&a, &"A".repeat(43), 0).wait().unwrap(), None);
    assert_eq!(s.get_message(&a, &mb.hash, 0).wait().unwrap(), None);
    assert_eq!(s.get_message(&b, &m.hash, 0).wait().unwrap(), None);
    assert_eq!(s.get_message(&pk(9), &m.hash, 0).wait().unwrap(), None);
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn insertion_order_and_last_hash() {
                let (s, _g) = $make;
                super::insertion_order_and_last_hash(&*s);
            }
            #[test]
            fn limits() {
                let (s, _g) = $make;
                super::limits(&*s);
            }
            #[test]
            fn duplicate_hash_extends_expiry() {
                let (s, _g) = $make;
                super::duplicate_hash_extends_expiry(&*s);
            }
            #[test]
            fn public_outbox_keeps_one() {
                let (s, _g) = $make;
                super::public_outbox_keeps_one(&*s);
            }
            #[test]
            fn deletes() {
                let (s, _g) = $make;
                super::deletes(&*s);
            }
            #[test]
            fn expiries() {
                let (s, _g) = $make;
                super::expiries(&*s);
            }
            #[test]
            fn expiry_sweep_and_owner_cleanup() {
                let (s, _g) = $make;
                super::expiry_sweep_and_owner_cleanup(&*s);
            }
            #[test]
            fn revocations() {
                let (s, _g) = $make;
                super::revocations(&*s);
            }
            #[test]
            fn same_key_other_prefix_is_another_account() {
                let (s, _g) = $make;
                super::same_key_other_prefix_is_another_account(&*s);
            }
            #[test]
            fn concurrent_writers() {
                let (s, _g) = $make;
                super::concurrent_writers(&*s);
            }
            #[test]
            fn owners_listing() {
                let (s, _g) = $make;
                super::owners_listing(&*s);
            }
            #[test]
            fn dump_owner_order_and_expiry() {
                let (s, _g) = $make;
                super::dump_owner_order_and_expiry(&*s);
            }
            #[test]
            fn insert_bulk_mix() {
                let (s, _g) = $make;
                super::insert_bulk_mix(&*s);
            }
            #[test]
            fn insert_bulk_empty() {
                let (s, _g) = $make;
                super::insert_bulk_empty(&*s);
            }
            #[test]
            fn get_message_lookup() {
                let (s, _g) = $make;
                super::get_message_lookup(&*s);
            }
        }
    };
}

fn memory() -> (Box<dyn MessageStore>, ()) {
    (Box::new(memory::MemoryStore::new()), ())
}

fn sqlite() -> (Box<dyn MessageStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite::SqliteStore::open(dir.path(), u64::MAX).unwrap();
    (Box::new(s), dir)
}

conformance!(memory_backend, memory());
conformance!(sqlite_backend, sqlite());

fn full_check(s: &dyn MessageStore) {
    let a = pk(1);
    let big = "z".repeat(70_000);
    let mut stored = 0;
    let mut full = false;
    for i in 0..200 {
        match s
            .store(msg(a, 0, &format!("{i}{big}"), i, 1_000), false)
            .wait()
        {
            Ok(_) => stored += 1,
            Err(NodeError::DatabaseFull) => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(full, "the cap was reached");
    assert!(stored > 0);
    assert_eq!(s.message_count().wait().unwrap(), stored);
    // Freeing space makes room again.
    s.delete_all(&a, NsSelector::All).wait().unwrap();
    s.store(msg(a, 0, "small", 1, 1_000), false).wait().unwrap();
}

#[test]
fn memory_full() {
    full_check(&memory::MemoryStore::with_size_limit(1_000_000));
}

#[test]
fn sqlite_full() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite::SqliteStore::open(dir.path(), 1_000_000).unwrap();
    full_check(&s);
}

#[test]
fn sqlite_full_in_a_batch_does_not_fail_neighbours() {
    // Concurrent small writes next to writes that can never fit: the small ones succeed
    // even when they share a transaction with a failing one.
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite::SqliteStore::open(dir.path(), 400_000).unwrap();
    let huge = "h".repeat(500_000);
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let s = &s;
            let huge = &huge;
            scope.spawn(move || {
                for i in 0..8 {
                    let _ = s
                        .store(msg(pk(100 + t), 0, &format!("{i}{huge}"), i, 1_000), false)
                        .wait();
                }
            });
        }
        for t in 0..4u8 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..20 {
                    s.store(msg(pk(t), 0, &format!("small {i}"), i, 1_000), false)
                        .wait()
                        .unwrap();
                }
            });
        }
    });
    for t in 0..4u8 {
        assert_eq!(
            s.retrieve(&pk(t), Namespace(0), None, ALL, 0)
                .wait()
                .unwrap()
                .messages
                .len(),
            20
        );
    }
}

/// A bulk insert over the cap fails as `store` does and inserts nothing (one
/// transaction); a smaller one afterwards succeeds.
fn bulk_full_check(s: &dyn MessageStore) {
    let a = pk(1);
    let big = "z".repeat(70_000);
    let batch: Vec<NewMessage> = (0..40)
        .map(|i| msg(a, 0, &format!("{i}{big}"), i, 1_000))
        .collect();
    match s.insert_bulk(batch, 0).wait() {
        Err(NodeError::DatabaseFull) => {}
        other => panic!("expected DatabaseFull, got {other:?}"),
    }
    assert_eq!(s.message_count().wait().unwrap(), 0, "all or nothing");
    assert_eq!(s.owner_count().wait().unwrap(), 0);
    let batch: Vec<NewMessage> = (0..5)
        .map(|i| msg(a, 0, &format!("{i}{big}"), i, 1_000))
        .collect();
    assert_eq!(s.insert_bulk(batch, 0).wait().unwrap(), 5);
}

#[test]
fn memory_bulk_full() {
    bulk_full_check(&memory::MemoryStore::with_size_limit(1_000_000));
}

#[test]
fn sqlite_bulk_full() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite::SqliteStore::open(dir.path(), 1_000_000).unwrap();
    bulk_full_check(&s);
}
