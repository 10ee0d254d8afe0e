//! The consent ledger: an append-only, hash-chained record of every change to a contact's
//! consent and flags, with the current state materialised on the contact row.
//!
//! Writing an event and updating the materialised column happen in one place ([`Appender`]),
//! inside the caller's transaction, so the two can never disagree; [`verify`] re-derives the
//! state from the ledger and checks the whole chain.

mod hash;
mod verify;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::contacts;
use crate::error::{Error, Result};
use crate::model::{ConsentState, ContactId, EventId, EventState, SourceKind, Subject};
use crate::store::Tx;
use crate::time::{self, Timestamp};

pub use verify::{verify, Problem, VerifyReport};

/// An event to record. The caller states what happened; the appender adds ids, times and hashes.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub contact: ContactId,
    /// The contact's number when this happened (part of the redactable payload).
    pub phone: &'a str,
    pub subject: Subject,
    pub state: EventState,
    pub source_kind: SourceKind,
    /// Free text about the source ("Summer fair sign-up sheet", "--source" on the CLI).
    pub source_detail: Option<&'a str>,
    /// What the customer agreed to, or the message that opted them out.
    pub proof: Option<&'a str>,
    /// Where the evidence is: a WhatsApp message id, "import #3 line 17".
    pub evidence_ref: Option<&'a str>,
    /// Who recorded it (a person at the shop, or the system part that did).
    pub actor: &'a str,
    /// When the customer did it; `recorded_at` is always now.
    pub occurred_at: Timestamp,
}

/// One recorded event, as read back.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: EventId,
    pub subject: Subject,
    pub state: EventState,
    pub source_kind: SourceKind,
    pub source_detail: Option<String>,
    pub proof: Option<String>,
    pub evidence_ref: Option<String>,
    pub actor: String,
    pub occurred_at: String,
    pub recorded_at: String,
    /// The number the event was recorded for; `None` once redacted.
    pub phone: Option<String>,
    pub redacted: bool,
}

/// Appends events inside one transaction, keeping the chain's head in memory between events so
/// a large import hashes and inserts without re-reading it. Call [`Appender::finish`] before the
/// transaction commits; it writes the head that `verify` checks the chain's end against.
pub struct Appender<'t, 'c> {
    tx: &'t Tx<'c>,
    // Held, not looked up per event: rusqlite's statement cache hashes the SQL text each call.
    insert: rusqlite::Statement<'t>,
    materialise: contacts::ConsentColumns<'t>,
    /// The contact whose materialised columns still have to be written, and the new values
    /// (one UPDATE per contact rather than per event; see [`Appender::flush`]).
    pending: Option<(ContactId, contacts::ConsentValues)>,
    prev: hash::Hash,
    last_id: i64,
    count: i64,
    recorded_at: String,
}

impl<'t, 'c> Appender<'t, 'c> {
    pub fn new(tx: &'t Tx<'c>) -> Result<Self> {
        let head: Option<(i64, Vec<u8>, i64)> = tx
            .query_row(
                "SELECT last_event_id, chain_hash, event_count FROM ledger_head WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (last_id, prev, count) = match head {
            Some((id, h, n)) => {
                let prev: hash::Hash = h.try_into().map_err(|_| {
                    Error::invalid("the ledger's head is damaged; run `optdesk consent verify`")
                })?;
                (id, prev, n)
            }
            None => (0, hash::GENESIS, 0),
        };
        let insert = tx.prepare(
            "INSERT INTO consent_events (id, contact_id, subject, state, source_kind, actor,
                occurred_at, recorded_at, phone, source_detail, proof, evidence_ref,
                payload_hash, chain_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        Ok(Appender {
            tx,
            insert,
            materialise: contacts::ConsentColumns::new(tx)?,
            pending: None,
            prev,
            last_id,
            count,
            recorded_at: time::to_db(&time::now()),
        })
    }

    /// Records `ev` and sets the contact's materialised column to match.
    pub fn append(&mut self, ev: &NewEvent<'_>) -> Result<EventId> {
        if !ev.subject.accepts(ev.state) {
            return Err(Error::invalid(format!(
                "{} cannot be {}",
                ev.subject, ev.state
            )));
        }
        let id = self.last_id + 1;
        let occurred_at = time::to_db(&ev.occurred_at);
        let payload = hash::Payload {
            phone: Some(ev.phone),
            source_detail: ev.source_detail,
            proof: ev.proof,
            evidence_ref: ev.evidence_ref,
        };
        let payload_hash = hash::payload_hash(&payload);
        let meta = hash::Meta {
            id,
            contact_id: ev.contact.0,
            subject: ev.subject.as_str(),
            state: ev.state.as_str(),
            source_kind: ev.source_kind.as_str(),
            actor: ev.actor,
            occurred_at: &occurred_at,
            recorded_at: &self.recorded_at,
        };
        let chain_hash = hash::chain_hash(&self.prev, &payload_hash, &meta);
        self.insert.execute(params![
            id,
            ev.contact.0,
            meta.subject,
            meta.state,
            meta.source_kind,
            ev.actor,
            occurred_at,
            self.recorded_at,
            ev.phone,
            ev.source_detail,
            ev.proof,
            ev.evidence_ref,
            &payload_hash[..],
            &chain_hash[..],
        ])?;
        if self.pending.as_ref().is_some_and(|(c, _)| *c != ev.contact) {
            self.flush()?;
        }
        let (_, values) = self
            .pending
            .get_or_insert_with(|| (ev.contact, Default::default()));
        values[ev.subject as usize] = Some(materialised_value(ev.state));
        self.prev = chain_hash;
        self.last_id = id;
        self.count += 1;
        Ok(EventId(id))
    }

    /// Writes the materialised columns of the contact appended to last. Appending to another
    /// contact, and [`Appender::finish`], do it too; call it yourself before reading that
    /// contact's state back in the same transaction.
    pub fn flush(&mut self) -> Result<()> {
        let Some((contact, values)) = self.pending.take() else {
            return Ok(());
        };
        self.materialise.write(contact, values, &self.recorded_at)
    }

    /// Writes the pending materialised state and the chain's new head. Must run before the
    /// transaction commits.
    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        if self.last_id == 0 {
            return Ok(());
        }
        self.tx.execute(
            "INSERT INTO ledger_head (id, last_event_id, chain_hash, event_count)
             VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET last_event_id = excluded.last_event_id,
                chain_hash = excluded.chain_hash, event_count = excluded.event_count",
            params![self.last_id, &self.prev[..], self.count],
        )?;
        Ok(())
    }
}

/// Records one event in its own appender (the usual case outside imports).
pub fn record(tx: &Tx<'_>, ev: &NewEvent<'_>) -> Result<EventId> {
    let mut a = Appender::new(tx)?;
    let id = a.append(ev)?;
    a.finish()?;
    Ok(id)
}

/// Which events lose their personal fields.
pub enum Redact<'a> {
    /// Every event of an erased person.
    Contact(ContactId),
    /// Events recorded before this time that a later event of the same contact and subject
    /// replaced (the retention period; the current state's evidence is always kept).
    SupersededBefore(&'a str),
}

/// Blanks the number, the wording and the proof of events; their hashes stay, so the chain still
/// verifies (`verify` checks a redacted event by its payload hash). How many were redacted.
pub fn redact(tx: &Tx<'_>, which: Redact<'_>, now: &Timestamp) -> Result<usize> {
    const BLANK: &str =
        "UPDATE consent_events SET phone = NULL, source_detail = NULL, proof = NULL,
        evidence_ref = NULL, redacted_at = ?1";
    let now = time::to_db(now);
    Ok(match which {
        Redact::Contact(id) => tx.execute(
            &format!("{BLANK} WHERE contact_id = ?2 AND redacted_at IS NULL"),
            params![now, id.0],
        )?,
        Redact::SupersededBefore(cutoff) => tx.execute(
            &format!(
                "{BLANK} WHERE redacted_at IS NULL AND recorded_at < ?2
                   AND EXISTS (SELECT 1 FROM consent_events later
                               WHERE later.contact_id = consent_events.contact_id
                                 AND later.subject = consent_events.subject
                                 AND later.id > consent_events.id)"
            ),
            params![now, cutoff],
        )?,
    })
}

/// The value a state takes in its materialised column: text for consent, 0/1 for flags.
fn materialised_value(state: EventState) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match state {
        EventState::OptedIn => Value::Text(ConsentState::OptedIn.as_str().into()),
        EventState::OptedOut => Value::Text(ConsentState::OptedOut.as_str().into()),
        EventState::Set => Value::Integer(1),
        EventState::Cleared => Value::Integer(0),
    }
}

/// A contact's events in the order they were recorded (the chain's order, by event number).
pub fn history(db: &impl crate::store::Db, contact: ContactId) -> Result<Vec<Event>> {
    let conn = db.connection();
    let mut stmt = conn.prepare_cached(
        "SELECT id, subject, state, source_kind, source_detail, proof, evidence_ref, actor,
                occurred_at, recorded_at, phone, redacted_at
         FROM consent_events WHERE contact_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([contact.0], read_event)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(Error::from)
}

/// The latest event per topic for every contact that has one: the evidence an export carries.
pub fn latest_topic_events(
    conn: &Connection,
) -> Result<std::collections::HashMap<(ContactId, Subject), Event>> {
    let mut stmt = conn.prepare(
        "SELECT e.id, e.subject, e.state, e.source_kind, e.source_detail, e.proof, e.evidence_ref,
                e.actor, e.occurred_at, e.recorded_at, e.phone, e.redacted_at, e.contact_id
         FROM consent_events e
         JOIN (SELECT max(id) AS id FROM consent_events
               WHERE subject IN ('marketing', 'utility') GROUP BY contact_id, subject) latest
           ON latest.id = e.id",
    )?;
    let mut out = std::collections::HashMap::new();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let ev = read_event(row)?;
        out.insert((ContactId(row.get(12)?), ev.subject), ev);
    }
    Ok(out)
}

/// Reads a text column into one of the model's enums.
pub(crate) fn text_col<T: std::str::FromStr<Err = Error>>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    text.parse().map_err(|e: Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn read_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: EventId(r.get(0)?),
        subject: text_col(r, 1)?,
        state: text_col(r, 2)?,
        source_kind: text_col(r, 3)?,
        source_detail: r.get(4)?,
        proof: r.get(5)?,
        evidence_ref: r.get(6)?,
        actor: r.get(7)?,
        occurred_at: r.get(8)?,
        recorded_at: r.get(9)?,
        phone: r.get(10)?,
        redacted: r.get::<_, Option<String>>(11)?.is_some(),
    })
}
