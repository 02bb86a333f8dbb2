//! Instant messaging against a reference model: random operation sequences among three or
//! four users run through the simulation — real `Server`, real `Client`s, over the CSP wire,
//! on virtual time — while a small model follows the rules of `server/im.rs` and
//! `client/im.rs`: every accepted message is, for each recipient that accepted it, delivered
//! to the recipient's application once, rejected, or expired; never lost, never duplicated;
//! every delivery report asked for arrives with the right code.
//!
//! # What "the application" is
//! An *application* is one [`Client`](imps_engine::client::Client) value: an installation of
//! the app on one device, with its memory of message ids seen. Each user has two *slots*
//! (devices); a slot's client logs out and in again, and logs in again after a server restart
//! (the same value, memory kept), or is replaced by a new value (a reinstall, another device;
//! a replaced client that still had a session is *abandoned*: it stays silent forever, its
//! session lingering on the server until it times out). Two slots of one user may be logged in
//! at once (several sessions).
//!
//! # Invariants
//! 1. **Once per application**: a client raises [`ClientEvent::Message`] for a MessageID at
//!    most once, and [`ClientEvent::DeliveryReport`] for a (MessageID, recipient) at most
//!    once — also across its logins, logouts and server restarts, and when a delivery comes
//!    again because its acknowledgement was lost. Content and sender are the ones sent.
//! 2. **Nothing after it is settled**: a message item (one per accepted recipient) is
//!    *settled* when a session of the recipient acknowledges it (the Status/MessageDelivered
//!    answering a NewMessage, a MessageDelivered request after GetMessage), when the recipient
//!    rejects it, or when its Validity passes. Before that, any application of the recipient
//!    may see it (each once: a new device, or one that fetched it and lost its
//!    acknowledgement to a restart). Once settled, no session of the recipient is offered it
//!    again (no NewMessage, MessageNotification, GetMessage answer or GetMessageList entry)
//!    and no application of the recipient sees it for the first time. The same holds for a
//!    delivery report in the sender's mailbox, settled by its acknowledgement.
//! 3. **The mailbox is the model's**: GetMessageList lists exactly the messages the model
//!    has waiting for the user; GetMessage, MessageDelivered and RejectMessage answer 200
//!    for a waiting message and 426 for a settled one.
//! 4. **Prompt**: a logged-in client that is not frozen and takes pushes (or fetches by
//!    itself) has been offered, in its current session, everything waiting for its user —
//!    a wake-up (or the Poll flag of its login) reached it — and likewise every report
//!    waiting for its user.
//! 5. **Reports**: a report arrives only for a recipient whose item is settled, with the code
//!    of its fate (200 delivered, 538 rejected, 542 expired), and is settled once. A
//!    Validity that passed while a restarted server knew no time yet still means 542: the
//!    message is not delivered at the first login.
//! 6. **Nothing lost** (final phase): every client resumes, every user logs in, time passes
//!    the redelivery delay, everyone polls (again, while the server holds something for them:
//!    a poll delivers again one transaction whose acknowledgement was lost, with Poll=F),
//!    notify-mode clients fetch and confirm everything listed, time passes every Validity.
//!    Then every item is settled, every delivered one was raised to at least one application
//!    of its recipient, every report asked for was settled and raised to at least one
//!    application of the sender, and every mailbox is empty.
//!
//! The model learns that a delivery was acknowledged from the generic
//! [`ClientEvent::ServerRequest`] (raised for every delivery, also repeated ones) of a client
//! whose requests get through, and from the answers to its own MessageDelivered and
//! RejectMessage requests; it applies the Validity of what still waits after the deliveries
//! of an advance of time (so a delivery during the advance counts as before the expiry).
//!
//! Operations: send (to one or several users, sometimes also to an unknown one; with or
//! without delivery report; some with a short Validity; sometimes the recipients' clients
//! lose their acknowledgements), login (CSP 1.1/1.2/1.3; push, notify with `auto_fetch`, or
//! notify with explicit GetMessage + MessageDelivered; the same client value again or a new
//! one), logout, poll, a poll whose acknowledgements (and automatic fetches) are lost, freeze
//! a client (it hears no wake-up and runs no timer) and let it resume, fetch / confirm /
//! reject (notify clients without `auto_fetch`), advance virtual time (expiry, keep-alive
//! and session timeouts, timed polls), restart the server from its store (the clients that
//! are not frozen find their session gone and log in again). Steps name their client by an
//! index among those that can take them, so few are wasted; each case enables a random
//! subset of the kinds (swarm testing). Failures shrink and print the steps run;
//! `PROPTEST_CASES=n` runs more cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::needless_range_loop
)]

mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use imps_engine::client::im as cim;
use imps_engine::client::{
    ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::capability::DeliveryMethod;
use imps_engine::codec::common::ContentEncoding;
use imps_engine::codec::{self, Primitive, Version};
use imps_engine::server::{Input, Output, Request};
use imps_engine::store::Store;
use proptest::prelude::*;
use sim::{Sim, test_config};

const N: usize = 4;
const SLOTS: usize = 2;
const USERS: [&str; N] = ["alice", "bob", "carol", "dave"];
const VERSIONS: [Version; 3] = [Version::V1_1, Version::V1_2, Version::V1_3];
const GHOST: &str = "wv:ghost@example.org";
/// The longest Validity a test message asks for, seconds.
const MAX_VALIDITY: u32 = 90;
/// `session.redelivery_secs` of the default configuration, in ms.
const REDELIVERY_MS: u64 = 5_000;

fn uid(u: usize) -> String {
    format!("wv:{}@example.org", USERS[u])
}

fn user_of(id: &str) -> Option<usize> {
    (0..N).find(|u| uid(*u).eq_ignore_ascii_case(id.trim()))
}

/// How a client takes its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// NewMessage, acknowledged by the client.
    Push,
    /// MessageNotification; the client fetches and confirms by itself (`auto_fetch`).
    Auto,
    /// MessageNotification; the test fetches (GetMessage) and confirms (MessageDelivered).
    Manual,
}

const MODES: [Mode; 3] = [Mode::Push, Mode::Auto, Mode::Manual];

// ---- operations ---------------------------------------------------------------------

/// One step. Users, slots, versions and modes are indices; `who` and `pick` choose among the
/// candidates found at run time (the clients that can take the step, the messages it can
/// name), so few steps are wasted. A step without a candidate is skipped.
#[derive(Debug, Clone)]
enum Op {
    /// Logs the slot's client in: the same client value again, or a new one when `fresh`
    /// or none exists (`version` and `mode` apply to a new one). A `fresh` login over a
    /// client still logged in abandons that client.
    Login {
        user: usize,
        slot: usize,
        version: usize,
        mode: usize,
        fresh: bool,
    },
    /// A logged-in client (not frozen) logs out.
    Logout {
        who: usize,
    },
    /// A logged-in client (not frozen) sends a message to the users in the bit mask `to`
    /// (and to an unknown user if `ghost`). With `lossy`, the recipients' other clients that
    /// are logged in and not frozen hear the wake-up and poll, but lose the acknowledgements
    /// (as in `LossyPoll`).
    Send {
        who: usize,
        to: u8,
        ghost: bool,
        report: bool,
        validity: Option<u32>,
        lossy: bool,
    },
    /// A logged-in client (not frozen) polls.
    Poll {
        who: usize,
    },
    /// A logged-in client (frozen or not; it resumes) polls, and the answer arrives, but
    /// every request it sends besides polls — acknowledgements, automatic fetches and
    /// confirmations — is lost.
    LossyPoll {
        who: usize,
    },
    /// A logged-in client hears no wake-up and runs no timer from now on.
    Freeze {
        who: usize,
    },
    /// A frozen client wakes up and polls (and so acknowledges what it gets).
    Resume {
        who: usize,
    },
    /// GetMessage of a listed message, by a notify client without `auto_fetch`.
    Fetch {
        who: usize,
        pick: usize,
    },
    /// MessageDelivered for a message such a client fetched.
    Confirm {
        who: usize,
        pick: usize,
    },
    /// RejectMessage of a fetched message (`fetched`) or a listed one, by such a client.
    Reject {
        who: usize,
        pick: usize,
        fetched: bool,
    },
    Advance(u64),
    Restart,
}

/// Swarm testing: each case enables a random subset of the operation kinds and involves
/// only the first `users` users.
#[derive(Debug, Clone, Copy)]
struct Swarm {
    kinds: u32,
    users: usize,
}

const KINDS: [&str; 12] = [
    "Login",
    "Logout",
    "Send",
    "Poll",
    "LossyPoll",
    "Freeze",
    "Resume",
    "Fetch",
    "Confirm",
    "Reject",
    "Advance",
    "Restart",
];

fn swarm() -> impl Strategy<Value = Swarm> {
    let always = 1 << 0 | 1 << 2;
    (any::<u32>(), 3..=N).prop_map(move |(kinds, users)| Swarm {
        kinds: kinds & ((1 << KINDS.len()) - 1) | always,
        users,
    })
}

fn op(sw: Swarm) -> impl Strategy<Value = Op> {
    let user = move || 0..sw.users;
    let slot = || prop_oneof![3 => Just(0usize), 1 => Just(1usize)];
    let who = || 0usize..8;
    let all: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (
            4,
            (
                user(),
                slot(),
                0..VERSIONS.len(),
                0..MODES.len(),
                prop::bool::weighted(0.2),
            )
                .prop_map(|(user, slot, version, mode, fresh)| Op::Login {
                    user,
                    slot,
                    version,
                    mode,
                    fresh,
                })
                .boxed(),
        ),
        (1, who().prop_map(|who| Op::Logout { who }).boxed()),
        (
            8,
            (
                who(),
                1u8..(1 << sw.users),
                prop::bool::weighted(0.15),
                any::<bool>(),
                prop::option::weighted(0.35, 5u32..=MAX_VALIDITY),
                prop::bool::weighted(0.2),
            )
                .prop_map(|(who, to, ghost, report, validity, lossy)| Op::Send {
                    who,
                    to,
                    ghost,
                    report,
                    validity,
                    lossy,
                })
                .boxed(),
        ),
        (2, who().prop_map(|who| Op::Poll { who }).boxed()),
        (3, who().prop_map(|who| Op::LossyPoll { who }).boxed()),
        (3, who().prop_map(|who| Op::Freeze { who }).boxed()),
        (2, who().prop_map(|who| Op::Resume { who }).boxed()),
        (
            3,
            (who(), any::<usize>())
                .prop_map(|(who, pick)| Op::Fetch { who, pick })
                .boxed(),
        ),
        (
            3,
            (who(), any::<usize>())
                .prop_map(|(who, pick)| Op::Confirm { who, pick })
                .boxed(),
        ),
        (
            2,
            (who(), any::<usize>(), any::<bool>())
                .prop_map(|(who, pick, fetched)| Op::Reject { who, pick, fetched })
                .boxed(),
        ),
        (
            4,
            prop_oneof![
                2 => 100u64..REDELIVERY_MS,
                2 => REDELIVERY_MS..40_000,
                1 => 40_000u64..120_000,
            ]
            .prop_map(Op::Advance)
            .boxed(),
        ),
        (1, Just(Op::Restart).boxed()),
    ];
    let enabled = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| sw.kinds >> i & 1 == 1)
        .map(|(_, arm)| arm)
        .collect();
    proptest::strategy::Union::new_weighted(enabled)
}

// ---- the reference model ----------------------------------------------------------

/// The fate of one recipient's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Waiting,
    Delivered,
    Rejected,
    Expired,
}

impl Fate {
    /// The delivery report's code.
    fn code(self) -> u32 {
        match self {
            Fate::Waiting => 0,
            Fate::Delivered => 200,
            Fate::Rejected => 538,
            Fate::Expired => 542,
        }
    }
}

/// An accepted message.
#[derive(Debug)]
struct Sent {
    from: usize,
    text: String,
    report: bool,
    /// Wall-clock expiry (Unix ms) when a Validity was given.
    expires: Option<i64>,
    /// Per accepting recipient.
    fate: BTreeMap<usize, Fate>,
}

/// One client value (an application).
#[derive(Debug)]
struct App {
    user: usize,
    version: Version,
    mode: Mode,
    /// Messages raised to the application.
    messages: BTreeSet<String>,
    /// Reports raised to the application: (MessageID, recipient).
    reports: BTreeSet<(String, usize)>,
    /// Messages fetched (Manual) and not yet confirmed.
    fetched: Vec<String>,
    /// Offered to it in a lossy poll: its acknowledgement was lost (messages, then reports).
    unacked: BTreeSet<String>,
    unacked_reports: BTreeSet<(String, usize)>,
}

/// (MessageID, user): one item, in a recipient's mailbox or (for reports) the sender's.
type Key = (String, usize);

#[derive(Default)]
struct Model {
    /// Accepted messages by MessageID.
    msgs: BTreeMap<String, Sent>,
    /// Reports produced: (MessageID, recipient) → settled (acknowledged by the sender).
    reports: BTreeMap<Key, bool>,
}

impl Model {
    fn fate(&self, id: &str, u: usize) -> Option<Fate> {
        self.msgs.get(id)?.fate.get(&u).copied()
    }

    /// Settles `u`'s item of `id`; the report follows if asked for.
    fn settle(&mut self, id: &str, u: usize, fate: Fate) -> Result<(), String> {
        let sent = self.msgs.get_mut(id).ok_or("unknown message")?;
        let f = sent.fate.get_mut(&u).ok_or("not a recipient")?;
        if *f != Fate::Waiting {
            return Err(format!(
                "{id} for {} settled twice: {f:?}, then {fate:?}",
                USERS[u]
            ));
        }
        *f = fate;
        if sent.report {
            self.reports.insert((id.to_owned(), u), false);
        }
        Ok(())
    }

    fn settled(&self) -> BTreeSet<Key> {
        self.msgs
            .iter()
            .flat_map(|(id, s)| {
                s.fate
                    .iter()
                    .filter(|(_, f)| **f != Fate::Waiting)
                    .map(|(u, _)| (id.clone(), *u))
            })
            .collect()
    }

    fn waiting_for(&self, u: usize) -> BTreeSet<String> {
        self.msgs
            .iter()
            .filter(|(_, s)| s.fate.get(&u) == Some(&Fate::Waiting))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

// ---- the harness ------------------------------------------------------------------

struct Run {
    sim: Sim,
    m: Model,
    /// Client index → application.
    apps: Vec<App>,
    slots: [[Option<usize>; SLOTS]; N],
    log: String,
    sends: u64,
    raw_conns: u64,
    /// Which client the step chose, for the log.
    note: String,
}

fn client_config(u: usize, v: Version, mode: Mode) -> ClientConfig {
    let mut c = ClientConfig::new(v, USERS[u], "pw", LoginScheme::Password);
    if mode != Mode::Push {
        c.capabilities.initial_delivery_method = Some(DeliveryMethod::Notify);
        c.auto_fetch = mode == Mode::Auto;
    }
    c
}

fn message_id_of(info: Option<&imps_engine::codec::im::MessageInfo>) -> String {
    info.and_then(|i| i.message_id.clone()).unwrap_or_default()
}

impl Run {
    fn new(initial: &[Option<(usize, usize)>; N]) -> Result<Run, String> {
        let mut config = test_config();
        // Messages without Validity outlive the test; reports never expire in it.
        config.im.max_retention_secs = 24 * 3600;
        let mut sim = Sim::new(config, 11);
        for u in USERS {
            sim.provision(u, "pw");
        }
        let mut run = Run {
            sim,
            m: Model::default(),
            apps: Vec::new(),
            slots: [[None; SLOTS]; N],
            log: String::new(),
            sends: 0,
            raw_conns: 0,
            note: String::new(),
        };
        for (u, x) in initial.iter().enumerate() {
            if let Some((v, mode)) = x {
                run.new_client(u, 0, VERSIONS[*v], MODES[*mode])?;
            }
        }
        let before = run.snapshot();
        run.process(&before, &BTreeSet::new(), false)?;
        Ok(run)
    }

    /// A new client value in `slot`, logged in. The one it replaces, if still logged in, is
    /// abandoned: frozen for good, out of every slot.
    fn new_client(&mut self, u: usize, slot: usize, v: Version, mode: Mode) -> Result<(), String> {
        if let Some(old) = self.slots[u][slot].take()
            && self.sim.clients[old].session_id().is_some()
        {
            self.sim.frozen[old] = true;
        }
        let c = self.sim.add_client(client_config(u, v, mode));
        self.apps.push(App {
            user: u,
            version: v,
            mode,
            messages: BTreeSet::new(),
            reports: BTreeSet::new(),
            fetched: Vec::new(),
            unacked: BTreeSet::new(),
            unacked_reports: BTreeSet::new(),
        });
        self.slots[u][slot] = Some(c);
        self.login(c)
    }

    /// Logs client `c` in. What the login queued arrives by the client's own means (Poll=T
    /// in the answer that made the session ready).
    fn login(&mut self, c: usize) -> Result<(), String> {
        self.sim.frozen[c] = false;
        // A new session is offered everything waiting anew.
        self.apps[c].unacked.clear();
        self.apps[c].unacked_reports.clear();
        self.sim.command(c, Command::Login);
        if !self.sim.clients[c].is_ready() {
            return Err(format!(
                "{} could not log in: {:?}",
                USERS[self.apps[c].user],
                self.sim.events[c].last()
            ));
        }
        Ok(())
    }

    fn live(&self, c: usize) -> bool {
        self.sim.clients[c].session_id().is_some()
    }

    /// The slot's client if it is logged in and not frozen.
    fn active(&self, u: usize, slot: usize) -> Option<usize> {
        self.slots[u][slot].filter(|c| self.live(*c) && !self.sim.frozen[*c])
    }

    /// Sends `p` through client `c` and returns the answer; events stay for `process`.
    fn request(&mut self, c: usize, p: Primitive) -> Result<Primitive, String> {
        let before = self.sim.events[c].len();
        self.sim.command(c, Command::Request(p));
        self.sim.events[c][before..]
            .iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive.clone()),
                _ => None,
            })
            .ok_or_else(|| "no answer".to_owned())
    }

    /// GetMessageList through `c`; checks it lists exactly what the model has waiting.
    fn list(&mut self, c: usize) -> Result<Vec<String>, String> {
        let u = self.apps[c].user;
        let answer = self.request(c, cim::get_message_list(None, None))?;
        let Primitive::GetMessageListResponse(r) = answer else {
            return Err(format!("GetMessageList answered {answer:?}"));
        };
        let ids: Vec<String> = r
            .message_info
            .iter()
            .chain(
                r.message_info_list
                    .iter()
                    .flat_map(|l| l.message_info.iter()),
            )
            .map(|i| message_id_of(Some(i)))
            .collect();
        let listed: BTreeSet<String> = ids.iter().cloned().collect();
        let want = self.m.waiting_for(u);
        if listed != want || listed.len() != ids.len() {
            return Err(format!(
                "GetMessageList of {} lists {ids:?}, the model has {want:?} waiting",
                USERS[u]
            ));
        }
        Ok(ids)
    }

    /// One request straight to the server; storage applied, wake-ups passed on as the
    /// simulation does. Returns the reply body.
    fn exchange(&mut self, content_type: &str, body: Vec<u8>) -> Vec<u8> {
        self.raw_conns += 1;
        let conn = (1 << 40) + self.raw_conns;
        let sim = &mut self.sim;
        sim.server.handle(
            sim.now,
            Input::Request(Request {
                conn,
                content_type: content_type.to_owned(),
                body,
                wall_clock_ms: sim.wall_clock_ms,
                peer: None,
            }),
        );
        let mut reply = Vec::new();
        while let Some(o) = sim.server.poll_output() {
            match o {
                Output::Storage(b) => sim.store.apply(&b).unwrap(),
                Output::Reply(r) if r.conn == conn => reply = r.body,
                Output::WakeUp(w) => {
                    for (i, cl) in sim.clients.iter_mut().enumerate() {
                        if cl.session_id() == Some(w.session_id.as_str()) && !sim.frozen[i] {
                            cl.handle(sim.now, ClientInput::WakeUp);
                        }
                    }
                }
                Output::Event(e) => sim.server_events.push(e),
                _ => {}
            }
        }
        reply
    }

    /// Client `c` polls; every request it sends besides polls (acknowledgements, automatic
    /// fetches and confirmations) is lost on the way.
    fn lossy_poll(&mut self, c: usize) {
        let now = self.sim.now;
        self.sim.clients[c].handle(now, ClientInput::Command(Command::Poll));
        while let Some(o) = self.sim.clients[c].poll_output() {
            match o {
                ClientOutput::Event(e) => self.sim.events[c].push(e),
                ClientOutput::Send(out) => {
                    let is_poll = codec::decode(&out.body, Default::default())
                        .ok()
                        .is_some_and(|m| {
                            matches!(m.primitive(), Some(Primitive::PollingRequest(_)))
                        });
                    let input = if is_poll {
                        let body = self.exchange(out.content_type, out.body);
                        ClientInput::Response {
                            request_id: out.request_id,
                            body,
                        }
                    } else {
                        ClientInput::TransportError {
                            request_id: out.request_id,
                        }
                    };
                    self.sim.clients[c].handle(now, input);
                }
            }
        }
        // Wake-ups that went to others.
        self.sim.run();
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            settled: self.m.settled(),
            acked: self
                .m
                .reports
                .iter()
                .filter(|(_, a)| **a)
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    /// Drains every client's events and checks them against the model (invariants 1, 2, 5);
    /// `lossy` are the clients whose acknowledgements were lost in this step; `expire` applies
    /// the Validity of waiting items after the deliveries of the step (an advance of time).
    fn process(
        &mut self,
        before: &Snapshot,
        lossy: &BTreeSet<usize>,
        expire: bool,
    ) -> Result<(), String> {
        let mut all = Vec::new();
        for c in 0..self.sim.clients.len() {
            all.push(std::mem::take(&mut self.sim.events[c]));
        }
        // Pass 1: messages.
        let mut acked_now: BTreeSet<Key> = BTreeSet::new();
        for (c, events) in all.iter().enumerate() {
            let u = self.apps[c].user;
            let acking = !lossy.contains(&c);
            for e in events {
                match e {
                    ClientEvent::ServerRequest(Primitive::NewMessage(m)) => {
                        let id = message_id_of(m.message_info.as_ref());
                        self.offered(c, &id, before, "NewMessage")?;
                        if self.apps[c].mode != Mode::Push {
                            return Err(format!(
                                "a notify-mode client of {} got a NewMessage",
                                USERS[u]
                            ));
                        }
                        self.acknowledge(c, &id, acking, &mut acked_now)?;
                    }
                    ClientEvent::ServerRequest(Primitive::MessageNotification(n)) => {
                        let id = message_id_of(n.message_info.as_ref());
                        self.offered(c, &id, before, "MessageNotification")?;
                        match self.apps[c].mode {
                            Mode::Push => {
                                return Err(format!(
                                    "a push-mode client of {} got a MessageNotification",
                                    USERS[u]
                                ));
                            }
                            Mode::Auto => self.acknowledge(c, &id, acking, &mut acked_now)?,
                            Mode::Manual => {}
                        }
                    }
                    ClientEvent::Message {
                        message_id,
                        sender,
                        content,
                        ..
                    } => {
                        let key = (message_id.clone(), u);
                        let sent = self.m.msgs.get(message_id).ok_or_else(|| {
                            format!("{} sees unknown message {message_id}", USERS[u])
                        })?;
                        if self.m.fate(message_id, u).is_none() {
                            return Err(format!(
                                "{} sees {message_id}, not addressed to it",
                                USERS[u]
                            ));
                        }
                        if *content != sent.text || sender.as_deref() != Some(&uid(sent.from)) {
                            return Err(format!(
                                "{message_id} reaches {} as {content:?} from {sender:?}, \
                                 sent {:?} by {}",
                                USERS[u], sent.text, USERS[sent.from]
                            ));
                        }
                        if before.settled.contains(&key) {
                            return Err(format!(
                                "client {c} of {} sees {message_id} after it was settled \
                                 ({:?})",
                                USERS[u],
                                self.m.fate(message_id, u)
                            ));
                        }
                        if !self.apps[c].messages.insert(message_id.clone()) {
                            return Err(format!(
                                "client {c} of {} sees {message_id} twice",
                                USERS[u]
                            ));
                        }
                    }
                    ClientEvent::Error { message }
                        if lossy.contains(&c) && message.starts_with("transport failure") => {}
                    ClientEvent::Error { message } => {
                        return Err(format!("client {c} of {} reports: {message}", USERS[u]));
                    }
                    _ => {}
                }
            }
        }
        // The Validity of what is still waiting.
        if expire {
            let now = self.sim.wall_clock_ms;
            let due: Vec<Key> = self
                .m
                .msgs
                .iter()
                .filter(|(_, s)| s.expires.is_some_and(|e| e <= now))
                .flat_map(|(id, s)| {
                    s.fate
                        .iter()
                        .filter(|(_, f)| **f == Fate::Waiting)
                        .map(|(u, _)| (id.clone(), *u))
                })
                .collect();
            for (id, u) in due {
                self.m.settle(&id, u, Fate::Expired)?;
            }
        }
        // Pass 2: reports.
        let mut reports_now: BTreeSet<Key> = BTreeSet::new();
        for (c, events) in all.iter().enumerate() {
            let s = self.apps[c].user;
            for e in events {
                match e {
                    ClientEvent::ServerRequest(Primitive::DeliveryReportRequest(r)) => {
                        let info = r.message_info.as_ref();
                        let id = message_id_of(info);
                        let to = info
                            .and_then(|i| i.recipient.as_ref())
                            .and_then(|r| r.user.first())
                            .and_then(|u| u.user_id.as_deref())
                            .and_then(user_of)
                            .ok_or_else(|| format!("report without a recipient: {r:?}"))?;
                        let code = r.result.as_ref().map_or(0, |x| x.code());
                        let key = (id.clone(), to);
                        let sent = self
                            .m
                            .msgs
                            .get(&id)
                            .ok_or_else(|| format!("report on unknown message {id}"))?;
                        if sent.from != s || !sent.report {
                            return Err(format!(
                                "{} gets a report on {id} (from {}, report asked: {})",
                                USERS[s], USERS[sent.from], sent.report
                            ));
                        }
                        let fate = self.m.fate(&id, to).unwrap_or(Fate::Waiting);
                        if !self.m.reports.contains_key(&key) || fate.code() != code {
                            return Err(format!(
                                "report {code} on {id} for {}, the model has {fate:?}",
                                USERS[to]
                            ));
                        }
                        if before.acked.contains(&key) {
                            return Err(format!(
                                "report on {id} for {} offered again after its \
                                 acknowledgement",
                                USERS[to]
                            ));
                        }
                        if !lossy.contains(&c) {
                            if !reports_now.insert(key.clone()) {
                                return Err(format!(
                                    "report on {id} for {} acknowledged twice",
                                    USERS[to]
                                ));
                            }
                            self.m.reports.insert(key, true);
                        } else {
                            self.apps[c].unacked_reports.insert(key);
                        }
                    }
                    ClientEvent::DeliveryReport {
                        message_id, info, ..
                    } => {
                        let to = info
                            .recipient
                            .as_ref()
                            .and_then(|r| r.user.first())
                            .and_then(|u| u.user_id.as_deref())
                            .and_then(user_of)
                            .ok_or("report event without a recipient")?;
                        let key = (message_id.clone().unwrap_or_default(), to);
                        if !self.apps[c].reports.insert(key.clone()) {
                            return Err(format!(
                                "client {c} of {} hears the report on {} for {} twice",
                                USERS[s], key.0, USERS[to]
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Checks that `id` may be offered to client `c` (invariant 2).
    fn offered(&self, c: usize, id: &str, before: &Snapshot, what: &str) -> Result<(), String> {
        let u = self.apps[c].user;
        if self.m.fate(id, u).is_none() {
            return Err(format!("{what} {id} to {}, not a recipient", USERS[u]));
        }
        if before.settled.contains(&(id.to_owned(), u)) {
            return Err(format!(
                "{what} {id} offered to client {c} of {} after it was settled ({:?})",
                USERS[u],
                self.m.fate(id, u)
            ));
        }
        Ok(())
    }

    /// Client `c` was offered `id` and acknowledged it (`acking`) or lost the
    /// acknowledgement.
    fn acknowledge(
        &mut self,
        c: usize,
        id: &str,
        acking: bool,
        acked_now: &mut BTreeSet<Key>,
    ) -> Result<(), String> {
        let u = self.apps[c].user;
        if !acking {
            self.apps[c].unacked.insert(id.to_owned());
            return Ok(());
        }
        if !acked_now.insert((id.to_owned(), u)) {
            return Err(format!(
                "{id} offered and acknowledged twice for {} in one step",
                USERS[u]
            ));
        }
        self.m.settle(id, u, Fate::Delivered)
    }

    /// Invariant 4: what waits for an active push (or self-fetching) client was offered to it.
    fn prompt(&self) -> Result<(), String> {
        for u in 0..N {
            for slot in 0..SLOTS {
                let Some(c) = self.active(u, slot) else {
                    continue;
                };
                let app = &self.apps[c];
                if app.mode != Mode::Manual {
                    for id in self.m.waiting_for(u) {
                        if !app.unacked.contains(&id) {
                            return Err(format!(
                                "{id} waits for {}, whose client {c} ({:?}) was never offered it",
                                USERS[u], app.mode
                            ));
                        }
                    }
                }
                for (key, acked) in &self.m.reports {
                    let from = self.m.msgs[&key.0].from;
                    if from == u && !acked && !app.unacked_reports.contains(key) {
                        return Err(format!(
                            "the report on {} for {} waits for {}, whose client {c} was \
                             never offered it",
                            key.0, USERS[key.1], USERS[u]
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs one step; `Ok(false)` when it was skipped. Adds the clients whose
    /// acknowledgements were lost to `lossy`.
    fn apply(&mut self, op: &Op, lossy: &mut BTreeSet<usize>) -> Result<bool, String> {
        match *op {
            Op::Login {
                user,
                slot,
                version,
                mode,
                fresh,
            } => match self.slots[user][slot] {
                Some(c) if self.live(c) && !fresh => return Ok(false),
                Some(c) if !fresh => self.login(c)?,
                _ => self.new_client(user, slot, VERSIONS[version], MODES[mode])?,
            },
            Op::Logout { who } => {
                let Some(c) = self.choose(who, Run::is_active) else {
                    return Ok(false);
                };
                self.sim.command(c, Command::Logout);
                if self.live(c) {
                    return Err(format!("client {c} still has a session after logout"));
                }
            }
            Op::Send {
                who,
                to,
                ghost,
                report,
                validity,
                lossy: lose,
            } => {
                let Some(c) = self.choose(who, Run::is_active) else {
                    return Ok(false);
                };
                let from = self.apps[c].user;
                // The clients that lose their acknowledgements hear no wake-up now; they
                // poll below.
                let losing: Vec<usize> = if lose {
                    self.slots
                        .iter()
                        .enumerate()
                        .filter(|(u, _)| to >> u & 1 == 1)
                        .flat_map(|(_, s)| s.iter().flatten().copied())
                        .filter(|x| *x != c && self.is_active(*x))
                        .collect()
                } else {
                    Vec::new()
                };
                for x in &losing {
                    self.sim.frozen[*x] = true;
                }
                let real: Vec<usize> = (0..N).filter(|u| to >> u & 1 == 1).collect();
                let mut ids: Vec<String> = real.iter().map(|u| uid(*u)).collect();
                if ghost {
                    ids.push(GHOST.into());
                }
                let names: Vec<&str> = ids.iter().map(String::as_str).collect();
                self.sends += 1;
                let text = format!("m{} from {} <&> é", self.sends, USERS[from]);
                let version = self.apps[c].version;
                let p = cim::send_content(
                    version,
                    cim::recipients(&names, &[], &[]),
                    "text/plain",
                    ContentEncoding::None,
                    &text,
                    validity,
                    report,
                );
                let sent_at = self.sim.wall_clock_ms;
                let answer = self.request(c, p)?;
                let Primitive::SendMessageResponse(r) = &answer else {
                    return Err(format!("SendMessage answered {answer:?}"));
                };
                let code = answer.result_code().unwrap_or(0);
                let want = match (real.is_empty(), ghost) {
                    (true, _) => 531,
                    (false, true) => 201,
                    (false, false) => 200,
                };
                if code != want {
                    return Err(format!(
                        "SendMessage answered {code}, expected {want}: {r:?}"
                    ));
                }
                match (&r.message_id, real.is_empty()) {
                    (None, true) => {}
                    (Some(id), false) if !self.m.msgs.contains_key(id) => {
                        self.m.msgs.insert(
                            id.clone(),
                            Sent {
                                from,
                                text,
                                report,
                                expires: validity.map(|v| sent_at + i64::from(v) * 1000),
                                fate: real.iter().map(|u| (*u, Fate::Waiting)).collect(),
                            },
                        );
                    }
                    (id, _) => return Err(format!("SendMessage gave MessageID {id:?}")),
                }
                for x in losing {
                    lossy.insert(x);
                    self.sim.frozen[x] = false;
                    self.lossy_poll(x);
                }
            }
            Op::Poll { who } => {
                let Some(c) = self.choose(who, Run::is_active) else {
                    return Ok(false);
                };
                self.sim.command(c, Command::Poll);
            }
            Op::LossyPoll { who } => {
                // Among the clients the server has something for.
                let Some(c) = self.choose(who, |r, c| r.queued(c) > 0) else {
                    return Ok(false);
                };
                self.sim.frozen[c] = false;
                lossy.insert(c);
                self.lossy_poll(c);
            }
            Op::Freeze { who } => {
                let Some(c) = self.choose(who, Run::is_active) else {
                    return Ok(false);
                };
                self.sim.frozen[c] = true;
            }
            Op::Resume { who } => {
                let Some(c) = self.choose(who, |r, c| r.sim.frozen[c]) else {
                    return Ok(false);
                };
                self.sim.frozen[c] = false;
                self.sim.command(c, Command::Poll);
            }
            Op::Fetch { who, pick } => {
                let Some(c) = self.choose(who, |r, c| {
                    r.is_manual(c) && !r.m.waiting_for(r.apps[c].user).is_empty()
                }) else {
                    return Ok(false);
                };
                let ids = self.list(c)?;
                if ids.is_empty() {
                    return Ok(true);
                }
                let id = ids[pick % ids.len()].clone();
                let answer = self.request(c, cim::get_message(&id))?;
                let Primitive::GetMessageResponse(m) = &answer else {
                    return Err(format!("GetMessage of waiting {id} answered {answer:?}"));
                };
                if message_id_of(m.message_info.as_ref()) != id {
                    return Err(format!("GetMessage of {id} answered {m:?}"));
                }
                if !self.apps[c].fetched.contains(&id) {
                    self.apps[c].fetched.push(id);
                }
            }
            Op::Confirm { who, pick } => {
                let Some(c) =
                    self.choose(who, |r, c| r.is_manual(c) && !r.apps[c].fetched.is_empty())
                else {
                    return Ok(false);
                };
                let fetched = &mut self.apps[c].fetched;
                if fetched.is_empty() {
                    return Ok(false);
                }
                let id = fetched.remove(pick % fetched.len());
                self.confirm(c, &id)?;
            }
            Op::Reject { who, pick, fetched } => {
                let Some(c) = self.choose(who, Run::is_manual) else {
                    return Ok(false);
                };
                let id = if fetched && !self.apps[c].fetched.is_empty() {
                    let f = &mut self.apps[c].fetched;
                    f.remove(pick % f.len())
                } else {
                    let ids = self.list(c)?;
                    if ids.is_empty() {
                        return Ok(true);
                    }
                    ids[pick % ids.len()].clone()
                };
                let u = self.apps[c].user;
                let waiting = self.m.fate(&id, u) == Some(Fate::Waiting);
                let answer = self.request(c, cim::reject(&[&id]))?;
                let code = answer.result_code().unwrap_or(0);
                let want = if waiting { 200 } else { 426 };
                if code != want {
                    return Err(format!(
                        "RejectMessage of {id} ({:?}) answered {code}, expected {want}",
                        self.m.fate(&id, u)
                    ));
                }
                if waiting {
                    self.m.settle(&id, u, Fate::Rejected)?;
                }
            }
            Op::Advance(ms) => self.sim.advance(ms),
            Op::Restart => {
                self.sim.restart();
                for u in 0..N {
                    for slot in 0..SLOTS {
                        let Some(c) = self.active(u, slot) else {
                            continue;
                        };
                        // The client learns its session is gone and logs in again.
                        self.sim.command(c, Command::Poll);
                        if self.live(c) {
                            return Err(format!(
                                "client {c} of {} kept its session across a restart",
                                USERS[u]
                            ));
                        }
                        self.login(c)?;
                    }
                }
            }
        }
        Ok(true)
    }

    /// MessageDelivered for `id` through `c`: 200 if it waits, else 426.
    fn confirm(&mut self, c: usize, id: &str) -> Result<(), String> {
        let u = self.apps[c].user;
        let waiting = self.m.fate(id, u) == Some(Fate::Waiting);
        let answer = self.request(c, cim::message_delivered(id))?;
        let code = answer.result_code().unwrap_or(0);
        let want = if waiting { 200 } else { 426 };
        if code != want {
            return Err(format!(
                "MessageDelivered of {id} ({:?}) answered {code}, expected {want}",
                self.m.fate(id, u)
            ));
        }
        if waiting {
            self.m.settle(id, u, Fate::Delivered)?;
        }
        Ok(())
    }

    /// What the server has queued for client `c`'s session (to pick useful steps only).
    fn queued(&self, c: usize) -> usize {
        self.sim.clients[c]
            .session_id()
            .and_then(|sid| self.sim.server.session_info(sid))
            .map_or(0, |i| i.queued)
    }

    fn is_active(&self, c: usize) -> bool {
        self.live(c) && !self.sim.frozen[c]
    }

    fn is_manual(&self, c: usize) -> bool {
        self.is_active(c) && self.apps[c].mode == Mode::Manual
    }

    /// The `who`-th (modulo their number) of the slots' clients that pass `f`, noted in the
    /// log.
    fn choose(&mut self, who: usize, f: impl Fn(&Run, usize) -> bool) -> Option<usize> {
        let all: Vec<usize> = self
            .slots
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|c| f(self, *c))
            .collect();
        let c = *all.get(who % all.len().max(1))?;
        self.note = format!("  → client {c} of {}", USERS[self.apps[c].user]);
        Some(c)
    }

    /// One step and its checks.
    fn step(&mut self, op: &Op) -> Result<(), String> {
        let before = self.snapshot();
        let mut lossy = BTreeSet::new();
        let done = self.apply(op, &mut lossy)?;
        let note = std::mem::take(&mut self.note);
        let _ = writeln!(
            self.log,
            "{op:?}{}",
            if done { note.as_str() } else { "  (skipped)" }
        );
        self.process(&before, &lossy, matches!(op, Op::Advance(_)))?;
        self.prompt()
    }

    /// Every active client polls, again while the server holds something for it: a poll
    /// delivers again at most MultiTrans (here 1) of the transactions whose acknowledgement
    /// went missing and does not say Poll=T for the others (it does only for transactions
    /// never delivered), so each waits for a poll of its own.
    fn poll_all(&mut self) -> Result<(), String> {
        for _ in 0..32 {
            let active: Vec<usize> = self
                .slots
                .iter()
                .flatten()
                .flatten()
                .copied()
                .filter(|c| self.is_active(*c))
                .collect();
            for who in 0..active.len() {
                self.step(&Op::Poll { who })?;
            }
            if active.iter().all(|c| self.queued(*c) == 0) {
                return Ok(());
            }
        }
        Err("the server keeps transactions queued however often its clients poll".into())
    }

    /// The final phase (invariant 6).
    fn finish(&mut self) -> Result<(), String> {
        let _ = writeln!(self.log, "-- final phase");
        // Every client resumes; every user logs in.
        while self.choose(0, |r, c| r.sim.frozen[c]).is_some() {
            self.step(&Op::Resume { who: 0 })?;
        }
        for u in 0..N {
            if (0..SLOTS).all(|s| self.active(u, s).is_none()) {
                self.step(&Op::Login {
                    user: u,
                    slot: 0,
                    version: 1,
                    mode: 0,
                    fresh: false,
                })?;
            }
        }
        // Deliveries whose acknowledgement was lost come again once the delay has passed.
        self.step(&Op::Advance(REDELIVERY_MS + 1))?;
        self.poll_all()?;
        // Notify clients without auto_fetch fetch and confirm everything.
        for u in 0..N {
            for slot in 0..SLOTS {
                let Some(c) = self.active(u, slot).filter(|c| self.is_manual(*c)) else {
                    continue;
                };
                let before = self.snapshot();
                for id in self.list(c)? {
                    let answer = self.request(c, cim::get_message(&id))?;
                    if !matches!(answer, Primitive::GetMessageResponse(_)) {
                        return Err(format!("GetMessage of waiting {id} answered {answer:?}"));
                    }
                    self.confirm(c, &id)?;
                }
                self.apps[c].fetched.clear();
                let _ = writeln!(self.log, "fetch and confirm all: {} slot {slot}", USERS[u]);
                self.process(&before, &BTreeSet::new(), false)?;
            }
        }
        for u in 0..N {
            if self.m.waiting_for(u).iter().next().is_some() {
                return Err(format!(
                    "after everyone polled and fetched, {:?} still wait for {}",
                    self.m.waiting_for(u),
                    USERS[u]
                ));
            }
        }
        // Past every Validity: nothing more happens.
        self.step(&Op::Advance(u64::from(MAX_VALIDITY) * 1000 + 1))?;
        self.poll_all()?;
        // Accounting.
        for (id, sent) in &self.m.msgs {
            for (&r, &fate) in &sent.fate {
                if fate == Fate::Waiting {
                    return Err(format!("{id} for {} is unaccounted for", USERS[r]));
                }
                let seen = self
                    .apps
                    .iter()
                    .any(|a| a.user == r && a.messages.contains(id));
                if fate == Fate::Delivered && !seen {
                    return Err(format!(
                        "{id} was delivered to {} but no application saw it",
                        USERS[r]
                    ));
                }
                if sent.report {
                    let key = (id.clone(), r);
                    if self.m.reports.get(&key) != Some(&true) {
                        return Err(format!(
                            "the report on {id} for {} never reached {}",
                            USERS[r], USERS[sent.from]
                        ));
                    }
                    if !self
                        .apps
                        .iter()
                        .any(|a| a.user == sent.from && a.reports.contains(&key))
                    {
                        return Err(format!(
                            "the report on {id} for {} reached no application of {}",
                            USERS[r], USERS[sent.from]
                        ));
                    }
                }
            }
        }
        for u in 0..N {
            let c = (0..SLOTS)
                .find_map(|s| self.active(u, s))
                .ok_or_else(|| format!("{} has no session at the end", USERS[u]))?;
            let before = self.snapshot();
            if !self.list(c)?.is_empty() {
                return Err(format!("{}'s mailbox is not empty", USERS[u]));
            }
            self.process(&before, &BTreeSet::new(), false)?;
        }
        Ok(())
    }
}

/// What was settled before a step.
struct Snapshot {
    settled: BTreeSet<Key>,
    acked: BTreeSet<Key>,
}

fn run(initial: &[Option<(usize, usize)>; N], ops: &[Op]) -> Result<(), String> {
    let mut r = Run::new(initial)?;
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = r.step(op) {
            return Err(format!("step {i} {op:?}: {e}\nsteps run:\n{}", r.log));
        }
    }
    r.finish()
        .map_err(|e| format!("final phase: {e}\nsteps run:\n{}", r.log))
}

fn initial() -> impl Strategy<Value = [Option<(usize, usize)>; N]> {
    prop::array::uniform4(prop::option::weighted(
        0.7,
        (0..VERSIONS.len(), 0..MODES.len()),
    ))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn messages_follow_the_reference_model(
        initial in initial(),
        (_swarm, ops) in swarm().prop_flat_map(|sw| (Just(sw), prop::collection::vec(op(sw), 1..40))),
    ) {
        if let Err(e) = run(&initial, &ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Sequences that once failed, replayed on every run.
#[test]
fn regressions() {
    /// Name, initial sessions, steps.
    type Case = (&'static str, [Option<(usize, usize)>; N], Vec<Op>);
    let cases: Vec<Case> = vec![
        (
            "a delivery report whose acknowledgement was lost comes again and is heard once",
            [Some((1, 0)), None, None, None],
            vec![
                Op::Send {
                    who: 0,
                    to: 0b10,
                    ghost: false,
                    report: true,
                    validity: None,
                    lossy: false,
                },
                Op::Freeze { who: 0 },
                Op::Login {
                    user: 1,
                    slot: 0,
                    version: 1,
                    mode: 0,
                    fresh: false,
                },
                Op::LossyPoll { who: 0 },
                Op::Advance(REDELIVERY_MS + 1),
                Op::Poll { who: 0 },
            ],
        ),
        (
            "two deliveries whose acknowledgements were lost come again, one poll each",
            [None, None, Some((0, 0)), Some((0, 0))],
            vec![
                Op::Login {
                    user: 0,
                    slot: 0,
                    version: 0,
                    mode: 0,
                    fresh: false,
                },
                Op::Freeze { who: 0 },
                Op::Login {
                    user: 1,
                    slot: 0,
                    version: 0,
                    mode: 0,
                    fresh: false,
                },
                Op::Send {
                    who: 0,
                    to: 0b1001,
                    ghost: false,
                    report: false,
                    validity: None,
                    lossy: false,
                },
                Op::Send {
                    who: 0,
                    to: 0b0111,
                    ghost: false,
                    report: false,
                    validity: None,
                    lossy: false,
                },
                Op::LossyPoll { who: 0 },
            ],
        ),
        (
            "a Validity that passed while the restarted server knew no time is not delivered",
            [Some((1, 0)), None, None, None],
            vec![
                Op::Send {
                    who: 0,
                    to: 0b10,
                    ghost: false,
                    report: true,
                    validity: Some(10),
                    lossy: false,
                },
                Op::Logout { who: 0 },
                Op::Restart,
                Op::Advance(20_000),
                Op::Login {
                    user: 1,
                    slot: 0,
                    version: 2,
                    mode: 0,
                    fresh: false,
                },
                Op::Login {
                    user: 0,
                    slot: 0,
                    version: 1,
                    mode: 0,
                    fresh: false,
                },
            ],
        ),
    ];
    for (name, initial, ops) in cases {
        if let Err(e) = run(&initial, &ops) {
            panic!("{name}: {e}");
        }
    }
}
