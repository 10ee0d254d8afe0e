//! Whether the database file is sound, decided once and kept beside it.
//!
//! SQLite's full check reads the whole file (seconds at a million contacts), so it runs in the
//! background — daily, and before each backup — and its verdict goes into a small file next to
//! the database (`optdesk.sqlite3.integrity`). Every writer reads that verdict (microseconds)
//! and refuses a file marked damaged, with one sentence; the detail stays in the verdict for
//! `--verbose`. A `SQLITE_CORRUPT` (or SQLCipher's failed page authentication, which SQLite
//! reports the same way) met at any time marks the file damaged too, so the next writer stops
//! without waiting for the next check. Reads still work on a damaged file: the owner can export
//! and back up what is there before restoring.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{Database, Store};
use crate::error::{Error, Result};
use crate::time;

/// How old a verdict may be before a long-running writer checks again.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The most detail lines a verdict keeps (SQLite can list thousands of bad pages).
const DETAIL_LINES: usize = 200;

crate::model::text_enum! {
    /// How a verdict came about.
    How {
        /// SQLite's full integrity check.
        Full => "full",
        /// A damaged page met while working with the file.
        Seen => "seen",
        /// The file was replaced by a backup that passed the full check.
        Restored => "restored",
    }
}

impl How {
    /// For the line above SQLite's own words (`--verbose`).
    pub fn words(self) -> &'static str {
        match self {
            How::Full => "SQLite's full check",
            How::Seen => "met while working with the file",
            How::Restored => "restored from a checked backup",
        }
    }
}

/// What the last check found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// When, as the store writes times.
    pub checked_at: String,
    pub ok: bool,
    pub how: How,
    /// One sentence for the owner ("SQLite's check found 41 problems; the first: …").
    pub summary: String,
    /// SQLite's own lines, for whoever restores the backup (`--verbose`).
    pub detail: Vec<String>,
}

impl Verdict {
    fn new(ok: bool, how: How, summary: String, detail: Vec<String>) -> Verdict {
        Verdict {
            checked_at: time::to_db(&time::now()),
            ok,
            how,
            summary,
            detail: detail.into_iter().take(DETAIL_LINES).collect(),
        }
    }

    /// Whether this verdict is younger than `max_age`.
    pub fn is_fresh(&self, max_age: Duration) -> bool {
        time::from_db(&self.checked_at).is_some_and(|at| {
            let age = time::now() - at;
            age >= chrono::Duration::zero() && age.to_std().is_ok_and(|a| a < max_age)
        })
    }
}

/// The file the verdict on `db` is kept in.
pub fn verdict_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".integrity");
    PathBuf::from(p)
}

/// The last verdict on `db`; `None` when it was never checked (or the verdict file cannot be
/// read, which a long-running writer answers by checking again).
pub fn read(db: &Path) -> Option<Verdict> {
    let bytes = std::fs::read(verdict_path(db)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the verdict beside `db`, whole or not at all (a temporary file renamed over it).
fn write(db: &Path, v: &Verdict) -> Result<()> {
    let path = verdict_path(db);
    let tmp = path.with_extension("integrity-new");
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(v).map_err(|e| Error::invalid(e.to_string()))?;
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Records that the file at `db` is damaged, from an error met while working with it. Returns
/// whether `err` was such an error. Best effort: if the verdict cannot be written, the error
/// itself still reaches the owner.
pub fn note(db: &Path, err: &Error) -> bool {
    if !err.is_corruption() {
        return false;
    }
    let detail = vec![err.to_string()];
    let v = Verdict::new(
        false,
        How::Seen,
        "SQLite reported a damaged page while reading it".into(),
        detail,
    );
    let _ = write(db, &v);
    true
}

/// Records a sound file at `db`: after a restore from a backup that passed the full check.
pub(crate) fn record_sound(db: &Path, why: &str) -> Result<()> {
    write(
        db,
        &Verdict::new(true, How::Restored, why.into(), Vec::new()),
    )
}

/// The sentence every writer refuses a damaged file with.
pub(crate) fn damaged(path: &Path, summary: &str) -> Error {
    Error::Damaged {
        path: path.to_path_buf(),
        summary: summary.to_string(),
    }
}

/// Runs SQLite's full check on `conn` (every page and every index entry) and turns its rows
/// into a verdict.
fn run_check(conn: &Connection) -> Verdict {
    let rows = conn.prepare("PRAGMA integrity_check").and_then(|mut s| {
        s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
    });
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => {
            Verdict::new(true, How::Full, "SQLite's check passes".into(), Vec::new())
        }
        Ok(rows) => {
            let detail = rows
                .iter()
                .flat_map(|r| r.lines())
                .map(String::from)
                .collect();
            Verdict::new(false, How::Full, summarise_check(&rows), detail)
        }
        Err(e) => Verdict::new(
            false,
            How::Full,
            "SQLite could not read the file through".into(),
            vec![e.to_string()],
        ),
    }
}

impl Store {
    /// Runs SQLite's full check now, keeps its verdict beside the file and returns it. A
    /// damaged verdict also turns this connection read-only.
    pub fn check(&self) -> Result<Verdict> {
        let v = run_check(&self.conn);
        write(&self.path, &v)?;
        if !v.ok {
            self.read_only();
        }
        Ok(v)
    }

    /// Refuses, with the one sentence, when the last verdict says the file is damaged. What
    /// every writer calls before it writes (transactions do it themselves); it reads a small
    /// file and costs microseconds. A file never checked is taken as sound until its check.
    pub fn refuse_if_damaged(&self) -> Result<()> {
        match read(&self.path) {
            Some(v) if !v.ok => {
                self.read_only();
                Err(damaged(&self.path, &v.summary))
            }
            _ => Ok(()),
        }
    }

    /// For the writers that run long (the receiver, a broadcast): the verdict if it is younger
    /// than `max_age`, else a full check now. Then refuses a damaged file.
    pub fn refuse_if_damaged_or_unchecked(&self, max_age: Duration) -> Result<()> {
        if !read(&self.path).is_some_and(|v| v.is_fresh(max_age)) {
            self.check()?;
        }
        self.refuse_if_damaged()
    }

    /// The belt to `refuse_if_damaged`'s braces: SQLite itself refuses every change on this
    /// connection from now on, so a writer that forgot to ask still cannot write.
    pub(super) fn read_only(&self) {
        let _ = self.conn.pragma_update(None, "query_only", true);
    }
}

/// A full check of `db` if its verdict is older than `max_age` (or missing); what the app's
/// and the receiver's background threads run. Returns the verdict in force.
pub fn check_if_stale(db: &Database, max_age: Duration) -> Result<Verdict> {
    if let Some(v) = read(&db.path).filter(|v| v.is_fresh(max_age)) {
        return Ok(v);
    }
    db.open()?.check()
}

/// Keeps checking `db` in the background: at start if the verdict is a day old (or missing),
/// then whenever it becomes so. The receiver runs it; the app runs it beside its daily backup.
pub fn watch(db: Database) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("optdesk-integrity".into())
        .spawn(move || loop {
            match check_if_stale(&db, DAY) {
                Ok(v) if !v.ok => eprintln!("optdesk: {}", damaged(&db.path, &v.summary)),
                Ok(_) => {}
                Err(e) => eprintln!("optdesk: the database check did not run: {e}"),
            }
            std::thread::sleep(Duration::from_secs(60 * 60));
        })
        .expect("the system refused to start a thread")
}

/// SQLite's check lists every bad page ("Tree 11 page 107 cell 3: …", dozens of lines): the
/// owner gets one sentence, with the first problem for whoever restores the backup.
pub(crate) fn summarise_check(rows: &[String]) -> String {
    let problems: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("***"))
        .collect();
    let Some(first) = problems.first() else {
        return "SQLite's check did not say ok".into();
    };
    let first: String = first.chars().take(80).collect();
    match problems.len() {
        1 => format!("SQLite's check found a problem: {first}"),
        n => format!("SQLite's check found {n} problems; the first: {first}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DbKey;

    #[test]
    fn a_damaged_file_is_one_sentence_not_a_page_list() {
        let mut rows = vec![
            "*** in database main ***\nTree 11 page 107 cell 3: invalid page number 9041"
                .to_string(),
        ];
        rows.extend((0..40).map(|i| format!("Tree 11 page {i} cell 0: 2nd reference to page 3")));
        let s = summarise_check(&rows);
        assert_eq!(
            s,
            "SQLite's check found 41 problems; the first: Tree 11 page 107 cell 3: invalid page number 9041"
        );
        assert!(!s.contains('\n'));
        let one = summarise_check(&["row 12 missing from index contacts_phone".into()]);
        assert!(
            one.starts_with("SQLite's check found a problem: row 12"),
            "{one}"
        );
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(dir.path().join("db.sqlite3"), &DbKey::generate().unwrap()).unwrap();
        (dir, store)
    }

    #[test]
    fn a_sound_file_gets_a_verdict_beside_it_and_writers_go_on() {
        let (_dir, mut store) = open();
        assert_eq!(read(store.path()), None, "never checked");
        store.refuse_if_damaged().unwrap();
        let v = store.check().unwrap();
        assert!(v.ok && v.how == How::Full && v.is_fresh(DAY), "{v:?}");
        assert_eq!(read(store.path()), Some(v));
        store
            .with_tx(|tx| Ok(tx.execute("INSERT INTO settings VALUES ('a', 'b')", [])?))
            .unwrap();
    }

    #[test]
    fn a_damaged_verdict_stops_every_writer_with_one_sentence_and_reads_go_on() {
        let (_dir, mut store) = open();
        let summary = summarise_check(&["row 12 missing from index contacts_phone".into()]);
        write(
            store.path(),
            &Verdict::new(false, How::Full, summary, vec!["row 12 missing…".into()]),
        )
        .unwrap();
        let err = store
            .with_tx(|tx| Ok(tx.execute("INSERT INTO settings VALUES ('a', 'b')", [])?))
            .unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("is damaged (SQLite's check found a problem: row 12")
                && text.contains("optdesk restore")
                && !text.contains('\n'),
            "{text}"
        );
        // A writer that does not ask is stopped by SQLite itself.
        store.refuse_if_damaged().unwrap_err();
        let direct = store
            .conn()
            .execute("INSERT INTO settings VALUES ('c', 'd')", []);
        assert!(direct.is_err(), "the connection is read-only now");
        let n: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM settings WHERE key IN ('a', 'c')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "nothing was written, and reads still work");
    }

    #[test]
    fn a_stale_or_missing_verdict_is_checked_again_and_a_fresh_one_is_trusted() {
        let (_dir, store) = open();
        let db = store.database();
        let first = check_if_stale(&db, DAY).unwrap();
        assert!(first.ok);
        let mut old = first.clone();
        old.checked_at = "2020-01-01T00:00:00.000000Z".into();
        write(store.path(), &old).unwrap();
        assert!(!old.is_fresh(DAY));
        let again = check_if_stale(&db, DAY).unwrap();
        assert_ne!(
            again.checked_at, old.checked_at,
            "a day-old verdict is renewed"
        );
        assert_eq!(
            check_if_stale(&db, DAY).unwrap(),
            again,
            "a fresh one is kept"
        );
        std::fs::write(verdict_path(store.path()), b"{garbled").unwrap();
        assert_eq!(read(store.path()), None);
        store.refuse_if_damaged_or_unchecked(DAY).unwrap();
        assert!(
            read(store.path()).is_some_and(|v| v.ok),
            "rechecked and rewritten"
        );
    }

    #[test]
    fn a_corruption_error_marks_the_file_and_other_errors_do_not() {
        let (_dir, store) = open();
        let busy = Error::Db(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        assert!(!note(store.path(), &busy));
        store.refuse_if_damaged().unwrap();
        let corrupt = Error::Db(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("database disk image is malformed".into()),
        ));
        assert!(note(store.path(), &corrupt));
        let v = read(store.path()).unwrap();
        assert!(
            !v.ok && v.how == How::Seen && v.detail[0].contains("malformed"),
            "{v:?}"
        );
        assert!(matches!(
            store.refuse_if_damaged(),
            Err(Error::Damaged { .. })
        ));
    }
}
