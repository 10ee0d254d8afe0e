//! The relay's HTTP side. Meta-facing: `GET|POST /m/{mailbox}/webhook`. Desktop-facing (the pull
//! secret as a Bearer token, the desktop's name in `X-OptDesk-Consumer`): `POST /m/{mailbox}/key`,
//! `GET /m/{mailbox}/events?after=&wait=&limit=` (a long poll), `POST /m/{mailbox}/ack`.
//! Operator-facing: `/healthz`, and `/metrics` behind the admin secret.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use sha2::Sha256;

use crate::intake::{self, Job};
use crate::store::{self, Incoming, Mailbox};
use crate::wire::{self, Ack, Events, Newest, Register};
use crate::Result;

mod ops;

/// What one mailbox may take, so junk posted to a leaked URL delays but never costs a real
/// STOP: over these, Meta gets 503 and retries later.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bodies per second, sustained (0: no limit).
    pub per_second: f64,
    /// Bodies at once above the sustained rate.
    pub burst: f64,
    /// Sealed bytes waiting for the desktop.
    pub max_pending_bytes: i64,
    /// Days an unacknowledged body is kept (longer than Meta's 7 days of retries).
    pub keep_days: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_second: 200.0,
            burst: 2000.0,
            max_pending_bytes: 1 << 30,
            keep_days: 30,
        }
    }
}

/// How long a desktop's pull keeps the mailbox to itself.
const LEASE_MS: i64 = 60_000;
/// The longest long poll.
const MAX_WAIT: u64 = 30;
/// A mailbox read from the database is trusted this long (a `rotate` from another process
/// takes effect within it).
const CACHE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Rejected {
    unsigned: AtomicU64,
    forged: AtomicU64,
    too_large: AtomicU64,
    over_quota: AtomicU64,
    no_key: AtomicU64,
    bad_pull_secret: AtomicU64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Shared {
    reader: Mutex<Connection>,
    writer: std::sync::mpsc::SyncSender<Job>,
    newest: tokio::sync::watch::Sender<i64>,
    cache: Mutex<HashMap<String, (Mailbox, Instant)>>,
    /// (bodies, sealed bytes) waiting, per mailbox.
    pending: Arc<Mutex<HashMap<String, (i64, i64)>>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    rejected: Mutex<HashMap<String, Arc<Rejected>>>,
    unknown_mailbox: AtomicU64,
    limits: Limits,
}

type S = State<Arc<Shared>>;

fn text(status: StatusCode, msg: &str) -> Response {
    (status, msg.to_string()).into_response()
}

impl Shared {
    fn mailbox(&self, id: &str) -> Option<Mailbox> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if let Some((m, at)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            if at.elapsed() < CACHE {
                return Some(m.clone());
            }
        }
        let found = store::get(&self.reader.lock().unwrap_or_else(|p| p.into_inner()), id)
            .map_err(|e| eprintln!("optdesk relay: reading mailbox {id}: {e}"))
            .ok()
            .flatten();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match &found {
            Some(m) => cache.insert(id.to_string(), (m.clone(), Instant::now())),
            None => cache.remove(id),
        };
        found
    }

    fn forget(&self, id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn rejected(&self, id: &str) -> Arc<Rejected> {
        self.rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Takes one body's place in the mailbox's rate, if there is one.
    fn admit(&self, id: &str) -> bool {
        let l = self.limits;
        if l.per_second <= 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(id.to_string()).or_insert(Bucket {
            tokens: l.burst.max(1.0),
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * l.per_second)
            .min(l.burst.max(1.0));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn newest_of(&self, id: &str) -> i64 {
        store::newest(&self.reader.lock().unwrap_or_else(|p| p.into_inner()), id).unwrap_or(0)
    }
}

fn with_newest(newest: i64, mut r: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&newest.to_string()) {
        r.headers_mut().insert(wire::NEWEST_HEADER, v);
    }
    r
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn handshake(
    State(s): S,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Some(m) = s.mailbox(&id) else {
        s.unknown_mailbox.fetch_add(1, Ordering::Relaxed);
        return text(StatusCode::NOT_FOUND, "no such mailbox");
    };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ok = get("hub.mode") == Some("subscribe")
        && get("hub.verify_token").is_some_and(|t| {
            wire::same(
                wire::sha256_hex(t.as_bytes()).as_bytes(),
                m.verify_hash.as_bytes(),
            )
        });
    match (ok, get("hub.challenge")) {
        (true, Some(c)) => (StatusCode::OK, c.to_string()).into_response(),
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

fn well_formed(sig: &str) -> bool {
    sig.strip_prefix("sha256=")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn signed_by(secret: &str, sig: &str, body: &[u8]) -> bool {
    let Some(mac_hex) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let (Ok(expected), Ok(mut mac)) = (
        hex::decode(mac_hex),
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()),
    ) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn intake(
    State(s): S,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Some(m) = s.mailbox(&id) else {
        s.unknown_mailbox.fetch_add(1, Ordering::Relaxed);
        return text(StatusCode::NOT_FOUND, "no such mailbox");
    };
    let rejected = s.rejected(&id);
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                rejected.too_large.fetch_add(1, Ordering::Relaxed);
            }
            return e.into_response();
        }
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if !well_formed(sig) {
        rejected.unsigned.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::UNAUTHORIZED,
            "missing or malformed X-Hub-Signature-256",
        );
    }
    if let Some(secret) = &m.app_secret {
        if !signed_by(secret, sig, &body) {
            rejected.forged.fetch_add(1, Ordering::Relaxed);
            return text(StatusCode::UNAUTHORIZED, "bad signature");
        }
    }
    let Some(key) = m.public_key else {
        rejected.no_key.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no OptDesk has registered with this mailbox yet; nothing is stored until one does",
        );
    };
    let over_bytes = s
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .is_some_and(|(_, bytes)| *bytes >= s.limits.max_pending_bytes);
    if over_bytes || !s.admit(&id) {
        rejected.over_quota.fetch_add(1, Ordering::Relaxed);
        let mut r = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "this mailbox is over its quota; retry later",
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("30"));
        return r;
    }
    let sealed = wire::seal(&key, sig, &body);
    let (done, stored) = tokio::sync::oneshot::channel();
    let job = Job {
        incoming: Incoming {
            mailbox: id,
            received_at: store::now_ms(),
            sealed,
        },
        done,
    };
    // The channel is bounded: a full one waits here, so memory stays bounded under a flood.
    let queued = match s.writer.try_send(job) {
        Ok(()) => true,
        Err(std::sync::mpsc::TrySendError::Full(job)) => {
            let writer = s.writer.clone();
            tokio::task::spawn_blocking(move || writer.send(job).is_ok())
                .await
                .unwrap_or(false)
        }
        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => false,
    };
    if !queued {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the relay is stopping");
    }
    match stored.await {
        Ok(Ok(_)) => text(StatusCode::OK, "ok"),
        // Not stored, so not acknowledged: Meta delivers it again.
        _ => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "could not store the body; retry later",
        ),
    }
}

/// The desktop's side: the right pull secret and a name, or nothing.
fn desktop(
    s: &Shared,
    id: &str,
    headers: &HeaderMap,
) -> std::result::Result<(Mailbox, String), (StatusCode, String)> {
    let Some(m) = s.mailbox(id) else {
        return Err((StatusCode::NOT_FOUND, "no such mailbox".into()));
    };
    let ok = bearer(headers).is_some_and(|given| {
        wire::same(
            wire::sha256_hex(given.as_bytes()).as_bytes(),
            m.pull_hash.as_bytes(),
        )
    });
    if !ok {
        s.rejected(id)
            .bad_pull_secret
            .fetch_add(1, Ordering::Relaxed);
        return Err((
            StatusCode::UNAUTHORIZED,
            "wrong pull secret for this mailbox".into(),
        ));
    }
    let consumer = headers
        .get(wire::CONSUMER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 200)
        .ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                "X-OptDesk-Consumer names the desktop".to_string(),
            )
        })?
        .to_string();
    let lease = store::lease(
        &s.reader.lock().unwrap_or_else(|p| p.into_inner()),
        id,
        &consumer,
        store::now_ms(),
        LEASE_MS,
    );
    match lease {
        Ok(()) => Ok((m, consumer)),
        Err(crate::Error::Busy(why)) => Err((StatusCode::CONFLICT, why)),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

async fn register(
    State(s): S,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Json(r): Json<Register>,
) -> Response {
    if let Err(e) = desktop(&s, &id, &headers) {
        return e.into_response();
    }
    let Ok(key) = wire::public_key(&r.public_key) else {
        return text(StatusCode::BAD_REQUEST, "public_key is 32 bytes of hex");
    };
    let hash = r.verify_token_sha256.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return text(
            StatusCode::BAD_REQUEST,
            "verify_token_sha256 is a SHA-256 in hex",
        );
    }
    let saved = store::register(
        &s.reader.lock().unwrap_or_else(|p| p.into_inner()),
        &id,
        &key,
        &hash,
    );
    s.forget(&id);
    match saved {
        Ok(()) => with_newest(
            s.newest_of(&id),
            Json(Newest {
                newest: s.newest_of(&id),
            })
            .into_response(),
        ),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct Pull {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    wait: u64,
    limit: Option<usize>,
}

async fn events(
    State(s): S,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Query(p): Query<Pull>,
) -> Response {
    if let Err(e) = desktop(&s, &id, &headers) {
        return e.into_response();
    }
    let limit = p.limit.unwrap_or(500).min(1000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(p.wait.min(MAX_WAIT));
    // Subscribed before reading, so a commit in between still wakes this poll.
    let mut changed = s.newest.subscribe();
    loop {
        let (shared, id2) = (s.clone(), id.clone());
        let read = tokio::task::spawn_blocking(move || {
            let conn = shared.reader.lock().unwrap_or_else(|p| p.into_inner());
            let newest = store::newest(&conn, &id2)?;
            let events = if limit == 0 {
                vec![]
            } else {
                store::events_after(&conn, &id2, p.after, limit, 8 << 20)?
            };
            Ok::<_, crate::Error>((newest, events))
        })
        .await;
        let (newest, events) = match read {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return text(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "the relay is stopping"),
        };
        if !events.is_empty() || limit == 0 || tokio::time::Instant::now() >= deadline {
            return with_newest(newest, Json(Events { newest, events }).into_response());
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn ack(
    State(s): S,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Json(a): Json<Ack>,
) -> Response {
    if let Err(e) = desktop(&s, &id, &headers) {
        return e.into_response();
    }
    let freed = store::ack(
        &s.reader.lock().unwrap_or_else(|p| p.into_inner()),
        &id,
        a.upto,
    );
    match freed {
        Ok((n, bytes)) => {
            if let Some(p) = s
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&id)
            {
                p.0 = (p.0 - n).max(0);
                p.1 = (p.1 - bytes).max(0);
            }
            let newest = s.newest_of(&id);
            with_newest(newest, Json(Newest { newest }).into_response())
        }
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Deletes what nobody collected within the keeping time.
fn expire(s: &Shared) {
    let cutoff = store::now_ms() - s.limits.keep_days * 86_400_000;
    let conn = s.reader.lock().unwrap_or_else(|p| p.into_inner());
    match store::expire(&conn, cutoff) {
        Ok(0) => {}
        Ok(n) => {
            eprintln!(
                "optdesk relay: {n} bodies were never collected within {} days and are deleted",
                s.limits.keep_days
            );
            if let Ok(p) = store::pending(&conn) {
                *s.pending.lock().unwrap_or_else(|e| e.into_inner()) =
                    p.into_iter().map(|(m, n, b)| (m, (n, b))).collect();
            }
        }
        Err(e) => eprintln!("optdesk relay: deleting expired bodies: {e}"),
    }
}

/// The relay's router over the data directory, with the writer and the expiry started.
pub fn app(data: &Path, limits: Limits) -> Result<Router> {
    let reader = store::open(data)?;
    let writer_conn = store::open(data)?;
    let pending: HashMap<String, (i64, i64)> = store::pending(&reader)?
        .into_iter()
        .map(|(m, n, b)| (m, (n, b)))
        .collect();
    let pending = Arc::new(Mutex::new(pending));
    let (newest, _) = tokio::sync::watch::channel(0i64);
    let (on_commit, counted) = (newest.clone(), pending.clone());
    let writer = intake::start(writer_conn, move |done| {
        let mut p = counted.lock().unwrap_or_else(|e| e.into_inner());
        let mut top = 0;
        for (mailbox, seq, bytes) in done {
            let e = p.entry(mailbox.clone()).or_insert((0, 0));
            e.0 += 1;
            e.1 += *bytes as i64;
            top = top.max(*seq);
        }
        on_commit.send_replace(top);
    });
    let shared = Arc::new(Shared {
        reader: Mutex::new(reader),
        writer,
        newest,
        cache: Mutex::default(),
        pending,
        buckets: Mutex::default(),
        rejected: Mutex::default(),
        unknown_mailbox: AtomicU64::new(0),
        limits,
    });
    let expiry = shared.clone();
    tokio::spawn(async move {
        loop {
            expire(&expiry);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    Ok(Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route(
            "/m/{id}/webhook",
            get(handshake)
                .post(intake)
                .layer(DefaultBodyLimit::max(wire::MAX_BODY)),
        )
        .route("/m/{id}/key", post(register))
        .route("/m/{id}/events", get(events))
        .route("/m/{id}/ack", post(ack))
        .with_state(shared))
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    data: &Path,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = app(data, limits)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| crate::Error::Setup(format!("the relay stopped: {e}")))
}
