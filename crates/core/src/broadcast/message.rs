//! The template message a broadcast sends each recipient, built from the synced template's
//! components and `parameter_format`, and checked against them before anything is sent.
//!
//! Handled: body variables, POSITIONAL (`{{1}}`) or NAMED (`{{first_name}}`, sent with
//! `parameter_name`), and a TEXT header's variable. Refused at creation with a reason, never
//! sent half-built: media headers (IMAGE, VIDEO, DOCUMENT), buttons that take a value (a URL
//! suffix, a coupon code), carousels and limited-time offers — Meta would reject every message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Param;
use crate::error::{Error, Result};
use crate::templates::rules::placeholders;
use crate::templates::StoredTemplate;

/// What a broadcast fills in beyond positional body parameters (stored as `broadcasts.message`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// NAMED body variables by name.
    #[serde(default)]
    pub named: BTreeMap<String, Param>,
    /// The TEXT header's one variable.
    #[serde(default)]
    pub header: Option<Param>,
}

/// What the owner typed for a template's variables — `(name, value)` pairs, where the name is a
/// position (`1`) or a variable's name (`first_name`) and the value is text or `@name|fallback`
/// — and for its header, as a broadcast keeps them. Both faces read the owner's input with it.
pub fn fill(
    values: &[(String, String)],
    header: Option<&str>,
) -> Result<(BTreeMap<usize, Param>, Slots)> {
    let mut positional = BTreeMap::new();
    let mut slots = Slots::default();
    for (n, v) in values {
        let n = n.trim();
        if let Ok(pos) = n.parse::<usize>() {
            positional.insert(pos, Param::parse(v)?);
        } else if !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            slots.named.insert(n.to_string(), Param::parse(v)?);
        } else {
            return Err(Error::invalid(format!(
                "{n:?} is neither a position (1, 2, 3…) nor a variable name (lower case, digits and _)"
            )));
        }
    }
    if let Some(h) = header {
        slots.header = Some(Param::parse(h)?);
    }
    Ok((positional, slots))
}

fn component<'a>(t: &'a StoredTemplate, kind: &str) -> Option<&'a Value> {
    t.components.iter().find(|c| {
        c["type"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    })
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether `positional` and `slots` fill exactly the template's variables, and whether the
/// template is one OptDesk can send.
pub fn check(t: &StoredTemplate, positional: &BTreeMap<usize, Param>, slots: &Slots) -> Result<()> {
    let name = &t.name;
    if let Some(h) = component(t, "HEADER") {
        let format = h["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase();
        if format != "TEXT" {
            return Err(Error::invalid(format!(
                "the template {name} has a {} header, which OptDesk cannot send yet: WhatsApp would refuse every message without it. Use a template with a text header or none",
                format.to_ascii_lowercase()
            )));
        }
    }
    for unsupported in ["CAROUSEL", "LIMITED_TIME_OFFER"] {
        if component(t, unsupported).is_some() {
            return Err(Error::invalid(format!(
                "the template {name} is a {} template, which OptDesk cannot send yet",
                unsupported.to_ascii_lowercase().replace('_', "-")
            )));
        }
    }
    if let Some(buttons) = component(t, "BUTTONS").and_then(|b| b["buttons"].as_array()) {
        for (i, b) in buttons.iter().enumerate() {
            let kind = b["type"].as_str().unwrap_or("").to_ascii_uppercase();
            let takes_value = kind == "COPY_CODE"
                || (kind == "URL" && b["url"].as_str().is_some_and(|u| u.contains("{{")));
            if takes_value {
                return Err(Error::invalid(format!(
                    "the template {name}'s button {} ({}) needs a value for each message, which OptDesk cannot fill yet",
                    i + 1,
                    kind.to_ascii_lowercase()
                )));
            }
        }
    }
    let named = t.parameter_format.as_deref() == Some("NAMED");
    let text_of = |kind: &str| {
        component(t, kind)
            .and_then(|c| c["text"].as_str())
            .unwrap_or("")
    };
    // The header's variable.
    let header_vars = placeholders(text_of("HEADER"));
    match (header_vars.len(), &slots.header) {
        (0, None) | (1, Some(_)) => {}
        (0, Some(_)) => {
            return Err(Error::invalid(format!(
                "the template {name}'s header has no variable; leave the header parameter out"
            )))
        }
        (1, None) => {
            return Err(Error::invalid(format!(
                "the template {name}'s header has a variable ({}): give it with --header-param VALUE (or @name|fallback)",
                list(&header_vars)
            )))
        }
        _ => {
            return Err(Error::invalid(format!(
                "the template {name}'s header has {} variables; WhatsApp allows one",
                header_vars.len()
            )))
        }
    }
    let mut wanted = placeholders(text_of("BODY"));
    wanted.sort();
    wanted.dedup();
    if named {
        if !positional.is_empty() {
            return Err(Error::invalid(format!(
                "the template {name} uses named variables ({}): pass --param NAME=VALUE for each, not numbers",
                list(&wanted)
            )));
        }
        let given: Vec<String> = slots.named.keys().cloned().collect();
        if wanted != given {
            return Err(Error::invalid(format!(
                "the template {name}'s body has the variables {}, but parameters were given for {}: pass one --param NAME=VALUE for each",
                list(&wanted),
                list(&given)
            )));
        }
        return Ok(());
    }
    if !slots.named.is_empty() {
        return Err(Error::invalid(format!(
            "the template {name} numbers its variables ({}): pass --param N=VALUE, not names",
            list(&wanted)
        )));
    }
    let mut numbers: Vec<usize> = wanted.iter().filter_map(|p| p.parse().ok()).collect();
    numbers.sort_unstable();
    let given: Vec<usize> = positional.keys().copied().collect();
    if numbers != given {
        return Err(Error::invalid(format!(
            "the template's body has {} variable(s) ({}), but parameters were given for {}: pass one --param N=… for each",
            numbers.len(),
            list(&numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
            if given.is_empty() {
                "none".to_string()
            } else {
                given.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
            }
        )));
    }
    Ok(())
}

/// The `components` of one recipient's message.
pub fn components(
    positional: &BTreeMap<usize, Param>,
    slots: &Slots,
    name: &str,
    phone: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(h) = &slots.header {
        out.push(json!({"type": "header", "parameters": [
            {"type": "text", "text": h.value_for(name, phone)}
        ]}));
    }
    let body: Vec<Value> = if slots.named.is_empty() {
        positional
            .values()
            .map(|p| json!({"type": "text", "text": p.value_for(name, phone)}))
            .collect()
    } else {
        slots
            .named
            .iter()
            .map(|(n, p)| json!({"type": "text", "parameter_name": n, "text": p.value_for(name, phone)}))
            .collect()
    };
    if !body.is_empty() {
        out.push(json!({"type": "body", "parameters": body}));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(format: Option<&str>, components: Vec<Value>) -> StoredTemplate {
        StoredTemplate {
            name: "t".into(),
            language: "en".into(),
            category: "MARKETING".into(),
            status: "APPROVED".into(),
            quality: None,
            parameter_format: format.map(str::to_string),
            wa_template_id: None,
            way_out: Some(crate::templates::rules::WayOut::Footer("Reply STOP".into())),
            variables: crate::templates::variables(&components),
            components,
            rejected_reason: None,
            synced_at: None,
            deleted: false,
        }
    }

    #[test]
    fn a_template_s_variables_come_in_the_order_a_broadcast_fills_them() {
        let t = template(
            None,
            vec![
                json!({"type": "HEADER", "format": "TEXT", "text": "For {{1}}"}),
                json!({"type": "BODY", "text": "{{10}} and {{2}}, then {{1}} and {{2}} again"}),
            ],
        );
        assert_eq!(t.variables.body, ["1", "2", "10"]);
        assert_eq!(t.variables.header.as_deref(), Some("1"));
        let named = template(
            Some("NAMED"),
            vec![json!({"type": "BODY", "text": "Hi {{ first_name }}, {{code}} ends {{day}}"})],
        );
        assert_eq!(named.variables.body, ["code", "day", "first_name"]);
        assert_eq!(named.variables.header, None);
    }

    #[test]
    fn what_the_owner_typed_is_read_once_for_both_faces() {
        let typed = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let (pos, slots) = fill(
            &typed(&[("1", "@name|there"), ("2", "20% off")]),
            Some("you"),
        )
        .unwrap();
        assert_eq!(pos[&1], Param::parse("@name|there").unwrap());
        assert_eq!(pos[&2], text("20% off"));
        assert_eq!(slots.header, Some(text("you")));
        let (pos, slots) = fill(&typed(&[("first_name", "@phone|x")]), None).unwrap();
        assert!(pos.is_empty() && slots.named.contains_key("first_name"));
        for (bad, why) in [
            (("First Name", "x"), "neither a position"),
            (("1", "@name"), "give a fallback"),
            (("1", "@email|x"), "not a contact field"),
        ] {
            let err = fill(&typed(&[bad]), None).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    fn text(v: &str) -> Param {
        Param::Text { value: v.into() }
    }

    #[test]
    fn named_variables_are_filled_by_name_and_sent_with_parameter_name() {
        let t = template(
            Some("NAMED"),
            vec![json!({"type": "BODY", "text": "Hi {{first_name}}, {{offer}} today"})],
        );
        let mut slots = Slots::default();
        slots
            .named
            .insert("first_name".into(), Param::parse("@name|there").unwrap());
        slots.named.insert("offer".into(), text("20% off"));
        check(&t, &BTreeMap::new(), &slots).unwrap();
        let c = components(&BTreeMap::new(), &slots, "Ana", "+34600000000");
        assert_eq!(
            c,
            vec![json!({"type": "body", "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {"type": "text", "parameter_name": "offer", "text": "20% off"}]})]
        );
        let mut wrong = slots.clone();
        wrong.named.remove("offer");
        wrong.named.insert("discount".into(), text("x"));
        let e = check(&t, &BTreeMap::new(), &wrong).unwrap_err().to_string();
        assert!(
            e.contains("{{first_name}}, {{offer}}") && e.contains("{{discount}}"),
            "{e}"
        );
        let mut positional = BTreeMap::new();
        positional.insert(1, text("x"));
        assert!(check(&t, &positional, &Slots::default())
            .unwrap_err()
            .to_string()
            .contains("uses named variables"));
    }

    #[test]
    fn a_text_headers_variable_and_what_cannot_be_sent_yet() {
        let t = template(
            None,
            vec![
                json!({"type": "HEADER", "format": "TEXT", "text": "News for {{1}}"}),
                json!({"type": "BODY", "text": "Hello"}),
            ],
        );
        let e = check(&t, &BTreeMap::new(), &Slots::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--header-param"), "{e}");
        let slots = Slots {
            header: Some(text("Ana")),
            ..Default::default()
        };
        check(&t, &BTreeMap::new(), &slots).unwrap();
        assert_eq!(
            components(&BTreeMap::new(), &slots, "", ""),
            vec![json!({"type": "header", "parameters": [{"type": "text", "text": "Ana"}]})]
        );
        let image = template(
            None,
            vec![
                json!({"type": "HEADER", "format": "IMAGE"}),
                json!({"type": "BODY", "text": "Hi"}),
            ],
        );
        let e = check(&image, &BTreeMap::new(), &Slots::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("image header"), "{e}");
        let coupon = template(
            None,
            vec![
                json!({"type": "BODY", "text": "Hi"}),
                json!({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop promotions"},
                                                      {"type": "COPY_CODE", "example": "SAVE10"}]}),
            ],
        );
        let e = check(&coupon, &BTreeMap::new(), &Slots::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("button 2 (copy_code)"), "{e}");
    }
}
