//! Every storage backend passes `imps_engine::store::conformance::run`. A new backend (IndexedDB
//! through Node, PostgreSQL, ...) gets its test here.

use imps_engine::store::conformance;
use imps_host::SqliteStore;
use imps_tests::SharedMemoryStore;

#[test]
fn memory_store_passes_storage_conformance() {
    let shared = SharedMemoryStore::default();
    let result = conformance::run(|fresh| {
        if fresh {
            shared.wipe();
        }
        shared.clone()
    });
    assert_eq!(result, Ok(()));
}

#[test]
fn sqlite_store_passes_storage_conformance() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("conformance.sqlite3");
    let result = conformance::run(|fresh| {
        if fresh {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        SqliteStore::open(&path).expect("open the SQLite store")
    });
    assert_eq!(result, Ok(()));
}
