//! Meta's template rules, checked locally before a submission (WHATSAPP.md §6.2), and the footer
//! rule: a MARKETING template must give the customer a way out.

use serde::Serialize;
use serde_json::{json, Value};

use crate::keywords;

/// One broken rule, with where it is in the template.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub at: String,
    pub message: String,
}

fn v(at: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        at: at.into(),
        message: message.into(),
    }
}

/// Meta's limits on a template's texts, in characters: the rules below and the editor's
/// counters read them from here.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Limits {
    pub header: usize,
    pub body: usize,
    pub footer: usize,
}

pub const LIMITS: Limits = Limits {
    header: 60,
    body: 1024,
    footer: 60,
};

/// The variables a template's texts hold, in the order a broadcast fills them: numbers
/// ascending for POSITIONAL, names in alphabetical order for NAMED; each once.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Variables {
    pub body: Vec<String>,
    /// A TEXT header's one variable.
    pub header: Option<String>,
}

/// See [`Variables`].
pub fn variables(components: &[Value]) -> Variables {
    let text_of = |k: &str| {
        components
            .iter()
            .find(|c| kind(c) == k)
            .and_then(|c| c["text"].as_str())
            .unwrap_or("")
    };
    let mut body = placeholders(text_of("BODY"));
    body.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    body.dedup();
    Variables {
        body,
        header: placeholders(text_of("HEADER")).into_iter().next(),
    }
}

/// What the placeholders in a text are: `{{1}}`, `{{first_name}}`.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

fn kind(c: &Value) -> String {
    c["type"].as_str().unwrap_or("").to_ascii_uppercase()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Checks a template in the Graph API's shape and returns every violation at once.
pub fn validate(t: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let name = t["name"].as_str().unwrap_or("");
    if name.is_empty() || chars(name) > 512 {
        out.push(v("name", "the name must be 1 to 512 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        out.push(v(
            "name",
            format!("{name:?} may only hold lowercase letters, digits and underscores"),
        ));
    }
    let language = t["language"].as_str().unwrap_or("");
    let lang_ok = match language.split_once('_') {
        None => {
            (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase())
        }
        Some((l, r)) => {
            (2..=3).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase())
                && r.len() == 2
                && r.bytes().all(|b| b.is_ascii_uppercase())
        }
    };
    if !lang_ok {
        out.push(v(
            "language",
            format!("{language:?} is not a language code such as en, en_GB or pt_BR"),
        ));
    }
    let category = t["category"].as_str().unwrap_or("");
    if !["MARKETING", "UTILITY", "AUTHENTICATION"].contains(&category) {
        out.push(v(
            "category",
            "the category must be MARKETING, UTILITY or AUTHENTICATION",
        ));
    }
    let named = match t["parameter_format"].as_str() {
        None | Some("POSITIONAL") => false,
        Some("NAMED") => true,
        Some(other) => {
            out.push(v(
                "parameter_format",
                format!("{other:?} is not POSITIONAL or NAMED"),
            ));
            false
        }
    };
    let Some(components) = t["components"].as_array() else {
        out.push(v(
            "components",
            "a template needs a components list with a BODY",
        ));
        return out;
    };
    for k in ["HEADER", "BODY", "FOOTER", "BUTTONS"] {
        let n = components.iter().filter(|c| kind(c) == k).count();
        if n > 1 {
            out.push(v("components", format!("there may be only one {k}")));
        }
        if k == "BODY" && n == 0 {
            out.push(v("components", "a template needs a BODY"));
        }
    }
    for (i, c) in components.iter().enumerate() {
        let at = format!("components[{i}]");
        let text = c["text"].as_str().unwrap_or("");
        match kind(c).as_str() {
            "HEADER" => {
                let format = c["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase();
                if format == "TEXT" {
                    if text.is_empty() || chars(text) > LIMITS.header {
                        out.push(v(
                            format!("{at}.text"),
                            format!(
                                "a text header must be 1 to {} characters (it has {})",
                                LIMITS.header,
                                chars(text)
                            ),
                        ));
                    }
                    let vars = placeholders(text);
                    if vars.len() > 1 {
                        out.push(v(
                            format!("{at}.text"),
                            "a header may hold one variable at most",
                        ));
                    }
                    check_variables(&mut out, &at, &vars, &c["example"], "header_text", named);
                }
            }
            "BODY" => {
                if text.is_empty() || chars(text) > LIMITS.body {
                    out.push(v(
                        format!("{at}.text"),
                        format!(
                            "the body must be 1 to {} characters (it has {})",
                            LIMITS.body,
                            chars(text)
                        ),
                    ));
                }
                if text.contains("}}{{") {
                    out.push(v(
                        format!("{at}.text"),
                        "two variables may not stand side by side ({{1}}{{2}})",
                    ));
                }
                let trimmed = text.trim();
                if trimmed.starts_with("{{") || trimmed.ends_with("}}") {
                    out.push(v(format!("{at}.text"), "the body may not start or end with a variable (Meta rejects it as INVALID_FORMAT)"));
                }
                check_variables(
                    &mut out,
                    &at,
                    &placeholders(text),
                    &c["example"],
                    "body_text",
                    named,
                );
            }
            "FOOTER" => {
                if text.is_empty() || chars(text) > LIMITS.footer {
                    out.push(v(
                        format!("{at}.text"),
                        format!(
                            "the footer must be 1 to {} characters (it has {})",
                            LIMITS.footer,
                            chars(text)
                        ),
                    ));
                }
                if !placeholders(text).is_empty() {
                    out.push(v(format!("{at}.text"), "the footer may not hold variables"));
                }
            }
            "BUTTONS" => check_buttons(&mut out, &at, c),
            other => out.push(v(
                format!("{at}.type"),
                format!("{other:?} is not HEADER, BODY, FOOTER or BUTTONS"),
            )),
        }
    }
    out
}

/// Positional variables must be 1, 2, 3… with no gap, and every variable needs an example.
fn check_variables(
    out: &mut Vec<Violation>,
    at: &str,
    vars: &[String],
    example: &Value,
    key: &str,
    named: bool,
) {
    if vars.is_empty() {
        return;
    }
    if named {
        let given: Vec<&str> = example[format!("{key}_named_params")]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["param_name"].as_str()).collect())
            .unwrap_or_default();
        for name in vars {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                out.push(v(format!("{at}.text"), format!("{{{{{name}}}}} is not a valid variable name (lowercase letters, digits, underscores)")));
            } else if !given.contains(&name.as_str()) {
                out.push(v(
                    format!("{at}.example"),
                    format!("the variable {{{{{name}}}}} needs an example in {key}_named_params"),
                ));
            }
        }
        return;
    }
    let mut numbers: Vec<usize> = Vec::new();
    for name in vars {
        match name.parse::<usize>() {
            Ok(n) if n > 0 => numbers.push(n),
            _ => out.push(v(format!("{at}.text"), format!("{{{{{name}}}}} is not a positional variable ({{{{1}}}}, {{{{2}}}}…); set parameter_format NAMED for names"))),
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    if let Some(gap) = (1..=numbers.len()).find(|i| numbers.get(i - 1) != Some(i)) {
        out.push(v(
            format!("{at}.text"),
            format!("variables must be numbered 1, 2, 3… without gaps; {{{{{gap}}}}} is missing"),
        ));
    }
    let examples = match key {
        "header_text" => example[key].as_array().map_or(0, Vec::len),
        _ => example[key][0].as_array().map_or(0, Vec::len),
    };
    if examples < numbers.len() {
        out.push(v(format!("{at}.example"), format!("each variable needs an example value: {} variable(s), {examples} example(s) in {key}", numbers.len())));
    }
}

fn check_buttons(out: &mut Vec<Violation>, at: &str, c: &Value) {
    let Some(buttons) = c["buttons"].as_array() else {
        out.push(v(format!("{at}.buttons"), "BUTTONS needs a buttons list"));
        return;
    };
    if buttons.is_empty() || buttons.len() > 10 {
        out.push(v(
            format!("{at}.buttons"),
            format!("1 to 10 buttons are allowed (there are {})", buttons.len()),
        ));
    }
    let count = |k: &str| buttons.iter().filter(|b| kind(b) == k).count();
    if count("URL") > 2 {
        out.push(v(
            format!("{at}.buttons"),
            "at most 2 URL buttons are allowed",
        ));
    }
    if count("PHONE_NUMBER") > 1 {
        out.push(v(
            format!("{at}.buttons"),
            "at most 1 phone number button is allowed",
        ));
    }
    for (j, b) in buttons.iter().enumerate() {
        let label = b["text"].as_str().unwrap_or("");
        if label.is_empty() || chars(label) > 25 {
            out.push(v(
                format!("{at}.buttons[{j}].text"),
                format!(
                    "a button label must be 1 to 25 characters ({label:?} has {})",
                    chars(label)
                ),
            ));
        }
        if kind(b) == "URL" {
            let url = b["url"].as_str().unwrap_or("");
            let vars = placeholders(url);
            if url.is_empty() || chars(url) > 2000 {
                out.push(v(
                    format!("{at}.buttons[{j}].url"),
                    "a URL button needs a URL of at most 2000 characters",
                ));
            } else if vars.len() > 1 || (vars.len() == 1 && !url.trim_end().ends_with("}}")) {
                out.push(v(
                    format!("{at}.buttons[{j}].url"),
                    "a URL may hold one variable, at its end",
                ));
            }
        }
    }
}

/// How a template lets the customer stop.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum WayOut {
    /// A footer naming an opt-out word ("Reply STOP to unsubscribe", "Responde BAJA…").
    Footer(String),
    /// Meta's "Stop promotions" quick reply, or a quick reply labelled with an opt-out word.
    Button(String),
}

/// The template's way out, if it has one.
pub fn way_out(components: &[Value]) -> Option<WayOut> {
    for c in components {
        match kind(c).as_str() {
            "FOOTER" => {
                let text = c["text"].as_str().unwrap_or("");
                if keywords::strong_opt_out_in(text).is_some() {
                    return Some(WayOut::Footer(text.to_string()));
                }
            }
            "BUTTONS" => {
                for b in c["buttons"].as_array().into_iter().flatten() {
                    let label = b["text"].as_str().unwrap_or("");
                    if kind(b) == "QUICK_REPLY"
                        && (keywords::is_meta_stop_button(label)
                            || keywords::strong_opt_out_in(label).is_some())
                    {
                        return Some(WayOut::Button(label.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// What the footer rule did to a template about to be submitted.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FooterRule {
    /// Not a marketing template: nothing to do.
    NotMarketing,
    /// It already gives a way out.
    HasWayOut { way_out: WayOut },
    /// OptDesk added (or extended) the footer.
    Added { footer: String },
}

/// Applies the footer rule: a MARKETING template with no way out gets `footer_text` as its footer
/// (or appended to a footer it has, when both fit in Meta's 60 characters). When neither is
/// possible, the violation says what the owner can do.
pub fn apply_footer_rule(t: &mut Value, footer_text: &str) -> Result<FooterRule, Violation> {
    if t["category"].as_str() != Some("MARKETING") {
        return Ok(FooterRule::NotMarketing);
    }
    let Some(components) = t["components"].as_array_mut() else {
        return Err(v(
            "components",
            "a template needs a components list with a BODY",
        ));
    };
    if let Some(w) = way_out(components) {
        return Ok(FooterRule::HasWayOut { way_out: w });
    }
    if let Some(footer) = components.iter_mut().find(|c| kind(c) == "FOOTER") {
        let current = footer["text"].as_str().unwrap_or("").trim().to_string();
        let combined = if current.is_empty() {
            footer_text.to_string()
        } else {
            format!("{current} {footer_text}")
        };
        if chars(&combined) > LIMITS.footer {
            return Err(v(
                "components.FOOTER",
                format!(
                    "this marketing template gives no way to opt out, and its footer {current:?} leaves no room for \
                     {footer_text:?} ({} characters at most): shorten the footer, or add a \"Stop promotions\" quick reply",
                    LIMITS.footer
                ),
            ));
        }
        footer["text"] = json!(combined);
        return Ok(FooterRule::Added { footer: combined });
    }
    let at = components
        .iter()
        .position(|c| kind(c) == "BODY")
        .map_or(components.len(), |i| i + 1);
    components.insert(at, json!({"type": "FOOTER", "text": footer_text}));
    Ok(FooterRule::Added {
        footer: footer_text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marketing(components: Value) -> Value {
        json!({"name": "summer_sale", "language": "en_GB", "category": "MARKETING", "components": components})
    }

    #[test]
    fn a_good_template_passes() {
        let t = marketing(json!([
            {"type": "HEADER", "format": "TEXT", "text": "Summer {{1}}", "example": {"header_text": ["sale"]}},
            {"type": "BODY", "text": "Hi {{1}}, take {{2}} off today.", "example": {"body_text": [["Ana", "20%"]]}},
            {"type": "FOOTER", "text": "Reply STOP to unsubscribe"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Shop", "url": "https://shop.example/{{1}}"}]}
        ]));
        assert_eq!(validate(&t), []);
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let t = json!({"name": "Summer Sale!", "language": "english", "category": "PROMO", "components": [
            {"type": "HEADER", "text": "A header that is far too long to be accepted by Meta as a header"},
            {"type": "BODY", "text": "{{1}} and {{3}}{{4}}", "example": {"body_text": [["a"]]}},
            {"type": "FOOTER", "text": "Bye {{1}}"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "A label longer than twenty-five"}]}
        ]});
        let got: Vec<String> = validate(&t)
            .into_iter()
            .map(|x| format!("{}: {}", x.at, x.message))
            .collect();
        let want = [
            "lowercase letters",
            "language code",
            "MARKETING, UTILITY",
            "1 to 60 characters",
            "side by side",
            "start or end",
            "{{2}} is missing",
            "example value",
            "may not hold variables",
            "1 to 25 characters",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.contains(w)),
                "missing {w:?} in {got:#?}"
            );
        }
    }

    #[test]
    fn named_variables_need_named_examples() {
        let t = json!({"name": "n", "language": "en", "category": "UTILITY", "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, order {{order}} is ready.",
                            "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}}]});
        let got = validate(&t);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].message.contains("{{order}}"));
    }

    #[test]
    fn the_footer_rule_adds_extends_or_explains() {
        let mut t = marketing(
            json!([{"type": "BODY", "text": "Big sale today"}, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Shop"}]}]),
        );
        assert_eq!(
            apply_footer_rule(&mut t, "Reply STOP to unsubscribe"),
            Ok(FooterRule::Added {
                footer: "Reply STOP to unsubscribe".into()
            })
        );
        assert_eq!(
            t["components"][1],
            json!({"type": "FOOTER", "text": "Reply STOP to unsubscribe"})
        );
        assert!(matches!(
            apply_footer_rule(&mut t, "Reply STOP to unsubscribe"),
            Ok(FooterRule::HasWayOut { .. })
        ));

        let mut t = marketing(
            json!([{"type": "BODY", "text": "x"}, {"type": "FOOTER", "text": "Bakery Sol"}]),
        );
        assert_eq!(
            apply_footer_rule(&mut t, "Reply STOP to unsubscribe"),
            Ok(FooterRule::Added {
                footer: "Bakery Sol Reply STOP to unsubscribe".into()
            })
        );

        let mut t = marketing(
            json!([{"type": "BODY", "text": "x"}, {"type": "FOOTER", "text": "Thank you for shopping at the finest bakery in town!"}]),
        );
        let e = apply_footer_rule(&mut t, "Reply STOP to unsubscribe").unwrap_err();
        assert!(e.message.contains("Stop promotions"), "{}", e.message);

        let mut utility =
            json!({"category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]});
        assert_eq!(
            apply_footer_rule(&mut utility, "Reply STOP"),
            Ok(FooterRule::NotMarketing)
        );
    }

    #[test]
    fn ways_out_in_other_languages_and_buttons_count() {
        let spanish = [json!({"type": "FOOTER", "text": "Responde BAJA para no recibir más"})];
        assert!(matches!(way_out(&spanish), Some(WayOut::Footer(_))));
        let meta_button = [
            json!({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Interrompi promozioni"}]}),
        ];
        assert_eq!(
            way_out(&meta_button),
            Some(WayOut::Button("Interrompi promozioni".into()))
        );
        let url_only = [
            json!({"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Stop", "url": "https://x"}]}),
        ];
        assert_eq!(
            way_out(&url_only),
            None,
            "only a quick reply reaches OptDesk"
        );
        assert_eq!(
            way_out(&[json!({"type": "FOOTER", "text": "See you soon"})]),
            None
        );
    }
}
