//! `optdesk relay`: a small always-on mailbox for Meta's webhooks, run on a machine with a public
//! HTTPS address (behind Caddy or nginx). It keeps each body, sealed to the shop desktop's key,
//! durably before answering Meta's 200, and hands the bodies to that desktop when it pulls. It
//! holds no contacts and no ledger, and by default not the app secret either: it can delay or
//! drop an event, but not forge or alter one (the desktop checks Meta's signature itself).
#![forbid(unsafe_code)]

pub mod intake;
pub mod server;
pub mod store;
pub mod wire;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Busy(String),
    #[error("the relay's database: {0}")]
    Db(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
