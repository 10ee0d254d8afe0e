//! Message templates: the synced list, sync, and the editor's live check.

use optdesk_core::settings;
use optdesk_core::templates::{self, FooterRule, StoredTemplate, SyncReport, Violation};
use serde::Serialize;
use serde_json::Value;
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn templates_list(desk: State<'_, Desk>) -> AppResult<Vec<StoredTemplate>> {
    super::blocking(&desk, move |core| Ok(templates::list(&*core.store())?)).await
}

#[tauri::command]
pub async fn templates_sync(desk: State<'_, Desk>) -> AppResult<SyncReport> {
    let client = super::blocking(&desk, |core| Ok(core.client()?)).await?;
    let remote = client.list_templates().await?;
    super::blocking(&desk, move |core| {
        Ok(templates::sync(&mut core.store(), &remote)?)
    })
    .await
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct Checked {
    /// Every rule the draft breaks, each with where it applies.
    pub violations: Vec<Violation>,
    /// The template as it would be submitted: with OptDesk's footer on a marketing template.
    pub template: Value,
    pub footer: Option<FooterRule>,
    /// Meta's limits on the texts, for the editor's counters.
    pub limits: templates::Limits,
}

/// Validates a draft exactly as submission would, and applies the footer rule.
#[tauri::command]
pub async fn template_check(desk: State<'_, Desk>, draft: Value) -> AppResult<Checked> {
    super::blocking(&desk, move |core| {
        let footer_text = settings::get(&*core.store(), "footer_text")?.unwrap_or_default();
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
            limits: templates::LIMITS,
        })
    })
    .await
}
