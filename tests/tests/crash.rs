//! Crash consistency of the device store under process kills.
//!
//! # What this proves
//!
//! A separate process (`crash_writer`) performs random durable operations on a store
//! (add a case, add a note, set a scalar field, add a set code, erase a case) with
//! small [`StoreOptions`](caravan_core::StoreOptions), so compactions, whole-document
//! saves and erasure rewrites happen all the time. The test kills it with `SIGKILL`
//! after a delay spread evenly over 1–150 ms, counted from the writer's `READY` line
//! (printed once its one-time initialisation is done, just before it opens the store),
//! so kills land everywhere: during an open's recovery, mid-append, mid-fsync,
//! mid-compaction, between an operation's return and its acknowledgement. Then the
//! test opens the store itself and checks, after **every** kill, that:
//!
//! - the store opens, reports no [`damage`](caravan_core::Store::damage) (a torn
//!   journal tail is a normal crash artefact, not damage), leaves no temporary file or
//!   older generation behind, and accepts new writes (which later rounds check too);
//! - its whole observable state is exactly the acknowledged history of all runs so
//!   far, plus at most the single operation that was in flight when the process died
//!   (the writer is sequential, so only the last `BEGIN` without an `ACK` can be
//!   pending). That is: every acknowledged case exists unless an acknowledged erasure
//!   removed it; every acknowledged note is present exactly once and no other note is;
//!   each scalar field holds its last acknowledged value (or the in-flight one); each
//!   acknowledged set code is present and no other; erased cases answer
//!   [`Error::CaseErased`] and have a tombstone; no case appears that was never
//!   written (bar the in-flight `add`);
//! - the index summaries agree with the case documents.
//!
//! What the check observes becomes the model for the next run (it is now on disk),
//! so later runs also check that recovery and its compaction did not lose anything.
//!
//! # What this does not prove
//!
//! A process kill leaves the kernel's page cache intact: every `write` the process
//! completed reaches the disk eventually, fsynced or not. So this test does not
//! simulate power loss, where unsynced writes can vanish or be torn in any order; the
//! torn-write unit tests in `caravan-core` cover cut and corrupted frames, and the
//! code's fsync discipline (file, then rename, then directory) is what covers power
//! loss. This test checks the ordering of the store's steps and its recovery logic at
//! every point where a process can die.
//!
//! # Knobs
//!
//! `CARAVAN_CRASH_SCALE=<k>` runs `k` times as many rounds, and `CARAVAN_CRASH_SEED=<n>`
//! changes the writers' seeds and the test's own choices (delays stay spread over
//! 1–150 ms), for longer hunts than the default run (about 30 s in a debug build).

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use caravan_core::vocab::Vocabulary;
use caravan_core::{CaseId, CaseRecord, Edit, Error, ScalarField, Store, StoreKey};
use caravan_tests::{
    crash_options, note_text, to_hex, Line, OpKind, SplitMix64, JOURNAL_LIMIT, READY,
};

/// The writer binary, built by cargo for this test.
const WRITER: &str = env!("CARGO_BIN_EXE_crash_writer");

/// Whether a case is there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Status {
    #[default]
    Live,
    Erased,
    /// Neither live nor erased: the store forgot it.
    Missing,
}

/// What the test tracks of one case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct CaseState {
    status: Status,
    /// Note texts, sorted (duplicates kept, so a doubled note is noticed).
    notes: Vec<String>,
    /// Scalar field key → code.
    scalars: BTreeMap<String, String>,
    /// `field=code` of set-valued fields.
    sets: BTreeSet<String>,
}

/// Case hex id → state.
type State = BTreeMap<String, CaseState>;

/// Applies one operation (acknowledged, or assumed to have landed) to `state`.
fn apply(state: &mut State, op: &Line, case: &str) -> Result<(), String> {
    if op.kind == OpKind::Add {
        let (field, code) = op
            .field_code()
            .ok_or_else(|| format!("bad detail in {op}"))?;
        let new = CaseState {
            notes: vec![note_text(op.n)],
            scalars: BTreeMap::from([(field.to_string(), code.to_string())]),
            ..CaseState::default()
        };
        if state.insert(case.to_string(), new).is_some() {
            return Err(format!("{op}: case {case} was added twice"));
        }
        return Ok(());
    }
    let c = state
        .get_mut(case)
        .ok_or_else(|| format!("{op}: unknown case {case}"))?;
    if c.status != Status::Live {
        return Err(format!("{op}: case {case} is {:?}", c.status));
    }
    match op.kind {
        OpKind::Add => {}
        OpKind::Note => {
            c.notes.push(note_text(op.n));
            c.notes.sort();
        }
        OpKind::Set => {
            let (field, code) = op
                .field_code()
                .ok_or_else(|| format!("bad detail in {op}"))?;
            c.scalars.insert(field.to_string(), code.to_string());
        }
        OpKind::Code => {
            c.sets.insert(op.detail.clone());
        }
        OpKind::Erase => {
            *c = CaseState {
                status: Status::Erased,
                ..CaseState::default()
            }
        }
    }
    Ok(())
}

/// The tracked part of a case record.
fn state_of(rec: &CaseRecord) -> CaseState {
    let mut notes: Vec<String> = rec.notes.iter().map(|n| n.text.clone()).collect();
    notes.sort();
    let mut scalars = BTreeMap::new();
    if let Some(g) = &rec.gender {
        scalars.insert(ScalarField::Gender.key().to_string(), g.code().to_string());
    }
    if let Some(a) = &rec.age_band {
        scalars.insert(ScalarField::AgeBand.key().to_string(), a.code().to_string());
    }
    let sets = rec
        .means_of_control
        .iter()
        .map(|m| format!("means_of_control={}", m.code()))
        .chain(
            rec.citizenship
                .iter()
                .map(|c| format!("citizenship={}", c.code())),
        )
        .collect();
    CaseState {
        status: Status::Live,
        notes,
        scalars,
        sets,
    }
}

/// Reads the state of every case the model knows and of every live case in the store,
/// checking the index against the documents on the way.
fn observe(store: &mut Store, model: &State) -> Result<State, String> {
    let mut ids: BTreeSet<String> = model.keys().cloned().collect();
    ids.extend(
        store
            .list(&Default::default())
            .iter()
            .map(|s| s.id.to_hex()),
    );
    let mut seen = State::new();
    for hex in ids {
        let id = CaseId::parse(&hex).map_err(|e| format!("case id {hex}: {e}"))?;
        let state = match store.case(&id) {
            Ok(rec) => {
                if rec.id != id {
                    return Err(format!(
                        "case {hex} holds the record of {}",
                        rec.id.to_hex()
                    ));
                }
                if !rec.conflicts.is_empty() {
                    return Err(format!("case {hex} has conflicts: {:?}", rec.conflicts));
                }
                let s = store
                    .summary(&id)
                    .map_err(|e| format!("summary of {hex}: {e}"))?;
                let agrees = s.gender == rec.gender
                    && s.age_band == rec.age_band
                    && s.notes as usize == rec.notes.len()
                    && s.citizenship.iter().collect::<BTreeSet<_>>()
                        == rec.citizenship.iter().collect::<BTreeSet<_>>();
                if !agrees {
                    return Err(format!(
                        "the index summary of case {hex} disagrees with its document"
                    ));
                }
                state_of(&rec)
            }
            Err(Error::CaseErased { .. }) => CaseState {
                status: Status::Erased,
                ..Default::default()
            },
            Err(Error::CaseNotFound { .. }) => CaseState {
                status: Status::Missing,
                ..Default::default()
            },
            Err(e) => return Err(format!("reading case {hex}: {e}")),
        };
        seen.insert(hex, state);
    }
    let tombstones: BTreeSet<String> = store.tombstones().map(|t| t.case.to_hex()).collect();
    let erased: BTreeSet<String> = seen
        .iter()
        .filter(|(_, c)| c.status == Status::Erased)
        .map(|(k, _)| k.clone())
        .collect();
    if tombstones != erased {
        return Err(format!(
            "tombstones {tombstones:?} but erased cases {erased:?}"
        ));
    }
    Ok(seen)
}

/// The cases where two states differ, for failure messages.
fn diff(expected: &State, seen: &State) -> String {
    let keys: BTreeSet<&String> = expected.keys().chain(seen.keys()).collect();
    let mut out = String::new();
    for k in keys {
        let (e, s) = (expected.get(k), seen.get(k));
        if e != s {
            out.push_str(&format!(
                "  case {k}:\n    expected {e:?}\n    found    {s:?}\n"
            ));
        }
    }
    out
}

/// What one writer run printed.
struct Run {
    /// Complete protocol lines, in order.
    lines: Vec<Line>,
    /// Whether the output ended in a partial line (killed mid-print; not an ACK).
    partial: bool,
    stderr: String,
}

/// Spawns the writer, kills it with SIGKILL after `delay` and collects its output.
fn run_writer(
    dir: &Path,
    key_hex: &str,
    seed: u64,
    first_op: u64,
    limit: u64,
    delay: Duration,
) -> Run {
    let mut child = Command::new(WRITER)
        .arg("--dir")
        .arg(dir)
        .args(["--key-hex", key_hex])
        .args(["--seed", &seed.to_string()])
        .args(["--first-op", &first_op.to_string()])
        .args(["--journal-limit", &limit.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash_writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (ready_tx, ready_rx) = mpsc::channel();
    let out_reader = thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let mut stdout = BufReader::new(stdout);
        let mut first = Vec::new();
        stdout.read_until(b'\n', &mut first)?;
        if first == format!("{READY}\n").as_bytes() {
            // The receiver may have given up already; then the test fails below anyway.
            ready_tx.send(()).ok();
            first.clear();
        }
        stdout.read_to_end(&mut first)?;
        Ok(first)
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    // The delay counts from READY: the writer is initialised and about to open the store.
    let ready = ready_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    if ready {
        thread::sleep(delay);
    }
    // Child::kill sends SIGKILL on Unix: no destructor, no flush, no unlock runs.
    child.kill().expect("kill crash_writer");
    let status = child.wait().expect("wait for crash_writer");
    let bytes = out_reader
        .join()
        .expect("stdout reader")
        .expect("read writer stdout");
    let stderr = err_reader
        .join()
        .expect("stderr reader")
        .expect("read writer stderr");
    assert_eq!(
        status.signal(),
        Some(9),
        "crash_writer was not killed but exited with {status}; stderr:\n{stderr}"
    );
    assert!(
        ready,
        "crash_writer never printed {READY}; stderr:\n{stderr}"
    );
    let text = String::from_utf8(bytes).expect("writer output is UTF-8");
    let partial = !text.is_empty() && !text.ends_with('\n');
    let complete = text.rsplit_once('\n').map_or("", |(done, _)| done);
    let lines = complete
        .lines()
        .map(|l| Line::parse(l).unwrap_or_else(|| panic!("bad writer line {l:?}")))
        .collect();
    Run {
        lines,
        partial,
        stderr,
    }
}

/// Whether the directory shows a compaction (or creation) that was cut short:
/// temporary files, or more than one generation of index or journal.
fn compaction_debris(dir: &Path) -> bool {
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("list store dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let count = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count();
    names.iter().any(|n| n.ends_with(".tmp")) || count("index-") > 1 || count("journal-") > 1
}

/// Where a failure happened; keeps a copy of the store for inspection.
struct Context<'a> {
    name: &'a str,
    iteration: usize,
    seed: u64,
    delay: Duration,
    dir: &'a Path,
}

impl Context<'_> {
    fn fail(&self, msg: String) -> ! {
        let kept = std::env::temp_dir().join(format!(
            "caravan-crash-{}-{}-{}",
            self.name,
            std::process::id(),
            self.iteration
        ));
        let copied = std::fs::create_dir_all(&kept).is_ok()
            && std::fs::read_dir(self.dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .all(|e| std::fs::copy(e.path(), kept.join(e.file_name())).is_ok())
            });
        let where_ = if copied {
            format!("a copy of the store is in {}", kept.display())
        } else {
            "the store could not be copied".to_string()
        };
        panic!(
            "[{}] iteration {}: writer seed {}, killed after {:?}\n{msg}\n({where_})",
            self.name, self.iteration, self.seed, self.delay
        )
    }
}

/// Totals printed at the end.
#[derive(Debug, Default)]
struct Stats {
    iterations: usize,
    /// Operations the writers acknowledged.
    acks: usize,
    /// Writes made by the test itself after recovery (also checked later).
    probes: usize,
    /// Sum over iterations of the acknowledged writes checked (all so far, each time).
    ack_checks: usize,
    killed_before_first_ack: usize,
    /// Kills whose in-flight operation is visible after recovery.
    in_flight_landed: usize,
    /// Kills whose in-flight operation is not visible (or changed nothing).
    in_flight_lost: usize,
    partial_lines: usize,
    debris: usize,
    /// Per run: operations its writer acknowledged before the kill.
    run_acks: Vec<usize>,
    /// Per run: acknowledged writes (of all runs so far) checked after its kill.
    run_checks: Vec<usize>,
    /// Time spent running writers (start, warm-up, delay, kill).
    writing: Duration,
    /// Time spent recovering and checking.
    checking: Duration,
}

/// A number from the environment, if set.
fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={value}: {e}")),
    )
}

/// Runs `iterations` kill-and-check rounds (times `CARAVAN_CRASH_SCALE`) on one store
/// with `journal_limit`.
fn crash_test(name: &str, iterations: usize, journal_limit: u64, test_seed: u64) {
    let started = Instant::now();
    let iterations =
        iterations * env_number("CARAVAN_CRASH_SCALE").map_or(1, |k| k.max(1) as usize);
    let test_seed = test_seed ^ env_number("CARAVAN_CRASH_SEED").unwrap_or(0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    let key = StoreKey::generate().expect("key");
    let key_hex = to_hex(key.expose_bytes());
    let options = || crash_options(journal_limit);
    drop(Store::create_with(&dir, &key, None, options()).expect("create store"));

    let mut rng = SplitMix64::new(test_seed);
    let mut model = State::new();
    let mut next_op = 1;
    let mut stats = Stats::default();
    for i in 0..iterations {
        // Spread kill delays (counted from the writer's READY) evenly over 1..=150 ms, in
        // a scrambled order; the shortest ones land while the store is being opened.
        let slot = (i * 7919) % iterations;
        let delay = Duration::from_millis(1 + (slot * 149 / (iterations - 1).max(1)) as u64);
        let seed = rng.next_u64();
        let phase = Instant::now();
        let run = run_writer(&dir, &key_hex, seed, next_op, journal_limit, delay);
        stats.writing += phase.elapsed();
        let phase = Instant::now();
        let ctx = Context {
            name,
            iteration: i,
            seed,
            delay,
            dir: &dir,
        };

        // Replay the acknowledged operations into the model.
        let mut pending: Option<Line> = None;
        let mut acks = 0;
        for line in &run.lines {
            if line.n < next_op {
                ctx.fail(format!("operation numbers went back: {line}"));
            }
            if !line.ack {
                if let Some(p) = &pending {
                    ctx.fail(format!("{line} began before {p} was acknowledged"));
                }
                pending = Some(line.clone());
                continue;
            }
            match pending.take() {
                Some(p) if p.n == line.n && p.kind == line.kind => {}
                other => ctx.fail(format!(
                    "{line} acknowledges nothing begun (pending {other:?})"
                )),
            }
            let case = line
                .case
                .clone()
                .unwrap_or_else(|| ctx.fail(format!("{line} names no case")));
            if let Err(e) = apply(&mut model, line, &case) {
                ctx.fail(e);
            }
            acks += 1;
            next_op = line.n + 1;
        }
        if let Some(p) = &pending {
            next_op = p.n + 1;
        }
        stats.iterations += 1;
        stats.acks += acks;
        stats.killed_before_first_ack += usize::from(acks == 0);
        stats.partial_lines += usize::from(run.partial);
        stats.debris += usize::from(compaction_debris(&dir));

        // Recover and compare.
        let mut store = Store::open_with(&dir, &key, options())
            .unwrap_or_else(|e| ctx.fail(format!("the store does not open after the kill: {e}")));
        if !store.damage().is_empty() {
            ctx.fail(format!(
                "damage reported after a process kill: {:?}",
                store.damage()
            ));
        }
        if compaction_debris(&dir) {
            ctx.fail("recovery left temporary files or an older generation behind".into());
        }
        let seen = observe(&mut store, &model).unwrap_or_else(|e| ctx.fail(e));
        let unknown: Vec<&String> = seen.keys().filter(|k| !model.contains_key(*k)).collect();
        let mut with_pending = model.clone();
        let pending_case = match (&pending, unknown.as_slice()) {
            (Some(p), [new]) if p.kind == OpKind::Add => Some((*new).clone()),
            (Some(p), _) => p.case.clone(),
            (None, _) => None,
        };
        if let (Some(p), Some(case)) = (&pending, &pending_case) {
            if let Err(e) = apply(&mut with_pending, p, case) {
                ctx.fail(e);
            }
        }
        if seen == model && pending.is_some() {
            stats.in_flight_lost += 1;
        } else if seen == with_pending && pending.is_some() {
            stats.in_flight_landed += 1;
        } else if seen != model {
            let pending_text = pending
                .as_ref()
                .map_or("none".to_string(), |p| p.to_string());
            let last: Vec<String> = run
                .lines
                .iter()
                .rev()
                .take(6)
                .map(|l| l.to_string())
                .collect();
            ctx.fail(format!(
                "the recovered store is not the acknowledged history (in flight: {pending_text});\n\
                 differences from the acknowledged state:\n{}last lines (newest first): {last:?}\n\
                 writer stderr: {}",
                diff(&model, &seen),
                run.stderr
            ));
        }
        model = seen;
        stats.ack_checks += stats.acks + stats.probes;
        stats.run_acks.push(acks);
        stats.run_checks.push(stats.acks + stats.probes);
        stats.checking += phase.elapsed();

        // The recovered store takes new writes (appended after a cut journal tail).
        let probe = Line {
            ack: true,
            n: next_op,
            kind: OpKind::Add,
            case: None,
            detail: "gender=Masculine".into(),
        };
        let id = store
            .add_case(&[
                Edit::note(note_text(probe.n)),
                Edit::set(ScalarField::Gender, "Masculine"),
            ])
            .unwrap_or_else(|e| ctx.fail(format!("no write after recovery: {e}")));
        apply(&mut model, &probe, &id.to_hex()).unwrap_or_else(|e| ctx.fail(e));
        next_op += 1;
        let live: Vec<String> = model
            .iter()
            .filter(|(_, c)| c.status == Status::Live)
            .map(|(k, _)| k.clone())
            .collect();
        let target = rng.pick(&live).clone();
        let target_id = CaseId::parse(&target).unwrap_or_else(|e| ctx.fail(e.to_string()));
        let note = Line {
            ack: true,
            n: next_op,
            kind: OpKind::Note,
            case: None,
            detail: note_text(next_op),
        };
        store
            .update_case(&target_id, &[Edit::note(note_text(note.n))])
            .unwrap_or_else(|e| ctx.fail(format!("no update after recovery: {e}")));
        apply(&mut model, &note, &target).unwrap_or_else(|e| ctx.fail(e));
        next_op += 1;
        stats.probes += 2;
        drop(store);
    }

    // A last clean open sees the probes too.
    let mut store = Store::open_with(&dir, &key, options()).expect("final open");
    assert!(
        store.damage().is_empty(),
        "damage at the final open: {:?}",
        store.damage()
    );
    let seen = observe(&mut store, &model).expect("final observation");
    assert!(
        seen == model,
        "final state differs:\n{}",
        diff(&model, &seen)
    );

    let spread = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        let at = |q: usize| {
            v.get((v.len().saturating_sub(1)) * q / 100)
                .copied()
                .unwrap_or(0)
        };
        format!("min {} / median {} / max {}", at(0), at(50), at(100))
    };
    eprintln!(
        "[{name}] per run: acknowledged by its writer before the kill: {}; acknowledged writes \
         checked after the kill: {}",
        spread(&stats.run_acks),
        spread(&stats.run_checks)
    );
    let live = model.values().filter(|c| c.status == Status::Live).count();
    let erased = model
        .values()
        .filter(|c| c.status == Status::Erased)
        .count();
    eprintln!(
        "[{name}] seed {test_seed:#x}: {} iterations in {:.1?}: {} operations acknowledged by writers + {} test \
         writes; {} acknowledged-write checks (every check covers all earlier ones); in flight \
         at the kill: {} visible after recovery, {} not (or no change); {} kills before the first ACK; {} kills mid-print; \
         {} kills left compaction debris; final store: {live} live cases, {erased} erased; \
         {:.1?} running writers, {:.1?} recovering and checking",
        stats.iterations,
        started.elapsed(),
        stats.acks,
        stats.probes,
        stats.ack_checks,
        stats.in_flight_landed,
        stats.in_flight_lost,
        stats.killed_before_first_ack,
        stats.partial_lines,
        stats.debris,
        stats.writing,
        stats.checking,
    );
}

/// Kills during ordinary work: appends, whole-document saves, periodic compaction,
/// erasures.
#[test]
fn acknowledged_operations_survive_process_kills() {
    crash_test("kill", 48, JOURNAL_LIMIT, 0x5eed_0001);
}

/// A 1 KiB journal limit: almost every operation compacts, so most kills land
/// inside a compaction (pack write, snapshot, rename, stale-file removal).
#[test]
fn acknowledged_operations_survive_kills_during_compaction() {
    crash_test("compaction", 24, 1 << 10, 0x5eed_0002);
}
