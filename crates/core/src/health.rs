//! The number's health as WhatsApp reports it (`number_health`, owned here).
//!
//! `phone_number_quality_update` says the number was flagged (its quality fell to low) or
//! unflagged, and when its messaging limit moved up or down; `account_update` says when the
//! account was warned, restricted or disabled. A drop pauses the marketing broadcasts that are
//! scheduled or under way (the "quality" or "account" reason) until the owner resumes them:
//! Meta lowers the limit next, and more marketing now makes that likelier.

use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

use crate::broadcast::pauses::{self, NewPause, PauseKind};
use crate::error::Result;
use crate::model::Category;
use crate::store::Tx;
use crate::time;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Health {
    /// GREEN, YELLOW or RED; `None` until WhatsApp has said.
    pub quality: Option<String>,
    pub messaging_limit: Option<String>,
    pub account_problem: Option<String>,
    pub last_event: Option<String>,
    pub updated_at: Option<String>,
}

impl Health {
    /// A sentence for the header and the audit when something needs the owner.
    pub fn warning(&self) -> Option<String> {
        if let Some(p) = &self.account_problem {
            return Some(format!("WhatsApp reports a problem with the account: {p}"));
        }
        match self.quality.as_deref() {
            Some("RED") => Some("the number's quality is low (WhatsApp flagged it): send no marketing for a while, and check what people are blocking or reporting".into()),
            Some("YELLOW") => Some("the number's quality is medium: watch opt-outs, and send marketing only to those who asked for it".into()),
            _ => None,
        }
    }
}

pub fn get(db: &impl crate::store::Db) -> Result<Health> {
    let conn = db.connection();
    Ok(conn.query_row(
        "SELECT quality, messaging_limit, account_problem, last_event, updated_at FROM number_health WHERE id = 1",
        [],
        |r| {
            Ok(Health {
                quality: r.get(0)?,
                messaging_limit: r.get(1)?,
                account_problem: r.get(2)?,
                last_event: r.get(3)?,
                updated_at: r.get(4)?,
            })
        },
    )?)
}

/// What one event means: the quality it implies, the limit it names, an account problem, and
/// whether it is a drop.
#[derive(Debug, PartialEq)]
struct Reading {
    quality: Option<&'static str>,
    limit: Option<String>,
    problem: Option<String>,
    drop: Option<PauseKind>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn read(field: &str, event: &str, detail: &Value) -> Reading {
    let event = event.trim().to_ascii_uppercase();
    let mut r = Reading {
        quality: None,
        limit: text(detail, "max_daily_conversations_per_business")
            .or_else(|| text(detail, "current_limit")),
        problem: None,
        drop: None,
    };
    // Some senders name the rating itself.
    let named = text(detail, "quality_rating")
        .or_else(|| text(detail, "quality_score"))
        .map(|q| q.to_ascii_uppercase());
    r.quality = match named.as_deref() {
        Some("GREEN" | "HIGH") => Some("GREEN"),
        Some("YELLOW" | "MEDIUM") => Some("YELLOW"),
        Some("RED" | "LOW") => Some("RED"),
        _ => None,
    };
    if field == "account_update" {
        let what = match event.as_str() {
            "ACCOUNT_VIOLATION" => text(&detail["violation_info"], "violation_type")
                .map(|t| format!("a policy violation ({t})")),
            "ACCOUNT_RESTRICTION" => Some("messaging is restricted".into()),
            "DISABLED_UPDATE" | "ACCOUNT_DELETED" => Some("the account is disabled".into()),
            _ => None,
        };
        if let Some(w) = what {
            r.problem = Some(w);
            r.drop = Some(PauseKind::Account);
        }
        return r;
    }
    match event.as_str() {
        "FLAGGED" => r.quality = r.quality.or(Some("RED")),
        "UNFLAGGED" => r.quality = r.quality.or(Some("GREEN")),
        _ => {}
    }
    let fell =
        event == "FLAGGED" || event == "DOWNGRADE" || matches!(r.quality, Some("YELLOW" | "RED"));
    if fell {
        r.drop = Some(PauseKind::Quality);
    }
    r
}

/// Applies one `phone_number_quality_update` or `account_update`.
pub fn apply(tx: &Tx<'_>, field: &str, event: &str, detail: &Value) -> Result<()> {
    let r = read(field, event, detail);
    let now = time::to_db(&time::now());
    tx.execute(
        "UPDATE number_health SET quality = coalesce(?1, quality), messaging_limit = coalesce(?2, messaging_limit),
            account_problem = CASE WHEN ?3 = 'account_update' THEN coalesce(?4, account_problem) ELSE account_problem END,
            last_event = ?5, last_detail = ?6, updated_at = ?7 WHERE id = 1",
        params![r.quality, r.limit, field, r.problem, format!("{field}: {event}"), detail.to_string(), now],
    )?;
    let Some(kind) = r.drop else { return Ok(()) };
    let why = match kind {
        PauseKind::Account => format!(
            "account: WhatsApp reports {} ({event}); resume when you have checked WhatsApp Manager",
            r.problem.unwrap_or_default()
        ),
        _ => format!(
            "quality: WhatsApp reports the number's quality fell ({event}); resume once you have checked the last broadcasts' results and opt-outs"
        ),
    };
    for id in marketing_scheduled_or_running(tx)? {
        pauses::add(tx, id, &NewPause::new(kind, why.clone()))?;
    }
    Ok(())
}

/// Marketing broadcasts waiting for their time, sending, or paused (so they do not resume by
/// themselves).
fn marketing_scheduled_or_running(conn: &Connection) -> Result<Vec<i64>> {
    let rows: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, category FROM broadcasts
             WHERE state = 'sending' OR state = 'paused' OR (state = 'draft' AND scheduled_at IS NOT NULL)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, c)| Category::of_template(c) == Category::Marketing)
        .map(|(id, _)| id)
        .collect())
}

/// The owner has dealt with an account problem: forget it (quality follows WhatsApp's word).
pub fn clear_account_problem(conn: &Connection) -> Result<()> {
    conn.execute(
        "UPDATE number_health SET account_problem = NULL WHERE id = 1",
        [],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_each_event_means() {
        let flagged = read(
            "phone_number_quality_update",
            "FLAGGED",
            &json!({"event": "FLAGGED"}),
        );
        assert_eq!(
            (flagged.quality, flagged.drop),
            (Some("RED"), Some(PauseKind::Quality))
        );
        let down = read(
            "phone_number_quality_update",
            "DOWNGRADE",
            &json!({"old_limit": "TIER_10K", "current_limit": "TIER_2K", "max_daily_conversations_per_business": "2000"}),
        );
        assert_eq!(down.limit.as_deref(), Some("2000"));
        assert_eq!(down.drop, Some(PauseKind::Quality));
        let up = read(
            "phone_number_quality_update",
            "UPGRADE",
            &json!({"current_limit": "TIER_10K"}),
        );
        assert_eq!((up.drop, up.limit.as_deref()), (None, Some("TIER_10K")));
        let unflagged = read("phone_number_quality_update", "UNFLAGGED", &json!({}));
        assert_eq!((unflagged.quality, unflagged.drop), (Some("GREEN"), None));
        let yellow = read(
            "phone_number_quality_update",
            "THROUGHPUT_UPGRADE",
            &json!({"quality_rating": "yellow"}),
        );
        assert_eq!(yellow.drop, Some(PauseKind::Quality));
        let violation = read(
            "account_update",
            "ACCOUNT_VIOLATION",
            &json!({"violation_info": {"violation_type": "ADULT"}}),
        );
        assert_eq!(
            violation.problem.as_deref(),
            Some("a policy violation (ADULT)")
        );
        assert_eq!(violation.drop, Some(PauseKind::Account));
        assert_eq!(
            read("account_update", "VERIFIED_ACCOUNT", &json!({})).drop,
            None
        );
    }
}
