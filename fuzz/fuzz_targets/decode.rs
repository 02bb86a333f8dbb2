//! Arbitrary bytes → `codec::decode`; whatever decodes must round-trip (see `../check.rs`).
#![no_main]

#[path = "../check.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check::decode_roundtrip(data);
});
