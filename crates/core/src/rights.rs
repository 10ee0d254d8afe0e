//! People's rights over their data: access (a self-contained proof of everything held about one
//! person, and of their consent) and erasure (their data removed, while a salted hash of their
//! number stays on the suppression list so they are never re-imported as opted in or messaged by
//! accident, and the ledger still verifies).

use serde::Serialize;

use crate::contacts::{self, Contact};
use crate::error::Result;
use crate::ledger::{self, Event};
use crate::store::Store;
use crate::suppression::{self, Reason};
use crate::time;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub broadcast: i64,
    pub name: String,
    pub template: String,
    pub state: crate::model::RecipientState,
    pub reason: Option<String>,
    pub wamid: Option<String>,
    pub delivery_status: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub kind: crate::model::ReplyKind,
    pub in_reply_to: String,
    pub body: String,
    pub state: crate::model::ReplyState,
    pub delivery_status: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Inbound {
    pub wamid: String,
    pub kind: String,
    pub text: Option<String>,
    pub sent_at: String,
    pub verdict: Option<String>,
}

/// Everything OptDesk holds about one person, and whether the ledger vouches for it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub generated_at: String,
    pub contact: Contact,
    /// Every consent event, oldest first.
    pub events: Vec<Event>,
    /// The whole ledger verified (the chain runs through everyone's events).
    pub ledger_verified: bool,
    pub ledger_problem: Option<String>,
    pub messages_sent: Vec<SentMessage>,
    pub replies: Vec<Reply>,
    pub messages_received: Vec<Inbound>,
}

pub fn proof(store: &Store, e164: &str) -> Result<Proof> {
    let conn = store.conn();
    let contact = contacts::require(conn, e164)?;
    let events = ledger::history(conn, contact.id)?;
    let check = ledger::verify(store)?;
    let messages_sent = conn
        .prepare(
            "SELECT b.id, b.name, b.template_name, r.state, r.reason, r.wamid, r.delivery_status
             FROM broadcast_recipients r JOIN broadcasts b ON b.id = r.broadcast_id
             WHERE r.contact_id = ?1 ORDER BY b.id",
        )?
        .query_map([contact.id.0], |r| {
            Ok(SentMessage {
                broadcast: r.get(0)?,
                name: r.get(1)?,
                template: r.get(2)?,
                state: r.get(3)?,
                reason: r.get(4)?,
                wamid: r.get(5)?,
                delivery_status: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let replies = conn
        .prepare("SELECT kind, in_reply_to, body, state, delivery_status, error, created_at FROM outbound_messages WHERE contact_id = ?1 ORDER BY id")?
        .query_map([contact.id.0], |r| {
            Ok(Reply { kind: r.get(0)?, in_reply_to: r.get(1)?, body: r.get(2)?, state: r.get(3)?, delivery_status: r.get(4)?, error: r.get(5)?, created_at: r.get(6)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let messages_received = conn
        .prepare("SELECT wamid, kind, text, sent_at, verdict FROM inbound_messages WHERE contact_id = ?1 ORDER BY sent_at")?
        .query_map([contact.id.0], |r| Ok(Inbound { wamid: r.get(0)?, kind: r.get(1)?, text: r.get(2)?, sent_at: r.get(3)?, verdict: r.get(4)? }))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Proof {
        generated_at: time::to_db(&time::now()),
        ledger_verified: check.ok(),
        ledger_problem: check.problem.map(|p| p.message),
        contact,
        events,
        messages_sent,
        replies,
        messages_received,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The proof as a page a person can read and print.
pub fn proof_html(p: &Proof) -> String {
    let c = &p.contact;
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    let mut h = String::new();
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>Consent record</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top}th{background:#eee}</style></head><body>");
    h.push_str(&format!(
        "<h1>Consent record for {}{}</h1>",
        esc(&c.phone),
        if c.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&c.name))
        }
    ));
    h.push_str(&format!(
        "<p>Generated {}. Marketing: <b>{}</b>. Utility: <b>{}</b>.{}{}</p>",
        esc(&p.generated_at),
        crate::ConsentState::label(c.marketing),
        crate::ConsentState::label(c.utility),
        if c.meta_blocked {
            " Stopped marketing inside WhatsApp."
        } else {
            ""
        },
        if c.suppressed {
            " On the suppression list."
        } else {
            ""
        }
    ));
    h.push_str(&format!(
        "<p>Ledger check: <b>{}</b></p>",
        if p.ledger_verified {
            "the hash chain is intact and the state matches it".to_string()
        } else {
            esc(p.ledger_problem.as_deref().unwrap_or("failed"))
        }
    ));
    h.push_str("<h2>Consent history</h2><table><tr><th>#</th><th>When</th><th>What</th><th>How</th><th>Words / evidence</th><th>Recorded by</th></tr>");
    for e in &p.events {
        h.push_str(&format!("<tr><td>{}</td><td>{}<br><small>recorded {}</small></td><td>{} → {}</td><td>{}<br>{}</td><td>{}<br><small>{}</small></td><td>{}</td></tr>",
            e.id.0, esc(&e.occurred_at), esc(&e.recorded_at), e.subject, e.state, e.source_kind, opt(&e.source_detail), opt(&e.proof), opt(&e.evidence_ref), esc(&e.actor)));
    }
    h.push_str("</table><h2>Messages sent</h2><table><tr><th>Broadcast</th><th>Template</th><th>State</th><th>Delivery</th></tr>");
    for m in &p.messages_sent {
        h.push_str(&format!(
            "<tr><td>{} {}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
            m.broadcast,
            esc(&m.name),
            esc(&m.template),
            esc(m.state.as_str()),
            opt(&m.reason),
            opt(&m.delivery_status)
        ));
    }
    h.push_str("</table><h2>Replies (confirmations, help, welcome)</h2><table><tr><th>When</th><th>Kind</th><th>Text</th><th>State</th><th>Delivery</th></tr>");
    for r in &p.replies {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
            esc(&r.created_at),
            esc(r.kind.as_str()),
            esc(&r.body),
            esc(r.state.as_str()),
            opt(&r.error),
            opt(&r.delivery_status)
        ));
    }
    h.push_str("</table><h2>Messages received</h2><table><tr><th>When</th><th>Message</th><th>Read as</th><th>Id</th></tr>");
    for m in &p.messages_received {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.sent_at),
            opt(&m.text),
            opt(&m.verdict),
            esc(&m.wamid)
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}

#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    pub events_redacted: usize,
    pub messages_redacted: usize,
}

/// Erases a person: name, tags, message texts and the evidence wording go; the ledger's events
/// stay with their hashes (redacted, so the chain still verifies), and the number's salted hash
/// stays on the suppression list.
pub fn erase(store: &mut Store, e164: &str) -> Result<Erased> {
    store.with_tx(|tx| {
        let c = contacts::require(tx, e164)?;
        let now = time::now();
        let now_db = time::to_db(&now);
        suppression::add(tx, tx.salt(), e164, Reason::Erased, None, &now)?;
        let events = ledger::redact(tx, ledger::Redact::Contact(c.id), &now)?;
        let messages = crate::webhook::erase_from(tx, c.id)? + crate::replies::erase_to(tx, c.id)?;
        crate::optouts::erase_reviews(tx, c.id)?;
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        crate::webhook::erase_recipient(tx, &digits)?;
        contacts::erase(tx, c.id, &now_db)?;
        Ok(Erased {
            events_redacted: events,
            messages_redacted: messages,
        })
    })
}
