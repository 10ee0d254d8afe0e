//! The `receiver_uptime` table's one owner: stretches of time when this PC's receiver could be
//! reached (its public side up, a tunnel within its quota), kept from the receiver's heartbeat.
//! Outside relay mode nothing keeps Meta's webhooks while the receiver is down; Meta retries for
//! up to 7 days in no promised order, so a broadcast says when OptDesk was offline in that time.

use chrono::{Duration, Local};
use rusqlite::{params, Connection};

use crate::error::Result;
use crate::time::{self, Timestamp};

/// Heartbeats come every 15 s: a longer silence than this is a time the receiver was down.
const GAP: Duration = Duration::seconds(90);
/// Meta retries a webhook for up to this long.
const RETRIES: Duration = Duration::days(7);

/// The receiver could be reached at `now`.
pub fn beat(conn: &Connection, mode: &str, now: &Timestamp) -> Result<()> {
    let now_db = time::to_db(now);
    let extended = conn
        .prepare_cached(
            "UPDATE receiver_uptime SET until = ?1
             WHERE id = (SELECT max(id) FROM receiver_uptime) AND mode = ?2 AND until >= ?3",
        )?
        .execute(params![now_db, mode, time::to_db(&(*now - GAP))])?;
    if extended == 0 {
        conn.prepare_cached(
            "INSERT INTO receiver_uptime (mode, since, until) VALUES (?1, ?2, ?2)",
        )?
        .execute(params![mode, now_db])?;
        conn.prepare_cached("DELETE FROM receiver_uptime WHERE until < ?1")?
            .execute([time::to_db(&(*now - RETRIES * 4))])?;
    }
    Ok(())
}

/// A time within Meta's retry window when the receiver could not be reached (`to`: None while
/// it still cannot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offline {
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

/// The offline stretches of the last 7 days as of `now`, oldest first. Nothing when the
/// receiver has never run (the app's header already says it is not receiving).
pub fn offline(conn: &Connection, now: &Timestamp) -> Result<Vec<Offline>> {
    let start = *now - RETRIES;
    let rows: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT since, until FROM receiver_uptime WHERE until >= ?1 ORDER BY since",
        )?
        .query_map([time::to_db(&start)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let rows: Vec<(Timestamp, Timestamp)> = rows
        .iter()
        .filter_map(|(a, b)| Some((time::from_db(a)?, time::from_db(b)?)))
        .collect();
    let ever: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM receiver_uptime)", [], |r| {
        r.get(0)
    })?;
    if rows.is_empty() {
        return Ok(if ever {
            vec![Offline {
                from: start,
                to: None,
            }]
        } else {
            vec![]
        });
    }
    let mut out = Vec::new();
    let before: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM receiver_uptime WHERE until < ?1)",
        [time::to_db(&start)],
        |r| r.get(0),
    )?;
    if before && rows[0].0 - start > GAP {
        out.push(Offline {
            from: start,
            to: Some(rows[0].0),
        });
    }
    for pair in rows.windows(2) {
        let (end, next) = (pair[0].1, pair[1].0);
        if next - end > GAP {
            out.push(Offline {
                from: end.max(start),
                to: Some(next),
            });
        }
    }
    let last = rows[rows.len() - 1].1;
    if *now - last > GAP {
        out.push(Offline {
            from: last,
            to: None,
        });
    }
    Ok(out)
}

/// The owner's sentence for a broadcast's preview and start, if OptDesk was offline.
pub fn describe(windows: &[Offline]) -> Option<String> {
    if windows.is_empty() {
        return None;
    }
    let at = |t: &Timestamp| t.with_timezone(&Local).format("%a %d %b %H:%M").to_string();
    let spans: Vec<String> = windows
        .iter()
        .map(|w| match &w.to {
            Some(to) => format!("from {} to {}", at(&w.from), at(to)),
            None => format!("since {} (it is not receiving now)", at(&w.from)),
        })
        .collect();
    Some(format!(
        "OptDesk was offline {}: opt-outs sent in that time may still arrive from WhatsApp, which retries for up to 7 days. A relay mailbox (`optdesk relay`) keeps them while this PC is off",
        spans.join(", and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
    }

    #[test]
    fn a_night_off_is_one_window_and_a_running_receiver_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        let c = store.conn();
        assert_eq!(
            offline(c, &t(9, 0)).unwrap(),
            vec![],
            "never ran: nothing to say here"
        );
        // Evening: up from 08:00 to 22:04, beating every 15 s.
        let mut at = t(8, 0);
        while at <= t(22, 4) {
            beat(c, "ngrok", &at).unwrap();
            at += Duration::seconds(15);
        }
        // Next morning from 08:57.
        let morning = t(22, 4) + Duration::minutes(653);
        beat(c, "ngrok", &morning).unwrap();
        beat(c, "ngrok", &(morning + Duration::seconds(15))).unwrap();
        let w = offline(c, &(morning + Duration::seconds(20))).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].to, Some(morning));
        assert!(describe(&w)
            .unwrap()
            .contains("may still arrive from WhatsApp"));
        // Later the receiver stops: offline "since", still.
        let w = offline(c, &(morning + Duration::minutes(30))).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].to, None);
        assert!(describe(&w).unwrap().contains("not receiving now"));
        // A week later only what is inside Meta's 7 days counts.
        let w = offline(c, &(morning + Duration::days(9))).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].to, None);
        let rows: i64 = c
            .query_row("SELECT count(*) FROM receiver_uptime", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2, "one row per stretch, not per beat");
    }
}
