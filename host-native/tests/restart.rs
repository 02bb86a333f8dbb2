//! Accounts survive a clean restart of `imps serve` (SIGTERM, then the same data directory).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::ImpsServer;

#[test]
fn accounts_and_server_key_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = ImpsServer::start(dir.path(), &["--open-registration"]);
    assert_eq!(
        first.login("wv:Alice", "s3cret").0,
        200,
        "open registration creates the account"
    );
    let key_path = first.data.join("server.key");
    let key = std::fs::read_to_string(&key_path).unwrap();
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "server.key is private");
    assert!(first.terminate(), "SIGTERM ends imps serve with status 0");

    // Restart without open registration: the account comes from the SQLite store.
    let second = ImpsServer::start(dir.path(), &[]);
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key,
        "the key is generated once"
    );
    assert_eq!(
        second.login("alice", "s3cret").0,
        200,
        "the stored account logs in (any spelling)"
    );
    assert_eq!(
        second.login("wv:alice@localhost", "wrong").0,
        409,
        "a wrong password still fails"
    );
    assert!(second.terminate());
}

/// Contact lists are kept in SQLite and come back after a restart; an abrupt kill (no
/// SIGTERM) loses nothing that was acknowledged.
#[test]
fn contact_lists_survive_a_kill_and_restart() {
    use common::message;
    use imps_engine::codec::Primitive;
    let services = "<Service-Request><Functions><WVCSPFeat><PresenceFeat/></WVCSPFeat></Functions>\
                    <AllFunctionsRequest>F</AllFunctionsRequest></Service-Request>";
    let dir = tempfile::tempdir().unwrap();
    let first = ImpsServer::start(dir.path(), &["--open-registration"]);
    assert_eq!(first.login("bob", "pw").0, 200);
    let (code, sid) = first.login("alice", "pw");
    assert_eq!(code, 200);
    let sid = sid.unwrap();
    first.csp(&message(Some(&sid), "Request", Some("s"), services));
    let create = "<CreateList-Request><ContactList>wv:alice/friends</ContactList>\
                  <NickList><UserID>wv:bob</UserID></NickList></CreateList-Request>";
    assert_eq!(
        first
            .csp(&message(Some(&sid), "Request", Some("c"), create))
            .code(),
        200
    );
    drop(first); // SIGKILL: the reply above was sent only after the commit

    let second = ImpsServer::start(dir.path(), &[]);
    let (_, sid) = second.login("alice", "pw");
    let sid = sid.unwrap();
    second.csp(&message(Some(&sid), "Request", Some("s"), services));
    let reply = second.csp(&message(
        Some(&sid),
        "Request",
        Some("g"),
        "<GetList-Request/>",
    ));
    match reply.decode().primitive() {
        Some(Primitive::GetListResponse(g)) => {
            assert_eq!(
                g.default_contact_list.as_deref(),
                Some("wv:alice/friends@localhost")
            );
        }
        other => panic!("{other:?}"),
    }
}
