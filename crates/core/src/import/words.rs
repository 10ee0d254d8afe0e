//! The header words each column is known by, folded (see `columns::fold`): the exports of the
//! common systems in English, Spanish, Portuguese, French, German and Italian.

#[rustfmt::skip]
pub(super) const WHATSAPP: &[&str] = &[
    "whatsapp", "whatsapp_number", "whatsapp_phone", "whatsapp_phone_number", "wa_id", "wa_number",
    "whatsapp_no",
];

#[rustfmt::skip]
pub(super) const MOBILE: &[&str] = &[
    "mobile", "mobile_phone", "mobile_phone_number", "mobile_number", "mobile_no", "cell",
    "cell_phone", "cellphone", "cell_number", "sms", "sms_number", "movil", "telefono_movil",
    "numero_movil", "celular", "telefone_celular", "numero_de_celular", "telemovel", "portable",
    "telephone_portable", "tel_portable", "numero_de_portable", "mobile_phone_1", "handy",
    "handynummer", "mobiltelefon", "mobilnummer", "mobil", "cellulare", "numero_di_cellulare",
    "telefono_cellulare",
];

#[rustfmt::skip]
pub(super) const GENERIC: &[&str] = &[
    "phone", "phone_number", "phone_no", "number", "tel", "telephone", "telephone_number",
    "contact_number", "primary_phone", "telefono", "numero_de_telefono", "telefone",
    "numero_de_telefone", "telefon", "telefonnummer", "numero", "numero_di_telefono", "tel_1",
    "phone_1",
];

#[rustfmt::skip]
pub(super) const ADDRESS: &[&str] = &[
    "billing_phone", "shipping_phone", "default_address_phone", "address_phone", "address_1_phone",
];

#[rustfmt::skip]
pub(super) const OTHER: &[&str] = &[
    "home_phone", "home_phone_2", "business_phone", "business_phone_2", "work_phone",
    "office_phone", "company_main_phone", "other_phone", "primary_phone_home", "telefono_casa",
    "telefono_trabajo", "telephone_domicile", "telephone_travail", "telefon_privat",
    "telefon_geschaftlich", "telefono_ufficio",
];

#[rustfmt::skip]
pub(super) const NAME: &[&str] = &[
    "name", "full_name", "fullname", "contact_name", "customer", "customer_name", "display_name",
    "nombre_completo", "nom_complet", "nome_completo", "vollstandiger_name", "nominativo",
    "cliente",
];

#[rustfmt::skip]
pub(super) const FIRST: &[&str] = &[
    "first_name", "firstname", "first", "given_name", "billing_first_name", "shipping_first_name",
    "prenom", "nombre", "primer_nombre", "vorname", "nome", "primeiro_nome",
];

#[rustfmt::skip]
pub(super) const LAST: &[&str] = &[
    "last_name", "lastname", "last", "surname", "family_name", "billing_last_name",
    "shipping_last_name", "nom", "nom_de_famille", "apellidos", "apellido", "nachname",
    "familienname", "cognome", "sobrenome", "ultimo_nome",
];

#[rustfmt::skip]
pub(super) const COMPANY: &[&str] = &[
    "company", "company_name", "organization", "organisation", "organization_name",
    "organization_1_name", "default_address_company", "billing_company", "empresa", "entreprise",
    "societe", "firma", "unternehmen", "azienda", "business_name",
];

#[rustfmt::skip]
pub(super) const COUNTRY: &[&str] = &[
    "country", "country_region", "country_code", "countrycode", "country_iso", "billing_country",
    "default_address_country_code", "default_address_country", "mailing_country",
    "address_country", "address_1_country", "shipping_country", "other_country", "pais", "pays",
    "land", "paese", "codigo_pais", "cc",
];

#[rustfmt::skip]
pub(super) const TAGS: &[&str] = &[
    "tags", "tag", "labels", "groups", "group_membership", "categories", "etiquetas", "etiquettes",
    "kategorien", "etichette",
];

#[rustfmt::skip]
pub(super) const OPT_OUT_WHEN_TRUE: &[&str] = &[
    "sms_blacklisted", "whatsapp_blacklisted", "blacklisted", "email_blacklisted",
    "do_not_contact", "donotcontact", "do_not_message", "do_not_text", "unsubscribed", "opted_out",
    "opt_out", "optout", "sms_opt_out", "whatsapp_opt_out", "email_opt_out", "marketing_opt_out",
];

#[rustfmt::skip]
pub(super) const OPT_OUT_WHEN_FALSE: &[&str] = &[
    "allowbroadcast", "allow_broadcast", "allowsms", "allow_sms",
];

#[rustfmt::skip]
pub(super) const SUBSCRIPTION: &[&str] = &[
    "email_subscription_status", "sms_subscription_status", "subscription_status",
    "status_subscription", "member_status",
];

#[rustfmt::skip]
pub(super) const OTHER_CHANNEL: &[&str] = &[
    "accepts_sms_marketing", "accepts_email_marketing", "accepts_marketing",
    "email_marketing_consent", "sms_marketing_consent", "email_opt_in", "sms_opt_in", "newsletter",
    "other_channel_consent",
];
