//! The client's presence side (CSP-REFERENCE §2.4, §2.9, §4): clients log in against the real
//! server on virtual time, then receive hand-built server transactions — as the answer to
//! their own Polling-Request, or as the answer to a GetPresence-Request — because no server
//! answers the presence primitives yet. Checks the presence view, the typed events and the
//! automatic acknowledgement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::presence::{self, AttrName};
use imps_engine::client::{
    ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::access13::{NotificationRequest, NotificationType};
use imps_engine::codec::common::{ClientId, CspResult, UserIdList};
use imps_engine::codec::presence::{
    GetPresenceResponse, Presence, PresenceAuthRequest, PresenceNotificationRequest,
};
use imps_engine::codec::presence_attrs::{
    Alias, Availability, OnlineStatus, PresenceSubList, StatusText, UserAvailability,
};
use imps_engine::codec::{self, Message, Primitive, SessionType, TransactionMode, Version};
use sim::{Sim, test_config};

const BOB: &str = "wv:bob@example.org";

/// A server with alice and bob, and alice logged in and ready with `version`.
fn alice(version: Version) -> (Sim, usize) {
    let mut sim = Sim::new(test_config(), 77);
    sim.provision("alice", "pw");
    sim.provision("bob", "pw");
    let a = sim.add_client(ClientConfig::new(
        version,
        "alice",
        "pw",
        LoginScheme::Password,
    ));
    sim.command(a, Command::Login);
    assert!(sim.clients[a].is_ready(), "{:?}", sim.events[a]);
    (sim, a)
}

/// What the client did with one crafted server message: the events it raised and the
/// messages it sent back.
struct Reaction {
    events: Vec<ClientEvent>,
    sent: Vec<Message>,
}

fn drain(sim: &mut Sim, idx: usize) -> Reaction {
    let mut r = Reaction {
        events: Vec::new(),
        sent: Vec::new(),
    };
    while let Some(o) = sim.clients[idx].poll_output() {
        match o {
            ClientOutput::Event(e) => r.events.push(e),
            ClientOutput::Send(s) => r
                .sent
                .push(codec::decode(&s.body, Default::default()).unwrap()),
        }
    }
    r
}

/// The request id of the one message the client has just queued.
fn queued_request(sim: &mut Sim, idx: usize) -> (u64, Message) {
    let mut found = None;
    while let Some(o) = sim.clients[idx].poll_output() {
        if let ClientOutput::Send(s) = o {
            assert!(found.is_none(), "one message queued");
            found = Some((
                s.request_id,
                codec::decode(&s.body, Default::default()).unwrap(),
            ));
        }
    }
    found.expect("a message queued")
}

/// Makes the client poll and answers the poll with `body` (a server-initiated transaction).
fn push_bytes(sim: &mut Sim, idx: usize, body: Vec<u8>) -> Reaction {
    sim.clients[idx].handle(sim.now, ClientInput::Command(Command::Poll));
    let (request_id, poll) = queued_request(sim, idx);
    assert_eq!(poll.primitive().unwrap().name(), "Polling-Request");
    sim.clients[idx].handle(sim.now, ClientInput::Response { request_id, body });
    drain(sim, idx)
}

/// As [`push_bytes`], with a message built in the client's version.
fn push(sim: &mut Sim, idx: usize, version: Version, tid: &str, p: Primitive) -> Reaction {
    let sid = sim.clients[idx].session_id().unwrap().to_owned();
    let msg = Message::single(
        version,
        SessionType::Inband,
        Some(sid),
        TransactionMode::Request,
        Some(tid.to_owned()),
        p,
    );
    let r = push_bytes(sim, idx, codec::encode(&msg));
    assert_acknowledged(&r, tid);
    r
}

/// The client answered the server transaction `tid` with `Status 200` in Response mode.
fn assert_acknowledged(r: &Reaction, tid: &str) {
    let ack = r
        .sent
        .iter()
        .find(|m| {
            m.transaction()
                .and_then(|t| t.descriptor.as_ref())
                .is_some_and(|d| {
                    d.mode == Some(TransactionMode::Response)
                        && d.transaction_id.as_deref() == Some(tid)
                })
        })
        .unwrap_or_else(|| panic!("no acknowledgement of {tid}: {:?}", r.sent));
    assert_eq!(ack.primitive().unwrap().result_code(), Some(200));
}

fn notification(presence: Vec<Presence>) -> Primitive {
    Primitive::PresenceNotificationRequest(Box::new(PresenceNotificationRequest {
        presence,
        ..Default::default()
    }))
}

fn presence_of(user: &str, list: PresenceSubList) -> Presence {
    Presence {
        user_id: Some(user.into()),
        presence_sub_list: vec![list],
        ..Default::default()
    }
}

fn withdrawn_alias() -> Alias {
    Alias {
        qualifier: Some(false),
        ..Default::default()
    }
}

fn presence_events(r: &Reaction) -> Vec<(&str, &PresenceSubList)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Presence { user_id, changed } => Some((user_id.as_str(), &**changed)),
            _ => None,
        })
        .collect()
}

fn auth_events(r: &Reaction) -> Vec<(&str, &PresenceSubList)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::AuthorizationRequest {
                user_id,
                attributes,
            } => Some((user_id.as_str(), &**attributes)),
            _ => None,
        })
        .collect()
}

#[test]
fn presence_notifications_merge_into_the_view_in_every_version() {
    for version in Version::ALL {
        let (mut sim, a) = alice(version);
        assert!(sim.clients[a].presence(BOB).is_none());

        // Bob comes online, available, with a nickname and a status text.
        let first = PresenceSubList {
            online_status: vec![OnlineStatus::with_value("T")],
            user_availability: Some(UserAvailability::with_value("AVAILABLE")),
            alias: Some(Alias::with_value("Bobby")),
            status_text: Some(StatusText::with_value("at lunch")),
            ..Default::default()
        };
        let r = push(
            &mut sim,
            a,
            version,
            "s1",
            notification(vec![presence_of(BOB, first.clone())]),
        );
        // The generic event stays, the typed one follows it.
        assert!(
            matches!(
                r.events.first(),
                Some(ClientEvent::ServerRequest(
                    Primitive::PresenceNotificationRequest(_)
                ))
            ),
            "{:?}",
            r.events
        );
        assert_eq!(presence_events(&r), vec![(BOB, &first)], "{version}");
        assert_eq!(
            sim.clients[a].presence("bob@Example.org"),
            Some(&first),
            "found by any case, wv: optional"
        );

        // A delta: new text, nickname withdrawn; the rest is left as it was.
        let delta = PresenceSubList {
            status_text: Some(StatusText::with_value("back")),
            alias: Some(withdrawn_alias()),
            ..Default::default()
        };
        let r = push(
            &mut sim,
            a,
            version,
            "s2",
            notification(vec![presence_of(BOB, delta.clone())]),
        );
        assert_eq!(
            presence_events(&r),
            vec![(BOB, &delta)],
            "the event carries what was received, withdrawal included"
        );
        let bob = sim.clients[a].presence(BOB).unwrap();
        assert!(bob.alias.is_none(), "withdrawn: {bob:?}");
        assert_eq!(
            bob.status_text.as_ref().unwrap().presence_value.as_deref(),
            Some("back")
        );
        assert_eq!(bob.online(), Some(true));
        assert_eq!(bob.availability(), Some(Availability::Available));

        // Going offline: OnlineStatus F is a value, kept as given.
        let offline = PresenceSubList {
            online_status: vec![OnlineStatus {
                qualifier: Some(true),
                presence_value: Some("F".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        push(
            &mut sim,
            a,
            version,
            "s3",
            notification(vec![presence_of(BOB, offline)]),
        );
        let bob = sim.clients[a].presence(BOB).unwrap();
        assert_eq!(bob.online(), Some(false));
        assert!(bob.user_availability.is_some() && bob.status_text.is_some());

        // The iteration lists every user heard of.
        let all: Vec<&str> = sim.clients[a].contacts_presence().map(|(u, _)| u).collect();
        assert_eq!(all, vec![BOB]);

        // Logging out forgets the view: nothing keeps it current any more.
        sim.command(a, Command::Logout);
        assert!(sim.clients[a].presence(BOB).is_none());
        assert_eq!(sim.clients[a].contacts_presence().count(), 0);
    }
}

#[test]
fn a_notification_for_several_users_raises_one_event_each() {
    let (mut sim, a) = alice(Version::V1_2);
    let on = PresenceSubList {
        online_status: vec![OnlineStatus::with_value("T")],
        ..Default::default()
    };
    let r = push(
        &mut sim,
        a,
        Version::V1_2,
        "s1",
        notification(vec![
            presence_of(BOB, on.clone()),
            presence_of("wv:carol@example.org", on.clone()),
            // No UserID: nothing to key it by; ignored.
            Presence {
                presence_sub_list: vec![on],
                ..Default::default()
            },
        ]),
    );
    let users: Vec<&str> = presence_events(&r).iter().map(|(u, _)| *u).collect();
    assert_eq!(users, vec![BOB, "wv:carol@example.org"]);
    assert_eq!(sim.clients[a].contacts_presence().count(), 2);
}

#[test]
fn a_real_1_1_notification_and_get_presence_answer_fill_the_view() {
    // libwbxml's CSP 1.1 samples: every attribute populated, whitespace and all.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/libwbxml-wv11/"
    );
    let (mut sim, a) = alice(Version::V1_1);
    let body = std::fs::read(format!("{dir}wv-040.xml")).unwrap();
    let r = push_bytes(&mut sim, a, body);
    assert_acknowledged(&r, "IMApp01#12346@NOK5110");
    let he = "wv:he@there.com";
    assert_eq!(presence_events(&r).len(), 1);
    let view = sim.clients[a].presence(he).unwrap();
    assert_eq!(view.online(), Some(true));
    assert_eq!(view.comm_cap[0].comm_c.len(), 3);
    assert_eq!(view.address[0].city.as_deref(), Some("London"));

    // wv-047 is the GetPresence-Response to a request of ours.
    sim.clients[a].handle(
        sim.now,
        ClientInput::Command(Command::Request(presence::get_presence(
            Version::V1_1,
            &[he],
            &[],
            None,
        ))),
    );
    let (request_id, sent) = queued_request(&mut sim, a);
    let tid = sent
        .transaction()
        .and_then(|t| t.descriptor.as_ref())
        .and_then(|d| d.transaction_id.clone())
        .unwrap();
    let body = std::fs::read(format!("{dir}wv-047.xml")).unwrap();
    sim.clients[a].handle(sim.now, ClientInput::Response { request_id, body });
    let r = drain(&mut sim, a);
    assert!(
        matches!(r.events.first(), Some(ClientEvent::Response { transaction_id, primitive: Primitive::GetPresenceResponse(_) }) if *transaction_id == tid),
        "{:?}",
        r.events
    );
    let users: Vec<&str> = presence_events(&r).iter().map(|(u, _)| *u).collect();
    assert_eq!(users, vec![he, "wv:she@there.com"]);
    assert!(r.sent.is_empty(), "an answer is not acknowledged");
    assert_eq!(sim.clients[a].contacts_presence().count(), 2);
}

#[test]
fn get_presence_answers_merge_like_notifications() {
    for version in Version::ALL {
        let (mut sim, a) = alice(version);
        let ask = presence::get_presence(
            version,
            &[BOB],
            &[],
            Some(presence::names(&[AttrName::OnlineStatus, AttrName::Alias])),
        );
        sim.clients[a].handle(sim.now, ClientInput::Command(Command::Request(ask)));
        let (request_id, _) = queued_request(&mut sim, a);
        let answer = Primitive::GetPresenceResponse(Box::new(GetPresenceResponse {
            result: Some(CspResult::new(200, "")),
            presence: vec![presence_of(
                BOB,
                PresenceSubList {
                    online_status: vec![OnlineStatus::with_value("T")],
                    alias: Some(Alias::with_value("Bobby")),
                    ..Default::default()
                },
            )],
            ..Default::default()
        }));
        let sid = sim.clients[a].session_id().unwrap().to_owned();
        let msg = Message::single(
            version,
            SessionType::Inband,
            Some(sid),
            TransactionMode::Response,
            Some("c9".into()),
            answer,
        );
        sim.clients[a].handle(
            sim.now,
            ClientInput::Response {
                request_id,
                body: codec::encode(&msg),
            },
        );
        let r = drain(&mut sim, a);
        assert!(matches!(
            r.events.first(),
            Some(ClientEvent::Response { .. })
        ));
        assert_eq!(presence_events(&r).len(), 1, "{version}");
        let bob = sim.clients[a].presence(BOB).unwrap();
        assert_eq!(
            bob.alias.as_ref().unwrap().presence_value.as_deref(),
            Some("Bobby")
        );
        assert_eq!(bob.online(), Some(true));
    }
}

#[test]
fn version_1_3_keeps_one_instance_per_client() {
    let (mut sim, a) = alice(Version::V1_3);
    let instance = |client: &str, online: &str| OnlineStatus {
        client_id: Some(ClientId {
            url: Some(client.into()),
            ..Default::default()
        }),
        ..OnlineStatus::with_value(online)
    };
    // Two clients of bob, the second in a PresenceSubList of its own.
    let r = push(
        &mut sim,
        a,
        Version::V1_3,
        "s1",
        notification(vec![Presence {
            user_id: Some(BOB.into()),
            presence_sub_list: vec![
                PresenceSubList {
                    online_status: vec![instance("http://phone", "T")],
                    ..Default::default()
                },
                PresenceSubList {
                    online_status: vec![instance("http://pc", "T")],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }]),
    );
    assert_eq!(presence_events(&r).len(), 1, "one event per Presence");
    assert_eq!(sim.clients[a].presence(BOB).unwrap().online_status.len(), 2);
    // A later OnlineStatus replaces the attribute as a whole: the PC logged out.
    push(
        &mut sim,
        a,
        Version::V1_3,
        "s2",
        notification(vec![presence_of(
            BOB,
            PresenceSubList {
                online_status: vec![instance("http://phone", "T")],
                ..Default::default()
            },
        )]),
    );
    let bob = sim.clients[a].presence(BOB).unwrap();
    assert_eq!(bob.online_status.len(), 1);
    assert_eq!(
        bob.online_status[0]
            .client_id
            .as_ref()
            .unwrap()
            .url
            .as_deref(),
        Some("http://phone")
    );
}

#[test]
fn presence_auth_request_asks_for_authorization_before_1_3() {
    for version in [Version::V1_1, Version::V1_2] {
        let (mut sim, a) = alice(version);
        let asked = presence::names(&[AttrName::OnlineStatus, AttrName::StatusText]);
        let r = push(
            &mut sim,
            a,
            version,
            "s1",
            Primitive::PresenceAuthRequest(Box::new(PresenceAuthRequest {
                user_id: Some(BOB.into()),
                presence_sub_list: Some(asked.clone()),
                ..Default::default()
            })),
        );
        assert!(matches!(
            r.events.first(),
            Some(ClientEvent::ServerRequest(Primitive::PresenceAuthRequest(
                _
            )))
        ));
        assert_eq!(auth_events(&r), vec![(BOB, &asked)], "{version}");
        assert_eq!(
            presence::attr_names(auth_events(&r)[0].1),
            vec![AttrName::OnlineStatus, AttrName::StatusText]
        );
        // The answer goes out as a new client transaction.
        let answer = presence::authorize(version, BOB, true, Some(asked)).unwrap();
        sim.clients[a].handle(sim.now, ClientInput::Command(Command::Request(answer)));
        let (_, sent) = queued_request(&mut sim, a);
        let d = sent.transaction().unwrap().descriptor.as_ref().unwrap();
        assert_eq!(d.mode, Some(TransactionMode::Request));
        assert!(matches!(
            sent.primitive(),
            Some(Primitive::PresenceAuthUser(u)) if u.acceptance == Some(true)
        ));
    }
}

#[test]
fn anu_notification_asks_for_authorization_once_per_watcher_in_1_3() {
    let (mut sim, a) = alice(Version::V1_3);
    let asked = presence::names(&[AttrName::OnlineStatus]);
    let anu = |kind: NotificationType| {
        Primitive::NotificationRequest(Box::new(NotificationRequest {
            notification_type: Some(kind),
            presence_sub_list: Some(asked.clone()),
            user_id_list: Some(UserIdList {
                user_id: vec![BOB.into(), "wv:carol@example.org".into()],
                ..Default::default()
            }),
            ..Default::default()
        }))
    };
    let r = push(&mut sim, a, Version::V1_3, "s1", anu(NotificationType::Anu));
    assert!(matches!(
        r.events.first(),
        Some(ClientEvent::ServerRequest(Primitive::NotificationRequest(
            _
        )))
    ));
    assert_eq!(
        auth_events(&r),
        vec![(BOB, &asked), ("wv:carol@example.org", &asked)]
    );
    // Other notification types are not authorisation requests.
    let r = push(&mut sim, a, Version::V1_3, "s2", anu(NotificationType::Ac));
    assert!(auth_events(&r).is_empty());
    assert_eq!(r.events.len(), 1, "only the generic event: {:?}", r.events);
}
