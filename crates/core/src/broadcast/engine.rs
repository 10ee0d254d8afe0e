//! The send engine. One engine sends a broadcast at a time (a lease with a heartbeat).
//!
//! For each recipient: wait for its slot at the configured rate, **claim** it — re-run the send
//! gate and move it to `sending` in one IMMEDIATE transaction, so an opt-out recorded a moment
//! ago blocks it — then send, and record what Meta answered. A recipient found in `sending` when
//! an engine starts may have reached Meta before a crash: it becomes `unknown`, never resent
//! blindly (a duplicate marketing message is worse than a missing one).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{counts, get, policy, Counts, Param};
use crate::error::{Error, Result};
use crate::gate::{self, Decision};
use crate::ledger::{self, NewEvent};
use crate::model::{Category, ContactId, EventState, SourceKind, Subject};
use crate::relay::drain;
use crate::store::{Database, Store};
use crate::time;
use crate::whatsapp::{Client, ClientError, ErrorClass, Sent, TemplateMessage};

const LEASE: chrono::Duration = chrono::Duration::seconds(30);

#[derive(Clone)]
pub struct Options {
    /// Messages per second.
    pub rate: f64,
    /// Requests in flight at most.
    pub max_in_flight: usize,
    /// Collect the relay mailbox before the first claim (relay mode; see `relay::drain`).
    pub drain: Drain,
    /// Start even when the mailbox cannot be collected, for this start only (recorded on the
    /// broadcast): the owner's `--without-relay`, or their answer in the app.
    pub without_relay: bool,
}

/// Whether a start must collect the relay mailbox first.
#[derive(Clone, Default)]
pub enum Drain {
    /// Not in relay mode: nothing waits anywhere but at Meta.
    #[default]
    NotRelay,
    Relay(Box<drain::Plan>),
    /// Relay mode, but what reading the mailbox needs is missing: why.
    Unusable(String),
}

impl Drain {
    /// What the settings and the keyring say, for the database `store` is on.
    pub fn from_settings(
        store: &Store,
        secrets: &dyn crate::secrets::SecretStore,
    ) -> Result<Drain> {
        let access = match crate::relay::access(store.conn(), secrets, store.path()) {
            Ok(None) => return Ok(Drain::NotRelay),
            Ok(Some(a)) => a,
            Err(e) => return Ok(Drain::Unusable(e.to_string())),
        };
        let timeout = crate::settings::get(store.conn(), "relay_drain_seconds")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        Ok(Drain::Relay(Box::new(drain::Plan {
            access,
            app_secret: secrets
                .get(crate::secrets::SecretKind::AppSecret)
                .ok()
                .flatten(),
            timeout: Duration::from_secs(timeout),
            replies: None,
        })))
    }
}

/// A running marketing broadcast pauses when the relay has not been reached for this long.
const RELAY_SILENCE: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every recipient is settled (sent, failed, blocked) or held as unknown for the owner.
    Finished { counts: Counts },
    /// Stopped early: paused (an account-wide error, or the owner) or cancelled.
    Stopped {
        state: String,
        reason: String,
        counts: Counts,
    },
}

struct Claimed {
    contact: ContactId,
    phone: String,
    name: String,
}

type Result2 = (ContactId, std::result::Result<Sent, ClientError>);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn lease_owner() -> String {
    format!(
        "pid {} on {} since {}",
        std::process::id(),
        hostname(),
        time::to_db(&time::now())
    )
}

/// Whether a lease's holder is a process on this machine that no longer runs (it crashed or
/// was killed): then its lease need not run out before a new engine takes over.
fn holder_is_gone(holder: &str) -> bool {
    let mut words = holder.split(' ');
    let (Some("pid"), Some(pid), Some("on"), Some(host)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    if host != hostname() || !cfg!(target_os = "linux") {
        return false;
    }
    !Path::new("/proc").join(pid).exists()
}

/// Sends broadcast `id` until it is finished, paused or cancelled, or `stop` is set.
pub async fn run(
    db: &Database,
    client: Arc<Client>,
    id: i64,
    opts: Options,
    stop: Arc<AtomicBool>,
    mut progress: impl FnMut(&Counts, f64),
) -> Result<Outcome> {
    let mut store = db.open()?;
    let b = get(store.conn(), id)?;
    // Before the first claim (and on every resume): what the relay holds goes in the ledger.
    let plan = match &opts.drain {
        Drain::NotRelay => Ok(None),
        Drain::Relay(plan) => {
            // What this process pulls itself, it also confirms (no receiver is there to).
            let plan = drain::Plan {
                replies: Some((*client).clone()),
                ..(**plan).clone()
            };
            drain::drain(db, &plan).await.map(|(_, session)| Some(session))
        }
        Drain::Unusable(why) => Err(Error::invalid(format!(
            "the broadcast does not start: the relay mailbox cannot be read ({why}). Send anyway for this start only (`--without-relay`, or \"Send anyway\" in the app), which the broadcast records"
        ))),
    };
    let (session, watch_relay) = match plan {
        Ok(None) => (None, false),
        Ok(Some(session)) => (session, true),
        Err(e) if opts.without_relay => {
            super::record_started_without_relay(store.conn(), id, &e.to_string())?;
            (None, false)
        }
        Err(e) => return Err(e),
    };
    let owner = lease_owner();
    start(&mut store, id, &b.tags, &owner)?;
    let category = b.gate_category();
    let policy = policy(store.conn())?;

    let (res_tx, mut res_rx) = tokio::sync::mpsc::unbounded_channel::<Result2>();
    // The CLI and settings hold it to Meta's 1,000/s; the engine itself only needs it positive.
    let mut rate = opts.rate.clamp(0.1, 100_000.0);
    let mut paced_from = Instant::now();
    let mut paced = 0u64;
    let mut in_flight = 0usize;
    let mut stopped: Option<(String, String)> = None;
    let mut beat = Instant::now();
    let started = Instant::now();
    let mut done_since_start = 0u64;
    let mut pending: Vec<Result2> = Vec::new();
    // Counting by state is a pass over every recipient: report at most 5 times a second.
    let mut reported = Instant::now();

    loop {
        while let Ok(r) = res_rx.try_recv() {
            in_flight -= 1;
            pending.push(r);
        }
        if !pending.is_empty() {
            done_since_start += pending.len() as u64;
            let slower = apply(&mut store, id, category, &mut pending, &mut stopped)?;
            if slower {
                rate = (rate / 2.0).max(1.0);
                paced_from = Instant::now();
                paced = 0;
            }
            if reported.elapsed() > Duration::from_millis(200) {
                reported = Instant::now();
                let achieved = done_since_start as f64 / started.elapsed().as_secs_f64().max(1e-3);
                progress(&counts(store.conn(), id)?, achieved);
            }
        }
        if beat.elapsed() > Duration::from_secs(5) {
            beat = Instant::now();
            if let Some(s) = heartbeat(&mut store, id, &owner)? {
                stopped.get_or_insert(s);
            }
            if watch_relay && category == Category::Marketing {
                if let Some(why) = relay_silent(&store)? {
                    stopped.get_or_insert(("paused".into(), why));
                }
            }
        }
        if stop.load(Ordering::Relaxed) && stopped.is_none() {
            stopped = Some((
                "paused".into(),
                "stopped by the owner; run the same command to resume".into(),
            ));
        }
        if stopped.is_some() {
            if in_flight == 0 {
                break;
            }
            if let Some(r) = res_rx.recv().await {
                in_flight -= 1;
                pending.push(r);
            }
            continue;
        }
        if in_flight >= opts.max_in_flight {
            if let Some(r) = res_rx.recv().await {
                in_flight -= 1;
                pending.push(r);
            }
            continue;
        }
        // Wait for this send's slot, then claim: the gate runs as close to the send as it can.
        let due = paced_from + Duration::from_secs_f64(paced as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let batch = ((rate * 0.02).ceil() as usize)
            .clamp(1, 20)
            .min(opts.max_in_flight - in_flight);
        let (claimed, more) = claim(&mut store, id, batch, category, &policy)?;
        if claimed.is_empty() {
            if !more {
                if in_flight == 0 {
                    break;
                }
                if let Some(r) = res_rx.recv().await {
                    in_flight -= 1;
                    pending.push(r);
                }
            }
            continue; // everyone in that batch was blocked: claim the next at once
        }
        for c in claimed {
            paced += 1;
            let components = if b.params.is_empty() {
                vec![]
            } else {
                let parameters: Vec<serde_json::Value> = b.params.values()
                    .map(|p: &Param| serde_json::json!({"type": "text", "text": p.value_for(&c.name, &c.phone)}))
                    .collect();
                vec![serde_json::json!({"type": "body", "parameters": parameters})]
            };
            let msg = TemplateMessage {
                to: c.phone,
                template: b.template.clone(),
                language: b.language.clone(),
                components,
                callback_data: Some(format!("b={id};c={}", c.contact.0)),
            };
            let (client, tx) = (client.clone(), res_tx.clone());
            in_flight += 1;
            tokio::spawn(async move {
                let r = client.send_template(&msg).await;
                let _ = tx.send((c.contact, r));
            });
        }
    }
    let outcome = finish(&mut store, id, &owner, stopped)?;
    if let Some(session) = session {
        session.end().await;
    }
    progress(
        &counts(store.conn(), id)?,
        done_since_start as f64 / started.elapsed().as_secs_f64().max(1e-3),
    );
    Ok(outcome)
}

/// Why a marketing broadcast must pause: the relay has not been reached for a minute, so
/// opt-outs may be waiting there.
fn relay_silent(store: &Store) -> Result<Option<String>> {
    let Some(failing) = crate::relay::state::failing_for(store.conn(), &time::now())? else {
        return Ok(None);
    };
    if failing <= RELAY_SILENCE {
        return Ok(None);
    }
    let error = crate::relay::state::load(store.conn())?
        .error
        .unwrap_or_default();
    Ok(Some(format!(
        "relay: the relay mailbox has not been reached for {} s ({error}), so opt-outs may be waiting there; send again to resume (it collects the mailbox first)",
        failing.num_seconds()
    )))
}

/// Takes the lease, settles what a crashed engine left in `sending`, and fixes the audience on
/// the first run.
fn start(store: &mut Store, id: i64, tags: &[String], owner: &str) -> Result<()> {
    store.with_tx(|tx| {
        let (state, holder, until): (String, Option<String>, Option<String>) = tx.query_row(
            "SELECT state, lease_owner, lease_until FROM broadcasts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if state == "finished" || state == "cancelled" {
            return Err(Error::invalid(format!("broadcast {id} is {state}; nothing to send")));
        }
        let now = time::now();
        if let (Some(holder), Some(until)) = (holder, until.as_deref().and_then(time::from_db)) {
            if until > now && !holder_is_gone(&holder) {
                return Err(Error::invalid(format!(
                    "broadcast {id} is being sent by another OptDesk ({holder}); only one may send it at a time"
                )));
            }
        }
        let now_db = time::to_db(&now);
        tx.execute(
            "UPDATE broadcasts SET state = 'sending', pause_reason = NULL, lease_owner = ?1, lease_until = ?2,
                updated_at = ?3 WHERE id = ?4",
            params![owner, time::to_db(&(now + LEASE)), now_db, id],
        )?;
        tx.execute(
            "UPDATE broadcast_recipients SET state = 'unknown', updated_at = ?1,
                reason = 'OptDesk stopped while sending it: it may have reached WhatsApp, so it is not sent again by itself'
             WHERE broadcast_id = ?2 AND state = 'sending'",
            params![now_db, id],
        )?;
        let existing: i64 = tx.query_row("SELECT count(*) FROM broadcast_recipients WHERE broadcast_id = ?1", [id], |r| r.get(0))?;
        if existing == 0 {
            let mut sql = "INSERT INTO broadcast_recipients (broadcast_id, contact_id, state, updated_at)
                           SELECT ?1, id, 'queued', ?2 FROM contacts WHERE erased_at IS NULL".to_string();
            let mut args: Vec<rusqlite::types::Value> = vec![id.into(), now_db.clone().into()];
            if !tags.is_empty() {
                sql += &format!(" AND id IN (SELECT contact_id FROM contact_tags WHERE tag IN ({}))", vec!["?"; tags.len()].join(", "));
                args.extend(tags.iter().map(|t| t.clone().into()));
            }
            tx.execute(&sql, rusqlite::params_from_iter(args))?;
        }
        Ok(())
    })
}

/// Claims up to `n` queued recipients, each re-checked by the gate in this transaction. Returns
/// the ones to send, and whether any were queued at all.
fn claim(
    store: &mut Store,
    id: i64,
    n: usize,
    category: Category,
    policy: &gate::Policy,
) -> Result<(Vec<Claimed>, bool)> {
    store.with_tx(|tx| {
        let queued: Vec<i64> = tx
            .prepare_cached("SELECT contact_id FROM broadcast_recipients WHERE broadcast_id = ?1 AND state = 'queued' ORDER BY contact_id LIMIT ?2")?
            .query_map(params![id, n as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let now = time::now();
        let now_db = time::to_db(&now);
        let mut out = Vec::new();
        for cid in &queued {
            let decision = gate::check_contact(tx, ContactId(*cid), category, now, policy)?;
            match decision {
                Some(Decision::Allowed) => {
                    tx.prepare_cached("UPDATE broadcast_recipients SET state = 'sending', attempts = attempts + 1, updated_at = ?1 WHERE broadcast_id = ?2 AND contact_id = ?3")?
                        .execute(params![now_db, id, cid])?;
                    let (phone, name): (String, String) = tx
                        .prepare_cached("SELECT phone, name FROM contacts WHERE id = ?1")?
                        .query_row([cid], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    out.push(Claimed { contact: ContactId(*cid), phone, name });
                }
                Some(Decision::Blocked(reason)) => {
                    tx.prepare_cached("UPDATE broadcast_recipients SET state = 'blocked', reason = ?1, updated_at = ?2 WHERE broadcast_id = ?3 AND contact_id = ?4")?
                        .execute(params![reason.describe(), now_db, id, cid])?;
                }
                None => {
                    tx.prepare_cached("UPDATE broadcast_recipients SET state = 'blocked', reason = 'the contact no longer exists', updated_at = ?1 WHERE broadcast_id = ?2 AND contact_id = ?3")?
                        .execute(params![now_db, id, cid])?;
                }
            }
        }
        Ok((out, !queued.is_empty()))
    })
}

fn flag(
    tx: &crate::store::Tx<'_>,
    cid: ContactId,
    subject: Subject,
    detail: &str,
    proof: Option<&str>,
    wamid: &str,
) -> Result<()> {
    let (phone, set): (String, bool) = tx.query_row(
        &format!(
            "SELECT phone, {} FROM contacts WHERE id = ?1",
            if subject == Subject::MetaBlocked {
                "meta_blocked"
            } else {
                "unreachable"
            }
        ),
        [cid.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !set {
        ledger::record(
            tx,
            &NewEvent {
                contact: cid,
                phone: &phone,
                subject,
                state: EventState::Set,
                source_kind: SourceKind::MetaSignal,
                source_detail: Some(detail),
                proof,
                evidence_ref: Some(wamid),
                actor: "broadcast",
                occurred_at: time::now(),
            },
        )?;
    }
    Ok(())
}

/// Records what Meta answered, in one transaction. Returns whether to slow down.
fn apply(
    store: &mut Store,
    id: i64,
    category: Category,
    pending: &mut Vec<Result2>,
    stopped: &mut Option<(String, String)>,
) -> Result<bool> {
    let results = std::mem::take(pending);
    store.with_tx(|tx| {
        let now_db = time::to_db(&time::now());
        let mut slower = false;
        let set = |state: &str, reason: Option<&str>, code: Option<i64>, wamid: Option<&str>, cid: ContactId| -> Result<()> {
            tx.prepare_cached("UPDATE broadcast_recipients SET state = ?1, reason = ?2, error_code = ?3, wamid = coalesce(?4, wamid), updated_at = ?5 WHERE broadcast_id = ?6 AND contact_id = ?7")?
                .execute(params![state, reason, code, wamid, now_db, id, cid.0])?;
            Ok(())
        };
        for (cid, r) in results {
            match r {
                Ok(sent) => {
                    // A status webhook may already have been here (with a failure reason): keep it.
                    tx.prepare_cached("UPDATE broadcast_recipients SET state = 'sent', wamid = coalesce(wamid, ?1), updated_at = ?2 WHERE broadcast_id = ?3 AND contact_id = ?4")?
                        .execute(params![sent.message_id, now_db, id, cid.0])?;
                    tx.prepare_cached("UPDATE contacts SET wa_id = coalesce(wa_id, ?1), last_marketing_at = CASE WHEN ?2 THEN ?3 ELSE last_marketing_at END WHERE id = ?4")?
                        .execute(params![sent.wa_id, category == Category::Marketing, now_db, cid.0])?;
                }
                Err(e @ ClientError::Network { .. }) => set("unknown", Some(&e.to_string()), None, None, cid)?,
                Err(ClientError::Graph { error, .. }) => {
                    let code = Some(error.code);
                    let attempts: i64 = tx.query_row("SELECT attempts FROM broadcast_recipients WHERE broadcast_id = ?1 AND contact_id = ?2", params![id, cid.0], |r| r.get(0))?;
                    let requeue = |why: &str| set("queued", Some(why), code, None, cid);
                    match error.class() {
                        ErrorClass::Consent => {
                            set("blocked", Some("stopped marketing in WhatsApp (131050)"), code, None, cid)?;
                            flag(tx, cid, Subject::MetaBlocked, "131050: the person stopped marketing messages in WhatsApp", error.details(), &format!("broadcast {id}"))?;
                        }
                        ErrorClass::RateLimited => {
                            slower = true;
                            if attempts >= 5 { set("failed", Some("WhatsApp kept rate-limiting this send"), code, None, cid)?; } else { requeue("rate limited; retried more slowly")?; }
                        }
                        ErrorClass::Transient => {
                            if attempts >= 3 { set("failed", Some(error.class().advice()), code, None, cid)?; } else { requeue("temporary WhatsApp error; retrying")?; }
                        }
                        ErrorClass::Recipient => {
                            set("failed", Some(error.class().advice()), code, None, cid)?;
                            if error.code == 131026 {
                                flag(tx, cid, Subject::Unreachable, "131026: WhatsApp could not deliver to this number", error.details(), &format!("broadcast {id}"))?;
                            }
                        }
                        ErrorClass::NeedsTemplate | ErrorClass::HeldByMeta | ErrorClass::BadRequest => {
                            set("failed", Some(&format!("{} (code {})", error.class().advice(), error.code)), code, None, cid)?;
                        }
                        ErrorClass::Auth | ErrorClass::Permission | ErrorClass::Template | ErrorClass::SpamLimit | ErrorClass::Account => {
                            requeue("not sent: the broadcast was paused")?;
                            let why = ClientError::Graph { status: 0, error: error.clone() }.to_string();
                            stopped.get_or_insert(("paused".into(), why.replace(", HTTP 0", "")));
                        }
                    }
                }
                Err(e) => {
                    set("queued", Some("not sent: the broadcast was paused"), None, None, cid)?;
                    stopped.get_or_insert(("paused".into(), e.to_string()));
                }
            }
        }
        Ok(slower)
    })
}

/// Renews the lease; tells whether the owner paused or cancelled it meanwhile.
fn heartbeat(store: &mut Store, id: i64, owner: &str) -> Result<Option<(String, String)>> {
    let now = time::now();
    store.conn().execute(
        "UPDATE broadcasts SET lease_until = ?1 WHERE id = ?2 AND lease_owner = ?3",
        params![time::to_db(&(now + LEASE)), id, owner],
    )?;
    let (state, reason): (String, Option<String>) = store.conn().query_row(
        "SELECT state, pause_reason FROM broadcasts WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((state == "paused" || state == "cancelled").then(|| (state, reason.unwrap_or_default())))
}

fn finish(
    store: &mut Store,
    id: i64,
    owner: &str,
    stopped: Option<(String, String)>,
) -> Result<Outcome> {
    let now_db = time::to_db(&time::now());
    // The owner may have paused or cancelled it from elsewhere meanwhile.
    let (current, current_reason): (String, Option<String>) = store
        .conn()
        .query_row(
            "SELECT state, pause_reason FROM broadcasts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or(("sending".into(), None));
    let stopped = match (stopped, current.as_str()) {
        (s, "paused" | "cancelled") => Some((
            current.clone(),
            current_reason.or(s.map(|s| s.1)).unwrap_or_default(),
        )),
        (s, _) => s,
    };
    let (state, reason) = match &stopped {
        Some((s, r)) => (s.as_str(), Some(r.as_str())),
        None => ("finished", None),
    };
    store.conn().execute(
        "UPDATE broadcasts SET state = ?1, pause_reason = ?2, lease_owner = NULL, lease_until = NULL, updated_at = ?3
         WHERE id = ?4 AND (lease_owner = ?5 OR lease_owner IS NULL)",
        params![state, reason, now_db, id, owner],
    )?;
    let counts = counts(store.conn(), id)?;
    Ok(match stopped {
        None => Outcome::Finished { counts },
        Some((state, reason)) => Outcome::Stopped {
            state,
            reason,
            counts,
        },
    })
}
