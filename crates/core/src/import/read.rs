//! Reading a shop's CSV as it really comes: any encoding Excel writes (UTF-8 with or without a
//! BOM, UTF-16 "Unicode text", Windows-1252), comma, semicolon or tab delimited, quoted fields
//! with delimiters and newlines inside, blank lines anywhere, headers in any order and case.

use std::borrow::Cow;

use csv::StringRecord;

use crate::error::{Error, Result};

pub(crate) use super::columns::{column_for, Column, Field, TopicCol};
use super::columns::{fold, name_of, Signal};

/// The header row, mapped.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// For each field position, the column it holds (if one OptDesk reads).
    pub columns: Vec<Option<Column>>,
    /// The headers as the file wrote them.
    pub names: Vec<String>,
    /// A whole-file opt-out (a Mailchimp "unsubscribed" export): why.
    pub all_opted_out: Option<String>,
}

impl Header {
    pub fn index_of(&self, col: Column) -> Option<usize> {
        self.columns.iter().position(|c| *c == Some(col))
    }

    /// Every position holding a column that matches.
    pub fn all(&self, matches: impl Fn(Column) -> bool) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| self.columns[i].is_some_and(&matches))
            .collect()
    }
}

/// One record of the file, with the line it starts on (the header is line 1; blank lines and
/// the lines inside multi-line quoted fields count as they stand).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub line: u64,
    pub fields: StringRecord,
}

/// The whole file read at once (the tests' view; an import streams it, see [`super::source`]).
#[cfg(test)]
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
        Err(_) if looks_mac_roman(bytes) => {
            warnings.push(
                "the file is not UTF-8; it was read as Mac Roman (Excel for Mac's \"Macintosh CSV\"). \
                 If names look wrong, save it as \"CSV UTF-8\" and import again"
                    .into(),
            );
            encoding_rs::MACINTOSH.decode_without_bom_handling(bytes).0
        }
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

/// Whether non-UTF-8 text is Mac Roman rather than Windows-1252. Inside words Mac Roman writes
/// accented letters in 0x80–0x9F (é is 0x8E, ü 0x9F, ç 0x8D), where Windows-1252 has
/// punctuation (quotes, dashes) and writes its letters in 0xC0–0xFF. So: some 0x80–0x9F byte
/// between two letters, and no 0xC0–0xFF byte beside a letter. (0x92 is left out: it is
/// Windows-1252's apostrophe in "O’Brien" as often as Mac Roman's í.)
fn looks_mac_roman(bytes: &[u8]) -> bool {
    let letter = |j: Option<usize>| {
        j.and_then(|j| bytes.get(j))
            .is_some_and(u8::is_ascii_alphabetic)
    };
    let (mut mac, mut win) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        let (before, after) = (letter(i.checked_sub(1)), letter(Some(i + 1)));
        match b {
            0x80..=0x9F if b != 0x92 && before && after => mac = true,
            0xC0..=0xFF if before || after => win = true,
            _ => {}
        }
    }
    mac && !win
}

/// Picks the delimiter: the one a `sep=;` line names (Excel writes it), else the one that splits
/// the header line most: ',' ';' or tab.
pub(crate) fn detect_delimiter(text: &str) -> u8 {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut header = lines.next().unwrap_or("");
    if let Some(sep) = header.trim().strip_prefix("sep=") {
        if let Some(&d) = sep.as_bytes().first() {
            return d;
        }
    }
    // A title line above the header (what Numbers writes): judge by the next line.
    if !header.contains([',', ';', '\t']) {
        header = lines.next().unwrap_or(header);
    }
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

/// Parses the whole text into a mapped header and records.
#[cfg(test)]
pub(crate) fn read_table(text: &str) -> Result<Table> {
    read_table_as(text, &[])
}

/// [`read_table`], with the owner's column mapping: `(header in the file, OptDesk's name for it)`;
/// an empty name ignores the column.
#[cfg(test)]
pub(crate) fn read_table_as(text: &str, renames: &[(String, String)]) -> Result<Table> {
    let mut source = super::source::Source::open(text, renames)?;
    let records = source.rows().collect::<Result<Vec<_>>>()?;
    let mut check = ConsentCheck::new(&source.header);
    records.iter().for_each(|r| check.observe(r));
    check.apply(&mut source.header, &mut source.warnings);
    Ok(Table {
        header: source.header,
        records,
        warnings: source.warnings,
    })
}

/// The csv crate places a record at the end of the previous one, before any blank lines; step
/// over those line breaks to find the line the record really starts on.
pub(super) fn record_start_line(bytes: &[u8], rec: &StringRecord) -> u64 {
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

/// OptDesk's name for each column of `header`, for the mapping screen.
pub(crate) fn detected(header: &StringRecord) -> Vec<Option<String>> {
    header
        .iter()
        .map(|h| column_for(h).map(|c| name_of(c).to_string()))
        .collect()
}

/// A line above the header: Excel's `sep=;`, or a one-cell title such as Numbers' "Table 1".
pub(super) fn is_preamble(rec: &StringRecord, renames: &[(String, String)]) -> bool {
    let cells: Vec<&str> = rec
        .iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    match cells.as_slice() {
        [one] => {
            one.starts_with("sep=")
                || (column_for(one).is_none()
                    && !renames
                        .iter()
                        .any(|(from, _)| from.trim().eq_ignore_ascii_case(one)))
        }
        _ => false,
    }
}

/// The header names no phone column: say which column looks like one, from its cells.
pub(super) fn no_phone_column(header: &Header, records: &[Record]) -> Error {
    let looks_like_phone = |i: usize| {
        let cells: Vec<&str> = records
            .iter()
            .take(200)
            .filter_map(|r| r.fields.get(i))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        !cells.is_empty()
            && cells
                .iter()
                .filter(|c| {
                    c.chars().filter(char::is_ascii_digit).count() >= 7
                        && c.chars()
                            .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
                })
                .count()
                * 2
                > cells.len()
    };
    let names = header
        .names
        .iter()
        .map(|n| format!("{:?}", n.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    match (0..header.names.len()).find(|&i| header.columns[i].is_none() && looks_like_phone(i)) {
        Some(i) => Error::invalid(format!(
            "the header row has no column OptDesk knows as a phone (it has: {names}), but {:?} holds phone numbers: choose it as the phone column (in the CLI, --map phone={:?})",
            header.names[i].trim(),
            header.names[i].trim()
        )),
        None => Error::invalid(format!(
            "the header row has no phone column (it has: {names}); name one column \"phone\", or choose it (in the CLI, --map phone=\"<its header>\")"
        )),
    }
}

/// An OptDesk consent column whose cells are not consent values (an interest-group column
/// named "Marketing" holding group names) is not consent: it is set aside with a note. Its cells
/// are counted as the rows stream past, then [`ConsentCheck::apply`] decides.
pub(crate) struct ConsentCheck {
    /// Per consent column: its position, its non-empty cells, and those that are not consent
    /// values, with the first of them.
    columns: Vec<(usize, u64, u64, Option<String>)>,
}

impl ConsentCheck {
    pub fn new(header: &Header) -> ConsentCheck {
        ConsentCheck {
            columns: header
                .all(|c| matches!(c, Column::Consent(_, Field::State)))
                .into_iter()
                .map(|i| (i, 0, 0, None))
                .collect(),
        }
    }

    pub fn observe(&mut self, rec: &Record) {
        for (i, cells, bad, first_bad) in &mut self.columns {
            let Some(cell) = rec.fields.get(*i).map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            *cells += 1;
            if super::row::consent_value(cell).is_err() {
                *bad += 1;
                first_bad.get_or_insert_with(|| cell.to_string());
            }
        }
    }

    pub fn apply(self, header: &mut Header, warnings: &mut Vec<String>) {
        for (i, cells, bad, first_bad) in self.columns {
            if cells > 0 && bad * 2 > cells {
                warnings.push(format!(
                    "the column {:?} holds no consent values (for example {:?}), so it was not read as consent",
                    header.names[i].trim(),
                    first_bad.unwrap_or_default()
                ));
                header.columns[i] = None;
            }
        }
    }
}

pub(super) fn map_header(
    rec: &StringRecord,
    renames: &[(String, String)],
    warnings: &mut Vec<String>,
) -> Result<Header> {
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(rec.len());
    let mut ignored = Vec::new();
    let mut consent_like = Vec::new();
    for original in rec.iter() {
        let renamed = renames
            .iter()
            .find(|(from, _)| from.trim().eq_ignore_ascii_case(original.trim()));
        let name = renamed.map_or(original, |(_, to)| to.as_str());
        if renamed.is_some_and(|(_, to)| to.trim().is_empty()) {
            columns.push(None);
            continue;
        }
        // Choosing for a column what OptDesk already read it as (the app's mapping screen sends
        // every column back) keeps what the header itself says, such as Google's phone groups.
        let col = match renamed {
            Some((_, to)) => match column_for(original) {
                Some(c) if name_of(c) == to.trim() => Some(c),
                _ => column_for(name),
            },
            None => column_for(name),
        };
        if let Some(c) = col {
            if !c.repeats() {
                if let Some(first) = columns.iter().position(|x| *x == Some(c)) {
                    if matches!(c, Column::Consent(..)) {
                        return Err(Error::invalid(format!(
                            "the columns {:?} and {:?} both say {}; keep one (or choose which with --map)",
                            rec.get(first).unwrap_or("").trim(),
                            original.trim(),
                            name_of(c)
                        )));
                    }
                    warnings.push(format!(
                        "two columns give the {}: {:?} was used, {:?} ignored",
                        name_of(c).replace('_', " "),
                        rec.get(first).unwrap_or("").trim(),
                        original.trim()
                    ));
                    columns.push(None);
                    continue;
                }
            }
            if let Column::Signal(sig) = c {
                consent_like.push(match sig {
                    Signal::OptOutWhenTrue => format!("{:?}: a true value is imported as a marketing opt-out", original.trim()),
                    Signal::OptOutWhenFalse => format!("{:?}: a false value is imported as a marketing opt-out (true is not an opt-in)", original.trim()),
                    Signal::SubscriptionStatus => format!("{:?}: \"unsubscribed\" is imported as a marketing opt-out (\"subscribed\" is not an opt-in)", original.trim()),
                    Signal::OtherChannel => format!("{:?}: consent for another channel, not a WhatsApp opt-in (choose it as the marketing column to use it)", original.trim()),
                });
            }
        } else if !name.trim().is_empty() {
            ignored.push(format!("{:?}", name.trim()));
        }
        columns.push(col);
    }
    let folded: Vec<String> = rec.iter().map(fold).collect();
    let all_opted_out = if folded.iter().any(|h| h == "unsub_time") {
        consent_like.push(
            "a Mailchimp \"unsubscribed\" export: every row is imported as a marketing opt-out"
                .into(),
        );
        Some("Mailchimp unsubscribed export".to_string())
    } else {
        if folded.iter().any(|h| h == "clean_time") {
            consent_like.push(
                "a Mailchimp \"cleaned\" export: these are bounced addresses, not opt-outs".into(),
            );
        }
        None
    };
    if !consent_like.is_empty() {
        warnings.push(format!(
            "consent from other systems: {}",
            consent_like.join("; ")
        ));
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "columns OptDesk does not read were ignored: {}",
            ignored.join(", ")
        ));
    }
    Ok(Header {
        columns,
        names: rec.iter().map(str::to_string).collect(),
        all_opted_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_any_case_and_order() {
        let t =
            read_table("Name;PHONE;Marketing Source;extra\nAnn;+447911123456;fair;x\n").unwrap();
        assert_eq!(t.header.all(|c| matches!(c, Column::Phone { .. })), vec![1]);
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
        // Excel for Mac's "Macintosh CSV": é is 0x8E, ü 0x9F.
        assert_eq!(
            decode(b"Jos\x8e M\x9fller;Fran\x8dois", &mut w),
            "José Müller;François"
        );
        assert!(w[1].contains("Mac Roman"), "{w:?}");
        // Windows-1252 punctuation between words is not taken for Mac Roman.
        assert_eq!(
            decode(b"Caf\xe9 \x93Sol\x94", &mut w),
            "Café \u{201c}Sol\u{201d}"
        );
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
        assert_eq!(
            t.header.columns,
            vec![
                Some(Column::Name),
                Some(Column::Phone {
                    kind: super::super::columns::PhoneKind::Generic,
                    group: None
                }),
                None
            ]
        );
        assert!(
            t.warnings.iter().all(|w| !w.contains("Notas")),
            "{:?}",
            t.warnings
        );
        assert!(
            read_table("phone,marketing,Marketing\n").is_err(),
            "two consent columns are ambiguous"
        );
    }
}
