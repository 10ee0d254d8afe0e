//! Webhooks from Meta: the signature check, the inbox every verified body is written to before
//! its 200, and the processing that turns bodies into ledger events, review items and replies.

pub(crate) mod inbox;
mod messages;
mod numbers;
pub mod payload;
mod preferences;
pub mod process;
pub mod sender;
mod signups;
mod statuses;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::Secret;

pub use inbox::{
    inbox_contains, last_event_at, last_inbox_id, pulled_applied, store_in_inbox, store_pulled,
};
pub(crate) use messages::erase_from;
pub(crate) use statuses::erase_recipient;

/// Bodies larger than this are refused (Meta's payloads are at most 3 MB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(app secret, the exact raw
/// bytes received), in constant time. Meta signs the body with non-ASCII escaped as `\uXXXX`,
/// which is what arrives, so hashing the bytes as they came is right: never re-serialised JSON.
pub fn signature_valid(app_secret: &Secret, header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `sha256=<hex>` of HMAC-SHA256(app secret, body): what Meta puts in `X-Hub-Signature-256`.
pub fn sign(app_secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes())
        .expect("HMAC takes a key of any length"); // start-up invariant
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let secret = Secret::new("app-secret");
        let body = br#"{"text":"stop \ud83d\ude4f"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_valid(&secret, Some(&good), body));
        assert!(!signature_valid(
            &secret,
            Some(&good),
            br#"{"text":"stop"}"#
        ));
        assert!(!signature_valid(&Secret::new("other"), Some(&good), body));
        assert!(!signature_valid(&secret, None, body));
        assert!(!signature_valid(&secret, Some("sha256=zz"), body));
        assert!(!signature_valid(
            &secret,
            Some(&good.replace("sha256=", "sha1=")),
            body
        ));
    }
}
