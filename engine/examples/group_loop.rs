//! Runs N group messages (from the owner to the 200 other joined members, as the `groups`
//! bench does) through the native server engine, for instruction counts under callgrind:
//! `valgrind --tool=callgrind --toggle-collect='*im::send_message*' target/release/examples/group_loop 50`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The allocator `imps` links.
#[global_allocator]
static ALLOCATOR: imps_alloc::Allocator = imps_alloc::Allocator;

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let (mut server, bodies) = support::groups::setup();
    for body in bodies.into_iter().cycle().take(n) {
        let reply = support::run(&mut server, support::request(1, body));
        assert!(!reply.is_empty());
    }
    println!("{n} group messages");
}
