//! Damaged stores through the `caravan` command, as issue 14 observed them: a lost
//! index after a compaction, flipped journal bytes, `check`, `repair`, `wipe` of a
//! directory that is not a store, and the exit codes that tell the cases apart.

use std::fs;
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

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = caravan(store, &all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn init(store: &Path) {
    let out = caravan(store, &["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success());
}

fn add(store: &Path, note: Option<&str>) -> String {
    let mut args = vec!["case", "add", "--set", "case_status=Active"];
    if let Some(n) = note {
        args.extend(["--note", n]);
    }
    json(store, &args)["id"].as_str().expect("id").to_string()
}

fn names(store: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(store)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    out
}

#[test]
fn a_lost_index_after_a_compaction_loses_nothing() {
    // Observation 1 of issue 14, step by step.
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let a = add(&store, Some("first"));
    let b = add(&store, None);
    let out = caravan(
        &store,
        &["erase", &b, "--reason", "EnteredInError", "--yes"],
    );
    assert!(out.status.success());
    let out = caravan(&store, &["note", "add", &a, "after compaction"]);
    assert!(out.status.success());
    let new = add(&store, None);
    for index in names(&store, "index-") {
        fs::remove_file(store.join(index)).expect("rm");
    }
    let shown = json(&store, &["case", "show", &a]);
    let notes: Vec<&str> = shown["case"]["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert_eq!(notes, ["first", "after compaction"]);
    json(&store, &["case", "show", &new]);
    let out = caravan(&store, &["case", "show", &b]);
    assert_eq!(code(&out), 4, "the erased case stays erased");
    // Reads rebuild the index in memory only (they write nothing): `check` still
    // reports the missing snapshot, with nothing lost; the next write stores the
    // rebuilt index, and the store is healthy again.
    let report = json(&store, &["check"]);
    assert_eq!(report["data_lost"], false);
    assert_eq!(report["damage"][0]["file"], "index");
    add(&store, None);
    assert_eq!(json(&store, &["check"])["damage"], Value::Array(vec![]));
}

#[test]
fn a_flipped_journal_byte_is_reported_and_reads_change_nothing() {
    // Observation 2: a flip at byte 0 and in the middle of the journal.
    for at_start in [true, false] {
        let tmp = tempfile::tempdir().expect("tmp");
        let store = tmp.path().join("s");
        init(&store);
        let ids: Vec<String> = (0..12).map(|_| add(&store, None)).collect();
        let journal = store.join(names(&store, "journal-").pop().expect("journal"));
        let mut bytes = fs::read(&journal).expect("read");
        let at = if at_start { 0 } else { bytes.len() / 2 };
        bytes[at] ^= 0x20;
        fs::write(&journal, &bytes).expect("write");

        // Byte 0 is in the device record (its key is also in the index: nothing is
        // lost, but the damage is reported); the middle is in a case's record.
        let out = caravan(&store, &["--json", "case", "list"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("journal-"), "{stderr}");
        let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
        let listed = listed.as_array().expect("a").len();
        if at_start {
            assert_eq!(code(&out), 0, "{stderr}");
            assert_eq!(listed, 12);
        } else {
            assert_eq!(code(&out), 5, "data is missing: non-zero exit");
            assert!(stderr.contains("lost"), "{stderr}");
            assert_eq!(listed, 11, "the other cases stay readable");
        }
        assert_eq!(
            fs::read(&journal).expect("read"),
            bytes,
            "the read kept the file"
        );
        // Writes are refused until a repair, with the damage named.
        let out = caravan(&store, &["case", "add", "--set", "case_status=Active"]);
        assert_eq!(code(&out), 9, "refused: damaged, read-only until repair");
        assert!(String::from_utf8_lossy(&out.stderr).contains("repair"));
        assert_eq!(fs::read(&journal).expect("read"), bytes);

        let lost_code = if at_start { 0 } else { 5 };
        let out = caravan(&store, &["--json", "check"]);
        assert_eq!(code(&out), lost_code);
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["data_lost"], !at_start);
        assert_ne!(report["damage"], Value::Array(vec![]));
        assert_eq!(fs::read(&journal).expect("read"), bytes);

        let out = caravan(&store, &["--json", "repair", "--yes"]);
        assert_eq!(code(&out), lost_code, "repair says whether data was lost");
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        let aside = report["kept_aside"][0].as_str().expect("kept aside");
        assert_eq!(fs::read(store.join(aside)).expect("aside"), bytes);
        // Healthy again: every case still listed reads, and writes work.
        assert_eq!(json(&store, &["check"])["damage"], Value::Array(vec![]));
        let after = json(&store, &["case", "list"]);
        assert_eq!(after.as_array().expect("a").len(), listed);
        for id in &ids {
            let out = caravan(&store, &["case", "show", id]);
            assert!(matches!(code(&out), 0 | 4), "{}", code(&out));
        }
        add(&store, None);
    }
}

#[test]
fn wipe_refuses_what_is_not_a_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = caravan(&tmp.path().join("typo"), &["wipe", "--yes"]);
    assert_eq!(code(&out), 4);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wiped"));
    let other = tmp.path().join("other");
    fs::create_dir(&other).expect("mkdir");
    for name in ["LOCK", "draft.tmp", "index-1"] {
        fs::write(other.join(name), b"keep").expect("write");
    }
    let out = caravan(&other, &["wipe", "--yes"]);
    assert_eq!(code(&out), 4);
    assert_eq!(names(&other, ""), ["LOCK", "draft.tmp", "index-1"]);
}

#[test]
fn a_store_in_use_and_a_wrong_passphrase_exit_differently() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let held = caravan_core::Store::open_with_passphrase(&store, PASS).expect("open");
    let out = caravan(&store, &["case", "list"]);
    assert_eq!(code(&out), 8, "{}", String::from_utf8_lossy(&out.stderr));
    drop(held);
    let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(&store)
        .args(["case", "list"])
        .env("CARAVAN_PASSPHRASE", "not the passphrase")
        .output()
        .expect("run");
    assert_eq!(code(&out), 3);
}

#[test]
fn a_retried_case_add_with_a_request_id_creates_one_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let args = [
        "case",
        "add",
        "--set",
        "case_status=Active",
        "--request-id",
        "7d0c1e",
    ];
    let first = json(&store, &args);
    let again = json(&store, &args);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        (first["created"].clone(), again["created"].clone()),
        (Value::Bool(true), Value::Bool(false))
    );
    assert_eq!(
        json(&store, &["case", "list"]).as_array().expect("a").len(),
        1
    );
}

#[test]
fn sync_listen_does_not_hold_the_store_while_it_waits() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut listen = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(&store)
        .args(["sync", "listen", "--addr", &addr])
        .env("CARAVAN_PASSPHRASE", PASS)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("listen");
    let stderr = listen.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).ok();
        tx.send(line).ok();
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_default();
    assert!(line.contains("Waiting"), "{line}");
    // While it waits, local work goes on.
    let out = caravan(&store, &["case", "add", "--set", "case_status=Active"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    listen.kill().ok();
    listen.wait().ok();
    assert_eq!(code(&out), 0, "{stderr}");
}

/// Every file of the store, by name, with its bytes.
fn files_of(store: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(store)
        .expect("ls")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}

/// R2-5 of the 2026-12-05 red team, replayed: with a pack damaged, `case add`
/// registered a case (exit 0) and the exports spent ε and pinned a release on the
/// readable cases while exiting 5. A store with damage anywhere is read-only until
/// `repair`: every write and every export from the store is refused with exit 9 and
/// changes no file; plain reads still work (exit 5, damage named); after `repair`
/// writes work again.
#[test]
fn a_damaged_store_refuses_writes_and_exports_until_repaired() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let packed: Vec<String> = (0..3).map(|_| add(&store, Some("in the pack"))).collect();
    let gone = add(&store, None);
    let out = caravan(
        &store,
        &["erase", &gone, "--reason", "EnteredInError", "--yes"],
    );
    assert!(out.status.success());
    add(&store, None);
    let pack = store.join(names(&store, "pack-").pop().expect("a pack"));
    let mut bytes = fs::read(&pack).expect("pack");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    fs::write(&pack, &bytes).expect("flip");
    let before = files_of(&store);
    let svg = tmp.path().join("o.svg");
    let csv = tmp.path().join("o.csv");
    let ex = tmp.path().join("ex.json");
    let writes: Vec<Vec<&str>> = vec![
        vec!["case", "add", "--set", "gender=Feminine"],
        vec![
            "case",
            "add",
            "--set",
            "gender=Feminine",
            "--request-id",
            "r1",
        ],
        vec![
            "case",
            "update",
            &packed[0][..8],
            "--set",
            "case_status=Closed",
        ],
        vec!["note", "add", &packed[1][..8], "one more visit"],
        vec![
            "erase",
            &packed[2][..8],
            "--reason",
            "EnteredInError",
            "--yes",
        ],
        vec!["export", "table", "--by", "citizenship", "--epsilon", "0.3"],
        vec![
            "export",
            "chart",
            "routes",
            "--out",
            svg.to_str().expect("p"),
        ],
        vec![
            "export",
            "records",
            "--k",
            "1",
            "--out",
            csv.to_str().expect("p"),
        ],
        vec!["export", "extract", "--out", ex.to_str().expect("p")],
        vec!["group", "create", "Osh team", "--device", "Aigerim"],
    ];
    for args in &writes {
        let out = caravan(&store, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 9, "{args:?}: {stderr}");
        assert!(
            stderr.contains("writes are refused until it is repaired") && stderr.contains("pack-"),
            "{args:?}: {stderr}"
        );
        assert_eq!(files_of(&store), before, "{args:?} changed the store");
    }
    assert!(
        !svg.exists() && !csv.exists() && !ex.exists(),
        "no output file"
    );
    // Plain reads still work, naming the damage.
    let out = caravan(&store, &["--json", "case", "list"]);
    assert_eq!(code(&out), 5);
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(4));
    assert_eq!(files_of(&store), before);
    // Repaired, the store takes writes again.
    let out = caravan(&store, &["repair", "--yes"]);
    assert_eq!(code(&out), 5, "the repair lost cases");
    add(&store, None);
}

/// F10 of the 2026-12-04 red team: pack damage made listed cases unreadable while
/// `case list` exited 0 and said nothing. Every read now names the file and the
/// cases, exits 5, and still prints what is readable. F9: reads of a store whose
/// journal is missing created an empty one; reads create and change nothing.
#[test]
fn pack_damage_is_named_by_every_read_and_reads_create_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let packed: Vec<String> = (0..3).map(|_| add(&store, Some("in the pack"))).collect();
    let gone = add(&store, None);
    // An erasure compacts: the three cases move into a pack.
    let out = caravan(
        &store,
        &["erase", &gone, "--reason", "EnteredInError", "--yes"],
    );
    assert!(out.status.success());
    let fresh = add(&store, None);
    let pack = store.join(names(&store, "pack-").pop().expect("a pack"));
    let mut bytes = fs::read(&pack).expect("pack");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    fs::write(&pack, &bytes).expect("flip");
    let before = files_of(&store);

    let out = caravan(&store, &["--json", "case", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 5, "data is missing: {stderr}");
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        listed.as_array().expect("a").len(),
        4,
        "every case is listed"
    );
    for id in &packed {
        assert!(
            stderr.contains(id.as_str()) && stderr.contains("pack-"),
            "case {id} is named with its file: {stderr}"
        );
    }
    assert!(!stderr.contains(fresh.as_str()), "{stderr}");
    let out = caravan(&store, &["case", "list"]);
    assert_eq!(code(&out), 5, "text output too");
    let out = caravan(&store, &["case", "show", &packed[0]]);
    assert_eq!(code(&out), 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pack-"));
    let out = caravan(&store, &["case", "show", &fresh]);
    assert_eq!(code(&out), 0, "an undamaged case reads");
    assert_eq!(files_of(&store), before, "the reads changed nothing");

    // F9: the journal goes missing; reads create nothing.
    let journal = names(&store, "journal-").pop().expect("journal");
    fs::remove_file(store.join(&journal)).expect("rm");
    let before = files_of(&store);
    for args in [
        vec!["check"],
        vec!["case", "list"],
        vec!["case", "show", packed[1].as_str()],
        vec!["case", "show", fresh.as_str()],
    ] {
        let out = caravan(&store, &args);
        assert_ne!(code(&out), 0, "{args:?}: data is missing");
        assert_eq!(files_of(&store), before, "{args:?} changed the store");
    }
}

/// F11 of the 2026-12-04 red team: after a flip in the journal of a compacted
/// store, `repair` said "0 case(s) lost" while the case count dropped. It now names
/// exactly the cases that are gone.
#[test]
fn repair_names_exactly_the_cases_it_lost() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let mut ids: Vec<String> = (0..6).map(|_| add(&store, None)).collect();
    let erased = ids.pop().expect("one");
    let out = caravan(
        &store,
        &["erase", &erased, "--reason", "EnteredInError", "--yes"],
    );
    assert!(out.status.success());
    ids.extend((0..3).map(|_| add(&store, None)));
    let journal = store.join(names(&store, "journal-").pop().expect("journal"));
    let mut bytes = fs::read(&journal).expect("journal");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&journal, &bytes).expect("flip");

    let out = caravan(&store, &["--json", "repair", "--yes"]);
    assert_eq!(code(&out), 5, "data was lost");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut named: Vec<String> = report["lost_cases"]
        .as_array()
        .expect("lost cases")
        .iter()
        .map(|v| v.as_str().expect("id").to_string())
        .collect();
    named.sort();
    assert_eq!(report["lost_unnamed"], 0);
    let listed = json(&store, &["case", "list"]);
    let listed: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    let mut gone: Vec<String> = ids
        .iter()
        .filter(|id| !listed.contains(&id.as_str()))
        .cloned()
        .collect();
    gone.sort();
    assert!(!gone.is_empty(), "the flip cost a case");
    assert_eq!(named, gone, "repair names exactly the cases that are gone");
}

/// F12 of the 2026-12-04 red team: the same request id with other content said
/// "already registered; nothing changed" (exit 0). It is now refused with a clear
/// message (exit 2), and a true retry (notes included) still finds the first case.
#[test]
fn a_request_id_reused_with_other_content_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let first = [
        "case",
        "add",
        "--set",
        "gender=Feminine",
        "--add",
        "citizenship=KZ",
        "--note",
        "met at the shelter",
        "--request-id",
        "req-42",
    ];
    let made = json(&store, &first);
    let again = json(&store, &first);
    assert_eq!(
        again["created"],
        Value::Bool(false),
        "a true retry is accepted"
    );
    assert_eq!(made["id"], again["id"]);
    for other in [
        vec![
            "case",
            "add",
            "--set",
            "gender=Masculine",
            "--add",
            "citizenship=KZ",
            "--note",
            "met at the shelter",
            "--request-id",
            "req-42",
        ],
        vec![
            "case",
            "add",
            "--set",
            "gender=Feminine",
            "--add",
            "citizenship=KZ",
            "--note",
            "another note",
            "--request-id",
            "req-42",
        ],
        vec!["case", "add", "--request-id", "req-42"],
    ] {
        let out = caravan(&store, &other);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{other:?}: {stderr}");
        assert!(
            stderr.contains("request id reused with different content"),
            "{stderr}"
        );
    }
    let list = json(&store, &["case", "list"]);
    assert_eq!(list.as_array().expect("a").len(), 1);
    let shown = json(&store, &["case", "show", made["id"].as_str().expect("id")]);
    assert_eq!(shown["case"]["gender"], "Feminine", "nothing changed");
}

/// R2-6 of the 2026-12-05 red team, replayed: after the case was edited, the exact
/// original request retried was refused (exit 2) and a request carrying the edited
/// value was taken for the original (exit 0). The store keeps the original request's
/// digest: the exact retry is the original success, the other is refused.
#[test]
fn a_retry_after_an_edit_is_compared_with_the_original_request() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let original = [
        "case",
        "add",
        "--request-id",
        "R3",
        "--set",
        "gender=Feminine",
    ];
    let made = json(&store, &original);
    let id = made["id"].as_str().expect("id").to_string();
    json(
        &store,
        &["case", "update", &id[..8], "--set", "gender=Masculine"],
    );
    let again = json(&store, &original);
    assert_eq!(again["id"].as_str(), Some(id.as_str()));
    assert_eq!(again["created"], Value::Bool(false));
    let out = caravan(
        &store,
        &[
            "case",
            "add",
            "--request-id",
            "R3",
            "--set",
            "gender=Masculine",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        stderr.contains("request id reused with different content"),
        "{stderr}"
    );
    assert_eq!(
        json(&store, &["case", "list"]).as_array().map(Vec::len),
        Some(1)
    );
    let shown = json(&store, &["case", "show", &id[..8]]);
    assert_eq!(shown["case"]["gender"], "Masculine", "nothing changed");
}

/// F3 for every write command: the process dies right after it reports success
/// (no close, as under `kill -9`); then the last byte of the journal is flipped. If
/// the write had not been confirmed in the end mark before the report, the flip
/// would pass for a torn write and the write would vanish with `check` finding
/// nothing; it must be reported lost instead.
#[test]
fn every_write_command_is_confirmed_before_it_reports_success() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("s");
    init(&store);
    let a = add(&store, None);
    let b = add(&store, None);
    let referral = json(
        &store,
        &[
            "refer",
            &a,
            "--service",
            "Shelter",
            "--partner",
            "Safe House",
        ],
    )["referral"]
        .as_str()
        .expect("referral")
        .to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["case", "add", "--set", "case_status=Active"],
        vec![
            "case",
            "add",
            "--set",
            "case_status=Active",
            "--request-id",
            "r-1",
        ],
        vec!["case", "update", &a, "--set", "gender=Feminine"],
        vec!["note", "add", &a, "met again at the station"],
        vec!["refer", &a, "--service", "Legal", "--partner", "Law Clinic"],
        vec!["refer", &a, "--referral", &referral, "--status", "Accepted"],
        vec!["erase", &b, "--reason", "EnteredInError", "--yes"],
    ];
    for (n, args) in commands.iter().enumerate() {
        let run = tmp.path().join(format!("run-{n}"));
        fs::create_dir_all(&run).expect("mkdir");
        for (name, bytes) in files_of(&store) {
            fs::write(run.join(name), bytes).expect("copy");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
            .arg("--store")
            .arg(&run)
            .args(args)
            .env("CARAVAN_PASSPHRASE", PASS)
            .env("CARAVAN_TEST_ABORT_AFTER_SUCCESS", "1")
            .output()
            .expect("run");
        assert!(
            out.status.code().is_none() && !out.stdout.is_empty(),
            "{args:?}: reported success, then died: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let journal = run.join(names(&run, "journal-").pop().expect("journal"));
        let mut bytes = fs::read(&journal).expect("journal");
        if bytes.is_empty() {
            // A compaction (erase) confirmed an empty journal: nothing to lose.
            let out = caravan(&run, &["check"]);
            assert_eq!(code(&out), 0, "{args:?}");
            continue;
        }
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        fs::write(&journal, &bytes).expect("flip");
        let out = caravan(&run, &["--json", "check"]);
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            (code(&out), report["data_lost"].clone()),
            (5, Value::Bool(true)),
            "{args:?}: the write reported as done vanished silently: {report}"
        );
    }
}
