//! WBXML encoding of CSP messages (CSP-REFERENCE §6): the binary form most IMPS handsets
//! speak, over the same typed model as the XML codec.
//!
//! Decoding turns the WBXML token stream into the events the XML reader hands the typed
//! decoders ([`Events`] is a source of [`super::xml::XmlIn`]), so every element codec and
//! every limit works unchanged. Encoding is a mode of [`super::xml::XmlOut`] ([`Writer`]):
//! the typed encoders write elements, attributes and text, and this writer turns them into
//! tokens of the version's tables.
//!
//! * Tag tokens by version: public id `0x10`/`0x11`/`0x12` name 1.1/1.2/1.3; a producer that
//!   writes another public id (libwbxml writes "unknown" for 1.2) is read with the tables of
//!   the version its root namespace names (1.2 without one).
//! * Names without a token in the version are written as `LITERAL` with a string-table
//!   entry; string-table references (`STR_T`, `LITERAL`) are read.
//! * Text is written as one value token (`EXT_T_0`) only when the whole element text equals
//!   a value of the table; integer elements (§6.5) as minimal big-endian `OPAQUE` when their
//!   text is a canonical decimal; everything else (date/times included: the ISO text form is
//!   lossless) as an inline string. `OPAQUE` integers and 6-byte date/times are read back as
//!   decimal and `YYYYMMDDTHHMMSS` plus the zone letter.

use std::borrow::Cow;

use quick_xml::events::BytesStart;

use super::wbxml_tables as tables;
use super::xml::{Child, DecodeError, DecodeReason, Ev};
use super::{Ns, Version};

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const LITERAL: u8 = 0x04;
const PI: u8 = 0x43;
const EXT_T_0: u8 = 0x80;
const STR_T: u8 = 0x83;
const OPAQUE: u8 = 0xC3;
/// Tag bit: the element has content (an END closes it).
const HAS_CONTENT: u8 = 0x40;
/// Tag bit: attributes follow the tag (an END closes them).
const HAS_ATTRIBUTES: u8 = 0x80;
/// `UTF-8` as an IANA MIBenum, the charset every CSP producer writes.
const UTF8: u32 = 0x6A;

/// The WBXML public id of `version` (CSP-REFERENCE §1.1).
pub fn public_id(version: Version) -> u32 {
    match version {
        Version::V1_1 => 0x10,
        Version::V1_2 => 0x11,
        Version::V1_3 => 0x12,
    }
}

/// The version a WBXML public id names, if it names one.
pub fn version_of_public_id(id: u32) -> Option<Version> {
    match id {
        0x10 => Some(Version::V1_1),
        0x11 => Some(Version::V1_2),
        0x12 => Some(Version::V1_3),
        _ => None,
    }
}

/// The WBXML content type of `version` on the HTTP binding (CSP-REFERENCE §5.1).
pub fn content_type(version: Version) -> &'static str {
    match version {
        Version::V1_3 => "application/vnd.wv.csp+wbxml",
        _ => "application/vnd.wv.csp.wbxml",
    }
}

/// Best-effort version of a WBXML body that could not be decoded, from its public id (1.2
/// when it names none), so an error reply is in a form its client reads.
pub fn sniff(body: &[u8]) -> Version {
    let mut r = Bytes {
        input: body,
        pos: 1,
    };
    r.mb_u_int32()
        .ok()
        .and_then(version_of_public_id)
        .unwrap_or_default()
}

/// Elements that carry an integer (CSP-REFERENCE §6.5: libwbxml's list for 1.1/1.2,
/// Android's for 1.3), sorted for binary search.
const INTEGERS: &[&str] = &[
    "AcceptedCharSet",
    "AcceptedCharset",
    "AcceptedContentLength",
    "AcceptedPullLength",
    "AcceptedPushLength",
    "AcceptedRichContentLength",
    "AcceptedTextContentLength",
    "AnswerOptionID",
    "ChosenOptionID",
    "Code",
    "ContentPolicyLimit",
    "ContentSize",
    "GroupContentLimit",
    "HistoryPeriod",
    "KeepAliveTime",
    "MaxWatcherList",
    "MessageCount",
    "MessageTotalCount",
    "MultiTrans",
    "MultiTransPerMessage",
    "PairID",
    "ParserSize",
    "PlainTextCharSet",
    "PlainTextCharset",
    "SearchFindings",
    "SearchID",
    "SearchIndex",
    "SearchLimit",
    "SegmentCount",
    "SegmentReference",
    "ServerPollMin",
    "SessionPriority",
    "TCPPort",
    "TimeToLive",
    "TryAgainTimeout",
    "UDPPort",
    "UserSessionLimit",
    "Validity",
    "WatcherCount",
];

/// Whether the element named `name` carries an integer.
fn is_integer(name: &str) -> bool {
    INTEGERS.binary_search(&name).is_ok()
}

/// Whether the element named `name` carries a date/time (§6.5).
fn is_date_time(name: &str) -> bool {
    matches!(name, "DateTime" | "DeliveryTime")
}

/// FNV-1a hash of `s`: the encode tables are sorted by it, so a lookup compares integers
/// and then one name (binary search over names cost most of the encoding time).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811C_9DC5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The entry for `key` in a table sorted by (hash, key).
fn lookup<'t, T>(table: &'t [T], key: &str, entry: impl Fn(&T) -> (u32, &str)) -> Option<&'t T> {
    let h = fnv1a(key);
    let from = table.partition_point(|e| entry(e).0 < h);
    table
        .get(from..)?
        .iter()
        .take_while(|e| entry(e).0 == h)
        .find(|e| entry(e).1 == key)
}

/// The tag tokens read in `version`: 1.1 reads 1.2's superset (libwbxml has one table for
/// both and writes 1.2 tokens such as `Note` in 1.1 documents).
fn tag_table(version: Version) -> &'static [(u8, u8, &'static str)] {
    match version {
        Version::V1_1 | Version::V1_2 => tables::TAGS_1_2,
        Version::V1_3 => tables::TAGS_1_3,
    }
}

fn tag_name_table(version: Version) -> &'static [(u32, &'static str, u8, u8, bool)] {
    match version {
        Version::V1_1 => tables::TAG_NAMES_1_1,
        Version::V1_2 => tables::TAG_NAMES_1_2,
        Version::V1_3 => tables::TAG_NAMES_1_3,
    }
}

fn value_table(version: Version) -> &'static [(u32, &'static str)] {
    match version {
        Version::V1_3 => tables::VALUES_1_3,
        _ => tables::VALUES_1_2,
    }
}

fn value_name_table(version: Version) -> &'static [(u32, &'static str, u32)] {
    match version {
        Version::V1_3 => tables::VALUE_NAMES_1_3,
        _ => tables::VALUE_NAMES_1_2,
    }
}

/// The name of tag `token` on `page` in `version`'s table.
fn tag_name(version: Version, page: u8, token: u8) -> Option<&'static str> {
    let table = tag_table(version);
    let i = table
        .binary_search_by(|(p, t, _)| (*p, *t).cmp(&(page, token)))
        .ok()?;
    table.get(i).map(|(_, _, n)| *n)
}

/// The (page, token) of tag `name` in `version`'s table, and whether the version writes its
/// text as an integer (§6.5; AIM's 1.3 list leaves out three of libwbxml's).
fn tag_token(version: Version, name: &str) -> Option<(u8, u8, bool)> {
    lookup(tag_name_table(version), name, |e| (e.0, e.1)).map(|e| (e.2, e.3, e.4))
}

/// The value of value token `index` in `version`'s table.
fn value_name(version: Version, index: u32) -> Option<&'static str> {
    let table = value_table(version);
    let i = table.binary_search_by(|(t, _)| t.cmp(&index)).ok()?;
    table.get(i).map(|(_, n)| *n)
}

/// The value token of `value` in `version`'s table.
fn value_token(version: Version, value: &str) -> Option<u32> {
    // No value token is longer than this: longer texts need no search.
    if value.len() > 40 {
        return None;
    }
    lookup(value_name_table(version), value, |e| (e.0, e.1)).map(|e| e.2)
}

/// Attribute-start tokens (page 0; §6.2): the `xmlns` value prefix each stands for. 0x0B–0x0D
/// are 1.3 only.
const ATTRIBUTE_STARTS: &[(u8, &str)] = &[
    (0x05, "http://www.wireless-village.org/CSP"),
    (0x06, "http://www.wireless-village.org/PA"),
    (0x07, "http://www.wireless-village.org/TRC"),
    (0x08, "http://www.openmobilealliance.org/DTD/WV-CSP"),
    (0x09, "http://www.openmobilealliance.org/DTD/WV-PA"),
    (0x0A, "http://www.openmobilealliance.org/DTD/WV-TRC"),
    (0x0B, "http://www.openmobilealliance.org/DTD/IMPS-CSP"),
    (0x0C, "http://www.openmobilealliance.org/DTD/IMPS-PA"),
    (0x0D, "http://www.openmobilealliance.org/DTD/IMPS-TRC"),
];

// ---- decoding ------------------------------------------------------------------------------

fn malformed(element: &str, what: &str) -> DecodeError {
    DecodeError::new(element, DecodeReason::Malformed(format!("WBXML: {what}")))
}

/// A cursor over bytes with the WBXML primitive readers.
struct Bytes<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or_else(|| DecodeError::new("", DecodeReason::UnexpectedEof))?;
        self.pos += 1;
        Ok(b)
    }

    /// A multi-byte unsigned integer (7 bits a byte, high bit = more follow), at most 32 bits.
    fn mb_u_int32(&mut self) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            if v > (u32::MAX >> 7) {
                return Err(malformed("", "multi-byte integer too large"));
            }
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed("", "multi-byte integer too long"))
    }

    fn take(&mut self, len: u32) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len as usize)
            .filter(|&e| e <= self.input.len())
            .ok_or_else(|| DecodeError::new("", DecodeReason::UnexpectedEof))?;
        let s = self.input.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(s)
    }

    /// A NUL-terminated UTF-8 string.
    fn c_str(&mut self, element: &str) -> Result<&'a str, DecodeError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError::new(element, DecodeReason::UnexpectedEof))?;
        let s = rest.get(..len).unwrap_or_default();
        self.pos += len + 1;
        std::str::from_utf8(s).map_err(|_| DecodeError::new(element, DecodeReason::NotUtf8))
    }
}

/// The decoded WBXML header: public id (if it names a version) and the string table.
struct Header<'a> {
    version: Option<Version>,
    strtbl: &'a [u8],
}

fn header<'a>(r: &mut Bytes<'a>) -> Result<Header<'a>, DecodeError> {
    let wbxml_version = r.byte()?;
    if !(0x01..=0x03).contains(&wbxml_version) {
        return Err(malformed("", "not a WBXML 1.1–1.3 document"));
    }
    let public_id = r.mb_u_int32()?;
    // Public id 0: the id is a string in the string table (libwbxml writes 1.2 so).
    let id_string = if public_id == 0 {
        Some(r.mb_u_int32()?)
    } else {
        None
    };
    let charset = r.mb_u_int32()?;
    // UTF-8, "unknown" (0) and US-ASCII (3) all read as UTF-8.
    if !matches!(charset, 0 | 3 | UTF8) {
        return Err(DecodeError::new("", DecodeReason::NotUtf8));
    }
    let len = r.mb_u_int32()?;
    let strtbl = r.take(len)?;
    let version = match id_string {
        // `-//OMA//DTD WV-CSP 1.2//EN`, `-//OMA//DTD IMPS-CSP 1.3//EN`, … by their digits.
        Some(offset) => table_str(strtbl, offset, "").ok().and_then(|id| {
            let digits = id.split("CSP ").nth(1)?.get(..3)?;
            Version::ALL.into_iter().find(|v| v.as_str() == digits)
        }),
        None => version_of_public_id(public_id),
    };
    Ok(Header { version, strtbl })
}

/// The string at `offset` of the string table (up to its NUL).
fn table_str<'a>(strtbl: &'a [u8], offset: u32, element: &str) -> Result<&'a str, DecodeError> {
    let rest = strtbl
        .get(offset as usize..)
        .ok_or_else(|| malformed(element, "string-table reference out of range"))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| malformed(element, "string-table entry without its end"))?;
    std::str::from_utf8(rest.get(..len).unwrap_or_default())
        .map_err(|_| DecodeError::new(element, DecodeReason::NotUtf8))
}

/// The WBXML token stream of one document, as the events of the XML reader.
pub(super) struct Events<'a> {
    bytes: Bytes<'a>,
    strtbl: &'a [u8],
    /// The version whose tables are read: from the public id, else from the root namespace.
    table: Version,
    /// Whether `table` was named by the public id.
    table_known: bool,
    /// Tag code page in force.
    page: u8,
    /// Elements open with content, innermost last (names borrowed from the input or the
    /// tables).
    open: Vec<&'a str>,
    /// The root element has been read.
    started: bool,
    /// The header failed: this error is given on the first read.
    failed: Option<DecodeError>,
}

impl<'a> Events<'a> {
    /// The events of WBXML document `input` (a bad header is reported on the first read).
    pub(super) fn new(input: &'a [u8]) -> Self {
        let mut bytes = Bytes { input, pos: 0 };
        let (strtbl, version, failed) = match header(&mut bytes) {
            Ok(h) => (h.strtbl, h.version, None),
            Err(e) => (&[][..], None, Some(e)),
        };
        Events {
            bytes,
            strtbl,
            table: version.unwrap_or_default(),
            table_known: version.is_some(),
            page: 0,
            open: Vec::new(),
            started: false,
            failed,
        }
    }

    fn element(&self) -> &'a str {
        self.open.last().copied().unwrap_or("")
    }

    /// The next event.
    pub(super) fn next(&mut self) -> Result<Ev<'a>, DecodeError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        loop {
            let Some(&b) = self.bytes.input.get(self.bytes.pos) else {
                return Ok(Ev::Eof);
            };
            self.bytes.pos += 1;
            let element = self.element();
            let locate = |mut e: DecodeError| {
                if e.element.is_empty() {
                    e.element = element.to_owned();
                }
                e
            };
            match b {
                SWITCH_PAGE => self.page = self.bytes.byte().map_err(locate)?,
                END => {
                    return match self.open.pop() {
                        Some(_) => Ok(Ev::End),
                        None => Err(malformed(element, "END outside any element")),
                    };
                }
                ENTITY => {
                    let c = self.bytes.mb_u_int32().map_err(locate)?;
                    let c = char::from_u32(c).ok_or_else(|| malformed(element, "bad ENTITY"))?;
                    return Ok(Ev::Text(Cow::Owned(c.to_string())));
                }
                STR_I => {
                    let s = self.bytes.c_str(element)?;
                    return Ok(Ev::Text(Cow::Borrowed(s)));
                }
                STR_T => {
                    let offset = self.bytes.mb_u_int32().map_err(locate)?;
                    let s = table_str(self.strtbl, offset, element)?;
                    return Ok(Ev::Text(Cow::Borrowed(s)));
                }
                EXT_T_0 => {
                    let index = self.bytes.mb_u_int32().map_err(locate)?;
                    let v = value_name(self.table, index).ok_or_else(|| {
                        DecodeError::new(
                            element,
                            DecodeReason::InvalidValue(format!("value token 0x{index:02X}")),
                        )
                    })?;
                    return Ok(Ev::Text(Cow::Borrowed(v)));
                }
                OPAQUE => {
                    let len = self.bytes.mb_u_int32().map_err(locate)?;
                    let data = self.bytes.take(len).map_err(locate)?;
                    return Ok(Ev::Text(opaque(element, data)?));
                }
                PI => return Err(malformed(element, "processing instructions are not CSP")),
                0x40..=0x42 | 0x81 | 0x82 | 0xC0..=0xC2 => {
                    return Err(malformed(element, "extension tokens other than EXT_T_0"));
                }
                _ => return self.start(b),
            }
        }
    }

    /// A start tag: `b` is its tag byte (or a LITERAL form).
    fn start(&mut self, b: u8) -> Result<Ev<'a>, DecodeError> {
        let parent = self.element();
        if self.started && self.open.is_empty() {
            return Err(malformed("", "content after the root element"));
        }
        let token = b & 0x3F;
        let name: &'a str = if token == LITERAL {
            let offset = self.bytes.mb_u_int32()?;
            table_str(self.strtbl, offset, parent)?
        } else {
            // The root's token is the same in every table; its namespace may then choose
            // another one.
            tag_name(self.table, self.page, token).ok_or_else(|| {
                malformed(
                    parent,
                    &format!(
                        "unknown tag token 0x{token:02X} on page 0x{:02X}",
                        self.page
                    ),
                )
            })?
        };
        if !super::xml::is_name(name) {
            return Err(malformed(parent, "invalid element name"));
        }
        let is_root = !self.started;
        self.started = true;
        let mut tag: Cow<'a, str> = Cow::Borrowed(name);
        let mut xmlns = None;
        if b & HAS_ATTRIBUTES != 0 {
            let mut content = String::from(name);
            self.attributes(name, &mut content, &mut xmlns)?;
            tag = Cow::Owned(content);
        }
        if is_root {
            if !self.table_known
                && let Some(v) = xmlns.as_deref().and_then(Version::from_namespace)
            {
                self.table = v;
            }
            if xmlns.is_none() && self.table_known {
                // The public id names the version the namespace would.
                let mut content = tag.into_owned();
                content.push_str(" xmlns=\"");
                content.push_str(Ns::Csp.uri(self.table));
                content.push('"');
                tag = Cow::Owned(content);
            }
        }
        let empty = b & HAS_CONTENT == 0;
        if !empty {
            self.open.push(name);
        }
        Ok(Ev::Start(Child::new(
            BytesStart::from_content(tag, name.len()),
            empty,
        )))
    }

    /// Reads attributes up to their END, appending ` key="value"` to `content`.
    fn attributes(
        &mut self,
        element: &str,
        content: &mut String,
        xmlns: &mut Option<String>,
    ) -> Result<(), DecodeError> {
        let mut key: Option<&'a str> = None;
        let mut value = String::new();
        let finish = |key: Option<&str>,
                      value: &mut String,
                      content: &mut String,
                      xmlns: &mut Option<String>| {
            if let Some(k) = key {
                content.push(' ');
                content.push_str(k);
                content.push_str("=\"");
                escape_attribute(content, value);
                content.push('"');
                if k == "xmlns" {
                    *xmlns = Some(std::mem::take(value));
                }
                value.clear();
            }
        };
        let mut attr_page = 0u8;
        loop {
            let b = self
                .bytes
                .byte()
                .map_err(|_| DecodeError::new(element, DecodeReason::UnexpectedEof))?;
            match b {
                END => {
                    finish(key, &mut value, content, xmlns);
                    return Ok(());
                }
                SWITCH_PAGE => attr_page = self.bytes.byte()?,
                LITERAL => {
                    finish(key, &mut value, content, xmlns);
                    let offset = self.bytes.mb_u_int32()?;
                    let k = table_str(self.strtbl, offset, element)?;
                    if !super::xml::is_name(k) {
                        return Err(malformed(element, "invalid attribute name"));
                    }
                    key = Some(k);
                }
                STR_I | STR_T | ENTITY | EXT_T_0 | OPAQUE if key.is_none() => {
                    return Err(malformed(element, "attribute value without a name"));
                }
                STR_I => value.push_str(self.bytes.c_str(element)?),
                STR_T => {
                    let offset = self.bytes.mb_u_int32()?;
                    value.push_str(table_str(self.strtbl, offset, element)?);
                }
                ENTITY => {
                    let c = self.bytes.mb_u_int32()?;
                    value.push(char::from_u32(c).ok_or_else(|| malformed(element, "bad ENTITY"))?);
                }
                EXT_T_0 => {
                    let index = self.bytes.mb_u_int32()?;
                    let v = value_name(self.table, index)
                        .ok_or_else(|| malformed(element, "unknown attribute value token"))?;
                    value.push_str(v);
                }
                OPAQUE => {
                    let len = self.bytes.mb_u_int32()?;
                    let data = self.bytes.take(len)?;
                    value.push_str(
                        std::str::from_utf8(data)
                            .map_err(|_| DecodeError::new(element, DecodeReason::NotUtf8))?,
                    );
                }
                _ if b < 0x80 && attr_page == 0 => {
                    let (_, prefix) =
                        ATTRIBUTE_STARTS
                            .iter()
                            .find(|(t, _)| *t == b)
                            .ok_or_else(|| {
                                malformed(element, &format!("unknown attribute token 0x{b:02X}"))
                            })?;
                    finish(key, &mut value, content, xmlns);
                    key = Some("xmlns");
                    value.push_str(prefix);
                }
                _ => {
                    return Err(malformed(
                        element,
                        &format!("unknown attribute token 0x{b:02X}"),
                    ));
                }
            }
            if content.len() + value.len() > self.bytes.input.len() + 64 * 1024 {
                // Attribute text is bounded by the input, save for value tokens: bound those.
                return Err(DecodeError::new(element, DecodeReason::TextTooLong));
            }
        }
    }
}

/// Appends `value` to `out` escaped as an XML attribute value (the tag is read back by the
/// XML attribute parser).
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// The text an `OPAQUE` stands for in `element`: an integer (decimal), a date/time, or UTF-8
/// text.
fn opaque<'a>(element: &str, data: &'a [u8]) -> Result<Cow<'a, str>, DecodeError> {
    if is_integer(element) {
        // AIM writes 0 as one byte, libwbxml as none: both are 0.
        if data.len() > 8 {
            return Err(DecodeError::new(
                element,
                DecodeReason::InvalidValue("integer longer than 8 bytes".into()),
            ));
        }
        let v = data.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        return Ok(Cow::Owned(v.to_string()));
    }
    if is_date_time(element) && data.len() == 6 {
        return Ok(Cow::Owned(date_time(data)));
    }
    std::str::from_utf8(data)
        .map(Cow::Borrowed)
        .map_err(|_| DecodeError::new(element, DecodeReason::NotUtf8))
}

/// A 6-byte WBXML date/time (§6.5: 2 zero bits, year 12, month 4, day 5, hour 5, minute 6,
/// second 6, then the zone letter) as `YYYYMMDDTHHMMSS` and the zone letter (`Z` for UTC).
fn date_time(data: &[u8]) -> String {
    let bits = data
        .iter()
        .take(5)
        .fold(0u64, |v, &b| (v << 8) | u64::from(b));
    let field = |shift: u32, width: u32| (bits >> shift) & ((1 << width) - 1);
    let (year, month, day) = (field(26, 12), field(22, 4), field(17, 5));
    let (hour, minute, second) = (field(12, 5), field(6, 6), field(0, 6));
    let zone = data
        .get(5)
        .copied()
        .filter(u8::is_ascii_alphabetic)
        .map_or('Z', char::from);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}{zone}")
}

// ---- encoding ------------------------------------------------------------------------------

/// One open element of the [`Writer`].
struct Frame {
    /// Where its tag byte is (content and attribute bits are set there later).
    tag: usize,
    /// Its attributes are being written (an END ends them before content).
    in_attributes: bool,
    /// It has content written (children or text).
    content: bool,
    /// It has child elements (its text is then written as it comes).
    children: bool,
    /// Whether its text is written as an integer.
    integer: bool,
}

/// The WBXML writer behind [`super::xml::XmlOut`] in WBXML mode.
pub(crate) struct Writer {
    version: Version,
    body: Vec<u8>,
    strtbl: Vec<u8>,
    page: u8,
    open: Vec<Frame>,
    /// Text of the innermost element not yet written (a whole text may become one token).
    text: String,
}

fn push_mb(buf: &mut Vec<u8>, mut v: u32) {
    let mut tmp = [0u8; 5];
    let last = tmp.len() - 1;
    let mut i = tmp.len();
    loop {
        i -= 1;
        let more = if i == last { 0 } else { 0x80 };
        if let Some(slot) = tmp.get_mut(i) {
            *slot = (v & 0x7F) as u8 | more;
        }
        v >>= 7;
        if v == 0 || i == 0 {
            break;
        }
    }
    buf.extend_from_slice(tmp.get(i..).unwrap_or_default());
}

/// Whether `text` is a decimal that reads back as the same text (no sign, no leading zero)
/// and fits in 32 bits.
fn canonical_u32(text: &str) -> Option<u32> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Writer {
    /// A writer for `version`.
    pub(crate) fn new(version: Version) -> Self {
        Writer {
            version,
            body: Vec::with_capacity(512),
            strtbl: Vec::new(),
            page: 0,
            open: Vec::new(),
            text: String::new(),
        }
    }

    /// The document: header, string table, body.
    pub(crate) fn into_bytes(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.close();
        }
        let mut out = Vec::with_capacity(self.body.len() + self.strtbl.len() + 8);
        out.push(0x03);
        push_mb(&mut out, public_id(self.version));
        push_mb(&mut out, UTF8);
        push_mb(&mut out, self.strtbl.len() as u32);
        out.extend_from_slice(&self.strtbl);
        out.extend_from_slice(&self.body);
        out
    }

    /// The offset of `s` in the string table, added when missing.
    fn string_ref(&mut self, s: &str) -> u32 {
        let mut at = 0;
        for entry in self.strtbl.split(|&b| b == 0) {
            if entry == s.as_bytes() && at < self.strtbl.len() {
                return at as u32;
            }
            at += entry.len() + 1;
        }
        let offset = self.strtbl.len() as u32;
        self.strtbl.extend_from_slice(s.as_bytes());
        self.strtbl.push(0);
        offset
    }

    /// Ends the attributes of the innermost element and marks it as having content.
    fn begin_content(&mut self) {
        if let Some(f) = self.open.last_mut() {
            if f.in_attributes {
                self.body.push(END);
                f.in_attributes = false;
            }
            if !f.content {
                f.content = true;
                if let Some(b) = self.body.get_mut(f.tag) {
                    *b |= HAS_CONTENT;
                }
            }
        }
    }

    /// Writes the pending text of the innermost element; `whole` when it is all its text.
    fn flush_text(&mut self, whole: bool) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        self.begin_content();
        let integer = self.open.last().is_some_and(|f| f.integer);
        if whole {
            if integer && let Some(v) = canonical_u32(&text) {
                let bytes = v.to_be_bytes();
                let skip = bytes.iter().take(3).take_while(|&&b| b == 0).count();
                let digits = bytes.get(skip..).unwrap_or_default();
                self.body.push(OPAQUE);
                push_mb(&mut self.body, digits.len() as u32);
                self.body.extend_from_slice(digits);
                self.text = reuse(text);
                return;
            }
            if let Some(t) = value_token(self.version, &text) {
                self.body.push(EXT_T_0);
                push_mb(&mut self.body, t);
                self.text = reuse(text);
                return;
            }
        }
        self.inline(&text);
        self.text = reuse(text);
    }

    /// `text` as inline strings (a NUL, which no string can hold, as an ENTITY).
    fn inline(&mut self, text: &str) {
        for (i, piece) in text.split('\0').enumerate() {
            if i > 0 {
                self.body.push(ENTITY);
                self.body.push(0);
            }
            if !piece.is_empty() {
                self.body.push(STR_I);
                self.body.extend_from_slice(piece.as_bytes());
                self.body.push(0);
            }
        }
    }

    /// Starts element `name`, as a token where its version's table has one (for any spelling).
    pub(crate) fn open(&mut self, name: &str) {
        let token = tag_token(self.version, name);
        self.open_as(name, token);
    }

    /// Starts element `name`, as a token only where it reads back in this spelling.
    pub(crate) fn open_exact(&mut self, name: &str) {
        let token = tag_token(self.version, name)
            .filter(|&(page, token, _)| tag_name(self.version, page, token) == Some(name));
        self.open_as(name, token);
    }

    fn open_as(&mut self, name: &str, token: Option<(u8, u8, bool)>) {
        self.flush_text(false);
        self.begin_content();
        if let Some(f) = self.open.last_mut() {
            f.children = true;
        }
        let tag = match token {
            Some((page, token, _)) => {
                if page != self.page {
                    self.body.push(SWITCH_PAGE);
                    self.body.push(page);
                    self.page = page;
                }
                self.body.push(token);
                self.body.len() - 1
            }
            None => {
                let offset = self.string_ref(name);
                self.body.push(LITERAL);
                let at = self.body.len() - 1;
                push_mb(&mut self.body, offset);
                at
            }
        };
        self.open.push(Frame {
            tag,
            in_attributes: false,
            content: false,
            children: false,
            integer: token.is_some_and(|(_, _, integer)| integer),
        });
    }

    /// Adds an attribute to the element just opened (ignored once it has content).
    pub(crate) fn attribute(&mut self, key: &str, value: &str) {
        let Some(f) = self.open.last_mut() else {
            return;
        };
        if f.content {
            return;
        }
        if !f.in_attributes {
            f.in_attributes = true;
            if let Some(b) = self.body.get_mut(f.tag) {
                *b |= HAS_ATTRIBUTES;
            }
        }
        let starts = if self.version == Version::V1_3 {
            ATTRIBUTE_STARTS
        } else {
            ATTRIBUTE_STARTS.get(..6).unwrap_or_default()
        };
        let start = (key == "xmlns")
            .then(|| {
                starts
                    .iter()
                    .filter(|(_, prefix)| value.starts_with(prefix))
                    .max_by_key(|(_, prefix)| prefix.len())
            })
            .flatten();
        let rest = match start {
            Some((token, prefix)) => {
                self.body.push(*token);
                value.get(prefix.len()..).unwrap_or_default()
            }
            None => {
                let offset = self.string_ref(key);
                self.body.push(LITERAL);
                push_mb(&mut self.body, offset);
                value
            }
        };
        if !rest.is_empty() {
            self.inline(rest);
        }
    }

    /// Ends the innermost element.
    pub(crate) fn close(&mut self) {
        let whole = self.open.last().is_some_and(|f| !f.children);
        self.flush_text(whole);
        if let Some(f) = self.open.pop() {
            if f.in_attributes {
                self.body.push(END);
            }
            if f.content {
                self.body.push(END);
            }
        }
    }

    /// Adds text to the innermost element.
    pub(crate) fn text(&mut self, text: &str) {
        self.text.push_str(text);
    }
}

/// `s` emptied, to keep its allocation.
fn reuse(mut s: String) -> String {
    s.clear();
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn multi_byte_integers_round_trip() {
        for v in [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, u32::MAX] {
            let mut buf = Vec::new();
            push_mb(&mut buf, v);
            let mut r = Bytes {
                input: &buf,
                pos: 0,
            };
            assert_eq!(r.mb_u_int32().unwrap(), v);
            assert_eq!(r.pos, buf.len());
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for v in Version::ALL {
            assert!(
                tag_table(v)
                    .windows(2)
                    .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
            );
            let names = tag_name_table(v);
            assert!(
                names
                    .windows(2)
                    .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
            );
            assert!(names.iter().all(|e| e.0 == fnv1a(e.1)));
            assert!(
                names
                    .iter()
                    .all(|e| tag_token(v, e.1) == Some((e.2, e.3, e.4)))
            );
            assert!(value_table(v).windows(2).all(|w| w[0].0 < w[1].0));
            let values = value_name_table(v);
            assert!(
                values
                    .windows(2)
                    .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
            );
            assert!(values.iter().all(|e| e.0 == fnv1a(e.1) && e.1.len() <= 40));
            assert!(values.iter().all(|e| value_token(v, e.1) == Some(e.2)));
            // The integer flags are the §6.5 lists.
            assert!(names.iter().all(|e| !e.4 || is_integer(e.1)));
            assert_eq!(tag_token(v, "Code").map(|t| t.2), Some(true));
            assert_eq!(
                tag_token(v, "SearchID").map(|t| t.2),
                Some(v != Version::V1_3)
            );
        }
        assert!(INTEGERS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn primitives_kept_as_xml_are_written_as_tokens() {
        use crate::codec::envelope::{Content, encode_message_in};
        use crate::codec::{Encoding, Message, TransactionDescriptor, TransactionMode};
        let msg = Message {
            version: Version::V1_2,
            ..Default::default()
        };
        let d = TransactionDescriptor {
            mode: Some(TransactionMode::Request),
            transaction_id: Some("s1".into()),
            ..Default::default()
        };
        let xml = "<Status><Result><Code>200</Code><Description>a &amp; b</Description></Result></Status>";
        let extra = [(d, Content::Xml(xml))];
        let bytes = encode_message_in(&msg, &extra, Encoding::Wbxml);
        let back = crate::codec::decode_wbxml(&bytes, Default::default()).unwrap();
        let from_xml = crate::codec::decode(
            &encode_message_in(&msg, &extra, Encoding::Xml),
            Default::default(),
        )
        .unwrap();
        assert_eq!(back, from_xml);
        assert_eq!(back.primitive().unwrap().result_code(), Some(200));
    }

    #[test]
    fn the_libwbxml_date_time_example_reads() {
        // 2001-10-19 09:50:31Z (CSP-REFERENCE §6.5).
        let bits: u64 = (2001 << 26) | (10 << 22) | (19 << 17) | (9 << 12) | (50 << 6) | 31;
        let mut data = bits.to_be_bytes()[3..].to_vec();
        data.push(b'Z');
        assert_eq!(date_time(&data), "20011019T095031Z");
    }
}
