//! CSP 1.3 session/access primitives (CSP-REFERENCE §2.1, §8) not in [`super::access`]:
//! notification subscription and delivery, system messages, public profiles and maps.
//!
//! Models come from Baraza's definitions; the payload that goes with each notification type
//! is inferred from the names (only `ANU` is seen in use), so `Notification-Request` keeps
//! every alternative as an optional field.

use super::common::{
    ContactListIdList, ContentBlock, CspResult, Property, SystemMessageList,
    SystemMessageResponseList, UserIdList, UserList,
};
use super::macros::{csp_enum, csp_struct};
use super::presence_attrs::PresenceSubList;

csp_enum! {
    /// 1.3 `NotificationType` (CSP-REFERENCE §8).
    pub enum NotificationType {
        /// Authorization-Needed-User.
        Anu = "ANU",
        /// Authorization-Needed-Contact-List.
        Anc = "ANC",
        /// Authorization-Needed-Default-List.
        And = "AND",
        /// Authorization-Changed.
        Ac = "AC",
        /// Added-To-Contact-List.
        Atcl = "ATCL",
        /// Block-List-Changed.
        Blc = "BLC",
        /// Block-List-UsageChange.
        Bluc = "BLUC",
        /// Grant-List-Changed.
        Glc = "GLC",
        /// Grant-List-UsageChange.
        Gluc = "GLUC",
        /// Contact-List-Created.
        Clcr = "CLCR",
        /// Contact-List-Deleted.
        Cld = "CLD",
        /// Contact-List-Changed.
        Clc = "CLC",
        /// Group-Created.
        Gc = "GC",
        /// Group-Deleted.
        Gd = "GD",
        /// Group-Removed.
        Gr = "GR",
        /// Group-Membership-Granted.
        Gmg = "GMG",
        /// Group-Membership-Revoked.
        Gmr = "GMR",
        /// Group-Members-Updated.
        Gmu = "GMU",
        /// Group-MemberAccess-Updated.
        Gmau = "GMAU",
        /// Invitation-Accepted.
        Ia = "IA",
        /// Invitation-Rejected.
        Ir = "IR",
        /// Invitation-Cancelled.
        Ic = "IC",
        /// OnlineETEMHandling-Updated.
        Oeu = "OEU",
        /// Session-Priority-Adjusted.
        Spa = "SPA",
        /// PublicProfile-Updated.
        Ppu = "PPU",
    }
}

csp_struct! {
    /// 1.3 `NotificationTypeList (NotificationType*)`.
    pub struct NotificationTypeList {
        /// The types.
        notification_type: Vec<NotificationType> = "NotificationType",
    }
}

csp_struct! {
    /// 1.3 `SubscribeNotification-Request` and `UnsubscribeNotification-Request`
    /// `(NotificationTypeList)`.
    pub struct NotificationSubscription {
        /// Types to (un)subscribe.
        notification_type_list: Option<NotificationTypeList> = "NotificationTypeList",
    }
}

csp_struct! {
    /// 1.3 `UserIDPair (UnrecognizedUserID, ValidUserID)`.
    pub struct UserIdPair {
        /// An id the server did not recognise.
        unrecognized_user_id: Option<String> = "UnrecognizedUserID",
        /// The valid id it stands for.
        valid_user_id: Option<String> = "ValidUserID",
    }
}

csp_struct! {
    /// 1.3 `Notification-Request (NotificationType, (BlockListInUse | GrantListInUse | GroupID | ContactListIDList | InviteID | OnlineETEMHandling | (PresenceSubList?, UserIDList?, ContactListIDList?, DefaultList?) | SessionPriority | UserList | UserIDPair)?)`.
    pub struct NotificationRequest {
        /// What happened.
        notification_type: Option<NotificationType> = "NotificationType",
        /// BLUC: block list now in use or not.
        block_list_in_use: Option<bool> = "BlockListInUse",
        /// GLUC: grant list now in use or not.
        grant_list_in_use: Option<bool> = "GrantListInUse",
        /// GC, GD, GR, GM*: the group.
        group_id: Option<String> = "GroupID",
        /// IA, IR, IC: the invitation.
        invite_id: Option<String> = "InviteID",
        /// OEU: the new online ETEM handling.
        online_etem_handling: Option<String> = "OnlineETEMHandling",
        /// ANU, ANC, AND, AC: attributes concerned.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
        /// ANU: the watchers.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// ANC, CLCR, CLD, CLC: contact lists.
        contact_list_id_list: Option<ContactListIdList> = "ContactListIDList",
        /// AND: the default list.
        default_list: Option<bool> = "DefaultList",
        /// SPA: the new session priority.
        session_priority: Option<u32> = "SessionPriority",
        /// ATCL (presumed): users concerned.
        user_list: Option<UserList> = "UserList",
        /// An id correction (type unknown).
        user_id_pair: Option<UserIdPair> = "UserIDPair",
    }
}

csp_struct! {
    /// 1.3 `SystemMessage-Request (SystemMessageList)`: server → client.
    pub struct SystemMessageRequest {
        /// The messages.
        system_message_list: Option<SystemMessageList> = "SystemMessageList",
    }
}

csp_struct! {
    /// 1.3 `SystemMessage-User (SystemMessageResponseList)`: the user's answers.
    pub struct SystemMessageUser {
        /// The answers.
        system_message_response_list: Option<SystemMessageResponseList> = "SystemMessageResponseList",
    }
}

csp_struct! {
    /// 1.3 `PublicProfile (UserID?, Property*)` with `PP_*` property names.
    pub struct PublicProfile {
        /// Whose profile.
        user_id: Option<String> = "UserID",
        /// The profile fields.
        property: Vec<Property> = "Property",
    }
}

csp_struct! {
    /// 1.3 `GetPublicProfile-Request (UserID*)`.
    pub struct GetPublicProfileRequest {
        /// Whose profiles.
        user_id: Vec<String> = "UserID",
    }
}

csp_struct! {
    /// 1.3 `GetPublicProfile-Response (Result?, PublicProfile*)`.
    pub struct GetPublicProfileResponse {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// The profiles.
        public_profile: Vec<PublicProfile> = "PublicProfile",
    }
}

csp_struct! {
    /// 1.3 `UpdatePublicProfile-Request (ClearPublicProfile?, PublicProfile?)`.
    pub struct UpdatePublicProfileRequest {
        /// T = delete the profile first.
        clear_public_profile: Option<bool> = "ClearPublicProfile",
        /// The new fields.
        public_profile: Option<PublicProfile> = "PublicProfile",
    }
}

csp_struct! {
    /// 1.3 `GetMap-Request (UserID | PresenceSubList)`: a map of a user's or a given location.
    pub struct GetMapRequest {
        /// The user whose location is mapped.
        user_id: Option<String> = "UserID",
        /// A location (GeoLocation / Address attributes).
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
    }
}

csp_struct! {
    /// 1.3 `GetMap-Response (Map | URL)`; `Map (ContentType, ContentEncoding?, ContentData)`.
    pub struct GetMapResponse {
        /// The map image.
        map: Option<ContentBlock> = "Map",
        /// Where to fetch the map.
        url: Option<String> = "URL",
    }
}
