//! The commands, one module per noun.

pub mod broadcasts;
pub mod config;
pub mod consent;
pub mod contacts;
pub mod credentials;
pub mod optouts;
pub mod receiver;
pub mod relay;
pub mod results;
pub mod signups;
pub mod templates;
pub mod webhook;

use std::path::PathBuf;

use optdesk_core::{phone, settings, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] optdesk_core::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Client(#[from] optdesk_core::whatsapp::ClientError),
    #[error(transparent)]
    Secret(#[from] optdesk_core::secrets::SecretError),
    #[error(transparent)]
    Relay(#[from] optdesk_relay::Error),
}

/// Runs one async core call to completion (the CLI does one thing at a time).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

/// A WhatsApp client from the settings and the saved token.
pub fn client(ctx: &Ctx) -> Result<optdesk_core::whatsapp::Client, Error> {
    use optdesk_core::secrets::{system_store, SecretKind, SecretStore};
    use optdesk_core::whatsapp::{Client, ClientError, GraphConfig};
    let config = GraphConfig::from_settings(&ctx.store)?;
    let token = system_store()
        .get(SecretKind::AccessToken)?
        .ok_or_else(|| {
            ClientError::NotConfigured(
                "no WhatsApp access token is saved; run `optdesk credentials set --access-token` \
             (or set OPTDESK_ACCESS_TOKEN on a server)"
                    .into(),
            )
        })?;
    Ok(Client::new(config, token)?)
}

/// What every command needs: the open database and who is acting.
pub struct Ctx {
    pub store: Store,
    pub actor: String,
}

impl Ctx {
    pub fn new(db: Option<PathBuf>, actor: Option<String>) -> Result<Ctx, Error> {
        let path = match db {
            Some(p) => p,
            None => optdesk_core::default_db_path()?,
        };
        let key =
            optdesk_core::store::system_key(&optdesk_core::secrets::KeyringStore::new(), &path)?;
        let store = Store::open(&path, &key)?;
        let actor = actor.filter(|a| !a.trim().is_empty()).unwrap_or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
                .map_or_else(|| "cli".to_string(), |u| format!("cli:{u}"))
        });
        Ok(Ctx { store, actor })
    }

    /// Reads a number typed on the command line, with the shop's default region.
    pub fn phone(&self, input: &str) -> Result<String, Error> {
        let region = settings::default_region(&self.store)?;
        Ok(phone::to_e164(input, region)?)
    }
}
