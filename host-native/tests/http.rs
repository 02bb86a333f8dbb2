//! Malformed and hostile input over real HTTP against a spawned `imps serve` (issue 2 item 8):
//! every request gets HTTP 200 with a well-formed CSP reply and the stated status code —
//! never a panic, a hang or HTTP 500.

mod common;

use common::{CT_XML, ImpsServer, NS_CSP12, NS_TRC12, message};
use imps_engine::codec::{Primitive, Version};

fn server() -> (tempfile::TempDir, ImpsServer) {
    let dir = tempfile::tempdir().unwrap();
    let s = ImpsServer::start(dir.path(), &["--open-registration"]);
    (dir, s)
}

fn login_xml(user: &str) -> String {
    message(
        None,
        "Request",
        Some("1"),
        &format!(
            "<Login-Request><UserID>{user}</UserID><ClientID><URL>t</URL></ClientID>\
             <Password>secret</Password></Login-Request>"
        ),
    )
}

#[test]
fn truncated_xml_gets_400() {
    let (_d, s) = server();
    let full = login_xml("wv:alice");
    for cut in [full.len() / 2, full.len() - 10, 60] {
        let r = s.csp(full.get(..cut).unwrap());
        assert_eq!(r.code(), 400, "cut at {cut}");
    }
}

#[test]
fn not_xml_at_all_gets_400() {
    let (_d, s) = server();
    assert_eq!(s.csp("hello, this is not XML").code(), 400);
    assert_eq!(s.csp("").code(), 400);
    assert_eq!(
        s.post("/imps", CT_XML, &[0xff, 0xfe, 0x00, 0x80, 0x3c])
            .code(),
        400
    );
    assert_eq!(s.csp("<html><body>wrong root</body></html>").code(), 400);
}

#[test]
fn foreign_root_namespace_gets_505() {
    let (_d, s) = server();
    for ns in [
        "http://example.org/not-csp",
        "http://www.openmobilealliance.org/DTD/WV-CSP1.4",
    ] {
        let body = login_xml("wv:alice").replace(NS_CSP12, ns);
        assert_eq!(s.csp(&body).code(), 505, "namespace {ns}");
    }
}

#[test]
fn message_without_namespace_is_read_as_1_2() {
    let (_d, s) = server();
    let body = login_xml("wv:nons")
        .replace(&format!(" xmlns=\"{NS_CSP12}\""), "")
        .replace(&format!(" xmlns=\"{NS_TRC12}\""), "");
    assert!(!body.contains("xmlns"));
    let r = s.csp(&body);
    let code = r.code();
    let msg = r.decode();
    assert_eq!(
        msg.version,
        Version::V1_2,
        "a message without namespace is answered as CSP 1.2"
    );
    assert!(
        matches!(msg.primitive(), Some(Primitive::LoginResponse(_))),
        "{msg:?}"
    );
    assert_eq!(code, 200, "open registration logs the new user in");
}

#[test]
fn unknown_primitive_gets_501() {
    let (_d, s) = server();
    let body = message(
        None,
        "Request",
        Some("7"),
        "<Frobnicate-Request><Foo>1</Foo></Frobnicate-Request>",
    );
    assert_eq!(s.csp(&body).code(), 501);
}

#[test]
fn body_over_the_hard_cap_gets_400() {
    let (_d, s) = server();
    let mut body = login_xml("wv:alice").into_bytes();
    body.resize(8 * 1024 * 1024 + 1, b' ');
    let r = s.post("/imps", CT_XML, &body);
    assert_eq!(r.code(), 400);
    // The server still answers afterwards.
    assert_eq!(s.login("wv:after", "pw").0, 200);
}

#[test]
fn body_over_the_configured_limit_gets_400() {
    let (_d, s) = server();
    // Default limits.max_message_bytes is 1 MiB; send 2 MiB (under the 8 MiB hard cap).
    let mut body = login_xml("wv:alice").into_bytes();
    body.resize(2 * 1024 * 1024, b' ');
    assert_eq!(s.post("/imps", CT_XML, &body).code(), 400);
}

#[test]
fn deep_nesting_gets_400() {
    let (_d, s) = server();
    let depth = 2000;
    let inner = format!("{}{}", "<Deep>".repeat(depth), "</Deep>".repeat(depth));
    let body = message(
        None,
        "Request",
        Some("d"),
        &format!("<Login-Request>{inner}</Login-Request>"),
    );
    assert_eq!(s.csp(&body).code(), 400);
}

#[test]
fn inband_request_without_or_with_a_wrong_session_id_gets_604() {
    let (_d, s) = server();
    let keep_alive = "<KeepAlive-Request><TimeToLive>300</TimeToLive></KeepAlive-Request>";
    let without = message(None, "Request", Some("k1"), keep_alive).replace(
        "<SessionType>Outband</SessionType>",
        "<SessionType>Inband</SessionType>",
    );
    assert_eq!(s.csp(&without).code(), 604, "Inband without SessionID");
    let wrong = message(
        Some("0123456789abcdef0123456789abcdef"),
        "Request",
        Some("k2"),
        keep_alive,
    );
    assert_eq!(
        s.csp(&wrong).code(),
        604,
        "Inband with an unknown SessionID"
    );
    // A real session still works.
    let (code, sid) = s.login("wv:alice", "secret");
    assert_eq!(code, 200);
    let ok = message(sid.as_deref(), "Request", Some("k3"), keep_alive);
    assert_eq!(s.csp(&ok).code(), 200);
}

#[test]
fn response_for_an_unknown_transaction_gets_420() {
    let (_d, s) = server();
    let (code, sid) = s.login("wv:alice", "secret");
    assert_eq!(code, 200);
    let sid = sid.expect("Login-Response carries a SessionID");
    let ack = message(
        Some(&sid),
        "Response",
        Some("no-such-transaction"),
        "<Status><Result><Code>200</Code></Result></Status>",
    );
    assert_eq!(s.csp(&ack).code(), 420);
}

#[test]
fn both_xml_content_types_the_bare_url_and_other_types_are_answered() {
    let (_d, s) = server();
    let sp_info = message(None, "Request", Some("sp"), "<GetSPInfo-Request/>");
    for ct in [
        CT_XML,
        "application/vnd.wv.csp+xml",
        "application/vnd.wv.csp.xml; charset=utf-8",
    ] {
        let r = s.post("/imps", ct, sp_info.as_bytes());
        assert_eq!(r.status, 200);
        r.decode();
    }
    let r = s.post("/", CT_XML, sp_info.as_bytes());
    assert_eq!(r.status, 200);
    r.decode();
    // Any other type goes to the engine, which answers it with a CSP message.
    for ct in ["text/plain", ""] {
        let r = s.post("/imps", ct, sp_info.as_bytes());
        assert_eq!(r.status, 200, "content type {ct:?}");
        r.decode();
    }
}

#[test]
fn get_root_serves_the_demo_page() {
    let (_d, s) = server();
    let (status, ct, text) = s.get("/");
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(text.contains("IMPS server running"));
}
