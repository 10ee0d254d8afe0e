//! OptDesk's core: every behaviour of the product, with no UI and no Tauri.
//!
//! The one invariant everything here bends around: **no message is ever sent to a contact whose
//! current consent does not allow it.** Consent lives in an append-only, hash-chained ledger
//! ([`ledger`]); the current state is materialised on each contact for speed and is always
//! re-derivable from the ledger ([`ledger::verify`]); the [`gate`] decides, from that state, whether
//! a message of a category may go to a contact right now.
//!
//! The CLI (`crates/cli`) and the desktop shell (`src-tauri`) are thin layers over this crate.
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod broadcast;
pub mod consent;
pub mod contacts;
pub mod desk;
pub mod error;
pub mod export;

pub mod gate;
pub mod health;
pub mod import;
pub mod keywords;

pub mod ledger;
pub mod model;
pub mod optouts;
pub mod phone;
pub mod pricing;
pub mod reachability;
pub mod receiver;
pub mod relay;
pub mod replies;
pub mod retention;
pub mod rights;
pub mod secrets;
pub mod settings;
pub mod signup;
pub mod store;
pub mod suppression;
pub mod templates;
pub mod time;
pub mod webhook;
pub mod whatsapp;

pub use desk::Core;
pub use error::{Error, Result};
pub use model::{Category, ConsentState, ContactId, EventId, SourceKind, Subject, Topic};
pub use store::{default_db_path, Store};
