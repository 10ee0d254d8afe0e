//! Opt-outs, the review queue, and the weekly trend.

use optdesk_core::optouts::{self, OptOut, ReviewItem, Week};
use tauri::State;

use crate::{AppResult, Desk};

#[tauri::command]
pub async fn optouts_list(desk: State<'_, Desk>) -> AppResult<Vec<OptOut>> {
    Ok(optouts::list(&desk.core.store(), None)?)
}

#[tauri::command]
pub async fn review_list(desk: State<'_, Desk>) -> AppResult<Vec<ReviewItem>> {
    Ok(optouts::review_list(&desk.core.store(), false)?)
}

#[tauri::command]
pub async fn review_decide(desk: State<'_, Desk>, id: i64, accept: bool) -> AppResult<()> {
    let actor = desk.core.actor().to_string();
    Ok(optouts::review_decide(
        &mut desk.core.store(),
        id,
        accept,
        &actor,
    )?)
}

#[tauri::command]
pub async fn consent_trends(desk: State<'_, Desk>, weeks: u32) -> AppResult<Vec<Week>> {
    let weeks = weeks.clamp(1, 104);
    Ok(optouts::weekly(
        &desk.core.store(),
        weeks,
        optdesk_core::time::now(),
    )?)
}
