//! Relay drain benchmarks (issue #13): `cargo run --release -p optdesk-core --example
//! relay_drain [EVENTS]`. A real relay on 127.0.0.1 holds EVENTS (default 10,000) sealed STOPs
//! from as many contacts, as after a night with the PC off; no receiver runs, so the drain a
//! broadcast starts with pulls them, opens each, checks Meta's signature and applies them to the
//! ledger. Then the delay a drain adds to a broadcast start when the mailbox is empty.

#[path = "support/sample.rs"]
mod sample;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::relay::{drain, Access, SealKey};
use optdesk_core::secrets::Secret;
use optdesk_core::store::{Database, DbKey};
use optdesk_relay::server::{self, Limits};
use optdesk_relay::store as relay_store;
use optdesk_relay::wire;
use sha2::Sha256;

const APP_SECRET: &str = "bench-secret";

fn stop(i: usize, now: i64) -> Vec<u8> {
    let wa = format!("447700{:06}", i % 1_000_000);
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"447911123400","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"C"}},"wa_id":"{wa}"}}],"messages":[{{"from":"{wa}","id":"wamid.NIGHT{i}","timestamp":"{now}","type":"text","text":{{"body":"STOP"}}}}]}}}}]}}]}}"#
    )
    .into_bytes()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::new(dir.path().join("bench.sqlite3"), DbKey::generate().unwrap());
    let mut store = db.open().unwrap();
    optdesk_core::settings::set(store.conn(), "phone_number_id", "106540352242922").unwrap();
    let opts = Options {
        region: Some(Region::parse("GB").unwrap()),
        actor: "bench".into(),
        ..Default::default()
    };
    import_bytes(&mut store, sample::contacts_csv(n).as_bytes(), &opts).unwrap();
    drop(store);

    let relay_dir = tempfile::tempdir().unwrap();
    let mut conn = relay_store::open(relay_dir.path()).unwrap();
    let mb = relay_store::add_mailbox(&conn, "bench").unwrap();
    let key = Arc::new(SealKey::generate());
    let public = wire::public_key(&key.public_hex()).unwrap();
    relay_store::register(&conn, &mb.id, &public, &wire::sha256_hex(b"v")).unwrap();
    let now = chrono::Utc::now().timestamp();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<relay_store::Incoming> = chunk
            .iter()
            .map(|&i| {
                let b = stop(i, now);
                relay_store::Incoming {
                    mailbox: mb.id.clone(),
                    received_at: relay_store::now_ms(),
                    sealed: wire::seal(&public, &sign(&b), &b),
                }
            })
            .collect();
        relay_store::insert(&mut conn, &batch).unwrap();
    }
    drop(conn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/m/{}", listener.local_addr().unwrap(), mb.id);
    let app = server::app(relay_dir.path(), Limits::default()).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let plan = drain::Plan {
        access: Access {
            base,
            pull_secret: Secret::new(mb.pull_secret.clone()),
            key,
            consumer: "bench".into(),
        },
        app_secret: Some(Secret::new(APP_SECRET)),
        timeout: Duration::from_secs(600),
        replies: None,
    };
    let started = Instant::now();
    let (drained, session) = drain::drain(&db, &plan).await.unwrap();
    let took = started.elapsed();
    if let Some(s) = session {
        s.end().await;
    }
    let store = db.open().unwrap();
    let out: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM contacts WHERE marketing = 'opted_out'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let events: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM consent_events WHERE source_kind = 'keyword'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        events >= n as i64,
        "every STOP is in the ledger ({events} of {n})"
    );
    println!(
        "drain: {n} queued STOPs pulled, opened, signature-checked and applied to the ledger in {:.2} s ({:.0}/s; up to cursor {}; {out} contacts opted out, {events} keyword ledger events)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        drained.target
    );
    let mut delays = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let (_, session) = drain::drain(&db, &plan).await.unwrap();
        delays.push(t.elapsed());
        if let Some(s) = session {
            s.end().await;
        }
    }
    delays.sort();
    println!(
        "empty mailbox: a drain adds {:.1} ms to a broadcast start (median of 30; p95 {:.1} ms, max {:.1} ms)",
        delays[15].as_secs_f64() * 1e3,
        delays[28].as_secs_f64() * 1e3,
        delays[29].as_secs_f64() * 1e3
    );
}
