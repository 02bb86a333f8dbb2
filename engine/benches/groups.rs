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
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use imps_engine::client::{ClientInput, Command};
use imps_engine::codec::common::{Group, Recipient, ScreenName};
use imps_engine::codec::group::{CreateGroupRequest, JoinGroupRequest};
use imps_engine::codec::im::{MessageInfo, SendMessageRequest};
use imps_engine::codec::{self, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::Server;

const GROUP: &str = "wv:u0/big@localhost";
const MEMBERS: usize = 201;

fn ask(server: &mut Server, c: &mut imps_engine::client::Client, p: Primitive) -> Primitive {
    c.handle(0, ClientInput::Command(Command::Request(p)));
    support::drive(server, c).pop().expect("an answer")
}

/// u0 owns the group; u0..u200 have joined it; returns the server and message bodies from u0.
fn setup() -> (Server, Vec<Vec<u8>>) {
    let mut config = support::cheap_config();
    config.session.queue_limit = 100_000;
    config.im.max_stored_per_user = 100_000;
    let users: Vec<String> = (0..MEMBERS).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let (mut server, mut clients) = support::logged_in_clients(config, &names);
    let create = Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(GROUP.into()),
        join_group: Some(false),
        subscribe_notification: Some(false),
        ..Default::default()
    }));
    let answer = ask(&mut server, &mut clients[0], create);
    assert_eq!(answer.result_code(), Some(200), "{answer:?}");
    for (i, c) in clients.iter_mut().enumerate() {
        let join = Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
            group_id: Some(GROUP.into()),
            screen_name: Some(ScreenName {
                sname: Some(format!("member{i}")),
                group_id: Some(GROUP.into()),
                ..Default::default()
            }),
            joined_request: Some(false),
            subscribe_notification: Some(false),
            ..Default::default()
        }));
        let answer = ask(&mut server, c, join);
        assert!(
            matches!(answer, Primitive::JoinGroupResponse(_)),
            "{answer:?}"
        );
    }
    let sid = clients[0].session_id().unwrap().to_owned();
    let bodies = (0..256)
        .map(|i| {
            let text = format!("{i:06} {}", "x".repeat(93));
            codec::encode(&Message::single(
                Version::V1_2,
                SessionType::Inband,
                Some(sid.clone()),
                TransactionMode::Request,
                Some(format!("g{i}")),
                Primitive::SendMessageRequest(Box::new(SendMessageRequest {
                    delivery_report: Some(false),
                    message_info: Some(MessageInfo {
                        content_type: Some("text/plain".into()),
                        content_size: Some(text.len() as u64),
                        recipient: Some(Recipient {
                            group: vec![Group {
                                group_id: Some(GROUP.into()),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    content_data: Some(text),
                    ..Default::default()
                })),
            ))
        })
        .collect();
    (server, bodies)
}

fn groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("groups");
    group.sample_size(10);
    group.bench_function("message_to_200_joined_members", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                // A fresh server every 256 messages keeps the unread mailboxes small.
                let (mut server, bodies) = setup();
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
