//! Proof of consent, erasure that keeps the suppression and the chain, backups and restores.

mod support;

use std::process::Stdio;

use support::Cli;

fn with_history() -> Cli {
    let cli = Cli::new();
    cli.ok(&["config", "set", "default_region", "GB"]);
    let csv = cli.file("c.csv", b"phone,name,tags,marketing,utility,consent_source,consent_text\n07911123456,Ana,vip,yes,yes,Summer fair,Yes to offers from Bakery Sol\n07911123457,Ben,,yes,,fair,\n");
    cli.ok(&["contacts", "import", csv.to_str().unwrap()]);
    for (state, source) in [
        ("opted_out", "phone call"),
        ("opted_in", "in store"),
        ("opted_out", "letter"),
    ] {
        cli.ok(&[
            "consent",
            "set",
            "07911123456",
            "--topic",
            "marketing",
            "--state",
            state,
            "--source",
            source,
            "--proof",
            &format!("{source}: {state}"),
        ]);
    }
    cli
}

#[test]
fn the_proof_names_every_event_and_vouches_for_the_chain() {
    let cli = with_history();
    let html = cli.dir.path().join("ana.html");
    cli.ok(&[
        "contacts",
        "proof",
        "07911123456",
        "--html",
        html.to_str().unwrap(),
    ]);
    let proof = cli.json(&["contacts", "proof", "07911123456", "--json"]);
    let events = proof["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(proof["ledger_verified"], true);
    let page = std::fs::read_to_string(&html).unwrap();
    for e in events {
        assert!(
            page.contains(&format!("<td>{}</td>", e["id"])),
            "event {} missing from the page",
            e["id"]
        );
        assert!(page.contains(e["occurred_at"].as_str().unwrap()));
    }
    for words in [
        "Yes to offers from Bakery Sol",
        "letter: opted_out",
        "Consent record for +447911123456 (Ana)",
    ] {
        assert!(page.contains(words), "{words}");
    }
}

#[test]
fn an_erased_person_stays_suppressed_and_the_chain_still_verifies() {
    let cli = with_history();
    let o = cli
        .cmd(&["contacts", "erase", "07911123456"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--yes"),
        "no erasure without confirmation"
    );
    let out = cli.ok(&["contacts", "erase", "07911123456", "--yes"]);
    assert!(out.contains("5 ledger events redacted"), "{out}");
    assert!(
        cli.ok(&["consent", "verify"]).contains("intact"),
        "erasure keeps the chain verifiable"
    );
    let list = cli.json(&["contacts", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(cli.db_count("SELECT count(*) FROM consent_events WHERE proof LIKE '%Bakery Sol%' OR phone = '+447911123456'"), 0, "the wording is gone");
    assert_eq!(
        cli.db_count("SELECT count(*) FROM contacts WHERE name = 'Ana'"),
        0
    );

    let again = cli.file(
        "again.csv",
        b"phone,name,marketing,consent_source\n07911123456,Ana,yes,new list\n",
    );
    let r = cli.json(&["contacts", "import", again.to_str().unwrap(), "--json"]);
    assert_eq!(
        (r["blocked"].as_u64(), r["added"].as_u64()),
        (Some(1), Some(0)),
        "{r}"
    );
    assert!(r["issues"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("suppression list"));
    let err = cli.fails(&["contacts", "add", "07911123456"]);
    assert!(err.contains("suppression list"), "{err}");

    // Even once the suppression entry ends, the gate never lets a message reach an erased row.
    let store = cli.store();
    store
        .conn()
        .execute("DELETE FROM suppressions", [])
        .unwrap();
    let id: i64 = store
        .conn()
        .query_row(
            "SELECT id FROM contacts WHERE erased_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let d = optdesk_core::gate::check_contact(
        store.conn(),
        optdesk_core::ContactId(id),
        optdesk_core::Category::Utility,
        optdesk_core::time::now(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        d,
        Some(optdesk_core::gate::Decision::Blocked(
            optdesk_core::gate::BlockReason::Suppressed
        ))
    );
}

#[test]
fn a_backup_taken_while_writing_restores_to_a_verifying_database() {
    let cli = with_history();
    let mut csv = String::from("phone,marketing,consent_source\n");
    for i in 0..20_000 {
        csv += &format!("+4479{i:08},yes,fair\n");
    }
    let big = cli.file("big.csv", csv.as_bytes());
    let mut import = cli
        .cmd(&["contacts", "import", big.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let backup = cli.dir.path().join("backup.sqlite3");
    cli.ok(&["backup", backup.to_str().unwrap()]);
    assert!(import.wait().unwrap().success());
    assert!(cli
        .fails(&["backup", backup.to_str().unwrap()])
        .contains("already exists"));

    let fresh = cli.same_machine();
    let out = fresh.ok(&["restore", backup.to_str().unwrap()]);
    assert!(out.contains("the ledger verifies"), "{out}");
    let n = fresh
        .json(&["contacts", "list", "--json"])
        .as_array()
        .unwrap()
        .len();
    assert!(
        n == 2 || n == 20_002,
        "a consistent snapshot, not half an import: {n}"
    );
    assert!(fresh.ok(&["consent", "verify"]).contains("intact"));
}

#[test]
fn a_damaged_backup_is_refused_and_nothing_is_replaced() {
    let cli = with_history();
    let backup = cli.dir.path().join("b.sqlite3");
    cli.ok(&["backup", backup.to_str().unwrap()]);
    let mut bytes = std::fs::read(&backup).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xA5;
    }
    let damaged = cli.file("damaged.sqlite3", &bytes);
    let other = cli.same_machine();
    other.ok(&["contacts", "add", "+34612345678"]);
    let err = other.fails(&["restore", damaged.to_str().unwrap()]);
    assert!(err.contains("not a usable backup"), "{err}");
    assert_eq!(
        other.json(&["contacts", "list", "--json"])[0]["phone"],
        "+34612345678",
        "the database was left as it was"
    );
}

#[test]
fn the_audit_passes_clean_data_and_names_what_needs_attention() {
    let cli = with_history();
    let out = cli.ok(&["audit"]);
    assert!(
        out.contains("ok   ledger") && out.contains("every marketing template gives a way"),
        "{out}"
    );
    cli.ok(&["config", "set", "phone_number_id", "106540352242922"]);
    cli.sql("DROP TRIGGER consent_events_no_rewrite; UPDATE consent_events SET state = 'opted_in' WHERE id = 4;");
    let o = cli.run(&["audit", "--json"]);
    assert!(!o.status.success(), "attention needed: exit 1");
    let checks: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by = |n: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("ledger")["ok"], false);
    assert!(by("ledger")["finding"]
        .as_str()
        .unwrap()
        .contains("event #4"));
    assert_eq!(
        by("receiver")["ok"],
        false,
        "connected, and no webhook ever received"
    );
    assert!(by("receiver")["action"]
        .as_str()
        .unwrap()
        .contains("webhook test"));
}
