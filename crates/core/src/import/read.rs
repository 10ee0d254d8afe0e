//! Reading a shop's CSV as it really comes: any encoding Excel writes (UTF-8 with or without a
//! BOM, UTF-16 "Unicode text", Windows-1252), comma, semicolon or tab delimited, quoted fields
//! with delimiters and newlines inside, blank lines anywhere, headers in any order and case.

use std::borrow::Cow;

use csv::StringRecord;

use crate::error::{Error, Result};

/// The columns OptDesk reads; everything else is reported as ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    Phone,
    Name,
    Tags,
    Consent(TopicCol, Field),
}

/// A consent column's topic: one of the two, or `consent_*` for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TopicCol {
    Marketing,
    Utility,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    State,
    Source,
    At,
    Text,
}

fn column_for(header: &str) -> Option<Column> {
    let h = header.trim().to_lowercase().replace([' ', '-'], "_");
    let col = match h.as_str() {
        "phone" | "phone_number" | "number" | "mobile" | "mobile_number" | "whatsapp"
        | "whatsapp_number" | "telephone" | "tel" | "cell" => Column::Phone,
        "name" | "full_name" | "contact_name" | "customer" | "customer_name" => Column::Name,
        "tags" | "tag" | "labels" | "groups" => Column::Tags,
        _ => {
            let (topic, field) = h.split_once('_').unwrap_or((h.as_str(), ""));
            let topic = match topic {
                "marketing" => TopicCol::Marketing,
                "utility" => TopicCol::Utility,
                "consent" => TopicCol::Both,
                _ => return None,
            };
            let field = match (topic, field) {
                (TopicCol::Marketing | TopicCol::Utility, "") => Field::State,
                (_, "source") => Field::Source,
                (_, "at" | "date" | "time") => Field::At,
                (_, "text" | "wording" | "proof") => Field::Text,
                _ => return None,
            };
            Column::Consent(topic, field)
        }
    };
    Some(col)
}

/// The header row, mapped.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// For each field position, the column it holds (if one OptDesk reads).
    pub columns: Vec<Option<Column>>,
}

impl Header {
    pub fn index_of(&self, col: Column) -> Option<usize> {
        self.columns.iter().position(|c| *c == Some(col))
    }
}

/// One record of the file, with the line it starts on (the header is line 1; blank lines and
/// the lines inside multi-line quoted fields count as they stand).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub line: u64,
    pub fields: StringRecord,
}

pub(crate) struct Table {
    pub header: Header,
    pub records: Vec<Record>,
    pub warnings: Vec<String>,
}

/// Turns the file's bytes into text, saying when it had to guess the encoding.
pub(crate) fn decode<'a>(bytes: &'a [u8], warnings: &mut Vec<String>) -> Cow<'a, str> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            warnings.push(
                "the file is not UTF-8; it was read as Windows-1252 (Excel's usual encoding). \
                 If names look wrong, save it from Excel as \"CSV UTF-8\" and import again"
                    .into(),
            );
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// Picks the delimiter that splits the header line most: ',' ';' or tab.
pub(crate) fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == b {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

fn is_blank(rec: &StringRecord) -> bool {
    rec.iter().all(|f| f.trim().is_empty())
}

/// Parses the whole text into a mapped header and records.
#[cfg(test)]
pub(crate) fn read_table(text: &str) -> Result<Table> {
    read_table_as(text, &[])
}

/// [`read_table`], with the owner's column mapping: `(header in the file, OptDesk's name for it)`;
/// an empty name ignores the column.
pub(crate) fn read_table_as(text: &str, renames: &[(String, String)]) -> Result<Table> {
    let mut warnings = Vec::new();
    let bytes = text.as_bytes();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(detect_delimiter(text))
        .from_reader(bytes);

    let mut header: Option<Header> = None;
    let mut records = Vec::new();
    let mut rec = StringRecord::new();
    loop {
        let more = reader.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::invalid(format!(
                "the file cannot be read as CSV near line {line}: {e}"
            ))
        })?;
        if !more {
            break;
        }
        if is_blank(&rec) {
            continue;
        }
        let line = record_start_line(bytes, &rec);
        match &header {
            None => header = Some(map_header(&rec, renames, &mut warnings)?),
            Some(_) => records.push(Record {
                line,
                fields: rec.clone(),
            }),
        }
    }
    let header = header.ok_or_else(|| Error::invalid("the file is empty: it has no header row"))?;
    Ok(Table {
        header,
        records,
        warnings,
    })
}

/// The csv crate places a record at the end of the previous one, before any blank lines; step
/// over those line breaks to find the line the record really starts on.
fn record_start_line(bytes: &[u8], rec: &StringRecord) -> u64 {
    let Some(pos) = rec.position() else { return 0 };
    let mut line = pos.line();
    for &b in &bytes[(pos.byte() as usize).min(bytes.len())..] {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// OptDesk's name for each column of `header` (after the owner's mapping), for the mapping screen.
pub(crate) fn detected(header: &StringRecord) -> Vec<Option<String>> {
    header
        .iter()
        .map(|h| column_for(h).map(|_| h.trim().to_lowercase().replace([' ', '-'], "_")))
        .collect()
}

fn map_header(
    rec: &StringRecord,
    renames: &[(String, String)],
    warnings: &mut Vec<String>,
) -> Result<Header> {
    let mut columns = Vec::with_capacity(rec.len());
    let mut ignored = Vec::new();
    for original in rec.iter() {
        let renamed = renames
            .iter()
            .find(|(from, _)| from.trim().eq_ignore_ascii_case(original.trim()));
        let name = renamed.map_or(original, |(_, to)| to.as_str());
        if renamed.is_some_and(|(_, to)| to.trim().is_empty()) {
            columns.push(None);
            continue;
        }
        let col = column_for(name);
        if let Some(c) = col {
            if columns.contains(&Some(c)) {
                return Err(Error::invalid(format!(
                    "the header names the column {:?} twice (or two names for the same column)",
                    name.trim()
                )));
            }
        } else if !name.trim().is_empty() {
            ignored.push(format!("{:?}", name.trim()));
        }
        columns.push(col);
    }
    if !columns.contains(&Some(Column::Phone)) {
        return Err(Error::invalid(format!(
            "the header row has no phone column (it has: {}); name one column \"phone\"",
            rec.iter()
                .map(|n| format!("{:?}", n.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "columns OptDesk does not read were ignored: {}",
            ignored.join(", ")
        ));
    }
    Ok(Header { columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_any_case_and_order() {
        let t =
            read_table("Name;PHONE;Marketing Source;extra\nAnn;+447911123456;fair;x\n").unwrap();
        assert_eq!(t.header.index_of(Column::Phone), Some(1));
        assert_eq!(
            t.header
                .index_of(Column::Consent(TopicCol::Marketing, Field::Source)),
            Some(2)
        );
        assert!(t.warnings[0].contains("\"extra\""), "{:?}", t.warnings);
    }

    #[test]
    fn line_numbers_count_blank_lines_and_multiline_fields() {
        let text = "phone,name\r\n\r\n+1,\"two\nlines\"\n\n\n+2,b\n   \n+3,c";
        let t = read_table(text).unwrap();
        let lines: Vec<u64> = t.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 7, 9]);
        assert_eq!(&t.records[0].fields[1], "two\nlines");
    }

    #[test]
    fn delimiters_are_detected_from_the_header() {
        assert_eq!(detect_delimiter("phone;name;tags\n+1,2;a;b"), b';');
        assert_eq!(detect_delimiter("phone\tname\n"), b'\t');
        assert_eq!(detect_delimiter("\"a;b\",phone\n"), b',');
        assert_eq!(detect_delimiter("phone\n+1\n"), b',');
    }

    #[test]
    fn encodings() {
        let mut w = Vec::new();
        assert_eq!(decode("\u{feff}phone".as_bytes(), &mut w), "phone");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("né".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&utf16, &mut w), "né");
        assert!(w.is_empty());
        assert_eq!(decode(b"Jos\xe9", &mut w), "José");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn a_file_without_a_phone_column_is_refused_whole() {
        let e = read_table("name,email\nAnn,a@b\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no phone column") && e.contains("\"email\""),
            "{e}"
        );
        assert!(read_table("\n\n").is_err());
        // The owner's mapping names the phone column and drops another.
        let t = read_table_as(
            "Cliente,Móvil,Notas\nAna,+34612345678,x\n",
            &[
                ("móvil".into(), "phone".into()),
                ("Notas".into(), String::new()),
            ],
        )
        .unwrap();
        assert_eq!(t.header.columns, vec![None, Some(Column::Phone), None]);
        assert!(
            t.warnings.iter().all(|w| !w.contains("Notas")),
            "{:?}",
            t.warnings
        );
        assert!(read_table("phone,Phone Number\n").is_err());
    }
}
