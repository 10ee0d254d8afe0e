//! The SQLite store: one file, WAL, foreign keys on, a busy timeout, and numbered migrations.
//!
//! Opening follows one order, so a file we must not touch is never touched: read the schema
//! version first (refusing a newer one before any pragma can rewrite the header), then set the
//! pragmas, then apply every pending migration in one IMMEDIATE transaction.

mod encrypt;
pub mod integrity;
mod key;
mod migrations;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Error, Result};
use crate::time;

pub use key::{system_key, DbKey};
pub use migrations::LATEST as SCHEMA_VERSION;

/// Whether `path` is an unencrypted SQLite file (from before encryption at rest).
pub fn is_plain(path: &Path) -> bool {
    key::file_kind(path) == key::FileKind::Plain
}

/// A raw connection to an OptDesk file, unlocked with `key` (nothing else set up). Backups,
/// restores and tests use it; everything else goes through [`Store`].
pub fn connect(path: &Path, key: &DbKey) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| Error::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    key.apply(&conn)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// The database every OptDesk program on this machine uses unless told otherwise: the OS's
/// per-user data directory (`~/.local/share/optdesk/optdesk.sqlite3` on Linux,
/// `~/Library/Application Support/optdesk/…` on macOS, `%APPDATA%\optdesk\…` on Windows).
pub fn default_db_path() -> Result<PathBuf> {
    let base = dirs::data_dir().ok_or_else(|| {
        Error::invalid(
            "this system reports no per-user data directory; pass --db PATH or set OPTDESK_DB",
        )
    })?;
    Ok(base.join("optdesk").join("optdesk.sqlite3"))
}

/// A database file and the key that opens it: what a thread or task needs to open its own
/// connection.
#[derive(Debug, Clone)]
pub struct Database {
    pub path: PathBuf,
    pub key: DbKey,
}

impl Database {
    pub fn new(path: impl Into<PathBuf>, key: DbKey) -> Database {
        Database {
            path: path.into(),
            key,
        }
    }

    pub fn open(&self) -> Result<Store> {
        Store::open(&self.path, &self.key)
    }

    /// A folder beside the database for what OptDesk writes for the owner: `backups`,
    /// `proofs`, `signups`. Both faces put files there through this.
    pub fn folder(&self, name: &str) -> PathBuf {
        folder_beside(&self.path, name)
    }
}

/// See [`Database::folder`].
pub(crate) fn folder_beside(db: &Path, name: &str) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from(name), |p| p.join(name))
}

/// An open OptDesk database. Each `Store` owns one connection; a process that needs more (the
/// receiver beside a broadcast) opens more, and SQLite's locking keeps them consistent.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    key: DbKey,
    salt: Vec<u8>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the encrypted database at `path` with `key` and brings its
    /// schema up to date. A plain (unencrypted) OptDesk file is encrypted in place first.
    pub fn open(path: impl AsRef<Path>, key: &DbKey) -> Result<Store> {
        Self::open_to(path.as_ref(), key, SCHEMA_VERSION)
    }

    /// Opens and migrates up to `version` only. Tests use it to make databases as an earlier
    /// OptDesk left them.
    #[doc(hidden)]
    pub fn open_to(path: &Path, key: &DbKey, version: i64) -> Result<Store> {
        let open_err = |reason: String| Error::Open {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create its folder: {e}")))?;
        }
        if key::file_kind(path) == key::FileKind::Plain {
            encrypt::in_place(path, key)?;
        }
        let mut conn = connect(path, key)?;

        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| {
                open_err(format!(
                    "it is not an OptDesk database, or it was encrypted with another key than \
                     this one (the keyring's, or OPTDESK_DB_KEY) ({e})"
                ))
            })?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }

        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("SQLite refused WAL mode (got {mode})")));
        }
        // A 32 MiB page cache: a day's work touches far more than the 2 MiB default, and
        // spilling mid-transaction costs more than the memory (see also `with_cache`).
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;

        // A file marked damaged gets no migration (a write), and opens read-only.
        let damaged = integrity::read(path).filter(|v| !v.ok);
        if let Some(v) = damaged.as_ref().filter(|_| found < version) {
            return Err(integrity::damaged(path, &v.summary));
        }
        // A file an older OptDesk made is copied as it was before this one changes it; no copy,
        // no upgrade (the file stays as it was).
        if found > 0 && found < version {
            crate::backup::before_upgrade(&conn, path, key, found).map_err(|e| {
                open_err(format!(
                    "it needs upgrading to this OptDesk's schema, and the backup taken first \
                     failed, so it was left untouched: {e}"
                ))
            })?;
        }
        let salt = migrate(&mut conn, found, version)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            key: key.clone(),
            salt,
        };
        if damaged.is_some() {
            store.read_only();
        }
        Ok(store)
    }

    /// The file and key, for opening another connection to this database.
    pub fn database(&self) -> Database {
        Database::new(&self.path, self.key.clone())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives SQLite's page cache back to the system (after a large read that will not come
    /// again soon). Best effort: a failure only means the memory stays in use.
    pub fn shrink_memory(&self) {
        let _ = self.conn.execute_batch("PRAGMA shrink_memory");
    }

    /// The connection, for the core's own modules. Tests of the core (and builds with the
    /// `test-support` feature, which only test builds turn on) reach it to set up rows by hand;
    /// the faces never do: they pass `&Store` where a function takes a [`Db`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    #[cfg(not(any(test, feature = "test-support")))]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// This installation's salt for hashing numbers (suppression list).
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `f` with a page cache of `mib` MiB instead of the usual 32, then puts it back. A big
    /// import writes tens of megabytes of pages in one transaction; pages pushed out of a small
    /// cache mid-way are encrypted and written more than once (a 100,000-row import: ~15%).
    pub fn with_cache<T>(
        &mut self,
        mib: u32,
        f: impl FnOnce(&mut Store) -> Result<T>,
    ) -> Result<T> {
        self.conn
            .pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
        let out = f(self);
        let restored = self.conn.pragma_update(None, "cache_size", -CACHE_KIB);
        let out = out?;
        restored?;
        Ok(out)
    }

    /// Runs `f` in one IMMEDIATE transaction: it takes the write lock up front, so two writers
    /// queue on the busy timeout instead of failing half-way, and everything `f` wrote commits
    /// together or not at all.
    pub fn with_tx<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.tx_then(true, f)
    }

    /// Runs `f` exactly as [`Store::with_tx`] would, then rolls everything back: a dry run that
    /// cannot differ from the real thing because it *is* the real thing, uncommitted.
    pub fn dry_run_tx<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.tx_then(false, f)
    }

    fn tx_then<T>(&mut self, commit: bool, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.refuse_if_damaged()?;
        let out = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&Tx {
                tx: &tx,
                salt: &self.salt,
            })?;
            if commit {
                tx.commit()?;
            } else {
                tx.rollback()?;
            }
            Ok(out)
        })();
        if let Err(e) = &out {
            integrity::note(&self.path, e);
        }
        out
    }
}

/// The page cache, in KiB (see `Store::open` and `Store::with_cache`).
const CACHE_KIB: i64 = 32 * 1024;

mod sealed {
    /// Where a read or write goes: the store, a connection or a transaction. Private, so only
    /// the core reaches the connection inside.
    pub trait Sealed {
        fn connection(&self) -> &rusqlite::Connection;

        /// The connection for a write: refused, with the one sentence, on a file marked
        /// damaged (a transaction already asked when it began).
        fn writer(&self) -> crate::error::Result<&rusqlite::Connection> {
            Ok(self.connection())
        }
    }
}

/// What the core's public functions that the faces call take (reads, and a few small writes such
/// as settings): the faces pass `&Store`, the core itself a connection or the transaction it is in. The connection inside stays the core's
/// (no SQL outside `crates/core`; docs/ARCHITECTURE.md).
pub trait Db: sealed::Sealed {}

impl sealed::Sealed for Store {
    fn connection(&self) -> &Connection {
        &self.conn
    }

    fn writer(&self) -> Result<&Connection> {
        self.refuse_if_damaged()?;
        Ok(&self.conn)
    }
}
impl Db for Store {}

impl sealed::Sealed for Connection {
    fn connection(&self) -> &Connection {
        self
    }
}
impl Db for Connection {}

impl sealed::Sealed for Tx<'_> {
    fn connection(&self) -> &Connection {
        self.tx
    }
}
impl Db for Tx<'_> {}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn connection(&self) -> &Connection {
        (**self).connection()
    }

    fn writer(&self) -> Result<&Connection> {
        (**self).writer()
    }
}
impl<T: Db + ?Sized> Db for &T {}

pub struct Tx<'a> {
    tx: &'a Transaction<'a>,
    salt: &'a [u8],
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.tx
    }
}

impl Tx<'_> {
    pub fn salt(&self) -> &[u8] {
        self.salt
    }
}

fn migrate(conn: &mut Connection, from: i64, to: i64) -> Result<Vec<u8>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated between our first look and taking the lock.
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    debug_assert!(current >= from);
    for (i, sql) in migrations::MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current && version <= to {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
        }
    }
    let salt: Option<Vec<u8>> = tx
        .query_row("SELECT salt FROM installation WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let salt = match salt {
        Some(s) => s,
        None => {
            let mut s = vec![0u8; 32];
            getrandom::fill(&mut s)
                .map_err(|e| Error::invalid(format!("no system randomness: {e}")))?;
            tx.execute(
                "INSERT INTO installation (id, salt, created_at) VALUES (1, ?1, ?2)",
                rusqlite::params![s, time::to_db(&time::now())],
            )?;
            s
        }
    };
    tx.commit()?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DbKey {
        DbKey::parse(&"5e".repeat(32)).unwrap()
    }

    fn plain_count(path: &Path, sql: &str) -> rusqlite::Result<i64> {
        Connection::open(path)?.query_row(sql, [], |r| r.get(0))
    }

    #[test]
    fn the_file_is_encrypted_and_opens_only_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optdesk.sqlite3");
        let mut store = Store::open(&path, &key()).unwrap();
        store
            .with_tx(|tx| {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES ('business_name', 'Bakery Sol')",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        drop(store);
        let bytes = std::fs::read(&path).unwrap();
        assert_ne!(&bytes[..16], b"SQLite format 3\0");
        assert!(!bytes.windows(10).any(|w| w == b"Bakery Sol"));
        assert!(plain_count(&path, "SELECT count(*) FROM settings").is_err());

        let other = DbKey::generate().unwrap();
        let err = Store::open(&path, &other).unwrap_err().to_string();
        assert!(err.contains("encrypted with another key"), "{err}");

        // SQLCipher's defaults and the key alone open it: what the standard tools do.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", key().sqlcipher_value()))
            .unwrap();
        let name: String = conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'business_name'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(name, "Bakery Sol");
    }

    #[test]
    fn a_plain_database_is_encrypted_in_place_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            // An OptDesk file from before encryption: schema 3, WAL, rows in the WAL.
            let c = Connection::open(&path).unwrap();
            c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .unwrap();
            for sql in &migrations::MIGRATIONS[..3] {
                c.execute_batch(sql).unwrap();
            }
            c.execute_batch("PRAGMA user_version = 3;").unwrap();
            c.execute_batch(
                "INSERT INTO settings (key, value) VALUES ('footer_text', 'Reply STOP')",
            )
            .unwrap();
            // As a crash would leave it: the rows still in the WAL, never checkpointed.
            std::fs::copy(&path, dir.path().join("crashed.sqlite3")).unwrap();
            std::fs::copy(
                dir.path().join("old.sqlite3-wal"),
                dir.path().join("crashed.sqlite3-wal"),
            )
            .unwrap();
        }
        let path = dir.path().join("crashed.sqlite3");
        assert_eq!(
            plain_count(&path, "SELECT count(*) FROM settings").unwrap(),
            1
        );
        let store = Store::open(&path, &key()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let footer: String = store
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = 'footer_text'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(footer, "Reply STOP");
        drop(store);
        assert_ne!(&std::fs::read(&path).unwrap()[..16], b"SQLite format 3\0");
        assert!(!dir.path().join("crashed.encrypting").exists());
        Store::open(&path, &key()).unwrap();
    }

    #[test]
    fn a_plain_database_in_use_elsewhere_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sqlite3");
        let c = Connection::open(&path).unwrap();
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let err = Store::open(&path, &key()).unwrap_err().to_string();
        assert!(err.contains("has it open"), "{err}");
        assert_eq!(plain_count(&path, "SELECT count(*) FROM t").unwrap(), 1);
    }

    #[test]
    fn a_new_file_gets_the_latest_schema_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/optdesk.sqlite3");
        let store = Store::open(&path, &key()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(store.salt().len(), 32);
        let salt = store.salt().to_vec();
        drop(store);
        assert_eq!(
            Store::open(&path, &key()).unwrap().salt(),
            salt,
            "the salt is made once"
        );
    }

    #[test]
    fn a_newer_database_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE from_the_future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(&path, &key()).unwrap_err();
        assert!(
            matches!(err, Error::SchemaTooNew { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer OptDesk"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "not one byte changed"
        );
        assert!(!dir.path().join("future.sqlite3-wal").exists());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.sqlite3");
        std::fs::write(
            &path,
            b"these are my shopping notes, not a database at all....",
        )
        .unwrap();
        let err = Store::open(&path, &key()).unwrap_err().to_string();
        assert!(err.contains("not an OptDesk database"), "{err}");
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("db.sqlite3"), &key()).unwrap();
        let r: Result<()> = store.with_tx(|tx| {
            tx.execute("INSERT INTO settings (key, value) VALUES ('a', 'b')", [])?;
            Err(Error::invalid("boom"))
        });
        assert!(r.is_err());
        let n: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM settings", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
