//! World regions used to generalize countries in k-anonymized exports: the UN M49
//! sub-regions (Sub-Saharan Africa and Latin America and the Caribbean taken whole),
//! with Central Asia on its own.

use crate::vocab::Country;

/// A region a country is generalized to, with the countries in it (ISO alpha-2).
struct Region {
    code: &'static str,
    countries: &'static str,
}

/// Every ISO 3166-1 country is in exactly one region (a test checks this).
const REGIONS: &[Region] = &[
    Region {
        code: "CentralAsia",
        countries: "KZ KG TJ TM UZ",
    },
    Region {
        code: "EasternEurope",
        countries: "BG BY CZ HU MD PL RO RU SK UA",
    },
    Region {
        code: "NorthernEurope",
        countries: "AX DK EE FI FO GB GG IE IM IS JE LT LV NO SE SJ",
    },
    Region {
        code: "SouthernEurope",
        countries: "AD AL BA ES GI GR HR IT ME MK MT PT RS SI SM VA",
    },
    Region {
        code: "WesternEurope",
        countries: "AT BE CH DE FR LI LU MC NL",
    },
    Region {
        code: "WesternAsia",
        countries: "AE AM AZ BH CY GE IL IQ JO KW LB OM PS QA SA SY TR YE",
    },
    Region {
        code: "SouthernAsia",
        countries: "AF BD BT IN IR LK MV NP PK",
    },
    Region {
        code: "EasternAsia",
        countries: "CN HK JP KP KR MN MO TW",
    },
    Region {
        code: "SouthEasternAsia",
        countries: "BN ID KH LA MM MY PH SG TH TL VN",
    },
    Region {
        code: "NorthernAfrica",
        countries: "DZ EG EH LY MA SD TN",
    },
    Region {
        code: "SubSaharanAfrica",
        countries: "AO BF BI BJ BW CD CF CG CI CM CV DJ ER ET GA GH GM GN GQ GW IO KE KM LR LS \
                    MG ML MR MU MW MZ NA NE NG RE RW SC SH SL SN SO SS ST SZ TD TF TG TZ UG YT \
                    ZA ZM ZW",
    },
    Region {
        code: "LatinAmericaAndCaribbean",
        countries: "AG AI AR AW BB BL BO BQ BR BS BV BZ CL CO CR CU CW DM DO EC FK GD GF GP GS \
                    GT GY HN HT JM KN KY LC MF MQ MS MX NI PA PE PR PY SR SV SX TC TT UY VC VE \
                    VG VI",
    },
    Region {
        code: "NorthernAmerica",
        countries: "BM CA GL PM US",
    },
    Region {
        code: "Oceania",
        countries: "AS AU CC CK CX FJ FM GU HM KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV \
                    UM VU WF WS",
    },
    Region {
        code: "Antarctica",
        countries: "AQ",
    },
];

/// The region of a code this version does not know.
pub(crate) const OTHER_REGION: &str = "Other";

/// The region code of `country` (`"CentralAsia"`, `"EasternEurope"`, ...), or
/// [`OTHER_REGION`] for a code this version does not know.
pub(crate) fn region_of(country: &Country) -> &'static str {
    let code = country.code();
    REGIONS
        .iter()
        .find(|r| r.countries.split_ascii_whitespace().any(|c| c == code))
        .map_or(OTHER_REGION, |r| r.code)
}

/// Every region code, in a stable order, [`OTHER_REGION`] last.
pub(crate) fn all_regions() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = REGIONS.iter().map(|r| r.code).collect();
    all.push(OTHER_REGION);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_is_in_exactly_one_region() {
        for country in Country::all() {
            let n = REGIONS
                .iter()
                .filter(|r| {
                    r.countries
                        .split_ascii_whitespace()
                        .any(|c| c == country.code())
                })
                .count();
            assert_eq!(n, 1, "{country} is in {n} regions");
        }
        for r in REGIONS {
            for c in r.countries.split_ascii_whitespace() {
                assert!(
                    Country::from_code(c).is_known(),
                    "{c} in {} is not a country",
                    r.code
                );
            }
        }
        assert_eq!(region_of(&Country::from_code("KG")), "CentralAsia");
        assert_eq!(region_of(&Country::from_code("RU")), "EasternEurope");
        assert_eq!(region_of(&Country::from_code("ZZ")), OTHER_REGION);
        assert_eq!(all_regions().len(), REGIONS.len() + 1);
    }
}
