//! The codec's promise, checked on one input. Shared by the `decode` fuzz target, the
//! `engine_inputs` driver (on every reply) and `engine/tests/fuzz_regressions.rs`:
//! no panic on any input; the decoder's fast paths read what quick-xml reads, to the same
//! message; decode → encode → decode gives an equal message; encoding that again gives
//! identical bytes.

use imps_engine::codec::{self, Limits, Message};

/// Decodes `data` under default limits. When it decodes, checks the round trip and returns
/// the message; panics when the promise is broken.
pub fn decode_roundtrip(data: &[u8]) -> Option<Message> {
    same_as_reference(data);
    let first = codec::decode(data, Limits::default()).ok()?;
    let bytes = codec::encode(&first);
    let second = match codec::decode(&bytes, Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!(
            "the encoding of a decoded message does not decode: {e}\nencoding: {}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    if first != second {
        panic!(
            "decode → encode → decode changed the message\nfirst:  {first:?}\nsecond: {second:?}\nencoding: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let again = codec::encode(&second);
    if again != bytes {
        panic!(
            "encoding is not stable\nfirst:  {}\nsecond: {}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&again)
        );
    }
    Some(first)
}

/// Where the fast paths of the decoder read `data`, quick-xml reads it to the same message.
pub fn same_as_reference(data: &[u8]) {
    let Some(fast) = codec::decode_fast_only(data, Limits::default()) else {
        return;
    };
    match codec::decode_reference(data, Limits::default()) {
        Ok(reference) if reference == fast => {}
        Ok(reference) => panic!(
            "the fast paths and quick-xml disagree\nfast:      {fast:?}\nreference: {reference:?}\ninput: {}",
            String::from_utf8_lossy(data)
        ),
        Err(e) => panic!(
            "the fast paths read what quick-xml refuses ({e})\ninput: {}",
            String::from_utf8_lossy(data)
        ),
    }
}

/// The WBXML codec's promise on one input (the `wbxml` target): no panic; what decodes
/// survives WBXML encode → decode equal with stable bytes, and converts to XML and back
/// equal (what `imps codec wbxml2xml` relies on).
pub fn wbxml_roundtrip(data: &[u8]) -> Option<Message> {
    let first = codec::decode_wbxml(data, Limits::default()).ok()?;
    let bytes = codec::encode_wbxml(&first);
    let second = match codec::decode_wbxml(&bytes, Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!(
            "the WBXML encoding of a decoded message does not decode: {e}\nencoding: {bytes:02X?}"
        ),
    };
    if first != second {
        panic!(
            "WBXML decode → encode → decode changed the message\nfirst:  {first:?}\nsecond: {second:?}\nencoding: {bytes:02X?}"
        );
    }
    let again = codec::encode_wbxml(&second);
    if again != bytes {
        panic!("WBXML encoding is not stable\nfirst:  {bytes:02X?}\nsecond: {again:02X?}");
    }
    let xml = codec::encode(&first);
    match codec::decode(&xml, Limits::default()) {
        Ok(m) if m == first => {}
        Ok(m) => panic!(
            "WBXML → XML → typed changed the message\nfirst: {first:?}\nxml:   {m:?}\nencoding: {}",
            String::from_utf8_lossy(&xml)
        ),
        Err(e) => panic!(
            "the XML encoding of a WBXML message does not decode: {e}\nencoding: {}",
            String::from_utf8_lossy(&xml)
        ),
    }
    Some(first)
}
