//! The real `optdesk serve` on 127.0.0.1 with the fake Graph API taking its replies: the
//! harness the receiver suites share. Bodies are posted as Meta posts them, signed over the
//! exact bytes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use optdesk_fake_graph::{escape_non_ascii, sign, FakeGraph, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::{json, Value};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY: &str = "test-verify-token";
pub const ANA: &str = "447911123456";
pub const BEN: &str = "447911123457";

pub struct Env {
    pub cli: super::Cli,
    pub fake: FakeGraph,
    pub port: u16,
    pub server: Option<Child>,
}

impl std::ops::Deref for Env {
    type Target = super::Cli;
    fn deref(&self) -> &super::Cli {
        &self.cli
    }
}

impl Env {
    pub fn new() -> Env {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fake = FakeGraph::start();
        let cli = super::Cli::new()
            .with_env("OPTDESK_GRAPH_URL", &fake.url)
            .with_env("OPTDESK_ACCESS_TOKEN", TOKEN)
            .with_env("OPTDESK_APP_SECRET", APP_SECRET)
            .with_env("OPTDESK_VERIFY_TOKEN", VERIFY);
        let env = Env {
            cli,
            fake,
            port,
            server: None,
        };
        for (k, v) in [
            ("phone_number_id", PHONE_NUMBER_ID),
            ("waba_id", WABA_ID),
            ("business_name", "Bakery Sol"),
        ] {
            env.ok(&["config", "set", k, v]);
        }
        let csv = env.file("c.csv", format!("phone,name,marketing,utility,consent_source\n+{ANA},Ana,yes,yes,fair\n+{BEN},Ben,yes,yes,fair\n").as_bytes());
        env.ok(&["contacts", "import", csv.to_str().unwrap()]);
        env
    }

    pub fn start(&mut self) {
        let child = self
            .cmd(&["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "the receiver did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.server.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    /// Raw HTTP, so the test controls every byte: (status, body).
    pub fn http(&self, request: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        // The server may answer (413) and close before a huge body is all written.
        let _ = s.write_all(body);
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (
            status,
            out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
        )
    }

    pub fn post_raw(&self, body: &[u8], signature: Option<&str>) -> u16 {
        let sig = signature
            .map(|s| format!("x-hub-signature-256: {s}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{sig}content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        self.http(&req, body).0
    }

    /// Posts a body the way Meta does: non-ASCII escaped, signed over the exact bytes.
    pub fn post(&self, v: &Value) -> u16 {
        let body = escape_non_ascii(&v.to_string());
        self.post_raw(body.as_bytes(), Some(&sign(APP_SECRET, body.as_bytes())))
    }

    /// The contact, or `None` when there is none with that number.
    pub fn run_ok_contact(&self, wa: &str) -> Option<Value> {
        let o = self
            .cmd(&["contacts", "show", &format!("+{wa}"), "--json"])
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| serde_json::from_slice(&o.stdout).unwrap())
    }

    pub fn contact(&self, wa: &str) -> Value {
        self.json(&["contacts", "show", &format!("+{wa}"), "--json"])
    }

    /// Waits until `check` holds (processing is asynchronous, but quick).
    pub fn eventually(&self, what: &str, check: impl Fn(&Env) -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !check(self) {
            assert!(Instant::now() < until, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn messages(msgs: Value, contacts: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": contacts, "messages": msgs}}]}]})
}

pub fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

pub fn text(from: &str, id: &str, body: &str) -> Value {
    messages(
        json!([{"from": from, "id": id, "timestamp": now(), "type": "text", "text": {"body": body}}]),
        json!([{"profile": {"name": "Someone"}, "wa_id": from}]),
    )
}

pub fn statuses(list: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                  "statuses": list}}]}]})
}

pub fn texts_sent(fake: &FakeGraph) -> Vec<Value> {
    fake.state()
        .sends()
        .into_iter()
        .filter(|r| r.body["type"] == "text")
        .map(|r| r.body.clone())
        .collect()
}
