//! The `webhook_state` table's one owner: what OptDesk registered with Meta, the routing it
//! last read back, the endpoint the receiving process serves, and a tunnel's monthly count.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::routing::Routing;
use crate::error::Result;
use crate::time::{self, Timestamp};

/// Which of Meta's levels OptDesk set its callback at.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The app's callback (every field).
    App,
    /// This phone number's override (`messages` only).
    Number,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::App => "app",
            Level::Number => "number",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s {
            "app" => Some(Level::App),
            "number" => Some(Level::Number),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WebhookState {
    pub registered: Option<(Level, String)>,
    pub previous_app_url: Option<String>,
    pub previous_number_url: Option<String>,
    pub registered_at: Option<String>,
    pub routing: Option<Routing>,
    pub routing_checked_at: Option<String>,
    pub drift: Option<String>,
    pub endpoint_mode: Option<String>,
    pub endpoint_url: Option<String>,
    pub endpoint_state: Option<String>,
    pub endpoint_since: Option<String>,
    pub tunnel_month: Option<String>,
    pub tunnel_requests: u64,
    pub test_asked_at: Option<String>,
}

pub fn load(db: &impl crate::store::Db) -> Result<WebhookState> {
    let conn = db.connection();
    let row = conn
        .query_row(
            "SELECT registered_level, registered_url, previous_app_url, previous_number_url,
                    registered_at, routing, routing_checked_at, drift, endpoint_mode, endpoint_url,
                    endpoint_state, endpoint_since, tunnel_month, tunnel_requests, test_asked_at
             FROM webhook_state WHERE id = 1",
            [],
            |r| {
                let level: Option<String> = r.get(0)?;
                let url: Option<String> = r.get(1)?;
                let routing: Option<String> = r.get(5)?;
                Ok(WebhookState {
                    registered: level.as_deref().and_then(Level::parse).zip(url),
                    previous_app_url: r.get(2)?,
                    previous_number_url: r.get(3)?,
                    registered_at: r.get(4)?,
                    routing: routing.and_then(|j| serde_json::from_str(&j).ok()),
                    routing_checked_at: r.get(6)?,
                    drift: r.get(7)?,
                    endpoint_mode: r.get(8)?,
                    endpoint_url: r.get(9)?,
                    endpoint_state: r.get(10)?,
                    endpoint_since: r.get(11)?,
                    tunnel_month: r.get(12)?,
                    tunnel_requests: r.get::<_, i64>(13)?.max(0) as u64,
                    test_asked_at: r.get(14)?,
                })
            },
        )
        .optional()?;
    Ok(row.unwrap_or_default())
}

/// OptDesk set its callback at `level`; what was there before is kept (URLs only).
pub fn record_registration(
    conn: &Connection,
    level: Level,
    url: &str,
    previous_app: Option<&str>,
    previous_number: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE webhook_state SET registered_level = ?1, registered_url = ?2,
            previous_app_url = ?3, previous_number_url = ?4, registered_at = ?5, drift = NULL
         WHERE id = 1",
        params![
            level.as_str(),
            url,
            previous_app,
            previous_number,
            time::to_db(&time::now())
        ],
    )?;
    Ok(())
}

pub fn clear_registration(conn: &Connection) -> Result<()> {
    conn.execute(
        "UPDATE webhook_state SET registered_level = NULL, registered_url = NULL,
            previous_app_url = NULL, previous_number_url = NULL, registered_at = NULL, drift = NULL
         WHERE id = 1",
        [],
    )?;
    Ok(())
}

/// The routing as just read back from Meta, and what changed elsewhere (None: nothing).
pub fn record_routing(conn: &Connection, routing: &Routing, drift: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE webhook_state SET routing = ?1, routing_checked_at = ?2, drift = ?3 WHERE id = 1",
        params![
            serde_json::to_string(routing).unwrap_or_default(),
            time::to_db(&time::now()),
            drift
        ],
    )?;
    Ok(())
}

/// A later check against the routing OptDesk left: only the drift and the time change, so a
/// change made elsewhere stays in the banner until the owner connects again.
pub fn record_check(conn: &Connection, drift: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE webhook_state SET routing_checked_at = ?1, drift = ?2 WHERE id = 1",
        params![time::to_db(&time::now()), drift],
    )?;
    Ok(())
}

/// The receiving process says what its public side is doing.
pub fn record_endpoint(
    conn: &Connection,
    mode: &str,
    url: Option<&str>,
    state: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE webhook_state SET endpoint_mode = ?1, endpoint_url = ?2,
            endpoint_since = CASE WHEN endpoint_state IS ?3 AND endpoint_url IS ?2 THEN endpoint_since ELSE ?4 END,
            endpoint_state = ?3
         WHERE id = 1",
        params![mode, url, state, time::to_db(&time::now())],
    )?;
    Ok(())
}

/// Adds requests a tunnel carried; the count starts again each calendar month (UTC).
/// Returns this month's total.
pub fn add_tunnel_requests(conn: &Connection, n: u64, now: &Timestamp) -> Result<u64> {
    let month = now.format("%Y-%m").to_string();
    conn.execute(
        "UPDATE webhook_state SET
            tunnel_requests = CASE WHEN tunnel_month IS ?1 THEN tunnel_requests + ?2 ELSE ?2 END,
            tunnel_month = ?1
         WHERE id = 1",
        params![month, n as i64],
    )?;
    Ok(load(conn)?.tunnel_requests)
}

pub fn record_test_asked(db: &impl crate::store::Db) -> Result<String> {
    let conn = db.writer()?;
    let now = time::to_db(&time::now());
    conn.execute(
        "UPDATE webhook_state SET test_asked_at = ?1 WHERE id = 1",
        [&now],
    )?;
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_tunnels_count_starts_again_each_month() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        let c = store.conn();
        let nov = chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 23, 0, 0)
            .unwrap();
        assert_eq!(add_tunnel_requests(c, 10, &nov).unwrap(), 10);
        assert_eq!(add_tunnel_requests(c, 5, &nov).unwrap(), 15);
        let dec = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 1).unwrap();
        assert_eq!(add_tunnel_requests(c, 3, &dec).unwrap(), 3, "a new month");
        assert_eq!(load(c).unwrap().tunnel_month.as_deref(), Some("2026-12"));
    }

    #[test]
    fn registration_and_drift_are_kept_until_connected_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        let c = store.conn();
        record_registration(
            c,
            Level::Number,
            "https://shop/webhook",
            Some("https://crm/hook"),
            None,
        )
        .unwrap();
        record_check(c, Some("changed")).unwrap();
        let k = load(c).unwrap();
        assert_eq!(
            k.registered,
            Some((Level::Number, "https://shop/webhook".into()))
        );
        assert_eq!(k.previous_app_url.as_deref(), Some("https://crm/hook"));
        assert_eq!(k.drift.as_deref(), Some("changed"));
        record_registration(c, Level::App, "https://shop/webhook", None, None).unwrap();
        assert_eq!(
            load(c).unwrap().drift,
            None,
            "connecting again clears the banner"
        );
        clear_registration(c).unwrap();
        assert_eq!(load(c).unwrap().registered, None);
    }
}
