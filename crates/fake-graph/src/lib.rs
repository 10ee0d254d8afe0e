//! A strict local fake of Meta's Graph API (WhatsApp Cloud API), for OptDesk's tests.
//!
//! It follows `WHATSAPP.md`: it refuses what Meta would refuse (no or wrong token, a missing
//! `messaging_product`, a template that does not exist in that language, is not approved, or gets
//! the wrong number of parameters) with Meta's error codes and body shape; it can be told to fail
//! (an expired token, bursts of 130429, 131050 for given numbers, slow answers); it records every
//! request so a test can assert on exactly what was sent; it posts signed status webhooks
//! (sent, delivered, read, failed) to a receiver URL the way Meta does; and it takes the webhook
//! registration calls (`routing`), verifying each callback over HTTPS that trusts only a test
//! certificate authority (`tls` makes one, and a TLS front that stands in for a tunnel).
//!
//! Rust tests start it in-process ([`FakeGraph::start`]); other suites run the `fake-graph`
//! binary and steer it through `/_fake/…` (see `main.rs`). Test code, not product code.
#![forbid(unsafe_code)]

mod graph;
pub mod routing;
mod template_check;
pub mod tls;
mod webhooks;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use webhooks::{escape_non_ascii, sign};

pub const TOKEN: &str = "fake-graph-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";

/// One request as the fake received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body parsed as JSON (or `null`).
    pub body: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FakeTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub components: Vec<Value>,
    /// POSITIONAL (`{{1}}`, the default) or NAMED (`{{first_name}}`).
    #[serde(default)]
    pub parameter_format: Option<String>,
}

impl FakeTemplate {
    /// An approved template whose body has `body_params` positional variables.
    pub fn approved(name: &str, language: &str, category: &str, body_params: usize) -> Self {
        let vars: Vec<String> = (1..=body_params).map(|i| format!("{{{{{i}}}}}")).collect();
        let text = format!("Hello {} from the shop", vars.join(" and "));
        let mut body = json!({ "type": "BODY", "text": text });
        if body_params > 0 {
            let examples: Vec<String> = (1..=body_params).map(|i| format!("ex{i}")).collect();
            body["example"] = json!({ "body_text": [examples] });
        }
        FakeTemplate {
            id: String::new(),
            name: name.into(),
            language: language.into(),
            status: "APPROVED".into(),
            category: category.into(),
            components: vec![
                body,
                json!({"type": "FOOTER", "text": "Reply STOP to unsubscribe"}),
            ],
            parameter_format: None,
        }
    }
}

/// Where to post status webhooks, and the app secret to sign them with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookTarget {
    pub url: String,
    pub app_secret: String,
    /// Statuses to post after an accepted send, in order (default sent, delivered, read).
    #[serde(default = "default_statuses")]
    pub statuses: Vec<String>,
}

fn default_statuses() -> Vec<String> {
    vec!["sent".into(), "delivered".into(), "read".into()]
}

/// Everything the fake knows and every way it has been told to fail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub token: String,
    /// Every call fails with 190 (session expired).
    pub token_expired: bool,
    pub phone_number_id: String,
    pub waba_id: String,
    pub verified_name: String,
    pub display_phone_number: String,
    pub templates: Vec<FakeTemplate>,
    /// The next this-many sends fail with 130429.
    pub rate_limit_burst: u32,
    /// Sends to these numbers (digits) fail at once with 131050.
    pub reject_131050: HashSet<String>,
    /// Sends to these numbers (digits) fail at once with this code: 131049 (WhatsApp's
    /// per-person marketing limit), 130472 (its experiment group), 131026…
    #[serde(default)]
    pub reject_with: std::collections::HashMap<String, i64>,
    /// Sends to these numbers are accepted, then a failed status with 131050 is posted.
    pub fail_131050_async: HashSet<String>,
    /// Sends to these numbers (digits) are delivered, then the customer replies with this
    /// text (a STOP a moment after reading, as people do), or taps a button: `button:LABEL`.
    #[serde(default)]
    pub reply_after_delivery: std::collections::HashMap<String, String>,
    /// Every answer waits this long.
    pub delay_ms: u64,
    /// Templates created through the API are approved at once (else PENDING).
    pub auto_approve: bool,
    pub webhook: Option<WebhookTarget>,
    pub requests: Vec<Recorded>,
    /// The `to` of every send the fake accepted (200), in order.
    pub accepted: Vec<String>,
    pub next_id: u64,
    /// Where webhooks go, as set through the registration APIs.
    #[serde(default)]
    pub routing: routing::Routing,
}

impl Default for State {
    fn default() -> Self {
        State {
            token: TOKEN.into(),
            token_expired: false,
            phone_number_id: PHONE_NUMBER_ID.into(),
            waba_id: WABA_ID.into(),
            verified_name: "Bakery Sol".into(),
            display_phone_number: "+44 7911 123400".into(),
            templates: Vec::new(),
            rate_limit_burst: 0,
            reject_131050: HashSet::new(),
            fail_131050_async: HashSet::new(),
            reply_after_delivery: Default::default(),
            reject_with: Default::default(),
            delay_ms: 0,
            auto_approve: false,
            webhook: None,
            requests: Vec::new(),
            accepted: Vec::new(),
            next_id: 1,
            routing: routing::Routing::default(),
        }
    }
}

impl State {
    pub fn add_template(&mut self, mut t: FakeTemplate) {
        if t.id.is_empty() {
            t.id = format!("{}", 5_000_000_000u64 + self.next_id);
            self.next_id += 1;
        }
        self.templates.push(t);
    }

    /// The requests that were sends (`POST …/messages`), in order.
    pub fn sends(&self) -> Vec<&Recorded> {
        self.requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .collect()
    }
}

pub type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake on 127.0.0.1.
pub struct FakeGraph {
    /// The base URL to give the client (no version: the client adds it).
    pub url: String,
    state: Shared,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl FakeGraph {
    /// Starts the fake on a free port, on its own runtime thread, so sync and async tests alike
    /// can use it.
    pub fn start() -> FakeGraph {
        Self::start_with(State::default())
    }

    pub fn start_with(state: State) -> FakeGraph {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the fake");
        let state: Shared = Arc::new(Mutex::new(state));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app = graph::router(state.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        FakeGraph {
            url,
            state,
            _runtime: Some(runtime),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Posts a signed webhook of `field` where Meta would route it now (see [`routing`]).
    pub fn emit(&self, field: &str, value: Value) -> Value {
        let state = self.state.clone();
        let field = field.to_string();
        let rt = self
            ._runtime
            .as_ref()
            .expect("an in-process fake has its runtime");
        rt.block_on(async move { routing::emit(&state, &field, value).await })
    }
}

/// Serves the fake on `listener` until the process ends (the binary's main loop).
pub async fn serve(listener: tokio::net::TcpListener, state: State) -> std::io::Result<()> {
    axum::serve(listener, graph::router(Arc::new(Mutex::new(state)))).await
}
