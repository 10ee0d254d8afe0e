//! The brake's reaction time (issue #16): `cargo run --release -p optdesk-core --example
//! brake_reaction [RECIPIENTS]`.
//!
//! A marketing broadcast at 1,000 sends/s against the fake Graph API, past its canary (200, a
//! 1 s wait). Delivery statuses are marked as the receiver would (every 50 ms); once 3,000 are
//! claimed, opt-outs from delivered recipients are committed to the ledger one by one, as the
//! receiver applies STOPs, until their share crosses the brake's 2%. Measured: from the commit of
//! the opt-out that crossed it to the broadcast's last send (its recipient's last update). The
//! webhook-to-ledger part is the receiver's opt-out latency, measured by `receiver_load`.

#[path = "support/sample.rs"]
mod sample;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use optdesk_core::broadcast::{self, engine, NewBroadcast};
use optdesk_core::consent::{self, Change};
use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::secrets::Secret;
use optdesk_core::store::{Database, DbKey};
use optdesk_core::whatsapp::{Client, GraphConfig, Template};
use optdesk_core::{settings, templates, time, ConsentState, SourceKind, Topic};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::new(
        dir.path().join("bench.sqlite3"),
        DbKey::generate().expect("key"),
    );
    let mut store = db.open().expect("db");
    for (k, v) in [
        ("frequency_cap_hours", "0"),
        ("quiet_hours", "off"),
        ("brake_canary_max", "200"),
        ("brake_wait", "1s"),
    ] {
        settings::set(store.conn(), k, v).expect("setting");
    }
    let opts = Options {
        region: Some(Region::parse("GB").expect("GB")),
        actor: "bench".into(),
        ..Default::default()
    };
    import_bytes(&mut store, sample::contacts_csv(n).as_bytes(), &opts).expect("import");
    let fake = FakeGraph::start();
    let t = FakeTemplate::approved("promo", "en_GB", "MARKETING", 0);
    fake.state().add_template(t.clone());
    templates::sync(
        &mut store,
        &[Template {
            id: "1".into(),
            name: t.name,
            language: t.language,
            status: t.status,
            category: t.category,
            components: t.components,
            parameter_format: None,
            quality_score: None,
            rejected_reason: None,
        }],
    )
    .expect("sync");
    let id = broadcast::create(
        &mut store,
        &NewBroadcast {
            name: None,
            template: "promo".into(),
            language: "en_GB".into(),
            params: Default::default(),
            slots: Default::default(),
            tags: vec![],
            override_reason: None,
        },
    )
    .expect("create");
    let client = Arc::new(
        Client::new(
            GraphConfig {
                base_url: fake.url.clone(),
                version: "v25.0".into(),
                phone_number_id: Some(PHONE_NUMBER_ID.into()),
                waba_id: Some(WABA_ID.into()),
            },
            Secret::new(TOKEN),
        )
        .expect("client"),
    );
    let engine_db = db.clone();
    let sender = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(engine::run(
            &engine_db,
            client,
            id,
            engine::Options::owner(1000.0, engine::Drain::NotRelay),
            Arc::new(AtomicBool::new(false)),
            |_, _| {},
        ))
    });
    let count = |store: &optdesk_core::Store, sql: &str| -> i64 {
        store
            .conn()
            .query_row(sql, [id], |r| r.get(0))
            .expect("count")
    };
    let deliver = |store: &optdesk_core::Store| {
        store
            .conn()
            .execute(
                "UPDATE broadcast_recipients SET delivery_status = 'delivered', delivered_at = ?2
                 WHERE broadcast_id = ?1 AND state = 'sent' AND delivered_at IS NULL",
                rusqlite::params![id, time::to_db(&time::now())],
            )
            .expect("deliver");
    };
    let started = Instant::now();
    while count(
        &store,
        "SELECT count(*) FROM broadcast_recipients WHERE broadcast_id = ?1 AND attempts > 0",
    ) < 3000
    {
        deliver(&store);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the broadcast never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    deliver(&store);
    // Opt-outs from delivered recipients (after the canary), one transaction each.
    let phones: Vec<String> = store
        .conn()
        .prepare(
            "SELECT c.phone FROM broadcast_recipients r JOIN contacts c ON c.id = r.contact_id
             WHERE r.broadcast_id = ?1 AND r.delivered_at IS NOT NULL ORDER BY r.contact_id DESC",
        )
        .expect("phones")
        .query_map([id], |r| r.get(0))
        .expect("phones")
        .collect::<Result<_, _>>()
        .expect("phones");
    let mut crossed = None;
    for (i, p) in phones.iter().enumerate() {
        consent::set(
            &mut store,
            &Change {
                phone: p.clone(),
                topic: Topic::Marketing,
                state: ConsentState::OptedOut,
                source_kind: SourceKind::Keyword,
                source_detail: Some("STOP".into()),
                proof: None,
                actor: "bench".into(),
                occurred_at: Some(time::now()),
            },
        )
        .expect("opt-out");
        let delivered = count(
            &store,
            "SELECT count(delivered_at) FROM broadcast_recipients WHERE broadcast_id = ?1",
        );
        if (i + 1) as f64 >= 0.02 * delivered as f64 && i + 1 >= 3 {
            crossed = Some(time::now());
            break;
        }
        deliver(&store);
    }
    crossed.expect("enough opt-outs to cross 2%");
    let outcome = sender.join().expect("engine thread").expect("engine");
    // The opt-out that crossed it: the brake's own count when it tripped, in ledger order.
    let k: i64 = store
        .conn()
        .query_row(
            "SELECT json_extract(figures, '$.opted_out') FROM broadcast_pauses WHERE broadcast_id = ?1 AND kind = 'brake'",
            [id],
            |r| r.get(0),
        )
        .expect("the brake tripped");
    let crossed: String = store
        .conn()
        .query_row(
            "SELECT recorded_at FROM consent_events WHERE source_kind = 'keyword' ORDER BY id LIMIT 1 OFFSET ?1",
            [k - 1],
            |r| r.get(0),
        )
        .expect("that opt-out");
    let crossed = time::from_db(&crossed).expect("time");
    let last: String = store
        .conn()
        .query_row(
            "SELECT max(updated_at) FROM broadcast_recipients WHERE broadcast_id = ?1 AND attempts > 0",
            [id],
            |r| r.get(0),
        )
        .expect("last");
    let last = time::from_db(&last).expect("time");
    let sent = count(
        &store,
        "SELECT count(*) FROM broadcast_recipients WHERE broadcast_id = ?1 AND attempts > 0",
    );
    let reaction = (last - crossed).num_milliseconds();
    println!(
        "brake reaction at 1,000 sends/s: {reaction} ms from the opt-out that crossed 2% to the last send ({sent} of {n} sent) [{}]",
        match outcome {
            engine::Outcome::Stopped { reason, .. } => reason.chars().take(80).collect::<String>(),
            o => format!("{o:?}"),
        }
    );
}
