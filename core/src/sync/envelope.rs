//! The encrypted envelope every sync message travels in.
//!
//! ```text
//! envelope = CBOR array(7) [ version: uint = 1, suite: uint = 1, tag: bstr(16),
//!                            epoch: uint, salt: bstr(16), commit: bstr(32), ciphertext: bstr ]
//! ```
//!
//! The first six items (and the array head) are the clear header and the AEAD's
//! associated data. Nothing in them identifies a group, a device or a case: `tag` is an
//! opaque routing tag derived from the group key, `salt` is random per message.
//!
//! Suite 1: `prk = HKDF-SHA256-Extract(salt, epoch key)`;
//! `key = Expand(prk, "caravan/envelope/v1/key", 32)`;
//! `commit = Expand(prk, "caravan/envelope/v1/commit", 32)`; ChaCha20-Poly1305 with
//! `key`, an all-zero nonce (one key per message) and the header as associated data.
//! `commit` is a key commitment, compared in constant time before decrypting.
//! The plaintext is `u32 LE length ‖ message ‖ zero padding` to the Padmé size.
//!
//! Decoding is strict: definite lengths only, shortest-form integers, exact sizes for
//! fixed fields, no trailing bytes, a size limit checked before anything is sliced.

// Its `pub` items are the fuzz targets' API (feature `fuzz`); without the feature the
// module is crate-private.
#![cfg_attr(not(feature = "fuzz"), allow(unreachable_pub))]

use zeroize::Zeroizing;

use crate::crypto::aead::AeadKey;
use crate::crypto::hkdf::Prk;
use crate::crypto::{hmac_sha256, padme};
use crate::error::{Error, Result};

/// Protocol version of the envelope.
pub const VERSION: u64 = 1;
/// Cipher suite 1: HKDF-SHA256, ChaCha20-Poly1305, Ed25519, Padmé padding.
pub const SUITE: u64 = 1;
/// The largest envelope accepted.
pub const MAX_ENVELOPE: usize = 64 << 20;

/// A group's symmetric key for one epoch. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct EpochKey {
    /// The epoch this key belongs to.
    pub epoch: u32,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKey(epoch {}, <redacted>)", self.epoch)
    }
}

impl EpochKey {
    /// Wraps key bytes for an epoch.
    pub fn new(epoch: u32, key: [u8; 32]) -> EpochKey {
        EpochKey {
            epoch,
            key: Zeroizing::new(key),
        }
    }

    /// A fresh random key.
    pub fn generate(epoch: u32) -> Result<EpochKey> {
        Ok(EpochKey::new(epoch, crate::crypto::random_array()?))
    }

    /// The key bytes (for storing encrypted, and for test vectors).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The opaque routing tag of messages under this key:
    /// `HMAC-SHA256(key, "caravan/route/v1" ‖ epoch as u32 BE)[..16]`.
    pub fn routing_tag(&self) -> [u8; 16] {
        let mut msg = b"caravan/route/v1".to_vec();
        msg.extend_from_slice(&self.epoch.to_be_bytes());
        let tag = hmac_sha256(self.key.as_ref(), &msg);
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        out
    }

    fn derive(&self, salt: &[u8; 16]) -> Result<(AeadKey, [u8; 32])> {
        let prk = Prk::extract(salt, self.key.as_ref());
        let key = prk.expand_aead_key(&[b"caravan/envelope/v1/key"])?;
        let commit = prk.expand::<32>(&[b"caravan/envelope/v1/commit"])?;
        Ok((key, *commit))
    }
}

/// The clear header of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: u64,
    /// Cipher suite.
    pub suite: u64,
    /// Opaque routing tag.
    pub tag: [u8; 16],
    /// Key epoch.
    pub epoch: u32,
    /// Random per-message salt.
    pub salt: [u8; 16],
    /// Key commitment.
    pub commit: [u8; 32],
}

/// A strictly parsed envelope, borrowing the input.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The clear header.
    pub header: Header,
    /// The associated data (the encoded header).
    pub aad: &'a [u8],
    /// The ciphertext with its tag.
    pub ciphertext: &'a [u8],
}

/// Seals `message` under `key` into an envelope.
pub fn seal(key: &EpochKey, message: &[u8]) -> Result<Vec<u8>> {
    let salt: [u8; 16] = crate::crypto::random_array()?;
    seal_with_salt(key, message, salt)
}

/// Like [`seal`] with a given salt: for test vectors and independent implementations
/// only. Reusing a salt under one key breaks confidentiality; [`seal`] never does.
pub fn seal_with_salt(key: &EpochKey, message: &[u8], salt: [u8; 16]) -> Result<Vec<u8>> {
    let (aead_key, commit) = key.derive(&salt)?;
    let mut out = Vec::with_capacity(message.len() + 128);
    out.push(0x87); // array(7)
    put_uint(&mut out, VERSION);
    put_uint(&mut out, SUITE);
    put_bytes(&mut out, &key.routing_tag());
    put_uint(&mut out, u64::from(key.epoch));
    put_bytes(&mut out, &salt);
    put_bytes(&mut out, &commit);
    let aad_len = out.len();
    let padded = padme(4 + message.len());
    let mut plain = Vec::with_capacity(padded + 16);
    plain.extend_from_slice(&(message.len() as u32).to_le_bytes());
    plain.extend_from_slice(message);
    plain.resize(padded, 0);
    let tag = aead_key.seal_in_place(&out[..aad_len], &mut plain)?;
    plain.extend_from_slice(&tag);
    if plain.len() > MAX_ENVELOPE {
        return Err(Error::invalid(
            "message",
            "too large for one envelope; split it",
        ));
    }
    put_head(&mut out, 2, plain.len() as u64);
    out.extend_from_slice(&plain);
    Ok(out)
}

/// At most this many envelopes in one message (key updates and the main envelope).
const MAX_ENVELOPES: usize = 1024;

/// Splits a message into its envelopes: a bundle or live message is one envelope, or
/// after a key rotation several back to back (`docs/protocol.md`, "Key updates"). Only
/// the lengths are read here; each part is then parsed strictly with [`parse`].
pub fn split(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == MAX_ENVELOPES {
            return Err(Error::rejected("too many envelopes in one message"));
        }
        let mut r = Reader {
            bytes: rest,
            pos: 0,
        };
        read_header(&mut r)?;
        let ct_len = usize::try_from(r.head(2)?)
            .map_err(|_| Error::rejected("envelope larger than the limit"))?;
        let end = r
            .pos
            .checked_add(ct_len)
            .filter(|e| *e <= rest.len())
            .ok_or_else(|| Error::rejected("truncated envelope"))?;
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    if out.is_empty() {
        return Err(Error::rejected("empty message"));
    }
    Ok(out)
}

/// Reads the clear header (the array head and its first six items) strictly.
fn read_header(r: &mut Reader<'_>) -> Result<Header> {
    if r.byte()? != 0x87 {
        return Err(Error::rejected("not a caravan envelope"));
    }
    let version = r.uint()?;
    let suite = r.uint()?;
    if version != VERSION || suite != SUITE {
        return Err(Error::UnsupportedMessage { version, suite });
    }
    let tag = r.fixed::<16>()?;
    let epoch = u32::try_from(r.uint()?).map_err(|_| Error::rejected("epoch out of range"))?;
    let salt = r.fixed::<16>()?;
    let commit = r.fixed::<32>()?;
    Ok(Header {
        version,
        suite,
        tag,
        epoch,
        salt,
        commit,
    })
}

/// Parses an envelope strictly, without decrypting.
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>> {
    if bytes.len() > MAX_ENVELOPE + 256 {
        return Err(Error::rejected("envelope larger than the limit"));
    }
    let mut r = Reader { bytes, pos: 0 };
    let header = read_header(&mut r)?;
    let aad_len = r.pos;
    let ct_len = r.head(2)?;
    let remaining = (bytes.len() - r.pos) as u64;
    if ct_len != remaining {
        return Err(Error::rejected(
            "ciphertext length does not match the envelope",
        ));
    }
    if ct_len < 16 + 4 {
        return Err(Error::rejected("ciphertext too short"));
    }
    Ok(Parsed {
        header,
        aad: &bytes[..aad_len],
        ciphertext: &bytes[r.pos..],
    })
}

/// Opens a parsed envelope with `key` (whose routing tag and epoch must match).
pub fn open(parsed: &Parsed<'_>, key: &EpochKey) -> Result<Vec<u8>> {
    if parsed.header.epoch != key.epoch || parsed.header.tag != key.routing_tag() {
        return Err(Error::NotForThisDevice);
    }
    let (aead_key, commit) = key.derive(&parsed.header.salt)?;
    if !constant_time_eq(&commit, &parsed.header.commit) {
        return Err(Error::rejected("key commitment does not match"));
    }
    let mut buf = parsed.ciphertext.to_vec();
    let len = aead_key
        .open_in_place(parsed.aad, &mut buf)
        .ok_or_else(|| Error::rejected("envelope does not authenticate"))?;
    let plain = &buf[..len];
    let len = plain
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| Error::rejected("short plaintext"))? as usize;
    let body = plain
        .get(4..4 + len)
        .ok_or_else(|| Error::rejected("plaintext length"))?;
    if plain[4 + len..].iter().any(|b| *b != 0) {
        return Err(Error::rejected("non-zero padding"));
    }
    Ok(body.to_vec())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn put_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn put_uint(out: &mut Vec<u8>, n: u64) {
    put_head(out, 0, n);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| Error::rejected("envelope truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::rejected("envelope truncated"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a head of the given major type in shortest form.
    fn head(&mut self, major: u8) -> Result<u64> {
        let b = self.byte()?;
        if b >> 5 != major {
            return Err(Error::rejected("unexpected item type in envelope"));
        }
        let info = b & 0x1f;
        let (n, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.take(1)?[0]), 24),
            25 => (
                u64::from(u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]])),
                0x100,
            ),
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            _ => return Err(Error::rejected("indefinite or reserved length in envelope")),
        };
        if n < min {
            return Err(Error::rejected(
                "non-canonical integer encoding in envelope",
            ));
        }
        Ok(n)
    }

    fn uint(&mut self) -> Result<u64> {
        self.head(0)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let len = self.head(2)?;
        if len != N as u64 {
            return Err(Error::rejected("wrong field length in envelope"));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> EpochKey {
        EpochKey::new(3, [0x42; 32])
    }

    #[test]
    fn round_trip_and_padding() {
        let k = key();
        for len in [0usize, 1, 100, 1000, 70_000] {
            let msg = vec![7u8; len];
            let env = seal(&k, &msg).expect("seal");
            let parsed = parse(&env).expect("parse");
            assert_eq!(parsed.header.epoch, 3);
            assert_eq!(open(&parsed, &k).expect("open"), msg);
            // 72-byte header, a 1–5 byte length head, the padded plaintext and the tag.
            let head = if padme(4 + len) + 16 < 24 {
                1
            } else if padme(4 + len) + 16 < 256 {
                2
            } else if padme(4 + len) + 16 < 65_536 {
                3
            } else {
                5
            };
            assert_eq!(env.len(), 72 + head + padme(4 + len) + 16);
        }
        // Sizes fall into buckets: 1001 and 1010 bytes of message give the same size.
        assert_eq!(
            seal(&k, &[0; 1001]).expect("s").len(),
            seal(&k, &[0; 1010]).expect("s").len()
        );
    }

    #[test]
    fn every_bit_flip_and_truncation_is_rejected() {
        let k = key();
        let env = seal(&k, b"a small message about nothing").expect("seal");
        for i in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[i] ^= 1 << bit;
                let res = parse(&bad).and_then(|p| open(&p, &k));
                assert!(res.is_err(), "flip of bit {bit} in byte {i} accepted");
            }
        }
        for cut in 0..env.len() {
            assert!(
                parse(&env[..cut]).and_then(|p| open(&p, &k)).is_err(),
                "truncation at {cut}"
            );
        }
        let mut longer = env.clone();
        longer.push(0);
        assert!(parse(&longer).is_err(), "trailing bytes");
    }

    #[test]
    fn wrong_key_epoch_version_suite_and_encodings_are_refused() {
        let k = key();
        let env = seal(&k, b"x").expect("seal");
        let other = EpochKey::new(3, [0x43; 32]);
        assert!(matches!(
            open(&parse(&env).expect("p"), &other),
            Err(Error::NotForThisDevice)
        ));
        let mut v2 = env.clone();
        v2[1] = 0x02;
        assert!(matches!(
            parse(&v2),
            Err(Error::UnsupportedMessage { version: 2, .. })
        ));
        let mut s2 = env.clone();
        s2[2] = 0x02;
        assert!(matches!(
            parse(&s2),
            Err(Error::UnsupportedMessage { suite: 2, .. })
        ));
        // version 1 written in a longer form than needed
        let mut long = vec![0x87, 0x18, 0x01];
        long.extend_from_slice(&env[2..]);
        assert!(matches!(parse(&long), Err(Error::Rejected { .. })));
        // an oversized declared ciphertext length is refused before slicing
        let p = parse(&env).expect("p");
        let mut huge = p.aad.to_vec();
        huge.extend_from_slice(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn the_routing_tag_depends_on_key_and_epoch_only() {
        assert_eq!(key().routing_tag(), key().routing_tag());
        assert_ne!(
            key().routing_tag(),
            EpochKey::new(4, [0x42; 32]).routing_tag()
        );
        assert!(format!("{:?}", key()).contains("redacted"));
    }
}
