//! The relay's own SQLite file (`relay.db` in its data directory), and every statement that reads
//! or writes it. No contacts, no ledger: mailboxes, and the sealed bodies they hold until the
//! desktop acknowledges them. Durable means fsync'd before Meta's 200 (`synchronous = FULL`).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::wire::{self, Event};
use crate::{Error, Result};

const SCHEMA: &[&str] = &[r#"
CREATE TABLE mailboxes (
    id           TEXT PRIMARY KEY,          -- 128 random bits, hex: the URL's unguessable part
    name         TEXT NOT NULL UNIQUE,      -- the operator's label
    verify_hash  TEXT NOT NULL,             -- SHA-256 of the verify token Meta sends
    pull_hash    TEXT NOT NULL,             -- SHA-256 of the desktop's pull secret
    public_key   BLOB,                      -- the desktop's X25519 key; bodies are sealed to it
    app_secret   TEXT,                      -- only if the shop opted in (the relay is then trusted)
    consumer     TEXT,                      -- the desktop holding the lease
    lease_until  INTEGER NOT NULL DEFAULT 0,-- Unix ms
    newest       INTEGER NOT NULL DEFAULT 0,-- the newest cursor ever stored
    stored       INTEGER NOT NULL DEFAULT 0,
    pulled       INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox      TEXT NOT NULL REFERENCES mailboxes (id),
    received_at  INTEGER NOT NULL,          -- Unix ms
    sealed       BLOB NOT NULL
) STRICT;
CREATE INDEX events_by_mailbox ON events (mailbox, seq);
CREATE TABLE relay (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    public_url   TEXT,                      -- the https base Meta and desktops use
    admin_hash   TEXT                       -- SHA-256 of the metrics secret
) STRICT;
INSERT INTO relay (id) VALUES (1);
"#];

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Opens (creating) `DIR/relay.db`, fsync'd on every commit.
pub fn open(dir: &Path) -> Result<Connection> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Setup(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    let path = dir.join("relay.db");
    let conn = Connection::open(&path)
        .map_err(|e| Error::Setup(format!("cannot open {}: {e}", path.display())))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA.len() {
        return Err(Error::Setup(format!(
            "{} was written by a newer optdesk relay (schema {version}); upgrade this one",
            path.display()
        )));
    }
    for (i, step) in SCHEMA.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(conn)
}

#[derive(Debug, Clone)]
pub struct Mailbox {
    pub id: String,
    pub name: String,
    pub verify_hash: String,
    pub pull_hash: String,
    pub public_key: Option<[u8; 32]>,
    pub app_secret: Option<String>,
    pub consumer: Option<String>,
    pub lease_until: i64,
}

/// What `mailbox add` prints once: the relay keeps only hashes of the two secrets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub name: String,
    pub id: String,
    pub verify_token: String,
    pub pull_secret: String,
}

pub fn add_mailbox(conn: &Connection, name: &str) -> Result<Created> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::Invalid(
            "a mailbox name is 1 to 100 characters".into(),
        ));
    }
    let created = Created {
        name: name.to_string(),
        id: wire::random_hex(16),
        verify_token: wire::random_hex(24),
        pull_secret: wire::random_hex(32),
    };
    conn.execute(
        "INSERT INTO mailboxes (id, name, verify_hash, pull_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            created.id,
            created.name,
            wire::sha256_hex(created.verify_token.as_bytes()),
            wire::sha256_hex(created.pull_secret.as_bytes()),
            now_ms()
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            Error::Invalid(format!("a mailbox named {name:?} exists already"))
        }
        other => other.into(),
    })?;
    Ok(created)
}

fn id_of(conn: &Connection, name: &str) -> Result<String> {
    conn.query_row("SELECT id FROM mailboxes WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| {
        Error::Invalid(format!(
            "there is no mailbox named {name:?} (see `optdesk relay mailbox list`)"
        ))
    })
}

/// A new pull secret (the old one stops working at once) and the lease released.
pub fn rotate(conn: &Connection, name: &str) -> Result<String> {
    let id = id_of(conn, name)?;
    let secret = wire::random_hex(32);
    conn.execute(
        "UPDATE mailboxes SET pull_hash = ?1, consumer = NULL, lease_until = 0 WHERE id = ?2",
        params![wire::sha256_hex(secret.as_bytes()), id],
    )?;
    Ok(secret)
}

/// Gives the relay the shop's app secret (it then refuses forgeries itself), or takes it away.
pub fn set_app_secret(conn: &Connection, name: &str, secret: Option<&str>) -> Result<()> {
    let id = id_of(conn, name)?;
    conn.execute(
        "UPDATE mailboxes SET app_secret = ?1 WHERE id = ?2",
        params![secret, id],
    )?;
    Ok(())
}

pub fn remove(conn: &Connection, name: &str) -> Result<usize> {
    let id = id_of(conn, name)?;
    let tx = conn.unchecked_transaction()?;
    let events = tx.execute("DELETE FROM events WHERE mailbox = ?1", [&id])?;
    tx.execute("DELETE FROM mailboxes WHERE id = ?1", [&id])?;
    tx.commit()?;
    Ok(events)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub id: String,
    pub key_registered: bool,
    pub trusted_with_app_secret: bool,
    pub consumer: Option<String>,
    pub stored: i64,
    pub pulled: i64,
    pub pending: i64,
    pub pending_bytes: i64,
    /// Unix ms of the oldest body not yet acknowledged.
    pub oldest_pending: Option<i64>,
}

pub fn list(conn: &Connection) -> Result<Vec<Summary>> {
    let mut st = conn.prepare(
        "SELECT m.name, m.id, m.public_key IS NOT NULL, m.app_secret IS NOT NULL, m.consumer, m.stored, m.pulled,
                count(e.seq), coalesce(sum(length(e.sealed)), 0), min(e.received_at)
         FROM mailboxes m LEFT JOIN events e ON e.mailbox = m.id GROUP BY m.id ORDER BY m.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Summary {
            name: r.get(0)?,
            id: r.get(1)?,
            key_registered: r.get(2)?,
            trusted_with_app_secret: r.get(3)?,
            consumer: r.get(4)?,
            stored: r.get(5)?,
            pulled: r.get(6)?,
            pending: r.get(7)?,
            pending_bytes: r.get(8)?,
            oldest_pending: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Mailbox>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, verify_hash, pull_hash, public_key, app_secret, consumer, lease_until
             FROM mailboxes WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let key: Option<Vec<u8>> = r.get(4)?;
            Ok(Mailbox {
                id: r.get(0)?,
                name: r.get(1)?,
                verify_hash: r.get(2)?,
                pull_hash: r.get(3)?,
                public_key: key.and_then(|k| k.try_into().ok()),
                app_secret: r.get(5)?,
                consumer: r.get(6)?,
                lease_until: r.get(7)?,
            })
        })
        .optional()?)
}

/// The newest cursor a mailbox ever stored.
pub fn newest(conn: &Connection, id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT newest FROM mailboxes WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Takes or renews the lease for `consumer`, unless another desktop holds it.
pub fn lease(conn: &Connection, id: &str, consumer: &str, now: i64, for_ms: i64) -> Result<()> {
    let (holder, until): (Option<String>, i64) = conn
        .prepare_cached("SELECT consumer, lease_until FROM mailboxes WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if let Some(h) = holder.filter(|h| h != consumer && until > now) {
        return Err(Error::Busy(format!(
            "this mailbox is being read by another OptDesk ({h}) for {} s more; one desktop reads a mailbox at a time",
            (until - now + 999) / 1000
        )));
    }
    conn.prepare_cached("UPDATE mailboxes SET consumer = ?1, lease_until = ?2 WHERE id = ?3")?
        .execute(params![consumer, now + for_ms, id])?;
    Ok(())
}

/// The desktop's sealing key and its verify token's hash (Meta's handshake then uses the token
/// the desktop registers with Meta).
pub fn register(
    conn: &Connection,
    id: &str,
    public_key: &[u8; 32],
    verify_hash: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE mailboxes SET public_key = ?1, verify_hash = ?2 WHERE id = ?3",
        params![public_key.as_slice(), verify_hash, id],
    )?;
    Ok(())
}

/// One body to store.
pub struct Incoming {
    pub mailbox: String,
    pub received_at: i64,
    pub sealed: Vec<u8>,
}

/// Stores bodies in one transaction (one fsync for the group); their cursors, in order.
pub fn insert(conn: &mut Connection, batch: &[Incoming]) -> Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let mut seqs = Vec::with_capacity(batch.len());
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO events (mailbox, received_at, sealed) VALUES (?1, ?2, ?3)",
        )?;
        let mut bump = tx.prepare_cached(
            "UPDATE mailboxes SET newest = ?1, stored = stored + 1 WHERE id = ?2",
        )?;
        for b in batch {
            ins.execute(params![b.mailbox, b.received_at, b.sealed])?;
            let seq = tx.last_insert_rowid();
            bump.execute(params![seq, b.mailbox])?;
            seqs.push(seq);
        }
    }
    tx.commit()?;
    Ok(seqs)
}

/// Stored bodies after `after`, oldest first, up to `limit` of them and about `max_bytes`.
pub fn events_after(
    conn: &Connection,
    id: &str,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<Event>> {
    use base64::Engine;
    let mut st = conn.prepare_cached(
        "SELECT seq, received_at, sealed FROM events WHERE mailbox = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = st.query(params![id, after, limit as i64])?;
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    while let Some(r) = rows.next()? {
        let sealed: Vec<u8> = r.get(2)?;
        bytes += sealed.len();
        out.push(Event {
            seq: r.get(0)?,
            received_at_ms: r.get(1)?,
            sealed: base64::engine::general_purpose::STANDARD.encode(&sealed),
        });
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}

/// Deletes what the desktop acknowledged; (bodies, bytes) freed.
pub fn ack(conn: &Connection, id: &str, upto: i64) -> Result<(i64, i64)> {
    let tx = conn.unchecked_transaction()?;
    let freed: (i64, i64) = tx.query_row(
        "SELECT count(*), coalesce(sum(length(sealed)), 0) FROM events WHERE mailbox = ?1 AND seq <= ?2",
        params![id, upto],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.execute(
        "DELETE FROM events WHERE mailbox = ?1 AND seq <= ?2",
        params![id, upto],
    )?;
    tx.execute(
        "UPDATE mailboxes SET pulled = pulled + ?1 WHERE id = ?2",
        params![freed.0, id],
    )?;
    tx.commit()?;
    Ok(freed)
}

/// Deletes bodies nobody acknowledged within the keeping time; how many.
pub fn expire(conn: &Connection, older_than: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM events WHERE received_at < ?1", [older_than])?)
}

/// (bodies, bytes) waiting per mailbox: the quotas start from it.
pub fn pending(conn: &Connection) -> Result<Vec<(String, i64, i64)>> {
    let mut st = conn.prepare(
        "SELECT mailbox, count(*), coalesce(sum(length(sealed)), 0) FROM events GROUP BY mailbox",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn public_url(conn: &Connection) -> Result<Option<String>> {
    Ok(
        conn.query_row("SELECT public_url FROM relay WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

pub fn set_public_url(conn: &Connection, url: &str) -> Result<()> {
    conn.execute("UPDATE relay SET public_url = ?1 WHERE id = 1", [url])?;
    Ok(())
}

pub fn admin_hash(conn: &Connection) -> Result<Option<String>> {
    Ok(
        conn.query_row("SELECT admin_hash FROM relay WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

/// A new admin (metrics) secret; printed once, kept as a hash.
pub fn rotate_admin(conn: &Connection) -> Result<String> {
    let secret = wire::random_hex(32);
    conn.execute(
        "UPDATE relay SET admin_hash = ?1 WHERE id = 1",
        [wire::sha256_hex(secret.as_bytes())],
    )?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_keeps_only_hashes_and_its_bodies_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path()).unwrap();
        let c = add_mailbox(&conn, "Bakery").unwrap();
        assert_eq!(c.id.len(), 32);
        assert!(add_mailbox(&conn, "Bakery")
            .unwrap_err()
            .to_string()
            .contains("exists"));
        let m = get(&conn, &c.id).unwrap().unwrap();
        assert_ne!(m.pull_hash, c.pull_secret);
        assert_eq!(m.pull_hash, wire::sha256_hex(c.pull_secret.as_bytes()));
        let seqs = insert(
            &mut conn,
            &[
                Incoming {
                    mailbox: c.id.clone(),
                    received_at: 1,
                    sealed: vec![1; 10],
                },
                Incoming {
                    mailbox: c.id.clone(),
                    received_at: 2,
                    sealed: vec![2; 10],
                },
            ],
        )
        .unwrap();
        assert_eq!(newest(&conn, &c.id).unwrap(), seqs[1]);
        assert_eq!(events_after(&conn, &c.id, 0, 10, 1 << 20).unwrap().len(), 2);
        assert_eq!(
            events_after(&conn, &c.id, seqs[0], 10, 1 << 20)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(ack(&conn, &c.id, seqs[0]).unwrap(), (1, 10));
        assert_eq!(events_after(&conn, &c.id, 0, 10, 1 << 20).unwrap().len(), 1);
        // The newest cursor survives acknowledgement.
        assert_eq!(newest(&conn, &c.id).unwrap(), seqs[1]);
        lease(&conn, &c.id, "desk-a", 1000, 60_000).unwrap();
        assert!(lease(&conn, &c.id, "desk-b", 2000, 60_000).is_err());
        lease(&conn, &c.id, "desk-b", 70_000, 60_000).unwrap();
        let s = rotate(&conn, "Bakery").unwrap();
        assert_ne!(s, c.pull_secret);
        assert!(rotate(&conn, "nope").is_err());
    }
}
