//! Reads a webhook body (WHATSAPP.md §5) into its parts: each inbound message, each status,
//! each user preference and each template update on its own.
//!
//! Strict about nothing but the JSON itself. A body's parts are read one by one, so one part
//! that cannot be read (a field of an unexpected type, a status without an id) becomes a
//! [`Part::Bad`] with its reason and its raw JSON, and never stops the other parts of the same
//! body from being applied. Timestamps may be strings or numbers; a message without an `id` is
//! given one made from a hash of its content, so a redelivery is still recognised; a change
//! without `field` that carries messages or statuses is read as `messages`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::time::Timestamp;
use crate::whatsapp::GraphError;

mod types;
pub use types::*;

/// One thing a body says, with where it sits in the body (for error messages).
#[derive(Debug, Clone)]
pub struct Part {
    pub path: String,
    pub kind: PartKind,
    /// The change this part came in (shared by its parts): what is kept, with `raw`, for a
    /// retry when the part fails.
    pub envelope: Arc<Envelope>,
    /// Which array of the change's value the part came from (`messages`, `statuses`…), or none
    /// when the part is the whole value (template updates).
    pub array: Option<&'static str>,
    /// The part as it came.
    pub raw: Value,
}

/// The envelope a part came in: enough to rebuild a one-part body.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub object: Option<Value>,
    pub entry_id: Option<Value>,
    pub field: Option<String>,
    /// The change's value without its arrays of parts (metadata and contacts stay).
    pub value: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub enum PartKind {
    Message(Message),
    Status(Status),
    Preference(Preference),
    TemplateStatus(TemplateStatus),
    Health(Health),
    TemplateCategory(TemplateCategory),
    TemplateQuality(TemplateQuality),
    /// A part that could not be read: kept with the reason, never applied.
    Bad(String),
}

/// The body as a whole could not be read (not JSON, or not an object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// Every part of a body, in the body's order.
pub fn parts(body: &[u8]) -> Result<Vec<Part>, Unreadable> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| Unreadable(format!("the body is not JSON: {e}")))?;
    let Value::Object(mut root) = root else {
        return Err(Unreadable("the body is not a JSON object".into()));
    };
    let object = root.get("object").cloned();
    let mut out = Vec::new();
    for (e, mut entry) in owned_array(root.remove("entry")).into_iter().enumerate() {
        let entry_id = entry.get("id").cloned();
        let changes = owned_array(entry.as_object_mut().and_then(|m| m.remove("changes")));
        for (c, mut change) in changes.into_iter().enumerate() {
            let path = format!("entry[{e}].changes[{c}]");
            let Some(Value::Object(mut value)) =
                change.as_object_mut().and_then(|m| m.remove("value"))
            else {
                continue; // nothing to read (and nothing of OptDesk's business)
            };
            let field = string(change.get("field")).or_else(|| {
                ["messages", "statuses"]
                    .iter()
                    .any(|k| value.contains_key(*k))
                    .then(|| "messages".to_string())
            });
            let kind = match field.as_deref() {
                Some("messages") | Some("user_preferences") => {
                    let arrays = ["messages", "statuses", "user_preferences"]
                        .map(|k| owned_array(value.remove(k)));
                    let envelope = Arc::new(Envelope {
                        object: object.clone(),
                        entry_id: entry_id.clone(),
                        field,
                        value,
                    });
                    read_messages_value(&mut out, &path, arrays, &envelope);
                    continue;
                }
                Some("message_template_status_update") => template_status(&value),
                Some("message_template_quality_update") => template_quality(&value),
                Some("template_category_update") => template_category(&value),
                Some(f @ ("phone_number_quality_update" | "account_update")) => health(f, &value),
                _ => continue, // echoes and the like: not this receiver's business
            };
            // The whole value is the part.
            out.push(Part {
                path,
                kind,
                envelope: Arc::new(Envelope {
                    object: object.clone(),
                    entry_id: entry_id.clone(),
                    field,
                    value: Map::new(),
                }),
                array: None,
                raw: Value::Object(value),
            });
        }
    }
    Ok(out)
}

fn owned_array(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

fn read_messages_value(
    out: &mut Vec<Part>,
    path: &str,
    arrays: [Vec<Value>; 3],
    envelope: &Arc<Envelope>,
) {
    let contacts: Vec<WaContact> = array(envelope.value.get("contacts"))
        .iter()
        .filter_map(|c| WaContact::deserialize(c).ok())
        .collect();
    let [messages, statuses, preferences] = arrays;
    let mut push = |array_name: &'static str, i: usize, raw: Value, kind: PartKind| {
        out.push(Part {
            path: format!("{path}.value.{array_name}[{i}]"),
            kind,
            envelope: envelope.clone(),
            array: Some(array_name),
            raw,
        })
    };
    for (i, m) in messages.into_iter().enumerate() {
        let kind = message(&m, &contacts);
        push("messages", i, m, kind);
    }
    for (i, s) in statuses.into_iter().enumerate() {
        let kind = status(&s);
        push("statuses", i, s, kind);
    }
    for (i, p) in preferences.into_iter().enumerate() {
        let kind = preference(&p);
        push("user_preferences", i, p, kind);
    }
}

fn message(raw: &Value, contacts: &[WaContact]) -> PartKind {
    let Some(obj) = raw.as_object() else {
        return PartKind::Bad("a message that is not a JSON object".into());
    };
    // The type as written, or what the content says it is (some senders leave `type` out).
    let kind = string(obj.get("type")).unwrap_or_else(|| {
        [
            "text",
            "button",
            "interactive",
            "system",
            "image",
            "location",
            "reaction",
        ]
        .into_iter()
        .find(|k| obj.contains_key(*k))
        .unwrap_or("unknown")
        .to_string()
    });
    // Read in place; only a message without `type` is copied to add the one inferred.
    let parsed = if obj.contains_key("type") {
        Content::deserialize(raw)
    } else {
        let mut typed = obj.clone();
        typed.insert("type".into(), Value::String(kind.clone()));
        Content::deserialize(Value::Object(typed))
    };
    let content = match parsed {
        Ok(c) => c,
        Err(e) => return PartKind::Bad(format!("a {kind} message cannot be read: {e}")),
    };
    let from = string(obj.get("from"));
    let id = string(obj.get("id")).unwrap_or_else(|| content_id(raw));
    let profile = from
        .as_ref()
        .and_then(|f| contacts.iter().find(|c| c.wa_id.as_ref() == Some(f)))
        .or_else(|| (from.is_none() && contacts.len() == 1).then(|| &contacts[0]))
        .cloned();
    PartKind::Message(Message {
        id,
        from_user_id: string(obj.get("from_user_id"))
            .or_else(|| profile.as_ref().and_then(|p| p.user_id.clone())),
        from: from.or_else(|| profile.as_ref().and_then(|p| p.wa_id.clone())),
        sent_at: unix(obj.get("timestamp")),
        kind,
        content,
        profile,
    })
}

/// An id for a message that came without one: the same content always gets the same id.
fn content_id(raw: &Value) -> String {
    let bytes = serde_json::to_vec(raw).unwrap_or_default();
    format!("content:{}", hex::encode(Sha256::digest(bytes)))
}

fn status(raw: &Value) -> PartKind {
    let Some(obj) = raw.as_object() else {
        return PartKind::Bad("a status that is not a JSON object".into());
    };
    let Some(id) = string(obj.get("id")) else {
        return PartKind::Bad(
            "a status without a message id cannot be matched to a message".into(),
        );
    };
    let mut errors = Vec::new();
    for e in array(obj.get("errors")) {
        match graph_error(e) {
            Some(g) => errors.push(g),
            None => {
                return PartKind::Bad(format!("a status of {id} carries an error without a code"))
            }
        }
    }
    PartKind::Status(Status {
        id,
        status: string(obj.get("status")).unwrap_or_default(),
        at: unix(obj.get("timestamp")),
        recipient_id: string(obj.get("recipient_id")),
        recipient_user_id: string(obj.get("recipient_user_id")),
        callback_data: string(obj.get("biz_opaque_callback_data")),
        errors,
    })
}

/// A webhook error, with a code written as a number or a string.
fn graph_error(e: &Value) -> Option<GraphError> {
    let code = match e.get("code")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let details = e.get("error_data").and_then(|d| string(d.get("details")));
    Some(GraphError {
        message: string(e.get("message")).unwrap_or_default(),
        kind: None,
        code,
        error_subcode: None,
        error_data: details.map(|d| crate::whatsapp::error::ErrorData { details: Some(d) }),
        fbtrace_id: None,
        title: string(e.get("title")),
    })
}

fn preference(raw: &Value) -> PartKind {
    if !raw.is_object() {
        return PartKind::Bad("a user preference that is not a JSON object".into());
    }
    PartKind::Preference(Preference {
        wa_id: string(raw.get("wa_id")),
        user_id: string(raw.get("user_id")),
        category: string(raw.get("category")),
        value: string(raw.get("value")),
        detail: string(raw.get("detail")),
        at: unix(raw.get("timestamp")),
    })
}

fn template_quality(v: &Map<String, Value>) -> PartKind {
    match string(v.get("new_quality_score")) {
        Some(quality) => PartKind::TemplateQuality(TemplateQuality {
            template_id: string(v.get("message_template_id")),
            name: string(v.get("message_template_name")),
            language: string(v.get("message_template_language")),
            quality: quality.to_ascii_uppercase(),
        }),
        None => PartKind::Bad("a template quality update without new_quality_score".into()),
    }
}

fn template_category(v: &Map<String, Value>) -> PartKind {
    PartKind::TemplateCategory(TemplateCategory {
        template_id: string(v.get("message_template_id")),
        name: string(v.get("message_template_name")),
        language: string(v.get("message_template_language")),
        previous: string(v.get("previous_category")),
        new: string(v.get("new_category")),
    })
}

fn health(field: &str, v: &Map<String, Value>) -> PartKind {
    match string(v.get("event")) {
        Some(event) => PartKind::Health(Health {
            field: field.to_string(),
            event,
            detail: Value::Object(v.clone()),
        }),
        None => PartKind::Bad(format!("a {field} without an event")),
    }
}

fn template_status(v: &Map<String, Value>) -> PartKind {
    let Some(event) = string(v.get("event")) else {
        return PartKind::Bad("a template status update without an event".into());
    };
    PartKind::TemplateStatus(TemplateStatus {
        event,
        template_id: string(v.get("message_template_id")),
        name: string(v.get("message_template_name")),
        language: string(v.get("message_template_language")),
        reason: string(v.get("reason")).filter(|r| r != "NONE"),
    })
}

/// Rebuilds a body holding just this part, in its envelope: what a failed part is kept as.
pub fn one_part_body(part: &Part) -> Vec<u8> {
    let c = &part.envelope;
    let mut value = c.value.clone();
    match part.array {
        Some(a) => {
            value.insert(a.into(), Value::Array(vec![part.raw.clone()]));
        }
        None => {
            if let Value::Object(m) = &part.raw {
                value = m.clone();
            }
        }
    }
    let mut change = Map::new();
    if let Some(f) = &c.field {
        change.insert("field".into(), Value::String(f.clone()));
    }
    change.insert("value".into(), Value::Object(value));
    let mut entry = Map::new();
    if let Some(id) = &c.entry_id {
        entry.insert("id".into(), id.clone());
    }
    entry.insert("changes".into(), Value::Array(vec![Value::Object(change)]));
    let mut root = Map::new();
    if let Some(o) = &c.object {
        root.insert("object".into(), o.clone());
    }
    root.insert("entry".into(), Value::Array(vec![Value::Object(entry)]));
    serde_json::to_vec(&Value::Object(root)).unwrap_or_default()
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A string, or a number written as one (ids and numbers arrive both ways).
fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Unix seconds, as a string or a number.
fn unix(v: Option<&Value>) -> Option<Timestamp> {
    let secs: i64 = match v? {
        Value::String(s) => s.trim().parse().ok()?,
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        _ => return None,
    };
    chrono::DateTime::from_timestamp(secs, 0)
}

pub(super) fn lenient_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(string(Some(&Value::deserialize(d)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Vec<u8> {
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})
        .to_string()
        .into_bytes()
    }

    fn message_of(p: &Part) -> &Message {
        match &p.kind {
            PartKind::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn one_bad_message_leaves_the_others_readable() {
        let b = body(json!({"messages": [
            {"from": "447911123456", "id": "wamid.A", "timestamp": 1781604100, "type": "text", "text": {"body": ["not", "text"]}},
            {"from": "447911123457", "id": "wamid.B", "timestamp": "1781604100", "type": "text", "text": {"body": "STOP"}},
            "not an object"
        ]}));
        let parts = parts(&b).unwrap();
        assert_eq!(parts.len(), 3);
        // A body of an unexpected type is read as no text, not as a failure of the part.
        assert_eq!(message_of(&parts[0]).text(), None);
        assert_eq!(message_of(&parts[1]).text(), Some("STOP"));
        assert!(matches!(&parts[2].kind, PartKind::Bad(r) if r.contains("not a JSON object")));
        assert_eq!(parts[2].path, "entry[0].changes[0].value.messages[2]");
    }

    #[test]
    fn timestamps_as_numbers_or_strings_and_ids_from_content() {
        let b = body(json!({"messages": [
            {"from": "447911123456", "timestamp": 1781604100, "text": {"body": "STOP"}},
        ]}));
        let first = parts(&b).unwrap();
        let m = message_of(&first[0]);
        assert_eq!(m.kind, "text", "the type is inferred from the content");
        assert_eq!(m.sent_at.unwrap().timestamp(), 1781604100);
        assert!(m.id.starts_with("content:"));
        let again = parts(&b).unwrap();
        assert_eq!(
            message_of(&again[0]).id,
            m.id,
            "the same content, the same id"
        );
    }

    #[test]
    fn a_change_without_field_is_read_as_messages_and_other_fields_are_skipped() {
        let b = json!({"entry": [{"changes": [
            {"value": {"messages": [{"from": "1", "id": "x", "type": "text", "text": {"body": "BAJA"}}]}},
            {"field": "smb_message_echoes", "value": {"message_echoes": [{"id": "y"}]}},
            {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 12345,
                "message_template_name": "hello", "message_template_language": "en", "reason": "NONE"}}
        ]}]})
        .to_string();
        let parts = parts(b.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(message_of(&parts[0]).text(), Some("BAJA"));
        match &parts[1].kind {
            PartKind::TemplateStatus(t) => {
                assert_eq!(
                    (
                        t.event.as_str(),
                        t.template_id.as_deref(),
                        t.reason.as_deref()
                    ),
                    ("APPROVED", Some("12345"), None)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_need_an_id_and_read_error_codes_either_way() {
        let b = body(json!({"statuses": [
            {"status": "delivered", "timestamp": "1"},
            {"id": "wamid.X", "status": "failed", "recipient_id": "447911123456", "errors": [{"code": "131050", "title": "x"}]}
        ]}));
        let parts = parts(&b).unwrap();
        assert!(matches!(&parts[0].kind, PartKind::Bad(r) if r.contains("without a message id")));
        match &parts[1].kind {
            PartKind::Status(s) => assert_eq!(s.errors[0].code, 131050),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn number_changes_read_both_keys() {
        let b = body(json!({"messages": [
            {"from": "1", "id": "a", "type": "system", "system": {"type": "user_changed_number", "new_wa_id": "2"}},
        ]}));
        let parts = parts(&b).unwrap();
        match &message_of(&parts[0]).content {
            Content::System { system } => assert_eq!(system.new_wa_id.as_deref(), Some("2")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_part_is_kept_as_a_one_part_body_that_reads_back_the_same() {
        let b = body(
            json!({"contacts": [{"wa_id": "447911123457", "profile": {"name": "Ben"}}],
                "messages": [
                {"from": "447911123456", "id": "wamid.A", "type": "text", "text": {"body": "hello"}},
                {"from": "447911123457", "id": "wamid.B", "type": "text", "text": {"body": "STOP"}},
            ]}),
        );
        let all = parts(&b).unwrap();
        let kept = one_part_body(&all[1]);
        let back = parts(&kept).unwrap();
        assert_eq!(back.len(), 1);
        let m = message_of(&back[0]);
        assert_eq!((m.id.as_str(), m.text()), ("wamid.B", Some("STOP")));
        assert_eq!(
            m.profile
                .as_ref()
                .and_then(|p| p.profile.as_ref())
                .and_then(|p| p.name.as_deref()),
            Some("Ben")
        );
    }

    #[test]
    fn unreadable_bodies_say_why() {
        assert!(parts(b"not json").unwrap_err().0.contains("not JSON"));
        assert!(parts(b"[1]").unwrap_err().0.contains("not a JSON object"));
        assert!(parts(b"{}").unwrap().is_empty());
    }
}
