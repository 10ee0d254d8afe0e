//! Requests and responses of the Cloud API, as WHATSAPP.md documents them. Unknown fields are
//! ignored; fields Meta may leave out are `Option`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A template message to one recipient (WHATSAPP.md §2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMessage {
    /// E.164 with or without '+'; Meta takes digits.
    pub to: String,
    pub template: String,
    pub language: String,
    /// The `components` array of send-time parameters (header, body, buttons), as Meta wants it.
    pub components: Vec<Value>,
    /// Echoed back in every status webhook for this message (broadcast and recipient ids).
    pub callback_data: Option<String>,
}

impl TemplateMessage {
    pub(crate) fn body(&self) -> Value {
        let mut template = serde_json::json!({
            "name": self.template,
            "language": { "code": self.language },
        });
        if !self.components.is_empty() {
            template["components"] = Value::Array(self.components.clone());
        }
        let mut body = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": digits(&self.to),
            "type": "template",
            "template": template,
        });
        if let Some(data) = &self.callback_data {
            body["biz_opaque_callback_data"] = Value::String(data.clone());
        }
        body
    }
}

/// A free-form text inside the customer's 24-hour window (WHATSAPP.md §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage {
    pub to: String,
    pub body: String,
    /// The inbound message this replies to.
    pub reply_to: Option<String>,
    pub callback_data: Option<String>,
}

impl TextMessage {
    pub(crate) fn body(&self) -> Value {
        let mut body = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": digits(&self.to),
            "type": "text",
            "text": { "preview_url": false, "body": self.body },
        });
        if let Some(id) = &self.reply_to {
            body["context"] = serde_json::json!({ "message_id": id });
        }
        if let Some(data) = &self.callback_data {
            body["biz_opaque_callback_data"] = Value::String(data.clone());
        }
        body
    }
}

fn digits(to: &str) -> String {
    to.chars().filter(char::is_ascii_digit).collect()
}

/// Meta's answer to a send (HTTP 200 = accepted, not delivered).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SendResponse {
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SentContact {
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub message_status: Option<String>,
}

/// What OptDesk keeps of an accepted send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    /// The WhatsApp message id (`wamid.…`).
    pub message_id: String,
    /// WhatsApp's id for the recipient; may differ from the number sent to.
    pub wa_id: Option<String>,
    /// `accepted` or `held_for_quality_assessment`.
    pub status: Option<String>,
}

/// `GET /{phone-number-id}` (WHATSAPP.md §10).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PhoneNumberInfo {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub code_verification_status: Option<String>,
    #[serde(default)]
    pub platform_type: Option<String>,
    #[serde(default)]
    pub throughput: Option<Throughput>,
    #[serde(default)]
    pub whatsapp_business_manager_messaging_limit: Option<String>,
    #[serde(default)]
    pub name_status: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Throughput {
    #[serde(default)]
    pub level: Option<String>,
}

pub const PHONE_NUMBER_FIELDS: &str = "display_phone_number,verified_name,quality_rating,\
code_verification_status,platform_type,throughput,name_status,status,\
whatsapp_business_manager_messaging_limit";

/// One template (one language of a template name) as Meta lists it (WHATSAPP.md §6.1).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub components: Vec<Value>,
    #[serde(default)]
    pub parameter_format: Option<String>,
    #[serde(default)]
    pub quality_score: Option<Value>,
    #[serde(default)]
    pub rejected_reason: Option<String>,
}

pub const TEMPLATE_FIELDS: &str =
    "id,name,status,category,language,components,parameter_format,quality_score,rejected_reason";

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Cursors {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

/// `POST /{waba-id}/message_templates` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CreatedTemplate {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Success {
    #[serde(default)]
    pub success: bool,
}
