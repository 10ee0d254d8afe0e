//! Relay intake benchmark (issue #13): `cargo run --release -p optdesk-relay --example intake
//! [BODIES] [CONCURRENCY]`. Real HTTP on 127.0.0.1: CONCURRENCY clients post BODIES signed
//! webhook bodies (a customer's message with its contact, ~1 KB, as Meta sends them) to one
//! mailbox; each 200 comes only after its body is sealed and fsync'd (synchronous = FULL, commits
//! grouped). Prints bodies per second and the latency of the 200.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use optdesk_relay::server::{self, Limits};
use optdesk_relay::store;
use optdesk_relay::wire::{self, SealKey};
use sha2::Sha256;

fn body(i: usize) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Customer {i}"}},"wa_id":"4477{i:08}"}}],"messages":[{{"from":"4477{i:08}","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA{i:08}","timestamp":"1749416383","type":"text","text":{{"body":"Hello, is the shop open on Sunday? I would like to order a cake for my daughter's birthday, chocolate if you have it. Thanks!"}}}}]}},"field":"messages"}}]}}]}}"#
    )
    .into_bytes()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let dir = tempfile::tempdir().unwrap();
    let conn = store::open(dir.path()).unwrap();
    let mb = store::add_mailbox(&conn, "bench").unwrap();
    let key = SealKey::generate();
    store::register(
        &conn,
        &mb.id,
        &wire::public_key(&key.public_hex()).unwrap(),
        &wire::sha256_hex(b"v"),
    )
    .unwrap();
    drop(conn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/m/{}/webhook",
        listener.local_addr().unwrap(),
        mb.id
    );
    let app = server::app(
        dir.path(),
        Limits {
            per_second: 0.0,
            ..Limits::default()
        },
    )
    .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..n)
            .map(|i| {
                let b = body(i);
                let s = sign("secret", &b);
                (b, s)
            })
            .collect(),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (http, url, bodies, next) = (http.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bodies.len() {
                    return lat;
                }
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("x-hub-signature-256", &bodies[i].1)
                    .body(bodies[i].0.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let took = started.elapsed();
    lat.sort();
    let stored = store::list(&store::open(dir.path()).unwrap()).unwrap()[0].pending;
    assert_eq!(stored as usize, n, "every 200 is a stored body");
    let size = std::fs::metadata(dir.path().join("relay.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("relay.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "relay intake: {n} signed bodies ({} B each) from {conc} clients in {:.2} s = {:.0} bodies/s, each sealed and fsync'd before its 200; 200 latency p50 {:.1} ms, p99 {:.1} ms; {:.0} B on disk per body",
        bodies[0].0.len(),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1e3,
        size as f64 / n as f64,
    );
}
