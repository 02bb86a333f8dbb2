//! Block and grant lists (CSP-REFERENCE §2.5, §2.9) on virtual time: GetBlockedList in the
//! three version shapes, BlockEntity additions, removals and replacement, both spellings of
//! the in-use flags, refused entries, the size limit, durability and account deletion, and the
//! 1.1 `BlockUser-Request` name on the wire.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{ClientConfig, Command, LoginScheme};
use imps_engine::codec::common::{EntityList, ScreenName};
use imps_engine::codec::im::{AccessList, BlockLists};
use imps_engine::codec::{Message, Primitive, Version};
use imps_engine::server::{AdminCommand, Input, Output, Request};
use imps_engine::store::{Store, Table};
use sim::{Sim, code_of, first, test_config};

/// A server with alice, bob, carol and dave, and alice logged in with `version`.
fn setup(version: Version, config: imps_engine::server::Config) -> (Sim, String) {
    let mut sim = Sim::new(config, 47);
    for u in ["alice", "bob", "carol", "dave"] {
        sim.provision(u, "pw");
    }
    let sid = login(&mut sim, version);
    (sim, sid)
}

/// Logs alice in once more with `version`; returns the session id.
fn login(sim: &mut Sim, version: Version) -> String {
    let a = sim.add_client(ClientConfig::new(
        version,
        "alice",
        "pw",
        LoginScheme::Password,
    ));
    sim.command(a, Command::Login);
    assert!(sim.clients[a].is_ready());
    sim.clients[a].session_id().unwrap().to_owned()
}

/// Sends `p` in alice's session with a fresh TransactionID (time moves on by 1 ms per request).
fn ask(sim: &mut Sim, version: Version, sid: &str, p: Primitive) -> Message {
    sim.now += 1;
    let tid = format!("t{}", sim.now);
    sim.raw(&Sim::request(version, Some(sid), Some(&tid), p))
        .expect("an answer")
}

fn users(users: &[&str]) -> EntityList {
    EntityList {
        user_id: users.iter().map(|u| u.to_string()).collect(),
        ..Default::default()
    }
}

fn block(f: impl FnOnce(&mut BlockLists)) -> Primitive {
    let mut r = BlockLists::default();
    f(&mut r);
    Primitive::BlockEntityRequest(Box::new(r))
}

/// A BlockList or GrantList of a request.
fn list(
    in_use: Option<bool>,
    entity: Option<EntityList>,
    add: Option<EntityList>,
    remove: Option<EntityList>,
) -> Option<AccessList> {
    Some(AccessList {
        in_use,
        entity_list: entity,
        add_list: add,
        remove_list: remove,
        ..Default::default()
    })
}

fn get(sim: &mut Sim, version: Version, sid: &str) -> BlockLists {
    let r = ask(
        sim,
        version,
        sid,
        Primitive::GetBlockedListRequest(Box::default()),
    );
    match first(&r) {
        Primitive::GetBlockedListResponse(b) => (**b).clone(),
        other => panic!("{other:?}"),
    }
}

/// The entries of one list of a response.
fn entries(l: &Option<AccessList>) -> EntityList {
    l.as_ref()
        .expect("both lists are always answered")
        .entity_list
        .clone()
        .expect("the whole list as EntityList")
}

/// (block in use, blocked users, grant in use, granted users), whatever the version's shape.
fn summary(b: &BlockLists) -> (bool, Vec<String>, bool, Vec<String>) {
    (
        b.block_in_use().unwrap(),
        entries(&b.block_list).user_id,
        b.grant_in_use().unwrap(),
        entries(&b.grant_list).user_id,
    )
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn code(sim: &mut Sim, version: Version, sid: &str, p: Primitive) -> u32 {
    code_of(first(&ask(sim, version, sid, p)))
}

#[test]
fn empty_lists_in_each_version_shape() {
    for v in [Version::V1_1, Version::V1_2] {
        let (mut sim, sid) = setup(v, test_config());
        let b = get(&mut sim, v, &sid);
        // ≤ 1.2: InUse inside the lists, nothing beside them; the block list is in use at first.
        assert_eq!(b.block_list.as_ref().unwrap().in_use, Some(true), "{v:?}");
        assert_eq!(b.grant_list.as_ref().unwrap().in_use, Some(false), "{v:?}");
        assert_eq!(b.block_list_in_use, None);
        assert_eq!(b.grant_list_in_use, None);
        assert_eq!(entries(&b.block_list), EntityList::default());
        assert_eq!(entries(&b.grant_list), EntityList::default());
    }
    let v = Version::V1_3;
    let (mut sim, sid) = setup(v, test_config());
    let b = get(&mut sim, v, &sid);
    // 1.3: the flags beside the lists, no InUse inside.
    assert_eq!(b.block_list_in_use, Some(true));
    assert_eq!(b.grant_list_in_use, Some(false));
    assert_eq!(b.block_list.as_ref().unwrap().in_use, None);
    assert_eq!(b.grant_list.as_ref().unwrap().in_use, None);
    assert_eq!(entries(&b.block_list), EntityList::default());
    assert_eq!(entries(&b.grant_list), EntityList::default());
}

#[test]
fn entries_are_added_removed_and_replaced() {
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    let add = block(|r| {
        r.block_list = list(
            None,
            None,
            Some(EntityList {
                user_id: ids(&["Bob", "wv:carol@EXAMPLE.org", "x@elsewhere.net"]),
                group_id: ids(&["wv:/Chat"]),
                screen_name: vec![ScreenName {
                    sname: Some("Troll".into()),
                    group_id: Some("wv:/chat@example.org".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            None,
        );
        r.grant_list = list(None, None, Some(users(&["dave"])), None);
    });
    assert_eq!(code(&mut sim, v, &sid, add), 200);
    let b = get(&mut sim, v, &sid);
    // Canonical ids; users of other domains are kept; the block list is in use by default.
    assert_eq!(
        summary(&b),
        (
            true,
            ids(&[
                "wv:bob@example.org",
                "wv:carol@example.org",
                "wv:x@elsewhere.net"
            ]),
            false,
            ids(&["wv:dave@example.org"])
        )
    );
    let blocked = entries(&b.block_list);
    assert_eq!(blocked.group_id, ids(&["wv:/chat@example.org"]));
    assert_eq!(blocked.screen_name.len(), 1);
    assert_eq!(blocked.screen_name[0].sname.as_deref(), Some("Troll"));
    assert_eq!(
        blocked.screen_name[0].group_id.as_deref(),
        Some("wv:/chat@example.org")
    );

    // Removal by any spelling; removing what is not there is no error.
    let remove = block(|r| {
        r.block_list = list(
            None,
            None,
            None,
            Some(EntityList {
                user_id: ids(&["wv:BOB@example.org", "nobody", "not an address!"]),
                group_id: ids(&["wv:/CHAT@example.org"]),
                ..Default::default()
            }),
        )
    });
    assert_eq!(code(&mut sim, v, &sid, remove), 200);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        entries(&b.block_list).user_id,
        ids(&["wv:carol@example.org", "wv:x@elsewhere.net"])
    );
    assert!(entries(&b.block_list).group_id.is_empty());

    // EntityList replaces the whole list.
    let replace = block(|r| r.block_list = list(None, Some(users(&["dave"])), None, None));
    assert_eq!(code(&mut sim, v, &sid, replace), 200);
    let b = get(&mut sim, v, &sid);
    let blocked = entries(&b.block_list);
    assert_eq!(blocked.user_id, ids(&["wv:dave@example.org"]));
    assert!(blocked.screen_name.is_empty());
    assert_eq!(
        entries(&b.grant_list).user_id,
        ids(&["wv:dave@example.org"]),
        "the grant list was not in the request"
    );
    // An empty EntityList empties the list.
    let clear = block(|r| r.block_list = list(None, Some(EntityList::default()), None, None));
    assert_eq!(code(&mut sim, v, &sid, clear), 200);
    assert!(
        entries(&get(&mut sim, v, &sid).block_list)
            .user_id
            .is_empty()
    );
}

#[test]
fn in_use_flags_in_both_spellings() {
    // ≤ 1.2: InUse inside the list; an absent flag leaves it as it was.
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    let r = block(|r| {
        r.block_list = list(Some(false), None, Some(users(&["bob"])), None);
        r.grant_list = list(Some(true), None, Some(users(&["carol"])), None);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let s = summary(&get(&mut sim, v, &sid));
    assert_eq!((s.0, s.2), (false, true));
    let r = block(|r| r.block_list = list(None, None, Some(users(&["dave"])), None));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let s = summary(&get(&mut sim, v, &sid));
    assert_eq!((s.0, s.2), (false, true), "no flag, no change");
    // Flags alone, without lists.
    let r = block(|r| {
        r.block_list = list(Some(true), None, None, None);
        r.grant_list = list(Some(false), None, None, None);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let s = summary(&get(&mut sim, v, &sid));
    assert_eq!((s.0, s.2), (true, false));

    // 1.3: BlockListInUse / GrantListInUse beside the lists, even without any list.
    let v = Version::V1_3;
    let (mut sim, sid) = setup(v, test_config());
    let r = block(|r| {
        r.block_list_in_use = Some(false);
        r.grant_list_in_use = Some(true);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        (b.block_list_in_use, b.grant_list_in_use),
        (Some(false), Some(true))
    );
    // A 1.3 client writing the older InUse is understood too.
    let r = block(|r| r.block_list = list(Some(true), None, Some(users(&["bob"])), None));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        (b.block_list_in_use, b.grant_list_in_use),
        (Some(true), Some(true))
    );
    // The same lists seen from a 1.2 session of the same user.
    let sid12 = login(&mut sim, Version::V1_2);
    assert_eq!(
        summary(&get(&mut sim, Version::V1_2, &sid12)),
        (true, ids(&["wv:bob@example.org"]), true, vec![])
    );
}

#[test]
fn refused_entries_get_201_with_details_and_the_rest_applies() {
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    let r = block(|r| {
        r.block_list = list(
            None,
            None,
            Some(EntityList {
                user_id: ids(&["bob", "nobody", "bad address!", "wv:eve@elsewhere.net"]),
                group_id: ids(&["wv:/club", "no group!"]),
                screen_name: vec![ScreenName {
                    sname: None,
                    group_id: Some("wv:/club".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            None,
        );
        r.grant_list = list(None, Some(users(&["ghost"])), None, None);
    });
    let reply = ask(&mut sim, v, &sid, r);
    let Primitive::Status(st) = first(&reply) else {
        panic!("{reply:?}")
    };
    let res = st.result.as_ref().unwrap();
    assert_eq!(res.code(), 201);
    let details: Vec<(u32, Vec<String>, Vec<String>, usize)> = res
        .detailed_result
        .iter()
        .map(|d| {
            (
                d.code.unwrap(),
                d.user_id.clone(),
                d.group_id.clone(),
                d.screen_name.len(),
            )
        })
        .collect();
    assert_eq!(
        details,
        vec![
            (402, ids(&["bad address!"]), ids(&["no group!"]), 1),
            (531, ids(&["nobody", "ghost"]), vec![], 0),
        ]
    );
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        entries(&b.block_list).user_id,
        ids(&["wv:bob@example.org", "wv:eve@elsewhere.net"])
    );
    assert_eq!(
        entries(&b.block_list).group_id,
        ids(&["wv:/club@example.org"])
    );
    assert!(entries(&b.block_list).screen_name.is_empty());
    assert!(entries(&b.grant_list).user_id.is_empty());
}

#[test]
fn a_list_beyond_the_limit_is_refused_whole_with_754() {
    let mut config = test_config();
    config.block_lists.max_entries = 2;
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, config);
    let r = block(|r| {
        r.block_list = list(Some(false), None, Some(users(&["bob", "carol"])), None);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    // A third entry of any kind is one too many; nothing of the request applies, flags neither.
    let r = block(|r| {
        r.block_list = list(
            Some(true),
            None,
            Some(EntityList {
                group_id: ids(&["wv:/chat"]),
                ..Default::default()
            }),
            None,
        );
        r.grant_list = list(Some(true), None, Some(users(&["dave"])), None);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 754);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        summary(&b),
        (
            false,
            ids(&["wv:bob@example.org", "wv:carol@example.org"]),
            false,
            vec![]
        )
    );
    assert!(entries(&b.block_list).group_id.is_empty());
    // Removing one in the same request makes room: the count is of the result.
    let r = block(|r| {
        r.block_list = list(None, None, Some(users(&["dave"])), Some(users(&["bob"])));
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    // Each list has its own limit.
    let r = block(|r| r.grant_list = list(None, Some(users(&["bob", "dave"])), None, None));
    assert_eq!(code(&mut sim, v, &sid, r), 200);

    // After the limit is lowered, lists beyond it can still shrink, but not grow.
    sim.config.block_lists.max_entries = 1;
    sim.restart();
    let sid = login(&mut sim, v);
    let r = block(|r| r.grant_list = list(None, None, Some(users(&["carol"])), None));
    assert_eq!(code(&mut sim, v, &sid, r), 754);
    let r = block(|r| r.grant_list = list(None, None, None, Some(users(&["bob"]))));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    let r = block(|r| r.block_list = list(Some(true), None, None, None));
    assert_eq!(
        code(&mut sim, v, &sid, r),
        200,
        "a list of 2 that does not grow is left alone"
    );
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        summary(&b),
        (
            true,
            ids(&["wv:carol@example.org", "wv:dave@example.org"]),
            false,
            ids(&["wv:dave@example.org"])
        )
    );
}

#[test]
fn lists_survive_a_restart_and_go_with_a_deleted_account() {
    let v = Version::V1_3;
    let (mut sim, sid) = setup(v, test_config());
    let r = block(|r| {
        r.block_list = list(
            None,
            None,
            Some(EntityList {
                user_id: ids(&["bob"]),
                contact_list: ids(&["wv:alice/Exes"]),
                application_id: ids(&["com.example.spam"]),
                ..Default::default()
            }),
            None,
        );
        r.grant_list_in_use = Some(true);
    });
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    sim.restart();
    let sid = login(&mut sim, v);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        (b.block_list_in_use, b.grant_list_in_use),
        (Some(true), Some(true))
    );
    let blocked = entries(&b.block_list);
    assert_eq!(blocked.user_id, ids(&["wv:bob@example.org"]));
    assert_eq!(blocked.contact_list, ids(&["wv:alice/exes@example.org"]));
    assert_eq!(blocked.application_id, ids(&["com.example.spam"]));
    // 1.3-only entries are kept but not shown to older versions, whose EntityList lacks them.
    let sid12 = login(&mut sim, Version::V1_2);
    let old = entries(&get(&mut sim, Version::V1_2, &sid12).block_list);
    assert_eq!(old.user_id, ids(&["wv:bob@example.org"]));
    assert!(old.contact_list.is_empty() && old.application_id.is_empty());

    sim.admin(AdminCommand::DeleteUser {
        user_id: "alice".into(),
    })
    .unwrap();
    let stored = sim.store.load().unwrap();
    assert!(!stored.iter().any(|r| r.table == Table::BlockLists));
    sim.restart();
    sim.provision("alice", "pw");
    let sid = login(&mut sim, v);
    assert_eq!(
        summary(&get(&mut sim, v, &sid)),
        (true, vec![], false, vec![]),
        "a new account starts with the defaults"
    );
}

#[test]
fn lists_back_at_the_defaults_leave_no_record() {
    let v = Version::V1_2;
    let (mut sim, sid) = setup(v, test_config());
    let has_record = |sim: &Sim| {
        sim.store
            .load()
            .unwrap()
            .iter()
            .any(|r| r.table == Table::BlockLists && r.key == "wv:alice@example.org")
    };
    // Asking for what is already so changes nothing and stores nothing.
    let r = block(|r| r.block_list = list(Some(true), None, None, Some(users(&["bob"]))));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    assert!(!has_record(&sim));
    let r = block(|r| r.block_list = list(None, None, Some(users(&["bob"])), None));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    assert!(has_record(&sim));
    let r = block(|r| r.block_list = list(None, None, None, Some(users(&["bob"]))));
    assert_eq!(code(&mut sim, v, &sid, r), 200);
    assert!(!has_record(&sim));
}

#[test]
fn block_user_request_of_1_1_works_on_the_wire() {
    let v = Version::V1_1;
    let (mut sim, sid) = setup(v, test_config());
    // The golden vector with the 1.1 name, in this session.
    let vector = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/1.1/BlockEntity-Request-2.xml"
    ))
    .unwrap();
    assert!(vector.contains("<BlockUser-Request>"));
    let body = vector.replace("sid-7f3a9c", &sid);
    let reply = sim
        .raw_bytes("application/vnd.wv.csp.xml", body.into_bytes())
        .expect("an answer");
    assert_eq!(code_of(first(&reply)), 200);
    let b = get(&mut sim, v, &sid);
    assert_eq!(
        summary(&b),
        (true, ids(&["wv:spammer@im.example.com"]), false, vec![])
    );
    // The 1.1 answer shape on the wire, as the server wrote it: InUse inside each list, whole
    // lists as EntityList, no 1.3 flags.
    sim.now += 1;
    let body = imps_engine::codec::encode(&Sim::request(
        v,
        Some(&sid),
        Some("g1"),
        Primitive::GetBlockedListRequest(Box::default()),
    ));
    sim.server.handle(
        sim.now,
        Input::Request(Request {
            conn: 9_999,
            content_type: "application/vnd.wv.csp.xml".into(),
            body,
            wall_clock_ms: sim.wall_clock_ms,
            peer: None,
        }),
    );
    let mut xml = String::new();
    while let Some(o) = sim.server.poll_output() {
        if let Output::Reply(r) = o {
            xml = String::from_utf8(r.body).unwrap();
        }
    }
    assert!(
        xml.contains(
            "<BlockList><InUse>T</InUse><EntityList>\
             <UserID>wv:spammer@im.example.com</UserID></EntityList></BlockList>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<GrantList><InUse>F</InUse><EntityList/></GrantList>"),
        "{xml}"
    );
    assert!(!xml.contains("ListInUse"), "{xml}");
}
