//! Webhooks from Meta: the signature check, the inbox every verified body is written to before
//! its 200, and the processing that turns bodies into ledger events, review items and replies.

mod messages;
mod numbers;
pub mod payload;
mod preferences;
pub mod process;
pub mod sender;
mod signups;
mod statuses;

use hmac::{Hmac, Mac};
use rusqlite::params;
use sha2::Sha256;

use crate::error::Result;
use crate::secrets::Secret;
use crate::store::Store;
use crate::time;

/// Bodies larger than this are refused (Meta's payloads are at most 3 MB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(app secret, the exact raw
/// bytes received), in constant time. Meta signs the body with non-ASCII escaped as `\uXXXX`,
/// which is what arrives, so hashing the bytes as they came is right: never re-serialised JSON.
pub fn signature_valid(app_secret: &Secret, header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `sha256=<hex>` of HMAC-SHA256(app secret, body): what Meta puts in `X-Hub-Signature-256`.
pub fn sign(app_secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes())
        .expect("HMAC takes a key of any length"); // start-up invariant
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let secret = Secret::new("app-secret");
        let body = br#"{"text":"stop \ud83d\ude4f"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_valid(&secret, Some(&good), body));
        assert!(!signature_valid(
            &secret,
            Some(&good),
            br#"{"text":"stop"}"#
        ));
        assert!(!signature_valid(&Secret::new("other"), Some(&good), body));
        assert!(!signature_valid(&secret, None, body));
        assert!(!signature_valid(&secret, Some("sha256=zz"), body));
        assert!(!signature_valid(
            &secret,
            Some(&good.replace("sha256=", "sha1=")),
            body
        ));
    }
}
