//! Arbitrary bytes → `codec::decode_wbxml`; whatever decodes must round-trip through WBXML
//! and XML (see `../check.rs`).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)] // each target uses its own check
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check::wbxml_roundtrip(data);
});
