//! What a broadcast did: sent, delivered, read, failed by reason, held back, refused at send
//! time — and who opted out because of it.
//!
//! **Attribution.** An opt-out counts against a broadcast when it is the customer's own signal
//! (a keyword, an opt-out button, WhatsApp's `user_preferences` stop — never a 131050 at send
//! time, never an import or the owner), it happened after this broadcast was delivered to them
//! and within the window (`attribution_hours`), and no other broadcast was delivered to them in
//! between: the latest delivery before the opt-out wins. Times are the customer's (the
//! message's timestamp), so an opt-out that reached OptDesk late through the relay counts where
//! it happened, and one from before the delivery never counts.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Connection};
use serde::Serialize;

use super::get;
use crate::error::Result;
use crate::time;

/// WhatsApp held these back; they are not consent signals and not failures of the broadcast.
pub const HELD_BACK_CODES: &[i64] = &[131049, 130472];
/// The person had stopped marketing in WhatsApp before this broadcast.
pub const STOPPED_MARKETING: i64 = 131050;

/// SQL true for a consent event (`e`) that is a customer's own opt-out signal.
/// Its first two terms are the partial index `consent_events_signals`, word for word, so that
/// SQLite uses it.
pub(crate) const OWN_OPT_OUT: &str =
    "(e.source_kind = 'keyword' OR e.source_kind = 'button' OR e.source_kind = 'meta_signal')
     AND (e.state = 'opted_out' OR e.state = 'set')
     AND (((e.source_kind = 'keyword' OR e.source_kind = 'button') AND e.state = 'opted_out')
     OR (e.source_kind = 'meta_signal' AND e.subject = 'meta_blocked' AND e.state = 'set'
         AND e.evidence_ref LIKE 'user_preferences%'))";

/// One opt-out attributed to the broadcast.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttributedOptOut {
    pub contact_id: i64,
    pub phone: String,
    pub name: String,
    /// The ledger event (the first, when one message opted out of several topics).
    pub event_id: i64,
    /// keyword, button or meta_signal (`user_preferences`).
    pub source_kind: String,
    pub delivered_at: String,
    pub opted_out_at: String,
    /// Minutes from delivery to the opt-out.
    pub after_minutes: i64,
}

/// The opt-outs attributed to broadcast `id`, one per person, in the order they happened.
pub fn attributed(
    conn: &Connection,
    id: i64,
    window: chrono::Duration,
) -> Result<Vec<AttributedOptOut>> {
    let sql = format!(
        // From the opt-outs (a few percent of the ledger) to the recipients, not the other way
        // round: a pass over the ledger beats 100,000 index lookups into it.
        "SELECT r.contact_id, c.phone, c.name, e.id, e.source_kind, r.delivered_at, e.occurred_at
         FROM consent_events e
         CROSS JOIN broadcast_recipients r ON r.broadcast_id = ?1 AND r.contact_id = e.contact_id
         JOIN contacts c ON c.id = r.contact_id
         WHERE r.delivered_at IS NOT NULL
           AND e.occurred_at >= r.delivered_at AND {OWN_OPT_OUT}
           AND NOT EXISTS (
               SELECT 1 FROM broadcast_recipients o
               WHERE o.contact_id = r.contact_id AND o.broadcast_id <> r.broadcast_id
                 AND o.delivered_at IS NOT NULL AND o.delivered_at <= e.occurred_at
                 AND (o.delivered_at > r.delivered_at
                      OR (o.delivered_at = r.delivered_at AND o.broadcast_id > r.broadcast_id)))
         ORDER BY e.occurred_at, e.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id])?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (contact_id, delivered_at, at): (i64, String, String) =
            (r.get(0)?, r.get(5)?, r.get(6)?);
        let (Some(d), Some(a)) = (time::from_db(&delivered_at), time::from_db(&at)) else {
            continue;
        };
        if a - d > window || !seen.insert(contact_id) {
            continue;
        }
        out.push(AttributedOptOut {
            contact_id,
            phone: r.get(1)?,
            name: r.get(2)?,
            event_id: r.get(3)?,
            source_kind: r.get(4)?,
            delivered_at,
            opted_out_at: at,
            after_minutes: (a - d).num_minutes(),
        });
    }
    Ok(out)
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailedGroup {
    pub reason: String,
    pub code: Option<i64>,
    pub count: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Results {
    pub broadcast: i64,
    pub recipients: u64,
    /// Accepted by WhatsApp.
    pub sent: u64,
    /// Delivered or read (a read implies delivery even when no `delivered` came).
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub failed_by_reason: Vec<FailedGroup>,
    /// Held back by WhatsApp (131049 per-user marketing limit, 130472 experiment), at send time
    /// or before it (OptDesk holding what WhatsApp would refuse, US numbers included).
    pub held_back: u64,
    /// Refused because the person had already stopped marketing in WhatsApp (131050).
    pub stopped_marketing_before: u64,
    /// Not sent: OptDesk's gate (consent, flags, the frequency cap).
    pub not_sent_by_consent: u64,
    /// Still to send, or held as unknown.
    pub queued: u64,
    pub unknown: u64,
    pub opt_outs: Vec<AttributedOptOut>,
    /// Recipients who wrote to the shop within the window after delivery.
    pub replied: u64,
    /// Percentages of delivered; `None` before anything was delivered.
    pub read_rate: Option<f64>,
    pub opt_out_rate: Option<f64>,
    pub reply_rate: Option<f64>,
    pub window_hours: i64,
}

fn rate(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (n as f64 * 1000.0 / of as f64).round() / 10.0)
}

/// The results of broadcast `id`, with opt-outs in the `attribution_hours` window.
pub fn results(db: &impl crate::store::Db, id: i64) -> Result<Results> {
    let conn = db.connection();
    get(conn, id)?;
    let window = super::plan::Plan::load(conn)?.attribution;
    let mut r = Results {
        broadcast: id,
        recipients: 0,
        sent: 0,
        delivered: 0,
        read: 0,
        failed: 0,
        failed_by_reason: Vec::new(),
        held_back: 0,
        stopped_marketing_before: 0,
        not_sent_by_consent: 0,
        queued: 0,
        unknown: 0,
        opt_outs: Vec::new(),
        replied: 0,
        read_rate: None,
        opt_out_rate: None,
        reply_rate: None,
        window_hours: window.num_hours(),
    };
    let mut failed: BTreeMap<(Option<i64>, String), u64> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT state, delivery_status, error_code, reason, count(*) FROM broadcast_recipients
             WHERE broadcast_id = ?1 GROUP BY state, delivery_status, error_code, reason",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let (state, delivery, code, reason, n): (
                String,
                Option<String>,
                Option<i64>,
                Option<String>,
                u64,
            ) = (
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            );
            r.recipients += n;
            let held = code.is_some_and(|c| HELD_BACK_CODES.contains(&c))
                || reason.as_deref() == Some(crate::gate::BlockReason::HeldBack.describe());
            let stopped = code == Some(STOPPED_MARKETING);
            let delivery_failed = delivery.as_deref() == Some("failed");
            match state.as_str() {
                "sent" if !delivery_failed => {
                    r.sent += n;
                    match delivery.as_deref() {
                        Some("delivered") => r.delivered += n,
                        Some("read") => {
                            r.delivered += n;
                            r.read += n;
                        }
                        _ => {}
                    }
                }
                "sent" | "failed" | "blocked" if held => r.held_back += n,
                "sent" | "failed" | "blocked" if stopped => r.stopped_marketing_before += n,
                "sent" | "failed" => {
                    if state == "sent" {
                        r.sent += n; // accepted, then failed on the way
                    }
                    r.failed += n;
                    *failed
                        .entry((code, reason.unwrap_or_else(|| "no reason given".into())))
                        .or_default() += n;
                }
                "blocked" => r.not_sent_by_consent += n,
                "unknown" => r.unknown += n,
                _ => r.queued += n,
            }
        }
    }
    let mut groups: Vec<FailedGroup> = failed
        .into_iter()
        .map(|((code, reason), count)| FailedGroup {
            reason,
            code,
            count,
        })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    r.failed_by_reason = groups;
    r.opt_outs = attributed(conn, id, window)?;
    r.replied = replied(conn, id, window)?;
    r.read_rate = rate(r.read, r.delivered);
    r.opt_out_rate = rate(r.opt_outs.len() as u64, r.delivered);
    r.reply_rate = rate(r.replied, r.delivered);
    Ok(r)
}

/// Recipients who wrote within the window after this broadcast reached them.
fn replied(conn: &Connection, id: i64, window: chrono::Duration) -> Result<u64> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.contact_id, r.delivered_at, min(m.sent_at) FROM broadcast_recipients r
         JOIN inbound_messages m ON m.contact_id = r.contact_id AND m.sent_at >= r.delivered_at
         WHERE r.broadcast_id = ?1 AND r.delivered_at IS NOT NULL
         GROUP BY r.contact_id",
    )?;
    let mut rows = stmt.query(params![id])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let (d, m): (String, String) = (row.get(1)?, row.get(2)?);
        if let (Some(d), Some(m)) = (time::from_db(&d), time::from_db(&m)) {
            if m - d <= window {
                n += 1;
            }
        }
    }
    Ok(n)
}
