//! Sending later: a broadcast scheduled for a time in the shop's zone (stored in UTC with the
//! zone), started by whichever of the app and `optdesk serve` is running then; and the
//! scheduler that also resumes marketing when quiet hours end.
//!
//! A schedule nobody was running for does not start late by surprise: past a short grace (the
//! scheduler's tick) it is marked missed and waits for the owner ("scheduled for 09:30, missed:
//! send now?"), unless the owner allowed a late start window when scheduling.

use crate::model::BroadcastState;
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};
use serde::Serialize;

use super::engine::{self, Start};
use super::pauses::{self, PauseKind};
use super::plan::{parse_duration, Plan};
use super::{get, send_rate};
use crate::error::{Error, Result};
use crate::model::Category;
use crate::store::{Database, Store};
use crate::time::{self, Clock};
use crate::whatsapp::Client;

/// A schedule missed by less than this still starts: the scheduler looks every few seconds.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(2);

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Schedule {
    /// UTC.
    pub at: String,
    pub zone: String,
    /// As the shop reads it: `Sat 5 Dec 2026 09:30`.
    pub local: String,
    pub late_ok_seconds: i64,
    /// When the scheduler found it missed; it waits for the owner.
    pub missed_at: Option<String>,
    /// Something the owner should know (it falls in quiet hours).
    pub note: Option<String>,
}

pub fn get_schedule(db: &impl crate::store::Db, id: i64) -> Result<Option<Schedule>> {
    let conn = db.connection();
    let (at, zone, late, missed): (Option<String>, Option<String>, i64, Option<String>) = conn
        .query_row(
            "SELECT scheduled_at, schedule_zone, late_ok_seconds, schedule_missed_at FROM broadcasts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let Some(at) = at else { return Ok(None) };
    let mut plan = Plan::load(conn)?;
    if let Some(z) = zone.as_deref().and_then(|z| z.parse().ok()) {
        plan.zone = z;
    }
    let t = time::from_db(&at).unwrap_or_else(time::now);
    Ok(Some(Schedule {
        local: plan.local_text(&t),
        at,
        zone: plan.zone.name().to_string(),
        late_ok_seconds: late,
        missed_at: missed,
        note: None,
    }))
}

/// Schedules draft `id` for `at` (the shop's time, as `2026-12-05 09:30`), allowing a late
/// start within `late_ok` (`2h`) when nothing was running at that time.
pub fn schedule(
    store: &mut Store,
    id: i64,
    at: &str,
    late_ok: Option<&str>,
    clock: &Clock,
) -> Result<Schedule> {
    let b = get(store.conn(), id)?;
    if b.state != BroadcastState::Draft {
        return Err(Error::invalid(format!(
            "broadcast {id} is {}: only a broadcast that has not started can be scheduled",
            b.state
        )));
    }
    let plan = Plan::load(store.conn())?;
    let when = plan.parse_local(at)?;
    let now = clock.now();
    if when <= now {
        return Err(Error::invalid(format!(
            "{} is in the past (it is {} now in {}); give a later time",
            plan.local_text(&when),
            plan.local_text(&now),
            plan.zone.name()
        )));
    }
    let late = late_ok.map(parse_duration).transpose()?.unwrap_or_default();
    store.conn().execute(
        "UPDATE broadcasts SET scheduled_at = ?1, schedule_zone = ?2, late_ok_seconds = ?3,
            schedule_missed_at = NULL, updated_at = ?4 WHERE id = ?5",
        params![
            time::to_db(&when),
            plan.zone.name(),
            late.num_seconds(),
            time::to_db(&time::now()),
            id
        ],
    )?;
    let mut s = get_schedule(store.conn(), id)?
        .ok_or_else(|| Error::invalid("the schedule was not stored"))?;
    if b.gate_category() == Category::Marketing {
        if let Some(until) = plan.quiet_until(&when) {
            s.note = Some(format!(
                "{} is in quiet hours ({}): it starts then and waits until {}",
                s.local,
                plan.quiet.map(|q| q.text()).unwrap_or_default(),
                plan.local_text(&until)
            ));
        }
    }
    Ok(s)
}

/// Takes the schedule off a draft (it stays a draft).
pub fn unschedule(store: &mut Store, id: i64) -> Result<()> {
    let b = get(store.conn(), id)?;
    if b.state != BroadcastState::Draft {
        return Err(Error::invalid(format!(
            "broadcast {id} is {}; it is no longer waiting for its time",
            b.state
        )));
    }
    store.conn().execute(
        "UPDATE broadcasts SET scheduled_at = NULL, schedule_missed_at = NULL, updated_at = ?1 WHERE id = ?2",
        params![time::to_db(&time::now()), id],
    )?;
    Ok(())
}

/// What the scheduler should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Its time has come.
    Start(i64),
    /// Quiet hours are over and nothing else holds it.
    Resume(i64),
}

/// Looks at the clock: starts what is due, marks missed what is too late (recorded, for the
/// owner), and resumes what only quiet hours held once they are over.
pub fn tick(store: &mut Store, clock: &Clock) -> Result<Vec<Due>> {
    let now = clock.now();
    let now_db = time::to_db(&now);
    let mut due = Vec::new();
    let waiting: Vec<(i64, String, i64)> = store
        .conn()
        .prepare_cached(
            "SELECT id, scheduled_at, late_ok_seconds FROM broadcasts
             WHERE state = 'draft' AND scheduled_at IS NOT NULL AND schedule_missed_at IS NULL
               AND scheduled_at <= ?1 ORDER BY scheduled_at, id",
        )?
        .query_map([&now_db], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, at, late) in waiting {
        let at = time::from_db(&at).unwrap_or(now);
        let allowed = GRACE.max(chrono::Duration::seconds(late));
        if now - at <= allowed {
            due.push(Due::Start(id));
        } else {
            store.conn().execute(
                "UPDATE broadcasts SET schedule_missed_at = ?1 WHERE id = ?2",
                params![now_db, id],
            )?;
        }
    }
    let plan = Plan::load(store.conn())?;
    if plan.quiet_until(&now).is_none() {
        for id in pauses::held_only_by(store.conn(), PauseKind::QuietHours)? {
            due.push(Due::Resume(id));
        }
    }
    for id in pauses::released(store.conn())? {
        if !due.contains(&Due::Resume(id)) {
            due.push(Due::Resume(id));
        }
    }
    Ok(due)
}

/// Scheduled broadcasts that were missed, for the owner to decide.
pub fn missed(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM broadcasts WHERE state = 'draft' AND schedule_missed_at IS NOT NULL ORDER BY id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Told how each run the scheduler starts ends.
pub type Report = Arc<dyn Fn(i64, &Result<engine::Outcome>) + Send + Sync>;

/// How the scheduler runs: how often it looks, the clock, and what to do with a run's end.
#[derive(Clone)]
pub struct Scheduler {
    pub every: Duration,
    pub clock: Clock,
    pub drain: engine::Drain,
    /// Told each run's outcome (or error), for the app's events and the CLI's log.
    pub report: Report,
}

/// Runs until `stop` is set: every `every`, starts what is due and resumes what quiet hours
/// held, one engine per broadcast in this process.
pub async fn run(db: Database, client: Arc<Client>, s: Scheduler, stop: Arc<AtomicBool>) {
    let running: Arc<Mutex<HashSet<i64>>> = Arc::default();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let due = db
            .open()
            .and_then(|mut store| Ok((tick(&mut store, &s.clock)?, send_rate(store.conn())?)));
        match due {
            Ok((due, rate)) => {
                for d in due {
                    let (id, start) = match d {
                        Due::Start(id) => (id, Start::Scheduled),
                        Due::Resume(id) => (id, Start::Automatic(PauseKind::QuietHours)),
                    };
                    if !running.lock().unwrap_or_else(|p| p.into_inner()).insert(id) {
                        continue;
                    }
                    let mut opts = engine::Options::owner(rate, s.drain.clone());
                    opts.start = start;
                    opts.clock = s.clock.clone();
                    let (db, client, running, report, stop) = (
                        db.clone(),
                        client.clone(),
                        running.clone(),
                        s.report.clone(),
                        stop.clone(),
                    );
                    tokio::spawn(async move {
                        let r = engine::run(&db, client, id, opts, stop, |_, _| {}).await;
                        report(id, &r);
                        running
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                    });
                }
            }
            Err(e) => eprintln!("optdesk: the scheduler could not read the database: {e}"),
        }
        tokio::time::sleep(s.every).await;
    }
}
