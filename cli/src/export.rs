//! `caravan export ...`: statistics safe to publish (k-anonymized CTDC records, tables
//! with small cells suppressed and optional differential privacy, charts), and the
//! confidential extracts agencies exchange to combine their statistics.

use std::io::Write;
use std::path::{Path, PathBuf};

use caravan_core::export::chart::{bar_chart_in, route_diagram_in};
use caravan_core::export::codebook::{record_package, table_package, FileInfo};
use caravan_core::export::dp::{DpSpec, Mechanism};
use caravan_core::export::files::Grid;
use caravan_core::export::ledger::{data_version, Ledger, ReleaseEntry};
use caravan_core::export::{
    check_k_anonymity, check_table_schema, combine, export_records, parse_csv, table, Attribute,
    Collected, CountryCodes, DateWindow, Dimension, Extract, InputReport, ReleaseSpec, Schema,
    SourceReport, StatRecord, Table, TableSpec,
};
use caravan_core::vocab::Lang;
use caravan_core::{Error, LedgerState, Result, Store, Timestamp};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::unlock;

/// `caravan export ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Record-level k-anonymized export in the CTDC schema (CSV or JSON).
    Records(RecordsArgs),
    /// Counts by one to three dimensions; cells below k suppressed; optional
    /// differential privacy (--epsilon).
    Table(TableArgs),
    /// A chart (SVG or PNG) drawn from a suppressed or noised table: routes,
    /// exploitation or means.
    Chart(ChartArgs),
    /// A CONFIDENTIAL per-case extract (not anonymized) for the party that combines
    /// agencies' statistics; read back with --input.
    Extract(ExtractArgs),
    /// Checks that a CSV export is k-anonymous: every row is shared by at least k rows.
    Check(CheckArgs),
}

/// Which cases: the store, or agencies' extracts, and the registration dates.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// Only cases registered on or after this date (YYYY-MM-DD or YYYY-MM).
    #[arg(long)]
    from: Option<String>,
    /// Only cases registered before this date (YYYY-MM-DD or YYYY-MM).
    #[arg(long)]
    to: Option<String>,
    /// Combine these agencies' extracts instead of reading the store (repeatable).
    /// A case shared between agencies counts once.
    #[arg(long = "input", value_name = "EXTRACT")]
    inputs: Vec<PathBuf>,
    /// With --input: include this store's cases too.
    #[arg(long)]
    with_store: bool,
    /// Also print the agency's own accounting of what was read (cases without consent,
    /// duplicates, ...). CONFIDENTIAL: exact counts, not for publication (they can
    /// reveal a remainder below k; decision 0018).
    #[arg(long)]
    accounting: bool,
    /// With --input (without --with-store): the privacy ledger file of the combined
    /// extracts (budget spent, release published), bound to their data set ids;
    /// required. Refused whenever the store's cases are included: the store's own
    /// ledger, sealed inside it, governs them.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// The store's privacy ledger was deleted or rolled back: start a new one, which
    /// records the loss and counts the whole budget as spent.
    #[arg(long)]
    restart_lost_ledger: bool,
}

/// Protection and output shared by every publishable export.
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Minimum group size (records) or cell count (tables); CTDC uses 11.
    #[arg(long, default_value_t = 11)]
    k: u32,
    /// Country codes: alpha2 or alpha3.
    #[arg(long, default_value = "alpha3")]
    countries: String,
    /// Write the export to this file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Differential privacy options of tables and charts.
#[derive(Debug, Args)]
pub(crate) struct DpArgs {
    /// Add differential privacy, spending this ε (e.g. 1.0).
    #[arg(long)]
    epsilon: Option<f64>,
    /// Noise mechanism: laplace or gaussian.
    #[arg(long, default_value = "laplace")]
    mechanism: String,
    /// δ: the probability that a cell of a single person is shown (partition
    /// selection); with gaussian, half of it goes to the noise.
    #[arg(long, default_value_t = 1e-6)]
    delta: f64,
    /// The most cells one case may count in (default: from the dimensions).
    #[arg(long)]
    max_contributions: Option<u32>,
    /// Publish even though the data set's privacy budget would be exceeded (recorded in
    /// the ledger as over the limit).
    #[arg(long)]
    over_budget: bool,
}

/// `caravan export records`
#[derive(Debug, Args)]
pub(crate) struct RecordsArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// csv, json, xlsx or parquet (default: from the --out extension, else csv). XLSX
    /// and Parquet need --out.
    #[arg(long)]
    format: Option<String>,
    /// Column layout: `ctdc` (exactly the current CTDC global dataset's 27 columns,
    /// then one column per generalization used, e.g. citizenshipRegion) or `caravan`
    /// (the wider layout of earlier exports, generalized values in place).
    #[arg(long, default_value = "caravan")]
    schema: String,
    #[command(flatten)]
    release: ReleaseArgs,
}

/// The k-anonymous record release: what `export records` writes and what exact tables
/// and charts count (decision 0018).
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// Generalize (coarser ages, years, regions; drop column groups) before
    /// suppressing, choosing the levels that release the most information.
    #[arg(long)]
    generalize: bool,
    /// Attributes the generalization must leave at full detail (comma-separated), e.g.
    /// citizenship,country-of-exploitation.
    #[arg(long, value_delimiter = ',')]
    keep: Vec<String>,
    /// Release only these attributes (comma-separated): year, gender, age, majority,
    /// citizenship, country-of-exploitation, exploitation, means, labour, sex,
    /// recruiter. Default: all for records; for exact tables and charts, the store's
    /// pinned release, else the table's own attributes.
    #[arg(long, value_delimiter = ',')]
    attributes: Vec<String>,
    /// Publish from a release other than the one pinned for these cases in the ledger
    /// (recorded; the two releases can be subtracted from each other).
    #[arg(long)]
    new_release: bool,
}

impl ReleaseArgs {
    fn parse(names: &[String]) -> Result<Vec<Attribute>> {
        names
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Attribute::parse(s))
            .collect()
    }

    /// The release these flags ask for; `None` when no flag was given.
    fn spec(&self) -> Result<Option<ReleaseSpec>> {
        let attributes = ReleaseArgs::parse(&self.attributes)?;
        let keep = ReleaseArgs::parse(&self.keep)?;
        if attributes.is_empty() && keep.is_empty() && !self.generalize {
            return Ok(None);
        }
        let attributes = if attributes.is_empty() {
            Attribute::ALL.to_vec()
        } else {
            attributes
        };
        Ok(Some(ReleaseSpec::new(&attributes, self.generalize, &keep)))
    }
}

/// `caravan export table`
#[derive(Debug, Args)]
pub(crate) struct TableArgs {
    /// Dimensions (comma-separated, one to three), or a preset: routes (citizenship x
    /// country of exploitation), profile (exploitation type x gender x age band),
    /// year-route, referrals (service x outcome).
    #[arg(long, value_delimiter = ',', required = true)]
    by: Vec<String>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    dp: DpArgs,
    #[command(flatten)]
    release: ReleaseArgs,
    /// csv, json, xlsx or parquet (default: from the --out extension, else csv). XLSX
    /// and Parquet need --out.
    #[arg(long)]
    format: Option<String>,
    /// Column names and codes: `ctdc` (CTDC column names and codes, e.g. `gender` =
    /// `Woman`, `ageBroad` = `18--20`, flags as their CTDC column `isForcedLabour`;
    /// generalized values in their own column, e.g. `citizenshipRegion`) or `caravan`
    /// (Caravan's dimension names).
    #[arg(long, default_value = "caravan")]
    schema: String,
}

/// `caravan export chart`
#[derive(Debug, Args)]
pub(crate) struct ChartArgs {
    /// routes, exploitation or means.
    kind: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    dp: DpArgs,
    #[command(flatten)]
    release: ReleaseArgs,
    /// svg or png (default: from the --out extension, else svg). PNG needs --out.
    #[arg(long)]
    format: Option<String>,
}

/// `caravan export extract`
#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// The file to write (confidential: per-case data).
    #[arg(long)]
    out: PathBuf,
    /// The agency's name, written into the extract.
    #[arg(long)]
    agency: Option<String>,
    /// The store's privacy ledger was deleted or rolled back: start a new one, which
    /// records the loss and counts the whole budget as spent.
    #[arg(long)]
    restart_lost_ledger: bool,
}

/// `caravan export check`
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// A CSV file from `caravan export records` (or any CSV with a header line).
    file: PathBuf,
    /// The k to check.
    #[arg(long, default_value_t = 11)]
    k: u32,
}

/// Runs an export command.
pub(crate) fn run(store: &Path, json: bool, lang: Lang, cmd: ExportCommand) -> Result<()> {
    match cmd {
        ExportCommand::Records(args) => records(store, json, args),
        ExportCommand::Table(args) => table_cmd(store, json, lang, args),
        ExportCommand::Chart(args) => chart_cmd(store, json, lang, args),
        ExportCommand::Extract(args) => extract_cmd(store, json, args),
        ExportCommand::Check(args) => check_cmd(json, args),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        file: path.display().to_string(),
        source: e,
    }
}

fn window(source: &SourceArgs) -> Result<DateWindow> {
    let parse = |s: &Option<String>| s.as_deref().map(Timestamp::parse_date).transpose();
    let w = DateWindow {
        from: parse(&source.from)?,
        to: parse(&source.to)?,
    };
    w.validate()?;
    Ok(w)
}

/// The cases to export and their accounting.
struct Loaded {
    records: Vec<StatRecord>,
    input: InputReport,
    sources: Vec<SourceReport>,
    /// Whether the accounting may be printed (--accounting).
    accounting: bool,
    /// The store, when its cases were read.
    store: Option<Store>,
    /// The dates.
    window: DateWindow,
    /// The version of the records read ([`data_version`]).
    data_version: String,
    /// The data set ids of the extracts read, sorted, joined with `+` (`unknown` for
    /// extracts without one); empty for the store alone.
    datasets: String,
}

impl Loaded {
    /// The data set's privacy ledger. Whenever the store's cases are in the output
    /// (alone or `--with-store`), the store's own sealed ledger governs the budget and
    /// the pinned release, and `--ledger` is refused: a fresh file must not reset them.
    /// Extracts combined without the store need `--ledger FILE`, which is bound to the
    /// data set ids of those extracts.
    fn ledger(&self, source: &SourceArgs) -> Result<Ledger> {
        match (&self.store, &source.ledger) {
            (Some(_), Some(_)) => Err(invalid(
                "ledger",
                "refused: the store's cases are in this output, so the store's own privacy \
                 ledger (sealed inside it) governs its privacy budget and its pinned \
                 release; --ledger FILE is only for extracts combined without the store \
                 (--input without --with-store)",
            )),
            (Some(store), None) => store_ledger(store, source.restart_lost_ledger),
            (None, Some(path)) => {
                let mut ledger = Ledger::load(path)?;
                match &ledger.dataset {
                    None => ledger.dataset = Some(self.datasets.clone()),
                    Some(d) if *d == self.datasets => {}
                    Some(d) => {
                        return Err(invalid(
                            "ledger",
                            format!(
                                "refused: {} is the privacy ledger of the data sets {d}, and \
                                 these extracts are of {}; keep one ledger per combination \
                                 of data sets",
                                path.display(),
                                self.datasets
                            ),
                        ))
                    }
                }
                Ok(ledger)
            }
            (None, None) => Err(invalid(
                "ledger",
                "combining extracts: give --ledger FILE, the privacy ledger of the combined \
                 data set (it records the privacy budget spent and the release published)",
            )),
        }
    }

    /// Writes the ledger back where it came from.
    fn save_ledger(&mut self, source: &SourceArgs, ledger: &Ledger) -> Result<()> {
        match (&mut self.store, &source.ledger) {
            (Some(store), _) => store.set_privacy_ledger(&ledger.to_bytes()?),
            (None, Some(path)) => ledger.save(path),
            (None, None) => Err(invalid("ledger", "no ledger to write")),
        }
    }

    /// Where the ledger is, for summaries.
    fn ledger_name(&self, source: &SourceArgs) -> String {
        match (&self.store, &source.ledger) {
            (None, Some(p)) => p.display().to_string(),
            _ => "sealed in the store".into(),
        }
    }

    /// A release entry for an exact output.
    fn release_entry(
        &self,
        output: &str,
        release: &ReleaseSpec,
        k: u32,
        released: usize,
        new_release: bool,
    ) -> ReleaseEntry {
        ReleaseEntry {
            date: Timestamp::now().date_string(),
            output: output.to_string(),
            release: release.clone(),
            k,
            from: self.window.from.map(|t| t.0),
            to: self.window.to.map(|t| t.0),
            released,
            new_release,
            data: Some(self.data_version.clone()),
        }
    }

    /// The release of an exact output: the flags, else the one pinned in the ledger
    /// for these dates, else `default`.
    fn release(
        &self,
        ledger: &Ledger,
        args: &ReleaseArgs,
        default: impl FnOnce() -> Result<ReleaseSpec>,
    ) -> Result<ReleaseSpec> {
        if let Some(r) = args.spec()? {
            return Ok(r);
        }
        let window = (self.window.from.map(|t| t.0), self.window.to.map(|t| t.0));
        match ledger.pinned(window.0, window.1) {
            Some(pin) => Ok(pin.release.clone()),
            None => default(),
        }
    }

    /// The accounting for the summary: in full with --accounting, else a pointer to it.
    fn accounting_text(&self) -> String {
        if self.accounting {
            format!(
                "CONFIDENTIAL accounting, not for publication: {}",
                input_text(&self.input)
            )
        } else {
            String::new()
        }
    }
}

/// The store's sealed privacy ledger. One the store finds deleted or rolled back is
/// refused, unless `restart`: then a new ledger records the loss and counts the whole
/// budget as spent.
fn store_ledger(store: &Store, restart: bool) -> Result<Ledger> {
    match store.privacy_ledger_state()? {
        LedgerState::Never => Ok(Ledger::default()),
        LedgerState::Present(bytes) => Ledger::from_bytes(&bytes, "the store's privacy ledger"),
        LedgerState::Lost { writes } | LedgerState::Damaged { writes } if restart => {
            Ok(Ledger::after_loss(writes))
        }
        LedgerState::Damaged { .. } => Err(Error::Corrupted {
            file: "privacy-ledger".into(),
            detail: "the store's privacy ledger does not authenticate, so the privacy budget \
                     spent and the release published are unknown; `caravan repair` keeps it \
                     aside, and --restart-lost-ledger starts a new ledger that records the \
                     loss and counts the whole budget as spent (further DP outputs then need \
                     --over-budget)"
                .into(),
        }),
        LedgerState::Lost { writes } => Err(invalid(
            "privacy ledger",
            format!(
                "refused: this store's privacy ledger was deleted or replaced by an older \
                 copy, or kept aside by a repair (the store recorded {writes} write(s) of \
                 it), so the privacy budget spent and the release published are unknown. Put the latest ledger back, \
                 or repeat with --restart-lost-ledger: a new ledger records the loss and \
                 counts the whole budget as spent (further DP outputs then need \
                 --over-budget)"
            ),
        )),
    }
}

/// Cases of the store that could not be read are left out of an export: name them
/// (file and case) and exit 5, as `case list` does (issue 14).
fn warn_unreadable(store: &Store, unreadable: usize) {
    if unreadable > 0 {
        let ids: Vec<_> = store
            .list(&caravan_core::CaseFilter::default())
            .iter()
            .map(|c| c.id)
            .collect();
        unlock::warn_unreadable(store, &ids);
    }
}

fn load(store: &Path, source: &SourceArgs) -> Result<Loaded> {
    let window = window(source)?;
    if source.inputs.is_empty() {
        let mut s = unlock::open(store)?;
        let c = Collected::from_store(&mut s, &window)?;
        warn_unreadable(&s, c.input.unreadable);
        return Ok(Loaded {
            data_version: data_version(&c.records)?,
            records: c.records,
            input: c.input,
            sources: Vec::new(),
            accounting: source.accounting,
            store: Some(s),
            window,
            datasets: String::new(),
        });
    }
    let mut extracts = Vec::new();
    let mut opened = None;
    if source.with_store {
        let mut s = unlock::open(store)?;
        let c = Collected::from_store(&mut s, &DateWindow::default())?;
        warn_unreadable(&s, c.input.unreadable);
        extracts.push(Extract::new(Some(format!("store {}", store.display())), c));
        opened = Some(s);
    }
    for path in &source.inputs {
        let text = crate::inputs::read_input_text(path, "extract")?;
        let e = Extract::from_json(&text).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => invalid(&path.display().to_string(), reason),
            other => other,
        })?;
        extracts.push(e);
    }
    let mut ids: Vec<String> = extracts
        .iter()
        .skip(usize::from(source.with_store))
        .map(|e| e.dataset.clone().unwrap_or_else(|| "unknown".into()))
        .collect();
    ids.sort();
    ids.dedup();
    let c = combine(extracts, &window)?;
    Ok(Loaded {
        data_version: data_version(&c.records)?,
        datasets: ids.join("+"),
        records: c.records,
        input: c.input,
        sources: c.sources,
        accounting: source.accounting,
        store: opened,
        window,
    })
}

/// The output format: explicit, else from the file extension, else `default`.
fn format(
    explicit: &Option<String>,
    out: &Option<PathBuf>,
    allowed: &[&str],
    default: &str,
) -> Result<String> {
    let f = match explicit {
        Some(f) => f.to_ascii_lowercase(),
        None => out
            .as_ref()
            .and_then(|p| p.extension())
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .filter(|e| allowed.contains(&e.as_str()))
            .unwrap_or_else(|| default.to_string()),
    };
    if allowed.contains(&f.as_str()) {
        Ok(f)
    } else {
        Err(invalid(
            "format",
            format!("{f:?} is not one of {}", allowed.join(", ")),
        ))
    }
}

/// Checks an `--out` target before anything is computed, charged or written (F5 of
/// the round-3 red team): `-` is refused (it is not standard output here:
/// tables, records and charts go to standard output when `--out` is left out; an
/// extract always goes to a file); a target that exists and is not a regular file
/// (a FIFO, a device such as `/dev/stdout`, a directory, or a symbolic link to one)
/// is refused rather than replaced or written through; and the directory must exist
/// and take a new file, so a typo in the path costs no privacy budget (F9).
fn check_out(path: &Path) -> Result<()> {
    if path.as_os_str() == "-" {
        return Err(invalid(
            "out",
            "`-` is not standard output here: give a file name (a table, records or a \
             chart goes to standard output when --out is left out; an extract only to a file)",
        ));
    }
    let not_regular = || {
        invalid(
            "out",
            format!(
                "{} exists and is not a regular file (a pipe, a device or a directory): \
                 give the path of a new or ordinary file; nothing was written",
                path.display()
            ),
        )
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            // A link to a regular file is replaced (an extract) or written (others); a
            // link to a pipe or a device is refused; a dangling link is replaced.
            if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
                return Err(not_regular());
            }
        } else if !meta.is_file() {
            return Err(not_regular());
        }
    }
    // The directory must exist and take a new file (probed with an empty file, removed
    // at once), so a typo in the path fails before any noise is drawn or budget
    // charged (F9 of the round-3 red team: two failed writes spent 4 of ε = 5).
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".caravan-out-check.{}.tmp", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(io_error(dir, e)),
    }
}

/// [`check_out`] for the `--out` of an export and its codebook beside it, when given.
fn check_outs(out: &Option<PathBuf>, codebook: bool) -> Result<()> {
    if let Some(out) = out {
        check_out(out)?;
        if codebook {
            check_out(&codebook_path(out))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `out`, or to standard output.
fn emit(out: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            check_out(path)?;
            std::fs::write(path, bytes).map_err(|e| io_error(path, e))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| io_error(Path::new("stdout"), e))
        }
    }
}

/// The codebook's path beside `out`: `cases.csv` gets `cases.datapackage.json`.
fn codebook_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    out.with_file_name(format!("{stem}.datapackage.json"))
}

/// What the codebook says about the written file.
fn file_info(out: &Path, fmt: &str, source: &SourceArgs) -> FileInfo {
    FileInfo {
        path: out
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format: fmt.to_string(),
        date_from: source.from.clone(),
        date_to: source.to.clone(),
    }
}

/// Writes the codebook beside `out` (none when the export went to standard output)
/// and returns its path.
fn write_codebook(
    out: &Option<PathBuf>,
    package: impl FnOnce(&Path) -> Value,
) -> Result<Option<PathBuf>> {
    let Some(out) = out else { return Ok(None) };
    let path = codebook_path(out);
    check_out(&path)?;
    let text = serde_json::to_string_pretty(&package(out))
        .map_err(|e| Error::Internal(format!("json: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(|e| io_error(&path, e))?;
    Ok(Some(path))
}

/// Prints the summary: JSON with --json, text otherwise; to stderr when the export
/// itself went to standard output.
fn summary(json: bool, to_stderr: bool, value: Value, text: String) {
    let s = if json { format!("{value}\n") } else { text };
    if to_stderr {
        eprint!("{s}");
    } else {
        print!("{s}");
    }
}

fn input_text(input: &InputReport) -> String {
    let mut parts = Vec::new();
    let mut add = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    add(input.no_statistics_consent, "without statistics consent");
    add(input.consent_in_conflict, "with conflicting consent edits");
    add(
        input.withheld_by_another_agency,
        "withheld by another agency",
    );
    add(input.unreadable, "unreadable");
    add(input.duplicates, "duplicate copies of shared cases");
    add(input.outside_dates, "outside the dates");
    if parts.is_empty() {
        format!(
            "{} case(s) read, none left out before anonymization.\n",
            input.cases
        )
    } else {
        format!(
            "{} case(s) read; left out before anonymization: {}.\n",
            input.cases,
            parts.join(", ")
        )
    }
}

/// XLSX and Parquet are binary: refused on standard output.
fn binary_needs_out(fmt: &str, out: &Option<PathBuf>) -> Result<()> {
    if matches!(fmt, "xlsx" | "parquet") && out.is_none() {
        return Err(invalid("format", format!("{fmt} needs --out FILE")));
    }
    Ok(())
}

fn records(store: &Path, json: bool, args: RecordsArgs) -> Result<()> {
    let fmt = format(
        &args.format,
        &args.output.out,
        &["csv", "json", "xlsx", "parquet"],
        "csv",
    )?;
    binary_needs_out(&fmt, &args.output.out)?;
    check_outs(&args.output.out, true)?;
    let countries = CountryCodes::parse(&args.output.countries)?;
    let schema = Schema::parse(&args.schema)?;
    let mut loaded = load(store, &args.source)?;
    let mut ledger = loaded.ledger(&args.source)?;
    let release = loaded.release(&ledger, &args.release, || {
        Ok(ReleaseSpec::new(&Attribute::ALL, false, &[]))
    })?;
    let opts = release.options(args.output.k, countries);
    let export = export_records(&loaded.records, &opts)?;
    ledger.record_release(loaded.release_entry(
        "records",
        &release,
        args.output.k,
        export.report.released,
        args.release.new_release,
    ))?;
    loaded.save_ledger(&args.source, &ledger)?;
    let sheet = export.sheet(schema);
    let notes = || {
        let p = export.report.published();
        vec![
            ("schema".to_string(), schema.version().to_string()),
            ("k".to_string(), p.k.to_string()),
            ("released".to_string(), p.released.to_string()),
        ]
    };
    let bytes = match fmt.as_str() {
        "json" => export.to_json_in(schema)?.into_bytes(),
        "xlsx" => Grid::from_records(&sheet, notes()).to_xlsx()?,
        "parquet" => Grid::from_records(&sheet, notes()).to_parquet()?,
        _ => sheet.to_csv().into_bytes(),
    };
    emit(&args.output.out, &bytes)?;
    let codebook = write_codebook(&args.output.out, |out| {
        record_package(&export, &sheet, &file_info(out, &fmt, &args.source))
    })?;
    let r = &export.report.published();
    let generalized: Vec<String> = r
        .generalization
        .iter()
        .filter(|g| g.level > 0)
        .map(|g| format!("{}: {}", g.attribute, g.level_name))
        .collect();
    let mut text = match (r.eligible, r.redacted_small_groups) {
        (Some(eligible), Some(redacted)) => format!(
            "Released {} of {eligible} record(s) with k = {}; {redacted} redacted in groups \
             smaller than k.\n",
            r.released, r.k
        ),
        _ => format!(
            "Released {} record(s) with k = {}; fewer than k redacted in groups smaller than \
             k (not counted here: the number would itself be a small count).\n",
            r.released, r.k
        ),
    };
    if release.generalize {
        text.push_str(&format!(
            "Generalization: {} (plain suppression would release {}).\n",
            if generalized.is_empty() {
                "none needed".to_string()
            } else {
                generalized.join(", ")
            },
            r.plain_suppression_released
                .map_or_else(|| "fewer than k fewer".to_string(), |n| n.to_string())
        ));
    }
    text.push_str(&release_line(&release, &loaded.ledger_name(&args.source)));
    text.push_str(&loaded.accounting_text());
    if let Some(out) = &args.output.out {
        text.push_str(&format!("Wrote {} ({fmt}).\n", out.display()));
    }
    if let Some(c) = &codebook {
        text.push_str(&format!("Codebook: {}.\n", c.display()));
    }
    let value = json!({
        "out": args.output.out.as_ref().map(|p| p.display().to_string()),
        "codebook": codebook.as_ref().map(|p| p.display().to_string()),
        "format": fmt,
        "schema": schema.name(),
        "columns": sheet.columns,
        "report": r,
        "release": release,
        "ledger": loaded.ledger_name(&args.source),
        "input": loaded.accounting.then_some(&loaded.input),
        "sources": loaded.accounting.then_some(&loaded.sources),
    });
    summary(json, args.output.out.is_none(), value, text);
    Ok(())
}

fn dimensions(by: &[String]) -> Result<Vec<Dimension>> {
    if let [one] = by {
        let preset: Option<&[Dimension]> = match one.trim() {
            "routes" => Some(&[Dimension::Citizenship, Dimension::CountryOfExploitation]),
            "profile" => Some(&[
                Dimension::Exploitation,
                Dimension::Gender,
                Dimension::AgeBand,
            ]),
            "year-route" => Some(&[Dimension::Year, Dimension::Route]),
            "referrals" => Some(&[Dimension::Service, Dimension::ReferralOutcome]),
            _ => None,
        };
        if let Some(p) = preset {
            return Ok(p.to_vec());
        }
    }
    by.iter().map(|s| Dimension::parse(s)).collect()
}

fn dp_spec(dp: &DpArgs) -> Result<Option<DpSpec>> {
    let Some(epsilon) = dp.epsilon else {
        if dp.over_budget {
            return Err(invalid(
                "over-budget",
                "--over-budget is for differentially private outputs; add --epsilon",
            ));
        }
        return Ok(None);
    };
    let mechanism = match dp.mechanism.to_ascii_lowercase().as_str() {
        "laplace" => Mechanism::Laplace,
        "gaussian" => Mechanism::Gaussian,
        other => {
            return Err(invalid(
                "mechanism",
                format!("{other:?} is not laplace or gaussian"),
            ))
        }
    };
    let spec = DpSpec {
        epsilon,
        mechanism,
        max_contributions: dp.max_contributions,
        delta: dp.delta,
    };
    spec.validate()?;
    Ok(Some(spec))
}

/// The year domain of tables: the requested dates, or the default.
fn years(source: &SourceArgs) -> Result<Option<(i32, i32)>> {
    let w = window(source)?;
    Ok(match (w.from, w.to) {
        (Some(f), Some(t)) => Some((f.ymd().0, Timestamp(t.0 - 1).ymd().0)),
        (Some(f), None) => Some((f.ymd().0, Timestamp::now().ymd().0.max(f.ymd().0))),
        (None, Some(t)) => Some((2000.min(t.ymd().0), Timestamp(t.0 - 1).ymd().0)),
        (None, None) => None,
    })
}

/// Computes a table and records it in the data set's privacy ledger: a DP table's
/// budget (refused past the limit unless --over-budget), an exact table's release
/// (refused if another release is pinned for these dates unless --new-release).
/// Returns the table, the cases and the ledger's summary.
fn make_table(
    store: &Path,
    dims: Vec<Dimension>,
    source: &SourceArgs,
    output: &OutputArgs,
    dp: &DpArgs,
    release: &ReleaseArgs,
    what: &str,
) -> Result<(Table, Loaded, Value)> {
    let mut spec = TableSpec {
        dimensions: dims,
        k: output.k,
        country_codes: CountryCodes::parse(&output.countries)?,
        dp: dp_spec(dp)?,
        years: years(source)?,
        release: None,
    };
    let mut loaded = load(store, source)?;
    let mut ledger = loaded.ledger(source)?;
    let t = match spec.dp {
        Some(d) => {
            if release.spec()?.is_some() || release.new_release {
                return Err(invalid(
                    "release",
                    "--attributes, --generalize, --keep and --new-release choose the record \
                     release of exact tables; a differentially private table counts every \
                     case",
                ));
            }
            // Charged before anything is computed or written.
            ledger.spend(what, d.epsilon, d.delta, dp.over_budget)?;
            let t = table(&loaded.records, &spec)?;
            loaded.save_ledger(source, &ledger)?;
            t
        }
        None => {
            let dims = spec.dimensions.clone();
            let r = loaded.release(&ledger, release, || ReleaseSpec::for_dimensions(&dims))?;
            spec.release = Some(r.clone());
            let t = table(&loaded.records, &spec)?;
            ledger.record_release(loaded.release_entry(
                what,
                &r,
                output.k,
                t.total.unwrap_or(0) as usize,
                release.new_release,
            ))?;
            loaded.save_ledger(source, &ledger)?;
            t
        }
    };
    let (e, d) = ledger.spent();
    let summary = json!({
        "ledger": loaded.ledger_name(source),
        "outputs": ledger.entries.len(),
        "epsilon": e,
        "delta": d,
        "epsilon_limit": ledger.epsilon_limit,
        "delta_limit": ledger.delta_limit,
        "over_limit": ledger.entries.last().is_some_and(|x| x.over_limit) && spec.dp.is_some(),
        "release": spec.release,
    });
    Ok((t, loaded, summary))
}

fn release_line(release: &ReleaseSpec, ledger: &str) -> String {
    format!(
        "Release: {}; every exact output of these cases must use it (pinned in the privacy \
         ledger, {ledger}; another needs --new-release).\n",
        release.describe()
    )
}

/// The first lines of a table's summary in Russian (`--lang ru`): cells, counted,
/// and the remainder (a number only when 0 or at least k).
fn table_summary_ru(what: &str, t: &Table) -> String {
    let mut s = format!(
        "{what}: показано ячеек: {}, учтено: {}",
        t.cells.len(),
        t.released_total
    );
    if t.privacy.differentially_private {
        s.push_str(&format!(
            "; итог с шумом {}, около {} в непоказанных ячейках.\n",
            t.total.unwrap_or(0),
            t.suppressed_total.unwrap_or(0)
        ));
    } else {
        match t.suppressed_total {
            Some(w) => s.push_str(&format!(
                " (все из k-анонимного выпуска записей); вне выпуска, в группах меньше k: \
                 {w}.\n"
            )),
            None => s.push_str(
                " (все из k-анонимного выпуска записей); вне выпуска меньше k записей (не \
                 считаются: само это число было бы малым).\n",
            ),
        }
    }
    s
}

fn privacy_text(t: &Table, ledger: &Value, lang: Lang) -> String {
    let ru = lang == Lang::Ru;
    let mut s = if ru {
        format!("Защита: {}.\n", t.statement_in(lang))
    } else {
        format!("Privacy: {}.\n", t.privacy.statement)
    };
    if let Ok(release) = serde_json::from_value::<ReleaseSpec>(ledger["release"].clone()) {
        let ledger_name = ledger["ledger"].as_str().unwrap_or("");
        if ru {
            s.push_str(&format!(
                "Выпуск: {}; все точные выводы этих случаев должны его использовать \
                 (закреплён в журнале приватности, {ledger_name}; другой требует \
                 --new-release).\n",
                release.describe()
            ));
        } else {
            s.push_str(&release_line(&release, ledger_name));
        }
    }
    if t.privacy.differentially_private && ru {
        s.push_str(&format!(
            "Бюджет приватности ({}): DP-выводов {}, всего ε = {} из {}, δ = {} из {}{}.\n",
            ledger["ledger"].as_str().unwrap_or(""),
            ledger["outputs"],
            ledger["epsilon"],
            ledger["epsilon_limit"],
            ledger["delta"],
            ledger["delta_limit"],
            if ledger["over_limit"] == true {
                " (СВЕРХ ЛИМИТА, по --over-budget)"
            } else {
                ""
            }
        ));
    } else if t.privacy.differentially_private {
        s.push_str(&format!(
            "Privacy budget ({}): {} DP output(s), total ε = {} of {}, δ = {} of {}{}.\n",
            ledger["ledger"].as_str().unwrap_or(""),
            ledger["outputs"],
            ledger["epsilon"],
            ledger["epsilon_limit"],
            ledger["delta"],
            ledger["delta_limit"],
            if ledger["over_limit"] == true {
                " (OVER THE LIMIT, by --over-budget)"
            } else {
                ""
            }
        ));
    }
    s
}

fn table_cmd(store: &Path, json: bool, lang: Lang, args: TableArgs) -> Result<()> {
    let fmt = format(
        &args.format,
        &args.output.out,
        &["csv", "json", "xlsx", "parquet"],
        "csv",
    )?;
    binary_needs_out(&fmt, &args.output.out)?;
    check_outs(&args.output.out, true)?;
    let schema = Schema::parse(&args.schema)?;
    let dims = dimensions(&args.by)?;
    // Refused before the ledger is charged or a release pinned.
    check_table_schema(&dims, args.dp.epsilon.is_some(), schema)?;
    let what = format!(
        "table {}",
        dims.iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(" x ")
    );
    let (t, loaded, ledger) = make_table(
        store,
        dims,
        &args.source,
        &args.output,
        &args.dp,
        &args.release,
        &what,
    )?;
    let t = t.in_schema(schema)?;
    // --lang: headers, label columns and footer of the files people read (CSV, XLSX,
    // Parquet); the codes stay codes, and JSON keeps its keys.
    let grid = Grid::from_table_in(&t, lang);
    let bytes = match fmt.as_str() {
        "json" => t.to_json()?.into_bytes(),
        "xlsx" => grid.to_xlsx()?,
        "parquet" => grid.to_parquet()?,
        _ => t.to_csv_in(lang).into_bytes(),
    };
    emit(&args.output.out, &bytes)?;
    let headers = grid.columns.clone();
    let codebook = write_codebook(&args.output.out, |out| {
        table_package(&t, &headers, &file_info(out, &fmt, &args.source))
    })?;
    let mut text = if lang == Lang::Ru {
        table_summary_ru(&what, &t)
    } else {
        format!(
            "{}: {} cell(s) released, {} counted",
            what,
            t.cells.len(),
            t.released_total
        )
    };
    if lang == Lang::Ru {
        // Said in full by table_summary_ru.
    } else if t.privacy.differentially_private {
        text.push_str(&format!(
            "; noisy total {}, about {} in cells not shown.\n",
            t.total.unwrap_or(0),
            t.suppressed_total.unwrap_or(0)
        ));
    } else {
        match t.suppressed_total {
            Some(w) => text.push_str(&format!(
                " (all from the k-anonymous record release); {w} record(s) outside it, in \
                 groups below k.\n"
            )),
            None => text.push_str(
                " (all from the k-anonymous record release); fewer than k record(s) outside \
                 it (not counted: the number would itself be a small count).\n",
            ),
        }
    }
    text.push_str(&privacy_text(&t, &ledger, lang));
    text.push_str(&loaded.accounting_text());
    let value = json!({
        "out": args.output.out.as_ref().map(|p| p.display().to_string()),
        "format": fmt,
        "schema": schema.name(),
        "columns": headers,
        "codebook": codebook.as_ref().map(|p| p.display().to_string()),
        "cells": t.cells.len(),
        "released_total": t.released_total,
        "suppressed_cells": t.suppressed_cells,
        "total": t.total,
        "privacy": t.privacy,
        "budget": ledger,
        "input": loaded.accounting.then_some(&loaded.input),
        "sources": loaded.accounting.then_some(&loaded.sources),
    });
    summary(json, args.output.out.is_none(), value, text);
    Ok(())
}

fn chart_cmd(store: &Path, json: bool, lang: Lang, args: ChartArgs) -> Result<()> {
    let fmt = format(&args.format, &args.output.out, &["svg", "png"], "svg")?;
    if fmt == "png" && args.output.out.is_none() {
        return Err(invalid("out", "a PNG chart needs --out FILE"));
    }
    check_outs(&args.output.out, false)?;
    if fmt == "png" && lang != Lang::En {
        // Refused before the ledger is charged (the PNG font has no Cyrillic).
        return Err(invalid(
            "format",
            "the PNG font has no Cyrillic glyphs: use --format svg with --lang ru",
        ));
    }
    let ru = lang == Lang::Ru;
    let (dims, title) = match args.kind.as_str() {
        "routes" => (
            vec![Dimension::Citizenship, Dimension::CountryOfExploitation],
            if ru {
                "Маршруты: гражданство → страна эксплуатации"
            } else {
                "Routes: citizenship -> country of exploitation"
            },
        ),
        "exploitation" => (
            vec![Dimension::Exploitation],
            if ru {
                "Виды эксплуатации"
            } else {
                "Types of exploitation"
            },
        ),
        "means" => (
            vec![Dimension::MeansOfControl],
            if ru {
                "Средства контроля"
            } else {
                "Means of control"
            },
        ),
        other => {
            return Err(invalid(
                "chart",
                format!("{other:?} is not routes, exploitation or means"),
            ))
        }
    };
    let what = format!("chart {}", args.kind);
    let (t, loaded, ledger) = make_table(
        store,
        dims,
        &args.source,
        &args.output,
        &args.dp,
        &args.release,
        &what,
    )?;
    let chart = if t.dimensions.len() == 2 {
        route_diagram_in(&t, title, lang)?
    } else {
        bar_chart_in(&t, title, lang)?
    };
    let bytes = if fmt == "png" {
        chart.to_png()?
    } else {
        chart.to_svg().into_bytes()
    };
    emit(&args.output.out, &bytes)?;
    let mut text = format!(
        "{}: {} quantities drawn from the table's released cells.\n",
        what,
        chart.data.len()
    );
    text.push_str(&privacy_text(&t, &ledger, lang));
    text.push_str(&loaded.accounting_text());
    if let Some(out) = &args.output.out {
        text.push_str(&format!(
            "Wrote {} ({fmt}, {}x{}).\n",
            out.display(),
            chart.width,
            chart.height
        ));
    }
    let value = json!({
        "out": args.output.out.as_ref().map(|p| p.display().to_string()),
        "format": fmt,
        "width": chart.width,
        "height": chart.height,
        "data": chart.data,
        "privacy": t.privacy,
        "budget": ledger,
        "input": loaded.accounting.then_some(&loaded.input),
    });
    summary(json, args.output.out.is_none(), value, text);
    Ok(())
}

/// Writes a confidential file readable and writable by its owner only (0600 on Unix):
/// a new file is created with that mode beside `path` (so no other user can open it
/// while it is written) and renamed over it, so an existing file's wider mode is not
/// kept.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    check_out(path)?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path, e));
    }
    Ok(())
}

fn extract_cmd(store: &Path, json: bool, args: ExtractArgs) -> Result<()> {
    // Before the store is opened or the extract recorded in the ledger.
    check_out(&args.out)?;
    let mut s = unlock::open(store)?;
    let collected = Collected::from_store(&mut s, &DateWindow::default())?;
    warn_unreadable(&s, collected.input.unreadable);
    let input = collected.input.clone();
    let mut extract = Extract::new(args.agency.clone(), collected);
    // Recorded in the store's ledger before the file is written, and the data set id
    // written into it (decision 0018: what a file-based extract can and cannot bind).
    let mut ledger = store_ledger(&s, args.restart_lost_ledger)?;
    extract.dataset = Some(ledger.record_extract(extract.records.len(), args.agency)?);
    s.set_privacy_ledger(&ledger.to_bytes()?)?;
    write_private(&args.out, extract.to_json()?.as_bytes())?;
    eprintln!(
        "warning: {} holds per-case data in plain text (readable only by this user, mode \
         0600). Move it on an encrypted medium and delete it once combined.",
        args.out.display()
    );
    let text = format!(
        "Wrote {}: {} consenting case(s), {} withheld id(s). CONFIDENTIAL: per-case data, not \
         anonymized; send it only to the party that combines statistics. Recorded in this \
         store's privacy ledger (data set {}). Statistics computed from the extract are \
         charged to the combining party's ledger for this data set, not to this store's: \
         the store cannot enforce its budget on a copy of its data.\n",
        args.out.display(),
        extract.records.len(),
        extract.withheld.len(),
        extract.dataset.as_deref().unwrap_or("")
    );
    let value = json!({
        "out": args.out.display().to_string(),
        "records": extract.records.len(),
        "withheld": extract.withheld.len(),
        "dataset": extract.dataset,
        "extracts_recorded": ledger.extracts.len(),
        "input": input,
    });
    summary(json, false, value, text);
    Ok(())
}

fn check_cmd(json: bool, args: CheckArgs) -> Result<()> {
    let text = crate::inputs::read_input_text(&args.file, "CSV file")?;
    let (header, rows) = parse_csv(&text)?;
    let check = check_k_anonymity(&rows, args.k as usize);
    let value = json!({"file": args.file.display().to_string(), "k": args.k, "columns": header.len(), "check": check, "holds": check.holds()});
    let msg = format!(
        "{}: {} row(s) in {} group(s) over {} column(s); smallest group {}; {} group(s) below k = {}.\n",
        args.file.display(),
        check.rows,
        check.groups,
        header.len(),
        check.smallest_group,
        check.groups_below_k,
        args.k
    );
    summary(json, false, value, msg);
    if check.holds() {
        Ok(())
    } else {
        Err(invalid(
            "k-anonymity",
            format!(
                "{} group(s) smaller than k = {}",
                check.groups_below_k, args.k
            ),
        ))
    }
}
