//! What exports read: the statistical content of consenting cases, and the accounting
//! of every case left out and why.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{CaseFilter, CaseId, CaseRecord, Timestamp};
use crate::model::{Excluded, StatRecord};
use crate::store::Store;

/// Registration dates to include: `from` inclusive, `to` exclusive (like `case list`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    /// Registered at or after this time.
    pub from: Option<Timestamp>,
    /// Registered before this time.
    pub to: Option<Timestamp>,
}

impl DateWindow {
    /// Whether a case registered at `t` is inside the window.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t < to)
    }

    /// Checks that the window is not empty.
    pub fn validate(&self) -> Result<()> {
        match (self.from, self.to) {
            (Some(f), Some(t)) if t <= f => {
                Err(Error::invalid("dates", "--to must be later than --from"))
            }
            _ => Ok(()),
        }
    }
}

/// How many cases were read, and why those not exported were left out. The numbers add
/// up: `cases` equals `eligible` plus every exclusion.
///
/// This is for the agency producing the export. It holds exact counts (of cases without
/// consent, for example), so it is not part of what is published.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputReport {
    /// Case copies read (from the store, or rows and withheld ids of extracts).
    pub cases: usize,
    /// Left out: the person did not agree (or was not asked) to inclusion in statistics.
    pub no_statistics_consent: usize,
    /// Left out: devices wrote different answers to the statistics consent concurrently,
    /// and not all of them were "yes".
    pub consent_in_conflict: usize,
    /// Left out: another agency's copy of the same case has no statistics consent.
    pub withheld_by_another_agency: usize,
    /// Left out: the case could not be read (damaged store file).
    pub unreadable: usize,
    /// Left out: another copy of the same case (shared between agencies) was counted.
    pub duplicates: usize,
    /// Left out: registered outside the requested dates.
    pub outside_dates: usize,
    /// Cases that went on to anonymization.
    pub eligible: usize,
}

impl InputReport {
    /// Whether the exclusions and `eligible` add up to `cases`.
    pub fn adds_up(&self) -> bool {
        self.cases
            == self.no_statistics_consent
                + self.consent_in_conflict
                + self.withheld_by_another_agency
                + self.unreadable
                + self.duplicates
                + self.outside_dates
                + self.eligible
    }
}

/// Consenting cases ready for export, with the accounting of those left out.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// The cases to export.
    pub records: Vec<StatRecord>,
    /// Cases left out for lack of statistics consent (an agency extract lists them, so
    /// that a partner's copy of the same case is left out too).
    pub withheld: Vec<CaseId>,
    /// The accounting.
    pub input: InputReport,
}

impl Collected {
    /// Applies the consent rule, then the date window, to `records`.
    pub fn from_cases<'a>(
        records: impl IntoIterator<Item = &'a CaseRecord>,
        window: &DateWindow,
    ) -> Collected {
        let mut out = Collected::default();
        for record in records {
            out.add(record, window);
        }
        out
    }

    /// Reads every case of `store`; cases in damaged files are counted as unreadable.
    pub fn from_store(store: &mut Store, window: &DateWindow) -> Result<Collected> {
        let mut out = Collected::default();
        let ids: Vec<_> = store
            .list(&CaseFilter::default())
            .into_iter()
            .map(|s| s.id)
            .collect();
        // All at once: the store reads them block by block (many cases share one).
        for (id, stats) in ids.iter().zip(store.statistics(&ids)) {
            match stats {
                Ok((created_at, stats)) => {
                    out.add_stats(*id, created_at, stats.into_result(), window)
                }
                Err(Error::Corrupted { .. }) => {
                    out.input.cases += 1;
                    out.input.unreadable += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn add(&mut self, record: &CaseRecord, window: &DateWindow) {
        self.add_stats(
            record.id,
            record.created_at,
            StatRecord::from_case(record),
            window,
        );
    }

    fn add_stats(
        &mut self,
        id: CaseId,
        created_at: Timestamp,
        stats: std::result::Result<StatRecord, Excluded>,
        window: &DateWindow,
    ) {
        self.input.cases += 1;
        match stats {
            Err(Excluded::NoConsent) => {
                self.input.no_statistics_consent += 1;
                self.withheld.push(id);
            }
            Err(Excluded::ConsentInConflict) => {
                self.input.consent_in_conflict += 1;
                self.withheld.push(id);
            }
            // The registration date decides; a case registered the day it was typed
            // in (every case stored before registration dates existed) is placed by
            // its exact creation time, as before.
            Ok(stat) if !window.contains(window_time(&stat, created_at)) => {
                let _ = stat;
                self.input.outside_dates += 1;
            }
            Ok(stat) => {
                self.input.eligible += 1;
                self.records.push(stat);
            }
        }
    }
}

/// The time a case is placed at in a date window: its registration day if one was set
/// (it differs from the day it was typed in), else the exact creation time.
fn window_time(stat: &StatRecord, created_at: Timestamp) -> Timestamp {
    let (y, m, d) = created_at.ymd();
    match Timestamp::from_ymd(y, m, d) {
        Ok(day) if day == stat.registered => created_at,
        _ => stat.registered,
    }
}
