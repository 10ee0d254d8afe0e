//! A realistic contacts CSV, shared by the benchmark and the generator example.

/// `n` rows (plus a header): numbers in four national and international forms, names, tags, both
/// topics with a source and date; every tenth row opted out of marketing.
pub fn contacts_csv(n: usize) -> String {
    let mut out = String::with_capacity(n * 90);
    out.push_str("phone,name,tags,marketing,utility,consent_source,consent_at\n");
    for i in 0..n {
        let sub = format!("{:06}", i % 1_000_000);
        // UK mobile blocks 07400–07499: every number in them is valid (in 07700, numbers from
        // 07700 200000 are not, which made a million-row file half rejections).
        let block = 7400 + (i / 1_000_000) % 100;
        let phone = match i % 4 {
            0 => format!("0{block} {sub}"),
            1 => format!("+44 {block} {sub}"),
            2 => format!("+44{block}{sub}"),
            _ => format!("0{block}-{}-{}", &sub[..3], &sub[3..]),
        };
        let marketing = if i % 10 == 0 { "no" } else { "yes" };
        let tags = [
            "vip",
            "regulars",
            "wholesale;vip",
            "",
            "newsletter|regulars",
        ][i % 5];
        out.push_str(&format!(
            "{phone},Customer {i},{tags},{marketing},yes,Summer fair sign-up sheet,2026-03-01\n"
        ));
    }
    out
}
