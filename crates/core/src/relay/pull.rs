//! Moving the mailbox into the inbox. Each pull takes the bodies after this database's cursor,
//! opens each (only this desktop's key can), checks Meta's signature over the exact bytes with
//! the app secret, and writes the good ones to the inbox together with the new cursor in one
//! commit; only then does it acknowledge, so the relay may delete them. A pull that dies at any
//! point starts again from the cursor: nothing lost, nothing stored twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::RelayClient;
use super::state;
use crate::error::{Error, Result};
use crate::secrets::Secret;
use crate::store::Store;
use crate::time;
use crate::webhook::{self, process};

pub struct Puller {
    pub client: RelayClient,
    pub app_secret: Secret,
    /// The newest cursor this puller acknowledged (0 at start: its first pull acknowledges
    /// what an earlier process stored but could not acknowledge before it died).
    pub acked: std::sync::atomic::AtomicI64,
}

impl Puller {
    pub fn new(client: RelayClient, app_secret: Secret) -> Puller {
        Puller {
            client,
            app_secret,
            acked: std::sync::atomic::AtomicI64::new(0),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// New bodies in the inbox.
    pub stored: usize,
    /// Bodies the inbox had already (pulled before a crash, acknowledged only now).
    pub duplicates: usize,
    /// Bodies refused: a wrong signature, or sealed to another key.
    pub refused: usize,
    pub cursor: i64,
    pub newest: i64,
}

pub type Shared = Arc<Mutex<Store>>;

async fn with_store<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&mut store.lock().unwrap_or_else(|p| p.into_inner())))
        .await
        .map_err(|e| Error::invalid(format!("the relay pull stopped: {e}")))?
}

/// One pull, waiting up to `wait` seconds for something new, then the acknowledgement.
pub async fn pull_once(p: &Puller, store: &Shared, wait: u64) -> Result<Pulled> {
    let pulled = fetch_and_store(p, store, wait).await?;
    acknowledge(p, pulled.cursor).await;
    Ok(pulled)
}

/// Tells the relay it may delete everything up to `cursor` (committed here), unless this
/// puller already did. A failure is only logged: the next pull acknowledges again.
pub async fn acknowledge(p: &Puller, cursor: i64) {
    use std::sync::atomic::Ordering;
    if cursor <= p.acked.load(Ordering::Relaxed) {
        return;
    }
    match p.client.ack(cursor).await {
        Ok(_) => {
            p.acked.fetch_max(cursor, Ordering::Relaxed);
        }
        Err(e) => eprintln!(
            "optdesk: acknowledging to the relay (it keeps the bodies until the next pull): {e}"
        ),
    }
}

/// The pull without its acknowledgement: bodies after the cursor, opened, checked and
/// committed to the inbox with the new cursor.
pub async fn fetch_and_store(p: &Puller, store: &Shared, wait: u64) -> Result<Pulled> {
    let base = p.client.access().base.clone();
    let b = base.clone();
    let after = with_store(store, move |s| state::cursor_for(s.conn(), &b)).await?;
    let events = match p.client.events(after, wait, 500).await {
        Ok(e) => e,
        Err(e) => {
            let why = e.to_string();
            let _ = with_store(store, move |s| state::failed(s.conn(), &why)).await;
            return Err(e);
        }
    };
    let newest = events.newest;
    if newest < after {
        // The mailbox was made anew (or its relay lost its disk): its cursors start again.
        eprintln!(
            "optdesk: the relay mailbox's newest cursor ({newest}) is behind this database's ({after}); reading it from the start"
        );
        let b = base.clone();
        with_store(store, move |s| state::restart(s.conn(), &b)).await?;
    }
    with_store(store, move |s| state::pulled(s.conn(), newest)).await?;
    let Some(last) = events.events.last().map(|e| e.seq) else {
        return Ok(Pulled {
            cursor: after,
            newest,
            ..Pulled::default()
        });
    };
    // Opening and checking are CPU work: off the runtime.
    let (key, secret) = (p.client.access().key.clone(), p.app_secret.clone());
    let opened = tokio::task::spawn_blocking(move || {
        use base64::Engine;
        events
            .events
            .into_iter()
            .map(|e| {
                let body = base64::engine::general_purpose::STANDARD
                    .decode(&e.sealed)
                    .map_err(|_| "not base64".to_string())
                    .and_then(|sealed| key.open(&sealed).map_err(|err| err.to_string()))
                    .and_then(|(sig, body)| {
                        if webhook::signature_valid(&secret, Some(&sig), &body) {
                            Ok(body)
                        } else {
                            Err("its X-Hub-Signature-256 does not match the app secret (forged, or altered on the way)".into())
                        }
                    });
                let at = chrono::DateTime::from_timestamp_millis(e.received_at_ms).unwrap_or_else(time::now);
                (e.seq, time::to_db(&at), body)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Error::invalid(format!("the relay pull stopped: {e}")))?;
    let b = base.clone();
    let report = with_store(store, move |s| {
        s.with_tx(|tx| {
            let mut r = Pulled {
                cursor: last,
                newest,
                ..Pulled::default()
            };
            for (seq, at, body) in &opened {
                match body {
                    Ok(body) => {
                        if webhook::store_pulled(tx, &b, *seq, at, body)? {
                            r.stored += 1;
                        } else {
                            r.duplicates += 1;
                        }
                    }
                    Err(why) => {
                        eprintln!("optdesk: refused body {seq} from the relay: {why}");
                        r.refused += 1;
                    }
                }
            }
            state::advance(tx, &b, last, r.refused as i64)?;
            Ok(r)
        })
    })
    .await?;
    Ok(report)
}

/// Processes what is in the inbox (for a process that pulls without a receiver running).
pub async fn process_inbox(store: &Shared) -> Result<process::ProcessReport> {
    with_store(store, |s| {
        let p = process::Processor::from_settings(s.conn())?;
        process::process_pending(s, &p)
    })
    .await
}

/// Pulls until `stop`: long polls, so a body reaches the inbox moments after it reaches the
/// relay. `stored` is told when new bodies are in the inbox (the receiver wakes its processor);
/// with `process`, this loop processes them itself.
pub async fn run(
    p: Puller,
    store: Shared,
    process: bool,
    stored: impl Fn() + Send,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut last_error: Option<String> = None;
    loop {
        let round = async {
            let pulled = pull_once(&p, &store, 25).await?;
            if pulled.stored > 0 {
                if process {
                    process_inbox(&store).await?;
                }
                stored();
            }
            Ok::<_, Error>(())
        };
        let result = tokio::select! {
            r = round => r,
            _ = stop.changed() => return,
        };
        match result {
            Ok(()) => {
                if last_error.take().is_some() {
                    eprintln!("optdesk: the relay can be reached again");
                }
                backoff = Duration::from_secs(1);
            }
            Err(e) => {
                let why = e.to_string();
                if last_error.as_deref() != Some(&why) {
                    eprintln!("optdesk: pulling from the relay: {why}");
                }
                last_error = Some(why);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(15));
            }
        }
    }
}
