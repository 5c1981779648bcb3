//! Protocol limits (storage-node spec §5.2, §1.3, §1.6) and the per-IP rate limiter.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use session_rt::Clock;

/// Maximum HTTP request body (10 MiB).
pub const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;
/// Maximum decoded message data.
pub const MAX_MESSAGE_BODY: usize = 76_800;
/// Minimum TTL.
pub const TTL_MIN_MS: i64 = 10_000;
/// Maximum TTL of a new message in a public-inbox namespace (14 days).
pub const TTL_MAX_PUBLIC_MS: i64 = 14 * 24 * 3600 * 1000;
/// Maximum TTL elsewhere and for `expire` (30 days).
pub const TTL_MAX_PRIVATE_MS: i64 = 30 * 24 * 3600 * 1000;
/// `store` clock tolerance.
pub const STORE_TOLERANCE_MS: i64 = 10_000;
/// Signature timestamp window.
pub const SIGNATURE_TOLERANCE_MS: i64 = 60_000;
/// Signature timestamp window for requests forwarded by a swarm peer.
pub const SIGNATURE_TOLERANCE_FORWARDED_MS: i64 = 70_000;
/// Retrieve response budget.
pub const RETRIEVE_MAX_SIZE: i64 = 7_800_000;
/// Per-message overhead counted against the retrieve budget.
pub const RETRIEVE_MSG_OVERHEAD: i64 = 100;
/// Maximum sub-requests of `batch`/`sequence`.
pub const BATCH_MAX: usize = 20;
/// Maximum tokens of one `revoke_subaccount`, and revocations kept per account.
pub const MAX_SUBACCOUNT_TOKENS: usize = 50;
/// Default database size cap (v2.8.0: 3.5 GiB).
pub const DEFAULT_DB_SIZE_LIMIT: u64 = 3584 * 1024 * 1024;
/// Expiry sweep period.
pub const EXPIRY_SWEEP_MS: u64 = 10_000;

/// Token-bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added per second (0 disables the limiter).
    pub per_second: u32,
    /// Bucket size (burst).
    pub burst: u32,
    /// Maximum tracked clients.
    pub max_clients: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 300,
            burst: 600,
            max_clients: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a token.
    milli_tokens: u64,
    last_ms: u64,
}

/// A token bucket per client IPv4 address, driven by the injected clock.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<Ipv4Addr, Bucket>>,
}

impl RateLimiter {
    /// A limiter with `limit` on `clock`.
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.limit.burst) * 1000
    }

    fn refill(&self, b: &mut Bucket, now: u64) {
        let elapsed = now.saturating_sub(b.last_ms);
        // per_second tokens/s = per_second milli-tokens per ms.
        let add = elapsed.saturating_mul(u64::from(self.limit.per_second));
        b.milli_tokens = b.milli_tokens.saturating_add(add).min(self.capacity());
        b.last_ms = b.last_ms.max(now);
    }

    /// Takes one token for `ip`; `true` means the request must be refused (429).
    pub fn should_limit(&self, ip: Ipv4Addr) -> bool {
        if self.limit.per_second == 0 {
            return false;
        }
        let now = self.clock.now_ms();
        let mut buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !buckets.contains_key(&ip) && buckets.len() >= self.limit.max_clients {
            // Forget clients whose buckets are full again; if none, refuse the newcomer.
            let cap = self.capacity();
            let snapshot: Vec<Ipv4Addr> = buckets.keys().copied().collect();
            for k in snapshot {
                if let Some(b) = buckets.get_mut(&k) {
                    self.refill(b, now);
                    if b.milli_tokens >= cap {
                        buckets.remove(&k);
                    }
                }
            }
            if buckets.len() >= self.limit.max_clients {
                return true;
            }
        }
        let cap = self.capacity();
        let b = buckets.entry(ip).or_insert(Bucket {
            milli_tokens: cap,
            last_ms: now,
        });
        self.refill(b, now);
        if b.milli_tokens >= 1000 {
            b.milli_tokens -= 1000;
            false
        } else {
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_rt::MockClock;
    use std::time::Duration;

    #[test]
    fn bucket_drains_and_refills_in_virtual_time() {
        let clock = MockClock::new(1_000_000);
        let rl = RateLimiter::new(RateLimit::default(), clock.shared());
        let ip = Ipv4Addr::new(203, 0, 113, 1);
        for i in 0..600 {
            assert!(!rl.should_limit(ip), "request {i} within the burst");
        }
        assert!(rl.should_limit(ip));
        // Another client is unaffected.
        assert!(!rl.should_limit(Ipv4Addr::new(203, 0, 113, 2)));
        // 10 ms refill 3 tokens.
        clock.advance(Duration::from_millis(10));
        for _ in 0..3 {
            assert!(!rl.should_limit(ip));
        }
        assert!(rl.should_limit(ip));
        clock.advance(Duration::from_secs(10));
        for _ in 0..600 {
            assert!(!rl.should_limit(ip));
        }
        assert!(rl.should_limit(ip));
    }

    #[test]
    fn client_table_is_bounded() {
        let clock = MockClock::new(0);
        let rl = RateLimiter::new(
            RateLimit {
                per_second: 1,
                burst: 2,
                max_clients: 2,
            },
            clock.shared(),
        );
        assert!(!rl.should_limit(Ipv4Addr::new(1, 0, 0, 1)));
        assert!(!rl.should_limit(Ipv4Addr::new(1, 0, 0, 2)));
        // Table full of non-full buckets: a third client is refused.
        assert!(rl.should_limit(Ipv4Addr::new(1, 0, 0, 3)));
        // Once the buckets refill they are forgotten and the newcomer gets in.
        clock.advance(Duration::from_secs(5));
        assert!(!rl.should_limit(Ipv4Addr::new(1, 0, 0, 3)));
    }

    #[test]
    fn zero_rate_disables() {
        let rl = RateLimiter::new(
            RateLimit {
                per_second: 0,
                burst: 0,
                max_clients: 1,
            },
            MockClock::new(0).shared(),
        );
        for _ in 0..10_000 {
            assert!(!rl.should_limit(Ipv4Addr::LOCALHOST));
        }
    }
}
