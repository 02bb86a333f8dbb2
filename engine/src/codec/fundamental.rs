//! Fundamental primitives (CSP-REFERENCE §2.2): search and invitations.
//!
//! `SearchPairList` holds one `(SearchElement, SearchString)` pair directly in 1.1/1.2 and
//! `SearchPair` wrappers in 1.3; Baraza also sends several unwrapped pairs in one list. All
//! three forms are read, and each pair is written back in the form it came in.

use super::common::{GroupList, Recipient, ScreenName, Sender, UrlList, UserList};
use super::macros::{csp_enum, csp_struct};
use super::presence_attrs::PresenceSubList;
use super::xml::{Child, DecodeError, Field, RawElement, XmlIn, XmlOut, XmlValue};

csp_enum! {
    /// `SearchElement`: what a search string is matched against.
    pub enum SearchElement {
        /// User id.
        UserId = "USER_ID",
        /// First name.
        UserFirstName = "USER_FIRST_NAME",
        /// Last name.
        UserLastName = "USER_LAST_NAME",
        /// E-mail address.
        UserEmailAddress = "USER_EMAIL_ADDRESS",
        /// Alias.
        UserAlias = "USER_ALIAS",
        /// Online status (T/F).
        UserOnlineStatus = "USER_ONLINE_STATUS",
        /// Mobile number.
        UserMobileNumber = "USER_MOBILE_NUMBER",
        /// Group id.
        GroupId = "GROUP_ID",
        /// Group name.
        GroupName = "GROUP_NAME",
        /// Group topic.
        GroupTopic = "GROUP_TOPIC",
        /// Groups a user has joined.
        GroupUserIdJoined = "GROUP_USER_ID_JOINED",
        /// Groups a user owns.
        GroupUserIdOwner = "GROUP_USER_ID_OWNER",
        /// 1.2 groups a user auto-joins.
        GroupUserIdAutojoin = "GROUP_USER_ID_AUTOJOIN",
        /// 1.3 city.
        UserCity = "USER_CITY",
        /// 1.3 country.
        UserCountry = "USER_COUNTRY",
        /// 1.3 friendly name.
        UserFriendlyName = "USER_FRIENDLY_NAME",
        /// 1.3 gender.
        UserGender = "USER_GENDER",
        /// 1.3 intention.
        UserIntention = "USER_INTENTION",
        /// 1.3 interests and hobbies.
        UserInterestsHobbies = "USER_INTERESTS_HOBBIES",
        /// 1.3 marital status.
        UserMaritalStatus = "USER_MARITAL_STATUS",
        /// 1.3 maximum age.
        UserAgeMax = "USER_AGE_MAX",
        /// 1.3 minimum age.
        UserAgeMin = "USER_AGE_MIN",
    }
}

csp_enum! {
    /// `InviteType`: what the invitation is for.
    pub enum InviteType {
        /// Join a group.
        Group = "GR",
        /// Instant messaging.
        Im = "IM",
        /// Presence.
        Presence = "PR",
        /// Shared content.
        SharedContent = "SC",
        /// 1.2 group membership.
        GroupMembership = "GM",
        /// 1.2 user.
        User = "US",
        /// 1.3 application.
        Application = "AP",
        /// 1.3 extend conversation.
        ExtendConversation = "EC",
        /// 1.3 extend group.
        ExtendGroup = "EG",
    }
}

impl InviteType {
    /// Whether the invitation is to a group (`GR`, `GM`, `EC`, `EG`; Baraza).
    pub fn is_group(&self) -> bool {
        matches!(
            self,
            InviteType::Group
                | InviteType::GroupMembership
                | InviteType::ExtendConversation
                | InviteType::ExtendGroup
        )
    }
}

csp_struct! {
    /// `SearchPair (SearchElement, SearchString, PairID? [1.3])`.
    pub struct SearchPair {
        /// Field searched.
        search_element: Option<SearchElement> = "SearchElement",
        /// Value looked for.
        search_string: Option<String> = "SearchString",
        /// 1.3 id used by AdvancedCriteria.
        pair_id: Option<u32> = "PairID",
    }
}

impl SearchPair {
    /// A pair without an id.
    pub fn new(element: SearchElement, string: impl Into<String>) -> Self {
        SearchPair {
            search_element: Some(element),
            search_string: Some(string.into()),
            ..Default::default()
        }
    }
}

/// `SearchPairList`: 1.1/1.2 `(SearchElement, SearchString)`, 1.3 `(SearchPair*)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPairList {
    /// Pairs written without a wrapper (1.1/1.2 form; Baraza writes several this way).
    pub direct: Vec<SearchPair>,
    /// 1.3 `SearchPair` wrappers.
    pub search_pair: Vec<SearchPair>,
    /// Children this model does not know, kept in document order.
    pub unknown: Vec<RawElement>,
}

impl SearchPairList {
    /// Every pair, unwrapped ones first.
    pub fn pairs(&self) -> impl Iterator<Item = &SearchPair> {
        self.direct.iter().chain(self.search_pair.iter())
    }

    /// The pair that takes the next unwrapped child of kind `has`: the last one, unless it
    /// already has that child.
    fn open_pair(&mut self, has: fn(&SearchPair) -> bool) -> Option<&mut SearchPair> {
        if self.direct.last().is_none_or(has) {
            self.direct.push(SearchPair::default());
        }
        self.direct.last_mut()
    }
}

impl XmlValue for SearchPairList {
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        let mut v = SearchPairList::default();
        if child.empty {
            return Ok(Some(v));
        }
        while let Some(c) = r.next_child(name)? {
            match c.local() {
                "SearchPair" => v.search_pair.decode_field(r, "SearchPair", &c)?,
                "SearchElement" => {
                    if let Some(e) = SearchElement::decode(r, "SearchElement", &c)?
                        && let Some(p) = v.open_pair(|p| {
                            // Written in the order Element, String, PairID: a pair that has
                            // any of them already is complete for an Element.
                            p.search_element.is_some()
                                || p.search_string.is_some()
                                || p.pair_id.is_some()
                        })
                    {
                        p.search_element = Some(e);
                    }
                }
                "SearchString" => {
                    if let Some(s) = String::decode(r, "SearchString", &c)?
                        && let Some(p) =
                            v.open_pair(|p| p.search_string.is_some() || p.pair_id.is_some())
                    {
                        p.search_string = Some(s);
                    }
                }
                "PairID" => {
                    if let Some(id) = u32::decode(r, "PairID", &c)?
                        && let Some(p) = v.open_pair(|p| p.pair_id.is_some())
                    {
                        p.pair_id = Some(id);
                    }
                }
                _ => v.unknown.push(r.capture(&c)?),
            }
        }
        Ok(Some(v))
    }

    fn encode(&self, name: &str, w: &mut XmlOut) {
        w.open(name);
        for p in &self.direct {
            p.search_element.encode_field("SearchElement", w);
            p.search_string.encode_field("SearchString", w);
            p.pair_id.encode_field("PairID", w);
            for u in &p.unknown {
                u.encode(w);
            }
        }
        self.search_pair.encode_field("SearchPair", w);
        for u in &self.unknown {
            u.encode(w);
        }
        w.close(name);
    }
}

csp_struct! {
    /// `Search-Request (SearchPairList*, AdvancedCriteria? [1.3], SearchLimit?, SearchID?, SearchIndex?)`:
    /// a first call carries pairs and a limit, a continuation the SearchID and SearchIndex.
    pub struct SearchRequest {
        /// Criteria (all must match).
        search_pair_list: Vec<SearchPairList> = "SearchPairList",
        /// 1.3 expression over PairIDs (syntax unknown).
        advanced_criteria: Option<String> = "AdvancedCriteria",
        /// Most results per answer.
        search_limit: Option<u32> = "SearchLimit",
        /// Search being continued.
        search_id: Option<u32> = "SearchID",
        /// Where to continue.
        search_index: Option<u32> = "SearchIndex",
    }
}

csp_struct! {
    /// `SearchResult (UserList?, GroupList?)`.
    pub struct SearchResult {
        /// Users found.
        user_list: Option<UserList> = "UserList",
        /// Groups found.
        group_list: Option<GroupList> = "GroupList",
    }
}

csp_struct! {
    /// `Search-Response (SearchID?, SearchFindings, CompletionFlag, SearchIndex, SearchResult?)`.
    pub struct SearchResponse {
        /// Id for continuing the search.
        search_id: Option<u32> = "SearchID",
        /// Total number of findings.
        search_findings: Option<u32> = "SearchFindings",
        /// T = no more results.
        completion_flag: Option<bool> = "CompletionFlag",
        /// Index of the next result (absent in Baraza once complete).
        search_index: Option<u32> = "SearchIndex",
        /// This page of results.
        search_result: Option<SearchResult> = "SearchResult",
    }
}

csp_struct! {
    /// `StopSearch-Request (SearchID)`.
    pub struct StopSearchRequest {
        /// The search to end.
        search_id: Option<u32> = "SearchID",
    }
}

csp_struct! {
    /// `Invite-Request` (client → server) and `InviteUser-Request` (server → invitee):
    /// `(InviteID, InviteType, Sender? [1.3 in Invite-Request], Recipient, ApplicationID? [1.3], GroupID?, PresenceSubList?, URLList?, InviteNote?, ScreenName?, Validity?)`.
    /// Recipient is optional in InviteUser-Request (1.3); Sender is required there.
    pub struct InviteRequest {
        /// Invitation id.
        invite_id: Option<String> = "InviteID",
        /// What to.
        invite_type: Option<InviteType> = "InviteType",
        /// Inviter.
        sender: Option<Sender> = "Sender",
        /// Invitees.
        recipient: Option<Recipient> = "Recipient",
        /// 1.3 application (InviteType AP).
        application_id: Option<String> = "ApplicationID",
        /// Group (InviteType GR, GM).
        group_id: Option<String> = "GroupID",
        /// Presence attributes offered (InviteType PR).
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
        /// Shared content (InviteType SC).
        url_list: Option<UrlList> = "URLList",
        /// Free text.
        invite_note: Option<String> = "InviteNote",
        /// Inviter's screen name in the group.
        screen_name: Option<ScreenName> = "ScreenName",
        /// Lifetime, seconds.
        validity: Option<u32> = "Validity",
    }
}

csp_struct! {
    /// `InviteUser-Response (InviteID, Acceptance, Sender, Recipient? [1.3], ResponseNote?, ScreenName?)`:
    /// the invitee's answer (a new client transaction).
    pub struct InviteUserResponse {
        /// Invitation id.
        invite_id: Option<String> = "InviteID",
        /// T = accepted.
        acceptance: Option<bool> = "Acceptance",
        /// The invitee.
        sender: Option<Sender> = "Sender",
        /// 1.3 the inviter.
        recipient: Option<Recipient> = "Recipient",
        /// Free text.
        response_note: Option<String> = "ResponseNote",
        /// Screen name to join with.
        screen_name: Option<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// `Invite-Response (InviteID, Acceptance, Sender, Recipient? [1.3], ResponseNote? [≤ 1.2], InviteNote? [1.3], ScreenName? [1.3])`:
    /// the invitee's answer relayed to the inviter.
    pub struct InviteResponse {
        /// Invitation id.
        invite_id: Option<String> = "InviteID",
        /// T = accepted.
        acceptance: Option<bool> = "Acceptance",
        /// The invitee.
        sender: Option<Sender> = "Sender",
        /// 1.3 the inviter.
        recipient: Option<Recipient> = "Recipient",
        /// ≤ 1.2 the invitee's note.
        response_note: Option<String> = "ResponseNote",
        /// 1.3 the invitee's note.
        invite_note: Option<String> = "InviteNote",
        /// 1.3 the invitee's screen name.
        screen_name: Option<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// `CancelInvite-Request` (client → server) and `CancelInviteUser-Request` (server → invitee):
    /// `(InviteID, Sender? [1.3; required in CancelInviteUser], Recipient?, InviteNote?, ApplicationID? [1.3], GroupID? [1.3], PresenceSubList? [1.3], URLList?, ScreenName?)`.
    pub struct CancelInviteRequest {
        /// Invitation id.
        invite_id: Option<String> = "InviteID",
        /// Inviter.
        sender: Option<Sender> = "Sender",
        /// Invitees.
        recipient: Option<Recipient> = "Recipient",
        /// Free text.
        invite_note: Option<String> = "InviteNote",
        /// 1.3 application.
        application_id: Option<String> = "ApplicationID",
        /// 1.3 group.
        group_id: Option<String> = "GroupID",
        /// 1.3 presence attributes.
        presence_sub_list: Option<PresenceSubList> = "PresenceSubList",
        /// Shared content.
        url_list: Option<UrlList> = "URLList",
        /// Inviter's screen name.
        screen_name: Option<ScreenName> = "ScreenName",
    }
}
