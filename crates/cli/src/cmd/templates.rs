//! `optdesk templates …`

use serde::Serialize;
use serde_json::Value;

use optdesk_core::settings;
use optdesk_core::templates::{self, FooterRule, StoredTemplate, Violation};

use super::{block_on, client, Ctx, Error};
use crate::args::TemplatesCmd;
use crate::{out, CliResult, Done};

pub fn run(mut ctx: Ctx, cmd: TemplatesCmd) -> CliResult {
    match cmd {
        TemplatesCmd::Sync { json } => {
            let c = client(&ctx)?;
            let remote = block_on(c.list_templates())??;
            let report = templates::sync(&mut ctx.store, &remote)?;
            if json {
                out::json(&report)?;
            } else {
                println!(
                    "Synced {} templates from WhatsApp: {} new, {} changed, {} unchanged, {} deleted on WhatsApp.",
                    remote.len(), report.added, report.updated, report.unchanged, report.deleted
                );
                let missing = templates::lint(&ctx.store)?;
                if !missing.is_empty() {
                    println!("{} marketing template(s) give no way to opt out: see `optdesk templates lint`.", missing.len());
                }
            }
            Ok(Done::Ok)
        }
        TemplatesCmd::List { json } => {
            let all = templates::list(&ctx.store)?;
            if json {
                out::json(&all)?;
            } else {
                print_list(&all)?;
            }
            Ok(Done::Ok)
        }
        TemplatesCmd::Lint { json } => {
            let missing = templates::lint(&ctx.store)?;
            if json {
                out::json(&missing)?;
            } else if missing.is_empty() {
                println!("Every marketing template gives customers a way to opt out.");
            } else {
                println!("These marketing templates give customers no way to opt out. A template's text is fixed");
                println!("once approved: create a new version with `optdesk templates create` (OptDesk adds the footer)");
                println!("and delete these in WhatsApp Manager.");
                print_list(&missing)?;
            }
            Ok(if missing.is_empty() {
                Done::Ok
            } else {
                Done::Failed
            })
        }
        TemplatesCmd::Create {
            file,
            dry_run,
            json,
        } => create(&mut ctx, &file, dry_run, json),
    }
}

fn print_list(all: &[StoredTemplate]) -> Result<(), Error> {
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|t| {
            let way_out = match (&t.way_out, t.category.as_str()) {
                (Some(_), _) => "yes".to_string(),
                (None, "MARKETING") => "NO".to_string(),
                (None, _) => "-".to_string(),
            };
            let status = if t.deleted {
                "DELETED on WhatsApp".to_string()
            } else {
                t.status.clone()
            };
            vec![
                t.name.clone(),
                t.language.clone(),
                t.category.clone(),
                status,
                way_out,
            ]
        })
        .collect();
    let mut w = out::stdout();
    out::table(
        &["NAME", "LANGUAGE", "CATEGORY", "STATUS", "WAY OUT"],
        &rows,
        &mut w,
    )?;
    std::io::Write::flush(&mut w)?;
    Ok(())
}

#[derive(Serialize)]
struct Created {
    submitted: bool,
    footer_rule: FooterRule,
    template: Value,
    id: Option<String>,
    status: Option<String>,
}

fn create(ctx: &mut Ctx, file: &std::path::Path, dry_run: bool, json: bool) -> CliResult {
    let text = std::fs::read_to_string(file).map_err(|e| optdesk_core::Error::Io {
        path: file.to_path_buf(),
        source: e,
    })?;
    let mut template: Value = serde_json::from_str(&text).map_err(|e| {
        optdesk_core::Error::invalid(format!("{} is not valid JSON: {e}", file.display()))
    })?;
    let footer = settings::get(&ctx.store, "footer_text")?.unwrap_or_default();
    let mut violations: Vec<Violation> = templates::validate(&template);
    let rule = match templates::apply_footer_rule(&mut template, &footer) {
        Ok(rule) => Some(rule),
        Err(v) => {
            violations.push(v);
            None
        }
    };
    if !violations.is_empty() {
        if json {
            out::json(&violations)?;
        }
        eprintln!(
            "optdesk: the template breaks {} of WhatsApp's rules; nothing was submitted:",
            violations.len()
        );
        for v in &violations {
            eprintln!("  {}: {}", v.at, v.message);
        }
        return Ok(Done::Failed);
    }
    let rule = rule.unwrap_or(FooterRule::NotMarketing);
    if !json {
        if let FooterRule::Added { footer } = &rule {
            println!("Added the footer \"{footer}\": a marketing template must give customers a way to opt out.");
        }
    }
    let mut created = Created {
        submitted: false,
        footer_rule: rule,
        template,
        id: None,
        status: None,
    };
    if !dry_run {
        let c = client(ctx)?;
        let answer = block_on(c.create_template(&created.template))??;
        let status = answer.status.clone().unwrap_or_else(|| "PENDING".into());
        templates::record_submitted(&mut ctx.store, &created.template, &answer.id, &status)?;
        created.submitted = true;
        created.id = Some(answer.id);
        created.status = Some(status);
    }
    if json {
        out::json(&created)?;
    } else if created.submitted {
        println!(
            "Submitted {} ({}) for review: id {}, status {}. Run `optdesk templates sync` later to see Meta's decision.",
            created.template["name"].as_str().unwrap_or(""),
            created.template["language"].as_str().unwrap_or(""),
            created.id.as_deref().unwrap_or(""),
            created.status.as_deref().unwrap_or("")
        );
    } else {
        println!("The template passes every check. It would be submitted as:");
        println!(
            "{}",
            serde_json::to_string_pretty(&created.template).unwrap_or_default()
        );
    }
    Ok(Done::Ok)
}
