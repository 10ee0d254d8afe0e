//! `optdesk broadcast results ID`: what a broadcast did, and who opted out after it; and
//! `optdesk pricing …`, the rate card its cost comes from.

use optdesk_core::broadcast::{pauses, results};

use super::{Ctx, Error};
use crate::args::PricingCmd;
use crate::{out, CliResult, Done};

fn pct(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r}%"))
}

pub fn print(ctx: &Ctx, id: i64, json: bool) -> CliResult {
    let r = results::results(&ctx.store, id)?;
    let history = pauses::history(&ctx.store, id)?;
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            results: &'a results::Results,
            pauses: &'a [pauses::Pause],
        }
        out::json(&Out {
            results: &r,
            pauses: &history,
        })?;
        return Ok(Done::Ok);
    }
    let b = optdesk_core::broadcast::get(&ctx.store, id).map_err(Error::Core)?;
    println!(
        "Broadcast {id} \"{}\" ({}): {}",
        b.name, b.template, b.state
    );
    println!(
        "  {} recipients: {} sent, {} delivered, {} read ({} of delivered)",
        r.recipients,
        r.sent,
        r.delivered,
        r.read,
        pct(r.read_rate)
    );
    println!(
        "  Opted out after it: {} ({} of delivered, within {} hours of delivery)",
        r.opt_outs.len(),
        pct(r.opt_out_rate),
        r.window_hours
    );
    println!(
        "  Replied: {} ({} of delivered)",
        r.replied,
        pct(r.reply_rate)
    );
    println!("  Failed: {}", r.failed);
    for g in &r.failed_by_reason {
        let code = g.code.map(|c| format!(" [{c}]")).unwrap_or_default();
        println!("    {} {}{code}", g.count, g.reason);
    }
    if r.held_back > 0 {
        println!(
            "  Held back by WhatsApp (not opted out; marketing limits per person): {}",
            r.held_back
        );
    }
    if r.stopped_marketing_before > 0 {
        println!(
            "  Refused: had stopped marketing in WhatsApp before (131050): {}",
            r.stopped_marketing_before
        );
    }
    if r.not_sent_by_consent > 0 {
        println!(
            "  Not sent (consent, flags or the frequency cap): {}",
            r.not_sent_by_consent
        );
    }
    if r.queued + r.unknown > 0 {
        println!(
            "  Still queued: {}; unknown after a crash: {}",
            r.queued, r.unknown
        );
    }
    if !r.opt_outs.is_empty() {
        println!("  Who opted out (ledger event, minutes after delivery):");
        for o in r.opt_outs.iter().take(50) {
            println!(
                "    {} {} — {} #{} after {} min",
                o.phone, o.name, o.source_kind, o.event_id, o.after_minutes
            );
        }
        if r.opt_outs.len() > 50 {
            println!(
                "    … and {} more (--json lists all)",
                r.opt_outs.len() - 50
            );
        }
    }
    for p in &history {
        println!(
            "  Paused {} ({}): {}{}",
            p.paused_at,
            p.kind,
            p.detail,
            p.cleared_at
                .as_ref()
                .map(|c| format!(" — resumed {c}"))
                .unwrap_or_default()
        );
    }
    Ok(Done::Ok)
}

pub fn pricing(mut ctx: Ctx, cmd: PricingCmd) -> CliResult {
    match cmd {
        PricingCmd::Import {
            file,
            source,
            effective,
        } => {
            let bytes = std::fs::read(&file)?;
            let c = optdesk_core::pricing::import(&mut ctx.store, &bytes, &source, &effective)?;
            println!(
                "Rate card loaded: {} rates for {} markets in {}, from {} (rates from {}).",
                c.rates, c.markets, c.currency, c.source, c.effective
            );
        }
        PricingCmd::Show { json } => {
            let c = optdesk_core::pricing::card(&ctx.store)?;
            if json {
                out::json(&c)?;
            } else {
                match c {
                    Some(c) => println!(
                        "{} rates for {} markets in {}, from {} (rates from {}; imported {}).",
                        c.rates, c.markets, c.currency, c.source, c.effective, c.imported_at
                    ),
                    None => println!(
                        "No rate card is loaded: previews give no cost. Import Meta's with `optdesk pricing import FILE --source … --effective DATE`."
                    ),
                }
            }
        }
    }
    Ok(Done::Ok)
}
