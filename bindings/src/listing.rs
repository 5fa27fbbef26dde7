//! A case list screen's query: filters beyond [`CaseListFilter`], a sort order, a page
//! (`offset`, `limit`) and the total, in one call that moves only the page's ids.
//!
//! The summary filters (gender, age band, trafficking status, update time) read the
//! case summaries only, so they cost one listing whatever the page. "Assigned to me"
//! reads the membership once. The referral status and the text search in notes need
//! the case documents: they decrypt and read every case the other filters left, inside
//! the encrypted store (nothing is indexed in clear), so they cost about one case read
//! each (decision 0019).

use std::collections::BTreeSet;

use caravan_core::vocab::{AgeBand, Gender, ReferralStatus, TraffickingStatus, Vocabulary};
use caravan_core::{CaseId, CaseRecord, CaseSummary as CoreSummary};

use crate::error::{CaravanError, Result};
use crate::model::CaseListFilter;
use crate::store::CaravanStore;

/// The order of a case list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Enum)]
pub enum CaseSort {
    /// Most recently updated first (the order of `list_cases`).
    #[default]
    UpdatedNewest,
    /// Least recently updated first.
    UpdatedOldest,
    /// Most recently registered first.
    CreatedNewest,
    /// Earliest registered first.
    CreatedOldest,
}

/// What a case list screen asks for.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct CaseQuery {
    /// The summary filters of `list_cases` (status, country, exploitation, created,
    /// conflicts).
    #[uniffi(default)]
    pub filter: CaseListFilter,
    /// A `gender` code.
    #[uniffi(default)]
    pub gender: Option<String>,
    /// An `age_band` code.
    #[uniffi(default)]
    pub age_band: Option<String>,
    /// A `trafficking_status` code.
    #[uniffi(default)]
    pub trafficking_status: Option<String>,
    /// Updated at or after this time (ms since the epoch).
    #[uniffi(default)]
    pub updated_from_ms: Option<i64>,
    /// Updated before this time (ms since the epoch).
    #[uniffi(default)]
    pub updated_to_ms: Option<i64>,
    /// Only cases with a referral whose current status is this `referral_status`
    /// code (reads the matching cases' documents).
    #[uniffi(default)]
    pub referral_status: Option<String>,
    /// Only cases a coordinator assigned to this device.
    #[uniffi(default)]
    pub assigned_to_me: bool,
    /// Only cases with a note containing this text, ignoring case (reads the matching
    /// cases' documents; blank: no filter).
    #[uniffi(default)]
    pub note_text: Option<String>,
    /// The order.
    pub sort: CaseSort,
    /// How many matching cases to skip (0 or more; a negative value is
    /// `InvalidInput`). Signed so that every language can pass any value and get a
    /// typed error rather than its own conversion error.
    #[uniffi(default)]
    pub offset: i64,
    /// At most this many ids (0: all from `offset`; a negative value is
    /// `InvalidInput`).
    #[uniffi(default)]
    pub limit: i64,
}

/// One page of a case list.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CasePage {
    /// The ids of the page, in the query's order (load their rows with
    /// `case_summaries`).
    pub ids: Vec<String>,
    /// How many cases match the query in all.
    pub total: u64,
}

struct Extra {
    gender: Option<Gender>,
    age_band: Option<AgeBand>,
    trafficking_status: Option<TraffickingStatus>,
    updated_from: Option<i64>,
    updated_to: Option<i64>,
}

/// The filters that read case documents.
struct Deep {
    referral_status: Option<ReferralStatus>,
    note_text: Option<String>,
}

impl Deep {
    fn is_empty(&self) -> bool {
        self.referral_status.is_none() && self.note_text.is_none()
    }

    fn matches(&self, c: &CaseRecord) -> bool {
        self.referral_status
            .as_ref()
            .is_none_or(|st| c.referrals.iter().any(|r| r.status() == Some(st)))
            && self.note_text.as_ref().is_none_or(|t| {
                c.notes
                    .iter()
                    .any(|n| n.text.to_lowercase().contains(t.as_str()))
            })
    }
}

fn count(field: &str, value: i64) -> Result<usize> {
    usize::try_from(value).map_err(|_| CaravanError::InvalidInput {
        field: field.into(),
        reason: "must be 0 or more".into(),
    })
}

impl Extra {
    fn matches(&self, s: &CoreSummary) -> bool {
        self.gender
            .as_ref()
            .is_none_or(|g| s.gender.as_ref() == Some(g))
            && self
                .age_band
                .as_ref()
                .is_none_or(|a| s.age_band.as_ref() == Some(a))
            && self
                .trafficking_status
                .as_ref()
                .is_none_or(|t| s.trafficking_status.as_ref() == Some(t))
            && self.updated_from.is_none_or(|t| s.updated_at.0 >= t)
            && self.updated_to.is_none_or(|t| s.updated_at.0 < t)
    }
}

#[uniffi::export]
impl CaravanStore {
    /// One page of the cases matching `query`, in its order, and how many match in
    /// all. Unknown codes are `UnknownCode`.
    pub fn query_cases(&self, query: CaseQuery) -> Result<CasePage> {
        self.with(|s| {
            let filter = query.filter.to_core()?;
            let offset = count("offset", query.offset)?;
            let limit = match count("limit", query.limit)? {
                0 => usize::MAX,
                n => n,
            };
            let extra = Extra {
                gender: query
                    .gender
                    .as_deref()
                    .map(Gender::parse_known)
                    .transpose()?,
                age_band: query
                    .age_band
                    .as_deref()
                    .map(AgeBand::parse_known)
                    .transpose()?,
                trafficking_status: query
                    .trafficking_status
                    .as_deref()
                    .map(TraffickingStatus::parse_known)
                    .transpose()?,
                updated_from: query.updated_from_ms,
                updated_to: query.updated_to_ms,
            };
            let deep = Deep {
                referral_status: query
                    .referral_status
                    .as_deref()
                    .map(ReferralStatus::parse_known)
                    .transpose()?,
                note_text: query
                    .note_text
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_lowercase),
            };
            let mine: Option<BTreeSet<CaseId>> = query
                .assigned_to_me
                .then(|| s.team().cases_assigned_to_me());
            let mut rows: Vec<CoreSummary> = s
                .list(&filter)
                .into_iter()
                .filter(|c| extra.matches(c))
                .filter(|c| mine.as_ref().is_none_or(|m| m.contains(&c.id)))
                .collect();
            if !deep.is_empty() {
                let mut kept = Vec::with_capacity(rows.len());
                for row in rows {
                    if deep.matches(&s.case(&row.id)?) {
                        kept.push(row);
                    }
                }
                rows = kept;
            }
            // `list` is newest update first; ties keep the core's order.
            match query.sort {
                CaseSort::UpdatedNewest => {}
                CaseSort::UpdatedOldest => rows.reverse(),
                CaseSort::CreatedNewest => {
                    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)))
                }
                CaseSort::CreatedOldest => {
                    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
                }
            }
            Ok(CasePage {
                total: rows.len() as u64,
                ids: rows
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|c| c.id.to_hex())
                    .collect(),
            })
        })
    }
}
