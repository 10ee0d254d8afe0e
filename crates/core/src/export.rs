//! `contacts export`: every contact with its current consent and the latest evidence per topic,
//! as CSV that `contacts import` reads back to the same state (or as JSON).

use std::io::Write;

use serde::Serialize;

use crate::contacts::{self, Contact, Filter};
use crate::error::{Error, Result};
use crate::ledger::{self, Event};
use crate::model::{ConsentState, Subject};
use crate::Store;

pub const CSV_HEADER: [&str; 11] = [
    "phone",
    "name",
    "tags",
    "marketing",
    "marketing_source",
    "marketing_at",
    "marketing_text",
    "utility",
    "utility_source",
    "utility_at",
    "utility_text",
];

#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    #[serde(flatten)]
    pub contact: Contact,
    /// The event behind the current marketing / utility state.
    pub marketing_evidence: Option<Event>,
    pub utility_evidence: Option<Event>,
}

pub fn collect(store: &Store) -> Result<Vec<Exported>> {
    let conn = store.conn();
    let mut latest = ledger::latest_topic_events(conn)?;
    let out = contacts::list(conn, &Filter::default())?
        .into_iter()
        .map(|c| Exported {
            marketing_evidence: latest.remove(&(c.id, Subject::Marketing)),
            utility_evidence: latest.remove(&(c.id, Subject::Utility)),
            contact: c,
        })
        .collect();
    Ok(out)
}

fn evidence_cells(state: Option<ConsentState>, ev: Option<&Event>) -> [String; 4] {
    let Some(state) = state else {
        return Default::default();
    };
    let (source, at, text) = match ev {
        Some(e) => (
            e.source_detail
                .clone()
                .unwrap_or_else(|| e.source_kind.to_string()),
            e.occurred_at.clone(),
            e.proof.clone().unwrap_or_default(),
        ),
        None => Default::default(),
    };
    [state.to_string(), source, at, text]
}

/// A cell a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return: names come from customers' own WhatsApp profiles) gets a leading `'`, which
/// spreadsheets show as text and `contacts import` takes off again.
fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// One contact's row in [`CSV_HEADER`]'s order, as plain text (each format then writes it its
/// own safe way).
fn cells(row: &Exported) -> [String; 11] {
    let c = &row.contact;
    let [m0, m1, m2, m3] = evidence_cells(c.marketing, row.marketing_evidence.as_ref());
    let [u0, u1, u2, u3] = evidence_cells(c.utility, row.utility_evidence.as_ref());
    [
        crate::phone::for_spreadsheet(&c.phone),
        c.name.clone(),
        c.tags.join(";"),
        m0,
        m1,
        m2,
        m3,
        u0,
        u1,
        u2,
        u3,
    ]
}

/// The columns holding consent times.
const TIME_COLUMNS: [usize; 2] = [5, 9];

pub fn write_csv(rows: &[Exported], out: impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let csv_err = |e: csv::Error| Error::invalid(format!("cannot write the export: {e}"));
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    for r in rows {
        // States and times are OptDesk's own words; every other cell may be anyone's.
        let record: Vec<String> = cells(r)
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if matches!(i, 3 | 7) || TIME_COLUMNS.contains(&i) {
                    cell.clone()
                } else {
                    guard(cell)
                }
            })
            .collect();
        w.write_record(&record).map_err(csv_err)?;
    }
    w.flush()
        .map_err(|e| Error::invalid(format!("cannot write the export: {e}")))?;
    Ok(())
}

/// The same table as [`write_csv`], as an Excel workbook with typed cells: numbers and names are
/// text cells (a spreadsheet cannot round a number or run a name as a formula), consent times are
/// date cells in UTC. `contacts import` reads the file back, as saved or after a re-save.
pub fn xlsx(rows: &[Exported]) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook, XlsxError};
    let err = |e: XlsxError| Error::invalid(format!("cannot write the workbook: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Contacts").map_err(err)?;
    let bold = Format::new().set_bold();
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000");
    for (c, h) in (0u16..).zip(CSV_HEADER) {
        sheet
            .write_string_with_format(0, c, h, &bold)
            .map_err(err)?;
    }
    for (r, row) in (1u32..).zip(rows) {
        let cells = cells(row);
        for (col, text) in (0u16..).zip(&cells) {
            // Consent times as dates; a blank stays a blank.
            let at = TIME_COLUMNS
                .contains(&usize::from(col))
                .then(|| crate::time::from_db(text))
                .flatten();
            match at {
                Some(t) => {
                    sheet
                        .write_datetime_with_format(r, col, t.naive_utc(), &when)
                        .map_err(err)?;
                }
                None if text.is_empty() => {}
                None => {
                    sheet.write_string(r, col, text).map_err(err)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    for (col, width) in [
        (0u16, 18.0),
        (1, 24.0),
        (2, 18.0),
        (4, 28.0),
        (5, 20.0),
        (8, 28.0),
        (9, 20.0),
    ] {
        sheet.set_column_width(col, width).map_err(err)?;
    }
    book.save_to_buffer().map_err(err)
}
