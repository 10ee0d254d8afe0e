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
mod read;
mod row;
mod scan;
mod sheet;
mod source;
mod vcard;
mod words;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::contacts::RowWriter;
use crate::error::{Error, Result};
use crate::ledger::{Appender, NewEvent};
use crate::model::{ConsentState, SourceKind, Topic};
use crate::phone::{Numbering, Region};
use crate::settings;
use crate::store::{Store, Tx};
use crate::time::{self, Timestamp};

pub use columns::column_mapping;
use row::{Layout, ParsedRow, RowError};
use source::Source;

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
struct Writer<'t, 'c> {
    opts: &'t Options,
    contacts: RowWriter<'t>,
    ledger: Appender<'t, 'c>,
    tx: &'t Tx<'c>,
    import_id: i64,
    now: Timestamp,
    now_db: String,
    suppressed: HashSet<Vec<u8>>,
    /// Rows that might repeat, one per number in file order, merged as their repeats arrive.
    held: Vec<ParsedRow>,
    held_index: HashMap<String, usize>,
    /// The first line each number that may recur appeared on, and the name it had there.
    first_line: HashMap<String, (u64, Option<String>)>,
    /// Notes about rows (a shortened tag, a merged repeat…): the first few are reported, the
    /// rest counted.
    notes: u64,
    /// The first few names, as they will be stored (a dry run shows them: a wrong encoding is
    /// seen before anything is written).
    names: Vec<String>,
    report: Report,
}

/// How a rejected row that carried an opt-out begins its reason (such rows are listed first).
const LOST_OPT_OUT: &str = "this row says the person does not want messages, and it could not be imported, so that is NOT recorded: ";

/// A dry run's sample of names, shown first in its report.
const NAMES_AS_STORED: &str = "names as they will be stored: ";

/// Row notes reported one by one before the rest are only counted.
const NOTES_SHOWN: u64 = 20;

impl<'t, 'c> Writer<'t, 'c> {
    fn new(tx: &'t Tx<'c>, opts: &'t Options, file_sha256: &str, now: Timestamp) -> Result<Self> {
        let now_db = time::to_db(&now);
        tx.execute(
            "INSERT INTO imports (file_name, file_sha256, actor, imported_at, added, updated,
                unchanged, blocked, rejected) VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 0, 0)",
            params![opts.file_name, file_sha256, opts.actor, now_db],
        )?;
        let import_id = tx.last_insert_rowid();
        // The list is small (opt-outs from unknown numbers, erasures): hold it in memory.
        let suppressed = tx
            .prepare("SELECT phone_hash FROM suppressions")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<HashSet<Vec<u8>>>>()?;
        Ok(Writer {
            opts,
            contacts: RowWriter::new(tx)?,
            ledger: Appender::new(tx)?,
            tx,
            import_id,
            now,
            now_db,
            suppressed,
            held: Vec::new(),
            held_index: HashMap::new(),
            first_line: HashMap::new(),
            notes: 0,
            names: Vec::new(),
            report: Report::default(),
        })
    }

    fn issue(&mut self, line: u64, kind: IssueKind, phone: Option<String>, reason: String) {
        match kind {
            IssueKind::Blocked => self.report.blocked += 1,
            IssueKind::Rejected => self.report.rejected += 1,
        }
        self.report.issues.push(Issue {
            line,
            kind,
            phone,
            reason,
        });
    }

    /// Takes one parsed record: a rejection is reported; a row that might repeat is held (and
    /// merged with an earlier row for the same number); any other row is written now.
    fn take(&mut self, parsed: Result<ParsedRow, RowError>, may_recur: bool) -> Result<()> {
        self.report.rows += 1;
        let mut row = match parsed {
            Ok(row) => row,
            Err(e) => {
                let reason = if e.carried_opt_out {
                    format!("{LOST_OPT_OUT}{}", e.reason)
                } else {
                    e.reason
                };
                self.issue(e.line, IssueKind::Rejected, e.phone, reason);
                return Ok(());
            }
        };
        if let Some(n) = row.name.as_ref().filter(|_| self.names.len() < 3) {
            self.names.push(format!("{n:?}"));
        }
        for note in std::mem::take(&mut row.notes) {
            self.note(note);
        }
        if !may_recur {
            return self.apply(row);
        }
        // Only a row that may recur can repeat an earlier one: the others are written now.
        if let Some((first, name)) = self.first_line.get(&row.phone) {
            let other_name = match (name, &row.name) {
                (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
                    format!(
                        " under another name ({a:?}, then {b:?}): possibly a line two people share"
                    )
                }
                _ => String::new(),
            };
            let note = format!(
                "line {} repeats {} from line {first}{other_name}; the two rows were merged",
                row.line, row.phone
            );
            self.note(note);
            self.report.duplicates += 1;
        } else {
            self.first_line
                .insert(row.phone.clone(), (row.line, row.name.clone()));
        }
        match self.held_index.get(&row.phone) {
            Some(&i) => {
                if let Some(note) = self.held[i].merge(row) {
                    self.note(note);
                }
            }
            None => {
                self.held_index.insert(row.phone.clone(), self.held.len());
                self.held.push(row);
            }
        }
        Ok(())
    }

    /// A note about one row (a shortened tag, a merged repeat…): the first few are reported,
    /// the rest counted, so a file of a million repeats gives a report one can read.
    fn note(&mut self, note: String) {
        self.notes += 1;
        if self.notes <= NOTES_SHOWN {
            self.report.warnings.push(note);
        }
    }

    fn apply_held(&mut self) -> Result<()> {
        for row in std::mem::take(&mut self.held) {
            self.apply(row)?;
        }
        Ok(())
    }

    fn apply(&mut self, row: ParsedRow) -> Result<()> {
        if self.suppressed.contains(&row.phone_hash[..]) {
            let reason = "the number is on the suppression list (the person opted out or asked to be erased); \
                          an import cannot add it back"
                .to_string();
            self.issue(row.line, IssueKind::Blocked, Some(row.phone), reason);
            return Ok(());
        }
        // Most numbers in an import are new: try to add the contact first and look up only the
        // numbers already there. A row that would be blocked were it new is looked up instead, so
        // that a blocked row still writes nothing.
        let blocked_if_new = row.topics.iter().flatten().any(|cell| {
            cell.state == ConsentState::OptedIn
                && cell.source.is_none()
                && self.opts.source.is_none()
        });
        let mut inserted = None;
        if !blocked_if_new {
            let name = row.name.as_deref().unwrap_or("");
            inserted =
                self.contacts
                    .insert_if_new(&row.phone, &row.phone_hash, name, &self.now_db)?;
        }
        let existing = match inserted {
            Some(_) => None,
            None => self.contacts.lookup(&row.phone)?,
        };

        // Decide every part of the row before writing any of it: a blocked row writes nothing.
        let mut changes: Vec<(Topic, &row::TopicCell, Option<&str>)> = Vec::new();
        let mut blocked = Vec::new();
        for (t, topic) in [Topic::Marketing, Topic::Utility].into_iter().enumerate() {
            let Some(cell) = &row.topics[t] else { continue };
            let current = existing.as_ref().and_then(|e| e.consent[t]);
            if current == Some(cell.state) {
                continue;
            }
            let source = cell.source.as_deref().or(self.opts.source.as_deref());
            if cell.state == ConsentState::OptedIn {
                if current == Some(ConsentState::OptedOut) {
                    blocked.push(format!(
                        "{topic}: the contact opted out, and an import never opts anyone back in (only the customer can)"
                    ));
                    continue;
                }
                if source.is_none() {
                    blocked.push(format!(
                        "{topic}: an opt-in needs a source; add a consent_source (or {topic}_source) column, or pass --source"
                    ));
                    continue;
                }
            }
            changes.push((topic, cell, source));
        }
        if !blocked.is_empty() {
            self.issue(
                row.line,
                IssueKind::Blocked,
                Some(row.phone.clone()),
                blocked.join("; "),
            );
            return Ok(());
        }

        let mut changed = false;
        let id = match &existing {
            Some(e) => {
                if let Some(name) = row.name.as_deref().filter(|n| *n != e.name) {
                    changed |= self.contacts.set_name(e.id, name, &self.now_db)?;
                }
                e.id
            }
            None => {
                changed = true;
                match inserted {
                    Some(id) => id,
                    None => {
                        let name = row.name.as_deref().unwrap_or("");
                        self.contacts.insert(
                            &row.phone,
                            Some(&row.phone_hash),
                            name,
                            &self.now_db,
                        )?
                    }
                }
            }
        };
        let mut tags_changed = false;
        for tag in &row.tags {
            tags_changed |= self.contacts.add_tag(id, tag)?;
        }
        if tags_changed && existing.is_some() {
            self.contacts.touch(id, &self.now_db)?;
        }
        changed |= tags_changed;
        for (topic, cell, source) in changes {
            let evidence = format!("import #{} line {}", self.import_id, cell.line);
            self.ledger.append(&NewEvent {
                contact: id,
                phone: &row.phone,
                subject: topic.subject(),
                state: cell.state.event_state(),
                source_kind: SourceKind::Import,
                source_detail: source,
                proof: cell.text.as_deref(),
                evidence_ref: Some(&evidence),
                actor: &self.opts.actor,
                occurred_at: cell.at.unwrap_or(self.now),
            })?;
            self.report.events += 1;
            changed = true;
        }
        // The number may come again later in the file: its state must be readable then.
        self.ledger.flush()?;
        match (existing.is_some(), changed) {
            (false, _) => self.report.added += 1,
            (true, true) => self.report.updated += 1,
            (true, false) => self.report.unchanged += 1,
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Report> {
        if self.opts.dry_run && !self.names.is_empty() {
            self.report
                .warnings
                .push(format!("{NAMES_AS_STORED}{}", self.names.join(", ")));
        }
        if self.notes > NOTES_SHOWN {
            self.report.warnings.push(format!(
                "and {} more notes like those",
                self.notes - NOTES_SHOWN
            ));
        }
        // Rows whose opt-out could not be recorded first, then in file order.
        self.report
            .issues
            .sort_by_key(|i| (!i.reason.starts_with(LOST_OPT_OUT), i.line));
        self.ledger.finish()?;
        let r = self.report;
        self.tx.execute(
            "UPDATE imports SET added = ?1, updated = ?2, unchanged = ?3, blocked = ?4, rejected = ?5
             WHERE id = ?6",
            params![r.added, r.updated, r.unchanged, r.blocked, r.rejected, self.import_id],
        )?;
        Ok(r)
    }
}
