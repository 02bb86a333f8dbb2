//! Presence authorization (CSP-REFERENCE §2.4): proactive attribute lists
//! (CreateAttributeList, DeleteAttributeList, GetAttributeList) and reactive authorization
//! (≤ 1.2 PresenceAuth-Request / PresenceAuth-User, CancelAuth, GetReactiveAuthStatus; 1.3
//! Notification-Request ANU).
//!
//! What a watcher may see of a publisher's presence:
//! - everything, when watcher and publisher are the same user;
//! - nothing, when the publisher's block (or grant) list excludes the watcher;
//! - otherwise the proactive grant — the watcher's own attribute list if there is one, else
//!   the union of the attribute lists of the publisher's contact lists the watcher is in,
//!   else the default attribute list, else nothing (there is no default until the user
//!   creates one) — plus whatever the publisher granted reactively.
//!
//! Decisions: CreateAttributeList *sets* the list of each named target (it replaces an
//! earlier one); an absent or empty PresenceSubList grants nothing (an explicit "hide from
//! them"). A reactive request is raised when a watcher wants attributes it is not granted and
//! the publisher has no proactive entry for it at all, or the governing entry has its 1.3
//! notify flag set; attributes already granted, denied or pending are not asked again, so a
//! denial or CancelAuth is final until the publisher changes it. Later answers overwrite
//! earlier ones per attribute. Requests from watchers the publisher blocks are dropped. A
//! ≤ 1.2 session of the publisher receives PresenceAuth-Request, a 1.3 session a
//! Notification-Request of type ANU; a publisher without a session gets them at its next
//! login. A 1.3 publisher answers by creating an attribute list for the watcher, which also
//! settles the pending request.

use serde::{Deserialize, Serialize};

use crate::codec::access13::{NotificationRequest, NotificationType};
use crate::codec::common::{Status, UserIdList};
use crate::codec::presence::{
    AuthState, CancelAuthRequest, CreateAttributeListRequest, DefaultAttributeList,
    DeleteAttributeListRequest, GetAttributeListRequest, GetAttributeListResponse,
    GetReactiveAuthStatusRequest, GetReactiveAuthStatusResponse, Presence, PresenceAuthRequest,
    PresenceAuthUser, ReactiveAuthStatus, ReactiveAuthStatusList,
};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};
use crate::vecmap::VecMap;

use super::attributes::{self, AttrSet};
use super::presence::{self, local_user, outcome, own_list};
use super::{Server, result};

/// One attribute list entry: what it grants and whether the owner wants to hear (1.3) when
/// someone asks for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub attrs: AttrSet,
    pub notify: bool,
}

/// The publisher's reactive decisions about one watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Reactive {
    pub granted: AttrSet,
    pub denied: AttrSet,
    pub pending: AttrSet,
}

/// Everything one publisher authorizes (stored as one record per publisher).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Auth {
    pub owner: String,
    pub default: Option<Grant>,
    pub users: VecMap<String, Grant>,
    pub lists: VecMap<String, Grant>,
    pub reactive: VecMap<String, Reactive>,
}

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

fn auth_of<'a>(s: &'a Server, publisher: &str) -> Option<&'a Auth> {
    s.presence
        .ids
        .get(publisher)
        .and_then(|id| s.presence.auth.get(&id))
}

fn auth_mut<'a>(s: &'a mut Server, publisher: &str) -> &'a mut Auth {
    let id = s.presence.ids.intern(publisher);
    s.presence.auth.entry(id).or_insert_with(|| Auth {
        owner: publisher.to_owned(),
        ..Default::default()
    })
}

fn save(s: &mut Server, publisher: &str) {
    let op = match auth_of(s, publisher) {
        Some(a) => StorageOp::Put {
            table: Table::Authorizations,
            key: publisher.to_owned(),
            value: store::encode_record(a),
        },
        None => return,
    };
    s.store(vec![op]);
}

/// Restores one stored authorization record.
pub(crate) fn restore(s: &mut Server, value: &[u8]) -> bool {
    let Some(a) = store::decode_record::<Auth>(Table::Authorizations, value) else {
        return false;
    };
    let id = s.presence.ids.intern(&a.owner);
    s.presence.auth.insert(id, a);
    true
}

/// Whether `publisher`'s block or grant list keeps `watcher` out.
fn blocked(s: &Server, publisher: &str, watcher: &str) -> bool {
    super::block_list::blocks(s, publisher, watcher)
}

/// The proactive entry governing `watcher` (see the module doc), if any.
fn proactive(s: &Server, auth: &Auth, publisher: &str, watcher: &str) -> Option<Grant> {
    if let Some(g) = auth.users.get(watcher) {
        return Some(*g);
    }
    let mut found: Option<Grant> = None;
    if let Some(own) = s.lists.get(publisher) {
        for (list, g) in &auth.lists {
            let member = own
                .get(list)
                .is_some_and(|l| l.contains(&s.presence.ids, watcher));
            if member {
                let prev = found.unwrap_or_default();
                found = Some(Grant {
                    attrs: prev.attrs.or(g.attrs),
                    notify: prev.notify || g.notify,
                });
            }
        }
    }
    found.or(auth.default)
}

/// The attributes of `publisher` that `watcher` may see now.
pub(crate) fn authorized(s: &Server, publisher: &str, watcher: &str) -> AttrSet {
    if publisher == watcher {
        return AttrSet::ALL;
    }
    if blocked(s, publisher, watcher) {
        return AttrSet::NONE;
    }
    let Some(auth) = auth_of(s, publisher) else {
        return AttrSet::NONE;
    };
    let pro = proactive(s, auth, publisher, watcher).map_or(AttrSet::NONE, |g| g.attrs);
    let re = auth
        .reactive
        .get(watcher)
        .map_or(AttrSet::NONE, |r| r.granted);
    pro.or(re)
}

/// Whether a request of `watcher` waits for `publisher`'s answer.
pub(crate) fn is_pending(s: &Server, publisher: &str, watcher: &str) -> bool {
    auth_of(s, publisher)
        .and_then(|a| a.reactive.get(watcher))
        .is_some_and(|r| !r.pending.is_empty())
}

/// `watcher` wants `wanted` of `publisher`'s presence: ask the publisher where the rules in
/// the module doc say so.
pub(crate) fn request(s: &mut Server, publisher: &str, watcher: &str, wanted: AttrSet) {
    if publisher == watcher || blocked(s, publisher, watcher) {
        return;
    }
    let pro = auth_of(s, publisher).and_then(|a| proactive(s, a, publisher, watcher));
    let reactive = auth_of(s, publisher)
        .and_then(|a| a.reactive.get(watcher))
        .copied()
        .unwrap_or_default();
    let decided = reactive.granted.or(reactive.denied).or(reactive.pending);
    let ask = match pro {
        Some(g) if g.notify => wanted.minus(g.attrs).minus(decided),
        Some(_) => AttrSet::NONE,
        None => wanted.minus(decided),
    };
    if ask.is_empty() {
        return;
    }
    let entry = auth_mut(s, publisher)
        .reactive
        .get_or_insert_with(watcher.to_owned(), Reactive::default);
    entry.pending = entry.pending.or(ask);
    let pending = entry.pending;
    save(s, publisher);
    let handles = s.by_user.get(publisher).cloned().unwrap_or_default();
    for h in handles {
        deliver(s, h, watcher, pending);
    }
}

/// Queues the request about `watcher` to the publisher's session `h`, shaped for its version.
fn deliver(s: &mut Server, h: u64, watcher: &str, attrs: AttrSet) {
    let Some(version) = s.sessions.get(&h).map(|x| x.version) else {
        return;
    };
    let names = attributes::names(attrs);
    let p = if version == Version::V1_3 {
        Primitive::NotificationRequest(Box::new(NotificationRequest {
            notification_type: Some(NotificationType::Anu),
            presence_sub_list: Some(names),
            user_id_list: Some(UserIdList {
                user_id: vec![watcher.to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        }))
    } else {
        Primitive::PresenceAuthRequest(Box::new(PresenceAuthRequest {
            user_id: Some(watcher.to_owned()),
            presence_sub_list: Some(names),
            ..Default::default()
        }))
    };
    s.enqueue(h, p);
}

/// Hands a new session of `publisher` every request still waiting for an answer.
pub(crate) fn deliver_pending(s: &mut Server, publisher: &str, h: u64) {
    let waiting: Vec<(String, AttrSet)> = auth_of(s, publisher)
        .map(|a| {
            a.reactive
                .iter()
                .filter(|(_, r)| !r.pending.is_empty())
                .map(|(w, r)| (w.clone(), r.pending))
                .collect()
        })
        .unwrap_or_default();
    for (w, attrs) in waiting {
        if !blocked(s, publisher, &w) {
            deliver(s, h, &w, attrs);
        }
    }
}

/// `PresenceAuth-User`: the publisher grants (Acceptance T) or denies the named attributes
/// (all when none are named).
pub(crate) fn presence_auth_user(
    s: &mut Server,
    publisher: &str,
    req: &PresenceAuthUser,
) -> Primitive {
    let Some(raw) = req.user_id.as_deref() else {
        return status(402, "UserID missing");
    };
    let watcher = match local_user(s, raw) {
        Ok(w) => w,
        Err(code) => return outcome(0, vec![(code, raw.to_owned())]),
    };
    let Some(accept) = req.acceptance else {
        return status(402, "Acceptance missing");
    };
    let set = attributes::wanted(req.presence_sub_list.as_ref());
    let r = auth_mut(s, publisher)
        .reactive
        .get_or_insert_with(watcher.clone(), Reactive::default);
    if accept {
        r.granted = r.granted.or(set);
        r.denied = r.denied.minus(set);
    } else {
        r.denied = r.denied.or(set);
        r.granted = r.granted.minus(set);
    }
    r.pending = r.pending.minus(set);
    save(s, publisher);
    presence::reauthorize(s, publisher, Some(&watcher));
    status(200, "")
}

/// `CancelAuth-Request`: withdraws everything granted reactively to the watcher.
pub(crate) fn cancel_auth(s: &mut Server, publisher: &str, req: &CancelAuthRequest) -> Primitive {
    let Some(raw) = req.user_id.as_deref() else {
        return status(402, "UserID missing");
    };
    let watcher = match local_user(s, raw) {
        Ok(w) => w,
        Err(code) => return outcome(0, vec![(code, raw.to_owned())]),
    };
    auth_mut(s, publisher).reactive.insert(
        watcher.clone(),
        Reactive {
            granted: AttrSet::NONE,
            denied: AttrSet::ALL,
            pending: AttrSet::NONE,
        },
    );
    save(s, publisher);
    presence::reauthorize(s, publisher, Some(&watcher));
    status(200, "")
}

/// `GetReactiveAuthStatus-Request`: one entry per non-empty state of each watcher asked
/// about (all when none is named).
pub(crate) fn reactive_status(
    s: &Server,
    publisher: &str,
    req: &GetReactiveAuthStatusRequest,
) -> Primitive {
    let wanted: Vec<String> = req
        .user_id
        .iter()
        .filter_map(|u| local_user(s, u).ok())
        .collect();
    let mut list = ReactiveAuthStatusList::default();
    if let Some(a) = auth_of(s, publisher) {
        for (w, r) in &a.reactive {
            if !req.user_id.is_empty() && !wanted.contains(w) {
                continue;
            }
            for (state, set) in [
                (AuthState::Granted, r.granted),
                (AuthState::Denied, r.denied),
                (AuthState::Pending, r.pending),
            ] {
                if !set.is_empty() {
                    list.reactive_auth_status.push(ReactiveAuthStatus {
                        user_id: Some(w.clone()),
                        reactive_auth_state: Some(state),
                        presence_sub_list: Some(attributes::names(set)),
                        ..Default::default()
                    });
                }
            }
        }
    }
    Primitive::GetReactiveAuthStatusResponse(Box::new(GetReactiveAuthStatusResponse {
        reactive_auth_status_list: Some(list),
        ..Default::default()
    }))
}

/// Resolves named users and own lists; refusals collected in `failed`.
fn resolve(
    s: &Server,
    owner: &str,
    users: &[&str],
    lists: &[&str],
    failed: &mut Vec<(u16, String)>,
) -> (Vec<String>, Vec<String>) {
    let mut us = Vec::new();
    let mut ls = Vec::new();
    for raw in users {
        match local_user(s, raw) {
            Ok(u) => us.push(u),
            Err(code) => failed.push((code, (*raw).to_owned())),
        }
    }
    for raw in lists {
        match own_list(s, owner, raw) {
            Ok(l) => ls.push(l),
            Err(code) => failed.push((code, (*raw).to_owned())),
        }
    }
    (us, ls)
}

/// `CreateAttributeList-Request`.
pub(crate) fn create_attribute_list(
    s: &mut Server,
    publisher: &str,
    req: &CreateAttributeListRequest,
) -> Primitive {
    let attrs = req
        .presence_sub_list
        .as_ref()
        .map_or(AttrSet::NONE, attributes::named);
    let (users, lists) = presence::targets(
        &[],
        &req.user_id,
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    let default = req.default_list == Some(true);
    if users.is_empty() && lists.is_empty() && !default {
        return status(402, "name users, contact lists or the default list");
    }
    let mut failed = Vec::new();
    let (us, ls) = resolve(s, publisher, &users, &lists, &mut failed);
    let (count, new) = {
        let a = auth_of(s, publisher);
        let count = a.map_or(0, |a| a.users.len() + a.lists.len());
        let new = us
            .iter()
            .filter(|u| !a.is_some_and(|a| a.users.contains_key(*u)))
            .count()
            + ls.iter()
                .filter(|l| !a.is_some_and(|a| a.lists.contains_key(*l)))
                .count();
        (count, new)
    };
    if count + new > s.config.presence.max_attribute_lists as usize {
        return status(755, "maximum number of attribute lists reached");
    }
    let a = auth_mut(s, publisher);
    for u in &us {
        a.users.insert(
            u.clone(),
            Grant {
                attrs,
                notify: req.user_notify == Some(true),
            },
        );
        // The owner has decided about this watcher: nothing is pending any more.
        if let Some(r) = a.reactive.get_mut(u) {
            r.pending = AttrSet::NONE;
        }
    }
    for l in &ls {
        a.lists.insert(
            l.clone(),
            Grant {
                attrs,
                notify: req.contact_list_notify == Some(true),
            },
        );
    }
    if default {
        a.default = Some(Grant {
            attrs,
            notify: req.default_notify == Some(true),
        });
    }
    save(s, publisher);
    presence::reauthorize(s, publisher, None);
    outcome(us.len() + ls.len() + usize::from(default), failed)
}

/// `DeleteAttributeList-Request`.
pub(crate) fn delete_attribute_list(
    s: &mut Server,
    publisher: &str,
    req: &DeleteAttributeListRequest,
) -> Primitive {
    let (users, lists) = presence::targets(
        &[],
        &req.user_id,
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    let default = req.default_list == Some(true);
    if users.is_empty() && lists.is_empty() && !default {
        return status(402, "name users, contact lists or the default list");
    }
    let mut failed = Vec::new();
    let (us, ls) = resolve(s, publisher, &users, &lists, &mut failed);
    let a = auth_mut(s, publisher);
    for u in &us {
        a.users.remove(u);
    }
    for l in &ls {
        a.lists.remove(l);
    }
    if default {
        a.default = None;
    }
    save(s, publisher);
    presence::reauthorize(s, publisher, None);
    outcome(us.len() + ls.len() + usize::from(default), failed)
}

/// `GetAttributeList-Request`: the named entries (all of them when nothing is named).
pub(crate) fn get_attribute_list(
    s: &Server,
    publisher: &str,
    version: Version,
    req: &GetAttributeListRequest,
) -> Primitive {
    let (users, lists) = presence::targets(
        &req.user,
        &[],
        req.user_id_list.as_ref(),
        &req.contact_list,
        req.contact_list_id_list.as_ref(),
    );
    let users: Vec<String> = users
        .into_iter()
        .filter_map(|u| local_user(s, u).ok())
        .collect();
    let lists: Vec<String> = lists
        .into_iter()
        .filter_map(|l| own_list(s, publisher, l).ok())
        .collect();
    let all = users.is_empty() && lists.is_empty() && req.default_list != Some(true);
    let v13 = version == Version::V1_3;
    let mut r = GetAttributeListResponse {
        result: Some(result(200, "")),
        ..Default::default()
    };
    let Some(a) = auth_of(s, publisher) else {
        return Primitive::GetAttributeListResponse(Box::new(r));
    };
    if (all || req.default_list == Some(true))
        && let Some(d) = a.default
    {
        r.default_attribute_list = Some(DefaultAttributeList {
            default_notify: v13.then_some(d.notify),
            presence_sub_list: vec![attributes::names(d.attrs)],
            ..Default::default()
        });
    }
    for (u, g) in &a.users {
        if all || users.contains(u) {
            r.presence.push(Presence {
                user_id: Some(u.clone()),
                user_notify: v13.then_some(g.notify),
                presence_sub_list: vec![attributes::names(g.attrs)],
                ..Default::default()
            });
        }
    }
    for (l, g) in &a.lists {
        if all || lists.contains(l) {
            r.presence.push(Presence {
                contact_list: Some(l.clone()),
                contact_list_notify: v13.then_some(g.notify),
                presence_sub_list: vec![attributes::names(g.attrs)],
                ..Default::default()
            });
        }
    }
    Primitive::GetAttributeListResponse(Box::new(r))
}

/// Drops a deleted contact list from the owner's attribute lists (and its AutoSubscribe, so
/// a later list of the same name does not inherit it).
pub(crate) fn list_deleted(s: &mut Server, owner: &str, list_id: &str) {
    let Some(id) = s.presence.ids.get(owner) else {
        return;
    };
    let removed = s
        .presence
        .auth
        .get_mut(&id)
        .is_some_and(|a| a.lists.remove(list_id).is_some());
    if removed {
        save(s, owner);
    }
    presence::list_deleted(s, owner, list_id);
}

/// An accepted presence invitation: `publisher` (the inviter) grants `watcher` (the
/// invitee) what it offered, as a reactive grant (a block list still wins).
pub(crate) fn grant(s: &mut Server, publisher: &str, watcher: &str, attrs: AttrSet) {
    let r = auth_mut(s, publisher)
        .reactive
        .get_or_insert_with(watcher.to_owned(), Reactive::default);
    r.granted = r.granted.or(attrs);
    r.denied = r.denied.minus(attrs);
    r.pending = r.pending.minus(attrs);
    save(s, publisher);
    presence::reauthorize(s, publisher, Some(watcher));
}
