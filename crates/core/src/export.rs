//! `contacts export`: every contact with its current consent and the latest evidence per topic,
//! as CSV that `contacts import` reads back to the same state (or as JSON).

use std::io::Write;

use serde::Serialize;

use crate::contacts::{self, Contact, Filter};
use crate::error::{Error, Result};
use crate::ledger::{self, Event};
use crate::model::{ConsentState, Subject};
use crate::Store;

pub const CSV_HEADER: [&str; 11] = [
    "phone",
    "name",
    "tags",
    "marketing",
    "marketing_source",
    "marketing_at",
    "marketing_text",
    "utility",
    "utility_source",
    "utility_at",
    "utility_text",
];

#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    #[serde(flatten)]
    pub contact: Contact,
    /// The event behind the current marketing / utility state.
    pub marketing_evidence: Option<Event>,
    pub utility_evidence: Option<Event>,
}

pub fn collect(store: &Store) -> Result<Vec<Exported>> {
    let conn = store.conn();
    let mut latest = ledger::latest_topic_events(conn)?;
    let out = contacts::list(conn, &Filter::default())?
        .into_iter()
        .map(|c| Exported {
            marketing_evidence: latest.remove(&(c.id, Subject::Marketing)),
            utility_evidence: latest.remove(&(c.id, Subject::Utility)),
            contact: c,
        })
        .collect();
    Ok(out)
}

fn evidence_cells(state: Option<ConsentState>, ev: Option<&Event>) -> [String; 4] {
    let Some(state) = state else {
        return Default::default();
    };
    let (source, at, text) = match ev {
        Some(e) => (
            e.source_detail
                .clone()
                .unwrap_or_else(|| e.source_kind.to_string()),
            e.occurred_at.clone(),
            e.proof.clone().unwrap_or_default(),
        ),
        None => Default::default(),
    };
    [state.to_string(), source, at, text]
}

/// A cell a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return: names come from customers' own WhatsApp profiles) gets a leading `'`, which
/// spreadsheets show as text and `contacts import` takes off again.
fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

pub fn write_csv(rows: &[Exported], out: impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let csv_err = |e: csv::Error| Error::invalid(format!("cannot write the export: {e}"));
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    for r in rows {
        let c = &r.contact;
        let m = evidence_cells(c.marketing, r.marketing_evidence.as_ref());
        let u = evidence_cells(c.utility, r.utility_evidence.as_ref());
        let tags = guard(&c.tags.join(";"));
        let phone = guard(&crate::phone::for_spreadsheet(&c.phone));
        let name = guard(&c.name);
        let mut record: Vec<String> = vec![phone, name, tags];
        for (i, cell) in m.iter().chain(u.iter()).enumerate() {
            // State and date are OptDesk's own words; source and text may be anyone's.
            record.push(if i % 4 == 1 || i % 4 == 3 {
                guard(cell)
            } else {
                cell.clone()
            });
        }
        w.write_record(&record).map_err(csv_err)?;
    }
    w.flush()
        .map_err(|e| Error::invalid(format!("cannot write the export: {e}")))?;
    Ok(())
}
