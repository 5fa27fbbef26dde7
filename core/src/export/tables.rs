//! Aggregate tables: counts of cases by one to three dimensions.
//!
//! - **Exact tables** (no DP) count only the records of one k-anonymous record release
//!   (decision 0018): every cell, margin and total is a sum of release groups of at
//!   least k records, so no combination of exact outputs reveals a count between 1 and
//!   k − 1. The records outside the release are one remainder, shown only when 0 or at
//!   least k.
//! - **DP tables** count every case, each in at most a bounded number of cells, add
//!   noise to every cell that holds at least one case (partition selection: no cell is
//!   invented) and show a cell only if its noisy count reaches a threshold set from
//!   (ε, δ); the total (noised separately) is made consistent: shown cells plus the
//!   remainder equal the total.

use serde::{Deserialize, Serialize};

use super::ctdc::{Attribute, CountryCodes};
use super::dp::{
    below, gaussian_sigma, noise_half_width_95, sample_discrete_laplace, sample_gaussian,
    selection_threshold, DpSpec, Mechanism, NoiseSource, PrivacyReport, SystemNoise, TOTAL_SHARE,
};
use super::kanon::{export_records, json, KeyMap, RecordOptions, DEFAULT_K};
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::model::{StatRecord, StatReferral};
use crate::vocab::*;

/// The largest domain (product of the dimensions' sizes) a DP table may have: every
/// cell gets noise.
pub const MAX_DP_CELLS: u64 = 5_000_000;

/// The value of a dimension for cases without one (or with a code this version does
/// not know).
pub const UNKNOWN: &str = "Unknown";

/// Something to count cases by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// Citizenship (a case with two counts in both).
    Citizenship,
    /// Countries of exploitation on the route.
    CountryOfExploitation,
    /// Countries of recruitment on the route.
    CountryOfRecruitment,
    /// Citizenship → country of exploitation pairs (`"KGZ-RUS"`).
    Route,
    /// Year of registration.
    Year,
    /// Gender.
    Gender,
    /// CTDC age band.
    AgeBand,
    /// Majority status at registration.
    Majority,
    /// Type of exploitation.
    Exploitation,
    /// CTDC type of labour.
    Labour,
    /// Type of sexual exploitation.
    SexualExploitation,
    /// Means of control.
    MeansOfControl,
    /// Recruiter relation.
    RecruiterRelation,
    /// Trafficking status.
    TraffickingStatus,
    /// Service of a referral.
    Service,
    /// Latest status of a referral (`"None"` when none was recorded).
    ReferralOutcome,
}

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

fn vocab_codes<V: Vocabulary>() -> Vec<String> {
    V::entries().iter().map(|e| e.code.to_string()).collect()
}

fn vocab_index<V: Vocabulary>(v: &V) -> Option<u32> {
    let code = v.code();
    V::entries()
        .iter()
        .position(|e| e.code == code)
        .map(|i| i as u32)
}

fn vocab_label<V: Vocabulary>(code: &str, lang: Lang) -> Option<String> {
    V::from_code(code).label(lang).map(str::to_string)
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 16] = [
        Dimension::Citizenship,
        Dimension::CountryOfExploitation,
        Dimension::CountryOfRecruitment,
        Dimension::Route,
        Dimension::Year,
        Dimension::Gender,
        Dimension::AgeBand,
        Dimension::Majority,
        Dimension::Exploitation,
        Dimension::Labour,
        Dimension::SexualExploitation,
        Dimension::MeansOfControl,
        Dimension::RecruiterRelation,
        Dimension::TraffickingStatus,
        Dimension::Service,
        Dimension::ReferralOutcome,
    ];

    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Citizenship => "citizenship",
            Dimension::CountryOfExploitation => "country-of-exploitation",
            Dimension::CountryOfRecruitment => "country-of-recruitment",
            Dimension::Route => "route",
            Dimension::Year => "year",
            Dimension::Gender => "gender",
            Dimension::AgeBand => "age-band",
            Dimension::Majority => "majority",
            Dimension::Exploitation => "exploitation",
            Dimension::Labour => "labour",
            Dimension::SexualExploitation => "sexual-exploitation",
            Dimension::MeansOfControl => "means-of-control",
            Dimension::RecruiterRelation => "recruiter-relation",
            Dimension::TraffickingStatus => "trafficking-status",
            Dimension::Service => "service",
            Dimension::ReferralOutcome => "referral-outcome",
        }
    }

    /// Parses a name from [`Dimension::name`] (a few short forms are accepted too).
    pub fn parse(s: &str) -> Result<Dimension> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match s.as_str() {
            "country" | "destination" => "country-of-exploitation",
            "age" => "age-band",
            "means" => "means-of-control",
            "outcome" => "referral-outcome",
            other => other,
        };
        Dimension::ALL
            .iter()
            .copied()
            .find(|d| d.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
                Error::invalid(
                    "dimension",
                    format!("{s:?} is not one of {}", names.join(", ")),
                )
            })
    }

    /// Whether a case can have several values.
    pub fn multi_valued(self) -> bool {
        matches!(
            self,
            Dimension::Citizenship
                | Dimension::CountryOfExploitation
                | Dimension::CountryOfRecruitment
                | Dimension::Route
                | Dimension::Exploitation
                | Dimension::Labour
                | Dimension::SexualExploitation
                | Dimension::MeansOfControl
                | Dimension::RecruiterRelation
                | Dimension::Service
                | Dimension::ReferralOutcome
        )
    }

    /// The typical number of values per case, for the default contribution bound (a
    /// public constant, not measured on the data).
    fn typical_values(self) -> u32 {
        match self {
            Dimension::Exploitation => 2,
            Dimension::MeansOfControl => 4,
            _ => 1,
        }
    }

    /// The record-release attributes an exact table by this dimension reads; an error
    /// for dimensions the CTDC record release does not hold (they can only be counted
    /// with differential privacy).
    pub fn release_attributes(self) -> Result<&'static [Attribute]> {
        Ok(match self {
            Dimension::Citizenship => &[Attribute::Citizenship],
            Dimension::CountryOfExploitation => &[Attribute::CountryOfExploitation],
            Dimension::Route => &[Attribute::Citizenship, Attribute::CountryOfExploitation],
            Dimension::Year => &[Attribute::Year],
            Dimension::Gender => &[Attribute::Gender],
            Dimension::AgeBand => &[Attribute::Age],
            Dimension::Majority => &[Attribute::Majority],
            Dimension::Exploitation => &[Attribute::Exploitation],
            Dimension::Labour => &[Attribute::Labour],
            Dimension::SexualExploitation => &[Attribute::Sex],
            Dimension::MeansOfControl => &[Attribute::Means],
            Dimension::RecruiterRelation => &[Attribute::Recruiter],
            Dimension::CountryOfRecruitment
            | Dimension::TraffickingStatus
            | Dimension::Service
            | Dimension::ReferralOutcome => {
                return Err(Error::invalid(
                    "dimensions",
                    format!(
                        "{} is not in the k-anonymous CTDC record release, and exact tables \
                         count only released records; count it with differential privacy \
                         (--epsilon)",
                        self.name()
                    ),
                ))
            }
        })
    }

    /// Whether values come from each referral (service and outcome are paired per
    /// referral, not crossed over a case's referrals).
    fn per_referral(self) -> bool {
        matches!(self, Dimension::Service | Dimension::ReferralOutcome)
    }

    /// A readable label of one of this dimension's values.
    pub fn label(self, value: &str, lang: Lang) -> String {
        let country = |v: &str| {
            Country::parse(v)
                .ok()
                .and_then(|c| c.label(lang).map(str::to_string))
        };
        let label = match self {
            Dimension::Citizenship
            | Dimension::CountryOfExploitation
            | Dimension::CountryOfRecruitment => country(value),
            Dimension::Route => value.split_once('-').map(|(a, b)| {
                format!(
                    "{} → {}",
                    country(a).unwrap_or_else(|| a.to_string()),
                    country(b).unwrap_or_else(|| b.to_string())
                )
            }),
            Dimension::Gender => vocab_label::<Gender>(value, lang),
            Dimension::AgeBand => vocab_label::<AgeBand>(value, lang),
            Dimension::Majority => vocab_label::<MajorityStatus>(value, lang),
            Dimension::Exploitation => vocab_label::<ExploitationType>(value, lang),
            Dimension::SexualExploitation => vocab_label::<SexualExploitationType>(value, lang),
            Dimension::MeansOfControl => vocab_label::<MeansOfControl>(value, lang),
            Dimension::RecruiterRelation => vocab_label::<RecruiterRelation>(value, lang),
            Dimension::TraffickingStatus => vocab_label::<TraffickingStatus>(value, lang),
            Dimension::Service => vocab_label::<ServiceType>(value, lang),
            Dimension::ReferralOutcome => vocab_label::<ReferralStatus>(value, lang),
            Dimension::Year | Dimension::Labour => None,
        };
        label.unwrap_or_else(|| value.to_string())
    }
}

/// What to count and how to protect it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    /// One to three dimensions.
    pub dimensions: Vec<Dimension>,
    /// Cells below k are suppressed.
    pub k: u32,
    /// Alpha-2 or alpha-3 country codes in values.
    pub country_codes: CountryCodes,
    /// Differential privacy, if wanted.
    pub dp: Option<DpSpec>,
    /// The years of the year dimension (inclusive); other years count as `Unknown`.
    /// Default: 2000 to the current year. It must not depend on the data (it is the
    /// domain every DP cell is drawn from).
    pub years: Option<(i32, i32)>,
    /// Exact tables (without DP) count the records of this k-anonymous record release
    /// and nothing else (decision 0018). `None`: the attributes of the table's
    /// dimensions, without generalization. Publish every exact output of one data set
    /// from one release (the CLI pins it in the store's privacy ledger).
    pub release: Option<ReleaseSpec>,
}

/// The k-anonymous record release an exact table is counted from: which attributes it
/// releases and whether it generalizes them (k and country codes come from the
/// [`TableSpec`] or the [`RecordOptions`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSpec {
    /// Released attributes (sorted, without repeats).
    pub attributes: Vec<Attribute>,
    /// Whether the generalization search runs before suppression.
    pub generalize: bool,
    /// Attributes the generalization leaves at full detail (sorted, without repeats).
    pub keep: Vec<Attribute>,
}

impl ReleaseSpec {
    /// A release of `attributes` (put in order; repeats removed).
    pub fn new(attributes: &[Attribute], generalize: bool, keep: &[Attribute]) -> ReleaseSpec {
        let norm = |a: &[Attribute]| {
            let mut v = a.to_vec();
            v.sort();
            v.dedup();
            v
        };
        ReleaseSpec {
            attributes: norm(attributes),
            generalize,
            keep: norm(keep),
        }
    }

    /// The release a table of `dims` uses when none is given: the attributes of its
    /// dimensions (an error for a dimension the CTDC record release does not hold).
    pub fn for_dimensions(dims: &[Dimension]) -> Result<ReleaseSpec> {
        let mut attrs = Vec::new();
        for d in dims {
            attrs.extend_from_slice(d.release_attributes()?);
        }
        Ok(ReleaseSpec::new(&attrs, false, &[]))
    }

    /// The record options of this release.
    pub fn options(&self, k: u32, country_codes: CountryCodes) -> RecordOptions {
        RecordOptions {
            k,
            attributes: self.attributes.clone(),
            country_codes,
            generalize: self.generalize,
            keep: self.keep.clone(),
        }
    }

    /// A short description (`"citizenship, gender; generalized"`).
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.attributes.iter().map(|a| a.name()).collect();
        let mut s = names.join(", ");
        if self.generalize {
            s.push_str("; generalized");
            if !self.keep.is_empty() {
                let keep: Vec<&str> = self.keep.iter().map(|a| a.name()).collect();
                s.push_str(&format!(" keeping {}", keep.join(", ")));
            }
        }
        s
    }
}

impl TableSpec {
    /// A spec with CTDC's k, alpha-3 codes and no DP.
    pub fn new(dimensions: Vec<Dimension>) -> TableSpec {
        TableSpec {
            dimensions,
            k: DEFAULT_K,
            country_codes: CountryCodes::default(),
            dp: None,
            years: None,
            release: None,
        }
    }
}

/// One released cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The value of each dimension.
    pub values: Vec<String>,
    /// The count (exact, or noised and post-processed).
    pub count: u64,
    /// DP only: the half-width of the 95% interval of the noise (the true count is
    /// within `count ± noise_95` with 95% probability, before selection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_95: Option<u64>,
}

/// A table safe to publish.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The dimensions, in order.
    pub dimensions: Vec<Dimension>,
    /// What is counted.
    pub unit: String,
    /// Country code style of the values.
    pub country_codes: CountryCodes,
    /// Released cells, largest first.
    pub cells: Vec<Cell>,
    /// Sum of the released cells.
    pub released_total: u64,
    /// Cells suppressed as below k: 0 for exact tables (they count only k-anonymous
    /// released records, so no cell is below k); `None` with DP.
    pub suppressed_cells: Option<usize>,
    /// Exact tables: records outside the k-anonymous release (groups below k), when 0
    /// or at least k (`None`: fewer than k, not shown). DP: the noisy total minus the
    /// released cells.
    pub suppressed_total: Option<u64>,
    /// Exact tables: the released records counted (equal to `released_total`). DP: the
    /// noisy total (`released_total + suppressed_total`).
    pub total: Option<u64>,
    /// The protection and the privacy budget spent.
    pub privacy: PrivacyReport,
    /// The column names of the dimensions' values in the written files; empty: one
    /// column per dimension, named [`Dimension::name`] (Caravan layout). Set by
    /// [`Table::in_schema`] (a CTDC route is two columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Exact tables: the release attributes (see [`Attribute::name`]) that the record
    /// release generalized (values such as regions, not CTDC codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generalized: Vec<String>,
}

/// Value domains of the dimensions.
struct Domains {
    countries: Vec<Country>,
    country_index: KeyMap<u64, u32>,
    years: (i32, i32),
    codes: CountryCodes,
}

fn country_key(code: &str) -> u64 {
    code.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(257).wrapping_add(u64::from(b))
    })
}

impl Domains {
    fn new(spec: &TableSpec) -> Domains {
        let countries: Vec<Country> = Country::all().collect();
        let mut country_index = KeyMap::default();
        for (i, c) in countries.iter().enumerate() {
            country_index.insert(country_key(c.code()), i as u32);
        }
        let this_year = Timestamp::now().ymd().0;
        Domains {
            countries,
            country_index,
            years: spec.years.unwrap_or((2000, this_year.max(2000))),
            codes: spec.country_codes,
        }
    }

    fn country(&self, c: &Country) -> u32 {
        if !c.is_known() {
            return self.countries.len() as u32;
        }
        self.country_index
            .get(&country_key(c.code()))
            .copied()
            .unwrap_or(self.countries.len() as u32)
    }

    fn country_name(&self, i: u32) -> String {
        self.countries
            .get(i as usize)
            .map_or_else(|| UNKNOWN.to_string(), |c| self.codes.render(c))
    }

    /// Number of values of `d`, `Unknown` included.
    fn size(&self, d: Dimension) -> u64 {
        let n = self.countries.len() as u64 + 1;
        match d {
            Dimension::Citizenship
            | Dimension::CountryOfExploitation
            | Dimension::CountryOfRecruitment => n,
            Dimension::Route => n * n,
            Dimension::Year => (self.years.1 - self.years.0 + 1).max(0) as u64 + 1,
            Dimension::Gender => Gender::ALL.len() as u64 + 1,
            Dimension::AgeBand => AgeBand::ALL.len() as u64 + 1,
            Dimension::Majority => MajorityStatus::ALL.len() as u64 + 1,
            Dimension::Exploitation => ExploitationType::ALL.len() as u64 + 1,
            Dimension::Labour => LABOUR_TYPES.len() as u64 + 1,
            Dimension::SexualExploitation => SexualExploitationType::ALL.len() as u64 + 1,
            Dimension::MeansOfControl => MeansOfControl::ALL.len() as u64 + 1,
            Dimension::RecruiterRelation => RecruiterRelation::ALL.len() as u64 + 1,
            Dimension::TraffickingStatus => TraffickingStatus::ALL.len() as u64 + 1,
            Dimension::Service => ServiceType::ALL.len() as u64 + 1,
            // Each status, plus "None" (no status yet); unknown codes count as None.
            Dimension::ReferralOutcome => ReferralStatus::ALL.len() as u64 + 1,
        }
    }

    /// The name of value `i` of `d`.
    fn value(&self, d: Dimension, i: u64) -> String {
        let n = self.countries.len() as u64 + 1;
        let vocab = |codes: Vec<String>| {
            codes
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| UNKNOWN.to_string())
        };
        match d {
            Dimension::Citizenship
            | Dimension::CountryOfExploitation
            | Dimension::CountryOfRecruitment => self.country_name(i as u32),
            Dimension::Route => {
                format!(
                    "{}-{}",
                    self.country_name((i / n) as u32),
                    self.country_name((i % n) as u32)
                )
            }
            Dimension::Year => {
                let y = self.years.0 as i64 + i as i64;
                if y <= self.years.1 as i64 {
                    y.to_string()
                } else {
                    UNKNOWN.to_string()
                }
            }
            Dimension::Gender => vocab(vocab_codes::<Gender>()),
            Dimension::AgeBand => vocab(vocab_codes::<AgeBand>()),
            Dimension::Majority => vocab(vocab_codes::<MajorityStatus>()),
            Dimension::Exploitation => vocab(vocab_codes::<ExploitationType>()),
            Dimension::Labour => vocab(LABOUR_TYPES.iter().map(|s| s.to_string()).collect()),
            Dimension::SexualExploitation => vocab(vocab_codes::<SexualExploitationType>()),
            Dimension::MeansOfControl => vocab(vocab_codes::<MeansOfControl>()),
            Dimension::RecruiterRelation => vocab(vocab_codes::<RecruiterRelation>()),
            Dimension::TraffickingStatus => vocab(vocab_codes::<TraffickingStatus>()),
            Dimension::Service => vocab(vocab_codes::<ServiceType>()),
            Dimension::ReferralOutcome => {
                let mut codes = vocab_codes::<ReferralStatus>();
                codes.push("None".into());
                vocab(codes)
            }
        }
    }

    /// The value indices of `d` for a case (and one of its referrals), deduplicated;
    /// `Unknown` when it has none.
    fn values(&self, d: Dimension, r: &StatRecord, referral: Option<&StatReferral>) -> Vec<u64> {
        let unknown = self.size(d) - 1;
        let opt = |i: Option<u32>| vec![i.map_or(unknown, u64::from)];
        let many = |it: &mut dyn Iterator<Item = Option<u32>>| -> Vec<u64> {
            let mut v: Vec<u64> = it.map(|i| i.map_or(unknown, u64::from)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut out = match d {
            Dimension::Citizenship => r
                .citizenship
                .iter()
                .map(|c| u64::from(self.country(c)))
                .collect(),
            Dimension::CountryOfExploitation | Dimension::CountryOfRecruitment => {
                let kind = if d == Dimension::CountryOfExploitation {
                    RouteEventKind::Exploitation
                } else {
                    RouteEventKind::Recruitment
                };
                r.route
                    .iter()
                    .filter(|e| e.kind == kind)
                    .map(|e| u64::from(self.country(&e.country)))
                    .collect()
            }
            Dimension::Route => {
                let n = self.countries.len() as u64 + 1;
                let from = self.values(Dimension::Citizenship, r, None);
                let to = self.values(Dimension::CountryOfExploitation, r, None);
                from.iter()
                    .flat_map(|a| to.iter().map(move |b| a * n + b))
                    .collect()
            }
            Dimension::Year => {
                let y = r.year();
                if (self.years.0..=self.years.1).contains(&y) {
                    vec![(y - self.years.0) as u64]
                } else {
                    vec![unknown]
                }
            }
            Dimension::Gender => opt(r.gender.as_ref().and_then(vocab_index)),
            Dimension::AgeBand => opt(r.age_band.as_ref().and_then(vocab_index)),
            Dimension::Majority => opt(r.majority_at_registration.as_ref().and_then(vocab_index)),
            Dimension::TraffickingStatus => {
                opt(r.trafficking_status.as_ref().and_then(vocab_index))
            }
            Dimension::Exploitation => many(&mut r.exploitation.iter().map(vocab_index)),
            Dimension::Labour => many(&mut r.labour_industry.iter().map(|l| {
                let t = l.ctdc_type_of_labour();
                LABOUR_TYPES.iter().position(|x| *x == t).map(|i| i as u32)
            })),
            Dimension::SexualExploitation => {
                many(&mut r.sexual_exploitation.iter().map(vocab_index))
            }
            Dimension::MeansOfControl => many(&mut r.means_of_control.iter().map(vocab_index)),
            Dimension::RecruiterRelation => many(&mut r.recruiter_relation.iter().map(vocab_index)),
            Dimension::Service => opt(referral.and_then(|x| vocab_index(&x.service))),
            Dimension::ReferralOutcome => {
                let none = ReferralStatus::ALL.len() as u32;
                opt(Some(
                    referral
                        .and_then(|x| x.status.as_ref())
                        .and_then(vocab_index)
                        .unwrap_or(none),
                ))
            }
        };
        out.sort_unstable();
        out.dedup();
        if out.is_empty() {
            out.push(unknown);
        }
        out
    }
}

/// The largest noise scale (Laplace Δ₁/ε or Gaussian σ) a table is computed with; the
/// ε floor keeps real scales far below it (at most about 2,000).
const MAX_NOISE_SCALE: f64 = 1e6;

/// Counts `records` as `spec` says, with noise from the system's cryptographic
/// generator when `spec.dp` is set.
pub fn table(records: &[StatRecord], spec: &TableSpec) -> Result<Table> {
    table_with_noise(records, spec, &mut SystemNoise::new())
}

/// As [`table`], with noise from `noise`. Publish only tables made with a
/// cryptographic source such as [`SystemNoise`].
pub fn table_with_noise(
    records: &[StatRecord],
    spec: &TableSpec,
    noise: &mut dyn NoiseSource,
) -> Result<Table> {
    let dims = &spec.dimensions;
    if dims.is_empty() || dims.len() > 3 {
        return Err(Error::invalid(
            "dimensions",
            "count by one, two or three dimensions",
        ));
    }
    let mut seen = dims.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != dims.len() {
        return Err(Error::invalid("dimensions", "a dimension is given twice"));
    }
    if spec.k == 0 {
        return Err(Error::invalid("k", "k must be at least 1"));
    }
    if let Some((a, b)) = spec.years {
        if b < a || b - a > 200 {
            return Err(Error::invalid("years", "give a range of at most 200 years"));
        }
    }
    let Some(dp) = &spec.dp else {
        return exact_table(records, spec);
    };
    dp.validate()?;
    let domains = Domains::new(spec);
    let sizes: Vec<u64> = dims.iter().map(|&d| domains.size(d)).collect();
    // Cells are numbered in the whole domain (the product of the dimensions' sizes),
    // which must fit the numbering.
    let cells = sizes.iter().try_fold(1u64, |acc, &s| acc.checked_mul(s));
    match cells {
        Some(c) if c <= MAX_DP_CELLS => {}
        _ => {
            return Err(Error::invalid(
                "dimensions",
                format!(
                    "the table has too many possible cells for differential privacy (at most \
                     {MAX_DP_CELLS}); use fewer or smaller dimensions"
                ),
            ))
        }
    }
    let per_referral = dims.iter().any(|d| d.per_referral());
    let contributions = spec.dp.as_ref().map(|dp| {
        dp.max_contributions.unwrap_or_else(|| {
            let per_case: u32 = dims.iter().map(|d| d.typical_values()).product();
            (per_case * if per_referral { 2 } else { 1 }).min(8)
        })
    });

    // Each case's cells: the product of its values (per referral for referral
    // dimensions), deduplicated, at most `contributions` of them.
    let mut counts: KeyMap<u64, u64> = KeyMap::default();
    let mut case_cells: Vec<u64> = Vec::new();
    let mut total: u64 = 0;
    for r in records {
        case_cells.clear();
        let referrals: Vec<Option<&StatReferral>> = if per_referral {
            r.referrals.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for referral in referrals {
            let mut partial = vec![0u64];
            for (&d, &size) in dims.iter().zip(&sizes) {
                let vals = domains.values(d, r, referral);
                partial = partial
                    .iter()
                    .flat_map(|p| vals.iter().map(move |v| p * size + v))
                    .collect();
            }
            case_cells.extend(partial);
        }
        case_cells.sort_unstable();
        case_cells.dedup();
        if let Some(c) = contributions {
            let c = c as usize;
            if case_cells.len() > c {
                // A uniformly random subset of c cells (partial Fisher–Yates).
                for i in 0..c {
                    let j = i + below(noise, (case_cells.len() - i) as u64)? as usize;
                    case_cells.swap(i, j);
                }
                case_cells.truncate(c);
            }
        }
        for &cell in &case_cells {
            *counts.entry(cell).or_insert(0) += 1;
            total += 1;
        }
    }

    let k = u64::from(spec.k);
    let c = contributions.unwrap_or(1);
    let eps_total = dp.epsilon * TOTAL_SHARE;
    let eps_cells = dp.epsilon - eps_total;
    let c_f = f64::from(c);
    // Laplace: all of δ bounds partition selection. Gaussian: half for the noise, half
    // for the selection.
    let (scale, delta_selection) = match dp.mechanism {
        Mechanism::Laplace => (c_f / eps_cells, dp.delta),
        Mechanism::Gaussian => (
            gaussian_sigma(eps_cells, dp.delta / 2.0, c_f.sqrt())?,
            dp.delta / 2.0,
        ),
    };
    let selection = match dp.mechanism {
        Mechanism::Laplace => {
            selection_threshold(&dp.mechanism, eps_cells / c_f, c, delta_selection)
        }
        Mechanism::Gaussian => selection_threshold(&dp.mechanism, scale, c, delta_selection),
    };
    // The ε floor keeps these in range; this second check does not rely on it. A noise
    // parameter too small for the sampler (ε = 1e-300 made the geometric draws
    // saturate and cancel: exact counts labelled as noisy) is refused, not used.
    let t = eps_cells / c_f;
    if !(scale.is_finite() && scale > 0.0 && scale <= MAX_NOISE_SCALE && t >= 1.0 / MAX_NOISE_SCALE)
    {
        return Err(Error::invalid(
            "epsilon",
            "the noise scale for this ε is not a finite number; choose a larger ε",
        ));
    }
    let threshold = selection.max(k);
    let half_width = noise_half_width_95(&dp.mechanism, eps_cells / c_f, scale);
    // Partition selection: only cells holding at least one case are candidates (no
    // cell is ever invented), in a fixed order (the noise must not depend on a hash
    // map's order); one is released if its noisy count reaches the threshold.
    let mut candidates: Vec<(u64, u64)> = counts.into_iter().collect();
    candidates.sort_unstable();
    let mut released: Vec<(u64, u64)> = Vec::new();
    for (cell, exact) in candidates {
        let noisy = match dp.mechanism {
            Mechanism::Laplace => {
                exact as f64 + sample_discrete_laplace(noise, eps_cells / c_f)? as f64
            }
            Mechanism::Gaussian => exact as f64 + sample_gaussian(noise, scale)?,
        };
        let count = noisy.round().max(0.0) as u64;
        if count >= threshold {
            released.push((cell, count));
        }
    }
    let released_sum: u64 = released
        .iter()
        .fold(0u64, |sum, (_, c)| sum.saturating_add(*c));
    let noisy_total = (total as f64 + sample_discrete_laplace(noise, eps_total / c_f)? as f64)
        .round()
        .max(0.0) as u64;
    let consistent = noisy_total.max(released_sum);
    let delta = dp.delta;
    let mech = match dp.mechanism {
        Mechanism::Laplace => format!("discrete Laplace noise of scale {scale:.2} on cells"),
        Mechanism::Gaussian => format!("Gaussian noise σ = {scale:.2} on cells"),
    };
    let privacy = PrivacyReport {
        differentially_private: true,
        mechanism: dp.mechanism.name().into(),
        epsilon: Some(dp.epsilon),
        delta: Some(delta),
        epsilon_cells: Some(eps_cells),
        epsilon_total: Some(eps_total),
        max_contributions: Some(c),
        cell_noise_scale: Some(scale),
        k: spec.k,
        threshold,
        selection_threshold: Some(selection),
        noise_95: Some(half_width),
        statement: format!(
            "(ε = {}, δ = {delta:e}) differential privacy: {mech} (ε = {eps_cells:.4}), \
             Laplace noise on the total (ε = {eps_total:.4}); each case counts in at most \
             {c} cell(s); only cells holding at least one case are candidates, and one is \
             shown only if its noisy count is at least {threshold} (the larger of k = {} \
             and the partition selection threshold {selection}: a cell of a single person \
             appears with probability at most δ); a shown count is within ±{half_width} of \
             the true count with 95% probability before selection",
            dp.epsilon, spec.k
        ),
    };
    let (suppressed_cells, suppressed_total, table_total) =
        (None, Some(consistent - released_sum), Some(consistent));

    let mut out_cells: Vec<Cell> = released
        .into_iter()
        .map(|(cell, count)| {
            let mut rest = cell;
            let mut values = vec![String::new(); dims.len()];
            for i in (0..dims.len()).rev() {
                values[i] = domains.value(dims[i], rest % sizes[i]);
                rest /= sizes[i];
            }
            Cell {
                values,
                count,
                noise_95: Some(half_width),
            }
        })
        .collect();
    out_cells.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.values.cmp(&b.values)));
    let released_total = out_cells
        .iter()
        .fold(0u64, |sum, c| sum.saturating_add(c.count));
    Ok(Table {
        dimensions: dims.clone(),
        unit: if per_referral {
            "cases (per referral)"
        } else {
            "cases"
        }
        .into(),
        country_codes: spec.country_codes,
        cells: out_cells,
        released_total,
        suppressed_cells,
        suppressed_total,
        total: table_total,
        privacy,
        columns: Vec::new(),
        generalized: Vec::new(),
    })
}

/// The count of records outside a k-anonymous release, or `None` when it is between 1
/// and k − 1: such a remainder is itself a small count (decision 0018), so it is
/// published only as "fewer than k".
pub fn publishable_remainder(remainder: u64, k: u32) -> Option<u64> {
    (remainder == 0 || remainder >= u64::from(k)).then_some(remainder)
}

/// How an exact table reads one dimension from the record release's columns.
enum ReleaseColumns {
    /// One column: its value, `Unknown` when missing.
    One(usize),
    /// Citizenship and country of exploitation, joined as a route.
    Route(usize, usize),
    /// A group of CTDC boolean columns: the name of each set one (after the prefix);
    /// `Unknown` when all are missing, `None` when none is set.
    Flags(Vec<(usize, String)>),
}

impl ReleaseColumns {
    fn find(d: Dimension, columns: &[&str], release: &ReleaseSpec) -> Result<ReleaseColumns> {
        let missing = || {
            Error::invalid(
                "dimensions",
                format!(
                    "{} is not in this data set's k-anonymous record release ({}), and exact \
                     tables count only released records; release it or use differential \
                     privacy (--epsilon)",
                    d.name(),
                    release.describe()
                ),
            )
        };
        let one = |name: &str| columns.iter().position(|c| *c == name).ok_or_else(missing);
        let flags = |prefix: &str, renames: &[(&str, &str)]| {
            let found: Vec<(usize, String)> = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.starts_with(prefix))
                .map(|(i, c)| {
                    let name = renames
                        .iter()
                        .find(|(from, _)| from == c)
                        .map_or_else(|| c[prefix.len()..].to_string(), |(_, to)| to.to_string());
                    (i, name)
                })
                .collect();
            if found.is_empty() {
                Err(missing())
            } else {
                Ok(ReleaseColumns::Flags(found))
            }
        };
        d.release_attributes()?;
        match d {
            Dimension::Citizenship => one("citizenship").map(ReleaseColumns::One),
            Dimension::CountryOfExploitation => {
                one("CountryOfExploitation").map(ReleaseColumns::One)
            }
            Dimension::Route => Ok(ReleaseColumns::Route(
                one("citizenship")?,
                one("CountryOfExploitation")?,
            )),
            Dimension::Year => one("yearOfRegistration").map(ReleaseColumns::One),
            Dimension::Gender => one("gender").map(ReleaseColumns::One),
            Dimension::AgeBand => one("ageBroad").map(ReleaseColumns::One),
            Dimension::Majority => one("majorityStatus").map(ReleaseColumns::One),
            Dimension::Exploitation => flags(
                "is",
                &[
                    ("isForcedLabour", "ForcedLabour"),
                    ("isSexualExploit", "SexualExploitation"),
                    ("isOtherExploit", "OtherExploitation"),
                ],
            ),
            Dimension::MeansOfControl => flags("means", &[]),
            Dimension::Labour => flags("typeOfLabour", &[]),
            Dimension::SexualExploitation => flags("typeOfSex", &[]),
            Dimension::RecruiterRelation => flags("recruiterRelation", &[]),
            _ => Err(missing()),
        }
    }

    fn values(&self, row: &[Option<String>]) -> Vec<String> {
        let get = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| UNKNOWN.to_string())
        };
        match self {
            ReleaseColumns::One(i) => vec![get(*i)],
            ReleaseColumns::Route(a, b) => vec![format!("{}-{}", get(*a), get(*b))],
            ReleaseColumns::Flags(cols) => {
                let set: Vec<String> = cols
                    .iter()
                    .filter(|(i, _)| row.get(*i).and_then(|v| v.as_deref()) == Some("1"))
                    .map(|(_, name)| name.clone())
                    .collect();
                if !set.is_empty() {
                    set
                } else if cols
                    .iter()
                    .all(|(i, _)| row.get(*i).is_none_or(|v| v.is_none()))
                {
                    vec![UNKNOWN.to_string()]
                } else {
                    vec!["None".to_string()]
                }
            }
        }
    }
}

/// An exact table: the k-anonymous record release of `spec.release` is made, and its
/// released records, and only they, are counted. Every cell is then a union of whole
/// release groups of at least k records, and so is the difference of any two nested
/// counts (decision 0018). Records outside the release are reported as one remainder,
/// when it is 0 or at least k.
fn exact_table(records: &[StatRecord], spec: &TableSpec) -> Result<Table> {
    let dims = &spec.dimensions;
    let release = match &spec.release {
        Some(r) => r.clone(),
        None => ReleaseSpec::for_dimensions(dims)?,
    };
    let export = export_records(records, &release.options(spec.k, spec.country_codes))?;
    let columns = export.columns();
    let readers: Vec<ReleaseColumns> = dims
        .iter()
        .map(|&d| ReleaseColumns::find(d, columns, &release))
        .collect::<Result<_>>()?;
    let mut counts: std::collections::BTreeMap<Vec<String>, u64> = Default::default();
    for (row, n) in export.groups() {
        let mut partial: Vec<Vec<String>> = vec![Vec::new()];
        for reader in &readers {
            let vals = reader.values(row);
            partial = partial
                .iter()
                .flat_map(|p| {
                    vals.iter().map(move |v| {
                        let mut p = p.clone();
                        p.push(v.clone());
                        p
                    })
                })
                .collect();
        }
        for cell in partial {
            *counts.entry(cell).or_insert(0) += u64::from(*n);
        }
    }
    let mut cells: Vec<Cell> = counts
        .into_iter()
        .map(|(values, count)| Cell {
            values,
            count,
            noise_95: None,
        })
        .collect();
    cells.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.values.cmp(&b.values)));
    let released_total = cells.iter().map(|c| c.count).sum();
    let withheld = export.report.publishable_redacted().map(|n| n as u64);
    let mut privacy = PrivacyReport::suppression_only(spec.k);
    privacy.statement = format!(
        "not differentially private: exact counts of the {} record(s) of the k-anonymous \
         record release ({}; k = {}), every count a sum of groups of at least k records; no \
         privacy budget spent",
        export.report.released,
        release.describe(),
        spec.k
    );
    Ok(Table {
        dimensions: dims.clone(),
        unit: "released records".into(),
        country_codes: spec.country_codes,
        cells,
        released_total,
        suppressed_cells: Some(0),
        suppressed_total: withheld,
        total: Some(released_total),
        privacy,
        columns: Vec::new(),
        generalized: export
            .report
            .generalization
            .iter()
            .filter(|g| g.level > 0)
            .map(|g| g.attribute.clone())
            .collect(),
    })
}

impl Table {
    /// Sums of released cells by the values of dimension `dim` (a margin), largest
    /// first. Consistent with the cells by construction.
    pub fn margin(&self, dim: usize) -> Vec<(String, u64)> {
        let mut sums: Vec<(String, u64)> = Vec::new();
        for cell in &self.cells {
            let Some(v) = cell.values.get(dim) else {
                continue;
            };
            match sums.iter_mut().find(|(k, _)| k == v) {
                Some((_, s)) => *s += cell.count,
                None => sums.push((v.clone(), cell.count)),
            }
        }
        sums.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sums
    }

    /// CSV: one column per dimension and `count` (with DP also `low95` and `high95`,
    /// the 95% noise interval), then labelled summary rows, the label in the first
    /// column and the figure in `count`: `(total)`, `(not shown)` (DP: the noisy
    /// remainder) or `(outside the release)` (exact: records in groups below k, `<k`
    /// when fewer than k), `(epsilon)` and `(delta)` (`none` without DP).
    pub fn to_csv(&self) -> String {
        self.to_csv_in(Lang::En)
    }

    /// JSON: the whole table with totals and its privacy report.
    pub fn to_json(&self) -> Result<String> {
        json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::dp::SeededNoise;
    use crate::export::testdata::{self, Rng};

    fn spec(dims: &[Dimension]) -> TableSpec {
        TableSpec {
            years: Some((2015, 2026)),
            ..TableSpec::new(dims.to_vec())
        }
    }

    fn check_consistent(t: &Table) {
        assert!(t.cells.iter().all(|c| c.count >= u64::from(t.privacy.k)));
        assert_eq!(
            t.released_total,
            t.cells.iter().map(|c| c.count).sum::<u64>()
        );
        if t.privacy.differentially_private {
            assert_eq!(
                t.total.unwrap(),
                t.released_total + t.suppressed_total.unwrap()
            );
        } else {
            // Exact: the total is the released records; the remainder is apart.
            assert_eq!(t.total, Some(t.released_total));
        }
        for d in 0..t.dimensions.len() {
            assert_eq!(
                t.margin(d).iter().map(|(_, s)| s).sum::<u64>(),
                t.released_total
            );
        }
    }

    #[test]
    fn exact_tables_count_only_released_records() {
        let records = testdata::skewed(5_000, 11);
        let release = ReleaseSpec::new(
            &[Attribute::Citizenship, Attribute::CountryOfExploitation],
            false,
            &[],
        );
        let mut s = spec(&[Dimension::Citizenship, Dimension::CountryOfExploitation]);
        s.release = Some(release.clone());
        let t = table(&records, &s).unwrap();
        check_consistent(&t);
        assert!(!t.privacy.differentially_private);
        assert_eq!(t.suppressed_cells, Some(0));
        // Recount from the record export's rows: every cell is the number of released
        // rows with its values, and nothing else is counted.
        let export = export_records(&records, &release.options(11, CountryCodes::Alpha3)).unwrap();
        let mut n_released = 0;
        for cell in &t.cells {
            let n = export
                .rows()
                .filter(|r| {
                    r[0].as_deref().unwrap_or(UNKNOWN) == cell.values[0]
                        && r[1].as_deref().unwrap_or(UNKNOWN) == cell.values[1]
                })
                .count() as u64;
            assert_eq!(n, cell.count, "{:?}", cell.values);
            n_released += n;
        }
        assert_eq!(n_released, export.report.released as u64);
        assert_eq!(t.total, Some(n_released));
        let withheld = (records.len() - export.report.released) as u64;
        assert!(withheld >= 11, "the long tail is withheld");
        assert_eq!(t.suppressed_total, Some(withheld));
        assert!(t.cells.iter().any(|c| c.values == ["KGZ", "RUS"]));
        // Three dimensions, release from the dimensions themselves.
        let t3 = table(
            &records,
            &spec(&[
                Dimension::Exploitation,
                Dimension::Gender,
                Dimension::AgeBand,
            ]),
        )
        .unwrap();
        check_consistent(&t3);
        assert!(t3
            .cells
            .iter()
            .any(|c| c.values == ["ForcedLabour", "Man", "30--38"]));
        // A dimension outside the release is refused, and so is one outside CTDC.
        let mut s = spec(&[Dimension::Gender]);
        s.release = Some(release);
        let e = table(&records, &s).unwrap_err().to_string();
        assert!(
            e.contains("not in this data set's k-anonymous record release"),
            "{e}"
        );
        let e = table(&records, &spec(&[Dimension::Service]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--epsilon"), "{e}");
    }

    #[test]
    fn csv_files_carry_the_total_the_remainder_and_epsilon() {
        let records = testdata::skewed(2_000, 6);
        let exact = table(&records, &spec(&[Dimension::Gender])).unwrap();
        let csv = exact.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "gender,count");
        let n = lines.len();
        assert_eq!(lines[n - 4], format!("(total),{}", exact.total.unwrap()));
        let rest = exact
            .suppressed_total
            .map_or_else(|| "<11".to_string(), |w| w.to_string());
        assert_eq!(lines[n - 3], format!("(outside the release),{rest}"));
        assert_eq!(lines[n - 2], "(epsilon),none");
        let mut s = spec(&[Dimension::Citizenship, Dimension::CountryOfExploitation]);
        s.dp = Some(DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(6))).unwrap();
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "citizenship,country-of-exploitation,count,low95,high95"
        );
        let w = t.privacy.noise_95.unwrap();
        assert!(w > 0);
        let first = &t.cells[0];
        assert_eq!(
            lines[1],
            format!(
                "{},{},{},{},{}",
                first.values[0],
                first.values[1],
                first.count,
                first.count - w,
                first.count + w
            )
        );
        let n = lines.len();
        assert_eq!(lines[n - 4], format!("(total),,{},,", t.total.unwrap()));
        assert_eq!(
            lines[n - 3],
            format!("(not shown),,{},,", t.suppressed_total.unwrap())
        );
        assert_eq!(lines[n - 2], "(epsilon),,1,,");
        assert_eq!(lines[n - 1], "(delta),,1e-6,,");
    }

    #[test]
    fn the_withheld_remainder_is_shown_only_when_0_or_at_least_k() {
        let mut records = testdata::skewed(200, 5);
        for r in &mut records {
            r.gender = Some(Gender::Masculine);
        }
        records[0].gender = Some(Gender::Feminine);
        let t = table(&records, &spec(&[Dimension::Gender])).unwrap();
        assert_eq!(t.cells.len(), 1);
        assert_eq!(t.released_total, 199);
        assert_eq!(t.total, Some(199));
        assert_eq!(t.suppressed_total, None, "1 withheld record is not counted");
        let t = table(&records[1..], &spec(&[Dimension::Gender])).unwrap();
        assert_eq!(t.suppressed_total, Some(0));
        for (i, r) in records.iter_mut().enumerate().take(11) {
            r.gender = Some(if i % 2 == 0 {
                Gender::Feminine
            } else {
                Gender::NonConforming
            });
        }
        let t = table(&records, &spec(&[Dimension::Gender])).unwrap();
        assert_eq!(t.suppressed_total, Some(11), "two small cells, 11 records");
        assert_eq!(publishable_remainder(0, 11), Some(0));
        assert_eq!(publishable_remainder(10, 11), None);
        assert_eq!(publishable_remainder(11, 11), Some(11));
    }

    #[test]
    fn referral_outcomes_pair_service_and_status() {
        let records = testdata::skewed(3_000, 8);
        let mut s = spec(&[Dimension::Service, Dimension::ReferralOutcome]);
        s.dp = Some(DpSpec {
            epsilon: 10.0,
            mechanism: Mechanism::Laplace,
            max_contributions: Some(8),
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(8))).unwrap();
        check_consistent(&t);
        let cell = t
            .cells
            .iter()
            .find(|c| c.values == ["Shelter", "Completed"])
            .unwrap();
        let n = records
            .iter()
            .filter(|r| {
                r.referrals.iter().any(|x| {
                    x.service == ServiceType::Shelter && x.status == Some(ReferralStatus::Completed)
                })
            })
            .count() as u64;
        assert!(cell.count.abs_diff(n) <= 3, "{} vs {n}", cell.count);
        let mut s = spec(&[Dimension::Year, Dimension::Route]);
        s.release = Some(ReleaseSpec::new(
            &[
                Attribute::Year,
                Attribute::Citizenship,
                Attribute::CountryOfExploitation,
            ],
            false,
            &[],
        ));
        let years = table(&records, &s).unwrap();
        check_consistent(&years);
        assert!(years.cells.iter().any(|c| c.values[1] == "UZB-RUS"));
    }

    #[test]
    fn dp_tables_are_noisy_consistent_and_report_epsilon() {
        let records = testdata::skewed(5_000, 12);
        let exact = table(
            &records,
            &spec(&[Dimension::Citizenship, Dimension::CountryOfExploitation]),
        )
        .unwrap();
        for mechanism in [Mechanism::Laplace, Mechanism::Gaussian] {
            let mut s = spec(&[Dimension::Citizenship, Dimension::CountryOfExploitation]);
            s.dp = Some(DpSpec {
                epsilon: 1.0,
                mechanism,
                max_contributions: None,
                delta: crate::export::dp::DEFAULT_DELTA,
            });
            let mut noise = SeededNoise(Rng::new(99));
            let t = table_with_noise(&records, &s, &mut noise).unwrap();
            check_consistent(&t);
            assert!(t.privacy.differentially_private);
            assert_eq!(t.privacy.epsilon, Some(1.0));
            assert_eq!(t.privacy.mechanism, mechanism.name());
            assert!(
                (t.privacy.epsilon_cells.unwrap() + t.privacy.epsilon_total.unwrap() - 1.0).abs()
                    < 1e-12
            );
            assert_eq!(t.privacy.max_contributions, Some(1));
            assert!(t.privacy.threshold >= 11);
            assert!(t.total.is_some() && t.suppressed_total.is_some());
            assert!(t.suppressed_cells.is_none());
            // Big cells stay close to the truth; noise is there.
            let big = exact
                .cells
                .iter()
                .find(|c| c.values == ["KGZ", "RUS"])
                .unwrap();
            let noisy = t.cells.iter().find(|c| c.values == ["KGZ", "RUS"]).unwrap();
            assert!(
                noisy.count.abs_diff(big.count) < 60,
                "{} vs {}",
                noisy.count,
                big.count
            );
            let total = t.total.unwrap();
            assert!(total.abs_diff(records.len() as u64) < 400, "{total}");
        }
        // Different noise, different counts.
        let mut s = spec(&[Dimension::Exploitation]);
        s.dp = Some(DpSpec {
            epsilon: 0.5,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        let a = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(1))).unwrap();
        let b = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(2))).unwrap();
        assert_ne!(a.cells, b.cells);
        check_consistent(&a);
    }

    #[test]
    fn contribution_bound_limits_each_case() {
        let mut records = testdata::skewed(50, 2);
        for r in &mut records {
            r.means_of_control = MeansOfControl::ALL.to_vec();
        }
        let mut s = spec(&[Dimension::MeansOfControl]);
        s.k = 1;
        s.dp = Some(DpSpec {
            epsilon: 10.0,
            mechanism: Mechanism::Laplace,
            max_contributions: Some(2),
            // A large δ lowers the selection threshold to 2, so small cells show too.
            delta: 0.4,
        });
        let t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(3))).unwrap();
        assert_eq!(t.privacy.threshold, 2);
        // With ε = 10 the noise is almost always 0: 50 cases × 2 cells.
        assert!(t.released_total.abs_diff(100) <= 3, "{}", t.released_total);
    }

    #[test]
    fn invalid_specs_are_refused() {
        let records = testdata::skewed(10, 2);
        assert!(table(&records, &spec(&[])).is_err());
        assert!(table(&records, &spec(&[Dimension::Year, Dimension::Year])).is_err());
        let four = [
            Dimension::Year,
            Dimension::Gender,
            Dimension::AgeBand,
            Dimension::Majority,
        ];
        assert!(table(&records, &spec(&four)).is_err());
        let mut s = spec(&[Dimension::Route, Dimension::Citizenship]);
        s.dp = Some(DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        assert!(table(&records, &s).is_err(), "too many cells for DP");
    }

    /// Red-team finding F1/F7: `--epsilon 1e-300 --k 1` published the exact counts
    /// labelled as DP (the noise scale 1/ε overflowed), and Gaussian panicked. Every ε
    /// outside [MIN_EPSILON, MAX_EPSILON] is refused with a message naming the range,
    /// and nothing in between panics or returns a zero-width interval.
    #[test]
    fn extreme_epsilons_are_refused_not_published_exactly() {
        use crate::export::dp::{MAX_EPSILON, MIN_EPSILON};
        let records = testdata::skewed(200, 5);
        let mut s = spec(&[Dimension::Citizenship]);
        s.k = 1;
        for mechanism in [Mechanism::Laplace, Mechanism::Gaussian] {
            for epsilon in [1e-300, 1e-100, 1e-20, 1e-3, 0.0099, 10.5, 1e300, f64::NAN] {
                s.dp = Some(DpSpec {
                    epsilon,
                    mechanism,
                    max_contributions: None,
                    delta: crate::export::dp::DEFAULT_DELTA,
                });
                let e = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(1)))
                    .expect_err("an extreme ε must be refused");
                assert!(e.to_string().contains("ε"), "{e}");
            }
            for epsilon in [MIN_EPSILON, 0.1, 1.0, MAX_EPSILON] {
                for c in [1, 8] {
                    s.dp = Some(DpSpec {
                        epsilon,
                        mechanism,
                        max_contributions: Some(c),
                        delta: 0.4,
                    });
                    let t = table_with_noise(&records, &s, &mut SeededNoise(Rng::new(2))).unwrap();
                    let scale = t.privacy.cell_noise_scale.unwrap();
                    assert!(scale.is_finite() && scale > 0.0, "{epsilon}: {scale}");
                    if epsilon <= 1.0 {
                        assert!(t.privacy.noise_95.unwrap() >= 1, "{epsilon}: no noise");
                    }
                    assert!(t.privacy.threshold >= 2, "{epsilon}");
                }
            }
        }
        // The samplers refuse a degenerate scale instead of overflowing.
        let mut noise = SeededNoise(Rng::new(3));
        assert!(sample_discrete_laplace(&mut noise, 0.0).is_err());
        assert!(sample_discrete_laplace(&mut noise, f64::NAN).is_err());
        assert!(sample_gaussian(&mut noise, f64::INFINITY).is_err());
        assert!(
            sample_discrete_laplace(&mut noise, 1e-300).is_ok(),
            "saturates"
        );
        assert_eq!(
            Dimension::parse("country").unwrap(),
            Dimension::CountryOfExploitation
        );
        assert!(Dimension::parse("shoe-size").is_err());
        assert_eq!(
            Dimension::Route.label("KGZ-RUS", Lang::En),
            "Kyrgyzstan → Russian Federation"
        );
        assert_eq!(
            Dimension::Exploitation.label("ForcedLabour", Lang::En),
            "Forced labour"
        );
    }
}

/// Partition selection, measured: tables made over and over from skewed data never
/// show a cell no case is in, and show a single person's cell at most at rate δ.
#[cfg(test)]
mod selection_tests {
    use super::*;
    use crate::export::dp::SeededNoise;
    use crate::export::testdata::{self, Rng};
    use std::collections::HashMap;

    /// The true counts by citizenship × country of exploitation, read directly.
    fn truth(records: &[StatRecord]) -> HashMap<Vec<String>, u64> {
        let mut counts = HashMap::new();
        for r in records {
            for c in &r.citizenship {
                for e in r.countries_of_exploitation() {
                    let key = vec![
                        c.alpha3().unwrap_or(UNKNOWN).to_string(),
                        e.alpha3().unwrap_or(UNKNOWN).to_string(),
                    ];
                    *counts.entry(key).or_insert(0) += 1;
                }
            }
        }
        counts
    }

    /// Runs `runs` DP route tables; returns (released cells, released with true count
    /// 0, single-person cells offered, single-person cells released).
    pub(super) fn campaign(runs: u64, delta: f64, seed: u64) -> (u64, u64, u64, u64) {
        // One citizenship and one country per case, so that every case is in exactly
        // one cell and the contribution bound (1) never drops a cell.
        let mut records = testdata::skewed(400, seed);
        for r in &mut records {
            let first = r.citizenship.first().cloned();
            r.citizenship = first.into_iter().collect();
            let last = r
                .route
                .iter()
                .rev()
                .find(|e| e.kind == RouteEventKind::Exploitation)
                .cloned();
            r.route = last.into_iter().collect();
        }
        let spec = TableSpec {
            k: 1,
            years: Some((2015, 2026)),
            dp: Some(DpSpec {
                epsilon: 1.0,
                mechanism: Mechanism::Laplace,
                max_contributions: None,
                delta,
            }),
            ..TableSpec::new(vec![
                Dimension::Citizenship,
                Dimension::CountryOfExploitation,
            ])
        };
        let truth = truth(&records);
        let singles = truth.values().filter(|&&n| n == 1).count() as u64;
        assert!(singles >= 5, "the data has a long tail: {singles}");
        let mut noise = SeededNoise(Rng::new(seed));
        let (mut released, mut invented, mut singles_released) = (0, 0, 0);
        for _ in 0..runs {
            let t = table_with_noise(&records, &spec, &mut noise).unwrap();
            assert_eq!(t.privacy.max_contributions, Some(1));
            for cell in &t.cells {
                released += 1;
                match truth.get(&cell.values).copied().unwrap_or(0) {
                    0 => invented += 1,
                    1 => singles_released += 1,
                    _ => {}
                }
            }
        }
        (released, invented, singles * runs, singles_released)
    }

    #[test]
    fn no_invented_cells_and_single_persons_at_most_delta() {
        // The default δ: no cell is invented and no single person shows, in 1,000
        // tables.
        let (released, invented, offered, shown) = campaign(1_000, 1e-6, 31);
        eprintln!(
            "δ = 1e-6: {released} cells released in 1,000 tables, {invented} invented, \
             {shown} of {offered} single-person cells shown"
        );
        assert!(released > 5_000, "{released}");
        assert_eq!(invented, 0);
        assert_eq!(shown, 0, "{shown} of {offered}");
        // A large δ makes the bound measurable: the rate of single-person cells shown
        // is at most δ (plus three standard errors), and not far below (the threshold
        // is tight).
        let delta = 0.05;
        let (_, invented, offered, shown) = campaign(1_000, delta, 32);
        assert_eq!(invented, 0);
        let rate = shown as f64 / offered as f64;
        eprintln!(
            "δ = {delta}: {shown} of {offered} single-person cells shown (rate {rate:.4}); \
             {invented} invented"
        );
        let se = (delta * (1.0 - delta) / offered as f64).sqrt();
        assert!(rate <= delta + 3.0 * se, "{shown} of {offered}: {rate}");
        assert!(rate > delta / 4.0, "{shown} of {offered}: {rate}");
    }

    #[test]
    fn twelve_cases_on_one_route_show_that_route_or_nothing() {
        let mut records = testdata::skewed(12, 5);
        for r in &mut records {
            r.citizenship = [Country::from_code("KG")].into_iter().collect();
            r.route = vec![crate::export::StatRouteEvent {
                kind: RouteEventKind::Exploitation,
                country: Country::from_code("RU"),
                year: None,
            }];
        }
        let spec = TableSpec {
            dp: Some(DpSpec {
                epsilon: 1.0,
                mechanism: Mechanism::Laplace,
                max_contributions: None,
                delta: crate::export::dp::DEFAULT_DELTA,
            }),
            ..TableSpec::new(vec![Dimension::Route])
        };
        let mut noise = SeededNoise(Rng::new(9));
        for _ in 0..1_000 {
            let t = table_with_noise(&records, &spec, &mut noise).unwrap();
            assert!(
                t.cells.iter().all(|c| c.values == ["KGZ-RUS"]),
                "{:?}",
                t.cells
            );
            assert!(t.cells.iter().all(|c| c.noise_95.is_some()));
        }
    }
}
