//! Backups: a consistent copy of the live database in one step (`VACUUM INTO`, safe while the
//! app, the receiver or a broadcast writes), and a restore that checks the copy — integrity,
//! schema version, ledger — before replacing anything.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ledger;
use crate::receiver;
use crate::store::{self, Database, DbKey, Store, SCHEMA_VERSION};

/// Writes a consistent copy of the database to `dest` (which must not exist), encrypted with the
/// same key.
pub fn backup(store: &Store, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(Error::invalid(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    let dest_text = dest
        .to_str()
        .ok_or_else(|| Error::invalid("the backup path must be valid UTF-8"))?;
    // SQLCipher's export into a copy attached with the same key, inside one read transaction:
    // one consistent snapshot however much is written meanwhile. (`VACUUM INTO` does not carry
    // the key's settings over, so its copy would not open.)
    let conn = store.conn();
    let key = store.database().key;
    conn.execute(
        "ATTACH DATABASE ?1 AS backup KEY ?2",
        [dest_text, &key.sqlcipher_value()],
    )?;
    let copied = (|| -> Result<()> {
        conn.execute_batch("BEGIN")?;
        let version: i64 = conn.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
        conn.query_row("SELECT sqlcipher_export('backup')", [], |_| Ok(()))?;
        conn.execute_batch(&format!("PRAGMA backup.user_version = {version}; COMMIT;"))?;
        Ok(())
    })();
    if copied.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let detached = conn.execute_batch("DETACH DATABASE backup");
    if let Err(e) = copied {
        let _ = std::fs::remove_file(dest);
        return Err(e);
    }
    detached?;
    Ok(())
}

/// What a checked backup holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    pub schema_version: i64,
    pub contacts: u64,
    pub events: u64,
}

/// Checks a backup without touching it: SQLite's integrity check, a schema this OptDesk can
/// read, and the ledger's chain and state (on a scratch copy, migrated if older). A backup made
/// before encryption at rest is plain, and is read as it is.
pub fn check(file: &Path, key: &DbKey) -> Result<Checked> {
    let bad =
        |why: String| Error::invalid(format!("{} is not a usable backup: {why}", file.display()));
    {
        let conn =
            rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| bad(e.to_string()))?;
        if !store::is_plain(file) {
            key.apply(&conn)?;
        }
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| {
                bad(format!(
                    "it is damaged, or encrypted with another key than this database's ({e})"
                ))
            })?;
        if ok != "ok" {
            return Err(bad(format!("SQLite's integrity check failed ({ok})")));
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| bad(e.to_string()))?;
        if version > SCHEMA_VERSION {
            return Err(bad(format!(
                "it was written by a newer OptDesk (schema {version})"
            )));
        }
    }
    let scratch = tempfile_dir(file)?;
    let copy = scratch.join("check.sqlite3");
    std::fs::copy(file, &copy).map_err(|source| Error::Io {
        path: copy.clone(),
        source,
    })?;
    let result = (|| {
        let store = Store::open(&copy, key)?;
        let report = ledger::verify(&store)?;
        match report.problem {
            Some(p) => Err(bad(format!(
                "its consent ledger does not verify: {}",
                p.message
            ))),
            None => Ok(Checked {
                schema_version: store.schema_version()?,
                contacts: report.contacts,
                events: report.events,
            }),
        }
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn tempfile_dir(near: &Path) -> Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "optdesk-restore-{}-{}",
        std::process::id(),
        near.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    std::fs::create_dir_all(&base).map_err(|source| Error::Io {
        path: base.clone(),
        source,
    })?;
    Ok(base)
}

/// Replaces the database at `db` with the checked backup `file`. Refused while a receiver holds
/// the database, or while any other connection is writing to it.
pub fn restore(database: &Database, file: &Path) -> Result<Checked> {
    let db = database.path.as_path();
    let checked = check(file, &database.key)?;
    let _lock = receiver::lock(db).map_err(|_| Error::invalid(
        "a webhook receiver (the app or `optdesk serve`) is using this database; stop it before restoring",
    ))?;
    if db.exists() {
        let conn = store::connect(db, &database.key)?;
        conn.busy_timeout(std::time::Duration::from_millis(200))?;
        conn.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;")
            .map_err(|_| {
                Error::invalid(
                    "another OptDesk program is using this database; close it before restoring",
                )
            })?;
    }
    let staging = db.with_extension("restoring");
    std::fs::copy(file, &staging).map_err(|source| Error::Io {
        path: staging.clone(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&staging, db).map_err(|source| Error::Io {
        path: db.to_path_buf(),
        source,
    })?;
    // Bring it up to this OptDesk's schema (and encrypt a backup from before encryption).
    database.open()?;
    Ok(checked)
}
