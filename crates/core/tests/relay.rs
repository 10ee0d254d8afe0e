//! The desktop's side of the relay mailbox against a real relay on 127.0.0.1: pulls land in the
//! inbox and the ledger once, whatever dies when, and nothing the relay could do unseen (alter,
//! forge) reaches the ledger.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::model::Topic::Marketing;
use optdesk_core::relay::client::RelayClient;
use optdesk_core::relay::pull::{self, Puller};
use optdesk_core::relay::{drain, state, Access, SealKey};
use optdesk_core::secrets::Secret;
use optdesk_core::store::Database;
use optdesk_core::{contacts, settings};
use optdesk_relay::server::{self, Limits};
use optdesk_relay::store as relay_store;
use serde_json::json;
use sha2::Sha256;

const APP_SECRET: &str = "test-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
const ANA: &str = "447911123456";
const BEN: &str = "447911123457";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn stop(from: &str, id: &str) -> Vec<u8> {
    let now = optdesk_core::time::now().timestamp().to_string();
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "x"}, "wa_id": from}],
                  "messages": [{"from": from, "id": id, "timestamp": now, "type": "text", "text": {"body": "STOP"}}]}}]}]})
    .to_string()
    .into_bytes()
}

struct Env {
    d: common::Db,
    relay_dir: tempfile::TempDir,
    mailbox: relay_store::Created,
    url: String,
    key: Arc<SealKey>,
    http: reqwest::Client,
}

async fn env() -> Env {
    let mut d = common::db();
    settings::set(d.store.conn(), "phone_number_id", PHONE_NUMBER_ID).unwrap();
    for p in [ANA, BEN] {
        d.add(&format!("+{p}"));
        d.set(&format!("+{p}"), Marketing, OptedIn);
    }
    let relay_dir = tempfile::tempdir().unwrap();
    let mailbox =
        relay_store::add_mailbox(&relay_store::open(relay_dir.path()).unwrap(), "Bakery").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = server::app(relay_dir.path(), Limits::default()).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let e = Env {
        d,
        relay_dir,
        mailbox,
        url,
        key: Arc::new(SealKey::generate()),
        http: reqwest::Client::new(),
    };
    e.client().register(&Secret::new("verify")).await.unwrap();
    e
}

impl Env {
    fn access(&self) -> Access {
        Access {
            base: format!("{}/m/{}", self.url, self.mailbox.id),
            pull_secret: Secret::new(self.mailbox.pull_secret.clone()),
            key: self.key.clone(),
            consumer: "test desk".into(),
        }
    }

    fn client(&self) -> RelayClient {
        RelayClient::new(self.access()).unwrap()
    }

    fn puller(&self) -> Puller {
        Puller::new(self.client(), Secret::new(APP_SECRET))
    }

    fn shared(&self) -> pull::Shared {
        Arc::new(Mutex::new(self.db().open().unwrap()))
    }

    fn db(&self) -> Database {
        Database::new(self.d.path(), common::key())
    }

    async fn post(&self, body: &[u8], sig: &str) -> u16 {
        self.http
            .post(format!("{}/m/{}/webhook", self.url, self.mailbox.id))
            .header("x-hub-signature-256", sig)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    fn marketing(&self, phone: &str) -> Option<optdesk_core::ConsentState> {
        contacts::require(self.d.store.conn(), &format!("+{phone}"))
            .unwrap()
            .marketing
    }

    fn stop_events(&self, phone: &str) -> i64 {
        self.d
            .store
            .conn()
            .query_row(
                "SELECT count(*) FROM consent_events e JOIN contacts c ON c.id = e.contact_id
             WHERE c.phone = ?1 AND e.subject = 'marketing' AND e.state = 'opted_out'",
                [format!("+{phone}")],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn relay_pending(&self) -> i64 {
        relay_store::list(&relay_store::open(self.relay_dir.path()).unwrap()).unwrap()[0].pending
    }
}

#[tokio::test]
async fn a_stop_kept_by_the_relay_reaches_the_ledger_once_even_when_pulled_twice() {
    let e = env().await;
    let body = stop(ANA, "wamid.STOP1");
    assert_eq!(e.post(&body, &sign(&body)).await, 200);
    // The relay replays it (or Meta delivered it twice): two bodies, one STOP.
    assert_eq!(e.post(&body, &sign(&body)).await, 200);
    let store = e.shared();
    let p = e.puller();
    let pulled = pull::pull_once(&p, &store, 0).await.unwrap();
    assert_eq!((pulled.stored, pulled.refused), (2, 0), "{pulled:?}");
    pull::process_inbox(&store).await.unwrap();
    assert_eq!(e.marketing(ANA), Some(OptedOut));
    assert_eq!(e.stop_events(ANA), 1);
    assert_eq!(e.marketing(BEN), Some(OptedIn));
    assert_eq!(e.relay_pending(), 0, "acknowledged after the commit");
}

#[tokio::test]
async fn a_desktop_killed_between_its_commit_and_its_acknowledgement_stores_nothing_twice() {
    let e = env().await;
    for i in 0..3 {
        let body = stop(ANA, &format!("wamid.K{i}"));
        assert_eq!(e.post(&body, &sign(&body)).await, 200);
    }
    let store = e.shared();
    // The commit happens; the process dies before it acknowledges.
    let first = pull::fetch_and_store(&e.puller(), &store, 0).await.unwrap();
    assert_eq!(first.stored, 3);
    assert_eq!(e.relay_pending(), 3, "not acknowledged");
    // The next process starts from the committed cursor and acknowledges what is behind it.
    let again = pull::pull_once(&e.puller(), &store, 0).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 0));
    assert_eq!(e.relay_pending(), 0);
    // Even a cursor lost with the rest of the database (a restore) stores nothing twice.
    let mailbox = e.access().base;
    e.d.raw("UPDATE relay_state SET cursor = 0");
    let body = stop(BEN, "wamid.K9");
    e.post(&body, &sign(&body)).await;
    let after = pull::pull_once(&e.puller(), &store, 0).await.unwrap();
    assert_eq!(after.stored, 1);
    let rows: i64 =
        e.d.store
            .conn()
            .query_row(
                "SELECT count(*) FROM inbox WHERE relay_mailbox = ?1",
                [&mailbox],
                |r| r.get(0),
            )
            .unwrap();
    assert_eq!(rows, 4);
}

#[tokio::test]
async fn a_body_the_relay_altered_or_a_forgery_it_kept_is_refused_and_counted() {
    let e = env().await;
    // Without the app secret the relay keeps a forgery; the desktop refuses it.
    let forged = stop(ANA, "wamid.FORGED");
    assert_eq!(
        e.post(&forged, &format!("sha256={}", "ab".repeat(32)))
            .await,
        200
    );
    // A relay that seals an altered body (it has the desktop's public key) is caught too.
    let good = stop(BEN, "wamid.REAL");
    let altered = String::from_utf8(good.clone())
        .unwrap()
        .replace(BEN, ANA)
        .into_bytes();
    let public = optdesk_relay::wire::public_key(&e.key.public_hex()).unwrap();
    relay_store::insert(
        &mut relay_store::open(e.relay_dir.path()).unwrap(),
        &[relay_store::Incoming {
            mailbox: e.mailbox.id.clone(),
            received_at: relay_store::now_ms(),
            sealed: optdesk_relay::wire::seal(&public, &sign(&good), &altered),
        }],
    )
    .unwrap();
    // And a genuine STOP in the same pull still applies.
    assert_eq!(e.post(&good, &sign(&good)).await, 200);
    let store = e.shared();
    let pulled = pull::pull_once(&e.puller(), &store, 0).await.unwrap();
    assert_eq!((pulled.stored, pulled.refused), (1, 2), "{pulled:?}");
    pull::process_inbox(&store).await.unwrap();
    assert_eq!(
        e.marketing(ANA),
        Some(OptedIn),
        "neither the forgery nor the altered body opted Ana out"
    );
    assert_eq!(e.marketing(BEN), Some(OptedOut));
    let s = state::load(e.d.store.conn()).unwrap();
    assert_eq!(s.refused, 2);
    assert!(s.refused_at.is_some());
    assert_eq!(
        e.relay_pending(),
        0,
        "refused bodies are acknowledged too: they will never be good"
    );
}

#[tokio::test]
async fn a_drain_applies_what_the_mailbox_held_and_keeps_pulling_while_the_broadcast_runs() {
    let e = env().await;
    let body = stop(ANA, "wamid.NIGHT");
    e.post(&body, &sign(&body)).await;
    let plan = drain::Plan {
        access: e.access(),
        app_secret: Some(Secret::new(APP_SECRET)),
        timeout: Duration::from_secs(10),
        replies: None,
    };
    let (drained, session) = drain::drain(&e.db(), &plan).await.unwrap();
    assert!(drained.pulled_here, "no receiver runs, so the sender pulls");
    assert!(drained.target > 0);
    assert_eq!(
        e.marketing(ANA),
        Some(OptedOut),
        "in the ledger before the first claim"
    );
    let session = session.expect("the sender goes on pulling");
    // While it holds the receiver lock, nobody else can start one.
    assert!(optdesk_core::receiver::lock(&e.d.path()).is_err());
    // A STOP that reaches the relay during the broadcast is applied too.
    let later = stop(BEN, "wamid.DURING");
    e.post(&later, &sign(&later)).await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while e.marketing(BEN) != Some(OptedOut) {
        assert!(
            std::time::Instant::now() < until,
            "the STOP sent during the broadcast was not applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    session.end().await;
    assert!(
        optdesk_core::receiver::lock(&e.d.path()).is_ok(),
        "the lock is released at the end"
    );
}

#[tokio::test]
async fn a_drain_waits_for_the_receiver_that_holds_the_lock_and_refuses_on_timeout() {
    let e = env().await;
    let body = stop(ANA, "wamid.WAIT");
    e.post(&body, &sign(&body)).await;
    let _receiver = optdesk_core::receiver::lock(&e.d.path()).unwrap(); // someone else receives…
    let plan = drain::Plan {
        access: e.access(),
        app_secret: None,
        timeout: Duration::from_millis(600),
        replies: None,
    };
    let err = drain::drain(&e.db(), &plan)
        .await
        .err()
        .expect("…but never pulls");
    assert!(err.to_string().contains("--without-relay"), "{err}");
    assert_eq!(e.marketing(ANA), Some(OptedIn));
    // When that receiver pulls, the drain finishes.
    let db = e.db();
    let puller = e.puller();
    let pulling = tokio::spawn(async move {
        let store: pull::Shared = Arc::new(Mutex::new(db.open().unwrap()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        pull::pull_once(&puller, &store, 0).await.unwrap();
        pull::process_inbox(&store).await.unwrap();
    });
    let plan = drain::Plan {
        timeout: Duration::from_secs(10),
        ..plan
    };
    let (drained, session) = drain::drain(&e.db(), &plan).await.unwrap();
    assert!(!drained.pulled_here && session.is_none());
    pulling.await.unwrap();
    assert_eq!(e.marketing(ANA), Some(OptedOut));
}

#[tokio::test]
async fn an_unreachable_relay_stops_the_broadcast_from_starting() {
    let e = env().await;
    let mut access = e.access();
    access.base = "http://127.0.0.1:9/m/0123456789abcdef0123456789abcdef".into();
    let plan = drain::Plan {
        access,
        app_secret: Some(Secret::new(APP_SECRET)),
        timeout: Duration::from_secs(5),
        replies: None,
    };
    let err = drain::drain(&e.db(), &plan)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("cannot be reached") && err.contains("does not start"),
        "{err}"
    );
}
