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
//! Numbers are parsed on every core (libphonenumber's validity check costs ~10 µs a number) while
//! one writer applies the rows in file order.

mod read;
mod row;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::contacts;
use crate::error::{Error, Result};
use crate::ledger::{Appender, NewEvent};
use crate::model::{ConsentState, ContactId, SourceKind, Topic};
use crate::phone::Region;
use crate::settings;
use crate::store::{Store, Tx};
use crate::time::{self, Timestamp};

use row::{Layout, ParsedRow, RowError};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    Blocked,
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub line: u64,
    pub kind: IssueKind,
    /// The number as written in the file (rejected) or in E.164 (blocked).
    pub phone: Option<String>,
    pub reason: String,
}

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

/// Imports the CSV file at `path`.
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

/// Imports CSV text given as bytes (any encoding [`read::decode`] understands).
pub fn import_bytes(store: &mut Store, bytes: &[u8], opts: &Options) -> Result<Report> {
    let mut warnings = Vec::new();
    let text = read::decode(bytes, &mut warnings);
    let table = read::read_table(&text)?;
    warnings.extend(table.warnings);
    let layout = Layout::new(&table.header);
    let region = match opts.region {
        Some(r) => Some(r),
        None => settings::default_region(store.conn())?,
    };
    let file_sha256 = hex::encode(Sha256::digest(bytes));
    let salt = store.salt().to_vec();
    let now = time::now();

    let run = |tx: &Tx<'_>| -> Result<Report> {
        let (send, recv) = mpsc::sync_channel::<Vec<Result<ParsedRow, RowError>>>(4);
        std::thread::scope(|scope| {
            let (records, layout, salt) = (&table.records, &layout, &salt);
            // The parser owns the sender, so the channel closes when it is done.
            scope.spawn(move || {
                for chunk in records.chunks(2048) {
                    let parsed = chunk
                        .par_iter()
                        .map(|r| row::parse(r, layout, region, salt, now))
                        .collect();
                    if send.send(parsed).is_err() {
                        break; // the writer stopped early (an error); nothing more to do
                    }
                }
            });
            let mut writer = Writer::new(tx, opts, &file_sha256, now)?;
            for chunk in recv {
                for parsed in chunk {
                    writer.collect(parsed)?;
                }
            }
            writer.apply_all()?;
            writer.finish()
        })
    };
    let mut report = if opts.dry_run {
        store.dry_run_tx(run)?
    } else {
        store.with_tx(run)?
    };
    report.dry_run = opts.dry_run;
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    if !layout.has_consent_columns() {
        report
            .warnings
            .push("the file has no marketing or utility column, so no consent was imported".into());
    }
    Ok(report)
}

struct Existing {
    id: ContactId,
    name: String,
    consent: [Option<ConsentState>; 2],
}

struct Writer<'t, 'c> {
    tx: &'t Tx<'c>,
    opts: &'t Options,
    ledger: Appender<'t, 'c>,
    import_id: i64,
    now: Timestamp,
    now_db: String,
    suppressed: HashSet<Vec<u8>>,
    /// Rows in file order, one per number, each with the contact it updates (if any).
    pending: Vec<(ParsedRow, Option<Existing>)>,
    by_phone: HashMap<String, usize>,
    report: Report,
}

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
            tx,
            opts,
            ledger: Appender::new(tx)?,
            import_id,
            now,
            now_db,
            suppressed,
            pending: Vec::new(),
            by_phone: HashMap::new(),
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

    /// Takes one parsed record: rejects it, or merges it with an earlier row for the same
    /// number, or looks up the contact it concerns. Runs while later records are still parsed.
    fn collect(&mut self, parsed: Result<ParsedRow, RowError>) -> Result<()> {
        self.report.rows += 1;
        let row = match parsed {
            Ok(row) => row,
            Err(e) => {
                self.issue(e.line, IssueKind::Rejected, e.phone, e.reason);
                return Ok(());
            }
        };
        if let Some(&i) = self.by_phone.get(&row.phone) {
            let first = &mut self.pending[i].0;
            self.report.warnings.push(format!(
                "line {} repeats {} from line {}; the two rows were merged",
                row.line, row.phone, first.line
            ));
            self.report.duplicates += 1;
            if let Some(note) = first.merge(row) {
                self.report.warnings.push(note);
            }
            return Ok(());
        }
        let existing: Option<Existing> = self
            .tx
            .prepare_cached("SELECT id, name, marketing, utility FROM contacts WHERE phone = ?1")?
            .query_row([&row.phone], |r| {
                Ok(Existing {
                    id: ContactId(r.get(0)?),
                    name: r.get(1)?,
                    consent: [contacts::consent_col(r, 2)?, contacts::consent_col(r, 3)?],
                })
            })
            .optional()?;
        self.by_phone.insert(row.phone.clone(), self.pending.len());
        self.pending.push((row, existing));
        Ok(())
    }

    fn apply_all(&mut self) -> Result<()> {
        for (row, existing) in std::mem::take(&mut self.pending) {
            self.apply(row, existing)?;
        }
        Ok(())
    }

    fn apply(&mut self, row: ParsedRow, existing: Option<Existing>) -> Result<()> {
        if self.suppressed.contains(&row.phone_hash[..]) {
            let reason = "the number is on the suppression list (the person opted out or asked to be erased); \
                          an import cannot add it back"
                .to_string();
            self.issue(row.line, IssueKind::Blocked, Some(row.phone), reason);
            return Ok(());
        }

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
                    self.tx
                        .prepare_cached(
                            "UPDATE contacts SET name = ?1, updated_at = ?2 WHERE id = ?3",
                        )?
                        .execute(params![name, self.now_db, e.id.0])?;
                    changed = true;
                }
                e.id
            }
            None => {
                let name = row.name.as_deref().unwrap_or("");
                changed = true;
                contacts::insert_hashed(self.tx, &row.phone, &row.phone_hash, name, &self.now_db)?
            }
        };
        let mut tags_changed = false;
        for tag in &row.tags {
            tags_changed |= contacts::add_tag(self.tx, id, tag)?;
        }
        if tags_changed && existing.is_some() {
            self.tx
                .prepare_cached("UPDATE contacts SET updated_at = ?1 WHERE id = ?2")?
                .execute(params![self.now_db, id.0])?;
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
        match (existing.is_some(), changed) {
            (false, _) => self.report.added += 1,
            (true, true) => self.report.updated += 1,
            (true, false) => self.report.unchanged += 1,
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Report> {
        self.report.issues.sort_by_key(|i| i.line);
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
