//! Times are UTC everywhere and stored as fixed-width RFC 3339 text with microseconds
//! (`2026-11-25T15:23:35.123456Z`), so they sort as text and hash the same on every machine.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

/// Where "now" comes from for planning: schedules and quiet hours. Release builds only have the
/// system's; tests (and builds with the `test-support` feature, which only test builds turn on)
/// can hold one and move it, instead of sleeping until 21:00.
#[derive(Clone, Default)]
pub struct Clock {
    #[cfg(any(test, feature = "test-support"))]
    manual: Option<std::sync::Arc<std::sync::Mutex<Timestamp>>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Timestamp {
        #[cfg(any(test, feature = "test-support"))]
        if let Some(m) = &self.manual {
            return *m.lock().unwrap_or_else(|p| p.into_inner());
        }
        now()
    }

    /// A clock standing at `at` until it is moved.
    #[cfg(any(test, feature = "test-support"))]
    pub fn manual(at: Timestamp) -> Clock {
        Clock {
            manual: Some(std::sync::Arc::new(std::sync::Mutex::new(at))),
        }
    }

    /// Moves a manual clock (every copy of it) to `at`.
    #[cfg(any(test, feature = "test-support"))]
    pub fn set(&self, at: Timestamp) {
        if let Some(m) = &self.manual {
            *m.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
    }
}

/// The one text form of a time that the store and the ledger's hashes use.
pub fn to_db(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a time written by [`to_db`] (or any RFC 3339 time).
pub fn from_db(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a date or time as people write them in spreadsheets: RFC 3339 (`2026-03-01T10:00:00Z`,
/// with any offset), `2026-03-01 10:00[:00]` (taken as UTC) or a bare date `2026-03-01`
/// (midnight UTC). Day-first and month-first forms are refused: `03/04/2026` means different
/// days in different countries, and a consent record must not guess.
pub fn parse_user(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    // Dispatch on the shape first: each failed chrono attempt re-parses its format string, and
    // an import reads a date on every row.
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
    }
    if let Some(t) = from_db(s) {
        return Some(t);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    // With an offset, as exports write them: "2026-03-01 14:30:00 +0100", "…+01:00", and
    // RFC 2822 ("Sun, 01 Mar 2026 14:30:00 +0100").
    for fmt in [
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %:z",
        "%Y-%m-%d %H:%M %z",
    ] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&chrono::Utc));
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    // "… UTC", as Mailchimp and others write it.
    if let Some(naive) = s.strip_suffix(" UTC") {
        return parse_user(naive);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_form_round_trips_and_sorts_as_text() {
        let a = parse_user("2026-03-01T10:00:00+02:00").unwrap();
        let b = parse_user("2026-03-01 09:00").unwrap();
        assert_eq!(to_db(&a), "2026-03-01T08:00:00.000000Z");
        assert_eq!(from_db(&to_db(&b)), Some(b));
        assert!(to_db(&a) < to_db(&b));
    }

    #[test]
    fn dates_as_exports_write_them() {
        let want = parse_user("2026-03-01T13:30:00Z").unwrap();
        for s in [
            "2026-03-01 14:30:00 +0100",
            "2026-03-01 14:30:00+01:00",
            "2026-03-01T14:30:00+01:00",
            "Sun, 01 Mar 2026 14:30:00 +0100",
            "2026-03-01 13:30:00 UTC",
            "2026-03-01T13:30:00.000", // a spreadsheet's date cell, to the millisecond
        ] {
            assert_eq!(parse_user(s), Some(want), "{s}");
        }
    }

    #[test]
    fn ambiguous_and_broken_dates_are_refused() {
        assert_eq!(
            parse_user("2026-03-01").map(|t| to_db(&t)).as_deref(),
            Some("2026-03-01T00:00:00.000000Z")
        );
        assert!(parse_user("03/04/2026").is_none());
        assert!(parse_user("2026-02-30").is_none());
        assert!(parse_user("yesterday").is_none());
    }
}
