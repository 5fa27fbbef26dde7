//! ChaCha20-Poly1305 with ring, as Caravan uses it: every key seals exactly one
//! message, so the nonce is fixed at all zeros.

use ring::aead;

use crate::error::{Error, Result};

/// Length of the authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// A ChaCha20-Poly1305 key for exactly one message (the nonce is all zeros). Its
/// `Debug` output never shows the key.
pub(crate) struct AeadKey(aead::LessSafeKey);

fn zero_nonce() -> aead::Nonce {
    aead::Nonce::assume_unique_for_key([0; 12])
}

impl AeadKey {
    /// Wraps 32 key bytes.
    pub(crate) fn new(key: &[u8; 32]) -> AeadKey {
        match aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key) {
            Ok(k) => AeadKey(aead::LessSafeKey::new(k)),
            Err(_) => unreachable!("ChaCha20-Poly1305 keys are 32 bytes"),
        }
    }

    /// Encrypts `in_out` in place, authenticating `aad` too; returns the tag.
    pub(crate) fn seal_in_place(&self, aad: &[u8], in_out: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .0
            .seal_in_place_separate_tag(zero_nonce(), aead::Aad::from(aad), in_out)
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Encrypts `in_out` in place and appends the tag.
    pub(crate) fn seal_append_tag(&self, aad: &[u8], in_out: &mut Vec<u8>) -> Result<()> {
        let tag = self.seal_in_place(aad, in_out)?;
        in_out.extend_from_slice(&tag);
        Ok(())
    }

    /// Decrypts `ciphertext ‖ tag` in place; the length of the plaintext (now at the
    /// front of `in_out`), or `None` if it does not authenticate with `aad`.
    pub(crate) fn open_in_place(&self, aad: &[u8], in_out: &mut [u8]) -> Option<usize> {
        self.0
            .open_in_place(zero_nonce(), aead::Aad::from(aad), in_out)
            .ok()
            .map(|plain| plain.len())
    }
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_bound_to_the_associated_data() {
        let key = AeadKey::new(&[3u8; 32]);
        let mut buf = b"hello".to_vec();
        key.seal_append_tag(b"ad", &mut buf).expect("seal");
        assert_eq!(buf.len(), 5 + TAG_LEN);
        let mut wrong = buf.clone();
        assert_eq!(key.open_in_place(b"other", &mut wrong), None);
        assert_eq!(key.open_in_place(b"ad", &mut buf), Some(5));
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(format!("{key:?}"), "AeadKey(<redacted>)");
    }
}
