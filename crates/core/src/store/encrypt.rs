//! Encrypting a plain OptDesk file in place (an installation from before encryption at rest).
//!
//! The copy is made with SQLCipher's `sqlcipher_export` into a new file beside the old one,
//! checked (integrity, schema version, the same number of rows in every table), and only then
//! renamed over the original, so a crash at any point leaves either the plain file or the
//! encrypted one — never a half of each.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::key::DbKey;
use super::SCHEMA_VERSION;
use crate::error::{Error, Result};

pub(super) fn in_place(path: &Path, key: &DbKey) -> Result<()> {
    let fail = |reason: String| Error::Open {
        path: path.to_path_buf(),
        reason: format!("could not encrypt this unencrypted database: {reason}"),
    };
    let plain = Connection::open_with_flags(
        path,
        // CREATE, or SQLite would refuse to create the attached copy.
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(e.to_string()))?;
    plain.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = plain
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| fail(format!("it is not an OptDesk database ({e})")))?;
    if version > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // Leaving WAL mode needs the only connection to the file: it is how we know no other
    // OptDesk program is writing to what we are about to replace.
    let in_use = || {
        fail(
            "another OptDesk program (the app, `optdesk serve`, a broadcast) has it open; close \
             it and run this again"
                .into(),
        )
    };
    plain.busy_timeout(std::time::Duration::from_secs(2))?;
    let mode: String = plain
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|_| in_use())?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(in_use());
    }

    let staging = path.with_extension("encrypting");
    let _ = std::fs::remove_file(&staging);
    let staging_text = staging
        .to_str()
        .ok_or_else(|| fail("the database path must be valid UTF-8".into()))?;
    let tables: Vec<String> = plain
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let count = |conn: &Connection| -> rusqlite::Result<Vec<i64>> {
        tables
            .iter()
            .map(|t| conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0)))
            .collect()
    };
    let before = count(&plain)?;
    plain
        .execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            [staging_text, &key.sqlcipher_value()],
        )
        .map_err(|e| fail(e.to_string()))?;
    plain
        .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
        .map_err(|e| fail(e.to_string()))?;
    plain.execute_batch(&format!(
        "PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
    ))?;

    let copy = super::connect(&staging, key)?;
    let ok: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    let copied_version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let after = count(&copy)?;
    drop(copy);
    if ok != "ok" || copied_version != version || after != before {
        let _ = std::fs::remove_file(&staging);
        return Err(fail(format!(
            "the encrypted copy did not match (integrity {ok}, schema {copied_version} vs {version}); \
             the unencrypted file is unchanged"
        )));
    }
    std::fs::File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::Io {
            path: staging.clone(),
            source,
        })?;
    drop(plain);
    std::fs::rename(&staging, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    Ok(())
}
