//! Presence authorization and delivery against a reference model: random operation sequences
//! among four users (sessions in CSP 1.1, 1.2 and 1.3) run through the simulation — real
//! `Server`, real `Client`s, over the CSP wire — while a small model in plain maps follows the
//! rules of `server/authorization.rs` and `server/presence.rs`. After every operation the
//! clients have polled (a wake-up makes them poll at once), so everything the server produced
//! in that operation has been delivered and is checked against the model state after it:
//!
//! 1. every PresenceNotification and GetPresence-Response entry carries only attributes the
//!    publisher authorizes for that watcher (and, for notifications, that it subscribed to);
//! 2. the values carried are the publisher's current ones (Qualifier F for withdrawn ones;
//!    OnlineStatus = a session and not invisible);
//! 3. once the coalescing interval has passed, every online subscriber knows the current value
//!    of each attribute it is authorized for and wants — unless it has not been told since its
//!    login (a new session starts knowing nothing until it subscribes, asks or hears a change).
//!
//! Besides, after every step each online user asks everyone's whole presence on the side
//! (GetPresence straight to the server, which must answer exactly the authorized values) and
//! its watcher list (exactly the model's subscribers), and authorization requests
//! (PresenceAuth-Request, ANU) must never name a watcher the publisher blocks.
//!
//! Half the cases run without coalescing (interval 0), so invariant 3 is checked after every
//! step; the others with the default interval, checked after each advance past it. Each case
//! enables a random subset of the operation kinds among 2–4 users (swarm testing), so the few
//! steps a discrepancy needs meet often. Failures shrink and print the steps;
//! `PROPTEST_CASES=n` runs more cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::field_reassign_with_default,
    clippy::needless_range_loop
)]

mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use imps_engine::client::presence::{self as cp, AttrName};
use imps_engine::client::{ClientConfig, ClientEvent, Command, LoginScheme};
use imps_engine::codec::access13::NotificationType;
use imps_engine::codec::common::{EntityList, NickList, RemoveNickList};
use imps_engine::codec::im::{AccessList, BlockLists};
use imps_engine::codec::presence::{
    CreateListRequest, DeleteListRequest, ListManageRequest, Presence,
};
use imps_engine::codec::presence_attrs::{
    OnlineStatus, PresenceSubList, StatusMood, StatusText, UserAvailability,
};
use imps_engine::codec::{Primitive, Version};
use proptest::prelude::*;
use sim::{Sim, test_config};

const N: usize = 4;
const LISTS: usize = 2;
const USERS: [&str; N] = ["alice", "bob", "carol", "dave"];
const VERSIONS: [Version; 3] = [Version::V1_1, Version::V1_2, Version::V1_3];
/// The coalescing interval of the default configuration.
const INTERVAL: u64 = 1_000;

/// Every attribute, one bit per `AttrName::ALL` position (the server's order too).
const ALL: u32 = (1 << 18) - 1;
/// The attributes the test publishes, in "slot" order: OnlineStatus is slot 0, the published
/// values follow.
const SLOTS: [AttrName; 4] = [
    AttrName::OnlineStatus,
    AttrName::StatusText,
    AttrName::UserAvailability,
    AttrName::StatusMood,
];
const TEXTS: [&str; 3] = ["free", "busy", "at lunch"];
const AVAILABILITY: [&str; 3] = ["AVAILABLE", "DISCREET", "NOT_AVAILABLE"];
const MOODS: [&str; 3] = ["HAPPY", "SAD", "ANGRY"];

fn uid(u: usize) -> String {
    format!("wv:{}@example.org", USERS[u])
}

fn list_id(owner: usize, k: usize) -> String {
    format!("wv:{}/l{k}@example.org", USERS[owner])
}

fn user_of(id: &str) -> Option<usize> {
    (0..N).find(|u| uid(*u).eq_ignore_ascii_case(id.trim()))
}

fn bit(a: AttrName) -> u32 {
    1 << AttrName::ALL.iter().position(|x| *x == a).unwrap()
}

fn mask_of(list: &PresenceSubList) -> u32 {
    cp::attr_names(list).into_iter().fold(0, |m, a| m | bit(a))
}

/// A list naming the slots set in `small` (bit i = `SLOTS[i]`).
fn names(small: u8) -> PresenceSubList {
    let attrs: Vec<AttrName> = (0..SLOTS.len())
        .filter(|i| small >> i & 1 == 1)
        .map(|i| SLOTS[i])
        .collect();
    cp::names(&attrs)
}

/// The attribute names a request carries: `None` = all of them.
fn attr_list(v: Version, small: Option<u8>) -> PresenceSubList {
    cp::for_version(v, small.map_or_else(|| cp::names(&AttrName::ALL), names))
}

/// What a SubscribePresence / GetPresence / PresenceAuth-User list means: none named = all.
fn wanted_of(list: Option<&PresenceSubList>) -> u32 {
    match list.map(mask_of) {
        Some(m) if m != 0 => m,
        _ => ALL,
    }
}

fn fold(masks: impl IntoIterator<Item = u32>) -> u32 {
    masks.into_iter().fold(0, |a, b| a | b)
}

fn show(mask: u32) -> String {
    if mask == ALL {
        return "ALL".into();
    }
    let names: Vec<&str> = AttrName::ALL
        .iter()
        .filter(|a| mask & bit(**a) != 0)
        .map(|a| a.as_str())
        .collect();
    format!("{{{}}}", names.join(","))
}

// ---- operations ---------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Target {
    User(usize),
    List(usize),
    Default,
}

/// One step. Users and lists are indices; attribute sets are `Option<u8>` over `SLOTS`
/// (`None` = every attribute). A step whose actor has no session is skipped.
#[derive(Debug, Clone)]
enum Op {
    /// Log in with `VERSIONS[v]`.
    Login(usize, usize),
    Logout(usize),
    /// `Some(None)` withdraws a value; `online`: 0 Qualifier F, 1 value F, 2 value T.
    Update {
        user: usize,
        text: Option<Option<usize>>,
        avail: Option<Option<usize>>,
        mood: Option<Option<usize>>,
        online: Option<u8>,
    },
    CreateList {
        owner: usize,
        list: usize,
        members: u8,
    },
    DeleteList {
        owner: usize,
        list: usize,
    },
    ListAdd {
        owner: usize,
        list: usize,
        member: usize,
    },
    ListRemove {
        owner: usize,
        list: usize,
        member: usize,
    },
    AttrList {
        owner: usize,
        target: Target,
        attrs: Option<u8>,
        notify: bool,
    },
    DelAttrList {
        owner: usize,
        target: Target,
    },
    /// PresenceAuth-User (≤ 1.2 sessions only).
    Auth {
        owner: usize,
        watcher: usize,
        accept: bool,
        attrs: Option<u8>,
    },
    /// CancelAuth (≤ 1.2 sessions only).
    Cancel {
        owner: usize,
        watcher: usize,
    },
    Block {
        owner: usize,
        other: usize,
        add: bool,
    },
    Subscribe {
        watcher: usize,
        publisher: usize,
        attrs: Option<u8>,
    },
    /// AutoSubscribe only reaches the server from 1.2 sessions.
    SubscribeList {
        watcher: usize,
        list: usize,
        attrs: Option<u8>,
        auto: bool,
    },
    Unsubscribe {
        watcher: usize,
        publisher: usize,
    },
    UnsubscribeList {
        watcher: usize,
        list: usize,
    },
    Get {
        watcher: usize,
        publisher: usize,
        attrs: Option<u8>,
    },
    Advance(u64),
    Restart,
}

fn list() -> impl Strategy<Value = usize> {
    0..LISTS
}

fn attrs() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![1 => Just(None), 4 => (0u8..16).prop_map(Some)]
}

fn value() -> impl Strategy<Value = Option<Option<usize>>> {
    prop_oneof![2 => Just(None), 1 => Just(Some(None)), 3 => (0usize..3).prop_map(|v| Some(Some(v)))]
}

fn target(users: usize) -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => (0..users).prop_map(Target::User),
        2 => list().prop_map(Target::List),
        2 => Just(Target::Default),
    ]
}

/// Swarm testing: each case enables a random subset of the operation kinds and involves
/// only the first `users` users, so the few steps a bug needs meet more often.
#[derive(Debug, Clone, Copy)]
struct Swarm {
    /// Bit i enables `KINDS[i]`.
    kinds: u32,
    users: usize,
}

const KINDS: [&str; 19] = [
    "Login",
    "Logout",
    "Update",
    "CreateList",
    "DeleteList",
    "ListAdd",
    "ListRemove",
    "AttrList",
    "DelAttrList",
    "Auth",
    "Cancel",
    "Block",
    "Subscribe",
    "SubscribeList",
    "Unsubscribe",
    "UnsubscribeList",
    "Get",
    "Advance",
    "Restart",
];

fn swarm() -> impl Strategy<Value = Swarm> {
    let always = 1 << 2 | 1 << 12;
    (any::<u32>(), 2..=N).prop_map(move |(kinds, users)| Swarm {
        kinds: kinds & ((1 << KINDS.len()) - 1) | always,
        users,
    })
}

fn op(sw: Swarm) -> impl Strategy<Value = Op> {
    let user = move || 0..sw.users;
    let all: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (
            4,
            (user(), 0..VERSIONS.len())
                .prop_map(|(u, v)| Op::Login(u, v))
                .boxed(),
        ),
        (1, user().prop_map(Op::Logout).boxed()),
        (
            6,
            (
                user(),
                value(),
                value(),
                value(),
                prop::option::weighted(0.3, 0u8..3),
            )
                .prop_map(|(user, text, avail, mood, online)| Op::Update {
                    user,
                    text,
                    avail,
                    mood,
                    online,
                })
                .boxed(),
        ),
        (
            3,
            (user(), list(), 0u8..16)
                .prop_map(|(owner, list, members)| Op::CreateList {
                    owner,
                    list,
                    members,
                })
                .boxed(),
        ),
        (
            1,
            (user(), list())
                .prop_map(|(owner, list)| Op::DeleteList { owner, list })
                .boxed(),
        ),
        (
            3,
            (user(), list(), user())
                .prop_map(|(owner, list, member)| Op::ListAdd {
                    owner,
                    list,
                    member,
                })
                .boxed(),
        ),
        (
            2,
            (user(), list(), user())
                .prop_map(|(owner, list, member)| Op::ListRemove {
                    owner,
                    list,
                    member,
                })
                .boxed(),
        ),
        (
            5,
            (user(), target(sw.users), attrs(), any::<bool>())
                .prop_map(|(owner, target, attrs, notify)| Op::AttrList {
                    owner,
                    target,
                    attrs,
                    notify,
                })
                .boxed(),
        ),
        (
            2,
            (user(), target(sw.users))
                .prop_map(|(owner, target)| Op::DelAttrList { owner, target })
                .boxed(),
        ),
        (
            3,
            (user(), user(), any::<bool>(), attrs())
                .prop_map(|(owner, watcher, accept, attrs)| Op::Auth {
                    owner,
                    watcher,
                    accept,
                    attrs,
                })
                .boxed(),
        ),
        (
            1,
            (user(), user())
                .prop_map(|(owner, watcher)| Op::Cancel { owner, watcher })
                .boxed(),
        ),
        (
            2,
            (user(), user(), any::<bool>())
                .prop_map(|(owner, other, add)| Op::Block { owner, other, add })
                .boxed(),
        ),
        (
            8,
            (user(), user(), attrs())
                .prop_map(|(watcher, publisher, attrs)| Op::Subscribe {
                    watcher,
                    publisher,
                    attrs,
                })
                .boxed(),
        ),
        (
            2,
            (user(), list(), attrs(), any::<bool>())
                .prop_map(|(watcher, list, attrs, auto)| Op::SubscribeList {
                    watcher,
                    list,
                    attrs,
                    auto,
                })
                .boxed(),
        ),
        (
            1,
            (user(), user())
                .prop_map(|(watcher, publisher)| Op::Unsubscribe { watcher, publisher })
                .boxed(),
        ),
        (
            1,
            (user(), list())
                .prop_map(|(watcher, list)| Op::UnsubscribeList { watcher, list })
                .boxed(),
        ),
        (
            4,
            (user(), user(), attrs())
                .prop_map(|(watcher, publisher, attrs)| Op::Get {
                    watcher,
                    publisher,
                    attrs,
                })
                .boxed(),
        ),
        (
            6,
            prop_oneof![1 => 0u64..INTERVAL, 2 => INTERVAL..3 * INTERVAL]
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

#[derive(Debug, Default)]
struct Model {
    /// The session's version, per user.
    session: [Option<Version>; N],
    /// Published StatusText, UserAvailability, StatusMood (indices into the value tables).
    vals: [[Option<usize>; 3]; N],
    invisible: [bool; N],
    /// Contact lists: owner → list → members.
    lists: [[Option<BTreeSet<usize>>; LISTS]; N],
    /// Attribute lists: publisher → watcher → granted.
    attr_users: [BTreeMap<usize, u32>; N],
    /// Attribute lists: publisher → own contact list → granted.
    attr_lists: [[Option<u32>; LISTS]; N],
    attr_default: [Option<u32>; N],
    /// Reactive grants: [publisher][watcher].
    reactive: [[u32; N]; N],
    /// Block lists: [owner][other].
    blocked: [[bool; N]; N],
    /// Subscriptions: [watcher][publisher] → wanted.
    subs: [[Option<u32>; N]; N],
    /// AutoSubscribe: [watcher][own list] → wanted.
    auto: [[Option<u32>; LISTS]; N],
    /// [watcher][publisher]: attributes the watcher's current session must know current
    /// values of once coalescing has run (it was told since its login).
    tracked: [[u32; N]; N],
}

impl Model {
    /// The rules of authorization.rs's module doc.
    fn authorized(&self, p: usize, w: usize) -> u32 {
        if p == w {
            return ALL;
        }
        if self.blocked[p][w] {
            return 0;
        }
        let proactive = self.attr_users[p].get(&w).copied().or_else(|| {
            let lists: Vec<u32> = (0..LISTS)
                .filter(|k| self.lists[p][*k].as_ref().is_some_and(|m| m.contains(&w)))
                .filter_map(|k| self.attr_lists[p][k])
                .collect();
            if lists.is_empty() {
                self.attr_default[p]
            } else {
                Some(fold(lists))
            }
        });
        proactive.unwrap_or(0) | self.reactive[p][w]
    }

    /// What watcher `w`'s session is told of `p`: subscribed, wanted and authorized.
    fn visible(&self, w: usize, p: usize) -> u32 {
        match (self.session[w], self.subs[w][p]) {
            (Some(_), Some(wanted)) => wanted & self.authorized(p, w),
            _ => 0,
        }
    }

    fn visible_all(&self) -> [[u32; N]; N] {
        let mut v = [[0; N]; N];
        for (w, row) in v.iter_mut().enumerate() {
            for (p, x) in row.iter_mut().enumerate() {
                *x = self.visible(w, p);
            }
        }
        v
    }

    fn online(&self, p: usize) -> bool {
        self.session[p].is_some() && !self.invisible[p]
    }

    /// The current value of `p`'s slot (`None` = not published).
    fn current(&self, p: usize, slot: usize) -> Option<String> {
        match slot {
            0 => Some(if self.online(p) { "T" } else { "F" }.to_owned()),
            1 => self.vals[p][0].map(|i| TEXTS[i].to_owned()),
            2 => self.vals[p][1].map(|i| AVAILABILITY[i].to_owned()),
            _ => self.vals[p][2].map(|i| MOODS[i].to_owned()),
        }
    }

    fn slot_values(&self, p: usize) -> [Option<String>; 4] {
        [0, 1, 2, 3].map(|s| self.current(p, s))
    }

    fn list_exists(&self, owner: usize, k: usize) -> bool {
        self.lists[owner][k].is_some()
    }
}

// ---- the harness ------------------------------------------------------------------

/// Where a checked Presence entry came from.
#[derive(Clone, Copy)]
enum Source {
    Notification,
    /// A GetPresence answer to a request for these attributes.
    Answer(u32),
}

struct Run {
    sim: Sim,
    m: Model,
    /// The current client of each user (a new client per login).
    client: [Option<usize>; N],
    /// Client index → user.
    owner: Vec<usize>,
    /// Client index → (publisher, slot) → value last heard (`None` = withdrawn).
    view: Vec<BTreeMap<(usize, usize), Option<String>>>,
    /// Attributes asked for by the GetPresence in flight, per client.
    asked: BTreeMap<usize, u32>,
    /// Pairs (watcher, publisher) that received an initial notification in this step.
    subscribed_now: Vec<(usize, usize)>,
    log: String,
    /// Whether changes are coalesced (`INTERVAL`) or sent at once (interval 0).
    coalesce: bool,
    /// Side GetPresence requests sent (for their transaction ids).
    probes: u64,
}

fn response_code(p: &Primitive) -> u32 {
    match p {
        Primitive::CreateListResponse(_) => 200,
        p => p.result_code().unwrap_or(0),
    }
}

impl Run {
    fn new(initial: &[Option<usize>; N], coalesce: bool) -> Result<Run, String> {
        let mut config = test_config();
        config.presence.notify_interval_ms = if coalesce { INTERVAL } else { 0 };
        let mut sim = Sim::new(config, 7);
        for u in USERS {
            sim.provision(u, "pw");
        }
        let mut run = Run {
            sim,
            m: Model::default(),
            client: [None; N],
            owner: Vec::new(),
            view: Vec::new(),
            asked: BTreeMap::new(),
            subscribed_now: Vec::new(),
            log: String::new(),
            coalesce,
            probes: 0,
        };
        for (u, v) in initial.iter().enumerate() {
            if let Some(v) = v {
                run.login(u, VERSIONS[*v])?;
            }
        }
        run.process()?;
        Ok(run)
    }

    fn login(&mut self, u: usize, v: Version) -> Result<(), String> {
        let c = self
            .sim
            .add_client(ClientConfig::new(v, USERS[u], "pw", LoginScheme::Password));
        self.owner.push(u);
        self.view.push(BTreeMap::new());
        self.sim.command(c, Command::Login);
        if !self.sim.clients[c].is_ready() {
            return Err(format!("{} could not log in with {v}", USERS[u]));
        }
        // What the server queued during the login (its wake-up went out before the client
        // knew its session, and a 1.3 Login-Response does not say Poll=T): fetch it now, so
        // it is checked against the state it was produced in.
        self.sim.command(c, Command::Poll);
        self.client[u] = Some(c);
        self.m.session[u] = Some(v);
        Ok(())
    }

    /// Ends `u`'s client without a word to the server (logout or restart).
    fn drop_client(&mut self, u: usize) {
        if let Some(c) = self.client[u].take() {
            self.sim.frozen[c] = true;
        }
        self.m.session[u] = None;
    }

    /// Sends `p` through `u`'s client and returns the answer; events stay for [`Run::process`].
    fn request(&mut self, u: usize, p: Primitive) -> Result<Primitive, String> {
        let c = self.client[u].ok_or("no session")?;
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

    /// Sends `p` and checks the answer's code.
    fn expect(&mut self, u: usize, p: Primitive, code: u32) -> Result<(), String> {
        let name = p.name().to_owned();
        let answer = self.request(u, p)?;
        let got = response_code(&answer);
        if got != code {
            return Err(format!(
                "{name} of {} answered {got}, the model expects {code}: {answer:?}",
                USERS[u]
            ));
        }
        Ok(())
    }

    /// Drains every client's events in order, checking each Presence entry (invariants 1
    /// and 2) and each authorization request, and recording what the watcher now knows.
    fn process(&mut self) -> Result<(), String> {
        for c in 0..self.sim.clients.len() {
            let events = std::mem::take(&mut self.sim.events[c]);
            let me = self.owner[c];
            for e in events {
                match e {
                    ClientEvent::ServerRequest(Primitive::PresenceNotificationRequest(n)) => {
                        for entry in &n.presence {
                            self.entry(Some(c), me, entry, Source::Notification)?;
                        }
                    }
                    ClientEvent::Response {
                        primitive: Primitive::GetPresenceResponse(r),
                        ..
                    } => {
                        let asked = self.asked.remove(&c).ok_or("unexpected GetPresence")?;
                        if r.presence.len() != 1 {
                            return Err(format!("GetPresence answered {:?}", r.presence));
                        }
                        for entry in &r.presence {
                            self.entry(Some(c), me, entry, Source::Answer(asked))?;
                        }
                    }
                    ClientEvent::ServerRequest(Primitive::PresenceAuthRequest(r)) => {
                        self.auth_request(me, r.user_id.as_deref().unwrap_or(""))?;
                    }
                    ClientEvent::ServerRequest(Primitive::NotificationRequest(n))
                        if n.notification_type == Some(NotificationType::Anu) =>
                    {
                        for w in n.user_id_list.iter().flat_map(|l| l.user_id.iter()) {
                            self.auth_request(me, w)?;
                        }
                    }
                    // A transaction the server hands out again (in a poll answer and beside an
                    // acknowledgement) is acknowledged twice; the second acknowledgement gets 420.
                    // A transport matter, not presence.
                    ClientEvent::Error { message } if message.starts_with("Ack answered") => {}
                    ClientEvent::Error { message } => {
                        return Err(format!("client of {} reports: {message}", USERS[me]));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn auth_request(&self, publisher: usize, watcher: &str) -> Result<(), String> {
        let w = user_of(watcher).ok_or_else(|| format!("request names {watcher:?}"))?;
        if self.m.blocked[publisher][w] {
            return Err(format!(
                "{} is asked about {}, whom it blocks",
                USERS[publisher], USERS[w]
            ));
        }
        Ok(())
    }

    /// Checks one Presence entry that `w` received; records what client `c` (if any) learns.
    fn entry(
        &mut self,
        c: Option<usize>,
        w: usize,
        entry: &Presence,
        src: Source,
    ) -> Result<(), String> {
        let id = entry.user_id.as_deref().unwrap_or("");
        let p = user_of(id).ok_or_else(|| format!("entry for {id:?}"))?;
        let what = match src {
            Source::Notification => "notification",
            Source::Answer(_) => "GetPresence answer",
        };
        let authorized = self.m.authorized(p, w);
        let allowed = match src {
            Source::Notification => {
                let Some(wanted) = self.m.subs[w][p] else {
                    return Err(format!(
                        "{} got a notification about {}, to whom it is not subscribed: {entry:?}",
                        USERS[w], USERS[p]
                    ));
                };
                wanted & authorized
            }
            Source::Answer(asked) => asked & authorized,
        };
        let mut with_value = 0;
        for list in &entry.presence_sub_list {
            let carried = mask_of(list);
            if carried & !allowed != 0 {
                return Err(format!(
                    "{what} to {} carries {} of {}; authorized {}, allowed {}",
                    USERS[w],
                    show(carried),
                    USERS[p],
                    show(authorized),
                    show(allowed)
                ));
            }
            let mut heard: Vec<(usize, Option<String>)> = Vec::new();
            if let Some(os) = list.online_status.first() {
                if list.online_status.len() != 1 {
                    return Err(format!("{what}: several OnlineStatus: {list:?}"));
                }
                heard.push((0, os.presence_value.clone()));
            }
            let single = |q: Option<bool>, v: &Option<String>| {
                if q == Some(false) { None } else { v.clone() }
            };
            if let Some(x) = &list.status_text {
                heard.push((1, single(x.qualifier, &x.presence_value)));
            }
            if let Some(x) = &list.user_availability {
                heard.push((2, single(x.qualifier, &x.presence_value)));
            }
            if let Some(x) = &list.status_mood {
                heard.push((3, single(x.qualifier, &x.presence_value)));
            }
            for (slot, got) in heard {
                let want = self.m.current(p, slot);
                if got != want {
                    return Err(format!(
                        "{what} to {} says {} of {} is {got:?}, but it is {want:?}",
                        USERS[w],
                        SLOTS[slot].as_str(),
                        USERS[p]
                    ));
                }
                if got.is_some() {
                    with_value |= bit(SLOTS[slot]);
                }
                if let Some(c) = c {
                    self.view[c].insert((p, slot), got);
                }
            }
        }
        // An answer holds exactly the values asked for and authorized.
        if let Source::Answer(asked) = src {
            let present = fold((0..SLOTS.len()).map(|slot| {
                if self.m.current(p, slot).is_some() {
                    bit(SLOTS[slot])
                } else {
                    0
                }
            }));
            let want = allowed & present;
            if with_value != want {
                return Err(format!(
                    "GetPresence answer to {} holds values of {} of {}, the model expects {} \
                     (asked {}, authorized {})",
                    USERS[w],
                    show(with_value),
                    USERS[p],
                    show(want),
                    show(asked),
                    show(authorized)
                ));
            }
        }
        Ok(())
    }

    /// Every online user asks for everyone's whole presence on the side (straight to the
    /// server with its session, so its client's view is untouched) and each answer is checked
    /// exactly against the model. Authorization requests this raises are fetched by polling.
    fn probe(&mut self) -> Result<(), String> {
        let ids: Vec<String> = (0..N).map(uid).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for w in 0..N {
            let (Some(c), Some(v)) = (self.client[w], self.m.session[w]) else {
                continue;
            };
            let sid = self.sim.clients[c]
                .session_id()
                .ok_or("no session id")?
                .to_owned();
            self.probes += 1;
            let tid = format!("probe{}", self.probes);
            let req = cp::get_presence(v, &ids, &[], None);
            let reply = self
                .sim
                .raw(&Sim::request(v, Some(&sid), Some(&tid), req))
                .ok_or("empty answer to GetPresence")?;
            let Some(Primitive::GetPresenceResponse(r)) = reply.primitive() else {
                return Err(format!("GetPresence answered {reply:?}"));
            };
            if r.presence.len() != N {
                return Err(format!("GetPresence of everyone answered {:?}", r.presence));
            }
            for entry in r.presence.clone() {
                self.entry(None, w, &entry, Source::Answer(ALL))?;
            }
            // Who watches `w`: exactly the model's subscribers.
            self.probes += 1;
            let tid = format!("probe{}", self.probes);
            let req = cp::get_watcher_list(v, None, None);
            let reply = self
                .sim
                .raw(&Sim::request(v, Some(&sid), Some(&tid), req))
                .ok_or("empty answer to GetWatcherList")?;
            let Some(Primitive::GetWatcherListResponse(r)) = reply.primitive() else {
                return Err(format!("GetWatcherList answered {reply:?}"));
            };
            let listed: BTreeSet<String> = r
                .user
                .iter()
                .chain(r.watcher.iter().filter_map(|x| x.user.as_ref()))
                .filter_map(|u| u.user_id.clone())
                .chain(r.watcher.iter().filter_map(|x| x.user_id.clone()))
                .collect();
            let listed: BTreeSet<usize> = listed.iter().filter_map(|id| user_of(id)).collect();
            let model: BTreeSet<usize> = (0..N).filter(|x| self.m.subs[*x][w].is_some()).collect();
            if listed != model {
                return Err(format!(
                    "{}'s watchers are {listed:?}, the model has {model:?}",
                    USERS[w]
                ));
            }
        }
        for u in 0..N {
            if let Some(c) = self.client[u] {
                self.sim.command(c, Command::Poll);
            }
        }
        self.process()
    }

    /// Invariant 3: every online subscriber knows the current value of what it was told about.
    fn settled(&self) -> Result<(), String> {
        for w in 0..N {
            let Some(c) = self.client[w] else { continue };
            for p in 0..N {
                if self.m.subs[w][p].is_none() {
                    continue;
                }
                let tracked = self.m.tracked[w][p];
                for (slot, a) in SLOTS.iter().enumerate() {
                    if tracked & bit(*a) == 0 {
                        continue;
                    }
                    let known = self.view[c].get(&(p, slot)).cloned().flatten();
                    let now = self.m.current(p, slot);
                    if known != now {
                        return Err(format!(
                            "{} believes {} of {} is {known:?}, but it is {now:?} \
                             (authorized {}, wanted {})",
                            USERS[w],
                            a.as_str(),
                            USERS[p],
                            show(self.m.authorized(p, w)),
                            show(self.m.subs[w][p].unwrap_or(0)),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn version(&self, u: usize) -> Option<Version> {
        self.m.session[u]
    }

    /// Runs one step; `Ok(false)` when it was skipped.
    fn apply(&mut self, op: &Op) -> Result<bool, String> {
        match *op {
            Op::Login(u, v) => {
                if self.m.session[u].is_some() {
                    return Ok(false);
                }
                self.login(u, VERSIONS[v])?;
            }
            Op::Logout(u) => {
                let Some(c) = self.client[u] else {
                    return Ok(false);
                };
                self.sim.command(c, Command::Logout);
                if self.sim.clients[c].session_id().is_some() {
                    return Err(format!("{} still has a session after logout", USERS[u]));
                }
                self.drop_client(u);
            }
            Op::Update {
                user,
                text,
                avail,
                mood,
                online,
            } => {
                let Some(v) = self.version(user) else {
                    return Ok(false);
                };
                let mut list = PresenceSubList::default();
                let withdrawn = Some(false);
                if let Some(t) = text {
                    list.status_text = Some(t.map_or(
                        StatusText {
                            qualifier: withdrawn,
                            ..Default::default()
                        },
                        |i| StatusText::with_value(TEXTS[i]),
                    ));
                }
                if let Some(t) = avail {
                    list.user_availability = Some(t.map_or(
                        UserAvailability {
                            qualifier: withdrawn,
                            ..Default::default()
                        },
                        |i| UserAvailability::with_value(AVAILABILITY[i]),
                    ));
                }
                if let Some(t) = mood {
                    list.status_mood = Some(t.map_or(
                        StatusMood {
                            qualifier: withdrawn,
                            ..Default::default()
                        },
                        |i| StatusMood::with_value(MOODS[i]),
                    ));
                }
                if let Some(o) = online {
                    list.online_status = vec![match o {
                        0 => OnlineStatus {
                            qualifier: withdrawn,
                            ..Default::default()
                        },
                        1 => OnlineStatus::with_value("F"),
                        _ => OnlineStatus::with_value("T"),
                    }];
                }
                self.expect(user, cp::update_presence(v, list), 200)?;
                let m = &mut self.m;
                for (i, x) in [text, avail, mood].into_iter().enumerate() {
                    if let Some(x) = x {
                        m.vals[user][i] = x;
                    }
                }
                if let Some(o) = online {
                    m.invisible[user] = o < 2;
                }
            }
            Op::CreateList {
                owner,
                list,
                members,
            } => {
                if self.m.session[owner].is_none() {
                    return Ok(false);
                }
                let exists = self.m.list_exists(owner, list);
                let members: BTreeSet<usize> = (0..N).filter(|u| members >> u & 1 == 1).collect();
                let req = CreateListRequest {
                    contact_list: Some(list_id(owner, list)),
                    nick_list: (!members.is_empty()).then(|| NickList {
                        user_id: members.iter().map(|u| uid(*u)).collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let code = if exists { 701 } else { 200 };
                self.expect(owner, Primitive::CreateListRequest(Box::new(req)), code)?;
                if !exists {
                    self.m.lists[owner][list] = Some(members);
                }
            }
            Op::DeleteList { owner, list } => {
                if self.m.session[owner].is_none() {
                    return Ok(false);
                }
                let exists = self.m.list_exists(owner, list);
                let req = DeleteListRequest {
                    contact_list: Some(list_id(owner, list)),
                    ..Default::default()
                };
                let code = if exists { 200 } else { 700 };
                self.expect(owner, Primitive::DeleteListRequest(Box::new(req)), code)?;
                let m = &mut self.m;
                m.lists[owner][list] = None;
                m.attr_lists[owner][list] = None;
                m.auto[owner][list] = None;
            }
            Op::ListAdd {
                owner,
                list,
                member,
            }
            | Op::ListRemove {
                owner,
                list,
                member,
            } => {
                if self.m.session[owner].is_none() {
                    return Ok(false);
                }
                let add = matches!(op, Op::ListAdd { .. });
                let exists = self.m.list_exists(owner, list);
                let mut req = ListManageRequest {
                    contact_list: Some(list_id(owner, list)),
                    receive_list: Some(false),
                    ..Default::default()
                };
                if add {
                    req.add_nick_list = Some(NickList {
                        user_id: vec![uid(member)],
                        ..Default::default()
                    });
                } else {
                    req.remove_nick_list = Some(RemoveNickList {
                        user_id: vec![uid(member)],
                        ..Default::default()
                    });
                }
                let code = if exists { 200 } else { 700 };
                self.expect(owner, Primitive::ListManageRequest(Box::new(req)), code)?;
                let m = &mut self.m;
                if let Some(members) = m.lists[owner][list].as_mut() {
                    let changed = if add {
                        members.insert(member)
                    } else {
                        members.remove(&member)
                    };
                    // AutoSubscribe: a member just added is subscribed (unless already);
                    // one the owner unsubscribed from stays unsubscribed.
                    if add
                        && changed
                        && let Some(wanted) = m.auto[owner][list]
                        && m.subs[owner][member].is_none()
                    {
                        m.subs[owner][member] = Some(wanted);
                        self.subscribed_now.push((owner, member));
                    }
                }
            }
            Op::AttrList {
                owner,
                ref target,
                attrs,
                notify,
            } => {
                let Some(v) = self.version(owner) else {
                    return Ok(false);
                };
                let names = attr_list(v, attrs);
                let granted = mask_of(&names);
                let notify = (v == Version::V1_3).then_some(notify);
                let (req, code) = match *target {
                    Target::User(w) => (
                        cp::create_attribute_list(v, names, &[&uid(w)], &[], false, notify),
                        200,
                    ),
                    Target::List(k) => (
                        cp::create_attribute_list(
                            v,
                            names,
                            &[],
                            &[&list_id(owner, k)],
                            false,
                            notify,
                        ),
                        if self.m.list_exists(owner, k) {
                            200
                        } else {
                            700
                        },
                    ),
                    Target::Default => (
                        cp::create_attribute_list(v, names, &[], &[], true, notify),
                        200,
                    ),
                };
                self.expect(owner, req, code)?;
                let m = &mut self.m;
                match *target {
                    Target::User(w) => {
                        m.attr_users[owner].insert(w, granted);
                    }
                    Target::List(k) => {
                        if m.list_exists(owner, k) {
                            m.attr_lists[owner][k] = Some(granted);
                        }
                    }
                    Target::Default => m.attr_default[owner] = Some(granted),
                }
            }
            Op::DelAttrList { owner, ref target } => {
                let Some(v) = self.version(owner) else {
                    return Ok(false);
                };
                let (req, code) = match *target {
                    Target::User(w) => (cp::delete_attribute_list(v, &[&uid(w)], &[], false), 200),
                    Target::List(k) => (
                        cp::delete_attribute_list(v, &[], &[&list_id(owner, k)], false),
                        if self.m.list_exists(owner, k) {
                            200
                        } else {
                            700
                        },
                    ),
                    Target::Default => (cp::delete_attribute_list(v, &[], &[], true), 200),
                };
                self.expect(owner, req, code)?;
                let m = &mut self.m;
                match *target {
                    Target::User(w) => {
                        m.attr_users[owner].remove(&w);
                    }
                    Target::List(k) => m.attr_lists[owner][k] = None,
                    Target::Default => m.attr_default[owner] = None,
                }
            }
            Op::Auth {
                owner,
                watcher,
                accept,
                attrs,
            } => {
                let Some(v) = self.version(owner).filter(|v| *v != Version::V1_3) else {
                    return Ok(false);
                };
                let names = attrs.map(|a| cp::for_version(v, names(a)));
                let set = wanted_of(names.as_ref());
                let req = cp::authorize(v, &uid(watcher), accept, names).unwrap();
                self.expect(owner, req, 200)?;
                let r = &mut self.m.reactive[owner][watcher];
                if accept {
                    *r |= set;
                } else {
                    *r &= !set;
                }
            }
            Op::Cancel { owner, watcher } => {
                let Some(v) = self.version(owner).filter(|v| *v != Version::V1_3) else {
                    return Ok(false);
                };
                self.expect(owner, cp::cancel_auth(v, &uid(watcher)).unwrap(), 200)?;
                self.m.reactive[owner][watcher] = 0;
            }
            Op::Block { owner, other, add } => {
                let Some(v) = self.version(owner) else {
                    return Ok(false);
                };
                let v13 = v == Version::V1_3;
                let entries = EntityList {
                    user_id: vec![uid(other)],
                    ..Default::default()
                };
                let req = BlockLists {
                    block_list: Some(AccessList {
                        in_use: (!v13).then_some(true),
                        add_list: add.then(|| entries.clone()),
                        remove_list: (!add).then_some(entries),
                        ..Default::default()
                    }),
                    block_list_in_use: v13.then_some(true),
                    ..Default::default()
                };
                self.expect(owner, Primitive::BlockEntityRequest(Box::new(req)), 200)?;
                self.m.blocked[owner][other] = add;
            }
            Op::Subscribe {
                watcher,
                publisher,
                attrs,
            } => {
                let Some(v) = self.version(watcher) else {
                    return Ok(false);
                };
                let names = attrs.map(|a| cp::for_version(v, names(a)));
                let wanted = wanted_of(names.as_ref());
                let req = cp::subscribe(v, &[&uid(publisher)], &[], names, None);
                self.expect(watcher, req, 200)?;
                self.m.subs[watcher][publisher] = Some(wanted);
                self.subscribed_now.push((watcher, publisher));
            }
            Op::SubscribeList {
                watcher,
                list,
                attrs,
                auto,
            } => {
                let Some(v) = self.version(watcher) else {
                    return Ok(false);
                };
                let names = attrs.map(|a| cp::for_version(v, names(a)));
                let wanted = wanted_of(names.as_ref());
                let req = cp::subscribe(v, &[], &[&list_id(watcher, list)], names, Some(auto));
                let code = if self.m.list_exists(watcher, list) {
                    200
                } else {
                    700
                };
                self.expect(watcher, req, code)?;
                let m = &mut self.m;
                if let Some(members) = m.lists[watcher][list].clone() {
                    for p in members {
                        m.subs[watcher][p] = Some(wanted);
                        self.subscribed_now.push((watcher, p));
                    }
                    if auto && v == Version::V1_2 {
                        m.auto[watcher][list] = Some(wanted);
                    }
                }
            }
            Op::Unsubscribe { watcher, publisher } => {
                let Some(v) = self.version(watcher) else {
                    return Ok(false);
                };
                self.expect(watcher, cp::unsubscribe(v, &[&uid(publisher)], &[]), 200)?;
                self.m.subs[watcher][publisher] = None;
            }
            Op::UnsubscribeList { watcher, list } => {
                let Some(v) = self.version(watcher) else {
                    return Ok(false);
                };
                let code = if self.m.list_exists(watcher, list) {
                    200
                } else {
                    700
                };
                self.expect(
                    watcher,
                    cp::unsubscribe(v, &[], &[&list_id(watcher, list)]),
                    code,
                )?;
                let m = &mut self.m;
                if let Some(members) = m.lists[watcher][list].clone() {
                    for p in members {
                        m.subs[watcher][p] = None;
                    }
                    m.auto[watcher][list] = None;
                }
            }
            Op::Get {
                watcher,
                publisher,
                attrs,
            } => {
                let Some(v) = self.version(watcher) else {
                    return Ok(false);
                };
                let names = attrs.map(|a| cp::for_version(v, names(a)));
                let wanted = wanted_of(names.as_ref());
                let c = self.client[watcher].unwrap();
                self.asked.insert(c, wanted);
                let req = cp::get_presence(v, &[&uid(publisher)], &[], names);
                self.expect(watcher, req, 200)?;
                // The answer tells a subscriber everything it may see of what it asked.
                let m = &mut self.m;
                m.tracked[watcher][publisher] |= m.visible(watcher, publisher) & wanted;
            }
            Op::Advance(ms) => self.sim.advance(ms),
            Op::Restart => {
                let sessions = self.m.session;
                for u in 0..N {
                    self.drop_client(u);
                }
                self.sim.restart();
                for (u, v) in sessions.iter().enumerate() {
                    if let Some(v) = v {
                        self.login(u, *v)?;
                    }
                }
            }
        }
        Ok(true)
    }

    /// One step and its checks.
    fn step(&mut self, op: &Op) -> Result<(), String> {
        let clients = self.client;
        let visible = self.m.visible_all();
        let values: Vec<[Option<String>; 4]> = (0..N).map(|p| self.m.slot_values(p)).collect();
        self.subscribed_now.clear();
        let done = self.apply(op)?;
        let _ = writeln!(self.log, "{op:?}{}", if done { "" } else { "  (skipped)" });
        let after = self.m.visible_all();
        let m = &mut self.m;
        for w in 0..N {
            for p in 0..N {
                let now = m.slot_values(p);
                let t = &mut m.tracked[w][p];
                if self.client[w].is_none() {
                    *t = 0;
                    continue;
                }
                if self.client[w] != clients[w] {
                    // A new session knows nothing.
                    *t = 0;
                } else {
                    // Revoked or unsubscribed attributes are no longer followed; newly
                    // visible ones are sent at once.
                    *t &= after[w][p];
                    *t |= after[w][p] & !visible[w][p];
                }
                if self.subscribed_now.contains(&(w, p)) {
                    *t |= after[w][p];
                }
                // Every change reaches the watchers authorized for it.
                for (slot, a) in SLOTS.iter().enumerate() {
                    if now[slot] != values[p][slot] {
                        *t |= after[w][p] & bit(*a);
                    }
                }
            }
        }
        self.process()?;
        // Without coalescing everything is out by now; with it, once the interval has passed.
        if !self.coalesce || matches!(op, Op::Advance(ms) if *ms >= INTERVAL) {
            self.settled()?;
        }
        self.probe()?;
        Ok(())
    }
}

fn run(initial: &[Option<usize>; N], coalesce: bool, ops: &[Op]) -> Result<(), String> {
    let mut r = Run::new(initial, coalesce)?;
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = r.step(op) {
            return Err(format!("step {i} {op:?}: {e}\nsteps run:\n{}", r.log));
        }
    }
    let end = Op::Advance(INTERVAL + 1);
    r.step(&end)
        .map_err(|e| format!("after the last step: {e}\nsteps run:\n{}", r.log))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn presence_follows_the_reference_model(
        initial in prop::array::uniform4(prop::option::weighted(0.9, 0..VERSIONS.len())),
        coalesce in any::<bool>(),
        (_swarm, ops) in swarm().prop_flat_map(|sw| (Just(sw), prop::collection::vec(op(sw), 1..40))),
    ) {
        if let Err(e) = run(&initial, coalesce, &ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Sequences that once failed, replayed on every run.
#[test]
fn regressions() {
    let text = |v| Op::Update {
        user: 0,
        text: Some(v),
        avail: None,
        mood: None,
        online: None,
    };
    /// Name, initial sessions, coalescing, steps.
    type Case = (&'static str, [Option<usize>; N], bool, Vec<Op>);
    let cases: Vec<Case> = vec![
        (
            "a re-subscription corrects a value withdrawn since the watcher last heard it",
            [None, Some(0), None, None],
            false,
            vec![
                Op::Update {
                    user: 1,
                    text: None,
                    avail: Some(Some(0)),
                    mood: None,
                    online: None,
                },
                Op::Get {
                    watcher: 1,
                    publisher: 1,
                    attrs: None,
                },
                Op::Update {
                    user: 1,
                    text: None,
                    avail: Some(None),
                    mood: None,
                    online: None,
                },
                Op::Subscribe {
                    watcher: 1,
                    publisher: 1,
                    attrs: None,
                },
            ],
        ),
        (
            "a grant corrects a value withdrawn while the watcher could not see it",
            [Some(1), Some(1), None, None],
            true,
            vec![
                text(Some(0)),
                Op::AttrList {
                    owner: 0,
                    target: Target::Default,
                    attrs: Some(2),
                    notify: false,
                },
                Op::Subscribe {
                    watcher: 1,
                    publisher: 0,
                    attrs: None,
                },
                Op::DelAttrList {
                    owner: 0,
                    target: Target::Default,
                },
                text(None),
                Op::AttrList {
                    owner: 0,
                    target: Target::Default,
                    attrs: Some(2),
                    notify: false,
                },
                Op::Advance(2 * INTERVAL),
            ],
        ),
        (
            "an AutoSubscribe ends with its list; a new list of the same name has none",
            [Some(1), Some(1), Some(1), Some(2)],
            false,
            vec![
                Op::CreateList {
                    owner: 0,
                    list: 0,
                    members: 0b0010,
                },
                Op::SubscribeList {
                    watcher: 0,
                    list: 0,
                    attrs: None,
                    auto: true,
                },
                Op::DeleteList { owner: 0, list: 0 },
                Op::CreateList {
                    owner: 0,
                    list: 0,
                    members: 0,
                },
                Op::ListAdd {
                    owner: 0,
                    list: 0,
                    member: 3,
                },
            ],
        ),
    ];
    for (name, initial, coalesce, ops) in cases {
        if let Err(e) = run(&initial, coalesce, &ops) {
            panic!("{name}: {e}");
        }
    }
}
