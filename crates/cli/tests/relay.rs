//! The relay mailbox end to end, every part a real process on 127.0.0.1: `optdesk relay` behind a
//! TLS front (a test certificate authority stands in for Caddy's certificate), the fake Graph
//! API posting signed webhooks to it as Meta would, and the shop's `optdesk serve` and
//! `optdesk broadcast send` pulling from it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use optdesk_fake_graph::tls::{TestCa, TlsFront};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::{json, Value};

mod support;

use support::{free_port, wait_port, Proc};

const APP_SECRET: &str = "test-app-secret";
const VERIFY: &str = "test-verify-token";

/// `optdesk relay` on `port` (0: any), once it listens; and its port.
fn spawn_relay(cli: &support::Cli, dir: &std::path::Path, port: u16) -> (Proc, u16) {
    use std::io::BufRead;
    let mut child = cli
        .cmd(&[
            "relay",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the relay did not say where it listens: {line:?}"));
    wait_port(port, "the relay");
    (Proc::new(child), port)
}

struct Env {
    cli: support::Cli,
    fake: FakeGraph,
    _ca: TestCa,
    _front: TlsFront,
    relay_port: u16,
    relay_dir: std::path::PathBuf,
    relay: Option<Proc>,
    hook: String,
    mailbox_id: String,
    serve_port: u16,
    server: Option<Proc>,
    phones: Vec<String>,
}

impl std::ops::Deref for Env {
    type Target = support::Cli;
    fn deref(&self) -> &support::Cli {
        &self.cli
    }
}

impl Env {
    /// A relay with one mailbox, a shop with `n` opted-in contacts, connected through the relay.
    fn new(n: usize) -> Env {
        let ca = TestCa::new();
        let fake = FakeGraph::start();
        {
            let mut st = fake.state();
            st.routing.app_secret = APP_SECRET.into();
            st.routing.trusted_ca_pem = Some(ca.ca_pem.clone());
            st.add_template(FakeTemplate::approved(
                "summer_sale",
                "en_GB",
                "MARKETING",
                1,
            ));
        }
        let cli = support::Cli::new();
        let relay_dir = cli.dir.path().join("relay-data");
        // The relay takes a port the system gives it and says which (a port picked beforehand
        // could be taken by a parallel test before the relay binds it).
        let (relay, relay_port) = spawn_relay(&cli, &relay_dir, 0);
        let front = TlsFront::start(&ca, ([127, 0, 0, 1], relay_port).into(), None);
        let ca_file = cli.file("test-ca.pem", ca.ca_pem.as_bytes());
        // The mailbox is made on the relay's machine.
        let made = cli.json(&[
            "relay",
            "mailbox",
            "add",
            "Bakery",
            "--data",
            relay_dir.to_str().unwrap(),
            "--public-url",
            &front.url,
            "--json",
        ]);
        let hook = made["hook_url"].as_str().unwrap().to_string();
        let seal_key = optdesk_core::relay::SealKey::generate().secret_hex();
        let cli = cli
            .with_env("OPTDESK_GRAPH_URL", &fake.url)
            .with_env("OPTDESK_ACCESS_TOKEN", TOKEN)
            .with_env("OPTDESK_APP_SECRET", APP_SECRET)
            .with_env("OPTDESK_VERIFY_TOKEN", VERIFY)
            .with_env(
                "OPTDESK_RELAY_PULL_SECRET",
                made["pull_secret"].as_str().unwrap(),
            )
            .with_env("OPTDESK_RELAY_SEAL_KEY", seal_key)
            .with_env("SSL_CERT_FILE", &ca_file);
        for (k, v) in [
            ("phone_number_id", PHONE_NUMBER_ID),
            ("waba_id", WABA_ID),
            ("business_name", "Bakery Sol"),
            ("frequency_cap_hours", "0"),
            // Tests run at any hour; quiet hours have tests of their own.
            ("quiet_hours", "off"),
            ("relay_drain_seconds", "20"),
        ] {
            cli.ok(&["config", "set", k, v]);
        }
        let phones: Vec<String> = (0..n).map(|i| format!("4479111{i:05}")).collect();
        let mut csv = String::from("phone,name,marketing,utility,consent_source\n");
        for p in &phones {
            csv += &format!("+{p},Customer,yes,yes,fair\n");
        }
        let f = cli.file("c.csv", csv.as_bytes());
        cli.ok(&["contacts", "import", f.to_str().unwrap()]);
        cli.ok(&["templates", "sync"]);
        let env = Env {
            cli,
            fake,
            _ca: ca,
            _front: front,
            relay_port,
            relay_dir,
            relay: Some(relay),
            mailbox_id: made["id"].as_str().unwrap().to_string(),
            hook,
            serve_port: free_port(),
            server: None,
            phones,
        };
        let out = env.ok(&[
            "webhook",
            "connect",
            "--relay",
            &env.hook.clone(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ]);
        assert!(out.contains("Connected"), "{out}");
        env
    }

    /// Starts the relay again on its port.
    fn start_relay(&mut self) {
        self.relay = Some(spawn_relay(&self.cli, &self.relay_dir, self.relay_port).0);
    }

    fn kill_relay(&mut self) {
        self.relay = None;
    }

    fn start_desktop(&mut self) {
        let child = self
            .cmd(&[
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.serve_port),
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(Proc::new(child));
    }

    fn kill_desktop(&mut self) {
        self.server = None;
    }

    /// A marketing broadcast to everyone; its id.
    fn broadcast(&self) -> String {
        let id = self.ok(&[
            "broadcast",
            "create",
            "--template",
            "summer_sale",
            "--language",
            "en_GB",
            "--param",
            "1=Hi",
        ]);
        id.trim().to_string()
    }

    /// A customer's STOP, posted by the fake the way Meta posts it (to the relay's hook URL).
    fn stop_from(&self, phone: &str, id: &str) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        self.fake.emit(
            "messages",
            json!({"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "C"}, "wa_id": phone}],
                "messages": [{"from": phone, "id": id, "timestamp": now, "type": "text", "text": {"body": "STOP"}}]}),
        )
    }

    fn opted_out_events(&self, phone: &str) -> i64 {
        self.db_count(&format!(
            "SELECT count(*) FROM consent_events e JOIN contacts c ON c.id = e.contact_id
             WHERE c.phone = '+{phone}' AND e.subject = 'marketing' AND e.state = 'opted_out'"
        ))
    }

    fn eventually(&self, what: &str, check: impl Fn(&Env) -> bool) {
        let until = Instant::now() + Duration::from_secs(20);
        while !check(self) {
            assert!(Instant::now() < until, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Numbers a template was requested for.
    fn sent_to(&self) -> Vec<String> {
        self.fake
            .state()
            .sends()
            .iter()
            .filter(|r| r.body["type"] == "template")
            .map(|r| {
                r.body["to"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('+')
                    .to_string()
            })
            .collect()
    }

    fn relay_post(&self, body: &[u8], sig: Option<&str>) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!(
            "http://127.0.0.1:{}/m/{}/webhook",
            self.relay_port, self.mailbox_id
        );
        rt.block_on(async {
            let mut rb = reqwest::Client::new().post(url).body(body.to_vec());
            if let Some(s) = sig {
                rb = rb.header("x-hub-signature-256", s);
            }
            rb.send().await.unwrap().status().as_u16()
        })
    }
}

#[test]
fn stops_sent_while_the_shop_pc_was_off_are_in_the_ledger_before_a_broadcast_claims_anyone() {
    let mut env = Env::new(20);
    let id = env.broadcast();
    // The PC is off; five customers reply STOP at night. Meta delivers to the relay.
    let stopped: Vec<String> = env.phones[..5].to_vec();
    let before = env.db_count("SELECT count(*) FROM inbox WHERE relay_seq IS NOT NULL"); // connect's self-test
    for (i, p) in stopped.iter().enumerate() {
        let r = env.stop_from(p, &format!("wamid.NIGHT{i}"));
        assert_eq!(r["status"], 200, "{r}");
    }
    assert_eq!(
        env.db_count("SELECT count(*) FROM inbox WHERE relay_seq IS NOT NULL"),
        before,
        "nothing reached the PC yet"
    );
    // Morning: the desktop and a broadcast start at the same moment.
    env.start_desktop();
    let send = env
        .cmd(&["broadcast", "send", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let sent = env.sent_to();
    for p in &stopped {
        assert!(
            !sent.contains(p),
            "{p} said STOP at night and was sent the broadcast"
        );
        assert_eq!(
            env.opted_out_events(p),
            1,
            "{p}'s STOP is in the ledger once"
        );
    }
    assert_eq!(sent.len(), 15, "everyone else was sent to: {sent:?}");
    // Each STOP is confirmed once, within 5 minutes of the customer's message: by the broadcast
    // if it collected the mailbox itself, else by the receiver (started again if the broadcast
    // held the lock when it began).
    if env.server.as_mut().is_some_and(Proc::exited) {
        env.start_desktop();
    }
    env.eventually("one confirmation per night STOP", |e| {
        let texts: Vec<String> = e
            .fake
            .state()
            .sends()
            .iter()
            .filter(|r| r.body["type"] == "text")
            .map(|r| {
                r.body["to"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('+')
                    .to_string()
            })
            .collect();
        stopped
            .iter()
            .all(|p| texts.iter().filter(|t| *t == p).count() == 1)
            && texts.len() == stopped.len()
    });
}

#[test]
fn every_body_the_relay_answered_200_for_is_applied_once_through_kills_of_either_side() {
    let mut env = Env::new(60);
    let phones = env.phones.clone();
    // Kill the relay partway through Meta's posts: some bodies are stored and answered, one
    // may be stored but unanswered, the rest are refused (502 at the front) for Meta to retry.
    let mut answered = Vec::new();
    for (i, p) in phones[..30].iter().enumerate() {
        if i == 17 {
            env.kill_relay();
        }
        if env.stop_from(p, &format!("wamid.A{i}"))["status"] == 200 {
            answered.push(p.clone());
        }
    }
    assert_eq!(answered.len(), 17);
    env.start_relay();
    for (i, p) in phones[30..].iter().enumerate() {
        if env.stop_from(p, &format!("wamid.B{i}"))["status"] == 200 {
            answered.push(p.clone());
        }
    }
    // The desktop comes and goes mid-pull, and the relay dies once more while it pulls.
    for round in 0..4 {
        env.start_desktop();
        std::thread::sleep(Duration::from_millis(150 + 100 * round));
        if round == 1 {
            env.kill_relay();
            std::thread::sleep(Duration::from_millis(200));
            env.start_relay();
        }
        env.kill_desktop();
    }
    env.start_desktop();
    env.eventually("every answered STOP in the ledger", |e| {
        answered.iter().all(|p| e.opted_out_events(p) >= 1)
    });
    for p in &answered {
        assert_eq!(
            env.opted_out_events(p),
            1,
            "{p}'s STOP was applied more than once"
        );
    }
    let rows = env.db_count("SELECT count(*) FROM inbox WHERE relay_seq IS NOT NULL");
    let distinct =
        env.db_count("SELECT count(DISTINCT relay_seq) FROM inbox WHERE relay_seq IS NOT NULL");
    assert_eq!(rows, distinct, "a body was stored twice");
    env.eventually("the relay emptied once everything was acknowledged", |e| {
        let list = e.json(&[
            "relay",
            "mailbox",
            "list",
            "--data",
            e.relay_dir.to_str().unwrap(),
            "--json",
        ]);
        list[0]["pending"] == 0
    });
}

#[test]
fn forged_and_unsigned_posts_change_nothing_and_the_status_counts_what_the_desktop_refused() {
    let mut env = Env::new(2);
    let victim = env.phones[0].clone();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
            "messages": [{"from": victim, "id": "wamid.FORGED", "timestamp": "1", "type": "text", "text": {"body": "STOP"}}]}}]}]})
    .to_string();
    assert_eq!(
        env.relay_post(body.as_bytes(), None),
        401,
        "unsigned: refused at the door"
    );
    assert_eq!(
        env.relay_post(
            body.as_bytes(),
            Some(&format!("sha256={}", "00".repeat(32)))
        ),
        200,
        "the relay cannot tell without the app secret"
    );
    assert_eq!(
        env.relay_post(
            &vec![b' '; 3 * 1024 * 1024 + 1],
            Some(&format!("sha256={}", "00".repeat(32)))
        ),
        413
    );
    env.start_desktop();
    env.eventually("the forgery pulled and refused", |e| {
        e.json(&["webhook", "status", "--json"])["relay"]["refused"] == 1
    });
    assert_eq!(env.opted_out_events(&victim), 0);
    let status = env.cmd(&["webhook", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("1 bodies from the relay were refused"),
        "{text}"
    );
    assert!(text.contains("not forge or alter"), "{text}");
}

#[test]
fn without_its_relay_a_broadcast_does_not_start_unless_the_owner_says_so_for_that_start() {
    let mut env = Env::new(3);
    let id = env.broadcast();
    env.kill_relay();
    let err = env.fails(&["broadcast", "send", &id]);
    assert!(
        err.contains("does not start") && err.contains("--without-relay"),
        "{err}"
    );
    assert!(env.sent_to().is_empty(), "fail closed: nobody was sent to");
    env.ok(&["broadcast", "send", &id, "--without-relay"]);
    assert_eq!(env.sent_to().len(), 3);
    let starts = env
        .conn()
        .query_row(
            "SELECT started_without_relay FROM broadcasts WHERE id = ?1",
            [&id],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    let starts: Value = serde_json::from_str(&starts).unwrap();
    assert_eq!(starts.as_array().unwrap().len(), 1);
    let why = starts[0]["why"].as_str().unwrap();
    assert!(
        why.contains("cannot be reached") || why.contains("is not answering"),
        "{starts}"
    );
}

#[test]
fn a_running_marketing_broadcast_pauses_when_the_relay_has_been_silent_for_a_minute() {
    let mut env = Env::new(30);
    let id = env.broadcast();
    let send = Proc::new(
        env.cmd(&["broadcast", "send", &id, "--rate", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    env.eventually("the first sends", |e| !e.sent_to().is_empty());
    env.kill_relay();
    std::thread::sleep(Duration::from_millis(500));
    // A minute of failed pulls, without waiting a minute.
    env.eventually("the failed pull recorded", |e| {
        e.db_count("SELECT count(*) FROM relay_state WHERE failing_since IS NOT NULL") == 1
    });
    env.sql("UPDATE relay_state SET failing_since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 seconds')");
    let out = send.output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("paused") && err.contains("relay:"), "{err}");
    let state = env
        .conn()
        .query_row(
            "SELECT state, pause_reason FROM broadcasts WHERE id = ?1",
            [&id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .unwrap();
    assert_eq!(state.0, "paused");
    assert!(state.1.starts_with("relay:"), "{}", state.1);
    assert!(env.sent_to().len() < 30, "it stopped before the end");
}

/// Meta posts many bodies at once and the relay is SIGKILLed in the middle: some were stored and
/// answered, some stored but never answered, some never stored. Meta retries every one it got no
/// 200 for. After restarts every customer's STOP is in the ledger exactly once.
#[test]
fn a_relay_killed_under_concurrent_posts_loses_nothing_it_answered_and_retries_apply_once() {
    let mut env = Env::new(300);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let bodies: Vec<(String, String)> = env
        .phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": "C"}, "wa_id": p}],
                    "messages": [{"from": p, "id": format!("wamid.C{i}"), "timestamp": now, "type": "text", "text": {"body": "STOP"}}]}}]}]});
            let text = optdesk_fake_graph::escape_non_ascii(&v.to_string());
            let sig = optdesk_fake_graph::sign(APP_SECRET, text.as_bytes());
            (text, sig)
        })
        .collect();
    let url = format!(
        "http://127.0.0.1:{}/m/{}/webhook",
        env.relay_port, env.mailbox_id
    );
    let post_all =
        |which: Vec<usize>, kill_after: Option<Duration>, env: &mut Env| -> Vec<(usize, u16)> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            let http = reqwest::Client::new();
            let results = rt.block_on(async {
                let mut tasks = Vec::new();
                for i in which {
                    let (http, url, (body, sig)) = (http.clone(), url.clone(), bodies[i].clone());
                    tasks.push(tokio::spawn(async move {
                        let r = http
                            .post(url)
                            .header("x-hub-signature-256", sig)
                            .body(body)
                            .send()
                            .await;
                        (i, r.map(|r| r.status().as_u16()).unwrap_or(0))
                    }));
                }
                if let Some(after) = kill_after {
                    tokio::time::sleep(after).await;
                    env.kill_relay();
                }
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.unwrap());
                }
                out
            });
            results
        };
    let first = post_all(
        (0..bodies.len()).collect(),
        Some(Duration::from_millis(20)),
        &mut env,
    );
    let answered: Vec<usize> = first
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(i, _)| *i)
        .collect();
    env.start_relay();
    // Meta retries what got no 200 (whether or not the relay had stored it), until each gets one.
    let mut missing: Vec<usize> = first
        .iter()
        .filter(|(_, s)| *s != 200)
        .map(|(i, _)| *i)
        .collect();
    let retried = missing.len();
    for _ in 0..5 {
        if missing.is_empty() {
            break;
        }
        missing = post_all(missing, None, &mut env)
            .into_iter()
            .filter(|(_, s)| *s != 200)
            .map(|(i, _)| i)
            .collect();
    }
    assert!(missing.is_empty(), "the restarted relay took every retry");
    env.start_desktop();
    env.eventually("every STOP in the ledger", |e| {
        e.phones.iter().all(|p| e.opted_out_events(p) >= 1)
    });
    for p in &env.phones {
        assert_eq!(env.opted_out_events(p), 1, "{p}");
    }
    eprintln!(
        "{} answered before the kill, {retried} retried",
        answered.len()
    );
}
