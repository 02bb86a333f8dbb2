#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Interop of the WBXML codec with libwbxml (Debian `libwbxml2-utils`: `xml2wbxml`,
//! `wbxml2xml`), an independent C implementation, for every CSP 1.1 and 1.2 golden vector
//! and libwbxml sample (libwbxml has no 1.3 tables: `wbxml.rs` round-trips those):
//!
//! * our WBXML, read by `wbxml2xml`, is the same document: its XML decodes to the value we
//!   encoded;
//! * `xml2wbxml`'s WBXML of the vector decodes in our codec to the value the XML decodes to.
//!
//! libwbxml is lenient in ways the comparison allows for (TOOLCHAIN.md): it drops every
//! `xmlns` attribute (so its XML carries no version: the version is compared apart, from the
//! DOCTYPE it writes), and it only knows the language of an XML document from its
//! `-//OMA//DTD WV-CSP 1.x//EN` DOCTYPE (added to the vectors, which have none).
//! Both tools run with `-k`: libwbxml otherwise trims the text of every element. Element
//! names are given to libwbxml in its spelling where it knows only one ([`LIBWBXML_SPELLINGS`]).
//! Where libwbxml deviates further the vector is skipped with the reason ([`SKIPS`]).
//! `cargo xtask setup` installs the package; without it these tests fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use imps_engine::codec::{self, Limits, Message, Version};

/// Which way a vector goes through libwbxml.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Our WBXML read by `wbxml2xml`.
    ToXml,
    /// The vector written by `xml2wbxml`, read by us.
    ToWbxml,
}

/// Vectors (path under `tests/vectors/`) libwbxml cannot carry one way, and why.
const SKIPS: &[(Way, &str, &str)] = &[
    (
        Way::ToWbxml,
        "libwbxml-wv11/wv-106-datetime.xml",
        "libwbxml completes a DateTime without seconds and zone (20010925T1340 → 20010925T134000Z)",
    ),
    (
        Way::ToWbxml,
        "libwbxml-wv11/wv-107-datetime.xml",
        "libwbxml completes a DateTime without a zone (20010925T134013 → 20010925T134013Z)",
    ),
    (
        Way::ToWbxml,
        "1.2/Extended-Request-vendor.xml",
        "libwbxml drops the xmlns attribute of an element it has no namespace token for",
    ),
    (
        Way::ToXml,
        "1.2/PresenceNotification-Request.xml",
        "libwbxml's XML writer leaves a carriage return unescaped, so it reads back as a line feed",
    ),
];

/// Spellings our decoder reads as the same element that libwbxml knows only in its own
/// spelling (CSP-REFERENCE §9): the vectors are given to `xml2wbxml` in libwbxml's.
const LIBWBXML_SPELLINGS: &[(&str, &str)] = &[
    ("CName", "Cname"),
    ("BlockUser-Request", "BlockEntity-Request"),
    ("AcceptedCharSet", "AcceptedCharset"),
    ("AutoSubscribe", "Auto-Subscribe"),
    ("ReferredContent", "PreferredContent"),
    ("ReferredvCard", "PreferredvCard"),
];

/// `xml` with element names in libwbxml's spelling.
fn libwbxml_spelling(xml: &str) -> String {
    let mut out = xml.to_owned();
    for (ours, theirs) in LIBWBXML_SPELLINGS {
        for (a, b) in [("<", "<"), ("</", "</")] {
            for end in [">", "/>"] {
                out = out.replace(&format!("{a}{ours}{end}"), &format!("{b}{theirs}{end}"));
            }
        }
    }
    out
}

fn vectors() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files = Vec::new();
    for dir in ["1.1", "1.2", "libwbxml-wv11"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 28 + 91 + 78,
        "found only {} vectors",
        files.len()
    );
    files
}

fn skip_reason(way: Way, path: &Path) -> Option<&'static str> {
    let path = path.to_str()?;
    SKIPS
        .iter()
        .find(|(w, p, _)| *w == way && path.ends_with(&format!("vectors/{p}")))
        .map(|(_, _, why)| *why)
}

/// Runs `tool args… -o - -` with `input` on stdin; its stdout.
fn run(tool: &str, args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(tool)
        .args(args)
        .args(["-o", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{tool} is missing ({e}): `cargo xtask setup` installs libwbxml2-utils")
        });
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() && !out.stdout.is_empty() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The DOCTYPE libwbxml knows the language of version `v` by.
fn doctype(v: Version) -> String {
    format!(
        "<!DOCTYPE WV-CSP-Message PUBLIC \"-//OMA//DTD WV-CSP {}//EN\" \"http://www.openmobilealliance.org/DTD/WV-CSP.XML\">\n",
        v.as_str()
    )
}

/// `xml` with the DOCTYPE of `v` (after the XML declaration, replacing any DOCTYPE).
fn with_doctype(xml: &str, v: Version) -> String {
    let body = match xml.find("<WV-CSP-Message") {
        Some(i) => &xml[i..],
        None => xml,
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}{body}",
        doctype(v)
    )
}

/// The version libwbxml's XML names in its DOCTYPE.
fn doctype_version(xml: &str) -> Option<Version> {
    let digits = xml.split("WV-CSP ").nth(1)?.get(..3)?;
    Version::ALL.into_iter().find(|v| v.as_str() == digits)
}

fn lang(v: Version) -> &'static str {
    match v {
        Version::V1_1 => "CSP11",
        _ => "CSP12",
    }
}

/// The names our encoder writes as LITERAL for `msg` (they are in its string table).
fn literals(msg: &Message) -> Vec<String> {
    let bytes = codec::encode_wbxml(msg);
    // Header: version, public id, charset, string-table length (one byte each here).
    let len = bytes[3] as usize;
    bytes[4..4 + len]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn has_literal(msg: &Message) -> bool {
    !literals(msg).is_empty()
}

/// Where the debug forms of `a` and `b` first differ.
fn diff(a: &Message, b: &Message) -> String {
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(80);
    let piece = |s: &str| s.get(from..(at + 80).min(s.len())).unwrap_or("").to_owned();
    format!("\n  theirs …{}…\n  ours   …{}…", piece(&a), piece(&b))
}

fn load(path: &Path) -> Message {
    codec::decode(&std::fs::read(path).unwrap(), Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn wbxml2xml_reads_our_wbxml_as_the_same_document() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in vectors() {
        let name = path.display().to_string();
        if let Some(why) = skip_reason(Way::ToXml, &path) {
            eprintln!("skipped {name}: {why}");
            continue;
        }
        let msg = load(&path);
        let ours = codec::encode_wbxml(&msg);
        let xml = match run(
            "wbxml2xml",
            &["-k", "-m", "0", "-l", lang(msg.version)],
            &ours,
        ) {
            Ok(xml) => String::from_utf8(xml).unwrap(),
            Err(e) => {
                failures.push(format!(
                    "{name}: wbxml2xml refused our WBXML: {e}\n{ours:02X?}"
                ));
                continue;
            }
        };
        if doctype_version(&xml) != Some(msg.version) {
            failures.push(format!("{name}: libwbxml names another version: {xml}"));
            continue;
        }
        let mut theirs = match codec::decode(xml.as_bytes(), Limits::default()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!(
                    "{name}: libwbxml's XML does not decode: {e}\n{xml}"
                ));
                continue;
            }
        };
        // libwbxml drops the namespaces, and with them the version (checked above).
        theirs.version = msg.version;
        if theirs != msg {
            failures.push(format!(
                "{name}: libwbxml reads another document: {}\n{xml}",
                diff(&theirs, &msg)
            ));
            continue;
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(checked >= 190, "only {checked} vectors checked");
}

#[test]
fn xml2wbxml_output_decodes_to_the_same_value() {
    let (mut checked, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for path in vectors() {
        let name = path.display().to_string();
        if let Some(why) = skip_reason(Way::ToWbxml, &path) {
            eprintln!("skipped {name}: {why}");
            skipped += 1;
            continue;
        }
        let msg = load(&path);
        let xml = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let input = libwbxml_spelling(&with_doctype(&xml, msg.version));
        let wbxml = match run("xml2wbxml", &["-k"], input.as_bytes()) {
            Ok(w) => w,
            Err(e) if e.contains("can't encode Literal") && has_literal(&msg) => {
                // libwbxml writes no string table for WV-CSP, so it cannot write an element
                // its tables lack (we write those as LITERAL).
                eprintln!(
                    "skipped {name}: an element without a libwbxml token ({})",
                    literals(&msg).join(", ")
                );
                skipped += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: xml2wbxml refused the vector: {e}"));
                continue;
            }
        };
        let theirs = match codec::decode_wbxml(&wbxml, Limits::default()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!(
                    "{name}: libwbxml's WBXML does not decode: {e}\n{wbxml:02X?}"
                ));
                continue;
            }
        };
        // Its version comes from the public id (1.1) or the public id string (1.2).
        if theirs != msg {
            failures.push(format!(
                "{name}: libwbxml's WBXML reads as another value: {}",
                diff(&theirs, &msg)
            ));
            continue;
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{checked} checked, {skipped} skipped");
    assert!(checked >= 150, "only {checked} vectors checked");
}
