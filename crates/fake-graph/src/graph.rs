//! The Graph API routes the fake serves, and its control routes under `/_fake/`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::routing;
use crate::webhooks::{self, StatusEvent};
use crate::{lock, FakeTemplate, Recorded, Shared, State};

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_fake/requests", get(requests))
        .route("/_fake/state", get(get_state).post(patch_state))
        .route("/_fake/templates", post(add_template))
        .route("/_fake/emit", post(emit))
        .fallback(graph)
        .with_state(state)
}

async fn requests(AxState(s): AxState<Shared>) -> Json<Vec<Recorded>> {
    Json(lock(&s).requests.clone())
}

async fn get_state(AxState(s): AxState<Shared>) -> Json<State> {
    Json(lock(&s).clone())
}

/// Merges the given fields into the state (`{"token_expired": true}`, `{"requests": []}`…).
async fn patch_state(AxState(s): AxState<Shared>, Json(patch): Json<Value>) -> Response {
    let mut st = lock(&s);
    let mut current = match serde_json::to_value(&*st) {
        Ok(v) => v,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            cur.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<State>(current) {
        Ok(new) => {
            *st = new;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// `{"field": "messages", "value": {…}}`: posts a signed webhook where Meta would route it.
async fn emit(AxState(s): AxState<Shared>, Json(v): Json<Value>) -> Json<Value> {
    let field = v["field"].as_str().unwrap_or("messages").to_string();
    Json(routing::emit(&s, &field, v["value"].clone()).await)
}

async fn add_template(AxState(s): AxState<Shared>, Json(t): Json<FakeTemplate>) -> StatusCode {
    lock(&s).add_template(t);
    StatusCode::NO_CONTENT
}

/// Meta's error body with the HTTP status Meta's table gives for the code.
pub(crate) fn error(code: i64, message: &str, details: Option<&str>) -> Response {
    let status = match code {
        0 | 190 => StatusCode::UNAUTHORIZED,
        3 | 131000 | 131057 => StatusCode::INTERNAL_SERVER_ERROR,
        2 | 131016 | 133004 => StatusCode::SERVICE_UNAVAILABLE,
        10 | 15 | 200..=299 | 131031 | 368 => StatusCode::FORBIDDEN,
        132001 => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut err = json!({
        "message": format!("(#{code}) {message}"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AFakeGraphTraceId",
    });
    if let Some(d) = details {
        err["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
    }
    (status, Json(json!({ "error": err }))).into_response()
}

/// Graph's generic "no such object (or no permission)" answer: code 100 with subcode 33.
fn no_object(id: &str) -> Response {
    let message = format!(
        "(#100) Unsupported request. Object with ID '{id}' does not exist, cannot be loaded due \
         to missing permissions, or does not support this operation"
    );
    let err = json!({
        "message": message, "type": "GraphMethodException", "code": 100,
        "error_subcode": 33, "fbtrace_id": "AFakeGraphTraceId",
    });
    (StatusCode::BAD_REQUEST, Json(json!({ "error": err }))).into_response()
}

async fn graph(
    AxState(s): AxState<Shared>,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let delay = {
        let mut st = lock(&s);
        st.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            authorization: authorization.clone(),
            body: json_body.clone(),
        });
        st.delay_ms
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let version_ok = parts.first().is_some_and(|v| {
        v.strip_prefix('v')
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
    });
    if !version_ok || parts.len() < 2 {
        return error(100, "Unknown path components", None);
    }

    // The app's own settings take the app access token (`APP_ID|APP_SECRET`), in the header or
    // as `access_token`, and nothing else.
    if parts[1] == lock(&s).routing.app_id && parts.get(2) == Some(&"subscriptions") {
        let token = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_string)
            .or_else(|| {
                query
                    .iter()
                    .find(|(k, _)| k == "access_token")
                    .map(|(_, v)| v.clone())
            });
        return routing::app_subscriptions(&s, &method, token.as_deref(), &query, &json_body).await;
    }
    let st_token = {
        let st = lock(&s);
        (st.token.clone(), st.token_expired)
    };
    match authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
    {
        None => {
            return error(
                0,
                "An access token is required to request this resource",
                None,
            )
        }
        Some(t) if t != st_token.0 => {
            return error(
                190,
                "Invalid OAuth access token - Cannot parse access token",
                None,
            )
        }
        Some(_) if st_token.1 => return error(
            190,
            "Error validating access token: Session has expired on Tuesday, 24-Nov-26 10:00:00 PST",
            None,
        ),
        Some(_) => {}
    }

    let (id, edge) = (parts[1], parts.get(2).copied());
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (phone_id, waba_id) = {
        let st = lock(&s);
        (st.phone_number_id.clone(), st.waba_id.clone())
    };
    match (&method, edge) {
        (&Method::GET, None)
            if id == phone_id && q("fields").as_deref() == Some("webhook_configuration") =>
        {
            routing::webhook_configuration(&s)
        }
        (&Method::GET, None) if id == phone_id => phone_info(&s),
        (&Method::POST, None) if id == phone_id => {
            routing::set_number_override(&s, &json_body).await
        }
        (_, Some("subscribed_apps")) if id == waba_id => {
            routing::subscribed_apps(&s, &method, &json_body).await
        }
        (&Method::POST, Some("messages")) if id == phone_id => {
            let json_content = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if !json_content {
                return error(
                    100,
                    "Invalid parameter",
                    Some("the body must be JSON (Content-Type: application/json)"),
                );
            }
            send(&s, json_body)
        }
        (&Method::GET, Some("message_templates")) if id == waba_id => {
            let limit = q("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(25usize)
                .clamp(1, 1000);
            list_templates(&s, limit, q("after"))
        }
        (&Method::POST, Some("message_templates")) if id == waba_id => {
            create_template(&s, json_body)
        }
        (&Method::DELETE, Some("message_templates")) if id == waba_id => {
            delete_template(&s, q("name"), q("hsm_id"))
        }
        _ => no_object(id),
    }
}

fn phone_info(s: &Shared) -> Response {
    let st = lock(s);
    Json(json!({
        "verified_name": st.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": st.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
        "name_status": "APPROVED",
        "status": "CONNECTED",
        "id": st.phone_number_id,
    }))
    .into_response()
}

/// Positional variables in a text: the numbers in `{{n}}`.
fn send(s: &Shared, body: Value) -> Response {
    if body["messaging_product"] != "whatsapp" {
        return error(
            100,
            "Invalid parameter",
            Some("messaging_product must be \"whatsapp\""),
        );
    }
    let Some(to) = body["to"].as_str().filter(|t| !t.is_empty()) else {
        return error(
            131008,
            "Required parameter is missing",
            Some("to is required"),
        );
    };
    let to = to.to_string();
    let mut st = lock(s);
    match body["type"].as_str() {
        Some("template") => {
            if let Some(refused) = crate::template_check::check(&st.templates, &body) {
                return refused;
            }
        }
        Some("text") => {
            let text = body["text"]["body"].as_str().unwrap_or("");
            if text.is_empty() || text.chars().count() > 4096 {
                return error(
                    131009,
                    "Parameter value is not valid",
                    Some("text.body must be 1 to 4096 characters"),
                );
            }
        }
        _ => {
            return error(
                131009,
                "Parameter value is not valid",
                Some("type must be template or text here"),
            )
        }
    }
    if st.rate_limit_burst > 0 {
        st.rate_limit_burst -= 1;
        return error(
            130429,
            "Rate limit hit",
            Some("Cloud API message throughput has been reached."),
        );
    }
    if let Some(code) = st.reject_with.get(&to).copied() {
        let title = match code {
            131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
            130472 => "User's number is part of an experiment",
            131026 => "Message Undeliverable",
            _ => "Message failed to send",
        };
        return error(code, title, None);
    }
    if st.reject_131050.contains(&to) {
        return error(
            131050,
            "User has stopped marketing messages",
            Some("The user has chosen to stop receiving marketing messages from this business."),
        );
    }
    let id = st.next_id;
    st.next_id += 1;
    st.accepted.push(to.clone());
    let message_id = format!("wamid.FAKE{id:08}");
    if let Some(target) = st.webhook.clone() {
        let failed = st.fail_131050_async.contains(&to);
        let statuses: Vec<String> = if failed {
            vec!["failed".into()]
        } else {
            target.statuses.clone()
        };
        let bodies = statuses
            .into_iter()
            .map(|status| {
                let e = StatusEvent {
                    message_id: message_id.clone(),
                    recipient: to.clone(),
                    error_code: (status == "failed").then_some(131050),
                    status,
                    callback_data: body["biz_opaque_callback_data"]
                        .as_str()
                        .map(str::to_string),
                };
                webhooks::status_body(
                    &st.phone_number_id,
                    &st.display_phone_number,
                    &st.waba_id,
                    &e,
                )
            })
            .collect::<Vec<_>>();
        let mut bodies = bodies;
        if let (false, Some(text)) = (failed, st.reply_after_delivery.get(&to).cloned()) {
            let n = st.next_id;
            st.next_id += 1;
            bodies.push(webhooks::message_body(
                &st.phone_number_id,
                &st.display_phone_number,
                &st.waba_id,
                &to,
                &format!("wamid.FAKEIN{n:08}"),
                &text,
            ));
        }
        tokio::spawn(webhooks::post_all(target, bodies));
    }
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": body["to"], "wa_id": to}],
        "messages": [{"id": message_id, "message_status": "accepted"}],
    }))
    .into_response()
}

fn list_templates(s: &Shared, limit: usize, after: Option<String>) -> Response {
    let st = lock(s);
    let start = match after.as_deref().map(|a| {
        a.strip_prefix("CURSOR")
            .and_then(|n| n.parse::<usize>().ok())
    }) {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => {
            return error(
                100,
                "Invalid parameter",
                Some("the after cursor is not valid"),
            )
        }
    };
    let page: Vec<Value> = st
        .templates
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| {
            json!({"id": t.id, "name": t.name, "language": t.language, "status": t.status,
                   "category": t.category, "components": t.components,
                   "parameter_format": t.parameter_format.clone().unwrap_or_else(|| "POSITIONAL".into())})
        })
        .collect();
    let end = start + page.len();
    let mut paging =
        json!({"cursors": {"before": format!("CURSOR{start}"), "after": format!("CURSOR{end}")}});
    if end < st.templates.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v25.0/{}/message_templates?limit={limit}&after=CURSOR{end}",
            st.waba_id
        ));
    }
    Json(json!({"data": page, "paging": paging})).into_response()
}

fn create_template(s: &Shared, body: Value) -> Response {
    let name = body["name"].as_str().unwrap_or("");
    let language = body["language"].as_str().unwrap_or("");
    let category = body["category"].as_str().unwrap_or("");
    if name.is_empty()
        || name.len() > 512
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return error(
            100,
            "Invalid parameter",
            Some("name must be lowercase letters, digits and underscores, at most 512"),
        );
    }
    if language.is_empty() {
        return error(100, "Invalid parameter", Some("language is required"));
    }
    if !["MARKETING", "UTILITY", "AUTHENTICATION"].contains(&category) {
        return error(
            100,
            "Invalid parameter",
            Some("category must be MARKETING, UTILITY or AUTHENTICATION"),
        );
    }
    let Some(components) = body["components"]
        .as_array()
        .filter(|c| crate::template_check::component_text(c, "BODY").is_some())
    else {
        return error(
            100,
            "Invalid parameter",
            Some("components must include a BODY with text"),
        );
    };
    let mut st = lock(s);
    if st
        .templates
        .iter()
        .any(|t| t.name == name && t.language == language)
    {
        return error(
            100,
            "Invalid parameter",
            Some("Content in this language already exists"),
        );
    }
    let status = if st.auto_approve {
        "APPROVED"
    } else {
        "PENDING"
    };
    let t = FakeTemplate {
        id: String::new(),
        name: name.into(),
        language: language.into(),
        status: status.into(),
        category: category.into(),
        components: components.clone(),
        parameter_format: body["parameter_format"]
            .as_str()
            .map(str::to_ascii_uppercase),
    };
    st.add_template(t);
    let id = st
        .templates
        .last()
        .map(|t| t.id.clone())
        .unwrap_or_default();
    Json(json!({"id": id, "status": status, "category": category})).into_response()
}

fn delete_template(s: &Shared, name: Option<String>, hsm_id: Option<String>) -> Response {
    let Some(name) = name else {
        return error(100, "Invalid parameter", Some("name is required"));
    };
    let mut st = lock(s);
    let before = st.templates.len();
    st.templates
        .retain(|t| !(t.name == name && hsm_id.as_ref().is_none_or(|id| *id == t.id)));
    if st.templates.len() == before {
        return error(
            100,
            "Invalid parameter",
            Some(&format!("Message template \"{name}\" not found")),
        );
    }
    Json(json!({"success": true})).into_response()
}
