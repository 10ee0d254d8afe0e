//! The send gate: may a message of category C go to contact X right now?
//!
//! [`check`] is a pure function over a contact's state, so it is the same wherever it runs: when
//! an audience is previewed ([`decide_all`], one pass over the whole table) and — the call that
//! matters — at the last step before each send, inside the transaction that claims the recipient
//! ([`check_contact`]).
//!
//! Reasons are tried in one fixed order (DESIGN.md) and the first that applies is the answer:
//! suppressed → opted out → (marketing) blocked by Meta → (marketing) review pending →
//! unreachable → (marketing) no opt-in on record → (marketing) frequency cap → (marketing) held
//! back by WhatsApp. Held back is not opted out: 131049 holds a person's marketing for 24
//! hours, 130472 (an experiment group) until they next write, and WhatsApp does not deliver
//! marketing to US numbers; none of them is a consent signal, and none is in the ledger.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::contacts::consent_col;
use crate::error::Result;
use crate::model::{Category, ConsentState, ContactId};
use crate::time::{self, Timestamp};

/// Everything the gate looks at for one contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateState {
    pub suppressed: bool,
    pub marketing: Option<ConsentState>,
    pub utility: Option<ConsentState>,
    pub meta_blocked: bool,
    pub review_pending: bool,
    pub unreachable: bool,
    pub last_marketing_at: Option<Timestamp>,
    /// 131049: WhatsApp's per-person marketing limit, until this time.
    pub held_back_until: Option<Timestamp>,
    /// 130472: in WhatsApp's experiment group, until they next write.
    pub held_for_experiment: bool,
    /// A US number (WhatsApp does not deliver marketing templates to them).
    pub us_number: bool,
}

/// The shop's rules beside consent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// At most one marketing message per contact within this window; `None` for no cap.
    pub frequency_cap: Option<chrono::Duration>,
    /// Hold marketing to US numbers back instead of paying for sends WhatsApp will not deliver.
    pub hold_us_marketing: bool,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    Suppressed,
    OptedOut,
    MetaBlocked,
    ReviewPending,
    Unreachable,
    NoOptIn,
    FrequencyCap,
    HeldBack,
}

impl BlockReason {
    /// How the owner reads it.
    pub fn describe(self) -> &'static str {
        match self {
            BlockReason::Suppressed => "on the suppression list",
            BlockReason::OptedOut => "opted out",
            BlockReason::MetaBlocked => "stopped marketing in WhatsApp",
            BlockReason::ReviewPending => "a message of theirs awaits your review",
            BlockReason::Unreachable => "WhatsApp cannot deliver to this number",
            BlockReason::NoOptIn => "no opt-in on record",
            BlockReason::FrequencyCap => "already messaged within the frequency cap",
            BlockReason::HeldBack => "held back by WhatsApp (its per-person marketing limit, an experiment, or a US number): not an opt-out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "reason", rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Blocked(BlockReason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// The gate. Pure: same state, category, time and policy, same answer.
pub fn check(s: &GateState, category: Category, now: Timestamp, policy: &Policy) -> Decision {
    use BlockReason::*;
    let marketing = category == Category::Marketing;
    let topic_state = match category {
        Category::Marketing => s.marketing,
        Category::Utility => s.utility,
    };
    let blocked = if s.suppressed {
        Some(Suppressed)
    } else if topic_state == Some(ConsentState::OptedOut) {
        Some(OptedOut)
    } else if marketing && s.meta_blocked {
        Some(MetaBlocked)
    } else if marketing && s.review_pending {
        Some(ReviewPending)
    } else if s.unreachable {
        Some(Unreachable)
    } else if marketing && topic_state != Some(ConsentState::OptedIn) {
        Some(NoOptIn)
    } else if marketing && within_cap(s.last_marketing_at, now, policy) {
        Some(FrequencyCap)
    } else if marketing
        && (s.held_back_until.is_some_and(|t| now < t)
            || s.held_for_experiment
            || (s.us_number && policy.hold_us_marketing))
    {
        Some(HeldBack)
    } else {
        None
    };
    blocked.map_or(Decision::Allowed, Decision::Blocked)
}

fn within_cap(last: Option<Timestamp>, now: Timestamp, policy: &Policy) -> bool {
    match (last, policy.frequency_cap) {
        (Some(last), Some(cap)) => now < last + cap,
        _ => false,
    }
}

// An erased row counts as suppressed in its own right, even after its suppression entry ends.
const STATE_SQL: &str =
    "SELECT c.id, s.phone_hash IS NOT NULL OR c.erased_at IS NOT NULL, c.marketing, c.utility,
        c.meta_blocked, c.review_pending, c.unreachable, c.last_marketing_at,
        c.held_back_until, c.held_for_experiment, c.phone
    FROM contacts c LEFT JOIN suppressions s ON s.phone_hash = c.phone_hash";

fn read_state(r: &Row<'_>) -> rusqlite::Result<(ContactId, GateState)> {
    let last = r.get_ref(7)?.as_str_or_null()?.and_then(time::from_db);
    let held = r.get_ref(8)?.as_str_or_null()?.and_then(time::from_db);
    // Only +1 numbers are parsed: the US shares its calling code with Canada and the Caribbean.
    let phone = r.get_ref(10)?.as_str()?;
    let us_number =
        phone.starts_with("+1") && crate::phone::region_of(phone).as_deref() == Some("US");
    Ok((
        ContactId(r.get(0)?),
        GateState {
            suppressed: r.get(1)?,
            marketing: consent_col(r, 2)?,
            utility: consent_col(r, 3)?,
            meta_blocked: r.get(4)?,
            review_pending: r.get(5)?,
            unreachable: r.get(6)?,
            last_marketing_at: last,
            held_back_until: held,
            held_for_experiment: r.get(9)?,
            us_number,
        },
    ))
}

/// The gate for one contact as the database stands in `conn`'s transaction. `None` when the
/// contact does not exist (nothing may be sent to it).
pub fn check_contact(
    conn: &Connection,
    id: ContactId,
    category: Category,
    now: Timestamp,
    policy: &Policy,
) -> Result<Option<Decision>> {
    let sql = format!("{STATE_SQL} WHERE c.id = ?1");
    let state = conn
        .prepare_cached(&sql)?
        .query_row([id.0], read_state)
        .optional()?;
    Ok(state.map(|(_, s)| check(&s, category, now, policy)))
}

/// The gate over every contact in one pass (an audience preview). `only` restricts it to the
/// contacts carrying any of those tags.
pub fn decide_all(
    conn: &Connection,
    category: Category,
    now: Timestamp,
    policy: &Policy,
    only_tags: &[String],
) -> Result<Vec<(ContactId, Decision)>> {
    // Erased people are no audience (their rows stay suppressed for the gate anyway).
    let mut sql = format!("{STATE_SQL} WHERE c.erased_at IS NULL");
    if !only_tags.is_empty() {
        let marks = vec!["?"; only_tags.len()].join(", ");
        sql +=
            &format!(" AND c.id IN (SELECT contact_id FROM contact_tags WHERE tag IN ({marks}))");
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(only_tags))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (id, state) = read_state(r)?;
        out.push((id, check(&state, category, now, policy)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use BlockReason::*;

    fn opted_in() -> GateState {
        GateState {
            marketing: Some(ConsentState::OptedIn),
            utility: Some(ConsentState::OptedIn),
            ..Default::default()
        }
    }

    fn now() -> Timestamp {
        time::parse_user("2026-11-25T12:00:00Z").unwrap()
    }

    fn cap() -> Policy {
        Policy {
            frequency_cap: Some(Duration::hours(24)),
            hold_us_marketing: true,
        }
    }

    fn gate(s: &GateState, c: Category) -> Decision {
        check(s, c, now(), &cap())
    }

    #[test]
    fn marketing_needs_an_opt_in_and_utility_only_no_opt_out() {
        let unknown = GateState::default();
        assert_eq!(
            gate(&unknown, Category::Marketing),
            Decision::Blocked(NoOptIn)
        );
        assert_eq!(gate(&unknown, Category::Utility), Decision::Allowed);
        assert_eq!(gate(&opted_in(), Category::Marketing), Decision::Allowed);
        let out = GateState {
            utility: Some(ConsentState::OptedOut),
            ..opted_in()
        };
        assert_eq!(gate(&out, Category::Utility), Decision::Blocked(OptedOut));
        assert_eq!(
            gate(&out, Category::Marketing),
            Decision::Allowed,
            "topics are separate"
        );
    }

    #[test]
    fn every_reason_in_design_order() {
        // Start with every reason applying, then lift them one by one: each time, the next
        // reason in DESIGN.md's order must be the answer.
        let mut s = GateState {
            suppressed: true,
            marketing: Some(ConsentState::OptedOut),
            utility: None,
            meta_blocked: true,
            review_pending: true,
            unreachable: true,
            last_marketing_at: Some(now() - Duration::hours(1)),
            held_back_until: Some(now() + Duration::hours(1)),
            held_for_experiment: true,
            us_number: true,
        };
        let mut seen = Vec::new();
        loop {
            match gate(&s, Category::Marketing) {
                Decision::Allowed => break,
                Decision::Blocked(r) => {
                    seen.push(r);
                    match r {
                        Suppressed => s.suppressed = false,
                        OptedOut => s.marketing = None,
                        MetaBlocked => s.meta_blocked = false,
                        ReviewPending => s.review_pending = false,
                        Unreachable => s.unreachable = false,
                        NoOptIn => s.marketing = Some(ConsentState::OptedIn),
                        FrequencyCap => s.last_marketing_at = None,
                        HeldBack => {
                            // Each hold alone holds it back.
                            if s.held_back_until.take().is_none() {
                                if s.held_for_experiment {
                                    s.held_for_experiment = false;
                                } else {
                                    s.us_number = false;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(
            seen,
            [
                Suppressed,
                OptedOut,
                MetaBlocked,
                ReviewPending,
                Unreachable,
                NoOptIn,
                FrequencyCap,
                HeldBack,
                HeldBack,
                HeldBack
            ]
        );
    }

    #[test]
    fn marketing_only_reasons_do_not_stop_utility() {
        let s = GateState {
            meta_blocked: true,
            review_pending: true,
            last_marketing_at: Some(now()),
            ..opted_in()
        };
        assert_eq!(gate(&s, Category::Utility), Decision::Allowed);
        let s = GateState {
            unreachable: true,
            ..opted_in()
        };
        assert_eq!(gate(&s, Category::Utility), Decision::Blocked(Unreachable));
        let s = GateState {
            suppressed: true,
            ..opted_in()
        };
        assert_eq!(gate(&s, Category::Utility), Decision::Blocked(Suppressed));
    }

    #[test]
    fn held_back_is_marketing_only_and_ends_as_whatsapp_says() {
        let mut s = opted_in();
        s.held_back_until = Some(now() + Duration::minutes(1));
        assert_eq!(gate(&s, Category::Marketing), Decision::Blocked(HeldBack));
        assert_eq!(gate(&s, Category::Utility), Decision::Allowed);
        s.held_back_until = Some(now());
        assert_eq!(
            gate(&s, Category::Marketing),
            Decision::Allowed,
            "24 hours are over"
        );
        s.us_number = true;
        assert_eq!(gate(&s, Category::Marketing), Decision::Blocked(HeldBack));
        let send_anyway = Policy {
            hold_us_marketing: false,
            ..cap()
        };
        assert_eq!(
            check(&s, Category::Marketing, now(), &send_anyway),
            Decision::Allowed
        );
    }

    #[test]
    fn frequency_cap_window() {
        let mut s = opted_in();
        s.last_marketing_at = Some(now() - Duration::hours(23));
        assert_eq!(
            gate(&s, Category::Marketing),
            Decision::Blocked(FrequencyCap)
        );
        s.last_marketing_at = Some(now() - Duration::hours(24));
        assert_eq!(gate(&s, Category::Marketing), Decision::Allowed);
        s.last_marketing_at = Some(now());
        assert_eq!(
            check(&s, Category::Marketing, now(), &Policy::default()),
            Decision::Allowed
        );
    }
}
