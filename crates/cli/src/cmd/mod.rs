//! The commands, one module per noun.

pub mod config;
pub mod consent;
pub mod contacts;

use std::path::PathBuf;

use optdesk_core::{phone, settings, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] optdesk_core::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
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
        let store = Store::open(&path)?;
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
        let region = settings::default_region(self.store.conn())?;
        Ok(phone::to_e164(input, region)?)
    }
}
