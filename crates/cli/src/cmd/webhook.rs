//! `optdesk webhook connect | status | disconnect | test`: formatting over the core's
//! reachability module.

use std::time::Duration;

use optdesk_core::reachability::{self, connect::Secrets, Choice, Outcome, Routing};
use optdesk_core::receiver::{self, Config};
use optdesk_core::secrets::{system_store, SecretKind, SecretStore};
use optdesk_core::settings;

use super::receiver::required;
use super::{block_on, client, Ctx, Error};
use crate::args::WebhookCmd;
use crate::{out, CliResult, Done};

pub fn run(ctx: Ctx, cmd: WebhookCmd) -> CliResult {
    match cmd {
        WebhookCmd::Connect {
            replace,
            number_only,
            listen,
            relay,
            json,
        } => {
            if let Some(hook) = relay {
                use_relay(&ctx, &hook)?;
            }
            let choice = match (replace, number_only) {
                (true, _) => Choice::Replace,
                (_, true) => Choice::NumberOnly,
                _ => Choice::Ask,
            };
            connect(ctx, choice, listen, json)
        }
        WebhookCmd::Status { json } => status(ctx, json),
        WebhookCmd::Disconnect => disconnect(ctx),
        WebhookCmd::Test { url } => test(ctx, url),
    }
}

fn fail(msg: impl Into<String>) -> Error {
    Error::Core(optdesk_core::Error::invalid(msg.into()))
}

fn print_routing(r: &Routing) {
    for route in r.routes() {
        match (&route.reaches_optdesk, &route.note) {
            (true, _) => println!("  ✓ {} reach OptDesk", route.label),
            (false, Some(n)) => println!("  ✗ {} do not reach OptDesk: {n}", route.label),
            (false, None) => println!("  ✗ {} do not reach OptDesk", route.label),
        }
    }
}

/// `--relay HOOK_URL`: receive through that mailbox from now on.
fn use_relay(ctx: &Ctx, hook: &str) -> Result<(), Error> {
    let base = optdesk_core::relay::mailbox_base(hook)?;
    if system_store().get(SecretKind::RelayPullSecret)?.is_none() {
        return Err(fail(
            "save the mailbox's pull secret first (`optdesk relay mailbox add` printed it): `optdesk credentials set --relay`",
        ));
    }
    settings::set(&ctx.store, "relay_url", &base)?;
    settings::set(&ctx.store, "webhook_mode", "relay")?;
    Ok(())
}

fn connect(
    mut ctx: Ctx,
    choice: Choice,
    listen: Option<std::net::SocketAddr>,
    json: bool,
) -> CliResult {
    let app_secret = required(SecretKind::AppSecret)?;
    let verify_token = required(SecretKind::VerifyToken)?;
    let client = client(&ctx)?;
    let db = ctx.store.database();
    let secrets = Secrets {
        app_secret: &app_secret,
        verify_token: &verify_token,
    };
    // One process owns the endpoint: the one holding the receiver lock.
    let (outcome, ran_here) = match receiver::lock_for(
        &db.path,
        "`optdesk webhook connect`, for its checks",
    ) {
        Err(_) => {
            // The app or `optdesk serve` runs it: connect the address that process serves.
            let known = reachability::state::load(&ctx.store)?;
            let mode = settings::get(&ctx.store, "webhook_mode")?.unwrap_or_default();
            if mode == "relay" && known.endpoint_mode.as_deref() != Some("relay") {
                return Err(fail(
                    "the receiver that is running (the app or `optdesk serve`) does not pull from the relay yet; restart it, then connect again",
                ));
            }
            let url = match mode.as_str() {
                "manual" => settings::get(&ctx.store, "public_url")?,
                _ => known
                    .endpoint_url
                    .filter(|_| known.endpoint_state.as_deref() == Some("up")),
            };
            let Some(url) = url else {
                return Err(fail(format!(
                    "the receiver that is running (the app or `optdesk serve`) has no public address{}; set one (public_url, or webhook_mode ngrok) and restart it",
                    known.endpoint_state.map(|s| format!(" ({s})")).unwrap_or_default()
                )));
            };
            (
                block_on(reachability::connect::connect(
                    &mut ctx.store,
                    &client,
                    &secrets,
                    &url,
                    choice,
                ))??,
                false,
            )
        }
        Ok(lock) => {
            let listen = match listen {
                Some(l) => l,
                None => {
                    let port = settings::value::<u16>(&ctx.store, "receiver_port")?
                        .unwrap_or(settings::USUAL_PORT);
                    ([127, 0, 0, 1], port).into()
                }
            };
            let reach = reachability::endpoint::from_settings(&ctx.store, &system_store())?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let outcome = rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| fail(format!("cannot listen on {listen} for the checks ({e}); pass --listen with a free address")))?;
                let (opened, told) = tokio::sync::oneshot::channel();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let config = Config {
                    listen,
                    db: db.clone(),
                    app_secret: app_secret.clone(),
                    verify_token: verify_token.clone(),
                    client: Some(client.clone()),
                    reach: Some(reach),
                    opened: Some(opened),
                    changed: None,
                };
                let inbox = db.open()?;
                let server = tokio::spawn(receiver::serve_on(listener, config, inbox, async {
                    let _ = stopped.await;
                }));
                let url = match told.await {
                    Ok(u) => u,
                    // The receiver ended before opening: its error says why.
                    Err(_) => {
                        return Err(match server.await {
                            Ok(Err(e)) => Error::Core(e),
                            _ => fail("the receiver stopped before it could be reached"),
                        })
                    }
                };
                let Some(url) = url else {
                    let _ = stop.send(());
                    let _ = server.await;
                    return Err(fail(
                        "no public address: in manual mode set the HTTPS address that leads to this PC (`optdesk config set public_url https://…`), or let OptDesk run a tunnel (`optdesk config set webhook_mode ngrok` and `optdesk credentials set --ngrok`)",
                    ));
                };
                let result = reachability::connect::connect(&mut ctx.store, &client, &secrets, &url, choice).await;
                let _ = stop.send(());
                let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
                Ok::<_, Error>(result?)
            })?;
            drop(lock);
            (outcome, true)
        }
    };
    match outcome {
        Outcome::NeedsChoice { current, why } => {
            if json {
                out::json(&Outcome::NeedsChoice { current, why })?;
                return Ok(Done::Failed);
            }
            Err(fail(format!(
                "{why}. Nothing was changed: run again with --replace to make OptDesk the app's callback, or with --number-only to route only this number's messages here"
            )))
        }
        Outcome::Connected(report) => {
            let asked = reachability::state::record_test_asked(&ctx.store)?;
            if json {
                out::json(&report)?;
            } else {
                let level = match report.level {
                    reachability::state::Level::App => "the app's callback",
                    reachability::state::Level::Number => "this number's override",
                };
                println!(
                    "Connected in {:.1} s: Meta sends webhooks to {} ({level}).",
                    report.took_ms as f64 / 1000.0,
                    report.callback_url
                );
                print_routing(&report.routing);
                for w in &report.warnings {
                    println!("Note: {w}");
                }
                println!("Last step: send \"test\" from your own phone to the business number; `optdesk webhook status` shows when it arrived (asked at {asked}).");
                if ran_here {
                    println!("Reception continues only while the app or `optdesk serve` runs.");
                }
            }
            // Done when customers' messages (where STOP arrives) reach OptDesk; what else goes
            // elsewhere was said above.
            Ok(if report.routing.messages.reaches_optdesk {
                Done::Ok
            } else {
                Done::Failed
            })
        }
    }
}

fn status(mut ctx: Ctx, json: bool) -> CliResult {
    let client = client(&ctx).ok();
    let secret = system_store().get(SecretKind::AppSecret).ok().flatten();
    let live = client.as_ref().zip(secret.as_ref());
    let s = block_on(reachability::status::status(&mut ctx.store, live))??;
    if json {
        out::json(&s)?;
        return Ok(Done::Ok);
    }
    if let Some(d) = &s.drift {
        println!("! {d}");
    }
    println!(
        "{}",
        if s.confirmed {
            "Receiving opt-outs: the routing is confirmed."
        } else {
            "Not receiving opt-outs: the routing is not confirmed."
        }
    );
    println!("Mode: {}", s.mode.as_str());
    println!(
        "Public address: {}{}",
        s.endpoint_url.as_deref().unwrap_or("none"),
        s.endpoint_state
            .as_deref()
            .map(|st| format!(" ({st})"))
            .unwrap_or_default()
    );
    if let Some(q) = s.tunnel_monthly_quota {
        println!(
            "Tunnel requests this month: {} of {q}",
            s.tunnel_requests_this_month
        );
    }
    if let Some(w) = &s.quota_warning {
        println!("! {w}");
    }
    if let Some(r) = &s.relay {
        println!(
            "Relay mailbox: last collected {}; {} waiting there",
            r.last_pull_at.as_deref().unwrap_or("never"),
            r.waiting
        );
        if let (Some(since), Some(e)) = (&r.failing_since, &r.error) {
            println!("! The relay has not been reached since {since}: {e}");
        }
        if r.refused > 0 {
            println!(
                "! {} bodies from the relay were refused: their Meta signature did not match (forged, or altered); last at {}",
                r.refused,
                r.refused_at.as_deref().unwrap_or("?")
            );
        }
        println!("  {}", r.trust);
    }
    match (&s.routing, s.routing_live) {
        (Some(r), live) => {
            println!(
                "Routing{}:",
                if live {
                    " (read from Meta now)"
                } else {
                    " (as OptDesk left it; Meta could not be asked now)"
                }
            );
            println!(
                "  messages go to {}",
                r.messages.url.as_deref().unwrap_or("nowhere")
            );
            println!(
                "  user_preferences go to {}",
                r.user_preferences.url.as_deref().unwrap_or("nowhere")
            );
            println!(
                "  template events go to {}",
                r.templates.url.as_deref().unwrap_or("nowhere")
            );
            print_routing(r);
        }
        (None, _) => println!("Routing: never connected; run `optdesk webhook connect`."),
    }
    if let Some(e) = &s.routing_error {
        println!("! Meta could not be asked: {e}");
    }
    println!(
        "Last webhook received: {}",
        s.last_webhook_at.as_deref().unwrap_or("never")
    );
    if s.test_asked_at.is_some() {
        println!(
            "Test message from your phone: {}",
            if s.test_arrived {
                "arrived"
            } else {
                "not yet (send \"test\" to the business number)"
            }
        );
    }
    Ok(if s.confirmed { Done::Ok } else { Done::Failed })
}

fn disconnect(mut ctx: Ctx) -> CliResult {
    let app_secret = required(SecretKind::AppSecret)?;
    let client = client(&ctx)?;
    for line in block_on(reachability::connect::disconnect(
        &mut ctx.store,
        &client,
        &app_secret,
    ))?? {
        println!("{line}");
    }
    Ok(Done::Ok)
}

/// Posts a signed test event through the public address and looks for it in this database.
fn test(mut ctx: Ctx, url: Option<String>) -> CliResult {
    let Some(public) = url.or(settings::get(&ctx.store, "public_url")?) else {
        return Err(fail(
            "no public_url is set: set the HTTPS address Meta calls with `optdesk config set public_url https://…`",
        ));
    };
    let app_secret = required(SecretKind::AppSecret)?;
    let verify_token = required(SecretKind::VerifyToken)?;
    let t = block_on(reachability::selftest::run(
        &mut ctx.store,
        &public,
        &app_secret,
        &verify_token,
    ))??;
    if t.passed() {
        println!(
            "The test event went through {} and reached the receiver: Meta's webhooks will too.",
            t.url
        );
        Ok(Done::Ok)
    } else {
        eprintln!("optdesk: {}", t.summary());
        Ok(Done::Failed)
    }
}
