//! Where Meta sends webhooks, set and read by API (REACHABILITY.md §1): the app's subscription
//! to the WABA, the app-level callback (with the app access token), and the phone number's
//! override.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Client, ClientError, Success};
use crate::secrets::Secret;

/// One app subscribed to the WABA (`GET /{WABA_ID}/subscribed_apps`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SubscribedApp {
    /// The app's id, when Meta says.
    pub app_id: Option<String>,
    pub name: Option<String>,
    /// The WABA-level override, when one is set.
    pub override_callback_uri: Option<String>,
}

/// The app's webhook subscription for WhatsApp (`GET /{APP_ID}/subscriptions`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AppSubscription {
    pub callback_url: Option<String>,
    pub active: bool,
    pub fields: Vec<String>,
}

/// What `GET /{PHONE_NUMBER_ID}?fields=webhook_configuration` says, level by level.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct WebhookConfiguration {
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub whatsapp_business_account: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
}

impl WebhookConfiguration {
    /// Where `messages` (and statuses) go: the phone override, else the WABA's, else the app's.
    pub fn messages_url(&self) -> Option<&str> {
        [
            &self.phone_number,
            &self.whatsapp_business_account,
            &self.application,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|u| !u.is_empty())
    }
}

/// The app access token `APP_ID|APP_SECRET`, built in memory for one call and never kept.
pub fn app_token(app_id: &str, app_secret: &Secret) -> Secret {
    Secret::new(format!("{app_id}|{}", app_secret.expose()))
}

fn confirmed(r: Success, what: &str) -> Result<(), ClientError> {
    if r.success {
        Ok(())
    } else {
        Err(ClientError::Decode(format!("Meta did not confirm {what}")))
    }
}

impl Client {
    pub async fn subscribed_apps(&self) -> Result<Vec<SubscribedApp>, ClientError> {
        let path = format!("{}/subscribed_apps", self.config.waba_id()?);
        let v: Value = self.call(Method::GET, &path, &[], None, true).await?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let api = &a["whatsapp_business_api_data"];
                SubscribedApp {
                    app_id: api["id"].as_str().map(str::to_string),
                    name: api["name"].as_str().map(str::to_string),
                    override_callback_uri: a["override_callback_uri"]
                        .as_str()
                        .filter(|u| !u.is_empty())
                        .map(str::to_string),
                }
            })
            .collect())
    }

    /// Subscribes the app to the WABA (without a body, which also clears a WABA override).
    pub async fn subscribe_app(&self) -> Result<(), ClientError> {
        let path = format!("{}/subscribed_apps", self.config.waba_id()?);
        let r: Success = self.call(Method::POST, &path, &[], None, true).await?;
        confirmed(r, "the app's subscription to the WhatsApp Business Account")
    }

    pub async fn webhook_configuration(&self) -> Result<WebhookConfiguration, ClientError> {
        let id = self.config.phone_number_id()?.to_string();
        let v: Value = self
            .call(
                Method::GET,
                &id,
                &[("fields", "webhook_configuration")],
                None,
                true,
            )
            .await?;
        Ok(serde_json::from_value(v["webhook_configuration"].clone()).unwrap_or_default())
    }

    /// Sets the phone number's override (`""` clears it; the token is then not sent).
    pub async fn set_number_override(
        &self,
        url: &str,
        verify_token: Option<&Secret>,
    ) -> Result<(), ClientError> {
        let id = self.config.phone_number_id()?.to_string();
        let mut conf = json!({ "override_callback_uri": url });
        if let Some(t) = verify_token {
            conf["verify_token"] = json!(t.expose());
        }
        let body = json!({ "webhook_configuration": conf });
        let r: Success = self.call(Method::POST, &id, &[], Some(&body), true).await?;
        confirmed(r, "the phone number's webhook override")
    }

    pub async fn app_subscription(
        &self,
        app_id: &str,
        app_secret: &Secret,
    ) -> Result<Option<AppSubscription>, ClientError> {
        let token = app_token(app_id, app_secret);
        let path = format!("{app_id}/subscriptions");
        let v: Value = self
            .call_as(&token, Method::GET, &path, &[], None, true)
            .await?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["object"] == "whatsapp_business_account")
            .map(|s| AppSubscription {
                callback_url: s["callback_url"].as_str().map(str::to_string),
                active: s["active"].as_bool().unwrap_or(false),
                fields: s["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["name"].as_str().or(f.as_str()).map(str::to_string))
                    .collect(),
            }))
    }

    /// Sets the app-level callback for WhatsApp. Meta calls the URL (the `hub.*` handshake)
    /// before it answers, and answers error 2200 when that fails.
    pub async fn set_app_subscription(
        &self,
        app_id: &str,
        app_secret: &Secret,
        callback_url: &str,
        verify_token: &Secret,
        fields: &[String],
    ) -> Result<(), ClientError> {
        let token = app_token(app_id, app_secret);
        let path = format!("{app_id}/subscriptions");
        // In the body, not the query: the verify token stays out of URLs (and proxies' logs).
        let body = json!({
            "object": "whatsapp_business_account",
            "callback_url": callback_url,
            "verify_token": verify_token.expose(),
            "fields": fields.join(","),
        });
        let r: Success = self
            .call_as(&token, Method::POST, &path, &[], Some(&body), true)
            .await?;
        confirmed(r, "the app's webhook callback")
    }
}

impl Client {
    /// Removes the app's WhatsApp webhook subscription (what OptDesk set when nothing was there).
    pub async fn delete_app_subscription(
        &self,
        app_id: &str,
        app_secret: &Secret,
    ) -> Result<(), ClientError> {
        let token = app_token(app_id, app_secret);
        let path = format!("{app_id}/subscriptions");
        let r: Success = self
            .call_as(
                &token,
                Method::DELETE,
                &path,
                &[("object", "whatsapp_business_account")],
                None,
                true,
            )
            .await?;
        confirmed(r, "the removal of the app's webhook callback")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_precedence() {
        let mut c = WebhookConfiguration {
            application: Some("https://app".into()),
            ..Default::default()
        };
        assert_eq!(c.messages_url(), Some("https://app"));
        c.whatsapp_business_account = Some("https://waba".into());
        assert_eq!(c.messages_url(), Some("https://waba"));
        c.phone_number = Some("https://phone".into());
        assert_eq!(c.messages_url(), Some("https://phone"));
        c.phone_number = Some(String::new());
        assert_eq!(
            c.messages_url(),
            Some("https://waba"),
            "an empty override is no override"
        );
    }

    #[test]
    fn the_app_token_is_never_shown() {
        let t = app_token("670843887433847", &Secret::new("s3cret"));
        assert_eq!(t.expose(), "670843887433847|s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
