//! Contacts: one per E.164 number, with name and tags, and their consent and flags as the ledger
//! last set them.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::model::{ConsentState, ContactId};

mod write;
pub use write::*;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: ContactId,
    /// E.164.
    pub phone: String,
    pub name: String,
    pub tags: Vec<String>,
    #[serde(serialize_with = "consent_label")]
    pub marketing: Option<ConsentState>,
    #[serde(serialize_with = "consent_label")]
    pub utility: Option<ConsentState>,
    pub meta_blocked: bool,
    pub unreachable: bool,
    pub review_pending: bool,
    pub suppressed: bool,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub last_marketing_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn consent_label<S: Serializer>(v: &Option<ConsentState>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(ConsentState::label(*v))
}

/// Which contacts `list` returns. Empty fields match everyone.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Contacts with any of these tags.
    pub tags: Vec<String>,
    /// `Some(None)` selects contacts with no marketing record (unknown).
    pub marketing: Option<Option<ConsentState>>,
    pub utility: Option<Option<ConsentState>>,
}

const CONTACT_COLUMNS: &str = "c.id, c.phone, c.name, c.marketing, c.utility, c.meta_blocked,
    c.unreachable, c.review_pending, s.phone_hash IS NOT NULL, c.wa_id, c.bsuid,
    c.last_marketing_at, c.created_at, c.updated_at";

const CONTACT_FROM: &str =
    "FROM contacts c LEFT JOIN suppressions s ON s.phone_hash = c.phone_hash";

/// Reads a materialised consent column without allocating.
pub(crate) fn consent_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<ConsentState>> {
    Ok(match r.get_ref(i)?.as_str_or_null()? {
        None => None,
        Some("opted_in") => Some(ConsentState::OptedIn),
        Some(_) => Some(ConsentState::OptedOut),
    })
}

fn read_contact(r: &Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: ContactId(r.get(0)?),
        phone: r.get(1)?,
        name: r.get(2)?,
        tags: Vec::new(),
        marketing: consent_col(r, 3)?,
        utility: consent_col(r, 4)?,
        meta_blocked: r.get(5)?,
        unreachable: r.get(6)?,
        review_pending: r.get(7)?,
        suppressed: r.get(8)?,
        wa_id: r.get(9)?,
        bsuid: r.get(10)?,
        last_marketing_at: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Trims a tag and folds inner whitespace; refuses the characters CSV files split tags on.
pub fn normalize_tag(raw: &str) -> Result<Option<String>> {
    let tag = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if tag.is_empty() {
        return Ok(None);
    }
    if tag.contains([';', '|']) {
        return Err(Error::invalid(format!(
            "tag {raw:?} may not contain ';' or '|'"
        )));
    }
    if tag.chars().count() > 64 {
        return Err(Error::invalid(format!(
            "tag {raw:?} is longer than 64 characters"
        )));
    }
    Ok(Some(tag))
}

pub fn get(db: &impl crate::store::Db, e164: &str) -> Result<Option<Contact>> {
    let conn = db.connection();
    let sql = format!("SELECT {CONTACT_COLUMNS} {CONTACT_FROM} WHERE c.phone = ?1");
    let contact = conn.query_row(&sql, [e164], read_contact).optional()?;
    contact
        .map(|mut c| {
            c.tags = tags_of(conn, c.id)?;
            Ok(c)
        })
        .transpose()
}

/// The contact with this number, or an error naming the number.
pub fn require(db: &impl crate::store::Db, e164: &str) -> Result<Contact> {
    let conn = db.connection();
    get(conn, e164)?.ok_or_else(|| Error::ContactNotFound(e164.to_string()))
}

fn tags_of(conn: &Connection, id: ContactId) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT tag FROM contact_tags WHERE contact_id = ?1 ORDER BY tag")?;
    let tags = stmt
        .query_map([id.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(tags)
}

/// Every contact that matches `filter`, ordered by number.
pub fn list(db: &impl crate::store::Db, filter: &Filter) -> Result<Vec<Contact>> {
    let conn = db.connection();
    let mut sql = format!("SELECT {CONTACT_COLUMNS} {CONTACT_FROM} WHERE c.erased_at IS NULL");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if !filter.tags.is_empty() {
        let marks = vec!["?"; filter.tags.len()].join(", ");
        sql +=
            &format!(" AND c.id IN (SELECT contact_id FROM contact_tags WHERE tag IN ({marks}))");
        args.extend(filter.tags.iter().map(|t| t.clone().into()));
    }
    for (column, wanted) in [("marketing", filter.marketing), ("utility", filter.utility)] {
        match wanted {
            None => {}
            Some(None) => sql += &format!(" AND c.{column} IS NULL"),
            Some(Some(state)) => {
                sql += &format!(" AND c.{column} = ?");
                args.push(state.as_str().to_string().into());
            }
        }
    }
    sql += " ORDER BY c.phone";
    let mut stmt = conn.prepare(&sql)?;
    let mut contacts: Vec<Contact> = stmt
        .query_map(rusqlite::params_from_iter(args), read_contact)?
        .collect::<rusqlite::Result<_>>()?;

    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    let mut stmt =
        conn.prepare("SELECT contact_id, tag FROM contact_tags ORDER BY contact_id, tag")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        tags.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    for c in &mut contacts {
        if let Some(t) = tags.remove(&c.id.0) {
            c.tags = t;
        }
    }
    Ok(contacts)
}

/// How many contacts there are (erased ones are not).
pub fn count(db: &impl crate::store::Db) -> Result<i64> {
    let conn = db.connection();
    Ok(conn.query_row(
        "SELECT count(*) FROM contacts WHERE erased_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}
