//! Caravan benchmarks.
fn main() {}
