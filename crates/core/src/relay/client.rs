//! HTTP to the relay mailbox: register this desktop's key, pull, acknowledge.

use std::time::Duration;

use optdesk_relay::wire::{self, Ack, Events, Newest, Register};

use super::Access;
use crate::error::{Error, Result};
use crate::secrets::Secret;

#[derive(Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    access: Access,
}

impl RelayClient {
    pub fn new(access: Access) -> Result<RelayClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Small requests (a pull, an acknowledgement) must not wait for a delayed ACK.
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::invalid(format!("cannot make an HTTP client: {e}")))?;
        Ok(RelayClient { http, access })
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.access.base))
            .bearer_auth(self.access.pull_secret.expose())
            .header(wire::CONSUMER_HEADER, &self.access.consumer)
            .timeout(timeout)
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, rb: reqwest::RequestBuilder) -> Result<T> {
        let relay = self
            .access
            .base
            .split("/m/")
            .next()
            .unwrap_or_default()
            .to_string();
        let resp = rb.send().await.map_err(|e| {
            Error::invalid(format!(
                "the relay at {relay} cannot be reached: {}",
                root(&e)
            ))
        })?;
        let status = resp.status();
        if status.is_success() {
            return resp.json().await.map_err(|e| {
                Error::invalid(format!(
                    "the relay at {relay} answered something that is not a mailbox's answer: {e}"
                ))
            });
        }
        let said = resp.text().await.unwrap_or_default();
        let said = said.trim();
        Err(Error::invalid(match status.as_u16() {
            401 => format!("the relay at {relay} refused the pull secret ({said}); if the mailbox's secret was rotated, save the new one with `optdesk credentials set --relay`"),
            404 => format!("the relay at {relay} has no such mailbox; check relay_url (`optdesk relay mailbox list` on the relay shows its mailboxes)"),
            409 => format!("the relay at {relay}: {said}"),
            502..=504 if said.is_empty() => format!("the relay at {relay} is not answering (HTTP {} from the proxy in front of it: is `optdesk relay` running there?)", status.as_u16()),
            code => format!("the relay at {relay} answered HTTP {code}: {said}"),
        }))
    }

    /// Gives the mailbox this desktop's public key and verify token (as a hash); the mailbox's
    /// newest cursor.
    pub async fn register(&self, verify_token: &Secret) -> Result<i64> {
        let body = Register {
            public_key: self.access.key.public_hex(),
            verify_token_sha256: wire::sha256_hex(verify_token.expose().as_bytes()),
        };
        let n: Newest = self
            .send(
                self.req(reqwest::Method::POST, "key", Duration::from_secs(20))
                    .json(&body),
            )
            .await?;
        Ok(n.newest)
    }

    /// Bodies after `after`, waiting up to `wait` seconds for one.
    pub async fn events(&self, after: i64, wait: u64, limit: usize) -> Result<Events> {
        let path = format!("events?after={after}&wait={wait}&limit={limit}");
        self.send(self.req(reqwest::Method::GET, &path, Duration::from_secs(wait + 20)))
            .await
    }

    /// The mailbox's newest cursor now.
    pub async fn newest(&self) -> Result<i64> {
        Ok(self.events(i64::MAX / 2, 0, 0).await?.newest)
    }

    pub async fn ack(&self, upto: i64) -> Result<i64> {
        let n: Newest = self
            .send(
                self.req(reqwest::Method::POST, "ack", Duration::from_secs(20))
                    .json(&Ack { upto }),
            )
            .await?;
        Ok(n.newest)
    }
}

/// The innermost cause, which is the one that says what happened (refused, timed out…).
fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
