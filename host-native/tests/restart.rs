//! What `imps serve` stores survives a restart on the same data directory: accounts after a
//! clean stop (SIGTERM); contact lists and the presence state (attribute lists, reactive
//! authorizations, block lists, subscriptions, published presence) even after a kill -9,
//! since every answer is sent only after its changes are committed.

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

/// A CSP client of the engine talking to `server` over HTTP, for the presence test below.
struct Peer<'a> {
    server: &'a ImpsServer,
    client: imps_engine::client::Client,
    events: Vec<imps_engine::client::ClientEvent>,
}

impl<'a> Peer<'a> {
    fn login(server: &'a ImpsServer, name: &str, version: imps_engine::codec::Version) -> Self {
        use imps_engine::client::{Client, ClientConfig, LoginScheme};
        let mut seed = [3u8; 32];
        seed[..name.len()].copy_from_slice(name.as_bytes());
        let config = ClientConfig::new(version, name, "pw", LoginScheme::Password);
        let mut peer = Peer {
            server,
            client: Client::new(config, seed),
            events: Vec::new(),
        };
        peer.run(imps_engine::client::Command::Login);
        assert!(peer.client.is_ready(), "{name}: {:?}", peer.events);
        peer
    }

    /// Runs `command` to the end: every request is answered before this returns.
    fn run(&mut self, command: imps_engine::client::Command) {
        use imps_engine::client::{ClientInput, ClientOutput};
        self.client.handle(0, ClientInput::Command(command));
        while let Some(out) = self.client.poll_output() {
            match out {
                ClientOutput::Send(req) => {
                    let reply = self.server.post("/imps", req.content_type, &req.body);
                    assert_eq!(reply.status, 200);
                    self.client.handle(
                        0,
                        ClientInput::Response {
                            request_id: req.request_id,
                            body: reply.body,
                        },
                    );
                }
                ClientOutput::Event(e) => self.events.push(e),
            }
        }
    }

    /// Sends `p` and returns its answer.
    fn request(&mut self, p: imps_engine::codec::Primitive) -> imps_engine::codec::Primitive {
        use imps_engine::client::{ClientEvent, Command};
        let from = self.events.len();
        self.run(Command::Request(p));
        self.events[from..]
            .iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive.clone()),
                _ => None,
            })
            .expect("an answer")
    }

    /// Sends `p` and asserts it succeeded (Status 200, or a 1.3 answer without Result).
    fn ok(&mut self, p: imps_engine::codec::Primitive) {
        let answer = self.request(p);
        if let Some(code) = answer.result_code() {
            assert_eq!(code, 200, "{answer:?}");
        }
    }
}

/// Attribute lists, reactive authorizations, block lists, subscriptions and published
/// presence are in SQLite before they are acknowledged: an abrupt kill right after the last
/// answer loses none of them.
#[test]
fn presence_state_survives_a_kill_and_restart() {
    use imps_engine::client::presence::{self as pb, AttrName};
    use imps_engine::client::{ClientEvent, Command};
    use imps_engine::codec::common::{EntityList, NickList};
    use imps_engine::codec::im::{AccessList, BlockLists};
    use imps_engine::codec::presence::{AuthState, CreateListRequest};
    use imps_engine::codec::presence_attrs::{
        PresenceSubList, StatusMood, StatusText, UserAvailability,
    };
    use imps_engine::codec::{Primitive, Version};
    const ALICE: &str = "wv:alice@localhost";
    const BOB: &str = "wv:bob@localhost";
    const CAROL: &str = "wv:carol@localhost";
    const DAVE: &str = "wv:dave@localhost";
    const FRIENDS: &str = "wv:alice/friends@localhost";

    let dir = tempfile::tempdir().unwrap();
    let first = ImpsServer::start(dir.path(), &["--open-registration"]);
    {
        let mut alice = Peer::login(&first, "alice", Version::V1_2);
        let mut bob = Peer::login(&first, "bob", Version::V1_3);
        let mut carol = Peer::login(&first, "carol", Version::V1_2);
        let mut dave = Peer::login(&first, "dave", Version::V1_1);
        alice.ok(pb::update_presence(
            Version::V1_2,
            PresenceSubList {
                status_text: Some(StatusText::with_value("before")),
                user_availability: Some(UserAvailability::with_value("AVAILABLE")),
                status_mood: Some(StatusMood::with_value("HAPPY")),
                ..Default::default()
            },
        ));
        alice.ok(Primitive::CreateListRequest(Box::new(CreateListRequest {
            contact_list: Some(FRIENDS.into()),
            nick_list: Some(NickList {
                user_id: vec![BOB.into()],
                ..Default::default()
            }),
            ..Default::default()
        })));
        alice.ok(pb::create_attribute_list(
            Version::V1_2,
            pb::names(&[AttrName::OnlineStatus, AttrName::StatusText]),
            &[],
            &[FRIENDS],
            false,
            None,
        ));
        alice.ok(Primitive::BlockEntityRequest(Box::new(BlockLists {
            block_list: Some(AccessList {
                in_use: Some(true),
                add_list: Some(EntityList {
                    user_id: vec![DAVE.into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })));
        bob.ok(pb::subscribe(Version::V1_3, &[ALICE], &[], None, None));
        carol.ok(pb::subscribe(Version::V1_2, &[ALICE], &[], None, None));
        dave.ok(pb::subscribe(Version::V1_1, &[ALICE], &[], None, None));
        // alice hears of carol (the answer to carol's subscription put the request in her
        // queue) and grants StatusText.
        alice.run(Command::Poll);
        assert!(
            alice.events.iter().any(
                |e| matches!(e, ClientEvent::AuthorizationRequest { user_id, .. } if user_id == CAROL)
            ),
            "{:?}",
            alice.events
        );
        alice.ok(pb::authorize(
            Version::V1_2,
            CAROL,
            true,
            Some(pb::names(&[AttrName::StatusText])),
        )
        .unwrap());
        // The last change, answered just before the kill.
        alice.ok(pb::update_presence(
            Version::V1_2,
            PresenceSubList {
                status_text: Some(StatusText::with_value("last words")),
                ..Default::default()
            },
        ));
    }
    drop(first); // SIGKILL: every reply above was sent only after its commit

    let second = ImpsServer::start(dir.path(), &[]);
    let mut alice = Peer::login(&second, "alice", Version::V1_2);
    let mut bob = Peer::login(&second, "bob", Version::V1_3);

    // Attribute lists.
    let answer = alice.request(pb::get_attribute_list(Version::V1_2, &[], &[], false));
    let Primitive::GetAttributeListResponse(a) = &answer else {
        panic!("{answer:?}")
    };
    assert!(a.default_attribute_list.is_none(), "{answer:?}");
    assert_eq!(a.presence.len(), 1, "{answer:?}");
    assert_eq!(a.presence[0].contact_list.as_deref(), Some(FRIENDS));
    assert_eq!(
        pb::attr_names(&a.presence[0].presence_sub_list[0]),
        vec![AttrName::OnlineStatus, AttrName::StatusText]
    );

    // The reactive authorization: StatusText granted to carol, the rest still pending.
    let answer = alice.request(pb::get_reactive_auth_status(Version::V1_2, &[CAROL]).unwrap());
    let Primitive::GetReactiveAuthStatusResponse(r) = &answer else {
        panic!("{answer:?}")
    };
    let states: Vec<(String, AuthState, Vec<AttrName>)> = r
        .reactive_auth_status_list
        .iter()
        .flat_map(|l| l.reactive_auth_status.iter())
        .map(|e| {
            (
                e.user_id.clone().unwrap(),
                e.reactive_auth_state.clone().unwrap(),
                pb::attr_names(e.presence_sub_list.as_ref().unwrap()),
            )
        })
        .collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert_eq!(
        states[0],
        (
            CAROL.to_owned(),
            AuthState::Granted,
            vec![AttrName::StatusText]
        )
    );
    assert_eq!(
        (states[1].0.as_str(), &states[1].1),
        (CAROL, &AuthState::Pending)
    );
    assert!(!states[1].2.contains(&AttrName::StatusText), "{states:?}");

    // The block list.
    let answer = alice.request(Primitive::GetBlockedListRequest(Box::default()));
    let Primitive::GetBlockedListResponse(b) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(b.block_in_use(), Some(true), "{answer:?}");
    assert_eq!(
        b.block_list
            .as_ref()
            .and_then(|l| l.entity_list.as_ref())
            .map(|l| l.user_id.clone()),
        Some(vec![DAVE.to_owned()])
    );

    // The subscriptions.
    let answer = alice.request(pb::get_watcher_list(Version::V1_2, None, None));
    let Primitive::GetWatcherListResponse(w) = &answer else {
        panic!("{answer:?}")
    };
    let mut watchers: Vec<(String, AuthState)> = w
        .watcher
        .iter()
        .map(|w| {
            (
                w.user.as_ref().unwrap().user_id.clone().unwrap(),
                w.watcher_status.clone().unwrap(),
            )
        })
        .collect();
    watchers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        watchers,
        vec![
            (BOB.to_owned(), AuthState::Granted),
            (CAROL.to_owned(), AuthState::Granted),
            (DAVE.to_owned(), AuthState::Denied),
        ]
    );

    // The published presence, the last change included: alice sees all of it, bob what the
    // list's attribute list grants.
    let answer = alice.request(pb::get_presence(Version::V1_2, &[ALICE], &[], None));
    let Primitive::GetPresenceResponse(p) = &answer else {
        panic!("{answer:?}")
    };
    let mine = &p.presence[0].presence_sub_list[0];
    assert_eq!(
        mine.status_text.as_ref().unwrap().presence_value.as_deref(),
        Some("last words")
    );
    assert_eq!(
        mine.status_mood.as_ref().unwrap().presence_value.as_deref(),
        Some("HAPPY")
    );
    assert_eq!(
        mine.user_availability
            .as_ref()
            .unwrap()
            .presence_value
            .as_deref(),
        Some("AVAILABLE")
    );
    let answer = bob.request(pb::get_presence(Version::V1_3, &[ALICE], &[], None));
    let Primitive::GetPresenceResponse(p) = &answer else {
        panic!("{answer:?}")
    };
    let seen = &p.presence[0].presence_sub_list[0];
    assert_eq!(
        pb::attr_names(seen),
        vec![AttrName::OnlineStatus, AttrName::StatusText],
        "{answer:?}"
    );
    assert_eq!(seen.online(), Some(true));
    assert_eq!(
        seen.status_text.as_ref().unwrap().presence_value.as_deref(),
        Some("last words")
    );
}
