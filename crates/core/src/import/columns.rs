//! What each header means, the way a person reads it: the phone columns the common exports write
//! (Google Contacts, Outlook, Shopify, WooCommerce, Square, Mailchimp, HubSpot, Zoho, Brevo, WATI,
//! spreadsheets) in English, Spanish, Portuguese, French, German and Italian, with how good a
//! WhatsApp number each is likely to be; the name in one column or in first and last; the
//! company; a per-row country; tags; OptDesk's own consent columns; and the consent-like columns
//! of other systems, which are never read as a WhatsApp opt-in.

/// How likely a phone column is to hold the customer's WhatsApp number: per row the best
/// non-empty one is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PhoneKind {
    WhatsApp,
    Mobile,
    Generic,
    /// A postal address's phone (billing, shipping): after the customer's own.
    Address,
    /// Home, business, work: often a landline.
    Other,
}

impl PhoneKind {
    /// What a Google-style "Phone 1 - Label" cell says about its number (None: a fax or pager,
    /// never a WhatsApp number).
    pub fn from_label(label: &str) -> Option<PhoneKind> {
        let l = fold(label);
        if l.contains("fax") || l.contains("pager") {
            None
        } else if l.contains("whatsapp") {
            Some(PhoneKind::WhatsApp)
        } else if [
            "mobile",
            "cell",
            "movil",
            "celular",
            "portable",
            "handy",
            "cellulare",
            "mobil",
        ]
        .iter()
        .any(|m| l.contains(m))
        {
            Some(PhoneKind::Mobile)
        } else if [
            "home", "work", "business", "main", "office", "casa", "trabajo", "domicile", "travail",
            "buro", "ufficio",
        ]
        .iter()
        .any(|m| l.contains(m))
        {
            Some(PhoneKind::Other)
        } else {
            Some(PhoneKind::Generic)
        }
    }
}

/// The consent-like columns of other systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Signal {
    /// A true value means the person asked not to be messaged (`SMS_BLACKLISTED`, `Do Not
    /// Contact`, `Unsubscribed`…): a marketing opt-out.
    OptOutWhenTrue,
    /// A false value means they asked not to be (WATI's `AllowBroadcast`): a marketing opt-out;
    /// true is not an opt-in.
    OptOutWhenFalse,
    /// "unsubscribed" in a subscription-status column: an opt-out; "subscribed" is not an opt-in.
    SubscriptionStatus,
    /// Consent for another channel (`Accepts SMS Marketing`, `Accepts Email Marketing`): never a
    /// WhatsApp opt-in unless the owner maps it, and a "no" is not an opt-out.
    OtherChannel,
}

/// A column OptDesk's own format names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TopicCol {
    Marketing,
    Utility,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    State,
    Source,
    At,
    Text,
}

/// The columns OptDesk reads; everything else is reported as ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    /// A phone number; `group` ties Google's "Phone 1 - Value" to its "Phone 1 - Label".
    Phone {
        kind: PhoneKind,
        group: Option<u8>,
    },
    PhoneLabel(u8),
    Name,
    FirstName,
    LastName,
    Company,
    Country,
    Tags,
    Consent(TopicCol, Field),
    Signal(Signal),
}

impl Column {
    /// Columns a file may have several of.
    pub fn repeats(self) -> bool {
        matches!(
            self,
            Column::Phone { .. } | Column::PhoneLabel(_) | Column::Signal(_)
        )
    }
}

/// Lower case, accents and punctuation folded: "Teléfono Móvil" → "telefono_movil",
/// "Phone 1 - Value" → "phone_1_value", "Country / Region" → "country_region".
pub(crate) fn fold(header: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(header.len());
    for c in header.trim().nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out.replace('ß', "ss")
}

use super::words::*;

/// What the header means, if OptDesk reads it.
pub(crate) fn column_for(header: &str) -> Option<Column> {
    let h = fold(header);
    let is = |list: &[&str]| list.contains(&h.as_str());
    // Google: "Phone 1 - Value" and "Phone 1 - Label" (or "- Type").
    if let Some(rest) = h.strip_prefix("phone_") {
        if let Some((n, what)) = rest.split_once('_') {
            if let Ok(n) = n.parse::<u8>() {
                match what {
                    "value" => {
                        return Some(Column::Phone {
                            kind: PhoneKind::Generic,
                            group: Some(n),
                        })
                    }
                    "label" | "type" => return Some(Column::PhoneLabel(n)),
                    _ => {}
                }
            }
        }
    }
    let phone = |kind| Some(Column::Phone { kind, group: None });
    if is(WHATSAPP) {
        return phone(PhoneKind::WhatsApp);
    }
    if is(MOBILE) {
        return phone(PhoneKind::Mobile);
    }
    if is(GENERIC) {
        return phone(PhoneKind::Generic);
    }
    if is(ADDRESS) {
        return phone(PhoneKind::Address);
    }
    if is(OTHER) {
        return phone(PhoneKind::Other);
    }
    let simple = [
        (NAME, Column::Name),
        (FIRST, Column::FirstName),
        (LAST, Column::LastName),
        (COMPANY, Column::Company),
        (COUNTRY, Column::Country),
        (TAGS, Column::Tags),
        (OPT_OUT_WHEN_TRUE, Column::Signal(Signal::OptOutWhenTrue)),
        (OPT_OUT_WHEN_FALSE, Column::Signal(Signal::OptOutWhenFalse)),
        (SUBSCRIPTION, Column::Signal(Signal::SubscriptionStatus)),
        (OTHER_CHANNEL, Column::Signal(Signal::OtherChannel)),
    ];
    if let Some((_, c)) = simple.iter().find(|(list, _)| is(list)) {
        return Some(*c);
    }
    // OptDesk's own: marketing, utility, marketing_source, consent_at, …
    let (topic, field) = h.split_once('_').unwrap_or((h.as_str(), ""));
    let topic = match topic {
        "marketing" => TopicCol::Marketing,
        "utility" => TopicCol::Utility,
        "consent" => TopicCol::Both,
        _ => return None,
    };
    let field = match (topic, field) {
        (TopicCol::Marketing | TopicCol::Utility, "") => Field::State,
        (_, "source") => Field::Source,
        (_, "at" | "date" | "time") => Field::At,
        (_, "text" | "wording" | "proof") => Field::Text,
        _ => return None,
    };
    Some(Column::Consent(topic, field))
}

/// One `FIELD=HEADER` of the owner's mapping (`--map`), as `(header, OptDesk's name)`; the
/// field `ignore` leaves the column out.
pub fn column_mapping(spec: &str) -> crate::error::Result<(String, String)> {
    use crate::error::Error;
    let (field, header) = spec.split_once('=').ok_or_else(|| {
        Error::invalid(format!(
            "{spec:?} is not FIELD=HEADER (for example phone=\"Mobile Phone\")"
        ))
    })?;
    let (field, header) = (
        field.trim().to_ascii_lowercase(),
        header.trim().trim_matches('"'),
    );
    if header.is_empty() {
        return Err(Error::invalid(format!(
            "{spec:?} names no column after the ="
        )));
    }
    if field == "ignore" {
        return Ok((header.to_string(), String::new()));
    }
    if column_for(&field).is_none() {
        return Err(Error::invalid(format!(
            "{field:?} is not a field OptDesk reads; use phone, whatsapp, mobile, name, first_name, last_name, company, country, tags, marketing, utility, consent_source, consent_at, consent_text, or ignore"
        )));
    }
    Ok((header.to_string(), field))
}

/// OptDesk's name for a column (the mapping screen and `--map` use these).
pub(crate) fn name_of(c: Column) -> &'static str {
    match c {
        Column::Phone {
            kind: PhoneKind::WhatsApp,
            ..
        } => "whatsapp",
        Column::Phone {
            kind: PhoneKind::Mobile,
            ..
        } => "mobile",
        Column::Phone {
            kind: PhoneKind::Other,
            ..
        } => "other_phone",
        Column::Phone {
            kind: PhoneKind::Address,
            ..
        } => "address_phone",
        Column::Phone { .. } => "phone",
        Column::PhoneLabel(_) => "phone_label",
        Column::Name => "name",
        Column::FirstName => "first_name",
        Column::LastName => "last_name",
        Column::Company => "company",
        Column::Country => "country",
        Column::Tags => "tags",
        Column::Consent(TopicCol::Marketing, Field::State) => "marketing",
        Column::Consent(TopicCol::Utility, Field::State) => "utility",
        Column::Consent(TopicCol::Marketing, Field::Source) => "marketing_source",
        Column::Consent(TopicCol::Utility, Field::Source) => "utility_source",
        Column::Consent(TopicCol::Both, Field::Source) => "consent_source",
        Column::Consent(TopicCol::Marketing, Field::At) => "marketing_at",
        Column::Consent(TopicCol::Utility, Field::At) => "utility_at",
        Column::Consent(TopicCol::Both, Field::At) => "consent_at",
        Column::Consent(TopicCol::Marketing, Field::Text) => "marketing_text",
        Column::Consent(TopicCol::Utility, Field::Text) => "utility_text",
        Column::Consent(TopicCol::Both, Field::Text) => "consent_text",
        Column::Consent(TopicCol::Both, Field::State) => "consent",
        Column::Signal(Signal::OptOutWhenTrue) => "opt_out",
        Column::Signal(Signal::OptOutWhenFalse) => "allow_broadcast",
        Column::Signal(Signal::SubscriptionStatus) => "subscription_status",
        Column::Signal(Signal::OtherChannel) => "other_channel_consent",
    }
}

/// A cell of an opt-out signal column: true, false, or neither (empty or unreadable).
pub(crate) fn truthy(cell: &str) -> Option<bool> {
    match fold(cell).as_str() {
        "true" | "yes" | "y" | "1" | "x" | "si" | "sim" | "oui" | "ja" | "unsubscribed"
        | "opted_out" | "blacklisted" => Some(true),
        "false" | "no" | "n" | "0" | "nao" | "non" | "nein" | "subscribed" | "opted_in" => {
            Some(false)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_as_a_person_would() {
        let phone = |h: &str| match column_for(h) {
            Some(Column::Phone { kind, .. }) => Some(kind),
            _ => None,
        };
        assert_eq!(fold("Teléfono Móvil"), "telefono_movil");
        assert_eq!(fold("Phone 1 - Value"), "phone_1_value");
        assert_eq!(fold(" Country / Region "), "country_region");
        for h in ["WhatsApp Phone Number", "WHATSAPP"] {
            assert_eq!(phone(h), Some(PhoneKind::WhatsApp), "{h}");
        }
        for h in [
            "Mobile Phone",
            "Mobile Phone Number",
            "SMS",
            "Cell",
            "Móvil",
            "Celular",
            "Portable",
            "Handy",
            "Cellulare",
        ] {
            assert_eq!(phone(h), Some(PhoneKind::Mobile), "{h}");
        }
        for h in ["Phone", "Phone Number", "Telefone", "Teléfono"] {
            assert_eq!(phone(h), Some(PhoneKind::Generic), "{h}");
        }
        for h in ["Billing Phone", "Shipping Phone", "Default Address Phone"] {
            assert_eq!(phone(h), Some(PhoneKind::Address), "{h}");
        }
        for h in ["Home Phone", "Business Phone"] {
            assert_eq!(phone(h), Some(PhoneKind::Other), "{h}");
        }
        assert_eq!(
            column_for("Phone 2 - Value"),
            Some(Column::Phone {
                kind: PhoneKind::Generic,
                group: Some(2)
            })
        );
        assert_eq!(column_for("Phone 2 - Type"), Some(Column::PhoneLabel(2)));
        assert_eq!(column_for("Phone 1 - Label"), Some(Column::PhoneLabel(1)));
        assert_eq!(column_for("Given Name"), Some(Column::FirstName));
        assert_eq!(column_for("Prénom"), Some(Column::FirstName));
        assert_eq!(column_for("Apellidos"), Some(Column::LastName));
        assert_eq!(column_for("Family Name"), Some(Column::LastName));
        assert_eq!(column_for("Organization Name"), Some(Column::Company));
        assert_eq!(column_for("Country / Region"), Some(Column::Country));
        assert_eq!(column_for("CountryCode"), Some(Column::Country));
        assert_eq!(column_for("Group Membership"), Some(Column::Tags));
        assert_eq!(
            column_for("SMS_BLACKLISTED"),
            Some(Column::Signal(Signal::OptOutWhenTrue))
        );
        assert_eq!(
            column_for("AllowBroadcast"),
            Some(Column::Signal(Signal::OptOutWhenFalse))
        );
        assert_eq!(
            column_for("Accepts SMS Marketing"),
            Some(Column::Signal(Signal::OtherChannel))
        );
        assert_eq!(
            column_for("Email Subscription Status"),
            Some(Column::Signal(Signal::SubscriptionStatus))
        );
        assert_eq!(
            column_for("Marketing Source"),
            Some(Column::Consent(TopicCol::Marketing, Field::Source))
        );
        assert_eq!(column_for("Email"), None);
    }

    #[test]
    fn every_name_optdesk_gives_a_column_reads_back_as_that_column() {
        for h in [
            "WhatsApp",
            "Mobile Phone",
            "Phone",
            "Billing Phone",
            "Home Phone",
            "Name",
            "First Name",
            "Last Name",
            "Company",
            "Country",
            "Tags",
            "marketing",
            "utility",
            "marketing_source",
            "consent_at",
            "consent_text",
            "SMS_BLACKLISTED",
            "AllowBroadcast",
            "Email Subscription Status",
            "Accepts SMS Marketing",
        ] {
            let c = column_for(h).unwrap();
            assert_eq!(column_for(name_of(c)).map(name_of), Some(name_of(c)), "{h}");
        }
    }

    #[test]
    fn labels_rank_the_numbers_of_a_google_export() {
        assert_eq!(PhoneKind::from_label("Mobile"), Some(PhoneKind::Mobile));
        assert_eq!(PhoneKind::from_label("* Mobile"), Some(PhoneKind::Mobile));
        assert_eq!(PhoneKind::from_label("Home"), Some(PhoneKind::Other));
        assert_eq!(PhoneKind::from_label("Work Fax"), None);
        assert_eq!(PhoneKind::from_label("WhatsApp"), Some(PhoneKind::WhatsApp));
        assert_eq!(PhoneKind::from_label(""), Some(PhoneKind::Generic));
        assert!(PhoneKind::WhatsApp < PhoneKind::Mobile && PhoneKind::Mobile < PhoneKind::Generic);
        assert!(PhoneKind::Generic < PhoneKind::Address && PhoneKind::Address < PhoneKind::Other);
    }
}
