//! `optdesk serve`, `optdesk inbox …`, `optdesk keywords test`.

use std::net::SocketAddr;

use optdesk_core::broadcast::{engine, schedule};
use optdesk_core::receiver::{self, Config};
use optdesk_core::secrets::{system_store, SecretKind, SecretStore};
use optdesk_core::webhook::process::{self, Processor};

use super::{client, Ctx, Error};
use crate::args::{InboxCmd, KeywordsCmd};
use crate::{out, CliResult, Done};

pub fn required(kind: SecretKind) -> Result<optdesk_core::secrets::Secret, Error> {
    system_store().get(kind)?.ok_or_else(|| {
        Error::Core(optdesk_core::Error::invalid(format!(
            "no {} is saved; run `optdesk credentials set` (or set {} on a server)",
            kind.label(),
            kind.env_var()
        )))
    })
}

pub fn serve(ctx: Ctx, listen: SocketAddr) -> CliResult {
    ctx.store
        .refuse_if_damaged_or_unchecked(optdesk_core::store::integrity::DAY)?;
    let app_secret = required(SecretKind::AppSecret)?;
    let verify_token = required(SecretKind::VerifyToken)?;
    let client = match client(&ctx) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("optdesk: confirmations cannot be sent until WhatsApp is connected: {e}");
            None
        }
    };
    let reach = optdesk_core::reachability::endpoint::from_settings(&ctx.store, &system_store())?;
    let mode = reach.mode();
    let drain = engine::Drain::from_settings(&ctx.store, &system_store())?;
    let db = ctx.store.database();
    drop(ctx);
    // The full check again whenever its verdict is a day old, beside the receiver.
    optdesk_core::store::integrity::watch(db.clone());
    // Scheduled broadcasts start here at their time, and quiet hours resume here.
    let scheduler = client.clone().map(|c| {
        (
            std::sync::Arc::new(c),
            schedule::Scheduler {
                every: std::time::Duration::from_secs(5),
                clock: optdesk_core::time::Clock::system(),
                drain,
                report: std::sync::Arc::new(|id, r| match r {
                    Ok(engine::Outcome::Finished { counts }) => {
                        println!("Broadcast {id} finished: {} sent.", counts.sent)
                    }
                    Ok(engine::Outcome::Stopped { state, reason, .. }) => {
                        println!("Broadcast {id} {state}: {reason}")
                    }
                    Err(e) => eprintln!("optdesk: broadcast {id} did not start: {e}"),
                }),
            },
        )
    });
    let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (opened, told) = tokio::sync::oneshot::channel();
    let config = Config {
        listen,
        db: db.clone(),
        app_secret,
        verify_token,
        client,
        reach: Some(reach),
        opened: Some(opened),
        changed: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        println!("Listening for WhatsApp webhooks on http://{listen}/webhook (Ctrl-C to stop).");
        tokio::spawn(async move {
            match told.await {
                Ok(Some(url)) => println!("Meta reaches it at {url}/webhook ({} mode); `optdesk webhook connect` registers that with Meta.", mode.as_str()),
                Ok(None) => println!("No public address yet: set public_url (manual mode) or `optdesk config set webhook_mode ngrok`, then run `optdesk webhook connect`."),
                Err(_) => {}
            }
        });
        if let Some((client, s)) = scheduler {
            tokio::spawn(schedule::run(db.clone(), client, s, stopping.clone()));
        }
        let shutdown = async move {
            let _ = tokio::signal::ctrl_c().await;
            stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        };
        receiver::serve(config, shutdown).await
    })?;
    Ok(Done::Ok)
}

pub fn inbox(mut ctx: Ctx, cmd: InboxCmd) -> CliResult {
    match cmd {
        InboxCmd::List { json } => {
            let failed = process::failed(&ctx.store)?;
            if json {
                out::json(&failed)?;
            } else if failed.is_empty() {
                println!("Every webhook received has been processed.");
            } else {
                for f in &failed {
                    println!(
                        "#{} received {} ({} attempts): {}",
                        f.id, f.received_at, f.attempts, f.error
                    );
                }
            }
            Ok(Done::Ok)
        }
        InboxCmd::Retry => {
            let n = process::retry_failed(&mut ctx.store)?;
            let p = Processor::from_settings(&ctx.store)?;
            let r = process::process_pending(&mut ctx.store, &p)?;
            println!(
                "Retried {n}: {} processed, {} still failing.",
                r.processed, r.failed
            );
            Ok(if r.failed > 0 { Done::Failed } else { Done::Ok })
        }
    }
}

pub fn keywords(ctx: Ctx, cmd: KeywordsCmd) -> CliResult {
    let p = Processor::from_settings(&ctx.store)?;
    print_verdict(&p.rules, cmd)
}

/// `keywords test` where there is no database yet: the built-in words, and no database (or
/// keyring entry) is made for it.
pub fn keywords_built_in(cmd: KeywordsCmd) -> CliResult {
    print_verdict(&optdesk_core::keywords::Rules::default(), cmd)
}

fn print_verdict(rules: &optdesk_core::keywords::Rules, cmd: KeywordsCmd) -> CliResult {
    let KeywordsCmd::Test { text, json } = cmd;
    let v = rules.classify(&text);
    if json {
        out::json(&v)?;
    } else {
        match &v.matched {
            Some(m) => println!("{} (\"{m}\": {})", v.class.as_str(), v.rule),
            None => println!("{} ({})", v.class.as_str(), v.rule),
        }
    }
    Ok(Done::Ok)
}
