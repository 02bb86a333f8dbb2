//! Group messaging benchmark (issue target: < 200 µs): one text message from a joined member
//! fanned out to the 200 other joined members, through the native engine (request decode,
//! recipient expansion and block checks, one mailbox item and one queued NewMessage per
//! member, storage batch, response encode).
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

use criterion::{Criterion, criterion_group, criterion_main};

fn groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("groups");
    group.sample_size(10);
    group.bench_function("message_to_200_joined_members", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                // A fresh server every 256 messages keeps the unread mailboxes small.
                let (mut server, bodies) = support::groups::setup();
                for body in bodies.into_iter().take((iters - done) as usize) {
                    let input = support::request(1, body);
                    let start = std::time::Instant::now();
                    let reply = support::run(&mut server, input);
                    total += start.elapsed();
                    assert!(!reply.is_empty());
                    done += 1;
                }
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, groups);
criterion_main!(benches);
