//! The rate card and the cost estimate, through the real binary: a broadcast's preview over a
//! mixed-country audience costs what a hand computation from the card says.

mod support;

use support::broadcasts::Env;

const CARD: &str = "\
Market,Countries,Currency,Marketing,Utility,Authentication,Authentication-International,Service
United Kingdom,,USD,$0.0529,$0.0220,$0.0358,,$0.00
Spain,,USD,0.0615,0.0200,0.0283,,0
North America,,USD,0.0250,0.0034,0.0135,,0
Rest of Western Europe,AT BE CH DE,USD,0.0592,0.0296,0.0460,0.0700,0
";

#[test]
fn the_preview_costs_a_mixed_audience_from_the_imported_card_and_says_when_there_is_none() {
    let env = Env::new();
    env.audience(3); // three UK numbers, tagged vip
    let csv = "phone,name,tags,marketing,utility,consent_source\n\
        +34612345678,Ana,vip,yes,yes,fair\n+34612345679,Bea,vip,yes,yes,fair\n\
        +4915112345678,Dirk,vip,yes,yes,fair\n\
        +14155552671,Sam,vip,yes,yes,fair\n+16502530000,Lee,vip,yes,yes,fair\n\
        +14165550123,Chloe,vip,yes,yes,fair\n+61412345678,Kylie,vip,yes,yes,fair\n";
    let f = env.file("mixed.csv", csv.as_bytes());
    let r = env.json(&["contacts", "import", f.to_str().unwrap(), "--json"]);
    assert_eq!(r["added"], 7, "{r}");
    let id = env.create(&[]);

    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    assert!(p["cost"].is_null());
    assert!(
        p["warnings"].to_string().contains("no rate card is loaded"),
        "{p}"
    );

    // A region without its countries is refused whole, by line, and nothing changes.
    let bad = env.file(
        "bad.csv",
        b"Market,Marketing\nSpain,0.0615\nRest of Western Europe,0.0592\nItaly,cheap\n",
    );
    let e = env.fails(&[
        "pricing",
        "import",
        bad.to_str().unwrap(),
        "--source",
        "test",
        "--effective",
        "2026-10-01",
    ]);
    assert!(
        e.contains("line 3") && e.contains("Countries column"),
        "{e}"
    );
    assert!(e.contains("line 4") && e.contains("is not a price"), "{e}");
    assert!(env
        .ok(&["pricing", "show"])
        .contains("No rate card is loaded"));

    let card = env.file("card.csv", CARD.as_bytes());
    let out = env.ok(&[
        "pricing",
        "import",
        card.to_str().unwrap(),
        "--source",
        "Meta rate card (test copy)",
        "--effective",
        "2026-10-01",
    ]);
    assert!(out.contains("for 4 markets in USD"), "{out}");
    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    let c = &p["cost"];
    // By hand: 3 UK × 0.0529 + 2 ES × 0.0615 + 1 DE × 0.0592 + 1 CA × 0.0250 (North America);
    // the 2 US numbers are held back (WhatsApp delivers no marketing to them) and so not
    // counted, and Australia is unpriced.
    let want = 3.0 * 0.0529 + 2.0 * 0.0615 + 0.0592 + 0.0250;
    assert!((c["total"].as_f64().unwrap() - want).abs() < 1e-9, "{c}");
    let held = p["by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "held_back")
        .unwrap_or_else(|| panic!("{p}"));
    assert_eq!(held["count"], 2);
    assert_eq!(c["unpriced"], 1, "{c}");
    assert_eq!(c["card"]["effective"], "2026-10-01");
    let markets: Vec<(&str, u64)> = c["by_market"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["market"].as_str().unwrap(),
                m["recipients"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        markets,
        vec![
            ("North America", 1),
            ("Rest of Western Europe", 1),
            ("Spain", 2),
            ("United Kingdom", 3)
        ]
    );
    let text = env.ok(&["broadcast", "preview", &id]);
    assert!(text.contains("It will cost about 0.37 USD"), "{text}");

    // A utility template is priced at the utility rates, US numbers included.
    let u = env.ok(&[
        "broadcast",
        "create",
        "--template",
        "order_ready",
        "--language",
        "en_GB",
    ]);
    let p = env.json(&["broadcast", "preview", u.trim(), "--json"]);
    let want = 3.0 * 0.0220 + 2.0 * 0.0200 + 0.0296 + 3.0 * 0.0034;
    assert!(
        (p["cost"]["total"].as_f64().unwrap() - want).abs() < 1e-9,
        "{p}"
    );
}
