//! CSV import: look at the file, map its columns, dry-run, then import. The UI reads the file
//! the owner chose and sends its bytes, so the webview needs no file-system access.

use base64::Engine;
use optdesk_core::import::{self, Options, Peek, Report, Stage};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};

use crate::error::{AppError, Kind};
use crate::{AppResult, Desk};

pub(super) fn decode(base64: &str) -> AppResult<Vec<u8>> {
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
pub async fn import_peek(desk: State<'_, Desk>, file_base64: String) -> AppResult<Peek> {
    super::blocking(&desk, move |_| Ok(import::peek(&decode(&file_base64)?)?)).await
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
    stage: Stage,
    /// Rows done so far, of `rows` (0 while the file is first read).
    done: u64,
    rows: u64,
}

/// Runs on a blocking thread (100,000 rows take a few seconds) and reports where it is as
/// `import-progress` events: reading the file, rows written so far, committing.
#[tauri::command]
pub async fn import_run<R: Runtime>(
    app: AppHandle<R>,
    desk: State<'_, Desk>,
    input: ImportInput,
) -> AppResult<Report> {
    let dry_run = input.dry_run;
    super::blocking(&desk, move |core| {
        let bytes = decode(&input.file_base64)?;
        let opts = Options {
            region: None,
            source: input.source.filter(|s| !s.trim().is_empty()),
            dry_run,
            actor: core.actor().to_string(),
            file_name: input.file_name,
            columns: input.columns,
        };
        let mut emit = |stage, done, rows| {
            let _ = app.emit(
                "import-progress",
                ImportProgress {
                    dry_run,
                    stage,
                    done,
                    rows,
                },
            );
        };
        Ok(import::import_bytes_with(
            &mut core.store(),
            &bytes,
            &opts,
            &mut emit,
        )?)
    })
    .await
}
