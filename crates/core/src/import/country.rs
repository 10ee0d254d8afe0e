//! A row's own country, as exports write it: an ISO code, a name in English or the local
//! language, or a calling code.

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
    let f = super::columns::fold(c);
    COUNTRY_NAMES
        .iter()
        .find(|(_, names)| names.contains(&f.as_str()))
        .and_then(|(code, _)| crate::phone::Region::parse(code).ok())
        .map(CountryCell::Region)
}

/// Country names as exports write them, folded (English first, then the local names).
#[rustfmt::skip]
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
mod tests {
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
