//! `optdesk broadcasts …`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use optdesk_core::broadcast::{self, engine, NewBroadcast};

use super::{block_on, client, Ctx, Error};
use crate::args::BroadcastsCmd;
use crate::{out, CliResult, Done};

fn invalid(msg: String) -> Error {
    Error::Core(optdesk_core::Error::invalid(msg))
}

pub fn run(mut ctx: Ctx, cmd: BroadcastsCmd) -> CliResult {
    match cmd {
        BroadcastsCmd::Create {
            template,
            language,
            tags,
            params,
            header_param,
            name,
            override_reason,
        } => {
            let mut values = Vec::new();
            for p in &params {
                let (n, v) = p.split_once('=').ok_or_else(|| {
                    invalid(format!(
                        "--param {p:?} must be N=VALUE or NAME=VALUE, such as 1=@name|there or first_name=@name|there"
                    ))
                })?;
                values.push((n.to_string(), v.to_string()));
            }
            let (parsed, slots) = broadcast::message::fill(&values, header_param.as_deref())
                .map_err(|e| invalid(format!("--param: {e}")))?;
            let id = broadcast::create(
                &mut ctx.store,
                &NewBroadcast {
                    name,
                    template,
                    language,
                    params: parsed,
                    slots,
                    tags,
                    override_reason,
                },
            )?;
            println!("{id}");
            Ok(Done::Ok)
        }
        BroadcastsCmd::Preview { id, json } => {
            let p = broadcast::preview(&ctx.store, id)?;
            if json {
                out::json(&p)?;
            } else {
                println!("{} will receive it; {} won't.", p.will_receive, p.excluded);
                for g in &p.by_reason {
                    let shown: Vec<&str> = g.phones.iter().take(10).map(String::as_str).collect();
                    let more = if g.count > 10 {
                        format!(" and {} more", g.count - 10)
                    } else {
                        String::new()
                    };
                    println!(
                        "  {} {}: {}{more}",
                        g.count,
                        g.description,
                        shown.join(", ")
                    );
                }
                println!(
                    "At {} messages a second it takes about {}.",
                    p.rate,
                    duration(p.estimated_seconds)
                );
                match (&p.brake.off, p.brake.canary) {
                    (Some(why), _) => println!("The brake is off: {why}."),
                    (None, 0) => println!(
                        "The brake watches it while it sends: it pauses if {}% of those delivered opt out, or {}% of sends fail.",
                        p.brake.optout_threshold, p.brake.failure_threshold
                    ),
                    (None, n) => println!(
                        "The brake sends to {n} first, waits {} for opt-outs, and goes on only if fewer than {}% of those delivered opted out (and under {}% failed).",
                        duration(p.brake.wait_seconds as f64),
                        p.brake.optout_threshold,
                        p.brake.failure_threshold
                    ),
                }
                if let Some(c) = &p.cost {
                    println!(
                        "It will cost about {:.2} {} ({}, rates from {}){}.",
                        c.total,
                        c.currency,
                        c.card.source,
                        c.card.effective,
                        if c.unpriced > 0 {
                            format!("; {} in markets the rate card does not price", c.unpriced)
                        } else {
                            String::new()
                        }
                    );
                    for m in &c.by_market {
                        println!(
                            "  {} × {} at {} = {:.2}",
                            m.recipients, m.market, m.rate, m.cost
                        );
                    }
                }
                for w in &p.warnings {
                    println!("Warning: {w}");
                }
            }
            Ok(Done::Ok)
        }
        BroadcastsCmd::Send {
            id,
            rate,
            without_relay,
            during_quiet_hours,
            no_brake,
        } => send(
            ctx,
            id,
            rate,
            Starting {
                without_relay,
                during_quiet_hours,
                no_brake,
            },
        ),
        BroadcastsCmd::Schedule { id, at, late_ok } => {
            let s = broadcast::schedule::schedule(
                &mut ctx.store,
                id,
                &at,
                late_ok.as_deref(),
                &optdesk_core::time::Clock::system(),
            )?;
            println!(
                "Broadcast {id} starts {} ({}), if the app or `optdesk serve` is running then{}.",
                s.local,
                s.zone,
                if s.late_ok_seconds > 0 {
                    format!(
                        "; if not, up to {} later",
                        duration(s.late_ok_seconds as f64)
                    )
                } else {
                    "; if not, it waits for you".into()
                }
            );
            if let Some(n) = &s.note {
                println!("Note: {n}.");
            }
            Ok(Done::Ok)
        }
        BroadcastsCmd::Unschedule { id } => {
            broadcast::schedule::unschedule(&mut ctx.store, id)?;
            println!("Broadcast {id} is no longer scheduled; it stays a draft.");
            Ok(Done::Ok)
        }
        BroadcastsCmd::Results { id, json } => super::results::print(&ctx, id, json),
        BroadcastsCmd::Status {
            id,
            recipients,
            json,
        } => {
            let b = broadcast::get(&ctx.store, id)?;
            let counts = broadcast::counts(&ctx.store, id)?;
            let list = if recipients {
                Some(broadcast::recipients(&ctx.store, id)?)
            } else {
                None
            };
            if json {
                #[derive(Serialize)]
                struct Status<'a> {
                    #[serde(flatten)]
                    broadcast: &'a broadcast::Broadcast,
                    counts: &'a broadcast::Counts,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    recipients: Option<&'a Vec<broadcast::Recipient>>,
                }
                out::json(&Status {
                    broadcast: &b,
                    counts: &counts,
                    recipients: list.as_ref(),
                })?;
            } else {
                println!(
                    "Broadcast {} \"{}\" ({} {}): {}{}",
                    b.id,
                    b.name,
                    b.template,
                    b.language,
                    b.state,
                    b.pause_reason
                        .as_ref()
                        .map(|r| format!(" — {r}"))
                        .unwrap_or_default()
                );
                println!("  {} recipients: {} sent ({} delivered, {} read), {} failed, {} blocked, {} unknown, {} queued",
                         counts.total, counts.sent, counts.delivered, counts.read, counts.failed, counts.blocked, counts.unknown, counts.queued);
                for r in list.iter().flatten() {
                    println!(
                        "  {} {}{}{}",
                        r.phone,
                        r.state,
                        r.delivery_status
                            .as_ref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default(),
                        r.reason
                            .as_ref()
                            .map(|x| format!(": {x}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(Done::Ok)
        }
        BroadcastsCmd::Pause { id } => {
            broadcast::set_stopped(&mut ctx.store, id, false)?;
            println!("Broadcast {id} will pause after the messages in flight; `optdesk broadcast send {id}` resumes it.");
            Ok(Done::Ok)
        }
        BroadcastsCmd::Cancel { id } => {
            broadcast::set_stopped(&mut ctx.store, id, true)?;
            println!("Broadcast {id} is cancelled; nothing more will be sent.");
            Ok(Done::Ok)
        }
        BroadcastsCmd::Resolve { id, resend, .. } => {
            let n = broadcast::resolve_unknown(&mut ctx.store, id, resend)?;
            if resend {
                println!("{n} recipient(s) queued again; run `optdesk broadcast send {id}`.");
            } else {
                println!("{n} recipient(s) dropped.");
            }
            Ok(Done::Ok)
        }
        BroadcastsCmd::List { json } => {
            let mut all: Vec<_> = broadcast::list(&ctx.store)?
                .into_iter()
                .map(|s| (s.broadcast, s.counts))
                .collect();
            all.reverse(); // oldest first, as before
            if json {
                let v: Vec<_> = all
                    .iter()
                    .map(|(b, c)| serde_json::json!({"broadcast": b, "counts": c}))
                    .collect();
                out::json(&v)?;
            } else {
                for (b, c) in &all {
                    println!(
                        "{} {} ({}): {} — {} sent, {} delivered, {} read, {} failed, {} blocked",
                        b.id,
                        b.name,
                        b.template,
                        when(&ctx, b)?,
                        c.sent,
                        c.delivered,
                        c.read,
                        c.failed,
                        c.blocked
                    );
                }
            }
            Ok(Done::Ok)
        }
    }
}

/// The state, with a schedule as the shop reads it.
fn when(ctx: &Ctx, b: &broadcast::Broadcast) -> Result<String, Error> {
    let Some(s) = broadcast::schedule::get_schedule(&ctx.store, b.id)? else {
        return Ok(b.state.to_string());
    };
    use optdesk_core::model::BroadcastState::Draft;
    Ok(match (b.state, &s.missed_at) {
        (Draft, Some(_)) => format!(
            "scheduled for {}, missed: send now with `optdesk broadcast send {}`",
            s.local, b.id
        ),
        (Draft, None) => format!("scheduled for {}", s.local),
        _ => b.state.to_string(),
    })
}

pub(super) fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// How the owner starts a broadcast.
struct Starting {
    without_relay: bool,
    during_quiet_hours: bool,
    no_brake: bool,
}

fn send(ctx: Ctx, id: i64, rate: Option<f64>, how: Starting) -> CliResult {
    ctx.store
        .refuse_if_damaged_or_unchecked(optdesk_core::store::integrity::DAY)?;
    let drain = engine::Drain::from_settings(&ctx.store, &optdesk_core::secrets::system_store())?;
    if let Some(w) = broadcast::offline_warning(&ctx.store)? {
        eprintln!("optdesk: note: {w}");
    }
    let client = Arc::new(client(&ctx)?);
    // --rate has the send_rate setting's bounds (the core's, written once).
    let rate = match rate {
        Some(r) => {
            optdesk_core::settings::check("send_rate", &r.to_string())
                .map_err(|e| invalid(format!("--rate: {e}")))?;
            r
        }
        None => broadcast::send_rate(&ctx.store)?,
    };
    let db = ctx.store.database();
    drop(ctx);
    let stop = Arc::new(AtomicBool::new(false));
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let outcome = block_on(async {
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
        });
        engine::run(
            &db,
            client,
            id,
            engine::Options {
                without_relay: how.without_relay,
                during_quiet_hours: how
                    .during_quiet_hours
                    .then(|| "the owner, with --during-quiet-hours".to_string()),
                no_brake: how
                    .no_brake
                    .then(|| "turned off by the owner with --no-brake".to_string()),
                notice: Some(Arc::new({
                    let bar = bar.clone();
                    move |s: &str| bar.println(format!("optdesk: {s}"))
                })),
                ..engine::Options::owner(rate, drain)
            },
            stop.clone(),
            |c, achieved| {
                bar.set_length(c.total);
                bar.set_position(c.sent + c.failed + c.blocked + c.unknown);
                bar.set_message(format!(
                    "sent {} · failed {} · blocked {} · {:.0}/s",
                    c.sent, c.failed, c.blocked, achieved
                ));
            },
        )
        .await
    })??;
    bar.finish_and_clear();
    match outcome {
        engine::Outcome::Finished { counts } => {
            println!(
                "Broadcast {id} finished: {} sent, {} failed, {} blocked by consent or flags.",
                counts.sent, counts.failed, counts.blocked
            );
            if counts.unknown > 0 {
                println!(
                    "{} recipient(s) are held as unknown (OptDesk stopped while sending them). Status webhooks will settle them, \
                     or decide with `optdesk broadcast resolve {id} --resend|--drop`.",
                    counts.unknown
                );
            }
            Ok(Done::Ok)
        }
        engine::Outcome::Stopped {
            state,
            reason,
            counts,
        } => {
            eprintln!(
                "optdesk: broadcast {id} {state} after {} sent: {reason}",
                counts.sent
            );
            Ok(Done::Failed)
        }
    }
}
