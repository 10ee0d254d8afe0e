//! "Connect webhooks" end to end: the real `optdesk serve` on 127.0.0.1 behind a TLS front
//! with a test certificate authority (the tunnel's stand-in), the fake Graph API taking the
//! registration calls strictly (it verifies every callback over HTTPS trusting only that CA)
//! and routing the webhooks it emits by Meta's precedence.

use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use optdesk_fake_graph::routing::{AppCallback, APP_ID};
use optdesk_fake_graph::tls::{TestCa, TlsFront};
use optdesk_fake_graph::{FakeGraph, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::{json, Value};

mod support;

const APP_SECRET: &str = "test-app-secret";
const VERIFY: &str = "test-verify-token";
const ANA: &str = "447911123456";
const CRM: &str = "https://crm.example/whatsapp-hook";

struct Env {
    cli: support::Cli,
    fake: FakeGraph,
    _ca: TestCa,
    front: Option<TlsFront>,
    port: u16,
    server: Option<Child>,
}

impl std::ops::Deref for Env {
    type Target = support::Cli;
    fn deref(&self) -> &support::Cli {
        &self.cli
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Env {
    fn new() -> Env {
        let ca = TestCa::new();
        let fake = FakeGraph::start();
        {
            let mut st = fake.state();
            st.routing.app_secret = APP_SECRET.into();
            st.routing.trusted_ca_pem = Some(ca.ca_pem.clone());
        }
        let port = free_port();
        let front = TlsFront::start(&ca, ([127, 0, 0, 1], port).into(), None);
        let cli = support::Cli::new();
        let ca_file = cli.file("test-ca.pem", ca.ca_pem.as_bytes());
        let cli = cli
            .with_env("OPTDESK_GRAPH_URL", &fake.url)
            .with_env("OPTDESK_ACCESS_TOKEN", TOKEN)
            .with_env("OPTDESK_APP_SECRET", APP_SECRET)
            .with_env("OPTDESK_VERIFY_TOKEN", VERIFY)
            .with_env("SSL_CERT_FILE", &ca_file);
        for (k, v) in [
            ("phone_number_id", PHONE_NUMBER_ID),
            ("waba_id", WABA_ID),
            ("business_name", "Bakery Sol"),
            ("public_url", front.url.as_str()),
        ] {
            cli.ok(&["config", "set", k, v]);
        }
        let csv = cli.file(
            "c.csv",
            format!("phone,name,marketing,utility,consent_source\n+{ANA},Ana,yes,yes,fair\n")
                .as_bytes(),
        );
        cli.ok(&["contacts", "import", csv.to_str().unwrap()]);
        Env {
            cli,
            fake,
            _ca: ca,
            front: Some(front),
            port,
            server: None,
        }
    }

    fn ours(&self) -> String {
        format!("{}/webhook", self.front.as_ref().unwrap().url)
    }

    fn start(&mut self) {
        let child = self
            .cmd(&["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "the receiver did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn eventually(&self, what: &str, check: impl Fn(&Env) -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !check(self) {
            assert!(Instant::now() < until, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn routing(&self) -> optdesk_fake_graph::routing::Routing {
        self.fake.state().routing.clone()
    }

    fn foreign_app(&self) {
        let mut st = self.fake.state();
        st.routing.subscribed = true;
        st.routing.app_callback = Some(AppCallback {
            url: CRM.into(),
            verify_token: "crm-token".into(),
            fields: vec![
                "messages".into(),
                "user_preferences".into(),
                "message_template_status_update".into(),
            ],
            active: true,
        });
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stop_value(id: &str) -> Value {
    json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": ANA}],
        "messages": [{"from": ANA, "id": id, "type": "text", "text": {"body": "STOP"},
            "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string()}]})
}

fn prefs_value(value: &str) -> Value {
    json!({"messaging_product": "whatsapp", "user_preferences": [{"wa_id": ANA, "category": "marketing_messages",
        "value": value, "detail": "User requested to stop marketing messages",
        "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()}]})
}

#[test]
fn connect_in_manual_mode_registers_the_app_callback_and_a_stop_arrives_through_it() {
    let mut env = Env::new();
    env.start();
    let report = env.json(&["webhook", "connect", "--json"]);
    assert_eq!(report["level"], "app", "{report:#}");
    assert_eq!(report["callback_url"], env.ours());
    assert!(
        report["self_test"]["handshake"].is_null() && report["self_test"]["delivery"].is_null(),
        "{report:#}"
    );
    for kind in ["messages", "user_preferences", "templates", "account"] {
        assert_eq!(
            report["routing"][kind]["reaches_optdesk"], true,
            "{kind}: {report:#}"
        );
    }
    // What the fake (Meta) now holds: the app subscribed, its callback ours, every field.
    let r = env.routing();
    assert!(r.subscribed);
    let app = r.app_callback.clone().unwrap();
    assert_eq!(app.url, env.ours());
    assert_eq!(app.verify_token, VERIFY);
    for f in [
        "messages",
        "user_preferences",
        "message_template_status_update",
        "message_template_quality_update",
        "template_category_update",
        "phone_number_quality_update",
        "account_update",
        "business_capability_update",
    ] {
        assert!(
            app.fields.iter().any(|x| x == f),
            "{f} subscribed: {:?}",
            app.fields
        );
    }
    // The app access token went only to the app's own endpoint, and the app id was learnt.
    for req in env.fake.requests() {
        let app_token =
            req.authorization.as_deref() == Some(&format!("Bearer {APP_ID}|{APP_SECRET}"));
        assert_eq!(
            app_token,
            req.path.contains(&format!("{APP_ID}/subscriptions")),
            "{req:?}"
        );
    }
    assert_eq!(env.ok(&["config", "get", "app_id"]).trim(), APP_ID);

    // The proof of the whole path: Meta (the fake) routes a customer's STOP to OptDesk.
    let sent = env.fake.emit("messages", stop_value("wamid.CONNECT1"));
    assert_eq!(sent["delivered_to"], env.ours(), "{sent}");
    assert_eq!(sent["status"], 200, "{sent}");
    env.eventually("the STOP through the registered route", |e| {
        e.json(&["contacts", "show", &format!("+{ANA}"), "--json"])["marketing"] == "opted_out"
    });
    let sent = env.fake.emit("user_preferences", prefs_value("stop"));
    assert_eq!(sent["status"], 200, "{sent}");
    env.eventually("WhatsApp's own stop through the app callback", |e| {
        e.json(&["contacts", "show", &format!("+{ANA}"), "--json"])["meta_blocked"] == true
    });

    let status = env.json(&["webhook", "status", "--json"]);
    assert_eq!(status["confirmed"], true, "{status:#}");
    assert_eq!(status["routing_live"], true);
    assert!(status["last_webhook_at"].is_string());
    assert_eq!(
        status["test_arrived"], true,
        "a customer's message after the ask counts as the test"
    );
    let text = env.ok(&["webhook", "status"]);
    assert!(text.contains("Receiving opt-outs"), "{text}");
}

#[test]
fn a_callback_meta_cannot_verify_gives_the_2200_sentence_and_changes_nothing() {
    let mut env = Env::new();
    // Meta's verifier does not trust the front's certificate authority, though this PC does:
    // the self-test passes, Meta's own handshake fails.
    env.fake.state().routing.trusted_ca_pem = None;
    env.start();
    let err = env.fails(&["webhook", "connect"]);
    assert!(
        err.contains(
            "Meta could not reach this OptDesk to verify the app's webhook callback (error 2200"
        ),
        "{err}"
    );
    assert!(err.contains("OptDesk's own check from this PC"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert_eq!(env.routing().app_callback, None, "nothing set");
    assert_eq!(
        env.json(&["webhook", "status", "--json"])["registered_level"],
        Value::Null
    );

    // And when even this PC cannot get through (the receiver is down behind the tunnel), Meta is
    // never called to set anything.
    env.stop();
    let before = env.fake.requests().len();
    let err = env.fails(&["webhook", "connect", "--listen", "127.0.0.1:1"]);
    assert!(
        err.contains("cannot listen") || err.contains("Meta would not reach"),
        "{err}"
    );
    let after: Vec<_> = env.fake.requests()[before..]
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert!(
        !after.iter().any(|m| m == "POST"),
        "no registration call: {after:?}"
    );
}

#[test]
fn a_foreign_callback_is_kept_unless_replaced_and_number_only_routes_just_messages() {
    let mut env = Env::new();
    env.foreign_app();
    env.start();
    let err = env.fails(&["webhook", "connect"]);
    assert!(
        err.contains(CRM) && err.contains("--replace") && err.contains("--number-only"),
        "{err}"
    );
    assert_eq!(
        env.routing().app_callback.unwrap().url,
        CRM,
        "not replaced silently"
    );
    assert_eq!(env.routing().phone_override, None);

    // Only this number: the override; the CRM keeps the app's callback.
    let report = env.json(&["webhook", "connect", "--number-only", "--json"]);
    assert_eq!(report["level"], "number", "{report:#}");
    let r = env.routing();
    assert_eq!(r.phone_override.unwrap().url, env.ours());
    assert_eq!(r.app_callback.unwrap().url, CRM);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("keep going to https://crm.example"),
        "{warnings}"
    );
    let status = env.json(&["webhook", "status", "--json"]);
    assert_eq!(
        status["routing"]["messages"]["reaches_optdesk"], true,
        "{status:#}"
    );
    assert_eq!(
        status["routing"]["user_preferences"]["reaches_optdesk"], false,
        "{status:#}"
    );
    assert_eq!(
        status["confirmed"], false,
        "user_preferences do not reach OptDesk"
    );
    let text = String::from_utf8_lossy(&env.run(&["webhook", "status"]).stdout).to_string();
    assert!(
        text.contains("do not reach OptDesk: it goes to https://crm.example/whatsapp-hook"),
        "{text}"
    );
    // Meta (the fake) really routes that way.
    assert_eq!(
        env.fake.emit("messages", stop_value("wamid.NUM1"))["delivered_to"],
        env.ours()
    );
    assert_eq!(
        env.fake.emit("user_preferences", prefs_value("stop"))["delivered_to"],
        CRM
    );

    // Disconnect removes the override OptDesk set, nothing else.
    let out = env.ok(&["webhook", "disconnect"]);
    assert!(out.contains("Removed this number's override"), "{out}");
    let r = env.routing();
    assert_eq!(r.phone_override, None);
    assert_eq!(r.app_callback.unwrap().url, CRM);
    assert!(r.subscribed, "never unsubscribes the app from the account");

    // --replace takes the app's callback, keeping its fields and adding OptDesk's.
    let report = env.json(&["webhook", "connect", "--replace", "--json"]);
    assert_eq!(report["level"], "app");
    let app = env.routing().app_callback.unwrap();
    assert_eq!(app.url, env.ours());
    assert!(app.fields.iter().any(|f| f == "account_update"));
    assert!(
        report["warnings"]
            .to_string()
            .contains("replaced the app's callback, which was https://crm.example"),
        "{report:#}"
    );
    // And disconnect cannot give the CRM its callback back, so it says so and leaves it.
    let out = env.ok(&["webhook", "disconnect"]);
    assert!(out.contains("only that system can set again"), "{out}");
    assert_eq!(env.routing().app_callback.unwrap().url, env.ours());
}

#[test]
fn a_change_made_elsewhere_is_found_and_said() {
    let mut env = Env::new();
    env.start();
    env.ok(&["webhook", "connect"]);
    assert_eq!(
        env.json(&["webhook", "status", "--json"])["drift"],
        Value::Null
    );
    // Someone sets a phone override in the dashboard, behind OptDesk's back.
    env.fake.state().routing.phone_override = Some(optdesk_fake_graph::routing::Callback {
        url: "https://other.example/hook".into(),
        verify_token: "x".into(),
    });
    let status = env.json(&["webhook", "status", "--json"]);
    let drift = status["drift"].as_str().unwrap_or_default();
    assert!(
        drift.contains("this number's override is now https://other.example/hook"),
        "{status:#}"
    );
    assert!(
        drift.contains("customers' messages and delivery statuses no longer reach OptDesk"),
        "{drift}"
    );
    assert_eq!(status["confirmed"], false);
    let o = env.run(&["webhook", "status"]);
    assert!(!o.status.success(), "not confirmed: exit 1");
    assert!(String::from_utf8_lossy(&o.stdout).contains("changed outside OptDesk"));
    // Connecting again (--replace: that override is not OptDesk's) puts it back.
    env.ok(&["webhook", "connect", "--replace"]);
    assert_eq!(env.routing().phone_override, None);
    assert_eq!(
        env.json(&["webhook", "status", "--json"])["confirmed"],
        true
    );
}

#[test]
fn connect_alone_runs_the_receiver_for_the_checks_and_says_reception_needs_it() {
    let env = Env::new();
    // Nothing is running: connect starts the receiver behind the same front for the checks.
    let out = env.ok(&[
        "webhook",
        "connect",
        "--listen",
        &format!("127.0.0.1:{}", env.port),
    ]);
    assert!(out.contains("Connected in"), "{out}");
    assert!(
        out.contains("Reception continues only while the app or `optdesk serve` runs"),
        "{out}"
    );
    assert_eq!(env.routing().app_callback.unwrap().url, env.ours());
    // …and it is gone again afterwards.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(("127.0.0.1", env.port)).is_err(),
        "the temporary receiver stopped"
    );
}

#[test]
fn ngrok_mode_says_what_is_missing_and_when_the_service_cannot_be_reached() {
    let env = Env::new();
    env.ok(&["config", "set", "webhook_mode", "ngrok"]);
    // No keyring to hold the authtoken (the no-authtoken case itself is the core's unit test).
    let o = env
        .cmd(&["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/optdesk-test-bus",
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("the ngrok authtoken cannot be read")
            && err.contains("OPTDESK_NGROK_AUTHTOKEN"),
        "{err}"
    );

    // An agent whose service never answers: a loopback port that accepts and stays silent.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept() {
            held.push(s);
            if held.len() > 4 {
                break;
            }
        }
    });
    let started = Instant::now();
    let o = env
        .cmd(&["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env("OPTDESK_NGROK_AUTHTOKEN", "2abcFakeToken_for_tests")
        .env("OPTDESK_NGROK_SERVER", addr.to_string())
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("could not reach ngrok's service"), "{err}");
    assert!(
        err.contains("webhook_mode manual"),
        "says what to do: {err}"
    );
    assert!(took < Duration::from_secs(20), "gave up in {took:?}");
    let status = env.json(&["webhook", "status", "--json"]);
    assert!(
        status["endpoint_state"]
            .as_str()
            .unwrap_or_default()
            .starts_with("down: could not reach ngrok"),
        "{status:#}"
    );
    drop(hold);
}
