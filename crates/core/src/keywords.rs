//! Opt-out words and how text is normalised before matching: case-folded, accents stripped,
//! punctuation and emoji turned into spaces, whole words only (`../shared/keyword-cases.tsv`).
//!
//! The template footer rule uses it today (does a footer or button give a way out?); the inbound
//! keyword classifier builds on the same lists.

use unicode_normalization::UnicodeNormalization;

/// Words and phrases that are an opt-out on their own, in the languages shops here write in.
pub const STRONG_OPT_OUT: &[&str] = &[
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "optout",
    "opt out",
    "revoke",
    "baja",
    "darme de baja",
    "parar",
    "detener",
    "pare",
    "sair",
    "descadastrar",
    "arret",
    "arreter",
    "desabonner",
    "stopp",
    "abmelden",
    "basta",
    "disiscrivi",
];

/// Words that opt out only as the whole message ("cancel"), because they open everyday
/// sentences too ("cancel my order").
pub const WEAK_OPT_OUT: &[&str] = &["end", "quit", "cancel", "cancelar"];

/// Meta's own "Stop promotions" button, as labelled in the languages seen (WHATSAPP.md §7.1).
pub const META_STOP_BUTTON_LABELS: &[&str] = &[
    "stop promotions",
    "interrompi promozioni",
    "parar promocoes",
    "остановить рекламу",
];

/// Lower-case words with accents removed; anything that is not a letter or digit separates
/// words ("STOP!!! 😡" → ["stop"], "Désabonner" → ["desabonner"]).
pub fn normalize(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded.split_whitespace().map(str::to_string).collect()
}

/// Whether `words` contains `phrase` (one or more words) as consecutive whole words.
pub fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let p: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(p.len())
        .any(|w| w.iter().zip(&p).all(|(a, b)| a == b))
}

/// The first strong opt-out word or phrase in `text`, if any.
pub fn strong_opt_out_in(text: &str) -> Option<&'static str> {
    let words = normalize(text);
    STRONG_OPT_OUT
        .iter()
        .copied()
        .find(|k| contains_phrase(&words, k))
}

/// Whether a button label is Meta's "Stop promotions" in any language we know.
pub fn is_meta_stop_button(label: &str) -> bool {
    let words = normalize(label).join(" ");
    META_STOP_BUTTON_LABELS
        .iter()
        .any(|l| normalize(l).join(" ") == words)
}

/// Whole-message opt-in words: they restore what a keyword opt-out removed.
pub const OPT_IN: &[&str] = &["start", "unstop", "yes"];
/// Whole-message requests for help.
pub const HELP: &[&str] = &["help", "info"];
/// Phrases that may be an opt-out and go to the owner's review.
pub const REVIEW_PHRASES: &[&str] = &["no more", "no mas", "leave me alone", "not interested"];

/// How a message is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    OptOut,
    OptIn,
    Help,
    Review,
    None,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::OptOut => "opt-out",
            Class::OptIn => "opt-in",
            Class::Help => "help",
            Class::Review => "review",
            Class::None => "none",
        }
    }
}

/// The classification of a message and the word or phrase that decided it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub class: Class,
    pub matched: Option<String>,
    pub rule: &'static str,
}

/// A shop's keyword lists (the defaults above unless the owner changed them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub strong: Vec<String>,
    pub weak: Vec<String>,
    pub opt_in: Vec<String>,
    pub help: Vec<String>,
    pub review: Vec<String>,
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| normalize(w).join(" ")).collect()
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            strong: owned(STRONG_OPT_OUT),
            weak: owned(WEAK_OPT_OUT),
            opt_in: owned(OPT_IN),
            help: owned(HELP),
            review: owned(REVIEW_PHRASES),
        }
    }
}

impl Rules {
    /// Parses a comma-separated keyword list from a setting.
    pub fn list(text: &str) -> Vec<String> {
        text.split(',')
            .map(|w| normalize(w).join(" "))
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// Classifies an inbound text, in the order of `keyword-cases.tsv`:
    /// 1. the whole message is an opt-out word or phrase (strong or weak) → opt-out;
    /// 2. up to 8 words starting with a strong word, or up to 3 words containing one → opt-out;
    /// 3. the whole message is an opt-in word → opt-in, or a help word → help;
    /// 4. anything else containing an opt-out word, or a review phrase → review;
    /// 5. otherwise none.
    pub fn classify(&self, text: &str) -> Verdict {
        let words = normalize(text);
        let whole = words.join(" ");
        let verdict = |class, matched: &str, rule| Verdict {
            class,
            matched: Some(matched.to_string()),
            rule,
        };
        if whole.is_empty() {
            return Verdict {
                class: Class::None,
                matched: None,
                rule: "empty",
            };
        }
        if let Some(k) = self.strong.iter().chain(&self.weak).find(|k| **k == whole) {
            return verdict(Class::OptOut, k, "the whole message is an opt-out word");
        }
        // Repeats of one word ("stop stop stop") are the word.
        if words.iter().all(|w| *w == words[0]) {
            if let Some(k) = self
                .strong
                .iter()
                .chain(&self.weak)
                .find(|k| **k == words[0])
            {
                return verdict(Class::OptOut, k, "the whole message is an opt-out word");
            }
        }
        if words.len() <= 8 {
            if let Some(k) = self.strong.iter().find(|k| {
                let n = k.split(' ').count();
                words.len() >= n && words[..n].join(" ") == **k
            }) {
                return verdict(
                    Class::OptOut,
                    k,
                    "a short message that begins with an opt-out word",
                );
            }
        }
        if words.len() <= 3 {
            if let Some(k) = self.strong.iter().find(|k| contains_phrase(&words, k)) {
                return verdict(
                    Class::OptOut,
                    k,
                    "a very short message with an opt-out word",
                );
            }
        }
        if let Some(k) = self.opt_in.iter().find(|k| **k == whole) {
            return verdict(Class::OptIn, k, "the whole message is an opt-in word");
        }
        if let Some(k) = self.help.iter().find(|k| **k == whole) {
            return verdict(Class::Help, k, "the whole message is a help word");
        }
        if let Some(k) = self
            .strong
            .iter()
            .chain(&self.weak)
            .chain(&self.review)
            .find(|k| contains_phrase(&words, k))
        {
            return verdict(Class::Review, k, "an opt-out word inside a longer message");
        }
        Verdict {
            class: Class::None,
            matched: None,
            rule: "no keyword",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_accents_punctuation_and_emoji() {
        assert_eq!(normalize(" STOP!!! 😡 "), ["stop"]);
        assert_eq!(normalize("Désabonner"), ["desabonner"]);
        assert_eq!(normalize("Darme de BAJA."), ["darme", "de", "baja"]);
        assert_eq!(normalize("opt-out"), ["opt", "out"]);
    }

    #[test]
    fn footers_and_labels() {
        assert_eq!(strong_opt_out_in("Reply STOP to unsubscribe"), Some("stop"));
        assert_eq!(
            strong_opt_out_in("Responde BAJA para no recibir más"),
            Some("baja")
        );
        assert_eq!(
            strong_opt_out_in("Não quer mais? Responda SAIR"),
            Some("sair")
        );
        assert_eq!(strong_opt_out_in("Thanks for shopping with us"), None);
        assert_eq!(
            strong_opt_out_in("stopped by yesterday"),
            None,
            "whole words only"
        );
        assert!(is_meta_stop_button("Stop promotions"));
        assert!(is_meta_stop_button("Parar promoções"));
        assert!(is_meta_stop_button("Остановить рекламу"));
        assert!(!is_meta_stop_button("Shop now"));
    }
}
