//! `optdesk relay …`: the relay server and its mailboxes (formatting over `optdesk-relay`).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use optdesk_relay::server::{self, Limits};
use optdesk_relay::store;

use super::Error;
use crate::args::{MailboxCmd, RelayArgs, RelayCmd};
use crate::{out, CliResult, Done};

fn invalid(msg: impl Into<String>) -> Error {
    Error::Relay(optdesk_relay::Error::Invalid(msg.into()))
}

fn data(dir: Option<PathBuf>) -> Result<PathBuf, Error> {
    dir.ok_or_else(|| {
        invalid("say where the relay keeps its data: --data DIR (or OPTDESK_RELAY_DATA)")
    })
}

fn https_base(url: &str) -> Result<String, Error> {
    let u = url.trim().trim_end_matches('/');
    if u.starts_with("https://") && u.len() > 8 {
        Ok(u.to_string())
    } else {
        Err(invalid(format!(
            "{url:?} is not an https:// address; Meta only calls HTTPS URLs (put Caddy or nginx with a certificate in front of the relay)"
        )))
    }
}

pub fn run(args: RelayArgs) -> CliResult {
    let dir = data(args.data)?;
    match args.command {
        None => serve(&dir, args.serve),
        Some(RelayCmd::AdminSecret) => {
            let conn = store::open(&dir)?;
            let secret = store::rotate_admin(&conn)?;
            println!("Admin secret (shown once; GET /metrics with `Authorization: Bearer <it>`):\n{secret}");
            Ok(Done::Ok)
        }
        Some(RelayCmd::Mailbox(m)) => mailbox(&dir, m),
    }
}

fn serve(dir: &std::path::Path, s: crate::args::RelayServe) -> CliResult {
    let conn = store::open(dir)?;
    if let Some(url) = &s.public_url {
        store::set_public_url(&conn, &https_base(url)?)?;
    }
    let public = store::public_url(&conn)?;
    drop(conn);
    if s.rate < 0.0 || s.burst < 0.0 || s.max_pending_mb <= 0 || s.keep_days < 8 {
        return Err(invalid(
            "--rate and --burst are 0 or more, --max-pending-mb above 0, and --keep-days at least 8 (longer than Meta's 7 days of retries)",
        ));
    }
    let limits = Limits {
        per_second: s.rate,
        burst: s.burst,
        max_pending_bytes: s.max_pending_mb * 1024 * 1024,
        keep_days: s.keep_days,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(s.listen)
            .await
            .map_err(|e| invalid(format!("cannot listen on {}: {e}", s.listen)))?;
        // The address bound (with --listen …:0, the port the system chose).
        let bound = listener.local_addr().unwrap_or(s.listen);
        println!(
            "optdesk relay: listening on http://{bound} for {}; data in {}",
            public.as_deref().unwrap_or("(no --public-url yet)"),
            dir.display()
        );
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        server::serve(listener, dir, limits, shutdown).await?;
        Ok::<_, Error>(())
    })?;
    Ok(Done::Ok)
}

fn mailbox(dir: &std::path::Path, cmd: MailboxCmd) -> CliResult {
    let conn = store::open(dir)?;
    match cmd {
        MailboxCmd::Add {
            name,
            public_url,
            json,
        } => {
            let base = match public_url {
                Some(u) => https_base(&u)?,
                None => store::public_url(&conn)?.ok_or_else(|| {
                    invalid("the relay's https address is not known: pass --public-url https://relay.example.com (or start the relay with it once)")
                })?,
            };
            let c = store::add_mailbox(&conn, &name)?;
            let hook = format!("{base}/m/{}/webhook", c.id);
            if json {
                out::json(&serde_json::json!({
                    "name": c.name, "id": c.id, "hook_url": hook,
                    "verify_token": c.verify_token, "pull_secret": c.pull_secret,
                }))?;
            } else {
                println!(
                    "Mailbox {:?} is ready. Shown once (the relay keeps only hashes):",
                    c.name
                );
                println!("  hook URL      {hook}");
                println!("  pull secret   {}", c.pull_secret);
                println!(
                    "  verify token  {}   (only if you register the hook with Meta by hand)",
                    c.verify_token
                );
                println!("On the shop's PC: `optdesk credentials set --relay` (paste the pull secret), then");
                println!("  optdesk webhook connect --relay {hook}");
            }
        }
        MailboxCmd::List { json } => {
            let boxes = store::list(&conn)?;
            if json {
                out::json(&boxes)?;
            } else if boxes.is_empty() {
                println!("No mailboxes yet: `optdesk relay mailbox add NAME`.");
            } else {
                let now = store::now_ms();
                for b in boxes {
                    let oldest = b
                        .oldest_pending
                        .map(|t| format!(", oldest waiting {} min", (now - t) / 60_000))
                        .unwrap_or_default();
                    println!(
                        "{}  {}  {} waiting ({} KB{oldest}), {} stored, {} collected{}{}",
                        b.name,
                        b.id,
                        b.pending,
                        b.pending_bytes / 1024,
                        b.stored,
                        b.pulled,
                        match &b.consumer {
                            Some(c) => format!(", read by {c}"),
                            None if b.key_registered => String::new(),
                            None => ", no desktop has registered yet".into(),
                        },
                        if b.trusted_with_app_secret {
                            ", holds the app secret"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        MailboxCmd::Rotate { name } => {
            let secret = store::rotate(&conn, &name)?;
            println!(
                "New pull secret for {name:?} (shown once; the old one no longer works):\n{secret}"
            );
            println!("On the shop's PC: `optdesk credentials set --relay` and paste it.");
        }
        MailboxCmd::Trust { name } => {
            let secret = match std::env::var("OPTDESK_RELAY_APP_SECRET") {
                Ok(v) if !v.trim().is_empty() => v,
                _ if std::io::stdin().is_terminal() => {
                    rpassword::prompt_password("Meta app secret (input hidden): ")?
                }
                _ => std::io::stdin()
                    .lock()
                    .lines()
                    .next()
                    .transpose()?
                    .unwrap_or_default(),
            };
            let secret = secret.trim();
            if secret.is_empty() {
                return Err(invalid("no app secret given; nothing changed"));
            }
            store::set_app_secret(&conn, &name, Some(secret))?;
            println!("{name:?} now refuses forged bodies at the door (401). This relay is now trusted: with the app secret it could also forge events.");
        }
        MailboxCmd::Untrust { name } => {
            store::set_app_secret(&conn, &name, None)?;
            println!(
                "{name:?} no longer holds the app secret; the desktop checks every signature."
            );
        }
        MailboxCmd::Remove { name } => {
            let n = store::remove(&conn, &name)?;
            println!("Mailbox {name:?} removed, with the {n} bodies it still held.");
        }
    }
    Ok(Done::Ok)
}
