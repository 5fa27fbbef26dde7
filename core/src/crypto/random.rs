//! The operating system's secure random generator (ring's `SystemRandom`).

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Fills `out` with bytes from the operating system's secure random generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::Internal("the system random generator failed".into()))
}

/// An array of bytes from the operating system's secure random generator.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}
