//! The brake: a marketing broadcast that makes people opt out, or fails far more than it
//! should, pauses by itself while it is still sending.
//!
//! Broadcasts over 200 recipients send a canary first and wait for the replies (see
//! [`super::plan::Brake`]); the same test runs for the rest of the broadcast, and smaller ones
//! are watched while they send. Only opt-outs attributed to this broadcast count (see
//! [`super::results`]): after its delivery, the customer's own signal. Figures are kept since
//! the owner's last resume, so resuming after a trip does not trip again on the same people.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::pauses::{NewPause, PauseKind};
use super::plan::{Brake, MIN_FAILURES, MIN_OPTOUTS};
use super::results::{attributed, HELD_BACK_CODES, OWN_OPT_OUT, STOPPED_MARKETING};
use crate::error::Result;
use crate::time;

/// What the brake counts.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub delivered: u64,
    pub opted_out: u64,
    /// Sends WhatsApp answered (accepted or refused).
    pub answered: u64,
    /// Failures other than WhatsApp holding a message back or a stop from before.
    pub failed: u64,
}

impl Figures {
    fn since(&self, base: &Figures) -> Figures {
        Figures {
            delivered: self.delivered.saturating_sub(base.delivered),
            opted_out: self.opted_out.saturating_sub(base.opted_out),
            answered: self.answered.saturating_sub(base.answered),
            failed: self.failed.saturating_sub(base.failed),
        }
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

/// Whether `f` (counted since the owner's last resume) trips `brake`, and why.
pub fn verdict(id: i64, brake: &Brake, f: &Figures) -> Option<NewPause> {
    let optouts = share(f.opted_out, f.delivered);
    let failures = share(f.failed, f.answered);
    let what = if f.opted_out >= MIN_OPTOUTS && optouts >= brake.optout_threshold {
        format!(
            "{} of {} delivered ({optouts:.1}%) opted out after this broadcast reached them; the brake's limit is {}%",
            f.opted_out, f.delivered, brake.optout_threshold
        )
    } else if f.failed >= MIN_FAILURES && failures >= brake.failure_threshold {
        format!(
            "{} of {} sends ({failures:.1}%) failed; the brake's limit is {}%",
            f.failed, f.answered, brake.failure_threshold
        )
    } else {
        return None;
    };
    Some(NewPause {
        kind: PauseKind::Brake,
        detail: format!(
            "the brake: {what}. Check the template's wording, the audience and the time of day \
             (`optdesk broadcast results {id}` lists who opted out); `optdesk broadcast send {id}` resumes it"
        ),
        figures: Some(serde_json::json!({
            "delivered": f.delivered, "opted_out": f.opted_out, "opt_out_percent": (optouts * 10.0).round() / 10.0,
            "answered": f.answered, "failed": f.failed, "failure_percent": (failures * 10.0).round() / 10.0,
            "optout_threshold": brake.optout_threshold, "failure_threshold": brake.failure_threshold,
        })),
    })
}

/// The brake's running count for one broadcast: the opt-outs are counted once in full, then
/// only from new ledger events.
pub struct Watch {
    id: i64,
    window: chrono::Duration,
    pub baseline: Figures,
    counted: HashSet<i64>,
    /// Opt-outs from recipients whose delivery was not yet known when they came in (the
    /// customer's STOP can be applied before the `delivered` status): looked at again.
    waiting: HashMap<i64, (i64, String)>,
    last_event: i64,
    pub figures: Figures,
}

impl Watch {
    pub fn start(
        conn: &Connection,
        id: i64,
        window: chrono::Duration,
        baseline: Figures,
    ) -> Result<Watch> {
        let last_event: i64 =
            conn.query_row("SELECT coalesce(max(id), 0) FROM consent_events", [], |r| {
                r.get(0)
            })?;
        let counted = attributed(conn, id, window)?
            .into_iter()
            .map(|o| o.contact_id)
            .collect();
        let mut w = Watch {
            id,
            window,
            baseline,
            counted,
            waiting: HashMap::new(),
            last_event,
            figures: Figures::default(),
        };
        w.refresh(conn)?;
        Ok(w)
    }

    /// Brings the figures up to date.
    pub fn refresh(&mut self, conn: &Connection) -> Result<()> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT e.id, e.contact_id, e.occurred_at FROM consent_events e
             WHERE e.id > ?1 AND {OWN_OPT_OUT} ORDER BY e.id"
        ))?;
        let fresh: Vec<(i64, i64, String)> = stmt
            .query_map([self.last_event], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if let Some((id, ..)) = fresh.last() {
            self.last_event = *id;
        }
        let mut look: Vec<(i64, i64, String)> = self
            .waiting
            .drain()
            .map(|(c, (e, at))| (e, c, at))
            .collect();
        look.extend(fresh);
        for (event, contact, at) in look {
            if self.counted.contains(&contact) {
                continue;
            }
            match self.attributes(conn, contact, &at)? {
                Some(true) => {
                    self.counted.insert(contact);
                }
                Some(false) => {}
                None => {
                    self.waiting.insert(contact, (event, at));
                }
            }
        }
        let codes: Vec<String> = HELD_BACK_CODES
            .iter()
            .chain([&STOPPED_MARKETING])
            .map(i64::to_string)
            .collect();
        let (delivered, answered, failed): (u64, u64, u64) = conn
            .prepare_cached(&format!(
                "SELECT count(delivered_at),
                        coalesce(sum(state = 'sent' OR state = 'failed'), 0),
                        coalesce(sum((state = 'failed' OR delivery_status = 'failed')
                                     AND coalesce(error_code, 0) NOT IN ({})), 0)
                 FROM broadcast_recipients WHERE broadcast_id = ?1",
                codes.join(", ")
            ))?
            .query_row([self.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        self.figures = Figures {
            delivered,
            opted_out: self.counted.len() as u64,
            answered,
            failed,
        };
        Ok(())
    }

    /// Whether an opt-out at `at` by `contact` counts against this broadcast: `None` while it
    /// was sent to them but its delivery is not yet known.
    fn attributes(&self, conn: &Connection, contact: i64, at: &str) -> Result<Option<bool>> {
        let row: Option<(crate::model::RecipientState, Option<String>)> = conn
            .prepare_cached(
                "SELECT state, delivered_at FROM broadcast_recipients
                 WHERE broadcast_id = ?1 AND contact_id = ?2",
            )?
            .query_row(params![self.id, contact], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let delivered = match row {
            None => return Ok(Some(false)),
            Some((_, Some(d))) => d,
            Some((state, None)) => {
                use crate::model::RecipientState::{Sending, Sent};
                return Ok((!matches!(state, Sent | Sending)).then_some(false));
            }
        };
        let (Some(d), Some(a)) = (time::from_db(&delivered), time::from_db(at)) else {
            return Ok(Some(false));
        };
        if a < d || a - d > self.window {
            return Ok(Some(false));
        }
        let later: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM broadcast_recipients o
                 WHERE o.contact_id = ?1 AND o.broadcast_id <> ?2 AND o.delivered_at IS NOT NULL
                   AND o.delivered_at <= ?3
                   AND (o.delivered_at > ?4 OR (o.delivered_at = ?4 AND o.broadcast_id > ?2)))",
            )?
            .query_row(params![contact, self.id, at, delivered], |r| r.get(0))?;
        Ok(Some(!later))
    }

    /// The figures since the owner's last resume.
    pub fn current(&self) -> Figures {
        self.figures.since(&self.baseline)
    }
}

/// The broadcast's stored brake: its plan (with the canary's size), or why it is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stored {
    Off { off: String },
    On { canary: u64, brake: Brake },
}

pub fn stored(conn: &Connection, id: i64) -> Result<Option<Stored>> {
    let v: Option<String> =
        conn.query_row("SELECT brake FROM broadcasts WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
    Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
}

pub fn store(conn: &Connection, id: i64, s: &Stored) -> Result<()> {
    conn.execute(
        "UPDATE broadcasts SET brake = ?1 WHERE id = ?2",
        params![serde_json::to_string(s).unwrap_or_default(), id],
    )?;
    Ok(())
}

pub fn baseline(conn: &Connection, id: i64) -> Result<Figures> {
    let v: Option<String> = conn.query_row(
        "SELECT brake_baseline FROM broadcasts WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(v.and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

pub fn set_baseline(conn: &Connection, id: i64, f: &Figures) -> Result<()> {
    conn.execute(
        "UPDATE broadcasts SET brake_baseline = ?1 WHERE id = ?2",
        params![serde_json::to_string(f).unwrap_or_default(), id],
    )?;
    Ok(())
}

/// When the canary's last recipient was claimed, if it has been.
pub fn canary_done_at(conn: &Connection, id: i64) -> Result<Option<time::Timestamp>> {
    let v: Option<String> = conn.query_row(
        "SELECT canary_done_at FROM broadcasts WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(v.as_deref().and_then(time::from_db))
}

pub fn set_canary_done(conn: &Connection, id: i64, at: &time::Timestamp) -> Result<()> {
    conn.execute(
        "UPDATE broadcasts SET canary_done_at = ?1 WHERE id = ?2 AND canary_done_at IS NULL",
        params![time::to_db(at), id],
    )?;
    Ok(())
}

/// How many recipients have been claimed for sending at least once.
pub fn claimed(conn: &Connection, id: i64) -> Result<u64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM broadcast_recipients WHERE broadcast_id = ?1 AND attempts > 0",
        )?
        .query_row([id], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brake() -> Brake {
        Brake {
            canary_share: 10.0,
            canary_max: 200,
            wait_seconds: 1800,
            optout_threshold: 2.0,
            failure_threshold: 20.0,
        }
    }

    fn f(delivered: u64, opted_out: u64, answered: u64, failed: u64) -> Figures {
        Figures {
            delivered,
            opted_out,
            answered,
            failed,
        }
    }

    #[test]
    fn it_trips_on_the_share_of_opt_outs_after_delivery_or_of_failures() {
        assert!(verdict(1, &brake(), &f(200, 10, 200, 0)).is_some(), "5%");
        let p = verdict(1, &brake(), &f(200, 10, 200, 0)).unwrap();
        assert!(
            p.detail.contains("10 of 200 delivered (5.0%)"),
            "{}",
            p.detail
        );
        assert_eq!(p.figures.unwrap()["opted_out"], 10);
        assert!(verdict(1, &brake(), &f(200, 3, 200, 0)).is_none(), "1.5%");
        assert!(
            verdict(1, &brake(), &f(10, 2, 10, 0)).is_none(),
            "two in ten is chance, not yet a pattern"
        );
        assert!(verdict(1, &brake(), &f(100, 0, 100, 25)).is_some());
        assert!(verdict(1, &brake(), &f(100, 0, 100, 15)).is_none());
    }

    #[test]
    fn figures_count_from_the_owners_last_resume() {
        let now = f(400, 12, 400, 0);
        let base = f(200, 10, 200, 0);
        assert_eq!(now.since(&base), f(200, 2, 200, 0));
        assert!(verdict(1, &brake(), &now.since(&base)).is_none());
    }
}
