//! The `caravan` command end to end: real processes, a real store, exit codes and JSON.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn caravan(store: &Path, pass: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("CARAVAN_PASSPHRASE", pass)
        .env_remove("CARAVAN_LANG")
        .output()
        .expect("run caravan")
}

fn ok_json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = caravan(store, PASS, &all);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

#[test]
fn a_case_from_registration_to_erasure() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("store");
    let out = caravan(&store, PASS, &["init", "--kdf-memory-mib", "8"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let added = ok_json(
        &store,
        &[
            "case",
            "add",
            "--set",
            "gender=Feminine",
            "--set",
            "age_band=18-20",
            "--add",
            "citizenship=kaz",
            "--add",
            "means_of_control=DebtBondage",
            "--route",
            "Exploitation:RU:2024-05",
            "--note",
            "Worked on a construction site, documents kept by the employer.",
            "--consent-stats",
            "yes",
        ],
    );
    let id = added["id"].as_str().expect("id").to_string();
    let prefix = &id[..8];
    ok_json(
        &store,
        &[
            "case",
            "add",
            "--set",
            "case_status=Closed",
            "--add",
            "citizenship=KG",
        ],
    );

    let list = ok_json(&store, &["case", "list", "--country", "KZ"]);
    assert_eq!(list.as_array().expect("array").len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["route_countries"][0], "RU");
    assert_eq!(
        ok_json(&store, &["case", "list"])
            .as_array()
            .expect("array")
            .len(),
        2
    );
    assert_eq!(
        ok_json(&store, &["case", "list", "--status", "Closed"])
            .as_array()
            .expect("a")
            .len(),
        1
    );

    ok_json(
        &store,
        &[
            "case",
            "update",
            prefix,
            "--add",
            "means_of_control=WithholdsDocuments",
            "--set",
            "case_status=Active",
        ],
    );
    ok_json(
        &store,
        &["note", "add", prefix, "Moved to the shelter in March 2024."],
    );
    let referral = ok_json(
        &store,
        &[
            "refer",
            prefix,
            "--service",
            "Shelter",
            "--partner",
            "Shelter Almaty",
            "--org-type",
            "NGO",
        ],
    );
    let rid = referral["referral"]
        .as_str()
        .expect("referral id")
        .to_string();
    ok_json(
        &store,
        &["refer", prefix, "--referral", &rid, "--status", "Accepted"],
    );
    let screening = ok_json(
        &store,
        &[
            "screen",
            prefix,
            "--answer",
            "DocumentsWithheld=Yes",
            "--vulnerability",
            "IrregularMigrationStatus",
        ],
    );
    assert_eq!(screening["outcome"], "PotentialVictim");

    let shown = ok_json(&store, &["case", "show", prefix]);
    let case = &shown["case"];
    assert_eq!(case["gender"], "Feminine");
    assert_eq!(case["citizenship"][0], "KZ");
    assert_eq!(case["means_of_control"].as_array().expect("a").len(), 2);
    assert_eq!(case["notes"].as_array().expect("a").len(), 2);
    assert_eq!(case["referrals"][0]["history"][1]["status"], "Accepted");
    assert_eq!(shown["screening"]["outcome"], "PotentialVictim");

    // Human-readable output, in Russian.
    let out = caravan(&store, PASS, &["--lang", "ru", "case", "show", prefix]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Долговая кабала") || text.contains("долг"),
        "{text}"
    );

    // A note with an identifier is refused with exit code 2 and says what and where.
    let out = caravan(
        &store,
        PASS,
        &[
            "note",
            "add",
            prefix,
            "Her IIN is 900515400123, call +7 701 123 45 67",
        ],
    );
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("national identity number") && err.contains("phone number"),
        "{err}"
    );
    assert!(
        !err.contains("900515400123") && !err.contains("701 123"),
        "the identifier is never echoed: {err}"
    );

    // Bad codes, wrong passphrase, unknown cases.
    let out = caravan(
        &store,
        PASS,
        &["case", "update", prefix, "--add", "means_of_control=Magic"],
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("means_of_control"));
    assert_eq!(
        code(&caravan(&store, "not the passphrase", &["case", "list"])),
        3
    );
    assert_eq!(
        code(&caravan(&store, PASS, &["case", "show", "abcdef12"])),
        4
    );
    assert_eq!(
        code(&caravan(
            &tmp.path().join("nowhere"),
            PASS,
            &["case", "list"]
        )),
        4
    );

    // Erasure: refused without --yes off a terminal, then done; afterwards exit code 4.
    let out = caravan(
        &store,
        PASS,
        &["erase", prefix, "--reason", "PersonRequested"],
    );
    assert_eq!(code(&out), 2);
    ok_json(
        &store,
        &["erase", prefix, "--reason", "PersonRequested", "--yes"],
    );
    let out = caravan(&store, PASS, &["case", "show", prefix]);
    assert_eq!(code(&out), 4);
    assert!(String::from_utf8_lossy(&out.stderr).contains("erased"));
    assert_eq!(
        ok_json(&store, &["case", "list"])
            .as_array()
            .expect("a")
            .len(),
        1
    );

    // Panic wipe: refused without --yes off a terminal; then needs no passphrase, and
    // afterwards not even the right passphrase opens the store.
    assert_eq!(code(&caravan(&store, "", &["wipe"])), 2);
    let out = caravan(&store, "", &["--json", "wipe", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(code(&caravan(&store, PASS, &["case", "list"])), 4);
    assert!(!store.exists());
}

#[test]
fn vocabularies_and_questionnaire_work_without_a_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("none");
    let list = ok_json(&store, &["vocab"]);
    assert!(list
        .as_array()
        .expect("a")
        .iter()
        .any(|v| v == "means_of_control"));
    let codes = ok_json(&store, &["vocab", "country"]);
    assert_eq!(codes.as_array().expect("a").len(), 249);
    // The interactive questionnaire reads answers from stdin (piped here).
    let mut child = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .args(["--store", "x", "--json", "screen", "--age-band", "9-17"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"y\n").expect("write"); // first indicator: yes; EOF for the rest
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["outcome"], "PotentialVictim");
    assert_eq!(v["minor"], true);
}

/// The demo runs whole, its cross-border step through a local WebDAV server when Apache
/// with mod_dav is installed (tests/install-tools.sh installs it) and through a folder
/// otherwise, and says which.
#[test]
fn the_demo_runs() {
    let apache = Path::new("/usr/sbin/apache2").exists()
        && Path::new("/usr/lib/apache2/modules/mod_dav.so").exists();
    for relay in ["auto", "folder"] {
        let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
            .arg("demo")
            .env("CARAVAN_DEMO_RELAY", relay)
            .output()
            .expect("demo");
        assert!(
            out.status.success(),
            "{relay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("note refused: a likely phone number"));
        assert!(text.contains("appears in the files 0 times"));
        assert!(text.contains("was erased"));
        let webdav =
            text.contains("transport across the border: the WebDAV server at http://127.0.0.1:");
        let folder = text.contains("transport across the border: a shared folder");
        if relay == "folder" || !apache {
            assert!(folder, "{relay}: {text}");
        } else {
            assert!(webdav, "{relay}: {text}");
        }
        assert!(text.contains("back in Almaty: the referral to the shelter is Accepted"));
    }
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    // `caravan vocab country | head -c 0`: the reader is gone before anything is written.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .args(["vocab", "country"])
        .env_remove("CARAVAN_LANG")
        .stdout(writer)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
