//! Presence attributes as the server handles them (CSP-REFERENCE §4): the attribute set
//! (which attributes a request names, a list grants, a watcher wants), and the operations on
//! `PresenceSubList` values: merge an update, filter by a set, name attributes, shape for a
//! CSP version, validate (750/751).
//!
//! Bit positions of [`Attr`] are stored (attribute lists, subscriptions): append only.

use serde::{Deserialize, Serialize};

use crate::codec::Version;
use crate::codec::capability::ClientType;
use crate::codec::common::ClientId;
use crate::codec::presence_attrs::{
    Availability, Cap, CommStatus, Mood, PresenceSubList, UserAvailability,
};

/// A set of presence attributes, one bit per [`Attr`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, Serialize, Deserialize,
)]
pub(crate) struct AttrSet(pub u32);

impl AttrSet {
    /// No attribute.
    pub const NONE: AttrSet = AttrSet(0);
    /// Every attribute of §4.
    pub const ALL: AttrSet = AttrSet((1 << Attr::COUNT) - 1);

    /// The set holding only `a`.
    pub const fn of(a: Attr) -> AttrSet {
        AttrSet(1 << a as u32)
    }

    /// Whether `a` is in the set.
    pub const fn has(self, a: Attr) -> bool {
        self.0 & (1 << a as u32) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Members of both sets.
    pub const fn and(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 & o.0)
    }

    /// Members of either set.
    pub const fn or(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 | o.0)
    }

    /// Members of `self` not in `o`.
    pub const fn minus(self, o: AttrSet) -> AttrSet {
        AttrSet(self.0 & !o.0)
    }

    /// Stored sets may carry bits of attributes this build does not know; drop them.
    pub const fn known(self) -> AttrSet {
        self.and(AttrSet::ALL)
    }
}

/// Declares [`Attr`] and the per-attribute operations over `PresenceSubList` from one table:
/// the attributes that may occur once per client in 1.3 (`vec`) and the single ones (`opt`).
macro_rules! attributes {
    (vec: [$(($vv:ident, $vf:ident)),* $(,)?], opt: [$(($ov:ident, $of:ident)),* $(,)?]) => {
        /// One presence attribute (CSP-REFERENCE §4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Attr { $($vv,)* $($ov,)* }

        impl Attr {
            /// Number of attributes.
            pub const COUNT: u32 = [$(Attr::$vv,)* $(Attr::$ov,)*].len() as u32;
        }

        /// The attributes `list` names (present, with or without a value).
        pub(crate) fn named(list: &PresenceSubList) -> AttrSet {
            let mut set = AttrSet::NONE;
            $(if !list.$vf.is_empty() { set = set.or(AttrSet::of(Attr::$vv)); })*
            $(if list.$of.is_some() { set = set.or(AttrSet::of(Attr::$ov)); })*
            set
        }

        /// The values of the attributes in `set` that `list` holds.
        pub(crate) fn filter(list: &PresenceSubList, set: AttrSet) -> PresenceSubList {
            let mut out = PresenceSubList::default();
            $(if set.has(Attr::$vv) { out.$vf = list.$vf.clone(); })*
            $(if set.has(Attr::$ov) { out.$of = list.$of.clone(); })*
            out
        }

        /// Empty elements naming the attributes in `set` (as requests and grants carry them).
        pub(crate) fn names(set: AttrSet) -> PresenceSubList {
            let mut out = PresenceSubList::default();
            $(if set.has(Attr::$vv) { out.$vf = vec![Default::default()]; })*
            $(if set.has(Attr::$ov) { out.$of = Some(Default::default()); })*
            out
        }

        /// Adds a withdrawal (`Qualifier` F, no value) for each attribute of `set` that `list`
        /// does not hold, so watchers learn the value is gone.
        pub(crate) fn mark_withdrawn(list: &mut PresenceSubList, set: AttrSet) {
            $(if set.has(Attr::$vv) && list.$vf.is_empty() {
                list.$vf = vec![Default::default()];
                if let Some(x) = list.$vf.first_mut() { x.qualifier = Some(false); }
            })*
            $(if set.has(Attr::$ov) && list.$of.is_none() {
                list.$of = Some(Default::default());
                if let Some(x) = list.$of.as_mut() { x.qualifier = Some(false); }
            })*
        }

        /// Applies `update` to the published `stored` values (OnlineStatus excepted: the
        /// server keeps it) and returns the attributes whose value changed. An instance with
        /// `Qualifier` F withdraws the attribute; in 1.3, instances with a `ClientID` replace
        /// only that client's instance.
        pub(crate) fn merge(stored: &mut PresenceSubList, update: &PresenceSubList) -> AttrSet {
            let mut changed = AttrSet::NONE;
            $(if Attr::$vv != Attr::OnlineStatus && !update.$vf.is_empty() {
                let before = stored.$vf.clone();
                merge_instances(
                    &mut stored.$vf,
                    &update.$vf,
                    |x| x.client_id.as_ref(),
                    |x| x.qualifier == Some(false),
                );
                if stored.$vf != before { changed = changed.or(AttrSet::of(Attr::$vv)); }
            })*
            $(if let Some(new) = &update.$of {
                let next = (new.qualifier != Some(false)).then(|| new.clone());
                if stored.$of != next {
                    stored.$of = next;
                    changed = changed.or(AttrSet::of(Attr::$ov));
                }
            })*
            changed
        }

        /// Shapes values for a session of `version`: before 1.3 one instance per attribute
        /// and no `ClientID`, and 1.1 has no `InfoLink` (CSP-REFERENCE §2.9).
        pub(crate) fn shape(list: &mut PresenceSubList, version: Version) {
            if version != Version::V1_3 {
                $(list.$vf.truncate(1);
                  for x in &mut list.$vf { x.client_id = None; })*
                for ci in &mut list.client_info {
                    ci.client_content_limit = None;
                    ci.client_im_priority = None;
                    ci.application_id = None;
                }
            }
            if version == Version::V1_1 {
                list.info_link = None;
            }
        }
    };
}

attributes! {
    vec: [
        (OnlineStatus, online_status),
        (Registration, registration),
        (ClientInfo, client_info),
        (TimeZone, time_zone),
        (GeoLocation, geo_location),
        (Address, address),
        (FreeTextLocation, free_text_location),
        (Plmn, plmn),
        (CommCap, comm_cap),
    ],
    opt: [
        (UserAvailability, user_availability),
        (PreferredContacts, preferred_contacts),
        (PreferredLanguage, preferred_language),
        (StatusText, status_text),
        (StatusMood, status_mood),
        (Alias, alias),
        (StatusContent, status_content),
        (ContactInfo, contact_info),
        (InfoLink, info_link),
    ]
}

fn merge_instances<T: Clone>(
    stored: &mut Vec<T>,
    update: &[T],
    client: impl Fn(&T) -> Option<&ClientId>,
    withdrawn: impl Fn(&T) -> bool,
) {
    let per_client = update.iter().all(|x| client(x).is_some());
    if per_client {
        for new in update {
            stored.retain(|old| client(old) != client(new));
            if !withdrawn(new) {
                stored.push(new.clone());
            }
        }
    } else {
        *stored = update.iter().filter(|x| !withdrawn(x)).cloned().collect();
    }
}

/// The attributes a request names, where none (or an empty list) means all of them.
pub(crate) fn wanted(list: Option<&PresenceSubList>) -> AttrSet {
    match list.map(named) {
        Some(set) if !set.is_empty() => set,
        _ => AttrSet::ALL,
    }
}

/// Checks an `UpdatePresence` list: 750 for an element that is no presence attribute, 751
/// for a value outside the attribute's vocabulary.
pub(crate) fn validate(list: &PresenceSubList) -> Result<(), (u16, String)> {
    if let Some(raw) = list.unknown.first() {
        return Err((
            750,
            format!("unsupported presence attribute {:?}", raw.name),
        ));
    }
    let bad = |what: &str, v: &str| Err((751, format!("invalid {what} value {v:?}")));
    let boolean = |v: Option<&str>| v.is_none_or(|v| matches!(v.trim(), "T" | "F"));
    for x in &list.online_status {
        if !boolean(x.presence_value.as_deref()) {
            return bad("OnlineStatus", x.presence_value.as_deref().unwrap_or(""));
        }
    }
    for x in &list.registration {
        if !boolean(x.presence_value.as_deref()) {
            return bad("Registration", x.presence_value.as_deref().unwrap_or(""));
        }
    }
    if let Some(UserAvailability {
        presence_value: Some(v),
        ..
    }) = &list.user_availability
        && matches!(Availability::parse(v), Availability::Other(_))
    {
        return bad("UserAvailability", v);
    }
    if let Some(m) = &list.status_mood
        && let Some(v) = &m.presence_value
        && matches!(Mood::parse(v), Mood::Other(_))
    {
        return bad("StatusMood", v);
    }
    for ci in &list.client_info {
        if let Some(ClientType::Other(v)) = &ci.client_type {
            return bad("ClientType", v);
        }
    }
    for cc in list.comm_cap.iter().flat_map(|c| &c.comm_c) {
        if let Some(Cap::Other(v)) = &cc.cap {
            return bad("Cap", v);
        }
        if let Some(CommStatus::Other(v)) = &cc.status {
            return bad("CommC Status", v);
        }
    }
    if let Some(pc) = &list.preferred_contacts {
        for ap in &pc.addr_pref {
            if let Some(Cap::Other(v)) = &ap.pref_c {
                return bad("PrefC", v);
            }
            if let Some(CommStatus::Other(v)) = &ap.cstatus {
                return bad("Cstatus", v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default
)]
mod tests {
    use super::*;
    use crate::codec::presence_attrs::{StatusText, TimeZone};

    #[test]
    fn sets_and_names_round_trip() {
        assert_eq!(Attr::COUNT, 18);
        for bit in 0..Attr::COUNT {
            let set = AttrSet(1 << bit);
            assert_eq!(named(&names(set)), set);
        }
        assert_eq!(named(&names(AttrSet::ALL)), AttrSet::ALL);
        assert_eq!(wanted(None), AttrSet::ALL);
        assert_eq!(wanted(Some(&PresenceSubList::default())), AttrSet::ALL);
    }

    #[test]
    fn merge_replaces_withdraws_and_reports_changes() {
        let mut stored = PresenceSubList::default();
        let mut up = PresenceSubList::default();
        up.status_text = Some(StatusText::with_value("hi"));
        assert_eq!(merge(&mut stored, &up), AttrSet::of(Attr::StatusText));
        assert_eq!(merge(&mut stored, &up), AttrSet::NONE);
        up.status_text = Some(StatusText {
            qualifier: Some(false),
            ..Default::default()
        });
        assert_eq!(merge(&mut stored, &up), AttrSet::of(Attr::StatusText));
        assert!(stored.status_text.is_none());
        let mut w = PresenceSubList::default();
        mark_withdrawn(
            &mut w,
            AttrSet::of(Attr::StatusText).or(AttrSet::of(Attr::TimeZone)),
        );
        assert_eq!(w.status_text.unwrap().qualifier, Some(false));
        assert_eq!(w.time_zone[0].qualifier, Some(false));
    }

    #[test]
    fn per_client_instances_merge_by_client_id() {
        let client = |n: &str| ClientId {
            url: Some(n.into()),
            ..Default::default()
        };
        let tz = |n: &str, z: &str| TimeZone {
            qualifier: Some(true),
            zone: Some(z.into()),
            client_id: Some(client(n)),
            ..Default::default()
        };
        let mut stored = PresenceSubList::default();
        let mut up = PresenceSubList::default();
        up.time_zone = vec![tz("a", "+01")];
        merge(&mut stored, &up);
        up.time_zone = vec![tz("b", "+02")];
        merge(&mut stored, &up);
        assert_eq!(stored.time_zone.len(), 2);
        let mut shaped = stored.clone();
        shape(&mut shaped, Version::V1_2);
        assert_eq!(shaped.time_zone.len(), 1);
        assert!(shaped.time_zone[0].client_id.is_none());
    }
}
