//! `user_preferences`: WhatsApp's own "Stop marketing" and "Resume" for a business. Stop sets
//! Meta's block on the contact; resume lifts it (and never restores OptDesk's own opt-in). A late
//! one, older than the latest recorded, changes nothing.

use rusqlite::OptionalExtension;

use super::payload::Preference;
use super::sender::{self, Evidence};
use crate::error::Result;
use crate::model::{EventState, SourceKind, Subject};
use crate::store::Tx;
use crate::time;

/// What a preference asks for: set or lift the block, or nothing (`signup`, unknown values).
pub(super) fn state_of(value: Option<&str>) -> Option<EventState> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("stop") => Some(EventState::Set),
        Some("resume") => Some(EventState::Cleared),
        _ => None,
    }
}

pub(super) fn handle(tx: &Tx<'_>, pref: &Preference) -> Result<()> {
    let Some(state) = state_of(pref.value.as_deref()) else {
        return Ok(());
    };
    let at = pref.at.unwrap_or_else(time::now);
    let s = sender::find(tx, pref.wa_id.as_deref(), pref.user_id.as_deref())?;
    let Some(contact) = &s.contact else {
        if state == EventState::Set {
            sender::suppress_unknown(tx, &s, SourceKind::MetaSignal, &at)?;
        }
        return Ok(());
    };
    // Out of order: a stop or resume older than the latest one recorded changes nothing.
    let latest: Option<String> = tx
        .query_row(
            "SELECT occurred_at FROM consent_events WHERE contact_id = ?1 AND subject = 'meta_blocked' ORDER BY id DESC LIMIT 1",
            [contact.0 .0],
            |r| r.get(0),
        )
        .optional()?;
    if latest.is_some_and(|l| l >= time::to_db(&at)) {
        return Ok(());
    }
    let detail = if state == EventState::Set {
        "user_preferences: stop"
    } else {
        "user_preferences: resume"
    };
    let reference = format!("user_preferences {}", at.timestamp());
    let ev = Evidence {
        kind: SourceKind::MetaSignal,
        detail,
        proof: pref.detail.as_deref(),
        reference: &reference,
        at,
    };
    sender::set_subject(tx, contact, Subject::MetaBlocked, state, &ev)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(state_of(Some("stop")), Some(EventState::Set));
        assert_eq!(state_of(Some("Resume")), Some(EventState::Cleared));
        assert_eq!(state_of(Some("signup")), None);
        assert_eq!(state_of(Some("bla")), None);
        assert_eq!(state_of(None), None);
    }
}
