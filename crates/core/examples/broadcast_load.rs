//! Broadcast benchmarks (issue #5): `cargo run --release -p optdesk-core --example
//! broadcast_load [RECIPIENTS] [PACED_RATE] [PACED_SECONDS]`.
//!
//! 1. Preview of the whole audience (default 100,000 contacts).
//! 2. Sending to all of it at full speed against the fake Graph API on loopback (rate limit off),
//!    every state change committed.
//! 3. A paced broadcast at PACED_RATE (default 50/s) for PACED_SECONDS (default 60): how close
//!    the achieved rate stays to it.

#[path = "support/sample.rs"]
mod sample;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use optdesk_core::broadcast::{self, engine, NewBroadcast};
use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::secrets::Secret;
use optdesk_core::store::DbKey;
use optdesk_core::whatsapp::{Client, GraphConfig, Template};
use optdesk_core::{settings, templates};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let paced_rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50.0);
    let paced_secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60.0);

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.sqlite3");
    let fake = FakeGraph::start();
    let t = FakeTemplate::approved("promo", "en_GB", "MARKETING", 0);
    fake.state().add_template(t.clone());
    let db = optdesk_core::store::Database::new(db, DbKey::generate().expect("key"));
    let mut store = db.open().expect("db");
    // Raw throughput: no frequency cap, no quiet hours (benchmarks run at any hour) and no
    // brake (its canary waits for replies; its reaction time is measured on its own).
    for (k, v) in [
        ("frequency_cap_hours", "0"),
        ("quiet_hours", "off"),
        ("brake", "off"),
    ] {
        settings::set(store.conn(), k, v).expect("setting");
    }
    let opts = Options {
        region: Some(Region::parse("GB").expect("GB")),
        actor: "bench".into(),
        ..Default::default()
    };
    import_bytes(&mut store, sample::contacts_csv(n).as_bytes(), &opts).expect("import");
    // The paced audience: the first contacts, tagged.
    let paced_n = (paced_rate * paced_secs) as i64;
    store
        .conn()
        .execute(
            "INSERT INTO contact_tags SELECT id, 'paced' FROM contacts ORDER BY id LIMIT ?1",
            [paced_n],
        )
        .expect("tag");
    let remote = Template {
        id: "1".into(),
        name: t.name,
        language: t.language,
        status: t.status,
        category: t.category,
        components: t.components,
        parameter_format: None,
        quality_score: None,
        rejected_reason: None,
    };
    templates::sync(&mut store, &[remote]).expect("sync");
    let new = |tags: Vec<String>| NewBroadcast {
        name: None,
        template: "promo".into(),
        language: "en_GB".into(),
        params: Default::default(),
        slots: Default::default(),
        tags,
        override_reason: None,
    };
    let all = broadcast::create(&mut store, &new(vec![])).expect("create");

    let mut times = Vec::new();
    let mut preview = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        preview = Some(broadcast::preview(&store, all).expect("preview"));
        times.push(t0.elapsed());
    }
    times.sort();
    let p = preview.expect("ran");
    println!(
        "preview of {} contacts ({} will receive it, {} excluded): median {:?}",
        p.audience, p.will_receive, p.excluded, times[2]
    );

    // The same preview with a rate card loaded: the cost of every recipient, by market.
    optdesk_core::pricing::import(
        &mut store,
        b"Market,Countries,Marketing,Utility\nUnited Kingdom,,0.0529,0.0220\nSpain,,0.0615,0.0200\nOther,,0.0604,0.0077\n",
        "benchmark card",
        "2026-10-01",
    )
    .expect("rate card");
    let mut times = Vec::new();
    let mut priced = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        priced = Some(broadcast::preview(&store, all).expect("preview"));
        times.push(t0.elapsed());
    }
    times.sort();
    let cost = priced.and_then(|p| p.cost).expect("priced");
    println!(
        "preview with the cost estimate ({:.2} {} over {} markets): median {:?}",
        cost.total,
        cost.currency,
        cost.by_market.len(),
        times[2]
    );

    let cfg = GraphConfig {
        base_url: fake.url.clone(),
        version: "v25.0".into(),
        phone_number_id: Some(PHONE_NUMBER_ID.into()),
        waba_id: Some(WABA_ID.into()),
    };
    let client = Arc::new(Client::new(cfg, Secret::new(TOKEN)).expect("client"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let stop = Arc::new(AtomicBool::new(false));

    let t0 = Instant::now();
    let out = rt
        .block_on(engine::run(
            &db,
            client.clone(),
            all,
            engine::Options::owner(100_000.0, engine::Drain::NotRelay),
            stop.clone(),
            |_, _| {},
        ))
        .expect("send");
    let secs = t0.elapsed().as_secs_f64();
    let c = broadcast::counts(store.conn(), all).expect("counts");
    println!("full speed (no pacing): {} sent, {} blocked in {secs:.1} s = {:.0} messages/s (every state change committed) [{out:?}]",
             c.sent, c.blocked, c.sent as f64 / secs);
    assert_eq!(
        fake.state().accepted.len() as u64,
        c.sent,
        "every accepted send recorded"
    );

    if paced_secs > 0.0 {
        let paced = broadcast::create(&mut store, &new(vec!["paced".into()])).expect("create");
        let allowed = broadcast::preview(&store, paced)
            .expect("preview")
            .will_receive;
        let t0 = Instant::now();
        rt.block_on(engine::run(
            &db,
            client,
            paced,
            engine::Options::owner(paced_rate, engine::Drain::NotRelay),
            stop,
            |_, _| {},
        ))
        .expect("send");
        let secs = t0.elapsed().as_secs_f64();
        let achieved = allowed as f64 / secs;
        println!("paced at {paced_rate}/s: {allowed} sent in {secs:.1} s = {achieved:.2}/s ({:+.1}% of the configured rate)",
                 (achieved / paced_rate - 1.0) * 100.0);
    }
}
