//! One CSV record → what it asks for. Pure and independent of the database, so records are parsed
//! on every core while one writer applies them in order.

use crate::contacts::normalize_tag;
use crate::model::{ConsentState, Topic};
use crate::phone::{Numbering, Region};
use crate::suppression;
use crate::time::{self, Timestamp};

use super::read::{Column, Field, Header, Record, TopicCol};

/// A consent cell and its evidence.
#[derive(Debug, Clone)]
pub(crate) struct TopicCell {
    /// The line this cell came from (rows for one number are merged).
    pub line: u64,
    pub state: ConsentState,
    pub source: Option<String>,
    pub at: Option<Timestamp>,
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ParsedRow {
    pub line: u64,
    pub phone: String,
    pub phone_hash: [u8; 32],
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// Marketing, then utility.
    pub topics: [Option<TopicCell>; 2],
}

#[derive(Debug, Clone)]
pub(crate) struct RowError {
    pub line: u64,
    pub phone: Option<String>,
    pub reason: String,
}

/// Column positions, looked up once per file.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub phone: usize,
    name: Option<usize>,
    tags: Option<usize>,
    /// [topic][field] for marketing, utility and consent_* (both).
    consent: [[Option<usize>; 4]; 3],
}

const FIELDS: [Field; 4] = [Field::State, Field::Source, Field::At, Field::Text];

impl Layout {
    pub fn new(h: &Header) -> Layout {
        let mut consent = [[None; 4]; 3];
        for (t, topic) in [TopicCol::Marketing, TopicCol::Utility, TopicCol::Both]
            .into_iter()
            .enumerate()
        {
            for (f, field) in FIELDS.into_iter().enumerate() {
                consent[t][f] = h.index_of(Column::Consent(topic, field));
            }
        }
        Layout {
            phone: h.index_of(Column::Phone).unwrap_or(0),
            name: h.index_of(Column::Name),
            tags: h.index_of(Column::Tags),
            consent,
        }
    }

    pub fn phone_cell<'r>(&self, rec: &'r Record) -> &'r str {
        rec.fields.get(self.phone).unwrap_or("")
    }

    pub fn has_consent_columns(&self) -> bool {
        self.consent[0][0].is_some() || self.consent[1][0].is_some()
    }
}

/// Reads a consent cell. Empty means "no change".
pub(crate) fn consent_value(cell: &str) -> Result<Option<ConsentState>, String> {
    let v = cell.trim().to_lowercase();
    Ok(match v.as_str() {
        "" => None,
        "opted_in" | "opted in" | "in" | "yes" | "y" | "true" | "1" => Some(ConsentState::OptedIn),
        "opted_out" | "opted out" | "out" | "no" | "n" | "false" | "0" => Some(ConsentState::OptedOut),
        _ => {
            return Err(format!(
                "{cell:?} is not a consent value (use yes/no, in/out, opted_in/opted_out, 1/0, or leave it empty)"
            ))
        }
    })
}

fn cell(rec: &Record, i: Option<usize>) -> Option<&str> {
    i.and_then(|i| rec.fields.get(i))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Remembers the last date text read and its value: a file usually repeats one date.
#[derive(Default)]
pub(crate) struct DateMemo {
    last: Option<(String, Option<Timestamp>)>,
}

impl DateMemo {
    fn parse(&mut self, text: &str) -> Option<Timestamp> {
        match &self.last {
            Some((t, v)) if t == text => *v,
            _ => {
                let v = time::parse_user(text);
                self.last = Some((text.to_string(), v));
                v
            }
        }
    }
}

pub(crate) fn parse(
    rec: &Record,
    layout: &Layout,
    region: Option<Region>,
    salt: &[u8],
    now: Timestamp,
    numbering: &Numbering,
    dates: &mut DateMemo,
) -> Result<ParsedRow, RowError> {
    let raw_phone = cell(rec, Some(layout.phone));
    let fail = |reason: String| RowError {
        line: rec.line,
        phone: raw_phone.map(str::to_string),
        reason,
    };
    let raw_phone = raw_phone.ok_or_else(|| fail("the phone cell is empty".into()))?;
    let phone = numbering
        .to_e164(raw_phone, region)
        .map_err(|e| fail(e.to_string()))?;

    let mut tags = Vec::new();
    if let Some(t) = cell(rec, layout.tags) {
        for part in t.split([';', '|']) {
            match normalize_tag(part) {
                Ok(Some(tag)) if !tags.contains(&tag) => tags.push(tag),
                Ok(_) => {}
                Err(e) => return Err(fail(e.to_string())),
            }
        }
    }

    let mut topics: [Option<TopicCell>; 2] = [None, None];
    for (t, topic) in [Topic::Marketing, Topic::Utility].into_iter().enumerate() {
        let state_cell = cell(rec, layout.consent[t][0]).unwrap_or("");
        let Some(state) = consent_value(state_cell).map_err(|e| fail(format!("{topic}: {e}")))?
        else {
            continue;
        };
        // A per-topic column wins over the shared consent_* one.
        let pick =
            |f: usize| cell(rec, layout.consent[t][f]).or_else(|| cell(rec, layout.consent[2][f]));
        let at = match pick(2) {
            None => None,
            Some(s) => {
                let at = dates.parse(s).ok_or_else(|| {
                    fail(format!(
                        "{topic}: {s:?} is not a date (write it as 2026-03-01 or 2026-03-01 14:30)"
                    ))
                })?;
                if at > now + chrono::Duration::days(1) {
                    return Err(fail(format!(
                        "{topic}: the consent date {s} is in the future"
                    )));
                }
                Some(at)
            }
        };
        topics[t] = Some(TopicCell {
            line: rec.line,
            state,
            source: pick(1).map(str::to_string),
            at,
            text: pick(3).map(str::to_string),
        });
    }

    Ok(ParsedRow {
        line: rec.line,
        phone_hash: suppression::phone_hash(salt, &phone),
        phone,
        name: cell(rec, layout.name).map(str::to_string),
        tags,
        topics,
    })
}

impl ParsedRow {
    /// Folds a later row for the same number into this one: a later name wins, tags add up, and
    /// a later consent cell wins — except that an opt-in never overrides an opt-out from the same
    /// file. Returns a note when the two rows disagreed about consent.
    pub fn merge(&mut self, later: ParsedRow) -> Option<String> {
        if later.name.is_some() {
            self.name = later.name;
        }
        for tag in later.tags {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        let mut note = None;
        for (t, cell) in later.topics.into_iter().enumerate() {
            let Some(cell) = cell else { continue };
            match &self.topics[t] {
                Some(kept)
                    if kept.state == ConsentState::OptedOut
                        && cell.state == ConsentState::OptedIn =>
                {
                    let topic = if t == 0 {
                        Topic::Marketing
                    } else {
                        Topic::Utility
                    };
                    note = Some(format!(
                        "line {} opts {} in to {topic} but line {} opts them out; the opt-out was kept",
                        cell.line, self.phone, kept.line
                    ));
                }
                _ => self.topics[t] = Some(cell),
            }
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_cells() {
        for v in ["yes", "Y", "TRUE", "1", "in", "Opted_In", "opted in"] {
            assert_eq!(consent_value(v), Ok(Some(ConsentState::OptedIn)), "{v}");
        }
        for v in ["no", "N", "false", "0", "out", "OPTED_OUT"] {
            assert_eq!(consent_value(v), Ok(Some(ConsentState::OptedOut)), "{v}");
        }
        assert_eq!(consent_value("  "), Ok(None));
        assert!(consent_value("maybe").unwrap_err().contains("\"maybe\""));
    }
}
