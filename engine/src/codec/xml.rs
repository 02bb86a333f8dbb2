//! XML reading and writing under limits: the plumbing every CSP element codec is built on.
//!
//! Decoding is by local name (prefixes and namespaces are ignored, CSP-REFERENCE §10.1); the
//! reader enforces depth, element-count and text-length limits so a hostile document cannot
//! exhaust memory or the stack. Encoding writes straight into a byte buffer.

use std::borrow::Cow;
use std::fmt;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};

use super::Version;

/// Bounds applied while decoding one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting accepted (the root counts as 1).
    pub max_depth: u32,
    /// Most elements accepted in one message.
    pub max_elements: u32,
    /// Longest text content of one element, in bytes.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // CSP messages nest about 12 deep (presence attributes inside notifications);
        // 48 leaves room for vendor extensions while keeping recursion shallow.
        Limits {
            max_depth: 48,
            max_elements: 20_000,
            max_text: 1 << 20,
        }
    }
}

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeReason {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// The XML is not well formed (quick-xml's message).
    Malformed(String),
    /// The document ended inside an element.
    UnexpectedEof,
    /// There is no root element.
    NoRoot,
    /// The root element is not `WV-CSP-Message`.
    NotCsp,
    /// The root namespace names no CSP version this codec speaks.
    UnsupportedVersion(String),
    /// Nesting deeper than [`Limits::max_depth`].
    TooDeep,
    /// More elements than [`Limits::max_elements`].
    TooManyElements,
    /// Text longer than [`Limits::max_text`].
    TextTooLong,
    /// A typed value (integer, boolean) could not be read.
    InvalidValue(String),
    /// An entity reference other than the five predefined ones or a character reference.
    UnknownEntity(String),
}

/// A decoding failure: the element where it happened and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Local name of the innermost element being read (empty before the root).
    pub element: String,
    /// What went wrong.
    pub reason: DecodeReason,
}

impl DecodeError {
    pub(crate) fn new(element: &str, reason: DecodeReason) -> Self {
        DecodeError {
            element: element.to_owned(),
            reason,
        }
    }

    /// The CSP status code a server answers this failure with (CSP-REFERENCE §3).
    pub fn status_code(&self) -> u16 {
        match self.reason {
            DecodeReason::UnsupportedVersion(_) => 505,
            _ => 400,
        }
    }
}

impl fmt::Display for DecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeReason::NotUtf8 => f.write_str("not UTF-8"),
            DecodeReason::Malformed(m) => write!(f, "malformed XML: {m}"),
            DecodeReason::UnexpectedEof => f.write_str("document ends inside the element"),
            DecodeReason::NoRoot => f.write_str("no root element"),
            DecodeReason::NotCsp => f.write_str("root element is not WV-CSP-Message"),
            DecodeReason::UnsupportedVersion(ns) => write!(f, "unsupported CSP namespace {ns:?}"),
            DecodeReason::TooDeep => f.write_str("nesting too deep"),
            DecodeReason::TooManyElements => f.write_str("too many elements"),
            DecodeReason::TextTooLong => f.write_str("text too long"),
            DecodeReason::InvalidValue(v) => write!(f, "invalid value {v:?}"),
            DecodeReason::UnknownEntity(e) => write!(f, "unknown entity &{e};"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.element.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "<{}>: {}", self.element, self.reason)
        }
    }
}

impl std::error::Error for DecodeError {}

/// The start tag of a child element that has just been read.
pub struct Child<'a> {
    start: BytesStart<'a>,
    /// `true` for a self-closing tag (`<X/>`), which has no content and no end tag.
    pub empty: bool,
    /// Byte range of the local name within the tag (found once: every codec matches on it).
    local: (usize, usize),
}

impl<'a> Child<'a> {
    pub(super) fn new(start: BytesStart<'a>, empty: bool) -> Self {
        let name = start.name().into_inner().as_bytes();
        let from = name.iter().rposition(|&b| b == b':').map_or(0, |i| i + 1);
        let local = (from, name.len());
        Child {
            start,
            empty,
            local,
        }
    }
}

impl Child<'_> {
    /// The element's local name (prefix stripped).
    pub fn local(&self) -> &str {
        let tag: &str = self.start.as_ref();
        tag.get(self.local.0..self.local.1).unwrap_or("")
    }

    /// The local name, refused unless it can be written back as an element name (for codecs
    /// that keep element names they do not know, such as the service tree).
    pub fn writable_local(&self) -> Result<&str, DecodeError> {
        let local = self.local();
        if is_name(local) {
            Ok(local)
        } else {
            Err(DecodeError::new(
                local,
                DecodeReason::Malformed("invalid element name".into()),
            ))
        }
    }

    /// The element's prefix, if its name has one.
    pub fn prefix(&self) -> Option<&str> {
        let tag: &str = self.start.as_ref();
        (self.local.0 > 0)
            .then(|| tag.get(..self.local.0 - 1))
            .flatten()
    }

    /// The value of attribute `key` (matched on its full name), unescaped.
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.start
            .attributes()
            .with_checks(false)
            .flatten()
            .find_map(|a| {
                let k: &str = a.key.as_ref();
                if k == key {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                } else {
                    None
                }
            })
    }

    fn full_name(&self) -> &str {
        self.start.name().into_inner()
    }

    /// The tag as written between `<` and `>` (or `/>`): name and attributes.
    pub(crate) fn tag(&self) -> &str {
        self.start.as_ref()
    }
}

/// A bounded pull reader over one XML document.
pub struct XmlIn<'a> {
    source: Source<'a>,
    limits: Limits,
    depth: u32,
    elements: u32,
}

/// Where an [`XmlIn`] gets its events from. (The fast variant is the large one, with its
/// element names in place: it is the one used, and the reader is not moved while reading.)
#[allow(clippy::large_enum_variant)]
enum Source<'a> {
    /// quick-xml: any input, with its error messages.
    Quick(Reader<&'a [u8]>),
    /// The fast tokenizer for the plain documents clients send (see [`Fast`]).
    Fast(Fast<'a>),
    /// A WBXML document's tokens.
    Wbxml(super::wbxml::Events<'a>),
}

/// One piece of the document, as the readers below take it.
pub(super) enum Ev<'a> {
    /// A start tag, or a self-closing one (`empty` set).
    Start(Child<'a>),
    /// An end tag.
    End,
    /// Text with its line ends normalised (references come apart).
    Text(Cow<'a, str>),
    /// The content of a CDATA section.
    CData(Cow<'a, str>),
    /// An entity or character reference.
    Ref(BytesRef<'a>),
    /// A comment or a processing instruction.
    Comment,
    /// The XML declaration or a DOCTYPE.
    Decl,
    /// The end of the input.
    Eof,
}

impl<'a> XmlIn<'a> {
    /// A reader over `input` enforcing `limits`.
    /// quick-xml checks UTF-8 on every piece it hands out, so the input is not validated
    /// twice up front.
    pub fn new(input: &'a [u8], limits: Limits) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        XmlIn {
            source: Source::Quick(reader),
            limits,
            depth: 0,
            elements: 0,
        }
    }

    /// A reader over `input` on the fast tokenizer, or `None` when `input` is not UTF-8 (or
    /// starts with a byte order mark). The fast tokenizer gives up with an error on anything
    /// outside the plain subset it knows; any error read from it means "decode again with
    /// [`XmlIn::new`]", which gives the same value for every document the fast one reads.
    pub(crate) fn fast(input: &'a [u8], limits: Limits) -> Option<Self> {
        let fast = Fast::new(input)?;
        Some(XmlIn {
            source: Source::Fast(fast),
            limits,
            depth: 0,
            elements: 0,
        })
    }

    /// A reader over WBXML document `input` enforcing `limits`: the typed decoders read it
    /// as they read XML.
    pub(crate) fn wbxml(input: &'a [u8], limits: Limits) -> Self {
        XmlIn {
            source: Source::Wbxml(super::wbxml::Events::new(input)),
            limits,
            depth: 0,
            elements: 0,
        }
    }

    fn event(&mut self, element: &str) -> Result<Ev<'a>, DecodeError> {
        match &mut self.source {
            Source::Wbxml(events) => events.next(),
            Source::Fast(fast) => match fast.next() {
                Some(ev) => Ok(ev),
                None => Err(given_up(element)),
            },
            Source::Quick(reader) => quick_event(reader, element),
        }
    }

    /// Counts the element `child` starts against the limits.
    #[inline(always)]
    fn enter(&mut self, child: &Child<'_>) -> Result<(), DecodeError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(DecodeError::new(
                child.local(),
                DecodeReason::TooManyElements,
            ));
        }
        if self.depth + 1 > self.limits.max_depth {
            return Err(DecodeError::new(child.local(), DecodeReason::TooDeep));
        }
        if !child.empty {
            self.depth += 1;
        }
        Ok(())
    }

    /// Reads up to the root element and returns its start tag.
    pub fn root(&mut self) -> Result<Child<'a>, DecodeError> {
        loop {
            match self.event("")? {
                Ev::Start(child) => {
                    self.enter(&child)?;
                    return Ok(child);
                }
                Ev::Eof => return Err(DecodeError::new("", DecodeReason::NoRoot)),
                Ev::Text(t) if !t.trim().is_empty() => {
                    return Err(DecodeError::new(
                        "",
                        DecodeReason::Malformed("text before the root element".into()),
                    ));
                }
                _ => {}
            }
        }
    }

    /// Reads the next child start tag of the element `parent`, or `None` at its end tag.
    /// Text between children is ignored (it is only layout whitespace in CSP).
    pub fn next_child(&mut self, parent: &str) -> Result<Option<Child<'a>>, DecodeError> {
        if let Source::Fast(fast) = &mut self.source {
            return match fast.next_child() {
                Ok(Some(child)) => {
                    self.enter(&child)?;
                    Ok(Some(child))
                }
                Ok(None) => {
                    self.depth = self.depth.saturating_sub(1);
                    Ok(None)
                }
                Err(()) => Err(given_up(parent)),
            };
        }
        loop {
            match self.event(parent)? {
                Ev::Start(child) => {
                    self.enter(&child)?;
                    return Ok(Some(child));
                }
                Ev::End => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(None);
                }
                Ev::Eof => return Err(DecodeError::new(parent, DecodeReason::UnexpectedEof)),
                _ => {}
            }
        }
    }

    /// Reads the text content of `child` (named `name`) up to its end tag. Character and
    /// predefined entity references are resolved; nested elements are skipped.
    /// The text borrows from the input when it is one plain piece (the common case).
    pub fn read_text(
        &mut self,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Cow<'a, str>, DecodeError> {
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        if child.empty {
            return Ok(text);
        }
        if let Source::Fast(fast) = &mut self.source
            && let Some(plain) = fast.leaf_text()
        {
            // What the loop below makes of one text event and the end tag.
            self.depth = self.depth.saturating_sub(1);
            if plain.len() > self.limits.max_text {
                return Err(DecodeError::new(name, DecodeReason::TextTooLong));
            }
            check_text(name, plain)?;
            return Ok(Cow::Borrowed(plain));
        }
        loop {
            match self.event(name)? {
                Ev::Text(t) | Ev::CData(t) => append(&mut text, t),
                Ev::Ref(r) => text.to_mut().push(resolve_ref(name, &r)?),
                Ev::Start(nested) => {
                    self.enter(&nested)?;
                    self.skip(&nested)?;
                }
                Ev::End => {
                    self.depth = self.depth.saturating_sub(1);
                    break;
                }
                Ev::Eof => return Err(DecodeError::new(name, DecodeReason::UnexpectedEof)),
                _ => {}
            }
            if text.len() > self.limits.max_text {
                return Err(DecodeError::new(name, DecodeReason::TextTooLong));
            }
        }
        check_text(name, &text)?;
        Ok(text)
    }

    /// Reads the next piece of an element that may hold text or children (1.2 text vs 1.3
    /// structured forms of the same element): the text read on the way, then the next child
    /// start tag or `None` at the element's end.
    pub fn read_text_or_child(
        &mut self,
        name: &str,
    ) -> Result<(String, Option<Child<'a>>), DecodeError> {
        let mut text = String::new();
        loop {
            match self.event(name)? {
                Ev::Text(t) | Ev::CData(t) => text.push_str(&t),
                Ev::Ref(r) => text.push(resolve_ref(name, &r)?),
                Ev::Start(child) => {
                    self.enter(&child)?;
                    check_text(name, &text)?;
                    return Ok((text, Some(child)));
                }
                Ev::End => {
                    self.depth = self.depth.saturating_sub(1);
                    check_text(name, &text)?;
                    return Ok((text, None));
                }
                Ev::Eof => return Err(DecodeError::new(name, DecodeReason::UnexpectedEof)),
                _ => {}
            }
            if text.len() > self.limits.max_text {
                return Err(DecodeError::new(name, DecodeReason::TextTooLong));
            }
        }
    }

    /// Skips `child`'s content up to and including its end tag.
    pub fn skip(&mut self, child: &Child<'_>) -> Result<(), DecodeError> {
        if child.empty {
            return Ok(());
        }
        let name = child.local().to_owned();
        while let Some(grandchild) = self.next_child(&name)? {
            self.skip(&grandchild)?;
        }
        Ok(())
    }

    /// Reads `child` whole into a [`RawElement`], for elements the typed model does not know.
    pub fn capture(&mut self, child: &Child<'_>) -> Result<RawElement, DecodeError> {
        // Raw elements are written back as they came, so their names and values must be ones
        // that can be written back: refuse what would not survive (fuzzing found these).
        let name = child.full_name();
        let bad = |what: &str| DecodeError::new(name, DecodeReason::Malformed(what.to_owned()));
        if !is_name(name) {
            return Err(bad("invalid element name"));
        }
        let mut attributes = Vec::new();
        for a in child.start.attributes().with_checks(false) {
            let a = a.map_err(|e| bad(&e.to_string()))?;
            let k: &str = a.key.as_ref();
            if !is_name(k) {
                return Err(bad("invalid attribute name"));
            }
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| bad(&e.to_string()))?;
            check_text(name, &v)?;
            attributes.push((k.to_owned(), v.into_owned()));
        }
        let mut raw = RawElement {
            name: name.to_owned(),
            attributes,
            children: Vec::new(),
        };
        if child.empty {
            return Ok(raw);
        }
        let name = child.local().to_owned();
        let mut text = String::new();
        loop {
            match self.event(&name)? {
                Ev::Text(t) | Ev::CData(t) => text.push_str(&t),
                Ev::Ref(r) => text.push(resolve_ref(&name, &r)?),
                Ev::Start(nested) => {
                    flush_text(&name, &mut text, &mut raw.children)?;
                    self.enter(&nested)?;
                    let inner = self.capture(&nested)?;
                    raw.children.push(RawNode::Element(inner));
                }
                Ev::End => {
                    self.depth = self.depth.saturating_sub(1);
                    break;
                }
                Ev::Eof => return Err(DecodeError::new(&name, DecodeReason::UnexpectedEof)),
                _ => {}
            }
            if text.len() > self.limits.max_text {
                return Err(DecodeError::new(&name, DecodeReason::TextTooLong));
            }
        }
        flush_text(&name, &mut text, &mut raw.children)?;
        Ok(raw)
    }

    // ---- the usual envelope ----------------------------------------------------------
    //
    // Steps for reading the envelope every client writes by comparing bytes (see
    // `envelope::decode_usual`). Each reads what the general reading would read and counts
    // it alike; `None` means "not the usual shape" (nothing more is to be read from this
    // reader: decoding starts over the general way).

    /// The fast tokenizer, positioned after XML whitespace.
    fn usual_source(&mut self) -> Option<&mut Fast<'a>> {
        match &mut self.source {
            Source::Fast(fast) => {
                fast.skip_space();
                Some(fast)
            }
            Source::Quick(_) | Source::Wbxml(_) => None,
        }
    }

    /// An optional XML declaration and the root start tag as written by the usual clients,
    /// `<WV-CSP-Message xmlns="…">` with the CSP namespace of a version: that version.
    pub(crate) fn usual_root(&mut self) -> Option<Version> {
        const OPEN: &str = "<WV-CSP-Message xmlns=\"";
        let fast = self.usual_source()?;
        if fast.input.as_bytes().get(fast.pos..fast.pos + 2) == Some(b"<?") {
            fast.instruction()?;
            fast.skip_space();
        }
        let after = fast.input.get(fast.pos..)?.strip_prefix(OPEN)?;
        let (version, uri) = Version::ALL.iter().find_map(|v| {
            let uri = super::Ns::Csp.uri(*v);
            let rest = after.strip_prefix(uri)?;
            rest.starts_with("\">").then_some((*v, uri))
        })?;
        // `WV-CSP-Message xmlns="…"` up to the `>`.
        fast.pos += OPEN.len() + uri.len() + 2;
        fast.started = true;
        fast.open.push("WV-CSP-Message");
        self.count_start()?;
        Some(version)
    }

    /// The start tag `<name>` (no prefix; with `attributes`, any attributes), not
    /// self-closing.
    #[inline(always)]
    pub(crate) fn usual_start(&mut self, name: &'static str, attributes: bool) -> Option<()> {
        let fast = self.usual_source()?;
        let bytes = fast.input.as_bytes();
        let from = fast.pos + 1;
        let end = from + name.len();
        if bytes.get(fast.pos) == Some(&b'<')
            && bytes.get(from..end) == Some(name.as_bytes())
            && bytes.get(end) == Some(&b'>')
        {
            fast.pos = end + 1;
            fast.started = true;
            fast.open.push(name);
        } else if attributes && bytes.get(fast.pos) == Some(&b'<') {
            let child = fast.start_tag()?;
            if child.empty || child.local != (0, name.len()) || child.local() != name {
                return None;
            }
        } else {
            return None;
        }
        self.count_start()
    }

    /// What [`XmlIn::enter`] counts for a start tag that is not self-closing (`None` where
    /// it refuses).
    #[inline(always)]
    fn count_start(&mut self) -> Option<()> {
        self.elements += 1;
        if self.elements > self.limits.max_elements || self.depth + 1 > self.limits.max_depth {
            return None;
        }
        self.depth += 1;
        Some(())
    }

    /// Whether the next start tag, after XML whitespace, is `<name>`.
    #[inline(always)]
    pub(crate) fn usual_next(&mut self, name: &str) -> bool {
        let Some(fast) = self.usual_source() else {
            return false;
        };
        let bytes = fast.input.as_bytes();
        let end = fast.pos + 1 + name.len();
        bytes.get(fast.pos) == Some(&b'<')
            && bytes.get(fast.pos + 1..end) == Some(name.as_bytes())
            && bytes.get(end) == Some(&b'>')
    }

    /// The end tag of the innermost element.
    #[inline(always)]
    pub(crate) fn usual_end(&mut self) -> Option<()> {
        let fast = self.usual_source()?;
        if fast.input.as_bytes().get(fast.pos..fast.pos + 2) != Some(b"</") {
            return None;
        }
        fast.end_tag()?;
        self.depth = self.depth.saturating_sub(1);
        Some(())
    }

    /// The text of the element just started (one plain non-empty piece) and its end tag:
    /// what [`XmlIn::read_text`] reads, as long as it reads no error.
    pub(crate) fn usual_text(&mut self) -> Option<&'a str> {
        let Source::Fast(fast) = &mut self.source else {
            return None;
        };
        let text = fast.leaf_text()?;
        if text.is_empty() || text.len() > self.limits.max_text || has_forbidden_control(text) {
            return None;
        }
        self.depth = self.depth.saturating_sub(1);
        Some(text)
    }

    /// Checks that nothing but comments and whitespace follows the root element.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.event("")? {
                Ev::Eof => return Ok(()),
                Ev::Text(t) if t.trim().is_empty() => {}
                Ev::Comment => {}
                _ => {
                    return Err(DecodeError::new(
                        "",
                        DecodeReason::Malformed("content after the root element".into()),
                    ));
                }
            }
        }
    }
}

/// The next event from quick-xml.
#[inline(never)]
fn quick_event<'a>(reader: &mut Reader<&'a [u8]>, element: &str) -> Result<Ev<'a>, DecodeError> {
    match reader.read_event() {
        Ok(e) => Ok(match e {
            Event::Start(start) => Ev::Start(Child::new(start, false)),
            Event::Empty(start) => Ev::Start(Child::new(start, true)),
            Event::End(_) => Ev::End,
            Event::Text(t) => Ev::Text(t.xml10_content()),
            Event::CData(c) => Ev::CData(c.xml10_content()),
            Event::GeneralRef(r) => Ev::Ref(r),
            Event::Comment(_) | Event::PI(_) => Ev::Comment,
            Event::Decl(_) | Event::DocType(_) => Ev::Decl,
            Event::Eof => Ev::Eof,
        }),
        Err(e) => {
            let reason = match e {
                quick_xml::Error::Encoding(_) => DecodeReason::NotUtf8,
                other => DecodeReason::Malformed(other.to_string()),
            };
            Err(DecodeError::new(element, reason))
        }
    }
}

/// The error read from the fast tokenizer where it gives up (the document is then decoded
/// again with quick-xml, which words the report).
#[cold]
#[inline(never)]
fn given_up(element: &str) -> DecodeError {
    DecodeError::new(element, DecodeReason::Malformed(String::new()))
}

/// A tokenizer for the plain XML that clients send, much cheaper than quick-xml: the input
/// is checked to be UTF-8 once, names of open elements are borrowed from it, end tags are
/// matched by comparing bytes. It yields exactly the events quick-xml (as [`XmlIn::new`]
/// configures it) yields for the same input, and gives up (`None`) wherever it is not sure
/// to: CDATA sections, DOCTYPE, processing instructions after the root's start, references
/// not closed by `;`, and anything quick-xml would refuse.
struct Fast<'a> {
    input: &'a str,
    pos: usize,
    /// Names of the elements open, innermost last.
    open: Open<'a>,
    /// A start tag has been read (processing instructions are only accepted before).
    started: bool,
    /// End of input reached: only `Eof` follows.
    done: bool,
    /// The input holds a carriage return (text needs its line ends normalised).
    has_cr: bool,
}

impl<'a> Fast<'a> {
    fn new(input: &'a [u8]) -> Option<Self> {
        // quick-xml drops a UTF-8 byte order mark: leave such input to it.
        if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return None;
        }
        let input = simdutf8::basic::from_utf8(input).ok()?;
        Some(Fast {
            input,
            pos: 0,
            open: Open::default(),
            started: false,
            done: false,
            has_cr: memchr::memchr(b'\r', input.as_bytes()).is_some(),
        })
    }

    fn next(&mut self) -> Option<Ev<'a>> {
        if self.done {
            return Some(Ev::Eof);
        }
        let bytes = self.input.as_bytes();
        let Some(&first) = bytes.get(self.pos) else {
            self.done = true;
            return Some(Ev::Eof);
        };
        match first {
            b'<' => match bytes.get(self.pos + 1) {
                Some(b'/') => self.end_tag().map(|()| Ev::End),
                Some(b'!') => self.comment().map(|()| Ev::Comment),
                // Before the root element the declaration and instructions are all skipped.
                Some(b'?') => self.instruction().map(|()| Ev::Comment),
                Some(_) => self.start_tag().map(Ev::Start),
                None => None,
            },
            b'&' => self.reference().map(|name| Ev::Ref(BytesRef::new(name))),
            _ => {
                let text = self.text()?;
                Some(Ev::Text(if self.has_cr {
                    BytesText::from_escaped(text).xml10_content()
                } else {
                    Cow::Borrowed(text)
                }))
            }
        }
    }

    /// [`XmlIn::next_child`] without events: the next child's start tag, or `None` at the
    /// parent's end tag (text, references and comments between are skipped, as there).
    /// `Err` means give up.
    #[inline(always)]
    fn next_child(&mut self) -> Result<Option<Child<'a>>, ()> {
        loop {
            let bytes = self.input.as_bytes();
            // The end of input inside an element is an error.
            let &first = bytes.get(self.pos).ok_or(())?;
            match first {
                b'<' => match bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        self.end_tag().ok_or(())?;
                        return Ok(None);
                    }
                    Some(b'!') => self.comment().ok_or(())?,
                    Some(b'?') | None => return Err(()),
                    Some(_) => return self.start_tag().map(Some).ok_or(()),
                },
                b'&' => {
                    self.reference().ok_or(())?;
                }
                _ => {
                    self.text().ok_or(())?;
                }
            }
        }
    }

    /// The text of an element holding one plain piece of text (nothing to normalise) and
    /// its end tag, which are read; `None` (nothing read) for any other content.
    fn leaf_text(&mut self) -> Option<&'a str> {
        if self.has_cr {
            return None;
        }
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        let i = markup_or_reference(bytes, pos)? - pos;
        let expected = self.open.last()?;
        let name_at = pos + i + 2;
        let name_end = name_at + expected.len();
        if bytes.get(pos + i..name_at) != Some(b"</")
            || bytes.get(name_at..name_end) != Some(expected.as_bytes())
            || bytes.get(name_end) != Some(&b'>')
        {
            return None;
        }
        let text = self.input.get(pos..pos + i)?;
        self.open.pop();
        self.pos = name_end + 1;
        Some(text)
    }

    /// Skips XML whitespace.
    fn skip_space(&mut self) {
        let bytes = self.input.as_bytes();
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Text up to the next markup or reference (or the end of input).
    fn text(&mut self) -> Option<&'a str> {
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        let end = match markup_or_reference(bytes, pos) {
            Some(i) => i,
            None => {
                self.done = true;
                bytes.len()
            }
        };
        self.pos = end;
        self.input.get(pos..end)
    }

    /// `&name;` (its name): anything else quick-xml refuses (a dangling `&`).
    fn reference(&mut self) -> Option<&'a str> {
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        let rest = bytes.get(pos + 1..)?;
        let i = memchr::memchr3(b';', b'&', b'<', rest)?;
        if rest.get(i) != Some(&b';') {
            return None;
        }
        self.pos = pos + i + 2;
        self.input.get(pos + 1..pos + 1 + i)
    }

    /// An end tag, which must close the innermost open element.
    #[inline(always)]
    fn end_tag(&mut self) -> Option<()> {
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        let expected = self.open.pop()?;
        let name_end = pos + 2 + expected.len();
        // The usual `</Name>`: compared in place (names hold no quotes, see below).
        if bytes.get(pos + 2..name_end) == Some(expected.as_bytes())
            && bytes.get(name_end) == Some(&b'>')
        {
            self.pos = name_end + 1;
            return Some(());
        }
        let end = tag_end(bytes, pos)?;
        let name = self.input.get(pos + 2..end)?.trim_end_matches(is_xml_space);
        if name != expected {
            return None;
        }
        self.pos = end + 1;
        Some(())
    }

    /// A comment: it ends at the first `-->` after `<!--` (`<!-->` does not end it). CDATA
    /// sections and DOCTYPE are left to quick-xml.
    fn comment(&mut self) -> Option<()> {
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        if bytes.get(pos + 2..pos + 4) != Some(b"--") {
            return None;
        }
        let rest = bytes.get(pos + 4..)?;
        let i = memchr::memmem::find(rest, b"-->")?;
        self.pos = pos + 4 + i + 3;
        Some(())
    }

    /// The XML declaration or a processing instruction, before the root element only.
    fn instruction(&mut self) -> Option<()> {
        if self.started {
            return None;
        }
        let bytes = self.input.as_bytes();
        let pos = self.pos;
        // The first `>` after a `?` ends it, the `?` of `<?` included (`<?>` is an error).
        let rest = bytes.get(pos + 1..)?;
        let i =
            memchr::memchr_iter(b'>', rest).find(|&i| i > 0 && rest.get(i - 1) == Some(&b'?'))?;
        if i == 1 {
            return None;
        }
        self.pos = pos + i + 2;
        Some(())
    }

    /// A start tag or a self-closing one.
    #[inline(always)]
    fn start_tag(&mut self) -> Option<Child<'a>> {
        let input = self.input;
        let bytes = input.as_bytes();
        // The name runs to XML whitespace, as quick-xml counts it; a quote in it is left to
        // quick-xml, whose end tag reading would differ from the comparison in `end_tag`.
        let from = self.pos + 1;
        let mut i = from;
        let mut colon = None;
        let stop = loop {
            i = below_64(bytes, i);
            let &b = bytes.get(i)?;
            if TAG_STOP >> b & 1 != 0 {
                match b {
                    b'>' | b' ' | b'\t' | b'\r' | b'\n' => break b,
                    b':' => colon = Some(i),
                    _ => return None,
                }
            }
            i += 1;
        };
        self.started = true;
        let local_from = colon.map_or(0, |c| c + 1 - from);
        if stop == b'>' {
            self.pos = i + 1;
            let tag = input.get(from..i)?;
            if let Some(tag) = tag.strip_suffix('/') {
                let start = BytesStart::from_content(tag, tag.len());
                let local = (local_from.min(tag.len()), tag.len());
                return Some(Child {
                    start,
                    empty: true,
                    local,
                });
            }
            self.open.push(tag);
            let start = BytesStart::from_content(tag, tag.len());
            let local = (local_from, tag.len());
            return Some(Child {
                start,
                empty: false,
                local,
            });
        }
        // Attributes follow the name.
        let name_len = i - from;
        let end = tag_end(bytes, i)?;
        self.pos = end + 1;
        let content = input.get(from..end)?;
        let local = (local_from, name_len);
        if let Some(content) = content.strip_suffix('/') {
            let start = BytesStart::from_content(content, name_len);
            return Some(Child {
                start,
                empty: true,
                local,
            });
        }
        self.open.push(input.get(from..i)?);
        let start = BytesStart::from_content(content, name_len);
        Some(Child {
            start,
            empty: false,
            local,
        })
    }
}

/// Bytes that end or matter in an element name, as a bit set of the bytes below 64: XML
/// whitespace, `>`, quotes, and `:` (the prefix separator).
const TAG_STOP: u64 = 1 << b'>'
    | 1 << b' '
    | 1 << b'\t'
    | 1 << b'\r'
    | 1 << b'\n'
    | 1 << b'"'
    | 1 << b'\''
    | 1 << b':';

/// The position of the first byte below 64 from `from` on (`bytes.len()` if none): names are
/// mostly letters, so they are skipped 8 bytes at a time.
fn below_64(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The high bit of every byte below 64 (and perhaps of bytes after the first one,
        // through the borrow): the lowest one set is exact.
        let low = w.wrapping_sub(ONES * 64) & !w & (ONES * 128);
        if low != 0 {
            return i + (low.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b < 64 {
            return i;
        }
        i += 1;
    }
    i
}

/// The position of the first `<` or `&` from `from` on. Most text is short: its first bytes
/// are looked at a word at a time before memchr takes over.
fn markup_or_reference(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = from;
    for _ in 0..2 {
        let Some(chunk) = bytes.get(i..i + 8) else {
            break;
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Zero bytes of `w ^ c` are the bytes equal to `c`; the lowest flag of each is exact.
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & (ONES * 0x80);
        let found = zero(w ^ (ONES * u64::from(b'<'))) | zero(w ^ (ONES * u64::from(b'&')));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr2(b'<', b'&', bytes.get(i..)?).map(|k| i + k)
}

/// The position of the `>` ending the tag whose bytes from `from` on are not yet read
/// (quick-xml's rule: the first `>` outside quoted attribute values).
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        match *bytes.get(i)? {
            b'>' => return Some(i),
            // A quoted value runs to the same quote.
            quote @ (b'"' | b'\'') => i += 1 + memchr::memchr(quote, bytes.get(i + 1..)?)?,
            _ => {}
        }
        i += 1;
    }
}

/// The names of the open elements, innermost last: the first ones in place (CSP nests
/// about a dozen deep), any deeper ones on the heap.
#[derive(Default)]
struct Open<'a> {
    near: [&'a str; 16],
    len: usize,
    deeper: Vec<&'a str>,
}

impl<'a> Open<'a> {
    fn push(&mut self, name: &'a str) {
        match self.near.get_mut(self.len) {
            Some(slot) if self.deeper.is_empty() => {
                *slot = name;
                self.len += 1;
            }
            _ => self.deeper.push(name),
        }
    }

    fn pop(&mut self) -> Option<&'a str> {
        if let Some(name) = self.deeper.pop() {
            return Some(name);
        }
        self.len = self.len.checked_sub(1)?;
        self.near.get(self.len).copied()
    }

    fn last(&self) -> Option<&'a str> {
        match self.deeper.last() {
            Some(name) => Some(name),
            None => self.near.get(self.len.checked_sub(1)?).copied(),
        }
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\r' | '\n' | '\t')
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

fn resolve_ref(name: &str, r: &quick_xml::events::BytesRef<'_>) -> Result<char, DecodeError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => {}
        Err(e) => {
            return Err(DecodeError::new(
                name,
                DecodeReason::Malformed(e.to_string()),
            ));
        }
    }
    let entity: &str = r.as_ref();
    match entity {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(DecodeError::new(
            name,
            DecodeReason::UnknownEntity(other.to_owned()),
        )),
    }
}

/// Keeps text found in a raw element, dropping pure layout whitespace between children.
fn check_text(element: &str, text: &str) -> Result<(), DecodeError> {
    if has_forbidden_control(text) {
        return Err(DecodeError::new(
            element,
            DecodeReason::Malformed("control character not allowed in XML".into()),
        ));
    }
    Ok(())
}

fn flush_text(
    element: &str,
    text: &mut String,
    children: &mut Vec<RawNode>,
) -> Result<(), DecodeError> {
    check_text(element, text)?;
    if !text.is_empty() {
        let t = std::mem::take(text);
        if !t.trim().is_empty() || children.is_empty() {
            children.push(RawNode::Text(t));
        }
    }
    Ok(())
}

/// An element the typed model does not know (a vendor extension, a newer version's element),
/// kept whole so that re-encoding the message loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawElement {
    /// The element's name as written (with any prefix).
    pub name: String,
    /// Its attributes in document order (name as written, unescaped value).
    pub attributes: Vec<(String, String)>,
    /// Its content in document order.
    pub children: Vec<RawNode>,
}

/// A piece of a [`RawElement`]'s content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawNode {
    /// A child element.
    Element(RawElement),
    /// Text (references resolved).
    Text(String),
}

impl RawElement {
    /// Writes the element back out.
    pub fn encode(&self, w: &mut XmlOut) {
        // Its name is kept as written: in WBXML, a spelling the tables only know as an alias
        // of another goes as a literal (a token would read back in the other spelling).
        match &mut w.wbxml {
            Some(wb) => wb.open_exact(&self.name),
            None => w.open(&self.name),
        }
        for (k, v) in &self.attributes {
            w.attribute(k, v);
        }
        for child in &self.children {
            match child {
                RawNode::Element(e) => e.encode(w),
                RawNode::Text(t) => w.text(t),
            }
        }
        w.close(&self.name);
    }

    /// The element's local name (prefix stripped).
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    /// The concatenated text content (direct text children only).
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| {
                if let RawNode::Text(t) = c {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect()
    }
}

/// An XML writer into a byte buffer, aware of the CSP version it writes for.
pub struct XmlOut {
    buf: Vec<u8>,
    /// The CSP version whose namespaces and layout are written.
    pub version: Version,
    open_tag: bool,
    /// In WBXML mode, the writer every call goes to instead.
    wbxml: Option<Box<super::wbxml::Writer>>,
}

impl XmlOut {
    /// A writer for `version` with room for `capacity` bytes.
    pub fn new(version: Version, capacity: usize) -> Self {
        XmlOut {
            buf: Vec::with_capacity(capacity),
            version,
            open_tag: false,
            wbxml: None,
        }
    }

    /// A writer of WBXML for `version`: the same calls write tokens (CSP-REFERENCE §6).
    pub fn wbxml(version: Version) -> Self {
        XmlOut {
            buf: Vec::new(),
            version,
            open_tag: false,
            wbxml: Some(Box::new(super::wbxml::Writer::new(version))),
        }
    }

    /// Whether this writer writes WBXML.
    pub fn is_wbxml(&self) -> bool {
        self.wbxml.is_some()
    }

    /// The written bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self.wbxml {
            Some(w) => w.into_bytes(),
            None => self.buf,
        }
    }

    fn seal(&mut self) {
        if self.open_tag {
            self.buf.push(b'>');
            self.open_tag = false;
        }
    }

    /// Writes raw markup (the XML declaration). In WBXML mode the markup is read and its
    /// elements written as tokens (an XML declaration has none).
    pub fn raw(&mut self, s: &str) {
        if self.wbxml.is_some() {
            self.markup_as_tokens(s);
            return;
        }
        self.seal();
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Starts element `name`; attributes may follow until content is written.
    pub fn open(&mut self, name: &str) {
        if let Some(w) = &mut self.wbxml {
            return w.open(name);
        }
        self.seal();
        self.buf.push(b'<');
        self.buf.extend_from_slice(name.as_bytes());
        self.open_tag = true;
    }

    /// Adds an attribute to the element just opened.
    pub fn attribute(&mut self, key: &str, value: &str) {
        if let Some(w) = &mut self.wbxml {
            return w.attribute(key, value);
        }
        if !self.open_tag {
            return;
        }
        self.buf.push(b' ');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"=\"");
        escape_into(&mut self.buf, value, true);
        self.buf.push(b'"');
    }

    /// Ends element `name` (self-closing when it got no content).
    pub fn close(&mut self, name: &str) {
        if let Some(w) = &mut self.wbxml {
            return w.close();
        }
        if self.open_tag {
            self.buf.extend_from_slice(b"/>");
            self.open_tag = false;
        } else {
            self.buf.extend_from_slice(b"</");
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.push(b'>');
        }
    }

    /// Writes escaped text content.
    pub fn text(&mut self, text: &str) {
        if let Some(w) = &mut self.wbxml {
            return w.text(text);
        }
        self.seal();
        escape_into(&mut self.buf, text, false);
    }

    /// Writes text content that needs no escaping (checked at compile time by callers with
    /// [`plain`]).
    pub(crate) fn plain_text(&mut self, text: &'static str) {
        if let Some(w) = &mut self.wbxml {
            return w.text(text);
        }
        self.seal();
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// Writes `v` in decimal as text content (digits need no escaping).
    pub(crate) fn number(&mut self, v: u64) {
        let n = itoa_u64(v);
        if let Some(w) = &mut self.wbxml {
            let digits = n.digits.get(n.start..).unwrap_or_default();
            return w.text(std::str::from_utf8(digits).unwrap_or_default());
        }
        self.seal();
        self.buf
            .extend_from_slice(n.digits.get(n.start..).unwrap_or_default());
    }

    /// Adds a namespace attribute to the element just opened: the namespace URIs need no
    /// escaping (a test checks them).
    pub(crate) fn namespace(&mut self, uri: &'static str) {
        if let Some(w) = &mut self.wbxml {
            return w.attribute("xmlns", uri);
        }
        if !self.open_tag {
            return;
        }
        self.buf.extend_from_slice(b" xmlns=\"");
        self.buf.extend_from_slice(uri.as_bytes());
        self.buf.push(b'"');
    }

    /// Writes the elements of XML `markup` as WBXML tokens (a primitive kept encoded as XML).
    /// Markup this crate wrote reads back; anything else is dropped rather than written wrong.
    #[cold]
    fn markup_as_tokens(&mut self, markup: &str) {
        let mut r = XmlIn::new(markup.as_bytes(), Limits::default());
        while let Ok(child) = r.root() {
            match r.capture(&child) {
                Ok(raw) => raw.encode(self),
                Err(_) => return,
            }
        }
    }

    /// Writes `<name>text</name>`.
    pub fn text_element(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }
}

fn escape_into(buf: &mut Vec<u8>, text: &str, attribute: bool) {
    let bytes = text.as_bytes();
    // Control bytes: `\r` always (a literal one would read back as `\n`), `\t` and `\n` in
    // attributes (normalised to spaces when read back), other C0 bytes are not XML at all.
    let is_control = |b: u8| b < 0x20 && (attribute || (b != b'\t' && b != b'\n'));
    // Most values need no escaping: find that out with one pass over all bytes, without
    // early exit so that it vectorises, and copy in one go.
    let special = |b: u8| is_control(b) || b == b'&' || b == b'<' || b == b'>';
    let any = if attribute {
        bytes
            .iter()
            .fold(false, |any, &b| any | special(b) | (b == b'"'))
    } else {
        bytes.iter().fold(false, |any, &b| any | special(b))
    };
    if !any {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' if attribute => b"&quot;",
            b'\r' => b"&#13;",
            b'\n' if attribute => b"&#10;",
            b'\t' if attribute => b"&#9;",
            // Not representable in XML 1.0: the replacement character stands in.
            b if is_control(b) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        buf.extend_from_slice(bytes.get(last..i).unwrap_or_default());
        buf.extend_from_slice(rep);
        last = i + 1;
    }
    buf.extend_from_slice(bytes.get(last..).unwrap_or_default());
}

/// Whether `text` is written as it is by [`XmlOut::text`] (no byte escaped or replaced), for
/// compile-time checks of fixed texts.
pub(crate) const fn plain(text: &str) -> bool {
    let mut bytes = text.as_bytes();
    while let [b, rest @ ..] = bytes {
        if matches!(*b, b'&' | b'<' | b'>' | b'\r') || (*b < 0x20 && *b != b'\t' && *b != b'\n') {
            return false;
        }
        bytes = rest;
    }
    true
}

/// Whether `s` holds a C0 control character XML 1.0 does not allow (all but tab, LF, CR).
fn has_forbidden_control(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let forbidden = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Some byte below 0x20 (whitespace included): look at them one by one.
        if w.wrapping_sub(ONES * 0x20) & !w & (ONES * 0x80) != 0
            && chunk.iter().any(|&b| forbidden(b))
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| forbidden(b))
}

/// Whether `name` can be written back as an element or attribute name: non-empty, and none
/// of the bytes that would end or break a tag.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().any(|b| {
            b <= b' '
                || matches!(
                    b,
                    b'<' | b'>' | b'&' | b'"' | b'\'' | b'=' | b'/' | b'!' | b'?'
                )
        })
}

/// A value that can be read from and written as one XML element.
pub trait XmlValue: Sized {
    /// Decodes the element whose start tag `child` (named `name`) was just read, up to its end.
    /// `Ok(None)` means "absent": an empty element where a text value was expected.
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError>;
    /// Writes the value as element `name`.
    fn encode(&self, name: &str, w: &mut XmlOut);

    /// [`XmlValue::decode`] into `slot` (empty before). The typed structs decode in place
    /// rather than through return values: they are large.
    #[doc(hidden)]
    fn decode_into(
        slot: &mut Option<Self>,
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<(), DecodeError> {
        *slot = Self::decode(r, name, child)?;
        Ok(())
    }

    /// [`XmlValue::decode`] into a box, absent as the default (primitives).
    #[doc(hidden)]
    fn decode_boxed(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Box<Self>, DecodeError>
    where
        Self: Default,
    {
        Ok(Box::new(Self::decode(r, name, child)?.unwrap_or_default()))
    }
}

/// A value carried as element text.
pub trait TextValue: Sized {
    /// Parses the element text; `Err` carries the offending text.
    fn parse_text(text: Cow<'_, str>) -> Result<Self, String>;
    /// Writes the value as element text.
    fn write_text(&self, w: &mut XmlOut);
}

macro_rules! text_xml_value {
    ($($t:ty),*) => {$(
        impl $crate::codec::xml::XmlValue for $t {
            fn decode(r: &mut $crate::codec::xml::XmlIn<'_>, name: &str, child: &$crate::codec::xml::Child<'_>) -> Result<Option<Self>, $crate::codec::xml::DecodeError> {
                let text = r.read_text(name, child)?;
                if text.is_empty() {
                    return Ok(None);
                }
                <$t as $crate::codec::xml::TextValue>::parse_text(text)
                    .map(Some)
                    .map_err(|v| $crate::codec::xml::DecodeError::new(name, $crate::codec::xml::DecodeReason::InvalidValue(v)))
            }
            fn encode(&self, name: &str, w: &mut $crate::codec::xml::XmlOut) {
                w.open(name);
                <$t as $crate::codec::xml::TextValue>::write_text(self, w);
                w.close(name);
            }
        }
    )*};
}
pub(crate) use text_xml_value;

impl TextValue for String {
    fn parse_text(text: Cow<'_, str>) -> Result<Self, String> {
        Ok(text.into_owned())
    }
    fn write_text(&self, w: &mut XmlOut) {
        w.text(self);
    }
}

impl TextValue for bool {
    fn parse_text(text: Cow<'_, str>) -> Result<Self, String> {
        match text.trim() {
            "T" | "t" | "true" | "TRUE" | "True" | "1" => Ok(true),
            "F" | "f" | "false" | "FALSE" | "False" | "0" => Ok(false),
            _ => Err(text.into_owned()),
        }
    }
    fn write_text(&self, w: &mut XmlOut) {
        w.plain_text(if *self { "T" } else { "F" });
    }
}

/// Parses a CSP integer: decimal, or `0x` hexadecimal as libwbxml accepts (CSP-REFERENCE §6.5).
fn parse_uint(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        t.parse().ok()
    }
}

impl TextValue for u32 {
    fn parse_text(text: Cow<'_, str>) -> Result<Self, String> {
        parse_uint(&text)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| text.into_owned())
    }
    fn write_text(&self, w: &mut XmlOut) {
        w.number(u64::from(*self));
    }
}

impl TextValue for u64 {
    fn parse_text(text: Cow<'_, str>) -> Result<Self, String> {
        parse_uint(&text).ok_or_else(|| text.into_owned())
    }
    fn write_text(&self, w: &mut XmlOut) {
        w.number(*self);
    }
}

/// Formats without going through `fmt` machinery (hot path: codes and sizes in every reply).
fn itoa_u64(mut v: u64) -> SmallNum {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    SmallNum { digits, start: i }
}

struct SmallNum {
    digits: [u8; 20],
    start: usize,
}

text_xml_value!(String, bool, u32, u64);

/// An element with no content (`<Logout-Request/>`, `<MF/>`, service codes): present or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Empty;

impl XmlValue for Empty {
    fn decode(
        r: &mut XmlIn<'_>,
        _name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        r.skip(child)?;
        Ok(Some(Empty))
    }
    fn encode(&self, name: &str, w: &mut XmlOut) {
        w.open(name);
        w.close(name);
    }
}

/// A `csp_struct!` element as a table of its children, so that [`decode_fields`] (one
/// function, not one per element) can decode every element.
pub trait Fields {
    /// Every accepted child name with the index of its field, fields in declaration order.
    const SPELLINGS: &'static [(&'static str, u8)];
    /// The name each field is written with, by field index.
    const NAMES: &'static [&'static str];
    /// Field `i`.
    fn field(&mut self, i: usize) -> Option<&mut dyn Field>;
    /// Field `i`, to read.
    fn field_ref(&self, i: usize) -> Option<&dyn Field>;
    /// The children no field took.
    fn unknown(&mut self) -> &mut Vec<RawElement>;
    /// The children no field took, to read.
    fn unknown_ref(&self) -> &[RawElement];
}

/// Writes the fields of `v` in declaration order, each with its first spelling, then the
/// children kept from decoding.
#[inline]
pub fn encode_fields<T: Fields>(v: &T, w: &mut XmlOut) {
    encode_fields_dyn(v, T::NAMES, w);
}

/// The shared body of [`encode_fields`].
fn encode_fields_dyn(v: &dyn FieldsDyn, names: &[&str], w: &mut XmlOut) {
    for (i, name) in names.iter().enumerate() {
        if let Some(f) = v.field_ref_dyn(i) {
            f.encode_field(name, w);
        }
    }
    for u in v.unknown_ref_dyn() {
        u.encode(w);
    }
}

/// Decodes the children of element `child` (named `name`) into the fields of `v`: the first
/// field in declaration order that has the child's name and takes another occurrence gets it;
/// any other child is kept whole in `unknown`.
#[inline]
pub fn decode_fields<T: Fields>(
    v: &mut T,
    r: &mut XmlIn<'_>,
    name: &str,
    child: &Child<'_>,
) -> Result<(), DecodeError> {
    decode_fields_dyn(v, T::SPELLINGS, T::NAMES, r, name, child)
}

/// The shared body of [`decode_fields`] (not generic, so it is in the module once).
fn decode_fields_dyn(
    v: &mut dyn FieldsDyn,
    spellings: &[(&str, u8)],
    names: &[&str],
    r: &mut XmlIn<'_>,
    name: &str,
    child: &Child<'_>,
) -> Result<(), DecodeError> {
    if child.empty {
        return Ok(());
    }
    'children: while let Some(c) = r.next_child(name)? {
        let local = c.local();
        for &(spelling, i) in spellings {
            if spelling != local {
                continue;
            }
            let i = usize::from(i);
            if let (Some(f), Some(canonical)) = (v.field_dyn(i), names.get(i))
                && f.accepts_more()
            {
                f.decode_field(r, canonical, &c)?;
                continue 'children;
            }
        }
        let raw = r.capture(&c)?;
        v.unknown_dyn().push(raw);
    }
    Ok(())
}

/// [`Fields`] without its tables, usable as a trait object.
trait FieldsDyn {
    fn field_dyn(&mut self, i: usize) -> Option<&mut dyn Field>;
    fn unknown_dyn(&mut self) -> &mut Vec<RawElement>;
    fn field_ref_dyn(&self, i: usize) -> Option<&dyn Field>;
    fn unknown_ref_dyn(&self) -> &[RawElement];
}

impl<T: Fields> FieldsDyn for T {
    fn field_dyn(&mut self, i: usize) -> Option<&mut dyn Field> {
        self.field(i)
    }
    fn unknown_dyn(&mut self) -> &mut Vec<RawElement> {
        self.unknown()
    }
    fn field_ref_dyn(&self, i: usize) -> Option<&dyn Field> {
        self.field_ref(i)
    }
    fn unknown_ref_dyn(&self) -> &[RawElement] {
        self.unknown_ref()
    }
}

/// How a struct field holds its element(s): `Option<T>` for one, `Vec<T>` for many.
pub trait Field {
    /// Whether another occurrence can be stored (an `Option` already set cannot; the repeat is
    /// kept as a raw element instead, so nothing is lost).
    fn accepts_more(&self) -> bool;
    /// Decodes one occurrence.
    fn decode_field(
        &mut self,
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<(), DecodeError>;
    /// Writes every held occurrence as element `name`.
    fn encode_field(&self, name: &str, w: &mut XmlOut);
}

impl<T: XmlValue> Field for Option<T> {
    fn accepts_more(&self) -> bool {
        self.is_none()
    }
    fn decode_field(
        &mut self,
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<(), DecodeError> {
        T::decode_into(self, r, name, child)
    }
    fn encode_field(&self, name: &str, w: &mut XmlOut) {
        if let Some(v) = self {
            v.encode(name, w);
        }
    }
}

impl<T: XmlValue> Field for Vec<T> {
    fn accepts_more(&self) -> bool {
        true
    }
    fn decode_field(
        &mut self,
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<(), DecodeError> {
        if let Some(v) = T::decode(r, name, child)? {
            self.push(v);
        }
        Ok(())
    }
    fn encode_field(&self, name: &str, w: &mut XmlOut) {
        for v in self {
            v.encode(name, w);
        }
    }
}

impl<T: XmlValue> XmlValue for Box<T> {
    fn decode(
        r: &mut XmlIn<'_>,
        name: &str,
        child: &Child<'_>,
    ) -> Result<Option<Self>, DecodeError> {
        Ok(T::decode(r, name, child)?.map(Box::new))
    }
    fn encode(&self, name: &str, w: &mut XmlOut) {
        (**self).encode(name, w);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn escaped(text: &str, attribute: bool) -> String {
        let mut buf = Vec::new();
        escape_into(&mut buf, text, attribute);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn prefixed_root_takes_the_version_of_its_prefix() {
        let doc = br#"<p:WV-CSP-Message xmlns:p="http://www.openmobilealliance.org/DTD/IMPS-CSP1.3"><p:Session/></p:WV-CSP-Message>"#;
        let m = crate::codec::decode(doc, Limits::default()).unwrap();
        assert_eq!(m.version, crate::codec::Version::V1_3);
    }

    #[test]
    fn control_characters_are_refused_on_input_and_replaced_on_output() {
        let doc = "<WV-CSP-Message><Session><SessionDescriptor><SessionID>a&#1;b</SessionID></SessionDescriptor></Session></WV-CSP-Message>";
        let e = crate::codec::decode(doc.as_bytes(), Limits::default()).unwrap_err();
        assert_eq!(e.element, "SessionID");
        assert_eq!(escaped("a\u{1}b\tc", false), "a\u{FFFD}b\tc");
        assert_eq!(escaped("a\tb\nc", true), "a&#9;b&#10;c");
    }

    #[test]
    fn the_first_byte_below_64_is_found_in_words_and_bytes() {
        let text = b"SendMessage-Request><Ab\x80\xff\x7f@?A:zzzzzzzzzzzzzzzzzz\x00";
        for from in 0..=text.len() {
            for end in from..=text.len() {
                let bytes = &text[..end];
                let naive = (from..end).find(|&i| bytes[i] < 64).unwrap_or(end);
                assert_eq!(below_64(bytes, from), naive, "{from}..{end}");
            }
        }
    }

    #[test]
    fn markup_and_references_are_found_in_words_and_after() {
        let text = b"abc<def&ghij\xc3\xa9klmnopqrstuvw&xyz<0123456789abcdefghij<";
        for from in 0..=text.len() {
            for end in from..=text.len() {
                let bytes = &text[..end];
                let naive = (from..end).find(|&i| matches!(bytes[i], b'<' | b'&'));
                assert_eq!(markup_or_reference(bytes, from), naive, "{from}..{end}");
            }
        }
    }

    #[test]
    fn open_names_stack_past_those_kept_in_place() {
        let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
        let mut open = Open::default();
        let mut model: Vec<&str> = Vec::new();
        for round in 0..3 {
            for n in &names {
                open.push(n);
                model.push(n);
                assert_eq!(open.last(), model.last().copied());
            }
            for _ in 0..(25 + round * 5) {
                assert_eq!(open.pop(), model.pop());
                assert_eq!(open.last(), model.last().copied());
            }
        }
        while let Some(n) = model.pop() {
            assert_eq!(open.pop(), Some(n));
        }
        assert_eq!((open.pop(), open.last()), (None, None));
        let deep = format!(
            "<WV-CSP-Message>{}{}</WV-CSP-Message>",
            "<a>".repeat(30),
            "</a>".repeat(30)
        );
        let limits = Limits::default();
        let mut r = XmlIn::fast(deep.as_bytes(), limits).unwrap();
        let root = r.root().unwrap();
        r.skip(&root).unwrap();
        r.finish().unwrap();
        let bad = deep.replacen("</a></a>", "</a></b>", 1);
        let mut r = XmlIn::fast(bad.as_bytes(), limits).unwrap();
        let root = r.root().unwrap();
        assert!(r.skip(&root).is_err());
    }

    #[test]
    fn control_characters_are_found_anywhere() {
        let naive = |s: &str| {
            s.bytes()
                .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        };
        for len in 0..40 {
            for at in 0..len {
                for b in [0u8, 1, 8, 9, 10, 11, 13, 31, 32, 0x7f] {
                    let mut text = "x".repeat(len).into_bytes();
                    text[at] = b;
                    let text = String::from_utf8(text).unwrap();
                    assert_eq!(has_forbidden_control(&text), naive(&text), "{text:?}");
                }
            }
        }
        assert!(!has_forbidden_control(
            "h\u{e9}llo w\u{f6}rld\t\r\n, \u{1F600} and more"
        ));
    }

    #[test]
    fn fixed_texts_are_written_as_escaping_would() {
        for v in crate::codec::Version::ALL {
            for ns in [
                crate::codec::Ns::Csp,
                crate::codec::Ns::Trc,
                crate::codec::Ns::Pa,
            ] {
                let uri = ns.uri(v);
                assert_eq!(escaped(uri, true), uri);
                let mut w = XmlOut::new(v, 64);
                w.open("X");
                w.namespace(uri);
                w.close("X");
                let mut a = XmlOut::new(v, 64);
                a.open("X");
                a.attribute("xmlns", uri);
                a.close("X");
                assert_eq!(w.into_bytes(), a.into_bytes());
            }
        }
        for n in [0, 7, 10, 4_294_967_295, u64::MAX] {
            let mut w = XmlOut::new(crate::codec::Version::V1_2, 8);
            w.number(n);
            assert_eq!(w.into_bytes(), n.to_string().into_bytes());
        }
        for text in ["a", "", "x\ty\nz", "\"'"] {
            assert!(plain(text));
            assert_eq!(escaped(text, false), text);
        }
        for text in ["&", "<", ">", "\r", "\u{1}"] {
            assert!(!plain(text));
        }
    }

    #[test]
    fn escaping_finds_the_first_special_byte_of_any_kind() {
        assert_eq!(escaped("plain", false), "plain");
        assert_eq!(escaped("a\"b\rc", false), "a\"b&#13;c");
        assert_eq!(escaped("\r x & y", false), "&#13; x &amp; y");
        assert_eq!(escaped("<\r>", false), "&lt;&#13;&gt;");
        assert_eq!(escaped("q\"&", true), "q&quot;&amp;");
        assert_eq!(escaped("\"", false), "\"");
    }
}
