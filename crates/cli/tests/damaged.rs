//! A damaged database: found by the full check or met while working, kept as a verdict beside
//! the file, and refused by every writer with the same sentence until a checked backup
//! replaces it.

mod support;

use support::Cli;

/// A shop with 3,000 customers, a good backup, then 512 bytes of the file scrambled (a disk
/// fault under an encrypted page).
fn damaged_shop() -> (Cli, std::path::PathBuf) {
    let cli = Cli::new();
    cli.ok(&["config", "set", "default_region", "GB"]);
    let mut csv = String::from("phone,name,marketing\n");
    for i in 0..3000 {
        csv += &format!("+4479{i:08},Customer number {i} with a longer name,yes\n");
    }
    let f = cli.file("more.csv", csv.as_bytes());
    cli.ok(&[
        "contacts",
        "import",
        "--source",
        "fair",
        f.to_str().unwrap(),
    ]);
    let good = cli.dir.path().join("good.sqlite3");
    cli.ok(&["backup", good.to_str().unwrap()]);
    let mut bytes = std::fs::read(cli.db()).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 512] {
        *b ^= 0x5A;
    }
    std::fs::write(cli.db(), bytes).unwrap();
    (cli, good)
}

fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Every command that writes, as an owner or a script would run it.
fn writers(cli: &Cli) -> Vec<Vec<String>> {
    let csv = cli.file("new.csv", b"phone,name\n+447911123459,Dee\n");
    [
        "consent set +447900000001 --topic marketing --state opted_out --source phone",
        "contacts add +447911123458 --name Eve",
        "contacts edit +447900000002 --name Renamed",
        "contacts erase +447900000003 --yes",
        "config set business_name Sol",
        "retention apply",
        &format!("backup {}", cli.dir.path().join("copy.sqlite3").display()),
        &format!("contacts import {}", csv.display()),
    ]
    .iter()
    .map(|c| c.split(' ').map(String::from).collect())
    .collect()
}

#[test]
fn a_damaged_database_is_refused_by_every_writer_with_one_sentence() {
    let (cli, good) = damaged_shop();
    // The receiver checks a file never checked before it starts, and leaves the verdict.
    let o = cli
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .env("OPTDESK_APP_SECRET", "s")
        .env("OPTDESK_VERIFY_TOKEN", "v")
        .output()
        .unwrap();
    let sentence = first_line(&o.stderr);
    assert!(
        !o.status.success()
            && sentence.contains("is damaged (SQLite")
            && sentence.contains("optdesk restore"),
        "{sentence}"
    );
    assert!(
        sentence.matches("Tree ").count() <= 1,
        "the first problem, not the page list: {sentence}"
    );
    let verdict = cli.db().with_extension("sqlite3.integrity");
    assert!(verdict.exists(), "the verdict is kept beside the file");

    for args in writers(&cli) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cli.run(&args);
        assert!(!o.status.success(), "{args:?} wrote into a damaged file");
        assert_eq!(first_line(&o.stderr), sentence, "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).lines().count(),
            1,
            "{args:?}: one sentence"
        );
    }
    // The detail is there for whoever restores, on request.
    let o = cli.run(&["--verbose", "config", "set", "business_name", "Sol"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("SQLite's own words (SQLite's full check"),
        "{err}"
    );
    assert!(err.lines().count() > 2, "{err}");
    // `check` says the same and fails; the audit too.
    let o = cli.run(&["check"]);
    assert!(!o.status.success());
    assert!(cli.run(&["audit"]).status.code() == Some(1));

    let out = cli.ok(&["restore", good.to_str().unwrap()]);
    assert!(out.contains("the ledger verifies"), "{out}");
    assert!(cli.ok(&["audit"]).contains("ok   integrity"));
    cli.ok(&["config", "set", "business_name", "Sol"]);
    cli.ok(&["consent", "verify"]);
    assert!(cli.ok(&["check"]).contains("The database is sound"));
}

#[test]
fn a_damaged_page_met_by_any_command_stops_the_writers_after_it() {
    let (cli, _good) = damaged_shop();
    // Never checked: a one-shot command does not pay for a full check...
    let o = cli.run(&["consent", "verify"]);
    assert!(!o.status.success(), "the ledger cannot be read through");
    // ...but the damaged page it met marks the file, so the next writer stops.
    let o = cli.run(&["config", "set", "business_name", "Sol"]);
    let err = first_line(&o.stderr);
    assert!(!o.status.success() && err.contains("is damaged"), "{err}");
}

#[test]
fn a_sound_file_is_checked_once_and_writers_only_read_the_verdict() {
    let cli = Cli::new();
    cli.ok(&["contacts", "add", "+447911123456"]);
    let v = cli.json(&["check", "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["how"], "full");
    cli.ok(&["contacts", "add", "+447911123457"]);
    let again = cli.json(&["check", "--json"]);
    assert_ne!(
        again["checked_at"], v["checked_at"],
        "a check is a new verdict"
    );
}
