//! Upgrades: a database made by an earlier OptDesk opens with this one, after the automatic
//! backup, with its contacts, consent ledger, broadcasts and settings as they were.
//!
//! `tests/fixtures/schema-N.sqlite3` is a shop made by the release with schema version N (its key
//! beside it in `schema-N.key`, what it holds in `schema-N.json`). Each release adds its own:
//! `cargo test -p optdesk-cli --test upgrade -- --ignored make_fixture` writes the fixture for the
//! schema this build has; keep the older ones, so every later migration is tried on all of them.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::broadcasts::Env;
use support::Cli;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// What the fixture's shop holds, as the CLI reports it: the facts an upgrade must keep.
fn facts(cli: &Cli) -> Value {
    let contacts: Vec<Value> = cli
        .json(&["contacts", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"phone": c["phone"], "name": c["name"], "marketing": c["marketing"], "utility": c["utility"], "tags": c["tags"]}))
        .collect();
    let broadcasts: Vec<Value> = cli
        .json(&["broadcast", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json!({"template": b["broadcast"]["template"], "state": b["broadcast"]["state"], "params": b["broadcast"]["params"], "tags": b["broadcast"]["tags"], "sent": b["counts"]["sent"]}))
        .collect();
    let verify = cli.json(&["consent", "verify", "--json"]);
    let setting = |k: &str| cli.ok(&["config", "get", k]).trim().to_string();
    json!({
        "contacts": contacts,
        "broadcasts": broadcasts,
        "events": verify["events"],
        "settings": {
            "business_name": setting("business_name"),
            "default_region": setting("default_region"),
            "retention_years": setting("retention_years"),
        },
    })
}

#[test]
#[ignore = "writes the fixture for this schema; run once per release (see the top of this file)"]
fn make_fixture() {
    let env = Env::new();
    for (k, v) in [
        ("business_name", "Bakery Sol"),
        ("default_region", "GB"),
        ("retention_years", "6"),
    ] {
        env.ok(&["config", "set", k, v]);
    }
    let csv = env.file(
        "shop.csv",
        "phone,name,tags,marketing,utility,consent_source\n\
         07911123456,Ana,vip,yes,yes,Summer fair\n\
         07911123457,Ben,vip;wholesale,yes,,Summer fair\n\
         07911123458,Chloé,,no,yes,Till\n\
         07911123459,,vip,,,Till\n"
            .as_bytes(),
    );
    env.ok(&["contacts", "import", csv.to_str().unwrap()]);
    env.ok(&[
        "consent",
        "set",
        "07911123457",
        "--topic",
        "marketing",
        "--state",
        "opted_out",
        "--source",
        "phone call",
        "--proof",
        "Asked on the phone to stop offers",
    ]);
    let id = env.create(&["--tag", "vip"]);
    env.ok(&["broadcast", "send", &id]);
    let version = optdesk_core::store::SCHEMA_VERSION;
    let dir = fixtures();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("schema-{version}.sqlite3"));
    let _ = std::fs::remove_file(&file);
    env.ok(&["backup", file.to_str().unwrap()]);
    std::fs::write(
        dir.join(format!("schema-{version}.key")),
        env.key().recovery_code(),
    )
    .unwrap();
    let expected = serde_json::to_string_pretty(&facts(&env)).unwrap();
    std::fs::write(dir.join(format!("schema-{version}.json")), expected + "\n").unwrap();
}

#[test]
fn every_earlier_release_s_database_opens_with_everything_it_held() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let Some(version) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("schema-")?.strip_suffix(".sqlite3"))
            .and_then(|v| v.parse::<i64>().ok())
        else {
            continue;
        };
        found.push(version);
        let key = std::fs::read_to_string(path.with_extension("key")).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        let cli = Cli::new().with_env("OPTDESK_DB_KEY", key.trim());
        std::fs::copy(&path, cli.db()).unwrap();

        // The first command opens it, copies it as it was, then migrates it.
        let verify = cli.ok(&["consent", "verify"]);
        assert!(verify.contains("intact"), "schema {version}: {verify}");
        let backups: Vec<PathBuf> = std::fs::read_dir(cli.dir.path().join("backups"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        let upgraded = version < optdesk_core::store::SCHEMA_VERSION;
        assert_eq!(
            backups.len(),
            usize::from(upgraded),
            "schema {version}: {backups:?}"
        );
        if let Some(b) = backups.first() {
            let name = b.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with(&format!("before-upgrade-from-schema-{version}-")),
                "{name}"
            );
            let db_key = optdesk_core::store::DbKey::parse(key.trim()).unwrap();
            let old = optdesk_core::store::connect(b, &db_key).unwrap();
            let v: i64 = old
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, version, "the copy is the file as it was");
        }
        assert_eq!(facts(&cli), expected, "schema {version}");
        // And it takes new work.
        cli.ok(&["contacts", "add", "07911123460", "--name", "Dev"]);
        assert!(cli.ok(&["consent", "verify"]).contains("intact"));
    }
    assert!(
        found.contains(&(optdesk_core::store::SCHEMA_VERSION)),
        "no fixture for this schema ({}); run make_fixture (see the top of this file): {found:?}",
        optdesk_core::store::SCHEMA_VERSION
    );
}
