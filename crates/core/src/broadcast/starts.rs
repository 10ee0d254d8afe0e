//! What a start knew about opt-outs that may be waiting elsewhere: the starts that went ahead
//! without collecting the relay mailbox (kept on the broadcast), and, outside relay mode, when
//! the receiver could not be reached within Meta's 7 days of retries.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::error::Result;
use crate::settings;
use crate::time;

/// Outside relay mode (where the drain collects what waited), when the receiver could not be
/// reached within Meta's 7 days of retries: opt-outs sent then may still arrive.
pub fn offline_warning(db: &impl crate::store::Db) -> Result<Option<String>> {
    let conn = db.connection();
    if settings::get(conn, "webhook_mode")?.as_deref() == Some("relay") {
        return Ok(None);
    }
    let windows = crate::reachability::uptime::offline(conn, &time::now())?;
    Ok(crate::reachability::uptime::describe(&windows))
}

/// Keeps on the broadcast that one start went ahead without collecting the relay mailbox, and why.
pub fn record_started_without_relay(conn: &Connection, id: i64, why: &str) -> Result<()> {
    let mut starts = started_without_relay(conn, id)?;
    starts.push(StartWithoutRelay {
        at: crate::time::to_db(&crate::time::now()),
        why: why.to_string(),
    });
    conn.execute(
        "UPDATE broadcasts SET started_without_relay = ?1 WHERE id = ?2",
        params![serde_json::to_string(&starts).unwrap_or_default(), id],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StartWithoutRelay {
    pub at: String,
    pub why: String,
}

/// The starts that went ahead without collecting the relay mailbox.
pub fn started_without_relay(conn: &Connection, id: i64) -> Result<Vec<StartWithoutRelay>> {
    let json: Option<String> = conn.query_row(
        "SELECT started_without_relay FROM broadcasts WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}
