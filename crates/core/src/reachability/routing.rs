//! Where each kind of event goes, read back from Meta, and whether it reaches this OptDesk.
//!
//! Meta routes `messages` (customers' messages and delivery statuses) by precedence: the phone
//! number's override, else the WABA's, else the app's callback. Everything else —
//! `user_preferences`, template and account events — goes to the app's callback only, and only
//! for the fields the app subscribes to (REACHABILITY.md §1.1).

use serde::{Deserialize, Serialize};

use crate::whatsapp::subscriptions::{AppSubscription, WebhookConfiguration};

/// The fields OptDesk needs the app to subscribe to.
pub const FIELDS: [&str; 8] = [
    "messages",
    "user_preferences",
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
    "phone_number_quality_update",
    "account_update",
    "business_capability_update",
];

/// One kind of event: where Meta sends it and whether that is here.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// What the owner calls it.
    pub label: String,
    pub url: Option<String>,
    pub reaches_optdesk: bool,
    /// Why not, or where it goes instead, in words.
    pub note: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    /// This OptDesk's callback (`<public_url>/webhook`).
    pub ours: String,
    pub subscribed: bool,
    pub app_url: Option<String>,
    pub waba_override: Option<String>,
    pub number_override: Option<String>,
    pub app_fields: Vec<String>,
    /// Customers' messages (STOP replies, buttons) and delivery statuses.
    pub messages: Route,
    /// WhatsApp's own "Stop marketing" and "Resume".
    pub user_preferences: Route,
    /// Templates approved, paused, recategorised.
    pub templates: Route,
    /// The number's quality rating and account events.
    pub account: Route,
}

impl Routing {
    /// Everything OptDesk needs reaches it.
    pub fn confirmed(&self) -> bool {
        self.messages.reaches_optdesk && self.user_preferences.reaches_optdesk
    }

    /// Every route, in the order the owner reads them.
    pub fn routes(&self) -> [&Route; 4] {
        [
            &self.messages,
            &self.user_preferences,
            &self.templates,
            &self.account,
        ]
    }
}

/// The same callback, whatever the trailing slash or the case of the host.
pub fn same_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        let u = u.trim().trim_end_matches('/');
        match url::Url::parse(u) {
            Ok(p) => p.as_str().trim_end_matches('/').to_string(),
            Err(_) => u.to_string(),
        }
    };
    norm(a) == norm(b)
}

/// Works out each route from what Meta says.
pub fn decide(
    ours: &str,
    subscribed: bool,
    conf: &WebhookConfiguration,
    waba_override: Option<&str>,
    app: Option<&AppSubscription>,
) -> Routing {
    let app_url = app
        .and_then(|a| a.callback_url.clone())
        .or_else(|| conf.application.clone())
        .filter(|u| !u.is_empty());
    let app_active = app.is_none_or(|a| a.active);
    let app_fields: Vec<String> = app.map(|a| a.fields.clone()).unwrap_or_default();
    let number_override = conf.phone_number.clone().filter(|u| !u.is_empty());
    let waba_override = waba_override
        .map(str::to_string)
        .or_else(|| conf.whatsapp_business_account.clone())
        .filter(|u| !u.is_empty());
    let is_ours = |u: &Option<String>| u.as_deref().is_some_and(|u| same_url(u, ours));
    // An app subscription OptDesk could not read (no app id) says nothing about fields.
    let has = |field: &str| app.is_none() || app_fields.iter().any(|f| f == field);

    let route = |label: &str, url: Option<String>, field: &str| -> Route {
        let here = is_ours(&url);
        let note = if !subscribed {
            Some(
                "the app is not subscribed to the WhatsApp Business Account, so Meta sends nothing"
                    .into(),
            )
        } else if url.is_none() {
            Some("no callback is set for it".into())
        } else if !app_active {
            Some("the app's webhook subscription is not active".into())
        } else if !has(field) {
            Some(format!("the app does not subscribe to `{field}`"))
        } else if !here {
            Some(format!("it goes to {}", url.as_deref().unwrap_or("")))
        } else {
            None
        };
        Route {
            label: label.into(),
            reaches_optdesk: note.is_none(),
            url,
            note,
        }
    };
    let messages_url = number_override
        .clone()
        .or_else(|| waba_override.clone())
        .or_else(|| app_url.clone());
    Routing {
        ours: ours.to_string(),
        subscribed,
        messages: route(
            "customers' messages and delivery statuses",
            messages_url,
            "messages",
        ),
        user_preferences: route(
            "WhatsApp's \"Stop marketing\" and \"Resume\"",
            app_url.clone(),
            "user_preferences",
        ),
        templates: route(
            "template approvals, pauses and categories",
            app_url.clone(),
            "message_template_status_update",
        ),
        account: route(
            "quality rating and account events",
            app_url.clone(),
            "phone_number_quality_update",
        ),
        app_url,
        waba_override,
        number_override,
        app_fields,
    }
}

/// What changed between the routing OptDesk left and the routing now, in a sentence.
pub fn drift(before: &Routing, now: &Routing) -> Option<String> {
    let mut changes = Vec::new();
    let mut diff = |what: &str, a: &Option<String>, b: &Option<String>| {
        if a != b {
            changes.push(match b {
                Some(u) => format!("{what} is now {u}"),
                None => format!("{what} was removed"),
            });
        }
    };
    diff("the app's callback", &before.app_url, &now.app_url);
    diff(
        "the WhatsApp Business Account's override",
        &before.waba_override,
        &now.waba_override,
    );
    diff(
        "this number's override",
        &before.number_override,
        &now.number_override,
    );
    if before.subscribed && !now.subscribed {
        changes.push("the app was unsubscribed from the WhatsApp Business Account".into());
    }
    for (a, b) in before.routes().iter().zip(now.routes()) {
        if a.reaches_optdesk && !b.reaches_optdesk {
            changes.push(format!("{} no longer reach OptDesk", b.label));
        }
    }
    (!changes.is_empty()).then(|| {
        format!(
            "The webhook routing was changed outside OptDesk: {}. Run `optdesk webhook connect` (or Settings → Connect webhooks) to put it back.",
            changes.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "https://shop.example/webhook";

    fn app(url: &str, fields: &[&str]) -> AppSubscription {
        AppSubscription {
            callback_url: Some(url.into()),
            active: true,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn the_app_callback_carries_everything() {
        let r = decide(
            OURS,
            true,
            &WebhookConfiguration::default(),
            None,
            Some(&app(OURS, &FIELDS)),
        );
        assert!(r.confirmed());
        assert!(r.routes().iter().all(|x| x.reaches_optdesk));
    }

    #[test]
    fn a_number_override_carries_messages_only() {
        let conf = WebhookConfiguration {
            phone_number: Some(OURS.into()),
            application: Some("https://crm.example/hook".into()),
            ..Default::default()
        };
        let r = decide(OURS, true, &conf, None, None);
        assert!(r.messages.reaches_optdesk);
        assert!(!r.user_preferences.reaches_optdesk);
        assert_eq!(
            r.user_preferences.note.as_deref(),
            Some("it goes to https://crm.example/hook")
        );
        assert!(!r.confirmed());
    }

    #[test]
    fn a_foreign_override_takes_messages_away() {
        let r = decide(
            OURS,
            true,
            &WebhookConfiguration::default(),
            Some("https://bsp.example/x"),
            Some(&app(OURS, &FIELDS)),
        );
        assert!(!r.messages.reaches_optdesk);
        assert!(r.user_preferences.reaches_optdesk);
    }

    #[test]
    fn missing_fields_and_subscription() {
        let r = decide(
            OURS,
            true,
            &WebhookConfiguration::default(),
            None,
            Some(&app(OURS, &["messages"])),
        );
        assert!(r.messages.reaches_optdesk);
        assert_eq!(
            r.user_preferences.note.as_deref(),
            Some("the app does not subscribe to `user_preferences`")
        );
        let r = decide(
            OURS,
            false,
            &WebhookConfiguration::default(),
            None,
            Some(&app(OURS, &FIELDS)),
        );
        assert!(!r.messages.reaches_optdesk);
    }

    #[test]
    fn drift_in_a_sentence() {
        let before = decide(
            OURS,
            true,
            &WebhookConfiguration::default(),
            None,
            Some(&app(OURS, &FIELDS)),
        );
        assert_eq!(drift(&before, &before), None);
        let conf = WebhookConfiguration {
            phone_number: Some("https://other.example".into()),
            ..Default::default()
        };
        let now = decide(OURS, true, &conf, None, Some(&app(OURS, &FIELDS)));
        let d = drift(&before, &now).unwrap();
        assert!(
            d.contains("this number's override is now https://other.example"),
            "{d}"
        );
        assert!(
            d.contains("customers' messages and delivery statuses no longer reach OptDesk"),
            "{d}"
        );
    }

    #[test]
    fn urls_compare_as_urls() {
        assert!(same_url(
            "https://Shop.example/webhook/",
            "https://shop.example/webhook"
        ));
        assert!(!same_url(
            "https://shop.example/webhook",
            "https://other.example/webhook"
        ));
    }
}
