//! Getting the passphrase: from CARAVAN_PASSPHRASE, or a hidden prompt on the terminal.

use std::path::Path;

use caravan_core::{Error, KdfParams, Result, Store};

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

/// Opens the store with the passphrase.
pub(crate) fn open(dir: &Path) -> Result<Store> {
    let pass = passphrase("Store passphrase: ")?;
    Store::open_with_passphrase(dir, &pass)
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
