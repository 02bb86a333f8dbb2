//! The client's instant-messaging side (CSP-REFERENCE §1.4, §2.5, §2.9): request builders
//! that fit the session's version, the typed events drawn from pushed messages,
//! notifications, fetched messages and delivery reports, and the memory of recently seen
//! message ids that makes every message reach the application once.
//!
//! Builders are pure: they take the session's [`Version`] where the shapes differ and return
//! the [`Primitive`] to send with [`super::Command::Request`].
//!
//! # Exactly once to the application
//! A server delivers a message again, with the same `MessageID`, when it did not get (or did
//! not store) our acknowledgement: a lost answer, a server restart before the
//! acknowledgement was made durable. The client acknowledges every delivery — otherwise the
//! server keeps redelivering — but raises [`ClientEvent::Message`] only for a `MessageID` it
//! has not seen among the last [`SEEN_MESSAGE_IDS`] (first in, first out; pushed
//! `NewMessage`s and `GetMessage` answers share the memory). The memory belongs to the
//! [`super::Client`] value and is **not** cleared at login or logout: a server that restarted
//! redelivers after the client logged in again, which is exactly the duplicate to catch. A
//! new `Client` value starts with an empty memory. A message without a `MessageID` cannot
//! be recognised and is always passed on.
//!
//! A delivery report comes again for the same reason (its acknowledgement went missing): it
//! is acknowledged every time and raises [`ClientEvent::DeliveryReport`] once per message,
//! recipient and code, remembered in the same memory (a report counts as one of the
//! [`SEEN_MESSAGE_IDS`]; it does not make its message id "seen").

use std::collections::{BTreeSet, VecDeque};

use super::ClientEvent;
use crate::codec::capability::DeliveryMethod;
use crate::codec::common::{ContentEncoding, CspResult, Group, Recipient, Sender, User};
use crate::codec::im::{
    ForwardMessageRequest, GetMessageListRequest, MessageInfo, MessageRef, NewMessage,
    RejectMessageRequest, SendMessageRequest, SetDeliveryMethodRequest,
};
use crate::codec::{Primitive, Version};

/// How many message ids the client remembers to drop redeliveries (see the module docs).
///
/// A redelivery follows its original within a few polls or one server restart; a thousand
/// ids cover that with room to spare and cost a few tens of KiB at most.
pub const SEEN_MESSAGE_IDS: usize = 1024;

// ---------------------------------------------------------------- request builders

/// `Recipient` naming `users`, `contact_lists` (their members) and whole `groups` by id.
pub fn recipients(users: &[&str], contact_lists: &[&str], groups: &[&str]) -> Recipient {
    Recipient {
        user: users.iter().map(|u| User::id(*u)).collect(),
        group: groups
            .iter()
            .map(|g| Group {
                group_id: Some((*g).to_owned()),
                ..Default::default()
            })
            .collect(),
        contact_list: contact_lists.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    }
}

/// `recipient` trimmed to what `version` can carry: `FriendlyName` and `ApplicationID` inside
/// `User` exist only from 1.3.
pub fn recipient_for_version(version: Version, mut recipient: Recipient) -> Recipient {
    if version < Version::V1_3 {
        for u in &mut recipient.user {
            u.friendly_name = None;
            u.application_id = None;
        }
    }
    recipient
}

/// `SendMessage-Request` of `text` as `text/plain` to `to_users`, the members of
/// `to_contact_lists` and the groups `to_groups`; `delivery_report` asks for a
/// DeliveryReport-Request later.
///
/// No `Sender`: the server knows the session's user and fills it in.
pub fn send_text(
    version: Version,
    to_users: &[&str],
    to_contact_lists: &[&str],
    to_groups: &[&str],
    text: &str,
    delivery_report: bool,
) -> Primitive {
    send_content(
        version,
        recipients(to_users, to_contact_lists, to_groups),
        "text/plain",
        ContentEncoding::None,
        text,
        None,
        delivery_report,
    )
}

/// `SendMessage-Request` of `data` (already in `encoding`, e.g. BASE64 for binary content) of
/// MIME type `content_type` to `recipients`, valid for `validity` seconds when given.
///
/// `ContentSize` is the byte length of `data` as sent. No `Sender` (see [`send_text`]).
pub fn send_content(
    version: Version,
    recipients: Recipient,
    content_type: &str,
    encoding: ContentEncoding,
    data: &str,
    validity: Option<u32>,
    delivery_report: bool,
) -> Primitive {
    let info = MessageInfo {
        content_type: Some(content_type.to_owned()),
        content_encoding: Some(encoding),
        content_size: u64::try_from(data.len()).ok(),
        recipient: Some(recipient_for_version(version, recipients)),
        validity,
        ..Default::default()
    };
    Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(delivery_report),
        message_info: Some(info),
        content_data: Some(data.to_owned()),
        ..Default::default()
    }))
}

fn message_ref(id: &str) -> Box<MessageRef> {
    Box::new(MessageRef {
        message_id: Some(id.to_owned()),
        ..Default::default()
    })
}

/// `GetMessage-Request` for message `id` (announced by a MessageNotification).
pub fn get_message(id: &str) -> Primitive {
    Primitive::GetMessageRequest(message_ref(id))
}

/// `MessageDelivered` as a *request*: confirms a message fetched with [`get_message`], so the
/// server stops keeping it (CSP-REFERENCE §1.4). Pushed `NewMessage`s are confirmed by the
/// client itself.
pub fn message_delivered(id: &str) -> Primitive {
    Primitive::MessageDelivered(message_ref(id))
}

/// `RejectMessage-Request`: discards the waiting messages `ids` undelivered.
pub fn reject(ids: &[&str]) -> Primitive {
    Primitive::RejectMessageRequest(Box::new(RejectMessageRequest {
        message_id: ids.iter().map(|i| (*i).to_owned()).collect(),
        ..Default::default()
    }))
}

/// `ForwardMessage-Request`: sends the stored message `id` on to `recipients`. A 1.3 server
/// answers with `ForwardMessage-Response` carrying the new message's id, older ones with
/// `Status`. The optional 1.3 `Sender` is left to the server, like in [`send_text`].
pub fn forward(version: Version, id: &str, recipients: Recipient) -> Primitive {
    Primitive::ForwardMessageRequest(Box::new(ForwardMessageRequest {
        message_id: Some(id.to_owned()),
        recipient: Some(recipient_for_version(version, recipients)),
        ..Default::default()
    }))
}

/// `SetDeliveryMethod-Request`: push (`P`, NewMessage) or notify (`N`, MessageNotification
/// then GetMessage), with a push limit in bytes, for the session or only for `group`.
pub fn set_delivery_method(
    method: DeliveryMethod,
    accepted_content_length: Option<u32>,
    group: Option<&str>,
) -> Primitive {
    Primitive::SetDeliveryMethodRequest(Box::new(SetDeliveryMethodRequest {
        delivery_method: Some(method),
        accepted_content_length,
        group_id: group.map(str::to_owned),
        ..Default::default()
    }))
}

/// `GetMessageList-Request`: the envelopes of waiting messages (of `group`'s history when
/// given), at most `count`.
pub fn get_message_list(group: Option<&str>, count: Option<u32>) -> Primitive {
    Primitive::GetMessageListRequest(Box::new(GetMessageListRequest {
        group_id: group.map(str::to_owned),
        message_count: count,
        ..Default::default()
    }))
}

// ---------------------------------------------------------------- received messages

/// Who wrote a message, in one string: the sender's `UserID`, or for a message written in a
/// group under a screen name that name (`SName`), or else the group's id.
pub fn sender_name(sender: &Sender) -> Option<String> {
    let user = sender.user.as_ref().and_then(|u| u.user_id.clone());
    let group = sender.group.as_ref().and_then(|g| {
        g.screen_name
            .as_ref()
            .and_then(|s| s.sname.clone())
            .or_else(|| g.group_id.clone())
    });
    user.or(group).filter(|s| !s.trim().is_empty())
}

/// The message ids seen lately, oldest first, at most [`SEEN_MESSAGE_IDS`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenMessages {
    order: VecDeque<String>,
    ids: BTreeSet<String>,
}

impl SeenMessages {
    /// Records `id`; true when it was not among the remembered ids.
    pub(crate) fn first_sight(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        while self.order.len() > SEEN_MESSAGE_IDS {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }

    /// Whether `id` is remembered.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

/// The id a message is recognised by; `None` when it has none worth keying on.
pub(crate) fn message_id(info: Option<&MessageInfo>) -> Option<&str> {
    info.and_then(|i| i.message_id.as_deref())
        .filter(|id| !id.trim().is_empty())
}

/// What a delivery report is recognised by in the memory of seen ids: the message's id, the
/// recipients it reports on and the code — one fate per recipient, so a second report alike
/// is the same one delivered again. Starts with a control character, so it never equals a
/// message id [`Client::has_seen_message`](super::Client::has_seen_message) is asked about.
/// `None` for a report without a `MessageID`.
fn report_key(info: &MessageInfo, code: u32) -> Option<String> {
    let id = message_id(Some(info))?;
    let mut key = format!("\u{1}report\u{1}{id}\u{1}{code}");
    if let Some(r) = &info.recipient {
        let users = r.user.iter().filter_map(|u| u.user_id.as_deref());
        let groups = r.group.iter().filter_map(|g| g.group_id.as_deref());
        for who in users
            .chain(groups)
            .chain(r.contact_list.iter().map(String::as_str))
        {
            key.push('\u{1}');
            key.push_str(who);
        }
    }
    Some(key)
}

/// [`ClientEvent::Message`] for a pushed or fetched message, unless its id was seen already.
pub(crate) fn message_event(seen: &mut SeenMessages, m: &NewMessage) -> Option<ClientEvent> {
    let id = message_id(m.message_info.as_ref());
    if let Some(id) = id
        && !seen.first_sight(id)
    {
        return None;
    }
    let info = m.message_info.clone().unwrap_or_default();
    Some(ClientEvent::Message {
        message_id: id.unwrap_or_default().to_owned(),
        sender: info.sender.as_ref().and_then(sender_name),
        content: m.content_data.clone().unwrap_or_default(),
        info: Box::new(info),
    })
}

/// The typed events a received primitive (a server request or an answer) gives rise to,
/// besides the generic one; records the ids of messages passed on.
pub(crate) fn observe(seen: &mut SeenMessages, p: &Primitive) -> Vec<ClientEvent> {
    match p {
        Primitive::NewMessage(m) | Primitive::GetMessageResponse(m) => {
            message_event(seen, m).into_iter().collect()
        }
        Primitive::MessageNotification(n) => vec![ClientEvent::MessageWaiting {
            info: Box::new(n.message_info.clone().unwrap_or_default()),
        }],
        Primitive::DeliveryReportRequest(r) => {
            let info = r.message_info.clone().unwrap_or_default();
            let code = r.result.as_ref().map_or(0, CspResult::code);
            if let Some(key) = report_key(&info, code)
                && !seen.first_sight(&key)
            {
                return Vec::new();
            }
            vec![ClientEvent::DeliveryReport {
                message_id: message_id(Some(&info)).map(str::to_owned),
                code,
                info: Box::new(info),
            }]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::codec::common::ScreenName;
    use crate::codec::{Message, SessionType, TransactionMode};

    fn xml(version: Version, p: Primitive) -> String {
        let msg = Message::single(
            version,
            SessionType::Inband,
            Some("s".into()),
            TransactionMode::Request,
            Some("t1".into()),
            p,
        );
        String::from_utf8(crate::codec::encode(&msg)).unwrap()
    }

    /// Encodes, decodes and checks the primitive survives: builders make valid messages.
    fn round_trip(version: Version, p: &Primitive) {
        let msg = Message::single(
            version,
            SessionType::Inband,
            Some("s".into()),
            TransactionMode::Request,
            Some("t1".into()),
            p.clone(),
        );
        let back = crate::codec::decode(&crate::codec::encode(&msg), Default::default()).unwrap();
        assert_eq!(back.primitive(), Some(p));
    }

    #[test]
    fn send_text_shape_in_every_version() {
        for v in Version::ALL {
            let p = send_text(
                v,
                &["wv:bob@x"],
                &["wv:alice/friends@x"],
                &["wv:/lobby@x"],
                " héllo <&> ",
                true,
            );
            round_trip(v, &p);
            let x = xml(v, p);
            assert!(
                x.contains(
                    "<SendMessage-Request><DeliveryReport>T</DeliveryReport><MessageInfo>\
                     <ContentType>text/plain</ContentType><ContentEncoding>None</ContentEncoding>\
                     <ContentSize>12</ContentSize><Recipient>\
                     <User><UserID>wv:bob@x</UserID></User>\
                     <Group><GroupID>wv:/lobby@x</GroupID></Group>\
                     <ContactList>wv:alice/friends@x</ContactList></Recipient></MessageInfo>\
                     <ContentData> héllo &lt;&amp;&gt; </ContentData></SendMessage-Request>"
                ),
                "{v}: {x}"
            );
            assert!(!x.contains("<Sender>"), "the server fills the sender: {x}");
            assert!(x.contains(crate::codec::Ns::Csp.uri(v)), "{x}");
        }
        let x = xml(
            Version::V1_2,
            send_text(Version::V1_2, &["b"], &[], &[], "x", false),
        );
        assert!(x.contains("<DeliveryReport>F</DeliveryReport>"), "{x}");
        assert!(
            !x.contains("<Group>") && !x.contains("<ContactList>"),
            "{x}"
        );
    }

    #[test]
    fn send_content_carries_encoding_validity_and_trims_1_3_fields() {
        let mut to = recipients(&["wv:bob@x"], &[], &[]);
        to.user[0].friendly_name = Some("Bob".into());
        for v in Version::ALL {
            let p = send_content(
                v,
                to.clone(),
                "image/jpeg",
                ContentEncoding::Base64,
                "/9j/4AAQ",
                Some(600),
                false,
            );
            round_trip(v, &p);
            let x = xml(v, p);
            assert!(
                x.contains("<ContentType>image/jpeg</ContentType><ContentEncoding>BASE64</ContentEncoding><ContentSize>8</ContentSize>"),
                "{x}"
            );
            assert!(
                x.contains("</Recipient><Validity>600</Validity></MessageInfo><ContentData>/9j/4AAQ</ContentData>"),
                "{x}"
            );
            assert_eq!(
                x.contains("<FriendlyName>Bob</FriendlyName>"),
                v == Version::V1_3,
                "{v}: {x}"
            );
        }
    }

    #[test]
    fn message_reference_builders() {
        for v in Version::ALL {
            for (p, want) in [
                (
                    get_message("m1"),
                    "<GetMessage-Request><MessageID>m1</MessageID></GetMessage-Request>",
                ),
                (
                    message_delivered("m1"),
                    "<MessageDelivered><MessageID>m1</MessageID></MessageDelivered>",
                ),
                (
                    reject(&["m1", "m2"]),
                    "<RejectMessage-Request><MessageID>m1</MessageID><MessageID>m2</MessageID></RejectMessage-Request>",
                ),
                (
                    get_message_list(Some("wv:/g@x"), Some(5)),
                    "<GetMessageList-Request><GroupID>wv:/g@x</GroupID><MessageCount>5</MessageCount></GetMessageList-Request>",
                ),
                (
                    get_message_list(None, None),
                    "<GetMessageList-Request></GetMessageList-Request>",
                ),
                (
                    set_delivery_method(DeliveryMethod::Push, Some(2048), Some("wv:/g@x")),
                    "<SetDeliveryMethod-Request><DeliveryMethod>P</DeliveryMethod><AcceptedContentLength>2048</AcceptedContentLength><GroupID>wv:/g@x</GroupID></SetDeliveryMethod-Request>",
                ),
                (
                    set_delivery_method(DeliveryMethod::Notify, None, None),
                    "<SetDeliveryMethod-Request><DeliveryMethod>N</DeliveryMethod></SetDeliveryMethod-Request>",
                ),
            ] {
                round_trip(v, &p);
                let x = xml(v, p);
                let compact = x.replace(
                    "<GetMessageList-Request/>",
                    "<GetMessageList-Request></GetMessageList-Request>",
                );
                assert!(compact.contains(want), "{v}: {x}");
            }
        }
    }

    #[test]
    fn forward_shape_per_version() {
        let mut to = recipients(&["wv:carol@x"], &[], &[]);
        to.user[0].friendly_name = Some("Carol".into());
        to.group.push(Group {
            screen_name: Some(ScreenName {
                sname: Some("B. Billy".into()),
                group_id: Some("wv:/happy@x".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        for v in Version::ALL {
            let p = forward(v, "m1", to.clone());
            round_trip(v, &p);
            let x = xml(v, p);
            assert!(
                x.contains("<ForwardMessage-Request><MessageID>m1</MessageID><Recipient><User><UserID>wv:carol@x</UserID>"),
                "{x}"
            );
            assert!(
                x.contains("<Group><ScreenName><SName>B. Billy</SName><GroupID>wv:/happy@x</GroupID></ScreenName></Group>"),
                "{x}"
            );
            assert_eq!(x.contains("FriendlyName"), v == Version::V1_3, "{x}");
            assert!(!x.contains("<Sender>"), "{x}");
        }
    }

    #[test]
    fn sender_name_prefers_the_user_then_the_screen_name() {
        let user = Sender {
            user: Some(User::id("wv:bob@x")),
            ..Default::default()
        };
        assert_eq!(sender_name(&user).as_deref(), Some("wv:bob@x"));
        let screen = Sender {
            group: Some(Group {
                screen_name: Some(ScreenName {
                    sname: Some("Vicky".into()),
                    group_id: Some("wv:/g@x".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(sender_name(&screen).as_deref(), Some("Vicky"));
        let group = Sender {
            group: Some(Group {
                group_id: Some("wv:/g@x".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(sender_name(&group).as_deref(), Some("wv:/g@x"));
        assert_eq!(sender_name(&Sender::default()), None);
    }

    #[test]
    fn seen_ids_are_bounded_first_in_first_out() {
        let mut seen = SeenMessages::default();
        assert!(seen.first_sight("m0"));
        assert!(!seen.first_sight("m0"));
        for i in 1..SEEN_MESSAGE_IDS {
            assert!(seen.first_sight(&format!("m{i}")));
        }
        assert_eq!(seen.len(), SEEN_MESSAGE_IDS);
        assert!(seen.contains("m0"), "still within the window");
        // One more pushes the oldest out; it would be passed on again.
        assert!(seen.first_sight("new"));
        assert_eq!(seen.len(), SEEN_MESSAGE_IDS);
        assert!(!seen.contains("m0") && seen.contains("m1"));
        assert!(seen.first_sight("m0"));
        assert!(!seen.contains("m1"));
    }

    #[test]
    fn a_report_delivered_again_is_passed_on_once() {
        use crate::codec::im::DeliveryReportRequest;
        let report = |id: Option<&str>, to: &str, code: u16| {
            Primitive::DeliveryReportRequest(Box::new(DeliveryReportRequest {
                result: Some(CspResult::new(code, "")),
                message_info: Some(MessageInfo {
                    message_id: id.map(str::to_owned),
                    recipient: Some(recipients(&[to], &[], &[])),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        };
        let mut seen = SeenMessages::default();
        let events = |seen: &mut SeenMessages, p| observe(seen, &p).len();
        assert_eq!(events(&mut seen, report(Some("m1"), "wv:bob@x", 200)), 1);
        assert_eq!(
            events(&mut seen, report(Some("m1"), "wv:bob@x", 200)),
            0,
            "the same report again"
        );
        // Another recipient of the same message, another fate: other reports.
        assert_eq!(events(&mut seen, report(Some("m1"), "wv:carol@x", 200)), 1);
        assert_eq!(events(&mut seen, report(Some("m1"), "wv:bob@x", 542)), 1);
        // Not a message seen; a report without an id cannot be recognised.
        assert!(!seen.contains("m1"));
        assert_eq!(events(&mut seen, report(None, "wv:bob@x", 200)), 1);
        assert_eq!(events(&mut seen, report(None, "wv:bob@x", 200)), 1);
    }

    #[test]
    fn messages_without_an_id_are_always_passed_on() {
        let mut seen = SeenMessages::default();
        let m = NewMessage {
            content_data: Some("hi".into()),
            ..Default::default()
        };
        for _ in 0..2 {
            let e = message_event(&mut seen, &m).unwrap();
            assert!(matches!(
                e,
                ClientEvent::Message { ref message_id, sender: None, ref content, .. }
                    if message_id.is_empty() && content == "hi"
            ));
        }
        assert_eq!(seen.len(), 0);
    }
}
