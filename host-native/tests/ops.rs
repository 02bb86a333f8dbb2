//! Operations of `imps serve`: `GET /metrics` (Prometheus text), `GET /healthz`, graceful
//! shutdown on SIGTERM (wake-up channels closed, stored data kept, exit status 0), logs
//! without user ids in the clear.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{CHEAP_CONFIG, ImpsServer, message};

/// The value of the sample `name` (with its labels, as written) in a Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_and_health_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = ImpsServer::start(dir.path(), &["--open-registration"]);
    let (status, _, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (_, alice) = server.login("alice", "pw");
    let (_, bob) = server.login("bob", "pw");
    assert_eq!(server.login("alice", "wrong").0, 409);
    let alice = alice.unwrap();
    let send = "<SendMessage-Request><DeliveryReport>F</DeliveryReport><MessageInfo>\
                <ContentType>text/plain</ContentType><Recipient><User><UserID>wv:bob</UserID></User>\
                </Recipient></MessageInfo><ContentData>hi</ContentData></SendMessage-Request>";
    let services = "<Service-Request><Functions><WVCSPFeat><IMFeat/></WVCSPFeat></Functions>\
                    <AllFunctionsRequest>F</AllFunctionsRequest></Service-Request>";
    server.csp(&message(Some(&alice), "Request", Some("s"), services));
    server.csp(&message(bob.as_deref(), "Request", Some("s"), services));
    assert_eq!(
        server
            .csp(&message(Some(&alice), "Request", Some("m"), send))
            .code(),
        200
    );

    let (status, ct, text) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    assert_eq!(sample(&text, "imps_up"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "imps_sessions_online"), Some(2.0), "{text}");
    assert_eq!(sample(&text, "imps_accounts"), Some(2.0), "{text}");
    // The guest's linear memory and its cap (only when the engine runs as a guest).
    let guest = sample(&text, "imps_guest_memory_bytes");
    if common::test_engine() == "wasm" {
        let used = guest.unwrap_or_else(|| panic!("{text}"));
        let cap = sample(&text, "imps_guest_memory_limit_bytes").unwrap();
        assert!(used > 0.0 && used < cap, "{used} of {cap}");
    } else {
        assert_eq!(guest, None, "{text}");
    }
    assert_eq!(
        sample(&text, "imps_queued_transactions"),
        Some(1.0),
        "the message waits for bob: {text}"
    );
    assert_eq!(
        sample(
            &text,
            "imps_transactions_total{primitive=\"Login-Request\",code=\"200\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "imps_transactions_total{primitive=\"Login-Request\",code=\"409\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "imps_transactions_total{primitive=\"SendMessage-Request\",code=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "imps_transactions_total{primitive=\"Service-Request\",code=\"200\"}"
        ),
        Some(2.0),
        "{text}"
    );
    let commits = sample(&text, "imps_storage_commit_seconds_count").unwrap();
    assert!(commits >= 3.0, "two registrations and a message: {text}");
    assert_eq!(
        sample(&text, "imps_storage_commit_seconds_bucket{le=\"+Inf\"}"),
        Some(commits)
    );
    // Logs name users only redacted.
    let log = server.log_text();
    assert!(log.contains("wv:a***@localhost"), "{log}");
    assert!(!log.contains("wv:alice@localhost"), "{log}");
    assert!(!log.contains(&alice), "session ids are redacted");
}

#[test]
fn sigterm_closes_wake_up_channels_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imps.toml"),
        format!("{CHEAP_CONFIG}[host]\nstcp_listen = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    let server = ImpsServer::start(dir.path(), &["--open-registration"]);
    let stcp = server.stdout_line("stcp listening on ");
    let (code, sid) = server.login("alice", "pw");
    assert_eq!(code, 200);
    let conn = TcpStream::connect(&stcp).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    (&conn)
        .write_all(format!("HELO {}\r\n", sid.unwrap()).as_bytes())
        .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "OK\r\n");
    let data = server.data.clone();
    assert!(data.join("admin.addr").exists());
    assert!(server.terminate(), "SIGTERM ends imps serve with status 0");
    line.clear();
    assert_eq!(
        reader.read_line(&mut line).unwrap_or(0),
        0,
        "the STCP channel is closed: {line:?}"
    );
    assert!(!data.join("admin.addr").exists());
    assert!(TcpStream::connect(&stcp).is_err(), "no longer accepting");
    let again = ImpsServer::start(dir.path(), &[]);
    assert_eq!(again.login("alice", "pw").0, 200, "the account was kept");
}
