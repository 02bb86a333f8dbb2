//! The engine thread: one thread owns the [`Server`] and the store and is the only one that
//! touches them. HTTP handlers send [`Job`]s over a channel and await the reply.
//!
//! Each turn of the loop waits for a request or the engine's deadline, then takes every
//! request already waiting (group commit), feeds them one by one and drains the outputs after
//! each. The storage batches of the whole turn are applied with one `apply_all` (one durable
//! commit) before any reply of the turn is released (the contract of `imps_engine::store`).
//!
//! The engine is a [`Core`]: the native [`Server`] or the wasm guest ([`crate::wasm`]). A
//! guest that traps has lost its state: the driver commits what the turn made durable so
//! far, answers the trapping request with CSP 500 (an operator command with an error),
//! rebuilds the instance from storage (`Restore`) and carries on; sessions open before are
//! gone (their clients get 604 and log in again), acknowledged data is not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use imps_engine::abi::{Answer, EngineStats, Query};
use imps_engine::server::{
    AdminCommand, Event, Input, Millis, Output, Reply, Request, Server, WakeUp,
};
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

/// What the engine thread tells the rest of the host besides replies.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Where wake-ups go (after the commit of their turn).
    pub cir: Option<crate::cir::Hub>,
    /// Counters (storage commit latency).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Where to keep the raw input of a guest trap (`--keep-trap-inputs`); by default only a
    /// redacted description is logged.
    pub keep_trap_inputs: Option<PathBuf>,
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

/// An input the engine could not finish: the guest trapped and its state is gone.
#[derive(Debug)]
pub struct Trapped {
    /// What happened (time limit, memory, abort).
    pub reason: String,
    /// The input that was being handled.
    pub input: Box<Input>,
}

/// The engine as the driver sees it: the same driving surface whether it is linked natively
/// ([`Server`]) or runs as a wasm guest ([`crate::wasm::WasmCore`]).
pub trait Core: Send + 'static {
    /// Feeds one input (see `Server::handle`). On `Err` the engine's state is lost: call
    /// [`Core::reset`] and restore.
    fn handle(&mut self, now: Millis, input: Input) -> Result<(), Trapped>;
    /// The next output of the last input.
    fn poll_output(&mut self) -> Option<Output>;
    /// The engine's next deadline.
    fn poll_timeout(&self) -> Option<Millis>;
    /// Number of accounts (for logs).
    fn account_count(&self) -> usize;
    /// Replaces the engine by a fresh one drawing from `seed` (after a trap); the driver then
    /// feeds `Restore`.
    fn reset(&mut self, seed: [u8; 32]) -> Result<(), String>;
    /// Answers a read-only question; `Err` if the engine cannot (a guest that trapped).
    fn query(&mut self, query: &Query) -> Result<Answer, String>;
    /// Linear memory in use and its cap, for a guest; `None` when linked natively.
    fn guest_memory(&self) -> Option<(usize, usize)> {
        None
    }
}

impl Core for Server {
    fn handle(&mut self, now: Millis, input: Input) -> Result<(), Trapped> {
        Server::handle(self, now, input);
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output> {
        Server::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Millis> {
        Server::poll_timeout(self)
    }
    fn account_count(&self) -> usize {
        Server::account_count(self)
    }
    fn reset(&mut self, seed: [u8; 32]) -> Result<(), String> {
        *self = Server::new(self.config().clone(), seed);
        Ok(())
    }
    fn query(&mut self, query: &Query) -> Result<Answer, String> {
        Ok(imps_engine::abi::answer(self, query))
    }
}

impl<C: Core + ?Sized> Core for Box<C> {
    fn handle(&mut self, now: Millis, input: Input) -> Result<(), Trapped> {
        (**self).handle(now, input)
    }
    fn poll_output(&mut self) -> Option<Output> {
        (**self).poll_output()
    }
    fn poll_timeout(&self) -> Option<Millis> {
        (**self).poll_timeout()
    }
    fn account_count(&self) -> usize {
        (**self).account_count()
    }
    fn reset(&mut self, seed: [u8; 32]) -> Result<(), String> {
        (**self).reset(seed)
    }
    fn query(&mut self, query: &Query) -> Result<Answer, String> {
        (**self).query(query)
    }
    fn guest_memory(&self) -> Option<(usize, usize)> {
        (**self).guest_memory()
    }
}

/// Starts the engine thread: feeds `Restore(store.load())`, then serves jobs until every
/// [`EngineClient`] is dropped.
pub fn spawn<C, S>(core: C, store: S) -> Result<(EngineClient, JoinHandle<()>), String>
where
    C: Core,
    S: Store + Send + 'static,
{
    spawn_with(core, store, Hooks::default())
}

/// [`spawn`] with wake-ups going to a CIR hub, commit latencies to metrics and trapping
/// inputs kept where the hooks say.
pub fn spawn_with<C, S>(
    mut core: C,
    mut store: S,
    hooks: Hooks,
) -> Result<(EngineClient, JoinHandle<()>), String>
where
    C: Core,
    S: Store + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Work>();
    let clock = Instant::now();
    restore(&mut core, &mut store, 0)?;
    let handle = std::thread::Builder::new()
        .name("imps-engine".into())
        .spawn(move || run(core, store, rx, clock, hooks))
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
    Ok((EngineClient { tx }, handle))
}

/// Feeds the stored records to `core` and stores what that changes.
fn restore<C: Core, S: Store>(core: &mut C, store: &mut S, now: Millis) -> Result<(), String> {
    let records = store
        .load()
        .map_err(|e| format!("loading the store: {e:?}"))?;
    let restored = records.len();
    core.handle(now, Input::Restore(records))
        .map_err(|t| format!("the engine trapped while restoring: {}", t.reason))?;
    let mut turn = Turn::default();
    turn.drain(core);
    if !turn.batches.is_empty() {
        store
            .apply_all(&turn.batches)
            .map_err(|e| format!("storing after restore: {e:?}"))?;
    }
    tracing::info!(
        "restored {restored} record(s); {} account(s)",
        core.account_count()
    );
    Ok(())
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
    fn drain<C: Core + ?Sized>(&mut self, server: &mut C) {
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

fn run<C: Core, S: Store>(
    mut server: C,
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
                if let Err(t) = server.handle(now, Input::Timeout) {
                    let rebuilt = recover(
                        &mut server,
                        &mut store,
                        &mut turn,
                        &mut waiting,
                        now,
                        t,
                        Pending::Nothing,
                        &hooks,
                    );
                    if !rebuilt {
                        break;
                    }
                }
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
            let now = now_ms(clock);
            let (fed, pending) = match work {
                Work::Request(job) => {
                    waiting.replies.insert(conn, job.reply);
                    let request = Request {
                        conn,
                        content_type: job.content_type,
                        body: job.body,
                        wall_clock_ms: wall_clock_ms(),
                        peer: job.peer,
                    };
                    (
                        server.handle(now, Input::Request(request)),
                        Pending::Request(conn),
                    )
                }
                Work::Admin { command, reply } => {
                    waiting.admin.insert(conn, reply);
                    (
                        server.handle(now, Input::Admin { id: conn, command }),
                        Pending::Admin(conn),
                    )
                }
                Work::Query { query, reply } => match server.query(&query) {
                    Ok(answer) => {
                        let _ = reply.send(answer);
                        continue;
                    }
                    // A guest that cannot answer has trapped: rebuild it, drop the question.
                    Err(reason) => (
                        Err(Trapped {
                            reason,
                            input: Box::new(Input::Timeout),
                        }),
                        Pending::Nothing,
                    ),
                },
            };
            if let Err(t) = fed {
                let rebuilt = recover(
                    &mut server,
                    &mut store,
                    &mut turn,
                    &mut waiting,
                    now,
                    t,
                    pending,
                    &hooks,
                );
                if !rebuilt {
                    return;
                }
                continue;
            }
            turn.drain(&mut server);
        }
        release(&mut store, turn, &mut waiting, &hooks);
        if let (Some(m), Some((used, cap))) = (&hooks.metrics, server.guest_memory()) {
            m.set_gauge("imps_guest_memory_bytes", used as f64);
            m.set_gauge("imps_guest_memory_limit_bytes", cap as f64);
        }
    }
    tracing::debug!("engine thread ends");
}

/// What waits on the input that trapped.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// A CSP request on this connection: it gets CSP 500.
    Request(u64),
    /// An operator command: it gets an error.
    Admin(u64),
    /// Nothing (a timeout, a query).
    Nothing,
}

/// After a guest trap: releases what the turn produced so far (committing its batches),
/// answers what waited on the trapping input, rebuilds the engine from storage.
/// Returns `false` if the engine cannot be rebuilt (the thread then ends).
#[allow(clippy::too_many_arguments)]
fn recover<C: Core, S: Store>(
    server: &mut C,
    store: &mut S,
    turn: &mut Turn,
    waiting: &mut Waiting,
    now: Millis,
    trapped: Trapped,
    pending: Pending,
    hooks: &Hooks,
) -> bool {
    let what = crate::trap::describe(&trapped.input);
    tracing::error!(
        reason = %trapped.reason,
        input = %what,
        "the engine guest trapped; rebuilding it from storage (open sessions end)"
    );
    if let Some(dir) = &hooks.keep_trap_inputs {
        match crate::trap::keep(dir, now, &trapped.input) {
            Ok(path) => tracing::warn!("raw trapping input kept in {}", path.display()),
            Err(e) => tracing::warn!("cannot keep the trapping input: {e}"),
        }
    }
    let tx = match pending {
        Pending::Request(c) => waiting.replies.remove(&c),
        _ => None,
    };
    if let Pending::Admin(id) = pending
        && let Some(admin) = waiting.admin.remove(&id)
    {
        let _ = admin.send(Err(format!(
            "the engine trapped ({}); the command was not carried out",
            trapped.reason
        )));
    }
    release(store, std::mem::take(turn), waiting, hooks);
    let rebuilt = crate::config::os_seed()
        .and_then(|seed| server.reset(seed))
        .and_then(|()| restore(server, store, now));
    if let Some(tx) = tx {
        let body = match trapped.input.as_ref() {
            Input::Request(r) => r.body.as_slice(),
            _ => &[],
        };
        let (ct, body) = crate::csp_status(
            crate::sniff_version(body),
            500,
            "internal server error: the request could not be processed",
        );
        let _ = tx.send(HostReply {
            content_type: ct.to_owned(),
            body,
        });
    }
    match rebuilt {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("cannot rebuild the engine after a trap: {e}; stopping");
            false
        }
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
