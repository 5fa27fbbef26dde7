//! A bulk import is all or nothing across a process kill (issue 18, F8 of the round-3
//! data red team: a kill left whole blocks of 256 cases behind).
//!
//! The `import_writer` process imports [`CASES`] cases (three blocks of 256 and a
//! few) in one `Store::import_once`; the test kills it with `SIGKILL` after a delay
//! spread over 2.5 times the import's duration (measured by a first run that is not
//! killed, and again by each retry that stores a whole import, since the growing store
//! takes longer to open and compact), opens the
//! store and checks that it reports no damage and holds either none or all of the
//! import's cases, all of them if the writer acknowledged. Then it runs the same
//! import again to the end (the retry a user makes) and checks that exactly the
//! import's cases are there: none lost, none twice.
//!
//! `CARAVAN_IMPORT_CRASH_TRIALS=<n>` sets the number of kills (default 8; the campaign
//! of `tests/crash-campaign.sh` runs more), `CARAVAN_CRASH_SEED=<n>` the delays.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caravan_core::{CaseFilter, Store, StoreKey};
use caravan_tests::{to_hex, SplitMix64, READY};

/// The writer binary, built by cargo for this test.
const WRITER: &str = env!("CARGO_BIN_EXE_import_writer");

/// Cases of each import: more than three blocks of 256.
const CASES: usize = 800;

fn spawn(dir: &Path, key: &StoreKey, tag: &str) -> Child {
    Command::new(WRITER)
        .args(["--dir", &dir.display().to_string()])
        .args(["--key-hex", &to_hex(key.expose_bytes())])
        .args(["--tag", tag, "--cases", &CASES.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import_writer")
}

/// Waits for `READY`; returns the lines reader.
fn ready(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    lines.read_line(&mut line).expect("read READY");
    assert_eq!(line.trim(), READY, "the writer did not start");
    lines
}

/// Runs an import to its end; returns (stored, already) from its `ACK` and the time
/// from `READY` to `ACK`.
fn run_to_end(dir: &Path, key: &StoreKey, tag: &str) -> (usize, usize, u64) {
    let mut child = spawn(dir, key, tag);
    let mut lines = ready(&mut child);
    let start = Instant::now();
    let mut rest = String::new();
    lines.read_line(&mut rest).expect("read ACK");
    let took = start.elapsed().as_millis() as u64;
    let status = child.wait().expect("wait");
    assert!(status.success(), "import_writer failed: {rest}");
    let mut words = rest.split_whitespace();
    assert_eq!(words.next(), Some("ACK"), "{rest}");
    let stored = words.next().and_then(|w| w.parse().ok()).expect("stored");
    let already = words.next().and_then(|w| w.parse().ok()).expect("already");
    (stored, already, took)
}

fn count(dir: &Path, key: &StoreKey) -> usize {
    let store = Store::open(dir, key).expect("open after the kill");
    assert!(
        store.damage().is_empty(),
        "a killed import is not damage: {:?}",
        store.damage()
    );
    store.list(&CaseFilter::default()).len()
}

#[test]
fn a_killed_import_leaves_all_or_nothing_and_a_retry_completes_it() {
    let trials: u64 = std::env::var("CARAVAN_IMPORT_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("CARAVAN_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    let key = StoreKey::generate().expect("key");
    drop(Store::create(&dir, &key).expect("create"));
    // Calibration: how long an import takes here, from READY to ACK (taken again
    // from every retry that stores a whole import: the store grows, and so does the
    // time to open it and to compact after the import).
    let (stored, already, took) = run_to_end(&dir, &key, "calibration");
    assert_eq!((stored, already), (CASES, 0));
    let mut span = took.max(20);
    let mut total = CASES;
    assert_eq!(count(&dir, &key), total);
    let mut rng = SplitMix64::new(seed ^ 0x1397_0a11);
    let (mut none, mut all) = (0, 0);
    for trial in 0..trials {
        let tag = format!("t{trial}");
        // Spread over the import and past its end (a run may be slower than the
        // calibration, and some kills should land after the acknowledgement).
        let delay = 1 + (span * 25 / 10) * trial / trials.max(1) + rng.below(span / 10 + 1);
        let mut child = spawn(&dir, &key, &tag);
        let mut lines = ready(&mut child);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let mut rest = String::new();
        let _ = lines.read_line(&mut rest);
        let acked = rest.starts_with("ACK");
        let now = count(&dir, &key);
        assert!(
            now == total || now == total + CASES,
            "trial {trial} (kill after {delay} ms of about {span}): {} of the import's \
             {CASES} cases are in the store",
            now - total
        );
        if acked {
            assert_eq!(now, total + CASES, "an acknowledged import lost cases");
        }
        if now == total {
            none += 1;
        } else {
            all += 1;
        }
        // The retry the user makes: exactly the missing cases.
        let (stored, already, took) = run_to_end(&dir, &key, &tag);
        if stored == CASES {
            span = took.max(20);
        }
        assert_eq!(stored + already, CASES);
        assert_eq!(stored, total + CASES - now, "trial {trial}: the retry");
        total += CASES;
        assert_eq!(count(&dir, &key), total, "trial {trial}: after the retry");
    }
    eprintln!(
        "[import-kill] {trials} kills spread over 2.5 times the import's time (last {span} \
         ms): {none} left nothing, {all} left the whole import"
    );
}
