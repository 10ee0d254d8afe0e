//! The real `optdesk` binary on temporary database files.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod support;

struct Env(support::Cli);

impl std::ops::Deref for Env {
    type Target = support::Cli;
    fn deref(&self) -> &support::Cli {
        &self.0
    }
}

impl Env {
    fn new() -> Env {
        Env(support::Cli::new())
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

const MESSY: &[u8] = b"\xef\xbb\xbfNAME;Phone;tags;marketing;utility;consent_source;consent_text\r\n\
\r\n\
\"Lopez; Ana\";07911 123456;vip|regulars;yes;yes;Summer fair;\"Yes, send me offers; \"\"Bakery Sol\"\"\"\r\n\
Ben;+44 7911 123457;;no;;;\r\n\
\"Chlo\xc3\xa9\nsecond line\";0034 612 34 56 78;vip;;;;\r\n\
Dan;0791 12;;yes;;fair;\r\n\
\r\n\
Eve;07911 123458;;maybe;;fair;\r\n\
Ana;+447911123456;;;;;\r\n";

#[test]
fn a_messy_csv_imports_with_line_numbers_for_the_bad_rows() {
    let env = Env::new();
    let f = env.file("customers.csv", MESSY);
    let r = env.json(&["contacts", "import", path(&f), "--region", "GB", "--json"]);
    assert_eq!(
        (r["added"].as_u64(), r["rejected"].as_u64()),
        (Some(3), Some(2)),
        "{r:#}"
    );
    let lines: Vec<u64> = r["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [7, 9]);
    assert_eq!(r["events"], 3);

    let list = env.json(&["contacts", "list", "--json"]);
    let ana = &list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == "+447911123456")
        .unwrap();
    assert_eq!(ana["name"], "Ana");
    assert_eq!(ana["tags"], serde_json::json!(["regulars", "vip"]));
    assert_eq!(
        (ana["marketing"].as_str(), ana["utility"].as_str()),
        (Some("opted_in"), Some("opted_in"))
    );
    let chloe = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == "+34612345678")
        .unwrap();
    assert_eq!(
        (chloe["marketing"].as_str(), chloe["name"].as_str()),
        (Some("unknown"), Some("Chloé\nsecond line"))
    );

    let human = env.ok(&["contacts", "import", path(&f), "--region", "GB"]);
    assert!(
        human.contains("0 added, 0 updated, 3 unchanged, 0 blocked, 2 rejected"),
        "{human}"
    );
    assert!(
        human.contains("line 9 07911 123458: marketing: \"maybe\""),
        "{human}"
    );
}

#[test]
fn a_dry_run_writes_nothing() {
    let env = Env::new();
    let f = env.file("c.csv", MESSY);
    let r = env.json(&[
        "contacts",
        "import",
        path(&f),
        "--region",
        "GB",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(
        (r["dry_run"].as_bool(), r["added"].as_u64()),
        (Some(true), Some(3))
    );
    assert_eq!(
        env.json(&["contacts", "list", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn consent_set_show_and_the_filters() {
    let env = Env::new();
    env.ok(&["config", "set", "default_region", "GB"]);
    env.ok(&[
        "contacts",
        "add",
        "07911 123456",
        "--name",
        "Ana",
        "--tag",
        "vip",
    ]);
    env.ok(&["contact", "add", "07911 123457"]);
    let err = env.fails(&["contacts", "add", "+447911123456"]);
    assert!(err.contains("already a contact"), "{err}");
    let err = env.fails(&[
        "consent",
        "set",
        "07911123456",
        "--topic",
        "marketing",
        "--state",
        "opted_in",
        "--source",
        "till",
    ]);
    assert!(err.contains("needs proof"), "{err}");
    env.ok(&[
        "consent",
        "set",
        "07911123456",
        "--topic",
        "marketing",
        "--state",
        "opted_in",
        "--source",
        "In store",
        "--proof",
        "Yes to offers from Bakery Sol",
        "--at",
        "2026-03-01 10:00",
    ]);
    let out = env.ok(&[
        "consent",
        "set",
        "07911123456",
        "--topic",
        "marketing",
        "--state",
        "opted_in",
        "--source",
        "again",
        "--proof",
        "x",
    ]);
    assert!(out.contains("already opted_in"), "{out}");
    env.ok(&[
        "consent",
        "set",
        "+447911123457",
        "--topic",
        "utility",
        "--state",
        "opted_out",
        "--source",
        "phone call",
    ]);
    env.ok(&[
        "contacts",
        "edit",
        "07911123456",
        "--tag",
        "regulars",
        "--untag",
        "vip",
        "--name",
        "Ana L",
    ]);

    let show = env.json(&["contacts", "show", "07911123456", "--json"]);
    assert_eq!(
        (show["name"].as_str(), show["marketing"].as_str()),
        (Some("Ana L"), Some("opted_in"))
    );
    assert_eq!(show["tags"], serde_json::json!(["regulars"]));
    let h = &show["history"][0];
    assert_eq!(
        (h["source_kind"].as_str(), h["source_detail"].as_str()),
        (Some("in_store"), Some("In store"))
    );
    assert_eq!(h["occurred_at"], "2026-03-01T10:00:00.000000Z");
    assert_eq!(h["proof"], "Yes to offers from Bakery Sol");

    let phones = |args: &[&str]| -> Vec<String> {
        env.json(args)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["phone"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        phones(&["contacts", "list", "--json", "--marketing", "opted_in"]),
        ["+447911123456"]
    );
    assert_eq!(
        phones(&["contacts", "list", "--json", "--marketing", "unknown"]),
        ["+447911123457"]
    );
    assert_eq!(
        phones(&["contacts", "list", "--json", "--utility", "opted_out"]),
        ["+447911123457"]
    );
    assert_eq!(
        phones(&["contacts", "list", "--json", "--tag", "regulars"]),
        ["+447911123456"]
    );
    let err = env.fails(&["contacts", "list", "--marketing", "yes please"]);
    assert!(err.contains("opted_in, opted_out"), "{err}");
    let err = env.fails(&["contacts", "show", "07911 123499"]);
    assert!(
        err.contains("no contact with the number +447911123499"),
        "{err}"
    );
}

#[test]
fn verify_passes_then_names_the_event_tampered_with() {
    let env = Env::new();
    let f = env.file("c.csv", MESSY);
    env.ok(&["contacts", "import", path(&f), "--region", "GB"]);
    env.ok(&[
        "consent",
        "set",
        "+447911123456",
        "--topic",
        "marketing",
        "--state",
        "opted_out",
        "--source",
        "phone call",
    ]);
    let out = env.ok(&["consent", "verify"]);
    assert!(out.contains("intact: 4 events"), "{out}");

    env.sql("DROP TRIGGER consent_events_no_rewrite; UPDATE consent_events SET state = 'opted_in' WHERE id = 4;
             UPDATE contacts SET marketing = 'opted_in' WHERE phone = '+447911123456';");
    let err = env.fails(&["consent", "verify"]);
    assert!(err.contains("event #4 has been altered"), "{err}");
    let report: Value =
        serde_json::from_slice(&env.run(&["consent", "verify", "--json"]).stdout).unwrap();
    assert_eq!(report["problem"]["event"], 4);
}

#[test]
fn verify_names_a_deleted_event() {
    let env = Env::new();
    let f = env.file("c.csv", MESSY);
    env.ok(&["contacts", "import", path(&f), "--region", "GB"]);
    env.sql("DROP TRIGGER consent_events_no_delete; DELETE FROM consent_events WHERE id = 2;");
    let err = env.fails(&["consent", "verify"]);
    assert!(
        err.contains("before event #3: event #2 is missing"),
        "{err}"
    );
}

#[test]
fn export_then_import_into_a_new_database_gives_the_same_contacts() {
    let env = Env::new();
    let f = env.file("c.csv", MESSY);
    env.ok(&["contacts", "import", path(&f), "--region", "GB"]);
    env.ok(&[
        "consent",
        "set",
        "+447911123457",
        "--topic",
        "utility",
        "--state",
        "opted_out",
        "--source",
        "phone call",
    ]);
    let exported = env.ok(&["contacts", "export"]);
    let second = Env::new();
    let back = second.file("export.csv", exported.as_bytes());
    let r = second.json(&["contacts", "import", path(&back), "--json"]);
    assert_eq!(
        (r["rejected"].as_u64(), r["blocked"].as_u64()),
        (Some(0), Some(0)),
        "{r:#}"
    );
    let strip = |v: Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                serde_json::json!([
                    c["phone"],
                    c["name"],
                    c["tags"],
                    c["marketing"],
                    c["utility"]
                ])
            })
            .collect()
    };
    assert_eq!(
        strip(second.json(&["contacts", "list", "--json"])),
        strip(env.json(&["contacts", "list", "--json"]))
    );
    let again = env.json(&["contacts", "import", path(&back), "--json"]);
    assert_eq!(
        (
            again["added"].as_u64(),
            again["updated"].as_u64(),
            again["events"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[test]
fn a_database_from_a_newer_optdesk_is_refused() {
    let env = Env::new();
    env.ok(&["contacts", "list"]);
    env.sql("PRAGMA user_version = 42;");
    let before = std::fs::read(env.db()).unwrap();
    let err = env.fails(&["contacts", "list"]);
    assert!(err.contains("newer OptDesk") && err.contains("42"), "{err}");
    assert_eq!(std::fs::read(env.db()).unwrap(), before);
}

#[test]
fn the_database_comes_from_optdesk_db_when_no_flag_is_given() {
    let env = Env::new();
    let other = env.dir.path().join("from-env.sqlite3");
    let status = Command::new(env!("CARGO_BIN_EXE_optdesk"))
        .env("OPTDESK_DB", &other)
        .env("OPTDESK_DB_KEY", "7e".repeat(32))
        .args(["contacts", "add", "+447911123456"])
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(other.exists());
    assert!(!env.db().exists());
}

#[test]
fn an_import_killed_midway_leaves_the_database_as_it_was() {
    let env = Env::new();
    let mut csv = String::from("phone,name,marketing,utility,consent_source\n");
    for i in 0..30_000 {
        csv += &format!("+4479{i:08},Customer {i},yes,yes,fair\n");
    }
    let f = env.file("big.csv", csv.as_bytes());
    env.ok(&["contacts", "add", "+34612345678"]);
    let count = |env: &Env| {
        env.json(&["contacts", "list", "--json"])
            .as_array()
            .unwrap()
            .len()
    };
    let mut interrupted = 0;
    for delay_ms in [150u64, 400, 700] {
        let mut child = env
            .cmd(&["contacts", "import", path(&f)])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let n = count(&env);
        assert!(
            n == 1 || n == 30_001,
            "a partial import is visible: {n} contacts"
        );
        if n == 1 && !finished {
            interrupted += 1;
        }
        assert!(env.ok(&["consent", "verify"]).contains("intact"));
    }
    assert!(
        interrupted > 0,
        "no kill landed mid-import; the test proved nothing"
    );
    env.ok(&["contacts", "import", path(&f)]);
    assert_eq!(count(&env), 30_001);
    assert!(env
        .ok(&["consent", "verify"])
        .contains("intact: 60000 events"));
}

#[test]
fn bad_input_is_one_clear_sentence() {
    let env = Env::new();
    let err = env.fails(&["contacts", "import", "/no/such/file.csv"]);
    assert!(err.contains("cannot read /no/such/file.csv"), "{err}");
    let f = env.file("bad.csv", b"name,email\nAnn,a@b.c\n");
    let err = env.fails(&["contacts", "import", path(&f)]);
    assert!(err.contains("no phone column"), "{err}");
    let err = env.fails(&["config", "set", "default_region", "Atlantis"]);
    assert!(err.contains("\"Atlantis\""), "{err}");
    let err = env.fails(&["contacts", "add", "07911 123456"]);
    assert!(err.contains("default_region"), "{err}");
    let err = env.fails(&[
        "consent",
        "set",
        "+447911123456",
        "--topic",
        "sms",
        "--state",
        "opted_in",
        "--source",
        "x",
    ]);
    assert!(err.contains("marketing, utility"), "{err}");
}

/// `--map` chooses the columns when the guess is wrong: another system's consent column used as
/// the marketing column records the file and column as the source of each opt-in.
#[test]
fn import_map_chooses_columns_and_a_mapped_consent_column_is_the_source() {
    let cli = support::Cli::new();
    cli.ok(&["config", "set", "default_region", "GB"]);
    let f = cli.file(
        "shopify.csv",
        b"First Name,Last Name,Contact,Phone,Accepts SMS Marketing,Notes\nAna,Lopez,07911 123456,020 7946 0018,yes,x\nBen,Ode,07911 123457,,no,y\n",
    );
    let path = f.to_str().unwrap();
    // Without a mapping "Phone" (a landline here) is the number and SMS consent is not used.
    let r = cli.json(&["contacts", "import", path, "--dry-run", "--json"]);
    assert_eq!(r["rejected"], 1, "{r}"); // Ben has no Phone
    assert!(
        r["warnings"]
            .to_string()
            .contains("consent for another channel"),
        "{r}"
    );
    let r = cli.json(&[
        "contacts",
        "import",
        path,
        "--json",
        "--map",
        "phone=Contact",
        "--map",
        "marketing=Accepts SMS Marketing",
        "--map",
        "ignore=Notes",
    ]);
    assert_eq!(
        (r["added"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    assert!(!r["warnings"].to_string().contains("\"Notes\""), "{r}");
    let ana = cli.json(&["contacts", "show", "+447911123456", "--json"]);
    assert_eq!(ana["marketing"], "opted_in", "{ana}");
    assert!(
        ana.to_string()
            .contains("shopify.csv, column \\\"Accepts SMS Marketing\\\""),
        "{ana}"
    );
    let ben = cli.json(&["contacts", "show", "+447911123457", "--json"]);
    assert_eq!(ben["marketing"], "opted_out");
    // With --json even a refused file is JSON on stdout.
    let o = cli
        .cmd(&[
            "contacts",
            "import",
            path,
            "--json",
            "--map",
            "ignore=Phone",
            "--map",
            "ignore=Contact",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("phone"), "{v}");
    let e = cli.fails(&["contacts", "import", path, "--map", "colour=Notes"]);
    assert!(e.contains("\"colour\" is not a field"), "{e}");
    let e = cli.fails(&["contacts", "import", path, "--map", "phone"]);
    assert!(e.contains("FIELD=HEADER"), "{e}");
}

/// A file of many bad rows gives a report one can read: the first hundred of each kind, the
/// count, and `--json` with every one; merged repeats are counted after the first few.
#[test]
fn a_long_list_of_bad_rows_is_cut_short_and_json_has_them_all() {
    let cli = support::Cli::new();
    cli.ok(&["config", "set", "default_region", "GB"]);
    let mut csv = String::from("phone,name\n");
    for i in 0..150 {
        csv.push_str(&format!("0791 {i},Short {i}\n")); // too short: rejected
    }
    for i in 0..30 {
        csv.push_str(&format!(
            "07911 12{i:04},Twice {i}\n+44 7911 12{i:04},Again {i}\n"
        ));
    }
    let f = cli.file("bad.csv", csv.as_bytes());
    let path = f.to_str().unwrap();
    let out = cli.ok(&["contacts", "import", path]);
    assert!(
        out.contains("30 added") && out.contains("150 rejected"),
        "{out}"
    );
    assert!(
        out.contains("(the first 100 of 150; --json lists every one)"),
        "{out}"
    );
    assert!(
        out.contains("line 101 ") && !out.contains("line 102 "),
        "{out}"
    );
    assert!(out.contains("and 10 more notes like those"), "{out}");
    let r = cli.json(&["contacts", "import", path, "--json", "--dry-run"]);
    assert_eq!(r["issues"].as_array().unwrap().len(), 150, "{r}");
}

/// Trying a word before anything is set up makes no database (and no keyring entry) for it; once
/// there is a database, its own keywords count.
#[test]
fn keywords_test_needs_no_database() {
    let cli = support::Cli::new();
    let out = cli.ok(&["keywords", "test", "STOP please"]);
    assert!(out.starts_with("opt-out"), "{out}");
    assert!(!cli.db().exists(), "keywords test made a database");
    cli.ok(&["config", "set", "opt_out_keywords", "basta"]);
    let out = cli.ok(&["keywords", "test", "basta"]);
    assert!(out.starts_with("opt-out"), "{out}");
}
