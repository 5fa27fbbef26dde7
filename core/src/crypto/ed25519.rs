//! Ed25519 key pairs, signing and RFC 8032 verification, with ring. (The cofactored
//! verification of change signatures and the rule for acceptable keys are in
//! [`super::cofactored`].)

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An Ed25519 key pair. Its `Debug` output shows only the public key.
pub(crate) struct SigningKey(Ed25519KeyPair);

/// A new random Ed25519 key, as PKCS#8 bytes.
pub(crate) fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>> {
    #[cfg(test)]
    if super::random::thread_seeded() {
        // Test vectors of whole sessions: the key of a seeded seed, as ring's PKCS#8 v2.
        let seed: [u8; 32] = super::random::random_array()?;
        let public = SigningKey::from_seed(&seed)
            .ok_or_else(|| Error::Internal("seed".into()))?
            .public_key();
        let mut doc = vec![
            0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        doc.extend_from_slice(&seed);
        doc.extend_from_slice(&[0x81, 0x21, 0x00]);
        doc.extend_from_slice(&public);
        return Ok(Zeroizing::new(doc));
    }
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::Internal("could not generate a device key".into()))?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

impl SigningKey {
    /// Loads a key pair from PKCS#8 bytes; `None` if they do not parse.
    pub(crate) fn from_pkcs8(bytes: &[u8]) -> Option<SigningKey> {
        Ed25519KeyPair::from_pkcs8(bytes).ok().map(SigningKey)
    }

    /// The key pair of a 32-byte seed (RFC 8032's private key); `None` if ring refuses it.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Option<SigningKey> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .ok()
            .map(SigningKey)
    }

    /// The public key.
    pub(crate) fn public_key(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.0.public_key().as_ref());
        pk
    }

    /// The (deterministic) signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.0.sign(message).as_ref());
        out
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey({}, <private key redacted>)",
            crate::codec::hex_encode(&self.public_key())
        )
    }
}

/// Whether `sig` is a signature of `message` by `public` under RFC 8032's equation
/// (ring). This alone accepts keys of small order: callers check the key with
/// [`super::cofactored::acceptable_key`] first.
pub(crate) fn verify(public: &[u8; 32], message: &[u8], sig: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::ED25519, public)
        .verify(message, sig)
        .is_ok()
}
