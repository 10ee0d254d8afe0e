//! No broadcast outruns a STOP: before a broadcast claims its first recipient (and whenever it
//! resumes), it asks the relay for its newest cursor and waits until the inbox has applied
//! everything up to it — pulled by whichever process holds the receiver lock, or, when none
//! does, by the sending process itself, which then keeps pulling while it sends. Bounded: on
//! timeout, or when the relay cannot be reached, the broadcast does not start.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::RelayClient;
use super::pull::{self, Puller};
use super::{state, Access};
use crate::error::{Error, Result};
use crate::receiver::{self, InstanceLock};
use crate::secrets::Secret;
use crate::store::Database;
use crate::webhook;

/// What a broadcast needs to drain the mailbox (None outside relay mode).
#[derive(Clone)]
pub struct Plan {
    pub access: Access,
    /// Needed only when this process pulls itself (no receiver running).
    pub app_secret: Option<Secret>,
    pub timeout: Duration,
    /// Sends the confirmations of what this process pulls itself (no receiver is there to).
    pub replies: Option<crate::whatsapp::Client>,
}

/// Pulling done by the sending process for as long as the broadcast runs (no receiver was).
pub struct Session {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _lock: InstanceLock,
}

impl Session {
    pub async fn end(mut self) {
        let _ = self.stop.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    /// The mailbox's newest cursor when the drain began: everything up to it is applied.
    pub target: i64,
    pub waited: Duration,
    /// Whether this process pulled (no receiver was running).
    pub pulled_here: bool,
}

fn refuse(why: String) -> Error {
    Error::invalid(format!(
        "the broadcast does not start: {why}. Opt-outs may be waiting in the relay mailbox; start the app or `optdesk serve` so they are collected, or send anyway for this start only (`--without-relay`, or \"Send anyway\" in the app), which the broadcast records"
    ))
}

/// Drains, or says why not. With a session, this process pulls until the session ends.
pub async fn drain(db: &Database, plan: &Plan) -> Result<(Drained, Option<Session>)> {
    let began = Instant::now();
    let deadline = began + plan.timeout;
    let client = RelayClient::new(plan.access.clone())?;
    let target = tokio::time::timeout(plan.timeout, client.newest())
        .await
        .map_err(|_| {
            refuse(format!(
                "the relay did not answer within {} s",
                plan.timeout.as_secs()
            ))
        })?
        .map_err(|e| refuse(e.to_string()))?;
    let base = plan.access.base.clone();
    let applied = |store: &crate::Store| -> Result<bool> {
        let s = state::load(store.conn())?;
        Ok(target == 0
            || (s.mailbox_url.as_deref() == Some(base.as_str())
                && s.cursor >= target
                && webhook::pulled_applied(store, &base, target)?))
    };
    match receiver::lock_for(
        &db.path,
        "a broadcast being sent, which collects the relay mailbox until it ends",
    ) {
        // Another process receives: it pulls; wait for its inbox to reach the target.
        Err(_) => {
            let store = db.open()?;
            loop {
                if applied(&store)? {
                    let waited = began.elapsed();
                    return Ok((
                        Drained {
                            target,
                            waited,
                            pulled_here: false,
                        },
                        None,
                    ));
                }
                if Instant::now() >= deadline {
                    let s = state::load(store.conn())?;
                    let behind = s
                        .error
                        .map(|e| format!(" (its last pull: {e})"))
                        .unwrap_or_default();
                    return Err(refuse(format!(
                        "the receiver running on this database has not collected the relay's mailbox up to {target} within {} s{behind}",
                        plan.timeout.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        // Nobody receives: this process pulls, and goes on pulling while it sends.
        Ok(lock) => {
            let app_secret = plan.app_secret.clone().ok_or_else(|| {
                refuse("the app secret is not saved, so the relay's bodies cannot be checked; run `optdesk credentials set --app-secret`".into())
            })?;
            let store: pull::Shared = Arc::new(Mutex::new(db.open()?));
            let puller = Puller::new(client, app_secret);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let round = async {
                    pull::pull_once(&puller, &store, 0).await?;
                    pull::process_inbox(&store).await?;
                    Ok::<_, Error>(())
                };
                match tokio::time::timeout(left, round).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(refuse(e.to_string())),
                    Err(_) => {
                        return Err(refuse(format!(
                            "the relay's mailbox could not be collected within {} s",
                            plan.timeout.as_secs()
                        )))
                    }
                }
                let done = {
                    let s = store.lock().unwrap_or_else(|p| p.into_inner());
                    applied(&s)?
                };
                if done {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(refuse(format!(
                        "the relay's mailbox could not be collected within {} s",
                        plan.timeout.as_secs()
                    )));
                }
            }
            let drained = Drained {
                target,
                waited: began.elapsed(),
                pulled_here: true,
            };
            let (stop, stop_rx) = tokio::sync::watch::channel(false);
            let mut tasks = vec![tokio::spawn(pull::run(
                puller,
                store,
                true,
                || {},
                stop_rx.clone(),
            ))];
            if let Some(client) = plan.replies.clone() {
                tasks.push(tokio::spawn(receiver::replies_loop(
                    db.clone(),
                    client,
                    stop_rx,
                    None,
                )));
            }
            Ok((
                drained,
                Some(Session {
                    stop,
                    tasks,
                    _lock: lock,
                }),
            ))
        }
    }
}
