//! Argon2id (version 0x13), with the `argon2` crate: store keys from passphrases and
//! the stretching of blind-index tokens.

use crate::error::{Error, Result};

/// Argon2id with fixed costs and output length. Holds no secret.
pub(crate) struct Argon2id(argon2::Argon2<'static>);

impl Argon2id {
    /// Argon2id with `memory_kib` KiB, `iterations` passes, `lanes` lanes and an output
    /// of `out_len` bytes; refused as invalid input named `field` when Argon2 does not
    /// accept the costs.
    pub(crate) fn new(
        memory_kib: u32,
        iterations: u32,
        lanes: u32,
        out_len: usize,
        field: &str,
    ) -> Result<Argon2id> {
        let params = argon2::Params::new(memory_kib, iterations, lanes, Some(out_len))
            .map_err(|e| Error::invalid(field, e.to_string()))?;
        Ok(Argon2id(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        )))
    }

    /// Hashes `password` with `salt` into `out` (whose length must be the output length).
    pub(crate) fn hash_into(&self, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
        self.0
            .hash_password_into(password, salt, out)
            .map_err(|e| Error::Internal(format!("argon2id failed: {e}")))
    }
}

impl std::fmt::Debug for Argon2id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Argon2id")
    }
}
