//! Spreadsheet files (.xlsx, .xls, .ods), read as the table a CSV of the same sheet would be:
//! typed cells become the text the importer reads (a number stored as a number keeps its
//! digits, a date cell becomes ISO 8601), and line N of that text is row N of the sheet, so the
//! report names rows as the spreadsheet numbers them.

use std::io::Cursor;

use calamine::{Data, Reader};
use chrono::Timelike;

use crate::error::{Error, Result};

/// Whether the bytes are a spreadsheet rather than text: a ZIP (.xlsx, .ods) or an OLE compound
/// file (.xls).
pub(super) fn is_spreadsheet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
}

/// The first sheet that has cells, as CSV text.
pub(super) fn to_csv(bytes: &[u8], warnings: &mut Vec<String>) -> Result<String> {
    let unreadable = |e: calamine::Error| {
        Error::invalid(format!(
            "the file looks like a spreadsheet but cannot be read as one ({e}); save it again from the spreadsheet as .xlsx or as CSV UTF-8"
        ))
    };
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let names = book.sheet_names();
    let mut chosen = None;
    let mut with_cells = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let range = book.worksheet_range_at(i).transpose().map_err(unreadable)?;
        if let Some(range) = range.filter(|r| !r.is_empty()) {
            with_cells.push(name.clone());
            if chosen.is_none() {
                chosen = Some((name.clone(), range));
            }
        }
    }
    let Some((name, range)) = chosen else {
        return Err(Error::invalid(
            "the spreadsheet is empty: no sheet has any cells",
        ));
    };
    if with_cells.len() > 1 {
        warnings.push(format!(
            "the workbook has {} sheets with cells; the first, {name:?}, was read (others: {}). To import another, move it first or save it as CSV",
            with_cells.len(),
            with_cells[1..]
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::invalid(format!("cannot read the spreadsheet: {e}"));
    // Rows above the first cell are blank lines, so that line numbers stay row numbers.
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let mut text = "\n".repeat(first_row as usize).into_bytes();
    let mut errors = Vec::new();
    for (r, row) in range.rows().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                cell_text(cell).unwrap_or_else(|what| {
                    errors.push(format!(
                        "row {} column {}: {what}",
                        first_row as usize + r + 1,
                        c + 1
                    ));
                    String::new()
                })
            })
            .collect();
        out.write_record(&cells).map_err(csv_err)?;
    }
    text.extend(
        out.into_inner()
            .map_err(|e| Error::invalid(format!("cannot read the spreadsheet: {e}")))?,
    );
    if !errors.is_empty() {
        warnings.push(format!(
            "{} cells hold a spreadsheet error and were read as empty: {}",
            errors.len(),
            errors
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    String::from_utf8(text).map_err(|_| Error::invalid("the spreadsheet's text is not UTF-8"))
}

/// A cell as the importer reads text; a spreadsheet error (`#N/A`…) is named.
fn cell_text(cell: &Data) -> std::result::Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        // A line break inside a cell would make the CSV's line numbers drift from the rows.
        Data::String(s) => s.replace(['\r', '\n'], " "),
        Data::Int(i) => i.to_string(),
        // A phone number typed into a number cell: every digit is there, written in full.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) => {
                // A spreadsheet keeps times to the millisecond, as a fraction of a day.
                let ms = (t.and_utc().timestamp_subsec_micros() + 500) / 1000;
                let t =
                    t.with_nanosecond(0).unwrap_or(t) + chrono::Duration::milliseconds(ms.into());
                if t.and_utc().timestamp_subsec_millis() == 0 {
                    t.format("%Y-%m-%dT%H:%M:%S").to_string()
                } else {
                    t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
                }
            }
            None => d.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("{e}")),
    })
}
