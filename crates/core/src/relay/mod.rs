//! The desktop's side of the relay mailbox (`webhook_mode = relay`): the mailbox's address and
//! secrets, the HTTP client, the pull loop that moves sealed bodies into the inbox, and the drain
//! every broadcast runs before it claims a recipient. The relay server itself is the
//! `optdesk-relay` crate; what the two say to each other is its `wire` module.

pub mod client;
pub mod drain;
pub mod pull;
pub mod state;

use std::path::Path;

pub use optdesk_relay::wire::{SealError, SealKey};

use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretKind, SecretStore};
use crate::settings;

/// Everything needed to read a mailbox.
#[derive(Clone)]
pub struct Access {
    /// `https://relay.example/m/<id>`: Meta posts to `<it>/webhook`, the desktop pulls from
    /// `<it>/events`.
    pub base: String,
    pub pull_secret: Secret,
    pub key: std::sync::Arc<SealKey>,
    /// Names this desktop to the relay (its lease): the same for every process on this database.
    pub consumer: String,
}

/// The mailbox's base address from what the owner pasted (the hook URL or the base).
pub fn mailbox_base(url: &str) -> Result<String> {
    let v = url.trim().trim_end_matches('/');
    let v = v.strip_suffix("/webhook").unwrap_or(v);
    let id = v.rsplit_once("/m/").map(|(_, id)| id);
    let ok = v.starts_with("https://")
        && id.is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::invalid(format!(
            "{url:?} is not a relay mailbox address: it looks like https://relay.example.com/m/<32 letters and digits>/webhook, as `optdesk relay mailbox add` printed it"
        )))
    }
}

/// The name this database's desktop gives the relay.
pub fn consumer(db: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "a PC".into());
    let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let tag = optdesk_relay::wire::sha256_hex(db.to_string_lossy().as_bytes());
    format!("OptDesk on {host} ({})", &tag[..8])
}

fn read(secrets: &dyn SecretStore, kind: SecretKind) -> Result<Option<Secret>> {
    secrets.get(kind).map_err(|e| match e {
        crate::secrets::SecretError::NoKeyring(why) => Error::invalid(format!(
            "the {} cannot be read: no system keyring is running ({why}); start one, or set {} in the environment",
            kind.label(),
            kind.env_var()
        )),
        other => Error::invalid(format!("the {} cannot be read: {other}", kind.label())),
    })
}

/// This OptDesk's sealing key, made and kept in the keyring the first time.
pub fn seal_key(secrets: &dyn SecretStore) -> Result<SealKey> {
    if let Some(k) = read(secrets, SecretKind::RelaySealKey)? {
        return SealKey::from_hex(k.expose()).map_err(|_| {
            Error::invalid("the relay sealing key in the keyring is damaged; delete it and connect the relay again")
        });
    }
    let key = SealKey::generate();
    secrets
        .set(SecretKind::RelaySealKey, &Secret::new(key.secret_hex()))
        .map_err(|e| Error::invalid(format!("the relay sealing key cannot be saved: {e}")))?;
    Ok(key)
}

/// The mailbox this database reads, from the settings and the keyring; None outside relay mode.
pub fn access(
    conn: &rusqlite::Connection,
    secrets: &dyn SecretStore,
    db: &Path,
) -> Result<Option<Access>> {
    let mode = settings::get(conn, "webhook_mode")?.unwrap_or_default();
    if mode != "relay" {
        return Ok(None);
    }
    let base = settings::get(conn, "relay_url")?.ok_or_else(|| {
        Error::invalid(
            "webhook_mode is relay but no relay_url is set; run `optdesk webhook connect --relay <the mailbox's hook URL>`",
        )
    })?;
    let pull_secret = read(secrets, SecretKind::RelayPullSecret)?.ok_or_else(|| {
        Error::invalid(
            "the relay mailbox's pull secret is not saved; run `optdesk credentials set --relay` (or set OPTDESK_RELAY_PULL_SECRET)",
        )
    })?;
    Ok(Some(Access {
        base,
        pull_secret,
        key: std::sync::Arc::new(seal_key(secrets)?),
        consumer: consumer(db),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_address_is_read_from_its_hook_url_or_its_base() {
        let id = "0123456789abcdef0123456789abcdef";
        for given in [
            format!("https://relay.example/m/{id}/webhook"),
            format!("https://relay.example/m/{id}/"),
            format!(" https://relay.example/m/{id}"),
        ] {
            assert_eq!(
                mailbox_base(&given).unwrap(),
                format!("https://relay.example/m/{id}")
            );
        }
        for bad in [
            format!("http://relay.example/m/{id}"),
            "https://relay.example/m/short".to_string(),
            "https://relay.example/webhook".to_string(),
        ] {
            assert!(
                mailbox_base(&bad)
                    .unwrap_err()
                    .to_string()
                    .contains("mailbox add"),
                "{bad}"
            );
        }
    }
}
