//! Recording a consent decision by hand (the owner's toggle, `optdesk consent set`).

use crate::contacts;
use crate::error::{Error, Result};
use crate::ledger::{self, NewEvent};
use crate::model::{ConsentState, EventId, SourceKind, Topic};
use crate::settings;
use crate::store::Store;
use crate::suppression;
use crate::time::{self, Timestamp};

#[derive(Debug, Clone)]
pub struct Change {
    /// E.164.
    pub phone: String,
    pub topic: Topic,
    pub state: ConsentState,
    pub source_kind: SourceKind,
    pub source_detail: Option<String>,
    pub proof: Option<String>,
    pub actor: String,
    /// When the customer said so; now when not given.
    pub occurred_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Recorded(EventId),
    /// The contact already had this state; nothing was written.
    Unchanged,
}

/// Records `change` in the ledger and the contact's state, in one transaction.
///
/// An opt-out is always recorded. An opt-in needs proof — the wording the customer agreed to —
/// given here or as the shop's standard wording (`consent_wording`), and is refused for a number
/// on the suppression list.
pub fn set(store: &mut Store, change: &Change) -> Result<Outcome> {
    store.with_tx(|tx| {
        let contact = contacts::require(tx, &change.phone)?;
        let current = match change.topic {
            Topic::Marketing => contact.marketing,
            Topic::Utility => contact.utility,
        };
        if current == Some(change.state) {
            return Ok(Outcome::Unchanged);
        }
        let mut proof = change.proof.clone().filter(|p| !p.trim().is_empty());
        if change.state == ConsentState::OptedIn {
            if suppression::is_suppressed(tx, tx.salt(), &change.phone)? {
                return Err(Error::Suppressed(change.phone.clone()));
            }
            if proof.is_none() {
                proof = settings::get(tx, "consent_wording")?;
            }
            if proof.is_none() {
                return Err(Error::invalid(
                    "an opt-in needs proof: pass --proof with the words the customer agreed to, \
                     or set the shop's standard wording with `optdesk config set consent_wording TEXT`",
                ));
            }
        }
        let id = ledger::record(
            tx,
            &NewEvent {
                contact: contact.id,
                phone: &contact.phone,
                subject: change.topic.subject(),
                state: change.state.event_state(),
                source_kind: change.source_kind,
                source_detail: change.source_detail.as_deref(),
                proof: proof.as_deref(),
                evidence_ref: None,
                actor: &change.actor,
                occurred_at: change.occurred_at.unwrap_or_else(time::now),
            },
        )?;
        Ok(Outcome::Recorded(id))
    })
}
