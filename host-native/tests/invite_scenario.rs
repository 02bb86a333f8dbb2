//! Invitations, shared content and search over real HTTP against a spawned `imps serve`,
//! driven by the engine's own CSP client: each invitation type end to end (group, presence,
//! IM, shared content), cancellation, expiry, a blocked inviter, a shared-content invitation
//! to a group, an invitation kept across a restart, and paged searches over users and
//! groups ended by StopSearch.
//!
//! Clients learn of server-initiated transactions by polling (`Command::Poll`) and from the
//! Poll flag of the answers; the client acknowledges every one by itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use common::ImpsServer;
use imps_engine::client::im::recipients;
use imps_engine::client::invite::{self, Offer};
use imps_engine::client::{
    Client, ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::common::{
    EntityList, Group, GroupProperties, Property, PropertyName, Recipient, ScreenName, User,
};
use imps_engine::codec::fundamental::{InviteRequest, InviteType, SearchElement, SearchResponse};
use imps_engine::codec::group::{CreateGroupRequest, JoinGroupRequest};
use imps_engine::codec::im::{AccessList, BlockLists};
use imps_engine::codec::presence::{GetPresenceRequest, UpdatePresenceRequest};
use imps_engine::codec::presence_attrs::{PresenceSubList, StatusText};
use imps_engine::codec::{Primitive, Version};

const ALICE: &str = "wv:alice@localhost";
const BOB: &str = "wv:bob@localhost";
const CAROL: &str = "wv:carol@localhost";
const CLUB: &str = "wv:alice/club@localhost";

fn start(dir: &tempfile::TempDir) -> ImpsServer {
    ImpsServer::start_open(dir.path(), "")
}

/// A CSP client talking to `server` over HTTP; server-initiated primitives are kept.
struct Peer<'a> {
    server: &'a ImpsServer,
    name: String,
    version: Version,
    client: Client,
    started: Instant,
    pushed: Vec<Primitive>,
}

impl<'a> Peer<'a> {
    fn login(server: &'a ImpsServer, name: &str, version: Version) -> Self {
        static LOGINS: AtomicU8 = AtomicU8::new(0);
        let config = ClientConfig::new(version, name, "pw", LoginScheme::Password);
        let mut seed = [3u8; 32];
        seed[0] = LOGINS.fetch_add(1, Ordering::Relaxed);
        seed[1..=name.len()].copy_from_slice(name.as_bytes());
        let mut peer = Peer {
            server,
            name: name.to_owned(),
            version,
            client: Client::new(config, seed),
            started: Instant::now(),
            pushed: Vec::new(),
        };
        let events = peer.run(Command::Login);
        assert!(peer.client.is_ready(), "{name} not ready: {events:?}");
        peer
    }

    fn me(&self) -> String {
        format!("wv:{}@localhost", self.name)
    }

    fn run(&mut self, command: Command) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        let now = self.started.elapsed().as_millis() as u64;
        self.client.handle(now, ClientInput::Command(command));
        while let Some(out) = self.client.poll_output() {
            match out {
                ClientOutput::Send(req) => {
                    let reply = self.server.post("/imps", req.content_type, &req.body);
                    assert_eq!(reply.status, 200);
                    let now = self.started.elapsed().as_millis() as u64;
                    self.client.handle(
                        now,
                        ClientInput::Response {
                            request_id: req.request_id,
                            body: reply.body,
                        },
                    );
                }
                ClientOutput::Event(e) => {
                    match &e {
                        ClientEvent::ServerRequest(p) => self.pushed.push(p.clone()),
                        ClientEvent::Error { message } => {
                            panic!("{} ({}): client error {message}", self.name, self.version)
                        }
                        _ => {}
                    }
                    events.push(e);
                }
            }
        }
        events
    }

    fn request(&mut self, p: Primitive) -> Primitive {
        let what = p.name().to_owned();
        self.run(Command::Request(p))
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Response { primitive, .. } => Some(primitive),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no answer to {what}", self.name))
    }

    fn code(&mut self, p: Primitive) -> u32 {
        self.request(p).result_code().unwrap_or(200)
    }

    /// Polls until a server-initiated primitive `f` accepts has arrived (at most 10 s) and
    /// returns it; the others stay.
    fn wait_for<T>(&mut self, f: impl Fn(&Primitive) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self.pushed.iter().position(|p| f(p).is_some()) {
                return f(&self.pushed.remove(i)).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "{} ({}) waited in vain; got {:?}",
                self.name,
                self.version,
                self.pushed
            );
            self.run(Command::Poll);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn invitation(&mut self) -> InviteRequest {
        self.wait_for(|p| match p {
            Primitive::InviteUserRequest(r) => Some((**r).clone()),
            _ => None,
        })
    }

    /// The Invite-Response for `id`: (acceptance, note as relayed for the version).
    fn answer_to(&mut self, id: &str) -> (bool, Option<String>) {
        self.wait_for(|p| match p {
            Primitive::InviteResponse(r) if r.invite_id.as_deref() == Some(id) => Some((
                r.acceptance.unwrap(),
                r.response_note.clone().or_else(|| r.invite_note.clone()),
            )),
            _ => None,
        })
    }

    fn cancelled(&mut self, id: &str) -> Vec<String> {
        self.wait_for(|p| match p {
            Primitive::CancelInviteUserRequest(r) if r.invite_id.as_deref() == Some(id) => Some(
                r.url_list
                    .as_ref()
                    .map(|l| l.url.clone())
                    .unwrap_or_default(),
            ),
            _ => None,
        })
    }

    /// Polls twice and asserts no invitation arrived.
    fn no_invitation(&mut self) {
        for _ in 0..2 {
            self.run(Command::Poll);
        }
        assert!(
            !self
                .pushed
                .iter()
                .any(|p| matches!(p, Primitive::InviteUserRequest(_))),
            "{}: {:?}",
            self.name,
            self.pushed
        );
    }

    fn invite(&mut self, id: &str, kind: InviteType, to: Recipient, offer: Offer) -> u32 {
        let me = self.me();
        let p = invite::invite(self.version, &me, id, kind, to, offer);
        self.code(p)
    }

    fn reply(&mut self, inv: &InviteRequest, accept: bool, note: &str) -> u32 {
        let me = self.me();
        let p = invite::answer(self.version, &me, inv, accept, Some(note), None);
        self.code(p)
    }
}

fn to(users: &[&str]) -> Recipient {
    recipients(users, &[], &[])
}

fn create_club(restricted: bool, searchable: bool) -> Primitive {
    let prop = |n: &str, v: &str| Property {
        name: Some(PropertyName::parse(n)),
        value: Some(v.into()),
        ..Default::default()
    };
    Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(CLUB.into()),
        group_properties: Some(GroupProperties {
            property: vec![
                prop("Name", "Reading club"),
                prop("Topic", "books"),
                prop("AccessType", if restricted { "Restricted" } else { "Open" }),
                prop("Searchable", if searchable { "T" } else { "F" }),
            ],
            ..Default::default()
        }),
        join_group: Some(true),
        screen_name: Some(sname("Al")),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

fn sname(n: &str) -> ScreenName {
    ScreenName {
        sname: Some(n.into()),
        group_id: Some(CLUB.into()),
        ..Default::default()
    }
}

fn join(n: &str) -> Primitive {
    Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(CLUB.into()),
        screen_name: Some(sname(n)),
        joined_request: Some(false),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

#[test]
fn every_invitation_type_end_to_end_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (va, vb) in [
        (Version::V1_2, Version::V1_2),
        (Version::V1_1, Version::V1_3),
        (Version::V1_3, Version::V1_1),
    ] {
        let mut alice = Peer::login(&server, "alice", va);
        let mut bob = Peer::login(&server, "bob", vb);
        let ctx = format!("alice {va}, bob {vb}");

        // Group: a restricted club; accepting makes Bob a member, so he can join.
        let _ = alice.request(Primitive::DeleteGroupRequest(Box::new(
            imps_engine::codec::group::GroupRequest {
                group_id: Some(CLUB.into()),
                ..Default::default()
            },
        )));
        assert_eq!(alice.code(create_club(true, false)), 200, "{ctx}");
        assert_eq!(bob.code(join("Bobby")), 810, "{ctx}");
        let offer = Offer {
            group_id: Some(CLUB.into()),
            note: Some("join us".into()),
            validity: Some(300),
            ..Default::default()
        };
        assert_eq!(
            alice.invite("g", InviteType::Group, to(&[BOB]), offer),
            200,
            "{ctx}"
        );
        let inv = bob.invitation();
        assert_eq!(inv.invite_type, Some(InviteType::Group), "{ctx}");
        assert_eq!(inv.group_id.as_deref(), Some(CLUB), "{ctx}");
        assert_eq!(inv.invite_note.as_deref(), Some("join us"), "{ctx}");
        assert_eq!(bob.reply(&inv, true, "coming"), 200, "{ctx}");
        assert_eq!(alice.answer_to("g"), (true, Some("coming".into())), "{ctx}");
        assert_eq!(bob.code(join("Bobby")), 200, "{ctx}");

        // Presence: accepting shows Alice's status text to Bob.
        let status = PresenceSubList {
            status_text: Some(StatusText::with_value(format!("reading {va}"))),
            ..Default::default()
        };
        alice.code(Primitive::UpdatePresenceRequest(Box::new(
            UpdatePresenceRequest {
                presence_sub_list: Some(status),
                ..Default::default()
            },
        )));
        let offered = PresenceSubList {
            status_text: Some(StatusText::default()),
            ..Default::default()
        };
        let offer = Offer {
            presence: Some(offered),
            ..Default::default()
        };
        assert_eq!(
            alice.invite("p", InviteType::Presence, to(&[BOB]), offer),
            200
        );
        let inv = bob.invitation();
        assert!(inv.presence_sub_list.is_some(), "{ctx}");
        assert_eq!(bob.reply(&inv, true, "sure"), 200, "{ctx}");
        assert!(alice.answer_to("p").0);
        let get = Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
            user: vec![User::id(ALICE)],
            ..Default::default()
        }));
        let Primitive::GetPresenceResponse(gp) = bob.request(get) else {
            panic!("{ctx}")
        };
        let seen = gp.presence[0].presence_sub_list[0].status_text.clone();
        assert_eq!(
            seen.and_then(|t| t.presence_value),
            Some(format!("reading {va}")),
            "{ctx}"
        );

        // IM, declined.
        assert_eq!(
            alice.invite("i", InviteType::Im, to(&[BOB]), Offer::default()),
            200
        );
        let inv = bob.invitation();
        assert_eq!(bob.reply(&inv, false, "busy"), 200, "{ctx}");
        assert_eq!(alice.answer_to("i"), (false, Some("busy".into())), "{ctx}");
        // Answered: 423 for a second answer.
        assert_eq!(bob.reply(&inv, true, "again"), 423, "{ctx}");

        // Shared content, cancelled.
        let share = invite::share(
            va,
            ALICE,
            "s",
            to(&[BOB]),
            &["https://example.org/a.jpg"],
            Some("look"),
        );
        assert_eq!(alice.code(share), 200, "{ctx}");
        let inv = bob.invitation();
        assert_eq!(
            inv.url_list.unwrap().url,
            vec!["https://example.org/a.jpg".to_owned()],
            "{ctx}"
        );
        assert_eq!(
            alice.code(invite::cancel(va, ALICE, "s", None, Some("gone"))),
            200
        );
        assert_eq!(
            bob.cancelled("s"),
            vec!["https://example.org/a.jpg".to_owned()]
        );
        assert_eq!(
            alice.code(invite::cancel(va, ALICE, "s", None, None)),
            423,
            "{ctx}"
        );

        alice.run(Command::Logout);
        bob.run(Command::Logout);
    }
}

#[test]
fn expiry_blocking_group_shares_and_restart_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    let mut bob = Peer::login(&server, "bob", Version::V1_2);
    let mut carol = Peer::login(&server, "carol", Version::V1_3);

    // Expiry: a one-second invitation cannot be answered two seconds later.
    let offer = Offer {
        validity: Some(1),
        ..Default::default()
    };
    assert_eq!(alice.invite("e", InviteType::Im, to(&[BOB]), offer), 200);
    let inv = bob.invitation();
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(bob.reply(&inv, true, "late"), 423);

    // Blocked inviter: Carol blocks Alice and receives nothing.
    let block = Primitive::BlockEntityRequest(Box::new(BlockLists {
        block_list: Some(AccessList {
            in_use: Some(true),
            add_list: Some(EntityList {
                user_id: vec![ALICE.into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(carol.code(block), 200);
    assert_eq!(
        alice.invite("b", InviteType::Im, to(&[CAROL]), Offer::default()),
        532
    );
    carol.no_invitation();

    // Shared content to a group: every other joined member is invited.
    assert_eq!(alice.code(create_club(false, false)), 200);
    assert_eq!(bob.code(join("Bobby")), 200);
    assert_eq!(carol.code(join("Caz")), 200);
    let to_club = Recipient {
        group: vec![Group {
            group_id: Some(CLUB.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let share = invite::share(
        Version::V1_2,
        ALICE,
        "club-photos",
        to_club,
        &["https://example.org/album"],
        None,
    );
    assert_eq!(alice.code(share), 200);
    // Carol blocks Alice: only Bob is reached (silently, as group messages).
    let inv = bob.invitation();
    assert_eq!(inv.invite_type, Some(InviteType::SharedContent));
    let sender = inv.sender.as_ref().unwrap();
    assert_eq!(
        sender
            .group
            .as_ref()
            .unwrap()
            .screen_name
            .as_ref()
            .unwrap()
            .sname
            .as_deref(),
        Some("Al"),
        "the club hides ids: the inviter shows as its screen name"
    );
    carol.no_invitation();
    assert_eq!(bob.reply(&inv, true, "nice"), 200);
    assert!(alice.answer_to("club-photos").0);

    // An invitation to a user without a session survives a restart.
    carol.run(Command::Logout);
    bob.run(Command::Logout);
    let offer = Offer {
        note: Some("when you are back".into()),
        ..Default::default()
    };
    assert_eq!(
        alice.invite("later", InviteType::Im, to(&[BOB]), offer),
        200
    );
    drop(alice);
    assert!(server.terminate());
    let server = ImpsServer::start(dir.path(), &["--open-registration"]);
    let mut bob = Peer::login(&server, "bob", Version::V1_2);
    let inv = bob.invitation();
    assert_eq!(inv.invite_id.as_deref(), Some("later"));
    assert_eq!(inv.invite_note.as_deref(), Some("when you are back"));
    // Alice is not logged in: her answer waits for her.
    assert_eq!(bob.reply(&inv, true, "back"), 200);
    let mut alice = Peer::login(&server, "alice", Version::V1_3);
    assert_eq!(alice.answer_to("later"), (true, Some("back".into())));
}

fn page(answer: Primitive) -> SearchResponse {
    match answer {
        Primitive::SearchResponse(r) => *r,
        other => panic!("not a Search-Response: {other:?}"),
    }
}

#[test]
fn paged_search_over_users_and_groups_with_a_stop_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    // Seven users whose ids contain "reader" (open registration creates them).
    for i in 0..7 {
        let mut p = Peer::login(&server, &format!("reader{i}"), Version::V1_2);
        p.run(Command::Logout);
    }
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    let first = page(alice.request(invite::search(
        Version::V1_2,
        &[(SearchElement::UserId, "READER")],
        3,
    )));
    assert_eq!(first.search_findings, Some(7));
    assert_eq!(first.completion_flag, Some(false));
    let mut found: Vec<String> = first
        .search_result
        .as_ref()
        .unwrap()
        .user_list
        .as_ref()
        .unwrap()
        .user
        .iter()
        .map(|u| u.user_id.clone().unwrap())
        .collect();
    let second = page(alice.request(invite::next_page(&first).unwrap()));
    assert_eq!(second.completion_flag, Some(false));
    found.extend(
        second
            .search_result
            .as_ref()
            .unwrap()
            .user_list
            .as_ref()
            .unwrap()
            .user
            .iter()
            .map(|u| u.user_id.clone().unwrap()),
    );
    found.sort();
    found.dedup();
    assert_eq!(found.len(), 6);
    // Stopped before the last page: continuing gets 424.
    let id = first.search_id.unwrap();
    assert_eq!(alice.code(invite::stop_search(id)), 200);
    assert_eq!(alice.code(invite::next_page(&second).unwrap()), 424);
    // Too short, 537.
    let short = invite::search(Version::V1_2, &[(SearchElement::UserId, "re")], 3);
    assert_eq!(alice.code(short), 537);

    // Groups: only the searchable one is found.
    assert_eq!(alice.code(create_club(false, true)), 200);
    let hidden = Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some("wv:alice/hidden@localhost".into()),
        group_properties: Some(GroupProperties {
            property: vec![Property {
                name: Some(PropertyName::Name),
                value: Some("Reading in secret".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        join_group: Some(false),
        subscribe_notification: Some(false),
        ..Default::default()
    }));
    assert_eq!(alice.code(hidden), 200);
    let mut carol = Peer::login(&server, "carol", Version::V1_3);
    let r = page(carol.request(invite::search(
        Version::V1_3,
        &[(SearchElement::GroupName, "reading")],
        1,
    )));
    assert_eq!(r.search_findings, Some(1));
    assert_eq!(r.completion_flag, Some(true));
    assert_eq!(
        r.search_result.unwrap().group_list.unwrap().group_id,
        vec![CLUB.to_owned()]
    );
}
