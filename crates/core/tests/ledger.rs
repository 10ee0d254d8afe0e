//! The ledger's promises: every change recorded, the state always re-derivable, and any edit,
//! deletion or reordering made to the file behind OptDesk's back detected by `verify`.

mod common;

use common::db;
use optdesk_core::consent::Outcome;
use optdesk_core::ledger::{self, verify};
use optdesk_core::store::SCHEMA_VERSION;
use optdesk_core::{contacts, ConsentState::*, EventId, Store, Topic::*};

/// Three contacts, seven events.
fn history() -> common::Db {
    let mut d = db();
    for p in ["+447911123456", "+34612345678", "+5511912345678"] {
        d.add(p);
    }
    d.set("+447911123456", Marketing, OptedIn);
    d.set("+447911123456", Utility, OptedIn);
    d.set("+34612345678", Marketing, OptedIn);
    d.set("+447911123456", Marketing, OptedOut);
    d.set("+5511912345678", Utility, OptedOut);
    d.set("+34612345678", Marketing, OptedOut);
    d.set("+34612345678", Marketing, OptedIn);
    d
}

fn problem_event(d: &common::Db) -> Option<EventId> {
    let report = verify(&d.store).unwrap();
    assert!(!report.ok(), "tampering went unnoticed");
    report.problem.unwrap().event
}

#[test]
fn an_honest_ledger_verifies_and_matches_the_contacts() {
    let d = history();
    let report = verify(&d.store).unwrap();
    assert!(report.ok(), "{:?}", report.problem);
    assert_eq!((report.events, report.contacts), (7, 3));
    let c = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!((c.marketing, c.utility), (Some(OptedOut), Some(OptedIn)));
    let h = ledger::history(d.store.conn(), c.id).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        h[0].proof.as_deref(),
        Some("Yes, send me offers from Bakery Sol")
    );
    assert!(h.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
}

#[test]
fn setting_the_same_state_again_records_nothing() {
    let mut d = history();
    assert_eq!(
        d.set("+447911123456", Marketing, OptedOut),
        Outcome::Unchanged
    );
    assert_eq!(verify(&d.store).unwrap().events, 7);
}

#[test]
fn the_ledger_refuses_deletes_and_rewrites_through_sql() {
    let d = history();
    let c = optdesk_core::store::connect(&d.path(), &common::key()).unwrap();
    let e = c
        .execute("DELETE FROM consent_events WHERE id = 2", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    assert!(c
        .execute(
            "UPDATE consent_events SET state = 'opted_in' WHERE id = 4",
            []
        )
        .is_err());
}

#[test]
fn an_edited_event_is_named() {
    let d = history();
    d.raw(
        "DROP TRIGGER consent_events_no_rewrite;
           UPDATE consent_events SET state = 'opted_in' WHERE id = 4;
           UPDATE contacts SET marketing = 'opted_in' WHERE phone = '+447911123456';",
    );
    assert_eq!(problem_event(&d), Some(EventId(4)));
}

#[test]
fn edited_proof_is_named() {
    let d = history();
    d.raw("UPDATE consent_events SET proof = 'I agreed to everything' WHERE id = 3;");
    assert_eq!(problem_event(&d), Some(EventId(3)));
}

#[test]
fn a_deleted_event_is_named() {
    let d = history();
    d.raw("DROP TRIGGER consent_events_no_delete; DELETE FROM consent_events WHERE id = 4;");
    let report = verify(&d.store).unwrap();
    let p = report.problem.unwrap();
    assert_eq!(p.event, Some(EventId(5)));
    assert!(p.message.contains("#4 is missing"), "{}", p.message);
}

#[test]
fn reordered_events_are_named() {
    let d = history();
    // Swap the contents of events 2 and 3 (ids stay in place, the story changes order).
    d.raw(
        "DROP TRIGGER consent_events_no_rewrite;
           CREATE TEMP TABLE t AS SELECT * FROM consent_events WHERE id IN (2, 3);
           UPDATE consent_events SET id = -id WHERE id IN (2, 3);
           INSERT INTO consent_events SELECT CASE id WHEN 2 THEN 3 ELSE 2 END, contact_id, subject,
               state, source_kind, actor, occurred_at, recorded_at, phone, source_detail, proof,
               evidence_ref, redacted_at, payload_hash, chain_hash FROM t;
           DROP TRIGGER consent_events_no_delete;
           DELETE FROM consent_events WHERE id < 0;",
    );
    assert_eq!(problem_event(&d), Some(EventId(2)));
}

#[test]
fn events_cut_off_the_end_are_noticed() {
    let d = history();
    d.raw("DROP TRIGGER consent_events_no_delete; DELETE FROM consent_events WHERE id = 7;");
    let p = verify(&d.store).unwrap().problem.unwrap();
    assert!(p.message.contains("removed from the end"), "{}", p.message);
}

#[test]
fn a_materialised_state_changed_by_hand_is_noticed() {
    let d = history();
    d.raw("UPDATE contacts SET marketing = 'opted_in' WHERE phone = '+447911123456';");
    let p = verify(&d.store).unwrap().problem.unwrap();
    assert_eq!(p.event, None);
    assert!(
        p.message.contains("+447911123456") && p.message.contains("marketing"),
        "{}",
        p.message
    );
    let d = history();
    d.raw("UPDATE contacts SET meta_blocked = 1 WHERE phone = '+34612345678';");
    assert!(!verify(&d.store).unwrap().ok());
}

#[test]
fn a_redacted_payload_still_verifies_but_a_rewritten_one_does_not() {
    let d = history();
    d.raw(
        "UPDATE consent_events SET phone = NULL, proof = NULL, source_detail = NULL,
               redacted_at = '2026-11-25T00:00:00.000000Z' WHERE contact_id = 1;",
    );
    assert!(verify(&d.store).unwrap().ok(), "erasure keeps the chain");
    d.raw("UPDATE consent_events SET redacted_at = NULL WHERE id = 1;");
    assert_eq!(problem_event(&d), Some(EventId(1)));
}

#[test]
fn a_database_from_schema_version_1_opens_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        let mut old = Store::open_to(&path, &common::key(), 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        contacts::add(&mut old, "+447911123456", "Ann", &["vip".into()]).unwrap();
        let mut d = common::Db {
            dir: tempfile::tempdir().unwrap(),
            store: old,
        };
        d.set("+447911123456", Marketing, OptedIn);
        let no_imports = d.store.conn().prepare("SELECT * FROM imports");
        assert!(no_imports.is_err(), "version 1 has no imports table");
    }
    let store = Store::open(&path, &common::key()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    // The file as version 1 left it was copied first, outside the daily backups' rotation.
    let copies: Vec<_> = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let name = copies[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("before-upgrade-from-schema-1-"), "{name}");
    let old = optdesk_core::store::connect(&copies[0], &common::key()).unwrap();
    let (version, phone): (i64, String) = old
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), phone FROM contacts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((version, phone.as_str()), (1, "+447911123456"));
    drop(store);
    Store::open(&path, &common::key()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("backups"))
            .unwrap()
            .count(),
        1,
        "an up-to-date file is not copied again"
    );
    let store = Store::open(&path, &common::key()).unwrap();
    let c = contacts::require(store.conn(), "+447911123456").unwrap();
    assert_eq!(
        (c.name.as_str(), c.tags.clone(), c.marketing),
        ("Ann", vec!["vip".to_string()], Some(OptedIn))
    );
    assert!(verify(&store).unwrap().ok());
    store.conn().prepare("SELECT * FROM imports").unwrap();
}

#[test]
fn retention_redacts_only_old_superseded_evidence_and_the_chain_still_verifies() {
    use optdesk_core::retention;
    let mut d = history();
    let now = optdesk_core::time::now();
    // Today nothing is old enough.
    let today = retention::apply(&mut d.store, now, false).unwrap();
    assert_eq!((today.events_redacted, today.suppressions_ended), (0, 0));
    // Six years on: every superseded event goes, every current proof stays.
    let later = now + chrono::Duration::days(365 * 6);
    let dry = retention::apply(&mut d.store, later, true).unwrap();
    assert_eq!(dry.events_redacted, 3, "{dry:?}"); // #1 by #4, #3 by #6, #6 by #7
    assert_eq!(verify(&d.store).unwrap().events, 7);
    let done = retention::apply(&mut d.store, later, false).unwrap();
    assert_eq!(done.events_redacted, 3);
    assert!(
        verify(&d.store).unwrap().ok(),
        "redaction keeps the chain verifiable"
    );
    let ana = contacts::require(d.store.conn(), "+447911123456").unwrap();
    let h = ledger::history(d.store.conn(), ana.id).unwrap();
    let kept: Vec<bool> = h.iter().map(|e| e.proof.is_some()).collect();
    assert_eq!(
        kept,
        [false, true, true],
        "the first marketing opt-in was superseded; the rest are current"
    );
}
