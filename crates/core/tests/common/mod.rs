#![allow(dead_code)]

use optdesk_core::consent::{self, Change, Outcome};
use optdesk_core::{contacts, ConsentState, SourceKind, Store, Topic};

pub struct Db {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

/// The key every test database here is encrypted with.
pub fn key() -> optdesk_core::store::DbKey {
    optdesk_core::store::DbKey::parse(&"c0".repeat(32)).unwrap()
}

pub fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("optdesk.sqlite3"), &key()).unwrap();
    Db { dir, store }
}

impl Db {
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("optdesk.sqlite3")
    }

    pub fn add(&mut self, phone: &str) {
        contacts::add(&mut self.store, phone, "", &[]).unwrap();
    }

    pub fn set(&mut self, phone: &str, topic: Topic, state: ConsentState) -> Outcome {
        consent::set(
            &mut self.store,
            &Change {
                phone: phone.into(),
                topic,
                state,
                source_kind: SourceKind::InStore,
                source_detail: Some("at the till".into()),
                proof: Some("Yes, send me offers from Bakery Sol".into()),
                actor: "test".into(),
                occurred_at: None,
            },
        )
        .unwrap()
    }

    /// Runs raw SQL the way someone editing the file with the sqlite3 tool would.
    pub fn raw(&self, sql: &str) {
        let c = optdesk_core::store::connect(&self.path(), &key()).unwrap();
        c.execute_batch(sql).unwrap();
    }
}
