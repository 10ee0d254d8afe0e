//! The public side of the receiver: one [`Reachability`] seam, three ways, by `webhook_mode`.
//!
//! - `manual`: the owner's own tunnel, reverse proxy or Tailscale Funnel, given as `public_url`;
//!   OptDesk runs nothing.
//! - `ngrok`: ngrok's agent SDK in this process, serving the same axum receiver (see `ngrok`).
//! - `relay`: an always-on mailbox (`optdesk relay`) that keeps Meta's bodies while this PC is
//!   off; the receiving process pulls from it (see `crate::relay`).

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secrets::{SecretKind, SecretStore};
use crate::settings;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Manual,
    Ngrok,
    Relay,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "manual" => Ok(Mode::Manual),
            "ngrok" => Ok(Mode::Ngrok),
            "relay" => Ok(Mode::Relay),
            other => Err(Error::invalid(format!(
                "{other:?} is not a webhook mode: use ngrok (a tunnel OptDesk runs), relay (an always-on mailbox) or manual (your own HTTPS address in public_url)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::Ngrok => "ngrok",
            Mode::Relay => "relay",
        }
    }

    /// What the mode costs and risks, in the owner's words (the Connect screen shows it).
    pub fn tradeoffs(self) -> &'static str {
        match self {
            Mode::Manual => "Your own HTTPS address (a tunnel you run, a reverse proxy on a server, Tailscale Funnel). Nothing for OptDesk to run; it works while that address leads to this PC and OptDesk is open.",
            Mode::Ngrok => "The quickest start: OptDesk runs an ngrok tunnel while the app or `optdesk serve` runs. Needs a free ngrok account. ngrok carries, and can see, the webhooks it passes on; a free plan's 20,000 requests a month cover about 5,000 messages (each brings up to three status webhooks), and when they run out reception stops until the month resets. A PC that is switched off receives nothing: Meta retries for a while, then drops.",
            Mode::Relay => "An always-on mailbox on a small server keeps every webhook while this PC is off; OptDesk collects them when it starts, before any broadcast.",
        }
    }
}

/// What the public side is doing now.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum EndpointState {
    /// OptDesk runs it and it is up.
    Up,
    /// Someone else runs it (manual mode): OptDesk cannot tell, the self-test can.
    External,
    /// It stopped, and why.
    Down(String),
}

impl EndpointState {
    pub fn as_db(&self) -> String {
        match self {
            EndpointState::Up => "up".into(),
            EndpointState::External => "external".into(),
            EndpointState::Down(why) => format!("down: {why}"),
        }
    }
}

/// A way for Meta to reach the receiver.
pub trait Reachability: Send {
    fn mode(&self) -> Mode;
    /// Brings the public side up in front of `app` (the receiver's router, the one HTTP stack);
    /// the public base URL (Meta calls `<it>/webhook`), when there is one yet.
    fn open(&mut self, app: Router) -> BoxFuture<'_, Result<Option<String>>>;
    fn state(&self) -> EndpointState;
    /// Requests carried since the last call (only tunnels with a quota count them).
    fn take_requests(&self) -> u64 {
        0
    }
    /// The mailbox the receiving process pulls from (relay mode only).
    fn relay(&self) -> Option<crate::relay::client::RelayClient> {
        None
    }
}

/// `manual`: `public_url`, as the owner set it up.
pub struct Manual {
    pub public_url: Option<String>,
}

impl Reachability for Manual {
    fn mode(&self) -> Mode {
        Mode::Manual
    }

    /// The owner's address; none yet is not an error here (the receiver still runs locally),
    /// and `webhook connect` says what to do.
    fn open(&mut self, _app: Router) -> BoxFuture<'_, Result<Option<String>>> {
        let url = self.public_url.clone();
        Box::pin(async move { Ok(url) })
    }

    fn state(&self) -> EndpointState {
        EndpointState::External
    }
}

/// `relay`: Meta posts to the mailbox; the receiving process pulls from it. Opening registers
/// this desktop's sealing key and verify token with the mailbox, so Meta's handshake through the
/// relay uses the token OptDesk gives Meta.
pub struct Relay {
    pub client: crate::relay::client::RelayClient,
    pub verify_token: Option<crate::secrets::Secret>,
    opened: bool,
}

impl Relay {
    pub fn new(
        access: crate::relay::Access,
        verify_token: Option<crate::secrets::Secret>,
    ) -> Result<Relay> {
        Ok(Relay {
            client: crate::relay::client::RelayClient::new(access)?,
            verify_token,
            opened: false,
        })
    }
}

impl Reachability for Relay {
    fn mode(&self) -> Mode {
        Mode::Relay
    }

    fn open(&mut self, _app: Router) -> BoxFuture<'_, Result<Option<String>>> {
        Box::pin(async move {
            let token = self.verify_token.clone().ok_or_else(|| {
                Error::invalid("the webhook verify token is not saved; run `optdesk credentials set --verify-token`")
            })?;
            self.client.register(&token).await?;
            self.opened = true;
            Ok(Some(self.client.access().base.clone()))
        })
    }

    fn state(&self) -> EndpointState {
        if self.opened {
            EndpointState::Up
        } else {
            EndpointState::Down("not registered with the relay yet".into())
        }
    }

    fn relay(&self) -> Option<crate::relay::client::RelayClient> {
        Some(self.client.clone())
    }
}

/// The mode the settings choose, ready to open.
pub fn from_settings(
    store: &crate::Store,
    secrets: &dyn SecretStore,
) -> Result<Box<dyn Reachability>> {
    let conn = store.conn();
    let mode =
        Mode::parse(&settings::get(conn, "webhook_mode")?.unwrap_or_else(|| "manual".into()))?;
    Ok(match mode {
        Mode::Manual => Box::new(Manual {
            public_url: settings::get(conn, "public_url")?,
        }),
        Mode::Ngrok => Box::new(super::ngrok::Ngrok::new(
            secrets
                .get(SecretKind::NgrokAuthtoken)
                .map_err(|e| match e {
                    crate::secrets::SecretError::NoKeyring(why) => Error::invalid(format!(
                        "the ngrok authtoken cannot be read: no system keyring is running ({why}); start one (GNOME Keyring or KWallet), or set OPTDESK_NGROK_AUTHTOKEN in the environment"
                    )),
                    other => Error::invalid(format!("the ngrok authtoken cannot be read: {other}")),
                })?,
            settings::get(conn, "ngrok_domain")?,
        )),
        Mode::Relay => Box::new(Relay::new(
            crate::relay::access(conn, secrets, store.path())?
                .expect("relay mode gives an access"), // access() is None only outside relay mode
            secrets.get(SecretKind::VerifyToken).ok().flatten(),
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse(" Ngrok ").unwrap(), Mode::Ngrok);
        assert!(Mode::parse("cloudflare")
            .unwrap_err()
            .to_string()
            .contains("manual"));
        for m in [Mode::Manual, Mode::Ngrok, Mode::Relay] {
            assert_eq!(Mode::parse(m.as_str()).unwrap(), m);
        }
    }

    #[tokio::test]
    async fn manual_gives_the_public_url() {
        assert_eq!(
            Manual { public_url: None }
                .open(Router::new())
                .await
                .unwrap(),
            None
        );
        let url = Manual {
            public_url: Some("https://shop.example".into()),
        }
        .open(Router::new())
        .await
        .unwrap();
        assert_eq!(url.as_deref(), Some("https://shop.example"));
    }
}
