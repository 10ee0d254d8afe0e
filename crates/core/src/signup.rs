//! Sign-up sources: a QR code or link that opens WhatsApp with a message already typed, naming
//! the shop and carrying a short code ("Yes, send me offers from Bakery Sol on WhatsApp #S7Q2").
//! When the customer sends it, the receiver records an opt-in whose proof is their own message.

use std::io::Write;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Topic;
use crate::settings;
use crate::store::Store;
use crate::time;

/// No 0/O, 1/I/L: codes are read off posters.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub code: String,
    pub label: String,
    pub topic: Topic,
    pub text: String,
    pub link: String,
    pub opt_ins: u64,
    pub retired: bool,
}

fn business(conn: &Connection) -> Result<(String, String)> {
    let name = settings::get(conn, "business_name")?.ok_or_else(|| Error::invalid(
        "the shop's name is not set: run `optdesk credentials test` (it fills it from WhatsApp) or `optdesk config set business_name NAME`",
    ))?;
    let number = settings::get(conn, "business_number")?.ok_or_else(|| Error::invalid(
        "the shop's WhatsApp number is not set: run `optdesk credentials test` or `optdesk config set business_number +44…`",
    ))?;
    Ok((name, number))
}

/// `https://wa.me/<digits>?text=<percent-encoded text>`.
pub fn link(business_number: &str, text: &str) -> String {
    let digits: String = business_number
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut encoded = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("https://wa.me/{digits}?text={encoded}")
}

fn new_code(conn: &Connection) -> Result<String> {
    for _ in 0..100 {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::invalid(format!("no system randomness: {e}")))?;
        let code: String = bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        let taken: Option<i64> = conn
            .query_row(
                "SELECT id FROM signup_sources WHERE code = ?1",
                [&code],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_none() {
            return Ok(code);
        }
    }
    Err(Error::invalid("could not find a free sign-up code"))
}

/// Creates a sign-up source. `text` may hold `{code}`; without it the code is added at the end.
pub fn create(store: &mut Store, label: &str, topic: Topic, text: Option<&str>) -> Result<Source> {
    let (name, number) = business(store.conn())?;
    let label = label.trim();
    if label.is_empty() {
        return Err(Error::invalid("a sign-up source needs a label (where the code is shown: \"Till\", \"Window poster\"…)"));
    }
    let code = new_code(store.conn())?;
    let text = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.contains("{code}") => t.replace("{code}", &format!("#{code}")),
        Some(t) => format!("{t} #{code}"),
        None => match topic {
            Topic::Marketing => format!("Yes, send me offers from {name} on WhatsApp #{code}"),
            Topic::Utility => format!("Yes, send me updates from {name} on WhatsApp #{code}"),
        },
    };
    store.conn().execute(
        "INSERT INTO signup_sources (code, label, topic, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![code, label, topic.as_str(), text, time::to_db(&time::now())],
    )?;
    Ok(Source {
        link: link(&number, &text),
        code,
        label: label.into(),
        topic,
        text,
        opt_ins: 0,
        retired: false,
    })
}

pub fn list(store: &Store) -> Result<Vec<Source>> {
    let number = settings::get(store.conn(), "business_number")?.unwrap_or_default();
    let mut stmt = store.conn().prepare(
        "SELECT s.code, s.label, s.topic, s.text, s.retired_at IS NOT NULL,
                (SELECT count(*) FROM consent_events e WHERE e.source_kind = 'signup'
                   AND e.state = 'opted_in' AND e.source_detail LIKE 'sign-up #' || s.code || '%')
         FROM signup_sources s ORDER BY s.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let topic: String = r.get(2)?;
        let text: String = r.get(3)?;
        Ok(Source {
            code: r.get(0)?,
            label: r.get(1)?,
            topic: if topic == "utility" {
                Topic::Utility
            } else {
                Topic::Marketing
            },
            link: link(&number, &text),
            text,
            retired: r.get(4)?,
            opt_ins: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn retire(store: &mut Store, code: &str) -> Result<()> {
    let code = code.trim().trim_start_matches('#').to_ascii_uppercase();
    let n = store.conn().execute(
        "UPDATE signup_sources SET retired_at = ?1 WHERE code = ?2 AND retired_at IS NULL",
        params![time::to_db(&time::now()), code],
    )?;
    if n == 0 {
        return Err(Error::invalid(format!(
            "there is no active sign-up code #{code}; see `optdesk signup list`"
        )));
    }
    Ok(())
}

/// A code found in a message.
#[derive(Debug, Clone)]
pub struct Found {
    pub code: String,
    /// `None` when no source has this code.
    pub source: Option<(String, Topic, bool)>,
}

/// Finds a `#CODE` in an inbound text and the source it names (label, topic, retired).
pub fn find(conn: &Connection, text: &str) -> Result<Option<Found>> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('#') {
        let code: String = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|b| b.to_ascii_uppercase() as char)
            .collect();
        if !(4..=8).contains(&code.len()) {
            continue;
        }
        let source = conn
            .query_row(
                "SELECT label, topic, retired_at IS NOT NULL FROM signup_sources WHERE code = ?1",
                [&code],
                |r| {
                    let topic: String = r.get(1)?;
                    Ok((
                        r.get::<_, String>(0)?,
                        if topic == "utility" {
                            Topic::Utility
                        } else {
                            Topic::Marketing
                        },
                        r.get::<_, bool>(2)?,
                    ))
                },
            )
            .optional()?;
        return Ok(Some(Found { code, source }));
    }
    Ok(None)
}

fn qr(link: &str) -> Result<qrcode::QrCode> {
    qrcode::QrCode::new(link.as_bytes())
        .map_err(|e| Error::invalid(format!("the link does not fit a QR code: {e}")))
}

/// Writes the link as a QR code PNG.
pub fn write_qr_png(link: &str, path: &Path) -> Result<()> {
    let image = qr(link)?
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .min_dimensions(600, 600)
        .build();
    image
        .save(path)
        .map_err(|e| Error::invalid(format!("cannot write {}: {e}", path.display())))
}

fn pdf_text(s: &str) -> String {
    // Standard fonts take Latin-1 (WinAnsi); what they cannot show becomes '?'.
    s.chars()
        .map(|c| match c {
            '(' | ')' | '\\' => format!("\\{c}"),
            c if (c as u32) < 256 => format!("\\{:03o}", c as u32),
            _ => "?".into(),
        })
        .collect()
}

/// Writes a printable A4 poster: the shop's name, the label, the QR code, how to sign up, and how
/// to stop later. A small PDF written by hand (the QR is drawn as squares), so nothing to install.
pub fn write_poster_pdf(business_name: &str, label: &str, link: &str, path: &Path) -> Result<()> {
    let code = qr(link)?;
    let n = code.width();
    let colors = code.to_colors();
    let size = 340.0_f64;
    let module = size / n as f64;
    let (x0, y0) = ((595.0 - size) / 2.0, 290.0);
    let mut content = String::new();
    let line = |content: &mut String, size: u32, y: f64, text: &str| {
        // Centred by a width estimate; Helvetica's average glyph is about half the size.
        let w = text.chars().count() as f64 * f64::from(size) * 0.5;
        content.push_str(&format!(
            "BT /F1 {size} Tf {:.1} {y:.1} Td ({}) Tj ET\n",
            (595.0 - w).max(40.0) / 2.0,
            pdf_text(text)
        ));
    };
    line(&mut content, 34, 760.0, business_name);
    line(&mut content, 20, 715.0, "Get our news on WhatsApp");
    line(&mut content, 14, 685.0, label);
    content.push_str("0 0 0 rg\n");
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (col, row) = (i % n, i / n);
            content.push_str(&format!(
                "{:.2} {:.2} {:.2} {:.2} re\n",
                x0 + col as f64 * module,
                y0 + size - (row + 1) as f64 * module,
                module,
                module
            ));
        }
    }
    content.push_str("f\n");
    line(
        &mut content,
        14,
        250.0,
        "Scan with your phone's camera, then press send in WhatsApp.",
    );
    line(
        &mut content,
        12,
        220.0,
        "You can stop at any time: reply STOP.",
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    let mut f = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.write_all(&pdf).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_percent_encoded() {
        assert_eq!(
            link("+44 7911 123400", "Yes, send me offers from Café Sol #S7Q2"),
            "https://wa.me/447911123400?text=Yes%2C%20send%20me%20offers%20from%20Caf%C3%A9%20Sol%20%23S7Q2"
        );
    }
}
