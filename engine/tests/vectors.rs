#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Golden vectors (`tests/vectors/<version>/*.xml`, hand-written): every one decodes in the
//! version of its folder to a known primitive, needs no raw element unless its name says
//! `vendor`, uses only known vocabulary values, and survives decode → encode → decode with
//! equal values and stable bytes.
//! Coverage checks keep the vectors honest: every primitive of the codec and every element
//! name the typed model declares appears in some vector.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use imps_engine::codec::{self, Limits, Message, Primitive, Version};

/// Every primitive element name of the codec, in `csp_primitives!` order (first spelling).
const PRIMITIVES: &[&str] = &[
    // §2.1
    "Status",
    "Login-Request",
    "Login-Response",
    "Logout-Request",
    "Disconnect",
    "KeepAlive-Request",
    "KeepAlive-Response",
    "Polling-Request",
    "GetSPInfo-Request",
    "GetSPInfo-Response",
    "ClientCapability-Request",
    "ClientCapability-Response",
    "Service-Request",
    "Service-Response",
    "VerifyID-Request",
    "Extended-Request",
    "Extended-Response",
    "WV-CSP-VersionDiscovery-Request",
    "WV-CSP-VersionDiscovery-Response",
    "GetSegment-Request",
    "GetSegment-Response",
    "DropSegment-Request",
    "SubscribeNotification-Request",
    "UnsubscribeNotification-Request",
    "Notification-Request",
    "SystemMessage-Request",
    "SystemMessage-User",
    "GetPublicProfile-Request",
    "GetPublicProfile-Response",
    "UpdatePublicProfile-Request",
    "GetMap-Request",
    "GetMap-Response",
    // §2.2
    "Search-Request",
    "Search-Response",
    "StopSearch-Request",
    "Invite-Request",
    "InviteUser-Request",
    "InviteUser-Response",
    "Invite-Response",
    "CancelInvite-Request",
    "CancelInviteUser-Request",
    // §2.3
    "GetList-Request",
    "GetList-Response",
    "CreateList-Request",
    "CreateList-Response",
    "DeleteList-Request",
    "ListManage-Request",
    "ListManage-Response",
    // §2.4
    "SubscribePresence-Request",
    "UnsubscribePresence-Request",
    "PresenceNotification-Request",
    "GetPresence-Request",
    "GetPresence-Response",
    "UpdatePresence-Request",
    "CreateAttributeList-Request",
    "DeleteAttributeList-Request",
    "GetAttributeList-Request",
    "GetAttributeList-Response",
    "PresenceAuth-Request",
    "PresenceAuth-User",
    "CancelAuth-Request",
    "GetReactiveAuthStatus-Request",
    "GetReactiveAuthStatus-Response",
    "GetWatcherList-Request",
    "GetWatcherList-Response",
    // §2.5
    "SendMessage-Request",
    "SendMessage-Response",
    "NewMessage",
    "MessageDelivered",
    "MessageNotification",
    "GetMessage-Request",
    "GetMessage-Response",
    "GetMessageList-Request",
    "GetMessageList-Response",
    "RejectMessage-Request",
    "SetDeliveryMethod-Request",
    "DeliveryReport-Request",
    "ForwardMessage-Request",
    "ForwardMessage-Response",
    "GetBlockedList-Request",
    "GetBlockedList-Response",
    "BlockEntity-Request",
    "ExtendConversation-Request",
    "ExtendConversation-Response",
    // §2.6
    "CreateGroup-Request",
    "DeleteGroup-Request",
    "JoinGroup-Request",
    "JoinGroup-Response",
    "LeaveGroup-Request",
    "LeaveGroup-Response",
    "GetGroupMembers-Request",
    "GetGroupMembers-Response",
    "AddGroupMembers-Request",
    "RemoveGroupMembers-Request",
    "MemberAccess-Request",
    "GetGroupProps-Request",
    "GetGroupProps-Response",
    "SetGroupProps-Request",
    "RejectList-Request",
    "RejectList-Response",
    "SubscribeGroupNotice-Request",
    "SubscribeGroupNotice-Response",
    "GroupChangeNotice",
    "GetJoinedUsers-Request",
    "GetJoinedUsers-Response",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors_root() -> PathBuf {
    manifest_dir().join("../tests/vectors")
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

/// Every golden vector with the version of its folder.
fn golden_vectors() -> Vec<(Version, PathBuf)> {
    let mut out = Vec::new();
    for v in Version::ALL {
        let dir = vectors_root().join(v.as_str());
        for f in xml_files(&dir) {
            out.push((v, f));
        }
    }
    assert!(!out.is_empty(), "no golden vectors found");
    out
}

fn primitives(msg: &Message) -> Vec<&Primitive> {
    msg.session
        .transactions
        .iter()
        .filter_map(|t| t.content.as_ref())
        .flat_map(|c| c.primitives.iter())
        .collect()
}

/// Decodes, re-encodes and decodes again; checks value equality and byte stability.
fn round_trip(path: &Path, bytes: &[u8]) -> Message {
    let name = path.display();
    let first = codec::decode(bytes, Limits::default())
        .unwrap_or_else(|e| panic!("{name}: decode failed: {e}"));
    let encoded = codec::encode(&first);
    let second = codec::decode(&encoded, Limits::default()).unwrap_or_else(|e| {
        panic!(
            "{name}: re-decode failed: {e}\n{}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(
        first,
        second,
        "{name}: values differ after a round trip\n{}",
        String::from_utf8_lossy(&encoded)
    );
    let again = codec::encode(&second);
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(&again),
        "{name}: encoding is not stable"
    );
    first
}

#[test]
fn golden_vectors_round_trip() {
    for (version, path) in golden_vectors() {
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let msg = round_trip(&path, &bytes);
        assert_eq!(msg.version, version, "{name}: wrong version");
        let prims = primitives(&msg);
        assert_eq!(prims.len(), 1, "{name}: expected one primitive");
        for p in prims {
            assert!(
                !matches!(p, Primitive::Unknown(_)),
                "{name}: unknown primitive {}",
                p.name()
            );
        }
        let debug = format!("{msg:?}");
        assert!(
            !debug.contains("Other("),
            "{name}: a value outside the known vocabularies (typo?): {debug}"
        );
        let file_name = path.file_name().unwrap().to_string_lossy();
        if file_name.contains("vendor") {
            assert!(
                debug.contains("RawElement {"),
                "{name}: a vendor vector should carry a raw element"
            );
        } else {
            assert!(
                !debug.contains("RawElement {"),
                "{name}: an element was not recognised: {debug}"
            );
        }
    }
}

#[test]
fn every_primitive_has_a_golden_vector() {
    let mut seen = BTreeSet::new();
    for (_, path) in golden_vectors() {
        let msg = codec::decode(&std::fs::read(&path).unwrap(), Limits::default()).unwrap();
        for p in primitives(&msg) {
            seen.insert(p.name().to_owned());
        }
    }
    let missing: Vec<&str> = PRIMITIVES
        .iter()
        .copied()
        .filter(|p| !seen.contains(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "primitives without a vector: {missing:?}"
    );
    let extra: Vec<&String> = seen
        .iter()
        .filter(|s| !PRIMITIVES.contains(&s.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "primitives missing from PRIMITIVES: {extra:?}"
    );
}

/// The quoted element names on a `csp_struct!` field line (`name: Type = "A" | "B",`) or a
/// `csp_primitives!` line (`Variant(Type) = "A" | "B",`); empty for any other line.
fn declared_names(line: &str) -> Vec<String> {
    let t = line.trim();
    if t.starts_with("//") || t.starts_with('#') {
        return Vec::new();
    }
    let Some((head, tail)) = t.split_once(" = \"") else {
        return Vec::new();
    };
    let is_field = head.split_once(':').is_some_and(|(id, _)| {
        id.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    });
    let is_variant = head.ends_with(')')
        && head
            .split_once('(')
            .is_some_and(|(id, _)| id.chars().all(|c| c.is_ascii_alphanumeric()));
    if !is_field && !is_variant {
        return Vec::new();
    }
    format!("\"{tail}")
        .trim_end_matches(',')
        .split('|')
        .filter_map(|s| {
            let s = s.trim();
            s.strip_prefix('"')?.strip_suffix('"').map(str::to_owned)
        })
        .collect()
}

fn codec_sources() -> Vec<(String, String)> {
    let dir = manifest_dir().join("src/codec");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn primitive_list_matches_the_codec() {
    let src = std::fs::read_to_string(manifest_dir().join("src/codec/primitive.rs")).unwrap();
    let declared: Vec<String> = src
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        })
        .filter_map(|l| declared_names(l).into_iter().next())
        .collect();
    assert_eq!(
        declared, PRIMITIVES,
        "PRIMITIVES differs from csp_primitives!"
    );
}

#[test]
fn every_modelled_element_appears_in_a_vector() {
    let mut corpus = String::new();
    for (_, path) in golden_vectors() {
        corpus.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    let mut missing = Vec::new();
    let mut count = 0;
    for (file, src) in codec_sources() {
        for line in src.lines() {
            for name in declared_names(line) {
                count += 1;
                let found = [
                    format!("<{name}>"),
                    format!("<{name} "),
                    format!("<{name}/>"),
                ]
                .iter()
                .any(|pat| corpus.contains(pat.as_str()));
                if !found {
                    missing.push(format!("{file}: {name}"));
                }
            }
        }
    }
    assert!(
        count > 300,
        "too few element names found ({count}): parser broken?"
    );
    assert!(
        missing.is_empty(),
        "elements in no golden vector: {missing:#?}"
    );
}
