//! Delivery statuses of what OptDesk sent: each (message, status) once; a later webhook never
//! moves a message backwards; 131050 records Meta's marketing block (behind the flood guard) and
//! 131026 marks the contact unreachable.

use rusqlite::params;

use super::payload::Status;
use super::process::Processor;
use super::sender::{self, Evidence};
use crate::broadcast::recipients;
use crate::error::{Error, Result};
use crate::model::{ContactId, EventState, SourceKind, Subject};
use crate::store::Tx;
use crate::time;

/// `b=<broadcast>;c=<contact>`, as the engine sets `biz_opaque_callback_data`.
pub(super) fn broadcast_callback(data: Option<&str>) -> Option<(i64, i64)> {
    let mut b = None;
    let mut c = None;
    for part in data?.split(';') {
        match part.split_once('=') {
            Some(("b", v)) => b = v.parse().ok(),
            Some(("c", v)) => c = v.parse().ok(),
            _ => {}
        }
    }
    Some((b?, c?))
}

pub(super) fn handle(tx: &Tx<'_>, p: &Processor, st: &Status) -> Result<()> {
    let code = st.errors.first().map(|e| e.code);
    let now = time::now();
    let at = st.at.unwrap_or(now);
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO message_statuses (wamid, status, recipient, error_code, callback_data, occurred_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![st.id, st.status, st.recipient_id, code, st.callback_data,
                         time::to_db(&at), time::to_db(&now)])?;
    if fresh == 0 {
        return Ok(());
    }
    let now_db = time::to_db(&now);
    crate::replies::record_delivery(tx, &st.id, &st.status, &now_db)?;
    // When it reached them, by Meta's clock: a read implies the delivery before it.
    let delivered_at = matches!(st.status.as_str(), "delivered" | "read").then(|| time::to_db(&at));
    let delivery = recipients::Delivery {
        wamid: &st.id,
        status: &st.status,
        delivered_at: delivered_at.as_deref(),
        now: &now_db,
    };
    recipients::record_delivery(tx, &delivery)?;
    // The callback data names the recipient even before the engine stored the message id (the
    // webhook can win that race), and settles one held as unknown after a crash.
    if let Some((b, c)) = broadcast_callback(st.callback_data.as_deref()) {
        recipients::settle_by_callback(tx, b, ContactId(c), &delivery)?;
    }
    if st.status != "failed" {
        return Ok(());
    }
    if let Some(e) = st.errors.first() {
        let reason = format!("{} (code {})", e.class().advice(), e.code);
        recipients::record_failure(tx, &st.id, &reason, e.code)?;
    }
    // WhatsApp held it back: not consent, but their marketing waits as WhatsApp asks.
    if let Some(e) = st
        .errors
        .iter()
        .find(|e| e.code == 131049 || e.code == 130472)
    {
        let s = sender::find(
            tx,
            st.recipient_id.as_deref(),
            st.recipient_user_id.as_deref(),
        )?;
        if let Some(c) = &s.contact {
            let until = time::to_db(&(at + chrono::Duration::hours(24)));
            crate::contacts::hold_back(tx, c.0, e.code, &until)?;
        }
    }
    for e in &st.errors {
        let (subject, detail) = match e.code {
            131050 => (
                Subject::MetaBlocked,
                "131050: the person stopped marketing messages in WhatsApp",
            ),
            131026 => (
                Subject::Unreachable,
                "131026: WhatsApp could not deliver to this number",
            ),
            _ => continue,
        };
        if e.code == 131050 {
            guard(tx, p, &now)?;
        }
        let s = sender::find(
            tx,
            st.recipient_id.as_deref(),
            st.recipient_user_id.as_deref(),
        )?;
        let ev = Evidence {
            kind: SourceKind::MetaSignal,
            detail,
            proof: e.details().or(Some(&e.message)),
            reference: &st.id,
            at,
        };
        match &s.contact {
            Some(c) => {
                sender::set_subject(tx, c, subject, EventState::Set, &ev)?;
            }
            None if e.code == 131050 => {
                sender::suppress_unknown(tx, &s, SourceKind::MetaSignal, &at)?
            }
            None => {}
        }
    }
    Ok(())
}

/// More than `guard_per_hour` 131050s in an hour look like an account problem, not people:
/// they are held for the owner (this part fails and is kept for `inbox retry`).
fn guard(tx: &Tx<'_>, p: &Processor, now: &time::Timestamp) -> Result<()> {
    let since = time::to_db(&(*now - chrono::Duration::hours(1)));
    let recent: i64 = tx.query_row(
        "SELECT count(*) FROM message_statuses WHERE error_code = 131050 AND received_at > ?1",
        [since],
        |r| r.get(0),
    )?;
    if recent > i64::from(p.guard_per_hour) {
        return Err(Error::invalid(format!(
            "held by the provider-error guard: more than {} opt-outs from WhatsApp errors (131050) \
             in an hour; check the WhatsApp account, then run `optdesk inbox retry`",
            p.guard_per_hour
        )));
    }
    Ok(())
}

/// An erased person's number goes from the delivery statuses (`digits`: their number as Meta
/// writes it, without the `+`).
pub(crate) fn erase_recipient(conn: &rusqlite::Connection, digits: &str) -> Result<()> {
    conn.execute(
        "UPDATE message_statuses SET recipient = NULL WHERE recipient = ?1",
        [digits],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data() {
        assert_eq!(broadcast_callback(Some("b=3;c=17")), Some((3, 17)));
        assert_eq!(broadcast_callback(Some("c=17;b=3;x=1")), Some((3, 17)));
        assert_eq!(broadcast_callback(Some("reply=5")), None);
        assert_eq!(broadcast_callback(Some("some data")), None);
        assert_eq!(broadcast_callback(None), None);
    }

    #[test]
    fn delivery_never_goes_backwards() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let moves = |from: Option<&str>, to: &str| -> bool {
            conn.query_row(
                &format!(
                    "SELECT {} FROM (SELECT ?2 AS delivery_status)",
                    crate::model::DeliveryStatus::advances_sql("delivery_status")
                ),
                params![to, from],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert!(moves(None, "sent"));
        assert!(moves(Some("sent"), "read"));
        assert!(!moves(Some("read"), "delivered"));
        assert!(moves(Some("read"), "failed"));
        assert!(!moves(Some("failed"), "read"));
        assert!(!moves(Some("delivered"), "delivered"));
    }
}
