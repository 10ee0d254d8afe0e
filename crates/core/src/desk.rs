//! [`Core`]: the one handle a long-running front end (the desktop app) builds at start-up and
//! keeps: the database (its file, key and a connection), the secret store and who is acting.
//! Everything else stays plain functions over a [`Store`]; this only owns them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::secrets::{system_store, Secret, SecretKind, SecretStore};
use crate::store::{self, default_db_path, Database, Store};
use crate::whatsapp::{Client, ClientError, GraphConfig, PhoneNumberInfo};
use crate::{phone, settings};

pub struct Core {
    db: Database,
    store: Mutex<Store>,
    secrets: Arc<dyn SecretStore>,
    actor: String,
}

impl Core {
    /// Opens the database the CLI would (`OPTDESK_DB`, else the per-user default) with the key
    /// from `OPTDESK_DB_KEY` or the keyring, and refuses a file its last check found damaged (`store::integrity`) before anything writes.
    pub fn open_default(actor: &str) -> Result<Core> {
        let path = match std::env::var_os("OPTDESK_DB").filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => default_db_path()?,
        };
        let secrets: Arc<dyn SecretStore> = Arc::new(system_store());
        let key = store::system_key(&crate::secrets::KeyringStore::new(), &path)?;
        Core::open(Database::new(path, key), secrets, actor)
    }

    pub fn open(db: Database, secrets: Arc<dyn SecretStore>, actor: &str) -> Result<Core> {
        let store = db.open()?;
        store.refuse_if_damaged()?;
        Ok(Core {
            db,
            store: Mutex::new(store),
            secrets,
            actor: actor.to_string(),
        })
    }

    /// The shared connection. Hold it only for one synchronous call, never across an await.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn secrets(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// A number as the owner typed it, read with the shop's default region.
    pub fn phone(&self, input: &str) -> Result<String> {
        let region = settings::default_region(self.store().conn())?;
        phone::to_e164(input, region)
    }

    /// A WhatsApp client from the settings and the saved token.
    pub fn client(&self) -> std::result::Result<Client, ClientError> {
        let config = GraphConfig::from_settings(self.store().conn())
            .map_err(|e| ClientError::NotConfigured(e.to_string()))?;
        let token = self.secrets.get(SecretKind::AccessToken)?.ok_or_else(|| {
            ClientError::NotConfigured(
                "no WhatsApp access token is saved; paste it in Settings → WhatsApp connection"
                    .into(),
            )
        })?;
        Client::new(config, token)
    }

    /// Which secrets are set, never their values.
    pub fn secrets_status(&self) -> Result<Vec<(SecretKind, bool)>> {
        SecretKind::ALL
            .iter()
            .map(|k| {
                self.secrets
                    .get(*k)
                    .map(|v| (*k, v.is_some()))
                    .map_err(Error::from)
            })
            .collect()
    }

    pub fn set_secret(&self, kind: SecretKind, value: &str) -> Result<()> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::invalid(format!("the {} is empty", kind.label())));
        }
        if kind == SecretKind::DatabaseKey {
            return Err(Error::invalid(
                "the database key cannot be replaced from here",
            ));
        }
        self.secrets
            .set(kind, &Secret::new(value))
            .map_err(Error::from)
    }

    /// Asks WhatsApp who this number is, and remembers the business name and number it gives.
    pub async fn test_connection(&self) -> std::result::Result<PhoneNumberInfo, ClientError> {
        let client = self.client()?;
        let info = client.phone_number_info().await?;
        client.template_page(1, None).await?;
        // The connection works: a failure to save is the database's, not "not connected".
        settings::remember_phone_info(self.store().conn(), &info)
            .map_err(|e| ClientError::Store(e.to_string()))?;
        Ok(info)
    }
}
