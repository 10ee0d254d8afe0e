//! The receiver against bodies nobody here wrote, and the confirmation clock: the real
//! `optdesk serve`, signed bodies over HTTP, the fake Graph API taking the replies.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

mod support;
use support::receiver::*;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/realworld-webhooks/payloads");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the real-world corpus is not at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&f).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_real_world_body_is_taken_signed_and_processed_without_a_failure() {
    let mut env = Env::new();
    env.start();
    let bodies = corpus();
    assert_eq!(bodies.len(), 73);
    for (name, body) in &bodies {
        // Signed over the exact bytes as stored (escapes, indentation, raw UTF-8 and all).
        let status = env.post_raw(body, Some(&optdesk_fake_graph::sign(APP_SECRET, body)));
        assert_eq!(status, 200, "{name}");
    }
    env.eventually("every body processed", |e| {
        e.db_count("SELECT count(*) FROM inbox WHERE processed_at IS NULL AND error IS NULL AND parent_id IS NULL") == 0
    });
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox WHERE parent_id IS NULL"),
        73
    );
    let failed = env.ok(&["inbox", "list"]);
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox WHERE error IS NOT NULL"),
        0,
        "no body or part failed: {failed}"
    );
    // The receiver is still up and still answering.
    assert_eq!(env.post(&text(ANA, "wamid.AFTER", "hello")), 200);
    assert!(
        env.server.as_mut().unwrap().try_wait().unwrap().is_none(),
        "no panic, no exit"
    );
    // The STOPs in the corpus from numbers OptDesk does not know became suppressions.
    assert!(env.db_count("SELECT count(*) FROM suppressions") >= 4);
}

#[test]
fn a_malformed_message_beside_another_customers_stop_loses_nothing() {
    let mut env = Env::new();
    env.start();
    let body = messages(
        json!([
            {"from": BEN, "id": "wamid.ODD", "timestamp": 1781604100, "type": "text", "text": "not an object"},
            {"from": BEN, "id": ["not", "a", "string"], "type": "button"},
            {"from": ANA, "id": "wamid.GOODSTOP", "timestamp": now(), "type": "text", "text": {"body": "STOP"}},
        ]),
        json!([{"wa_id": ANA, "profile": {"name": "Ana"}}, {"wa_id": BEN}]),
    );
    assert_eq!(env.post(&body), 200);
    env.eventually("Ana's STOP recorded", |e| {
        e.contact(ANA)["marketing"] == "opted_out"
    });
    env.eventually("her confirmation sent", |e| texts_sent(&e.fake).len() == 1);
    assert_eq!(
        env.contact(BEN)["marketing"],
        "opted_in",
        "Ben's odd messages said nothing"
    );
    // The odd part is kept, with where it was and why, for `inbox retry`; the body is done.
    std::thread::sleep(Duration::from_millis(300));
    let kept: Vec<(String, Option<i64>)> = env
        .conn()
        .prepare("SELECT error, parent_id FROM inbox WHERE error IS NOT NULL")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].0.contains("a text message cannot be read") && kept[0].0.contains("messages[0]"),
        "{kept:?}"
    );
    assert!(kept[0].1.is_some(), "kept as a part of its body");
    let list = env.ok(&["inbox", "list"]);
    assert!(list.contains("a text message cannot be read"), "{list}");
    // A retry reads it again; still unreadable, it stays kept (and says so), and nothing else
    // is applied twice.
    let retry = env.run(&["inbox", "retry"]);
    assert!(!retry.status.success(), "the part still cannot be read");
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox WHERE error IS NOT NULL"),
        1
    );
    assert_eq!(texts_sent(&env.fake).len(), 1, "still one confirmation");
}

#[test]
fn a_stop_delivered_three_hours_late_opts_out_at_once_but_is_not_confirmed() {
    let mut env = Env::new();
    env.start();
    let sent_at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3 * 3600)
        .to_string();
    let body = messages(
        json!([{"from": ANA, "id": "wamid.LATE", "timestamp": sent_at, "type": "text", "text": {"body": "STOP"}}]),
        json!([{"wa_id": ANA}]),
    );
    assert_eq!(env.post(&body), 200);
    env.eventually("the late STOP recorded", |e| {
        e.contact(ANA)["marketing"] == "opted_out"
    });
    let ana = env.contact(ANA);
    let ev = ana["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(ev["evidence_ref"], "wamid.LATE");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        texts_sent(&env.fake).is_empty(),
        "no confirmation that late"
    );
    let list = env.json(&["optouts", "list", "--json"]);
    let conf = &list[0]["confirmation"];
    assert_eq!(conf["state"], "skipped", "{list:#}");
    assert!(
        conf["error"]
            .as_str()
            .unwrap_or_default()
            .contains("arrived 3 h after the customer sent it"),
        "{list:#}"
    );
    // The audit reports it as information, not as something the owner must fix.
    let audit: Value = serde_json::from_slice(&env.run(&["audit", "--json"]).stdout).unwrap();
    let check = |name: &str| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(check("confirmations")["ok"], true, "{audit:#}");
    let late = check("late_stops");
    assert_eq!(late["ok"], true);
    assert!(
        late["finding"]
            .as_str()
            .unwrap()
            .starts_with("1 opt-out(s) reached OptDesk more than 5 minutes after"),
        "{late}"
    );

    // HELP a day and a half late: outside the 24-hour window, no reply is attempted.
    let old = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 36 * 3600)
        .to_string();
    let help = messages(
        json!([{"from": BEN, "id": "wamid.OLDHELP", "timestamp": old, "type": "text", "text": {"body": "HELP"}}]),
        json!([{"wa_id": BEN}]),
    );
    assert_eq!(env.post(&help), 200);
    env.eventually("the HELP recorded", |e| {
        e.db_count("SELECT count(*) FROM outbound_messages WHERE kind = 'help_reply'") == 1
    });
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        texts_sent(&env.fake).is_empty(),
        "no reply outside the window"
    );
    let error: String = env
        .conn()
        .query_row(
            "SELECT error FROM outbound_messages WHERE kind = 'help_reply'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        error.contains("outside WhatsApp's 24-hour window"),
        "{error}"
    );
}
