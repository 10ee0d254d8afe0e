//! Turns inbox bodies into what they mean, part by part (see `payload`): customers' messages
//! (`messages`, with `signups` and `numbers`), delivery statuses (`statuses`), WhatsApp's
//! marketing preferences (`preferences`) and template updates.
//!
//! A batch of bodies is processed in one transaction; each body has a savepoint, and each part
//! of it another. A part that fails (unreadable, or refused, like a 131050 held by the flood
//! guard) rolls back alone: the other parts of the same body are applied, and the failed part is
//! kept as an inbox row of its own (a one-part body, `parent_id` naming the original) with its
//! error, for `optdesk inbox retry`. A body none of whose parts could be applied keeps the error
//! itself. Meta delivers at least once and out of order, so everything is idempotent: an inbound
//! message is handled once per message id, a status once per (message id, status).

use serde::Serialize;

use super::payload::{self, Part, PartKind};
use super::{inbox, messages, preferences, statuses};

pub use super::inbox::{failed, retry_failed, Failed};
use crate::error::{Error, Result};
use crate::keywords::Rules;
use crate::settings;
use crate::store::{Store, Tx};
use crate::templates;

/// The shop's rules for reading webhooks, from the settings.
#[derive(Debug, Clone)]
pub struct Processor {
    pub rules: Rules,
    pub optout_payloads: Vec<String>,
    pub confirmation: String,
    pub help: String,
    /// The welcome after a sign-up; `{topic}` is filled in per source.
    pub welcome: String,
    /// At most this many 131050 opt-outs per hour before the guard holds the rest.
    pub guard_per_hour: u32,
}

impl Processor {
    pub fn from_settings(db: &impl crate::store::Db) -> Result<Processor> {
        let conn = db.connection();
        let get = |k: &str| settings::get(conn, k).map(Option::unwrap_or_default);
        let business =
            settings::get(conn, "business_name")?.unwrap_or_else(|| "this business".into());
        let mut rules = Rules::default();
        if let Some(list) = settings::get(conn, "opt_out_keywords")? {
            rules.strong = Rules::list(&list);
        }
        if let Some(list) = settings::get(conn, "opt_in_keywords")? {
            rules.opt_in = Rules::list(&list);
        }
        Ok(Processor {
            rules,
            optout_payloads: get("optout_button_payloads")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            confirmation: get("confirmation_text")?.replace("{business}", &business),
            help: get("help_text")?.replace("{business}", &business),
            welcome: get("welcome_text")?.replace("{business}", &business),
            guard_per_hour: get("provider_optout_guard")?.parse().unwrap_or(200),
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProcessReport {
    pub processed: u64,
    /// Bodies that failed as a whole (kept in the inbox with their error).
    pub failed: u64,
    /// Parts of otherwise applied bodies that failed (each kept as an inbox row of its own).
    pub failed_parts: u64,
}

/// Processes every inbox body not yet processed (and not set aside by an error).
pub fn process_pending(store: &mut Store, p: &Processor) -> Result<ProcessReport> {
    let mut report = ProcessReport::default();
    while process_batch(store, p, &mut report)? {}
    Ok(report)
}

/// Processes the next batch (up to 100 bodies) in one transaction; false when there was none.
/// The receiver calls it batch by batch, holding its writer's turn for each.
pub fn process_batch(store: &mut Store, p: &Processor, report: &mut ProcessReport) -> Result<bool> {
    let batch = inbox::next_batch(store.conn(), 100)?;
    if batch.is_empty() {
        return Ok(false);
    }
    // One transaction per batch (an encrypted commit is dear: every page written is
    // encrypted and MACed), one savepoint per body.
    store.with_tx(|tx| {
        for (id, received_at, body) in &batch {
            tx.prepare_cached("SAVEPOINT body")?.execute([])?;
            match handle_body(tx, p, *id, received_at, body) {
                Ok(failed_parts) => {
                    inbox::processed(tx, *id)?;
                    tx.prepare_cached("RELEASE body")?.execute([])?;
                    report.processed += 1;
                    report.failed_parts += failed_parts;
                }
                Err(e) => {
                    tx.execute_batch("ROLLBACK TO body; RELEASE body")?;
                    inbox::failed_whole(tx, *id, &e.to_string())?;
                    report.failed += 1;
                }
            }
        }
        Ok(())
    })?;
    Ok(true)
}

/// Applies every part of a body it can. Ok with the number of parts kept aside when at least
/// one part was applied (or there was nothing to apply); Err when every part failed, so the body
/// keeps the error itself and nothing is duplicated.
fn handle_body(
    tx: &Tx<'_>,
    p: &Processor,
    inbox_id: i64,
    received_at: &str,
    body: &[u8],
) -> Result<u64> {
    let parts = payload::parts(body).map_err(|e| Error::invalid(e.0))?;
    if let [only] = parts.as_slice() {
        // One part (most webhooks: one status): the body's own savepoint isolates it.
        return handle_part(tx, p, inbox_id, only)
            .map(|()| 0)
            .map_err(|e| Error::invalid(format!("{e} (at {})", only.path)));
    }
    let mut failed: Vec<(&Part, String)> = Vec::new();
    for part in &parts {
        tx.prepare_cached("SAVEPOINT part")?.execute([])?;
        match handle_part(tx, p, inbox_id, part) {
            Ok(()) => {
                tx.prepare_cached("RELEASE part")?.execute([])?;
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO part; RELEASE part")?;
                failed.push((part, e.to_string()));
            }
        }
    }
    if failed.is_empty() {
        return Ok(0);
    }
    if failed.len() == parts.len() {
        let reasons: Vec<String> = failed
            .iter()
            .map(|(part, e)| format!("{e} (at {})", part.path))
            .collect();
        return Err(Error::invalid(reasons.join("; ")));
    }
    for (part, error) in &failed {
        let one = payload::one_part_body(part);
        inbox::keep_failed_part(
            tx,
            received_at,
            &one,
            part.array == Some("messages"),
            inbox_id,
            &format!("{error} (at {})", part.path),
        )?;
    }
    Ok(failed.len() as u64)
}

fn handle_part(tx: &Tx<'_>, p: &Processor, inbox_id: i64, part: &Part) -> Result<()> {
    match &part.kind {
        PartKind::Message(m) => messages::handle(tx, p, inbox_id, m),
        PartKind::Status(s) => statuses::handle(tx, p, s),
        PartKind::Preference(pref) => preferences::handle(tx, pref),
        PartKind::TemplateStatus(t) => {
            let name_language = t.name.as_deref().zip(t.language.as_deref());
            templates::apply_status_update(
                tx,
                t.template_id.as_deref(),
                name_language,
                &t.event,
                t.reason.as_deref(),
            )?;
            if let Some((name, language)) =
                template_named(tx, t.template_id.as_deref(), &t.name, &t.language)?
            {
                crate::broadcast::pauses::for_template(
                    tx,
                    &name,
                    &language,
                    &t.event,
                    t.reason.as_deref(),
                )?;
            }
            Ok(())
        }
        PartKind::TemplateQuality(q) => {
            if let Some((name, language)) =
                template_named(tx, q.template_id.as_deref(), &q.name, &q.language)?
            {
                templates::set_quality(tx, &name, &language, &q.quality)?;
            }
            Ok(())
        }
        PartKind::TemplateCategory(c) => {
            // A notice of a change to come (no previous category) changes nothing yet.
            let (Some(_), Some(new)) = (&c.previous, &c.new) else {
                return Ok(());
            };
            if let Some((name, language)) =
                template_named(tx, c.template_id.as_deref(), &c.name, &c.language)?
            {
                templates::set_category(tx, &name, &language, new)?;
                crate::broadcast::recategorised(tx, &name, &language, new)?;
            }
            Ok(())
        }
        PartKind::Health(h) => crate::health::apply(tx, &h.field, &h.event, &h.detail),
        PartKind::Bad(reason) => Err(Error::invalid(reason.clone())),
    }
}

/// The template a template webhook names: by name and language when it gives them, else by
/// Meta's id as last synced.
fn template_named(
    tx: &Tx<'_>,
    id: Option<&str>,
    name: &Option<String>,
    language: &Option<String>,
) -> Result<Option<(String, String)>> {
    match (name.clone().zip(language.clone()), id) {
        (Some(named), _) => Ok(Some(named)),
        (None, Some(id)) => templates::name_language(tx, id),
        (None, None) => Ok(None),
    }
}
