//! X25519 agreement: static secrets with x25519-dalek (ring only has ephemeral
//! X25519; docs/decisions/0011-membership-log.md) and ephemeral ones with ring.

use ring::agreement;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A static X25519 secret. Zeroized on drop; its `Debug` output never shows it.
pub(crate) struct X25519StaticSecret(StaticSecret);

impl X25519StaticSecret {
    /// The secret of 32 bytes (clamped as X25519 does).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> X25519StaticSecret {
        X25519StaticSecret(StaticSecret::from(*bytes))
    }

    /// The public half.
    pub(crate) fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }

    /// `X25519(secret, peer)`; `None` when the result is not contributory (the peer's
    /// key is of small order and the shared secret is all zeros).
    pub(crate) fn agree(&self, peer: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        let shared = self.0.diffie_hellman(&PublicKey::from(*peer));
        if !shared.was_contributory() {
            return None;
        }
        Some(Zeroizing::new(*shared.as_bytes()))
    }
}

impl std::fmt::Debug for X25519StaticSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X25519StaticSecret(<redacted>)")
    }
}

/// The result of an ephemeral agreement: the ephemeral public key to send, and the
/// shared secret (zeroized on drop, never printed).
pub(crate) struct Ephemeral {
    /// The ephemeral public key.
    pub(crate) public: [u8; 32],
    /// `X25519(ephemeral secret, peer)`.
    pub(crate) shared: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Ephemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ephemeral(<redacted>)")
    }
}

/// A fresh ephemeral X25519 key pair agreed with `peer` (ring). `Ok(None)` when ring
/// refuses the peer's key or the result; an error when the system random generator
/// fails.
pub(crate) fn agree_ephemeral(peer: &[u8; 32]) -> Result<Option<Ephemeral>> {
    #[cfg(test)]
    if super::random::thread_seeded() {
        // Test vectors of whole sessions: an ephemeral secret from the seeded bytes.
        let eph = X25519StaticSecret::from_bytes(&super::random::random_array()?);
        let public = eph.public();
        return Ok(eph.agree(peer).map(|shared| Ephemeral { public, shared }));
    }
    let rng = ring::rand::SystemRandom::new();
    let eph = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng)
        .map_err(|_| Error::Internal("the system random generator failed".into()))?;
    let public: [u8; 32] = eph
        .compute_public_key()
        .map_err(|_| Error::Internal("x25519 public key".into()))?
        .as_ref()
        .try_into()
        .map_err(|_| Error::Internal("x25519 public key length".into()))?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
    let shared = agreement::agree_ephemeral(eph, &peer, |shared| {
        let mut out = Zeroizing::new([0u8; 32]);
        if shared.len() != out.len() {
            return None;
        }
        out.copy_from_slice(shared);
        Some(out)
    });
    Ok(shared
        .ok()
        .flatten()
        .map(|shared| Ephemeral { public, shared }))
}
