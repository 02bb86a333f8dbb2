//! Search (CSP-REFERENCE §2.2): Search-Request with paging and StopSearch-Request over users
//! and groups, and the user profiles searches read (set by the operator, and by 1.3 users
//! through UpdatePublicProfile-Request; read with GetPublicProfile-Request).
//!
//! Decisions where the reference is silent:
//! - **Matching.** Every pair must match (AND, as Baraza). Text elements match a
//!   case-insensitive substring of at least 3 characters (537 for less, after trimming);
//!   `USER_ONLINE_STATUS` takes `T`/`F`; `GROUP_USER_ID_JOINED`, `GROUP_USER_ID_OWNER` and
//!   `GROUP_USER_ID_AUTOJOIN` take a user id, matched exactly. User and group elements cannot
//!   be mixed in one search (402), nor can elements this server does not keep (402: the
//!   1.3 city, country, gender… elements).
//! - **Who is found.** Users are found by user id, first and last name and alias, unless
//!   they chose not to be found (profile `searchable` F); by e-mail address or mobile number
//!   only when they allowed it. The searcher is found like anyone else. Results carry user
//!   ids only (1.3: with the friendly name): no e-mail address or number is ever shown.
//!   Only groups whose `Searchable` property is T are found; `GROUP_USER_ID_JOINED` finds a
//!   group only where the user is joined *and* shown by id (the group's or the user's own
//!   ShowID), so a search does not reveal who hides behind a screen name.
//! - **Paging.** Findings are taken once, in id order, when the search starts (more than
//!   `search.max_findings` gets 536). A page holds SearchLimit results (at most and by
//!   default `search.max_page`). `SearchIndex` in a continuation is the 1-based index of the
//!   first result wanted; in an answer it is the index of the last result given (as in the
//!   LWX vectors wv-020…023: 7 findings, limit 5, continued at 6, answered with index 7).
//!   An index outside the findings gets 425, an unknown or stopped SearchID 424. A search
//!   whose findings fit in one page gets no SearchID. A session keeps
//!   `search.max_open_per_session` searches (the oldest is dropped); they end with it.
//! - **Profiles.** Stored one record per user (table `Profiles`). Users of 1.3 set their
//!   friendly name with `PP_FRIENDLY_NAME` and whether they can be found with the property
//!   `Searchable` (T/F, our extension: CSP has no primitive for it); other `PP_*` properties
//!   are not kept and refuse the request (402).

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::boxmap::BoxMap;
use crate::codec::access13::{
    GetPublicProfileRequest, GetPublicProfileResponse, PublicProfile, UpdatePublicProfileRequest,
};
use crate::codec::common::{GroupList, Property, PropertyName, Status, User, UserList};
use crate::codec::fundamental::{
    SearchElement, SearchRequest, SearchResponse, SearchResult, StopSearchRequest,
};
use crate::codec::{Primitive, Version};
use crate::store::{self, StorageOp, Table};

use super::{Server, result};

/// Separates profile fields in [`Profile::text`] (refused inside values).
const SEP: char = '\u{1f}';
/// Fewest characters a substring search string must have.
const MIN_SUBSTRING: usize = 3;
/// Longest profile field, in bytes.
const MAX_FIELD: usize = 256;

/// A profile field (its position in [`Profile::text`]; stored, append only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    FirstName = 0,
    LastName = 1,
    Email = 2,
    Alias = 3,
    Mobile = 4,
    FriendlyName = 5,
}

const FIELDS: usize = 6;
/// Flag: the user does not want to be found at all.
const HIDDEN: u8 = 1;
/// Flag: the user may be found by e-mail address.
const BY_EMAIL: u8 = 2;
/// Flag: the user may be found by mobile number.
const BY_MOBILE: u8 = 4;

/// A user's profile: the fields packed in one string (one allocation per user, scanned
/// front to back by a search) and the visibility flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Profile {
    /// The fields in [`Field`] order, each followed by [`SEP`]; empty when none is set.
    text: Box<str>,
    /// [`HIDDEN`], [`BY_EMAIL`], [`BY_MOBILE`].
    flags: u8,
}

impl Profile {
    /// The value of `f` ("" when unset).
    pub(crate) fn get(&self, f: Field) -> &str {
        self.text.split(SEP).nth(f as usize).unwrap_or("")
    }

    /// The fields in [`Field`] order.
    fn fields(&self) -> impl Iterator<Item = &str> {
        let mut it = self.text.split(SEP);
        (0..FIELDS).map(move |_| it.next().unwrap_or(""))
    }

    fn set(&mut self, f: Field, value: &str) {
        let mut all: Vec<&str> = (0..FIELDS)
            .map(|i| self.text.split(SEP).nth(i).unwrap_or(""))
            .collect();
        if let Some(slot) = all.get_mut(f as usize) {
            *slot = value;
        }
        let text = if all.iter().all(|v| v.is_empty()) {
            String::new()
        } else {
            let mut t = String::with_capacity(all.iter().map(|v| v.len() + 1).sum());
            for v in all {
                t.push_str(v);
                t.push(SEP);
            }
            t
        };
        self.text = text.into_boxed_str();
    }

    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Whether nothing is set (no record needed).
    fn is_default(&self) -> bool {
        self.text.is_empty() && self.flags == 0
    }
}

/// Profile fields an operator sets for a user ([`super::AdminCommand::SetProfile`]). `None`
/// leaves a field as it is; an empty string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileUpdate {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Friendly (display) name, shown with search results to 1.3 sessions.
    pub friendly_name: Option<String>,
    /// Whether the user can be found by search at all (default true).
    pub searchable: Option<bool>,
    /// Whether the user can be found by e-mail address (default false).
    pub find_by_email: Option<bool>,
    /// Whether the user can be found by mobile number (default false).
    pub find_by_mobile: Option<bool>,
}

/// A profile as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProfileRecord {
    user: String,
    profile: Profile,
}

fn valid_value(v: &str) -> Result<&str, String> {
    let v = v.trim();
    if v.len() > MAX_FIELD {
        return Err(format!("a profile field is longer than {MAX_FIELD} bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err("a profile field holds control characters".into());
    }
    Ok(v)
}

/// The storage operation for `user`'s profile as it is now.
fn profile_op(user: &str, p: &Profile) -> StorageOp {
    if p.is_default() {
        StorageOp::Delete {
            table: Table::Profiles,
            key: user.to_owned(),
        }
    } else {
        StorageOp::Put {
            table: Table::Profiles,
            key: user.to_owned(),
            value: store::encode_record(&ProfileRecord {
                user: user.to_owned(),
                profile: p.clone(),
            }),
        }
    }
}

/// Applies an operator's update to `user`'s profile (the account exists).
pub(crate) fn set_profile(s: &mut Server, user: &str, u: &ProfileUpdate) -> Result<String, String> {
    let Some(account) = s.accounts.get(user) else {
        return Err(format!("no account {user}"));
    };
    let mut p = account.profile.clone();
    let fields = [
        (Field::FirstName, &u.first_name),
        (Field::LastName, &u.last_name),
        (Field::Email, &u.email),
        (Field::Alias, &u.alias),
        (Field::Mobile, &u.mobile),
        (Field::FriendlyName, &u.friendly_name),
    ];
    for (f, v) in fields {
        if let Some(v) = v {
            p.set(f, valid_value(v)?);
        }
    }
    if let Some(b) = u.searchable {
        p.set_flag(HIDDEN, !b);
    }
    if let Some(b) = u.find_by_email {
        p.set_flag(BY_EMAIL, b);
    }
    if let Some(b) = u.find_by_mobile {
        p.set_flag(BY_MOBILE, b);
    }
    let op = profile_op(user, &p);
    if let Some(a) = s.accounts.get_mut(user) {
        a.profile = p;
    }
    reindex(s, user);
    s.store(vec![op]);
    Ok(format!("profile of {user} set"))
}

/// Restores one stored profile onto its account; false when it does not decode or the
/// account is gone.
pub(crate) fn restore(s: &mut Server, value: &[u8]) -> bool {
    let Some(r) = store::decode_record::<ProfileRecord>(Table::Profiles, value) else {
        return false;
    };
    match s.accounts.get_mut(&r.user) {
        Some(a) => {
            a.profile = r.profile;
            true
        }
        None => false,
    }
}

/// The storage delete of a deleted account's profile.
pub(crate) fn remove_user(user: &str) -> StorageOp {
    StorageOp::Delete {
        table: Table::Profiles,
        key: user.to_owned(),
    }
}

// ---- the search index -------------------------------------------------------------------

/// Position of the user id in an index entry; profile fields follow ([`Field`] + 1).
const ID_POS: usize = 0;

/// Every account's searchable text, lower-cased, in one contiguous buffer: a search is one
/// substring scan (memchr's memmem) over a few bytes per user instead of a walk over the
/// accounts (a cache miss or two per user: 37 ms for 100,000 users against < 1 ms).
///
/// An entry is the user id and the [`FIELDS`] profile fields, each followed by [`SEP`], and a
/// newline; values hold neither (control characters are refused), so a match of a search
/// string (which holds neither either) lies inside one field. A changed user gets a new entry
/// and the old one is marked dead; the buffer is rebuilt when dead entries outnumber live
/// ones, or when the number of live entries differs from the number of accounts (an account
/// made or removed without passing here).
#[derive(Debug, Default)]
pub(crate) struct Index {
    blob: Vec<u8>,
    /// Offset of each entry in `blob`.
    starts: Vec<u32>,
    /// The user of each entry ("" when dead).
    users: Vec<Box<str>>,
    /// The user's profile flags, per entry.
    flags: Vec<u8>,
    live: usize,
    dead: usize,
    /// Records were restored: rebuild before the next search.
    pub stale: bool,
}

fn push_lower(blob: &mut Vec<u8>, v: &str) {
    if v.is_ascii() {
        blob.extend(v.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        blob.extend_from_slice(v.to_lowercase().as_bytes());
    }
}

impl Index {
    fn push(&mut self, user: &str, p: &Profile) -> u32 {
        let slot = u32::try_from(self.starts.len()).unwrap_or(u32::MAX);
        self.starts
            .push(u32::try_from(self.blob.len()).unwrap_or(u32::MAX));
        push_lower(&mut self.blob, user);
        self.blob.push(SEP as u8);
        for v in p.fields() {
            push_lower(&mut self.blob, v);
            self.blob.push(SEP as u8);
        }
        self.blob.push(b'\n');
        self.users.push(user.into());
        self.flags.push(p.flags);
        self.live += 1;
        slot
    }

    fn kill(&mut self, slot: u32) {
        if let Some(u) = self.users.get_mut(slot as usize)
            && !u.is_empty()
        {
            *u = Box::from("");
            self.live -= 1;
            self.dead += 1;
        }
    }
}

/// (Re)indexes `user` after its account or profile changed.
pub(crate) fn reindex(s: &mut Server, user: &str) {
    let Server {
        accounts,
        search_index: index,
        ..
    } = s;
    if let Some(a) = accounts.get_mut(user) {
        index.kill(a.search_slot);
        a.search_slot = index.push(user, &a.profile);
    }
}

/// Takes `user` out of the index (its account is being deleted).
pub(crate) fn unindex(s: &mut Server, user: &str) {
    if let Some(slot) = s.accounts.get(user).map(|a| a.search_slot) {
        s.search_index.kill(slot);
    }
}

/// Rebuilds the index when it no longer mirrors the accounts (see [`Index`]).
fn sync(s: &mut Server) {
    let idx = &s.search_index;
    if !idx.stale && idx.live == s.accounts.len() && idx.dead <= idx.live.max(1024) {
        return;
    }
    let mut fresh = Index::default();
    for (user, a) in s.accounts.iter_mut() {
        a.search_slot = fresh.push(user, &a.profile);
    }
    s.search_index = fresh;
}

/// Users whose `pos` field (in an index entry) contains `needle`, who let themselves be found
/// by it (`need`) and who match every other criterion; in id order. 536 beyond `max`.
fn find_indexed(
    s: &Server,
    pos: usize,
    need: u8,
    needle: &str,
    criteria: &[Criterion],
    max: usize,
) -> Result<Found, (u16, String)> {
    let idx = &s.search_index;
    let mut out: Vec<String> = Vec::new();
    if needle.bytes().any(|b| b == SEP as u8 || b == b'\n') {
        return Ok(Found::Users(out));
    }
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut last = usize::MAX;
    // Hits come in order: the entry of each is found by walking forward, not searching.
    let mut entry = 0usize;
    for hit in finder.find_iter(&idx.blob) {
        while idx
            .starts
            .get(entry + 1)
            .is_some_and(|&next| next as usize <= hit)
        {
            entry += 1;
        }
        if entry == last {
            continue;
        }
        let start = idx.starts.get(entry).map_or(0, |&st| st as usize);
        let field = idx
            .blob
            .get(start..hit)
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == SEP as u8)
            .count();
        if field != pos {
            continue;
        }
        last = entry;
        let (Some(user), Some(&flags)) = (idx.users.get(entry), idx.flags.get(entry)) else {
            continue;
        };
        if user.is_empty() || flags & HIDDEN != 0 || (need != 0 && flags & need == 0) {
            continue;
        }
        if criteria.len() > 1 {
            let Some(a) = s.accounts.get(&**user) else {
                continue;
            };
            if !criteria
                .iter()
                .all(|c| user_matches(s, user, &a.profile, c))
            {
                continue;
            }
        }
        if out.len() == max {
            return Err((536, format!("more than {max} findings; narrow the search")));
        }
        out.push(user.to_string());
    }
    Ok(Found::Users(out))
}

// ---- 1.3 public profiles --------------------------------------------------------------

fn status(code: u16, text: &str) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, text)))
}

/// `UpdatePublicProfile-Request` (1.3): the friendly name and whether the user can be found.
pub(crate) fn update_public_profile(
    s: &mut Server,
    user: &str,
    req: &UpdatePublicProfileRequest,
) -> Primitive {
    let Some(account) = s.accounts.get(user) else {
        return status(531, "unknown user");
    };
    let mut p = account.profile.clone();
    if req.clear_public_profile == Some(true) {
        p.set(Field::FriendlyName, "");
        p.set_flag(HIDDEN, false);
    }
    for prop in req.public_profile.iter().flat_map(|pp| &pp.property) {
        let value = prop.value.as_deref().unwrap_or("");
        match &prop.name {
            Some(PropertyName::PpFriendlyName) => match valid_value(value) {
                Ok(v) => p.set(Field::FriendlyName, v),
                Err(e) => return status(402, &e),
            },
            Some(PropertyName::Searchable) => match flag(value) {
                Some(b) => p.set_flag(HIDDEN, !b),
                None => return status(402, "Searchable is T or F"),
            },
            Some(other) => {
                return status(
                    402,
                    &format!("profile property {} is not kept", other.as_str()),
                );
            }
            None => return status(402, "Property without a Name"),
        }
    }
    let op = profile_op(user, &p);
    if let Some(a) = s.accounts.get_mut(user) {
        a.profile = p;
    }
    reindex(s, user);
    s.store(vec![op]);
    status(200, "")
}

/// `GetPublicProfile-Request` (1.3): the friendly name of each user asked about (the asker's
/// own when none is named); unknown users get 531 in the Result.
pub(crate) fn get_public_profile(
    s: &Server,
    user: &str,
    req: &GetPublicProfileRequest,
) -> Primitive {
    let asked: Vec<&str> = if req.user_id.is_empty() {
        vec![user]
    } else {
        req.user_id.iter().map(String::as_str).collect()
    };
    let mut profiles = Vec::new();
    let mut failed = Vec::new();
    for raw in asked {
        match super::presence::local_user(s, raw) {
            Ok(u) => {
                let name = s
                    .accounts
                    .get(&u)
                    .map(|a| a.profile.get(Field::FriendlyName).to_owned())
                    .unwrap_or_default();
                let property = if name.is_empty() {
                    Vec::new()
                } else {
                    vec![Property {
                        name: Some(PropertyName::PpFriendlyName),
                        value: Some(name),
                        ..Default::default()
                    }]
                };
                profiles.push(PublicProfile {
                    user_id: Some(u),
                    property,
                    ..Default::default()
                });
            }
            Err(code) => failed.push((code, raw.to_owned())),
        }
    }
    let outcome = super::presence::outcome(profiles.len(), failed);
    let res = match outcome {
        Primitive::Status(st) => st.result,
        _ => None,
    };
    Primitive::GetPublicProfileResponse(Box::new(GetPublicProfileResponse {
        result: res.or_else(|| Some(result(200, ""))),
        public_profile: profiles,
        ..Default::default()
    }))
}

// ---- search ---------------------------------------------------------------------------

/// What one search found (snapshot of ids, in id order).
#[derive(Debug, Clone)]
enum Found {
    Users(Vec<String>),
    Groups(Vec<String>),
}

impl Found {
    fn len(&self) -> usize {
        match self {
            Found::Users(v) | Found::Groups(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone)]
struct Open {
    id: u32,
    found: Found,
    limit: usize,
}

/// Searches open for paging, per session.
#[derive(Debug, Default)]
pub(crate) struct Searches {
    open: BoxMap<u64, Vec<Open>>,
    next_id: u32,
}

/// A session ended: its searches go.
pub(crate) fn session_ended(s: &mut Server, h: u64) {
    s.searches.open.remove(&h);
}

fn flag(value: &str) -> Option<bool> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("T") || v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("F") || v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Whether `hay` contains `needle` (already lower-cased), ignoring case.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let h = hay.as_bytes();
        if n.len() > h.len() {
            return false;
        }
        let Some((&first, rest)) = n.split_first() else {
            return true;
        };
        let upper = first.to_ascii_uppercase();
        let last_start = h.len() - n.len();
        let mut i = 0;
        while i <= last_start {
            // Find the next position where the first byte matches in either case.
            let Some(off) = h
                .get(i..=last_start)
                .and_then(|w| w.iter().position(|&b| b == first || b == upper))
            else {
                return false;
            };
            i += off;
            let tail = h.get(i + 1..i + n.len()).unwrap_or_default();
            if tail
                .iter()
                .zip(rest)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
            {
                return true;
            }
            i += 1;
        }
        false
    } else {
        hay.to_lowercase().contains(needle)
    }
}

/// One criterion, ready to test.
enum Criterion {
    /// A user id substring.
    UserId(String),
    /// A profile field substring, and the flag that must allow it (0: none needed).
    UserField(Field, u8, String),
    /// Online or not.
    Online(bool),
    /// Group id, name, topic substring (0, 1, 2).
    GroupText(u8, String),
    /// Groups where the user is joined and shown by id.
    Joined(String),
    /// Groups the user owns.
    Owner(String),
    /// Groups the user auto-joins.
    AutoJoin(String),
}

impl Criterion {
    fn is_user(&self) -> bool {
        matches!(
            self,
            Criterion::UserId(_) | Criterion::UserField(..) | Criterion::Online(_)
        )
    }
}

fn criterion(s: &Server, element: &SearchElement, raw: &str) -> Result<Criterion, (u16, String)> {
    let text = || {
        let t = raw.trim();
        if t.chars().count() < MIN_SUBSTRING {
            Err((
                537,
                format!(
                    "search strings need at least {MIN_SUBSTRING} characters ({} given)",
                    element.as_str()
                ),
            ))
        } else {
            Ok(t.to_lowercase())
        }
    };
    let user = || {
        Address::parse_user(raw.trim(), &s.config.domain)
            .map(|a| a.user_id())
            .map_err(|_| (402, format!("invalid user id {raw:?}")))
    };
    Ok(match element {
        SearchElement::UserId => Criterion::UserId(text()?),
        SearchElement::UserFirstName => Criterion::UserField(Field::FirstName, 0, text()?),
        SearchElement::UserLastName => Criterion::UserField(Field::LastName, 0, text()?),
        SearchElement::UserAlias => Criterion::UserField(Field::Alias, 0, text()?),
        SearchElement::UserFriendlyName => Criterion::UserField(Field::FriendlyName, 0, text()?),
        SearchElement::UserEmailAddress => Criterion::UserField(Field::Email, BY_EMAIL, text()?),
        SearchElement::UserMobileNumber => Criterion::UserField(Field::Mobile, BY_MOBILE, text()?),
        SearchElement::UserOnlineStatus => {
            Criterion::Online(flag(raw).ok_or((402, "USER_ONLINE_STATUS is T or F".to_owned()))?)
        }
        SearchElement::GroupId => Criterion::GroupText(0, text()?),
        SearchElement::GroupName => Criterion::GroupText(1, text()?),
        SearchElement::GroupTopic => Criterion::GroupText(2, text()?),
        SearchElement::GroupUserIdJoined => Criterion::Joined(user()?),
        SearchElement::GroupUserIdOwner => Criterion::Owner(user()?),
        SearchElement::GroupUserIdAutojoin => Criterion::AutoJoin(user()?),
        other => {
            return Err((402, format!("{} is not searchable here", other.as_str())));
        }
    })
}

fn user_matches(s: &Server, user: &str, p: &Profile, c: &Criterion) -> bool {
    match c {
        Criterion::UserId(n) => contains_ci(user, n),
        Criterion::UserField(f, need, n) => {
            (*need == 0 || p.flag(*need)) && {
                let v = p.get(*f);
                !v.is_empty() && contains_ci(v, n)
            }
        }
        Criterion::Online(b) => s.by_user.contains_key(user) == *b,
        _ => false,
    }
}

/// Runs the criteria: the findings, or 536 beyond `max`.
fn find(s: &Server, criteria: &[Criterion], max: usize) -> Result<Found, (u16, String)> {
    let too_many = || (536, format!("more than {max} findings; narrow the search"));
    if criteria.iter().all(Criterion::is_user) {
        let text = criteria.iter().find_map(|c| match c {
            Criterion::UserId(n) => Some((ID_POS, 0, n.as_str())),
            Criterion::UserField(f, need, n) => Some((*f as usize + 1, *need, n.as_str())),
            _ => None,
        });
        if let Some((pos, need, needle)) = text {
            return find_indexed(s, pos, need, needle, criteria, max);
        }
        let mut out = Vec::new();
        for (user, a) in &s.accounts {
            if a.profile.flag(HIDDEN) {
                continue;
            }
            if criteria
                .iter()
                .all(|c| user_matches(s, user, &a.profile, c))
            {
                if out.len() == max {
                    return Err(too_many());
                }
                out.push(user.clone());
            }
        }
        return Ok(Found::Users(out));
    }
    let mut out = Vec::new();
    for (id, g) in &s.groups.groups {
        let r = &g.record;
        if !r.props.searchable {
            continue;
        }
        let ok = criteria.iter().all(|c| match c {
            Criterion::GroupText(0, n) => contains_ci(id, n),
            Criterion::GroupText(1, n) => {
                r.props.name.as_deref().is_some_and(|v| contains_ci(v, n))
            }
            Criterion::GroupText(_, n) => {
                r.props.topic.as_deref().is_some_and(|v| contains_ci(v, n))
            }
            Criterion::Joined(u) => g.is_joined(u) && g.shows_user_id(u),
            Criterion::Owner(u) => &r.owner == u,
            Criterion::AutoJoin(u) => r.own.get(u).is_some_and(|o| o.auto_join),
            _ => false,
        });
        if ok {
            if out.len() == max {
                return Err(too_many());
            }
            out.push(id.clone());
        }
    }
    Ok(Found::Groups(out))
}

/// One page of `found` from 0-based `start`.
fn page(
    s: &Server,
    version: Version,
    id: Option<u32>,
    found: &Found,
    start: usize,
    limit: usize,
) -> Primitive {
    let total = found.len();
    let end = start.saturating_add(limit).min(total);
    let search_result = match found {
        Found::Users(v) => SearchResult {
            user_list: Some(UserList {
                user: v
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|u| {
                        let mut user = User::id(u.clone());
                        if version == Version::V1_3 {
                            user.friendly_name = s
                                .accounts
                                .get(u)
                                .map(|a| a.profile.get(Field::FriendlyName))
                                .filter(|n| !n.is_empty())
                                .map(str::to_owned);
                        }
                        user
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Found::Groups(v) => SearchResult {
            group_list: Some(GroupList {
                group_id: v.get(start..end).unwrap_or_default().to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    let complete = end >= total;
    Primitive::SearchResponse(Box::new(SearchResponse {
        search_id: id,
        search_findings: Some(u32::try_from(total).unwrap_or(u32::MAX)),
        completion_flag: Some(complete),
        search_index: Some(u32::try_from(end).unwrap_or(u32::MAX)),
        search_result: Some(search_result),
        ..Default::default()
    }))
}

/// `Search-Request`: a new search (pairs and a limit) or the continuation of one
/// (SearchID and SearchIndex).
pub(crate) fn search(s: &mut Server, h: u64, version: Version, req: &SearchRequest) -> Primitive {
    if let Some(id) = req.search_id {
        let Some(open) = s
            .searches
            .open
            .get(&h)
            .and_then(|l| l.iter().find(|o| o.id == id))
        else {
            return status(424, "invalid search id");
        };
        let index = req.search_index.unwrap_or(1) as usize;
        if index == 0 || index > open.found.len() {
            return status(425, "invalid search index");
        }
        let limit = req.search_limit.map_or(open.limit, |l| {
            (l as usize).clamp(1, s.config.search.max_page.max(1) as usize)
        });
        return page(s, version, Some(id), &open.found, index - 1, limit);
    }
    let mut criteria = Vec::new();
    for p in req.search_pair_list.iter().flat_map(|l| l.pairs()) {
        let (Some(e), Some(v)) = (&p.search_element, &p.search_string) else {
            return status(
                402,
                "a search pair needs a SearchElement and a SearchString",
            );
        };
        match criterion(s, e, v) {
            Ok(c) => criteria.push(c),
            Err((code, text)) => return status(code, &text),
        }
    }
    if criteria.is_empty() {
        return status(402, "SearchPairList missing");
    }
    let users = criteria.iter().filter(|c| c.is_user()).count();
    if users != 0 && users != criteria.len() {
        return status(402, "user and group elements cannot be mixed in one search");
    }
    let max_page = s.config.search.max_page.max(1) as usize;
    let limit = req
        .search_limit
        .map_or(max_page, |l| (l as usize).clamp(1, max_page));
    sync(s);
    let found = match find(s, &criteria, s.config.search.max_findings as usize) {
        Ok(f) => f,
        Err((code, text)) => return status(code, &text),
    };
    if found.len() <= limit {
        return page(s, version, None, &found, 0, limit);
    }
    s.searches.next_id = s.searches.next_id.wrapping_add(1).max(1);
    let id = s.searches.next_id;
    let answer = page(s, version, Some(id), &found, 0, limit);
    let keep = s.config.search.max_open_per_session.max(1) as usize;
    let list = s.searches.open.entry(h).or_default();
    while list.len() >= keep {
        list.remove(0);
    }
    list.push(Open { id, found, limit });
    answer
}

/// `StopSearch-Request`: the search's findings are dropped (424 when unknown).
pub(crate) fn stop_search(s: &mut Server, h: u64, req: &StopSearchRequest) -> Primitive {
    let Some(id) = req.search_id else {
        return status(402, "SearchID missing");
    };
    let Some(list) = s.searches.open.get_mut(&h) else {
        return status(424, "invalid search id");
    };
    let before = list.len();
    list.retain(|o| o.id != id);
    if list.len() == before {
        return status(424, "invalid search id");
    }
    if list.is_empty() {
        s.searches.open.remove(&h);
    }
    status(200, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_ignores_case_and_finds_every_position() {
        assert!(contains_ci("Smithson", "smi"));
        assert!(contains_ci("Goldsmith", "smi"));
        assert!(contains_ci("xxSMITH", "mit"));
        assert!(!contains_ci("Smythe", "smi"));
        assert!(!contains_ci("sm", "smi"));
        assert!(contains_ci("ssmi", "smi"));
        assert!(contains_ci("Müller", "mül"));
        assert!(contains_ci("MÜLLER", "mül"));
    }

    #[test]
    fn profile_fields_pack_and_clear() {
        let mut p = Profile::default();
        p.set(Field::LastName, "Smith");
        p.set(Field::Mobile, "+358 40 1234");
        assert_eq!(p.get(Field::LastName), "Smith");
        assert_eq!(p.get(Field::Mobile), "+358 40 1234");
        assert_eq!(p.get(Field::FirstName), "");
        p.set(Field::LastName, "");
        p.set(Field::Mobile, "");
        assert!(p.is_default());
    }
}
