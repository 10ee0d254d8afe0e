//! The first pass over a file, before any row is imported: which rows may be the same number
//! written again, where the numbers come from, and whether the consent columns hold consent.

use super::cells::first_number;
use super::read::ConsentCheck;
use super::row::Layout;
use super::source::Source;
use crate::error::Result;

/// What the first pass learnt.
pub(super) struct Scan {
    /// Per row, whether another row of the file might be the same number.
    pub may_recur: Vec<bool>,
    /// Per phone column (in the layout's order), how many rows take their number from it.
    pub from_column: Vec<u64>,
}

/// Reads every row once; a consent column whose cells are not consent values is set aside in
/// `source.header` (see [`ConsentCheck`]).
pub(super) fn scan(source: &mut Source<'_>) -> Result<Scan> {
    // Only the phone columns of this layout are used, and the consent check cannot change them.
    let layout = Layout::new(&source.header, "");
    let mut check = ConsentCheck::new(&source.header);
    let mut keys = Vec::new();
    let mut from_column = vec![0u64; layout.phones.len()];
    for rec in source.rows() {
        let rec = rec?;
        check.observe(&rec);
        let best = layout.best_phone(&rec);
        if let Some((n, _)) = best {
            from_column[n] += 1;
        }
        keys.push(suffix_key(
            best.map_or("", |(_, v)| first_number(v, 0, &mut Vec::new())),
        ));
    }
    check.apply(&mut source.header, &mut source.warnings);
    Ok(Scan {
        may_recur: may_recur(&keys),
        from_column,
    })
}

/// For each row's key, whether another row has the same one.
///
/// Every way of writing a number (07911 123456, +44 7911 123456, 0044…) ends in the same
/// digits, so rows whose last eight digits are unique in the file cannot repeat and are written
/// as soon as they are parsed; the others wait until the whole file is read and are merged per
/// number. Eight digits leave about 1% of a million random numbers waiting (six left 63%). The
/// grouping only decides *when* a row is written: what may be written (never an opt-in over an
/// opt-out) is decided at write time, so a wrong guess could never break it.
fn may_recur(keys: &[u64]) -> Vec<bool> {
    let mut order: Vec<(u64, u32)> = keys.iter().zip(0u32..).map(|(k, i)| (*k, i)).collect();
    order.sort_unstable();
    let mut out = vec![false; keys.len()];
    for same in order.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (_, i) in same {
            out[*i as usize] = true;
        }
    }
    out
}

/// The last eight digits of a phone cell, before any extension ("ext. 12", "x12", "#12").
pub(super) fn suffix_key(cell: &str) -> u64 {
    // Words before the number ("Mobile: 07911…") are not where an extension starts.
    let main = cell
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(|c: char| c.is_alphabetic() || c == '#')
        .next()
        .unwrap_or("");
    let mut key = 0u64;
    let mut digits = 0u32;
    for b in main.bytes().rev().filter(u8::is_ascii_digit).take(8) {
        key += u64::from(b - b'0') * 10u64.pow(digits);
        digits += 1;
    }
    key + u64::from(digits) * 100_000_000 // "12" and "000012" are different keys
}

#[cfg(test)]
mod tests {
    use super::{may_recur, suffix_key};

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
        assert_ne!(suffix_key("+447900123456"), k);
    }

    #[test]
    fn only_rows_sharing_a_key_may_recur() {
        assert_eq!(
            may_recur(&[5, 7, 5, 9, 7, 7]),
            vec![true, true, true, false, true, true]
        );
        assert!(may_recur(&[]).is_empty());
    }
}
