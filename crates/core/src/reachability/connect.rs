//! "Connect webhooks": the public URL tested from outside, the app subscribed to the WABA, the
//! callback set with Meta by API (Meta verifies it during the call), and the routing read back
//! per kind of event. Also `status` (the routing now, and what changed elsewhere), `disconnect`
//! (only what OptDesk set) and the periodic `check` the receiving process runs.

use std::time::Instant;

use serde::Serialize;

use super::routing::{self, same_url, Routing, FIELDS};
use super::selftest::{self, SelfTest};
use super::state::{self, Level};
use crate::error::{Error, Result};
use crate::secrets::Secret;
use crate::settings;
use crate::store::Store;
use crate::whatsapp::{Client, ClientError};

/// What to do when the app's callback already points at another system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Stop and ask (the default).
    Ask,
    /// Make OptDesk the app's callback (and clear overrides that take messages elsewhere).
    Replace,
    /// Leave the app's callback; route only this number's messages here (its override).
    NumberOnly,
}

/// The secrets the flow needs, as the keyring has them. The app access token is built from
/// the app secret in memory for each call that needs it and never kept.
pub struct Secrets<'a> {
    pub app_secret: &'a Secret,
    pub verify_token: &'a Secret,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub callback_url: String,
    pub self_test: SelfTest,
    pub level: Level,
    pub routing: Routing,
    /// What the owner should know (events that go elsewhere, what was replaced).
    pub warnings: Vec<String>,
    /// From the start of the checks to the routing read back.
    pub took_ms: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Connected(Box<ConnectReport>),
    /// Another system receives this app's (or this number's) webhooks: replace it, or route
    /// only this number here. Nothing was changed.
    NeedsChoice {
        current: String,
        why: String,
    },
}

fn meta_error(e: ClientError, what: &str, test: Option<&SelfTest>) -> Error {
    if let ClientError::Graph { error, .. } = &e {
        match error.code {
            2200 => {
                let found = test
                    .map(|t| format!(" OptDesk's own check from this PC: {}.", t.summary()))
                    .unwrap_or_default();
                return Error::invalid(format!(
                    "Meta could not reach this OptDesk to verify {what} (error 2200: {}).{found} Nothing was changed.",
                    error.message
                ));
            }
            15 | 190 if what.contains("app") => {
                return Error::invalid(format!(
                    "Meta refused the app access token built from the saved app secret ({}): check app_id and the app secret (App Dashboard → App settings → Basic)",
                    error.message
                ));
            }
            200 => {
                return Error::invalid(format!(
                    "Meta refused to set {what} ({}): the system user needs full control of the WhatsApp Business Account and the app; a number shared with the WhatsApp Business app (coexistence) cannot have its own override",
                    error.message
                ));
            }
            _ => {}
        }
    }
    Error::invalid(format!("could not set {what}: {e}"))
}

fn read(e: ClientError, what: &str) -> Error {
    Error::invalid(format!("could not read {what} from Meta: {e}"))
}

/// The app's id: the setting, else the one app subscribed to the WABA.
async fn app_id(store: &mut Store, client: &Client) -> Result<(Option<String>, bool)> {
    let mut apps = client
        .subscribed_apps()
        .await
        .map_err(|e| read(e, "the apps subscribed to the WhatsApp Business Account"))?;
    let subscribed = !apps.is_empty();
    if let Some(id) = settings::get(store.conn(), "app_id")? {
        return Ok((Some(id), subscribed));
    }
    let id = match apps.len() {
        1 => apps.remove(0).app_id,
        _ => None,
    };
    Ok((id, subscribed))
}

/// Reads where each kind of event goes now.
pub async fn read_routing(
    store: &mut Store,
    client: &Client,
    app_secret: &Secret,
    ours: &str,
) -> Result<Routing> {
    let apps = client
        .subscribed_apps()
        .await
        .map_err(|e| read(e, "the apps subscribed to the WhatsApp Business Account"))?;
    let app_id = settings::get(store.conn(), "app_id")?;
    let mine = apps
        .iter()
        .find(|a| app_id.is_some() && a.app_id == app_id)
        .or(apps.first());
    let conf = client
        .webhook_configuration()
        .await
        .map_err(|e| read(e, "the phone number's webhook configuration"))?;
    let app = match &app_id {
        Some(id) => client
            .app_subscription(id, app_secret)
            .await
            .map_err(|e| meta_error(e, "the app's webhook subscription", None))?,
        None => None,
    };
    Ok(routing::decide(
        ours,
        !apps.is_empty(),
        &conf,
        mine.and_then(|a| a.override_callback_uri.as_deref()),
        app.as_ref(),
    ))
}

/// The flow behind "Connect webhooks". `public_url` is where the receiver answers now (the
/// caller brought it up first).
pub async fn connect(
    store: &mut Store,
    client: &Client,
    secrets: &Secrets<'_>,
    public_url: &str,
    choice: Choice,
) -> Result<Outcome> {
    let started = Instant::now();
    let public_url = settings::check("public_url", public_url)?;
    let ours = format!("{public_url}/webhook");
    // 1. From outside first: Meta's own verification would fail the same way, less clearly.
    let test = selftest::run(store, &public_url, secrets.app_secret, secrets.verify_token).await?;
    if !test.passed() {
        return Err(Error::invalid(format!(
            "Meta would not reach this OptDesk: {}. Nothing was changed with Meta.",
            test.summary()
        )));
    }
    // 2. The app must be subscribed to the WABA, or no webhook flows at all.
    let (mut app_id, subscribed) = app_id(store, client).await?;
    if !subscribed {
        client.subscribe_app().await.map_err(|e| {
            meta_error(
                e,
                "the app's subscription to the WhatsApp Business Account",
                None,
            )
        })?;
        app_id = app_id.or(app_id_after_subscribing(client).await?);
    }
    let Some(app_id) = app_id else {
        return Err(Error::invalid(
            "several apps are subscribed to this WhatsApp Business Account; say which is OptDesk's with `optdesk config set app_id ID` (App Dashboard → App settings → Basic → App ID)",
        ));
    };
    settings::set(store.conn(), "app_id", &app_id)?;

    // 3. What is there now, and whose it is.
    let before = read_routing(store, client, secrets.app_secret, &ours).await?;
    let known = state::load(store.conn())?;
    let was_ours = |u: &str| {
        same_url(u, &ours)
            || known
                .registered
                .as_ref()
                .is_some_and(|(_, r)| same_url(r, u))
    };
    let foreign_app = before.app_url.clone().filter(|u| !was_ours(u));
    let foreign_override = before
        .number_override
        .clone()
        .or_else(|| before.waba_override.clone())
        .filter(|u| !was_ours(u));
    let choice = match (choice, &known.registered) {
        // The owner chose "only this number" before: keep to it.
        (Choice::Ask, Some((Level::Number, _))) => Choice::NumberOnly,
        (c, _) => c,
    };
    let mut warnings = Vec::new();
    let level = match choice {
        Choice::Ask if foreign_app.is_some() || foreign_override.is_some() => {
            let (current, why) = match (&foreign_override, &foreign_app) {
                (Some(o), _) => (o.clone(), format!(
                    "this number's messages go to {o} (an override set by another system); replace it to receive them here"
                )),
                (None, Some(a)) => (a.clone(), format!(
                    "this app's webhooks go to {a}, another system; replacing it stops that system receiving them, or route only this number's messages here"
                )),
                _ => unreachable!("one of them is set"),
            };
            return Ok(Outcome::NeedsChoice { current, why });
        }
        Choice::NumberOnly => {
            client
                .set_number_override(&ours, Some(secrets.verify_token))
                .await
                .map_err(|e| meta_error(e, "this number's webhook override", Some(&test)))?;
            state::record_registration(
                store.conn(),
                Level::Number,
                &ours,
                before.app_url.as_deref(),
                before
                    .number_override
                    .clone()
                    .filter(|u| !was_ours(u))
                    .or(known.previous_number_url.clone())
                    .as_deref(),
            )?;
            if let Some(a) = &before.app_url.clone().filter(|u| !was_ours(u)) {
                warnings.push(format!(
                    "WhatsApp's \"Stop marketing\" events, template updates and account events keep going to {a} (the app's callback): overrides carry only customers' messages and statuses. OptDesk reads template status and the quality rating from Meta every hour instead; \"Stop marketing\" still reaches OptDesk as error 131050 when a message is refused."
                ));
            }
            Level::Number
        }
        Choice::Ask | Choice::Replace => {
            let mut fields: Vec<String> = before.app_fields.clone();
            for f in FIELDS {
                if !fields.iter().any(|x| x == f) {
                    fields.push(f.to_string());
                }
            }
            client
                .set_app_subscription(
                    &app_id,
                    secrets.app_secret,
                    &ours,
                    secrets.verify_token,
                    &fields,
                )
                .await
                .map_err(|e| meta_error(e, "the app's webhook callback", Some(&test)))?;
            // Overrides send messages elsewhere whatever the app's callback says: clear those
            // the owner chose to replace, and OptDesk's own old one.
            if let Some(o) = &before.number_override {
                if choice == Choice::Replace || was_ours(o) {
                    client
                        .set_number_override("", None)
                        .await
                        .map_err(|e| meta_error(e, "this number's webhook override", None))?;
                }
            }
            if before
                .waba_override
                .as_deref()
                .is_some_and(|o| choice == Choice::Replace || was_ours(o))
            {
                client
                    .subscribe_app()
                    .await
                    .map_err(|e| meta_error(e, "the WhatsApp Business Account's override", None))?;
            }
            let previous_app = known.previous_app_url.clone().or(foreign_app.clone());
            state::record_registration(
                store.conn(),
                Level::App,
                &ours,
                previous_app.as_deref(),
                None,
            )?;
            if let Some(a) = &foreign_app {
                warnings.push(format!(
                    "OptDesk replaced the app's callback, which was {a}: that system no longer receives this app's webhooks; `optdesk webhook disconnect` cannot give it back (only that system knows its verify token)"
                ));
            }
            Level::App
        }
    };
    // 4. Read it back: what Meta says now is what the owner is told.
    let routing = read_routing(store, client, secrets.app_secret, &ours).await?;
    state::record_routing(store.conn(), &routing, None)?;
    for r in routing.routes() {
        if !r.reaches_optdesk {
            if let Some(n) = &r.note {
                warnings.push(format!("{} do not reach OptDesk: {n}", r.label));
            }
        }
    }
    Ok(Outcome::Connected(Box::new(ConnectReport {
        callback_url: ours,
        self_test: test,
        level,
        routing,
        warnings,
        took_ms: started.elapsed().as_millis() as u64,
    })))
}

async fn app_id_after_subscribing(client: &Client) -> Result<Option<String>> {
    let mut apps = client
        .subscribed_apps()
        .await
        .map_err(|e| read(e, "the apps subscribed to the WhatsApp Business Account"))?;
    Ok(if apps.len() == 1 {
        apps.remove(0).app_id
    } else {
        None
    })
}

/// The routing now, compared with what OptDesk left: the drift sentence, kept for the banner.
pub async fn check(
    store: &mut Store,
    client: &Client,
    app_secret: &Secret,
) -> Result<Option<(Routing, Option<String>)>> {
    let known = state::load(store.conn())?;
    let (Some((_, ours)), Some(baseline)) = (known.registered.clone(), known.routing.clone())
    else {
        return Ok(None); // never connected: nothing to compare with
    };
    let now = read_routing(store, client, app_secret, &ours).await?;
    let drift = routing::drift(&baseline, &now);
    state::record_check(store.conn(), drift.as_deref())?;
    Ok(Some((now, drift)))
}

/// Removes what OptDesk set, and only that; never unsubscribes the app from the WABA.
/// What was done, in sentences.
pub async fn disconnect(
    store: &mut Store,
    client: &Client,
    app_secret: &Secret,
) -> Result<Vec<String>> {
    let known = state::load(store.conn())?;
    let Some((level, url)) = known.registered.clone() else {
        return Ok(vec![
            "OptDesk has not set any webhook callback with Meta: nothing to remove.".into(),
        ]);
    };
    let mut done = Vec::new();
    let now = read_routing(store, client, app_secret, &url).await?;
    match level {
        Level::Number => {
            if now
                .number_override
                .as_deref()
                .is_some_and(|o| same_url(o, &url))
            {
                client
                    .set_number_override("", None)
                    .await
                    .map_err(|e| meta_error(e, "this number's webhook override", None))?;
                done.push(format!("Removed this number's override ({url}): its messages go to the app's callback again."));
            } else {
                done.push(
                    "This number's override no longer pointed at OptDesk; left as it is.".into(),
                );
            }
        }
        Level::App => {
            let still_ours = now.app_url.as_deref().is_some_and(|a| same_url(a, &url));
            match (&known.previous_app_url, still_ours) {
                (_, false) => done.push("The app's callback no longer points at OptDesk; left as it is.".into()),
                (Some(prev), true) => done.push(format!(
                    "The app's callback still points at OptDesk: it was {prev} before, which only that system can set again (OptDesk does not know its verify token). Set it there, or in the App Dashboard → WhatsApp → Configuration."
                )),
                (None, true) => {
                    let app_id = settings::get(store.conn(), "app_id")?.ok_or_else(|| Error::invalid("no app_id is set"))?;
                    client
                        .delete_app_subscription(&app_id, app_secret)
                        .await
                        .map_err(|e| meta_error(e, "the app's webhook callback", None))?;
                    done.push(format!("Removed the app's webhook callback ({url}), which OptDesk had set."));
                }
            }
        }
    }
    state::clear_registration(store.conn())?;
    done.push("The app stays subscribed to the WhatsApp Business Account.".into());
    Ok(done)
}

/// Where template and account events go to another system: reads what they would have said.
pub async fn poll_instead(store: &mut Store, client: &Client) -> Result<()> {
    let templates = client
        .list_templates()
        .await
        .map_err(|e| read(e, "the templates"))?;
    crate::templates::sync(store, &templates)?;
    let info = client
        .phone_number_info()
        .await
        .map_err(|e| read(e, "the phone number's quality rating"))?;
    if let Some(limit) = &info.whatsapp_business_manager_messaging_limit {
        settings::set(store.conn(), "messaging_limit", limit)?;
    }
    Ok(())
}
