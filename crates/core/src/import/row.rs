//! One CSV record → what it asks for. Pure and independent of the database, so records are parsed
//! on every core while one writer applies them in order.

use crate::contacts::normalize_tag;
use crate::model::{ConsentState, Topic};
use crate::phone::{Numbering, Region};
use crate::suppression;
use crate::time::{self, Timestamp};

use super::cells::{first_number, read_number, scientific, unguard};
use super::columns::{self, PhoneKind, Signal};
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
    /// Side issues that did not stop the row (a shortened tag, a second number in the cell).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RowError {
    pub line: u64,
    pub phone: Option<String>,
    pub reason: String,
    /// The row said the person does not want messages (an opt-out cell, another system's
    /// opt-out): losing it matters most, so the report names such rows first.
    pub carried_opt_out: bool,
}

/// A phone column, with what its header (or Google's label column beside it) says about it.
#[derive(Debug, Clone)]
pub(crate) struct PhoneCol {
    pub index: usize,
    pub kind: PhoneKind,
    /// Google's "Phone N - Label" for this "Phone N - Value".
    pub label: Option<usize>,
    pub header: String,
}

/// Column positions, looked up once per file.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Every phone column, in file order; per row the best non-empty one is taken.
    pub phones: Vec<PhoneCol>,
    name: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    company: Option<usize>,
    country: Option<usize>,
    tags: Option<usize>,
    /// [topic][field] for marketing, utility and consent_* (both).
    consent: [[Option<usize>; 4]; 3],
    /// Other systems' opt-out signals: position, kind, and the source an opt-out then records.
    signals: Vec<(usize, Signal, String)>,
    /// The whole file is an opt-out list (a Mailchimp "unsubscribed" export): its source.
    all_opted_out: Option<String>,
    /// For a consent column the owner chose from another system's column (`--map marketing=
    /// "Accepts SMS Marketing"`): the file and column, as the source of what it records.
    mapped_source: [Option<String>; 2],
}

const FIELDS: [Field; 4] = [Field::State, Field::Source, Field::At, Field::Text];

impl Layout {
    pub fn new(h: &Header, file_name: &str) -> Layout {
        let mut consent = [[None; 4]; 3];
        for (t, topic) in [TopicCol::Marketing, TopicCol::Utility, TopicCol::Both]
            .into_iter()
            .enumerate()
        {
            for (f, field) in FIELDS.into_iter().enumerate() {
                consent[t][f] = h.index_of(Column::Consent(topic, field));
            }
        }
        let file = if file_name.is_empty() {
            "the imported file"
        } else {
            file_name
        };
        let phones = h
            .all(|c| matches!(c, Column::Phone { .. }))
            .into_iter()
            .map(|i| {
                let Some(Column::Phone { kind, group }) = h.columns[i] else {
                    unreachable!("all() matched a phone column")
                };
                PhoneCol {
                    index: i,
                    kind,
                    label: group.and_then(|g| h.index_of(Column::PhoneLabel(g))),
                    header: h
                        .names
                        .get(i)
                        .map_or(String::new(), |n| n.trim().to_string()),
                }
            })
            .collect();
        let signals = h
            .all(|c| matches!(c, Column::Signal(_)))
            .into_iter()
            .filter_map(|i| match h.columns[i] {
                Some(Column::Signal(Signal::OtherChannel)) | None => None,
                Some(Column::Signal(sig)) => Some((
                    i,
                    sig,
                    format!(
                        "{file}, column {:?}",
                        h.names.get(i).map_or("", |n| n.trim())
                    ),
                )),
                Some(_) => None,
            })
            .collect();
        let mapped_source = [TopicCol::Marketing, TopicCol::Utility].map(|t| {
            let i = h.index_of(Column::Consent(t, Field::State))?;
            let header = h.names.get(i)?.trim();
            let own = matches!(columns::fold(header).as_str(), "marketing" | "utility");
            (!own).then(|| format!("{file}, column {header:?}"))
        });
        Layout {
            mapped_source,
            phones,
            name: h.index_of(Column::Name),
            first: h.index_of(Column::FirstName),
            last: h.index_of(Column::LastName),
            company: h.index_of(Column::Company),
            country: h.index_of(Column::Country),
            tags: h.index_of(Column::Tags),
            consent,
            signals,
            all_opted_out: h
                .all_opted_out
                .as_ref()
                .map(|why| format!("{file} ({why})")),
        }
    }

    /// The phone cell a row's number is read from: the best kind among its non-empty phone
    /// cells (WhatsApp, then mobile, then generic, then home or work), the first of equals.
    pub fn best_phone<'r>(&self, rec: &'r Record) -> Option<(usize, &'r str)> {
        let mut best: Option<(PhoneKind, usize, &'r str)> = None;
        for (n, col) in self.phones.iter().enumerate() {
            let Some(value) = rec
                .fields
                .get(col.index)
                .map(str::trim)
                .map(unguard)
                .filter(|v| !v.is_empty())
            else {
                continue;
            };
            let kind = match col.label.and_then(|l| rec.fields.get(l)) {
                Some(label) => match PhoneKind::from_label(label) {
                    Some(k) => k,
                    None => continue, // a fax or pager
                },
                None => col.kind,
            };
            if best.is_none_or(|(k, _, _)| kind < k) {
                best = Some((kind, n, value));
            }
        }
        best.map(|(_, n, v)| (n, v))
    }

    /// Whether the row says, anywhere, that the person does not want messages.
    pub fn opts_out(&self, rec: &Record) -> bool {
        let said_out = |i: Option<usize>| {
            cell(rec, i).is_some_and(|v| consent_value(v) == Ok(Some(ConsentState::OptedOut)))
        };
        self.all_opted_out.is_some()
            || said_out(self.consent[0][0])
            || said_out(self.consent[1][0])
            || self.signals.iter().any(|(i, sig, _)| {
                cell(rec, Some(*i)).is_some_and(|v| match sig {
                    Signal::OptOutWhenTrue => columns::truthy(v) == Some(true),
                    Signal::OptOutWhenFalse => columns::truthy(v) == Some(false),
                    Signal::SubscriptionStatus => columns::fold(v).contains("unsubscribed"),
                    Signal::OtherChannel => false,
                })
            })
    }

    pub fn has_consent_columns(&self) -> bool {
        self.consent[0][0].is_some()
            || self.consent[1][0].is_some()
            || !self.signals.is_empty()
            || self.all_opted_out.is_some()
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
        .map(unguard)
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
    let best = layout.best_phone(rec);
    let fail = |reason: String| RowError {
        line: rec.line,
        phone: best.map(|(_, v)| v.to_string()),
        reason,
        carried_opt_out: layout.opts_out(rec),
    };
    let (_, raw_phone) = best.ok_or_else(|| {
        fail(if layout.phones.len() > 1 {
            "every phone cell is empty".into()
        } else {
            "the phone cell is empty".into()
        })
    })?;
    let mut notes = Vec::new();
    if scientific(raw_phone) {
        return Err(fail(format!(
            "{raw_phone:?} is how a spreadsheet shows a long number it has rounded: its last digits are lost. In the spreadsheet, format the column as Text, type the numbers again (or export them again from where they came), and save"
        )));
    }
    let raw_phone = first_number(raw_phone, rec.line, &mut notes);
    let phone = read_number(numbering, raw_phone, cell(rec, layout.country), region)
        .map_err(|e| fail(e.to_string()))?;

    let mut tags = Vec::new();
    if let Some(t) = cell(rec, layout.tags) {
        for part in t.replace(":::", ";").split([';', '|', ',']) {
            // Google's system groups ("* myContacts", "* starred") are not the shop's tags.
            let part = part.trim();
            if part.starts_with("* ") || part.eq_ignore_ascii_case("myContacts") {
                continue;
            }
            let part = if part.chars().count() > 64 {
                notes.push(format!(
                    "line {}: the tag {part:?} was shortened to 64 characters",
                    rec.line
                ));
                part.chars().take(64).collect::<String>()
            } else {
                part.to_string()
            };
            if let Ok(Some(tag)) = normalize_tag(&part) {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
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
            source: pick(1)
                .map(str::to_string)
                .or_else(|| layout.mapped_source[t].clone()),
            at,
            text: pick(3).map(str::to_string),
        });
    }

    // Another system's record that the person asked not to be messaged is a marketing opt-out
    // (it beats an opt-in in the same row); its consent for another channel is never an opt-in.
    let signal = layout.all_opted_out.clone().or_else(|| {
        layout.signals.iter().find_map(|(i, sig, source)| {
            let v = cell(rec, Some(*i))?;
            let out = match sig {
                Signal::OptOutWhenTrue => columns::truthy(v) == Some(true),
                Signal::OptOutWhenFalse => columns::truthy(v) == Some(false),
                Signal::SubscriptionStatus => {
                    let f = columns::fold(v);
                    f.contains("unsubscribed") || f == "opted_out" || f.contains("blocked")
                }
                Signal::OtherChannel => false,
            };
            out.then(|| source.clone())
        })
    });
    if let Some(source) = signal {
        if topics[0]
            .as_ref()
            .is_some_and(|t| t.state == ConsentState::OptedIn)
        {
            notes.push(format!(
                "line {}: the file opts {phone} in to marketing but {source} says they asked not to be messaged; the opt-out was kept",
                rec.line
            ));
        }
        if topics[0]
            .as_ref()
            .is_none_or(|t| t.state != ConsentState::OptedOut)
        {
            topics[0] = Some(TopicCell {
                line: rec.line,
                state: ConsentState::OptedOut,
                source: Some(source),
                at: None,
                text: None,
            });
        }
    }

    let name = cell(rec, layout.name)
        .map(str::to_string)
        .or_else(|| {
            let parts: Vec<&str> = [layout.first, layout.last]
                .into_iter()
                .filter_map(|i| cell(rec, i))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .or_else(|| cell(rec, layout.company).map(str::to_string));
    Ok(ParsedRow {
        line: rec.line,
        phone_hash: suppression::phone_hash(salt, &phone),
        phone,
        name,
        tags,
        topics,
        notes,
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
