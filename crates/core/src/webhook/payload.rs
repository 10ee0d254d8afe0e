//! The webhook bodies OptDesk reads (WHATSAPP.md §5). Lenient on purpose: every field may be
//! missing and unknown fields are ignored, because Meta adds fields and the receiver must not
//! stop taking opt-outs when it does.

use serde::Deserialize;
use serde_json::Value;

use crate::whatsapp::GraphError;

#[derive(Debug, Deserialize, Default)]
pub struct Notification {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Entry {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Deserialize, Default)]
pub struct MessagesValue {
    #[serde(default)]
    pub contacts: Vec<WaContact>,
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
    #[serde(default)]
    pub statuses: Vec<Status>,
    #[serde(default)]
    pub user_preferences: Vec<UserPreference>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct WaContact {
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct InboundMessage {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    pub id: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub button: Option<Button>,
    #[serde(default)]
    pub interactive: Option<Interactive>,
    #[serde(default)]
    pub system: Option<System>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct Button {
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Interactive {
    #[serde(default)]
    pub button_reply: Option<Reply>,
    #[serde(default)]
    pub list_reply: Option<Reply>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Reply {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct System {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Status {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pub errors: Vec<GraphError>,
}

#[derive(Debug, Deserialize, Default)]
pub struct UserPreference {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Unix seconds; an integer here (strings elsewhere).
    #[serde(default)]
    pub timestamp: Option<Value>,
}
