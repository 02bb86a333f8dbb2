//! The `Primitive` enum: every CSP 1.1/1.2/1.3 primitive (CSP-REFERENCE §2.1–§2.6) with
//! its element name(s). Names listed after `|` are accepted spellings; the first is written.

use super::access::*;
use super::common::Status;
use super::macros::csp_primitives;
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
}
