//! Broadcasts: create, preview (who will and will not receive it, and why), send with live
//! progress, pause/cancel, and settle recipients held as unknown after a crash.

use optdesk_core::model::BroadcastState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use optdesk_core::broadcast::{self, engine, Counts, NewBroadcast, Preview, Summary};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::{AppError, Kind};
use crate::{AppResult, Desk};

#[tauri::command]
pub async fn broadcasts_list(desk: State<'_, Desk>) -> AppResult<Vec<Summary>> {
    super::blocking(&desk, move |core| Ok(broadcast::list(&*core.store())?)).await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    pub name: Option<String>,
    pub template: String,
    pub language: String,
    /// What the owner typed for each of the template's variables, by its name (`1`,
    /// `first_name`): text, or `@name|fallback`. The core reads them as the CLI's `--param`.
    pub values: Vec<(String, String)>,
    /// What they typed for the text header's variable.
    pub header: Option<String>,
    pub tags: Vec<String>,
    pub override_reason: Option<String>,
}

#[tauri::command]
pub async fn broadcast_create(desk: State<'_, Desk>, input: CreateInput) -> AppResult<i64> {
    super::blocking(&desk, move |core| {
        let (params, slots) = broadcast::message::fill(&input.values, input.header.as_deref())?;
        let new = NewBroadcast {
            name: input.name.filter(|n| !n.trim().is_empty()),
            template: input.template,
            language: input.language,
            params,
            slots,
            tags: input.tags,
            override_reason: input.override_reason.filter(|r| !r.trim().is_empty()),
        };
        Ok(broadcast::create(&mut core.store(), &new)?)
    })
    .await
}

#[tauri::command]
pub async fn broadcast_preview(desk: State<'_, Desk>, id: i64) -> AppResult<Preview> {
    super::blocking(&desk, move |core| {
        Ok(broadcast::preview(&core.store(), id)?)
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastProgress {
    id: i64,
    counts: Counts,
    rate: f64,
    /// Set once, when the engine stops: "finished", "paused" or "cancelled", with why.
    state: Option<BroadcastState>,
    reason: Option<String>,
}

/// Starts (or resumes) sending in the background; progress arrives as `broadcast-progress`.
/// `without_relay`: the owner chose to start although the relay mailbox could not be collected
/// (for this start only; recorded on the broadcast).
#[tauri::command]
pub async fn broadcast_send<R: Runtime>(
    app: AppHandle<R>,
    desk: State<'_, Desk>,
    id: i64,
    without_relay: Option<bool>,
    during_quiet_hours: Option<bool>,
) -> AppResult<()> {
    // The check (a full one at most once a day), the keyring and the settings, off the runtime.
    // Relay mode: the engine collects the mailbox before its first claim, and refuses to start
    // when it cannot, unless the owner answered "send anyway" for this start.
    let (client, rate, drain) = super::blocking(&desk, |core| {
        core.store()
            .refuse_if_damaged_or_unchecked(optdesk_core::store::integrity::DAY)?;
        let client = Arc::new(core.client()?);
        let rate = broadcast::send_rate(&*core.store())?;
        let drain = engine::Drain::from_settings(&core.store(), core.secrets())?;
        Ok((client, rate, drain))
    })
    .await?;
    let without_relay = without_relay.unwrap_or(false);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut sending = desk.sending.lock().unwrap_or_else(|p| p.into_inner());
        if sending.get(&id).is_some_and(|s| !s.load(Ordering::Relaxed)) {
            return Err(AppError::new(
                Kind::Invalid,
                "this broadcast is already sending",
            ));
        }
        sending.insert(id, stop.clone());
    }
    let db = desk.core.database().clone();
    tauri::async_runtime::spawn(async move {
        let tick = app.clone();
        let outcome = engine::run(
            &db,
            client,
            id,
            engine::Options {
                without_relay,
                during_quiet_hours: during_quiet_hours
                    .unwrap_or(false)
                    .then(|| "the owner, asked in the app".to_string()),
                ..engine::Options::owner(rate, drain)
            },
            stop.clone(),
            move |counts, rate| {
                let _ = tick.emit(
                    "broadcast-progress",
                    BroadcastProgress {
                        id,
                        counts: counts.clone(),
                        rate,
                        state: None,
                        reason: None,
                    },
                );
            },
        )
        .await;
        stop.store(true, Ordering::Relaxed);
        let last = match outcome {
            Ok(engine::Outcome::Finished { counts }) => BroadcastProgress {
                id,
                counts,
                rate: 0.0,
                state: Some(BroadcastState::Finished),
                reason: None,
            },
            Ok(engine::Outcome::Stopped {
                state,
                reason,
                counts,
            }) => BroadcastProgress {
                id,
                counts,
                rate: 0.0,
                state: Some(state),
                reason: Some(reason),
            },
            Err(e) => {
                let desk = app.state::<Desk>();
                let counts = super::blocking(&desk, move |core| {
                    Ok(broadcast::counts(&*core.store(), id)?)
                })
                .await
                .unwrap_or_default();
                BroadcastProgress {
                    id,
                    counts,
                    rate: 0.0,
                    state: Some(BroadcastState::Paused),
                    reason: Some(e.to_string()),
                }
            }
        };
        let _ = app.emit("broadcast-progress", last);
    });
    Ok(())
}

/// Pauses (or cancels) a broadcast; the engine stops before its next send.
#[tauri::command]
pub async fn broadcast_stop(desk: State<'_, Desk>, id: i64, cancel: bool) -> AppResult<()> {
    super::blocking(&desk, move |core| {
        Ok(broadcast::set_stopped(&mut core.store(), id, cancel)?)
    })
    .await?;
    if let Some(flag) = desk
        .sending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
    {
        flag.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Settles recipients held as unknown: send them again, or drop them.
#[tauri::command]
pub async fn broadcast_resolve(desk: State<'_, Desk>, id: i64, resend: bool) -> AppResult<usize> {
    super::blocking(&desk, move |core| {
        Ok(broadcast::resolve_unknown(&mut core.store(), id, resend)?)
    })
    .await
}

/// Starts it later, at a time in the shop's zone ("2026-12-05 09:30", as the date-time field
/// gives it); the app or `optdesk serve` starts it then.
#[tauri::command]
pub async fn broadcast_schedule(
    desk: State<'_, Desk>,
    id: i64,
    at: String,
    late_ok: Option<String>,
) -> AppResult<broadcast::schedule::Schedule> {
    super::blocking(&desk, move |core| {
        Ok(broadcast::schedule::schedule(
            &mut core.store(),
            id,
            &at.replace('T', " "),
            late_ok.as_deref().filter(|l| !l.trim().is_empty()),
            &optdesk_core::time::Clock::system(),
        )?)
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct ResultsView {
    pub results: broadcast::results::Results,
    pub pauses: Vec<broadcast::pauses::Pause>,
}

/// What a broadcast did, who opted out after it, and every pause it had.
#[tauri::command]
pub async fn broadcast_results(desk: State<'_, Desk>, id: i64) -> AppResult<ResultsView> {
    super::blocking(&desk, move |core| {
        let store = core.store();
        Ok(ResultsView {
            results: broadcast::results::results(&*store, id)?,
            pauses: broadcast::pauses::history(&*store, id)?,
        })
    })
    .await
}
