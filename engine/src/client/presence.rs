//! The client's presence side (CSP-REFERENCE §2.3, §2.4, §2.9, §4): request builders that put
//! ids and attributes where the session's version expects them, the view of contacts'
//! presence that [`super::Client`] keeps from notifications and GetPresence answers, and the
//! typed events drawn from them.
//!
//! Builders are pure: they take the session's [`Version`] and return the [`Primitive`] to send
//! with [`super::Command::Request`]. The ≤ 1.2 reactive-authorisation primitives have no 1.3
//! form, so their builders return `None` there (a 1.3 owner answers an `ANU` notification by
//! defining attribute lists, [`create_attribute_list`]).

use super::ClientEvent;
use crate::boxmap::BoxMap;
use crate::codec::access13::NotificationType;
use crate::codec::common::{ContactListIdList, User, UserIdList};
use crate::codec::presence::{
    CancelAuthRequest, CreateAttributeListRequest, DeleteAttributeListRequest,
    GetAttributeListRequest, GetPresenceRequest, GetReactiveAuthStatusRequest,
    GetWatcherListRequest, Presence, PresenceAuthUser, SubscribePresenceRequest,
    UnsubscribePresenceRequest, UpdatePresenceRequest,
};
use crate::codec::presence_attrs::{
    Address, Alias, ClientInfo, CommCap, ContactInfo, FreeTextLocation, GeoLocation, InfoLink,
    OnlineStatus, Plmn, PreferredContacts, PreferredLanguage, PresenceSubList, Registration,
    StatusContent, StatusMood, StatusText, TimeZone, UserAvailability,
};
use crate::codec::{Primitive, Version};

/// The 18 presence attributes of CSP-REFERENCE §4, for naming them in requests.
///
/// Kept here rather than in the codec: the server keeps its own attribute set, and the
/// client only needs names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttrName {
    /// `OnlineStatus`: logged in or not.
    OnlineStatus,
    /// `Registration`: registered to the service.
    Registration,
    /// `ClientInfo`: device and client software.
    ClientInfo,
    /// `TimeZone`.
    TimeZone,
    /// `GeoLocation`.
    GeoLocation,
    /// `Address`: postal location.
    Address,
    /// `FreeTextLocation`.
    FreeTextLocation,
    /// `PLMN`: operator network.
    Plmn,
    /// `CommCap`: means of communication.
    CommCap,
    /// `UserAvailability`: available, away, do not disturb.
    UserAvailability,
    /// `PreferredContacts`.
    PreferredContacts,
    /// `PreferredLanguage`.
    PreferredLanguage,
    /// `StatusText`.
    StatusText,
    /// `StatusMood`.
    StatusMood,
    /// `Alias`: nickname.
    Alias,
    /// `StatusContent`: status image.
    StatusContent,
    /// `ContactInfo`: vCard.
    ContactInfo,
    /// `InfoLink` (1.2 and later).
    InfoLink,
}

impl AttrName {
    /// Every attribute, in `PresenceSubList` order.
    pub const ALL: [AttrName; 18] = [
        AttrName::OnlineStatus,
        AttrName::Registration,
        AttrName::ClientInfo,
        AttrName::TimeZone,
        AttrName::GeoLocation,
        AttrName::Address,
        AttrName::FreeTextLocation,
        AttrName::Plmn,
        AttrName::CommCap,
        AttrName::UserAvailability,
        AttrName::PreferredContacts,
        AttrName::PreferredLanguage,
        AttrName::StatusText,
        AttrName::StatusMood,
        AttrName::Alias,
        AttrName::StatusContent,
        AttrName::ContactInfo,
        AttrName::InfoLink,
    ];

    /// The element name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrName::OnlineStatus => "OnlineStatus",
            AttrName::Registration => "Registration",
            AttrName::ClientInfo => "ClientInfo",
            AttrName::TimeZone => "TimeZone",
            AttrName::GeoLocation => "GeoLocation",
            AttrName::Address => "Address",
            AttrName::FreeTextLocation => "FreeTextLocation",
            AttrName::Plmn => "PLMN",
            AttrName::CommCap => "CommCap",
            AttrName::UserAvailability => "UserAvailability",
            AttrName::PreferredContacts => "PreferredContacts",
            AttrName::PreferredLanguage => "PreferredLanguage",
            AttrName::StatusText => "StatusText",
            AttrName::StatusMood => "StatusMood",
            AttrName::Alias => "Alias",
            AttrName::StatusContent => "StatusContent",
            AttrName::ContactInfo => "ContactInfo",
            AttrName::InfoLink => "InfoLink",
        }
    }

    /// Whether `list` holds this attribute (named or with a value).
    pub fn is_in(self, list: &PresenceSubList) -> bool {
        match self {
            AttrName::OnlineStatus => !list.online_status.is_empty(),
            AttrName::Registration => !list.registration.is_empty(),
            AttrName::ClientInfo => !list.client_info.is_empty(),
            AttrName::TimeZone => !list.time_zone.is_empty(),
            AttrName::GeoLocation => !list.geo_location.is_empty(),
            AttrName::Address => !list.address.is_empty(),
            AttrName::FreeTextLocation => !list.free_text_location.is_empty(),
            AttrName::Plmn => !list.plmn.is_empty(),
            AttrName::CommCap => !list.comm_cap.is_empty(),
            AttrName::UserAvailability => list.user_availability.is_some(),
            AttrName::PreferredContacts => list.preferred_contacts.is_some(),
            AttrName::PreferredLanguage => list.preferred_language.is_some(),
            AttrName::StatusText => list.status_text.is_some(),
            AttrName::StatusMood => list.status_mood.is_some(),
            AttrName::Alias => list.alias.is_some(),
            AttrName::StatusContent => list.status_content.is_some(),
            AttrName::ContactInfo => list.contact_info.is_some(),
            AttrName::InfoLink => list.info_link.is_some(),
        }
    }

    /// Adds an empty element naming this attribute to `list` (once).
    fn add_name(self, list: &mut PresenceSubList) {
        if self.is_in(list) {
            return;
        }
        match self {
            AttrName::OnlineStatus => list.online_status.push(OnlineStatus::default()),
            AttrName::Registration => list.registration.push(Registration::default()),
            AttrName::ClientInfo => list.client_info.push(ClientInfo::default()),
            AttrName::TimeZone => list.time_zone.push(TimeZone::default()),
            AttrName::GeoLocation => list.geo_location.push(GeoLocation::default()),
            AttrName::Address => list.address.push(Address::default()),
            AttrName::FreeTextLocation => list.free_text_location.push(FreeTextLocation::default()),
            AttrName::Plmn => list.plmn.push(Plmn::default()),
            AttrName::CommCap => list.comm_cap.push(CommCap::default()),
            AttrName::UserAvailability => {
                list.user_availability = Some(UserAvailability::default())
            }
            AttrName::PreferredContacts => {
                list.preferred_contacts = Some(PreferredContacts::default())
            }
            AttrName::PreferredLanguage => {
                list.preferred_language = Some(PreferredLanguage::default())
            }
            AttrName::StatusText => list.status_text = Some(StatusText::default()),
            AttrName::StatusMood => list.status_mood = Some(StatusMood::default()),
            AttrName::Alias => list.alias = Some(Alias::default()),
            AttrName::StatusContent => list.status_content = Some(StatusContent::default()),
            AttrName::ContactInfo => list.contact_info = Some(ContactInfo::default()),
            AttrName::InfoLink => list.info_link = Some(InfoLink::default()),
        }
    }
}

impl std::fmt::Display for AttrName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `PresenceSubList` that only names `attrs` (empty elements), as requests expect (§4).
pub fn names(attrs: &[AttrName]) -> PresenceSubList {
    let mut list = PresenceSubList::default();
    for a in attrs {
        a.add_name(&mut list);
    }
    list
}

/// The attributes `list` holds, in `PresenceSubList` order (e.g. what a watcher asked for).
pub fn attr_names(list: &PresenceSubList) -> Vec<AttrName> {
    AttrName::ALL
        .into_iter()
        .filter(|a| a.is_in(list))
        .collect()
}

/// `list` trimmed to what `version` can carry, the way Baraza converts presence for older
/// sessions (§2.9): before 1.3 one instance per attribute and no `ClientID` or other 1.3
/// children; no `InfoLink` in 1.1.
pub fn for_version(version: Version, mut list: PresenceSubList) -> PresenceSubList {
    if version >= Version::V1_3 {
        return list;
    }
    list.online_status.truncate(1);
    list.registration.truncate(1);
    list.client_info.truncate(1);
    list.time_zone.truncate(1);
    list.geo_location.truncate(1);
    list.address.truncate(1);
    list.free_text_location.truncate(1);
    list.plmn.truncate(1);
    list.comm_cap.truncate(1);
    list.online_status
        .iter_mut()
        .for_each(|a| a.client_id = None);
    list.registration
        .iter_mut()
        .for_each(|a| a.client_id = None);
    list.time_zone.iter_mut().for_each(|a| a.client_id = None);
    list.geo_location
        .iter_mut()
        .for_each(|a| a.client_id = None);
    list.address.iter_mut().for_each(|a| a.client_id = None);
    list.free_text_location
        .iter_mut()
        .for_each(|a| a.client_id = None);
    list.plmn.iter_mut().for_each(|a| a.client_id = None);
    list.comm_cap.iter_mut().for_each(|a| a.client_id = None);
    for c in &mut list.client_info {
        c.client_content_limit = None;
        c.client_im_priority = None;
        c.application_id = None;
        c.client_id = None;
    }
    if let Some(a) = &mut list.user_availability {
        a.client_id = None;
    }
    if let Some(a) = &mut list.preferred_language {
        a.client_id = None;
    }
    if let Some(a) = &mut list.status_text {
        a.client_id = None;
    }
    if let Some(a) = &mut list.status_mood {
        a.client_id = None;
    }
    if let Some(a) = &mut list.alias {
        a.client_id = None;
    }
    if version == Version::V1_1 {
        list.info_link = None;
    }
    list
}

// ---------------------------------------------------------------- request builders

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn user_elements(ids: &[&str]) -> Vec<User> {
    ids.iter().map(|s| User::id(*s)).collect()
}

/// 1.3 `UserIDList`, absent when there is nobody (an empty wrapper says nothing useful).
fn user_id_list(ids: &[&str]) -> Option<UserIdList> {
    (!ids.is_empty()).then(|| UserIdList {
        user_id: owned(ids),
        ..Default::default()
    })
}

/// 1.3 `ContactListIDList`, absent when there is no list.
fn contact_list_id_list(ids: &[&str]) -> Option<ContactListIdList> {
    (!ids.is_empty()).then(|| ContactListIdList {
        contact_list: owned(ids),
        ..Default::default()
    })
}

/// `SubscribePresence-Request` for `users` and `contact_lists`; `attrs` `None` (or empty)
/// asks for every attribute. `auto_subscribe` exists only in 1.2 and is dropped elsewhere.
pub fn subscribe(
    version: Version,
    users: &[&str],
    contact_lists: &[&str],
    attrs: Option<PresenceSubList>,
    auto_subscribe: Option<bool>,
) -> Primitive {
    let mut r = SubscribePresenceRequest {
        presence_sub_list: attrs.map(|a| for_version(version, a)),
        auto_subscribe: auto_subscribe.filter(|_| version == Version::V1_2),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
    } else {
        r.user = user_elements(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::SubscribePresenceRequest(Box::new(r))
}

/// `UnsubscribePresence-Request` for `users` and `contact_lists`.
pub fn unsubscribe(version: Version, users: &[&str], contact_lists: &[&str]) -> Primitive {
    let mut r = UnsubscribePresenceRequest::default();
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
    } else {
        r.user = user_elements(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::UnsubscribePresenceRequest(Box::new(r))
}

/// `GetPresence-Request` for `users` and/or `contact_lists` (the model wants one of the two;
/// both are sent if both are given); `attrs` `None` asks for every attribute.
pub fn get_presence(
    version: Version,
    users: &[&str],
    contact_lists: &[&str],
    attrs: Option<PresenceSubList>,
) -> Primitive {
    let mut r = GetPresenceRequest {
        presence_sub_list: attrs.map(|a| for_version(version, a)),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
    } else {
        r.user = user_elements(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::GetPresenceRequest(Box::new(r))
}

/// `UpdatePresence-Request` publishing `sublist` (trimmed with [`for_version`]).
pub fn update_presence(version: Version, sublist: PresenceSubList) -> Primitive {
    Primitive::UpdatePresenceRequest(Box::new(UpdatePresenceRequest {
        presence_sub_list: Some(for_version(version, sublist)),
        ..Default::default()
    }))
}

/// `CreateAttributeList-Request` granting `attrs` to `users`, `contact_lists` and, when
/// `default_list`, everyone else. `notify` (1.3 only) sets the notify flag of each kind of
/// entry named — `UserNotify`, `ContactListNotify`, `DefaultNotify` — so the server sends
/// `ANU`-style notifications when a watcher asks for more than granted.
pub fn create_attribute_list(
    version: Version,
    attrs: PresenceSubList,
    users: &[&str],
    contact_lists: &[&str],
    default_list: bool,
    notify: Option<bool>,
) -> Primitive {
    let mut r = CreateAttributeListRequest {
        presence_sub_list: Some(for_version(version, attrs)),
        default_list: Some(default_list),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
        r.user_notify = notify.filter(|_| !users.is_empty());
        r.contact_list_notify = notify.filter(|_| !contact_lists.is_empty());
        r.default_notify = notify.filter(|_| default_list);
    } else {
        r.user_id = owned(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::CreateAttributeListRequest(Box::new(r))
}

/// `DeleteAttributeList-Request` for `users`, `contact_lists` and, when `default_list`, the
/// default attribute list.
pub fn delete_attribute_list(
    version: Version,
    users: &[&str],
    contact_lists: &[&str],
    default_list: bool,
) -> Primitive {
    let mut r = DeleteAttributeListRequest {
        default_list: Some(default_list),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
    } else {
        r.user_id = owned(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::DeleteAttributeListRequest(Box::new(r))
}

/// `GetAttributeList-Request` for `users`, `contact_lists` and, when `default_list`, the
/// default attribute list.
pub fn get_attribute_list(
    version: Version,
    users: &[&str],
    contact_lists: &[&str],
    default_list: bool,
) -> Primitive {
    let mut r = GetAttributeListRequest {
        default_list: Some(default_list),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = user_id_list(users);
        r.contact_list_id_list = contact_list_id_list(contact_lists);
    } else {
        r.user = user_elements(users);
        r.contact_list = owned(contact_lists);
    }
    Primitive::GetAttributeListRequest(Box::new(r))
}

/// `PresenceAuth-User`: the owner's answer to a `PresenceAuth-Request` from `user`, accepting
/// or refusing `attrs` (`None` = what was asked). `None` in 1.3, which has no reactive
/// authorisation: grant with [`create_attribute_list`] instead.
pub fn authorize(
    version: Version,
    user: &str,
    accept: bool,
    attrs: Option<PresenceSubList>,
) -> Option<Primitive> {
    (version < Version::V1_3).then(|| {
        Primitive::PresenceAuthUser(Box::new(PresenceAuthUser {
            user_id: Some(user.to_owned()),
            acceptance: Some(accept),
            presence_sub_list: attrs.map(|a| for_version(version, a)),
            ..Default::default()
        }))
    })
}

/// `CancelAuth-Request`: withdraws `user`'s authorisation. `None` in 1.3 (use
/// [`delete_attribute_list`]).
pub fn cancel_auth(version: Version, user: &str) -> Option<Primitive> {
    (version < Version::V1_3).then(|| {
        Primitive::CancelAuthRequest(Box::new(CancelAuthRequest {
            user_id: Some(user.to_owned()),
            ..Default::default()
        }))
    })
}

/// `GetReactiveAuthStatus-Request` about `users` (none = all). 1.2 only; `None` otherwise.
pub fn get_reactive_auth_status(version: Version, users: &[&str]) -> Option<Primitive> {
    (version == Version::V1_2).then(|| {
        Primitive::GetReactiveAuthStatusRequest(Box::new(GetReactiveAuthStatusRequest {
            user_id: owned(users),
            ..Default::default()
        }))
    })
}

/// `GetWatcherList-Request`; `history_period` (seconds) and `max_watchers` exist from 1.2
/// and are dropped for 1.1, whose request is empty.
pub fn get_watcher_list(
    version: Version,
    history_period: Option<u32>,
    max_watchers: Option<u32>,
) -> Primitive {
    let newer = version >= Version::V1_2;
    Primitive::GetWatcherListRequest(Box::new(GetWatcherListRequest {
        history_period: history_period.filter(|_| newer),
        max_watcher_list: max_watchers.filter(|_| newer),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------- the presence view

/// Reads an attribute's `Qualifier`, so merging can tell withdrawals apart.
trait Qualified {
    fn qualifier(&self) -> Option<bool>;
}

macro_rules! qualified {
    ($($t:ty),* $(,)?) => {
        $(impl Qualified for $t {
            fn qualifier(&self) -> Option<bool> {
                self.qualifier
            }
        })*
    };
}

qualified!(
    Registration,
    ClientInfo,
    TimeZone,
    GeoLocation,
    Address,
    FreeTextLocation,
    Plmn,
    CommCap,
    UserAvailability,
    PreferredContacts,
    PreferredLanguage,
    StatusText,
    StatusMood,
    Alias,
    StatusContent,
    ContactInfo,
    InfoLink,
);

fn withdrawn<T: Qualified>(a: &T) -> bool {
    a.qualifier() == Some(false)
}

fn merge_one<T: Qualified + Clone>(stored: &mut Option<T>, delta: &Option<T>) {
    if let Some(d) = delta {
        *stored = (!withdrawn(d)).then(|| d.clone());
    }
}

/// A present multi-instance attribute (1.3: one instance per client) replaces every stored
/// instance: a notification carries the attribute's whole current state.
fn merge_many<T: Qualified + Clone>(stored: &mut Vec<T>, delta: &[T]) {
    if !delta.is_empty() {
        *stored = delta.iter().filter(|d| !withdrawn(*d)).cloned().collect();
    }
}

/// Applies a presence delta to `stored`: every attribute `delta` holds replaces the stored
/// one, and one with `Qualifier` F is withdrawn (removed) — except `OnlineStatus`, kept as
/// given because F there is the value "offline", not a withdrawal. Attributes the delta
/// does not hold are left alone; unknown (vendor) attributes are replaced by name.
pub fn merge(stored: &mut PresenceSubList, delta: &PresenceSubList) {
    if !delta.online_status.is_empty() {
        stored.online_status.clone_from(&delta.online_status);
    }
    merge_many(&mut stored.registration, &delta.registration);
    merge_many(&mut stored.client_info, &delta.client_info);
    merge_many(&mut stored.time_zone, &delta.time_zone);
    merge_many(&mut stored.geo_location, &delta.geo_location);
    merge_many(&mut stored.address, &delta.address);
    merge_many(&mut stored.free_text_location, &delta.free_text_location);
    merge_many(&mut stored.plmn, &delta.plmn);
    merge_many(&mut stored.comm_cap, &delta.comm_cap);
    merge_one(&mut stored.user_availability, &delta.user_availability);
    merge_one(&mut stored.preferred_contacts, &delta.preferred_contacts);
    merge_one(&mut stored.preferred_language, &delta.preferred_language);
    merge_one(&mut stored.status_text, &delta.status_text);
    merge_one(&mut stored.status_mood, &delta.status_mood);
    merge_one(&mut stored.alias, &delta.alias);
    merge_one(&mut stored.status_content, &delta.status_content);
    merge_one(&mut stored.contact_info, &delta.contact_info);
    merge_one(&mut stored.info_link, &delta.info_link);
    if !delta.unknown.is_empty() {
        stored.unknown.retain(|u| {
            !delta
                .unknown
                .iter()
                .any(|d| d.local_name() == u.local_name())
        });
        stored.unknown.extend(delta.unknown.iter().cloned());
    }
}

/// `b` if present, else `a`: a later single attribute wins.
fn later<T: Clone>(a: &mut Option<T>, b: &Option<T>) {
    if b.is_some() {
        a.clone_from(b);
    }
}

/// Joins the `PresenceSubList`s of one `Presence` (1.3 allows several) into one delta,
/// keeping every instance and every withdrawal as sent: instances add up, a later single
/// attribute wins.
fn combine(lists: &[PresenceSubList]) -> PresenceSubList {
    let mut iter = lists.iter();
    let Some(first) = iter.next() else {
        return PresenceSubList::default();
    };
    let mut all = first.clone();
    for l in iter {
        all.online_status.extend(l.online_status.iter().cloned());
        all.registration.extend(l.registration.iter().cloned());
        all.client_info.extend(l.client_info.iter().cloned());
        all.time_zone.extend(l.time_zone.iter().cloned());
        all.geo_location.extend(l.geo_location.iter().cloned());
        all.address.extend(l.address.iter().cloned());
        all.free_text_location
            .extend(l.free_text_location.iter().cloned());
        all.plmn.extend(l.plmn.iter().cloned());
        all.comm_cap.extend(l.comm_cap.iter().cloned());
        later(&mut all.user_availability, &l.user_availability);
        later(&mut all.preferred_contacts, &l.preferred_contacts);
        later(&mut all.preferred_language, &l.preferred_language);
        later(&mut all.status_text, &l.status_text);
        later(&mut all.status_mood, &l.status_mood);
        later(&mut all.alias, &l.alias);
        later(&mut all.status_content, &l.status_content);
        later(&mut all.contact_info, &l.contact_info);
        later(&mut all.info_link, &l.info_link);
        all.unknown.extend(l.unknown.iter().cloned());
    }
    all
}

/// How many users the view remembers: a server cannot grow the client's memory without
/// bound by announcing ever new users (events are still emitted for the rest).
pub const MAX_VIEW_USERS: usize = 16_384;

/// The lookup key of a user id: case-insensitive (§1.3) and with the `wv:` prefix, so
/// `Bob@Example.org` finds what the server sent as `wv:bob@example.org`.
fn key(user_id: &str) -> String {
    let id = user_id.trim().to_ascii_lowercase();
    if id.starts_with("wv:") {
        id
    } else {
        format!("wv:{id}")
    }
}

/// The contacts' presence as last heard from the server, per user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresenceView {
    users: BoxMap<String, PresenceSubList>,
}

impl PresenceView {
    /// The presence of `user_id` (any case, `wv:` optional).
    pub fn get(&self, user_id: &str) -> Option<&PresenceSubList> {
        self.users.get(&key(user_id))
    }

    /// Every known user (lower-case, `wv:`-prefixed id) and presence, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PresenceSubList)> {
        self.users.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of users known.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user is known.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Forgets everything (the session ended: what we knew is no longer kept current).
    pub fn clear(&mut self) {
        self.users.clear();
    }

    /// Merges `delta` into `user_id`'s presence (see [`merge`]).
    pub fn apply(&mut self, user_id: &str, delta: &PresenceSubList) {
        let k = key(user_id);
        if let Some(stored) = self.users.get_mut(&k) {
            merge(stored, delta);
        } else if self.users.len() < MAX_VIEW_USERS {
            let mut stored = PresenceSubList::default();
            merge(&mut stored, delta);
            self.users.insert(k, stored);
        }
    }

    /// Folds every `Presence` into the view; one event per user.
    fn absorb(&mut self, presence: &[Presence], events: &mut Vec<ClientEvent>) {
        for p in presence {
            let Some(user_id) = p.user_id.as_deref().filter(|u| !u.trim().is_empty()) else {
                continue;
            };
            let changed = combine(&p.presence_sub_list);
            self.apply(user_id, &changed);
            events.push(ClientEvent::Presence {
                user_id: user_id.to_owned(),
                changed: Box::new(changed),
            });
        }
    }
}

/// Updates `view` from a received primitive (a server request or an answer) and returns the
/// typed events it gives rise to, besides the generic one.
pub(crate) fn observe(view: &mut PresenceView, p: &Primitive) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    match p {
        Primitive::PresenceNotificationRequest(n) => view.absorb(&n.presence, &mut events),
        Primitive::GetPresenceResponse(r) => view.absorb(&r.presence, &mut events),
        Primitive::PresenceAuthRequest(a) => {
            if let Some(user_id) = a.user_id.clone().filter(|u| !u.trim().is_empty()) {
                events.push(ClientEvent::AuthorizationRequest {
                    user_id,
                    attributes: Box::new(a.presence_sub_list.clone().unwrap_or_default()),
                });
            }
        }
        Primitive::NotificationRequest(n) if n.notification_type == Some(NotificationType::Anu) => {
            let attributes = n.presence_sub_list.clone().unwrap_or_default();
            for user_id in n
                .user_id_list
                .iter()
                .flat_map(|l| l.user_id.iter())
                .filter(|u| !u.trim().is_empty())
            {
                events.push(ClientEvent::AuthorizationRequest {
                    user_id: user_id.clone(),
                    attributes: Box::new(attributes.clone()),
                });
            }
        }
        _ => {}
    }
    events
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::codec::{Message, SessionType, TransactionMode};

    fn xml(version: Version, p: Primitive) -> String {
        let msg = Message::single(
            version,
            SessionType::Inband,
            Some("s".into()),
            TransactionMode::Request,
            Some("t1".into()),
            p,
        );
        String::from_utf8(crate::codec::encode(&msg)).unwrap()
    }

    /// Encodes, decodes and checks the primitive survives: builders make valid messages.
    fn round_trip(version: Version, p: &Primitive) {
        let msg = Message::single(
            version,
            SessionType::Inband,
            Some("s".into()),
            TransactionMode::Request,
            Some("t1".into()),
            p.clone(),
        );
        let back = crate::codec::decode(&crate::codec::encode(&msg), Default::default()).unwrap();
        assert_eq!(back.primitive(), Some(p));
    }

    #[test]
    fn names_builds_empty_elements_once() {
        let l = names(&[
            AttrName::OnlineStatus,
            AttrName::Plmn,
            AttrName::OnlineStatus,
        ]);
        assert_eq!(l.online_status, vec![OnlineStatus::default()]);
        assert_eq!(l.plmn.len(), 1);
        assert_eq!(attr_names(&l), vec![AttrName::OnlineStatus, AttrName::Plmn]);
        let all = names(&AttrName::ALL);
        assert_eq!(attr_names(&all), AttrName::ALL.to_vec());
        let x = xml(
            Version::V1_2,
            get_presence(Version::V1_2, &["wv:bob@x"], &[], Some(all)),
        );
        for a in AttrName::ALL {
            assert!(x.contains(&format!("<{}", a.as_str())), "{a} in {x}");
        }
        assert!(x.contains("WV-PA1.2"));
    }

    #[test]
    fn subscribe_shape_per_version() {
        let attrs = names(&[AttrName::OnlineStatus, AttrName::StatusText]);
        for v in Version::ALL {
            let p = subscribe(
                v,
                &["wv:bob@x", "wv:carol@x"],
                &["wv:alice/friends@x"],
                Some(attrs.clone()),
                Some(true),
            );
            round_trip(v, &p);
            let x = xml(v, p);
            assert!(x.contains("<OnlineStatus"), "{x}");
            if v == Version::V1_3 {
                assert!(x.contains("<UserIDList><UserID>wv:bob@x</UserID><UserID>wv:carol@x</UserID></UserIDList>"), "{x}");
                assert!(x.contains("<ContactListIDList><ContactList>wv:alice/friends@x</ContactList></ContactListIDList>"), "{x}");
                assert!(!x.contains("<User>"), "{x}");
            } else {
                assert!(x.contains("<User><UserID>wv:bob@x</UserID></User><User><UserID>wv:carol@x</UserID></User>"), "{x}");
                assert!(
                    !x.contains("UserIDList") && !x.contains("ContactListIDList"),
                    "{x}"
                );
                assert!(x.contains("<ContactList>wv:alice/friends@x</ContactList>"));
            }
            assert_eq!(x.contains("AutoSubscribe"), v == Version::V1_2, "{x}");
        }
        // No attributes: no PresenceSubList at all (= every attribute).
        let x = xml(
            Version::V1_2,
            subscribe(Version::V1_2, &["a"], &[], None, None),
        );
        assert!(!x.contains("PresenceSubList"), "{x}");
    }

    #[test]
    fn unsubscribe_and_get_presence_shapes() {
        for v in Version::ALL {
            let u = xml(v, unsubscribe(v, &["wv:bob@x"], &[]));
            let g = xml(v, get_presence(v, &[], &["wv:a/l@x"], None));
            if v == Version::V1_3 {
                assert!(u.contains("<UserIDList><UserID>wv:bob@x</UserID></UserIDList>"));
                assert!(
                    !u.contains("ContactListIDList"),
                    "empty wrapper left out: {u}"
                );
                assert!(g.contains("<ContactListIDList><ContactList>wv:a/l@x</ContactList>"));
                assert!(!g.contains("UserIDList"), "{g}");
            } else {
                assert!(u.contains("<User><UserID>wv:bob@x</UserID></User>"), "{u}");
                assert!(!u.contains("UserIDList"));
                assert!(g.contains("<ContactList>wv:a/l@x</ContactList>"), "{g}");
                assert!(!g.contains("ContactListIDList") && !g.contains("<User>"));
            }
        }
    }

    #[test]
    fn attribute_list_shapes() {
        let attrs = names(&[AttrName::OnlineStatus]);
        for v in Version::ALL {
            let c = create_attribute_list(
                v,
                attrs.clone(),
                &["wv:bob@x"],
                &["wv:a/l@x"],
                true,
                Some(true),
            );
            round_trip(v, &c);
            let c = xml(v, c);
            let d = xml(v, delete_attribute_list(v, &["wv:bob@x"], &[], false));
            let g = xml(v, get_attribute_list(v, &["wv:bob@x"], &[], true));
            assert!(c.contains("<DefaultList>T</DefaultList>"), "{c}");
            assert!(d.contains("<DefaultList>F</DefaultList>"), "{d}");
            if v == Version::V1_3 {
                assert!(
                    c.contains("<UserIDList><UserID>wv:bob@x</UserID></UserIDList>"),
                    "{c}"
                );
                assert!(c.contains("<ContactListIDList>"), "{c}");
                assert!(c.contains("<DefaultNotify>T</DefaultNotify>"), "{c}");
                assert!(c.contains("<UserNotify>T</UserNotify>"), "{c}");
                assert!(
                    c.contains("<ContactListNotify>T</ContactListNotify>"),
                    "{c}"
                );
                assert!(d.contains("<UserIDList>"), "{d}");
                assert!(g.contains("<UserIDList>") && !g.contains("<User>"), "{g}");
            } else {
                // ≤ 1.2: bare UserID in Create/Delete, User (UserID) in Get.
                assert!(
                    c.contains("</PresenceSubList><UserID>wv:bob@x</UserID>"),
                    "{c}"
                );
                assert!(!c.contains("Notify"), "{c}");
                assert!(!c.contains("IDList") && !d.contains("IDList"), "{c}{d}");
                assert!(d.contains("<UserID>wv:bob@x</UserID>") && !d.contains("<User>"));
                assert!(g.contains("<User><UserID>wv:bob@x</UserID></User>"), "{g}");
            }
        }
        // Notify flags name only the kinds of entry present.
        let x = xml(
            Version::V1_3,
            create_attribute_list(Version::V1_3, attrs, &["b"], &[], false, Some(false)),
        );
        assert!(x.contains("<UserNotify>F</UserNotify>"), "{x}");
        assert!(
            !x.contains("DefaultNotify") && !x.contains("ContactListNotify"),
            "{x}"
        );
    }

    #[test]
    fn reactive_authorisation_exists_only_before_1_3() {
        let attrs = names(&[AttrName::OnlineStatus]);
        for v in [Version::V1_1, Version::V1_2] {
            let p = authorize(v, "wv:bob@x", true, Some(attrs.clone())).unwrap();
            round_trip(v, &p);
            let x = xml(v, p);
            assert!(x.contains("<PresenceAuth-User><UserID>wv:bob@x</UserID><Acceptance>T</Acceptance><PresenceSubList"), "{x}");
            let x = xml(v, cancel_auth(v, "wv:bob@x").unwrap());
            assert!(
                x.contains("<CancelAuth-Request><UserID>wv:bob@x</UserID>"),
                "{x}"
            );
        }
        assert!(authorize(Version::V1_3, "b", false, None).is_none());
        assert!(cancel_auth(Version::V1_3, "b").is_none());
        assert!(get_reactive_auth_status(Version::V1_1, &[]).is_none());
        assert!(get_reactive_auth_status(Version::V1_3, &[]).is_none());
        let x = xml(
            Version::V1_2,
            get_reactive_auth_status(Version::V1_2, &["wv:bob@x"]).unwrap(),
        );
        assert!(
            x.contains("<GetReactiveAuthStatus-Request><UserID>wv:bob@x</UserID>"),
            "{x}"
        );
    }

    #[test]
    fn watcher_list_and_update_presence_fit_the_version() {
        let x = xml(
            Version::V1_1,
            get_watcher_list(Version::V1_1, Some(60), Some(5)),
        );
        assert!(
            !x.contains("HistoryPeriod") && !x.contains("MaxWatcherList"),
            "{x}"
        );
        let x = xml(
            Version::V1_2,
            get_watcher_list(Version::V1_2, Some(60), Some(5)),
        );
        assert!(
            x.contains("<HistoryPeriod>60</HistoryPeriod><MaxWatcherList>5</MaxWatcherList>"),
            "{x}"
        );

        let mut mine = PresenceSubList {
            online_status: vec![OnlineStatus::with_value("T"), OnlineStatus::with_value("F")],
            info_link: Some(InfoLink::default()),
            ..Default::default()
        };
        mine.online_status[0].client_id = Some(crate::codec::common::ClientId {
            url: Some("http://c".into()),
            ..Default::default()
        });
        let x = xml(Version::V1_3, update_presence(Version::V1_3, mine.clone()));
        assert_eq!(x.matches("<OnlineStatus>").count(), 2, "{x}");
        assert!(x.contains("<ClientID>") && x.contains("<InfoLink"), "{x}");
        let x = xml(Version::V1_2, update_presence(Version::V1_2, mine.clone()));
        assert_eq!(x.matches("<OnlineStatus>").count(), 1, "{x}");
        assert!(!x.contains("<ClientID>") && x.contains("<InfoLink"), "{x}");
        let x = xml(Version::V1_1, update_presence(Version::V1_1, mine));
        assert!(!x.contains("InfoLink") && x.contains("PA1.1"), "{x}");
    }

    #[test]
    fn merge_replaces_withdraws_and_keeps_offline() {
        let mut view = PresenceView::default();
        view.apply(
            "wv:bob@x",
            &PresenceSubList {
                online_status: vec![OnlineStatus::with_value("T")],
                status_text: Some(StatusText::with_value("lunch")),
                alias: Some(Alias::with_value("Bobby")),
                plmn: vec![Plmn::with_value("Op")],
                ..Default::default()
            },
        );
        // A delta: new text, alias and PLMN withdrawn, offline; nothing said about the rest.
        view.apply(
            "WV:Bob@X",
            &PresenceSubList {
                online_status: vec![OnlineStatus {
                    qualifier: Some(false),
                    ..Default::default()
                }],
                status_text: Some(StatusText::with_value("back")),
                alias: Some(Alias {
                    qualifier: Some(false),
                    ..Default::default()
                }),
                plmn: vec![Plmn {
                    qualifier: Some(false),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        let bob = view.get("bob@x").unwrap();
        assert_eq!(bob.online_status.len(), 1, "OnlineStatus F is kept");
        assert_eq!(bob.online_status[0].qualifier, Some(false));
        assert_eq!(
            bob.status_text.as_ref().unwrap().presence_value.as_deref(),
            Some("back")
        );
        assert!(bob.alias.is_none() && bob.plmn.is_empty(), "{bob:?}");
        assert_eq!(view.len(), 1);
        assert_eq!(view.iter().next().unwrap().0, "wv:bob@x");
    }

    #[test]
    fn merge_of_several_sublists_keeps_all_instances() {
        let a = PresenceSubList {
            online_status: vec![OnlineStatus::with_value("T")],
            ..Default::default()
        };
        let b = PresenceSubList {
            online_status: vec![OnlineStatus::with_value("F")],
            status_text: Some(StatusText::with_value("x")),
            ..Default::default()
        };
        let all = combine(&[a, b]);
        assert_eq!(all.online_status.len(), 2);
        assert!(all.status_text.is_some());
        assert_eq!(combine(&[]), PresenceSubList::default());
    }

    #[test]
    fn view_is_bounded() {
        let mut view = PresenceView::default();
        for i in 0..MAX_VIEW_USERS + 10 {
            view.apply(&format!("u{i}"), &PresenceSubList::default());
        }
        assert_eq!(view.len(), MAX_VIEW_USERS);
        view.clear();
        assert!(view.is_empty());
    }
}
