//! The default keyword rules against the shared table of fifty real-looking messages.

use optdesk_core::keywords::Rules;

#[test]
fn every_case_in_keyword_cases_tsv() {
    let table = include_str!("data/keyword-cases.tsv");
    let rules = Rules::default();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (text, want) = line.rsplit_once('\t').expect("text<TAB>class");
        let got = rules.classify(text);
        if got.class.as_str() != want {
            wrong.push(format!(
                "{text:?}: want {want}, got {} ({:?}, {})",
                got.class.as_str(),
                got.matched,
                got.rule
            ));
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} cases read");
    assert!(
        wrong.is_empty(),
        "{} of {checked} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_deciding_word_is_named() {
    let v = Rules::default().classify("Darme de BAJA!!");
    assert_eq!(v.matched.as_deref(), Some("darme de baja"));
    let v = Rules::default().classify("cancel my order please");
    assert_eq!(
        (v.class.as_str(), v.matched.as_deref()),
        ("review", Some("cancel"))
    );
}
