//! Statistics safe to publish, from the app: k-anonymized CTDC record exports and
//! suppressed count tables. Only cases whose person agreed to statistics are read.

use std::sync::Arc;

use caravan_core::export::{
    export_records, table, Collected, CountryCodes, DateWindow, Dimension, RecordOptions,
    TableSpec, DEFAULT_K,
};
use caravan_core::{CaseFilter, Error as CoreError, Store, Timestamp};

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
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            k: DEFAULT_K,
            alpha3: true,
            generalize: false,
            from_ms: None,
            to_ms: None,
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

/// The accounting of the cases an export read.
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
    /// Records redacted because their group was smaller than k.
    pub redacted: u64,
    /// The cases read.
    pub input: ExportInput,
}

/// A count table and what it released.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TableExportResult {
    /// The table (CSV or JSON text), safe to publish.
    pub text: String,
    /// Sum of the released cells.
    pub released_total: u64,
    /// Cells suppressed because they were below k.
    pub suppressed_cells: u64,
    /// The cases read.
    pub input: ExportInput,
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

fn input(c: &Collected) -> ExportInput {
    let i = &c.input;
    ExportInput {
        cases: i.cases as u64,
        no_statistics_consent: i.no_statistics_consent as u64,
        consent_in_conflict: i.consent_in_conflict as u64,
        unreadable: i.unreadable as u64,
        outside_dates: i.outside_dates as u64,
        eligible: i.eligible as u64,
    }
}

#[uniffi::export]
impl CaravanStore {
    /// A k-anonymized record-level export in the CTDC schema. `progress` is told as
    /// cases are read and may cancel.
    pub fn export_records(
        &self,
        format: ExportFormat,
        options: ExportOptions,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<RecordExportResult> {
        self.with(|s| {
            let collected = collect(s, &options, &progress)?;
            let opts = RecordOptions {
                k: options.k,
                country_codes: options.country_codes(),
                generalize: options.generalize,
                ..RecordOptions::default()
            };
            let export = export_records(&collected.records, &opts)?;
            let text = match format {
                ExportFormat::Csv => export.to_csv(),
                ExportFormat::Json => export.to_json()?,
            };
            let r = &export.report;
            Ok(RecordExportResult {
                text,
                k: r.k,
                released: r.released as u64,
                redacted: r.redacted_small_groups as u64,
                input: input(&collected),
            })
        })
    }

    /// Counts by one to three `dimensions` (e.g. `citizenship`, `country-of-exploitation`,
    /// `gender`, `age-band`, `year`), cells below k suppressed. `progress` is told as
    /// cases are read and may cancel.
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
            let spec = TableSpec {
                k: options.k,
                country_codes: options.country_codes(),
                ..TableSpec::new(dimensions)
            };
            let t = table(&collected.records, &spec)?;
            let text = match format {
                ExportFormat::Csv => t.to_csv(),
                ExportFormat::Json => t.to_json()?,
            };
            Ok(TableExportResult {
                text,
                released_total: t.released_total,
                suppressed_cells: t.suppressed_cells.unwrap_or(0) as u64,
                input: input(&collected),
            })
        })
    }
}
