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
