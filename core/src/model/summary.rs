//! Case summaries: what the case list shows and searches, kept in the store's index
//! so that listing never loads a case's history.

use serde::{Deserialize, Serialize};

use super::{CaseId, CaseRecord, Timestamp};
use crate::vocab::*;

/// The searchable gist of a case. Field names are short on disk (the index holds one
/// per case), full in the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// The case.
    #[serde(rename = "i")]
    pub id: CaseId,
    /// When it was registered.
    #[serde(rename = "c")]
    pub created_at: Timestamp,
    /// When this device last stored a change to it.
    #[serde(rename = "u")]
    pub updated_at: Timestamp,
    /// Case-management status.
    #[serde(rename = "s", default)]
    pub case_status: Option<CaseStatus>,
    /// Trafficking status.
    #[serde(rename = "t", default)]
    pub trafficking_status: Option<TraffickingStatus>,
    /// Gender.
    #[serde(rename = "g", default)]
    pub gender: Option<Gender>,
    /// Age band.
    #[serde(rename = "a", default)]
    pub age_band: Option<AgeBand>,
    /// Citizenship(s).
    #[serde(rename = "z", default)]
    pub citizenship: Vec<Country>,
    /// Countries on the route (recruitment, transit, exploitation), deduplicated.
    #[serde(rename = "r", default)]
    pub route_countries: Vec<Country>,
    /// Types of exploitation.
    #[serde(rename = "e", default)]
    pub exploitation: Vec<ExploitationType>,
    /// Number of referrals.
    #[serde(rename = "f", default)]
    pub referrals: u32,
    /// Number of notes.
    #[serde(rename = "n", default)]
    pub notes: u32,
    /// Number of unresolved same-field conflicts.
    #[serde(rename = "x", default)]
    pub conflicts: u32,
}

impl CaseSummary {
    /// Summarises a record.
    pub fn of(record: &CaseRecord, updated_at: Timestamp) -> CaseSummary {
        let mut route_countries: Vec<Country> =
            record.route.iter().map(|e| e.country.clone()).collect();
        route_countries.sort();
        route_countries.dedup();
        CaseSummary {
            id: record.id,
            created_at: record.created_at,
            updated_at,
            case_status: record.case_status.clone(),
            trafficking_status: record.trafficking_status.clone(),
            gender: record.gender.clone(),
            age_band: record.age_band.clone(),
            citizenship: record.citizenship.iter().cloned().collect(),
            route_countries,
            exploitation: record.exploitation.iter().cloned().collect(),
            referrals: record.referrals.len() as u32,
            notes: record.notes.len() as u32,
            conflicts: record.conflicts.len() as u32,
        }
    }
}

/// A search over case summaries. Every criterion that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Case-management status.
    pub case_status: Option<CaseStatus>,
    /// A country that is the citizenship or on the route.
    pub country: Option<Country>,
    /// A type of exploitation.
    pub exploitation: Option<ExploitationType>,
    /// Registered at or after this time.
    pub created_from: Option<Timestamp>,
    /// Registered before this time.
    pub created_to: Option<Timestamp>,
    /// Only cases with unresolved conflicts.
    pub conflicts_only: bool,
}

impl CaseFilter {
    /// Whether `s` satisfies every criterion of this filter.
    pub fn matches(&self, s: &CaseSummary) -> bool {
        self.case_status
            .as_ref()
            .is_none_or(|st| s.case_status.as_ref() == Some(st))
            && self
                .country
                .as_ref()
                .is_none_or(|c| s.citizenship.contains(c) || s.route_countries.contains(c))
            && self
                .exploitation
                .as_ref()
                .is_none_or(|e| s.exploitation.contains(e))
            && self.created_from.is_none_or(|t| s.created_at >= t)
            && self.created_to.is_none_or(|t| s.created_at < t)
            && (!self.conflicts_only || s.conflicts > 0)
    }
}
