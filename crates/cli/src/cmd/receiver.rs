//! `optdesk serve`, `optdesk inbox …`, `optdesk keywords test`.

use std::net::SocketAddr;

use serde::Serialize;

use optdesk_core::receiver::{self, Config};
use optdesk_core::secrets::{system_store, SecretKind, SecretStore};
use optdesk_core::webhook::process::{self, Processor};

use super::{block_on, client, Ctx, Error};
use crate::args::{InboxCmd, KeywordsCmd};
use crate::{out, CliResult, Done};

fn required(kind: SecretKind) -> Result<optdesk_core::secrets::Secret, Error> {
    system_store().get(kind)?.ok_or_else(|| {
        Error::Core(optdesk_core::Error::invalid(format!(
            "no {} is saved; run `optdesk credentials set` (or set {} on a server)",
            kind.label(),
            kind.env_var()
        )))
    })
}

pub fn serve(ctx: Ctx, listen: SocketAddr) -> CliResult {
    ctx.store.quick_check()?;
    let app_secret = required(SecretKind::AppSecret)?;
    let verify_token = required(SecretKind::VerifyToken)?;
    let client = match client(&ctx) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("optdesk: confirmations cannot be sent until WhatsApp is connected: {e}");
            None
        }
    };
    let db = ctx.store.database();
    drop(ctx);
    let config = Config {
        listen,
        db,
        app_secret,
        verify_token,
        client,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        println!("Listening for WhatsApp webhooks on http://{listen}/webhook (Ctrl-C to stop).");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        receiver::serve(config, shutdown).await
    })?;
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct Failed {
    id: i64,
    received_at: String,
    attempts: i64,
    error: String,
}

pub fn inbox(mut ctx: Ctx, cmd: InboxCmd) -> CliResult {
    match cmd {
        InboxCmd::List { json } => {
            let failed: Vec<Failed> = ctx
                .store
                .conn()
                .prepare("SELECT id, received_at, attempts, error FROM inbox WHERE error IS NOT NULL AND processed_at IS NULL ORDER BY id")
                .map_err(optdesk_core::Error::from)?
                .query_map([], |r| Ok(Failed { id: r.get(0)?, received_at: r.get(1)?, attempts: r.get(2)?, error: r.get(3)? }))
                .map_err(optdesk_core::Error::from)?
                .collect::<Result<_, _>>()
                .map_err(optdesk_core::Error::from)?;
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
            let p = Processor::from_settings(ctx.store.conn())?;
            let r = process::process_pending(&mut ctx.store, &p)?;
            println!(
                "Retried {n}: {} processed, {} still failing.",
                r.processed, r.failed
            );
            Ok(if r.failed > 0 { Done::Failed } else { Done::Ok })
        }
    }
}

/// Posts a signed event that the processor ignores (an unknown field), then looks for it in
/// the inbox: proof that Meta's path — public URL, tunnel, receiver, database — works.
pub fn webhook_test(ctx: Ctx, url: Option<String>) -> CliResult {
    use optdesk_core::settings;
    let Some(public) = url.or(settings::get(ctx.store.conn(), "public_url")?) else {
        return Err(Error::Core(optdesk_core::Error::invalid(
            "no public_url is set: set the HTTPS address Meta calls with `optdesk config set public_url https://…`",
        )));
    };
    let app_secret = required(SecretKind::AppSecret)?;
    // Only needs to be unique enough to find this event again.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let nonce = format!("optdesk-test-{nanos:x}-{:x}", std::process::id());
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"0","changes":[{{"field":"optdesk_test","value":{{"nonce":"{nonce}"}}}}]}}]}}"#
    );
    let signature = optdesk_core::webhook::sign(&app_secret, body.as_bytes());
    let url = format!("{}/webhook", public.trim_end_matches('/'));
    let status = block_on(reqwest_post(&url, &signature, body.clone()))?;
    match status {
        Err(e) => {
            eprintln!("optdesk: could not reach {url}: {e}. Is the tunnel or proxy running, and is public_url right?");
            return Ok(Done::Failed);
        }
        Ok(code) if code != 200 => {
            let hint = match code {
                401 => "the receiver refused the signature: its app secret differs from this one",
                404 => "the URL does not lead to OptDesk's /webhook",
                502..=504 => "the tunnel or proxy is up but the receiver behind it is not running (`optdesk serve`)",
                _ => "something between Meta and OptDesk answered instead of the receiver",
            };
            eprintln!("optdesk: {url} answered HTTP {code}: {hint}");
            return Ok(Done::Failed);
        }
        Ok(_) => {}
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let found: i64 = ctx
            .store
            .conn()
            .query_row(
                "SELECT count(*) FROM inbox WHERE instr(CAST(body AS TEXT), ?1) > 0",
                [&nonce],
                |r| r.get(0),
            )
            .map_err(optdesk_core::Error::from)?;
        if found > 0 {
            println!("The test event went through {url} and reached the receiver: Meta's webhooks will too.");
            return Ok(Done::Ok);
        }
        if std::time::Instant::now() > until {
            eprintln!("optdesk: {url} answered 200 but the event is not in this database: the receiver there uses another database (check OPTDESK_DB / --db)");
            return Ok(Done::Failed);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

async fn reqwest_post(url: &str, signature: &str, body: String) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.without_url().to_string())
}

pub fn keywords(ctx: Ctx, cmd: KeywordsCmd) -> CliResult {
    let KeywordsCmd::Test { text, json } = cmd;
    let p = Processor::from_settings(ctx.store.conn())?;
    let v = p.rules.classify(&text);
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
