//! The rate card the cost estimate reads: what is loaded, and importing Meta's table.

use optdesk_core::pricing::{self, Card};
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn pricing_card(desk: State<'_, Desk>) -> AppResult<Option<Card>> {
    super::blocking(&desk, move |core| Ok(pricing::card(&*core.store())?)).await
}

/// Replaces the rate card with the chosen file (refused whole, by line, if any line is wrong).
#[tauri::command]
pub async fn pricing_import(
    desk: State<'_, Desk>,
    file_base64: String,
    source: String,
    effective: String,
) -> AppResult<Card> {
    super::blocking(&desk, move |core| {
        let bytes = super::import::decode(&file_base64)?;
        Ok(pricing::import(
            &mut core.store(),
            &bytes,
            &source,
            &effective,
        )?)
    })
    .await
}
