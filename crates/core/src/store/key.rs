//! The database's encryption key. The file is encrypted with SQLCipher 4's default settings and a
//! random 256-bit raw key (`PRAGMA key = "x'…'"`), so the standard SQLCipher 4 tools open it with
//! the same key, and opening costs no key derivation.
//!
//! Where the key lives: `OPTDESK_DB_KEY` (servers, tests) wins; otherwise the OS keyring holds it,
//! created on first use. `optdesk key export` prints it as a recovery code for paper.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretError, SecretKind, SecretStore};

/// 32 random bytes, kept as 64 lowercase hex digits. Never formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey(Secret);

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(…)")
    }
}

impl DbKey {
    /// A fresh random key.
    pub fn generate() -> Result<DbKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::invalid(format!("no system randomness: {e}")))?;
        Ok(DbKey(Secret::new(hex::encode(bytes))))
    }

    /// Reads a key as the owner may have kept it: 64 hex digits, with or without the recovery
    /// code's dashes and spaces, or SQLCipher's own `x'…'` form.
    pub fn parse(text: &str) -> Result<DbKey> {
        let trimmed = text.trim();
        let inner = trimmed
            .strip_prefix("x'")
            .or_else(|| trimmed.strip_prefix("X'"))
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(trimmed);
        let digits: String = inner
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t' | '\n' | '\r'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "a database key is 64 hexadecimal digits (the recovery code from `optdesk key export`; \
                 dashes and spaces are ignored)",
            ));
        }
        Ok(DbKey(Secret::new(digits)))
    }

    /// The key in groups of eight, for writing down.
    pub fn recovery_code(&self) -> String {
        let hex = self.0.expose().as_bytes();
        hex.chunks(8)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The value for SQLCipher's `PRAGMA key`, as its tools take it: `x'…'`.
    pub fn sqlcipher_value(&self) -> String {
        format!("x'{}'", self.0.expose())
    }

    /// Unlocks `conn` with this key. It must be the first statement on the connection.
    pub fn apply(&self, conn: &rusqlite::Connection) -> Result<()> {
        // The value is validated hex, so formatting it into the statement is safe.
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", self.sqlcipher_value()))?;
        Ok(())
    }

    fn secret(&self) -> &Secret {
        &self.0
    }
}

/// How a file on disk looks before it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// Missing or empty: a new database.
    New,
    /// A plain SQLite file (an OptDesk from before encryption, or a file made by other tools).
    Plain,
    /// Anything else: encrypted, or not a database at all.
    Opaque,
}

/// Looks through SQLite itself, never through a file handle of our own: closing any other
/// descriptor on the database file would drop this process's POSIX locks on it, and another
/// process could then delete the WAL under our live connections.
pub(crate) fn file_kind(path: &Path) -> FileKind {
    match std::fs::metadata(path) {
        Err(_) => return FileKind::New,
        Ok(m) if m.len() == 0 => return FileKind::New,
        Ok(_) => {}
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = rusqlite::Connection::open_with_flags(path, flags) else {
        return FileKind::Opaque;
    };
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => FileKind::Plain,
        Err(_) => FileKind::Opaque,
    }
}

/// The key this user's OptDesk programs use for the database at `path`: `OPTDESK_DB_KEY` if set,
/// else the one in the OS keyring — created there (once, under a lock) when none exists yet and
/// the file is new or still plain. An encrypted file with no key anywhere is an error that says
/// how to recover.
pub fn system_key(store: &impl SecretStore, path: &Path) -> Result<DbKey> {
    if let Ok(text) = std::env::var(SecretKind::DatabaseKey.env_var()) {
        if !text.trim().is_empty() {
            return DbKey::parse(&text).map_err(|_| {
                Error::invalid(
                    "OPTDESK_DB_KEY is not a database key: it must be 64 hexadecimal digits \
                     (the recovery code from `optdesk key export`)",
                )
            });
        }
    }
    // One thing to do, about the database key alone (the WhatsApp credentials' own variables
    // are another matter, for when they are needed).
    let keyring = |e: SecretError| {
        Error::Keyring(match e {
            SecretError::NoKeyring(_) => "the database key is kept in the system keyring, and no \
                keyring is running. On a desktop, start one and unlock it (GNOME Keyring or \
                KWallet; logging in to the desktop usually does); on a server, set OPTDESK_DB_KEY \
                to the key (`optdesk key export` on the machine that has it) or to a new one, \
                e.g. $(openssl rand -hex 32)"
                .into(),
            SecretError::Locked(_) => "the database key is kept in the system keyring, which is \
                locked; unlock it (log in to the desktop) and try again, or set OPTDESK_DB_KEY"
                .into(),
            SecretError::Other(why) => format!(
                "the system keyring failed while reading the database key ({why}); try again, \
                 or set OPTDESK_DB_KEY"
            ),
        })
    };
    if let Some(found) = store.get(SecretKind::DatabaseKey).map_err(keyring)? {
        return DbKey::parse(found.expose());
    }
    if file_kind(path) == FileKind::Opaque {
        return Err(Error::invalid(format!(
            "{} is encrypted but no key for it is in the system keyring; set OPTDESK_DB_KEY to \
             the recovery code you wrote down (from `optdesk key export`)",
            path.display()
        )));
    }
    // Two programs starting at once must not each make their own key.
    let _lock = creation_lock()?;
    if let Some(found) = store.get(SecretKind::DatabaseKey).map_err(keyring)? {
        return DbKey::parse(found.expose());
    }
    let key = DbKey::generate()?;
    store
        .set(SecretKind::DatabaseKey, key.secret())
        .map_err(keyring)?;
    match store.get(SecretKind::DatabaseKey).map_err(keyring)? {
        Some(back) if back.expose() == key.secret().expose() => Ok(key),
        _ => Err(Error::invalid(
            "the system keyring did not keep the new database key; unlock it and try again",
        )),
    }
}

fn creation_lock() -> Result<std::fs::File> {
    let dir = dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("optdesk");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join("key.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    file.lock().map_err(|source| Error::Io { path, source })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;

    #[test]
    fn a_key_reads_back_from_its_recovery_code_and_sqlcipher_form() {
        let key = DbKey::generate().unwrap();
        let code = key.recovery_code();
        assert_eq!(code.len(), 64 + 7);
        assert_eq!(DbKey::parse(&code).unwrap(), key);
        assert_eq!(DbKey::parse(&code.to_uppercase()).unwrap(), key);
        assert_eq!(DbKey::parse(&key.sqlcipher_value()).unwrap(), key);
        assert_eq!(format!("{key:?}"), "DbKey(…)");
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63)] {
            assert!(DbKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_keyring_key_is_made_once_and_an_encrypted_file_never_gets_a_new_one() {
        if std::env::var_os("OPTDESK_DB_KEY").is_some() {
            return; // the environment decides; nothing here would be exercised
        }
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let path = dir.path().join("new.sqlite3");
        let first = system_key(&store, &path).unwrap();
        assert_eq!(system_key(&store, &path).unwrap(), first);

        let lost = MemoryStore::default();
        let encrypted = dir.path().join("enc.sqlite3");
        std::fs::write(&encrypted, [7u8; 4096]).unwrap();
        let err = system_key(&lost, &encrypted).unwrap_err().to_string();
        assert!(err.contains("OPTDESK_DB_KEY"), "{err}");
        assert_eq!(lost.get(SecretKind::DatabaseKey).unwrap(), None);
    }

    /// A keyring that is not running, as on a desktop without a Secret Service.
    struct NoKeyring;

    impl SecretStore for NoKeyring {
        fn get(&self, _: SecretKind) -> crate::secrets::SecretResult<Option<Secret>> {
            Err(SecretError::NoKeyring(
                "org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable".into(),
            ))
        }
        fn set(&self, _: SecretKind, _: &Secret) -> crate::secrets::SecretResult<()> {
            self.get(SecretKind::DatabaseKey).map(|_| ())
        }
        fn delete(&self, _: SecretKind) -> crate::secrets::SecretResult<()> {
            Ok(())
        }
    }

    #[test]
    fn no_keyring_says_one_thing_about_the_database_key() {
        if std::env::var_os("OPTDESK_DB_KEY").is_some() {
            return; // the environment decides; the keyring is never asked
        }
        let dir = tempfile::tempdir().unwrap();
        let e = system_key(&NoKeyring, &dir.path().join("new.sqlite3")).unwrap_err();
        assert!(matches!(e, Error::Keyring(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("no keyring is running") && text.contains("set OPTDESK_DB_KEY"),
            "{text}"
        );
        // Not the WhatsApp credentials' variables, and not D-Bus's own words.
        for other in ["OPTDESK_ACCESS_TOKEN", "OPTDESK_APP_SECRET", "DBus"] {
            assert!(!text.contains(other), "{text}");
        }
    }
}
