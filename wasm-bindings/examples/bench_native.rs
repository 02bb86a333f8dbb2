//! The native half of `cargo xtask bench-wasm`; `wasm-bindings/tests/bench.mjs` is the Node
//! half, through the npm package. Two workloads, each with the same figure on both sides:
//!
//! * `im_step` — the engine's IM benchmark (`engine/benches/im.rs`, whose support module this
//!   example shares): one steady-state step of a conversation, alice's SendMessage-Request
//!   (100 bytes of text) and bob's MessageDelivered for the previous message, whose reply
//!   carries the next NewMessage. Server work only, request bodies encoded before the clock
//!   starts; here `Server::handle` + `poll_output`, in Node `ImpsServer.handle` on the
//!   package's `MemoryStore`.
//! * `two_clients` — a server and two clients in one process: alice sends a message to bob,
//!   who polls for it (client and server work, every layer of the package in Node).
//!
//! Each figure is printed as a line `figure NAME PER_SECOND` for xtask, which prints the
//! ratios, after a line for people.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

// The engine's own bench support: the same logged-in server, bodies and checks as `--bench im`.
#[path = "../../engine/benches/support/mod.rs"]
mod support;

// The allocator `imps` links (and `--bench im`), so the figure is the native server's.
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: imps_alloc::Allocator = imps_alloc::Allocator;

use std::time::{Duration, Instant};

use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme, im,
};
use imps_engine::codec::Version;
use imps_engine::server::{AdminCommand, Input, Output, Request, Server};

/// Steps of `im_step` timed (equal to the JS side's), after as many untimed ones.
const STEPS: usize = 20_000;

/// Messages of `two_clients` (equal to the JS side's).
const MESSAGES: usize = 2000;

fn im_step() {
    let mut talk = support::Conversation::new();
    let mut run = |n: usize| {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            let (send, ack) = talk.next_inputs();
            let start = Instant::now();
            let answer = support::run(&mut talk.server, send);
            let reply = support::run(&mut talk.server, ack);
            total += start.elapsed();
            talk.check(&answer, &reply);
        }
        total
    };
    // Warm-up, as on the JS side (caches, the allocator's pools).
    run(STEPS);
    let total = run(STEPS);
    let us = total.as_secs_f64() * 1e6 / STEPS as f64;
    println!("native im_step: {STEPS} steps, {us:.2} µs per step (server only)");
    println!("figure native_im_step {:.1}", 1e6 / us);
}

struct World {
    server: Server,
    now: u64,
    conn: u64,
}

impl World {
    /// Runs `client`'s outputs through the server until it is quiet; returns its events.
    fn pump(&mut self, client: &mut Client) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        while let Some(out) = client.poll_output() {
            match out {
                ClientOutput::Event(e) => events.push(e),
                ClientOutput::Send(s) => {
                    self.conn += 1;
                    self.server.handle(
                        self.now,
                        Input::Request(Request {
                            conn: self.conn,
                            content_type: s.content_type.to_owned(),
                            body: s.body,
                            wall_clock_ms: 1_700_000_000_000,
                            peer: None,
                        }),
                    );
                    let mut body = Vec::new();
                    while let Some(o) = self.server.poll_output() {
                        if let Output::Reply(r) = o {
                            body = r.body;
                        }
                    }
                    client.handle(
                        self.now,
                        ClientInput::Response {
                            request_id: s.request_id,
                            body,
                        },
                    );
                }
            }
        }
        events
    }
}

fn two_clients() {
    let mut world = World {
        server: Server::new(support::cheap_config(), [7; 32]),
        now: 1,
        conn: 0,
    };
    for (id, user) in ["alice", "bob"].into_iter().enumerate() {
        world.server.handle(
            1,
            Input::Admin {
                id: id as u64,
                command: AdminCommand::ProvisionUser {
                    user_id: user.into(),
                    password: "pw".into(),
                },
            },
        );
    }
    while world.server.poll_output().is_some() {}
    let mut alice = Client::new(
        ClientConfig::new(Version::V1_2, "alice", "pw", LoginScheme::Password),
        [1; 32],
    );
    let mut bob = Client::new(
        ClientConfig::new(Version::V1_2, "bob", "pw", LoginScheme::Password),
        [2; 32],
    );
    for c in [&mut alice, &mut bob] {
        c.handle(1, ClientInput::Command(Command::Login));
        world.pump(c);
        assert!(c.is_ready(), "login failed");
    }
    let mut round = |from: usize| {
        for i in from..from + MESSAGES {
            world.now += 1;
            let text = format!("message {i}");
            alice.handle(
                world.now,
                ClientInput::Command(Command::Request(im::send_text(
                    Version::V1_2,
                    &["bob"],
                    &[],
                    &[],
                    &text,
                    false,
                ))),
            );
            world.pump(&mut alice);
            bob.handle(world.now, ClientInput::Command(Command::Poll));
            let got = world
                .pump(&mut bob)
                .into_iter()
                .any(|e| matches!(e, ClientEvent::Message { content, .. } if content == text));
            assert!(got, "message {i} did not arrive");
        }
    };
    round(0);
    let start = Instant::now();
    round(MESSAGES);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "native two_clients: {MESSAGES} messages in {ms:.1} ms (client + server, alice sends, bob polls)"
    );
    println!(
        "figure native_two_clients {:.1}",
        MESSAGES as f64 / ms * 1000.0
    );
}

fn main() {
    im_step();
    two_clients();
}
