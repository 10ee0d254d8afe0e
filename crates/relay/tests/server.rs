//! The relay over real HTTP on 127.0.0.1: what Meta, a desktop and a stranger each get.

use std::time::Duration;

use hmac::{Hmac, Mac};
use optdesk_relay::server::{self, Limits};
use optdesk_relay::store;
use optdesk_relay::wire::{self, Events, SealKey};
use sha2::Sha256;

const APP_SECRET: &str = "test-app-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Relay {
    url: String,
    dir: tempfile::TempDir,
    mailbox: store::Created,
    http: reqwest::Client,
}

async fn relay(limits: Limits) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = store::add_mailbox(&store::open(dir.path()).unwrap(), "Bakery").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = server::app(dir.path(), limits).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Relay {
        url,
        dir,
        mailbox,
        http: reqwest::Client::new(),
    }
}

impl Relay {
    fn hook(&self) -> String {
        format!("{}/m/{}/webhook", self.url, self.mailbox.id)
    }

    async fn post(&self, body: &[u8], sig: Option<&str>) -> u16 {
        let mut rb = self.http.post(self.hook()).body(body.to_vec());
        if let Some(s) = sig {
            rb = rb.header("x-hub-signature-256", s);
        }
        rb.send().await.unwrap().status().as_u16()
    }

    fn desk(
        &self,
        method: reqwest::Method,
        path: &str,
        secret: &str,
        consumer: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/m/{}/{path}", self.url, self.mailbox.id))
            .bearer_auth(secret)
            .header(wire::CONSUMER_HEADER, consumer)
    }

    async fn register(&self, key: &SealKey) {
        let r = self
            .desk(
                reqwest::Method::POST,
                "key",
                &self.mailbox.pull_secret,
                "desk",
            )
            .json(&wire::Register {
                public_key: key.public_hex(),
                verify_token_sha256: wire::sha256_hex(b"desk-verify"),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn events(&self, after: i64, wait: u64) -> (u16, Option<Events>) {
        let r = self
            .desk(
                reqwest::Method::GET,
                &format!("events?after={after}&wait={wait}"),
                &self.mailbox.pull_secret,
                "desk",
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.ok())
    }
}

fn open(key: &SealKey, e: &wire::Event) -> (String, Vec<u8>) {
    use base64::Engine;
    key.open(
        &base64::engine::general_purpose::STANDARD
            .decode(&e.sealed)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn metas_handshake_uses_the_token_the_desktop_registered() {
    let r = relay(Limits::default()).await;
    let get = |token: &str| {
        let url = format!(
            "{}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1234",
            r.hook()
        );
        let http = r.http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(
        get(&r.mailbox.verify_token).await,
        (200, "1234".into()),
        "the printed token works until a desktop registers"
    );
    assert_eq!(get("wrong").await.0, 403);
    r.register(&SealKey::generate()).await;
    assert_eq!(get("desk-verify").await, (200, "1234".into()));
    assert_eq!(get(&r.mailbox.verify_token).await.0, 403);
    let other = format!(
        "{}/m/{}/webhook?hub.mode=subscribe&hub.verify_token=desk-verify&hub.challenge=1",
        r.url,
        "0".repeat(32)
    );
    assert_eq!(r.http.get(other).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_body_is_kept_sealed_byte_for_byte_until_acknowledged() {
    let r = relay(Limits::default()).await;
    let body = br#"{"entry":[{"changes":[{"value":{"messages":[{"text":{"body":"stop \ud83d\ude4f"}}]}}]}]}"#;
    assert_eq!(
        r.post(body, Some(&sign(body))).await,
        503,
        "nothing is stored before a desktop gives its key"
    );
    let key = SealKey::generate();
    r.register(&key).await;
    let raw = "{\"text\":\"stop 🙏\"}".as_bytes();
    assert_eq!(r.post(body, Some(&sign(body))).await, 200);
    assert_eq!(r.post(raw, Some(&sign(raw))).await, 200);
    let (status, events) = r.events(0, 0).await;
    let events = events.unwrap();
    assert_eq!(status, 200);
    assert_eq!(events.events.len(), 2);
    assert_eq!(events.newest, events.events[1].seq);
    assert_eq!(open(&key, &events.events[0]), (sign(body), body.to_vec()));
    assert_eq!(open(&key, &events.events[1]), (sign(raw), raw.to_vec()));
    // What is on the relay's disk cannot be read.
    let disk = std::fs::read(r.dir.path().join("relay.db")).unwrap_or_default();
    let wal = std::fs::read(r.dir.path().join("relay.db-wal")).unwrap_or_default();
    for bytes in [disk, wal] {
        assert!(
            !bytes.windows(4).any(|w| w == b"stop"),
            "a body is on disk in the clear"
        );
    }
    let ack = r
        .desk(reqwest::Method::POST, "ack", &r.mailbox.pull_secret, "desk")
        .json(&wire::Ack {
            upto: events.events[0].seq,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(
        ack.headers()[wire::NEWEST_HEADER].to_str().unwrap(),
        events.newest.to_string()
    );
    let left = r.events(0, 0).await.1.unwrap();
    assert_eq!(left.events.len(), 1);
    assert_eq!(
        left.newest, events.newest,
        "the newest cursor outlives acknowledgement"
    );
}

#[tokio::test]
async fn unsigned_oversized_and_misaddressed_posts_store_nothing() {
    let r = relay(Limits::default()).await;
    r.register(&SealKey::generate()).await;
    let body = br#"{"entry":[]}"#;
    assert_eq!(r.post(body, None).await, 401);
    assert_eq!(r.post(body, Some("sha256=zz")).await, 401);
    assert_eq!(r.post(body, Some("sha1=abc")).await, 401);
    let huge = vec![b' '; wire::MAX_BODY + 1];
    assert_eq!(r.post(&huge, Some(&sign(&huge))).await, 413);
    let elsewhere = format!("{}/m/{}/webhook", r.url, "f".repeat(32));
    let s = r
        .http
        .post(elsewhere)
        .header("x-hub-signature-256", sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 404);
    let s = r
        .http
        .post(format!("{}/m/not-hex/webhook", r.url))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 404);
    let events = r.events(0, 0).await.1.unwrap();
    assert_eq!((events.events.len(), events.newest), (0, 0));
}

#[tokio::test]
async fn a_wrong_pull_secret_gets_nothing_and_a_second_desktop_waits_for_the_lease() {
    let r = relay(Limits::default()).await;
    let key = SealKey::generate();
    r.register(&key).await;
    let body = br#"{"x":1}"#;
    assert_eq!(r.post(body, Some(&sign(body))).await, 200);
    let wrong = r
        .desk(reqwest::Method::GET, "events", "not-the-secret", "desk")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("sealed"));
    let bare = r
        .http
        .get(format!("{}/m/{}/events", r.url, r.mailbox.id))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(r.events(0, 0).await.0, 200, "desk takes the lease");
    let other = r
        .desk(
            reqwest::Method::GET,
            "events",
            &r.mailbox.pull_secret,
            "another-desk",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);
    assert!(other.text().await.unwrap().contains("another OptDesk"));
    // A rotated secret stops the old one (within the relay's 2 s cache).
    let new = store::rotate(&store::open(r.dir.path()).unwrap(), "Bakery").unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(r.events(0, 0).await.0, 401);
    let fresh = r
        .desk(reqwest::Method::GET, "events", &new, "another-desk")
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200, "rotating releases the lease");
}

#[tokio::test]
async fn with_the_app_secret_the_relay_refuses_forgeries_itself() {
    let r = relay(Limits::default()).await;
    r.register(&SealKey::generate()).await;
    store::set_app_secret(
        &store::open(r.dir.path()).unwrap(),
        "Bakery",
        Some(APP_SECRET),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await; // the mailbox cache
    let body = br#"{"x":1}"#;
    let forged = format!("sha256={}", "0".repeat(64));
    assert_eq!(r.post(body, Some(&forged)).await, 401);
    assert_eq!(r.post(body, Some(&sign(body))).await, 200);
    assert_eq!(r.events(0, 0).await.1.unwrap().events.len(), 1);
}

#[tokio::test]
async fn over_its_quota_a_mailbox_tells_meta_to_retry_later() {
    let r = relay(Limits {
        per_second: 0.5,
        burst: 2.0,
        ..Limits::default()
    })
    .await;
    r.register(&SealKey::generate()).await;
    let body = br#"{"x":1}"#;
    assert_eq!(r.post(body, Some(&sign(body))).await, 200);
    assert_eq!(r.post(body, Some(&sign(body))).await, 200);
    let third = r
        .http
        .post(r.hook())
        .header("x-hub-signature-256", sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 503);
    assert!(third.headers().contains_key("retry-after"));
    let full = relay(Limits {
        max_pending_bytes: 1,
        ..Limits::default()
    })
    .await;
    full.register(&SealKey::generate()).await;
    assert_eq!(
        full.post(body, Some(&sign(body))).await,
        200,
        "the first fits"
    );
    assert_eq!(
        full.post(body, Some(&sign(body))).await,
        503,
        "then the mailbox is full"
    );
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_body_arrives() {
    let r = relay(Limits::default()).await;
    r.register(&SealKey::generate()).await;
    let started = std::time::Instant::now();
    let poll = r.events(0, 20);
    let body = br#"{"x":1}"#;
    let post = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        r.post(body, Some(&sign(body))).await
    };
    let ((status, events), posted) = tokio::join!(poll, post);
    assert_eq!((status, posted), (200, 200));
    assert_eq!(events.unwrap().events.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the poll waited for its whole timeout"
    );
}

#[tokio::test]
async fn metrics_need_the_admin_secret() {
    let r = relay(Limits::default()).await;
    let m = format!("{}/metrics", r.url);
    assert_eq!(r.http.get(&m).send().await.unwrap().status(), 403);
    let secret = store::rotate_admin(&store::open(r.dir.path()).unwrap()).unwrap();
    assert_eq!(
        r.http
            .get(&m)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    r.register(&SealKey::generate()).await;
    let body = br#"{"x":1}"#;
    r.post(body, None).await;
    r.post(body, Some(&sign(body))).await;
    let text = r
        .http
        .get(&m)
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("optdesk_relay_stored_total{mailbox=\"Bakery\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("optdesk_relay_pending{mailbox=\"Bakery\"} 1"),
        "{text}"
    );
    assert!(text.contains("reason=\"unsigned\"} 1"), "{text}");
    assert!(
        text.contains("optdesk_relay_oldest_pending_age_seconds"),
        "{text}"
    );
    assert_eq!(
        r.http
            .get(format!("{}/healthz", r.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
