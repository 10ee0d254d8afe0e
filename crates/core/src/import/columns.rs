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

const WHATSAPP: &[&str] = &[
    "whatsapp",
    "whatsapp_number",
    "whatsapp_phone",
    "whatsapp_phone_number",
    "wa_id",
    "wa_number",
    "whatsapp_no",
];
const MOBILE: &[&str] = &[
    "mobile",
    "mobile_phone",
    "mobile_phone_number",
    "mobile_number",
    "mobile_no",
    "cell",
    "cell_phone",
    "cellphone",
    "cell_number",
    "sms",
    "sms_number",
    "movil",
    "telefono_movil",
    "numero_movil",
    "celular",
    "telefone_celular",
    "numero_de_celular",
    "telemovel",
    "portable",
    "telephone_portable",
    "tel_portable",
    "numero_de_portable",
    "mobile_phone_1",
    "handy",
    "handynummer",
    "mobiltelefon",
    "mobilnummer",
    "mobil",
    "cellulare",
    "numero_di_cellulare",
    "telefono_cellulare",
];
const GENERIC: &[&str] = &[
    "phone",
    "phone_number",
    "phone_no",
    "number",
    "tel",
    "telephone",
    "telephone_number",
    "contact_number",
    "primary_phone",
    "telefono",
    "numero_de_telefono",
    "telefone",
    "numero_de_telefone",
    "telefon",
    "telefonnummer",
    "numero",
    "numero_di_telefono",
    "tel_1",
    "phone_1",
];
const ADDRESS: &[&str] = &[
    "billing_phone",
    "shipping_phone",
    "default_address_phone",
    "address_phone",
    "address_1_phone",
];
const OTHER: &[&str] = &[
    "home_phone",
    "home_phone_2",
    "business_phone",
    "business_phone_2",
    "work_phone",
    "office_phone",
    "company_main_phone",
    "other_phone",
    "primary_phone_home",
    "telefono_casa",
    "telefono_trabajo",
    "telephone_domicile",
    "telephone_travail",
    "telefon_privat",
    "telefon_geschaftlich",
    "telefono_ufficio",
];
const NAME: &[&str] = &[
    "name",
    "full_name",
    "fullname",
    "contact_name",
    "customer",
    "customer_name",
    "display_name",
    "nombre_completo",
    "nom_complet",
    "nome_completo",
    "vollstandiger_name",
    "nominativo",
    "cliente",
];
const FIRST: &[&str] = &[
    "first_name",
    "firstname",
    "first",
    "given_name",
    "billing_first_name",
    "shipping_first_name",
    "prenom",
    "nombre",
    "primer_nombre",
    "vorname",
    "nome",
    "primeiro_nome",
];
const LAST: &[&str] = &[
    "last_name",
    "lastname",
    "last",
    "surname",
    "family_name",
    "billing_last_name",
    "shipping_last_name",
    "nom",
    "nom_de_famille",
    "apellidos",
    "apellido",
    "nachname",
    "familienname",
    "cognome",
    "sobrenome",
    "ultimo_nome",
];
const COMPANY: &[&str] = &[
    "company",
    "company_name",
    "organization",
    "organisation",
    "organization_name",
    "organization_1_name",
    "default_address_company",
    "billing_company",
    "empresa",
    "entreprise",
    "societe",
    "firma",
    "unternehmen",
    "azienda",
    "business_name",
];
const COUNTRY: &[&str] = &[
    "country",
    "country_region",
    "country_code",
    "countrycode",
    "country_iso",
    "billing_country",
    "default_address_country_code",
    "default_address_country",
    "mailing_country",
    "address_country",
    "address_1_country",
    "shipping_country",
    "other_country",
    "pais",
    "pays",
    "land",
    "paese",
    "codigo_pais",
    "cc",
];
const TAGS: &[&str] = &[
    "tags",
    "tag",
    "labels",
    "groups",
    "group_membership",
    "categories",
    "etiquetas",
    "etiquettes",
    "kategorien",
    "etichette",
];

const OPT_OUT_WHEN_TRUE: &[&str] = &[
    "sms_blacklisted",
    "whatsapp_blacklisted",
    "blacklisted",
    "email_blacklisted",
    "do_not_contact",
    "donotcontact",
    "do_not_message",
    "do_not_text",
    "unsubscribed",
    "opted_out",
    "opt_out",
    "optout",
    "sms_opt_out",
    "whatsapp_opt_out",
    "email_opt_out",
    "marketing_opt_out",
];
const OPT_OUT_WHEN_FALSE: &[&str] = &["allowbroadcast", "allow_broadcast", "allowsms", "allow_sms"];
// (`opt_out` is in OPT_OUT_WHEN_TRUE, `subscription_status` in SUBSCRIPTION: every name
// `name_of` gives reads back as its column.)
const SUBSCRIPTION: &[&str] = &[
    "email_subscription_status",
    "sms_subscription_status",
    "subscription_status",
    "status_subscription",
    "member_status",
];
const OTHER_CHANNEL: &[&str] = &[
    "accepts_sms_marketing",
    "accepts_email_marketing",
    "accepts_marketing",
    "email_marketing_consent",
    "sms_marketing_consent",
    "email_opt_in",
    "sms_opt_in",
    "newsletter",
    "other_channel_consent",
];

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

/// A per-row country cell: an ISO code (`ES`, `esp` is not one), an English or native name, or
/// a calling code (WATI's `CountryCode` holds `91` or `+91`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CountryCell {
    Region(crate::phone::Region),
    CallingCode(String),
}

pub(crate) fn country(cell: &str) -> Option<CountryCell> {
    let c = cell.trim();
    if c.is_empty() {
        return None;
    }
    let digits = c.trim_start_matches('+');
    if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(CountryCell::CallingCode(digits.to_string()));
    }
    if c.len() == 2 {
        if let Ok(r) = crate::phone::Region::parse(c) {
            return Some(CountryCell::Region(r));
        }
    }
    let f = fold(c);
    COUNTRY_NAMES
        .iter()
        .find(|(_, names)| names.contains(&f.as_str()))
        .and_then(|(code, _)| crate::phone::Region::parse(code).ok())
        .map(CountryCell::Region)
}

/// Country names as exports write them, folded (English first, then the local names).
const COUNTRY_NAMES: &[(&str, &[&str])] = &[
    (
        "GB",
        &[
            "united_kingdom",
            "uk",
            "great_britain",
            "england",
            "scotland",
            "wales",
            "northern_ireland",
            "reino_unido",
            "royaume_uni",
            "vereinigtes_konigreich",
            "regno_unito",
        ],
    ),
    ("IE", &["ireland", "irlanda", "irlande", "irland"]),
    (
        "US",
        &[
            "united_states",
            "united_states_of_america",
            "usa",
            "estados_unidos",
            "etats_unis",
            "vereinigte_staaten",
            "stati_uniti",
        ],
    ),
    ("CA", &["canada", "kanada"]),
    ("MX", &["mexico", "mexiko", "messico"]),
    (
        "BR",
        &["brazil", "brasil", "bresil", "brasilien", "brasile"],
    ),
    ("AR", &["argentina", "argentine", "argentinien"]),
    ("CL", &["chile", "chili"]),
    ("CO", &["colombia", "colombie", "kolumbien"]),
    ("PE", &["peru", "perou"]),
    ("ES", &["spain", "espana", "espagne", "spanien", "spagna"]),
    ("PT", &["portugal", "portogallo"]),
    ("FR", &["france", "francia", "frankreich"]),
    (
        "BE",
        &[
            "belgium", "belgique", "belgie", "belgien", "belgica", "belgio",
        ],
    ),
    (
        "NL",
        &[
            "netherlands",
            "the_netherlands",
            "holland",
            "nederland",
            "pays_bas",
            "niederlande",
            "paises_bajos",
            "paesi_bassi",
        ],
    ),
    (
        "DE",
        &[
            "germany",
            "deutschland",
            "allemagne",
            "alemania",
            "germania",
            "alemanha",
        ],
    ),
    ("AT", &["austria", "osterreich", "autriche"]),
    (
        "CH",
        &[
            "switzerland",
            "schweiz",
            "suisse",
            "svizzera",
            "suiza",
            "suica",
        ],
    ),
    ("IT", &["italy", "italia", "italie", "italien"]),
    ("PL", &["poland", "polska", "pologne", "polen", "polonia"]),
    ("SE", &["sweden", "sverige", "suede", "schweden", "suecia"]),
    ("NO", &["norway", "norge", "norvege", "norwegen", "noruega"]),
    (
        "DK",
        &[
            "denmark",
            "danmark",
            "danemark",
            "danemark_",
            "dinamarca",
            "danimarca",
        ],
    ),
    (
        "FI",
        &["finland", "suomi", "finlande", "finnland", "finlandia"],
    ),
    (
        "GR",
        &["greece", "hellas", "grece", "griechenland", "grecia"],
    ),
    (
        "TR",
        &[
            "turkey", "turkiye", "turquie", "turkei", "turquia", "turchia",
        ],
    ),
    ("IN", &["india", "bharat", "inde", "indien"]),
    ("PK", &["pakistan"]),
    ("BD", &["bangladesh"]),
    ("ID", &["indonesia", "indonesie", "indonesien"]),
    ("MY", &["malaysia", "malaisie"]),
    ("SG", &["singapore", "singapur", "singapour"]),
    ("PH", &["philippines", "filipinas", "philippinen"]),
    ("TH", &["thailand", "thailande", "tailandia"]),
    ("VN", &["vietnam", "viet_nam"]),
    (
        "AE",
        &[
            "united_arab_emirates",
            "uae",
            "emirats_arabes_unis",
            "emiratos_arabes_unidos",
        ],
    ),
    (
        "SA",
        &[
            "saudi_arabia",
            "ksa",
            "arabie_saoudite",
            "arabia_saudita",
            "arabia_saudi",
        ],
    ),
    (
        "EG",
        &["egypt", "misr", "egypte", "agypten", "egipto", "egitto"],
    ),
    (
        "MA",
        &["morocco", "maroc", "marruecos", "marokko", "marocco"],
    ),
    ("NG", &["nigeria"]),
    ("KE", &["kenya"]),
    (
        "ZA",
        &["south_africa", "afrique_du_sud", "sudafrica", "sudafrika"],
    ),
    ("AU", &["australia", "australie", "australien"]),
    (
        "NZ",
        &[
            "new_zealand",
            "nouvelle_zelande",
            "neuseeland",
            "nueva_zelanda",
        ],
    ),
    ("IL", &["israel"]),
    (
        "RU",
        &[
            "russia",
            "russian_federation",
            "russie",
            "russland",
            "rusia",
        ],
    ),
    ("UA", &["ukraine", "ucrania", "ucraina"]),
    ("RO", &["romania", "roumanie", "rumanien", "rumania"]),
    ("CN", &["china", "chine", "cina"]),
    ("JP", &["japan", "japon", "giappone"]),
    (
        "KR",
        &[
            "south_korea",
            "korea",
            "republic_of_korea",
            "coree_du_sud",
            "corea_del_sur",
            "sudkorea",
        ],
    ),
];

#[cfg(test)]
mod country_tests {
    use super::*;

    #[test]
    fn country_cells() {
        let region = |c: &str| crate::phone::Region::parse(c).unwrap();
        assert_eq!(country("ES"), Some(CountryCell::Region(region("ES"))));
        assert_eq!(country("es"), Some(CountryCell::Region(region("ES"))));
        assert_eq!(country("España"), Some(CountryCell::Region(region("ES"))));
        assert_eq!(
            country("United Kingdom"),
            Some(CountryCell::Region(region("GB")))
        );
        assert_eq!(
            country("Deutschland"),
            Some(CountryCell::Region(region("DE")))
        );
        assert_eq!(country("+91"), Some(CountryCell::CallingCode("91".into())));
        assert_eq!(country("55"), Some(CountryCell::CallingCode("55".into())));
        assert_eq!(country("Atlantis"), None);
        assert_eq!(country(""), None);
    }
}
