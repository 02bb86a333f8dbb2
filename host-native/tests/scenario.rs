//! The foundation acceptance scenario over real HTTP against a spawned `imps serve`, driven by
//! the engine's own CSP client state machine: two clients log in (one per scheme), negotiate
//! capabilities and services, keep alive, poll and log out; after a restart both accounts
//! still log in and a wrong password still fails with 409.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Instant;

use common::ImpsServer;
use common::peer::exchange;
use imps_engine::client::{Client, ClientConfig, ClientEvent, Command, LoginScheme};
use imps_engine::codec::Version;

/// A CSP client talking to `server` over HTTP; events are collected.
struct HttpClient<'a> {
    server: &'a ImpsServer,
    client: Client,
    started: Instant,
    events: Vec<ClientEvent>,
}

impl<'a> HttpClient<'a> {
    fn new(
        server: &'a ImpsServer,
        version: Version,
        user: &str,
        pw: &str,
        scheme: LoginScheme,
    ) -> Self {
        let mut seed = [0u8; 32];
        seed[..user.len().min(32)].copy_from_slice(&user.as_bytes()[..user.len().min(32)]);
        HttpClient {
            server,
            client: Client::new(ClientConfig::new(version, user, pw, scheme), seed),
            started: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Feeds a command and runs the exchange until the client has nothing more to send.
    fn run(&mut self, command: Command) -> &[ClientEvent] {
        let from = self.events.len();
        let events = exchange(self.server, &mut self.client, self.started, command, |_| {
            true
        });
        self.events.extend(events);
        &self.events[from..]
    }

    fn ready(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Ready { .. }))
    }
}

fn failed_with(events: &[ClientEvent]) -> Option<u32> {
    events.iter().find_map(|e| match e {
        ClientEvent::LoginFailed { code, .. } => Some(*code),
        _ => None,
    })
}

#[test]
fn two_clients_over_http_login_negotiate_keep_alive_poll_logout_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = ImpsServer::start(dir.path(), &["--open-registration"]);

    // bob's account is created by open registration (2-way), so it has a sealed password
    // for the 4-way digest login that follows.
    let mut reg = HttpClient::new(
        &server,
        Version::V1_2,
        "bob",
        "bob-secret",
        LoginScheme::Password,
    );
    reg.run(Command::Login);
    assert!(reg.ready(), "{:?}", reg.events);
    reg.run(Command::Logout);

    let mut alice = HttpClient::new(
        &server,
        Version::V1_2,
        "alice",
        "alice-secret",
        LoginScheme::Password,
    );
    let mut bob = HttpClient::new(
        &server,
        Version::V1_1,
        "wv:Bob",
        "bob-secret",
        LoginScheme::Digest,
    );
    alice.run(Command::Login);
    bob.run(Command::Login);
    for (c, version) in [(&alice, Version::V1_2), (&bob, Version::V1_1)] {
        let agreed = c.events.iter().find_map(|e| match e {
            ClientEvent::Ready { agreed, .. } => Some(agreed.clone()),
            _ => None,
        });
        let mut agreed = agreed.unwrap_or_default();
        agreed.sort();
        let mut implemented: Vec<String> = imps_engine::server::implemented_functions(version)
            .iter()
            .map(|c| c.to_string())
            .collect();
        implemented.sort();
        assert_eq!(agreed, implemented, "{:?}", c.events);
    }
    for c in [&mut alice, &mut bob] {
        let events = c.run(Command::KeepAlive).to_vec();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ClientEvent::KeptAlive { code: 200, .. })),
            "{events:?}"
        );
        let events = c.run(Command::Poll).to_vec();
        assert!(events.is_empty(), "nothing waits: {events:?}");
    }
    for c in [&mut alice, &mut bob] {
        let events = c.run(Command::Logout).to_vec();
        assert!(
            events.contains(&ClientEvent::Disconnected { code: 200 }),
            "{events:?}"
        );
    }
    // A request on the ended session is refused with 604.
    let stale = server.csp(&common::message(
        Some("00000000000000000000000000000000"),
        "Request",
        Some("x"),
        "<KeepAlive-Request/>",
    ));
    assert_eq!(stale.code(), 604);
    assert!(server.terminate(), "clean shutdown");

    let server = ImpsServer::start(dir.path(), &[]);
    let mut alice = HttpClient::new(
        &server,
        Version::V1_3,
        "alice",
        "alice-secret",
        LoginScheme::Digest,
    );
    let mut bob = HttpClient::new(
        &server,
        Version::V1_2,
        "BOB",
        "bob-secret",
        LoginScheme::Password,
    );
    alice.run(Command::Login);
    bob.run(Command::Login);
    assert!(alice.ready(), "{:?}", alice.events);
    assert!(bob.ready(), "{:?}", bob.events);
    let mut wrong = HttpClient::new(
        &server,
        Version::V1_2,
        "alice",
        "not-it",
        LoginScheme::Password,
    );
    assert_eq!(failed_with(wrong.run(Command::Login)), Some(409));
    let mut wrong_digest =
        HttpClient::new(&server, Version::V1_1, "bob", "not-it", LoginScheme::Digest);
    assert_eq!(failed_with(wrong_digest.run(Command::Login)), Some(409));
    // Without --open-registration now, an unknown user cannot log in.
    let mut stranger =
        HttpClient::new(&server, Version::V1_2, "carol", "pw", LoginScheme::Password);
    assert_eq!(failed_with(stranger.run(Command::Login)), Some(409));
}
