//! The presence acceptance scenario over real HTTP against a spawned `imps serve`, driven by
//! the engine's own CSP client with the version-correct builders of
//! `imps_engine::client::presence`: alice publishes and authorizes bob through an attribute
//! list on a contact list, answers carol's authorization request by granting StatusText only,
//! blocks dave; everyone watches what they may and nothing more; after a clean restart every
//! list, grant, block, subscription and published value is still in force.
//!
//! Clients are not woken (the host has no CIR channel yet): they learn of server-initiated
//! transactions by polling (`Command::Poll`) and from the Poll flag of the answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::peer::exchange;
use common::{CHEAP_CONFIG, ImpsServer};
use imps_engine::client::presence::{self as pb, AttrName};
use imps_engine::client::{Client, ClientConfig, ClientEvent, Command, LoginScheme};
use imps_engine::codec::common::{EntityList, NickList};
use imps_engine::codec::im::{AccessList, BlockLists};
use imps_engine::codec::presence::{AuthState, CreateListRequest, ListManageRequest};
use imps_engine::codec::presence_attrs::{
    PresenceSubList, StatusMood, StatusText, UserAvailability,
};
use imps_engine::codec::{Primitive, Version};

const ALICE: &str = "wv:alice@localhost";
const BOB: &str = "wv:bob@localhost";
const CAROL: &str = "wv:carol@localhost";
const DAVE: &str = "wv:dave@localhost";
const FRIENDS: &str = "wv:alice/friends@localhost";

/// Least time between two notifications about one user in these tests, milliseconds.
const NOTIFY_INTERVAL_MS: u64 = 100;

/// A CSP client talking to `server` over HTTP. What the client reports is sorted as it
/// arrives: presence from notifications (not from GetPresence answers), authorization
/// requests, and the server-initiated primitives themselves.
struct Peer<'a> {
    server: &'a ImpsServer,
    name: &'static str,
    version: Version,
    client: Client,
    started: Instant,
    /// `(user, attributes)` of every `ClientEvent::Presence` drawn from a notification.
    notes: Vec<(String, PresenceSubList)>,
    /// `(watcher, attributes)` of every `ClientEvent::AuthorizationRequest`.
    asks: Vec<(String, PresenceSubList)>,
    /// Server-initiated primitives, in arrival order.
    pushed: Vec<Primitive>,
    in_notification: bool,
}

impl<'a> Peer<'a> {
    /// Logs `name` in (open registration creates the account on a first login).
    fn login(server: &'a ImpsServer, name: &'static str, version: Version) -> Self {
        let mut seed = [7u8; 32];
        seed[..name.len()].copy_from_slice(name.as_bytes());
        let config = ClientConfig::new(version, name, "pw", LoginScheme::Password);
        let mut peer = Peer {
            server,
            name,
            version,
            client: Client::new(config, seed),
            started: Instant::now(),
            notes: Vec::new(),
            asks: Vec::new(),
            pushed: Vec::new(),
            in_notification: false,
        };
        let events = peer.run(Command::Login);
        assert!(
            peer.client.is_ready(),
            "{name} ({version}) is not ready: {events:?}"
        );
        peer
    }

    /// Feeds a command and runs the exchange until the client has nothing more to send
    /// (including the polls the Poll flag asks for and the acknowledgements).
    fn run(&mut self, command: Command) -> Vec<ClientEvent> {
        let events = exchange(self.server, &mut self.client, self.started, command, |_| {
            true
        });
        for e in &events {
            self.record(e);
        }
        events
    }

    fn record(&mut self, e: &ClientEvent) {
        match e {
            ClientEvent::ServerRequest(p) => {
                self.in_notification = matches!(p, Primitive::PresenceNotificationRequest(_));
                self.pushed.push(p.clone());
            }
            ClientEvent::Response { .. } => self.in_notification = false,
            ClientEvent::Presence { user_id, changed } if self.in_notification => {
                self.notes.push((user_id.clone(), (**changed).clone()));
            }
            ClientEvent::AuthorizationRequest {
                user_id,
                attributes,
            } => self.asks.push((user_id.clone(), (**attributes).clone())),
            ClientEvent::Error { message } => {
                panic!("{} ({}): client error {message}", self.name, self.version)
            }
            ClientEvent::Disconnected { code } => {
                panic!("{} ({}): disconnected with {code}", self.name, self.version)
            }
            _ => {}
        }
    }

    /// Sends `p` and returns the answer.
    fn request(&mut self, p: Primitive) -> Primitive {
        let what = p.name().to_owned();
        let events = self.run(Command::Request(p));
        events
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no answer to {what}", self.name))
    }

    /// Sends `p` and asserts it succeeded (a Status 200, or a 1.3 answer without Result).
    fn ok(&mut self, p: Primitive) -> Primitive {
        let what = p.name().to_owned();
        let answer = self.request(p);
        if let Some(code) = answer.result_code() {
            assert_eq!(
                code, 200,
                "{} ({}): {what} -> {answer:?}",
                self.name, self.version
            );
        }
        answer
    }

    /// Polls until `done` holds (at most 10 s).
    fn poll_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{} ({}) waited in vain for {what}; notes {:?}, asks {:?}",
                self.name,
                self.version,
                self.notes,
                self.asks
            );
            self.run(Command::Poll);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Takes the notified presence collected so far.
    fn take_notes(&mut self) -> Vec<(String, PresenceSubList)> {
        std::mem::take(&mut self.notes)
    }

    /// Takes the authorization requests collected so far.
    fn take_asks(&mut self) -> Vec<(String, PresenceSubList)> {
        self.pushed.clear();
        std::mem::take(&mut self.asks)
    }

    /// Waits for the one notification expected next and returns it.
    fn next_note(&mut self) -> (String, PresenceSubList) {
        self.poll_until("a presence notification", |p| !p.notes.is_empty());
        // Give a wrongly split or duplicated notification the chance to show.
        std::thread::sleep(Duration::from_millis(NOTIFY_INTERVAL_MS + 50));
        self.run(Command::Poll);
        let mut notes = self.take_notes();
        assert_eq!(notes.len(), 1, "{}: one notification: {notes:?}", self.name);
        notes.remove(0)
    }
}

/// Gives the server time to send whatever it would (coalescing interval included) and
/// makes every peer poll for it, several times.
fn settle(peers: &mut [&mut Peer]) {
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(NOTIFY_INTERVAL_MS + 50));
        for p in peers.iter_mut() {
            p.run(Command::Poll);
        }
    }
}

fn value_of(a: Option<&impl HasValue>) -> Option<&str> {
    a.and_then(|a| a.value())
}

trait HasValue {
    fn value(&self) -> Option<&str>;
}

impl HasValue for StatusText {
    fn value(&self) -> Option<&str> {
        self.presence_value.as_deref()
    }
}

impl HasValue for UserAvailability {
    fn value(&self) -> Option<&str> {
        self.presence_value.as_deref()
    }
}

/// Asserts `l` holds exactly `attrs`, with the given values (OnlineStatus, UserAvailability,
/// StatusText; `None` = not expected).
fn assert_exactly(
    l: &PresenceSubList,
    online: Option<bool>,
    availability: Option<&str>,
    text: Option<&str>,
    context: &str,
) {
    let mut expected = Vec::new();
    if online.is_some() {
        expected.push(AttrName::OnlineStatus);
    }
    if availability.is_some() {
        expected.push(AttrName::UserAvailability);
    }
    if text.is_some() {
        expected.push(AttrName::StatusText);
    }
    assert_eq!(pb::attr_names(l), expected, "{context}: {l:?}");
    assert_eq!(l.online(), online, "{context}: OnlineStatus");
    assert_eq!(
        value_of(l.user_availability.as_ref()),
        availability,
        "{context}: UserAvailability"
    );
    assert_eq!(
        value_of(l.status_text.as_ref()),
        text,
        "{context}: StatusText"
    );
}

fn text(t: &str) -> PresenceSubList {
    PresenceSubList {
        status_text: Some(StatusText::with_value(t)),
        ..Default::default()
    }
}

/// BlockEntity-Request adding `user` to the block list, which is in use.
fn block(version: Version, user: &str) -> Primitive {
    let v13 = version == Version::V1_3;
    Primitive::BlockEntityRequest(Box::new(BlockLists {
        block_list: Some(AccessList {
            in_use: (!v13).then_some(true),
            add_list: Some(EntityList {
                user_id: vec![user.to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        block_list_in_use: v13.then_some(true),
        ..Default::default()
    }))
}

/// The one `Presence` of a GetPresence answer about `user`.
fn presence_in(answer: &Primitive, user: &str) -> PresenceSubList {
    let Primitive::GetPresenceResponse(r) = answer else {
        panic!("expected GetPresence-Response, got {answer:?}")
    };
    assert_eq!(r.presence.len(), 1, "{r:?}");
    assert_eq!(r.presence[0].user_id.as_deref(), Some(user));
    assert!(r.presence[0].presence_sub_list.len() <= 1, "{r:?}");
    r.presence[0]
        .presence_sub_list
        .first()
        .cloned()
        .unwrap_or_default()
}

/// The watcher list as (watcher, status) sorted by watcher; `None` status for 1.1.
fn watchers(alice: &mut Peer) -> Vec<(String, Option<AuthState>)> {
    let answer = alice.request(pb::get_watcher_list(alice.version, None, None));
    let Primitive::GetWatcherListResponse(r) = answer else {
        panic!("{answer:?}")
    };
    let mut out: Vec<(String, Option<AuthState>)> = r
        .user
        .iter()
        .map(|u| (u.user_id.clone().unwrap(), None))
        .chain(r.watcher.iter().map(|w| {
            let id = w
                .user_id
                .clone()
                .or_else(|| w.user.as_ref().and_then(|u| u.user_id.clone()))
                .unwrap();
            (id, w.watcher_status.clone())
        }))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Everything alice decided, as she can read it back: her contact list, attribute lists,
/// reactive grant (1.2), block list and watchers. Called before and after the restart.
fn check_alice_state(alice: &mut Peer) {
    let v = alice.version;
    let ctx = format!("alice {v}");

    // The contact list (the only one, so the default, which ≥ 1.2 names only as such) and
    // its member.
    let answer = alice.request(Primitive::GetListRequest(Box::default()));
    let Primitive::GetListResponse(l) = &answer else {
        panic!("{answer:?}")
    };
    let others: Vec<&str> = l
        .contact_list
        .iter()
        .chain(
            l.contact_list_id_list
                .iter()
                .flat_map(|x| x.contact_list.iter()),
        )
        .map(String::as_str)
        .collect();
    assert_eq!(others, Vec::<&str>::new(), "{ctx}: {answer:?}");
    assert_eq!(
        l.default_contact_list.as_deref(),
        Some(FRIENDS),
        "{ctx}: {answer:?}"
    );
    let answer = alice.request(Primitive::ListManageRequest(Box::new(ListManageRequest {
        contact_list: Some(FRIENDS.into()),
        receive_list: Some(true),
        ..Default::default()
    })));
    let Primitive::ListManageResponse(m) = &answer else {
        panic!("{answer:?}")
    };
    let members = m.nick_list.as_ref().map(|n| n.user_id.clone());
    assert_eq!(members, Some(vec![BOB.to_owned()]), "{ctx}: {answer:?}");

    // Attribute lists: the contact list's, and in 1.3 carol's own (the answer to ANU).
    let answer = alice.request(pb::get_attribute_list(v, &[], &[], false));
    let Primitive::GetAttributeListResponse(a) = &answer else {
        panic!("{answer:?}")
    };
    assert!(a.default_attribute_list.is_none(), "{ctx}: {answer:?}");
    let mut entries: Vec<(String, Vec<AttrName>)> = a
        .presence
        .iter()
        .map(|p| {
            let who = p
                .user_id
                .clone()
                .or_else(|| p.contact_list.clone())
                .unwrap();
            assert_eq!(p.presence_sub_list.len(), 1, "{ctx}: {p:?}");
            (who, pb::attr_names(&p.presence_sub_list[0]))
        })
        .collect();
    entries.sort();
    let mut expected = vec![(
        FRIENDS.to_owned(),
        vec![
            AttrName::OnlineStatus,
            AttrName::UserAvailability,
            AttrName::StatusText,
        ],
    )];
    if v == Version::V1_3 {
        expected.push((CAROL.to_owned(), vec![AttrName::StatusText]));
    }
    expected.sort();
    assert_eq!(entries, expected, "{ctx}: attribute lists");

    // The reactive grant (GetReactiveAuthStatus exists in 1.2 only): StatusText granted to
    // carol, the rest of what she asked for still pending, nothing about dave.
    if let Some(p) = pb::get_reactive_auth_status(v, &[]) {
        let answer = alice.request(p);
        let Primitive::GetReactiveAuthStatusResponse(r) = &answer else {
            panic!("{answer:?}")
        };
        let entries = &r
            .reactive_auth_status_list
            .as_ref()
            .unwrap()
            .reactive_auth_status;
        assert_eq!(entries.len(), 2, "{ctx}: {entries:?}");
        for e in entries {
            assert_eq!(e.user_id.as_deref(), Some(CAROL), "{ctx}: {e:?}");
        }
        let granted = entries
            .iter()
            .find(|e| e.reactive_auth_state == Some(AuthState::Granted))
            .unwrap_or_else(|| panic!("{ctx}: no grant in {entries:?}"));
        assert_eq!(
            pb::attr_names(granted.presence_sub_list.as_ref().unwrap()),
            vec![AttrName::StatusText]
        );
        let pending = entries
            .iter()
            .find(|e| e.reactive_auth_state == Some(AuthState::Pending))
            .unwrap_or_else(|| panic!("{ctx}: nothing pending in {entries:?}"));
        let pending = pb::attr_names(pending.presence_sub_list.as_ref().unwrap());
        assert!(
            pending.contains(&AttrName::OnlineStatus) && !pending.contains(&AttrName::StatusText),
            "{ctx}: {pending:?}"
        );
    }

    // The block list.
    let answer = alice.request(Primitive::GetBlockedListRequest(Box::default()));
    let Primitive::GetBlockedListResponse(b) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(b.block_in_use(), Some(true), "{ctx}: {answer:?}");
    let blocked = b
        .block_list
        .as_ref()
        .and_then(|l| l.entity_list.as_ref())
        .map(|l| l.user_id.clone())
        .unwrap_or_default();
    assert_eq!(blocked, vec![DAVE.to_owned()], "{ctx}: {answer:?}");

    // Watchers: everyone subscribed, authorized or not.
    let (granted, denied) = match v {
        Version::V1_1 => (None, None),
        Version::V1_2 => (Some(AuthState::Granted), Some(AuthState::Denied)),
        Version::V1_3 => (
            Some(AuthState::CurrentSubscriber),
            Some(AuthState::CurrentSubscriber),
        ),
    };
    assert_eq!(
        watchers(alice),
        vec![
            (BOB.to_owned(), granted.clone()),
            (CAROL.to_owned(), granted),
            (DAVE.to_owned(), denied),
        ],
        "{ctx}: watcher list"
    );
}

/// The whole scenario with alice on `va`, bob on `vb`, carol on `vc`, dave on `vd`.
fn scenario(va: Version, vb: Version, vc: Version, vd: Version) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imps.toml"),
        format!("{CHEAP_CONFIG}[presence]\nnotify_interval_ms = {NOTIFY_INTERVAL_MS}\n"),
    )
    .unwrap();
    let server = ImpsServer::start(dir.path(), &["--open-registration"]);
    {
        let mut alice = Peer::login(&server, "alice", va);
        let mut bob = Peer::login(&server, "bob", vb);
        let mut carol = Peer::login(&server, "carol", vc);
        let mut dave = Peer::login(&server, "dave", vd);

        // alice publishes, then authorizes her "friends" (bob) for three attributes.
        let published = PresenceSubList {
            status_text: Some(StatusText::with_value("at work")),
            user_availability: Some(UserAvailability::with_value("AVAILABLE")),
            status_mood: Some(StatusMood::with_value("HAPPY")),
            ..Default::default()
        };
        alice.ok(pb::update_presence(va, published));
        alice.ok(Primitive::CreateListRequest(Box::new(CreateListRequest {
            contact_list: Some(FRIENDS.into()),
            nick_list: Some(NickList {
                user_id: vec![BOB.into()],
                ..Default::default()
            }),
            ..Default::default()
        })));
        let granted = pb::names(&[
            AttrName::OnlineStatus,
            AttrName::StatusText,
            AttrName::UserAvailability,
        ]);
        alice.ok(pb::create_attribute_list(
            va,
            granted,
            &[],
            &[FRIENDS],
            false,
            None,
        ));

        // bob subscribes to everything and sees exactly the three attributes.
        bob.ok(pb::subscribe(vb, &[ALICE], &[], None, None));
        let (who, l) = bob.next_note();
        assert_eq!(who, ALICE);
        assert_exactly(&l, Some(true), Some("AVAILABLE"), Some("at work"), "bob");
        assert!(l.status_mood.is_none());

        // A change of StatusText reaches bob with StatusText only; a mood change nothing.
        alice.ok(pb::update_presence(va, text("lunch")));
        let (who, l) = bob.next_note();
        assert_eq!(who, ALICE);
        assert_exactly(&l, None, None, Some("lunch"), "bob after the change");
        let mood = PresenceSubList {
            status_mood: Some(StatusMood::with_value("SAD")),
            ..Default::default()
        };
        alice.ok(pb::update_presence(va, mood));
        settle(&mut [&mut bob, &mut alice]);
        assert_eq!(bob.take_notes(), vec![], "bob may not see the mood");
        assert_eq!(
            alice.take_asks(),
            vec![],
            "bob's list grant needs no request"
        );
        // bob's view of alice merges the two notifications.
        assert_exactly(
            bob.client.presence(ALICE).unwrap(),
            Some(true),
            Some("AVAILABLE"),
            Some("lunch"),
            "bob's view",
        );

        // carol (in no list) subscribes: alice is asked, carol sees nothing yet.
        carol.ok(pb::subscribe(vc, &[ALICE], &[], None, None));
        alice.poll_until("carol's authorization request", |p| !p.asks.is_empty());
        settle(&mut [&mut carol, &mut alice]);
        let asked_as = alice.pushed.clone();
        let asks = alice.take_asks();
        assert_eq!(asks.len(), 1, "{asks:?}");
        assert_eq!(asks[0].0, CAROL);
        let wanted = pb::attr_names(&asks[0].1);
        assert!(
            wanted.contains(&AttrName::OnlineStatus) && wanted.contains(&AttrName::StatusText),
            "carol asked for everything: {wanted:?}"
        );
        assert_eq!(asked_as.len(), 1, "{asked_as:?}");
        let expected_primitive = if va == Version::V1_3 {
            "Notification-Request"
        } else {
            "PresenceAuth-Request"
        };
        assert_eq!(asked_as[0].name(), expected_primitive);
        assert_eq!(carol.take_notes(), vec![], "nothing authorized yet");

        // alice grants StatusText only: reactively up to 1.2, by an attribute list in 1.3.
        let only_text = pb::names(&[AttrName::StatusText]);
        let grant = match pb::authorize(va, CAROL, true, Some(only_text.clone())) {
            Some(p) => p,
            None => pb::create_attribute_list(va, only_text, &[CAROL], &[], false, None),
        };
        alice.ok(grant);
        let (who, l) = carol.next_note();
        assert_eq!(who, ALICE);
        assert_exactly(&l, None, None, Some("lunch"), "carol");

        // alice blocks dave: his subscription reaches nobody and shows him nothing.
        alice.ok(block(va, DAVE));
        dave.ok(pb::subscribe(vd, &[ALICE], &[], None, None));
        settle(&mut [&mut dave, &mut alice]);
        assert_eq!(alice.pushed, vec![], "nothing at all reaches alice");
        assert_eq!(
            alice.take_asks(),
            vec![],
            "dave's request never reaches alice"
        );
        assert_eq!(dave.take_notes(), vec![], "dave sees nothing");
        let l = presence_in(
            &dave.request(pb::get_presence(vd, &[ALICE], &[], None)),
            ALICE,
        );
        assert_eq!(l, PresenceSubList::default(), "dave's GetPresence");
        assert!(
            dave.client
                .presence(ALICE)
                .is_none_or(|l| pb::attr_names(l).is_empty())
        );

        check_alice_state(&mut alice);
        assert!(
            bob.take_notes().is_empty() && carol.take_notes().is_empty(),
            "nothing changed for them"
        );
    }
    assert!(server.terminate(), "clean shutdown");

    // Restart without open registration: everything comes from the store.
    let server = ImpsServer::start(dir.path(), &[]);
    let mut bob = Peer::login(&server, "bob", vb);
    let mut carol = Peer::login(&server, "carol", vc);
    let mut dave = Peer::login(&server, "dave", vd);
    let mut alice = Peer::login(&server, "alice", va);

    // bob is still subscribed and authorized: alice's login reaches him as OnlineStatus.
    let (who, l) = bob.next_note();
    assert_eq!(who, ALICE);
    assert_exactly(&l, Some(true), None, None, "bob sees alice log in");
    // What is still pending of carol's request (not StatusText, which was granted) is asked
    // again at alice's login up to 1.2; in 1.3 the attribute list settled it. Never dave.
    settle(&mut [&mut alice, &mut carol, &mut dave]);
    let asks = alice.take_asks();
    if va == Version::V1_3 {
        assert_eq!(asks, vec![], "1.3: nothing pending");
    } else {
        assert_eq!(asks.len(), 1, "{asks:?}");
        assert_eq!(asks[0].0, CAROL);
        let wanted = pb::attr_names(&asks[0].1);
        assert!(
            wanted.contains(&AttrName::OnlineStatus) && !wanted.contains(&AttrName::StatusText),
            "{wanted:?}"
        );
    }
    assert_eq!(carol.take_notes(), vec![], "carol may not see OnlineStatus");
    assert_eq!(dave.take_notes(), vec![], "dave sees nothing");

    // Published values and grants: GetPresence answers each exactly what is authorized.
    let l = presence_in(
        &bob.request(pb::get_presence(vb, &[ALICE], &[], None)),
        ALICE,
    );
    assert_exactly(
        &l,
        Some(true),
        Some("AVAILABLE"),
        Some("lunch"),
        "bob's GetPresence",
    );
    assert!(l.status_mood.is_none());
    let l = presence_in(
        &carol.request(pb::get_presence(vc, &[ALICE], &[], None)),
        ALICE,
    );
    assert_exactly(&l, None, None, Some("lunch"), "carol's GetPresence");
    let l = presence_in(
        &dave.request(pb::get_presence(vd, &[ALICE], &[], None)),
        ALICE,
    );
    assert_eq!(l, PresenceSubList::default(), "dave's GetPresence");
    // alice sees all she published (the mood too).
    let l = presence_in(
        &alice.request(pb::get_presence(va, &[ALICE], &[], None)),
        ALICE,
    );
    assert_eq!(value_of(l.status_text.as_ref()), Some("lunch"));
    assert_eq!(
        l.status_mood
            .as_ref()
            .and_then(|m| m.presence_value.as_deref()),
        Some("SAD")
    );

    // A new change reaches the subscribers as before.
    alice.ok(pb::update_presence(va, text("back")));
    let (who, l) = bob.next_note();
    assert_eq!(who, ALICE);
    assert_exactly(&l, None, None, Some("back"), "bob after the restart");
    let (who, l) = carol.next_note();
    assert_eq!(who, ALICE);
    assert_exactly(&l, None, None, Some("back"), "carol after the restart");
    settle(&mut [&mut dave, &mut alice]);
    assert_eq!(dave.take_notes(), vec![], "dave still sees nothing");
    assert_eq!(alice.take_asks(), vec![], "and still asks nothing");

    check_alice_state(&mut alice);
    drop((alice, bob, carol, dave));
    assert!(server.terminate(), "clean shutdown");
}

#[test]
fn presence_lists_grants_blocks_and_subscriptions_over_http_survive_a_restart() {
    scenario(Version::V1_2, Version::V1_3, Version::V1_1, Version::V1_2);
}

#[test]
fn csp_1_3_publisher_answers_anu_with_an_attribute_list_over_http() {
    scenario(Version::V1_3, Version::V1_1, Version::V1_2, Version::V1_3);
}
