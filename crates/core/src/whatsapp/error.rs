//! Meta's errors, classified by **code** (never by HTTP status or message text; WHATSAPP.md §3),
//! and the client's own failures, each with a message that says what to do.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secrets::SecretError;

/// Meta's error object (`{"error": {...}}` in a response, or an element of `errors[]` in a
/// webhook). Every field but `code` may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
    /// Webhook errors carry a title instead of a type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl GraphError {
    pub fn class(&self) -> ErrorClass {
        classify(self.code)
    }

    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref().and_then(|d| d.details.as_deref())
    }
}

/// What a code means for what OptDesk does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 0, 190: the token is expired or invalid. Stop and ask for a new one.
    Auth,
    /// 4, 80007, 130429, 131056: back off and retry.
    RateLimited,
    /// 1, 2, 131000, 131016, 131057, 133004: retry a few times.
    Transient,
    /// 131050: the person stopped marketing messages. Never retry; it is an opt-out signal.
    Consent,
    /// 131026, 131021, 131030: this recipient cannot get it.
    Recipient,
    /// 131047: the 24-hour window is closed; only a template may go.
    NeedsTemplate,
    /// 131049 (per-user marketing cap: no sooner than a day later) or 130472 (the person is in
    /// Meta's experiment group: until they write): held back, not an opt-out.
    HeldByMeta,
    /// 131048: spam rate limit; stop the campaign.
    SpamLimit,
    /// 132000–132018: the template or its parameters.
    Template,
    /// 3, 10, 200–299: the token lacks a permission or the asset.
    Permission,
    /// 131031, 131042, 368, 130497, 131064, 131045, 133010: the account cannot send.
    Account,
    /// Anything else: the request itself is wrong.
    BadRequest,
}

pub fn classify(code: i64) -> ErrorClass {
    use ErrorClass::*;
    match code {
        0 | 190 => Auth,
        4 | 80007 | 130429 | 131056 => RateLimited,
        1 | 2 | 131000 | 131016 | 131057 | 133004 => Transient,
        131050 => Consent,
        131026 | 131021 | 131030 => Recipient,
        131047 => NeedsTemplate,
        131049 | 130472 => HeldByMeta,
        131048 => SpamLimit,
        132000..=132018 => Template,
        3 | 10 | 200..=299 => Permission,
        131031 | 131042 | 368 | 130497 | 131064 | 131045 | 133010 => Account,
        _ => BadRequest,
    }
}

impl ErrorClass {
    /// Whether the client may send the same request again (after a backoff).
    pub fn retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Transient)
    }

    /// What the owner should do, in one sentence.
    pub fn advice(self) -> &'static str {
        use ErrorClass::*;
        match self {
            Auth => "WhatsApp rejected the access token (it expired or was revoked). Create a new one in Meta Business Settings → System users, then save it with `optdesk credentials set`",
            RateLimited => "WhatsApp is rate-limiting this number; OptDesk slowed down and retried, but it kept happening. Lower the send rate and try again later",
            Transient => "WhatsApp had a temporary problem and retries did not get through; try again in a few minutes",
            Consent => "this person stopped marketing messages in WhatsApp; only they can undo it",
            Recipient => "WhatsApp cannot deliver to this number (not on WhatsApp, or it blocked the business)",
            NeedsTemplate => "more than 24 hours passed since the customer last wrote, so only an approved template can be sent",
            HeldByMeta => "WhatsApp held this marketing message back (its per-person limit, or an experiment group); not an opt-out, and OptDesk holds their marketing until WhatsApp would take it",
            SpamLimit => "WhatsApp limited this number because too many messages were blocked or reported; stop the campaign and check the number's quality",
            Template => "the template or its parameters are not what WhatsApp approved; run `optdesk templates sync` and check the parameters",
            Permission => "the token is missing a permission or access to this WhatsApp account; give the system user whatsapp_business_messaging and whatsapp_business_management and assign it the WhatsApp account",
            Account => "the WhatsApp account cannot send right now (locked, payment or policy problem); check WhatsApp Manager",
            BadRequest => "WhatsApp rejected the request as invalid",
        }
    }
}

/// A failed call to the Graph API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Meta answered with an error object.
    #[error("{}", graph_message(.error, *.status))]
    Graph { status: u16, error: Box<GraphError> },
    /// The request never got an answer (connection refused, timeout, TLS…). Whether a send
    /// reached Meta is unknown.
    #[error("could not reach WhatsApp at {url}: {reason}")]
    Network { url: String, reason: String },
    /// Meta answered with something that is not what the API documents.
    #[error("WhatsApp's answer could not be read: {0}")]
    Decode(String),
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// WhatsApp answered, but what it said could not be saved (the database failed).
    #[error("WhatsApp answered, but OptDesk could not save what it said: {0}")]
    Store(String),
}

fn graph_message(e: &GraphError, status: u16) -> String {
    let details = e.details().map(|d| format!(" ({d})")).unwrap_or_default();
    let what = if e.message.is_empty() {
        e.title.as_deref().unwrap_or("")
    } else {
        &e.message
    };
    format!(
        "{} — WhatsApp said: code {}, HTTP {status}: {what}{details}",
        capitalise(e.class().advice()),
        e.code
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl ClientError {
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            ClientError::Graph { error, .. } => Some(error.class()),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<i64> {
        match self {
            ClientError::Graph { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        f.write_str(&s.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_not_statuses_decide() {
        use ErrorClass::*;
        for (code, class) in [
            (0, Auth),
            (190, Auth),
            (4, RateLimited),
            (80007, RateLimited),
            (130429, RateLimited),
            (131056, RateLimited),
            (1, Transient),
            (2, Transient),
            (131000, Transient),
            (131016, Transient),
            (131057, Transient),
            (133004, Transient),
            (131050, Consent),
            (131026, Recipient),
            (131047, NeedsTemplate),
            (131049, HeldByMeta),
            (131048, SpamLimit),
            (132000, Template),
            (132001, Template),
            (132015, Template),
            (132016, Template),
            (132018, Template),
            (3, Permission),
            (10, Permission),
            (200, Permission),
            (299, Permission),
            (131031, Account),
            (131042, Account),
            (368, Account),
            (100, BadRequest),
            (131008, BadRequest),
            (131009, BadRequest),
        ] {
            assert_eq!(classify(code), class, "code {code}");
        }
        assert!(classify(130429).retryable() && classify(131000).retryable());
        assert!(!classify(131050).retryable() && !classify(190).retryable());
        assert!(
            !classify(131049).retryable(),
            "held by Meta: not now, a day later at the soonest"
        );
    }

    #[test]
    fn parses_metas_error_body_with_missing_fields() {
        let body = r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException",
            "code":130429,"error_data":{"messaging_product":"whatsapp","details":"slow down"},
            "fbtrace_id":"Az8or"}}"#;
        #[derive(Deserialize)]
        struct Wrap {
            error: GraphError,
        }
        let e: GraphError = serde_json::from_str::<Wrap>(body).unwrap().error;
        assert_eq!((e.code, e.details()), (130429, Some("slow down")));
        let e: GraphError = serde_json::from_str(r#"{"code":131050}"#).unwrap();
        assert_eq!(e.class(), ErrorClass::Consent);
        let shown = ClientError::Graph {
            status: 401,
            error: Box::new(GraphError {
                code: 190,
                ..Default::default()
            }),
        };
        assert!(
            shown
                .to_string()
                .starts_with("WhatsApp rejected the access token"),
            "{shown}"
        );
    }
}
