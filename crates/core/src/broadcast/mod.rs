//! Broadcasts: an approved template to an audience, with every recipient decided by the send
//! gate at the moment it is claimed (see [`engine`]).
//!
//! A broadcast's audience is fixed when sending starts: one `broadcast_recipients` row per
//! contact, each with its own state machine `queued → sending → sent | failed | blocked | unknown`.

pub mod brake;
pub mod engine;
pub mod message;
pub mod pauses;
pub mod plan;
mod preview;
pub(crate) mod recipients;
pub mod results;
pub mod schedule;
mod starts;

pub use preview::{preview, BrakePreview, Excluded, Preview};
pub use recipients::{counts, recipients, Counts, Recipient};

pub use starts::{
    offline_warning, record_started_without_relay, started_without_relay, StartWithoutRelay,
};

use crate::model::BroadcastState;
use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gate::Policy;
use crate::model::{Category, ContactField};
use crate::settings;
use crate::store::Store;
use crate::templates;
use crate::time;

/// One body parameter: fixed text, or a contact field with a fallback for when it is empty.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Param {
    Text {
        value: String,
    },
    Field {
        field: ContactField,
        fallback: String,
    },
}

impl Param {
    /// Parses the CLI form: `TEXT`, or `@name|fallback` / `@phone|fallback`.
    pub fn parse(spec: &str) -> Result<Param> {
        let Some(field) = spec.strip_prefix('@') else {
            return Ok(Param::Text {
                value: spec.to_string(),
            });
        };
        let (field, fallback) = field.split_once('|').ok_or_else(|| {
            Error::invalid(format!(
                "give a fallback for contacts whose {field} is empty: @{field}|there"
            ))
        })?;
        let field: ContactField = field.parse().map_err(|_| {
            Error::invalid(format!(
                "@{field} is not a contact field; use @name or @phone"
            ))
        })?;
        if fallback.trim().is_empty() {
            return Err(Error::invalid("the fallback after | may not be empty"));
        }
        Ok(Param::Field {
            field,
            fallback: fallback.into(),
        })
    }

    pub fn value_for(&self, name: &str, phone: &str) -> String {
        match self {
            Param::Text { value } => value.clone(),
            Param::Field { field, fallback } => {
                let v = match field {
                    ContactField::Name => name,
                    ContactField::Phone => phone,
                };
                if v.trim().is_empty() {
                    fallback.clone()
                } else {
                    v.trim().to_string()
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewBroadcast {
    pub name: Option<String>,
    pub template: String,
    pub language: String,
    /// Body parameters by position (1, 2, 3…).
    pub params: BTreeMap<usize, Param>,
    /// Named body variables and the header's variable.
    pub slots: message::Slots,
    /// Contacts with any of these tags; empty for everyone.
    pub tags: Vec<String>,
    /// Allows a marketing template with no way out; recorded with the broadcast.
    pub override_reason: Option<String>,
}

/// Creates a broadcast, refusing what must not be sent: a template that is not approved, the
/// wrong number of parameters, or a marketing template with no way out (unless overridden with
/// a reason).
pub fn create(store: &mut Store, b: &NewBroadcast) -> Result<i64> {
    let all = templates::list(store.conn())?;
    let t = all
        .iter()
        .find(|t| t.name == b.template && t.language == b.language && !t.deleted)
        .ok_or_else(|| Error::invalid(format!(
            "there is no template {:?} in {:?}; run `optdesk templates sync` and check `optdesk templates list`",
            b.template, b.language
        )))?;
    if t.status != "APPROVED" {
        return Err(Error::invalid(format!(
            "the template {} ({}) is {}, not APPROVED: WhatsApp only sends approved templates",
            t.name, t.language, t.status
        )));
    }
    message::check(t, &b.params, &b.slots)?;
    let override_reason = b.override_reason.clone().filter(|r| !r.trim().is_empty());
    if t.lacks_way_out() && override_reason.is_none() {
        return Err(Error::invalid(format!(
            "the marketing template {} gives customers no way to opt out (no STOP footer, no Stop promotions button). \
             Create a version with one (`optdesk templates create` adds the footer), or, if you must, pass \
             --override-reason \"why\" and the reason is kept with the broadcast",
            t.name
        )));
    }
    let now = time::to_db(&time::now());
    let name = b
        .name
        .clone()
        .unwrap_or_else(|| format!("{} {}", t.name, &now[..10]));
    store.with_tx(|tx| {
        tx.execute(
            "INSERT INTO broadcasts (name, template_name, language, category, params, audience_tags,
                override_reason, state, created_at, updated_at, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'draft', ?8, ?8, ?9)",
            params![name, t.name, t.language, t.category,
                    serde_json::to_string(&b.params).unwrap_or_default(),
                    serde_json::to_string(&b.tags).unwrap_or_default(), override_reason, now,
                    serde_json::to_string(&b.slots).unwrap_or_default()],
        )?;
        Ok(tx.last_insert_rowid())
    })
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Broadcast {
    pub id: i64,
    pub name: String,
    pub template: String,
    pub language: String,
    pub category: String,
    pub params: BTreeMap<usize, Param>,
    pub slots: message::Slots,
    pub tags: Vec<String>,
    pub override_reason: Option<String>,
    pub state: crate::model::BroadcastState,
    pub pause_reason: Option<String>,
    pub created_at: String,
    /// When it is to start (UTC), while it waits for that.
    pub scheduled_at: Option<String>,
    /// The scheduler found its time passed with nothing running: it waits for the owner.
    pub schedule_missed_at: Option<String>,
}

impl Broadcast {
    /// The gate's category for this broadcast's template: unknown categories are gated as
    /// marketing (see [`Category::of_template`]).
    pub fn gate_category(&self) -> Category {
        Category::of_template(&self.category)
    }
}

pub fn get(db: &impl crate::store::Db, id: i64) -> Result<Broadcast> {
    let conn = db.connection();
    let row = conn
        .query_row(
            "SELECT id, name, template_name, language, category, params, audience_tags, override_reason,
                    state, pause_reason, created_at, scheduled_at, schedule_missed_at, message
             FROM broadcasts WHERE id = ?1",
            [id],
            |r| {
                let params: String = r.get(5)?;
                let tags: String = r.get(6)?;
                let slots: String = r.get(13)?;
                Ok((
                    Broadcast {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        template: r.get(2)?,
                        language: r.get(3)?,
                        category: r.get(4)?,
                        params: BTreeMap::new(),
                        slots: Default::default(),
                        tags: Vec::new(),
                        override_reason: r.get(7)?,
                        state: r.get(8)?,
                        pause_reason: r.get(9)?,
                        created_at: r.get(10)?,
                        scheduled_at: r.get(11)?,
                        schedule_missed_at: r.get(12)?,
                    },
                    params,
                    tags,
                    slots,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| Error::invalid(format!("there is no broadcast {id}")))?;
    let (mut b, params, tags, slots) = row;
    // Stored JSON that cannot be read fails closed: an audience read as "none" would be everyone.
    let unreadable = |what: &str, e: serde_json::Error| {
        Error::invalid(format!(
            "broadcast {id}'s stored {what} cannot be read ({e}); OptDesk will not send it, since it could reach people it was never meant for. Cancel it and create it again"
        ))
    };
    b.params = serde_json::from_str(&params).map_err(|e| unreadable("parameters", e))?;
    b.tags = serde_json::from_str(&tags).map_err(|e| unreadable("audience", e))?;
    b.slots = serde_json::from_str(&slots).map_err(|e| unreadable("parameters", e))?;
    Ok(b)
}

pub fn policy(conn: &Connection) -> Result<Policy> {
    Ok(Policy {
        frequency_cap: settings::frequency_cap(conn)?,
        hold_us_marketing: settings::get(conn, "hold_us_marketing")?.as_deref() != Some("off"),
    })
}

pub fn send_rate(db: &impl crate::store::Db) -> Result<f64> {
    settings::value_or_default(db, "send_rate")
}

/// A broadcast with its totals, for lists.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub broadcast: Broadcast,
    pub counts: Counts,
}

/// Every broadcast, newest first, with its totals.
pub fn list(db: &impl crate::store::Db) -> Result<Vec<Summary>> {
    let conn = db.connection();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM broadcasts ORDER BY id DESC")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter()
        .map(|id| {
            Ok(Summary {
                broadcast: get(conn, id)?,
                counts: counts(conn, id)?,
            })
        })
        .collect()
}

/// WhatsApp re-categorised a template. Broadcasts using it that are not over are gated by the
/// stricter of the two from now on: to marketing, their category changes and they pause so the
/// owner knows (the rest need an opt-in now); to utility, they keep the marketing gate (failing
/// closed), and only new broadcasts are gated as utility.
pub fn recategorised(
    tx: &crate::store::Tx<'_>,
    name: &str,
    language: &str,
    new: &str,
) -> Result<()> {
    if Category::of_template(new) != Category::Marketing {
        return Ok(());
    }
    let ids: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT id, category FROM broadcasts WHERE template_name = ?1 AND language = ?2
               AND state <> 'finished' AND state <> 'cancelled'",
        )?
        .query_map(params![name, language], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, was) in ids {
        if Category::of_template(&was) == Category::Marketing {
            continue;
        }
        tx.execute(
            "UPDATE broadcasts SET category = ?1 WHERE id = ?2",
            params![new.trim().to_ascii_uppercase(), id],
        )?;
        if get(tx, id)?.state != BroadcastState::Draft || schedule::get_schedule(tx, id)?.is_some()
        {
            pauses::add(
                tx,
                id,
                &pauses::NewPause::new(
                    pauses::PauseKind::Template,
                    format!(
                        "template: WhatsApp re-categorised {name} ({language}) from {was} to {new}: the rest are now sent only to those who opted in to marketing; resume when you have checked the preview"
                    ),
                ),
            )?;
        }
    }
    Ok(())
}

/// The days (UTC, YYYY-MM-DD) broadcasts started on, from `since` (a date), each once.
pub fn started_days(conn: &Connection, since: &str) -> Result<Vec<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT DISTINCT substr(started_at, 1, 10) FROM broadcasts
             WHERE started_at IS NOT NULL AND started_at >= ?1 ORDER BY 1",
        )?
        .query_map([since], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Asks the engine to stop after what is in flight (`paused`), or for good (`cancelled`).
pub fn set_stopped(store: &mut Store, id: i64, cancel: bool) -> Result<()> {
    let b = get(store.conn(), id)?;
    if b.state == BroadcastState::Finished || b.state == BroadcastState::Cancelled {
        return Err(Error::invalid(format!(
            "broadcast {id} is already {}",
            b.state
        )));
    }
    store.with_tx(|tx| {
        if cancel {
            tx.execute(
                "UPDATE broadcasts SET state = 'cancelled', pause_reason = 'cancelled by the owner', updated_at = ?1 WHERE id = ?2",
                params![time::to_db(&time::now()), id],
            )?;
            Ok(())
        } else {
            pauses::add(
                tx,
                id,
                &pauses::NewPause::new(pauses::PauseKind::Owner, "paused by the owner"),
            )
        }
    })
}

/// Settles recipients held as `unknown` (a send that may have reached Meta): back in the queue
/// (`resend`, the owner accepting a possible duplicate) or dropped.
pub fn resolve_unknown(store: &mut Store, id: i64, resend: bool) -> Result<usize> {
    get(store.conn(), id)?;
    let now = time::to_db(&time::now());
    let n = if resend {
        store.conn().execute(
            "UPDATE broadcast_recipients SET state = 'queued', reason = 'resent by the owner', updated_at = ?1
             WHERE broadcast_id = ?2 AND state = 'unknown'",
            params![now, id],
        )?
    } else {
        store.conn().execute(
            "UPDATE broadcast_recipients SET state = 'failed', reason = 'dropped by the owner (it may or may not have been sent)',
                updated_at = ?1 WHERE broadcast_id = ?2 AND state = 'unknown'",
            params![now, id],
        )?
    };
    if resend && n > 0 {
        store.conn().execute("UPDATE broadcasts SET state = 'paused', updated_at = ?1 WHERE id = ?2 AND state = 'finished'", params![now, id])?;
    }
    Ok(n)
}

#[cfg(test)]
mod category_tests {
    use super::*;

    fn broadcast(category: &str) -> Broadcast {
        Broadcast {
            id: 1,
            name: "b".into(),
            template: "t".into(),
            language: "en".into(),
            category: category.into(),
            params: BTreeMap::new(),
            slots: Default::default(),
            tags: Vec::new(),
            override_reason: None,
            state: BroadcastState::Draft,
            pause_reason: None,
            created_at: String::new(),
            scheduled_at: None,
            schedule_missed_at: None,
        }
    }

    #[test]
    fn an_unreadable_stored_audience_or_parameters_refuse_instead_of_reaching_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        let c = store.conn();
        c.execute(
            "INSERT INTO broadcasts (id, name, template_name, language, category, params, audience_tags, state, created_at, updated_at)
             VALUES (1, 'b', 't', 'en', 'MARKETING', '{}', '[\"vip\"]', 'draft', 'x', 'x')",
            [],
        )
        .unwrap();
        assert_eq!(get(c, 1).unwrap().tags, vec!["vip".to_string()]);
        // Damaged (by hand, a bug, a bad restore): before, it was read as "no tags" = everyone.
        c.execute(
            "UPDATE broadcasts SET audience_tags = '[\"vip\"' WHERE id = 1",
            [],
        )
        .unwrap();
        let e = get(c, 1).unwrap_err().to_string();
        assert!(
            e.contains("stored audience cannot be read") && e.contains("will not send"),
            "{e}"
        );
        c.execute(
            "UPDATE broadcasts SET audience_tags = '[]', params = 'not json' WHERE id = 1",
            [],
        )
        .unwrap();
        assert!(get(c, 1)
            .unwrap_err()
            .to_string()
            .contains("stored parameters cannot be read"));
    }

    #[test]
    fn a_category_optdesk_does_not_know_is_gated_as_marketing() {
        // Before: anything but "MARKETING" was gated as utility, which needs no opt-in.
        assert_eq!(
            broadcast("MARKETING_LITE").gate_category(),
            Category::Marketing
        );
        assert_eq!(broadcast("marketing").gate_category(), Category::Marketing);
        assert_eq!(broadcast("UTILITY").gate_category(), Category::Utility);
        assert_eq!(
            broadcast("AUTHENTICATION").gate_category(),
            Category::Utility
        );
    }
}
