//! The desktop app end to end: the real `optdesk-app` window, driven through WebDriver under
//! Xvfb, on a temporary database and the fake Graph API. It saves a screenshot of every screen
//! into docs/screenshots as it goes.

use std::path::PathBuf;
use std::time::Duration;

use optdesk_core::settings;
use optdesk_core::store::{Database, DbKey};
use optdesk_e2e::app;
use optdesk_fake_graph::tls::{TestCa, TlsFront};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::json;

const APP_SECRET: &str = "e2e-app-secret";
const CSV: &str = "phone,name,tags,marketing,utility,consent_source\n\
+447911100001,Ana Lopez,vip,yes,yes,Summer fair\n\
+447911100002,Ben Smith,,no,yes,Summer fair\n\
+447911100003,Carla Diaz,vip,yes,yes,Summer fair\n\
+447911100004,Dan Okafor,,yes,yes,Summer fair\n\
+447911100005,Eva Novak,,,yes,Summer fair\n\
not-a-number,Broken Row,,yes,yes,Summer fair\n";

fn shot(session: &optdesk_e2e::webdriver::Session, name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/screenshots")
        .join(format!("{name}.png"));
    session.screenshot(&path).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[ignore = "needs a display and WebKitWebDriver; scripts/test runs it under Xvfb"]
fn the_shop_owner_runs_the_day_from_the_window() {
    if let Some(why) = app::unavailable() {
        panic!("cannot drive the desktop app: {why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let key = DbKey::generate().unwrap();
    let db = Database::new(dir.path().join("optdesk.sqlite3"), key.clone());
    let fake = FakeGraph::start();
    // HTTPS for the webhook path: a test certificate authority that the fake's verifier (Meta)
    // and the app both trust, and a TLS front (the tunnel's stand-in) once the port is known.
    let ca = TestCa::new();
    let ca_file = dir.path().join("test-ca.pem");
    ca.write_pem(&ca_file).unwrap();
    fake.state().routing.app_secret = APP_SECRET.into();
    fake.state().routing.trusted_ca_pem = Some(ca.ca_pem.clone());
    fake.state().add_template(FakeTemplate::approved(
        "summer_sale",
        "en_GB",
        "MARKETING",
        1,
    ));
    {
        let store = db.open().unwrap();
        for (k, v) in [
            ("default_region", "GB"),
            ("business_name", "Bakery Sol"),
            ("business_number", "+447911123400"),
            ("phone_number_id", PHONE_NUMBER_ID),
            ("waba_id", WABA_ID),
            ("frequency_cap_hours", "0"),
            // Tests run at any hour; quiet hours have tests of their own.
            ("quiet_hours", "off"),
        ] {
            settings::set(&store, k, v).unwrap();
        }
    }
    let home = dir.path().to_string_lossy().into_owned();
    let env: Vec<(String, String)> = [
        ("OPTDESK_DB", db.path.to_string_lossy().into_owned()),
        ("OPTDESK_DB_KEY", key.recovery_code()),
        ("OPTDESK_GRAPH_URL", fake.url.clone()),
        ("OPTDESK_ACCESS_TOKEN", TOKEN.to_string()),
        ("OPTDESK_APP_SECRET", APP_SECRET.to_string()),
        ("OPTDESK_VERIFY_TOKEN", "e2e-verify".to_string()),
        ("HOME", home.clone()),
        ("XDG_DATA_HOME", home),
        ("SSL_CERT_FILE", ca_file.to_string_lossy().into_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let launched = app::launch(&env, &dir.path().join("driver.log")).unwrap();
    let s = &launched.session;
    let wait = Duration::from_secs(15);

    // Import: choose the file, check it, import it.
    s.click_css("button[data-place=Import]").unwrap();
    s.wait("[data-screen=Import]", wait).unwrap();
    s.script(
        "const input = document.querySelector('[data-testid=file]');
         const dt = new DataTransfer();
         dt.items.add(new File([arguments[0]], 'customers.csv', {type: 'text/csv'}));
         input.files = dt.files;
         input.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([CSV]),
    )
    .unwrap();
    s.click_css("[data-testid=dry-run]").unwrap();
    let dry = s
        .wait_text("[data-testid=dry-run-result]", wait, |t| t.contains("Add"))
        .unwrap();
    let compact = |t: &str| t.split_whitespace().collect::<String>();
    assert_eq!(compact(&dry), "5Add0Update0Unchanged0Blocked1Rejected");
    s.click_css("[data-testid=import]").unwrap();
    let done = s
        .wait_text("[data-testid=import-result]", wait, |t| t.contains("Add"))
        .unwrap();
    assert_eq!(compact(&done), "5Add0Update0Unchanged0Blocked1Rejected");
    // The rejected row, with its line number and the reason.
    s.wait_text("[data-screen=Import]", wait, |t| {
        compact(t).contains("7rejectednot-a-number\"not-a-number\"isnotavalidphonenumber")
    })
    .unwrap();
    shot(s, "2-import");

    // Contacts: switch Ana's marketing off, say how we know, see it in her timeline.
    s.click_css("button[data-place=Contacts]").unwrap();
    s.wait("[data-screen=Contacts][data-ready=true]", wait)
        .unwrap();
    s.wait_text("[data-testid=count]", wait, |t| t.starts_with("5 of 5"))
        .unwrap();
    let ana = "[data-phone='+447911100001']";
    s.click_css(&format!("{ana} button[data-topic=marketing]"))
        .unwrap();
    s.wait("[data-testid=consent-dialog]", wait).unwrap();
    s.set_value("#source", "phone_call").unwrap();
    s.type_into(&s.find("#detail").unwrap(), "Ana rang the shop")
        .unwrap();
    s.click_css("[data-testid=consent-record]").unwrap();
    s.wait_text(
        &format!("{ana} [data-topic=marketing] + .word"),
        wait,
        |t| t == "Out",
    )
    .unwrap();
    s.click_css(&format!("{ana} .name")).unwrap();
    let timeline = s
        .wait_text("[data-testid=timeline]", wait, |t| {
            t.contains("Opted out of marketing")
        })
        .unwrap();
    assert!(
        timeline.starts_with("✎") || timeline.contains("phone call"),
        "{timeline}"
    );
    assert!(timeline.contains("Ana rang the shop"), "{timeline}");
    // The same proof as `optdesk contacts proof --html`, saved from the drawer.
    s.click_css("[data-testid=save-proof]").unwrap();
    let saved = s
        .wait_text("[data-testid=drawer]", wait, |t| t.contains("Saved to"))
        .unwrap();
    let file = saved
        .split("Saved to ")
        .nth(1)
        .and_then(|r| r.split(" — ").next())
        .unwrap()
        .trim()
        .to_string();
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(
        html.contains("Ana rang the shop") && html.contains("Ana Lopez"),
        "{file}"
    );
    s.type_into(&s.find("[data-testid=search]").unwrap(), "carla")
        .unwrap();
    s.wait_text("[data-testid=count]", wait, |t| t.starts_with("1 of 5"))
        .unwrap();
    shot(s, "1-contacts");
    s.script(
        "document.querySelector('[data-testid=drawer] button').click()",
        json!([]),
    )
    .unwrap();

    // Templates: sync from WhatsApp.
    s.click_css("button[data-place=Templates]").unwrap();
    s.click_css("[data-testid=sync]").unwrap();
    s.wait_text("[data-screen=Templates]", wait, |t| {
        t.contains("summer_sale")
    })
    .unwrap();
    shot(s, "3-templates");

    // Broadcasts: the preview excludes Ana (opted out here), Ben (opted out) and Eva (no consent).
    s.click_css("button[data-place=Broadcasts]").unwrap();
    s.wait("[data-screen=Broadcasts][data-ready=true]", wait)
        .unwrap();
    s.set_value("[data-testid=bc-template]", "summer_sale|en_GB")
        .unwrap();
    s.type_into(
        &s.wait("[data-testid=bc-param]", wait).unwrap(),
        "@name|there",
    )
    .unwrap();
    s.click_css("[data-testid=bc-next]").unwrap();
    s.click_css("[data-testid=bc-review]").unwrap();
    let will = s
        .wait_text("[data-testid=will-receive]", wait, |t| !t.is_empty())
        .unwrap();
    assert_eq!(will, "2 will receive it");
    assert_eq!(
        s.text(&s.find("[data-testid=wont-receive]").unwrap())
            .unwrap(),
        "3 won't"
    );
    let chip = s
        .text(&s.find("button[data-reason=opted_out]").unwrap())
        .unwrap();
    assert_eq!(chip, "Opted out 2");
    shot(s, "4-broadcast-review");
    s.click_css("[data-testid=bc-send]").unwrap();
    s.wait_text("[data-testid=percent]", Duration::from_secs(30), |t| {
        t == "100%"
    })
    .unwrap();
    s.wait_text("[data-testid=final-state]", wait, |t| {
        t.contains("finished")
    })
    .unwrap();
    shot(s, "4-broadcast-sent");
    let mut sent: Vec<String> = fake
        .state()
        .sends()
        .iter()
        .map(|r| r.body["to"].as_str().unwrap_or("").to_string())
        .collect();
    sent.sort();
    assert_eq!(sent, ["447911100003", "447911100004"], "only Carla and Dan");

    // Settings: turn the receiver on.
    let port = free_port();
    s.click_css("button[data-place=Settings]").unwrap();
    s.wait("[data-screen=Settings][data-ready=true]", wait)
        .unwrap();
    s.set_value("[data-testid=port]", &port.to_string())
        .unwrap();
    s.click_css("[data-testid=receiver-on]").unwrap();
    s.wait_text("[data-testid=receiver-url]", wait, |t| {
        t.contains(&port.to_string())
    })
    .unwrap();
    shot(s, "6-settings");

    // Connect webhooks: one button. Until then the header says so in words.
    s.wait("[data-testid=not-receiving]", wait).unwrap();
    let front = TlsFront::start(&ca, ([127, 0, 0, 1], port).into(), None);
    s.wait("[data-testid=connect-card][data-ready=true]", wait)
        .unwrap();
    s.click_css("[data-mode=manual]").unwrap();
    s.set_value("[data-testid=public-url]", &front.url).unwrap();
    s.click_css("[data-testid=connect]").unwrap();
    let routes = s
        .wait_text("[data-testid=routes]", Duration::from_secs(30), |t| {
            t.contains("✓")
        })
        .unwrap();
    assert!(
        !routes.contains("✗"),
        "every kind of event reaches OptDesk: {routes}"
    );
    let app = fake
        .state()
        .routing
        .app_callback
        .clone()
        .expect("the app's callback set");
    assert_eq!(app.url, format!("{}/webhook", front.url));
    s.wait_text("[data-testid=test-step]", wait, |t| {
        t.contains("send \"test\"")
    })
    .unwrap();
    let gone = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(250));
        s.find_all("[data-testid=not-receiving]")
            .map(|v| v.is_empty())
            .unwrap_or(false)
    });
    assert!(gone, "the header no longer says 'Not receiving opt-outs'");

    // Carla replies STOP; Meta (the fake) routes it through the registered callback and the
    // tunnel to the embedded receiver, which opts her out and confirms once.
    let value = json!({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "Carla"}, "wa_id": "447911100003"}],
                  "messages": [{"from": "447911100003", "id": "wamid.E2ESTOP", "timestamp": now(), "type": "text", "text": {"body": "Stop"}}]});
    let sent = fake.emit("messages", value);
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(sent["delivered_to"], app.url.as_str());
    s.wait_text("[data-testid=test-step]", Duration::from_secs(20), |t| {
        t.contains("arrived")
    })
    .unwrap();
    s.script(
        "document.querySelector('[data-testid=routes]').scrollIntoView({block: 'center'})",
        json!([]),
    )
    .unwrap();
    shot(s, "7-connect");
    s.click_css("button[data-place=Opt-outs]").unwrap();
    let table = s
        .wait_text("[data-testid=optouts]", Duration::from_secs(20), |t| {
            t.contains("Carla Diaz") && t.contains("sent")
        })
        .unwrap();
    assert!(table.contains("Keyword reply"), "{table}");
    assert!(table.contains("“Stop”"), "{table}");
    // Dan opts out while the screen is open: it shows him because the receiver tells the
    // window (the screen does not poll).
    let value = json!({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911123400", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "Dan"}, "wa_id": "447911100004"}],
                  "messages": [{"from": "447911100004", "id": "wamid.E2ESTOP2", "timestamp": now(), "type": "text", "text": {"body": "unsubscribe"}}]});
    assert_eq!(fake.emit("messages", value)["status"], 200);
    s.wait_text("[data-testid=optouts]", Duration::from_secs(20), |t| {
        t.contains("Dan Okafor") && t.contains("“unsubscribe”")
    })
    .unwrap();
    // And his confirmation's state follows it there, from the reply sender's event.
    let dans = "return [...document.querySelectorAll('[data-testid=optouts] tbody tr')]
        .find((r) => r.textContent.includes('Dan Okafor'))
        ?.querySelector('[data-testid=confirmation]')?.textContent.trim() ?? null";
    let confirmed = (0..80).any(|_| {
        std::thread::sleep(Duration::from_millis(250));
        s.script(dans, json!([]))
            .is_ok_and(|v| ["sent", "delivered", "read"].contains(&v.as_str().unwrap_or("")))
    });
    assert!(
        confirmed,
        "Dan's confirmation shows as sent: {:?}",
        s.script(dans, json!([]))
    );
    shot(s, "5-optouts");
    let confirmations = fake
        .state()
        .sends()
        .iter()
        .filter(|r| r.body["type"] == "text")
        .count();
    assert_eq!(confirmations, 2, "exactly one confirmation each");
    eprintln!("window ready after {:.2} s", launched.ready_after);
}

fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}
