//! The shared known-answer vectors (see the `session-testvectors` crate).
#![allow(dead_code, unused_imports)]

pub use session_testvectors::*;
