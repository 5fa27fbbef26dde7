//! `caravan export ...` end to end: a real store, real processes, files written and read
//! back, exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn caravan(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("CARAVAN_PASSPHRASE", PASS)
        .env_remove("CARAVAN_LANG")
        .output()
        .expect("run caravan")
}

fn ok(store: &Path, args: &[&str]) -> Output {
    let out = caravan(store, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok_json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&ok(store, &all).stdout).expect("json summary")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// A store with 24 consenting cases (12 + 12 in two identical groups), and 12 without
/// statistics consent, all from New Zealand and exploited in Iceland.
fn store_with_cases(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("store");
    ok(&store, &["init", "--kdf-memory-mib", "8"]);
    let kg = [
        "case",
        "add",
        "--set",
        "gender=Masculine",
        "--set",
        "age_band=30-38",
        "--add",
        "citizenship=KG",
        "--add",
        "exploitation=ForcedLabour",
        "--add",
        "labour_industry=F_Construction",
        "--add",
        "means_of_control=WithholdsDocuments",
        "--route",
        "Exploitation:RU:2024-03",
        "--consent-stats",
        "yes",
    ];
    let tj = [
        "case",
        "add",
        "--set",
        "gender=Feminine",
        "--set",
        "age_band=21-23",
        "--add",
        "citizenship=TJ",
        "--add",
        "exploitation=SexualExploitation",
        "--add",
        "means_of_control=FalsePromises",
        "--route",
        "Exploitation:AE:2024-06",
        "--consent-stats",
        "yes",
    ];
    let nz = [
        "case",
        "add",
        "--set",
        "gender=Feminine",
        "--add",
        "citizenship=NZ",
        "--add",
        "exploitation=ForcedLabour",
        "--route",
        "Exploitation:IS:2024-01",
    ];
    for _ in 0..12 {
        ok(&store, &kg);
        ok(&store, &tj);
    }
    for i in 0..12 {
        let mut args = nz.to_vec();
        if i % 2 == 0 {
            args.extend(["--consent-stats", "no"]);
        }
        ok(&store, &args);
    }
    store
}

fn assert_no_new_zealand(what: &str, text: &str) {
    for needle in ["NZ", "NZL", "New Zealand", "ISL", "Iceland"] {
        assert!(!text.contains(needle), "{what} mentions {needle}:\n{text}");
    }
}

#[test]
fn records_tables_charts_and_checks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let d = tmp.path();

    // Record-level CSV, k = 11: both groups of 12 are released, nothing else.
    let csv_path = d.join("records.csv");
    let summary = ok_json(
        &store,
        &[
            "export",
            "records",
            "--accounting",
            "--out",
            csv_path.to_str().expect("p"),
        ],
    );
    assert_eq!(summary["report"]["released"], 24);
    assert_eq!(summary["report"]["redacted_small_groups"], 0);
    assert_eq!(summary["input"]["no_statistics_consent"], 12);
    assert_eq!(summary["input"]["cases"], 36);
    let csv = std::fs::read_to_string(&csv_path).expect("csv");
    assert_no_new_zealand("records.csv", &csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 25);
    assert!(lines[0].starts_with("yearOfRegistration,gender,ageBroad,majorityStatus"));
    assert!(lines[0].contains("CountryOfExploitation"));
    assert!(lines
        .iter()
        .any(|l| l.contains(",Man,30--38,") && l.contains("KGZ,RUS")));
    assert_eq!(lines.iter().filter(|l| l.contains("TJK,ARE")).count(), 12);

    // The checker agrees, and refuses a CSV with a small group.
    let check = ok_json(&store, &["export", "check", csv_path.to_str().expect("p")]);
    assert_eq!(check["holds"], true);
    assert_eq!(check["check"]["smallest_group"], 12);
    let bad = d.join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n1,2\n3,4\n").expect("write");
    let out = caravan(
        &store,
        &["export", "check", "--k", "2", bad.to_str().expect("p")],
    );
    assert_eq!(code(&out), 2);

    // k = 13: both groups are too small and are redacted; the report says why.
    // A different k is another release of the same cases: refused, unless
    // --new-release (recorded).
    let out = caravan(
        &store,
        &["export", "records", "--k", "13", "--format", "json"],
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--new-release"));
    let out = ok(
        &store,
        &[
            "export",
            "records",
            "--k",
            "13",
            "--format",
            "json",
            "--new-release",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json export");
    assert_eq!(doc["records"].as_array().expect("records").len(), 0);
    assert_eq!(doc["report"]["redacted_small_groups"], 24);
    assert!(String::from_utf8_lossy(&out.stderr).contains("24 redacted"));

    // Generalization and alpha-2 codes, JSON records.
    let out = ok(
        &store,
        &[
            "export",
            "records",
            "--new-release",
            "--k",
            "20",
            "--generalize",
            "--countries",
            "alpha2",
            "--format",
            "json",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json export");
    let released = doc["records"].as_array().expect("records");
    assert_eq!(released.len(), 24, "generalized to groups of 24");
    assert_eq!(doc["country_codes"], "alpha2");
    assert_no_new_zealand("records json", &doc.to_string());

    // Dates: everything was registered today, so a window in the past is empty.
    let s = ok_json(
        &store,
        &[
            "export",
            "records",
            "--accounting",
            "--new-release",
            "--to",
            "2001-01-01",
            "--out",
            d.join("e.csv").to_str().expect("p"),
        ],
    );
    assert_eq!(s["report"]["released"], 0);
    assert_eq!(s["input"]["outside_dates"], 24);

    // Tables: exact, then differentially private with a budget ledger.
    let out = ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "routes",
            "--k",
            "5",
            "--attributes",
            "citizenship,country-of-exploitation",
            "--new-release",
        ],
    );
    let table = String::from_utf8(out.stdout).expect("utf8");
    assert!(table.starts_with("citizenship,country-of-exploitation,count\n"));
    assert!(table.contains("KGZ,RUS,12\n") && table.contains("TJK,ARE,12\n"));
    assert_no_new_zealand("table", &table);
    let t = d.join("t.json");
    let args = [
        "export",
        "table",
        "--by",
        "exploitation",
        "--epsilon",
        "0.5",
        "--out",
        t.to_str().expect("p"),
    ];
    let s1 = ok_json(&store, &args);
    assert_eq!(s1["privacy"]["differentially_private"], true);
    assert_eq!(s1["privacy"]["epsilon"], 0.5);
    assert_eq!(s1["budget"]["epsilon"], 0.5);
    let s2 = ok_json(&store, &args);
    assert_eq!(s2["budget"]["epsilon"], 1.0);
    assert_eq!(s2["budget"]["outputs"], 2);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&t).expect("t")).expect("json");
    assert_eq!(written["privacy"]["mechanism"], "laplace");
    let gauss = ok_json(
        &store,
        &[
            "export",
            "table",
            "--by",
            "gender,age-band",
            "--epsilon",
            "1",
            "--mechanism",
            "gaussian",
            "--out",
            d.join("g.csv").to_str().expect("p"),
        ],
    );
    assert_eq!(gauss["privacy"]["mechanism"], "gaussian");
    assert_eq!(gauss["privacy"]["delta"], 1e-6);

    // Charts: SVG to stdout, PNG to a file; numbers match the table.
    let out = ok(&store, &["export", "chart", "routes", "--k", "5"]);
    let svg = String::from_utf8(out.stdout).expect("svg");
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("data-values=\"KGZ|RUS\" data-count=\"12\""));
    assert_no_new_zealand("svg", &svg);
    let png = d.join("means.png");
    let s = ok_json(
        &store,
        &[
            "export",
            "chart",
            "means",
            "--k",
            "5",
            "--attributes",
            "means",
            "--new-release",
            "--out",
            png.to_str().expect("p"),
        ],
    );
    assert_eq!(s["format"], "png");
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let bars = s["data"].as_array().expect("data");
    assert!(bars
        .iter()
        .any(|b| b["values"][0] == "WithholdDocs" && b["count"] == 12));

    // Usage errors exit with 2.
    for args in [
        vec!["export", "records", "--format", "xml"],
        vec!["export", "chart", "means", "--format", "png"],
        vec![
            "export",
            "records",
            "--from",
            "2024-05-01",
            "--to",
            "2024-01-01",
        ],
        vec!["export", "table", "--by", "shoe-size"],
        vec!["export", "table", "--by", "gender", "--epsilon", "-1"],
        vec!["export", "records", "--attributes", "height"],
    ] {
        let out = caravan(&store, &args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn extracts_combine_without_double_counting() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let a = tmp.path().join("a.json");
    let s = ok_json(
        &store,
        &[
            "export",
            "extract",
            "--agency",
            "NGO Bishkek",
            "--out",
            a.to_str().expect("p"),
        ],
    );
    assert_eq!(s["records"], 24);
    assert_eq!(s["withheld"], 12);
    let text = std::fs::read_to_string(&a).expect("extract");
    assert!(text.contains("CONFIDENTIAL"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the extract is private: {mode:o}");
        // Rewritten over a world-readable file, it is private again.
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = ok(
            &store,
            &["export", "extract", "--out", a.to_str().expect("p")],
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("plain text"));
        let mode = std::fs::metadata(&a).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "rewritten: {mode:o}");
    }
    assert!(text.contains("NGO Bishkek"));

    // The same cases arriving from two agencies (shared by sync) count once; the
    // combining party needs no store.
    let nowhere = tmp.path().join("no-store");
    let out = caravan(
        &nowhere,
        &[
            "--json",
            "export",
            "records",
            "--accounting",
            "--ledger",
            tmp.path().join("combined-ledger.json").to_str().expect("p"),
            "--input",
            a.to_str().expect("p"),
            "--input",
            a.to_str().expect("p"),
            "--out",
            tmp.path().join("c.csv").to_str().expect("p"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["report"]["released"], 24);
    assert_eq!(s["input"]["duplicates"], 24);
    assert_eq!(s["sources"][0]["shared"], 24);
    // With the store as a third source: still 24 (the store's own ledger governs).
    let s = ok_json(
        &store,
        &[
            "export",
            "table",
            "--by",
            "citizenship",
            "--input",
            a.to_str().expect("p"),
            "--with-store",
            "--accounting",
            "--k",
            "1",
            "--out",
            tmp.path().join("c2.csv").to_str().expect("p"),
        ],
    );
    assert_eq!(s["released_total"], 24);
    assert_eq!(s["input"]["duplicates"], 24);

    // Not an extract: a clear error.
    let bogus = tmp.path().join("bogus.json");
    std::fs::write(&bogus, "{\"format\":\"something else\"}").expect("write");
    let out = caravan(
        &nowhere,
        &["export", "records", "--input", bogus.to_str().expect("p")],
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Caravan statistics extract"));
}

#[test]
fn the_privacy_budget_is_enforced_and_one_release_is_pinned() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let out_file = tmp.path().join("t.csv");
    let table = |eps: &str, extra: &[&'static str]| {
        let mut args = vec![
            "export",
            "table",
            "--by",
            "routes",
            "--epsilon",
            eps,
            "--out",
            out_file.to_str().expect("p"),
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let run = |args: &[String]| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        caravan(&store, &refs)
    };
    // The default limit is ε = 5: five tables at ε = 1 pass.
    for i in 1..=5 {
        let mut args = vec!["--json".to_string()];
        args.extend(table("1", &[]));
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(s["budget"]["epsilon"], f64::from(i));
        assert_eq!(s["budget"]["epsilon_limit"], 5.0);
    }
    // The sixth is refused, writes nothing, and records nothing.
    std::fs::remove_file(&out_file).expect("rm");
    let out = run(&table("0.5", &[]));
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused") && err.contains("--over-budget"),
        "{err}"
    );
    assert!(!out_file.exists());
    // The override passes and is recorded as over the limit.
    let mut args = vec!["--json".to_string()];
    args.extend(table("0.5", &["--over-budget"]));
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["budget"]["epsilon"], 5.5);
    assert_eq!(s["budget"]["over_limit"], true);
    assert_eq!(s["budget"]["outputs"], 6);
    // The ledger is sealed in the store: no clear file mentions ε.
    for entry in std::fs::read_dir(&store).expect("dir") {
        let bytes = std::fs::read(entry.expect("e").path()).unwrap_or_default();
        assert!(!bytes.windows(7).any(|w| w == b"epsilon"));
    }
    // A ledger file is for combined extracts only.
    let out = caravan(
        &store,
        &["export", "table", "--by", "gender", "--ledger", "x.json"],
    );
    assert_eq!(code(&out), 2);

    // Exact outputs: the first pins its release; another release is refused.
    ok(&store, &["export", "table", "--by", "routes", "--k", "5"]);
    let out = caravan(&store, &["export", "table", "--by", "gender", "--k", "5"]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not in this data set's k-anonymous record release"),
        "{err}"
    );
    let out = caravan(
        &store,
        &[
            "export",
            "table",
            "--by",
            "gender",
            "--k",
            "5",
            "--attributes",
            "gender",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--new-release"));
    // The record export follows the pin: the same two columns.
    let out = ok(&store, &["export", "records", "--k", "5"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.starts_with("citizenship,CountryOfExploitation\n"),
        "{csv}"
    );
}

// ---------------------------------------------------------------------------------------
// The red team's findings against issue 15 (/work/findings/privacy-attack.md), replayed
// command by command: each must now be refused.

/// A small store: `n` Kyrgyz cases exploited in Russia, consenting.
fn small_store(dir: &Path, n: usize) -> std::path::PathBuf {
    let store = dir.join("store");
    ok(&store, &["init", "--kdf-memory-mib", "8"]);
    for _ in 0..n {
        add_case(&store, "KG");
    }
    store
}

fn add_case(store: &Path, citizenship: &str) {
    let cit = format!("citizenship={citizenship}");
    ok(
        store,
        &[
            "case",
            "add",
            "--set",
            "gender=Masculine",
            "--add",
            &cit,
            "--route",
            "Exploitation:RU:2024-03",
            "--consent-stats",
            "yes",
        ],
    );
}

/// An extract of `(citizenship, registration year)` records, written to `path`.
fn extract_file(path: &Path, cases: &[(&str, i32, usize)], dataset: Option<&str>) {
    let mut records = Vec::new();
    let mut n = 0u32;
    for &(cit, year, count) in cases {
        // June 1st of the year, ms since the epoch (days from 1970 by 365.25).
        let days = ((year - 1970) as f64 * 365.25).round() as i64 + 151;
        for _ in 0..count {
            n += 1;
            records.push(serde_json::json!({
                "id": format!("{n:032x}"), "registered": days * 86_400_000,
                "trafficking_status": null, "gender": "Feminine", "age_band": "18-20",
                "majority_at_registration": null, "majority_at_exploitation": null,
                "majority_at_entry": null, "citizenship": [cit],
                "exploitation": ["SexualExploitation"], "labour_industry": [],
                "sexual_exploitation": [], "means_of_control": [], "recruiter_relation": [],
                "route": [{"kind": "Exploitation", "country": "RU", "year": 2023}],
                "referrals": []
            }));
        }
    }
    let doc = serde_json::json!({
        "format": "caravan-statistics-extract", "version": 1,
        "classification": "CONFIDENTIAL", "agency": null, "created": "2026-12-04",
        "withheld": [], "unreadable": 0, "records": records, "dataset": dataset,
    });
    std::fs::write(path, doc.to_string()).expect("write extract");
}

fn refused(out: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(code(out), 2, "expected a refusal ({needle}), got: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    err
}

/// F1, F7: `--epsilon 1e-300 --k 1` printed the exact counts labelled DP; gaussian
/// panicked (exit 101). Both are refused, and nothing is charged.
#[test]
fn attack_f1_extreme_epsilon_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 3);
    for eps in ["1e-300", "1e-20", "0.001", "11", "1e300"] {
        for mech in ["laplace", "gaussian"] {
            let out = caravan(
                &store,
                &[
                    "export",
                    "table",
                    "--by",
                    "citizenship",
                    "--k",
                    "1",
                    "--epsilon",
                    eps,
                    "--mechanism",
                    mech,
                ],
            );
            refused(&out, "between 0.01 and 10");
            assert!(out.stdout.is_empty(), "{eps} {mech}: nothing printed");
        }
    }
    let csv = tmp.path().join("t.csv");
    let s = ok_json(
        &store,
        &[
            "export",
            "table",
            "--by",
            "citizenship",
            "--epsilon",
            "0.01",
            "--out",
            csv.to_str().expect("p"),
        ],
    );
    assert_eq!(
        s["budget"]["epsilon"], 0.01,
        "only the accepted output charged"
    );
}

/// F2: `--with-store --input X --ledger NEW` skipped the store's pinned release and its
/// budget. With store data in the output the store's ledger governs.
#[test]
fn attack_f2_with_store_uses_the_stores_ledger() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 12);
    let pad = tmp.path().join("pad.json");
    extract_file(&pad, &[("UZ", 2025, 1)], None);
    let fresh = tmp.path().join("fresh.json");
    let with_store = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "table",
            "--by",
            "citizenship",
            "--input",
            pad.to_str().expect("p"),
            "--with-store",
        ];
        args.extend_from_slice(extra);
        caravan(&store, &args)
    };
    refused(
        &with_store(&["--k", "1", "--ledger", fresh.to_str().expect("p")]),
        "store's own privacy ledger",
    );
    assert!(!fresh.exists());
    // Spend the store's budget; with the store's cases the output is refused.
    for _ in 0..5 {
        ok(
            &store,
            &["export", "table", "--by", "citizenship", "--epsilon", "1"],
        );
    }
    refused(&with_store(&["--epsilon", "1"]), "--over-budget");
    // The pinned exact release (k = 11, store only) governs the combined data too: the
    // padded data are another version, refused without --new-release.
    ok(&store, &["export", "table", "--by", "citizenship"]);
    refused(&with_store(&["--k", "1"]), "--new-release");
    refused(&with_store(&[]), "cases changed");
}

/// F3: deleting the ledger file (or putting an older copy back) reset the budget.
#[test]
fn attack_f3_a_deleted_or_rolled_back_ledger_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 3);
    let dp = ["export", "table", "--by", "citizenship", "--epsilon", "1"];
    ok(&store, &dp);
    let file = store.join("privacy-ledger");
    let old = std::fs::read(&file).expect("ledger");
    for _ in 0..4 {
        ok(&store, &dp);
    }
    refused(&caravan(&store, &dp), "--over-budget");
    // Rolled back to the copy after one output.
    std::fs::write(&file, &old).expect("rollback");
    refused(&caravan(&store, &dp), "deleted or replaced");
    // Deleted.
    std::fs::remove_file(&file).expect("rm");
    let err = refused(&caravan(&store, &dp), "deleted or replaced");
    assert!(err.contains("--restart-lost-ledger"), "{err}");
    refused(
        &caravan(&store, &["export", "records", "--k", "1"]),
        "deleted or replaced",
    );
    // The explicit restart records the loss and counts the budget as spent.
    let mut restart = dp.to_vec();
    restart.push("--restart-lost-ledger");
    refused(&caravan(&store, &restart), "--over-budget");
    restart.push("--over-budget");
    let csv = tmp.path().join("t.csv");
    restart.extend(["--out", csv.to_str().expect("p")]);
    let mut json = vec!["--json"];
    json.extend_from_slice(&restart);
    let s: Value = serde_json::from_slice(&ok(&store, &json).stdout).expect("json");
    assert_eq!(s["budget"]["epsilon"], 6.0, "5 counted as spent + 1");
    assert_eq!(s["budget"]["over_limit"], true);
}

/// R2-4 of the 2026-12-05 red team, replayed: a damaged ledger was "No damage found"
/// to `check` and `repair`, and `--restart-lost-ledger` did not accept it. Now
/// `check` names it (exit 5), the exports refuse it (exit 5) until the restart is
/// asked for, `repair` keeps it aside, and the restart counts the whole budget spent.
#[test]
fn attack_r2_4_a_damaged_ledger_is_checked_repaired_and_restarted_on_purpose() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 3);
    let dp = ["export", "table", "--by", "citizenship", "--epsilon", "1"];
    ok(&store, &dp);
    let file = store.join("privacy-ledger");
    let mut bad = std::fs::read(&file).expect("ledger");
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&file, &bad).expect("flip");
    let check = caravan(&store, &["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(5), "{text}");
    assert!(text.contains("DAMAGED privacy-ledger"), "{text}");
    let out = caravan(&store, &dp);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--restart-lost-ledger"), "{err}");
    // The restart is accepted straight away, and counts the whole budget as spent.
    let mut restart = dp.to_vec();
    restart.push("--restart-lost-ledger");
    refused(&caravan(&store, &restart), "--over-budget");
    // Or repair first: the file is kept aside, and the ledger is lost, not reset.
    let repair = caravan(&store, &["repair", "--yes"]);
    let text = String::from_utf8_lossy(&repair.stdout);
    assert!(
        text.contains("kept aside: damaged-privacy-ledger"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(store.join("damaged-privacy-ledger")).expect("aside"),
        bad
    );
    let err = refused(&caravan(&store, &dp), "deleted or replaced");
    assert!(err.contains("--restart-lost-ledger"), "{err}");
    let check = caravan(&store, &["check"]);
    assert_eq!(
        check.status.code(),
        Some(5),
        "the lost ledger stays reported"
    );
    refused(&caravan(&store, &restart), "--over-budget");
    restart.push("--over-budget");
    let csv = tmp.path().join("t.csv");
    restart.extend(["--out", csv.to_str().expect("p")]);
    let mut json = vec!["--json"];
    json.extend_from_slice(&restart);
    let s: Value = serde_json::from_slice(&ok(&store, &json).stdout).expect("json");
    assert_eq!(s["budget"]["epsilon"], 6.0, "5 counted as spent + 1");
    let check = caravan(&store, &["check"]);
    assert_eq!(check.status.code(), Some(0), "a restarted ledger is whole");
}

/// F4: `export extract` left no trace, and its copy could be queried with fresh ledger
/// files. The extract is recorded in the store's ledger and carries the data set id; a
/// ledger file belongs to one combination of data sets.
#[test]
fn attack_f4_extracts_are_recorded_and_bound_to_a_data_set() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 3);
    let ex = tmp.path().join("ex.json");
    let s = ok_json(
        &store,
        &["export", "extract", "--out", ex.to_str().expect("p")],
    );
    assert_eq!(s["extracts_recorded"], 1);
    let id = s["dataset"].as_str().expect("dataset id").to_string();
    let text = std::fs::read_to_string(&ex).expect("extract");
    assert!(text.contains(&id));
    let s = ok_json(
        &store,
        &["export", "extract", "--out", ex.to_str().expect("p")],
    );
    assert_eq!(s["extracts_recorded"], 2);
    assert_eq!(s["dataset"], id.as_str(), "one id per store");
    // The combining party's ledger is keyed by the extracts' data sets.
    let other = tmp.path().join("other.json");
    extract_file(&other, &[("UZ", 2025, 12)], Some("0123"));
    let ledger = tmp.path().join("l.json");
    let nowhere = tmp.path().join("none");
    let dp = |inputs: &[&Path]| {
        let mut args = vec!["export", "table", "--by", "citizenship", "--epsilon", "1"];
        for i in inputs {
            args.extend(["--input", i.to_str().expect("p")]);
        }
        args.extend(["--ledger", ledger.to_str().expect("p")]);
        caravan(&nowhere, &args)
    };
    assert!(dp(&[&ex]).status.success());
    let l: Value = serde_json::from_slice(&std::fs::read(&ledger).expect("l")).expect("json");
    assert_eq!(l["dataset"], id.as_str());
    refused(&dp(&[&other]), "privacy ledger of the data sets");
    refused(&dp(&[&ex, &other]), "privacy ledger of the data sets");
}

/// F5: on one pinned release, all dates vs --to 2025-01 vs --from 2025-01 were all
/// published, and 12 − 11 revealed one person. The pin fixes the window.
#[test]
fn attack_f5_another_date_window_is_another_release() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ex = tmp.path().join("skew.json");
    extract_file(
        &ex,
        &[("KZ", 2024, 20), ("UZ", 2024, 11), ("UZ", 2025, 1)],
        None,
    );
    let ledger = tmp.path().join("l.json");
    let nowhere = tmp.path().join("none");
    let table = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "table",
            "--by",
            "citizenship",
            "--input",
            ex.to_str().expect("p"),
            "--ledger",
            ledger.to_str().expect("p"),
        ];
        args.extend_from_slice(extra);
        caravan(&nowhere, &args)
    };
    assert!(table(&[]).status.success());
    assert!(table(&[]).status.success(), "the same window again");
    refused(&table(&["--to", "2025-01"]), "date window");
    refused(&table(&["--from", "2025-01"]), "date window");
    refused(
        &table(&["--from", "2020-01", "--to", "2030-01"]),
        "date window",
    );
    // Explicitly, and recorded.
    assert!(table(&["--to", "2025-01", "--new-release"])
        .status
        .success());
    let l: Value = serde_json::from_slice(&std::fs::read(&ledger).expect("l")).expect("json");
    let releases = l["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 3);
    assert_eq!(releases[2]["new_release"], true);
}

/// F6: T1, ten more cases, T2 revealed the one case of T1's small cell. Changed data is
/// a new release, refused without --new-release.
#[test]
fn attack_f6_changed_data_is_a_new_release() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 12);
    add_case(&store, "UZ");
    let t = ["export", "table", "--by", "citizenship"];
    ok(&store, &t);
    for _ in 0..10 {
        add_case(&store, "UZ");
    }
    refused(&caravan(&store, &t), "cases changed");
    let mut new = t.to_vec();
    new.push("--new-release");
    let out = ok(&store, &new);
    assert!(String::from_utf8_lossy(&out.stdout).contains("UZB"));
    ok(&store, &t);
}

/// Issue 18: `--schema ctdc` writes exactly the current CTDC columns, a Frictionless
/// codebook is written beside every file export and matches its header, JSON is
/// typed, and an empty export keeps its header.
#[test]
fn ctdc_schema_codebook_and_typed_json() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let csv = tmp.path().join("cases.csv");
    let s = ok_json(
        &store,
        &[
            "export",
            "records",
            "--schema",
            "ctdc",
            "--out",
            csv.to_str().expect("p"),
        ],
    );
    assert_eq!(s["schema"], "ctdc");
    let text = std::fs::read_to_string(&csv).expect("csv");
    let header = text.lines().next().expect("header");
    let ctdc = caravan_core::export::CTDC_COLUMNS.join(",");
    assert_eq!(header, ctdc);
    assert_eq!(text.lines().count(), 1 + 24);
    assert_no_new_zealand("ctdc csv", &text);
    let book = tmp.path().join("cases.datapackage.json");
    assert_eq!(s["codebook"], book.display().to_string());
    let pkg: Value = serde_json::from_slice(&std::fs::read(&book).expect("codebook")).expect("j");
    let names: Vec<&str> = pkg["resources"][0]["schema"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.join(","), header);
    assert_eq!(pkg["resources"][0]["path"], "cases.csv");
    assert_eq!(pkg["caravan"]["protection"]["k"], 11);
    assert_eq!(pkg["caravan"]["protection"]["released"], 24);
    // The records check holds on the CTDC layout too.
    let check = ok_json(&store, &["export", "check", csv.to_str().expect("p")]);
    assert_eq!(check["holds"], true, "{check}");

    // Typed JSON.
    let js = tmp.path().join("cases.json");
    ok(
        &store,
        &[
            "export",
            "records",
            "--schema",
            "ctdc",
            "--out",
            js.to_str().expect("p"),
        ],
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&js).expect("json")).expect("j");
    let r = &doc["records"][0];
    assert!(r["yearOfRegistration"].is_u64(), "{r}");
    assert_eq!(r["isForcedLabour"], true);
    assert!(r["traffickMonths"].is_null());
    // The default layout is still Caravan's.
    let wide = ok(&store, &["export", "records"]);
    assert!(String::from_utf8_lossy(&wide.stdout)
        .starts_with("yearOfRegistration,gender,ageBroad,majorityStatus"));

    // A table gets its codebook too.
    let t = tmp.path().join("t.csv");
    ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "citizenship",
            "--out",
            t.to_str().expect("p"),
        ],
    );
    let pkg: Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("t.datapackage.json")).expect("table codebook"),
    )
    .expect("j");
    assert_eq!(
        pkg["resources"][0]["schema"]["fields"][0]["name"],
        "citizenship"
    );
    assert_eq!(pkg["caravan"]["protection"]["k"], 11);
    // Empty (k above every group): the header and the codebook are still written.
    let empty = tmp.path().join("empty.csv");
    ok(
        &store,
        &[
            "export",
            "records",
            "--schema",
            "ctdc",
            "--k",
            "1000",
            "--new-release",
            "--out",
            empty.to_str().expect("p"),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&empty).expect("empty"),
        format!("{ctdc}\n")
    );
    assert!(tmp.path().join("empty.datapackage.json").exists());
}

#[test]
fn ctdc_tables_use_ctdc_columns_and_codes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    // Flags are named by their CTDC column (the release pinned here serves the
    // route table below too).
    let out = ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "exploitation",
            "--schema",
            "ctdc",
            "--attributes",
            "citizenship,country-of-exploitation,exploitation",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("typeOfExploitation,count\n"), "{text}");
    assert!(text.contains("\nisForcedLabour,"), "{text}");
    let t = tmp.path().join("routes.csv");
    let s = ok_json(
        &store,
        &[
            "export",
            "table",
            "--by",
            "route",
            "--schema",
            "ctdc",
            "--out",
            t.to_str().expect("p"),
        ],
    );
    assert_eq!(s["schema"], "ctdc");
    assert_eq!(
        s["columns"],
        serde_json::json!(["citizenship", "CountryOfExploitation", "count"])
    );
    let text = std::fs::read_to_string(&t).expect("csv");
    assert!(
        text.starts_with("citizenship,CountryOfExploitation,count\n"),
        "{text}"
    );
    assert!(text.contains("\nKGZ,RUS,12\n"), "{text}");
    assert!(text.contains("\n(total),,"), "{text}");
    assert!(text.contains("\n(outside the release),,"), "{text}");
    assert_no_new_zealand("ctdc table", &text);
    let pkg: Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("routes.datapackage.json")).expect("codebook"),
    )
    .expect("j");
    assert_eq!(pkg["resources"][0]["caravan"]["schema"], "ctdc");
    assert_eq!(
        pkg["resources"][0]["schema"]["fields"][1]["name"],
        "CountryOfExploitation"
    );
    // The Caravan layout is unchanged.
    let out = ok(&store, &["export", "table", "--by", "route"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("route,count\n"));
    // DP over flags or non-CTDC dimensions is refused before any budget is spent.
    for by in ["exploitation", "service"] {
        let out = caravan(
            &store,
            &[
                "export",
                "table",
                "--by",
                by,
                "--epsilon",
                "1",
                "--schema",
                "ctdc",
            ],
        );
        refused(&out, "--schema caravan");
    }
    let g = tmp.path().join("g.csv");
    let budget = ok_json(
        &store,
        &[
            "export",
            "table",
            "--by",
            "gender",
            "--epsilon",
            "1",
            "--schema",
            "ctdc",
            "--out",
            g.to_str().expect("p"),
        ],
    );
    let text = std::fs::read_to_string(&g).expect("csv");
    assert!(text.starts_with("gender,count,low95,high95\n"), "{text}");
    assert!(
        !text.contains("Feminine") && !text.contains("Masculine"),
        "{text}"
    );
    assert_eq!(budget["budget"]["outputs"].as_u64(), Some(1), "{budget}");
}

#[test]
fn russian_charts_are_svg_with_russian_text() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let out = ok(&store, &["--lang", "ru", "export", "chart", "routes"]);
    let svg = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        svg.contains("Маршруты: гражданство → страна эксплуатации"),
        "{svg}"
    );
    assert!(svg.contains("Кыргызстан") && svg.contains("Российская Федерация"));
    let png = tmp.path().join("r.png");
    let out = caravan(
        &store,
        &[
            "--lang",
            "ru",
            "export",
            "chart",
            "routes",
            "--epsilon",
            "1",
            "--out",
            png.to_str().expect("p"),
        ],
    );
    refused(&out, "Cyrillic");
    assert!(!png.exists());
    // Refused before the budget was charged: this is the first DP output.
    let b = ok_json(
        &store,
        &[
            "export",
            "chart",
            "routes",
            "--epsilon",
            "1",
            "--out",
            png.to_str().expect("p"),
        ],
    );
    assert_eq!(b["budget"]["outputs"].as_u64(), Some(1), "{b}");
}

/// F5 of the round-3 red team: `export extract --out pipe` renamed a plaintext file
/// over the FIFO an encryptor was reading (and, as root, over `/dev/stdout`), and
/// `--out -` made a file named `-`. A target that exists and is not a regular file,
/// or a link to one, is refused before the store is opened, for every export; `-`
/// is refused.
#[cfg(unix)]
#[test]
fn attack_round3_f5_out_is_never_a_pipe_a_device_or_a_directory() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 12);
    let pipe = tmp.path().join("pipe");
    let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());
    let link = tmp.path().join("null-link");
    std::os::unix::fs::symlink("/dev/null", &link).expect("symlink");
    let dir = tmp.path().join("a-directory");
    std::fs::create_dir(&dir).expect("dir");
    for target in [&pipe, &link, &dir] {
        let t = target.to_str().expect("p");
        for args in [
            vec!["export", "extract", "--out", t],
            vec!["export", "table", "--by", "citizenship", "--out", t],
            vec!["export", "records", "--out", t],
            vec!["export", "chart", "routes", "--out", t],
        ] {
            let out = caravan(&store, &args);
            refused(&out, "is not a regular file");
        }
    }
    assert!(std::fs::symlink_metadata(&pipe)
        .expect("pipe")
        .file_type()
        .is_fifo());
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata(&dir).expect("dir").is_dir());
    // `-` is no file name and not standard output: refused, no file `-` made.
    let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .current_dir(tmp.path())
        .arg("--store")
        .arg(&store)
        .args(["export", "extract", "--out", "-"])
        .env("CARAVAN_PASSPHRASE", PASS)
        .output()
        .expect("run");
    refused(&out, "not standard output");
    assert!(!tmp.path().join("-").exists());
    // Nothing was recorded: the first extract to a real file is the first one.
    let ok_file = tmp.path().join("x.json");
    let s = ok_json(
        &store,
        &["export", "extract", "--out", ok_file.to_str().expect("p")],
    );
    assert_eq!(s["extracts_recorded"], 1);
}

/// F9 of the round-3 red team: `--epsilon 2 --out /nonexistent/x.csv` failed to
/// write but was charged, so two typos spent 4 of ε = 5. The directory is checked
/// before any noise is drawn: the failed outputs cost nothing and the whole budget
/// is left.
#[test]
fn attack_round3_f9_a_failed_write_charges_no_budget() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let missing = tmp.path().join("no-such-dir");
    let bad_csv = missing.join("x.csv");
    let bad_svg = missing.join("x.svg");
    for args in [
        vec![
            "export",
            "table",
            "--by",
            "routes",
            "--epsilon",
            "2",
            "--out",
            bad_csv.to_str().expect("p"),
        ],
        vec![
            "export",
            "chart",
            "routes",
            "--epsilon",
            "2",
            "--out",
            bad_svg.to_str().expect("p"),
        ],
    ] {
        let out = caravan(&store, &args);
        assert!(
            !out.status.success(),
            "{args:?} wrote into a missing directory"
        );
    }
    assert!(!missing.exists());
    // The whole ε = 5 is still there.
    let good = tmp.path().join("t.csv");
    ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "routes",
            "--epsilon",
            "5",
            "--out",
            good.to_str().expect("p"),
        ],
    );
}

/// F10 of the round-3 red team: `--lang ru` tables were entirely English. Headers,
/// label columns, the footer and the summary are Russian; the codes stay codes.
#[test]
fn russian_tables_have_russian_headers_footer_and_summary() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = store_with_cases(tmp.path());
    let out = ok(
        &store,
        &["--lang", "ru", "export", "table", "--by", "routes"],
    );
    let csv = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        csv.starts_with(
            "гражданство,страна эксплуатации,гражданство (название),страна эксплуатации \
             (название),число\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("KGZ,RUS,Кыргызстан,"), "{csv}");
    assert!(csv.contains("\n(всего),,,,"), "{csv}");
    assert!(!csv.contains("(total)") && !csv.contains("count"), "{csv}");
    let summary = String::from_utf8(out.stderr).expect("utf8");
    assert!(summary.contains("показано ячеек"), "{summary}");
    assert!(summary.contains("Защита:"), "{summary}");
    // English is unchanged.
    let out = ok(&store, &["export", "table", "--by", "routes"]);
    let csv = String::from_utf8(out.stdout).expect("utf8");
    assert!(csv.starts_with("citizenship,country-of-exploitation,count\n"));
}

/// F11 of the round-3 red team: agency A (3 TJ→RU cases) combines its store with
/// agency B's extract (11 TJ→RU). B's own table says `TJK,RUS,11`; the combination
/// must not say `TJK,RUS,14`, or 14 − 11 = 3 is A's suppressed count.
#[test]
fn attack_round3_f11_a_combination_minus_one_agency_is_never_small() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = small_store(tmp.path(), 22);
    for _ in 0..3 {
        add_case(&store, "TJ");
    }
    let b = tmp.path().join("b.json");
    extract_file(
        &b,
        &[("TJ", 2024, 11), ("KZ", 2024, 11)],
        Some("b-data-set"),
    );
    let ledger = tmp.path().join("b-ledger.json");
    let own = ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "routes",
            "--input",
            b.to_str().expect("p"),
            "--ledger",
            ledger.to_str().expect("p"),
        ],
    );
    let own = String::from_utf8(own.stdout).expect("utf8");
    assert!(own.contains("TJK,RUS,11\n"), "B's own table: {own}");
    let combined = ok(
        &store,
        &[
            "export",
            "table",
            "--by",
            "routes",
            "--with-store",
            "--input",
            b.to_str().expect("p"),
        ],
    );
    let combined = String::from_utf8(combined.stdout).expect("utf8");
    assert!(!combined.contains("TJK,RUS"), "{combined}");
    assert!(combined.contains("KGZ,RUS,22\n"), "{combined}");
    assert!(combined.contains("KAZ,RUS,11\n"), "{combined}");
    assert!(
        combined.contains("(outside the release),,<11"),
        "the remainder holds A's 3: {combined}"
    );
}
