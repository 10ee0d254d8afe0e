//! A shop for the planning tests: a database with settings, contacts opted in, a marketing
//! template synced from the fake Graph API, and a client for it.
#![allow(dead_code)]

use std::sync::Arc;

use optdesk_core::broadcast::{self, NewBroadcast};
use optdesk_core::consent::{self, Change};
use optdesk_core::secrets::Secret;
use optdesk_core::store::{Database, Store};
use optdesk_core::time::{self, Timestamp};
use optdesk_core::whatsapp::{Client, GraphConfig, Template};
use optdesk_core::{settings, templates, ConsentState, SourceKind, Topic};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};

pub fn at(s: &str) -> Timestamp {
    time::from_db(s).unwrap()
}

pub fn opt(store: &mut Store, phone: &str, state: ConsentState, kind: SourceKind, when: Timestamp) {
    consent::set(
        store,
        &Change {
            phone: phone.into(),
            topic: Topic::Marketing,
            state,
            source_kind: kind,
            source_detail: Some("test".into()),
            proof: Some("Yes, send me offers".into()),
            actor: "test".into(),
            occurred_at: Some(when),
        },
    )
    .unwrap();
}

pub struct Shop {
    pub _dir: tempfile::TempDir,
    pub db: Database,
    pub store: Store,
    pub fake: FakeGraph,
    pub client: Arc<Client>,
}

pub fn shop(phones: &[&str]) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::new(
        dir.path().join("db"),
        optdesk_core::store::DbKey::generate().unwrap(),
    );
    let mut store = db.open().unwrap();
    for (k, v) in [
        ("frequency_cap_hours", "0"),
        ("timezone", "Europe/Madrid"),
        ("quiet_hours", "21:00-08:00"),
    ] {
        settings::set(store.conn(), k, v).unwrap();
    }
    let fake = FakeGraph::start();
    let t = FakeTemplate::approved("promo", "en_GB", "MARKETING", 0);
    fake.state().add_template(t.clone());
    templates::sync(
        &mut store,
        &[Template {
            id: "1".into(),
            name: t.name,
            language: t.language,
            status: t.status,
            category: t.category,
            components: t.components,
            parameter_format: None,
            quality_score: None,
            rejected_reason: None,
        }],
    )
    .unwrap();
    for p in phones {
        optdesk_core::contacts::add(&mut store, p, "", &[]).unwrap();
        opt(
            &mut store,
            p,
            ConsentState::OptedIn,
            SourceKind::InStore,
            at("2026-01-01T10:00:00Z"),
        );
    }
    let cfg = GraphConfig {
        base_url: fake.url.clone(),
        version: "v25.0".into(),
        phone_number_id: Some(PHONE_NUMBER_ID.into()),
        waba_id: Some(WABA_ID.into()),
    };
    let client = Arc::new(Client::new(cfg, Secret::new(TOKEN)).unwrap());
    Shop {
        _dir: dir,
        db,
        store,
        fake,
        client,
    }
}

pub fn create(store: &mut Store) -> i64 {
    broadcast::create(
        store,
        &NewBroadcast {
            name: None,
            template: "promo".into(),
            language: "en_GB".into(),
            params: Default::default(),
            slots: Default::default(),
            tags: vec![],
            override_reason: None,
        },
    )
    .unwrap()
}

/// Recipient rows as a finished broadcast has them: delivered at the given times.
pub fn delivered(store: &Store, id: i64, rows: &[(&str, &str)]) {
    for (phone, when) in rows {
        store
            .conn()
            .execute(
                "INSERT INTO broadcast_recipients (broadcast_id, contact_id, state, delivery_status, delivered_at, attempts, updated_at)
                 SELECT ?1, id, 'sent', 'delivered', ?2, 1, ?2 FROM contacts WHERE phone = ?3",
                rusqlite::params![id, when, phone],
            )
            .unwrap();
    }
}
