//! Arbitrary bytes → `codec::decode`; whatever decodes must round-trip (see `../check.rs`).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)] // each target uses its own check
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check::decode_roundtrip(data);
});
