//! A W3C WebDriver client: just the commands the suite uses, with waits that say what they
//! waited for when they time out.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    http: reqwest::blocking::Client,
    base: String,
    id: String,
}

#[derive(Debug, Clone)]
pub struct Element(pub String);

impl Session {
    pub fn new(driver: &str, capabilities: Value) -> Result<Session, String> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        let resp: Value = http
            .post(format!("{driver}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": capabilities } }))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("new session: {e}"))?;
        let id = resp["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("new session refused: {resp}"))?
            .to_string();
        Ok(Session {
            http,
            base: format!("{driver}/session/{id}"),
            id,
        })
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp: Value = req
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("{path}: {e}"))?;
        if let Some(err) = resp["value"].get("error") {
            return Err(format!("{path}: {err}: {}", resp["value"]["message"]));
        }
        Ok(resp["value"].clone())
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    pub fn find(&self, css: &str) -> Result<Element, String> {
        let v = self.post("/element", json!({"using": "css selector", "value": css}))?;
        Ok(Element(
            v[ELEMENT].as_str().ok_or("no element id")?.to_string(),
        ))
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let v = self.post("/elements", json!({"using": "css selector", "value": css}))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits for an element matching `css`.
    pub fn wait(&self, css: &str, timeout: Duration) -> Result<Element, String> {
        let until = Instant::now() + timeout;
        loop {
            match self.find(css) {
                Ok(e) => return Ok(e),
                Err(e) if Instant::now() > until => {
                    return Err(format!("waited {timeout:?} for {css}: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until the text of `css` satisfies `check`; returns that text.
    pub fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let until = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Ok(e) = self.find(css) {
                if let Ok(t) = self.text(&e) {
                    if check(&t) {
                        return Ok(t);
                    }
                    last = t;
                }
            }
            if Instant::now() > until {
                return Err(format!(
                    "waited {timeout:?} for the text of {css}; last seen: {last:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, e: &Element) -> Result<(), String> {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .map(|_| ())
    }

    pub fn click_css(&self, css: &str) -> Result<(), String> {
        let e = self.wait(css, Duration::from_secs(10))?;
        self.click(&e)
    }

    pub fn type_into(&self, e: &Element, text: &str) -> Result<(), String> {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .map(|_| ())
    }

    pub fn text(&self, e: &Element) -> Result<String, String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", e.0),
            None,
        )
        .map(|v| v.as_str().unwrap_or_default().to_string())
    }

    pub fn script(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    pub fn script_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/async", json!({"script": script, "args": args}))
    }

    /// Sets a `<select>` or `<input>` the way a person would, so Svelte's bindings see it.
    pub fn set_value(&self, css: &str, value: &str) -> Result<(), String> {
        self.wait(css, Duration::from_secs(10))?;
        self.script(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        )
        .map(|_| ())
    }

    /// A PNG of the window. WebKit's screenshot lags the DOM a little (RECIPE.md), so wait first.
    pub fn screenshot(&self, path: &std::path::Path) -> Result<(), String> {
        std::thread::sleep(Duration::from_millis(700));
        let v = self.call(reqwest::Method::GET, "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| e.to_string())
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Session {
    /// Ends the session, which closes the app it started.
    pub fn close(&self) {
        let _ = self.http.delete(&self.base).send();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}
