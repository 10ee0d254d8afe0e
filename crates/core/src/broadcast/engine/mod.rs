//! The send engine. One engine sends a broadcast at a time (a lease with a heartbeat).
//!
//! For each recipient: wait for its slot at the configured rate, **claim** it — re-run the send
//! gate and move it to `sending` in one IMMEDIATE transaction, so an opt-out recorded a moment
//! ago blocks it — then send, and record what Meta answered. A recipient found in `sending` when
//! an engine starts may have reached Meta before a crash: it becomes `unknown`, never resent
//! blindly (a duplicate marketing message is worse than a missing one).

mod answers;
mod lease;

use crate::model::BroadcastState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::params;
use serde::Serialize;

use super::brake::{self, Watch};
use super::pauses::{self, Clearer, NewPause, PauseKind};
use super::plan::Plan;
use super::{counts, get, policy, Counts};
use crate::error::{Error, Result};
use crate::gate::{self, Decision};
use crate::model::{Category, ContactId};
use crate::relay::drain;
use crate::store::{Database, Store};
use crate::time::{self, Clock};
use crate::whatsapp::{Client, ClientError, Sent, TemplateMessage};

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
    /// Who starts it, which decides the pauses it may clear.
    pub start: Start,
    /// The owner allows this marketing broadcast to send in quiet hours: why (recorded).
    pub during_quiet_hours: Option<String>,
    /// The owner turns the brake off for this broadcast: why (recorded).
    pub no_brake: Option<String>,
    /// Where "now" comes from for quiet hours (tests hold it).
    pub clock: Clock,
    /// Told what the engine is waiting for (the brake's wait after the canary).
    pub notice: Option<Notice>,
}

impl Options {
    /// Options for the owner starting or resuming a broadcast at `rate`.
    pub fn owner(rate: f64, drain: Drain) -> Options {
        Options {
            rate,
            max_in_flight: 64,
            drain,
            without_relay: false,
            start: Start::Owner,
            during_quiet_hours: None,
            no_brake: None,
            clock: Clock::system(),
            notice: None,
        }
    }
}

/// Where the engine says what it is waiting for.
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

/// Who starts a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The owner: clears every pause but quiet hours (unless `during_quiet_hours`).
    Owner,
    /// The scheduler at the scheduled time: nothing to clear.
    Scheduled,
    /// The scheduler after quiet hours (or another automatic resume): clears only its own kind.
    Automatic(PauseKind),
}

impl Start {
    fn clearer(self) -> Clearer {
        match self {
            Start::Owner => Clearer::Owner { quiet_hours: false },
            Start::Scheduled => Clearer::Automatic(PauseKind::QuietHours),
            Start::Automatic(k) => Clearer::Automatic(k),
        }
    }
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
        let timeout: u64 = crate::settings::value_or_default(store, "relay_drain_seconds")?;
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
    /// Stopped early: paused (for the reasons in `reason`) or cancelled.
    Stopped {
        state: BroadcastState,
        reason: String,
        counts: Counts,
    },
}

struct Claimed {
    contact: ContactId,
    phone: String,
    name: String,
}

pub(crate) type Result2 = (ContactId, std::result::Result<Sent, ClientError>);

/// Why a run stops before everyone is sent.
pub(crate) enum Stop {
    Pause(NewPause),
    /// Paused from elsewhere (the app, `broadcast pause`): already recorded.
    Elsewhere,
    Cancelled,
}

/// The quiet-hours pause, with when it ends in the shop's time.
fn quiet_pause(plan: &Plan, until: &time::Timestamp) -> NewPause {
    NewPause::new(
        PauseKind::QuietHours,
        format!(
            "quiet hours ({} in {}): marketing waits until {}",
            plan.quiet.map(|q| q.text()).unwrap_or_default(),
            plan.zone.name(),
            plan.local_text(until)
        ),
    )
}

fn quiet_override(store: &Store, id: i64) -> Result<bool> {
    let v: Option<String> = store.conn().query_row(
        "SELECT quiet_hours_override FROM broadcasts WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(v.is_some())
}

/// The brake this run applies: the one stored on the broadcast, else the settings' (with the
/// canary's size from the audience, stored at the first start); `None` when it is off.
fn brake_for(
    store: &Store,
    id: i64,
    plan: &Plan,
    opts: &Options,
) -> Result<Option<(super::plan::Brake, u64)>> {
    let conn = store.conn();
    if let Some(why) = &opts.no_brake {
        brake::store(
            conn,
            id,
            &brake::Stored::Off {
                off: format!("{why} ({})", time::to_db(&time::now())),
            },
        )?;
        return Ok(None);
    }
    match brake::stored(conn, id)? {
        Some(brake::Stored::Off { .. }) => Ok(None),
        Some(brake::Stored::On { canary, brake }) => Ok(Some((brake, canary))),
        None => {
            let Some(b) = plan.brake.clone() else {
                return Ok(None);
            };
            let total = counts(conn, id)?.total;
            let canary = b.canary_size(total);
            brake::store(
                conn,
                id,
                &brake::Stored::On {
                    canary,
                    brake: b.clone(),
                },
            )?;
            Ok(Some((b, canary)))
        }
    }
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
    if b.state == BroadcastState::Finished || b.state == BroadcastState::Cancelled {
        return Err(Error::invalid(format!(
            "broadcast {id} is {}; nothing to send",
            b.state
        )));
    }
    let category = b.gate_category();
    let marketing = category == Category::Marketing;
    let plan = Plan::load(store.conn())?;
    let notice = |s: &str| {
        if let Some(n) = &opts.notice {
            n(s);
        }
    };
    // Quiet hours first: a marketing broadcast waits for the morning, replies never do. Once
    // they are over, a quiet-hours pause is stale whoever starts it.
    if plan.quiet_until(&opts.clock.now()).is_none() {
        store.with_tx(|tx| pauses::clear(tx, id, Clearer::Automatic(PauseKind::QuietHours)))?;
    }
    let quiet_ok = opts.during_quiet_hours.is_some() || quiet_override(&store, id)?;
    if marketing && !quiet_ok {
        if let Some(until) = plan.quiet_until(&opts.clock.now()) {
            let pause = quiet_pause(&plan, &until);
            if opts.start == Start::Owner {
                return Err(Error::invalid(format!(
                    "it is {}. Schedule it (`optdesk broadcast schedule {id} --at …`), or send it now with --during-quiet-hours (recorded on the broadcast)",
                    pause.detail
                )));
            }
            store.with_tx(|tx| pauses::add(tx, id, &pause))?;
            let open = pauses::open(store.conn(), id)?;
            return Ok(Outcome::Stopped {
                state: BroadcastState::Paused,
                reason: pauses::sentence(&open).unwrap_or(pause.detail),
                counts: counts(store.conn(), id)?,
            });
        }
    }
    // Before the first claim (and on every resume): what the relay holds goes in the ledger.
    let drained = match &opts.drain {
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
    let (session, watch_relay) = match drained {
        Ok(None) => (None, false),
        Ok(Some(session)) => (session, true),
        Err(e) if opts.without_relay => {
            super::record_started_without_relay(store.conn(), id, &e.to_string())?;
            (None, false)
        }
        Err(e) => return Err(e),
    };
    let owner = lease::owner();
    let begun = lease::start(&mut store, id, &b.tags, &owner, &opts)?;
    let policy = policy(store.conn())?;

    // The brake: a canary first (broadcasts over 200), then the same test to the end.
    let braking = if marketing {
        brake_for(&store, id, &plan, &opts)?
    } else {
        None
    };
    let mut watch = None;
    let mut canary_left = None;
    let mut wait_until = None;
    if let Some((brake, canary)) = &braking {
        let base = brake::baseline(store.conn(), id)?;
        let mut w = Watch::start(store.conn(), id, plan.attribution, base)?;
        if begun.brake_cleared {
            // The owner saw the figures and resumed: count from here.
            brake::set_baseline(store.conn(), id, &w.figures)?;
            w.baseline = w.figures;
        }
        watch = Some(w);
        if *canary > 0 {
            match brake::canary_done_at(store.conn(), id)? {
                None => {
                    canary_left = Some(canary.saturating_sub(brake::claimed(store.conn(), id)?))
                }
                Some(done) => {
                    let until = done + chrono::Duration::seconds(brake.wait_seconds);
                    if until > time::now() {
                        wait_until = Some(until);
                    }
                }
            }
        }
    }

    let (res_tx, mut res_rx) = tokio::sync::mpsc::unbounded_channel::<Result2>();
    // The CLI and settings hold it to Meta's 1,000/s; the engine itself only needs it positive.
    let mut rate = opts.rate.clamp(0.1, 100_000.0);
    let mut paced_from = Instant::now();
    let mut paced = 0u64;
    let mut in_flight = 0usize;
    let mut stopped: Option<Stop> = None;
    let mut beat = Instant::now();
    let started = Instant::now();
    let mut done_since_start = 0u64;
    let mut pending: Vec<Result2> = Vec::new();
    // Counting by state is a pass over every recipient: report at most 5 times a second.
    let mut reported = Instant::now();
    let mut checked = Instant::now();

    loop {
        while let Ok(r) = res_rx.try_recv() {
            in_flight -= 1;
            pending.push(r);
        }
        if !pending.is_empty() {
            done_since_start += pending.len() as u64;
            let slower = answers::apply(&mut store, id, category, &mut pending, &mut stopped)?;
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
        if checked.elapsed() > Duration::from_millis(200) && stopped.is_none() {
            checked = Instant::now();
            if let Some(s) = lease::paused_elsewhere(&store, id)? {
                stopped = Some(s);
            }
            if let (Some(w), Some((brake, _))) = (watch.as_mut(), &braking) {
                w.refresh(store.conn())?;
                if let Some(p) = brake::verdict(id, brake, &w.current()) {
                    stopped = Some(Stop::Pause(p));
                }
            }
            if marketing && !quiet_ok {
                if let Some(until) = plan.quiet_until(&opts.clock.now()) {
                    stopped.get_or_insert(Stop::Pause(quiet_pause(&plan, &until)));
                }
            }
        }
        if beat.elapsed() > Duration::from_secs(5) {
            beat = Instant::now();
            if let Some(s) = lease::heartbeat(&mut store, id, &owner)? {
                stopped.get_or_insert(s);
            }
            if watch_relay && marketing {
                if let Some(why) = relay_silent(&store)? {
                    stopped.get_or_insert(Stop::Pause(why));
                }
            }
        }
        if stop.load(Ordering::Relaxed) && stopped.is_none() {
            stopped = Some(Stop::Pause(NewPause::new(
                PauseKind::Owner,
                "stopped by the owner; run the same command to resume",
            )));
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
        // After the canary: wait for the replies, watching, before anyone else is sent to.
        if let Some(until) = wait_until {
            if time::now() < until {
                if let Ok(Some(r)) =
                    tokio::time::timeout(Duration::from_millis(100), res_rx.recv()).await
                {
                    in_flight -= 1;
                    pending.push(r);
                }
                continue;
            }
            wait_until = None;
            paced_from = Instant::now();
            paced = 0;
            notice("the brake's wait is over and nothing tripped it: sending to the rest");
        }
        // Wait for this send's slot, then claim: the gate runs as close to the send as it can.
        let due = paced_from + Duration::from_secs_f64(paced as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let mut batch = ((rate * 0.02).ceil() as usize)
            .clamp(1, 20)
            .min(opts.max_in_flight - in_flight);
        if let Some(left) = canary_left {
            batch = batch.min(left as usize);
        }
        let (claimed, more) = if batch == 0 {
            (Vec::new(), true)
        } else {
            claim(&mut store, id, batch, category, &policy)?
        };
        if let Some(left) = canary_left.as_mut() {
            *left = left.saturating_sub(claimed.len() as u64);
            if *left == 0 {
                canary_left = None;
                let now = time::now();
                brake::set_canary_done(store.conn(), id, &now)?;
                if let Some((brake, canary)) = &braking {
                    let until = now + chrono::Duration::seconds(brake.wait_seconds);
                    wait_until = Some(until);
                    notice(&format!(
                        "sent to the first {canary} (the brake's canary); waiting until {} for opt-outs before the rest",
                        plan.local_text(&until)
                    ));
                }
            }
        }
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
            let components = super::message::components(&b.params, &b.slots, &c.name, &c.phone);
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
    let (state, reason, counts_now) = lease::finish(&mut store, id, &owner, stopped)?;
    if let Some(session) = session {
        session.end().await;
    }
    progress(
        &counts_now,
        done_since_start as f64 / started.elapsed().as_secs_f64().max(1e-3),
    );
    Ok(match reason {
        None if state == BroadcastState::Finished => Outcome::Finished { counts: counts_now },
        reason => Outcome::Stopped {
            state,
            reason: reason.unwrap_or_default(),
            counts: counts_now,
        },
    })
}

/// Why a marketing broadcast must pause: the relay has not been reached for a minute, so
/// opt-outs may be waiting there.
fn relay_silent(store: &Store) -> Result<Option<NewPause>> {
    let Some(failing) = crate::relay::state::failing_for(store.conn(), &time::now())? else {
        return Ok(None);
    };
    if failing <= RELAY_SILENCE {
        return Ok(None);
    }
    let error = crate::relay::state::load(store.conn())?
        .error
        .unwrap_or_default();
    Ok(Some(NewPause::new(PauseKind::Relay, format!(
        "relay: the relay mailbox has not been reached for {} s ({error}), so opt-outs may be waiting there; send again to resume (it collects the mailbox first)",
        failing.num_seconds()
    ))))
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
        // Re-categorised to marketing by WhatsApp a moment ago: the stricter gate, at once.
        let stored: String = tx
            .prepare_cached("SELECT category FROM broadcasts WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        let category = match Category::of_template(&stored) {
            Category::Marketing => Category::Marketing,
            Category::Utility => category,
        };
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
