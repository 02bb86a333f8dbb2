//! Contact lists (CSP-REFERENCE §2.3): GetList, CreateList, DeleteList, ListManage.
//!
//! A user owns any number of lists (up to a configured limit, 753) under `wv:<self>/<name>`;
//! exactly one of them is the default while any exist: the first list created, or the one
//! last marked `Default=T`; when the default is deleted the oldest remaining list takes over
//! (a `Default=F` on the default list is ignored, since one list must stay the default).
//! Members are local users (531 for unknown ones, 516 for other domains) with an optional
//! nickname; a list holds at most the configured number of contacts (754).

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::boxmap::BoxMap;
use crate::codec::common::{
    ContactListIdList, NickList, NickName, Properties, Property, PropertyName, Status,
};
use crate::codec::presence::{
    CreateListRequest, CreateListResponse, DeleteListRequest, GetListResponse, ListManageRequest,
    ListManageResponse,
};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};
use crate::vecmap::VecMap;

use super::presence::Ids;
use super::{Server, result};

/// One member of a stored contact list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMember {
    /// Canonical user id.
    pub user_id: String,
    /// The owner's name for the contact.
    pub nick: Option<String>,
}

/// A contact list as stored (record schema v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredList {
    /// Canonical list id `wv:owner/name@domain`.
    pub id: String,
    /// Canonical owner id.
    pub owner: String,
    /// `DisplayName` property.
    pub display_name: Option<String>,
    /// Whether this is the owner's default list.
    pub default: bool,
    /// Creation order among the owner's lists.
    pub created: u64,
    /// Members in the order they were added.
    pub members: Vec<StoredMember>,
}

/// A contact list in memory: members are interned user ids (4 bytes each, not a string
/// each — lists are most of a user's memory), nicknames kept apart for the few that have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactList {
    /// Canonical list id `wv:owner/name@domain`.
    pub id: String,
    /// Canonical owner id.
    pub owner: String,
    /// `DisplayName` property.
    pub display_name: Option<String>,
    /// Whether this is the owner's default list.
    pub default: bool,
    /// Creation order among the owner's lists.
    pub created: u64,
    /// Members (interned ids, see [`Ids`]) in the order they were added.
    pub members: Vec<u32>,
    /// Nicknames of the members that have one.
    pub nicks: VecMap<u32, Box<str>>,
}

impl ContactList {
    /// Whether `user` (canonical id) is a member.
    pub fn contains(&self, ids: &Ids, user: &str) -> bool {
        ids.get(user).is_some_and(|id| self.members.contains(&id))
    }

    /// The members' canonical ids, in order.
    pub fn member_ids<'a>(&'a self, ids: &'a Ids) -> impl Iterator<Item = &'a str> {
        self.members.iter().map(|m| ids.name(*m))
    }
}

/// Every user's lists: owner → list id → list.
pub(crate) type Lists = BoxMap<String, VecMap<String, ContactList>>;

fn put(ids: &Ids, list: &ContactList) -> StorageOp {
    let stored = StoredList {
        id: list.id.clone(),
        owner: list.owner.clone(),
        display_name: list.display_name.clone(),
        default: list.default,
        created: list.created,
        members: list
            .members
            .iter()
            .map(|m| StoredMember {
                user_id: ids.name(*m).to_owned(),
                nick: list.nicks.get(m).map(|n| n.to_string()),
            })
            .collect(),
    };
    StorageOp::Put {
        table: Table::ContactLists,
        key: list.id.clone(),
        value: store::encode_record(&stored),
    }
}

/// Restores one stored list.
pub(crate) fn restore(lists: &mut Lists, ids: &mut Ids, stored: StoredList) {
    let mut list = ContactList {
        id: stored.id,
        owner: stored.owner,
        display_name: stored.display_name,
        default: stored.default,
        created: stored.created,
        members: Vec::with_capacity(stored.members.len()),
        nicks: VecMap::new(),
    };
    for m in stored.members {
        let id = ids.intern(&m.user_id);
        list.members.push(id);
        if let Some(n) = m.nick {
            list.nicks.insert(id, n.into_boxed_str());
        }
    }
    lists
        .entry(list.owner.clone())
        .or_default()
        .insert(list.id.clone(), list);
}

/// Storage deletes for every list of `owner` (account deletion), removing them from memory.
pub(crate) fn remove_owner(lists: &mut Lists, owner: &str) -> Vec<StorageOp> {
    lists
        .remove(owner)
        .map(|l| {
            l.into_keys()
                .map(|key| StorageOp::Delete {
                    table: Table::ContactLists,
                    key,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Why a request about a list failed.
pub(crate) struct Refusal(pub u16, pub String);

/// Parses a list id that `owner` may use: `wv:<owner>/<name>@<domain>`.
pub(crate) fn own_list_id(s: &Server, owner: &str, raw: Option<&str>) -> Result<String, Refusal> {
    let raw = raw.ok_or_else(|| Refusal(402, "ContactList missing".into()))?;
    let a = Address::parse(raw, &s.config.domain)
        .map_err(|e| Refusal(402, format!("invalid ContactList {raw:?}: {e}")))?;
    if a.domain != s.config.domain {
        return Err(Refusal(
            516,
            "contact lists of other domains are not served here".into(),
        ));
    }
    if a.resource.is_none() || a.user_id() != owner {
        return Err(Refusal(
            402,
            "contact lists live under wv:<you>/<name>".into(),
        ));
    }
    Ok(a.to_string())
}

/// Applies `ContactListProperties` to `list`; 752 for an unknown property or bad value.
/// Returns whether the list asked to become the default.
fn apply_properties(list: &mut ContactList, props: &Properties) -> Result<bool, Refusal> {
    let mut make_default = false;
    for p in &props.property {
        let value = p.value.as_deref().unwrap_or("");
        match &p.name {
            Some(PropertyName::DisplayName) => {
                list.display_name = (!value.is_empty()).then(|| value.to_owned());
            }
            Some(PropertyName::Default) => match value.trim() {
                "T" | "t" => make_default = true,
                "F" | "f" => {}
                other => {
                    return Err(Refusal(
                        752,
                        format!("Default must be T or F, not {other:?}"),
                    ));
                }
            },
            other => {
                let name = other.as_ref().map_or("", |n| n.as_str());
                return Err(Refusal(
                    752,
                    format!("unsupported contact list property {name:?}"),
                ));
            }
        }
    }
    Ok(make_default)
}

/// Validates and adds members; returns per-member failures as (code, user id as sent).
fn add_members(s: &mut Server, list: &mut ContactList, nicks: &NickList) -> Vec<(u16, String)> {
    let mut failed = Vec::new();
    let entries = nicks
        .nick_name
        .iter()
        .map(|n| (n.user_id.clone().unwrap_or_default(), n.name.clone()))
        .chain(nicks.user_id.iter().map(|u| (u.clone(), None)));
    for (raw, nick) in entries {
        match Address::parse_user(&raw, &s.config.domain) {
            Ok(a) if a.domain != s.config.domain => failed.push((516, raw)),
            Ok(a) if !s.accounts.contains_key(&a.to_string()) => failed.push((531, raw)),
            Ok(a) => {
                let id = s.presence.ids.intern(&a.to_string());
                if !list.members.contains(&id) {
                    list.members.push(id);
                }
                if let Some(n) = nick {
                    list.nicks.insert(id, n.into_boxed_str());
                }
            }
            Err(_) => failed.push((531, raw)),
        }
    }
    list.members.shrink_to_fit();
    failed
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

fn nick_list(ids: &Ids, list: &ContactList) -> NickList {
    let mut out = NickList::default();
    for m in &list.members {
        let user = ids.name(*m).to_owned();
        match list.nicks.get(m) {
            Some(name) => out.nick_name.push(NickName {
                name: Some(name.to_string()),
                user_id: Some(user),
                ..Default::default()
            }),
            None => out.user_id.push(user),
        }
    }
    out
}

fn properties(list: &ContactList) -> Properties {
    let mut props = Properties::default();
    if let Some(name) = &list.display_name {
        props.property.push(Property {
            name: Some(PropertyName::DisplayName),
            value: Some(name.clone()),
            ..Default::default()
        });
    }
    props.property.push(Property {
        name: Some(PropertyName::Default),
        value: Some(if list.default { "T" } else { "F" }.into()),
        ..Default::default()
    });
    props
}

/// Makes `id` the owner's only default list; returns the lists whose flag changed.
fn set_default(ids: &Ids, lists: &mut VecMap<String, ContactList>, id: &str) -> Vec<StorageOp> {
    let mut ops = Vec::new();
    for l in lists.values_mut() {
        let want = l.id == id;
        if l.default != want {
            l.default = want;
            ops.push(put(ids, l));
        }
    }
    ops
}

/// `GetList-Request`: the owner's lists and default list, shaped for `version`.
pub(crate) fn get_list(s: &Server, owner: &str, version: Version) -> Primitive {
    let mut lists: Vec<&ContactList> = s
        .lists
        .get(owner)
        .map(|m| m.values().collect())
        .unwrap_or_default();
    lists.sort_by_key(|l| l.created);
    let default = lists.iter().find(|l| l.default).map(|l| l.id.clone());
    // 1.1 names the default list among the others too; later versions only in DefaultContactList.
    let others: Vec<String> = lists
        .iter()
        .filter(|l| version == Version::V1_1 || !l.default)
        .map(|l| l.id.clone())
        .collect();
    let mut r = GetListResponse {
        default_contact_list: default,
        ..Default::default()
    };
    if version == Version::V1_3 {
        r.contact_list_id_list = Some(ContactListIdList {
            contact_list: others,
            ..Default::default()
        });
    } else {
        r.contact_list = others;
    }
    Primitive::GetListResponse(Box::new(r))
}

/// `CreateList-Request`: Status (201 with details for refused members), or CreateList-Response in 1.3.
pub(crate) fn create_list(
    s: &mut Server,
    owner: &str,
    version: Version,
    req: &CreateListRequest,
) -> Primitive {
    let id = match own_list_id(s, owner, req.contact_list.as_deref()) {
        Ok(id) => id,
        Err(Refusal(code, text)) => return status(code, &text),
    };
    let existing = s.lists.get(owner).map_or(0, VecMap::len);
    if s.lists.get(owner).is_some_and(|m| m.contains_key(&id)) {
        return status(701, "contact list already exists");
    }
    if existing >= s.config.contact_lists.max_lists as usize {
        return status(753, "maximum number of contact lists reached");
    }
    let created = s
        .lists
        .get(owner)
        .and_then(|m| m.values().map(|l| l.created).max())
        .map_or(0, |c| c + 1);
    let mut list = ContactList {
        id: id.clone(),
        owner: owner.to_owned(),
        display_name: None,
        default: false,
        created,
        members: Vec::new(),
        nicks: VecMap::new(),
    };
    let make_default = match req
        .contact_list_properties
        .as_ref()
        .map(|p| apply_properties(&mut list, p))
    {
        Some(Err(Refusal(code, text))) => return status(code, &text),
        Some(Ok(d)) => d,
        None => false,
    };
    let failed = req
        .nick_list
        .as_ref()
        .map(|n| add_members(s, &mut list, n))
        .unwrap_or_default();
    if list.members.len() > s.config.contact_lists.max_contacts as usize {
        return status(754, "maximum number of contacts in a list reached");
    }
    // The first list, or one created with Default=T, becomes the default.
    list.default = make_default || existing == 0;
    let owned = s.lists.entry(owner.to_owned()).or_default();
    let mut ops = Vec::new();
    if list.default {
        for other in owned.values_mut().filter(|l| l.default) {
            other.default = false;
            ops.push(put(&s.presence.ids, other));
        }
    }
    ops.push(put(&s.presence.ids, &list));
    owned.insert(id.clone(), list);
    let answer = match (failed.is_empty(), version, owned.get(&id)) {
        (true, Version::V1_3, Some(l)) => {
            Primitive::CreateListResponse(Box::new(CreateListResponse {
                contact_list: Some(id),
                contact_list_properties: Some(properties(l)),
                ..Default::default()
            }))
        }
        (true, _, _) => status(200, ""),
        (false, _, _) => {
            let mut st = Status::new(201, "created; some contacts were refused");
            if let Some(r) = st.result.as_mut() {
                r.detailed_result = super::presence::detailed(failed);
            }
            Primitive::Status(Box::new(st))
        }
    };
    s.store(ops);
    answer
}

/// `DeleteList-Request`.
pub(crate) fn delete_list(s: &mut Server, owner: &str, req: &DeleteListRequest) -> Primitive {
    let id = match own_list_id(s, owner, req.contact_list.as_deref()) {
        Ok(id) => id,
        Err(Refusal(code, text)) => return status(code, &text),
    };
    let Some(owned) = s.lists.get_mut(owner) else {
        return status(700, "no such contact list");
    };
    let Some(gone) = owned.remove(&id) else {
        return status(700, "no such contact list");
    };
    let mut ops = vec![StorageOp::Delete {
        table: Table::ContactLists,
        key: id,
    }];
    if gone.default
        && let Some(next) = owned
            .values()
            .min_by_key(|l| l.created)
            .map(|l| l.id.clone())
    {
        ops.extend(set_default(&s.presence.ids, owned, &next));
    }
    if owned.is_empty() {
        s.lists.remove(owner);
    }
    s.store(ops);
    // Membership of the list no longer grants its attribute list.
    super::authorization::list_deleted(s, owner, &gone.id);
    super::presence::list_changed(s, owner, None);
    status(200, "")
}

/// The members of `owner_lists[id]` that are not in `before`.
fn list_added(
    ids: &Ids,
    owner_lists: Option<&VecMap<String, ContactList>>,
    id: &str,
    before: &[u32],
) -> Vec<String> {
    owner_lists
        .and_then(|m| m.get(id))
        .map(|l| {
            l.members
                .iter()
                .filter(|m| !before.contains(m))
                .map(|m| ids.name(*m).to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `ListManage-Request`: add or remove members, or change properties; answers the members
/// when asked (`ReceiveList=T`, and always in 1.1).
pub(crate) fn list_manage(
    s: &mut Server,
    owner: &str,
    version: Version,
    req: &ListManageRequest,
) -> Primitive {
    let id = match own_list_id(s, owner, req.contact_list.as_deref()) {
        Ok(id) => id,
        Err(Refusal(code, text)) => return status(code, &text),
    };
    let Some(mut list) = s.lists.get(owner).and_then(|m| m.get(&id)).cloned() else {
        return status(700, "no such contact list");
    };
    let before = list.members.clone();
    let mut failed = Vec::new();
    let mut make_default = false;
    if let Some(add) = &req.add_nick_list {
        failed = add_members(s, &mut list, add);
        if list.members.len() > s.config.contact_lists.max_contacts as usize {
            return status(754, "maximum number of contacts in a list reached");
        }
    }
    if let Some(remove) = &req.remove_nick_list {
        let domain = s.config.domain.clone();
        let gone: Vec<String> = remove
            .user_id
            .iter()
            .filter_map(|u| Address::parse_user(u, &domain).ok().map(|a| a.to_string()))
            .collect();
        let ids = &s.presence.ids;
        list.members
            .retain(|m| !gone.iter().any(|g| g == ids.name(*m)));
        list.nicks
            .retain(|m, _| !gone.iter().any(|g| g == ids.name(*m)));
    }
    if let Some(props) = &req.contact_list_properties {
        match apply_properties(&mut list, props) {
            Ok(d) => make_default = d,
            Err(Refusal(code, text)) => return status(code, &text),
        }
    }
    let changed = s.lists.get(owner).and_then(|m| m.get(&id)) != Some(&list);
    let mut ops = Vec::new();
    if let Some(owned) = s.lists.get_mut(owner) {
        if changed {
            ops.push(put(&s.presence.ids, &list));
            owned.insert(id.clone(), list);
        }
        if make_default {
            ops.extend(set_default(&s.presence.ids, owned, &id));
        }
    }
    s.store(ops);
    if changed {
        let added: Vec<String> = list_added(&s.presence.ids, s.lists.get(owner), &id, &before);
        super::presence::list_changed(s, owner, Some((&id, &added)));
    }
    let Some(list) = s.lists.get(owner).and_then(|m| m.get(&id)) else {
        return status(500, "contact list vanished");
    };
    let receive = req.receive_list == Some(true) || version == Version::V1_1;
    let mut r = if failed.is_empty() {
        result(200, "")
    } else {
        result(201, "some contacts were refused")
    };
    r.detailed_result = super::presence::detailed(failed);
    Primitive::ListManageResponse(Box::new(ListManageResponse {
        result: Some(r),
        nick_list: receive.then(|| nick_list(&s.presence.ids, list)),
        contact_list_properties: (receive || req.contact_list_properties.is_some())
            .then(|| properties(list)),
        ..Default::default()
    }))
}
