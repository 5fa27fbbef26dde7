//! The store's key, its Argon2id parameters, and the sealing of store blobs.
//!
//! - Keys are [`StoreKey`]s: 32 bytes, zeroized on drop, never printed.
//! - Every sealed blob gets its own key: `HKDF-SHA256(prk, info = label ‖ context ‖ salt)`
//!   with a fresh 16-byte random salt, then ChaCha20-Poly1305 with a fixed all-zero
//!   nonce (safe because each key seals exactly one message). This avoids the 2^32
//!   message limit of random 96-bit nonces and nonce reuse after a backup restore.
//! - The context is also the AEAD's associated data, so a blob sealed for one purpose
//!   does not open for another.

use std::fmt;

use zeroize::Zeroizing;

use super::aead::AeadKey;
use super::argon2id::Argon2id;
use super::hkdf::Prk;
use super::mac::HmacKey;
use super::random::random_array;
use crate::error::{Error, Result};

/// Length of the random salt in front of every sealed blob.
pub(crate) const SALT_LEN: usize = 16;
/// Length of the AEAD tag at the end of every sealed blob.
pub(crate) const TAG_LEN: usize = super::aead::TAG_LEN;
/// Bytes a sealed blob adds to its plaintext.
pub(crate) const SEAL_OVERHEAD: usize = SALT_LEN + TAG_LEN;

/// A 32-byte symmetric key that opens a store (from the platform keystore, or derived
/// from a passphrase). Zeroized when dropped; its `Debug` output never shows the bytes.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// Wraps exactly 32 key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid("store key", "a store key is exactly 32 bytes"))?;
        Ok(StoreKey(Zeroizing::new(arr)))
    }

    /// A fresh random key (for apps that keep it in the Android Keystore / iOS Keychain).
    pub fn generate() -> Result<StoreKey> {
        Ok(StoreKey(Zeroizing::new(random_array()?)))
    }

    /// The key bytes, for handing to a platform keystore.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Derives a key from a passphrase with Argon2id.
    pub fn from_passphrase(passphrase: &str, kdf: &KdfParams) -> Result<StoreKey> {
        if passphrase.is_empty() {
            return Err(Error::invalid("passphrase", "the passphrase is empty"));
        }
        let argon = Argon2id::new(
            kdf.memory_kib,
            kdf.iterations,
            kdf.parallelism,
            32,
            "kdf parameters",
        )?;
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_into(passphrase.as_bytes(), &kdf.salt, out.as_mut())?;
        Ok(StoreKey(out))
    }

    /// The keys used to seal and open blobs for one store.
    pub(crate) fn sealer(&self, domain: &[u8]) -> Sealer {
        Sealer {
            prk: Prk::extract(domain, self.0.as_ref()),
        }
    }

    /// A key-check value: HMAC-SHA256 under a key derived for that purpose alone.
    pub(crate) fn check_value(&self, domain: &[u8]) -> Result<[u8; 32]> {
        Ok(self.check_key()?.sign(domain))
    }

    /// Verifies a key-check value in constant time (`false` also if the check key
    /// cannot be derived).
    pub(crate) fn verify_check_value(&self, domain: &[u8], expected: &[u8]) -> bool {
        self.check_key()
            .is_ok_and(|key| key.verify(domain, expected))
    }

    fn check_key(&self) -> Result<HmacKey> {
        let okm =
            Prk::extract(b"caravan/key-check/v1", self.0.as_ref()).expand::<32>(&[b"key-check"])?;
        Ok(HmacKey::new(okm.as_ref()))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// Argon2id parameters for deriving a store key from a passphrase; stored in the clear
/// in the store header so the same key can be derived again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Random salt (16 bytes).
    #[serde(with = "serde_bytes")]
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// Minimum memory accepted: below this a passphrase is too cheap to guess.
    pub const MIN_MEMORY_KIB: u32 = 8 * 1024;

    /// The default: Argon2id with 64 MiB, 3 passes, 1 lane (OWASP's recommendation
    /// band; about 0.2–0.5 s on a laptop), and a fresh salt.
    pub fn recommended() -> Result<KdfParams> {
        KdfParams::with_memory_mib(64)
    }

    /// Like [`KdfParams::recommended`] with another memory cost (at least 8 MiB).
    pub fn with_memory_mib(mib: u32) -> Result<KdfParams> {
        let memory_kib = mib.saturating_mul(1024);
        if memory_kib < Self::MIN_MEMORY_KIB {
            return Err(Error::invalid("kdf memory", "use at least 8 MiB"));
        }
        Ok(KdfParams {
            memory_kib,
            iterations: 3,
            parallelism: 1,
            salt: random_array::<16>()?.to_vec(),
        })
    }
}

/// Seals and opens blobs under per-blob keys derived from one root key.
pub(crate) struct Sealer {
    prk: Prk,
}

impl Sealer {
    fn blob_key(&self, context: &[u8], salt: &[u8]) -> Result<AeadKey> {
        self.prk
            .expand_aead_key(&[b"caravan/blob/v1".as_slice(), context, salt])
    }

    /// Seals `plaintext`; the output is `salt ‖ ciphertext ‖ tag`.
    pub(crate) fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let salt: [u8; SALT_LEN] = random_array()?;
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.extend_from_slice(&salt);
        out.extend_from_slice(plaintext);
        let key = self.blob_key(context, &salt)?;
        let tag = key.seal_in_place(context, &mut out[SALT_LEN..])?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a blob made by [`Sealer::seal`] with the same context; `None` if it does
    /// not authenticate (wrong key, wrong context, or any modified byte).
    pub(crate) fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (salt, rest) = sealed.split_at(SALT_LEN);
        let key = self.blob_key(context, salt).ok()?;
        let mut buf = rest.to_vec();
        let len = key.open_in_place(context, &mut buf)?;
        buf.truncate(len);
        Some(buf)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let key = StoreKey::generate().expect("key");
        let sealer = key.sealer(b"store-1");
        let sealed = sealer.seal(b"frame", b"hello case").expect("seal");
        assert_eq!(
            sealer.open(b"frame", &sealed).as_deref(),
            Some(&b"hello case"[..])
        );
        assert!(sealer.open(b"index", &sealed).is_none(), "context is bound");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                sealer.open(b"frame", &bad).is_none(),
                "bit flip at {i} detected"
            );
        }
        let other = StoreKey::generate().expect("key").sealer(b"store-1");
        assert!(other.open(b"frame", &sealed).is_none());
    }

    #[test]
    fn key_check_values_verify_only_with_the_same_key() {
        let a = StoreKey::generate().expect("key");
        let b = StoreKey::generate().expect("key");
        let cv = a.check_value(b"store").expect("check value");
        assert!(a.verify_check_value(b"store", &cv));
        assert!(!b.verify_check_value(b"store", &cv));
        assert_eq!(format!("{a:?}"), "StoreKey(<redacted>)");
    }

    #[test]
    fn passphrase_derivation_is_deterministic_per_salt() {
        let params = KdfParams::with_memory_mib(8).expect("params");
        let k1 = StoreKey::from_passphrase("correct horse", &params).expect("kdf");
        let k2 = StoreKey::from_passphrase("correct horse", &params).expect("kdf");
        let k3 = StoreKey::from_passphrase("correct horsf", &params).expect("kdf");
        assert_eq!(k1.expose_bytes(), k2.expose_bytes());
        assert_ne!(k1.expose_bytes(), k3.expose_bytes());
        assert!(KdfParams::with_memory_mib(4).is_err());
    }
}
