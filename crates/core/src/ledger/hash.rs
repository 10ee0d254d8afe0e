//! The ledger's hashes. Two per event:
//!
//! - the **payload hash** covers the personal data (the number at the time, the source's words,
//!   the proof, the evidence reference). Erasure may blank those fields; the hash stays.
//! - the **chain hash** covers the previous event's chain hash, this payload hash and every
//!   metadata field, including the event's own id, so editing, deleting or reordering any event
//!   breaks the chain from that point on.
//!
//! Fields are length-prefixed (with a distinct marker for "absent"), so no two different events
//! can encode to the same bytes.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The chain's starting point: what event #1 chains from.
pub const GENESIS: Hash = [0u8; 32];

fn field(h: &mut Sha256, v: Option<&str>) {
    match v {
        Some(s) => {
            h.update((s.len() as u32).to_le_bytes());
            h.update(s.as_bytes());
        }
        None => h.update(u32::MAX.to_le_bytes()),
    }
}

pub struct Payload<'a> {
    pub phone: Option<&'a str>,
    pub source_detail: Option<&'a str>,
    pub proof: Option<&'a str>,
    pub evidence_ref: Option<&'a str>,
}

pub fn payload_hash(p: &Payload<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(b"optdesk-ledger-payload-v1\0");
    for f in [p.phone, p.source_detail, p.proof, p.evidence_ref] {
        field(&mut h, f);
    }
    h.finalize().into()
}

pub struct Meta<'a> {
    pub id: i64,
    pub contact_id: i64,
    pub subject: &'a str,
    pub state: &'a str,
    pub source_kind: &'a str,
    pub actor: &'a str,
    pub occurred_at: &'a str,
    pub recorded_at: &'a str,
}

pub fn chain_hash(prev: &Hash, payload: &Hash, m: &Meta<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(b"optdesk-ledger-chain-v1\0");
    h.update(prev);
    h.update(payload);
    h.update(m.id.to_le_bytes());
    h.update(m.contact_id.to_le_bytes());
    for f in [
        m.subject,
        m.state,
        m.source_kind,
        m.actor,
        m.occurred_at,
        m.recorded_at,
    ] {
        field(&mut h, Some(f));
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let a = Payload {
            phone: Some("+1"),
            source_detail: None,
            proof: Some(""),
            evidence_ref: None,
        };
        let b = Payload {
            phone: Some("+1"),
            source_detail: Some(""),
            proof: None,
            evidence_ref: None,
        };
        assert_ne!(payload_hash(&a), payload_hash(&b));
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let a = Payload {
            phone: Some("+1"),
            source_detail: Some("ab"),
            proof: Some("c"),
            evidence_ref: None,
        };
        let b = Payload {
            phone: Some("+1"),
            source_detail: Some("a"),
            proof: Some("bc"),
            evidence_ref: None,
        };
        assert_ne!(payload_hash(&a), payload_hash(&b));
    }
}
