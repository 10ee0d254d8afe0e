//! The exports shops really have, in each system's documented CSV layout (headers as the system
//! writes them, typical rows), imported as the owner meant them: the number from the best phone
//! column, the name from first and last, the row's own country, tags without the system's own
//! groups, and other systems' opt-outs kept as opt-outs — never an opt-in invented.

mod common;

use optdesk_core::import::{import_bytes, Options, Report};
use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::phone::Region;
use optdesk_core::{contacts, ledger, ConsentState};

fn import(csv: &str, file: &str, region: &str) -> (common::Db, Report) {
    let mut d = common::db();
    let o = Options {
        region: Some(Region::parse(region).unwrap()),
        actor: "test".into(),
        file_name: file.into(),
        ..Default::default()
    };
    let r = import_bytes(&mut d.store, csv.as_bytes(), &o).unwrap();
    (d, r)
}

struct Seen {
    name: String,
    tags: Vec<String>,
    marketing: Option<ConsentState>,
}

fn contact(d: &common::Db, phone: &str) -> Seen {
    let c = contacts::get(d.store.conn(), phone)
        .unwrap()
        .unwrap_or_else(|| panic!("{phone} was not imported"));
    Seen {
        name: c.name,
        tags: c.tags,
        marketing: c.marketing,
    }
}

fn warned(r: &Report, needle: &str) -> bool {
    r.warnings.iter().any(|w| w.contains(needle))
}

#[test]
fn google_contacts_takes_the_mobile_of_each_person_and_drops_its_system_groups() {
    let csv = "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value\n\
Ana,,López,,,,,,,,,,,,,,* myContacts ::: Regulars,* Home,ana@example.com,Home,+44 20 7946 0018,Mobile,+44 7911 123456\n\
Ben,,Okafor,,,,,,,,,,,,,,* myContacts ::: VIP ::: Regulars,,,Mobile,+44 7911 123457 ::: +44 7911 123499,,\n\
,,,,,,,,,,Bakery Supplies Ltd,,,,,,* myContacts,,,Work Fax,+44 20 7946 0019,Work,07911 123458\n";
    let (d, r) = import(csv, "contacts.csv", "GB");
    assert_eq!((r.added, r.rejected), (3, 0), "{r:#?}");
    let ana = contact(&d, "+447911123456");
    assert_eq!(
        (ana.name.as_str(), ana.tags.clone()),
        ("Ana López", vec!["Regulars".to_string()])
    );
    let ben = contact(&d, "+447911123457");
    assert_eq!(ben.tags, ["Regulars", "VIP"]);
    let company = contact(&d, "+447911123458");
    assert_eq!(
        company.name, "Bakery Supplies Ltd",
        "no person's name: the company"
    );
    assert!(
        warned(&r, "several numbers; the first was taken"),
        "{:?}",
        r.warnings
    );
    assert!(
        warned(&r, "\"Phone 1 - Value\" 1, \"Phone 2 - Value\" 2"),
        "{:?}",
        r.warnings
    );
    assert!(
        !warned(&r, "consent from other systems"),
        "{:?}",
        r.warnings
    );
    assert_eq!(ana.marketing, None, "a contacts export holds no consent");
}

#[test]
fn google_contacts_older_layout_with_given_and_family_names() {
    let csv = "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,Phone 1 - Type,Phone 1 - Value\n\
Chloé Martin,Chloé,,Martin,,,,,,,,,,,,,,,,,,,,,,,,,* myContacts ::: Famille,Mobile,06 12 34 56 78\n";
    let (d, r) = import(csv, "google.csv", "FR");
    assert_eq!(r.added, 1, "{r:#?}");
    let c = contact(&d, "+33612345678");
    assert_eq!(
        (c.name.as_str(), c.tags.as_slice()),
        ("Chloé Martin", ["Famille".to_string()].as_slice())
    );
}

/// A CSV line for `header` with the given cells filled (the rest empty), as a system writes one.
fn line(header: &str, cells: &[(&str, &str)]) -> String {
    header
        .split(',')
        .map(|h| cells.iter().find(|(k, _)| *k == h).map_or("", |(_, v)| *v))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn outlook_prefers_the_mobile_to_the_home_and_business_numbers() {
    let header = "First Name,Middle Name,Last Name,Title,Suffix,Nickname,Given Yomi,Surname Yomi,E-mail Address,E-mail 2 Address,E-mail 3 Address,Home Phone,Home Phone 2,Business Phone,Business Phone 2,Mobile Phone,Car Phone,Other Phone,Primary Phone,Pager,Business Fax,Home Fax,Other Fax,Company Main Phone,Callback,Radio Phone,Telex,TTY/TDD Phone,IMAddress,Job Title,Department,Company,Office Location,Manager's Name,Assistant's Name,Assistant's Phone,Company Yomi,Business Street,Business City,Business State,Business Postal Code,Business Country/Region,Home Street,Home City,Home State,Home Postal Code,Home Country/Region,Other Street,Other City,Other State,Other Postal Code,Other Country/Region,Personal Web Page,Spouse,Schools,Hobby,Location,Web Page,Birthday,Anniversary,Notes,Categories";
    let csv = format!(
        "{header}\n{}\n{}\n",
        line(
            header,
            &[
                ("First Name", "Hans"),
                ("Last Name", "Müller"),
                ("E-mail Address", "hans@example.de"),
                ("Home Phone", "030 1234567"),
                ("Business Phone", "030 7654321"),
                ("Mobile Phone", "0151 23456789"),
                ("Business Fax", "030 111"),
                ("Categories", "Stammkunden;Newsletter")
            ]
        ),
        line(
            header,
            &[
                ("First Name", "Greta"),
                ("Last Name", "Schmidt"),
                ("Home Phone", "030 2345678")
            ]
        ),
    );
    let (d, r) = import(&csv, "outlook.csv", "DE");
    assert_eq!(r.added, 2, "{r:#?}");
    let hans = contact(&d, "+4915123456789");
    assert_eq!((hans.name.as_str(), hans.tags.len()), ("Hans Müller", 2));
    // Only a home number: imported, it is all there is (the report names the column).
    contact(&d, "+49302345678");
    assert!(
        warned(&r, "\"Mobile Phone\" 1") && warned(&r, "\"Home Phone\" 1"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn shopify_reads_the_country_code_and_never_takes_accepts_sms_marketing_as_an_opt_in() {
    let csv = "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n\
'7012345678901,Lucía,García,lucia@example.es,yes,,Calle Mayor 1,,Madrid,M,ES,28013,,612 345 678,yes,120.50,3,,no,\"vip, regulars\"\n\
'7012345678902,Tom,Brown,tom@example.co.uk,no,,1 High St,,London,,GB,SW1A 1AA,07911 123459,07911 123460,no,10.00,1,,no,\n";
    let (d, r) = import(csv, "customers_export.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    let lucia = contact(&d, "+34612345678");
    assert_eq!((lucia.name.as_str(), lucia.tags.len()), ("Lucía García", 2));
    assert_eq!(lucia.marketing, None, "SMS consent is not WhatsApp consent");
    contact(&d, "+447911123460"); // the customer's own phone before the address's
    assert!(
        warned(&r, "\"Accepts SMS Marketing\": consent for another channel"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn woocommerce_billing_phone_and_country() {
    let csv = "customer_id,first_name,last_name,email,billing_first_name,billing_last_name,billing_company,billing_address_1,billing_city,billing_postcode,billing_country,billing_phone,shipping_phone\n\
12,João,Silva,joao@example.com.br,João,Silva,,Rua A 1,São Paulo,01000-000,BR,(11) 91234-5678,\n";
    let (d, r) = import(csv, "woo.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(contact(&d, "+5511912345678").name, "João Silva");
}

#[test]
fn square_an_unsubscribed_status_is_an_opt_out_and_subscribed_is_not_an_opt_in() {
    let csv = "Reference ID,First Name,Last Name,Email Address,Phone Number,Nickname,Company Name,Street Address 1,Street Address 2,City,State,Postal Code,Birthday,Memo,Square Customer ID,Creation Source,First Visit,Last Visit,Transaction Count,Total Spend,Email Subscription Status,Groups\n\
,Mia,Wong,mia@example.com,+44 7911 123461,,,,,,,,,,ABC1,Directory,2026-01-02,2026-11-20,4,£40.00,unsubscribed,Regulars\n\
,Sam,Lee,sam@example.com,+44 7911 123462,,,,,,,,,,ABC2,Directory,2026-01-02,2026-11-20,1,£4.00,subscribed,\n";
    let (d, r) = import(csv, "square.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    assert_eq!(contact(&d, "+447911123461").marketing, Some(OptedOut));
    assert_eq!(contact(&d, "+447911123462").marketing, None);
    // The opt-out's source names the file and the column.
    let mia = contacts::require(d.store.conn(), "+447911123461").unwrap();
    let ev = ledger::history(d.store.conn(), mia.id).unwrap();
    assert!(
        ev.iter()
            .any(|e| e.source_detail.as_deref().is_some_and(
                |s| s.contains("square.csv") && s.contains("Email Subscription Status")
            )),
        "{ev:?}"
    );
}

#[test]
fn mailchimp_unsubscribed_export_is_all_opt_outs_and_cleaned_is_not() {
    let head = "Email Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS";
    let unsub = format!("{head},UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER\n\
ines@example.pt,Inês,Costa,,912 345 678,,2,2025-01-01 10:00:00,,2025-01-01 10:01:00,,,,,,,PT,,2026-06-01,1,a,,\"Clientes\",2026-06-01 09:00:00,Summer,abc,NORMAL,\n");
    let (d, r) = import(&unsub, "unsubscribed_members_export.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(
        contact(&d, "+351912345678").marketing,
        Some(OptedOut),
        "the row's CC (PT) read the number"
    );
    assert!(
        warned(&r, "Mailchimp \"unsubscribed\" export"),
        "{:?}",
        r.warnings
    );
    let cleaned = format!(
        "{head},CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID\n\
ines@example.pt,Inês,Costa,,912 345 678,,2,,,,,,,,,,PT,,,1,a,,,2026-06-01 09:00:00,Summer,abc\n"
    );
    let (d, r) = import(&cleaned, "cleaned_members_export.csv", "GB");
    assert_eq!(
        contact(&d, "+351912345678").marketing,
        None,
        "a bounced address is not an opt-out"
    );
    assert!(
        warned(&r, "bounced addresses, not opt-outs"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn hubspot_mobile_phone_number_and_country_region() {
    let csv = "Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Lead Status,Marketing contact status,Contact owner,Create Date,Country/Region\n\
101,Priya,Sharma,priya@example.in,022 2345 6789,98765 43210,New,Marketing contact,Owner,2026-02-01 10:00,India\n";
    let (d, r) = import(csv, "hubspot.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(contact(&d, "+919876543210").name, "Priya Sharma");
    assert!(
        !r.warnings.iter().any(|w| w.contains("holds no consent")),
        "\"Marketing contact status\" is not OptDesk's marketing column"
    );
}

#[test]
fn zoho_email_opt_out_is_kept_as_an_opt_out() {
    let csv =
        "Contact Id,First Name,Last Name,Email,Phone,Mobile,Mailing Country,Email Opt Out,Tag\n\
zcrm_1,Luca,Rossi,luca@example.it,06 1234 5678,347 123 4567,Italia,true,Clienti\n\
zcrm_2,Sara,Bianchi,sara@example.it,,348 765 4321,Italia,false,\n";
    let (d, r) = import(csv, "Contacts.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    assert_eq!(contact(&d, "+393471234567").marketing, Some(OptedOut));
    assert_eq!(
        contact(&d, "+393487654321").marketing,
        None,
        "false is not an opt-in"
    );
}

#[test]
fn brevo_takes_the_whatsapp_attribute_and_keeps_sms_blacklisted_as_an_opt_out() {
    let csv = "EMAIL;FIRSTNAME;LASTNAME;SMS;WHATSAPP;EMAIL_BLACKLISTED;SMS_BLACKLISTED\n\
noor@example.ae;Noor;Haddad;+971501234567;+971501234568;0;1\n\
omar@example.ae;Omar;Aziz;+971501234569;;0;0\n";
    let (d, r) = import(csv, "brevo.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    assert_eq!(
        contact(&d, "+971501234568").marketing,
        Some(OptedOut),
        "WHATSAPP before SMS; SMS_BLACKLISTED kept"
    );
    assert_eq!(contact(&d, "+971501234569").marketing, None);
}

#[test]
fn wati_country_code_column_and_allow_broadcast_false() {
    let csv = "Name,CountryCode,Phone,AllowBroadcast,AllowSMS,Source,Created Date\n\
Ravi,91,919812345678,FALSE,TRUE,Website,2026-05-01\n\
Anita,91,9812345679,TRUE,TRUE,Website,2026-05-01\n";
    let (d, r) = import(csv, "wati_contacts.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    assert_eq!(contact(&d, "+919812345678").marketing, Some(OptedOut));
    assert_eq!(
        contact(&d, "+919812345679").marketing,
        None,
        "TRUE is not an opt-in"
    );
}

#[test]
fn excel_sep_line_numbers_title_line_and_a_spanish_libreoffice_sheet() {
    let excel = "sep=;\r\nphone;name;marketing;consent_source\r\n07911 123463;Zoe;yes;till\r\n";
    let (d, r) = import(excel, "excel.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(contact(&d, "+447911123463").marketing, Some(OptedIn));
    let numbers = "Table 1\nPhone,Name\n07911 123464,Yan\n";
    let (d, r) = import(numbers, "numbers.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert!(warned(&r, "above the header was skipped"));
    contact(&d, "+447911123464");
    let libre =
        "Nombre;Apellidos;Teléfono;Móvil;País\nMaría;Pérez;91 123 45 67;612 345 679;España\n";
    let (d, r) = import(libre, "clientes.csv", "GB");
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(contact(&d, "+34612345679").name, "María Pérez");
}

#[test]
fn a_marketing_column_of_group_names_is_not_consent_and_a_long_tag_is_shortened() {
    let long = "x".repeat(80);
    let csv = format!("phone,name,marketing,tags\n07911 123465,Ada,Newsletter A,{long}\n07911 123466,Bo,Spring promo,\n");
    let (d, r) = import(&csv, "groups.csv", "GB");
    assert_eq!((r.added, r.rejected), (2, 0), "{r:#?}");
    assert!(warned(&r, "holds no consent values"), "{:?}", r.warnings);
    let ada = contact(&d, "+447911123465");
    assert_eq!(ada.marketing, None);
    assert_eq!(ada.tags[0].chars().count(), 64);
    assert!(warned(&r, "shortened to 64 characters"));
}

#[test]
fn digits_that_begin_with_a_country_code_are_read_as_international() {
    let (d, r) = import("phone\n33612345678\n447911123467\n", "intl.csv", "GB");
    assert_eq!(r.added, 2, "{r:#?}");
    contact(&d, "+33612345678");
    contact(&d, "+447911123467");
}

#[test]
fn a_header_without_a_known_phone_column_names_the_one_that_holds_numbers() {
    let mut d = common::db();
    let e = import_bytes(
        &mut d.store,
        b"Client,Contact\nAna,+44 7911 123456\n",
        &Options::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("\"Contact\" holds phone numbers") && e.contains("--map phone=\"Contact\""),
        "{e}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const HEADERS: &[&str] = &[
        "Phone",
        "Mobile Phone",
        "WhatsApp",
        "Phone 1 - Label",
        "Phone 1 - Value",
        "Billing Phone",
        "Home Phone",
        "Name",
        "First Name",
        "Last Name",
        "Company",
        "Country",
        "CountryCode",
        "Tags",
        "Labels",
        "marketing",
        "utility",
        "consent_source",
        "consent_at",
        "SMS_BLACKLISTED",
        "AllowBroadcast",
        "Email Subscription Status",
        "Accepts SMS Marketing",
        "UNSUB_TIME",
        "Notes",
        "",
        "sep=;",
        "Table 1",
    ];
    const CELLS: &[&str] = &[
        "",
        "+44 7911 123456",
        "07911 123457",
        "33612345678",
        "4.47911E+11",
        "+1 555",
        "Mobile",
        "Home",
        "Work Fax",
        "yes",
        "no",
        "maybe",
        "TRUE",
        "FALSE",
        "1",
        "0",
        "unsubscribed",
        "subscribed",
        "ES",
        "España",
        "91",
        "+91",
        "2026-03-01",
        "03/04/2026",
        "vip ::: * myContacts",
        "a;b|c,d",
        "\"quoted, cell\"",
        "Zoë 🙏",
        "=cmd()",
    ];

    fn csv() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(proptest::sample::select(HEADERS), 1..8),
            proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(CELLS), 0..9),
                0..12,
            ),
            proptest::sample::select(&[",", ";", "\t"][..]),
            proptest::bool::ANY,
        )
            .prop_map(|(header, rows, sep, title)| {
                let mut out = String::new();
                if title {
                    out.push_str("Table 1\n");
                }
                out.push_str(&header.join(sep));
                for r in rows {
                    out.push('\n');
                    out.push_str(&r.join(sep));
                }
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// No file makes the importer panic; it imports or refuses with a sentence, and every
        /// rejected row is named by a line below the header.
        #[test]
        fn any_file_is_imported_or_refused_and_every_rejected_row_has_its_line(text in csv()) {
            let mut d = common::db();
            let o = Options { region: Some(Region::parse("GB").unwrap()), actor: "prop".into(), file_name: "p.csv".into(), ..Default::default() };
            match import_bytes(&mut d.store, text.as_bytes(), &o) {
                Ok(r) => {
                    prop_assert_eq!(r.rows, r.added + r.updated + r.unchanged + r.blocked + r.rejected + r.duplicates);
                    for i in &r.issues {
                        prop_assert!(i.line >= 2, "{:?}", i);
                        prop_assert!(!i.reason.is_empty());
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}

#[test]
fn excels_rounded_numbers_are_refused_with_the_fix_and_extensions_are_dropped() {
    let (d, r) = import("phone,name\n4.47911E+11,Ann\n020 7946 0018 ext. 12,Office\n07911 123468 / 020 7946 0019,Two\n", "excel.csv", "GB");
    assert_eq!((r.added, r.rejected), (2, 1), "{r:#?}");
    assert_eq!(r.issues[0].line, 2);
    assert!(
        r.issues[0].reason.contains("format the column as Text"),
        "{}",
        r.issues[0].reason
    );
    contact(&d, "+442079460018");
    contact(&d, "+447911123468");
    assert!(
        warned(&r, "the extension \"12\" was dropped") && warned(&r, "several numbers"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_iphone_vcard_export_is_imported_card_by_card() {
    let vcf = "BEGIN:VCARD\nVERSION:3.0\nN:López;Ana;;;\nFN:Ana López\nTEL;type=HOME:+44 20 7946 0018\nTEL;type=CELL;type=pref:+44 7911 123456\nCATEGORIES:Regulars\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:3.0\nFN:Nobody\nEMAIL:n@example.com\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:3.0\nFN:Ben\nitem1.TEL:+44 7911 123457\nitem1.X-ABLabel:WhatsApp\nEND:VCARD\n";
    let (d, r) = import(vcf, "iCloud vCard.vcf", "GB");
    assert_eq!((r.added, r.rejected), (2, 1), "{r:#?}");
    assert_eq!(
        r.issues[0].line, 9,
        "the card without a number, by its BEGIN:VCARD line"
    );
    let ana = contact(&d, "+447911123456");
    assert_eq!(
        (ana.name.as_str(), ana.tags.as_slice()),
        ("Ana López", ["Regulars".to_string()].as_slice())
    );
    contact(&d, "+447911123457");
}

#[test]
fn a_mac_roman_file_reads_its_names_and_a_dry_run_shows_them_first() {
    let mut d = common::db();
    let o = Options {
        region: Some(Region::parse("FR").unwrap()),
        actor: "test".into(),
        dry_run: true,
        ..Default::default()
    };
    let r = import_bytes(
        &mut d.store,
        b"Pr\x8enom;Nom;Portable\rFran\x8dois;L\x8eger;06 12 34 56 78\r",
        &o,
    )
    .unwrap();
    assert_eq!(r.added, 1, "{r:#?}");
    assert_eq!(
        r.warnings[0],
        "names as they will be stored: \"François Léger\""
    );
    assert!(warned(&r, "Mac Roman"), "{:?}", r.warnings);
}

#[test]
fn a_rejected_row_that_carried_an_opt_out_is_named_first() {
    let (_d, r) = import(
        "phone,name,marketing,consent_source,SMS_BLACKLISTED\n0791,Bad number,yes,fair,0\n07911 12,Bad too,no,,0\n07911 123470,Good,yes,fair,0\n0799,Blacklisted,,,1\n",
        "mixed.csv",
        "GB",
    );
    assert_eq!((r.added, r.rejected), (1, 3), "{r:#?}");
    let lines: Vec<u64> = r.issues.iter().map(|i| i.line).collect();
    assert_eq!(
        lines,
        [3, 5, 2],
        "opt-outs that were lost first, then in file order"
    );
    assert!(
        r.issues[0].reason.contains("NOT recorded"),
        "{}",
        r.issues[0].reason
    );
    assert!(!r.issues[2].reason.contains("NOT recorded"));
}
