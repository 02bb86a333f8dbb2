//! Groups (CSP-REFERENCE §2.6): CreateGroup, DeleteGroup, GetGroupProps, SetGroupProps,
//! JoinGroup, LeaveGroup, GetGroupMembers, AddGroupMembers, RemoveGroupMembers, MemberAccess,
//! GetJoinedUsers, RejectList, SubscribeGroupNotice and GroupChangeNotice; the group side of
//! SendMessage ([`message_targets`]).
//!
//! A group is one record (key: canonical group id) holding its owner, properties, members
//! with their privilege level, reject list, members' own properties and the users subscribed
//! to change notices; it is stored before the answer of every request that changes it.
//! Who is *joined* is kept in memory only, per session: a session's end makes it leave.
//!
//! Decisions where the reference is silent or sources differ:
//! - **Ids and ownership.** Users create groups under their own address,
//!   `wv:<self>/<name>@<domain>` (402 otherwise, 516 for other domains, 801 when it exists).
//!   These are private groups: `Type` is `Private` (asking for `Public` gets 806). Public
//!   groups are the operator's ([`create_public`], an admin command): owned by
//!   `wv:system@<domain>`, which is no member, so no user administers them. The creator is the owner and an
//!   administrator for good: the owner cannot be removed, demoted or rejected (816).
//! - **Privileges.** DeleteGroup and SetGroupProps (group properties) need an administrator;
//!   AddGroupMembers, RemoveGroupMembers, GetGroupMembers and RejectList an administrator or a
//!   moderator, and a moderator acts on ordinary users only; MemberAccess needs an
//!   administrator and makes a non-member a member at the level given. Anyone may read a
//!   group's properties. Others get 816.
//! - **Properties.** Name and Topic (up to 256 characters), AccessType Open (default) or
//!   Restricted (`Accesstype` and any letter case accepted), PrivateMessaging (default F),
//!   Searchable (822 without Name or Topic), MaxActiveUsers (1 to `groups.max_joined_users`,
//!   the default), AutoJoin, 1.2 AutoDelete (the group is deleted when its last joined user
//!   has been gone for `groups.auto_delete_after_secs`, default 0: at once; a restart, which
//!   ends every session, does not count as leaving), Validity (seconds from when it was set;
//!   the group is then deleted, joined sessions get LeaveGroup-Response 800), ShowID (T:
//!   every joined user's id is shown), and the WelcomeNote (at most `im.max_content_bytes`).
//!   ActiveUsers is computed: in a request it is ignored (clients echo what they read). Any
//!   other property, or a bad value, refuses the whole request with 806 (`History=T` 821).
//!   1.1 sessions are not told the 1.2 properties.
//! - **Own properties** (per user, kept while the user is a member or joined): ShowID (T:
//!   this user's id is shown in the group), AutoJoin (T: the user joins again, under the
//!   screen name last used, when a session of it next agrees capabilities; an explicit
//!   LeaveGroup ends that until the next join), PrivateMessaging
//!   (default T; F refuses private messages, 813) and the read-only PrivilegeLevel.
//! - **Joining.** Checked in this order: already joined by this session 807, on the reject
//!   list 809, Restricted group and not a member 810 (Baraza says 816), screen name taken by
//!   another joined user 811 (compared ignoring ASCII case), the group full 817 (the smaller
//!   of MaxActiveUsers and `groups.max_joined_users`). Without a ScreenName the user part of
//!   the user id is the screen name. A user joined from several sessions has one screen name:
//!   another session joins under it (asking another name gets 811), and the user leaves when
//!   the last of its sessions does. The joined list (JoinedRequest=T) includes the joiner.
//! - **Hidden ids.** Joined users appear by screen name; `Mapping` carries the user id only
//!   when the group's or the user's own ShowID is T, and a group message's sender is then the
//!   user, otherwise `Group(ScreenName)`. Administrators and moderators see members' ids in
//!   GetGroupMembers and RejectList, as they manage them by id.
//! - **Put out.** A joined user removed from the members, put on the reject list, or not a
//!   member when the group becomes Restricted, leaves at once: each of its joined sessions
//!   gets an unsolicited LeaveGroup-Response with Result 810, 809 or 810; a deleted group
//!   sends 800 to everyone joined (as Baraza).
//! - **Notices.** SubscribeNotification (CreateGroup, JoinGroup) and SubscribeGroupNotice set
//!   a per-user, durable subscription; GroupChangeNotice goes to the joined sessions of
//!   subscribed users, except the user whose action caused it: Joined (1.1 a UserList of
//!   screen names, 1.2+ a UserMapList), Left (a UserList of screen names; 1.3 LeftBlocked for
//!   users put out; 1.3 JoinedBlocked for a user on the reject list who tried to join, by the
//!   screen name asked), GroupProperties (all of them, after a change). Notices are coalesced per
//!   group: the first change goes out at once, later ones wait until
//!   `groups.notice_interval_ms` after the last notice and go out together, each session
//!   hearing only the changes made after its user joined; a join and a leave of the same
//!   screen name in one notice cancel out.
//! - **Messages.** A joined user's message to the GroupID reaches every other joined user,
//!   except those who block the sender (by user id, by the group, or by the sender's screen
//!   name), silently; a message to a `ScreenName` is private (812 when the group disallows,
//!   813 when the member does, 532 when the member blocks the sender, 531 for a screen name
//!   nobody joined uses). The sender must be joined (808). Deliveries through a group
//!   carry no delivery report, and a member's mailbox refusing one is not told the sender (it
//!   would name the member).
//! - **Limits.** `groups.max_groups_per_user` groups owned per user (814),
//!   `groups.max_groups` on the server (815). Deleting an account deletes the groups it
//!   owns and takes it off every other group.

use std::collections::BTreeSet;

use crate::boxmap::BoxMap;
use crate::vecmap::{VecMap, VecSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::codec::common::{
    ContentBlock, ContentEncoding, DetailedResult, EntityList, GroupProperties, Properties,
    Property, PropertyName, ScreenName, Status, User, UserList,
};
use crate::codec::group::{
    AdminMapList, CreateGroupRequest, GetGroupMembersResponse, GetGroupPropsResponse,
    GetJoinedUsersResponse, GroupChangeNotice, GroupMembersRequest, GroupRequest, JoinGroupRequest,
    JoinGroupResponse, Joined, LeaveGroupResponse, LeftList, Mapping, MappingList,
    MemberAccessRequest, MemberLevel, RejectListRequest, RejectListResponse, SetGroupPropsRequest,
    SubscribeGroupNoticeRequest, SubscribeGroupNoticeResponse, SubscribeType, UserMapList,
};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};

use super::presence::local_user;
use super::{Millis, Server, block_list, result};

/// Longest Name, Topic or screen name, in characters.
const MAX_TEXT: usize = 256;
/// Longest screen name, in characters.
const MAX_SCREEN_NAME: usize = 64;

/// A member's privilege level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Role {
    /// An ordinary member.
    User,
    /// A moderator.
    Mod,
    /// An administrator.
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::Mod => "Mod",
            Role::Admin => "Admin",
        }
    }
}

/// A welcome note as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Note {
    /// MIME type.
    pub content_type: Option<String>,
    /// Whether `data` is base64.
    pub base64: bool,
    /// The content as sent.
    pub data: String,
}

/// A group's properties (see the module doc for defaults and meanings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Props {
    pub name: Option<String>,
    pub topic: Option<String>,
    pub restricted: bool,
    pub private_messaging: bool,
    pub searchable: bool,
    pub max_active_users: Option<u32>,
    pub auto_join: bool,
    pub auto_delete: bool,
    pub validity: Option<u32>,
    pub show_id: bool,
    pub welcome_note: Option<Note>,
}

/// A user's own properties in one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Own {
    pub show_id: bool,
    pub auto_join: bool,
    pub private_messaging: bool,
    /// The screen name to join under again at the next login while `auto_join` is T (the one
    /// last joined under; forgotten by an explicit LeaveGroup).
    pub rejoin_as: Option<String>,
}

impl Default for Own {
    fn default() -> Self {
        Own {
            show_id: false,
            auto_join: false,
            private_messaging: true,
            rejoin_as: None,
        }
    }
}

/// [`Own`] as record schema v1 stored it.
#[derive(Debug, Clone, Copy, Deserialize)]
struct OwnV1 {
    show_id: bool,
    auto_join: bool,
    private_messaging: bool,
}

/// [`GroupRecord`] as record schema v1 stored it.
#[derive(Debug, Clone, Deserialize)]
struct GroupRecordV1 {
    id: String,
    owner: String,
    props: Props,
    members: VecMap<String, Role>,
    reject: VecSet<String>,
    own: VecMap<String, OwnV1>,
    notice: VecSet<String>,
}

/// A v1 group record body brought to v2 (own screen names for AutoJoin, the expiry of a
/// Validity); `None` when it does not decode.
pub(crate) fn record_from_v1(body: &[u8]) -> Option<Vec<u8>> {
    let old: GroupRecordV1 = postcard::from_bytes(body).ok()?;
    let new = GroupRecord {
        id: old.id,
        owner: old.owner,
        props: old.props,
        members: old.members,
        reject: old.reject,
        own: old
            .own
            .into_iter()
            .map(|(u, o)| {
                let own = Own {
                    show_id: o.show_id,
                    auto_join: o.auto_join,
                    private_messaging: o.private_messaging,
                    rejoin_as: None,
                };
                (u, own)
            })
            .collect(),
        notice: old.notice,
        // v1 did not expire groups: the Validity counts from the upgrade (see restore).
        expires_ms: None,
    };
    postcard::to_allocvec(&new).ok()
}

/// A group as stored (record schema v2; v1 is upgraded by [`record_from_v1`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    /// Canonical group id `wv:owner/name@domain`.
    pub id: String,
    /// Canonical owner id (always an administrator).
    pub owner: String,
    pub props: Props,
    /// Members and their levels.
    pub members: VecMap<String, Role>,
    /// Users who may not join.
    pub reject: VecSet<String>,
    /// Own properties of members and joined users who set any.
    pub own: VecMap<String, Own>,
    /// Users subscribed to GroupChangeNotice.
    pub notice: VecSet<String>,
    /// When the group ends (its Validity), wall-clock milliseconds since the Unix epoch.
    pub expires_ms: Option<i64>,
}

/// A joined user (memory only).
#[derive(Debug, Clone, PartialEq, Eq)]
struct JoinedUser {
    /// Screen name, as asked.
    sname: String,
    /// Sessions joined, in joining order.
    sessions: Vec<u64>,
    /// The number of the group's first change after the user joined (earlier ones are not
    /// told to it).
    since: u64,
}

/// A group in memory.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub record: GroupRecord,
    /// Joined users by canonical id.
    joined: VecMap<String, JoinedUser>,
}

impl Group {
    fn role(&self, user: &str) -> Option<Role> {
        self.record.members.get(user).copied()
    }

    fn own(&self, user: &str) -> Own {
        self.record.own.get(user).cloned().unwrap_or_default()
    }

    fn shows_id(&self, user: &str) -> bool {
        self.record.props.show_id || self.record.own.get(user).is_some_and(|o| o.show_id)
    }

    /// Whether `user` is joined (search: GROUP_USER_ID_JOINED).
    pub(crate) fn is_joined(&self, user: &str) -> bool {
        self.joined.contains_key(user)
    }

    /// Whether `user` is shown by id in the group (ShowID of the group or its own).
    pub(crate) fn shows_user_id(&self, user: &str) -> bool {
        self.shows_id(user)
    }

    /// The joined user whose screen name is `sname` (ASCII case ignored).
    fn by_sname(&self, sname: &str) -> Option<&str> {
        let sname = sname.trim();
        self.joined
            .iter()
            .find(|(_, j)| j.sname.eq_ignore_ascii_case(sname))
            .map(|(u, _)| u.as_str())
    }

    fn limit(&self, s: &Server) -> usize {
        let ceiling = s.config.groups.max_joined_users;
        self.record
            .props
            .max_active_users
            .map_or(ceiling, |m| m.min(ceiling)) as usize
    }

    fn screen_name(&self, sname: &str) -> ScreenName {
        ScreenName {
            sname: Some(sname.to_owned()),
            group_id: Some(self.record.id.clone()),
            ..Default::default()
        }
    }
}

/// Every group, and which groups each session joined.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub groups: BoxMap<String, Group>,
    by_session: BoxMap<u64, VecSet<String>>,
    /// Changes waiting to be told, per group.
    pending: BoxMap<String, Vec<Told>>,
    /// When each group's last notice went out (kept for one interval).
    last_notice: BoxMap<String, Millis>,
    /// (deadline, group) of the waiting changes.
    due: BTreeSet<(Millis, String)>,
    /// The number of the next change.
    next_change: u64,
    /// (deadline, group) of AutoDelete groups nobody has joined since their last user left.
    auto_delete: BTreeSet<(Millis, String)>,
    /// (wall-clock end, group) of groups with a Validity.
    expiries: BTreeSet<(i64, String)>,
}

impl Groups {
    /// When the next coalesced notice is due.
    pub(crate) fn next_due(&self) -> Option<Millis> {
        let notice = self.due.first().map(|(t, _)| *t);
        let delete = self.auto_delete.first().map(|(t, _)| *t);
        notice.into_iter().chain(delete).min()
    }

    /// When the next group ends (wall clock).
    pub(crate) fn next_expiry(&self) -> Option<i64> {
        self.expiries.first().map(|(t, _)| *t)
    }
}

// ---- storage --------------------------------------------------------------------------

fn put(g: &Group) -> StorageOp {
    StorageOp::Put {
        table: Table::Groups,
        key: g.record.id.clone(),
        value: store::encode_record(&g.record),
    }
}

/// Stores group `id` as it is now (deleted when gone).
fn save(s: &mut Server, id: &str) {
    let op = match s.groups.groups.get(id) {
        Some(g) => put(g),
        None => StorageOp::Delete {
            table: Table::Groups,
            key: id.to_owned(),
        },
    };
    s.store(vec![op]);
}

/// Restores one stored group; false when it does not decode.
pub(crate) fn restore(s: &mut Server, value: &[u8]) -> bool {
    let Some(record) = store::decode_record::<GroupRecord>(Table::Groups, value) else {
        return false;
    };
    if let Some(at) = record.expires_ms {
        s.groups.expiries.insert((at, record.id.clone()));
    }
    s.groups.groups.insert(
        record.id.clone(),
        Group {
            record,
            joined: VecMap::new(),
        },
    );
    true
}

/// A deleted account: its groups are deleted, and it leaves every other group's lists.
pub(crate) fn remove_user(s: &mut Server, user: &str) -> Vec<StorageOp> {
    let owned: Vec<String> = s
        .groups
        .groups
        .values()
        .filter(|g| g.record.owner == user && !is_public(g))
        .map(|g| g.record.id.clone())
        .collect();
    for id in &owned {
        delete_now(s, id);
    }
    let mut ops: Vec<StorageOp> = owned
        .into_iter()
        .map(|key| StorageOp::Delete {
            table: Table::Groups,
            key,
        })
        .collect();
    for g in s.groups.groups.values_mut() {
        let r = &mut g.record;
        let before = (r.members.len(), r.reject.len(), r.own.len(), r.notice.len());
        r.members.remove(user);
        r.reject.remove(user);
        r.own.remove(user);
        r.notice.remove(user);
        if before != (r.members.len(), r.reject.len(), r.own.len(), r.notice.len()) {
            ops.push(put(g));
        }
    }
    ops
}

// ---- helpers --------------------------------------------------------------------------

/// The owner of public groups: the operator, never a member.
fn operator(domain: &str) -> String {
    format!("wv:system@{domain}")
}

/// Whether `g` is an operator's public group.
fn is_public(g: &Group) -> bool {
    g.record.owner.split_once('@').map(|(u, _)| u) == Some("wv:system")
}

/// The admin command creating a public group (see the module doc).
pub(crate) fn create_public(
    s: &mut Server,
    raw: &str,
    name: Option<String>,
    topic: Option<String>,
) -> Result<String, String> {
    let a = Address::parse(raw, &s.config.domain).map_err(|e| format!("{raw:?}: {e}"))?;
    if a.domain != s.config.domain {
        return Err(format!("{raw:?} is not on this server's domain"));
    }
    if a.resource.is_none() {
        return Err(format!("{raw:?}: a group id is wv:<name>/<group>"));
    }
    let id = a.to_string();
    if s.groups.groups.contains_key(&id) {
        return Err(format!("group {id} already exists"));
    }
    if s.groups.groups.len() >= s.config.groups.max_groups as usize {
        return Err("maximum number of groups reached for the server".into());
    }
    let mut props = Props::default();
    for (field, value) in [("Name", name), ("Topic", topic)] {
        let value = match value {
            Some(v) => text_value(field, &v).map_err(|r| r.1)?,
            None => None,
        };
        if field == "Name" {
            props.name = value;
        } else {
            props.topic = value;
        }
    }
    let g = Group {
        record: GroupRecord {
            id: id.clone(),
            owner: operator(&s.config.domain),
            props,
            members: VecMap::new(),
            reject: VecSet::new(),
            own: VecMap::new(),
            notice: VecSet::new(),
            expires_ms: None,
        },
        joined: VecMap::new(),
    };
    s.store(vec![put(&g)]);
    s.groups.groups.insert(id.clone(), g);
    Ok(format!("public group {id} created"))
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

/// Why a request failed as a whole.
struct Refusal(u16, String);

impl Refusal {
    fn new(code: u16, text: impl Into<String>) -> Refusal {
        Refusal(code, text.into())
    }

    fn answer(self) -> Primitive {
        status(self.0, &self.1)
    }
}

/// The canonical id of an existing group: 402 missing or not a group id, 516 another
/// domain, 800 unknown.
fn existing(s: &Server, raw: Option<&str>) -> Result<String, Refusal> {
    let raw = raw.ok_or_else(|| Refusal::new(402, "GroupID missing"))?;
    let a = Address::parse(raw, &s.config.domain)
        .ok()
        .filter(|a| a.resource.is_some())
        .ok_or_else(|| Refusal::new(402, format!("invalid GroupID {raw:?}")))?;
    if a.domain != s.config.domain {
        return Err(Refusal::new(
            516,
            "groups of other domains are not served here",
        ));
    }
    let id = a.to_string();
    if s.groups.groups.contains_key(&id) {
        Ok(id)
    } else {
        Err(Refusal::new(800, "group does not exist"))
    }
}

/// The session's user and version.
fn session_user(s: &Server, h: u64) -> Option<(String, Version)> {
    s.sessions.get(&h).map(|x| (x.user.clone(), x.version))
}

fn flag(value: &str) -> Option<bool> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("T") || v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("F") || v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn tf(b: bool) -> &'static str {
    if b { "T" } else { "F" }
}

fn property(name: PropertyName, value: impl Into<String>) -> Property {
    Property {
        name: Some(name),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn bad_value(name: &str, value: &str) -> Refusal {
    Refusal::new(
        806,
        format!("invalid value {value:?} for group property {name}"),
    )
}

fn text_value(name: &str, value: &str) -> Result<Option<String>, Refusal> {
    if value.chars().count() > MAX_TEXT {
        return Err(Refusal::new(
            806,
            format!("{name} is longer than {MAX_TEXT} characters"),
        ));
    }
    Ok((!value.trim().is_empty()).then(|| value.to_owned()))
}

/// Applies `GroupProperties` to `props` (806, 821); the caller checks 822.
fn apply_props(s: &Server, props: &mut Props, req: &GroupProperties) -> Result<(), Refusal> {
    for p in &req.property {
        let value = p.value.as_deref().unwrap_or("");
        let name = p.name.as_ref().map_or("", |n| n.as_str());
        let bool_of = || flag(value).ok_or_else(|| bad_value(name, value));
        match &p.name {
            Some(PropertyName::Name) => props.name = text_value(name, value)?,
            Some(PropertyName::Topic) => props.topic = text_value(name, value)?,
            Some(PropertyName::AccessType) => {
                props.restricted = match value.trim() {
                    v if v.eq_ignore_ascii_case("Open") => false,
                    v if v.eq_ignore_ascii_case("Restricted") => true,
                    _ => return Err(bad_value(name, value)),
                }
            }
            Some(PropertyName::Type) => match value.trim() {
                v if v.eq_ignore_ascii_case("Private") => {}
                v if v.eq_ignore_ascii_case("Public") => {
                    return Err(Refusal::new(
                        806,
                        "groups created by users are private; public groups are the operator's",
                    ));
                }
                _ => return Err(bad_value(name, value)),
            },
            Some(PropertyName::PrivateMessaging) => props.private_messaging = bool_of()?,
            Some(PropertyName::Searchable) => props.searchable = bool_of()?,
            Some(PropertyName::AutoJoin) => props.auto_join = bool_of()?,
            Some(PropertyName::AutoDelete) => props.auto_delete = bool_of()?,
            Some(PropertyName::ShowId) => props.show_id = bool_of()?,
            Some(PropertyName::MaxActiveUsers) => {
                let n: u32 = value.trim().parse().map_err(|_| bad_value(name, value))?;
                let ceiling = s.config.groups.max_joined_users;
                if n == 0 || n > ceiling {
                    return Err(Refusal::new(
                        806,
                        format!("MaxActiveUsers must be 1 to {ceiling}"),
                    ));
                }
                props.max_active_users = Some(n);
            }
            Some(PropertyName::Validity) => {
                let n: u32 = value.trim().parse().map_err(|_| bad_value(name, value))?;
                props.validity = Some(n);
            }
            // Computed: ignored in requests.
            Some(PropertyName::ActiveUsers) => {}
            Some(PropertyName::History) => {
                if bool_of()? {
                    return Err(Refusal::new(821, "group history is not kept"));
                }
            }
            _ => {
                return Err(Refusal::new(
                    806,
                    format!("unsupported group property {name:?}"),
                ));
            }
        }
    }
    if let Some(note) = &req.welcome_note {
        let data = note.content_data.clone().unwrap_or_default();
        if data.len() > s.config.im.max_content_bytes as usize {
            return Err(Refusal::new(806, "WelcomeNote too large"));
        }
        props.welcome_note = (!data.is_empty()).then(|| Note {
            content_type: note.content_type.clone(),
            base64: note.content_encoding == Some(ContentEncoding::Base64),
            data,
        });
    }
    Ok(())
}

fn check_searchable(props: &Props) -> Result<(), Refusal> {
    if props.searchable && props.name.is_none() && props.topic.is_none() {
        return Err(Refusal::new(
            822,
            "a searchable group needs a Name or a Topic",
        ));
    }
    Ok(())
}

/// Applies `OwnProperties` to `own` (806).
fn apply_own(own: &mut Own, req: &Properties) -> Result<(), Refusal> {
    for p in &req.property {
        let value = p.value.as_deref().unwrap_or("");
        let name = p.name.as_ref().map_or("", |n| n.as_str());
        let bool_of = || flag(value).ok_or_else(|| bad_value(name, value));
        match &p.name {
            Some(PropertyName::ShowId) => own.show_id = bool_of()?,
            Some(PropertyName::AutoJoin) => own.auto_join = bool_of()?,
            Some(PropertyName::PrivateMessaging) => own.private_messaging = bool_of()?,
            // Read-only.
            Some(PropertyName::PrivilegeLevel) => {}
            _ => {
                return Err(Refusal::new(
                    806,
                    format!("unsupported own property {name:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn welcome_note(note: &Note) -> ContentBlock {
    ContentBlock {
        content_type: Some(
            note.content_type
                .clone()
                .unwrap_or_else(|| "text/plain".into()),
        ),
        content_size: Some(note.data.len() as u64),
        content_encoding: note.base64.then_some(ContentEncoding::Base64),
        content_data: Some(note.data.clone()),
        ..Default::default()
    }
}

/// The group's properties as `version` knows them (`ceiling`: `groups.max_joined_users`).
fn group_properties(g: &Group, version: Version, ceiling: u32) -> GroupProperties {
    let p = &g.record.props;
    let mut out = Vec::new();
    if let Some(n) = &p.name {
        out.push(property(PropertyName::Name, n.clone()));
    }
    if let Some(t) = &p.topic {
        out.push(property(PropertyName::Topic, t.clone()));
    }
    out.push(property(
        PropertyName::AccessType,
        if p.restricted { "Restricted" } else { "Open" },
    ));
    out.push(property(
        PropertyName::Type,
        if is_public(g) { "Public" } else { "Private" },
    ));
    out.push(property(
        PropertyName::PrivateMessaging,
        tf(p.private_messaging),
    ));
    out.push(property(PropertyName::Searchable, tf(p.searchable)));
    out.push(property(
        PropertyName::MaxActiveUsers,
        p.max_active_users
            .unwrap_or(ceiling)
            .min(ceiling)
            .to_string(),
    ));
    out.push(property(
        PropertyName::ActiveUsers,
        g.joined.len().to_string(),
    ));
    out.push(property(PropertyName::AutoJoin, tf(p.auto_join)));
    if version != Version::V1_1 {
        out.push(property(PropertyName::AutoDelete, tf(p.auto_delete)));
        if let Some(v) = p.validity {
            out.push(property(PropertyName::Validity, v.to_string()));
        }
        out.push(property(PropertyName::ShowId, tf(p.show_id)));
    }
    GroupProperties {
        property: out,
        welcome_note: p.welcome_note.as_ref().map(welcome_note),
        ..Default::default()
    }
}

fn own_properties(g: &Group, user: &str, version: Version) -> Properties {
    let own = g.own(user);
    let mut out = Vec::new();
    if let Some(r) = g.role(user) {
        out.push(property(PropertyName::PrivilegeLevel, r.as_str()));
    }
    if version != Version::V1_1 {
        out.push(property(PropertyName::ShowId, tf(own.show_id)));
    }
    out.push(property(PropertyName::AutoJoin, tf(own.auto_join)));
    out.push(property(
        PropertyName::PrivateMessaging,
        tf(own.private_messaging),
    ));
    Properties {
        property: out,
        ..Default::default()
    }
}

/// A screen name asked for (trimmed), or the user part of the user id.
fn wished_sname(user: &str, asked: Option<&ScreenName>) -> Result<String, Refusal> {
    match asked.and_then(|n| n.sname.as_deref()) {
        Some(n) => {
            let n = n.trim();
            if n.is_empty()
                || n.chars().count() > MAX_SCREEN_NAME
                || n.chars().any(char::is_control)
            {
                return Err(Refusal::new(
                    402,
                    format!("a screen name is 1 to {MAX_SCREEN_NAME} characters"),
                ));
            }
            Ok(n.to_owned())
        }
        None => Ok(user
            .strip_prefix("wv:")
            .unwrap_or(user)
            .split('@')
            .next()
            .unwrap_or(user)
            .to_owned()),
    }
}

fn mapping(g: &Group, user: &str, sname: &str) -> Mapping {
    Mapping {
        sname: Some(sname.to_owned()),
        user_id: g.shows_id(user).then(|| user.to_owned()),
        ..Default::default()
    }
}

/// Joined users sorted by screen name, those matching `keep`.
fn joined_sorted(g: &Group, keep: impl Fn(&str) -> bool) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = g
        .joined
        .iter()
        .filter(|(u, _)| keep(u))
        .map(|(u, j)| (u.as_str(), j.sname.as_str()))
        .collect();
    v.sort_by_key(|(_, n)| n.to_ascii_lowercase());
    v
}

fn mapping_list(g: &Group, users: &[(&str, &str)]) -> MappingList {
    MappingList {
        mapping: users.iter().map(|(u, n)| mapping(g, u, n)).collect(),
        ..Default::default()
    }
}

fn user_map_list(g: &Group, users: &[(&str, &str)]) -> UserMapList {
    UserMapList {
        user_mapping: Some(mapping_list(g, users)),
        ..Default::default()
    }
}

fn sname_list(g: &Group, users: &[(&str, &str)]) -> UserList {
    UserList {
        screen_name: users.iter().map(|(_, n)| g.screen_name(n)).collect(),
        ..Default::default()
    }
}

/// `Joined` for a notice to a session of `version`.
fn joined_element(g: &Group, users: &[(&str, &str)], version: Version) -> Joined {
    if version == Version::V1_1 {
        Joined {
            user_list: Some(sname_list(g, users)),
            ..Default::default()
        }
    } else {
        Joined {
            user_map_list: Some(user_map_list(g, users)),
            ..Default::default()
        }
    }
}

fn user_list(ids: impl IntoIterator<Item = String>) -> UserList {
    UserList {
        user: ids.into_iter().map(User::id).collect(),
        ..Default::default()
    }
}

/// An entry of a request naming a user, as sent.
#[derive(Debug, Clone)]
enum Who {
    Id(String),
    Screen(ScreenName),
}

fn who_of_list(list: Option<&UserList>) -> Vec<Who> {
    let Some(l) = list else {
        return Vec::new();
    };
    l.user
        .iter()
        .map(|u| Who::Id(u.user_id.clone().unwrap_or_default()))
        .chain(l.screen_name.iter().cloned().map(Who::Screen))
        .collect()
}

/// The canonical user an entry names: a local account (402, 516, 531) or a joined screen
/// name (531).
fn resolve(s: &Server, g: &Group, who: &Who) -> Result<String, u16> {
    match who {
        Who::Id(raw) => local_user(s, raw),
        Who::Screen(n) => g
            .by_sname(n.sname.as_deref().unwrap_or(""))
            .map(str::to_owned)
            .ok_or(531),
    }
}

/// Describes a status code in DetailedResult.
pub(crate) fn describe(code: u16) -> &'static str {
    match code {
        402 => "invalid id",
        516 => "domain not supported",
        531 => "unknown user",
        532 => "recipient blocked sender",
        800 => "group does not exist",
        808 => "group is not joined",
        809 => "rejected from the group",
        810 => "not a group member",
        812 => "private messaging disabled for group",
        813 => "private messaging disabled for user",
        816 => "insufficient group privileges",
        821 => "group history is not kept",
        _ => "refused",
    }
}

/// 200, or the single refusal's code, or 201 with a DetailedResult per code naming the
/// entries as sent.
fn outcome(done: usize, failed: Vec<(u16, Who)>) -> Primitive {
    if failed.is_empty() {
        return status(200, "");
    }
    if done == 0
        && let [(code, _)] = failed.as_slice()
    {
        return status(*code, describe(*code));
    }
    let mut by_code: VecMap<u16, DetailedResult> = VecMap::new();
    for (code, who) in failed {
        let d = by_code.get_or_insert_with(code, || DetailedResult {
            code: Some(u32::from(code)),
            description: Some(describe(code).into()),
            ..Default::default()
        });
        match who {
            Who::Id(id) => d.user_id.push(id),
            Who::Screen(n) => d.screen_name.push(n),
        }
    }
    let mut st = Status::new(201, "partially successful");
    if let Some(r) = st.result.as_mut() {
        r.detailed_result = by_code.into_values().collect();
    }
    Primitive::Status(Box::new(st))
}

// ---- joining, leaving, notices --------------------------------------------------------

/// What changed in a group, for GroupChangeNotice.
enum Change<'a> {
    /// The actor joined under this screen name.
    Joined(&'a str),
    /// Screen name, and whether the user was put out.
    Left(&'a str, bool),
    /// A user on the reject list tried to join under this screen name.
    Refused(&'a str),
    Props,
}

/// A change waiting to be told, numbered in the order of the group's changes.
#[derive(Debug, Clone)]
struct Told {
    seq: u64,
    /// Whose action it was (not told to that user).
    actor: String,
    what: ToldWhat,
}

/// What a [`Told`] change was.
#[derive(Debug, Clone)]
enum ToldWhat {
    Joined(String),
    Left(String, bool),
    Refused(String),
    Props,
}

/// Records a change of `id` made by `actor` for the subscribed joined users: the first change
/// goes out at once, later ones wait until `groups.notice_interval_ms` after the last notice
/// and go out together, one GroupChangeNotice per session.
fn notify(s: &mut Server, id: &str, actor: &str, change: Change) {
    let Some(g) = s.groups.groups.get(id) else {
        return;
    };
    if !g.joined.keys().any(|u| g.record.notice.contains(u)) {
        return;
    }
    let seq = s.groups.next_change;
    s.groups.next_change += 1;
    let what = match change {
        Change::Joined(sname) => ToldWhat::Joined(sname.to_owned()),
        Change::Left(sname, put_out) => ToldWhat::Left(sname.to_owned(), put_out),
        Change::Refused(sname) => ToldWhat::Refused(sname.to_owned()),
        Change::Props => ToldWhat::Props,
    };
    let waiting = s.groups.pending.entry(id.to_owned()).or_default();
    let was_waiting = !waiting.is_empty();
    waiting.push(Told {
        seq,
        actor: actor.to_owned(),
        what,
    });
    let interval = s.config.groups.notice_interval_ms;
    let due_at = s
        .groups
        .last_notice
        .get(id)
        .map_or(0, |t| t.saturating_add(interval));
    if s.now >= due_at {
        if was_waiting {
            s.groups.due.retain(|(_, g)| g != id);
        }
        flush_notices(s, id);
    } else if !was_waiting {
        s.groups.due.insert((due_at, id.to_owned()));
    }
}

/// Sends the waiting changes of `id`: each subscribed joined session hears those made after
/// its user joined by someone else, a join followed by a leave of the same screen name
/// cancelling out.
fn flush_notices(s: &mut Server, id: &str) {
    let Some(changes) = s.groups.pending.remove(id) else {
        return;
    };
    s.groups.last_notice.insert(id.to_owned(), s.now);
    let Some(g) = s.groups.groups.get(id) else {
        return;
    };
    let ceiling = s.config.groups.max_joined_users;
    // Sessions hearing the same changes in the same version share one notice.
    let mut built: Vec<(Version, Vec<u64>, Arc<Primitive>)> = Vec::new();
    let mut sends = Vec::new();
    for (u, j) in &g.joined {
        if !g.record.notice.contains(u) {
            continue;
        }
        let heard: Vec<&Told> = changes
            .iter()
            .filter(|c| c.seq >= j.since && c.actor != *u)
            .collect();
        if heard.is_empty() {
            continue;
        }
        let key: Vec<u64> = heard.iter().map(|c| c.seq).collect();
        for h in &j.sessions {
            let Some(version) = s.sessions.get(h).map(|x| x.version) else {
                continue;
            };
            let found = built
                .iter()
                .find(|(v, k, _)| *v == version && *k == key)
                .map(|(_, _, p)| Arc::clone(p));
            let p = match found {
                Some(p) => p,
                None => {
                    let Some(n) = change_notice(g, &heard, version, ceiling) else {
                        continue;
                    };
                    let p = Arc::new(Primitive::GroupChangeNotice(Box::new(n)));
                    built.push((version, key.clone(), Arc::clone(&p)));
                    p
                }
            };
            sends.push((*h, p));
        }
    }
    for (h, p) in sends {
        s.enqueue_shared(h, p);
    }
}

/// The GroupChangeNotice telling `heard` (in order) in `version`; `None` when they cancel out.
fn change_notice(
    g: &Group,
    heard: &[&Told],
    version: Version,
    ceiling: u32,
) -> Option<GroupChangeNotice> {
    let mut joined: Vec<(&str, &str)> = Vec::new();
    let (mut left, mut left_blocked, mut props) = (Vec::new(), Vec::new(), false);
    let mut refused = Vec::new();
    for c in heard {
        match &c.what {
            ToldWhat::Joined(sname) => joined.push((c.actor.as_str(), sname.as_str())),
            ToldWhat::Left(sname, put_out) => {
                if let Some(i) = joined.iter().position(|(_, n)| n == sname) {
                    joined.remove(i);
                } else if *put_out && version == Version::V1_3 {
                    left_blocked.push(g.screen_name(sname));
                } else {
                    left.push(g.screen_name(sname));
                }
            }
            // Only 1.3 has a way to say it.
            ToldWhat::Refused(sname) if version == Version::V1_3 => {
                refused.push(g.screen_name(sname));
            }
            ToldWhat::Refused(_) => {}
            ToldWhat::Props => props = true,
        }
    }
    if joined.is_empty()
        && left.is_empty()
        && left_blocked.is_empty()
        && refused.is_empty()
        && !props
    {
        return None;
    }
    let list = |names: Vec<ScreenName>| {
        (!names.is_empty()).then(|| LeftList {
            user_list: Some(UserList {
                screen_name: names,
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    Some(GroupChangeNotice {
        group_id: Some(g.record.id.clone()),
        joined: (!joined.is_empty()).then(|| joined_element(g, &joined, version)),
        left: list(left),
        left_blocked: list(left_blocked),
        joined_blocked: list(refused),
        group_properties: props.then(|| group_properties(g, version, ceiling)),
        ..Default::default()
    })
}

/// Sends the coalesced change notices that are due.
pub(crate) fn on_timeout(s: &mut Server) {
    let now = s.now;
    while let Some((at, id)) = s.groups.due.first().cloned() {
        if at > now {
            break;
        }
        s.groups.due.remove(&(at, id.clone()));
        flush_notices(s, &id);
    }
    let interval = s.config.groups.notice_interval_ms;
    s.groups
        .last_notice
        .retain(|_, t| t.saturating_add(interval) > now);
    while let Some((at, id)) = s.groups.auto_delete.first().cloned() {
        if at > now {
            break;
        }
        s.groups.auto_delete.remove(&(at, id.clone()));
        // Still nobody joined, and still AutoDelete.
        let gone = s
            .groups
            .groups
            .get(&id)
            .is_some_and(|g| g.joined.is_empty() && g.record.props.auto_delete);
        if gone {
            s.groups.groups.remove(&id);
            save(s, &id);
        }
    }
    if s.wall_clock_ms == 0 {
        return;
    }
    let wall = super::im::wall_now(s);
    while let Some((at, id)) = s.groups.expiries.first().cloned() {
        if at > wall {
            break;
        }
        s.groups.expiries.remove(&(at, id.clone()));
        // The Validity may have been set again since.
        if s.groups
            .groups
            .get(&id)
            .is_some_and(|g| g.record.expires_ms == Some(at))
        {
            delete_now(s, &id);
            save(s, &id);
        }
    }
}

/// The wall-clock end of a group valid for `validity` seconds from now.
fn expiry(s: &Server, validity: Option<u32>) -> Option<i64> {
    let secs = i64::from(validity?);
    Some(super::im::wall_now(s).saturating_add(secs.saturating_mul(1000)))
}

fn schedule_expiry(s: &mut Server, id: &str, at: Option<i64>) {
    if let Some(at) = at {
        s.groups.expiries.insert((at, id.to_owned()));
    }
}

/// A session's capabilities are agreed: it joins again the groups where its user's own
/// AutoJoin is T, under the screen name last used, where the group still admits it (not
/// rejected, a member of a Restricted group, room left, the screen name free); nothing is
/// sent to the session, the other joined users hear of it.
pub(crate) fn auto_join(s: &mut Server, h: u64) {
    let Some((user, _)) = session_user(s, h) else {
        return;
    };
    let rejoin: Vec<(String, String)> = s
        .groups
        .groups
        .iter()
        .filter_map(|(id, g)| {
            let own = g.record.own.get(&user)?;
            let sname = own.rejoin_as.as_ref()?;
            let admitted = own.auto_join
                && !g.record.reject.contains(&user)
                && (!g.record.props.restricted || g.record.members.contains_key(&user))
                && g.by_sname(sname).is_none_or(|u| u == user)
                && (g.joined.contains_key(&user) || g.joined.len() < g.limit(s));
            admitted.then(|| (id.clone(), sname.clone()))
        })
        .collect();
    for (id, sname) in rejoin {
        join_session(s, &id, h, &user, &sname);
    }
}

/// Session `h` of `user` joins `id` as `sname` (checks done).
fn join_session(s: &mut Server, id: &str, h: u64, user: &str, sname: &str) {
    let Some(g) = s.groups.groups.get_mut(id) else {
        return;
    };
    let first = !g.joined.contains_key(user);
    let since = s.groups.next_change;
    let j = g.joined.get_or_insert_with(user.to_owned(), || JoinedUser {
        sname: sname.to_owned(),
        sessions: Vec::new(),
        since,
    });
    if !j.sessions.contains(&h) {
        j.sessions.push(h);
    }
    s.groups
        .by_session
        .entry(h)
        .or_default()
        .insert(id.to_owned());
    if first {
        notify(s, id, user, Change::Joined(sname));
    }
}

/// Session `h` leaves `id`; when it was the user's last, the user has left: notices, own
/// properties of a non-member forgotten, AutoDelete. Returns whether the record changed.
fn leave_session(s: &mut Server, id: &str, h: u64, put_out: bool) -> bool {
    if let Some(set) = s.groups.by_session.get_mut(&h) {
        set.remove(id);
        if set.is_empty() {
            s.groups.by_session.remove(&h);
        }
    }
    let Some(g) = s.groups.groups.get_mut(id) else {
        return false;
    };
    let Some(user) = g
        .joined
        .iter()
        .find(|(_, j)| j.sessions.contains(&h))
        .map(|(u, _)| u.clone())
    else {
        return false;
    };
    let Some(j) = g.joined.get_mut(&user) else {
        return false;
    };
    j.sessions.retain(|x| *x != h);
    if !j.sessions.is_empty() {
        return false;
    }
    let sname = j.sname.clone();
    g.joined.remove(&user);
    let mut changed = false;
    let rejoins = g
        .record
        .own
        .get(&user)
        .is_some_and(|o| o.rejoin_as.is_some());
    if !g.record.members.contains_key(&user) && !rejoins {
        changed |= g.record.own.remove(&user).is_some();
        changed |= g.record.notice.remove(&user);
    }
    let empty = g.joined.is_empty();
    let auto_delete = g.record.props.auto_delete;
    notify(s, id, &user, Change::Left(&sname, put_out));
    if empty && auto_delete {
        let delay = u64::from(s.config.groups.auto_delete_after_secs) * 1000;
        if delay == 0 {
            s.groups.groups.remove(id);
            return true;
        }
        s.groups
            .auto_delete
            .insert((s.now.saturating_add(delay), id.to_owned()));
    }
    changed
}

/// Puts `user` out of `id`: each joined session gets an unsolicited LeaveGroup-Response with
/// `code`. Returns whether the record changed.
fn put_out(s: &mut Server, id: &str, user: &str, code: u16) -> bool {
    let sessions = s
        .groups
        .groups
        .get(id)
        .and_then(|g| g.joined.get(user))
        .map(|j| j.sessions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for h in sessions {
        s.enqueue(
            h,
            Primitive::LeaveGroupResponse(Box::new(LeaveGroupResponse {
                group_id: Some(id.to_owned()),
                result: Some(result(code, describe(code))),
                ..Default::default()
            })),
        );
        changed |= leave_session(s, id, h, true);
    }
    changed
}

/// Removes group `id` from memory, telling every joined session (LeaveGroup-Response 800).
fn delete_now(s: &mut Server, id: &str) {
    let Some(g) = s.groups.groups.remove(id) else {
        return;
    };
    for j in g.joined.values() {
        for h in &j.sessions {
            if let Some(set) = s.groups.by_session.get_mut(h) {
                set.remove(id);
                if set.is_empty() {
                    s.groups.by_session.remove(h);
                }
            }
            s.enqueue(
                *h,
                Primitive::LeaveGroupResponse(Box::new(LeaveGroupResponse {
                    group_id: Some(id.to_owned()),
                    result: Some(result(800, "group deleted")),
                    ..Default::default()
                })),
            );
        }
    }
}

/// A session ended: it leaves every group it joined.
pub(crate) fn session_ended(s: &mut Server, h: u64) {
    let ids = s.groups.by_session.remove(&h).unwrap_or_default();
    for id in ids {
        if leave_session(s, &id, h, false) {
            save(s, &id);
        }
    }
}

// ---- requests -------------------------------------------------------------------------

/// `CreateGroup-Request`.
pub(crate) fn create_group(s: &mut Server, h: u64, req: &CreateGroupRequest) -> Primitive {
    match try_create(s, h, req) {
        Ok(()) => status(200, ""),
        Err(r) => r.answer(),
    }
}

fn try_create(s: &mut Server, h: u64, req: &CreateGroupRequest) -> Result<(), Refusal> {
    let (user, _) = session_user(s, h).ok_or_else(|| Refusal::new(604, "invalid session"))?;
    let raw = req
        .group_id
        .as_deref()
        .ok_or_else(|| Refusal::new(402, "GroupID missing"))?;
    let a = Address::parse(raw, &s.config.domain)
        .map_err(|e| Refusal::new(402, format!("invalid GroupID {raw:?}: {e}")))?;
    if a.domain != s.config.domain {
        return Err(Refusal::new(
            516,
            "groups of other domains are not served here",
        ));
    }
    if a.resource.is_none() || a.user_id() != user {
        return Err(Refusal::new(402, "groups live under wv:<you>/<name>"));
    }
    let id = a.to_string();
    if s.groups.groups.contains_key(&id) {
        return Err(Refusal::new(801, "group already exists"));
    }
    let prefix = format!("wv:{}/", a.user);
    let owned = s
        .groups
        .groups
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .count();
    if owned >= s.config.groups.max_groups_per_user as usize {
        return Err(Refusal::new(
            814,
            "maximum number of groups reached for the user",
        ));
    }
    if s.groups.groups.len() >= s.config.groups.max_groups as usize {
        return Err(Refusal::new(
            815,
            "maximum number of groups reached for the server",
        ));
    }
    let mut props = Props::default();
    if let Some(gp) = &req.group_properties {
        apply_props(s, &mut props, gp)?;
    }
    check_searchable(&props)?;
    let mut own = Own::default();
    if let Some(op) = &req.own_properties {
        apply_own(&mut own, op)?;
    }
    let join = req.join_group == Some(true);
    let sname = wished_sname(&user, req.screen_name.as_ref())?;
    if join && own.auto_join {
        own.rejoin_as = Some(sname.clone());
    }
    let expires_ms = expiry(s, props.validity);
    let mut record = GroupRecord {
        id: id.clone(),
        owner: user.clone(),
        props,
        members: VecMap::new(),
        reject: VecSet::new(),
        own: VecMap::new(),
        notice: VecSet::new(),
        expires_ms,
    };
    record.members.insert(user.clone(), Role::Admin);
    if own != Own::default() {
        record.own.insert(user.clone(), own);
    }
    if req.subscribe_notification == Some(true) {
        record.notice.insert(user.clone());
    }
    let g = Group {
        record,
        joined: VecMap::new(),
    };
    s.store(vec![put(&g)]);
    s.groups.groups.insert(id.clone(), g);
    schedule_expiry(s, &id, expires_ms);
    if join {
        join_session(s, &id, h, &user, &sname);
    }
    Ok(())
}

/// `DeleteGroup-Request`: administrators only.
pub(crate) fn delete_group(s: &mut Server, user: &str, req: &GroupRequest) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    if s.groups.groups.get(&id).and_then(|g| g.role(user)) != Some(Role::Admin) {
        return status(816, "only administrators delete a group");
    }
    delete_now(s, &id);
    save(s, &id);
    status(200, "")
}

/// `GetGroupProps-Request`: anyone.
pub(crate) fn get_group_props(
    s: &Server,
    user: &str,
    version: Version,
    req: &GroupRequest,
) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    Primitive::GetGroupPropsResponse(Box::new(GetGroupPropsResponse {
        group_properties: Some(group_properties(
            g,
            version,
            s.config.groups.max_joined_users,
        )),
        own_properties: Some(own_properties(g, user, version)),
        ..Default::default()
    }))
}

/// `SetGroupProps-Request`: group properties by administrators, own properties by members
/// and joined users.
pub(crate) fn set_group_props(s: &mut Server, user: &str, req: &SetGroupPropsRequest) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    let mut props = g.record.props.clone();
    if let Some(gp) = &req.group_properties {
        if g.role(user) != Some(Role::Admin) {
            return status(816, "only administrators change group properties");
        }
        if let Err(r) = apply_props(s, &mut props, gp).and_then(|()| check_searchable(&props)) {
            return r.answer();
        }
    }
    let mut own = g.own(user);
    if let Some(op) = &req.own_properties {
        if g.role(user).is_none() && !g.joined.contains_key(user) {
            return status(810, "own properties are for members and joined users");
        }
        if let Err(r) = apply_own(&mut own, op) {
            return r.answer();
        }
    }
    if own.auto_join {
        own.rejoin_as = g
            .joined
            .get(user)
            .map(|j| j.sname.clone())
            .or(own.rejoin_as);
    } else {
        own.rejoin_as = None;
    }
    let became_restricted = props.restricted && !g.record.props.restricted;
    let props_changed = props != g.record.props;
    // A Validity set again counts from now.
    let new_validity = req.group_properties.as_ref().is_some_and(|gp| {
        gp.property
            .iter()
            .any(|p| p.name == Some(PropertyName::Validity))
    });
    let expires_ms = if new_validity {
        expiry(s, props.validity)
    } else {
        g.record.expires_ms
    };
    if let Some(g) = s.groups.groups.get_mut(&id) {
        g.record.props = props;
        g.record.expires_ms = expires_ms;
        if req.own_properties.is_some() {
            if own == Own::default() {
                g.record.own.remove(user);
            } else {
                g.record.own.insert(user.to_owned(), own);
            }
        }
    }
    if became_restricted {
        let outsiders: Vec<String> = s
            .groups
            .groups
            .get(&id)
            .map(|g| {
                g.joined
                    .keys()
                    .filter(|u| !g.record.members.contains_key(*u))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for u in outsiders {
            put_out(s, &id, &u, 810);
        }
    }
    save(s, &id);
    if new_validity {
        schedule_expiry(s, &id, expires_ms);
    }
    if props_changed {
        notify(s, &id, user, Change::Props);
    }
    status(200, "")
}

/// `JoinGroup-Request`.
pub(crate) fn join_group(s: &mut Server, h: u64, req: &JoinGroupRequest) -> Primitive {
    let Some((user, version)) = session_user(s, h) else {
        return status(604, "invalid session");
    };
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    if s.groups
        .by_session
        .get(&h)
        .is_some_and(|set| set.contains(&id))
    {
        return status(807, "group is already joined");
    }
    if g.record.reject.contains(&user) {
        // 1.3 subscribers hear of it (JoinedBlocked), by the screen name asked.
        let sname = wished_sname(&user, req.screen_name.as_ref()).unwrap_or_default();
        notify(s, &id, &user, Change::Refused(&sname));
        return status(809, "rejected from the group");
    }
    if g.record.props.restricted && !g.record.members.contains_key(&user) {
        return status(810, "the group is restricted to its members");
    }
    let sname = match (g.joined.get(&user), req.screen_name.as_ref()) {
        (Some(j), None) => j.sname.clone(),
        (Some(j), Some(asked)) => {
            let wished = match wished_sname(&user, Some(asked)) {
                Ok(n) => n,
                Err(r) => return r.answer(),
            };
            if !wished.eq_ignore_ascii_case(&j.sname) {
                return status(811, "joined from another session under another screen name");
            }
            j.sname.clone()
        }
        (None, asked) => {
            let wished = match wished_sname(&user, asked) {
                Ok(n) => n,
                Err(r) => return r.answer(),
            };
            if g.by_sname(&wished).is_some() {
                return status(811, "screen name already in use");
            }
            if g.joined.len() >= g.limit(s) {
                return status(817, "maximum number of joined users reached");
            }
            wished
        }
    };
    let mut own = g.own(&user);
    if let Some(op) = &req.own_properties
        && let Err(r) = apply_own(&mut own, op)
    {
        return r.answer();
    }
    if own.auto_join {
        own.rejoin_as = Some(sname.clone());
    }
    let mut changed = false;
    if let Some(g) = s.groups.groups.get_mut(&id) {
        if own != g.own(&user) {
            g.record.own.insert(user.clone(), own);
            changed = true;
        }
        match req.subscribe_notification {
            Some(true) => changed |= g.record.notice.insert(user.clone()),
            Some(false) => changed |= g.record.notice.remove(&user),
            None => {}
        }
    }
    if changed {
        save(s, &id);
    }
    join_session(s, &id, h, &user, &sname);
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    let mut r = JoinGroupResponse {
        welcome_note: g.record.props.welcome_note.as_ref().map(welcome_note),
        ..Default::default()
    };
    if req.joined_request == Some(true) {
        let users = joined_sorted(g, |_| true);
        match version {
            Version::V1_1 => r.user_list = Some(sname_list(g, &users)),
            Version::V1_2 => r.user_map_list = Some(user_map_list(g, &users)),
            Version::V1_3 => {
                r.joined = Some(Joined {
                    user_map_list: Some(user_map_list(g, &users)),
                    ..Default::default()
                });
            }
        }
    }
    if version == Version::V1_3 {
        r.screen_name = Some(g.screen_name(&sname));
    }
    Primitive::JoinGroupResponse(Box::new(r))
}

fn leave_answer(id: Option<String>, code: u16, text: &str) -> Primitive {
    Primitive::LeaveGroupResponse(Box::new(LeaveGroupResponse {
        group_id: id,
        result: Some(result(code, text)),
        ..Default::default()
    }))
}

/// `LeaveGroup-Request`: this session leaves.
pub(crate) fn leave_group(s: &mut Server, h: u64, req: &GroupRequest) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(Refusal(code, text)) => return leave_answer(req.group_id.clone(), code, &text),
    };
    if !s
        .groups
        .by_session
        .get(&h)
        .is_some_and(|set| set.contains(&id))
    {
        return leave_answer(Some(id), 808, "group is not joined");
    }
    // Leaving on purpose: no joining again at the next login.
    let user = session_user(s, h).map(|(u, _)| u).unwrap_or_default();
    let mut changed = false;
    if let Some(o) = s
        .groups
        .groups
        .get_mut(&id)
        .and_then(|g| g.record.own.get_mut(&user))
    {
        changed = o.rejoin_as.take().is_some();
    }
    if leave_session(s, &id, h, false) || changed {
        save(s, &id);
    }
    leave_answer(Some(id), 200, "")
}

/// Group `req_id` for a manager (administrator, or moderator when `moderators`): 816 otherwise.
fn managed(
    s: &Server,
    user: &str,
    req_id: Option<&str>,
    moderators: bool,
) -> Result<(String, Role), Refusal> {
    let id = existing(s, req_id)?;
    let role = s.groups.groups.get(&id).and_then(|g| g.role(user));
    match role {
        Some(Role::Admin) => Ok((id, Role::Admin)),
        Some(Role::Mod) if moderators => Ok((id, Role::Mod)),
        _ => Err(Refusal::new(816, "insufficient group privileges")),
    }
}

/// `GetGroupMembers-Request`: administrators and moderators.
pub(crate) fn get_group_members(
    s: &Server,
    user: &str,
    version: Version,
    req: &GroupRequest,
) -> Primitive {
    let id = match managed(s, user, req.group_id.as_deref(), true) {
        Ok((id, _)) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    let level = |role: Role| {
        let ids: Vec<String> = g
            .record
            .members
            .iter()
            .filter(|(_, r)| **r == role)
            .map(|(u, _)| u.clone())
            .collect();
        (!ids.is_empty()).then(|| user_list(ids))
    };
    let wrap = |l: Option<UserList>| {
        l.map(|l| MemberLevel {
            user_list: Some(l),
            ..Default::default()
        })
    };
    let mut r = GetGroupMembersResponse {
        admin: wrap(level(Role::Admin)),
        moderator: wrap(level(Role::Mod)),
        ..Default::default()
    };
    if version == Version::V1_3 {
        r.user_list = level(Role::User);
    } else {
        r.users = wrap(level(Role::User));
    }
    Primitive::GetGroupMembersResponse(Box::new(r))
}

fn members_of(req: &GroupMembersRequest) -> Vec<Who> {
    let mut v = who_of_list(req.user_list.as_ref());
    if let Some(l) = &req.user_id_list {
        v.extend(l.user_id.iter().cloned().map(Who::Id));
    }
    v
}

/// `AddGroupMembers-Request`: new members are ordinary users.
pub(crate) fn add_group_members(
    s: &mut Server,
    user: &str,
    req: &GroupMembersRequest,
) -> Primitive {
    let id = match managed(s, user, req.group_id.as_deref(), true) {
        Ok((id, _)) => id,
        Err(r) => return r.answer(),
    };
    let who = members_of(req);
    if who.is_empty() {
        return status(402, "UserList missing");
    }
    let mut failed = Vec::new();
    let mut add = Vec::new();
    if let Some(g) = s.groups.groups.get(&id) {
        for w in who {
            match resolve(s, g, &w) {
                Ok(u) => add.push(u),
                Err(code) => failed.push((code, w)),
            }
        }
    }
    let done = add.len();
    let mut changed = false;
    if let Some(g) = s.groups.groups.get_mut(&id) {
        for u in add {
            if !g.record.members.contains_key(&u) {
                g.record.members.insert(u, Role::User);
                changed = true;
            }
        }
    }
    if changed {
        save(s, &id);
    }
    outcome(done, failed)
}

/// `RemoveGroupMembers-Request`: removed users who are joined are put out (810).
pub(crate) fn remove_group_members(
    s: &mut Server,
    user: &str,
    req: &GroupMembersRequest,
) -> Primitive {
    let (id, mine) = match managed(s, user, req.group_id.as_deref(), true) {
        Ok(x) => x,
        Err(r) => return r.answer(),
    };
    let who = members_of(req);
    if who.is_empty() {
        return status(402, "UserList missing");
    }
    let mut failed = Vec::new();
    let mut gone = Vec::new();
    if let Some(g) = s.groups.groups.get(&id) {
        for w in who {
            let u = match resolve(s, g, &w) {
                Ok(u) => u,
                Err(code) => {
                    failed.push((code, w));
                    continue;
                }
            };
            match g.role(&u) {
                None => failed.push((810, w)),
                Some(_) if u == g.record.owner => failed.push((816, w)),
                Some(r) if mine == Role::Mod && r != Role::User => failed.push((816, w)),
                Some(_) => gone.push(u),
            }
        }
    }
    let done = gone.len();
    for u in &gone {
        if let Some(g) = s.groups.groups.get_mut(&id) {
            g.record.members.remove(u);
            if !g.joined.contains_key(u) {
                g.record.own.remove(u);
                g.record.notice.remove(u);
            }
        }
        put_out(s, &id, u, 810);
    }
    if done > 0 {
        save(s, &id);
    }
    outcome(done, failed)
}

/// `MemberAccess-Request`: administrators set levels; a non-member becomes a member.
pub(crate) fn member_access(s: &mut Server, user: &str, req: &MemberAccessRequest) -> Primitive {
    let id = match managed(s, user, req.group_id.as_deref(), false) {
        Ok((id, _)) => id,
        Err(r) => return r.answer(),
    };
    let level = |l: Option<&MemberLevel>| who_of_list(l.and_then(|l| l.user_list.as_ref()));
    let mut asked: Vec<(Role, Who)> = Vec::new();
    asked.extend(
        level(req.admin.as_ref())
            .into_iter()
            .map(|w| (Role::Admin, w)),
    );
    asked.extend(
        level(req.moderator.as_ref())
            .into_iter()
            .map(|w| (Role::Mod, w)),
    );
    asked.extend(
        level(req.users.as_ref())
            .into_iter()
            .chain(who_of_list(req.user_list.as_ref()))
            .map(|w| (Role::User, w)),
    );
    if asked.is_empty() {
        return status(402, "no users named");
    }
    let mut failed = Vec::new();
    let mut set = Vec::new();
    if let Some(g) = s.groups.groups.get(&id) {
        for (role, w) in asked {
            match resolve(s, g, &w) {
                Ok(u) if u == g.record.owner => failed.push((816, w)),
                Ok(u) => set.push((u, role)),
                Err(code) => failed.push((code, w)),
            }
        }
    }
    let done = set.len();
    let mut changed = false;
    if let Some(g) = s.groups.groups.get_mut(&id) {
        for (u, role) in set {
            changed |= g.record.members.insert(u, role) != Some(role);
        }
    }
    if changed {
        save(s, &id);
    }
    outcome(done, failed)
}

/// `GetJoinedUsers-Request`: joined users, and administrators and moderators.
pub(crate) fn get_joined_users(s: &Server, user: &str, req: &GroupRequest) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get(&id) else {
        return status(800, "group does not exist");
    };
    let role = g.role(user);
    let manager = matches!(role, Some(Role::Admin | Role::Mod));
    if !manager && !g.joined.contains_key(user) {
        return status(808, "group is not joined");
    }
    let mut r = GetJoinedUsersResponse::default();
    if manager {
        let of = |want: Role| {
            let users = joined_sorted(g, |u| g.role(u).unwrap_or(Role::User) == want);
            (!users.is_empty()).then(|| mapping_list(g, &users))
        };
        r.admin_map_list = Some(AdminMapList {
            admin_mapping: of(Role::Admin),
            mod_mapping: of(Role::Mod),
            user_mapping: of(Role::User),
            ..Default::default()
        });
    } else {
        r.user_map_list = Some(user_map_list(g, &joined_sorted(g, |_| true)));
    }
    Primitive::GetJoinedUsersResponse(Box::new(r))
}

fn entity_who(l: Option<&EntityList>) -> Vec<Who> {
    let Some(l) = l else {
        return Vec::new();
    };
    l.user_id
        .iter()
        .cloned()
        .map(Who::Id)
        .chain(l.screen_name.iter().cloned().map(Who::Screen))
        .collect()
}

/// `RejectList-Request`: administrators and moderators ban and unban users (a joined user
/// banned is put out, 809); answered with the whole list, or a Status naming refused entries.
pub(crate) fn reject_list(s: &mut Server, user: &str, req: &RejectListRequest) -> Primitive {
    let (id, mine) = match managed(s, user, req.group_id.as_deref(), true) {
        Ok(x) => x,
        Err(r) => return r.answer(),
    };
    let mut failed = Vec::new();
    let mut ban = Vec::new();
    let mut unban = Vec::new();
    if let Some(g) = s.groups.groups.get(&id) {
        for w in entity_who(req.add_list.as_ref()) {
            match resolve(s, g, &w) {
                Ok(u) if u == g.record.owner => failed.push((816, w)),
                Ok(u) if mine == Role::Mod && g.role(&u).is_some_and(|r| r != Role::User) => {
                    failed.push((816, w));
                }
                Ok(u) => ban.push(u),
                Err(code) => failed.push((code, w)),
            }
        }
        // Anything that reads as a user id may come off the list (accounts may be gone).
        for w in entity_who(req.remove_list.as_ref()) {
            if let Who::Id(raw) = &w
                && let Ok(a) = Address::parse_user(raw, &s.config.domain)
            {
                unban.push(a.to_string());
            }
        }
    }
    let done = ban.len() + unban.len();
    let mut changed = false;
    if let Some(g) = s.groups.groups.get_mut(&id) {
        for u in &ban {
            changed |= g.record.reject.insert(u.clone());
        }
        for u in &unban {
            changed |= g.record.reject.remove(u);
        }
    }
    for u in &ban {
        changed |= put_out(s, &id, u, 809);
    }
    if changed {
        save(s, &id);
    }
    if !failed.is_empty() {
        return outcome(done, failed);
    }
    let list = s
        .groups
        .groups
        .get(&id)
        .map(|g| g.record.reject.iter().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    Primitive::RejectListResponse(Box::new(RejectListResponse {
        user_list: (!list.is_empty()).then(|| user_list(list)),
        ..Default::default()
    }))
}

/// `SubscribeGroupNotice-Request`: members and joined users; Get answers the state as
/// `Value` T/F, Set and Unset a Status.
pub(crate) fn subscribe_group_notice(
    s: &mut Server,
    user: &str,
    req: &SubscribeGroupNoticeRequest,
) -> Primitive {
    let id = match existing(s, req.group_id.as_deref()) {
        Ok(id) => id,
        Err(r) => return r.answer(),
    };
    let Some(g) = s.groups.groups.get_mut(&id) else {
        return status(800, "group does not exist");
    };
    if g.role(user).is_none() && !g.joined.contains_key(user) {
        return status(808, "group is not joined");
    }
    let changed = match &req.subscribe_type {
        Some(SubscribeType::Get) => {
            return Primitive::SubscribeGroupNoticeResponse(Box::new(
                SubscribeGroupNoticeResponse {
                    value: Some(tf(g.record.notice.contains(user)).into()),
                    ..Default::default()
                },
            ));
        }
        Some(SubscribeType::Set) => g.record.notice.insert(user.to_owned()),
        Some(SubscribeType::Unset) => g.record.notice.remove(user),
        _ => return status(402, "SubscribeType is G, S or U"),
    };
    if changed {
        save(s, &id);
    }
    status(200, "")
}

// ---- messages -------------------------------------------------------------------------

/// The recipients of a message to a group, as [`message_targets`] finds them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupSend {
    /// Canonical group id.
    pub group_id: String,
    /// How the sender appears: `None` = by user id; otherwise its screen name.
    pub sender_as: Option<ScreenName>,
    /// Users to deliver to, each once (in user order).
    pub to: Vec<String>,
    /// A private message (to one screen name): its refusals are told the sender.
    pub private: bool,
}

/// Whether `member` blocks `sender`, by user id, by the group, or by the sender's screen name.
fn blocked_in_group(s: &Server, member: &str, sender: &str, id: &str, sname: &str) -> bool {
    if block_list::blocks(s, member, sender) {
        return true;
    }
    s.blocks.get(member).is_some_and(|r| {
        r.block.in_use
            && (r.block.entries.groups.contains(id)
                || r.block
                    .entries
                    .screen_names
                    .iter()
                    .any(|(n, g)| g == id && n.trim().eq_ignore_ascii_case(sname)))
    })
}

/// Who a message from `sender` to `target` (`Group (GroupID | ScreenName)`) reaches, or why
/// not: 402/516/800 for the group, 808 the sender is not joined; for a private message 812,
/// 531 (no such screen name joined), 813, 532.
pub(crate) fn message_targets(
    s: &Server,
    sender: &str,
    target: &crate::codec::common::Group,
) -> Result<GroupSend, u16> {
    let raw = target
        .group_id
        .as_deref()
        .or_else(|| target.screen_name.as_ref()?.group_id.as_deref());
    let id = existing(s, raw).map_err(|r| r.0)?;
    let g = s.groups.groups.get(&id).ok_or(800u16)?;
    let me = g.joined.get(sender).ok_or(808u16)?;
    let sender_as = (!g.shows_id(sender)).then(|| g.screen_name(&me.sname));
    let to = match target
        .screen_name
        .as_ref()
        .filter(|_| target.group_id.is_none())
    {
        Some(n) => {
            if !g.record.props.private_messaging {
                return Err(812);
            }
            let member = g.by_sname(n.sname.as_deref().unwrap_or("")).ok_or(531u16)?;
            if g.record
                .own
                .get(member)
                .is_some_and(|o| !o.private_messaging)
            {
                return Err(813);
            }
            if blocked_in_group(s, member, sender, &id, &me.sname) {
                return Err(532);
            }
            vec![member.to_owned()]
        }
        None => g
            .joined
            .keys()
            .filter(|u| *u != sender && !blocked_in_group(s, u, sender, &id, &me.sname))
            .cloned()
            .collect(),
    };
    Ok(GroupSend {
        private: target.screen_name.is_some() && target.group_id.is_none(),
        group_id: id,
        sender_as,
        to,
    })
}

// ---- invitations (server/invite.rs) -----------------------------------------------------

/// The screen name `user` is joined to `g` under.
pub(crate) fn joined_sname<'a>(g: &'a Group, user: &str) -> Option<&'a str> {
    g.joined.get(user).map(|j| j.sname.as_str())
}

/// Whether `inviter` may invite others to group `raw`: the canonical group id, or 402/516/800
/// for the group, 810 when the inviter is neither a member nor joined, 816 for a Restricted
/// group when the inviter is not an administrator or moderator (only they admit members).
pub(crate) fn may_invite(s: &Server, raw: Option<&str>, inviter: &str) -> Result<String, u16> {
    let id = existing(s, raw).map_err(|r| r.0)?;
    let g = s.groups.groups.get(&id).ok_or(800u16)?;
    let role = g.role(inviter);
    if role.is_none() && !g.joined.contains_key(inviter) {
        return Err(810);
    }
    if g.record.props.restricted && !matches!(role, Some(Role::Admin | Role::Mod)) {
        return Err(816);
    }
    Ok(id)
}

/// An accepted group invitation: a Restricted group makes `invitee` a member (when the
/// inviter still may invite); an Open group needs nothing. 800 when the group is gone, 809
/// when the invitee is on its reject list, 810/816 when the inviter lost the right.
pub(crate) fn admit(s: &mut Server, id: &str, inviter: &str, invitee: &str) -> Result<(), u16> {
    may_invite(s, Some(id), inviter)?;
    let Some(g) = s.groups.groups.get_mut(id) else {
        return Err(800);
    };
    if g.record.reject.contains(invitee) {
        return Err(809);
    }
    if !g.record.props.restricted || g.record.members.contains_key(invitee) {
        return Ok(());
    }
    g.record.members.insert(invitee.to_owned(), Role::User);
    save(s, id);
    Ok(())
}
