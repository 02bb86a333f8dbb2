//! The native half of `cargo xtask bench-wasm`: the same workload as
//! `wasm-bindings/tests/bench.mjs` runs through the npm package in Node — a server and two
//! clients in one process; alice sends N messages to bob, who polls for each — driven here
//! directly on the engine. Prints one line `native: N messages in T ms (R msg/s)`.

use std::time::Instant;

use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme, im,
};
use imps_engine::codec::Version;
use imps_engine::server::{AdminCommand, Config, Input, Output, Request, Server};

/// Messages sent (equal to the JS side's).
const MESSAGES: usize = 2000;

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

fn main() {
    let mut world = World {
        server: Server::new(Config::default(), [7; 32]),
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
    let start = Instant::now();
    for i in 0..MESSAGES {
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
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "native: {MESSAGES} messages in {ms:.1} ms ({:.0} msg/s)",
        MESSAGES as f64 / ms * 1000.0
    );
}
