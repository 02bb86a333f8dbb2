//! Group primitives (CSP-REFERENCE §2.6): create, delete, join, leave, members, privileges,
//! properties, reject lists, change notices, joined users.
//!
//! Union of the 1.1, 1.2 and 1.3 models: member lists of joined users are 1.1 `UserList`s of
//! screen names, 1.2 `UserMapList`s, and in 1.3 a `Joined (UserMapList)`; `Mapping` is
//! accepted directly under `UserMapList` (Android's 1.2 reading) as well as under
//! `UserMapping`; `Users` (≤ 1.2) and the bare 1.3 `UserList` are both kept.

use super::common::{ContentBlock, CspResult, EntityList};
use super::common::{GroupProperties, Properties, ScreenName, UserIdList, UserList};
use super::macros::{csp_enum, csp_struct};

csp_enum! {
    /// `SubscribeType` of SubscribeGroupNotice-Request.
    pub enum SubscribeType {
        /// Get the current subscription state.
        Get = "G",
        /// Subscribe.
        Set = "S",
        /// Unsubscribe.
        Unset = "U",
    }
}

csp_struct! {
    /// One group id: `DeleteGroup-Request`, `LeaveGroup-Request`, `GetGroupMembers-Request`,
    /// `GetGroupProps-Request`, `GetJoinedUsers-Request` (all `(GroupID)`).
    pub struct GroupRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
    }
}

csp_struct! {
    /// `CreateGroup-Request (GroupID, GroupProperties, OwnProperties? [1.3], JoinGroup, ScreenName?, SubscribeNotification)`.
    pub struct CreateGroupRequest {
        /// The new group's id.
        group_id: Option<String> = "GroupID",
        /// Its properties.
        group_properties: Option<GroupProperties> = "GroupProperties",
        /// 1.3 the creator's own properties.
        own_properties: Option<Properties> = "OwnProperties",
        /// T = join it at once.
        join_group: Option<bool> = "JoinGroup",
        /// Screen name when joining.
        screen_name: Option<ScreenName> = "ScreenName",
        /// T = receive GroupChangeNotice.
        subscribe_notification: Option<bool> = "SubscribeNotification",
    }
}

csp_struct! {
    /// `JoinGroup-Request (GroupID, ScreenName?, JoinedRequest, SubscribeNotification, OwnProperties?)`.
    pub struct JoinGroupRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// Screen name wished.
        screen_name: Option<ScreenName> = "ScreenName",
        /// T = return the joined users.
        joined_request: Option<bool> = "JoinedRequest",
        /// T = receive GroupChangeNotice.
        subscribe_notification: Option<bool> = "SubscribeNotification",
        /// The joiner's own properties.
        own_properties: Option<Properties> = "OwnProperties",
    }
}

csp_struct! {
    /// 1.2 `Mapping (SName, UserID?)`: a screen name and, if shown, its user.
    pub struct Mapping {
        /// Screen name.
        sname: Option<String> = "SName",
        /// The user (only when the member's ShowID is T).
        user_id: Option<String> = "UserID",
    }
}

csp_struct! {
    /// 1.2 `AdminMapping`, `ModMapping`, `UserMapping` (Mapping+).
    pub struct MappingList {
        /// The members.
        mapping: Vec<Mapping> = "Mapping",
    }
}

csp_struct! {
    /// 1.2 `UserMapList (UserMapping?)`; `Mapping*` directly inside is accepted too.
    pub struct UserMapList {
        /// Joined users.
        user_mapping: Option<MappingList> = "UserMapping",
        /// Joined users without the `UserMapping` level.
        mapping: Vec<Mapping> = "Mapping",
    }
}

csp_struct! {
    /// 1.2 `AdminMapList (AdminMapping?, ModMapping?, UserMapping?)`.
    pub struct AdminMapList {
        /// Joined administrators.
        admin_mapping: Option<MappingList> = "AdminMapping",
        /// Joined moderators.
        mod_mapping: Option<MappingList> = "ModMapping",
        /// Other joined users.
        user_mapping: Option<MappingList> = "UserMapping",
    }
}

csp_struct! {
    /// `Joined`: 1.1 `(ScreenName+)` (Baraza: `UserList`), 1.2+ `(UserMapList)`.
    pub struct Joined {
        /// 1.2+ joined users.
        user_map_list: Option<UserMapList> = "UserMapList",
        /// 1.1 joined users (Baraza form).
        user_list: Option<UserList> = "UserList",
        /// 1.1 joined users (Symbian form).
        screen_name: Vec<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// `Left (UserList)` (1.1 also `ScreenName+`); 1.3 `JoinedBlocked (UserList)`,
    /// `LeftBlocked (UserList)`.
    pub struct LeftList {
        /// The users.
        user_list: Option<UserList> = "UserList",
        /// 1.1 screen names.
        screen_name: Vec<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// `JoinGroup-Response`: 1.1 `(UserList?, WelcomeNote?)`, 1.2 `(UserMapList?, WelcomeNote?)`,
    /// 1.3 `(Joined?, ScreenName?, WelcomeNote?)`.
    pub struct JoinGroupResponse {
        /// 1.1 joined users.
        user_list: Option<UserList> = "UserList",
        /// 1.2 joined users.
        user_map_list: Option<UserMapList> = "UserMapList",
        /// 1.3 joined users.
        joined: Option<Joined> = "Joined",
        /// 1.3 the joiner's screen name.
        screen_name: Option<ScreenName> = "ScreenName",
        /// The group's welcome text.
        welcome_note: Option<ContentBlock> = "WelcomeNote",
    }
}

csp_struct! {
    /// `LeaveGroup-Response (GroupID?, Result)`; unsolicited = removed from the group.
    pub struct LeaveGroupResponse {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// Outcome or reason.
        result: Option<CspResult> = "Result",
    }
}

csp_struct! {
    /// `Admin`, `Mod`, `Users` (UserList): members of one privilege level.
    pub struct MemberLevel {
        /// The members.
        user_list: Option<UserList> = "UserList",
    }
}

csp_struct! {
    /// `GetGroupMembers-Response (Admin?, Mod?, Users? [≤ 1.2], UserList? [1.3])`.
    pub struct GetGroupMembersResponse {
        /// Administrators.
        admin: Option<MemberLevel> = "Admin",
        /// Moderators.
        moderator: Option<MemberLevel> = "Mod",
        /// ≤ 1.2 ordinary members.
        users: Option<MemberLevel> = "Users",
        /// 1.3 ordinary members.
        user_list: Option<UserList> = "UserList",
    }
}

csp_struct! {
    /// `AddGroupMembers-Request` and `RemoveGroupMembers-Request`:
    /// `(GroupID, UserList [≤ 1.2] | UserIDList [1.3])`.
    pub struct GroupMembersRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// ≤ 1.2 members.
        user_list: Option<UserList> = "UserList",
        /// 1.3 members.
        user_id_list: Option<UserIdList> = "UserIDList",
    }
}

csp_struct! {
    /// `MemberAccess-Request (GroupID, Admin?, Mod?, Users? [≤ 1.2], UserList? [1.3])`.
    pub struct MemberAccessRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// New administrators.
        admin: Option<MemberLevel> = "Admin",
        /// New moderators.
        moderator: Option<MemberLevel> = "Mod",
        /// ≤ 1.2 back to ordinary members.
        users: Option<MemberLevel> = "Users",
        /// 1.3 back to ordinary members.
        user_list: Option<UserList> = "UserList",
    }
}

csp_struct! {
    /// `GetGroupProps-Response (GroupProperties, OwnProperties)`.
    pub struct GetGroupPropsResponse {
        /// The group's properties.
        group_properties: Option<GroupProperties> = "GroupProperties",
        /// The requester's own properties.
        own_properties: Option<Properties> = "OwnProperties",
    }
}

csp_struct! {
    /// `SetGroupProps-Request (GroupID, GroupProperties?, OwnProperties?)`.
    pub struct SetGroupPropsRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// New group properties.
        group_properties: Option<GroupProperties> = "GroupProperties",
        /// New own properties.
        own_properties: Option<Properties> = "OwnProperties",
    }
}

csp_struct! {
    /// `RejectList-Request (GroupID, AddList?, RemoveList?)`.
    pub struct RejectListRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// Users to ban.
        add_list: Option<EntityList> = "AddList",
        /// Users to unban.
        remove_list: Option<EntityList> = "RemoveList",
    }
}

csp_struct! {
    /// `RejectList-Response (UserList?)`: the users banned from the group.
    pub struct RejectListResponse {
        /// Banned users.
        user_list: Option<UserList> = "UserList",
    }
}

csp_struct! {
    /// `SubscribeGroupNotice-Request (GroupID, SubscribeType)`.
    pub struct SubscribeGroupNoticeRequest {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// Get, set or unset.
        subscribe_type: Option<SubscribeType> = "SubscribeType",
    }
}

csp_struct! {
    /// `SubscribeGroupNotice-Response (Value)`.
    pub struct SubscribeGroupNoticeResponse {
        /// Current subscription state (presumably T/F).
        value: Option<String> = "Value",
    }
}

csp_struct! {
    /// `GroupChangeNotice (GroupID, Joined?, Left?, JoinedBlocked? [1.3], LeftBlocked? [1.3], GroupProperties?, OwnProperties?)`.
    pub struct GroupChangeNotice {
        /// The group.
        group_id: Option<String> = "GroupID",
        /// Users who joined.
        joined: Option<Joined> = "Joined",
        /// Users who left.
        left: Option<LeftList> = "Left",
        /// 1.3 rejected users who tried to join.
        joined_blocked: Option<LeftList> = "JoinedBlocked",
        /// 1.3 users put out of the group.
        left_blocked: Option<LeftList> = "LeftBlocked",
        /// Changed group properties.
        group_properties: Option<GroupProperties> = "GroupProperties",
        /// Changed own properties.
        own_properties: Option<Properties> = "OwnProperties",
    }
}

csp_struct! {
    /// 1.2 `GetJoinedUsers-Response ((AdminMapList | UserMapList), JoinedBlocked? [1.3])`.
    pub struct GetJoinedUsersResponse {
        /// Joined users by privilege (for administrators).
        admin_map_list: Option<AdminMapList> = "AdminMapList",
        /// Joined users.
        user_map_list: Option<UserMapList> = "UserMapList",
        /// 1.3 rejected users who tried to join.
        joined_blocked: Option<LeftList> = "JoinedBlocked",
    }
}
