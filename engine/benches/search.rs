//! Search benchmark (issue target: < 10 ms per page): a user search by partial last name over
//! 100,000 registered users with profiles, through the native engine (request decode, a scan
//! of every account's profile, the page of results, response encode). Also prints the heap
//! bytes per user that profiles and the search index add, measured with a counting allocator.
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::panic,
    missing_docs
)]

#[path = "support/counting.rs"]
mod counting;
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use imps_engine::client::invite::search;
use imps_engine::codec::fundamental::SearchElement;
use imps_engine::codec::{self, Limits, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Input, ProfileUpdate, Server};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// Registered users when measuring (`cargo bench` passes `--bench`); `cargo test` runs the
/// bench once as a test, on a thousand.
fn users() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    }
}
const SYLLABLES: [&str; 32] = [
    "an", "ber", "cal", "dor", "el", "fin", "gar", "hol", "is", "jon", "kar", "lin", "mor", "nes",
    "ol", "per", "quin", "ros", "sten", "tor", "ul", "val", "wen", "xan", "yor", "zel", "ash",
    "brook", "son", "ley", "ford", "wood",
];

fn admin(server: &mut Server, id: u64, command: AdminCommand) {
    server.handle(0, Input::Admin { id, command });
    while server.poll_output().is_some() {}
}

/// 100,000 users with three-syllable last names (a small LCG picks them) and a searcher's
/// session; returns the server and the searcher's session id.
fn setup(max_findings: u32) -> (Server, String) {
    let mut config = support::cheap_config();
    config.search.max_findings = max_findings;
    let mut server = Server::new(config, [5; 32]);
    let mut x: u64 = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % SYLLABLES.len()
    };
    for i in 0..users() {
        admin(
            &mut server,
            i as u64 * 2,
            AdminCommand::ProvisionUser {
                user_id: format!("user{i}"),
                password: "pw".into(),
            },
        );
    }
    let before = counting::live();
    for i in 0..users() {
        let last: String = (0..3).map(|_| SYLLABLES[next()]).collect();
        let mut last = last;
        if let Some(f) = last.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        admin(
            &mut server,
            i as u64 * 2 + 1,
            AdminCommand::SetProfile {
                user_id: format!("user{i}"),
                profile: ProfileUpdate {
                    first_name: Some(format!("First{}", i % 977)),
                    last_name: Some(last),
                    ..Default::default()
                },
            },
        );
    }
    let after = counting::live();
    eprintln!(
        "profiles (first and last name) and their index entries: {} heap bytes per user",
        (after - before) / users() as isize
    );
    let client = support::login(&mut server, "user0");
    let sid = client.session_id().unwrap().to_owned();
    (server, sid)
}

fn body(sid: &str, i: usize, needle: &str) -> Vec<u8> {
    codec::encode(&Message::single(
        Version::V1_2,
        SessionType::Inband,
        Some(sid.to_owned()),
        TransactionMode::Request,
        Some(format!("q{i}")),
        search(Version::V1_2, &[(SearchElement::UserLastName, needle)], 20),
    ))
}

fn findings(reply: &[u8]) -> u32 {
    let m = codec::decode(reply, Limits::default()).unwrap();
    match m.primitive() {
        Some(Primitive::SearchResponse(r)) => r.search_findings.unwrap(),
        other => panic!("not a Search-Response: {other:?}"),
    }
}

fn bench_search(c: &mut Criterion) {
    let (mut server, sid) = setup(20_000);
    let mut group = c.benchmark_group("search");
    group.sample_size(20);
    // Two syllables: about 1 user in 1,000 (~100 findings); one syllable: about 9,000
    // users, all collected and kept for paging.
    for (name, needle) in [("rare", "Berwood"), ("common", "brook")] {
        let mut i = 0;
        let probe = support::run(
            &mut server,
            support::request(1, body(&sid, 999_999, needle)),
        );
        eprintln!(
            "search {name} {needle:?} over {} users: {} findings",
            users(),
            findings(&probe)
        );
        group.bench_function(format!("last_name_{name}_100k_users_first_page"), |b| {
            b.iter(|| {
                i += 1;
                let reply = support::run(&mut server, support::request(1, body(&sid, i, needle)));
                assert!(!reply.is_empty());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
