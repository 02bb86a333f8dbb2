//! The IM conversation and login of the engine benches over any [`Core`] (native or guest),
//! shared by the `guest` bench and the `guest_loop` example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imps_engine::client::{Client, ClientConfig, ClientInput, ClientOutput, Command, LoginScheme};
use imps_engine::codec::Version;
use imps_engine::server::{AdminCommand, Input, Output, Server};
use imps_host::driver::Core;
use imps_host::wasm::{GuestModule, WasmCore};

use super::support;

pub fn run<C: Core + ?Sized>(server: &mut C, input: Input) -> Vec<u8> {
    server.handle(0, input).map_err(|t| t.reason).unwrap();
    let mut body = Vec::new();
    while let Some(o) = server.poll_output() {
        if let Output::Reply(r) = o {
            body = r.body;
        }
    }
    body
}

/// `support::drive` over any [`Core`].
pub fn drive<C: Core + ?Sized>(server: &mut C, client: &mut Client) {
    let mut inbox = VecDeque::new();
    loop {
        while let Some(o) = client.poll_output() {
            if let ClientOutput::Send(out) = o {
                let body = run(server, support::request(out.request_id, out.body));
                inbox.push_back((out.request_id, body));
            }
        }
        let Some((request_id, body)) = inbox.pop_front() else {
            return;
        };
        client.handle(0, ClientInput::Response { request_id, body });
    }
}

pub fn provision<C: Core + ?Sized>(server: &mut C, users: &[&str]) {
    for (i, u) in users.iter().enumerate() {
        run(
            server,
            Input::Admin {
                id: i as u64,
                command: AdminCommand::ProvisionUser {
                    user_id: (*u).into(),
                    password: "pw".into(),
                },
            },
        );
    }
}

pub fn login<C: Core + ?Sized>(server: &mut C, user: &str) -> Client {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, user, "pw", LoginScheme::Password),
        [7; 32],
    );
    c.handle(0, ClientInput::Command(Command::Login));
    drive(server, &mut c);
    assert!(c.is_ready(), "{user} logged in");
    c
}

/// `support::Conversation` over any [`Core`].
pub struct Conversation {
    server: Box<dyn Core>,
    sends: Vec<Vec<u8>>,
    bob: String,
    pending: (String, String),
    i: usize,
}

impl Conversation {
    pub fn new(mut server: Box<dyn Core>) -> Conversation {
        provision(&mut *server, &["alice", "bob"]);
        let alice = login(&mut *server, "alice")
            .session_id()
            .unwrap()
            .to_owned();
        let bob = login(&mut *server, "bob").session_id().unwrap().to_owned();
        let sends: Vec<Vec<u8>> = (0..4096).map(|i| support::send_body(&alice, i)).collect();
        run(&mut *server, support::request(1, sends[0].clone()));
        let reply = run(&mut *server, support::request(2, support::poll_body(&bob)));
        let pending = support::delivered(&reply).expect("bob got the first message");
        Conversation {
            server,
            sends,
            bob,
            pending,
            i: 1,
        }
    }

    /// One send and one acknowledgement; the time the server took.
    pub fn step(&mut self) -> Duration {
        let send = support::request(3, self.sends[self.i % self.sends.len()].clone());
        let ack = support::request(
            4,
            support::ack_body(&self.bob, &self.pending.0, &self.pending.1),
        );
        self.i += 1;
        let start = Instant::now();
        let answer = run(&mut *self.server, send);
        let reply = run(&mut *self.server, ack);
        let took = start.elapsed();
        assert!(!answer.is_empty());
        self.pending = support::delivered(&reply).expect("the next message rides on the ack");
        took
    }
}

/// Login then Logout of alice through a client; the time the server took.
pub fn login_logout(server: &mut dyn Core) -> Duration {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, "alice", "pw", LoginScheme::Password),
        [7; 32],
    );
    let start = Instant::now();
    c.handle(0, ClientInput::Command(Command::Login));
    drive(server, &mut c);
    c.handle(0, ClientInput::Command(Command::Logout));
    drive(server, &mut c);
    let took = start.elapsed();
    assert!(!c.is_ready(), "logged out");
    took
}

pub fn wasm(module: &Arc<GuestModule>) -> Box<dyn Core> {
    Box::new(WasmCore::new(module.clone(), support::cheap_config(), [9; 32]).unwrap())
}

pub fn native() -> Box<dyn Core> {
    Box::new(Server::new(support::cheap_config(), [9; 32]))
}
