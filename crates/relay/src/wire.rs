//! What the relay and the desktop say to each other, and the sealed form a stored body takes.
//!
//! A stored webhook is sealed (libsodium's sealed box: X25519 + XSalsa20-Poly1305, an ephemeral
//! key per body) to the public key the desktop registered. The plaintext is the signature header
//! Meta sent and the exact bytes of the body, so the desktop can check Meta's signature over
//! exactly what Meta signed. The relay keeps no way to open it.

use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The desktop names itself with this header on every pull (the mailbox's lease).
pub const CONSUMER_HEADER: &str = "x-optdesk-consumer";
/// Every mailbox response carries the newest cursor the mailbox has ever stored.
pub const NEWEST_HEADER: &str = "x-relay-newest";
/// Meta's bodies are at most 3 MB.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// One stored body as the desktop receives it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    /// When it reached the relay (Unix milliseconds).
    pub received_at_ms: i64,
    /// The sealed box, base64 (standard alphabet).
    pub sealed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Events {
    pub newest: i64,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    pub upto: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Newest {
    pub newest: i64,
}

/// The desktop's key and verify token for a mailbox (the token as a SHA-256, hex).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Register {
    pub public_key: String,
    pub verify_token_sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Equal in time whatever the contents.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` random bytes from the OS, hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the OS gives random bytes"); // no OS fails this at run time
    hex::encode(b)
}

/// The desktop's sealing key pair; only the secret half is kept (in the keyring).
pub struct SealKey {
    secret: SecretKey,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the key is not 32 bytes of hex")]
    BadKey,
    #[error("the stored body cannot be opened with this OptDesk's key (sealed to another key, or altered)")]
    CannotOpen,
    #[error("the opened body is not in the relay's format")]
    BadFormat,
}

impl SealKey {
    pub fn generate() -> SealKey {
        SealKey {
            secret: SecretKey::generate(&mut OsRng),
        }
    }

    pub fn from_hex(hex_key: &str) -> Result<SealKey, SealError> {
        let bytes: [u8; 32] = hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SealError::BadKey)?;
        Ok(SealKey {
            secret: SecretKey::from_bytes(bytes),
        })
    }

    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.secret.public_key().as_bytes())
    }

    /// The signature header and the exact body bytes.
    pub fn open(&self, sealed: &[u8]) -> Result<(String, Vec<u8>), SealError> {
        let plain = self
            .secret
            .unseal(sealed)
            .map_err(|_| SealError::CannotOpen)?;
        let (len, rest) = plain.split_first_chunk::<2>().ok_or(SealError::BadFormat)?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(SealError::BadFormat);
        }
        let (sig, body) = rest.split_at(len);
        let sig = String::from_utf8(sig.to_vec()).map_err(|_| SealError::BadFormat)?;
        Ok((sig, body.to_vec()))
    }
}

/// Parses a public key registered by a desktop.
pub fn public_key(hex_key: &str) -> Result<[u8; 32], SealError> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SealError::BadKey)
}

/// Seals a signature header and a body to a desktop's public key.
pub fn seal(public: &[u8; 32], signature: &str, body: &[u8]) -> Vec<u8> {
    let sig = signature.as_bytes();
    let sig = &sig[..sig.len().min(u16::MAX as usize)];
    let mut plain = Vec::with_capacity(2 + sig.len() + body.len());
    plain.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    plain.extend_from_slice(sig);
    plain.extend_from_slice(body);
    PublicKey::from(*public)
        .seal(&mut OsRng, &plain)
        .expect("sealing to a valid key does not fail") // XSalsa20-Poly1305 has no failure for any length we accept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_body_opens_byte_for_byte_and_only_with_its_key() {
        let key = SealKey::generate();
        let public = public_key(&key.public_hex()).unwrap();
        let body = "{\"text\":\"stop 🙏\"}".as_bytes();
        let sealed = seal(&public, "sha256=ab", body);
        assert!(!sealed.windows(4).any(|w| w == b"stop"));
        let (sig, opened) = key.open(&sealed).unwrap();
        assert_eq!((sig.as_str(), opened.as_slice()), ("sha256=ab", body));
        let again = SealKey::from_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public_hex(), key.public_hex());
        assert_eq!(
            SealKey::generate().open(&sealed).unwrap_err(),
            SealError::CannotOpen
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(key.open(&altered).unwrap_err(), SealError::CannotOpen);
        assert_eq!(SealKey::from_hex("zz").err(), Some(SealError::BadKey));
    }
}
