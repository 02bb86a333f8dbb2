//! CSP codec (CSP-REFERENCE §1–§4): the typed model of every CSP 1.1/1.2/1.3 message and
//! its XML decoder and encoder.
//!
//! The model is lossless: each element type holds the union of its children across the three
//! versions, plus the unknown children it met, so decode → encode → decode gives equal values
//! whatever version mix a client sends. Vocabularies are open enums; empty text elements
//! decode as absent.

pub mod access;
pub mod access13;
pub mod capability;
pub mod common;
pub mod envelope;
pub mod fundamental;
pub mod group;
pub mod im;
mod macros;
pub mod presence;
pub mod presence_attrs;
pub mod primitive;
pub mod service;
pub mod wbxml;
mod wbxml_tables;
pub mod xml;

pub use envelope::{
    Message, Session, SessionDescriptor, SessionType, Transaction, TransactionContent,
    TransactionDescriptor, TransactionMode,
};
pub use primitive::Primitive;
pub use xml::{DecodeError, DecodeReason, Limits, RawElement, RawNode};

/// A CSP protocol version (CSP-REFERENCE §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Version {
    /// Wireless Village CSP 1.1.
    V1_1,
    /// OMA IMPS CSP 1.2 (also assumed for a message without a namespace).
    #[default]
    V1_2,
    /// OMA IMPS CSP 1.3.
    V1_3,
}

impl Version {
    /// All versions, oldest first.
    pub const ALL: [Version; 3] = [Version::V1_1, Version::V1_2, Version::V1_3];

    /// `"1.1"`, `"1.2"` or `"1.3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
        }
    }

    /// The version named by a root (CSP) namespace URI, if any. The version is carried by
    /// the digits after `CSP` (CSP-REFERENCE §1.1); the prefix is checked loosely because
    /// real clients vary it (http/https, trailing slash).
    pub fn from_namespace(ns: &str) -> Option<Version> {
        let ns = ns.trim().trim_end_matches('/');
        let lower = ns.to_ascii_lowercase();
        let known =
            lower.contains("wireless-village.org") || lower.contains("openmobilealliance.org");
        if !known {
            return None;
        }
        let tail = lower.rsplit('/').next().unwrap_or("");
        let digits = tail
            .strip_prefix("wv-csp")
            .or_else(|| tail.strip_prefix("imps-csp"))
            .or_else(|| tail.strip_prefix("csp"))?;
        match digits {
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            "1.3" => Some(Version::V1_3),
            _ => None,
        }
    }

    /// The XML content type of this version on the HTTP binding (CSP-REFERENCE §5.1).
    pub fn xml_content_type(self) -> &'static str {
        match self {
            Version::V1_3 => "application/vnd.wv.csp+xml",
            _ => "application/vnd.wv.csp.xml",
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three CSP namespaces of a version (CSP-REFERENCE §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// Root (`WV-CSP-Message`) namespace.
    Csp,
    /// `TransactionContent` namespace.
    Trc,
    /// `PresenceSubList` namespace.
    Pa,
}

impl Ns {
    /// The namespace URI for `version`.
    pub fn uri(self, version: Version) -> &'static str {
        match (self, version) {
            (Ns::Csp, Version::V1_1) => "http://www.wireless-village.org/CSP1.1",
            (Ns::Trc, Version::V1_1) => "http://www.wireless-village.org/TRC1.1",
            (Ns::Pa, Version::V1_1) => "http://www.wireless-village.org/PA1.1",
            (Ns::Csp, Version::V1_2) => "http://www.openmobilealliance.org/DTD/WV-CSP1.2",
            (Ns::Trc, Version::V1_2) => "http://www.openmobilealliance.org/DTD/WV-TRC1.2",
            (Ns::Pa, Version::V1_2) => "http://www.openmobilealliance.org/DTD/WV-PA1.2",
            (Ns::Csp, Version::V1_3) => "http://www.openmobilealliance.org/DTD/IMPS-CSP1.3",
            (Ns::Trc, Version::V1_3) => "http://www.openmobilealliance.org/DTD/IMPS-TRC1.3",
            (Ns::Pa, Version::V1_3) => "http://www.openmobilealliance.org/DTD/IMPS-PA1.3",
        }
    }
}

/// Decodes one XML CSP message under `limits`.
pub fn decode(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    envelope::decode_message(input, limits)
}

/// What [`decode`]'s fast paths alone make of `input` (the byte-comparing reader of the
/// usual envelope, then the fast tokenizer); `None` where they give up. For differential
/// tests against [`decode_reference`]: where they read a document, both must agree.
#[doc(hidden)]
pub fn decode_fast_only(input: &[u8], limits: Limits) -> Option<Message> {
    envelope::decode_fast_only(input, limits)
}

/// [`decode`] through quick-xml alone, the reference its fast paths must match.
#[doc(hidden)]
pub fn decode_reference(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    envelope::decode_reference(input, limits)
}

/// Best-effort version and TransactionID of a body that could not be decoded (or was not
/// read), so an error reply is in a form its client can read: the version named by the
/// first 4 KiB (`CSP1.1`, `CSP1.3`), else 1.2.
pub fn sniff(body: &[u8]) -> (Version, Option<String>) {
    let head = body.get(..body.len().min(4096)).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    let version = if text.contains("CSP1.1") {
        Version::V1_1
    } else if text.contains("CSP1.3") {
        Version::V1_3
    } else {
        Version::V1_2
    };
    let tid = text.find("<TransactionID>").and_then(|start| {
        let rest = text.get(start + "<TransactionID>".len()..)?;
        let end = rest.find('<')?;
        let id = rest.get(..end)?.trim();
        (!id.is_empty() && id.len() <= 128 && !id.contains('&')).then(|| id.to_owned())
    });
    (version, tid)
}

/// Encodes `message` as XML in its own version.
pub fn encode(message: &Message) -> Vec<u8> {
    envelope::encode_message(message)
}

/// Decodes one WBXML CSP message under `limits` (CSP-REFERENCE §6).
pub fn decode_wbxml(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    envelope::decode_wbxml(input, limits)
}

/// Encodes `message` as WBXML in its own version (CSP-REFERENCE §6).
pub fn encode_wbxml(message: &Message) -> Vec<u8> {
    envelope::encode_message_in(message, &[], Encoding::Wbxml)
}

/// How a CSP message is written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// XML text.
    #[default]
    Xml,
    /// WBXML tokens (CSP-REFERENCE §6).
    Wbxml,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters ignored): WBXML for both WBXML
    /// spellings, XML otherwise.
    pub fn of_content_type(content_type: &str) -> Encoding {
        // Byte-wise (no Unicode trimming): this runs twice per request.
        let bytes = content_type.as_bytes();
        let media = match memchr::memchr(b';', bytes) {
            Some(i) => bytes.get(..i).unwrap_or_default(),
            None => bytes,
        }
        .trim_ascii();
        if media.eq_ignore_ascii_case(b"application/vnd.wv.csp.wbxml")
            || media.eq_ignore_ascii_case(b"application/vnd.wv.csp+wbxml")
        {
            Encoding::Wbxml
        } else {
            Encoding::Xml
        }
    }

    /// The content type of a message of `version` in this encoding (CSP-REFERENCE §5.1).
    pub fn content_type(self, version: Version) -> &'static str {
        match self {
            Encoding::Xml => version.xml_content_type(),
            Encoding::Wbxml => wbxml::content_type(version),
        }
    }

    /// Decodes one message in this encoding.
    pub fn decode(self, input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
        match self {
            Encoding::Xml => decode(input, limits),
            Encoding::Wbxml => decode_wbxml(input, limits),
        }
    }

    /// Encodes `message` in this encoding.
    pub fn encode(self, message: &Message) -> Vec<u8> {
        match self {
            Encoding::Xml => encode(message),
            Encoding::Wbxml => encode_wbxml(message),
        }
    }
}
