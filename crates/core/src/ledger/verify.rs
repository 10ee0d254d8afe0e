//! `consent verify`: re-derives everything the ledger promises and names the first thing that
//! does not hold.
//!
//! 1. Every event, in id order: ids run 1, 2, 3… with no gap; the payload hash matches the
//!    payload (unless the event was redacted by an erasure, which keeps the hash); the previous
//!    hash is the prior event's chain hash; the chain hash matches the event.
//! 2. The chain's head (last id, hash, count) matches the last event, so cutting events off the
//!    end is caught too.
//! 3. Every contact's materialised consent and flags equal what its latest events say.

use std::collections::HashMap;

use serde::Serialize;

use super::hash::{self, Hash};
use crate::error::Result;
use crate::model::{EventId, Subject};
use crate::Store;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The first event that does not hold, when the problem is one event's.
    pub event: Option<EventId>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub contacts: u64,
    /// The first problem found; `None` when the ledger and the state agree.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

fn event_problem(id: i64, message: String) -> Option<Problem> {
    Some(Problem {
        event: Some(EventId(id)),
        message,
    })
}

fn to_hash(v: Vec<u8>) -> Option<Hash> {
    v.try_into().ok()
}

pub fn verify(store: &Store) -> Result<VerifyReport> {
    let conn = store.conn();
    // One read transaction, so a writer in another process cannot move things mid-check.
    conn.execute_batch("BEGIN DEFERRED")?;
    let out = verify_in(conn);
    conn.execute_batch("COMMIT")?;
    out
}

fn verify_in(conn: &rusqlite::Connection) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        events: 0,
        contacts: 0,
        problem: None,
    };
    // Latest state per (contact, subject), as the ledger tells it.
    let mut latest: HashMap<(i64, Subject), String> = HashMap::new();
    let mut prev = hash::GENESIS;
    let mut last_id = 0i64;

    let mut stmt = conn.prepare(
        "SELECT id, contact_id, subject, state, source_kind, actor, occurred_at, recorded_at,
                phone, source_detail, proof, evidence_ref, redacted_at,
                payload_hash, chain_hash
         FROM consent_events ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        report.events += 1;
        if id != last_id + 1 {
            let missing = if id > last_id + 1 {
                format!("event #{} is missing", last_id + 1)
            } else {
                "events are out of order".to_string()
            };
            report.problem = event_problem(
                id,
                format!("the ledger has a gap before event #{id}: {missing} (deleted?)"),
            );
            return Ok(report);
        }
        let subject_text: String = r.get(2)?;
        let state: String = r.get(3)?;
        let payload = hash::Payload {
            phone: r.get_ref(8)?.as_str_or_null()?,
            source_detail: r.get_ref(9)?.as_str_or_null()?,
            proof: r.get_ref(10)?.as_str_or_null()?,
            evidence_ref: r.get_ref(11)?.as_str_or_null()?,
        };
        let redacted = r.get::<_, Option<String>>(12)?.is_some();
        let (Some(stored_payload), Some(stored_chain)) = (to_hash(r.get(13)?), to_hash(r.get(14)?))
        else {
            report.problem = event_problem(id, format!("event #{id} has a damaged hash field"));
            return Ok(report);
        };
        if !redacted && hash::payload_hash(&payload) != stored_payload {
            report.problem = event_problem(
                id,
                format!("event #{id} has been altered: its number, source, proof or evidence no longer match its hash"),
            );
            return Ok(report);
        }
        let contact_id: i64 = r.get(1)?;
        let meta = hash::Meta {
            id,
            contact_id,
            subject: &subject_text,
            state: &state,
            source_kind: r.get_ref(4)?.as_str()?,
            actor: r.get_ref(5)?.as_str()?,
            occurred_at: r.get_ref(6)?.as_str()?,
            recorded_at: r.get_ref(7)?.as_str()?,
        };
        if hash::chain_hash(&prev, &stored_payload, &meta) != stored_chain {
            report.problem = event_problem(
                id,
                format!(
                    "event #{id} has been altered, or does not follow event #{last_id}: its contact, topic, \
                     state, source, actor or times no longer match the hash chain (an event was \
                     rewritten, removed or reordered)"
                ),
            );
            return Ok(report);
        }
        let subject: Subject = subject_text.parse()?;
        latest.insert((contact_id, subject), state);
        prev = stored_chain;
        last_id = id;
    }
    drop(rows);
    drop(stmt);

    let head: Option<(i64, Vec<u8>, i64)> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT last_event_id, chain_hash, event_count FROM ledger_head WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ))?;
    let head_ok = match &head {
        None => last_id == 0,
        Some((hid, h, n)) => *hid == last_id && h[..] == prev[..] && *n == last_id,
    };
    if !head_ok {
        let expected = head.map_or(0, |(hid, _, _)| hid);
        report.problem = Some(Problem {
            event: (expected > last_id).then_some(EventId(last_id + 1)),
            message: format!(
                "the ledger ends at event #{last_id} but its head records event #{expected}: events were removed from the end or the head was altered"
            ),
        });
        return Ok(report);
    }

    let mut stmt = conn.prepare(
        "SELECT id, phone, marketing, utility, meta_blocked, unreachable, review_pending
         FROM contacts ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        report.contacts += 1;
        let id: i64 = r.get(0)?;
        let stored: [(Subject, Option<String>); 5] = [
            (Subject::Marketing, r.get(2)?),
            (Subject::Utility, r.get(3)?),
            (Subject::MetaBlocked, flag(r.get(4)?)),
            (Subject::Unreachable, flag(r.get(5)?)),
            (Subject::ReviewPending, flag(r.get(6)?)),
        ];
        for (subject, value) in stored {
            let ledger = latest.get(&(id, subject)).map(String::as_str);
            let ledger = match (subject.is_topic(), ledger) {
                (false, None) => Some("cleared"),
                (_, l) => l,
            };
            if ledger != value.as_deref() {
                let phone: String = r.get(1)?;
                report.problem = Some(Problem {
                    event: None,
                    message: format!(
                        "contact {phone} shows {subject} = {} but the ledger says {}: the stored state was changed outside OptDesk",
                        value.as_deref().unwrap_or("unknown"),
                        ledger.unwrap_or("unknown")
                    ),
                });
                return Ok(report);
            }
        }
    }
    Ok(report)
}

fn flag(v: i64) -> Option<String> {
    Some(if v == 0 { "cleared" } else { "set" }.to_string())
}
