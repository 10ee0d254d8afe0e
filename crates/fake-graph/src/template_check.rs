//! What Meta checks in a template send, as strictly: the template exists in that language and is
//! approved, the body and header get the parameters its text names, a media header gets its
//! media of the right type, and a NAMED template gets each variable by its name.

use axum::response::Response;
use serde_json::Value;

use crate::graph::error;
use crate::FakeTemplate;

fn refuse(code: i64, message: &str, details: Option<&str>) -> Option<Response> {
    Some(error(code, message, details))
}

/// Meta's refusal when the send does not fit the template; `None` when it does.
pub(crate) fn check(templates: &[FakeTemplate], body: &Value) -> Option<Response> {
    let (Some(name), Some(lang)) = (
        body["template"]["name"].as_str(),
        body["template"]["language"]["code"].as_str(),
    ) else {
        return refuse(
            131008,
            "Required parameter is missing",
            Some("template.name and template.language.code are required"),
        );
    };
    let Some(t) = templates
        .iter()
        .find(|t| t.name == name && t.language == lang)
    else {
        return refuse(
            132001,
            "Template name does not exist in the translation",
            Some(&format!("template name ({name}) does not exist in {lang}")),
        );
    };
    match t.status.as_str() {
        "APPROVED" => {}
        "PAUSED" => return refuse(132015, "Template is Paused", None),
        "DISABLED" => return refuse(132016, "Template is Disabled", None),
        _ => {
            return refuse(
                132001,
                "Template name does not exist in the translation",
                Some("the template is not approved"),
            )
        }
    }
    let media_header = t
        .components
        .iter()
        .any(|c| c["type"] == "HEADER" && c["format"].as_str().is_some_and(|f| f != "TEXT"));
    for kind in ["BODY", "HEADER"] {
        if kind == "HEADER" && media_header {
            continue; // its one parameter is the media, checked below
        }
        let expected = component_text(&t.components, kind).map_or(0, |x| variables(x).len());
        let given = sent_params(body, kind);
        if expected != given {
            return refuse(132000, "Number of parameters does not match the expected number of params", Some(&format!("{kind}: expected number of params ({expected}) does not match received number of params ({given})")));
        }
    }
    // A media header must come with its media.
    let media = t.components.iter().find_map(|c| {
        (c["type"] == "HEADER")
            .then(|| c["format"].as_str().unwrap_or("TEXT").to_ascii_lowercase())
            .filter(|f| f != "text")
    });
    if let Some(format) = media {
        let sent = sent_header_media(body);
        match sent {
            None => {
                return refuse(
                    132000,
                    "Number of parameters does not match the expected number of params",
                    Some(&format!(
                        "HEADER: the template's {format} header needs a parameter of type {format}"
                    )),
                )
            }
            Some(kind) if kind != format => {
                return refuse(
                    132012,
                    "Parameter format does not match format in the created template",
                    Some(&format!("header: expected {format}, got {kind}")),
                )
            }
            Some(_) => {}
        }
    }
    // NAMED templates take each variable by its name, and no other.
    if t.parameter_format.as_deref() == Some("NAMED") {
        let mut wanted = component_text(&t.components, "BODY").map_or_else(Vec::new, variables);
        wanted.sort();
        let mut given: Vec<String> = sent_param_names(body, "BODY");
        given.sort();
        if given.iter().any(String::is_empty) || wanted != given {
            return refuse(132000, "Number of parameters does not match the expected number of params", Some(&format!("body: named parameters {wanted:?} expected, got {given:?} (each needs its parameter_name)")));
        }
    }
    None
}

fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(after[..end].trim().to_string());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

pub(crate) fn component_text<'a>(components: &'a [Value], kind: &str) -> Option<&'a str> {
    components
        .iter()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .and_then(|c| c["text"].as_str())
}

/// The `type` of the header parameter sent (image, video, document, text), if any.
fn sent_header_media(body: &Value) -> Option<String> {
    body["template"]["components"]
        .as_array()?
        .iter()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("header"))
        })?["parameters"][0]["type"]
        .as_str()
        .map(str::to_ascii_lowercase)
}

/// The `parameter_name` of each parameter of a component (empty when missing).
fn sent_param_names(body: &Value, kind: &str) -> Vec<String> {
    body["template"]["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
                .map(|p| p["parameter_name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn sent_params(body: &Value, kind: &str) -> usize {
    body["template"]["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .map(|c| c["parameters"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}
