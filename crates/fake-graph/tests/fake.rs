//! The fake itself: signed status webhooks as Meta sends them, and the binary's control API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use optdesk_fake_graph::{sign, FakeGraph, FakeTemplate, WebhookTarget, PHONE_NUMBER_ID, TOKEN};
use serde_json::{json, Value};

/// Reads one HTTP request from a raw socket: (headers, body).
fn read_request(stream: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    (head, body)
}

#[test]
fn accepted_sends_produce_signed_status_webhooks_with_the_callback_data() {
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", receiver.local_addr().unwrap());
    let fake = FakeGraph::start();
    fake.state()
        .add_template(FakeTemplate::approved("promo", "en", "MARKETING", 0));
    fake.state().webhook = Some(WebhookTarget {
        url,
        app_secret: "s3cret".into(),
        statuses: vec!["sent".into(), "delivered".into(), "read".into()],
    });
    fake.state().fail_131050_async.insert("34612345678".into());

    let http = raw::send_template(&fake.url, "447911123456");
    assert!(http.contains("wamid.FAKE"), "{http}");
    let mut got = Vec::new();
    for _ in 0..3 {
        let (mut stream, _) = receiver.accept().unwrap();
        let (head, body) = read_request(&mut stream);
        let signature = head
            .lines()
            .find_map(|l| l.strip_prefix("x-hub-signature-256: "))
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(
            signature,
            sign("s3cret", &body),
            "signed over the exact bytes"
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        let status = &v["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(status["biz_opaque_callback_data"], "b=1;r=2");
        got.push(status["status"].as_str().unwrap().to_string());
    }
    assert_eq!(got, ["sent", "delivered", "read"]);

    raw::send_template(&fake.url, "34612345678");
    let (mut stream, _) = receiver.accept().unwrap();
    let (_, body) = read_request(&mut stream);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let status = &v["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(
        (
            status["status"].as_str(),
            status["errors"][0]["code"].as_i64()
        ),
        (Some("failed"), Some(131050))
    );
}

/// A tiny client for these tests, so the fake's tests do not depend on OptDesk's client.
mod raw {
    use super::*;

    pub fn send_template(base: &str, to: &str) -> String {
        let body = json!({"messaging_product": "whatsapp", "to": to, "type": "template",
            "biz_opaque_callback_data": "b=1;r=2",
            "template": {"name": "promo", "language": {"code": "en"}}})
        .to_string();
        let addr = base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /v25.0/{PHONE_NUMBER_ID}/messages HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

#[test]
fn the_binary_prints_its_url_and_is_steered_over_http() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-graph"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let addr = base.trim_start_matches("http://");
    let call = |req: String| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let patch = r#"{"token_expired": true}"#;
    let r = call(format!("POST /_fake/state HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{patch}", patch.len()));
    assert!(r.starts_with("HTTP/1.1 204"), "{r}");
    let r = call(format!("GET /v25.0/{PHONE_NUMBER_ID} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n"));
    assert!(
        r.starts_with("HTTP/1.1 401") && r.contains("\"code\":190"),
        "{r}"
    );
    let r = call("GET /_fake/requests HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".into());
    assert!(r.contains(&format!("/v25.0/{PHONE_NUMBER_ID}")), "{r}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Posts a template send with `components` and returns (HTTP status, body).
fn send_with(fake: &FakeGraph, template: &str, components: Value) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v25.0/{PHONE_NUMBER_ID}/messages", fake.url))
        .bearer_auth(TOKEN)
        .json(&json!({"messaging_product": "whatsapp", "to": "447911123456", "type": "template",
                      "template": {"name": template, "language": {"code": "en"}, "components": components}}))
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn named_templates_and_media_headers_are_held_to_what_meta_accepts() {
    let fake = FakeGraph::start();
    let mut named = FakeTemplate::approved("named", "en", "MARKETING", 0);
    named.components = vec![json!({"type": "BODY", "text": "Hi {{first_name}}"})];
    named.parameter_format = Some("NAMED".into());
    fake.state().add_template(named);
    let mut picture = FakeTemplate::approved("picture", "en", "MARKETING", 0);
    picture.components = vec![
        json!({"type": "HEADER", "format": "IMAGE"}),
        json!({"type": "BODY", "text": "Look"}),
    ];
    fake.state().add_template(picture);

    let positional = json!([{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]);
    let (status, body) = send_with(&fake, "named", positional);
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(132000)),
        "{body}"
    );
    let wrong = json!([{"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ana"}]}]);
    assert_eq!(send_with(&fake, "named", wrong).1["error"]["code"], 132000);
    let right = json!([{"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}]}]);
    assert_eq!(send_with(&fake, "named", right).0, 200);

    assert_eq!(
        send_with(&fake, "picture", json!([])).1["error"]["code"],
        132000
    );
    let video =
        json!([{"type": "header", "parameters": [{"type": "video", "video": {"id": "1"}}]}]);
    assert_eq!(
        send_with(&fake, "picture", video).1["error"]["code"],
        132012
    );
    let image =
        json!([{"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]}]);
    assert_eq!(send_with(&fake, "picture", image).0, 200);
}
