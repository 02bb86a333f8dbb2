//! Operator commands of `imps` on a stopped server's data directory and on a running server
//! (through its loopback admin endpoint): `user add|passwd|list|remove|import`,
//! `user profile`, `group create --public`, `logout`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{CHEAP_CONFIG, ImpsServer, message};
use imps_engine::codec::Primitive;

/// Runs `imps ARGS --data DIR/data --config DIR/imps.toml` with `stdin`; returns success,
/// stdout and stderr.
fn imps(dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imps"))
        .args(args)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("imps.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input (an unknown user, say) may be gone
    // already: a broken pipe is no error here, its status and output are what is checked.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn group_type(server: &ImpsServer, sid: &str, group: &str) -> Option<String> {
    let services = "<Service-Request><Functions><WVCSPFeat><GroupFeat/></WVCSPFeat></Functions>\
                    <AllFunctionsRequest>F</AllFunctionsRequest></Service-Request>";
    server.csp(&message(Some(sid), "Request", Some("s"), services));
    let get = format!("<GetGroupProps-Request><GroupID>{group}</GroupID></GetGroupProps-Request>");
    let reply = server.csp(&message(Some(sid), "Request", Some("gp"), &get));
    match reply.decode().primitive() {
        Some(Primitive::GetGroupPropsResponse(r)) => r
            .group_properties
            .as_ref()?
            .property
            .iter()
            .find(|p| p.name.as_ref().map(|n| n.as_str()) == Some("Type"))
            .and_then(|p| p.value.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn commands_work_on_a_stopped_servers_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imps.toml"), CHEAP_CONFIG).unwrap();
    let d = dir.path();
    let (ok, out, err) = imps(d, &["user", "add", "alice", "--password", "first"], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "account wv:alice@localhost created");
    let (ok, _, err) = imps(d, &["user", "add", "wv:Alice"], "again\n");
    assert!(!ok && err.contains("exists"), "{err}");
    // The password from stdin.
    let (ok, out, err) = imps(d, &["user", "passwd", "alice"], "second\n");
    assert!(ok, "{err}");
    assert!(out.contains("password of wv:alice@localhost set"), "{out}");
    let (ok, _, err) = imps(d, &["user", "passwd", "nobody"], "x\n");
    assert!(!ok && err.contains("no account"), "{err}");
    // An import of 150 users shows its progress.
    let mut csv = String::from("user,password\n");
    for i in 0..150 {
        csv.push_str(&format!("user{i},pw{i}\n"));
    }
    std::fs::write(d.join("users.csv"), csv).unwrap();
    let csv_path = d.join("users.csv");
    let (ok, out, err) = imps(d, &["user", "import", csv_path.to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(out.contains("150 of 150 account(s) imported"), "{out}");
    assert!(err.contains("imported 64/150"), "progress: {err}");
    assert!(err.contains("imported 150/150 (100%)"), "progress: {err}");
    let (ok, _, err) = imps(d, &["user", "import", "/nonexistent.csv"], "");
    assert!(!ok && err.contains("nonexistent"), "{err}");
    std::fs::write(d.join("bad.csv"), "alice\n").unwrap();
    let bad = d.join("bad.csv");
    let (ok, _, err) = imps(d, &["user", "import", bad.to_str().unwrap()], "");
    assert!(!ok && err.contains("line 1"), "{err}");
    let (ok, out, _) = imps(d, &["user", "remove", "user7"], "");
    assert!(ok, "{out}");
    let (ok, out, _) = imps(d, &["user", "list"], "");
    assert!(ok);
    let users: Vec<&str> = out.lines().collect();
    assert_eq!(users.len(), 150, "alice and 149 imported users");
    assert!(users.contains(&"wv:alice@localhost"));
    assert!(!users.contains(&"wv:user7@localhost"));
    let (ok, out, err) = imps(
        d,
        &[
            "group",
            "create",
            "wv:lobby/chat",
            "--public",
            "--name",
            "Lobby",
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("wv:lobby/chat@localhost"), "{out}");
    let (ok, _, err) = imps(d, &["group", "create", "wv:nogroup", "--public"], "");
    assert!(!ok && !err.is_empty());
    let (ok, out, _) = imps(d, &["logout", "alice"], "");
    assert!(ok && out.contains("0 session(s)"), "{out}");
    let (ok, _, err) = imps(
        d,
        &["user", "profile", "user42", "--first-name", "Zebedee"],
        "",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = imps(d, &["user", "profile", "nobody", "--alias", "x"], "");
    assert!(!ok && !err.is_empty(), "an unknown user: {err}");

    // The server finds all of it.
    let server = ImpsServer::start(d, &[]);
    assert_eq!(server.login("alice", "first").0, 409);
    let (code, sid) = server.login("alice", "second");
    assert_eq!(code, 200);
    assert_eq!(server.login("user42", "pw42").0, 200);
    assert_eq!(server.login("user7", "pw7").0, 409, "removed");
    let sid = sid.unwrap();
    assert_eq!(
        group_type(&server, &sid, "wv:lobby/chat").as_deref(),
        Some("Public")
    );
    // The profile set by `imps user profile` is what search finds.
    let services = "<Service-Request><Functions><WVCSPFeat><FundamentalFeat/></WVCSPFeat>\
                    </Functions><AllFunctionsRequest>F</AllFunctionsRequest></Service-Request>";
    server.csp(&message(Some(&sid), "Request", Some("s2"), services));
    let search = "<Search-Request><SearchPairList><SearchElement>USER_FIRST_NAME</SearchElement>\
                  <SearchString>zebedee</SearchString></SearchPairList>\
                  <SearchLimit>5</SearchLimit></Search-Request>";
    let reply = server.csp(&message(Some(&sid), "Request", Some("sr"), search));
    match reply.decode().primitive() {
        Some(Primitive::SearchResponse(r)) => {
            assert_eq!(r.search_findings, Some(1), "{r:?}");
            let found = format!("{:?}", r.search_result);
            assert!(found.contains("user42"), "{found}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn commands_reach_a_running_server_through_its_loopback_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imps.toml"), CHEAP_CONFIG).unwrap();
    let d = dir.path();
    let server = ImpsServer::start(d, &[]);
    let admin = server.stdout_line("admin listening on http://");
    assert!(admin.starts_with("127.0.0.1:"), "{admin}");
    let (ok, out, err) = imps(d, &["user", "add", "carol", "--password", "pw"], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "account wv:carol@localhost created");
    let (ok, out, err) = imps(d, &["user", "add", "dave"], "pw\n");
    assert!(ok, "{out}{err}");
    let (code, carol) = server.login("carol", "pw");
    assert_eq!(code, 200, "the running server knows carol at once");
    let carol = carol.unwrap();
    let (ok, out, _) = imps(d, &["user", "list"], "");
    assert!(ok);
    assert_eq!(out, "wv:carol@localhost\nwv:dave@localhost\n");

    // Forced logout: carol's next request learns 601.
    let (ok, out, _) = imps(d, &["logout", "carol"], "");
    assert!(ok && out.contains("1 session(s)"), "{out}");
    let reply = server.csp(&message(
        Some(&carol),
        "Request",
        Some("p"),
        "<Polling-Request/>",
    ));
    assert_eq!(reply.code(), 601);

    let (ok, out, err) = imps(d, &["group", "create", "wv:news/today", "--public"], "");
    assert!(ok, "{err}");
    assert!(out.contains("wv:news/today@localhost"));
    let (_, sid) = server.login("dave", "pw");
    assert_eq!(
        group_type(&server, &sid.unwrap(), "wv:news/today").as_deref(),
        Some("Public")
    );
    let (ok, _, err) = imps(d, &["user", "remove", "dave"], "");
    assert!(ok, "{err}");
    assert_eq!(server.login("dave", "pw").0, 409);
    let (ok, _, err) = imps(d, &["user", "remove", "dave"], "");
    assert!(!ok && err.contains("no account"), "{err}");

    // The endpoint wants the token from the data directory.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .post(&format!("http://{admin}/admin/command"))
        .send(r#"{"ForceLogout":{"user_id":"carol"}}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent
        .get(&format!("http://{admin}/admin/users"))
        .header("Authorization", "Bearer 00")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let token = std::fs::read_to_string(d.join("data/admin.token")).unwrap();
    let r = agent
        .post(&format!("http://{admin}/admin/command"))
        .header("Authorization", &format!("Bearer {token}"))
        .send("not json")
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // A second server on the same directory is refused.
    let second = Command::new(env!("CARGO_BIN_EXE_imps"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(d.join("data"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another imps serve"));

    // An import through the endpoint shows its progress too.
    std::fs::write(d.join("more.csv"), "erin,pw\nfrank,pw\n").unwrap();
    let more = d.join("more.csv");
    let (ok, out, err) = imps(d, &["user", "import", more.to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(
        out.contains("2 of 2 account(s) imported") && out.contains("running server"),
        "{out}"
    );
    assert!(err.contains("imported 2/2 (100%)"), "{err}");
    assert_eq!(server.login("frank", "pw").0, 200);

    // After a clean stop the endpoint's files are gone and commands work offline again.
    assert!(server.terminate());
    assert!(!d.join("data/admin.addr").exists());
    let (ok, out, _) = imps(d, &["user", "list"], "");
    assert!(ok);
    assert_eq!(
        out,
        "wv:carol@localhost\nwv:erin@localhost\nwv:frank@localhost\n"
    );

    // After a kill the stale endpoint files do not mislead: the lock is free, so offline.
    let server = ImpsServer::start(d, &[]);
    server.kill();
    assert!(d.join("data/admin.addr").exists());
    let (ok, out, err) = imps(d, &["user", "remove", "erin"], "");
    assert!(ok, "{err}");
    assert!(out.contains("deleted"), "{out}");
}

#[test]
fn a_non_loopback_admin_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imps.toml"),
        format!("{CHEAP_CONFIG}[host]\nadmin_listen = \"0.0.0.0:0\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imps"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("imps.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
}
