//! The chain's deterministic randomness (network-governance §2 "RNG", §3.2, §8.1):
//! C++ `std::mt19937_64`, `std::seed_seq::generate`, oxend's portable uniform index and
//! portable shuffle. All bit-exact with libstdc++ / the C++ standard.

use std::num::NonZeroU64;

const N: usize = 312;
const M: usize = 156;
const MATRIX_A: u64 = 0xB502_6F5A_A966_19E9;
/// The top `w − r = 33` bits.
const UPPER_MASK: u64 = 0xFFFF_FFFF_8000_0000;
/// The low `r = 31` bits.
const LOWER_MASK: u64 = 0x0000_0000_7FFF_FFFF;
const INIT_MULTIPLIER: u64 = 6_364_136_223_846_793_005;

/// C++ `std::mt19937_64` (ISO C++ [rand.predef]): the 64-bit Mersenne Twister with the
/// standard's parameters, seeded either with one `u64` (as the swarm algorithm does,
/// network-governance §2) or through `std::seed_seq` (as the HF16+ quorums do, §3.2).
///
/// `Clone` copies the whole state, like copying the C++ engine (the obligations quorum
/// shuffles two ranges from the same state, §3.2).
#[derive(Clone)]
pub struct Mt19937_64 {
    state: [u64; N],
    index: usize,
}

impl std::fmt::Debug for Mt19937_64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937_64")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Mt19937_64 {
    /// The default seed of a default-constructed C++ engine.
    pub const DEFAULT_SEED: u64 = 5489;

    /// `std::mt19937_64(seed)`.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u64; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = INIT_MULTIPLIER
                .wrapping_mul(prev ^ (prev >> 62))
                .wrapping_add(i as u64);
        }
        Self { state, index: N }
    }

    /// `std::mt19937_64 e; e.seed(std::seed_seq(words))`: the state is 624 words of
    /// [`seed_seq_generate`], paired low word first (ISO C++ [rand.eng.mers]).
    pub fn from_seed_seq(words: &[u32]) -> Self {
        let generated = seed_seq_generate(words, 2 * N);
        let mut state = [0u64; N];
        for (slot, pair) in state.iter_mut().zip(generated.chunks_exact(2)) {
            *slot = u64::from(pair[0]) | (u64::from(pair[1]) << 32);
        }
        // The standard's all-zero guard: if the top w−r bits of X[0] and all other words
        // are zero, X[0] becomes 2^(w−1).
        if state[0] & UPPER_MASK == 0 && state[1..].iter().all(|&w| w == 0) {
            state[0] = 1 << 63;
        }
        Self { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let x = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut x_a = x >> 1;
            if x & 1 != 0 {
                x_a ^= MATRIX_A;
            }
            self.state[i] = self.state[(i + M) % N] ^ x_a;
        }
        self.index = 0;
    }

    /// The next output (`engine()` in C++).
    pub fn next_u64(&mut self) -> u64 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index % N];
        self.index += 1;
        y ^= (y >> 29) & 0x5555_5555_5555_5555;
        y ^= (y << 17) & 0x71D6_7FFF_EDA6_0000;
        y ^= (y << 37) & 0xFFF7_EEE0_0000_0000;
        y ^= y >> 43;
        y
    }

    /// `engine.discard(z)`: skips `z` outputs.
    pub fn discard(&mut self, z: u64) {
        for _ in 0..z {
            self.next_u64();
        }
    }
}

/// C++ `std::seed_seq(seeds).generate(out)` with `out.len() == count`
/// (ISO C++ [rand.util.seedseq]); all arithmetic modulo 2^32.
pub fn seed_seq_generate(seeds: &[u32], count: usize) -> Vec<u32> {
    let n = count;
    if n == 0 {
        return Vec::new();
    }
    let mut b = vec![0x8b8b_8b8b_u32; n];
    let s = seeds.len();
    let t = if n >= 623 {
        11
    } else if n >= 68 {
        7
    } else if n >= 39 {
        5
    } else if n >= 7 {
        3
    } else {
        (n - 1) / 2
    };
    let p = (n - t) / 2;
    let q = p + t;
    let m = (s + 1).max(n);
    let tf = |x: u32| x ^ (x >> 27);
    for k in 0..m {
        let r1 = 1_664_525_u32.wrapping_mul(tf(b[k % n] ^ b[(k + p) % n] ^ b[(k + n - 1) % n]));
        let r2 = if k == 0 {
            r1.wrapping_add(s as u32)
        } else if k <= s {
            r1.wrapping_add((k % n) as u32).wrapping_add(seeds[k - 1])
        } else {
            r1.wrapping_add((k % n) as u32)
        };
        b[(k + p) % n] = b[(k + p) % n].wrapping_add(r1);
        b[(k + q) % n] = b[(k + q) % n].wrapping_add(r2);
        b[k % n] = r2;
    }
    for k in m..m + n {
        let sum = b[k % n]
            .wrapping_add(b[(k + p) % n])
            .wrapping_add(b[(k + n - 1) % n]);
        let r3 = 1_566_083_941_u32.wrapping_mul(tf(sum));
        let r4 = r3.wrapping_sub((k % n) as u32);
        b[(k + p) % n] ^= r3;
        b[(k + q) % n] ^= r4;
        b[k % n] = r4;
    }
    b
}

/// oxend's `uniform_distribution_portable(rng, n)` (network-governance §2 "RNG"): a
/// uniform value in `[0, n)` by rejection — `lim = (2^64−1) − ((2^64−1) mod n)`, draw
/// `x` until `x < lim`, return `x / (lim / n)`. Always consumes at least one output,
/// even for `n == 1`. (Not `std::uniform_int_distribution`.)
pub fn uniform_portable(rng: &mut Mt19937_64, n: NonZeroU64) -> u64 {
    let n = n.get();
    let secure_max = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < secure_max {
            return x / (secure_max / n);
        }
    }
}

/// oxend's `shuffle_portable` (network-governance §3.2): for `i = 1..len`:
/// `j = uniform(rng, i + 1)`, swap `i` and `j`. Slices of length ≤ 1 draw nothing.
pub fn shuffle_portable<T>(items: &mut [T], rng: &mut Mt19937_64) {
    if items.len() <= 1 {
        return;
    }
    for i in 1..items.len() {
        let bound = NonZeroU64::MIN.saturating_add(i as u64);
        let j = uniform_portable(rng, bound) as usize;
        items.swap(i, j);
    }
}

/// The swarm algorithm's seed (network-governance §2, §8.1): the first 8 bytes of the
/// block hash read little-endian.
pub fn swarm_seed(block_hash: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&block_hash[..8]);
    u64::from_le_bytes(first)
}
