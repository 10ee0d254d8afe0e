//! Writing to stdout: buffered, and quiet when the reader goes away (`optdesk … | head`).

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::cmd::Error;

pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Error> {
    let mut w = stdout();
    serde_json::to_writer_pretty(&mut w, value).map_err(io::Error::from)?;
    writeln!(w)?;
    w.flush()?;
    Ok(())
}

pub fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == io::ErrorKind::BrokenPipe)
}

/// Lays out rows in aligned columns (by character count, so accented names line up).
pub fn table(header: &[&str], rows: &[Vec<String>], w: &mut impl Write) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>, w: &mut dyn Write| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i + 1 < widths.len() {
                s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
            }
        }
        writeln!(w, "{}", s.trim_end())
    };
    line(&mut header.iter().copied(), w)?;
    for r in rows {
        line(&mut r.iter().map(String::as_str), w)?;
    }
    Ok(())
}

/// After an error from the core: a damaged page met on the way marks the database damaged for
/// every writer after (`store::integrity`), and `--verbose` prints SQLite's own lines under
/// the one sentence.
pub fn damage(db: &std::path::Path, e: &optdesk_core::Error, verbose: bool) {
    use optdesk_core::store::integrity;
    let marked = integrity::note(db, e);
    if !verbose || !(marked || matches!(e, optdesk_core::Error::Damaged { .. })) {
        return;
    }
    if let Some(v) = integrity::read(db).filter(|v| !v.ok) {
        eprintln!("SQLite's own words ({}, {}):", v.how.words(), v.checked_at);
        for line in &v.detail {
            eprintln!("  {line}");
        }
    }
}
