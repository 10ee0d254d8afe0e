//! Contacts: one per E.164 number, with name and tags, and their consent and flags as the ledger
//! last set them.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::model::{ConsentState, ContactId};
use crate::store::{Store, Tx};
use crate::suppression;
use crate::time;

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

pub fn get(conn: &Connection, e164: &str) -> Result<Option<Contact>> {
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
pub fn require(conn: &Connection, e164: &str) -> Result<Contact> {
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
pub fn list(conn: &Connection, filter: &Filter) -> Result<Vec<Contact>> {
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

/// Writes contact rows with statements prepared once (an import writes 100,000 of them).
/// Consent never goes through here: only the ledger sets it.
pub(crate) struct RowWriter<'t> {
    conn: &'t rusqlite::Connection,
    salt: &'t [u8],
    insert: rusqlite::Statement<'t>,
    insert_if_new: rusqlite::Statement<'t>,
    add_tag: rusqlite::Statement<'t>,
    set_name: rusqlite::Statement<'t>,
    touch: rusqlite::Statement<'t>,
    lookup: rusqlite::Statement<'t>,
}

/// What the import needs to know of a contact that already exists.
pub(crate) struct Existing {
    pub id: ContactId,
    pub name: String,
    pub consent: [Option<ConsentState>; 2],
}

impl<'t> RowWriter<'t> {
    pub fn new(tx: &'t Tx<'_>) -> Result<Self> {
        Ok(RowWriter {
            conn: tx,
            salt: tx.salt(),
            insert: tx.prepare(
                "INSERT INTO contacts (phone, phone_hash, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?,
            insert_if_new: tx.prepare(
                "INSERT INTO contacts (phone, phone_hash, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (phone) DO NOTHING",
            )?,
            add_tag: tx
                .prepare("INSERT OR IGNORE INTO contact_tags (contact_id, tag) VALUES (?1, ?2)")?,
            set_name: tx.prepare(
                "UPDATE contacts SET name = ?1, updated_at = ?2 WHERE id = ?3 AND name <> ?1",
            )?,
            touch: tx.prepare("UPDATE contacts SET updated_at = ?1 WHERE id = ?2")?,
            lookup: tx
                .prepare("SELECT id, name, marketing, utility FROM contacts WHERE phone = ?1")?,
        })
    }

    pub fn lookup(&mut self, e164: &str) -> Result<Option<Existing>> {
        let found = self
            .lookup
            .query_row([e164], |r| {
                Ok(Existing {
                    id: ContactId(r.get(0)?),
                    name: r.get(1)?,
                    consent: [consent_col(r, 2)?, consent_col(r, 3)?],
                })
            })
            .optional()?;
        Ok(found)
    }

    /// Inserts a new contact; `hash` is the number's salted hash when already computed.
    pub fn insert(
        &mut self,
        e164: &str,
        hash: Option<&[u8; 32]>,
        name: &str,
        now: &str,
    ) -> Result<ContactId> {
        let computed;
        let hash = match hash {
            Some(h) => h,
            None => {
                computed = suppression::phone_hash(self.salt, e164);
                &computed
            }
        };
        let id = self.insert.insert(params![e164, &hash[..], name, now])?;
        Ok(ContactId(id))
    }

    /// Inserts a contact unless one has the number already: its id if it was inserted. (An
    /// import tries this first, as most of its numbers are new, and looks up only the others.)
    pub fn insert_if_new(
        &mut self,
        e164: &str,
        hash: &[u8; 32],
        name: &str,
        now: &str,
    ) -> Result<Option<ContactId>> {
        let inserted = self
            .insert_if_new
            .execute(params![e164, &hash[..], name, now])?;
        Ok((inserted == 1).then(|| ContactId(self.conn.last_insert_rowid())))
    }

    /// Adds a tag; whether it was new.
    pub fn add_tag(&mut self, id: ContactId, tag: &str) -> Result<bool> {
        Ok(self.add_tag.execute(params![id.0, tag])? == 1)
    }

    /// Renames; whether the name changed.
    pub fn set_name(&mut self, id: ContactId, name: &str, now: &str) -> Result<bool> {
        Ok(self.set_name.execute(params![name, now, id.0])? == 1)
    }

    pub fn touch(&mut self, id: ContactId, now: &str) -> Result<()> {
        self.touch.execute(params![now, id.0])?;
        Ok(())
    }
}

fn normalize_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in tags {
        if let Some(t) = normalize_tag(t)? {
            out.push(t);
        }
    }
    Ok(out)
}

/// Adds a contact. Refuses a number already present or on the suppression list.
/// WhatsApp held this person's marketing back: 131049 until `until`, or 130472 (an
/// experiment) until they next write. Not consent: nothing goes in the ledger.
pub fn hold_back(conn: &Connection, id: ContactId, code: i64, until: &str) -> Result<()> {
    if code == 130472 {
        conn.prepare_cached("UPDATE contacts SET held_for_experiment = 1 WHERE id = ?1")?
            .execute([id.0])?;
    } else {
        conn.prepare_cached(
            "UPDATE contacts SET held_back_until = ?2 WHERE id = ?1
               AND (held_back_until IS NULL OR held_back_until < ?2)",
        )?
        .execute(params![id.0, until])?;
    }
    Ok(())
}

/// They wrote: WhatsApp's experiment hold (130472) ends with the window they opened.
pub fn wrote(conn: &Connection, id: ContactId) -> Result<()> {
    conn.prepare_cached(
        "UPDATE contacts SET held_for_experiment = 0 WHERE id = ?1 AND held_for_experiment = 1",
    )?
    .execute([id.0])?;
    Ok(())
}

/// How many contacts there are (erased ones are not).
pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM contacts WHERE erased_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

pub fn add(store: &mut Store, e164: &str, name: &str, tags: &[String]) -> Result<Contact> {
    let tags = normalize_tags(tags)?;
    store.with_tx(|tx| {
        if suppression::is_suppressed(tx, tx.salt(), e164)? {
            return Err(Error::Suppressed(e164.to_string()));
        }
        if get(tx, e164)?.is_some() {
            return Err(Error::ContactExists(e164.to_string()));
        }
        let mut w = RowWriter::new(tx)?;
        let id = w.insert(e164, None, name.trim(), &time::to_db(&time::now()))?;
        for t in &tags {
            w.add_tag(id, t)?;
        }
        Ok(())
    })?;
    require(store.conn(), e164)
}

/// What `edit` changes; `None` / empty leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub name: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

pub fn edit(store: &mut Store, e164: &str, edit: &Edit) -> Result<Contact> {
    let add_tags = normalize_tags(&edit.add_tags)?;
    let remove_tags = normalize_tags(&edit.remove_tags)?;
    store.with_tx(|tx| {
        let c = require(tx, e164)?;
        let now = time::to_db(&time::now());
        let mut w = RowWriter::new(tx)?;
        let mut changed = false;
        if let Some(name) = &edit.name {
            changed |= w.set_name(c.id, name.trim(), &now)?;
        }
        for t in &add_tags {
            changed |= w.add_tag(c.id, t)?;
        }
        for t in &remove_tags {
            changed |= tx.execute(
                "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag = ?2",
                params![c.id.0, t],
            )? > 0;
        }
        if changed {
            w.touch(c.id, &now)?;
        }
        Ok(())
    })?;
    require(store.conn(), e164)
}
