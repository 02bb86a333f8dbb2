//! Invitations and shared content (CSP-REFERENCE §2.2) on virtual time: each invitation
//! type end to end, answers relayed to the inviter, cancellation, 423 for unknown and
//! expired invitations, blocked inviters, the rate limit, shares to a group, and pending
//! invitations and answers surviving a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::im::recipients;
use imps_engine::client::invite::{self, Offer};
use imps_engine::codec::common::{
    EntityList, Group, GroupProperties, Property, PropertyName, Recipient, ScreenName, User,
};
use imps_engine::codec::fundamental::{InviteRequest, InviteType};
use imps_engine::codec::group::{CreateGroupRequest, JoinGroupRequest};
use imps_engine::codec::im::{AccessList, BlockLists};
use imps_engine::codec::presence::{GetPresenceRequest, UpdatePresenceRequest};
use imps_engine::codec::presence_attrs::{OnlineStatus, PresenceSubList, StatusText};
use imps_engine::codec::{Primitive, Version};
use imps_engine::server::Config;
use imps_engine::store::{Store, Table};
use sim::{Sim, code_of, login, req, take, test_config};

const G: &str = "wv:alice/club@example.org";
const ALICE: &str = "wv:alice@example.org";
const BOB: &str = "wv:bob@example.org";
const CAROL: &str = "wv:carol@example.org";

fn new_sim_with(config: Config) -> Sim {
    let mut sim = Sim::new(config, 71);
    for u in ["alice", "bob", "carol", "dave"] {
        sim.provision(u, "pw");
    }
    sim
}

fn new_sim() -> Sim {
    new_sim_with(test_config())
}

fn create_group(restricted: bool) -> Primitive {
    let prop = |n: &str, v: &str| Property {
        name: Some(PropertyName::parse(n)),
        value: Some(v.into()),
        ..Default::default()
    };
    let access = if restricted { "Restricted" } else { "Open" };
    Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(G.into()),
        group_properties: Some(GroupProperties {
            property: vec![prop("Name", "Book club"), prop("AccessType", access)],
            ..Default::default()
        }),
        join_group: Some(true),
        screen_name: Some(ScreenName {
            sname: Some("Al".into()),
            group_id: Some(G.into()),
            ..Default::default()
        }),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

fn join(name: &str) -> Primitive {
    Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(G.into()),
        screen_name: Some(ScreenName {
            sname: Some(name.into()),
            group_id: Some(G.into()),
            ..Default::default()
        }),
        joined_request: Some(false),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

/// The code of a JoinGroup answer (a JoinGroup-Response without a Result is 200).
fn join_code(p: &Primitive) -> u32 {
    match p {
        Primitive::JoinGroupResponse(_) => 200,
        other => code_of(other),
    }
}

fn to_users(users: &[&str]) -> Recipient {
    recipients(users, &[], &[])
}

fn simple(id: &str, kind: InviteType, users: &[&str], offer: Offer) -> Primitive {
    invite::invite(Version::V1_2, ALICE, id, kind, to_users(users), offer)
}

/// The InviteUser-Requests client `c` received since last asked.
fn invitations(sim: &mut Sim, c: usize) -> Vec<InviteRequest> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::InviteUserRequest(r) => Some(*r),
            _ => None,
        })
        .collect()
}

fn answer(inv: &InviteRequest, me: &str, accept: bool, note: &str) -> Primitive {
    invite::answer(Version::V1_2, me, inv, accept, Some(note), None)
}

#[test]
fn group_invitation_is_delivered_answered_and_admits_to_a_restricted_group() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, a, create_group(true))), 200);
    assert_eq!(join_code(&req(&mut sim, b, join("Bobby"))), 810);

    let offer = Offer {
        group_id: Some(G.into()),
        note: Some("Come to the club".into()),
        validity: Some(600),
        screen_name: Some(("Al".into(), G.into())),
        ..Default::default()
    };
    let r = req(
        &mut sim,
        a,
        simple("inv-1", InviteType::Group, &[BOB], offer),
    );
    assert_eq!(code_of(&r), 200);
    let got = invitations(&mut sim, b);
    assert_eq!(got.len(), 1, "one InviteUser-Request");
    let inv = &got[0];
    assert_eq!(inv.invite_id.as_deref(), Some("inv-1"));
    assert_eq!(inv.invite_type, Some(InviteType::Group));
    assert_eq!(inv.group_id.as_deref(), Some(G));
    assert_eq!(inv.invite_note.as_deref(), Some("Come to the club"));
    assert!(inv.validity.is_some_and(|v| v > 0 && v <= 600));
    // The inviter appears by the screen name it gave.
    let sender = inv.sender.as_ref().unwrap();
    let sn = sender.group.as_ref().unwrap().screen_name.as_ref().unwrap();
    assert_eq!(sn.sname.as_deref(), Some("Al"));

    assert_eq!(
        code_of(&req(&mut sim, b, answer(inv, BOB, true, "On my way"))),
        200
    );
    let relayed: Vec<_> = take(&mut sim, a)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::InviteResponse(r) => Some(*r),
            _ => None,
        })
        .collect();
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].acceptance, Some(true));
    assert_eq!(relayed[0].response_note.as_deref(), Some("On my way"));
    assert_eq!(
        relayed[0]
            .sender
            .as_ref()
            .unwrap()
            .user
            .as_ref()
            .unwrap()
            .user_id
            .as_deref(),
        Some(BOB)
    );
    // Now a member: joining works.
    assert_eq!(join_code(&req(&mut sim, b, join("Bobby"))), 200);
    // Answered: the invitation is gone, a second answer gets 423.
    assert_eq!(
        code_of(&req(&mut sim, b, answer(inv, BOB, true, "again"))),
        423
    );
    assert!(sim.server.open_invitations(ALICE).is_empty());
}

#[test]
fn group_invitations_need_a_group_the_inviter_may_invite_to() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, a, create_group(true))), 200);
    let no_group = simple("x", InviteType::Group, &[CAROL], Offer::default());
    assert_eq!(code_of(&req(&mut sim, a, no_group)), 402);
    let unknown = Offer {
        group_id: Some("wv:alice/none@example.org".into()),
        ..Default::default()
    };
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            simple("x", InviteType::Group, &[CAROL], unknown)
        )),
        800
    );
    // Bob is no member of the restricted group: he cannot invite to it.
    let offer = Offer {
        group_id: Some(G.into()),
        ..Default::default()
    };
    let by_bob = invite::invite(
        Version::V1_2,
        BOB,
        "y",
        InviteType::Group,
        to_users(&[CAROL]),
        offer,
    );
    assert_eq!(code_of(&req(&mut sim, b, by_bob)), 810);
    assert!(invitations(&mut sim, c).is_empty());
    // A shared-content invitation needs URLs.
    let sc = simple("z", InviteType::SharedContent, &[CAROL], Offer::default());
    assert_eq!(code_of(&req(&mut sim, a, sc)), 402);
}

#[test]
fn presence_invitation_accepted_authorizes_what_was_offered() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let mine = PresenceSubList {
        status_text: Some(StatusText::with_value("reading")),
        ..Default::default()
    };
    req(
        &mut sim,
        a,
        Primitive::UpdatePresenceRequest(Box::new(UpdatePresenceRequest {
            presence_sub_list: Some(mine),
            ..Default::default()
        })),
    );
    let get = || {
        Primitive::GetPresenceRequest(Box::new(GetPresenceRequest {
            user: vec![User::id(ALICE)],
            ..Default::default()
        }))
    };
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, b, get()) else {
        panic!()
    };
    assert!(gp.presence[0].presence_sub_list.is_empty(), "nothing yet");

    let offered = PresenceSubList {
        status_text: Some(StatusText::default()),
        online_status: vec![OnlineStatus::default()],
        ..Default::default()
    };
    let offer = Offer {
        presence: Some(offered),
        ..Default::default()
    };
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            simple("p1", InviteType::Presence, &[BOB], offer)
        )),
        200
    );
    let got = invitations(&mut sim, b);
    let l = got[0].presence_sub_list.as_ref().unwrap();
    assert!(l.status_text.is_some() && !l.online_status.is_empty());
    assert_eq!(
        code_of(&req(&mut sim, b, answer(&got[0], BOB, true, "thanks"))),
        200
    );
    let Primitive::GetPresenceResponse(gp) = req(&mut sim, b, get()) else {
        panic!()
    };
    let seen = &gp.presence[0].presence_sub_list[0];
    assert_eq!(
        seen.status_text
            .as_ref()
            .and_then(|t| t.presence_value.as_deref()),
        Some("reading")
    );
}

#[test]
fn declined_im_invitation_is_relayed_and_grants_nothing() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let offer = Offer {
        note: Some("chat?".into()),
        ..Default::default()
    };
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            simple("im1", InviteType::Im, &[BOB], offer)
        )),
        200
    );
    let got = invitations(&mut sim, b);
    assert_eq!(got[0].invite_type, Some(InviteType::Im));
    assert_eq!(
        code_of(&req(&mut sim, b, answer(&got[0], BOB, false, "busy"))),
        200
    );
    let relayed = take(&mut sim, a);
    assert!(relayed.iter().any(|p| matches!(p,
        Primitive::InviteResponse(r) if r.acceptance == Some(false)
            && r.response_note.as_deref() == Some("busy"))));
}

#[test]
fn cancel_reaches_invitees_and_later_answers_get_423() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let r = req(
        &mut sim,
        a,
        simple("c1", InviteType::Im, &[BOB, CAROL], Offer::default()),
    );
    assert_eq!(code_of(&r), 200);
    let to_bob = invitations(&mut sim, b).remove(0);
    let to_carol = invitations(&mut sim, c).remove(0);
    // Cancel for Bob only.
    let only_bob = invite::cancel(
        Version::V1_2,
        ALICE,
        "c1",
        Some(to_users(&[BOB])),
        Some("sorry"),
    );
    assert_eq!(code_of(&req(&mut sim, a, only_bob)), 200);
    let cancels = take(&mut sim, b);
    assert!(cancels.iter().any(|p| matches!(p,
        Primitive::CancelInviteUserRequest(r) if r.invite_id.as_deref() == Some("c1")
            && r.invite_note.as_deref() == Some("sorry"))));
    assert!(take(&mut sim, c).is_empty(), "Carol's invitation stays");
    assert_eq!(
        code_of(&req(&mut sim, b, answer(&to_bob, BOB, true, "x"))),
        423
    );
    assert_eq!(
        code_of(&req(&mut sim, c, answer(&to_carol, CAROL, true, "x"))),
        200
    );
    // Unknown ids.
    let unknown = invite::cancel(Version::V1_2, ALICE, "nope", None, None);
    assert_eq!(code_of(&req(&mut sim, a, unknown)), 423);
    let mut fake = to_carol.clone();
    fake.invite_id = Some("nope".into());
    assert_eq!(
        code_of(&req(&mut sim, c, answer(&fake, CAROL, true, "x"))),
        423
    );
}

#[test]
fn expired_invitations_cannot_be_answered() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let offer = Offer {
        validity: Some(60),
        ..Default::default()
    };
    req(&mut sim, a, simple("e1", InviteType::Im, &[BOB], offer));
    let inv = invitations(&mut sim, b).remove(0);
    assert_eq!(sim.server.open_invitations(BOB).len(), 1);
    sim.advance(61_000);
    assert_eq!(
        code_of(&req(&mut sim, b, answer(&inv, BOB, true, "late"))),
        423
    );
    assert!(sim.server.open_invitations(ALICE).is_empty());
    assert!(
        !sim.store
            .load()
            .unwrap()
            .iter()
            .any(|r| r.table == Table::Invitations),
        "the expired invitation left the store"
    );
}

#[test]
fn invitations_from_blocked_users_are_not_delivered() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
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
    assert_eq!(code_of(&req(&mut sim, b, block)), 200);
    let r = req(
        &mut sim,
        a,
        simple("b1", InviteType::Im, &[BOB, CAROL], Offer::default()),
    );
    assert_eq!(code_of(&r), 201, "Bob refused with 532 in the details");
    let Primitive::Status(st) = r else { panic!() };
    let d = &st.result.unwrap().detailed_result;
    assert_eq!(d[0].code, Some(532));
    assert!(invitations(&mut sim, b).is_empty());
    assert_eq!(invitations(&mut sim, c).len(), 1);
    // Only Bob: the whole request gets 532, nothing is kept.
    let r = req(
        &mut sim,
        a,
        simple("b2", InviteType::Im, &[BOB], Offer::default()),
    );
    assert_eq!(code_of(&r), 532);
    assert!(invitations(&mut sim, b).is_empty());
}

#[test]
fn invitations_are_rate_limited_per_sender() {
    let mut config = test_config();
    config.invite.per_minute = 3;
    let mut sim = new_sim_with(config);
    let a = login(&mut sim, "alice", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    for i in 0..3 {
        let r = req(
            &mut sim,
            a,
            simple(&format!("r{i}"), InviteType::Im, &[BOB], Offer::default()),
        );
        assert_eq!(code_of(&r), 200);
    }
    let r = req(
        &mut sim,
        a,
        simple("r3", InviteType::Im, &[BOB], Offer::default()),
    );
    assert_eq!(code_of(&r), 503);
    // Others are not limited by Alice's rate.
    let by_carol = invite::invite(
        Version::V1_2,
        CAROL,
        "c",
        InviteType::Im,
        to_users(&[BOB]),
        Offer::default(),
    );
    assert_eq!(code_of(&req(&mut sim, c, by_carol)), 200);
    assert_eq!(invitations(&mut sim, b).len(), 4);
    sim.advance(60_000);
    let r = req(
        &mut sim,
        a,
        simple("r4", InviteType::Im, &[BOB], Offer::default()),
    );
    assert_eq!(code_of(&r), 200);
}

#[test]
fn shared_content_to_a_group_reaches_joined_members_and_stays_open_until_cancelled() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_3);
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, a, create_group(false))), 200);
    assert_eq!(join_code(&req(&mut sim, b, join("Bobby"))), 200);
    assert_eq!(join_code(&req(&mut sim, c, join("Caz"))), 200);
    take(&mut sim, a);
    let to_group = Recipient {
        group: vec![Group {
            group_id: Some(G.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let share = invite::share(
        Version::V1_2,
        ALICE,
        "s1",
        to_group,
        &["http://example.org/photo.jpg"],
        Some("our trip"),
    );
    assert_eq!(code_of(&req(&mut sim, a, share)), 200);
    for x in [b, c] {
        let got = invitations(&mut sim, x);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].invite_type, Some(InviteType::SharedContent));
        assert_eq!(
            got[0].url_list.as_ref().unwrap().url,
            vec!["http://example.org/photo.jpg".to_owned()]
        );
        // The group hides ids: the inviter appears by its screen name.
        let sender = got[0].sender.as_ref().unwrap();
        assert!(sender.user.is_none());
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
            Some("Al")
        );
    }
    assert!(
        invitations(&mut sim, d).is_empty(),
        "not joined: not reached"
    );

    // Carol (1.3) accepts; the share stays open.
    let to_carol = sim.server.open_invitations(CAROL);
    assert_eq!(to_carol.len(), 1);
    let inv = InviteRequest {
        invite_id: Some("s1".into()),
        ..Default::default()
    };
    let yes = invite::answer(Version::V1_3, CAROL, &inv, true, Some("nice"), None);
    assert_eq!(code_of(&req(&mut sim, c, yes)), 200);
    let open = sim.server.open_invitations(ALICE);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].invite_type, "SC");
    assert!(open[0].invitees.contains(&(CAROL.to_owned(), "accepted")));
    assert!(open[0].invitees.contains(&(BOB.to_owned(), "pending")));
    // The answer names Carol by her screen name (hidden id).
    let answers = take(&mut sim, a);
    assert!(
        answers.iter().any(|p| matches!(p,
        Primitive::InviteResponse(r) if r.sender.as_ref().and_then(|s| s.group.as_ref())
            .and_then(|g| g.screen_name.as_ref()).and_then(|n| n.sname.as_deref()) == Some("Caz")))
    );

    let cancel = invite::cancel(Version::V1_2, ALICE, "s1", None, Some("removed"));
    assert_eq!(code_of(&req(&mut sim, a, cancel)), 200);
    for x in [b, c] {
        let got = take(&mut sim, x);
        assert!(got.iter().any(|p| matches!(p,
            Primitive::CancelInviteUserRequest(r) if r.url_list.as_ref().is_some_and(|l| l.url.len() == 1))));
    }
    assert!(sim.server.open_invitations(ALICE).is_empty());
}

#[test]
fn pending_invitations_and_answers_survive_a_restart() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let offer = Offer {
        note: Some("later".into()),
        ..Default::default()
    };
    // Bob is offline.
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            simple("d1", InviteType::Im, &[BOB], offer)
        )),
        200
    );
    sim.restart();
    let b = login(&mut sim, "bob", Version::V1_2);
    let got = invitations(&mut sim, b);
    assert_eq!(got.len(), 1, "delivered at login after the restart");
    assert_eq!(got[0].invite_note.as_deref(), Some("later"));
    // Alice has no session after the restart: the answer waits for her.
    assert_eq!(
        code_of(&req(&mut sim, b, answer(&got[0], BOB, true, "ok"))),
        200
    );
    sim.restart();
    let a2 = login(&mut sim, "alice", Version::V1_2);
    let _ = a;
    let relayed = take(&mut sim, a2);
    assert!(relayed.iter().any(|p| matches!(p,
        Primitive::InviteResponse(r) if r.acceptance == Some(true)
            && r.invite_id.as_deref() == Some("d1"))));
    // Delivered: nothing left to keep.
    assert!(sim.server.open_invitations(ALICE).is_empty());
    assert!(
        !sim.store
            .load()
            .unwrap()
            .iter()
            .any(|r| r.table == Table::Invitations)
    );
}

#[test]
fn csp13_invitations_carry_the_recipient_and_the_answer_names_the_inviter() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_3);
    let b = login(&mut sim, "bob", Version::V1_3);
    let r = invite::invite(
        Version::V1_3,
        ALICE,
        "same",
        InviteType::Im,
        to_users(&[BOB]),
        Offer::default(),
    );
    assert_eq!(code_of(&req(&mut sim, a, r)), 200);
    // Carol uses the same InviteID for her own invitation to Bob.
    let c = login(&mut sim, "carol", Version::V1_3);
    let r = invite::invite(
        Version::V1_3,
        CAROL,
        "same",
        InviteType::Im,
        to_users(&[BOB]),
        Offer::default(),
    );
    assert_eq!(code_of(&req(&mut sim, c, r)), 200);
    let got = invitations(&mut sim, b);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|i| i.recipient.is_some()));
    let from_carol = got
        .iter()
        .find(|i| {
            i.sender
                .as_ref()
                .unwrap()
                .user
                .as_ref()
                .unwrap()
                .user_id
                .as_deref()
                == Some(CAROL)
        })
        .unwrap();
    let yes = invite::answer(Version::V1_3, BOB, from_carol, true, Some("hi"), None);
    assert_eq!(code_of(&req(&mut sim, b, yes)), 200);
    let to_carol = take(&mut sim, c);
    assert!(to_carol.iter().any(|p| matches!(p,
        Primitive::InviteResponse(r) if r.invite_note.as_deref() == Some("hi")
            && r.response_note.is_none())));
    assert!(
        !take(&mut sim, a)
            .iter()
            .any(|p| matches!(p, Primitive::InviteResponse(_))),
        "Alice's invitation is still open"
    );
    assert_eq!(sim.server.open_invitations(ALICE).len(), 1);
}
