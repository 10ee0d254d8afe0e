//! Broadcasts the owner plans and learns from, through the real binary, the real receiver on
//! loopback and the fake Graph API: the brake stops a broadcast that makes people opt out,
//! results say who did, schedules and quiet hours refuse what they must.

use std::process::Stdio;
use std::time::{Duration, Instant};

use optdesk_fake_graph::WebhookTarget;

mod support;

use support::broadcasts::{Env, Killed};

/// The receiver (`optdesk serve`) on a free port, with the fake posting statuses (and the
/// customers' replies) to it.
fn serve(env: &Env) -> Killed {
    let port = support::free_port();
    let receiver = Killed(
        env.cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::wait_port(port, "the receiver");
    env.fake.state().webhook = Some(WebhookTarget {
        url: format!("http://127.0.0.1:{port}/webhook"),
        app_secret: "s".into(),
        statuses: vec!["sent".into(), "delivered".into(), "read".into()],
    });
    receiver
}

/// The numbers each template send went to (the confirmations of a STOP are texts).
fn template_sends(env: &Env) -> Vec<String> {
    env.fake
        .state()
        .sends()
        .iter()
        .filter(|r| r.body["type"] == "template")
        .map(|r| r.body["to"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_brake_pauses_after_the_canary_when_people_opt_out_and_resume_goes_on_once() {
    let env = Env::new();
    let phones = env.audience(400);
    for (k, v) in [("brake_wait", "4s"), ("brake_canary_share", "10")] {
        env.ok(&["config", "set", k, v]);
    }
    let _receiver = serve(&env);
    // Four of the canary's forty (10%) opt out a moment after it reaches them: three reply
    // STOP, one taps the template's "Stop promotions" button.
    for (i, p) in phones[..4].iter().enumerate() {
        let reply = if i == 3 {
            "button:Stop promotions"
        } else {
            "STOP"
        };
        env.fake
            .state()
            .reply_after_delivery
            .insert(p[1..].to_string(), reply.into());
    }
    let id = env.create(&[]);
    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    assert_eq!(p["brake"]["canary"], 40, "{p}");
    let out = env
        .cmd(&["broadcast", "send", &id, "--rate", "200"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the brake must stop it: {stderr}");
    // It trips as soon as enough STOPs are in (three at least): how many of the four, and how
    // many of the canary's delivery statuses came first, depends on timing.
    assert!(
        (stderr.contains("the brake: 3 of ") || stderr.contains("the brake: 4 of "))
            && stderr.contains("opted out after this broadcast reached them"),
        "{stderr}"
    );
    let before_resume = template_sends(&env).len();
    assert!(
        (4..=40).contains(&before_resume),
        "nobody after the canary is sent to before resume: {before_resume}"
    );
    // The fourth STOP may still be on its way.
    let until = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = env.json(&["broadcast", "results", &id, "--json"]);
        if r["opt_outs"].as_array().unwrap().len() == 4 || Instant::now() > until {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let who: Vec<&str> = r["opt_outs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["phone"].as_str().unwrap())
        .collect();
    assert_eq!(who.len(), 4, "{r}");
    for p in &phones[..4] {
        assert!(who.contains(&p.as_str()), "{p} in {who:?}");
    }
    assert!(r["opt_outs"][0]["event_id"].as_i64().unwrap() > 0);
    let kinds: Vec<&str> = r["opt_outs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["source_kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "keyword").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "button").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(r["pauses"][0]["kind"], "brake");
    assert!(r["pauses"][0]["figures"]["opted_out"].as_i64().unwrap() >= 3);
    let text = env.ok(&["broadcast", "results", &id]);
    assert!(text.contains("Opted out after it: 4 ("), "{text}");

    // The owner resumes: the same four do not trip it again, and everyone else gets it once.
    env.ok(&["broadcast", "send", &id, "--rate", "400"]);
    let sends = template_sends(&env);
    assert_eq!(sends.len(), 400);
    let unique: std::collections::HashSet<&String> = sends.iter().collect();
    assert_eq!(unique.len(), 400, "nobody twice");
    let r = env.json(&["broadcast", "results", &id, "--json"]);
    assert!(r["pauses"][0]["cleared_by"] == "owner", "{r}");
}

#[test]
fn a_broadcast_whose_recipients_behave_normally_goes_on_after_the_canary() {
    let env = Env::new();
    env.audience(250);
    env.ok(&["config", "set", "brake_wait", "2s"]);
    let _receiver = serve(&env);
    let id = env.create(&[]);
    let t = Instant::now();
    let out = env
        .cmd(&["broadcast", "send", &id, "--rate", "300"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "it waited after the canary"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("finished: 250 sent"));
    let r = env.json(&["broadcast", "results", &id, "--json"]);
    assert_eq!(r["opt_outs"].as_array().unwrap().len(), 0);
    assert_eq!(r["pauses"].as_array().unwrap().len(), 0);
    // Everyone reached reads it (the fake posts sent, delivered, read).
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = env.json(&["broadcast", "results", &id, "--json"]);
        if r["read"] == 250 {
            assert_eq!(r["delivered"], 250, "a read implies delivered");
            assert_eq!(r["read_rate"], 100.0);
            break;
        }
        assert!(Instant::now() < until, "statuses never arrived: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_brake_is_recorded_and_quiet_hours_and_schedules_refuse_with_a_way_forward() {
    let env = Env::new();
    env.audience(5);
    let id = env.create(&[]);
    // Quiet hours all day long (in the shop's zone), so the test does not depend on the hour.
    env.ok(&["config", "set", "timezone", "Europe/Madrid"]);
    env.ok(&["config", "set", "quiet_hours", "00:00-23:59"]);
    let e = env.fails(&["broadcast", "send", &id]);
    assert!(
        e.contains("quiet hours (00:00-23:59 in Europe/Madrid)")
            && e.contains("--during-quiet-hours"),
        "{e}"
    );
    assert!(env.fake.state().accepted.is_empty());
    env.ok(&[
        "broadcast",
        "send",
        &id,
        "--during-quiet-hours",
        "--no-brake",
    ]);
    assert_eq!(env.fake.state().accepted.len(), 5);
    let overrides = env.db_count(&format!(
        "SELECT count(*) FROM broadcasts WHERE id = {id} AND quiet_hours_override LIKE '%--during-quiet-hours%'
           AND brake LIKE '%--no-brake%'"
    ));
    assert_eq!(overrides, 1, "both choices are recorded on the broadcast");

    // Schedules: the past is refused; a future time shows in the list in the shop's time.
    let next = env.create(&[]);
    let e = env.fails(&["broadcast", "schedule", &next, "--at", "2020-01-01 09:30"]);
    assert!(e.contains("is in the past"), "{e}");
    let e = env.fails(&["broadcast", "schedule", &next, "--at", "tomorrow"]);
    assert!(e.contains("is not a time such as"), "{e}");
    let out = env.ok(&["broadcast", "schedule", &next, "--at", "2099-12-05 09:30"]);
    assert!(
        out.contains("Sat 5 Dec 2099 09:30 (Europe/Madrid)"),
        "{out}"
    );
    assert!(out.contains("in quiet hours"), "{out}");
    let list = env.ok(&["broadcast", "list"]);
    assert!(
        list.contains("scheduled for Sat 5 Dec 2099 09:30"),
        "{list}"
    );
    let stored = env.db_count(&format!(
        "SELECT count(*) FROM broadcasts WHERE id = {next} AND scheduled_at = '2099-12-05T08:30:00.000000Z'"
    ));
    assert_eq!(stored, 1, "stored in UTC");
    env.ok(&["broadcast", "cancel", &next]);
    let e = env.fails(&["broadcast", "send", &next]);
    assert!(e.contains("cancelled"), "{e}");
}
