//! A broadcast's recipients as the owner reads them: totals by state, and the list.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::Result;

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

pub fn counts(conn: &Connection, id: i64) -> Result<Counts> {
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
    pub state: String,
    pub reason: Option<String>,
    pub error_code: Option<i64>,
    pub wamid: Option<String>,
    pub delivery_status: Option<String>,
}

pub fn recipients(conn: &Connection, id: i64) -> Result<Vec<Recipient>> {
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
