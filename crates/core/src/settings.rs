//! Non-secret settings, in the `settings` table. Every key is declared here with a check and a
//! default, so a typo on the command line is an error rather than a setting nothing reads.
//! Secrets (tokens, app secret) never come here: they live in the OS keyring.

use rusqlite::{Connection, OptionalExtension};

use crate::broadcast::plan;
use crate::error::{Error, Result};
use crate::phone::Region;

pub struct Key {
    pub name: &'static str,
    pub help: &'static str,
    default: Option<&'static str>,
    check: fn(&str) -> Result<String>,
}

fn any_text(v: &str) -> Result<String> {
    Ok(v.trim().to_string())
}

fn region(v: &str) -> Result<String> {
    Region::parse(v).map(|r| r.code())
}

fn e164(v: &str) -> Result<String> {
    crate::phone::to_e164(v, None)
}

fn hours(v: &str) -> Result<String> {
    match v.trim().parse::<u32>() {
        Ok(h) if h <= 24 * 31 => Ok(h.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a number of hours between 0 (no cap) and 744"
        ))),
    }
}

fn http_url(v: &str) -> Result<String> {
    let v = v.trim();
    if (v.starts_with("https://") || v.starts_with("http://")) && url::Url::parse(v).is_ok() {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(Error::invalid(format!(
            "{v:?} is not an http(s):// address"
        )))
    }
}

fn graph_version(v: &str) -> Result<String> {
    let v = v.trim();
    let digits = v.strip_prefix('v').unwrap_or(v);
    match digits.split_once('.') {
        Some((major, minor))
            if !major.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(format!("v{digits}"))
        }
        _ => Err(Error::invalid(format!(
            "{v:?} is not a Graph API version such as v25.0"
        ))),
    }
}

fn numeric_id(v: &str) -> Result<String> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(Error::invalid(format!(
            "{v:?} is not a Meta id (digits only, as shown in the App Dashboard → WhatsApp → API Setup)"
        )))
    }
}

fn footer(v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 60 || v.contains("{{") {
        return Err(Error::invalid(format!(
            "a footer must be 1 to 60 characters with no {{{{variables}}}} (Meta's rule); {v:?} is not"
        )));
    }
    Ok(v.to_string())
}

fn port(v: &str) -> Result<String> {
    match v.trim().parse::<u16>() {
        Ok(p) if p >= 1024 => Ok(p.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a port OptDesk can listen on: use 1024 to 65535 (8787 is the usual one)"
        ))),
    }
}

fn rate(v: &str) -> Result<String> {
    match v.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1000.0 => Ok(r.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a rate between 0 and 1000 messages per second"
        ))),
    }
}

fn retention(v: &str) -> Result<String> {
    match v.trim().parse::<u32>() {
        Ok(y) if (1..=50).contains(&y) => Ok(y.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a number of years between 1 and 50"
        ))),
    }
}

fn count(v: &str) -> Result<String> {
    match v.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a whole number above 0"
        ))),
    }
}

fn https_url(v: &str) -> Result<String> {
    let v = v.trim();
    if v.starts_with("https://") && v.len() > "https://".len() {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(Error::invalid(format!(
            "{v:?} is not an https:// address; Meta only calls HTTPS URLs"
        )))
    }
}

/// A relay mailbox's address: `https://relay.example/m/<32 hex>` (its hook URL, with or
/// without the trailing `/webhook`, is accepted and stored without it).
fn relay_url(v: &str) -> Result<String> {
    crate::relay::mailbox_base(v)
}

fn webhook_mode(v: &str) -> Result<String> {
    crate::reachability::endpoint::Mode::parse(v).map(|m| m.as_str().to_string())
}

fn hostname(v: &str) -> Result<String> {
    let v = v
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let ok = !v.is_empty()
        && v.contains('.')
        && v.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(Error::invalid(format!(
            "{v:?} is not a domain such as my-shop.ngrok-free.dev (dashboard.ngrok.com → Domains)"
        )))
    }
}

pub const KEYS: &[Key] = &[
    Key {
        name: "business_name",
        help: "the shop's name, used in confirmations and sign-ups",
        default: None,
        check: any_text,
    },
    Key {
        name: "business_number",
        help: "the shop's WhatsApp number in E.164",
        default: None,
        check: e164,
    },
    Key {
        name: "default_region",
        help: "country for numbers written without +code (GB, ES, BR…)",
        default: None,
        check: region,
    },
    Key {
        name: "public_url",
        help: "the public HTTPS URL Meta calls for webhooks",
        default: None,
        check: https_url,
    },
    Key {
        name: "frequency_cap_hours",
        help: "at most one marketing message per contact in this many hours (0 = no cap)",
        default: Some("24"),
        check: hours,
    },
    Key {
        name: "phone_number_id",
        help: "the WhatsApp phone number id (App Dashboard → WhatsApp → API Setup)",
        default: None,
        check: numeric_id,
    },
    Key {
        name: "waba_id",
        help: "the WhatsApp Business Account id",
        default: None,
        check: numeric_id,
    },
    Key {
        name: "graph_url",
        help: "the Graph API's address (OPTDESK_GRAPH_URL overrides it)",
        default: Some("https://graph.facebook.com"),
        check: http_url,
    },
    Key {
        name: "graph_version",
        help: "the Graph API version OptDesk calls",
        default: Some("v25.0"),
        check: graph_version,
    },
    Key {
        name: "footer_text",
        help: "the opt-out footer OptDesk adds to marketing templates",
        default: Some("Reply STOP to unsubscribe"),
        check: footer,
    },
    Key {
        name: "confirmation_text",
        help: "the reply to an opt-out ({business} is replaced by business_name)",
        default: Some("You're unsubscribed from {business} messages. Reply START to resubscribe."),
        check: any_text,
    },
    Key {
        name: "help_text",
        help: "the reply to HELP or INFO ({business} is replaced by business_name)",
        default: Some("This is {business} on WhatsApp. Reply STOP to stop our messages, START to resume."),
        check: any_text,
    },
    Key {
        name: "opt_out_keywords",
        help: "words that opt out on their own or at the start of a short message (comma-separated)",
        default: None,
        check: any_text,
    },
    Key {
        name: "opt_in_keywords",
        help: "whole-message words that undo a keyword opt-out (comma-separated)",
        default: None,
        check: any_text,
    },
    Key {
        name: "optout_button_payloads",
        help: "quick-reply payloads OptDesk sets that mean opt out (comma-separated)",
        default: Some("OPTOUT_MKT,STOP_PROMOTIONS"),
        check: any_text,
    },
    Key {
        name: "provider_optout_guard",
        help: "at most this many opt-outs from WhatsApp errors (131050) per hour before pausing to alert",
        default: Some("200"),
        check: count,
    },
    Key {
        name: "send_rate",
        help: "broadcast messages per second (Meta allows up to 1000)",
        default: Some("20"),
        check: rate,
    },
    Key {
        name: "messaging_limit",
        help: "the number's messaging limit, e.g. TIER_2K (filled by `credentials test`)",
        default: None,
        check: any_text,
    },
    Key {
        name: "welcome_text",
        help: "the reply to a sign-up ({business} and {topic} are filled in)",
        default: Some("Thanks for signing up! You'll get {topic} messages from {business} on WhatsApp. Reply STOP to unsubscribe."),
        check: any_text,
    },
    Key {
        name: "retention_years",
        help: "years superseded consent evidence is kept (default 5, over the TCPA's 4-year limitation period)",
        default: Some("5"),
        check: retention,
    },
    Key {
        name: "consent_wording",
        help: "the standard wording customers agree to when opting in",
        default: None,
        check: any_text,
    },
    Key {
        name: "webhook_mode",
        help: "how Meta reaches this PC: ngrok (a tunnel OptDesk runs), relay (an always-on mailbox) or manual (public_url)",
        default: Some("manual"),
        check: webhook_mode,
    },
    Key {
        name: "app_id",
        help: "the Meta app's id (read from the WhatsApp Business Account by `optdesk webhook connect`)",
        default: None,
        check: numeric_id,
    },
    Key {
        name: "ngrok_domain",
        help: "your ngrok dev domain (e.g. my-shop.ngrok-free.dev), so the address never changes",
        default: None,
        check: hostname,
    },
    Key {
        name: "ngrok_monthly_requests",
        help: "requests a month your ngrok plan carries (20000 on the free plan); OptDesk warns at 80%",
        default: Some("20000"),
        check: count,
    },
    Key {
        name: "relay_url",
        help: "the relay mailbox's address (https://…/m/<id>, as `optdesk relay mailbox add` printed it)",
        default: None,
        check: relay_url,
    },
    Key {
        name: "relay_drain_seconds",
        help: "how long a broadcast waits, before it starts, for what the relay holds to be applied",
        default: Some("30"),
        check: count,
    },
    Key {
        name: "timezone",
        help: "the shop's time zone (an IANA name such as Europe/Madrid); schedules and quiet hours are in it. Default: the computer's",
        default: None,
        check: plan::check_zone,
    },
    Key {
        name: "quiet_hours",
        help: "when marketing broadcasts pause, in the shop's time (21:00-08:00), or off; replies to customers are never held",
        default: Some(plan::DEFAULT_QUIET),
        check: plan::check_quiet_hours,
    },
    Key {
        name: "attribution_hours",
        help: "how long after a broadcast reached someone their opt-out counts against that broadcast",
        default: Some("72"),
        check: hours,
    },
    Key {
        name: "brake",
        help: "on: a marketing broadcast pauses by itself when too many opt out or fail after delivery",
        default: Some("on"),
        check: plan::check_on_off,
    },
    Key {
        name: "brake_canary_share",
        help: "the share (percent) of a marketing broadcast over 200 recipients sent first, before a wait",
        default: Some("10"),
        check: plan::check_percent,
    },
    Key {
        name: "brake_canary_max",
        help: "at most this many recipients in that first share",
        default: Some("200"),
        check: count,
    },
    Key {
        name: "brake_wait",
        help: "how long the broadcast waits after its first share for opt-outs to come in (30m, 45s…)",
        default: Some("30m"),
        check: plan::check_duration,
    },
    Key {
        name: "brake_optout_threshold",
        help: "the percent of those delivered who opt out after delivery that pauses the broadcast",
        default: Some("2"),
        check: plan::check_percent,
    },
    Key {
        name: "brake_failure_threshold",
        help: "the percent of sends that fail (other than WhatsApp holding them back) that pauses the broadcast",
        default: Some("20"),
        check: plan::check_percent,
    },
    Key {
        name: "hold_us_marketing",
        help: "on: marketing to US numbers is held back instead of sent (WhatsApp does not deliver it, and may charge)",
        default: Some("on"),
        check: plan::check_on_off,
    },
    Key {
        name: "receiver_port",
        help: "the port the desktop app's webhook receiver listens on; set while it is on, so it starts with the app",
        default: None,
        check: port,
    },
];

pub fn key(name: &str) -> Result<&'static Key> {
    KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        Error::invalid(format!(
            "there is no setting {name:?}; the settings are: {}",
            names.join(", ")
        ))
    })
}

/// The port the receiver listens on when the owner has chosen none.
pub const USUAL_PORT: u16 = 8787;

/// A setting read as the type it holds, or its default (written once, in [`KEYS`]). A stored
/// value that does not read as one — only a hand-edited file holds one, since `set` checks —
/// is an error that names the setting, never a silent fallback.
pub fn value<T: std::str::FromStr>(db: &impl crate::store::Db, name: &str) -> Result<Option<T>> {
    match get(db, name)? {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            Error::invalid(format!(
                "the setting {name} holds {v:?}, which OptDesk cannot read; set it again with \
                 `optdesk config set {name} …` or in Settings"
            ))
        }),
    }
}

/// [`value`] for a setting that has a default: always there.
pub fn value_or_default<T: std::str::FromStr>(db: &impl crate::store::Db, name: &str) -> Result<T> {
    value(db, name)?.ok_or_else(|| Error::invalid(format!("the setting {name} has no default")))
}

/// The value of a setting, or its default. `None` when neither is set.
pub fn get(db: &impl crate::store::Db, name: &str) -> Result<Option<String>> {
    let conn = db.connection();
    let k = key(name)?;
    let stored: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(stored.or_else(|| k.default.map(str::to_string)))
}

/// Checks a value as `set` would, without storing it; the value as it would be stored.
pub fn check(name: &str, value: &str) -> Result<String> {
    (key(name)?.check)(value)
}

/// Checks and stores a setting; returns the value as stored (normalised: `gb` → `GB`).
pub fn set(db: &impl crate::store::Db, name: &str, value: &str) -> Result<String> {
    let conn = db.writer()?;
    let k = key(name)?;
    let value = (k.check)(value)?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [name, &value],
    )?;
    if name == "quiet_hours" {
        conn.execute("DELETE FROM settings WHERE key = 'quiet_hours_notice'", [])?;
    }
    Ok(value)
}

/// A database from before quiet hours existed keeps sending at any hour, and says so until the
/// owner sets `quiet_hours` (either way).
pub fn quiet_hours_notice(conn: &Connection) -> Result<Option<&'static str>> {
    let pending: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'quiet_hours_notice')",
        [],
        |r| r.get(0),
    )?;
    Ok(pending.then_some(
        "quiet hours are off for this database (it is older than them): marketing may go out at night. Turn them on with `optdesk config set quiet_hours 21:00-08:00`, or keep them off with `optdesk config set quiet_hours off`",
    ))
}

/// Keeps what a connection test learnt of the number: the verified name (unless the owner set
/// one), the number itself and its messaging limit. Both faces run this after a test; it says
/// why the display number could not be read, if it could not.
pub fn remember_phone_info(
    db: &impl crate::store::Db,
    info: &crate::whatsapp::PhoneNumberInfo,
) -> Result<Option<String>> {
    let conn = db.writer()?;
    if get(conn, "business_name")?.is_none() {
        if let Some(name) = &info.verified_name {
            set(conn, "business_name", name)?;
        }
    }
    let mut unreadable = None;
    match info
        .display_phone_number
        .as_deref()
        .map(|d| crate::phone::to_e164(d, None))
    {
        Some(Ok(n)) => {
            set(conn, "business_number", &n)?;
        }
        Some(Err(e)) => unreadable = Some(e.to_string()),
        None => {}
    }
    if let Some(limit) = &info.whatsapp_business_manager_messaging_limit {
        set(conn, "messaging_limit", limit)?;
    }
    Ok(unreadable)
}

pub fn unset(db: &impl crate::store::Db, name: &str) -> Result<()> {
    let conn = db.writer()?;
    key(name)?;
    conn.execute("DELETE FROM settings WHERE key = ?1", [name])?;
    Ok(())
}

pub fn default_region(db: &impl crate::store::Db) -> Result<Option<Region>> {
    let conn = db.connection();
    get(conn, "default_region")?
        .map(|r| Region::parse(&r))
        .transpose()
}

/// The frequency cap for marketing; `None` when the owner set 0.
pub fn frequency_cap(conn: &Connection) -> Result<Option<chrono::Duration>> {
    let h: i64 = get(conn, "frequency_cap_hours")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    Ok((h > 0).then(|| chrono::Duration::hours(h)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::store::DbKey::generate().unwrap();
        let store = Store::open(dir.path().join("db"), &key).unwrap();
        (dir, store)
    }

    #[test]
    fn settings_are_checked_normalised_and_defaulted() {
        let (_dir, store) = store();
        let c = store.conn();
        assert_eq!(
            get(c, "frequency_cap_hours").unwrap().as_deref(),
            Some("24")
        );
        assert_eq!(get(c, "default_region").unwrap(), None);
        assert_eq!(set(c, "default_region", "gb").unwrap(), "GB");
        assert_eq!(
            default_region(c).unwrap().map(|r| r.code()).as_deref(),
            Some("GB")
        );
        assert!(set(c, "default_region", "Narnia").is_err());
        assert!(set(c, "public_url", "http://example.com").is_err());
        assert_eq!(set(c, "frequency_cap_hours", "0").unwrap(), "0");
        assert_eq!(frequency_cap(c).unwrap(), None);
        let e = set(c, "defualt_region", "GB").unwrap_err().to_string();
        assert!(e.contains("default_region"), "{e}");
        unset(c, "default_region").unwrap();
        assert_eq!(get(c, "default_region").unwrap(), None);
    }

    #[test]
    fn a_typed_setting_reads_its_default_and_a_hand_edited_one_fails_closed() {
        let (_dir, store) = store();
        let c = store.conn();
        assert_eq!(value_or_default::<f64>(c, "send_rate").unwrap(), 20.0);
        assert_eq!(value::<u16>(c, "receiver_port").unwrap(), None);
        set(c, "send_rate", "80").unwrap();
        assert_eq!(value_or_default::<f64>(c, "send_rate").unwrap(), 80.0);
        c.execute(
            "UPDATE settings SET value = 'fast' WHERE key = 'send_rate'",
            [],
        )
        .unwrap();
        let e = value_or_default::<f64>(c, "send_rate")
            .unwrap_err()
            .to_string();
        assert!(e.contains("send_rate holds \"fast\""), "{e}");
        assert!(
            value_or_default::<u16>(c, "receiver_port").is_err(),
            "no default"
        );
    }
}
