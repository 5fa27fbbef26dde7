//! HKDF-SHA256 (RFC 5869), with ring.
//!
//! Keys come out only on success: a failed expansion is an error, and so is an
//! all-zero output, so no caller can end up holding an all-zero or default key (a
//! copy of this helper once returned zeros when expansion failed).

use ring::hkdf;
use zeroize::Zeroizing;

use super::aead::AeadKey;
use crate::error::{Error, Result};

/// The largest output HKDF-SHA256 can give: 255 blocks of 32 bytes.
pub(crate) const MAX_OUTPUT: usize = 255 * 32;

/// A pseudorandom key: the result of HKDF-Extract, to expand into as many keys as
/// needed. Its `Debug` output never shows the key.
pub(crate) struct Prk(hkdf::Prk);

/// An output length for ring's `expand`.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Prk {
    /// `HKDF-SHA256-Extract(salt, ikm)`.
    pub(crate) fn extract(salt: &[u8], ikm: &[u8]) -> Prk {
        Prk(hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm))
    }

    /// `HKDF-SHA256-Expand(prk, info, N)`, `info` being the concatenation of the parts.
    /// An error when `N` is 0 or above [`MAX_OUTPUT`], and when the output is all zeros.
    pub(crate) fn expand<const N: usize>(&self, info: &[&[u8]]) -> Result<Zeroizing<[u8; N]>> {
        let mut out = Zeroizing::new([0u8; N]);
        if N == 0 || N > MAX_OUTPUT {
            return Err(Error::Internal(format!(
                "HKDF-SHA256 cannot expand to {N} bytes"
            )));
        }
        self.0
            .expand(info, Len(N))
            .and_then(|okm| okm.fill(out.as_mut()))
            .map_err(|_| Error::Internal(format!("HKDF-SHA256 cannot expand to {N} bytes")))?;
        if out.iter().all(|b| *b == 0) {
            return Err(Error::Internal("HKDF-SHA256 gave an all-zero key".into()));
        }
        Ok(out)
    }

    /// A ChaCha20-Poly1305 key: the 32 bytes of `HKDF-SHA256-Expand(prk, info, 32)`.
    pub(crate) fn expand_aead_key(&self, info: &[&[u8]]) -> Result<AeadKey> {
        let key = self.expand::<32>(info)?;
        Ok(AeadKey::new(&key))
    }
}

impl std::fmt::Debug for Prk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prk(<redacted>)")
    }
}

/// `HKDF-SHA256(salt, ikm, info)` to `N` bytes (extract, then expand); errors as in
/// [`Prk::expand`].
pub(crate) fn hkdf_sha256<const N: usize>(
    salt: &[u8],
    ikm: &[u8],
    info: &[&[u8]],
) -> Result<Zeroizing<[u8; N]>> {
    Prk::extract(salt, ikm).expand(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    /// RFC 5869, test case 1.
    #[test]
    fn hkdf_sha256_matches_rfc_5869() {
        let ikm = [0x0bu8; 22];
        let salt = unhex("000102030405060708090a0b0c");
        let info = unhex("f0f1f2f3f4f5f6f7f8f9");
        let okm = hkdf_sha256::<42>(&salt, &ikm, &[&info[..5], &info[5..]]).expect("expand");
        assert_eq!(
            crate::codec::hex_encode(okm.as_ref()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        assert_eq!(
            format!("{:?}", Prk::extract(&salt, &ikm)),
            "Prk(<redacted>)"
        );
    }

    /// What `sync/share.rs` had: an expansion that fails (here, too long an output)
    /// left its 32-byte buffer all zeros, and the zeros were used as the envelope key.
    /// Now the failure is an error and no key comes out.
    #[test]
    fn a_failed_expansion_is_an_error_never_an_all_zero_key() {
        let prk = Prk::extract(b"caravan/share/v1", &[7u8; 32]);
        let too_long = prk.expand::<{ MAX_OUTPUT + 1 }>(&[b"agreement id"]);
        assert!(
            matches!(&too_long, Err(Error::Internal(m)) if m.contains("cannot expand")),
            "{:?}",
            too_long.as_ref().map(|_| "a key")
        );
        assert!(prk.expand::<0>(&[b"agreement id"]).is_err());
        assert!(hkdf_sha256::<{ MAX_OUTPUT + 1 }>(b"s", b"k", &[b"i"]).is_err());
        // The longest output is fine, and no output of any length is all zeros.
        let longest = prk
            .expand::<MAX_OUTPUT>(&[b"agreement id"])
            .expect("longest");
        assert!(longest.iter().any(|b| *b != 0));
        for ikm in [[0u8; 32], [0xff; 32]] {
            let k = hkdf_sha256::<32>(b"", &ikm, &[]).expect("expand");
            assert_ne!(*k, [0u8; 32]);
        }
        // The envelope key of a share agreement is never all zeros, and a failure to
        // derive it is an error (`Agreement::envelope_key` returns a `Result`).
        let key =
            hkdf_sha256::<32>(b"caravan/share/v1", &[0u8; 32], &[&[0u8; 16]]).expect("expand");
        assert_ne!(*key, [0u8; 32]);
    }
}
