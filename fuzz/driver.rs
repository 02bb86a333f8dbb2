//! The `engine_inputs` driver: fuzz bytes read as a sequence of small operations on one
//! [`Server`] (raw bodies, well-formed access requests for sessions seen so far, time, admin
//! commands, restarts), with the driving-surface invariants checked after every step:
//!
//! - every request gets exactly one reply, for its own connection, before `handle` returns;
//! - every non-empty reply decodes and round-trips (`check.rs`);
//! - admin commands get exactly one result with their id; no other input produces a reply;
//! - after `handle(Timeout)`, `poll_timeout` is no longer due (a host would spin otherwise);
//! - nothing panics.
//!
//! Shared by the fuzz target and `engine/tests/fuzz_regressions.rs` (included by `#[path]`,
//! next to `check.rs`, which it reaches as `crate::check`).

use imps_engine::codec::access::{
    ClientCapabilityRequest, DigestSchema, GetSpInfoRequest, KeepAliveRequest, LoginRequest,
    LogoutRequest, PollingRequest, ServiceRequest, VersionDiscoveryRequest,
};
use imps_engine::codec::capability::{
    Bearer, CapabilityList, CirMethod, ClientType, DeliveryMethod,
};
use imps_engine::codec::common::{ClientId, Status};
use imps_engine::codec::im::{MessageRef, NewMessage, SendMessageRequest};
use imps_engine::codec::service::{self, Feature, FeatureItem, Function, Functions, WvCspFeat};
use imps_engine::codec::{
    self, Message, Ns, Primitive, RawElement, RawNode, Session, SessionDescriptor, SessionType,
    Transaction, TransactionContent, TransactionDescriptor, TransactionMode, Version,
};
use imps_engine::server::config::{LimitsConfig, LoginConfig, SessionConfig};
use imps_engine::server::{AdminCommand, Config, Input, Output, Request, Server, auth};
use imps_engine::store::{MemoryStore, Store};

/// Most operations read from one input.
const MAX_STEPS: usize = 512;

/// The provisioned accounts: (user id, password).
const USERS: [(&str, &str); 2] = [("alice", "alice-pw"), ("wv:bob@example.org", "bob-pw")];

/// User ids the operations name: known users in several spellings, an unknown one, a foreign
/// domain, invalid ones.
const USER_IDS: [&str; 10] = [
    "alice",
    "wv:alice@example.org",
    "WV:Alice",
    "bob",
    "wv:bob@example.org",
    "carol",
    "wv:dave@elsewhere.net",
    "",
    "wv:",
    "al ice",
];

const PEERS: [Option<&str>; 3] = [None, Some("10.0.0.1"), Some("10.0.0.2")];

/// The content types a reply may carry.
const REPLY_CONTENT_TYPES: [&str; 4] = [
    "application/vnd.wv.csp.xml",
    "application/vnd.wv.csp+xml",
    "application/vnd.wv.csp.wbxml",
    "application/vnd.wv.csp+wbxml",
];

/// Runs one fuzz input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut ops = Ops { data };
    let mut driver = Driver::new(config(ops.byte()));
    let mut steps = 0;
    while !ops.data.is_empty() && steps < MAX_STEPS {
        driver.step(&mut ops);
        steps += 1;
    }
}

/// The cheap test configuration, with variations chosen by `flags`.
fn config(flags: u8) -> Config {
    let defaults = Config::default();
    let mut session = SessionConfig::default();
    if flags & 4 != 0 {
        session.max_per_user = 1;
    }
    if flags & 8 != 0 {
        session.queue_limit = 2;
        session.transaction_cache = 2;
    }
    if flags & 16 != 0 {
        session.max_multi_trans = 1;
    }
    let limits = if flags & 32 != 0 {
        LimitsConfig {
            max_message_bytes: 1024,
            max_depth: 8,
            max_elements: 64,
            max_text_bytes: 64,
        }
    } else {
        LimitsConfig::default()
    };
    Config {
        domain: "example.org".into(),
        server_key: Some("5a".repeat(32)),
        login: LoginConfig {
            hash_memory_kib: 8,
            hash_iterations: 1,
            open_registration: flags & 1 != 0,
            digest: flags & 2 == 0,
            ..defaults.login.clone()
        },
        session,
        limits,
        ..defaults
    }
}

/// The fuzz bytes, read front to back; reads past the end give zeros.
struct Ops<'a> {
    data: &'a [u8],
}

impl<'a> Ops<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// True when the next byte is a multiple of `n`.
    fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[usize::from(self.byte()) % items.len()]
    }

    /// A length byte, then that many bytes (255: the rest of the input).
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        let n = if n == 255 {
            self.data.len()
        } else {
            n.min(self.data.len())
        };
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Absent, zero, small, or the largest value.
    fn opt_u32(&mut self) -> Option<u32> {
        match self.byte() % 4 {
            0 => None,
            1 => Some(0),
            2 => Some(u32::from(self.u16())),
            _ => Some(u32::MAX),
        }
    }
}

struct Driver {
    config: Config,
    server: Server,
    store: MemoryStore,
    now: u64,
    next_conn: u64,
    next_admin: u64,
    next_tid: u64,
    restarts: u8,
    peer: Option<String>,
    /// SessionIDs seen in Login-Responses, with the version of that reply (kept after they end).
    sessions: Vec<(String, Version)>,
    /// TransactionIDs of server-initiated transactions seen in replies.
    server_tids: Vec<String>,
    /// Digest challenges seen: user id sent, nonce, scheme.
    nonces: Vec<(String, String, DigestSchema)>,
    /// The user id of the login being sent (to file its challenge under).
    login_user: Option<String>,
    last_tid: Option<String>,
    last_request: Option<(String, Vec<u8>)>,
}

impl Driver {
    fn new(config: Config) -> Driver {
        let server = Server::new(config.clone(), [0x42; 32]);
        let mut d = Driver {
            config,
            server,
            store: MemoryStore::default(),
            now: 1_000,
            next_conn: 1,
            next_admin: 1,
            next_tid: 1,
            restarts: 0,
            peer: None,
            sessions: Vec::new(),
            server_tids: Vec::new(),
            nonces: Vec::new(),
            login_user: None,
            last_tid: None,
            last_request: None,
        };
        for (user, password) in USERS {
            let result = d.admin(AdminCommand::ProvisionUser {
                user_id: user.into(),
                password: password.into(),
            });
            assert!(result.is_ok(), "provisioning {user}: {result:?}");
        }
        d
    }

    fn step(&mut self, ops: &mut Ops<'_>) {
        match ops.byte() % 18 {
            0 => {
                let ct = self.content_type(ops, Version::V1_2);
                let body = ops.bytes().to_vec();
                self.request(ct, body);
            }
            1 => self.login_password(ops),
            2 => self.login_challenge(ops),
            3 => self.login_digest(ops),
            4 => {
                let req = KeepAliveRequest {
                    time_to_live: ops.opt_u32(),
                    ..Default::default()
                };
                self.in_session(ops, Primitive::KeepAliveRequest(Box::new(req)));
            }
            5 => self.in_session(
                ops,
                Primitive::PollingRequest(Box::<PollingRequest>::default()),
            ),
            6 => self.in_session(
                ops,
                Primitive::LogoutRequest(Box::<LogoutRequest>::default()),
            ),
            7 => {
                let version = *ops.pick(&Version::ALL);
                let req = ServiceRequest {
                    client_id: client_id(ops),
                    functions: functions(ops, version),
                    all_functions_request: *ops.pick(&[None, Some(true), Some(false)]),
                    ..Default::default()
                };
                self.in_session(ops, Primitive::ServiceRequest(Box::new(req)));
            }
            8 => {
                let req = ClientCapabilityRequest {
                    client_id: client_id(ops),
                    capability_list: (!ops.one_in(8)).then(|| capabilities(ops)),
                    ..Default::default()
                };
                self.in_session(ops, Primitive::ClientCapabilityRequest(Box::new(req)));
            }
            9 => self.acknowledge(ops),
            10 => self.other_primitive(ops),
            11 => self.advance(ops),
            12 => self.admin_command(ops),
            13 => {
                if let Some((ct, body)) = self.last_request.clone() {
                    self.request(ct, body);
                }
            }
            14 => self.restart(),
            15 => self.multi_transaction(ops),
            16 => self.raw_in_session(ops),
            _ => self.peer = ops.pick(&PEERS).map(str::to_owned),
        }
    }

    // ---- driving surface with invariants ----------------------------------------------

    /// Sends one request; checks it gets exactly one reply for its connection and that the
    /// reply decodes. Returns the decoded reply (`None` for an empty body).
    fn request(&mut self, content_type: String, mut body: Vec<u8>) -> Option<Message> {
        // A WBXML content type gets the WBXML form of the message (when it is one), so that
        // WBXML sessions are driven too.
        if codec::Encoding::of_content_type(&content_type) == codec::Encoding::Wbxml
            && let Ok(msg) = codec::decode(&body, codec::Limits::default())
        {
            body = codec::encode_wbxml(&msg);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        self.last_request = Some((content_type.clone(), body.clone()));
        self.server.handle(
            self.now,
            Input::Request(Request {
                conn,
                content_type,
                body,
                wall_clock_ms: wall_clock(self.now),
                peer: self.peer.clone(),
            }),
        );
        let mut reply = None;
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Reply(r) => {
                    assert_eq!(r.conn, conn, "a reply for another connection");
                    assert!(reply.is_none(), "two replies for connection {conn}");
                    reply = Some(r);
                }
                other => self.side_output(other),
            }
        }
        let Some(reply) = reply else {
            panic!("no reply for connection {conn}");
        };
        assert!(
            REPLY_CONTENT_TYPES.contains(&reply.content_type),
            "reply content type {:?}",
            reply.content_type
        );
        if reply.body.is_empty() {
            return None;
        }
        // Each session is answered in the encoding of its login.
        let decoded =
            if codec::Encoding::of_content_type(reply.content_type) == codec::Encoding::Wbxml {
                crate::check::wbxml_roundtrip(&reply.body)
            } else {
                crate::check::decode_roundtrip(&reply.body)
            };
        let Some(msg) = decoded else {
            panic!(
                "reply does not decode: {}",
                String::from_utf8_lossy(&reply.body)
            );
        };
        self.harvest(&msg);
        Some(msg)
    }

    /// Outputs other than replies and admin results.
    fn side_output(&mut self, o: Output) {
        match o {
            Output::Storage(batch) => match self.store.apply(&batch) {
                Ok(()) => {}
                Err(never) => match never {},
            },
            Output::WakeUp(w) => assert!(!w.session_id.is_empty(), "wake-up without session"),
            Output::Event(_) => {}
            Output::AdminResult { id, .. } => panic!("admin result {id} without an admin command"),
            Output::Reply(r) => panic!("reply for connection {} without a request", r.conn),
        }
    }

    /// Drains after an input that is not a request: no reply may come.
    fn drain(&mut self) {
        while let Some(o) = self.server.poll_output() {
            self.side_output(o);
        }
    }

    fn admin(&mut self, command: AdminCommand) -> Result<String, String> {
        let id = self.next_admin;
        self.next_admin += 1;
        self.server.handle(self.now, Input::Admin { id, command });
        let mut result = None;
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::AdminResult { id: got, result: r } => {
                    assert_eq!(got, id, "admin result for another command");
                    assert!(result.is_none(), "two results for admin command {id}");
                    result = Some(r);
                }
                other => self.side_output(other),
            }
        }
        let Some(result) = result else {
            panic!("no result for admin command {id}");
        };
        result
    }

    /// Feeds `Timeout` when due (or anyway, when `spurious`); afterwards nothing may be due.
    fn timeouts(&mut self, spurious: bool) {
        let due = self.server.poll_timeout().is_some_and(|t| t <= self.now);
        if !due && !spurious {
            return;
        }
        self.server.handle(self.now, Input::Timeout);
        self.drain();
        if let Some(t) = self.server.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t} is still due at {} after Timeout",
                self.now
            );
        }
    }

    /// Remembers session ids, digest challenges and server transaction ids from a reply.
    fn harvest(&mut self, msg: &Message) {
        for t in &msg.session.transactions {
            let desc = t.descriptor.as_ref();
            if desc.and_then(|d| d.mode.as_ref()) == Some(&TransactionMode::Request)
                && let Some(tid) = desc.and_then(|d| d.transaction_id.clone())
            {
                push_capped(&mut self.server_tids, tid);
            }
            for p in t.content.iter().flat_map(|c| &c.primitives) {
                if let Primitive::LoginResponse(r) = p {
                    if let Some(sid) = &r.session_id {
                        push_capped(&mut self.sessions, (sid.clone(), msg.version));
                    }
                    if let (Some(nonce), Some(schema), Some(user)) =
                        (&r.nonce, &r.digest_schema, &self.login_user)
                    {
                        let entry = (user.clone(), nonce.clone(), schema.clone());
                        push_capped(&mut self.nonces, entry);
                    }
                }
            }
        }
    }

    // ---- operations -------------------------------------------------------------------

    fn content_type(&mut self, ops: &mut Ops<'_>, version: Version) -> String {
        match ops.byte() % 8 {
            4 => "application/vnd.wv.csp.xml".into(),
            5 => "application/vnd.wv.csp+xml; charset=utf-8".into(),
            6 => "application/vnd.wv.csp.wbxml".into(),
            7 => "text/xml".into(),
            _ => version.xml_content_type().into(),
        }
    }

    fn tid(&mut self, ops: &mut Ops<'_>) -> Option<String> {
        let tid = match ops.byte() % 8 {
            0 => None,
            1 => self.last_tid.clone(),
            _ => {
                self.next_tid += 1;
                Some(format!("c{}", self.next_tid))
            }
        };
        self.last_tid.clone_from(&tid);
        tid
    }

    /// A session id seen so far (or none, or a made-up one) and the version to speak.
    fn session(&mut self, ops: &mut Ops<'_>) -> (Option<String>, Version) {
        let which = ops.byte();
        let version_choice = ops.byte() % 4;
        let (sid, version) = match which % 8 {
            7 => (None, Version::V1_2),
            6 => (
                Some("0123456789abcdef0123456789abcdef".into()),
                Version::V1_2,
            ),
            _ if self.sessions.is_empty() => (None, Version::V1_2),
            _ => {
                let (sid, v) = &self.sessions[usize::from(which / 8) % self.sessions.len()];
                (Some(sid.clone()), *v)
            }
        };
        let version = match version_choice {
            0 => version,
            n => Version::ALL[usize::from(n - 1)],
        };
        (sid, version)
    }

    fn send(
        &mut self,
        ops: &mut Ops<'_>,
        sid: Option<String>,
        version: Version,
        mode: TransactionMode,
        p: Primitive,
    ) -> Option<Message> {
        let tid = self.tid(ops);
        let session_type = if sid.is_some() {
            SessionType::Inband
        } else {
            SessionType::Outband
        };
        let mut msg = Message::single(version, session_type, sid, mode, tid, p);
        if ops.one_in(8) {
            msg.set_poll(true);
        }
        let ct = self.content_type(ops, version);
        self.request(ct, codec::encode(&msg))
    }

    fn in_session(&mut self, ops: &mut Ops<'_>, p: Primitive) {
        let (sid, version) = self.session(ops);
        self.send(ops, sid, version, TransactionMode::Request, p);
    }

    fn login_password(&mut self, ops: &mut Ops<'_>) {
        let version = *ops.pick(&Version::ALL);
        let user = *ops.pick(&USER_IDS);
        let password = match ops.byte() % 4 {
            0 => "wrong".to_owned(),
            1 => String::new(),
            _ => password_of(user).to_owned(),
        };
        let with_negotiation = ops.one_in(2);
        let req = LoginRequest {
            user_id: Some(user.to_owned()),
            client_id: client_id(ops),
            password: Some(password),
            time_to_live: ops.opt_u32(),
            session_cookie: ops.one_in(2).then(|| "cookie".to_owned()),
            capability_list: with_negotiation.then(|| capabilities(ops)),
            functions: if with_negotiation {
                functions(ops, version)
            } else {
                None
            },
            ..Default::default()
        };
        self.login(ops, version, user, req);
    }

    fn login_challenge(&mut self, ops: &mut Ops<'_>) {
        let version = *ops.pick(&Version::ALL);
        let user = *ops.pick(&USER_IDS);
        let schemas: &[DigestSchema] = match ops.byte() % 6 {
            0 => &[],
            1 => &[DigestSchema::Md5],
            2 => &[DigestSchema::Sha],
            3 => &[DigestSchema::Pwd],
            4 => &[DigestSchema::Md4],
            _ => &[DigestSchema::Md4, DigestSchema::Sha, DigestSchema::Md5],
        };
        let req = LoginRequest {
            user_id: Some(user.to_owned()),
            client_id: client_id(ops),
            digest_schema: schemas.to_vec(),
            ..Default::default()
        };
        self.login(ops, version, user, req);
    }

    /// The second step of a digest login, answering a challenge seen before.
    fn login_digest(&mut self, ops: &mut Ops<'_>) {
        let version = *ops.pick(&Version::ALL);
        let (user, digest) = if self.nonces.is_empty() {
            ("alice".to_owned(), "AAAA".to_owned())
        } else {
            let (user, nonce, schema) = ops.pick(&self.nonces).clone();
            let password = if ops.one_in(4) {
                "wrong"
            } else {
                password_of(&user)
            };
            let digest = auth::digest(&schema, &nonce, password).unwrap_or_default();
            (user, digest)
        };
        let req = LoginRequest {
            user_id: Some(user.clone()),
            digest_bytes: Some(digest),
            time_to_live: ops.opt_u32(),
            ..Default::default()
        };
        self.login(ops, version, &user, req);
    }

    fn login(&mut self, ops: &mut Ops<'_>, version: Version, user: &str, req: LoginRequest) {
        self.login_user = Some(user.to_owned());
        self.send(
            ops,
            None,
            version,
            TransactionMode::Request,
            Primitive::LoginRequest(Box::new(req)),
        );
        self.login_user = None;
    }

    /// A client acknowledgement (Status or MessageDelivered, mode Response).
    fn acknowledge(&mut self, ops: &mut Ops<'_>) {
        let (sid, version) = self.session(ops);
        let tid = match ops.byte() % 4 {
            0 => None,
            1 => Some(format!("s{}", ops.byte() % 8)),
            _ if self.server_tids.is_empty() => Some("s1".to_owned()),
            _ => Some(ops.pick(&self.server_tids).clone()),
        };
        let p = match ops.byte() % 3 {
            0 => Primitive::Status(Box::new(Status::new(200, ""))),
            1 => Primitive::Status(Box::new(Status::new(500, "client error"))),
            _ => Primitive::MessageDelivered(Box::new(MessageRef {
                message_id: Some("m1".into()),
                ..Default::default()
            })),
        };
        let mut msg = Message::single(
            version,
            SessionType::Inband,
            sid,
            TransactionMode::Response,
            tid,
            p,
        );
        if ops.one_in(4) {
            msg.set_poll(true);
        }
        let ct = self.content_type(ops, version);
        self.request(ct, codec::encode(&msg));
    }

    /// A primitive the access code does not handle itself: unknown, server-only,
    /// not-agreed, or session-free ones, in either mode.
    fn other_primitive(&mut self, ops: &mut Ops<'_>) {
        let p = match ops.byte() % 10 {
            0 => Primitive::GetSpInfoRequest(Box::<GetSpInfoRequest>::default()),
            1 => Primitive::VersionDiscoveryRequest(Box::<VersionDiscoveryRequest>::default()),
            2 => Primitive::SendMessageRequest(Box::new(SendMessageRequest {
                content_data: Some(ops.text()),
                ..Default::default()
            })),
            3 => Primitive::NewMessage(Box::<NewMessage>::default()),
            4 => Primitive::Unknown(raw("X-Vendor-Request", ops.text())),
            5 => Primitive::ExtendedRequest(Box::new(raw("Extended-Request", ops.text()))),
            6 => Primitive::Status(Box::new(Status::new(200, ""))),
            7 => Primitive::SearchRequest(Box::default()),
            8 => Primitive::LoginResponse(Box::default()),
            _ => Primitive::SystemMessageUser(Box::default()),
        };
        let mode = ops
            .pick(&[
                TransactionMode::Request,
                TransactionMode::Response,
                TransactionMode::Other("Other".into()),
            ])
            .clone();
        let (sid, version) = self.session(ops);
        self.send(ops, sid, version, mode, p);
    }

    /// Up to four transactions in one message for one session.
    fn multi_transaction(&mut self, ops: &mut Ops<'_>) {
        let (sid, version) = self.session(ops);
        let n = 1 + ops.byte() % 4;
        let mut transactions = Vec::new();
        for _ in 0..n {
            let (mode, p) = match ops.byte() % 6 {
                0 => (
                    TransactionMode::Request,
                    Primitive::PollingRequest(Box::default()),
                ),
                1 => (
                    TransactionMode::Request,
                    Primitive::KeepAliveRequest(Box::default()),
                ),
                2 => (
                    TransactionMode::Request,
                    Primitive::LogoutRequest(Box::default()),
                ),
                3 => (
                    TransactionMode::Request,
                    Primitive::GetSpInfoRequest(Box::default()),
                ),
                4 => (
                    TransactionMode::Response,
                    Primitive::Status(Box::new(Status::new(200, ""))),
                ),
                _ => (
                    TransactionMode::Request,
                    Primitive::LoginRequest(Box::new(LoginRequest {
                        user_id: Some("alice".into()),
                        password: Some("alice-pw".into()),
                        ..Default::default()
                    })),
                ),
            };
            let tid = match mode {
                TransactionMode::Response if !self.server_tids.is_empty() => {
                    Some(ops.pick(&self.server_tids).clone())
                }
                _ => self.tid(ops),
            };
            transactions.push(Transaction {
                descriptor: Some(TransactionDescriptor {
                    mode: Some(mode),
                    transaction_id: tid,
                    ..Default::default()
                }),
                content: Some(TransactionContent::new(p)),
                ..Default::default()
            });
        }
        let msg = Message {
            version,
            session: Session {
                descriptor: Some(SessionDescriptor {
                    session_type: Some(SessionType::Inband),
                    session_id: sid,
                    ..Default::default()
                }),
                transactions,
                ..Default::default()
            },
            unknown: Vec::new(),
        };
        let ct = self.content_type(ops, version);
        self.request(ct, codec::encode(&msg));
    }

    /// A well-formed envelope for a session seen so far around fuzz bytes as the
    /// TransactionContent, so arbitrary markup reaches the in-session dispatch.
    fn raw_in_session(&mut self, ops: &mut Ops<'_>) {
        let (sid, version) = self.session(ops);
        let tid = self.tid(ops);
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "<WV-CSP-Message xmlns=\"{}\"><Session><SessionDescriptor>\
                 <SessionType>Inband</SessionType><SessionID>{}</SessionID></SessionDescriptor>\
                 <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
                 <TransactionID>{}</TransactionID></TransactionDescriptor>\
                 <TransactionContent xmlns=\"{}\">",
                Ns::Csp.uri(version),
                sid.unwrap_or_default(),
                tid.unwrap_or_default(),
                Ns::Trc.uri(version),
            )
            .as_bytes(),
        );
        body.extend_from_slice(ops.bytes());
        body.extend_from_slice(b"</TransactionContent></Transaction></Session></WV-CSP-Message>");
        let ct = self.content_type(ops, version);
        self.request(ct, body);
    }

    /// Advances time by up to 65 s (or 18 h) and feeds the timeouts that fall due.
    fn advance(&mut self, ops: &mut Ops<'_>) {
        let kind = ops.byte();
        let unit = if kind & 1 != 0 { 1000 } else { 1 };
        self.now += u64::from(ops.u16()) * unit;
        self.timeouts(kind & 2 != 0);
    }

    fn admin_command(&mut self, ops: &mut Ops<'_>) {
        let user = (*ops.pick(&USER_IDS)).to_owned();
        let command = match ops.byte() % 5 {
            0 => AdminCommand::ForceLogout { user_id: user },
            1 => AdminCommand::SystemMessage {
                user_id: Some(user),
                text: ops.text(),
            },
            2 => AdminCommand::SystemMessage {
                user_id: None,
                text: ops.text(),
            },
            3 => AdminCommand::DeleteUser { user_id: user },
            _ => AdminCommand::ProvisionUser {
                password: password_of(&user).to_owned(),
                user_id: user,
            },
        };
        // Errors (unknown user, invalid id) are answers too.
        let _ = self.admin(command);
    }

    /// A new server restored from the store; sessions are gone, their ids stay known here.
    fn restart(&mut self) {
        self.restarts = self.restarts.wrapping_add(1);
        self.server = Server::new(self.config.clone(), [self.restarts; 32]);
        let records = match self.store.load() {
            Ok(r) => r,
            Err(never) => match never {},
        };
        self.server.handle(self.now, Input::Restore(records));
        self.drain();
    }
}

fn wall_clock(now: u64) -> i64 {
    1_700_000_000_000 + i64::try_from(now).unwrap_or(i64::MAX / 2)
}

fn password_of(user: &str) -> &'static str {
    let lower = user.to_ascii_lowercase();
    if lower.contains("alice") {
        "alice-pw"
    } else if lower.contains("bob") {
        "bob-pw"
    } else {
        "other-pw"
    }
}

fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= 16 {
        list.remove(0);
    }
    list.push(item);
}

fn raw(name: &str, text: String) -> RawElement {
    RawElement {
        name: name.into(),
        attributes: Vec::new(),
        children: if text.is_empty() {
            Vec::new()
        } else {
            vec![RawNode::Text(text)]
        },
    }
}

fn client_id(ops: &mut Ops<'_>) -> Option<ClientId> {
    ops.one_in(2).then(|| ClientId {
        url: Some("http://fuzz.invalid/client".into()),
        ..Default::default()
    })
}

fn capabilities(ops: &mut Ops<'_>) -> CapabilityList {
    const CIR: [CirMethod; 7] = [
        CirMethod::WapSms,
        CirMethod::WapUdp,
        CirMethod::Sudp,
        CirMethod::Stcp,
        CirMethod::Ssms,
        CirMethod::Shttp,
        CirMethod::NoCir,
    ];
    let cir_bits = ops.byte();
    CapabilityList {
        client_type: Some(ClientType::Computer),
        initial_delivery_method: ops
            .pick(&[
                None,
                Some(DeliveryMethod::Push),
                Some(DeliveryMethod::Notify),
                Some(DeliveryMethod::Other("X".into())),
            ])
            .clone(),
        accepted_content_length: ops.opt_u32(),
        supported_bearer: vec![Bearer::Http],
        supported_cir_method: CIR
            .iter()
            .enumerate()
            .filter(|(i, _)| cir_bits & (1 << i) != 0)
            .map(|(_, m)| m.clone())
            .collect(),
        multi_trans: ops.opt_u32(),
        server_poll_min: ops.opt_u32(),
        parser_size: ops.opt_u32(),
        udp_port: ops.opt_u32(),
        ..Default::default()
    }
}

fn functions(ops: &mut Ops<'_>, version: Version) -> Option<Functions> {
    let feat = match ops.byte() % 7 {
        0 => return None,
        1 => return Some(Functions::default()),
        2 => WvCspFeat::default(),
        3 => WvCspFeat {
            features: ["FundamentalFeat", "PresenceFeat", "IMFeat", "GroupFeat"]
                .iter()
                .map(|n| Feature {
                    name: (*n).to_owned(),
                    items: Vec::new(),
                })
                .collect(),
        },
        4 => service::tree_of(version, &["GETSPI"]),
        5 => service::tree_of(version, &["GETSPI", "SRCH", "MDELIV", "GETPR"]),
        _ => WvCspFeat {
            features: vec![Feature {
                name: "VendorFeat".into(),
                items: vec![
                    FeatureItem::Function(Function {
                        name: "VendorFunc".into(),
                        codes: vec!["XYZ".into(), "GETSPI".into()],
                    }),
                    FeatureItem::Marker("MV".into()),
                ],
            }],
        },
    };
    Some(Functions {
        wv_csp_feat: Some(feat),
    })
}
