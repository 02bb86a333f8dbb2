//! Arbitrary bytes → `codec::decode_wbxml`; whatever decodes must round-trip through WBXML
//! and XML (see `../check.rs`).
#![no_main]

#[path = "../check.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check::wbxml_roundtrip(data);
});
