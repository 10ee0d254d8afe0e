//! Contacts and consent.

use optdesk_core::consent::{self, Change};
use optdesk_core::contacts::{self, Contact, Filter};
use optdesk_core::rights::{self, Proof};
use optdesk_core::{ConsentState, SourceKind, Topic};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::{AppResult, Desk};

/// One table row, compact: 100,000 of them cross IPC when the Contacts screen opens.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Serialize)]
pub struct Row {
    pub phone: String,
    pub name: String,
    pub tags: Vec<String>,
    pub marketing: Option<ConsentState>,
    pub utility: Option<ConsentState>,
    pub meta_blocked: bool,
    pub updated_at: String,
}

impl From<Contact> for Row {
    fn from(c: Contact) -> Row {
        Row {
            phone: c.phone,
            name: c.name,
            tags: c.tags,
            marketing: c.marketing,
            utility: c.utility,
            meta_blocked: c.meta_blocked,
            updated_at: c.updated_at,
        }
    }
}

#[tauri::command]
pub async fn contacts_list(desk: State<'_, Desk>) -> AppResult<Vec<Row>> {
    let all = contacts::list(desk.core.store().conn(), &Filter::default())?;
    Ok(all.into_iter().map(Row::from).collect())
}

#[tauri::command]
pub async fn contact_detail(desk: State<'_, Desk>, phone: String) -> AppResult<Proof> {
    let e164 = desk.core.phone(&phone)?;
    Ok(rights::proof(&desk.core.store(), &e164)?)
}

#[tauri::command]
pub async fn contact_add(
    desk: State<'_, Desk>,
    phone: String,
    name: String,
    tags: Vec<String>,
) -> AppResult<Row> {
    let e164 = desk.core.phone(&phone)?;
    Ok(contacts::add(&mut desk.core.store(), &e164, &name, &tags)?.into())
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentInput {
    pub phone: String,
    pub topic: Topic,
    pub state: ConsentState,
    pub source_kind: SourceKind,
    pub source_detail: Option<String>,
    pub proof: Option<String>,
}

/// Records the owner's change in the ledger and returns the row as it now stands.
#[tauri::command]
pub async fn consent_set(desk: State<'_, Desk>, input: ConsentInput) -> AppResult<Row> {
    let e164 = desk.core.phone(&input.phone)?;
    let clean = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut store = desk.core.store();
    consent::set(
        &mut store,
        &Change {
            phone: e164.clone(),
            topic: input.topic,
            state: input.state,
            source_kind: input.source_kind,
            source_detail: clean(input.source_detail),
            proof: clean(input.proof),
            actor: desk.core.actor().to_string(),
            occurred_at: None,
        },
    )?;
    Ok(contacts::require(store.conn(), &e164)?.into())
}
