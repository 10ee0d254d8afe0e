//! Customers' messages: keyword replies (STOP, START, HELP, and the ones for review), opt-out
//! buttons, and handing sign-up codes and number changes to their own modules.

use rusqlite::{params, OptionalExtension};

use super::payload::{Content, Message};
use super::process::Processor;
use super::sender::{self, Evidence, ReplyKind, Sender};
use super::{numbers, signups};
use crate::error::Result;
use crate::keywords::{self, Class};
use crate::model::{EventState, SourceKind, Topic};
use crate::store::Tx;
use crate::time;

/// What a message was taken to be, kept beside it in `inbound_messages`.
pub(super) type Verdict = (Option<&'static str>, Option<String>);

/// Handles one inbound message, once per message id.
pub(super) fn handle(tx: &Tx<'_>, p: &Processor, inbox_id: i64, m: &Message) -> Result<()> {
    let at = m.sent_at.unwrap_or_else(time::now);
    let text = m.text().map(str::to_string);
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO inbound_messages (wamid, inbox_id, from_wa_id, from_user_id, kind, text, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![m.id, inbox_id, m.from, m.from_user_id, m.kind, text, time::to_db(&at)])?;
    if fresh == 0 {
        return Ok(()); // seen before: Meta delivered it again
    }
    let s = sender::find(tx, m.from.as_deref(), m.from_user_id.as_deref())?;
    if let Some(c) = &s.contact {
        crate::contacts::wrote(tx, c.0)?; // an experiment hold (130472) ends when they write
    }
    let (verdict, matched): Verdict = match &m.content {
        Content::Text { .. } => {
            let body = text.as_deref().unwrap_or("");
            match crate::signup::find(tx, body)? {
                Some(found) => signups::handle(tx, p, &s, found, body, m, &at)?,
                None => keyword(tx, p, &s, body, m, &at)?,
            }
        }
        Content::Button { button } => button_tap(
            tx,
            p,
            &s,
            button.text.as_deref(),
            button.payload.as_deref(),
            m,
            &at,
        )?,
        Content::Interactive { interactive } => {
            let r = interactive.reply();
            let (label, id) = (
                r.and_then(|r| r.title.as_deref()),
                r.and_then(|r| r.id.as_deref()),
            );
            button_tap(tx, p, &s, label, id, m, &at)?
        }
        Content::System { system } => {
            numbers::handle(tx, &s, system, &m.id, text.as_deref().unwrap_or(""), &at)?;
            (None, None)
        }
        Content::Other => (None, None),
    };
    tx.prepare_cached(
        "UPDATE inbound_messages SET contact_id = ?1, verdict = ?2, matched = ?3 WHERE wamid = ?4",
    )?
    .execute(params![
        s.contact.as_ref().map(|c| c.0 .0),
        verdict,
        matched,
        m.id
    ])?;
    Ok(())
}

fn keyword(
    tx: &Tx<'_>,
    p: &Processor,
    s: &Sender,
    body: &str,
    m: &Message,
    at: &time::Timestamp,
) -> Result<Verdict> {
    let v = p.rules.classify(body);
    let ev = Evidence {
        kind: SourceKind::Keyword,
        detail: "keyword reply",
        proof: Some(body),
        reference: &m.id,
        at: *at,
    };
    match v.class {
        Class::OptOut => {
            let event = sender::opt_out(tx, s, &[Topic::Marketing, Topic::Utility], &ev)?;
            sender::queue_reply(
                tx,
                ReplyKind::Confirmation,
                s,
                &m.id,
                at,
                event,
                &p.confirmation,
            )?;
        }
        Class::OptIn => restore_keyword_opt_outs(tx, s, &ev)?,
        Class::Help => sender::queue_reply(tx, ReplyKind::Help, s, &m.id, at, None, &p.help)?,
        Class::Review => sender::review(tx, s, &m.id, body, v.matched.as_deref(), &ev)?,
        Class::None => {}
    }
    Ok((Some(v.class.as_str()), v.matched))
}

/// Whether a tapped button is an opt-out: one of the shop's payloads, Meta's "Stop promotions"
/// in any language, or a label naming an opt-out word.
pub(super) fn is_stop_button(p: &Processor, label: Option<&str>, payload: Option<&str>) -> bool {
    payload.is_some_and(|pl| p.optout_payloads.iter().any(|o| o == pl))
        || [label, payload]
            .into_iter()
            .flatten()
            .any(|t| keywords::is_meta_stop_button(t) || keywords::strong_opt_out_in(t).is_some())
}

fn button_tap(
    tx: &Tx<'_>,
    p: &Processor,
    s: &Sender,
    label: Option<&str>,
    payload: Option<&str>,
    m: &Message,
    at: &time::Timestamp,
) -> Result<Verdict> {
    if !is_stop_button(p, label, payload) {
        return Ok((Some("none"), None));
    }
    let proof = label.or(payload).unwrap_or("");
    let ev = Evidence {
        kind: SourceKind::Button,
        detail: "opt-out button",
        proof: Some(proof),
        reference: &m.id,
        at: *at,
    };
    let event = sender::opt_out(tx, s, &[Topic::Marketing], &ev)?;
    sender::queue_reply(
        tx,
        ReplyKind::Confirmation,
        s,
        &m.id,
        at,
        event,
        &p.confirmation,
    )?;
    Ok((Some("opt-out"), Some(proof.to_string())))
}

/// START/UNSTOP/YES: restores exactly the topics whose latest event is a keyword opt-out.
fn restore_keyword_opt_outs(tx: &Tx<'_>, s: &Sender, ev: &Evidence<'_>) -> Result<()> {
    let Some(contact) = &s.contact else {
        return Ok(());
    };
    for topic in [Topic::Marketing, Topic::Utility] {
        let latest: Option<(String, String)> = tx
            .query_row(
                "SELECT state, source_kind FROM consent_events WHERE contact_id = ?1 AND subject = ?2
                 ORDER BY id DESC LIMIT 1",
                params![contact.0 .0, topic.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if latest
            .as_ref()
            .is_some_and(|(st, k)| st == "opted_out" && k == "keyword")
        {
            sender::set_subject(tx, contact, topic.subject(), EventState::OptedIn, ev)?;
        }
    }
    Ok(())
}

/// An erased person's messages lose their text and their ids; how many.
pub(crate) fn erase_from(
    conn: &rusqlite::Connection,
    contact: crate::model::ContactId,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE inbound_messages SET text = NULL, from_wa_id = NULL, from_user_id = NULL WHERE contact_id = ?1",
        [contact.0],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keywords::Rules;

    fn processor() -> Processor {
        Processor {
            rules: Rules::default(),
            optout_payloads: vec!["OPTDESK_STOP".into()],
            confirmation: "bye".into(),
            help: "help".into(),
            welcome: "hi".into(),
            guard_per_hour: 200,
        }
    }

    #[test]
    fn stop_buttons() {
        let p = processor();
        assert!(is_stop_button(&p, Some("Stop promotions"), None));
        assert!(is_stop_button(&p, Some("Anything"), Some("OPTDESK_STOP")));
        assert!(is_stop_button(&p, Some("STOP"), None));
        assert!(!is_stop_button(&p, Some("No"), Some("callback_data")));
        assert!(!is_stop_button(&p, None, None));
    }
}
