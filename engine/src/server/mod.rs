//! The IMPS server engine (DESIGN §1): a sans-IO state machine driven by
//! [`Server::handle`], drained with [`Server::poll_output`], woken by [`Server::poll_timeout`].
//!
//! This module holds the driving surface, the request pipeline (decode, session lookup,
//! TransactionID replay, service check, dispatch, reply with Poll flag and queued
//! transactions) and the admin commands. The access features are in [`access`].

mod access;
mod attributes;
pub mod auth;
mod authorization;
mod block_list;
pub mod config;
mod contact_list;
mod group;
pub(crate) use group::record_from_v1 as group_record_from_v1;
mod im;
mod invite;
mod presence;
mod search;
mod session;

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::boxmap::BoxMap;
use crate::codec::Encoding;
use crate::codec::capability::CirMethod;
use crate::codec::common::CspResult;
use crate::codec::envelope::Content;
use crate::codec::{
    self, Limits, Message, Primitive, SessionType, TransactionDescriptor, TransactionMode, Version,
};
use crate::store::{self, Record, StorageBatch, StorageOp, Table};

pub use config::Config;
pub use invite::InvitationInfo;
pub use search::ProfileUpdate;
use session::{Queued, Session};

/// Milliseconds on the host's monotonic clock.
pub type Millis = u64;

/// Function codes (CSP-REFERENCE §2.7) this server really implements; Service negotiation
/// offers exactly these, and `AllFunctions` lists them.
pub const IMPLEMENTED_FUNCTIONS: &[&str] = &[
    "GETSPI", "GCLI", "CCLI", "DCLI", "MCLS", "GETWL", "REACT", "CAAUT", "GETAUT", "GETPR",
    "UPDPR", "CALI", "DALI", "GALS", "GLBLU", "BLENT", "MDELIV", "FWMSG", "SETD", "GETLM", "GETM",
    "REJCM", "NOTIF", "NEWM", "CREAG", "DELGR", "GETGP", "SETGP", "SUBGCN", "GRCHN", "GETGM",
    "ADDGM", "RMVGM", "MBRAC", "REJEC", "GETJU", "SRCH", "STSRC", "INVIT", "CAINV",
];

/// The [`IMPLEMENTED_FUNCTIONS`] that `version`'s service tree has (what a client of that
/// version is agreed when it asks for everything).
pub fn implemented_functions(version: Version) -> Vec<&'static str> {
    let tree = codec::service::tree(version);
    IMPLEMENTED_FUNCTIONS
        .iter()
        .copied()
        .filter(|c| tree.iter().any(|row| row.3.contains(c)))
        .collect()
}

/// An input to the server.
#[derive(Debug, Clone)]
pub enum Input {
    /// A CSP message from a client. The host answers `conn` with the [`Output::Reply`] that
    /// carries the same `conn`.
    Request(Request),
    /// The deadline from [`Server::poll_timeout`] has passed.
    Timeout,
    /// Stored records, fed once at start before any request.
    Restore(Vec<Record>),
    /// An operator command; answered by [`Output::AdminResult`] with the same `id`.
    Admin {
        /// Correlation id chosen by the host.
        id: u64,
        /// The command.
        command: AdminCommand,
    },
}

/// One HTTP request body.
#[derive(Debug, Clone)]
pub struct Request {
    /// Host-chosen connection id to answer on.
    pub conn: u64,
    /// The request's `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
    /// Wall-clock time, milliseconds since the Unix epoch (for CSP `DateTime` values).
    pub wall_clock_ms: i64,
    /// The peer's address, if the host knows it (failed-login throttling per client).
    pub peer: Option<String>,
}

/// Operator commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminCommand {
    /// Creates the account or sets a new password.
    ProvisionUser {
        /// User id (any accepted spelling).
        user_id: String,
        /// Password.
        password: String,
    },
    /// Deletes the account and ends its sessions.
    DeleteUser {
        /// User id.
        user_id: String,
    },
    /// Ends every session of the user with Disconnect 601 (forced logout).
    ForceLogout {
        /// User id.
        user_id: String,
    },
    /// Queues a message from the system to every session of a user (or of every user):
    /// `SystemMessage-Request` for 1.3 sessions, a `NewMessage` from `wv:system@<domain>` before.
    SystemMessage {
        /// Recipient user id; `None` for everyone online.
        user_id: Option<String>,
        /// The text.
        text: String,
    },
    /// Creates a public group, owned by the operator (`wv:system@<domain>`): `Type` Public,
    /// open to every user, administered by nobody but the operator.
    CreatePublicGroup {
        /// Group id `wv:<name>/<resource>@<domain>` (any accepted spelling).
        group_id: String,
        /// `Name` property.
        name: Option<String>,
        /// `Topic` property.
        topic: Option<String>,
    },
    /// Sets profile fields of an existing account (search: names, e-mail, alias, mobile,
    /// friendly name, and whether and how the user can be found). Fields left `None` keep
    /// their value; an empty string clears one.
    SetProfile {
        /// User id.
        user_id: String,
        /// The fields to change.
        profile: ProfileUpdate,
    },
}

/// An output of the server; drain with [`Server::poll_output`] after every `handle`.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The answer to the request that came on `conn`. Release it only after every
    /// [`Output::Storage`] output before it is durable.
    Reply(Reply),
    /// Something waits for `session`: the host nudges its client through a CIR channel; the
    /// client then polls (no input comes back).
    WakeUp(WakeUp),
    /// Changes to make durable, in order, before releasing later replies (see [`crate::store`]).
    Storage(StorageBatch),
    /// Something an operator may want to log or count.
    Event(Event),
    /// The outcome of an [`Input::Admin`] command.
    AdminResult {
        /// The command's id.
        id: u64,
        /// Success text or error text.
        result: Result<String, String>,
    },
}

/// A reply to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The connection of the request.
    pub conn: u64,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The CSP message (empty when nothing needs saying, e.g. a poll with nothing waiting).
    pub body: Vec<u8>,
}

/// A request to nudge a client (CIR).
#[derive(Debug, Clone, PartialEq)]
pub struct WakeUp {
    /// The session to nudge.
    pub session_id: String,
    /// Its CSP version (CIR texts carry it: `WVCI 1.2 <cookie>`).
    pub version: Version,
    /// The client's SessionCookie.
    pub cookie: Option<String>,
    /// The per-session SHTTP CIR token.
    pub cir_token: String,
    /// CIR methods agreed with the client.
    pub methods: Vec<CirMethod>,
}

/// Audit and metrics events. User ids appear in canonical form; hosts redact them in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session started.
    LoggedIn {
        /// User.
        user: String,
        /// Session id.
        session: String,
        /// CSP version.
        version: Version,
    },
    /// A login failed with `code`.
    LoginFailed {
        /// User as sent (may not exist).
        user: String,
        /// CSP status code answered.
        code: u16,
    },
    /// An account was created by open registration.
    Registered {
        /// User.
        user: String,
    },
    /// A session ended with `code` (200 logout, 600 expired, 601 forced or replaced).
    SessionEnded {
        /// User.
        user: String,
        /// Session id.
        session: String,
        /// Why.
        code: u16,
    },
    /// A stored record could not be read at restore.
    RestoreSkipped {
        /// Table.
        table: Table,
        /// Key.
        key: String,
    },
}

/// What [`Server::session_info`] tells about a session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Canonical user id.
    pub user: String,
    /// CSP version of its login.
    pub version: Version,
    /// Granted KeepAliveTime, seconds.
    pub keep_alive_secs: u32,
    /// When it expires without traffic (monotonic ms).
    pub expires_at: Millis,
    /// Agreed delivery method, once capabilities are negotiated.
    pub delivery_method: Option<crate::codec::capability::DeliveryMethod>,
    /// Agreed ServerPollMin, seconds.
    pub server_poll_min_secs: Option<u32>,
    /// Agreed content length limit.
    pub accepted_content_length: Option<u32>,
    /// Agreed function codes.
    pub services: Vec<&'static str>,
    /// Server-initiated transactions waiting for acknowledgement.
    pub queued: usize,
}

/// An account in memory. Its user id is its key in [`Server`]'s accounts, not repeated here
/// (a registered user's memory is a budget); it is stored as an [`AccountRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub hash: auth::PasswordHash,
    /// The password sealed for digest login (exactly sized).
    pub sealed: Option<Box<[u8]>>,
    pub created_ms: i64,
    /// Search profile (stored in its own table, [`Table::Profiles`]).
    pub profile: search::Profile,
    /// Its entry in the search index.
    pub search_slot: u32,
}

/// An account as stored in [`Table::Accounts`]: the user id, then the stored fields of
/// [`Account`] (the encoding the account records have always had).
#[derive(Serialize, Deserialize)]
struct AccountRecord<'a> {
    user_id: Cow<'a, str>,
    hash: auth::PasswordHash,
    sealed: Option<Cow<'a, [u8]>>,
    created_ms: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Throttle {
    failures: u32,
    window_start: Millis,
    locked_until: Millis,
}

#[derive(Debug, Clone)]
struct Challenge {
    nonce: String,
    schema: codec::access::DigestSchema,
    expires: Millis,
}

/// The server state machine.
pub struct Server {
    config: Config,
    limits: Limits,
    seal_key: Option<[u8; 32]>,
    rng: ChaCha20Rng,
    now: Millis,
    wall_clock_ms: i64,
    /// The monotonic time `wall_clock_ms` was read (wall time between requests is derived).
    wall_at: Millis,
    accounts: BoxMap<String, Account>,
    lists: contact_list::Lists,
    presence: presence::PresenceState,
    im: im::ImState,
    /// Block and grant lists of users who changed them from the defaults.
    blocks: block_list::Blocks,
    /// Groups and who joined them.
    groups: group::Groups,
    /// Open invitations and shares.
    invitations: invite::Invitations,
    /// Searches open for paging.
    searches: search::Searches,
    /// Searchable text of every account.
    search_index: search::Index,
    sessions: BoxMap<u64, Session>,
    by_id: BoxMap<String, u64>,
    by_user: BoxMap<String, Vec<u64>>,
    expiries: BTreeSet<(Millis, u64)>,
    /// Sessions ended by the server, so their next request learns why (600/601), until then.
    ended: BoxMap<String, (u16, Millis)>,
    challenges: BoxMap<String, Vec<Challenge>>,
    throttles: BoxMap<String, Throttle>,
    registrations: VecDeque<Millis>,
    outputs: VecDeque<Output>,
    next_handle: u64,
    next_batch: u64,
    next_server_tid: u64,
    /// The last `DateTime` written and its second (every message carries one; many share
    /// their second).
    last_date_time: Option<(i64, String)>,
}

impl Server {
    /// A server with `config`, drawing all randomness (session ids, nonces, salts) from a
    /// generator seeded with `seed`. The host supplies the seed from real entropy; tests and
    /// replays supply a fixed one.
    pub fn new(config: Config, seed: [u8; 32]) -> Server {
        let limits = Limits {
            max_depth: config.limits.max_depth,
            max_elements: config.limits.max_elements,
            max_text: config.limits.max_text_bytes as usize,
        };
        let seal_key = config.server_key.as_deref().and_then(auth::parse_key);
        Server {
            config,
            limits,
            seal_key,
            rng: ChaCha20Rng::from_seed(seed),
            now: 0,
            wall_clock_ms: 0,
            wall_at: 0,
            accounts: Default::default(),
            lists: Default::default(),
            presence: presence::PresenceState::default(),
            im: im::ImState::default(),
            blocks: Default::default(),
            groups: group::Groups::default(),
            invitations: invite::Invitations::default(),
            searches: search::Searches::default(),
            search_index: search::Index::default(),
            sessions: Default::default(),
            by_id: Default::default(),
            by_user: Default::default(),
            expiries: BTreeSet::new(),
            ended: Default::default(),
            challenges: Default::default(),
            throttles: Default::default(),
            registrations: VecDeque::new(),
            outputs: VecDeque::new(),
            next_handle: 1,
            next_batch: 1,
            next_server_tid: 1,
            last_date_time: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// A read-only view of the session `session_id`.
    pub fn session_info(&self, session_id: &str) -> Option<SessionInfo> {
        let s = self
            .by_id
            .get(session_id)
            .and_then(|h| self.sessions.get(h))?;
        Some(SessionInfo {
            user: s.user.clone(),
            version: s.version,
            keep_alive_secs: s.keep_alive_secs,
            expires_at: s.expires_at,
            delivery_method: s.agreed.as_ref().map(|a| a.delivery_method.clone()),
            server_poll_min_secs: s.agreed.as_ref().map(|a| a.server_poll_min),
            accepted_content_length: s.agreed.as_ref().and_then(|a| a.accepted_content_length),
            services: s.services.clone().unwrap_or_default(),
            queued: s.queue.len(),
        })
    }

    /// Whether an account exists for `user_id` (any accepted spelling).
    pub fn has_account(&self, user_id: &str) -> bool {
        Address::parse_user(user_id, &self.config.domain)
            .is_ok_and(|a| self.accounts.contains_key(&a.to_string()))
    }

    /// The open invitations and shared-content offers `user_id` sent or received.
    pub fn open_invitations(&self, user_id: &str) -> Vec<InvitationInfo> {
        match Address::parse_user(user_id, &self.config.domain) {
            Ok(a) => invite::open_for(self, &a.to_string()),
            Err(_) => Vec::new(),
        }
    }

    /// Feeds one input at monotonic time `now`. Drain [`Server::poll_output`] afterwards.
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::Request(req) => {
                self.wall_clock_ms = req.wall_clock_ms;
                self.wall_at = self.now;
                self.on_request(req);
            }
            Input::Timeout => self.on_timeout(),
            Input::Restore(records) => self.on_restore(records),
            Input::Admin { id, command } => {
                let result = self.on_admin(command);
                self.outputs.push_back(Output::AdminResult { id, result });
            }
        }
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`] next (session expiry), if anything is pending.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let session = self.expiries.iter().next().map(|(t, _)| *t);
        let ended = self.ended.values().map(|(_, until)| *until).min();
        let presence = self.presence.next_due();
        let expiry = im::next_timeout(self);
        let notices = self.groups.next_due();
        let invitations = invite::next_timeout(self);
        [session, ended, presence, expiry, notices, invitations]
            .into_iter()
            .flatten()
            .min()
    }

    // ---- plumbing -------------------------------------------------------------------

    fn random_hex(&mut self, bytes: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut room = [0u8; 32];
        let mut heap = Vec::new();
        let buf = match room.get_mut(..bytes) {
            Some(buf) => buf,
            None => {
                heap.resize(bytes, 0);
                heap.as_mut_slice()
            }
        };
        self.rng.fill_bytes(buf);
        let mut s = String::with_capacity(bytes * 2);
        for &b in buf.iter() {
            s.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            s.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
        s
    }

    /// [`datetime::format_utc`] of `unix_ms`, reused within a second.
    pub(crate) fn date_time(&mut self, unix_ms: i64) -> String {
        let second = unix_ms.div_euclid(1000);
        match &self.last_date_time {
            Some((s, text)) if *s == second => text.clone(),
            _ => {
                let text = crate::datetime::format_utc(unix_ms);
                self.last_date_time = Some((second, text.clone()));
                text
            }
        }
    }

    fn store(&mut self, ops: Vec<StorageOp>) {
        if ops.is_empty() {
            return;
        }
        let id = self.next_batch;
        self.next_batch += 1;
        self.outputs
            .push_back(Output::Storage(StorageBatch { id, ops }));
    }

    fn account_op(user: &str, account: &Account) -> StorageOp {
        let record = AccountRecord {
            user_id: Cow::Borrowed(user),
            hash: account.hash.clone(),
            sealed: account.sealed.as_deref().map(Cow::Borrowed),
            created_ms: account.created_ms,
        };
        StorageOp::Put {
            table: Table::Accounts,
            key: user.to_owned(),
            value: store::encode_record(&record),
        }
    }

    fn on_restore(&mut self, records: Vec<Record>) {
        for r in records {
            match r.table {
                Table::Accounts => match store::decode_record::<AccountRecord>(r.table, &r.value) {
                    Some(a) => {
                        let account = Account {
                            hash: a.hash,
                            sealed: a.sealed.map(|s| s.into_owned().into_boxed_slice()),
                            created_ms: a.created_ms,
                            profile: search::Profile::default(),
                            search_slot: u32::MAX,
                        };
                        self.accounts.insert(a.user_id.into_owned(), account);
                    }
                    None => self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                        table: r.table,
                        key: r.key,
                    })),
                },
                Table::ContactLists => {
                    match store::decode_record::<contact_list::StoredList>(r.table, &r.value) {
                        Some(list) => {
                            contact_list::restore(&mut self.lists, &mut self.presence.ids, list)
                        }
                        None => self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        })),
                    }
                }
                Table::Presence | Table::Subscriptions | Table::Authorizations => {
                    if !presence::restore(self, r.table, &r.value) {
                        self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        }));
                    }
                }
                Table::BlockLists => {
                    match store::decode_record::<block_list::BlockRecord>(r.table, &r.value) {
                        Some(record) => block_list::restore(&mut self.blocks, record),
                        None => self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        })),
                    }
                }
                Table::Mailbox => {
                    if !im::restore(self, &r.value) {
                        self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        }));
                    }
                }
                Table::Groups => {
                    if !group::restore(self, &r.value) {
                        self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        }));
                    }
                }
                Table::Invitations => {
                    if !invite::restore(self, &r.value) {
                        self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        }));
                    }
                }
                Table::Profiles => {
                    if !search::restore(self, &r.value) {
                        self.outputs.push_back(Output::Event(Event::RestoreSkipped {
                            table: r.table,
                            key: r.key,
                        }));
                    }
                }
                Table::Meta => {}
            }
        }
        presence::finish_restore(self);
        im::finish_restore(self);
        self.search_index.stale = true;
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        while let Some(&(at, handle)) = self.expiries.iter().next() {
            if at > now {
                break;
            }
            self.end_session(handle, 600);
        }
        presence::on_timeout(self);
        im::on_timeout(self);
        group::on_timeout(self);
        invite::on_timeout(self);
        self.ended.retain(|_, (_, until)| *until > now);
        self.challenges.retain(|_, list| {
            list.retain(|c| c.expires > now);
            !list.is_empty()
        });
        let window = u64::from(self.config.login.failure_window_secs) * 1000;
        self.throttles
            .retain(|_, t| t.locked_until > now || t.window_start + window > now);
    }

    /// Ends a session: it is forgotten, and its next request learns `code` (unless 200).
    fn end_session(&mut self, handle: u64, code: u16) {
        if let Some(user) = self.end_session_quietly(handle, code) {
            presence::refresh_online(self, &user);
        }
    }

    /// Ends a session without telling watchers (a login replacing it will); returns its user.
    fn end_session_quietly(&mut self, handle: u64, code: u16) -> Option<String> {
        let s = self.sessions.remove(&handle)?;
        self.expiries.remove(&(s.expires_at, handle));
        // Joining is per session: it leaves its groups.
        group::session_ended(self, handle);
        search::session_ended(self, handle);
        self.by_id.remove(&s.id);
        if let Some(list) = self.by_user.get_mut(&s.user) {
            list.retain(|h| *h != handle);
            if list.is_empty() {
                self.by_user.remove(&s.user);
            }
        }
        if code != 200 {
            // Remember why for one keep-alive period so a returning client gets 600/601, not 604.
            let until = self.now + u64::from(s.keep_alive_secs) * 1000 + 60_000;
            self.ended.insert(s.id.clone(), (code, until));
            self.outputs.push_back(Output::WakeUp(wake_up(&s)));
        }
        self.outputs.push_back(Output::Event(Event::SessionEnded {
            user: s.user.clone(),
            session: s.id,
            code,
        }));
        Some(s.user)
    }

    fn touch(&mut self, handle: u64) {
        let grace = u64::from(self.config.session.keep_alive_grace_secs) * 1000;
        let now = self.now;
        if let Some(s) = self.sessions.get_mut(&handle) {
            let new = now + u64::from(s.keep_alive_secs) * 1000 + grace;
            if new != s.expires_at {
                self.expiries.remove(&(s.expires_at, handle));
                s.expires_at = new;
                self.expiries.insert((new, handle));
            }
        }
    }

    /// Queues a server-initiated transaction for a session and asks the host to wake it.
    /// Returns false when the queue is full (the caller answers 507).
    pub(crate) fn enqueue(&mut self, handle: u64, primitive: Primitive) -> bool {
        self.enqueue_shared(handle, Arc::new(primitive))
    }

    /// [`Server::enqueue`] for a primitive many sessions receive (a presence fan-out): it is
    /// shared, not copied, until each session's reply is written.
    ///
    /// The host is asked to wake the client only when nothing else waits undelivered: a client
    /// already nudged will poll and receive everything queued since.
    pub(crate) fn enqueue_shared(&mut self, handle: u64, primitive: Arc<Primitive>) -> bool {
        self.enqueue_origin(handle, primitive, None, None)
    }

    /// [`Server::enqueue`] for the delivery of mailbox item `seq` (`xml`: the primitive
    /// encoded, when that encoding serves every version).
    pub(crate) fn enqueue_item(
        &mut self,
        handle: u64,
        primitive: Arc<Primitive>,
        xml: Option<Arc<str>>,
        seq: u64,
    ) -> bool {
        self.enqueue_origin(handle, primitive, xml, Some(seq))
    }

    fn enqueue_origin(
        &mut self,
        handle: u64,
        primitive: Arc<Primitive>,
        xml: Option<Arc<str>>,
        origin: Option<u64>,
    ) -> bool {
        let limit = self.config.session.queue_limit as usize;
        let Some(s) = self.sessions.get_mut(&handle) else {
            return false;
        };
        if s.queue.len() >= limit {
            return false;
        }
        let tid = server_tid(self.next_server_tid);
        self.next_server_tid += 1;
        let nudge = s.queue.iter().all(|q| q.deliveries > 0);
        s.queue.push_back(Queued {
            tid,
            primitive,
            xml,
            deliveries: 0,
            delivered_at: 0,
            origin,
        });
        if nudge {
            let wake = wake_up(s);
            self.outputs.push_back(Output::WakeUp(wake));
        }
        true
    }

    // ---- admin ----------------------------------------------------------------------

    fn on_admin(&mut self, command: AdminCommand) -> Result<String, String> {
        let domain = self.config.domain.clone();
        let user_of = |id: &str| {
            Address::parse_user(id, &domain)
                .map(|a| a.to_string())
                .map_err(|e| format!("{id:?}: {e}"))
        };
        match command {
            AdminCommand::ProvisionUser { user_id, password } => {
                let user = user_of(&user_id)?;
                let mut account = self
                    .new_account(&user, &password)
                    .ok_or("could not hash the password")?;
                // A new password keeps the profile (and its index entry).
                if let Some(old) = self.accounts.get(&user) {
                    account.profile = old.profile.clone();
                    account.search_slot = old.search_slot;
                }
                let existed = self
                    .accounts
                    .insert(user.clone(), account.clone())
                    .is_some();
                if !existed {
                    search::reindex(self, &user);
                }
                self.store(vec![Self::account_op(&user, &account)]);
                Ok(if existed {
                    format!("password of {user} set")
                } else {
                    format!("account {user} created")
                })
            }
            AdminCommand::DeleteUser { user_id } => {
                let user = user_of(&user_id)?;
                search::unindex(self, &user);
                if self.accounts.remove(&user).is_none() {
                    return Err(format!("no account {user}"));
                }
                for h in self.by_user.get(&user).cloned().unwrap_or_default() {
                    self.end_session(h, 601);
                }
                let mut ops = vec![StorageOp::Delete {
                    table: Table::Accounts,
                    key: user.clone(),
                }];
                // The account's own data goes with it. (Its membership in other users'
                // lists stays: the owner decides what to keep, as with any address book.)
                ops.extend(contact_list::remove_owner(&mut self.lists, &user));
                ops.extend(presence::remove_user(self, &user));
                ops.extend(im::remove_user(self, &user));
                ops.extend(block_list::remove_owner(&mut self.blocks, &user));
                ops.extend(group::remove_user(self, &user));
                ops.extend(invite::remove_user(self, &user));
                ops.push(search::remove_user(&user));
                self.store(ops);
                Ok(format!("account {user} deleted"))
            }
            AdminCommand::ForceLogout { user_id } => {
                let user = user_of(&user_id)?;
                let handles = self.by_user.get(&user).cloned().unwrap_or_default();
                let n = handles.len();
                for h in handles {
                    self.end_session(h, 601);
                }
                Ok(format!("{n} session(s) of {user} ended"))
            }
            AdminCommand::SystemMessage { user_id, text } => {
                let handles: Vec<u64> = match user_id {
                    Some(id) => {
                        let user = user_of(&id)?;
                        self.by_user.get(&user).cloned().unwrap_or_default()
                    }
                    None => self.sessions.keys().copied().collect(),
                };
                let mut queued = 0;
                for h in handles {
                    let Some(version) = self.sessions.get(&h).map(|s| s.version) else {
                        continue;
                    };
                    let p = access::system_message(self, version, &text);
                    if self.enqueue(h, p) {
                        queued += 1;
                    }
                }
                Ok(format!("queued for {queued} session(s)"))
            }
            AdminCommand::CreatePublicGroup {
                group_id,
                name,
                topic,
            } => group::create_public(self, &group_id, name, topic),
            AdminCommand::SetProfile { user_id, profile } => {
                let user = user_of(&user_id)?;
                search::set_profile(self, &user, &profile)
            }
        }
    }

    /// Canonical ids of every account, in order.
    pub fn account_ids(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    /// Server-initiated transactions waiting in all session queues, and the longest queue.
    pub fn queue_depths(&self) -> (usize, usize) {
        self.sessions.values().fold((0, 0), |(sum, max), s| {
            (sum + s.queue.len(), max.max(s.queue.len()))
        })
    }

    pub(crate) fn new_account(&mut self, user: &str, password: &str) -> Option<Account> {
        let l = &self.config.login;
        let (m, t) = (l.hash_memory_kib, l.hash_iterations);
        let hash = auth::PasswordHash::new(password, m, t, &mut self.rng)?;
        let key = self.seal_key;
        let sealed = key
            .and_then(|k| auth::seal(&k, user, password, &mut self.rng))
            .map(Vec::into_boxed_slice);
        Some(Account {
            hash,
            sealed,
            created_ms: self.wall_clock_ms,
            profile: search::Profile::default(),
            search_slot: u32::MAX,
        })
    }

    // ---- requests -------------------------------------------------------------------

    fn on_request(&mut self, req: Request) {
        let content_type = media_type(&req.content_type);
        // Each request is read in the encoding its content type names and answered in it;
        // a session keeps the content type of its login (CSP-REFERENCE §5.1).
        let encoding = Encoding::of_content_type(content_type);
        let sniff = |body: &[u8]| match encoding {
            Encoding::Xml => codec::sniff(body),
            Encoding::Wbxml => (codec::wbxml::sniff(body), None),
        };
        if req.body.len() > self.config.limits.max_message_bytes as usize {
            let (version, tid) = sniff(&req.body);
            let reply_type = reply_content_type(content_type, version);
            self.error_reply(req.conn, version, reply_type, tid, 400, "message too large");
            return;
        }
        match encoding.decode(&req.body, self.limits) {
            Ok(msg) => {
                let reply_type = reply_content_type(content_type, msg.version);
                self.process(req.conn, reply_type, msg, req.peer.as_deref());
            }
            Err(e) => {
                let (version, tid) = sniff(&req.body);
                let reply_type = reply_content_type(content_type, version);
                self.error_reply(
                    req.conn,
                    version,
                    reply_type,
                    tid,
                    e.status_code(),
                    &e.to_string(),
                );
            }
        }
    }

    fn error_reply(
        &mut self,
        conn: u64,
        version: Version,
        content_type: &'static str,
        tid: Option<String>,
        code: u16,
        text: &str,
    ) {
        let message = Message::status(version, tid, code, text);
        let body = Encoding::of_content_type(content_type).encode(&message);
        self.outputs.push_back(Output::Reply(Reply {
            conn,
            content_type,
            body,
        }));
    }

    fn process(
        &mut self,
        conn: u64,
        reply_type: &'static str,
        mut msg: Message,
        peer: Option<&str>,
    ) {
        let version = msg.version;
        // Taken (the descriptor is not read again).
        let sid = msg
            .session
            .descriptor
            .as_mut()
            .and_then(|d| d.session_id.take());
        let handle = sid.as_deref().and_then(|id| self.by_id.get(id).copied());
        let first_tid = msg
            .transaction()
            .and_then(|t| t.descriptor.as_ref()?.transaction_id.clone());
        let single_request = msg.session.transactions.len() == 1
            && msg
                .transaction()
                .and_then(|t| t.descriptor.as_ref()?.mode.clone())
                != Some(TransactionMode::Response);

        // A repeated TransactionID gets the stored reply and is not executed again.
        if let (Some(h), Some(tid), true) = (handle, first_tid.as_deref(), single_request)
            && let Some(s) = self.sessions.get(&h)
            && let Some(body) = s.cached_reply(tid)
        {
            let reply = Reply {
                conn,
                content_type: s.content_type,
                body: body.to_vec(),
            };
            self.touch(h);
            self.outputs.push_back(Output::Reply(reply));
            return;
        }

        if msg.session.transactions.is_empty() {
            self.error_reply(
                conn,
                version,
                reply_type,
                None,
                400,
                "message has no transaction",
            );
            return;
        }

        let mut ctx = access::Ctx {
            conn,
            version,
            reply_type,
            session_id: sid,
            handle,
            peer,
            responses: Vec::new(),
            deliver_queue: false,
            redeliver: false,
            created: None,
            ended_code: None,
        };
        for t in msg.session.transactions {
            access::transaction(self, &mut ctx, t);
        }
        self.finish(ctx, single_request.then_some(first_tid).flatten());
    }

    /// Builds and emits the reply message for a processed request.
    fn finish(&mut self, mut ctx: access::Ctx, cache_tid: Option<String>) {
        let handle = ctx.handle.filter(|h| self.sessions.contains_key(h));
        let (version, content_type, session_id) = match handle.and_then(|h| self.sessions.get(&h)) {
            // The request named this session (or a login created it): its id as given
            // serves, without a copy.
            Some(s) => (
                s.version,
                s.content_type,
                match ctx.session_id.take() {
                    Some(id) if id == s.id => Some(id),
                    _ => Some(s.id.clone()),
                },
            ),
            None => (
                ctx.version,
                ctx.reply_type,
                ctx.session_id.clone().filter(|_| ctx.ended_code.is_some()),
            ),
        };
        let transactions = ctx.responses;
        // Queued server transactions: written from the shared primitive, not copied.
        let mut queued: Vec<TransactionDescriptor> = Vec::new();
        let mut shared: Vec<(Arc<Primitive>, Option<Arc<str>>)> = Vec::new();
        let mut poll = false;
        if let Some(h) = handle
            && let Some(s) = self.sessions.get_mut(&h)
        {
            if ctx.deliver_queue {
                let room = s.multi_trans().saturating_sub(transactions.len()).max(1);
                let redeliver = ctx.redeliver;
                let (now, wait) = (
                    self.now,
                    u64::from(self.config.session.redelivery_secs) * 1000,
                );
                for q in s
                    .queue
                    .iter_mut()
                    .filter(|q| q.deliveries == 0 || (redeliver && now >= q.delivered_at + wait))
                    .take(room)
                {
                    q.deliveries += 1;
                    q.delivered_at = now;
                    let descriptor = TransactionDescriptor {
                        mode: Some(TransactionMode::Request),
                        transaction_id: Some(q.tid.clone()),
                        ..Default::default()
                    };
                    queued.push(descriptor);
                    shared.push((Arc::clone(&q.primitive), q.xml.clone()));
                }
            }
            // Poll=T when something waits that the client has not seen yet, or (answering a
            // poll) that is due to be delivered again and did not fit in this reply.
            let (now, wait) = (
                self.now,
                u64::from(self.config.session.redelivery_secs) * 1000,
            );
            let redeliver = ctx.redeliver;
            poll = s
                .queue
                .iter()
                .any(|q| q.deliveries == 0 || (redeliver && now >= q.delivered_at + wait));
        } else if let Some(s) = ctx.created.and_then(|h| self.sessions.get(&h)) {
            poll = !s.queue.is_empty();
        }
        if transactions.is_empty() && queued.is_empty() {
            // A poll with nothing waiting, or acknowledgements only: an empty 200 answer
            // (CSP-REFERENCE §1.4, §5.1).
            self.outputs.push_back(Output::Reply(Reply {
                conn: ctx.conn,
                content_type,
                body: Vec::new(),
            }));
            return;
        }
        let session_type = if session_id.is_some() {
            SessionType::Inband
        } else {
            SessionType::Outband
        };
        let mut msg = Message {
            version,
            session: codec::Session {
                descriptor: Some(codec::SessionDescriptor {
                    session_type: Some(session_type),
                    session_id,
                    ..Default::default()
                }),
                transactions,
                ..Default::default()
            },
            unknown: Vec::new(),
        };
        msg.set_poll(poll);
        if version == Version::V1_1 {
            // `set_poll` puts the 1.1 flag in every transaction's descriptor.
            for d in &mut queued {
                d.poll = Some(poll);
            }
        }
        let encoding = Encoding::of_content_type(content_type);
        let extra: Vec<(TransactionDescriptor, Content<'_>)> = queued
            .into_iter()
            .zip(&shared)
            .map(|(d, (p, xml))| match xml {
                // Kept XML serves XML sessions; WBXML is written from the primitive.
                Some(xml) if encoding == Encoding::Xml => (d, Content::Xml(xml)),
                _ => (d, Content::Primitive(p)),
            })
            .collect();
        let body = codec::envelope::encode_message_in(&msg, &extra, encoding);
        if let (Some(h), Some(tid)) = (handle, cache_tid) {
            let limit = self.config.session.transaction_cache as usize;
            if let Some(s) = self.sessions.get_mut(&h) {
                s.remember(tid, &body, limit);
            }
        }
        self.outputs.push_back(Output::Reply(Reply {
            conn: ctx.conn,
            content_type,
            body,
        }));
    }
}

/// The TransactionID of server transaction `n`: `s<n>` (`format!("s{n}")`, without `fmt`).
fn server_tid(n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    while let Some(d) = at.checked_sub(1).and_then(|i| digits.get_mut(i)) {
        *d = b'0' + (rest % 10) as u8;
        at -= 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut tid = String::with_capacity(1 + digits.len() - at);
    tid.push('s');
    tid.push_str(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
    tid
}

/// The nudge the host gives `s`'s client.
fn wake_up(s: &Session) -> WakeUp {
    WakeUp {
        session_id: s.id.clone(),
        version: s.version,
        cookie: s.cookie.clone(),
        cir_token: s.cir_token.clone(),
        methods: s
            .agreed
            .as_ref()
            .map(|a| a.cir_methods.clone())
            .unwrap_or_default(),
    }
}

/// A session's capabilities are agreed (once per session): its mailbox is offered and its
/// user joins again the groups it auto-joins.
pub(crate) fn session_ready(s: &mut Server, h: u64) {
    let first = s.sessions.get(&h).is_some_and(|x| !x.mailbox_ready);
    im::session_ready(s, h);
    if first {
        group::auto_join(s, h);
    }
}

/// The media type without parameters.
fn media_type(ct: &str) -> &str {
    // ASCII whitespace only: what HTTP allows around a media type.
    let media = match ct.find(';') {
        Some(i) => ct.get(..i).unwrap_or_default(),
        None => ct,
    };
    media.trim_ascii()
}

/// Replies use the content type the client sent (either spelling of XML or WBXML), or the
/// version's own XML one.
fn reply_content_type(ct: &str, version: Version) -> &'static str {
    const KNOWN: [&str; 4] = [
        "application/vnd.wv.csp.xml",
        "application/vnd.wv.csp+xml",
        "application/vnd.wv.csp.wbxml",
        "application/vnd.wv.csp+wbxml",
    ];
    KNOWN
        .into_iter()
        .find(|k| ct.eq_ignore_ascii_case(k))
        .unwrap_or_else(|| version.xml_content_type())
}

/// A `Result` with `code` and `text`.
pub(crate) fn result(code: u16, text: &str) -> CspResult {
    CspResult::new(code, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The account record as it was written before the in-memory account lost its user id.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AccountBefore {
        user_id: String,
        hash: auth::PasswordHash,
        sealed: Option<Vec<u8>>,
        created_ms: i64,
    }

    #[test]
    #[allow(clippy::unwrap_used, clippy::panic)]
    fn account_records_keep_their_encoding_both_ways() {
        let mut s = Server::new(Config::default(), [3; 32]);
        s.seal_key = Some([9; 32]);
        let account = s.new_account("wv:ann@localhost", "secret").unwrap();
        assert!(account.sealed.is_some());
        let StorageOp::Put { key, value, .. } = Server::account_op("wv:ann@localhost", &account)
        else {
            panic!("a put")
        };
        assert_eq!(key, "wv:ann@localhost");
        let before = AccountBefore {
            user_id: "wv:ann@localhost".into(),
            hash: account.hash.clone(),
            sealed: account.sealed.as_deref().map(<[u8]>::to_vec),
            created_ms: account.created_ms,
        };
        assert_eq!(value, store::encode_record(&before));
        // A record written before restores the same account.
        s.handle(
            0,
            Input::Restore(vec![Record {
                table: Table::Accounts,
                key: key.clone(),
                value: store::encode_record(&before),
            }]),
        );
        let restored = s.accounts.get(&key).unwrap();
        assert_eq!(restored.hash, account.hash);
        assert_eq!(restored.sealed, account.sealed);
        assert_eq!(restored.created_ms, account.created_ms);
    }

    #[test]
    fn date_times_reused_within_a_second_are_those_of_the_instant() {
        let mut s = Server::new(Config::default(), [0; 32]);
        for ms in [
            0,
            999,
            1000,
            1500,
            -1,
            -1000,
            -1001,
            1_700_000_000_123,
            1_700_000_000_999,
        ] {
            assert_eq!(s.date_time(ms), crate::datetime::format_utc(ms), "{ms}");
        }
    }

    #[test]
    fn written_numbers_read_as_formatted() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
            assert_eq!(server_tid(n), format!("s{n}"));
            assert_eq!(im::key("wv:a@b", n), format!("wv:a@b/{n:020}"));
        }
    }
}
