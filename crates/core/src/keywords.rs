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
