//! Why a broadcast is paused: a set of reasons, each added and cleared on its own, kept as the
//! broadcast's history (`broadcast_pauses`, owned here).
//!
//! An automatic resume (quiet hours over, a template approved again) clears only its own
//! reason; the broadcast goes on when none is left. The owner's resume clears every reason but
//! quiet hours, which need their own override. `broadcasts.state` is `paused` exactly while a
//! reason is open, and `broadcasts.pause_reason` is their sentence, for lists.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::error::Result;
use crate::store::Tx;
use crate::time;

crate::model::text_enum! {
    /// What paused a broadcast.
    PauseKind {
        /// The owner (pause in the app, `broadcast pause`, Ctrl-C).
        Owner => "owner",
        /// WhatsApp paused, disabled or rejected the template.
        Template => "template",
        /// An account-wide refusal: the token, a permission, the account or its spam limit.
        Account => "account",
        /// The number's quality fell.
        Quality => "quality",
        /// Too many opted out or failed after delivery.
        Brake => "brake",
        QuietHours => "quiet_hours",
        /// The relay mailbox could not be reached, so opt-outs may be waiting there.
        Relay => "relay",
    }
}

/// One reason, open or cleared.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pause {
    pub kind: PauseKind,
    pub detail: String,
    /// What the brake measured when it tripped.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub figures: Option<serde_json::Value>,
    pub paused_at: String,
    pub cleared_at: Option<String>,
    pub cleared_by: Option<String>,
}

/// A reason to pause, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPause {
    pub kind: PauseKind,
    pub detail: String,
    pub figures: Option<serde_json::Value>,
}

impl NewPause {
    pub fn new(kind: PauseKind, detail: impl Into<String>) -> NewPause {
        NewPause {
            kind,
            detail: detail.into(),
            figures: None,
        }
    }
}

/// Who clears reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clearer {
    /// Every reason but quiet hours (and those too when `quiet_hours` is set: the owner's
    /// override for this broadcast).
    Owner { quiet_hours: bool },
    /// Only its own kind.
    Automatic(PauseKind),
}

impl Clearer {
    fn clears(self, kind: PauseKind) -> bool {
        match self {
            Clearer::Owner { quiet_hours } => kind != PauseKind::QuietHours || quiet_hours,
            Clearer::Automatic(k) => k == kind,
        }
    }

    fn name(self) -> String {
        match self {
            Clearer::Owner { .. } => "owner".into(),
            Clearer::Automatic(k) => format!("automatic: {k}"),
        }
    }
}

fn read(conn: &Connection, id: i64, open_only: bool) -> Result<Vec<Pause>> {
    let sql = format!(
        "SELECT kind, detail, figures, paused_at, cleared_at, cleared_by FROM broadcast_pauses
         WHERE broadcast_id = ?1 {} ORDER BY id",
        if open_only {
            "AND cleared_at IS NULL"
        } else {
            ""
        }
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], |r| {
        let kind: String = r.get(0)?;
        let figures: Option<String> = r.get(2)?;
        Ok((
            kind,
            Pause {
                kind: PauseKind::Owner,
                detail: r.get(1)?,
                figures: figures.and_then(|f| serde_json::from_str(&f).ok()),
                paused_at: r.get(3)?,
                cleared_at: r.get(4)?,
                cleared_by: r.get(5)?,
            },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, mut p) = row?;
        // The table's CHECK admits only known kinds.
        p.kind = kind.parse()?;
        out.push(p);
    }
    Ok(out)
}

/// The reasons holding broadcast `id` now, oldest first.
pub fn open(conn: &Connection, id: i64) -> Result<Vec<Pause>> {
    read(conn, id, true)
}

/// Every pause the broadcast has had, oldest first.
pub fn history(db: &impl crate::store::Db, id: i64) -> Result<Vec<Pause>> {
    let conn = db.connection();
    read(conn, id, false)
}

/// The reasons as one sentence, for lists and the CLI.
pub fn sentence(open: &[Pause]) -> Option<String> {
    (!open.is_empty()).then(|| {
        open.iter()
            .map(|p| p.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn sync_state(conn: &Connection, id: i64) -> Result<Vec<Pause>> {
    let still = open(conn, id)?;
    let now = time::to_db(&time::now());
    match sentence(&still) {
        Some(s) => conn.execute(
            "UPDATE broadcasts SET state = 'paused', pause_reason = ?1, updated_at = ?2
             WHERE id = ?3 AND state <> 'finished' AND state <> 'cancelled'",
            params![s, now, id],
        )?,
        None => conn.execute(
            "UPDATE broadcasts SET pause_reason = NULL, updated_at = ?1 WHERE id = ?2",
            params![now, id],
        )?,
    };
    Ok(still)
}

/// Adds a reason (one open row per kind: a second of the same kind updates its sentence) and
/// marks the broadcast paused.
pub fn add(tx: &Tx<'_>, id: i64, p: &NewPause) -> Result<()> {
    let now = time::to_db(&time::now());
    let figures = p.figures.as_ref().map(|f| f.to_string());
    let updated = tx.execute(
        "UPDATE broadcast_pauses SET detail = ?1, figures = coalesce(?2, figures)
         WHERE broadcast_id = ?3 AND kind = ?4 AND cleared_at IS NULL",
        params![p.detail, figures, id, p.kind.as_str()],
    )?;
    if updated == 0 {
        tx.execute(
            "INSERT INTO broadcast_pauses (broadcast_id, kind, detail, figures, paused_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, p.kind.as_str(), p.detail, figures, now],
        )?;
    }
    sync_state(tx, id)?;
    Ok(())
}

/// Clears what `by` may clear; returns the reasons still holding the broadcast.
pub fn clear(tx: &Tx<'_>, id: i64, by: Clearer) -> Result<Vec<Pause>> {
    let now = time::to_db(&time::now());
    for p in open(tx, id)? {
        if by.clears(p.kind) {
            tx.execute(
                "UPDATE broadcast_pauses SET cleared_at = ?1, cleared_by = ?2
                 WHERE broadcast_id = ?3 AND kind = ?4 AND cleared_at IS NULL",
                params![now, by.name(), id, p.kind.as_str()],
            )?;
        }
    }
    sync_state(tx, id)
}

/// Broadcasts held by a reason of `kind` and nothing else, for an automatic resume.
pub fn held_only_by(conn: &Connection, kind: PauseKind) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.id FROM broadcasts b WHERE b.state = 'paused'
           AND EXISTS (SELECT 1 FROM broadcast_pauses p WHERE p.broadcast_id = b.id
                       AND p.cleared_at IS NULL AND p.kind = ?1)
           AND NOT EXISTS (SELECT 1 FROM broadcast_pauses p WHERE p.broadcast_id = b.id
                       AND p.cleared_at IS NULL AND p.kind <> ?1)
         ORDER BY b.id",
    )?;
    let ids = stmt
        .query_map([kind.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// WhatsApp changed a template's status: PAUSED, DISABLED or REJECTED pause the broadcasts that
/// use it (running, paused or scheduled), with Meta's reason; APPROVED again clears that reason.
pub fn for_template(
    tx: &Tx<'_>,
    name: &str,
    language: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<()> {
    let ids: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM broadcasts WHERE template_name = ?1 AND language = ?2
               AND (state = 'sending' OR state = 'paused' OR (state = 'draft' AND scheduled_at IS NOT NULL))",
        )?
        .query_map(params![name, language], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let status = status.trim().to_ascii_uppercase();
    for id in ids {
        match status.as_str() {
            "PAUSED" | "DISABLED" | "REJECTED" => add(
                tx,
                id,
                &NewPause::new(
                    PauseKind::Template,
                    format!(
                        "template: WhatsApp {} the template {name} ({language}){}",
                        status.to_ascii_lowercase(),
                        reason.map(|r| format!(": {r}")).unwrap_or_default()
                    ),
                ),
            )?,
            "APPROVED" | "REINSTATED" => {
                clear(tx, id, Clearer::Automatic(PauseKind::Template))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Paused broadcasts that nothing holds any more because an automatic resume cleared their last
/// reason (a template approved again): the scheduler starts them.
pub fn released(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.id FROM broadcasts b WHERE b.state = 'paused'
           AND NOT EXISTS (SELECT 1 FROM broadcast_pauses p WHERE p.broadcast_id = b.id AND p.cleared_at IS NULL)
           AND (SELECT p.cleared_by FROM broadcast_pauses p WHERE p.broadcast_id = b.id
                ORDER BY p.cleared_at DESC, p.id DESC LIMIT 1) LIKE 'automatic:%'
         ORDER BY b.id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, crate::Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO broadcasts (id, name, template_name, language, category, params, audience_tags, state, created_at, updated_at)
                 VALUES (1, 'b', 't', 'en', 'MARKETING', '{}', '[]', 'sending', 'x', 'x')",
                [],
            )
            .unwrap();
        (dir, store)
    }

    fn state(store: &crate::Store) -> (String, Option<String>) {
        store
            .conn()
            .query_row(
                "SELECT state, pause_reason FROM broadcasts WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    #[test]
    fn an_automatic_resume_clears_only_its_own_reason() {
        let (_d, mut store) = store();
        store
            .with_tx(|tx| {
                add(tx, 1, &NewPause::new(PauseKind::QuietHours, "quiet hours"))?;
                add(tx, 1, &NewPause::new(PauseKind::Brake, "the brake"))
            })
            .unwrap();
        assert_eq!(
            state(&store),
            ("paused".into(), Some("quiet hours; the brake".into()))
        );
        assert!(held_only_by(store.conn(), PauseKind::QuietHours)
            .unwrap()
            .is_empty());
        let left = store
            .with_tx(|tx| clear(tx, 1, Clearer::Automatic(PauseKind::QuietHours)))
            .unwrap();
        assert_eq!(
            left.iter().map(|p| p.kind).collect::<Vec<_>>(),
            vec![PauseKind::Brake]
        );
        assert_eq!(state(&store).0, "paused", "the brake still holds it");
        assert_eq!(
            held_only_by(store.conn(), PauseKind::Brake).unwrap(),
            vec![1]
        );
    }

    #[test]
    fn the_owner_clears_everything_but_quiet_hours_unless_they_override_them() {
        let (_d, mut store) = store();
        store
            .with_tx(|tx| {
                add(tx, 1, &NewPause::new(PauseKind::QuietHours, "quiet hours"))?;
                add(
                    tx,
                    1,
                    &NewPause::new(PauseKind::Owner, "paused by the owner"),
                )?;
                add(
                    tx,
                    1,
                    &NewPause::new(PauseKind::Owner, "stopped by the owner"),
                )
            })
            .unwrap();
        let h = history(store.conn(), 1).unwrap();
        assert_eq!(h.len(), 2, "one open row per kind: {h:?}");
        let left = store
            .with_tx(|tx| clear(tx, 1, Clearer::Owner { quiet_hours: false }))
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].kind, PauseKind::QuietHours);
        let left = store
            .with_tx(|tx| clear(tx, 1, Clearer::Owner { quiet_hours: true }))
            .unwrap();
        assert!(left.is_empty());
        assert_eq!(state(&store).1, None);
        let h = history(store.conn(), 1).unwrap();
        assert!(h.iter().all(|p| p.cleared_by.as_deref() == Some("owner")));
    }
}
