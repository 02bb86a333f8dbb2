//! Instant messaging (CSP-REFERENCE §2.5): SendMessage (to users, contact lists and groups),
//! push (NewMessage) and notify/pull (MessageNotification, GetMessage) delivery,
//! MessageDelivered, GetMessageList, RejectMessage, ForwardMessage, SetDeliveryMethod,
//! delivery reports, offline store-and-forward.
//!
//! Every accepted message is one *item* per recipient in that recipient's mailbox, stored
//! before the SendMessage-Response is released, and deleted only when a session of the
//! recipient acknowledges it (MessageDelivered, or a Status answering the NewMessage), when
//! the recipient rejects it, or when it expires (its Validity, capped by
//! `im.max_retention_secs`). Delivery reports are items in the sender's mailbox, deleted when
//! acknowledged.
//!
//! Decisions:
//! - **Several sessions**: an item goes to every session of the recipient that has agreed its
//!   capabilities, each by its own delivery method; the first acknowledgement from any of
//!   them delivers it, and the copies waiting in the other sessions are withdrawn.
//! - **Redelivery**: an item not acknowledged is delivered again, with the same MessageID, to
//!   each new session of the recipient (a client drops the duplicates by MessageID).
//! - A session receives the mailbox once its capabilities are agreed (ClientCapability, or a
//!   1.3 login carrying them, or Service negotiation, whichever comes first), so the delivery
//!   method it asked for applies.
//! - Push content longer than the session's push limit (AcceptedContentLength) arrives as a
//!   MessageNotification instead. A content type no session of an online recipient accepts is
//!   refused for that recipient (415); an offline recipient's limits are unknown, so the
//!   message is kept.
//! - The server writes Sender (the authenticated user), MessageID and DateTime; ContentData
//!   is relayed byte for byte. ForwardMessage sends a copy of a message still in the
//!   forwarder's mailbox, from the forwarder, with a new MessageID.
//! - Access control: the recipient's block and grant lists decide (532), see
//!   [`super::block_list`]: the block list wins over the grant list.
//! - Groups: a message to a group reaches its joined users as [`super::group`] decides; the
//!   sender appears by screen name where the group hides ids (one shared NewMessage per way
//!   the sender is shown). Deliveries through a group carry no delivery report, and their
//!   per-member refusals are not told the sender (they would name members by id); a private
//!   message's refusals are named by the ScreenName as sent. A user named directly and
//!   through a group receives the message once, as named first (users, then contact lists,
//!   then groups).

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::boxmap::BoxMap;
use crate::codec::capability::DeliveryMethod;
use crate::codec::common::{DetailedResult, Group, Recipient, ScreenName, Sender, Status, User};
use crate::codec::im::{
    DeliveryReportRequest, ForwardMessageRequest, GetMessageListRequest, GetMessageListResponse,
    MessageInfo, MessageInfoList, MessageNotification, MessageRef, NewMessage,
    RejectMessageRequest, SendMessageRequest, SendMessageResponse, SetDeliveryMethodRequest,
};
use crate::codec::xml::{XmlIn, XmlOut, XmlValue};
use crate::codec::{Limits, Primitive, Version};
use crate::datetime;
use crate::store::{self, StorageOp, Table};

use super::presence::{describe, local_user, own_list};
use super::session::Queued;
use super::{Millis, Server, block_list, group, result};

/// What a mailbox item is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A message for the mailbox owner.
    Message {
        /// Envelope and content as pushed: always a `Primitive::NewMessage`, shared by every
        /// recipient's item and every queued delivery (no copy per recipient or session).
        message: Arc<Primitive>,
        /// `message` encoded (its `NewMessage` element, the same in every version), written
        /// once for the stored record and every push of it.
        xml: Arc<str>,
        /// The sender (canonical), for reports and block checks.
        sender: String,
        /// Whether the sender asked for a delivery report.
        report: bool,
    },
    /// A delivery report for the mailbox owner (the sender of a message).
    Report(Box<DeliveryReportRequest>),
}

impl Kind {
    /// The message of a message item.
    fn new_message(&self) -> Option<&NewMessage> {
        match self {
            Kind::Message { message, .. } => match &**message {
                Primitive::NewMessage(m) => Some(m),
                _ => None,
            },
            Kind::Report(_) => None,
        }
    }
}

/// One item of a mailbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// Global order (also the storage key suffix).
    pub seq: u64,
    /// The MessageID (for reports: the id of the message reported on).
    pub id: String,
    /// Wall-clock expiry, Unix ms.
    pub expires: i64,
    /// The content.
    pub kind: Kind,
}

/// Stored form of an [`Item`] (borrowing from it when written).
#[derive(Debug, Serialize, Deserialize)]
struct ItemRecord<'a> {
    owner: Cow<'a, str>,
    seq: u64,
    id: Cow<'a, str>,
    expires: i64,
    /// `Some(sender)` for a message, `None` for a report.
    sender: Option<Cow<'a, str>>,
    report: bool,
    /// The `NewMessage` or `DeliveryReport-Request` element, encoded by the codec (a string:
    /// postcard writes it in one piece, where a byte vector goes element by element).
    body: Cow<'a, str>,
}

/// The messaging state.
#[derive(Debug, Default)]
pub(crate) struct ImState {
    /// Mailboxes by canonical user id, oldest item first.
    pub mailboxes: BoxMap<String, VecDeque<Item>>,
    /// (expiry, seq) of every item, for the expiry timer.
    expiries: BTreeSet<(i64, u64)>,
    /// seq → mailbox owner.
    owners: BoxMap<u64, String>,
    next_seq: u64,
}

impl ImState {
    /// The wall-clock time of the next expiry.
    pub fn next_expiry(&self) -> Option<i64> {
        self.expiries.iter().next().map(|(t, _)| *t)
    }
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

/// `owner/seq` with `seq` in 20 digits (`format!("{owner}/{seq:020}")`, without `fmt`).
pub(crate) fn key(owner: &str, seq: u64) -> String {
    let mut digits = [b'0'; 20];
    let mut rest = seq;
    for d in digits.iter_mut().rev() {
        if rest == 0 {
            break;
        }
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut k = String::with_capacity(owner.len() + 21);
    k.push_str(owner);
    k.push('/');
    k.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    k
}

fn encode<T: XmlValue>(value: &T, name: &str) -> String {
    encode_sized(value, name, 512)
}

/// [`encode`] into a buffer with room for `capacity` bytes.
fn encode_sized<T: XmlValue>(value: &T, name: &str, capacity: usize) -> String {
    let mut w = XmlOut::new(Version::V1_3, capacity);
    value.encode(name, &mut w);
    // The writer only writes UTF-8.
    String::from_utf8(w.into_bytes()).unwrap_or_default()
}

fn decode<T: XmlValue>(bytes: &[u8], name: &str) -> Option<T> {
    let mut r = XmlIn::new(bytes, Limits::default());
    let root = r.root().ok()?;
    T::decode(&mut r, name, &root).ok()?
}

/// The storage record of `item` (a message's encoding is shared, made once per message).
fn put(owner: &str, item: &Item) -> StorageOp {
    let (sender, report, body) = match &item.kind {
        Kind::Message {
            xml,
            sender,
            report,
            ..
        } => (
            Some(Cow::Borrowed(sender.as_str())),
            *report,
            Cow::Borrowed(&**xml),
        ),
        Kind::Report(r) => (
            None,
            false,
            Cow::Owned(encode(&**r, "DeliveryReport-Request")),
        ),
    };
    let record = ItemRecord {
        owner: Cow::Borrowed(owner),
        seq: item.seq,
        id: Cow::Borrowed(&item.id),
        expires: item.expires,
        sender,
        report,
        body,
    };
    // Room for the strings and their lengths, the numbers and the version header.
    let size = owner.len() + item.id.len() + record.sender.as_ref().map_or(0, |s| s.len());
    StorageOp::Put {
        table: Table::Mailbox,
        key: key(owner, item.seq),
        value: store::encode_record_sized(&record, size + record.body.len() + 48),
    }
}

/// Restores one stored item; false when it does not decode.
pub(crate) fn restore(s: &mut Server, value: &[u8]) -> bool {
    let Some(r) = store::decode_record::<ItemRecord>(Table::Mailbox, value) else {
        return false;
    };
    let kind = match r.sender {
        Some(sender) => match decode::<NewMessage>(r.body.as_bytes(), "NewMessage") {
            Some(m) => Kind::Message {
                // Written again rather than kept as stored: pushes carry what the codec
                // writes for the message.
                xml: encode(&m, "NewMessage").into(),
                message: Arc::new(Primitive::NewMessage(Box::new(m))),
                sender: sender.into_owned(),
                report: r.report,
            },
            None => return false,
        },
        None => {
            match decode::<DeliveryReportRequest>(r.body.as_bytes(), "DeliveryReport-Request") {
                Some(d) => Kind::Report(Box::new(d)),
                None => return false,
            }
        }
    };
    let item = Item {
        seq: r.seq,
        id: r.id.into_owned(),
        expires: r.expires,
        kind,
    };
    let owner = r.owner.into_owned();
    let im = &mut s.im;
    im.next_seq = im.next_seq.max(r.seq + 1);
    im.expiries.insert((item.expires, item.seq));
    im.owners.insert(item.seq, owner.clone());
    im.mailboxes.entry(owner).or_default().push_back(item);
    true
}

/// After restore: mailboxes in delivery order.
pub(crate) fn finish_restore(s: &mut Server) {
    for items in s.im.mailboxes.values_mut() {
        items.make_contiguous().sort_by_key(|i| i.seq);
    }
}

/// Forgets a deleted account's mailbox; returns the storage changes.
pub(crate) fn remove_user(s: &mut Server, user: &str) -> Vec<StorageOp> {
    let Some(items) = s.im.mailboxes.remove(user) else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|i| {
            s.im.expiries.remove(&(i.expires, i.seq));
            s.im.owners.remove(&i.seq);
            StorageOp::Delete {
                table: Table::Mailbox,
                key: key(user, i.seq),
            }
        })
        .collect()
}

/// The current wall-clock time, Unix ms.
pub(crate) fn wall_now(s: &Server) -> i64 {
    s.wall_clock_ms
        .saturating_add(i64::try_from(s.now.saturating_sub(s.wall_at)).unwrap_or(0))
}

/// The monotonic deadline of the next expiry, once the wall clock is known.
pub(crate) fn next_timeout(s: &Server) -> Option<Millis> {
    if s.wall_clock_ms == 0 {
        return None;
    }
    let at = [s.im.next_expiry(), s.groups.next_expiry()]
        .into_iter()
        .flatten()
        .min()?;
    let wait = at.saturating_sub(wall_now(s)).max(0);
    Some(s.now.saturating_add(u64::try_from(wait).unwrap_or(0)))
}

// ---- delivery -------------------------------------------------------------------------

/// Whether a session takes `content_type` (its AcceptedContentType list, if it gave one).
fn accepts(s: &Server, h: u64, content_type: &str) -> bool {
    let Some(a) = s.sessions.get(&h).and_then(|x| x.agreed.as_ref()) else {
        return true;
    };
    a.accepted_types.is_empty()
        || a.accepted_types.iter().any(|t| {
            let t = t.as_str();
            t == "*/*"
                || t.eq_ignore_ascii_case(content_type)
                || t.strip_suffix("/*").is_some_and(|major| {
                    content_type
                        .split('/')
                        .next()
                        .is_some_and(|m| m.eq_ignore_ascii_case(major))
                })
        })
}

/// The primitive that delivers `item` to session `h`, and its encoding when it is the
/// message itself.
fn delivery(s: &Server, h: u64, item: &Item) -> Option<(Arc<Primitive>, Option<Arc<str>>)> {
    let sess = s.sessions.get(&h)?;
    match &item.kind {
        Kind::Message { message, xml, .. } => {
            let Primitive::NewMessage(m) = &**message else {
                return None;
            };
            let (method, limit) = sess
                .agreed
                .as_ref()
                .map_or((DeliveryMethod::Push, None), |a| {
                    (a.delivery_method.clone(), a.accepted_content_length)
                });
            let size = m.content_data.as_ref().map_or(0, String::len);
            let too_long = limit.is_some_and(|l| size > l as usize);
            if method == DeliveryMethod::Notify || too_long {
                let p = Primitive::MessageNotification(Box::new(MessageNotification {
                    message_info: m.message_info.clone(),
                    ..Default::default()
                }));
                Some((Arc::new(p), None))
            } else {
                Some((Arc::clone(message), Some(Arc::clone(xml))))
            }
        }
        Kind::Report(r) => {
            let mut r = (**r).clone();
            if sess.version == Version::V1_1 {
                r.delivery_time = None;
            }
            Some((
                Arc::new(Primitive::DeliveryReportRequest(Box::new(r))),
                None,
            ))
        }
    }
}

/// Queues `item` (of `owner`'s mailbox) to session `h`.
fn offer(s: &mut Server, h: u64, item: &Item) {
    if let Some((p, xml)) = delivery(s, h, item) {
        s.enqueue_item(h, p, xml, item.seq);
    }
}

/// Queues `item` to every ready session of `owner`.
fn offer_all(s: &mut Server, owner: &str, item: &Item) {
    // One session (the usual case) needs no list of them.
    if let Some(&[h]) = s.by_user.get(owner).map(Vec::as_slice) {
        if s.sessions.get(&h).is_some_and(|x| x.mailbox_ready) {
            offer(s, h, item);
        }
        return;
    }
    for h in ready_sessions(s, owner) {
        offer(s, h, item);
    }
}

fn ready_sessions(s: &Server, owner: &str) -> Vec<u64> {
    ready_iter(s, owner).collect()
}

/// The sessions of `owner` that receive the mailbox.
fn ready_iter<'s>(s: &'s Server, owner: &str) -> impl Iterator<Item = u64> + 's {
    s.by_user
        .get(owner)
        .into_iter()
        .flatten()
        .copied()
        .filter(|h| s.sessions.get(h).is_some_and(|x| x.mailbox_ready))
}

/// A session's capabilities are agreed: it receives everything waiting in the mailbox.
pub(crate) fn session_ready(s: &mut Server, h: u64) {
    if s.sessions.get(&h).is_none_or(|x| x.mailbox_ready) {
        return;
    }
    // What expired while the wall clock was unknown (after a restart, until the first
    // request, no expiry can be scheduled) goes first, with its reports: it is not offered.
    on_timeout(s);
    let Some(sess) = s.sessions.get_mut(&h) else {
        return;
    };
    sess.mailbox_ready = true;
    let owner = sess.user.clone();
    let items: Vec<Item> =
        s.im.mailboxes
            .get(&owner)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default();
    for item in &items {
        offer(s, h, item);
    }
}

/// Adds `item` to `owner`'s mailbox (storage first), then offers it to the ready sessions.
fn deposit(s: &mut Server, owner: &str, item: Item) {
    let op = deposit_op(s, owner, item);
    s.store(vec![op]);
}

/// [`deposit`] leaving the storage change to the caller (a fan-out stores one batch).
fn deposit_op(s: &mut Server, owner: &str, item: Item) -> StorageOp {
    let op = put(owner, &item);
    s.im.expiries.insert((item.expires, item.seq));
    s.im.owners.insert(item.seq, owner.to_owned());
    offer_all(s, owner, &item);
    match s.im.mailboxes.get_mut(owner) {
        Some(items) => items.push_back(item),
        None => {
            s.im.mailboxes
                .insert(owner.to_owned(), VecDeque::from([item]));
        }
    }
    op
}

/// Removes item `seq` from `owner`'s mailbox and storage and withdraws its queued copies.
fn take(s: &mut Server, owner: &str, seq: u64) -> Option<Item> {
    let items = s.im.mailboxes.get_mut(owner)?;
    let i = items.iter().position(|x| x.seq == seq)?;
    let item = items.remove(i)?;
    if items.is_empty() {
        s.im.mailboxes.remove(owner);
    }
    s.im.expiries.remove(&(item.expires, item.seq));
    s.im.owners.remove(&item.seq);
    s.store(vec![StorageOp::Delete {
        table: Table::Mailbox,
        key: key(owner, seq),
    }]);
    for h in s.by_user.get(owner).into_iter().flatten() {
        if let Some(sess) = s.sessions.get_mut(h) {
            sess.withdraw(seq);
        }
    }
    Some(item)
}

/// Sends the sender of `message` a delivery report with `code`, if it asked for one.
fn report(s: &mut Server, item: &Item, recipient: &str, code: u16, text: &str) {
    let Kind::Message {
        sender,
        report: true,
        ..
    } = &item.kind
    else {
        return;
    };
    if !s.accounts.contains_key(sender) {
        return;
    }
    let mut info = item
        .kind
        .new_message()
        .and_then(|m| m.message_info.clone())
        .unwrap_or_default();
    info.recipient = Some(Recipient {
        user: vec![User::id(recipient)],
        ..Default::default()
    });
    let now = wall_now(s);
    let r = DeliveryReportRequest {
        result: Some(result(code, text)),
        delivery_time: (code == 200).then(|| datetime::format_utc(now)),
        message_info: Some(info),
        ..Default::default()
    };
    let seq = next_seq(s);
    let sender = sender.clone();
    let expires = now.saturating_add(retention_ms(s));
    deposit(
        s,
        &sender,
        Item {
            seq,
            id: item.id.clone(),
            expires,
            kind: Kind::Report(Box::new(r)),
        },
    );
}

fn next_seq(s: &mut Server) -> u64 {
    let seq = s.im.next_seq;
    s.im.next_seq += 1;
    seq
}

fn retention_ms(s: &Server) -> i64 {
    i64::from(s.config.im.max_retention_secs).saturating_mul(1000)
}

/// A queued transaction of session `h` was acknowledged (`delivered` = by MessageDelivered).
pub(crate) fn acknowledged(s: &mut Server, h: u64, q: &Queued) {
    let Some(seq) = q.origin else {
        return;
    };
    let Some(owner) = s.sessions.get(&h).map(|x| x.user.clone()) else {
        return;
    };
    match &*q.primitive {
        // A notification only says the message waits; it stays until fetched and confirmed.
        Primitive::MessageNotification(_) => {}
        Primitive::NewMessage(_) => {
            if let Some(item) = take(s, &owner, seq) {
                report(s, &item, &owner, 200, "delivered");
            }
        }
        _ => {
            take(s, &owner, seq);
        }
    }
}

/// Expires the items whose time has come (reports to senders who asked).
pub(crate) fn on_timeout(s: &mut Server) {
    if s.wall_clock_ms == 0 {
        return;
    }
    let now = wall_now(s);
    while let Some(&(at, seq)) = s.im.expiries.iter().next() {
        if at > now {
            break;
        }
        s.im.expiries.remove(&(at, seq));
        let Some(owner) = s.im.owners.get(&seq).cloned() else {
            continue;
        };
        if let Some(item) = take(s, &owner, seq) {
            report(s, &item, &owner, 542, "message expired");
        }
    }
}

// ---- requests ---------------------------------------------------------------------------

/// How a refused recipient is named in DetailedResult: as the sender named it.
#[derive(Debug, Clone)]
enum Named {
    User(String),
    Group(String),
    ScreenName(ScreenName),
}

/// One recipient of a message.
struct Target {
    /// Canonical user id.
    user: String,
    /// How the sender appears to it: 0 by user id, `i + 1` as [`Targets::ways`]`[i]`.
    way: usize,
    /// How a refusal for it is named; `None` for members reached through a group, whose
    /// refusals are not told (they would name a member the sender may not know).
    named: Option<Named>,
    /// Whether a requested delivery report applies (not through groups).
    report: bool,
}

/// The recipients of a message, as [`recipients`] expands them.
struct Targets {
    /// Each recipient once.
    to: Vec<Target>,
    /// The screen names the sender is shown by (in groups that hide ids), each used by some
    /// target.
    ways: Vec<ScreenName>,
    /// How many groups were reached (a message to a group is accepted even when nobody
    /// else is joined).
    groups: usize,
}

/// Expands the recipients of a message: users, the sender's contact lists and groups
/// (see [`super::group::message_targets`]). Refusals are collected per recipient as sent.
/// A user named twice receives the message once, as first named.
fn recipients(s: &Server, sender: &str, r: &Recipient, failed: &mut Vec<(u16, Named)>) -> Targets {
    let mut out: Vec<Target> = Vec::new();
    let mut ways: Vec<ScreenName> = Vec::new();
    let push = |t: Target, out: &mut Vec<Target>| {
        if !out.iter().any(|o| o.user == t.user) {
            out.push(t);
        }
    };
    let direct = |user: String| Target {
        named: Some(Named::User(user.clone())),
        user,
        way: 0,
        report: true,
    };
    for u in &r.user {
        let raw = u.user_id.as_deref().unwrap_or("");
        match local_user(s, raw) {
            Ok(id) => push(direct(id), &mut out),
            Err(code) => failed.push((code, Named::User(raw.to_owned()))),
        }
    }
    for raw in &r.contact_list {
        match own_list(s, sender, raw) {
            Ok(id) => {
                if let Some(l) = s.lists.get(sender).and_then(|m| m.get(&id)) {
                    for m in l.member_ids(&s.presence.ids) {
                        push(direct(m.to_owned()), &mut out);
                    }
                }
            }
            Err(code) => failed.push((code, Named::User(raw.clone()))),
        }
    }
    let mut groups = 0;
    for g in &r.group {
        let named = match (&g.group_id, &g.screen_name) {
            (Some(id), _) => Named::Group(id.clone()),
            (None, Some(n)) => Named::ScreenName(n.clone()),
            (None, None) => Named::Group(String::new()),
        };
        match group::message_targets(s, sender, g) {
            Ok(send) => {
                groups += 1;
                let way = match &send.sender_as {
                    None => 0,
                    Some(n) => match ways.iter().position(|w| w == n) {
                        Some(i) => i + 1,
                        None if send.to.is_empty() => 0,
                        None => {
                            ways.push(n.clone());
                            ways.len()
                        }
                    },
                };
                // A group's targets are distinct (joined users, by user): only those chosen
                // before need comparing, which keeps a fan-out to N members linear.
                let before = out.len();
                for user in send.to {
                    if out
                        .get(..before)
                        .unwrap_or_default()
                        .iter()
                        .any(|o| o.user == user)
                    {
                        continue;
                    }
                    out.push(Target {
                        user,
                        way,
                        named: send.private.then(|| named.clone()),
                        report: false,
                    });
                }
            }
            Err(code) => failed.push((code, named)),
        }
    }
    Targets {
        to: out,
        ways,
        groups,
    }
}

/// Accepts one message from `sender` for `to`; what failed per recipient goes to `failed`.
fn accept(
    s: &mut Server,
    sender: &str,
    targets: Targets,
    message: NewMessage,
    report_wanted: bool,
    validity: Option<u32>,
    failed: &mut Vec<(u16, Named)>,
) -> (usize, String) {
    let id = s.random_hex(8);
    let now = wall_now(s);
    let keep = i64::from(
        validity
            .unwrap_or(u32::MAX)
            .min(s.config.im.max_retention_secs),
    )
    .saturating_mul(1000);
    let expires = now.saturating_add(keep);
    let mut message = message;
    if let Some(info) = message.message_info.as_mut() {
        info.message_id = Some(id.clone());
    }
    // Room for the content and about as much markup as a message has.
    let size = message.content_data.as_ref().map_or(0, String::len) + 768;
    // One shared NewMessage (and its encoding, stored and pushed as is) per way the sender
    // is shown that some target uses; the last of them takes the message itself, not a copy.
    let Targets { to, ways, .. } = targets;
    // Which ways some target uses (a 1:1 message has only the first, by user id).
    let mut used = Vec::new();
    if !ways.is_empty() {
        used.resize(ways.len() + 1, false);
        for t in &to {
            if let Some(u) = used.get_mut(t.way) {
                *u = true;
            }
        }
    }
    let is_used = |i: usize| match used.get(i) {
        Some(u) => *u,
        None => i == 0 && !to.is_empty(),
    };
    let last = (0..=ways.len()).rev().find(|i| is_used(*i));
    let mut template = Some(message);
    let mut shared: Vec<Option<(Arc<Primitive>, Arc<str>)>> = Vec::with_capacity(ways.len() + 1);
    for (i, way) in std::iter::once(None)
        .chain(ways.into_iter().map(Some))
        .enumerate()
    {
        if !is_used(i) {
            shared.push(None);
            continue;
        }
        let mut m = if Some(i) == last {
            template.take().unwrap_or_default()
        } else {
            template.clone().unwrap_or_default()
        };
        if let (Some(n), Some(info)) = (way, m.message_info.as_mut()) {
            info.sender = Some(Sender {
                group: Some(Group {
                    screen_name: Some(n),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let x: Arc<str> = encode_sized(&m, "NewMessage", size).into();
        let m = Arc::new(Primitive::NewMessage(Box::new(m)));
        shared.push(Some((m, x)));
    }
    // The content type is the same in every way the message is shown.
    let first = shared.iter().flatten().next().map(|(m, _)| Arc::clone(m));
    let content_type = match first.as_deref() {
        Some(Primitive::NewMessage(m)) => m
            .message_info
            .as_ref()
            .and_then(|i| i.content_type.as_deref()),
        _ => None,
    }
    .unwrap_or("text/plain");
    let mut accepted = 0;
    let mut ops = Vec::with_capacity(to.len());
    let refuse = |code: u16, t: &Target, failed: &mut Vec<(u16, Named)>| {
        if let Some(n) = &t.named {
            failed.push((code, n.clone()));
        }
    };
    for t in &to {
        let r = t.user.as_str();
        if block_list::blocks(s, r, sender) {
            refuse(532, t, failed);
            continue;
        }
        // Some session is ready and none of them takes the content type.
        let (mut any, mut taken) = (false, false);
        for h in ready_iter(s, r) {
            any = true;
            taken = taken || accepts(s, h, content_type);
        }
        if any && !taken {
            refuse(415, t, failed);
            continue;
        }
        let limit = s.config.im.max_stored_per_user as usize;
        if s.im.mailboxes.get(r).is_some_and(|m| m.len() >= limit) {
            refuse(507, t, failed);
            continue;
        }
        let Some(Some((message, xml))) = shared.get(t.way) else {
            continue;
        };
        let (message, xml) = (Arc::clone(message), Arc::clone(xml));
        let seq = next_seq(s);
        let op = deposit_op(
            s,
            r,
            Item {
                seq,
                id: id.clone(),
                expires,
                kind: Kind::Message {
                    message,
                    xml,
                    sender: sender.to_owned(),
                    report: report_wanted && t.report,
                },
            },
        );
        ops.push(op);
        accepted += 1;
    }
    s.store(ops);
    (accepted, id)
}

/// The Result of a request addressed to several recipients: `accepted` reached, `failed`
/// refused (one DetailedResult per code, naming them as sent).
fn outcome_result(accepted: usize, failed: Vec<(u16, Named)>) -> crate::codec::common::CspResult {
    let code = match (accepted, failed.as_slice()) {
        (_, []) => 200,
        (0, [(code, _)]) => *code,
        (0, _) => 900,
        _ => 201,
    };
    let text = match code {
        200 => "",
        201 => "partially successful",
        900 => "no recipient could be reached",
        _ => "recipient refused",
    };
    let mut r = result(code, text);
    let mut by_code: crate::vecmap::VecMap<u16, DetailedResult> = crate::vecmap::VecMap::new();
    for (code, named) in failed {
        let d = by_code.get_or_insert_with(code, || DetailedResult {
            code: Some(u32::from(code)),
            description: Some(describe(code).into()),
            ..Default::default()
        });
        match named {
            Named::User(u) => d.user_id.push(u),
            Named::Group(g) => d.group_id.push(g),
            Named::ScreenName(n) => d.screen_name.push(n),
        }
    }
    r.detailed_result = by_code.into_values().collect();
    r
}

/// `SendMessage-Request`.
pub(crate) fn send_message(s: &mut Server, sender: &str, req: SendMessageRequest) -> Primitive {
    let Some(mut info) = req.message_info else {
        return status(402, "MessageInfo missing");
    };
    let Some(to) = &info.recipient else {
        return status(402, "Recipient missing");
    };
    let size = req.content_data.as_ref().map_or(0, String::len);
    if size > s.config.im.max_content_bytes as usize {
        return status(400, "content too large");
    }
    let mut failed = Vec::new();
    let targets = recipients(s, sender, to, &mut failed);
    let groups = targets.groups;
    info.sender = Some(Sender {
        user: Some(User::id(sender)),
        ..Default::default()
    });
    let now = wall_now(s);
    info.date_time = Some(s.date_time(now));
    if info.content_size.is_none() {
        info.content_size = Some(size as u64);
    }
    if info.content_type.is_none() {
        info.content_type = Some("text/plain".into());
    }
    let validity = info.validity;
    let message = NewMessage {
        message_info: Some(info),
        content_data: req.content_data,
        ..Default::default()
    };
    let report_wanted = req.delivery_report == Some(true);
    let (accepted, id) = accept(
        s,
        sender,
        targets,
        message,
        report_wanted,
        validity,
        &mut failed,
    );
    let reached = accepted + groups;
    Primitive::SendMessageResponse(Box::new(SendMessageResponse {
        result: Some(outcome_result(reached, failed)),
        message_id: (reached > 0).then_some(id),
        ..Default::default()
    }))
}

fn find<'a>(s: &'a Server, owner: &str, id: &str) -> Option<&'a Item> {
    s.im.mailboxes
        .get(owner)?
        .iter()
        .find(|i| i.id == id && matches!(i.kind, Kind::Message { .. }))
}

/// `GetMessage-Request`: the message, still waiting for MessageDelivered.
pub(crate) fn get_message(s: &Server, owner: &str, req: &MessageRef) -> Primitive {
    let id = req.message_id.as_deref().unwrap_or("");
    match find(s, owner, id).map(|i| &i.kind) {
        Some(kind) => match kind.new_message() {
            Some(m) => Primitive::GetMessageResponse(Box::new(m.clone())),
            None => status(426, "no such message"),
        },
        _ => status(426, "no such message"),
    }
}

/// `MessageDelivered` sent as a request (notify/pull delivery): the message is delivered.
pub(crate) fn message_delivered(s: &mut Server, owner: &str, req: &MessageRef) -> Primitive {
    let id = req.message_id.as_deref().unwrap_or("");
    let Some(seq) = find(s, owner, id).map(|i| i.seq) else {
        return status(426, "no such message");
    };
    if let Some(item) = take(s, owner, seq) {
        report(s, &item, owner, 200, "delivered");
    }
    status(200, "")
}

/// `RejectMessage-Request`: the messages are discarded (538 reports to senders who asked).
/// Unknown ids are named in `DetailedResult` as `MessageID`s, which 1.1 lacks (there the
/// entry has code and description only).
pub(crate) fn reject(
    s: &mut Server,
    owner: &str,
    version: Version,
    req: &RejectMessageRequest,
) -> Primitive {
    let mut failed = Vec::new();
    let mut done = 0;
    for id in &req.message_id {
        match find(s, owner, id).map(|i| i.seq) {
            Some(seq) => {
                if let Some(item) = take(s, owner, seq) {
                    report(s, &item, owner, 538, "message rejected");
                }
                done += 1;
            }
            None => failed.push((426, Named::User(id.clone()))),
        }
    }
    if req.message_id.is_empty() {
        return status(402, "MessageID missing");
    }
    let mut r = outcome_result(done, failed);
    for d in &mut r.detailed_result {
        let ids = std::mem::take(&mut d.user_id);
        if version != Version::V1_1 {
            d.message_id = ids;
        }
    }
    Primitive::Status(Box::new(Status {
        result: Some(r),
        ..Default::default()
    }))
}

/// `GetMessageList-Request`: envelopes of the messages waiting, oldest first.
pub(crate) fn get_message_list(
    s: &Server,
    owner: &str,
    version: Version,
    req: &GetMessageListRequest,
) -> Primitive {
    if req.group_id.is_some() {
        return status(821, "group history is not kept");
    }
    let all: Vec<MessageInfo> =
        s.im.mailboxes
            .get(owner)
            .map(|m| {
                m.iter()
                    .filter_map(|i| match &i.kind {
                        Kind::Message { .. } => i.kind.new_message()?.message_info.clone(),
                        Kind::Report(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
    let total = all.len();
    let max = req.message_count.map_or(usize::MAX, |c| c as usize);
    let infos: Vec<MessageInfo> = all.into_iter().take(max).collect();
    let mut r = GetMessageListResponse::default();
    if version == Version::V1_3 {
        r.message_total_count =
            (total > infos.len()).then(|| u32::try_from(total).unwrap_or(u32::MAX));
        r.message_info_list = Some(MessageInfoList {
            message_info: infos,
            ..Default::default()
        });
    } else {
        r.message_info = infos;
    }
    Primitive::GetMessageListResponse(Box::new(r))
}

/// `SetDeliveryMethod-Request`: for the session, or for one group in it.
pub(crate) fn set_delivery_method(
    s: &mut Server,
    h: u64,
    req: &SetDeliveryMethodRequest,
) -> Primitive {
    let Some(method) = req.delivery_method.clone() else {
        return status(402, "DeliveryMethod missing");
    };
    if matches!(method, DeliveryMethod::Other(_)) {
        return status(402, "DeliveryMethod is P or N");
    }
    let Some(sess) = s.sessions.get_mut(&h) else {
        return status(604, "invalid session");
    };
    match &req.group_id {
        Some(g) => {
            sess.group_methods.insert(g.clone(), method);
        }
        None => {
            let agreed = sess.agreed.get_or_insert_with(Default::default);
            agreed.delivery_method = method;
            if req.accepted_content_length.is_some() {
                agreed.accepted_content_length = req.accepted_content_length;
            }
        }
    }
    status(200, "")
}

/// `ForwardMessage-Request`: a copy of a message in the forwarder's mailbox to others.
pub(crate) fn forward(
    s: &mut Server,
    owner: &str,
    version: Version,
    req: &ForwardMessageRequest,
) -> Primitive {
    let id = req.message_id.as_deref().unwrap_or("");
    let Some(message) = find(s, owner, id).and_then(|i| i.kind.new_message().cloned()) else {
        return status(426, "no such message");
    };
    let Some(to) = &req.recipient else {
        return status(402, "Recipient missing");
    };
    let mut failed = Vec::new();
    let targets = recipients(s, owner, to, &mut failed);
    let groups = targets.groups;
    let mut message = message;
    let validity = message.message_info.as_ref().and_then(|i| i.validity);
    if let Some(info) = message.message_info.as_mut() {
        info.sender = Some(Sender {
            user: Some(User::id(owner)),
            ..Default::default()
        });
        info.recipient = Some(to.clone());
        let now = wall_now(s);
        info.date_time = Some(s.date_time(now));
    }
    let (accepted, new_id) = accept(s, owner, targets, message, false, validity, &mut failed);
    let r = outcome_result(accepted + groups, failed);
    if version == Version::V1_3 && r.code() == 200 {
        return Primitive::ForwardMessageResponse(Box::new(MessageRef {
            message_id: Some(new_id),
            ..Default::default()
        }));
    }
    Primitive::Status(Box::new(Status {
        result: Some(r),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A message is encoded once and that encoding is pushed to sessions of every version:
    /// it holds only if no element of a message is written differently per version.
    #[test]
    fn a_message_is_written_alike_in_every_version() {
        let doc = r#"<NewMessage><MessageInfo><MessageID>m1</MessageID><MessageURI>u</MessageURI>
            <ContentType>text/plain</ContentType><ContentEncoding>BASE64</ContentEncoding>
            <ContentSize>3</ContentSize><ContentName>n</ContentName>
            <Recipient><User><UserID>wv:b@x</UserID><FriendlyName>B</FriendlyName>
            <ApplicationID>a</ApplicationID><ClientID><URL>h</URL><MSISDN>1</MSISDN></ClientID></User>
            <Group><GroupID>wv:g@x</GroupID><ScreenName><SName>s</SName><GroupID>wv:g@x</GroupID></ScreenName></Group>
            <ContactList>wv:a/l@x</ContactList><Vendor a="1">v</Vendor></Recipient>
            <Sender><User><UserID>wv:a@x</UserID></User><Group><GroupID>g</GroupID></Group></Sender>
            <DateTime>20240102T030405Z</DateTime><Font><Size>Small</Size><Style>Bold</Style>
            <Style>Italic</Style><Color>Red</Color></Font><Validity>60</Validity>
            <ExtBlockETEM><X>1</X></ExtBlockETEM><Other/></MessageInfo>
            <ContentData>a&amp;b</ContentData><More>m</More></NewMessage>"#;
        let m: NewMessage = decode(doc.as_bytes(), "NewMessage").unwrap();
        let info = m.message_info.as_ref().unwrap();
        assert!(info.font.is_some() && info.recipient.as_ref().unwrap().group.len() == 1);
        let written: Vec<Vec<u8>> = Version::ALL
            .iter()
            .map(|v| {
                let mut w = XmlOut::new(*v, 512);
                m.encode("NewMessage", &mut w);
                w.into_bytes()
            })
            .collect();
        assert!(written.iter().all(|w| *w == written[0]));
        assert_eq!(written[0], encode(&m, "NewMessage").into_bytes());
    }
}
