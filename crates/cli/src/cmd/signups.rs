//! `optdesk signups …`

use optdesk_core::{settings, signup, Topic};

use super::Ctx;
use crate::args::SignupsCmd;
use crate::{out, CliResult, Done};

pub fn run(mut ctx: Ctx, cmd: SignupsCmd) -> CliResult {
    match cmd {
        SignupsCmd::Create {
            label,
            topic,
            text,
            qr,
            poster,
            json,
        } => {
            let topic: Topic = topic.parse()?;
            let source = signup::create(&mut ctx.store, &label, topic, text.as_deref())?;
            if let Some(path) = &qr {
                signup::write_qr_png(&source.link, path)?;
            }
            if let Some(path) = &poster {
                let name = settings::get(&ctx.store, "business_name")?.unwrap_or_default();
                signup::write_poster_pdf(&name, &source.label, &source.link, path)?;
            }
            if json {
                out::json(&source)?;
            } else {
                println!("{}", source.link);
                eprintln!(
                    "Code #{} ({}), prefilled: {:?}",
                    source.code, source.label, source.text
                );
                if let Some(p) = qr {
                    eprintln!("QR code: {}", p.display());
                }
                if let Some(p) = poster {
                    eprintln!("Poster: {}", p.display());
                }
            }
            Ok(Done::Ok)
        }
        SignupsCmd::List { json } => {
            let all = signup::list(&ctx.store)?;
            if json {
                out::json(&all)?;
            } else if all.is_empty() {
                println!(
                    "No sign-up codes yet: `optdesk signup create --label Till --qr till.png`."
                );
            } else {
                for s in &all {
                    println!(
                        "#{} {} ({}): {} opt-in(s){}",
                        s.code,
                        s.label,
                        s.topic,
                        s.opt_ins,
                        if s.retired { " — retired" } else { "" }
                    );
                    println!("    {}", s.link);
                }
            }
            Ok(Done::Ok)
        }
        SignupsCmd::Retire { code } => {
            signup::retire(&mut ctx.store, &code)?;
            println!(
                "Code #{} retired: messages carrying it now go to review.",
                code.trim_start_matches('#').to_ascii_uppercase()
            );
            Ok(Done::Ok)
        }
    }
}
