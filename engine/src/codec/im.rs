//! Instant-messaging primitives (CSP-REFERENCE §2.5): send, push and notify delivery,
//! message lists, forwarding, block and grant lists, 1.3 conversation extension.
//!
//! `ContentData` is kept byte for byte (no trimming). The block primitive is read under both
//! of its names (`BlockUser-Request`, `BlockEntity-Request`) and written as
//! `BlockEntity-Request`; the 1.1/1.2 `InUse` flags inside the lists and the 1.3
//! `BlockListInUse` / `GrantListInUse` flags beside them are both kept.

use super::capability::DeliveryMethod;
use super::common::{
    ClientId, ContentBlock, ContentEncoding, CspResult, EntityList, Recipient, ScreenName, Sender,
    UserIdList,
};
use super::macros::{csp_enum, csp_struct};
use super::xml::RawElement;

csp_enum! {
    /// 1.3 `Size` in `Font`.
    pub enum FontSize {
        /// Tiny (1.3 value token; meaning presumed).
        Tiny = "Tiny",
        /// Small.
        Small = "Small",
        /// Medium.
        Medium = "Medium",
        /// Big.
        Big = "Big",
        /// Huge.
        Huge = "Huge",
    }
}

csp_enum! {
    /// 1.3 `Style` in `Font`.
    pub enum FontStyle {
        /// Bold.
        Bold = "Bold",
        /// Italic.
        Italic = "Italic",
        /// Underlined.
        Underline = "Underline",
    }
}

csp_enum! {
    /// 1.3 `Color` in `Font`: the 16 HTML colour names.
    pub enum Color {
        /// Black.
        Black = "Black",
        /// Silver.
        Silver = "Silver",
        /// Gray.
        Gray = "Gray",
        /// White.
        White = "White",
        /// Maroon.
        Maroon = "Maroon",
        /// Red.
        Red = "Red",
        /// Purple.
        Purple = "Purple",
        /// Fuchsia.
        Fuchsia = "Fuchsia",
        /// Green.
        Green = "Green",
        /// Lime.
        Lime = "Lime",
        /// Olive.
        Olive = "Olive",
        /// Yellow.
        Yellow = "Yellow",
        /// Navy.
        Navy = "Navy",
        /// Blue.
        Blue = "Blue",
        /// Teal.
        Teal = "Teal",
        /// Aqua.
        Aqua = "Aqua",
    }
}

csp_struct! {
    /// 1.3 `Font (Size?, Style*, Color?)`: rich-text attributes of a message.
    pub struct Font {
        /// Size.
        size: Option<FontSize> = "Size",
        /// Styles.
        style: Vec<FontStyle> = "Style",
        /// Colour.
        color: Option<Color> = "Color",
    }
}

csp_struct! {
    /// `MessageInfo (MessageID?, MessageURI?, ContentType?, ContentEncoding?, ContentSize, ContentName? [1.3], Recipient, Sender, DateTime?, Font? [1.3], Validity?, ExtBlockETEM* [1.3])`.
    pub struct MessageInfo {
        /// Server-assigned id.
        message_id: Option<String> = "MessageID",
        /// Where the content can be fetched.
        message_uri: Option<String> = "MessageURI",
        /// MIME type.
        content_type: Option<String> = "ContentType",
        /// None or BASE64.
        content_encoding: Option<ContentEncoding> = "ContentEncoding",
        /// Size in bytes.
        content_size: Option<u64> = "ContentSize",
        /// 1.3 file name of the content.
        content_name: Option<String> = "ContentName",
        /// Addressees.
        recipient: Option<Recipient> = "Recipient",
        /// Author.
        sender: Option<Sender> = "Sender",
        /// When sent (kept as written; several forms exist).
        date_time: Option<String> = "DateTime",
        /// 1.3 rich text.
        font: Option<Font> = "Font",
        /// Lifetime, seconds.
        validity: Option<u32> = "Validity",
        /// 1.3 extension blocks (own namespace), kept whole.
        ext_block_etem: Vec<RawElement> = "ExtBlockETEM",
    }
}

csp_struct! {
    /// `SendMessage-Request (DeliveryReport, MessageInfo, ContentData?)`.
    pub struct SendMessageRequest {
        /// T = send a DeliveryReport-Request later.
        delivery_report: Option<bool> = "DeliveryReport",
        /// Envelope.
        message_info: Option<MessageInfo> = "MessageInfo",
        /// The content, byte for byte.
        content_data: Option<String> = "ContentData",
    }
}

csp_struct! {
    /// `SendMessage-Response (Result, MessageID?)`.
    pub struct SendMessageResponse {
        /// Outcome.
        result: Option<CspResult> = "Result",
        /// Id given to the message.
        message_id: Option<String> = "MessageID",
    }
}

csp_struct! {
    /// `NewMessage (MessageInfo, ContentData?)` (push delivery) and
    /// `GetMessage-Response (MessageInfo, ContentData?)`.
    pub struct NewMessage {
        /// Envelope.
        message_info: Option<MessageInfo> = "MessageInfo",
        /// The content, byte for byte.
        content_data: Option<String> = "ContentData",
    }
}

csp_struct! {
    /// One message id: `MessageDelivered (MessageID)`, `GetMessage-Request (MessageID)`,
    /// 1.3 `ForwardMessage-Response (MessageID)`.
    pub struct MessageRef {
        /// The message.
        message_id: Option<String> = "MessageID",
    }
}

csp_struct! {
    /// `MessageNotification (MessageInfo)` (notify delivery).
    pub struct MessageNotification {
        /// Envelope of the waiting message.
        message_info: Option<MessageInfo> = "MessageInfo",
    }
}

csp_struct! {
    /// `GetMessageList-Request (GroupID?, MessageCount?)`.
    pub struct GetMessageListRequest {
        /// Group history instead of personal messages.
        group_id: Option<String> = "GroupID",
        /// Most messages to list.
        message_count: Option<u32> = "MessageCount",
    }
}

csp_struct! {
    /// 1.3 `MessageInfoList (MessageInfo*)`.
    pub struct MessageInfoList {
        /// Envelopes.
        message_info: Vec<MessageInfo> = "MessageInfo",
    }
}

csp_struct! {
    /// `GetMessageList-Response (MessageInfo* | [1.3] (MessageInfoList?, MessageTotalCount?))`.
    pub struct GetMessageListResponse {
        /// ≤ 1.2 envelopes.
        message_info: Vec<MessageInfo> = "MessageInfo",
        /// 1.3 envelopes.
        message_info_list: Option<MessageInfoList> = "MessageInfoList",
        /// 1.3 messages available when MessageCount cut the list.
        message_total_count: Option<u32> = "MessageTotalCount",
    }
}

csp_struct! {
    /// `RejectMessage-Request (MessageID+)`.
    pub struct RejectMessageRequest {
        /// Messages to discard.
        message_id: Vec<String> = "MessageID",
    }
}

csp_struct! {
    /// `SetDeliveryMethod-Request (DeliveryMethod, AcceptedContentLength?, GroupID?, GroupContentLimit? [1.3])`.
    pub struct SetDeliveryMethodRequest {
        /// P or N.
        delivery_method: Option<DeliveryMethod> = "DeliveryMethod",
        /// Push limit in bytes.
        accepted_content_length: Option<u32> = "AcceptedContentLength",
        /// Only for this group.
        group_id: Option<String> = "GroupID",
        /// 1.3 per-group limit.
        group_content_limit: Option<u32> = "GroupContentLimit",
    }
}

csp_struct! {
    /// `DeliveryReport-Request (Result, DeliveryTime? [1.2], MessageInfo)`.
    pub struct DeliveryReportRequest {
        /// Delivery outcome.
        result: Option<CspResult> = "Result",
        /// When delivered (kept as written).
        delivery_time: Option<String> = "DeliveryTime",
        /// The message concerned.
        message_info: Option<MessageInfo> = "MessageInfo",
    }
}

csp_struct! {
    /// `ForwardMessage-Request (MessageID, Sender? [1.3], Recipient)`.
    pub struct ForwardMessageRequest {
        /// The message to forward.
        message_id: Option<String> = "MessageID",
        /// 1.3 forwarding user.
        sender: Option<Sender> = "Sender",
        /// New addressees.
        recipient: Option<Recipient> = "Recipient",
    }
}

csp_struct! {
    /// `GetBlockedList-Request` (EMPTY).
    pub struct GetBlockedListRequest {}
}

csp_struct! {
    /// `BlockList` / `GrantList (InUse? [≤ 1.2], (EntityList | (AddList?, RemoveList?))?)`.
    pub struct AccessList {
        /// ≤ 1.2: whether the list is applied.
        in_use: Option<bool> = "InUse",
        /// The whole list (responses).
        entity_list: Option<EntityList> = "EntityList",
        /// Entries to add (requests).
        add_list: Option<EntityList> = "AddList",
        /// Entries to remove (requests).
        remove_list: Option<EntityList> = "RemoveList",
    }
}

csp_struct! {
    /// `GetBlockedList-Response` and `BlockEntity-Request` (1.1 `BlockUser-Request`):
    /// `(BlockList?, BlockListInUse? [1.3], GrantList?, GrantListInUse? [1.3])`.
    pub struct BlockLists {
        /// Who is blocked.
        block_list: Option<AccessList> = "BlockList",
        /// 1.3: whether the block list is applied.
        block_list_in_use: Option<bool> = "BlockListInUse",
        /// Who is let through.
        grant_list: Option<AccessList> = "GrantList",
        /// 1.3: whether the grant list is applied.
        grant_list_in_use: Option<bool> = "GrantListInUse",
    }
}

impl BlockLists {
    /// Whether the block list is applied, from either the 1.3 flag or the ≤ 1.2 `InUse`.
    pub fn block_in_use(&self) -> Option<bool> {
        self.block_list_in_use
            .or_else(|| self.block_list.as_ref()?.in_use)
    }

    /// Whether the grant list is applied, from either the 1.3 flag or the ≤ 1.2 `InUse`.
    pub fn grant_in_use(&self) -> Option<bool> {
        self.grant_list_in_use
            .or_else(|| self.grant_list.as_ref()?.in_use)
    }
}

csp_struct! {
    /// 1.3 `ExtendConversationUser (UserID, ClientID?)`.
    pub struct ExtendConversationUser {
        /// The user.
        user_id: Option<String> = "UserID",
        /// The user's client.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// 1.3 `ExtendConversation-Request (ExtendConversationID?, UserIDList?, ExtendConversationUser?, SubscribeNotification?, WelcomeNote?, ScreenName?)`.
    pub struct ExtendConversationRequest {
        /// Conversation id.
        extend_conversation_id: Option<String> = "ExtendConversationID",
        /// Users to bring in.
        user_id_list: Option<UserIdList> = "UserIDList",
        /// The other party of the conversation.
        extend_conversation_user: Option<ExtendConversationUser> = "ExtendConversationUser",
        /// T = receive group change notices.
        subscribe_notification: Option<bool> = "SubscribeNotification",
        /// Note for the invitees.
        welcome_note: Option<ContentBlock> = "WelcomeNote",
        /// Requester's screen name.
        screen_name: Option<ScreenName> = "ScreenName",
    }
}

csp_struct! {
    /// 1.3 `ExtendConversation-Response (ExtendConversationID?, GroupID?, ResponseNote?, Result?)`.
    pub struct ExtendConversationResponse {
        /// Conversation id.
        extend_conversation_id: Option<String> = "ExtendConversationID",
        /// The group created.
        group_id: Option<String> = "GroupID",
        /// Free text.
        response_note: Option<String> = "ResponseNote",
        /// Outcome.
        result: Option<CspResult> = "Result",
    }
}
