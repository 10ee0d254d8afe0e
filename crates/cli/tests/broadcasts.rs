//! Broadcasts through the real binary against the fake Graph API: nobody whose consent does not
//! allow it is ever sent to, not at creation, not halfway, not after a crash.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use optdesk_core::ledger::{self, NewEvent};
use optdesk_core::model::{EventState, SourceKind, Subject};
use optdesk_core::{contacts, suppression, time, Store};
use optdesk_fake_graph::WebhookTarget;

mod support;

use support::broadcasts::{Env, Killed};

fn flag(store: &mut Store, phone: &str, subject: Subject) {
    let c = contacts::require(store.conn(), phone).unwrap();
    store
        .with_tx(|tx| {
            ledger::record(
                tx,
                &NewEvent {
                    contact: c.id,
                    phone,
                    subject,
                    state: EventState::Set,
                    source_kind: SourceKind::MetaSignal,
                    source_detail: Some("test"),
                    proof: None,
                    evidence_ref: None,
                    actor: "test",
                    occurred_at: time::now(),
                },
            )
        })
        .unwrap();
}

#[test]
fn creation_refuses_what_must_not_be_sent() {
    let env = Env::new();
    let err = |args: &[&str]| String::from_utf8(env.run(args).stderr).unwrap();
    let e = err(&[
        "broadcast",
        "create",
        "--template",
        "not_yet",
        "--language",
        "en_GB",
    ]);
    assert!(e.contains("PENDING, not APPROVED"), "{e}");
    let e = err(&[
        "broadcast",
        "create",
        "--template",
        "summer_sale",
        "--language",
        "en_GB",
    ]);
    assert!(
        e.contains("1 variable(s) ({{1}})") && e.contains("none"),
        "{e}"
    );
    let e = err(&[
        "broadcast",
        "create",
        "--template",
        "summer_sale",
        "--language",
        "en_GB",
        "--param",
        "1=@name",
    ]);
    assert!(e.contains("fallback"), "{e}");
    let e = err(&[
        "broadcast",
        "create",
        "--template",
        "no_way_out",
        "--language",
        "en_GB",
    ]);
    assert!(
        e.contains("no way to opt out") && e.contains("--override-reason"),
        "{e}"
    );
    let id = env.ok(&[
        "broadcast",
        "create",
        "--template",
        "no_way_out",
        "--language",
        "en_GB",
        "--override-reason",
        "legal said ok",
    ]);
    let p = env.json(&["broadcast", "preview", id.trim(), "--json"]);
    assert!(p["warnings"][0].as_str().unwrap().contains("legal said ok"));
}

#[test]
fn preview_and_send_reach_exactly_those_whose_consent_allows_it() {
    let env = Env::new();
    let phones = env.audience(12);
    let mut store = env.store();
    env.ok(&[
        "consent",
        "set",
        &phones[1],
        "--topic",
        "marketing",
        "--state",
        "opted_out",
        "--source",
        "phone call",
    ]);
    flag(&mut store, &phones[2], Subject::MetaBlocked);
    flag(&mut store, &phones[3], Subject::ReviewPending);
    let salt = store.salt().to_vec();
    suppression::add(
        store.conn(),
        &salt,
        &phones[4],
        suppression::Reason::OptedOut,
        None,
        &time::now(),
    )
    .unwrap();
    env.ok(&["contacts", "add", "+447911200000", "--tag", "vip"]); // no opt-in on record
    env.ok(&["contacts", "add", "+447911200001"]); // not in the audience (no tag)

    let id = env.create(&["--tag", "vip"]);
    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    assert_eq!(
        (
            p["audience"].as_u64(),
            p["will_receive"].as_u64(),
            p["excluded"].as_u64()
        ),
        (Some(13), Some(8), Some(5)),
        "{p:#}"
    );
    let reasons: HashMap<String, u64> = p["by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["reason"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        HashMap::from([
            ("suppressed".into(), 1),
            ("opted_out".into(), 1),
            ("meta_blocked".into(), 1),
            ("review_pending".into(), 1),
            ("no_opt_in".into(), 1)
        ])
    );
    assert_eq!(p["by_reason"][1]["phones"][0], phones[1]);

    let out = env.ok(&["broadcast", "send", &id, "--rate", "200"]);
    assert!(
        out.contains("finished: 8 sent, 0 failed, 5 blocked"),
        "{out}"
    );
    let sent = env.sends_by_number();
    let allowed: Vec<&String> = phones
        .iter()
        .enumerate()
        .filter(|(i, _)| ![1, 2, 3, 4].contains(i))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(sent.len(), 8);
    for p in &allowed {
        assert_eq!(sent.get(*p), Some(&1), "{p} exactly once");
    }
    let requested = env.ever_requested();
    for excluded in [
        &phones[1],
        &phones[2],
        &phones[3],
        &phones[4],
        &"+447911200000".to_string(),
    ] {
        assert!(
            !requested.contains(excluded),
            "{excluded} must never reach WhatsApp, not even as a request"
        );
    }
    let reqs = env
        .fake
        .state()
        .sends()
        .into_iter()
        .map(|r| r.body.clone())
        .collect::<Vec<_>>();
    let text_for = |to: &str| {
        reqs.iter().find(|b| b["to"] == to).unwrap()["template"]["components"][0]["parameters"][0]
            ["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        text_for(&phones[0][1..]),
        "there",
        "the fallback for a contact with no name"
    );
    assert_eq!(text_for(&phones[5][1..]), "Customer 5");
    let again = env.run(&["broadcast", "send", &id]);
    assert!(
        !again.status.success(),
        "a finished broadcast sends nothing more"
    );
    assert_eq!(env.sends_by_number().values().sum::<usize>(), 8);
}

#[test]
fn an_opt_out_recorded_mid_broadcast_stops_that_send() {
    let env = Env::new();
    let phones = env.audience(15);
    let id = env.create(&[]);
    let mut child = env
        .cmd(&["broadcast", "send", &id, "--rate", "5"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while env.fake.state().sends().len() < 3 {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = phones.last().unwrap();
    env.ok(&[
        "consent",
        "set",
        last,
        "--topic",
        "marketing",
        "--state",
        "opted_out",
        "--source",
        "phone call",
    ]);
    assert!(child.wait().unwrap().success());
    assert!(
        !env.ever_requested().contains(last),
        "the opt-out a moment ago blocked the send"
    );
    let st = env.json(&["broadcast", "status", &id, "--recipients", "--json"]);
    let r = st["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["phone"] == last.as_str())
        .unwrap();
    assert_eq!(
        (r["state"].as_str(), r["reason"].as_str()),
        (Some("blocked"), Some("opted out"))
    );
    assert_eq!(st["counts"]["sent"], 14);
}

#[test]
fn rate_limit_bursts_slow_it_down_and_everything_still_goes() {
    let env = Env::new();
    env.audience(20);
    env.fake.state().rate_limit_burst = 8;
    let id = env.create(&[]);
    env.ok(&["broadcast", "send", &id, "--rate", "100"]);
    let sent = env.sends_by_number();
    assert_eq!(sent.len(), 20);
    assert_eq!(
        env.fake.state().sends().len(),
        28,
        "20 accepted + 8 refused with 130429 and retried"
    );
    assert_eq!(
        env.json(&["broadcast", "status", &id, "--json"])["counts"]["sent"],
        20
    );
}

#[test]
fn an_expired_token_pauses_with_a_clear_message_and_resume_sends_the_rest_once() {
    let env = Env::new();
    env.audience(10);
    let id = env.create(&[]);
    env.fake.state().token_expired = true;
    let o = env.run(&["broadcast", "send", &id, "--rate", "50"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("paused") && err.contains("rejected the access token"),
        "{err}"
    );
    let st = env.json(&["broadcast", "status", &id, "--json"]);
    assert_eq!(
        (st["state"].as_str(), st["counts"]["queued"].as_u64()),
        (Some("paused"), Some(10))
    );
    env.fake.state().token_expired = false;
    env.ok(&["broadcast", "send", &id, "--rate", "50"]);
    assert_eq!(env.sends_by_number().len(), 10);
    assert!(env.sends_by_number().values().all(|n| *n == 1));
}

#[test]
fn killed_again_and_again_it_never_sends_anyone_twice() {
    let env = Env::new();
    let phones = env.audience(300);
    // Over 200 recipients the brake sends a canary and waits; this test is about the kills.
    env.ok(&["config", "set", "brake", "off"]);
    env.fake.state().delay_ms = 15; // requests are in flight when the kills land
    let id = env.create(&[]);
    let mut kills = 0;
    for wait_ms in [300u64, 500, 400] {
        let mut child = env
            .cmd(&["broadcast", "send", &id, "--rate", "150"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 2, "the kills must land mid-send");
    let o = env.run(&["broadcast", "send", &id, "--rate", "1000"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sent = env.sends_by_number();
    assert!(
        sent.values().all(|n| *n == 1),
        "a recipient was sent twice: {:?}",
        sent.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    let st = env.json(&["broadcast", "status", &id, "--recipients", "--json"]);
    let c = &st["counts"];
    let unknown = c["unknown"].as_u64().unwrap();
    assert_eq!(c["sent"].as_u64().unwrap() + unknown, 300, "{c}");
    assert!(
        unknown <= 64 * kills as u64,
        "no more unknown than were in flight at the kills: {unknown}"
    );
    for r in st["recipients"].as_array().unwrap() {
        if r["state"] == "sent" {
            assert_eq!(sent.get(r["phone"].as_str().unwrap()), Some(&1));
        }
    }
    assert_eq!(
        sent.len() as u64,
        300 - unknown
            + sent
                .keys()
                .filter(|p| st["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["phone"] == p.as_str() && r["state"] == "unknown"))
                .count() as u64
    );
    let _ = phones;
    env.ok(&["broadcast", "resolve", &id, "--drop"]);
    assert_eq!(
        env.json(&["broadcast", "status", &id, "--json"])["counts"]["unknown"],
        0
    );
}

#[test]
fn a_131050_in_a_status_webhook_marks_the_recipient_and_the_contact() {
    let env = Env::new();
    let phones = env.audience(3);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let receiver = Killed(
        env.cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        let mut st = env.fake.state();
        st.webhook = Some(WebhookTarget {
            url: format!("http://127.0.0.1:{port}/webhook"),
            app_secret: "s".into(),
            statuses: vec!["sent".into(), "delivered".into()],
        });
        st.fail_131050_async.insert(phones[1][1..].to_string());
    }
    let id = env.create(&[]);
    env.ok(&["broadcast", "send", &id, "--rate", "50"]);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let show = env.json(&["contacts", "show", &phones[1], "--json"]);
        if show["meta_blocked"] == true {
            break;
        }
        if Instant::now() >= until {
            eprintln!("INBOX {}", env.ok(&["inbox", "list"]));
            eprintln!(
                "STATUS {}",
                env.ok(&["broadcast", "status", &id, "--recipients", "--json"])
            );
        }
        assert!(Instant::now() < until, "131050 never reached the contact");
        std::thread::sleep(Duration::from_millis(50));
    }
    let st = env.json(&["broadcast", "status", &id, "--recipients", "--json"]);
    let r = st["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["phone"] == phones[1].as_str())
        .unwrap();
    assert_eq!(
        (r["delivery_status"].as_str(), r["error_code"].as_i64()),
        (Some("failed"), Some(131050))
    );
    let other = st["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["phone"] == phones[0].as_str())
        .unwrap();
    assert_eq!(other["delivery_status"], "delivered");
    drop(receiver);
    // And the next broadcast leaves them out.
    let next = env.create(&[]);
    let p = env.json(&["broadcast", "preview", &next, "--json"]);
    assert_eq!(p["by_reason"][0]["reason"], "meta_blocked");
}

/// Outside relay mode nothing keeps Meta's webhooks while the receiver is down: the preview and
/// the send say when it was, within Meta's 7 days of retries.
#[test]
fn the_preview_and_the_send_say_when_the_receiver_was_offline() {
    let env = Env::new();
    env.audience(3);
    let id = env.create(&[]);
    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    assert!(
        !p["warnings"].to_string().contains("offline"),
        "a receiver that never ran is the header's business, not this warning: {p}"
    );
    // The receiver runs for a moment, then the PC is switched off.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let serve = Killed(
        env.cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while env.db_count("SELECT count(*) FROM receiver_uptime") == 0 {
        assert!(Instant::now() < until, "the receiver recorded no heartbeat");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(serve);
    // That was last night (moving the recorded stretch back instead of waiting).
    env.sql("UPDATE receiver_uptime SET since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-12 hours'), until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-11 hours')");
    let p = env.json(&["broadcast", "preview", &id, "--json"]);
    let w = p["warnings"].to_string();
    assert!(
        w.contains("OptDesk was offline since") && w.contains("may still arrive from WhatsApp"),
        "{w}"
    );
    let out = env.cmd(&["broadcast", "send", &id]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("OptDesk was offline since"));
}
