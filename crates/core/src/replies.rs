//! OptDesk's own replies (opt-out confirmations, HELP answers, welcomes): one per inbound
//! message, sent by its deadline or not at all (with the reason recorded), never resent blindly.
//! The deadline counts from the customer's message (`due_at`, set when the reply is queued):
//! 5 minutes for a confirmation, WhatsApp's 24-hour window for the others.

use rusqlite::params;
use serde::Serialize;

use crate::error::Result;
use crate::model::{ReplyKind, ReplyState};
use crate::store::Store;
use crate::time;
use crate::whatsapp::{Client, ClientError, TextMessage};

/// How long after the customer's message a confirmation may still go (the FCC's expectation).
pub const DEADLINE: chrono::Duration = crate::webhook::sender::CONFIRMATION_DEADLINE;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SendReport {
    pub sent: u64,
    pub failed: u64,
    pub unknown: u64,
    pub skipped: u64,
}

/// After a crash: a reply caught in `sending` may or may not have reached WhatsApp. It becomes
/// `unknown` rather than being sent again.
pub fn recover_interrupted(store: &mut Store) -> Result<usize> {
    Ok(store.conn().execute(
        "UPDATE outbound_messages SET state = 'unknown', error = 'OptDesk stopped while sending it',
            updated_at = ?1 WHERE state = 'sending'",
        [time::to_db(&time::now())],
    )?)
}

struct Claimed {
    id: i64,
    to: String,
    body: String,
    in_reply_to: String,
}

/// Sends every queued reply (or skips those past the deadline).
pub async fn send_queued(store: &mut Store, client: &Client) -> Result<SendReport> {
    let mut report = SendReport::default();
    let now = time::now();
    let late = time::to_db(&(now - DEADLINE));
    let now_db = time::to_db(&now);
    // Called every 200 ms by the receiver: look before taking the write lock, which the inbox
    // writer (every webhook's 200) and broadcasts need far more often than this does.
    let queued: bool = store.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM outbound_messages WHERE state = 'queued')",
        [],
        |r| r.get(0),
    )?;
    if !queued {
        return Ok(report);
    }
    let claimed: Vec<Claimed> = store.with_tx(|tx| {
        report.skipped += tx.execute(
            "UPDATE outbound_messages SET state = 'skipped', updated_at = ?1,
                error = CASE kind WHEN 'optout_confirmation'
                    THEN 'not sent within 5 minutes of the customer''s message, so not sent at all'
                    ELSE 'not sent within WhatsApp''s 24-hour window, so not sent at all' END
             WHERE state = 'queued' AND (due_at < ?1 OR due_at IS NULL AND created_at < ?2)",
            params![now_db, late],
        )? as u64;
        let rows: Vec<Claimed> = tx
            .prepare("SELECT id, to_number, body, in_reply_to FROM outbound_messages WHERE state = 'queued' ORDER BY id LIMIT 50")?
            .query_map([], |r| Ok(Claimed { id: r.get(0)?, to: r.get(1)?, body: r.get(2)?, in_reply_to: r.get(3)? }))?
            .collect::<rusqlite::Result<_>>()?;
        for c in &rows {
            tx.execute("UPDATE outbound_messages SET state = 'sending', updated_at = ?1 WHERE id = ?2", params![now_db, c.id])?;
        }
        Ok(rows)
    })?;
    for c in claimed {
        let msg = TextMessage {
            to: c.to,
            body: c.body,
            reply_to: Some(c.in_reply_to),
            callback_data: Some(format!("reply={}", c.id)),
        };
        let result = client.send_text(&msg).await;
        let (state, wamid, error) = match result {
            Ok(sent) => (ReplyState::Sent, Some(sent.message_id), None),
            Err(e @ ClientError::Network { .. }) => {
                (ReplyState::Unknown, None, Some(e.to_string()))
            }
            Err(e) => (ReplyState::Failed, None, Some(e.to_string())),
        };
        match state {
            ReplyState::Sent => report.sent += 1,
            ReplyState::Unknown => report.unknown += 1,
            _ => report.failed += 1,
        }
        store.conn().execute(
            "UPDATE outbound_messages SET state = ?1, wamid = ?2, error = ?3, updated_at = ?4 WHERE id = ?5",
            params![state, wamid, error, time::to_db(&time::now()), c.id],
        )?;
    }
    Ok(report)
}

/// A reply to queue, as the webhook processor decided it (`state` is `queued`, or `skipped` with
/// the reason in `error`).
pub(crate) struct NewReply<'a> {
    pub kind: ReplyKind,
    pub contact: Option<crate::model::ContactId>,
    pub to: Option<&'a str>,
    pub in_reply_to: &'a str,
    pub optout_event: Option<crate::model::EventId>,
    pub body: &'a str,
    pub state: ReplyState,
    pub error: Option<&'a str>,
    pub now: &'a str,
    pub due: &'a str,
    pub arrived_late: bool,
}

/// Queues one reply; a second one to the same message is ignored (`in_reply_to` is unique).
pub(crate) fn queue(conn: &rusqlite::Connection, r: &NewReply<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outbound_messages (kind, contact_id, to_number, in_reply_to,
            optout_event_id, body, state, error, created_at, updated_at, due_at, arrived_late)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
    )?
    .execute(params![
        r.kind,
        r.contact.map(|c| c.0),
        r.to,
        r.in_reply_to,
        r.optout_event.map(|e| e.0),
        r.body,
        r.state,
        r.error,
        r.now,
        r.due,
        r.arrived_late,
    ])?;
    Ok(())
}

/// A status webhook for one of OptDesk's replies: its delivery status moves forward only.
pub(crate) fn record_delivery(
    conn: &rusqlite::Connection,
    wamid: &str,
    status: &str,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE outbound_messages SET delivery_status = ?1, updated_at = ?2 WHERE wamid = ?3 AND {}",
        crate::model::DeliveryStatus::advances_sql("delivery_status")
    ))?
    .execute(params![status, now, wamid])?;
    Ok(())
}

/// An erased person's replies lose their number and wording; how many.
pub(crate) fn erase_to(
    conn: &rusqlite::Connection,
    contact: crate::model::ContactId,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE outbound_messages SET to_number = NULL, body = '[erased]' WHERE contact_id = ?1",
        [contact.0],
    )?)
}
