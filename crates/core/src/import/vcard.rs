//! vCard files (`.vcf`: what iPhone, iCloud and Android export) read as the table the importer
//! reads: one row per card, from its `FN`/`N`, `ORG`, `TEL` (by type: WhatsApp, cell, home,
//! work; faxes and pagers left out) and `CATEGORIES`.

/// Whether the text is a vCard file rather than CSV.
pub(crate) fn is_vcard(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .get(..11)
        .is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD"))
}

const HEADER: &str =
    "Name,First Name,Last Name,Company,WhatsApp,Mobile Phone,Phone,Home Phone,Business Phone,Tags";

#[derive(Default)]
struct Card {
    line: u64,
    full: String,
    first: String,
    last: String,
    org: String,
    /// WhatsApp, mobile, other, home, work: the first of each.
    tel: [String; 5],
    tags: Vec<String>,
    labels: Vec<(String, String)>,
    grouped_tels: Vec<(String, String, Option<usize>)>,
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn quoted_printable(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Some(h) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(h);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn csv_cell(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// Which slot of `Card::tel` a TEL's types (and Apple's label) put it in; None: fax or pager.
fn slot(types: &str) -> Option<usize> {
    let t = types.to_ascii_lowercase();
    if t.contains("fax") || t.contains("pager") {
        None
    } else if t.contains("whatsapp") {
        Some(0)
    } else if t.contains("cell") || t.contains("mobile") || t.contains("iphone") {
        Some(1)
    } else if t.contains("home") {
        Some(3)
    } else if t.contains("work") {
        Some(4)
    } else {
        Some(2)
    }
}

impl Card {
    fn finish(mut self) -> String {
        // Apple's custom labels ("item1.X-ABLabel:WhatsApp") name the TEL of their group.
        for (group, value, default) in std::mem::take(&mut self.grouped_tels) {
            let label = self
                .labels
                .iter()
                .find(|(g, _)| *g == group)
                .map(|(_, l)| l.as_str())
                .unwrap_or("");
            if let Some(s) = if label.is_empty() {
                default
            } else {
                slot(label)
            } {
                if self.tel[s].is_empty() {
                    self.tel[s] = value;
                }
            }
        }
        let [wa, mobile, other, home, work] = &self.tel;
        [
            self.full.as_str(),
            self.first.as_str(),
            self.last.as_str(),
            self.org.as_str(),
            wa,
            mobile,
            other,
            home,
            work,
            &self.tags.join(";"),
        ]
        .iter()
        .map(|v| csv_cell(v))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// The cards as CSV, and the line of each card's `BEGIN:VCARD` (the CSV's row N + 2 is card N).
pub(crate) fn to_csv(text: &str) -> (String, Vec<u64>) {
    // Unfold: a line that starts with a space or tab continues the one before; in quoted-
    // printable values a trailing "=" does.
    let mut lines: Vec<(u64, String)> = Vec::new();
    for (n, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line_no = n as u64 + 1;
        match lines.last_mut() {
            Some((_, prev)) if raw.starts_with([' ', '\t']) => prev.push_str(&raw[1..]),
            Some((_, prev))
                if prev.ends_with('=')
                    && prev.to_ascii_uppercase().contains("QUOTED-PRINTABLE") =>
            {
                prev.pop();
                prev.push_str(raw);
            }
            _ => lines.push((line_no, raw.to_string())),
        }
    }
    let mut out = String::from(HEADER);
    let mut begins = Vec::new();
    let mut card: Option<Card> = None;
    for (line_no, line) in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (name, params) = key.split_once(';').unwrap_or((key, ""));
        let (group, name) = match name.split_once('.') {
            Some((g, n)) => (g.to_string(), n.to_ascii_uppercase()),
            None => (String::new(), name.to_ascii_uppercase()),
        };
        let value = if params.to_ascii_uppercase().contains("QUOTED-PRINTABLE") {
            quoted_printable(value)
        } else {
            value.to_string()
        };
        match (name.as_str(), card.as_mut()) {
            ("BEGIN", _) if value.trim().eq_ignore_ascii_case("VCARD") => {
                card = Some(Card {
                    line: line_no,
                    ..Card::default()
                });
            }
            ("END", Some(_)) => {
                if let Some(c) = card.take() {
                    begins.push(c.line);
                    out.push('\n');
                    out.push_str(&c.finish());
                }
            }
            ("FN", Some(c)) => c.full = unescape(value.trim()),
            ("N", Some(c)) => {
                let parts: Vec<String> = value.split(';').map(|p| unescape(p.trim())).collect();
                c.last = parts.first().cloned().unwrap_or_default();
                c.first = parts.get(1).cloned().unwrap_or_default();
            }
            ("ORG", Some(c)) => c.org = unescape(value.split(';').next().unwrap_or("").trim()),
            ("CATEGORIES", Some(c)) => c.tags.extend(
                value
                    .split(',')
                    .map(|t| unescape(t.trim()))
                    .filter(|t| !t.is_empty()),
            ),
            ("X-ABLABEL", Some(c)) => c.labels.push((
                group,
                value
                    .trim()
                    .trim_start_matches("_$!<")
                    .trim_end_matches(">!$_")
                    .to_string(),
            )),
            ("TEL", Some(c)) => {
                let number = value.trim().trim_start_matches("tel:").to_string();
                if number.is_empty() {
                    continue;
                }
                let default = slot(params);
                if group.is_empty() {
                    if let Some(s) = default {
                        if c.tel[s].is_empty() {
                            c.tel[s] = number;
                        }
                    }
                } else {
                    c.grouped_tels.push((group, number, default));
                }
            }
            _ => {}
        }
    }
    (out, begins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iphone_export_becomes_one_row_a_card() {
        let vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:López;Ana;;;\r\nFN:Ana López\r\nORG:Bakery Sol;\r\nTEL;type=HOME;type=VOICE:+44 20 7946 0018\r\nTEL;type=CELL;type=VOICE;type=pref:+44 7911 123456\r\nCATEGORIES:Regulars,VIP\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ben\r\nitem1.TEL:+44 7911 123457\r\nitem1.X-ABLabel:WhatsApp\r\nTEL;type=WORK;type=FAX:+44 20 7946 0019\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;Hans;;;\r\nTEL;CELL:0151 23456789\r\nEND:VCARD\r\n";
        assert!(is_vcard(vcf) && !is_vcard("phone,name\n"));
        let (csv, begins) = to_csv(vcf);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], HEADER);
        assert_eq!(
            rows[1],
            "Ana López,Ana,López,Bakery Sol,,+44 7911 123456,,+44 20 7946 0018,,Regulars;VIP"
        );
        assert_eq!(rows[2], "Ben,,,,+44 7911 123457,,,,,");
        assert_eq!(rows[3], ",Hans,Müller,,,0151 23456789,,,,");
        assert_eq!(begins, [1, 10, 17]);
    }
}
