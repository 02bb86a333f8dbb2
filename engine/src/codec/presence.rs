//! Presence primitives (CSP-REFERENCE §2.3, §2.4): contact lists, subscription and delivery,
//! attribute lists (proactive authorisation), reactive authorisation and watchers.
//!
//! Union of the 1.1, 1.2 and 1.3 models: where 1.3 wraps ids in `UserIDList` /
//! `ContactListIDList`, both the bare ≤ 1.2 lists and the wrappers are fields; the 1.3
//! `*Notify` flags sit next to the entries they qualify. The 1.2 `AutoSubscribe` flag is also
//! read under libwbxml's `Auto-Subscribe` spelling.

use super::common::{
    ContactListIdList, CspResult, NickList, Properties, RemoveNickList, User, UserIdList,
};
use super::macros::{csp_enum, csp_struct};
use super::presence_attrs::PresenceSubList;

csp_enum! {
    /// `ReactiveAuthState` and `WatcherStatus` values (1.2; 1.3 adds the subscriber states).
    pub enum AuthState {
        /// Authorisation granted.
        Granted = "GRANTED",
        /// Authorisation denied.
        Denied = "DENIED",
        /// Waiting for the owner.
        Pending = "PENDING",
        /// 1.3: currently subscribed.
        CurrentSubscriber = "CURRENT_SUBSCRIBER",
        /// 1.3: subscribed in the past.
        FormerSubscriber = "FORMER_SUBSCRIBER",
        /// 1.3: has accessed the presence.
        PresenceAccess = "PRESENCE_ACCESS",
    }
}

// ---------------------------------------------------------------- §2.3 contact lists

csp_struct! {
    /// `GetList-Request` (EMPTY).
    pub struct GetListRequest {}
}

csp_struct! {
    /// `GetList-Response (ContactList*, ContactListIDList? [1.3], DefaultContactList?)`.
    pub struct GetListResponse {
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// The default list.
        default_contact_list: Option<String> = "DefaultContactList",
    }
}

csp_struct! {
    /// `CreateList-Request (ContactList, NickList?, ContactListProperties?)`.
    pub struct CreateListRequest {
        /// The new list's id.
        contact_list: Option<String> = "ContactList",
        /// Initial members.
        nick_list: Option<NickList> = "NickList",
        /// `DisplayName`, `Default`.
        contact_list_properties: Option<Properties> = "ContactListProperties",
    }
}

csp_struct! {
    /// 1.3 `CreateList-Response (ContactList, ContactListProperties?)` (success only).
    pub struct CreateListResponse {
        /// The list created.
        contact_list: Option<String> = "ContactList",
        /// Its properties.
        contact_list_properties: Option<Properties> = "ContactListProperties",
    }
}

csp_struct! {
    /// `DeleteList-Request (ContactList)`.
    pub struct DeleteListRequest {
        /// The list to delete.
        contact_list: Option<String> = "ContactList",
    }
}

csp_struct! {
    /// `ListManage-Request (ContactList, (AddNickList | RemoveNickList | ContactListProperties)?, ReceiveList [1.2], AuthorizeAndGrant? [1.3])`.
    pub struct ListManageRequest {
        /// The list.
        contact_list: Option<String> = "ContactList",
        /// Members to add.
        add_nick_list: Option<NickList> = "AddNickList",
        /// Members to remove.
        remove_nick_list: Option<RemoveNickList> = "RemoveNickList",
        /// New properties.
        contact_list_properties: Option<Properties> = "ContactListProperties",
        /// 1.2: T = return the member list.
        receive_list: Option<bool> = "ReceiveList",
        /// 1.3: also grant presence to added contacts.
        authorize_and_grant: Option<bool> = "AuthorizeAndGrant",
    }
}

csp_struct! {
    /// `ListManage-Response (Result, NickList?, ContactListProperties?)`.
    pub struct ListManageResponse {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// The members.
        nick_list: Option<NickList> = "NickList",
        /// The properties.
        contact_list_properties: Option<Properties> = "ContactListProperties",
    }
}

// ---------------------------------------------------------------- §2.4 presence

csp_struct! {
    /// `Presence ((UserID, UserNotify? [1.3]) | (ContactList, ContactListNotify? [1.3]), PresenceSubList*)`.
    pub struct Presence {
        /// Whose presence.
        user_id: Option<String> = "UserID",
        /// 1.3 (attribute lists): notify the owner on wider requests.
        user_notify: Option<bool> = "UserNotify",
        /// A contact list (attribute lists).
        contact_list: Option<String> = "ContactList",
        /// 1.3 (attribute lists): notify flag of the list.
        contact_list_notify: Option<bool> = "ContactListNotify",
        /// The attributes.
        presence_sub_list: Vec<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// `SubscribePresence-Request (User*, UserIDList? [1.3], ContactList*, ContactListIDList? [1.3], PresenceSubList?, AutoSubscribe? [1.2])`.
    pub struct SubscribePresenceRequest {
        /// ≤ 1.2 users.
        user: Vec<User> = "User",
        /// 1.3 users.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// Attributes wanted (absent or empty = all).
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
        /// 1.2: also subscribe to contacts added to the lists later.
        auto_subscribe: Option<bool> = "AutoSubscribe" | "Auto-Subscribe",
    }
}

csp_struct! {
    /// `UnsubscribePresence-Request (User*, UserIDList? [1.3], ContactList*, ContactListIDList? [1.3])`.
    pub struct UnsubscribePresenceRequest {
        /// ≤ 1.2 users.
        user: Vec<User> = "User",
        /// 1.3 users.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
    }
}

csp_struct! {
    /// `PresenceNotification-Request (Presence+)`.
    pub struct PresenceNotificationRequest {
        /// Changed presence.
        presence: Vec<Presence> = "Presence",
    }
}

csp_struct! {
    /// `GetPresence-Request ((User+ | ContactList+) | [1.3] (UserIDList | ContactListIDList), PresenceSubList?)`.
    pub struct GetPresenceRequest {
        /// ≤ 1.2 users.
        user: Vec<User> = "User",
        /// 1.3 users.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// Attributes wanted (absent = all).
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// `GetPresence-Response (Result, Presence*)`.
    pub struct GetPresenceResponse {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// Presence per user.
        presence: Vec<Presence> = "Presence",
    }
}

csp_struct! {
    /// `UpdatePresence-Request (PresenceSubList)`.
    pub struct UpdatePresenceRequest {
        /// The new attribute values.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// `CreateAttributeList-Request (PresenceSubList, UserID*, UserIDList? [1.3], ContactList*, ContactListIDList? [1.3], DefaultList, DefaultNotify? [1.3], UserNotify? [1.3], ContactListNotify? [1.3])`.
    pub struct CreateAttributeListRequest {
        /// Attributes granted.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
        /// ≤ 1.2 users granted.
        user_id: Vec<String> = "UserID",
        /// 1.3 users granted.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ≤ 1.2 contact lists granted.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists granted.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// T = this is the default attribute list.
        default_list: Option<bool> = "DefaultList",
        /// 1.3 notify flag of the default list.
        default_notify: Option<bool> = "DefaultNotify",
        /// 1.3 notify flag of the users.
        user_notify: Option<bool> = "UserNotify",
        /// 1.3 notify flag of the contact lists.
        contact_list_notify: Option<bool> = "ContactListNotify",
    }
}

csp_struct! {
    /// `DeleteAttributeList-Request (UserID*, UserIDList? [1.3], ContactList*, ContactListIDList? [1.3], DefaultList)`.
    pub struct DeleteAttributeListRequest {
        /// ≤ 1.2 users.
        user_id: Vec<String> = "UserID",
        /// 1.3 users.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// T = delete the default attribute list.
        default_list: Option<bool> = "DefaultList",
    }
}

csp_struct! {
    /// `GetAttributeList-Request (DefaultList, ContactList*, ContactListIDList? [1.3], User*, UserIDList? [1.3])`.
    pub struct GetAttributeListRequest {
        /// T = include the default attribute list.
        default_list: Option<bool> = "DefaultList",
        /// ≤ 1.2 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// ≤ 1.2 users.
        user: Vec<User> = "User",
        /// 1.3 users.
        user_id_list: Option<UserIdList> = "UserIDList",
    }
}

csp_struct! {
    /// `DefaultAttributeList (DefaultNotify? [1.3], PresenceSubList*)`.
    pub struct DefaultAttributeList {
        /// 1.3 notify flag.
        default_notify: Option<bool> = "DefaultNotify",
        /// Attributes granted by default.
        presence_sub_list: Vec<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// `GetAttributeList-Response (Result, DefaultAttributeList?, Presence*)`.
    pub struct GetAttributeListResponse {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// The default list.
        default_attribute_list: Option<DefaultAttributeList> = "DefaultAttributeList",
        /// Per-user and per-contact-list grants.
        presence: Vec<Presence> = "Presence",
    }
}

csp_struct! {
    /// ≤ 1.2 `PresenceAuth-Request (UserID, PresenceSubList?)`: a watcher asks for presence.
    pub struct PresenceAuthRequest {
        /// The watcher.
        user_id: Option<String> = "UserID",
        /// Attributes asked for.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// ≤ 1.2 `PresenceAuth-User (UserID, Acceptance, PresenceSubList?)`: the owner's decision.
    pub struct PresenceAuthUser {
        /// The watcher.
        user_id: Option<String> = "UserID",
        /// T = granted.
        acceptance: Option<bool> = "Acceptance",
        /// Attributes concerned.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// ≤ 1.2 `CancelAuth-Request (UserID)`.
    pub struct CancelAuthRequest {
        /// The watcher whose authorisation ends.
        user_id: Option<String> = "UserID",
    }
}

csp_struct! {
    /// 1.2 `GetReactiveAuthStatus-Request (UserID*)`.
    pub struct GetReactiveAuthStatusRequest {
        /// Watchers asked about (none = all).
        user_id: Vec<String> = "UserID",
    }
}

csp_struct! {
    /// 1.2 `ReactiveAuthStatus (UserID, ReactiveAuthState, PresenceSubList?)`.
    pub struct ReactiveAuthStatus {
        /// The watcher.
        user_id: Option<String> = "UserID",
        /// Granted, denied or pending.
        reactive_auth_state: Option<AuthState> = "ReactiveAuthState",
        /// Attributes concerned.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// 1.2 `ReactiveAuthStatusList (ReactiveAuthStatus*)`.
    pub struct ReactiveAuthStatusList {
        /// One entry per watcher.
        reactive_auth_status: Vec<ReactiveAuthStatus> = "ReactiveAuthStatus",
    }
}

csp_struct! {
    /// 1.2 `GetReactiveAuthStatus-Response (ReactiveAuthStatusList)`.
    pub struct GetReactiveAuthStatusResponse {
        /// The states.
        reactive_auth_status_list: Option<ReactiveAuthStatusList> = "ReactiveAuthStatusList",
    }
}

csp_struct! {
    /// `GetWatcherList-Request (HistoryPeriod? [1.2], MaxWatcherList? [1.2])` (EMPTY in 1.1).
    pub struct GetWatcherListRequest {
        /// Include former watchers of this period (seconds).
        history_period: Option<u32> = "HistoryPeriod",
        /// Most watchers to return.
        max_watcher_list: Option<u32> = "MaxWatcherList",
    }
}

csp_struct! {
    /// `Watcher (User | [1.3] (UserID, FriendlyName?), WatcherStatus?)`.
    pub struct Watcher {
        /// 1.2 watcher.
        user: Option<User> = "User",
        /// 1.3 watcher.
        user_id: Option<String> = "UserID",
        /// 1.3 display name.
        friendly_name: Option<String> = "FriendlyName",
        /// Subscriber state.
        watcher_status: Option<AuthState> = "WatcherStatus",
    }
}

csp_struct! {
    /// `GetWatcherList-Response (HistoryPeriod? [1.2], WatcherCount? [1.3], User* [1.1], Watcher* [1.2])`.
    pub struct GetWatcherListResponse {
        /// Period covered, seconds.
        history_period: Option<u32> = "HistoryPeriod",
        /// 1.3 total number of watchers.
        watcher_count: Option<u32> = "WatcherCount",
        /// 1.1 watchers.
        user: Vec<User> = "User",
        /// 1.2+ watchers.
        watcher: Vec<Watcher> = "Watcher",
    }
}
