//! A case list screen's query: filters beyond [`CaseListFilter`], a sort order, a page
//! (`offset`, `limit`) and the total, in one call that moves only the page's ids.
//!
//! The filters here read the case summaries only (gender, age band, trafficking
//! status, update time), so a query costs one listing whatever the page. Filters that
//! need the case documents (referral status, assigned to this device, text search in
//! notes) are not offered yet: each would read every matching case (see decision 0019).

use caravan_core::vocab::{AgeBand, Gender, TraffickingStatus, Vocabulary};
use caravan_core::CaseSummary as CoreSummary;

use crate::error::Result;
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
    /// The order.
    pub sort: CaseSort,
    /// How many matching cases to skip.
    #[uniffi(default)]
    pub offset: u32,
    /// At most this many ids (0: all from `offset`).
    #[uniffi(default)]
    pub limit: u32,
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
        let filter = query.filter.to_core()?;
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
        self.with(|s| {
            let mut rows: Vec<CoreSummary> = s
                .list(&filter)
                .into_iter()
                .filter(|c| extra.matches(c))
                .collect();
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
            let total = rows.len() as u64;
            let limit = if query.limit == 0 {
                usize::MAX
            } else {
                query.limit as usize
            };
            Ok(CasePage {
                ids: rows
                    .iter()
                    .skip(query.offset as usize)
                    .take(limit)
                    .map(|c| c.id.to_hex())
                    .collect(),
                total,
            })
        })
    }
}
