//! HMAC-SHA256, with ring.

use ring::hmac;

/// An HMAC-SHA256 key, for computing many tags under one key. Its `Debug` output never
/// shows the key.
pub(crate) struct HmacKey(hmac::Key);

impl HmacKey {
    /// A key of any length (HMAC hashes a key longer than the block).
    pub(crate) fn new(key: &[u8]) -> HmacKey {
        HmacKey(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// `HMAC-SHA256(key, message)`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.0, message).as_ref());
        out
    }

    /// Whether `tag` is `HMAC-SHA256(key, message)`, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

/// `HMAC-SHA256(key, message)`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    HmacKey::new(key).sign(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            crate::codec::hex_encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = HmacKey::new(b"Jefe");
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for nothing!", &tag));
        assert_eq!(format!("{key:?}"), "HmacKey(<redacted>)");
    }
}
