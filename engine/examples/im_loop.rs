//! Runs N messages (alice's SendMessage and bob's acknowledgement, whose reply brings the next
//! NewMessage) through the native server engine, for instruction counts under callgrind:
//! `valgrind --tool=callgrind --toggle-collect='*Server::handle*' target/release/examples/im_loop 20000`
//! (`*send_step*` or `*ack_step*` instead count each request alone).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The allocator `imps` links.
#[global_allocator]
static ALLOCATOR: imps_alloc::Allocator = imps_alloc::Allocator;

#[path = "../benches/support/mod.rs"]
mod support;

/// alice's SendMessage alone (callgrind: `--toggle-collect='*send_step*'`).
#[inline(never)]
fn send_step(
    server: &mut imps_engine::server::Server,
    input: imps_engine::server::Input,
) -> Vec<u8> {
    support::run(server, input)
}

/// bob's acknowledgement alone (`--toggle-collect='*ack_step*'`).
#[inline(never)]
fn ack_step(
    server: &mut imps_engine::server::Server,
    input: imps_engine::server::Input,
) -> (Vec<u8>, usize) {
    // Unlike `send_step` in its type, so that the two are not folded into one function.
    let reply = support::run(server, input);
    let len = reply.len();
    (reply, len)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut talk = support::Conversation::new();
    for _ in 0..n {
        let (send, ack) = talk.next_inputs();
        let answer = send_step(&mut talk.server, send);
        let reply = ack_step(&mut talk.server, ack).0;
        talk.check(&answer, &reply);
    }
    println!("{n} messages");
}
