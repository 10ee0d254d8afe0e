//! The suppression list: numbers that must never be messaged or opted in again, kept as salted
//! hashes so an erased person's number is not stored in the clear. Import, add, send and sign-up
//! consult it.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::model::SourceKind;
use crate::time::{self, Timestamp};

/// Why a number is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    OptedOut,
    Erased,
    UnmatchedOptOut,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::OptedOut => "opted_out",
            Reason::Erased => "erased",
            Reason::UnmatchedOptOut => "unmatched_opt_out",
        }
    }
}

/// The salted hash of an E.164 number, as stored in `contacts.phone_hash` and `suppressions`.
pub fn phone_hash(salt: &[u8], e164: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(e164.as_bytes());
    h.finalize().into()
}

/// When and why `e164` was suppressed, if it is.
pub fn lookup(conn: &Connection, salt: &[u8], e164: &str) -> Result<Option<(String, Timestamp)>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT reason, suppressed_at FROM suppressions WHERE phone_hash = ?1",
            [&phone_hash(salt, e164)[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(reason, at)| time::from_db(&at).map(|t| (reason, t))))
}

pub fn is_suppressed(conn: &Connection, salt: &[u8], e164: &str) -> Result<bool> {
    Ok(lookup(conn, salt, e164)?.is_some())
}

/// Puts `e164` on the list (keeping the first date if it is already there).
pub fn add(
    conn: &Connection,
    salt: &[u8],
    e164: &str,
    reason: Reason,
    source: Option<SourceKind>,
    at: &Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO suppressions (phone_hash, reason, source_kind, suppressed_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (phone_hash) DO NOTHING",
        rusqlite::params![
            &phone_hash(salt, e164)[..],
            reason.as_str(),
            source.map(SourceKind::as_str),
            time::to_db(at)
        ],
    )?;
    Ok(())
}

/// Takes `e164` off the list (the person signed up again themselves): when and why it was on.
pub fn lift(conn: &Connection, salt: &[u8], e164: &str) -> Result<Option<(String, Timestamp)>> {
    let found = lookup(conn, salt, e164)?;
    if found.is_some() {
        conn.execute(
            "DELETE FROM suppressions WHERE phone_hash = ?1",
            [&phone_hash(salt, e164)[..]],
        )?;
    }
    Ok(found)
}

/// Ends the erasure suppressions older than the retention period: how many ended. (Opt-out
/// suppressions never end.)
pub fn end_erased_before(conn: &Connection, cutoff: &str) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM suppressions WHERE reason = 'erased' AND suppressed_at < ?1",
        [cutoff],
    )?)
}
