//! Runs N messages (alice's SendMessage and bob's acknowledgement, whose reply brings the next
//! NewMessage) through the native server engine, for instruction counts under callgrind:
//! `valgrind --tool=callgrind --toggle-collect='*Server::handle*' target/release/examples/im_loop 20000`
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
        .unwrap_or(20_000);
    let mut talk = support::Conversation::new();
    for _ in 0..n {
        let (send, ack) = talk.next_inputs();
        let answer = support::run(&mut talk.server, send);
        let reply = support::run(&mut talk.server, ack);
        talk.check(&answer, &reply);
    }
    println!("{n} messages");
}
