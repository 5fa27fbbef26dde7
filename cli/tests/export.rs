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
    // With the store as a third source: still 24.
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
            "--ledger",
            tmp.path()
                .join("combined-ledger2.json")
                .to_str()
                .expect("p"),
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
