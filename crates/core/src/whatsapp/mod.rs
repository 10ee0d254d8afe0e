//! The WhatsApp Cloud API (Meta's Graph API) client: typed requests, errors classified by code,
//! and retries only where they are safe. The base URL and version are settings, so tests (and a
//! user behind a proxy) can point it elsewhere.

pub mod error;
pub mod retry;
pub mod subscriptions;
pub mod types;

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::secrets::Secret;
use crate::settings;

pub use error::{classify, ClientError, ErrorClass, GraphError};
pub use retry::RetryPolicy;
pub use types::*;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// Where and as whom to call the Graph API. No secrets here: the token is passed separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    pub base_url: String,
    pub version: String,
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
}

impl GraphConfig {
    /// From the settings; `OPTDESK_GRAPH_URL` in the environment overrides the base URL.
    pub fn from_settings(db: &impl crate::store::Db) -> crate::Result<GraphConfig> {
        let conn = db.connection();
        let base_url = match std::env::var("OPTDESK_GRAPH_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => settings::get(conn, "graph_url")?.unwrap_or_else(|| DEFAULT_GRAPH_URL.into()),
        };
        Ok(GraphConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            version: settings::get(conn, "graph_version")?
                .unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into()),
            phone_number_id: settings::get(conn, "phone_number_id")?,
            waba_id: settings::get(conn, "waba_id")?,
        })
    }

    fn phone_number_id(&self) -> Result<&str, ClientError> {
        self.phone_number_id.as_deref().ok_or_else(|| {
            ClientError::NotConfigured(
                "no WhatsApp phone number id is set; copy it from Meta's App Dashboard → WhatsApp \
                 → API Setup and run `optdesk config set phone_number_id ID`"
                    .into(),
            )
        })
    }

    fn waba_id(&self) -> Result<&str, ClientError> {
        self.waba_id.as_deref().ok_or_else(|| {
            ClientError::NotConfigured(
                "no WhatsApp Business Account id is set; copy it from Meta's App Dashboard → \
                 WhatsApp → API Setup and run `optdesk config set waba_id ID`"
                    .into(),
            )
        })
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: GraphConfig,
    token: Secret,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("token", &self.token)
            .finish()
    }
}

impl Client {
    pub fn new(config: GraphConfig, token: Secret) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("OptDesk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                ClientError::NotConfigured(format!("cannot start the HTTP client: {e}"))
            })?;
        Ok(Client {
            http,
            config,
            token,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.config.base_url,
            self.config.version,
            path.trim_start_matches('/')
        )
    }

    /// One call, retried as the policy allows. `idempotent` says whether the request may be
    /// repeated when its outcome is unknown (a read may; a send may not).
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<T, ClientError> {
        self.call_as(&self.token, method, path, query, body, idempotent)
            .await
    }

    /// [`Client::call`] with another token (the app access token, for the app's own settings).
    async fn call_as<T: DeserializeOwned>(
        &self,
        token: &Secret,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self.once(token, method.clone(), &url, query, body).await;
            match result {
                Ok(v) => return Ok(v),
                Err(e) if self.retry.should_retry(&e, attempts, idempotent) => {
                    tokio::time::sleep(self.retry.delay(attempts)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn once<T: DeserializeOwned>(
        &self,
        token: &Secret,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(token.expose())
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let network = |e: reqwest::Error| ClientError::Network {
            url: url.to_string(),
            // reqwest's text names the URL (never the token, which is in a header).
            reason: e.without_url().to_string(),
        };
        let resp = req.send().await.map_err(network)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(network)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()));
        }
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            error: GraphError,
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => Err(ClientError::Graph {
                status,
                error: Box::new(b.error),
            }),
            Err(_) => {
                let text = String::from_utf8_lossy(&bytes);
                Err(ClientError::Decode(format!(
                    "HTTP {status} without Meta's error object: {}",
                    text.chars().take(200).collect::<String>()
                )))
            }
        }
    }

    fn sent(resp: SendResponse) -> Result<Sent, ClientError> {
        let message = resp.messages.into_iter().next().ok_or_else(|| {
            ClientError::Decode("the send was accepted but no message id came back".into())
        })?;
        Ok(Sent {
            message_id: message.id,
            wa_id: resp.contacts.into_iter().next().and_then(|c| c.wa_id),
            status: message.message_status,
        })
    }

    /// Sends a template. Never repeated after a network failure (its outcome is unknown).
    pub async fn send_template(&self, msg: &TemplateMessage) -> Result<Sent, ClientError> {
        let path = format!("{}/messages", self.config.phone_number_id()?);
        Self::sent(
            self.call(Method::POST, &path, &[], Some(&msg.body()), false)
                .await?,
        )
    }

    /// Sends a free-form text (only inside the customer's 24-hour window).
    pub async fn send_text(&self, msg: &TextMessage) -> Result<Sent, ClientError> {
        let path = format!("{}/messages", self.config.phone_number_id()?);
        Self::sent(
            self.call(Method::POST, &path, &[], Some(&msg.body()), false)
                .await?,
        )
    }

    pub async fn phone_number_info(&self) -> Result<PhoneNumberInfo, ClientError> {
        let id = self.config.phone_number_id()?.to_string();
        self.call(
            Method::GET,
            &id,
            &[("fields", PHONE_NUMBER_FIELDS)],
            None,
            true,
        )
        .await
    }

    /// One page of templates (`after` = the previous page's cursor).
    pub async fn template_page(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<Template>, ClientError> {
        let path = format!("{}/message_templates", self.config.waba_id()?);
        let limit = limit.to_string();
        let mut query = vec![("fields", TEMPLATE_FIELDS), ("limit", limit.as_str())];
        if let Some(a) = after {
            query.push(("after", a));
        }
        self.call(Method::GET, &path, &query, None, true).await
    }

    /// Every template, in every language, following the cursors until a page has no
    /// `paging.next`. (The cursor is sent to our own base URL: the `next` link is never
    /// followed, so the token only ever goes where the settings say.)
    pub async fn list_templates(&self) -> Result<Vec<Template>, ClientError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.template_page(100, after.as_deref()).await?;
            let count = page.data.len();
            all.extend(page.data);
            let paging = page.paging;
            let has_next = paging.as_ref().is_some_and(|p| p.next.is_some());
            let cursor = paging.and_then(|p| p.cursors).and_then(|c| c.after);
            match (has_next, cursor) {
                (true, Some(c)) if count > 0 && after.as_deref() != Some(c.as_str()) => {
                    after = Some(c)
                }
                _ => return Ok(all),
            }
        }
    }

    /// Submits a template (the Graph API's own JSON shape) for review.
    pub async fn create_template(&self, template: &Value) -> Result<CreatedTemplate, ClientError> {
        let path = format!("{}/message_templates", self.config.waba_id()?);
        self.call(Method::POST, &path, &[], Some(template), false)
            .await
    }

    /// Deletes a template name in every language, or one language with `template_id`.
    pub async fn delete_template(
        &self,
        name: &str,
        template_id: Option<&str>,
    ) -> Result<(), ClientError> {
        let path = format!("{}/message_templates", self.config.waba_id()?);
        let mut query = vec![("name", name)];
        if let Some(id) = template_id {
            query.push(("hsm_id", id));
        }
        let r: Success = self.call(Method::DELETE, &path, &query, None, true).await?;
        if r.success {
            Ok(())
        } else {
            Err(ClientError::Decode(
                "Meta did not confirm the deletion".into(),
            ))
        }
    }
}
