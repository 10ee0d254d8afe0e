//! Opt-outs, the review queue, and the weekly trend.

use optdesk_core::optouts::{self, OptOut, ReviewItem, Week};
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn optouts_list(desk: State<'_, Desk>) -> AppResult<Vec<OptOut>> {
    super::blocking(&desk, move |core| Ok(optouts::list(&core.store(), None)?)).await
}

#[tauri::command]
pub async fn review_list(desk: State<'_, Desk>) -> AppResult<Vec<ReviewItem>> {
    super::blocking(&desk, move |core| {
        Ok(optouts::review_list(&core.store(), false)?)
    })
    .await
}

#[tauri::command]
pub async fn review_decide(desk: State<'_, Desk>, id: i64, accept: bool) -> AppResult<()> {
    super::blocking(&desk, move |core| {
        let actor = core.actor().to_string();
        Ok(optouts::review_decide(
            &mut core.store(),
            id,
            accept,
            &actor,
        )?)
    })
    .await
}

#[tauri::command]
pub async fn consent_trends(desk: State<'_, Desk>, weeks: u32) -> AppResult<Vec<Week>> {
    super::blocking(&desk, move |core| {
        let weeks = weeks.clamp(1, 104);
        Ok(optouts::weekly(
            &core.store(),
            weeks,
            optdesk_core::time::now(),
        )?)
    })
    .await
}
