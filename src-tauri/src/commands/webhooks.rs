//! "Connect webhooks" in Settings: the routing per kind of event, the Connect button, and
//! disconnect. The app owns the endpoint while its receiver runs; connecting starts it first.

use optdesk_core::reachability::{self, connect::Secrets, Choice, Outcome, Status};
use optdesk_core::secrets::SecretKind;
use optdesk_core::settings;
use tauri::State;

use crate::error::{AppError, Kind};
use crate::receiver::required_secret;
use crate::{AppResult, Desk};

/// The routing now. `live` asks Meta (a few Graph calls); otherwise what OptDesk last saw.
#[tauri::command]
pub async fn webhook_status(desk: State<'_, Desk>, live: bool) -> AppResult<Status> {
    let client = if live { desk.core.client().ok() } else { None };
    let app_secret = desk
        .core
        .secrets()
        .get(SecretKind::AppSecret)
        .ok()
        .flatten();
    let mut store = desk.core.database().open()?;
    let live = client.as_ref().zip(app_secret.as_ref());
    Ok(reachability::status::status(&mut store, live).await?)
}

/// The Connect button: `choice` is `ask`, `replace` or `number_only`.
#[tauri::command]
pub async fn webhook_connect<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    desk: State<'_, Desk>,
    choice: String,
) -> AppResult<Outcome> {
    let choice = match choice.as_str() {
        "ask" => Choice::Ask,
        "replace" => Choice::Replace,
        "number_only" => Choice::NumberOnly,
        other => {
            return Err(AppError::new(
                Kind::Invalid,
                format!("{other:?} is not a choice"),
            ))
        }
    };
    let app_secret = required_secret(&desk.core, SecretKind::AppSecret)?;
    let verify_token = required_secret(&desk.core, SecretKind::VerifyToken)?;
    let client = desk.core.client()?;
    // The endpoint must be up before Meta is asked to call it: the app's receiver, with the
    // mode's public side.
    let mut status = desk.receiver.status();
    if !status.running {
        let port =
            settings::value(&*desk.core.store(), "receiver_port")?.unwrap_or(settings::USUAL_PORT);
        let tell = crate::receiver::tell_window(&app);
        status = desk.receiver.start(&desk.core, port, tell).await?;
        settings::set(&*desk.core.store(), "receiver_port", &port.to_string())?;
    }
    let Some(url) = status.public_url else {
        return Err(AppError::new(
            Kind::Invalid,
            "there is no public address yet: choose ngrok and paste your authtoken, or enter your own HTTPS address as the public URL",
        ));
    };
    let mut store = desk.core.database().open()?;
    let secrets = Secrets {
        app_secret: &app_secret,
        verify_token: &verify_token,
    };
    let outcome =
        reachability::connect::connect(&mut store, &client, &secrets, &url, choice).await?;
    if matches!(outcome, Outcome::Connected(_)) {
        reachability::state::record_test_asked(&store)?;
    }
    Ok(outcome)
}

/// Removes what OptDesk set with Meta; what was done, in sentences.
#[tauri::command]
pub async fn webhook_disconnect(desk: State<'_, Desk>) -> AppResult<Vec<String>> {
    let app_secret = required_secret(&desk.core, SecretKind::AppSecret)?;
    let client = desk.core.client()?;
    let mut store = desk.core.database().open()?;
    Ok(reachability::connect::disconnect(&mut store, &client, &app_secret).await?)
}
