//! What a broadcast will cost, from a rate card kept as data (`rate_card`, `rate_card_source`,
//! owned here).
//!
//! Meta publishes its rates per market and category as a downloadable table; the owner imports
//! it (`optdesk pricing import FILE`). OptDesk ships none — its developers could not source the
//! current table where this build was made — so until one is imported the preview says that no
//! rate card is loaded instead of guessing.
//!
//! The file: CSV with a header naming the market (`Market`, `Country`), optionally its
//! `Countries` (ISO codes, for markets such as "Rest of Western Europe"), optionally the
//! `Currency` (USD when absent), and a column per category (`Marketing`, `Utility`,
//! `Authentication`, `Service`; words after the category, such as "Marketing rate", are fine).
//! A market named by a single country ("Spain", "ES") needs no `Countries`; "North America" is the
//! US and Canada; "Other" or "Rest of world" prices every market the card does not name. A file
//! with any line OptDesk cannot read is refused whole, every problem named by line: a rate card
//! half imported would give wrong estimates.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::time;

const CATEGORIES: [&str; 4] = ["marketing", "utility", "authentication", "service"];

struct Line {
    region: String,
    market: String,
    category: &'static str,
    rate: f64,
    currency: String,
}

fn rate_of(cell: &str) -> Option<Option<f64>> {
    let c = cell.trim().trim_start_matches(['$', '€', '£', '₹']).trim();
    if c.is_empty() || c.eq_ignore_ascii_case("n/a") || c == "-" {
        return Some(None);
    }
    let c = if c.contains(',') && !c.contains('.') {
        c.replace(',', ".")
    } else {
        c.to_string()
    };
    c.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .map(Some)
}

fn regions_of(market: &str, countries: Option<&str>) -> std::result::Result<Vec<String>, String> {
    if let Some(list) = countries.filter(|c| !c.trim().is_empty()) {
        let mut out = Vec::new();
        for code in list.split([' ', ',', ';', '|']).filter(|c| !c.is_empty()) {
            match crate::phone::Region::parse(code) {
                Ok(r) => out.push(r.code()),
                Err(_) => return Err(format!("{code:?} in Countries is not an ISO country code")),
            }
        }
        return Ok(out);
    }
    let folded = market.trim().to_ascii_lowercase();
    match folded.as_str() {
        "north america" => return Ok(vec!["US".into(), "CA".into()]),
        "other" | "others" | "rest of world" | "rest of the world" | "*" => {
            return Ok(vec!["*".into()])
        }
        _ => {}
    }
    if let Some(code) = crate::import::country_code(market) {
        return Ok(vec![code]);
    }
    Err(format!(
        "the market {market:?} is not one country OptDesk knows: name its countries in a Countries column (ISO codes such as AT BE CH)"
    ))
}

fn read(bytes: &[u8]) -> Result<Vec<Line>> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let delimiter = if text
        .lines()
        .next()
        .is_some_and(|l| l.matches(';').count() > l.matches(',').count())
    {
        b';'
    } else {
        b','
    };
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| Error::invalid(format!("the rate card's header cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let market =
        find(&["market", "country", "market name", "country/region"]).ok_or_else(|| {
            Error::invalid(
                "the rate card has no Market column (the market or country each row prices)",
            )
        })?;
    let countries = find(&["countries", "country codes", "iso codes"]);
    let currency = find(&["currency"]);
    let columns: Vec<(usize, &'static str)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let first = h.split([' ', '-', '_', '(']).next().unwrap_or("");
            // "Authentication-International" is a different price, for other cases.
            (!h.contains("international"))
                .then(|| CATEGORIES.iter().find(|c| **c == first).map(|c| (i, *c)))
                .flatten()
        })
        .collect();
    if columns.is_empty() {
        return Err(Error::invalid(
            "the rate card has no category columns (Marketing, Utility, Authentication, Service)",
        ));
    }
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut currencies = std::collections::BTreeSet::new();
    for (n, rec) in r.records().enumerate() {
        let line = n + 2;
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let name = rec.get(market).unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let regions = match regions_of(name, countries.and_then(|c| rec.get(c))) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let cur = currency
            .and_then(|c| rec.get(c))
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "USD".into());
        currencies.insert(cur.clone());
        for (i, category) in &columns {
            match rate_of(rec.get(*i).unwrap_or("")) {
                None => problems.push(format!(
                    "line {line}: the {category} rate {:?} is not a price",
                    rec.get(*i).unwrap_or("")
                )),
                Some(None) => {}
                Some(Some(rate)) => {
                    for region in &regions {
                        lines.push(Line {
                            region: region.clone(),
                            market: name.to_string(),
                            category,
                            rate,
                            currency: cur.clone(),
                        });
                    }
                }
            }
        }
    }
    if currencies.len() > 1 {
        problems.push(format!(
            "the rate card mixes currencies ({}); import one table in one currency",
            currencies.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(Error::invalid(format!(
            "the rate card was not imported (nothing changed): {}",
            problems.join("; ")
        )));
    }
    if lines.is_empty() {
        return Err(Error::invalid("the rate card has no rates"));
    }
    Ok(lines)
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Card {
    pub source: String,
    pub effective: String,
    pub imported_at: String,
    pub currency: String,
    /// Markets (as the card names them) and the number of rates.
    pub markets: usize,
    pub rates: usize,
}

/// Replaces the rate card with the one in `bytes`; `source` says where it came from, and
/// `effective` from when its rates apply (a date).
pub fn import(store: &mut Store, bytes: &[u8], source: &str, effective: &str) -> Result<Card> {
    if source.trim().is_empty() {
        return Err(Error::invalid(
            "say where the rate card comes from (--source, e.g. \"Meta rate card, downloaded 2026-11-30\")",
        ));
    }
    let effective = time::parse_user(effective)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .ok_or_else(|| Error::invalid(format!("{effective:?} is not a date such as 2026-10-01")))?;
    let lines = read(bytes)?;
    let sha = hex::encode(Sha256::digest(bytes));
    store.with_tx(|tx| {
        tx.execute("DELETE FROM rate_card", [])?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO rate_card (region, market, category, rate, currency) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (region, category) DO UPDATE SET market = excluded.market, rate = excluded.rate",
        )?;
        for l in &lines {
            ins.execute(params![l.region, l.market, l.category, l.rate, l.currency])?;
        }
        tx.execute(
            "INSERT INTO rate_card_source (id, source, effective, file_sha256, imported_at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, effective = excluded.effective,
                file_sha256 = excluded.file_sha256, imported_at = excluded.imported_at",
            params![source.trim(), effective, sha, time::to_db(&time::now())],
        )?;
        Ok(())
    })?;
    card(store.conn())?.ok_or_else(|| Error::invalid("the rate card was not stored"))
}

pub fn card(db: &impl crate::store::Db) -> Result<Option<Card>> {
    let conn = db.connection();
    let Some((source, effective, imported_at)) = conn
        .query_row(
            "SELECT source, effective, imported_at FROM rate_card_source WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let (markets, rates, currency): (usize, usize, Option<String>) = conn.query_row(
        "SELECT count(DISTINCT market), count(*), max(currency) FROM rate_card",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Some(Card {
        source,
        effective,
        imported_at,
        currency: currency.unwrap_or_default(),
        markets,
        rates,
    }))
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MarketCost {
    pub market: String,
    pub recipients: u64,
    pub rate: f64,
    pub cost: f64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub currency: String,
    pub total: f64,
    pub by_market: Vec<MarketCost>,
    /// Recipients in markets the card prices neither by name nor by "Other".
    pub unpriced: u64,
    pub card: Card,
}

/// The cost of sending a `category` template to `phones` (those the gate lets through: held
/// back, US marketing included, is not counted), or `None` when no rate card is loaded.
pub fn estimate<'a>(
    conn: &Connection,
    category: &str,
    phones: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Estimate>> {
    let Some(card) = card(conn)? else {
        return Ok(None);
    };
    let category = match category.to_ascii_lowercase().as_str() {
        c @ ("utility" | "authentication" | "service") => c.to_string(),
        _ => "marketing".to_string(), // unknown categories are gated, and priced, as marketing
    };
    let rates: BTreeMap<String, (String, f64)> = conn
        .prepare("SELECT region, market, rate FROM rate_card WHERE category = ?1")?
        .query_map([&category], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut by: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let mut unpriced = 0;
    for phone in phones {
        // Meta prices by the country calling code: a country the card names, else the main
        // country of its calling code (Guernsey's +44 is the United Kingdom's), else "Other".
        // The number is parsed only where its own country matters: a shared calling code whose
        // other countries the card prices apart. (US marketing is held back by the gate before
        // it gets here, as are WhatsApp's other holds.)
        let Some((_, regions)) = crate::phone::calling_code_regions(phone) else {
            unpriced += 1;
            continue;
        };
        let main = regions.first().copied().unwrap_or_default().to_string();
        let own = regions.len() > 1 && regions[1..].iter().any(|r| rates.contains_key(*r));
        let region = if own {
            crate::phone::region_of(phone).unwrap_or_else(|| main.clone())
        } else {
            main.clone()
        };
        match rates
            .get(&region)
            .or_else(|| rates.get(&main))
            .or_else(|| rates.get("*"))
        {
            Some((market, rate)) => {
                let e = by.entry(market.clone()).or_insert((0, *rate));
                e.0 += 1;
            }
            None => unpriced += 1,
        }
    }
    let by_market: Vec<MarketCost> = by
        .into_iter()
        .map(|(market, (n, rate))| MarketCost {
            market,
            recipients: n,
            rate,
            cost: n as f64 * rate,
        })
        .collect();
    Ok(Some(Estimate {
        currency: card.currency.clone(),
        total: by_market.iter().map(|m| m.cost).sum(),
        by_market,
        unpriced,
        card,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_as_rate_cards_write_them() {
        assert_eq!(rate_of("$0.0618"), Some(Some(0.0618)));
        assert_eq!(rate_of("0,0618"), Some(Some(0.0618)));
        assert_eq!(rate_of("n/a"), Some(None));
        assert_eq!(rate_of(""), Some(None));
        assert_eq!(rate_of("cheap"), None);
        assert_eq!(rate_of("-1"), None);
    }

    #[test]
    fn markets_by_name_by_list_or_the_rest() {
        assert_eq!(regions_of("Spain", None).unwrap(), vec!["ES"]);
        assert_eq!(regions_of("North America", None).unwrap(), vec!["US", "CA"]);
        assert_eq!(regions_of("Other", None).unwrap(), vec!["*"]);
        assert_eq!(
            regions_of("Rest of Western Europe", Some("AT BE, CH")).unwrap(),
            vec!["AT", "BE", "CH"]
        );
        let e = regions_of("Rest of Western Europe", None).unwrap_err();
        assert!(e.contains("Countries column"), "{e}");
        assert!(regions_of("X", Some("ZZZ")).is_err());
    }
}
