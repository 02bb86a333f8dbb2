//! Invitations and shared content (CSP-REFERENCE §2.2): Invite-Request, InviteUser-Request,
//! InviteUser-Response, Invite-Response, CancelInvite-Request and CancelInviteUser-Request.
//!
//! An invitation is one durable record (table `Invitations`, key `<inviter>/<InviteID>`)
//! holding what was offered and each invitee's state; it is stored before the inviter's
//! answer. Decisions where the reference is silent or sources differ:
//! - **Types.** `GR`/`GM` name an existing group (402 without GroupID, 800 unknown) the
//!   inviter is a member of or joined to (810); a Restricted group needs an administrator or
//!   moderator (816), and accepting makes the invitee a member (accepting never joins: the
//!   invitee then sends JoinGroup). `PR` offers the inviter's presence attributes named in
//!   PresenceSubList (all when none is named); accepting grants them to the invitee (as a
//!   reactive grant). `IM` and `US` are relayed. `SC` needs a URLList (402) and is the
//!   shared-content service: the content stays on the web, the invitation is the share; it
//!   stays open after it is accepted, until the inviter cancels it or it expires, and
//!   [`super::Server::open_invitations`] lists a user's open shares and invitations. `AP`
//!   needs an ApplicationID (402); `EC`/`EG` are not offered (501).
//! - **Recipients.** Users (402/516/531 each), the inviter's contact lists (700), and groups:
//!   a `GroupID` reaches every other joined user of the group, a `ScreenName` one of them
//!   (the inviter must be joined, 808; the group's hidden ids stay hidden: the invitation
//!   shows the inviter's screen name, the answer the invitee's). The inviter itself is
//!   skipped. An invitee whose block (or grant) list keeps the inviter out gets nothing; the
//!   inviter learns 532 for a user it named, nothing for group members (as group messages).
//!   The answer is 200, or 201 with a DetailedResult per refused recipient; an invitation
//!   that reaches nobody is not kept.
//! - **Ids.** The InviteID is the inviter's; an inviter reusing one of its open ids gets
//!   400. Answers and cancellations name the InviteID; the invitee's answer is matched to the
//!   invitation that names it (1.3: and its Recipient, the inviter). An unknown, cancelled,
//!   already answered or expired invitation gets 423.
//! - **Validity.** Validity seconds, capped by `invite.max_validity_secs` (also the default),
//!   from the time of the request; expired invitations are forgotten.
//! - **Delivery.** Invitees receive InviteUser-Request in every session (queued, with a
//!   wake-up); one without a session receives it at its next login while it is open. The
//!   inviter receives Invite-Response in every session; without one, the answer is kept and
//!   delivered at its next login. CancelInviteUser-Request reaches the sessions of invitees
//!   who have not declined.
//! - **Limits.** `invite.per_minute` Invite-Requests per inviter per minute (503 beyond, with
//!   nothing kept), `invite.max_open_per_user` open invitations per inviter (507).

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::boxmap::BoxMap;
use crate::codec::common::{Group, Recipient, ScreenName, Sender, Status, UrlList, User};
use crate::codec::fundamental::{
    CancelInviteRequest, InviteRequest, InviteResponse, InviteType, InviteUserResponse,
};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};

use super::attributes::{self, AttrSet};
use super::presence::{self, outcome};
use super::{Millis, Server, authorization, block_list, group};

/// An invitee's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Pending,
    Accepted,
    Declined,
}

/// One invitee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Invitee {
    /// Canonical user id.
    user: String,
    state: State,
    /// Reached through a group that hides its id: `(group id, screen name)` it answers as.
    via: Option<(String, String)>,
}

/// An answer waiting for the inviter's next session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Answer {
    invitee: String,
    acceptance: bool,
    note: Option<String>,
    screen_name: Option<(String, String)>,
}

/// An invitation as stored (record schema v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Invitation {
    /// The inviter's InviteID.
    id: String,
    /// Canonical inviter id.
    inviter: String,
    /// InviteType as sent.
    kind: String,
    invitees: Vec<Invitee>,
    group_id: Option<String>,
    /// Presence attributes offered (PR).
    attrs: AttrSet,
    urls: Vec<String>,
    note: Option<String>,
    /// How the inviter appears: `(screen name, group id)`.
    screen_name: Option<(String, String)>,
    application_id: Option<String>,
    /// When it was sent and when it expires (Unix ms).
    sent: i64,
    expires: i64,
    /// Answers not yet delivered to the inviter.
    answers: Vec<Answer>,
}

impl Invitation {
    fn key(&self) -> String {
        key(&self.inviter, &self.id)
    }

    fn kind(&self) -> InviteType {
        InviteType::parse(&self.kind)
    }

    fn is_open(&self) -> bool {
        let share = self.kind() == InviteType::SharedContent;
        self.invitees
            .iter()
            .any(|i| i.state == State::Pending || (share && i.state == State::Accepted))
            || !self.answers.is_empty()
    }
}

/// What [`super::Server::open_invitations`] tells about one invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationInfo {
    /// The InviteID.
    pub invite_id: String,
    /// The inviter.
    pub inviter: String,
    /// InviteType (`GR`, `PR`, `IM`, `SC`, …).
    pub invite_type: String,
    /// The shared URLs (SC).
    pub urls: Vec<String>,
    /// Invitees and their state (`pending`, `accepted`, `declined`).
    pub invitees: Vec<(String, &'static str)>,
    /// Expiry, Unix ms.
    pub expires_ms: i64,
}

/// Every open invitation, indexed by the users it concerns.
#[derive(Debug, Default)]
pub(crate) struct Invitations {
    all: BoxMap<String, Invitation>,
    /// Keys of the invitations each user sent or received.
    by_user: BoxMap<String, crate::vecmap::VecSet<String>>,
    /// (expiry, key).
    expiries: BTreeSet<(i64, String)>,
    /// Recent Invite-Request times per inviter (rate limit).
    sent: BoxMap<String, VecDeque<Millis>>,
}

fn key(inviter: &str, id: &str) -> String {
    let mut k = String::with_capacity(inviter.len() + 1 + id.len());
    k.push_str(inviter);
    k.push('/');
    k.push_str(id);
    k
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

fn wall_now(s: &Server) -> i64 {
    s.wall_clock_ms
        .saturating_add(i64::try_from(s.now.saturating_sub(s.wall_at)).unwrap_or(0))
}

// ---- memory and storage ---------------------------------------------------------------

fn index(inv: &mut Invitations, i: Invitation) {
    let k = i.key();
    for u in std::iter::once(&i.inviter).chain(i.invitees.iter().map(|x| &x.user)) {
        inv.by_user.entry(u.clone()).or_default().insert(k.clone());
    }
    inv.expiries.insert((i.expires, k.clone()));
    inv.all.insert(k, i);
}

fn unindex(inv: &mut Invitations, k: &str) -> Option<Invitation> {
    let i = inv.all.remove(k)?;
    for u in std::iter::once(&i.inviter).chain(i.invitees.iter().map(|x| &x.user)) {
        if let Some(set) = inv.by_user.get_mut(u) {
            set.remove(k);
            if set.is_empty() {
                inv.by_user.remove(u);
            }
        }
    }
    inv.expiries.remove(&(i.expires, k.to_owned()));
    Some(i)
}

fn put(i: &Invitation) -> StorageOp {
    StorageOp::Put {
        table: Table::Invitations,
        key: i.key(),
        value: store::encode_record(i),
    }
}

fn delete(k: String) -> StorageOp {
    StorageOp::Delete {
        table: Table::Invitations,
        key: k,
    }
}

/// Stores invitation `k` as it is now: kept while open, deleted (and forgotten) otherwise.
fn save(s: &mut Server, k: &str) {
    let op = match s.invitations.all.get(k) {
        Some(i) if i.is_open() => put(i),
        Some(_) => {
            unindex(&mut s.invitations, k);
            delete(k.to_owned())
        }
        None => delete(k.to_owned()),
    };
    s.store(vec![op]);
}

/// Restores one stored invitation; false when it does not decode.
pub(crate) fn restore(s: &mut Server, value: &[u8]) -> bool {
    let Some(i) = store::decode_record::<Invitation>(Table::Invitations, value) else {
        return false;
    };
    index(&mut s.invitations, i);
    true
}

/// A deleted account: the invitations it sent go, and it leaves those it received.
pub(crate) fn remove_user(s: &mut Server, user: &str) -> Vec<StorageOp> {
    let keys: Vec<String> = s
        .invitations
        .by_user
        .get(user)
        .map(|k| k.iter().cloned().collect())
        .unwrap_or_default();
    let mut ops = Vec::new();
    for k in keys {
        let Some(mut i) = unindex(&mut s.invitations, &k) else {
            continue;
        };
        if i.inviter == user {
            ops.push(delete(k));
            continue;
        }
        i.invitees.retain(|x| x.user != user);
        i.answers.retain(|a| a.invitee != user);
        if i.is_open() {
            ops.push(put(&i));
            index(&mut s.invitations, i);
        } else {
            ops.push(delete(k));
        }
    }
    s.invitations.sent.remove(user);
    ops
}

/// The monotonic deadline of the next expiry, once the wall clock is known.
pub(crate) fn next_timeout(s: &Server) -> Option<Millis> {
    if s.wall_clock_ms == 0 {
        return None;
    }
    let (at, _) = s.invitations.expiries.iter().next()?;
    let wait = at.saturating_sub(wall_now(s)).max(0);
    Some(s.now.saturating_add(u64::try_from(wait).unwrap_or(0)))
}

/// Forgets expired invitations and old rate-limit entries.
pub(crate) fn on_timeout(s: &mut Server) {
    if s.wall_clock_ms != 0 {
        let now = wall_now(s);
        let mut ops = Vec::new();
        while let Some((at, k)) = s.invitations.expiries.iter().next().cloned() {
            if at > now {
                break;
            }
            s.invitations.expiries.remove(&(at, k.clone()));
            unindex(&mut s.invitations, &k);
            ops.push(delete(k));
        }
        s.store(ops);
    }
    let cutoff = s.now.saturating_sub(60_000);
    s.invitations.sent.retain(|_, q| {
        while q.front().is_some_and(|t| *t <= cutoff) {
            q.pop_front();
        }
        !q.is_empty()
    });
}

/// The open invitations `user` sent or received (shares included), oldest key first.
pub(crate) fn open_for(s: &Server, user: &str) -> Vec<InvitationInfo> {
    let now = wall_now(s);
    s.invitations
        .by_user
        .get(user)
        .into_iter()
        .flatten()
        .filter_map(|k| s.invitations.all.get(k))
        .filter(|i| i.expires > now)
        .map(|i| InvitationInfo {
            invite_id: i.id.clone(),
            inviter: i.inviter.clone(),
            invite_type: i.kind.clone(),
            urls: i.urls.clone(),
            invitees: i
                .invitees
                .iter()
                .map(|x| {
                    let st = match x.state {
                        State::Pending => "pending",
                        State::Accepted => "accepted",
                        State::Declined => "declined",
                    };
                    (x.user.clone(), st)
                })
                .collect(),
            expires_ms: i.expires,
        })
        .collect()
}

// ---- primitives to deliver ---------------------------------------------------------------

fn sname(n: &(String, String)) -> ScreenName {
    ScreenName {
        sname: Some(n.0.clone()),
        group_id: Some(n.1.clone()),
        ..Default::default()
    }
}

fn user_sender(user: &str) -> Sender {
    Sender {
        user: Some(User::id(user)),
        ..Default::default()
    }
}

fn sname_sender(n: &(String, String)) -> Sender {
    Sender {
        group: Some(Group {
            screen_name: Some(sname(n)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn user_recipient(user: &str) -> Recipient {
    Recipient {
        user: vec![User::id(user)],
        ..Default::default()
    }
}

/// The InviteUser-Request for `invitee`, shaped for `version`.
fn invite_user_request(i: &Invitation, now: i64, invitee: &str, version: Version) -> Primitive {
    let sender = match &i.screen_name {
        Some(n) => sname_sender(n),
        None => user_sender(&i.inviter),
    };
    let remaining = (i.expires.saturating_sub(now) / 1000).max(1);
    Primitive::InviteUserRequest(Box::new(InviteRequest {
        invite_id: Some(i.id.clone()),
        invite_type: Some(i.kind()),
        sender: Some(sender),
        recipient: (version == Version::V1_3).then(|| user_recipient(invitee)),
        application_id: i.application_id.clone(),
        group_id: i.group_id.clone(),
        presence_sub_list: (i.kind() == InviteType::Presence).then(|| attributes::names(i.attrs)),
        url_list: (!i.urls.is_empty()).then(|| UrlList {
            url: i.urls.clone(),
            ..Default::default()
        }),
        invite_note: i.note.clone(),
        screen_name: if version == Version::V1_3 {
            i.screen_name.as_ref().map(sname)
        } else {
            None
        },
        validity: Some(u32::try_from(remaining).unwrap_or(u32::MAX)),
        ..Default::default()
    }))
}

/// The Invite-Response relaying `a` to the inviter, shaped for `version`.
fn invite_response(
    i: &Invitation,
    a: &Answer,
    via: Option<&(String, String)>,
    version: Version,
) -> Primitive {
    let sender = match via {
        Some((g, n)) => sname_sender(&(n.clone(), g.clone())),
        None => user_sender(&a.invitee),
    };
    let v13 = version == Version::V1_3;
    Primitive::InviteResponse(Box::new(InviteResponse {
        invite_id: Some(i.id.clone()),
        acceptance: Some(a.acceptance),
        sender: Some(sender),
        recipient: v13.then(|| user_recipient(&i.inviter)),
        response_note: if v13 { None } else { a.note.clone() },
        invite_note: if v13 { a.note.clone() } else { None },
        screen_name: if v13 {
            a.screen_name.as_ref().map(sname)
        } else {
            None
        },
        ..Default::default()
    }))
}

fn sessions_of(s: &Server, user: &str) -> Vec<(u64, Version)> {
    s.by_user
        .get(user)
        .into_iter()
        .flatten()
        .filter_map(|h| s.sessions.get(h).map(|x| (*h, x.version)))
        .collect()
}

/// Queues the InviteUser-Request of invitation `k` in every session of `invitee`.
fn deliver_invitation(s: &mut Server, k: &str, invitee: &str) {
    let now = wall_now(s);
    for (h, version) in sessions_of(s, invitee) {
        let Some(i) = s.invitations.all.get(k) else {
            return;
        };
        let p = invite_user_request(i, now, invitee, version);
        s.enqueue(h, p);
    }
}

/// Hands the inviter its waiting answers; true when some session took them.
fn deliver_answers(s: &mut Server, k: &str) -> bool {
    let Some(i) = s.invitations.all.get(k) else {
        return false;
    };
    let targets = sessions_of(s, &i.inviter);
    if targets.is_empty() || i.answers.is_empty() {
        return false;
    }
    let mut prims = Vec::new();
    for (h, version) in targets {
        for a in &i.answers {
            let via = i
                .invitees
                .iter()
                .find(|x| x.user == a.invitee)
                .and_then(|x| x.via.as_ref());
            prims.push((h, invite_response(i, a, via, version)));
        }
    }
    for (h, p) in prims {
        s.enqueue(h, p);
    }
    if let Some(i) = s.invitations.all.get_mut(k) {
        i.answers.clear();
    }
    true
}

/// A new session of `user`: its open invitations and the answers waiting for it.
pub(crate) fn session_started(s: &mut Server, user: &str, h: u64) {
    let keys: Vec<String> = s
        .invitations
        .by_user
        .get(user)
        .map(|k| k.iter().cloned().collect())
        .unwrap_or_default();
    let now = wall_now(s);
    let version = s.sessions.get(&h).map_or(Version::V1_2, |x| x.version);
    for k in keys {
        let Some(i) = s.invitations.all.get(&k) else {
            continue;
        };
        if i.expires <= now {
            continue;
        }
        if i.inviter == user && !i.answers.is_empty() {
            if deliver_answers(s, &k) {
                save(s, &k);
            }
            continue;
        }
        let pending = i
            .invitees
            .iter()
            .any(|x| x.user == user && x.state == State::Pending);
        if pending {
            let p = invite_user_request(i, now, user, version);
            s.enqueue(h, p);
        }
    }
}

// ---- requests ---------------------------------------------------------------------------

/// `Invite-Request` from `inviter`.
pub(crate) fn invite(s: &mut Server, inviter: &str, req: &InviteRequest) -> Primitive {
    let Some(id) = req
        .invite_id
        .as_deref()
        .map(str::trim)
        .filter(|x| !x.is_empty())
    else {
        return status(402, "InviteID missing");
    };
    let Some(kind) = req.invite_type.clone() else {
        return status(402, "InviteType missing");
    };
    let Some(recipient) = &req.recipient else {
        return status(402, "Recipient missing");
    };
    // Rate limit first: a refused request costs nothing more.
    let now_ms = s.now;
    let per_minute = s.config.invite.per_minute as usize;
    let q = s.invitations.sent.entry(inviter.to_owned()).or_default();
    while q.front().is_some_and(|t| *t + 60_000 <= now_ms) {
        q.pop_front();
    }
    if q.len() >= per_minute {
        return status(503, "too many invitations; try again in a minute");
    }
    q.push_back(now_ms);

    let k = key(inviter, id);
    if s.invitations.all.contains_key(&k) {
        return status(400, "an open invitation already has this InviteID");
    }
    let open = s.invitations.by_user.get(inviter).map_or(0, |set| {
        set.iter()
            .filter(|k| {
                s.invitations
                    .all
                    .get(*k)
                    .is_some_and(|i| i.inviter == inviter)
            })
            .count()
    });
    if open >= s.config.invite.max_open_per_user as usize {
        return status(507, "too many open invitations");
    }
    let mut group_id = None;
    let mut attrs = AttrSet::NONE;
    match &kind {
        InviteType::Group | InviteType::GroupMembership => {
            if req.group_id.is_none() {
                return status(402, "GroupID missing");
            }
            match group::may_invite(s, req.group_id.as_deref(), inviter) {
                Ok(g) => group_id = Some(g),
                Err(code) => return status(code, group::describe(code)),
            }
        }
        InviteType::Presence => attrs = attributes::wanted(req.presence_sub_list.as_ref()),
        InviteType::SharedContent => {
            if req.url_list.as_ref().is_none_or(|l| l.url.is_empty()) {
                return status(402, "URLList missing");
            }
        }
        InviteType::Application => {
            if req.application_id.is_none() {
                return status(402, "ApplicationID missing");
            }
        }
        InviteType::Im | InviteType::User => {}
        other => {
            return status(
                501,
                &format!("InviteType {} is not offered", other.as_str()),
            );
        }
    }
    let urls = req
        .url_list
        .as_ref()
        .map(|l| l.url.clone())
        .unwrap_or_default();
    if urls.iter().any(|u| u.trim().is_empty() || u.len() > 2048) {
        return status(402, "invalid URL");
    }

    // Recipients.
    let mut failed: Vec<(u16, String)> = Vec::new();
    let names: Vec<&str> = recipient
        .user
        .iter()
        .filter_map(|u| u.user_id.as_deref())
        .collect();
    let lists: Vec<&str> = recipient.contact_list.iter().map(String::as_str).collect();
    let (users, _) = presence::expand(s, inviter, &names, &lists, &mut failed);
    let mut invitees: Vec<Invitee> = Vec::new();
    for u in users {
        if u == inviter {
            continue;
        }
        if block_list::blocks(s, &u, inviter) {
            failed.push((532, u));
            continue;
        }
        invitees.push(Invitee {
            user: u,
            state: State::Pending,
            via: None,
        });
    }
    let mut screen_name = req
        .screen_name
        .as_ref()
        .and_then(|n| Some((n.sname.clone()?, n.group_id.clone()?)));
    for g in &recipient.group {
        let what = g
            .group_id
            .clone()
            .or_else(|| g.screen_name.as_ref()?.group_id.clone())
            .unwrap_or_default();
        match group::message_targets(s, inviter, g) {
            Ok(send) => {
                let hidden = send.sender_as.clone();
                if let Some(n) = &hidden
                    && screen_name.is_none()
                {
                    screen_name = n.sname.clone().map(|x| (x, send.group_id.clone()));
                }
                for u in send.to {
                    if u == inviter || invitees.iter().any(|x| x.user == u) {
                        continue;
                    }
                    let via = group_sname(s, &send.group_id, &u);
                    invitees.push(Invitee {
                        user: u,
                        state: State::Pending,
                        via,
                    });
                }
            }
            Err(code) => failed.push((code, what)),
        }
    }
    let done = invitees.len();
    if done == 0 {
        if failed.is_empty() {
            return status(200, "nobody to invite");
        }
        return outcome(0, failed);
    }
    let now = wall_now(s);
    let max = s.config.invite.max_validity_secs;
    let validity = req.validity.map_or(max, |v| v.min(max)).max(1);
    let inv = Invitation {
        id: id.to_owned(),
        inviter: inviter.to_owned(),
        kind: kind.as_str().to_owned(),
        invitees,
        group_id,
        attrs,
        urls,
        note: req.invite_note.clone(),
        screen_name,
        application_id: req.application_id.clone(),
        sent: now,
        expires: now.saturating_add(i64::from(validity) * 1000),
        answers: Vec::new(),
    };
    let to: Vec<String> = inv.invitees.iter().map(|x| x.user.clone()).collect();
    s.store(vec![put(&inv)]);
    index(&mut s.invitations, inv);
    for u in to {
        deliver_invitation(s, &k, &u);
    }
    outcome(done, failed)
}

/// `(group id, screen name)` of joined `user` when group `id` hides its user id.
fn group_sname(s: &Server, id: &str, user: &str) -> Option<(String, String)> {
    let g = s.groups.groups.get(id)?;
    if g.shows_user_id(user) {
        return None;
    }
    group::joined_sname(g, user).map(|n| (id.to_owned(), n.to_owned()))
}

/// `InviteUser-Response` from `invitee`: the answer is applied and relayed to the inviter.
pub(crate) fn invite_user_response(
    s: &mut Server,
    invitee: &str,
    req: &InviteUserResponse,
) -> Primitive {
    let Some(id) = req.invite_id.as_deref().map(str::trim) else {
        return status(402, "InviteID missing");
    };
    let Some(acceptance) = req.acceptance else {
        return status(402, "Acceptance missing");
    };
    // 1.3 names the inviter; otherwise the invitation is the one naming this invitee.
    let inviter_named = req
        .recipient
        .as_ref()
        .and_then(|r| r.user.first())
        .and_then(|u| u.user_id.as_deref())
        .and_then(|raw| presence::local_user(s, raw).ok());
    let now = wall_now(s);
    let k = s
        .invitations
        .by_user
        .get(invitee)
        .into_iter()
        .flatten()
        .filter_map(|k| s.invitations.all.get(k))
        .filter(|i| i.id == id && inviter_named.as_ref().is_none_or(|n| *n == i.inviter))
        .find(|i| {
            i.invitees
                .iter()
                .any(|x| x.user == invitee && x.state == State::Pending)
        })
        .map(Invitation::key);
    let Some(k) = k else {
        return status(423, "invalid invitation id");
    };
    let Some(i) = s.invitations.all.get(&k).cloned() else {
        return status(423, "invalid invitation id");
    };
    if i.expires <= now {
        unindex(&mut s.invitations, &k);
        s.store(vec![delete(k)]);
        return status(423, "the invitation has expired");
    }
    if acceptance {
        match i.kind() {
            InviteType::Group | InviteType::GroupMembership => {
                if let Some(g) = &i.group_id
                    && let Err(code) = group::admit(s, g, &i.inviter, invitee)
                {
                    return status(code, group::describe(code));
                }
            }
            InviteType::Presence => authorization::grant(s, &i.inviter, invitee, i.attrs),
            _ => {}
        }
    }
    let answer = Answer {
        invitee: invitee.to_owned(),
        acceptance,
        note: req.response_note.clone(),
        screen_name: req
            .screen_name
            .as_ref()
            .and_then(|n| Some((n.sname.clone()?, n.group_id.clone()?))),
    };
    if let Some(inv) = s.invitations.all.get_mut(&k) {
        if let Some(x) = inv.invitees.iter_mut().find(|x| x.user == invitee) {
            x.state = if acceptance {
                State::Accepted
            } else {
                State::Declined
            };
        }
        inv.answers.push(answer);
    }
    deliver_answers(s, &k);
    save(s, &k);
    status(200, "")
}

/// `CancelInvite-Request` from `inviter`: the named invitees (all when none is named) are
/// told with CancelInviteUser-Request and leave the invitation.
pub(crate) fn cancel_invite(s: &mut Server, inviter: &str, req: &CancelInviteRequest) -> Primitive {
    let Some(id) = req.invite_id.as_deref().map(str::trim) else {
        return status(402, "InviteID missing");
    };
    let k = key(inviter, id);
    let Some(i) = s.invitations.all.get(&k).cloned() else {
        return status(423, "invalid invitation id");
    };
    let mut failed = Vec::new();
    let named: Option<Vec<String>> = req.recipient.as_ref().map(|r| {
        let names: Vec<&str> = r.user.iter().filter_map(|u| u.user_id.as_deref()).collect();
        let lists: Vec<&str> = r.contact_list.iter().map(String::as_str).collect();
        let (mut users, _) = presence::expand(s, inviter, &names, &lists, &mut failed);
        // Group recipients: whoever the invitation reached through that group.
        for g in &r.group {
            if let Some(gid) = g.group_id.as_deref() {
                users.extend(
                    i.invitees
                        .iter()
                        .filter(|x| x.via.as_ref().is_some_and(|(v, _)| v == gid))
                        .map(|x| x.user.clone()),
                );
            }
        }
        users
    });
    let cancelled: Vec<Invitee> = i
        .invitees
        .iter()
        .filter(|x| named.as_ref().is_none_or(|n| n.contains(&x.user)))
        .cloned()
        .collect();
    if cancelled.is_empty() {
        return if failed.is_empty() {
            status(423, "the invitation does not name them")
        } else {
            outcome(0, failed)
        };
    }
    let sender = match &i.screen_name {
        Some(n) => sname_sender(n),
        None => user_sender(inviter),
    };
    let note = req.invite_note.clone().or_else(|| i.note.clone());
    for x in &cancelled {
        if x.state == State::Declined {
            continue;
        }
        for (h, version) in sessions_of(s, &x.user) {
            let p = Primitive::CancelInviteUserRequest(Box::new(CancelInviteRequest {
                invite_id: Some(i.id.clone()),
                sender: Some(sender.clone()),
                recipient: (version == Version::V1_3).then(|| user_recipient(&x.user)),
                invite_note: note.clone(),
                group_id: if version == Version::V1_3 {
                    i.group_id.clone()
                } else {
                    None
                },
                url_list: (!i.urls.is_empty()).then(|| UrlList {
                    url: i.urls.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }));
            s.enqueue(h, p);
        }
    }
    let mut inv = match unindex(&mut s.invitations, &k) {
        Some(inv) => inv,
        None => return status(423, "invalid invitation id"),
    };
    inv.invitees
        .retain(|x| !cancelled.iter().any(|c| c.user == x.user));
    inv.answers
        .retain(|a| !cancelled.iter().any(|c| c.user == a.invitee));
    if inv.is_open() {
        s.store(vec![put(&inv)]);
        index(&mut s.invitations, inv);
    } else {
        s.store(vec![delete(k)]);
    }
    outcome(cancelled.len(), failed)
}
