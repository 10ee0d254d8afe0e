//! The import's one writer: it takes parsed rows in file order, holds the ones that may repeat
//! a number until the file is read, and decides for each row what may be written (never an
//! opt-in over an opt-out, never one without a source) before writing any of it.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::row::{self, ParsedRow, RowError};
use super::{Issue, IssueKind, Options, Report};
use crate::contacts::RowWriter;
use crate::error::Result;
use crate::ledger::{Appender, NewEvent};
use crate::model::{ConsentState, SourceKind, Topic};
use crate::store::Tx;
use crate::time::{self, Timestamp};

pub(super) struct Writer<'t, 'c> {
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
pub(super) const NAMES_AS_STORED: &str = "names as they will be stored: ";

/// Row notes reported one by one before the rest are only counted.
const NOTES_SHOWN: u64 = 20;

impl<'t, 'c> Writer<'t, 'c> {
    pub(super) fn new(
        tx: &'t Tx<'c>,
        opts: &'t Options,
        file_sha256: &str,
        now: Timestamp,
    ) -> Result<Self> {
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
    pub(super) fn take(
        &mut self,
        parsed: Result<ParsedRow, RowError>,
        may_recur: bool,
    ) -> Result<()> {
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

    pub(super) fn apply_held(&mut self) -> Result<()> {
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

    pub(super) fn finish(mut self) -> Result<Report> {
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
