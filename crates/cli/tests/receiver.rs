//! The webhook receiver: the real `optdesk serve` on 127.0.0.1, signed webhooks over HTTP, the
//! fake Graph API taking the confirmations.

use std::process::Command;
use std::time::Duration;

use optdesk_fake_graph::{escape_non_ascii, sign, WABA_ID};
use serde_json::{json, Value};

mod support;
use support::receiver::*;

#[test]
fn the_handshake_and_signatures() {
    let mut env = Env::new();
    env.start();
    let get = |q: &str| {
        env.http(
            &format!("GET /webhook?{q} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
            b"",
        )
    };
    assert_eq!(
        get(&format!(
            "hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
        )),
        (200, "1158201444".into())
    );
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").0,
        403
    );
    assert_eq!(
        get(&format!(
            "hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=1"
        ))
        .0,
        403
    );

    let body = escape_non_ascii(&text(ANA, "wamid.SIG1", "stop").to_string());
    assert_eq!(env.post_raw(body.as_bytes(), None), 401);
    assert_eq!(
        env.post_raw(
            body.as_bytes(),
            Some(&sign("not-the-secret", body.as_bytes()))
        ),
        401
    );
    // Signed over the escaped bytes, then sent as raw UTF-8: not what was signed.
    let unescaped = text(ANA, "wamid.SIG1", "stop 🙏").to_string();
    assert_eq!(
        env.post_raw(
            unescaped.as_bytes(),
            Some(&sign(APP_SECRET, escape_non_ascii(&unescaped).as_bytes()))
        ),
        401
    );
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox"),
        0,
        "nothing stored for a refused body"
    );
    let huge = vec![b' '; 4 * 1024 * 1024];
    assert_eq!(env.post_raw(&huge, Some(&sign(APP_SECRET, &huge))), 413);

    // An emoji in a STOP, escaped as Meta escapes it: verified, and an opt-out.
    assert_eq!(env.post(&text(ANA, "wamid.SIG2", "STOP 🙏")), 200);
    env.eventually("Ana opted out", |e| {
        e.contact(ANA)["marketing"] == "opted_out"
    });
}

#[test]
fn a_stop_opts_out_of_everything_and_gets_exactly_one_confirmation() {
    let mut env = Env::new();
    env.start();
    let stop = text(ANA, "wamid.STOP1", "Stop sending me these messages");
    assert_eq!(env.post(&stop), 200);
    assert_eq!(env.post(&stop), 200, "Meta delivers again");
    env.eventually("a confirmation went out", |e| {
        !texts_sent(&e.fake).is_empty()
    });
    let ana = env.contact(ANA);
    assert_eq!(
        (ana["marketing"].as_str(), ana["utility"].as_str()),
        (Some("opted_out"), Some("opted_out"))
    );
    let ev = ana["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            ev["source_kind"].as_str(),
            ev["proof"].as_str(),
            ev["evidence_ref"].as_str()
        ),
        (
            Some("keyword"),
            Some("Stop sending me these messages"),
            Some("wamid.STOP1")
        )
    );
    std::thread::sleep(Duration::from_millis(600));
    let sent = texts_sent(&env.fake);
    assert_eq!(sent.len(), 1, "one confirmation, not two: {sent:?}");
    assert_eq!(sent[0]["to"], ANA);
    assert_eq!(sent[0]["context"]["message_id"], "wamid.STOP1");
    assert_eq!(
        sent[0]["text"]["body"],
        "You're unsubscribed from Bakery Sol messages. Reply START to resubscribe."
    );

    // Its delivery comes back by status webhooks, out of order and twice.
    let list = env.json(&["optouts", "list", "--json"]);
    assert_eq!(list[0]["confirmation"]["state"], "sent");
    let wamid = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.body["type"] == "text")
        .count();
    assert_eq!(wamid, 1);
    let reply_id: String = env
        .conn()
        .query_row("SELECT wamid FROM outbound_messages", [], |r| r.get(0))
        .unwrap();
    for s in ["read", "delivered", "read", "sent"] {
        assert_eq!(env.post(&statuses(json!([{"id": reply_id, "status": s, "timestamp": "1781604005", "recipient_id": ANA}]))), 200);
    }
    env.eventually("the confirmation shows as read", |e| {
        e.json(&["optouts", "list", "--json"])[0]["confirmation"]["delivery"] == "read"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        env.json(&["optouts", "list", "--json"])[0]["confirmation"]["delivery"],
        "read",
        "never moves backwards"
    );

    // START restores what the keyword took away.
    assert_eq!(env.post(&text(ANA, "wamid.START1", "START")), 200);
    env.eventually("Ana back in", |e| e.contact(ANA)["marketing"] == "opted_in");
    assert_eq!(env.contact(ANA)["utility"], "opted_in");
}

#[test]
fn buttons_preferences_and_failed_statuses() {
    let mut env = Env::new();
    env.start();
    let button = messages(
        json!([{"from": ANA, "id": "wamid.BTN1", "timestamp": now(), "type": "button",
                "button": {"payload": "Stop promotions", "text": "Stop promotions"}, "context": {"from": "447911123400", "id": "wamid.T1"}}]),
        json!([{"wa_id": ANA}]),
    );
    assert_eq!(env.post(&button), 200);
    env.eventually("marketing opt-out by button", |e| {
        e.contact(ANA)["marketing"] == "opted_out"
    });
    assert_eq!(
        env.contact(ANA)["utility"],
        "opted_in",
        "a button covers marketing only"
    );
    env.eventually("the button got its confirmation", |e| {
        texts_sent(&e.fake).len() == 1
    });

    let pref = |value: &str, ts: i64| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "user_preferences",
        "value": {"messaging_product": "whatsapp", "contacts": [{"wa_id": BEN}],
                  "user_preferences": [{"wa_id": BEN, "detail": "User requested to stop marketing messages",
                                        "category": "marketing_messages", "value": value, "timestamp": ts}]}}]}]})
    };
    assert_eq!(env.post(&pref("stop", 1781604020)), 200);
    env.eventually("Ben blocked by Meta", |e| {
        e.contact(BEN)["meta_blocked"] == true
    });
    assert_eq!(
        env.post(&pref("resume", 1781604010)),
        200,
        "an older resume arriving late"
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        env.contact(BEN)["meta_blocked"],
        true,
        "a stale resume changes nothing"
    );
    assert_eq!(env.post(&pref("resume", 1781604090)), 200);
    env.eventually("Ben resumed", |e| e.contact(BEN)["meta_blocked"] == false);
    assert_eq!(
        env.contact(BEN)["marketing"],
        "opted_in",
        "resume lifts Meta's block, not more"
    );

    let failed = |id: &str, to: &str, code: i64| {
        statuses(
            json!([{"id": id, "status": "failed", "timestamp": "1781604100", "recipient_id": to,
        "errors": [{"code": code, "title": "x", "message": "x", "error_data": {"details": "d"}}]}]),
        )
    };
    assert_eq!(env.post(&failed("wamid.F1", BEN, 131050)), 200);
    env.eventually("131050 recorded", |e| {
        e.contact(BEN)["meta_blocked"] == true
    });
    assert_eq!(env.post(&failed("wamid.F2", ANA, 131026)), 200);
    env.eventually("131026 marks unreachable", |e| {
        e.contact(ANA)["unreachable"] == true
    });
    let list = env.json(&["optouts", "list", "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|o| o["topic"] == "meta_blocked" && o["source_kind"] == "meta_signal"),
        "{list:#}"
    );
}

#[test]
fn unknown_senders_review_and_the_keyword_test_command() {
    let mut env = Env::new();
    env.start();
    let stranger = "34612345678";
    assert_eq!(env.post(&text(stranger, "wamid.U1", "baja")), 200);
    env.eventually("a suppression for the unknown number", |e| {
        e.db_count("SELECT count(*) FROM suppressions") == 1
    });
    let o = env
        .cmd(&["contacts", "add", &format!("+{stranger}")])
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("suppression list"));
    env.eventually("the stranger still got a confirmation", |e| {
        texts_sent(&e.fake).iter().any(|t| t["to"] == stranger)
    });

    assert_eq!(
        env.post(&text(ANA, "wamid.R1", "cancel my order please")),
        200
    );
    env.eventually("in review", |e| e.contact(ANA)["review_pending"] == true);
    assert_eq!(
        env.contact(ANA)["marketing"],
        "opted_in",
        "a review item is not an opt-out"
    );
    let items = env.json(&["review", "list", "--json"]);
    assert_eq!(
        (items[0]["text"].as_str(), items[0]["matched"].as_str()),
        (Some("cancel my order please"), Some("cancel"))
    );
    assert_eq!(items[0]["business_days_left"], 10);
    let id = items[0]["id"].to_string();
    env.ok(&["review", "dismiss", &id]);
    assert_eq!(env.contact(ANA)["review_pending"], false);
    assert_eq!(env.contact(ANA)["marketing"], "opted_in");

    assert_eq!(
        env.post(&text(BEN, "wamid.R2", "no more messages like that thanks")),
        200
    );
    env.eventually("in review", |e| e.contact(BEN)["review_pending"] == true);
    let id = env.json(&["review", "list", "--json"])[0]["id"].to_string();
    env.ok(&["review", "accept", &id]);
    let ben = env.contact(BEN);
    assert_eq!(
        (
            ben["marketing"].as_str(),
            ben["utility"].as_str(),
            ben["review_pending"].as_bool()
        ),
        (Some("opted_out"), Some("opted_out"), Some(false))
    );

    let v: Value =
        serde_json::from_str(&env.ok(&["keywords", "test", "Stop. Thank you", "--json"])).unwrap();
    assert_eq!(
        (v["class"].as_str(), v["matched"].as_str()),
        (Some("opt-out"), Some("stop"))
    );
    assert!(env
        .ok(&["keywords", "test", "What time do you open?"])
        .starts_with("none"));
}

#[test]
fn every_acknowledged_body_survives_a_kill_and_is_processed_after_restart() {
    let mut env = Env::new();
    env.start();
    let mut acknowledged = 0;
    for i in 0..60 {
        let who = if i % 2 == 0 { ANA } else { BEN };
        if env.post(&statuses(json!([{"id": format!("wamid.K{i}"), "status": "delivered", "timestamp": "1781604000", "recipient_id": who}]))) == 200 {
            acknowledged += 1;
        }
    }
    assert_eq!(env.post(&text(BEN, "wamid.K-STOP", "unsubscribe")), 200);
    env.kill(); // SIGKILL right after the last 200
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox"),
        acknowledged + 1,
        "every 200 was committed first"
    );

    env.start();
    env.eventually("everything processed after the restart", |e| {
        e.db_count("SELECT count(*) FROM inbox WHERE processed_at IS NULL") == 0
    });
    assert_eq!(env.db_count("SELECT count(*) FROM message_statuses"), 60);
    assert_eq!(env.contact(BEN)["marketing"], "opted_out");
    env.ok(&["consent", "verify"]);

    // One receiver per database.
    let o = env
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("already receiving webhooks")
            && String::from_utf8_lossy(&o.stderr).contains("`optdesk serve`, pid "),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_provider_error_guard_holds_a_flood_of_131050s() {
    let mut env = Env::new();
    env.ok(&["config", "set", "provider_optout_guard", "1"]);
    env.start();
    for (i, to) in [ANA, BEN].iter().enumerate() {
        let s = statuses(
            json!([{"id": format!("wamid.G{i}"), "status": "failed", "timestamp": "1781604100", "recipient_id": to,
            "errors": [{"code": 131050, "title": "x", "message": "x"}]}]),
        );
        assert_eq!(env.post(&s), 200);
    }
    env.eventually("the second is held", |e| {
        e.db_count(
            "SELECT count(*) FROM inbox WHERE error LIKE 'held by the provider-error guard%'",
        ) == 1
    });
    assert_eq!(env.contact(ANA)["meta_blocked"], true);
    assert_eq!(env.contact(BEN)["meta_blocked"], false, "held, not applied");
    assert!(env
        .ok(&["inbox", "list"])
        .contains("held by the provider-error guard"));
    env.ok(&["config", "set", "provider_optout_guard", "100"]);
    env.ok(&["inbox", "retry"]);
    assert_eq!(
        env.contact(BEN)["meta_blocked"],
        true,
        "applied once the owner lets it through"
    );
}

fn text_with_profile(from: &str, id: &str, body: &str, name: &str) -> Value {
    messages(
        json!([{"from": from, "id": id, "timestamp": now(), "type": "text", "text": {"body": body}}]),
        json!([{"profile": {"name": name}, "wa_id": from}]),
    )
}

#[test]
fn sign_up_codes_qr_poster_and_the_customers_own_opt_in() {
    let mut env = Env::new();
    env.ok(&["config", "set", "business_number", "+447911123400"]);
    let (qr, poster) = (
        env.dir.path().join("till.png"),
        env.dir.path().join("till.pdf"),
    );
    let o = env
        .cmd(&[
            "signup",
            "create",
            "--label",
            "Till",
            "--qr",
            qr.to_str().unwrap(),
            "--poster",
            poster.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let source: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (code, link, prefilled) = (
        source["code"].as_str().unwrap().to_string(),
        source["link"].as_str().unwrap().to_string(),
        source["text"].as_str().unwrap().to_string(),
    );
    assert!(
        link.starts_with(
            "https://wa.me/447911123400?text=Yes%2C%20send%20me%20offers%20from%20Bakery%20Sol"
        ),
        "{link}"
    );
    assert_eq!(
        prefilled,
        format!("Yes, send me offers from Bakery Sol on WhatsApp #{code}")
    );
    let decoded = Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(&qr)
        .output()
        .expect("zbarimg (zbar-tools) is installed by scripts/test");
    assert_eq!(
        String::from_utf8_lossy(&decoded.stdout).trim(),
        link,
        "the QR code is exactly the link"
    );
    let text = Command::new("pdftotext")
        .arg(&poster)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(text.status.success(), "a valid PDF");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Bakery Sol") && text.contains("reply STOP"),
        "{text}"
    );

    env.start();
    let newcomer = "447911123460";
    let signup = text_with_profile(newcomer, "wamid.SU1", &prefilled, "Marta");
    assert_eq!(env.post(&signup), 200);
    assert_eq!(env.post(&signup), 200, "Meta delivers it again");
    env.eventually("the welcome went out", |e| {
        texts_sent(&e.fake).iter().any(|t| t["to"] == newcomer)
    });
    let c = env.contact(newcomer);
    assert_eq!(
        (
            c["name"].as_str(),
            c["marketing"].as_str(),
            c["utility"].as_str()
        ),
        (Some("Marta"), Some("opted_in"), Some("unknown"))
    );
    let h = &c["history"];
    assert_eq!(
        h.as_array().unwrap().len(),
        1,
        "a duplicate delivery changes nothing"
    );
    assert_eq!(
        (
            h[0]["source_kind"].as_str(),
            h[0]["proof"].as_str(),
            h[0]["evidence_ref"].as_str()
        ),
        (Some("signup"), Some(prefilled.as_str()), Some("wamid.SU1"))
    );
    assert!(h[0]["source_detail"]
        .as_str()
        .unwrap()
        .starts_with(&format!("sign-up #{code}: Till")));
    std::thread::sleep(Duration::from_millis(400));
    let welcomes: Vec<Value> = texts_sent(&env.fake)
        .into_iter()
        .filter(|t| t["to"] == newcomer)
        .collect();
    assert_eq!(welcomes.len(), 1);
    assert!(welcomes[0]["text"]["body"]
        .as_str()
        .unwrap()
        .contains("Reply STOP to unsubscribe"));

    // Edited, but the code is still there: it counts.
    assert_eq!(
        env.post(&text_with_profile(
            "447911123461",
            "wamid.SU2",
            &format!("sign me up for deals pls #{}", code.to_lowercase()),
            "Leo"
        )),
        200
    );
    env.eventually("the edited sign-up counts", |e| {
        e.run_ok_contact("447911123461")
            .is_some_and(|c| c["marketing"] == "opted_in")
    });

    // A code beside an opt-out word goes to review, and so does a retired code.
    assert_eq!(
        env.post(&text_with_profile(
            "447911123462",
            "wamid.SU3",
            &format!("No thanks, stop #{code}"),
            "Ray"
        )),
        200
    );
    env.ok(&["signup", "retire", &code]);
    assert_eq!(
        env.post(&text_with_profile(
            "447911123463",
            "wamid.SU4",
            &prefilled,
            "Sam"
        )),
        200
    );
    env.eventually("both in review", |e| {
        e.json(&["review", "list", "--json"])
            .as_array()
            .unwrap()
            .len()
            == 2
    });
    assert!(
        env.run_ok_contact("447911123463").is_none(),
        "a retired code opts no one in"
    );
    let listed = env.json(&["signup", "list", "--json"]);
    assert_eq!(
        (
            listed[0]["opt_ins"].as_u64(),
            listed[0]["retired"].as_bool()
        ),
        (Some(2), Some(true))
    );
}

#[test]
fn a_sign_up_lifts_a_suppression_and_re_opts_in_an_opted_out_contact_and_the_ledger_says_so() {
    let mut env = Env::new();
    env.ok(&["config", "set", "business_number", "+447911123400"]);
    let code = env.json(&["signup", "create", "--label", "Window", "--json"])["code"]
        .as_str()
        .unwrap()
        .to_string();
    env.start();
    let stranger = "34612345678";
    assert_eq!(env.post(&text(stranger, "wamid.X1", "STOP")), 200);
    env.eventually("suppressed", |e| {
        e.db_count("SELECT count(*) FROM suppressions") == 1
    });
    assert_eq!(
        env.post(&text_with_profile(
            stranger,
            "wamid.X2",
            &format!("Yes please #{code}"),
            "Lucía"
        )),
        200
    );
    env.eventually("signed up", |e| e.run_ok_contact(stranger).is_some());
    let c = env.contact(stranger);
    assert_eq!(c["marketing"], "opted_in");
    assert!(
        c["history"][0]["source_detail"]
            .as_str()
            .unwrap()
            .contains("lifted the suppression list entry"),
        "{c:#}"
    );
    assert_eq!(env.db_count("SELECT count(*) FROM suppressions"), 0);

    assert_eq!(env.post(&text(ANA, "wamid.X3", "unsubscribe")), 200);
    env.eventually("Ana out", |e| e.contact(ANA)["marketing"] == "opted_out");
    assert_eq!(
        env.post(&text(
            ANA,
            "wamid.X4",
            &format!("ok send me offers again #{code}")
        )),
        200
    );
    env.eventually("Ana back in by her own act", |e| {
        e.contact(ANA)["marketing"] == "opted_in"
    });
    let states: Vec<String> = env.contact(ANA)["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == "marketing")
        .map(|e| {
            format!(
                "{} {}",
                e["state"].as_str().unwrap(),
                e["source_kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        states,
        ["opted_in import", "opted_out keyword", "opted_in signup"]
    );
}
