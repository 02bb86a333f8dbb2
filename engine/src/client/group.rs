//! The client's group side (CSP-REFERENCE §2.6): request builders that fit the session's
//! version, and readers that turn the group answers and notices into plain lists.
//!
//! Builders are pure: they take the session's [`Version`] where the shapes differ and return
//! the [`Primitive`] to send with [`super::Command::Request`]. A group message is an ordinary
//! SendMessage to the group ([`super::im::send_text`] with `to_groups`); a private message
//! inside a group names the member's screen name ([`private_recipient`]). Notices arrive as
//! [`super::ClientEvent::ServerRequest`] carrying a `GroupChangeNotice` (read it with
//! [`change`]); a user put out of a group gets an unsolicited `LeaveGroup-Response`.

use crate::codec::common::{
    EntityList, Group, GroupProperties, Properties, Property, PropertyName, Recipient, ScreenName,
    User, UserIdList, UserList,
};
use crate::codec::group::{
    CreateGroupRequest, GroupChangeNotice, GroupMembersRequest, GroupRequest, JoinGroupRequest,
    JoinGroupResponse, Joined, LeftList, Mapping, MemberAccessRequest, MemberLevel,
    RejectListRequest, SetGroupPropsRequest, SubscribeGroupNoticeRequest, SubscribeType,
    UserMapList,
};
use crate::codec::{Primitive, Version};

// ---------------------------------------------------------------- request builders

/// `Property` list from `(name, value)` pairs (names as the reference spells them, e.g.
/// `Name`, `Topic`, `AccessType`, `MaxActiveUsers`, `ShowID`).
pub fn properties(pairs: &[(&str, &str)]) -> Vec<Property> {
    pairs
        .iter()
        .map(|(n, v)| Property {
            name: Some(PropertyName::parse(n)),
            value: Some((*v).to_owned()),
            ..Default::default()
        })
        .collect()
}

fn screen_name(group: &str, name: &str) -> ScreenName {
    ScreenName {
        sname: Some(name.to_owned()),
        group_id: Some(group.to_owned()),
        ..Default::default()
    }
}

fn group_request(group: &str) -> Box<GroupRequest> {
    Box::new(GroupRequest {
        group_id: Some(group.to_owned()),
        ..Default::default()
    })
}

/// `CreateGroup-Request` for `group` (`wv:me/name@domain`) with `props`; `join` joins at
/// once under that screen name; `notices` subscribes to GroupChangeNotice.
pub fn create(group: &str, props: &[(&str, &str)], join: Option<&str>, notices: bool) -> Primitive {
    Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(group.to_owned()),
        group_properties: Some(GroupProperties {
            property: properties(props),
            ..Default::default()
        }),
        join_group: Some(join.is_some()),
        screen_name: join.map(|n| screen_name(group, n)),
        subscribe_notification: Some(notices),
        ..Default::default()
    }))
}

/// `DeleteGroup-Request`.
pub fn delete(group: &str) -> Primitive {
    Primitive::DeleteGroupRequest(group_request(group))
}

/// `GetGroupProps-Request`: the group's and the user's own properties.
pub fn get_props(group: &str) -> Primitive {
    Primitive::GetGroupPropsRequest(group_request(group))
}

/// `SetGroupProps-Request` changing `props` of the group and `own` properties of the user
/// (either may be empty).
pub fn set_props(group: &str, props: &[(&str, &str)], own: &[(&str, &str)]) -> Primitive {
    Primitive::SetGroupPropsRequest(Box::new(SetGroupPropsRequest {
        group_id: Some(group.to_owned()),
        group_properties: (!props.is_empty()).then(|| GroupProperties {
            property: properties(props),
            ..Default::default()
        }),
        own_properties: (!own.is_empty()).then(|| Properties {
            property: properties(own),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// `JoinGroup-Request` under `name` (the server picks the user part of the id without one);
/// `want_joined` asks for the joined users in the answer, `notices` subscribes to notices.
pub fn join(group: &str, name: Option<&str>, want_joined: bool, notices: bool) -> Primitive {
    Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(group.to_owned()),
        screen_name: name.map(|n| screen_name(group, n)),
        joined_request: Some(want_joined),
        subscribe_notification: Some(notices),
        ..Default::default()
    }))
}

/// `LeaveGroup-Request`.
pub fn leave(group: &str) -> Primitive {
    Primitive::LeaveGroupRequest(group_request(group))
}

/// `GetGroupMembers-Request`.
pub fn get_members(group: &str) -> Primitive {
    Primitive::GetGroupMembersRequest(group_request(group))
}

/// `GetJoinedUsers-Request` (1.2 and later).
pub fn get_joined_users(group: &str) -> Primitive {
    Primitive::GetJoinedUsersRequest(group_request(group))
}

fn user_list(users: &[&str]) -> UserList {
    UserList {
        user: users.iter().map(|u| User::id(*u)).collect(),
        ..Default::default()
    }
}

/// The members of a GroupMembers request: a `UserList` before 1.3, a `UserIDList` in 1.3.
fn members_request(version: Version, group: &str, users: &[&str]) -> Box<GroupMembersRequest> {
    let mut r = GroupMembersRequest {
        group_id: Some(group.to_owned()),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_id_list = Some(UserIdList {
            user_id: users.iter().map(|u| (*u).to_owned()).collect(),
            ..Default::default()
        });
    } else {
        r.user_list = Some(user_list(users));
    }
    Box::new(r)
}

/// `AddGroupMembers-Request`: `users` become ordinary members.
pub fn add_members(version: Version, group: &str, users: &[&str]) -> Primitive {
    Primitive::AddGroupMembersRequest(members_request(version, group, users))
}

/// `RemoveGroupMembers-Request`.
pub fn remove_members(version: Version, group: &str, users: &[&str]) -> Primitive {
    Primitive::RemoveGroupMembersRequest(members_request(version, group, users))
}

/// `MemberAccess-Request` setting the privilege levels of members (a non-member named here
/// becomes a member); in 1.3 the ordinary users go in `UserList`, before in `Users`.
pub fn member_access(
    version: Version,
    group: &str,
    admins: &[&str],
    mods: &[&str],
    users: &[&str],
) -> Primitive {
    let level = |list: &[&str]| {
        (!list.is_empty()).then(|| MemberLevel {
            user_list: Some(user_list(list)),
            ..Default::default()
        })
    };
    let mut r = MemberAccessRequest {
        group_id: Some(group.to_owned()),
        admin: level(admins),
        moderator: level(mods),
        ..Default::default()
    };
    if version >= Version::V1_3 {
        r.user_list = (!users.is_empty()).then(|| user_list(users));
    } else {
        r.users = level(users);
    }
    Primitive::MemberAccessRequest(Box::new(r))
}

/// `RejectList-Request` banning `add` and lifting the ban of `remove` (both may be empty: the
/// answer lists the banned users).
pub fn reject_list(group: &str, add: &[&str], remove: &[&str]) -> Primitive {
    let entities = |list: &[&str]| {
        (!list.is_empty()).then(|| EntityList {
            user_id: list.iter().map(|u| (*u).to_owned()).collect(),
            ..Default::default()
        })
    };
    Primitive::RejectListRequest(Box::new(RejectListRequest {
        group_id: Some(group.to_owned()),
        add_list: entities(add),
        remove_list: entities(remove),
        ..Default::default()
    }))
}

/// `SubscribeGroupNotice-Request`: `Some(true)` subscribes, `Some(false)` unsubscribes,
/// `None` asks whether the user is subscribed (the answer's `Value` is T or F).
pub fn subscribe_notices(group: &str, subscribe: Option<bool>) -> Primitive {
    let t = match subscribe {
        Some(true) => SubscribeType::Set,
        Some(false) => SubscribeType::Unset,
        None => SubscribeType::Get,
    };
    Primitive::SubscribeGroupNoticeRequest(Box::new(SubscribeGroupNoticeRequest {
        group_id: Some(group.to_owned()),
        subscribe_type: Some(t),
        ..Default::default()
    }))
}

/// The `Recipient` of a private message to the member joined as `name` in `group` (give it
/// to [`super::im::send_content`]).
pub fn private_recipient(group: &str, name: &str) -> Recipient {
    Recipient {
        group: vec![Group {
            screen_name: Some(screen_name(group, name)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

// ---------------------------------------------------------------- readers

/// A joined user as a group shows it: the screen name, and the user id where the group or
/// the user reveals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedUser {
    /// Screen name in the group.
    pub screen_name: String,
    /// User id, when shown.
    pub user_id: Option<String>,
}

fn mapped(m: &[Mapping]) -> impl Iterator<Item = JoinedUser> + '_ {
    m.iter().filter_map(|m| {
        Some(JoinedUser {
            screen_name: m.sname.clone()?,
            user_id: m.user_id.clone(),
        })
    })
}

/// The users of a 1.2+ `UserMapList` (`Mapping` under `UserMapping`, or directly under it
/// as some servers write it).
fn from_user_map_list(l: &UserMapList) -> Vec<JoinedUser> {
    let nested = l.user_mapping.iter().flat_map(|m| mapped(&m.mapping));
    nested.chain(mapped(&l.mapping)).collect()
}

/// The screen names of a `UserList` (1.1 notices and answers).
fn from_user_list(l: &UserList) -> Vec<JoinedUser> {
    l.screen_name
        .iter()
        .filter_map(|n| {
            Some(JoinedUser {
                screen_name: n.sname.clone()?,
                user_id: None,
            })
        })
        .collect()
}

fn from_joined(j: &Joined) -> Vec<JoinedUser> {
    let mut v = Vec::new();
    if let Some(l) = &j.user_map_list {
        v.extend(from_user_map_list(l));
    }
    if let Some(l) = &j.user_list {
        v.extend(from_user_list(l));
    }
    v.extend(j.screen_name.iter().filter_map(|n| {
        Some(JoinedUser {
            screen_name: n.sname.clone()?,
            user_id: None,
        })
    }));
    v
}

fn left_names(l: Option<&LeftList>) -> Vec<String> {
    let Some(l) = l else {
        return Vec::new();
    };
    let listed = l.user_list.iter().flat_map(|u| u.screen_name.iter());
    listed
        .chain(l.screen_name.iter())
        .filter_map(|n| n.sname.clone())
        .collect()
}

/// The joined users a `JoinGroup-Response` lists (when they were asked for), in any
/// version's shape.
pub fn joined_users(r: &JoinGroupResponse) -> Vec<JoinedUser> {
    let mut v = Vec::new();
    if let Some(j) = &r.joined {
        v.extend(from_joined(j));
    }
    if let Some(l) = &r.user_map_list {
        v.extend(from_user_map_list(l));
    }
    if let Some(l) = &r.user_list {
        v.extend(from_user_list(l));
    }
    v
}

/// What a `GroupChangeNotice` says, in plain lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    /// The group.
    pub group_id: String,
    /// Users who joined.
    pub joined: Vec<JoinedUser>,
    /// Screen names of users who left.
    pub left: Vec<String>,
    /// Screen names of users who were put out (1.3 `LeftBlocked`).
    pub put_out: Vec<String>,
    /// Screen names of rejected users who tried to join (1.3 `JoinedBlocked`).
    pub refused: Vec<String>,
    /// The group's properties after a change, as `(name, value)`.
    pub properties: Vec<(String, String)>,
}

/// Reads a `GroupChangeNotice`.
pub fn change(n: &GroupChangeNotice) -> GroupChange {
    GroupChange {
        group_id: n.group_id.clone().unwrap_or_default(),
        joined: n.joined.as_ref().map(from_joined).unwrap_or_default(),
        left: left_names(n.left.as_ref()),
        put_out: left_names(n.left_blocked.as_ref()),
        refused: left_names(n.joined_blocked.as_ref()),
        properties: n
            .group_properties
            .iter()
            .flat_map(|p| p.property.iter())
            .filter_map(|p| Some((p.name.as_ref()?.as_str().to_owned(), p.value.clone()?)))
            .collect(),
    }
}
