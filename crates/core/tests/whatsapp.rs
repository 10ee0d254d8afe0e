//! The Graph API client over real HTTP on 127.0.0.1, against the strict fake.

use std::time::Duration;

use optdesk_core::secrets::Secret;
use optdesk_core::whatsapp::{
    Client, ClientError, ErrorClass, GraphConfig, RetryPolicy, TemplateMessage, TextMessage,
};
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};
use serde_json::json;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client(fake: &FakeGraph, token: &str) -> Client {
    let cfg = GraphConfig {
        base_url: fake.url.clone(),
        version: "v25.0".into(),
        phone_number_id: Some(PHONE_NUMBER_ID.into()),
        waba_id: Some(WABA_ID.into()),
    };
    Client::new(cfg, Secret::new(token))
        .unwrap()
        .with_retry(fast_retry())
}

fn promo(to: &str, params: &[&str]) -> TemplateMessage {
    let parameters: Vec<_> = params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    TemplateMessage {
        to: to.into(),
        template: "summer_sale".into(),
        language: "en_GB".into(),
        components: if params.is_empty() {
            vec![]
        } else {
            vec![json!({"type": "body", "parameters": parameters})]
        },
        callback_data: Some("broadcast=7;recipient=41".into()),
    }
}

fn fake_with_promo() -> FakeGraph {
    let fake = FakeGraph::start();
    fake.state().add_template(FakeTemplate::approved(
        "summer_sale",
        "en_GB",
        "MARKETING",
        2,
    ));
    fake
}

fn class(e: &ClientError) -> Option<ErrorClass> {
    e.class()
}

#[test]
fn a_template_send_is_exactly_what_meta_documents() {
    let fake = fake_with_promo();
    let sent =
        block_on(client(&fake, TOKEN).send_template(&promo("+44 7911 123456", &["Ana", "20%"])))
            .unwrap();
    assert!(sent.message_id.starts_with("wamid."));
    assert_eq!(sent.wa_id.as_deref(), Some("447911123456"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", &*format!("/v25.0/{PHONE_NUMBER_ID}/messages"))
    );
    assert_eq!(
        r.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(r.body["messaging_product"], "whatsapp");
    assert_eq!(r.body["to"], "447911123456");
    assert_eq!(r.body["template"]["language"]["code"], "en_GB");
    assert_eq!(
        r.body["template"]["components"][0]["parameters"][1]["text"],
        "20%"
    );
    assert_eq!(
        r.body["biz_opaque_callback_data"],
        "broadcast=7;recipient=41"
    );
}

#[test]
fn a_text_reply_goes_with_its_context() {
    let fake = FakeGraph::start();
    let msg = TextMessage {
        to: "447911123456".into(),
        body: "You're unsubscribed. Reply START to resubscribe.".into(),
        reply_to: Some("wamid.IN1".into()),
        callback_data: None,
    };
    block_on(client(&fake, TOKEN).send_text(&msg)).unwrap();
    let body = &fake.requests()[0].body;
    assert_eq!(
        (
            body["type"].as_str(),
            body["context"]["message_id"].as_str()
        ),
        (Some("text"), Some("wamid.IN1"))
    );
}

#[test]
fn template_errors_are_classified_by_code_and_not_retried() {
    let fake = fake_with_promo();
    let c = client(&fake, TOKEN);
    let e = block_on(c.send_template(&promo("447911123456", &["only one"]))).unwrap_err();
    assert_eq!(
        (e.code(), class(&e)),
        (Some(132000), Some(ErrorClass::Template))
    );
    let mut missing = promo("447911123456", &["a", "b"]);
    missing.language = "es_ES".into();
    let e = block_on(c.send_template(&missing)).unwrap_err();
    assert_eq!(e.code(), Some(132001));
    fake.state().templates[0].status = "PAUSED".into();
    let e = block_on(c.send_template(&promo("447911123456", &["a", "b"]))).unwrap_err();
    assert_eq!(e.code(), Some(132015));
    assert_eq!(
        fake.requests().len(),
        3,
        "one request each: template errors are not retried"
    );
}

#[test]
fn an_expired_token_stops_at_once_with_what_to_do() {
    let fake = fake_with_promo();
    fake.state().token_expired = true;
    let e = block_on(client(&fake, TOKEN).send_template(&promo("447911123456", &["a", "b"])))
        .unwrap_err();
    assert_eq!((e.code(), class(&e)), (Some(190), Some(ErrorClass::Auth)));
    assert!(
        e.to_string()
            .contains("Create a new one in Meta Business Settings"),
        "{e}"
    );
    assert_eq!(fake.requests().len(), 1, "auth errors are never retried");
    let e = block_on(client(&fake, "wrong-token").phone_number_info()).unwrap_err();
    assert_eq!(class(&e), Some(ErrorClass::Auth));
}

#[test]
fn rate_limits_are_retried_with_backoff_until_they_pass() {
    let fake = fake_with_promo();
    fake.state().rate_limit_burst = 3;
    let sent = block_on(client(&fake, TOKEN).send_template(&promo("447911123456", &["a", "b"])));
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(fake.state().sends().len(), 4);
}

#[test]
fn rate_limits_are_not_retried_forever() {
    let fake = fake_with_promo();
    fake.state().rate_limit_burst = 100;
    let e = block_on(client(&fake, TOKEN).send_template(&promo("447911123456", &["a", "b"])))
        .unwrap_err();
    assert_eq!(
        (e.code(), class(&e)),
        (Some(130429), Some(ErrorClass::RateLimited))
    );
    assert_eq!(
        fake.state().sends().len(),
        RetryPolicy::default().rate_limited_attempts as usize
    );
}

#[test]
fn a_131050_is_a_consent_signal_and_never_retried() {
    let fake = fake_with_promo();
    fake.state().reject_131050.insert("447911123456".into());
    let e = block_on(client(&fake, TOKEN).send_template(&promo("447911123456", &["a", "b"])))
        .unwrap_err();
    assert_eq!(
        (e.code(), class(&e)),
        (Some(131050), Some(ErrorClass::Consent))
    );
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn phone_number_info_and_a_wrong_id() {
    let fake = FakeGraph::start();
    let info = block_on(client(&fake, TOKEN).phone_number_info()).unwrap();
    assert_eq!(info.verified_name.as_deref(), Some("Bakery Sol"));
    assert_eq!(
        info.whatsapp_business_manager_messaging_limit.as_deref(),
        Some("TIER_2K")
    );
    assert!(fake.requests()[0]
        .query
        .contains("fields=display_phone_number"));
    let mut c = client(&fake, TOKEN);
    c = Client::new(
        GraphConfig {
            phone_number_id: Some("999".into()),
            ..c.config().clone()
        },
        Secret::new(TOKEN),
    )
    .unwrap();
    let e = block_on(c.phone_number_info()).unwrap_err();
    assert_eq!(e.code(), Some(100));
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[test]
fn listing_follows_every_page() {
    let fake = FakeGraph::start();
    for i in 0..250 {
        let lang = ["en_GB", "es_ES"][i % 2];
        fake.state().add_template(FakeTemplate::approved(
            &format!("t{i:03}"),
            lang,
            "UTILITY",
            i % 3,
        ));
    }
    let all = block_on(client(&fake, TOKEN).list_templates()).unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(all[249].name, "t249");
    let pages: Vec<String> = fake.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[1].contains("after=CURSOR100") && pages[2].contains("after=CURSOR200"));
}

#[test]
fn create_and_delete_a_template() {
    let fake = FakeGraph::start();
    let c = client(&fake, TOKEN);
    let t = json!({"name": "autumn_news", "language": "en_GB", "category": "MARKETING",
                   "components": [{"type": "BODY", "text": "Autumn is here"}]});
    let created = block_on(c.create_template(&t)).unwrap();
    assert_eq!(created.status.as_deref(), Some("PENDING"));
    let e = block_on(c.create_template(&t)).unwrap_err();
    assert_eq!(class(&e), Some(ErrorClass::BadRequest));
    block_on(c.delete_template("autumn_news", None)).unwrap();
    assert!(fake.state().templates.is_empty());
    assert!(block_on(c.delete_template("autumn_news", None)).is_err());
}

#[test]
fn no_secret_in_debug_output_errors_or_serialised_responses() {
    let fake = fake_with_promo();
    let token = "EAAG-super-secret-token-value";
    fake.state().token = token.into();
    let c = client(&fake, token);
    assert!(!format!("{c:?}").contains(token));
    let sent = block_on(c.send_template(&promo("447911123456", &["a", "b"]))).unwrap();
    let info = block_on(c.phone_number_info()).unwrap();
    let templates = block_on(c.list_templates()).unwrap();
    for text in [
        format!("{sent:?}"),
        format!("{info:?}"),
        format!("{templates:?}"),
        serde_json::to_string(&sent).unwrap(),
        serde_json::to_string(&info).unwrap(),
        serde_json::to_string(&templates).unwrap(),
    ] {
        assert!(!text.contains(token), "{text}");
    }
    fake.state().token_expired = true;
    let e = block_on(c.phone_number_info()).unwrap_err();
    assert!(!format!("{e}").contains(token) && !format!("{e:?}").contains(token));
    let net = block_on(
        Client::new(
            GraphConfig {
                base_url: "http://127.0.0.1:9".into(),
                ..c.config().clone()
            },
            Secret::new(token),
        )
        .unwrap()
        .with_retry(fast_retry())
        .phone_number_info(),
    )
    .unwrap_err();
    assert!(matches!(net, ClientError::Network { .. }), "{net:?}");
    assert!(!format!("{net}").contains(token) && !format!("{net:?}").contains(token));
}

#[test]
fn where_template_events_go_elsewhere_they_are_read_from_meta_instead() {
    let fake = FakeGraph::start();
    fake.state().add_template(FakeTemplate::approved(
        "autumn_offer",
        "en_GB",
        "MARKETING",
        0,
    ));
    let dir = tempfile::tempdir().unwrap();
    let key = optdesk_core::store::DbKey::generate().unwrap();
    let mut store = optdesk_core::Store::open(dir.path().join("db"), &key).unwrap();
    let client = optdesk_core::whatsapp::Client::new(
        optdesk_core::whatsapp::GraphConfig {
            base_url: fake.url.clone(),
            version: "v25.0".into(),
            phone_number_id: Some(PHONE_NUMBER_ID.into()),
            waba_id: Some(WABA_ID.into()),
        },
        Secret::new(TOKEN),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(optdesk_core::reachability::connect::poll_instead(
        &mut store, &client,
    ))
    .unwrap();
    let t = optdesk_core::templates::list(store.conn()).unwrap();
    assert_eq!((t.len(), t[0].status.as_str()), (1, "APPROVED"));
    assert_eq!(
        optdesk_core::settings::get(store.conn(), "messaging_limit")
            .unwrap()
            .as_deref(),
        Some("TIER_2K")
    );
}
