//! Session and access primitives (CSP-REFERENCE §2.1, §1.5): login, logout, keep-alive,
//! polling, service provider info, capability and service negotiation, VerifyID, Extended,
//! version discovery and 1.3 segmentation.

use super::capability::{AgreedCapabilityList, CapabilityList};
use super::common::{ClientId, ContentBlock, CspResult, IdList, SystemMessageResponseList};
use super::envelope::SegmentId;
use super::macros::{csp_enum, csp_struct};
use super::service::Functions;
use super::xml::RawElement;

csp_enum! {
    /// `DigestSchema` (CSP-REFERENCE §1.5, §8). `SHA` is SHA-1.
    pub enum DigestSchema {
        /// Clear password.
        Pwd = "PWD",
        /// SHA-1.
        Sha = "SHA" | "SHA1" | "SHA-1",
        /// MD4.
        Md4 = "MD4",
        /// MD5.
        Md5 = "MD5",
        /// MD6.
        Md6 = "MD6",
    }
}

csp_struct! {
    /// `Login-Request`; 1.3 adds ApplicationID, SessionID, SystemMessageResponseList, Functions, CapabilityList.
    pub struct LoginRequest {
        /// Who logs in.
        user_id: Option<String> = "UserID",
        /// The client.
        client_id: Option<ClientId> = "ClientID",
        /// 1.3 application.
        application_id: Option<String> = "ApplicationID",
        /// 2-way login password.
        password: Option<String> = "Password",
        /// 4-way login answer: base64(H(nonce ‖ password)).
        digest_bytes: Option<String> = "DigestBytes",
        /// Digest schemes the client offers.
        digest_schema: Vec<DigestSchema> = "DigestSchema",
        /// 1.3 re-attach to this session.
        session_id: Option<String> = "SessionID",
        /// Wished keep-alive, seconds.
        time_to_live: Option<u32> = "TimeToLive",
        /// Client-chosen cookie echoed in SMS CIR.
        session_cookie: Option<String> = "SessionCookie",
        /// 1.3 answers to system messages.
        system_message_response_list: Option<SystemMessageResponseList> = "SystemMessageResponseList",
        /// 1.3 service request inside login.
        functions: Option<Functions> = "Functions",
        /// 1.3 capabilities inside login.
        capability_list: Option<CapabilityList> = "CapabilityList",
    }
}

csp_struct! {
    /// `Login-Response`; 1.3 adds UserID, Password, Functions, AgreedCapabilityList.
    pub struct LoginResponse {
        /// 1.3 user id.
        user_id: Option<String> = "UserID",
        /// Client id echo.
        client_id: Option<ClientId> = "ClientID",
        /// 1.3.
        password: Option<String> = "Password",
        /// Outcome (401 = complete the digest challenge).
        result: Option<CspResult> = "Result",
        /// Challenge nonce.
        nonce: Option<String> = "Nonce",
        /// Scheme chosen for the challenge.
        digest_schema: Option<DigestSchema> = "DigestSchema",
        /// The new session.
        session_id: Option<String> = "SessionID",
        /// Seconds of silence the server allows.
        keep_alive_time: Option<u32> = "KeepAliveTime",
        /// T: send ClientCapability-Request next.
        capability_request: Option<bool> = "CapabilityRequest",
        /// 1.3: requested functions not available.
        functions: Option<Functions> = "Functions",
        /// 1.3 agreed capabilities.
        agreed_capability_list: Option<AgreedCapabilityList> = "AgreedCapabilityList",
    }
}

csp_struct! {
    /// `Logout-Request` (EMPTY).
    pub struct LogoutRequest {}
}

csp_struct! {
    /// `Disconnect (Result)`: session over (logout answer in 1.1, or server-initiated).
    pub struct Disconnect {
        /// Why.
        result: Option<CspResult> = "Result",
    }
}

csp_struct! {
    /// `KeepAlive-Request (TimeToLive?)`.
    pub struct KeepAliveRequest {
        /// Wished keep-alive, seconds.
        time_to_live: Option<u32> = "TimeToLive",
    }
}

csp_struct! {
    /// `KeepAlive-Response (Result, KeepAliveTime?)`.
    pub struct KeepAliveResponse {
        /// Outcome (605 = the wish was not accepted).
        result: Option<CspResult> = "Result",
        /// Granted keep-alive, seconds.
        keep_alive_time: Option<u32> = "KeepAliveTime",
    }
}

csp_struct! {
    /// `Polling-Request` (EMPTY, no TransactionID).
    pub struct PollingRequest {}
}

csp_struct! {
    /// `GetSPInfo-Request (ClientID?)`.
    pub struct GetSpInfoRequest {
        /// The client.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `GetSPInfo-Response (ClientID?, Name, Logo?, Description?, URL?)`.
    pub struct GetSpInfoResponse {
        /// Client id echo.
        client_id: Option<ClientId> = "ClientID",
        /// Provider name.
        name: Option<String> = "Name",
        /// Provider logo.
        logo: Option<ContentBlock> = "Logo",
        /// Provider description.
        description: Option<String> = "Description",
        /// Provider URL.
        url: Option<String> = "URL",
    }
}

csp_struct! {
    /// `ClientCapability-Request ((ClientID?,) CapabilityList)`.
    pub struct ClientCapabilityRequest {
        /// 1.1 (accepted in every version).
        client_id: Option<ClientId> = "ClientID",
        /// What the client can do.
        capability_list: Option<CapabilityList> = "CapabilityList",
    }
}

csp_struct! {
    /// `ClientCapability-Response`: 1.1 `(ClientID, CapabilityList)`, 1.2+ `(AgreedCapabilityList)`.
    pub struct ClientCapabilityResponse {
        /// 1.1 client id echo.
        client_id: Option<ClientId> = "ClientID",
        /// 1.1 agreed capabilities.
        capability_list: Option<CapabilityList> = "CapabilityList",
        /// 1.2+ agreed capabilities.
        agreed_capability_list: Option<AgreedCapabilityList> = "AgreedCapabilityList",
    }
}

csp_struct! {
    /// `Service-Request ((ClientID?,) Functions, AllFunctionsRequest)`.
    pub struct ServiceRequest {
        /// 1.1 (accepted in every version).
        client_id: Option<ClientId> = "ClientID",
        /// Requested functions.
        functions: Option<Functions> = "Functions",
        /// T: list everything the server offers.
        all_functions_request: Option<bool> = "AllFunctionsRequest",
    }
}

csp_struct! {
    /// `Service-Response ((ClientID?,) Functions?, AllFunctions?)`.
    pub struct ServiceResponse {
        /// 1.1 client id echo.
        client_id: Option<ClientId> = "ClientID",
        /// Requested functions that are NOT available.
        functions: Option<Functions> = "Functions",
        /// Everything offered.
        all_functions: Option<Functions> = "AllFunctions",
    }
}

csp_struct! {
    /// 1.2 `VerifyID-Request (IDList)`.
    pub struct VerifyIdRequest {
        /// Ids to check.
        id_list: Option<IdList> = "IDList",
    }
}

csp_struct! {
    /// 1.2 `VersionList (SessionNSName*, TransactionNSName*, PresenceAttributeNSName*)`.
    pub struct VersionList {
        /// Session namespaces.
        session_ns_name: Vec<String> = "SessionNSName",
        /// Transaction namespaces.
        transaction_ns_name: Vec<String> = "TransactionNSName",
        /// Presence attribute namespaces.
        presence_attribute_ns_name: Vec<String> = "PresenceAttributeNSName",
    }
}

csp_struct! {
    /// 1.2 `WV-CSP-VersionDiscovery-Request (VersionList?, ExtendedData*)`.
    pub struct VersionDiscoveryRequest {
        /// Versions the client speaks.
        version_list: Option<VersionList> = "VersionList",
        /// Vendor data (own namespace), kept whole.
        extended_data: Vec<RawElement> = "ExtendedData" | "Extended-Data",
    }
}

csp_struct! {
    /// 1.2 `OtherServer (URL?, MSISDN?)`.
    pub struct OtherServer {
        /// Address.
        url: Option<String> = "URL",
        /// Number.
        msisdn: Option<String> = "MSISDN",
    }
}

csp_struct! {
    /// 1.2 `WV-CSP-VersionDiscovery-Response (VersionList?, OtherServer*, ExtendedData*)`.
    pub struct VersionDiscoveryResponse {
        /// Versions the server speaks.
        version_list: Option<VersionList> = "VersionList",
        /// Servers for other versions.
        other_server: Vec<OtherServer> = "OtherServer",
        /// Vendor data, kept whole.
        extended_data: Vec<RawElement> = "ExtendedData" | "Extended-Data",
    }
}

csp_struct! {
    /// 1.3 `GetSegment-Request (SegmentID)` and `DropSegment-Request (SegmentID)`.
    pub struct SegmentRequest {
        /// Which segment.
        segment_id: Option<SegmentId> = "SegmentID",
    }
}

csp_struct! {
    /// 1.3 `GetSegment-Response (SegmentContent)` (content model inferred).
    pub struct GetSegmentResponse {
        /// The segment.
        segment_content: Option<String> = "SegmentContent",
    }
}
