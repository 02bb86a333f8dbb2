//! A server with one logged-in session and KeepAlive requests for it, shared by the criterion
//! bench and the instruction-count example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::VecDeque;

use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::access::LoginRequest;
use imps_engine::codec::common::{Recipient, User};
use imps_engine::codec::im::{MessageInfo, MessageRef, SendMessageRequest};
use imps_engine::codec::{self, Limits, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Config, Input, Output, Request, Server};

pub mod groups;

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
    provision(&mut server, 1, "alice");
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

/// A server the helpers below drive: the native engine here; the host's benches add the
/// engine under wasmtime.
pub trait Serve {
    /// Handles `input`; the body of the last reply among its outputs, if any.
    fn serve(&mut self, input: Input) -> Option<Vec<u8>>;
}

impl Serve for Server {
    fn serve(&mut self, input: Input) -> Option<Vec<u8>> {
        self.handle(0, input);
        let mut body = None;
        while let Some(o) = self.poll_output() {
            if let Output::Reply(r) = o {
                body = Some(r.body);
            }
        }
        body
    }
}

/// Runs a client against the server until it has nothing more to send; returns the answers
/// to its requests.
pub fn drive<S: Serve + ?Sized>(server: &mut S, client: &mut Client) -> Vec<Primitive> {
    let mut answers = Vec::new();
    let mut inbox = VecDeque::new();
    loop {
        while let Some(o) = client.poll_output() {
            match o {
                ClientOutput::Send(out) => {
                    if let Some(body) = server.serve(request(out.request_id, out.body)) {
                        inbox.push_back((out.request_id, body));
                    }
                }
                ClientOutput::Event(ClientEvent::Response { primitive, .. }) => {
                    answers.push(primitive)
                }
                ClientOutput::Event(_) => {}
            }
        }
        let Some((request_id, body)) = inbox.pop_front() else {
            return answers;
        };
        client.handle(0, ClientInput::Response { request_id, body });
    }
}

/// Logs `user` (password "pw") in with CSP 1.2: login, capabilities and services.
pub fn login<S: Serve + ?Sized>(server: &mut S, user: &str) -> Client {
    let mut c = Client::new(
        ClientConfig::new(Version::V1_2, user, "pw", LoginScheme::Password),
        [7; 32],
    );
    c.handle(0, ClientInput::Command(Command::Login));
    drive(server, &mut c);
    assert!(c.is_ready(), "{user} logged in");
    c
}

/// A cheap-hashing server with `users` provisioned and logged in; their session ids.
pub fn logged_in_server(users: &[&str]) -> (Server, Vec<String>) {
    let (server, clients) = logged_in_clients(cheap_config(), users);
    let sids = clients
        .iter()
        .map(|c| c.session_id().unwrap().to_owned())
        .collect();
    (server, sids)
}

/// A configuration with cheap password hashing.
pub fn cheap_config() -> Config {
    let mut config = Config::default();
    config.login.hash_memory_kib = 8;
    config.login.hash_iterations = 1;
    config
}

/// A server with `config` and `users` provisioned and logged in; their clients.
pub fn logged_in_clients(config: Config, users: &[&str]) -> (Server, Vec<Client>) {
    let mut server = Server::new(config, [9; 32]);
    let clients = provision_and_login(&mut server, users);
    (server, clients)
}

/// Provisions each of `users` (password "pw") and logs it in; their clients.
pub fn provision_and_login<S: Serve + ?Sized>(server: &mut S, users: &[&str]) -> Vec<Client> {
    users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            provision(server, i as u64, u);
            login(server, u)
        })
        .collect()
}

/// Provisions `user` with password "pw" (admin command `id`).
pub fn provision<S: Serve + ?Sized>(server: &mut S, id: u64, user: &str) {
    server.serve(Input::Admin {
        id,
        command: AdminCommand::ProvisionUser {
            user_id: user.into(),
            password: "pw".into(),
        },
    });
}

/// A Polling-Request for session `sid`.
pub fn poll_body(sid: &str) -> Vec<u8> {
    codec::encode(&Message::single(
        Version::V1_2,
        SessionType::Inband,
        Some(sid.to_owned()),
        TransactionMode::Request,
        None,
        Primitive::PollingRequest(Box::default()),
    ))
}

pub fn send_body(sid: &str, i: usize) -> Vec<u8> {
    send_to(
        sid,
        &format!("m{i}"),
        i,
        Recipient {
            user: vec![User::id("wv:bob@localhost")],
            ..Default::default()
        },
    )
}

/// SendMessage-Request `tid` of text number `i` (100 bytes) to `recipient`.
pub fn send_to(sid: &str, tid: &str, i: usize, recipient: Recipient) -> Vec<u8> {
    let text = format!("{i:06} {}", "x".repeat(93));
    codec::encode(&Message::single(
        Version::V1_2,
        SessionType::Inband,
        Some(sid.to_owned()),
        TransactionMode::Request,
        Some(tid.to_owned()),
        Primitive::SendMessageRequest(Box::new(SendMessageRequest {
            delivery_report: Some(false),
            message_info: Some(MessageInfo {
                content_type: Some("text/plain".into()),
                content_size: Some(text.len() as u64),
                recipient: Some(recipient),
                ..Default::default()
            }),
            content_data: Some(text),
            ..Default::default()
        })),
    ))
}

/// The body of the last reply the server gives for `input` (empty if none).
pub fn run<S: Serve + ?Sized>(server: &mut S, input: Input) -> Vec<u8> {
    server.serve(input).unwrap_or_default()
}

/// The server-initiated transaction id and MessageID in a reply, if it carries a NewMessage.
pub fn delivered(body: &[u8]) -> Option<(String, String)> {
    let m = codec::decode(body, Limits::default()).ok()?;
    m.session.transactions.iter().find_map(|t| {
        let p = t.content.as_ref()?.primitives.first()?;
        match p {
            Primitive::NewMessage(n) => Some((
                t.descriptor.as_ref()?.transaction_id.clone()?,
                n.message_info.as_ref()?.message_id.clone()?,
            )),
            _ => None,
        }
    })
}

pub fn ack_body(sid: &str, tid: &str, id: &str) -> Vec<u8> {
    codec::encode(&Message::single(
        Version::V1_2,
        SessionType::Inband,
        Some(sid.to_owned()),
        TransactionMode::Response,
        Some(tid.to_owned()),
        Primitive::MessageDelivered(Box::new(MessageRef {
            message_id: Some(id.to_owned()),
            ..Default::default()
        })),
    ))
}

/// alice sending 100-byte texts to bob (push), bob acknowledging each: the steady state in
/// which each acknowledgement's reply brings the next message.
pub struct Conversation<S: Serve = Server> {
    /// The server.
    pub server: S,
    sends: Vec<Vec<u8>>,
    bob: String,
    pending: (String, String),
    i: usize,
}

impl Conversation {
    /// On a cheap-hashing native server.
    pub fn new() -> Conversation {
        Conversation::on(Server::new(cheap_config(), [9; 32]))
    }
}

impl<S: Serve> Conversation<S> {
    /// alice and bob logged in on `server`, the first message sent and polled by bob.
    pub fn on(mut server: S) -> Conversation<S> {
        let sids: Vec<String> = provision_and_login(&mut server, &["alice", "bob"])
            .iter()
            .map(|c| c.session_id().unwrap().to_owned())
            .collect();
        let (alice, bob) = (sids[0].clone(), sids[1].clone());
        let sends: Vec<Vec<u8>> = (0..4096).map(|i| send_body(&alice, i)).collect();
        run(&mut server, request(1, sends[0].clone()));
        let reply = run(&mut server, request(2, poll_body(&bob)));
        let pending = delivered(&reply).expect("bob got the first message");
        Conversation {
            server,
            sends,
            bob,
            pending,
            i: 1,
        }
    }

    /// The next SendMessage from alice and bob's acknowledgement of the previous message.
    pub fn next_inputs(&mut self) -> (Input, Input) {
        let send = request(3, self.sends[self.i % self.sends.len()].clone());
        let ack = request(4, ack_body(&self.bob, &self.pending.0, &self.pending.1));
        self.i += 1;
        (send, ack)
    }

    /// Checks the answers and remembers the message the acknowledgement's reply brought.
    pub fn check(&mut self, answer: &[u8], reply: &[u8]) {
        assert!(!answer.is_empty());
        self.pending = delivered(reply).expect("the next message rides on the acknowledgement");
    }

    /// One send and one acknowledgement; the time the server took for both (a bench's clock:
    /// the engine itself never reads one).
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    pub fn step(&mut self) -> std::time::Duration {
        let (send, ack) = self.next_inputs();
        let start = std::time::Instant::now();
        let answer = run(&mut self.server, send);
        let reply = run(&mut self.server, ack);
        let took = start.elapsed();
        self.check(&answer, &reply);
        took
    }
}
