//! The engine guest under wasmtime, through the wire: a runaway input (test-only hooks of the
//! `test-hooks` guest) is stopped by the time limit or the memory cap, the request gets CSP
//! 500, sessions open before get 604, stored data survives and the server keeps serving; and
//! `imps serve --record` replays byte for byte in both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ImpsServer, message};

/// The guest built with `test-hooks` (by build.rs, next to the embedded one).
const TEST_GUEST: &str = env!("IMPS_TEST_GUEST_WASM");

fn keep_alive(server: &ImpsServer, session: &str, tid: &str) -> u32 {
    server
        .csp(&message(
            Some(session),
            "Request",
            Some(tid),
            "<KeepAlive-Request/>",
        ))
        .code()
}

#[test]
fn a_runaway_guest_is_stopped_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-cache-hooks");
    let cache = cache.display().to_string();
    let server = ImpsServer::start(
        dir.path(),
        &[
            "--engine",
            "wasm",
            "--guest",
            TEST_GUEST,
            "--guest-cache",
            &cache,
            "--guest-time-limit-ms",
            "300",
            "--guest-memory-mib",
            "64",
            "--keep-trap-inputs",
            "--open-registration",
        ],
    );
    let (code, alice) = server.login("wv:alice", "secret-a");
    assert_eq!(code, 200);
    let alice = alice.unwrap();
    let (code, bob) = server.login("wv:bob", "secret-b");
    assert_eq!(code, 200);
    let bob = bob.unwrap();
    assert_eq!(keep_alive(&server, &alice, "k1"), 200);

    for (hook, round) in [("spin", 1), ("grow", 2)] {
        let started = Instant::now();
        let body = format!("IMPS-TEST-HOOK {hook} <SessionID>{alice}</SessionID>");
        let reply = server.post("/imps", common::CT_XML, body.as_bytes());
        assert_eq!(
            reply.code(),
            500,
            "{hook}: the trapping request gets CSP 500"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{hook}: stopped by the limits, took {:?}",
            started.elapsed()
        );
        // The instance was rebuilt from storage: sessions of before are gone …
        if round == 1 {
            assert_eq!(keep_alive(&server, &alice, "k2"), 604);
            assert_eq!(keep_alive(&server, &bob, "k3"), 604);
        }
        // … the accounts are not: a wrong password is refused (open registration would
        // otherwise create the account anew) and the right one logs in again.
        assert_ne!(server.login("wv:alice", "wrong").0, 200, "{hook}");
        let (code, again) = server.login("wv:bob", "secret-b");
        assert_eq!(code, 200, "{hook}");
        assert_eq!(keep_alive(&server, &again.unwrap(), "k4"), 200);
    }
    let log = server.log_text();
    assert!(log.contains("time limit exceeded"), "{log}");
    assert!(log.contains("out of memory"), "{log}");
    assert!(
        log.contains(&format!("session={}…", &alice[..4])) && !log.contains(&alice),
        "the trap is logged with the session redacted"
    );
    assert!(!log.contains("secret-a") && !log.contains("secret-b"));
    let kept: Vec<_> = std::fs::read_dir(server.data.join("trap-inputs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "--keep-trap-inputs keeps each trapping input"
    );
    for k in kept {
        assert_eq!(k.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(server.terminate(), "clean shutdown after two traps");
}

#[test]
fn the_production_guest_has_no_test_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = common::engine_args("wasm");
    args.push("--open-registration".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ImpsServer::start(dir.path(), &args);
    let reply = server.post("/imps", common::CT_XML, b"IMPS-TEST-HOOK spin");
    // Not well-formed CSP: the engine answers a status, without trapping.
    let code = reply.code();
    assert!(code != 500 && code != 200, "{code}");
    assert!(!server.log_text().contains("trapped"));
}

fn replay(file: &Path, engine: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_imps"))
        .arg("replay")
        .arg(file)
        .args(common::engine_args(engine))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "replay in {engine}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = stdout.rsplit("digest ").next().unwrap().trim().to_owned();
    assert_eq!(digest.len(), 40, "{stdout}");
    digest
}

#[test]
fn a_recorded_session_replays_identically_in_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.rec");
    let record = file.display().to_string();
    let server = ImpsServer::start(dir.path(), &["--open-registration", "--record", &record]);
    let (code, alice) = server.login("wv:alice", "pw");
    assert_eq!(code, 200);
    let alice = alice.unwrap();
    let (code, _bob) = server.login("wv:bob", "pw");
    assert_eq!(code, 200);
    assert_eq!(keep_alive(&server, &alice, "k1"), 200);
    let send = "<SendMessage-Request><DeliveryReport>F</DeliveryReport><MessageInfo>\
                <ContentType>text/plain</ContentType><ContentSize>5</ContentSize><Recipient>\
                <User><UserID>wv:bob</UserID></User></Recipient></MessageInfo>\
                <ContentData>hello</ContentData></SendMessage-Request>";
    server.csp(&message(Some(&alice), "Request", Some("m1"), send));
    server.post("/imps", common::CT_XML, b"not csp at all");
    assert_ne!(server.login("wv:carol", "").0, 0);
    assert!(server.terminate());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the record holds credentials");

    let in_wasm = replay(&file, "wasm");
    let in_native = replay(&file, "native");
    assert_eq!(in_wasm, in_native, "both engines give the same outputs");

    // A tampered record is caught.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"<Password>pw")
        .unwrap();
    bytes[at + 11] = b'x';
    let tampered = dir.path().join("tampered.rec");
    std::fs::write(&tampered, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imps"))
        .arg("replay")
        .arg(&tampered)
        .args(common::engine_args("native"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("differ"));
}
