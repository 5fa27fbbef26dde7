//! `crash_writer`: the victim process of the crash-consistency test.
//!
//! ```text
//! crash_writer --dir D --key-hex K --seed S [--first-op N] [--journal-limit BYTES]
//! ```
//!
//! Warms up lazily built state, prints `READY`, opens the existing store in `D` with small
//! options (see [`caravan_tests::crash_options`]), then performs random durable
//! operations forever, chosen by a PRNG seeded with `S`. Before each call it prints a
//! `BEGIN` line and after the call returns `Ok` an `ACK` line (see the `caravan_tests`
//! crate docs), flushing stdout each time. It is meant to be killed with `SIGKILL`; it
//! exits only on an error (status 2, message on stderr).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use caravan_core::privacy::screen_note;
use caravan_core::vocab::ErasureReason;
use caravan_core::{CaseFilter, CaseId, Edit, ScalarField, Store, StoreKey};
use caravan_tests::{
    crash_options, from_hex, note_text, Line, OpKind, SplitMix64, GENDERS, JOURNAL_LIMIT, READY,
    SCALARS, SETS,
};

struct Args {
    dir: PathBuf,
    key: StoreKey,
    seed: u64,
    first_op: u64,
    journal_limit: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = None;
    let mut key = None;
    let mut seed = None;
    let mut first_op = 1;
    let mut journal_limit = JOURNAL_LIMIT;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(&value)),
            "--key-hex" => {
                let bytes = from_hex(&value).ok_or("--key-hex: not hexadecimal")?;
                key = Some(StoreKey::from_bytes(&bytes).map_err(|e| e.to_string())?);
            }
            "--seed" => seed = Some(number()?),
            "--first-op" => first_op = number()?,
            "--journal-limit" => journal_limit = number()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        dir: dir.ok_or("--dir is required")?,
        key: key.ok_or("--key-hex is required")?,
        seed: seed.ok_or("--seed is required")?,
        first_op,
        journal_limit,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_writer: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Warm up lazily built state first (the note screen compiles its patterns on first
    // use, which takes ~100 ms in a debug build, far longer than a write), so that the
    // kill delay, counted from READY, is spent opening the store and writing.
    screen_note("warm-up").map_err(|e| format!("warm-up: {e}"))?;
    writeln!(out, "{READY}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    let mut store = Store::open_with(&args.dir, &args.key, crash_options(args.journal_limit))
        .map_err(|e| format!("open: {e}"))?;
    let mut rng = SplitMix64::new(args.seed);
    let mut emit = |line: &Line| -> Result<(), String> {
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))
    };
    for n in args.first_op.. {
        let cases: Vec<CaseId> = store
            .list(&CaseFilter::default())
            .into_iter()
            .map(|s| s.id)
            .collect();
        let roll = rng.below(100);
        let target = (!cases.is_empty()).then(|| *rng.pick(&cases));
        let (kind, detail, edits) = match (roll, target) {
            (_, None) | (0..=19, _) => {
                let gender = *rng.pick(GENDERS);
                let edits = vec![
                    Edit::note(note_text(n)),
                    Edit::set(ScalarField::Gender, gender),
                ];
                (OpKind::Add, format!("gender={gender}"), edits)
            }
            (20..=49, _) => (OpKind::Note, note_text(n), vec![Edit::note(note_text(n))]),
            (50..=74, _) => {
                let (field, codes) = *rng.pick(SCALARS);
                let code = *rng.pick(codes);
                (
                    OpKind::Set,
                    format!("{}={code}", field.key()),
                    vec![Edit::set(field, code)],
                )
            }
            (75..=96, _) => {
                let (field, codes) = *rng.pick(SETS);
                let code = *rng.pick(codes);
                (
                    OpKind::Code,
                    format!("{}={code}", field.key()),
                    vec![Edit::add(field, code)],
                )
            }
            _ => (OpKind::Erase, "PersonRequested".to_string(), Vec::new()),
        };
        let case = if kind == OpKind::Add { None } else { target };
        let mut line = Line {
            ack: false,
            n,
            kind,
            case: case.map(|c| c.to_hex()),
            detail,
        };
        emit(&line)?;
        let done = match (kind, case) {
            (OpKind::Add, _) => store.add_case(&edits).map(Some),
            (OpKind::Erase, Some(id)) => store
                .erase_case(&id, ErasureReason::PersonRequested)
                .map(|()| None),
            (_, Some(id)) => store.update_case(&id, &edits).map(|()| None),
            (_, None) => return Err(format!("operation {n} has no case")),
        };
        let added = done.map_err(|e| format!("operation {n} ({}): {e}", kind.word()))?;
        if let Some(id) = added {
            line.case = Some(id.to_hex());
        }
        line.ack = true;
        emit(&line)?;
    }
    Ok(())
}
