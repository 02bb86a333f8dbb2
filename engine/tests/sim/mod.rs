//! Deterministic simulation: one server, many clients, virtual time, no I/O.
//! Every request and reply is recorded in a transcript so runs can be compared byte for byte.
#![allow(
    dead_code,
    clippy::field_reassign_with_default,
    clippy::collapsible_if,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use imps_engine::client::{Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command};
use imps_engine::codec::{self, Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::{AdminCommand, Config, Event, Input, Output, Request, Server};
use imps_engine::store::{MemoryStore, Store};

/// A cheap configuration for tests: fast hashing, a server key for digest login.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.domain = "example.org".into();
    c.server_key = Some("11".repeat(32));
    c.login.hash_memory_kib = 8;
    c.login.hash_iterations = 1;
    c
}

fn seed(n: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&n.to_le_bytes());
    s
}

pub struct Sim {
    pub config: Config,
    pub seed: u64,
    pub server: Server,
    pub store: MemoryStore,
    pub clients: Vec<Client>,
    pub events: Vec<Vec<ClientEvent>>,
    pub frozen: Vec<bool>,
    pub server_events: Vec<Event>,
    pub now: u64,
    pub wall_clock_ms: i64,
    pub transcript: Vec<String>,
    conns: BTreeMap<u64, (usize, u64)>,
    next_conn: u64,
    admin_id: u64,
}

impl Sim {
    pub fn new(config: Config, seed_value: u64) -> Sim {
        let server = Server::new(config.clone(), seed(seed_value));
        Sim {
            config,
            seed: seed_value,
            server,
            store: MemoryStore::default(),
            clients: Vec::new(),
            events: Vec::new(),
            frozen: Vec::new(),
            server_events: Vec::new(),
            now: 1_000,
            wall_clock_ms: 1_700_000_000_000,
            transcript: Vec::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            admin_id: 1,
        }
    }

    pub fn admin(&mut self, command: AdminCommand) -> Result<String, String> {
        let id = self.admin_id;
        self.admin_id += 1;
        self.server.handle(self.now, Input::Admin { id, command });
        let mut out = None;
        self.drain_server(&mut |o| {
            if let Output::AdminResult { id: got, result } = o {
                if got == id {
                    out = Some(result);
                }
            }
        });
        self.run();
        out.expect("admin result")
    }

    pub fn provision(&mut self, user: &str, password: &str) {
        self.admin(AdminCommand::ProvisionUser {
            user_id: user.into(),
            password: password.into(),
        })
        .unwrap();
    }

    pub fn add_client(&mut self, config: ClientConfig) -> usize {
        let idx = self.clients.len();
        self.clients
            .push(Client::new(config, seed(self.seed * 1000 + idx as u64 + 1)));
        self.events.push(Vec::new());
        self.frozen.push(false);
        idx
    }

    pub fn command(&mut self, idx: usize, c: Command) {
        self.clients[idx].handle(self.now, ClientInput::Command(c));
        self.run();
    }

    /// Drains server outputs: storage applied, replies routed, wake-ups delivered.
    fn drain_server(&mut self, extra: &mut dyn FnMut(Output)) {
        let mut replies = Vec::new();
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Storage(batch) => self.store.apply(&batch).unwrap(),
                Output::Reply(r) => replies.push(r),
                Output::WakeUp(w) => {
                    for (i, c) in self.clients.iter_mut().enumerate() {
                        if c.session_id() == Some(w.session_id.as_str()) && !self.frozen[i] {
                            c.handle(self.now, ClientInput::WakeUp);
                        }
                    }
                }
                Output::Event(e) => self.server_events.push(e),
                other => extra(other),
            }
        }
        for r in replies {
            self.transcript
                .push(format!("S>{}", String::from_utf8_lossy(&r.body)));
            if let Some((idx, request_id)) = self.conns.remove(&r.conn) {
                self.clients[idx].handle(
                    self.now,
                    ClientInput::Response {
                        request_id,
                        body: r.body,
                    },
                );
            }
        }
    }

    /// Runs until no client has anything to send.
    pub fn run(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = false;
            for idx in 0..self.clients.len() {
                while let Some(o) = self.clients[idx].poll_output() {
                    progressed = true;
                    match o {
                        ClientOutput::Send(out) => {
                            let conn = self.next_conn;
                            self.next_conn += 1;
                            self.conns.insert(conn, (idx, out.request_id));
                            self.transcript
                                .push(format!("C{idx}>{}", String::from_utf8_lossy(&out.body)));
                            self.server.handle(
                                self.now,
                                Input::Request(Request {
                                    conn,
                                    content_type: out.content_type.to_owned(),
                                    body: out.body,
                                    wall_clock_ms: self.wall_clock_ms,
                                    peer: Some(format!("10.0.0.{idx}")),
                                }),
                            );
                            self.drain_server(&mut |_| {});
                        }
                        ClientOutput::Event(e) => self.events[idx].push(e),
                    }
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("simulation did not settle");
    }

    /// Advances virtual time by `ms`, firing every deadline on the way in order.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        loop {
            let mut next = self.server.poll_timeout();
            for (i, c) in self.clients.iter().enumerate() {
                if self.frozen[i] {
                    continue;
                }
                if let Some(t) = c.poll_timeout() {
                    next = Some(next.map_or(t, |n: u64| n.min(t)));
                }
            }
            match next {
                Some(t) if t <= target => {
                    let delta = t.saturating_sub(self.now);
                    self.now += delta;
                    self.wall_clock_ms += delta as i64;
                    if self.server.poll_timeout().is_some_and(|d| d <= self.now) {
                        self.server.handle(self.now, Input::Timeout);
                        self.drain_server(&mut |_| {});
                    }
                    for i in 0..self.clients.len() {
                        if !self.frozen[i]
                            && self.clients[i]
                                .poll_timeout()
                                .is_some_and(|d| d <= self.now)
                        {
                            self.clients[i].handle(self.now, ClientInput::Timeout);
                        }
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.wall_clock_ms += (target - self.now) as i64;
        self.now = target;
    }

    /// Replaces the server by a fresh one restored from the store (a restart).
    pub fn restart(&mut self) {
        self.seed += 7;
        self.server = Server::new(self.config.clone(), seed(self.seed));
        let records = self.store.load().unwrap();
        self.server.handle(self.now, Input::Restore(records));
        self.drain_server(&mut |_| {});
    }

    /// Sends one hand-built message straight to the server and returns the decoded reply
    /// (`None` for an empty body).
    pub fn raw(&mut self, msg: &Message) -> Option<Message> {
        let body = codec::encode(msg);
        self.raw_bytes(msg.version.xml_content_type(), body)
    }

    pub fn raw_bytes(&mut self, content_type: &str, body: Vec<u8>) -> Option<Message> {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.server.handle(
            self.now,
            Input::Request(Request {
                conn,
                content_type: content_type.into(),
                body,
                wall_clock_ms: self.wall_clock_ms,
                peer: None,
            }),
        );
        let mut reply = None;
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Reply(r) if r.conn == conn => reply = Some(r.body),
                Output::Storage(b) => self.store.apply(&b).unwrap(),
                Output::Event(e) => self.server_events.push(e),
                _ => {}
            }
        }
        let body = reply.expect("a reply for every request");
        if body.is_empty() {
            None
        } else {
            Some(codec::decode(&body, Default::default()).expect("replies decode"))
        }
    }

    /// A one-transaction request message.
    pub fn request(
        version: Version,
        sid: Option<&str>,
        tid: Option<&str>,
        p: Primitive,
    ) -> Message {
        let st = if sid.is_some() {
            SessionType::Inband
        } else {
            SessionType::Outband
        };
        Message::single(
            version,
            st,
            sid.map(str::to_owned),
            TransactionMode::Request,
            tid.map(str::to_owned),
            p,
        )
    }

    pub fn last_event(&self, idx: usize) -> Option<&ClientEvent> {
        self.events[idx].last()
    }

    pub fn has_event(&self, idx: usize, f: impl Fn(&ClientEvent) -> bool) -> bool {
        self.events[idx].iter().any(f)
    }
}

/// The first primitive of a reply.
pub fn first(msg: &Message) -> &Primitive {
    msg.primitive().unwrap()
}

/// The status/result code of a primitive that carries one.
pub fn code_of(p: &Primitive) -> u32 {
    p.result_code()
        .unwrap_or_else(|| panic!("no code in {}", p.name()))
}

/// Logs `user` (password "pw") in with `version` through a new client; its index.
pub fn login(sim: &mut Sim, user: &str, version: Version) -> usize {
    login_with(
        sim,
        imps_engine::client::ClientConfig::new(
            version,
            user,
            "pw",
            imps_engine::client::LoginScheme::Password,
        ),
    )
}

/// Logs a new client with `cfg` in; its index.
pub fn login_with(sim: &mut Sim, cfg: imps_engine::client::ClientConfig) -> usize {
    let user = cfg.user_id.clone();
    let c = sim.add_client(cfg);
    sim.command(c, Command::Login);
    assert!(sim.clients[c].is_ready(), "{user} ready");
    c
}

/// Sends `p` through client `c` and returns the answer.
pub fn req(sim: &mut Sim, c: usize, p: Primitive) -> Primitive {
    let before = sim.events[c].len();
    sim.command(c, Command::Request(p));
    sim.events[c][before..]
        .iter()
        .find_map(|e| match e {
            ClientEvent::Response { primitive, .. } => Some(primitive.clone()),
            _ => None,
        })
        .expect("an answer")
}

/// Takes the server-initiated primitives client `c` received since last asked (its other
/// events are dropped).
pub fn take(sim: &mut Sim, c: usize) -> Vec<Primitive> {
    std::mem::take(&mut sim.events[c])
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::ServerRequest(p) => Some(p),
            _ => None,
        })
        .collect()
}
