//! The one owner of `inbox`: every verified body, written and committed before its 200, and
//! what became of it (processed, or set aside with its error for `optdesk inbox retry`).

use rusqlite::{params, Connection};

use crate::error::Result;
use crate::store::{Store, Tx};
use crate::time;

/// Whether a webhook body holds a `"messages": [...]` member (customers' messages), not just
/// statuses. Every body says `"field": "messages"`; only the member name is followed by a colon.
fn carries_messages(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"messages\"";
    body.windows(KEY.len()).enumerate().any(|(i, w)| {
        w == KEY
            && body[i + KEY.len()..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|&b| b == b':')
    })
}

/// Writes a verified body to the inbox and commits it: only then may the 200 go back.
pub fn store_in_inbox(store: &mut Store, body: &[u8]) -> Result<i64> {
    // Bodies carrying customers' messages (where a STOP arrives) go in the fast lane.
    let has_messages = carries_messages(body);
    store.with_tx(|tx| {
        tx.prepare_cached(
            "INSERT INTO inbox (received_at, body, has_messages) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![time::to_db(&time::now()), body, has_messages])?;
        Ok(tx.last_insert_rowid())
    })
}

/// Writes a verified body pulled from the relay mailbox, inside the pull's transaction (which
/// also moves the cursor). The same cursor twice, as after a crash between this commit and the
/// acknowledgement, is stored once. Whether it was new.
pub fn store_pulled(
    tx: &crate::store::Tx<'_>,
    mailbox: &str,
    seq: i64,
    received_at: &str,
    body: &[u8],
) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO inbox (received_at, body, has_messages, relay_mailbox, relay_seq)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            received_at,
            body,
            carries_messages(body),
            mailbox,
            seq
        ])?;
    Ok(n == 1)
}

/// Whether every body pulled from `mailbox` up to cursor `upto` has been processed (or set aside
/// with its error, which `optdesk inbox list` shows).
pub fn pulled_applied(store: &Store, mailbox: &str, upto: i64) -> Result<bool> {
    Ok(store.conn().query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM inbox WHERE relay_mailbox = ?1 AND relay_seq <= ?2
                              AND processed_at IS NULL AND error IS NULL)",
        params![mailbox, upto],
        |r| r.get(0),
    )?)
}

/// The newest inbox row's id (0 when empty): where a later search for a new body starts.
pub fn last_inbox_id(store: &Store) -> Result<i64> {
    Ok(store
        .conn()
        .query_row("SELECT coalesce(max(id), 0) FROM inbox", [], |r| r.get(0))?)
}

/// Whether a body holding `needle` (a self-test's nonce) arrived after row `after`. Only the
/// new rows are read: a shop's inbox holds every body ever received.
pub fn inbox_contains(store: &Store, after: i64, needle: &str) -> Result<bool> {
    Ok(store.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM inbox WHERE id > ?1 AND instr(CAST(body AS TEXT), ?2) > 0)",
        rusqlite::params![after, needle],
        |r| r.get(0),
    )?)
}

/// When the receiver last heard from Meta (the newest inbox body), if ever.
pub fn last_event_at(store: &Store) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(store
        .conn()
        .query_row(
            "SELECT received_at FROM inbox WHERE parent_id IS NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// The next bodies to process, at most `limit`. Customers' messages (where STOP arrives) come
/// before delivery statuses: under a broadcast's flood of statuses an opt-out must not wait
/// behind thousands of them. Each lane keeps its arrival order.
pub(super) fn next_batch(conn: &Connection, limit: i64) -> Result<Vec<(i64, String, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, received_at, body FROM inbox WHERE processed_at IS NULL AND error IS NULL
             ORDER BY has_messages DESC, id LIMIT ?1",
        )?
        .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The body was applied.
pub(super) fn processed(tx: &Tx<'_>, id: i64) -> Result<()> {
    tx.prepare_cached("UPDATE inbox SET processed_at = ?1, error = NULL WHERE id = ?2")?
        .execute(params![time::to_db(&time::now()), id])?;
    Ok(())
}

/// No part of the body could be applied: it keeps the error and waits for a retry.
pub(super) fn failed_whole(tx: &Tx<'_>, id: i64, error: &str) -> Result<()> {
    tx.prepare_cached("UPDATE inbox SET attempts = attempts + 1, error = ?1 WHERE id = ?2")?
        .execute(params![error, id])?;
    Ok(())
}

/// One part of an otherwise applied body failed: it is kept as a body of its own (`parent_id`
/// naming the original) with its error, so a retry applies just that part.
pub(super) fn keep_failed_part(
    tx: &Tx<'_>,
    received_at: &str,
    body: &[u8],
    has_messages: bool,
    parent: i64,
    error: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO inbox (received_at, body, has_messages, parent_id, attempts, error)
         VALUES (?1, ?2, ?3, ?4, 1, ?5)",
    )?
    .execute(params![received_at, body, has_messages, parent, error])?;
    Ok(())
}

/// A body (or a part kept on its own) whose processing failed, kept for `inbox retry`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failed {
    pub id: i64,
    pub received_at: String,
    pub attempts: i64,
    pub error: String,
}

/// The bodies that failed and wait for a retry, oldest first.
pub fn failed(store: &Store) -> Result<Vec<Failed>> {
    let mut stmt = store.conn().prepare(
        "SELECT id, received_at, attempts, error FROM inbox
         WHERE error IS NOT NULL AND processed_at IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Failed {
            id: r.get(0)?,
            received_at: r.get(1)?,
            attempts: r.get(2)?,
            error: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Puts failed bodies back in line; returns how many.
pub fn retry_failed(store: &mut Store) -> Result<usize> {
    Ok(store.conn().execute(
        "UPDATE inbox SET error = NULL WHERE processed_at IS NULL AND error IS NOT NULL",
        [],
    )?)
}

/// Deletes processed bodies received before `cutoff` (the retention period), except those a
/// customer's message still points at (its evidence). How many were deleted.
pub(crate) fn prune_before(conn: &Connection, cutoff: &str) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM inbox WHERE processed_at IS NOT NULL AND received_at < ?1
           AND id NOT IN (SELECT inbox_id FROM inbound_messages)",
        [cutoff],
    )?)
}
