//! The operating system's secure random generator (ring's `SystemRandom`).

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

#[cfg(test)]
thread_local! {
    /// Test-only: this thread's random bytes come from a seed (for byte-reproducible
    /// test vectors of whole sessions, `sync::vectors_live`); `None` is the OS.
    static SEEDED: std::cell::RefCell<Option<([u8; 32], u64)>> =
        const { std::cell::RefCell::new(None) };
}

/// Test-only: makes this thread's "random" bytes (and device keys, X25519 ephemeral
/// keys) a function of `seed` until called with `None`. Never compiled outside tests.
#[cfg(test)]
pub(crate) fn seed_thread(seed: Option<[u8; 32]>) {
    SEEDED.with(|s| *s.borrow_mut() = seed.map(|k| (k, 0)));
}

/// Test-only: whether this thread's random bytes come from a seed.
#[cfg(test)]
pub(crate) fn thread_seeded() -> bool {
    SEEDED.with(|s| s.borrow().is_some())
}

/// Test-only: `out` from the seed, as SHA-256(seed ‖ counter as u64 LE) blocks.
#[cfg(test)]
fn seeded_fill(out: &mut [u8]) -> bool {
    SEEDED.with(|s| {
        let mut s = s.borrow_mut();
        let Some((seed, counter)) = s.as_mut() else {
            return false;
        };
        for chunk in out.chunks_mut(32) {
            let block = super::sha256(&[seed.as_slice(), &counter.to_le_bytes()].concat());
            *counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        true
    })
}

/// Fills `out` with bytes from the operating system's secure random generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<()> {
    #[cfg(test)]
    if seeded_fill(out) {
        return Ok(());
    }
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
