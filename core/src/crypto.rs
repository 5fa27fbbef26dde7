//! Cryptographic building blocks, kept in one small module so the rest of the crate
//! never touches raw primitives (the bitwarden "hazmat" pattern).
//!
//! - Keys are [`StoreKey`]s: 32 bytes, zeroized on drop, never printed.
//! - Every sealed blob gets its own key: `HKDF-SHA256(prk, info = label ‖ context ‖ salt)`
//!   with a fresh 16-byte random salt, then ChaCha20-Poly1305 with a fixed all-zero
//!   nonce (safe because each key seals exactly one message). This avoids the 2^32
//!   message limit of random 96-bit nonces and nonce reuse after a backup restore.
//! - The context is also the AEAD's associated data, so a blob sealed for one purpose
//!   does not open for another.

use std::fmt;

use ring::{aead, hkdf, hmac, rand::SecureRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of the random salt in front of every sealed blob.
pub(crate) const SALT_LEN: usize = 16;
/// Length of the AEAD tag at the end of every sealed blob.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a sealed blob adds to its plaintext.
pub(crate) const SEAL_OVERHEAD: usize = SALT_LEN + TAG_LEN;

/// Fills an array with bytes from the operating system's secure random generator.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| Error::Internal("the system random generator failed".into()))?;
    Ok(out)
}

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
        let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
            .map_err(|e| Error::invalid("kdf parameters", e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &kdf.salt, out.as_mut())
            .map_err(|e| Error::Internal(format!("argon2id failed: {e}")))?;
        Ok(StoreKey(out))
    }

    /// The keys used to seal and open blobs for one store.
    pub(crate) fn sealer(&self, domain: &[u8]) -> Sealer {
        Sealer {
            prk: hkdf::Salt::new(hkdf::HKDF_SHA256, domain).extract(self.0.as_ref()),
        }
    }

    /// A key-check value: HMAC-SHA256 under a key derived for that purpose alone.
    pub(crate) fn check_value(&self, domain: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.check_key(), domain);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Verifies a key-check value in constant time.
    pub(crate) fn verify_check_value(&self, domain: &[u8], expected: &[u8]) -> bool {
        hmac::verify(&self.check_key(), domain, expected).is_ok()
    }

    fn check_key(&self) -> hmac::Key {
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"caravan/key-check/v1").extract(self.0.as_ref());
        let okm = prk.expand(&[b"key-check"], hmac::HMAC_SHA256);
        match okm {
            Ok(okm) => hmac::Key::from(okm),
            // 32 bytes is always a valid HKDF-SHA256 output length.
            Err(_) => unreachable!("HKDF-SHA256 can expand to 32 bytes"),
        }
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
    prk: hkdf::Prk,
}

impl Sealer {
    fn blob_key(&self, context: &[u8], salt: &[u8]) -> aead::LessSafeKey {
        let info = [b"caravan/blob/v1".as_slice(), context, salt];
        match self.prk.expand(&info, &aead::CHACHA20_POLY1305) {
            Ok(okm) => aead::LessSafeKey::new(aead::UnboundKey::from(okm)),
            Err(_) => unreachable!("HKDF-SHA256 can expand to 32 bytes"),
        }
    }

    /// Seals `plaintext`; the output is `salt ‖ ciphertext ‖ tag`.
    pub(crate) fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let salt: [u8; SALT_LEN] = random_array()?;
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.extend_from_slice(&salt);
        out.extend_from_slice(plaintext);
        let key = self.blob_key(context, &salt);
        let tag = key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key([0u8; 12]),
                aead::Aad::from(context),
                &mut out[SALT_LEN..],
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a blob made by [`Sealer::seal`] with the same context; `None` if it does
    /// not authenticate (wrong key, wrong context, or any modified byte).
    pub(crate) fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (salt, rest) = sealed.split_at(SALT_LEN);
        let key = self.blob_key(context, salt);
        let mut buf = rest.to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key([0u8; 12]),
                aead::Aad::from(context),
                &mut buf,
            )
            .ok()?;
        let len = plain.len();
        buf.truncate(len);
        Some(buf)
    }
}

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
        let cv = a.check_value(b"store");
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
