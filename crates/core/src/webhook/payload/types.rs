//! The parts a webhook body is read into, typed: a customer's message (with its content by
//! `type`), a delivery status, a marketing preference, a template status update.

use serde::Deserialize;

use super::lenient_string;
use crate::time::Timestamp;
use crate::whatsapp::GraphError;

/// The sender's profile as the change's `contacts` list gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WaContact {
    #[serde(default, deserialize_with = "lenient_string")]
    pub wa_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

/// A customer's message: the envelope, then its content by type.
#[derive(Debug, Clone)]
pub struct Message {
    /// Meta's message id, or `content:<sha256>` when the body had none.
    pub id: String,
    pub from: Option<String>,
    pub from_user_id: Option<String>,
    /// The message's own time (when the customer sent it), when the body says.
    pub sent_at: Option<Timestamp>,
    /// The `type` as written (`text`, `image`, `reaction`…), or inferred from the content.
    pub kind: String,
    pub content: Content,
    /// The sender's entry in the change's `contacts`, when there is one.
    pub profile: Option<WaContact>,
}

/// The content of a message, by its `type`. Only what OptDesk acts on is read; every other type
/// is [`Content::Other`].
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        #[serde(default)]
        text: Text,
    },
    Button {
        #[serde(default)]
        button: Button,
    },
    Interactive {
        #[serde(default)]
        interactive: Interactive,
    },
    System {
        #[serde(default)]
        system: System,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Text {
    #[serde(default, deserialize_with = "lenient_string")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Button {
    #[serde(default, deserialize_with = "lenient_string")]
    pub payload: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Interactive {
    #[serde(default)]
    pub button_reply: Option<Reply>,
    #[serde(default)]
    pub list_reply: Option<Reply>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reply {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct System {
    #[serde(default, deserialize_with = "lenient_string")]
    pub body: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The new number: `wa_id` today, `new_wa_id` in older API versions.
    #[serde(default, deserialize_with = "lenient_string")]
    pub wa_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub new_wa_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_id: Option<String>,
}

impl Message {
    /// The words a person typed or tapped, whatever the type.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text { text } => text.body.as_deref(),
            Content::Button { button } => button.text.as_deref().or(button.payload.as_deref()),
            Content::Interactive { interactive } => {
                interactive.reply().and_then(|r| r.title.as_deref())
            }
            Content::System { system } => system.body.as_deref(),
            Content::Other => None,
        }
    }
}

impl Interactive {
    pub fn reply(&self) -> Option<&Reply> {
        self.button_reply.as_ref().or(self.list_reply.as_ref())
    }
}

/// A delivery status of a message OptDesk sent.
#[derive(Debug, Clone)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub at: Option<Timestamp>,
    pub recipient_id: Option<String>,
    pub recipient_user_id: Option<String>,
    pub callback_data: Option<String>,
    pub errors: Vec<GraphError>,
}

/// WhatsApp's own marketing preference (`user_preferences`): stop or resume.
#[derive(Debug, Clone)]
pub struct Preference {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub category: Option<String>,
    pub value: Option<String>,
    pub detail: Option<String>,
    pub at: Option<Timestamp>,
}

/// `message_template_status_update`: a template approved, rejected, paused…
#[derive(Debug, Clone)]
pub struct TemplateStatus {
    pub event: String,
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub reason: Option<String>,
}

/// `phone_number_quality_update` or `account_update`: the number's quality or messaging limit
/// changed, or something happened to the account.
#[derive(Debug, Clone)]
pub struct Health {
    /// `phone_number_quality_update` or `account_update`.
    pub field: String,
    pub event: String,
    /// The rest of the value (limits, violation or restriction details), as it came.
    pub detail: serde_json::Value,
}

/// `template_category_update`: WhatsApp changed (or is about to change) a template's category.
#[derive(Debug, Clone)]
pub struct TemplateCategory {
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    /// Set when the change is done (absent for a notice of a change to come).
    pub previous: Option<String>,
    pub new: Option<String>,
}

/// `message_template_quality_update`: a template's quality score changed.
#[derive(Debug, Clone)]
pub struct TemplateQuality {
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    /// GREEN, YELLOW, RED or UNKNOWN.
    pub quality: String,
}
