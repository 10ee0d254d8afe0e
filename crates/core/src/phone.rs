//! Phone numbers: parsed with `phonenumber` (a port of Google's libphonenumber) and stored in
//! E.164. A national form ("07911 123456") needs a region to be read ("GB").

use phonenumber::{country, Mode};

use crate::error::{Error, Result};

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

/// Parses `input` into E.164 (`+447911123456`), refusing numbers libphonenumber does not consider
/// valid for their country.
pub fn to_e164(input: &str, region: Option<Region>) -> Result<String> {
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
    let number = phonenumber::parse(region.map(|r| r.0), text)
        .map_err(|e| invalid(&parse_error_reason(&e)))?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid(
            "no such number exists in its country's numbering plan",
        ));
    }
    Ok(number.format().mode(Mode::E164).to_string())
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
    match phonenumber::parse(None, e164) {
        Ok(n) => n.format().mode(Mode::National).to_string(),
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
        assert_eq!(to_e164("(+34) 612-34-56-78", None).unwrap(), "+34612345678");
        assert_eq!(to_e164("+1 (202) 555-0143", gb()).unwrap(), "+12025550143");
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
    fn national_display() {
        assert_eq!(national("+447911123456"), "07911 123456");
    }
}
