//! Backups: a consistent copy of the live database in one step (SQLCipher's export inside one read
//! transaction, with the same key; safe while the app, the receiver or a broadcast writes), and
//! a restore that checks the copy — integrity,
//! schema version, ledger — before replacing anything.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ledger;
use crate::receiver;
use crate::store::{self, Database, DbKey, Store, SCHEMA_VERSION};

/// Writes a consistent copy of the database to `dest` (which must not exist), encrypted with the
/// same key.
pub fn backup(store: &Store, dest: &Path) -> Result<()> {
    // A copy of a damaged file would fail the restore's check: it is no backup.
    store.refuse_if_damaged()?;
    if dest.exists() {
        return Err(Error::invalid(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    export(store.conn(), &store.database().key, dest)
}

/// SQLCipher's export into a copy attached with the same key, inside one read transaction:
/// one consistent snapshot however much is written meanwhile. (`VACUUM INTO` does not carry
/// the key's settings over, so its copy would not open.)
fn export(conn: &rusqlite::Connection, key: &DbKey, dest: &Path) -> Result<()> {
    let dest_text = dest
        .to_str()
        .ok_or_else(|| Error::invalid("the backup path must be valid UTF-8"))?;
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
    // The backup passed the full check: the file is sound again (this replaces a damaged
    // verdict), then bring it up to this OptDesk's schema (and encrypt a pre-encryption one).
    store::integrity::record_sound(db, &format!("restored from {}", file.display()))?;
    database.open()?;
    Ok(checked)
}

/// The folder the daily backups go in: `backups/` beside the database.
pub fn rolling_dir(db: &Database) -> std::path::PathBuf {
    backups_dir(&db.path)
}

fn backups_dir(db: &Path) -> std::path::PathBuf {
    store::folder_beside(db, "backups")
}

/// Before a newer OptDesk migrates a file made by an older one: a copy as it was, in
/// `backups/before-upgrade-from-schema-N-….sqlite3` (outside the seven daily ones, so the
/// rotation never removes it). Run on the connection that is about to migrate, before it does.
pub(crate) fn before_upgrade(
    conn: &rusqlite::Connection,
    db: &Path,
    key: &DbKey,
    from: i64,
) -> Result<std::path::PathBuf> {
    let dir = backups_dir(db);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let dest = dir.join(format!(
        "before-upgrade-from-schema-{from}-{}.sqlite3",
        crate::time::now().format("%Y%m%d-%H%M%S%.6f")
    ));
    export(conn, key, &dest)?;
    Ok(dest)
}

/// Takes today's backup unless it exists, then keeps only the newest `keep`. Returns the backups
/// there are, newest first. The desktop app runs it at start-up.
pub fn rolling(db: &Database, keep: usize) -> Result<Vec<std::path::PathBuf>> {
    let dir = rolling_dir(db);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let today = dir.join(format!(
        "optdesk-{}.sqlite3",
        crate::time::now().format("%Y-%m-%d")
    ));
    if !today.exists() {
        // A damaged file is not backed up: its copy would push a good backup out of the seven.
        let verdict =
            store::integrity::check_if_stale(db, std::time::Duration::from_secs(60 * 60))?;
        if !verdict.ok {
            return Err(store::integrity::damaged(&db.path, &verdict.summary));
        }
        let store = db.open()?;
        let partial = today.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        backup(&store, &partial)?;
        std::fs::rename(&partial, &today).map_err(|source| Error::Io {
            path: today.clone(),
            source,
        })?;
    }
    let mut all = list_rolling(db)?;
    for old in all.split_off(keep.min(all.len())) {
        let _ = std::fs::remove_file(old);
    }
    Ok(all)
}

/// The daily backups, newest first.
pub fn list_rolling(db: &Database) -> Result<Vec<std::path::PathBuf>> {
    let dir = rolling_dir(db);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut all: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("optdesk-") && n.ends_with(".sqlite3"))
        })
        .collect();
    all.sort();
    all.reverse();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rolling_backup_is_taken_once_a_day_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::new(dir.path().join("db.sqlite3"), DbKey::generate().unwrap());
        db.open().unwrap();
        let backups = rolling_dir(&db);
        std::fs::create_dir_all(&backups).unwrap();
        for day in 1..=9 {
            std::fs::write(
                backups.join(format!("optdesk-2020-01-0{day}.sqlite3")),
                b"old",
            )
            .unwrap();
        }
        let kept = rolling(&db, 7).unwrap();
        assert_eq!(kept.len(), 7);
        let newest = &kept[0];
        assert!(newest
            .to_str()
            .unwrap()
            .contains(&crate::time::now().format("%Y-%m-%d").to_string()));
        assert_eq!(
            check(newest, &db.key).unwrap().schema_version,
            SCHEMA_VERSION
        );
        assert!(!backups.join("optdesk-2020-01-01.sqlite3").exists());
        let again = rolling(&db, 7).unwrap();
        assert_eq!(again, kept, "one backup a day");
    }
}
