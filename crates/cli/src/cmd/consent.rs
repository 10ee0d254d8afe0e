//! `optdesk consent …`

use optdesk_core::consent::{self, Change, Outcome};
use optdesk_core::ledger;
use optdesk_core::{time, ConsentState, SourceKind, Topic};

use super::{Ctx, Error};
use crate::args::{ConsentCmd, SetArgs};
use crate::{out, CliResult, Done};

pub fn run(mut ctx: Ctx, cmd: ConsentCmd) -> CliResult {
    match cmd {
        ConsentCmd::Set(a) => set(&mut ctx, a),
        ConsentCmd::Verify { json } => {
            let report = ledger::verify(&ctx.store)?;
            if json {
                out::json(&report)?;
            }
            match &report.problem {
                None => {
                    if !json {
                        println!(
                            "The ledger is intact: {} events, hash chain unbroken, and all {} contacts' consent matches it.",
                            report.events, report.contacts
                        );
                    }
                    Ok(Done::Ok)
                }
                Some(p) => {
                    eprintln!("optdesk: the ledger does not verify: {}", p.message);
                    Ok(Done::Failed)
                }
            }
        }
    }
}

fn set(ctx: &mut Ctx, a: SetArgs) -> CliResult {
    let topic: Topic = a.topic.parse()?;
    let state: ConsentState = a.state.parse()?;
    let source_kind = match &a.kind {
        Some(k) => k.parse()?,
        None => SourceKind::guess(&a.source).unwrap_or(SourceKind::OwnerToggle),
    };
    let occurred_at = match &a.at {
        None => None,
        Some(t) => Some(time::parse_user(t).ok_or_else(|| {
            optdesk_core::Error::invalid(format!(
                "--at {t:?} is not a time; write it as 2026-03-01 or 2026-03-01 14:30 (UTC)"
            ))
        })?),
    };
    if occurred_at.is_some_and(|t| t > time::now()) {
        return Err(Error::Core(optdesk_core::Error::invalid(
            "--at is in the future",
        )));
    }
    let change = Change {
        phone: ctx.phone(&a.phone)?,
        topic,
        state,
        source_kind,
        source_detail: Some(a.source.trim().to_string()).filter(|s| !s.is_empty()),
        proof: a.proof,
        actor: ctx.actor.clone(),
        occurred_at,
    };
    let outcome = consent::set(&mut ctx.store, &change)?;
    if a.json {
        let (recorded, event) = match outcome {
            Outcome::Recorded(id) => (true, Some(id)),
            Outcome::Unchanged => (false, None),
        };
        out::json(&serde_json::json!({
            "phone": change.phone, "topic": topic, "state": state,
            "recorded": recorded, "event": event,
        }))?;
    } else {
        match outcome {
            Outcome::Recorded(id) => println!(
                "Recorded: {} is {} for {topic} ({source_kind}, event {id}).",
                change.phone, state
            ),
            Outcome::Unchanged => println!(
                "{} is already {state} for {topic}; nothing was recorded.",
                change.phone
            ),
        }
    }
    Ok(Done::Ok)
}
