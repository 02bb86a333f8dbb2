//! The `Primitive` enum: every CSP 1.1/1.2/1.3 primitive (CSP-REFERENCE §2.1–§2.6) with
//! its element name(s). Names listed after `|` are accepted spellings; the first is written.

use super::access::*;
use super::access13::*;
use super::common::Status;
use super::fundamental::*;
use super::group::*;
use super::im::*;
use super::macros::csp_primitives;
use super::presence::*;
use super::xml::RawElement;

csp_primitives! {
    // §2.1 session and access
    /// `Status`.
    Status(Status) = "Status",
    /// `Login-Request`.
    LoginRequest(LoginRequest) = "Login-Request",
    /// `Login-Response`.
    LoginResponse(LoginResponse) = "Login-Response",
    /// `Logout-Request`.
    LogoutRequest(LogoutRequest) = "Logout-Request",
    /// `Disconnect`.
    Disconnect(Disconnect) = "Disconnect",
    /// `KeepAlive-Request`.
    KeepAliveRequest(KeepAliveRequest) = "KeepAlive-Request",
    /// `KeepAlive-Response`.
    KeepAliveResponse(KeepAliveResponse) = "KeepAlive-Response",
    /// `Polling-Request`.
    PollingRequest(PollingRequest) = "Polling-Request",
    /// `GetSPInfo-Request`.
    GetSpInfoRequest(GetSpInfoRequest) = "GetSPInfo-Request",
    /// `GetSPInfo-Response`.
    GetSpInfoResponse(GetSpInfoResponse) = "GetSPInfo-Response",
    /// `ClientCapability-Request`.
    ClientCapabilityRequest(ClientCapabilityRequest) = "ClientCapability-Request",
    /// `ClientCapability-Response`.
    ClientCapabilityResponse(ClientCapabilityResponse) = "ClientCapability-Response",
    /// `Service-Request`.
    ServiceRequest(ServiceRequest) = "Service-Request",
    /// `Service-Response`.
    ServiceResponse(ServiceResponse) = "Service-Response",
    /// `VerifyID-Request` (1.2).
    VerifyIdRequest(VerifyIdRequest) = "VerifyID-Request",
    /// `Extended-Request` (1.2): vendor payload, kept whole.
    ExtendedRequest(RawElement) = "Extended-Request",
    /// `Extended-Response` (1.2): vendor payload, kept whole.
    ExtendedResponse(RawElement) = "Extended-Response",
    /// `WV-CSP-VersionDiscovery-Request` (1.2).
    VersionDiscoveryRequest(VersionDiscoveryRequest) = "WV-CSP-VersionDiscovery-Request" | "WV-CSP-NSDiscovery-Request",
    /// `WV-CSP-VersionDiscovery-Response` (1.2).
    VersionDiscoveryResponse(VersionDiscoveryResponse) = "WV-CSP-VersionDiscovery-Response" | "WV-CSP-NSDiscovery-Response",
    /// `GetSegment-Request` (1.3).
    GetSegmentRequest(SegmentRequest) = "GetSegment-Request",
    /// `GetSegment-Response` (1.3).
    GetSegmentResponse(GetSegmentResponse) = "GetSegment-Response",
    /// `DropSegment-Request` (1.3).
    DropSegmentRequest(SegmentRequest) = "DropSegment-Request",
    // §2.1 (1.3)
    /// `SubscribeNotification-Request` (1.3).
    SubscribeNotificationRequest(NotificationSubscription) = "SubscribeNotification-Request",
    /// `UnsubscribeNotification-Request` (1.3).
    UnsubscribeNotificationRequest(NotificationSubscription) = "UnsubscribeNotification-Request",
    /// `Notification-Request` (1.3).
    NotificationRequest(NotificationRequest) = "Notification-Request",
    /// `SystemMessage-Request` (1.3).
    SystemMessageRequest(SystemMessageRequest) = "SystemMessage-Request",
    /// `SystemMessage-User` (1.3).
    SystemMessageUser(SystemMessageUser) = "SystemMessage-User",
    /// `GetPublicProfile-Request` (1.3).
    GetPublicProfileRequest(GetPublicProfileRequest) = "GetPublicProfile-Request",
    /// `GetPublicProfile-Response` (1.3).
    GetPublicProfileResponse(GetPublicProfileResponse) = "GetPublicProfile-Response",
    /// `UpdatePublicProfile-Request` (1.3).
    UpdatePublicProfileRequest(UpdatePublicProfileRequest) = "UpdatePublicProfile-Request",
    /// `GetMap-Request` (1.3).
    GetMapRequest(GetMapRequest) = "GetMap-Request",
    /// `GetMap-Response` (1.3).
    GetMapResponse(GetMapResponse) = "GetMap-Response",
    // §2.2 search and invitations
    /// `Search-Request`.
    SearchRequest(SearchRequest) = "Search-Request",
    /// `Search-Response`.
    SearchResponse(SearchResponse) = "Search-Response",
    /// `StopSearch-Request`.
    StopSearchRequest(StopSearchRequest) = "StopSearch-Request",
    /// `Invite-Request`.
    InviteRequest(InviteRequest) = "Invite-Request",
    /// `InviteUser-Request`.
    InviteUserRequest(InviteRequest) = "InviteUser-Request",
    /// `InviteUser-Response`.
    InviteUserResponse(InviteUserResponse) = "InviteUser-Response",
    /// `Invite-Response`.
    InviteResponse(InviteResponse) = "Invite-Response",
    /// `CancelInvite-Request`.
    CancelInviteRequest(CancelInviteRequest) = "CancelInvite-Request",
    /// `CancelInviteUser-Request`.
    CancelInviteUserRequest(CancelInviteRequest) = "CancelInviteUser-Request",
    // §2.3 presence: contact lists
    /// `GetList-Request`.
    GetListRequest(GetListRequest) = "GetList-Request",
    /// `GetList-Response`.
    GetListResponse(GetListResponse) = "GetList-Response",
    /// `CreateList-Request`.
    CreateListRequest(CreateListRequest) = "CreateList-Request",
    /// `CreateList-Response` (1.3).
    CreateListResponse(CreateListResponse) = "CreateList-Response",
    /// `DeleteList-Request`.
    DeleteListRequest(DeleteListRequest) = "DeleteList-Request",
    /// `ListManage-Request`.
    ListManageRequest(ListManageRequest) = "ListManage-Request",
    /// `ListManage-Response`.
    ListManageResponse(ListManageResponse) = "ListManage-Response",
    // §2.4 presence: subscription, delivery, attribute lists, authorisation, watchers
    /// `SubscribePresence-Request`.
    SubscribePresenceRequest(SubscribePresenceRequest) = "SubscribePresence-Request",
    /// `UnsubscribePresence-Request`.
    UnsubscribePresenceRequest(UnsubscribePresenceRequest) = "UnsubscribePresence-Request",
    /// `PresenceNotification-Request`.
    PresenceNotificationRequest(PresenceNotificationRequest) = "PresenceNotification-Request",
    /// `GetPresence-Request`.
    GetPresenceRequest(GetPresenceRequest) = "GetPresence-Request",
    /// `GetPresence-Response`.
    GetPresenceResponse(GetPresenceResponse) = "GetPresence-Response",
    /// `UpdatePresence-Request`.
    UpdatePresenceRequest(UpdatePresenceRequest) = "UpdatePresence-Request",
    /// `CreateAttributeList-Request`.
    CreateAttributeListRequest(CreateAttributeListRequest) = "CreateAttributeList-Request",
    /// `DeleteAttributeList-Request`.
    DeleteAttributeListRequest(DeleteAttributeListRequest) = "DeleteAttributeList-Request",
    /// `GetAttributeList-Request`.
    GetAttributeListRequest(GetAttributeListRequest) = "GetAttributeList-Request",
    /// `GetAttributeList-Response`.
    GetAttributeListResponse(GetAttributeListResponse) = "GetAttributeList-Response",
    /// `PresenceAuth-Request` (≤ 1.2).
    PresenceAuthRequest(PresenceAuthRequest) = "PresenceAuth-Request",
    /// `PresenceAuth-User` (≤ 1.2).
    PresenceAuthUser(PresenceAuthUser) = "PresenceAuth-User",
    /// `CancelAuth-Request` (≤ 1.2).
    CancelAuthRequest(CancelAuthRequest) = "CancelAuth-Request",
    /// `GetReactiveAuthStatus-Request` (1.2).
    GetReactiveAuthStatusRequest(GetReactiveAuthStatusRequest) = "GetReactiveAuthStatus-Request",
    /// `GetReactiveAuthStatus-Response` (1.2).
    GetReactiveAuthStatusResponse(GetReactiveAuthStatusResponse) = "GetReactiveAuthStatus-Response",
    /// `GetWatcherList-Request`.
    GetWatcherListRequest(GetWatcherListRequest) = "GetWatcherList-Request",
    /// `GetWatcherList-Response`.
    GetWatcherListResponse(GetWatcherListResponse) = "GetWatcherList-Response",
    // §2.5 instant messaging
    /// `SendMessage-Request`.
    SendMessageRequest(SendMessageRequest) = "SendMessage-Request",
    /// `SendMessage-Response`.
    SendMessageResponse(SendMessageResponse) = "SendMessage-Response",
    /// `NewMessage`.
    NewMessage(NewMessage) = "NewMessage",
    /// `MessageDelivered`.
    MessageDelivered(MessageRef) = "MessageDelivered",
    /// `MessageNotification`.
    MessageNotification(MessageNotification) = "MessageNotification",
    /// `GetMessage-Request`.
    GetMessageRequest(MessageRef) = "GetMessage-Request",
    /// `GetMessage-Response`.
    GetMessageResponse(NewMessage) = "GetMessage-Response",
    /// `GetMessageList-Request`.
    GetMessageListRequest(GetMessageListRequest) = "GetMessageList-Request",
    /// `GetMessageList-Response`.
    GetMessageListResponse(GetMessageListResponse) = "GetMessageList-Response",
    /// `RejectMessage-Request`.
    RejectMessageRequest(RejectMessageRequest) = "RejectMessage-Request",
    /// `SetDeliveryMethod-Request`.
    SetDeliveryMethodRequest(SetDeliveryMethodRequest) = "SetDeliveryMethod-Request",
    /// `DeliveryReport-Request`.
    DeliveryReportRequest(DeliveryReportRequest) = "DeliveryReport-Request",
    /// `ForwardMessage-Request`.
    ForwardMessageRequest(ForwardMessageRequest) = "ForwardMessage-Request",
    /// `ForwardMessage-Response` (1.3).
    ForwardMessageResponse(MessageRef) = "ForwardMessage-Response",
    /// `GetBlockedList-Request`.
    GetBlockedListRequest(GetBlockedListRequest) = "GetBlockedList-Request",
    /// `GetBlockedList-Response`.
    GetBlockedListResponse(BlockLists) = "GetBlockedList-Response",
    /// `BlockEntity-Request` (1.1 also `BlockUser-Request`).
    BlockEntityRequest(BlockLists) = "BlockEntity-Request" | "BlockUser-Request",
    /// `ExtendConversation-Request` (1.3).
    ExtendConversationRequest(ExtendConversationRequest) = "ExtendConversation-Request",
    /// `ExtendConversation-Response` (1.3).
    ExtendConversationResponse(ExtendConversationResponse) = "ExtendConversation-Response",
    // §2.6 groups
    /// `CreateGroup-Request`.
    CreateGroupRequest(CreateGroupRequest) = "CreateGroup-Request",
    /// `DeleteGroup-Request`.
    DeleteGroupRequest(GroupRequest) = "DeleteGroup-Request",
    /// `JoinGroup-Request`.
    JoinGroupRequest(JoinGroupRequest) = "JoinGroup-Request",
    /// `JoinGroup-Response`.
    JoinGroupResponse(JoinGroupResponse) = "JoinGroup-Response",
    /// `LeaveGroup-Request`.
    LeaveGroupRequest(GroupRequest) = "LeaveGroup-Request",
    /// `LeaveGroup-Response`.
    LeaveGroupResponse(LeaveGroupResponse) = "LeaveGroup-Response",
    /// `GetGroupMembers-Request`.
    GetGroupMembersRequest(GroupRequest) = "GetGroupMembers-Request",
    /// `GetGroupMembers-Response`.
    GetGroupMembersResponse(GetGroupMembersResponse) = "GetGroupMembers-Response",
    /// `AddGroupMembers-Request`.
    AddGroupMembersRequest(GroupMembersRequest) = "AddGroupMembers-Request",
    /// `RemoveGroupMembers-Request`.
    RemoveGroupMembersRequest(GroupMembersRequest) = "RemoveGroupMembers-Request",
    /// `MemberAccess-Request`.
    MemberAccessRequest(MemberAccessRequest) = "MemberAccess-Request",
    /// `GetGroupProps-Request`.
    GetGroupPropsRequest(GroupRequest) = "GetGroupProps-Request",
    /// `GetGroupProps-Response`.
    GetGroupPropsResponse(GetGroupPropsResponse) = "GetGroupProps-Response",
    /// `SetGroupProps-Request`.
    SetGroupPropsRequest(SetGroupPropsRequest) = "SetGroupProps-Request",
    /// `RejectList-Request`.
    RejectListRequest(RejectListRequest) = "RejectList-Request",
    /// `RejectList-Response`.
    RejectListResponse(RejectListResponse) = "RejectList-Response",
    /// `SubscribeGroupNotice-Request`.
    SubscribeGroupNoticeRequest(SubscribeGroupNoticeRequest) = "SubscribeGroupNotice-Request",
    /// `SubscribeGroupNotice-Response`.
    SubscribeGroupNoticeResponse(SubscribeGroupNoticeResponse) = "SubscribeGroupNotice-Response",
    /// `GroupChangeNotice`.
    GroupChangeNotice(GroupChangeNotice) = "GroupChangeNotice",
    /// `GetJoinedUsers-Request` (1.2).
    GetJoinedUsersRequest(GroupRequest) = "GetJoinedUsers-Request",
    /// `GetJoinedUsers-Response` (1.2).
    GetJoinedUsersResponse(GetJoinedUsersResponse) = "GetJoinedUsers-Response",
}

impl Primitive {
    /// The `Result` a primitive carries, for the primitives that have one.
    pub fn result(&self) -> Option<&super::common::CspResult> {
        match self {
            Primitive::Status(p) => p.result.as_ref(),
            Primitive::LoginResponse(p) => p.result.as_ref(),
            Primitive::Disconnect(p) => p.result.as_ref(),
            Primitive::KeepAliveResponse(p) => p.result.as_ref(),
            Primitive::GetPublicProfileResponse(p) => p.result.as_ref(),
            Primitive::ListManageResponse(p) => p.result.as_ref(),
            Primitive::GetPresenceResponse(p) => p.result.as_ref(),
            Primitive::GetAttributeListResponse(p) => p.result.as_ref(),
            Primitive::SendMessageResponse(p) => p.result.as_ref(),
            Primitive::DeliveryReportRequest(p) => p.result.as_ref(),
            Primitive::ExtendConversationResponse(p) => p.result.as_ref(),
            Primitive::LeaveGroupResponse(p) => p.result.as_ref(),
            _ => None,
        }
    }

    /// The status code of [`Primitive::result`], if any.
    pub fn result_code(&self) -> Option<u32> {
        self.result().map(super::common::CspResult::code)
    }

    /// Writes element `name` holding this primitive alone, exactly as
    /// `TransactionContent::new(p).encode(name, w)` does, without copying the primitive (a
    /// copy would pull `Clone` of the whole model into the npm package).
    pub fn encode_as_content(&self, name: &str, w: &mut super::xml::XmlOut) {
        w.open(name);
        w.namespace(super::Ns::Trc.uri(w.version));
        self.encode_into(w);
        w.close(name);
    }
}
