//! The conformance manifest (`engine/conformance.toml`, DESIGN §3.7) is checked against the
//! engine and the README: it lists every primitive; client requests it calls supported are
//! answered (not 501/506), those it calls not-yet are refused with 501 or 506; the README's
//! feature table is exactly the manifest's feature rows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod sim;

use imps_engine::client::{ClientConfig, Command, LoginScheme};
use imps_engine::codec::{Primitive, Version};
use serde::Deserialize;
use sim::{Sim, first, test_config};

#[derive(Deserialize)]
struct Manifest {
    feature: Vec<Feature>,
    primitive: Vec<Entry>,
}

#[derive(Deserialize)]
struct Feature {
    name: String,
    status: String,
    note: String,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    direction: String,
    status: String,
    note: String,
    /// The first CSP version that has the primitive (`"1.3"`); checked in a session of it.
    #[serde(default)]
    since: Option<String>,
}

fn manifest() -> Manifest {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn manifest_lists_every_primitive_once_with_a_valid_status() {
    let m = manifest();
    let mut names: Vec<&str> = m.primitive.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    let mut known: Vec<&str> = Primitive::NAMES.to_vec();
    known.sort_unstable();
    assert_eq!(
        names, known,
        "conformance.toml must list exactly the codec's primitives"
    );
    for p in &m.primitive {
        assert!(
            ["supported", "partial", "not-yet"].contains(&p.status.as_str()),
            "{}: {}",
            p.name,
            p.status
        );
        assert!(
            ["client", "server", "both"].contains(&p.direction.as_str()),
            "{}: {}",
            p.name,
            p.direction
        );
        assert!(!p.note.is_empty(), "{} needs a reason", p.name);
    }
    for f in &m.feature {
        assert!(
            ["works", "partial", "not yet"].contains(&f.status.as_str()),
            "{}: {}",
            f.name,
            f.status
        );
    }
}

/// A one-transaction CSP request (1.2, or `v` 1.3) whose primitive is the empty element `name`.
fn empty_request(v: &str, sid: &str, tid: &str, name: &str) -> Vec<u8> {
    format!(
        "<WV-CSP-Message xmlns=\"http://www.openmobilealliance.org/DTD/WV-CSP{v}\"><Session>\
         <SessionDescriptor><SessionType>Inband</SessionType><SessionID>{sid}</SessionID></SessionDescriptor>\
         <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>\
         <TransactionID>{tid}</TransactionID></TransactionDescriptor>\
         <TransactionContent xmlns=\"http://www.openmobilealliance.org/DTD/WV-TRC{v}\"><{name}/></TransactionContent>\
         </Transaction></Session></WV-CSP-Message>"
    )
    .into_bytes()
}

fn reply_code(reply: &Option<imps_engine::codec::Message>) -> Option<u32> {
    let msg = reply.as_ref()?;
    match first(msg) {
        Primitive::Status(s) => Some(s.code()),
        _ => None,
    }
}

#[test]
fn manifest_statuses_match_what_the_server_does() {
    let m = manifest();
    let mut sim = Sim::new(test_config(), 99);
    sim.provision("alice", "pw");
    let mut sessions = Vec::new();
    for version in [Version::V1_2, Version::V1_3] {
        let c = sim.add_client(ClientConfig::new(
            version,
            "alice",
            "pw",
            LoginScheme::Password,
        ));
        sim.command(c, Command::Login);
        assert!(sim.clients[c].is_ready());
        sessions.push(sim.clients[c].session_id().unwrap().to_owned());
    }
    let mut requests: Vec<&Entry> = m
        .primitive
        .iter()
        .filter(|p| p.direction == "client")
        .collect();
    // Logout last: it ends the session the others use.
    requests.sort_by_key(|p| p.name == "Logout-Request");
    for (i, p) in requests.iter().enumerate() {
        let (v, sid) = match p.since.as_deref() {
            Some("1.3") => ("1.3", &sessions[1]),
            _ => ("1.2", &sessions[0]),
        };
        let reply = sim.raw_bytes(
            "application/vnd.wv.csp.xml",
            empty_request(v, sid, &format!("m{i}"), &p.name),
        );
        let code = reply_code(&reply);
        match p.status.as_str() {
            "supported" => assert!(
                !matches!(code, Some(501 | 506)),
                "{} is listed as supported but got {code:?}",
                p.name
            ),
            "not-yet" => assert!(
                matches!(code, Some(501 | 506)),
                "{} is listed as not-yet but got {code:?}: update conformance.toml",
                p.name
            ),
            _ => {}
        }
    }
}

#[test]
fn readme_feature_table_is_the_manifest() {
    let m = manifest();
    let mut table = String::from("| feature | status | notes |\n|---|---|---|\n");
    for f in &m.feature {
        table.push_str(&format!("| {} | {} | {} |\n", f.name, f.status, f.note));
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("<!-- features:start -->\n")
        .expect("README has a features:start marker");
    let end = readme
        .find("<!-- features:end -->")
        .expect("README has a features:end marker");
    let current = &readme[start + "<!-- features:start -->\n".len()..end];
    assert_eq!(
        current, table,
        "README feature table differs from engine/conformance.toml; expected:\n{table}"
    );
}
