//! CSV import: look at the file, map its columns, dry-run, then import. The UI reads the file
//! the owner chose and sends its bytes, so the webview needs no file-system access.

use base64::Engine;
use optdesk_core::import::{self, Options, Peek, Report};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};

use crate::error::{AppError, Kind};
use crate::{AppResult, Desk};

fn decode(base64: &str) -> AppResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|e| {
            AppError::new(
                Kind::Invalid,
                format!("the file did not arrive intact ({e})"),
            )
        })
}

#[tauri::command]
pub async fn import_peek(file_base64: String) -> AppResult<Peek> {
    Ok(import::peek(&decode(&file_base64)?)?)
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportInput {
    pub file_base64: String,
    pub file_name: String,
    pub columns: Vec<(String, String)>,
    pub source: Option<String>,
    pub dry_run: bool,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    dry_run: bool,
    /// "reading", "writing" or "done".
    stage: &'static str,
    rows: u64,
}

/// Runs on a blocking thread (100,000 rows take about a second) and reports its stages as
/// `import-progress` events.
#[tauri::command]
pub async fn import_run<R: Runtime>(
    app: AppHandle<R>,
    desk: State<'_, Desk>,
    input: ImportInput,
) -> AppResult<Report> {
    let bytes = decode(&input.file_base64)?;
    let rows = import::peek(&bytes).map(|p| p.total_rows).unwrap_or(0);
    let emit = |stage| {
        let _ = app.emit(
            "import-progress",
            ImportProgress {
                dry_run: input.dry_run,
                stage,
                rows,
            },
        );
    };
    emit("reading");
    let core = desk.core.clone();
    let opts = Options {
        region: None,
        source: input.source.filter(|s| !s.trim().is_empty()),
        dry_run: input.dry_run,
        actor: core.actor().to_string(),
        file_name: input.file_name,
        columns: input.columns,
    };
    emit("writing");
    let report = tauri::async_runtime::spawn_blocking(move || {
        import::import_bytes(&mut core.store(), &bytes, &opts)
    })
    .await
    .map_err(|e| {
        AppError::new(
            Kind::Storage,
            format!("the import stopped unexpectedly ({e})"),
        )
    })??;
    emit("done");
    Ok(report)
}
