//! `optdesk contacts …`

use std::io::Write;

use serde::Serialize;

use optdesk_core::contacts::{self, Contact, Edit, Filter};
use optdesk_core::import::{self, IssueKind, Options, Report};
use optdesk_core::ledger::{self, Event};
use optdesk_core::phone::Region;
use optdesk_core::{export, ConsentState};

use super::{Ctx, Error};
use crate::args::{ContactsCmd, ImportArgs, ListArgs};
use crate::{out, CliResult, Done};

pub fn run(mut ctx: Ctx, cmd: ContactsCmd) -> CliResult {
    match cmd {
        ContactsCmd::Import(a) => import(&mut ctx, a),
        ContactsCmd::List(a) => list(&ctx, a),
        ContactsCmd::Show { phone, json } => show(&ctx, &phone, json),
        ContactsCmd::Add { phone, name, tags } => {
            let phone = ctx.phone(&phone)?;
            let c = contacts::add(&mut ctx.store, &phone, name.as_deref().unwrap_or(""), &tags)?;
            println!("Added {}{}.", c.phone, name_suffix(&c));
            Ok(Done::Ok)
        }
        ContactsCmd::Edit {
            phone,
            name,
            tags,
            untags,
        } => {
            let phone = ctx.phone(&phone)?;
            let edit = Edit {
                name,
                add_tags: tags,
                remove_tags: untags,
            };
            let c = contacts::edit(&mut ctx.store, &phone, &edit)?;
            println!("{}{}: tags {}.", c.phone, name_suffix(&c), tag_list(&c));
            Ok(Done::Ok)
        }
        ContactsCmd::Proof { phone, json, html } => {
            let phone = ctx.phone(&phone)?;
            let proof = optdesk_core::rights::proof(&ctx.store, &phone)?;
            if let Some(path) = &html {
                std::fs::write(path, optdesk_core::rights::proof_html(&proof)).map_err(
                    |source| optdesk_core::Error::Io {
                        path: path.clone(),
                        source,
                    },
                )?;
            }
            if json || html.is_none() {
                out::json(&proof)?;
            }
            Ok(Done::Ok)
        }
        ContactsCmd::Erase { phone, yes } => {
            let phone = ctx.phone(&phone)?;
            if !yes {
                use std::io::IsTerminal;
                if !std::io::stdin().is_terminal() {
                    return Err(Error::Core(optdesk_core::Error::invalid(
                        "erasing cannot be undone: pass --yes to confirm",
                    )));
                }
                eprint!("Erase {phone} for good? Their name, tags, messages and evidence are removed; the number stays blocked. Type yes: ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if answer.trim() != "yes" {
                    println!("Nothing was erased.");
                    return Ok(Done::Ok);
                }
            }
            let e = optdesk_core::rights::erase(&mut ctx.store, &phone)?;
            println!("Erased {phone}: {} ledger events redacted (the chain still verifies), {} messages removed; the number stays on the suppression list.", e.events_redacted, e.messages_redacted);
            Ok(Done::Ok)
        }
        ContactsCmd::Export {
            json,
            format,
            output,
        } => export_contacts(&ctx, json, format.as_deref(), output.as_deref()),
    }
}

fn refuse(why: impl Into<String>) -> Error {
    Error::Core(optdesk_core::Error::invalid(why.into()))
}

fn export_contacts(
    ctx: &Ctx,
    json: bool,
    format: Option<&str>,
    output: Option<&std::path::Path>,
) -> CliResult {
    let by_extension = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let format = match (json, format, by_extension.as_deref()) {
        (true, Some(f), _) if !f.eq_ignore_ascii_case("json") => {
            return Err(refuse(format!(
                "--json and --format {f} disagree; give one of them"
            )))
        }
        (true, _, _) => "json".to_string(),
        (false, Some(f), _) => f.to_ascii_lowercase(),
        (false, None, Some(e @ ("xlsx" | "json"))) => e.to_string(),
        (false, None, _) => "csv".to_string(),
    };
    let rows = export::collect(&ctx.store)?;
    let bytes = match format.as_str() {
        "csv" => {
            let mut b = Vec::new();
            export::write_csv(&rows, &mut b)?;
            b
        }
        "json" => {
            let mut b = serde_json::to_vec_pretty(&rows).map_err(std::io::Error::from)?;
            b.push(b'\n');
            b
        }
        "xlsx" if output.is_none() => {
            return Err(refuse(
                "an .xlsx workbook is a binary file: give --output FILE.xlsx",
            ))
        }
        "xlsx" => export::xlsx(&rows)?,
        other => {
            return Err(refuse(format!(
                "{other:?} is not an export format: use csv, json or xlsx"
            )))
        }
    };
    match output {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|e| refuse(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "Exported {} contacts to {} ({format}).",
                rows.len(),
                path.display()
            );
        }
        None => {
            let mut w = out::stdout();
            w.write_all(&bytes)?;
            w.flush()?;
        }
    }
    Ok(Done::Ok)
}

fn name_suffix(c: &Contact) -> String {
    if c.name.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.name)
    }
}

fn tag_list(c: &Contact) -> String {
    if c.tags.is_empty() {
        "none".into()
    } else {
        c.tags.join(", ")
    }
}

fn import(ctx: &mut Ctx, a: ImportArgs) -> CliResult {
    let columns = a
        .map
        .iter()
        .map(|m| import::column_mapping(m))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = Options {
        region: a.region.as_deref().map(Region::parse).transpose()?,
        source: a.source.filter(|s| !s.trim().is_empty()),
        dry_run: a.dry_run,
        actor: ctx.actor.clone(),
        file_name: String::new(),
        columns,
    };
    let report = match import::import_file(&mut ctx.store, &a.file, &opts) {
        Ok(r) => r,
        // With --json every outcome is JSON on stdout, a refused file too.
        Err(e) if a.json => {
            out::json(&serde_json::json!({"error": e.to_string()}))?;
            return Ok(Done::Failed);
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        out::json(&report)?;
    } else {
        print_report(&a.file.display().to_string(), &report)?;
    }
    Ok(Done::Ok)
}

/// Rejected or blocked rows printed one by one, of each kind.
const ISSUES_SHOWN: usize = 100;

fn print_report(file: &str, r: &Report) -> Result<(), Error> {
    let mut w = out::stdout();
    let counts = format!(
        "{} added, {} updated, {} unchanged, {} blocked, {} rejected; {} consent event{}",
        r.added,
        r.updated,
        r.unchanged,
        r.blocked,
        r.rejected,
        r.events,
        if r.events == 1 { "" } else { "s" }
    );
    if r.dry_run {
        writeln!(
            w,
            "Dry run of {file}: nothing was written. Importing it would give: {counts}."
        )?;
    } else {
        writeln!(w, "Imported {file}: {counts}.")?;
    }
    for (kind, title) in [
        (IssueKind::Rejected, "Rejected"),
        (IssueKind::Blocked, "Blocked"),
    ] {
        let issues: Vec<_> = r.issues.iter().filter(|i| i.kind == kind).collect();
        if !issues.is_empty() {
            writeln!(w, "{title}:")?;
            // A file of bad rows stays readable: the first ones (lost opt-outs come first),
            // then how many more, and where to get them all.
            if issues.len() > ISSUES_SHOWN {
                writeln!(
                    w,
                    "  (the first {ISSUES_SHOWN} of {}; --json lists every one)",
                    issues.len()
                )?;
            }
            for i in issues.into_iter().take(ISSUES_SHOWN) {
                let phone = i
                    .phone
                    .as_deref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default();
                writeln!(w, "  line {}{phone}: {}", i.line, i.reason)?;
            }
        }
    }
    if !r.warnings.is_empty() {
        writeln!(w, "Notes:")?;
        for note in &r.warnings {
            writeln!(w, "  {note}")?;
        }
    }
    w.flush()?;
    Ok(())
}

fn list(ctx: &Ctx, a: ListArgs) -> CliResult {
    let filter = Filter {
        tags: a.tags,
        marketing: a
            .marketing
            .as_deref()
            .map(ConsentState::parse_filter)
            .transpose()?,
        utility: a
            .utility
            .as_deref()
            .map(ConsentState::parse_filter)
            .transpose()?,
    };
    let list = contacts::list(&ctx.store, &filter)?;
    if a.json {
        let mut w = out::stdout();
        serde_json::to_writer(&mut w, &list).map_err(std::io::Error::from)?;
        writeln!(w)?;
        w.flush()?;
        return Ok(Done::Ok);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.phone.clone(),
                c.name.replace('\n', " "),
                c.tags.join(", "),
                consent_cell(c.marketing, c),
                ConsentState::label(c.utility).to_string(),
            ]
        })
        .collect();
    let mut w = out::stdout();
    out::table(
        &["PHONE", "NAME", "TAGS", "MARKETING", "UTILITY"],
        &rows,
        &mut w,
    )?;
    writeln!(
        w,
        "{} contact{}",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    )?;
    w.flush()?;
    Ok(Done::Ok)
}

fn consent_cell(state: Option<ConsentState>, c: &Contact) -> String {
    let mut s = ConsentState::label(state).to_string();
    if c.suppressed {
        s += " (suppressed)";
    } else if c.meta_blocked {
        s += " (blocked in WhatsApp)";
    }
    s
}

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    contact: &'a Contact,
    history: &'a [Event],
}

fn show(ctx: &Ctx, phone: &str, json: bool) -> CliResult {
    let phone = ctx.phone(phone)?;
    let c = contacts::require(&ctx.store, &phone)?;
    let history = ledger::history(&ctx.store, c.id)?;
    if json {
        out::json(&Shown {
            contact: &c,
            history: &history,
        })?;
        return Ok(Done::Ok);
    }
    let mut w = out::stdout();
    writeln!(w, "{}{}", c.phone, name_suffix(&c))?;
    writeln!(w, "  tags:      {}", tag_list(&c))?;
    writeln!(w, "  marketing: {}", consent_cell(c.marketing, &c))?;
    writeln!(w, "  utility:   {}", ConsentState::label(c.utility))?;
    let flags: Vec<&str> = [
        (c.suppressed, "on the suppression list"),
        (c.meta_blocked, "stopped marketing in WhatsApp"),
        (c.unreachable, "unreachable on WhatsApp"),
        (c.review_pending, "a message awaits review"),
    ]
    .into_iter()
    .filter_map(|(on, text)| on.then_some(text))
    .collect();
    if !flags.is_empty() {
        writeln!(w, "  flags:     {}", flags.join("; "))?;
    }
    // The ledger's order (event numbers), which is when OptDesk recorded each change; an
    // imported opt-in may say it happened before an event recorded earlier.
    writeln!(
        w,
        "History (in the order recorded; each line: event number, when it happened):"
    )?;
    if history.is_empty() {
        writeln!(w, "  no consent recorded yet")?;
    }
    for e in &history {
        let detail = e
            .source_detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        writeln!(
            w,
            "  {} {} {}: {} via {}{detail}, by {}",
            e.id, e.occurred_at, e.subject, e.state, e.source_kind, e.actor
        )?;
        if let Some(p) = &e.proof {
            writeln!(w, "      proof: {p}")?;
        }
        if let Some(r) = &e.evidence_ref {
            writeln!(w, "      evidence: {r}")?;
        }
    }
    w.flush()?;
    Ok(Done::Ok)
}
