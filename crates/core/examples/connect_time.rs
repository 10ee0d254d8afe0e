//! Benchmark: from "Connect" to "routing confirmed" against the fake Graph API, through a
//! loopback TLS front with a test CA (the tunnel's stand-in) and the real receiver, all on
//! 127.0.0.1. Each run is the whole flow: the self-test from outside (handshake and a signed
//! event into the database), the WABA subscription, the app callback set (which the fake
//! verifies over HTTPS before it answers, as Meta does) and the routing read back.
//! `cargo run --release -p optdesk-core --example connect_time [RUNS]`

use std::time::Instant;

use optdesk_core::reachability::connect::{self, Secrets};
use optdesk_core::reachability::{Choice, Outcome};
use optdesk_core::receiver::{serve_on, Config};
use optdesk_core::secrets::Secret;
use optdesk_core::settings;
use optdesk_core::store::{Database, DbKey};
use optdesk_core::whatsapp::{Client, GraphConfig};
use optdesk_fake_graph::tls::{TestCa, TlsFront};
use optdesk_fake_graph::{FakeGraph, PHONE_NUMBER_ID, TOKEN, WABA_ID};

const APP_SECRET: &str = "bench-app-secret";
const VERIFY: &str = "bench-verify";

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file).expect("ca file");
    // OptDesk's client trusts the OS store and SSL_CERT_FILE: that is how it trusts the test CA.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let fake = FakeGraph::start();
    fake.state().routing.app_secret = APP_SECRET.into();
    fake.state().routing.trusted_ca_pem = Some(ca.ca_pem.clone());
    let db = Database::new(
        dir.path().join("optdesk.sqlite3"),
        DbKey::generate().expect("key"),
    );
    {
        let store = db.open().expect("db");
        settings::set(store.conn(), "phone_number_id", PHONE_NUMBER_ID).expect("setting");
        settings::set(store.conn(), "waba_id", WABA_ID).expect("setting");
    }
    let graph = GraphConfig {
        base_url: fake.url.clone(),
        version: "v25.0".into(),
        phone_number_id: Some(PHONE_NUMBER_ID.into()),
        waba_id: Some(WABA_ID.into()),
    };
    let client = Client::new(graph, Secret::new(TOKEN)).expect("client");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The front runs its own runtime: start it (and bind the receiver's port) outside ours.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let addr = std_listener.local_addr().expect("addr");
    let front = TlsFront::start(&ca, addr, None);
    let mut times = rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let cfg = Config {
            listen: addr,
            db: db.clone(),
            app_secret: Secret::new(APP_SECRET),
            verify_token: Secret::new(VERIFY),
            client: None,
            reach: None,
            opened: None,
            changed: None,
        };
        let _lock = optdesk_core::receiver::lock(&db.path).expect("lock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_on(listener, cfg, db.open().expect("db"), async {
            let _ = stopped.await;
        }));
        let mut store = db.open().expect("db");
        let (app_secret, verify) = (Secret::new(APP_SECRET), Secret::new(VERIFY));
        let secrets = Secrets {
            app_secret: &app_secret,
            verify_token: &verify,
        };
        let mut times = Vec::new();
        for i in 0..runs {
            if i > 0 {
                // Start each run from a WABA with no callback, as a new shop does.
                connect::disconnect(&mut store, &client, &app_secret)
                    .await
                    .expect("disconnect");
            }
            let t = Instant::now();
            match connect::connect(&mut store, &client, &secrets, &front.url, Choice::Ask)
                .await
                .expect("connect")
            {
                Outcome::Connected(r) => assert!(r.routing.confirmed(), "routing confirmed"),
                Outcome::NeedsChoice { why, .. } => panic!("unexpected: {why}"),
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = stop.send(());
        let _ = server.await;
        times
    });
    drop(front);
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    println!(
        "connect → routing confirmed, {runs} runs against the fake on loopback: median {median:.1} ms, min {:.1} ms, max {:.1} ms",
        times[0],
        times[times.len() - 1]
    );
}
