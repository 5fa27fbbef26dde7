//! SHA-256 (and the SHA-512 that Ed25519 verification needs), with ring.

use ring::digest;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// An incremental SHA-256: [`Sha256::update`] with each part, then
/// [`Sha256::finish`].
#[derive(Clone)]
pub(crate) struct Sha256(digest::Context);

impl Sha256 {
    /// A hash of nothing yet.
    pub(crate) fn new() -> Sha256 {
        Sha256(digest::Context::new(&digest::SHA256))
    }

    /// Appends `data` to what is hashed.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The SHA-256 of everything appended.
    pub(crate) fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256")
    }
}

/// SHA-512 over the concatenation of `parts` (Ed25519's challenge hash).
pub(crate) fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = digest::Context::new(&digest::SHA512);
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(h.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_180_and_the_incremental_form() {
        assert_eq!(
            crate::codec::hex_encode(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Sha256::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), sha256(b"abc"));
        assert_eq!(
            crate::codec::hex_encode(&sha512(&[b"a", b"bc"])[..8]),
            "ddaf35a193617aba"
        );
    }
}
