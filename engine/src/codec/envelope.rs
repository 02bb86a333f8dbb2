//! The CSP envelope (CSP-REFERENCE §1.2): `WV-CSP-Message`, `Session`, `Transaction`.
//!
//! `Poll` lives in the TransactionDescriptor in 1.1 and in the Session from 1.2 on; the model
//! has both places and keeps a decoded flag where it was found. Emitters choose by version.

use super::macros::{csp_enum, csp_struct};
use super::primitive::Primitive;
use std::borrow::Cow;

use super::xml::{
    Child, DecodeError, DecodeReason, Limits, RawElement, TextValue, XmlIn, XmlOut, XmlValue,
};
use super::{Ns, Version};

csp_enum! {
    /// `SessionType`: Outband before login, Inband with a SessionID.
    pub enum SessionType { Inband = "Inband", Outband = "Outband" }
}

csp_enum! {
    /// `TransactionMode`.
    pub enum TransactionMode { Request = "Request", Response = "Response" }
}

csp_struct! {
    /// `SessionDescriptor (SessionType, SessionID?)`.
    pub struct SessionDescriptor {
        /// Inband or Outband.
        session_type: Option<SessionType> = "SessionType",
        /// The session's id (Inband).
        session_id: Option<String> = "SessionID",
    }
}

csp_struct! {
    /// 1.3 `SegmentID (TransactionID, SegmentReference)`.
    pub struct SegmentId {
        /// Transaction the segment belongs to.
        transaction_id: Option<String> = "TransactionID",
        /// Reference of the segment.
        segment_reference: Option<u32> = "SegmentReference",
    }
}

csp_struct! {
    /// 1.3 `SegmentInfo (SegmentCount, SegmentID)`.
    pub struct SegmentInfo {
        /// Number of segments.
        segment_count: Option<u32> = "SegmentCount",
        /// Which segment.
        segment_id: Option<SegmentId> = "SegmentID",
    }
}

csp_struct! {
    /// `TransactionDescriptor (TransactionMode, TransactionID?, Poll? [1.1], SegmentInfo? [1.3])`.
    pub struct TransactionDescriptor {
        /// Request or Response.
        mode: Option<TransactionMode> = "TransactionMode",
        /// Transaction id (absent on Polling-Request).
        transaction_id: Option<String> = "TransactionID",
        /// 1.1 place of the Poll flag.
        poll: Option<bool> = "Poll",
        /// 1.3 segmentation.
        segment_info: Option<SegmentInfo> = "SegmentInfo",
    }
}

/// `TransactionContent`: exactly one primitive in a valid message; every child is kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransactionContent {
    /// The primitives found, in order (normally one).
    pub primitives: Vec<Primitive>,
}

impl TransactionContent {
    /// Content holding one primitive.
    pub fn new(p: Primitive) -> Self {
        TransactionContent {
            primitives: vec![p],
        }
    }
}

impl XmlValue for TransactionContent {
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        let mut v = TransactionContent::default();
        if !child.empty {
            while let Some(c) = r.next_child(name)? {
                v.primitives.push(Primitive::decode_child(r, &c)?);
            }
        }
        Ok(Some(v))
    }

    fn encode(&self, name: &str, w: &mut XmlOut) {
        w.open(name);
        w.namespace(Ns::Trc.uri(w.version));
        for p in &self.primitives {
            p.encode_into(w);
        }
        w.close(name);
    }
}

impl XmlValue for RawElement {
    fn decode(
        r: &mut XmlIn<'_>,
        _name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        r.capture(child).map(Some)
    }
    fn encode(&self, _name: &str, w: &mut XmlOut) {
        RawElement::encode(self, w);
    }
}

csp_struct! {
    /// `Transaction (TransactionDescriptor, TransactionContent, ExtBlock*)`.
    pub struct Transaction {
        /// Mode and id.
        descriptor: Option<TransactionDescriptor> = "TransactionDescriptor",
        /// The primitive.
        content: Option<TransactionContent> = "TransactionContent",
        /// 1.2+ vendor extension blocks, kept whole.
        ext_block: Vec<RawElement> = "ExtBlock",
    }
}

csp_struct! {
    /// `Session (SessionDescriptor, Transaction+, Poll? [1.2+], CIR? [1.2+])`.
    pub struct Session {
        /// Session type and id.
        descriptor: Option<SessionDescriptor> = "SessionDescriptor",
        /// One or more transactions.
        transactions: Vec<Transaction> = "Transaction",
        /// 1.2+ place of the Poll flag.
        poll: Option<bool> = "Poll",
        /// 1.2+ CIR channel state (F = broken).
        cir: Option<bool> = "CIR",
    }
}

/// A whole `WV-CSP-Message` in one CSP version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// The version (from the root namespace on input; written as the namespaces on output).
    pub version: Version,
    /// The session element.
    pub session: Session,
    /// Unknown children of the root, kept.
    pub unknown: Vec<RawElement>,
}

impl Message {
    /// The first transaction, if any.
    pub fn transaction(&self) -> Option<&Transaction> {
        self.session.transactions.first()
    }

    /// The first primitive of the first transaction, if any.
    pub fn primitive(&self) -> Option<&Primitive> {
        self.transaction()?.content.as_ref()?.primitives.first()
    }

    /// The session id in the descriptor, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session.descriptor.as_ref()?.session_id.as_deref()
    }

    /// Builds a one-transaction message.
    pub fn single(
        version: Version,
        session_type: SessionType,
        session_id: Option<String>,
        mode: TransactionMode,
        transaction_id: Option<String>,
        primitive: Primitive,
    ) -> Message {
        Message {
            version,
            session: Session {
                descriptor: Some(SessionDescriptor {
                    session_type: Some(session_type),
                    session_id,
                    ..Default::default()
                }),
                transactions: vec![Transaction {
                    descriptor: Some(TransactionDescriptor {
                        mode: Some(mode),
                        transaction_id,
                        ..Default::default()
                    }),
                    content: Some(TransactionContent::new(primitive)),
                    ..Default::default()
                }],
                ..Default::default()
            },
            unknown: Vec::new(),
        }
    }

    /// An Outband answer carrying one `Status` with `code` and `text` (errors before or
    /// outside a session).
    pub fn status(
        version: Version,
        transaction_id: Option<String>,
        code: u16,
        text: &str,
    ) -> Message {
        Message::single(
            version,
            SessionType::Outband,
            None,
            TransactionMode::Response,
            transaction_id,
            Primitive::Status(Box::new(super::common::Status::new(code, text))),
        )
    }

    /// Sets the Poll flag where this message's version puts it (TransactionDescriptor in
    /// 1.1, Session from 1.2 on; CSP-REFERENCE §1.2).
    pub fn set_poll(&mut self, poll: bool) {
        if self.version == Version::V1_1 {
            for t in &mut self.session.transactions {
                t.descriptor.get_or_insert_with(Default::default).poll = Some(poll);
            }
        } else {
            self.session.poll = Some(poll);
        }
    }

    /// The Poll flag wherever it was put.
    pub fn poll(&self) -> Option<bool> {
        self.session
            .poll
            .or_else(|| self.transaction()?.descriptor.as_ref()?.poll)
    }
}

pub(crate) fn decode_message(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    // The envelope as clients write it is read by comparing bytes; the fast tokenizer reads
    // the other plain documents; whatever it does not read (or any error, whose report
    // quick-xml words) is decoded again through quick-xml.
    if let Some(msg) = decode_usual(input, limits) {
        return Ok(msg);
    }
    if let Some(r) = XmlIn::fast(input, limits)
        && let Ok(msg) = decode_from(r)
    {
        return Ok(msg);
    }
    decode_from(XmlIn::new(input, limits))
}

/// The fast paths of [`decode_message`] alone (see [`super::decode_fast_only`]).
pub(crate) fn decode_fast_only(input: &[u8], limits: Limits) -> Option<Message> {
    decode_usual(input, limits).or_else(|| decode_from(XmlIn::fast(input, limits)?).ok())
}

/// [`decode_message`] through quick-xml alone.
pub(crate) fn decode_reference(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    decode_from(XmlIn::new(input, limits))
}

/// Decodes one WBXML message: its tokens read as the XML reader's events.
pub(crate) fn decode_wbxml(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
    decode_from(XmlIn::wbxml(input, limits))
}

/// A text value of an element of the usual envelope, as its decoder reads it.
fn usual_value<T: TextValue>(r: &mut XmlIn<'_>) -> Option<T> {
    let text = r.usual_text()?;
    T::parse_text(Cow::Borrowed(text)).ok()
}

/// The message as [`decode_from`] decodes it, when its envelope is the one clients write:
/// optional XML declaration, `<WV-CSP-Message xmlns="…">` with a CSP namespace, Session,
/// SessionDescriptor (SessionType, SessionID?), one Transaction with its
/// TransactionDescriptor (TransactionMode, TransactionID?) and TransactionContent, then an
/// optional Poll, in this order with only whitespace between and non-empty plain values.
/// The primitives are decoded by their decoders. `None` for anything else, or anything
/// [`decode_from`] would refuse: such a message is decoded the general way.
fn decode_usual(input: &[u8], limits: Limits) -> Option<Message> {
    let mut r = XmlIn::fast(input, limits)?;
    let version = r.usual_root()?;
    r.usual_start("Session", false)?;
    r.usual_start("SessionDescriptor", false)?;
    r.usual_start("SessionType", false)?;
    let session_type = usual_value::<SessionType>(&mut r)?;
    let session_id = if r.usual_next("SessionID") {
        r.usual_start("SessionID", false)?;
        Some(usual_value::<String>(&mut r)?)
    } else {
        None
    };
    r.usual_end()?;
    r.usual_start("Transaction", false)?;
    r.usual_start("TransactionDescriptor", false)?;
    r.usual_start("TransactionMode", false)?;
    let mode = usual_value::<TransactionMode>(&mut r)?;
    let transaction_id = if r.usual_next("TransactionID") {
        r.usual_start("TransactionID", false)?;
        Some(usual_value::<String>(&mut r)?)
    } else {
        None
    };
    r.usual_end()?;
    r.usual_start("TransactionContent", true)?;
    let mut primitives = Vec::with_capacity(1);
    while let Some(c) = r.next_child("TransactionContent").ok()? {
        primitives.push(Primitive::decode_child(&mut r, &c).ok()?);
    }
    r.usual_end()?;
    let poll = if r.usual_next("Poll") {
        r.usual_start("Poll", false)?;
        Some(usual_value::<bool>(&mut r)?)
    } else {
        None
    };
    r.usual_end()?;
    r.usual_end()?;
    r.finish().ok()?;
    Some(Message {
        version,
        session: Session {
            descriptor: Some(SessionDescriptor {
                session_type: Some(session_type),
                session_id,
                unknown: Vec::new(),
            }),
            transactions: vec![Transaction {
                descriptor: Some(TransactionDescriptor {
                    mode: Some(mode),
                    transaction_id,
                    poll: None,
                    segment_info: None,
                    unknown: Vec::new(),
                }),
                content: Some(TransactionContent { primitives }),
                ext_block: Vec::new(),
                unknown: Vec::new(),
            }],
            poll,
            cir: None,
            unknown: Vec::new(),
        },
        unknown: Vec::new(),
    })
}

fn decode_from(mut r: XmlIn<'_>) -> Result<Message, DecodeError> {
    let root = r.root()?;
    if root.local() != "WV-CSP-Message" {
        return Err(DecodeError::new(root.local(), DecodeReason::NotCsp));
    }
    // The root as every client writes it names its version without anything to parse.
    let usual = root
        .tag()
        .strip_prefix("WV-CSP-Message xmlns=\"")
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|ns| Version::ALL.into_iter().find(|v| Ns::Csp.uri(*v) == ns));
    let version = match usual {
        Some(v) => v,
        None => root_version(&root)?,
    };
    let mut msg = Message {
        version,
        ..Default::default()
    };
    if !root.empty {
        let mut got_session = false;
        while let Some(c) = r.next_child("WV-CSP-Message")? {
            if c.local() == "Session" && !got_session {
                got_session = true;
                msg.session = Session::decode(&mut r, "Session", &c)?.unwrap_or_default();
            } else {
                msg.unknown.push(r.capture(&c)?);
            }
        }
    }
    r.finish()?;
    Ok(msg)
}

/// The version named by the root's namespace attribute.
fn root_version(root: &Child<'_>) -> Result<Version, DecodeError> {
    // The namespace of the root's own prefix, if it has one (`<p:WV-CSP-Message xmlns:p=…>`).
    let ns_attribute = match root.prefix() {
        Some(prefix) => format!("xmlns:{prefix}"),
        None => "xmlns".to_owned(),
    };
    Ok(match root.attribute(&ns_attribute) {
        None => Version::V1_2,
        Some(ns) if ns.trim().is_empty() => Version::V1_2,
        Some(ns) => Version::from_namespace(&ns).ok_or_else(|| {
            DecodeError::new("WV-CSP-Message", DecodeReason::UnsupportedVersion(ns))
        })?,
    })
}

pub(crate) fn encode_message(msg: &Message) -> Vec<u8> {
    encode_message_with(msg, &[])
}

/// The content of a transaction written by reference (see [`encode_message_with`]).
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    /// A primitive, encoded in place.
    Primitive(&'a Primitive),
    /// A primitive already encoded: its element, written as it is. Only for primitives
    /// whose encoding is the same in every version.
    Xml(&'a str),
}

/// Encodes `msg` with `extra` transactions after its own, as [`encode_message`] encodes the
/// message holding them all: the server's queued transactions are written from the shared
/// primitive (or its stored encoding) without a copy into the message.
pub(crate) fn encode_message_with(
    msg: &Message,
    extra: &[(TransactionDescriptor, Content<'_>)],
) -> Vec<u8> {
    match encode_usual(msg, extra) {
        Some(bytes) => bytes,
        None => encode_general(msg, extra, XmlOut::new(msg.version, 1024)),
    }
}

/// [`encode_message_with`] in `encoding`.
pub(crate) fn encode_message_in(
    msg: &Message,
    extra: &[(TransactionDescriptor, Content<'_>)],
    encoding: super::Encoding,
) -> Vec<u8> {
    match encoding {
        super::Encoding::Xml => encode_message_with(msg, extra),
        super::Encoding::Wbxml => encode_general(msg, extra, XmlOut::wbxml(msg.version)),
    }
}

/// Whether a transaction has the usual shape [`encode_usual`] writes.
fn usual_transaction(t: &Transaction) -> bool {
    t.ext_block.is_empty()
        && t.unknown.is_empty()
        && t.content.is_some()
        && t.descriptor.as_ref().is_some_and(usual_descriptor)
}

fn usual_descriptor(d: &TransactionDescriptor) -> bool {
    d.segment_info.is_none() && d.unknown.is_empty()
}

/// [`encode_general`] for the usual message (a session descriptor of known children, each
/// transaction a descriptor and content, nothing unknown): the same bytes, written in
/// pieces of fixed markup rather than element by element. `None` for other messages.
fn encode_usual(msg: &Message, extra: &[(TransactionDescriptor, Content<'_>)]) -> Option<Vec<u8>> {
    let session = &msg.session;
    let descriptor = session.descriptor.as_ref()?;
    if !descriptor.unknown.is_empty()
        || !session.unknown.is_empty()
        || !msg.unknown.is_empty()
        || !session.transactions.iter().all(usual_transaction)
        || !extra.iter().all(|(d, _)| usual_descriptor(d))
    {
        return None;
    }
    let mut w = XmlOut::new(msg.version, 1024);
    w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<WV-CSP-Message xmlns=\"");
    w.raw(Ns::Csp.uri(msg.version));
    w.raw("\"><Session>");
    if descriptor.session_type.is_none() && descriptor.session_id.is_none() {
        w.raw("<SessionDescriptor/>");
    } else {
        w.raw("<SessionDescriptor>");
        if let Some(t) = &descriptor.session_type {
            w.raw("<SessionType>");
            t.write_text(&mut w);
            w.raw("</SessionType>");
        }
        if let Some(id) = &descriptor.session_id {
            w.raw("<SessionID>");
            w.text(id);
            w.raw("</SessionID>");
        }
        w.raw("</SessionDescriptor>");
    }
    let own = session.transactions.iter().filter_map(|t| {
        let content = t.content.as_ref()?;
        Some((
            t.descriptor.as_ref()?,
            content.primitives.iter().map(Content::Primitive),
        ))
    });
    for (d, primitives) in own {
        usual_transaction_into(&mut w, d, primitives);
    }
    for (d, content) in extra {
        usual_transaction_into(&mut w, d, std::iter::once(*content));
    }
    if let Some(poll) = session.poll {
        w.raw(if poll {
            "<Poll>T</Poll>"
        } else {
            "<Poll>F</Poll>"
        });
    }
    if let Some(cir) = session.cir {
        w.raw(if cir { "<CIR>T</CIR>" } else { "<CIR>F</CIR>" });
    }
    w.raw("</Session></WV-CSP-Message>");
    Some(w.into_bytes())
}

/// A `Transaction` of the usual shape, as its encoder writes it.
fn usual_transaction_into<'p>(
    w: &mut XmlOut,
    d: &TransactionDescriptor,
    mut primitives: impl Iterator<Item = Content<'p>>,
) {
    if d.mode.is_none() && d.transaction_id.is_none() && d.poll.is_none() {
        w.raw("<Transaction><TransactionDescriptor/>");
    } else {
        w.raw("<Transaction><TransactionDescriptor>");
        if let Some(mode) = &d.mode {
            w.raw("<TransactionMode>");
            mode.write_text(w);
            w.raw("</TransactionMode>");
        }
        if let Some(id) = &d.transaction_id {
            w.raw("<TransactionID>");
            w.text(id);
            w.raw("</TransactionID>");
        }
        if let Some(poll) = d.poll {
            w.raw(if poll {
                "<Poll>T</Poll>"
            } else {
                "<Poll>F</Poll>"
            });
        }
        w.raw("</TransactionDescriptor>");
    }
    w.raw("<TransactionContent xmlns=\"");
    w.raw(Ns::Trc.uri(w.version));
    match primitives.next() {
        None => w.raw("\"/>"),
        Some(first) => {
            w.raw("\">");
            for content in std::iter::once(first).chain(primitives) {
                match content {
                    Content::Primitive(p) => p.encode_into(w),
                    Content::Xml(xml) => w.raw(xml),
                }
            }
            w.raw("</TransactionContent>");
        }
    }
    w.raw("</Transaction>");
}

/// Encodes `msg` and `extra` element by element.
fn encode_general(
    msg: &Message,
    extra: &[(TransactionDescriptor, Content<'_>)],
    mut w: XmlOut,
) -> Vec<u8> {
    if !w.is_wbxml() {
        w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    w.open("WV-CSP-Message");
    w.namespace(Ns::Csp.uri(msg.version));
    if extra.is_empty() {
        msg.session.encode("Session", &mut w);
    } else {
        // `Session`'s generated encoder, with the extra transactions after the others.
        use super::xml::Field as _;
        let session = &msg.session;
        w.open("Session");
        session.descriptor.encode_field("SessionDescriptor", &mut w);
        session.transactions.encode_field("Transaction", &mut w);
        for (descriptor, content) in extra {
            // `Transaction` and `TransactionContent` as their encoders write them.
            w.open("Transaction");
            descriptor.encode("TransactionDescriptor", &mut w);
            w.open("TransactionContent");
            w.namespace(Ns::Trc.uri(w.version));
            match content {
                Content::Primitive(p) => p.encode_into(&mut w),
                Content::Xml(xml) => w.raw(xml),
            }
            w.close("TransactionContent");
            w.close("Transaction");
        }
        session.poll.encode_field("Poll", &mut w);
        session.cir.encode_field("CIR", &mut w);
        for u in &session.unknown {
            u.encode(&mut w);
        }
        w.close("Session");
    }
    for u in &msg.unknown {
        u.encode(&mut w);
    }
    w.close("WV-CSP-Message");
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::path::Path;

    /// Every file under `dir` (recursively).
    fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }

    /// The fast tokenizer's answer and the usual envelope's must be quick-xml's whenever
    /// they give one: which gave one.
    fn same(name: &str, input: &[u8], limits: Limits) -> (bool, bool) {
        let quick = decode_from(XmlIn::new(input, limits));
        let usual = decode_usual(input, limits);
        if let Some(usual) = &usual {
            assert_eq!(
                Ok(usual),
                quick.as_ref(),
                "usual {name}: {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let Some(r) = XmlIn::fast(input, limits) else {
            return (false, usual.is_some());
        };
        let Ok(fast) = decode_from(r) else {
            return (false, usual.is_some());
        };
        assert_eq!(
            Ok(&fast),
            quick.as_ref(),
            "{name}: {:?}",
            String::from_utf8_lossy(input)
        );
        (true, usual.is_some())
    }

    /// Variations of a usual message on the edges of the usual envelope.
    fn variations() -> Vec<(String, Vec<u8>)> {
        let base = "<?xml version=\"1.0\"?>\n<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\"><Session><SessionDescriptor><SessionType>Inband</SessionType><SessionID>s1</SessionID></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>t1</TransactionID></TransactionDescriptor><TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\"><KeepAlive-Request/></TransactionContent></Transaction><Poll>T</Poll></Session></WV-CSP-Message>";
        let edits: &[(&str, &str)] = &[
            ("", ""),
            ("<SessionID>s1</SessionID>", "<SessionID></SessionID>"),
            ("<SessionID>s1</SessionID>", "<SessionID/>"),
            ("<SessionID>s1</SessionID>", "<SessionID> </SessionID>"),
            ("<SessionID>s1</SessionID>", ""),
            (
                "<SessionID>s1</SessionID>",
                "<SessionID>s1</SessionID><SessionID>s2</SessionID>",
            ),
            (
                "<SessionType>Inband</SessionType>",
                "<SessionType></SessionType>",
            ),
            (
                "<SessionType>Inband</SessionType>",
                "<SessionType> inband </SessionType>",
            ),
            (
                "<SessionType>Inband</SessionType>",
                "<SessionType>Other</SessionType>",
            ),
            (
                "<SessionType>Inband</SessionType><SessionID>s1</SessionID>",
                "<SessionID>s1</SessionID><SessionType>Inband</SessionType>",
            ),
            (
                "<TransactionID>t1</TransactionID>",
                "<TransactionID></TransactionID>",
            ),
            (
                "<TransactionID>t1</TransactionID>",
                "<TransactionID>t&amp;1</TransactionID>",
            ),
            (
                "<TransactionID>t1</TransactionID>",
                "<TransactionID>t1</TransactionID><Poll>T</Poll>",
            ),
            (
                "<TransactionMode>Request</TransactionMode>",
                "<TransactionMode>response</TransactionMode>",
            ),
            ("<Poll>T</Poll>", ""),
            ("<Poll>T</Poll>", "<Poll>X</Poll>"),
            ("<Poll>T</Poll>", "<Poll></Poll>"),
            ("<Poll>T</Poll>", "<Poll>T</Poll><CIR>F</CIR>"),
            ("<Poll>T</Poll>", "<Poll>T</Poll><Poll>F</Poll>"),
            ("<KeepAlive-Request/>", ""),
            (
                "<KeepAlive-Request/>",
                "<KeepAlive-Request/><Polling-Request/>",
            ),
            ("</Transaction>", "</Transaction><Transaction/>"),
            ("<Session>", "<Session a=\"1\">"),
            ("<Session>", " \r\n <Session>\r\n"),
            ("<Session>", "<!-- c --><Session>"),
            ("<Session>", "<p:Session>"),
            (
                "<TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">",
                "<TransactionContent>",
            ),
            (
                "<TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\">",
                "<TransactionContent a='>' b=\"'\">",
            ),
            (
                "<TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC1.2\"><KeepAlive-Request/></TransactionContent>",
                "<TransactionContent/>",
            ),
            ("</WV-CSP-Message>", "</WV-CSP-Message>\n<!-- end -->\n"),
            ("</WV-CSP-Message>", "</WV-CSP-Message><x/>"),
            ("<?xml version=\"1.0\"?>\n", ""),
            (
                "<?xml version=\"1.0\"?>\n",
                "<?xml version=\"1.0\"?><?pi x?>",
            ),
            ("WV-CSP1.2", "WV-CSP1.3"),
            ("WV-CSP1.2\"", "WV-CSP1.2\" a=\"b\""),
            ("WV-CSP1.2", "CSP1.1"),
            ("Inband", "In\u{1}band"),
        ];
        edits
            .iter()
            .map(|(from, to)| {
                (
                    format!("variation {to:?}"),
                    base.replacen(from, to, 1).into_bytes(),
                )
            })
            .collect()
    }

    /// Messages as this codec writes them (no declaration spacing, no indentation).
    fn written() -> Vec<(String, Vec<u8>)> {
        use crate::codec::common::{Recipient, User};
        use crate::codec::im::{MessageInfo, MessageRef, SendMessageRequest};
        let send = SendMessageRequest {
            delivery_report: Some(false),
            message_info: Some(MessageInfo {
                content_type: Some("text/plain".into()),
                content_size: Some(5),
                recipient: Some(Recipient {
                    user: vec![User::id("wv:bob@localhost")],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            content_data: Some("a &lt; b".into()),
            ..Default::default()
        };
        let primitives = [
            Primitive::SendMessageRequest(Box::new(send)),
            Primitive::KeepAliveRequest(Box::default()),
            Primitive::MessageDelivered(Box::new(MessageRef {
                message_id: Some("0fbb16d90da73a53".into()),
                ..Default::default()
            })),
            Primitive::PollingRequest(Box::default()),
        ];
        let mut out = Vec::new();
        for v in Version::ALL {
            for (i, p) in primitives.iter().enumerate() {
                let mut m = Message::single(
                    v,
                    SessionType::Inband,
                    Some("e381ff8caa2e4fd1ee76966fd1b01909".into()),
                    if i == 2 {
                        TransactionMode::Response
                    } else {
                        TransactionMode::Request
                    },
                    (i != 3).then(|| format!("t{i}")),
                    p.clone(),
                );
                if i % 2 == 0 && v != Version::V1_1 {
                    m.set_poll(true);
                }
                out.push((format!("written {v} {i}"), encode_message(&m)));
            }
        }
        out
    }

    #[test]
    fn usual_messages_are_written_as_element_by_element() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut corpus = Vec::new();
        for dir in ["tests/vectors", "fuzz/seeds", "fuzz/regressions/decode"] {
            files(&root.join(dir), &mut corpus);
        }
        corpus.extend(written());
        corpus.extend(variations());
        let mut messages: Vec<Message> = corpus
            .iter()
            .filter_map(|(_, input)| decode_from(XmlIn::new(input, Limits::default())).ok())
            .collect();
        // Edges: empty descriptors, empty and escaped values, no primitive, CIR, 1.1 Poll.
        let mut m = Message::single(
            Version::V1_1,
            SessionType::Other(String::new()),
            Some("a<&>\"b".into()),
            TransactionMode::Other("x&y".into()),
            Some(String::new()),
            Primitive::KeepAliveRequest(Box::default()),
        );
        m.set_poll(false);
        m.session.cir = Some(true);
        messages.push(m.clone());
        m.session.descriptor = Some(SessionDescriptor::default());
        m.session.transactions[0].descriptor = Some(TransactionDescriptor::default());
        m.session.transactions[0].content = Some(TransactionContent::default());
        messages.push(m);
        let status = Primitive::Status(Box::new(crate::codec::common::Status::new(200, "")));
        let xml = "<NewMessage><ContentData>x</ContentData></NewMessage>";
        let mut usual = 0;
        for m in &messages {
            for extra in [
                vec![],
                vec![
                    (
                        TransactionDescriptor::default(),
                        Content::Primitive(&status),
                    ),
                    (
                        TransactionDescriptor {
                            mode: Some(TransactionMode::Request),
                            transaction_id: Some("s1".into()),
                            poll: Some(true),
                            ..Default::default()
                        },
                        Content::Xml(xml),
                    ),
                ],
            ] {
                let general = encode_general(m, &extra, XmlOut::new(m.version, 1024));
                if let Some(fast) = encode_usual(m, &extra) {
                    usual += 1;
                    assert_eq!(
                        String::from_utf8(fast).unwrap(),
                        String::from_utf8(general).unwrap()
                    );
                }
            }
        }
        assert!(usual * 2 > messages.len(), "{usual} of {}", messages.len());
    }

    #[test]
    fn the_usual_root_names_the_version_its_namespace_does() {
        for v in Version::ALL {
            let doc = format!(
                "<WV-CSP-Message xmlns=\"{}\"><Session/></WV-CSP-Message>",
                Ns::Csp.uri(v)
            );
            let mut r = XmlIn::new(doc.as_bytes(), Limits::default());
            let root = r.root().unwrap();
            assert_eq!(root_version(&root), Ok(v));
            assert_eq!(
                decode_message(doc.as_bytes(), Limits::default())
                    .unwrap()
                    .version,
                v
            );
        }
    }

    #[test]
    fn extra_transactions_are_written_as_in_the_message() {
        use crate::codec::common::Status;
        use crate::codec::im::NewMessage;
        let p1 = Primitive::Status(Box::new(Status::new(200, "ok")));
        let p2 = Primitive::NewMessage(Box::default());
        let p3 = Primitive::NewMessage(Box::new(NewMessage {
            content_data: Some("<a & b>".into()),
            ..Default::default()
        }));
        let xml = {
            let mut w = XmlOut::new(Version::V1_3, 64);
            p3.encode_into(&mut w);
            String::from_utf8(w.into_bytes()).unwrap()
        };
        for version in Version::ALL {
            for own in 0..3 {
                let mut msg = Message::single(
                    version,
                    SessionType::Inband,
                    Some("sid".into()),
                    TransactionMode::Response,
                    Some("t1".into()),
                    p1.clone(),
                );
                msg.session.transactions.truncate(own.min(1));
                if own == 2 {
                    msg.session.cir = Some(true);
                }
                msg.set_poll(own != 1);
                let descriptor = |tid: &str| TransactionDescriptor {
                    mode: Some(TransactionMode::Request),
                    transaction_id: Some(tid.into()),
                    poll: (version == Version::V1_1).then_some(own != 1),
                    ..Default::default()
                };
                let extra = [
                    (descriptor("s1"), Content::Primitive(&p2)),
                    (descriptor("s2"), Content::Xml(&xml)),
                ];
                let mut whole = msg.clone();
                for (d, p) in [(descriptor("s1"), &p2), (descriptor("s2"), &p3)] {
                    whole.session.transactions.push(Transaction {
                        descriptor: Some(d),
                        content: Some(TransactionContent::new(p.clone())),
                        ..Default::default()
                    });
                }
                assert_eq!(
                    String::from_utf8(encode_message_with(&msg, &extra)).unwrap(),
                    String::from_utf8(encode_message(&whole)).unwrap()
                );
            }
        }
    }

    #[test]
    fn fast_tokenizer_decodes_as_quick_xml_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut corpus = Vec::new();
        for dir in ["tests/vectors", "fuzz/seeds", "fuzz/regressions/decode"] {
            files(&root.join(dir), &mut corpus);
        }
        assert!(corpus.len() > 200, "corpus found");
        let limits = Limits::default();
        for (name, input) in written() {
            assert_eq!(same(&name, &input, limits), (true, true), "{name}");
        }
        corpus.extend(written());
        corpus.extend(variations());
        let small_text = Limits {
            max_text: 2,
            ..limits
        };
        for (name, input) in variations() {
            same(&name, &input, small_text);
        }
        let (mut fast, mut usual) = (0, 0);
        for (name, input) in &corpus {
            let (f, u) = same(name, input, limits);
            fast += usize::from(f);
            usual += usize::from(u);
        }
        assert!(
            fast * 2 > corpus.len(),
            "{fast} of {} read fast",
            corpus.len()
        );
        assert!(
            usual * 4 > corpus.len(),
            "{usual} of {} usual",
            corpus.len()
        );

        // Mutations: bytes that matter to a tokenizer, put in, taken out or swapped in at
        // pseudo-random places (a fixed xorshift sequence, so failures reproduce).
        const BYTES: &[u8] = b"<>/&;\"'= \r\n\t?!-:[]x#\x01\xc3\xa9";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let small = Limits {
            max_depth: 6,
            max_elements: 40,
            max_text: 64,
        };
        for (name, input) in &corpus {
            for round in 0..150 {
                let mut m = input.clone();
                for _ in 0..=(next() % 3) {
                    if m.is_empty() {
                        break;
                    }
                    let at = (next() as usize) % m.len();
                    let b = BYTES[(next() as usize) % BYTES.len()];
                    match next() % 3 {
                        0 => m.insert(at, b),
                        1 => {
                            m.remove(at);
                        }
                        _ => m[at] = b,
                    }
                }
                let limits = if round % 4 == 0 { small } else { limits };
                same(name, &m, limits);
            }
        }
    }
}
