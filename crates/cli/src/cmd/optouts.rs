//! `optdesk optouts …` and `optdesk review …`.

use optdesk_core::optouts;

use super::Ctx;
use crate::args::{OptoutsCmd, ReviewCmd};
use crate::{out, CliResult, Done};

pub fn run_optouts(ctx: Ctx, cmd: OptoutsCmd) -> CliResult {
    let OptoutsCmd::List { since, json } = cmd;
    let all = optouts::list(&ctx.store, since.as_deref())?;
    if json {
        out::json(&all)?;
        return Ok(Done::Ok);
    }
    if all.is_empty() {
        println!(
            "No opt-outs recorded{}.",
            since.map(|s| format!(" since {s}")).unwrap_or_default()
        );
    }
    for o in &all {
        let who = if o.name.is_empty() {
            o.phone.clone().unwrap_or_default()
        } else {
            format!("{} ({})", o.name, o.phone.clone().unwrap_or_default())
        };
        let topic = match o.topic {
            optdesk_core::model::Subject::MetaBlocked => "marketing, in WhatsApp itself",
            other => other.as_str(),
        };
        println!(
            "{} {who}: {topic} via {}{}",
            o.occurred_at,
            o.source_kind,
            o.source_detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        if let Some(e) = &o.evidence {
            println!(
                "    evidence: {e:?}{}",
                o.evidence_ref
                    .as_ref()
                    .map(|r| format!(" [{r}]"))
                    .unwrap_or_default()
            );
        }
        if let Some(c) = &o.confirmation {
            let delivery = c
                .delivery
                .as_ref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default();
            let error = c
                .error
                .as_ref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default();
            println!("    confirmation: {}{delivery}{error}", c.state);
        }
    }
    Ok(Done::Ok)
}

pub fn run_review(mut ctx: Ctx, cmd: ReviewCmd) -> CliResult {
    match cmd {
        ReviewCmd::List { all, json } => {
            let items = optouts::review_list(&ctx.store, all)?;
            if json {
                out::json(&items)?;
            } else if items.is_empty() {
                println!("Nothing to review.");
            } else {
                for i in &items {
                    println!(
                        "#{} {} {}: {:?} (matched {:?}; {} business days left){}",
                        i.id,
                        i.received_at,
                        i.phone.clone().unwrap_or_default(),
                        i.text,
                        i.matched.clone().unwrap_or_default(),
                        i.business_days_left,
                        if i.state == optdesk_core::model::ReviewState::Open {
                            String::new()
                        } else {
                            format!(" — {}", i.state)
                        }
                    );
                }
                println!("Decide with `optdesk review accept ID` (it was an opt-out) or `optdesk review dismiss ID`.");
            }
            Ok(Done::Ok)
        }
        ReviewCmd::Accept { id } => {
            optouts::review_decide(&mut ctx.store, id, true, &ctx.actor)?;
            println!("Review item {id} accepted: the person is opted out of everything.");
            Ok(Done::Ok)
        }
        ReviewCmd::Dismiss { id } => {
            optouts::review_decide(&mut ctx.store, id, false, &ctx.actor)?;
            println!("Review item {id} dismissed: not an opt-out.");
            Ok(Done::Ok)
        }
    }
}
