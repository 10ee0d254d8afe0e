//! The commands the UI calls, one module per area. Each is thin: read its arguments, call the
//! core, map the error. Names match `build.rs`'s allow-list and `ui/src/lib/backend.ts`.

mod broadcasts;
mod contacts;
mod import;
mod optouts;
mod pricing;
mod settings;
mod templates;
mod webhooks;

pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        settings::app_status,
        contacts::contacts_list,
        contacts::contact_detail,
        contacts::contact_add,
        contacts::consent_set,
        contacts::contact_proof_save,
        import::import_peek,
        import::import_run,
        templates::templates_list,
        templates::templates_sync,
        templates::template_check,
        broadcasts::broadcasts_list,
        broadcasts::broadcast_create,
        broadcasts::broadcast_preview,
        broadcasts::broadcast_send,
        broadcasts::broadcast_stop,
        broadcasts::broadcast_resolve,
        broadcasts::broadcast_schedule,
        broadcasts::broadcast_results,
        pricing::pricing_card,
        pricing::pricing_import,
        optouts::optouts_list,
        optouts::review_list,
        optouts::review_decide,
        optouts::consent_trends,
        settings::settings_get,
        settings::settings_set,
        settings::secrets_status,
        settings::secret_set,
        settings::connection_test,
        settings::receiver_start,
        settings::receiver_stop,
        settings::audit_run,
        settings::backup_now,
        settings::signup_create,
        settings::signups_list,
        webhooks::webhook_status,
        webhooks::webhook_connect,
        webhooks::webhook_disconnect,
    ]
}

/// Runs `f` with the core on Tauri's pool for blocking work. SQLite, the keyring and files wait
/// on the disk or on D-Bus; on the async runtime's few workers that wait would hold up every
/// other command, the receiver and a running broadcast. Every command that touches them goes
/// through here (`tests.rs` checks that).
pub(crate) async fn blocking<T, F>(desk: &crate::Desk, f: F) -> crate::AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&optdesk_core::Core) -> crate::AppResult<T> + Send + 'static,
{
    let core = desk.core.clone();
    tauri::async_runtime::spawn_blocking(move || f(&core))
        .await
        .map_err(|e| {
            crate::AppError::new(
                crate::Kind::Storage,
                format!("the work stopped before it finished: {e}"),
            )
        })?
}
