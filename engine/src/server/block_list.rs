//! Block and grant lists (CSP-REFERENCE §2.5, §2.9): GetBlockedList and BlockEntity (1.1 also
//! spelled `BlockUser-Request`).
//!
//! Each user has one block list and one grant list; each is a set of entries plus an in-use
//! flag. Entries are user ids, group ids, screen names (SName within a group, kept as a pair)
//! and, from 1.3, contact list ids and application ids. User ids are canonicalised; users of
//! other domains may be listed (they will matter once servers talk to each other). A user id
//! that is not an address is refused with 402 and a local user without an account with 531,
//! one by one in a 201 answer, while the rest of the request is applied. Group, screen-name
//! and contact-list ids are canonicalised as resource addresses (402 when they are not one);
//! application ids are kept as sent.
//!
//! Until the user first changes them, the block list is in use (so adding someone blocks them
//! at once) and the grant list is not. A request without a flag leaves it unchanged; the flag
//! is read from the ≤ 1.2 `InUse` inside the list or the 1.3 `BlockListInUse` /
//! `GrantListInUse` beside it (the 1.3 flag wins when a client sends both). A list in a
//! request carries either `EntityList` (the whole new list) or `AddList` / `RemoveList`;
//! should a client send all three, the replacement comes first, then additions, then
//! removals. A list may hold at most the configured number of entries of all kinds; a request
//! that would make a list grow beyond it is refused whole with 754 (a list already beyond a
//! since-lowered limit may still shrink).
//!
//! GetBlockedList always answers both lists, whole, as `EntityList` (empty when empty); up to
//! 1.2 with `InUse` inside each list and without contact-list and application entries, which
//! those versions cannot express; in 1.3 with the flags beside the lists. A user's lists are
//! one record, stored when a request changes them and deleted when they are back at the
//! defaults or the account is deleted.
//!
//! [`blocks`] is the question the presence and messaging features ask: `owner` blocks `other`
//! when the block list is in use and names `other`, or the grant list is in use and does not.
//! It looks at user entries only; group and screen-name entries are kept for the group
//! features to consult. Nobody blocks themselves.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::boxmap::BoxMap;
use crate::codec::common::{DetailedResult, EntityList, ScreenName, Status};
use crate::codec::im::{AccessList, BlockLists};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};
use crate::vecmap::VecSet;

use super::Server;

/// The entries of one block or grant list, each kind in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entries {
    /// Canonical user ids.
    pub users: VecSet<String>,
    /// Canonical group ids.
    pub groups: VecSet<String>,
    /// Screen names as (SName as sent, canonical group id).
    pub screen_names: VecSet<(String, String)>,
    /// 1.3 canonical contact list ids.
    pub contact_lists: VecSet<String>,
    /// 1.3 application ids as sent.
    pub applications: VecSet<String>,
}

impl Entries {
    /// Number of entries of every kind (the limit counts them all).
    fn len(&self) -> usize {
        self.users.len()
            + self.groups.len()
            + self.screen_names.len()
            + self.contact_lists.len()
            + self.applications.len()
    }

    fn extend(&mut self, other: Entries) {
        self.users.extend(other.users);
        self.groups.extend(other.groups);
        self.screen_names.extend(other.screen_names);
        self.contact_lists.extend(other.contact_lists);
        self.applications.extend(other.applications);
    }

    fn remove(&mut self, other: &Entries) {
        self.users.retain(|x| !other.users.contains(x));
        self.groups.retain(|x| !other.groups.contains(x));
        self.screen_names
            .retain(|x| !other.screen_names.contains(x));
        self.contact_lists
            .retain(|x| !other.contact_lists.contains(x));
        self.applications
            .retain(|x| !other.applications.contains(x));
    }
}

/// One block or grant list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ListState {
    /// Whether the list is applied.
    pub in_use: bool,
    /// Its entries.
    pub entries: Entries,
}

/// A user's block and grant lists (the stored record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockRecord {
    /// Canonical owner id.
    pub owner: String,
    /// Who is blocked.
    pub block: ListState,
    /// Who is let through.
    pub grant: ListState,
}

impl BlockRecord {
    /// The lists of a user who never sent BlockEntity: block list in use, both empty.
    fn new(owner: &str) -> BlockRecord {
        BlockRecord {
            owner: owner.to_owned(),
            block: ListState {
                in_use: true,
                entries: Entries::default(),
            },
            grant: ListState {
                in_use: false,
                entries: Entries::default(),
            },
        }
    }

    /// What [`blocks`] depends on: the user entries of the lists in use.
    fn effective(&self) -> (Option<&VecSet<String>>, Option<&VecSet<String>>) {
        (
            self.block.in_use.then_some(&self.block.entries.users),
            self.grant.in_use.then_some(&self.grant.entries.users),
        )
    }
}

/// Every user's lists: owner → record. Users with default lists have no record.
pub(crate) type Blocks = BoxMap<String, BlockRecord>;

fn put(record: &BlockRecord) -> StorageOp {
    StorageOp::Put {
        table: Table::BlockLists,
        key: record.owner.clone(),
        value: store::encode_record(record),
    }
}

/// Restores one stored record.
pub(crate) fn restore(blocks: &mut Blocks, record: BlockRecord) {
    blocks.insert(record.owner.clone(), record);
}

/// The storage delete for `owner`'s lists (account deletion), removing them from memory.
pub(crate) fn remove_owner(blocks: &mut Blocks, owner: &str) -> Option<StorageOp> {
    blocks.remove(owner).map(|r| StorageOp::Delete {
        table: Table::BlockLists,
        key: r.owner,
    })
}

/// Whether `owner` blocks `other` (both canonical user ids): the block list is in use and
/// names `other`, or the grant list is in use and does not. A lookup, no allocation.
pub(crate) fn blocks(s: &Server, owner: &str, other: &str) -> bool {
    if owner == other {
        return false;
    }
    s.blocks.get(owner).is_some_and(|r| {
        (r.block.in_use && r.block.entries.users.contains(other))
            || (r.grant.in_use && !r.grant.entries.users.contains(other))
    })
}

/// Why a request failed as a whole.
struct Refusal(u16, String);

/// One entry refused, as the client sent it.
enum Refused {
    User(String),
    Group(String),
    ScreenName(ScreenName),
    ContactList(String),
}

/// Canonical resource address (group or contact list id), or `None` when it is not one.
fn resource_id(s: &Server, raw: &str) -> Option<String> {
    Address::parse(raw, &s.config.domain)
        .ok()
        .filter(|a| a.resource.is_some())
        .map(|a| a.to_string())
}

/// Canonical entries of `list`. For additions (`refused` given) invalid entries and unknown
/// local users are refused; for removals anything unreadable is skipped, since it cannot be
/// on the list, and users who no longer have an account can still be taken off.
fn entries(
    s: &Server,
    list: &EntityList,
    mut refused: Option<&mut Vec<(u16, Refused)>>,
) -> Entries {
    let mut out = Entries::default();
    let adding = refused.is_some();
    let mut refuse = |code: u16, what: Refused| {
        if let Some(r) = refused.as_deref_mut() {
            r.push((code, what));
        }
    };
    for raw in &list.user_id {
        match Address::parse_user(raw, &s.config.domain) {
            Ok(a) => {
                let id = a.to_string();
                if adding && a.domain == s.config.domain && !s.accounts.contains_key(&id) {
                    refuse(531, Refused::User(raw.clone()));
                } else {
                    out.users.insert(id);
                }
            }
            Err(_) => refuse(402, Refused::User(raw.clone())),
        }
    }
    for raw in &list.group_id {
        match resource_id(s, raw) {
            Some(id) => {
                out.groups.insert(id);
            }
            None => refuse(402, Refused::Group(raw.clone())),
        }
    }
    for sn in &list.screen_name {
        let name = sn.sname.as_deref().filter(|n| !n.is_empty());
        match (name, sn.group_id.as_deref().and_then(|g| resource_id(s, g))) {
            (Some(name), Some(group)) => {
                out.screen_names.insert((name.to_owned(), group));
            }
            _ => refuse(402, Refused::ScreenName(sn.clone())),
        }
    }
    for raw in &list.contact_list {
        match resource_id(s, raw) {
            Some(id) => {
                out.contact_lists.insert(id);
            }
            None => refuse(402, Refused::ContactList(raw.clone())),
        }
    }
    // Application ids have no defined syntax; only an empty one says nothing.
    out.applications.extend(
        list.application_id
            .iter()
            .filter(|a| !a.is_empty())
            .cloned(),
    );
    out
}

/// Applies one list of a BlockEntity-Request to `state`'s entries.
fn apply(s: &Server, state: &mut ListState, req: &AccessList, refused: &mut Vec<(u16, Refused)>) {
    if let Some(all) = &req.entity_list {
        state.entries = entries(s, all, Some(refused));
    }
    if let Some(add) = &req.add_list {
        let add = entries(s, add, Some(refused));
        state.entries.extend(add);
    }
    if let Some(remove) = &req.remove_list {
        let gone = entries(s, remove, None);
        state.entries.remove(&gone);
    }
}

/// DetailedResult entries for refused entries, one per code.
fn detailed(refused: Vec<(u16, Refused)>) -> Vec<DetailedResult> {
    let mut by_code: crate::vecmap::VecMap<u16, DetailedResult> = crate::vecmap::VecMap::new();
    for (code, what) in refused {
        let d = by_code.get_or_insert_with(code, || DetailedResult {
            code: Some(u32::from(code)),
            description: Some(
                if code == 531 {
                    "unknown user"
                } else {
                    "invalid address"
                }
                .into(),
            ),
            ..Default::default()
        });
        match what {
            Refused::User(u) => d.user_id.push(u),
            Refused::Group(g) => d.group_id.push(g),
            Refused::ScreenName(n) => d.screen_name.push(n),
            Refused::ContactList(c) => d.contact_list.push(c),
        }
    }
    by_code.into_values().collect()
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

/// The whole list as an `EntityList`; contact lists and applications only exist from 1.3.
fn entity_list(e: &Entries, version: Version) -> EntityList {
    let v13 = version == Version::V1_3;
    EntityList {
        user_id: e.users.iter().cloned().collect(),
        screen_name: e
            .screen_names
            .iter()
            .map(|(sname, group)| ScreenName {
                sname: Some(sname.clone()),
                group_id: Some(group.clone()),
                ..Default::default()
            })
            .collect(),
        group_id: e.groups.iter().cloned().collect(),
        contact_list: if v13 {
            e.contact_lists.iter().cloned().collect()
        } else {
            Vec::new()
        },
        application_id: if v13 {
            e.applications.iter().cloned().collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// `GetBlockedList-Request`: both lists, always; the in-use flags inside the lists up to 1.2
/// and beside them in 1.3.
pub(crate) fn get_blocked_list(s: &Server, owner: &str, version: Version) -> Primitive {
    let default;
    let r = match s.blocks.get(owner) {
        Some(r) => r,
        None => {
            default = BlockRecord::new(owner);
            &default
        }
    };
    let v13 = version == Version::V1_3;
    let list = |l: &ListState| AccessList {
        in_use: (!v13).then_some(l.in_use),
        entity_list: Some(entity_list(&l.entries, version)),
        ..Default::default()
    };
    Primitive::GetBlockedListResponse(Box::new(BlockLists {
        block_list: Some(list(&r.block)),
        block_list_in_use: v13.then_some(r.block.in_use),
        grant_list: Some(list(&r.grant)),
        grant_list_in_use: v13.then_some(r.grant.in_use),
        ..Default::default()
    }))
}

/// `BlockEntity-Request`: Status 200, 201 with the refused entries, or 754 (nothing applied).
/// The bool says whether [`blocks`] may now answer differently for `owner` and someone.
pub(crate) fn block_entity(
    s: &mut Server,
    owner: &str,
    _version: Version,
    req: &BlockLists,
) -> (Primitive, bool) {
    let old = s
        .blocks
        .get(owner)
        .cloned()
        .unwrap_or_else(|| BlockRecord::new(owner));
    let (new, refused) = match updated(s, &old, req) {
        Ok(u) => u,
        Err(Refusal(code, text)) => return (status(code, &text), false),
    };
    let changed = old.effective() != new.effective();
    if new != old {
        // Lists back at their defaults need no record.
        let op = if new == BlockRecord::new(owner) {
            s.blocks.remove(owner);
            StorageOp::Delete {
                table: Table::BlockLists,
                key: owner.to_owned(),
            }
        } else {
            let op = put(&new);
            s.blocks.insert(owner.to_owned(), new);
            op
        };
        s.store(vec![op]);
    }
    let answer = if refused.is_empty() {
        status(200, "")
    } else {
        let mut st = Status::new(201, "some entries were refused");
        if let Some(r) = st.result.as_mut() {
            r.detailed_result = detailed(refused);
        }
        Primitive::Status(Box::new(st))
    };
    (answer, changed)
}

type Updated = (BlockRecord, Vec<(u16, Refused)>);

/// `old` with the request applied, and the entries refused; or why nothing is applied.
fn updated(s: &Server, old: &BlockRecord, req: &BlockLists) -> Result<Updated, Refusal> {
    let mut new = old.clone();
    let mut refused = Vec::new();
    if let Some(l) = &req.block_list {
        apply(s, &mut new.block, l, &mut refused);
    }
    if let Some(l) = &req.grant_list {
        apply(s, &mut new.grant, l, &mut refused);
    }
    if let Some(flag) = req.block_in_use() {
        new.block.in_use = flag;
    }
    if let Some(flag) = req.grant_in_use() {
        new.grant.in_use = flag;
    }
    // Only growth beyond the limit is refused, so lists restored from a time the limit was
    // higher can still be trimmed step by step.
    let max = s.config.block_lists.max_entries as usize;
    let grows_past = |old: &ListState, new: &ListState| {
        new.entries.len() > max && new.entries.len() > old.entries.len()
    };
    if grows_past(&old.block, &new.block) || grows_past(&old.grant, &new.grant) {
        return Err(Refusal(
            754,
            format!("a block or grant list holds at most {max} entries"),
        ));
    }
    Ok((new, refused))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::server::Config;

    const A: &str = "wv:alice@localhost";
    const B: &str = "wv:bob@localhost";
    const C: &str = "wv:carol@localhost";

    fn server_with(
        block_in_use: bool,
        blocked: &[&str],
        grant_in_use: bool,
        granted: &[&str],
    ) -> Server {
        let mut s = Server::new(Config::default(), [0; 32]);
        let mut r = BlockRecord::new(A);
        r.block.in_use = block_in_use;
        r.block.entries.users = blocked.iter().map(|u| (*u).to_owned()).collect();
        r.grant.in_use = grant_in_use;
        r.grant.entries.users = granted.iter().map(|u| (*u).to_owned()).collect();
        restore(&mut s.blocks, r);
        s
    }

    #[test]
    fn blocks_truth_table() {
        // No record: nobody is blocked.
        let s = Server::new(Config::default(), [0; 32]);
        assert!(!blocks(&s, A, B));

        // Block list in use: only those on it.
        let s = server_with(true, &[B], false, &[C]);
        assert!(blocks(&s, A, B));
        assert!(!blocks(&s, A, C));
        // Block list not in use: its entries do not count.
        let s = server_with(false, &[B], false, &[]);
        assert!(!blocks(&s, A, B));
        // Grant list in use: everyone not on it (the unused block list says nothing).
        let s = server_with(false, &[C], true, &[C]);
        assert!(blocks(&s, A, B));
        assert!(!blocks(&s, A, C));
        assert!(blocks(&s, A, "wv:dave@localhost"));
        // Both in use: blocked if on the block list even when granted, or not granted.
        let s = server_with(true, &[B], true, &[B, C]);
        assert!(blocks(&s, A, B));
        assert!(!blocks(&s, A, C));
        assert!(blocks(&s, A, "wv:dave@localhost"));
        // An empty grant list in use blocks everyone, but never the owner.
        let s = server_with(false, &[], true, &[]);
        assert!(blocks(&s, A, B));
        assert!(!blocks(&s, A, A));
        // Only the owner's lists matter.
        assert!(!blocks(&s, B, A));
    }

    #[test]
    fn effective_view_ignores_lists_not_in_use_and_non_user_entries() {
        let mut a = BlockRecord::new(A);
        let mut b = a.clone();
        b.grant.entries.users.insert(B.into());
        assert_eq!(a.effective(), b.effective(), "grant list not in use");
        b.block.entries.groups.insert("wv:/chat@localhost".into());
        assert_eq!(
            a.effective(),
            b.effective(),
            "groups do not decide blocks()"
        );
        b.block.entries.users.insert(C.into());
        assert_ne!(a.effective(), b.effective());
        a.block.in_use = false;
        b.block.in_use = false;
        b.grant.entries.users.clear();
        assert_eq!(a.effective(), b.effective());
    }
}
