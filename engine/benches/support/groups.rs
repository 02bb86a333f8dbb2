//! One group with 201 joined members (u0 owns it) and SendMessage bodies from u0 to the group:
//! the group fan-out of the criterion bench and of the instruction-count example.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use imps_engine::client::{ClientInput, Command};
use imps_engine::codec::Primitive;
use imps_engine::codec::common::{Group, Recipient, ScreenName};
use imps_engine::codec::group::{CreateGroupRequest, JoinGroupRequest};
use imps_engine::server::Server;

const GROUP: &str = "wv:u0/big@localhost";
const MEMBERS: usize = 201;

fn ask(server: &mut Server, c: &mut imps_engine::client::Client, p: Primitive) -> Primitive {
    c.handle(0, ClientInput::Command(Command::Request(p)));
    super::drive(server, c).pop().expect("an answer")
}

/// u0 owns the group; u0..u200 have joined it; returns the server and message bodies from u0.
pub fn setup() -> (Server, Vec<Vec<u8>>) {
    let mut config = super::cheap_config();
    config.session.queue_limit = 100_000;
    config.im.max_stored_per_user = 100_000;
    let users: Vec<String> = (0..MEMBERS).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let (mut server, mut clients) = super::logged_in_clients(config, &names);
    let create = Primitive::CreateGroupRequest(Box::new(CreateGroupRequest {
        group_id: Some(GROUP.into()),
        join_group: Some(false),
        subscribe_notification: Some(false),
        ..Default::default()
    }));
    let answer = ask(&mut server, &mut clients[0], create);
    assert_eq!(answer.result_code(), Some(200), "{answer:?}");
    for (i, c) in clients.iter_mut().enumerate() {
        let join = Primitive::JoinGroupRequest(Box::new(JoinGroupRequest {
            group_id: Some(GROUP.into()),
            screen_name: Some(ScreenName {
                sname: Some(format!("member{i}")),
                group_id: Some(GROUP.into()),
                ..Default::default()
            }),
            joined_request: Some(false),
            subscribe_notification: Some(false),
            ..Default::default()
        }));
        let answer = ask(&mut server, c, join);
        assert!(
            matches!(answer, Primitive::JoinGroupResponse(_)),
            "{answer:?}"
        );
    }
    let sid = clients[0].session_id().unwrap().to_owned();
    let bodies = (0..256)
        .map(|i| {
            let to = Recipient {
                group: vec![Group {
                    group_id: Some(GROUP.into()),
                    ..Default::default()
                }],
                ..Default::default()
            };
            super::send_to(&sid, &format!("g{i}"), i, to)
        })
        .collect();
    (server, bodies)
}
