//! Wake-up (CIR) channels of `imps serve` over real sockets: standalone TCP (`HELO` / `OK` /
//! `PING` / `WVCI`), standalone HTTP (200 with the CIR text when something waits, else 204)
//! and the WebSocket channel. The clients here never poll on a timer: they poll only when
//! woken (and then until Poll=F), and still receive every message, each wake-up within 5 s.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{CHEAP_CONFIG, ImpsServer, message};
use imps_engine::client::{Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command};
use imps_engine::codec::capability::CirMethod;
use imps_engine::codec::common::{Recipient, User};
use imps_engine::codec::im::{MessageInfo, SendMessageRequest};
use imps_engine::codec::{Primitive, Version};

/// The longest a wake-up may take to reach its client.
const WAKE_WITHIN: Duration = Duration::from_secs(5);

fn start(dir: &std::path::Path, host: &str) -> ImpsServer {
    std::fs::write(
        dir.join("imps.toml"),
        format!("{CHEAP_CONFIG}[host]\n{host}\n"),
    )
    .unwrap();
    ImpsServer::start(dir, &["--open-registration"])
}

/// A client of the engine that polls only when told to.
struct Peer<'a> {
    server: &'a ImpsServer,
    client: Client,
    /// MessageIDs and texts of the messages the application received.
    messages: Vec<(String, String)>,
    events: Vec<ClientEvent>,
}

impl<'a> Peer<'a> {
    fn login(server: &'a ImpsServer, name: &str, version: Version, cir: &[CirMethod]) -> Self {
        let mut config = ClientConfig::new(
            version,
            name,
            "pw",
            imps_engine::client::LoginScheme::Password,
        );
        config.capabilities.supported_cir_method = cir.to_vec();
        let mut seed = [7u8; 32];
        seed[..name.len()].copy_from_slice(name.as_bytes());
        let mut peer = Peer {
            server,
            client: Client::new(config, seed),
            messages: Vec::new(),
            events: Vec::new(),
        };
        peer.input(ClientInput::Command(Command::Login));
        assert!(peer.client.is_ready(), "{name}: {:?}", peer.events);
        peer
    }

    fn sid(&self) -> String {
        self.client.session_id().unwrap().to_owned()
    }

    /// Feeds `input` and runs every request it leads to (a Poll=T answer leads to another
    /// poll, so a wake-up runs until Poll=F).
    fn input(&mut self, input: ClientInput) {
        self.client.handle(0, input);
        while let Some(out) = self.client.poll_output() {
            match out {
                ClientOutput::Send(req) => {
                    let reply = self.server.post("/imps", req.content_type, &req.body);
                    assert_eq!(reply.status, 200);
                    self.client.handle(
                        0,
                        ClientInput::Response {
                            request_id: req.request_id,
                            body: reply.body,
                        },
                    );
                }
                ClientOutput::Event(ClientEvent::Message {
                    message_id,
                    content,
                    ..
                }) => self.messages.push((message_id, content)),
                ClientOutput::Event(e) => self.events.push(e),
            }
        }
    }

    fn send(&mut self, to: &str, text: &str) -> String {
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
        let from = self.events.len();
        self.input(ClientInput::Command(Command::Request(p)));
        let answer = self.events[from..]
            .iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive.clone()),
                _ => None,
            })
            .unwrap();
        let Primitive::SendMessageResponse(r) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(r.result.as_ref().map(|r| r.code()), Some(200));
        r.message_id.clone().unwrap()
    }
}

/// An STCP connection.
struct Stcp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Stcp {
    fn connect(addr: &str) -> Stcp {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAKE_WITHIN)).unwrap();
        Stcp {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn say(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// The next line, or `None` at end of stream or after [`WAKE_WITHIN`].
    fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.reader.read_line(&mut l) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(l),
        }
    }
}

#[test]
fn stcp_wakes_a_client_that_never_polls_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "stcp_listen = \"127.0.0.1:0\"");
    let stcp_addr = server.stdout_line("stcp listening on ");
    let mut alice = Peer::login(&server, "alice", Version::V1_2, &[CirMethod::Stcp]);
    let mut bob = Peer::login(&server, "bob", Version::V1_3, &[CirMethod::Stcp]);

    // The agreed capabilities name the bound STCP address.
    let caps = "<ClientCapability-Request><CapabilityList><SupportedCIRMethod>STCP</SupportedCIRMethod>\
                </CapabilityList></ClientCapability-Request>";
    let (code, sid) = server.login("carol", "pw");
    assert_eq!(code, 200);
    let reply = server.csp(&message(sid.as_deref(), "Request", Some("cap"), caps));
    let Some(Primitive::ClientCapabilityResponse(r)) = reply.decode().primitive().cloned() else {
        panic!("{:?}", String::from_utf8_lossy(&reply.body))
    };
    let agreed = r.agreed_capability_list.unwrap();
    assert_eq!(agreed.supported_cir_method, vec![CirMethod::Stcp]);
    assert_eq!(
        format!(
            "{}:{}",
            agreed.tcp_address.unwrap(),
            agreed.tcp_port.unwrap()
        ),
        stcp_addr
    );

    // An unknown session's connection is closed.
    let mut stranger = Stcp::connect(&stcp_addr);
    stranger.say("HELO 0123456789abcdef0123456789abcdef");
    assert_eq!(stranger.line(), None, "no OK for an unknown session");

    // A message sent before alice connects wakes her as soon as she says HELO.
    let first = bob.send("wv:alice@localhost", "before HELO");
    let mut conn = Stcp::connect(&stcp_addr);
    conn.say(&format!("HELO {}", alice.sid()));
    assert_eq!(conn.line().as_deref(), Some("OK\r\n"));
    let cookie = alice.client.cookie().to_owned();
    let wvci = conn.line().expect("a WVCI line at once");
    assert_eq!(wvci, format!("WVCI 1.2 {cookie}\r\n"));
    alice.input(ClientInput::WakeUp);
    assert_eq!(alice.messages, vec![(first, "before HELO".to_owned())]);
    conn.say("PING ");
    assert_eq!(conn.line().as_deref(), Some("OK\r\n"));

    // Every later message wakes her again, within 5 s of its acknowledgement.
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let text = format!("message {i}");
        let id = bob.send("wv:alice@localhost", &text);
        let sent = Instant::now();
        let line = conn.line().expect("a wake-up within 5 s");
        slowest = slowest.max(sent.elapsed());
        assert!(sent.elapsed() < WAKE_WITHIN);
        assert!(line.starts_with("WVCI 1.2 "), "{line:?}");
        alice.input(ClientInput::WakeUp);
        assert_eq!(alice.messages.last(), Some(&(id, text)));
    }
    assert_eq!(alice.messages.len(), 6, "each message once");
    println!("STCP wake-up after the send's answer: at most {slowest:?}");

    // A forced logout wakes the client too: its poll learns 601.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imps"))
        .args(["logout", "alice", "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(conn.line().unwrap().starts_with("WVCI 1.2 "));
    alice.input(ClientInput::WakeUp);
    assert!(
        alice
            .events
            .iter()
            .any(|e| matches!(e, ClientEvent::Disconnected { code: 601 })),
        "{:?}",
        alice.events
    );
}

#[test]
fn shttp_answers_200_when_something_waits_and_204_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "shttp = true");
    let mut bob = Peer::login(&server, "bob", Version::V1_2, &[]);
    let mut alice = Peer::login(&server, "alice", Version::V1_2, &[CirMethod::Shttp]);
    // The same negotiation again, to read the CIRURL the client was given.
    let caps = "<ClientCapability-Request><CapabilityList><SupportedCIRMethod>SHTTP</SupportedCIRMethod>\
                </CapabilityList></ClientCapability-Request>";
    let reply = server.csp(&message(Some(&alice.sid()), "Request", Some("cap"), caps));
    let Some(Primitive::ClientCapabilityResponse(r)) = reply.decode().primitive().cloned() else {
        panic!("{:?}", String::from_utf8_lossy(&reply.body))
    };
    let agreed = r.agreed_capability_list.unwrap();
    assert_eq!(agreed.supported_cir_method, vec![CirMethod::Shttp]);
    let url = agreed.cir_url.and_then(|u| u.url).expect("a CIRURL");
    let path = url
        .strip_prefix(&server.base)
        .expect("on this server")
        .to_owned();
    assert!(path.starts_with("/cir/"), "{path}");
    let get = |p: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent.get(&format!("{}{p}", server.base)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get(&path).0, 204, "nothing waits");
    assert_eq!(get("/cir/not-a-token").0, 204);
    for i in 0..3 {
        let text = format!("m{i}");
        let id = bob.send("wv:alice@localhost", &text);
        let (status, body) = get(&path);
        assert_eq!(status, 200, "a message waits");
        assert_eq!(body, format!("WVCI 1.2 {}", alice.client.cookie()));
        assert_eq!(get(&path).0, 204, "answered once");
        alice.input(ClientInput::WakeUp);
        assert_eq!(alice.messages.last(), Some(&(id, text)));
    }
    assert_eq!(alice.messages.len(), 3);
}

#[test]
fn websocket_carries_the_same_signal() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let mut alice = Peer::login(&server, "alice", Version::V1_3, &[]);
    let mut bob = Peer::login(&server, "bob", Version::V1_2, &[]);
    let ws_base = server.base.replace("http://", "ws://");
    assert!(
        tungstenite::connect(format!("{ws_base}/cir/ws?session=nosuchsession")).is_err(),
        "an unknown session is refused"
    );
    let (mut ws, _) =
        tungstenite::connect(format!("{ws_base}/cir/ws?session={}", alice.sid())).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(WAKE_WITHIN)).unwrap();
    }
    for i in 0..4 {
        let text = format!("hello {i}");
        let id = bob.send("wv:alice@localhost", &text);
        let sent = Instant::now();
        let frame = ws.read().expect("a wake-up within 5 s");
        assert!(sent.elapsed() < WAKE_WITHIN);
        let tungstenite::Message::Text(t) = frame else {
            panic!("{frame:?}")
        };
        assert!(t.as_str().starts_with("WVCI 1.3 "), "{t}");
        alice.input(ClientInput::WakeUp);
        assert_eq!(alice.messages.last(), Some(&(id, text)));
    }
    assert_eq!(alice.messages.len(), 4);
    // SIGTERM closes the channel.
    assert!(server.terminate());
    assert!(
        matches!(ws.read(), Ok(tungstenite::Message::Close(_)) | Err(_)),
        "the channel is closed at shutdown"
    );
}
