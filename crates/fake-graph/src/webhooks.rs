//! Status webhooks, posted and signed the way Meta does: `X-Hub-Signature-256: sha256=<hex>` over
//! the exact bytes, with non-ASCII escaped as `\uXXXX` as in what Meta signs.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::WebhookTarget;

/// `sha256=<hex>` of HMAC-SHA256(app_secret, body).
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// JSON text with every non-ASCII character escaped, as Meta sends it.
pub fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

pub struct StatusEvent {
    pub message_id: String,
    pub recipient: String,
    pub status: String,
    pub callback_data: Option<String>,
    pub error_code: Option<i64>,
}

pub fn status_body(phone_number_id: &str, display: &str, waba_id: &str, e: &StatusEvent) -> Value {
    let mut status = json!({
        "id": e.message_id,
        "status": e.status,
        "timestamp": format!("{}", std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)),
        "recipient_id": e.recipient,
    });
    if let Some(data) = &e.callback_data {
        status["biz_opaque_callback_data"] = json!(data);
    }
    if e.status == "sent" || e.status == "delivered" {
        status["pricing"] = json!({"billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"});
    }
    if let Some(code) = e.error_code {
        status["errors"] = json!([{
            "code": code,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "User has stopped marketing messages",
            "error_data": {"details": "The user has stopped marketing messages from this business."},
        }]);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": display.chars().filter(char::is_ascii_digit).collect::<String>(),
                                 "phone_number_id": phone_number_id},
                    "statuses": [status],
                },
            }],
        }],
    })
}

/// A customer's message: text, or `button:LABEL` for a tap on a template's quick-reply button
/// (Meta's own "Stop promotions" among them).
fn message(from: &str, id: &str, text: &str) -> Value {
    let timestamp = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    match text.strip_prefix("button:") {
        Some(label) => json!({"from": from, "id": id, "timestamp": timestamp, "type": "button",
                              "context": {"from": from, "id": "wamid.CONTEXT"},
                              "button": {"text": label, "payload": label}}),
        None => json!({"from": from, "id": id, "timestamp": timestamp, "type": "text",
                       "text": {"body": text}}),
    }
}

/// A customer's message (see [`message`]), as Meta posts it.
pub fn message_body(
    phone_number_id: &str,
    display: &str,
    waba_id: &str,
    from: &str,
    id: &str,
    text: &str,
) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": display.chars().filter(char::is_ascii_digit).collect::<String>(),
                                 "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
                    "messages": [message(from, id, text)],
                },
            }],
        }],
    })
}

/// Posts each body in order, signed; failures are only logged (Meta retries; the fake doesn't).
pub async fn post_all(target: WebhookTarget, bodies: Vec<Value>) {
    let client = reqwest::Client::new();
    for body in bodies {
        let text = escape_non_ascii(&body.to_string());
        let signature = sign(&target.app_secret, text.as_bytes());
        let sent = client
            .post(&target.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(text)
            .send()
            .await;
        if let Err(e) = sent {
            eprintln!("fake-graph: webhook to {} failed: {e}", target.url);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_meta() {
        assert_eq!(
            escape_non_ascii(r#"{"t":"äöå stop 🙏"}"#),
            r#"{"t":"\u00e4\u00f6\u00e5 stop \ud83d\ude4f"}"#
        );
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
