//! The `relay_state` table's one owner: how far this database has taken the mailbox (its cursor:
//! every body up to it is in the inbox, or was refused), the newest the mailbox last said it
//! has, and how the pulls go.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::error::Result;
use crate::time::{self, Timestamp};

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RelayState {
    pub mailbox_url: Option<String>,
    pub cursor: i64,
    pub newest: i64,
    pub pulled_at: Option<String>,
    pub failing_since: Option<String>,
    pub error: Option<String>,
    /// Bodies the relay held whose Meta signature was wrong (forged, or altered on the way).
    pub refused: i64,
    pub refused_at: Option<String>,
}

pub fn load(conn: &Connection) -> Result<RelayState> {
    Ok(conn
        .query_row(
            "SELECT mailbox_url, cursor, newest, pulled_at, failing_since, error, refused, refused_at
             FROM relay_state WHERE id = 1",
            [],
            |r| {
                Ok(RelayState {
                    mailbox_url: r.get(0)?,
                    cursor: r.get(1)?,
                    newest: r.get(2)?,
                    pulled_at: r.get(3)?,
                    failing_since: r.get(4)?,
                    error: r.get(5)?,
                    refused: r.get(6)?,
                    refused_at: r.get(7)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// Where pulling `mailbox` starts: its cursor, or 0 for a mailbox this database has not read.
pub fn cursor_for(conn: &Connection, mailbox: &str) -> Result<i64> {
    conn.execute(
        "UPDATE relay_state SET mailbox_url = ?1, cursor = 0, newest = 0 WHERE id = 1 AND mailbox_url IS NOT ?1",
        [mailbox],
    )?;
    Ok(load(conn)?.cursor)
}

/// Moves the cursor, in the same transaction as the inbox rows it covers.
pub fn advance(conn: &Connection, mailbox: &str, cursor: i64, refused: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE relay_state SET cursor = max(cursor, ?1),
            refused = refused + ?2, refused_at = CASE WHEN ?2 > 0 THEN ?3 ELSE refused_at END
         WHERE id = 1 AND mailbox_url IS ?4",
    )?
    .execute(params![cursor, refused, time::to_db(&time::now()), mailbox])?;
    Ok(())
}

/// The mailbox was made anew: read it from its start.
pub fn restart(conn: &Connection, mailbox: &str) -> Result<()> {
    conn.execute(
        "UPDATE relay_state SET cursor = 0 WHERE id = 1 AND mailbox_url IS ?1",
        [mailbox],
    )?;
    Ok(())
}

/// A pull reached the relay; it said its newest is `newest`.
pub fn pulled(conn: &Connection, newest: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE relay_state SET newest = ?1, pulled_at = ?2, failing_since = NULL, error = NULL WHERE id = 1",
    )?
    .execute(params![newest, time::to_db(&time::now())])?;
    Ok(())
}

/// A pull failed; the first failure since the last good pull starts the clock.
pub fn failed(conn: &Connection, why: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE relay_state SET failing_since = coalesce(failing_since, ?1), error = ?2 WHERE id = 1",
    )?
    .execute(params![time::to_db(&time::now()), why])?;
    Ok(())
}

/// How long pulls have been failing, as of `now` (None: the last pull worked, or none yet).
pub fn failing_for(conn: &Connection, now: &Timestamp) -> Result<Option<chrono::Duration>> {
    Ok(load(conn)?
        .failing_since
        .as_deref()
        .and_then(time::from_db)
        .map(|since| *now - since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_belongs_to_its_mailbox_and_failures_keep_their_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        let c = store.conn();
        assert_eq!(cursor_for(c, "https://r/m/a").unwrap(), 0);
        advance(c, "https://r/m/a", 7, 1).unwrap();
        advance(c, "https://r/m/a", 5, 0).unwrap();
        assert_eq!(
            cursor_for(c, "https://r/m/a").unwrap(),
            7,
            "never backwards"
        );
        advance(c, "https://r/m/other", 99, 0).unwrap();
        assert_eq!(
            load(c).unwrap().cursor,
            7,
            "another mailbox's cursor is not this one's"
        );
        assert_eq!(load(c).unwrap().refused, 1);
        failed(c, "down").unwrap();
        let first = load(c).unwrap().failing_since;
        std::thread::sleep(std::time::Duration::from_millis(5));
        failed(c, "still down").unwrap();
        assert_eq!(load(c).unwrap().failing_since, first);
        assert!(failing_for(c, &time::now()).unwrap().is_some());
        pulled(c, 9).unwrap();
        assert_eq!(failing_for(c, &time::now()).unwrap(), None);
        assert_eq!(
            cursor_for(c, "https://r/m/b").unwrap(),
            0,
            "a new mailbox starts at 0"
        );
    }
}
