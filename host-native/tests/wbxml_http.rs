//! WBXML over real HTTP against a spawned `imps serve` (CSP-REFERENCE §5.1, §6): clients of
//! the engine's own CSP client speaking WBXML log in, negotiate and exchange a message, each
//! session answered in its own encoding — a WBXML and an XML user side by side, in 1.1, 1.2
//! and 1.3. Every WBXML reply carries a WBXML content type and a body that is WBXML.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::ImpsServer;
use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::common::{Recipient, User};
use imps_engine::codec::im::{MessageInfo, SendMessageRequest};
use imps_engine::codec::{self, Encoding, Limits, Primitive, Version};

fn start(dir: &tempfile::TempDir) -> ImpsServer {
    ImpsServer::start_open(dir.path(), "")
}

struct Peer<'a> {
    server: &'a ImpsServer,
    name: String,
    encoding: Encoding,
    client: Client,
    started: Instant,
    pushed: Vec<Primitive>,
    /// WBXML requests and replies seen (each checked to be WBXML).
    wbxml_bodies: usize,
}

impl<'a> Peer<'a> {
    fn login(server: &'a ImpsServer, name: &str, version: Version, encoding: Encoding) -> Self {
        let mut config = ClientConfig::new(version, name, "pw", LoginScheme::Password);
        config.encoding = encoding;
        let mut seed = [3u8; 32];
        seed[..name.len()].copy_from_slice(name.as_bytes());
        let mut peer = Peer {
            server,
            name: name.to_owned(),
            encoding,
            client: Client::new(config, seed),
            started: Instant::now(),
            pushed: Vec::new(),
            wbxml_bodies: 0,
        };
        let events = peer.run(Command::Login);
        assert!(peer.client.is_ready(), "{name}: {events:?}");
        peer
    }

    fn run(&mut self, command: Command) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        let now = self.started.elapsed().as_millis() as u64;
        self.client.handle(now, ClientInput::Command(command));
        while let Some(out) = self.client.poll_output() {
            match out {
                ClientOutput::Send(req) => {
                    let reply = self.server.post("/imps", req.content_type, &req.body);
                    assert_eq!(reply.status, 200);
                    if self.encoding == Encoding::Wbxml {
                        assert!(req.content_type.contains("wbxml"), "{}", req.content_type);
                        assert!(codec::decode_wbxml(&req.body, Limits::default()).is_ok());
                        if !reply.body.is_empty() {
                            assert!(
                                reply.content_type.contains("wbxml"),
                                "{}: reply content type {}",
                                self.name,
                                reply.content_type
                            );
                            codec::decode_wbxml(&reply.body, Limits::default()).unwrap_or_else(
                                |e| panic!("{}: reply is not WBXML: {e}", self.name),
                            );
                        }
                        self.wbxml_bodies += 1;
                    } else if !reply.body.is_empty() {
                        assert!(reply.content_type.contains("xml"));
                        assert!(!reply.content_type.contains("wbxml"));
                        reply.decode();
                    }
                    let now = self.started.elapsed().as_millis() as u64;
                    self.client.handle(
                        now,
                        ClientInput::Response {
                            request_id: req.request_id,
                            body: reply.body,
                        },
                    );
                }
                ClientOutput::Event(e) => {
                    match &e {
                        ClientEvent::ServerRequest(p) => self.pushed.push(p.clone()),
                        ClientEvent::Error { message } => {
                            panic!("{}: client error {message}", self.name)
                        }
                        _ => {}
                    }
                    events.push(e);
                }
            }
        }
        events
    }

    fn send(&mut self, to: &str, text: &str) {
        let p = Primitive::SendMessageRequest(Box::new(SendMessageRequest {
            delivery_report: Some(false),
            message_info: Some(MessageInfo {
                content_type: Some("text/plain".into()),
                content_size: Some(text.len() as u64),
                recipient: Some(Recipient {
                    user: vec![User::id(to)],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            content_data: Some(text.into()),
            ..Default::default()
        }));
        let events = self.run(Command::Request(p));
        let answer = events
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no SendMessage answer", self.name));
        assert_eq!(answer.result_code(), Some(200), "{answer:?}");
    }

    /// Polls until a NewMessage arrives (at most 10 s); its sender and text.
    fn receive(&mut self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self
                .pushed
                .iter()
                .position(|p| matches!(p, Primitive::NewMessage(_)))
            {
                let Primitive::NewMessage(m) = self.pushed.remove(i) else {
                    unreachable!()
                };
                let info = m.message_info.unwrap();
                let sender = info.sender.unwrap();
                let from = format!("{sender:?}");
                return (from, m.content_data.unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "{}: no message", self.name);
            self.run(Command::Poll);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn wbxml_clients_log_in_and_exchange_messages_each_answered_in_its_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (i, version) in Version::ALL.into_iter().enumerate() {
        let (a, b) = (format!("wv:wa{i}@localhost"), format!("wv:xb{i}@localhost"));
        let mut alice = Peer::login(&server, &a, version, Encoding::Wbxml);
        let mut bob = Peer::login(&server, &b, version, Encoding::Xml);
        let text = format!("héllo in WBXML <{version}> & more");
        alice.send(&b, &text);
        let (from, got) = bob.receive();
        assert_eq!(got, text);
        assert!(from.contains(&a), "{from}");
        bob.send(&a, "and back in XML");
        let (from, got) = alice.receive();
        assert_eq!(got, "and back in XML");
        assert!(from.contains(&b), "{from}");
        assert!(alice.wbxml_bodies >= 4, "{}", alice.wbxml_bodies);
        alice.run(Command::Logout);
        bob.run(Command::Logout);
    }
}

#[test]
fn a_broken_wbxml_request_gets_a_wbxml_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (ct, body, version) in [
        (
            "application/vnd.wv.csp.wbxml",
            &[0x03, 0x10, 0x6A, 0x00, 0xC9][..],
            Version::V1_1,
        ),
        (
            "application/vnd.wv.csp+wbxml",
            &[0x03, 0x12, 0x6A, 0x00, 0x3F][..],
            Version::V1_3,
        ),
        (
            "application/vnd.wv.csp.wbxml",
            b"<WV-CSP-Message/>",
            Version::V1_2,
        ),
    ] {
        let reply = server.post("/imps", ct, body);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, ct);
        let msg = codec::decode_wbxml(&reply.body, Limits::default()).unwrap();
        assert_eq!(msg.version, version);
        assert_eq!(msg.primitive().unwrap().result_code(), Some(400), "{msg:?}");
    }
}
