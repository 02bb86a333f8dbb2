//! Replays the committed fuzz regressions (`fuzz/regressions/<target>/`, every input that
//! ever crashed a target plus a few interesting ones the fuzzer found) through the very
//! checks the fuzz targets run: `fuzz/check.rs` for `decode` and `wbxml`, `fuzz/driver.rs` for
//! `engine_inputs`. Run the fuzzers themselves with `cargo xtask fuzz`.
//!
//! A file named `open-*` reproduces a bug that is reported but not fixed yet: it must still
//! fail. Once it passes, the test says so: drop the `open-` prefix and it guards the fix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../fuzz/check.rs"]
mod check;
#[path = "../../fuzz/driver.rs"]
mod driver;

use std::path::{Path, PathBuf};

/// Every file of `fuzz/regressions/<target>/`, sorted; fails when there is none.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every input of `target`, then fails naming each input that panicked
/// (or, for an `open-*` input, that no longer panics).
fn replay(target: &str, check: fn(&[u8])) {
    let mut failed = Vec::new();
    let mut fixed = Vec::new();
    for (path, bytes) in inputs(target) {
        let open = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("open-"));
        let panicked = std::panic::catch_unwind(|| check(&bytes)).is_err();
        match (open, panicked) {
            (false, true) => failed.push(path.display().to_string()),
            (true, false) => fixed.push(path.display().to_string()),
            _ => {}
        }
    }
    assert!(
        failed.is_empty(),
        "{target} regressions failing: {failed:#?}"
    );
    assert!(
        fixed.is_empty(),
        "{target} open bugs now pass; drop the open- prefix: {fixed:#?}"
    );
}

#[test]
fn decode_regressions_round_trip() {
    replay("decode", |bytes| {
        check::decode_roundtrip(bytes);
    });
}

#[test]
fn wbxml_regressions_round_trip() {
    replay("wbxml", |bytes| {
        check::wbxml_roundtrip(bytes);
    });
}

#[test]
fn engine_input_regressions_keep_the_invariants() {
    replay("engine_inputs", driver::run);
}

/// Every `.xml` file under `dir`, recursively.
fn xml_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            xml_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "xml") {
            out.push(p);
        }
    }
}

/// The fast paths of the decoder against quick-xml (the check the `decode` target runs on
/// every input) over every golden vector and sample, and variants of each that the fast
/// tokenizer must read the same way or leave to quick-xml: another XML declaration, CRLF
/// line ends, indentation, a comment, an entity, an attribute, a CDATA section, a truncation.
#[test]
fn the_fast_paths_read_every_vector_as_quick_xml_does() {
    let mut files = Vec::new();
    xml_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
        &mut files,
    );
    assert!(files.len() > 100, "{} vectors", files.len());
    let mut read_fast = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let variants = [
            text.clone(),
            text.replace('\n', "\r\n"),
            text.replace("><", ">\n  <"),
            text.replacen("<Session>", "<!-- c --><Session>", 1),
            text.replacen("<Session>", "<Session a=\"1\">", 1),
            text.replacen("</TransactionID>", "&amp;</TransactionID>", 1),
            text.replacen("<TransactionID>", "<TransactionID><![CDATA[x]]>", 1),
            text.replacen(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<?xml version='1.0'?>",
                1,
            ),
            text.get(..text.len() * 2 / 3).unwrap_or("").to_owned(),
        ];
        for v in variants {
            if imps_engine::codec::decode_fast_only(v.as_bytes(), Default::default()).is_some() {
                read_fast += 1;
            }
            let outcome = std::panic::catch_unwind(|| check::same_as_reference(v.as_bytes()));
            assert!(outcome.is_ok(), "{}: a variant disagrees", f.display());
        }
    }
    assert!(
        read_fast > files.len(),
        "the fast paths read only {read_fast} documents"
    );
}
