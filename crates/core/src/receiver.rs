//! The webhook receiver: `GET /webhook` answers Meta's verification handshake, `POST /webhook`
//! checks the signature over the raw bytes, commits the body to the inbox and only then answers
//! 200. A processing thread turns inbox bodies into ledger events; a reply task sends the
//! confirmations. One receiver per database: a second is refused.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver as NotifyRx, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{Error, Result};
use crate::reachability::{self, Reachability};
use crate::replies;
use crate::secrets::Secret;
use crate::store::{Database, Store};
use crate::webhook::{self, process};
use crate::whatsapp::Client;

pub struct Config {
    pub listen: SocketAddr,
    pub db: Database,
    pub app_secret: Secret,
    pub verify_token: Secret,
    /// Sends confirmations; without it they wait (and lapse after 5 minutes).
    pub client: Option<Client>,
    /// The public side (`webhook_mode`): opened over the same router once the port is bound.
    pub reach: Option<Box<dyn Reachability>>,
    /// Told the public base URL once the public side is open (or that there is none yet).
    pub opened: Option<tokio::sync::oneshot::Sender<Option<String>>>,
    /// Called after webhook bodies were applied or a reply changed state: what the opt-outs, the
    /// review queue and the confirmations show may have changed (the app tells its window).
    pub changed: Option<Changed>,
}

/// See [`Config::changed`].
pub type Changed = Arc<dyn Fn() + Send + Sync>;

/// Holds the receiver's lock on a database for as long as it lives.
pub struct InstanceLock {
    _file: File,
}

/// Takes the one-receiver-per-database lock, or says who has it.
pub fn lock(db: &Path) -> Result<InstanceLock> {
    lock_for(
        db,
        "the webhook receiver of the desktop app or `optdesk serve`",
    )
}

/// [`lock`], naming what holds it (`holder`, with this process's id) for whoever is refused.
pub fn lock_for(db: &Path, holder: &str) -> Result<InstanceLock> {
    use std::io::{Read, Seek, Write};
    let path = db.with_extension("receiver.lock");
    let mut file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the message a second process gets (best effort).
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{holder}, pid {}", std::process::id());
            Ok(InstanceLock { _file: file })
        }
        Err(_) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = if who.trim().is_empty() {
                "the desktop app or `optdesk serve`".to_string()
            } else {
                who.trim().to_string()
            };
            Err(Error::invalid(format!(
                "another OptDesk process is already receiving webhooks on {}: {who}; only one may at a time",
                db.display()
            )))
        }
    }
}

#[derive(Clone)]
struct AppState {
    inbox: Arc<Mutex<Store>>,
    app_secret: Arc<Secret>,
    verify_token: Arc<Secret>,
    wake: SyncSender<()>,
}

/// Equal in time whatever the contents (for the verify token).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handshake(State(s): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ok = get("hub.mode") == Some("subscribe")
        && get("hub.verify_token")
            .is_some_and(|t| same(t.as_bytes(), s.verify_token.expose().as_bytes()));
    match (ok, get("hub.challenge")) {
        (true, Some(challenge)) => (StatusCode::OK, challenge.to_string()).into_response(),
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

async fn receive(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !webhook::signature_valid(&s.app_secret, sig, &body) {
        return (StatusCode::UNAUTHORIZED, "bad or missing signature").into_response();
    }
    let inbox = s.inbox.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut store = inbox.lock().unwrap_or_else(|p| p.into_inner());
        webhook::store_in_inbox(&mut store, &body)
    })
    .await;
    match stored {
        Ok(Ok(_)) => {
            let _ = s.wake.try_send(()); // a wake-up already pending is as good
            StatusCode::OK.into_response()
        }
        // Not stored, so not acknowledged: Meta will deliver it again.
        Ok(Err(e)) => {
            eprintln!("optdesk: could not store a webhook: {e}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Turns inbox bodies into ledger events, batch by batch. Each batch takes the intake's writer
/// lock first: the two then queue in this process instead of meeting at SQLite's write lock,
/// whose busy handler backs off in sleeps (up to 100 ms each) under thousands of commits a second.
fn processing_loop(
    db: Database,
    writer: Arc<Mutex<Store>>,
    wake: NotifyRx<()>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    changed: Option<Changed>,
) {
    let mut store = match db.open() {
        Ok(s) => s,
        Err(e) => return eprintln!("optdesk: the webhook processor cannot open the database: {e}"),
    };
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        // Settings are read each round, so keyword changes apply without a restart.
        let mut report = process::ProcessReport::default();
        let result = process::Processor::from_settings(store.conn()).and_then(|p| loop {
            let _turn = writer.lock().unwrap_or_else(|e| e.into_inner());
            if !process::process_batch(&mut store, &p, &mut report)? {
                return Ok(());
            }
        });
        if let Err(e) = result {
            eprintln!("optdesk: webhook processing: {e}");
        }
        if report.processed > 0 {
            if let Some(tell) = &changed {
                tell();
            }
        }
        if report.failed > 0 {
            eprintln!(
                "optdesk: {} webhook bodies failed to process; see `optdesk inbox list`",
                report.failed
            );
        }
        if report.failed_parts > 0 {
            eprintln!(
                "optdesk: {} parts of webhook bodies could not be applied (the rest of each body was); see `optdesk inbox list`",
                report.failed_parts
            );
        }
        let _ = wake.recv_timeout(Duration::from_millis(500));
    }
}

/// Sends queued replies (confirmations, HELP answers, welcomes) until `stop`.
pub(crate) async fn replies_loop(
    db: Database,
    client: Client,
    mut stop: tokio::sync::watch::Receiver<bool>,
    changed: Option<Changed>,
) {
    let mut store = match db.open() {
        Ok(s) => s,
        Err(e) => return eprintln!("optdesk: the reply sender cannot open the database: {e}"),
    };
    loop {
        match replies::send_queued(&mut store, &client).await {
            Ok(r) if r != replies::SendReport::default() => {
                if let Some(tell) = &changed {
                    tell();
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("optdesk: sending confirmations: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Serves until `shutdown` completes. Call inside a tokio runtime.
pub async fn serve(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let _lock = lock(&cfg.db.path)?;
    let mut inbox = cfg.db.open()?;
    replies::recover_interrupted(&mut inbox)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::invalid(format!("cannot listen on {}: {e}", cfg.listen)))?;
    serve_on(listener, cfg, inbox, shutdown).await
}

/// [`serve`] on a listener already bound (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    cfg: Config,
    inbox: Store,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (wake_tx, wake_rx) = sync_channel(1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let inbox = Arc::new(Mutex::new(inbox));
    let watch_secret = cfg.app_secret.clone();
    let pull_secret = cfg.app_secret.clone();
    let state = AppState {
        inbox: inbox.clone(),
        app_secret: Arc::new(cfg.app_secret),
        verify_token: Arc::new(cfg.verify_token),
        wake: wake_tx.clone(),
    };
    let app = Router::new()
        .route("/webhook", get(handshake).post(receive))
        .layer(DefaultBodyLimit::max(webhook::MAX_BODY))
        .with_state(state);
    // The public side first: a tunnel that cannot open stops the receiver with its reason, since
    // a receiver Meta cannot reach must not look like one that works.
    let opened = match cfg.reach {
        Some(mut reach) => {
            let store = cfg.db.open()?;
            let mode = reach.mode().as_str();
            match reach.open(app.clone()).await {
                Ok(url) => {
                    reachability::state::record_endpoint(
                        store.conn(),
                        mode,
                        url.as_deref(),
                        &reach.state().as_db(),
                    )?;
                    if let Some(tell) = cfg.opened {
                        let _ = tell.send(url.clone());
                    }
                    Some((store, reach))
                }
                Err(e) => {
                    let _ = reachability::state::record_endpoint(
                        store.conn(),
                        mode,
                        None,
                        &format!("down: {e}"),
                    );
                    return Err(e);
                }
            }
        }
        None => {
            if let Some(tell) = cfg.opened {
                let _ = tell.send(None);
            }
            None
        }
    };
    let processor = {
        let (db, writer, stop) = (cfg.db.clone(), inbox.clone(), stop.clone());
        let changed = cfg.changed.clone();
        std::thread::spawn(move || processing_loop(db, writer, wake_rx, stop, changed))
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = cfg
        .client
        .clone()
        .map(|c| tokio::spawn(watch_loop(cfg.db.clone(), c, watch_secret, stop_rx.clone())));
    // Relay mode: the mailbox is pulled into the same inbox, and the processor woken.
    let puller = opened
        .as_ref()
        .and_then(|(_, reach)| reach.relay())
        .map(|client| {
            let wake = wake_tx.clone();
            tokio::spawn(crate::relay::pull::run(
                crate::relay::pull::Puller::new(client, pull_secret),
                inbox.clone(),
                false,
                move || {
                    let _ = wake.try_send(());
                },
                stop_rx.clone(),
            ))
        });
    let housekeeping =
        opened.map(|(store, reach)| tokio::spawn(housekeeping_loop(store, reach, stop_rx.clone())));
    let sender = cfg.client.map(|c| {
        tokio::spawn(replies_loop(
            cfg.db.clone(),
            c,
            stop_rx,
            cfg.changed.clone(),
        ))
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = wake_tx.try_send(());
    let _ = stop_tx.send(true);
    for task in [sender, watcher, housekeeping, puller]
        .into_iter()
        .flatten()
    {
        let _ = task.await;
    }
    let _ = tokio::task::spawn_blocking(move || processor.join()).await;
    served.map_err(|e| Error::invalid(format!("the receiver stopped: {e}")))
}

/// Records that Meta can reach the receiver now: its public side is up (or someone else's) and a
/// tunnel has quota left.
fn beat(store: &Store, reach: &dyn Reachability, exhausted: bool) {
    let reachable = matches!(
        reach.state(),
        reachability::EndpointState::Up | reachability::EndpointState::External
    );
    if reachable && !exhausted {
        let mode = reach.mode().as_str();
        if let Err(e) = reachability::uptime::beat(store.conn(), mode, &crate::time::now()) {
            eprintln!("optdesk: recording that the receiver is up: {e}");
        }
    }
}

/// Keeps what the public side is doing in the database (the CLI and the app read it there) and
/// adds the requests a tunnel carried to this month's count. Owns the tunnel while it runs.
async fn housekeeping_loop(
    store: Store,
    reach: Box<dyn Reachability>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mode = reach.mode().as_str();
    let mut warned = false;
    let mut exhausted = false;
    beat(&store, reach.as_ref(), false);
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => false,
            _ = stop.changed() => true,
        };
        let carried = reach.take_requests();
        if carried > 0 {
            match reachability::state::add_tunnel_requests(
                store.conn(),
                carried,
                &crate::time::now(),
            ) {
                Ok(month) => {
                    let quota = crate::settings::get(store.conn(), "ngrok_monthly_requests")
                        .ok()
                        .flatten()
                        .and_then(|q| q.parse().ok())
                        .unwrap_or(0);
                    exhausted = quota > 0 && month >= quota;
                    // Said once when the month's count passes 80%, again after a new month.
                    match reachability::ngrok::quota_warning(month, quota) {
                        Some(w) if !warned => {
                            eprintln!("optdesk: {w}");
                            warned = true;
                        }
                        None => warned = false,
                        _ => {}
                    }
                }
                Err(e) => eprintln!("optdesk: counting the tunnel's requests: {e}"),
            }
        }
        let known = reachability::state::load(store.conn()).ok();
        let url = known.as_ref().and_then(|k| k.endpoint_url.clone());
        let state = if stopping {
            "down: the receiver stopped".to_string()
        } else {
            reach.state().as_db()
        };
        let _ = reachability::state::record_endpoint(store.conn(), mode, url.as_deref(), &state);
        if stopping {
            return;
        }
        beat(&store, reach.as_ref(), exhausted);
    }
}

/// At start and every 6 hours, reads the routing back from Meta and keeps any change made
/// elsewhere for the banner; every hour, where template and account events do not reach this
/// OptDesk (a number-only override), reads template status and the quality rating instead.
async fn watch_loop(
    db: Database,
    client: Client,
    app_secret: Secret,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut store = match db.open() {
        Ok(s) => s,
        Err(e) => return eprintln!("optdesk: the routing check cannot open the database: {e}"),
    };
    let mut hour = 0u32;
    loop {
        if hour.is_multiple_of(6) {
            match reachability::connect::check(&mut store, &client, &app_secret).await {
                Ok(Some((_, Some(drift)))) => eprintln!("optdesk: {drift}"),
                Ok(_) => {}
                Err(e) => eprintln!("optdesk: checking the webhook routing: {e}"),
            }
        }
        let templates_elsewhere = reachability::state::load(store.conn())
            .ok()
            .and_then(|k| k.routing)
            .is_some_and(|r| !r.templates.reaches_optdesk);
        if templates_elsewhere {
            if let Err(e) = reachability::connect::poll_instead(&mut store, &client).await {
                eprintln!("optdesk: reading template status and quality from Meta: {e}");
            }
        }
        hour += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}
