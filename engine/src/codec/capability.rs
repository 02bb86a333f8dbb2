//! Client capability elements (CSP-REFERENCE §2.8): `CapabilityList`, `AgreedCapabilityList`.
//!
//! Child order differs between 1.2 (SYM) and 1.3 (Baraza), so both lists have hand-written
//! encoders that follow the version being written.

use super::Version;
use super::common::ContentEncoding;
use super::macros::{csp_enum, csp_struct};
use super::xml::{Child, DecodeError, Field, XmlIn, XmlOut, XmlValue};

csp_enum! {
    /// `ClientType`.
    pub enum ClientType {
        /// A phone.
        MobilePhone = "MOBILE_PHONE",
        /// A computer.
        Computer = "COMPUTER",
        /// A PDA.
        Pda = "PDA",
        /// A command-line client.
        Cli = "CLI",
        /// Anything else.
        OtherType = "OTHER",
    }
}

csp_enum! {
    /// `DeliveryMethod` / `InitialDeliveryMethod`: push or notify-then-get.
    pub enum DeliveryMethod {
        /// Push (`NewMessage`).
        Push = "P",
        /// Notify (`MessageNotification`, then `GetMessage`).
        Notify = "N",
    }
}

csp_enum! {
    /// `SupportedBearer`.
    pub enum Bearer { Http = "HTTP", Https = "HTTPS", Sms = "SMS", Wsp = "WSP", Wap = "WAP" }
}

csp_enum! {
    /// `SupportedCIRMethod` (CSP-REFERENCE §5.3).
    pub enum CirMethod {
        /// WAP push over SMS.
        WapSms = "WAPSMS",
        /// WAP push over UDP.
        WapUdp = "WAPUDP",
        /// Standalone UDP.
        Sudp = "SUDP",
        /// Standalone TCP.
        Stcp = "STCP",
        /// Standalone SMS.
        Ssms = "SSMS",
        /// Standalone HTTP.
        Shttp = "SHTTP",
        /// No CIR.
        NoCir = "NONE",
    }
}

/// `AcceptedContentType`: a MIME type as text (≤ 1.2), or in 1.3 a structure
/// `(ContentType, AcceptedRichContentLength?, ContentPolicy?, ContentPolicyLimit?)`.
/// Both forms decode to this; the structure is written for 1.3 or when limits are set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcceptedContentType {
    /// The MIME type.
    pub content_type: Option<String>,
    /// 1.3 per-type length limit.
    pub accepted_rich_content_length: Option<u32>,
    /// 1.3 `C` (cost) or `R` (reject).
    pub content_policy: Option<String>,
    /// 1.3 policy limit.
    pub content_policy_limit: Option<u32>,
}

impl XmlValue for AcceptedContentType {
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        // Text form and structured form are told apart by the first child element.
        let mut out = AcceptedContentType::default();
        if child.empty {
            return Ok(None);
        }
        let mut text = String::new();
        let mut structured = false;
        loop {
            let (piece, next) = r.read_text_or_child(name)?;
            text.push_str(&piece);
            let Some(c) = next else { break };
            structured = true;
            match c.local() {
                "ContentType" if out.content_type.is_none() => {
                    out.content_type.decode_field(r, "ContentType", &c)?
                }
                "AcceptedRichContentLength" if out.accepted_rich_content_length.is_none() => out
                    .accepted_rich_content_length
                    .decode_field(r, "AcceptedRichContentLength", &c)?,
                "ContentPolicy" if out.content_policy.is_none() => {
                    out.content_policy.decode_field(r, "ContentPolicy", &c)?
                }
                "ContentPolicyLimit" if out.content_policy_limit.is_none() => out
                    .content_policy_limit
                    .decode_field(r, "ContentPolicyLimit", &c)?,
                _ => r.skip(&c)?,
            }
        }
        if !structured {
            if text.is_empty() {
                return Ok(None);
            }
            out.content_type = Some(text);
        }
        Ok((out != AcceptedContentType::default()).then_some(out))
    }

    fn encode(&self, name: &str, w: &mut XmlOut) {
        let structured = w.version == Version::V1_3
            || self.accepted_rich_content_length.is_some()
            || self.content_policy.is_some()
            || self.content_policy_limit.is_some();
        w.open(name);
        if structured {
            self.content_type.encode_field("ContentType", w);
            self.accepted_rich_content_length
                .encode_field("AcceptedRichContentLength", w);
            self.content_policy.encode_field("ContentPolicy", w);
            self.content_policy_limit
                .encode_field("ContentPolicyLimit", w);
        } else if let Some(t) = &self.content_type {
            w.text(t);
        }
        w.close(name);
    }
}

csp_struct! {
    /// `CIRURL (URL)` (1.2) and `CIRHTTPAddress (URL)` (1.3).
    pub struct CirUrl {
        /// The URL the client polls for CIR.
        url: Option<String> = "URL",
    }
}

csp_struct! {
    /// `CapabilityList`: what a client can do (and, in 1.1, what the server agreed).
    pub struct CapabilityList [encode = encode_capability_list] {
        /// Kind of client.
        client_type: Option<ClientType> = "ClientType",
        /// P or N.
        initial_delivery_method: Option<DeliveryMethod> = "InitialDeliveryMethod",
        /// Accepts any content type.
        any_content: Option<bool> = "AnyContent",
        /// ≤ 1.2 accepted charsets (MIBenum).
        accepted_char_set: Vec<u32> = "AcceptedCharSet" | "AcceptedCharset",
        /// Accepted content types.
        accepted_content_type: Vec<AcceptedContentType> = "AcceptedContentType",
        /// 1.3 pull limit.
        accepted_pull_length: Option<u32> = "AcceptedPullLength",
        /// 1.3 push limit.
        accepted_push_length: Option<u32> = "AcceptedPushLength",
        /// 1.3 text limit.
        accepted_text_content_length: Option<u32> = "AcceptedTextContentLength",
        /// None / BASE64.
        accepted_transfer_encoding: Vec<ContentEncoding> = "AcceptedTransferEncoding",
        /// ≤ 1.2 content length limit.
        accepted_content_length: Option<u32> = "AcceptedContentLength",
        /// Bearers.
        supported_bearer: Vec<Bearer> = "SupportedBearer",
        /// 1.3 offline bearers.
        supported_offline_bearer: Vec<Bearer> = "SupportedOfflineBearer",
        /// Transactions per message.
        multi_trans: Option<u32> = "MultiTrans",
        /// 1.3.
        multi_trans_per_message: Option<u32> = "MultiTransPerMessage",
        /// Largest message the client parses.
        parser_size: Option<u32> = "ParserSize",
        /// CIR methods.
        supported_cir_method: Vec<CirMethod> = "SupportedCIRMethod",
        /// UDP CIR port.
        udp_port: Option<u32> = "UDPPort",
        /// 1.1 server answer: TCP CIR address.
        tcp_address: Option<String> = "TCPAddress",
        /// 1.1 server answer: TCP CIR port.
        tcp_port: Option<u32> = "TCPPort",
        /// Minimum polling interval, seconds.
        server_poll_min: Option<u32> = "ServerPollMin",
        /// Language code.
        default_language: Option<String> = "DefaultLanguage",
        /// 1.3.
        offline_etem_handling: Option<String> = "OfflineETEMHandling",
        /// 1.3.
        online_etem_handling: Option<String> = "OnlineETEMHandling",
        /// 1.3.
        plain_text_charset: Vec<u32> = "PlainTextCharset",
        /// 1.3.
        session_priority: Option<u32> = "SessionPriority",
    }
}

fn encode_capability_list(c: &CapabilityList, name: &str, w: &mut XmlOut) {
    w.open(name);
    if w.version == Version::V1_3 {
        // Baraza's 1.3 order.
        c.accepted_content_type
            .encode_field("AcceptedContentType", w);
        c.any_content.encode_field("AnyContent", w);
        c.accepted_char_set.encode_field("AcceptedCharSet", w);
        c.accepted_pull_length.encode_field("AcceptedPullLength", w);
        c.accepted_push_length.encode_field("AcceptedPushLength", w);
        c.accepted_text_content_length
            .encode_field("AcceptedTextContentLength", w);
        c.accepted_transfer_encoding
            .encode_field("AcceptedTransferEncoding", w);
        c.accepted_content_length
            .encode_field("AcceptedContentLength", w);
        c.client_type.encode_field("ClientType", w);
        c.default_language.encode_field("DefaultLanguage", w);
        c.initial_delivery_method
            .encode_field("InitialDeliveryMethod", w);
        c.multi_trans.encode_field("MultiTrans", w);
        c.multi_trans_per_message
            .encode_field("MultiTransPerMessage", w);
        c.offline_etem_handling
            .encode_field("OfflineETEMHandling", w);
        c.online_etem_handling.encode_field("OnlineETEMHandling", w);
        c.plain_text_charset.encode_field("PlainTextCharset", w);
        c.parser_size.encode_field("ParserSize", w);
        c.server_poll_min.encode_field("ServerPollMin", w);
        c.supported_bearer.encode_field("SupportedBearer", w);
        c.supported_offline_bearer
            .encode_field("SupportedOfflineBearer", w);
        c.supported_cir_method.encode_field("SupportedCIRMethod", w);
        c.tcp_address.encode_field("TCPAddress", w);
        c.tcp_port.encode_field("TCPPort", w);
        c.udp_port.encode_field("UDPPort", w);
        c.session_priority.encode_field("SessionPriority", w);
    } else {
        // SYM 1.2 order (1.1 is the same, with the server's TCP address after the CIR methods).
        c.client_type.encode_field("ClientType", w);
        c.initial_delivery_method
            .encode_field("InitialDeliveryMethod", w);
        c.any_content.encode_field("AnyContent", w);
        c.accepted_char_set.encode_field("AcceptedCharSet", w);
        c.accepted_content_type
            .encode_field("AcceptedContentType", w);
        c.accepted_transfer_encoding
            .encode_field("AcceptedTransferEncoding", w);
        c.accepted_content_length
            .encode_field("AcceptedContentLength", w);
        c.accepted_pull_length.encode_field("AcceptedPullLength", w);
        c.accepted_push_length.encode_field("AcceptedPushLength", w);
        c.accepted_text_content_length
            .encode_field("AcceptedTextContentLength", w);
        c.supported_bearer.encode_field("SupportedBearer", w);
        c.supported_offline_bearer
            .encode_field("SupportedOfflineBearer", w);
        c.multi_trans.encode_field("MultiTrans", w);
        c.multi_trans_per_message
            .encode_field("MultiTransPerMessage", w);
        c.parser_size.encode_field("ParserSize", w);
        c.supported_cir_method.encode_field("SupportedCIRMethod", w);
        c.tcp_address.encode_field("TCPAddress", w);
        c.tcp_port.encode_field("TCPPort", w);
        c.udp_port.encode_field("UDPPort", w);
        c.server_poll_min.encode_field("ServerPollMin", w);
        c.default_language.encode_field("DefaultLanguage", w);
        c.offline_etem_handling
            .encode_field("OfflineETEMHandling", w);
        c.online_etem_handling.encode_field("OnlineETEMHandling", w);
        c.plain_text_charset.encode_field("PlainTextCharset", w);
        c.session_priority.encode_field("SessionPriority", w);
    }
    for u in &c.unknown {
        u.encode(w);
    }
    w.close(name);
}

csp_struct! {
    /// `AgreedCapabilityList` (1.2+): what the server agreed.
    pub struct AgreedCapabilityList [encode = encode_agreed] {
        /// 1.3 accepted types.
        accepted_content_type: Vec<AcceptedContentType> = "AcceptedContentType",
        /// 1.3.
        any_content: Option<bool> = "AnyContent",
        /// 1.3 pull limit.
        accepted_pull_length: Option<u32> = "AcceptedPullLength",
        /// 1.3 push limit.
        accepted_push_length: Option<u32> = "AcceptedPushLength",
        /// 1.3 text limit.
        accepted_text_content_length: Option<u32> = "AcceptedTextContentLength",
        /// Encodings.
        accepted_transfer_encoding: Vec<ContentEncoding> = "AcceptedTransferEncoding",
        /// ≤ 1.2 length limit (not in the 1.2 model; kept when a peer sends it).
        accepted_content_length: Option<u32> = "AcceptedContentLength",
        /// 1.3 SHTTP CIR URL.
        cir_http_address: Option<CirUrl> = "CIRHTTPAddress",
        /// 1.3 SMS CIR address.
        cir_sms_address: Option<String> = "CIRSMSAddress",
        /// Transactions per message.
        multi_trans: Option<u32> = "MultiTrans",
        /// 1.3.
        multi_trans_per_message: Option<u32> = "MultiTransPerMessage",
        /// 1.3.
        offline_etem_handling: Option<String> = "OfflineETEMHandling",
        /// 1.3.
        online_etem_handling: Option<String> = "OnlineETEMHandling",
        /// Minimum polling interval, seconds.
        server_poll_min: Option<u32> = "ServerPollMin",
        /// Bearers.
        supported_bearer: Vec<Bearer> = "SupportedBearer",
        /// 1.3.
        supported_offline_bearer: Vec<Bearer> = "SupportedOfflineBearer",
        /// CIR methods the server will use.
        supported_cir_method: Vec<CirMethod> = "SupportedCIRMethod",
        /// STCP address.
        tcp_address: Option<String> = "TCPAddress",
        /// STCP port.
        tcp_port: Option<u32> = "TCPPort",
        /// 1.3 UDP address.
        udp_address: Option<String> = "UDPAddress",
        /// UDP port.
        udp_port: Option<u32> = "UDPPort",
        /// 1.3.
        session_priority: Option<u32> = "SessionPriority",
        /// 1.3 sessions per user.
        user_session_limit: Option<u32> = "UserSessionLimit",
        /// 1.2 SHTTP CIR URL.
        cir_url: Option<CirUrl> = "CIRURL",
    }
}

fn encode_agreed(c: &AgreedCapabilityList, name: &str, w: &mut XmlOut) {
    w.open(name);
    if w.version == Version::V1_3 {
        c.accepted_content_type
            .encode_field("AcceptedContentType", w);
        c.any_content.encode_field("AnyContent", w);
        c.accepted_pull_length.encode_field("AcceptedPullLength", w);
        c.accepted_push_length.encode_field("AcceptedPushLength", w);
        c.accepted_text_content_length
            .encode_field("AcceptedTextContentLength", w);
        c.accepted_transfer_encoding
            .encode_field("AcceptedTransferEncoding", w);
        c.accepted_content_length
            .encode_field("AcceptedContentLength", w);
        c.cir_http_address.encode_field("CIRHTTPAddress", w);
        c.cir_sms_address.encode_field("CIRSMSAddress", w);
        c.multi_trans.encode_field("MultiTrans", w);
        c.multi_trans_per_message
            .encode_field("MultiTransPerMessage", w);
        c.offline_etem_handling
            .encode_field("OfflineETEMHandling", w);
        c.online_etem_handling.encode_field("OnlineETEMHandling", w);
        c.server_poll_min.encode_field("ServerPollMin", w);
        c.supported_bearer.encode_field("SupportedBearer", w);
        c.supported_offline_bearer
            .encode_field("SupportedOfflineBearer", w);
        c.supported_cir_method.encode_field("SupportedCIRMethod", w);
        c.tcp_address.encode_field("TCPAddress", w);
        c.tcp_port.encode_field("TCPPort", w);
        c.udp_address.encode_field("UDPAddress", w);
        c.udp_port.encode_field("UDPPort", w);
        c.session_priority.encode_field("SessionPriority", w);
        c.user_session_limit.encode_field("UserSessionLimit", w);
        c.cir_url.encode_field("CIRURL", w);
    } else {
        // 1.2: (SupportedBearer*, SupportedCIRMethod*, TCPAddress?, TCPPort?, ServerPollMin?, CIRURL?),
        // then anything from the 1.3 model.
        c.supported_bearer.encode_field("SupportedBearer", w);
        c.supported_cir_method.encode_field("SupportedCIRMethod", w);
        c.tcp_address.encode_field("TCPAddress", w);
        c.tcp_port.encode_field("TCPPort", w);
        c.server_poll_min.encode_field("ServerPollMin", w);
        c.cir_url.encode_field("CIRURL", w);
        c.accepted_content_type
            .encode_field("AcceptedContentType", w);
        c.any_content.encode_field("AnyContent", w);
        c.accepted_pull_length.encode_field("AcceptedPullLength", w);
        c.accepted_push_length.encode_field("AcceptedPushLength", w);
        c.accepted_text_content_length
            .encode_field("AcceptedTextContentLength", w);
        c.accepted_transfer_encoding
            .encode_field("AcceptedTransferEncoding", w);
        c.accepted_content_length
            .encode_field("AcceptedContentLength", w);
        c.cir_http_address.encode_field("CIRHTTPAddress", w);
        c.cir_sms_address.encode_field("CIRSMSAddress", w);
        c.multi_trans.encode_field("MultiTrans", w);
        c.multi_trans_per_message
            .encode_field("MultiTransPerMessage", w);
        c.offline_etem_handling
            .encode_field("OfflineETEMHandling", w);
        c.online_etem_handling.encode_field("OnlineETEMHandling", w);
        c.supported_offline_bearer
            .encode_field("SupportedOfflineBearer", w);
        c.udp_address.encode_field("UDPAddress", w);
        c.udp_port.encode_field("UDPPort", w);
        c.session_priority.encode_field("SessionPriority", w);
        c.user_session_limit.encode_field("UserSessionLimit", w);
    }
    for u in &c.unknown {
        u.encode(w);
    }
    w.close(name);
}
