//! Timing helpers: run an operation for a fixed wall-clock budget and report ops/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `op` repeatedly for about `budget` (after a short warm-up) and returns ops/s.
pub fn ops_per_sec<T>(budget: Duration, mut op: impl FnMut() -> T) -> f64 {
    let warm_until = Instant::now() + budget / 10;
    while Instant::now() < warm_until {
        black_box(op());
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    // Check the clock every 16 operations so timing overhead stays negligible.
    loop {
        for _ in 0..16 {
            black_box(op());
        }
        n += 16;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return n as f64 / elapsed.as_secs_f64();
        }
    }
}

/// Rounds to one decimal place for printing.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
