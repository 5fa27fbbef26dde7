//! `caravan export ...`: statistics safe to publish (k-anonymized CTDC records, tables
//! with small cells suppressed and optional differential privacy, charts), and the
//! confidential extracts agencies exchange to combine their statistics.

use std::io::Write;
use std::path::{Path, PathBuf};

use caravan_core::export::chart::{bar_chart, route_diagram};
use caravan_core::export::dp::{DpSpec, Ledger, LedgerEntry, Mechanism};
use caravan_core::export::{
    check_k_anonymity, combine, export_records, parse_csv, table, Attribute, Collected,
    CountryCodes, DateWindow, Dimension, Extract, InputReport, RecordOptions, SourceReport,
    StatRecord, Table, TableSpec,
};
use caravan_core::{Error, Result, Timestamp};
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
    /// δ of the Gaussian mechanism.
    #[arg(long, default_value_t = 1e-6)]
    delta: f64,
    /// The most cells one case may count in (default: from the dimensions).
    #[arg(long)]
    max_contributions: Option<u32>,
    /// Budget ledger file: the ε spent is recorded there and the running total reported.
    #[arg(long)]
    ledger: Option<PathBuf>,
}

/// `caravan export records`
#[derive(Debug, Args)]
pub(crate) struct RecordsArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// csv or json (default: from the --out extension, else csv).
    #[arg(long)]
    format: Option<String>,
    /// Generalize (coarser ages, years, regions; drop column groups) before
    /// suppressing, choosing the levels that release the most information.
    #[arg(long)]
    generalize: bool,
    /// Attributes the generalization must leave at full detail (comma-separated), e.g.
    /// citizenship,country-of-exploitation.
    #[arg(long, value_delimiter = ',')]
    keep: Vec<String>,
    /// Release only these attributes (comma-separated; default all): year, gender, age,
    /// majority, citizenship, country-of-exploitation, exploitation, means, labour, sex,
    /// recruiter.
    #[arg(long, value_delimiter = ',')]
    attributes: Vec<String>,
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
    /// csv or json (default: from the --out extension, else csv).
    #[arg(long)]
    format: Option<String>,
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
pub(crate) fn run(store: &Path, json: bool, cmd: ExportCommand) -> Result<()> {
    match cmd {
        ExportCommand::Records(args) => records(store, json, args),
        ExportCommand::Table(args) => table_cmd(store, json, args),
        ExportCommand::Chart(args) => chart_cmd(store, json, args),
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
}

fn load(store: &Path, source: &SourceArgs) -> Result<Loaded> {
    let window = window(source)?;
    if source.inputs.is_empty() {
        let mut s = unlock::open(store)?;
        let c = Collected::from_store(&mut s, &window)?;
        return Ok(Loaded {
            records: c.records,
            input: c.input,
            sources: Vec::new(),
        });
    }
    let mut extracts = Vec::new();
    if source.with_store {
        let mut s = unlock::open(store)?;
        let c = Collected::from_store(&mut s, &DateWindow::default())?;
        extracts.push(Extract::new(Some(format!("store {}", store.display())), c));
    }
    for path in &source.inputs {
        let text = crate::inputs::read_input_text(path, "extract")?;
        let e = Extract::from_json(&text).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => invalid(&path.display().to_string(), reason),
            other => other,
        })?;
        extracts.push(e);
    }
    let c = combine(extracts, &window)?;
    Ok(Loaded {
        records: c.records,
        input: c.input,
        sources: c.sources,
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

/// Writes `bytes` to `out`, or to standard output.
fn emit(out: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, bytes).map_err(|e| io_error(path, e)),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| io_error(Path::new("stdout"), e))
        }
    }
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

fn records(store: &Path, json: bool, args: RecordsArgs) -> Result<()> {
    let fmt = format(&args.format, &args.output.out, &["csv", "json"], "csv")?;
    let parse_attrs = |names: &[String]| -> Result<Vec<Attribute>> {
        names
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Attribute::parse(s))
            .collect()
    };
    let mut attributes = parse_attrs(&args.attributes)?;
    if attributes.is_empty() {
        attributes = Attribute::ALL.to_vec();
    }
    let opts = RecordOptions {
        k: args.output.k,
        attributes,
        country_codes: CountryCodes::parse(&args.output.countries)?,
        generalize: args.generalize,
        keep: parse_attrs(&args.keep)?,
    };
    let loaded = load(store, &args.source)?;
    let export = export_records(&loaded.records, &opts)?;
    let bytes = if fmt == "json" {
        export.to_json()?
    } else {
        export.to_csv()
    };
    emit(&args.output.out, bytes.as_bytes())?;
    let r = &export.report;
    let generalized: Vec<String> = r
        .generalization
        .iter()
        .filter(|g| g.level > 0)
        .map(|g| format!("{}: {}", g.attribute, g.level_name))
        .collect();
    let mut text = format!(
        "Released {} of {} record(s) with k = {}; {} redacted in {} group(s) smaller than k.\n",
        r.released, r.eligible, r.k, r.redacted_small_groups, r.redacted_groups
    );
    if args.generalize {
        text.push_str(&format!(
            "Generalization: {} (plain suppression would release {}).\n",
            if generalized.is_empty() {
                "none needed".to_string()
            } else {
                generalized.join(", ")
            },
            r.plain_suppression_released
        ));
    }
    text.push_str(&input_text(&loaded.input));
    if let Some(out) = &args.output.out {
        text.push_str(&format!("Wrote {} ({fmt}).\n", out.display()));
    }
    let value = json!({
        "out": args.output.out.as_ref().map(|p| p.display().to_string()),
        "format": fmt,
        "columns": export.columns(),
        "report": r,
        "input": loaded.input,
        "sources": loaded.sources,
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
        if dp.ledger.is_some() {
            return Err(invalid(
                "ledger",
                "--ledger records differentially private outputs; add --epsilon",
            ));
        }
        return Ok(None);
    };
    let mechanism = match dp.mechanism.to_ascii_lowercase().as_str() {
        "laplace" => Mechanism::Laplace,
        "gaussian" => Mechanism::Gaussian { delta: dp.delta },
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

/// Computes a table and records its budget in the ledger; returns the table and the
/// ledger's running total.
fn make_table(
    store: &Path,
    dims: Vec<Dimension>,
    source: &SourceArgs,
    output: &OutputArgs,
    dp: &DpArgs,
    what: &str,
) -> Result<(Table, Loaded, Option<Value>)> {
    let spec = TableSpec {
        dimensions: dims,
        k: output.k,
        country_codes: CountryCodes::parse(&output.countries)?,
        dp: dp_spec(dp)?,
        years: years(source)?,
    };
    let loaded = load(store, source)?;
    let t = table(&loaded.records, &spec)?;
    let mut ledger_total = None;
    if let (Some(path), Some(eps)) = (&dp.ledger, t.privacy.epsilon) {
        let mut ledger = Ledger::load(path)?;
        ledger.entries.push(LedgerEntry {
            date: Timestamp::now().date_string(),
            output: what.to_string(),
            epsilon: eps,
            delta: t.privacy.delta.unwrap_or(0.0),
        });
        ledger.save(path)?;
        let (e, d) = ledger.spent();
        ledger_total = Some(
            json!({"ledger": path.display().to_string(), "outputs": ledger.entries.len(), "epsilon": e, "delta": d}),
        );
    }
    Ok((t, loaded, ledger_total))
}

fn privacy_text(t: &Table, ledger: &Option<Value>) -> String {
    let mut s = format!("Privacy: {}.\n", t.privacy.statement);
    if let Some(l) = ledger {
        s.push_str(&format!(
            "Budget ledger {}: {} output(s), total ε = {}, δ = {}.\n",
            l["ledger"].as_str().unwrap_or(""),
            l["outputs"],
            l["epsilon"],
            l["delta"]
        ));
    }
    s
}

fn table_cmd(store: &Path, json: bool, args: TableArgs) -> Result<()> {
    let fmt = format(&args.format, &args.output.out, &["csv", "json"], "csv")?;
    let dims = dimensions(&args.by)?;
    let what = format!(
        "table {}",
        dims.iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(" x ")
    );
    let (t, loaded, ledger) = make_table(store, dims, &args.source, &args.output, &args.dp, &what)?;
    let bytes = if fmt == "json" {
        t.to_json()?
    } else {
        t.to_csv()
    };
    emit(&args.output.out, bytes.as_bytes())?;
    let mut text = format!(
        "{}: {} cell(s) released, {} counted",
        what,
        t.cells.len(),
        t.released_total
    );
    match (t.suppressed_cells, t.total) {
        (Some(n), Some(total)) => text.push_str(&format!(
            "; {n} cell(s) below k suppressed; total {total}.\n"
        )),
        (Some(n), None) => text.push_str(&format!(
            "; {n} cell(s) below k suppressed; total withheld (it would reveal them).\n"
        )),
        (None, Some(total)) => text.push_str(&format!("; noisy total {total}.\n")),
        (None, None) => text.push_str(".\n"),
    }
    text.push_str(&privacy_text(&t, &ledger));
    text.push_str(&input_text(&loaded.input));
    let value = json!({
        "out": args.output.out.as_ref().map(|p| p.display().to_string()),
        "format": fmt,
        "cells": t.cells.len(),
        "released_total": t.released_total,
        "suppressed_cells": t.suppressed_cells,
        "total": t.total,
        "privacy": t.privacy,
        "budget": ledger,
        "input": loaded.input,
        "sources": loaded.sources,
    });
    summary(json, args.output.out.is_none(), value, text);
    Ok(())
}

fn chart_cmd(store: &Path, json: bool, args: ChartArgs) -> Result<()> {
    let fmt = format(&args.format, &args.output.out, &["svg", "png"], "svg")?;
    if fmt == "png" && args.output.out.is_none() {
        return Err(invalid("out", "a PNG chart needs --out FILE"));
    }
    let (dims, title) = match args.kind.as_str() {
        "routes" => (
            vec![Dimension::Citizenship, Dimension::CountryOfExploitation],
            "Routes: citizenship -> country of exploitation",
        ),
        "exploitation" => (vec![Dimension::Exploitation], "Types of exploitation"),
        "means" => (vec![Dimension::MeansOfControl], "Means of control"),
        other => {
            return Err(invalid(
                "chart",
                format!("{other:?} is not routes, exploitation or means"),
            ))
        }
    };
    let what = format!("chart {}", args.kind);
    let (t, loaded, ledger) = make_table(store, dims, &args.source, &args.output, &args.dp, &what)?;
    let chart = if t.dimensions.len() == 2 {
        route_diagram(&t, title)?
    } else {
        bar_chart(&t, title)?
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
    text.push_str(&privacy_text(&t, &ledger));
    text.push_str(&input_text(&loaded.input));
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
        "input": loaded.input,
    });
    summary(json, args.output.out.is_none(), value, text);
    Ok(())
}

fn extract_cmd(store: &Path, json: bool, args: ExtractArgs) -> Result<()> {
    let mut s = unlock::open(store)?;
    let collected = Collected::from_store(&mut s, &DateWindow::default())?;
    let input = collected.input.clone();
    let extract = Extract::new(args.agency, collected);
    std::fs::write(&args.out, extract.to_json()?).map_err(|e| io_error(&args.out, e))?;
    let text = format!(
        "Wrote {}: {} consenting case(s), {} withheld id(s). CONFIDENTIAL: per-case data, not \
         anonymized; send it only to the party that combines statistics.\n",
        args.out.display(),
        extract.records.len(),
        extract.withheld.len()
    );
    let value = json!({
        "out": args.out.display().to_string(),
        "records": extract.records.len(),
        "withheld": extract.withheld.len(),
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
