//! OptDesk's desktop shell: builds the core's [`Core`] once, manages it, and exposes thin
//! commands (validate, call the core, map the error) grouped by area in `commands/`. Long work —
//! imports, broadcasts, template sync — runs off the UI thread and streams progress as events.
//! Secrets go in through `secret_set` and never come back out.
// Unsafe code only where it must be, each place allowed by name (memory.rs).
#![deny(unsafe_code)]

mod commands;
mod error;
mod memory;
mod receiver;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use optdesk_core::broadcast::{engine, schedule};
use optdesk_core::Core;
use tauri::{Emitter, Manager};

pub use error::{AppError, AppResult, Kind};

/// What every command can reach: the core, the receiver if running, the broadcasts being sent.
pub struct Desk {
    pub core: Arc<Core>,
    pub receiver: receiver::Slot,
    pub sending: Mutex<HashMap<i64, Arc<AtomicBool>>>,
}

impl Desk {
    pub fn new(core: Core) -> Desk {
        Desk {
            core: Arc::new(core),
            receiver: receiver::Slot::default(),
            sending: Mutex::new(HashMap::new()),
        }
    }
}

/// The app with its commands and state, on any runtime (tests use Tauri's mock runtime).
pub fn builder<R: tauri::Runtime>(base: tauri::Builder<R>, desk: Desk) -> tauri::Builder<R> {
    base.manage(desk).invoke_handler(commands::handler())
}

/// Why the window cannot open here, on Linux and the BSDs, where a window needs an X11 or
/// Wayland display named by the environment.
fn no_display() -> Option<&'static str> {
    let unix_desktop = cfg!(all(unix, not(target_os = "macos"), not(target_os = "ios")));
    let named = |v: &str| std::env::var_os(v).is_some_and(|d| !d.is_empty());
    (unix_desktop && !named("DISPLAY") && !named("WAYLAND_DISPLAY")).then_some(
        "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set). Start it from the \
         desktop, or on a server use the `optdesk` command instead (`optdesk serve`, `optdesk \
         broadcast send`…)",
    )
}

pub fn run() {
    // Without a display GTK panics with a backtrace; say it in a sentence instead.
    if let Some(why) = no_display() {
        eprintln!("OptDesk cannot start: {why}");
        std::process::exit(1);
    }
    let actor = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .map_or_else(|_| "app".to_string(), |u| format!("app:{u}"));
    let core = match Core::open_default(&actor) {
        Ok(c) => c,
        Err(e) => {
            // No window can help here: say it where a person starting the app will look.
            eprintln!("OptDesk cannot start: {e}");
            std::process::exit(1);
        }
    };
    let desk = Desk::new(core);
    let daily = desk.core.database().clone();
    builder(tauri::Builder::default(), desk)
        .setup(move |app| {
            // The receiver the owner left on starts with the app (a closed app's opt-outs wait
            // at Meta, which retries; the banner on Opt-outs says since when).
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let desk = handle.state::<Desk>();
                let port = optdesk_core::settings::value::<u16>(&*desk.core.store(), "receiver_port")
                    .ok()
                    .flatten();
                if let Some(port) = port {
                    let tell = receiver::tell_window(&handle);
                    if let Err(e) = desk.receiver.start(&desk.core, port, tell).await {
                        eprintln!(
                            "OptDesk: the webhook receiver did not start on port {port}: {e}"
                        );
                    }
                }
            });
            // Scheduled broadcasts start at their time while the window is open, and marketing
            // paused for quiet hours resumes in the morning; each run's end reaches the window.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let desk = handle.state::<Desk>();
                let Ok(client) = desk.core.client() else {
                    return; // not connected to WhatsApp: nothing could be sent anyway
                };
                let drain = match engine::Drain::from_settings(
                    &desk.core.store(),
                    desk.core.secrets(),
                ) {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("OptDesk: scheduled broadcasts cannot start: {e}");
                        return;
                    }
                };
                let db = desk.core.database().clone();
                let told = handle.clone();
                let s = schedule::Scheduler {
                    every: std::time::Duration::from_secs(5),
                    clock: optdesk_core::time::Clock::system(),
                    drain,
                    report: Arc::new(move |id, r| {
                        let _ = told.emit(
                            "broadcast-scheduled-run",
                            serde_json::json!({"id": id, "outcome": r.as_ref().map_err(|e| e.to_string())}),
                        );
                    }),
                };
                schedule::run(db, Arc::new(client), s, Arc::new(AtomicBool::new(false))).await;
            });
            // The daily rolling backup (the last 7, each after a full check of the file) and
            // the daily check run beside the window, never in its way.
            std::thread::spawn(move || loop {
                if let Err(e) = optdesk_core::backup::rolling(&daily, 7) {
                    eprintln!("OptDesk: the daily backup failed: {e}");
                }
                let day = optdesk_core::store::integrity::DAY;
                match optdesk_core::store::integrity::check_if_stale(&daily, day) {
                    Ok(v) if !v.ok => eprintln!("OptDesk: the database is damaged: {}", v.summary),
                    Ok(_) => {}
                    Err(e) => eprintln!("OptDesk: the database check did not run: {e}"),
                }
                std::thread::sleep(std::time::Duration::from_secs(60 * 60));
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .unwrap_or_else(|e| {
            eprintln!("OptDesk's window failed: {e}");
            std::process::exit(1);
        });
}

#[cfg(test)]
mod tests;
