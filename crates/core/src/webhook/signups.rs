//! A message carrying a sign-up code: the customer's own opt-in, with their message as proof.
//! An unknown or retired code, or a code beside an opt-out word, goes to review instead.

use super::messages::Verdict;
use super::payload::Message;
use super::process::Processor;
use super::sender::{self, Evidence, ReplyKind, Sender};
use crate::error::Result;
use crate::keywords::Class;
use crate::model::{EventState, SourceKind};
use crate::store::Tx;
use crate::suppression;
use crate::time::{self, Timestamp};

pub(super) fn handle(
    tx: &Tx<'_>,
    p: &Processor,
    s: &Sender,
    found: crate::signup::Found,
    body: &str,
    m: &Message,
    at: &Timestamp,
) -> Result<Verdict> {
    let wamid = m.id.as_str();
    let tag = format!("#{}", found.code);
    let verdict = p.rules.classify(body);
    let review_ev = Evidence {
        kind: SourceKind::Signup,
        detail: "sign-up message",
        proof: Some(body),
        reference: wamid,
        at: *at,
    };
    let (label, topic) = match found.source {
        Some((label, topic, false)) if !matches!(verdict.class, Class::OptOut | Class::Review) => {
            (label, topic)
        }
        _ => {
            sender::review(tx, s, wamid, body, Some(&tag), &review_ev)?;
            return Ok((Some("review"), Some(tag)));
        }
    };
    // The contact: known, or created from the number WhatsApp shared.
    let contact = match &s.contact {
        Some(c) => c.clone(),
        None => {
            let phone = match s
                .wa_id
                .as_deref()
                .map(|w| crate::phone::to_e164(&format!("+{w}"), None))
            {
                Some(Ok(p)) => p,
                _ => {
                    sender::review(tx, s, wamid, body, Some(&tag), &review_ev)?;
                    return Ok((Some("review"), Some(tag)));
                }
            };
            let profile = m
                .profile
                .as_ref()
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.as_deref())
                .unwrap_or("");
            let mut w = crate::contacts::RowWriter::new(tx)?;
            let id = w.insert(&phone, None, profile.trim(), &time::to_db(&time::now()))?;
            crate::contacts::learn_ids(tx, id, s.wa_id.as_deref(), s.user_id.as_deref())?;
            (id, phone)
        }
    };
    // Their own sign-up lifts a suppression, and the ledger says so.
    let lifted = suppression::lift(tx, tx.salt(), &contact.1)?;
    let detail = match &lifted {
        Some((reason, since)) => format!(
            "sign-up {tag}: {label} (lifted the suppression list entry, {reason} since {})",
            time::to_db(since)
        ),
        None => format!("sign-up {tag}: {label}"),
    };
    let ev = Evidence {
        kind: SourceKind::Signup,
        detail: &detail,
        proof: Some(body),
        reference: wamid,
        at: *at,
    };
    sender::set_subject(tx, &contact, topic.subject(), EventState::OptedIn, &ev)?;
    let known = Sender {
        contact: Some(contact),
        wa_id: s.wa_id.clone(),
        user_id: s.user_id.clone(),
    };
    let welcome = p.welcome.replace("{topic}", topic.as_str());
    sender::queue_reply(tx, ReplyKind::Welcome, &known, wamid, at, None, &welcome)?;
    Ok((Some("signup"), Some(tag)))
}
