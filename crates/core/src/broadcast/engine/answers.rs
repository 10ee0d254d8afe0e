//! What Meta answered each send, recorded in one transaction per batch: the recipient's state,
//! Meta's flags on the contact (131050, 131026), and the pauses an account-wide error asks for.

use crate::model::RecipientState;
use rusqlite::params;

use super::{Result2, Stop};
use crate::broadcast::pauses::{NewPause, PauseKind};
use crate::error::Result;
use crate::ledger::{self, NewEvent};
use crate::model::{Category, ContactId, EventState, SourceKind, Subject};
use crate::store::Store;
use crate::time;
use crate::whatsapp::{ClientError, ErrorClass};

fn flag(
    tx: &crate::store::Tx<'_>,
    cid: ContactId,
    subject: Subject,
    detail: &str,
    proof: Option<&str>,
    wamid: &str,
) -> Result<()> {
    let (phone, set): (String, bool) = tx.query_row(
        &format!(
            "SELECT phone, {} FROM contacts WHERE id = ?1",
            if subject == Subject::MetaBlocked {
                "meta_blocked"
            } else {
                "unreachable"
            }
        ),
        [cid.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !set {
        ledger::record(
            tx,
            &NewEvent {
                contact: cid,
                phone: &phone,
                subject,
                state: EventState::Set,
                source_kind: SourceKind::MetaSignal,
                source_detail: Some(detail),
                proof,
                evidence_ref: Some(wamid),
                actor: "broadcast",
                occurred_at: time::now(),
            },
        )?;
    }
    Ok(())
}

/// Records what Meta answered, in one transaction. Returns whether to slow down.
pub(super) fn apply(
    store: &mut Store,
    id: i64,
    category: Category,
    pending: &mut Vec<Result2>,
    stopped: &mut Option<Stop>,
) -> Result<bool> {
    let results = std::mem::take(pending);
    store.with_tx(|tx| {
        let now_db = time::to_db(&time::now());
        let mut slower = false;
        let set = |state: RecipientState, reason: Option<&str>, code: Option<i64>, wamid: Option<&str>, cid: ContactId| -> Result<()> {
            tx.prepare_cached("UPDATE broadcast_recipients SET state = ?1, reason = ?2, error_code = ?3, wamid = coalesce(?4, wamid), updated_at = ?5 WHERE broadcast_id = ?6 AND contact_id = ?7")?
                .execute(params![state, reason, code, wamid, now_db, id, cid.0])?;
            Ok(())
        };
        for (cid, r) in results {
            match r {
                Ok(sent) => {
                    // A status webhook may already have been here (with a failure reason): keep it.
                    tx.prepare_cached("UPDATE broadcast_recipients SET state = ?5, wamid = coalesce(wamid, ?1), updated_at = ?2 WHERE broadcast_id = ?3 AND contact_id = ?4")?
                        .execute(params![sent.message_id, now_db, id, cid.0, RecipientState::Sent])?;
                    crate::contacts::sent_to(tx, cid, sent.wa_id.as_deref(), category == Category::Marketing, &now_db)?;
                }
                Err(e @ ClientError::Network { .. }) => set(RecipientState::Unknown, Some(&e.to_string()), None, None, cid)?,
                Err(ClientError::Graph { error, .. }) => {
                    let code = Some(error.code);
                    let attempts: i64 = tx.query_row("SELECT attempts FROM broadcast_recipients WHERE broadcast_id = ?1 AND contact_id = ?2", params![id, cid.0], |r| r.get(0))?;
                    let requeue = |why: &str| set(RecipientState::Queued, Some(why), code, None, cid);
                    match error.class() {
                        ErrorClass::Consent => {
                            set(RecipientState::Blocked, Some("stopped marketing in WhatsApp (131050)"), code, None, cid)?;
                            flag(tx, cid, Subject::MetaBlocked, "131050: the person stopped marketing messages in WhatsApp", error.details(), &format!("broadcast {id}"))?;
                        }
                        ErrorClass::RateLimited => {
                            slower = true;
                            if attempts >= 5 { set(RecipientState::Failed, Some("WhatsApp kept rate-limiting this send"), code, None, cid)?; } else { requeue("rate limited; retried more slowly")?; }
                        }
                        ErrorClass::Transient => {
                            if attempts >= 3 { set(RecipientState::Failed, Some(error.class().advice()), code, None, cid)?; } else { requeue("temporary WhatsApp error; retrying")?; }
                        }
                        ErrorClass::Recipient => {
                            set(RecipientState::Failed, Some(error.class().advice()), code, None, cid)?;
                            if error.code == 131026 {
                                flag(tx, cid, Subject::Unreachable, "131026: WhatsApp could not deliver to this number", error.details(), &format!("broadcast {id}"))?;
                            }
                        }
                        ErrorClass::HeldByMeta => {
                            set(RecipientState::Failed, Some(&format!("{} (code {})", error.class().advice(), error.code)), code, None, cid)?;
                            let until = time::to_db(&(time::now() + chrono::Duration::hours(24)));
                            crate::contacts::hold_back(tx, cid, error.code, &until)?;
                        }
                        ErrorClass::NeedsTemplate | ErrorClass::BadRequest => {
                            set(RecipientState::Failed, Some(&format!("{} (code {})", error.class().advice(), error.code)), code, None, cid)?;
                        }
                        ErrorClass::Auth | ErrorClass::Permission | ErrorClass::Template | ErrorClass::SpamLimit | ErrorClass::Account => {
                            requeue("not sent: the broadcast was paused")?;
                            let why = ClientError::Graph { status: 0, error: error.clone() }.to_string();
                            let kind = if error.class() == ErrorClass::Template { PauseKind::Template } else { PauseKind::Account };
                            stopped.get_or_insert(Stop::Pause(NewPause::new(kind, why.replace(", HTTP 0", ""))));
                        }
                    }
                }
                Err(e) => {
                    set(RecipientState::Queued, Some("not sent: the broadcast was paused"), None, None, cid)?;
                    stopped.get_or_insert(Stop::Pause(NewPause::new(PauseKind::Account, e.to_string())));
                }
            }
        }
        Ok(slower)
    })
}
