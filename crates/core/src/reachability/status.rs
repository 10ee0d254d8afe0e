//! `optdesk webhook status` and the app's Connect card: the mode, the public side, the routing
//! per kind of event (read live from Meta when it can be), what changed elsewhere, the tunnel's
//! monthly count, and when the last webhook and the last customer's message arrived.

use serde::Serialize;

use super::connect;
use super::endpoint::Mode;
use super::ngrok::quota_warning;
use super::routing::Routing;
use super::state::{self, Level};
use crate::error::Result;
use crate::secrets::Secret;
use crate::settings;
use crate::store::Store;
use crate::webhook;
use crate::whatsapp::Client;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub mode: Mode,
    /// What the mode costs and risks, in words.
    pub mode_tradeoffs: String,
    /// The public base URL the receiving process serves (or `public_url` in manual mode).
    pub endpoint_url: Option<String>,
    /// `up`, `external` (manual: someone else runs it), `down: …`, or none before any start.
    pub endpoint_state: Option<String>,
    pub endpoint_since: Option<String>,
    pub registered_level: Option<Level>,
    pub registered_url: Option<String>,
    /// Read live now; else the one OptDesk left at its last connect.
    pub routing: Option<Routing>,
    pub routing_live: bool,
    /// Why the live read failed, when it did.
    pub routing_error: Option<String>,
    pub routing_checked_at: Option<String>,
    /// A change made outside OptDesk (the banner), if any.
    pub drift: Option<String>,
    /// Whatever reaches OptDesk is confirmed: messages and "Stop marketing" both arrive here.
    pub confirmed: bool,
    pub tunnel_requests_this_month: u64,
    pub tunnel_monthly_quota: Option<u64>,
    pub quota_warning: Option<String>,
    pub last_webhook_at: Option<String>,
    /// The newest customer's message (after the owner was asked to send "test", it is the proof).
    pub last_message_at: Option<String>,
    pub test_asked_at: Option<String>,
    /// A message arrived after the owner was asked to send "test".
    pub test_arrived: bool,
    /// Relay mode: how collecting the mailbox goes.
    pub relay: Option<RelayHealth>,
}

/// What the owner needs to know about the relay mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct RelayHealth {
    pub mailbox_url: Option<String>,
    /// The last pull that reached the relay.
    pub last_pull_at: Option<String>,
    /// Pulls have failed since then, with the last error.
    pub failing_since: Option<String>,
    pub error: Option<String>,
    /// Bodies the relay said it holds that this database has not taken yet.
    pub waiting: i64,
    /// Bodies refused because Meta's signature did not match (forged, or altered on the way).
    pub refused: i64,
    pub refused_at: Option<String>,
    /// What the relay can and cannot do, in words.
    pub trust: String,
}

/// The status; reads the routing from Meta live when a client and the app secret are given.
pub async fn status(store: &mut Store, live: Option<(&Client, &Secret)>) -> Result<Status> {
    let mode = Mode::parse(
        &settings::get(store.conn(), "webhook_mode")?.unwrap_or_else(|| "manual".into()),
    )?;
    let mut routing_error = None;
    let mut routing_live = false;
    let mut routing = None;
    if let Some((client, secret)) = live {
        match connect::check(store, client, secret).await {
            Ok(Some((r, _))) => {
                routing = Some(r);
                routing_live = true;
            }
            Ok(None) => {}
            Err(e) => routing_error = Some(e.to_string()),
        }
    }
    let known = state::load(store.conn())?;
    let routing = routing.or(known.routing.clone());
    let quota = (mode == Mode::Ngrok)
        .then(|| settings::get(store.conn(), "ngrok_monthly_requests"))
        .transpose()?
        .flatten()
        .and_then(|q| q.parse().ok());
    let this_month = crate::time::now().format("%Y-%m").to_string();
    let carried = if known.tunnel_month.as_deref() == Some(this_month.as_str()) {
        known.tunnel_requests
    } else {
        0
    };
    let last_message_at: Option<String> = store.conn().query_row(
        "SELECT max(i.received_at) FROM inbound_messages m JOIN inbox i ON i.id = m.inbox_id",
        [],
        |r| r.get(0),
    )?;
    let test_arrived = match (&known.test_asked_at, &last_message_at) {
        (Some(asked), Some(last)) => last >= asked,
        _ => false,
    };
    let endpoint_url = match mode {
        Mode::Manual => settings::get(store.conn(), "public_url")?,
        _ => known.endpoint_url.clone(),
    };
    Ok(Status {
        mode,
        mode_tradeoffs: mode.tradeoffs().into(),
        endpoint_url,
        endpoint_state: known.endpoint_state.clone(),
        endpoint_since: known.endpoint_since.clone(),
        registered_level: known.registered.as_ref().map(|(l, _)| *l),
        registered_url: known.registered.as_ref().map(|(_, u)| u.clone()),
        confirmed: routing.as_ref().is_some_and(Routing::confirmed) && known.drift.is_none(),
        routing,
        routing_live,
        routing_error,
        routing_checked_at: known.routing_checked_at.clone(),
        drift: known.drift.clone(),
        tunnel_requests_this_month: carried,
        tunnel_monthly_quota: quota,
        quota_warning: quota.and_then(|q| quota_warning(carried, q)),
        last_webhook_at: webhook::last_event_at(store)?,
        last_message_at,
        test_asked_at: known.test_asked_at,
        test_arrived,
        relay: (mode == Mode::Relay)
            .then(|| crate::relay::state::load(store.conn()))
            .transpose()?
            .map(|r| RelayHealth {
                mailbox_url: r.mailbox_url,
                last_pull_at: r.pulled_at,
                failing_since: r.failing_since,
                error: r.error,
                waiting: (r.newest - r.cursor).max(0),
                refused: r.refused,
                refused_at: r.refused_at,
                trust: "The relay keeps webhooks sealed to this PC's key while it is off. It can delay or drop them, but not forge or alter them: OptDesk checks Meta's signature on each (unless you gave the relay the app secret).".into(),
            }),
    })
}
