//! The guest ABI (DESIGN §1, §3.9): the compact, versioned encoding in which a host hands the
//! server's [`Input`]s to the engine compiled as an import-free WebAssembly guest and reads
//! back its [`Output`]s.
//!
//! The guest (crate `imps-guest`) exports, all with `u32` pointers into its memory:
//!
//! | export | signature | does |
//! |---|---|---|
//! | `imps_abi_version` | `() -> u32` | [`ABI_VERSION`] (also in the custom section [`ABI_SECTION`]) |
//! | `imps_alloc` | `(len) -> ptr` | a buffer of `len` bytes the host fills; the next call consumes it |
//! | `imps_init` | `(ptr, len) -> u64` | [`encode_init`] bytes → a fresh `Server`; answers like `imps_handle` |
//! | `imps_handle` | `(ptr, len) -> u64` | [`encode_input`] bytes → `handle` + drain |
//! | `imps_query` | `(ptr, len) -> u64` | [`encode_query`] bytes → [`encode_answer`] bytes (read-only) |
//!
//! `imps_init` and `imps_handle` return `(out_ptr << 32) | out_len`: the [`encode_outputs`]
//! bytes of everything the input produced, valid until the next call (`imps_query` returns
//! its answer the same way). An `out_len` of 0 means
//! the guest could not decode its input (a host bug, never a client's).
//!
//! Hot paths (requests, replies, storage batches) are hand-encoded: LEB128 integers, strings
//! and byte strings as length + bytes. Rare, structured values (restored records, admin
//! commands, the configuration) use postcard, as stored records do. Any change to either
//! layout bumps [`ABI_VERSION`]; the host refuses a guest of another version before it
//! compiles it.

use crate::codec::Version;
use crate::codec::capability::CirMethod;
use crate::server::{
    AdminCommand, Config, Event, Input, Millis, Output, Reply, Request, Server, WakeUp,
};
use crate::store::{Record, StorageBatch, StorageOp, Table};

/// Version of this encoding and of the guest's exports.
pub const ABI_VERSION: u32 = 2;

/// Name of the custom section holding [`ABI_VERSION`] as 4 little-endian bytes, readable
/// without compiling or instantiating the module.
pub const ABI_SECTION: &str = "imps_abi";

/// What the guest reports after each input besides the outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// [`crate::server::Server::poll_timeout`] after the input.
    pub timeout: Option<Millis>,
    /// Open sessions.
    pub sessions: u64,
    /// Accounts.
    pub accounts: u64,
}

/// Why bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError(pub &'static str);

impl std::fmt::Display for AbiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest ABI: {}", self.0)
    }
}

// ---- primitives ------------------------------------------------------------------------

fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    // Zigzag, so small negative values stay short.
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_bytes(out, s.as_bytes());
        }
        None => out.push(0),
    }
}

/// A cursor over bytes being decoded.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, AbiError> {
        let (&b, rest) = self.rest.split_first().ok_or(AbiError("truncated"))?;
        self.rest = rest;
        Ok(b)
    }

    fn u64(&mut self) -> Result<u64, AbiError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(AbiError("integer too long"))
    }

    fn i64(&mut self) -> Result<i64, AbiError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn len(&mut self) -> Result<usize, AbiError> {
        usize::try_from(self.u64()?).map_err(|_| AbiError("length too large"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], AbiError> {
        let n = self.len()?;
        let (b, rest) = self.rest.split_at_checked(n).ok_or(AbiError("truncated"))?;
        self.rest = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, AbiError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| AbiError("invalid UTF-8"))
    }

    fn opt_string(&mut self) -> Result<Option<String>, AbiError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(AbiError("bad option tag")),
        }
    }

    fn postcard<T: for<'de> serde::Deserialize<'de>>(&mut self) -> Result<T, AbiError> {
        let b = self.bytes()?;
        postcard::from_bytes(b).map_err(|_| AbiError("bad postcard value"))
    }

    fn end(&self) -> Result<(), AbiError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(AbiError("trailing bytes"))
        }
    }
}

fn put_postcard<T: serde::Serialize>(out: &mut Vec<u8>, v: &T) -> Result<(), AbiError> {
    let b = postcard::to_allocvec(v).map_err(|_| AbiError("value does not encode"))?;
    put_bytes(out, &b);
    Ok(())
}

fn version_tag(v: Version) -> u8 {
    match v {
        Version::V1_1 => 1,
        Version::V1_2 => 2,
        Version::V1_3 => 3,
    }
}

fn version_from(tag: u8) -> Result<Version, AbiError> {
    match tag {
        1 => Ok(Version::V1_1),
        2 => Ok(Version::V1_2),
        3 => Ok(Version::V1_3),
        _ => Err(AbiError("bad version")),
    }
}

fn table_from(name: &str) -> Result<Table, AbiError> {
    Table::from_name(name).ok_or(AbiError("unknown table"))
}

/// The reply content types the engine emits. A [`Reply`] carries a `&'static str`, so the
/// host maps the guest's text back onto one of these.
pub const CONTENT_TYPES: &[&str] = &[
    "application/vnd.wv.csp.xml",
    "application/vnd.wv.csp+xml",
    "application/vnd.wv.csp.wbxml",
    "application/vnd.wv.csp+wbxml",
    "application/vnd.wv.csp.cir",
    "text/plain",
    "",
];

fn content_type_from(text: &[u8]) -> Result<&'static str, AbiError> {
    CONTENT_TYPES
        .iter()
        .copied()
        .find(|c| c.as_bytes() == text)
        .ok_or(AbiError("unknown reply content type"))
}

// ---- init ------------------------------------------------------------------------------

/// The first call into a fresh guest: its configuration and seed.
pub fn encode_init(config: &Config, seed: &[u8; 32]) -> Result<Vec<u8>, AbiError> {
    let mut out = Vec::with_capacity(512);
    put_u64(&mut out, u64::from(ABI_VERSION));
    put_postcard(&mut out, config)?;
    out.extend_from_slice(seed);
    Ok(out)
}

/// Reads [`encode_init`] bytes.
pub fn decode_init(bytes: &[u8]) -> Result<(Config, [u8; 32]), AbiError> {
    let mut r = Reader { rest: bytes };
    if r.u64()? != u64::from(ABI_VERSION) {
        return Err(AbiError("init of another ABI version"));
    }
    let config = r.postcard()?;
    let seed: [u8; 32] = r
        .rest
        .try_into()
        .map_err(|_| AbiError("seed is not 32 bytes"))?;
    Ok((config, seed))
}

// ---- inputs ----------------------------------------------------------------------------

const IN_REQUEST: u8 = 1;
const IN_TIMEOUT: u8 = 2;
const IN_RESTORE: u8 = 3;
const IN_ADMIN: u8 = 4;

/// Encodes `handle(now, input)` for the guest.
pub fn encode_input(now: Millis, input: &Input) -> Result<Vec<u8>, AbiError> {
    let mut out = match input {
        Input::Request(r) => Vec::with_capacity(r.body.len() + r.content_type.len() + 48),
        _ => Vec::with_capacity(64),
    };
    put_u64(&mut out, now);
    match input {
        Input::Request(r) => {
            out.push(IN_REQUEST);
            put_u64(&mut out, r.conn);
            put_bytes(&mut out, r.content_type.as_bytes());
            put_i64(&mut out, r.wall_clock_ms);
            put_opt_str(&mut out, r.peer.as_deref());
            put_bytes(&mut out, &r.body);
        }
        Input::Timeout => out.push(IN_TIMEOUT),
        Input::Restore(records) => {
            out.push(IN_RESTORE);
            put_u64(&mut out, records.len() as u64);
            for rec in records {
                put_bytes(&mut out, rec.table.name().as_bytes());
                put_bytes(&mut out, rec.key.as_bytes());
                put_bytes(&mut out, &rec.value);
            }
        }
        Input::Admin { id, command } => {
            out.push(IN_ADMIN);
            put_u64(&mut out, *id);
            put_postcard(&mut out, command)?;
        }
    }
    Ok(out)
}

/// Reads [`encode_input`] bytes.
pub fn decode_input(bytes: &[u8]) -> Result<(Millis, Input), AbiError> {
    let mut r = Reader { rest: bytes };
    let now = r.u64()?;
    let input = match r.u8()? {
        IN_REQUEST => {
            let conn = r.u64()?;
            let content_type = r.string()?;
            let wall_clock_ms = r.i64()?;
            let peer = r.opt_string()?;
            let body = r.bytes()?.to_vec();
            Input::Request(Request {
                conn,
                content_type,
                body,
                wall_clock_ms,
                peer,
            })
        }
        IN_TIMEOUT => Input::Timeout,
        IN_RESTORE => {
            let n = r.len()?;
            // Each record takes at least 3 bytes: bound the allocation by the input.
            let mut records = Vec::with_capacity(n.min(r.rest.len() / 3));
            for _ in 0..n {
                let table = table_from(&r.string()?)?;
                let key = r.string()?;
                let value = r.bytes()?.to_vec();
                records.push(Record { table, key, value });
            }
            Input::Restore(records)
        }
        IN_ADMIN => {
            let id = r.u64()?;
            let command: AdminCommand = r.postcard()?;
            Input::Admin { id, command }
        }
        _ => return Err(AbiError("unknown input kind")),
    };
    r.end()?;
    Ok((now, input))
}

// ---- outputs ---------------------------------------------------------------------------

const OUT_REPLY: u8 = 1;
const OUT_WAKE_UP: u8 = 2;
const OUT_STORAGE: u8 = 3;
const OUT_EVENT: u8 = 4;
const OUT_ADMIN: u8 = 5;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

const EV_LOGGED_IN: u8 = 1;
const EV_LOGIN_FAILED: u8 = 2;
const EV_REGISTERED: u8 = 3;
const EV_SESSION_ENDED: u8 = 4;
const EV_RESTORE_SKIPPED: u8 = 5;

/// Appends one output to `out` (see [`encode_outputs`]).
pub fn put_output(out: &mut Vec<u8>, o: &Output) -> Result<(), AbiError> {
    match o {
        Output::Reply(r) => {
            out.push(OUT_REPLY);
            put_u64(out, r.conn);
            put_bytes(out, r.content_type.as_bytes());
            put_bytes(out, &r.body);
        }
        Output::WakeUp(w) => {
            out.push(OUT_WAKE_UP);
            put_bytes(out, w.session_id.as_bytes());
            out.push(version_tag(w.version));
            put_opt_str(out, w.cookie.as_deref());
            put_bytes(out, w.cir_token.as_bytes());
            put_u64(out, w.methods.len() as u64);
            for m in &w.methods {
                put_bytes(out, m.as_str().as_bytes());
            }
        }
        Output::Storage(b) => {
            out.push(OUT_STORAGE);
            put_u64(out, b.id);
            put_u64(out, b.ops.len() as u64);
            for op in &b.ops {
                match op {
                    StorageOp::Put { table, key, value } => {
                        out.push(OP_PUT);
                        put_bytes(out, table.name().as_bytes());
                        put_bytes(out, key.as_bytes());
                        put_bytes(out, value);
                    }
                    StorageOp::Delete { table, key } => {
                        out.push(OP_DELETE);
                        put_bytes(out, table.name().as_bytes());
                        put_bytes(out, key.as_bytes());
                    }
                }
            }
        }
        Output::Event(e) => {
            out.push(OUT_EVENT);
            match e {
                Event::LoggedIn {
                    user,
                    session,
                    version,
                } => {
                    out.push(EV_LOGGED_IN);
                    put_bytes(out, user.as_bytes());
                    put_bytes(out, session.as_bytes());
                    out.push(version_tag(*version));
                }
                Event::LoginFailed { user, code } => {
                    out.push(EV_LOGIN_FAILED);
                    put_bytes(out, user.as_bytes());
                    put_u64(out, u64::from(*code));
                }
                Event::Registered { user } => {
                    out.push(EV_REGISTERED);
                    put_bytes(out, user.as_bytes());
                }
                Event::SessionEnded {
                    user,
                    session,
                    code,
                } => {
                    out.push(EV_SESSION_ENDED);
                    put_bytes(out, user.as_bytes());
                    put_bytes(out, session.as_bytes());
                    put_u64(out, u64::from(*code));
                }
                Event::RestoreSkipped { table, key } => {
                    out.push(EV_RESTORE_SKIPPED);
                    put_bytes(out, table.name().as_bytes());
                    put_bytes(out, key.as_bytes());
                }
            }
        }
        Output::AdminResult { id, result } => {
            out.push(OUT_ADMIN);
            put_u64(out, *id);
            match result {
                Ok(text) => {
                    out.push(0);
                    put_bytes(out, text.as_bytes());
                }
                Err(text) => {
                    out.push(1);
                    put_bytes(out, text.as_bytes());
                }
            }
        }
    }
    Ok(())
}

/// Starts an output buffer: the count of outputs that follow (patched by [`finish_outputs`]).
pub fn start_outputs(out: &mut Vec<u8>) {
    out.clear();
    // A fixed 5-byte LEB128 slot, so the count can be written once it is known.
    out.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0]);
}

/// Writes the output count into the slot of [`start_outputs`] and appends the status.
pub fn finish_outputs(out: &mut Vec<u8>, count: u32, status: Status) {
    let mut c = count;
    for slot in out.iter_mut().take(5) {
        let last = *slot & 0x80 == 0;
        *slot = ((c & 0x7f) as u8) | if last { 0 } else { 0x80 };
        c >>= 7;
    }
    match status.timeout {
        Some(t) => {
            out.push(1);
            put_u64(out, t);
        }
        None => out.push(0),
    }
    put_u64(out, status.sessions);
    put_u64(out, status.accounts);
}

/// Encodes outputs and status as the guest returns them (for tests and replay digests).
pub fn encode_outputs(outputs: &[Output], status: Status) -> Result<Vec<u8>, AbiError> {
    let mut out = Vec::new();
    start_outputs(&mut out);
    for o in outputs {
        put_output(&mut out, o)?;
    }
    let count = u32::try_from(outputs.len()).map_err(|_| AbiError("too many outputs"))?;
    finish_outputs(&mut out, count, status);
    Ok(out)
}

/// Reads [`encode_outputs`] bytes, appending the outputs to `outputs`.
pub fn decode_outputs(bytes: &[u8], outputs: &mut impl Extend<Output>) -> Result<Status, AbiError> {
    let mut r = Reader { rest: bytes };
    let n = r.u64()?;
    for _ in 0..n {
        let o = read_output(&mut r)?;
        outputs.extend(std::iter::once(o));
    }
    let timeout = match r.u8()? {
        0 => None,
        1 => Some(r.u64()?),
        _ => return Err(AbiError("bad option tag")),
    };
    let sessions = r.u64()?;
    let accounts = r.u64()?;
    r.end()?;
    Ok(Status {
        timeout,
        sessions,
        accounts,
    })
}

fn code16(v: u64) -> Result<u16, AbiError> {
    u16::try_from(v).map_err(|_| AbiError("status code out of range"))
}

fn read_output(r: &mut Reader<'_>) -> Result<Output, AbiError> {
    Ok(match r.u8()? {
        OUT_REPLY => {
            let conn = r.u64()?;
            let content_type = content_type_from(r.bytes()?)?;
            let body = r.bytes()?.to_vec();
            Output::Reply(Reply {
                conn,
                content_type,
                body,
            })
        }
        OUT_WAKE_UP => {
            let session_id = r.string()?;
            let version = version_from(r.u8()?)?;
            let cookie = r.opt_string()?;
            let cir_token = r.string()?;
            let n = r.len()?;
            let mut methods = Vec::with_capacity(n.min(16));
            for _ in 0..n {
                methods.push(CirMethod::parse(&r.string()?));
            }
            Output::WakeUp(WakeUp {
                session_id,
                version,
                cookie,
                cir_token,
                methods,
            })
        }
        OUT_STORAGE => {
            let id = r.u64()?;
            let n = r.len()?;
            let mut ops = Vec::with_capacity(n.min(r.rest.len() / 3));
            for _ in 0..n {
                ops.push(match r.u8()? {
                    OP_PUT => StorageOp::Put {
                        table: table_from(&r.string()?)?,
                        key: r.string()?,
                        value: r.bytes()?.to_vec(),
                    },
                    OP_DELETE => StorageOp::Delete {
                        table: table_from(&r.string()?)?,
                        key: r.string()?,
                    },
                    _ => return Err(AbiError("unknown storage op")),
                });
            }
            Output::Storage(StorageBatch { id, ops })
        }
        OUT_EVENT => Output::Event(match r.u8()? {
            EV_LOGGED_IN => Event::LoggedIn {
                user: r.string()?,
                session: r.string()?,
                version: version_from(r.u8()?)?,
            },
            EV_LOGIN_FAILED => Event::LoginFailed {
                user: r.string()?,
                code: code16(r.u64()?)?,
            },
            EV_REGISTERED => Event::Registered { user: r.string()? },
            EV_SESSION_ENDED => Event::SessionEnded {
                user: r.string()?,
                session: r.string()?,
                code: code16(r.u64()?)?,
            },
            EV_RESTORE_SKIPPED => Event::RestoreSkipped {
                table: table_from(&r.string()?)?,
                key: r.string()?,
            },
            _ => return Err(AbiError("unknown event")),
        }),
        OUT_ADMIN => {
            let id = r.u64()?;
            let ok = r.u8()?;
            let text = r.string()?;
            let result = match ok {
                0 => Ok(text),
                1 => Err(text),
                _ => return Err(AbiError("bad result tag")),
            };
            Output::AdminResult { id, result }
        }
        _ => return Err(AbiError("unknown output kind")),
    })
}

// ---- queries ---------------------------------------------------------------------------

/// A read-only question a host asks the engine between inputs (metrics, wake-up channels,
/// account listing); it changes nothing, so it is neither recorded nor replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Counts for `/metrics`.
    Stats,
    /// Whether a session with this id is open (STCP `HELO`, WebSocket wake-ups).
    Session(String),
    /// Every account id.
    Accounts,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Counts.
    Stats(EngineStats),
    /// Whether the session is open.
    Session(bool),
    /// Canonical account ids, in order.
    Accounts(Vec<String>),
}

/// Counts the engine reports for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Open sessions.
    pub sessions: usize,
    /// Accounts.
    pub accounts: usize,
    /// Server-initiated transactions waiting in every session queue.
    pub queued: usize,
    /// The longest session queue.
    pub max_queue: usize,
}

/// Answers `query` from `server`'s state.
pub fn answer(server: &Server, query: &Query) -> Answer {
    match query {
        Query::Stats => {
            let (queued, max_queue) = server.queue_depths();
            Answer::Stats(EngineStats {
                sessions: server.session_count(),
                accounts: server.account_count(),
                queued,
                max_queue,
            })
        }
        Query::Session(id) => Answer::Session(server.session_info(id).is_some()),
        Query::Accounts => Answer::Accounts(server.account_ids().map(str::to_owned).collect()),
    }
}

const Q_STATS: u8 = 1;
const Q_SESSION: u8 = 2;
const Q_ACCOUNTS: u8 = 3;

/// Encodes a query for `imps_query`.
pub fn encode_query(query: &Query) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match query {
        Query::Stats => out.push(Q_STATS),
        Query::Session(id) => {
            out.push(Q_SESSION);
            put_bytes(&mut out, id.as_bytes());
        }
        Query::Accounts => out.push(Q_ACCOUNTS),
    }
    out
}

/// Reads [`encode_query`] bytes.
pub fn decode_query(bytes: &[u8]) -> Result<Query, AbiError> {
    let mut r = Reader { rest: bytes };
    let q = match r.u8()? {
        Q_STATS => Query::Stats,
        Q_SESSION => Query::Session(r.string()?),
        Q_ACCOUNTS => Query::Accounts,
        _ => return Err(AbiError("unknown query")),
    };
    r.end()?;
    Ok(q)
}

/// Encodes an answer (written by the guest into `out`, reused between calls).
pub fn encode_answer(answer: &Answer, out: &mut Vec<u8>) {
    out.clear();
    match answer {
        Answer::Stats(s) => {
            out.push(Q_STATS);
            for n in [s.sessions, s.accounts, s.queued, s.max_queue] {
                put_u64(out, n as u64);
            }
        }
        Answer::Session(open) => {
            out.push(Q_SESSION);
            out.push(u8::from(*open));
        }
        Answer::Accounts(ids) => {
            out.push(Q_ACCOUNTS);
            put_u64(out, ids.len() as u64);
            for id in ids {
                put_bytes(out, id.as_bytes());
            }
        }
    }
}

/// Reads [`encode_answer`] bytes.
pub fn decode_answer(bytes: &[u8]) -> Result<Answer, AbiError> {
    let mut r = Reader { rest: bytes };
    let a = match r.u8()? {
        Q_STATS => {
            let mut n = [0usize; 4];
            for v in &mut n {
                *v = r.len()?;
            }
            let [sessions, accounts, queued, max_queue] = n;
            Answer::Stats(EngineStats {
                sessions,
                accounts,
                queued,
                max_queue,
            })
        }
        Q_SESSION => Answer::Session(r.u8()? != 0),
        Q_ACCOUNTS => {
            let n = r.len()?;
            // Each id takes at least one byte: a bogus count cannot reserve much.
            let mut ids = Vec::with_capacity(n.min(r.rest.len()));
            for _ in 0..n {
                ids.push(r.string()?);
            }
            Answer::Accounts(ids)
        }
        _ => return Err(AbiError("unknown answer")),
    };
    r.end()?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn inputs_round_trip() {
        let inputs = vec![
            Input::Request(Request {
                conn: 7,
                content_type: "application/vnd.wv.csp.xml".into(),
                body: b"<WV-CSP-Message/>".to_vec(),
                wall_clock_ms: -5,
                peer: Some("127.0.0.1".into()),
            }),
            Input::Timeout,
            Input::Restore(vec![Record {
                table: Table::Accounts,
                key: "wv:a@x".into(),
                value: vec![1, 2, 3],
            }]),
            Input::Admin {
                id: 3,
                command: AdminCommand::ForceLogout {
                    user_id: "wv:a".into(),
                },
            },
        ];
        for input in inputs {
            let bytes = encode_input(123_456, &input).unwrap();
            let (now, back) = decode_input(&bytes).unwrap();
            assert_eq!(now, 123_456);
            assert_eq!(format!("{back:?}"), format!("{input:?}"));
            // Every strict prefix is refused, never misread.
            for cut in 0..bytes.len() {
                assert!(decode_input(bytes.get(..cut).unwrap()).is_err(), "{cut}");
            }
        }
    }

    #[test]
    fn outputs_round_trip() {
        let outputs = vec![
            Output::Reply(Reply {
                conn: 1,
                content_type: Version::V1_3.xml_content_type(),
                body: b"x".to_vec(),
            }),
            Output::WakeUp(WakeUp {
                session_id: "s".into(),
                version: Version::V1_1,
                cookie: None,
                cir_token: "t".into(),
                methods: vec![CirMethod::Stcp, CirMethod::Shttp],
            }),
            Output::Storage(StorageBatch {
                id: 9,
                ops: vec![
                    StorageOp::Put {
                        table: Table::Mailbox,
                        key: "k".into(),
                        value: vec![0; 300],
                    },
                    StorageOp::Delete {
                        table: Table::Groups,
                        key: "g".into(),
                    },
                ],
            }),
            Output::Event(Event::SessionEnded {
                user: "u".into(),
                session: "s".into(),
                code: 601,
            }),
            Output::Event(Event::LoggedIn {
                user: "u".into(),
                session: "s".into(),
                version: Version::V1_2,
            }),
            Output::AdminResult {
                id: 4,
                result: Err("no".into()),
            },
        ];
        let status = Status {
            timeout: Some(1 << 40),
            sessions: 2,
            accounts: 300,
        };
        let bytes = encode_outputs(&outputs, status).unwrap();
        let mut back = Vec::new();
        assert_eq!(decode_outputs(&bytes, &mut back).unwrap(), status);
        assert_eq!(back, outputs);
        let empty = encode_outputs(&[], Status::default()).unwrap();
        let mut none: Vec<Output> = Vec::new();
        assert_eq!(
            decode_outputs(&empty, &mut none).unwrap(),
            Status::default()
        );
        assert!(none.is_empty());
    }

    #[test]
    fn every_version_content_type_is_known() {
        for v in Version::ALL {
            assert!(content_type_from(v.xml_content_type().as_bytes()).is_ok());
        }
    }

    #[test]
    fn queries_and_answers_round_trip() {
        for q in [Query::Stats, Query::Session("s-1".into()), Query::Accounts] {
            assert_eq!(decode_query(&encode_query(&q)).unwrap(), q);
        }
        let mut out = Vec::new();
        for a in [
            Answer::Stats(EngineStats {
                sessions: 3,
                accounts: 300,
                queued: 7,
                max_queue: 5,
            }),
            Answer::Session(true),
            Answer::Session(false),
            Answer::Accounts(vec!["wv:a@x".into(), "wv:b@x".into()]),
        ] {
            encode_answer(&a, &mut out);
            assert_eq!(decode_answer(&out).unwrap(), a);
        }
        assert!(decode_query(&[9]).is_err());
        assert!(decode_answer(&[Q_ACCOUNTS, 200]).is_err());
    }

    #[test]
    fn init_round_trips_the_configuration() {
        let config = Config {
            domain: "example.org".into(),
            ..Config::default()
        };
        let bytes = encode_init(&config, &[7; 32]).unwrap();
        assert_eq!(decode_init(&bytes).unwrap(), (config, [7; 32]));
    }
}
