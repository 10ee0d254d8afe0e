//! Phone numbers: parsed with `phonenumber` (a port of Google's libphonenumber) and stored in
//! E.164. A national form ("07911 123456") needs a region to be read ("GB").
//!
//! The numbering plans come from `data/PhoneNumberMetadata.xml` (see `data/README.md`): the
//! crate's own built-in database validates one number at a time per process, while a
//! [`Numbering`] of our own can be given to each thread of an import.

use std::sync::LazyLock;

use phonenumber::metadata::{loader, Database};
use phonenumber::{country, Mode};

use crate::error::{Error, Result};

static METADATA_XML: &str = include_str!("../data/PhoneNumberMetadata.xml");

/// The parsed metadata, from which each [`Numbering`] compiles its own patterns.
static METADATA: LazyLock<Vec<loader::Metadata>> = LazyLock::new(|| {
    // start-up invariant: the file is compiled in and a test loads it.
    let mut all = loader::load(std::io::Cursor::new(METADATA_XML))
        .expect("the embedded numbering data loads"); // start-up invariant
    for meta in &mut all {
        compact_patterns(meta);
    }
    all
});

/// Removes the layout whitespace from the patterns the database compiles as regexes. They are
/// compiled in ignore-whitespace mode, so matching is unchanged; but the regex cache hashes the
/// whole pattern text on every use, and the XML's indentation made that most of a validation.
fn compact_patterns(meta: &mut loader::Metadata) {
    fn compact(p: &mut String) {
        if !p.contains("\\ ") {
            p.retain(|c| !c.is_whitespace());
        }
    }
    let descriptors = [
        &mut meta.general,
        &mut meta.fixed_line,
        &mut meta.mobile,
        &mut meta.toll_free,
        &mut meta.premium_rate,
        &mut meta.shared_cost,
        &mut meta.personal_number,
        &mut meta.voip,
        &mut meta.pager,
        &mut meta.uan,
        &mut meta.emergency,
        &mut meta.voicemail,
        &mut meta.short_code,
        &mut meta.standard_rate,
        &mut meta.carrier,
        &mut meta.no_international,
    ];
    for d in descriptors.into_iter().flatten() {
        d.national_number.iter_mut().for_each(compact);
    }
    for f in meta
        .formats
        .iter_mut()
        .chain(meta.international_formats.iter_mut())
    {
        f.pattern.iter_mut().for_each(compact);
        f.leading_digits.iter_mut().for_each(compact);
    }
    meta.international_prefix.iter_mut().for_each(compact);
    meta.national_prefix_for_parsing
        .iter_mut()
        .for_each(compact);
    meta.leading_digits.iter_mut().for_each(compact);
}

/// The numbering plans of every country, ready to validate numbers. Building one takes ~50 ms;
/// [`shared`] is there for everyday use, and a busy thread can have its own.
pub struct Numbering {
    db: Database,
}

impl Numbering {
    pub fn new() -> Numbering {
        // start-up invariant: the same metadata always compiles (a test does it).
        let db = Database::from(METADATA.clone()).expect("the embedded numbering data compiles"); // start-up invariant
        Numbering { db }
    }

    /// Parses `input` into E.164 (`+447911123456`), refusing numbers libphonenumber does not
    /// consider valid for their country.
    pub fn to_e164(&self, input: &str, region: Option<Region>) -> Result<String> {
        parse_e164(&self.db, input, region)
    }
}

impl Default for Numbering {
    fn default() -> Self {
        Numbering::new()
    }
}

/// The process-wide [`Numbering`].
pub fn shared() -> &'static Numbering {
    static SHARED: LazyLock<Numbering> = LazyLock::new(Numbering::new);
    &SHARED
}

/// A region (ISO 3166 two-letter code) used to read numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl Region {
    pub fn parse(code: &str) -> Result<Region> {
        let upper = code.trim().to_ascii_uppercase();
        upper
            .parse::<country::Id>()
            .map(Region)
            .map_err(|_| Error::InvalidRegion(code.to_string()))
    }

    pub fn code(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// Parses `input` into E.164 (`+447911123456`) with the [`shared`] numbering plans, refusing
/// numbers libphonenumber does not consider valid for their country.
pub fn to_e164(input: &str, region: Option<Region>) -> Result<String> {
    shared().to_e164(input, region)
}

/// An E.164 number as a spreadsheet keeps it: the international format with spaces
/// (`+44 7911 123456`) is text to Excel, Numbers and LibreOffice, where `+447911123456` becomes a
/// number that loses digits (`4.47911E+11`) when the file is saved again. Read back, it is the
/// same number.
pub fn for_spreadsheet(e164: &str) -> String {
    let db = &shared().db;
    phonenumber::parse_with(db, None, e164)
        .map(|n| {
            phonenumber::format_with(db, &n)
                .mode(Mode::International)
                .to_string()
        })
        .unwrap_or_else(|_| e164.to_string())
}

/// The country (ISO code) an E.164 number belongs to: `+34612345678` → `ES`, `+1 416…` → `CA`.
pub fn region_of(e164: &str) -> Option<String> {
    let db = &shared().db;
    let n = phonenumber::parse_with(db, None, e164).ok()?;
    n.metadata(db).map(|m| m.id().to_string())
}

/// The main country of an E.164 number's calling code (`+44 7911 1…`, a Guernsey number, → `GB`;
/// any `+1` → `US`): Meta prices messages by calling code.
pub fn calling_code_region(e164: &str) -> Option<String> {
    calling_code_regions(e164).and_then(|(_, r)| r.first().map(|r| r.to_string()))
}

/// An E.164 number's calling code and the countries that share it, main country first, read
/// from its first digits without parsing it (calling codes are prefix-free).
pub fn calling_code_regions(e164: &str) -> Option<(u16, Vec<&'static str>)> {
    let digits = e164.strip_prefix('+')?;
    let db: &'static Database = &shared().db;
    for len in 1..=3 {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        if let Some(regions) = db.region(&code) {
            return Some((code, regions));
        }
    }
    None
}

fn parse_e164(db: &Database, input: &str, region: Option<Region>) -> Result<String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Error::InvalidPhone {
            input: input.to_string(),
            region: None,
            reason: "it is empty".into(),
        });
    }
    // "00" is the international prefix in most of the world; people paste it from old lists.
    let owned;
    let text = match trimmed.strip_prefix("00") {
        Some(rest) if region.is_none() => {
            owned = format!("+{rest}");
            owned.as_str()
        }
        _ => trimmed,
    };
    // "(+34) 612…" is international too: look past leading brackets and spaces.
    let international = text
        .trim_start_matches(|c: char| !c.is_ascii_digit() && c != '+')
        .starts_with('+');
    if !international && region.is_none() {
        return Err(Error::NoRegion {
            input: input.to_string(),
        });
    }
    let region_code = region.map(|r| r.code());
    let invalid = |reason: &str| Error::InvalidPhone {
        input: input.to_string(),
        region: if international {
            None
        } else {
            region_code.clone()
        },
        reason: reason.to_string(),
    };
    let read = |text: &str, region: Option<country::Id>| {
        let number = phonenumber::parse_with(db, region, text)
            .map_err(|e| invalid(&parse_error_reason(&e)))?;
        if !phonenumber::is_valid_with(db, &number) {
            return Err(invalid(
                "no such number exists in its country's numbering plan",
            ));
        }
        Ok(e164(&number))
    };
    match read(text, region.map(|r| r.0)) {
        // "0044 7911…" in a list read with a region: "00" is how most of the world dials out,
        // whatever the region's own prefix is.
        Err(e) if region.is_some() => match trimmed.strip_prefix("00") {
            Some(rest) => read(&format!("+{rest}"), None).map_err(|_| e),
            None => Err(e),
        },
        other => other,
    }
}

/// E.164 is the country code and the national number's digits (with any leading zeros an Italian
/// number keeps). Written here rather than by the crate's formatter, which picks a national
/// format on every call and loads a second copy of the numbering plans (~80 ms) on its first.
fn e164(number: &phonenumber::PhoneNumber) -> String {
    let national = number.national();
    let zeros = "0".repeat(usize::from(national.zeros()));
    format!("+{}{zeros}{}", number.code().value(), national.value())
}

fn parse_error_reason(e: &phonenumber::ParseError) -> String {
    use phonenumber::ParseError as P;
    match e {
        P::NoNumber => "it contains no number".into(),
        P::InvalidCountryCode => "its country code is not one that exists".into(),
        P::TooShortAfterIdd | P::TooShortNsn => "it is too short".into(),
        P::TooLong => "it is too long".into(),
        other => other.to_string(),
    }
}

/// A number in its country's national format for display ("07911 123456").
pub fn national(e164: &str) -> String {
    let db = &shared().db;
    match phonenumber::parse_with(db, None, e164) {
        Ok(n) => phonenumber::format_with(db, &n)
            .mode(Mode::National)
            .to_string(),
        Err(_) => e164.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb() -> Option<Region> {
        Some(Region::parse("gb").unwrap())
    }

    #[test]
    fn national_and_international_forms_meet_in_e164() {
        assert_eq!(to_e164("07911 123456", gb()).unwrap(), "+447911123456");
        assert_eq!(to_e164("+44 7911 123456", None).unwrap(), "+447911123456");
        assert_eq!(to_e164("0044 7911 123456", None).unwrap(), "+447911123456");
        assert_eq!(to_e164("0044 7911 123456", gb()).unwrap(), "+447911123456");
        let us = Region::parse("us").ok();
        assert_eq!(to_e164("0033 6 12 34 56 78", us).unwrap(), "+33612345678");
        assert_eq!(to_e164("(+34) 612-34-56-78", None).unwrap(), "+34612345678");
        assert_eq!(to_e164("+1 (202) 555-0143", gb()).unwrap(), "+12025550143");
    }

    #[test]
    fn e164_is_what_the_formatter_writes() {
        let db = &shared().db;
        for (input, region) in [
            ("+39 06 1234 5678", None), // Rome: the leading zero stays
            ("+39 333 123 4567", None),
            ("07911 123456", gb()),
            ("+1 202 555 0143", None),
            ("+225 07 07 12 34 56", None), // Côte d'Ivoire: ten digits, a leading zero
            ("+55 11 91234 5678", None),
        ] {
            let n = phonenumber::parse_with(db, region.map(|r| r.0), input).unwrap();
            let crate_says = phonenumber::format_with(db, &n)
                .mode(Mode::E164)
                .to_string();
            assert_eq!(e164(&n), crate_says, "{input}");
        }
    }

    #[test]
    fn bad_numbers_say_why() {
        let e = to_e164("07911 123456", None).unwrap_err();
        assert!(matches!(e, Error::NoRegion { .. }), "{e}");
        let e = to_e164("0791 12", gb()).unwrap_err().to_string();
        assert!(e.contains("\"0791 12\"") && e.contains("region GB"), "{e}");
        assert!(to_e164("+44 1234", None).is_err());
        assert!(to_e164("not a number", gb()).is_err());
        assert!(to_e164("  ", gb()).is_err());
        assert!(Region::parse("XX").is_err());
    }

    #[test]
    fn our_numbering_data_agrees_with_the_crates_built_in_copy() {
        let ours = Numbering::new();
        for n in [
            "+447911123456",
            "+34612345678",
            "+5511912345678",
            "+12025550143",
            "+4915123456789",
            "+33612345678",
            "+393123456789",
            "+919876543210",
            "+447911",
            "+11234567890",
        ] {
            let builtin = phonenumber::parse(None, n)
                .map(|p| phonenumber::is_valid(&p))
                .unwrap_or(false);
            assert_eq!(ours.to_e164(n, None).is_ok(), builtin, "{n}");
        }
    }

    #[test]
    fn national_display() {
        assert_eq!(national("+447911123456"), "07911 123456");
    }
}

#[cfg(test)]
mod region_tests {
    #[test]
    fn the_country_of_a_number() {
        for (n, want) in [
            ("+447911100000", "GG"), // libphonenumber: 07911 1… is Guernsey
            ("+447400123456", "GB"),
            ("+34612345678", "ES"),
            ("+14165550123", "CA"),
            ("+14155552671", "US"),
            ("+61412345678", "AU"),
        ] {
            assert_eq!(super::region_of(n).as_deref(), Some(want), "{n}");
        }
        assert_eq!(
            super::calling_code_region("+447911100000").as_deref(),
            Some("GB")
        );
        assert_eq!(
            super::calling_code_region("+14165550123").as_deref(),
            Some("US")
        );
        assert_eq!(
            super::calling_code_region("+34612345678").as_deref(),
            Some("ES")
        );
    }
}
