//! One error type for the core. Each variant's message is a sentence a shop owner can act on;
//! nothing here ever carries a secret.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database failed: {0}{hint}", hint = db_hint(.0))]
    Db(#[from] rusqlite::Error),

    #[error(
        "the database {path} was written by a newer OptDesk (schema version {found}; this one \
         understands up to {supported}). Update OptDesk; the file was left untouched"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The last check of the file (kept beside it: `store::integrity`) found it damaged.
    #[error(
        "the database {path} is damaged ({summary}); OptDesk will not write to it. Restore the \
         latest backup with `optdesk restore FILE` (backups are checked before they replace anything)"
    )]
    Damaged { path: PathBuf, summary: String },

    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },

    #[error("{input:?} is not a valid phone number{}: {reason}", region_hint(.region))]
    InvalidPhone {
        input: String,
        region: Option<String>,
        reason: String,
    },

    #[error(
        "{input:?} is written without a country code and no default region is set; write it as \
         +<country code>… or set one with `optdesk config set default_region GB`"
    )]
    NoRegion { input: String },

    #[error("{0:?} is not a region code OptDesk knows (use two letters, such as GB, ES or BR)")]
    InvalidRegion(String),

    #[error("no contact with the number {0}")]
    ContactNotFound(String),

    #[error("{0} is already a contact")]
    ContactExists(String),

    #[error(
        "{0} is on the suppression list (the person opted out or asked to be erased); it cannot \
         be added or opted in"
    )]
    Suppressed(String),

    #[error("{0}")]
    Invalid(String),

    /// The system keyring could not give what OptDesk keeps there (the database key).
    #[error("{0}")]
    Keyring(String),

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn db_hint(e: &rusqlite::Error) -> &'static str {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            " (another OptDesk program — the app, `optdesk serve` or a broadcast — kept it busy; try again in a moment)"
        }
        Some(rusqlite::ErrorCode::DiskFull) => " (the disk is full; free some space and try again)",
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied) => {
            " (OptDesk may not write to the file; check its permissions, or pass --db with another path)"
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            " (the file is damaged; restore the latest backup with `optdesk restore FILE`)"
        }
        _ => "",
    }
}

fn region_hint(region: &Option<String>) -> String {
    match region {
        Some(r) => format!(" (read with region {r})"),
        None => String::new(),
    }
}

/// A keyring fault is a keyring fault, not bad input: the app shows it as such.
impl From<crate::secrets::SecretError> for Error {
    fn from(e: crate::secrets::SecretError) -> Self {
        Error::Keyring(e.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Error::Db(e.into())
    }
}

impl Error {
    /// Whether SQLite found the file damaged (SQLCipher's failed page authentication comes
    /// back the same way): what marks the file damaged for every writer after.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Db(e) if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            )
        )
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
