//! Presence fan-out and memory benchmarks (placeholder filled in below).
fn main() {}
