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

/// Every contact, column by column: 100,000 rows cross IPC when the Contacts screen opens, and
/// columns spare the field names in each row (a third less JSON to write and parse).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Default, Serialize)]
pub struct Columns {
    pub phone: Vec<String>,
    pub name: Vec<String>,
    pub tags: Vec<Vec<String>>,
    /// 0: no consent yet, 1: opted in, 2: opted out (a digit, not a word, per row).
    pub marketing: Vec<u8>,
    pub utility: Vec<u8>,
    /// 1 when the customer stopped marketing inside WhatsApp.
    pub meta_blocked: Vec<u8>,
    /// To the minute: `2026-11-25T10:04Z`.
    pub updated_at: Vec<String>,
}

fn code(state: Option<ConsentState>) -> u8 {
    match state {
        None => 0,
        Some(ConsentState::OptedIn) => 1,
        Some(ConsentState::OptedOut) => 2,
    }
}

/// The contact list as the Contacts screen takes it, as JSON.
fn contacts_json(core: &optdesk_core::Core) -> AppResult<String> {
    let body = {
        let all = contacts::list(&*core.store(), &Filter::default())?;
        let mut c = Columns::default();
        for r in all {
            c.phone.push(r.phone);
            c.name.push(r.name);
            c.tags.push(r.tags);
            c.marketing.push(code(r.marketing));
            c.utility.push(code(r.utility));
            c.meta_blocked.push(u8::from(r.meta_blocked));
            let mut minute = r.updated_at;
            if minute.len() > 16 {
                minute.truncate(16);
                minute.push('Z');
            }
            c.updated_at.push(minute);
        }
        serde_json::to_string(&c)
            .map_err(|e| crate::AppError::new(crate::Kind::Storage, e.to_string()))?
    };
    // The page cache that list filled is not needed again soon: give it back too.
    core.store().shrink_memory();
    crate::memory::give_back();
    Ok(body)
}

#[tauri::command]
pub async fn contacts_list(desk: State<'_, Desk>) -> AppResult<tauri::ipc::Response> {
    super::blocking(&desk, move |core| {
        let body = contacts_json(core)?;
        // A JSON body (not raw bytes), so the UI receives it parsed.
        Ok(tauri::ipc::Response::new(body))
    })
    .await
}

#[tauri::command]
pub async fn contact_detail(desk: State<'_, Desk>, phone: String) -> AppResult<Proof> {
    super::blocking(&desk, move |core| {
        let e164 = core.phone(&phone)?;
        Ok(rights::proof(&core.store(), &e164)?)
    })
    .await
}

#[tauri::command]
pub async fn contact_add(
    desk: State<'_, Desk>,
    phone: String,
    name: String,
    tags: Vec<String>,
) -> AppResult<Row> {
    super::blocking(&desk, move |core| {
        let e164 = core.phone(&phone)?;
        Ok(contacts::add(&mut core.store(), &e164, &name, &tags)?.into())
    })
    .await
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
    super::blocking(&desk, move |core| {
        let e164 = core.phone(&input.phone)?;
        let clean = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut store = core.store();
        consent::set(
            &mut store,
            &Change {
                phone: e164.clone(),
                topic: input.topic,
                state: input.state,
                source_kind: input.source_kind,
                source_detail: clean(input.source_detail),
                proof: clean(input.proof),
                actor: core.actor().to_string(),
                occurred_at: None,
            },
        )?;
        Ok(contacts::require(&*store, &e164)?.into())
    })
    .await
}

/// Writes the person's proof of consent as a page to read and print (the same as
/// `optdesk contacts proof --html`), beside the database in `proofs/`; returns where.
#[tauri::command]
pub async fn contact_proof_save(desk: State<'_, Desk>, phone: String) -> AppResult<String> {
    super::blocking(&desk, move |core| {
        let e164 = core.phone(&phone)?;
        let proof = rights::proof(&core.store(), &e164)?;
        let folder = core.database().folder("proofs");
        let io = |e: std::io::Error| crate::AppError::new(crate::Kind::Storage, e.to_string());
        std::fs::create_dir_all(&folder).map_err(io)?;
        let file = folder.join(format!(
            "proof-{}-{}.html",
            e164.trim_start_matches('+'),
            optdesk_core::time::now().format("%Y-%m-%d")
        ));
        std::fs::write(&file, rights::proof_html(&proof)).map_err(io)?;
        Ok(file.display().to_string())
    })
    .await
}
