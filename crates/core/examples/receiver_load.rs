//! Load benchmark for the webhook receiver (issue #4): `cargo run --release -p optdesk-core
//! --example receiver_load [EVENTS]`.
//!
//! Starts the real receiver on 127.0.0.1 with a fresh database, posts EVENTS signed status
//! webhooks (default 30,000, what a 10,000-message broadcast produces) from 32 keep-alive
//! connections, and meanwhile sends a STOP for a different contact every 20 ms, timing each from
//! the start of its POST until the opt-out is visible in the ledger (polled on another
//! connection). Reports events/s and the opt-out latency percentiles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use optdesk_core::contacts;
use optdesk_core::receiver::{serve_on, Config};
use optdesk_core::secrets::Secret;
use sha2::Sha256;

const SECRET: &str = "bench-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn status(i: usize) -> String {
    let s = ["sent", "delivered", "read"][i % 3];
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"1"}},"statuses":[{{"id":"wamid.B{}","status":"{s}","timestamp":"1781604000","recipient_id":"4479{:08}"}}]}}}}]}}]}}"#,
        i / 3,
        i % 5000
    )
}

fn stop(wa: &str, i: usize) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","contacts":[{{"wa_id":"{wa}"}}],"messages":[{{"from":"{wa}","id":"wamid.STOP{i}","timestamp":"1781604000","type":"text","text":{{"body":"STOP"}}}}]}}}}]}}]}}"#
    )
}

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = optdesk_core::store::Database::new(
        dir.path().join("bench.sqlite3"),
        optdesk_core::store::DbKey::generate().expect("key"),
    );
    let stoppers = 200;
    {
        let mut store = db.open().expect("db");
        for i in 0..stoppers {
            contacts::add(&mut store, &format!("+4479110{i:05}"), "", &[]).expect("contact");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let cfg = Config {
            listen: listener.local_addr().expect("addr"),
            db: db.clone(),
            app_secret: Secret::new(SECRET),
            verify_token: Secret::new("v"),
            client: None,
            reach: None,
            opened: None,
            changed: None,
        };
        let _lock = optdesk_core::receiver::lock(&db.path).expect("lock");
        let inbox = db.open().expect("db");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_on(listener, cfg, inbox, async { let _ = stop_rx.await; }));

        let bodies: Arc<Vec<(String, String)>> =
            Arc::new((0..events).map(|i| { let b = status(i); let s = sign(b.as_bytes()); (b, s) }).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..32 {
            let (bodies, next, http, url) = (bodies.clone(), next.clone(), http.clone(), url.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, sig)) = bodies.get(i) else { break };
                    let r = http.post(&url).header("x-hub-signature-256", sig).body(body.clone()).send().await.expect("post");
                    assert_eq!(r.status(), 200);
                }
            }));
        }

        // Opt-outs while the load runs, each timed until it is in the ledger.
        let probe = tokio::spawn({
            let (http, url, db) = (http.clone(), url.clone(), db.clone());
            async move {
                let reader = optdesk_core::store::connect(&db.path, &db.key).expect("reader");
                let mut latencies = Vec::new();
                let mut i = 0;
                while i < stoppers {
                    let wa = format!("4479110{i:05}");
                    let body = stop(&wa, i);
                    let t0 = Instant::now();
                    let r = http.post(&url).header("x-hub-signature-256", sign(body.as_bytes())).body(body).send().await.expect("post");
                    assert_eq!(r.status(), 200);
                    loop {
                        let state: Option<String> = reader
                            .query_row("SELECT marketing FROM contacts WHERE phone = ?1", [format!("+{wa}")], |r| r.get(0))
                            .expect("read");
                        if state.as_deref() == Some("opted_out") {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    latencies.push(t0.elapsed());
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if next.load(Ordering::Relaxed) >= events && i >= 20 {
                        break; // measure only while the load runs
                    }
                }
                latencies
            }
        });
        for w in workers {
            w.await.expect("worker");
        }
        let elapsed = started.elapsed();
        let mut lat = probe.await.expect("probe");
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).saturating_sub(1).min(lat.len() - 1)];
        println!("{events} verified webhooks in {:.2} s: {:.0} events/s (each committed before its 200)", elapsed.as_secs_f64(), events as f64 / elapsed.as_secs_f64());
        println!("opt-out in the ledger after its webhook, under that load ({} samples): p50 {:?}, p99 {:?}, max {:?}",
                 lat.len(), pct(0.50), pct(0.99), lat[lat.len() - 1]);
        let _ = stop_tx.send(());
        let _ = server.await;
    });
}
