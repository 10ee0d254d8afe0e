//! A broadcast's recipients as the owner reads them: totals by state, and the list.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::error::Result;
use crate::model::{ContactId, DeliveryStatus};

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub blocked: u64,
    pub unknown: u64,
    pub delivered: u64,
    pub read: u64,
}

pub fn counts(db: &impl crate::store::Db, id: i64) -> Result<Counts> {
    let conn = db.connection();
    let mut c = Counts::default();
    let mut stmt = conn.prepare_cached(
        "SELECT state, delivery_status, count(*) FROM broadcast_recipients WHERE broadcast_id = ?1
         GROUP BY state, delivery_status",
    )?;
    let mut rows = stmt.query([id])?;
    while let Some(r) = rows.next()? {
        let (state, delivery, n): (String, Option<String>, u64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        c.total += n;
        match state.as_str() {
            "queued" => c.queued += n,
            "sending" => c.sending += n,
            "sent" => c.sent += n,
            "failed" => c.failed += n,
            "blocked" => c.blocked += n,
            _ => c.unknown += n,
        }
        match delivery.as_deref() {
            Some("delivered") => c.delivered += n,
            Some("read") => c.read += n,
            _ => {}
        }
    }
    Ok(c)
}

#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub phone: String,
    pub state: crate::model::RecipientState,
    pub reason: Option<String>,
    pub error_code: Option<i64>,
    pub wamid: Option<String>,
    pub delivery_status: Option<String>,
}

pub fn recipients(db: &impl crate::store::Db, id: i64) -> Result<Vec<Recipient>> {
    let conn = db.connection();
    let mut stmt = conn.prepare(
        "SELECT c.phone, r.state, r.reason, r.error_code, r.wamid, r.delivery_status
         FROM broadcast_recipients r JOIN contacts c ON c.id = r.contact_id
         WHERE r.broadcast_id = ?1 ORDER BY c.phone",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Recipient {
            phone: r.get(0)?,
            state: r.get(1)?,
            reason: r.get(2)?,
            error_code: r.get(3)?,
            wamid: r.get(4)?,
            delivery_status: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What a status webhook says of one message a broadcast sent.
pub(crate) struct Delivery<'a> {
    pub wamid: &'a str,
    pub status: &'a str,
    /// When it reached them (a delivered or read status), by Meta's clock.
    pub delivered_at: Option<&'a str>,
    pub now: &'a str,
}

/// Moves the recipient's delivery status forward, and its delivery time earlier (a `delivered`
/// that arrives after its `read` still counts).
pub(crate) fn record_delivery(conn: &Connection, d: &Delivery<'_>) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE broadcast_recipients SET delivery_status = ?1, updated_at = ?2 WHERE wamid = ?3 AND {}",
        DeliveryStatus::advances_sql("delivery_status")
    ))?
    .execute(params![d.status, d.now, d.wamid])?;
    if let Some(at) = d.delivered_at {
        conn.prepare_cached(
            "UPDATE broadcast_recipients SET delivered_at = ?1
             WHERE wamid = ?2 AND (delivered_at IS NULL OR delivered_at > ?1)",
        )?
        .execute(params![at, d.wamid])?;
    }
    Ok(())
}

/// The status names its recipient in the callback data: the message id is stored even when the
/// webhook beat the engine to it, and a recipient held as unknown after a crash is settled.
pub(crate) fn settle_by_callback(
    conn: &Connection,
    broadcast: i64,
    contact: ContactId,
    d: &Delivery<'_>,
) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE broadcast_recipients SET wamid = coalesce(wamid, ?2), updated_at = ?3,
            state = CASE state WHEN 'unknown' THEN 'sent' ELSE state END,
            reason = CASE state WHEN 'unknown' THEN 'settled by WhatsApp''s status webhook' ELSE reason END,
            delivery_status = CASE WHEN {} THEN ?1 ELSE delivery_status END,
            delivered_at = CASE WHEN ?6 IS NOT NULL AND (delivered_at IS NULL OR delivered_at > ?6)
                                THEN ?6 ELSE delivered_at END
         WHERE broadcast_id = ?4 AND contact_id = ?5 AND (wamid IS NULL OR wamid = ?2)",
        DeliveryStatus::advances_sql("delivery_status")
    ))?
    .execute(params![d.status, d.wamid, d.now, broadcast, contact.0, d.delivered_at])?;
    Ok(())
}

/// Why WhatsApp failed a message after accepting it.
pub(crate) fn record_failure(
    conn: &Connection,
    wamid: &str,
    reason: &str,
    code: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE broadcast_recipients SET reason = ?1, error_code = ?2 WHERE wamid = ?3",
    )?
    .execute(params![reason, code, wamid])?;
    Ok(())
}
