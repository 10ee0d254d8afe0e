//! `optdesk credentials …`: secrets into the keyring (never from arguments), their status, and a
//! connection test that says exactly what is wrong.

use std::io::{BufRead, IsTerminal};

use serde::Serialize;

use optdesk_core::secrets::{EnvOverlay, KeyringStore, Secret, SecretKind, SecretStore};
use optdesk_core::settings;
use optdesk_core::whatsapp::{ClientError, ErrorClass, PhoneNumberInfo};

use super::{block_on, client, Ctx, Error};
use crate::args::CredentialsCmd;
use crate::{out, CliResult, Done};

pub fn run(mut ctx: Ctx, cmd: CredentialsCmd) -> CliResult {
    match cmd {
        CredentialsCmd::Set {
            access_token,
            app_secret,
            verify_token,
            ngrok,
            relay,
        } => {
            let chosen: Vec<SecretKind> = [
                (access_token, SecretKind::AccessToken),
                (app_secret, SecretKind::AppSecret),
                (verify_token, SecretKind::VerifyToken),
                (ngrok, SecretKind::NgrokAuthtoken),
                (relay, SecretKind::RelayPullSecret),
            ]
            .into_iter()
            .filter_map(|(on, k)| on.then_some(k))
            .collect();
            let kinds = if chosen.is_empty() {
                SecretKind::ALL.to_vec()
            } else {
                chosen
            };
            set(&kinds)
        }
        CredentialsCmd::Status { json } => status(json),
        CredentialsCmd::Test { json } => test(&mut ctx, json),
    }
}

fn set(kinds: &[SecretKind]) -> CliResult {
    let keyring = KeyringStore::new();
    let interactive = std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    for kind in kinds {
        let value = if interactive {
            rpassword::prompt_password(format!(
                "{} (input hidden; Enter keeps the current one): ",
                kind.label()
            ))?
        } else {
            lines.next().transpose()?.unwrap_or_default()
        };
        let value = value.trim();
        if value.is_empty() {
            println!("{}: unchanged", kind.label());
            continue;
        }
        keyring.set(*kind, &Secret::new(value))?;
        println!("{}: saved in the system keyring", kind.label());
        if EnvOverlay::<KeyringStore>::from_env(*kind) {
            println!(
                "  note: {} is set in the environment and takes precedence over the keyring",
                kind.env_var()
            );
        }
    }
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct SecretStatus {
    secret: SecretKind,
    /// "keyring", "environment" or "not set".
    source: &'static str,
}

fn status(json: bool) -> CliResult {
    let keyring = KeyringStore::new();
    let mut all = Vec::new();
    for kind in SecretKind::ALL {
        let source = if EnvOverlay::<KeyringStore>::from_env(kind) {
            "environment"
        } else if keyring.get(kind)?.is_some() {
            "keyring"
        } else {
            "not set"
        };
        all.push(SecretStatus {
            secret: kind,
            source,
        });
    }
    if json {
        out::json(&all)?;
    } else {
        for s in &all {
            let where_ = match s.source {
                "environment" => format!("set (from {})", s.secret.env_var()),
                "keyring" => "saved in the system keyring".to_string(),
                _ => "not set — `optdesk credentials set`".to_string(),
            };
            println!("{:<22} {where_}", s.secret.label());
        }
    }
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct TestReport {
    phone: PhoneNumberInfo,
    templates_reachable: bool,
    business_name: Option<String>,
    business_number: Option<String>,
}

fn explain(e: ClientError, what: &str, setting: &str) -> Error {
    match (&e, e.class()) {
        (ClientError::Graph { error, .. }, Some(ErrorClass::BadRequest)) if error.code == 100 => {
            Error::Core(optdesk_core::Error::invalid(format!(
                "WhatsApp does not know the {what}, or this token's system user has no access to it: \
                 compare `optdesk config get {setting}` with Meta's App Dashboard → WhatsApp → API \
                 Setup, and assign the WhatsApp account to the system user (code {}{})",
                error.code,
                error.error_subcode.map(|s| format!(", subcode {s}")).unwrap_or_default()
            )))
        }
        _ => Error::Client(e),
    }
}

fn test(ctx: &mut Ctx, json: bool) -> CliResult {
    let c = client(ctx)?;
    let info = block_on(c.phone_number_info())?
        .map_err(|e| explain(e, "phone number id", "phone_number_id"))?;
    block_on(c.template_page(1, None))?
        .map_err(|e| explain(e, "WhatsApp Business Account id", "waba_id"))?;

    let conn = &ctx.store;
    // The same as the app keeps: the name, the number and its messaging limit.
    if let Some(why) = settings::remember_phone_info(conn, &info)? {
        if !json {
            println!("note: could not read WhatsApp's display number ({why}); set it with `optdesk config set business_number`");
        }
    }
    let report = TestReport {
        templates_reachable: true,
        business_name: settings::get(conn, "business_name")?,
        business_number: settings::get(conn, "business_number")?,
        phone: info,
    };
    if json {
        out::json(&report)?;
    } else {
        let p = &report.phone;
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        println!("Connected to WhatsApp.");
        println!("  verified name:   {}", or(&p.verified_name));
        println!("  number:          {}", or(&p.display_phone_number));
        println!("  quality rating:  {}", or(&p.quality_rating));
        println!(
            "  messaging limit: {}",
            or(&p.whatsapp_business_manager_messaging_limit)
        );
        println!(
            "  throughput:      {}",
            or(&p.throughput.as_ref().and_then(|t| t.level.clone()))
        );
        println!("  templates:       reachable");
    }
    Ok(Done::Ok)
}
