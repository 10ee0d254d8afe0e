//! The desktop app's figures (scripts/bench runs it with the release build):
//! `OPTDESK_APP_BIN=target/release/optdesk-app xvfb-run -a cargo run --release -p optdesk-e2e
//! --example app_bench -- 100000`.
//!
//! - time to interactive: from asking WebKitWebDriver for the window (it starts the app) to the
//!   Contacts screen's `data-ready`, with the contacts loaded; median of 5 launches;
//! - resident memory of `optdesk-app`, and of its WebKit processes, with them loaded;
//! - scrolling the whole table: frame times while it scrolls 400 px a frame, 95th percentile;
//! - searching them: from typing to the filtered count on screen.

#[path = "../../crates/core/examples/support/sample.rs"]
mod sample;

use std::time::Duration;

use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::store::{Database, DbKey};
use optdesk_e2e::app;
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    if let Some(why) = app::unavailable() {
        eprintln!("app_bench: {why}");
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DbKey::generate().expect("key");
    let db = Database::new(dir.path().join("optdesk.sqlite3"), key.clone());
    let count = {
        let mut store = db.open().expect("db");
        let opts = Options {
            region: Some(Region::parse("GB").expect("GB")),
            actor: "bench".into(),
            file_name: "bench.csv".into(),
            ..Default::default()
        };
        let r =
            import_bytes(&mut store, sample::contacts_csv(n).as_bytes(), &opts).expect("import");
        println!("database: {} contacts", r.added);
        r.added as usize
    };
    let home = dir.path().to_string_lossy().into_owned();
    let env: Vec<(String, String)> = vec![
        ("OPTDESK_DB".into(), db.path.to_string_lossy().into_owned()),
        ("OPTDESK_DB_KEY".into(), key.recovery_code()),
        ("HOME".into(), home.clone()),
        ("XDG_DATA_HOME".into(), home),
    ];
    let mut ready = Vec::new();
    let mut last = None;
    for i in 0..5 {
        drop(last.take());
        let launched =
            app::launch(&env, &dir.path().join(format!("driver{i}.log"))).expect("launch");
        launched
            .session
            .wait_text("[data-testid=count]", Duration::from_secs(30), |t| {
                t.replace([',', '\u{a0}', ' '], "")
                    .starts_with(&format!("{count}of"))
            })
            .expect("all contacts shown");
        ready.push(launched.ready_after);
        last = Some(launched);
    }
    let launched = last.expect("launched");
    let s = &launched.session;
    println!(
        "time to interactive (median of 5): {:.3} s  (all: {ready:.3?})",
        median(ready.clone())
    );
    let marks = s
        .script(
            "const at = (n) => (performance.getEntriesByName(n)[0] || {}).startTime;
             return [at('contacts-requested'), at('contacts-received'), at('contacts-ready')];",
            json!([]),
        )
        .expect("marks");
    let at = |i: usize| marks[i].as_f64().unwrap_or(f64::NAN);
    println!(
        "  in the page (ms since it started loading): list requested {:.0}, received {:.0}, shown {:.0}",
        at(0),
        at(1),
        at(2)
    );
    std::thread::sleep(Duration::from_secs(2));
    let r = app::resident_kib();
    let mb = |k: u64| k as f64 / 1024.0;
    println!(
        "resident: optdesk-app {:.1} MB (its own anonymous memory {:.1} MB), WebKit processes {:.1} MB",
        mb(r.app),
        mb(r.app_anon),
        mb(r.webkit)
    );

    let frames = s
        .script_async(
            "const done = arguments[arguments.length - 1];
             const el = document.querySelector('[data-testid=scroller]');
             const times = []; let last = performance.now(); let n = 0;
             function step(now) {
               times.push(now - last); last = now; el.scrollTop += 400; n++;
               if (n < 300) requestAnimationFrame(step); else done(times.slice(1));
             }
             requestAnimationFrame(step);",
            json!([]),
        )
        .expect("scroll");
    let mut t: Vec<f64> = frames
        .as_array()
        .expect("times")
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    println!(
        "scroll: {} frames, p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        t.len(),
        t[t.len() / 2],
        t[t.len() * 95 / 100],
        t[t.len() - 1]
    );

    let mut searches = Vec::new();
    for q in ["customer 4", "7911 1", "zzz", "smith", ""] {
        let ms = s
            .script_async(
                "const done = arguments[arguments.length - 1];
                 const input = document.querySelector('[data-testid=search]');
                 const count = document.querySelector('[data-testid=count]');
                 const before = count.textContent; const t0 = performance.now();
                 input.value = arguments[0];
                 input.dispatchEvent(new Event('input', {bubbles: true}));
                 requestAnimationFrame(() => done(performance.now() - t0));",
                json!([q]),
            )
            .expect("search");
        searches.push(ms.as_f64().unwrap_or(f64::NAN));
    }
    println!("search (typing to the next frame, 5 queries): median {:.1} ms, max {:.1} ms  (all: {searches:.1?})", median(searches.clone()), searches.iter().cloned().fold(0.0, f64::max));
}
