//! The fake's registration APIs are as strict as Meta's: an override needs the app subscribed
//! first (error 100), the app's own settings take only the app access token (code 15 for the
//! system user's), and a callback that does not echo the challenge over trusted HTTPS is
//! refused with 2200 before anything is set.

use std::io::{Read, Write};
use std::net::TcpListener;

use optdesk_fake_graph::routing::APP_ID;
use optdesk_fake_graph::tls::{TestCa, TlsFront};
use optdesk_fake_graph::{FakeGraph, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::{json, Value};

fn call(
    fake: &FakeGraph,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/v25.0/{path}", fake.url);
    let mut req = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// A plain HTTP server that answers every request with `answer` (a wrong challenge, say).
fn answering(answer: &'static str) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    addr
}

#[test]
fn registration_is_strict() {
    let fake = FakeGraph::start();
    let ca = TestCa::new();
    fake.state().routing.trusted_ca_pem = Some(ca.ca_pem.clone());
    let secret = fake.state().routing.app_secret.clone();
    let app_token = format!("{APP_ID}|{secret}");
    let front = TlsFront::start(&ca, answering("not-the-challenge"), None);
    let url = format!("{}/webhook", front.url);

    // An override before the app is subscribed to the WABA: Meta's error 100.
    let (status, body) = call(
        &fake,
        "POST",
        &format!("{WABA_ID}/subscribed_apps"),
        TOKEN,
        Some(json!({"override_callback_uri": url, "verify_token": "t"})),
    );
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(100)),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("must be subscribed"));
    let (_, body) = call(
        &fake,
        "POST",
        PHONE_NUMBER_ID,
        TOKEN,
        Some(json!({"webhook_configuration": {"override_callback_uri": url, "verify_token": "t"}})),
    );
    assert_eq!(body["error"]["code"], 100, "{body}");

    // The system user's token cannot touch the app's own subscription.
    let (status, body) = call(
        &fake,
        "GET",
        &format!("{APP_ID}/subscriptions"),
        TOKEN,
        None,
    );
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (403, Some(15)),
        "{body}"
    );
    let (_, body) = call(
        &fake,
        "GET",
        &format!("{APP_ID}/subscriptions"),
        &format!("{APP_ID}|wrong"),
        None,
    );
    assert_eq!(body["error"]["code"], 190, "{body}");

    // A callback that answers, but not with the challenge: 2200, and nothing set.
    let (status, body) = call(
        &fake,
        "POST",
        &format!("{APP_ID}/subscriptions"),
        &app_token,
        Some(
            json!({"object": "whatsapp_business_account", "callback_url": url, "verify_token": "t", "fields": "messages"}),
        ),
    );
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(2200)),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not match challenge"),
        "{body}"
    );
    assert!(fake.state().routing.app_callback.is_none());

    // A certificate the verifier does not trust: 2200 too.
    fake.state().routing.trusted_ca_pem = None;
    let (_, body) = call(
        &fake,
        "POST",
        &format!("{APP_ID}/subscriptions"),
        &app_token,
        Some(
            json!({"object": "whatsapp_business_account", "callback_url": url, "verify_token": "t", "fields": "messages"}),
        ),
    );
    assert_eq!(body["error"]["code"], 2200, "{body}");

    // Subscribing (no body) then reading back: the app and no override.
    let (_, body) = call(
        &fake,
        "POST",
        &format!("{WABA_ID}/subscribed_apps"),
        TOKEN,
        None,
    );
    assert_eq!(body["success"], true);
    let (_, body) = call(
        &fake,
        "GET",
        &format!("{WABA_ID}/subscribed_apps"),
        TOKEN,
        None,
    );
    assert_eq!(
        body["data"][0]["whatsapp_business_api_data"]["id"], APP_ID,
        "{body}"
    );
    assert!(body["data"][0].get("override_callback_uri").is_none());
    let (_, body) = call(
        &fake,
        "GET",
        &format!("{PHONE_NUMBER_ID}?fields=webhook_configuration"),
        TOKEN,
        None,
    );
    assert_eq!(
        body["webhook_configuration"],
        json!({}),
        "unset levels are absent: {body}"
    );
    // The coexistence switch refuses the phone override with Meta's permissions error.
    fake.state().routing.coexistence = true;
    let (status, body) = call(
        &fake,
        "POST",
        PHONE_NUMBER_ID,
        TOKEN,
        Some(json!({"webhook_configuration": {"override_callback_uri": url, "verify_token": "t"}})),
    );
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (403, Some(200)),
        "{body}"
    );
}
