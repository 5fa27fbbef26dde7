//! A device's long-term Ed25519 identity, and signatures on the changes it authors.
//!
//! The Automerge actor id of a device is the first 16 bytes of SHA-256 of its public
//! key, so every change names its author. Each change a device authors is signed:
//! `Ed25519(device key, "caravan/change/v1" ‖ case id ‖ change hash)`. The change hash
//! is SHA-256 over the change's bytes, so the signature covers the content, and it
//! stays valid when the change is forwarded by anyone.

use std::fmt;

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::CaseId;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A device's public identity: its Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub [u8; PUBLIC_KEY_LEN]);

impl DeviceId {
    /// The Automerge actor id this device writes with.
    pub fn actor(&self) -> [u8; 16] {
        let d = ring::digest::digest(&ring::digest::SHA256, &self.0);
        let mut a = [0u8; 16];
        a.copy_from_slice(&d.as_ref()[..16]);
        a
    }

    /// Short hex form for display.
    pub fn short(&self) -> String {
        CaseId(self.actor()).short()
    }

    /// Whether Caravan accepts this as a device key: the canonical encoding of a curve
    /// point that is not of small order (docs/protocol.md section 7). With a key of
    /// small order anybody can make signatures that verify, so such a key never enters
    /// the membership and never verifies anything.
    pub fn is_acceptable(&self) -> bool {
        super::signatures::device_key_point(&self.0).is_some()
    }

    /// Verifies a signature by this device over `message` (RFC 8032's equation, with
    /// ring); `false` for a key that is not [acceptable](Self::is_acceptable).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.is_acceptable()
            && signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
                .verify(message, sig)
                .is_ok()
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

/// The private half: the device's signing key (PKCS#8), kept in the encrypted store.
pub struct DeviceIdentity {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Ed25519KeyPair,
}

impl DeviceIdentity {
    /// A new random identity.
    pub fn generate() -> Result<DeviceIdentity> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| Error::Internal("could not generate a device key".into()))?;
        DeviceIdentity::from_pkcs8(doc.as_ref())
    }

    /// Loads an identity from its PKCS#8 bytes.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<DeviceIdentity> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes)
            .map_err(|_| Error::corrupted("device identity", "the device key does not parse"))?;
        Ok(DeviceIdentity {
            pkcs8: Zeroizing::new(bytes.to_vec()),
            pair,
        })
    }

    /// A deterministic key pair from a 32-byte seed (used for one-time invitation keys).
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Result<DeviceIdentity> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| Error::Internal("invalid seed".into()))?;
        Ok(DeviceIdentity {
            pkcs8: Zeroizing::new(Vec::new()),
            pair,
        })
    }

    /// The PKCS#8 bytes, for storing encrypted.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public identity.
    pub fn id(&self) -> DeviceId {
        let mut pk = [0u8; PUBLIC_KEY_LEN];
        pk.copy_from_slice(self.pair.public_key().as_ref());
        DeviceId(pk)
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// This device's static X25519 secret (for receiving group keys while offline).
    pub(crate) fn x25519(&self) -> super::keywrap::X25519Secret {
        super::keywrap::X25519Secret::derive(&self.pkcs8)
    }

    /// Signs that this device authored the change `hash` of case `case`.
    pub fn sign_change(&self, case: &CaseId, hash: &[u8; 32]) -> [u8; SIGNATURE_LEN] {
        self.sign(&change_message(case, hash))
    }
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceIdentity({}, <private key redacted>)",
            self.id().short()
        )
    }
}

/// The message a change signature covers.
pub(crate) fn change_message(case: &CaseId, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(17 + 16 + 32);
    m.extend_from_slice(b"caravan/change/v1");
    m.extend_from_slice(&case.0);
    m.extend_from_slice(hash);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_signatures_bind_case_and_hash() {
        let me = DeviceIdentity::generate().expect("id");
        let case = CaseId([1; 16]);
        let sig = me.sign_change(&case, &[7; 32]);
        assert!(me.id().verify(&change_message(&case, &[7; 32]), &sig));
        assert!(!me.id().verify(&change_message(&case, &[8; 32]), &sig));
        assert!(!me
            .id()
            .verify(&change_message(&CaseId([2; 16]), &[7; 32]), &sig));
        let again = DeviceIdentity::from_pkcs8(me.pkcs8()).expect("reload");
        assert_eq!(again.id(), me.id());
        assert!(format!("{me:?}").contains("redacted"));
    }
}
