//! Where the fake's webhooks go, set by API the way Meta's are (REACHABILITY.md §1): the app's
//! subscription to the WABA (`/{WABA_ID}/subscribed_apps`), the app-level callback
//! (`/{APP_ID}/subscriptions`, with the app access token only), and the phone number's override
//! (`/{PHONE_NUMBER_ID}` with `webhook_configuration`).
//!
//! Every set call first performs Meta's verification GET (`hub.mode`, `hub.challenge`,
//! `hub.verify_token`) to the URL, over HTTPS trusting only the test certificate authority the
//! test gave it, and answers error 2200 when the challenge does not come back. Emitted webhooks
//! follow Meta's precedence: `messages` (and the other overridable fields) to the phone override,
//! else the WABA override, else the app callback; everything else to the app callback only.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::graph::error;
use crate::webhooks::{escape_non_ascii, sign};
use crate::{lock, Shared};

/// The fields a phone or WABA override carries (Meta's list); the rest go to the app's URL.
pub const OVERRIDABLE: &[&str] = &[
    "messages",
    "message_echoes",
    "calls",
    "consumer_profile",
    "messaging_handovers",
    "group_lifecycle_update",
    "group_participants_update",
    "group_settings_update",
    "group_status_update",
    "smb_message_echoes",
    "smb_app_state_sync",
    "history",
    "account_settings_update",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Callback {
    pub url: String,
    pub verify_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppCallback {
    pub url: String,
    pub verify_token: String,
    pub fields: Vec<String>,
    pub active: bool,
}

/// The fake's webhook routing and the app it stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Routing {
    pub app_id: String,
    pub app_secret: String,
    pub app_name: String,
    /// The app is subscribed to the WABA (without it no webhook flows at all).
    pub subscribed: bool,
    pub waba_override: Option<Callback>,
    pub phone_override: Option<Callback>,
    pub app_callback: Option<AppCallback>,
    /// A coexistence number: the phone override is refused with `(#200) Permissions error`.
    pub coexistence: bool,
    /// The only certificate authority the fake's verifier trusts (PEM). None: no HTTPS URL
    /// verifies, as with a self-signed certificate at Meta.
    pub trusted_ca_pem: Option<String>,
}

pub const APP_ID: &str = "670843887433847";

impl Default for Routing {
    fn default() -> Self {
        Routing {
            app_id: APP_ID.into(),
            app_secret: "fake-app-secret".into(),
            app_name: "Bakery Sol's app".into(),
            subscribed: false,
            waba_override: None,
            phone_override: None,
            app_callback: None,
            coexistence: false,
            trusted_ca_pem: None,
        }
    }
}

impl Routing {
    /// Where a webhook of `field` goes now, by Meta's precedence; None when nowhere.
    pub fn destination(&self, field: &str) -> Option<&str> {
        let app = self.app_callback.as_ref().filter(|a| a.active)?;
        if !self.subscribed || !app.fields.iter().any(|f| f == field) {
            return None;
        }
        if OVERRIDABLE.contains(&field) {
            if let Some(o) = self.phone_override.as_ref().or(self.waba_override.as_ref()) {
                return Some(&o.url);
            }
        }
        Some(&app.url)
    }
}

fn http_client(ca: Option<&str>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .timeout(std::time::Duration::from_secs(10));
    if let Some(pem) = ca {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| e.to_string())
}

/// Whether a URL's host is this machine (127.0.0.0/8, ::1, localhost).
pub fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Meta's verification request, made before a set call answers. Err is the 2200 answer.
async fn verify(s: &Shared, url: &str, token: &str) -> Result<(), Response> {
    let fail = |why: String| {
        error(
            2200,
            &format!("Callback verification failed with the following errors: {why}"),
            None,
        )
    };
    if url.chars().count() > 200 {
        return Err(error(
            100,
            "Invalid parameter",
            Some("override_callback_uri is longer than 200 characters"),
        ));
    }
    if !url.starts_with("https://") {
        return Err(fail(
            "the callback URL must be HTTPS with a valid certificate".into(),
        ));
    }
    let ca = lock(s).routing.trusted_ca_pem.clone();
    let client = http_client(ca.as_deref()).map_err(fail)?;
    let challenge = format!("{}", 1_000_000_000u64 + lock(s).next_id * 7919);
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{sep}hub.mode=subscribe&hub.challenge={challenge}&hub.verify_token={}",
        url_escape(token)
    );
    match client.get(&full).send().await {
        Err(e) => {
            let mut why = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                why = format!("{why}: {s}");
                src = s.source();
            }
            Err(fail(format!("curl_error = {why}")))
        }
        Ok(r) if r.status() != StatusCode::OK => {
            Err(fail(format!("HTTP Status Code = {}", r.status().as_u16())))
        }
        Ok(r) => {
            let body = r.text().await.unwrap_or_default();
            if body.trim() == challenge {
                Ok(())
            } else {
                Err(fail(format!(
                    "The URL couldn't be validated. Response does not match challenge, expected value=\"{challenge}\", received=\"{}\"",
                    body.chars().take(40).collect::<String>()
                )))
            }
        }
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn success() -> Response {
    Json(json!({"success": true})).into_response()
}

fn not_subscribed() -> Response {
    error(
        100,
        "Before override the current callback uri, your app must be subscribed to receive messages for WhatsApp Business Account",
        None,
    )
}

/// `GET|POST|DELETE /{WABA_ID}/subscribed_apps`.
pub async fn subscribed_apps(s: &Shared, method: &Method, body: &Value) -> Response {
    match *method {
        Method::GET => {
            let st = lock(s);
            let r = &st.routing;
            let data: Vec<Value> = if r.subscribed {
                let mut app = json!({"whatsapp_business_api_data": {"id": r.app_id, "name": r.app_name,
                    "link": format!("https://www.facebook.com/games/?app_id={}", r.app_id)}});
                if let Some(o) = &r.waba_override {
                    app["override_callback_uri"] = json!(o.url);
                }
                vec![app]
            } else {
                vec![]
            };
            Json(json!({ "data": data })).into_response()
        }
        Method::POST => {
            let uri = body["override_callback_uri"].as_str();
            let token = body["verify_token"].as_str();
            match (uri, token) {
                (None, None) => {
                    let mut st = lock(s);
                    st.routing.subscribed = true;
                    st.routing.waba_override = None; // re-subscribing without a body clears it
                    success()
                }
                (Some(u), Some(t)) => {
                    if !lock(s).routing.subscribed {
                        return not_subscribed();
                    }
                    if let Err(r) = verify(s, u, t).await {
                        return r;
                    }
                    lock(s).routing.waba_override = Some(Callback {
                        url: u.into(),
                        verify_token: t.into(),
                    });
                    success()
                }
                _ => error(
                    100,
                    "Invalid parameter",
                    Some("override_callback_uri and verify_token go together"),
                ),
            }
        }
        Method::DELETE => {
            let mut st = lock(s);
            st.routing.subscribed = false;
            st.routing.waba_override = None;
            success()
        }
        _ => error(100, "Unsupported request method", None),
    }
}

/// `GET /{PHONE_NUMBER_ID}?fields=webhook_configuration`.
pub fn webhook_configuration(s: &Shared) -> Response {
    let st = lock(s);
    let r = &st.routing;
    let mut conf = serde_json::Map::new();
    if let Some(o) = &r.phone_override {
        conf.insert("phone_number".into(), json!(o.url));
    }
    if let Some(o) = &r.waba_override {
        conf.insert("whatsapp_business_account".into(), json!(o.url));
    }
    if let Some(a) = &r.app_callback {
        conf.insert("application".into(), json!(a.url));
    }
    Json(json!({"webhook_configuration": conf, "id": st.phone_number_id})).into_response()
}

/// `POST /{PHONE_NUMBER_ID}` with `webhook_configuration`.
pub async fn set_number_override(s: &Shared, body: &Value) -> Response {
    let conf = &body["webhook_configuration"];
    let Some(uri) = conf["override_callback_uri"].as_str() else {
        return error(
            100,
            "Invalid parameter",
            Some("webhook_configuration.override_callback_uri is required"),
        );
    };
    if lock(s).routing.coexistence {
        return error(200, "Permissions error", None);
    }
    if uri.is_empty() {
        lock(s).routing.phone_override = None;
        return success();
    }
    let Some(token) = conf["verify_token"].as_str() else {
        return error(
            100,
            "Invalid parameter",
            Some("webhook_configuration.verify_token is required"),
        );
    };
    if !lock(s).routing.subscribed {
        return not_subscribed();
    }
    if let Err(r) = verify(s, uri, token).await {
        return r;
    }
    lock(s).routing.phone_override = Some(Callback {
        url: uri.into(),
        verify_token: token.into(),
    });
    success()
}

/// `GET|POST|DELETE /{APP_ID}/subscriptions`, with the app access token only.
pub async fn app_subscriptions(
    s: &Shared,
    method: &Method,
    token: Option<&str>,
    params: &[(String, String)],
    body: &Value,
) -> Response {
    let (app_id, app_secret, system_token) = {
        let st = lock(s);
        (
            st.routing.app_id.clone(),
            st.routing.app_secret.clone(),
            st.token.clone(),
        )
    };
    match token {
        None => {
            return error(
                0,
                "An access token is required to request this resource",
                None,
            )
        }
        Some(t) if t == system_token => {
            return error(
                15,
                "This method must be called with an app access_token.",
                None,
            )
        }
        Some(t) if t != format!("{app_id}|{app_secret}") => {
            return error(190, "Invalid OAuth access token signature.", None)
        }
        Some(_) => {}
    }
    // Graph takes parameters in the query, a form or a JSON body.
    let param = |k: &str| -> Option<String> {
        body[k]
            .as_str()
            .map(str::to_string)
            .or_else(|| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    };
    match *method {
        Method::GET => {
            let st = lock(s);
            let data: Vec<Value> = st
                .routing
                .app_callback
                .iter()
                .map(|a| {
                    json!({"object": "whatsapp_business_account", "callback_url": a.url, "active": a.active,
                       "fields": a.fields.iter().map(|f| json!({"name": f, "version": "v25.0"})).collect::<Vec<_>>()})
                })
                .collect();
            Json(json!({ "data": data })).into_response()
        }
        Method::POST => {
            if param("object").as_deref() != Some("whatsapp_business_account") {
                return error(
                    100,
                    "Invalid parameter",
                    Some("object must be whatsapp_business_account"),
                );
            }
            let (Some(url), Some(token)) = (param("callback_url"), param("verify_token")) else {
                return error(
                    100,
                    "Invalid parameter",
                    Some("callback_url and verify_token are required"),
                );
            };
            let fields: Vec<String> = param("fields")
                .unwrap_or_default()
                .split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect();
            if fields.is_empty() {
                return error(100, "Invalid parameter", Some("fields is required"));
            }
            if let Err(r) = verify(s, &url, &token).await {
                return r;
            }
            lock(s).routing.app_callback = Some(AppCallback {
                url,
                verify_token: token,
                fields,
                active: true,
            });
            success()
        }
        Method::DELETE => {
            lock(s).routing.app_callback = None;
            success()
        }
        _ => error(100, "Unsupported request method", None),
    }
}

/// Posts a signed webhook of `field` where Meta would send it now. Where it went (or why not)
/// and the receiver's HTTP status.
pub async fn emit(s: &Shared, field: &str, value: Value) -> Value {
    let (dest, secret, ca, waba) = {
        let st = lock(s);
        (
            st.routing.destination(field).map(str::to_string),
            st.routing.app_secret.clone(),
            st.routing.trusted_ca_pem.clone(),
            st.waba_id.clone(),
        )
    };
    let Some(url) = dest else {
        return json!({"delivered_to": null, "reason": "no callback receives this field"});
    };
    // Test support on a machine with no network: it says where Meta would deliver, and only
    // ever sends to this machine.
    if !is_loopback(&url) {
        return json!({"delivered_to": url, "not_sent": "the fake delivers only to loopback addresses"});
    }
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": waba, "changes": [{"field": field, "value": value}]}]});
    let text = escape_non_ascii(&body.to_string());
    let sent = match http_client(ca.as_deref()) {
        Ok(c) => c
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(&secret, text.as_bytes()))
            .body(text)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match sent {
        Ok(status) => json!({"delivered_to": url, "status": status}),
        Err(e) => json!({"delivered_to": url, "error": e}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_ever_called() {
        assert!(is_loopback("https://127.0.0.1:4433/webhook"));
        assert!(is_loopback("https://localhost/webhook"));
        assert!(is_loopback("https://[::1]:8443/x"));
        assert!(!is_loopback("https://crm.example/whatsapp-hook"));
        assert!(!is_loopback("https://10.0.0.1/x"));
        assert!(!is_loopback("https://127.0.0.1.evil.example/x"));
    }

    #[test]
    fn precedence() {
        let mut r = Routing {
            subscribed: true,
            app_callback: Some(AppCallback {
                url: "https://app".into(),
                verify_token: "t".into(),
                fields: vec!["messages".into(), "user_preferences".into()],
                active: true,
            }),
            ..Routing::default()
        };
        assert_eq!(r.destination("messages"), Some("https://app"));
        r.waba_override = Some(Callback {
            url: "https://waba".into(),
            verify_token: "t".into(),
        });
        assert_eq!(r.destination("messages"), Some("https://waba"));
        r.phone_override = Some(Callback {
            url: "https://phone".into(),
            verify_token: "t".into(),
        });
        assert_eq!(r.destination("messages"), Some("https://phone"));
        assert_eq!(
            r.destination("user_preferences"),
            Some("https://app"),
            "not overridable"
        );
        assert_eq!(
            r.destination("account_update"),
            None,
            "the app is not subscribed to it"
        );
        r.subscribed = false;
        assert_eq!(
            r.destination("messages"),
            None,
            "no webhook flows without the subscription"
        );
    }
}
