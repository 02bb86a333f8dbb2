//! The engine thread: one thread owns the [`Server`] and the store and is the only one that
//! touches them. HTTP handlers send [`Job`]s over a channel and await the reply.
//!
//! Each turn of the loop waits for a request or the engine's deadline, then takes every
//! request already waiting (group commit), feeds them one by one and drains the outputs after
//! each. The storage batches of the whole turn are applied with one `apply_all` (one durable
//! commit) before any reply of the turn is released (the contract of `imps_engine::store`).

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imps_engine::server::{AdminCommand, Event, Input, Output, Reply, Request, Server, WakeUp};
use imps_engine::store::{StorageBatch, Store};
use tokio::sync::oneshot;

use crate::redact;

/// Most requests taken into one turn (one commit).
pub const MAX_GROUP: usize = 256;

/// One request for the engine thread.
#[derive(Debug)]
pub struct Job {
    /// The request's `Content-Type` (empty when absent).
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
    /// The peer's address.
    pub peer: Option<String>,
    /// Where the reply goes.
    pub reply: oneshot::Sender<HostReply>,
}

/// A reply ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReply {
    /// `Content-Type`.
    pub content_type: String,
    /// Body (may be empty).
    pub body: Vec<u8>,
}

/// What the engine thread is asked to do.
#[derive(Debug)]
pub enum Work {
    /// A CSP request.
    Request(Job),
    /// An operator command; the result comes back once its changes are durable.
    Admin {
        /// The command.
        command: AdminCommand,
        /// Where the result goes.
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A read-only question about the engine's state.
    Query {
        /// The question.
        query: Query,
        /// Where the answer goes.
        reply: oneshot::Sender<Answer>,
    },
}

/// Read-only questions the host asks the engine (metrics, CIR, admin listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Counts for `/metrics`.
    Stats,
    /// Whether a session with this id is open (STCP `HELO`, WebSocket CIR).
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

/// What the engine thread tells the rest of the host besides replies.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Where wake-ups go (after the commit of their turn).
    pub cir: Option<crate::cir::Hub>,
    /// Counters (storage commit latency).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The sending side of the engine channel; cheap to clone. When every clone is dropped the
/// engine thread finishes its turn and ends.
#[derive(Debug, Clone)]
pub struct EngineClient {
    tx: mpsc::Sender<Work>,
}

impl EngineClient {
    /// A client whose engine is already gone (every call yields `None`); for tests.
    pub fn disconnected() -> EngineClient {
        let (tx, _) = mpsc::channel();
        EngineClient { tx }
    }

    /// Sends a request and waits for its reply; `None` if the engine thread is gone.
    pub async fn call(
        &self,
        content_type: String,
        body: Vec<u8>,
        peer: Option<String>,
    ) -> Option<HostReply> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Work::Request(Job {
                content_type,
                body,
                peer,
                reply,
            }))
            .ok()?;
        rx.await.ok()
    }

    /// Runs an operator command; `None` if the engine thread is gone.
    pub async fn admin(&self, command: AdminCommand) -> Option<Result<String, String>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Work::Admin { command, reply }).ok()?;
        rx.await.ok()
    }

    /// Asks a read-only question; `None` if the engine thread is gone.
    pub async fn query(&self, query: Query) -> Option<Answer> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Work::Query { query, reply }).ok()?;
        rx.await.ok()
    }
}

/// Starts the engine thread: feeds `Restore(store.load())`, then serves jobs until every
/// [`EngineClient`] is dropped.
pub fn spawn<S>(server: Server, store: S) -> Result<(EngineClient, JoinHandle<()>), String>
where
    S: Store + Send + 'static,
{
    spawn_with(server, store, Hooks::default())
}

/// [`spawn`] with wake-ups going to a CIR hub and commit latencies to metrics.
pub fn spawn_with<S>(
    mut server: Server,
    mut store: S,
    hooks: Hooks,
) -> Result<(EngineClient, JoinHandle<()>), String>
where
    S: Store + Send + 'static,
{
    let records = store
        .load()
        .map_err(|e| format!("loading the store: {e:?}"))?;
    let restored = records.len();
    let (tx, rx) = mpsc::channel::<Work>();
    let clock = Instant::now();
    server.handle(0, Input::Restore(records));
    let mut turn = Turn::default();
    turn.drain(&mut server);
    if !turn.batches.is_empty() {
        store
            .apply_all(&turn.batches)
            .map_err(|e| format!("storing after restore: {e:?}"))?;
    }
    tracing::info!(
        "restored {restored} record(s); {} account(s)",
        server.account_count()
    );
    let handle = std::thread::Builder::new()
        .name("imps-engine".into())
        .spawn(move || run(server, store, rx, clock, hooks))
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
    Ok((EngineClient { tx }, handle))
}

fn now_ms(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What one turn produced, in output order.
#[derive(Default)]
struct Turn {
    batches: Vec<StorageBatch>,
    /// Replies with the number of batches output before each.
    replies: Vec<(usize, Reply)>,
    /// Wake-ups, released with the replies.
    wakes: Vec<WakeUp>,
    /// Admin results with the number of batches output before each.
    admin: Vec<(usize, u64, Result<String, String>)>,
}

impl Turn {
    fn drain(&mut self, server: &mut Server) {
        while let Some(out) = server.poll_output() {
            match out {
                Output::Reply(r) => self.replies.push((self.batches.len(), r)),
                Output::Storage(b) => self.batches.push(b),
                Output::WakeUp(w) => self.wakes.push(w),
                Output::Event(e) => log_event(&e),
                Output::AdminResult { id, result } => {
                    self.admin.push((self.batches.len(), id, result))
                }
            }
        }
    }
}

/// Logs an engine event with user and session ids redacted.
pub fn log_event(e: &Event) {
    match e {
        Event::LoggedIn {
            user,
            session,
            version,
        } => {
            tracing::info!(user = %redact::User(user), session = %redact::token(session), %version, "login");
        }
        Event::LoginFailed { user, code } => {
            tracing::info!(user = %redact::User(user), code, "login failed")
        }
        Event::Registered { user } => {
            tracing::info!(user = %redact::User(user), "account registered")
        }
        Event::SessionEnded {
            user,
            session,
            code,
        } => {
            tracing::info!(user = %redact::User(user), session = %redact::token(session), code, "session ended");
        }
        Event::RestoreSkipped { table, key } => {
            tracing::warn!(table = table.name(), key = %redact::User(key), "stored record skipped at restore");
        }
    }
}

fn run<S: Store>(
    mut server: Server,
    mut store: S,
    rx: mpsc::Receiver<Work>,
    clock: Instant,
    hooks: Hooks,
) {
    let mut next_conn: u64 = 1;
    let mut waiting = Waiting::default();
    // Guards against a deadline the engine does not move on after its Timeout.
    let mut fired_at: Option<u64> = None;
    loop {
        let first = match server.poll_timeout() {
            Some(deadline) => {
                let now = now_ms(clock);
                let mut wait = deadline.saturating_sub(now);
                if wait == 0 && fired_at == Some(deadline) {
                    wait = 10;
                }
                if wait == 0 {
                    None
                } else {
                    match rx.recv_timeout(Duration::from_millis(wait)) {
                        Ok(job) => Some(job),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
            None => match rx.recv() {
                Ok(job) => Some(job),
                Err(_) => break,
            },
        };
        let mut jobs: Vec<Work> = first.into_iter().collect();
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }

        let mut turn = Turn::default();
        if let Some(deadline) = server.poll_timeout() {
            let now = now_ms(clock);
            if deadline <= now && fired_at != Some(deadline) {
                server.handle(now, Input::Timeout);
                turn.drain(&mut server);
                fired_at = server.poll_timeout().filter(|d| *d <= now);
                if fired_at.is_some() {
                    tracing::warn!("the engine's deadline did not move after a timeout");
                }
            } else if deadline > now {
                fired_at = None;
            }
        }
        for work in jobs {
            let conn = next_conn;
            next_conn += 1;
            match work {
                Work::Request(job) => {
                    waiting.replies.insert(conn, job.reply);
                    let request = Request {
                        conn,
                        content_type: job.content_type,
                        body: job.body,
                        wall_clock_ms: wall_clock_ms(),
                        peer: job.peer,
                    };
                    server.handle(now_ms(clock), Input::Request(request));
                }
                Work::Admin { command, reply } => {
                    waiting.admin.insert(conn, reply);
                    server.handle(now_ms(clock), Input::Admin { id: conn, command });
                }
                Work::Query { query, reply } => {
                    let _ = reply.send(answer(&server, query));
                }
            }
            turn.drain(&mut server);
        }
        release(&mut store, turn, &mut waiting, &hooks);
    }
    tracing::debug!("engine thread ends");
}

/// Answers a read-only question.
fn answer(server: &Server, query: Query) -> Answer {
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
        Query::Session(id) => Answer::Session(server.session_info(&id).is_some()),
        Query::Accounts => Answer::Accounts(server.account_ids().map(str::to_owned).collect()),
    }
}

/// Who waits for what the engine answers, by connection (or admin) id.
#[derive(Default)]
struct Waiting {
    replies: BTreeMap<u64, oneshot::Sender<HostReply>>,
    admin: BTreeMap<u64, oneshot::Sender<Result<String, String>>>,
}

/// Commits the turn's batches, then releases its replies and wake-ups. If the commit fails,
/// replies that came after a batch are replaced by CSP 500 (their effects are not durable).
fn release<S: Store>(store: &mut S, turn: Turn, waiting: &mut Waiting, hooks: &Hooks) {
    let stored = if turn.batches.is_empty() {
        true
    } else {
        let started = Instant::now();
        let result = store.apply_all(&turn.batches);
        if let Some(m) = &hooks.metrics {
            m.observe_commit(started.elapsed(), turn.batches.len());
        }
        match result {
            Ok(()) => true,
            Err(e) => {
                let ids: Vec<u64> = turn.batches.iter().map(|b| b.id).collect();
                tracing::error!(
                    "storage failed for batches {ids:?}: {e:?}; their replies become CSP 500"
                );
                false
            }
        }
    };
    // Wake-ups go out after the commit (the client that polls finds what woke it durable)
    // and before the replies (whoever hears a reply may count on the wake-up being out).
    if !turn.wakes.is_empty() {
        match &hooks.cir {
            Some(hub) => {
                for w in &turn.wakes {
                    hub.wake(w);
                }
            }
            None => {
                for w in &turn.wakes {
                    tracing::debug!(session = %redact::token(&w.session_id), "wake-up (no CIR channel)");
                }
            }
        }
    }
    for (batches_before, id, result) in turn.admin {
        let Some(tx) = waiting.admin.remove(&id) else {
            continue;
        };
        let result = if stored || batches_before == 0 {
            result
        } else {
            Err("storage failed: the change was not made".into())
        };
        let _ = tx.send(result);
    }
    for (batches_before, reply) in turn.replies {
        let Some(tx) = waiting.replies.remove(&reply.conn) else {
            tracing::warn!("reply for unknown connection {}", reply.conn);
            continue;
        };
        let out = if stored || batches_before == 0 {
            HostReply {
                content_type: reply.content_type.into(),
                body: reply.body,
            }
        } else {
            let (ct, body) = crate::csp_status(
                crate::sniff_version(&reply.body),
                500,
                "internal server error: storage failed",
            );
            HostReply {
                content_type: ct.to_owned(),
                body,
            }
        };
        // The HTTP side may have gone (client hung up); nothing to do then.
        let _ = tx.send(out);
    }
    // A request the engine did not answer: its sender drops here and the HTTP side answers 500.
    if !waiting.replies.is_empty() || !waiting.admin.is_empty() {
        tracing::error!(
            "{} request(s) got no reply from the engine",
            waiting.replies.len() + waiting.admin.len()
        );
        waiting.replies.clear();
        waiting.admin.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use imps_engine::codec::{self, Limits};
    use imps_engine::server::Config;
    use imps_engine::store::{MemoryStore, Record};

    use super::*;

    /// A memory store whose commits can be made to fail, counting commits.
    #[derive(Clone, Default)]
    struct Flaky {
        inner: Arc<Mutex<MemoryStore>>,
        fail: Arc<AtomicBool>,
        commits: Arc<AtomicUsize>,
    }

    impl Store for Flaky {
        type Error = String;
        fn apply(&mut self, batch: &StorageBatch) -> Result<(), String> {
            self.apply_all(std::slice::from_ref(batch))
        }
        fn apply_all(&mut self, batches: &[StorageBatch]) -> Result<(), String> {
            if self.fail.load(Ordering::SeqCst) {
                return Err("disk on fire".into());
            }
            self.commits.fetch_add(1, Ordering::SeqCst);
            let mut inner = self.inner.lock().unwrap();
            for b in batches {
                let Ok(()) = inner.apply(b);
            }
            Ok(())
        }
        fn load(&self) -> Result<Vec<Record>, String> {
            let Ok(records) = self.inner.lock().unwrap().load();
            Ok(records)
        }
    }

    fn config() -> Config {
        let mut c = Config::default();
        c.login.open_registration = true;
        c.login.registrations_per_minute = 1000;
        c.login.hash_memory_kib = 8;
        c.login.hash_iterations = 1;
        c
    }

    fn login(user: &str) -> Vec<u8> {
        format!(
            "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\"><Session>\
             <SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor><Transaction>\
             <TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>1</TransactionID>\
             </TransactionDescriptor><TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">\
             <Login-Request><UserID>{user}</UserID><ClientID><URL>t</URL></ClientID><Password>pw</Password>\
             </Login-Request></TransactionContent></Transaction></Session></WV-CSP-Message>"
        )
        .into_bytes()
    }

    fn code(reply: &HostReply) -> u32 {
        let msg = codec::decode(&reply.body, Limits::default()).unwrap();
        msg.primitive().unwrap().result_code().unwrap()
    }

    #[tokio::test]
    async fn replies_after_a_failed_commit_become_csp_500() {
        let store = Flaky::default();
        let (client, thread) = spawn(Server::new(config(), [1; 32]), store.clone()).unwrap();
        store.fail.store(true, Ordering::SeqCst);
        let r = client
            .call("application/vnd.wv.csp.xml".into(), login("wv:ann"), None)
            .await
            .unwrap();
        assert_eq!(
            code(&r),
            500,
            "a registration that was not stored is not confirmed"
        );
        store.fail.store(false, Ordering::SeqCst);
        let r = client
            .call("application/vnd.wv.csp.xml".into(), login("wv:ben"), None)
            .await
            .unwrap();
        assert_eq!(code(&r), 200);
        assert!(
            store
                .load()
                .unwrap()
                .iter()
                .any(|r| r.key == "wv:ben@localhost")
        );
        drop(client);
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_registrations_are_all_stored_before_their_replies() {
        let store = Flaky::default();
        let (client, thread) = spawn(Server::new(config(), [2; 32]), store.clone()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let client = client.clone();
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let user = format!("wv:user{i}@localhost");
                let r = client
                    .call("application/vnd.wv.csp.xml".into(), login(&user), None)
                    .await
                    .unwrap();
                assert_eq!(code(&r), 200);
                // The reply is released only after the account is durable.
                assert!(
                    store.load().unwrap().iter().any(|r| r.key == user),
                    "{user} not stored before its reply"
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(store.commits.load(Ordering::SeqCst) <= 40);
        drop(client);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn dropping_every_client_ends_the_engine_thread() {
        let (client, thread) = spawn(Server::new(config(), [3; 32]), Flaky::default()).unwrap();
        let other = client.clone();
        drop(client);
        drop(other);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn a_gone_engine_yields_none() {
        let client = EngineClient::disconnected();
        assert_eq!(client.call(String::new(), Vec::new(), None).await, None);
    }
}
