//! The SQLite store passes the storage conformance suite and keeps the engine's records
//! across a reopen (a restart of the host).

use imps_engine::server::{AdminCommand, Config, Input, Output, Server};
use imps_engine::store::{Store, conformance};
use imps_host::SqliteStore;

#[test]
fn sqlite_store_passes_storage_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("imps.sqlite3");
    let result = conformance::run(|fresh| {
        if fresh {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        SqliteStore::open(&path).unwrap()
    });
    assert_eq!(result, Ok(()));
}

fn cheap() -> Config {
    let mut c = Config::default();
    c.login.hash_memory_kib = 8;
    c.login.hash_iterations = 1;
    c
}

#[test]
fn engine_records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_in(dir.path()).unwrap();
    let mut server = Server::new(cheap(), [7; 32]);
    server.handle(0, Input::Restore(store.load().unwrap()));
    server.handle(
        1,
        Input::Admin {
            id: 1,
            command: AdminCommand::ProvisionUser {
                user_id: "wv:bob".into(),
                password: "pw".into(),
            },
        },
    );
    let mut batches = Vec::new();
    while let Some(out) = server.poll_output() {
        if let Output::Storage(b) = out {
            batches.push(b);
        }
    }
    assert!(!batches.is_empty(), "provisioning a user stores it");
    store.apply_all(&batches).unwrap();
    drop(store);

    let store = SqliteStore::open_in(dir.path()).unwrap();
    let records = store.load().unwrap();
    assert!(!records.is_empty());
    let mut restarted = Server::new(cheap(), [8; 32]);
    restarted.handle(0, Input::Restore(records));
    assert!(restarted.has_account("wv:bob@localhost"));
    assert_eq!(restarted.account_count(), 1);
}
