//! The statistical projection of a case: what exports may use of it, computed when the
//! case is written and kept in its newest store frame (`StoredStats`), so that exports
//! read no Automerge document. Here, in the model, because the store writes it and the
//! exports read it (docs/decisions/0033-layers.md).

use serde::{Deserialize, Serialize};

use super::{CaseId, CaseRecord, Timestamp};
use crate::vocab::*;

/// The conflict field name of the statistics consent (see `CaseRecord::conflicts`).
const CONSENT_FIELD: &str = "consent.include_in_statistics";

/// Proof that a [`StatRecord`] came from a consenting case (or from an extract, which
/// holds only those): it cannot be built outside this crate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Consented;

/// The sources of a combination that hold a copy of a record (bit `s`: source `s` of
/// `export::combine`, at most [`super::combine::MAX_SOURCES`]); empty for the cases
/// of one store or one extract. Exact outputs of a combination release a group only if
/// every source holds 0 or at least k of its records, and 0 or at least k are held
/// by others (docs/export.md, "Combining agencies").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Holders(pub(crate) u64);

/// The statistical content of one case whose person agreed to inclusion in statistics:
/// every field an export may use, and nothing else (no notes, partner names, screening
/// answers, exact times).
///
/// It can only be made by [`StatRecord::from_case`], which refuses cases without
/// statistics consent, or read from an agency extract (which holds only such cases).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatRecord {
    /// The case identifier (shared by every agency's copy of a synced case).
    #[serde(rename = "id")]
    pub id: CaseId,
    /// A keyed blind index of the person, when the membership work provides one: two
    /// agencies that registered the same person separately produce the same value. No
    /// case has one yet; `export::combine` already merges cases that share one.
    #[serde(
        rename = "blind_index",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub blind_index: Option<String>,
    /// The day of registration (midnight UTC).
    #[serde(rename = "registered")]
    pub registered: Timestamp,
    /// Trafficking status.
    #[serde(rename = "trafficking_status", default)]
    pub trafficking_status: Option<TraffickingStatus>,
    /// Gender.
    #[serde(rename = "gender", default)]
    pub gender: Option<Gender>,
    /// CTDC age band.
    #[serde(rename = "age_band", default)]
    pub age_band: Option<AgeBand>,
    /// Majority status at registration.
    #[serde(rename = "majority_at_registration", default)]
    pub majority_at_registration: Option<MajorityStatus>,
    /// Majority status at exploitation.
    #[serde(rename = "majority_at_exploitation", default)]
    pub majority_at_exploitation: Option<MajorityStatus>,
    /// Majority status at entry.
    #[serde(rename = "majority_at_entry", default)]
    pub majority_at_entry: Option<MajorityStatus>,
    /// Citizenships, sorted.
    #[serde(rename = "citizenship", default)]
    pub citizenship: Vec<Country>,
    /// Types of exploitation, sorted.
    #[serde(rename = "exploitation", default)]
    pub exploitation: Vec<ExploitationType>,
    /// Forced-labour industries, sorted.
    #[serde(rename = "labour_industry", default)]
    pub labour_industry: Vec<LabourIndustry>,
    /// Types of sexual exploitation, sorted.
    #[serde(rename = "sexual_exploitation", default)]
    pub sexual_exploitation: Vec<SexualExploitationType>,
    /// Means of control, sorted.
    #[serde(rename = "means_of_control", default)]
    pub means_of_control: Vec<MeansOfControl>,
    /// Recruiter relations, sorted.
    #[serde(rename = "recruiter_relation", default)]
    pub recruiter_relation: Vec<RecruiterRelation>,
    /// The route, in order, at year precision.
    #[serde(rename = "route", default)]
    pub route: Vec<StatRouteEvent>,
    /// Referrals: service and latest status.
    #[serde(rename = "referrals", default)]
    pub referrals: Vec<StatReferral>,
    #[serde(skip)]
    consented: Consented,
    /// Which sources of a combination hold a copy (set by `export::combine` only).
    #[serde(skip)]
    pub(crate) holders: Holders,
}

/// One route event at year precision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatRouteEvent {
    /// Recruitment, transit or exploitation.
    #[serde(rename = "kind")]
    pub kind: RouteEventKind,
    /// Where.
    #[serde(rename = "country")]
    pub country: Country,
    /// The year, if known.
    #[serde(rename = "year", default)]
    pub year: Option<u16>,
}

/// One referral: the service and its latest status (`None`: no status recorded yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatReferral {
    /// Service referred to.
    #[serde(rename = "service")]
    pub service: ServiceType,
    /// Latest status.
    #[serde(rename = "status", default)]
    pub status: Option<ReferralStatus>,
}

/// Why a case is not exported at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Excluded {
    /// No "yes" to inclusion in statistics.
    NoConsent,
    /// Concurrent, differing answers to the statistics consent.
    ConsentInConflict,
}

/// What an export needs of a case, computed when the case is written and kept in its
/// newest store frame, so that exports read no Automerge document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredStats {
    /// The case may be exported: its statistical content.
    #[serde(rename = "Eligible")]
    Eligible(Box<StatRecord>),
    /// No "yes" to inclusion in statistics.
    #[serde(rename = "NoConsent")]
    NoConsent,
    /// Concurrent, differing answers to the statistics consent.
    #[serde(rename = "ConsentInConflict")]
    ConsentInConflict,
}

impl StoredStats {
    /// The projection of `record`, linked to other agencies' copies of the same person
    /// by `link` (see `BlindIndex::link_key`).
    pub(crate) fn of(record: &CaseRecord, link: Option<String>) -> StoredStats {
        match StatRecord::from_case(record) {
            Ok(mut stat) => {
                stat.blind_index = link;
                StoredStats::Eligible(Box::new(stat))
            }
            Err(Excluded::NoConsent) => StoredStats::NoConsent,
            Err(Excluded::ConsentInConflict) => StoredStats::ConsentInConflict,
        }
    }

    pub(crate) fn into_result(self) -> Result<StatRecord, Excluded> {
        match self {
            StoredStats::Eligible(stat) => Ok(*stat),
            StoredStats::NoConsent => Err(Excluded::NoConsent),
            StoredStats::ConsentInConflict => Err(Excluded::ConsentInConflict),
        }
    }
}

impl StatRecord {
    /// The statistical content of `record`, if its person explicitly agreed to inclusion
    /// in statistics and no concurrent edit says otherwise.
    pub fn from_case(record: &CaseRecord) -> Result<StatRecord, Excluded> {
        let conflicting = record.conflicts.iter().any(|c| {
            c.field == CONSENT_FIELD
                && (c.current != "true" || c.others.iter().any(|o| o != "true"))
        });
        if conflicting {
            return Err(Excluded::ConsentInConflict);
        }
        if !record.consent.allows_statistics() {
            return Err(Excluded::NoConsent);
        }
        let registered = record.registered();
        Ok(StatRecord {
            id: record.id,
            blind_index: blind_index(record),
            registered,
            trafficking_status: record.trafficking_status.clone(),
            gender: record.gender.clone(),
            age_band: record.age_band.clone(),
            majority_at_registration: record.majority_at_registration.clone(),
            majority_at_exploitation: record.majority_at_exploitation.clone(),
            majority_at_entry: record.majority_at_entry.clone(),
            citizenship: record.citizenship.iter().cloned().collect(),
            exploitation: record.exploitation.iter().cloned().collect(),
            labour_industry: record.labour_industry.iter().cloned().collect(),
            sexual_exploitation: record.sexual_exploitation.iter().cloned().collect(),
            means_of_control: record.means_of_control.iter().cloned().collect(),
            recruiter_relation: record.recruiter_relation.iter().cloned().collect(),
            route: record
                .route
                .iter()
                .map(|e| StatRouteEvent {
                    kind: e.kind.clone(),
                    country: e.country.clone(),
                    year: e.when.map(|w| w.year),
                })
                .collect(),
            referrals: record
                .referrals
                .iter()
                .map(|r| StatReferral {
                    service: r.service.clone(),
                    status: r.status().cloned(),
                })
                .collect(),
            consented: Consented,
            holders: Holders::default(),
        })
    }

    /// The year of registration.
    pub fn year(&self) -> i32 {
        self.registered.ymd().0
    }

    /// The country of exploitation in CTDC's single-valued sense: the last exploitation
    /// event of the route.
    pub fn country_of_exploitation(&self) -> Option<&Country> {
        self.route
            .iter()
            .rev()
            .find(|e| e.kind == RouteEventKind::Exploitation)
            .map(|e| &e.country)
    }

    /// Every distinct country of exploitation on the route, sorted.
    pub fn countries_of_exploitation(&self) -> Vec<&Country> {
        let mut all: Vec<&Country> = self
            .route
            .iter()
            .filter(|e| e.kind == RouteEventKind::Exploitation)
            .map(|e| &e.country)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// How many fields hold a value (used to pick the fullest copy of a shared case).
    pub(crate) fn filled(&self) -> usize {
        [
            self.trafficking_status.is_some(),
            self.gender.is_some(),
            self.age_band.is_some(),
            self.majority_at_registration.is_some(),
            self.majority_at_exploitation.is_some(),
            self.majority_at_entry.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
            + self.citizenship.len()
            + self.exploitation.len()
            + self.labour_industry.len()
            + self.sexual_exploitation.len()
            + self.means_of_control.len()
            + self.recruiter_relation.len()
            + self.route.len()
            + self.referrals.len()
    }

    /// A record for tests, with every field empty.
    #[cfg(test)]
    pub(crate) fn blank(id: CaseId, registered: Timestamp) -> StatRecord {
        StatRecord {
            id,
            blind_index: None,
            registered,
            trafficking_status: None,
            gender: None,
            age_band: None,
            majority_at_registration: None,
            majority_at_exploitation: None,
            majority_at_entry: None,
            citizenship: Vec::new(),
            exploitation: Vec::new(),
            labour_industry: Vec::new(),
            sexual_exploitation: Vec::new(),
            means_of_control: Vec::new(),
            recruiter_relation: Vec::new(),
            route: Vec::new(),
            referrals: Vec::new(),
            consented: Consented,
            holders: Holders::default(),
        }
    }
}

/// A case record does not carry the person's blind index (it is kept beside the
/// record in the case document): the store fills it in when it computes the projection
/// it keeps for exports (`StoredStats`), from `BlindIndex::link_key`.
fn blind_index(_record: &CaseRecord) -> Option<String> {
    None
}
