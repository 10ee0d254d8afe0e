//! Webhook processing order: customers' messages before delivery statuses.

mod common;

use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::model::Topic::Marketing;
use optdesk_core::webhook::{self, process};
use optdesk_core::{contacts, settings};
use serde_json::json;

const PHONE_NUMBER_ID: &str = "106540352242922";

fn value(fields: serde_json::Value) -> Vec<u8> {
    let mut value = json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID}});
    for (k, v) in fields.as_object().unwrap() {
        value[k] = v.clone();
    }
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})
    .to_string()
    .into_bytes()
}

#[test]
fn a_stop_is_processed_before_a_flood_of_statuses_that_came_first() {
    let mut d = common::db();
    settings::set(d.store.conn(), "phone_number_id", PHONE_NUMBER_ID).unwrap();
    d.add("+447911123456");
    d.set("+447911123456", Marketing, OptedIn);
    let now = optdesk_core::time::now().timestamp().to_string();
    for i in 0..150 {
        let status = value(
            json!({"statuses": [{"id": format!("wamid.S{i}"), "status": "delivered",
            "timestamp": now, "recipient_id": "447911999999"}]}),
        );
        webhook::store_in_inbox(&mut d.store, &status).unwrap();
    }
    let stop = value(
        json!({"contacts": [{"profile": {"name": "Ana"}, "wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": "wamid.STOP", "timestamp": now, "type": "text", "text": {"body": "STOP"}}]}),
    );
    webhook::store_in_inbox(&mut d.store, &stop).unwrap();

    let p = process::Processor::from_settings(d.store.conn()).unwrap();
    let mut report = process::ProcessReport::default();
    assert!(process::process_batch(&mut d.store, &p, &mut report).unwrap());
    assert_eq!(report.processed, 100, "{report:?}");
    let ana = contacts::require(d.store.conn(), "+447911123456").unwrap();
    assert_eq!(
        ana.marketing,
        Some(OptedOut),
        "the STOP was in the first batch"
    );
    let left: i64 = d
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM inbox WHERE processed_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 51, "statuses wait their turn, in order");
    let report = process::process_pending(&mut d.store, &p).unwrap();
    assert_eq!((report.processed, report.failed), (51, 0));
}

#[test]
fn the_audit_says_when_this_clock_is_behind_whatsapps() {
    let mut d = common::db();
    d.add("+447911123456");
    // A message stamped five minutes in the future arrives now: this PC's clock is behind.
    let ahead = (optdesk_core::time::now().timestamp() + 300).to_string();
    let body = value(json!({"contacts": [{"wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": "wamid.CLOCK", "timestamp": ahead, "type": "text", "text": {"body": "hello"}}]}));
    webhook::store_in_inbox(&mut d.store, &body).unwrap();
    let p = process::Processor::from_settings(d.store.conn()).unwrap();
    process::process_pending(&mut d.store, &p).unwrap();
    let checks = optdesk_core::audit::run(&d.store).unwrap();
    let clock = checks.iter().find(|c| c.name == "clock").unwrap();
    assert!(!clock.ok, "{clock:?}");
    assert!(clock.finding.contains("behind WhatsApp's"), "{clock:?}");
    assert!(clock.action.as_deref().unwrap().contains("NTP"));
}
