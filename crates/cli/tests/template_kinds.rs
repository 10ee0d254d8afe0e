//! Templates beyond positional body variables, through the real binary and the strict fake:
//! named variables and a text header's variable are sent exactly as Meta takes them; templates
//! OptDesk cannot fill yet are refused at creation, never sent half-built.

use optdesk_fake_graph::FakeTemplate;
use serde_json::json;

mod support;

use support::broadcasts::Env;

fn add(env: &Env, name: &str, format: Option<&str>, components: Vec<serde_json::Value>) {
    let mut t = FakeTemplate::approved(name, "en_GB", "MARKETING", 0);
    t.components = components;
    t.parameter_format = format.map(str::to_string);
    env.fake.state().add_template(t);
}

#[test]
fn named_and_header_variables_are_sent_as_meta_takes_them_and_the_rest_is_refused_up_front() {
    let env = Env::new();
    let footer = json!({"type": "FOOTER", "text": "Reply STOP to unsubscribe"});
    add(
        &env,
        "named_offer",
        Some("NAMED"),
        vec![
            json!({"type": "BODY", "text": "Hi {{first_name}}, {{offer}} this week",
               "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"},
                                                      {"param_name": "offer", "example": "20% off"}]}}),
            footer.clone(),
        ],
    );
    add(
        &env,
        "header_news",
        None,
        vec![
            json!({"type": "HEADER", "format": "TEXT", "text": "News for {{1}}", "example": {"header_text": ["Ana"]}}),
            json!({"type": "BODY", "text": "New bread on Fridays"}),
            footer.clone(),
        ],
    );
    add(
        &env,
        "picture",
        None,
        vec![
            json!({"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}}),
            json!({"type": "BODY", "text": "Look at this"}),
            footer.clone(),
        ],
    );
    add(
        &env,
        "coupon",
        None,
        vec![
            json!({"type": "BODY", "text": "Your code"}),
            footer,
            json!({"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]}),
        ],
    );
    env.ok(&["templates", "sync"]);
    let phones = env.audience(3); // every third has no name

    let named = env
        .ok(&[
            "broadcast",
            "create",
            "--template",
            "named_offer",
            "--language",
            "en_GB",
            "--param",
            "first_name=@name|there",
            "--param",
            "offer=20% off",
        ])
        .trim()
        .to_string();
    env.ok(&["broadcast", "send", &named]);
    let header = env
        .ok(&[
            "broadcast",
            "create",
            "--template",
            "header_news",
            "--language",
            "en_GB",
            "--header-param",
            "@name|friend",
        ])
        .trim()
        .to_string();
    env.ok(&["broadcast", "send", &header]);

    let sends = env
        .fake
        .state()
        .sends()
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(sends.len(), 6, "every send accepted by the strict fake");
    let to_first = |template: &str| {
        sends
            .iter()
            .find(|r| r.body["template"]["name"] == template && r.body["to"] == phones[0][1..])
            .unwrap()
            .body["template"]["components"]
            .clone()
    };
    // phones[0] has no name: the fallbacks.
    assert_eq!(
        to_first("named_offer"),
        json!([{"type": "body", "parameters": [
            {"type": "text", "parameter_name": "first_name", "text": "there"},
            {"type": "text", "parameter_name": "offer", "text": "20% off"}]}])
    );
    assert_eq!(
        to_first("header_news"),
        json!([{"type": "header", "parameters": [{"type": "text", "text": "friend"}]}])
    );

    // Named templates refuse numbers, and numbered ones names, before anything is sent.
    let e = env.fails(&[
        "broadcast",
        "create",
        "--template",
        "named_offer",
        "--language",
        "en_GB",
        "--param",
        "1=x",
        "--param",
        "2=y",
    ]);
    assert!(
        e.contains("uses named variables ({{first_name}}, {{offer}})"),
        "{e}"
    );
    let e = env.fails(&[
        "broadcast",
        "create",
        "--template",
        "named_offer",
        "--language",
        "en_GB",
        "--param",
        "first_name=x",
    ]);
    assert!(
        e.contains("{{first_name}}, {{offer}}") && e.contains("were given for {{first_name}}"),
        "{e}"
    );
    let e = env.fails(&[
        "broadcast",
        "create",
        "--template",
        "header_news",
        "--language",
        "en_GB",
    ]);
    assert!(e.contains("--header-param"), "{e}");
    // What OptDesk cannot fill yet is refused with the reason, not sent without its header.
    let e = env.fails(&[
        "broadcast",
        "create",
        "--template",
        "picture",
        "--language",
        "en_GB",
    ]);
    assert!(
        e.contains("image header") && e.contains("refuse every message"),
        "{e}"
    );
    let e = env.fails(&[
        "broadcast",
        "create",
        "--template",
        "coupon",
        "--language",
        "en_GB",
    ]);
    assert!(e.contains("copy_code"), "{e}");
    assert_eq!(env.fake.state().sends().len(), 6, "nothing more was sent");
}
