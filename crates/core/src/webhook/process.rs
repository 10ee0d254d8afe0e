//! Turns inbox bodies into what they mean: opt-outs and opt-ins in the ledger, Meta's blocks, the
//! review queue, replies to send, delivery statuses.
//!
//! Each body is processed in one transaction and marked processed in it. Meta delivers at least
//! once and out of order, so everything here is idempotent: an inbound message is handled once
//! per message id, a status once per (message id, status). A body that fails stays in the inbox
//! with its error, for `optdesk inbox retry`; it is never dropped.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::payload::{
    InboundMessage, MessagesValue, Notification, Status, UserPreference, WaContact,
};
use crate::error::{Error, Result};
use crate::keywords::{self, Class, Rules};
use crate::ledger::{self, NewEvent};
use crate::model::{ConsentState, ContactId, EventId, EventState, SourceKind, Subject, Topic};
use crate::settings;
use crate::store::{Store, Tx};
use crate::suppression::{self, Reason};
use crate::time::{self, Timestamp};

const ACTOR: &str = "webhook";

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
    pub fn from_settings(conn: &rusqlite::Connection) -> Result<Processor> {
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
    /// Bodies that failed (kept in the inbox with their error).
    pub failed: u64,
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
    let batch: Vec<(i64, Vec<u8>)> = store
        .conn()
        .prepare_cached(
            // Customers' messages (where STOP arrives) before delivery statuses: under a
            // broadcast's flood of statuses an opt-out must not wait behind thousands of
            // them. Each lane keeps its arrival order.
            "SELECT id, body FROM inbox WHERE processed_at IS NULL AND error IS NULL
             ORDER BY has_messages DESC, id LIMIT 100",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if batch.is_empty() {
        return Ok(false);
    }
    // One transaction per batch (an encrypted commit is dear: every page written is
    // encrypted and MACed), one savepoint per body, so a body that fails rolls back alone
    // and is set aside with its error while the rest commit.
    store.with_tx(|tx| {
        for (id, body) in &batch {
            tx.execute_batch("SAVEPOINT body")?;
            let done = handle_body(tx, p, *id, body).and_then(|()| {
                tx.prepare_cached(
                    "UPDATE inbox SET processed_at = ?1, error = NULL WHERE id = ?2",
                )?
                .execute(params![time::to_db(&time::now()), id])?;
                Ok(())
            });
            match done {
                Ok(()) => {
                    tx.execute_batch("RELEASE body")?;
                    report.processed += 1;
                }
                Err(e) => {
                    tx.execute_batch("ROLLBACK TO body; RELEASE body")?;
                    tx.execute(
                        "UPDATE inbox SET attempts = attempts + 1, error = ?1 WHERE id = ?2",
                        params![e.to_string(), id],
                    )?;
                    report.failed += 1;
                }
            }
        }
        Ok(())
    })?;
    Ok(true)
}

/// Puts failed bodies back in line; returns how many.
pub fn retry_failed(store: &mut Store) -> Result<usize> {
    Ok(store.conn().execute(
        "UPDATE inbox SET error = NULL WHERE processed_at IS NULL AND error IS NOT NULL",
        [],
    )?)
}

fn handle_body(tx: &Tx<'_>, p: &Processor, inbox_id: i64, body: &[u8]) -> Result<()> {
    let n: Notification = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("the body is not a WhatsApp notification: {e}")))?;
    for entry in n.entry {
        for change in entry.changes {
            if change.field != "messages" && change.field != "user_preferences" {
                continue; // template updates and others: not this part's business
            }
            let v: MessagesValue = serde_json::from_value(change.value).map_err(|e| {
                Error::invalid(format!("a {} change cannot be read: {e}", change.field))
            })?;
            let profiles: HashMap<String, WaContact> = v
                .contacts
                .iter()
                .filter_map(|c| c.wa_id.clone().map(|w| (w, c.clone())))
                .collect();
            for m in &v.messages {
                handle_message(tx, p, inbox_id, m, &profiles)?;
            }
            for s in &v.statuses {
                handle_status(tx, p, s)?;
            }
            for pref in &v.user_preferences {
                handle_preference(tx, pref)?;
            }
        }
    }
    Ok(())
}

/// Who sent something: the contact, when OptDesk knows them.
struct Sender {
    contact: Option<(ContactId, String)>,
    wa_id: Option<String>,
    user_id: Option<String>,
}

/// Matches on `wa_id`, then BSUID, then the number; remembers the ids it learns.
fn find_sender(tx: &Tx<'_>, wa_id: Option<&str>, user_id: Option<&str>) -> Result<Sender> {
    let by = |sql: &str, v: &str| -> Result<Option<(ContactId, String)>> {
        Ok(tx
            .prepare_cached(sql)?
            .query_row([v], |r| Ok((ContactId(r.get(0)?), r.get(1)?)))
            .optional()?)
    };
    let mut contact = match wa_id {
        Some(w) => by("SELECT id, phone FROM contacts WHERE wa_id = ?1", w)?,
        None => None,
    };
    if contact.is_none() {
        if let Some(u) = user_id {
            contact = by("SELECT id, phone FROM contacts WHERE bsuid = ?1", u)?;
        }
    }
    if contact.is_none() {
        if let Some(w) = wa_id {
            contact = by(
                "SELECT id, phone FROM contacts WHERE phone = ?1",
                &format!("+{w}"),
            )?;
        }
    }
    if let Some((id, _)) = &contact {
        tx.prepare_cached("UPDATE contacts SET wa_id = coalesce(wa_id, ?1), bsuid = coalesce(bsuid, ?2) WHERE id = ?3")?
            .execute(params![wa_id, user_id, id.0])?;
    }
    Ok(Sender {
        contact,
        wa_id: wa_id.map(str::to_string),
        user_id: user_id.map(str::to_string),
    })
}

fn unix_time(v: Option<&str>) -> Timestamp {
    v.and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(time::now)
}

fn current_state(tx: &Tx<'_>, id: ContactId, subject: Subject) -> Result<Option<String>> {
    let col = match subject {
        Subject::Marketing => "marketing",
        Subject::Utility => "utility",
        Subject::MetaBlocked => "CASE meta_blocked WHEN 1 THEN 'set' ELSE 'cleared' END",
        Subject::Unreachable => "CASE unreachable WHEN 1 THEN 'set' ELSE 'cleared' END",
        Subject::ReviewPending => "CASE review_pending WHEN 1 THEN 'set' ELSE 'cleared' END",
    };
    Ok(tx.query_row(
        &format!("SELECT {col} FROM contacts WHERE id = ?1"),
        [id.0],
        |r| r.get(0),
    )?)
}

struct Evidence<'a> {
    kind: SourceKind,
    detail: &'a str,
    proof: Option<&'a str>,
    reference: &'a str,
    at: Timestamp,
}

/// Sets `subject` to `state` unless it already is; the event id when one was written.
fn set_subject(
    tx: &Tx<'_>,
    contact: &(ContactId, String),
    subject: Subject,
    state: EventState,
    ev: &Evidence<'_>,
) -> Result<Option<EventId>> {
    if current_state(tx, contact.0, subject)?.as_deref() == Some(state.as_str()) {
        return Ok(None);
    }
    let id = ledger::record(
        tx,
        &NewEvent {
            contact: contact.0,
            phone: &contact.1,
            subject,
            state,
            source_kind: ev.kind,
            source_detail: Some(ev.detail),
            proof: ev.proof,
            evidence_ref: Some(ev.reference),
            actor: ACTOR,
            occurred_at: ev.at,
        },
    )?;
    Ok(Some(id))
}

/// An opt-out from someone OptDesk does not know is kept as a suppression, never dropped.
fn suppress_unknown(tx: &Tx<'_>, s: &Sender, kind: SourceKind, at: &Timestamp) -> Result<()> {
    let key = match (&s.wa_id, &s.user_id) {
        (Some(w), _) => format!("+{w}"),
        (None, Some(u)) => format!("bsuid:{u}"),
        (None, None) => return Ok(()),
    };
    suppression::add(tx, tx.salt(), &key, Reason::UnmatchedOptOut, Some(kind), at)
}

/// Opts the sender out of `topics`; the first event written, if any.
fn opt_out(
    tx: &Tx<'_>,
    s: &Sender,
    topics: &[Topic],
    ev: &Evidence<'_>,
) -> Result<Option<EventId>> {
    let Some(contact) = &s.contact else {
        suppress_unknown(tx, s, ev.kind, &ev.at)?;
        return Ok(None);
    };
    let mut first = None;
    for t in topics {
        let id = set_subject(
            tx,
            contact,
            t.subject(),
            ConsentState::OptedOut.event_state(),
            ev,
        )?;
        first = first.or(id);
    }
    Ok(first)
}

fn queue_reply(
    tx: &Tx<'_>,
    kind: &str,
    s: &Sender,
    in_reply_to: &str,
    event: Option<EventId>,
    body: &str,
) -> Result<()> {
    let (state, error) = match &s.wa_id {
        Some(_) => ("queued", None),
        None => (
            "skipped",
            Some("the sender has no number WhatsApp shared (a username-only user)"),
        ),
    };
    let now = time::to_db(&time::now());
    tx.prepare_cached(
        "INSERT OR IGNORE INTO outbound_messages (kind, contact_id, to_number, in_reply_to,
            optout_event_id, body, state, error, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        kind,
        s.contact.as_ref().map(|c| c.0 .0),
        s.wa_id,
        in_reply_to,
        event.map(|e| e.0),
        body,
        state,
        error,
        now
    ])?;
    Ok(())
}

fn is_stop_button(p: &Processor, label: Option<&str>, payload: Option<&str>) -> bool {
    payload.is_some_and(|pl| p.optout_payloads.iter().any(|o| o == pl))
        || [label, payload]
            .into_iter()
            .flatten()
            .any(|t| keywords::is_meta_stop_button(t) || keywords::strong_opt_out_in(t).is_some())
}

fn handle_message(
    tx: &Tx<'_>,
    p: &Processor,
    inbox_id: i64,
    m: &InboundMessage,
    profiles: &HashMap<String, WaContact>,
) -> Result<()> {
    let user_id = m.from_user_id.clone().or_else(|| {
        m.from
            .as_ref()
            .and_then(|f| profiles.get(f))
            .and_then(|c| c.user_id.clone())
    });
    let at = unix_time(m.timestamp.as_deref());
    let text = match m.kind.as_str() {
        "text" => m.text.as_ref().map(|t| t.body.clone()),
        "button" => m
            .button
            .as_ref()
            .and_then(|b| b.text.clone().or_else(|| b.payload.clone())),
        "interactive" => m
            .interactive
            .as_ref()
            .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()))
            .and_then(|r| r.title.clone()),
        "system" => m.system.as_ref().and_then(|s| s.body.clone()),
        _ => None,
    };
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO inbound_messages (wamid, inbox_id, from_wa_id, from_user_id, kind, text, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![m.id, inbox_id, m.from, user_id, m.kind, text, time::to_db(&at)])?;
    if fresh == 0 {
        return Ok(()); // seen before: Meta delivered it again
    }
    let s = find_sender(tx, m.from.as_deref(), user_id.as_deref())?;
    let mut signup_code = match m.kind.as_str() {
        "text" => crate::signup::find(tx, text.as_deref().unwrap_or(""))?,
        _ => None,
    };
    let (verdict, matched) = match m.kind.as_str() {
        "text" if signup_code.is_some() => {
            let body = text.as_deref().unwrap_or("");
            let profile = m
                .from
                .as_ref()
                .and_then(|f| profiles.get(f))
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone());
            match signup_code.take() {
                Some(found) => signup(tx, p, &s, found, profile.as_deref(), body, m)?,
                None => (None, None),
            }
        }
        "text" => {
            let body = text.as_deref().unwrap_or("");
            let v = p.rules.classify(body);
            let ev = Evidence {
                kind: SourceKind::Keyword,
                detail: "keyword reply",
                proof: Some(body),
                reference: &m.id,
                at,
            };
            match v.class {
                Class::OptOut => {
                    let event = opt_out(tx, &s, &[Topic::Marketing, Topic::Utility], &ev)?;
                    queue_reply(tx, "optout_confirmation", &s, &m.id, event, &p.confirmation)?;
                }
                Class::OptIn => restore_keyword_opt_outs(tx, &s, &ev)?,
                Class::Help => queue_reply(tx, "help_reply", &s, &m.id, None, &p.help)?,
                Class::Review => review(tx, &s, &m.id, body, v.matched.as_deref(), &ev)?,
                Class::None => {}
            }
            (Some(v.class.as_str()), v.matched)
        }
        "button" | "interactive" => {
            let (label, payload) = match m.kind.as_str() {
                "button" => m
                    .button
                    .as_ref()
                    .map_or((None, None), |b| (b.text.as_deref(), b.payload.as_deref())),
                _ => m
                    .interactive
                    .as_ref()
                    .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()))
                    .map_or((None, None), |r| (r.title.as_deref(), r.id.as_deref())),
            };
            if is_stop_button(p, label, payload) {
                let proof = label.or(payload).unwrap_or("");
                let ev = Evidence {
                    kind: SourceKind::Button,
                    detail: "opt-out button",
                    proof: Some(proof),
                    reference: &m.id,
                    at,
                };
                let event = opt_out(tx, &s, &[Topic::Marketing], &ev)?;
                queue_reply(tx, "optout_confirmation", &s, &m.id, event, &p.confirmation)?;
                (Some("opt-out"), Some(proof.to_string()))
            } else {
                (Some("none"), None)
            }
        }
        "system" => {
            if let Some(sys) = m
                .system
                .as_ref()
                .filter(|x| x.kind.as_deref() == Some("user_changed_number"))
            {
                change_number(
                    tx,
                    &s,
                    sys.wa_id.as_deref(),
                    &m.id,
                    text.as_deref().unwrap_or(""),
                    &at,
                )?;
            }
            (None, None)
        }
        _ => (None, None),
    };
    tx.prepare_cached(
        "UPDATE inbound_messages SET contact_id = ?1, verdict = ?2, matched = ?3 WHERE wamid = ?4",
    )?
    .execute(params![
        s.contact.as_ref().map(|c| c.0 .0),
        verdict,
        matched,
        m.id
    ])?;
    Ok(())
}

/// A message carrying a sign-up code: the customer's own opt-in, with their message as proof.
/// An unknown or retired code, or a code beside an opt-out word, goes to review instead.
fn signup(
    tx: &Tx<'_>,
    p: &Processor,
    s: &Sender,
    found: crate::signup::Found,
    profile: Option<&str>,
    body: &str,
    m: &InboundMessage,
) -> Result<(Option<&'static str>, Option<String>)> {
    let (wamid, at) = (m.id.as_str(), unix_time(m.timestamp.as_deref()));
    let tag = format!("#{}", found.code);
    let verdict = p.rules.classify(body);
    let review_ev = Evidence {
        kind: SourceKind::Signup,
        detail: "sign-up message",
        proof: Some(body),
        reference: wamid,
        at,
    };
    let (label, topic) = match found.source {
        Some((label, topic, false)) if !matches!(verdict.class, Class::OptOut | Class::Review) => {
            (label, topic)
        }
        _ => {
            review(tx, s, wamid, body, Some(&tag), &review_ev)?;
            return Ok((Some("review"), Some(tag)));
        }
    };
    // The contact: known, or created from the number WhatsApp shared.
    let contact = match &s.contact {
        Some(c) => c.clone(),
        None => {
            let phone = match s
                .wa_id
                .as_deref()
                .map(|w| crate::phone::to_e164(&format!("+{w}"), None))
            {
                Some(Ok(p)) => p,
                _ => {
                    review(tx, s, wamid, body, Some(&tag), &review_ev)?;
                    return Ok((Some("review"), Some(tag)));
                }
            };
            let mut w = crate::contacts::RowWriter::new(tx)?;
            let id = w.insert(
                &phone,
                None,
                profile.unwrap_or("").trim(),
                &time::to_db(&time::now()),
            )?;
            tx.execute(
                "UPDATE contacts SET wa_id = ?1, bsuid = ?2 WHERE id = ?3",
                params![s.wa_id, s.user_id, id.0],
            )?;
            (id, phone)
        }
    };
    // Their own sign-up lifts a suppression, and the ledger says so.
    let lifted = suppression::lookup(tx, tx.salt(), &contact.1)?;
    if lifted.is_some() {
        tx.execute(
            "DELETE FROM suppressions WHERE phone_hash = ?1",
            [&suppression::phone_hash(tx.salt(), &contact.1)[..]],
        )?;
    }
    let detail = match &lifted {
        Some((reason, since)) => format!(
            "sign-up {tag}: {label} (lifted the suppression list entry, {reason} since {})",
            time::to_db(since)
        ),
        None => format!("sign-up {tag}: {label}"),
    };
    let ev = Evidence {
        kind: SourceKind::Signup,
        detail: &detail,
        proof: Some(body),
        reference: wamid,
        at,
    };
    set_subject(tx, &contact, topic.subject(), EventState::OptedIn, &ev)?;
    let known = Sender {
        contact: Some(contact),
        wa_id: s.wa_id.clone(),
        user_id: s.user_id.clone(),
    };
    queue_reply(
        tx,
        "welcome",
        &known,
        wamid,
        None,
        &p.welcome.replace("{topic}", topic.as_str()),
    )?;
    Ok((Some("signup"), Some(tag)))
}

/// START/UNSTOP/YES: restores exactly the topics whose latest event is a keyword opt-out.
fn restore_keyword_opt_outs(tx: &Tx<'_>, s: &Sender, ev: &Evidence<'_>) -> Result<()> {
    let Some(contact) = &s.contact else {
        return Ok(());
    };
    for topic in [Topic::Marketing, Topic::Utility] {
        let latest: Option<(String, String)> = tx
            .query_row(
                "SELECT state, source_kind FROM consent_events WHERE contact_id = ?1 AND subject = ?2
                 ORDER BY id DESC LIMIT 1",
                params![contact.0 .0, topic.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if latest
            .as_ref()
            .is_some_and(|(st, k)| st == "opted_out" && k == "keyword")
        {
            set_subject(tx, contact, topic.subject(), EventState::OptedIn, ev)?;
        }
    }
    Ok(())
}

fn review(
    tx: &Tx<'_>,
    s: &Sender,
    wamid: &str,
    text: &str,
    matched: Option<&str>,
    ev: &Evidence<'_>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO review_queue (wamid, contact_id, from_wa_id, text, matched, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![wamid, s.contact.as_ref().map(|c| c.0 .0), s.wa_id, text, matched, time::to_db(&ev.at)])?;
    if let Some(contact) = &s.contact {
        // Marketing to them is held while a message of theirs waits for the owner.
        set_subject(tx, contact, Subject::ReviewPending, EventState::Set, ev)?;
    }
    Ok(())
}

/// `user_changed_number`: the contact (and its consent) moves to the new number.
fn change_number(
    tx: &Tx<'_>,
    s: &Sender,
    new_wa_id: Option<&str>,
    wamid: &str,
    body: &str,
    at: &Timestamp,
) -> Result<()> {
    let (Some((id, _)), Some(new)) = (&s.contact, new_wa_id) else {
        return Ok(());
    };
    let new_phone = format!("+{new}");
    let taken: Option<i64> = tx
        .query_row(
            "SELECT id FROM contacts WHERE phone = ?1",
            [&new_phone],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        let ev = Evidence {
            kind: SourceKind::MetaSignal,
            detail: "changed number",
            proof: Some(body),
            reference: wamid,
            at: *at,
        };
        return review(
            tx,
            s,
            wamid,
            &format!("{body} (the new number is already another contact)"),
            None,
            &ev,
        );
    }
    tx.execute(
        "UPDATE contacts SET phone = ?1, wa_id = ?2, phone_hash = ?3, updated_at = ?4 WHERE id = ?5",
        params![new_phone, new, &suppression::phone_hash(tx.salt(), &new_phone)[..], time::to_db(&time::now()), id.0],
    )?;
    Ok(())
}

/// `b=<broadcast>;c=<contact>`, as the engine sets `biz_opaque_callback_data`.
fn broadcast_callback(data: Option<&str>) -> Option<(i64, i64)> {
    let mut b = None;
    let mut c = None;
    for part in data?.split(';') {
        match part.split_once('=') {
            Some(("b", v)) => b = v.parse().ok(),
            Some(("c", v)) => c = v.parse().ok(),
            _ => {}
        }
    }
    Some((b?, c?))
}

/// Status ranks: a later webhook never moves a message backwards; failed is final.
const RANK_SQL: &str = "CASE ?1 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE 0 END";

fn handle_status(tx: &Tx<'_>, p: &Processor, st: &Status) -> Result<()> {
    let code = st.errors.first().map(|e| e.code);
    let now = time::now();
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO message_statuses (wamid, status, recipient, error_code, callback_data, occurred_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![st.id, st.status, st.recipient_id, code, st.biz_opaque_callback_data,
                         time::to_db(&unix_time(st.timestamp.as_deref())), time::to_db(&now)])?;
    if fresh == 0 {
        return Ok(());
    }
    tx.prepare_cached(&format!(
        "UPDATE outbound_messages SET delivery_status = ?1, updated_at = ?2
         WHERE wamid = ?3 AND (delivery_status IS NULL OR (delivery_status <> 'failed' AND {RANK_SQL} >
           CASE delivery_status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 0 END))"
    ))?
    .execute(params![st.status, time::to_db(&now), st.id])?;
    tx.prepare_cached(&format!(
        "UPDATE broadcast_recipients SET delivery_status = ?1, updated_at = ?2
         WHERE wamid = ?3 AND (delivery_status IS NULL OR (delivery_status <> 'failed' AND {RANK_SQL} >
           CASE delivery_status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 0 END))"
    ))?
    .execute(params![st.status, time::to_db(&now), st.id])?;
    // The callback data names the recipient even before the engine stored the message id (the
    // webhook can win that race), and settles one held as unknown after a crash.
    if let Some((b, c)) = broadcast_callback(st.biz_opaque_callback_data.as_deref()) {
        tx.prepare_cached(&format!(
            "UPDATE broadcast_recipients SET wamid = coalesce(wamid, ?3), updated_at = ?4,
                state = CASE state WHEN 'unknown' THEN 'sent' ELSE state END,
                reason = CASE state WHEN 'unknown' THEN 'settled by WhatsApp''s status webhook' ELSE reason END,
                delivery_status = CASE WHEN delivery_status IS NULL OR (delivery_status <> 'failed' AND {RANK_SQL} >
                    CASE delivery_status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 0 END)
                    THEN ?1 ELSE delivery_status END
             WHERE broadcast_id = ?5 AND contact_id = ?6 AND (wamid IS NULL OR wamid = ?3)"
        ))?
        .execute(params![st.status, 0, st.id, time::to_db(&now), b, c])?;
    }
    if st.status != "failed" {
        return Ok(());
    }
    if let Some(e) = st.errors.first() {
        let reason = format!("{} (code {})", e.class().advice(), e.code);
        tx.prepare_cached(
            "UPDATE broadcast_recipients SET reason = ?1, error_code = ?2 WHERE wamid = ?3",
        )?
        .execute(params![reason, e.code, st.id])?;
    }
    let at = unix_time(st.timestamp.as_deref());
    for e in &st.errors {
        let (subject, detail) = match e.code {
            131050 => (
                Subject::MetaBlocked,
                "131050: the person stopped marketing messages in WhatsApp",
            ),
            131026 => (
                Subject::Unreachable,
                "131026: WhatsApp could not deliver to this number",
            ),
            _ => continue,
        };
        if e.code == 131050 {
            let since = time::to_db(&(now - chrono::Duration::hours(1)));
            let recent: i64 = tx.query_row(
                "SELECT count(*) FROM message_statuses WHERE error_code = 131050 AND received_at > ?1",
                [since],
                |r| r.get(0),
            )?;
            if recent > i64::from(p.guard_per_hour) {
                return Err(Error::invalid(format!(
                    "held by the provider-error guard: more than {} opt-outs from WhatsApp errors (131050) \
                     in an hour; check the WhatsApp account, then run `optdesk inbox retry`",
                    p.guard_per_hour
                )));
            }
        }
        let s = find_sender(
            tx,
            st.recipient_id.as_deref(),
            st.recipient_user_id.as_deref(),
        )?;
        let ev = Evidence {
            kind: SourceKind::MetaSignal,
            detail,
            proof: e.details().or(Some(&e.message)),
            reference: &st.id,
            at,
        };
        match &s.contact {
            Some(c) => {
                set_subject(tx, c, subject, EventState::Set, &ev)?;
            }
            None if e.code == 131050 => suppress_unknown(tx, &s, SourceKind::MetaSignal, &at)?,
            None => {}
        }
    }
    Ok(())
}

fn handle_preference(tx: &Tx<'_>, pref: &UserPreference) -> Result<()> {
    let at = match &pref.timestamp {
        Some(serde_json::Value::Number(n)) => unix_time(Some(&n.to_string())),
        Some(serde_json::Value::String(s)) => unix_time(Some(s)),
        _ => time::now(),
    };
    let s = find_sender(tx, pref.wa_id.as_deref(), pref.user_id.as_deref())?;
    let state = match pref.value.as_deref() {
        Some("stop") => EventState::Set,
        Some("resume") => EventState::Cleared,
        _ => return Ok(()),
    };
    let Some(contact) = &s.contact else {
        if state == EventState::Set {
            suppress_unknown(tx, &s, SourceKind::MetaSignal, &at)?;
        }
        return Ok(());
    };
    // Out of order: a stop or resume older than the latest one recorded changes nothing.
    let latest: Option<String> = tx
        .query_row(
            "SELECT occurred_at FROM consent_events WHERE contact_id = ?1 AND subject = 'meta_blocked' ORDER BY id DESC LIMIT 1",
            [contact.0 .0],
            |r| r.get(0),
        )
        .optional()?;
    if latest.is_some_and(|l| l >= time::to_db(&at)) {
        return Ok(());
    }
    let detail = if state == EventState::Set {
        "user_preferences: stop"
    } else {
        "user_preferences: resume"
    };
    let reference = format!("user_preferences {}", at.timestamp());
    let ev = Evidence {
        kind: SourceKind::MetaSignal,
        detail,
        proof: pref.detail.as_deref(),
        reference: &reference,
        at,
    };
    set_subject(tx, contact, Subject::MetaBlocked, state, &ev)?;
    Ok(())
}
