//! What every signal shares: finding who sent something, writing consent with its evidence,
//! keeping unknown senders' opt-outs as suppressions, queueing OptDesk's own replies, and the
//! review queue.

pub(crate) use crate::model::ReplyKind;
use crate::model::ReplyState;
use rusqlite::OptionalExtension;

use crate::error::Result;
use crate::ledger::{self, NewEvent};
use crate::model::{ConsentState, ContactId, EventId, EventState, SourceKind, Subject, Topic};
use crate::store::Tx;
use crate::suppression::{self, Reason};
use crate::time::{self, Timestamp};

pub(super) const ACTOR: &str = "webhook";

/// How long after the customer's message an opt-out confirmation may still go.
pub const CONFIRMATION_DEADLINE: chrono::Duration = chrono::Duration::minutes(5);
/// WhatsApp's customer service window: no free-form reply outside it.
pub const SERVICE_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Who sent something: the contact, when OptDesk knows them.
pub(super) struct Sender {
    pub contact: Option<(ContactId, String)>,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

/// Matches on `wa_id`, then BSUID, then the number; remembers the ids it learns.
pub(super) fn find(tx: &Tx<'_>, wa_id: Option<&str>, user_id: Option<&str>) -> Result<Sender> {
    let by = |sql: &str, v: &str| -> Result<Option<(ContactId, String)>> {
        Ok(tx
            .prepare_cached(sql)?
            .query_row([v], |r| Ok((ContactId(r.get(0)?), r.get(1)?)))
            .optional()?)
    };
    let mut contact = match wa_id {
        Some(w) => by("SELECT id, phone FROM contacts WHERE wa_id = ?1", w)?,
        None => None,
    };
    if contact.is_none() {
        if let Some(u) = user_id {
            contact = by("SELECT id, phone FROM contacts WHERE bsuid = ?1", u)?;
        }
    }
    if contact.is_none() {
        if let Some(w) = wa_id {
            contact = by(
                "SELECT id, phone FROM contacts WHERE phone = ?1",
                &format!("+{w}"),
            )?;
        }
    }
    if let Some((id, _)) = &contact {
        crate::contacts::learn_ids(tx, *id, wa_id, user_id)?;
    }
    Ok(Sender {
        contact,
        wa_id: wa_id.map(str::to_string),
        user_id: user_id.map(str::to_string),
    })
}

fn current_state(tx: &Tx<'_>, id: ContactId, subject: Subject) -> Result<Option<String>> {
    let col = match subject {
        Subject::Marketing => "marketing",
        Subject::Utility => "utility",
        Subject::MetaBlocked => "CASE meta_blocked WHEN 1 THEN 'set' ELSE 'cleared' END",
        Subject::Unreachable => "CASE unreachable WHEN 1 THEN 'set' ELSE 'cleared' END",
        Subject::ReviewPending => "CASE review_pending WHEN 1 THEN 'set' ELSE 'cleared' END",
    };
    Ok(tx.query_row(
        &format!("SELECT {col} FROM contacts WHERE id = ?1"),
        [id.0],
        |r| r.get(0),
    )?)
}

/// How a consent change came to be known: what the ledger keeps beside it.
pub(super) struct Evidence<'a> {
    pub kind: SourceKind,
    pub detail: &'a str,
    pub proof: Option<&'a str>,
    pub reference: &'a str,
    pub at: Timestamp,
}

/// Sets `subject` to `state` unless it already is; the event id when one was written.
pub(super) fn set_subject(
    tx: &Tx<'_>,
    contact: &(ContactId, String),
    subject: Subject,
    state: EventState,
    ev: &Evidence<'_>,
) -> Result<Option<EventId>> {
    if current_state(tx, contact.0, subject)?.as_deref() == Some(state.as_str()) {
        return Ok(None);
    }
    let id = ledger::record(
        tx,
        &NewEvent {
            contact: contact.0,
            phone: &contact.1,
            subject,
            state,
            source_kind: ev.kind,
            source_detail: Some(ev.detail),
            proof: ev.proof,
            evidence_ref: Some(ev.reference),
            actor: ACTOR,
            occurred_at: ev.at,
        },
    )?;
    Ok(Some(id))
}

/// An opt-out from someone OptDesk does not know is kept as a suppression, never dropped.
pub(super) fn suppress_unknown(
    tx: &Tx<'_>,
    s: &Sender,
    kind: SourceKind,
    at: &Timestamp,
) -> Result<()> {
    let key = match (&s.wa_id, &s.user_id) {
        (Some(w), _) => format!("+{w}"),
        (None, Some(u)) => format!("bsuid:{u}"),
        (None, None) => return Ok(()),
    };
    suppression::add(tx, tx.salt(), &key, Reason::UnmatchedOptOut, Some(kind), at)
}

/// Opts the sender out of `topics`; the first event written, if any.
pub(super) fn opt_out(
    tx: &Tx<'_>,
    s: &Sender,
    topics: &[Topic],
    ev: &Evidence<'_>,
) -> Result<Option<EventId>> {
    let Some(contact) = &s.contact else {
        suppress_unknown(tx, s, ev.kind, &ev.at)?;
        return Ok(None);
    };
    let mut first = None;
    for t in topics {
        let id = set_subject(
            tx,
            contact,
            t.subject(),
            ConsentState::OptedOut.event_state(),
            ev,
        )?;
        first = first.or(id);
    }
    Ok(first)
}

impl ReplyKind {
    /// How long after the customer's message this reply may still go.
    pub(crate) fn deadline(self) -> chrono::Duration {
        match self {
            ReplyKind::Confirmation => CONFIRMATION_DEADLINE,
            ReplyKind::Help | ReplyKind::Welcome => SERVICE_WINDOW,
        }
    }
}

/// "3 h", "12 min", "2 days": how late, in words.
pub fn lateness(d: chrono::Duration) -> String {
    let m = d.num_minutes();
    match m {
        ..=90 => format!("{} min", m.max(1)),
        91..=2879 => format!("{} h", (m + 30) / 60),
        _ => format!("{} days", (m + 720) / 1440),
    }
}

/// One reply to one inbound message (never two: `in_reply_to` is unique). Its deadline counts
/// from when the customer sent their message, not from now: a STOP that Meta redelivers hours
/// later is recorded, but its confirmation is skipped with the reason, and no reply is ever
/// attempted outside the 24-hour window the message opened.
pub(super) fn queue_reply(
    tx: &Tx<'_>,
    kind: ReplyKind,
    s: &Sender,
    in_reply_to: &str,
    sent_at: &Timestamp,
    event: Option<EventId>,
    body: &str,
) -> Result<()> {
    let now = time::now();
    let due = *sent_at + kind.deadline();
    let late = now - *sent_at;
    let (state, error, arrived_late) = if s.wa_id.is_none() {
        (
            ReplyState::Skipped,
            Some("the sender has no number WhatsApp shared (a username-only user)".to_string()),
            false,
        )
    } else if due < now {
        let why = match kind {
            ReplyKind::Confirmation => format!(
                "not sent: the message arrived {} after the customer sent it, past the 5 minutes a confirmation may take",
                lateness(late)
            ),
            _ => format!(
                "not sent: the message arrived {} after the customer sent it, outside WhatsApp's 24-hour window",
                lateness(late)
            ),
        };
        (ReplyState::Skipped, Some(why), true)
    } else {
        (ReplyState::Queued, None, false)
    };
    crate::replies::queue(
        tx,
        &crate::replies::NewReply {
            kind,
            contact: s.contact.as_ref().map(|c| c.0),
            to: s.wa_id.as_deref(),
            in_reply_to,
            optout_event: event,
            body,
            state,
            error: error.as_deref(),
            now: &time::to_db(&now),
            due: &time::to_db(&due),
            arrived_late,
        },
    )
}

/// Puts a message in front of the owner; marketing to the sender is held until they decide.
pub(super) fn review(
    tx: &Tx<'_>,
    s: &Sender,
    wamid: &str,
    text: &str,
    matched: Option<&str>,
    ev: &Evidence<'_>,
) -> Result<()> {
    crate::optouts::queue_review(
        tx,
        wamid,
        s.contact.as_ref().map(|c| c.0),
        s.wa_id.as_deref(),
        text,
        matched,
        &time::to_db(&ev.at),
    )?;
    if let Some(contact) = &s.contact {
        set_subject(tx, contact, Subject::ReviewPending, EventState::Set, ev)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_in_words() {
        let m = chrono::Duration::minutes;
        assert_eq!(lateness(chrono::Duration::seconds(20)), "1 min");
        assert_eq!(lateness(m(12)), "12 min");
        assert_eq!(lateness(m(180)), "3 h");
        assert_eq!(lateness(m(60 * 72)), "3 days");
    }
}
