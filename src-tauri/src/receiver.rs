//! The webhook receiver inside the app: started and stopped by the owner, on the port they
//! choose. The core's receiver does the work; this only keeps its shutdown handle.

use std::sync::{Arc, Mutex};

use optdesk_core::receiver::Config;
use optdesk_core::secrets::SecretKind;
use optdesk_core::Core;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult, Kind};

struct Running {
    port: u16,
    /// The public base URL the mode opened (a tunnel's, or public_url), if any.
    public_url: Option<String>,
    stop: oneshot::Sender<()>,
    /// Set when the receiver ended by itself (the port was taken, the database failed).
    failed: Arc<Mutex<Option<String>>>,
}

/// A secret the receiver or Connect cannot work without, or what to enter first.
pub(crate) fn required_secret(
    core: &Core,
    kind: SecretKind,
) -> AppResult<optdesk_core::secrets::Secret> {
    core.secrets()
        .get(kind)
        .map_err(|e| AppError::new(Kind::NotConnected, e.to_string()))?
        .ok_or_else(|| {
            AppError::new(
                Kind::NotConnected,
                format!(
                    "the {} is not saved yet; enter it under WhatsApp connection first",
                    kind.label()
                ),
            )
        })
}

/// The event the Opt-outs screen reloads on, instead of polling: sent after the processor
/// applied webhook bodies or a confirmation changed state.
pub const OPTOUTS_CHANGED: &str = "optouts-changed";

/// What the receiver calls to tell the window (see [`OPTOUTS_CHANGED`]).
pub fn tell_window<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
) -> optdesk_core::receiver::Changed {
    use tauri::Emitter;
    let app = app.clone();
    Arc::new(move || {
        let _ = app.emit(OPTOUTS_CHANGED, ());
    })
}

#[derive(Default)]
pub struct Slot(Mutex<Option<Running>>);

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct ReceiverStatus {
    pub running: bool,
    pub port: Option<u16>,
    pub url: Option<String>,
    /// Where Meta reaches it (`webhook_mode`): a tunnel's address or public_url.
    pub public_url: Option<String>,
    /// Why it stopped on its own, if it did.
    pub error: Option<String>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> ReceiverStatus {
        let guard = self.lock();
        match guard.as_ref() {
            Some(r) => {
                let error = r.failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
                ReceiverStatus {
                    running: error.is_none(),
                    port: Some(r.port),
                    url: Some(format!("http://127.0.0.1:{}/webhook", r.port)),
                    public_url: r.public_url.clone(),
                    error,
                }
            }
            None => ReceiverStatus {
                running: false,
                port: None,
                url: None,
                public_url: None,
                error: None,
            },
        }
    }

    /// Starts it on `port`; `changed` is called whenever what the Opt-outs screen shows may
    /// have changed (see [`tell_window`]).
    pub async fn start(
        &self,
        core: &Core,
        port: u16,
        changed: optdesk_core::receiver::Changed,
    ) -> AppResult<ReceiverStatus> {
        self.stop();
        let (opened, told) = oneshot::channel::<Option<String>>();
        let config = Config {
            listen: ([127, 0, 0, 1], port).into(),
            db: core.database().clone(),
            app_secret: required_secret(core, SecretKind::AppSecret)?,
            verify_token: required_secret(core, SecretKind::VerifyToken)?,
            client: core.client().ok(),
            reach: Some(optdesk_core::reachability::endpoint::from_settings(
                &core.database().open()?,
                core.secrets(),
            )?),
            opened: Some(opened),
            changed: Some(changed),
        };
        // Bind here, so a taken port is an error the owner sees now, not later.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                AppError::new(
                    Kind::Invalid,
                    format!("port {port} cannot be used ({e}); choose another"),
                )
            })?;
        let lock = optdesk_core::receiver::lock(&core.database().path)?;
        let mut inbox = core.database().open()?;
        optdesk_core::replies::recover_interrupted(&mut inbox)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let failed = Arc::new(Mutex::new(None));
        let report = failed.clone();
        tauri::async_runtime::spawn(async move {
            let _lock = lock;
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) =
                optdesk_core::receiver::serve_on(listener, config, inbox, shutdown).await
            {
                *report.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        });
        // Wait for the public side (a tunnel takes a moment, and may fail with its reason).
        let public_url = match tokio::time::timeout(std::time::Duration::from_secs(15), told).await
        {
            Ok(Ok(url)) => url,
            _ => {
                // The receiver ended before opening it: give its reason a moment to arrive.
                for _ in 0..50 {
                    if let Some(e) = failed.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                        return Err(AppError::new(Kind::Invalid, e));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                None
            }
        };
        *self.lock() = Some(Running {
            port,
            public_url,
            stop,
            failed,
        });
        Ok(self.status())
    }

    pub fn stop(&self) {
        if let Some(r) = self.lock().take() {
            let _ = r.stop.send(());
        }
    }
}
