//! Message templates: the synced list, sync, and the editor's live check.

use optdesk_core::settings;
use optdesk_core::templates::{self, FooterRule, StoredTemplate, SyncReport, Violation};
use serde::Serialize;
use serde_json::Value;
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn templates_list(desk: State<'_, Desk>) -> AppResult<Vec<StoredTemplate>> {
    Ok(templates::list(&*desk.core.store())?)
}

#[tauri::command]
pub async fn templates_sync(desk: State<'_, Desk>) -> AppResult<SyncReport> {
    let client = desk.core.client()?;
    let remote = client.list_templates().await?;
    Ok(templates::sync(&mut desk.core.store(), &remote)?)
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct Checked {
    /// Every rule the draft breaks, each with where it applies.
    pub violations: Vec<Violation>,
    /// The template as it would be submitted: with OptDesk's footer on a marketing template.
    pub template: Value,
    pub footer: Option<FooterRule>,
}

/// Validates a draft exactly as submission would, and applies the footer rule.
#[tauri::command]
pub async fn template_check(desk: State<'_, Desk>, draft: Value) -> AppResult<Checked> {
    let footer_text = settings::get(&*desk.core.store(), "footer_text")?.unwrap_or_default();
    let mut template = draft;
    let mut violations = templates::validate(&template);
    let footer = match templates::apply_footer_rule(&mut template, &footer_text) {
        Ok(rule) => Some(rule),
        Err(v) => {
            violations.push(v);
            None
        }
    };
    Ok(Checked {
        violations,
        template,
        footer,
    })
}
