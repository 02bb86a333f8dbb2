//! Runs N KeepAlive transactions through the native server engine, for instruction counts
//! under `valgrind --tool=callgrind` (repeatable on a noisy machine, unlike wall time):
//! `cargo build --release --example keepalive_loop && valgrind --tool=callgrind target/release/examples/keepalive_loop 20000`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use imps_engine::codec::access::{KeepAliveRequest, LoginRequest};
use imps_engine::codec::{self, Limits, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Config, Input, Output, Request, Server};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut config = Config::default();
    config.login.hash_memory_kib = 8;
    config.login.hash_iterations = 1;
    let mut server = Server::new(config, [9; 32]);
    let provision = AdminCommand::ProvisionUser {
        user_id: "alice".into(),
        password: "pw".into(),
    };
    server.handle(
        0,
        Input::Admin {
            id: 1,
            command: provision,
        },
    );
    while server.poll_output().is_some() {}
    let login = Message::single(
        Version::V1_2,
        SessionType::Outband,
        None,
        TransactionMode::Request,
        Some("1".into()),
        Primitive::LoginRequest(Box::new(LoginRequest {
            user_id: Some("alice".into()),
            password: Some("pw".into()),
            ..Default::default()
        })),
    );
    let body = codec::encode(&login);
    server.handle(
        0,
        Input::Request(Request {
            conn: 1,
            content_type: "application/vnd.wv.csp.xml".into(),
            body,
            wall_clock_ms: 0,
            peer: None,
        }),
    );
    let mut sid = None;
    while let Some(o) = server.poll_output() {
        if let Output::Reply(r) = o {
            let m = codec::decode(&r.body, Limits::default()).unwrap();
            if let Primitive::LoginResponse(l) = &m
                .transaction()
                .unwrap()
                .content
                .as_ref()
                .unwrap()
                .primitives[0]
            {
                sid = l.session_id.clone();
            }
        }
    }
    let sid = sid.expect("logged in");
    let bodies: Vec<Vec<u8>> = (0..1024)
        .map(|i| {
            codec::encode(&Message::single(
                Version::V1_2,
                SessionType::Inband,
                Some(sid.clone()),
                TransactionMode::Request,
                Some(format!("ka{i}")),
                Primitive::KeepAliveRequest(Box::default()),
            ))
        })
        .collect();
    let _ = KeepAliveRequest::default();
    let mut replies = 0usize;
    for i in 0..n {
        let body = bodies[i % bodies.len()].clone();
        server.handle(
            i as u64 + 1,
            Input::Request(Request {
                conn: i as u64,
                content_type: "application/vnd.wv.csp.xml".into(),
                body,
                wall_clock_ms: 0,
                peer: None,
            }),
        );
        while let Some(o) = server.poll_output() {
            if matches!(o, Output::Reply(_)) {
                replies += 1;
            }
        }
    }
    println!("{replies} replies");
}
