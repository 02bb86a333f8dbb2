//! Search (CSP-REFERENCE §2.2) and user profiles on virtual time: partial, case-insensitive
//! matches over users and groups, paging with SearchID / SearchIndex / CompletionFlag,
//! StopSearch, errors 424/425/536/537, who can be found by what, what results reveal,
//! profiles set by the operator and by 1.3 users, and their durability.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::invite::{next_page, search, stop_search};
use imps_engine::codec::access13::{
    GetPublicProfileRequest, PublicProfile, UpdatePublicProfileRequest,
};
use imps_engine::codec::common::{GroupProperties, Property, PropertyName, ScreenName};
use imps_engine::codec::fundamental::{SearchElement as E, SearchResponse};
use imps_engine::codec::group::CreateGroupRequest;
use imps_engine::codec::{Primitive, Version};
use imps_engine::server::{AdminCommand, Config, ProfileUpdate};
use sim::{Sim, code_of, login, req, test_config};

fn profile(sim: &mut Sim, user: &str, p: ProfileUpdate) {
    sim.admin(AdminCommand::SetProfile {
        user_id: user.into(),
        profile: p,
    })
    .unwrap();
}

fn last_name(n: &str) -> ProfileUpdate {
    ProfileUpdate {
        last_name: Some(n.into()),
        ..Default::default()
    }
}

fn new_sim_with(config: Config) -> Sim {
    let mut sim = Sim::new(config, 81);
    for u in [
        "alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivy",
    ] {
        sim.provision(u, "pw");
    }
    // Seven Smiths of some kind, two others.
    for (u, n) in [
        ("alice", "Smith"),
        ("bob", "SMITHERS"),
        ("carol", "Goldsmith"),
        ("dave", "smithson"),
        ("erin", "Smit"),
        ("frank", "Blacksmith"),
        ("gina", "Smithy"),
        ("hank", "Jones"),
    ] {
        profile(&mut sim, u, last_name(n));
    }
    sim
}

fn new_sim() -> Sim {
    new_sim_with(test_config())
}

fn answer(p: Primitive) -> SearchResponse {
    match p {
        Primitive::SearchResponse(r) => *r,
        other => panic!("not a Search-Response: {other:?}"),
    }
}

fn users(r: &SearchResponse) -> Vec<String> {
    r.search_result
        .as_ref()
        .and_then(|x| x.user_list.as_ref())
        .map(|l| l.user.iter().filter_map(|u| u.user_id.clone()).collect())
        .unwrap_or_default()
}

fn groups(r: &SearchResponse) -> Vec<String> {
    r.search_result
        .as_ref()
        .and_then(|x| x.group_list.as_ref())
        .map(|l| l.group_id.clone())
        .unwrap_or_default()
}

#[test]
fn users_are_found_by_partial_last_name_in_pages_until_stopped() {
    let mut sim = new_sim();
    let a = login(&mut sim, "ivy", Version::V1_2);
    let first = answer(req(
        &mut sim,
        a,
        search(Version::V1_2, &[(E::UserLastName, "sMi")], 5),
    ));
    // Smith, SMITHERS, Goldsmith, smithson, Smit, Blacksmith, Smithy (not Jones).
    assert_eq!(first.search_findings, Some(7));
    assert_eq!(first.completion_flag, Some(false));
    assert_eq!(first.search_index, Some(5));
    let page1 = users(&first);
    assert_eq!(page1.len(), 5);
    let id = first.search_id.expect("a SearchID to continue with");

    let second = answer(req(&mut sim, a, next_page(&first).unwrap()));
    assert_eq!(second.completion_flag, Some(true));
    assert_eq!(second.search_index, Some(7));
    assert_eq!(second.search_id, Some(id));
    let page2 = users(&second);
    assert_eq!(page2.len(), 2);
    let mut all: Vec<String> = page1.into_iter().chain(page2).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 7);
    assert!(!all.iter().any(|u| u.contains("hank")));
    assert!(next_page(&second).is_none());

    // Out of range indexes get 425; after a stop the id is unknown (424).
    let at = |index| {
        Primitive::SearchRequest(Box::new(imps_engine::codec::fundamental::SearchRequest {
            search_id: Some(id),
            search_index: Some(index),
            ..Default::default()
        }))
    };
    assert_eq!(code_of(&req(&mut sim, a, at(8))), 425);
    assert_eq!(code_of(&req(&mut sim, a, at(0))), 425);
    assert_eq!(users(&answer(req(&mut sim, a, at(7)))).len(), 1);
    assert_eq!(code_of(&req(&mut sim, a, stop_search(id))), 200);
    assert_eq!(code_of(&req(&mut sim, a, at(6))), 424);
    assert_eq!(code_of(&req(&mut sim, a, stop_search(id))), 424);
    assert_eq!(code_of(&req(&mut sim, a, stop_search(9999))), 424);
}

#[test]
fn short_strings_too_many_hits_and_bad_criteria_are_refused() {
    let mut config = test_config();
    config.search.max_findings = 3;
    let mut sim = new_sim_with(config);
    let a = login(&mut sim, "ivy", Version::V1_2);
    let code =
        |sim: &mut Sim, pairs: &[(E, &str)]| code_of(&req(sim, a, search(Version::V1_2, pairs, 5)));
    assert_eq!(code(&mut sim, &[(E::UserLastName, "sm")]), 537);
    assert_eq!(code(&mut sim, &[(E::UserLastName, "  s ")]), 537);
    assert_eq!(code(&mut sim, &[(E::UserLastName, "smi")]), 536);
    assert_eq!(
        code(
            &mut sim,
            &[(E::UserLastName, "smi"), (E::GroupName, "club")]
        ),
        402
    );
    assert_eq!(code(&mut sim, &[(E::UserCity, "Helsinki")]), 402);
    assert_eq!(code(&mut sim, &[(E::UserOnlineStatus, "maybe")]), 402);
    assert_eq!(
        code_of(&req(&mut sim, a, Primitive::SearchRequest(Box::default()))),
        402
    );
    // Nothing found: an empty, complete answer without a SearchID.
    let r = answer(req(
        &mut sim,
        a,
        search(Version::V1_2, &[(E::UserLastName, "zzz")], 5),
    ));
    assert_eq!(r.search_findings, Some(0));
    assert_eq!(r.completion_flag, Some(true));
    assert!(r.search_id.is_none());
}

#[test]
fn who_can_be_found_by_what_and_results_show_only_ids_and_friendly_names() {
    let mut sim = new_sim();
    profile(
        &mut sim,
        "hank",
        ProfileUpdate {
            first_name: Some("Henry".into()),
            alias: Some("hammer".into()),
            email: Some("hank@mail.example".into()),
            mobile: Some("+358401234567".into()),
            friendly_name: Some("Hank J".into()),
            ..Default::default()
        },
    );
    let a = login(&mut sim, "ivy", Version::V1_3);
    let find = |sim: &mut Sim, e: E, v: &str| {
        let r = answer(req(sim, a, search(Version::V1_3, &[(e, v)], 10)));
        users(&r)
    };
    let hank = vec!["wv:hank@example.org".to_owned()];
    assert_eq!(find(&mut sim, E::UserFirstName, "henr"), hank);
    assert_eq!(find(&mut sim, E::UserAlias, "HAMM"), hank);
    assert_eq!(find(&mut sim, E::UserId, "hank@"), hank);
    assert_eq!(find(&mut sim, E::UserFriendlyName, "ank j"), hank);
    // Not by e-mail or number until Hank allows it.
    assert!(find(&mut sim, E::UserEmailAddress, "mail.example").is_empty());
    assert!(find(&mut sim, E::UserMobileNumber, "401234").is_empty());
    profile(
        &mut sim,
        "hank",
        ProfileUpdate {
            find_by_mobile: Some(true),
            find_by_email: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(find(&mut sim, E::UserMobileNumber, "401234"), hank);
    assert_eq!(find(&mut sim, E::UserEmailAddress, "HANK@MAIL"), hank);
    // The result carries the id and (1.3) the friendly name, nothing else.
    let r = answer(req(
        &mut sim,
        a,
        search(Version::V1_3, &[(E::UserMobileNumber, "401234")], 10),
    ));
    let u = &r.search_result.unwrap().user_list.unwrap().user[0];
    assert_eq!(u.friendly_name.as_deref(), Some("Hank J"));
    assert!(u.client_id.is_none() && u.application_id.is_none());
    // The searcher finds itself by default.
    assert_eq!(
        find(&mut sim, E::UserId, "ivy@"),
        vec!["wv:ivy@example.org".to_owned()]
    );
    // A user who chose not to be found is not.
    profile(
        &mut sim,
        "hank",
        ProfileUpdate {
            searchable: Some(false),
            ..Default::default()
        },
    );
    assert!(find(&mut sim, E::UserAlias, "hammer").is_empty());
    assert!(find(&mut sim, E::UserId, "hank").is_empty());
}

#[test]
fn online_status_narrows_a_search() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let _b = login(&mut sim, "bob", Version::V1_2);
    let r = answer(req(
        &mut sim,
        a,
        search(
            Version::V1_2,
            &[(E::UserLastName, "smith"), (E::UserOnlineStatus, "T")],
            10,
        ),
    ));
    let mut got = users(&r);
    got.sort();
    assert_eq!(got, vec!["wv:alice@example.org", "wv:bob@example.org"]);
}

fn create(id: &str, props: &[(&str, &str)], join: bool) -> Primitive {
    Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(id.into()),
        group_properties: Some(GroupProperties {
            property: props
                .iter()
                .map(|(n, v)| Property {
                    name: Some(PropertyName::parse(n)),
                    value: Some((*v).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        join_group: Some(join),
        screen_name: join.then(|| ScreenName {
            sname: Some("Owner".into()),
            group_id: Some(id.into()),
            ..Default::default()
        }),
        subscribe_notification: Some(false),
        ..Default::default()
    }))
}

#[test]
fn only_searchable_groups_are_found_by_id_name_topic_owner_and_joined_user() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_2);
    let b = login(&mut sim, "bob", Version::V1_2);
    let c = login(&mut sim, "carol", Version::V1_2);
    let books = "wv:alice/books@example.org";
    let secret = "wv:alice/secret@example.org";
    let chess = "wv:bob/chess@example.org";
    let r = req(
        &mut sim,
        a,
        create(
            books,
            &[
                ("Name", "Book Club"),
                ("Topic", "Novels"),
                ("Searchable", "T"),
            ],
            true,
        ),
    );
    assert_eq!(code_of(&r), 200);
    let r = req(
        &mut sim,
        a,
        create(
            secret,
            &[("Name", "Book Secret"), ("Searchable", "F")],
            false,
        ),
    );
    assert_eq!(code_of(&r), 200);
    let r = req(
        &mut sim,
        b,
        create(
            chess,
            &[
                ("Name", "Chess"),
                ("Topic", "openings and books"),
                ("Searchable", "T"),
                ("ShowID", "T"),
            ],
            true,
        ),
    );
    assert_eq!(code_of(&r), 200);
    let find = |sim: &mut Sim, pairs: &[(E, &str)]| {
        let mut g = groups(&answer(req(sim, c, search(Version::V1_2, pairs, 10))));
        g.sort();
        g
    };
    assert_eq!(find(&mut sim, &[(E::GroupName, "book")]), vec![books]);
    assert_eq!(find(&mut sim, &[(E::GroupTopic, "BOOKS")]), vec![chess]);
    assert_eq!(find(&mut sim, &[(E::GroupId, "alice/")]), vec![books]);
    assert_eq!(
        find(&mut sim, &[(E::GroupUserIdOwner, "wv:bob@example.org")]),
        vec![chess]
    );
    // Alice is joined to her club under a screen name that hides her id: not revealed.
    assert!(find(&mut sim, &[(E::GroupUserIdJoined, "wv:alice@example.org")]).is_empty());
    // Bob's group shows ids.
    assert_eq!(
        find(&mut sim, &[(E::GroupUserIdJoined, "bob")]),
        vec![chess]
    );
    // Paging works for groups too.
    let r = answer(req(
        &mut sim,
        c,
        search(Version::V1_2, &[(E::GroupId, "example.org")], 1),
    ));
    assert_eq!(r.search_findings, Some(2));
    assert_eq!(r.completion_flag, Some(false));
    let r2 = answer(req(&mut sim, c, next_page(&r).unwrap()));
    assert_eq!(r2.completion_flag, Some(true));
    assert_ne!(groups(&r), groups(&r2));
}

#[test]
fn csp13_users_set_their_friendly_name_and_can_hide_and_profiles_survive_a_restart() {
    let mut sim = new_sim();
    let a = login(&mut sim, "alice", Version::V1_3);
    let update = |props: &[(&str, &str)]| {
        Primitive::UpdatePublicProfileRequest(Box::new(UpdatePublicProfileRequest {
            public_profile: Some(PublicProfile {
                property: props
                    .iter()
                    .map(|(n, v)| Property {
                        name: Some(PropertyName::parse(n)),
                        value: Some((*v).into()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }))
    };
    assert_eq!(
        code_of(&req(&mut sim, a, update(&[("PP_FRIENDLY_NAME", "Ally")]))),
        200
    );
    assert_eq!(
        code_of(&req(&mut sim, a, update(&[("PP_CITY", "Oulu")]))),
        402
    );
    let get = Primitive::GetPublicProfileRequest(Box::new(GetPublicProfileRequest {
        user_id: vec![
            "wv:alice@example.org".into(),
            "wv:nobody@example.org".into(),
        ],
        ..Default::default()
    }));
    let Primitive::GetPublicProfileResponse(r) = req(&mut sim, a, get.clone()) else {
        panic!()
    };
    assert_eq!(r.result.as_ref().unwrap().code(), 201, "nobody is unknown");
    assert_eq!(
        r.public_profile[0].property[0].value.as_deref(),
        Some("Ally")
    );

    sim.restart();
    let a = login(&mut sim, "alice", Version::V1_3);
    let find = |sim: &mut Sim| {
        users(&answer(req(
            sim,
            a,
            search(Version::V1_3, &[(E::UserFriendlyName, "ALL")], 10),
        )))
    };
    assert_eq!(find(&mut sim), vec!["wv:alice@example.org".to_owned()]);
    // The last name set by the operator survived too.
    let r = answer(req(
        &mut sim,
        a,
        search(Version::V1_3, &[(E::UserLastName, "goldsm")], 10),
    ));
    assert_eq!(users(&r), vec!["wv:carol@example.org".to_owned()]);
    assert_eq!(
        code_of(&req(&mut sim, a, update(&[("Searchable", "F")]))),
        200
    );
    assert!(find(&mut sim).is_empty());

    // A 1.2 session has no public profile primitives.
    let b = login(&mut sim, "bob", Version::V1_2);
    assert_eq!(
        code_of(&req(&mut sim, b, update(&[("PP_FRIENDLY_NAME", "B")]))),
        506
    );
}

#[test]
fn a_session_keeps_a_bounded_number_of_open_searches_and_ends_them_with_it() {
    let mut config = test_config();
    config.search.max_open_per_session = 2;
    let mut sim = new_sim_with(config);
    let a = login(&mut sim, "ivy", Version::V1_2);
    let ids: Vec<u32> = (0..3)
        .map(|_| {
            answer(req(
                &mut sim,
                a,
                search(Version::V1_2, &[(E::UserLastName, "smi")], 2),
            ))
            .search_id
            .unwrap()
        })
        .collect();
    // The oldest was dropped.
    assert_eq!(code_of(&req(&mut sim, a, stop_search(ids[0]))), 424);
    assert_eq!(code_of(&req(&mut sim, a, stop_search(ids[2]))), 200);
}

#[test]
fn searches_follow_profile_changes_new_passwords_and_deleted_accounts() {
    let mut sim = new_sim();
    let a = login(&mut sim, "ivy", Version::V1_2);
    let find = |sim: &mut Sim, v: &str| {
        users(&answer(req(
            sim,
            a,
            search(Version::V1_2, &[(E::UserLastName, v)], 10),
        )))
    };
    let carol = vec!["wv:carol@example.org".to_owned()];
    assert_eq!(find(&mut sim, "goldsm"), carol);
    profile(&mut sim, "carol", last_name("Silver"));
    assert!(find(&mut sim, "goldsm").is_empty());
    assert_eq!(find(&mut sim, "silv"), carol);
    // A new password keeps the profile.
    sim.provision("carol", "new");
    assert_eq!(find(&mut sim, "silv"), carol);
    // A new account is found by id at once.
    sim.provision("zed", "pw");
    let r = answer(req(
        &mut sim,
        a,
        search(Version::V1_2, &[(E::UserId, "zed@")], 10),
    ));
    assert_eq!(users(&r), vec!["wv:zed@example.org".to_owned()]);
    sim.admin(AdminCommand::DeleteUser {
        user_id: "carol".into(),
    })
    .unwrap();
    assert!(find(&mut sim, "silv").is_empty());
    assert!(
        sim.admin(AdminCommand::SetProfile {
            user_id: "carol".into(),
            profile: last_name("Gone"),
        })
        .is_err()
    );
}
