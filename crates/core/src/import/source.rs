//! A file's rows as a stream. The text is read twice (a first pass learns what the rows hold, the
//! second imports them), and never more than a few chunks of rows are held at once: a
//! million-row file costs its own size in memory, not ten times that.

use csv::StringRecord;

use crate::error::{Error, Result};

use super::read::{self, Column, Header, Record};

/// The file after its header: a mapped header, and its rows on demand.
pub(crate) struct Source<'a> {
    text: &'a str,
    delimiter: u8,
    /// Non-blank records before the first row: the lines above the header, and the header.
    skip: usize,
    pub header: Header,
    pub warnings: Vec<String>,
}

impl<'a> Source<'a> {
    /// Reads up to the header and maps it (`renames`: the owner's choice of columns).
    pub fn open(text: &'a str, renames: &[(String, String)]) -> Result<Source<'a>> {
        let delimiter = read::detect_delimiter(text);
        let mut warnings = Vec::new();
        let mut records = Records::new(text, delimiter);
        let mut skip = 0;
        let header = loop {
            let rec = records
                .next()
                .ok_or_else(|| Error::invalid("the file is empty: it has no header row"))??;
            skip += 1;
            if read::is_preamble(&rec.fields, renames) {
                warnings.push(format!(
                    "line {} ({:?}) above the header was skipped",
                    rec.line,
                    rec.fields
                        .iter()
                        .filter(|c| !c.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
                continue;
            }
            break read::map_header(&rec.fields, renames, &mut warnings)?;
        };
        if !header
            .columns
            .iter()
            .any(|c| matches!(c, Some(Column::Phone { .. })))
        {
            let sample: Vec<Record> = records.take(200).filter_map(Result::ok).collect();
            return Err(read::no_phone_column(&header, &sample));
        }
        Ok(Source {
            text,
            delimiter,
            skip,
            header,
            warnings,
        })
    }

    /// The rows after the header, in file order, read afresh.
    pub fn rows(&self) -> Records<'a> {
        let mut records = Records::new(self.text, self.delimiter);
        for _ in 0..self.skip {
            records.next();
        }
        records
    }
}

/// Non-blank records with the line each starts on; a CSV error ends the stream after it.
pub(crate) struct Records<'a> {
    reader: csv::Reader<&'a [u8]>,
    bytes: &'a [u8],
    done: bool,
}

impl<'a> Records<'a> {
    fn new(text: &'a str, delimiter: u8) -> Records<'a> {
        let bytes = text.as_bytes();
        Records {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(bytes),
            bytes,
            done: false,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        while !self.done {
            let mut rec = StringRecord::new();
            match self.reader.read_record(&mut rec) {
                Err(e) => {
                    self.done = true;
                    let line = e.position().map_or(0, |p| p.line());
                    return Some(Err(Error::invalid(format!(
                        "the file cannot be read as CSV near line {line}: {e}"
                    ))));
                }
                Ok(false) => self.done = true,
                Ok(true) if rec.iter().all(|f| f.trim().is_empty()) => {}
                Ok(true) => {
                    return Some(Ok(Record {
                        line: read::record_start_line(self.bytes, &rec),
                        fields: rec,
                    }))
                }
            }
        }
        None
    }
}
