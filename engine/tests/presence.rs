//! Presence (CSP-REFERENCE §2.4, §4) on virtual time: attributes, the server-kept
//! OnlineStatus, proactive and reactive authorization, subscriptions, notifications with
//! coalescing, watchers, durability.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::field_reassign_with_default
)]

mod sim;

use imps_engine::client::Command;
use imps_engine::codec::access13::NotificationType;
use imps_engine::codec::common::{NickList, User, UserIdList};
use imps_engine::codec::presence::{
    AuthState, CancelAuthRequest, CreateAttributeListRequest, CreateListRequest,
    DeleteAttributeListRequest, GetPresenceRequest, ListManageRequest, Presence, PresenceAuthUser,
    SubscribePresenceRequest, UnsubscribePresenceRequest, UpdatePresenceRequest,
};
use imps_engine::codec::presence_attrs::{
    OnlineStatus, PresenceSubList, StatusMood, StatusText, UserAvailability,
};
use imps_engine::codec::{Primitive, Version};
use sim::{Sim, code_of, login, req, take, test_config};

const ALICE: &str = "wv:alice@example.org";
const BOB: &str = "wv:bob@example.org";
const CAROL: &str = "wv:carol@example.org";

fn new_sim() -> Sim {
    let mut sim = Sim::new(test_config(), 41);
    for u in ["alice", "bob", "carol", "dave"] {
        sim.provision(u, "pw");
    }
    sim
}

/// The Presence entries of the notifications client `c` received.
fn notified(sim: &mut Sim, c: usize) -> Vec<Presence> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::PresenceNotificationRequest(n) => Some(n.presence),
            _ => None,
        })
        .flatten()
        .collect()
}

fn sub_list(p: &Presence) -> PresenceSubList {
    p.presence_sub_list.first().cloned().unwrap_or_default()
}

fn text(t: &str) -> PresenceSubList {
    PresenceSubList {
        status_text: Some(StatusText::with_value(t)),
        ..Default::default()
    }
}

fn update(list: PresenceSubList) -> Primitive {
    Primitive::UpdatePresenceRequest(Box::new(UpdatePresenceRequest {
        presence_sub_list: Some(list),
        ..Default::default()
    }))
}

fn subscribe(users: &[&str]) -> Primitive {
    Primitive::SubscribePresenceRequest(Box::new(SubscribePresenceRequest {
        user: users.iter().map(|u| User::id(*u)).collect(),
        ..Default::default()
    }))
}

/// Empty elements naming attributes.
fn names(online: bool, text: bool, avail: bool, mood: bool) -> PresenceSubList {
    let mut l = PresenceSubList::default();
    if online {
        l.online_status = vec![OnlineStatus::default()];
    }
    if text {
        l.status_text = Some(StatusText::default());
    }
    if avail {
        l.user_availability = Some(UserAvailability::default());
    }
    if mood {
        l.status_mood = Some(StatusMood::default());
    }
    l
}

fn attribute_list(
    attrs: PresenceSubList,
    users: &[&str],
    lists: &[&str],
    default: bool,
) -> Primitive {
    Primitive::CreateAttributeListRequest(Box::new(CreateAttributeListRequest {
        presence_sub_list: Some(attrs),
        user_id: users.iter().map(|u| u.to_string()).collect(),
        contact_list: lists.iter().map(|u| u.to_string()).collect(),
        default_list: Some(default),
        ..Default::default()
    }))
}

fn everything() -> PresenceSubList {
    PresenceSubList {
        status_text: Some(StatusText::with_value("at work")),
        user_availability: Some(UserAvailability::with_value("AVAILABLE")),
        status_mood: Some(StatusMood::with_value("HAPPY")),
        ..Default::default()
    }
}

/// alice publishes, puts bob in "friends" with an attribute list of OnlineStatus,
/// StatusText and UserAvailability; bob subscribes and sees exactly those.
fn alice_and_bob(sim: &mut Sim, va: Version, vb: Version) -> (usize, usize) {
    let a = login(sim, "alice", va);
    let b = login(sim, "bob", vb);
    assert_eq!(code_of(&req(sim, a, update(everything()))), 200);
    let create = Primitive::CreateListRequest(Box::new(CreateListRequest {
        contact_list: Some("wv:alice/friends@example.org".into()),
        nick_list: Some(NickList {
            user_id: vec![BOB.into()],
            ..Default::default()
        }),
        ..Default::default()
    }));
    let created = req(sim, a, create);
    assert!(
        matches!(created, Primitive::CreateListResponse(_)) || code_of(&created) == 200,
        "{created:?}"
    );
    let grant = attribute_list(
        names(true, true, true, false),
        &[],
        &["wv:alice/friends@example.org"],
        false,
    );
    assert_eq!(code_of(&req(sim, a, grant)), 200);
    take(sim, a);
    take(sim, b);
    (a, b)
}

#[test]
fn contact_list_attribute_list_authorizes_members_for_exactly_its_attributes() {
    for (va, vb) in [
        (Version::V1_2, Version::V1_2),
        (Version::V1_1, Version::V1_3),
        (Version::V1_3, Version::V1_1),
    ] {
        let mut sim = new_sim();
        let (a, b) = alice_and_bob(&mut sim, va, vb);
        assert_eq!(code_of(&req(&mut sim, b, subscribe(&[ALICE]))), 200);
        let got = notified(&mut sim, b);
        assert_eq!(got.len(), 1, "{va} {vb}: one initial notification");
        assert_eq!(got[0].user_id.as_deref(), Some(ALICE));
        let l = sub_list(&got[0]);
        assert_eq!(l.online(), Some(true));
        assert_eq!(
            l.status_text.as_ref().unwrap().presence_value.as_deref(),
            Some("at work")
        );
        assert!(l.user_availability.is_some());
        assert!(l.status_mood.is_none(), "mood is not authorized");
        // alice never asked: nobody was authorized reactively.
        assert!(take(&mut sim, a).is_empty());

        // A change of an authorized attribute reaches bob, carrying only that attribute.
        sim.advance(2_000);
        assert_eq!(code_of(&req(&mut sim, a, update(text("lunch")))), 200);
        let got = notified(&mut sim, b);
        assert_eq!(got.len(), 1);
        let l = sub_list(&got[0]);
        assert_eq!(
            l.status_text.unwrap().presence_value.as_deref(),
            Some("lunch")
        );
        assert!(l.online_status.is_empty() && l.user_availability.is_none());

        // A change of an attribute bob may not see sends nothing.
        sim.advance(2_000);
        let mood = PresenceSubList {
            status_mood: Some(StatusMood::with_value("SAD")),
            ..Default::default()
        };
        assert_eq!(code_of(&req(&mut sim, a, update(mood))), 200);
        assert!(notified(&mut sim, b).is_empty());
    }
}

#[test]
fn stranger_is_asked_for_and_sees_exactly_the_reactive_grant() {
    let mut sim = new_sim();
    let (a, _b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    take(&mut sim, c);
    assert_eq!(code_of(&req(&mut sim, c, subscribe(&[ALICE]))), 200);
    assert!(notified(&mut sim, c).is_empty(), "nothing authorized yet");
    let asked = take(&mut sim, a);
    let Some(Primitive::PresenceAuthRequest(r)) = asked.first() else {
        panic!("alice is asked: {asked:?}");
    };
    assert_eq!(r.user_id.as_deref(), Some(CAROL));

    // Status while pending.
    let st = req(
        &mut sim,
        a,
        Primitive::GetReactiveAuthStatusRequest(Box::default()),
    );
    let Primitive::GetReactiveAuthStatusResponse(st) = st else {
        panic!("{st:?}")
    };
    let entries = st.reactive_auth_status_list.unwrap().reactive_auth_status;
    assert!(
        entries
            .iter()
            .any(|e| e.reactive_auth_state == Some(AuthState::Pending))
    );

    // alice grants StatusText only: carol sees exactly that, at once.
    let grant = Primitive::PresenceAuthUser(Box::new(PresenceAuthUser {
        user_id: Some(CAROL.into()),
        acceptance: Some(true),
        presence_sub_list: Some(names(false, true, false, false)),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, grant)), 200);
    let got = notified(&mut sim, c);
    assert_eq!(got.len(), 1);
    let l = sub_list(&got[0]);
    assert_eq!(l, text("at work"));

    // GetPresence answers the same, and carol's later GetPresence raises no new request.
    let get = Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
        user: vec![User::id(ALICE)],
        ..Default::default()
    }));
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, c, get) else {
        panic!()
    };
    assert_eq!(sub_list(&gp.presence[0]), text("at work"));

    // CancelAuth withdraws: carol sees nothing more of alice's changes.
    let cancel = Primitive::CancelAuthRequest(Box::new(CancelAuthRequest {
        user_id: Some(CAROL.into()),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, cancel)), 200);
    sim.advance(2_000);
    req(&mut sim, a, update(text("gone")));
    assert!(notified(&mut sim, c).is_empty());
    assert!(
        take(&mut sim, a).is_empty(),
        "a denial is final: no new request"
    );
}

#[test]
fn csp_1_3_publisher_is_asked_with_anu_and_answers_with_an_attribute_list() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_3);
    req(&mut sim, a, update(everything()));
    let c = login(&mut sim, "carol", Version::V1_3);
    let sub = Primitive::SubscribePresenceRequest(Box::new(SubscribePresenceRequest {
        user_id_list: Some(UserIdList {
            user_id: vec![ALICE.into()],
            ..Default::default()
        }),
        presence_sub_list: Some(names(true, true, false, false)),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, c, sub)), 200);
    let asked = take(&mut sim, a);
    let Some(Primitive::NotificationRequest(n)) = asked.first() else {
        panic!("ANU: {asked:?}")
    };
    assert_eq!(n.notification_type, Some(NotificationType::Anu));
    assert_eq!(
        n.user_id_list.as_ref().unwrap().user_id,
        vec![CAROL.to_owned()]
    );
    assert_eq!(
        n.presence_sub_list.as_ref().unwrap(),
        &names(true, true, false, false)
    );
    take(&mut sim, c);
    let grant = Primitive::CreateAttributeListRequest(Box::new(CreateAttributeListRequest {
        presence_sub_list: Some(names(true, false, false, false)),
        user_id_list: Some(UserIdList {
            user_id: vec![CAROL.into()],
            ..Default::default()
        }),
        default_list: Some(false),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, grant)), 200);
    let got = notified(&mut sim, c);
    assert_eq!(got.len(), 1);
    let l = sub_list(&got[0]);
    assert_eq!(l.online(), Some(true));
    assert!(l.status_text.is_none());
}

#[test]
fn online_status_follows_sessions_and_invisibility() {
    let mut sim = new_sim();
    let (a, b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    req(&mut sim, b, subscribe(&[ALICE]));
    take(&mut sim, b);
    sim.advance(2_000);

    // Invisible: bob sees alice offline while she keeps using her session.
    let invisible = PresenceSubList {
        online_status: vec![OnlineStatus {
            qualifier: Some(false),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(code_of(&req(&mut sim, a, update(invisible))), 200);
    let got = notified(&mut sim, b);
    assert_eq!(sub_list(&got[0]).online(), Some(false));
    sim.advance(2_000);
    let visible = PresenceSubList {
        online_status: vec![OnlineStatus::with_value("T")],
        ..Default::default()
    };
    req(&mut sim, a, update(visible));
    assert_eq!(sub_list(&notified(&mut sim, b)[0]).online(), Some(true));

    // Logout: offline; a new login: online again.
    sim.advance(2_000);
    sim.command(a, Command::Logout);
    let got = notified(&mut sim, b);
    assert_eq!(sub_list(&got[0]).online(), Some(false));
    sim.advance(2_000);
    let a2 = login(&mut sim, "alice", Version::V1_3);
    let got = notified(&mut sim, b);
    assert_eq!(sub_list(&got[0]).online(), Some(true));
    take(&mut sim, a2);
}

#[test]
fn changes_are_coalesced_per_presentity_with_only_changed_attributes() {
    let mut sim = new_sim();
    let (a, b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    req(&mut sim, b, subscribe(&[ALICE]));
    take(&mut sim, b);
    sim.advance(5_000);
    req(&mut sim, a, update(text("one")));
    assert_eq!(
        notified(&mut sim, b).len(),
        1,
        "the first change goes out at once"
    );
    req(&mut sim, a, update(text("two")));
    req(&mut sim, a, update(text("three")));
    assert!(notified(&mut sim, b).is_empty(), "held for the interval");
    sim.advance(1_000);
    let got = notified(&mut sim, b);
    assert_eq!(got.len(), 1);
    assert_eq!(sub_list(&got[0]), text("three"));

    // A withdrawn attribute is sent as Qualifier F.
    sim.advance(2_000);
    let clear = PresenceSubList {
        status_text: Some(StatusText {
            qualifier: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    req(&mut sim, a, update(clear));
    let l = sub_list(&notified(&mut sim, b)[0]);
    assert_eq!(l.status_text.unwrap().qualifier, Some(false));
}

#[test]
fn no_default_attribute_list_until_created_and_get_presence_does_not_watch() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    req(&mut sim, a, update(everything()));
    let get = || {
        Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
            user: vec![User::id(ALICE)],
            ..Default::default()
        }))
    };
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, c, get()) else {
        panic!()
    };
    assert!(
        gp.presence[0].presence_sub_list.is_empty(),
        "strangers see nothing"
    );
    let list = req(
        &mut sim,
        a,
        Primitive::GetAttributeListRequest(Box::default()),
    );
    let Primitive::GetAttributeListResponse(list) = list else {
        panic!()
    };
    assert!(list.default_attribute_list.is_none());
    take(&mut sim, a);

    // A default list authorizes everyone without one of their own; no request is raised.
    let default = attribute_list(names(true, false, true, false), &[], &[], true);
    assert_eq!(code_of(&req(&mut sim, a, default)), 200);
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, c, get()) else {
        panic!()
    };
    let l = sub_list(&gp.presence[0]);
    assert_eq!(l.online(), Some(true));
    assert!(l.user_availability.is_some() && l.status_text.is_none());
    assert!(
        take(&mut sim, a).is_empty(),
        "proactive authorization: nobody asks"
    );

    // A user's own list overrides the default.
    let own = attribute_list(names(false, true, false, false), &[CAROL], &[], false);
    req(&mut sim, a, own);
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, c, get()) else {
        panic!()
    };
    assert_eq!(sub_list(&gp.presence[0]), text("at work"));

    // GetPresence did not make carol a watcher.
    let wl = req(
        &mut sim,
        a,
        Primitive::GetWatcherListRequest(Box::default()),
    );
    let Primitive::GetWatcherListResponse(wl) = wl else {
        panic!()
    };
    assert!(wl.watcher.is_empty());

    // GetAttributeList shows both entries; DeleteAttributeList removes them.
    let list = req(
        &mut sim,
        a,
        Primitive::GetAttributeListRequest(Box::default()),
    );
    let Primitive::GetAttributeListResponse(list) = list else {
        panic!()
    };
    assert!(list.default_attribute_list.is_some());
    assert_eq!(list.presence[0].user_id.as_deref(), Some(CAROL));
    let del = Primitive::DeleteAttributeListRequest(Box::new(DeleteAttributeListRequest {
        user_id: vec![CAROL.into()],
        default_list: Some(true),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, del)), 200);
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, c, get()) else {
        panic!()
    };
    assert!(gp.presence[0].presence_sub_list.is_empty());
}

#[test]
fn watcher_list_shows_every_subscriber_until_they_unsubscribe() {
    let mut sim = new_sim();
    let (a, b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    req(&mut sim, b, subscribe(&[ALICE]));
    req(&mut sim, c, subscribe(&[ALICE]));
    let watchers = |sim: &mut Sim| {
        let wl = req(sim, a, Primitive::GetWatcherListRequest(Box::default()));
        let Primitive::GetWatcherListResponse(wl) = wl else {
            panic!()
        };
        wl.watcher
            .iter()
            .map(|w| {
                (
                    w.user.as_ref().unwrap().user_id.clone().unwrap(),
                    w.watcher_status.clone().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        watchers(&mut sim),
        vec![
            (BOB.to_owned(), AuthState::Granted),
            (CAROL.to_owned(), AuthState::Pending)
        ]
    );
    let unsub = Primitive::UnsubscribePresenceRequest(Box::new(UnsubscribePresenceRequest {
        user: vec![User::id(ALICE)],
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, c, unsub)), 200);
    assert_eq!(
        watchers(&mut sim),
        vec![(BOB.to_owned(), AuthState::Granted)]
    );
}

#[test]
fn presence_authorization_and_subscriptions_survive_a_restart() {
    let mut sim = new_sim();
    let (a, b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    req(&mut sim, b, subscribe(&[ALICE]));
    sim.command(a, Command::Logout);
    sim.command(b, Command::Logout);
    sim.restart();
    let b = login(&mut sim, "bob", Version::V1_2);
    take(&mut sim, b);
    let a = login(&mut sim, "alice", Version::V1_2);
    // bob is still subscribed and authorized: alice's login reaches him.
    let got = notified(&mut sim, b);
    assert_eq!(sub_list(&got[0]).online(), Some(true));
    let get = Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
        user: vec![User::id(ALICE)],
        ..Default::default()
    }));
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, b, get) else {
        panic!()
    };
    let l = sub_list(&gp.presence[0]);
    assert_eq!(
        l.status_text.unwrap().presence_value.as_deref(),
        Some("at work"),
        "published values persist"
    );
    assert!(l.status_mood.is_none());
    take(&mut sim, a);
}

#[test]
fn pending_request_reaches_an_offline_publisher_at_login() {
    let mut sim = new_sim();
    let c = login(&mut sim, "carol", Version::V1_2);
    req(&mut sim, c, subscribe(&[ALICE]));
    let a = login(&mut sim, "alice", Version::V1_1);
    let asked = take(&mut sim, a);
    assert!(
        asked
            .iter()
            .any(|p| matches!(p, Primitive::PresenceAuthRequest(r) if r.user_id.as_deref() == Some(CAROL))),
        "{asked:?}"
    );
}

#[test]
fn auto_subscribe_follows_members_added_later() {
    let mut sim = new_sim();
    let b = login(&mut sim, "bob", Version::V1_2);
    let a = login(&mut sim, "alice", Version::V1_2);
    req(&mut sim, b, update(text("hello")));
    req(
        &mut sim,
        b,
        attribute_list(names(true, true, false, false), &[], &[], true),
    );
    let create = Primitive::CreateListRequest(Box::new(CreateListRequest {
        contact_list: Some("wv:alice/friends@example.org".into()),
        ..Default::default()
    }));
    req(&mut sim, a, create);
    let sub = Primitive::SubscribePresenceRequest(Box::new(SubscribePresenceRequest {
        contact_list: vec!["wv:alice/friends@example.org".into()],
        auto_subscribe: Some(true),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, sub)), 200);
    take(&mut sim, a);
    let add = Primitive::ListManageRequest(Box::new(ListManageRequest {
        contact_list: Some("wv:alice/friends@example.org".into()),
        add_nick_list: Some(NickList {
            user_id: vec![BOB.into()],
            ..Default::default()
        }),
        receive_list: Some(false),
        ..Default::default()
    }));
    req(&mut sim, a, add);
    let got = notified(&mut sim, a);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].user_id.as_deref(), Some(BOB));
    assert_eq!(
        sub_list(&got[0])
            .status_text
            .unwrap()
            .presence_value
            .as_deref(),
        Some("hello")
    );
}

#[test]
fn invalid_updates_and_targets_get_status_codes() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let bad = PresenceSubList {
        user_availability: Some(UserAvailability::with_value("SLEEPING")),
        ..Default::default()
    };
    assert_eq!(code_of(&req(&mut sim, a, update(bad))), 751);
    let bad = PresenceSubList {
        online_status: vec![OnlineStatus::with_value("maybe")],
        ..Default::default()
    };
    assert_eq!(code_of(&req(&mut sim, a, update(bad))), 751);
    let empty = Primitive::UpdatePresenceRequest(Box::default());
    assert_eq!(code_of(&req(&mut sim, a, empty)), 402);
    let huge = text(&"x".repeat(20_000));
    assert_eq!(code_of(&req(&mut sim, a, update(huge))), 751);
    assert_eq!(code_of(&req(&mut sim, a, subscribe(&["nobody"]))), 531);
    assert_eq!(
        code_of(&req(&mut sim, a, subscribe(&["wv:x@elsewhere.net"]))),
        516
    );
    assert_eq!(code_of(&req(&mut sim, a, subscribe(&[BOB, "nobody"]))), 201);
    let none = Primitive::SubscribePresenceRequest(Box::default());
    assert_eq!(code_of(&req(&mut sim, a, none)), 402);
    let unknown_list = attribute_list(
        names(true, false, false, false),
        &[],
        &["wv:alice/nope"],
        false,
    );
    assert_eq!(code_of(&req(&mut sim, a, unknown_list)), 700);
}

#[test]
fn unsupported_attribute_gets_750() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    let body = format!(
        r#"<WV-CSP-Message xmlns="http://www.wireless-village.org/CSP1.1"><Session><SessionDescriptor><SessionType>Inband</SessionType><SessionID>{sid}</SessionID></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>u1</TransactionID></TransactionDescriptor><TransactionContent xmlns="http://www.wireless-village.org/TRC1.1"><UpdatePresence-Request><PresenceSubList xmlns="http://www.wireless-village.org/PA1.1"><Hobbies><PresenceValue>chess</PresenceValue></Hobbies></PresenceSubList></UpdatePresence-Request></TransactionContent></Transaction></Session></WV-CSP-Message>"#
    );
    let r = sim
        .raw_bytes("application/vnd.wv.csp.xml", body.into_bytes())
        .unwrap();
    assert_eq!(code_of(sim::first(&r)), 750);
}

#[test]
fn blocked_users_are_never_asked_about_and_see_nothing() {
    use imps_engine::codec::common::EntityList;
    use imps_engine::codec::im::{AccessList, BlockLists};
    let block = |user: &str, add: bool| {
        let list = EntityList {
            user_id: vec![user.to_owned()],
            ..Default::default()
        };
        Primitive::BlockEntityRequest(Box::new(BlockLists {
            block_list: Some(AccessList {
                in_use: Some(true),
                add_list: add.then(|| list.clone()),
                remove_list: (!add).then_some(list),
                ..Default::default()
            }),
            ..Default::default()
        }))
    };
    let mut sim = new_sim();
    let (a, b) = alice_and_bob(&mut sim, Version::V1_2, Version::V1_2);
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, a, block("dave", true))), 200);
    take(&mut sim, d);
    assert_eq!(code_of(&req(&mut sim, d, subscribe(&[ALICE]))), 200);
    assert!(
        take(&mut sim, a).is_empty(),
        "dave's request never reaches alice"
    );
    assert!(notified(&mut sim, d).is_empty());

    // Blocking a watcher who is authorized stops its notifications; unblocking sends the
    // authorized values at once.
    req(&mut sim, b, subscribe(&[ALICE]));
    take(&mut sim, b);
    assert_eq!(code_of(&req(&mut sim, a, block(BOB, true))), 200);
    sim.advance(2_000);
    req(&mut sim, a, update(text("secret")));
    assert!(notified(&mut sim, b).is_empty());
    let get = Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
        user: vec![User::id(ALICE)],
        ..Default::default()
    }));
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, b, get) else {
        panic!()
    };
    assert!(gp.presence[0].presence_sub_list.is_empty());
    assert_eq!(code_of(&req(&mut sim, a, block(BOB, false))), 200);
    let got = notified(&mut sim, b);
    assert_eq!(got.len(), 1);
    let l = sub_list(&got[0]);
    assert_eq!(
        l.status_text.unwrap().presence_value.as_deref(),
        Some("secret")
    );
    assert!(l.status_mood.is_none());
}

#[test]
fn a_login_reply_says_that_something_waits_and_a_repeated_ack_is_quiet() {
    use imps_engine::codec::access::LoginRequest;
    use imps_engine::codec::common::Status;
    use imps_engine::codec::{Message, SessionType, TransactionMode};
    let mut sim = new_sim();
    let c = login(&mut sim, "carol", Version::V1_2);
    req(&mut sim, c, subscribe(&[ALICE]));
    // alice was offline: the authorization request waits for her 1.3 login.
    let login = Primitive::LoginRequest(Box::new(LoginRequest {
        user_id: Some("alice".into()),
        password: Some("pw".into()),
        ..Default::default()
    }));
    let r = sim
        .raw(&Sim::request(Version::V1_3, None, Some("l1"), login))
        .unwrap();
    assert_eq!(r.poll(), Some(true), "Poll=T in the login reply");
    let Primitive::LoginResponse(lr) = sim::first(&r) else {
        panic!()
    };
    let sid = lr.session_id.clone().unwrap();
    let poll = Primitive::PollingRequest(Box::default());
    let r = sim
        .raw(&Sim::request(Version::V1_3, Some(&sid), Some("p1"), poll))
        .unwrap();
    let t = &r.session.transactions[0];
    let d = t.descriptor.as_ref().unwrap();
    assert_eq!(d.mode, Some(TransactionMode::Request));
    assert!(matches!(
        t.content.as_ref().unwrap().primitives[0],
        Primitive::NotificationRequest(_)
    ));
    let ack = Message::single(
        Version::V1_3,
        SessionType::Inband,
        Some(sid.clone()),
        TransactionMode::Response,
        d.transaction_id.clone(),
        Primitive::Status(Box::new(Status::new(200, ""))),
    );
    assert!(sim.raw(&ack).is_none(), "acknowledged: nothing more to say");
    assert!(
        sim.raw(&ack).is_none(),
        "a repeated acknowledgement is no error"
    );
}
