//! CSV import, safe by default:
//!
//! - an import never turns an opted-out contact into opted-in, and never records an opt-in without
//!   a source (on the row or given for the whole file); such rows are reported as **blocked** and
//!   nothing from them is written;
//! - a bad row is reported with its line number and reason (**rejected**) and every good row
//!   still imports;
//! - the whole import is one transaction: interrupted, it leaves the database as it was;
//! - a dry run is the same import, rolled back, so what it reports is exactly what would happen;
//! - importing the same file twice changes nothing the second time.
//!
//! Numbers are parsed on every core (libphonenumber's validity check costs ~10 µs a number), each
//! parser with its own numbering database, while one writer applies the rows in file order.

mod cells;
mod columns;
mod country;

/// A country as people write it (an ISO code, or its name in English or the local language).
pub fn country_code(cell: &str) -> Option<String> {
    match country::country(cell)? {
        country::CountryCell::Region(r) => Some(r.code()),
        country::CountryCell::CallingCode(_) => None,
    }
}
mod read;
mod row;
mod scan;
mod sheet;
mod source;
mod vcard;
mod words;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::phone::{Numbering, Region};
use crate::settings;
use crate::store::{Store, Tx};
use crate::time;

pub use columns::column_mapping;
use row::{Layout, ParsedRow, RowError};
use source::Source;
use writer::{Writer, NAMES_AS_STORED};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Region for numbers written without a country code; the `default_region` setting if unset.
    pub region: Option<Region>,
    /// The source for rows that carry none of their own (`--source TEXT`).
    pub source: Option<String>,
    pub dry_run: bool,
    pub actor: String,
    /// Shown in the import record and each event's evidence reference.
    pub file_name: String,
    /// The owner's column mapping: `(header in the file, OptDesk's column name)`; `""` ignores.
    pub columns: Vec<(String, String)>,
}

/// The start of a file, for the column-mapping screen.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Peek {
    pub headers: Vec<String>,
    /// OptDesk's reading of each header (`phone`, `marketing`, …), or none.
    pub detected: Vec<Option<String>>,
    /// Up to five rows after the header.
    pub rows: Vec<Vec<String>>,
    pub total_rows: u64,
}

/// Reads the header and first rows without importing anything.
pub fn peek(bytes: &[u8]) -> Result<Peek> {
    let (text, _) = text_of(bytes, &mut Vec::new())?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(read::detect_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut records = reader.records().filter_map(|r| r.ok());
    let header = records
        .next()
        .ok_or_else(|| Error::invalid("the file is empty: it has no header row"))?;
    let mut rows = Vec::new();
    let mut total = 0u64;
    for r in records {
        if r.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        total += 1;
        if rows.len() < 5 {
            rows.push(r.iter().map(str::to_string).collect());
        }
    }
    Ok(Peek {
        headers: header.iter().map(str::to_string).collect(),
        detected: read::detected(&header),
        rows,
        total_rows: total,
    })
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    Blocked,
    Rejected,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub line: u64,
    pub kind: IssueKind,
    /// The number as written in the file (rejected) or in E.164 (blocked).
    pub phone: Option<String>,
    pub reason: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub rows: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub blocked: u64,
    pub rejected: u64,
    /// Rows merged into an earlier row for the same number.
    pub duplicates: u64,
    /// Ledger events written (or that would be).
    pub events: u64,
    /// Blocked and rejected rows with their line numbers and reasons, in file order.
    pub issues: Vec<Issue>,
    /// Things about the file as a whole: ignored columns, a guessed encoding, repeated numbers.
    pub warnings: Vec<String>,
}

/// Imports the file at `path`: CSV (any encoding and delimiter), a spreadsheet (.xlsx, .xls,
/// .ods) or vCards (.vcf).
pub fn import_file(store: &mut Store, path: &Path, opts: &Options) -> Result<Report> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut opts = opts.clone();
    if opts.file_name.is_empty() {
        opts.file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    }
    import_bytes(store, &bytes, &opts)
}

/// Where an import is, for a progress bar.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The first pass over the file.
    Reading,
    /// Rows parsed and written (or checked, in a dry run): so many of the file's.
    Writing,
    /// Every row is written; the transaction commits (or a dry run rolls back).
    Committing,
}

/// Imports CSV text given as bytes (any encoding [`read::decode`] understands).
pub fn import_bytes(store: &mut Store, bytes: &[u8], opts: &Options) -> Result<Report> {
    import_bytes_with(store, bytes, opts, &mut |_, _, _| {})
}

/// [`import_bytes`], telling `progress` where it is: the stage, rows done and the file's rows
/// (known once the first pass is over). Called every few thousand rows, on this thread.
pub fn import_bytes_with(
    store: &mut Store,
    bytes: &[u8],
    opts: &Options,
    progress: &mut dyn FnMut(Stage, u64, u64),
) -> Result<Report> {
    let mut warnings = Vec::new();
    let (text, card_lines) = text_of(bytes, &mut warnings)?;
    progress(Stage::Reading, 0, 0);
    let mut source = Source::open(&text, &opts.columns)?;
    // The first pass: which rows may repeat a number, where numbers come from, and whether the
    // consent columns hold consent (which decides the layout the second pass reads by).
    let scan = scan::scan(&mut source)?;
    warnings.append(&mut source.warnings);
    let layout = Layout::new(&source.header, &opts.file_name);
    let region = match opts.region {
        Some(r) => Some(r),
        None => settings::default_region(store.conn())?,
    };
    if layout.phones.len() > 1 {
        // Several phone columns are normal: say where the numbers came from.
        let parts: Vec<String> = layout
            .phones
            .iter()
            .zip(&scan.from_column)
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{:?} {n}", c.header))
            .collect();
        warnings.push(format!(
            "the file has {} phone columns; each row's number was taken from the best one it fills (WhatsApp, then mobile, then any phone, then home or work): {}",
            layout.phones.len(),
            parts.join(", ")
        ));
    }
    let file_sha256 = hex::encode(Sha256::digest(bytes));
    let salt = store.salt().to_vec();
    let now = time::now();

    let run = |tx: &Tx<'_>| -> Result<Report> {
        std::thread::scope(|scope| {
            // The second pass, as a pipeline: one thread reads chunks of rows, parsers on every
            // core but one (libphonenumber's validation dominates) turn them into numbers, each
            // with its own numbering database, and this thread writes them. Chunks come back out
            // of order and are put back in file order; the queues between hold a few chunks, so
            // memory does not grow with the file.
            let parsers = parser_threads();
            let (to_parse, queue) = mpsc::sync_channel::<(usize, Vec<read::Record>)>(parsers * 2);
            let source = &source;
            let reader = scope.spawn(move || -> Result<()> {
                let mut chunk = Vec::with_capacity(CHUNK);
                let mut i = 0;
                for rec in source.rows() {
                    chunk.push(rec?);
                    if chunk.len() == CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if to_parse.send((i, full)).is_err() {
                            return Ok(()); // the writer stopped early (an error)
                        }
                        i += 1;
                    }
                }
                if !chunk.is_empty() {
                    let _ = to_parse.send((i, chunk));
                }
                Ok(())
            });
            // Shared by the parsers alone: when the last one stops, the reader's queue closes.
            let queue = Arc::new(Mutex::new(queue));
            let (send, recv) = mpsc::sync_channel::<(usize, Vec<Result<ParsedRow, RowError>>)>(8);
            for _ in 0..parsers {
                let (send, queue) = (send.clone(), Arc::clone(&queue));
                let (layout, salt) = (&layout, &salt);
                scope.spawn(move || {
                    let numbering = Numbering::new();
                    let mut dates = row::DateMemo::default();
                    loop {
                        let next = queue
                            .lock()
                            .map_err(|_| ())
                            .and_then(|q| q.recv().map_err(|_| ()));
                        let Ok((i, chunk)) = next else { break };
                        let parsed = chunk
                            .iter()
                            .map(|r| {
                                row::parse(r, layout, region, salt, now, &numbering, &mut dates)
                            })
                            .collect();
                        if send.send((i, parsed)).is_err() {
                            break; // the writer stopped early (an error); nothing more to do
                        }
                    }
                });
            }
            drop((send, queue)); // the channels close when the last parser is done
            let mut writer = Writer::new(tx, opts, &file_sha256, now)?;
            let mut early: BTreeMap<usize, Vec<Result<ParsedRow, RowError>>> = BTreeMap::new();
            let (mut expected, mut index) = (0, 0);
            let total = scan.may_recur.len() as u64;
            progress(Stage::Writing, 0, total);
            for (i, parsed) in recv {
                early.insert(i, parsed);
                while let Some(parsed) = early.remove(&expected) {
                    for row in parsed {
                        let may_recur = scan.may_recur.get(index).copied().unwrap_or(true);
                        writer.take(row, may_recur)?;
                        index += 1;
                    }
                    expected += 1;
                    if expected % PROGRESS_EVERY == 0 {
                        progress(Stage::Writing, index as u64, total);
                    }
                }
            }
            reader
                .join()
                .map_err(|_| Error::invalid("the import's reader stopped unexpectedly"))??;
            if index != scan.may_recur.len() {
                // The two passes read different rows: import nothing rather than part of it.
                return Err(Error::invalid(format!(
                    "the file changed while it was read ({} rows, then {index}); nothing was imported",
                    scan.may_recur.len()
                )));
            }
            writer.apply_held()?;
            let report = writer.finish()?;
            progress(Stage::Committing, total, total);
            Ok(report)
        })
    };
    // The database grows about nine times the file's size: keep that in the page cache up to
    // a point (a million-row file still spills, with the file itself held as well).
    let cache_mib = u32::try_from(bytes.len() / (1 << 20) * 10).unwrap_or(u32::MAX);
    let mut report = store.with_cache(cache_mib.clamp(32, IMPORT_CACHE_MIB), |store| {
        if opts.dry_run {
            store.dry_run_tx(run)
        } else {
            store.with_tx(run)
        }
    })?;
    report.dry_run = opts.dry_run;
    if let Some(lines) = card_lines {
        for issue in &mut report.issues {
            if let Some(&l) = usize::try_from(issue.line)
                .ok()
                .and_then(|n| n.checked_sub(2))
                .and_then(|n| lines.get(n))
            {
                issue.line = l;
            }
        }
        warnings.push(format!(
            "a vCard file of {} cards; a card is named by the line of its BEGIN:VCARD",
            lines.len()
        ));
    }
    warnings.append(&mut report.warnings);
    // The names as they will be stored come first: a wrong encoding shows at a glance.
    if let Some(i) = warnings.iter().position(|w| w.starts_with(NAMES_AS_STORED)) {
        let names = warnings.remove(i);
        warnings.insert(0, names);
    }
    report.warnings = warnings;
    if !layout.has_consent_columns() {
        report
            .warnings
            .push("the file has no marketing or utility column, so no consent was imported".into());
    }
    Ok(report)
}

/// A file as the CSV text the importer reads: a spreadsheet's first sheet, a vCard file's cards
/// (with the line of each card's BEGIN:VCARD, which the report names it by), or the text itself
/// in whatever encoding it came.
fn text_of<'a>(
    bytes: &'a [u8],
    warnings: &mut Vec<String>,
) -> Result<(std::borrow::Cow<'a, str>, Option<Vec<u64>>)> {
    if sheet::is_spreadsheet(bytes) {
        return Ok((
            std::borrow::Cow::Owned(sheet::to_csv(bytes, warnings)?),
            None,
        ));
    }
    let text = read::decode(bytes, warnings);
    if vcard::is_vcard(&text) {
        let (csv, lines) = vcard::to_csv(&text);
        return Ok((std::borrow::Cow::Owned(csv), Some(lines)));
    }
    Ok((text, None))
}

/// The most page cache an import takes, in MiB.
const IMPORT_CACHE_MIB: u32 = 96;

/// Chunks between two progress reports (about 4,000 rows).
const PROGRESS_EVERY: usize = 4;

/// Records per unit of work handed to a parser thread.
const CHUNK: usize = 1024;

/// Parsers on every core but the writer's (at least one). Measured on 2 cores: one parser and
/// the writer keep both busy; a second parser only takes turns with them.
fn parser_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}
