//! Statistics safe to publish, from the app: k-anonymized CTDC record exports and
//! suppressed count tables. Only cases whose person agreed to statistics are read.
//!
//! Every number a result carries by default may be shown and published (decision
//! 0018): counts of released records, and the remainder outside the release (records
//! in groups below k) only when it is 0 or at least k, otherwise `None` ("fewer than
//! k"). The exact accounting of what was read (cases, without consent, eligible, the
//! exact remainder) is CONFIDENTIAL: it comes only when asked for with
//! [`ExportOptions::accounting`], as the CLI's `--accounting`, in the results'
//! `accounting` field, and must never be shown on a report screen or published.

use std::sync::Arc;

use caravan_core::export::ledger::{data_version, Ledger, ReleaseEntry};
use caravan_core::export::{
    export_records, table, Attribute, Collected, CountryCodes, DateWindow, Dimension, ReleaseSpec,
    TableSpec, DEFAULT_K,
};
use caravan_core::{CaseFilter, Error as CoreError, LedgerState, Store, Timestamp};

use crate::error::{CaravanError, Result};
use crate::listener::ProgressListener;
use crate::store::CaravanStore;

/// The text format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ExportFormat {
    /// CSV with a header line.
    Csv,
    /// JSON.
    Json,
}

/// Which cases an export reads and how it protects them.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ExportOptions {
    /// Minimum group (or cell) size; CTDC uses 11.
    #[uniffi(default = 11)]
    pub k: u32,
    /// Alpha-3 country codes (CTDC's default) instead of alpha-2.
    #[uniffi(default = true)]
    pub alpha3: bool,
    /// Search for a generalization before suppressing (record exports only).
    #[uniffi(default = false)]
    pub generalize: bool,
    /// Registered at or after this time (ms since the epoch).
    #[uniffi(default)]
    pub from_ms: Option<i64>,
    /// Registered before this time (ms since the epoch).
    #[uniffi(default)]
    pub to_ms: Option<i64>,
    /// CONFIDENTIAL: also return the exact accounting of the cases read in the
    /// result's `accounting` (as the CLI's `--accounting`). Those counts can reveal a
    /// remainder below k (eligible − released); they are for the data officer, never
    /// for a report screen or a publication. Default: not returned.
    #[uniffi(default = false)]
    pub accounting: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            k: DEFAULT_K,
            alpha3: true,
            generalize: false,
            from_ms: None,
            to_ms: None,
            accounting: false,
        }
    }
}

impl ExportOptions {
    fn country_codes(&self) -> CountryCodes {
        if self.alpha3 {
            CountryCodes::Alpha3
        } else {
            CountryCodes::Alpha2
        }
    }
}

/// CONFIDENTIAL: the exact accounting of the cases an export read, returned only with
/// [`ExportOptions::accounting`]. Not for publication: `eligible` − released is the
/// remainder below k that the published figures hide (decision 0018).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ExportInput {
    /// Cases read.
    pub cases: u64,
    /// Left out: no consent to statistics (or not asked).
    pub no_statistics_consent: u64,
    /// Left out: the consent is in conflict between devices.
    pub consent_in_conflict: u64,
    /// Left out: unreadable (damaged store file).
    pub unreadable: u64,
    /// Left out: registered outside the requested dates.
    pub outside_dates: u64,
    /// Went on to anonymization.
    pub eligible: u64,
    /// Records outside the k-anonymous release (groups below k), exact.
    pub redacted: u64,
}

/// A record-level export and what it released.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RecordExportResult {
    /// The export (CSV or JSON text), safe to publish.
    pub text: String,
    /// The k that holds.
    pub k: u32,
    /// Records released.
    pub released: u64,
    /// Records redacted because their group was smaller than k, when 0 or at least k;
    /// `None`: fewer than k (the number itself would be a small count).
    pub redacted: Option<u64>,
    /// Records that went into anonymization (released + redacted), when `redacted` is
    /// shown; `None` otherwise (it would give the remainder away).
    pub eligible: Option<u64>,
    /// CONFIDENTIAL, only with [`ExportOptions::accounting`]: the exact accounting.
    pub accounting: Option<ExportInput>,
}

/// A count table and what it released.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TableExportResult {
    /// The table (CSV or JSON text), safe to publish.
    pub text: String,
    /// Sum of the released cells.
    pub released_total: u64,
    /// Cells suppressed because they were below k (0 for exact tables: they count
    /// only released records).
    pub suppressed_cells: u64,
    /// Records outside the k-anonymous release, when 0 or at least k; `None`: fewer
    /// than k (not shown, as `<k` in the table text).
    pub suppressed_total: Option<u64>,
    /// CONFIDENTIAL, only with [`ExportOptions::accounting`]: the exact accounting.
    pub accounting: Option<ExportInput>,
}

/// Reads every case (the slow part: one document each), telling `progress` every 64
/// cases; then applies consent and the date window as `Collected::from_store` does.
fn collect(
    store: &mut Store,
    options: &ExportOptions,
    progress: &Option<Arc<dyn ProgressListener>>,
) -> Result<Collected> {
    let window = DateWindow {
        from: options.from_ms.map(Timestamp),
        to: options.to_ms.map(Timestamp),
    };
    window.validate()?;
    let ids: Vec<_> = store
        .list(&CaseFilter::default())
        .into_iter()
        .map(|s| s.id)
        .collect();
    let total = ids.len() as u64;
    let mut records = Vec::with_capacity(ids.len());
    let mut unreadable = 0usize;
    for (i, id) in ids.iter().enumerate() {
        match store.case(id) {
            Ok(record) => records.push(record),
            Err(CoreError::Corrupted { .. }) => unreadable += 1,
            Err(e) => return Err(e.into()),
        }
        let done = i as u64 + 1;
        if (done.is_multiple_of(64) || done == total)
            && !crate::store::keep_going(progress, done, total)
        {
            return Err(CaravanError::Cancelled);
        }
    }
    let mut collected = Collected::from_cases(&records, &window);
    collected.input.cases += unreadable;
    collected.input.unreadable += unreadable;
    Ok(collected)
}

/// The store's sealed privacy ledger, which the app's exact outputs share with the
/// CLI's: one k-anonymous release per set of cases (docs/export.md, "One release").
/// A ledger the store finds deleted or rolled back is refused; the CLI's
/// `--restart-lost-ledger` is the way to start a new one, on purpose.
fn store_ledger(store: &Store) -> Result<Ledger> {
    match store.privacy_ledger_state()? {
        LedgerState::Never => Ok(Ledger::default()),
        LedgerState::Present(bytes) => {
            Ok(Ledger::from_bytes(&bytes, "the store's privacy ledger")?)
        }
        LedgerState::Lost { .. } => Err(CaravanError::InvalidInput {
            field: "privacy ledger".into(),
            reason: "this store's privacy ledger was deleted or replaced by an older copy, so \
                     what was published before is unknown; no exact output is made until a \
                     data officer restarts it (caravan export … --restart-lost-ledger)"
                .into(),
        }),
        LedgerState::Damaged { .. } => Err(CaravanError::InvalidInput {
            field: "privacy ledger".into(),
            reason: "this store's privacy ledger is damaged (it does not authenticate), so \
                     what was published before is unknown; no exact output is made until a \
                     data officer repairs the store and restarts the ledger (caravan \
                     repair, then caravan export … --restart-lost-ledger); check() names it"
                .into(),
        }),
    }
}

/// An exact output's release: the one pinned in the ledger for these dates, else
/// `default`. Exact outputs of the same cases all count from one release, so no two
/// of them can be subtracted to reveal a count below k.
fn pinned_release(
    ledger: &Ledger,
    options: &ExportOptions,
    default: impl FnOnce() -> caravan_core::Result<ReleaseSpec>,
) -> Result<ReleaseSpec> {
    match ledger.pinned(options.from_ms, options.to_ms) {
        Some(pin) => Ok(pin.release.clone()),
        None => Ok(default()?),
    }
}

/// Checks an exact output against the pinned release (a different release, k, date
/// window or changed data is refused) and records it in the store's sealed ledger.
fn record_release(
    store: &mut Store,
    mut ledger: Ledger,
    collected: &Collected,
    options: &ExportOptions,
    output: &str,
    release: &ReleaseSpec,
    released: usize,
) -> Result<()> {
    ledger.record_release(ReleaseEntry {
        date: Timestamp::now().date_string(),
        output: output.to_string(),
        release: release.clone(),
        k: options.k,
        from: options.from_ms,
        to: options.to_ms,
        released,
        new_release: false,
        data: Some(data_version(&collected.records)?),
    })?;
    store.set_privacy_ledger(&ledger.to_bytes()?)?;
    Ok(())
}

/// The exact accounting, when the caller asked for it (CONFIDENTIAL).
fn accounting(c: &Collected, options: &ExportOptions, redacted: u64) -> Option<ExportInput> {
    if !options.accounting {
        return None;
    }
    let i = &c.input;
    Some(ExportInput {
        cases: i.cases as u64,
        no_statistics_consent: i.no_statistics_consent as u64,
        consent_in_conflict: i.consent_in_conflict as u64,
        unreadable: i.unreadable as u64,
        outside_dates: i.outside_dates as u64,
        eligible: i.eligible as u64,
        redacted,
    })
}

#[uniffi::export]
impl CaravanStore {
    /// A k-anonymized record-level export in the CTDC schema. `progress` is told as
    /// cases are read and may cancel. The result's counts may be published (the
    /// remainder only when 0 or at least k); the exact accounting comes only with
    /// `options.accounting` and is CONFIDENTIAL.
    pub fn export_records(
        &self,
        format: ExportFormat,
        options: ExportOptions,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<RecordExportResult> {
        self.with(|s| {
            let collected = collect(s, &options, &progress)?;
            let ledger = store_ledger(s)?;
            let release = pinned_release(&ledger, &options, || {
                Ok(ReleaseSpec::new(&Attribute::ALL, options.generalize, &[]))
            })?;
            let opts = release.options(options.k, options.country_codes());
            let export = export_records(&collected.records, &opts)?;
            record_release(
                s,
                ledger,
                &collected,
                &options,
                "records (app)",
                &release,
                export.report.released,
            )?;
            let text = match format {
                ExportFormat::Csv => export.to_csv(),
                ExportFormat::Json => export.to_json()?,
            };
            let r = export.report.published();
            Ok(RecordExportResult {
                text,
                k: r.k,
                released: r.released as u64,
                redacted: r.redacted_small_groups.map(|n| n as u64),
                eligible: r.eligible.map(|n| n as u64),
                accounting: accounting(
                    &collected,
                    &options,
                    export.report.redacted_small_groups as u64,
                ),
            })
        })
    }

    /// Counts by one to three `dimensions` (e.g. `citizenship`, `country-of-exploitation`,
    /// `gender`, `age-band`, `year`), cells below k suppressed. `progress` is told as
    /// cases are read and may cancel. The result's counts may be published (the
    /// remainder only when 0 or at least k); the exact accounting comes only with
    /// `options.accounting` and is CONFIDENTIAL.
    pub fn export_table(
        &self,
        dimensions: Vec<String>,
        format: ExportFormat,
        options: ExportOptions,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<TableExportResult> {
        self.with(|s| {
            let dimensions = dimensions
                .iter()
                .map(|d| Dimension::parse(d))
                .collect::<caravan_core::Result<Vec<_>>>()?;
            let collected = collect(s, &options, &progress)?;
            let ledger = store_ledger(s)?;
            let release = pinned_release(&ledger, &options, || {
                ReleaseSpec::for_dimensions(&dimensions)
            })?;
            let what = format!(
                "table {} (app)",
                dimensions
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(" x ")
            );
            let spec = TableSpec {
                k: options.k,
                country_codes: options.country_codes(),
                release: Some(release.clone()),
                ..TableSpec::new(dimensions)
            };
            let t = table(&collected.records, &spec)?;
            record_release(
                s,
                ledger,
                &collected,
                &options,
                &what,
                &release,
                t.total.unwrap_or(0) as usize,
            )?;
            let text = match format {
                ExportFormat::Csv => t.to_csv(),
                ExportFormat::Json => t.to_json()?,
            };
            // The exact remainder, only for the confidential accounting (a table
            // counts a case in every flag it has, so it is not records − cells).
            let outside = if options.accounting {
                let opts = release.options(options.k, options.country_codes());
                export_records(&collected.records, &opts)?
                    .report
                    .redacted_small_groups as u64
            } else {
                0
            };
            Ok(TableExportResult {
                text,
                released_total: t.released_total,
                suppressed_cells: t.suppressed_cells.unwrap_or(0) as u64,
                suppressed_total: t.suppressed_total,
                accounting: accounting(&collected, &options, outside),
            })
        })
    }
}
