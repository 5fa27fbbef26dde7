//! Caravan benchmarks: the encrypted device store, sync and statistics exports, each
//! measured against plain Automerge doing the same job in the same run where a
//! baseline exists.
//!
//! `caravan-bench store | sync | export --cases N [--json]`, `import --rows N [--json]`; see `docs/benchmarks.md`
//! for what each figure measures and the targets.

/// The allocator (docs/decisions/0014-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod baseline;
mod export;
mod import_bench;
mod sync_bench;
mod synth;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use caravan_core::{CaseFilter, Edit, ScalarField, Store, StoreKey, StoreOptions, Timestamp};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::synth::{SplitMix64, SynthCase};

/// Result type of the benchmark steps.
type BenchResult<T> = Result<T, Box<dyn Error>>;

/// Caravan benchmarks.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// What to run.
    #[command(subcommand)]
    command: Cmd,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
enum Cmd {
    /// The device store (open + list, durable updates, bulk import, memory, disk)
    /// against a single plain Automerge document holding the same cases.
    Store {
        /// Number of synthetic cases.
        #[arg(long, default_value_t = 10_000)]
        cases: usize,
        /// Number of timed single-field updates.
        #[arg(long, default_value_t = 1_000)]
        updates: usize,
        /// Seed of the case generator.
        #[arg(long, default_value_t = 0x00C0_FFEE)]
        seed: u64,
        /// Directory to create the temporary store in (default: the system temp dir).
        #[arg(long)]
        tmp: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Keep the store directory afterwards and print its path and (throwaway) key
        /// on stderr, e.g. to profile `open-list` on it.
        #[arg(long)]
        keep: bool,
    },
    /// Sync between two devices (first sync, one-edit sync, bundles, ingest) against
    /// plain Automerge sync of the same cases in one document.
    Sync {
        /// Number of synthetic cases.
        #[arg(long, default_value_t = 10_000)]
        cases: usize,
        /// Seed of the case generator.
        #[arg(long, default_value_t = 0x00C0_FFEE)]
        seed: u64,
        /// Rounds of the first sync and its baseline (the medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Statistics exports: k-anonymized records with generalization, tables, charts.
    Export {
        /// Number of synthetic cases.
        #[arg(long, default_value_t = 100_000)]
        cases: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bulk import of a spreadsheet (`caravan case import`'s code path) in a fresh
    /// process (peak RSS), against plain Automerge building the same cases.
    Import {
        /// Number of spreadsheet rows (one synthetic case each).
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        /// Seed of the case generator.
        #[arg(long, default_value_t = 0x00C0_FFEE)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Internal: open a store, import a CSV through a mapping, print time and peak RSS.
    #[command(hide = true)]
    ImportChild {
        /// The store directory.
        #[arg(long)]
        dir: PathBuf,
        /// The store key, 64 hex digits.
        #[arg(long)]
        key_hex: String,
        /// The CSV file.
        #[arg(long)]
        file: PathBuf,
        /// The mapping file.
        #[arg(long)]
        map: PathBuf,
    },
    /// Internal: open a store, list all cases and print peak RSS as JSON (run as a
    /// fresh process by `store`, so its memory holds nothing else).
    #[command(hide = true)]
    OpenList {
        /// The store directory.
        #[arg(long)]
        dir: PathBuf,
        /// The store key, 64 hex digits.
        #[arg(long)]
        key_hex: String,
    },
    /// Internal: open a store, try to import `file` as a bundle the way `caravan bundle
    /// import` does (bounded read, then import), print peak RSS as JSON.
    #[command(hide = true)]
    JunkImport {
        /// The store directory.
        #[arg(long)]
        dir: PathBuf,
        /// The store key, 64 hex digits.
        #[arg(long)]
        key_hex: String,
        /// The file to import.
        #[arg(long)]
        file: PathBuf,
    },
}

/// Everything `store` measures. Times in milliseconds, sizes in bytes unless named
/// otherwise.
#[derive(Serialize, Debug)]
struct Report {
    /// Number of cases.
    cases: usize,
    /// `Store::open` + `list(all)`, median of 5 opens.
    open_list_ms: f64,
    /// Fastest of the 5 opens.
    open_list_min_ms: f64,
    /// CPU time of one open + list (mean of the 5 runs; 10 ms clock ticks, so about
    /// ±2 ms): what the wall time would be on an idle core.
    open_list_cpu_ms: f64,
    /// The `Store::open` part of `open_list_ms` (median of its 5 runs).
    open_only_ms: f64,
    /// The `list` part of `open_list_ms` (median of its 5 runs).
    list_only_ms: f64,
    /// `AutoCommit::load` of the baseline document's saved bytes.
    baseline_open_ms: f64,
    /// CPU time of one baseline load (10 ms clock ticks).
    baseline_open_cpu_ms: f64,
    /// `open_list_ms / baseline_open_ms`.
    open_vs_baseline: f64,
    /// Median durable single-field update.
    update_p50_ms: f64,
    /// 99th percentile (nearest rank) durable single-field update.
    update_p99_ms: f64,
    /// Slowest durable single-field update.
    update_max_ms: f64,
    /// Mean durable single-field update.
    update_mean_ms: f64,
    /// CPU time per update (total over all updates / count; excludes waiting for the
    /// disk, includes the CPU work of the fsync calls).
    update_cpu_mean_ms: f64,
    /// Number of timed updates.
    updates: usize,
    /// Compactions that ran inside the timed updates.
    update_compactions: usize,
    /// `Store::create_with` + `import` of all cases (one fsync), on an empty directory.
    bulk_import_ms: f64,
    /// CPU time (user + system, all threads) of the bulk import: shows how much of
    /// the two cores it actually got.
    bulk_import_cpu_ms: f64,
    /// Building the baseline document, one commit per case.
    baseline_build_ms: f64,
    /// CPU time of the baseline build.
    baseline_build_cpu_ms: f64,
    /// `bulk_import_ms / baseline_build_ms`.
    import_vs_baseline: f64,
    /// Peak RSS (VmHWM, MiB) of a fresh process that opens the store and lists all cases.
    rss_mb: f64,
    /// Peak RSS (VmHWM, MiB) of a fresh process that opens the store and is given a
    /// 1 GiB junk bundle file (sparse) to import, until it refuses it (target ≤ 64).
    junk_import_peak_rss_mb: f64,
    /// Open + list time inside that fresh process (after the updates).
    fresh_process_open_list_ms: f64,
    /// `Store::disk_usage()` after the import and the updates.
    disk_bytes: u64,
    /// `disk_bytes / cases`.
    disk_bytes_per_case: f64,
    /// Blocks allocated to the store's files (`st_blocks * 512`, summed).
    disk_alloc_bytes: u64,
    /// Number of files in the store directory.
    disk_files: usize,
    /// An explicit `compact_now()` after the updates (for reference: the cost of the
    /// compaction an update occasionally triggers).
    compact_ms: f64,
    /// Size of the baseline document's `save()`.
    baseline_save_bytes: u64,
    /// `disk_bytes / baseline_save_bytes`.
    disk_vs_baseline_save: f64,
    /// Logical CPUs available to this process.
    cpus: usize,
    /// Version of caravan-bench (= the workspace version).
    version: String,
    /// Generator seed.
    seed: u64,
    /// 1-minute load average when the run started and when it ended (other work on
    /// the machine competes for its cores).
    load_avg: [f64; 2],
    /// Whether each target is met (targets are defined at 10,000 cases).
    pass: Targets,
}

/// Pass (`true`) or miss (`false`) of each target.
#[derive(Serialize, Debug)]
struct Targets {
    /// `open_list_ms <= 50`.
    open_list_ms: bool,
    /// `open_vs_baseline <= 0.1`.
    open_vs_baseline: bool,
    /// `update_p99_ms <= 5`.
    update_p99_ms: bool,
    /// `import_vs_baseline <= 0.5`.
    import_vs_baseline: bool,
    /// `rss_mb <= 48`.
    rss_mb: bool,
    /// `junk_import_peak_rss_mb <= 64`.
    junk_import_peak_rss_mb: bool,
    /// `disk_bytes_per_case <= 1000`.
    disk_bytes_per_case: bool,
}

/// Target: peak RSS while refusing a 1 GiB junk bundle, MiB (issue 14).
const JUNK_RSS_MAX_MB: f64 = 64.0;
/// Target: open + list all, milliseconds.
const OPEN_LIST_MAX_MS: f64 = 50.0;
/// Target: open + list relative to loading the baseline document.
const OPEN_VS_BASELINE_MAX: f64 = 0.1;
/// Target: durable update p99, milliseconds.
const UPDATE_P99_MAX_MS: f64 = 5.0;
/// Target: bulk import relative to building the baseline document.
const IMPORT_VS_BASELINE_MAX: f64 = 0.5;
/// Target: peak RSS of open + list, MiB.
const RSS_MAX_MB: f64 = 48.0;
/// Target: bytes on disk per case (1 KB = 1,000 bytes).
const DISK_PER_CASE_MAX: f64 = 1000.0;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Store {
            cases,
            updates,
            seed,
            tmp,
            json,
            keep,
        } => run_store(cases, updates, seed, tmp, json, keep),
        Cmd::Sync {
            cases,
            seed,
            rounds,
            json,
        } => sync_bench::run(cases, seed, rounds, json).map_err(Into::into),
        Cmd::Export { cases, json } => {
            export::run(cases, json);
            Ok(())
        }
        Cmd::Import { rows, seed, json } => import_bench::run(rows, seed, json),
        Cmd::ImportChild {
            dir,
            key_hex,
            file,
            map,
        } => import_bench::run_child(&dir, &key_hex, &file, &map),
        Cmd::OpenList { dir, key_hex } => run_open_list(&dir, &key_hex),
        Cmd::JunkImport { dir, key_hex, file } => run_junk_import(&dir, &key_hex, &file),
    };
    if let Err(e) = result {
        eprintln!("caravan-bench: {e}");
        std::process::exit(1);
    }
}

/// Milliseconds of `d`, rounded to microseconds.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `x` rounded to `digits` decimals.
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Progress on stderr (the JSON goes to stdout).
fn note(msg: &str) {
    eprintln!("[caravan-bench] {msg}");
}

/// The median of `v` (sorted in place); 0 when empty.
fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    if v.is_empty() {
        Duration::ZERO
    } else {
        v[v.len() / 2]
    }
}

/// The nearest-rank `p`-th percentile of sorted `v`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The `store` benchmark.
fn run_store(
    n: usize,
    updates: usize,
    seed: u64,
    tmp: Option<PathBuf>,
    json: bool,
    keep: bool,
) -> BenchResult<()> {
    if n == 0 {
        return Err("--cases must be at least 1".into());
    }
    let load_start = load_average();
    note(&format!("generating {n} cases (seed {seed})"));
    let synth = synth::cases(n, seed);
    let edits: Vec<Vec<Edit>> = synth.iter().map(SynthCase::edits).collect();

    // --- Baseline: one plain Automerge document, one commit per case. ---
    note("baseline: building one Automerge document, one commit per case");
    let now = Timestamp::now().0;
    let cpu_before = cpu_time()?;
    let (mut doc, build_time) = baseline::build(&synth, now, &mut |done| {
        note(&format!("baseline: {done}/{n}"))
    })?;
    let build_cpu = cpu_time()?.saturating_sub(cpu_before);
    drop(synth);
    let saved = doc.save();
    drop(doc);
    let load_runs = if n <= 10_000 { 3 } else { 1 };
    note(&format!(
        "baseline: {} bytes saved; timing load ({load_runs} runs)",
        saved.len()
    ));
    let mut loads = Vec::with_capacity(load_runs);
    let cpu_before = cpu_time()?;
    for _ in 0..load_runs {
        let start = Instant::now();
        let loaded = AutoCommit::load(&saved)?;
        loads.push(start.elapsed());
        drop(loaded);
    }
    let baseline_open_cpu = cpu_time()?.saturating_sub(cpu_before) / load_runs as u32;
    let baseline_open = median(&mut loads);
    let baseline_save_bytes = saved.len() as u64;
    drop(saved);

    // --- Caravan store: bulk import into an empty directory. ---
    let tmp_root = match &tmp {
        Some(dir) => tempfile::Builder::new()
            .prefix("caravan-bench-")
            .tempdir_in(dir)?,
        None => tempfile::Builder::new()
            .prefix("caravan-bench-")
            .tempdir()?,
    };
    let dir = tmp_root.path().join("store");
    let key = StoreKey::generate()?;
    note("store: bulk import");
    let cpu_before = cpu_time()?;
    let start = Instant::now();
    let mut store = Store::create_with(&dir, &key, None, StoreOptions::default())?;
    let ids = store.import(&edits, &mut |_, _| true)?;
    let import_time = start.elapsed();
    let import_cpu = cpu_time()?.saturating_sub(cpu_before);
    drop(store);
    drop(edits);
    if ids.len() != n {
        return Err(format!("import returned {} ids for {n} cases", ids.len()).into());
    }

    // --- Open + list, median of 5 (each open after dropping the previous store). ---
    note("store: open + list (5 runs)");
    let mut opens = Vec::with_capacity(5);
    let mut open_parts = Vec::with_capacity(5);
    let mut list_parts = Vec::with_capacity(5);
    let mut open_store = None;
    let mut open_cpu = Duration::ZERO;
    for _ in 0..5 {
        drop(open_store.take()); // close (and unlock) the previous one first
        let cpu_before = cpu_time()?;
        let start = Instant::now();
        let s = Store::open(&dir, &key)?;
        let opened = start.elapsed();
        let all = s.list(&CaseFilter::default());
        let total = start.elapsed();
        open_cpu += cpu_time()?.saturating_sub(cpu_before);
        opens.push(total);
        open_parts.push(opened);
        list_parts.push(total - opened);
        if all.len() != n {
            return Err(format!("list returned {} summaries, expected {n}", all.len()).into());
        }
        drop(all);
        open_store = Some(s);
    }
    let open_min = opens.iter().copied().min().unwrap_or_default();
    let open_list_cpu = open_cpu / 5;
    let open_list = median(&mut opens);
    let open_part = median(&mut open_parts);
    let list_part = median(&mut list_parts);
    let mut store = open_store.ok_or("no store was opened")?;

    // --- Durable single-field updates of random cases. ---
    note(&format!("store: {updates} durable updates"));
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0F0D_A7E5);
    let mut times = Vec::with_capacity(updates);
    let mut compactions = 0;
    let mut gen = index_file(&dir)?;
    let cpu_before = cpu_time()?;
    for i in 0..updates {
        let id = ids[rng.below(ids.len())];
        let status = if i % 2 == 0 { "FollowUp" } else { "Active" };
        let edit = [Edit::set(ScalarField::CaseStatus, status)];
        let start = Instant::now();
        store.update_case(&id, &edit)?;
        times.push(start.elapsed());
        let now_gen = index_file(&dir)?;
        if now_gen != gen {
            compactions += 1;
            gen = now_gen;
        }
    }
    let update_cpu = cpu_time()?.saturating_sub(cpu_before);
    times.sort();
    let update_mean = if times.is_empty() {
        Duration::ZERO
    } else {
        times.iter().sum::<Duration>() / times.len() as u32
    };

    // --- Disk after import + updates. ---
    let disk_bytes = store.disk_usage()?;
    let (disk_alloc_bytes, disk_files) = allocated_bytes(&dir)?;
    drop(store);

    // --- Peak RSS of a fresh process that only opens and lists. ---
    note("store: open + list in a fresh process (peak RSS)");
    let child = fresh_open_list(&dir, &key)?;
    note("store: a 1 GiB junk bundle refused in a fresh process (peak RSS)");
    let junk_rss = fresh_junk_import(&dir, &key)?;

    // --- For reference: an explicit compaction. ---
    let mut store = Store::open(&dir, &key)?;
    let start = Instant::now();
    store.compact_now()?;
    let compact_time = start.elapsed();
    drop(store);

    let open_list_ms = ms(open_list);
    let baseline_open_ms = ms(baseline_open);
    let bulk_import_ms = ms(import_time);
    let baseline_build_ms = ms(build_time);
    let update_p99_ms = ms(percentile(&times, 99.0));
    let disk_bytes_per_case = disk_bytes as f64 / n as f64;
    let open_vs_baseline = open_list_ms / baseline_open_ms;
    let import_vs_baseline = bulk_import_ms / baseline_build_ms;
    let report = Report {
        cases: n,
        open_list_ms,
        open_list_min_ms: ms(open_min),
        open_list_cpu_ms: ms(open_list_cpu),
        open_only_ms: ms(open_part),
        list_only_ms: ms(list_part),
        baseline_open_ms,
        baseline_open_cpu_ms: ms(baseline_open_cpu),
        open_vs_baseline: round(open_vs_baseline, 4),
        update_p50_ms: ms(percentile(&times, 50.0)),
        update_p99_ms,
        update_max_ms: ms(times.last().copied().unwrap_or_default()),
        update_mean_ms: ms(update_mean),
        update_cpu_mean_ms: ms(update_cpu / updates.max(1) as u32),
        updates,
        update_compactions: compactions,
        bulk_import_ms,
        bulk_import_cpu_ms: ms(import_cpu),
        baseline_build_ms,
        baseline_build_cpu_ms: ms(build_cpu),
        import_vs_baseline: round(import_vs_baseline, 4),
        rss_mb: child.rss_mb,
        junk_import_peak_rss_mb: junk_rss,
        fresh_process_open_list_ms: child.open_list_ms,
        disk_bytes,
        disk_bytes_per_case: round(disk_bytes_per_case, 1),
        disk_alloc_bytes,
        disk_files,
        compact_ms: ms(compact_time),
        baseline_save_bytes,
        disk_vs_baseline_save: round(disk_bytes as f64 / baseline_save_bytes as f64, 2),
        cpus: std::thread::available_parallelism().map_or(1, |c| c.get()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        seed,
        load_avg: [load_start, load_average()],
        pass: Targets {
            open_list_ms: open_list_ms <= OPEN_LIST_MAX_MS,
            open_vs_baseline: open_vs_baseline <= OPEN_VS_BASELINE_MAX,
            update_p99_ms: update_p99_ms <= UPDATE_P99_MAX_MS,
            import_vs_baseline: import_vs_baseline <= IMPORT_VS_BASELINE_MAX,
            rss_mb: child.rss_mb <= RSS_MAX_MB,
            junk_import_peak_rss_mb: junk_rss <= JUNK_RSS_MAX_MB,
            disk_bytes_per_case: disk_bytes_per_case <= DISK_PER_CASE_MAX,
        },
    };
    if keep {
        let kept = tmp_root.keep();
        note(&format!(
            "kept {} (key {})",
            kept.join("store").display(),
            synth::hex(key.expose_bytes())
        ));
    } else {
        drop(tmp_root);
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// CPU time (user + system, all threads) this process has used so far, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> BenchResult<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14, 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("bad /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> BenchResult<u64> {
        Ok(fields
            .get(i)
            .ok_or("short /proc/self/stat")?
            .parse::<u64>()?)
    };
    // `rest` starts at field 3 (state), so field k is at index k - 3.
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    Ok(Duration::from_millis(ticks * 10))
}

/// The 1-minute load average (0 if unavailable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// The name of the current index snapshot file (changes when a compaction runs).
fn index_file(dir: &Path) -> BenchResult<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("index-"))
        .collect();
    names.sort();
    Ok(names.pop().unwrap_or_default())
}

/// Bytes allocated to the files of `dir` (`st_blocks * 512`) and the number of files.
fn allocated_bytes(dir: &Path) -> BenchResult<(u64, usize)> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        total += meta.blocks() * 512;
        files += 1;
    }
    Ok((total, files))
}

/// What the fresh `open-list` process reports.
#[derive(Serialize, serde::Deserialize, Debug)]
struct ChildReport {
    /// Cases listed.
    cases: usize,
    /// Open + list time in that process.
    open_list_ms: f64,
    /// VmHWM in MiB.
    rss_mb: f64,
}

/// Runs `open-list` in a fresh process of this executable and parses its report.
fn fresh_open_list(dir: &Path, key: &StoreKey) -> BenchResult<ChildReport> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .arg("open-list")
        .arg("--dir")
        .arg(dir)
        .arg("--key-hex")
        .arg(synth::hex(key.expose_bytes()))
        .output()?;
    if !out.status.success() {
        return Err(format!("open-list failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Runs `junk-import` in a fresh process on a 1 GiB junk file next to the store.
fn fresh_junk_import(dir: &Path, key: &StoreKey) -> BenchResult<f64> {
    let junk = dir.with_extension("junk.cvb");
    std::fs::File::create(&junk)?.set_len(1 << 30)?;
    let out = Command::new(std::env::current_exe()?)
        .arg("junk-import")
        .arg("--dir")
        .arg(dir)
        .arg("--key-hex")
        .arg(synth::hex(key.expose_bytes()))
        .arg("--file")
        .arg(&junk)
        .output();
    std::fs::remove_file(&junk)?;
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "junk-import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["rss_mb"]
        .as_f64()
        .ok_or_else(|| "junk-import: no rss_mb".into())
}

/// The hidden `junk-import` subcommand: the bundle must be refused; prints peak RSS.
fn run_junk_import(dir: &Path, key_hex: &str, file: &Path) -> BenchResult<()> {
    let key = StoreKey::from_bytes(&parse_hex(key_hex)?)?;
    let mut store = Store::open(dir, &key)?;
    let result = caravan_core::store::inputs::read_bounded(
        file,
        caravan_core::store::inputs::MAX_BUNDLE_FILE,
        "bundle",
    )
    .and_then(|bytes| store.import_bundle(&bytes));
    let refused = match result {
        Ok(_) => return Err("a junk bundle was imported".into()),
        Err(e) => e.to_string(),
    };
    drop(store);
    println!(
        "{}",
        serde_json::json!({"refused": refused, "rss_mb": peak_rss_mb()?})
    );
    Ok(())
}

fn parse_hex(key_hex: &str) -> BenchResult<Vec<u8>> {
    Ok((0..key_hex.len())
        .step_by(2)
        .map(|i| {
            key_hex
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or("--key-hex must be hexadecimal")?)
}

/// The hidden `open-list` subcommand: open, list all, print peak RSS.
fn run_open_list(dir: &Path, key_hex: &str) -> BenchResult<()> {
    let bytes = (0..key_hex.len())
        .step_by(2)
        .map(|i| {
            key_hex
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or("--key-hex must be hexadecimal")?;
    let key = StoreKey::from_bytes(&bytes)?;
    let start = Instant::now();
    let store = Store::open(dir, &key)?;
    let all = store.list(&CaseFilter::default());
    let elapsed = start.elapsed();
    let report = ChildReport {
        cases: all.len(),
        open_list_ms: ms(elapsed),
        rss_mb: peak_rss_mb()?,
    };
    drop(all);
    drop(store);
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// VmHWM (peak resident set size) of this process, in MiB.
fn peak_rss_mb() -> BenchResult<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|e| format!("VmHWM: {e}"))?;
    Ok(round(kib / 1024.0, 1))
}

/// PASS or MISS.
fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The human-readable table.
fn print_table(r: &Report) {
    println!(
        "Caravan store benchmark: {} cases, {} CPUs, caravan-bench {} (targets are set at 10,000 cases)",
        r.cases, r.cpus, r.version
    );
    println!();
    println!(
        "{:<34} {:>14} {:>22} {:>6}",
        "target", "measured", "limit", ""
    );
    let rows = [
        (
            "open + list all",
            format!("{:.1} ms", r.open_list_ms),
            "<= 50 ms".to_string(),
            r.pass.open_list_ms,
        ),
        (
            "open + list / baseline load",
            format!("{:.4}", r.open_vs_baseline),
            format!("<= 0.1 ({:.0} ms)", r.baseline_open_ms * 0.1),
            r.pass.open_vs_baseline,
        ),
        (
            "durable update p99",
            format!("{:.2} ms", r.update_p99_ms),
            "<= 5 ms".to_string(),
            r.pass.update_p99_ms,
        ),
        (
            "bulk import / baseline build",
            format!("{:.4}", r.import_vs_baseline),
            format!("<= 0.5 ({:.0} ms)", r.baseline_build_ms * 0.5),
            r.pass.import_vs_baseline,
        ),
        (
            "peak RSS, open + list (fresh)",
            format!("{:.1} MiB", r.rss_mb),
            "<= 48 MiB".to_string(),
            r.pass.rss_mb,
        ),
        (
            "peak RSS, refusing 1 GiB junk",
            format!("{:.1} MiB", r.junk_import_peak_rss_mb),
            "<= 64 MiB".to_string(),
            r.pass.junk_import_peak_rss_mb,
        ),
        (
            "disk per case",
            format!("{:.0} B", r.disk_bytes_per_case),
            "<= 1000 B".to_string(),
            r.pass.disk_bytes_per_case,
        ),
    ];
    for (name, value, limit, ok) in rows {
        println!("{name:<34} {value:>14} {limit:>22} {:>6}", verdict(ok));
    }
    println!();
    println!("{:<34} {:>14}", "other figures", "");
    let other = [
        (
            "open + list, fastest of 5",
            format!("{:.1} ms", r.open_list_min_ms),
        ),
        (
            "open + list, CPU time",
            format!("{:.0} ms", r.open_list_cpu_ms),
        ),
        (
            "open + list, fresh process",
            format!("{:.1} ms", r.fresh_process_open_list_ms),
        ),
        (
            "baseline load (AutoCommit::load)",
            format!("{:.1} ms", r.baseline_open_ms),
        ),
        (
            "baseline load, CPU time",
            format!("{:.0} ms", r.baseline_open_cpu_ms),
        ),
        (
            "open part / list part",
            format!("{:.1} / {:.1} ms", r.open_only_ms, r.list_only_ms),
        ),
        ("bulk import", format!("{:.1} ms", r.bulk_import_ms)),
        (
            "bulk import CPU (all threads)",
            format!("{:.0} ms", r.bulk_import_cpu_ms),
        ),
        (
            "baseline build (1 commit/case)",
            format!("{:.1} ms", r.baseline_build_ms),
        ),
        (
            "baseline build CPU",
            format!("{:.0} ms", r.baseline_build_cpu_ms),
        ),
        ("update p50", format!("{:.2} ms", r.update_p50_ms)),
        ("update mean", format!("{:.2} ms", r.update_mean_ms)),
        (
            "update CPU, mean",
            format!("{:.2} ms", r.update_cpu_mean_ms),
        ),
        ("update max", format!("{:.2} ms", r.update_max_ms)),
        (
            "updates / compactions among them",
            format!("{} / {}", r.updates, r.update_compactions),
        ),
        ("explicit compaction", format!("{:.1} ms", r.compact_ms)),
        ("disk (sum of file lengths)", format!("{} B", r.disk_bytes)),
        (
            "disk (allocated blocks)",
            format!("{} B", r.disk_alloc_bytes),
        ),
        ("files in the store", r.disk_files.to_string()),
        (
            "load average at start / end",
            format!("{:.1} / {:.1}", r.load_avg[0], r.load_avg[1]),
        ),
        (
            "baseline save() size",
            format!("{} B", r.baseline_save_bytes),
        ),
        (
            "disk / baseline save()",
            format!("{:.2}", r.disk_vs_baseline_save),
        ),
    ];
    for (name, value) in other {
        println!("{name:<34} {value:>14}");
    }
}
