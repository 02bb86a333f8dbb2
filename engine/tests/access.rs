//! Session and access features on virtual time (deterministic simulation, DESIGN §3.8).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{ClientConfig, ClientEvent, Command, LoginScheme};
use imps_engine::codec::access::{
    DigestSchema, GetSpInfoRequest, KeepAliveRequest, LoginRequest, PollingRequest,
};
use imps_engine::codec::common::Status;
use imps_engine::codec::{Message, Primitive, SessionType, TransactionMode, Version};
use imps_engine::server::AdminCommand;
use sim::{Sim, code_of, first, test_config};

fn cfg(version: Version, user: &str, pw: &str, scheme: LoginScheme) -> ClientConfig {
    ClientConfig::new(version, user, pw, scheme)
}

fn ready(sim: &Sim, idx: usize) -> bool {
    sim.has_event(idx, |e| matches!(e, ClientEvent::Ready { .. }))
}

fn login_failed_code(sim: &Sim, idx: usize) -> Option<u32> {
    sim.events[idx].iter().rev().find_map(|e| match e {
        ClientEvent::LoginFailed { code, .. } => Some(*code),
        _ => None,
    })
}

/// The implemented function codes that `version`'s service tree has.
fn implemented_in(version: Version) -> Vec<String> {
    imps_engine::server::implemented_functions(version)
        .iter()
        .map(|c| c.to_string())
        .collect()
}

fn disconnected_code(sim: &Sim, idx: usize) -> Option<u32> {
    sim.events[idx].iter().rev().find_map(|e| match e {
        ClientEvent::Disconnected { code } => Some(*code),
        _ => None,
    })
}

/// The acceptance scenario of the foundation issue, on virtual time.
fn two_client_scenario(seed: u64) -> Sim {
    let mut sim = Sim::new(test_config(), seed);
    sim.provision("alice", "alice-pw");
    sim.provision("wv:Bob@example.org", "bob-pw");
    // alice polls rarely, so keep-alives hold her session; bob's polls count as activity.
    let mut alice = cfg(Version::V1_2, "alice", "alice-pw", LoginScheme::Password);
    alice.poll_interval_secs = 3600;
    let a = sim.add_client(alice);
    let b = sim.add_client(cfg(Version::V1_1, "wv:bob", "bob-pw", LoginScheme::Digest));
    sim.command(a, Command::Login);
    sim.command(b, Command::Login);
    assert!(ready(&sim, a), "alice ready: {:?}", sim.events[a]);
    assert!(ready(&sim, b), "bob ready: {:?}", sim.events[b]);
    for idx in [a, b] {
        let agreed = sim.events[idx].iter().find_map(|e| match e {
            ClientEvent::Ready { agreed, .. } => Some(agreed.clone()),
            _ => None,
        });
        let mut agreed = agreed.unwrap();
        agreed.sort();
        let sid = sim.clients[idx].session_id().unwrap();
        let version = sim.server.session_info(sid).unwrap().version;
        let mut implemented = implemented_in(version);
        implemented.sort();
        assert_eq!(
            agreed, implemented,
            "everything implemented is agreed, nothing more"
        );
    }
    assert_eq!(sim.server.session_count(), 2);

    // Twenty minutes pass: keep-alives keep both sessions; polls find nothing.
    sim.advance(20 * 60 * 1000);
    assert_eq!(sim.server.session_count(), 2);
    assert!(sim.has_event(a, |e| matches!(e, ClientEvent::KeptAlive { code: 200, .. })));

    // A server-initiated transaction reaches bob through wake-up and poll, and is acknowledged.
    sim.admin(AdminCommand::SystemMessage {
        user_id: Some("bob".into()),
        text: "maintenance at noon".into(),
    })
    .unwrap();
    assert!(sim.has_event(
        b,
        |e| matches!(e, ClientEvent::ServerRequest(Primitive::NewMessage(m))
        if m.content_data.as_deref() == Some("maintenance at noon"))
    ));
    let bob_sid = sim.clients[b].session_id().unwrap().to_owned();
    assert_eq!(
        sim.server.session_info(&bob_sid).unwrap().queued,
        0,
        "acknowledged and dequeued"
    );

    sim.command(a, Command::Logout);
    sim.command(b, Command::Logout);
    assert_eq!(disconnected_code(&sim, a), Some(200));
    assert_eq!(disconnected_code(&sim, b), Some(200));
    assert_eq!(sim.server.session_count(), 0);
    sim
}

#[test]
fn two_clients_login_negotiate_keep_alive_poll_logout_and_survive_restart() {
    let mut sim = two_client_scenario(42);
    sim.restart();
    let a = sim.add_client(cfg(Version::V1_2, "alice", "alice-pw", LoginScheme::Digest));
    let b = sim.add_client(cfg(Version::V1_3, "bob", "bob-pw", LoginScheme::Password));
    let wrong = sim.add_client(cfg(Version::V1_2, "alice", "nope", LoginScheme::Password));
    let wrong_digest = sim.add_client(cfg(Version::V1_1, "bob", "nope", LoginScheme::Digest));
    for i in [a, b, wrong, wrong_digest] {
        sim.command(i, Command::Login);
    }
    assert!(ready(&sim, a), "{:?}", sim.events[a]);
    assert!(ready(&sim, b), "{:?}", sim.events[b]);
    assert_eq!(login_failed_code(&sim, wrong), Some(409));
    assert_eq!(login_failed_code(&sim, wrong_digest), Some(409));
}

#[test]
fn simulation_is_deterministic_from_its_seed() {
    let one = two_client_scenario(7).transcript;
    let two = two_client_scenario(7).transcript;
    assert_eq!(one, two);
    let other = two_client_scenario(8).transcript;
    assert_ne!(one, other, "session ids and nonces come from the seed");
}

#[test]
fn silent_session_expires_and_its_next_request_gets_600() {
    let mut sim = Sim::new(test_config(), 1);
    sim.provision("alice", "pw");
    let mut c = cfg(Version::V1_2, "alice", "pw", LoginScheme::Password);
    c.time_to_live = Some(60);
    let a = sim.add_client(c);
    sim.command(a, Command::Login);
    assert!(ready(&sim, a));
    sim.frozen[a] = true;
    sim.advance(61_000 + 10_000 + 1);
    assert_eq!(sim.server.session_count(), 0);
    sim.frozen[a] = false;
    sim.command(a, Command::Poll);
    assert_eq!(disconnected_code(&sim, a), Some(600));
    // Long after, the server no longer remembers: 604.
    let sid = "0".repeat(32);
    let reply = sim.raw(&Sim::request(
        Version::V1_2,
        Some(&sid),
        Some("1"),
        Primitive::KeepAliveRequest(Box::<KeepAliveRequest>::default()),
    ));
    assert_eq!(code_of(first(&reply.unwrap())), 604);
}

#[test]
fn keep_alive_clamps_time_to_live_and_answers_605() {
    let mut sim = Sim::new(test_config(), 2);
    sim.provision("alice", "pw");
    let mut c = cfg(Version::V1_2, "alice", "pw", LoginScheme::Password);
    c.time_to_live = Some(5);
    let a = sim.add_client(c);
    sim.command(a, Command::Login);
    let granted = sim.events[a].iter().find_map(|e| match e {
        ClientEvent::LoggedIn {
            keep_alive_secs, ..
        } => Some(*keep_alive_secs),
        _ => None,
    });
    assert_eq!(
        granted,
        Some(60),
        "TimeToLive 5 is clamped to the 60 s minimum"
    );
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    let ka = |ttl| {
        Primitive::KeepAliveRequest(Box::new(KeepAliveRequest {
            time_to_live: ttl,
            ..Default::default()
        }))
    };
    let r = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("k1"),
            ka(Some(100000)),
        ))
        .unwrap();
    match first(&r) {
        Primitive::KeepAliveResponse(k) => {
            assert_eq!(k.result.as_ref().unwrap().code(), 605);
            assert_eq!(k.keep_alive_time, Some(1800));
        }
        other => panic!("{other:?}"),
    }
    let r = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("k2"),
            ka(Some(120)),
        ))
        .unwrap();
    match first(&r) {
        Primitive::KeepAliveResponse(k) => assert_eq!(
            (k.result.as_ref().unwrap().code(), k.keep_alive_time),
            (200, Some(120))
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.server.session_info(&sid).unwrap().keep_alive_secs, 120);
}

#[test]
fn repeated_transaction_id_gets_the_stored_reply_without_running_again() {
    let mut sim = Sim::new(test_config(), 3);
    sim.provision("alice", "pw");
    let a = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    let ka = |ttl| {
        Primitive::KeepAliveRequest(Box::new(KeepAliveRequest {
            time_to_live: Some(ttl),
            ..Default::default()
        }))
    };
    let first_reply = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("same"),
            ka(100),
        ))
        .unwrap();
    // Same TransactionID, different content: the first answer comes back and nothing runs.
    let again = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("same"),
            ka(200),
        ))
        .unwrap();
    assert_eq!(first_reply, again);
    assert_eq!(sim.server.session_info(&sid).unwrap().keep_alive_secs, 100);
    // The cache keeps the last 64: after 64 others, "same" runs again.
    for i in 0..64 {
        sim.raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some(&format!("t{i}")),
            ka(100),
        ));
    }
    sim.raw(&Sim::request(
        Version::V1_2,
        Some(&sid),
        Some("same"),
        ka(200),
    ));
    assert_eq!(sim.server.session_info(&sid).unwrap().keep_alive_secs, 200);
}

#[test]
fn primitives_outside_the_agreed_services_get_506() {
    let mut sim = Sim::new(test_config(), 4);
    sim.provision("alice", "pw");
    let a = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    // Not implemented yet: never agreed.
    let get_list = Primitive::GetMapRequest(Box::default());
    let r = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("g"),
            get_list,
        ))
        .unwrap();
    assert_eq!(code_of(first(&r)), 506);
    let r = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("sp"),
            Primitive::GetSpInfoRequest(Box::<GetSpInfoRequest>::default()),
        ))
        .unwrap();
    match first(&r) {
        Primitive::GetSpInfoResponse(sp) => assert_eq!(sp.name.as_deref(), Some("IMPS")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_sp_info_works_before_login() {
    let mut sim = Sim::new(test_config(), 5);
    let r = sim
        .raw(&Sim::request(
            Version::V1_1,
            None,
            Some("1"),
            Primitive::GetSpInfoRequest(Box::<GetSpInfoRequest>::default()),
        ))
        .unwrap();
    assert!(matches!(first(&r), Primitive::GetSpInfoResponse(_)));
    assert_eq!(r.version, Version::V1_1);
}

#[test]
fn session_limit_ends_the_oldest_session_with_601() {
    let mut config = test_config();
    config.session.max_per_user = 2;
    let mut sim = Sim::new(config, 6);
    sim.provision("alice", "pw");
    let c: Vec<usize> = (0..3)
        .map(|_| sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password)))
        .collect();
    for &i in &c {
        sim.command(i, Command::Login);
    }
    assert_eq!(sim.server.session_count(), 2);
    // The first client is nudged (wake-up), polls, and learns 601.
    assert_eq!(disconnected_code(&sim, c[0]), Some(601));
    assert!(sim.clients[c[1]].is_ready() && sim.clients[c[2]].is_ready());
}

#[test]
fn forced_logout_reaches_the_client_as_601() {
    let mut sim = Sim::new(test_config(), 7);
    sim.provision("alice", "pw");
    let a = sim.add_client(cfg(Version::V1_1, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let out = sim
        .admin(AdminCommand::ForceLogout {
            user_id: "ALICE@example.org".into(),
        })
        .unwrap();
    assert!(out.starts_with("1 session"), "{out}");
    assert_eq!(disconnected_code(&sim, a), Some(601));
}

#[test]
fn queued_transactions_set_poll_and_are_redelivered_until_acknowledged() {
    let mut sim = Sim::new(test_config(), 8);
    sim.provision("alice", "pw");
    let a = sim.add_client(cfg(Version::V1_3, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    assert!(ready(&sim, a));
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    sim.frozen[a] = true; // the client does not react to wake-ups: we drive by hand
    sim.admin(AdminCommand::SystemMessage {
        user_id: Some("alice".into()),
        text: "one".into(),
    })
    .unwrap();
    sim.admin(AdminCommand::SystemMessage {
        user_id: Some("alice".into()),
        text: "two".into(),
    })
    .unwrap();
    let ka = Primitive::KeepAliveRequest(Box::<KeepAliveRequest>::default());
    let r = sim
        .raw(&Sim::request(Version::V1_3, Some(&sid), Some("k"), ka))
        .unwrap();
    assert_eq!(
        r.session.poll,
        Some(true),
        "Poll=T in the Session for 1.3 while something waits"
    );
    let poll = || {
        Sim::request(
            Version::V1_3,
            Some(&sid),
            None,
            Primitive::PollingRequest(Box::<PollingRequest>::default()),
        )
    };
    let p1 = sim.raw(&poll()).unwrap();
    let t1 = p1.transaction().unwrap().descriptor.clone().unwrap();
    assert_eq!(t1.mode, Some(TransactionMode::Request));
    assert!(matches!(first(&p1), Primitive::SystemMessageRequest(_)));
    assert_eq!(p1.session.poll, Some(true), "a second one waits");
    // No acknowledgement for a while (the reply may have been lost): the same transaction
    // comes again with the next poll.
    sim.now += 5_000;
    let p2 = sim.raw(&poll()).unwrap();
    assert_eq!(
        p2.transaction()
            .unwrap()
            .descriptor
            .as_ref()
            .unwrap()
            .transaction_id,
        t1.transaction_id
    );
    // Acknowledge it: the reply carries the next one.
    let ack = Message::single(
        Version::V1_3,
        SessionType::Inband,
        Some(sid.clone()),
        TransactionMode::Response,
        t1.transaction_id.clone(),
        Primitive::Status(Box::new(Status::new(200, ""))),
    );
    let next = sim.raw(&ack).unwrap();
    let t2 = next.transaction().unwrap().descriptor.clone().unwrap();
    assert_ne!(t2.transaction_id, t1.transaction_id);
    assert_eq!(next.session.poll, Some(false));
    let ack2 = Message::single(
        Version::V1_3,
        SessionType::Inband,
        Some(sid.clone()),
        TransactionMode::Response,
        t2.transaction_id,
        Primitive::Status(Box::new(Status::new(200, ""))),
    );
    assert!(sim.raw(&ack2).is_none(), "nothing left: empty answer");
    assert!(sim.raw(&poll()).is_none());
    // An acknowledgement for a transaction that does not exist: 420.
    let bogus = Message::single(
        Version::V1_3,
        SessionType::Inband,
        Some(sid),
        TransactionMode::Response,
        Some("s999".into()),
        Primitive::Status(Box::new(Status::new(200, ""))),
    );
    assert_eq!(code_of(first(&sim.raw(&bogus).unwrap())), 420);
}

#[test]
fn poll_flag_lives_in_the_transaction_descriptor_for_1_1() {
    let mut sim = Sim::new(test_config(), 9);
    sim.provision("alice", "pw");
    let a = sim.add_client(cfg(Version::V1_1, "alice", "pw", LoginScheme::Password));
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    sim.frozen[a] = true;
    sim.admin(AdminCommand::SystemMessage {
        user_id: None,
        text: "hi".into(),
    })
    .unwrap();
    let r = sim
        .raw(&Sim::request(
            Version::V1_1,
            Some(&sid),
            Some("k"),
            Primitive::KeepAliveRequest(Box::<KeepAliveRequest>::default()),
        ))
        .unwrap();
    assert_eq!(r.session.poll, None);
    assert_eq!(
        r.transaction().unwrap().descriptor.as_ref().unwrap().poll,
        Some(true)
    );
}

#[test]
fn repeated_failures_throttle_the_account_then_it_recovers() {
    let mut sim = Sim::new(test_config(), 10);
    sim.provision("alice", "pw");
    for _ in 0..5 {
        let w = sim.add_client(cfg(Version::V1_2, "alice", "bad", LoginScheme::Password));
        sim.command(w, Command::Login);
        assert_eq!(login_failed_code(&sim, w), Some(409));
    }
    let good = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password));
    sim.command(good, Command::Login);
    assert_eq!(
        login_failed_code(&sim, good),
        Some(503),
        "locked out even with the right password"
    );
    sim.advance(61_000);
    let again = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password));
    sim.command(again, Command::Login);
    assert!(ready(&sim, again), "{:?}", sim.events[again]);
}

#[test]
fn open_registration_creates_accounts_that_survive_restart_and_is_rate_limited() {
    let mut sim = Sim::new(test_config(), 11);
    let stranger = sim.add_client(cfg(Version::V1_2, "newbie", "pw", LoginScheme::Password));
    sim.command(stranger, Command::Login);
    assert_eq!(
        login_failed_code(&sim, stranger),
        Some(409),
        "off by default"
    );

    let mut config = test_config();
    config.login.open_registration = true;
    config.login.registrations_per_minute = 2;
    let mut sim = Sim::new(config, 12);
    for (i, name) in ["u1", "u2", "u3"].iter().enumerate() {
        let c = sim.add_client(cfg(Version::V1_2, name, "pw", LoginScheme::Password));
        sim.command(c, Command::Login);
        if i < 2 {
            assert!(ready(&sim, c));
        } else {
            assert_eq!(
                login_failed_code(&sim, c),
                Some(503),
                "third registration in a minute"
            );
        }
    }
    sim.restart();
    assert!(sim.server.has_account("u1") && sim.server.has_account("wv:U2@example.org"));
    assert!(!sim.server.has_account("u3"));
    let d = sim.add_client(cfg(Version::V1_1, "u1", "pw", LoginScheme::Digest));
    sim.command(d, Command::Login);
    assert!(
        ready(&sim, d),
        "registered accounts can use digest login: {:?}",
        sim.events[d]
    );
}

#[test]
fn digest_login_switched_off_answers_543() {
    let mut config = test_config();
    config.login.digest = false;
    let mut sim = Sim::new(config, 13);
    sim.provision("alice", "pw");
    let d = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Digest));
    sim.command(d, Command::Login);
    assert_eq!(login_failed_code(&sim, d), Some(543));
    let p = sim.add_client(cfg(Version::V1_2, "alice", "pw", LoginScheme::Password));
    sim.command(p, Command::Login);
    assert!(ready(&sim, p));
}

#[test]
fn digest_challenge_answers_401_with_nonce_and_unknown_schemes_get_543() {
    let mut sim = Sim::new(test_config(), 14);
    sim.provision("alice", "pw");
    let login = |schemes: Vec<DigestSchema>| {
        Sim::request(
            Version::V1_2,
            None,
            Some("l"),
            Primitive::LoginRequest(Box::new(LoginRequest {
                user_id: Some("alice".into()),
                digest_schema: schemes,
                session_cookie: Some("c".into()),
                ..Default::default()
            })),
        )
    };
    let r = sim
        .raw(&login(vec![DigestSchema::Md4, DigestSchema::Sha]))
        .unwrap();
    match first(&r) {
        Primitive::LoginResponse(l) => {
            assert_eq!(l.result.as_ref().unwrap().code(), 401);
            assert_eq!(l.digest_schema, Some(DigestSchema::Sha));
            assert_eq!(l.nonce.as_ref().unwrap().len(), 32);
        }
        other => panic!("{other:?}"),
    }
    let r = sim
        .raw(&login(vec![DigestSchema::Md4, DigestSchema::Md6]))
        .unwrap();
    assert_eq!(code_of(first(&r)), 543);
    // A nonce is good once.
    let r = sim.raw(&login(vec![DigestSchema::Md5])).unwrap();
    let nonce = match first(&r) {
        Primitive::LoginResponse(l) => l.nonce.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    let digest = imps_engine::server::auth::digest(&DigestSchema::Md5, &nonce, "pw").unwrap();
    let answer = Primitive::LoginRequest(Box::new(LoginRequest {
        user_id: Some("alice".into()),
        digest_bytes: Some(digest),
        ..Default::default()
    }));
    let ok = sim
        .raw(&Sim::request(
            Version::V1_2,
            None,
            Some("l2"),
            answer.clone(),
        ))
        .unwrap();
    assert_eq!(code_of(first(&ok)), 200);
    let replay = sim
        .raw(&Sim::request(Version::V1_2, None, Some("l3"), answer))
        .unwrap();
    assert_eq!(code_of(first(&replay)), 409);
}

#[test]
fn addresses_are_case_insensitive_and_foreign_domains_get_516() {
    let mut sim = Sim::new(test_config(), 15);
    sim.provision("wv:alice@example.org", "pw");
    for spelling in ["ALICE", "wv:Alice", "alice@EXAMPLE.org"] {
        let c = sim.add_client(cfg(Version::V1_2, spelling, "pw", LoginScheme::Password));
        sim.command(c, Command::Login);
        assert!(ready(&sim, c), "{spelling}: {:?}", sim.events[c]);
    }
    let f = sim.add_client(cfg(
        Version::V1_2,
        "alice@elsewhere.net",
        "pw",
        LoginScheme::Password,
    ));
    sim.command(f, Command::Login);
    assert_eq!(login_failed_code(&sim, f), Some(516));
    let bad = sim.add_client(cfg(Version::V1_2, "al ice", "pw", LoginScheme::Password));
    sim.command(bad, Command::Login);
    assert_eq!(login_failed_code(&sim, bad), Some(402));
}

#[test]
fn logout_answers_disconnect_in_every_version() {
    let mut sim = Sim::new(test_config(), 16);
    sim.provision("alice", "pw");
    for (v, expect_disconnect) in [
        (Version::V1_1, true),
        (Version::V1_2, true),
        (Version::V1_3, true),
    ] {
        let c = sim.add_client(cfg(v, "alice", "pw", LoginScheme::Password));
        sim.command(c, Command::Login);
        let sid = sim.clients[c].session_id().unwrap().to_owned();
        let r = sim
            .raw(&Sim::request(
                v,
                Some(&sid),
                Some("bye"),
                Primitive::LogoutRequest(Box::default()),
            ))
            .unwrap();
        assert_eq!(
            matches!(first(&r), Primitive::Disconnect(_)),
            expect_disconnect,
            "{v}"
        );
        assert_eq!(code_of(first(&r)), 200);
        assert_eq!(r.version, v);
    }
}

#[test]
fn login_1_3_negotiates_capabilities_and_services_inside_the_login() {
    let mut sim = Sim::new(test_config(), 17);
    sim.provision("alice", "pw");
    let c = sim.add_client(cfg(Version::V1_3, "alice", "pw", LoginScheme::Password));
    sim.command(c, Command::Login);
    assert!(ready(&sim, c));
    let sid = sim.clients[c].session_id().unwrap().to_owned();
    let info = sim.server.session_info(&sid).unwrap();
    let mut services = info.services.clone();
    services.sort_unstable();
    let mut implemented = implemented_in(Version::V1_3);
    implemented.sort_unstable();
    assert_eq!(services, implemented);
    assert!(
        info.delivery_method.is_some(),
        "capabilities agreed in the login"
    );
    // No ClientCapability-Request was needed.
    assert!(
        !sim.transcript
            .iter()
            .any(|t| t.contains("ClientCapability-Request"))
    );
}

#[test]
fn only_the_functions_a_client_asked_for_are_agreed() {
    let mut sim = Sim::new(test_config(), 18);
    sim.provision("alice", "pw");
    let mut c = cfg(Version::V1_2, "alice", "pw", LoginScheme::Password);
    c.functions = Some(vec!["GETSPI"]);
    let a = sim.add_client(c);
    sim.command(a, Command::Login);
    let sid = sim.clients[a].session_id().unwrap().to_owned();
    assert_eq!(
        sim.server.session_info(&sid).unwrap().services,
        vec!["GETSPI"]
    );
    let r = sim
        .raw(&Sim::request(
            Version::V1_2,
            Some(&sid),
            Some("g"),
            Primitive::GetListRequest(Box::default()),
        ))
        .unwrap();
    assert_eq!(code_of(first(&r)), 506, "implemented, but not asked for");
}
