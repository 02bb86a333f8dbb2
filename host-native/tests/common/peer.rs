//! A CSP client (the engine's own) talking to a spawned `imps serve` over real HTTP, keeping
//! the server-initiated primitives it receives in arrival order. Clients are not woken: they
//! learn of server-initiated transactions by polling and from the Poll flag of the answers,
//! and acknowledge each by themselves.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::{self, Limits, Primitive, TransactionMode, Version};

use super::ImpsServer;

/// Feeds `command` to `client`, then carries each request it sends (those `send` lets
/// through, given the body) to `server` over HTTP and feeds back the answer, until the
/// client has nothing more to send; returns its events in order. Times are milliseconds
/// since `started`.
pub fn exchange(
    server: &ImpsServer,
    client: &mut Client,
    started: Instant,
    command: Command,
    mut send: impl FnMut(&[u8]) -> bool,
) -> Vec<ClientEvent> {
    let now = || started.elapsed().as_millis() as u64;
    let mut events = Vec::new();
    client.handle(now(), ClientInput::Command(command));
    while let Some(out) = client.poll_output() {
        match out {
            ClientOutput::Send(req) => {
                if !send(&req.body) {
                    continue;
                }
                let reply = server.post("/imps", req.content_type, &req.body);
                assert_eq!(reply.status, 200, "every CSP answer is HTTP 200");
                client.handle(
                    now(),
                    ClientInput::Response {
                        request_id: req.request_id,
                        body: reply.body,
                    },
                );
            }
            ClientOutput::Event(e) => events.push(e),
        }
    }
    events
}

/// The primitives of the Response-mode transactions in an outgoing CSP message.
pub fn acknowledgements(body: &[u8]) -> Vec<Primitive> {
    let msg = codec::decode(body, Limits::default()).unwrap();
    msg.session
        .transactions
        .into_iter()
        .filter(|t| {
            t.descriptor
                .as_ref()
                .is_some_and(|d| d.mode == Some(TransactionMode::Response))
        })
        .filter_map(|t| t.content?.primitives.into_iter().next())
        .collect()
}

/// One logged-in client.
pub struct Peer<'a> {
    pub server: &'a ImpsServer,
    pub name: String,
    pub version: Version,
    pub client: Client,
    started: Instant,
    /// Server-initiated primitives not yet taken, in arrival order.
    pub pushed: Vec<Primitive>,
    /// The acknowledgements the client sent (its answers to server-initiated transactions).
    pub acks: Vec<Primitive>,
}

impl<'a> Peer<'a> {
    /// Logs `name` (password "pw") in with the default capabilities.
    pub fn login(server: &'a ImpsServer, name: &str, version: Version) -> Self {
        Self::login_with(
            server,
            ClientConfig::new(version, name, "pw", LoginScheme::Password),
        )
    }

    /// Logs in with `config`.
    pub fn login_with(server: &'a ImpsServer, config: ClientConfig) -> Self {
        static LOGINS: AtomicU8 = AtomicU8::new(0);
        let mut seed = [7u8; 32];
        seed[0] = LOGINS.fetch_add(1, Ordering::Relaxed);
        for (s, b) in seed[1..].iter_mut().zip(config.user_id.bytes()) {
            *s = b;
        }
        let mut peer = Peer {
            server,
            name: config.user_id.clone(),
            version: config.version,
            client: Client::new(config, seed),
            started: Instant::now(),
            pushed: Vec::new(),
            acks: Vec::new(),
        };
        let events = peer.run(Command::Login);
        assert!(
            peer.client.is_ready(),
            "{} ({}) is not ready: {events:?}",
            peer.name,
            peer.version
        );
        peer
    }

    /// Feeds a command and runs the exchange until the client has nothing more to send
    /// (including the polls the Poll flag asks for and the acknowledgements).
    pub fn run(&mut self, command: Command) -> Vec<ClientEvent> {
        let acks = &mut self.acks;
        let events = exchange(
            self.server,
            &mut self.client,
            self.started,
            command,
            |body| {
                acks.extend(acknowledgements(body));
                true
            },
        );
        for e in &events {
            match e {
                ClientEvent::ServerRequest(p) => self.pushed.push(p.clone()),
                ClientEvent::Error { message } => {
                    panic!("{} ({}): client error {message}", self.name, self.version)
                }
                _ => {}
            }
        }
        events
    }

    /// Sends `p` and returns the answer.
    pub fn request(&mut self, p: Primitive) -> Primitive {
        let what = p.name().to_owned();
        let events = self.run(Command::Request(p));
        events
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no answer to {what}", self.name))
    }

    /// Sends `p` and asserts it succeeded (a Status 200, or an answer without Result).
    pub fn ok(&mut self, p: Primitive) -> Primitive {
        let what = p.name().to_owned();
        let answer = self.request(p);
        if let Some(code) = answer.result_code() {
            assert_eq!(
                code, 200,
                "{} ({}): {what} -> {answer:?}",
                self.name, self.version
            );
        }
        answer
    }

    /// Polls until `done` holds for the primitives received so far (at most 10 s), then
    /// takes them all.
    pub fn poll_until(
        &mut self,
        what: &str,
        done: impl Fn(&[Primitive]) -> bool,
    ) -> Vec<Primitive> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.run(Command::Poll);
            if done(&self.pushed) {
                return std::mem::take(&mut self.pushed);
            }
            assert!(
                Instant::now() < deadline,
                "{} ({}) waited in vain for {what}; got {:?}",
                self.name,
                self.version,
                self.pushed
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
