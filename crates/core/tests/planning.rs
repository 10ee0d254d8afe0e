//! Results, schedules and quiet hours in the core, with a held clock instead of sleeps.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use optdesk_core::broadcast::engine::{self, Outcome, Start};
use optdesk_core::broadcast::pauses::PauseKind;
use optdesk_core::broadcast::schedule::{self, Due};
use optdesk_core::broadcast::{self, results};
use optdesk_core::time::{self, Clock};
use optdesk_core::{settings, ConsentState, SourceKind};

#[path = "support/shop.rs"]
mod shop;
use shop::*;

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
            assert_eq!(state, optdesk_core::model::BroadcastState::Paused);
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
