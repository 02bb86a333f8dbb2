//! The CSP client session (CSP-REFERENCE §1.4, §1.5): login with either scheme, capability
//! and service negotiation, keep-alive scheduling, polling and wake-up handling, and
//! acknowledgement of server-initiated transactions. Same driving surface as the server:
//! [`Client::handle`], [`Client::poll_output`], [`Client::poll_timeout`]. The presence side
//! (request builders, the contacts' presence view) is in [`presence`]; instant messaging
//! (request builders, message events, once-only delivery to the application) in [`im`].

pub mod group;
pub mod im;
pub mod invite;
pub mod presence;

use std::collections::VecDeque;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::codec::access::{
    ClientCapabilityRequest, DigestSchema, KeepAliveRequest, LoginRequest, LogoutRequest,
    PollingRequest, ServiceRequest,
};
use crate::codec::capability::{Bearer, CapabilityList, ClientType, DeliveryMethod};
use crate::codec::common::{ClientId, ContentEncoding, CspResult, Status};
use crate::codec::im::MessageInfo;
use crate::codec::presence_attrs::PresenceSubList;
use crate::codec::service::{self, Functions, WvCspFeat};
use crate::codec::{
    self, Limits, Message, Primitive, SessionType, Transaction, TransactionContent,
    TransactionDescriptor, TransactionMode, Version,
};
use crate::server::auth;

/// Milliseconds on the host's monotonic clock.
pub type Millis = u64;

/// How the client proves its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginScheme {
    /// 2-way: the password travels in the Login-Request.
    Password,
    /// 4-way: the server sends a nonce, the client answers base64(H(nonce ‖ password)).
    Digest,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// CSP version to speak.
    pub version: Version,
    /// User id.
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Login scheme.
    pub scheme: LoginScheme,
    /// The client's id (a URL).
    pub client_id: String,
    /// Keep-alive wish, seconds.
    pub time_to_live: Option<u32>,
    /// Function codes to ask for; `None` asks for everything (empty feature elements).
    pub functions: Option<Vec<&'static str>>,
    /// Poll interval when nothing better is agreed, seconds (never below ServerPollMin).
    pub poll_interval_secs: u32,
    /// Capabilities sent in ClientCapability-Request.
    pub capabilities: CapabilityList,
    /// Fetch announced messages by itself: on a MessageNotification the client sends
    /// GetMessage, raises [`ClientEvent::Message`] from the answer and confirms it with a
    /// MessageDelivered request (CSP-REFERENCE §1.4, notify delivery). Off by default: the
    /// application then sees [`ClientEvent::MessageWaiting`] and fetches with
    /// [`im::get_message`] when it wants.
    pub auto_fetch: bool,
    /// How messages are written and read on the wire (XML by default; handsets mostly
    /// speak WBXML, CSP-REFERENCE §6). Answers are read in the encoding they come in.
    pub encoding: codec::Encoding,
}

impl ClientConfig {
    /// Sensible settings for `user_id` / `password`.
    pub fn new(version: Version, user_id: &str, password: &str, scheme: LoginScheme) -> Self {
        ClientConfig {
            version,
            user_id: user_id.to_owned(),
            password: password.to_owned(),
            scheme,
            client_id: "http://imps.invalid/imps-engine-client".into(),
            time_to_live: None,
            functions: None,
            poll_interval_secs: 30,
            capabilities: CapabilityList {
                client_type: Some(ClientType::Computer),
                initial_delivery_method: Some(DeliveryMethod::Push),
                accepted_content_type: vec![crate::codec::capability::AcceptedContentType {
                    content_type: Some("text/plain".into()),
                    ..Default::default()
                }],
                accepted_transfer_encoding: vec![ContentEncoding::None, ContentEncoding::Base64],
                accepted_content_length: Some(65_536),
                supported_bearer: vec![Bearer::Http],
                multi_trans: Some(1),
                parser_size: Some(65_536),
                ..Default::default()
            },
            auto_fetch: false,
            encoding: codec::Encoding::Xml,
        }
    }
}

/// An input to the client.
#[derive(Debug, Clone)]
pub enum ClientInput {
    /// Something the application wants.
    Command(Command),
    /// The HTTP answer to [`ClientOutput::Send`] with the same `request_id`.
    Response {
        /// Which request.
        request_id: u64,
        /// Response body (may be empty).
        body: Vec<u8>,
    },
    /// The request failed at the transport (no HTTP 200).
    TransportError {
        /// Which request.
        request_id: u64,
    },
    /// A CIR arrived: the server has something; the client polls.
    WakeUp,
    /// The deadline from [`Client::poll_timeout`] passed.
    Timeout,
}

/// Application commands.
#[derive(Debug, Clone)]
pub enum Command {
    /// Log in, then negotiate capabilities and services.
    Login,
    /// Log out.
    Logout,
    /// Poll now.
    Poll,
    /// Send a keep-alive now.
    KeepAlive,
    /// Send any request primitive; its answer comes back as [`ClientEvent::Response`].
    Request(Primitive),
}

/// A request for the host to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Correlates the [`ClientInput::Response`].
    pub request_id: u64,
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The CSP message.
    pub body: Vec<u8>,
}

/// Outputs of the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientOutput {
    /// POST this to the server; feed the answer back as [`ClientInput::Response`].
    Send(Outgoing),
    /// Tell the application.
    Event(ClientEvent),
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Logged in; negotiation follows.
    LoggedIn {
        /// Session id.
        session_id: String,
        /// Granted keep-alive, seconds.
        keep_alive_secs: u32,
    },
    /// Capabilities and services are agreed; the session is ready.
    Ready {
        /// Function codes the server agreed to.
        agreed: Vec<String>,
        /// Codes the server listed as not available.
        not_available: Vec<String>,
    },
    /// Login refused.
    LoginFailed {
        /// CSP status code.
        code: u32,
        /// Server's text.
        description: String,
    },
    /// The session ended (200 after logout; 600, 601, 604 from the server).
    Disconnected {
        /// Why.
        code: u32,
    },
    /// A server-initiated transaction arrived (already acknowledged).
    ServerRequest(Primitive),
    /// The answer to a [`Command::Request`].
    Response {
        /// The TransactionID used.
        transaction_id: String,
        /// The answer.
        primitive: Primitive,
    },
    /// A KeepAlive-Response.
    KeptAlive {
        /// Result code (200 or 605).
        code: u32,
        /// Granted keep-alive, seconds.
        keep_alive_secs: u32,
    },
    /// A request could not be completed (transport failure, undecodable answer).
    Error {
        /// What happened.
        message: String,
    },
    /// A user's presence changed: one per `Presence` in a PresenceNotification-Request or a
    /// GetPresence-Response, after the generic event. [`Client::presence`] already holds the
    /// merged result.
    Presence {
        /// The user, as the server wrote it (canonical `wv:user@domain`).
        user_id: String,
        /// The attributes as received; `Qualifier` F marks a withdrawn attribute. Boxed: an
        /// attribute list is large and every event would pay for it.
        changed: Box<PresenceSubList>,
    },
    /// Someone asks to see our presence: a ≤ 1.2 PresenceAuth-Request (answer with
    /// [`presence::authorize`]) or a 1.3 Notification-Request `ANU`, one per watcher (answer
    /// with [`presence::create_attribute_list`]). Follows the generic event.
    AuthorizationRequest {
        /// The watcher.
        user_id: String,
        /// The attributes asked for (empty = not said); boxed like `changed`.
        attributes: Box<PresenceSubList>,
    },
    /// An instant message: a pushed `NewMessage` or a `GetMessage-Response`, after the
    /// generic event, at most once per `MessageID` (see [`im`]: redeliveries are acknowledged
    /// but not passed on again).
    Message {
        /// The server's id of the message (empty if the server gave none).
        message_id: String,
        /// Who wrote it, in one string ([`im::sender_name`]); the full `Sender` is in `info`.
        sender: Option<String>,
        /// The envelope as received (content type and encoding, recipients, time). Boxed: it
        /// is large and every event would pay for it.
        info: Box<MessageInfo>,
        /// `ContentData` as received, byte for byte; still BASE64 when
        /// `info.content_encoding` says so.
        content: String,
    },
    /// A message waits on the server (notify delivery, `MessageNotification`); fetch it with
    /// [`im::get_message`] unless [`ClientConfig::auto_fetch`] does. Follows the generic
    /// event.
    MessageWaiting {
        /// Its envelope: id, sender, size. Boxed like in `Message`.
        info: Box<MessageInfo>,
    },
    /// The server reports the fate of a message we sent with a delivery report asked for
    /// (`DeliveryReport-Request`). Follows the generic event.
    DeliveryReport {
        /// The message concerned.
        message_id: Option<String>,
        /// The delivery result (200 = delivered; 0 when the server gave none).
        code: u32,
        /// The message's envelope as the server sent it back. Boxed like in `Message`.
        info: Box<MessageInfo>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    LoggingIn,
    Negotiating,
    Ready,
    LoggingOut,
}

#[derive(Debug, Clone)]
enum Pending {
    Login,
    Capability,
    Service,
    KeepAlive,
    Poll,
    Logout,
    Ack,
    App(String),
    /// A GetMessage the client sent by itself ([`ClientConfig::auto_fetch`]) for this id.
    Fetch(String),
    /// A MessageDelivered request the client sent by itself for this id.
    Delivered(String),
}

/// The client state machine.
pub struct Client {
    config: ClientConfig,
    rng: ChaCha20Rng,
    now: Millis,
    phase: Phase,
    session_id: Option<String>,
    cookie: String,
    keep_alive_secs: u32,
    server_poll_min: u32,
    keep_alive_due: Option<Millis>,
    poll_due: Option<Millis>,
    pending: crate::vecmap::VecMap<u64, Pending>,
    outputs: VecDeque<ClientOutput>,
    next_request: u64,
    next_tid: u64,
    agreed: Vec<String>,
    presence: presence::PresenceView,
    /// Ids of messages passed on lately; kept across logins (see [`im`]).
    seen_messages: im::SeenMessages,
}

impl Client {
    /// A client with `config`; randomness (the SessionCookie) from `seed`.
    pub fn new(config: ClientConfig, seed: [u8; 32]) -> Client {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let cookie = format!("c{:016x}", rng.next_u64());
        Client {
            config,
            rng,
            now: 0,
            phase: Phase::Idle,
            session_id: None,
            cookie,
            keep_alive_secs: 0,
            server_poll_min: 0,
            keep_alive_due: None,
            poll_due: None,
            pending: crate::vecmap::VecMap::new(),
            outputs: VecDeque::new(),
            next_request: 1,
            next_tid: 1,
            agreed: Vec::new(),
            presence: presence::PresenceView::default(),
            seen_messages: im::SeenMessages::default(),
        }
    }

    /// The session id while logged in.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Whether negotiation is complete and the session usable.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The client's SessionCookie.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The last known presence of `user_id` (any case, `wv:` optional), merged from every
    /// notification and GetPresence answer of this session.
    pub fn presence(&self, user_id: &str) -> Option<&PresenceSubList> {
        self.presence.get(user_id)
    }

    /// Every user whose presence this session heard of, by lower-case `wv:` id.
    pub fn contacts_presence(&self) -> impl Iterator<Item = (&str, &PresenceSubList)> {
        self.presence.iter()
    }

    /// Whether the message `id` was already passed on as a [`ClientEvent::Message`] (among the
    /// last [`im::SEEN_MESSAGE_IDS`]).
    pub fn has_seen_message(&self, id: &str) -> bool {
        self.seen_messages.contains(id)
    }

    /// Feeds one input at monotonic time `now`; drain [`Client::poll_output`] afterwards.
    pub fn handle(&mut self, now: Millis, input: ClientInput) {
        self.now = self.now.max(now);
        match input {
            ClientInput::Command(c) => self.on_command(c),
            ClientInput::Response { request_id, body } => self.on_response(request_id, &body),
            ClientInput::TransportError { request_id } => {
                let what = self.pending.remove(&request_id);
                self.event(ClientEvent::Error {
                    message: format!("transport failure for {what:?}"),
                });
                if matches!(what, Some(Pending::Login)) {
                    self.phase = Phase::Idle;
                }
            }
            ClientInput::WakeUp => {
                if self.session_id.is_some() {
                    self.send_poll();
                }
            }
            ClientInput::Timeout => self.on_timeout(),
        }
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.outputs.pop_front()
    }

    /// When to feed [`ClientInput::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match (self.keep_alive_due, self.poll_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn event(&mut self, e: ClientEvent) {
        self.outputs.push_back(ClientOutput::Event(e));
    }

    fn tid(&mut self) -> String {
        let t = format!("c{}", self.next_tid);
        self.next_tid += 1;
        t
    }

    /// Sends one transaction; returns the TransactionID used.
    fn send(
        &mut self,
        mode: TransactionMode,
        tid: Option<String>,
        primitive: Primitive,
        pending: Pending,
    ) -> Option<String> {
        let request_id = self.next_request;
        self.next_request += 1;
        let session_type = if self.session_id.is_some() {
            SessionType::Inband
        } else {
            SessionType::Outband
        };
        let msg = Message::single(
            self.config.version,
            session_type,
            self.session_id.clone(),
            mode,
            tid.clone(),
            primitive,
        );
        let body = self.config.encoding.encode(&msg);
        self.pending.insert(request_id, pending);
        self.outputs.push_back(ClientOutput::Send(Outgoing {
            request_id,
            content_type: self.config.encoding.content_type(self.config.version),
            body,
        }));
        // Any request counts as activity; the keep-alive is due before KeepAliveTime runs out.
        if self.session_id.is_some() && self.keep_alive_secs > 0 {
            let lead = (u64::from(self.keep_alive_secs) * 100).clamp(1000, 5000);
            self.keep_alive_due = Some(self.now + u64::from(self.keep_alive_secs) * 1000 - lead);
        }
        tid
    }

    fn request(&mut self, primitive: Primitive, pending: Pending) -> Option<String> {
        let tid = self.tid();
        self.send(TransactionMode::Request, Some(tid), primitive, pending)
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::Login => {
                if self.phase != Phase::Idle {
                    self.event(ClientEvent::Error {
                        message: "already logged in or logging in".into(),
                    });
                    return;
                }
                self.phase = Phase::LoggingIn;
                self.presence.clear();
                let mut req = self.login_base();
                match self.config.scheme {
                    LoginScheme::Password => req.password = Some(self.config.password.clone()),
                    LoginScheme::Digest => {
                        req.digest_schema = vec![DigestSchema::Md5, DigestSchema::Sha]
                    }
                }
                self.request(Primitive::LoginRequest(Box::new(req)), Pending::Login);
            }
            Command::Logout => {
                if self.session_id.is_some() {
                    self.phase = Phase::LoggingOut;
                    self.request(
                        Primitive::LogoutRequest(Box::<LogoutRequest>::default()),
                        Pending::Logout,
                    );
                }
            }
            Command::Poll => self.send_poll(),
            Command::KeepAlive => self.send_keep_alive(),
            Command::Request(p) => {
                let tid = self.tid();
                self.send(
                    TransactionMode::Request,
                    Some(tid.clone()),
                    p,
                    Pending::App(tid),
                );
            }
        }
    }

    fn login_base(&self) -> LoginRequest {
        let mut req = LoginRequest {
            user_id: Some(self.config.user_id.clone()),
            client_id: Some(ClientId {
                url: Some(self.config.client_id.clone()),
                ..Default::default()
            }),
            time_to_live: self.config.time_to_live,
            session_cookie: Some(self.cookie.clone()),
            ..Default::default()
        };
        if self.config.version == Version::V1_3 {
            req.capability_list = Some(self.config.capabilities.clone());
            req.functions = Some(self.requested_functions());
        }
        req
    }

    fn requested_functions(&self) -> Functions {
        let feat = match &self.config.functions {
            Some(codes) => service::tree_of(self.config.version, codes),
            None => WvCspFeat {
                features: ["FundamentalFeat", "PresenceFeat", "IMFeat", "GroupFeat"]
                    .iter()
                    .map(|n| service::Feature {
                        name: (*n).to_owned(),
                        items: Vec::new(),
                    })
                    .collect(),
            },
        };
        Functions {
            wv_csp_feat: Some(feat),
        }
    }

    fn send_poll(&mut self) {
        if self.session_id.is_none() {
            return;
        }
        if self.pending.values().any(|p| matches!(p, Pending::Poll)) {
            return;
        }
        self.send(
            TransactionMode::Request,
            None,
            Primitive::PollingRequest(Box::<PollingRequest>::default()),
            Pending::Poll,
        );
        self.schedule_poll();
    }

    fn send_keep_alive(&mut self) {
        if self.session_id.is_none() {
            return;
        }
        let req = KeepAliveRequest {
            time_to_live: self.config.time_to_live,
            ..Default::default()
        };
        self.request(
            Primitive::KeepAliveRequest(Box::new(req)),
            Pending::KeepAlive,
        );
    }

    fn schedule_poll(&mut self) {
        if self.phase == Phase::Ready {
            let secs = self
                .config
                .poll_interval_secs
                .max(self.server_poll_min)
                .max(1);
            self.poll_due = Some(self.now + u64::from(secs) * 1000);
        }
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        if self.poll_due.is_some_and(|t| t <= now) {
            self.poll_due = None;
            self.send_poll();
        }
        if self.keep_alive_due.is_some_and(|t| t <= now) {
            self.keep_alive_due = None;
            self.send_keep_alive();
        }
    }

    fn disconnected(&mut self, code: u32) {
        self.session_id = None;
        self.phase = Phase::Idle;
        self.keep_alive_due = None;
        self.poll_due = None;
        // Nothing keeps the view current any more; stale presence would mislead.
        self.presence.clear();
        self.event(ClientEvent::Disconnected { code });
    }

    fn on_response(&mut self, request_id: u64, body: &[u8]) {
        let Some(what) = self.pending.remove(&request_id) else {
            self.event(ClientEvent::Error {
                message: format!("answer to unknown request {request_id}"),
            });
            return;
        };
        if body.is_empty() {
            // Nothing waiting (poll) or an acknowledged acknowledgement.
            if !matches!(what, Pending::Poll | Pending::Ack) {
                self.event(ClientEvent::Error {
                    message: format!("empty answer to {what:?}"),
                });
            }
            return;
        }
        // A WBXML document starts with its version byte (1–3), an XML one never does.
        let encoding = match body.first() {
            Some(0x01..=0x03) => codec::Encoding::Wbxml,
            _ => codec::Encoding::Xml,
        };
        let msg = match encoding.decode(body, Limits::default()) {
            Ok(m) => m,
            Err(e) => {
                self.event(ClientEvent::Error {
                    message: format!("undecodable answer: {e}"),
                });
                if matches!(what, Pending::Login) {
                    self.phase = Phase::Idle;
                }
                return;
            }
        };
        let poll = msg.poll() == Some(true);
        for t in msg.session.transactions {
            self.on_transaction(&what, t);
        }
        if poll && self.session_id.is_some() {
            self.send_poll();
        }
    }

    fn on_transaction(&mut self, what: &Pending, t: Transaction) {
        let (mode, tid) = match t.descriptor {
            Some(TransactionDescriptor {
                mode,
                transaction_id,
                ..
            }) => (mode, transaction_id),
            None => (None, None),
        };
        let Some(p) = t
            .content
            .and_then(|c: TransactionContent| c.primitives.into_iter().next())
        else {
            return;
        };
        if mode == Some(TransactionMode::Request) {
            // Server-initiated: acknowledge, then tell the application (CSP-REFERENCE §1.4).
            let ack = match &p {
                Primitive::NewMessage(m) => {
                    Primitive::MessageDelivered(Box::new(crate::codec::im::MessageRef {
                        message_id: m.message_info.as_ref().and_then(|i| i.message_id.clone()),
                        ..Default::default()
                    }))
                }
                _ => Primitive::Status(Box::new(Status::new(200, ""))),
            };
            let ends = matches!(&p, Primitive::Disconnect(_));
            self.send(TransactionMode::Response, tid, ack, Pending::Ack);
            let code = if let Primitive::Disconnect(d) = &p {
                d.result.as_ref().map_or(0, CspResult::code)
            } else {
                0
            };
            let mut typed = presence::observe(&mut self.presence, &p);
            typed.extend(im::observe(&mut self.seen_messages, &p));
            let announced = match &p {
                Primitive::MessageNotification(n) if self.config.auto_fetch => {
                    im::message_id(n.message_info.as_ref()).map(str::to_owned)
                }
                _ => None,
            };
            self.event(ClientEvent::ServerRequest(p));
            for e in typed {
                self.event(e);
            }
            if let Some(id) = announced {
                self.fetch(id);
            }
            if ends {
                self.disconnected(code);
            }
            return;
        }
        let code = p.result_code();
        if matches!(code, Some(600 | 601 | 604)) && !matches!(what, Pending::Login) {
            self.disconnected(code.unwrap_or(604));
            return;
        }
        match (what, p) {
            (Pending::Login, Primitive::LoginResponse(r)) => self.on_login_response(*r),
            (Pending::Capability, Primitive::ClientCapabilityResponse(r)) => {
                let agreed = r
                    .agreed_capability_list
                    .as_ref()
                    .and_then(|a| a.server_poll_min);
                let agreed_11 = r.capability_list.as_ref().and_then(|c| c.server_poll_min);
                self.server_poll_min = agreed.or(agreed_11).unwrap_or(0);
                self.send_service_request();
            }
            (Pending::Service, Primitive::ServiceResponse(r)) => {
                let not_available = listed(r.functions.as_ref());
                let offered = r
                    .all_functions
                    .as_ref()
                    .and_then(|f| f.wv_csp_feat.as_ref())
                    .map(service::listed_codes);
                self.ready(not_available, offered);
            }
            (Pending::KeepAlive, Primitive::KeepAliveResponse(r)) => {
                let code = r.result.as_ref().map_or(0, CspResult::code);
                if let Some(k) = r.keep_alive_time {
                    self.keep_alive_secs = k;
                }
                // Reschedule from now with the (possibly new) KeepAliveTime.
                if self.keep_alive_secs > 0 {
                    let lead = (u64::from(self.keep_alive_secs) * 100).clamp(1000, 5000);
                    self.keep_alive_due =
                        Some(self.now + u64::from(self.keep_alive_secs) * 1000 - lead);
                }
                let keep_alive_secs = self.keep_alive_secs;
                self.event(ClientEvent::KeptAlive {
                    code,
                    keep_alive_secs,
                });
            }
            (Pending::Logout, Primitive::Disconnect(_) | Primitive::Status(_)) => {
                self.disconnected(200)
            }
            (Pending::Fetch(id), Primitive::GetMessageResponse(m)) => {
                // Raised before confirming, so the message is with the application before the
                // server may forget it.
                if let Some(e) = im::message_event(&mut self.seen_messages, &m) {
                    self.event(e);
                }
                // Confirm the id asked for: that is the one the server announced and keeps.
                self.request(im::message_delivered(id), Pending::Delivered(id.clone()));
            }
            (Pending::Delivered(_), Primitive::Status(s)) if s.code() == 200 => {}
            (Pending::Fetch(id) | Pending::Delivered(id), Primitive::Status(s)) => {
                let asked = if matches!(what, Pending::Fetch(_)) {
                    "GetMessage"
                } else {
                    "MessageDelivered"
                };
                self.event(ClientEvent::Error {
                    message: format!("{asked} for message {id} answered with status {}", s.code()),
                });
            }
            (Pending::App(tid), p) => {
                let mut typed = presence::observe(&mut self.presence, &p);
                typed.extend(im::observe(&mut self.seen_messages, &p));
                self.event(ClientEvent::Response {
                    transaction_id: tid.clone(),
                    primitive: p,
                });
                for e in typed {
                    self.event(e);
                }
            }
            (_, Primitive::Status(s)) => {
                self.event(ClientEvent::Error {
                    message: format!("{what:?} answered with status {}", s.code()),
                });
                if matches!(what, Pending::Capability | Pending::Service) {
                    self.phase = Phase::Ready;
                }
            }
            (_, other) => self.event(ClientEvent::Error {
                message: format!("unexpected {} for {what:?}", other.name()),
            }),
        }
    }

    fn on_login_response(&mut self, r: crate::codec::access::LoginResponse) {
        let code = r.result.as_ref().map_or(0, CspResult::code);
        let description = r
            .result
            .as_ref()
            .and_then(|x| x.description.clone())
            .unwrap_or_default();
        match (code, r.session_id) {
            (200, Some(sid)) => {
                self.session_id = Some(sid.clone());
                self.keep_alive_secs = r.keep_alive_time.unwrap_or(300);
                self.phase = Phase::Negotiating;
                self.event(ClientEvent::LoggedIn {
                    session_id: sid,
                    keep_alive_secs: self.keep_alive_secs,
                });
                if let Some(a) = &r.agreed_capability_list {
                    self.server_poll_min = a.server_poll_min.unwrap_or(0);
                }
                if r.capability_request == Some(true) {
                    let req = ClientCapabilityRequest {
                        client_id: (self.config.version == Version::V1_1).then(|| ClientId {
                            url: Some(self.config.client_id.clone()),
                            ..Default::default()
                        }),
                        capability_list: Some(self.config.capabilities.clone()),
                        ..Default::default()
                    };
                    self.request(
                        Primitive::ClientCapabilityRequest(Box::new(req)),
                        Pending::Capability,
                    );
                } else if self.config.version == Version::V1_3 {
                    // 1.3 negotiated capabilities and services inside the login.
                    self.ready(listed(r.functions.as_ref()), None);
                } else {
                    self.send_service_request();
                }
            }
            (401, _) if r.nonce.is_some() || r.digest_schema.is_some() => {
                let schema = r.digest_schema.unwrap_or(DigestSchema::Md5);
                let mut req = self.login_base();
                match (&schema, r.nonce) {
                    (DigestSchema::Pwd, _) => req.password = Some(self.config.password.clone()),
                    (_, Some(nonce)) => {
                        match auth::digest(&schema, &nonce, &self.config.password) {
                            Some(d) => req.digest_bytes = Some(d),
                            None => {
                                self.phase = Phase::Idle;
                                self.event(ClientEvent::LoginFailed {
                                    code: 543,
                                    description: format!("cannot compute a {schema} digest"),
                                });
                                return;
                            }
                        }
                    }
                    (_, None) => {
                        self.phase = Phase::Idle;
                        self.event(ClientEvent::LoginFailed {
                            code: 401,
                            description: "challenge without a nonce".into(),
                        });
                        return;
                    }
                }
                self.request(Primitive::LoginRequest(Box::new(req)), Pending::Login);
            }
            _ => {
                self.phase = Phase::Idle;
                self.event(ClientEvent::LoginFailed { code, description });
            }
        }
    }

    /// Completes negotiation: agreed = requested − not available (∩ offered when listed).
    fn ready(&mut self, not_available: Vec<String>, offered: Option<Vec<String>>) {
        let requested: Vec<String> = match &self.config.functions {
            Some(c) => c.iter().map(|s| (*s).to_owned()).collect(),
            None => service::tree(self.config.version)
                .iter()
                .flat_map(|r| r.3.iter())
                .map(|s| (*s).to_owned())
                .collect(),
        };
        let agreed: Vec<String> = requested
            .into_iter()
            .filter(|c| {
                !not_available.contains(c) && offered.as_ref().is_none_or(|o| o.contains(c))
            })
            .collect();
        self.agreed = agreed.clone();
        self.phase = Phase::Ready;
        self.schedule_poll();
        self.event(ClientEvent::Ready {
            agreed,
            not_available,
        });
    }

    /// Function codes agreed with the server.
    pub fn agreed(&self) -> &[String] {
        &self.agreed
    }

    fn send_service_request(&mut self) {
        let req = ServiceRequest {
            client_id: (self.config.version == Version::V1_1).then(|| ClientId {
                url: Some(self.config.client_id.clone()),
                ..Default::default()
            }),
            functions: Some(self.requested_functions()),
            all_functions_request: Some(true),
            ..Default::default()
        };
        self.request(Primitive::ServiceRequest(Box::new(req)), Pending::Service);
    }

    /// Acts on a MessageNotification for `id` when [`ClientConfig::auto_fetch`] is on: fetch
    /// it, or — when it was passed on already and only our confirmation went missing —
    /// confirm it again without fetching.
    fn fetch(&mut self, id: String) {
        if self.session_id.is_none() {
            return;
        }
        if self.seen_messages.contains(&id) {
            self.request(im::message_delivered(&id), Pending::Delivered(id));
            return;
        }
        let busy = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::Fetch(f) if *f == id));
        if !busy {
            self.request(im::get_message(&id), Pending::Fetch(id));
        }
    }

    /// Draws a random 64-bit value (for applications that need ids).
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

fn listed(f: Option<&Functions>) -> Vec<String> {
    f.and_then(|f| f.wv_csp_feat.as_ref())
        .map(service::listed_codes)
        .unwrap_or_default()
}
