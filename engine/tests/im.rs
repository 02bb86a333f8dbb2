//! Instant messaging (CSP-REFERENCE §2.5) on virtual time: push and notify/pull delivery,
//! delivery reports, store-and-forward across a restart, reject, forward, expiry, block
//! lists, contact-list recipients, several sessions, limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{ClientConfig, Command, LoginScheme};
use imps_engine::codec::capability::DeliveryMethod;
use imps_engine::codec::common::{EntityList, NickList, Recipient, User};
use imps_engine::codec::im::{
    AccessList, BlockLists, ForwardMessageRequest, MessageInfo, MessageRef, RejectMessageRequest,
    SendMessageRequest, SetDeliveryMethodRequest,
};
use imps_engine::codec::presence::CreateListRequest;
use imps_engine::codec::{Primitive, Version};
use sim::{Sim, code_of, login, login_with, req, take, test_config};

const BOB: &str = "wv:bob@example.org";
const CAROL: &str = "wv:carol@example.org";

fn new_sim() -> Sim {
    let mut sim = Sim::new(test_config(), 51);
    for u in ["alice", "bob", "carol"] {
        sim.provision(u, "pw");
    }
    sim
}

/// The texts of the NewMessages client `c` received.
fn texts(sim: &mut Sim, c: usize) -> Vec<String> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::NewMessage(m) => m.content_data,
            _ => None,
        })
        .collect()
}

fn to(users: &[&str]) -> Recipient {
    Recipient {
        user: users.iter().map(|u| User::id(*u)).collect(),
        ..Default::default()
    }
}

fn send_to(recipient: Recipient, text: &str, report: bool, validity: Option<u32>) -> Primitive {
    Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(report),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(recipient),
            validity,
            ..Default::default()
        }),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

fn send(users: &[&str], text: &str, report: bool) -> Primitive {
    send_to(to(users), text, report, None)
}

fn message_id(p: &Primitive) -> String {
    match p {
        Primitive::SendMessageResponse(r) => r.message_id.clone().expect("a MessageID"),
        other => panic!("{other:?}"),
    }
}

fn reports(sim: &mut Sim, c: usize) -> Vec<(String, u32)> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::DeliveryReportRequest(r) => Some((
                r.message_info.unwrap().message_id.unwrap(),
                r.result.unwrap().code(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn push_delivery_with_a_delivery_report_across_versions() {
    for (va, vb) in [
        (Version::V1_2, Version::V1_2),
        (Version::V1_1, Version::V1_3),
        (Version::V1_3, Version::V1_1),
    ] {
        let mut sim = new_sim();
        let a = login(&mut sim, "alice", va);
        let b = login(&mut sim, "bob", vb);
        let text = "héllo <bob> & \"friends\"\r\n  ";
        let r = req(&mut sim, a, send(&[BOB], text, true));
        assert_eq!(code_of(&r), 200, "{va} {vb}");
        let id = message_id(&r);
        let got = take(&mut sim, b);
        let [Primitive::NewMessage(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(
            m.content_data.as_deref(),
            Some(text),
            "relayed byte for byte"
        );
        let info = m.message_info.as_ref().unwrap();
        assert_eq!(info.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(
            info.sender
                .as_ref()
                .unwrap()
                .user
                .as_ref()
                .unwrap()
                .user_id
                .as_deref(),
            Some("wv:alice@example.org")
        );
        assert!(info.date_time.as_deref().unwrap().ends_with('Z'));
        // bob's client acknowledged with MessageDelivered: alice hears of it.
        assert_eq!(reports(&mut sim, a), vec![(id, 200)]);
        assert_eq!(
            sim.server
                .session_info(sim.clients[b].session_id().unwrap())
                .unwrap()
                .queued,
            0
        );
    }
}

#[test]
fn notify_then_get_then_delivered() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let notify = Primitive::SetDeliveryMethodRequest(Box::new(SetDeliveryMethodRequest {
        delivery_method: Some(DeliveryMethod::Notify),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, notify)), 200);
    let id = message_id(&req(&mut sim, a, send(&[BOB], "pull me", true)));
    let got = take(&mut sim, b);
    assert!(
        matches!(got.as_slice(), [Primitive::MessageNotification(_)]),
        "{got:?}"
    );
    assert!(reports(&mut sim, a).is_empty(), "not delivered yet");
    let list = req(
        &mut sim,
        b,
        Primitive::GetMessageListRequest(Box::default()),
    );
    let Primitive::GetMessageListResponse(list) = list else {
        panic!()
    };
    assert_eq!(list.message_info.len(), 1);
    let get = Primitive::GetMessageRequest(Box::new(MessageRef {
        message_id: Some(id.clone()),
        ..Default::default()
    }));
    let Primitive::GetMessageResponse(m) = req(&mut sim, b, get.clone()) else {
        panic!()
    };
    assert_eq!(m.content_data.as_deref(), Some("pull me"));
    let done = Primitive::MessageDelivered(Box::new(MessageRef {
        message_id: Some(id.clone()),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, done.clone())), 200);
    assert_eq!(reports(&mut sim, a), vec![(id, 200)]);
    assert_eq!(code_of(&req(&mut sim, b, get)), 426);
    assert_eq!(code_of(&req(&mut sim, b, done)), 426);
}

#[test]
fn offline_messages_survive_a_restart_and_arrive_once_in_order() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    for i in 0..5 {
        let r = req(&mut sim, a, send(&[BOB], &format!("msg {i}"), false));
        assert_eq!(code_of(&r), 200);
    }
    sim.restart();
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(
        texts(&mut sim, b),
        (0..5).map(|i| format!("msg {i}")).collect::<Vec<_>>()
    );
    sim.command(b, Command::Logout);
    sim.restart();
    let b = login(&mut sim, "bob", Version::V1_2);
    assert!(
        texts(&mut sim, b).is_empty(),
        "acknowledged messages are gone"
    );
}

#[test]
fn an_unacknowledged_message_comes_again_with_the_same_id() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    sim.frozen[b] = true; // bob's client hears no wake-up and sends nothing
    let id = message_id(&req(&mut sim, a, send(&[BOB], "again", false)));
    sim.restart();
    let b2 = login(&mut sim, "bob", Version::V1_2);
    let got = take(&mut sim, b2);
    let [Primitive::NewMessage(m)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(
        m.message_info.as_ref().unwrap().message_id.as_deref(),
        Some(id.as_str())
    );
}

#[test]
fn reject_and_expiry_report_to_the_sender() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let id = message_id(&req(
        &mut sim,
        a,
        send_to(to(&[BOB]), "short-lived", true, Some(10)),
    ));
    let keep = message_id(&req(&mut sim, a, send(&[BOB], "to reject", true)));
    sim.advance(11_000);
    assert_eq!(reports(&mut sim, a), vec![(id, 542)]);
    let mut cfg = ClientConfig::new(Version::V1_2, "bob", "pw", LoginScheme::Password);
    cfg.capabilities.initial_delivery_method = Some(DeliveryMethod::Notify);
    let b = login_with(&mut sim, cfg);
    let list = req(
        &mut sim,
        b,
        Primitive::GetMessageListRequest(Box::default()),
    );
    let Primitive::GetMessageListResponse(list) = list else {
        panic!()
    };
    assert_eq!(list.message_info.len(), 1, "the expired message is gone");
    let reject = Primitive::RejectMessageRequest(Box::new(RejectMessageRequest {
        message_id: vec![keep.clone(), "nope".into()],
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, reject)), 201);
    assert_eq!(reports(&mut sim, a), vec![(keep, 538)]);
}

#[test]
fn blocked_senders_unknown_users_and_contact_list_recipients() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let create = Primitive::CreateListRequest(Box::new(CreateListRequest {
        contact_list: Some("wv:alice/friends@example.org".into()),
        nick_list: Some(NickList {
            user_id: vec![BOB.into(), CAROL.into()],
            ..Default::default()
        }),
        ..Default::default()
    }));
    req(&mut sim, a, create);
    let to_list = Recipient {
        contact_list: vec!["wv:alice/friends@example.org".into()],
        ..Default::default()
    };
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            send_to(to_list.clone(), "hi all", false, None)
        )),
        200
    );
    assert_eq!(texts(&mut sim, b), vec!["hi all"]);
    assert_eq!(texts(&mut sim, c), vec!["hi all"]);

    // carol blocks alice: 532 for carol, bob still gets it (201).
    let block = Primitive::BlockEntityRequest(Box::new(BlockLists {
        block_list: Some(AccessList {
            in_use: Some(true),
            add_list: Some(EntityList {
                user_id: vec!["wv:alice@example.org".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    req(&mut sim, c, block);
    let r = req(&mut sim, a, send_to(to_list, "hi again", false, None));
    assert_eq!(code_of(&r), 201);
    let Primitive::SendMessageResponse(r) = r else {
        panic!()
    };
    let d = &r.result.unwrap().detailed_result;
    assert_eq!(d[0].code, Some(532));
    assert_eq!(d[0].user_id, vec![CAROL.to_owned()]);
    assert_eq!(texts(&mut sim, b), vec!["hi again"]);
    assert!(texts(&mut sim, c).is_empty());

    assert_eq!(
        code_of(&req(&mut sim, a, send(&["nobody"], "x", false))),
        531
    );
    assert_eq!(
        code_of(&req(&mut sim, a, send(&["nobody", "ghost"], "x", false))),
        900
    );
    let big = "x".repeat(70_000);
    assert_eq!(code_of(&req(&mut sim, a, send(&[BOB], &big, false))), 400);
    let no_info = Primitive::SendMessageRequest(Box::default());
    assert_eq!(code_of(&req(&mut sim, a, no_info)), 402);
}

#[test]
fn long_content_is_notified_instead_of_pushed() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let limit = Primitive::SetDeliveryMethodRequest(Box::new(SetDeliveryMethodRequest {
        delivery_method: Some(DeliveryMethod::Push),
        accepted_content_length: Some(10),
        ..Default::default()
    }));
    req(&mut sim, b, limit);
    req(&mut sim, a, send(&[BOB], "short", false));
    req(
        &mut sim,
        a,
        send(&[BOB], "this one is too long to push", false),
    );
    let got = take(&mut sim, b);
    assert!(
        matches!(
            got.as_slice(),
            [Primitive::NewMessage(_), Primitive::MessageNotification(_)]
        ),
        "{got:?}"
    );
}

#[test]
fn several_sessions_all_hear_and_the_first_acknowledgement_delivers() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b1 = login(&mut sim, "bob", Version::V1_2);
    let b2 = login(&mut sim, "bob", Version::V1_3);
    sim.frozen[b2] = true;
    let id = message_id(&req(&mut sim, a, send(&[BOB], "both", true)));
    assert_eq!(texts(&mut sim, b1), vec!["both"]);
    // b1 acknowledged: the copy waiting for b2 is withdrawn.
    let sid2 = sim.clients[b2].session_id().unwrap().to_owned();
    assert_eq!(sim.server.session_info(&sid2).unwrap().queued, 0);
    assert_eq!(reports(&mut sim, a), vec![(id, 200)]);
}

#[test]
fn forward_sends_a_copy_with_a_new_id() {
    for v in [Version::V1_2, Version::V1_3] {
        let mut sim = new_sim();
        let a = login(&mut sim, "alice", Version::V1_2);
        let b = login(&mut sim, "bob", v);
        let c = login(&mut sim, "carol", Version::V1_2);
        let notify = Primitive::SetDeliveryMethodRequest(Box::new(SetDeliveryMethodRequest {
            delivery_method: Some(DeliveryMethod::Notify),
            ..Default::default()
        }));
        req(&mut sim, b, notify);
        let id = message_id(&req(&mut sim, a, send(&[BOB], "pass it on", false)));
        take(&mut sim, b);
        let fwd = Primitive::ForwardMessageRequest(Box::new(ForwardMessageRequest {
            message_id: Some(id.clone()),
            recipient: Some(to(&[CAROL])),
            ..Default::default()
        }));
        let r = req(&mut sim, b, fwd);
        match (v, &r) {
            (Version::V1_3, Primitive::ForwardMessageResponse(m)) => {
                assert_ne!(m.message_id.as_deref(), Some(id.as_str()));
            }
            (Version::V1_2, p) => assert_eq!(code_of(p), 200),
            other => panic!("{other:?}"),
        }
        let got = take(&mut sim, c);
        let [Primitive::NewMessage(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.content_data.as_deref(), Some("pass it on"));
        let from = m.message_info.as_ref().unwrap().sender.as_ref().unwrap();
        assert_eq!(from.user.as_ref().unwrap().user_id.as_deref(), Some(BOB));
        let unknown = Primitive::ForwardMessageRequest(Box::new(ForwardMessageRequest {
            message_id: Some("nope".into()),
            recipient: Some(to(&[CAROL])),
            ..Default::default()
        }));
        assert_eq!(code_of(&req(&mut sim, b, unknown)), 426);
    }
}
