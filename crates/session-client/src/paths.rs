//! Onion paths (client-protocol §8.2), pure: which nodes may share a path, how a path
//! is built around a tested guard, and when a path is given up.
//!
//! * A path is `path_hops` nodes (3 by default): a guard (the only node that sees the
//!   client's IP; tested by the client before use) and random others. No node appears
//!   twice, and no two nodes of a path share an IPv4 /24 ([`Subnet`]), so one operator
//!   with one subnet cannot hold two hops of a path. Nodes already used by other
//!   paths are avoided while the pool allows it.
//! * **Loopback is exempt from the /24 rule.** On a single-machine network (the
//!   testkit, `session devnet`) every node listens on 127.0.0.1 and differs only by
//!   port, so the /24 rule would forbid any path at all. Loopback nodes are grouped by
//!   `ip:port` instead: no real network reaches a client over loopback, so this
//!   exemption gives a remote attacker nothing.
//! * [`PathSet`] counts failures per path: a path is dropped after
//!   [`PATH_FAILURE_LIMIT`] consecutive failures (a success resets the count), and at
//!   once when one of its nodes is dropped from the directory; the client then builds
//!   a new one.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::directory::Snode;
use crate::error::{ClientError, Result};
use crate::rng::Rng;

/// Consecutive failures after which a path is dropped.
pub const PATH_FAILURE_LIMIT: u32 = 3;

/// The group of addresses of which a path may hold only one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subnet {
    /// An IPv4 /24: the first three octets.
    V4([u8; 3]),
    /// An IPv6 /48: the first three groups.
    V6([u16; 3]),
    /// A loopback address: grouped by `ip:port` (see the module documentation).
    Local(SocketAddr),
}

/// The [`Subnet`] of an address (IPv4-mapped IPv6 counts as IPv4).
pub fn subnet_of(addr: &SocketAddr) -> Subnet {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return Subnet::Local(SocketAddr::new(ip, addr.port()));
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Subnet::V4([a, b, c])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Subnet::V6([s[0], s[1], s[2]])
        }
    }
}

/// Whether two nodes may not share a path.
pub fn same_subnet(a: &Snode, b: &Snode) -> bool {
    subnet_of(&a.addr) == subnet_of(&b.addr)
}

/// Guard candidates in random order: pool nodes that are not in `taken` and share no
/// subnet with a node of `taken` (the other paths' guards). The caller tests them in
/// order and, having accepted one, skips later candidates of the same subnet.
pub fn guard_candidates(pool: &[Snode], taken: &[Snode], rng: &mut Rng) -> Vec<Snode> {
    let mut out: Vec<Snode> = pool
        .iter()
        .filter(|n| {
            !taken
                .iter()
                .any(|t| t.ed25519 == n.ed25519 || same_subnet(t, n))
        })
        .cloned()
        .collect();
    rng.shuffle(&mut out);
    out
}

/// Builds a path of `hops` nodes starting at `guard`: random pool nodes, no node twice,
/// one per [`Subnet`], preferring nodes not in `avoid` (nodes of other paths, the
/// destination) and using them only when the pool is too small otherwise.
pub fn build_path(
    guard: &Snode,
    pool: &[Snode],
    hops: usize,
    avoid: &BTreeSet<[u8; 32]>,
    rng: &mut Rng,
) -> Result<Vec<Snode>> {
    let mut path = vec![guard.clone()];
    let mut candidates: Vec<&Snode> = pool.iter().filter(|n| n.ed25519 != guard.ed25519).collect();
    rng.shuffle(&mut candidates);
    // Fresh nodes first, then (if needed) nodes that other paths use.
    candidates.sort_by_key(|n| avoid.contains(&n.ed25519));
    for n in candidates {
        if path.len() >= hops {
            break;
        }
        if !path
            .iter()
            .any(|p| p.ed25519 == n.ed25519 || same_subnet(p, n))
        {
            path.push(n.clone());
        }
    }
    if path.len() < hops {
        let subnets: BTreeSet<Subnet> = pool.iter().map(|n| subnet_of(&n.addr)).collect();
        return Err(ClientError::NotEnoughNodes {
            have: subnets.len(),
            need: hops,
        });
    }
    Ok(path)
}

/// One onion path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionPath {
    id: u64,
    hops: Vec<Snode>,
    failures: u32,
}

impl OnionPath {
    /// A stable id (unique within its [`PathSet`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The hops, guard first.
    pub fn hops(&self) -> &[Snode] {
        &self.hops
    }

    /// The guard (first hop); `None` only for an empty path, which a [`PathSet`]
    /// never holds.
    pub fn guard(&self) -> Option<&Snode> {
        self.hops.first()
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether the node is one of the hops.
    pub fn contains(&self, ed25519: &[u8; 32]) -> bool {
        self.hops.iter().any(|h| &h.ed25519 == ed25519)
    }
}

/// The client's onion paths.
#[derive(Debug, Clone, Default)]
pub struct PathSet {
    paths: Vec<OnionPath>,
    next_id: u64,
}

impl PathSet {
    /// No paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a path (ignored when empty); returns its id.
    pub fn add(&mut self, hops: Vec<Snode>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if !hops.is_empty() {
            self.paths.push(OnionPath {
                id,
                hops,
                failures: 0,
            });
        }
        id
    }

    /// The paths.
    pub fn paths(&self) -> &[OnionPath] {
        &self.paths
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether there is no path.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The path with this id.
    pub fn get(&self, id: u64) -> Option<&OnionPath> {
        self.paths.iter().find(|p| p.id == id)
    }

    /// The guards of all paths.
    pub fn guards(&self) -> Vec<Snode> {
        self.paths
            .iter()
            .filter_map(|p| p.guard().cloned())
            .collect()
    }

    /// Every node some path uses.
    pub fn nodes_in_use(&self) -> BTreeSet<[u8; 32]> {
        self.paths
            .iter()
            .flat_map(|p| p.hops.iter().map(|h| h.ed25519))
            .collect()
    }

    /// A random path for a request, preferring (in this order) paths not in `tried`
    /// and not containing `dest`, then any path not in `tried`, then any path.
    pub fn pick(&self, dest: Option<&[u8; 32]>, tried: &[u64], rng: &mut Rng) -> Option<OnionPath> {
        let fresh = |p: &&OnionPath| !tried.contains(&p.id);
        let clean = |p: &&OnionPath| dest.is_none_or(|d| !p.contains(d));
        let tiers: [Vec<&OnionPath>; 3] = [
            self.paths.iter().filter(fresh).filter(clean).collect(),
            self.paths.iter().filter(fresh).collect(),
            self.paths.iter().collect(),
        ];
        let tier = tiers.into_iter().find(|t| !t.is_empty())?;
        tier.get(rng.below(tier.len())).map(|p| (*p).clone())
    }

    /// Counts a failure of path `id`; drops it (returning true) at
    /// [`PATH_FAILURE_LIMIT`].
    pub fn record_failure(&mut self, id: u64) -> bool {
        let Some(p) = self.paths.iter_mut().find(|p| p.id == id) else {
            return false;
        };
        p.failures += 1;
        if p.failures >= PATH_FAILURE_LIMIT {
            self.paths.retain(|p| p.id != id);
            true
        } else {
            false
        }
    }

    /// Clears path `id`'s failure count.
    pub fn record_success(&mut self, id: u64) {
        if let Some(p) = self.paths.iter_mut().find(|p| p.id == id) {
            p.failures = 0;
        }
    }

    /// Drops every path through the node; returns how many were dropped.
    pub fn drop_node(&mut self, ed25519: &[u8; 32]) -> usize {
        let before = self.paths.len();
        self.paths.retain(|p| !p.contains(ed25519));
        before - self.paths.len()
    }

    /// Drops every path with a node `known` rejects (e.g. no longer in the directory);
    /// returns how many were dropped.
    pub fn retain_known(&mut self, known: impl Fn(&[u8; 32]) -> bool) -> usize {
        let before = self.paths.len();
        self.paths
            .retain(|p| p.hops.iter().all(|h| known(&h.ed25519)));
        before - self.paths.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;
    use crate::directory::tests::node;

    #[test]
    fn subnets() {
        let s = |a: &str| subnet_of(&a.parse().unwrap());
        assert_eq!(s("10.1.2.3:1"), s("10.1.2.200:9"));
        assert_ne!(s("10.1.2.3:1"), s("10.1.3.3:1"));
        assert_eq!(s("[::ffff:10.1.2.3]:1"), s("10.1.2.9:1"));
        assert_eq!(s("[2001:db8:1:2::1]:1"), s("[2001:db8:1:3::1]:1"));
        assert_ne!(s("[2001:db8:1::1]:1"), s("[2001:db8:2::1]:1"));
        // Loopback: one group per ip:port.
        assert_ne!(s("127.0.0.1:1000"), s("127.0.0.1:1001"));
        assert_eq!(s("127.0.0.1:1000"), s("127.0.0.1:1000"));
        assert_ne!(s("127.0.0.1:1000"), s("127.0.0.2:1000"));
        assert!(matches!(s("[::1]:5"), Subnet::Local(_)));
    }

    /// 3 subnets × 3 nodes.
    fn pool() -> Vec<Snode> {
        (0..9u8)
            .map(|i| node(i + 1, &format!("10.0.{}.{}:22021", i / 3, i + 1)))
            .collect()
    }

    #[test]
    fn paths_hold_one_node_per_subnet() {
        let pool = pool();
        for seed in 0..200 {
            let mut rng = Rng::seeded(seed);
            let guard = &pool[rng.below(pool.len())];
            let path = build_path(guard, &pool, 3, &BTreeSet::new(), &mut rng).unwrap();
            assert_eq!(path.len(), 3);
            assert_eq!(&path[0], guard);
            let subnets: BTreeSet<Subnet> = path.iter().map(|n| subnet_of(&n.addr)).collect();
            assert_eq!(subnets.len(), 3, "{path:?}");
        }
        // Only 3 subnets: 4 hops are impossible, and the error says so.
        let mut rng = Rng::seeded(1);
        let e = build_path(&pool[0], &pool, 4, &BTreeSet::new(), &mut rng).unwrap_err();
        assert!(
            matches!(e, ClientError::NotEnoughNodes { have: 3, need: 4 }),
            "{e}"
        );
    }

    #[test]
    fn loopback_nodes_make_paths() {
        let pool: Vec<Snode> = (1..=4u8)
            .map(|i| node(i, &format!("127.0.0.1:{}", 4000 + u16::from(i))))
            .collect();
        let mut rng = Rng::seeded(3);
        let path = build_path(&pool[0], &pool, 3, &BTreeSet::new(), &mut rng).unwrap();
        let keys: BTreeSet<[u8; 32]> = path.iter().map(|n| n.ed25519).collect();
        assert_eq!(keys.len(), 3);
    }

    #[test]
    fn other_paths_nodes_are_avoided_while_possible() {
        let pool: Vec<Snode> = (1..=7u8)
            .map(|i| node(i, &format!("10.0.{i}.1:1")))
            .collect();
        let avoid: BTreeSet<[u8; 32]> = [[2; 32], [3; 32], [4; 32]].into();
        for seed in 0..50 {
            let mut rng = Rng::seeded(seed);
            let path = build_path(&pool[0], &pool, 3, &avoid, &mut rng).unwrap();
            assert!(path.iter().all(|n| !avoid.contains(&n.ed25519)), "{path:?}");
            // Too few fresh nodes: avoided ones fill in.
            let path = build_path(&pool[0], &pool, 6, &avoid, &mut rng).unwrap();
            assert_eq!(path.len(), 6);
        }
    }

    #[test]
    fn guard_candidates_skip_taken_subnets() {
        let pool = pool();
        let mut rng = Rng::seeded(5);
        let taken = vec![pool[0].clone()];
        let c = guard_candidates(&pool, &taken, &mut rng);
        assert_eq!(c.len(), 6);
        assert!(c.iter().all(|n| !same_subnet(n, &pool[0])));
    }

    #[test]
    fn failure_counting() {
        let pool = pool();
        let mut set = PathSet::new();
        let a = set.add(vec![pool[0].clone(), pool[3].clone(), pool[6].clone()]);
        let b = set.add(vec![pool[1].clone(), pool[4].clone(), pool[7].clone()]);
        assert_eq!(set.add(Vec::new()), 2);
        assert_eq!(set.len(), 2);
        assert_eq!(set.guards(), vec![pool[0].clone(), pool[1].clone()]);
        assert_eq!(set.nodes_in_use().len(), 6);
        // Two failures, a success, two more: still there.
        assert!(!set.record_failure(a));
        assert!(!set.record_failure(a));
        set.record_success(a);
        assert!(!set.record_failure(a));
        assert!(!set.record_failure(a));
        assert_eq!(set.get(a).unwrap().failures(), 2);
        assert!(set.record_failure(a));
        assert!(set.get(a).is_none());
        assert!(!set.record_failure(a));
        // Dropping a node drops its paths.
        assert_eq!(set.drop_node(&pool[4].ed25519), 1);
        assert!(set.get(b).is_none());
        assert!(set.is_empty());
        let c = set.add(vec![pool[2].clone(), pool[5].clone()]);
        assert_eq!(set.retain_known(|k| k != &pool[5].ed25519), 1);
        assert!(set.get(c).is_none());
    }

    #[test]
    fn pick_prefers_untried_paths_without_the_destination() {
        let pool = pool();
        let mut set = PathSet::new();
        let a = set.add(vec![pool[0].clone(), pool[3].clone(), pool[6].clone()]);
        let b = set.add(vec![pool[1].clone(), pool[4].clone(), pool[7].clone()]);
        let mut rng = Rng::seeded(9);
        for _ in 0..20 {
            assert_eq!(
                set.pick(Some(&pool[3].ed25519), &[], &mut rng)
                    .unwrap()
                    .id(),
                b
            );
            assert_eq!(set.pick(None, &[b], &mut rng).unwrap().id(), a);
            assert_eq!(
                set.pick(Some(&pool[0].ed25519), &[b], &mut rng)
                    .unwrap()
                    .id(),
                a
            );
            assert!(set.pick(None, &[a, b], &mut rng).is_some());
        }
        assert!(PathSet::new().pick(None, &[], &mut rng).is_none());
    }
}
