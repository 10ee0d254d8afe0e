//! `optdesk config …`

use std::collections::BTreeMap;

use optdesk_core::settings;

use super::Ctx;
use crate::args::ConfigCmd;
use crate::{out, CliResult, Done};

pub fn run(ctx: Ctx, cmd: ConfigCmd) -> CliResult {
    let conn = &ctx.store;
    match cmd {
        ConfigCmd::Get { key } => match settings::get(conn, &key)? {
            Some(v) => println!("{v}"),
            None => {
                eprintln!("optdesk: {key} is not set");
                return Ok(Done::Failed);
            }
        },
        ConfigCmd::Set { key, value } => {
            let stored = settings::set(conn, &key, &value)?;
            println!("{key} = {stored}");
        }
        ConfigCmd::Unset { key } => {
            settings::unset(conn, &key)?;
            println!("{key} is back to its default");
        }
        ConfigCmd::List { json } => {
            let mut all = BTreeMap::new();
            for k in settings::KEYS {
                all.insert(k.name, settings::get(conn, k.name)?);
            }
            if json {
                out::json(&all)?;
            } else {
                for k in settings::KEYS {
                    let v = all[k.name].as_deref().unwrap_or("(not set)");
                    println!("{:<22} {v:<24} {}", k.name, k.help);
                }
            }
        }
    }
    Ok(Done::Ok)
}
