//! Storage as output (DESIGN §1): logical tables, versioned record encoding, the batch
//! contract with hosts, an in-memory backend and the conformance suite every backend passes.
//!
//! The engine keeps its working state in memory. Every change that must survive a crash
//! leaves the engine as a [`StorageBatch`]. **Host contract:** apply batches in the order they
//! are output, each atomically, and durably, *before* releasing any reply output after them.
//! A host may group-commit several batches in one transaction as long as it releases their
//! replies only after that commit. At start the host feeds every stored record back through
//! `Input::Restore`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the record encoding and table layout. Migrations are code (see [`migrate`]).
pub const SCHEMA_VERSION: u32 = 2;

/// The logical tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Table {
    /// Server metadata (schema version, id counters).
    Meta,
    /// User accounts: key = canonical user id.
    Accounts,
    /// Contact lists: key = canonical list id `wv:owner/name@domain`.
    ContactLists,
    /// Published presence attributes: key = user id.
    Presence,
    /// Presence subscriptions: key = watcher's user id.
    Subscriptions,
    /// Attribute lists and reactive authorizations: key = publisher's user id.
    Authorizations,
    /// Block and grant lists: key = canonical owner user id.
    BlockLists,
    /// Messages and delivery reports waiting for their recipient: key = `<user>/<seq>`.
    Mailbox,
    /// Groups (properties, members, reject list, own properties, notice subscriptions):
    /// key = canonical group id.
    Groups,
    /// Open invitations and shared-content offers: key = `<inviter>/<InviteID>`.
    Invitations,
    /// User profiles for search (names, e-mail, alias, mobile, friendly name, visibility):
    /// key = canonical user id.
    Profiles,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 11] = [
        Table::Meta,
        Table::Accounts,
        Table::ContactLists,
        Table::Presence,
        Table::Subscriptions,
        Table::Authorizations,
        Table::BlockLists,
        Table::Mailbox,
        Table::Groups,
        Table::Invitations,
        Table::Profiles,
    ];

    /// Stable table name for backends.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Accounts => "accounts",
            Table::ContactLists => "contact_lists",
            Table::Presence => "presence",
            Table::Subscriptions => "subscriptions",
            Table::Authorizations => "authorizations",
            Table::BlockLists => "block_lists",
            Table::Mailbox => "mailbox",
            Table::Groups => "groups",
            Table::Invitations => "invitations",
            Table::Profiles => "profiles",
        }
    }

    /// The table with stable name `name`.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageOp {
    /// Insert or replace `key` in `table`.
    Put {
        /// Table.
        table: Table,
        /// Key (unique within the table).
        key: String,
        /// Encoded record (see [`encode_record`]).
        value: Vec<u8>,
    },
    /// Remove `key` from `table` (no error when absent).
    Delete {
        /// Table.
        table: Table,
        /// Key.
        key: String,
    },
}

/// A group of changes to apply atomically, in output order, before later replies are released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageBatch {
    /// Increasing id chosen by the engine (for logs and host acknowledgements).
    pub id: u64,
    /// The changes, applied in order.
    pub ops: Vec<StorageOp>,
}

/// One stored record as a host loads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Table.
    pub table: Table,
    /// Key.
    pub key: String,
    /// Encoded record.
    pub value: Vec<u8>,
}

/// Encodes a record value: a one-byte-or-more schema version then postcard.
pub fn encode_record<T: Serialize>(value: &T) -> Vec<u8> {
    encode_record_sized(value, 64)
}

/// [`encode_record`] into a buffer with room for `capacity` bytes (records known to be large
/// then need no regrowing).
pub fn encode_record_sized<T: Serialize>(value: &T, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity.max(8));
    out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    match postcard::serialize_with_flavor(value, Bytes(out)) {
        Ok(v) => v,
        // Serializing plain structs into a Vec cannot fail; keep the version header only.
        Err(_) => SCHEMA_VERSION.to_le_bytes().to_vec(),
    }
}

/// postcard's output into a byte vector, strings copied in one piece (its `Extend` flavor
/// pushes them byte by byte).
struct Bytes(Vec<u8>);

impl postcard::ser_flavors::Flavor for Bytes {
    type Output = Vec<u8>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Decodes a record written by [`encode_record`] (after migrating it if older).
pub fn decode_record<T: for<'de> Deserialize<'de>>(table: Table, bytes: &[u8]) -> Option<T> {
    let (head, body) = bytes.split_at_checked(4)?;
    let version = u32::from_le_bytes(head.try_into().ok()?);
    let body = migrate(table, version, body)?;
    postcard::from_bytes(&body).ok()
}

/// Brings a record body of `version` up to [`SCHEMA_VERSION`]; a newer, unknown version is
/// refused.
///
/// - v2: group records keep the screen name a user joins again under (AutoJoin) and when
///   the group ends (Validity); every other table is unchanged.
pub fn migrate(table: Table, version: u32, body: &[u8]) -> Option<Vec<u8>> {
    match (version, table) {
        (SCHEMA_VERSION, _) => Some(body.to_vec()),
        (1, Table::Groups) => crate::server::group_record_from_v1(body),
        (1, _) => Some(body.to_vec()),
        _ => None,
    }
}

/// What every storage backend offers a host.
pub trait Store {
    /// The backend's error.
    type Error: std::fmt::Debug;
    /// Applies one batch atomically and durably.
    fn apply(&mut self, batch: &StorageBatch) -> Result<(), Self::Error>;
    /// Applies several batches in one atomic, durable commit (group commit).
    fn apply_all(&mut self, batches: &[StorageBatch]) -> Result<(), Self::Error> {
        for b in batches {
            self.apply(b)?;
        }
        Ok(())
    }
    /// Every stored record, ordered by table then key.
    fn load(&self) -> Result<Vec<Record>, Self::Error>;
}

/// An in-memory backend (tests, simulations, ephemeral servers).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: BTreeMap<(Table, String), Vec<u8>>,
}

impl Store for MemoryStore {
    type Error = std::convert::Infallible;

    fn apply(&mut self, batch: &StorageBatch) -> Result<(), Self::Error> {
        for op in &batch.ops {
            match op {
                StorageOp::Put { table, key, value } => {
                    self.tables.insert((*table, key.clone()), value.clone());
                }
                StorageOp::Delete { table, key } => {
                    self.tables.remove(&(*table, key.clone()));
                }
            }
        }
        Ok(())
    }

    fn load(&self) -> Result<Vec<Record>, Self::Error> {
        Ok(self
            .tables
            .iter()
            .map(|((table, key), value)| Record {
                table: *table,
                key: key.clone(),
                value: value.clone(),
            })
            .collect())
    }
}

/// The storage conformance suite: every backend must pass it. `open` opens the backend on
/// the same underlying storage each time it is called (a "restart"); `fresh` wipes it first.
pub mod conformance {
    use super::*;

    fn put(table: Table, key: &str, value: &[u8]) -> StorageOp {
        StorageOp::Put {
            table,
            key: key.to_owned(),
            value: value.to_vec(),
        }
    }

    /// Runs every check; returns the first failure as text.
    pub fn run<S: Store>(mut open: impl FnMut(bool) -> S) -> Result<(), String> {
        // 1. Empty at start.
        let s = open(true);
        let loaded = s.load().map_err(|e| format!("load: {e:?}"))?;
        if !loaded.is_empty() {
            return Err(format!("fresh store not empty: {loaded:?}"));
        }
        drop(s);

        // 2. Put, overwrite, delete within and across batches; survives reopen.
        let mut s = open(false);
        let b1 = StorageBatch {
            id: 1,
            ops: vec![
                put(Table::Accounts, "wv:alice@localhost", b"a1"),
                put(Table::Accounts, "wv:bob@localhost", b"b1"),
                put(Table::Meta, "schema", b"1"),
            ],
        };
        let b2 = StorageBatch {
            id: 2,
            ops: vec![
                put(Table::Accounts, "wv:alice@localhost", b"a2"),
                StorageOp::Delete {
                    table: Table::Accounts,
                    key: "wv:bob@localhost".into(),
                },
                StorageOp::Delete {
                    table: Table::Accounts,
                    key: "wv:nobody@localhost".into(),
                },
            ],
        };
        s.apply(&b1).map_err(|e| format!("apply b1: {e:?}"))?;
        s.apply(&b2).map_err(|e| format!("apply b2: {e:?}"))?;
        drop(s);
        let s = open(false);
        let loaded = s.load().map_err(|e| format!("load: {e:?}"))?;
        let expect = vec![
            Record {
                table: Table::Meta,
                key: "schema".into(),
                value: b"1".to_vec(),
            },
            Record {
                table: Table::Accounts,
                key: "wv:alice@localhost".into(),
                value: b"a2".to_vec(),
            },
        ];
        let mut sorted = loaded.clone();
        sorted.sort_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        let mut want = expect.clone();
        want.sort_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        if sorted != want {
            return Err(format!("after reopen: got {loaded:?}, want {expect:?}"));
        }
        drop(s);

        // 3. Same key in different tables is independent; binary values and long keys survive.
        let mut s = open(false);
        let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let long_key = "k".repeat(1000);
        s.apply_all(&[
            StorageBatch {
                id: 3,
                ops: vec![put(Table::Meta, "wv:alice@localhost", &blob)],
            },
            StorageBatch {
                id: 4,
                ops: vec![put(Table::Meta, &long_key, b"")],
            },
        ])
        .map_err(|e| format!("apply_all: {e:?}"))?;
        drop(s);
        let s = open(false);
        let loaded = s.load().map_err(|e| format!("load: {e:?}"))?;
        let find = |t: Table, k: &str| {
            loaded
                .iter()
                .find(|r| r.table == t && r.key == k)
                .map(|r| r.value.clone())
        };
        if find(Table::Meta, "wv:alice@localhost") != Some(blob) {
            return Err("binary value in Meta lost or changed".into());
        }
        if find(Table::Accounts, "wv:alice@localhost") != Some(b"a2".to_vec()) {
            return Err("same key in another table was disturbed".into());
        }
        if find(Table::Meta, &long_key) != Some(Vec::new()) {
            return Err("empty value under a long key lost".into());
        }

        // 4. Records round-trip through the versioned encoding.
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Probe {
            a: String,
            b: u64,
        }
        let enc = encode_record(&Probe {
            a: "x".into(),
            b: 7,
        });
        let dec: Option<Probe> = decode_record(Table::Meta, &enc);
        if dec
            != Some(Probe {
                a: "x".into(),
                b: 7,
            })
        {
            return Err("record encoding round trip failed".into());
        }
        let mut future = enc.clone();
        if let Some(first) = future.first_mut() {
            *first = 99;
        }
        if decode_record::<Probe>(Table::Meta, &future).is_some() {
            return Err("a record from a future schema version was accepted".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_are_the_bytes_postcard_writes() {
        #[derive(Serialize)]
        struct R<'a> {
            a: &'a str,
            n: u64,
            i: i64,
            o: Option<String>,
            b: bool,
            v: Vec<u32>,
        }
        let long = "x".repeat(700);
        for (a, n, i) in [
            ("", 0, 0),
            ("wv:bob@localhost", 300, -5),
            (long.as_str(), u64::MAX, i64::MIN),
        ] {
            let r = R {
                a,
                n,
                i,
                o: (n > 0).then(|| a.to_owned()),
                b: i < 0,
                v: vec![1, 200, 70_000],
            };
            let mut expected = SCHEMA_VERSION.to_le_bytes().to_vec();
            expected = postcard::to_extend(&r, expected).unwrap();
            assert_eq!(encode_record(&r), expected);
            assert_eq!(encode_record_sized(&r, 3), expected);
        }
    }

    #[test]
    fn memory_store_passes_conformance() {
        // The memory store's "reopen" keeps the same map: share it through a cell.
        let shared = std::rc::Rc::new(std::cell::RefCell::new(MemoryStore::default()));
        struct Handle(std::rc::Rc<std::cell::RefCell<MemoryStore>>);
        impl Store for Handle {
            type Error = std::convert::Infallible;
            fn apply(&mut self, batch: &StorageBatch) -> Result<(), Self::Error> {
                self.0.borrow_mut().apply(batch)
            }
            fn load(&self) -> Result<Vec<Record>, Self::Error> {
                self.0.borrow().load()
            }
        }
        conformance::run(|fresh| {
            if fresh {
                *shared.borrow_mut() = MemoryStore::default();
            }
            Handle(shared.clone())
        })
        .unwrap();
    }
}
