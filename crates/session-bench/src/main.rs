//! `session-bench SCENARIO`: runs a benchmark scenario and prints one JSON line per
//! measurement. Figures are for humans and notes; no test asserts on them.

fn main() {}
