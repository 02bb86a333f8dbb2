//! `imps codec roundtrip FILE...`: prints the re-encoded document alone on stdout; on failure
//! exits non-zero with one stderr line naming the file.

use std::path::PathBuf;
use std::process::Command;

use imps_engine::codec::{self, Limits};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/libwbxml-wv11")
}

fn roundtrip(files: &[&std::path::Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_imps"))
        .args(["codec", "roundtrip"])
        .args(files)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn roundtrip_of_a_sample_message_decodes_equal() {
    let file = vectors().join("wv-004.xml");
    if !file.exists() {
        eprintln!(
            "SKIPPED: {} is not there yet (tests/vectors is being created)",
            file.display()
        );
        return;
    }
    let original = codec::decode(&std::fs::read(&file).unwrap(), Limits::default()).unwrap();
    let out = roundtrip(&[&file]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = codec::decode(&out.stdout, Limits::default()).unwrap_or_else(|e| {
        panic!(
            "stdout is not the document alone ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(again, original);
}

#[test]
fn roundtrip_of_a_self_made_message_decodes_equal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keepalive.xml");
    std::fs::write(
        &file,
        "<?xml version=\"1.0\"?><WV-CSP-Message xmlns=\"http://www.wireless-village.org/CSP1.1\"><Session>\
         <SessionDescriptor><SessionType>Inband</SessionType><SessionID>abc</SessionID></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
         <TransactionID>42</TransactionID></TransactionDescriptor>\
         <TransactionContent xmlns=\"http://www.wireless-village.org/TRC1.1\"><KeepAlive-Request>\
         <TimeToLive>600</TimeToLive></KeepAlive-Request></TransactionContent></Transaction></Session>\
         </WV-CSP-Message>",
    )
    .unwrap();
    let original = codec::decode(&std::fs::read(&file).unwrap(), Limits::default()).unwrap();
    let out = roundtrip(&[&file]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.contains("http://www.wireless-village.org/CSP1.1"),
        "keeps its version: {text}"
    );
    assert_eq!(
        codec::decode(&out.stdout, Limits::default()).unwrap(),
        original
    );
}

#[test]
fn a_truncated_file_fails_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("truncated.xml");
    std::fs::write(
        &file,
        "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP1.2\"><Session>\
         <SessionDescriptor><SessionType>Outband</Sess",
    )
    .unwrap();
    let out = roundtrip(&[&file]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no document on failure");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "exactly one line: {err:?}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains('<') && err.contains('>'),
        "names the element: {err}"
    );
}

#[test]
fn a_missing_file_fails_with_one_line() {
    let out = roundtrip(&[std::path::Path::new("/nonexistent/imps/x.xml")]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("/nonexistent/imps/x.xml"));
}

fn imps(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_imps"))
        .arg("codec")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// `imps codec xml2wbxml` then `wbxml2xml` (file and stdout forms) gives the same message,
/// for a sample of each version; the WBXML is WBXML.
#[test]
fn xml_to_wbxml_and_back_keeps_the_message() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let dir = tempfile::tempdir().unwrap();
    for sample in [
        "libwbxml-wv11/wv-004.xml",
        "1.2/SendMessage-Request.xml",
        "1.3/Login-Request.xml",
    ] {
        let xml = root.join(sample);
        let original = codec::decode(&std::fs::read(&xml).unwrap(), Limits::default()).unwrap();
        let wbxml = dir.path().join("m.wbxml");
        let out = imps(&[
            "xml2wbxml".as_ref(),
            xml.as_os_str(),
            "-o".as_ref(),
            wbxml.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&wbxml).unwrap();
        assert_eq!(
            codec::decode_wbxml(&bytes, Limits::default()).unwrap(),
            original
        );
        let out = imps(&["wbxml2xml".as_ref(), wbxml.as_os_str()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            codec::decode(&out.stdout, Limits::default()).unwrap(),
            original
        );
    }
}

#[test]
fn converting_a_file_that_does_not_decode_says_why_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wbxml");
    std::fs::write(&bad, [0x03, 0x11, 0x6A, 0x00, 0x49, 0x3F]).unwrap();
    let out = imps(&["wbxml2xml".as_ref(), bad.as_os_str()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.wbxml"), "{err}");
}
