//! Secrets — the WhatsApp access token, the app secret, the webhook verify token — live only in
//! the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
//! Never in SQLite, logs, `Debug` output, error messages or the UI.
//!
//! [`Secret`] redacts itself in `Debug` and `Display` and implements no `Serialize`, so a secret
//! cannot leak through formatting or JSON by accident; [`Secret::expose`] is the one door, and
//! only the HTTP client and the webhook signature check go through it.
//!
//! On a headless server without a keyring, `OPTDESK_ACCESS_TOKEN`, `OPTDESK_APP_SECRET` and
//! `OPTDESK_VERIFY_TOKEN` supply them ([`EnvOverlay`]), and take precedence.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A secret value. Prints as `Secret(…)`; cannot be serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (an HTTP header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

/// The secrets OptDesk keeps.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    AccessToken,
    AppSecret,
    VerifyToken,
    /// The database's encryption key (not a WhatsApp credential: not in [`SecretKind::ALL`]).
    DatabaseKey,
    /// The ngrok agent's authtoken, for `webhook_mode = ngrok` (not in [`SecretKind::ALL`]).
    NgrokAuthtoken,
    /// The relay mailbox's pull secret, for `webhook_mode = relay` (not in [`SecretKind::ALL`]).
    RelayPullSecret,
    /// This OptDesk's X25519 key that the relay seals bodies to (made by OptDesk, never typed).
    RelaySealKey,
}

impl SecretKind {
    pub const ALL: [SecretKind; 3] = [
        SecretKind::AccessToken,
        SecretKind::AppSecret,
        SecretKind::VerifyToken,
    ];

    /// The entry's user name in the keyring (service `optdesk`).
    pub fn key(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "access_token",
            SecretKind::AppSecret => "app_secret",
            SecretKind::VerifyToken => "webhook_verify_token",
            SecretKind::DatabaseKey => "database_key",
            SecretKind::NgrokAuthtoken => "ngrok_authtoken",
            SecretKind::RelayPullSecret => "relay_pull_secret",
            SecretKind::RelaySealKey => "relay_seal_key",
        }
    }

    /// The environment variable that overrides the keyring on servers.
    pub fn env_var(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "OPTDESK_ACCESS_TOKEN",
            SecretKind::AppSecret => "OPTDESK_APP_SECRET",
            SecretKind::VerifyToken => "OPTDESK_VERIFY_TOKEN",
            SecretKind::DatabaseKey => "OPTDESK_DB_KEY",
            SecretKind::NgrokAuthtoken => "OPTDESK_NGROK_AUTHTOKEN",
            SecretKind::RelayPullSecret => "OPTDESK_RELAY_PULL_SECRET",
            SecretKind::RelaySealKey => "OPTDESK_RELAY_SEAL_KEY",
        }
    }

    /// How the owner knows it.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "WhatsApp access token",
            SecretKind::AppSecret => "Meta app secret",
            SecretKind::VerifyToken => "webhook verify token",
            SecretKind::DatabaseKey => "database encryption key",
            SecretKind::NgrokAuthtoken => "ngrok authtoken",
            SecretKind::RelayPullSecret => "relay mailbox pull secret",
            SecretKind::RelaySealKey => "relay sealing key",
        }
    }
}

/// Why a secret could not be read or written. Messages say what to do and never carry a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "no system keyring is running ({0}). On a desktop, install and unlock GNOME Keyring or \
         KWallet; on a server, set OPTDESK_ACCESS_TOKEN, OPTDESK_APP_SECRET and \
         OPTDESK_VERIFY_TOKEN in the environment instead"
    )]
    NoKeyring(String),
    #[error("the system keyring is locked or refused access ({0}); unlock it (log in to the desktop) and try again")]
    Locked(String),
    #[error("the system keyring failed: {0}")]
    Other(String),
}

pub type SecretResult<T> = Result<T, SecretError>;

/// Where secrets are kept. The product uses [`KeyringStore`] under an [`EnvOverlay`]; unit tests
/// use [`MemoryStore`].
pub trait SecretStore: Send + Sync {
    fn get(&self, kind: SecretKind) -> SecretResult<Option<Secret>>;
    fn set(&self, kind: SecretKind, value: &Secret) -> SecretResult<()>;
    /// Removes a secret; removing one that is not there is not an error.
    fn delete(&self, kind: SecretKind) -> SecretResult<()>;
}

/// The OS keyring, through the `keyring` crate.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    pub fn new() -> KeyringStore {
        KeyringStore {
            service: "optdesk".into(),
        }
    }

    /// A store under another service name, so tests never touch a real installation's secrets.
    pub fn with_service(service: impl Into<String>) -> KeyringStore {
        KeyringStore {
            service: service.into(),
        }
    }

    fn entry(&self, kind: SecretKind) -> SecretResult<keyring::Entry> {
        keyring::Entry::new(&self.service, kind.key()).map_err(map_keyring_error)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore::new()
    }
}

fn map_keyring_error(e: keyring::Error) -> SecretError {
    use keyring::Error as K;
    match e {
        K::NoDefaultStore => {
            let why = match keyring::Entry::store_status() {
                Err(status) => status.to_string(),
                Ok(()) => "no credential store is configured".into(),
            };
            SecretError::NoKeyring(why)
        }
        K::PlatformFailure(p) => SecretError::NoKeyring(p.to_string()),
        K::NoStorageAccess(p) => SecretError::Locked(p.to_string()),
        other => SecretError::Other(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, kind: SecretKind) -> SecretResult<Option<Secret>> {
        match self.entry(kind)?.get_password() {
            Ok(v) => Ok(Some(Secret(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(e)),
        }
    }

    fn set(&self, kind: SecretKind, value: &Secret) -> SecretResult<()> {
        self.entry(kind)?
            .set_password(value.expose())
            .map_err(map_keyring_error)
    }

    fn delete(&self, kind: SecretKind) -> SecretResult<()> {
        match self.entry(kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring_error(e)),
        }
    }
}

/// Secrets from the environment first (servers, tests), then the wrapped store.
pub struct EnvOverlay<S> {
    inner: S,
}

impl<S: SecretStore> EnvOverlay<S> {
    pub fn new(inner: S) -> Self {
        EnvOverlay { inner }
    }

    /// Whether `kind` comes from the environment rather than the store.
    pub fn from_env(kind: SecretKind) -> bool {
        std::env::var(kind.env_var()).is_ok_and(|v| !v.is_empty())
    }
}

impl<S: SecretStore> SecretStore for EnvOverlay<S> {
    fn get(&self, kind: SecretKind) -> SecretResult<Option<Secret>> {
        match std::env::var(kind.env_var()) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret(v))),
            _ => self.inner.get(kind),
        }
    }

    fn set(&self, kind: SecretKind, value: &Secret) -> SecretResult<()> {
        self.inner.set(kind, value)
    }

    fn delete(&self, kind: SecretKind) -> SecretResult<()> {
        self.inner.delete(kind)
    }
}

/// Secrets in memory, for tests.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<SecretKind, Secret>>,
}

impl MemoryStore {
    fn values(&self) -> std::sync::MutexGuard<'_, HashMap<SecretKind, Secret>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, kind: SecretKind) -> SecretResult<Option<Secret>> {
        Ok(self.values().get(&kind).cloned())
    }

    fn set(&self, kind: SecretKind, value: &Secret) -> SecretResult<()> {
        self.values().insert(kind, value.clone());
        Ok(())
    }

    fn delete(&self, kind: SecretKind) -> SecretResult<()> {
        self.values().remove(&kind);
        Ok(())
    }
}

/// The store the CLI and the app use: the environment over the OS keyring.
pub fn system_store() -> EnvOverlay<KeyringStore> {
    EnvOverlay::new(KeyringStore::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_formats_its_value() {
        let s = Secret::new("EAAG-very-secret-token");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert_eq!(format!("{s}"), "…");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(…))");
        assert_eq!(s.expose(), "EAAG-very-secret-token");
    }

    #[test]
    fn memory_store_round_trip() {
        let m = MemoryStore::default();
        assert_eq!(m.get(SecretKind::AppSecret).unwrap(), None);
        m.set(SecretKind::AppSecret, &Secret::new("x")).unwrap();
        assert_eq!(
            m.get(SecretKind::AppSecret).unwrap(),
            Some(Secret::new("x"))
        );
        m.delete(SecretKind::AppSecret).unwrap();
        m.delete(SecretKind::AppSecret).unwrap();
        assert_eq!(m.get(SecretKind::AppSecret).unwrap(), None);
    }
}
