//! Results benchmark (issue #16): `cargo run --release -p optdesk-core --example
//! broadcast_results [RECIPIENTS]` — a delivered broadcast of 100,000 recipients with three
//! status events each (sent, delivered, read) and 2% opting out after it, then the results
//! with every opt-out attributed, timed.

#[path = "support/sample.rs"]
mod sample;

use std::time::Instant;

use optdesk_core::broadcast::{self, results, NewBroadcast};
use optdesk_core::consent::{self, Change};
use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::store::{Database, DbKey};
use optdesk_core::whatsapp::Template;
use optdesk_core::{settings, templates, time, ConsentState, SourceKind, Topic};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::new(
        dir.path().join("bench.sqlite3"),
        DbKey::generate().expect("key"),
    );
    let mut store = db.open().expect("db");
    settings::set(store.conn(), "frequency_cap_hours", "0").expect("setting");
    let opts = Options {
        region: Some(Region::parse("GB").expect("GB")),
        actor: "bench".into(),
        ..Default::default()
    };
    import_bytes(&mut store, sample::contacts_csv(n).as_bytes(), &opts).expect("import");
    templates::sync(
        &mut store,
        &[Template {
            id: "1".into(),
            name: "promo".into(),
            language: "en_GB".into(),
            status: "APPROVED".into(),
            category: "MARKETING".into(),
            components: vec![
                serde_json::json!({"type": "BODY", "text": "Offers this week"}),
                serde_json::json!({"type": "FOOTER", "text": "Reply STOP to unsubscribe"}),
            ],
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
    let t0 = time::now() - chrono::Duration::hours(5);
    let delivered = time::to_db(&t0);
    // What the engine and the status webhooks leave behind, written directly.
    store
        .with_tx(|tx| {
            tx.execute(
                "INSERT INTO broadcast_recipients (broadcast_id, contact_id, state, wamid, delivery_status, delivered_at, attempts, updated_at)
                 SELECT ?1, id, 'sent', 'wamid.B' || id, 'read', ?2, 1, ?2 FROM contacts",
                rusqlite::params![id, delivered],
            )?;
            for status in ["sent", "delivered", "read"] {
                tx.execute(
                    "INSERT INTO message_statuses (wamid, status, recipient, occurred_at, received_at)
                     SELECT 'wamid.B' || id, ?1, substr(phone, 2), ?2, ?2 FROM contacts",
                    rusqlite::params![status, delivered],
                )?;
            }
            Ok(())
        })
        .expect("recipients");
    let phones: Vec<String> = store
        .conn()
        .prepare("SELECT phone FROM contacts WHERE id % 50 = 0")
        .expect("phones")
        .query_map([], |r| r.get(0))
        .expect("phones")
        .collect::<Result<_, _>>()
        .expect("phones");
    for p in &phones {
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
                occurred_at: Some(t0 + chrono::Duration::minutes(20)),
            },
        )
        .expect("opt-out");
    }
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        last = Some(results::results(store.conn(), id).expect("results"));
        times.push(t.elapsed());
    }
    times.sort();
    let t = Instant::now();
    let a = results::attributed(store.conn(), id, chrono::Duration::hours(72)).expect("attributed");
    println!(
        "  of which attributing {} opt-outs: {:?}",
        a.len(),
        t.elapsed()
    );
    let r = last.expect("ran");
    assert_eq!(r.opt_outs.len(), phones.len(), "every opt-out attributed");
    println!(
        "broadcast results: {} recipients, {} status events, {} opt-outs attributed: median {:?} (min {:?})",
        r.recipients,
        r.recipients * 3,
        r.opt_outs.len(),
        times[2],
        times[0]
    );
}
