//! Groups (CSP-REFERENCE §2.6) on virtual time: creation and its validation, properties and
//! own properties, joining with screen names in the three version shapes, leaving (also by a
//! session's end), members and privilege levels, the reject list, joined users with hidden
//! ids, change notices, group and private messages, limits, durability across a restart and
//! account deletion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::Command;
use imps_engine::codec::common::{
    ContentBlock, EntityList, Group, GroupProperties, Properties, Property, PropertyName,
    Recipient, ScreenName, User, UserIdList, UserList,
};
use imps_engine::codec::group::{
    CreateGroupRequest, GroupMembersRequest, GroupRequest, JoinGroupRequest, MemberAccessRequest,
    MemberLevel, RejectListRequest, SetGroupPropsRequest, SubscribeGroupNoticeRequest,
    SubscribeType,
};
use imps_engine::codec::im::{AccessList, BlockLists, MessageInfo, SendMessageRequest};
use imps_engine::codec::{Primitive, Version};
use imps_engine::server::{AdminCommand, Config};
use imps_engine::store::{Store, Table};
use sim::{Sim, code_of, login, req, take, test_config};

const G: &str = "wv:alice/chat@example.org";
const ALICE: &str = "wv:alice@example.org";
const BOB: &str = "wv:bob@example.org";
const CAROL: &str = "wv:carol@example.org";
const DAVE: &str = "wv:dave@example.org";

fn new_sim_with(config: Config) -> Sim {
    let mut sim = Sim::new(config, 61);
    for u in ["alice", "bob", "carol", "dave"] {
        sim.provision(u, "pw");
    }
    sim
}

fn new_sim() -> Sim {
    new_sim_with(test_config())
}

fn props(list: &[(&str, &str)]) -> Vec<Property> {
    list.iter()
        .map(|(n, v)| Property {
            name: Some(PropertyName::parse(n)),
            value: Some((*v).into()),
            ..Default::default()
        })
        .collect()
}

fn create_with(id: &str, list: &[(&str, &str)], join: Option<&str>) -> Primitive {
    Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(id.into()),
        group_properties: Some(GroupProperties {
            property: props(list),
            ..Default::default()
        }),
        join_group: Some(join.is_some()),
        screen_name: join.map(|n| sname(n, id)),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

fn sname(n: &str, group: &str) -> ScreenName {
    ScreenName {
        sname: Some(n.into()),
        group_id: Some(group.into()),
        ..Default::default()
    }
}

fn join_as(id: &str, name: Option<&str>, joined_request: bool, notify: bool) -> Primitive {
    Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(id.into()),
        screen_name: name.map(|n| sname(n, id)),
        joined_request: Some(joined_request),
        subscribe_notification: Some(notify),
        ..Default::default()
    }))
}

fn join(name: &str) -> Primitive {
    join_as(G, Some(name), false, false)
}

fn group_req(id: &str) -> Box<GroupRequest> {
    Box::new(GroupRequest {
        group_id: Some(id.into()),
        ..Default::default()
    })
}

fn leave(id: &str) -> Primitive {
    Primitive::LeaveGroupRequest(group_req(id))
}

fn set_props(list: &[(&str, &str)], own: &[(&str, &str)]) -> Primitive {
    Primitive::SetGroupPropsRequest(Box::new(SetGroupPropsRequest {
        group_id: Some(G.into()),
        group_properties: (!list.is_empty()).then(|| GroupProperties {
            property: props(list),
            ..Default::default()
        }),
        own_properties: (!own.is_empty()).then(|| Properties {
            property: props(own),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn user_list(users: &[&str]) -> UserList {
    UserList {
        user: users.iter().map(|u| User::id(*u)).collect(),
        ..Default::default()
    }
}

fn add(users: &[&str]) -> Primitive {
    Primitive::AddGroupMembersRequest(Box::new(GroupMembersRequest {
        group_id: Some(G.into()),
        user_list: Some(user_list(users)),
        ..Default::default()
    }))
}

fn remove(users: &[&str]) -> Primitive {
    Primitive::RemoveGroupMembersRequest(Box::new(GroupMembersRequest {
        group_id: Some(G.into()),
        user_list: Some(user_list(users)),
        ..Default::default()
    }))
}

fn level(users: &[&str]) -> Option<MemberLevel> {
    (!users.is_empty()).then(|| MemberLevel {
        user_list: Some(user_list(users)),
        ..Default::default()
    })
}

fn access(admins: &[&str], mods: &[&str], users: &[&str]) -> Primitive {
    Primitive::MemberAccessRequest(Box::new(MemberAccessRequest {
        group_id: Some(G.into()),
        admin: level(admins),
        moderator: level(mods),
        users: level(users),
        ..Default::default()
    }))
}

fn reject(add: &[&str], remove: &[&str]) -> Primitive {
    let list = |u: &[&str]| {
        (!u.is_empty()).then(|| EntityList {
            user_id: u.iter().map(|x| x.to_string()).collect(),
            ..Default::default()
        })
    };
    Primitive::RejectListRequest(Box::new(RejectListRequest {
        group_id: Some(G.into()),
        add_list: list(add),
        remove_list: list(remove),
        ..Default::default()
    }))
}

fn message(to: Group, text: &str) -> Primitive {
    Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(false),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            recipient: Some(Recipient {
                group: vec![to],
                ..Default::default()
            }),
            ..Default::default()
        }),
        content_data: Some(text.into()),
        ..Default::default()
    }))
}

fn to_group(id: &str) -> Group {
    Group {
        group_id: Some(id.into()),
        ..Default::default()
    }
}

fn to_sname(n: &str) -> Group {
    Group {
        screen_name: Some(sname(n, G)),
        ..Default::default()
    }
}

/// (text, sender user id, sender screen name) of the NewMessages client `c` received.
fn received(sim: &mut Sim, c: usize) -> Vec<(String, Option<String>, Option<String>)> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::NewMessage(m) => {
                let sender = m.message_info?.sender?;
                Some((
                    m.content_data.unwrap_or_default(),
                    sender.user.and_then(|u| u.user_id),
                    sender
                        .group
                        .and_then(|g| g.screen_name)
                        .and_then(|n| n.sname),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The property `name` of a GetGroupProps answer's group or own properties.
fn prop(p: &Primitive, own: bool, name: &str) -> Option<String> {
    let Primitive::GetGroupPropsResponse(r) = p else {
        panic!("{p:?}")
    };
    let list = if own {
        r.own_properties.as_ref().unwrap().property.clone()
    } else {
        r.group_properties.as_ref().unwrap().property.clone()
    };
    list.into_iter()
        .find(|x| x.name.as_ref().map(|n| n.as_str()) == Some(name))
        .and_then(|x| x.value)
}

fn get_props(sim: &mut Sim, c: usize) -> Primitive {
    req(sim, c, Primitive::GetGroupPropsRequest(group_req(G)))
}

/// (screen name, user id) of a mapping list.
fn mappings(l: &imps_engine::codec::group::MappingList) -> Vec<(String, Option<String>)> {
    l.mapping
        .iter()
        .map(|m| (m.sname.clone().unwrap(), m.user_id.clone()))
        .collect()
}

/// The joined users as a plain user sees them (GetJoinedUsers, 1.2+).
fn joined(sim: &mut Sim, c: usize) -> Vec<(String, Option<String>)> {
    match req(sim, c, Primitive::GetJoinedUsersRequest(group_req(G))) {
        Primitive::GetJoinedUsersResponse(r) => {
            if let Some(l) = r.user_map_list {
                return mappings(l.user_mapping.as_ref().unwrap());
            }
            let a = r.admin_map_list.unwrap();
            [a.admin_mapping, a.mod_mapping, a.user_mapping]
                .iter()
                .flatten()
                .flat_map(mappings)
                .collect()
        }
        other => panic!("{other:?}"),
    }
}

/// Codes of the unsolicited LeaveGroup-Responses client `c` received.
fn put_out(sim: &mut Sim, c: usize) -> Vec<u32> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::LeaveGroupResponse(r) => {
                assert_eq!(r.group_id.as_deref(), Some(G));
                Some(r.result.unwrap().code())
            }
            _ => None,
        })
        .collect()
}

/// alice (1.2) creates G and joins it as "Al"; returns her client.
fn with_group(sim: &mut Sim, list: &[(&str, &str)]) -> usize {
    let a = login(sim, "alice", Version::V1_2);
    assert_eq!(code_of(&req(sim, a, create_with(G, list, Some("Al")))), 200);
    a
}

// ---- creation and properties -----------------------------------------------------------

#[test]
fn create_group_refusals() {
    let mut config = test_config();
    config.groups.max_groups_per_user = 2;
    config.groups.max_groups = 3;
    let mut sim = new_sim_with(config);
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let missing = Primitive::CreateGroupRequest(Box::default());
    let cases: Vec<(Primitive, u32)> = vec![
        (missing, 402),
        (create_with("wv:bob/chat", &[], None), 402),
        (create_with("wv:alice", &[], None), 402),
        (create_with("wv:alice/x y", &[], None), 402),
        (create_with("wv:alice/chat@other.org", &[], None), 516),
        (create_with(G, &[("AccessType", "Closed")], None), 806),
        (create_with(G, &[("DisplayName", "x")], None), 806),
        (create_with(G, &[("Type", "Public")], None), 806),
        (create_with(G, &[("MaxActiveUsers", "0")], None), 806),
        (create_with(G, &[("MaxActiveUsers", "501")], None), 806),
        (create_with(G, &[("MaxActiveUsers", "many")], None), 806),
        (create_with(G, &[("Searchable", "maybe")], None), 806),
        (create_with(G, &[("Name", &"n".repeat(257))], None), 806),
        (create_with(G, &[("Searchable", "T")], None), 822),
        (create_with(G, &[("History", "T")], None), 821),
        (create_with(G, &[], Some(" ")), 402),
    ];
    for (p, code) in cases {
        let name = format!("{p:?}");
        assert_eq!(code_of(&req(&mut sim, a, p)), code, "{name}");
    }
    // Nothing of the refused requests was kept.
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
    let ok = create_with(
        G,
        &[("Searchable", "T"), ("Topic", "talk"), ("Type", "private")],
        None,
    );
    assert_eq!(code_of(&req(&mut sim, a, ok.clone())), 200);
    assert_eq!(code_of(&req(&mut sim, a, ok)), 801);
    assert_eq!(
        code_of(&req(&mut sim, a, create_with("wv:alice/two", &[], None))),
        200
    );
    assert_eq!(
        code_of(&req(&mut sim, a, create_with("wv:alice/three", &[], None))),
        814
    );
    assert_eq!(
        code_of(&req(&mut sim, b, create_with("wv:bob/one", &[], None))),
        200
    );
    assert_eq!(
        code_of(&req(&mut sim, b, create_with("wv:bob/two", &[], None))),
        815
    );
}

#[test]
fn properties_per_version_and_own_properties() {
    let mut sim = new_sim();
    let a = with_group(
        &mut sim,
        &[
            ("Name", "Chat"),
            ("Topic", "anything"),
            ("AccessType", "restricted"),
            ("PrivateMessaging", "T"),
            ("MaxActiveUsers", "10"),
            ("AutoDelete", "F"),
            ("Validity", "3600"),
            ("ShowID", "F"),
            ("AutoJoin", "F"),
        ],
    );
    let r = get_props(&mut sim, a);
    assert_eq!(prop(&r, false, "Name").as_deref(), Some("Chat"));
    assert_eq!(prop(&r, false, "AccessType").as_deref(), Some("Restricted"));
    assert_eq!(prop(&r, false, "Type").as_deref(), Some("Private"));
    assert_eq!(prop(&r, false, "PrivateMessaging").as_deref(), Some("T"));
    assert_eq!(prop(&r, false, "MaxActiveUsers").as_deref(), Some("10"));
    assert_eq!(prop(&r, false, "ActiveUsers").as_deref(), Some("1"));
    assert_eq!(prop(&r, false, "Validity").as_deref(), Some("3600"));
    assert_eq!(prop(&r, false, "ShowID").as_deref(), Some("F"));
    assert_eq!(prop(&r, true, "PrivilegeLevel").as_deref(), Some("Admin"));
    assert_eq!(prop(&r, true, "ShowID").as_deref(), Some("F"));

    // 1.1 is not told the 1.2 properties; a non-member has no PrivilegeLevel.
    let b = login(&mut sim, "bob", Version::V1_1);
    let r = get_props(&mut sim, b);
    assert_eq!(prop(&r, false, "Name").as_deref(), Some("Chat"));
    assert_eq!(prop(&r, false, "ShowID"), None);
    assert_eq!(prop(&r, false, "MaxActiveUsers").as_deref(), Some("10"));
    assert_eq!(prop(&r, false, "AutoDelete"), None);
    assert_eq!(prop(&r, true, "PrivilegeLevel"), None);

    // Only administrators change group properties; own properties need membership or a join.
    assert_eq!(
        code_of(&req(&mut sim, b, set_props(&[("Topic", "x")], &[]))),
        816
    );
    assert_eq!(
        code_of(&req(&mut sim, b, set_props(&[], &[("ShowID", "T")]))),
        810
    );
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[("Foo", "1")], &[]))),
        806
    );
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[], &[("Foo", "1")]))),
        806
    );
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[], &[("ShowID", "yes")]))),
        806
    );
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            set_props(&[("Searchable", "T"), ("Name", ""), ("Topic", "")], &[])
        )),
        822
    );
    // ActiveUsers is computed, PrivilegeLevel read-only: both ignored.
    let ok = set_props(
        &[("Topic", "news"), ("ActiveUsers", "99")],
        &[
            ("ShowID", "T"),
            ("PrivilegeLevel", "User"),
            ("AutoJoin", "T"),
        ],
    );
    assert_eq!(code_of(&req(&mut sim, a, ok)), 200);
    let r = get_props(&mut sim, a);
    assert_eq!(prop(&r, false, "Topic").as_deref(), Some("news"));
    assert_eq!(prop(&r, false, "ActiveUsers").as_deref(), Some("1"));
    assert_eq!(prop(&r, true, "ShowID").as_deref(), Some("T"));
    assert_eq!(prop(&r, true, "AutoJoin").as_deref(), Some("T"));
    assert_eq!(prop(&r, true, "PrivilegeLevel").as_deref(), Some("Admin"));
    let unknown = Primitive::GetGroupPropsRequest(group_req("wv:alice/nothing"));
    assert_eq!(code_of(&req(&mut sim, a, unknown)), 800);
    let other = Primitive::GetGroupPropsRequest(group_req("wv:alice/x@other.org"));
    assert_eq!(code_of(&req(&mut sim, a, other)), 516);
    let bad = Primitive::GetGroupPropsRequest(group_req("wv:alice"));
    assert_eq!(code_of(&req(&mut sim, a, bad)), 402);
}

#[test]
fn accesstype_spelling_is_accepted_on_the_wire() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_1);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    let body = format!(
        "<WV-CSP-Message xmlns=\"http://www.wireless-village.org/CSP1.1\"><Session>\
         <SessionDescriptor><SessionType>Inband</SessionType><SessionID>{sid}</SessionID></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
         <TransactionID>w1</TransactionID></TransactionDescriptor>\
         <TransactionContent xmlns=\"http://www.wireless-village.org/TRC1.1\"><CreateGroup-Request>\
         <GroupID>wv:alice/chat</GroupID><GroupProperties>\
         <Property><Name>Accesstype</Name><Value>Restricted</Value></Property>\
         <WelcomeNote><ContentType>text/plain</ContentType><ContentData>hi &amp; welcome</ContentData></WelcomeNote>\
         </GroupProperties><JoinGroup>F</JoinGroup><SubscribeNotification>F</SubscribeNotification>\
         </CreateGroup-Request></TransactionContent></Transaction></Session></WV-CSP-Message>"
    );
    let r = sim
        .raw_bytes("application/vnd.wv.csp.xml", body.into_bytes())
        .unwrap();
    assert_eq!(code_of(sim::first(&r)), 200);
    let r = get_props(&mut sim, a);
    assert_eq!(prop(&r, false, "AccessType").as_deref(), Some("Restricted"));
    let Primitive::GetGroupPropsResponse(p) = r else {
        panic!()
    };
    let note = p.group_properties.unwrap().welcome_note.unwrap();
    assert_eq!(note.content_data.as_deref(), Some("hi & welcome"));
}

// ---- joining and leaving ---------------------------------------------------------------

#[test]
fn join_answers_per_version_with_the_welcome_note_and_hidden_ids() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let create = Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(G.into()),
        group_properties: Some(GroupProperties {
            welcome_note: Some(ContentBlock {
                content_type: Some("text/plain".into()),
                content_data: Some("welcome".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        own_properties: Some(Properties {
            property: props(&[("ShowID", "T")]),
            ..Default::default()
        }),
        join_group: Some(true),
        screen_name: Some(sname("Al", G)),
        subscribe_notification: Some(false),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, create)), 200);

    // 1.1: a UserList of screen names.
    let b = login(&mut sim, "bob", Version::V1_1);
    let Primitive::JoinGroupResponse(r) = req(&mut sim, b, join_as(G, Some("Bo"), true, false))
    else {
        panic!()
    };
    let names: Vec<String> = r
        .user_list
        .unwrap()
        .screen_name
        .into_iter()
        .map(|n| {
            assert_eq!(n.group_id.as_deref(), Some(G));
            n.sname.unwrap()
        })
        .collect();
    assert_eq!(names, ["Al", "Bo"]);
    assert_eq!(
        r.welcome_note.unwrap().content_data.as_deref(),
        Some("welcome")
    );
    assert!(r.user_map_list.is_none() && r.joined.is_none() && r.screen_name.is_none());

    // 1.2: a UserMapList; alice shows her id (own ShowID), bob does not.
    let c = login(&mut sim, "carol", Version::V1_2);
    let Primitive::JoinGroupResponse(r) = req(&mut sim, c, join_as(G, Some("Ca"), true, false))
    else {
        panic!()
    };
    let l = r.user_map_list.unwrap();
    assert_eq!(
        mappings(l.user_mapping.as_ref().unwrap()),
        vec![
            ("Al".into(), Some(ALICE.into())),
            ("Bo".into(), None),
            ("Ca".into(), None)
        ]
    );
    assert!(r.user_list.is_none() && r.joined.is_none());

    // 1.3: Joined (UserMapList) and the joiner's screen name; without a ScreenName the user
    // part of the id is used; without JoinedRequest no list.
    let d = login(&mut sim, "dave", Version::V1_3);
    let Primitive::JoinGroupResponse(r) = req(&mut sim, d, join_as(G, None, true, false)) else {
        panic!()
    };
    let j = r.joined.unwrap().user_map_list.unwrap();
    assert_eq!(mappings(j.user_mapping.as_ref().unwrap()).len(), 4);
    assert_eq!(r.screen_name.unwrap().sname.as_deref(), Some("dave"));
    assert_eq!(code_of(&req(&mut sim, d, leave(G))), 200);
    let Primitive::JoinGroupResponse(r) = req(&mut sim, d, join_as(G, Some("Dee"), false, false))
    else {
        panic!()
    };
    assert!(r.joined.is_none());
    assert_eq!(r.screen_name.unwrap().sname.as_deref(), Some("Dee"));

    // ShowID=T on the group shows every id.
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[("ShowID", "T")], &[]))),
        200
    );
    assert!(joined(&mut sim, c).iter().all(|(_, id)| id.is_some()));
}

#[test]
fn join_refusals() {
    let mut config = test_config();
    config.groups.max_joined_users = 3;
    let mut sim = new_sim_with(config);
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(
        code_of(&req(
            &mut sim,
            b,
            join_as("wv:alice/none", None, false, false)
        )),
        800
    );
    assert_eq!(
        code_of(&req(&mut sim, b, join("al"))),
        811,
        "case is ignored"
    );
    assert_eq!(code_of(&req(&mut sim, b, join(&"x".repeat(65)))), 402);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, b, join("Bo"))), 807);
    // A second session of bob joins under the same screen name, not under another.
    let b2 = login(&mut sim, "bob", Version::V1_3);
    assert_eq!(code_of(&req(&mut sim, b2, join("Bobby"))), 811);
    let Primitive::JoinGroupResponse(r) = req(&mut sim, b2, join_as(G, None, false, false)) else {
        panic!()
    };
    assert_eq!(r.screen_name.unwrap().sname.as_deref(), Some("Bo"));
    assert_eq!(joined(&mut sim, a).len(), 2, "bob counts once");
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, d, join("Da"))), 817);
    assert_eq!(code_of(&req(&mut sim, c, leave(G))), 200);
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            set_props(&[("MaxActiveUsers", "2")], &[])
        )),
        200
    );
    assert_eq!(code_of(&req(&mut sim, d, join("Da"))), 817);
    // Restricted: members only.
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            set_props(
                &[("AccessType", "Restricted"), ("MaxActiveUsers", "3")],
                &[]
            )
        )),
        200
    );
    // bob, joined and not a member, was put out (both sessions).
    assert_eq!(put_out(&mut sim, b), vec![810]);
    assert_eq!(put_out(&mut sim, b2), vec![810]);
    assert_eq!(code_of(&req(&mut sim, d, join("Da"))), 810);
    assert_eq!(code_of(&req(&mut sim, a, add(&[DAVE]))), 200);
    assert!(matches!(
        req(&mut sim, d, join("Da")),
        Primitive::JoinGroupResponse(_)
    ));
    // Leaving what one has not joined.
    let Primitive::LeaveGroupResponse(r) = req(&mut sim, c, leave(G)) else {
        panic!()
    };
    assert_eq!(r.result.unwrap().code(), 808);
    assert_eq!(code_of(&req(&mut sim, c, leave("wv:alice/none"))), 800);
}

#[test]
fn a_session_end_makes_its_user_leave_and_auto_delete_removes_the_group() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[("AutoDelete", "T")]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let b2 = login(&mut sim, "bob", Version::V1_2);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert!(matches!(
        req(&mut sim, b2, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    sim.command(b, Command::Logout);
    assert_eq!(
        joined(&mut sim, a).len(),
        2,
        "bob's other session is joined"
    );
    sim.command(b2, Command::Logout);
    assert_eq!(joined(&mut sim, a), vec![("Al".to_string(), None)]);
    // The last joined user leaves: AutoDelete deletes the group, durably.
    assert_eq!(code_of(&req(&mut sim, a, leave(G))), 200);
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
    // An expired session leaves too.
    assert_eq!(
        code_of(&req(&mut sim, a, create_with(G, &[], Some("Al")))),
        200
    );
    let c = login(&mut sim, "carol", Version::V1_2);
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    sim.frozen[c] = true;
    sim.advance(2_000_000);
    let a = login(&mut sim, "alice", Version::V1_2);
    assert!(matches!(
        req(&mut sim, a, join("Al")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(joined(&mut sim, a), vec![("Al".to_string(), None)]);
}

// ---- members, levels, reject list ------------------------------------------------------

#[test]
fn members_and_levels() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_3);
    let c = login(&mut sim, "carol", Version::V1_1);
    // Ordinary users may not manage.
    for p in [
        Primitive::GetGroupMembersRequest(group_req(G)),
        add(&[CAROL]),
        remove(&[CAROL]),
        access(&[], &[BOB], &[]),
        reject(&[CAROL], &[]),
        Primitive::DeleteGroupRequest(group_req(G)),
    ] {
        assert_eq!(code_of(&req(&mut sim, b, p)), 816);
    }
    // Add: unknown and foreign users refused one by one.
    let r = req(&mut sim, a, add(&[BOB, "nobody", "x@other.org", "a b"]));
    assert_eq!(code_of(&r), 201);
    let Primitive::Status(st) = r else { panic!() };
    let details = &st.result.unwrap().detailed_result;
    let codes: Vec<u32> = details.iter().map(|d| d.code.unwrap()).collect();
    assert_eq!(codes, [402, 516, 531]);
    assert_eq!(details[2].user_id, ["nobody"]);
    assert_eq!(code_of(&req(&mut sim, a, add(&["nobody"]))), 531);
    assert_eq!(code_of(&req(&mut sim, a, add(&[]))), 402);
    // 1.3 UserIDList.
    let by_ids = Primitive::AddGroupMembersRequest(Box::new(GroupMembersRequest {
        group_id: Some(G.into()),
        user_id_list: Some(UserIdList {
            user_id: vec![CAROL.into()],
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, by_ids)), 200);
    // Levels: only administrators set them; the owner's is fixed.
    assert_eq!(code_of(&req(&mut sim, a, access(&[], &[BOB], &[]))), 200);
    assert_eq!(code_of(&req(&mut sim, b, access(&[], &[], &[CAROL]))), 816);
    assert_eq!(code_of(&req(&mut sim, a, access(&[], &[], &[ALICE]))), 816);
    // GetGroupMembers: 1.3 shape for bob (a moderator now), 1.1 for carol once she is one.
    let Primitive::GetGroupMembersResponse(r) =
        req(&mut sim, b, Primitive::GetGroupMembersRequest(group_req(G)))
    else {
        panic!()
    };
    let ids = |l: &Option<MemberLevel>| -> Vec<String> {
        l.as_ref()
            .map(|l| {
                l.user_list
                    .as_ref()
                    .unwrap()
                    .user
                    .iter()
                    .map(|u| u.user_id.clone().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids(&r.admin), [ALICE]);
    assert_eq!(ids(&r.moderator), [BOB]);
    assert!(r.users.is_none());
    assert_eq!(r.user_list.unwrap().user[0].user_id.as_deref(), Some(CAROL));
    // A moderator manages ordinary users only.
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, b, remove(&[ALICE]))), 816);
    assert_eq!(code_of(&req(&mut sim, b, remove(&[DAVE]))), 810);
    assert_eq!(code_of(&req(&mut sim, b, remove(&[CAROL]))), 200);
    assert_eq!(put_out(&mut sim, c), vec![810], "carol was joined: put out");
    assert_eq!(
        code_of(&req(&mut sim, a, remove(&[ALICE]))),
        816,
        "owner stays"
    );
    // MemberAccess makes a non-member a member; 1.1 shape with Users.
    assert_eq!(
        code_of(&req(&mut sim, a, access(&[], &[CAROL], &[DAVE]))),
        200
    );
    let Primitive::GetGroupMembersResponse(r) =
        req(&mut sim, c, Primitive::GetGroupMembersRequest(group_req(G)))
    else {
        panic!()
    };
    assert_eq!(ids(&r.moderator), [BOB, CAROL]);
    assert_eq!(ids(&r.users), [DAVE]);
    assert!(r.user_list.is_none());
    // Screen names name joined users in member requests.
    let d = login(&mut sim, "dave", Version::V1_2);
    assert!(matches!(
        req(&mut sim, d, join("Da")),
        Primitive::JoinGroupResponse(_)
    ));
    let by_name = Primitive::RemoveGroupMembersRequest(Box::new(GroupMembersRequest {
        group_id: Some(G.into()),
        user_list: Some(UserList {
            screen_name: vec![sname("da", G), sname("Zed", G)],
            ..Default::default()
        }),
        ..Default::default()
    }));
    let r = req(&mut sim, a, by_name);
    assert_eq!(code_of(&r), 201);
    let Primitive::Status(st) = r else { panic!() };
    let d531 = &st.result.unwrap().detailed_result[0];
    assert_eq!(d531.code, Some(531));
    assert_eq!(d531.screen_name[0].sname.as_deref(), Some("Zed"));
    assert_eq!(put_out(&mut sim, d), vec![810]);
}

#[test]
fn reject_list_bans_and_puts_out() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(
        code_of(&req(&mut sim, a, access(&[], &[BOB], &[CAROL]))),
        200
    );
    // The moderator bans carol: she is put out and may not come back.
    let Primitive::RejectListResponse(r) = req(&mut sim, b, reject(&[CAROL], &[])) else {
        panic!()
    };
    assert_eq!(r.user_list.unwrap().user[0].user_id.as_deref(), Some(CAROL));
    assert_eq!(put_out(&mut sim, c), vec![809]);
    assert_eq!(code_of(&req(&mut sim, c, join("Ca"))), 809);
    // Refusals: the owner, an administrator by a moderator, unknown users.
    assert_eq!(code_of(&req(&mut sim, b, reject(&[ALICE], &[]))), 816);
    assert_eq!(code_of(&req(&mut sim, a, reject(&[ALICE], &[]))), 816);
    let r = req(&mut sim, a, reject(&["nobody", DAVE], &[]));
    assert_eq!(code_of(&r), 201);
    // Reading: an empty request answers the list.
    let Primitive::RejectListResponse(r) = req(&mut sim, a, reject(&[], &[])) else {
        panic!()
    };
    assert_eq!(r.user_list.unwrap().user.len(), 2);
    let Primitive::RejectListResponse(r) = req(&mut sim, a, reject(&[], &[CAROL, DAVE])) else {
        panic!()
    };
    assert!(r.user_list.is_none());
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
}

#[test]
fn delete_group_tells_the_joined() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, a, access(&[CAROL], &[], &[]))), 200);
    assert_eq!(
        code_of(&req(
            &mut sim,
            c,
            Primitive::DeleteGroupRequest(group_req(G))
        )),
        200,
        "any administrator"
    );
    assert_eq!(put_out(&mut sim, b), vec![800]);
    assert_eq!(put_out(&mut sim, a), vec![800]);
    assert_eq!(code_of(&get_props(&mut sim, b)), 800);
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            Primitive::DeleteGroupRequest(group_req(G))
        )),
        800
    );
    assert_eq!(code_of(&req(&mut sim, a, leave(G))), 800);
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
}

#[test]
fn get_joined_users_by_level() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_3);
    assert_eq!(
        code_of(&req(
            &mut sim,
            b,
            Primitive::GetJoinedUsersRequest(group_req(G))
        )),
        808
    );
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, a, access(&[], &[CAROL], &[]))), 200);
    let Primitive::GetJoinedUsersResponse(r) =
        req(&mut sim, a, Primitive::GetJoinedUsersRequest(group_req(G)))
    else {
        panic!()
    };
    let l = r.admin_map_list.unwrap();
    assert_eq!(mappings(l.admin_mapping.as_ref().unwrap())[0].0, "Al");
    assert_eq!(mappings(l.mod_mapping.as_ref().unwrap())[0].0, "Ca");
    assert_eq!(mappings(l.user_mapping.as_ref().unwrap())[0].0, "Bo");
    let Primitive::GetJoinedUsersResponse(r) =
        req(&mut sim, b, Primitive::GetJoinedUsersRequest(group_req(G)))
    else {
        panic!()
    };
    assert!(r.admin_map_list.is_none());
    assert_eq!(
        mappings(r.user_map_list.unwrap().user_mapping.as_ref().unwrap()),
        vec![
            ("Al".to_string(), None),
            ("Bo".to_string(), None),
            ("Ca".to_string(), None)
        ]
    );
}

// ---- notices ---------------------------------------------------------------------------

fn notices(sim: &mut Sim, c: usize) -> Vec<imps_engine::codec::group::GroupChangeNotice> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::GroupChangeNotice(n) => Some(*n),
            _ => None,
        })
        .collect()
}

fn subscribe(t: SubscribeType) -> Primitive {
    Primitive::SubscribeGroupNoticeRequest(Box::new(SubscribeGroupNoticeRequest {
        group_id: Some(G.into()),
        subscribe_type: Some(t),
        ..Default::default()
    }))
}

#[test]
fn change_notices_per_version() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_1);
    let c = login(&mut sim, "carol", Version::V1_3);
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(
        code_of(&req(&mut sim, d, subscribe(SubscribeType::Set))),
        808
    );
    let Primitive::SubscribeGroupNoticeResponse(r) =
        req(&mut sim, a, subscribe(SubscribeType::Get))
    else {
        panic!()
    };
    assert_eq!(r.value.as_deref(), Some("F"));
    assert_eq!(
        code_of(&req(&mut sim, a, subscribe(SubscribeType::Set))),
        200
    );
    let Primitive::SubscribeGroupNoticeResponse(r) =
        req(&mut sim, a, subscribe(SubscribeType::Get))
    else {
        panic!()
    };
    assert_eq!(r.value.as_deref(), Some("T"));
    assert!(matches!(
        req(&mut sim, b, join_as(G, Some("Bo"), false, true)),
        Primitive::JoinGroupResponse(_)
    ));
    // One notice interval later each change goes out at once (coalescing: see the storm).
    sim.advance(1_000);
    assert!(matches!(
        req(&mut sim, c, join_as(G, Some("Ca"), false, true)),
        Primitive::JoinGroupResponse(_)
    ));
    // alice (1.2) heard of both joins as UserMapLists; bob (1.1) of carol's as screen names;
    // carol of nothing yet (her own join is not told to her).
    let n = notices(&mut sim, a);
    assert_eq!(n.len(), 2);
    let m = n[1]
        .joined
        .as_ref()
        .unwrap()
        .user_map_list
        .as_ref()
        .unwrap();
    assert_eq!(mappings(m.user_mapping.as_ref().unwrap())[0].0, "Ca");
    let n = notices(&mut sim, b);
    let l = n[0].joined.as_ref().unwrap().user_list.as_ref().unwrap();
    assert_eq!(l.screen_name[0].sname.as_deref(), Some("Ca"));
    assert!(notices(&mut sim, c).is_empty());
    // A property change is told to the others, with all properties.
    sim.advance(1_000);
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[("Topic", "t")], &[]))),
        200
    );
    let n = notices(&mut sim, c);
    let props = &n[0].group_properties.as_ref().unwrap().property;
    assert!(props.iter().any(|p| p.value.as_deref() == Some("t")));
    assert_eq!(notices(&mut sim, b).len(), 1);
    assert!(notices(&mut sim, a).is_empty());
    // bob leaves: Left; bob is rejected later: 1.3 hears LeftBlocked, 1.2 Left.
    sim.advance(1_000);
    assert_eq!(code_of(&req(&mut sim, b, leave(G))), 200);
    let n = notices(&mut sim, c);
    let left = n[0].left.as_ref().unwrap().user_list.as_ref().unwrap();
    assert_eq!(left.screen_name[0].sname.as_deref(), Some("Bo"));
    notices(&mut sim, a);
    sim.advance(1_000);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    notices(&mut sim, a);
    notices(&mut sim, c);
    sim.advance(1_000);
    assert!(matches!(
        req(&mut sim, a, reject(&[BOB], &[])),
        Primitive::RejectListResponse(_)
    ));
    let n = notices(&mut sim, c);
    assert!(n[0].left.is_none());
    assert!(n[0].left_blocked.is_some());
    assert_eq!(
        code_of(&req(&mut sim, c, subscribe(SubscribeType::Unset))),
        200
    );
    sim.advance(1_000);
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[("Topic", "u")], &[]))),
        200
    );
    assert!(notices(&mut sim, c).is_empty());
    let bad = Primitive::SubscribeGroupNoticeRequest(Box::new(SubscribeGroupNoticeRequest {
        group_id: Some(G.into()),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, bad)), 402);
}

// ---- messages --------------------------------------------------------------------------

#[test]
fn a_group_message_reaches_every_joined_user() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_1);
    let c = login(&mut sim, "carol", Version::V1_3);
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(
        code_of(&req(&mut sim, a, add(&[DAVE]))),
        200,
        "a member, not joined"
    );
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    let r = req(&mut sim, a, message(to_group(G), "hello all"));
    assert_eq!(code_of(&r), 200);
    let Primitive::SendMessageResponse(r) = r else {
        panic!()
    };
    assert!(r.message_id.is_some());
    // Ids hidden: the sender is her screen name.
    let want = vec![("hello all".to_string(), None, Some("Al".to_string()))];
    assert_eq!(received(&mut sim, b), want);
    assert_eq!(received(&mut sim, c), want);
    assert!(received(&mut sim, a).is_empty(), "not to the sender");
    assert!(
        received(&mut sim, d).is_empty(),
        "not to members who have not joined"
    );
    // With ShowID the sender is the user.
    assert_eq!(
        code_of(&req(&mut sim, c, set_props(&[], &[("ShowID", "T")]))),
        200
    );
    assert_eq!(
        code_of(&req(&mut sim, c, message(to_group(G), "it's me"))),
        200
    );
    assert_eq!(
        received(&mut sim, b),
        vec![("it's me".to_string(), Some(CAROL.to_string()), None)]
    );
    assert_eq!(received(&mut sim, a).len(), 1);
    // Users who block the sender, by id or by the group, do not receive it; the sender is
    // not told.
    let block = |entities: EntityList| {
        Primitive::BlockEntityRequest(Box::new(BlockLists {
            block_list: Some(AccessList {
                in_use: Some(true),
                add_list: Some(entities),
                ..Default::default()
            }),
            ..Default::default()
        }))
    };
    let by_id = EntityList {
        user_id: vec![ALICE.into()],
        ..Default::default()
    };
    assert_eq!(code_of(&req(&mut sim, b, block(by_id))), 200);
    assert_eq!(
        code_of(&req(&mut sim, a, message(to_group(G), "second"))),
        200
    );
    assert!(received(&mut sim, b).is_empty());
    assert_eq!(received(&mut sim, c).len(), 1);
    let by_group = EntityList {
        group_id: vec![G.into()],
        ..Default::default()
    };
    assert_eq!(code_of(&req(&mut sim, c, block(by_group))), 200);
    let r = req(&mut sim, a, message(to_group(G), "third"));
    assert_eq!(code_of(&r), 200);
    assert!(received(&mut sim, c).is_empty());
    // The sender must be joined; the group must exist.
    let r = req(&mut sim, d, message(to_group(G), "outside"));
    assert_eq!(code_of(&r), 808);
    let r = req(&mut sim, a, message(to_group("wv:alice/none"), "x"));
    assert_eq!(code_of(&r), 800);
    // A user and a group in one message: refusals are named as sent.
    let mixed = Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(false),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            recipient: Some(Recipient {
                user: vec![User::id(DAVE)],
                group: vec![to_group("wv:alice/none")],
                ..Default::default()
            }),
            ..Default::default()
        }),
        content_data: Some("mixed".into()),
        ..Default::default()
    }));
    let Primitive::SendMessageResponse(r) = req(&mut sim, a, mixed) else {
        panic!()
    };
    let res = r.result.unwrap();
    assert_eq!(res.code(), 201);
    assert_eq!(res.detailed_result[0].code, Some(800));
    assert_eq!(res.detailed_result[0].group_id, ["wv:alice/none"]);
    assert_eq!(received(&mut sim, d).len(), 1);
}

#[test]
fn a_message_to_two_groups_and_a_user_reaches_each_recipient_once_as_first_named() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    const G2: &str = "wv:alice/other@example.org";
    assert_eq!(
        code_of(&req(&mut sim, a, create_with(G2, &[], Some("Ali")))),
        200
    );
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let d = login(&mut sim, "dave", Version::V1_2);
    // bob joins both groups, carol the second only, dave the first and is also named.
    for (client, group, name) in [(b, G, "Bo"), (b, G2, "Bo"), (c, G2, "Ca"), (d, G, "Da")] {
        assert!(matches!(
            req(&mut sim, client, join_as(group, Some(name), false, false)),
            Primitive::JoinGroupResponse(_)
        ));
    }
    let both = Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(false),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            recipient: Some(Recipient {
                user: vec![User::id(DAVE)],
                group: vec![to_group(G), to_group(G2)],
                ..Default::default()
            }),
            ..Default::default()
        }),
        content_data: Some("to all".into()),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, both)), 200);
    let text = || "to all".to_string();
    // dave was named first as a user: by user id; bob through the first group; carol
    // through the second, where alice is another screen name.
    assert_eq!(
        received(&mut sim, d),
        vec![(text(), Some(ALICE.to_string()), None)]
    );
    assert_eq!(
        received(&mut sim, b),
        vec![(text(), None, Some("Al".to_string()))]
    );
    assert_eq!(
        received(&mut sim, c),
        vec![(text(), None, Some("Ali".to_string()))]
    );
    assert!(received(&mut sim, a).is_empty(), "not to the sender");
}

#[test]
fn private_messages_in_a_group() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    let code_in = |p: &Primitive| match p {
        Primitive::SendMessageResponse(r) => {
            let res = r.result.clone().unwrap();
            if let Some(d) = res.detailed_result.first() {
                assert_eq!(d.screen_name[0].sname.as_deref(), Some("Bo"));
            }
            res.code()
        }
        other => panic!("{other:?}"),
    };
    let r = req(&mut sim, a, message(to_sname("Bo"), "psst"));
    assert_eq!(code_in(&r), 812, "PrivateMessaging is F by default");
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            set_props(&[("PrivateMessaging", "T")], &[])
        )),
        200
    );
    let r = req(&mut sim, a, message(to_sname("bo"), "psst"));
    assert_eq!(code_in(&r), 200);
    assert_eq!(
        received(&mut sim, b),
        vec![("psst".to_string(), None, Some("Al".to_string()))]
    );
    assert!(received(&mut sim, c).is_empty(), "private");
    let r = req(&mut sim, a, message(to_sname("Nobody"), "x"));
    assert_eq!(code_of(&r), 531);
    assert_eq!(
        code_of(&req(
            &mut sim,
            b,
            set_props(&[], &[("PrivateMessaging", "F")])
        )),
        200
    );
    let r = req(&mut sim, a, message(to_sname("Bo"), "x"));
    assert_eq!(code_in(&r), 813);
    assert_eq!(
        code_of(&req(
            &mut sim,
            b,
            set_props(&[], &[("PrivateMessaging", "T")])
        )),
        200
    );
    let block = Primitive::BlockEntityRequest(Box::new(BlockLists {
        block_list: Some(AccessList {
            in_use: Some(true),
            add_list: Some(EntityList {
                screen_name: vec![sname("Al", G)],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, block)), 200);
    let r = req(&mut sim, a, message(to_sname("Bo"), "x"));
    assert_eq!(code_in(&r), 532);
    assert!(received(&mut sim, b).is_empty());
}

// ---- durability and accounts -----------------------------------------------------------

#[test]
fn groups_survive_a_restart_but_joining_does_not() {
    let mut sim = new_sim();
    let a = with_group(
        &mut sim,
        &[
            ("Name", "Chat"),
            ("AccessType", "Restricted"),
            ("Validity", "60"),
        ],
    );
    assert_eq!(code_of(&req(&mut sim, a, add(&[BOB, CAROL]))), 200);
    assert_eq!(code_of(&req(&mut sim, a, access(&[], &[BOB], &[]))), 200);
    assert!(matches!(
        req(&mut sim, a, reject(&[DAVE], &[])),
        Primitive::RejectListResponse(_)
    ));
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[], &[("ShowID", "T")]))),
        200
    );
    assert_eq!(
        code_of(&req(&mut sim, a, subscribe(SubscribeType::Set))),
        200
    );
    assert!(
        sim.store
            .load()
            .unwrap()
            .iter()
            .any(|r| r.table == Table::Groups && r.key == G)
    );
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    let r = get_props(&mut sim, a);
    assert_eq!(prop(&r, false, "Name").as_deref(), Some("Chat"));
    assert_eq!(prop(&r, false, "AccessType").as_deref(), Some("Restricted"));
    assert_eq!(prop(&r, false, "Validity").as_deref(), Some("60"));
    assert_eq!(prop(&r, false, "ActiveUsers").as_deref(), Some("0"));
    assert_eq!(
        prop(&r, false, "MaxActiveUsers").as_deref(),
        Some("500"),
        "the configured ceiling when never set"
    );
    assert_eq!(prop(&r, true, "ShowID").as_deref(), Some("T"));
    let Primitive::SubscribeGroupNoticeResponse(n) =
        req(&mut sim, a, subscribe(SubscribeType::Get))
    else {
        panic!()
    };
    assert_eq!(n.value.as_deref(), Some("T"));
    let b = login(&mut sim, "bob", Version::V1_2);
    let Primitive::GetGroupMembersResponse(m) =
        req(&mut sim, b, Primitive::GetGroupMembersRequest(group_req(G)))
    else {
        panic!("bob is still a moderator")
    };
    assert_eq!(m.users.unwrap().user_list.unwrap().user.len(), 1);
    let Primitive::RejectListResponse(r) = req(&mut sim, b, reject(&[], &[])) else {
        panic!()
    };
    assert_eq!(r.user_list.unwrap().user[0].user_id.as_deref(), Some(DAVE));
    let d = login(&mut sim, "dave", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, d, join("Da"))), 809);
    // alice is not joined after the restart: she joins again.
    assert_eq!(joined(&mut sim, a), Vec::<(String, Option<String>)>::new());
    assert!(matches!(
        req(&mut sim, a, join("Al")),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, a, message(to_group(G), "x"))), 200);
}

#[test]
fn deleting_an_account_deletes_its_groups_and_memberships() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(
        code_of(&req(&mut sim, b, create_with("wv:bob/b", &[], Some("Bo")))),
        200
    );
    let add_alice = Primitive::AddGroupMembersRequest(Box::new(GroupMembersRequest {
        group_id: Some("wv:bob/b".into()),
        user_list: Some(user_list(&[ALICE])),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, add_alice)), 200);
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    sim.admin(AdminCommand::DeleteUser {
        user_id: "alice".into(),
    })
    .unwrap();
    let _ = a;
    assert_eq!(code_of(&get_props(&mut sim, b)), 800);
    sim.restart();
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(code_of(&get_props(&mut sim, b)), 800);
    let Primitive::GetGroupMembersResponse(m) = req(
        &mut sim,
        b,
        Primitive::GetGroupMembersRequest(group_req("wv:bob/b")),
    ) else {
        panic!()
    };
    assert!(m.users.is_none(), "alice is gone from bob's group");
}

#[test]
fn malformed_requests_get_codes() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[]);
    let b = login(&mut sim, "bob", Version::V1_3);
    let own = |list: &[(&str, &str)]| {
        Some(Properties {
            property: props(list),
            ..Default::default()
        })
    };
    let bad_create = Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some("wv:alice/other".into()),
        own_properties: own(&[("Name", "x")]),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, bad_create)), 806);
    let bad_join = Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(G.into()),
        own_properties: own(&[("AutoJoin", "sometimes")]),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, b, bad_join)), 806);
    let good_join = Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(G.into()),
        own_properties: own(&[("ShowID", "T")]),
        subscribe_notification: Some(true),
        ..Default::default()
    }));
    assert!(matches!(
        req(&mut sim, b, good_join),
        Primitive::JoinGroupResponse(_)
    ));
    assert_eq!(
        joined(&mut sim, a)[1],
        ("bob".to_string(), Some(BOB.to_string()))
    );
    let Primitive::LeaveGroupResponse(r) =
        req(&mut sim, b, Primitive::LeaveGroupRequest(Box::default()))
    else {
        panic!()
    };
    assert_eq!(r.result.unwrap().code(), 402);
    assert_eq!(
        code_of(&req(
            &mut sim,
            a,
            Primitive::DeleteGroupRequest(Box::default())
        )),
        402
    );
    assert_eq!(code_of(&req(&mut sim, a, access(&[], &[], &[]))), 402);
    assert_eq!(code_of(&req(&mut sim, a, remove(&[]))), 402);
    let unknown = Primitive::SetGroupPropsRequest(Box::new(SetGroupPropsRequest {
        group_id: Some("wv:alice/none".into()),
        ..Default::default()
    }));
    assert_eq!(code_of(&req(&mut sim, a, unknown)), 800);
    // A forward to the group comes from the forwarder, by screen name (dave gets the
    // message by notify, so it waits in his mailbox to be forwarded).
    assert_eq!(code_of(&req(&mut sim, b, leave(G))), 200);
    let c = login(&mut sim, "carol", Version::V1_2);
    assert!(matches!(
        req(&mut sim, c, join("Ca")),
        Primitive::JoinGroupResponse(_)
    ));
    let d = login(&mut sim, "dave", Version::V1_2);
    let notify = Primitive::SetDeliveryMethodRequest(Box::new(
        imps_engine::codec::im::SetDeliveryMethodRequest {
            delivery_method: Some(imps_engine::codec::capability::DeliveryMethod::Notify),
            ..Default::default()
        },
    ));
    assert_eq!(code_of(&req(&mut sim, d, notify)), 200);
    let to_dave = Primitive::SendMessageRequest(Box::new(SendMessageRequest {
        delivery_report: Some(false),
        message_info: Some(MessageInfo {
            content_type: Some("text/plain".into()),
            recipient: Some(Recipient {
                user: vec![User::id(DAVE)],
                ..Default::default()
            }),
            ..Default::default()
        }),
        content_data: Some("forward me".into()),
        ..Default::default()
    }));
    let Primitive::SendMessageResponse(sent) = req(&mut sim, c, to_dave) else {
        panic!()
    };
    take(&mut sim, d);
    assert!(matches!(
        req(&mut sim, d, join("Da")),
        Primitive::JoinGroupResponse(_)
    ));
    let fwd =
        Primitive::ForwardMessageRequest(Box::new(imps_engine::codec::im::ForwardMessageRequest {
            message_id: sent.message_id,
            recipient: Some(Recipient {
                group: vec![to_group(G)],
                ..Default::default()
            }),
            ..Default::default()
        }));
    assert_eq!(code_of(&req(&mut sim, d, fwd)), 200);
    assert_eq!(
        received(&mut sim, a),
        vec![("forward me".to_string(), None, Some("Da".to_string()))]
    );
}

/// The screen names a notice says joined (1.2: UserMapList).
fn joined_names(n: &imps_engine::codec::group::GroupChangeNotice) -> Vec<String> {
    n.joined
        .as_ref()
        .and_then(|j| j.user_map_list.as_ref())
        .and_then(|m| m.user_mapping.as_ref())
        .map(|m| mappings(m).into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

#[test]
fn a_join_storm_is_told_in_coalesced_notices_and_a_message_then_reaches_everyone() {
    const N: usize = 200;
    let mut sim = new_sim();
    let users: Vec<String> = (0..N).map(|i| format!("u{i:03}")).collect();
    for u in &users {
        sim.provision(u, "pw");
    }
    let a = with_group(&mut sim, &[("MaxActiveUsers", "500")]);
    let clients: Vec<usize> = users
        .iter()
        .map(|u| login(&mut sim, u, Version::V1_2))
        .collect();
    // 200 joins with notices on, 5 ms apart: one second of virtual time.
    for (i, c) in clients.iter().enumerate() {
        let name = format!("S{i:03}");
        assert!(matches!(
            req(&mut sim, *c, join_as(G, Some(&name), false, true)),
            Primitive::JoinGroupResponse(_)
        ));
        sim.advance(5);
    }
    sim.advance(1_000);
    let mut total = 0;
    for (i, c) in clients.iter().enumerate() {
        let n = notices(&mut sim, *c);
        // Every later joiner is told, in at most two notices (one at once, one coalesced).
        assert!(n.len() <= 2, "user {i} got {} notices", n.len());
        let mut heard: Vec<String> = n.iter().flat_map(joined_names).collect();
        heard.sort();
        let later: Vec<String> = (i + 1..N).map(|j| format!("S{j:03}")).collect();
        assert_eq!(heard, later, "user {i}");
        total += n.len();
    }
    // Without coalescing this would be N·(N−1)/2 = 19,900 notices.
    assert!(total <= 2 * N, "{total} notices");
    assert!(notices(&mut sim, a).is_empty(), "alice did not subscribe");
    // One message from the last joiner reaches alice and the 199 others, once each.
    let last = clients[N - 1];
    assert_eq!(
        code_of(&req(&mut sim, last, message(to_group(G), "hello all"))),
        200
    );
    sim.advance(10);
    for c in std::iter::once(a).chain(clients[..N - 1].iter().copied()) {
        let got = received(&mut sim, c);
        assert_eq!(got.len(), 1, "client {c}");
        assert_eq!(got[0].0, "hello all");
        assert_eq!(got[0].2.as_deref(), Some("S199"));
    }
    assert!(received(&mut sim, last).is_empty());
}

#[test]
fn auto_delete_waits_for_the_configured_time_and_a_join_in_between_keeps_the_group() {
    let mut config = test_config();
    config.groups.auto_delete_after_secs = 60;
    let mut sim = new_sim_with(config);
    let a = with_group(&mut sim, &[("AutoDelete", "T")]);
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, a, leave(G))), 200);
    sim.advance(30_000);
    // Still there half-way; bob joins and leaves, which starts the wait again.
    assert!(matches!(
        req(&mut sim, b, join("Bo")),
        Primitive::JoinGroupResponse(_)
    ));
    sim.advance(40_000);
    assert!(matches!(
        get_props(&mut sim, b),
        Primitive::GetGroupPropsResponse(_)
    ));
    assert_eq!(code_of(&req(&mut sim, b, leave(G))), 200);
    sim.advance(59_000);
    assert!(matches!(
        get_props(&mut sim, b),
        Primitive::GetGroupPropsResponse(_)
    ));
    sim.advance(2_000);
    assert_eq!(code_of(&get_props(&mut sim, b)), 800);
    // Durably.
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
}

#[test]
fn a_rejected_user_trying_to_join_is_told_to_1_3_subscribers_as_joined_blocked() {
    let mut config = test_config();
    config.groups.notice_interval_ms = 0;
    let mut sim = new_sim_with(config);
    let a = with_group(&mut sim, &[]);
    let c = login(&mut sim, "carol", Version::V1_3);
    let d = login(&mut sim, "dave", Version::V1_2);
    for x in [c, d] {
        assert!(matches!(
            req(&mut sim, x, join_as(G, None, false, true)),
            Primitive::JoinGroupResponse(_)
        ));
    }
    notices(&mut sim, c);
    notices(&mut sim, d);
    assert!(matches!(
        req(&mut sim, a, reject(&[BOB], &[])),
        Primitive::RejectListResponse(_)
    ));
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(code_of(&req(&mut sim, b, join("Bobby"))), 809);
    let n = notices(&mut sim, c);
    assert_eq!(n.len(), 1);
    let blocked = n[0]
        .joined_blocked
        .as_ref()
        .unwrap()
        .user_list
        .as_ref()
        .unwrap();
    assert_eq!(blocked.screen_name[0].sname.as_deref(), Some("Bobby"));
    assert!(n[0].joined.is_none());
    assert!(notices(&mut sim, d).is_empty(), "1.2 has no JoinedBlocked");
}

// ---- AutoJoin, Validity, stored records of schema v1 --------------------------------------

#[test]
fn auto_join_rejoins_at_the_next_login_under_the_last_screen_name_until_left_on_purpose() {
    let mut config = test_config();
    config.groups.notice_interval_ms = 0;
    let mut sim = new_sim_with(config);
    let a = with_group(&mut sim, &[]);
    assert_eq!(
        code_of(&req(&mut sim, a, subscribe(SubscribeType::Set))),
        200
    );
    let b = login(&mut sim, "bob", Version::V1_2);
    let with_auto_join = Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
        group_id: Some(G.into()),
        screen_name: Some(sname("Bo", G)),
        own_properties: Some(Properties {
            property: props(&[("AutoJoin", "T")]),
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert!(matches!(
        req(&mut sim, b, with_auto_join),
        Primitive::JoinGroupResponse(_)
    ));
    notices(&mut sim, a);
    // bob's session ends; a restart in between changes nothing (it is stored).
    sim.command(b, Command::Logout);
    assert_eq!(joined(&mut sim, a), vec![("Al".to_string(), None)]);
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert!(matches!(
        req(&mut sim, a, join_as(G, Some("Al"), false, true)),
        Primitive::JoinGroupResponse(_)
    ));
    let b = login(&mut sim, "bob", Version::V1_3);
    assert_eq!(
        joined(&mut sim, a),
        vec![("Al".to_string(), None), ("Bo".to_string(), None)],
        "bob joined again at login"
    );
    let n = notices(&mut sim, a);
    assert_eq!(n.len(), 1);
    // He is joined: the group's messages reach him.
    assert_eq!(
        code_of(&req(&mut sim, a, message(to_group(G), "back?"))),
        200
    );
    assert_eq!(received(&mut sim, b)[0].0, "back?");
    // An explicit leave ends it: the next login does not join.
    assert_eq!(code_of(&req(&mut sim, b, leave(G))), 200);
    sim.command(b, Command::Logout);
    login(&mut sim, "bob", Version::V1_2);
    assert_eq!(joined(&mut sim, a), vec![("Al".to_string(), None)]);
}

#[test]
fn a_group_ends_when_its_validity_runs_out_even_across_a_restart() {
    let mut sim = new_sim();
    let a = with_group(&mut sim, &[("Validity", "3600")]);
    sim.advance(1_800_000);
    // Set again, it counts from now.
    assert_eq!(
        code_of(&req(&mut sim, a, set_props(&[("Validity", "3600")], &[]))),
        200
    );
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert!(matches!(
        req(&mut sim, a, join("Al")),
        Primitive::JoinGroupResponse(_)
    ));
    sim.advance(3_500_000);
    assert!(matches!(
        get_props(&mut sim, a),
        Primitive::GetGroupPropsResponse(_)
    ));
    sim.advance(200_000);
    assert_eq!(put_out(&mut sim, a), vec![800], "joined sessions are told");
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_2);
    assert_eq!(code_of(&get_props(&mut sim, a)), 800);
}

/// A group record as schema v1 stored it: `wv:alice/old@example.org` named Old, topic t,
/// AutoJoin and Validity 3600 set, alice the owner, bob a member with own AutoJoin and ShowID
/// T, both subscribed to notices.
const GROUP_V1: &str = "010000001877763a616c6963652f6f6c64406578616d706c652e6f72671477763a616c696365406578616d706c652e6f726701034f6c6401017400000000010001901c0000021477763a616c696365406578616d706c652e6f7267021277763a626f62406578616d706c652e6f72670000011277763a626f62406578616d706c652e6f7267010101021477763a616c696365406578616d706c652e6f72671277763a626f62406578616d706c652e6f7267";

#[test]
fn a_group_record_of_schema_v1_is_read_after_the_upgrade() {
    let mut sim = new_sim();
    let bytes: Vec<u8> = (0..GROUP_V1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&GROUP_V1[i..i + 2], 16).unwrap())
        .collect();
    sim.server.handle(
        sim.now,
        imps_engine::server::Input::Restore(vec![imps_engine::store::Record {
            table: Table::Groups,
            key: "wv:alice/old@example.org".into(),
            value: bytes,
        }]),
    );
    let b = login(&mut sim, "bob", Version::V1_2);
    let p = req(
        &mut sim,
        b,
        Primitive::GetGroupPropsRequest(group_req("wv:alice/old@example.org")),
    );
    assert_eq!(prop(&p, false, "Name").as_deref(), Some("Old"));
    assert_eq!(prop(&p, false, "Topic").as_deref(), Some("t"));
    assert_eq!(prop(&p, false, "Validity").as_deref(), Some("3600"));
    assert_eq!(prop(&p, true, "AutoJoin").as_deref(), Some("T"));
    assert_eq!(prop(&p, true, "ShowID").as_deref(), Some("T"));
    assert_eq!(prop(&p, true, "PrivilegeLevel").as_deref(), Some("User"));
}

// ---- public groups (operator) ----------------------------------------------------------

/// The operator creates a public group: `Type` Public, any user joins it without being a
/// member, no user may administer it, deleting the account named `system` leaves it, and it
/// survives a restart. Bad ids, duplicates and other domains are refused with a reason.
#[test]
fn operator_creates_a_public_group_anyone_joins() {
    const P: &str = "wv:lobby/chat@example.org";
    let mut sim = new_sim();
    let ok = sim
        .admin(AdminCommand::CreatePublicGroup {
            group_id: "wv:Lobby/chat".into(),
            name: Some("Lobby".into()),
            topic: Some("anything".into()),
        })
        .unwrap();
    assert!(ok.contains(P), "{ok}");
    for bad in ["wv:lobby/chat", "wv:lobby", "wv:x/y@elsewhere.org", "wv:/@"] {
        assert!(
            sim.admin(AdminCommand::CreatePublicGroup {
                group_id: bad.into(),
                name: None,
                topic: None,
            })
            .is_err(),
            "{bad}"
        );
    }
    let b = login(&mut sim, "bob", Version::V1_2);
    let got = req(&mut sim, b, Primitive::GetGroupPropsRequest(group_req(P)));
    assert_eq!(prop(&got, false, "Type").as_deref(), Some("Public"));
    assert_eq!(prop(&got, false, "Name").as_deref(), Some("Lobby"));
    assert!(matches!(
        req(&mut sim, b, join_as(P, Some("Bo"), false, false)),
        Primitive::JoinGroupResponse(_)
    ));
    let set = Primitive::SetGroupPropsRequest(Box::new(SetGroupPropsRequest {
        group_id: Some(P.into()),
        group_properties: Some(GroupProperties {
            property: props(&[("Topic", "mine")]),
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(
        code_of(&req(&mut sim, b, set)),
        816,
        "users do not administer it"
    );
    assert!(
        sim.admin(AdminCommand::DeleteUser {
            user_id: "system".into()
        })
        .is_err()
    );
    sim.restart();
    let c = login(&mut sim, "carol", Version::V1_3);
    let got = req(&mut sim, c, Primitive::GetGroupPropsRequest(group_req(P)));
    assert_eq!(prop(&got, false, "Type").as_deref(), Some("Public"));
    assert!(matches!(
        req(&mut sim, c, join_as(P, Some("Ca"), false, false)),
        Primitive::JoinGroupResponse(_)
    ));
}
