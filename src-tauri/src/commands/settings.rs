//! Settings, the WhatsApp connection, the receiver, audit, backups and sign-up codes: the
//! Settings screen and the frame around every screen.

use base64::Engine;
use optdesk_core::audit::{self, Check};
use optdesk_core::secrets::SecretKind;
use optdesk_core::signup::{self, Source};
use optdesk_core::whatsapp::PhoneNumberInfo;
use optdesk_core::{backup, optouts, settings, webhook, Topic};
use serde::Serialize;
use tauri::State;

use crate::error::{AppError, Kind};
use crate::receiver::ReceiverStatus;
use crate::{AppResult, Desk};

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub business_name: Option<String>,
    /// A token and a phone number id are saved (not that they work: `connection_test` says).
    pub connected: bool,
    pub receiver: ReceiverStatus,
    /// When the last webhook arrived: the "offline since" the banner shows.
    pub last_event_at: Option<String>,
    pub review_open: usize,
    pub contacts: i64,
    pub database: String,
    /// Meta's routing was read back and customers' messages and "Stop marketing" both reach
    /// this OptDesk, with no change made elsewhere since: until then the header says
    /// "Not receiving opt-outs".
    pub webhook_confirmed: bool,
    /// A change to the routing made outside OptDesk, in a sentence (a banner).
    pub webhook_drift: Option<String>,
    /// The number's quality or account needs the owner, in a sentence (a banner).
    pub health: Option<String>,
}

#[tauri::command]
pub async fn app_status(desk: State<'_, Desk>) -> AppResult<AppStatus> {
    let receiver = desk.receiver.status();
    super::blocking(&desk, move |core| {
        let token = core
            .secrets()
            .get(SecretKind::AccessToken)
            .map(|t| t.is_some())
            .unwrap_or(false);
        let store = core.store();
        let conn = &*store;
        let hooks = optdesk_core::reachability::state::load(conn)?;
        Ok(AppStatus {
            webhook_confirmed: hooks.drift.is_none()
                && hooks.routing.as_ref().is_some_and(|r| r.confirmed()),
            webhook_drift: hooks.drift,
            business_name: settings::get(conn, "business_name")?,
            connected: token && settings::get(conn, "phone_number_id")?.is_some(),
            receiver,
            last_event_at: webhook::last_event_at(&store)?,
            review_open: optouts::review_list(&store, false)?.len(),
            contacts: optdesk_core::contacts::count(conn)?,
            health: optdesk_core::health::get(conn)?.warning(),
            database: core.database().path.display().to_string(),
        })
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub help: &'static str,
    pub value: Option<String>,
}

#[tauri::command]
pub async fn settings_get(desk: State<'_, Desk>) -> AppResult<Vec<Setting>> {
    super::blocking(&desk, move |core| {
        let store = core.store();
        settings::KEYS
            .iter()
            .map(|k| {
                Ok(Setting {
                    name: k.name,
                    help: k.help,
                    value: settings::get(&*store, k.name)?,
                })
            })
            .collect()
    })
    .await
}

/// Checks and saves one setting; an empty value goes back to the default.
#[tauri::command]
pub async fn settings_set(
    desk: State<'_, Desk>,
    name: String,
    value: String,
) -> AppResult<Option<String>> {
    super::blocking(&desk, move |core| {
        let store = core.store();
        if value.trim().is_empty() {
            settings::unset(&*store, &name)?;
        } else {
            settings::set(&*store, &name, &value)?;
        }
        Ok(settings::get(&*store, &name)?)
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct SecretState {
    pub secret: SecretKind,
    pub label: &'static str,
    pub set: bool,
}

/// Which secrets are saved — never a value.
#[tauri::command]
pub async fn secrets_status(desk: State<'_, Desk>) -> AppResult<Vec<SecretState>> {
    super::blocking(&desk, move |core| {
        Ok(core
            .secrets_status()?
            .into_iter()
            .map(|(secret, set)| SecretState {
                secret,
                label: secret.label(),
                set,
            })
            .collect())
    })
    .await
}

/// Saves a secret straight to the keyring. Nothing returns it.
#[tauri::command]
pub async fn secret_set(desk: State<'_, Desk>, secret: SecretKind, value: String) -> AppResult<()> {
    super::blocking(&desk, move |core| Ok(core.set_secret(secret, &value)?)).await
}

#[tauri::command]
pub async fn connection_test(desk: State<'_, Desk>) -> AppResult<PhoneNumberInfo> {
    Ok(desk.core.test_connection().await?)
}

#[tauri::command]
pub async fn receiver_start<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    desk: State<'_, Desk>,
    port: u16,
) -> AppResult<ReceiverStatus> {
    // The bounds are the setting's own (the same as `optdesk config set receiver_port`).
    let port_text = settings::check("receiver_port", &port.to_string())?;
    let tell = crate::receiver::tell_window(&app);
    let status = desk.receiver.start(&desk.core, port, tell).await?;
    // Remembered, so the receiver starts with the app tomorrow too.
    super::blocking(&desk, move |core| {
        Ok(settings::set(&*core.store(), "receiver_port", &port_text).map(|_| ())?)
    })
    .await?;
    Ok(status)
}

#[tauri::command]
pub async fn receiver_stop(desk: State<'_, Desk>) -> AppResult<ReceiverStatus> {
    desk.receiver.stop();
    super::blocking(&desk, |core| {
        Ok(settings::unset(&*core.store(), "receiver_port")?)
    })
    .await?;
    Ok(desk.receiver.status())
}

#[tauri::command]
pub async fn audit_run(desk: State<'_, Desk>) -> AppResult<Vec<Check>> {
    super::blocking(&desk, move |core| Ok(audit::run(&core.store())?)).await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct Backups {
    pub folder: String,
    pub files: Vec<String>,
}

/// Takes today's backup if there is none yet, and lists the daily backups.
#[tauri::command]
pub async fn backup_now(desk: State<'_, Desk>) -> AppResult<Backups> {
    super::blocking(&desk, |core| {
        let files = backup::rolling(core.database(), 7)?;
        Ok(Backups {
            folder: backup::rolling_dir(core.database()).display().to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
        })
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUp {
    pub source: Source,
    /// The QR code as a `data:` URL, to show at once.
    pub qr_data_url: String,
    pub qr_file: String,
    pub poster_file: String,
}

/// Creates a sign-up code and saves its QR code and A4 poster beside the database.
#[tauri::command]
pub async fn signup_create(
    desk: State<'_, Desk>,
    label: String,
    topic: Topic,
) -> AppResult<SignUp> {
    super::blocking(&desk, move |core| {
        let mut store = core.store();
        let source = signup::create(&mut store, &label, topic, None)?;
        let business = settings::get(&*store, "business_name")?.unwrap_or_default();
        drop(store);
        let folder = core.database().folder("signups");
        std::fs::create_dir_all(&folder)
            .map_err(|e| AppError::new(Kind::Storage, e.to_string()))?;
        let qr = folder.join(format!("{}.png", source.code));
        let poster = folder.join(format!("{}.pdf", source.code));
        signup::write_qr_png(&source.link, &qr)?;
        signup::write_poster_pdf(&business, &source.label, &source.link, &poster)?;
        let png = std::fs::read(&qr).map_err(|e| AppError::new(Kind::Storage, e.to_string()))?;
        Ok(SignUp {
            qr_data_url: format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
            qr_file: qr.display().to_string(),
            poster_file: poster.display().to_string(),
            source,
        })
    })
    .await
}

#[tauri::command]
pub async fn signups_list(desk: State<'_, Desk>) -> AppResult<Vec<Source>> {
    super::blocking(&desk, move |core| Ok(signup::list(&core.store())?)).await
}
