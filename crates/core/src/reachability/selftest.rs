//! Testing the public URL from outside, as Meta will call it: the `hub.*` handshake must echo a
//! fresh challenge, and a signed test event must be accepted by this database's receiver (which
//! keeps it and reads nothing into it).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::secrets::Secret;
use crate::store::Store;
use crate::webhook;

/// What each half of the self-test found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SelfTest {
    pub url: String,
    /// None when the handshake echoed the challenge; else what went wrong.
    pub handshake: Option<String>,
    /// None when the signed test event reached this database; else what went wrong.
    pub delivery: Option<String>,
}

impl SelfTest {
    pub fn passed(&self) -> bool {
        self.handshake.is_none() && self.delivery.is_none()
    }

    /// In a sentence, for the owner.
    pub fn summary(&self) -> String {
        match (&self.handshake, &self.delivery) {
            (None, None) => format!(
                "{} answers Meta's handshake and delivers signed events to this OptDesk",
                self.url
            ),
            (Some(h), _) => format!("the handshake through {} failed: {h}", self.url),
            (None, Some(d)) => format!(
                "{} answers the handshake, but a signed test event {d}",
                self.url
            ),
        }
    }
}

/// The HTTP client for calls to public URLs: the OS's certificate store (and `SSL_CERT_FILE`).
pub fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("OptDesk/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the HTTP client: {e}")))
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
}

fn reason(e: &reqwest::Error) -> String {
    let mut why = e.without_url_ref();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        why = format!("{why}: {s}");
        src = s.source();
    }
    if why.contains("certificate") || why.contains("UnknownIssuer") {
        format!("{why} (Meta only calls HTTPS addresses with a certificate from a recognised authority)")
    } else {
        why
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let s = self.to_string();
        match self.url() {
            Some(u) => s
                .replace(&format!(" ({u})"), "")
                .replace(u.as_str(), "the URL"),
            None => s,
        }
    }
}

/// What an HTTP status from the public URL means, for the owner.
pub fn hint(code: u16) -> &'static str {
    match code {
        401 => "the receiver refused the signature: its app secret differs from this one",
        403 => "the receiver refused the verify token: it differs from this one",
        404 => "the URL does not lead to OptDesk's /webhook",
        502..=504 => "the tunnel or proxy is up but the receiver behind it is not running",
        _ => "something between Meta and OptDesk answered instead of the receiver",
    }
}

/// Runs both halves against `<public_url>/webhook`; looks for the test event in `store`
/// (taken `&mut`, so the future can move between threads: a `Store` is not `Sync`).
pub async fn run(
    store: &mut Store,
    public_url: &str,
    app_secret: &Secret,
    verify_token: &Secret,
) -> Result<SelfTest> {
    let url = format!("{}/webhook", public_url.trim_end_matches('/'));
    let client = http()?;
    let challenge = unique();
    let handshake = match client
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", verify_token.expose()),
            ("hub.challenge", challenge.as_str()),
        ])
        .send()
        .await
    {
        Err(e) => Some(format!("could not reach it: {}", reason(&e))),
        Ok(r) if r.status().as_u16() != 200 => {
            let code = r.status().as_u16();
            Some(format!("it answered HTTP {code}: {}", hint(code)))
        }
        Ok(r) => match r.text().await {
            Ok(body) if body.trim() == challenge => None,
            Ok(_) => Some(
                "it answered 200 but did not echo the challenge: it is not OptDesk's receiver"
                    .into(),
            ),
            Err(e) => Some(format!("the answer could not be read: {}", reason(&e))),
        },
    };
    if handshake.is_some() {
        return Ok(SelfTest {
            url,
            handshake,
            delivery: None,
        });
    }
    let nonce = format!("optdesk-test-{}", unique());
    let before = webhook::last_inbox_id(store)?;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"0","changes":[{{"field":"optdesk_test","value":{{"nonce":"{nonce}"}}}}]}}]}}"#
    );
    let sent = client
        .post(&url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            webhook::sign(app_secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
    let delivery = match sent {
        Err(e) => Some(format!("could not be posted: {}", reason(&e))),
        Ok(r) if r.status().as_u16() != 200 => {
            let code = r.status().as_u16();
            Some(format!("got HTTP {code}: {}", hint(code)))
        }
        Ok(_) => {
            let until = Instant::now() + Duration::from_secs(5);
            loop {
                if webhook::inbox_contains(store, before, &nonce)? {
                    break None;
                }
                if Instant::now() > until {
                    break Some("was accepted but is not in this database: the receiver there uses another database (check OPTDESK_DB / --db)".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    Ok(SelfTest {
        url,
        handshake,
        delivery,
    })
}
