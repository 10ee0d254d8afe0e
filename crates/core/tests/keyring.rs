//! The keyring adapter against a real Secret Service (gnome-keyring under dbus-run-session, which
//! `scripts/test` starts). Ignored by a bare `cargo test` on a machine without one.

use optdesk_core::secrets::{KeyringStore, Secret, SecretKind, SecretStore};

#[test]
#[ignore = "needs a Secret Service; scripts/test runs it with one"]
fn secrets_round_trip_through_the_secret_service() {
    let store = KeyringStore::with_service(format!("optdesk-test-{}", std::process::id()));
    for kind in SecretKind::ALL {
        assert_eq!(store.get(kind).unwrap(), None, "{kind:?} starts empty");
    }
    store
        .set(SecretKind::AccessToken, &Secret::new("EAAG-token-1"))
        .unwrap();
    store
        .set(SecretKind::AccessToken, &Secret::new("EAAG-token-2"))
        .unwrap();
    store
        .set(SecretKind::AppSecret, &Secret::new("app-secret"))
        .unwrap();
    assert_eq!(
        store.get(SecretKind::AccessToken).unwrap(),
        Some(Secret::new("EAAG-token-2"))
    );
    assert_eq!(
        store.get(SecretKind::AppSecret).unwrap(),
        Some(Secret::new("app-secret"))
    );
    assert_eq!(store.get(SecretKind::VerifyToken).unwrap(), None);
    // A second store (as another process would) sees the same entries.
    let again = KeyringStore::with_service(format!("optdesk-test-{}", std::process::id()));
    assert_eq!(
        again.get(SecretKind::AppSecret).unwrap(),
        Some(Secret::new("app-secret"))
    );
    for kind in SecretKind::ALL {
        store.delete(kind).unwrap();
        assert_eq!(store.get(kind).unwrap(), None);
    }
}
