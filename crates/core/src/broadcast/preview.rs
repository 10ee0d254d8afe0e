//! What a broadcast would do if it started now: who receives it, who does not and why, how long
//! it takes, and what to know first.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{get, offline_warning, policy, send_rate};
use crate::error::Result;
use crate::gate::{self, BlockReason, Decision};
use crate::model::{Category, ContactId};
use crate::settings;
use crate::store::Store;
use crate::time;

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub reason: BlockReason,
    pub description: &'static str,
    pub count: usize,
    pub phones: Vec<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub broadcast: i64,
    pub audience: usize,
    pub will_receive: usize,
    pub excluded: usize,
    pub by_reason: Vec<Excluded>,
    pub rate: f64,
    /// Including the brake's wait after the canary.
    pub estimated_seconds: f64,
    pub brake: BrakePreview,
    /// A marketing broadcast started now would meet quiet hours: until when (the app asks
    /// before sending; the CLI needs `--during-quiet-hours`).
    pub quiet_now: Option<String>,
    /// What it will cost, from the imported rate card; `None` when none is loaded.
    pub cost: Option<crate::pricing::Estimate>,
    pub warnings: Vec<String>,
}

/// What the brake will do with this broadcast.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct BrakePreview {
    pub on: bool,
    /// Sent first, before the wait; 0 when the broadcast is watched while it sends.
    pub canary: u64,
    pub wait_seconds: i64,
    pub optout_threshold: f64,
    pub failure_threshold: f64,
    /// Why it is off.
    pub off: Option<String>,
}

fn brake_preview(
    conn: &rusqlite::Connection,
    id: i64,
    marketing: bool,
    audience: u64,
) -> Result<BrakePreview> {
    let off = |why: &str| BrakePreview {
        on: false,
        canary: 0,
        wait_seconds: 0,
        optout_threshold: 0.0,
        failure_threshold: 0.0,
        off: Some(why.to_string()),
    };
    if !marketing {
        return Ok(off("only marketing broadcasts are braked"));
    }
    let (brake, canary) = match super::brake::stored(conn, id)? {
        Some(super::brake::Stored::Off { off: why }) => return Ok(off(&why)),
        Some(super::brake::Stored::On { canary, brake }) => (brake, canary),
        None => match super::plan::Plan::load(conn)?.brake {
            None => return Ok(off("the brake setting is off")),
            Some(b) => {
                let c = b.canary_size(audience);
                (b, c)
            }
        },
    };
    Ok(BrakePreview {
        on: true,
        canary,
        wait_seconds: if canary > 0 { brake.wait_seconds } else { 0 },
        optout_threshold: brake.optout_threshold,
        failure_threshold: brake.failure_threshold,
        off: None,
    })
}

/// Who would receive the broadcast now, and who would not and why.
pub fn preview(store: &Store, id: i64) -> Result<Preview> {
    let conn = store.conn();
    let b = get(conn, id)?;
    let decisions = gate::decide_all(
        conn,
        b.gate_category(),
        time::now(),
        &policy(conn)?,
        &b.tags,
    )?;
    let phones: std::collections::HashMap<ContactId, String> = conn
        .prepare("SELECT id, phone FROM contacts")?
        .query_map([], |r| Ok((ContactId(r.get(0)?), r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut groups: BTreeMap<BlockReason, Vec<String>> = BTreeMap::new();
    let mut allowed = 0;
    let mut us = 0;
    for (cid, d) in &decisions {
        match d {
            Decision::Allowed => {
                allowed += 1;
                if phones.get(cid).is_some_and(|p| {
                    p.starts_with("+1") && crate::phone::region_of(p).as_deref() == Some("US")
                }) {
                    us += 1;
                }
            }
            Decision::Blocked(r) => groups
                .entry(*r)
                .or_default()
                .push(phones.get(cid).cloned().unwrap_or_default()),
        }
    }
    let allowed_phones = decisions
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Allowed))
        .filter_map(|(cid, _)| phones.get(cid).map(String::as_str));
    let cost = crate::pricing::estimate(conn, &b.category, allowed_phones)?;
    let rate = send_rate(conn)?;
    let mut warnings = Vec::new();
    if b.gate_category() == Category::Marketing && us > 0 {
        warnings.push(format!(
            "{us} recipient(s) have US numbers and hold_us_marketing is off: WhatsApp has not been delivering marketing templates to US numbers (error 131049), and may charge for them"
        ));
    }
    if let Some(limit) = settings::get(conn, "messaging_limit")?.and_then(|l| tier_limit(&l)) {
        if allowed as u64 > limit {
            warnings.push(format!(
                "{allowed} recipients is more than this number's messaging limit ({limit} people in 24 hours): the rest will not be delivered"
            ));
        }
    }
    if let Some(r) = &b.override_reason {
        warnings.push(format!(
            "this marketing template gives no way to opt out; sent anyway because: {r}"
        ));
    }
    warnings.extend(offline_warning(conn)?);
    let by_reason: Vec<Excluded> = groups
        .into_iter()
        .map(|(reason, mut phones)| {
            phones.sort();
            Excluded {
                reason,
                description: reason.describe(),
                count: phones.len(),
                phones,
            }
        })
        .collect();
    let brake = brake_preview(
        conn,
        id,
        b.gate_category() == Category::Marketing,
        decisions.len() as u64,
    )?;
    let plan = super::plan::Plan::load(conn)?;
    let overridden: Option<String> = conn.query_row(
        "SELECT quiet_hours_override FROM broadcasts WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let quiet_now = (b.gate_category() == Category::Marketing && overridden.is_none())
        .then(|| plan.quiet_until(&time::now()))
        .flatten()
        .map(|until| {
            format!(
                "it is quiet hours ({} in {}) until {}",
                plan.quiet.map(|q| q.text()).unwrap_or_default(),
                plan.zone.name(),
                plan.local_text(&until)
            )
        });
    if cost.is_none() && allowed > 0 {
        warnings.push(
            "no rate card is loaded, so there is no cost estimate: import Meta's with `optdesk pricing import FILE`".to_string(),
        );
    }
    if let Some(n) = settings::quiet_hours_notice(conn)? {
        warnings.push(n.to_string());
    }
    Ok(Preview {
        broadcast: id,
        audience: decisions.len(),
        will_receive: allowed,
        excluded: decisions.len() - allowed,
        by_reason,
        rate,
        estimated_seconds: allowed as f64 / rate + brake.wait_seconds as f64,
        brake,
        quiet_now,
        cost,
        warnings,
    })
}

/// `TIER_2K` → 2000; `TIER_UNLIMITED` → none.
fn tier_limit(tier: &str) -> Option<u64> {
    let t = tier.trim().to_ascii_uppercase();
    let n = t.strip_prefix("TIER_")?;
    match n.strip_suffix('K') {
        Some(k) => k.parse::<u64>().ok().map(|k| k * 1000),
        None => n.parse().ok(),
    }
}
