//! Presence benchmarks (issue targets): one UpdatePresence fanned out to 1,000 authorized
//! watchers (< 1 ms to produce every notification), and heap memory per registered user with
//! 18 contacts (≤ 2 KiB), measured with a counting allocator.
#![allow(
    unsafe_code,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::field_reassign_with_default,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "support/counting.rs"]
mod counting;
mod support;

use std::time::{Duration, Instant};

use criterion::Criterion;
use imps_engine::client::presence as build;
use imps_engine::client::{Client, ClientInput, Command};
use imps_engine::codec::common::NickList;
use imps_engine::codec::presence::CreateListRequest;
use imps_engine::codec::presence_attrs::{PresenceSubList, StatusText, UserAvailability};
use imps_engine::codec::{self, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Config, Input, Server};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

fn config() -> Config {
    let mut c = Config::default();
    c.domain = "example.org".into();
    c.login.hash_memory_kib = 8;
    c.login.hash_iterations = 1;
    c.session.queue_limit = 100_000;
    c.session.max_per_user = 1;
    // Every update is its own notification (coalescing would hide the per-update cost).
    c.presence.notify_interval_ms = 0;
    c.contact_lists.max_contacts = 2_000;
    c
}

fn provision(server: &mut Server, user: &str) {
    server.handle(
        0,
        Input::Admin {
            id: 0,
            command: AdminCommand::ProvisionUser {
                user_id: user.into(),
                password: "pw".into(),
            },
        },
    );
    while server.poll_output().is_some() {}
}

fn ask(server: &mut Server, c: &mut Client, p: Primitive) -> Primitive {
    c.handle(0, ClientInput::Command(Command::Request(p)));
    support::drive(server, c).pop().expect("an answer")
}

fn update(text: &str) -> Primitive {
    build::update_presence(
        Version::V1_2,
        PresenceSubList {
            status_text: Some(StatusText::with_value(text)),
            user_availability: Some(UserAvailability::with_value("AVAILABLE")),
            ..Default::default()
        },
    )
}

/// A publisher with a default attribute list granting everything and `n` watchers, each
/// logged in and subscribed; returns the server and UpdatePresence bodies for the publisher.
fn fan_out_setup(n: usize) -> (Server, Vec<Vec<u8>>, Vec<String>) {
    let mut server = Server::new(config(), [3; 32]);
    provision(&mut server, "pub");
    let mut publisher = support::login(&mut server, "pub");
    let grant = build::create_attribute_list(
        Version::V1_2,
        build::names(&build::AttrName::ALL),
        &[],
        &[],
        true,
        None,
    );
    ask(&mut server, &mut publisher, grant);
    let mut watchers = Vec::new();
    for i in 0..n {
        let user = format!("w{i}");
        provision(&mut server, &user);
        let mut w = support::login(&mut server, &user);
        let sub = build::subscribe(Version::V1_2, &["wv:pub@example.org"], &[], None, None);
        ask(&mut server, &mut w, sub);
        // The initial notification is acknowledged by polling it away.
        w.handle(0, ClientInput::Command(Command::Poll));
        support::drive(&mut server, &mut w);
        watchers.push(w.session_id().unwrap().to_owned());
    }
    let sid = publisher.session_id().unwrap().to_owned();
    let bodies = (0..256)
        .map(|i| {
            codec::encode(&Message::single(
                Version::V1_2,
                SessionType::Inband,
                Some(sid.clone()),
                TransactionMode::Request,
                Some(format!("u{i}")),
                update(&format!("status {i}")),
            ))
        })
        .collect();
    (server, bodies, watchers)
}

fn fan_out(c: &mut Criterion) {
    const WATCHERS: usize = 1_000;
    let mut group = c.benchmark_group("presence");
    group.sample_size(10);
    group.bench_function("update_presence_to_1000_watchers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                // A fresh server every 256 updates keeps the (unacknowledged) queues small.
                let (mut server, bodies, watchers) = fan_out_setup(WATCHERS);
                let mut updates = 0;
                for body in bodies.into_iter().take((iters - done) as usize) {
                    let input = support::request(1, body);
                    let start = Instant::now();
                    server.handle(0, input);
                    while server.poll_output().is_some() {}
                    total += start.elapsed();
                    done += 1;
                    updates += 1;
                }
                // Every watcher got every update (queued, not yet polled).
                for sid in &watchers {
                    assert_eq!(server.session_info(sid).unwrap().queued, updates);
                }
            }
            total
        });
    });
    group.finish();
}

/// Heap bytes per registered (not logged-in) user who has one contact list of 18 mutual
/// contacts, subscribes to them, grants them OnlineStatus/StatusText/UserAvailability through
/// an attribute list on that list, and has published a status text and availability.
fn memory_per_user() -> f64 {
    const USERS: usize = 2_000;
    let mut server = Server::new(config(), [5; 32]);
    let before = counting::live();
    for i in 0..USERS {
        provision(&mut server, &format!("u{i}"));
    }
    let provisioned = counting::live();
    println!(
        "  accounts: {} bytes/user",
        (provisioned - before) as usize / USERS
    );
    let attrs = build::names(&[
        build::AttrName::OnlineStatus,
        build::AttrName::StatusText,
        build::AttrName::UserAvailability,
    ]);
    let mut mark = provisioned;
    for phase in [
        "contact list",
        "attribute list",
        "published presence",
        "subscriptions",
    ] {
        for i in 0..USERS {
            let mut c = support::login(&mut server, &format!("u{i}"));
            let list = format!("wv:u{i}/friends@example.org");
            let p = match phase {
                "contact list" => {
                    let contacts: Vec<String> = (1..=9)
                        .flat_map(|d| [(i + d) % USERS, (i + USERS - d) % USERS])
                        .map(|j| format!("wv:u{j}@example.org"))
                        .collect();
                    Primitive::CreateListRequest(Box::new(CreateListRequest {
                        contact_list: Some(list.clone()),
                        nick_list: Some(NickList {
                            user_id: contacts,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }))
                }
                "attribute list" => build::create_attribute_list(
                    Version::V1_2,
                    attrs.clone(),
                    &[],
                    &[&list],
                    false,
                    None,
                ),
                "published presence" => update("here"),
                _ => build::subscribe(Version::V1_2, &[], &[&list], None, None),
            };
            ask(&mut server, &mut c, p);
            c.handle(0, ClientInput::Command(Command::Logout));
            support::drive(&mut server, &mut c);
        }
        while server.poll_output().is_some() {}
        let now = counting::live();
        println!("  {phase}: {} bytes/user", (now - mark) as usize / USERS);
        mark = now;
    }
    while server.poll_output().is_some() {}
    let after = counting::live();
    assert_eq!(server.session_count(), 0);
    let per_user = (after - before) as f64 / USERS as f64;
    drop(server);
    per_user
}

fn main() {
    let per_user = memory_per_user();
    println!(
        "presence/memory_per_registered_user_18_contacts: {per_user:.0} bytes (target ≤ 2048)"
    );
    let mut c = Criterion::default().configure_from_args();
    fan_out(&mut c);
    c.final_summary();
}
