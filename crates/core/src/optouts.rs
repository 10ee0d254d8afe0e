//! The opt-outs and the review queue, as the owner reviews them.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ledger::{self, NewEvent};
use crate::model::{
    ConsentState, ContactId, EventState, ReplyState, ReviewState, SourceKind, Subject, Topic,
};
use crate::store::Store;
use crate::time;

/// One opt-out: the ledger event, who, and the confirmation it got.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct OptOut {
    pub event: i64,
    pub phone: Option<String>,
    pub name: String,
    /// marketing, utility, or meta_blocked (the person stopped marketing inside WhatsApp).
    pub topic: Subject,
    pub source_kind: SourceKind,
    pub source_detail: Option<String>,
    /// The message that opted them out, or Meta's words.
    pub evidence: Option<String>,
    pub evidence_ref: Option<String>,
    pub occurred_at: String,
    pub confirmation: Option<Confirmation>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    pub state: ReplyState,
    /// sent, delivered, read or failed, from status webhooks.
    pub delivery: Option<String>,
    pub error: Option<String>,
}

/// Every opt-out since `since` (an RFC 3339 time or date prefix), newest first.
pub fn list(store: &Store, since: Option<&str>) -> Result<Vec<OptOut>> {
    let mut stmt = store.conn().prepare(
        "SELECT e.id, e.phone, c.name, e.subject, e.source_kind, e.source_detail, e.proof,
                e.evidence_ref, e.occurred_at, o.state, o.delivery_status, o.error
         FROM consent_events e JOIN contacts c ON c.id = e.contact_id
         LEFT JOIN outbound_messages o
           ON o.in_reply_to = e.evidence_ref AND o.kind = 'optout_confirmation'
         WHERE (e.state = 'opted_out' OR (e.subject = 'meta_blocked' AND e.state = 'set'))
           AND e.occurred_at >= ?1
         ORDER BY e.occurred_at DESC, e.id DESC",
    )?;
    let rows = stmt.query_map([since.unwrap_or("")], |r| {
        let state: Option<ReplyState> = r.get(9)?;
        Ok(OptOut {
            event: r.get(0)?,
            phone: r.get(1)?,
            name: r.get(2)?,
            topic: r.get(3)?,
            source_kind: r.get(4)?,
            source_detail: r.get(5)?,
            evidence: r.get(6)?,
            evidence_ref: r.get(7)?,
            occurred_at: r.get(8)?,
            confirmation: match state {
                Some(state) => Some(Confirmation {
                    state,
                    delivery: r.get(10)?,
                    error: r.get(11)?,
                }),
                None => None,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub id: i64,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub text: String,
    pub matched: Option<String>,
    pub received_at: String,
    pub state: ReviewState,
    /// Days left of the FCC's 10 business days to decide.
    pub business_days_left: i64,
}

fn business_days_between(from: chrono::NaiveDate, to: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    let mut d = from;
    let mut n = 0;
    while d < to {
        d = d.succ_opt().unwrap_or(d);
        if d.weekday().num_days_from_monday() < 5 {
            n += 1;
        }
    }
    n
}

pub fn review_list(store: &Store, all: bool) -> Result<Vec<ReviewItem>> {
    let today = time::now().date_naive();
    let mut stmt = store.conn().prepare(
        "SELECT r.id, coalesce(c.phone, '+' || r.from_wa_id), c.name, r.text, r.matched, r.received_at, r.state
         FROM review_queue r LEFT JOIN contacts c ON c.id = r.contact_id
         WHERE ?1 OR r.state = 'open' ORDER BY r.id",
    )?;
    let rows = stmt.query_map([all], |r| {
        let received: String = r.get(5)?;
        let day = time::from_db(&received).map_or(today, |t| t.date_naive());
        Ok(ReviewItem {
            id: r.get(0)?,
            phone: r.get(1)?,
            name: r.get(2)?,
            text: r.get(3)?,
            matched: r.get(4)?,
            business_days_left: 10 - business_days_between(day, today),
            received_at: received,
            state: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Accepts (an opt-out from every topic) or dismisses a review item; either way, marketing to
/// the contact is no longer held for it.
pub fn review_decide(store: &mut Store, id: i64, accept: bool, actor: &str) -> Result<()> {
    store.with_tx(|tx| {
        let item: Option<(Option<i64>, String, String, ReviewState)> = tx
            .query_row(
                "SELECT contact_id, text, wamid, state FROM review_queue WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((contact, text, wamid, state)) = item else {
            return Err(Error::invalid(format!(
                "there is no review item {id}; see `optdesk review list`"
            )));
        };
        if state != ReviewState::Open {
            return Err(Error::invalid(format!(
                "review item {id} was already {state}"
            )));
        }
        let now = time::now();
        tx.execute(
            "UPDATE review_queue SET state = ?1, decided_at = ?2, decided_by = ?3 WHERE id = ?4",
            params![
                if accept {
                    ReviewState::Accepted
                } else {
                    ReviewState::Dismissed
                },
                time::to_db(&now),
                actor,
                id
            ],
        )?;
        let Some(contact) = contact.map(ContactId) else {
            return Ok(());
        };
        let (phone, marketing, utility, pending): (
            String,
            Option<ConsentState>,
            Option<ConsentState>,
            bool,
        ) = tx.query_row(
            "SELECT phone, marketing, utility, review_pending FROM contacts WHERE id = ?1",
            [contact.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let event = |subject: Subject, state: EventState, detail: &'static str| NewEvent {
            contact,
            phone: &phone,
            subject,
            state,
            source_kind: SourceKind::OwnerToggle,
            source_detail: Some(detail),
            proof: Some(&text),
            evidence_ref: Some(&wamid),
            actor,
            occurred_at: now,
        };
        let mut appender = ledger::Appender::new(tx)?;
        if accept {
            for (topic, current) in [(Topic::Marketing, &marketing), (Topic::Utility, &utility)] {
                if *current != Some(ConsentState::OptedOut) {
                    appender.append(&event(
                        topic.subject(),
                        EventState::OptedOut,
                        "accepted as an opt-out after review",
                    ))?;
                }
            }
        }
        let still_open: i64 = tx.query_row(
            "SELECT count(*) FROM review_queue WHERE contact_id = ?1 AND state = 'open'",
            [contact.0],
            |r| r.get(0),
        )?;
        if pending && still_open == 0 {
            appender.append(&event(
                Subject::ReviewPending,
                EventState::Cleared,
                "reviewed",
            ))?;
        }
        appender.finish()
    })
}
/// Opt-ins and opt-outs recorded in one week (weeks start on Monday, UTC).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Week {
    pub week_start: String,
    pub opt_ins: u64,
    pub opt_outs: u64,
    /// The days (YYYY-MM-DD) broadcasts went out in this week, for the chart's marks.
    pub broadcast_days: Vec<String>,
}

/// The last `weeks` weeks, oldest first, every week present (zeros included) so a chart's bars
/// line up with the calendar.
pub fn weekly(store: &Store, weeks: u32, now: time::Timestamp) -> Result<Vec<Week>> {
    use chrono::{Datelike, Duration};
    let today = now.date_naive();
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = this_monday - Duration::weeks(i64::from(weeks.max(1)) - 1);
    let mut out: Vec<Week> = (0..weeks.max(1))
        .map(|w| Week {
            week_start: (first + Duration::weeks(i64::from(w))).to_string(),
            opt_ins: 0,
            opt_outs: 0,
            broadcast_days: Vec::new(),
        })
        .collect();
    for day in crate::broadcast::started_days(store.conn(), &first.to_string())? {
        let Ok(date) = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
            continue;
        };
        let index = (date - first).num_days() / 7;
        if let Some(week) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
            week.broadcast_days.push(day);
        }
    }
    let mut stmt = store.conn().prepare(
        "SELECT substr(occurred_at, 1, 10), state FROM consent_events
         WHERE subject IN ('marketing', 'utility') AND state IN ('opted_in', 'opted_out')
           AND occurred_at >= ?1",
    )?;
    let mut rows = stmt.query([first.to_string()])?;
    while let Some(r) = rows.next()? {
        let day: String = r.get(0)?;
        let state: EventState = r.get(1)?;
        let Ok(date) = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
            continue;
        };
        let index = (date - first).num_days() / 7;
        if let Some(week) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
            if state == EventState::OptedIn {
                week.opt_ins += 1;
            } else {
                week.opt_outs += 1;
            }
        }
    }
    Ok(out)
}

/// Puts a message in front of the owner, once per message id.
pub(crate) fn queue_review(
    conn: &rusqlite::Connection,
    wamid: &str,
    contact: Option<ContactId>,
    from_wa_id: Option<&str>,
    text: &str,
    matched: Option<&str>,
    received_at: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO review_queue (wamid, contact_id, from_wa_id, text, matched, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![wamid, contact.map(|c| c.0), from_wa_id, text, matched, received_at])?;
    Ok(())
}

/// An erased person's messages waiting for review lose their text and number.
pub(crate) fn erase_reviews(conn: &rusqlite::Connection, contact: ContactId) -> Result<()> {
    conn.execute(
        "UPDATE review_queue SET text = '[erased]', from_wa_id = NULL WHERE contact_id = ?1",
        [contact.0],
    )?;
    Ok(())
}
