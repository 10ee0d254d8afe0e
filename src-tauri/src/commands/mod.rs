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
