//! The one writer of `contacts` and `contact_tags`. Everything that changes a contact row calls
//! a function here: the import and the owner's edits, the ledger's materialised consent, the ids
//! WhatsApp tells us, a changed number, an erasure, and WhatsApp's holds.

use rusqlite::{params, Connection, OptionalExtension};

use super::{consent_col, get, normalize_tag, require, Contact};
use crate::error::{Error, Result};
use crate::model::{ConsentState, ContactId};
use crate::store::{Store, Tx};
use crate::suppression;
use crate::time;

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

    /// Removes a tag; whether it was there.
    pub fn remove_tag(&mut self, id: ContactId, tag: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM contact_tags WHERE contact_id = ?1 AND tag = ?2")?
            .execute(params![id.0, tag])?
            == 1)
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
            changed |= w.remove_tag(c.id, t)?;
        }
        if changed {
            w.touch(c.id, &now)?;
        }
        Ok(())
    })?;
    require(store.conn(), e164)
}

/// Remembers the ids WhatsApp told us for a contact; an id already known is kept.
pub(crate) fn learn_ids(
    conn: &Connection,
    id: ContactId,
    wa_id: Option<&str>,
    bsuid: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE contacts SET wa_id = coalesce(wa_id, ?1), bsuid = coalesce(bsuid, ?2) WHERE id = ?3",
    )?
    .execute(params![wa_id, bsuid, id.0])?;
    Ok(())
}

/// WhatsApp accepted a message to them: the id it answered with, and for marketing the time
/// (the frequency rules count from it).
pub(crate) fn sent_to(
    conn: &Connection,
    id: ContactId,
    wa_id: Option<&str>,
    marketing: bool,
    at: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE contacts SET wa_id = coalesce(wa_id, ?1),
            last_marketing_at = CASE WHEN ?2 THEN ?3 ELSE last_marketing_at END WHERE id = ?4",
    )?
    .execute(params![wa_id, marketing, at, id.0])?;
    Ok(())
}

/// The customer changed their number in WhatsApp: the contact moves to the new one.
pub(crate) fn change_number(
    tx: &Tx<'_>,
    id: ContactId,
    new_phone: &str,
    wa_id: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE contacts SET phone = ?1, wa_id = ?2, phone_hash = ?3, updated_at = ?4 WHERE id = ?5",
        params![
            new_phone,
            wa_id,
            &suppression::phone_hash(tx.salt(), new_phone)[..],
            time::to_db(&time::now()),
            id.0
        ],
    )?;
    Ok(())
}

/// Blanks an erased person's row: number, name, ids and tags go; the row stays, as the ledger's
/// events point at it.
pub(crate) fn erase(conn: &Connection, id: ContactId, at: &str) -> Result<()> {
    conn.execute("DELETE FROM contact_tags WHERE contact_id = ?1", [id.0])?;
    conn.execute(
        "UPDATE contacts SET phone = 'erased:' || id, name = '', wa_id = NULL, bsuid = NULL,
            erased_at = ?1, updated_at = ?1 WHERE id = ?2",
        params![at, id.0],
    )?;
    Ok(())
}

/// The consent columns as the ledger last set them (the ledger is their only caller): a column
/// given as `None` is left as it is, as no event ever sets one to NULL.
pub(crate) struct ConsentColumns<'t>(rusqlite::Statement<'t>);

/// marketing, utility, meta_blocked, unreachable, review_pending: in `Subject`'s order.
pub(crate) type ConsentValues = [Option<rusqlite::types::Value>; 5];

impl<'t> ConsentColumns<'t> {
    pub fn new(conn: &'t Connection) -> Result<Self> {
        Ok(ConsentColumns(conn.prepare(
            "UPDATE contacts SET marketing = coalesce(?1, marketing),
                utility = coalesce(?2, utility), meta_blocked = coalesce(?3, meta_blocked),
                unreachable = coalesce(?4, unreachable), review_pending = coalesce(?5, review_pending),
                updated_at = ?6
             WHERE id = ?7",
        )?))
    }

    pub fn write(&mut self, id: ContactId, values: ConsentValues, at: &str) -> Result<()> {
        let [marketing, utility, meta_blocked, unreachable, review_pending] = values;
        let changed = self.0.execute(params![
            marketing,
            utility,
            meta_blocked,
            unreachable,
            review_pending,
            at,
            id.0
        ])?;
        if changed != 1 {
            return Err(Error::invalid(format!("no contact with id {}", id.0)));
        }
        Ok(())
    }
}
