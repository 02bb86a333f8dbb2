//! Instant messaging over real HTTP against a spawned `imps serve`, driven by the engine's own
//! CSP client: push delivery with delivery reports, notify/pull (MessageNotification,
//! GetMessage, MessageDelivered), RejectMessage, ForwardMessage, contact-list recipients,
//! block and grant lists, unknown recipients. Users alice, bob and carol speak mixed CSP
//! versions.
//!
//! Clients are not woken (the host has no CIR channel yet): they learn of server-initiated
//! transactions by polling (`Command::Poll`) and from the Poll flag of the answers. The
//! client acknowledges every server-initiated transaction by itself (a `NewMessage` with
//! `MessageDelivered`). The server redelivers an unacknowledged transaction to a poll after
//! `redelivery_secs`, set to 1 here, so "nothing more arrives a little later" shows that
//! every acknowledgement was taken.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::ImpsServer;
use common::peer::Peer;
use imps_engine::client::{ClientConfig, ClientEvent, Command, LoginScheme};
use imps_engine::codec::capability::DeliveryMethod;
use imps_engine::codec::common::{DetailedResult, EntityList, NickList, Recipient, User};
use imps_engine::codec::im::{
    AccessList, BlockLists, DeliveryReportRequest, ForwardMessageRequest, MessageInfo, MessageRef,
    NewMessage, RejectMessageRequest, SendMessageRequest, SetDeliveryMethodRequest,
};
use imps_engine::codec::presence::CreateListRequest;
use imps_engine::codec::{Primitive, Version};

const ALICE: &str = "wv:alice@localhost";
const BOB: &str = "wv:bob@localhost";
const CAROL: &str = "wv:carol@localhost";
const FRIENDS: &str = "wv:alice/friends@localhost";

/// Content with non-ASCII text, every XML special, a CR LF pair, a tab, a CDATA terminator
/// and leading and trailing white space: relayed byte for byte or the test fails.
const TRICKY: &str = "  héllo <bob> & \"friends\" 'n' ]]> &amp; 😀 日本語\r\n\tend  ";

/// Seconds before the server delivers an unacknowledged transaction again to a poll.
const REDELIVERY_SECS: u64 = 1;

/// Starts `imps serve` with open registration and a short redelivery time.
fn start(dir: &tempfile::TempDir) -> ImpsServer {
    ImpsServer::start_open(
        dir.path(),
        &format!("[session]\nredelivery_secs = {REDELIVERY_SECS}\n"),
    )
}

/// The IM side of the shared test client.
impl<'a> Peer<'a> {
    /// Logs `name` in asking for notify delivery from the start (InitialDeliveryMethod N).
    fn login_notify(server: &'a ImpsServer, name: &str, version: Version) -> Self {
        let mut config = ClientConfig::new(version, name, "pw", LoginScheme::Password);
        config.capabilities.initial_delivery_method = Some(DeliveryMethod::Notify);
        Self::login_with(server, config)
    }

    /// Polls until `n` server-initiated primitives have arrived (at most 10 s) and takes
    /// them; one more poll gives a duplicate the chance to show.
    fn expect(&mut self, n: usize) -> Vec<Primitive> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pushed.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} ({}) waited in vain for {n} server requests, got {:?}",
                self.name,
                self.version,
                self.pushed
            );
            self.run(Command::Poll);
            if self.pushed.len() < n {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.run(Command::Poll);
        let got = std::mem::take(&mut self.pushed);
        assert_eq!(got.len(), n, "{} ({}): {got:?}", self.name, self.version);
        got
    }

    /// The one `NewMessage` expected next.
    fn new_message(&mut self) -> NewMessage {
        let got = self.expect(1);
        match got.into_iter().next().unwrap() {
            Primitive::NewMessage(m) => *m,
            other => panic!("{}: expected a NewMessage, got {other:?}", self.name),
        }
    }

    /// The one `MessageNotification` expected next, as its MessageInfo.
    fn notification(&mut self) -> MessageInfo {
        let got = self.expect(1);
        match got.into_iter().next().unwrap() {
            Primitive::MessageNotification(n) => n.message_info.unwrap(),
            other => panic!(
                "{}: expected a MessageNotification, got {other:?}",
                self.name
            ),
        }
    }

    /// The `n` delivery reports expected next.
    fn reports(&mut self, n: usize) -> Vec<DeliveryReportRequest> {
        self.expect(n)
            .into_iter()
            .map(|p| match p {
                Primitive::DeliveryReportRequest(r) => *r,
                other => panic!("{}: expected a DeliveryReport, got {other:?}", self.name),
            })
            .collect()
    }

    /// Asserts nothing waits for this client (call after [`quiet`]'s pause).
    fn nothing_more(&mut self) {
        self.run(Command::Poll);
        assert_eq!(
            self.pushed,
            vec![],
            "{} ({}): nothing more may arrive",
            self.name,
            self.version
        );
    }

    fn logout(mut self) {
        let events = self.run(Command::Logout);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ClientEvent::Disconnected { code: 200 })),
            "{}: {events:?}",
            self.name
        );
    }
}

/// Waits past the redelivery time, then asserts that no peer receives anything more: every
/// transaction delivered was acknowledged, and nothing is sent twice.
fn quiet(peers: &mut [&mut Peer]) {
    std::thread::sleep(Duration::from_millis(REDELIVERY_SECS * 1000 + 200));
    for p in peers.iter_mut() {
        p.nothing_more();
    }
}

fn users(ids: &[&str]) -> Recipient {
    Recipient {
        user: ids.iter().map(|u| User::id(*u)).collect(),
        ..Default::default()
    }
}

fn send_to(recipient: Recipient, text: &str, report: bool) -> Primitive {
    Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(report),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(recipient),
            ..Default::default()
        }),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

fn send(to: &[&str], text: &str, report: bool) -> Primitive {
    send_to(users(to), text, report)
}

/// Sends and expects 200 with a MessageID; returns the id.
fn sent(peer: &mut Peer, p: Primitive) -> String {
    let answer = peer.request(p);
    let Primitive::SendMessageResponse(r) = &answer else {
        panic!("{}: {answer:?}", peer.name)
    };
    assert_eq!(r.result.as_ref().map(|r| r.code()), Some(200), "{answer:?}");
    let id = r.message_id.clone().expect("a MessageID");
    assert!(!id.is_empty());
    id
}

/// Sends and returns (code, MessageID, DetailedResults).
fn send_outcome(peer: &mut Peer, p: Primitive) -> (u32, Option<String>, Vec<DetailedResult>) {
    let answer = peer.request(p);
    let Primitive::SendMessageResponse(r) = answer else {
        panic!("{}: {answer:?}", peer.name)
    };
    let result = r.result.unwrap();
    (result.code(), r.message_id, result.detailed_result)
}

/// The (code, user ids) of each DetailedResult.
fn details(d: &[DetailedResult]) -> Vec<(u32, Vec<String>)> {
    d.iter()
        .map(|d| (d.code.unwrap(), d.user_id.clone()))
        .collect()
}

fn message_ref(id: &str) -> MessageRef {
    MessageRef {
        message_id: Some(id.to_owned()),
        ..Default::default()
    }
}

fn get_message(id: &str) -> Primitive {
    Primitive::GetMessageRequest(Box::new(message_ref(id)))
}

fn delivered(id: &str) -> Primitive {
    Primitive::MessageDelivered(Box::new(message_ref(id)))
}

fn code(p: &Primitive) -> u32 {
    p.result_code()
        .unwrap_or_else(|| panic!("no Result in {p:?}"))
}

fn sender_of(info: &MessageInfo) -> &str {
    info.sender
        .as_ref()
        .and_then(|s| s.user.as_ref())
        .and_then(|u| u.user_id.as_deref())
        .unwrap_or("")
}

fn recipients_of(info: &MessageInfo) -> Vec<&str> {
    info.recipient
        .as_ref()
        .map(|r| r.user.iter().filter_map(|u| u.user_id.as_deref()).collect())
        .unwrap_or_default()
}

/// Asserts a report is about message `id` to `recipient`, with `code`.
fn assert_report(r: &DeliveryReportRequest, id: &str, recipient: &str, code: u32, v: Version) {
    assert_eq!(r.result.as_ref().map(|r| r.code()), Some(code), "{r:?}");
    let info = r.message_info.as_ref().unwrap();
    assert_eq!(info.message_id.as_deref(), Some(id), "{r:?}");
    assert_eq!(recipients_of(info), vec![recipient], "{r:?}");
    // DeliveryTime exists from 1.2 on and is given for a delivery only.
    let expect_time = code == 200 && v != Version::V1_1;
    assert_eq!(r.delivery_time.is_some(), expect_time, "{v}: {r:?}");
}

/// Asserts `m` is the message `id` from `from`, with `text`.
fn assert_message(m: &NewMessage, id: &str, from: &str, text: &str) {
    assert_eq!(
        m.content_data.as_deref(),
        Some(text),
        "relayed byte for byte"
    );
    let info = m.message_info.as_ref().unwrap();
    assert_eq!(info.message_id.as_deref(), Some(id));
    assert_eq!(sender_of(info), from);
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(info.content_size, Some(text.len() as u64));
    assert!(
        info.date_time.as_deref().is_some_and(|t| t.ends_with('Z')),
        "{info:?}"
    );
}

/// BlockEntity-Request changing the block and/or grant list: `(in_use, add, remove)` each.
type Change<'s> = (Option<bool>, &'s [&'s str], &'s [&'s str]);

fn access(version: Version, block: Option<Change>, grant: Option<Change>) -> Primitive {
    let v13 = version == Version::V1_3;
    let entities = |ids: &[&str]| {
        (!ids.is_empty()).then(|| EntityList {
            user_id: ids.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        })
    };
    let list = |c: &Option<Change>| {
        c.as_ref().map(|(in_use, add, remove)| AccessList {
            in_use: if v13 { None } else { *in_use },
            add_list: entities(add),
            remove_list: entities(remove),
            ..Default::default()
        })
    };
    Primitive::BlockEntityRequest(Box::new(BlockLists {
        block_list: list(&block),
        block_list_in_use: block.as_ref().and_then(|b| b.0).filter(|_| v13),
        grant_list: list(&grant),
        grant_list_in_use: grant.as_ref().and_then(|g| g.0).filter(|_| v13),
        ..Default::default()
    }))
}

#[test]
fn push_delivery_acknowledged_by_the_client_reports_200_to_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (va, vb) in [
        (Version::V1_2, Version::V1_2),
        (Version::V1_1, Version::V1_3),
        (Version::V1_3, Version::V1_1),
    ] {
        let mut alice = Peer::login(&server, "alice", va);
        let mut bob = Peer::login(&server, "bob", vb);
        let id = sent(&mut alice, send(&[BOB], TRICKY, true));

        // bob's client gets the NewMessage and answers it with MessageDelivered.
        let m = bob.new_message();
        assert_message(&m, &id, ALICE, TRICKY);
        assert_eq!(recipients_of(m.message_info.as_ref().unwrap()), vec![BOB]);
        assert_eq!(std::mem::take(&mut bob.acks), vec![delivered(&id)]);

        // alice asked for a report: 200, same MessageID; her client answers with a Status.
        let r = alice.reports(1);
        assert_report(&r[0], &id, BOB, 200, va);
        let acks = std::mem::take(&mut alice.acks);
        assert_eq!(acks.len(), 1, "{acks:?}");
        assert_eq!(code(&acks[0]), 200, "{acks:?}");

        // A second message without a report: bob gets it, alice hears nothing.
        let id2 = sent(&mut alice, send(&["Bob"], "no report, please", false));
        assert_ne!(id2, id, "every message has its own id");
        assert_message(&bob.new_message(), &id2, ALICE, "no report, please");

        // Both acknowledgements were taken: nothing comes again.
        quiet(&mut [&mut alice, &mut bob]);
        alice.logout();
        bob.logout();
    }
}

#[test]
fn notify_then_get_message_then_message_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    // bob asks for notify delivery in his capabilities (≤ 1.2 ClientCapability, 1.3 Login)
    // or later with SetDeliveryMethod.
    for (va, vb, by_capability) in [
        (Version::V1_2, Version::V1_2, true),
        (Version::V1_1, Version::V1_3, true),
        (Version::V1_3, Version::V1_1, false),
        (Version::V1_2, Version::V1_3, false),
    ] {
        let ctx = format!("alice {va}, bob {vb}, capability {by_capability}");
        let mut alice = Peer::login(&server, "alice", va);
        let mut bob = if by_capability {
            Peer::login_notify(&server, "bob", vb)
        } else {
            let mut bob = Peer::login(&server, "bob", vb);
            bob.ok(Primitive::SetDeliveryMethodRequest(Box::new(
                SetDeliveryMethodRequest {
                    delivery_method: Some(DeliveryMethod::Notify),
                    ..Default::default()
                },
            )));
            bob
        };
        let id = sent(&mut alice, send(&[BOB], TRICKY, true));

        // A notification with the envelope only.
        let info = bob.notification();
        assert_eq!(info.message_id.as_deref(), Some(id.as_str()), "{ctx}");
        assert_eq!(sender_of(&info), ALICE, "{ctx}");
        assert_eq!(info.content_size, Some(TRICKY.len() as u64), "{ctx}");
        alice.nothing_more(); // not delivered yet, so no report

        // GetMessageList shows it, GetMessage brings the content; it is still not delivered.
        let list = bob.request(Primitive::GetMessageListRequest(Box::default()));
        let Primitive::GetMessageListResponse(list) = &list else {
            panic!("{ctx}: {list:?}")
        };
        let listed: Vec<&str> = list
            .message_info
            .iter()
            .chain(list.message_info_list.iter().flat_map(|l| &l.message_info))
            .filter_map(|i| i.message_id.as_deref())
            .collect();
        assert_eq!(listed, vec![id.as_str()], "{ctx}");
        let answer = bob.request(get_message(&id));
        let Primitive::GetMessageResponse(m) = &answer else {
            panic!("{ctx}: {answer:?}")
        };
        assert_message(m, &id, ALICE, TRICKY);
        let again = bob.request(get_message(&id));
        assert_eq!(
            again, answer,
            "{ctx}: GetMessage may be repeated until delivered"
        );
        alice.nothing_more();

        // MessageDelivered (as a request): 200, and alice's report.
        assert_eq!(code(&bob.request(delivered(&id))), 200, "{ctx}");
        let r = alice.reports(1);
        assert_report(&r[0], &id, BOB, 200, va);

        // The message is gone.
        assert_eq!(code(&bob.request(get_message(&id))), 426, "{ctx}");
        assert_eq!(code(&bob.request(delivered(&id))), 426, "{ctx}");
        assert_eq!(code(&bob.request(get_message("no-such-id"))), 426, "{ctx}");

        quiet(&mut [&mut alice, &mut bob]);
        alice.logout();
        bob.logout();
    }
}

#[test]
fn reject_message_reports_538_to_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (va, vb) in [
        (Version::V1_3, Version::V1_2),
        (Version::V1_2, Version::V1_3),
        (Version::V1_1, Version::V1_1),
    ] {
        let ctx = format!("alice {va}, bob {vb}");
        let mut alice = Peer::login(&server, "alice", va);
        let mut bob = Peer::login_notify(&server, "bob", vb);
        let first = sent(&mut alice, send(&[BOB], "unwanted", true));
        let second = sent(&mut alice, send(&[BOB], "also unwanted", true));
        let notified: Vec<String> = bob
            .expect(2)
            .into_iter()
            .map(|p| match p {
                Primitive::MessageNotification(n) => n.message_info.unwrap().message_id.unwrap(),
                other => panic!("{ctx}: {other:?}"),
            })
            .collect();
        assert_eq!(notified, vec![first.clone(), second.clone()], "{ctx}");

        let reject = |ids: &[&str]| {
            Primitive::RejectMessageRequest(Box::new(RejectMessageRequest {
                message_id: ids.iter().map(|s| (*s).to_owned()).collect(),
                ..Default::default()
            }))
        };
        assert_eq!(code(&bob.request(reject(&[&first]))), 200, "{ctx}");
        let r = alice.reports(1);
        assert_report(&r[0], &first, BOB, 538, va);
        assert_eq!(code(&bob.request(get_message(&first))), 426, "{ctx}");

        // One known and one unknown id: partly done.
        let answer = bob.request(reject(&[&second, "no-such-id"]));
        assert_eq!(code(&answer), 201, "{ctx}: {answer:?}");
        // The unknown id is named as a MessageID (1.1 has no MessageID in DetailedResult).
        let Primitive::Status(st) = &answer else {
            panic!("{ctx}: {answer:?}")
        };
        let d = &st.result.as_ref().unwrap().detailed_result;
        assert_eq!(d.len(), 1, "{ctx}: {answer:?}");
        assert_eq!(d[0].code, Some(426), "{ctx}: {answer:?}");
        assert_eq!(
            d[0].user_id,
            Vec::<String>::new(),
            "{ctx}: not a user: {answer:?}"
        );
        let named: Vec<String> = if vb == Version::V1_1 {
            vec![]
        } else {
            vec!["no-such-id".into()]
        };
        assert_eq!(d[0].message_id, named, "{ctx}: {answer:?}");
        let r = alice.reports(1);
        assert_report(&r[0], &second, BOB, 538, va);
        // Nothing is left to reject.
        assert_eq!(code(&bob.request(reject(&[&second]))), 426, "{ctx}");

        quiet(&mut [&mut alice, &mut bob]);
        alice.logout();
        bob.logout();
    }
}

#[test]
fn forward_sends_a_copy_from_the_forwarder_with_a_new_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    for (vb, vc) in [
        (Version::V1_3, Version::V1_2),
        (Version::V1_2, Version::V1_1),
        (Version::V1_1, Version::V1_3),
    ] {
        let ctx = format!("bob {vb}, carol {vc}");
        let mut alice = Peer::login(&server, "alice", Version::V1_2);
        let mut bob = Peer::login_notify(&server, "bob", vb);
        let mut carol = Peer::login(&server, "carol", vc);
        let id = sent(&mut alice, send(&[BOB], TRICKY, true));
        assert_eq!(
            bob.notification().message_id.as_deref(),
            Some(id.as_str()),
            "{ctx}"
        );

        let answer = bob.request(Primitive::ForwardMessageRequest(Box::new(
            ForwardMessageRequest {
                message_id: Some(id.clone()),
                recipient: Some(users(&[CAROL])),
                ..Default::default()
            },
        )));
        let new_id = match (vb, &answer) {
            (Version::V1_3, Primitive::ForwardMessageResponse(r)) => {
                Some(r.message_id.clone().expect("the new MessageID"))
            }
            (Version::V1_1 | Version::V1_2, Primitive::Status(_)) => {
                assert_eq!(code(&answer), 200, "{ctx}");
                None
            }
            _ => panic!("{ctx}: {answer:?}"),
        };

        // carol receives the copy from bob, content unchanged, under a new id.
        let m = carol.new_message();
        let info = m.message_info.as_ref().unwrap();
        let carol_id = info.message_id.clone().unwrap();
        assert_ne!(carol_id, id, "{ctx}: a forward is a new message");
        if let Some(new_id) = &new_id {
            assert_eq!(&carol_id, new_id, "{ctx}");
        }
        assert_message(&m, &carol_id, BOB, TRICKY);
        assert_eq!(recipients_of(info), vec![CAROL], "{ctx}");

        // The original still waits for bob; forwarding is not delivering.
        alice.nothing_more();
        let answer = bob.request(get_message(&id));
        assert!(
            matches!(answer, Primitive::GetMessageResponse(_)),
            "{ctx}: {answer:?}"
        );
        assert_eq!(code(&bob.request(delivered(&id))), 200, "{ctx}");
        assert_report(&alice.reports(1)[0], &id, BOB, 200, Version::V1_2);

        // What is no longer in bob's mailbox cannot be forwarded.
        let answer = bob.request(Primitive::ForwardMessageRequest(Box::new(
            ForwardMessageRequest {
                message_id: Some(id.clone()),
                recipient: Some(users(&[CAROL])),
                ..Default::default()
            },
        )));
        assert_eq!(code(&answer), 426, "{ctx}");

        quiet(&mut [&mut alice, &mut bob, &mut carol]);
        alice.logout();
        bob.logout();
        carol.logout();
    }
}

#[test]
fn a_message_to_a_contact_list_reaches_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_3);
    let mut bob = Peer::login(&server, "bob", Version::V1_1);
    let mut carol = Peer::login(&server, "carol", Version::V1_2);
    alice.ok(Primitive::CreateListRequest(Box::new(CreateListRequest {
        contact_list: Some(FRIENDS.into()),
        nick_list: Some(NickList {
            user_id: vec![BOB.into(), CAROL.into()],
            ..Default::default()
        }),
        ..Default::default()
    })));
    let to_list = Recipient {
        contact_list: vec![FRIENDS.into()],
        ..Default::default()
    };
    let id = sent(&mut alice, send_to(to_list.clone(), TRICKY, true));
    let to_bob = bob.new_message();
    let to_carol = carol.new_message();
    assert_message(&to_bob, &id, ALICE, TRICKY);
    assert_message(&to_carol, &id, ALICE, TRICKY);

    // One report per member, both delivered.
    let mut reports = alice.reports(2);
    reports.sort_by_key(|r| recipients_of(r.message_info.as_ref().unwrap())[0].to_owned());
    assert_report(&reports[0], &id, BOB, 200, Version::V1_3);
    assert_report(&reports[1], &id, CAROL, 200, Version::V1_3);

    // A user named both directly and through the list gets the message once.
    let mut both = to_list;
    both.user.push(User::id(BOB));
    let id2 = sent(&mut alice, send_to(both, "once", false));
    assert_message(&bob.new_message(), &id2, ALICE, "once");
    assert_message(&carol.new_message(), &id2, ALICE, "once");

    // A contact list alice does not have: 700.
    let (c, mid, d) = send_outcome(
        &mut alice,
        send_to(
            Recipient {
                contact_list: vec!["wv:alice/nobody@localhost".into()],
                ..Default::default()
            },
            "x",
            false,
        ),
    );
    assert_eq!((c, mid), (700, None), "{d:?}");

    quiet(&mut [&mut alice, &mut bob, &mut carol]);
}

/// carol's block and grant lists decide what reaches her; bob's messages to carol and
/// alice's to bob show the lists refuse only whom they should.
fn block_and_grant(vc: Version) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    let mut bob = Peer::login(&server, "bob", Version::V1_3);
    let mut carol = Peer::login(&server, "carol", vc);
    let ctx = format!("carol {vc}");

    // carol blocks alice: 201, 532 for carol alone, bob still receives.
    carol.ok(access(vc, Some((Some(true), &[ALICE], &[])), None));
    let (c, mid, d) = send_outcome(&mut alice, send(&[BOB, CAROL], TRICKY, true));
    assert_eq!(c, 201, "{ctx}");
    assert_eq!(details(&d), vec![(532, vec![CAROL.to_owned()])], "{ctx}");
    assert_eq!(
        d[0].description.as_deref(),
        Some("recipient blocked sender"),
        "{ctx}"
    );
    let id = mid.expect("a MessageID: bob got the message");
    assert_message(&bob.new_message(), &id, ALICE, TRICKY);
    let r = alice.reports(1);
    assert_report(&r[0], &id, BOB, 200, Version::V1_2);
    // To carol alone: the one failure is the answer.
    let (c, mid, d) = send_outcome(&mut alice, send(&[CAROL], "let me in", false));
    assert_eq!((c, mid), (532, None), "{ctx}");
    assert_eq!(details(&d), vec![(532, vec![CAROL.to_owned()])], "{ctx}");
    // bob is not blocked.
    let from_bob = sent(&mut bob, send(&[CAROL], "bob here", false));
    assert_message(&carol.new_message(), &from_bob, BOB, "bob here");

    // carol unblocks alice but lets only bob through her grant list: alice is refused.
    carol.ok(access(
        vc,
        Some((Some(false), &[], &[ALICE])),
        Some((Some(true), &[BOB], &[])),
    ));
    let (c, mid, d) = send_outcome(&mut alice, send(&[CAROL], "still me", false));
    assert_eq!((c, mid), (532, None), "{ctx}");
    assert_eq!(details(&d), vec![(532, vec![CAROL.to_owned()])], "{ctx}");
    let from_bob = sent(&mut bob, send(&[CAROL], "granted", false));
    assert_message(&carol.new_message(), &from_bob, BOB, "granted");
    // The grant list is carol's: alice still reaches bob.
    let id = sent(&mut alice, send(&[BOB], "to bob", false));
    assert_message(&bob.new_message(), &id, ALICE, "to bob");

    // alice on the grant list passes...
    carol.ok(access(vc, None, Some((None, &[ALICE], &[]))));
    let id = sent(&mut alice, send(&[CAROL], "granted too", false));
    assert_message(&carol.new_message(), &id, ALICE, "granted too");
    // ...until she is on the block list as well: the block list wins.
    carol.ok(access(vc, Some((Some(true), &[ALICE], &[])), None));
    let blocked = carol.request(Primitive::GetBlockedListRequest(Box::default()));
    let Primitive::GetBlockedListResponse(lists) = &blocked else {
        panic!("{ctx}: {blocked:?}")
    };
    assert_eq!(lists.block_in_use(), Some(true), "{ctx}: {blocked:?}");
    assert_eq!(lists.grant_in_use(), Some(true), "{ctx}: {blocked:?}");
    let ids_of = |l: &Option<AccessList>| {
        l.as_ref()
            .and_then(|l| l.entity_list.as_ref())
            .map(|e| e.user_id.clone())
            .unwrap_or_default()
    };
    assert_eq!(ids_of(&lists.block_list), vec![ALICE.to_owned()], "{ctx}");
    assert_eq!(
        ids_of(&lists.grant_list),
        vec![ALICE.to_owned(), BOB.to_owned()],
        "{ctx}"
    );
    let (c, mid, d) = send_outcome(&mut alice, send(&[CAROL], "blocked again", true));
    assert_eq!((c, mid), (532, None), "{ctx}");
    assert_eq!(details(&d), vec![(532, vec![CAROL.to_owned()])], "{ctx}");
    let from_bob = sent(&mut bob, send(&[CAROL], "bob still", false));
    assert_message(&carol.new_message(), &from_bob, BOB, "bob still");

    // A blocked and an unknown recipient: 900 with both reasons.
    let (c, mid, d) = send_outcome(
        &mut alice,
        send(&[CAROL, "wv:nobody@localhost"], "x", false),
    );
    assert_eq!((c, mid), (900, None), "{ctx}");
    assert_eq!(
        details(&d),
        vec![
            (531, vec!["wv:nobody@localhost".to_owned()]),
            (532, vec![CAROL.to_owned()]),
        ],
        "{ctx}"
    );

    // Nothing refused ever reached carol, and no report was made for a refusal.
    quiet(&mut [&mut alice, &mut bob, &mut carol]);
}

#[test]
fn block_list_and_grant_list_refuse_senders_with_532_csp_1_2() {
    block_and_grant(Version::V1_2);
}

#[test]
fn block_list_and_grant_list_refuse_senders_with_532_csp_1_3() {
    block_and_grant(Version::V1_3);
}

#[test]
fn unknown_recipients_531_and_several_failures_900() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_1);
    let mut bob = Peer::login(&server, "bob", Version::V1_2);

    // One unknown recipient: 531, no MessageID.
    let (c, mid, d) = send_outcome(&mut alice, send(&["wv:nobody@localhost"], "x", true));
    assert_eq!((c, mid), (531, None));
    assert_eq!(
        details(&d),
        vec![(531, vec!["wv:nobody@localhost".to_owned()])]
    );

    // Two unknown recipients: 900, each named.
    let (c, mid, d) = send_outcome(&mut alice, send(&["wv:nobody", "ghost"], "x", true));
    assert_eq!((c, mid), (900, None));
    assert_eq!(
        details(&d),
        vec![(531, vec!["wv:nobody".to_owned(), "ghost".to_owned()])]
    );

    // An unknown and a known recipient: 201, the known one receives.
    let (c, mid, d) = send_outcome(&mut alice, send(&["ghost", BOB], TRICKY, true));
    assert_eq!(c, 201);
    assert_eq!(details(&d), vec![(531, vec!["ghost".to_owned()])]);
    let id = mid.expect("a MessageID");
    assert_message(&bob.new_message(), &id, ALICE, TRICKY);
    assert_report(&alice.reports(1)[0], &id, BOB, 200, Version::V1_1);

    // Nothing was stored for the refused recipients: no reports about them either.
    quiet(&mut [&mut alice, &mut bob]);
}
