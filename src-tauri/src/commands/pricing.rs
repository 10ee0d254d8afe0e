//! The rate card the cost estimate reads: what is loaded, and importing Meta's table.

use optdesk_core::pricing::{self, Card};
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn pricing_card(desk: State<'_, Desk>) -> AppResult<Option<Card>> {
    Ok(pricing::card(&*desk.core.store())?)
}

/// Replaces the rate card with the chosen file (refused whole, by line, if any line is wrong).
#[tauri::command]
pub async fn pricing_import(
    desk: State<'_, Desk>,
    file_base64: String,
    source: String,
    effective: String,
) -> AppResult<Card> {
    let bytes = super::import::decode(&file_base64)?;
    Ok(pricing::import(
        &mut desk.core.store(),
        &bytes,
        &source,
        &effective,
    )?)
}
