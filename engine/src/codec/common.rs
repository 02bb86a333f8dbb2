//! Recurrent CSP structures (CSP-REFERENCE §1.3): Result, Status, users, groups, lists,
//! properties. Union of the 1.1, 1.2 and 1.3 content models.

use super::macros::{csp_enum, csp_struct};

csp_struct! {
    /// `DetailedResult (Code, Description?, SearchElement* [1.3] | (UserID*, GroupID*, ScreenName*, MessageID*, ContactList*, Domain*))`.
    pub struct DetailedResult {
        /// Status code of this detail.
        code: Option<u32> = "Code",
        /// Human-readable text.
        description: Option<String> = "Description",
        /// 1.3: search fields that failed.
        search_element: Vec<String> = "SearchElement",
        /// Users concerned.
        user_id: Vec<String> = "UserID",
        /// Groups concerned.
        group_id: Vec<String> = "GroupID",
        /// Screen names concerned.
        screen_name: Vec<ScreenName> = "ScreenName",
        /// Messages concerned.
        message_id: Vec<String> = "MessageID",
        /// Contact lists concerned.
        contact_list: Vec<String> = "ContactList",
        /// Domains concerned.
        domain: Vec<String> = "Domain",
    }
}

csp_struct! {
    /// `Result (Code, Description?, DetailedResult*, SystemMessageList? [1.3], TryAgainTimeout? [1.3])`.
    pub struct CspResult {
        /// Status code (CSP-REFERENCE §3).
        code: Option<u32> = "Code",
        /// Human-readable text.
        description: Option<String> = "Description",
        /// Per-item outcomes.
        detailed_result: Vec<DetailedResult> = "DetailedResult",
        /// 1.3 system messages riding on a result.
        system_message_list: Option<SystemMessageList> = "SystemMessageList",
        /// 1.3 seconds before trying again.
        try_again_timeout: Option<u32> = "TryAgainTimeout",
    }
}

impl CspResult {
    /// A result with `code` and `description`.
    pub fn new(code: u16, description: &str) -> Self {
        CspResult {
            code: Some(u32::from(code)),
            description: if description.is_empty() {
                None
            } else {
                Some(description.to_owned())
            },
            ..Default::default()
        }
    }

    /// The code, or 0 when absent.
    pub fn code(&self) -> u32 {
        self.code.unwrap_or(0)
    }
}

csp_struct! {
    /// `Status (Result, ClientID?)`: the generic response primitive.
    pub struct Status {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// Client id echo.
        client_id: Option<ClientId> = "ClientID",
    }
}

impl Status {
    /// A status with `code` and `description`.
    pub fn new(code: u16, description: &str) -> Self {
        Status {
            result: Some(CspResult::new(code, description)),
            ..Default::default()
        }
    }

    /// The result code, or 0 when absent.
    pub fn code(&self) -> u32 {
        self.result.as_ref().map_or(0, CspResult::code)
    }
}

csp_struct! {
    /// `ClientID (URL?, MSISDN?)`.
    pub struct ClientId {
        /// Application URL.
        url: Option<String> = "URL",
        /// Phone number.
        msisdn: Option<String> = "MSISDN",
    }
}

csp_struct! {
    /// `User (UserID, FriendlyName? [1.3], (ApplicationID | ClientID)?)`.
    pub struct User {
        /// The user's id.
        user_id: Option<String> = "UserID",
        /// 1.3 display name.
        friendly_name: Option<String> = "FriendlyName",
        /// 1.3 application.
        application_id: Option<String> = "ApplicationID",
        /// A particular client of the user.
        client_id: Option<ClientId> = "ClientID",
    }
}

impl User {
    /// A user with just an id.
    pub fn id(user_id: impl Into<String>) -> Self {
        User {
            user_id: Some(user_id.into()),
            ..Default::default()
        }
    }
}

csp_struct! {
    /// `ScreenName (SName, GroupID)`: a nickname inside a group.
    pub struct ScreenName {
        /// The nickname.
        sname: Option<String> = "SName",
        /// The group.
        group_id: Option<String> = "GroupID",
    }
}

csp_struct! {
    /// `Group (GroupID | ScreenName)`.
    pub struct Group {
        /// The whole group.
        group_id: Option<String> = "GroupID",
        /// One member by screen name.
        screen_name: Option<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// `Sender (User | Group)`.
    pub struct Sender {
        /// A user.
        user: Option<User> = "User",
        /// A group (or screen name in a group).
        group: Option<Group> = "Group",
    }
}

csp_struct! {
    /// `Recipient (User*, Group*, ContactList*)`.
    pub struct Recipient {
        /// Users.
        user: Vec<User> = "User",
        /// Groups or screen names.
        group: Vec<Group> = "Group",
        /// Contact lists (their members).
        contact_list: Vec<String> = "ContactList",
    }
}

csp_struct! {
    /// `UserList (User*, ScreenName*)`.
    pub struct UserList {
        /// Users.
        user: Vec<User> = "User",
        /// Screen names.
        screen_name: Vec<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// 1.3 `UserIDList (UserID*)`.
    pub struct UserIdList {
        /// User ids.
        user_id: Vec<String> = "UserID",
    }
}

csp_struct! {
    /// 1.3 `ContactListIDList (ContactList*)`.
    pub struct ContactListIdList {
        /// Contact list ids.
        contact_list: Vec<String> = "ContactList",
    }
}

csp_struct! {
    /// `GroupList (GroupID+)`.
    pub struct GroupList {
        /// Group ids.
        group_id: Vec<String> = "GroupID",
    }
}

csp_struct! {
    /// `IDList (UserID*, ContactList*, GroupID*, ScreenName*, Domain*)`.
    pub struct IdList {
        /// User ids.
        user_id: Vec<String> = "UserID",
        /// Contact list ids.
        contact_list: Vec<String> = "ContactList",
        /// Group ids.
        group_id: Vec<String> = "GroupID",
        /// Screen names.
        screen_name: Vec<ScreenName> = "ScreenName",
        /// Domains.
        domain: Vec<String> = "Domain",
    }
}

csp_struct! {
    /// `URLList (URL+)`.
    pub struct UrlList {
        /// URLs.
        url: Vec<String> = "URL",
    }
}

csp_struct! {
    /// `NickName (Name, UserID)`.
    pub struct NickName {
        /// Display name.
        name: Option<String> = "Name",
        /// The contact.
        user_id: Option<String> = "UserID",
    }
}

csp_struct! {
    /// `NickList ((NickName | UserID)*)`; also `AddNickList`.
    pub struct NickList {
        /// Named contacts.
        nick_name: Vec<NickName> = "NickName",
        /// Bare contacts.
        user_id: Vec<String> = "UserID",
    }
}

csp_struct! {
    /// `RemoveNickList (UserID+)`.
    pub struct RemoveNickList {
        /// Contacts to remove.
        user_id: Vec<String> = "UserID",
    }
}

csp_struct! {
    /// `Property (Name, Value?)`.
    pub struct Property {
        /// Property name (see [`PropertyName`]).
        name: Option<PropertyName> = "Name",
        /// Its value.
        value: Option<String> = "Value",
    }
}

csp_enum! {
    /// Property names of contact lists, groups, own group properties and 1.3 public profiles
    /// (CSP-REFERENCE §2.3, §2.6, §2.1). `Accesstype` (libwbxml, Android) is accepted.
    pub enum PropertyName {
        /// Contact list display name.
        DisplayName = "DisplayName",
        /// Contact list default flag.
        Default = "Default",
        /// Group name.
        Name = "Name",
        /// Group topic.
        Topic = "Topic",
        /// Open or Restricted.
        AccessType = "AccessType" | "Accesstype",
        /// Public or Private.
        Type = "Type",
        /// T/F.
        PrivateMessaging = "PrivateMessaging",
        /// T/F.
        Searchable = "Searchable",
        /// Integer.
        MaxActiveUsers = "MaxActiveUsers",
        /// Integer, read-only.
        ActiveUsers = "ActiveUsers",
        /// T/F.
        AutoJoin = "AutoJoin",
        /// 1.2 T/F.
        AutoDelete = "AutoDelete",
        /// 1.2 seconds.
        Validity = "Validity",
        /// 1.2 T/F (own property).
        ShowId = "ShowID",
        /// Own privilege level.
        PrivilegeLevel = "PrivilegeLevel",
        /// 1.3.
        RequireInvitation = "RequireInvitation",
        /// 1.3.
        History = "History",
        /// 1.3.
        MinimumAge = "MinimumAge",
        /// 1.3 public profile: age.
        PpAge = "PP_AGE",
        /// 1.3 public profile: city.
        PpCity = "PP_CITY",
        /// 1.3 public profile: country.
        PpCountry = "PP_COUNTRY",
        /// 1.3 public profile: friendly name.
        PpFriendlyName = "PP_FRIENDLY_NAME",
        /// 1.3 public profile: free text.
        PpFreeText = "PP_FREE_TEXT",
        /// 1.3 public profile: gender.
        PpGender = "PP_GENDER",
        /// 1.3 public profile: intention.
        PpIntention = "PP_INTENTION",
        /// 1.3 public profile: interests and hobbies.
        PpInterests = "PP_INTERESTS",
        /// 1.3 public profile: marital status.
        PpMaritalStatus = "PP_MARITAL_STATUS",
    }
}

csp_struct! {
    /// `ContactListProperties`, `OwnProperties` (Property+).
    pub struct Properties {
        /// The properties.
        property: Vec<Property> = "Property",
    }
}

csp_struct! {
    /// `GroupProperties (Property+, WelcomeNote?)`.
    pub struct GroupProperties {
        /// The properties.
        property: Vec<Property> = "Property",
        /// Text shown to joiners.
        welcome_note: Option<ContentBlock> = "WelcomeNote",
    }
}

csp_struct! {
    /// `WelcomeNote`, `Logo`, 1.3 `Map`: `(ContentType, ContentSize?, ContentEncoding?, ContentData)`.
    pub struct ContentBlock {
        /// MIME type.
        content_type: Option<String> = "ContentType",
        /// Size in bytes.
        content_size: Option<u64> = "ContentSize",
        /// None or BASE64.
        content_encoding: Option<ContentEncoding> = "ContentEncoding",
        /// The content, byte for byte.
        content_data: Option<String> = "ContentData",
    }
}

csp_enum! {
    /// `ContentEncoding` / `AcceptedTransferEncoding`.
    pub enum ContentEncoding { None = "None", Base64 = "BASE64" }
}

csp_struct! {
    /// `EntityList`, `AddList`, `RemoveList` (UserID*, ScreenName*, GroupID*, ContactList* [1.3], ApplicationID* [1.3]).
    pub struct EntityList {
        /// Users.
        user_id: Vec<String> = "UserID",
        /// Screen names.
        screen_name: Vec<ScreenName> = "ScreenName",
        /// Groups.
        group_id: Vec<String> = "GroupID",
        /// 1.3 contact lists.
        contact_list: Vec<String> = "ContactList",
        /// 1.3 applications.
        application_id: Vec<String> = "ApplicationID",
    }
}

csp_struct! {
    /// 1.3 `SystemMessageList (SystemMessage*)`.
    pub struct SystemMessageList {
        /// Messages.
        system_message: Vec<SystemMessage> = "SystemMessage",
    }
}

csp_struct! {
    /// 1.3 `SystemMessage (SystemMessageID, RequiresResponse?, SystemMessageText?, AnswerOptions?, VerificationMechanism?)`.
    pub struct SystemMessage {
        /// Id.
        system_message_id: Option<String> = "SystemMessageID",
        /// Whether the user must answer.
        requires_response: Option<bool> = "RequiresResponse",
        /// Text.
        system_message_text: Option<String> = "SystemMessageText",
        /// Choices.
        answer_options: Option<AnswerOptions> = "AnswerOptions",
        /// How to verify.
        verification_mechanism: Option<VerificationMechanism> = "VerificationMechanism",
    }
}

csp_struct! {
    /// 1.3 `AnswerOptions (AnswerOption*)`.
    pub struct AnswerOptions {
        /// Options.
        answer_option: Vec<AnswerOption> = "AnswerOption",
    }
}

csp_struct! {
    /// 1.3 `AnswerOption (AnswerOptionID, AnswerOptionText)`.
    pub struct AnswerOption {
        /// Id.
        answer_option_id: Option<u32> = "AnswerOptionID",
        /// Text.
        answer_option_text: Option<String> = "AnswerOptionText",
    }
}

csp_struct! {
    /// 1.3 `VerificationMechanism (InText | URL)`.
    pub struct VerificationMechanism {
        /// Inline.
        in_text: Option<String> = "InText",
        /// By URL.
        url: Option<String> = "URL",
    }
}

csp_struct! {
    /// 1.3 `SystemMessageResponseList (SystemMessageResponse*)`.
    pub struct SystemMessageResponseList {
        /// Answers.
        system_message_response: Vec<SystemMessageResponse> = "SystemMessageResponse",
    }
}

csp_struct! {
    /// 1.3 `SystemMessageResponse (SystemMessageID, ChosenOptionID?, VerificationKey?)`.
    pub struct SystemMessageResponse {
        /// Which message.
        system_message_id: Option<String> = "SystemMessageID",
        /// Chosen option.
        chosen_option_id: Option<u32> = "ChosenOptionID",
        /// Verification key.
        verification_key: Option<String> = "VerificationKey",
    }
}
