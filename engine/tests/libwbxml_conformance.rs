#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Conformance with libwbxml's CSP 1.1 sample messages (`tests/vectors/libwbxml-wv11/`,
//! LGPL-2.1-or-later, see its `LICENSE-NOTICE.md`). These are hand-written spec samples, so
//! every one must decode as CSP 1.1 to a known primitive without falling back to a raw
//! element, and survive decode → encode (1.1) → decode with equal values. The odd DateTime
//! forms of wv-106…116 are kept as text.

use std::path::PathBuf;

use imps_engine::codec::{self, Limits, Primitive, Version};

fn sample_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/libwbxml-wv11");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the libwbxml sample folder {} is missing: {e}",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 50,
        "expected at least 50 libwbxml samples in {}, found {}",
        dir.display(),
        files.len()
    );
    files
}

#[test]
fn libwbxml_samples_decode_and_round_trip() {
    for path in sample_files() {
        let name = path.display();
        let bytes = std::fs::read(&path).unwrap();
        let first = codec::decode(&bytes, Limits::default())
            .unwrap_or_else(|e| panic!("{name}: decode failed: {e}"));
        assert_eq!(first.version, Version::V1_1, "{name}: not CSP 1.1");
        let prims: Vec<&Primitive> = first
            .session
            .transactions
            .iter()
            .filter_map(|t| t.content.as_ref())
            .flat_map(|c| c.primitives.iter())
            .collect();
        assert_eq!(prims.len(), 1, "{name}: expected one primitive");
        assert!(
            !matches!(prims[0], Primitive::Unknown(_)),
            "{name}: unknown primitive {}",
            prims[0].name()
        );
        let debug = format!("{first:?}");
        assert!(
            !debug.contains("RawElement {"),
            "{name}: an element was not recognised: {debug}"
        );

        let encoded = codec::encode(&first);
        let second = codec::decode(&encoded, Limits::default()).unwrap_or_else(|e| {
            panic!(
                "{name}: re-decode failed: {e}\n{}",
                String::from_utf8_lossy(&encoded)
            )
        });
        assert_eq!(second.version, Version::V1_1, "{name}: version changed");
        assert_eq!(first, second, "{name}: values differ after a round trip");
        assert_eq!(
            encoded,
            codec::encode(&second),
            "{name}: encoding is not stable"
        );
    }
}

#[test]
fn libwbxml_spellings_are_read_as_the_standard_elements() {
    use imps_engine::codec::presence::PresenceNotificationRequest;
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/libwbxml-wv11/wv-040.xml");
    let msg = codec::decode(&std::fs::read(path).unwrap(), Limits::default()).unwrap();
    let content = msg.transaction().unwrap().content.as_ref().unwrap();
    let Primitive::PresenceNotificationRequest(notification) = &content.primitives[0] else {
        panic!("not a PresenceNotification-Request");
    };
    let PresenceNotificationRequest { presence, .. } = &**notification;
    let sub = &presence[0].presence_sub_list[0];
    let status_content = sub.status_content.as_ref().unwrap();
    assert!(
        status_content
            .referred_content
            .as_deref()
            .unwrap()
            .starts_with("http://www.foo.com/MyLogo")
    );
    let contact_info = sub.contact_info.as_ref().unwrap();
    assert!(contact_info.referred_vcard.is_some());
    assert_eq!(sub.online(), Some(true));
    assert_eq!(sub.comm_cap[0].comm_c.len(), 3);
    let out = String::from_utf8(codec::encode(&msg)).unwrap();
    assert!(out.contains("<ReferredContent>") && !out.contains("PreferredContent"));
}
