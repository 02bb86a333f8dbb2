//! What `imps serve` stores survives a restart on the same data directory: accounts after a
//! clean stop (SIGTERM); contact lists, the presence state (attribute lists, reactive
//! authorizations, block lists, subscriptions, published presence), messages and delivery
//! reports even after a kill -9, since every answer is sent only after its changes are
//! committed.

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
    /// Never send the acknowledgements of server-initiated transactions (a client that
    /// receives but crashes before it answers).
    drop_acks: bool,
    /// (MessageID, content) of every message the client passed on to the application
    /// (`ClientEvent::Message`), in order, as taken by [`Peer::take_pushed`].
    app_messages: Vec<(String, String)>,
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
            drop_acks: false,
            app_messages: Vec::new(),
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
                    if self.drop_acks && is_ack(&req.body) {
                        continue;
                    }
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

    /// Takes the server-initiated primitives received so far (every one the server sent,
    /// redeliveries included), noting the messages passed on to the application in
    /// `app_messages`; drops the other events.
    fn take_pushed(&mut self) -> Vec<imps_engine::codec::Primitive> {
        use imps_engine::client::ClientEvent;
        let mut pushed = Vec::new();
        for e in std::mem::take(&mut self.events) {
            match e {
                ClientEvent::ServerRequest(p) => pushed.push(p),
                ClientEvent::Message {
                    message_id,
                    content,
                    ..
                } => self.app_messages.push((message_id, content)),
                _ => {}
            }
        }
        pushed
    }

    fn pushed_count(&self) -> usize {
        use imps_engine::client::ClientEvent;
        self.events
            .iter()
            .filter(|e| matches!(e, ClientEvent::ServerRequest(_)))
            .count()
    }

    /// Polls until `n` server-initiated primitives have arrived (at most 10 s), polls once
    /// more so that a duplicate would show, and takes them.
    fn expect(&mut self, n: usize) -> Vec<imps_engine::codec::Primitive> {
        use imps_engine::client::Command;
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pushed_count() < n {
            assert!(
                Instant::now() < deadline,
                "waited in vain: {:?}",
                self.events
            );
            self.run(Command::Poll);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.run(Command::Poll);
        let got = self.take_pushed();
        assert_eq!(got.len(), n, "{got:?}");
        got
    }

    /// Waits past the redelivery time and asserts that nothing (more) arrives.
    fn nothing_more(&mut self) {
        use imps_engine::client::Command;
        std::thread::sleep(std::time::Duration::from_millis(
            REDELIVERY_SECS * 1000 + 200,
        ));
        self.run(Command::Poll);
        assert_eq!(self.take_pushed(), vec![]);
    }

    fn logout(&mut self) {
        use imps_engine::client::{ClientEvent, Command};
        self.run(Command::Logout);
        assert!(
            self.events
                .iter()
                .any(|e| matches!(e, ClientEvent::Disconnected { code: 200 })),
            "{:?}",
            self.events
        );
    }
}

/// Whether an outgoing CSP message answers a server-initiated transaction.
fn is_ack(body: &[u8]) -> bool {
    use imps_engine::codec::{self, Limits, TransactionMode};
    let msg = codec::decode(body, Limits::default()).unwrap();
    msg.session.transactions.iter().any(|t| {
        t.descriptor
            .as_ref()
            .is_some_and(|d| d.mode == Some(TransactionMode::Response))
    })
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

/// Seconds before the server delivers an unacknowledged transaction again to a poll (set
/// short in the messaging tests below, so that "nothing more arrives" can be waited for).
const REDELIVERY_SECS: u64 = 1;

/// Starts `imps serve` on `dir` with a short redelivery time; `extra` as for
/// [`ImpsServer::start`].
fn start_im(dir: &std::path::Path, extra: &[&str]) -> ImpsServer {
    std::fs::write(
        dir.join("imps.toml"),
        format!(
            "{}[session]\nredelivery_secs = {REDELIVERY_SECS}\n",
            common::CHEAP_CONFIG
        ),
    )
    .unwrap();
    ImpsServer::start(dir, extra)
}

/// SendMessage-Request with `text` to `to`.
fn send_text(to: &str, text: &str, report: bool) -> imps_engine::codec::Primitive {
    use imps_engine::codec::Primitive;
    use imps_engine::codec::common::{Recipient, User};
    use imps_engine::codec::im::{MessageInfo, SendMessageRequest};
    Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(report),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(Recipient {
                user: vec![User::id(to)],
                ..Default::default()
            }),
            ..Default::default()
        }),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

/// Sends, expects 200, returns the MessageID.
fn send_ok(peer: &mut Peer, to: &str, text: &str, report: bool) -> String {
    use imps_engine::codec::Primitive;
    let answer = peer.request(send_text(to, text, report));
    let Primitive::SendMessageResponse(r) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(r.result.as_ref().map(|r| r.code()), Some(200), "{answer:?}");
    r.message_id.clone().expect("a MessageID")
}

/// (MessageID, sender, content) of each primitive, all of which must be NewMessages.
fn messages(got: &[imps_engine::codec::Primitive]) -> Vec<(String, String, String)> {
    use imps_engine::codec::Primitive;
    got.iter()
        .map(|p| match p {
            Primitive::NewMessage(m) => {
                let info = m.message_info.as_ref().unwrap();
                (
                    info.message_id.clone().unwrap(),
                    info.sender
                        .as_ref()
                        .and_then(|s| s.user.as_ref())
                        .and_then(|u| u.user_id.clone())
                        .unwrap(),
                    m.content_data.clone().unwrap(),
                )
            }
            other => panic!("expected a NewMessage, got {other:?}"),
        })
        .collect()
}

/// (MessageID, recipient, code) of each primitive, all of which must be delivery reports.
fn reports(got: &[imps_engine::codec::Primitive]) -> Vec<(String, String, u32)> {
    use imps_engine::codec::Primitive;
    got.iter()
        .map(|p| match p {
            Primitive::DeliveryReportRequest(r) => {
                let info = r.message_info.as_ref().unwrap();
                (
                    info.message_id.clone().unwrap(),
                    info.recipient.as_ref().unwrap().user[0]
                        .user_id
                        .clone()
                        .unwrap(),
                    r.result.as_ref().unwrap().code(),
                )
            }
            other => panic!("expected a DeliveryReport-Request, got {other:?}"),
        })
        .collect()
}

/// The acceptance test of offline messaging: bob is logged out; alice sends 5 messages, each
/// answered 200; `imps serve` is killed with SIGKILL and restarted; bob logs in and receives
/// all 5 exactly once, in order. His acknowledgements are durable too: after another kill
/// nothing comes again.
#[test]
fn offline_messages_survive_a_kill_and_arrive_once_in_order() {
    use imps_engine::codec::Version;
    const ALICE: &str = "wv:alice@localhost";
    let dir = tempfile::tempdir().unwrap();
    let first = start_im(dir.path(), &["--open-registration"]);
    Peer::login(&first, "bob", Version::V1_3).logout(); // the account exists, bob is away
    let mut alice = Peer::login(&first, "alice", Version::V1_2);
    let sent: Vec<(String, String, String)> = (0..5)
        .map(|i| {
            let text = format!("message {i} <für> & \"bob\" ]]>\r\n");
            let id = send_ok(&mut alice, "wv:bob@localhost", &text, false);
            (id, ALICE.to_owned(), text)
        })
        .collect();
    let mut ids: Vec<&String> = sent.iter().map(|m| &m.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "five distinct MessageIDs: {sent:?}");
    drop(alice);
    drop(first); // SIGKILL: every 200 above was sent only after its commit

    let second = start_im(dir.path(), &[]);
    let mut bob = Peer::login(&second, "bob", Version::V1_3);
    let got = messages(&bob.expect(5));
    assert_eq!(got, sent, "all five, once each, in the order sent");
    let seen: Vec<(String, String)> = sent.iter().map(|m| (m.0.clone(), m.2.clone())).collect();
    assert_eq!(
        bob.app_messages, seen,
        "the application sees each once, in order"
    );
    // bob's client acknowledged each one: nothing is delivered again.
    bob.nothing_more();
    drop(bob);
    drop(second); // SIGKILL again: the acknowledgements were committed too

    let third = start_im(dir.path(), &[]);
    let mut bob = Peer::login(&third, "bob", Version::V1_2);
    bob.nothing_more();
    assert_eq!(bob.app_messages, vec![]);
}

/// A message delivered to a client that never acknowledged it (it received the NewMessage and
/// died) is still in the mailbox after a kill: it comes again with the same MessageID, and
/// the report alice asked for is made once it is acknowledged.
#[test]
fn an_unacknowledged_message_comes_again_after_a_kill_with_the_same_id() {
    use imps_engine::codec::Version;
    const ALICE: &str = "wv:alice@localhost";
    const BOB: &str = "wv:bob@localhost";
    let dir = tempfile::tempdir().unwrap();
    let first = start_im(dir.path(), &["--open-registration"]);
    let mut alice = Peer::login(&first, "alice", Version::V1_3);
    let mut bob = Peer::login(&first, "bob", Version::V1_2);
    bob.drop_acks = true;
    let text = "not yet acknowledged: <ü> & 'x'";
    let id = send_ok(&mut alice, BOB, text, true);
    let first_delivery = messages(&bob.expect(1));
    assert_eq!(
        first_delivery,
        vec![(id.clone(), ALICE.to_owned(), text.to_owned())]
    );
    // Not acknowledged: the server offers it again to a later poll, and alice has no report.
    std::thread::sleep(std::time::Duration::from_millis(
        REDELIVERY_SECS * 1000 + 200,
    ));
    assert_eq!(messages(&bob.expect(1)), first_delivery, "redelivered");
    // The client passed it on once (it drops the redelivery by its MessageID).
    assert_eq!(bob.app_messages, vec![(id.clone(), text.to_owned())]);
    alice.nothing_more();
    drop((alice, bob));
    drop(first); // SIGKILL with the message delivered but not acknowledged

    let second = start_im(dir.path(), &[]);
    let mut bob = Peer::login(&second, "bob", Version::V1_1);
    assert_eq!(
        messages(&bob.expect(1)),
        first_delivery,
        "the same message, the same MessageID"
    );
    assert_eq!(bob.app_messages, vec![(id.clone(), text.to_owned())]);
    // This time the client acknowledged: alice, logging in, gets her report.
    let mut alice = Peer::login(&second, "alice", Version::V1_3);
    assert_eq!(reports(&alice.expect(1)), vec![(id, BOB.to_owned(), 200)]);
    bob.nothing_more();
    alice.nothing_more();
}

/// A delivery report waits in the mailbox of a sender who is away, and survives a kill: alice
/// asks for a report and logs out; bob receives; kill; alice logs in and gets the report
/// once. Neither the message nor the report comes again after a further kill.
#[test]
fn a_delivery_report_for_an_offline_sender_survives_a_kill() {
    use imps_engine::codec::Version;
    const ALICE: &str = "wv:alice@localhost";
    const BOB: &str = "wv:bob@localhost";
    let dir = tempfile::tempdir().unwrap();
    let first = start_im(dir.path(), &["--open-registration"]);
    Peer::login(&first, "bob", Version::V1_2).logout();
    let mut alice = Peer::login(&first, "alice", Version::V1_1);
    let text = "report back, please ✓";
    let id = send_ok(&mut alice, BOB, text, true);
    alice.logout();
    let mut bob = Peer::login(&first, "bob", Version::V1_2);
    assert_eq!(
        messages(&bob.expect(1)),
        vec![(id.clone(), ALICE.to_owned(), text.to_owned())]
    );
    drop(bob);
    drop(first); // SIGKILL: bob's acknowledgement was answered, so the report is stored

    let second = start_im(dir.path(), &[]);
    let mut alice = Peer::login(&second, "alice", Version::V1_2);
    let got = alice.expect(1);
    assert_eq!(reports(&got), vec![(id.clone(), BOB.to_owned(), 200)]);
    let imps_engine::codec::Primitive::DeliveryReportRequest(r) = &got[0] else {
        unreachable!()
    };
    assert!(r.delivery_time.is_some(), "1.2 reports carry DeliveryTime");
    alice.nothing_more();
    let mut bob = Peer::login(&second, "bob", Version::V1_3);
    bob.nothing_more();
    drop((alice, bob));
    drop(second);

    let third = start_im(dir.path(), &[]);
    let mut alice = Peer::login(&third, "alice", Version::V1_3);
    let mut bob = Peer::login(&third, "bob", Version::V1_1);
    alice.nothing_more();
    bob.nothing_more();
}

/// A CSP client of the engine over HTTP to `base`, for the threads of the crash test (which
/// outlive the server they started with): every transport failure is reported, not fatal.
struct Wire {
    base: String,
    agent: ureq::Agent,
    client: imps_engine::client::Client,
    events: Vec<imps_engine::client::ClientEvent>,
}

impl Wire {
    fn new(base: &str, name: &str, version: imps_engine::codec::Version) -> Wire {
        use imps_engine::client::{Client, ClientConfig, LoginScheme};
        let mut seed = [9u8; 32];
        seed[..name.len()].copy_from_slice(name.as_bytes());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(20)))
            .build()
            .into();
        Wire {
            base: base.to_owned(),
            agent,
            client: Client::new(
                ClientConfig::new(version, name, "pw", LoginScheme::Password),
                seed,
            ),
            events: Vec::new(),
        }
    }

    /// Runs `command` to the end; `Err` when the server could not be reached.
    fn run(&mut self, command: imps_engine::client::Command) -> Result<(), ()> {
        use imps_engine::client::{ClientInput, ClientOutput};
        self.client.handle(0, ClientInput::Command(command));
        while let Some(out) = self.client.poll_output() {
            match out {
                ClientOutput::Send(req) => {
                    let body = self
                        .agent
                        .post(&format!("{}/imps", self.base))
                        .header("Content-Type", req.content_type)
                        .send(&req.body[..])
                        .map_err(|_| ())
                        .and_then(|mut r| r.body_mut().read_to_vec().map_err(|_| ()));
                    let Ok(body) = body else {
                        // The events already raised (a message received before its
                        // acknowledgement failed) still reached the application.
                        while let Some(out) = self.client.poll_output() {
                            if let ClientOutput::Event(e) = out {
                                self.events.push(e);
                            }
                        }
                        return Err(());
                    };
                    self.client.handle(
                        0,
                        ClientInput::Response {
                            request_id: req.request_id,
                            body,
                        },
                    );
                }
                ClientOutput::Event(e) => self.events.push(e),
            }
        }
        Ok(())
    }

    /// Sends a message; `Ok(Some(id))` when answered 200.
    fn send(&mut self, to: &str, text: &str) -> Result<Option<String>, ()> {
        use imps_engine::client::{ClientEvent, Command};
        use imps_engine::codec::Primitive;
        let from = self.events.len();
        self.run(Command::Request(send_text(to, text, false)))?;
        Ok(self.events[from..].iter().find_map(|e| match e {
            ClientEvent::Response {
                primitive: Primitive::SendMessageResponse(r),
                ..
            } if r.result.as_ref().map(|r| r.code()) == Some(200) => r.message_id.clone(),
            _ => None,
        }))
    }

    /// (MessageID, content) of the messages passed on to the application so far.
    fn received(&self) -> Vec<(String, String)> {
        use imps_engine::client::ClientEvent;
        self.events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message {
                    message_id,
                    content,
                    ..
                } => Some((message_id.clone(), content.clone())),
                _ => None,
            })
            .collect()
    }
}

/// A small deterministic generator for the kill points (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Contacts and a group alice owns: checked after every restart.
fn check_contacts_and_group(server: &ImpsServer) {
    use imps_engine::codec::Primitive;
    use imps_engine::codec::Version;
    let mut alice = Peer::login(server, "alice", Version::V1_2);
    match alice.request(Primitive::GetListRequest(Box::default())) {
        Primitive::GetListResponse(g) => assert_eq!(
            g.default_contact_list.as_deref(),
            Some("wv:alice/friends@localhost")
        ),
        other => panic!("{other:?}"),
    }
    let get =
        Primitive::GetGroupMembersRequest(Box::new(imps_engine::codec::group::GroupRequest {
            group_id: Some("wv:alice/club".into()),
            ..Default::default()
        }));
    match alice.request(get) {
        Primitive::GetGroupMembersResponse(m) => {
            let text = format!("{m:?}");
            assert!(text.contains("wv:bob@localhost"), "bob is a member: {text}");
        }
        other => panic!("{other:?}"),
    }
}

/// Crash-safety acceptance: three senders send messages (two recipients offline, one online
/// and acknowledging) while `imps serve` is killed with SIGKILL at pseudo-random points and
/// restarted, four times. Afterwards every message answered 200 is delivered, each MessageID
/// once to the application (redeliveries deduplicated by MessageID), nothing is delivered
/// that was not sent, and contacts and group survive each restart. The kill points come from
/// a seed printed at the start; `IMPS_CRASH_SEED=<n>` replays one.
#[test]
fn acknowledged_messages_survive_random_kills_exactly_once() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use imps_engine::client::Command;
    use imps_engine::codec::Version;
    use imps_engine::codec::common::NickList;
    use imps_engine::codec::presence::CreateListRequest;

    const ROUNDS: usize = 4;
    const SENDERS: [&str; 3] = ["sam", "sue", "syd"];
    const OFFLINE: [&str; 2] = ["olga", "otto"];
    const ONLINE: &str = "rita";
    let seed = std::env::var("IMPS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("crash seed {seed} (IMPS_CRASH_SEED={seed} replays it)");
    eprintln!("crash seed {seed}");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let mut server = start_im(dir.path(), &["--open-registration"]);
    for name in OFFLINE.iter().chain(&[ONLINE, "bob"]) {
        Peer::login(&server, name, Version::V1_2).logout();
    }
    {
        use imps_engine::codec::Primitive;
        let mut alice = Peer::login(&server, "alice", Version::V1_2);
        alice.ok(Primitive::CreateListRequest(Box::new(CreateListRequest {
            contact_list: Some("wv:alice/friends".into()),
            nick_list: Some(NickList {
                user_id: vec!["wv:bob@localhost".into()],
                ..Default::default()
            }),
            ..Default::default()
        })));
        let create = imps_engine::codec::group::CreateGroupRequest {
            group_id: Some("wv:alice/club".into()),
            ..Default::default()
        };
        alice.ok(Primitive::CreateGroupRequest(Box::new(create)));
        let add = imps_engine::codec::group::GroupMembersRequest {
            group_id: Some("wv:alice/club".into()),
            user_list: Some(imps_engine::codec::common::UserList {
                user: vec![imps_engine::codec::common::User::id("wv:bob@localhost")],
                ..Default::default()
            }),
            ..Default::default()
        };
        alice.ok(Primitive::AddGroupMembersRequest(Box::new(add)));
    }

    // (recipient, text) of every send attempted; (recipient, MessageID, text) answered 200.
    let attempted: Arc<Mutex<BTreeSet<(String, String)>>> = Arc::default();
    let acked: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    // What rita's client passed on to her application, over all rounds.
    let online_got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let recipients: Vec<&str> = OFFLINE.iter().copied().chain([ONLINE]).collect();
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, sender) in SENDERS.iter().enumerate() {
            let (base, attempted, acked, stop) = (
                server.base.clone(),
                Arc::clone(&attempted),
                Arc::clone(&acked),
                Arc::clone(&stop),
            );
            let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
            let version = [Version::V1_1, Version::V1_2, Version::V1_3][i];
            let sender = sender.to_string();
            threads.push(std::thread::spawn(move || {
                let mut wire = Wire::new(&base, &sender, version);
                if wire.run(Command::Login).is_err() || !wire.client.is_ready() {
                    return;
                }
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let to = format!("wv:{}@localhost", recipients[n % recipients.len()]);
                    let text = format!("{sender} round {round} message {n}");
                    attempted.lock().unwrap().insert((to.clone(), text.clone()));
                    match wire.send(&to, &text) {
                        Ok(Some(id)) => acked.lock().unwrap().push((to, id, text)),
                        Ok(None) => panic!("a send refused without a crash: {:?}", wire.events),
                        Err(()) => return,
                    }
                    n += 1;
                    // A modest rate keeps the final deliveries (one per poll) quick.
                    std::thread::sleep(std::time::Duration::from_millis(4));
                }
            }));
        }
        {
            let (base, got, stop) = (
                server.base.clone(),
                Arc::clone(&online_got),
                Arc::clone(&stop),
            );
            threads.push(std::thread::spawn(move || {
                let mut wire = Wire::new(&base, ONLINE, Version::V1_2);
                if wire.run(Command::Login).is_ok() {
                    while !stop.load(Ordering::SeqCst) && wire.run(Command::Poll).is_ok() {
                        std::thread::sleep(std::time::Duration::from_millis(15));
                    }
                }
                got.lock().unwrap().extend(wire.received());
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.between(150, 900)));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        server = start_im(dir.path(), &[]);
        check_contacts_and_group(&server);
    }

    let acked = acked.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "too few messages to mean anything: {}",
        acked.len()
    );
    let mut delivered: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in &recipients {
        let to = format!("wv:{r}@localhost");
        let mut peer = Peer::login(&server, r, Version::V1_2);
        peer.run(Command::Poll);
        let _ = peer.take_pushed();
        let mut got: Vec<(String, String)> = peer.app_messages.clone();
        if *r == ONLINE {
            got.extend(online_got.lock().unwrap().iter().cloned());
        }
        let mut by_id: BTreeMap<String, String> = BTreeMap::new();
        for (id, text) in got {
            if let Some(before) = by_id.insert(id.clone(), text.clone()) {
                assert_eq!(before, text, "MessageID {id} carried two texts");
            }
        }
        // Each message once: no text under two MessageIDs.
        let texts: BTreeSet<&String> = by_id.values().collect();
        assert_eq!(
            texts.len(),
            by_id.len(),
            "a message delivered twice under new ids"
        );
        for text in by_id.values() {
            assert!(
                attempted.contains(&(to.clone(), text.clone())),
                "{to} got {text:?}, which was never sent to them"
            );
        }
        delivered.insert(to, by_id);
    }
    for (to, id, text) in &acked {
        assert_eq!(
            delivered[to].get(id),
            Some(text),
            "acknowledged message {id} ({text:?}) to {to} lost (seed {seed})"
        );
    }
    // Nothing comes again once acknowledged (one wait past the redelivery time for all).
    let mut peers: Vec<Peer> = recipients
        .iter()
        .map(|r| Peer::login(&server, r, Version::V1_3))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(
        REDELIVERY_SECS * 1000 + 200,
    ));
    for peer in &mut peers {
        peer.run(Command::Poll);
        assert_eq!(peer.take_pushed(), vec![]);
    }
    println!(
        "{} acknowledged of {} attempted sends over {ROUNDS} kills",
        acked.len(),
        attempted.len()
    );
}
