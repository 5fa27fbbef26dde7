//! `caravan dedup` end to end: two agencies, one agreement key, real processes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn caravan_in(store: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caravan"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("CARAVAN_PASSPHRASE", PASS)
        .env_remove("CARAVAN_LANG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run caravan");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn ok_json(store: &Path, args: &[&str], stdin: &str) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = caravan_in(store, &all, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn new_store(dir: &Path) {
    let out = caravan_in(dir, &["init", "--kdf-memory-mib", "8"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn add_case(store: &Path) -> String {
    ok_json(
        store,
        &[
            "case",
            "add",
            "--set",
            "gender=Feminine",
            "--consent-share",
            "yes",
        ],
        "",
    )["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        out.extend(std::fs::read(entry.path()).expect("file"));
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[test]
fn two_agencies_find_the_same_person_without_sharing_names() {
    let tmp = tempfile::tempdir().expect("tmp");
    let almaty = tmp.path().join("almaty");
    let bishkek = tmp.path().join("bishkek");
    new_store(&almaty);
    new_store(&bishkek);

    // Almaty creates the agreement key (cheap cost for the test) and hands it over.
    let created = ok_json(
        &almaty,
        &["dedup", "key", "new", "--memory-kib", "8", "--passes", "1"],
        "",
    );
    let fingerprint = created["fingerprint"].as_str().expect("fp").to_string();
    let exported = ok_json(&almaty, &["dedup", "key", "export"], "");
    let code = exported["code"].as_str().expect("code").to_string();
    assert!(code.starts_with("caravan-dedup-key:"));
    // Imported from standard input (not the command line), fingerprints agree.
    let imported = ok_json(&bishkek, &["dedup", "key", "import"], &format!("{code}\n"));
    assert_eq!(imported["fingerprint"], fingerprint.as_str());
    // A second key is refused without --replace; a typo is refused with exit code 2.
    let again = caravan_in(&bishkek, &["dedup", "key", "new"], "");
    assert_eq!(again.status.code(), Some(2));
    let mut typo = code.clone();
    typo.pop();
    typo.push(if code.ends_with('A') { 'B' } else { 'A' });
    let bad = caravan_in(
        &bishkek,
        &["dedup", "key", "import", "--replace", &typo],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&bad.stderr).contains(&code[18..40]));
    // `key show` never prints the key.
    let shown = caravan_in(&almaty, &["dedup", "key", "show"], "");
    assert!(shown.status.success());
    assert!(!String::from_utf8_lossy(&shown.stdout).contains(&code[18..40]));

    // Almaty indexes a case from arguments, Latin passport spelling.
    let a1 = add_case(&almaty);
    let a2 = add_case(&almaty);
    ok_json(
        &almaty,
        &[
            "dedup",
            "index",
            &a1,
            "--given",
            "Aigerim",
            "--family",
            "KAIRATKYZY",
            "--born",
            "1999-03-14",
            "--place",
            "Shymkent",
        ],
        "",
    );
    ok_json(
        &almaty,
        &[
            "dedup",
            "index",
            &a2,
            "--given",
            "Hasan",
            "--family",
            "Karimov",
            "--born",
            "2004-06-01",
        ],
        "",
    );
    // Bishkek types the details at the prompts, in Cyrillic, family name first.
    let b1 = add_case(&bishkek);
    let b2 = add_case(&bishkek);
    ok_json(
        &bishkek,
        &["dedup", "index", &b1],
        "Кайраткызы\nАйгерим\n14.03.1999\n\nг. Шымкент\n",
    );
    ok_json(
        &bishkek,
        &[
            "dedup",
            "index",
            &b2,
            "--given",
            "Husan",
            "--family",
            "Karimov",
            "--born",
            "2004-06-01",
        ],
        "",
    );

    // Almaty sends its indices; Bishkek checks them.
    let file = tmp.path().join("almaty.cvi");
    let written = ok_json(
        &almaty,
        &[
            "dedup",
            "export-index",
            "--out",
            file.to_str().expect("path"),
        ],
        "",
    );
    assert_eq!(written["cases"], 2);
    let wire = std::fs::read(&file).expect("file");
    let checked = ok_json(
        &bishkek,
        &["dedup", "check", file.to_str().expect("path")],
        "",
    );
    let matches = checked["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{checked}");
    assert_eq!(matches[0]["ours"], b1.as_str());
    assert_eq!(matches[0]["other"], a1.as_str());
    assert_eq!(matches[0]["strength"], "Strong");
    assert_eq!(checked["other_agreement"], 0);
    // The table form says it in words.
    let text = caravan_in(
        &bishkek,
        &["dedup", "check", file.to_str().expect("path")],
        "",
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("possible same person"), "{text}");
    assert!(text.contains("same name and date of birth"), "{text}");

    // No name, place or date is in the store directories or the exchanged file.
    for bytes in [all_bytes(&almaty), all_bytes(&bishkek), wire] {
        for needle in [
            "aigerim",
            "kairat",
            "Айгерим",
            "Шымкент",
            "shymkent",
            "1999",
            "karimov",
        ] {
            assert!(!contains(&bytes, needle), "{needle}");
        }
    }

    // A hostile file is refused with exit code 2, not a crash.
    let junk = tmp.path().join("junk.cvi");
    std::fs::write(&junk, b"\xbf\xff\x00garbage").expect("write");
    let refused = caravan_in(
        &bishkek,
        &["dedup", "check", junk.to_str().expect("path")],
        "",
    );
    assert_eq!(refused.status.code(), Some(2));

    // Within one store, nothing (Hasan and Husan are different people).
    let within = ok_json(&almaty, &["dedup", "check"], "");
    assert_eq!(within["matches"].as_array().map(Vec::len), Some(0));
}
