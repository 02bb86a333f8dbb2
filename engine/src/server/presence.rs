//! Presence (CSP-REFERENCE §2.4, §4): published attributes, the server-kept OnlineStatus,
//! subscriptions and watchers, PresenceNotification delivery with coalescing, GetPresence,
//! GetWatcherList. Who may see what is decided in [`super::authorization`].
//!
//! Decisions where the reference is silent:
//! - Subscriptions belong to the user, not the session: they last until UnsubscribePresence
//!   (or account deletion), survive logout and restart, and notifications go to every session
//!   of the watcher. A client that logs in again re-subscribes (or calls GetPresence) to
//!   learn the current values.
//! - Subscribing to a contact list subscribes to its members now; with `AutoSubscribe=T` (1.2)
//!   members added later are subscribed too, until the list is deleted. Removing a member does
//!   not unsubscribe it.
//! - OnlineStatus is kept by the server: T while the user has a session and has not
//!   published OnlineStatus F (invisible). It is never stored as a published value.
//! - Changes are coalesced per presentity: the first change goes out at once, later ones wait
//!   until `presence.notify_interval_ms` after the last notification and carry only the
//!   attributes that changed, with their current values (a withdrawn attribute as Qualifier F).
//!   A change of authorization sends the newly visible values at once, not coalesced; a
//!   revocation sends nothing (the watcher may not see the attribute, not even withdrawn).
//! - The initial notification of a subscription and the one after a grant are snapshots of
//!   what they name: an attribute without a value comes as Qualifier F, so a value the
//!   watcher heard before it lost sight of the attribute does not linger.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::boxmap::BoxMap;
use crate::codec::common::{ContactListIdList, DetailedResult, Status, User, UserIdList};
use crate::codec::presence::{
    AuthState, GetPresenceRequest, GetPresenceResponse, GetWatcherListRequest,
    GetWatcherListResponse, Presence, PresenceNotificationRequest, SubscribePresenceRequest,
    UnsubscribePresenceRequest, UpdatePresenceRequest, Watcher,
};
use crate::codec::presence_attrs::{OnlineStatus, PresenceSubList};
use crate::codec::xml::{XmlIn, XmlOut, XmlValue};
use crate::codec::{Limits, Primitive, Version};
use crate::store::{self, StorageOp, Table};
use crate::vecmap::VecMap;

use super::attributes::{self, Attr, AttrSet};
use super::authorization;
use super::{Millis, Server, result};

/// Interned user ids: the presence graph stores `u32`s, not strings (memory per user).
#[derive(Debug, Default)]
pub(crate) struct Ids {
    by_name: BTreeMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Ids {
    /// The id of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The id of `name`, giving it one if needed.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.by_name.insert(name.into(), id);
        id
    }

    /// The name of `id` (empty for an unknown id).
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}

/// What a user publishes.
#[derive(Debug, Default)]
pub(crate) struct Presentity {
    /// Published attributes (never OnlineStatus), boxed: most users publish little or nothing.
    /// Kept encoded (the stored CSP form, a few hundred bytes) rather than as the typed list
    /// (over a kilobyte of mostly empty fields); decoded once per notification round.
    pub published: Option<Box<[u8]>>,
    /// Published OnlineStatus F: watchers see the user offline.
    pub invisible: bool,
    /// The OnlineStatus watchers were last told (or would have been).
    pub online: bool,
}

/// One watcher's subscription to one presentity, as the fan-out reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Watch {
    /// Attributes the watcher asked for.
    pub wanted: AttrSet,
    /// Attributes the publisher authorizes for the watcher now (derived, not stored).
    pub granted: AttrSet,
}

/// An automatic subscription to a contact list's future members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ListSub {
    /// Attributes wanted.
    pub wanted: AttrSet,
}

/// A watcher's subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Subs {
    /// Presentity id → attributes wanted.
    pub users: VecMap<u32, AttrSet>,
    /// Own contact lists subscribed with AutoSubscribe.
    pub lists: VecMap<String, ListSub>,
}

/// Stored form of [`Subs`].
#[derive(Debug, Serialize, Deserialize)]
struct SubsRecord {
    watcher: String,
    users: BoxMap<String, AttrSet>,
    lists: VecMap<String, ListSub>,
}

/// Stored form of [`Presentity`], the published list encoded by `encode_published`.
#[derive(Debug, Serialize, Deserialize)]
struct PresenceRecord {
    user: String,
    invisible: bool,
    published: Vec<u8>,
}

/// The presence service state.
#[derive(Debug, Default)]
pub(crate) struct PresenceState {
    pub ids: Ids,
    pub people: BoxMap<u32, Presentity>,
    pub auth: BoxMap<u32, authorization::Auth>,
    pub subs: BoxMap<u32, Subs>,
    /// Publisher → watcher → subscription: the fan-out index.
    pub watch: BoxMap<u32, VecMap<u32, Watch>>,
    /// Changed attributes waiting for the coalescing interval, per publisher.
    pending: BoxMap<u32, AttrSet>,
    due: BTreeSet<(Millis, u32)>,
    last_flush: BoxMap<u32, Millis>,
}

impl PresenceState {
    /// The next coalescing deadline.
    pub fn next_due(&self) -> Option<Millis> {
        self.due.iter().next().map(|(t, _)| *t)
    }
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

/// A status 200, or 201 with a DetailedResult per refused id (grouped by code); a single
/// refused target with nothing else done gets its own code.
pub(crate) fn outcome(done: usize, failed: Vec<(u16, String)>) -> Primitive {
    if failed.is_empty() {
        return status(200, "");
    }
    if done == 0
        && let [(code, what)] = failed.as_slice()
    {
        return status(*code, &format!("{what}: {}", describe(*code)));
    }
    let mut st = Status::new(201, "partially successful");
    if let Some(r) = st.result.as_mut() {
        r.detailed_result = detailed(failed);
    }
    Primitive::Status(Box::new(st))
}

/// The Description of a DetailedResult entry with `code`.
pub(crate) fn describe(code: u16) -> &'static str {
    match code {
        415 => "content type not accepted by the recipient",
        426 => "invalid message id",
        507 => "recipient's message store is full",
        516 => "domain not supported",
        531 => "unknown user",
        532 => "recipient blocked sender",
        700 => "contact list does not exist",
        800..=822 => super::group::describe(code),
        _ => "invalid user id",
    }
}

/// DetailedResult entries grouped by code.
pub(crate) fn detailed(failed: Vec<(u16, String)>) -> Vec<DetailedResult> {
    let mut by_code: crate::vecmap::VecMap<u16, Vec<String>> = crate::vecmap::VecMap::new();
    for (code, what) in failed {
        by_code.get_or_insert_with(code, Vec::new).push(what);
    }
    by_code
        .into_iter()
        .map(|(code, ids)| {
            let mut d = DetailedResult {
                code: Some(u32::from(code)),
                description: Some(describe(code).into()),
                ..Default::default()
            };
            if code == 700 {
                d.contact_list = ids;
            } else if code == 800 {
                d.group_id = ids;
            } else {
                d.user_id = ids;
            }
            d
        })
        .collect()
}

/// Resolves a user id to a local account: 402 unparseable, 516 other domain, 531 unknown.
pub(crate) fn local_user(s: &Server, raw: &str) -> Result<String, u16> {
    // An id already in canonical form on this domain (the usual case) is its own canonical
    // form.
    if Address::is_canonical_user(raw, &s.config.domain) {
        return if s.accounts.contains_key(raw) {
            Ok(raw.to_owned())
        } else {
            Err(531)
        };
    }
    match Address::parse_user(raw, &s.config.domain) {
        Ok(a) if a.domain != s.config.domain => Err(516),
        Ok(a) => {
            // `parse_user` leaves no resource: the canonical form is the user id.
            let id = a.user_id();
            if s.accounts.contains_key(&id) {
                Ok(id)
            } else {
                Err(531)
            }
        }
        Err(_) => Err(402),
    }
}

/// Resolves one of `owner`'s existing contact lists (700 otherwise).
pub(crate) fn own_list(s: &Server, owner: &str, raw: &str) -> Result<String, u16> {
    let id = super::contact_list::own_list_id(s, owner, Some(raw)).map_err(|r| r.0)?;
    if s.lists.get(owner).is_some_and(|m| m.contains_key(&id)) {
        Ok(id)
    } else {
        Err(700)
    }
}

/// Users and contact lists a request names, in the ≤ 1.2 shapes (`User*` or `UserID*`,
/// `ContactList*`) and the 1.3 wrappers (`UserIDList`, `ContactListIDList`).
pub(crate) fn targets<'a>(
    users: &'a [User],
    user_ids: &'a [String],
    user_id_list: Option<&'a UserIdList>,
    lists: &'a [String],
    list_id_list: Option<&'a ContactListIdList>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    let users = users
        .iter()
        .filter_map(|u| u.user_id.as_deref())
        .chain(user_ids.iter().map(String::as_str))
        .chain(
            user_id_list
                .iter()
                .flat_map(|l| l.user_id.iter().map(String::as_str)),
        )
        .collect();
    let lists = lists
        .iter()
        .chain(list_id_list.iter().flat_map(|l| l.contact_list.iter()))
        .map(String::as_str)
        .collect();
    (users, lists)
}

/// Expands requested users and own contact lists to presentities, collecting refusals.
pub(crate) fn expand(
    s: &Server,
    owner: &str,
    users: &[&str],
    lists: &[&str],
    failed: &mut Vec<(u16, String)>,
) -> (Vec<String>, Vec<String>) {
    let mut out: Vec<String> = Vec::new();
    let mut list_ids = Vec::new();
    for raw in users {
        match local_user(s, raw) {
            Ok(u) => {
                if !out.contains(&u) {
                    out.push(u);
                }
            }
            Err(code) => failed.push((code, (*raw).to_owned())),
        }
    }
    for raw in lists {
        match own_list(s, owner, raw) {
            Ok(id) => {
                if let Some(l) = s.lists.get(owner).and_then(|l| l.get(&id)) {
                    for m in l.member_ids(&s.presence.ids) {
                        if !out.iter().any(|o| o == m) {
                            out.push(m.to_owned());
                        }
                    }
                }
                list_ids.push(id);
            }
            Err(code) => failed.push((code, (*raw).to_owned())),
        }
    }
    (out, list_ids)
}

// ---- values -----------------------------------------------------------------------

/// Whether watchers see `user` online: a session, and not invisible.
fn online(s: &Server, user: &str) -> bool {
    s.by_user.contains_key(user)
        && !s
            .presence
            .ids
            .get(user)
            .and_then(|id| s.presence.people.get(&id))
            .is_some_and(|p| p.invisible)
}

/// The current values of `user`'s attributes in `set` (OnlineStatus from the server).
fn values(s: &Server, user: &str, set: AttrSet) -> PresenceSubList {
    let published = s
        .presence
        .ids
        .get(user)
        .and_then(|id| s.presence.people.get(&id))
        .and_then(|p| p.published.as_deref())
        .and_then(decode_published);
    let mut out = published.map_or_else(PresenceSubList::default, |p| attributes::filter(&p, set));
    if set.has(Attr::OnlineStatus) {
        out.online_status = vec![OnlineStatus::with_value(if online(s, user) {
            "T"
        } else {
            "F"
        })];
    }
    out
}

fn presence_of(user: &str, mut list: PresenceSubList, version: Version) -> Presence {
    attributes::shape(&mut list, version);
    Presence {
        user_id: Some(user.to_owned()),
        presence_sub_list: if list.is_empty() {
            Vec::new()
        } else {
            vec![list]
        },
        ..Default::default()
    }
}

fn notification(entries: Vec<Presence>) -> Primitive {
    Primitive::PresenceNotificationRequest(Box::new(PresenceNotificationRequest {
        presence: entries,
        ..Default::default()
    }))
}

/// Queues one PresenceNotification to every session of `watcher` with the values of
/// `(publisher, attributes)` pairs (entries with nothing to show are left out).
fn notify_values(s: &mut Server, watcher: &str, entries: &[(String, AttrSet)], withdrawn: bool) {
    let handles: Vec<(u64, Version)> = s
        .by_user
        .get(watcher)
        .map(|hs| {
            hs.iter()
                .filter_map(|h| s.sessions.get(h).map(|x| (*h, x.version)))
                .collect()
        })
        .unwrap_or_default();
    if handles.is_empty() {
        return;
    }
    let lists: Vec<(String, PresenceSubList)> = entries
        .iter()
        .map(|(p, set)| {
            let mut v = values(s, p, *set);
            if withdrawn {
                attributes::mark_withdrawn(&mut v, *set);
            }
            (p.clone(), v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if lists.is_empty() {
        return;
    }
    for (h, version) in handles {
        let presence = lists
            .iter()
            .map(|(p, v)| presence_of(p, v.clone(), version))
            .collect();
        s.enqueue(h, notification(presence));
    }
}

// ---- change propagation -----------------------------------------------------------

/// Records that `attrs` of `user` changed; notifies watchers now or after the coalescing
/// interval.
pub(crate) fn changed(s: &mut Server, user: &str, attrs: AttrSet) {
    let Some(pid) = s.presence.ids.get(user) else {
        return;
    };
    if attrs.is_empty() || !s.presence.watch.contains_key(&pid) {
        return;
    }
    let interval = s.config.presence.notify_interval_ms;
    let slot = s.presence.pending.entry(pid).or_default();
    let was_waiting = !slot.is_empty();
    *slot = slot.or(attrs);
    let due_at = s
        .presence
        .last_flush
        .get(&pid)
        .map_or(0, |t| t.saturating_add(interval));
    if s.now >= due_at {
        if was_waiting {
            s.presence.due.retain(|(_, p)| *p != pid);
        }
        flush(s, pid);
    } else if !was_waiting {
        s.presence.due.insert((due_at, pid));
    }
}

/// Sends `pid`'s pending changes to every watcher authorized for them.
fn flush(s: &mut Server, pid: u32) {
    let Some(changed) = s.presence.pending.remove(&pid) else {
        return;
    };
    s.presence.last_flush.insert(pid, s.now);
    let publisher = s.presence.ids.name(pid).to_owned();
    // Who gets what, read first so the queueing below may borrow the server mutably.
    let mut targets: Vec<(u64, Version, AttrSet)> = Vec::new();
    if let Some(watchers) = s.presence.watch.get(&pid) {
        for (w, x) in watchers {
            let vis = x.wanted.and(x.granted).and(changed);
            if vis.is_empty() {
                continue;
            }
            if let Some(hs) = s.by_user.get(s.presence.ids.name(*w)) {
                for h in hs {
                    if let Some(sess) = s.sessions.get(h) {
                        targets.push((*h, sess.version, vis));
                    }
                }
            }
        }
    }
    if targets.is_empty() {
        return;
    }
    let current = values(s, &publisher, changed);
    // Most watchers see the same attributes: build each (set, version) notification once.
    let mut built: Vec<(AttrSet, Version, Arc<Primitive>)> = Vec::new();
    for (h, version, vis) in targets {
        let p = match built
            .iter()
            .find(|(v, ver, _)| *v == vis && *ver == version)
        {
            Some((_, _, p)) => Arc::clone(p),
            None => {
                let mut list = attributes::filter(&current, vis);
                attributes::mark_withdrawn(&mut list, vis);
                let p = Arc::new(notification(vec![presence_of(&publisher, list, version)]));
                built.push((vis, version, Arc::clone(&p)));
                p
            }
        };
        s.enqueue_shared(h, p);
    }
}

/// Flushes the coalesced changes that are due.
pub(crate) fn on_timeout(s: &mut Server) {
    let now = s.now;
    while let Some(&(at, pid)) = s.presence.due.iter().next() {
        if at > now {
            break;
        }
        s.presence.due.remove(&(at, pid));
        flush(s, pid);
    }
    let interval = s.config.presence.notify_interval_ms;
    s.presence
        .last_flush
        .retain(|_, t| t.saturating_add(interval) > now);
}

/// Recomputes whether watchers see `user` online and tells them when it changed.
pub(crate) fn refresh_online(s: &mut Server, user: &str) {
    let now_online = online(s, user);
    let pid = s.presence.ids.intern(user);
    let p = s.presence.people.entry(pid).or_default();
    if p.online != now_online {
        p.online = now_online;
        changed(s, user, AttrSet::of(Attr::OnlineStatus));
    }
}

/// Re-evaluates what `publisher` authorizes for its watchers (all, or only `watcher`) and
/// sends newly visible values at once.
pub(crate) fn reauthorize(s: &mut Server, publisher: &str, watcher: Option<&str>) {
    let Some(pid) = s.presence.ids.get(publisher) else {
        return;
    };
    let only = watcher.map(|w| s.presence.ids.get(w));
    if only == Some(None) {
        return;
    }
    let entries: Vec<(u32, Watch)> = s
        .presence
        .watch
        .get(&pid)
        .map(|m| {
            m.iter()
                .filter(|(w, _)| only.is_none_or(|o| o == Some(**w)))
                .map(|(w, x)| (*w, *x))
                .collect()
        })
        .unwrap_or_default();
    let mut sends = Vec::new();
    for (w, x) in entries {
        let name = s.presence.ids.name(w).to_owned();
        let granted = authorization::authorized(s, publisher, &name);
        if granted != x.granted {
            if let Some(e) = s.presence.watch.get_mut(&pid).and_then(|m| m.get_mut(&w)) {
                e.granted = granted;
            }
            let newly = granted.minus(x.granted).and(x.wanted);
            if !newly.is_empty() {
                sends.push((name, newly));
            }
        }
    }
    for (w, newly) in sends {
        notify_values(s, &w, &[(publisher.to_owned(), newly)], true);
    }
}

// ---- storage ----------------------------------------------------------------------

/// The published list as one CSP 1.3 `PresenceSubList` element (the codec's own lossless
/// form, so every attribute and unknown detail survives).
fn encode_published(list: &PresenceSubList) -> Vec<u8> {
    let mut w = XmlOut::new(Version::V1_3, 256);
    list.encode("PresenceSubList", &mut w);
    w.into_bytes()
}

fn decode_published(bytes: &[u8]) -> Option<PresenceSubList> {
    let mut r = XmlIn::new(bytes, Limits::default());
    let root = r.root().ok()?;
    PresenceSubList::decode(&mut r, "PresenceSubList", &root).ok()?
}

fn subs_op(s: &Server, wid: u32) -> StorageOp {
    let watcher = s.presence.ids.name(wid).to_owned();
    match s.presence.subs.get(&wid) {
        Some(subs) if !subs.users.is_empty() || !subs.lists.is_empty() => StorageOp::Put {
            table: Table::Subscriptions,
            key: watcher.clone(),
            value: store::encode_record(&SubsRecord {
                watcher,
                users: subs
                    .users
                    .iter()
                    .map(|(p, w)| (s.presence.ids.name(*p).to_owned(), *w))
                    .collect(),
                lists: subs.lists.clone(),
            }),
        },
        _ => StorageOp::Delete {
            table: Table::Subscriptions,
            key: watcher,
        },
    }
}

/// Restores one stored record of the presence tables; false when it does not decode.
pub(crate) fn restore(s: &mut Server, table: Table, value: &[u8]) -> bool {
    match table {
        Table::Presence => {
            let Some(r) = store::decode_record::<PresenceRecord>(table, value) else {
                return false;
            };
            let published = if r.published.is_empty() {
                None
            } else {
                match decode_published(&r.published) {
                    Some(_) => Some(r.published.into_boxed_slice()),
                    None => return false,
                }
            };
            let id = s.presence.ids.intern(&r.user);
            let p = s.presence.people.entry(id).or_default();
            p.published = published;
            p.invisible = r.invisible;
            true
        }
        Table::Subscriptions => {
            let Some(r) = store::decode_record::<SubsRecord>(table, value) else {
                return false;
            };
            let wid = s.presence.ids.intern(&r.watcher);
            let mut subs = Subs {
                users: VecMap::new(),
                lists: r.lists,
            };
            for (p, wanted) in r.users {
                let pid = s.presence.ids.intern(&p);
                subs.users.insert(pid, wanted.known());
                s.presence.watch.entry(pid).or_default().insert(
                    wid,
                    Watch {
                        wanted: wanted.known(),
                        granted: AttrSet::NONE,
                    },
                );
            }
            s.presence.subs.insert(wid, subs);
            true
        }
        Table::Authorizations => authorization::restore(s, value),
        _ => false,
    }
}

/// After restore: derive what every watcher is authorized for.
pub(crate) fn finish_restore(s: &mut Server) {
    let pairs: Vec<(u32, u32)> = s
        .presence
        .watch
        .iter()
        .flat_map(|(p, m)| m.keys().map(move |w| (*p, *w)))
        .collect();
    for (p, w) in pairs {
        let (pn, wn) = (
            s.presence.ids.name(p).to_owned(),
            s.presence.ids.name(w).to_owned(),
        );
        let g = authorization::authorized(s, &pn, &wn);
        if let Some(x) = s.presence.watch.get_mut(&p).and_then(|m| m.get_mut(&w)) {
            x.granted = g;
        }
    }
}

/// Forgets everything of a deleted account; returns the storage changes.
pub(crate) fn remove_user(s: &mut Server, user: &str) -> Vec<StorageOp> {
    let Some(id) = s.presence.ids.get(user) else {
        return Vec::new();
    };
    let mut ops = vec![
        StorageOp::Delete {
            table: Table::Presence,
            key: user.to_owned(),
        },
        StorageOp::Delete {
            table: Table::Authorizations,
            key: user.to_owned(),
        },
        StorageOp::Delete {
            table: Table::Subscriptions,
            key: user.to_owned(),
        },
    ];
    s.presence.people.remove(&id);
    s.presence.auth.remove(&id);
    s.presence.pending.remove(&id);
    s.presence.due.retain(|(_, p)| *p != id);
    if let Some(subs) = s.presence.subs.remove(&id) {
        for p in subs.users.keys() {
            if let Some(m) = s.presence.watch.get_mut(p) {
                m.remove(&id);
                if m.is_empty() {
                    s.presence.watch.remove(p);
                }
            }
        }
    }
    if let Some(watchers) = s.presence.watch.remove(&id) {
        for w in watchers.keys() {
            if let Some(subs) = s.presence.subs.get_mut(w) {
                subs.users.remove(&id);
            }
            ops.push(subs_op(s, *w));
        }
    }
    ops
}

// ---- requests ---------------------------------------------------------------------

/// Subscribes `watcher` to `pid` (replacing an earlier wish) and derives the authorization.
fn add_watch(s: &mut Server, watcher: &str, publisher: &str, wanted: AttrSet) -> AttrSet {
    let wid = s.presence.ids.intern(watcher);
    let pid = s.presence.ids.intern(publisher);
    let granted = authorization::authorized(s, publisher, watcher);
    s.presence
        .subs
        .entry(wid)
        .or_default()
        .users
        .insert(pid, wanted);
    s.presence
        .watch
        .entry(pid)
        .or_default()
        .insert(wid, Watch { wanted, granted });
    granted
}

/// Subscribes `watcher` to `publishers`: initial notification of what is authorized, and an
/// authorization request where something wanted is not.
fn subscribe_to(s: &mut Server, watcher: &str, publishers: &[String], wanted: AttrSet) {
    let mut initial = Vec::new();
    for p in publishers {
        let granted = add_watch(s, watcher, p, wanted);
        let vis = granted.and(wanted);
        if !vis.is_empty() {
            initial.push((p.clone(), vis));
        }
        if !wanted.minus(granted).is_empty() {
            authorization::request(s, p, watcher, wanted);
        }
    }
    if let Some(subs) = s
        .presence
        .ids
        .get(watcher)
        .and_then(|w| s.presence.subs.get_mut(&w))
    {
        subs.users.shrink_to_fit();
    }
    notify_values(s, watcher, &initial, true);
}

/// `SubscribePresence-Request`.
pub(crate) fn subscribe(
    s: &mut Server,
    watcher: &str,
    req: &SubscribePresenceRequest,
) -> Primitive {
    let wanted = attributes::wanted(req.presence_sub_list.as_ref());
    let (users, lists) = targets(
        &req.user,
        &[],
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    if users.is_empty() && lists.is_empty() {
        return status(402, "name users or contact lists to subscribe to");
    }
    let mut failed = Vec::new();
    let (publishers, list_ids) = expand(s, watcher, &users, &lists, &mut failed);
    let wid = s.presence.ids.intern(watcher);
    if req.auto_subscribe == Some(true) {
        let subs = s.presence.subs.entry(wid).or_default();
        for id in &list_ids {
            subs.lists.insert(id.clone(), ListSub { wanted });
        }
    }
    subscribe_to(s, watcher, &publishers, wanted);
    let op = subs_op(s, wid);
    s.store(vec![op]);
    outcome(publishers.len() + list_ids.len(), failed)
}

/// `UnsubscribePresence-Request`.
pub(crate) fn unsubscribe(
    s: &mut Server,
    watcher: &str,
    req: &UnsubscribePresenceRequest,
) -> Primitive {
    let (users, lists) = targets(
        &req.user,
        &[],
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    let mut failed = Vec::new();
    let (publishers, list_ids) = expand(s, watcher, &users, &lists, &mut failed);
    let wid = s.presence.ids.intern(watcher);
    for p in &publishers {
        let Some(pid) = s.presence.ids.get(p) else {
            continue;
        };
        if let Some(subs) = s.presence.subs.get_mut(&wid) {
            subs.users.remove(&pid);
        }
        if let Some(m) = s.presence.watch.get_mut(&pid) {
            m.remove(&wid);
            if m.is_empty() {
                s.presence.watch.remove(&pid);
                s.presence.pending.remove(&pid);
                s.presence.due.retain(|(_, p)| *p != pid);
            }
        }
    }
    if let Some(subs) = s.presence.subs.get_mut(&wid) {
        for id in &list_ids {
            subs.lists.remove(id);
        }
    }
    let op = subs_op(s, wid);
    s.store(vec![op]);
    outcome(publishers.len() + list_ids.len(), failed)
}

/// `owner`'s contact lists changed: re-evaluate authorization (membership grants attribute
/// lists), and subscribe the members just `added` to list `list_id` where `owner` asked for
/// AutoSubscribe (only those: a member the owner unsubscribed stays unsubscribed).
pub(crate) fn list_changed(s: &mut Server, owner: &str, added: Option<(&str, &[String])>) {
    reauthorize(s, owner, None);
    let Some((list_id, added)) = added else {
        return;
    };
    let Some(wid) = s.presence.ids.get(owner) else {
        return;
    };
    let Some(sub) = s
        .presence
        .subs
        .get(&wid)
        .and_then(|x| x.lists.get(list_id))
        .copied()
    else {
        return;
    };
    let watched = |s: &Server, u: &str| {
        s.presence
            .ids
            .get(u)
            .and_then(|pid| s.presence.subs.get(&wid)?.users.get(&pid))
            .is_some()
    };
    let new: Vec<String> = added.iter().filter(|m| !watched(s, m)).cloned().collect();
    if new.is_empty() {
        return;
    }
    subscribe_to(s, owner, &new, sub.wanted);
    let op = subs_op(s, wid);
    s.store(vec![op]);
}

/// `owner` deleted its list `list_id`: an AutoSubscribe to it ends with it.
pub(crate) fn list_deleted(s: &mut Server, owner: &str, list_id: &str) {
    let Some(wid) = s.presence.ids.get(owner) else {
        return;
    };
    let removed = s
        .presence
        .subs
        .get_mut(&wid)
        .is_some_and(|x| x.lists.remove(list_id).is_some());
    if removed {
        let op = subs_op(s, wid);
        s.store(vec![op]);
    }
}

/// `GetPresence-Request`: the authorized values now; the caller does not become a watcher.
pub(crate) fn get_presence(
    s: &mut Server,
    watcher: &str,
    version: Version,
    req: &GetPresenceRequest,
) -> Primitive {
    let wanted = attributes::wanted(req.presence_sub_list.as_ref());
    let (users, lists) = targets(
        &req.user,
        &[],
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    if users.is_empty() && lists.is_empty() {
        return status(402, "name users or contact lists");
    }
    let mut failed = Vec::new();
    let (publishers, _) = expand(s, watcher, &users, &lists, &mut failed);
    let mut presence = Vec::new();
    for p in &publishers {
        let granted = authorization::authorized(s, p, watcher);
        let v = values(s, p, granted.and(wanted));
        presence.push(presence_of(p, v, version));
        if !wanted.minus(granted).is_empty() {
            authorization::request(s, p, watcher, wanted);
        }
    }
    let mut r = if failed.is_empty() {
        result(200, "")
    } else {
        result(201, "partially successful")
    };
    r.detailed_result = detailed(failed);
    Primitive::GetPresenceResponse(Box::new(GetPresenceResponse {
        result: Some(r),
        presence,
        ..Default::default()
    }))
}

/// `UpdatePresence-Request`.
pub(crate) fn update_presence(
    s: &mut Server,
    user: &str,
    req: &UpdatePresenceRequest,
) -> Primitive {
    let Some(list) = &req.presence_sub_list else {
        return status(402, "PresenceSubList missing");
    };
    if let Err((code, text)) = attributes::validate(list) {
        return status(code, &text);
    }
    let pid = s.presence.ids.intern(user);
    let person = s.presence.people.entry(pid).or_default();
    let was_invisible = person.invisible;
    let mut invisible = was_invisible;
    if let Some(os) = list.online_status.first() {
        if os.qualifier == Some(false) || os.value() == Some(false) {
            invisible = true;
        } else if os.value() == Some(true) {
            invisible = false;
        }
    }
    let mut published = person
        .published
        .as_deref()
        .and_then(decode_published)
        .unwrap_or_default();
    let changes = attributes::merge(&mut published, list);
    if changes.is_empty() && invisible == was_invisible {
        return status(200, "");
    }
    let encoded = if published.is_empty() {
        Vec::new()
    } else {
        encode_published(&published)
    };
    if encoded.len() > s.config.presence.max_published_bytes as usize {
        return status(751, "presence values too large");
    }
    person.invisible = invisible;
    person.published = (!encoded.is_empty()).then(|| encoded.clone().into_boxed_slice());
    s.store(vec![StorageOp::Put {
        table: Table::Presence,
        key: user.to_owned(),
        value: store::encode_record(&PresenceRecord {
            user: user.to_owned(),
            invisible,
            published: encoded,
        }),
    }]);
    changed(s, user, changes);
    refresh_online(s, user);
    status(200, "")
}

/// `GetWatcherList-Request`: everyone subscribed to `user`, authorized or not.
pub(crate) fn watcher_list(
    s: &Server,
    user: &str,
    version: Version,
    req: &GetWatcherListRequest,
) -> Primitive {
    let mut r = GetWatcherListResponse::default();
    let watchers: Vec<(String, AttrSet)> = s
        .presence
        .ids
        .get(user)
        .and_then(|pid| s.presence.watch.get(&pid))
        .map(|m| {
            m.iter()
                .map(|(w, x)| (s.presence.ids.name(*w).to_owned(), x.granted))
                .collect()
        })
        .unwrap_or_default();
    let total = watchers.len();
    let max = req.max_watcher_list.map_or(usize::MAX, |m| m as usize);
    for (w, granted) in watchers.into_iter().take(max) {
        let state = if version == Version::V1_3 {
            AuthState::CurrentSubscriber
        } else if !granted.is_empty() {
            AuthState::Granted
        } else if authorization::is_pending(s, user, &w) {
            AuthState::Pending
        } else {
            AuthState::Denied
        };
        match version {
            Version::V1_1 => r.user.push(User::id(w)),
            Version::V1_2 => r.watcher.push(Watcher {
                user: Some(User::id(w)),
                watcher_status: Some(state),
                ..Default::default()
            }),
            Version::V1_3 => r.watcher.push(Watcher {
                user_id: Some(w),
                watcher_status: Some(state),
                ..Default::default()
            }),
        }
    }
    if version == Version::V1_3 && req.max_watcher_list.is_some() {
        r.watcher_count = u32::try_from(total).ok();
    }
    Primitive::GetWatcherListResponse(Box::new(r))
}

/// A new session of `user` started: tell watchers it is online, and hand it the
/// authorization requests that wait for an answer.
pub(crate) fn session_started(s: &mut Server, user: &str, handle: u64) {
    refresh_online(s, user);
    authorization::deliver_pending(s, user, handle);
}
