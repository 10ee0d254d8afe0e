//! Results, schedules and quiet hours in the core, with a held clock instead of sleeps.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use optdesk_core::broadcast::engine::{self, Outcome, Start};
use optdesk_core::broadcast::pauses::PauseKind;
use optdesk_core::broadcast::schedule::{self, Due};
use optdesk_core::broadcast::{self, results, NewBroadcast};
use optdesk_core::consent::{self, Change};
use optdesk_core::secrets::Secret;
use optdesk_core::store::{Database, Store};
use optdesk_core::time::{self, Clock, Timestamp};
use optdesk_core::whatsapp::{Client, GraphConfig, Template};
use optdesk_core::{settings, templates, ConsentState, SourceKind, Topic};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};

fn at(s: &str) -> Timestamp {
    time::from_db(s).unwrap()
}

fn opt(store: &mut Store, phone: &str, state: ConsentState, kind: SourceKind, when: Timestamp) {
    consent::set(
        store,
        &Change {
            phone: phone.into(),
            topic: Topic::Marketing,
            state,
            source_kind: kind,
            source_detail: Some("test".into()),
            proof: Some("Yes, send me offers".into()),
            actor: "test".into(),
            occurred_at: Some(when),
        },
    )
    .unwrap();
}

struct Shop {
    _dir: tempfile::TempDir,
    db: Database,
    store: Store,
    fake: FakeGraph,
    client: Arc<Client>,
}

fn shop(phones: &[&str]) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::new(
        dir.path().join("db"),
        optdesk_core::store::DbKey::generate().unwrap(),
    );
    let mut store = db.open().unwrap();
    for (k, v) in [
        ("frequency_cap_hours", "0"),
        ("timezone", "Europe/Madrid"),
        ("quiet_hours", "21:00-08:00"),
    ] {
        settings::set(store.conn(), k, v).unwrap();
    }
    let fake = FakeGraph::start();
    let t = FakeTemplate::approved("promo", "en_GB", "MARKETING", 0);
    fake.state().add_template(t.clone());
    templates::sync(
        &mut store,
        &[Template {
            id: "1".into(),
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
    for p in phones {
        optdesk_core::contacts::add(&mut store, p, "", &[]).unwrap();
        opt(
            &mut store,
            p,
            ConsentState::OptedIn,
            SourceKind::InStore,
            at("2026-01-01T10:00:00Z"),
        );
    }
    let cfg = GraphConfig {
        base_url: fake.url.clone(),
        version: "v25.0".into(),
        phone_number_id: Some(PHONE_NUMBER_ID.into()),
        waba_id: Some(WABA_ID.into()),
    };
    let client = Arc::new(Client::new(cfg, Secret::new(TOKEN)).unwrap());
    Shop {
        _dir: dir,
        db,
        store,
        fake,
        client,
    }
}

fn create(store: &mut Store) -> i64 {
    broadcast::create(
        store,
        &NewBroadcast {
            name: None,
            template: "promo".into(),
            language: "en_GB".into(),
            params: Default::default(),
            slots: Default::default(),
            tags: vec![],
            override_reason: None,
        },
    )
    .unwrap()
}

/// Recipient rows as a finished broadcast has them: delivered at the given times.
fn delivered(store: &Store, id: i64, rows: &[(&str, &str)]) {
    for (phone, when) in rows {
        store
            .conn()
            .execute(
                "INSERT INTO broadcast_recipients (broadcast_id, contact_id, state, delivery_status, delivered_at, attempts, updated_at)
                 SELECT ?1, id, 'sent', 'delivered', ?2, 1, ?2 FROM contacts WHERE phone = ?3",
                rusqlite::params![id, when, phone],
            )
            .unwrap();
    }
}

#[test]
fn an_opt_out_counts_against_the_latest_delivery_before_it_and_never_one_after_it() {
    let (a, b, c, d) = (
        "+447700900001",
        "+447700900002",
        "+447700900003",
        "+447700900004",
    );
    let mut s = shop(&[a, b, c, d]);
    let first = create(&mut s.store);
    let second = create(&mut s.store);
    let t0 = "2026-11-20T10:00:00.000000Z";
    delivered(&s.store, first, &[(a, t0), (b, t0), (c, t0), (d, t0)]);
    // The second broadcast reached b an hour later: b's STOP after that is the second's.
    delivered(&s.store, second, &[(b, "2026-11-20T11:00:00.000000Z")]);
    let stop = |s: &mut Shop, p: &str, when: &str, kind: SourceKind| {
        opt(&mut s.store, p, ConsentState::OptedOut, kind, at(when))
    };
    stop(&mut s, a, "2026-11-20T10:10:00Z", SourceKind::Keyword);
    stop(&mut s, b, "2026-11-20T12:00:00Z", SourceKind::Button);
    // c had opted out before it arrived (a drain applied it late): never the broadcast's.
    stop(&mut s, c, "2026-11-20T09:00:00Z", SourceKind::Keyword);
    // d, four days later: outside the 72-hour window.
    stop(&mut s, d, "2026-11-24T10:00:00Z", SourceKind::Keyword);

    let r1 = results::results(s.store.conn(), first).unwrap();
    let who1: Vec<&str> = r1.opt_outs.iter().map(|o| o.phone.as_str()).collect();
    assert_eq!(who1, vec![a], "{r1:#?}");
    assert_eq!(r1.opt_outs[0].after_minutes, 10);
    assert_eq!(r1.opt_out_rate, Some(25.0), "1 of 4 delivered");
    let r2 = results::results(s.store.conn(), second).unwrap();
    let who2: Vec<&str> = r2.opt_outs.iter().map(|o| o.phone.as_str()).collect();
    assert_eq!(who2, vec![b]);
    assert_eq!(r2.opt_outs[0].source_kind, "button");

    // A wider window takes d in; an owner's own opt-out (not the customer's signal) never counts.
    settings::set(s.store.conn(), "attribution_hours", "100").unwrap();
    let r1 = results::results(s.store.conn(), first).unwrap();
    assert_eq!(r1.opt_outs.len(), 2);
    opt(
        &mut s.store,
        a,
        ConsentState::OptedIn,
        SourceKind::InStore,
        at("2026-11-20T10:20:00Z"),
    );
    opt(
        &mut s.store,
        a,
        ConsentState::OptedOut,
        SourceKind::OwnerToggle,
        at("2026-11-20T10:30:00Z"),
    );
    assert_eq!(
        results::results(s.store.conn(), first)
            .unwrap()
            .opt_outs
            .len(),
        2
    );
}

#[test]
fn a_schedule_starts_on_time_a_missed_one_waits_for_the_owner_unless_late_was_allowed() {
    let mut s = shop(&["+447700900001"]);
    let clock = Clock::manual(at("2026-12-05T07:00:00Z")); // 08:00 in Madrid
    let on_time = create(&mut s.store);
    let missed = create(&mut s.store);
    let late_ok = create(&mut s.store);
    let e = schedule::schedule(&mut s.store, on_time, "2026-12-05 07:59", None, &clock)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is in the past"), "{e}");
    let sch = schedule::schedule(&mut s.store, on_time, "2026-12-05 09:30", None, &clock).unwrap();
    assert_eq!(sch.at, "2026-12-05T08:30:00.000000Z");
    schedule::schedule(&mut s.store, missed, "2026-12-05 09:30", None, &clock).unwrap();
    schedule::schedule(
        &mut s.store,
        late_ok,
        "2026-12-05 09:30",
        Some("2h"),
        &clock,
    )
    .unwrap();

    clock.set(at("2026-12-05T08:29:00Z"));
    assert!(
        schedule::tick(&mut s.store, &clock).unwrap().is_empty(),
        "not yet"
    );
    // Nothing ran at 09:30; the app opens at 09:31 and starts it (within the grace).
    clock.set(at("2026-12-05T08:31:00Z"));
    let due = schedule::tick(&mut s.store, &clock).unwrap();
    assert!(due.contains(&Due::Start(on_time)) && due.contains(&Due::Start(missed)));
    // Those two would start now; suppose the PC was off instead and opens at 10:45.
    clock.set(at("2026-12-05T09:45:00Z"));
    let due = schedule::tick(&mut s.store, &clock).unwrap();
    assert!(due.contains(&Due::Start(late_ok)), "within its 2 hours");
    assert!(!due.contains(&Due::Start(missed)));
    assert!(schedule::missed(s.store.conn()).unwrap().contains(&missed));
    // Missed is remembered: a later tick does not start it either.
    assert!(!schedule::tick(&mut s.store, &clock)
        .unwrap()
        .contains(&Due::Start(missed)));
}

#[test]
fn quiet_hours_hold_a_scheduled_marketing_broadcast_and_release_it_in_the_morning() {
    let phones = ["+447700900001", "+447700900002", "+447700900003"];
    let mut s = shop(&phones);
    let id = create(&mut s.store);
    let clock = Clock::manual(at("2026-12-05T20:30:00Z")); // 21:30 in Madrid
    let run = |start: Start, clock: &Clock| {
        let mut opts = engine::Options::owner(100.0, engine::Drain::NotRelay);
        opts.start = start;
        opts.clock = clock.clone();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(engine::run(
            &s.db,
            s.client.clone(),
            id,
            opts,
            Arc::new(AtomicBool::new(false)),
            |_, _| {},
        ))
    };
    // By hand inside quiet hours: refused, with the way forward.
    let e = run(Start::Owner, &clock).unwrap_err().to_string();
    assert!(e.contains("--during-quiet-hours"), "{e}");
    // By the scheduler: it pauses for quiet hours, sending nothing.
    match run(Start::Scheduled, &clock).unwrap() {
        Outcome::Stopped { state, reason, .. } => {
            assert_eq!(state, "paused");
            assert!(
                reason.contains("waits until Sun 6 Dec 2026 08:00"),
                "{reason}"
            );
        }
        o => panic!("{o:?}"),
    }
    assert!(s.fake.state().accepted.is_empty());
    assert!(schedule::tick(&mut s.store, &clock).unwrap().is_empty());
    // An owner's pause on top: the morning clears only quiet hours, so it still waits.
    broadcast::set_stopped(&mut s.store, id, false).unwrap();
    clock.set(at("2026-12-06T07:01:00Z")); // 08:01 in Madrid
    assert!(schedule::tick(&mut s.store, &clock).unwrap().is_empty());
    let e = run(Start::Automatic(PauseKind::QuietHours), &clock)
        .unwrap_err()
        .to_string();
    assert!(e.contains("still paused: paused by the owner"), "{e}");
    assert!(s.fake.state().accepted.is_empty());
    // The owner resumes: everyone, once.
    assert!(matches!(
        run(Start::Owner, &clock).unwrap(),
        Outcome::Finished { .. }
    ));
    assert_eq!(s.fake.state().accepted.len(), 3);
    // The Opt-outs chart marks the week it went out.
    let weeks = optdesk_core::optouts::weekly(&s.store, 2, time::now()).unwrap();
    let today = time::now().format("%Y-%m-%d").to_string();
    assert_eq!(weeks.last().unwrap().broadcast_days, vec![today]);
    let history = broadcast::pauses::history(s.store.conn(), id).unwrap();
    let kinds: Vec<(PauseKind, Option<String>)> = history
        .iter()
        .map(|p| (p.kind, p.cleared_by.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (PauseKind::QuietHours, Some("automatic: quiet_hours".into())),
            (PauseKind::Owner, Some("owner".into()))
        ]
    );
}

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
            assert_eq!(state, "paused");
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
