//! Instant messaging benchmark (issue target: ≥ 250,000 per second on one core): one 100-byte
//! text message from alice to bob, online with push delivery, through the native engine.
//!
//! One iteration is the steady state of a conversation: alice's SendMessage-Request (decode,
//! handling, storage batch, SendMessage-Response encode) and bob's MessageDelivered for the
//! previous message, whose reply carries this message as a NewMessage (decode, handling,
//! storage delete, NewMessage encode). Storage batches are produced but not written.
//!
//! `send_only` times what the issue names alone: the SendMessage-Request's decode, handling
//! (with its storage batch and the NewMessage it queues for bob, encoded then) and the
//! SendMessage-Response's encode; bob's acknowledgements still run, off the clock, so the
//! state stays the steady one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    missing_docs
)]

mod support;

// The allocator `imps` links, so the figure is the native server's.
#[global_allocator]
static ALLOCATOR: imps_alloc::Allocator = imps_alloc::Allocator;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `iters` steps of the conversation; the server's time for the SendMessage, and for the
/// acknowledgement too when `with_ack`. Bob's client (decoding the reply, writing the
/// acknowledgement) always runs outside the clock.
fn steps(talk: &mut support::Conversation, iters: u64, with_ack: bool) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (send, ack) = talk.next_inputs();
        let start = Instant::now();
        let answer = support::run(&mut talk.server, send);
        let sent = start.elapsed();
        let start = Instant::now();
        let reply = support::run(&mut talk.server, ack);
        total += if with_ack {
            sent + start.elapsed()
        } else {
            sent
        };
        talk.check(&answer, &reply);
    }
    total
}

fn im(c: &mut Criterion) {
    let mut talk = support::Conversation::new();
    let mut group = c.benchmark_group("im");
    group.throughput(Throughput::Elements(1));
    group.bench_function("send_100_bytes_to_online_push_recipient", |b| {
        b.iter_custom(|iters| steps(&mut talk, iters, true))
    });
    group.bench_function("send_only", |b| {
        b.iter_custom(|iters| steps(&mut talk, iters, false))
    });
    group.finish();
}

criterion_group!(benches, im);
criterion_main!(benches);
