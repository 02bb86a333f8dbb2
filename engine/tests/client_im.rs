//! The client's instant-messaging side (CSP-REFERENCE §1.4, §2.5): clients log in against the
//! real server on virtual time, then receive hand-built server transactions — as the answer
//! to their own Polling-Request, or as the answer to their own IM requests — because no server
//! answers the IM primitives yet. Checks the acknowledgements, the typed events, that a
//! redelivered message reaches the application once, and the automatic fetch of announced
//! messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::im;
use imps_engine::client::{
    ClientConfig, ClientEvent, ClientInput, ClientOutput, Command, LoginScheme,
};
use imps_engine::codec::common::{
    ContentEncoding, CspResult, Group, Recipient, ScreenName, Sender, Status, User,
};
use imps_engine::codec::im::{DeliveryReportRequest, MessageInfo, MessageNotification, NewMessage};
use imps_engine::codec::{self, Message, Primitive, SessionType, TransactionMode, Version};
use sim::{Sim, test_config};

const ALICE: &str = "wv:alice@example.org";
const BOB: &str = "wv:bob@example.org";

/// What the client did with one input: the events it raised and the messages it queued
/// (with their request ids, to answer them).
#[derive(Debug)]
struct Reaction {
    events: Vec<ClientEvent>,
    sent: Vec<(u64, Message)>,
}

impl Reaction {
    /// The queued messages in `mode`.
    fn sent_in(&self, mode: TransactionMode) -> Vec<(u64, Message)> {
        self.sent
            .iter()
            .filter(|(_, m)| descriptor(m).0.as_ref() == Some(&mode))
            .cloned()
            .collect()
    }

    /// `(message_id, sender, content)` of every `ClientEvent::Message`.
    fn messages(&self) -> Vec<(&str, Option<&str>, &str)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message {
                    message_id,
                    sender,
                    content,
                    ..
                } => Some((message_id.as_str(), sender.as_deref(), content.as_str())),
                _ => None,
            })
            .collect()
    }
}

fn descriptor(m: &Message) -> (Option<TransactionMode>, Option<String>) {
    let d = m.transaction().and_then(|t| t.descriptor.as_ref());
    (
        d.and_then(|d| d.mode.clone()),
        d.and_then(|d| d.transaction_id.clone()),
    )
}

/// A server with alice and bob, and alice logged in and ready with `version`; crafted
/// server messages are built in that version.
struct Alice {
    sim: Sim,
    a: usize,
    version: Version,
}

impl Alice {
    fn new(version: Version, auto_fetch: bool) -> Alice {
        let mut sim = Sim::new(test_config(), 91);
        sim.provision("alice", "pw");
        sim.provision("bob", "pw");
        let mut config = ClientConfig::new(version, "alice", "pw", LoginScheme::Password);
        config.auto_fetch = auto_fetch;
        let a = sim.add_client(config);
        sim.command(a, Command::Login);
        assert!(sim.clients[a].is_ready(), "{:?}", sim.events[a]);
        Alice { sim, a, version }
    }

    fn client(&self) -> &imps_engine::client::Client {
        &self.sim.clients[self.a]
    }

    fn input(&mut self, input: ClientInput) -> Reaction {
        let now = self.sim.now;
        self.sim.clients[self.a].handle(now, input);
        let mut r = Reaction {
            events: Vec::new(),
            sent: Vec::new(),
        };
        while let Some(o) = self.sim.clients[self.a].poll_output() {
            match o {
                ClientOutput::Event(e) => r.events.push(e),
                ClientOutput::Send(s) => r.sent.push((
                    s.request_id,
                    codec::decode(&s.body, Default::default()).unwrap(),
                )),
            }
        }
        r
    }

    /// The application sends `p`.
    fn request(&mut self, p: Primitive) -> Reaction {
        self.input(ClientInput::Command(Command::Request(p)))
    }

    /// Makes the client poll and answers the poll with `body` (server-initiated transactions).
    fn push_bytes(&mut self, body: Vec<u8>) -> Reaction {
        let polled = self.input(ClientInput::Command(Command::Poll));
        assert_eq!(polled.sent.len(), 1, "{polled:?}");
        let (request_id, poll) = &polled.sent[0];
        assert_eq!(poll.primitive().unwrap().name(), "Polling-Request");
        self.input(ClientInput::Response {
            request_id: *request_id,
            body,
        })
    }

    fn in_session(&self, mode: TransactionMode, tid: &str, p: Primitive) -> Vec<u8> {
        codec::encode(&Message::single(
            self.version,
            SessionType::Inband,
            self.client().session_id().map(str::to_owned),
            mode,
            Some(tid.to_owned()),
            p,
        ))
    }

    /// Pushes `p` as server transaction `tid`.
    fn push(&mut self, tid: &str, p: Primitive) -> Reaction {
        let body = self.in_session(TransactionMode::Request, tid, p);
        self.push_bytes(body)
    }

    /// Answers the client's request `request_id` with `p`.
    fn answer(&mut self, request_id: u64, p: Primitive) -> Reaction {
        let body = self.in_session(TransactionMode::Response, "c-answer", p);
        self.input(ClientInput::Response { request_id, body })
    }
}

/// The client answered server transaction `tid` in Response mode with `MessageDelivered (id)`.
fn assert_delivered_ack(r: &Reaction, tid: &str, id: &str) {
    let acks = r.sent_in(TransactionMode::Response);
    assert_eq!(acks.len(), 1, "{:?}", r.sent);
    let (_, ack) = &acks[0];
    assert_eq!(descriptor(ack).1.as_deref(), Some(tid));
    assert!(
        matches!(ack.primitive(), Some(Primitive::MessageDelivered(m)) if m.message_id.as_deref() == Some(id)),
        "{ack:?}"
    );
}

/// The client answered server transaction `tid` in Response mode with `Status 200`.
fn assert_status_ack(r: &Reaction, tid: &str) {
    let acks = r.sent_in(TransactionMode::Response);
    assert_eq!(acks.len(), 1, "{:?}", r.sent);
    let (_, ack) = &acks[0];
    assert_eq!(descriptor(ack).1.as_deref(), Some(tid));
    assert!(
        matches!(ack.primitive(), Some(Primitive::Status(s)) if s.code() == 200),
        "{ack:?}"
    );
}

fn info(id: &str) -> MessageInfo {
    MessageInfo {
        message_id: Some(id.into()),
        content_type: Some("text/plain".into()),
        content_encoding: Some(ContentEncoding::None),
        content_size: Some(5),
        recipient: Some(Recipient {
            user: vec![User::id(ALICE)],
            ..Default::default()
        }),
        sender: Some(Sender {
            user: Some(User::id(BOB)),
            ..Default::default()
        }),
        date_time: Some("20240102T030405Z".into()),
        ..Default::default()
    }
}

fn new_message(id: &str, text: &str) -> Primitive {
    Primitive::NewMessage(Box::new(NewMessage {
        message_info: Some(info(id)),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

fn get_message_response(id: &str, text: &str) -> Primitive {
    Primitive::GetMessageResponse(Box::new(NewMessage {
        message_info: Some(info(id)),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

fn notification(id: &str) -> Primitive {
    Primitive::MessageNotification(Box::new(MessageNotification {
        message_info: Some(info(id)),
        ..Default::default()
    }))
}

fn status(code: u16) -> Primitive {
    Primitive::Status(Box::new(Status::new(code, "")))
}

#[test]
fn a_redelivered_message_is_acknowledged_every_time_and_passed_on_once() {
    for version in Version::ALL {
        let mut al = Alice::new(version, false);
        let r = al.push("s1", new_message("m1", "hello"));
        assert_delivered_ack(&r, "s1", "m1");
        assert!(
            matches!(
                r.events.as_slice(),
                [
                    ClientEvent::ServerRequest(Primitive::NewMessage(_)),
                    ClientEvent::Message { .. }
                ]
            ),
            "generic event first, then the typed one: {:?}",
            r.events
        );
        assert_eq!(r.messages(), vec![("m1", Some(BOB), "hello")], "{version}");
        let ClientEvent::Message { info: got, .. } = &r.events[1] else {
            unreachable!()
        };
        assert_eq!(**got, info("m1"), "the envelope as received");
        assert!(al.client().has_seen_message("m1"));

        // The acknowledgement was lost: the same message again, under a new transaction and
        // under the old one. Acknowledged both times, not passed on again.
        for tid in ["s2", "s1"] {
            let r = al.push(tid, new_message("m1", "hello"));
            assert_delivered_ack(&r, tid, "m1");
            assert!(r.messages().is_empty(), "{:?}", r.events);
            assert!(
                matches!(
                    r.events.as_slice(),
                    [ClientEvent::ServerRequest(Primitive::NewMessage(_))]
                ),
                "the generic event stays: {:?}",
                r.events
            );
        }

        // A server restart redelivers after the client logged in again: still caught.
        al.sim.command(al.a, Command::Logout);
        assert!(al.client().session_id().is_none());
        al.sim.command(al.a, Command::Login);
        assert!(al.client().is_ready(), "{:?}", al.sim.events[al.a]);
        let r = al.push("s3", new_message("m1", "hello"));
        assert_delivered_ack(&r, "s3", "m1");
        assert!(r.messages().is_empty(), "{:?}", r.events);

        // Another message is another message.
        let r = al.push("s4", new_message("m2", "again"));
        assert_delivered_ack(&r, "s4", "m2");
        assert_eq!(r.messages(), vec![("m2", Some(BOB), "again")]);
    }
}

#[test]
fn a_real_1_1_new_message_reaches_the_application_byte_for_byte() {
    // libwbxml's CSP 1.1 sample (wv-070): a group message under a screen name, whitespace
    // around the content.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/libwbxml-wv11/"
    );
    let mut al = Alice::new(Version::V1_1, false);
    let body = std::fs::read(format!("{dir}wv-070.xml")).unwrap();
    let r = al.push_bytes(body.clone());
    assert_delivered_ack(&r, "IMApp01#12345@NOK5110", "0x0000f132");
    let got = r.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "0x0000f132");
    assert_eq!(got[0].1, Some("Wicked Vicky"));
    assert_eq!(got[0].2.trim(), "Hi guys, just arrived... How is it going?");
    assert!(
        got[0].2.starts_with('\n'),
        "kept as received: {:?}",
        got[0].2
    );
    // The same sample again: acknowledged, not passed on.
    let r = al.push_bytes(body);
    assert_delivered_ack(&r, "IMApp01#12345@NOK5110", "0x0000f132");
    assert!(r.messages().is_empty());
}

#[test]
fn a_notification_announces_a_waiting_message_and_the_application_fetches_it() {
    for version in Version::ALL {
        let mut al = Alice::new(version, false);
        let r = al.push("s1", notification("m1"));
        assert_status_ack(&r, "s1");
        assert_eq!(r.sent.len(), 1, "no fetch without auto_fetch: {:?}", r.sent);
        assert!(
            matches!(
                r.events.as_slice(),
                [
                    ClientEvent::ServerRequest(Primitive::MessageNotification(_)),
                    ClientEvent::MessageWaiting { info: got }
                ] if **got == info("m1")
            ),
            "{:?}",
            r.events
        );

        // The application fetches: the answer comes back as the generic Response, then as a
        // Message.
        let sent = al.request(im::get_message("m1"));
        let (request_id, get) = &sent.sent[0];
        assert!(
            matches!(get.primitive(), Some(Primitive::GetMessageRequest(m)) if m.message_id.as_deref() == Some("m1"))
        );
        let r = al.answer(*request_id, get_message_response("m1", "hi"));
        assert!(
            matches!(
                r.events.as_slice(),
                [
                    ClientEvent::Response {
                        primitive: Primitive::GetMessageResponse(_),
                        ..
                    },
                    ClientEvent::Message { .. }
                ]
            ),
            "{:?}",
            r.events
        );
        assert_eq!(r.messages(), vec![("m1", Some(BOB), "hi")]);
        assert!(r.sent.is_empty(), "the application confirms: {:?}", r.sent);

        // Its confirmation is a request of its own.
        let sent = al.request(im::message_delivered("m1"));
        let (_, confirm) = &sent.sent[0];
        assert_eq!(descriptor(confirm).0, Some(TransactionMode::Request));
        assert!(matches!(
            confirm.primitive(),
            Some(Primitive::MessageDelivered(_))
        ));

        // Fetching it again yields the answer but no second Message.
        let (request_id, _) = al.request(im::get_message("m1")).sent[0].clone();
        let r = al.answer(request_id, get_message_response("m1", "hi"));
        assert_eq!(r.events.len(), 1, "{:?}", r.events);
        assert!(r.messages().is_empty());
    }
}

#[test]
fn a_real_1_1_notification_is_acknowledged_and_announced() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/libwbxml-wv11/"
    );
    let mut al = Alice::new(Version::V1_1, false);
    let r = al.push_bytes(std::fs::read(format!("{dir}wv-064.xml")).unwrap());
    assert_status_ack(&r, "IMApp01#12345@NOK5110");
    let waiting: Vec<&MessageInfo> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::MessageWaiting { info } => Some(&**info),
            _ => None,
        })
        .collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].message_id.as_deref(), Some("0x0000f132"));
    assert_eq!(waiting[0].content_size, Some(189));
    assert_eq!(
        waiting[0]
            .sender
            .as_ref()
            .and_then(im::sender_name)
            .as_deref(),
        Some("Wicked Vicky")
    );
}

#[test]
fn auto_fetch_gets_passes_on_and_confirms_announced_messages() {
    for version in Version::ALL {
        let mut al = Alice::new(version, true);
        let r = al.push("s1", notification("m1"));
        assert_status_ack(&r, "s1");
        assert!(matches!(
            r.events.last(),
            Some(ClientEvent::MessageWaiting { .. })
        ));
        let fetches = r.sent_in(TransactionMode::Request);
        assert_eq!(fetches.len(), 1, "{:?}", r.sent);
        let (fetch_id, fetch) = fetches[0].clone();
        assert!(
            matches!(fetch.primitive(), Some(Primitive::GetMessageRequest(m)) if m.message_id.as_deref() == Some("m1")),
            "{fetch:?}"
        );

        // Announced again before the answer: one fetch is enough.
        let r = al.push("s2", notification("m1"));
        assert_status_ack(&r, "s2");
        assert!(
            r.sent_in(TransactionMode::Request).is_empty(),
            "{:?}",
            r.sent
        );

        // The answer: the message goes to the application (no generic Response: the
        // application asked for nothing), then the client confirms it with a new request.
        let r = al.answer(fetch_id, get_message_response("m1", "pulled"));
        assert!(
            matches!(r.events.as_slice(), [ClientEvent::Message { .. }]),
            "{:?}",
            r.events
        );
        assert_eq!(r.messages(), vec![("m1", Some(BOB), "pulled")]);
        assert_eq!(r.sent.len(), 1, "{:?}", r.sent);
        let (confirm_id, confirm) = &r.sent[0];
        assert_eq!(descriptor(confirm).0, Some(TransactionMode::Request));
        assert!(
            matches!(confirm.primitive(), Some(Primitive::MessageDelivered(m)) if m.message_id.as_deref() == Some("m1")),
            "{confirm:?}"
        );
        let r = al.answer(*confirm_id, status(200));
        assert!(r.events.is_empty() && r.sent.is_empty(), "{r:?}");

        // The confirmation got lost and the server announces m1 again: confirmed again,
        // not fetched, not passed on.
        let r = al.push("s3", notification("m1"));
        assert_status_ack(&r, "s3");
        let requests = r.sent_in(TransactionMode::Request);
        assert_eq!(requests.len(), 1, "{:?}", r.sent);
        assert!(matches!(
            requests[0].1.primitive(),
            Some(Primitive::MessageDelivered(_))
        ));
        assert!(r.messages().is_empty());

        // A message the server no longer has: the failure is reported, nothing else.
        let r = al.push("s4", notification("gone"));
        let (fetch_id, _) = r.sent_in(TransactionMode::Request)[0].clone();
        let r = al.answer(fetch_id, status(404));
        assert!(
            matches!(r.events.as_slice(), [ClientEvent::Error { message }] if message.contains("gone") && message.contains("404")),
            "{:?}",
            r.events
        );
        assert!(r.sent.is_empty());
        assert!(!al.client().has_seen_message("gone"));
    }
}

#[test]
fn a_pushed_message_seen_before_by_auto_fetch_is_not_passed_on_again() {
    let mut al = Alice::new(Version::V1_2, true);
    let r = al.push("s1", notification("m1"));
    let (fetch_id, _) = r.sent_in(TransactionMode::Request)[0].clone();
    let r = al.answer(fetch_id, get_message_response("m1", "x"));
    assert_eq!(r.messages().len(), 1);
    // The delivery method changed to push meanwhile and the server pushes it too.
    let r = al.push("s2", new_message("m1", "x"));
    assert_delivered_ack(&r, "s2", "m1");
    assert!(r.messages().is_empty());
}

#[test]
fn delivery_reports_raise_a_typed_event() {
    for version in Version::ALL {
        let mut al = Alice::new(version, false);
        let report = |code: u16, id: &str| {
            Primitive::DeliveryReportRequest(Box::new(DeliveryReportRequest {
                result: Some(CspResult::new(code, "")),
                delivery_time: (version >= Version::V1_2).then(|| "20240102T030410Z".into()),
                message_info: Some(info(id)),
                ..Default::default()
            }))
        };
        let r = al.push("s1", report(200, "m7"));
        assert_status_ack(&r, "s1");
        assert!(
            matches!(
                r.events.as_slice(),
                [
                    ClientEvent::ServerRequest(Primitive::DeliveryReportRequest(_)),
                    ClientEvent::DeliveryReport { message_id: Some(id), code: 200, info: got }
                ] if id == "m7" && **got == info("m7")
            ),
            "{:?}",
            r.events
        );
        // A report is not a message: it does not count against the once-only memory.
        assert!(!al.client().has_seen_message("m7"));
        let r = al.push("s2", report(410, "m8"));
        assert!(
            matches!(
                r.events.last(),
                Some(ClientEvent::DeliveryReport { code: 410, .. })
            ),
            "{:?}",
            r.events
        );
    }
}

#[test]
fn a_sent_message_goes_out_as_built() {
    for version in Version::ALL {
        let mut al = Alice::new(version, false);
        let to = Recipient {
            group: vec![Group {
                screen_name: Some(ScreenName {
                    sname: Some("Bobby".into()),
                    group_id: Some("wv:/lobby@example.org".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..im::recipients(&[BOB], &[], &[])
        };
        let p = im::send_content(
            version,
            to,
            "text/plain",
            ContentEncoding::None,
            "hi",
            Some(60),
            true,
        );
        let r = al.request(p.clone());
        assert_eq!(r.sent.len(), 1);
        let (_, m) = &r.sent[0];
        assert_eq!(m.version, version);
        assert_eq!(descriptor(m).0, Some(TransactionMode::Request));
        assert_eq!(m.primitive(), Some(&p));
    }
}
