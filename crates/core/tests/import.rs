//! CSV import as shop owners' files really are, and its safety rules.

mod common;

use common::db;
use optdesk_core::import::{import_bytes, IssueKind, Options, Report};
use optdesk_core::ledger::{self, verify};
use optdesk_core::phone::Region;
use optdesk_core::suppression::{self, Reason};
use optdesk_core::{contacts, export, time, ConsentState::*, SourceKind, Topic::*};

fn opts() -> Options {
    Options {
        region: Some(Region::parse("GB").unwrap()),
        actor: "test".into(),
        file_name: "list.csv".into(),
        ..Default::default()
    }
}

fn import(d: &mut common::Db, csv: &str, o: &Options) -> Report {
    import_bytes(&mut d.store, csv.as_bytes(), o).unwrap()
}

fn counts(r: &Report) -> [u64; 5] {
    [r.added, r.updated, r.unchanged, r.blocked, r.rejected]
}

fn state(
    d: &common::Db,
    phone: &str,
) -> (
    Option<optdesk_core::ConsentState>,
    Option<optdesk_core::ConsentState>,
) {
    let c = contacts::require(d.store.conn(), phone).unwrap();
    (c.marketing, c.utility)
}

const MESSY: &str = "\u{feff}Name;PHONE;Tags;Marketing;Consent_Source;Consent_At;notes\r\n\
\r\n\
\"Lopez; Ana\";07911 123456;vip|regulars;yes;Summer fair;2026-03-01;\"said: \"\"yes\"\"\"\r\n\
Ben;+44 7911 123457;;no;;;\r\n\
\"Chloé\nsecond line\";+34 612 34 56 78;vip;;;;\r\n\
Dan;0791 12;;yes;fair;;\r\n\
Eve;07911 123458;;maybe;fair;;\r\n\
\r\n\
Fay;07911 123459;;y;fair;03/04/2026;\r\n\
Ana again;+447911123456;new;;;;\r\n\
Gus;;;yes;fair;;\r\n";

#[test]
fn a_messy_file_imports_every_good_row_and_names_every_bad_line() {
    let mut d = db();
    let r = import(&mut d, MESSY, &opts());
    assert_eq!(counts(&r), [3, 0, 0, 0, 4], "{r:#?}");
    assert_eq!(r.duplicates, 1);
    let rejected: Vec<(u64, &str)> = r
        .issues
        .iter()
        .map(|i| (i.line, i.reason.as_str()))
        .collect();
    assert_eq!(
        rejected.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [7, 8, 10, 12],
        "{rejected:?}"
    );
    assert!(
        rejected[0].1.contains("not a valid phone number"),
        "{}",
        rejected[0].1
    );
    assert!(rejected[1].1.contains("\"maybe\""), "{}", rejected[1].1);
    assert!(rejected[2].1.contains("03/04/2026"), "{}", rejected[2].1);
    assert!(
        rejected[3].1.contains("phone cell is empty"),
        "{}",
        rejected[3].1
    );
    assert!(r.issues.iter().all(|i| i.kind == IssueKind::Rejected));
    assert!(
        r.warnings.iter().any(|w| w.contains("\"notes\"")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w
            .contains("line 11 repeats +447911123456 from line 3 under another name")
            && w.contains("possibly a line two people share")
            && w.ends_with("the two rows were merged")),
        "{:?}",
        r.warnings
    );

    let ana = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!(ana.name, "Ana again");
    assert_eq!(ana.tags, ["new", "regulars", "vip"]);
    assert_eq!(ana.marketing, Some(OptedIn));
    let ev = &ledger::history(d.store.conn(), ana.id).unwrap()[0];
    assert_eq!(ev.source_kind, SourceKind::Import);
    assert_eq!(ev.source_detail.as_deref(), Some("Summer fair"));
    assert_eq!(ev.proof, None);
    assert_eq!(ev.occurred_at, "2026-03-01T00:00:00.000000Z");
    assert!(ev.evidence_ref.as_deref().unwrap().ends_with("line 3"));
    assert_eq!(state(&d, "+447911123457"), (Some(OptedOut), None));
    assert_eq!(
        contacts::require(d.store.conn(), "+34612345678")
            .unwrap()
            .name,
        "Chloé\nsecond line"
    );
    assert!(verify(&d.store).unwrap().ok());
}

#[test]
fn importing_the_same_file_again_changes_nothing() {
    let mut d = db();
    import(&mut d, MESSY, &opts());
    let events = verify(&d.store).unwrap().events;
    let r = import(&mut d, MESSY, &opts());
    assert_eq!(counts(&r), [0, 0, 3, 0, 4], "{r:#?}");
    assert_eq!(r.events, 0);
    assert_eq!(verify(&d.store).unwrap().events, events);
}

#[test]
fn an_import_never_opts_an_opted_out_contact_back_in() {
    let mut d = db();
    import(
        &mut d,
        "phone,marketing,utility\n07911123456,yes,yes\n",
        &Options {
            source: Some("form".into()),
            ..opts()
        },
    );
    d.set("+447911123456", Marketing, OptedOut);
    let csv = "phone,name,marketing,marketing_source\n07911123456,Ann,yes,new list\n";
    let r = import(&mut d, csv, &opts());
    assert_eq!(counts(&r), [0, 0, 0, 1, 0]);
    assert_eq!(r.issues[0].line, 2);
    assert!(
        r.issues[0].reason.contains("never opts anyone back in"),
        "{}",
        r.issues[0].reason
    );
    let c = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!(c.marketing, Some(OptedOut));
    assert_eq!(c.name, "", "a blocked row writes nothing at all");
}

#[test]
fn an_opt_in_needs_a_source_and_an_opt_out_does_not() {
    let mut d = db();
    let csv = "phone,marketing\n07911123456,yes\n07911123457,no\n";
    let r = import(&mut d, csv, &opts());
    assert_eq!(counts(&r), [1, 0, 0, 1, 0]);
    assert!(r.issues[0].reason.contains("needs a source"));
    assert!(contacts::get(d.store.conn(), "+447911123456")
        .unwrap()
        .is_none());
    let r = import(
        &mut d,
        csv,
        &Options {
            source: Some("Paper sign-up sheet".into()),
            ..opts()
        },
    );
    assert_eq!(counts(&r), [1, 0, 1, 0, 0]);
    assert_eq!(state(&d, "+447911123456").0, Some(OptedIn));
}

#[test]
fn conflicting_rows_for_one_number_keep_the_opt_out() {
    let mut d = db();
    let csv =
        "phone,name,marketing,consent_source\n07911123456,Ann,no,\n+447911123456,Annie,yes,fair\n";
    let r = import(&mut d, csv, &opts());
    assert_eq!(
        (counts(&r), r.duplicates, r.events),
        ([1, 0, 0, 0, 0], 1, 1)
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w
                .contains("line 3 opts +447911123456 in to marketing but line 2 opts them out")),
        "{:?}",
        r.warnings
    );
    let c = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!((c.name.as_str(), c.marketing), ("Annie", Some(OptedOut)));
}

/// The import streams its rows in chunks of about a thousand; a number repeated thousands of
/// rows later, in another chunk and another form, is still one contact whose opt-out wins, in
/// either order, and other numbers that end in the same digits stay apart.
#[test]
fn repeats_far_apart_in_a_long_file_still_keep_the_opt_out() {
    let mut d = db();
    let mut csv = String::from("phone,name,marketing,consent_source\n");
    csv.push_str("07911 123456,Ann,yes,fair\n"); // line 2: in…
    csv.push_str("+44 7922 000001,Bea,no,\n"); // line 3: out…
    for i in 0..5000 {
        csv.push_str(&format!("07400 {i:06},Filler {i},yes,fair\n"));
    }
    csv.push_str("+447911123456,Ann,no,\n"); // …then out, 5000 rows later
    csv.push_str("07922 000001,Bea,yes,fair\n"); // …then in again
    csv.push_str("+44 7811 123456,Same ending,yes,fair\n"); // the same last eight digits as Ann
    let r = import(&mut d, &csv, &opts());
    assert_eq!(
        (counts(&r), r.duplicates),
        ([5003, 0, 0, 0, 0], 2),
        "{:?}",
        r.issues
    );
    assert_eq!(state(&d, "+447911123456").0, Some(OptedOut));
    assert_eq!(state(&d, "+447922000001").0, Some(OptedOut));
    assert_eq!(state(&d, "+447811123456").0, Some(OptedIn));
    assert_eq!(state(&d, "+447400004999").0, Some(OptedIn));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("line 5004 repeats +447911123456 from line 2")),
        "{:?}",
        r.warnings
    );
    assert!(verify(&d.store).unwrap().ok());
}

#[test]
fn opt_outs_from_a_file_are_always_applied() {
    let mut d = db();
    d.add("+447911123456");
    d.set("+447911123456", Marketing, OptedIn);
    let r = import(
        &mut d,
        "phone,marketing,utility\n+447911123456,out,0\n",
        &opts(),
    );
    assert_eq!(counts(&r), [0, 1, 0, 0, 0]);
    assert_eq!(r.events, 2);
    assert_eq!(state(&d, "+447911123456"), (Some(OptedOut), Some(OptedOut)));
}

#[test]
fn a_dry_run_reports_exactly_what_the_import_does_and_writes_nothing() {
    let mut d = db();
    let dry = import(
        &mut d,
        MESSY,
        &Options {
            dry_run: true,
            ..opts()
        },
    );
    assert!(dry.dry_run);
    assert_eq!(
        contacts::list(d.store.conn(), &Default::default())
            .unwrap()
            .len(),
        0
    );
    assert_eq!(verify(&d.store).unwrap().events, 0);
    let n: i64 = d
        .store
        .conn()
        .query_row("SELECT count(*) FROM imports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    let real = import(&mut d, MESSY, &opts());
    assert_eq!((counts(&dry), dry.events), (counts(&real), real.events));
}

#[test]
fn suppressed_numbers_are_blocked() {
    let mut d = db();
    let salt = d.store.salt().to_vec();
    suppression::add(
        d.store.conn(),
        &salt,
        "+447911123456",
        Reason::Erased,
        None,
        &time::now(),
    )
    .unwrap();
    let r = import(
        &mut d,
        "phone,marketing,consent_source\n07911 123456,yes,fair\n",
        &opts(),
    );
    assert_eq!(counts(&r), [0, 0, 0, 1, 0]);
    assert!(r.issues[0].reason.contains("suppression list"));
    assert!(contacts::get(d.store.conn(), "+447911123456")
        .unwrap()
        .is_none());
    let e = contacts::add(&mut d.store, "+447911123456", "", &[]).unwrap_err();
    assert!(e.to_string().contains("suppression list"), "{e}");
}

#[test]
fn tabs_utf16_and_windows_1252_files() {
    let mut d = db();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "phone\tname\n07911123456\tZoë\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    let r = import_bytes(&mut d.store, &utf16, &opts()).unwrap();
    assert_eq!(r.added, 1);
    assert_eq!(
        contacts::require(d.store.conn(), "+447911123456")
            .unwrap()
            .name,
        "Zoë"
    );
    let r = import_bytes(&mut d.store, b"phone,name\n07911123457,Jos\xe9\n", &opts()).unwrap();
    assert_eq!(r.added, 1);
    assert!(r.warnings[0].contains("Windows-1252"));
    assert_eq!(
        contacts::require(d.store.conn(), "+447911123457")
            .unwrap()
            .name,
        "José"
    );
}

#[test]
fn a_file_without_a_region_names_what_to_do() {
    let mut d = db();
    let r = import(
        &mut d,
        "phone\n07911123456\n+34612345678\n",
        &Options {
            region: None,
            ..opts()
        },
    );
    assert_eq!(counts(&r), [1, 0, 0, 0, 1]);
    assert!(
        r.issues[0].reason.contains("default_region"),
        "{}",
        r.issues[0].reason
    );
}

#[test]
fn the_export_reads_back_to_the_same_state() {
    let mut d = db();
    import(&mut d, MESSY, &opts());
    d.set("+34612345678", Utility, OptedIn);
    let mut csv = Vec::new();
    export::write_csv(&export::collect(&d.store).unwrap(), &mut csv).unwrap();

    let snapshot = |d: &common::Db| {
        contacts::list(d.store.conn(), &Default::default())
            .unwrap()
            .into_iter()
            .map(|c| (c.phone, c.name, c.tags, c.marketing, c.utility))
            .collect::<Vec<_>>()
    };
    let mut fresh = db();
    let r = import_bytes(
        &mut fresh.store,
        &csv,
        &Options {
            region: None,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(r.rejected + r.blocked, 0, "{r:#?}");
    assert_eq!(snapshot(&fresh), snapshot(&d));
    let again = import_bytes(&mut d.store, &csv, &opts()).unwrap();
    assert_eq!(again.added + again.updated + again.events, 0, "{again:#?}");
}

/// The export is safe to open in a spreadsheet: numbers stay text (the international format,
/// marked as text), a cell that would run as a formula is marked as text, and all of it reads
/// back to the same state.
#[test]
fn the_export_is_safe_in_a_spreadsheet_and_still_reads_back() {
    let mut d = db();
    import(
        &mut d,
        "phone,name,tags,marketing,consent_source\n07911 123456,=HYPERLINK(\"http://x\"),@vip,yes,+fair\n",
        &opts(),
    );
    let mut csv = Vec::new();
    export::write_csv(&export::collect(&d.store).unwrap(), &mut csv).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(row.starts_with("'+44 7911 123456,"), "{row}");
    assert!(
        row.contains("\"'=HYPERLINK(\"\"http://x\"\")\"") && row.contains(",'@vip,"),
        "{row}"
    );
    assert!(row.contains(",'+fair,"), "{row}");
    assert!(row.contains("T") && !row.contains("E+"), "{row}");
    let again = import_bytes(&mut d.store, &csv, &opts()).unwrap();
    assert_eq!(
        again.added + again.updated + again.events + again.rejected,
        0,
        "{again:#?}"
    );
    let c = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!(
        (c.name.as_str(), c.tags.as_slice()),
        ("=HYPERLINK(\"http://x\")", ["@vip".to_string()].as_slice())
    );
}

/// The app's progress bar: reading first, then rows written as they go, then the commit.
#[test]
fn an_import_says_where_it_is() {
    let mut d = db();
    let mut csv = String::from("phone,name\n");
    for i in 0..10_000 {
        csv.push_str(&format!("07400 {i:06},Customer {i}\n"));
    }
    let mut seen = Vec::new();
    let r = optdesk_core::import::import_bytes_with(
        &mut d.store,
        csv.as_bytes(),
        &opts(),
        &mut |stage, done, rows| seen.push((stage, done, rows)),
    )
    .unwrap();
    assert_eq!(r.added, 10_000);
    use optdesk_core::import::Stage::*;
    assert_eq!(seen.first(), Some(&(Reading, 0, 0)));
    assert_eq!(seen.last(), Some(&(Committing, 10_000, 10_000)));
    let writing: Vec<u64> = seen
        .iter()
        .filter(|(s, _, _)| *s == Writing)
        .map(|(_, done, rows)| {
            assert_eq!(*rows, 10_000);
            *done
        })
        .collect();
    assert!(writing.len() >= 3, "{seen:?}");
    assert!(writing.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}
