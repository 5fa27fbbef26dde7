//! `caravan-bench import --rows N`: a spreadsheet of N synthetic cases imported with
//! `caravan case import`'s code path (read the file, parse, map and check every row,
//! one `Store::import`), in a fresh process that reports its peak RSS, against the
//! plain-Automerge baseline building the same cases (one commit per case) in the same
//! run.
//!
//! The same cases means: what the spreadsheet carries. An import has no referrals and
//! no route dates (the mapping has no columns for them), so the baseline's copy of the
//! cases is built without them too (see `docs/benchmarks.md`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use caravan_core::import::{self, ImportOptions, Mapping, SheetFormat};
use caravan_core::{ScalarField, SetField, Store, StoreKey, Timestamp};
use serde::{Deserialize, Serialize};

use crate::synth::{self, SynthCase};
use crate::{baseline, cpu_time, ms, note, parse_hex, peak_rss_mb, round, BenchResult};

/// The indicators the synthetic cases answer, one column each.
fn indicator_codes(cases: &[SynthCase]) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = cases
        .iter()
        .flat_map(|c| c.indicators.iter().map(|(i, _)| *i))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

const KINDS: [&str; 3] = ["Recruitment", "Transit", "Exploitation"];

/// The spreadsheet (CSV) and its mapping for `cases`.
fn spreadsheet(cases: &[SynthCase]) -> (String, String) {
    let indicators = indicator_codes(cases);
    let mut header: Vec<String> = Vec::new();
    let mut mapping = String::from("version = 1\nseparator = \";\"\n[columns]\n");
    for f in ScalarField::ALL {
        header.push(f.key().to_string());
        let _ = writeln!(mapping, "\"{}\" = \"{}\"", f.key(), f.key());
    }
    for f in SetField::ALL {
        header.push(f.key().to_string());
        let _ = writeln!(mapping, "\"{}\" = \"{}\"", f.key(), f.key());
    }
    for k in KINDS {
        header.push(format!("route {k}"));
        let _ = writeln!(mapping, "\"route {k}\" = \"route.{k}\"");
    }
    header.push("consent share".into());
    header.push("consent statistics".into());
    mapping.push_str("\"consent share\" = \"consent.share\"\n");
    mapping.push_str("\"consent statistics\" = \"consent.statistics\"\n");
    for i in &indicators {
        header.push(format!("indicator {i}"));
        let _ = writeln!(mapping, "\"indicator {i}\" = \"indicator.{i}\"");
    }
    header.push("note".into());
    mapping.push_str("\"note\" = \"note\"\n");
    let mut csv = header.join(",");
    csv.push('\n');
    for c in cases {
        let mut row: Vec<String> = Vec::with_capacity(header.len());
        for f in ScalarField::ALL {
            row.push(
                c.scalars
                    .iter()
                    .find(|(g, _)| g == f)
                    .map_or(String::new(), |(_, v)| (*v).to_string()),
            );
        }
        for f in SetField::ALL {
            let codes: Vec<&str> = c
                .sets
                .iter()
                .filter(|(g, _)| g == f)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            row.push(codes.join(";"));
        }
        for k in KINDS {
            let countries: Vec<&str> = c
                .route
                .iter()
                .filter(|r| r.kind == k)
                .map(|r| r.country)
                .collect();
            row.push(countries.join(";"));
        }
        row.push(if c.consent.0 { "yes" } else { "no" }.into());
        row.push(if c.consent.1 { "yes" } else { "no" }.into());
        for i in &indicators {
            row.push(
                c.indicators
                    .iter()
                    .find(|(j, _)| j == i)
                    .map_or(String::new(), |(_, a)| (*a).to_string()),
            );
        }
        row.push(c.note.to_string());
        let quoted: Vec<String> = row
            .into_iter()
            .map(|v| {
                if v.contains([',', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect();
        csv.push_str(&quoted.join(","));
        csv.push('\n');
    }
    (csv, mapping)
}

/// The baseline's copy of the cases: what the spreadsheet carries (route events
/// kept in the order the import writes them, without dates; no referral).
fn as_imported(cases: &[SynthCase]) -> Vec<SynthCase> {
    cases
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.referral = None;
            let mut route = Vec::new();
            for k in KINDS {
                for r in c.route.iter().filter(|r| r.kind == k) {
                    let mut r = r.clone();
                    r.year = 0;
                    r.month = None;
                    route.push(r);
                }
            }
            c.route = route;
            c
        })
        .collect()
}

/// Everything `import` measures.
#[derive(Serialize, Debug)]
struct ImportBenchReport {
    /// Spreadsheet rows (one case each).
    rows: usize,
    /// Size of the CSV file.
    csv_bytes: usize,
    /// In the fresh process: read + parse + map and check every row + `Store::import`
    /// (one fsync), the store opened with its raw key (no passphrase KDF).
    import_ms: f64,
    /// CPU time of the import process (all threads).
    import_cpu_ms: f64,
    /// Peak RSS of that process (target ≤ 64 MB).
    import_peak_rss_mb: f64,
    /// Its peak RSS once the file was parsed into cells.
    rss_after_read_mb: f64,
    /// Its peak RSS once the rows were read and checked, before the store was opened.
    rss_after_plan_mb: f64,
    /// Of `import_ms`: reading, parsing and checking the rows.
    plan_ms: f64,
    /// Plain Automerge: one document, one commit per case, the same cases.
    baseline_build_ms: f64,
    /// CPU time of the baseline build.
    baseline_build_cpu_ms: f64,
    /// `import_ms / baseline_build_ms` (target ≤ 0.5).
    import_vs_baseline: f64,
    /// Cases in the store afterwards (must equal `rows`).
    stored: usize,
    /// Whether both targets are met.
    pass: bool,
    /// CPUs of the machine.
    cpus: usize,
}

/// What the child process prints.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ImportChild {
    import_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    /// Peak RSS once the file is parsed into cells.
    rss_after_read_mb: f64,
    /// Peak RSS once the rows are read and checked, before the store is opened.
    rss_after_plan_mb: f64,
    /// Time to read, parse and check the rows.
    plan_ms: f64,
    stored: usize,
}

/// `caravan-bench import`.
pub(crate) fn run(rows: usize, seed: u64, json: bool) -> BenchResult<()> {
    if rows == 0 {
        return Err("--rows must be at least 1".into());
    }
    note(&format!("generating {rows} cases (seed {seed})"));
    let cases = synth::cases(rows, seed);
    let (csv, mapping) = spreadsheet(&cases);
    let tmp = tempfile::tempdir()?;
    let csv_path = tmp.path().join("cases.csv");
    let map_path = tmp.path().join("mapping.toml");
    std::fs::write(&csv_path, &csv)?;
    std::fs::write(&map_path, &mapping)?;
    let csv_bytes = csv.len();
    drop(csv);

    note("baseline: one Automerge document, one commit per case");
    let same = as_imported(&cases);
    drop(cases);
    let cpu_before = cpu_time()?;
    let (doc, build_time) = baseline::build(&same, Timestamp::now().0, &mut |_| {})?;
    let build_cpu = cpu_time()?.saturating_sub(cpu_before);
    drop(doc);
    drop(same);

    note("import: a fresh process reads, checks and stores the spreadsheet");
    let dir = tmp.path().join("store");
    let key = StoreKey::generate()?;
    drop(Store::create(&dir, &key)?);
    let out = Command::new(std::env::current_exe()?)
        .arg("import-child")
        .arg("--dir")
        .arg(&dir)
        .arg("--key-hex")
        .arg(synth::hex(key.expose_bytes()))
        .arg("--file")
        .arg(&csv_path)
        .arg("--map")
        .arg(&map_path)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "import-child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let child: ImportChild = serde_json::from_slice(&out.stdout)?;
    let baseline_build_ms = ms(build_time);
    let import_vs_baseline = round(child.import_ms / baseline_build_ms, 3);
    let report = ImportBenchReport {
        rows,
        csv_bytes,
        import_ms: child.import_ms,
        import_cpu_ms: child.cpu_ms,
        import_peak_rss_mb: child.rss_mb,
        rss_after_read_mb: child.rss_after_read_mb,
        rss_after_plan_mb: child.rss_after_plan_mb,
        plan_ms: child.plan_ms,
        baseline_build_ms,
        baseline_build_cpu_ms: ms(build_cpu),
        import_vs_baseline,
        stored: child.stored,
        pass: import_vs_baseline <= 0.5 && child.rss_mb <= 64.0 && child.stored == rows,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report:#?}");
    }
    Ok(())
}

/// The hidden `import-child` subcommand: what `caravan case import` does after the
/// store is unlocked, timed; prints [`ImportChild`].
pub(crate) fn run_child(dir: &Path, key_hex: &str, file: &Path, map: &Path) -> BenchResult<()> {
    let key = StoreKey::from_bytes(&parse_hex(key_hex)?)?;
    let cpu_before = cpu_time()?;
    let start = Instant::now();
    let mapping_text = String::from_utf8(caravan_core::store::inputs::read_bounded(
        map,
        import::MAX_MAPPING_BYTES,
        "mapping",
    )?)?;
    let mapping = Mapping::parse(&mapping_text)?;
    let bytes = caravan_core::store::inputs::read_bounded(file, import::MAX_IMPORT_FILE, "file")?;
    let rss_after_read_mb = peak_rss_mb()?;
    // Two passes, as `caravan case import` does: check every row (keeping no edits),
    // then read the file again and store it block by block.
    let checked = import::check_file(&mapping, &bytes, SheetFormat::Csv, &mut |_, _| true)?;
    let plan_ms = ms(start.elapsed());
    let rss_after_plan_mb = peak_rss_mb()?;
    if !checked.bad.is_empty() {
        return Err(format!("bad rows: {:?}", &checked.bad[..checked.bad.len().min(3)]).into());
    }
    let mut store = Store::open(dir, &key)?;
    let report = import::import_file(
        &mut store,
        &mapping,
        &bytes,
        SheetFormat::Csv,
        checked,
        ImportOptions::default(),
        &mut |_, _| true,
    )?;
    drop(bytes);
    let elapsed = start.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu_before);
    let stored = store.list(&caravan_core::CaseFilter::default()).len();
    drop(report);
    drop(store);
    println!(
        "{}",
        serde_json::to_string(&ImportChild {
            import_ms: ms(elapsed),
            cpu_ms: ms(cpu),
            rss_mb: peak_rss_mb()?,
            rss_after_read_mb,
            rss_after_plan_mb,
            plan_ms,
            stored,
        })?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_core::import::Sheet;

    #[test]
    fn the_synthetic_spreadsheet_imports_every_row() {
        let cases = synth::cases(60, 7);
        let (csv, mapping) = spreadsheet(&cases);
        let mapping = Mapping::parse(&mapping).expect("mapping");
        let sheet = Sheet::read(csv.as_bytes(), SheetFormat::Csv, None).expect("sheet");
        let plan = import::plan(&mapping, sheet).expect("plan");
        assert!(plan.bad.is_empty(), "{:?}", plan.bad);
        assert_eq!(plan.cases.len(), 60);
        // The baseline's copy carries what the spreadsheet carries.
        let same = as_imported(&cases);
        assert!(same.iter().all(|c| c.referral.is_none()));
        assert!(same.iter().flat_map(|c| &c.route).all(|r| r.year == 0));
        let route_events: usize = cases.iter().map(|c| c.route.len()).sum();
        let imported_events: usize = plan
            .cases
            .iter()
            .flat_map(|(_, _, e)| e)
            .filter(|e| matches!(e, caravan_core::Edit::AddRouteEvent { .. }))
            .count();
        assert_eq!(route_events, imported_events);
    }
}
