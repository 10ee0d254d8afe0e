//! The one error that crosses IPC: `{kind, message}`. The UI branches on `kind` (a small closed
//! set) and shows `message`, a sentence that says what happened and what to do.

use serde::Serialize;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The input was wrong; the message says how.
    Invalid,
    /// The contact, broadcast or file asked for is not there.
    NotFound,
    /// WhatsApp is not connected yet (no token, no phone number id).
    NotConnected,
    /// WhatsApp answered with an error, or could not be reached.
    WhatsApp,
    /// The database or the disk failed.
    Storage,
    /// The system keyring (the database key, the WhatsApp credentials) is not running, is
    /// locked, or failed.
    Keyring,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: Kind,
    pub message: String,
}

impl AppError {
    pub fn new(kind: Kind, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            message: capitalise(message.into()),
        }
    }
}

fn capitalise(s: String) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

impl From<optdesk_core::Error> for AppError {
    fn from(e: optdesk_core::Error) -> AppError {
        use optdesk_core::Error as E;
        let kind = match &e {
            E::ContactNotFound(_) => Kind::NotFound,
            E::Db(_)
            | E::Open { .. }
            | E::Damaged { .. }
            | E::SchemaTooNew { .. }
            | E::Io { .. } => Kind::Storage,
            E::Keyring(_) => Kind::Keyring,
            _ => Kind::Invalid,
        };
        AppError::new(kind, e.to_string())
    }
}

impl From<optdesk_core::whatsapp::ClientError> for AppError {
    fn from(e: optdesk_core::whatsapp::ClientError) -> AppError {
        use optdesk_core::whatsapp::ClientError as C;
        let kind = match &e {
            C::NotConfigured(_) => Kind::NotConnected,
            C::Secret(_) => Kind::Keyring,
            C::Store(_) => Kind::Storage,
            _ => Kind::WhatsApp,
        };
        AppError::new(kind, e.to_string())
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;
    use optdesk_core::secrets::SecretError;
    use optdesk_core::whatsapp::ClientError;

    #[test]
    fn each_fault_has_its_own_kind() {
        let keyring = AppError::from(optdesk_core::Error::from(SecretError::Locked("x".into())));
        assert_eq!(keyring.kind, Kind::Keyring);
        assert_eq!(
            AppError::from(ClientError::Secret(SecretError::Other("x".into()))).kind,
            Kind::Keyring
        );
        // A connection test that worked but could not be saved is the disk's fault.
        assert_eq!(
            AppError::from(ClientError::Store("disk full".into())).kind,
            Kind::Storage
        );
        assert_eq!(
            AppError::from(ClientError::NotConfigured("no token".into())).kind,
            Kind::NotConnected
        );
        assert_eq!(
            AppError::from(optdesk_core::Error::invalid("bad")).kind,
            Kind::Invalid
        );
    }
}
