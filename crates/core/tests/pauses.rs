//! Pauses with reasons: the number's health, template status and category, quiet hours while
//! sending, and WhatsApp's holds — in the core, with a held clock instead of sleeps.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use optdesk_core::broadcast::engine::{self, Outcome, Start};
use optdesk_core::broadcast::pauses::PauseKind;
use optdesk_core::broadcast::schedule::{self, Due};
use optdesk_core::broadcast::{self, results, NewBroadcast};
use optdesk_core::time::{self, Clock};
use optdesk_core::whatsapp::Template;
use optdesk_core::{templates, ConsentState};
use optdesk_fake_graph::{FakeTemplate, PHONE_NUMBER_ID, WABA_ID};

#[path = "support/shop.rs"]
mod shop;
use shop::*;

fn webhook(s: &mut Shop, field: &str, value: serde_json::Value) {
    let body = serde_json::json!({"object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": value}]}]});
    optdesk_core::webhook::store_in_inbox(&mut s.store, body.to_string().as_bytes()).unwrap();
    let p = optdesk_core::webhook::process::Processor::from_settings(s.store.conn()).unwrap();
    let r = optdesk_core::webhook::process::process_pending(&mut s.store, &p).unwrap();
    assert_eq!(r.failed, 0, "{field}: {r:?}");
}

fn open_kinds(s: &Shop, id: i64) -> Vec<PauseKind> {
    broadcast::pauses::open(s.store.conn(), id)
        .unwrap()
        .iter()
        .map(|p| p.kind)
        .collect()
}

#[test]
fn a_flagged_number_pauses_scheduled_marketing_and_a_paused_template_its_broadcasts() {
    let mut s = shop(&["+447700900001"]);
    let clock = Clock::manual(at("2026-12-05T07:00:00Z"));
    let scheduled = create(&mut s.store);
    schedule::schedule(&mut s.store, scheduled, "2026-12-05 09:30", None, &clock).unwrap();
    let draft = create(&mut s.store); // not scheduled: nothing to pause
    webhook(
        &mut s,
        "phone_number_quality_update",
        serde_json::json!({"display_phone_number": "447911123400", "event": "FLAGGED",
                           "current_limit": "TIER_2K"}),
    );
    let h = optdesk_core::health::get(s.store.conn()).unwrap();
    assert_eq!(h.quality.as_deref(), Some("RED"));
    assert!(h.warning().unwrap().contains("quality is low"));
    assert_eq!(open_kinds(&s, scheduled), vec![PauseKind::Quality]);
    assert!(open_kinds(&s, draft).is_empty());
    // The scheduler does not start it at its time: the owner confirms first.
    clock.set(at("2026-12-05T08:30:30Z"));
    assert!(schedule::tick(&mut s.store, &clock).unwrap().is_empty());
    let audit = optdesk_core::audit::run(&s.store).unwrap();
    let c = audit.iter().find(|c| c.name == "number_health").unwrap();
    assert!(!c.ok && c.finding.contains("flagged"), "{c:?}");

    // A template paused by WhatsApp pauses the broadcasts using it; approved again, it lets go.
    let other = create(&mut s.store);
    broadcast::set_stopped(&mut s.store, other, false).unwrap();
    s.store
        .with_tx(|tx| {
            broadcast::pauses::clear(
                tx,
                other,
                broadcast::pauses::Clearer::Owner { quiet_hours: true },
            )
        })
        .unwrap();
    // (paused, with nothing open: as after an engine stopped by a template error is resumed)
    webhook(
        &mut s,
        "message_template_status_update",
        serde_json::json!({"event": "PAUSED", "message_template_id": "1",
            "message_template_name": "promo", "message_template_language": "en_GB",
            "reason": "Low quality"}),
    );
    assert!(open_kinds(&s, other).contains(&PauseKind::Template));
    let why = broadcast::get(s.store.conn(), other)
        .unwrap()
        .pause_reason
        .unwrap();
    assert!(
        why.contains("WhatsApp paused the template promo (en_GB): Low quality"),
        "{why}"
    );
    webhook(
        &mut s,
        "message_template_status_update",
        serde_json::json!({"event": "APPROVED", "message_template_id": "1", "reason": "NONE"}),
    );
    assert!(open_kinds(&s, other).is_empty());
    assert!(
        schedule::tick(&mut s.store, &clock)
            .unwrap()
            .contains(&Due::Resume(other)),
        "the scheduler resumes what only the template held"
    );
    // The scheduled one is still held by the quality drop.
    assert_eq!(open_kinds(&s, scheduled), vec![PauseKind::Quality]);
    // A template scored red shows on the template and in the audit.
    webhook(
        &mut s,
        "message_template_quality_update",
        serde_json::json!({"previous_quality_score": "GREEN", "new_quality_score": "RED",
            "message_template_id": "1", "message_template_name": "promo", "message_template_language": "en_GB"}),
    );
    let t = templates::list(s.store.conn()).unwrap();
    assert_eq!(t[0].quality.as_deref(), Some("RED"));
    let audit = optdesk_core::audit::run(&s.store).unwrap();
    let c = audit
        .iter()
        .find(|c| c.name == "templates_quality")
        .unwrap();
    assert!(!c.ok && c.finding.contains("promo (en_GB)"), "{c:?}");
}

#[test]
fn a_running_marketing_broadcast_pauses_when_quiet_hours_begin_and_goes_on_in_the_morning() {
    let phones: Vec<String> = (0..20).map(|i| format!("+4474001234{i:02}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let mut s = shop(&refs);
    let id = create(&mut s.store);
    let clock = Clock::manual(at("2026-12-05T19:59:00Z")); // 20:59 in Madrid
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut opts = engine::Options::owner(20.0, engine::Drain::NotRelay);
    opts.clock = clock.clone();
    // Once a few have gone, the clock reaches 21:00: the engine must stop claiming.
    let moved = clock.clone();
    let outcome = rt
        .block_on(engine::run(
            &s.db,
            s.client.clone(),
            id,
            opts,
            Arc::new(AtomicBool::new(false)),
            move |c, _| {
                if c.sent >= 3 {
                    moved.set(at("2026-12-05T20:00:01Z"));
                }
            },
        ))
        .unwrap();
    match outcome {
        Outcome::Stopped { state, reason, .. } => {
            assert_eq!(state, optdesk_core::model::BroadcastState::Paused);
            assert!(reason.contains("quiet hours"), "{reason}");
        }
        o => panic!("{o:?}"),
    }
    let first = s.fake.state().accepted.len();
    assert!((3..20).contains(&first), "{first} sent before 21:00");
    clock.set(at("2026-12-06T07:00:30Z")); // 08:00:30 in Madrid
    assert_eq!(
        schedule::tick(&mut s.store, &clock).unwrap(),
        vec![Due::Resume(id)]
    );
    let mut opts = engine::Options::owner(200.0, engine::Drain::NotRelay);
    opts.clock = clock.clone();
    opts.start = Start::Automatic(PauseKind::QuietHours);
    let outcome = rt
        .block_on(engine::run(
            &s.db,
            s.client.clone(),
            id,
            opts,
            Arc::new(AtomicBool::new(false)),
            |_, _| {},
        ))
        .unwrap();
    assert!(matches!(outcome, Outcome::Finished { .. }), "{outcome:?}");
    let sent = s.fake.state().accepted.clone();
    let unique: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), unique.len()), (20, 20), "everyone once");
}

#[test]
fn held_back_by_whatsapp_is_not_an_opt_out_and_ends_when_whatsapp_says() {
    let phones = [
        "+447400123401",
        "+447400123402",
        "+447400123403",
        "+14155552671",
    ];
    let mut s = shop(&phones);
    s.fake
        .state()
        .reject_with
        .insert("447400123401".into(), 131049);
    s.fake
        .state()
        .reject_with
        .insert("447400123402".into(), 130472);
    let id = create(&mut s.store);
    let p = broadcast::preview(&s.store, id).unwrap();
    let held: Vec<_> = p
        .by_reason
        .iter()
        .filter(|r| r.reason == optdesk_core::gate::BlockReason::HeldBack)
        .collect();
    assert_eq!(
        held[0].phones,
        vec!["+14155552671".to_string()],
        "US marketing is held back"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = |s: &Shop, id: i64| {
        let mut opts = engine::Options::owner(100.0, engine::Drain::NotRelay);
        opts.clock = Clock::manual(at("2026-12-05T12:00:00Z")); // midday: not quiet hours
        rt.block_on(engine::run(
            &s.db,
            s.client.clone(),
            id,
            opts,
            Arc::new(AtomicBool::new(false)),
            |_, _| {},
        ))
        .unwrap()
    };
    assert!(matches!(run(&s, id), Outcome::Finished { .. }));
    let r = results::results(s.store.conn(), id).unwrap();
    assert_eq!((r.sent, r.held_back, r.failed), (1, 3, 0), "{r:#?}");
    // Nobody opted out: the ledger has no event from WhatsApp's holds.
    for p in &phones[..2] {
        let c = optdesk_core::contacts::require(s.store.conn(), p).unwrap();
        assert_eq!(c.marketing, Some(ConsentState::OptedIn), "{p}");
    }
    // The next broadcast holds both back: 131049 for a day, 130472 until they write.
    let next = create(&mut s.store);
    let held = |s: &Shop, id: i64| -> Vec<String> {
        broadcast::preview(&s.store, id)
            .unwrap()
            .by_reason
            .into_iter()
            .filter(|r| r.reason == optdesk_core::gate::BlockReason::HeldBack)
            .flat_map(|r| r.phones)
            .collect()
    };
    assert_eq!(held(&s, next), vec![phones[3], phones[0], phones[1]]); // sorted
    let now = time::now().timestamp().to_string();
    webhook(
        &mut s,
        "messages",
        serde_json::json!({"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "B"}, "wa_id": "447400123402"}],
            "messages": [{"from": "447400123402", "id": "wamid.HI", "timestamp": now, "type": "text", "text": {"body": "Hello, is the shop open?"}}]}),
    );
    assert_eq!(
        held(&s, next),
        vec![phones[3], phones[0]],
        "writing ends the experiment hold"
    );
    // A day later the limit's hold is over (moved back instead of waiting a day).
    s.store
        .conn()
        .execute(
            "UPDATE contacts SET held_back_until = ?1 WHERE phone = ?2",
            rusqlite::params![
                time::to_db(&(time::now() - chrono::Duration::seconds(1))),
                phones[0]
            ],
        )
        .unwrap();
    assert_eq!(held(&s, next), vec![phones[3]]);
}

#[test]
fn a_template_recategorised_to_marketing_gates_the_rest_as_marketing_and_tells_the_owner() {
    // Two opted in to marketing, one who only gets utility messages (no marketing opt-in).
    let mut s = shop(&["+447400123401", "+447400123402"]);
    optdesk_core::contacts::add(&mut s.store, "+447400123403", "", &[]).unwrap();
    let t = FakeTemplate::approved("order_ready", "en_GB", "UTILITY", 0);
    s.fake.state().add_template(t.clone());
    templates::sync(
        &mut s.store,
        &[Template {
            id: "2".into(),
            name: t.name,
            language: t.language,
            status: t.status,
            category: t.category,
            components: t.components,
            parameter_format: None,
            quality_score: None,
            rejected_reason: None,
        }],
    )
    .unwrap();
    let id = broadcast::create(
        &mut s.store,
        &NewBroadcast {
            name: None,
            template: "order_ready".into(),
            language: "en_GB".into(),
            params: Default::default(),
            slots: Default::default(),
            tags: vec![],
            override_reason: None,
        },
    )
    .unwrap();
    assert_eq!(broadcast::preview(&s.store, id).unwrap().will_receive, 3);
    // Started, then paused by the owner before anyone was sent to.
    s.store
        .conn()
        .execute(
            "UPDATE broadcasts SET state = 'sending' WHERE id = ?1",
            [id],
        )
        .unwrap();
    broadcast::set_stopped(&mut s.store, id, false).unwrap();
    webhook(
        &mut s,
        "template_category_update",
        serde_json::json!({"message_template_id": "2", "message_template_name": "order_ready",
            "message_template_language": "en_GB", "previous_category": "UTILITY", "new_category": "MARKETING"}),
    );
    assert!(open_kinds(&s, id).contains(&PauseKind::Template));
    let why = broadcast::get(s.store.conn(), id)
        .unwrap()
        .pause_reason
        .unwrap();
    assert!(
        why.contains("re-categorised order_ready (en_GB) from UTILITY to MARKETING"),
        "{why}"
    );
    let p = broadcast::preview(&s.store, id).unwrap();
    assert_eq!(
        p.will_receive, 2,
        "the one without a marketing opt-in is left out now"
    );
    let mut opts = engine::Options::owner(100.0, engine::Drain::NotRelay);
    opts.clock = Clock::manual(at("2026-12-05T12:00:00Z"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let out = rt
        .block_on(engine::run(
            &s.db,
            s.client.clone(),
            id,
            opts,
            Arc::new(AtomicBool::new(false)),
            |_, _| {},
        ))
        .unwrap();
    assert!(matches!(out, Outcome::Finished { .. }), "{out:?}");
    let sent = s.fake.state().accepted.clone();
    assert_eq!(sent.len(), 2);
    assert!(!sent.contains(&"447400123403".to_string()));
    // A notice of a change to come changes nothing yet.
    webhook(
        &mut s,
        "template_category_update",
        serde_json::json!({"message_template_id": "1", "message_template_name": "promo",
            "message_template_language": "en_GB", "correct_category": "UTILITY", "new_category": "MARKETING",
            "category_update_timestamp": 1767225600}),
    );
}
