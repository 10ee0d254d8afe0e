//! A customer changed their number (`system` messages of type `user_changed_number` or
//! `customer_changed_number`): the contact, and its consent, move to the new number.

use rusqlite::{params, OptionalExtension};

use super::payload::System;
use super::sender::{self, Evidence, Sender};
use crate::error::Result;
use crate::model::SourceKind;
use crate::store::Tx;
use crate::time::Timestamp;

/// The system message types that mean "this customer now has another number".
const NUMBER_CHANGES: [&str; 2] = ["user_changed_number", "customer_changed_number"];

/// The new number a system message names, when it is a number change.
pub(super) fn new_number(system: &System) -> Option<&str> {
    if !NUMBER_CHANGES.contains(&system.kind.as_deref()?) {
        return None;
    }
    system
        .wa_id
        .as_deref()
        .or(system.new_wa_id.as_deref())
        .map(|w| w.trim().trim_start_matches('+'))
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn handle(
    tx: &Tx<'_>,
    s: &Sender,
    system: &System,
    wamid: &str,
    body: &str,
    at: &Timestamp,
) -> Result<()> {
    let (Some((id, _)), Some(new)) = (&s.contact, new_number(system)) else {
        return Ok(());
    };
    let new_phone = format!("+{new}");
    let taken: Option<i64> = tx
        .query_row(
            "SELECT id FROM contacts WHERE phone = ?1 AND id <> ?2",
            params![new_phone, id.0],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        let ev = Evidence {
            kind: SourceKind::MetaSignal,
            detail: "changed number",
            proof: Some(body),
            reference: wamid,
            at: *at,
        };
        return sender::review(
            tx,
            s,
            wamid,
            &format!("{body} (the new number is already another contact)"),
            None,
            &ev,
        );
    }
    crate::contacts::change_number(tx, *id, &new_phone, new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(kind: &str, wa_id: Option<&str>, new_wa_id: Option<&str>) -> System {
        System {
            kind: Some(kind.into()),
            wa_id: wa_id.map(Into::into),
            new_wa_id: new_wa_id.map(Into::into),
            ..System::default()
        }
    }

    #[test]
    fn both_kinds_and_both_keys() {
        assert_eq!(
            new_number(&sys("user_changed_number", Some("12195555358"), None)),
            Some("12195555358")
        );
        assert_eq!(
            new_number(&sys("customer_changed_number", None, Some("15550003333"))),
            Some("15550003333")
        );
        assert_eq!(
            new_number(&sys("user_changed_number", Some("+4479"), None)),
            Some("4479")
        );
        assert_eq!(
            new_number(&sys("customer_identity_changed", Some("1"), None)),
            None
        );
        assert_eq!(
            new_number(&sys("user_changed_number", Some("not a number"), None)),
            None
        );
        assert_eq!(new_number(&sys("user_changed_number", None, None)), None);
    }
}
