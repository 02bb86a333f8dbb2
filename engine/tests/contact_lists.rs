//! Contact lists (CSP-REFERENCE §2.3) on virtual time: create, list, manage, delete, the
//! default list, limits and errors, durability across a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{ClientConfig, Command, LoginScheme};
use imps_engine::codec::common::{
    NickList, NickName, Properties, Property, PropertyName, RemoveNickList,
};
use imps_engine::codec::presence::{
    CreateListRequest, DeleteListRequest, ListManageRequest, ListManageResponse,
};
use imps_engine::codec::{Message, Primitive, Version};
use imps_engine::server::AdminCommand;
use sim::{Sim, code_of, first, test_config};

/// A server with alice, bob, carol and dave, and alice logged in with `version`.
fn setup(version: Version, config: imps_engine::server::Config) -> (Sim, String) {
    let mut sim = Sim::new(config, 31);
    for u in ["alice", "bob", "carol", "dave"] {
        sim.provision(u, "pw");
    }
    let a = sim.add_client(ClientConfig::new(
        version,
        "alice",
        "pw",
        LoginScheme::Password,
    ));
    sim.command(a, Command::Login);
    assert!(sim.clients[a].is_ready());
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    (sim, sid)
}

/// Sends `p` in alice's session with a fresh TransactionID (time moves on by 1 ms per request).
fn ask(sim: &mut Sim, version: Version, sid: &str, p: Primitive) -> Message {
    sim.now += 1;
    let tid = format!("t{}", sim.now);
    sim.raw(&Sim::request(version, Some(sid), Some(&tid), p))
        .expect("an answer")
}

fn create(name: &str, users: &[&str], props: &[(PropertyName, &str)]) -> Primitive {
    Primitive::CreateListRequest(Box::new(CreateListRequest {
        contact_list: Some(name.into()),
        nick_list: (!users.is_empty()).then(|| NickList {
            user_id: users.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }),
        contact_list_properties: (!props.is_empty()).then(|| properties(props)),
        ..Default::default()
    }))
}

fn properties(props: &[(PropertyName, &str)]) -> Properties {
    Properties {
        property: props
            .iter()
            .map(|(n, v)| Property {
                name: Some(n.clone()),
                value: Some(v.to_string()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn manage(list: &str, f: impl FnOnce(&mut ListManageRequest)) -> Primitive {
    let mut r = ListManageRequest {
        contact_list: Some(list.into()),
        ..Default::default()
    };
    f(&mut r);
    Primitive::ListManageRequest(Box::new(r))
}

/// The ListManage-Response to a ReceiveList=T request: the list's members and properties.
fn members(sim: &mut Sim, version: Version, sid: &str, list: &str) -> ListManageResponse {
    let r = ask(
        sim,
        version,
        sid,
        manage(list, |m| m.receive_list = Some(true)),
    );
    match first(&r) {
        Primitive::ListManageResponse(lm) => (**lm).clone(),
        other => panic!("{other:?}"),
    }
}

fn get_list(sim: &mut Sim, version: Version, sid: &str) -> (Vec<String>, Option<String>) {
    let r = ask(sim, version, sid, Primitive::GetListRequest(Box::default()));
    match first(&r) {
        Primitive::GetListResponse(g) => {
            let mut lists = g.contact_list.clone();
            if let Some(ids) = &g.contact_list_id_list {
                lists.extend(ids.contact_list.iter().cloned());
            }
            (lists, g.default_contact_list.clone())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn lists_are_created_listed_managed_and_deleted_with_one_default() {
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    let r = ask(
        &mut sim,
        v,
        &sid,
        create(
            "wv:alice/Friends",
            &["bob", "wv:Carol@example.org"],
            &[(PropertyName::DisplayName, "Friends")],
        ),
    );
    assert_eq!(code_of(first(&r)), 200);
    let r = ask(&mut sim, v, &sid, create("colleagues", &[], &[]));
    assert_eq!(code_of(first(&r)), 402, "lists live under wv:<self>/…");
    let r = ask(
        &mut sim,
        v,
        &sid,
        create("wv:alice/colleagues@example.org", &["dave"], &[]),
    );
    assert_eq!(code_of(first(&r)), 200);
    // The first list is the default; 1.2 names it only in DefaultContactList.
    let (lists, default) = get_list(&mut sim, v, &sid);
    assert_eq!(default.as_deref(), Some("wv:alice/friends@example.org"));
    assert_eq!(lists, vec!["wv:alice/colleagues@example.org".to_string()]);

    // Members with ReceiveList.
    let lm = members(&mut sim, v, &sid, "wv:alice/friends");
    assert_eq!(lm.result.as_ref().unwrap().code(), 200);
    let nicks = lm.nick_list.as_ref().unwrap();
    assert_eq!(
        nicks.user_id,
        vec![
            "wv:bob@example.org".to_string(),
            "wv:carol@example.org".to_string()
        ]
    );
    let props = lm.contact_list_properties.as_ref().unwrap();
    assert!(props.property.iter().any(
        |p| p.name == Some(PropertyName::DisplayName) && p.value.as_deref() == Some("Friends")
    ));

    // Add with a nickname, remove one, without ReceiveList: no NickList.
    let r = ask(
        &mut sim,
        v,
        &sid,
        manage("wv:alice/friends", |m| {
            m.add_nick_list = Some(NickList {
                nick_name: vec![NickName {
                    name: Some("Dave D".into()),
                    user_id: Some("dave".into()),
                    ..Default::default()
                }],
                ..Default::default()
            });
            m.receive_list = Some(false);
        }),
    );
    let Primitive::ListManageResponse(lm) = first(&r) else {
        panic!("{r:?}")
    };
    assert!(lm.nick_list.is_none());
    ask(
        &mut sim,
        v,
        &sid,
        manage("wv:alice/friends", |m| {
            m.remove_nick_list = Some(RemoveNickList {
                user_id: vec!["wv:BOB".into()],
                ..Default::default()
            })
        }),
    );
    let lm = members(&mut sim, v, &sid, "wv:alice/friends");
    let nicks = lm.nick_list.as_ref().unwrap();
    assert_eq!(nicks.user_id, vec!["wv:carol@example.org".to_string()]);
    assert_eq!(nicks.nick_name[0].name.as_deref(), Some("Dave D"));

    // Default moves with Default=T, and to the oldest remaining list when the default goes.
    ask(
        &mut sim,
        v,
        &sid,
        manage("wv:alice/colleagues", |m| {
            m.contact_list_properties = Some(properties(&[(PropertyName::Default, "T")]))
        }),
    );
    assert_eq!(
        get_list(&mut sim, v, &sid).1.as_deref(),
        Some("wv:alice/colleagues@example.org")
    );
    let del = |l: &str| {
        Primitive::DeleteListRequest(Box::new(DeleteListRequest {
            contact_list: Some(l.into()),
            ..Default::default()
        }))
    };
    assert_eq!(
        code_of(first(&ask(&mut sim, v, &sid, del("wv:alice/colleagues")))),
        200
    );
    assert_eq!(
        get_list(&mut sim, v, &sid),
        (vec![], Some("wv:alice/friends@example.org".to_string()))
    );
    assert_eq!(
        code_of(first(&ask(&mut sim, v, &sid, del("wv:alice/colleagues")))),
        700
    );
}

#[test]
fn errors_and_limits() {
    let mut config = test_config();
    config.contact_lists.max_lists = 2;
    config.contact_lists.max_contacts = 2;
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, config);
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/a", &[], &[])
        ))),
        200
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/A", &[], &[])
        ))),
        701,
        "ids are case-insensitive"
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:bob/mine", &[], &[])
        ))),
        402
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/x@elsewhere.net", &[], &[])
        ))),
        516
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/b", &[], &[(PropertyName::Topic, "x")])
        ))),
        752
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/b", &[], &[(PropertyName::Default, "maybe")])
        ))),
        752
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/b", &["bob", "carol", "dave"], &[])
        ))),
        754
    );
    // Unknown and foreign users are refused one by one (201 with details); the rest is kept.
    let r = ask(
        &mut sim,
        v,
        &sid,
        create("wv:alice/b", &["bob", "nobody", "x@elsewhere.net"], &[]),
    );
    let Primitive::Status(st) = first(&r) else {
        panic!("{r:?}")
    };
    let res = st.result.as_ref().unwrap();
    assert_eq!(res.code(), 201);
    let codes: Vec<(u32, Vec<String>)> = res
        .detailed_result
        .iter()
        .map(|d| (d.code.unwrap(), d.user_id.clone()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (516, vec!["x@elsewhere.net".to_string()]),
            (531, vec!["nobody".to_string()])
        ]
    );
    assert_eq!(
        code_of(first(&ask(
            &mut sim,
            v,
            &sid,
            create("wv:alice/c", &[], &[])
        ))),
        753
    );
    let r = ask(&mut sim, v, &sid, manage("wv:alice/nope", |_| {}));
    assert_eq!(code_of(first(&r)), 700);
    let r = ask(
        &mut sim,
        v,
        &sid,
        manage("wv:alice/b", |m| {
            m.add_nick_list = Some(NickList {
                user_id: vec!["carol".into(), "dave".into()],
                ..Default::default()
            })
        }),
    );
    assert_eq!(
        code_of(first(&r)),
        754,
        "bob is there: carol and dave would make 3 of 2"
    );
}

#[test]
fn answers_follow_the_session_version() {
    // 1.1: the default list is among the ContactList ids, and ListManage always returns members.
    let (mut sim, sid) = setup(Version::V1_1, test_config());
    ask(
        &mut sim,
        Version::V1_1,
        &sid,
        create("wv:alice/friends", &["bob"], &[]),
    );
    let (lists, default) = get_list(&mut sim, Version::V1_1, &sid);
    assert_eq!(lists, vec!["wv:alice/friends@example.org".to_string()]);
    assert_eq!(default.as_deref(), Some("wv:alice/friends@example.org"));
    let r = ask(
        &mut sim,
        Version::V1_1,
        &sid,
        manage("wv:alice/friends", |_| {}),
    );
    let Primitive::ListManageResponse(lm) = first(&r) else {
        panic!("{r:?}")
    };
    assert!(lm.nick_list.is_some());

    // 1.3: CreateList-Response on success, ContactListIDList in GetList-Response.
    let (mut sim, sid) = setup(Version::V1_3, test_config());
    let r = ask(
        &mut sim,
        Version::V1_3,
        &sid,
        create(
            "wv:alice/friends",
            &["bob"],
            &[(PropertyName::DisplayName, "F")],
        ),
    );
    let Primitive::CreateListResponse(c) = first(&r) else {
        panic!("{r:?}")
    };
    assert_eq!(
        c.contact_list.as_deref(),
        Some("wv:alice/friends@example.org")
    );
    ask(
        &mut sim,
        Version::V1_3,
        &sid,
        create("wv:alice/work", &[], &[]),
    );
    let r = ask(
        &mut sim,
        Version::V1_3,
        &sid,
        Primitive::GetListRequest(Box::default()),
    );
    let Primitive::GetListResponse(g) = first(&r) else {
        panic!("{r:?}")
    };
    assert!(g.contact_list.is_empty());
    assert_eq!(
        g.contact_list_id_list.as_ref().unwrap().contact_list,
        vec!["wv:alice/work@example.org".to_string()]
    );
}

#[test]
fn lists_survive_a_restart_and_go_with_a_deleted_account() {
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    ask(
        &mut sim,
        v,
        &sid,
        create(
            "wv:alice/friends",
            &["bob", "carol"],
            &[(PropertyName::DisplayName, "Friends")],
        ),
    );
    ask(
        &mut sim,
        v,
        &sid,
        create("wv:alice/work", &["dave"], &[(PropertyName::Default, "T")]),
    );
    sim.restart();
    let a = sim.add_client(ClientConfig::new(v, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    let (lists, default) = get_list(&mut sim, v, &sid);
    assert_eq!(lists, vec!["wv:alice/friends@example.org".to_string()]);
    assert_eq!(default.as_deref(), Some("wv:alice/work@example.org"));
    let lm = members(&mut sim, v, &sid, "wv:alice/friends");
    assert_eq!(lm.nick_list.as_ref().unwrap().user_id.len(), 2);

    sim.admin(AdminCommand::DeleteUser {
        user_id: "alice".into(),
    })
    .unwrap();
    sim.restart();
    sim.provision("alice", "pw");
    let a = sim.add_client(ClientConfig::new(v, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    assert_eq!(
        get_list(&mut sim, v, &sid),
        (vec![], None),
        "a new account starts without the old lists"
    );
}
