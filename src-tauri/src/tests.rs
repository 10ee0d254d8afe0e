//! The commands through Tauri's mock runtime: registered under the names the UI calls, and
//! every error reaching the UI as `{kind, message}`.

use std::sync::Arc;

use optdesk_core::secrets::MemoryStore;
use optdesk_core::store::{Database, DbKey};
use optdesk_core::Core;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::Manager;
use tauri::WebviewWindow;

struct App {
    _dir: tempfile::TempDir,
    _app: tauri::App<tauri::test::MockRuntime>,
    webview: WebviewWindow<tauri::test::MockRuntime>,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::new(
        dir.path().join("optdesk.sqlite3"),
        DbKey::generate().unwrap(),
    );
    let core = Core::open(db, Arc::new(MemoryStore::default()), "test").unwrap();
    let app = crate::builder(mock_builder(), crate::Desk::new(core))
        // The real configuration and capabilities: a command missing from
        // capabilities/main.json is refused here as it would be in the app.
        .build(tauri::generate_context!("../tauri.conf.json"))
        .unwrap();
    let webview = match app.get_webview_window("main") {
        Some(w) => w,
        None => tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap(),
    };
    App {
        _dir: dir,
        _app: app,
        webview,
    }
}

impl App {
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        tauri::test::get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                // Where the bundled UI is served from on Linux: the capability allows it.
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }
}

#[test]
fn every_allow_listed_command_is_registered() {
    let app = app();
    let build = include_str!("../build.rs");
    let list = build
        .split("const COMMANDS: &[&str] = &[")
        .nth(1)
        .and_then(|s| s.split("];").next())
        .unwrap();
    let names: Vec<&str> = list
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(names.len(), 39);
    for name in names {
        // Missing arguments are fine (the command was found and refused them); an unknown or
        // refused command is not.
        if let Err(e) = app.call(name, json!({})) {
            let text = e.to_string();
            assert!(
                e.get("kind").is_some() || text.contains("missing required key"),
                "{name}: {text}"
            );
        }
    }
}

#[test]
fn a_contact_is_added_and_its_consent_recorded() {
    let app = app();
    app.call(
        "settings_set",
        json!({"name": "default_region", "value": "gb"}),
    )
    .unwrap();
    let row = app
        .call(
            "contact_add",
            json!({"phone": "07911 123456", "name": "Ana", "tags": ["vip"]}),
        )
        .unwrap();
    assert_eq!(row["phone"], "+447911123456");
    let row = app
        .call(
            "consent_set",
            json!({"input": {"phone": "+447911123456", "topic": "marketing", "state": "opted_in",
                   "sourceKind": "in_store", "sourceDetail": "at the till",
                   "proof": "Yes to offers from Bakery Sol"}}),
        )
        .unwrap();
    assert_eq!(row["marketing"], "opted_in");
    let detail = app
        .call("contact_detail", json!({"phone": "+447911123456"}))
        .unwrap();
    assert_eq!(
        detail["events"][0]["proof"],
        "Yes to offers from Bakery Sol"
    );
    let list = app.call("contacts_list", json!({})).unwrap();
    assert_eq!(list["phone"], json!(["+447911123456"]));
    assert_eq!(list["name"], json!(["Ana"]));
    assert_eq!(list["marketing"], json!([1]), "1 is opted in");
    assert_eq!(list["utility"], json!([0]), "0 is no consent yet");
}

#[test]
fn errors_reach_the_ui_as_kind_and_message() {
    let app = app();
    let e = app
        .call("contact_detail", json!({"phone": "+447911123456"}))
        .unwrap_err();
    assert_eq!(
        e,
        json!({"kind": "not_found", "message": "No contact with the number +447911123456"})
    );

    let e = app
        .call(
            "contact_add",
            json!({"phone": "+44 12", "name": "", "tags": []}),
        )
        .unwrap_err();
    assert_eq!(e["kind"], "invalid");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a valid phone number"),
        "{e}"
    );

    let e = app.call("templates_sync", json!({})).unwrap_err();
    assert_eq!(e["kind"], "not_connected", "{e}");
    assert_eq!(
        e.as_object().unwrap().len(),
        2,
        "only kind and message: {e}"
    );
}

#[test]
fn secrets_go_in_and_never_come_out() {
    let app = app();
    app.call(
        "secret_set",
        json!({"secret": "access_token", "value": "EAAG-secret-token"}),
    )
    .unwrap();
    let status = app.call("secrets_status", json!({})).unwrap();
    assert_eq!(
        status[0],
        json!({"secret": "access_token", "label": "WhatsApp access token", "set": true})
    );
    assert!(!status.to_string().contains("EAAG"));
    let e = app
        .call(
            "secret_set",
            json!({"secret": "database_key", "value": "x"}),
        )
        .unwrap_err();
    assert_eq!(e["kind"], "invalid");
}

/// Commands that touch SQLite, the keyring or files do it through `commands::blocking`, never
/// on the async runtime's workers. These few call the core's async functions, which talk to
/// Meta and write their short bookkeeping between calls themselves.
const TALK_TO_META: &[&str] = &[
    "connection_test",
    "webhook_status",
    "webhook_connect",
    "webhook_disconnect",
];

#[test]
fn commands_do_their_blocking_work_off_the_async_runtime() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let direct = [
        "desk.core.store()",
        "desk.core.secrets()",
        "desk.core.database().open()",
        "desk.core.client()",
        "desk.core.phone(",
        "desk.core.set_secret(",
        "std::fs::",
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        for command in src.split("#[tauri::command]").skip(1) {
            let name = command
                .split("fn ")
                .nth(1)
                .and_then(|r| r.split(['(', '<']).next())
                .unwrap()
                .to_string();
            seen += 1;
            if TALK_TO_META.contains(&name.as_str()) {
                continue;
            }
            let body = command.split("\n}\n").next().unwrap();
            // What runs inside `blocking(…)` (up to its `.await`) is off the runtime.
            let mut outside = String::new();
            for (i, part) in body.split("super::blocking(").enumerate() {
                let rest = if i == 0 {
                    part
                } else {
                    part.split_once(".await").map_or("", |(_, r)| r)
                };
                outside.push_str(rest);
            }
            for d in direct {
                assert!(
                    !outside.contains(d),
                    "{}: `{name}` uses {d} on the async runtime; wrap it in commands::blocking",
                    path.display()
                );
            }
        }
    }
    assert!(seen > 30, "the scan found the commands ({seen})");
}
