//! The retry policy of failed swarm forwards (storage-node spec §5.6, newer versions):
//! each (request, node) pair that missed a forward is retried with exponential backoff
//! starting at 1 s and multiplied by 1.75 per failure, capped at 60 s, and the forward is
//! dropped 30 days after its first failure.
//!
//! Pure functions over milliseconds; the persistent queue that applies them is
//! [`super::queue`].

/// Delay after the first failure, ms.
pub const FIRST_RETRY_MS: u64 = 1_000;
/// Factor applied to the delay on each further failure.
pub const RETRY_FACTOR: f64 = 1.75;
/// Longest delay between two attempts, ms.
pub const MAX_RETRY_MS: u64 = 60_000;
/// A forward is dropped this long after its first failure, ms (30 days).
pub const GIVE_UP_AFTER_MS: u64 = 30 * 24 * 3600 * 1000;

/// Failures beyond which the delay is certainly capped (1.75^64 ≫ 60): keeps the power
/// finite and exact however large `attempts` is.
const MAX_EXPONENT: u32 = 64;

/// The delay before the next attempt after `attempts` failures so far (≥ 1; 0 is
/// treated as 1): ⌊1000 × 1.75^(attempts−1)⌋ ms, capped at [`MAX_RETRY_MS`].
/// 1 → 1000, 2 → 1750, 3 → 3062, 4 → 5359, … 8 → 50265, 9 and more → 60000.
pub fn retry_delay_ms(attempts: u32) -> u64 {
    let exponent = attempts.saturating_sub(1).min(MAX_EXPONENT);
    // `exponent` ≤ 64 always fits an i32.
    let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
    // 1.75 = 7/4, so small powers are exact in f64 and the floor is the exact one.
    let delay = (FIRST_RETRY_MS as f64 * RETRY_FACTOR.powi(exponent)).floor();
    if delay >= MAX_RETRY_MS as f64 {
        MAX_RETRY_MS
    } else {
        // 0 ≤ delay < 60000: the conversion is exact.
        delay as u64
    }
}

/// Whether a forward that first failed at `first_failure_ms` is to be given up at
/// `now_ms`: once [`GIVE_UP_AFTER_MS`] (30 days) or more have passed.
pub fn expired(first_failure_ms: i64, now_ms: i64) -> bool {
    let give_up = i64::try_from(GIVE_UP_AFTER_MS).unwrap_or(i64::MAX);
    now_ms.saturating_sub(first_failure_ms) >= give_up
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_exact_values() {
        let got: Vec<u64> = (1..=10).map(retry_delay_ms).collect();
        assert_eq!(
            got,
            [
                1_000, 1_750, 3_062, 5_359, 9_378, 16_413, 28_722, 50_265, 60_000, 60_000
            ]
        );
    }

    #[test]
    fn zero_attempts_is_the_first_delay() {
        assert_eq!(retry_delay_ms(0), FIRST_RETRY_MS);
    }

    #[test]
    fn capped_and_never_overflows() {
        for a in [
            9,
            10,
            50,
            64,
            65,
            100,
            1_000,
            1_000_000,
            u32::MAX - 1,
            u32::MAX,
        ] {
            assert_eq!(retry_delay_ms(a), MAX_RETRY_MS, "attempts {a}");
        }
        // Non-decreasing all the way to the cap.
        let mut prev = 0;
        for a in 1..200 {
            let d = retry_delay_ms(a);
            assert!(d >= prev && d <= MAX_RETRY_MS);
            prev = d;
        }
    }

    #[test]
    fn give_up_after_thirty_days() {
        assert_eq!(GIVE_UP_AFTER_MS, 2_592_000_000);
        let t0 = 1_700_000_000_000;
        let limit = 2_592_000_000;
        assert!(!expired(t0, t0));
        assert!(!expired(t0, t0 + limit - 1));
        assert!(expired(t0, t0 + limit));
        assert!(expired(t0, t0 + limit + 1));
        // A clock that went backwards never expires an entry.
        assert!(!expired(t0, t0 - 1));
        // Extremes do not overflow.
        assert!(expired(i64::MIN, i64::MAX));
        assert!(!expired(i64::MAX, i64::MIN));
    }
}
