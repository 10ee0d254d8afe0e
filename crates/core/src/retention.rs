//! Retention: how long evidence is kept (`retention_years`, default 5 — over the TCPA's 4-year
//! limitation period). Applying it redacts only evidence that is both older than that and
//! superseded: the proof behind a contact's current state is kept whatever its age, and nothing
//! younger than the period is touched.

use serde::Serialize;

use crate::error::Result;
use crate::ledger;
use crate::settings;
use crate::store::Store;
use crate::suppression;
use crate::time::{self, Timestamp};

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Applied {
    pub cutoff: String,
    /// Superseded ledger events whose words and evidence were redacted (hashes kept).
    pub events_redacted: usize,
    /// Processed raw webhook bodies deleted.
    pub webhook_bodies_deleted: usize,
    /// Erased people whose suppression entry reached the end of the period.
    pub suppressions_ended: usize,
}

pub fn years(store: &Store) -> Result<i64> {
    settings::value_or_default(store, "retention_years")
}

/// Applies the retention period as of `now` (the real clock in the product).
pub fn apply(store: &mut Store, now: Timestamp, dry_run: bool) -> Result<Applied> {
    let years = years(store)?;
    let cutoff = time::to_db(&(now - chrono::Duration::days(365 * years + years / 4)));
    let run = |tx: &crate::store::Tx<'_>| -> Result<Applied> {
        let events_redacted = ledger::redact(tx, ledger::Redact::SupersededBefore(&cutoff), &now)?;
        let webhook_bodies_deleted = crate::webhook::inbox::prune_before(tx, &cutoff)?;
        let suppressions_ended = suppression::end_erased_before(tx, &cutoff)?;
        Ok(Applied {
            cutoff: cutoff.clone(),
            events_redacted,
            webhook_bodies_deleted,
            suppressions_ended,
        })
    };
    if dry_run {
        store.dry_run_tx(run)
    } else {
        store.with_tx(run)
    }
}
