//! The CTDC public schema: columns, value codes, and how Caravan's fields map to them.
//!
//! Columns are grouped into [`Attribute`]s: the unit that generalization works on (the
//! eight `means*` columns are generalized or dropped together, for example). Each
//! attribute of a record is encoded as one small integer (its *base code*); a
//! generalization level maps base codes to coarser codes; rendering turns a code back
//! into the CTDC column values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::regions::{all_regions, region_of};
use crate::error::{Error, Result};
use crate::model::StatRecord;
use crate::vocab::*;

/// How countries are written: ISO 3166-1 alpha-2 (older CTDC releases) or alpha-3
/// (newer releases).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountryCodes {
    /// `"KZ"`.
    Alpha2,
    /// `"KAZ"` (the default, as in current CTDC releases).
    #[default]
    Alpha3,
}

impl CountryCodes {
    /// Parses `alpha2` / `alpha-2` / `2` or `alpha3` / `alpha-3` / `3`.
    pub fn parse(s: &str) -> Result<CountryCodes> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "alpha2" | "2" | "iso2" => Ok(CountryCodes::Alpha2),
            "alpha3" | "3" | "iso3" => Ok(CountryCodes::Alpha3),
            _ => Err(Error::invalid(
                "country codes",
                format!("{s:?} is not alpha2 or alpha3"),
            )),
        }
    }

    /// The code of `country` in this style. A code this version does not know is
    /// written as stored.
    pub fn render(self, country: &Country) -> String {
        match self {
            CountryCodes::Alpha2 => country.code().to_string(),
            CountryCodes::Alpha3 => country.alpha3().unwrap_or(country.code()).to_string(),
        }
    }

    /// The name used in reports (`"alpha2"` or `"alpha3"`).
    pub fn name(self) -> &'static str {
        match self {
            CountryCodes::Alpha2 => "alpha2",
            CountryCodes::Alpha3 => "alpha3",
        }
    }
}

/// A group of CTDC columns that is treated (generalized, dropped) as one
/// quasi-identifier. Every released column is a quasi-identifier, as in CTDC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribute {
    /// `yearOfRegistration`.
    Year,
    /// `gender`.
    Gender,
    /// `ageBroad`.
    Age,
    /// `majorityStatus`, `majorityStatusAtExploit`, `majorityEntry`.
    Majority,
    /// `citizenship`.
    Citizenship,
    /// `CountryOfExploitation`.
    CountryOfExploitation,
    /// `isForcedLabour`, `isSexualExploit`, `isOtherExploit`.
    Exploitation,
    /// The eight `means*` columns.
    Means,
    /// The twelve `typeOfLabour*` columns.
    Labour,
    /// The four `typeOfSex*` columns.
    Sex,
    /// The four `recruiterRelation*` columns.
    Recruiter,
}

/// Number of attributes.
pub(crate) const NATTR: usize = 11;

/// CTDC `means*` columns and the means of control each one covers. `UsesChildren` and
/// `Other` have no CTDC column.
const MEANS_COLUMNS: [&str; 8] = [
    "meansDebtBondageEarnings",
    "meansThreats",
    "meansAbusePsyPhySex",
    "meansFalsePromises",
    "meansDrugsAlcohol",
    "meansDenyBasicNeeds",
    "meansExcessiveWorkHours",
    "meansWithholdDocs",
];

/// CTDC's `typeOfLabour` list, in column order.
const LABOUR_TYPES: [&str; 12] = [
    "Agriculture",
    "Aquafarming",
    "Begging",
    "Construction",
    "DomesticWork",
    "Hospitality",
    "IllicitActivities",
    "Manufacturing",
    "MiningOrDrilling",
    "Peddling",
    "Transportation",
    "Other",
];

const LABOUR_COLUMNS: [&str; 12] = [
    "typeOfLabourAgriculture",
    "typeOfLabourAquafarming",
    "typeOfLabourBegging",
    "typeOfLabourConstruction",
    "typeOfLabourDomesticWork",
    "typeOfLabourHospitality",
    "typeOfLabourIllicitActivities",
    "typeOfLabourManufacturing",
    "typeOfLabourMiningOrDrilling",
    "typeOfLabourPeddling",
    "typeOfLabourTransportation",
    "typeOfLabourOther",
];

const SEX_COLUMNS: [&str; 4] = [
    "typeOfSexProstitution",
    "typeOfSexPornography",
    "typeOfSexRemoteInteractiveServices",
    "typeOfSexPrivateSexualServices",
];

const RECRUITER_COLUMNS: [&str; 4] = [
    "recruiterRelationIntimatePartner",
    "recruiterRelationFriend",
    "recruiterRelationFamily",
    "recruiterRelationOther",
];

const EXPLOITATION_COLUMNS: [&str; 3] = ["isForcedLabour", "isSexualExploit", "isOtherExploit"];

const MAJORITY_COLUMNS: [&str; 3] = ["majorityStatus", "majorityStatusAtExploit", "majorityEntry"];

/// CTDC's `ageBroad` bands, in the order of [`AgeBand::ALL`].
const AGE_BROAD: [&str; 9] = [
    "0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+",
];

/// Coarse bands (generalization level 1 of `ageBroad`).
const AGE_COARSE: [&str; 4] = ["0--17", "18--29", "30--47", "48+"];

impl Attribute {
    /// Every attribute, in CTDC column order.
    pub const ALL: [Attribute; NATTR] = [
        Attribute::Year,
        Attribute::Gender,
        Attribute::Age,
        Attribute::Majority,
        Attribute::Citizenship,
        Attribute::CountryOfExploitation,
        Attribute::Exploitation,
        Attribute::Means,
        Attribute::Labour,
        Attribute::Sex,
        Attribute::Recruiter,
    ];

    /// Position in [`Attribute::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Year => "year",
            Attribute::Gender => "gender",
            Attribute::Age => "age",
            Attribute::Majority => "majority",
            Attribute::Citizenship => "citizenship",
            Attribute::CountryOfExploitation => "country-of-exploitation",
            Attribute::Exploitation => "exploitation",
            Attribute::Means => "means",
            Attribute::Labour => "labour",
            Attribute::Sex => "sex",
            Attribute::Recruiter => "recruiter",
        }
    }

    /// Parses a name from [`Attribute::name`].
    pub fn parse(s: &str) -> Result<Attribute> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Attribute::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Attribute::ALL.iter().map(|a| a.name()).collect();
                Error::invalid(
                    "attribute",
                    format!("{s:?} is not one of {}", names.join(", ")),
                )
            })
    }

    /// Names of the generalization levels, most detailed first; the last one drops
    /// the attribute's columns.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Attribute::Year => &["year", "5-year period", "dropped"],
            Attribute::Age => &["CTDC band", "coarse band", "minor or adult", "dropped"],
            Attribute::Majority => &["all three", "at registration only", "dropped"],
            Attribute::Citizenship | Attribute::CountryOfExploitation => {
                &["country", "region", "dropped"]
            }
            Attribute::Gender
            | Attribute::Exploitation
            | Attribute::Means
            | Attribute::Labour
            | Attribute::Sex
            | Attribute::Recruiter => &["kept", "dropped"],
        }
    }

    /// The level that drops the attribute.
    pub fn dropped_level(self) -> u8 {
        (self.levels().len() - 1) as u8
    }

    /// The CTDC columns this attribute releases at `level` (none once dropped).
    pub fn columns(self, level: u8) -> &'static [&'static str] {
        if level >= self.dropped_level() {
            return &[];
        }
        match self {
            Attribute::Year => &["yearOfRegistration"],
            Attribute::Gender => &["gender"],
            Attribute::Age => &["ageBroad"],
            Attribute::Majority if level == 0 => &MAJORITY_COLUMNS,
            Attribute::Majority => &MAJORITY_COLUMNS[..1],
            Attribute::Citizenship => &["citizenship"],
            Attribute::CountryOfExploitation => &["CountryOfExploitation"],
            Attribute::Exploitation => &EXPLOITATION_COLUMNS,
            Attribute::Means => &MEANS_COLUMNS,
            Attribute::Labour => &LABOUR_COLUMNS,
            Attribute::Sex => &SEX_COLUMNS,
            Attribute::Recruiter => &RECRUITER_COLUMNS,
        }
    }
}

/// Countries met while encoding, numbered from 1 (0 is "no value").
#[derive(Debug, Default)]
pub(crate) struct CountryDict {
    countries: Vec<Country>,
    index: HashMap<Country, u32>,
}

impl CountryDict {
    fn code(&mut self, c: Option<&Country>) -> u32 {
        let Some(c) = c else { return 0 };
        if let Some(&i) = self.index.get(c) {
            return i;
        }
        self.countries.push(c.clone());
        let i = self.countries.len() as u32;
        self.index.insert(c.clone(), i);
        i
    }

    fn get(&self, code: u32) -> Option<&Country> {
        code.checked_sub(1)
            .and_then(|i| self.countries.get(i as usize))
    }

    pub(crate) fn len(&self) -> usize {
        self.countries.len()
    }
}

/// Encodes records attribute by attribute and renders codes back to CTDC values.
#[derive(Debug, Default)]
pub(crate) struct Codec {
    pub(crate) countries: CountryDict,
    regions: Vec<&'static str>,
}

fn opt_index<V: PartialEq>(all: &[V], v: Option<&V>) -> u32 {
    v.and_then(|v| all.iter().position(|x| x == v))
        .map_or(0, |i| i as u32 + 1)
}

fn majority_trit(m: Option<&MajorityStatus>) -> u32 {
    match m {
        Some(MajorityStatus::Adult) => 1,
        Some(MajorityStatus::Minor) => 2,
        _ => 0,
    }
}

fn means_bit(m: &MeansOfControl) -> Option<u32> {
    use MeansOfControl::*;
    match m {
        DebtBondage | TakesEarnings => Some(0),
        PhysicalThreats | ThreatsLawEnforcement | ThreatensChildrenFamily => Some(1),
        PsychologicalAbuse | PhysicalAbuse | SexualAbuse => Some(2),
        FalsePromises => Some(3),
        PsychoactiveSubstance => Some(4),
        WithholdsNecessities
        | RestrictsMedicalCare
        | RestrictsFinancialAccess
        | RestrictsMovement => Some(5),
        ExcessiveWorkingHours => Some(6),
        WithholdsDocuments => Some(7),
        UsesChildren | Other | Unknown(_) => None,
    }
}

/// Bits of `isForcedLabour` (0), `isSexualExploit` (1), `isOtherExploit` (2), and the
/// `typeOfLabour` value an exploitation type implies, if any.
fn exploitation_bits(e: &ExploitationType) -> (u32, Option<&'static str>) {
    use ExploitationType::*;
    match e {
        ForcedLabour | ChildLabour => (0, None),
        ForcedBegging => (0, Some("Begging")),
        ForcedCriminality => (0, Some("IllicitActivities")),
        SexualExploitation => (1, None),
        ForcedMarriage
        | Servitude
        | ForcedMilitaryByNonStateActors
        | OrganRemoval
        | ForcedAdoption
        | Surrogacy
        | Other
        | Unknown(_) => (2, None),
    }
}

fn labour_bit(ctdc: &str) -> u32 {
    LABOUR_TYPES
        .iter()
        .position(|t| *t == ctdc)
        .unwrap_or(LABOUR_TYPES.len() - 1) as u32
}

/// `0` for "no value", otherwise `1 + mask`.
fn group(present: bool, mask: u32) -> u32 {
    if present {
        1 + mask
    } else {
        0
    }
}

impl Codec {
    pub(crate) fn new() -> Codec {
        Codec {
            countries: CountryDict::default(),
            regions: all_regions(),
        }
    }

    /// The base code of every attribute of `r`.
    pub(crate) fn encode(&mut self, r: &StatRecord) -> [u32; NATTR] {
        let year = (r.year() - 1899).clamp(1, 301) as u32;
        let gender = match &r.gender {
            Some(Gender::Feminine) => 1,
            Some(Gender::Masculine) => 2,
            Some(Gender::TransgenderFeminine)
            | Some(Gender::TransgenderMasculine)
            | Some(Gender::NonConforming) => 3,
            _ => 0,
        };
        let age = opt_index(AgeBand::ALL, r.age_band.as_ref());
        let majority = majority_trit(r.majority_at_registration.as_ref()) * 9
            + majority_trit(r.majority_at_exploitation.as_ref()) * 3
            + majority_trit(r.majority_at_entry.as_ref());
        let citizenship = self.countries.code(r.citizenship.first());
        let exploited = self.countries.code(r.country_of_exploitation());
        let mut exploitation = 0;
        let mut labour = 0;
        for e in &r.exploitation {
            let (bit, implied) = exploitation_bits(e);
            exploitation |= 1 << bit;
            if let Some(t) = implied {
                labour |= 1 << labour_bit(t);
            }
        }
        for li in &r.labour_industry {
            labour |= 1 << labour_bit(li.ctdc_type_of_labour());
        }
        let labour_present = !r.labour_industry.is_empty()
            || r.exploitation
                .iter()
                .any(|e| exploitation_bits(e).1.is_some());
        let mut means = 0;
        for m in &r.means_of_control {
            if let Some(bit) = means_bit(m) {
                means |= 1 << bit;
            }
        }
        let mut sex = 0;
        for s in &r.sexual_exploitation {
            if let Some(i) = SexualExploitationType::ALL.iter().position(|x| x == s) {
                sex |= 1 << i;
            }
        }
        let mut recruiter = 0;
        for rel in &r.recruiter_relation {
            let i = RecruiterRelation::ALL
                .iter()
                .position(|x| x == rel)
                .unwrap_or(3);
            recruiter |= 1 << i;
        }
        [
            year,
            gender,
            age,
            majority,
            citizenship,
            exploited,
            group(!r.exploitation.is_empty(), exploitation),
            group(!r.means_of_control.is_empty(), means),
            group(labour_present, labour),
            group(!r.sexual_exploitation.is_empty(), sex),
            group(!r.recruiter_relation.is_empty(), recruiter),
        ]
    }

    /// One more than the largest base code of `attr`.
    pub(crate) fn base_radix(&self, attr: Attribute) -> u32 {
        match attr {
            Attribute::Year => 302,
            Attribute::Gender => 4,
            Attribute::Age => 10,
            Attribute::Majority => 27,
            Attribute::Citizenship | Attribute::CountryOfExploitation => {
                self.countries.len() as u32 + 1
            }
            Attribute::Exploitation => 1 + (1 << 3),
            Attribute::Means => 1 + (1 << 8),
            Attribute::Labour => 1 + (1 << 12),
            Attribute::Sex | Attribute::Recruiter => 1 + (1 << 4),
        }
    }

    /// The code of base code `base` of `attr` at generalization `level`. Codes at
    /// every level keep 0 for "no value"; a dropped attribute maps everything to 0.
    pub(crate) fn generalize(&self, attr: Attribute, level: u8, base: u32) -> u32 {
        if level == 0 || base == 0 {
            return base;
        }
        if level >= attr.dropped_level() {
            return 0;
        }
        match (attr, level) {
            (Attribute::Year, _) => (base - 1) / 5 + 1,
            (Attribute::Age, 1) => match base {
                1 | 2 => 1,
                3..=6 => 2,
                7 | 8 => 3,
                _ => 4,
            },
            (Attribute::Age, _) => {
                if base <= 2 {
                    1
                } else {
                    2
                }
            }
            (Attribute::Majority, _) => base / 9,
            (Attribute::Citizenship | Attribute::CountryOfExploitation, _) => {
                let region = self.countries.get(base).map_or("Other", region_of);
                self.regions
                    .iter()
                    .position(|r| *r == region)
                    .map_or(0, |i| i as u32 + 1)
            }
            _ => base,
        }
    }

    /// The CTDC values of `attr`'s columns (see [`Attribute::columns`]) for `code` at
    /// `level`; `None` is a missing value.
    pub(crate) fn render(
        &self,
        attr: Attribute,
        level: u8,
        code: u32,
        countries: CountryCodes,
    ) -> Vec<Option<String>> {
        let ncols = attr.columns(level).len();
        if ncols == 0 {
            return Vec::new();
        }
        if code == 0 && !matches!(attr, Attribute::Majority) {
            return vec![None; ncols];
        }
        let flag =
            |mask: u32, bit: usize| Some(if mask >> bit & 1 == 1 { "1" } else { "0" }.into());
        let bits =
            |n: usize| -> Vec<Option<String>> { (0..n).map(|b| flag(code - 1, b)).collect() };
        match (attr, level) {
            (Attribute::Year, 0) => vec![Some((code + 1899).to_string())],
            (Attribute::Year, _) => {
                let start = 1900 + (code - 1) * 5;
                vec![Some(format!("{start}--{}", start + 4))]
            }
            (Attribute::Gender, _) => {
                let g = ["Woman", "Man", "Trans/Transgender/NonConforming"];
                vec![g.get(code as usize - 1).map(|s| s.to_string())]
            }
            (Attribute::Age, 0) => vec![AGE_BROAD.get(code as usize - 1).map(|s| s.to_string())],
            (Attribute::Age, 1) => vec![AGE_COARSE.get(code as usize - 1).map(|s| s.to_string())],
            (Attribute::Age, _) => vec![Some(if code == 1 { "0--17" } else { "18+" }.into())],
            (Attribute::Majority, _) => {
                let trit = |t: u32| match t {
                    1 => Some("Adult".to_string()),
                    2 => Some("Minor".to_string()),
                    _ => None,
                };
                if level == 0 {
                    vec![trit(code / 9), trit(code / 3 % 3), trit(code % 3)]
                } else {
                    vec![trit(code)]
                }
            }
            (Attribute::Citizenship | Attribute::CountryOfExploitation, 0) => {
                vec![self.countries.get(code).map(|c| countries.render(c))]
            }
            (Attribute::Citizenship | Attribute::CountryOfExploitation, _) => {
                vec![self.regions.get(code as usize - 1).map(|s| s.to_string())]
            }
            (Attribute::Exploitation, _) => bits(3),
            (Attribute::Means, _) => bits(8),
            (Attribute::Labour, _) => bits(12),
            (Attribute::Sex | Attribute::Recruiter, _) => bits(4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StatRouteEvent;
    use crate::model::{CaseId, Timestamp};

    fn record() -> StatRecord {
        let mut r = StatRecord::blank(CaseId([1; 16]), Timestamp::from_ymd(2023, 5, 2).unwrap());
        r.gender = Some(Gender::Feminine);
        r.age_band = Some(AgeBand::Age21To23);
        r.majority_at_registration = Some(MajorityStatus::Adult);
        r.citizenship = vec![Country::from_code("KG"), Country::from_code("RU")];
        r.route = vec![
            StatRouteEvent {
                kind: RouteEventKind::Exploitation,
                country: Country::from_code("KZ"),
                year: None,
            },
            StatRouteEvent {
                kind: RouteEventKind::Exploitation,
                country: Country::from_code("AE"),
                year: None,
            },
        ];
        r.exploitation = vec![
            ExploitationType::ForcedLabour,
            ExploitationType::ForcedBegging,
        ];
        r.labour_industry = vec![LabourIndustry::Construction];
        r.means_of_control = vec![
            MeansOfControl::DebtBondage,
            MeansOfControl::RestrictsMovement,
        ];
        r
    }

    fn rendered(
        codec: &Codec,
        codes: &[u32; NATTR],
        levels: &[u8; NATTR],
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in Attribute::ALL {
            let l = levels[a.index()];
            let code = codec.generalize(a, l, codes[a.index()]);
            let vals = codec.render(a, l, code, CountryCodes::Alpha3);
            for (c, v) in a.columns(l).iter().zip(vals) {
                out.push((c.to_string(), v.unwrap_or_default()));
            }
        }
        out
    }

    #[test]
    fn maps_a_record_to_ctdc_values() {
        let mut codec = Codec::new();
        let codes = codec.encode(&record());
        let row = rendered(&codec, &codes, &[0; NATTR]);
        let get = |c: &str| {
            row.iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("yearOfRegistration"), "2023");
        assert_eq!(get("gender"), "Woman");
        assert_eq!(get("ageBroad"), "21--23");
        assert_eq!(get("majorityStatus"), "Adult");
        assert_eq!(get("majorityEntry"), "");
        assert_eq!(get("citizenship"), "KGZ");
        assert_eq!(get("CountryOfExploitation"), "ARE");
        assert_eq!(get("isForcedLabour"), "1");
        assert_eq!(get("isSexualExploit"), "0");
        assert_eq!(get("typeOfLabourConstruction"), "1");
        assert_eq!(get("typeOfLabourBegging"), "1");
        assert_eq!(get("typeOfLabourAgriculture"), "0");
        assert_eq!(get("meansDebtBondageEarnings"), "1");
        assert_eq!(get("meansDenyBasicNeeds"), "1");
        assert_eq!(get("meansThreats"), "0");
        assert_eq!(get("typeOfSexProstitution"), "");
        assert_eq!(get("recruiterRelationFriend"), "");
        assert_eq!(row.len(), 1 + 1 + 1 + 3 + 1 + 1 + 3 + 8 + 12 + 4 + 4);
    }

    #[test]
    fn generalization_levels_render() {
        let mut codec = Codec::new();
        let codes = codec.encode(&record());
        let mut levels = [0u8; NATTR];
        levels[Attribute::Year.index()] = 1;
        levels[Attribute::Age.index()] = 1;
        levels[Attribute::Citizenship.index()] = 1;
        levels[Attribute::Majority.index()] = 1;
        levels[Attribute::Means.index()] = 1;
        let row = rendered(&codec, &codes, &levels);
        let get = |c: &str| row.iter().find(|(k, _)| k == c).map(|(_, v)| v.as_str());
        assert_eq!(get("yearOfRegistration"), Some("2020--2024"));
        assert_eq!(get("ageBroad"), Some("18--29"));
        assert_eq!(get("citizenship"), Some("CentralAsia"));
        assert_eq!(get("majorityStatus"), Some("Adult"));
        assert_eq!(get("majorityEntry"), None);
        assert_eq!(get("meansThreats"), None);
        levels[Attribute::Age.index()] = 2;
        let row = rendered(&codec, &codes, &levels);
        assert!(row.contains(&("ageBroad".into(), "18+".into())));
        for a in Attribute::ALL {
            assert_eq!(Attribute::parse(a.name()).unwrap(), a);
            assert!(a.columns(a.dropped_level()).is_empty());
            for l in 0..=a.dropped_level() {
                for b in 0..codec.base_radix(a) {
                    let g = codec.generalize(a, l, b);
                    assert_eq!(
                        codec.render(a, l, g, CountryCodes::Alpha2).len(),
                        a.columns(l).len()
                    );
                }
            }
        }
    }

    #[test]
    fn country_codes() {
        let kz = Country::from_code("KZ");
        assert_eq!(CountryCodes::Alpha2.render(&kz), "KZ");
        assert_eq!(CountryCodes::Alpha3.render(&kz), "KAZ");
        assert_eq!(
            CountryCodes::parse("alpha-2").unwrap(),
            CountryCodes::Alpha2
        );
        assert!(CountryCodes::parse("alpha4").is_err());
    }
}
