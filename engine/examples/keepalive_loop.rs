//! Runs N KeepAlive transactions through the native server engine, for instruction counts
//! under `valgrind --tool=callgrind` (repeatable on a noisy machine, unlike wall time):
//! `cargo build --release --example keepalive_loop && valgrind --tool=callgrind target/release/examples/keepalive_loop 20000`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../benches/support/mod.rs"]
mod support;

use imps_engine::server::Output;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let (mut server, bodies) = support::keep_alive_setup();
    let mut replies = 0usize;
    for i in 0..n {
        let body = bodies[i % bodies.len()].clone();
        server.handle(i as u64 + 1, support::request(i as u64, body));
        while let Some(o) = server.poll_output() {
            if matches!(o, Output::Reply(_)) {
                replies += 1;
            }
        }
    }
    println!("{replies} replies");
}
