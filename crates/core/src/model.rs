//! The words of the domain: topics, consent states, ledger subjects, source kinds, ids.
//!
//! Every enum here has one text form, used in SQLite, in the ledger's hashes, in JSON and on the
//! command line alike, so a value never changes spelling between layers.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> ::rusqlite::Result<::rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl ::rusqlite::types::FromSql for $name {
            fn column_result(
                v: ::rusqlite::types::ValueRef<'_>,
            ) -> ::rusqlite::types::FromSqlResult<Self> {
                let text = v.as_str()?;
                $name::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == text)
                    .ok_or_else(|| ::rusqlite::types::FromSqlError::Other(
                        format!("{text:?} is not a {}", stringify!($name)).into(),
                    ))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, $crate::error::Error> {
                let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $name::ALL.iter().copied().find(|v| v.as_str() == wanted).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::error::Error::invalid(format!(
                        "{s:?} is not a {}; use one of: {}", stringify!($name).to_lowercase(),
                        names.join(", ")
                    ))
                })
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// What a consent is for. Marketing needs an opt-in on record; utility needs no opt-out.
    Topic { Marketing => "marketing", Utility => "utility" }
}

text_enum! {
    /// A recorded consent decision. "Unknown" is the absence of one (`Option<ConsentState>`).
    ConsentState { OptedIn => "opted_in", OptedOut => "opted_out" }
}

text_enum! {
    /// What a ledger event changes: one consent topic, or one of the per-contact flags.
    /// The order is the order of the materialised columns the ledger writes (`as usize`).
    Subject {
        Marketing => "marketing",
        Utility => "utility",
        /// The customer stopped marketing inside WhatsApp (131050 or a `user_preferences` stop);
        /// lifted only by their own `resume`.
        MetaBlocked => "meta_blocked",
        /// WhatsApp could not deliver to the number (131026).
        Unreachable => "unreachable",
        /// An inbound message awaits the owner's decision on whether it is an opt-out.
        ReviewPending => "review_pending",
    }
}

text_enum! {
    /// The new value an event gives its subject: a consent state for topics, set/cleared for flags.
    EventState {
        OptedIn => "opted_in",
        OptedOut => "opted_out",
        Set => "set",
        Cleared => "cleared",
    }
}

text_enum! {
    /// How OptDesk learned of a change. A closed set, so the UI can pick an icon for each; the
    /// free text (`--source TEXT`) is kept beside it as the source detail.
    SourceKind {
        OwnerToggle => "owner_toggle",
        Import => "import",
        WebForm => "web_form",
        InStore => "in_store",
        PaperForm => "paper_form",
        PhoneCall => "phone_call",
        Keyword => "keyword",
        Button => "button",
        MetaSignal => "meta_signal",
        Signup => "signup",
        Api => "api",
    }
}

text_enum! {
    /// The category of a message the send gate is asked about.
    Category { Marketing => "marketing", Utility => "utility" }
}

text_enum! {
    /// What WhatsApp's status webhooks say became of a message: sent < delivered < read, and
    /// failed is final.
    DeliveryStatus {
        Sent => "sent",
        Delivered => "delivered",
        Read => "read",
        Failed => "failed",
    }
}

text_enum! {
    /// Where a broadcast is: drafted (and maybe scheduled), sending, paused for its reasons,
    /// finished, or cancelled by the owner.
    BroadcastState {
        Draft => "draft",
        Sending => "sending",
        Paused => "paused",
        Finished => "finished",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// One recipient of a broadcast: queued → sending → sent | failed | blocked (the gate said
    /// no at send time) | unknown (the request may have reached Meta: never sent again).
    RecipientState {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Blocked => "blocked",
        Unknown => "unknown",
    }
}

text_enum! {
    /// What one of OptDesk's own replies is.
    ReplyKind {
        /// "You will get no more offers": what an opt-out gets, within 5 minutes.
        Confirmation => "optout_confirmation",
        /// The answer to HELP.
        Help => "help_reply",
        /// What a sign-up gets.
        Welcome => "welcome",
    }
}

text_enum! {
    /// One of OptDesk's own replies: queued → sending → sent | failed | unknown, or skipped
    /// (outside the 24-hour window, or a confirmation already sent).
    ReplyState {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Unknown => "unknown",
        Skipped => "skipped",
    }
}

text_enum! {
    /// A contact's field a template variable can be filled from (`@name|there`).
    ContactField { Name => "name", Phone => "phone" }
}

text_enum! {
    /// A message waiting for the owner's decision on whether it is an opt-out.
    ReviewState { Open => "open", Accepted => "accepted", Dismissed => "dismissed" }
}

impl DeliveryStatus {
    /// SQL that is true when the status bound as `?1` moves the column `col` forward (a later
    /// webhook never moves a message backwards). The one place the ranks are written.
    pub(crate) fn advances_sql(col: &str) -> String {
        let rank = |x: &str| {
            let whens: String = DeliveryStatus::ALL
                .iter()
                .enumerate()
                .map(|(i, d)| format!(" WHEN '{}' THEN {}", d.as_str(), i + 1))
                .collect();
            format!("CASE {x}{whens} ELSE 0 END")
        };
        format!(
            "({col} IS NULL OR ({col} <> 'failed' AND {} > {}))",
            rank("?1"),
            rank(col)
        )
    }
}

impl Category {
    /// How a WhatsApp template category is gated. UTILITY and AUTHENTICATION need only no
    /// opt-out; MARKETING — and any category OptDesk does not know (Meta adds them) — needs an
    /// opt-in on record: an unknown category fails to the strict side, never to "send".
    pub fn of_template(category: &str) -> Category {
        match category.trim().to_ascii_uppercase().as_str() {
            "UTILITY" | "AUTHENTICATION" => Category::Utility,
            _ => Category::Marketing,
        }
    }
}

impl Topic {
    pub fn subject(self) -> Subject {
        match self {
            Topic::Marketing => Subject::Marketing,
            Topic::Utility => Subject::Utility,
        }
    }
}

impl ConsentState {
    pub fn event_state(self) -> EventState {
        match self {
            ConsentState::OptedIn => EventState::OptedIn,
            ConsentState::OptedOut => EventState::OptedOut,
        }
    }

    /// The text form of an optional state, with `"unknown"` for no record.
    pub fn label(state: Option<ConsentState>) -> &'static str {
        state.map_or("unknown", ConsentState::as_str)
    }

    /// Parses `opted_in`, `opted_out` or `unknown` (a filter on the command line).
    pub fn parse_filter(s: &str) -> Result<Option<ConsentState>, Error> {
        if s.trim().eq_ignore_ascii_case("unknown") {
            Ok(None)
        } else {
            s.parse().map(Some)
        }
    }
}

impl Subject {
    pub fn is_topic(self) -> bool {
        matches!(self, Subject::Marketing | Subject::Utility)
    }

    /// Whether `state` is a value this subject can take.
    pub fn accepts(self, state: EventState) -> bool {
        let consent = matches!(state, EventState::OptedIn | EventState::OptedOut);
        consent == self.is_topic()
    }
}

impl SourceKind {
    /// Picks the kind a free-text source names ("phone call", "In store", "web-form"), so
    /// `--source "phone call"` is filed under the phone icon. `None` when the text names none.
    pub fn guess(text: &str) -> Option<SourceKind> {
        let t = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let kind = match t.as_str() {
            "web_form" | "website" | "online_form" => SourceKind::WebForm,
            "in_store" | "instore" | "in_shop" | "at_the_till" | "counter" => SourceKind::InStore,
            "paper_form" | "paper" | "letter" => SourceKind::PaperForm,
            "phone_call" | "phone" | "call" | "telephone" => SourceKind::PhoneCall,
            other => {
                return SourceKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == other)
            }
        };
        Some(kind)
    }
}

/// A contact's row id. Never reused for another person.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub i64);

/// A ledger event's id; ids follow recording order, which the hash chain follows too.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_template_categories_are_gated_as_marketing() {
        assert_eq!(Category::of_template("MARKETING"), Category::Marketing);
        assert_eq!(Category::of_template("UTILITY"), Category::Utility);
        assert_eq!(Category::of_template("authentication"), Category::Utility);
        for unknown in ["MARKETING_LITE", "PROMOTION", "", "utlity"] {
            assert_eq!(
                Category::of_template(unknown),
                Category::Marketing,
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn text_forms_parse_back_leniently() {
        assert_eq!(
            "Opted-In".parse::<ConsentState>().unwrap(),
            ConsentState::OptedIn
        );
        assert_eq!(
            "meta signal".parse::<SourceKind>().unwrap(),
            SourceKind::MetaSignal
        );
        let err = "maybe".parse::<Topic>().unwrap_err().to_string();
        assert!(err.contains("marketing, utility"), "{err}");
        assert_eq!(ConsentState::parse_filter("UNKNOWN").unwrap(), None);
    }

    #[test]
    fn free_text_sources_find_their_kind() {
        assert_eq!(SourceKind::guess("Phone call"), Some(SourceKind::PhoneCall));
        assert_eq!(SourceKind::guess("in-store"), Some(SourceKind::InStore));
        assert_eq!(SourceKind::guess("keyword"), Some(SourceKind::Keyword));
        assert_eq!(SourceKind::guess("Summer fair 2026"), None);
    }

    #[test]
    fn subjects_take_only_their_own_states() {
        assert!(Subject::Marketing.accepts(EventState::OptedOut));
        assert!(!Subject::Marketing.accepts(EventState::Set));
        assert!(Subject::MetaBlocked.accepts(EventState::Cleared));
        assert!(!Subject::Unreachable.accepts(EventState::OptedIn));
    }
}
