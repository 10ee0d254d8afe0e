//! The settings a broadcast is planned by, read once as one typed snapshot: the shop's time zone,
//! quiet hours, how long an opt-out counts against a broadcast, and the brake. Each default is
//! written once, in `settings::KEYS`; the checks that `config set` runs live here beside the
//! parsers that read the values back.

use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::settings;
use crate::time::Timestamp;

/// The OS's zone, or UTC when it cannot be read.
pub fn os_zone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|z| z.parse().ok())
        .unwrap_or(Tz::UTC)
}

pub(crate) fn check_zone(v: &str) -> Result<String> {
    let v = v.trim();
    v.parse::<Tz>().map(|z| z.name().to_string()).map_err(|_| {
        Error::invalid(format!(
            "{v:?} is not a time zone; use an IANA name such as Europe/Madrid, America/Sao_Paulo or Asia/Kolkata"
        ))
    })
}

/// `30s`, `30m`, `2h`, `1d`, or plain seconds.
pub fn parse_duration(v: &str) -> Result<chrono::Duration> {
    let v = v.trim().to_ascii_lowercase();
    let (n, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let n: i64 = n.parse().map_err(|_| bad_duration(&v))?;
    let secs = match unit.trim() {
        "s" | "sec" | "seconds" => n,
        "m" | "min" | "minutes" => n * 60,
        "h" | "hours" => n * 3600,
        "d" | "days" => n * 86_400,
        _ => return Err(bad_duration(&v)),
    };
    if !(0..=31 * 86_400).contains(&secs) {
        return Err(bad_duration(&v));
    }
    Ok(chrono::Duration::seconds(secs))
}

fn bad_duration(v: &str) -> Error {
    Error::invalid(format!(
        "{v:?} is not a length of time such as 45s, 30m, 2h or 1d (at most 31 days)"
    ))
}

pub(crate) fn check_duration(v: &str) -> Result<String> {
    parse_duration(v).map(|_| v.trim().to_ascii_lowercase())
}

pub(crate) fn check_percent(v: &str) -> Result<String> {
    match v.trim().trim_end_matches('%').parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p.to_string()),
        _ => Err(Error::invalid(format!(
            "{v:?} is not a percentage above 0 and at most 100"
        ))),
    }
}

pub(crate) fn check_on_off(v: &str) -> Result<String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok("on".into()),
        "off" | "no" | "false" => Ok("off".into()),
        _ => Err(Error::invalid(format!("{v:?} is not on or off"))),
    }
}

/// The default quiet hours (`settings::KEYS` names the same).
pub const DEFAULT_QUIET: &str = "21:00-08:00";

/// Quiet hours in the shop's zone: `21:00-08:00` (overnight) or `13:00-15:00`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuietHours {
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub from: NaiveTime,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub until: NaiveTime,
}

impl QuietHours {
    /// `None` for `off`.
    pub fn parse(v: &str) -> Result<Option<QuietHours>> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || {
            Error::invalid(format!(
                "{v:?} is not quiet hours such as 21:00-08:00 (from-until, in the shop's time), or off"
            ))
        };
        let (a, b) = v.split_once('-').ok_or_else(bad)?;
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
        let (from, until) = (t(a)?, t(b)?);
        if from == until {
            return Err(bad());
        }
        Ok(Some(QuietHours { from, until }))
    }

    pub fn text(&self) -> String {
        format!(
            "{}-{}",
            self.from.format("%H:%M"),
            self.until.format("%H:%M")
        )
    }

    fn holds(&self, t: NaiveTime) -> bool {
        if self.from < self.until {
            self.from <= t && t < self.until
        } else {
            t >= self.from || t < self.until
        }
    }

    /// When the quiet hours that hold at `now` end (in UTC), or `None` when they do not hold.
    pub fn ends_after(&self, zone: Tz, now: &Timestamp) -> Option<Timestamp> {
        let local = now.with_timezone(&zone);
        if !self.holds(local.time()) {
            return None;
        }
        let day = if local.time() >= self.until {
            local.date_naive().succ_opt()?
        } else {
            local.date_naive()
        };
        let end = NaiveDateTime::new(day, self.until);
        Some(local_to_utc(zone, end))
    }
}

pub(crate) fn check_quiet_hours(v: &str) -> Result<String> {
    Ok(QuietHours::parse(v)?.map_or("off".into(), |q| q.text()))
}

/// A wall-clock time in `zone` as UTC: in a DST gap, the first valid instant after it; in an
/// overlap, the earlier.
pub fn local_to_utc(zone: Tz, t: NaiveDateTime) -> Timestamp {
    let mut t = t;
    for _ in 0..180 {
        if let Some(x) = zone.from_local_datetime(&t).earliest() {
            return x.with_timezone(&chrono::Utc);
        }
        t += chrono::Duration::minutes(1);
    }
    t.and_utc()
}

/// The brake's settings.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Brake {
    /// Percent of the recipients the canary is.
    pub canary_share: f64,
    pub canary_max: u64,
    pub wait_seconds: i64,
    /// Percent of those delivered who opted out after delivery that trips it.
    pub optout_threshold: f64,
    /// Percent of answered sends that failed for reasons other than the expected refusals.
    pub failure_threshold: f64,
}

/// At least this many opt-outs (or failures) before a share trips the brake: one opt-out among
/// the first ten deliveries is chance, not a pattern.
pub const MIN_OPTOUTS: u64 = 3;
pub const MIN_FAILURES: u64 = 10;
/// Broadcasts with more recipients than this start with a canary.
pub const CANARY_ABOVE: u64 = 200;

impl Brake {
    /// How many recipients the canary is, for an audience of `n`: none at or below 200.
    pub fn canary_size(&self, n: u64) -> u64 {
        if n <= CANARY_ABOVE {
            return 0;
        }
        let share = (n as f64 * self.canary_share / 100.0).ceil() as u64;
        share.clamp(1, self.canary_max.max(1)).min(n)
    }
}

/// The planning settings, read once.
#[derive(Debug, Clone)]
pub struct Plan {
    pub zone: Tz,
    pub quiet: Option<QuietHours>,
    /// An opt-out this long after delivery still counts against the broadcast.
    pub attribution: chrono::Duration,
    /// `None` when the brake is off.
    pub brake: Option<Brake>,
}

fn num<T: std::str::FromStr>(conn: &Connection, key: &str, fallback: T) -> Result<T> {
    Ok(settings::get(conn, key)?
        .and_then(|v| v.trim().trim_end_matches('%').parse().ok())
        .unwrap_or(fallback))
}

impl Plan {
    pub fn load(conn: &Connection) -> Result<Plan> {
        let zone = match settings::get(conn, "timezone")? {
            Some(z) => z.parse().unwrap_or(Tz::UTC),
            None => os_zone(),
        };
        // A value that cannot be read (edited by hand) fails closed: the default hours.
        let quiet = match settings::get(conn, "quiet_hours")? {
            None => None,
            Some(v) => QuietHours::parse(&v)
                .unwrap_or_else(|_| QuietHours::parse(DEFAULT_QUIET).ok().flatten()),
        };
        let dur = |key: &str, fallback: i64| -> Result<chrono::Duration> {
            Ok(settings::get(conn, key)?
                .and_then(|v| parse_duration(&v).ok())
                .unwrap_or(chrono::Duration::seconds(fallback)))
        };
        let attribution = chrono::Duration::hours(num(conn, "attribution_hours", 72i64)?);
        let brake = (settings::get(conn, "brake")?.as_deref() != Some("off"))
            .then(|| -> Result<Brake> {
                Ok(Brake {
                    canary_share: num(conn, "brake_canary_share", 10.0)?,
                    canary_max: num(conn, "brake_canary_max", 200)?,
                    wait_seconds: dur("brake_wait", 1800)?.num_seconds(),
                    optout_threshold: num(conn, "brake_optout_threshold", 2.0)?,
                    failure_threshold: num(conn, "brake_failure_threshold", 20.0)?,
                })
            })
            .transpose()?;
        Ok(Plan {
            zone,
            quiet,
            attribution,
            brake,
        })
    }

    /// When the quiet hours holding at `now` end, if they hold.
    pub fn quiet_until(&self, now: &Timestamp) -> Option<Timestamp> {
        self.quiet.and_then(|q| q.ends_after(self.zone, now))
    }

    /// `2026-12-05 09:30` (or any form `time::parse_user` takes without an offset) in the
    /// shop's zone; a time with an offset or `Z` is taken as written.
    pub fn parse_local(&self, v: &str) -> Result<Timestamp> {
        let v = v.trim();
        let bad = || {
            Error::invalid(format!(
                "{v:?} is not a time such as \"2026-12-05 09:30\" (the shop's time, {})",
                self.zone.name()
            ))
        };
        for fmt in [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
                return Ok(local_to_utc(self.zone, t));
            }
        }
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| bad())
    }

    /// A UTC time as the shop reads it: `Sat 5 Dec 09:30`.
    pub fn local_text(&self, t: &Timestamp) -> String {
        let l = t.with_timezone(&self.zone);
        format!(
            "{} {} {} {:02}:{:02}",
            l.format("%a"),
            l.day(),
            l.format("%b %Y"),
            l.hour(),
            l.minute()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        crate::time::from_db(s).unwrap()
    }

    #[test]
    fn quiet_hours_overnight_and_their_end_in_the_shops_zone() {
        let q = QuietHours::parse("21:00-08:00").unwrap().unwrap();
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // 20:30 UTC is 21:30 in Madrid in winter: quiet until 08:00 Madrid = 07:00 UTC.
        assert_eq!(
            q.ends_after(madrid, &at("2026-12-05T20:30:00Z")),
            Some(at("2026-12-06T07:00:00Z"))
        );
        // 06:00 UTC = 07:00 Madrid: still quiet, until 07:00 UTC the same day.
        assert_eq!(
            q.ends_after(madrid, &at("2026-12-06T06:00:00Z")),
            Some(at("2026-12-06T07:00:00Z"))
        );
        assert_eq!(q.ends_after(madrid, &at("2026-12-06T07:00:00Z")), None);
        assert_eq!(q.ends_after(madrid, &at("2026-12-05T19:59:00Z")), None);
        let day = QuietHours::parse("13:00-15:00").unwrap().unwrap();
        assert!(day.holds(NaiveTime::from_hms_opt(14, 0, 0).unwrap()));
        assert!(!day.holds(NaiveTime::from_hms_opt(15, 0, 0).unwrap()));
        assert_eq!(QuietHours::parse("off").unwrap(), None);
        assert!(QuietHours::parse("9-5").is_err());
        assert!(QuietHours::parse("08:00-08:00").is_err());
    }

    #[test]
    fn durations_and_canary_sizes() {
        assert_eq!(parse_duration("30m").unwrap().num_seconds(), 1800);
        assert_eq!(parse_duration("2h").unwrap().num_seconds(), 7200);
        assert_eq!(parse_duration("5").unwrap().num_seconds(), 5);
        assert_eq!(parse_duration("10 s").unwrap().num_seconds(), 10);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("40d").is_err());
        let b = Brake {
            canary_share: 10.0,
            canary_max: 200,
            wait_seconds: 1800,
            optout_threshold: 2.0,
            failure_threshold: 20.0,
        };
        assert_eq!(
            b.canary_size(200),
            0,
            "small broadcasts are watched, not split"
        );
        assert_eq!(b.canary_size(201), 21);
        assert_eq!(b.canary_size(1000), 100);
        assert_eq!(b.canary_size(50_000), 200);
    }

    #[test]
    fn a_local_time_in_a_dst_gap_moves_to_the_first_valid_minute() {
        let plan = Plan {
            zone: "Europe/Madrid".parse().unwrap(),
            quiet: None,
            attribution: chrono::Duration::hours(72),
            brake: None,
        };
        assert_eq!(
            plan.parse_local("2026-12-05 09:30").unwrap(),
            at("2026-12-05T08:30:00Z")
        );
        // 29 March 2026, 02:30 does not exist in Madrid (clocks go from 02:00 to 03:00).
        assert_eq!(
            plan.parse_local("2026-03-29 02:30").unwrap(),
            at("2026-03-29T01:00:00Z")
        );
        assert!(plan.parse_local("tomorrow").is_err());
        assert_eq!(
            plan.local_text(&at("2026-12-05T08:30:00Z")),
            "Sat 5 Dec 2026 09:30"
        );
    }
}

#[cfg(test)]
mod load_tests {
    #[test]
    fn quiet_hours_that_cannot_be_read_fail_closed_to_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(
            dir.path().join("db"),
            &crate::store::DbKey::generate().unwrap(),
        )
        .unwrap();
        // Edited by hand, past `config set`'s check.
        store
            .conn()
            .execute(
                "INSERT INTO settings (key, value) VALUES ('quiet_hours', 'nights')",
                [],
            )
            .unwrap();
        let plan = super::Plan::load(store.conn()).unwrap();
        assert_eq!(
            plan.quiet.map(|q| q.text()).as_deref(),
            Some(super::DEFAULT_QUIET)
        );
    }
}
