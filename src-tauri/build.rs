//! Builds the Tauri context from the workspace's `tauri.conf.json` and allow-lists the app's
//! commands: each one also needs its `allow-<command>` permission in `capabilities/main.json`.

/// Every command the UI may call. Keep in step with `commands::handler()`.
const COMMANDS: &[&str] = &[
    "app_status",
    "contacts_list",
    "contact_detail",
    "contact_add",
    "consent_set",
    "contact_proof_save",
    "import_peek",
    "import_run",
    "templates_list",
    "templates_sync",
    "template_check",
    "broadcasts_list",
    "broadcast_create",
    "broadcast_preview",
    "broadcast_send",
    "broadcast_stop",
    "broadcast_resolve",
    "broadcast_schedule",
    "broadcast_results",
    "pricing_card",
    "pricing_import",
    "optouts_list",
    "review_list",
    "review_decide",
    "consent_trends",
    "settings_get",
    "settings_set",
    "secrets_status",
    "secret_set",
    "connection_test",
    "receiver_start",
    "receiver_stop",
    "audit_run",
    "backup_now",
    "signup_create",
    "signups_list",
    "webhook_status",
    "webhook_connect",
    "webhook_disconnect",
];

fn main() {
    // The UI must exist before tauri's context embeds it; an empty placeholder keeps `cargo
    // check` and clippy working on a fresh clone (scripts/app builds the real one first).
    let dist = std::path::Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>OptDesk</title><p>The UI was not built: run scripts/app.</p>",
        )
        .expect("write placeholder");
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .config_path("../tauri.conf.json")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
