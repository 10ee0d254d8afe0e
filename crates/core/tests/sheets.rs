//! Workbooks as shops save them (.xlsx): typed cells read as the owner meant them, and the
//! report naming rows as the spreadsheet numbers them.

mod common;

use optdesk_core::import::{import_bytes, IssueKind, Options};
use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::phone::Region;
use optdesk_core::{contacts, ledger};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn opts() -> Options {
    Options {
        region: Some(Region::parse("GB").unwrap()),
        actor: "test".into(),
        file_name: "wati.xlsx".into(),
        ..Default::default()
    }
}

#[test]
fn typed_cells_are_read_as_the_owner_meant_them() {
    let mut book = Workbook::new();
    let when = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let s = book.add_worksheet();
    s.set_name("Contacts").unwrap();
    // A title two rows above the header (rows 1–2 empty), as people lay sheets out.
    s.write_string(2, 0, "Customers").unwrap();
    for (c, h) in (0u16..).zip([
        "Name",
        "WhatsApp Number",
        "AllowBroadcast",
        "Marketing",
        "Consent Source",
        "Consent At",
    ]) {
        s.write_string(3, c, h).unwrap();
    }
    // Row 5: the number typed into a number cell (all its digits), a date cell, TRUE.
    s.write_string(4, 0, "Ann").unwrap();
    s.write_number(4, 1, 447911123456.0).unwrap();
    s.write_boolean(4, 2, true).unwrap();
    s.write_string(4, 3, "yes").unwrap();
    s.write_string(4, 4, "Till sign-up").unwrap();
    let at = ExcelDateTime::parse_from_str("2026-03-01 14:30:00").unwrap();
    s.write_datetime_with_format(4, 5, &at, &when).unwrap();
    // Row 6: WATI's AllowBroadcast FALSE is an opt-out, whatever the marketing cell says.
    s.write_string(5, 0, "Ben").unwrap();
    s.write_string(5, 1, "07911 123457").unwrap();
    s.write_boolean(5, 2, false).unwrap();
    s.write_string(5, 3, "yes").unwrap();
    s.write_string(5, 4, "Till sign-up").unwrap();
    // Row 7: a line break inside a name, and a number that does not exist.
    s.write_string(6, 0, "Cal\nsecond line").unwrap();
    s.write_number(6, 1, 791112.0).unwrap();
    // A second sheet with cells is named, not read.
    book.add_worksheet()
        .set_name("Old list")
        .unwrap()
        .write_string(0, 0, "phone")
        .unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let mut d = common::db();
    let r = import_bytes(&mut d.store, &bytes, &opts()).unwrap();
    assert_eq!((r.added, r.rejected), (2, 1), "{r:#?}");
    assert_eq!(r.issues[0].line, 7, "{r:#?}");
    assert_eq!(r.issues[0].kind, IssueKind::Rejected);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("2 sheets with cells") && w.contains("\"Old list\"")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("line 3 (\"Customers\")")),
        "{:?}",
        r.warnings
    );

    let ann = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!((ann.name.as_str(), ann.marketing), ("Ann", Some(OptedIn)));
    let latest = ledger::latest_topic_events(d.store.conn()).unwrap();
    let ev = latest
        .get(&(ann.id, optdesk_core::model::Subject::Marketing))
        .unwrap();
    assert_eq!(ev.occurred_at, "2026-03-01T14:30:00.000000Z");
    assert_eq!(ev.source_detail.as_deref(), Some("Till sign-up"));
    let ben = contacts::require(d.store.conn(), "+447911123457").unwrap();
    assert_eq!(ben.marketing, Some(OptedOut));
}

#[test]
fn a_damaged_or_empty_workbook_is_refused_with_what_to_do() {
    let mut d = common::db();
    // A ZIP's signature and nothing after it: an .xlsx cut short in a download.
    let e = import_bytes(&mut d.store, b"PK\x03\x04broken", &opts()).unwrap_err();
    assert!(e.to_string().contains("cannot be read as one"), "{e}");
    let mut book = Workbook::new();
    book.add_worksheet();
    let e = import_bytes(&mut d.store, &book.save_to_buffer().unwrap(), &opts()).unwrap_err();
    assert!(e.to_string().contains("no sheet has any cells"), "{e}");
}
