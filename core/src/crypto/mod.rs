//! Every cryptographic primitive Caravan uses, in one module, so the rest of the crate
//! never touches a raw primitive or names a cryptography crate (the bitwarden "hazmat"
//! pattern; docs/decisions/0028-crypto-in-one-place.md).
//!
//! - SHA-256, one-shot and incremental: [`hash`].
//! - HKDF-SHA256: [`hkdf`]. Expansion hands out keys only on success: a failure is an
//!   error, never an all-zero or default key.
//! - HMAC-SHA256: [`mac`].
//! - ChaCha20-Poly1305 with an all-zero nonce, for keys that seal exactly one message:
//!   [`aead`].
//! - Ed25519 keys, signing and RFC 8032 verification (ring): [`ed25519`]; the
//!   cofactored single and batch verification of change signatures and the rule for
//!   acceptable keys (curve25519-dalek): [`cofactored`].
//! - X25519 agreement, static (x25519-dalek) and ephemeral (ring): [`x25519`].
//! - The operating system's secure random generator: [`random`].
//! - Argon2id, for passphrases and blind-index tokens: [`argon2id`].
//! - The store's key, its Argon2id parameters and the blob [`Sealer`]: `store_key`.
//!
//! Key material is held in `Zeroizing` buffers and never appears in `Debug` output.
//! `core/src/crypto/boundary.rs` tests that no other file of the crate names a
//! cryptography crate.

pub(crate) mod aead;
pub(crate) mod argon2id;
#[cfg(test)]
mod boundary;
pub(crate) mod cofactored;
pub(crate) mod ed25519;
pub(crate) mod hash;
pub(crate) mod hkdf;
pub(crate) mod mac;
pub(crate) mod random;
mod store_key;
pub(crate) mod x25519;

pub(crate) use hash::{sha256, Sha256};
pub(crate) use mac::hmac_sha256;
#[cfg(test)]
pub(crate) use random::seed_thread;
pub(crate) use random::{fill_random, random_array};
pub use store_key::{KdfParams, StoreKey};
pub(crate) use store_key::{Sealer, SEAL_OVERHEAD};

/// Padmé padding (Nikitin et al., 2019): the size a blob of `len` bytes is padded to.
/// Leaks O(log log len) bits of the length and costs at most ~12% overhead.
pub(crate) fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2(len))
    let s = usize::BITS - 1 - (e as usize).leading_zeros() + 1; // floor(log2(e)) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_matches_the_paper() {
        assert_eq!(padme(0), 0);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        for len in 1..5000 {
            let p = padme(len);
            assert!(p >= len && p <= len + len / 8 + 1, "{len} -> {p}");
        }
    }
}
