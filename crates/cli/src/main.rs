//! `optdesk`: OptDesk's core from a terminal. Every command is a thin layer over
//! `optdesk-core`; output is for people unless `--json` asks for machines. Errors go to stderr as
//! one sentence, with exit status 1.
#![forbid(unsafe_code)]

mod args;
mod cmd;
mod out;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// What a command ends with: done, or a result the caller must see as a failure (a ledger that
/// does not verify) though nothing went wrong running it.
pub enum Done {
    Ok,
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = cli.verbose;
    let db = cli
        .db
        .clone()
        .or_else(|| optdesk_core::default_db_path().ok());
    match run(cli) {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::Failed) => ExitCode::FAILURE,
        Err(e) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("optdesk: {e}");
            if let (cmd::Error::Core(core), Some(db)) = (&e, &db) {
                out::damage(db, core, verbose);
            }
            ExitCode::FAILURE
        }
    }
}

pub type CliResult = Result<Done, cmd::Error>;

fn run(cli: Cli) -> CliResult {
    // The relay runs on a server: no shop database, no keyring.
    if let Command::Relay(r) = cli.command {
        return cmd::relay::run(r);
    }
    if let Command::Keywords(k) = cli.command {
        let path = match &cli.db {
            Some(p) => p.clone(),
            None => optdesk_core::default_db_path()?,
        };
        if !path.exists() {
            return cmd::receiver::keywords_built_in(k);
        }
        let ctx = cmd::Ctx::new(Some(path), cli.actor)?;
        return cmd::receiver::keywords(ctx, k);
    }
    let ctx = cmd::Ctx::new(cli.db, cli.actor)?;
    match cli.command {
        Command::Contacts(c) => cmd::contacts::run(ctx, c),
        Command::Consent(c) => cmd::consent::run(ctx, c),
        Command::Config(c) => cmd::config::run(ctx, c),
        Command::Credentials(c) => cmd::credentials::run(ctx, c),
        Command::Templates(c) => cmd::templates::run(ctx, c),
        Command::Broadcasts(c) => cmd::broadcasts::run(ctx, c),
        Command::Pricing(c) => cmd::results::pricing(ctx, c),
        Command::Signups(c) => cmd::signups::run(ctx, c),
        Command::Retention(args::RetentionCmd::Apply { dry_run, json }) => {
            let mut ctx = ctx;
            let r =
                optdesk_core::retention::apply(&mut ctx.store, optdesk_core::time::now(), dry_run)?;
            if json {
                out::json(&r)?;
            } else {
                println!(
                    "{} evidence recorded before {}: {} superseded ledger event(s) redacted, {} processed webhook bodies deleted, {} erased number(s) off the suppression list.",
                    if dry_run { "Would redact" } else { "Redacted" },
                    &r.cutoff[..10], r.events_redacted, r.webhook_bodies_deleted, r.suppressions_ended
                );
            }
            Ok(Done::Ok)
        }
        Command::Audit { json } => {
            let checks = optdesk_core::audit::run(&ctx.store)?;
            if json {
                out::json(&checks)?;
            } else {
                for c in &checks {
                    println!(
                        "{} {:<22} {}",
                        if c.ok { "ok  " } else { "NEED" },
                        c.name,
                        c.finding
                    );
                    if let Some(a) = &c.action {
                        println!("     {:<22} → {a}", "");
                    }
                }
            }
            Ok(if checks.iter().all(|c| c.ok) {
                Done::Ok
            } else {
                Done::Failed
            })
        }
        Command::Check { json } => {
            let v = ctx.store.check()?;
            if json {
                out::json(&v)?;
            } else if v.ok {
                println!("The database is sound: {}.", v.summary);
            } else {
                let db = ctx.store.path().to_path_buf();
                let e = optdesk_core::Error::Damaged {
                    path: db.clone(),
                    summary: v.summary,
                };
                println!("{e}.");
                out::damage(&db, &e, cli.verbose);
            }
            Ok(if v.ok { Done::Ok } else { Done::Failed })
        }
        Command::Backup { file } => {
            optdesk_core::backup::backup(&ctx.store, &file)?;
            println!("Backed up to {}.", file.display());
            Ok(Done::Ok)
        }
        Command::Key(args::KeyCmd::Export) => {
            let key = ctx.store.database().key;
            println!("{}", key.recovery_code());
            eprintln!(
                "This is the key to {}. Write it on paper and keep it away from this computer: \
                 if the system keyring is lost, OPTDESK_DB_KEY=<this code> opens the database and \
                 its backups. SQLCipher 4 tools open the file with: PRAGMA key = \"x'<the code \
                 without dashes>'\";",
                ctx.store.path().display()
            );
            Ok(Done::Ok)
        }
        Command::Restore { file } => {
            let db = ctx.store.database();
            drop(ctx);
            let c = optdesk_core::backup::restore(&db, &file)?;
            println!(
                "Restored {} ({} contacts, {} ledger events; the ledger verifies).",
                file.display(),
                c.contacts,
                c.events
            );
            Ok(Done::Ok)
        }
        Command::Serve { listen } => cmd::receiver::serve(ctx, listen),
        Command::Optouts(c) => cmd::optouts::run_optouts(ctx, c),
        Command::Review(c) => cmd::optouts::run_review(ctx, c),
        Command::Inbox(c) => cmd::receiver::inbox(ctx, c),
        Command::Keywords(c) => cmd::receiver::keywords(ctx, c),
        Command::Webhook(c) => cmd::webhook::run(ctx, c),
        Command::Relay(r) => cmd::relay::run(r),
    }
}
