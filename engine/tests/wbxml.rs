#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The WBXML codec on its own (CSP-REFERENCE §6): every golden vector and libwbxml sample
//! survives XML → typed → WBXML → typed with equal values in its own version (1.3 included,
//! which libwbxml cannot check), the worked example of §6.6 reads, and bad input gets a
//! decode error, never a panic.

use std::path::{Path, PathBuf};

use imps_engine::codec::{self, Limits, Message, SessionType, Version};

fn vectors() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files = Vec::new();
    for dir in ["1.1", "1.2", "1.3", "libwbxml-wv11"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 195 + 78,
        "found only {} vectors",
        files.len()
    );
    files
}

fn wbxml_round_trip(name: &str, msg: &Message) -> Vec<u8> {
    let bytes = codec::encode_wbxml(msg);
    let back = codec::decode_wbxml(&bytes, Limits::default())
        .unwrap_or_else(|e| panic!("{name}: our WBXML does not decode: {e}\n{bytes:02X?}"));
    assert_eq!(&back, msg, "{name}: WBXML round trip changed the value");
    assert_eq!(
        codec::encode_wbxml(&back),
        bytes,
        "{name}: bytes not stable"
    );
    bytes
}

#[test]
fn every_golden_vector_round_trips_through_wbxml_in_its_version() {
    let mut per_version = [0usize; 3];
    for path in vectors() {
        let name = path.display().to_string();
        let msg = codec::decode(&std::fs::read(&path).unwrap(), Limits::default()).unwrap();
        let bytes = wbxml_round_trip(&name, &msg);
        // The header names the version by its public id.
        let id = codec::wbxml::public_id(msg.version) as u8;
        assert_eq!(&bytes[..3], &[0x03, id, 0x6A], "{name}");
        per_version[msg.version as usize] += 1;
    }
    assert!(per_version.iter().all(|&n| n > 20), "{per_version:?}");
}

#[test]
fn wbxml_is_smaller_than_xml_for_every_vector() {
    for path in vectors() {
        let xml = std::fs::read(&path).unwrap();
        let msg = codec::decode(&xml, Limits::default()).unwrap();
        let ours_xml = codec::encode(&msg);
        let wbxml = codec::encode_wbxml(&msg);
        assert!(
            wbxml.len() < ours_xml.len(),
            "{}: WBXML {} bytes, XML {}",
            path.display(),
            wbxml.len(),
            ours_xml.len()
        );
    }
}

/// CSP-REFERENCE §6.6 (Android's `simple3_wbxml`): a 1.1 fragment whose Session has a
/// descriptor and no Transaction. It reads as a 1.1 message with SessionType Outband (from
/// value token 0x19) and no transactions; the server answers such a message with 400.
#[test]
fn the_worked_example_of_section_6_6_decodes_leniently() {
    let bytes = [
        0x03, 0x10, 0x6A, 0x00, 0xC9, 0x05, 0x03, 0x31, 0x2E, 0x31, 0x00, 0x01, 0x6D, 0x6E, 0x70,
        0x80, 0x19, 0x01, 0x01, 0x01, 0x01,
    ];
    let msg = codec::decode_wbxml(&bytes, Limits::default()).unwrap();
    assert_eq!(msg.version, Version::V1_1);
    let d = msg.session.descriptor.as_ref().unwrap();
    assert_eq!(d.session_type, Some(SessionType::Outband));
    assert_eq!(d.session_id, None);
    assert!(msg.session.transactions.is_empty());
    // And we write it back as the same bytes.
    assert_eq!(codec::encode_wbxml(&msg), bytes);
}

#[test]
fn an_unknown_public_id_takes_the_version_of_the_root_namespace() {
    let msg = codec::decode(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/1.2/Login-Request.xml"),
        )
        .unwrap(),
        Limits::default(),
    )
    .unwrap();
    let mut bytes = codec::encode_wbxml(&msg);
    // libwbxml writes 0x01 ("unknown") for 1.2.
    bytes[1] = 0x01;
    assert_eq!(codec::decode_wbxml(&bytes, Limits::default()).unwrap(), msg);
}

#[test]
fn integers_are_minimal_opaque_and_read_back_from_any_length() {
    let xml = br#"<WV-CSP-Message xmlns="http://www.wireless-village.org/CSP1.1"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Response</TransactionMode><TransactionID>1</TransactionID></TransactionDescriptor><TransactionContent xmlns="http://www.wireless-village.org/TRC1.1"><Status><Result><Code>200</Code></Result></Status></TransactionContent></Transaction></Session></WV-CSP-Message>"#;
    let msg = codec::decode(xml, Limits::default()).unwrap();
    let bytes = codec::encode_wbxml(&msg);
    // <Code> (0x0B|0x40) OPAQUE, length 1, 200, END.
    let at = bytes
        .windows(5)
        .position(|w| w == [0x4B, 0xC3, 0x01, 200, 0x01]);
    assert!(at.is_some(), "{bytes:02X?}");
    // The same integer in four bytes, or none (libwbxml's 0), reads back.
    let i = at.unwrap();
    let mut long = bytes[..i + 1].to_vec();
    long.extend([0xC3, 0x04, 0, 0, 0, 200]);
    long.extend(&bytes[i + 4..]);
    assert_eq!(codec::decode_wbxml(&long, Limits::default()).unwrap(), msg);
}

#[test]
fn unknown_elements_travel_as_literals_with_a_string_table() {
    let xml = br#"<WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>7</TransactionID></TransactionDescriptor><TransactionContent xmlns="http://www.openmobilealliance.org/DTD/WV-TRC1.2"><Polling-Request/></TransactionContent><x:Vendor xmlns:x="urn:v" a="1&amp;2">text<Inner/></x:Vendor></Transaction></Session></WV-CSP-Message>"#;
    let msg = codec::decode(xml, Limits::default()).unwrap();
    let bytes = codec::encode_wbxml(&msg);
    assert!(bytes[3] > 0, "a string table is written: {bytes:02X?}");
    assert_eq!(codec::decode_wbxml(&bytes, Limits::default()).unwrap(), msg);
}

#[test]
fn truncated_and_corrupted_documents_get_errors_not_panics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/1.2/Login-Request.xml");
    let msg = codec::decode(&std::fs::read(path).unwrap(), Limits::default()).unwrap();
    let bytes = codec::encode_wbxml(&msg);
    for n in 0..bytes.len() {
        assert!(
            codec::decode_wbxml(&bytes[..n], Limits::default()).is_err(),
            "prefix {n}"
        );
    }
    for i in 0..bytes.len() {
        for b in [0x00, 0x01, 0x02, 0x03, 0x04, 0x43, 0x80, 0x83, 0xC3, 0xFF] {
            let mut c = bytes.clone();
            c[i] = b;
            let _ = codec::decode_wbxml(&c, Limits::default());
        }
    }
    // Limits apply: nesting deeper than allowed.
    let mut deep = vec![0x03, 0x11, 0x6A, 0x00, 0x49];
    deep.extend(std::iter::repeat_n(0x6D, 100));
    let e = codec::decode_wbxml(&deep, Limits::default()).unwrap_err();
    assert_eq!(e.reason, codec::DecodeReason::TooDeep);
}
