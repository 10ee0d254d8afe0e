//! Message templates: synced from WhatsApp into SQLite, checked against Meta's rules before
//! submission, and held to the footer rule (a marketing template must give a way out).

pub mod rules;

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::store::Store;
use crate::time;
use crate::whatsapp::Template;

pub use rules::{
    apply_footer_rule, validate, variables, way_out, FooterRule, Limits, Variables, Violation,
    WayOut, LIMITS,
};

/// A template as OptDesk keeps it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct StoredTemplate {
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub quality: Option<String>,
    pub parameter_format: Option<String>,
    pub wa_template_id: Option<String>,
    pub components: Vec<Value>,
    pub rejected_reason: Option<String>,
    pub synced_at: Option<String>,
    /// Deleted on WhatsApp's side (seen missing at the last sync).
    pub deleted: bool,
    /// How a customer can opt out from it (`None`: no way out).
    pub way_out: Option<WayOut>,
    /// The variables a broadcast fills, read from its texts (the Broadcasts step's fields).
    pub variables: Variables,
}

impl StoredTemplate {
    /// A marketing template still in use that offers no way to opt out.
    pub fn lacks_way_out(&self) -> bool {
        crate::model::Category::of_template(&self.category) == crate::model::Category::Marketing
            && !self.deleted
            && self.way_out.is_none()
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncReport {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Marked deleted: no longer on WhatsApp.
    pub deleted: u64,
}

fn quality_of(t: &Template) -> Option<String> {
    match &t.quality_score {
        Some(Value::Object(o)) => o.get("score").and_then(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// What a sync compares: category, status, components, quality, rejection, deleted_at.
type SyncedFields = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Replaces OptDesk's copy with `remote` (every template Meta listed), in one transaction.
pub fn sync(store: &mut Store, remote: &[Template]) -> Result<SyncReport> {
    let now = time::to_db(&time::now());
    store.with_tx(|tx| {
        let mut report = SyncReport::default();
        let mut seen = HashSet::new();
        for t in remote {
            seen.insert((t.name.clone(), t.language.clone()));
            let components = serde_json::to_string(&t.components).unwrap_or_else(|_| "[]".into());
            let quality = quality_of(t);
            let current: Option<SyncedFields> = tx
                .query_row(
                    "SELECT category, status, components, quality, rejected_reason, deleted_at
                     FROM templates WHERE name = ?1 AND language = ?2",
                    params![t.name, t.language],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            let same = current.as_ref().is_some_and(|c| {
                c.0 == t.category && c.1 == t.status && c.2 == components && c.3 == quality
                    && c.4 == t.rejected_reason && c.5.is_none()
            });
            match (&current, same) {
                (None, _) => report.added += 1,
                (Some(_), true) => report.unchanged += 1,
                (Some(_), false) => report.updated += 1,
            }
            tx.execute(
                "INSERT INTO templates (wa_template_id, name, language, category, status, quality,
                    parameter_format, components, rejected_reason, synced_at, deleted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)
                 ON CONFLICT (name, language) DO UPDATE SET wa_template_id = excluded.wa_template_id,
                    category = excluded.category, status = excluded.status,
                    quality = excluded.quality, parameter_format = excluded.parameter_format,
                    components = excluded.components, rejected_reason = excluded.rejected_reason,
                    synced_at = excluded.synced_at, deleted_at = NULL",
                params![t.id, t.name, t.language, t.category, t.status, quality,
                        t.parameter_format, components, t.rejected_reason, now],
            )?;
        }
        let local: Vec<(i64, String, String)> = tx
            .prepare("SELECT id, name, language FROM templates WHERE deleted_at IS NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, name, language) in local {
            if !seen.contains(&(name, language)) {
                tx.execute("UPDATE templates SET deleted_at = ?1 WHERE id = ?2", params![now, id])?;
                report.deleted += 1;
            }
        }
        Ok(report)
    })
}

/// Records a template OptDesk just submitted (Meta answered with its id and status).
pub fn record_submitted(store: &mut Store, t: &Value, wa_id: &str, status: &str) -> Result<()> {
    let now = time::to_db(&time::now());
    let components = serde_json::to_string(&t["components"]).unwrap_or_else(|_| "[]".into());
    store.with_tx(|tx| {
        tx.execute(
            "INSERT INTO templates (wa_template_id, name, language, category, status,
                parameter_format, components, synced_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (name, language) DO UPDATE SET wa_template_id = excluded.wa_template_id,
                category = excluded.category, status = excluded.status,
                components = excluded.components, synced_at = excluded.synced_at,
                deleted_at = NULL",
            params![
                wa_id,
                t["name"].as_str(),
                t["language"].as_str(),
                t["category"].as_str(),
                status,
                t["parameter_format"].as_str(),
                components,
                now
            ],
        )?;
        Ok(())
    })
}

/// Applies a `message_template_status_update` webhook (approved, rejected, paused…) to the
/// synced template it names, by Meta's id or else by name and language. How many rows changed:
/// none when the template was never synced here (the next sync brings it).
pub fn apply_status_update(
    conn: &Connection,
    wa_template_id: Option<&str>,
    name_language: Option<(&str, &str)>,
    status: &str,
    reason: Option<&str>,
) -> Result<usize> {
    let (name, language) = name_language.unzip();
    Ok(conn
        .prepare_cached(
            "UPDATE templates SET status = ?1,
                rejected_reason = CASE WHEN ?1 = 'REJECTED' THEN ?2 ELSE rejected_reason END
             WHERE (?3 IS NOT NULL AND wa_template_id = ?3)
                OR (?3 IS NULL OR NOT EXISTS (SELECT 1 FROM templates WHERE wa_template_id = ?3))
                   AND name = ?4 AND language = ?5",
        )?
        .execute(params![status, reason, wa_template_id, name, language])?)
}

/// WhatsApp changed a template's category; returns how many stored templates changed.
pub fn set_category(
    conn: &Connection,
    name: &str,
    language: &str,
    category: &str,
) -> Result<usize> {
    Ok(conn
        .prepare_cached("UPDATE templates SET category = ?3 WHERE name = ?1 AND language = ?2")?
        .execute(params![
            name,
            language,
            category.trim().to_ascii_uppercase()
        ])?)
}

/// WhatsApp scored a template's quality (GREEN, YELLOW, RED, UNKNOWN).
pub fn set_quality(conn: &Connection, name: &str, language: &str, quality: &str) -> Result<usize> {
    Ok(conn
        .prepare_cached("UPDATE templates SET quality = ?3 WHERE name = ?1 AND language = ?2")?
        .execute(params![name, language, quality])?)
}

/// Templates WhatsApp scored RED (low quality), as `name (language)`.
pub fn low_quality(conn: &Connection) -> Result<Vec<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT name || ' (' || language || ')' FROM templates
             WHERE quality = 'RED' AND deleted_at IS NULL ORDER BY name, language",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The name and language of the template Meta knows by `wa_template_id`.
pub fn name_language(conn: &Connection, wa_template_id: &str) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached("SELECT name, language FROM templates WHERE wa_template_id = ?1")?
        .query_row([wa_template_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn list(db: &impl crate::store::Db) -> Result<Vec<StoredTemplate>> {
    let conn = db.connection();
    let mut stmt = conn.prepare(
        "SELECT name, language, category, status, quality, parameter_format, wa_template_id,
                components, rejected_reason, synced_at, deleted_at
         FROM templates ORDER BY name, language",
    )?;
    let rows = stmt.query_map([], |r| {
        let components: String = r.get(7)?;
        let components: Vec<Value> = serde_json::from_str(&components).unwrap_or_default();
        Ok(StoredTemplate {
            name: r.get(0)?,
            language: r.get(1)?,
            category: r.get(2)?,
            status: r.get(3)?,
            quality: r.get(4)?,
            parameter_format: r.get(5)?,
            wa_template_id: r.get(6)?,
            way_out: way_out(&components),
            variables: rules::variables(&components),
            components,
            rejected_reason: r.get(8)?,
            synced_at: r.get(9)?,
            deleted: r.get::<_, Option<String>>(10)?.is_some(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marketing templates still on WhatsApp that give the customer no way out.
pub fn lint(db: &impl crate::store::Db) -> Result<Vec<StoredTemplate>> {
    let conn = db.connection();
    Ok(list(conn)?
        .into_iter()
        .filter(StoredTemplate::lacks_way_out)
        .collect())
}
