//! The simulated users: each is the engine's CSP client state machine; a small pool of
//! worker threads owns them (user `i` belongs to worker `i % workers`) and carries their
//! requests over HTTP with one keep-alive agent per worker. Each online user holds one STCP
//! connection (a task on a shared tokio runtime) whose `WVCI` lines wake it: the worker then
//! feeds `WakeUp` and the client polls until Poll=F. Clients never poll on a timer.

use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use imps_engine::client::presence::{self as pb, AttrName};
use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme, group, im,
};
use imps_engine::codec::capability::CirMethod;
use imps_engine::codec::common::NickList;
use imps_engine::codec::presence::CreateListRequest;
use imps_engine::codec::presence_attrs::{PresenceSubList, StatusText, UserAvailability};
use imps_engine::codec::{Primitive, Version};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::stats::{Kind, Stats, message_seq, message_text};

/// The CSP version every simulated client speaks.
const VERSION: Version = Version::V1_2;
/// Attempts per HTTP request before a transport failure is given up.
const ATTEMPTS: u32 = 5;

/// The user id of user `i`.
pub fn user_name(i: u32) -> String {
    format!("u{i:05}")
}

/// The password of user `i`.
pub fn password(i: u32) -> String {
    format!("pw{i}")
}

/// The contact list every user keeps its contacts in.
fn friends_list(i: u32) -> String {
    format!("wv:{}/friends", user_name(i))
}

/// The id of group `g` (owned by its first member).
pub fn group_id(g: u32, size: u32) -> String {
    format!("wv:{}/g{g}", user_name(g * size))
}

/// The big group's id (owned by user 0).
pub fn big_group_id() -> String {
    format!("wv:{}/big", user_name(0))
}

/// The presence attributes contacts grant and watch.
fn watched() -> PresenceSubList {
    pb::names(&[
        AttrName::OnlineStatus,
        AttrName::UserAvailability,
        AttrName::StatusText,
    ])
}

/// What a worker does for one user.
#[derive(Debug, Clone)]
pub enum Action {
    /// One-time setup: log in, create the contact list and its grant, create the groups the
    /// user owns, log out.
    Setup {
        /// The contacts.
        contacts: Vec<u32>,
        /// Groups this user creates.
        creates: Vec<String>,
    },
    /// The login sequence: Login, ClientCapability, Service, GetList, SubscribePresence,
    /// UpdatePresence, join the groups; then the STCP connection.
    Login {
        /// Groups to join.
        groups: Vec<String>,
    },
    /// Publish a presence change that `watchers` contacts (all online) must be told of.
    Presence {
        /// Contacts watching.
        watchers: u32,
    },
    /// Send one message to user `to` (expected 1 delivery).
    Direct {
        /// Recipient.
        to: u32,
        /// Direct or Offline.
        kind: Kind,
    },
    /// Send one message to a group with `expected` other joined users.
    Group {
        /// The group.
        group: String,
        /// Group, Big or Storm.
        kind: Kind,
        /// Joined users other than the sender.
        expected: u32,
    },
    /// Join a group with change notices on (the storm).
    Join {
        /// The group.
        group: String,
    },
    /// Leave a group.
    Leave {
        /// The group.
        group: String,
    },
    /// Poll until Poll=F.
    Poll,
    /// Log out and close the STCP connection.
    Logout,
}

/// A job for a worker.
pub enum Job {
    /// The user's STCP connection said WVCI.
    Wake(u32),
    /// Do `Action` for the user, then report on `done`.
    Act(u32, Action, Sender<()>),
    /// End the worker (its own queue has senders in the STCP tasks, so it never
    /// disconnects by itself).
    Stop,
}

struct User {
    idx: u32,
    client: Client,
    stcp: Option<tokio::task::JoinHandle<()>>,
}

/// Settings every worker shares.
pub struct Shared {
    /// Accounting.
    pub stats: Stats,
    /// `http://ADDR`.
    pub base: String,
    /// STCP `ADDR:PORT`.
    pub stcp: String,
    /// Message size, bytes.
    pub message_bytes: usize,
    /// The runtime of the STCP connections.
    pub rt: tokio::runtime::Handle,
}

/// The handles to the worker pool.
pub struct Pool {
    senders: Vec<Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    /// Starts `workers` threads owning users `0..users`.
    pub fn start(shared: &Arc<Shared>, users: u32, workers: u32, seed: u64) -> Pool {
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = mpsc::channel();
            senders.push(tx);
            receivers.push(rx);
        }
        let mut threads = Vec::new();
        for (w, rx) in receivers.into_iter().enumerate() {
            let mine: Vec<User> = (0..users)
                .filter(|i| *i as usize % workers as usize == w)
                .map(|i| new_user(i, seed))
                .collect();
            let shared = Arc::clone(shared);
            let me = senders.get(w).cloned();
            threads.push(std::thread::spawn(move || {
                if let Some(me) = me {
                    Worker::new(shared, mine, workers, me).run(rx);
                }
            }));
        }
        Pool { senders, threads }
    }

    /// Queues `action` for user `u`; `done` hears when it is finished.
    pub fn act(&self, u: u32, action: Action, done: &Sender<()>) {
        let n = self.senders.len();
        if let Some(tx) = self.senders.get(u as usize % n) {
            let _ = tx.send(Job::Act(u, action, done.clone()));
        }
    }

    /// Stops the workers.
    pub fn stop(self) {
        for tx in &self.senders {
            let _ = tx.send(Job::Stop);
        }
        drop(self.senders);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn new_user(i: u32, seed: u64) -> User {
    let mut config = ClientConfig::new(VERSION, &user_name(i), &password(i), LoginScheme::Password);
    config.capabilities.supported_cir_method = vec![CirMethod::Stcp];
    // Polls only when woken: a day between timed polls is never within a run.
    config.poll_interval_secs = 86_400;
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..12].copy_from_slice(&i.to_le_bytes());
    User {
        idx: i,
        client: Client::new(config, s),
        stcp: None,
    }
}

struct Worker {
    shared: Arc<Shared>,
    users: Vec<User>,
    workers: u32,
    /// Our own queue, for the STCP tasks to post wake-ups to.
    me: Sender<Job>,
    agent: ureq::Agent,
    url: String,
}

impl Worker {
    fn new(shared: Arc<Shared>, users: Vec<User>, workers: u32, me: Sender<Job>) -> Worker {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .max_idle_connections_per_host(4)
            .build()
            .into();
        let url = format!("{}/imps", shared.base);
        Worker {
            shared,
            users,
            workers,
            me,
            agent,
            url,
        }
    }

    fn run(mut self, rx: Receiver<Job>) {
        let mut next_tick = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Job::Wake(u)) => {
                    self.shared
                        .stats
                        .wakeups
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.input(u, ClientInput::WakeUp);
                }
                Ok(Job::Act(u, action, done)) => {
                    self.act(u, action);
                    let _ = done.send(());
                }
                Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + Duration::from_secs(1);
                self.timers();
            }
        }
        for u in &mut self.users {
            if let Some(h) = u.stcp.take() {
                h.abort();
            }
        }
    }

    fn slot(&self, u: u32) -> usize {
        (u / self.workers) as usize
    }

    fn now_ms(&self) -> u64 {
        self.shared.stats.start.elapsed().as_millis() as u64
    }

    /// Feeds a Timeout to each client whose deadline passed (keep-alives).
    fn timers(&mut self) {
        let now = self.now_ms();
        let due: Vec<u32> = self
            .users
            .iter()
            .filter(|u| u.client.poll_timeout().is_some_and(|t| t <= now))
            .map(|u| u.idx)
            .collect();
        for u in due {
            self.input(u, ClientInput::Timeout);
        }
    }

    /// POSTs `body`, retrying transport failures with the same body (so the same
    /// TransactionID: the server replays its answer rather than running it twice).
    fn post(&self, content_type: &str, body: &[u8]) -> Option<Vec<u8>> {
        let stats = &self.shared.stats;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                stats
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50 << attempt));
            }
            stats
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match self
                .agent
                .post(&self.url)
                .header("Content-Type", content_type)
                .send(body)
            {
                Ok(mut resp) if resp.status().as_u16() == 200 => {
                    let mut reply = Vec::new();
                    if resp.body_mut().as_reader().read_to_end(&mut reply).is_ok() {
                        stats.wire_bytes.fetch_add(
                            (body.len() + reply.len()) as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        return Some(reply);
                    }
                    last = "answer cut short".into();
                }
                Ok(resp) => last = format!("HTTP {}", resp.status()),
                Err(e) => last = e.to_string(),
            }
        }
        stats.error(format!("POST gave up after {ATTEMPTS} attempts: {last}"));
        None
    }

    /// Feeds `input` to user `u` and carries every request it leads to; returns the
    /// answers to application requests.
    fn input(&mut self, u: u32, input: ClientInput) -> Vec<Primitive> {
        let slot = self.slot(u);
        let now = self.now_ms();
        let mut answers = Vec::new();
        let Some(user) = self.users.get_mut(slot) else {
            return answers;
        };
        user.client.handle(now, input);
        while let Some(out) = self
            .users
            .get_mut(slot)
            .and_then(|x| x.client.poll_output())
        {
            match out {
                ClientOutput::Send(req) => {
                    let input = match self.post(req.content_type, &req.body) {
                        Some(body) => ClientInput::Response {
                            request_id: req.request_id,
                            body,
                        },
                        None => ClientInput::TransportError {
                            request_id: req.request_id,
                        },
                    };
                    let now = self.now_ms();
                    if let Some(user) = self.users.get_mut(slot) {
                        user.client.handle(now, input);
                    }
                }
                ClientOutput::Event(e) => self.event(u, e, &mut answers),
            }
        }
        answers
    }

    fn event(&mut self, u: u32, e: ClientEvent, answers: &mut Vec<Primitive>) {
        let stats = &self.shared.stats;
        let name = user_name(u);
        match e {
            ClientEvent::Message { content, .. } => match message_seq(&content) {
                Some(seq) => stats.received(seq, u),
                None => stats.error(format!("{name}: a message not from the bench: {content}")),
            },
            ClientEvent::Presence { changed, .. } => {
                let pseq = changed
                    .status_text
                    .as_ref()
                    .and_then(|t| t.presence_value.as_deref())
                    .and_then(|v| v.strip_prefix('p'))
                    .and_then(|v| v.parse().ok());
                if let Some(p) = pseq {
                    stats.presence_note(p, u);
                }
            }
            ClientEvent::ServerRequest(Primitive::NewMessage(m)) => {
                // Every push as it came off the wire, before the client drops redeliveries
                // by MessageID: the server's own duplicates show here.
                if let Some(seq) = m.content_data.as_deref().and_then(message_seq) {
                    stats.pushed(seq, u);
                }
            }
            ClientEvent::ServerRequest(Primitive::GroupChangeNotice(_)) => {
                stats
                    .notices
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            ClientEvent::Error { message } => stats.error(format!("{name}: {message}")),
            ClientEvent::LoginFailed { code, description } => {
                stats.error(format!("{name}: login failed {code} {description}"))
            }
            ClientEvent::Disconnected { code } if code != 200 => {
                stats.error(format!("{name}: disconnected with {code}"))
            }
            ClientEvent::Response { primitive, .. } => {
                if let Some(code) = primitive.result_code().filter(|c| *c >= 400) {
                    stats.error(format!("{name}: {} answered {code}", primitive.name()));
                }
                answers.push(primitive);
            }
            _ => {}
        }
    }

    fn request(&mut self, u: u32, p: Primitive) -> Vec<Primitive> {
        self.input(u, ClientInput::Command(Command::Request(p)))
    }

    fn act(&mut self, u: u32, action: Action) {
        let shared = Arc::clone(&self.shared);
        let stats = &shared.stats;
        match action {
            Action::Setup { contacts, creates } => {
                self.input(u, ClientInput::Command(Command::Login));
                let ids: Vec<String> = contacts.iter().map(|c| user_name(*c)).collect();
                self.request(
                    u,
                    Primitive::CreateListRequest(Box::new(CreateListRequest {
                        contact_list: Some(friends_list(u)),
                        nick_list: Some(NickList {
                            user_id: ids,
                            ..Default::default()
                        }),
                        ..Default::default()
                    })),
                );
                let list = friends_list(u);
                self.request(
                    u,
                    pb::create_attribute_list(VERSION, watched(), &[], &[&list], false, None),
                );
                for g in creates {
                    self.request(u, group::create(&g, &[("Name", "bench")], None, false));
                }
                self.input(u, ClientInput::Command(Command::Logout));
            }
            Action::Login { groups } => {
                let started = stats.now_us();
                self.input(u, ClientInput::Command(Command::Login));
                let ready = self
                    .users
                    .get(self.slot(u))
                    .is_some_and(|x| x.client.is_ready());
                if !ready {
                    return;
                }
                self.request(u, Primitive::GetListRequest(Box::default()));
                let list = friends_list(u);
                self.request(
                    u,
                    pb::subscribe(VERSION, &[], &[&list], Some(watched()), None),
                );
                self.publish(u, 0);
                for g in groups {
                    self.request(u, group::join(&g, None, false, false));
                }
                let took = stats.now_us().saturating_sub(started);
                stats.login(took);
                self.connect_stcp(u);
            }
            Action::Presence { watchers } => self.publish(u, watchers),
            Action::Direct { to, kind } => {
                let seq = stats.seq();
                let at = stats.now_us();
                let text = message_text(seq, at, self.shared.message_bytes);
                stats.sent(seq, kind, at, 1);
                let to = user_name(to);
                let answers =
                    self.request(u, im::send_text(VERSION, &[&to], &[], &[], &text, false));
                self.check_sent(seq, &answers);
            }
            Action::Group {
                group,
                kind,
                expected,
            } => {
                let seq = stats.seq();
                let at = stats.now_us();
                let text = message_text(seq, at, self.shared.message_bytes);
                stats.sent(seq, kind, at, expected);
                let answers =
                    self.request(u, im::send_text(VERSION, &[], &[], &[&group], &text, false));
                self.check_sent(seq, &answers);
            }
            Action::Join { group } => {
                self.request(u, group::join(&group, None, false, true));
            }
            Action::Leave { group } => {
                self.request(u, group::leave(&group));
            }
            Action::Poll => {
                self.input(u, ClientInput::Command(Command::Poll));
            }
            Action::Logout => {
                let slot = self.slot(u);
                if let Some(h) = self.users.get_mut(slot).and_then(|x| x.stcp.take()) {
                    h.abort();
                }
                self.input(u, ClientInput::Command(Command::Logout));
            }
        }
    }

    /// Forgets a message the server did not accept (the refusal is already an error).
    fn check_sent(&self, seq: u64, answers: &[Primitive]) {
        let ok = answers.iter().any(|p| {
            matches!(p, Primitive::SendMessageResponse(r)
                if r.result.as_ref().is_some_and(|r| r.code() == 200))
        });
        if !ok {
            self.shared.stats.unsent(seq);
        }
    }

    /// UpdatePresence with a StatusText naming the publication.
    fn publish(&mut self, u: u32, watchers: u32) {
        let shared = Arc::clone(&self.shared);
        let stats = &shared.stats;
        let pseq = stats.seq();
        let at = stats.now_us();
        stats.published(pseq, at, watchers);
        let list = PresenceSubList {
            user_availability: Some(UserAvailability::with_value("AVAILABLE")),
            status_text: Some(StatusText::with_value(format!("p{pseq}"))),
            ..Default::default()
        };
        self.request(u, pb::update_presence(VERSION, list));
    }

    /// Opens user `u`'s STCP connection: `HELO <SessionID>`, then every `WVCI` line is a
    /// wake-up for this worker.
    fn connect_stcp(&mut self, u: u32) {
        let slot = self.slot(u);
        let Some(user) = self.users.get_mut(slot) else {
            return;
        };
        let Some(sid) = user.client.session_id().map(str::to_owned) else {
            return;
        };
        let addr = self.shared.stcp.clone();
        let me = self.me.clone();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.rt.spawn(async move {
            let name = user_name(u);
            let Ok(stream) = tokio::net::TcpStream::connect(&addr).await else {
                shared.stats.error(format!("{name}: STCP connect failed"));
                return;
            };
            let (read, mut write) = stream.into_split();
            if write
                .write_all(format!("HELO {sid}\r\n").as_bytes())
                .await
                .is_err()
            {
                shared.stats.error(format!("{name}: STCP HELO failed"));
                return;
            }
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("WVCI ") && me.send(Job::Wake(u)).is_err() {
                    return;
                }
            }
        });
        if let Some(old) = user.stcp.replace(task) {
            old.abort();
        }
    }
}
