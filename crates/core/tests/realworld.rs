//! The real-world corpus: 73 webhook bodies written outside OptDesk (other projects' fixtures,
//! Meta's docs, public logs), each with the effect OptDesk must have (`MANIFEST.tsv`). They are
//! read from `../shared/realworld-webhooks/` at test time, never copied into the repository.
//!
//! Each body gets a database of its own, in which every number it names that is a valid number
//! is a contact opted in to both topics; then the body goes through the inbox and the processor
//! exactly as a received one does, and the effect is checked. (The real receiver's HTTP side —
//! signature, 200, no panic — is checked for the whole corpus in the CLI's `corpus` suite.)

mod common;

use std::path::PathBuf;

use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::model::Topic::{Marketing, Utility};
use optdesk_core::webhook::{self, process};
use optdesk_core::{contacts, phone, ConsentState};
use serde_json::{json, Value};

pub fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realworld-webhooks");
    assert!(
        dir.join("MANIFEST.tsv").exists(),
        "the real-world webhook corpus is not at {} (it sits in shared/, beside the checkout)",
        dir.display()
    );
    dir
}

struct Case {
    file: String,
    effect: String,
    body: Vec<u8>,
    json: Value,
}

fn cases() -> Vec<Case> {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    manifest
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let body = std::fs::read(dir.join("payloads").join(cols[0])).unwrap();
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Case {
                file: cols[0].into(),
                effect: cols[3].into(),
                body,
                json,
            }
        })
        .collect()
}

/// Every value of `key` anywhere in the body (numbers the body names).
fn all(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    match x {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(n) => out.push(n.to_string()),
                        _ => {}
                    }
                }
                all(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| all(x, key, out)),
        _ => {}
    }
}

fn named(v: &Value, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    all(v, key, &mut out);
    out
}

fn e164(digits: &str) -> Option<String> {
    phone::to_e164(&format!("+{digits}"), None).ok()
}

fn state(d: &common::Db, phone: &str) -> Option<contacts::Contact> {
    contacts::get(d.store.conn(), phone).unwrap()
}

fn count(d: &common::Db, sql: &str) -> i64 {
    d.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn process(d: &mut common::Db, body: &[u8]) -> process::ProcessReport {
    webhook::store_in_inbox(&mut d.store, body).unwrap();
    let p = process::Processor::from_settings(d.store.conn()).unwrap();
    process::process_pending(&mut d.store, &p).unwrap()
}

#[test]
fn every_body_of_the_corpus_has_its_expected_effect() {
    let cases = cases();
    assert_eq!(cases.len(), 73, "the manifest lists 73 bodies");
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for case in &cases {
        let mut d = common::db();
        // Every valid number the body names is a contact, opted in to both topics.
        let mut numbers = named(&case.json, "from");
        for k in ["wa_id", "recipient_id", "new_wa_id"] {
            numbers.extend(named(&case.json, k));
        }
        let known: Vec<String> = numbers.iter().filter_map(|n| e164(n)).collect();
        let moved_to: Vec<String> = case.json["entry"][0]["changes"][0]["value"]["messages"][0]
            ["system"]
            .as_object()
            .and_then(|s| s.get("wa_id").or(s.get("new_wa_id")))
            .and_then(Value::as_str)
            .and_then(e164)
            .into_iter()
            .collect();
        for p in &known {
            if moved_to.contains(p) || state(&d, p).is_some() {
                continue; // the number a contact moves to must be free
            }
            d.add(p);
            d.set(p, Marketing, OptedIn);
            d.set(p, Utility, OptedIn);
        }
        let template = case.json["entry"][0]["changes"][0]["value"].clone();
        if case.effect == "template_status" {
            d.raw(&format!(
                "INSERT INTO templates (wa_template_id, name, language, category, status, components)
                 VALUES ('{}', '{}', '{}', 'UTILITY', 'PENDING', '[]')",
                template["message_template_id"], template["message_template_name"].as_str().unwrap(),
                template["message_template_language"].as_str().unwrap()
            ));
        }
        let prefs: Vec<String> = case.json["entry"][0]["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| {
                c["value"]["user_preferences"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|p| p["wa_id"].as_str().map(str::to_string))
            .collect();
        if case.effect == "resume_preferences" {
            // Meta's block must be on for a resume to lift it: a stop a minute before.
            for w in &prefs {
                let stop = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "user_preferences",
                    "value": {"messaging_product": "whatsapp", "user_preferences": [{"wa_id": w, "category": "marketing_messages",
                    "value": "stop", "timestamp": 1}]}}]}]});
                process(&mut d, stop.to_string().as_bytes());
            }
        }
        let events_before = count(&d, "SELECT count(*) FROM consent_events");

        let report = process(&mut d, &case.body);
        let file = &case.file;
        assert_eq!(report.failed, 0, "{file}: the body as a whole failed");
        let errors: Vec<String> = d
            .store
            .conn()
            .prepare("SELECT error FROM inbox WHERE error IS NOT NULL")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let suppressions = count(&d, "SELECT count(*) FROM suppressions");
        let events_after = count(&d, "SELECT count(*) FROM consent_events");
        let first_from = named(&case.json, "from").into_iter().next();
        let sender = first_from.as_deref().and_then(e164);
        match case.effect.as_str() {
            "none" => {
                assert_eq!(events_after, events_before, "{file}: no consent changed");
                assert_eq!(suppressions, 0, "{file}: nobody suppressed");
                assert!(errors.is_empty(), "{file}: {errors:?}");
            }
            "optout_marketing_all_topics_keyword" => {
                match sender.as_deref().and_then(|p| state(&d, p)) {
                    Some(c) => {
                        assert_eq!(c.marketing, Some(OptedOut), "{file}");
                        assert_eq!(c.utility, Some(OptedOut), "{file}");
                    }
                    None => assert_eq!(
                        suppressions, 1,
                        "{file}: an unknown sender's STOP is a suppression"
                    ),
                }
                assert!(errors.is_empty(), "{file}: {errors:?}");
            }
            "stop_preferences" => {
                for w in &prefs {
                    match e164(w).and_then(|p| state(&d, &p)) {
                        Some(c) => assert!(c.meta_blocked, "{file}: {w} stopped marketing"),
                        None => assert!(suppressions >= 1, "{file}"),
                    }
                }
                assert!(!prefs.is_empty(), "{file}");
            }
            "resume_preferences" => {
                let mut seen = 0;
                for w in &prefs {
                    if let Some(c) = e164(w).and_then(|p| state(&d, &p)) {
                        assert!(!c.meta_blocked, "{file}: {w} resumed");
                        assert_eq!(
                            c.marketing,
                            Some(OptedIn),
                            "{file}: resume is not an opt-in, and removes none"
                        );
                        seen += 1;
                    }
                }
                assert!(seen > 0, "{file}: a contact resumed");
            }
            "optout_provider_131050" => {
                let to = named(&case.json, "recipient_id")
                    .into_iter()
                    .next()
                    .unwrap();
                match e164(&to).and_then(|p| state(&d, &p)) {
                    Some(c) => assert!(c.meta_blocked, "{file}"),
                    None => assert_eq!(suppressions, 1, "{file}"),
                }
            }
            "unreachable_131026" => {
                assert_eq!(
                    count(
                        &d,
                        "SELECT count(*) FROM message_statuses WHERE error_code = 131026"
                    ),
                    1,
                    "{file}"
                );
                if let Some(c) = named(&case.json, "recipient_id")
                    .first()
                    .and_then(|t| e164(t))
                    .and_then(|p| state(&d, &p))
                {
                    assert!(c.unreachable, "{file}");
                }
            }
            "number_change" => {
                assert_eq!(
                    count(
                        &d,
                        "SELECT count(*) FROM inbound_messages WHERE kind = 'system'"
                    ),
                    1,
                    "{file}"
                );
                match (sender.as_deref(), moved_to.first()) {
                    (Some(old), Some(new)) => {
                        assert!(state(&d, old).is_none(), "{file}: nobody at the old number");
                        let c = state(&d, new).expect("the contact at the new number");
                        assert_eq!(
                            c.marketing,
                            Some(OptedIn),
                            "{file}: its consent moved with it"
                        );
                    }
                    _ => assert_eq!(
                        events_after, events_before,
                        "{file}: invalid numbers change nothing"
                    ),
                }
            }
            "template_status" => {
                let status: String = d
                    .store
                    .conn()
                    .query_row("SELECT status FROM templates", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(status, template["event"].as_str().unwrap(), "{file}");
            }
            other => panic!("{file}: an effect this test does not know: {other}"),
        }
        *checked.entry(case.effect.clone()).or_default() += 1;
    }
    // Every kind of effect in the manifest was met by at least one body.
    for effect in [
        "none",
        "optout_marketing_all_topics_keyword",
        "stop_preferences",
        "resume_preferences",
        "optout_provider_131050",
        "unreachable_131026",
        "number_change",
        "template_status",
    ] {
        assert!(
            checked.get(effect).copied().unwrap_or(0) > 0,
            "no body checked {effect}"
        );
    }
}

#[test]
fn a_number_change_moves_a_real_contact_and_its_consent() {
    let case = cases()
        .into_iter()
        .find(|c| c.file.starts_with("065_"))
        .unwrap();
    let mut d = common::db();
    d.add("+16505551234");
    d.set("+16505551234", Marketing, OptedOut);
    process(&mut d, &case.body);
    assert!(state(&d, "+16505551234").is_none());
    let c = state(&d, "+12195555358").expect("moved");
    assert_eq!(
        c.marketing,
        Some(ConsentState::OptedOut),
        "an opt-out moves with the person"
    );
}
