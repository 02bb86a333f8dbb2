//! The embedded store: the engine's logical tables in one SQLite file (WAL,
//! `synchronous=FULL`), one row per record.
//!
//! Layout v1: `records(tbl TEXT, key TEXT, value BLOB, PRIMARY KEY(tbl, key))` plus a
//! `host_meta` row `schema_version`. The record values are the engine's versioned encoding;
//! this layout version covers only the SQLite tables (migrations are code, see [`migrate`]).

use std::fmt;
use std::path::{Path, PathBuf};

use imps_engine::store::{Record, StorageBatch, StorageOp, Store, Table};
use rusqlite::{Connection, OptionalExtension, params};

/// Version of the SQLite layout written by this code.
pub const LAYOUT_VERSION: i64 = 1;

/// Name of the database file inside the data directory.
pub const FILE_NAME: &str = "imps.sqlite3";

/// A failure of the SQLite store.
#[derive(Debug)]
pub enum SqliteError {
    /// SQLite itself failed.
    Sqlite(rusqlite::Error),
    /// The file was written by a newer version of this program.
    NewerLayout(i64),
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqliteError::Sqlite(e) => write!(f, "sqlite: {e}"),
            SqliteError::NewerLayout(v) => {
                write!(
                    f,
                    "the database has layout version {v}; this program knows up to {LAYOUT_VERSION}"
                )
            }
        }
    }
}

impl std::error::Error for SqliteError {}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        SqliteError::Sqlite(e)
    }
}

/// The engine's records in SQLite.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its layout up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, SqliteError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!("{}: journal_mode is {mode}, not WAL", path.display());
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        let mut store = SqliteStore {
            conn,
            path: path.to_owned(),
        };
        migrate(&mut store.conn)?;
        Ok(store)
    }

    /// Opens `DIR/imps.sqlite3`.
    pub fn open_in(dir: &Path) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open(&dir.join(FILE_NAME))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn apply_ops(tx: &rusqlite::Transaction<'_>, batch: &StorageBatch) -> Result<(), SqliteError> {
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO records (tbl, key, value) VALUES (?1, ?2, ?3)",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM records WHERE tbl = ?1 AND key = ?2")?;
        for op in &batch.ops {
            match op {
                StorageOp::Put { table, key, value } => {
                    put.execute(params![table.name(), key, value])?;
                }
                StorageOp::Delete { table, key } => {
                    delete.execute(params![table.name(), key])?;
                }
            }
        }
        Ok(())
    }
}

/// Creates or upgrades the layout. Each step is one transaction.
fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS host_meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
        [],
    )?;
    let version: Option<i64> = conn
        .query_row(
            "SELECT value FROM host_meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match version {
        None => {
            let tx = conn.transaction()?;
            tx.execute(
                "CREATE TABLE IF NOT EXISTS records (
                    tbl TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value BLOB NOT NULL,
                    PRIMARY KEY (tbl, key)
                ) WITHOUT ROWID",
                [],
            )?;
            tx.execute(
                "INSERT INTO host_meta (name, value) VALUES ('schema_version', ?1)",
                [LAYOUT_VERSION],
            )?;
            tx.commit()?;
            Ok(())
        }
        Some(LAYOUT_VERSION) => Ok(()),
        // Later layouts add arms here that upgrade step by step.
        Some(v) => Err(SqliteError::NewerLayout(v)),
    }
}

impl Store for SqliteStore {
    type Error = SqliteError;

    fn apply(&mut self, batch: &StorageBatch) -> Result<(), SqliteError> {
        self.apply_all(std::slice::from_ref(batch))
    }

    fn apply_all(&mut self, batches: &[StorageBatch]) -> Result<(), SqliteError> {
        if batches.iter().all(|b| b.ops.is_empty()) {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for b in batches {
            SqliteStore::apply_ops(&tx, b)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load(&self) -> Result<Vec<Record>, SqliteError> {
        let mut stmt = self.conn.prepare("SELECT tbl, key, value FROM records")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (tbl, key, value) = row?;
            match Table::from_name(&tbl) {
                Some(table) => out.push(Record { table, key, value }),
                None => tracing::warn!("skipping a record of unknown table {tbl:?}"),
            }
        }
        out.sort_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passes_the_storage_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        imps_engine::store::conformance::run(|fresh| {
            if fresh {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            SqliteStore::open(&path).unwrap()
        })
        .unwrap();
    }

    #[test]
    fn uses_wal_and_full_sync_and_refuses_newer_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_in(dir.path()).unwrap();
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = s
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        s.conn
            .execute(
                "UPDATE host_meta SET value = 99 WHERE name = 'schema_version'",
                [],
            )
            .unwrap();
        drop(s);
        assert!(matches!(
            SqliteStore::open_in(dir.path()),
            Err(SqliteError::NewerLayout(99))
        ));
    }

    #[test]
    fn a_failed_batch_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_in(dir.path()).unwrap();
        s.conn.execute("CREATE TRIGGER no_bad BEFORE INSERT ON records WHEN NEW.key = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END", []).unwrap();
        let put = |k: &str| StorageOp::Put {
            table: Table::Accounts,
            key: k.into(),
            value: b"v".to_vec(),
        };
        let r = s.apply_all(&[
            StorageBatch {
                id: 1,
                ops: vec![put("good")],
            },
            StorageBatch {
                id: 2,
                ops: vec![put("bad")],
            },
        ]);
        assert!(r.is_err());
        assert!(
            s.load().unwrap().is_empty(),
            "group commit must be all or nothing"
        );
    }
}
