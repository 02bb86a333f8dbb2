//! `imps-wasm`: the IMPS engine for JavaScript hosts (browsers, Node, workers), through
//! wasm-bindgen. The boundary is thin and typed (DESIGN §3.9): [`ServerCore`] and
//! [`ClientCore`] wrap the engine's `Server` and `Client` driving surfaces one to one, and
//! outputs leave as plain JS objects tagged by `type`. Durability, timers, transports and
//! stores live in the package's JS (`wasm-bindings/js/`), which is where the host is.
//!
//! Values that the codec models as typed structs (primitives, presence attributes, message
//! envelopes) cross as element trees `{ name, attributes, children }` written and read by the
//! engine's own codec, so everything the codec knows is reachable without a second model.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;

mod config;

use imps_engine::client::{
    self, Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::capability::DeliveryMethod;
use imps_engine::codec::presence_attrs::PresenceSubList;
use imps_engine::codec::xml::{XmlIn, XmlOut, XmlValue};
use imps_engine::codec::{self, Ns, Primitive, RawElement, RawNode, Version};
use imps_engine::server::{AdminCommand, Config, Event, Input, Output, Request, Server};
use imps_engine::store::{Record, StorageOp, Table};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

/// The module's allocator: size-class free lists in front of talc (see `imps_alloc::pooled`);
/// the engine allocates and frees dozens of small blocks per request.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: imps_alloc::pooled::Wasm = imps_alloc::pooled::wasm();

/// The version of this crate (and of the engine it carries).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The version of the host interface of this module (the shapes of inputs and outputs).
// TODO: align with the wasmtime guest's ABI version once that lands; both describe the same
// driving surface.
pub const INTERFACE_VERSION: &str = "1";

/// The version of the host interface (see [`INTERFACE_VERSION`]).
#[wasm_bindgen(js_name = interfaceVersion)]
pub fn interface_version() -> String {
    INTERFACE_VERSION.to_owned()
}

/// The storage schema version of the records this engine writes.
#[wasm_bindgen(js_name = schemaVersion)]
pub fn schema_version() -> u32 {
    imps_engine::store::SCHEMA_VERSION
}

// ---- panics ---------------------------------------------------------------------------------

/// The message of the panic that killed this instance, if one did. wasm32 aborts on panic
/// (no unwinding, so no `catch_unwind`): the hook records why, the JS side sees the trap,
/// reads this and marks the module dead instead of carrying on with broken state.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the panic hook (idempotent; called by the JS loader after instantiation).
#[wasm_bindgen(js_name = installPanicHook)]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(info.to_string());
        }
    }));
}

/// The message of the panic that ended this module, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    PANIC.lock().ok().and_then(|p| p.clone())
}

/// Panics on purpose: lets the package's tests prove that a panic leaves a clear error and a
/// dead instance rather than a silently poisoned one. Never called by the package itself.
#[wasm_bindgen(js_name = __panicForTests)]
#[allow(clippy::panic)]
pub fn panic_for_tests() {
    panic!("deliberate panic for the package's tests");
}

// ---- errors and JS objects -------------------------------------------------------------------

/// An error object `{ code, message, details }` (the JS side turns it into an `ImpsError`).
fn error(code: u16, message: impl AsRef<str>, details: Option<&str>) -> JsValue {
    let o = Object::new();
    set(&o, "code", code);
    set(&o, "message", message.as_ref());
    if let Some(d) = details {
        set(&o, "details", d);
    }
    o.into()
}

fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    // Reflect.set fails only on frozen objects or proxies; ours are fresh plain objects.
    let _ = Reflect::set(o, &JsValue::from_str(key), &value.into());
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(o: &JsValue, key: &str) -> Option<String> {
    get(o, key).as_string()
}

fn strings(v: &JsValue) -> Vec<String> {
    if Array::is_array(v) {
        Array::from(v)
            .iter()
            .filter_map(|s| s.as_string())
            .collect()
    } else {
        Vec::new()
    }
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn bytes(b: &[u8]) -> Uint8Array {
    Uint8Array::from(b)
}

fn parse_version(v: &str) -> Result<Version, JsValue> {
    match v {
        "1.1" => Ok(Version::V1_1),
        "1.2" => Ok(Version::V1_2),
        "1.3" => Ok(Version::V1_3),
        _ => Err(error(
            505,
            format!("unsupported CSP version {v:?} (1.1, 1.2 or 1.3)"),
            None,
        )),
    }
}

fn table_name(t: Table) -> &'static str {
    t.name()
}

/// The position of `t` in [`Table::ALL`], which `tableNames` gives JS once.
fn table_index(t: Table) -> u8 {
    Table::ALL.iter().position(|x| *x == t).unwrap_or_default() as u8
}

/// The names of the tables in the order of the indexes that packed outputs carry.
#[wasm_bindgen(js_name = tableNames)]
pub fn table_names() -> Array {
    Table::ALL
        .iter()
        .map(|t| JsValue::from_str(t.name()))
        .collect()
}

/// The CSP content types that cross as numbers (see `ServerCore::request`).
const CONTENT_TYPES: [&str; 4] = [
    "application/vnd.wv.csp.xml",
    "application/vnd.wv.csp+xml",
    "application/vnd.wv.csp.wbxml",
    "application/vnd.wv.csp+wbxml",
];

/// [`CONTENT_TYPES`], for JS.
#[wasm_bindgen(js_name = contentTypes)]
pub fn content_types() -> Array {
    CONTENT_TYPES.iter().map(|t| JsValue::from_str(t)).collect()
}

/// The module's memory, where JS reads packed outputs in place.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Outputs packed into bytes for the JS side (`#drain` in `js/core.js` reads them): crossing
/// the boundary once per drain instead of once per field and string is most of the cost of
/// a request through the package. Little-endian. Header (32 bytes): `u32` length of the
/// whole, `u32` count of object outputs, `f64` next deadline (NaN: none), then `u32` offset
/// and `u32` byte length of the text area, the same of the data area (offsets from the
/// start). Then one tagged output after another, then the two areas.
///
/// A string is its length in UTF-16 units in the outputs and its UTF-8 in the text area, a
/// byte string its length in the outputs and its bytes in the data area, both in output
/// order: JS decodes the text area with one `TextDecoder` call and copies the data area
/// once, then takes each string and byte string as a slice of those (a decode and a copy per
/// string and value cost JS more than all the rest of a drain).
struct Packed {
    /// The header and the tagged outputs; the areas are appended by `finish`.
    out: Vec<u8>,
    text: Vec<u8>,
    data: Vec<u8>,
}

impl Packed {
    const HEADER: usize = 32;
    /// `f64 conn, u8 contentType, [str contentType], bytes body`: the content type as its
    /// position plus one in `contentTypes`, or 0 and the string.
    const REPLY: u8 = 1;
    /// `f64 id, u32 count`, then each op: `PUT u8 table, str key, bytes value` or
    /// `DELETE u8 table, str key`.
    const STORAGE: u8 = 2;
    /// The next value of the output object array.
    const OBJECT: u8 = 3;
    /// `str sessionId, str version, u8 hasCookie [str cookie], str cirToken, u32 count,
    /// str method…`.
    const WAKE_UP: u8 = 4;
    const PUT: u8 = 1;
    const DELETE: u8 = 2;

    fn new() -> Packed {
        Packed {
            out: Vec::new(),
            text: Vec::new(),
            data: Vec::new(),
        }
    }
    /// Starts a new packing in the buffers of the last (the previous one is gone).
    fn restart(&mut self) {
        for buf in [&mut self.out, &mut self.text, &mut self.data] {
            // One huge reply or restore must not pin its buffer for the module's life.
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
            buf.clear();
        }
        self.out.extend_from_slice(&[0; Self::HEADER]);
    }
    fn tag(&mut self, t: u8) {
        self.out.push(t);
    }
    fn u32(&mut self, n: usize) {
        self.out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    fn f64(&mut self, x: f64) {
        self.out.extend_from_slice(&x.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len());
        self.data.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        // JS slices the decoded text area in UTF-16 units.
        let units = if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        self.u32(units);
        self.text.extend_from_slice(s.as_bytes());
    }
    /// Appends the areas and fills in the header; the packing is then `out`.
    fn finish(&mut self, deadline: Option<u64>, objects: usize) {
        let text_at = self.out.len();
        self.out.extend_from_slice(&self.text);
        let data_at = self.out.len();
        self.out.extend_from_slice(&self.data);
        let words = |w: [usize; 2]| w.into_iter().flat_map(|n| (n as u32).to_le_bytes());
        let header = words([self.out.len(), objects])
            .chain(deadline.map_or(f64::NAN, |t| t as f64).to_le_bytes())
            .chain(words([text_at, self.text.len()]))
            .chain(words([data_at, self.data.len()]));
        for (slot, byte) in self.out.iter_mut().zip(header) {
            *slot = byte;
        }
    }
}

// ---- element trees ---------------------------------------------------------------------------

fn tree_to_js(e: &RawElement) -> JsValue {
    let o = Object::new();
    set(&o, "name", e.name.as_str());
    let attrs = Object::new();
    for (k, v) in &e.attributes {
        set(&attrs, k, v.as_str());
    }
    set(&o, "attributes", attrs);
    let children = Array::new();
    for c in &e.children {
        match c {
            RawNode::Element(child) => children.push(&tree_to_js(child)),
            RawNode::Text(t) => children.push(&JsValue::from_str(t)),
            #[allow(unreachable_patterns)]
            _ => 0,
        };
    }
    set(&o, "children", children);
    o.into()
}

/// Writes a JS element tree; fails with 400 on anything that is not one.
fn write_tree(v: &JsValue, w: &mut XmlOut, depth: u32) -> Result<(), JsValue> {
    if depth > 48 {
        return Err(error(400, "element tree nests too deep", None));
    }
    let Some(name) = get_string(v, "name").filter(|n| !n.is_empty()) else {
        return Err(error(
            400,
            "an element needs a non-empty string `name`",
            None,
        ));
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(error(400, format!("invalid element name {name:?}"), None));
    }
    w.open(&name);
    let attrs = get(v, "attributes");
    if attrs.is_object() {
        for key in Object::keys(&Object::from(attrs.clone())).iter() {
            if let Some(k) = key.as_string() {
                let value = get(&attrs, &k).as_string().unwrap_or_default();
                w.attribute(&k, &value);
            }
        }
    }
    let children = get(v, "children");
    if Array::is_array(&children) {
        for c in Array::from(&children).iter() {
            if let Some(t) = c.as_string() {
                w.text(&t);
            } else if c.is_object() {
                write_tree(&c, w, depth + 1)?;
            } else {
                return Err(error(400, "a child must be a string or an element", None));
            }
        }
    }
    w.close(&name);
    Ok(())
}

/// The element tree of `value` written as element `name` by the codec.
fn value_tree<T: XmlValue>(value: &T, name: &str, version: Version) -> Option<RawElement> {
    written_tree(version, |w| value.encode(name, w))
}

/// The element tree that `write` writes, read back by the codec.
fn written_tree(version: Version, write: impl FnOnce(&mut XmlOut)) -> Option<RawElement> {
    let mut w = XmlOut::new(version, 256);
    write(&mut w);
    let bytes = w.into_bytes();
    let mut r = XmlIn::new(&bytes, codec::Limits::default());
    let root = r.root().ok()?;
    r.capture(&root).ok()
}

fn value_to_js<T: XmlValue>(value: &T, name: &str, version: Version) -> JsValue {
    value_tree(value, name, version).map_or(JsValue::NULL, |t| tree_to_js(&t))
}

/// `{ name, code?, tree }` for a primitive.
fn primitive_to_js(p: &Primitive, version: Version) -> JsValue {
    let o = Object::new();
    set(&o, "name", p.name());
    if let Some(code) = p.result_code() {
        set(&o, "code", code);
    }
    let tree = primitive_tree(p, version);
    set(&o, "tree", tree.map_or(JsValue::NULL, |t| tree_to_js(&t)));
    o.into()
}

/// The element tree of `p`, written as the codec writes it inside `TransactionContent`.
fn primitive_tree(p: &Primitive, version: Version) -> Option<RawElement> {
    let content = written_tree(version, |w| p.encode_as_content("TransactionContent", w))?;
    content.children.into_iter().find_map(|c| match c {
        RawNode::Element(e) => Some(e),
        _ => None,
    })
}

/// Reads a typed value from the XML its tree writes.
fn decode_value<T: XmlValue>(xml: &[u8], name: &str) -> Result<T, JsValue> {
    let mut r = XmlIn::new(xml, codec::Limits::default());
    let root = r
        .root()
        .map_err(|e| error(e.status_code(), e.to_string(), None))?;
    T::decode(&mut r, name, &root)
        .map_err(|e| error(e.status_code(), e.to_string(), None))?
        .ok_or_else(|| error(400, format!("empty {name}"), None))
}

/// A primitive from its element tree, read by the codec inside a minimal message.
fn primitive_from_js(tree: &JsValue, version: Version) -> Result<Primitive, JsValue> {
    let mut w = XmlOut::new(version, 512);
    w.open("WV-CSP-Message");
    w.attribute("xmlns", Ns::Csp.uri(version));
    w.raw("<Session><SessionDescriptor><SessionType>Inband</SessionType></SessionDescriptor>");
    w.raw("<Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>");
    w.raw("</TransactionDescriptor>");
    w.open("TransactionContent");
    w.attribute("xmlns", Ns::Trc.uri(version));
    write_tree(tree, &mut w, 0)?;
    w.close("TransactionContent");
    w.raw("</Transaction></Session>");
    w.close("WV-CSP-Message");
    let xml = w.into_bytes();
    let message = codec::decode(&xml, codec::Limits::default())
        .map_err(|e| error(e.status_code(), e.to_string(), None))?;
    // The first primitive of the first transaction (`Message::primitive`), taken rather
    // than copied.
    let first = message
        .session
        .transactions
        .into_iter()
        .next()
        .and_then(|t| t.content)
        .and_then(|c| c.primitives.into_iter().next());
    match first {
        Some(Primitive::Unknown(raw)) => Err(error(
            400,
            format!("unknown primitive {:?}", raw.local_name()),
            None,
        )),
        Some(p) => Ok(p),
        None => Err(error(400, "no primitive", None)),
    }
}

/// Presence attributes from a JS object: `{ OnlineStatus: true, StatusText: "hi" }` (value
/// attributes) or element trees for structured ones (`{ ClientInfo: tree }`); an array of
/// names instead names attributes without values (what to subscribe to or ask for).
fn presence_from_js(attrs: &JsValue, version: Version) -> Result<PresenceSubList, JsValue> {
    let mut w = XmlOut::new(version, 256);
    w.open("PresenceSubList");
    w.attribute("xmlns", Ns::Pa.uri(version));
    let name_ok = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric());
    if Array::is_array(attrs) {
        for name in strings(attrs) {
            if !name_ok(&name) {
                return Err(error(400, format!("invalid attribute name {name:?}"), None));
            }
            w.open(&name);
            w.close(&name);
        }
    } else if attrs.is_object() {
        for key in Object::keys(&Object::from(attrs.clone())).iter() {
            let Some(name) = key.as_string() else {
                continue;
            };
            if !name_ok(&name) {
                return Err(error(400, format!("invalid attribute name {name:?}"), None));
            }
            let value = get(attrs, &name);
            if let Some(b) = value.as_bool() {
                w.open(&name);
                w.text_element("Qualifier", "T");
                w.text_element("PresenceValue", if b { "T" } else { "F" });
                w.close(&name);
            } else if let Some(s) = value.as_string() {
                w.open(&name);
                w.text_element("Qualifier", "T");
                w.text_element("PresenceValue", &s);
                w.close(&name);
            } else if value.is_object() {
                write_tree(&value, &mut w, 1)?;
            } else {
                return Err(error(
                    400,
                    format!("attribute {name}: a boolean, a string or an element tree"),
                    None,
                ));
            }
        }
    } else {
        return Err(error(
            400,
            "presence attributes: an object or an array",
            None,
        ));
    }
    w.close("PresenceSubList");
    decode_value(&w.into_bytes(), "PresenceSubList")
}

// ---- codec helpers ---------------------------------------------------------------------------

/// The TransactionID of the last transaction of a request the client wrote, in either
/// encoding (WBXML has no cheap sniffing: it is decoded).
fn transaction_id(body: &[u8]) -> Option<String> {
    match body.first() {
        Some(0x01..=0x03) => codec::Encoding::Wbxml
            .decode(body, codec::Limits::default())
            .ok()?
            .session
            .transactions
            .last()?
            .descriptor
            .as_ref()?
            .transaction_id
            .clone(),
        _ => codec::sniff(body).1,
    }
}

/// Decodes a CSP message: `{ version, sessionId?, transactions: [{ mode, transactionId?,
/// primitives: [{ name, code?, tree }] }], tree }`. Fails with the CSP status code (400,
/// 415, 505) of what is wrong.
#[wasm_bindgen(js_name = decodeMessage)]
pub fn decode_message(bytes: &[u8], content_type: &str) -> Result<JsValue, JsValue> {
    let ct = content_type.to_ascii_lowercase();
    if !(ct.is_empty() || ct.contains("xml")) {
        return Err(error(
            415,
            format!("content type {content_type:?}: CSP XML or WBXML is decoded"),
            None,
        ));
    }
    let message = codec::Encoding::of_content_type(content_type)
        .decode(bytes, codec::Limits::default())
        .map_err(|e| error(e.status_code(), e.to_string(), Some(&e.element)))?;
    let o = Object::new();
    set(&o, "version", message.version.as_str());
    if let Some(id) = message.session_id() {
        set(&o, "sessionId", id);
    }
    let transactions = Array::new();
    for t in &message.session.transactions {
        let to = Object::new();
        if let Some(d) = &t.descriptor {
            if let Some(m) = &d.mode {
                set(&to, "mode", m.as_str());
            }
            if let Some(id) = &d.transaction_id {
                set(&to, "transactionId", id.as_str());
            }
        }
        let prims = Array::new();
        for p in t.content.iter().flat_map(|c| c.primitives.iter()) {
            prims.push(&primitive_to_js(p, message.version));
        }
        set(&to, "primitives", prims);
        transactions.push(&to);
    }
    set(&o, "transactions", transactions);
    let canonical = codec::encode(&message);
    let mut r = XmlIn::new(&canonical, codec::Limits::default());
    let tree = r.root().and_then(|root| r.capture(&root));
    set(&o, "tree", tree.map_or(JsValue::NULL, |t| tree_to_js(&t)));
    Ok(o.into())
}

/// Encodes a message tree (as [`decode_message`] gives in `tree`) back to CSP XML, through
/// the typed codec: `{ body, contentType }`.
#[wasm_bindgen(js_name = encodeMessage)]
pub fn encode_message(tree: JsValue, encoding: Option<String>) -> Result<JsValue, JsValue> {
    let encoding = parse_encoding(encoding.as_deref())?;
    let mut w = XmlOut::new(Version::V1_2, 1024);
    write_tree(&tree, &mut w, 0)?;
    let xml = w.into_bytes();
    let message = codec::decode(&xml, codec::Limits::default())
        .map_err(|e| error(e.status_code(), e.to_string(), Some(&e.element)))?;
    let o = Object::new();
    set(&o, "body", bytes(&encoding.encode(&message)));
    set(&o, "contentType", encoding.content_type(message.version));
    Ok(o.into())
}

/// `"xml"` (the default) or `"wbxml"`.
fn parse_encoding(name: Option<&str>) -> Result<codec::Encoding, JsValue> {
    match name {
        None | Some("xml") => Ok(codec::Encoding::Xml),
        Some("wbxml") => Ok(codec::Encoding::Wbxml),
        Some(other) => Err(error(
            400,
            format!("encoding {other:?}: \"xml\" or \"wbxml\""),
            None,
        )),
    }
}

// ---- server ----------------------------------------------------------------------------------

/// The records of a `MemoryStore`: one map per table (in [`Table::ALL`]'s order) of key to
/// value. Shared by the store and the server attached to it. Boxed values measured 0.3 KB
/// gzipped smaller in the browser module than inline ones (`wasm-opt` still keeps this B-tree
/// code apart from the engine's own string-keyed maps).
type RecordMap = [BTreeMap<String, Box<Vec<u8>>>; Table::ALL.len()];

/// The records of the package's `MemoryStore`, kept in the module's memory: a server attached
/// to them (`ServerCore::attachMemory`) applies its storage batches here inside `drain`, so
/// no key or value crosses into JS on a request (that crossing was most of the package's own
/// cost per request). Memory is durable at once, so applying in the drain, before the
/// replies behind the batch are handed out, keeps the durability contract.
#[wasm_bindgen]
pub struct MemoryRecords {
    map: Rc<RefCell<RecordMap>>,
}

impl Default for MemoryRecords {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl MemoryRecords {
    /// No records.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryRecords {
        MemoryRecords { map: Rc::default() }
    }

    /// Applies the ops `[{ op: "put" | "delete", table, key, value? }]` of one batch.
    pub fn apply(&self, ops: Array) -> Result<(), JsValue> {
        let mut parsed = Vec::with_capacity(ops.length() as usize);
        for op in ops.iter() {
            let table = get_string(&op, "table")
                .as_deref()
                .and_then(Table::from_name)
                .ok_or_else(|| error(400, "a storage op names no known table", None))?;
            let key = get_string(&op, "key")
                .ok_or_else(|| error(400, "a storage op has no key", None))?;
            parsed.push(match get_string(&op, "op").as_deref() {
                Some("put") => {
                    let value = get(&op, "value");
                    if !value.is_instance_of::<Uint8Array>() {
                        return Err(error(400, "a put's value is not bytes", None));
                    }
                    StorageOp::Put {
                        table,
                        key,
                        value: Uint8Array::from(value).to_vec(),
                    }
                }
                Some("delete") => StorageOp::Delete { table, key },
                _ => return Err(error(400, "a storage op is neither put nor delete", None)),
            });
        }
        // All or nothing: the batch is checked whole before any op lands.
        apply_ops(&mut self.map.borrow_mut(), parsed);
        Ok(())
    }

    /// Every record `{ table, key, value }`, by table and key.
    pub fn load(&self) -> Array {
        let out = Array::new();
        for (table, records) in Table::ALL.iter().zip(self.map.borrow().iter()) {
            for (key, value) in records {
                let o = Object::new();
                set(&o, "table", table.name());
                set(&o, "key", key.as_str());
                set(&o, "value", bytes(value));
                out.push(&o);
            }
        }
        out
    }
}

/// Applies `ops` to `map` in order.
fn apply_ops(map: &mut RecordMap, ops: Vec<StorageOp>) {
    for op in ops {
        match op {
            StorageOp::Put { table, key, value } => {
                if let Some(records) = map.get_mut(table_index(table) as usize) {
                    records.insert(key, Box::new(value));
                }
            }
            StorageOp::Delete { table, key } => {
                if let Some(records) = map.get_mut(table_index(table) as usize) {
                    records.remove(key.as_str());
                }
            }
        }
    }
}

/// The server engine: `Server` with its outputs as JS objects.
#[wasm_bindgen]
pub struct ServerCore {
    server: Server,
    /// The `MemoryStore` records this server applies its batches to, if attached.
    memory: Option<Rc<RefCell<RecordMap>>>,
    /// Whether anybody listens to wake-ups (else `drain` drops them unpacked).
    wake_ups: bool,
    /// Outputs drained as objects and not yet taken by `drainObjects`.
    objects: Vec<JsValue>,
    /// The packed outputs of the last `drain` (its buffers reused).
    packed: Packed,
}

#[wasm_bindgen]
impl ServerCore {
    /// A server with `config` (the TOML configuration's fields as an object; `{}` for the
    /// defaults) and 32 bytes of seed from real entropy.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, seed: &[u8]) -> Result<ServerCore, JsValue> {
        let config = if config.is_undefined() || config.is_null() {
            Config::default()
        } else {
            let mut parsed = Config::default();
            read_config(&config, "", &mut parsed)
                .map_err(|e| error(400, format!("configuration: {e}"), None))?;
            parsed
        };
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| error(400, "the seed must be 32 bytes", None))?;
        Ok(ServerCore {
            server: Server::new(config, seed),
            memory: None,
            wake_ups: true,
            objects: Vec::new(),
            packed: Packed::new(),
        })
    }

    /// Attaches the records of a `MemoryStore`: every later storage batch is applied to them
    /// inside `drain` instead of crossing to JS.
    #[wasm_bindgen(js_name = attachMemory)]
    pub fn attach_memory(&mut self, records: &MemoryRecords) {
        self.memory = Some(Rc::clone(&records.map));
    }

    /// Whether `drain` gives wake-ups (false: nobody listens, they are dropped unpacked).
    #[wasm_bindgen(js_name = setWakeUps)]
    pub fn set_wake_ups(&mut self, on: bool) {
        self.wake_ups = on;
    }

    /// Feeds the stored records `[{ table, key, value }]` (once, before any request).
    pub fn restore(&mut self, now: f64, records: Array) -> Result<(), JsValue> {
        let mut out = Vec::with_capacity(records.length() as usize);
        for r in records.iter() {
            let name = get_string(&r, "table").unwrap_or_default();
            let Some(table) = Table::from_name(&name) else {
                return Err(error(
                    500,
                    format!("stored record of unknown table {name:?}"),
                    None,
                ));
            };
            let key = get_string(&r, "key").unwrap_or_default();
            let value = get(&r, "value");
            let value = if value.is_instance_of::<Uint8Array>() {
                Uint8Array::from(value).to_vec()
            } else {
                return Err(error(
                    500,
                    format!("stored record {name}/{key}: value is not bytes"),
                    None,
                ));
            };
            out.push(Record { table, key, value });
        }
        self.server.handle(now as u64, Input::Restore(out));
        Ok(())
    }

    /// Feeds one request; drain the outputs after. `content_type`: the position plus one of
    /// a CSP content type in `contentTypes` (no string to cross for the usual ones), or 0
    /// for `other_type`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        now: f64,
        conn: f64,
        content_type: u32,
        other_type: Option<String>,
        body: Vec<u8>,
        wall_clock_ms: f64,
        peer: Option<String>,
    ) {
        let known = (content_type as usize)
            .checked_sub(1)
            .and_then(|i| CONTENT_TYPES.get(i));
        self.server.handle(
            now as u64,
            Input::Request(Request {
                conn: conn as u64,
                content_type: known
                    .map_or_else(|| other_type.unwrap_or_default(), |t| (*t).to_owned()),
                body,
                wall_clock_ms: wall_clock_ms as i64,
                peer,
            }),
        );
    }

    /// Feeds the timeout; drain the outputs after.
    pub fn timeout(&mut self, now: f64) {
        self.server.handle(now as u64, Input::Timeout);
    }

    /// Feeds an operator command `{ type: "provisionUser", userId, password }`,
    /// `{ type: "deleteUser" | "forceLogout", userId }` or `{ type: "systemMessage", userId?,
    /// text }`; its outcome comes out as `adminResult` with `id`.
    pub fn admin(&mut self, now: f64, id: f64, command: JsValue) -> Result<(), JsValue> {
        let user = get_string(&command, "userId");
        let need_user = || {
            user.clone()
                .ok_or_else(|| error(400, "the command needs `userId`", None))
        };
        let command = match get_string(&command, "type").as_deref() {
            Some("provisionUser") => AdminCommand::ProvisionUser {
                user_id: need_user()?,
                password: get_string(&command, "password")
                    .ok_or_else(|| error(400, "provisionUser needs `password`", None))?,
            },
            Some("deleteUser") => AdminCommand::DeleteUser {
                user_id: need_user()?,
            },
            Some("forceLogout") => AdminCommand::ForceLogout {
                user_id: need_user()?,
            },
            Some("systemMessage") => AdminCommand::SystemMessage {
                user_id: user.clone(),
                text: get_string(&command, "text")
                    .ok_or_else(|| error(400, "systemMessage needs `text`", None))?,
            },
            other => {
                return Err(error(400, format!("unknown admin command {other:?}"), None));
            }
        };
        self.server.handle(
            now as u64,
            Input::Admin {
                id: id as u64,
                command,
            },
        );
        Ok(())
    }

    /// Drains every pending output, in order, packed (see [`Packed`]) into a buffer this
    /// core keeps, and answers where it starts in the module's memory: replies, storage
    /// batches and wake-ups (nearly every output) cross as bytes that JS reads in place, with
    /// no call per field or string; the rare others (events, admin results) as objects from
    /// `drainObjects`; the header gives the next deadline, so one call per turn tells JS
    /// everything. The buffer stays valid until the next `drain`.
    pub fn drain(&mut self) -> u32 {
        let out = &mut self.packed;
        out.restart();
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Reply(r) => {
                    out.tag(Packed::REPLY);
                    out.f64(r.conn as f64);
                    match CONTENT_TYPES.iter().position(|t| *t == r.content_type) {
                        Some(i) => out.tag(i as u8 + 1),
                        None => {
                            out.tag(0);
                            out.str(r.content_type);
                        }
                    }
                    out.bytes(&r.body);
                }
                Output::Storage(batch) => match &self.memory {
                    Some(m) => apply_ops(&mut m.borrow_mut(), batch.ops),
                    None => {
                        out.tag(Packed::STORAGE);
                        out.f64(batch.id as f64);
                        out.u32(batch.ops.len());
                        for op in &batch.ops {
                            match op {
                                StorageOp::Put { table, key, value } => {
                                    out.tag(Packed::PUT);
                                    out.tag(table_index(*table));
                                    out.str(key);
                                    out.bytes(value);
                                }
                                StorageOp::Delete { table, key } => {
                                    out.tag(Packed::DELETE);
                                    out.tag(table_index(*table));
                                    out.str(key);
                                }
                            }
                        }
                    }
                },
                Output::WakeUp(w) => {
                    if !self.wake_ups {
                        continue;
                    }
                    out.tag(Packed::WAKE_UP);
                    out.str(&w.session_id);
                    out.str(w.version.as_str());
                    match &w.cookie {
                        Some(c) => {
                            out.tag(1);
                            out.str(c);
                        }
                        None => out.tag(0),
                    }
                    out.str(&w.cir_token);
                    out.u32(w.methods.len());
                    for m in &w.methods {
                        out.str(m.as_str());
                    }
                }
                other => {
                    out.tag(Packed::OBJECT);
                    self.objects.push(server_output(other));
                }
            }
        }
        out.finish(self.server.poll_timeout(), self.objects.len());
        out.out.as_ptr() as usize as u32
    }

    /// The outputs that `drain` marked as objects, in order (then forgotten here).
    #[wasm_bindgen(js_name = drainObjects)]
    pub fn drain_objects(&mut self) -> Array {
        std::mem::take(&mut self.objects).into_iter().collect()
    }

    /// When to call `timeout` next (monotonic ms), if anything is pending.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.server.poll_timeout().map(|t| t as f64)
    }

    /// Number of open sessions.
    #[wasm_bindgen(js_name = sessionCount)]
    pub fn session_count(&self) -> u32 {
        self.server.session_count() as u32
    }

    /// Number of accounts.
    #[wasm_bindgen(js_name = accountCount)]
    pub fn account_count(&self) -> u32 {
        self.server.account_count() as u32
    }

    /// Whether `user_id` has an account.
    #[wasm_bindgen(js_name = hasAccount)]
    pub fn has_account(&self, user_id: &str) -> bool {
        self.server.has_account(user_id)
    }
}

/// Reads the configuration object `v` (the section at `path`, `""` for the whole) into
/// `config`: the first unknown field or wrong value is the error. Undefined fields keep their
/// defaults.
fn read_config(v: &JsValue, path: &str, config: &mut Config) -> Result<(), String> {
    if !v.is_object() || Array::is_array(v) {
        return Err(if path.is_empty() {
            "it must be an object".into()
        } else {
            format!("`{path}` must be an object")
        });
    }
    for key in Object::keys(&Object::from(v.clone())).iter() {
        let Some(k) = key.as_string() else { continue };
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        let value = get(v, &k);
        if value.is_undefined() {
            continue;
        }
        if config::is_section(&here) {
            read_config(&value, &here, config)?;
        } else {
            config::set(config, &here, given(&value))?;
        }
    }
    Ok(())
}

/// A leaf of the configuration object for [`config::set`].
fn given(v: &JsValue) -> config::Given {
    use config::Given;
    if let Some(b) = v.as_bool() {
        Given::Bool(b)
    } else if let Some(n) = v.as_f64() {
        Given::Number(n)
    } else if let Some(s) = v.as_string() {
        Given::Text(s)
    } else if v.is_null() {
        Given::Null
    } else if let Some(a) = v.dyn_ref::<Array>().filter(|a| a.length() == 2) {
        Given::HostPort(a.get(0).as_string(), a.get(1).as_f64())
    } else {
        Given::Other
    }
}

/// An event or admin result as an object (replies, batches and wake-ups leave packed).
fn server_output(o: Output) -> JsValue {
    let js = Object::new();
    match o {
        Output::Reply(_) | Output::Storage(_) | Output::WakeUp(_) => return JsValue::NULL,
        Output::Event(e) => {
            set(&js, "type", "event");
            let ev = Object::new();
            match e {
                Event::LoggedIn {
                    user,
                    session,
                    version,
                } => {
                    set(&ev, "type", "loggedIn");
                    set(&ev, "user", user);
                    set(&ev, "session", session);
                    set(&ev, "version", version.as_str());
                }
                Event::LoginFailed { user, code } => {
                    set(&ev, "type", "loginFailed");
                    set(&ev, "user", user);
                    set(&ev, "code", code);
                }
                Event::Registered { user } => {
                    set(&ev, "type", "registered");
                    set(&ev, "user", user);
                }
                Event::SessionEnded {
                    user,
                    session,
                    code,
                } => {
                    set(&ev, "type", "sessionEnded");
                    set(&ev, "user", user);
                    set(&ev, "session", session);
                    set(&ev, "code", code);
                }
                Event::RestoreSkipped { table, key } => {
                    set(&ev, "type", "restoreSkipped");
                    set(&ev, "table", table_name(table));
                    set(&ev, "key", key);
                }
            }
            set(&js, "event", ev);
        }
        Output::AdminResult { id, result } => {
            set(&js, "type", "adminResult");
            set(&js, "id", id as f64);
            match result {
                Ok(text) => {
                    set(&js, "ok", true);
                    set(&js, "text", text);
                }
                Err(text) => {
                    set(&js, "ok", false);
                    set(&js, "text", text);
                }
            }
        }
    }
    js.into()
}

// ---- client ----------------------------------------------------------------------------------

/// The client engine: `Client` with builders for the requests and its outputs as JS objects.
#[wasm_bindgen]
pub struct ClientCore {
    client: Client,
    version: Version,
    /// Outputs drained from the engine and not yet handed to JS (kept so a builder can
    /// answer with the TransactionID of the request it just made).
    pending: Vec<ClientOutput>,
    /// The bodies of the sends of the last `drain`, one after another, until the next.
    bodies: Vec<u8>,
    /// The events `drain` gives, one bit per [`CLIENT_EVENT_TYPES`] entry: JS sets the bits
    /// of the types something listens to, and the others are dropped unwritten (an event's
    /// element trees are most of a drain's JSON, and of its parsing in JS).
    events: u32,
}

#[wasm_bindgen]
impl ClientCore {
    /// A client for `{ version, userId, password, scheme: "password" | "digest", clientId?,
    /// timeToLive?, pollIntervalSecs?, autoFetch? }` with 32 bytes of seed.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, seed: &[u8]) -> Result<ClientCore, JsValue> {
        let version = parse_version(&get_string(&options, "version").unwrap_or("1.2".into()))?;
        let user = get_string(&options, "userId")
            .ok_or_else(|| error(400, "the client needs `userId`", None))?;
        let password = get_string(&options, "password").unwrap_or_default();
        let scheme = match get_string(&options, "scheme").as_deref() {
            None | Some("password") => LoginScheme::Password,
            Some("digest") => LoginScheme::Digest,
            Some(other) => {
                return Err(error(
                    400,
                    format!("login scheme {other:?}: \"password\" or \"digest\""),
                    None,
                ));
            }
        };
        let mut config = ClientConfig::new(version, &user, &password, scheme);
        if let Some(id) = get_string(&options, "clientId") {
            config.client_id = id;
        }
        if let Some(ttl) = get(&options, "timeToLive").as_f64() {
            config.time_to_live = Some(ttl as u32);
        }
        if let Some(p) = get(&options, "pollIntervalSecs").as_f64() {
            config.poll_interval_secs = p as u32;
        }
        if let Some(a) = get(&options, "autoFetch").as_bool() {
            config.auto_fetch = a;
        }
        config.encoding = parse_encoding(get_string(&options, "encoding").as_deref())?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| error(400, "the seed must be 32 bytes", None))?;
        Ok(ClientCore {
            client: Client::new(config, seed),
            version,
            pending: Vec::new(),
            bodies: Vec::new(),
            events: u32::MAX,
        })
    }

    fn feed(&mut self, now: f64, input: ClientInput) {
        self.client.handle(now as u64, input);
        while let Some(o) = self.client.poll_output() {
            self.pending.push(o);
        }
    }

    /// Sends `p`; answers with its TransactionID (read from the request written).
    fn send(&mut self, now: f64, p: Primitive) -> Result<String, JsValue> {
        let before = self.pending.len();
        self.feed(now, ClientInput::Command(Command::Request(p)));
        self.pending
            .get(before..)
            .unwrap_or_default()
            .iter()
            .rev()
            .find_map(|o| match o {
                ClientOutput::Send(s) => transaction_id(&s.body),
                ClientOutput::Event(_) => None,
            })
            .ok_or_else(|| error(604, "not logged in", None))
    }

    /// The CSP version spoken.
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> String {
        self.version.as_str().to_owned()
    }

    /// Starts the login (then capability and service negotiation).
    pub fn login(&mut self, now: f64) {
        self.feed(now, ClientInput::Command(Command::Login));
    }

    /// Logs out.
    pub fn logout(&mut self, now: f64) {
        self.feed(now, ClientInput::Command(Command::Logout));
    }

    /// Polls now.
    pub fn poll(&mut self, now: f64) {
        self.feed(now, ClientInput::Command(Command::Poll));
    }

    /// Sends a keep-alive now.
    #[wasm_bindgen(js_name = keepAlive)]
    pub fn keep_alive(&mut self, now: f64) {
        self.feed(now, ClientInput::Command(Command::KeepAlive));
    }

    /// A CIR arrived (WebSocket or other): the client polls.
    #[wasm_bindgen(js_name = wakeUp)]
    pub fn wake_up(&mut self, now: f64) {
        self.feed(now, ClientInput::WakeUp);
    }

    /// The deadline from `pollTimeout` passed.
    pub fn timeout(&mut self, now: f64) {
        self.feed(now, ClientInput::Timeout);
    }

    /// The HTTP answer to the `send` output `request_id`.
    pub fn response(&mut self, now: f64, request_id: f64, body: Vec<u8>) {
        self.feed(
            now,
            ClientInput::Response {
                request_id: request_id as u64,
                body,
            },
        );
    }

    /// The `send` output `request_id` failed at the transport.
    #[wasm_bindgen(js_name = transportError)]
    pub fn transport_error(&mut self, now: f64, request_id: f64) {
        self.feed(
            now,
            ClientInput::TransportError {
                request_id: request_id as u64,
            },
        );
    }

    /// Sends any request primitive given as an element tree; answers its TransactionID.
    #[wasm_bindgen(js_name = sendPrimitive)]
    pub fn send_primitive(&mut self, now: f64, tree: JsValue) -> Result<String, JsValue> {
        let p = primitive_from_js(&tree, self.version)?;
        self.send(now, p)
    }

    /// `UpdatePresence-Request` publishing `attrs`.
    #[wasm_bindgen(js_name = updatePresence)]
    pub fn update_presence(&mut self, now: f64, attrs: JsValue) -> Result<String, JsValue> {
        let list = presence_from_js(&attrs, self.version)?;
        let p = client::presence::update_presence(self.version, list);
        self.send(now, p)
    }

    /// `SubscribePresence-Request` for `users` and `contact_lists` (attribute names or all).
    #[wasm_bindgen(js_name = subscribePresence)]
    pub fn subscribe_presence(
        &mut self,
        now: f64,
        users: JsValue,
        contact_lists: JsValue,
        attrs: JsValue,
        auto_subscribe: Option<bool>,
    ) -> Result<String, JsValue> {
        let attrs = optional_attrs(&attrs, self.version)?;
        let (users, lists) = (strings(&users), strings(&contact_lists));
        let p = client::presence::subscribe(
            self.version,
            &str_refs(&users),
            &str_refs(&lists),
            attrs,
            auto_subscribe,
        );
        self.send(now, p)
    }

    /// `UnsubscribePresence-Request`.
    #[wasm_bindgen(js_name = unsubscribePresence)]
    pub fn unsubscribe_presence(
        &mut self,
        now: f64,
        users: JsValue,
        contact_lists: JsValue,
    ) -> Result<String, JsValue> {
        let (users, lists) = (strings(&users), strings(&contact_lists));
        let p = client::presence::unsubscribe(self.version, &str_refs(&users), &str_refs(&lists));
        self.send(now, p)
    }

    /// `GetPresence-Request`.
    #[wasm_bindgen(js_name = getPresence)]
    pub fn get_presence(
        &mut self,
        now: f64,
        users: JsValue,
        contact_lists: JsValue,
        attrs: JsValue,
    ) -> Result<String, JsValue> {
        let attrs = optional_attrs(&attrs, self.version)?;
        let (users, lists) = (strings(&users), strings(&contact_lists));
        let p = client::presence::get_presence(
            self.version,
            &str_refs(&users),
            &str_refs(&lists),
            attrs,
        );
        self.send(now, p)
    }

    /// Grants `attrs` (names or values) to `users`, `contact_lists` and, when `default_list`,
    /// everyone (`CreateAttributeList-Request`; the 1.3 way of authorising).
    #[wasm_bindgen(js_name = createAttributeList)]
    pub fn create_attribute_list(
        &mut self,
        now: f64,
        attrs: JsValue,
        users: JsValue,
        contact_lists: JsValue,
        default_list: bool,
    ) -> Result<String, JsValue> {
        let list = presence_from_js(&attrs, self.version)?;
        let (users, lists) = (strings(&users), strings(&contact_lists));
        let p = client::presence::create_attribute_list(
            self.version,
            list,
            &str_refs(&users),
            &str_refs(&lists),
            default_list,
            None,
        );
        self.send(now, p)
    }

    /// Answers an authorisation request of `user` (≤ 1.2 `PresenceAuth-User`; in 1.3 an
    /// acceptance grants `attrs` with an attribute list for that user).
    pub fn authorize(
        &mut self,
        now: f64,
        user: &str,
        accept: bool,
        attrs: JsValue,
    ) -> Result<String, JsValue> {
        let attrs = optional_attrs(&attrs, self.version)?;
        if let Some(p) = client::presence::authorize(self.version, user, accept, attrs.clone()) {
            return self.send(now, p);
        }
        if !accept {
            return Err(error(
                506,
                "CSP 1.3 has no refusal primitive: leave the request unanswered",
                None,
            ));
        }
        let p = client::presence::create_attribute_list(
            self.version,
            attrs.unwrap_or_default(),
            &[user],
            &[],
            false,
            None,
        );
        self.send(now, p)
    }

    /// `SendMessage-Request` of `text` to users, contact lists and groups.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(
        &mut self,
        now: f64,
        users: JsValue,
        contact_lists: JsValue,
        groups: JsValue,
        text: &str,
        delivery_report: bool,
    ) -> Result<String, JsValue> {
        let (users, lists, groups) = (strings(&users), strings(&contact_lists), strings(&groups));
        let p = client::im::send_text(
            self.version,
            &str_refs(&users),
            &str_refs(&lists),
            &str_refs(&groups),
            text,
            delivery_report,
        );
        self.send(now, p)
    }

    /// `GetMessage-Request`.
    #[wasm_bindgen(js_name = getMessage)]
    pub fn get_message(&mut self, now: f64, id: &str) -> Result<String, JsValue> {
        self.send(now, client::im::get_message(id))
    }

    /// `MessageDelivered-Request`.
    #[wasm_bindgen(js_name = messageDelivered)]
    pub fn message_delivered(&mut self, now: f64, id: &str) -> Result<String, JsValue> {
        self.send(now, client::im::message_delivered(id))
    }

    /// `RejectMessage-Request`.
    #[wasm_bindgen(js_name = rejectMessages)]
    pub fn reject_messages(&mut self, now: f64, ids: JsValue) -> Result<String, JsValue> {
        let ids = strings(&ids);
        self.send(now, client::im::reject(&str_refs(&ids)))
    }

    /// `SetDeliveryMethod-Request`: `"P"` push or `"N"` notify.
    #[wasm_bindgen(js_name = setDeliveryMethod)]
    pub fn set_delivery_method(
        &mut self,
        now: f64,
        method: &str,
        accepted_content_length: Option<u32>,
        group: Option<String>,
    ) -> Result<String, JsValue> {
        let method = match method {
            "P" | "push" => DeliveryMethod::Push,
            "N" | "notify" => DeliveryMethod::Notify,
            other => {
                return Err(error(
                    400,
                    format!("delivery method {other:?}: \"P\" or \"N\""),
                    None,
                ));
            }
        };
        let p = client::im::set_delivery_method(method, accepted_content_length, group.as_deref());
        self.send(now, p)
    }

    /// `GetMessageList-Request`.
    #[wasm_bindgen(js_name = getMessageList)]
    pub fn get_message_list(
        &mut self,
        now: f64,
        group: Option<String>,
        count: Option<u32>,
    ) -> Result<String, JsValue> {
        self.send(now, client::im::get_message_list(group.as_deref(), count))
    }

    /// Which events `drain` gives: bit `i` for `clientEventTypes()[i]`.
    #[wasm_bindgen(js_name = setEvents)]
    pub fn set_events(&mut self, mask: u32) {
        self.events = mask;
    }

    /// Every pending output, in order, as one JSON text (JS parses it in one go instead of
    /// this module building each object field by field across the boundary):
    /// `[{ type: "send", requestId, contentType, body: LENGTH }, { type: "event", event }]`;
    /// the bodies of the sends lie one after another, in order, at `bodies()` in the module's
    /// memory until the next `drain` (JS copies them out at once: one copy, no `Uint8Array`
    /// made per body here).
    pub fn drain(&mut self) -> String {
        let mut j = Json::default();
        j.begin_array();
        self.bodies.clear();
        for o in std::mem::take(&mut self.pending) {
            if let ClientOutput::Event(e) = &o
                && self.events & (1 << event_kind(e)) == 0
            {
                continue;
            }
            client_output(o, self.version, &mut j, &mut self.bodies);
        }
        j.end_array();
        j.0
    }

    /// Where the bodies of the last `drain`'s sends start in the module's memory.
    pub fn bodies(&self) -> u32 {
        self.bodies.as_ptr() as usize as u32
    }

    /// When to call `timeout` next (monotonic ms).
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.client.poll_timeout().map(|t| t as f64)
    }

    /// The session id once logged in.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Option<String> {
        self.client.session_id().map(str::to_owned)
    }

    /// Whether negotiation finished and the session is ready.
    #[wasm_bindgen(getter, js_name = isReady)]
    pub fn is_ready(&self) -> bool {
        self.client.is_ready()
    }

    /// The merged presence of `user_id` as a `PresenceSubList` tree (`null` when unknown).
    #[wasm_bindgen(js_name = presenceOf)]
    pub fn presence_of(&self, user_id: &str) -> JsValue {
        self.client.presence(user_id).map_or(JsValue::NULL, |p| {
            value_to_js(p, "PresenceSubList", self.version)
        })
    }
}

fn optional_attrs(attrs: &JsValue, version: Version) -> Result<Option<PresenceSubList>, JsValue> {
    if attrs.is_undefined() || attrs.is_null() {
        Ok(None)
    } else {
        presence_from_js(attrs, version).map(Some)
    }
}

/// A JSON text written by hand (the package carries no JSON library): objects, arrays,
/// strings, numbers, booleans and null, with the commas placed by [`Json::sep`].
#[derive(Default)]
struct Json(String, bool);

impl Json {
    /// A comma unless this value is the first of its container or follows its key.
    fn sep(&mut self) {
        if self.1 {
            self.1 = false;
        } else if !self.0.is_empty() {
            self.0.push(',');
        }
    }
    fn begin_object(&mut self) {
        self.sep();
        self.0.push('{');
        self.1 = true;
    }
    fn end_object(&mut self) {
        self.0.push('}');
        self.1 = false;
    }
    fn begin_array(&mut self) {
        self.sep();
        self.0.push('[');
        self.1 = true;
    }
    fn end_array(&mut self) {
        self.0.push(']');
        self.1 = false;
    }
    fn key(&mut self, k: &str) {
        self.str(k);
        self.0.push(':');
        self.1 = true;
    }
    fn str(&mut self, s: &str) {
        self.sep();
        self.0.push('"');
        // Runs without escapes are copied whole; the bytes escaped are ASCII, so every cut
        // falls on a character boundary.
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(s.get(start..i).unwrap_or_default());
            if escape.is_empty() {
                self.0.push_str(&format!("\\u{b:04x}"));
            } else {
                self.0.push_str(escape);
            }
            start = i + 1;
        }
        self.0.push_str(s.get(start..).unwrap_or_default());
        self.0.push('"');
    }
    fn num(&mut self, n: u64) {
        self.sep();
        self.0.push_str(&n.to_string());
    }
    fn null(&mut self) {
        self.sep();
        self.0.push_str("null");
    }
    fn field_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }
    fn field_num(&mut self, k: &str, v: u64) {
        self.key(k);
        self.num(v);
    }
    fn field_strings(&mut self, k: &str, v: &[String]) {
        self.key(k);
        self.begin_array();
        for s in v {
            self.str(s);
        }
        self.end_array();
    }
    /// `{ name, attributes, children }`, as [`tree_to_js`] builds it.
    fn tree(&mut self, e: &RawElement) {
        self.begin_object();
        self.field_str("name", &e.name);
        self.key("attributes");
        self.begin_object();
        for (k, v) in &e.attributes {
            self.field_str(k, v);
        }
        self.end_object();
        self.key("children");
        self.begin_array();
        for c in &e.children {
            match c {
                RawNode::Element(child) => self.tree(child),
                RawNode::Text(t) => self.str(t),
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        self.end_array();
        self.end_object();
    }
    /// The element tree of `value` written as `name` (`null` when it writes none).
    fn value<T: XmlValue>(&mut self, k: &str, value: &T, name: &str, version: Version) {
        self.key(k);
        match value_tree(value, name, version) {
            Some(t) => self.tree(&t),
            None => self.null(),
        }
    }
    /// `{ name, code?, tree }` for a primitive, as [`primitive_to_js`] builds it.
    fn primitive(&mut self, k: &str, p: &Primitive, version: Version) {
        self.key(k);
        self.begin_object();
        self.field_str("name", p.name());
        if let Some(code) = p.result_code() {
            self.field_num("code", code.into());
        }
        self.key("tree");
        match primitive_tree(p, version) {
            Some(t) => self.tree(&t),
            None => self.null(),
        }
        self.end_object();
    }
}

fn client_output(o: ClientOutput, version: Version, j: &mut Json, bodies: &mut Vec<u8>) {
    j.begin_object();
    match o {
        ClientOutput::Send(s) => {
            j.field_str("type", "send");
            j.field_num("requestId", s.request_id);
            j.field_str("contentType", s.content_type);
            j.field_num("body", s.body.len() as u64);
            bodies.extend_from_slice(&s.body);
        }
        ClientOutput::Event(e) => {
            j.field_str("type", "event");
            j.key("event");
            client_event(e, version, j);
        }
    }
    j.end_object();
}

/// The `type` of each client event, in the order of [`event_kind`].
const CLIENT_EVENT_TYPES: [&str; 13] = [
    "loggedIn",
    "ready",
    "loginFailed",
    "disconnected",
    "serverRequest",
    "response",
    "keptAlive",
    "error",
    "presence",
    "authorizationRequest",
    "message",
    "messageWaiting",
    "deliveryReport",
];

/// The position of `e`'s type in [`CLIENT_EVENT_TYPES`].
fn event_kind(e: &ClientEvent) -> usize {
    match e {
        ClientEvent::LoggedIn { .. } => 0,
        ClientEvent::Ready { .. } => 1,
        ClientEvent::LoginFailed { .. } => 2,
        ClientEvent::Disconnected { .. } => 3,
        ClientEvent::ServerRequest(_) => 4,
        ClientEvent::Response { .. } => 5,
        ClientEvent::KeptAlive { .. } => 6,
        ClientEvent::Error { .. } => 7,
        ClientEvent::Presence { .. } => 8,
        ClientEvent::AuthorizationRequest { .. } => 9,
        ClientEvent::Message { .. } => 10,
        ClientEvent::MessageWaiting { .. } => 11,
        ClientEvent::DeliveryReport { .. } => 12,
    }
}

/// [`CLIENT_EVENT_TYPES`], for JS (the bits of `ClientCore.setEvents`).
#[wasm_bindgen(js_name = clientEventTypes)]
pub fn client_event_types() -> Array {
    CLIENT_EVENT_TYPES
        .iter()
        .map(|t| JsValue::from_str(t))
        .collect()
}

fn client_event(e: ClientEvent, version: Version, j: &mut Json) {
    j.begin_object();
    j.field_str(
        "type",
        CLIENT_EVENT_TYPES
            .get(event_kind(&e))
            .copied()
            .unwrap_or_default(),
    );
    match e {
        ClientEvent::LoggedIn {
            session_id,
            keep_alive_secs,
        } => {
            j.field_str("sessionId", &session_id);
            j.field_num("keepAliveSecs", keep_alive_secs.into());
        }
        ClientEvent::Ready {
            agreed,
            not_available,
        } => {
            j.field_strings("agreed", &agreed);
            j.field_strings("notAvailable", &not_available);
        }
        ClientEvent::LoginFailed { code, description } => {
            j.field_num("code", code.into());
            j.field_str("description", &description);
        }
        ClientEvent::Disconnected { code } => {
            j.field_num("code", code.into());
        }
        ClientEvent::ServerRequest(p) => {
            j.primitive("primitive", &p, version);
        }
        ClientEvent::Response {
            transaction_id,
            primitive,
        } => {
            j.field_str("transactionId", &transaction_id);
            j.primitive("primitive", &primitive, version);
        }
        ClientEvent::KeptAlive {
            code,
            keep_alive_secs,
        } => {
            j.field_num("code", code.into());
            j.field_num("keepAliveSecs", keep_alive_secs.into());
        }
        ClientEvent::Error { message } => {
            j.field_str("message", &message);
        }
        ClientEvent::Presence { user_id, changed } => {
            j.field_str("userId", &user_id);
            j.value("changed", &*changed, "PresenceSubList", version);
        }
        ClientEvent::AuthorizationRequest {
            user_id,
            attributes,
        } => {
            j.field_str("userId", &user_id);
            j.value("attributes", &*attributes, "PresenceSubList", version);
        }
        ClientEvent::Message {
            message_id,
            sender,
            info,
            content,
        } => {
            j.field_str("messageId", &message_id);
            if let Some(s) = sender {
                j.field_str("sender", &s);
            }
            if let Some(ct) = &info.content_type {
                j.field_str("contentType", ct);
            }
            j.value("info", &info, "MessageInfo", version);
            j.field_str("content", &content);
        }
        ClientEvent::MessageWaiting { info } => {
            if let Some(id) = &info.message_id {
                j.field_str("messageId", id);
            }
            j.value("info", &info, "MessageInfo", version);
        }
        ClientEvent::DeliveryReport {
            message_id,
            code,
            info,
        } => {
            if let Some(id) = message_id {
                j.field_str("messageId", &id);
            }
            j.field_num("code", code.into());
            j.value("info", &info, "MessageInfo", version);
        }
    }
    j.end_object();
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(super::version(), env!("CARGO_PKG_VERSION"));
        assert!(!super::version().is_empty());
        assert_eq!(super::interface_version(), "1");
    }
}
