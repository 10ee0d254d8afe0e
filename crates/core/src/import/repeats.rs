//! Which rows of a file may be the same number written again, found before any is parsed.

use std::collections::HashMap;

use super::read;
use super::row::Layout;

/// For each record, whether another record in the file might be the same number.
///
/// Every way of writing a number (07911 123456, +44 7911 123456, 0044…) ends in the same
/// digits, so records whose last six digits are unique in the file cannot repeat and are written
/// as soon as they are parsed; the others wait until the whole file is read and are merged per
/// number. The grouping only decides *when* a row is written: what may be written (never an
/// opt-in over an opt-out) is decided at write time, so a wrong guess could never break it.
pub(super) fn may_recur(records: &[read::Record], layout: &Layout) -> Vec<bool> {
    let keys: Vec<u64> = records
        .iter()
        .map(|r| suffix_key(layout.phone_cell(r)))
        .collect();
    let mut counts: HashMap<u64, u32> = HashMap::with_capacity(keys.len());
    for k in &keys {
        *counts.entry(*k).or_default() += 1;
    }
    keys.iter().map(|k| counts[k] > 1).collect()
}

/// The last six digits of a phone cell, before any extension ("ext. 12", "x12", "#12").
fn suffix_key(cell: &str) -> u64 {
    // Words before the number ("Mobile: 07911…") are not where an extension starts.
    let main = cell
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(|c: char| c.is_alphabetic() || c == '#')
        .next()
        .unwrap_or("");
    let mut key = 0u64;
    let mut digits = 0u32;
    for b in main.bytes().rev().filter(u8::is_ascii_digit).take(6) {
        key += u64::from(b - b'0') * 10u64.pow(digits);
        digits += 1;
    }
    key + u64::from(digits) * 1_000_000 // "12" and "000012" are different keys
}

#[cfg(test)]
mod tests {
    use super::suffix_key;

    #[test]
    fn every_way_of_writing_a_number_shares_its_key() {
        let k = suffix_key("+447911123456");
        for form in [
            "07911 123456",
            "0044 (0)7911-123456",
            "+44 7911 123456 ext. 12",
            "7911123456 #3",
            "Mobile\t07911 123456",
        ] {
            assert_eq!(suffix_key(form), k, "{form}");
        }
        assert_ne!(suffix_key("12"), suffix_key("000012"));
        assert_ne!(suffix_key("+447911123457"), k);
    }
}
