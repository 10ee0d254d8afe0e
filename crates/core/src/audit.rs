//! `optdesk audit`: the checks every guide says to run on opt-out data, in one place, each with
//! what to do when it needs the owner's attention.

use serde::Serialize;

use crate::error::Result;
use crate::ledger;
use crate::optouts;
use crate::store::Store;
use crate::templates;
use crate::time;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found, in a sentence.
    pub finding: String,
    /// What to do, when not ok.
    pub action: Option<String>,
}

fn check(name: &'static str, ok: bool, finding: String, action: &str) -> Check {
    Check {
        name,
        ok,
        finding,
        action: (!ok).then(|| action.to_string()),
    }
}

/// The confirmation rule counts from the timestamps Meta puts on messages, so the PC's clock
/// must agree with Meta's. The smallest delay between a recent message's timestamp and its
/// arrival is the network's at best: far below zero means this clock is behind Meta's; far
/// above, for every recent message, that it is ahead (or that nothing arrives promptly).
fn clock_check(conn: &rusqlite::Connection) -> Result<Check> {
    let skew: Option<f64> = conn.query_row(
        "SELECT min((julianday(i.received_at) - julianday(m.sent_at)) * 86400.0)
         FROM (SELECT inbox_id, sent_at FROM inbound_messages ORDER BY rowid DESC LIMIT 50) m
         JOIN inbox i ON i.id = m.inbox_id",
        [],
        |r| r.get(0),
    )?;
    Ok(match skew {
        Some(s) if s < -60.0 => check("clock", false,
            format!("this PC's clock is about {} s behind WhatsApp's (messages arrive before they were sent)", -s as i64),
            "set the clock automatically (NTP): the 5-minute confirmation rule counts from WhatsApp's timestamps"),
        // Not a failure: late delivery (a PC that was off) looks the same.
        Some(s) if s > 60.0 => check("clock", true,
            format!("every recent message arrived at least {} s after WhatsApp's timestamp: this PC's clock may be ahead, or webhooks are reaching it late", s as i64),
            "set the clock automatically (NTP), and check `optdesk webhook status`"),
        Some(_) => check("clock", true, "this PC's clock agrees with WhatsApp's timestamps (within a minute)".into(), ""),
        None => check("clock", true, "no message yet to compare this PC's clock with WhatsApp's".into(), ""),
    })
}

pub fn run(store: &Store) -> Result<Vec<Check>> {
    let conn = store.conn();
    let count = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let mut out = Vec::new();

    // The background check's verdict when it is a day old at most, else a check now.
    let verdict = match crate::store::integrity::read(store.path()) {
        Some(v) if v.is_fresh(crate::store::integrity::DAY) => v,
        _ => store.check()?,
    };
    if !verdict.ok {
        let e = crate::store::integrity::damaged(store.path(), &verdict.summary);
        out.push(check(
            "integrity",
            false,
            e.to_string(),
            "restore the latest backup with `optdesk restore FILE`",
        ));
        return Ok(out);
    }
    out.push(check(
        "integrity",
        true,
        format!(
            "SQLite's integrity check passes (checked {})",
            &verdict.checked_at[..16.min(verdict.checked_at.len())].replace('T', " ")
        ),
        "",
    ));
    let h = crate::health::get(conn)?;
    out.push(match h.warning() {
        Some(w) => check(
            "number_health",
            false,
            w,
            "marketing broadcasts that were scheduled or sending are paused; read the last broadcasts' results (`optdesk broadcast results ID`), then resume one with `optdesk broadcast send ID`",
        ),
        None => check(
            "number_health",
            true,
            match (&h.quality, &h.messaging_limit) {
                (None, None) => "WhatsApp has not reported on the number's quality yet".into(),
                (q, l) => format!(
                    "quality {}, messaging limit {}",
                    q.as_deref().unwrap_or("not reported"),
                    l.as_deref().unwrap_or("not reported")
                ),
            },
            "",
        ),
    });
    if let Some(n) = crate::settings::quiet_hours_notice(conn)? {
        out.push(check(
            "quiet_hours",
            false,
            n.to_string(),
            "choose: `optdesk config set quiet_hours 21:00-08:00` or `optdesk config set quiet_hours off`",
        ));
    }
    let v = ledger::verify(store)?;
    out.push(match &v.problem {
        None => check("ledger", true, format!("{} events, hash chain intact, {} contacts' consent matches it", v.events, v.contacts), ""),
        Some(p) => check("ledger", false, p.message.clone(), "restore the latest backup (`optdesk restore FILE`) and find out who edited the database"),
    });

    let queued = count(
        "SELECT count(*) FROM broadcast_recipients r JOIN broadcasts b ON b.id = r.broadcast_id
         JOIN contacts c ON c.id = r.contact_id
         WHERE r.state = 'queued' AND b.state NOT IN ('finished', 'cancelled')
           AND (c.marketing = 'opted_out' AND upper(b.category) NOT IN ('UTILITY', 'AUTHENTICATION')
                OR c.utility = 'opted_out' AND upper(b.category) IN ('UTILITY', 'AUTHENTICATION'))",
    )?;
    out.push(check(
        "queued_after_opt_out",
        true,
        if queued == 0 { "no opted-out contact is waiting in a broadcast".into() } else {
            format!("{queued} opted-out contact(s) are still queued in unfinished broadcasts; the send gate will block each one when its turn comes")
        },
        "",
    ));

    let lacking = templates::lint(conn)?;
    out.push(check(
        "templates_way_out",
        lacking.is_empty(),
        if lacking.is_empty() { "every marketing template gives a way to opt out".into() } else {
            format!("{} marketing template(s) give no way to opt out: {}", lacking.len(),
                    lacking.iter().map(|t| format!("{} ({})", t.name, t.language)).collect::<Vec<_>>().join(", "))
        },
        "create versions with an opt-out footer (`optdesk templates create` adds it) and delete these in WhatsApp Manager",
    ));

    let red = templates::low_quality(conn)?;
    out.push(check(
        "templates_quality",
        red.is_empty(),
        if red.is_empty() {
            "no template has a low quality score from WhatsApp".into()
        } else {
            format!("WhatsApp scored {} template(s) low quality (red): {}; people are blocking or reporting them", red.len(), red.join(", "))
        },
        "send them to fewer people, or rewrite them: WhatsApp pauses a red template that stays red",
    ));

    let last: Option<String> =
        conn.query_row("SELECT max(received_at) FROM inbox", [], |r| r.get(0))?;
    let connected = crate::settings::get(conn, "phone_number_id")?.is_some();
    let hours = last
        .as_deref()
        .and_then(time::from_db)
        .map(|t| (time::now() - t).num_hours());
    out.push(match (connected, hours) {
        (false, _) => check("receiver", true, "WhatsApp is not connected, so no webhooks are expected".into(), ""),
        (true, None) => check("receiver", false, "no webhook has ever been received".into(),
            "run `optdesk serve` (or the app's receiver) behind an HTTPS tunnel and check it with `optdesk webhook test`"),
        (true, Some(h)) => check("receiver", h < 24, format!("the last webhook arrived {h} hour(s) ago"),
            "make sure the receiver is running: opt-outs may be waiting at Meta, which retries for up to 7 days"),
    });

    let unmatched = count("SELECT count(*) FROM suppressions WHERE reason = 'unmatched_opt_out'")?;
    out.push(check(
        "unmatched_opt_outs",
        true,
        format!("{unmatched} opt-out(s) came from numbers that are not contacts; they are kept on the suppression list, so those numbers can never be added as opted in"),
        "",
    ));

    let items = optouts::review_list(store, false)?;
    let open = items.len();
    let overdue = items.iter().filter(|i| i.business_days_left < 0).count();
    out.push(check(
        "review_queue",
        overdue == 0,
        format!("{open} message(s) await review, {overdue} of them older than the FCC's 10 business days"),
        "decide with `optdesk review accept ID` or `optdesk review dismiss ID`",
    ));

    let late = count("SELECT count(*) FROM outbound_messages WHERE kind = 'optout_confirmation' AND state IN ('skipped', 'failed', 'unknown') AND arrived_late = 0")?;
    out.push(check(
        "confirmations",
        late == 0,
        if late == 0 { "every opt-out confirmation that could still be sent went out within 5 minutes".into() } else {
            format!("{late} opt-out confirmation(s) were not sent within 5 minutes (see `optdesk optouts list`)")
        },
        "check the WhatsApp connection (`optdesk credentials test`) and that the receiver runs with it",
    ));
    // STOPs that Meta delivered more than 5 minutes after the customer sent them: recorded at
    // once, but no confirmation is allowed that late. Information, not a fault of the owner's.
    let arrived_late = count("SELECT count(*) FROM outbound_messages WHERE kind = 'optout_confirmation' AND arrived_late = 1")?;
    out.push(check(
        "late_stops",
        true,
        format!("{arrived_late} opt-out(s) reached OptDesk more than 5 minutes after the customer sent them: recorded at once, and not confirmed, since a confirmation may only go within 5 minutes"),
        "",
    ));
    out.push(clock_check(conn)?);
    Ok(out)
}
