//! Getting the passphrase: from CARAVAN_PASSPHRASE, or a hidden prompt on the terminal.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use caravan_core::{Damage, Error, KdfParams, Result, Store};

const ENV: &str = "CARAVAN_PASSPHRASE";

fn passphrase(prompt: &str) -> Result<String> {
    if let Ok(p) = std::env::var(ENV) {
        return Ok(p);
    }
    rpassword::prompt_password(prompt).map_err(|_| Error::InvalidInput {
        field: "passphrase".into(),
        reason: format!("no terminal to ask on; set {ENV}"),
    })
}

/// Set when a store was opened with acknowledged data missing: the command still
/// does what it can, then exits with code 5.
pub(crate) static DATA_LOST: AtomicBool = AtomicBool::new(false);

/// Set when a command did its work but refused input from another device on the way
/// (a mailbox entry that is not an authentic bundle of the team): exit code 6.
pub(crate) static INPUT_REFUSED: AtomicBool = AtomicBool::new(false);

/// Opens the store with the passphrase. Damage found on opening is printed on
/// standard error (the store still opens; see [`DATA_LOST`]).
///
/// Every pack is authenticated first ([`Store::verify_packs`]): a store with damage
/// anywhere is read-only until `caravan repair`, so a write, or an export that spends
/// privacy budget or pins a release, is refused (`NeedsRepair`, exit 9) instead of
/// writing to it (R2-5 of the 2026-12-05 red team).
pub(crate) fn open(dir: &Path) -> Result<Store> {
    let pass = passphrase("Store passphrase: ")?;
    open_with(dir, &pass)
}

/// Opens the store with `pass` (already asked for), as [`open`] does.
pub(crate) fn open_with(dir: &Path, pass: &str) -> Result<Store> {
    let mut store = Store::open_with_passphrase(dir, pass)?;
    store.verify_packs();
    warn_damage(store.damage());
    Ok(store)
}

/// Asks for the store passphrase once (for commands that open the store twice).
pub(crate) fn ask() -> Result<String> {
    passphrase("Store passphrase: ")
}

/// Opens the store for reading only (`check`): nothing is written.
pub(crate) fn open_read_only(dir: &Path) -> Result<Store> {
    let pass = passphrase("Store passphrase: ")?;
    Store::open_read_only_with_passphrase(dir, &pass)
}

/// Opens the store for a command that only reads (`case list`, `case show`): nothing
/// is created or changed, not even a torn tail cut off; damage found on opening is
/// printed as [`open`] does.
pub(crate) fn open_for_reading(dir: &Path) -> Result<Store> {
    let store = open_read_only(dir)?;
    warn_damage(store.damage());
    Ok(store)
}

/// Reads every record of `ids` (each frame once) and prints, for each case that
/// cannot be read, the file and the case; notes that data is missing ([`DATA_LOST`],
/// exit 5). The other cases stay readable and are printed by the caller.
pub(crate) fn warn_unreadable(store: &Store, ids: &[caravan_core::CaseId]) {
    let bad = store.verify_cases(ids);
    for d in &bad {
        eprintln!("caravan: warning: store file {}: {}", d.file, d.problem);
    }
    if !bad.is_empty() {
        DATA_LOST.store(true, Ordering::SeqCst);
        eprintln!(
            "caravan: warning: {} case(s) listed cannot be read; run `caravan check` for a \
             full report and `caravan repair` to salvage the rest",
            bad.len()
        );
    }
}

/// Repairs the store (`repair`).
pub(crate) fn repair(dir: &Path) -> Result<caravan_core::RepairReport> {
    let pass = passphrase("Store passphrase: ")?;
    Store::repair_with_passphrase(dir, &pass)
}

/// Prints each problem found on opening; notes whether data is missing.
pub(crate) fn warn_damage(damage: &[Damage]) {
    for d in damage {
        eprintln!("caravan: warning: store file {}: {}", d.file, d.problem);
    }
    if damage.iter().any(|d| d.records_lost > 0) {
        DATA_LOST.store(true, Ordering::SeqCst);
        eprintln!(
            "caravan: warning: acknowledged records are missing; run `caravan check` for a \
             full report and `caravan repair` to salvage the rest"
        );
    } else if !damage.is_empty() {
        eprintln!("hint: `caravan repair` keeps the damaged file aside and rewrites the store");
    }
}

/// Creates a store, asking for the passphrase twice when prompting.
pub(crate) fn create(dir: &Path, memory_mib: u32) -> Result<Store> {
    let pass = match std::env::var(ENV) {
        Ok(p) => p,
        Err(_) => {
            let a = passphrase("New store passphrase: ")?;
            let b = passphrase("Repeat the passphrase: ")?;
            if a != b {
                return Err(Error::InvalidInput {
                    field: "passphrase".into(),
                    reason: "the two entries differ".into(),
                });
            }
            a
        }
    };
    if pass.chars().count() < 8 {
        return Err(Error::InvalidInput {
            field: "passphrase".into(),
            reason: "use at least 8 characters (a few words is best)".into(),
        });
    }
    Store::create_with_passphrase(dir, &pass, KdfParams::with_memory_mib(memory_mib)?)
}
