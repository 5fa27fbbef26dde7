//! `import_writer`: the victim process of the import crash test (`tests/import_crash.rs`).
//!
//! ```text
//! import_writer --dir D --key-hex K --tag T --cases N
//! ```
//!
//! Warms up the note screen, prints `READY`, opens the store in `D` with the crash
//! test's small options (so the import ends with a compaction), imports `N` cases in
//! one [`Store::import_once`] (request ids `import-crash:<T>:<i>`, so a repeat of the
//! same tag stores only what is missing), prints `ACK <stored> <already>` once it
//! returned `Ok`, and exits. Status 2 and a message on stderr on any error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use caravan_core::privacy::screen_note;
use caravan_core::{Edit, ScalarField, Store, StoreKey};
use caravan_tests::{crash_options, from_hex, GENDERS, JOURNAL_LIMIT, READY};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("import_writer: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut dir = None;
    let mut key = None;
    let mut tag = None;
    let mut cases = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(&value)),
            "--key-hex" => {
                let bytes = from_hex(&value).ok_or("--key-hex: not hexadecimal")?;
                key = Some(StoreKey::from_bytes(&bytes).map_err(|e| e.to_string())?);
            }
            "--tag" => tag = Some(value),
            "--cases" => cases = Some(value.parse::<usize>().map_err(|e| format!("{e}"))?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let (dir, key, tag, cases) = (
        dir.ok_or("--dir is required")?,
        key.ok_or("--key-hex is required")?,
        tag.ok_or("--tag is required")?,
        cases.ok_or("--cases is required")?,
    );
    let batch: Vec<(String, Vec<Edit>)> = (0..cases)
        .map(|i| {
            (
                format!("import-crash:{tag}:{i}"),
                vec![
                    Edit::note(format!("imported {tag} {i}")),
                    Edit::set(ScalarField::Gender, GENDERS[i % GENDERS.len()]),
                ],
            )
        })
        .collect();
    screen_note("warm-up").map_err(|e| format!("warm-up: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    let mut store = Store::open_with(&dir, &key, crash_options(JOURNAL_LIMIT))
        .map_err(|e| format!("open: {e}"))?;
    let result = store
        .import_once(batch, &mut |_, _| true)
        .map_err(|e| format!("import: {e}"))?;
    let stored = result.iter().filter(|(_, created)| *created).count();
    writeln!(out, "ACK {stored} {}", result.len() - stored)
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    Ok(())
}
