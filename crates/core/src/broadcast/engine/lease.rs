//! One engine per broadcast: the lease it takes on start, renews while it sends and gives back
//! when it stops; what a crashed engine left behind; and the broadcast's state at the end.

use crate::model::BroadcastState;
use std::path::Path;

use rusqlite::{params, OptionalExtension};

use super::{Options, Stop};
use crate::broadcast::pauses::{self, Clearer, PauseKind};
use crate::broadcast::{counts, Counts};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::time;

const LEASE: chrono::Duration = chrono::Duration::seconds(30);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

pub(super) fn owner() -> String {
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

/// What a start found.
pub(super) struct Begun {
    /// The owner's resume cleared a brake pause: its figures are accepted from here on.
    pub brake_cleared: bool,
}

/// Takes the lease, clears the pauses this start may clear (refusing while others hold it),
/// settles what a crashed engine left in `sending`, and fixes the audience on the first run.
pub(super) fn start(
    store: &mut Store,
    id: i64,
    tags: &[String],
    owner: &str,
    opts: &Options,
) -> Result<Begun> {
    store.with_tx(|tx| {
        let (state, holder, until): (BroadcastState, Option<String>, Option<String>) = tx.query_row(
            "SELECT state, lease_owner, lease_until FROM broadcasts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if matches!(state, BroadcastState::Finished | BroadcastState::Cancelled) {
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
        let clearer = opts.start.clearer();
        let brake_cleared = pauses::open(tx, id)?
            .iter()
            .any(|p| p.kind == PauseKind::Brake && matches!(clearer, Clearer::Owner { .. }));
        let left = pauses::clear(tx, id, clearer)?;
        if let Some(why) = pauses::sentence(&left) {
            return Err(Error::invalid(format!("broadcast {id} is still paused: {why}")));
        }
        let now_db = time::to_db(&now);
        tx.execute(
            "UPDATE broadcasts SET state = 'sending', pause_reason = NULL, lease_owner = ?1, lease_until = ?2,
                updated_at = ?3, started_at = coalesce(started_at, ?3), schedule_missed_at = NULL
             WHERE id = ?4",
            params![owner, time::to_db(&(now + LEASE)), now_db, id],
        )?;
        if let Some(why) = &opts.during_quiet_hours {
            tx.execute(
                "UPDATE broadcasts SET quiet_hours_override = ?1 WHERE id = ?2",
                params![format!("{why} ({now_db})"), id],
            )?;
        }
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
        Ok(Begun { brake_cleared })
    })
}

/// Renews the lease; tells whether the owner paused or cancelled it meanwhile.
pub(super) fn heartbeat(store: &mut Store, id: i64, owner: &str) -> Result<Option<Stop>> {
    let now = time::now();
    store.conn().execute(
        "UPDATE broadcasts SET lease_until = ?1 WHERE id = ?2 AND lease_owner = ?3",
        params![time::to_db(&(now + LEASE)), id, owner],
    )?;
    paused_elsewhere(store, id)
}

/// Whether the broadcast was paused or cancelled from elsewhere (the owner, a quality or
/// template webhook): the engine looks every 200 ms, so a stricter gate applies at once.
pub(super) fn paused_elsewhere(store: &Store, id: i64) -> Result<Option<Stop>> {
    let state: BroadcastState = store
        .conn()
        .prepare_cached("SELECT state FROM broadcasts WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    Ok(match state {
        BroadcastState::Paused => Some(Stop::Elsewhere),
        BroadcastState::Cancelled => Some(Stop::Cancelled),
        _ => None,
    })
}

/// Records how the run ended and gives the lease back. Returns the state, the reason in a
/// sentence (when it stopped early) and the totals.
pub(super) fn finish(
    store: &mut Store,
    id: i64,
    owner: &str,
    stop: Option<Stop>,
) -> Result<(BroadcastState, Option<String>, Counts)> {
    let (state, reason) = store.with_tx(|tx| {
        let now_db = time::to_db(&time::now());
        // The owner may have paused or cancelled it from elsewhere meanwhile.
        let current: BroadcastState = tx
            .query_row("SELECT state FROM broadcasts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(BroadcastState::Sending);
        let cancelled = current == BroadcastState::Cancelled || matches!(stop, Some(Stop::Cancelled));
        if let (Some(Stop::Pause(p)), false) = (&stop, cancelled) {
            pauses::add(tx, id, p)?;
        }
        let open = pauses::open(tx, id)?;
        let (state, reason) = if cancelled {
            (BroadcastState::Cancelled, Some("cancelled by the owner".to_string()))
        } else if !open.is_empty() {
            (BroadcastState::Paused, pauses::sentence(&open))
        } else if stop.is_some() {
            // Paused elsewhere, then resumed elsewhere before this engine stopped: it waits
            // for the next start rather than being called finished with people still queued.
            (BroadcastState::Paused, Some("stopped; send it again to go on".into()))
        } else {
            (BroadcastState::Finished, None)
        };
        tx.execute(
            "UPDATE broadcasts SET state = ?1, pause_reason = ?2, lease_owner = NULL, lease_until = NULL, updated_at = ?3
             WHERE id = ?4 AND (lease_owner = ?5 OR lease_owner IS NULL)",
            params![state, reason, now_db, id, owner],
        )?;
        Ok((state, reason))
    })?;
    Ok((state, reason, counts(store.conn(), id)?))
}
