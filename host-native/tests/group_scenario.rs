//! Groups over real HTTP against a spawned `imps serve`, driven by the engine's own CSP
//! client and its group builders: create, join with screen names, chat, a private message,
//! a restricted group refusing a non-member, the reject list putting a joined user out, role
//! changes, change notices, delete; the group survives a kill and restart (joining does not).
//! alice, bob and carol speak CSP 1.2, 1.1 and 1.3.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::ImpsServer;
use common::peer::Peer;
use imps_engine::client::{group, im};
use imps_engine::codec::common::ContentEncoding;
use imps_engine::codec::{Primitive, Version};

const G: &str = "wv:alice/club@localhost";
const BOB: &str = "wv:bob@localhost";
const CAROL: &str = "wv:carol@localhost";

fn start(dir: &tempfile::TempDir) -> ImpsServer {
    // Notices at once, so each step's notice can be awaited by itself.
    ImpsServer::start_open(dir.path(), "[groups]\nnotice_interval_ms = 0\n")
}

fn code(p: &Primitive) -> u32 {
    p.result_code().unwrap_or(200)
}

/// Polls until a GroupChangeNotice arrives and reads it.
fn next_change(peer: &mut Peer) -> group::GroupChange {
    let got = peer.poll_until("a GroupChangeNotice", |p| {
        p.iter()
            .any(|p| matches!(p, Primitive::GroupChangeNotice(_)))
    });
    got.iter()
        .find_map(|p| match p {
            Primitive::GroupChangeNotice(n) => Some(group::change(n)),
            _ => None,
        })
        .unwrap()
}

/// Polls until a NewMessage arrives; its text and sender screen name.
fn next_text(peer: &mut Peer) -> (String, Option<String>) {
    let got = peer.poll_until("a NewMessage", |p| {
        p.iter().any(|p| matches!(p, Primitive::NewMessage(_)))
    });
    got.into_iter()
        .find_map(|p| match p {
            Primitive::NewMessage(m) => {
                let sender = m.message_info.as_ref()?.sender.as_ref()?;
                Some((m.content_data.clone()?, im::sender_name(sender)))
            }
            _ => None,
        })
        .unwrap()
}

fn private(version: Version, to: &str, text: &str) -> Primitive {
    im::send_content(
        version,
        group::private_recipient(G, to),
        "text/plain",
        ContentEncoding::None,
        text,
        None,
        false,
    )
}

#[test]
fn a_group_over_http_from_creation_to_deletion_surviving_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    let mut bob = Peer::login(&server, "bob", Version::V1_1);
    let mut carol = Peer::login(&server, "carol", Version::V1_3);

    // Created and joined by alice with notices on; bob and carol join under screen names.
    alice.ok(group::create(
        G,
        &[
            ("Name", "Club"),
            ("Topic", "chat"),
            ("PrivateMessaging", "T"),
        ],
        Some("Al"),
        true,
    ));
    let Primitive::JoinGroupResponse(r) = bob.request(group::join(G, Some("Bo"), true, true))
    else {
        panic!("bob's join")
    };
    let names: Vec<String> = group::joined_users(&r)
        .into_iter()
        .map(|u| u.screen_name)
        .collect();
    assert_eq!(names, ["Al", "Bo"]);
    assert_eq!(next_change(&mut alice).joined[0].screen_name, "Bo");
    assert_eq!(
        code(&carol.request(group::join(G, Some("bo"), false, true))),
        811,
        "screen names are unique, ASCII case ignored"
    );
    carol.ok(group::join(G, Some("Ca"), false, true));
    assert_eq!(next_change(&mut alice).joined[0].screen_name, "Ca");
    assert_eq!(next_change(&mut bob).joined[0].screen_name, "Ca");

    // Chat: a group message reaches the others by screen name; a private one only its member.
    alice.ok(im::send_text(
        Version::V1_2,
        &[],
        &[],
        &[G],
        "hello club",
        false,
    ));
    assert_eq!(
        next_text(&mut bob),
        ("hello club".into(), Some("Al".into()))
    );
    assert_eq!(
        next_text(&mut carol),
        ("hello club".into(), Some("Al".into()))
    );
    carol.ok(private(Version::V1_3, "Bo", "just for you"));
    assert_eq!(next_text(&mut bob).0, "just for you");

    // Roles: carol becomes a moderator, then adds bob as a member; bob (a user) may not.
    alice.ok(group::member_access(Version::V1_2, G, &[], &[CAROL], &[]));
    carol.ok(group::add_members(Version::V1_3, G, &[BOB]));
    assert_eq!(
        code(&bob.request(group::add_members(Version::V1_1, G, &[CAROL]))),
        816
    );

    // A property change is told; the group becomes Restricted.
    alice.ok(group::set_props(G, &[("AccessType", "Restricted")], &[]));
    let told = next_change(&mut carol);
    assert!(
        told.properties
            .contains(&("AccessType".to_owned(), "Restricted".to_owned())),
        "{told:?}"
    );
    next_change(&mut bob);

    // The reject list puts bob out at once: an unsolicited LeaveGroup-Response 809.
    carol.ok(group::reject_list(G, &[BOB], &[]));
    let out = bob.poll_until("being put out", |p| {
        p.iter()
            .any(|p| matches!(p, Primitive::LeaveGroupResponse(_)))
    });
    let left = out
        .iter()
        .find(|p| matches!(p, Primitive::LeaveGroupResponse(_)))
        .unwrap();
    assert_eq!(code(left), 809);
    assert_eq!(next_change(&mut alice).left, ["Bo"]);
    assert_eq!(
        code(&bob.request(group::join(G, Some("Bo"), false, false))),
        809
    );

    // Kill and restart: the group, its members, levels and reject list are there; nobody is
    // joined any more.
    drop(server);
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    let mut bob = Peer::login(&server, "bob", Version::V1_1);
    let mut dave = Peer::login(&server, "dave", Version::V1_2);
    let Primitive::GetGroupPropsResponse(p) = alice.request(group::get_props(G)) else {
        panic!("props after restart")
    };
    let props = p.group_properties.unwrap().property;
    assert!(
        props
            .iter()
            .any(|p| p.value.as_deref() == Some("Restricted"))
    );
    let Primitive::GetGroupMembersResponse(m) = alice.request(group::get_members(G)) else {
        panic!("members after restart")
    };
    let mods = m.moderator.unwrap().user_list.unwrap().user;
    assert_eq!(mods[0].user_id.as_deref(), Some(CAROL));
    assert_eq!(code(&bob.request(group::join(G, None, false, false))), 809);
    assert_eq!(
        code(&dave.request(group::join(G, None, false, false))),
        810,
        "a restricted group refuses a non-member"
    );
    let Primitive::GetJoinedUsersResponse(j) = alice.request(group::get_joined_users(G)) else {
        panic!("joined users after restart")
    };
    let nobody = j.admin_map_list.as_ref().is_none_or(|l| {
        l.admin_mapping.is_none() && l.mod_mapping.is_none() && l.user_mapping.is_none()
    }) && j.user_map_list.is_none();
    assert!(nobody, "joining does not survive a restart: {j:?}");

    // Deleted by its owner: gone for everyone.
    alice.ok(group::join(G, Some("Al"), false, false));
    alice.ok(group::delete(G));
    assert_eq!(code(&dave.request(group::get_props(G))), 800);
    drop(server);
    let server = start(&dir);
    let mut alice = Peer::login(&server, "alice", Version::V1_2);
    assert_eq!(code(&alice.request(group::get_props(G))), 800);
}
