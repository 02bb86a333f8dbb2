//! The client's group side against the real server on virtual time: every request built by
//! `client::group` in the version of its session (1.1, 1.2, 1.3) is understood by the
//! server, and the readers turn the answers and notices back into plain lists.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{group, im};
use imps_engine::codec::common::ContentEncoding;
use imps_engine::codec::{Primitive, Version};
use sim::{Sim, code_of, login, req, take, test_config};

const G: &str = "wv:alice/club@example.org";
const BOB: &str = "wv:bob@example.org";
const CAROL: &str = "wv:carol@example.org";

fn sim() -> Sim {
    let mut config = test_config();
    // Every change told at once, so each step's notice can be read right after it.
    config.groups.notice_interval_ms = 0;
    let mut sim = Sim::new(config, 17);
    for u in ["alice", "bob", "carol"] {
        sim.provision(u, "pw");
    }
    sim
}

fn changes(sim: &mut Sim, c: usize) -> Vec<group::GroupChange> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::GroupChangeNotice(n) => Some(group::change(&n)),
            _ => None,
        })
        .collect()
}

fn texts(sim: &mut Sim, c: usize) -> Vec<String> {
    take(sim, c)
        .into_iter()
        .filter_map(|p| match p {
            Primitive::NewMessage(m) => m.content_data,
            _ => None,
        })
        .collect()
}

#[test]
fn a_group_life_through_the_client_builders_in_every_version() {
    for (va, vb, vc) in [
        (Version::V1_2, Version::V1_1, Version::V1_3),
        (Version::V1_3, Version::V1_2, Version::V1_1),
        (Version::V1_1, Version::V1_3, Version::V1_2),
    ] {
        let mut sim = sim();
        let a = login(&mut sim, "alice", va);
        let b = login(&mut sim, "bob", vb);
        let c = login(&mut sim, "carol", vc);
        let created = group::create(G, &[("Name", "Club"), ("Topic", "chat")], Some("Al"), true);
        assert_eq!(code_of(&req(&mut sim, a, created)), 200, "{va:?}");

        // bob joins and is told who is there; alice hears of him.
        let Primitive::JoinGroupResponse(r) =
            req(&mut sim, b, group::join(G, Some("Bo"), true, true))
        else {
            panic!("join {vb:?}")
        };
        let names: Vec<String> = group::joined_users(&r)
            .into_iter()
            .map(|u| u.screen_name)
            .collect();
        assert!(names.contains(&"Al".to_owned()), "{vb:?}: {names:?}");
        let heard = changes(&mut sim, a);
        assert_eq!(heard.len(), 1, "{va:?}");
        assert_eq!(heard[0].joined[0].screen_name, "Bo");
        assert_eq!(heard[0].group_id, G);

        // Properties: set by the owner, told to bob, read back by anyone.
        let set = group::set_props(G, &[("Topic", "news")], &[("PrivateMessaging", "T")]);
        assert_eq!(code_of(&req(&mut sim, a, set)), 200);
        let told = changes(&mut sim, b);
        assert!(
            told[0]
                .properties
                .contains(&("Topic".to_owned(), "news".to_owned())),
            "{vb:?}: {told:?}"
        );
        let Primitive::GetGroupPropsResponse(p) = req(&mut sim, c, group::get_props(G)) else {
            panic!("props {vc:?}")
        };
        let props = p.group_properties.unwrap().property;
        assert!(
            props.iter().any(|p| p.value.as_deref() == Some("news")
                && p.name.as_ref().unwrap().as_str() == "Topic")
        );
        assert_eq!(
            code_of(&req(
                &mut sim,
                a,
                group::set_props(G, &[("PrivateMessaging", "T")], &[])
            )),
            200
        );
        changes(&mut sim, b);

        // A group message and a private one.
        let to_group = im::send_text(va, &[], &[], &[G], "hi club", false);
        assert_eq!(code_of(&req(&mut sim, a, to_group)), 200);
        assert_eq!(texts(&mut sim, b), ["hi club"]);
        let private = im::send_content(
            vb,
            group::private_recipient(G, "Al"),
            "text/plain",
            ContentEncoding::None,
            "psst",
            None,
            false,
        );
        assert_eq!(code_of(&req(&mut sim, b, private)), 200, "{vb:?}");
        assert_eq!(texts(&mut sim, a), ["psst"]);

        // Members and levels: carol is made a member, then a moderator, then removed.
        assert_eq!(
            code_of(&req(&mut sim, a, group::add_members(va, G, &[CAROL]))),
            200,
            "{va:?}"
        );
        assert_eq!(
            code_of(&req(
                &mut sim,
                a,
                group::member_access(va, G, &[], &[CAROL], &[])
            )),
            200,
            "{va:?}"
        );
        let Primitive::GetGroupMembersResponse(m) = req(&mut sim, a, group::get_members(G)) else {
            panic!("members {va:?}")
        };
        let mods = m.moderator.unwrap().user_list.unwrap().user;
        assert_eq!(mods[0].user_id.as_deref(), Some(CAROL));
        assert_eq!(
            code_of(&req(&mut sim, a, group::remove_members(va, G, &[CAROL]))),
            200
        );

        // Notices: bob unsubscribes, then asks.
        assert_eq!(
            code_of(&req(&mut sim, b, group::subscribe_notices(G, Some(false)))),
            200
        );
        let Primitive::SubscribeGroupNoticeResponse(s) =
            req(&mut sim, b, group::subscribe_notices(G, None))
        else {
            panic!("subscription {vb:?}")
        };
        assert_eq!(s.value.as_deref(), Some("F"));

        // Banning bob puts him out; the reject list shows him; lifting it lets him back.
        let Primitive::RejectListResponse(_) = req(&mut sim, a, group::reject_list(G, &[BOB], &[]))
        else {
            panic!("reject {va:?}")
        };
        let out = take(&mut sim, b);
        assert!(
            out.iter()
                .any(|p| matches!(p, Primitive::LeaveGroupResponse(l) if code_of(p) == 809 && l.group_id.as_deref() == Some(G))),
            "{vb:?}: {out:?}"
        );
        let heard = changes(&mut sim, a);
        let gone: Vec<&String> = heard
            .iter()
            .flat_map(|h| h.left.iter().chain(&h.put_out))
            .collect();
        assert_eq!(gone, ["Bo"], "{va:?}");
        let Primitive::RejectListResponse(l) = req(&mut sim, a, group::reject_list(G, &[], &[BOB]))
        else {
            panic!()
        };
        assert!(l.user_list.is_none_or(|u| u.user.is_empty()));
        assert!(matches!(
            req(&mut sim, b, group::join(G, None, false, false)),
            Primitive::JoinGroupResponse(_)
        ));
        if va >= Version::V1_2 {
            let Primitive::GetJoinedUsersResponse(j) = req(&mut sim, a, group::get_joined_users(G))
            else {
                panic!("joined users {va:?}")
            };
            assert!(j.admin_map_list.is_some() || j.user_map_list.is_some());
        }

        // Leaving and deleting.
        assert_eq!(code_of(&req(&mut sim, b, group::leave(G))), 200);
        assert_eq!(code_of(&req(&mut sim, a, group::delete(G))), 200);
        assert_eq!(code_of(&req(&mut sim, a, group::get_props(G))), 800);
    }
}
