//! A server with one logged-in session and KeepAlive requests for it, shared by the criterion
//! bench and the instruction-count example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code
)]

use imps_engine::codec::access::LoginRequest;
use imps_engine::codec::{self, Limits, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Config, Input, Output, Request, Server};

/// A request for the server.
pub fn request(conn: u64, body: Vec<u8>) -> Input {
    Input::Request(Request {
        conn,
        content_type: "application/vnd.wv.csp.xml".into(),
        body,
        wall_clock_ms: 0,
        peer: None,
    })
}

/// The server, and 1024 KeepAlive request bodies with distinct TransactionIDs (so none is
/// answered from the replay cache).
pub fn keep_alive_setup() -> (Server, Vec<Vec<u8>>) {
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
    server.handle(0, request(1, codec::encode(&login)));
    let mut sid = None;
    while let Some(o) = server.poll_output() {
        if let Output::Reply(r) = o {
            let m = codec::decode(&r.body, Limits::default()).unwrap();
            if let Some(Primitive::LoginResponse(l)) = m.primitive() {
                sid = l.session_id.clone();
            }
        }
    }
    let sid = sid.expect("logged in");
    let bodies = (0..1024)
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
    (server, bodies)
}
