//! A device's long-term Ed25519 identity, and signatures on the changes it authors.
//!
//! The Automerge actor id of a device is the first 16 bytes of SHA-256 of its public
//! key, so every change names its author. Each change a device authors is signed:
//! `Ed25519(device key, "caravan/change/v1" ‖ case id ‖ change hash)`. The change hash
//! is SHA-256 over the change's bytes, so the signature covers the content, and it
//! stays valid when the change is forwarded by anyone.

use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::hkdf::Prk;
use crate::crypto::x25519::X25519StaticSecret;
use crate::error::{Error, Result};
use crate::ids::CaseId;

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
        let d = crate::crypto::sha256(&self.0);
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[..16]);
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
        crate::crypto::cofactored::acceptable_key(&self.0)
    }

    /// Verifies a signature by this device over `message` (RFC 8032's equation, with
    /// ring); `false` for a key that is not [acceptable](Self::is_acceptable).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.is_acceptable() && ed25519::verify(&self.0, message, sig)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

/// The private half: the device's signing key (PKCS#8), kept in the encrypted store,
/// and the static X25519 secret derived from it.
pub struct DeviceIdentity {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: SigningKey,
    x25519: X25519Secret,
}

impl DeviceIdentity {
    /// A new random identity.
    pub fn generate() -> Result<DeviceIdentity> {
        let doc = ed25519::generate_pkcs8()?;
        DeviceIdentity::from_pkcs8(&doc)
    }

    /// Loads an identity from its PKCS#8 bytes.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<DeviceIdentity> {
        let pair = SigningKey::from_pkcs8(bytes)
            .ok_or_else(|| Error::corrupted("device identity", "the device key does not parse"))?;
        Ok(DeviceIdentity {
            x25519: X25519Secret::derive(bytes)?,
            pkcs8: Zeroizing::new(bytes.to_vec()),
            pair,
        })
    }

    /// A deterministic key pair from a 32-byte seed (used for one-time invitation keys).
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Result<DeviceIdentity> {
        let pair =
            SigningKey::from_seed(seed).ok_or_else(|| Error::Internal("invalid seed".into()))?;
        Ok(DeviceIdentity {
            // As before: derived from the (empty) PKCS#8 bytes of a seeded identity.
            x25519: X25519Secret::derive(&[])?,
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
        DeviceId(self.pair.public_key())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.pair.sign(message)
    }

    /// This device's static X25519 secret (for receiving group keys while offline),
    /// derived from its PKCS#8 bytes.
    pub(crate) fn x25519(&self) -> &X25519Secret {
        &self.x25519
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

/// A device's static X25519 secret, derived from its identity. Zeroized on drop.
pub(crate) struct X25519Secret(X25519StaticSecret);

impl X25519Secret {
    /// Derives the secret from the device's PKCS#8 identity bytes.
    pub(crate) fn derive(pkcs8: &[u8]) -> Result<X25519Secret> {
        let seed = Prk::extract(b"caravan/x25519/v1", pkcs8).expand::<32>(&[b"static"])?;
        Ok(X25519Secret(X25519StaticSecret::from_bytes(&seed)))
    }

    /// The public half, to publish in the membership log.
    pub(crate) fn public(&self) -> [u8; 32] {
        self.0.public()
    }

    /// The X25519 agreement with `peer`; `None` for a non-contributory (low-order) key.
    pub(crate) fn agree(&self, peer: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        self.0.agree(peer)
    }
}

impl fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519Secret(<redacted>)")
    }
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
