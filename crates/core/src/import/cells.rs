//! A cell as the owner meant it: a spreadsheet's text mark taken off, Excel's rounded numbers
//! caught, the one number among several, and the number read with the row's own country.

use super::country::{self, CountryCell};
use crate::phone::{Numbering, Region};

/// Takes off the `'` that marks a cell as text in a spreadsheet (what `contacts export` puts
/// before a cell that would run as a formula, and what Shopify puts before long ids).
pub(super) fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if rest.starts_with(['=', '+', '-', '@'])
                || rest.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => cell,
    }
}

/// `4.47911E+11`: Excel's scientific notation, which has already lost digits.
pub(super) fn scientific(cell: &str) -> bool {
    let c = cell.trim().to_ascii_uppercase();
    let Some((mantissa, exp)) = c.split_once("E+") else {
        return false;
    };
    !mantissa.is_empty()
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
}

/// The one number a cell means: the first of several (Google's " ::: ", " / ", ", "), without an
/// extension ("x123", "ext. 12"), each with a note.
pub(super) fn first_number<'c>(cell: &'c str, line: u64, notes: &mut Vec<String>) -> &'c str {
    let mut number = cell.trim();
    for sep in [":::", " / ", ", ", ";"] {
        if let Some((first, _)) = number.split_once(sep) {
            notes.push(format!(
                "line {line}: the cell holds several numbers; the first was taken"
            ));
            number = first.trim();
            break;
        }
    }
    let lower = number.to_ascii_lowercase();
    for mark in ["extension", "ext.", "ext", " x", "x", "#"] {
        if let Some(i) = lower.rfind(mark) {
            let (main, ext) = (&number[..i], &lower[i + mark.len()..]);
            let ext = ext.trim();
            if i > 0
                && !ext.is_empty()
                && ext.bytes().all(|b| b.is_ascii_digit())
                && main.chars().filter(char::is_ascii_digit).count() >= 6
            {
                notes.push(format!("line {line}: the extension {:?} was dropped", ext));
                return main.trim_end_matches([' ', ',', '-']).trim();
            }
        }
    }
    number
}

/// A number as the row means it: with the row's own country (an ISO code, a name or a calling
/// code) before the default region; digits that already begin with a country code
/// (`33612345678`) are read as international when they are not a number of the region.
pub(super) fn read_number(
    numbering: &Numbering,
    raw: &str,
    country: Option<&str>,
    region: Option<Region>,
) -> crate::error::Result<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let international = raw.trim_start().starts_with('+') || raw.trim_start().starts_with("00");
    let country = country.and_then(country::country);
    if !international {
        if let Some(CountryCell::CallingCode(code)) = &country {
            let national = digits.trim_start_matches('0');
            let candidate = if digits.starts_with(code.as_str())
                && numbering.to_e164(&format!("+{digits}"), None).is_ok()
            {
                format!("+{digits}")
            } else {
                format!("+{code}{national}")
            };
            return numbering.to_e164(&candidate, None);
        }
    }
    let row_region = match country {
        Some(CountryCell::Region(r)) => Some(r),
        _ => region,
    };
    match numbering.to_e164(raw, row_region) {
        Ok(p) => Ok(p),
        Err(e) if !international && !digits.starts_with('0') && digits.len() >= 10 => numbering
            .to_e164(&format!("+{digits}"), None)
            .map_err(|_| e),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spreadsheets_text_mark_is_taken_off() {
        assert_eq!(unguard("'+44 7911 123456"), "+44 7911 123456");
        assert_eq!(unguard("'=HYPERLINK()"), "=HYPERLINK()");
        assert_eq!(unguard("'7012345678901"), "7012345678901");
        assert_eq!(unguard("O'Brien"), "O'Brien");
        assert_eq!(unguard("'twas"), "'twas");
    }

    #[test]
    fn cells_as_the_owner_meant_them() {
        assert!(scientific("4.47911E+11") && scientific("4,47911e+11") && !scientific("+44 7911"));
        let mut notes = Vec::new();
        assert_eq!(
            first_number("+44 7911 123456 ::: +44 20 7946 0018", 2, &mut notes),
            "+44 7911 123456"
        );
        assert_eq!(
            first_number("07911 123456 / 020 7946 0018", 2, &mut notes),
            "07911 123456"
        );
        assert_eq!(
            first_number("020 7946 0018 x123", 2, &mut notes),
            "020 7946 0018"
        );
        assert_eq!(
            first_number("020 7946 0018 ext. 12", 2, &mut notes),
            "020 7946 0018"
        );
        assert_eq!(
            first_number("+44 7911 123456", 2, &mut notes),
            "+44 7911 123456"
        );
        assert_eq!(notes.len(), 4, "{notes:?}");
    }
}
