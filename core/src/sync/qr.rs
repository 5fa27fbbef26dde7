//! Framing of a bundle into QR codes: split on the showing phone, reassemble on the
//! scanning phone.
//!
//! A bundle (opaque, already encrypted bytes) is cut into numbered **frames** of at
//! most `max_frame` bytes each ([`DEFAULT_MAX_FRAME`] = 1,000). The showing app puts
//! one frame in each QR code, in **binary (byte) mode**, and cycles through them; the
//! scanning app feeds every decoded code to a [`Reassembler`], in any order and with
//! any number of repeats, until [`Reassembler::is_complete`]. The core only frames:
//! rendering and scanning are the apps' job. Everything here is sans-I/O.
//!
//! # Frame layout (version 1)
//!
//! All integers are big-endian (network order).
//!
//! ```text
//! offset size field
//!      0    3 magic      "CVQ" (0x43 0x56 0x51)
//!      3    1 version    1
//!      4    8 bundle_id  first 8 bytes of SHA-256(bundle)
//!     12    2 index      u16, 0-based frame number
//!     14    2 count      u16, number of frames of the bundle
//!     16    4 total_len  u32, length of the bundle in bytes
//!     20    n payload    the bytes of the bundle carried by this frame
//!   20+n    4 check      first 4 bytes of SHA-256(bytes 0 .. 20+n of this frame)
//! ```
//!
//! A frame is therefore `24 + n` bytes ([`FRAME_OVERHEAD`] = 24).
//!
//! # Splitting
//!
//! `max_frame` must be in [`MIN_MAX_FRAME`]`..=`[`MAX_MAX_FRAME`] (64 ..= 2,953; 2,953
//! bytes is the binary capacity of a version 40 QR code at error correction level L).
//! The payload size is `P = max_frame - 24` (40 ..= 2,929). For a bundle of `L` bytes,
//! `count = max(1, ceil(L / P))`, which must be at most [`MAX_FRAMES`] (4,096; with the
//! default `max_frame` that is 3,997,696 bytes). Frame `i` carries bundle bytes
//! `i·P .. min((i+1)·P, L)`: every frame but the last carries exactly `P` bytes, the
//! last carries the remaining `1 ..= P` bytes. An empty bundle is one frame with an
//! empty payload. Splitting is deterministic: the same bundle and `max_frame` always
//! give the same frames.
//!
//! # Validating a frame
//!
//! A receiver checks, in this order, and refuses the frame at the first failure:
//!
//! 1. `24 <= frame length <= 2953`;
//! 2. magic is `"CVQ"`, then version is `1` (a later version may change the layout);
//! 3. `check` equals the first 4 bytes of SHA-256 of all preceding frame bytes;
//! 4. `1 <= count <= 4096`, `index < count`, `total_len <= count × 2929`;
//! 5. the payload length `n` fits the geometry, which also yields `P`:
//!    - `count = 1`: `n = total_len` (and `P` is taken to be `total_len`);
//!    - `index < count - 1`: `P = n`, `40 <= P <= 2929`, and
//!      `(count-1)·P < total_len <= count·P`;
//!    - `index = count - 1 > 0`: `n >= 1`, `total_len - n` is divisible by `count-1`,
//!      `P = (total_len - n) / (count-1)` satisfies `40 <= P <= 2929` and `n <= P`.
//!
//! Every valid frame thus determines the bundle's **geometry** `(bundle_id, count,
//! total_len, P)` on its own.
//!
//! # Reassembling
//!
//! The first accepted frame fixes the geometry. A later frame is refused if its
//! `bundle_id` differs (a frame of another bundle), if the rest of its geometry differs,
//! or if its index was already received with a different payload. A frame identical to
//! one already received is a harmless duplicate. A refused frame leaves the reassembler
//! unchanged, so the app reports it (or ignores it) and keeps scanning. When all `count`
//! indices are present, the bundle is the concatenation of the payloads in index order;
//! it is accepted only if the first 8 bytes of its SHA-256 equal `bundle_id`.
//!
//! Memory grows with the frames actually accepted (their payloads, never more than
//! `total_len` bytes in all, itself at most 4,096 × 2,929 bytes); nothing is
//! allocated up front from a frame's claimed `total_len`.
//!
//! # What the codes reveal
//!
//! Anyone who films the codes learns the bundle's length, its `bundle_id` (which links
//! two transfers of the same bundle) and its ciphertext, nothing more: the bundle is
//! already encrypted and authenticated by the sync layer. The `check` only detects
//! misreads; it is not a MAC.
//!
//! # Text mode
//!
//! Binary (byte) mode is preferred. For apps whose QR library only takes text,
//! [`frame_to_text`] encodes a frame in base45 (RFC 9285, as used by the EU Digital
//! COVID Certificate), whose 45 symbols are exactly the QR alphanumeric set, and
//! [`frame_from_text`] decodes it. The text is 50% longer than the frame (3 characters
//! per 2 bytes). If the library encodes it in alphanumeric mode (11 bits per 2
//! characters) the code needs only about 3% more capacity than in binary mode: a 40-L
//! code holds 4,296 characters, i.e. frames of at most 2,864 bytes instead of 2,953.
//! If it falls back to byte mode, the code needs 50% more capacity. Pass the text
//! verbatim: space is a base45 symbol and may begin the text (it never ends it).
//! Decoding is strict: only the 45 symbols (no lowercase, no whitespace other than the
//! space symbol), no group above 65,535 (3 characters) or 255 (final 2 characters),
//! no length of the form `3k + 1`, and at most 4,430 characters (a 2,953-byte frame).

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// Default upper bound on a frame's size in bytes.
pub const DEFAULT_MAX_FRAME: usize = 1000;
/// Smallest `max_frame` accepted by [`split`].
pub const MIN_MAX_FRAME: usize = 64;
/// Largest `max_frame` accepted by [`split`]: the binary capacity of a version 40-L QR code.
pub const MAX_MAX_FRAME: usize = 2953;
/// Bytes of a frame that are not payload: 20 bytes of header and 4 of check.
pub const FRAME_OVERHEAD: usize = HEADER_LEN + CHECK_LEN;
/// Largest number of frames a bundle may be split into.
pub const MAX_FRAMES: usize = 4096;

const MAGIC: [u8; 3] = *b"CVQ";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 20;
const CHECK_LEN: usize = 4;
const MIN_PAYLOAD: usize = MIN_MAX_FRAME - FRAME_OVERHEAD;
const MAX_PAYLOAD: usize = MAX_MAX_FRAME - FRAME_OVERHEAD;
const FRAME_FIELD: &str = "qr frame";
const BUNDLE_FIELD: &str = "qr bundle";
const TEXT_FIELD: &str = "qr text";

/// Splits `bundle` into frames of at most `max_frame` bytes, in index order.
///
/// Fails with [`Error::InvalidInput`] if `max_frame` is outside
/// [`MIN_MAX_FRAME`]`..=`[`MAX_MAX_FRAME`] or the bundle needs more than [`MAX_FRAMES`]
/// frames.
pub fn split(bundle: &[u8], max_frame: usize) -> Result<Vec<Vec<u8>>> {
    if !(MIN_MAX_FRAME..=MAX_MAX_FRAME).contains(&max_frame) {
        return Err(Error::invalid(
            "max_frame",
            format!("{max_frame} bytes is outside {MIN_MAX_FRAME}..={MAX_MAX_FRAME}"),
        ));
    }
    let payload_len = max_frame - FRAME_OVERHEAD;
    let count = bundle.len().div_ceil(payload_len).max(1);
    let too_large = || {
        Error::invalid(
            "bundle",
            format!(
                "{} bytes need {count} qr frames of at most {max_frame} bytes, more than \
                 {MAX_FRAMES}; use larger frames or another transport",
                bundle.len()
            ),
        )
    };
    if count > MAX_FRAMES {
        return Err(too_large());
    }
    let count = u16::try_from(count).map_err(|_| too_large())?;
    let total_len = u32::try_from(bundle.len()).map_err(|_| too_large())?;
    let bundle_id = sha256_prefix::<8>(bundle);

    let mut frames = Vec::with_capacity(usize::from(count));
    let mut chunks = bundle.chunks(payload_len);
    for index in 0..count {
        let payload = chunks.next().unwrap_or_default();
        frames.push(encode_frame(&bundle_id, index, count, total_len, payload));
    }
    Ok(frames)
}

/// Progress of a scan, returned by [`Reassembler::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Distinct frames received so far.
    pub received: usize,
    /// Number of frames of the bundle (0 before the first frame).
    pub total: usize,
    /// Whether every frame has been received.
    pub complete: bool,
    /// Whether the frame just pushed had already been received (and was ignored).
    pub duplicate: bool,
}

/// Collects the frames of one bundle, in any order, and rebuilds the bundle.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Reassembler {
    geometry: Option<Geometry>,
    payloads: BTreeMap<u16, Vec<u8>>,
}

impl Reassembler {
    /// Creates an empty reassembler, ready for the first frame of any bundle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one scanned frame; a refused frame leaves the reassembler unchanged.
    ///
    /// Fails with [`Error::InvalidInput`] (field `"qr frame"`) if the frame is damaged
    /// or malformed, belongs to a different bundle than the frames accepted so far,
    /// disagrees with them on the bundle's geometry, or repeats an index with different
    /// bytes. An exact repeat is accepted and reported with `duplicate: true`.
    pub fn push(&mut self, frame: &[u8]) -> Result<ScanProgress> {
        let parsed = parse_frame(frame).map_err(|reason| Error::invalid(FRAME_FIELD, reason))?;
        if let Some(geometry) = &self.geometry {
            if geometry.bundle_id != parsed.geometry.bundle_id {
                return Err(Error::invalid(
                    FRAME_FIELD,
                    "the frame belongs to a different bundle than the frames scanned so far",
                ));
            }
            if *geometry != parsed.geometry {
                return Err(Error::invalid(
                    FRAME_FIELD,
                    format!(
                        "the frame's count, length or frame size ({} frames, {} bytes, {} per \
                         frame) disagrees with the frames scanned so far ({} frames, {} bytes, \
                         {} per frame)",
                        parsed.geometry.count,
                        parsed.geometry.total_len,
                        parsed.geometry.payload_len,
                        geometry.count,
                        geometry.total_len,
                        geometry.payload_len
                    ),
                ));
            }
        }
        if let Some(existing) = self.payloads.get(&parsed.index) {
            if existing.as_slice() != parsed.payload {
                return Err(Error::invalid(
                    FRAME_FIELD,
                    format!(
                        "frame {} was already scanned with different content",
                        parsed.index
                    ),
                ));
            }
            return Ok(self.progress(true));
        }
        self.geometry = Some(parsed.geometry);
        self.payloads.insert(parsed.index, parsed.payload.to_vec());
        Ok(self.progress(false))
    }

    /// Whether every frame of the bundle has been received.
    pub fn is_complete(&self) -> bool {
        self.geometry
            .is_some_and(|g| self.payloads.len() == usize::from(g.count))
    }

    /// Frame indices not yet received, ascending; empty before the first frame or when complete.
    pub fn missing(&self) -> Vec<u16> {
        match &self.geometry {
            None => Vec::new(),
            Some(g) => (0..g.count)
                .filter(|index| !self.payloads.contains_key(index))
                .collect(),
        }
    }

    /// Returns the bundle once complete, after checking it against its `bundle_id`.
    ///
    /// Fails with [`Error::InvalidInput`] (field `"qr bundle"`) if frames are missing or
    /// the reassembled bytes do not hash to the bundle's identifier.
    pub fn finish(self) -> Result<Vec<u8>> {
        let Some(geometry) = self.geometry else {
            return Err(Error::invalid(BUNDLE_FIELD, "no frame was scanned"));
        };
        let count = usize::from(geometry.count);
        if self.payloads.len() != count {
            return Err(Error::invalid(
                BUNDLE_FIELD,
                format!(
                    "{} of {count} frames are still missing; keep scanning",
                    count - self.payloads.len()
                ),
            ));
        }
        let total_len = geometry.total_len as usize;
        let mut bundle = Vec::with_capacity(total_len);
        for payload in self.payloads.into_values() {
            bundle.extend_from_slice(&payload);
        }
        if bundle.len() != total_len {
            return Err(Error::Internal(format!(
                "qr reassembly produced {} bytes instead of {total_len}",
                bundle.len()
            )));
        }
        if sha256_prefix::<8>(&bundle) != geometry.bundle_id {
            return Err(Error::invalid(
                BUNDLE_FIELD,
                "the reassembled bundle does not match its identifier; the frames were \
                 forged or corrupted, scan the bundle again",
            ));
        }
        Ok(bundle)
    }

    fn progress(&self, duplicate: bool) -> ScanProgress {
        ScanProgress {
            received: self.payloads.len(),
            total: self.geometry.map_or(0, |g| usize::from(g.count)),
            complete: self.is_complete(),
            duplicate,
        }
    }
}

impl fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reassembler")
            .field("received", &self.payloads.len())
            .field("total", &self.geometry.map_or(0, |g| g.count))
            .field("total_len", &self.geometry.map_or(0, |g| g.total_len))
            .finish()
    }
}

/// Encodes a frame as base45 text (RFC 9285) for QR libraries that only take text.
///
/// Binary mode is preferred: base45 needs 3 characters per 2 bytes.
pub fn frame_to_text(frame: &[u8]) -> String {
    let mut text = String::with_capacity(frame.len().div_ceil(2) * 3);
    for chunk in frame.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = u32::from(a) * 256 + u32::from(b);
                text.push(base45_symbol(n % 45));
                text.push(base45_symbol(n / 45 % 45));
                text.push(base45_symbol(n / (45 * 45)));
            }
            [a] => {
                let n = u32::from(a);
                text.push(base45_symbol(n % 45));
                text.push(base45_symbol(n / 45));
            }
            _ => {}
        }
    }
    text
}

/// Decodes base45 text (RFC 9285) made by [`frame_to_text`] back into frame bytes.
///
/// Only decodes: the frame itself is checked by [`Reassembler::push`]. Fails with
/// [`Error::InvalidInput`] (field `"qr text"`) on a character outside the base45
/// alphabet (lowercase included), an impossible length or group value, or text longer
/// than the largest frame.
pub fn frame_from_text(text: &str) -> Result<Vec<u8>> {
    let symbols = text.as_bytes();
    let max_text = MAX_MAX_FRAME / 2 * 3 + MAX_MAX_FRAME % 2 * 2;
    if symbols.len() > max_text {
        return Err(Error::invalid(
            TEXT_FIELD,
            format!(
                "{} characters is longer than the largest frame ({max_text} characters)",
                symbols.len()
            ),
        ));
    }
    if symbols.len() % 3 == 1 {
        return Err(Error::invalid(
            TEXT_FIELD,
            format!("{} characters is not a valid base45 length", symbols.len()),
        ));
    }
    let mut frame = Vec::with_capacity(symbols.len() / 3 * 2 + 1);
    for (group, chunk) in symbols.chunks(3).enumerate() {
        let mut n: u32 = 0;
        for (position, &symbol) in chunk.iter().enumerate().rev() {
            let value = base45_value(symbol).ok_or_else(|| {
                Error::invalid(
                    TEXT_FIELD,
                    format!(
                        "character {} is not in the base45 alphabet",
                        group * 3 + position
                    ),
                )
            })?;
            n = n * 45 + value;
        }
        let bad_group = || {
            Error::invalid(
                TEXT_FIELD,
                format!("characters {}.. encode an impossible value", group * 3),
            )
        };
        if chunk.len() == 3 {
            let [hi, lo] = u16::try_from(n).map_err(|_| bad_group())?.to_be_bytes();
            frame.push(hi);
            frame.push(lo);
        } else {
            frame.push(u8::try_from(n).map_err(|_| bad_group())?);
        }
    }
    Ok(frame)
}

const BASE45_ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn base45_symbol(value: u32) -> char {
    BASE45_ALPHABET
        .get(value as usize)
        .map_or('?', |&symbol| char::from(symbol))
}

fn base45_value(symbol: u8) -> Option<u32> {
    BASE45_ALPHABET
        .iter()
        .position(|&s| s == symbol)
        .and_then(|value| u32::try_from(value).ok())
}

/// What a single valid frame says about its bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    bundle_id: [u8; 8],
    count: u16,
    total_len: u32,
    /// `P`: the payload length of every frame but the last (`total_len` if `count` is 1).
    payload_len: u32,
}

#[derive(Debug)]
struct ParsedFrame<'a> {
    geometry: Geometry,
    index: u16,
    payload: &'a [u8],
}

fn encode_frame(
    bundle_id: &[u8; 8],
    index: u16,
    count: u16,
    total_len: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_OVERHEAD + payload.len());
    frame.extend_from_slice(&MAGIC);
    frame.push(VERSION);
    frame.extend_from_slice(bundle_id);
    frame.extend_from_slice(&index.to_be_bytes());
    frame.extend_from_slice(&count.to_be_bytes());
    frame.extend_from_slice(&total_len.to_be_bytes());
    frame.extend_from_slice(payload);
    let check = sha256_prefix::<CHECK_LEN>(&frame);
    frame.extend_from_slice(&check);
    frame
}

/// Parses and validates one frame on its own (steps 1 to 5 of the module docs).
fn parse_frame(frame: &[u8]) -> Result<ParsedFrame<'_>, String> {
    if frame.len() < FRAME_OVERHEAD {
        return Err(format!(
            "{} bytes is too short for a frame (at least {FRAME_OVERHEAD})",
            frame.len()
        ));
    }
    if frame.len() > MAX_MAX_FRAME {
        return Err(format!(
            "{} bytes is too long for a frame (at most {MAX_MAX_FRAME})",
            frame.len()
        ));
    }
    let Some((body, check)) = frame.split_last_chunk::<CHECK_LEN>() else {
        return Err("too short for a frame".to_owned());
    };
    let Some((header, payload)) = body.split_first_chunk::<HEADER_LEN>() else {
        return Err("too short for a frame".to_owned());
    };
    let [m0, m1, m2, version, b0, b1, b2, b3, b4, b5, b6, b7, i0, i1, c0, c1, t0, t1, t2, t3] =
        *header;
    if [m0, m1, m2] != MAGIC {
        return Err("not a caravan qr frame".to_owned());
    }
    if version != VERSION {
        return Err(format!(
            "frame version {version} is not supported (this build reads version {VERSION}); \
             update the app"
        ));
    }
    if sha256_prefix::<CHECK_LEN>(body) != *check {
        return Err("checksum mismatch: the code was misread or damaged; scan it again".to_owned());
    }
    let bundle_id = [b0, b1, b2, b3, b4, b5, b6, b7];
    let index = u16::from_be_bytes([i0, i1]);
    let count = u16::from_be_bytes([c0, c1]);
    let total_len = u32::from_be_bytes([t0, t1, t2, t3]);
    let payload_len = check_geometry(index, count, total_len, payload.len())?;
    Ok(ParsedFrame {
        geometry: Geometry {
            bundle_id,
            count,
            total_len,
            payload_len,
        },
        index,
        payload,
    })
}

/// Checks count, index, total length and payload length together; returns `P`.
fn check_geometry(index: u16, count: u16, total_len: u32, n: usize) -> Result<u32, String> {
    if count == 0 {
        return Err("frame count is 0".to_owned());
    }
    if usize::from(count) > MAX_FRAMES {
        return Err(format!("frame count {count} is above {MAX_FRAMES}"));
    }
    if index >= count {
        return Err(format!(
            "frame index {index} is not below the frame count {count}"
        ));
    }
    let count = u64::from(count);
    let total = u64::from(total_len);
    let n = n as u64;
    let (min_p, max_p) = (MIN_PAYLOAD as u64, MAX_PAYLOAD as u64);
    if total > count * max_p {
        return Err(format!(
            "bundle length {total} is more than {count} frames can carry"
        ));
    }
    let unfit = || {
        format!("a payload of {n} bytes does not fit frame {index} of {count} for {total} bytes")
    };
    let p = if count == 1 {
        if n != total {
            return Err(unfit());
        }
        total
    } else if u64::from(index) < count - 1 {
        let fits = (min_p..=max_p).contains(&n) && (count - 1) * n < total && total <= count * n;
        if !fits {
            return Err(unfit());
        }
        n
    } else {
        let head = total.checked_sub(n).ok_or_else(unfit)?;
        if n == 0 || head % (count - 1) != 0 {
            return Err(unfit());
        }
        let p = head / (count - 1);
        if !(min_p..=max_p).contains(&p) || n > p {
            return Err(unfit());
        }
        p
    };
    u32::try_from(p).map_err(|_| unfit())
}

fn sha256_prefix<const N: usize>(data: &[u8]) -> [u8; N] {
    let hash = crate::crypto::sha256(data);
    let mut prefix = [0u8; N];
    for (out, byte) in prefix.iter_mut().zip(hash.as_ref()) {
        *out = *byte;
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: usize = DEFAULT_MAX_FRAME - FRAME_OVERHEAD;

    /// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    fn hex(data: &[u8]) -> String {
        data.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn reassemble<'a>(frames: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<u8> {
        let mut r = Reassembler::new();
        for frame in frames {
            r.push(frame).unwrap();
        }
        assert!(r.is_complete());
        assert!(r.missing().is_empty());
        r.finish().unwrap()
    }

    #[track_caller]
    fn assert_frame_error(result: Result<ScanProgress>, needle: &str) {
        match result {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, FRAME_FIELD);
                assert!(
                    reason.contains(needle),
                    "{reason:?} does not contain {needle:?}"
                );
            }
            other => panic!("expected a qr frame error containing {needle:?}, got {other:?}"),
        }
    }

    /// Pushes a frame that must be refused, and checks the state did not change.
    #[track_caller]
    fn assert_refused(r: &mut Reassembler, frame: &[u8]) {
        let before = r.clone();
        let result = r.push(frame);
        assert!(
            matches!(&result, Err(Error::InvalidInput { field, .. }) if field == FRAME_FIELD),
            "frame was not refused: {result:?}"
        );
        assert_eq!(*r, before, "a refused frame changed the state");
    }

    #[test]
    fn round_trip_sizes() {
        for (len, frames_expected) in [
            (0, 1),
            (1, 1),
            (P - 1, 1),
            (P, 1),
            (P + 1, 2),
            (100 * 1024, 105),
        ] {
            let bundle = bytes(len, len as u64);
            let frames = split(&bundle, DEFAULT_MAX_FRAME).unwrap();
            assert_eq!(frames.len(), frames_expected, "len {len}");
            for (i, frame) in frames.iter().enumerate() {
                assert!(frame.len() <= DEFAULT_MAX_FRAME);
                if i + 1 < frames.len() {
                    assert_eq!(frame.len(), DEFAULT_MAX_FRAME, "non-last frames are full");
                }
            }
            let payload_total: usize = frames.iter().map(|f| f.len() - FRAME_OVERHEAD).sum();
            assert_eq!(payload_total, len);
            assert_eq!(reassemble(&frames), bundle, "len {len}");
            assert_eq!(
                reassemble(frames.iter().rev()),
                bundle,
                "len {len} reversed"
            );
        }
    }

    #[test]
    fn split_is_deterministic_and_matches_the_layout() {
        let frames = split(b"hello", MIN_MAX_FRAME).unwrap();
        assert_eq!(frames, split(b"hello", DEFAULT_MAX_FRAME).unwrap());
        assert_eq!(frames.len(), 1);
        // Test vectors computed by an independent implementation (fuzz/gen_corpus.py).
        // SHA-256("hello") = 2cf24dba5fb0a30e...
        assert_eq!(
            hex(&frames[0]),
            "43565101 2cf24dba5fb0a30e 0000 0001 00000005 68656c6c6f c1d9f0a6".replace(' ', "")
        );

        // Two frames: the 50 bytes 0x00..=0x31 with max_frame 64 (P = 40).
        let bundle: Vec<u8> = (0..50).collect();
        let frames = split(&bundle, 64).unwrap();
        let expected = [
            "43565101 a622e13829e48842 0000 0002 00000032 \
             000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627 \
             47103304",
            "43565101 a622e13829e48842 0001 0002 00000032 28292a2b2c2d2e2f3031 bbd2f56a",
        ];
        assert_eq!(frames.len(), 2);
        for (frame, expected) in frames.iter().zip(expected) {
            assert_eq!(hex(frame), expected.replace(' ', ""));
        }
        assert_eq!(frames[0].len(), 64);
        assert_eq!(frames[1].len(), 34);
    }

    #[test]
    fn split_checks_max_frame_and_bundle_size() {
        for bad in [0, 23, 24, 63, 2954, usize::MAX] {
            match split(b"x", bad) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "max_frame"),
                other => panic!("max_frame {bad} accepted: {other:?}"),
            }
        }
        for good in [MIN_MAX_FRAME, DEFAULT_MAX_FRAME, MAX_MAX_FRAME] {
            let bundle = bytes(10_000, 7);
            let frames = split(&bundle, good).unwrap();
            assert!(frames.iter().all(|f| f.len() <= good));
            assert_eq!(reassemble(&frames), bundle);
        }

        let largest = bytes(MAX_FRAMES * MIN_PAYLOAD, 3);
        let frames = split(&largest, MIN_MAX_FRAME).unwrap();
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(reassemble(frames.iter().rev()), largest);
        match split(&bytes(MAX_FRAMES * MIN_PAYLOAD + 1, 3), MIN_MAX_FRAME) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "bundle"),
            other => panic!("oversized bundle accepted: {other:?}"),
        }
    }

    #[test]
    fn progress_and_missing_report_gaps() {
        let bundle = bytes(9 * P + 5, 1);
        let frames = split(&bundle, DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(frames.len(), 10);

        let r = Reassembler::new();
        assert!(!r.is_complete());
        assert!(r.missing().is_empty());
        match r.finish() {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, BUNDLE_FIELD),
            other => panic!("empty reassembler finished: {other:?}"),
        }

        let mut r = Reassembler::new();
        for (n, i) in [7usize, 0, 3, 2].into_iter().enumerate() {
            let progress = r.push(&frames[i]).unwrap();
            assert_eq!(
                progress,
                ScanProgress {
                    received: n + 1,
                    total: 10,
                    complete: false,
                    duplicate: false
                }
            );
        }
        let progress = r.push(&frames[3]).unwrap();
        assert_eq!(
            progress,
            ScanProgress {
                received: 4,
                total: 10,
                complete: false,
                duplicate: true
            }
        );
        assert_eq!(r.missing(), vec![1, 4, 5, 6, 8, 9]);
        match r.clone().finish() {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, BUNDLE_FIELD);
                assert!(reason.contains("6 of 10"), "{reason}");
            }
            other => panic!("incomplete bundle finished: {other:?}"),
        }
        for i in [9, 8, 6, 5, 4] {
            assert!(!r.push(&frames[i]).unwrap().complete);
        }
        assert_eq!(r.missing(), vec![1]);
        let last = r.push(&frames[1]).unwrap();
        assert_eq!(
            last,
            ScanProgress {
                received: 10,
                total: 10,
                complete: true,
                duplicate: false
            }
        );
        let again = r.push(&frames[1]).unwrap();
        assert_eq!(
            again,
            ScanProgress {
                received: 10,
                total: 10,
                complete: true,
                duplicate: true
            }
        );
        assert!(r.missing().is_empty());
        assert_eq!(r.finish().unwrap(), bundle);
    }

    #[test]
    fn every_single_bit_flip_is_refused_without_changing_state() {
        for (len, max_frame) in [
            (2 * P + 72, DEFAULT_MAX_FRAME),
            (100, MIN_MAX_FRAME),
            (0, 64),
        ] {
            let frames = split(&bytes(len, 11), max_frame).unwrap();
            let mut fresh = Reassembler::new();
            let mut started = Reassembler::new();
            started.push(&frames[0]).unwrap();
            for frame in &frames {
                for bit in 0..frame.len() * 8 {
                    let mut flipped = frame.clone();
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    assert_refused(&mut fresh, &flipped);
                    assert_refused(&mut started, &flipped);
                }
            }
            assert_eq!(fresh, Reassembler::new());
        }
    }

    #[test]
    fn truncated_or_extended_frames_are_refused() {
        let frames = split(&bytes(P + 300, 5), DEFAULT_MAX_FRAME).unwrap();
        let mut r = Reassembler::new();
        r.push(&frames[1]).unwrap();
        for frame in &frames {
            for len in 0..frame.len() {
                assert_refused(&mut r, &frame[..len]);
                assert_refused(&mut r, &frame[frame.len() - len..]);
            }
            let mut longer = frame.clone();
            longer.push(0);
            assert_refused(&mut r, &longer);
        }
        assert_refused(&mut r, &[]);
        assert_refused(&mut r, &vec![0u8; MAX_MAX_FRAME + 1]);
        assert_refused(&mut r, &vec![0u8; 1 << 20]);
    }

    #[test]
    fn frames_of_another_bundle_are_refused() {
        // Same length, so only bundle_id tells them apart.
        let a = bytes(3 * P, 21);
        let b = bytes(3 * P, 22);
        let frames_a = split(&a, DEFAULT_MAX_FRAME).unwrap();
        let frames_b = split(&b, DEFAULT_MAX_FRAME).unwrap();
        let mut r = Reassembler::new();
        r.push(&frames_a[2]).unwrap();
        for frame in &frames_b {
            assert_frame_error(r.clone().push(frame), "different bundle");
            assert_refused(&mut r, frame);
        }
        r.push(&frames_a[0]).unwrap();
        assert_refused(&mut r, &frames_b[1]);
        r.push(&frames_a[1]).unwrap();
        assert_refused(&mut r, &frames_b[0]);
        assert_eq!(r.finish().unwrap(), a);
    }

    #[test]
    fn same_bundle_with_another_frame_size_is_refused() {
        let bundle = bytes(5000, 9);
        let small = split(&bundle, 500).unwrap();
        let large = split(&bundle, 1000).unwrap();
        let mut r = Reassembler::new();
        r.push(&small[0]).unwrap();
        assert_frame_error(r.clone().push(&large[0]), "disagrees");
        assert_refused(&mut r, &large[0]);
        assert_refused(&mut r, &large[large.len() - 1]);
        for frame in &small[1..] {
            r.push(frame).unwrap();
        }
        assert_eq!(r.finish().unwrap(), bundle);
    }

    #[test]
    fn bad_header_fields_are_refused_even_with_a_valid_check() {
        let id = [7u8; 8];
        let p = vec![0xAB; 40];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (encode_frame(&id, 0, 0, 0, &[]), "count is 0"),
            (encode_frame(&id, 0, 4097, 4097 * 40, &p), "above 4096"),
            (encode_frame(&id, 0, u16::MAX, 100, &p), "above 4096"),
            (encode_frame(&id, 2, 2, 80, &p), "not below"),
            (encode_frame(&id, 9, 2, 80, &p), "not below"),
            (
                encode_frame(&id, u16::MAX, u16::MAX, u32::MAX, &p),
                "above 4096",
            ),
            (encode_frame(&id, 0, 1, u32::MAX, &p), "more than 1 frames"),
            (
                encode_frame(&id, 0, 4096, u32::MAX, &p),
                "more than 4096 frames",
            ),
            // count 1: the payload must be the whole bundle.
            (encode_frame(&id, 0, 1, 41, &p), "does not fit"),
            (encode_frame(&id, 0, 1, 39, &p), "does not fit"),
            // Non-last frames: P in 40..=2929 and (count-1)·P < total <= count·P.
            (encode_frame(&id, 0, 2, 78, &[1; 39]), "does not fit"),
            (encode_frame(&id, 0, 2, 40, &p), "does not fit"),
            (encode_frame(&id, 0, 2, 81, &p), "does not fit"),
            // Last frame: 1 <= n <= P, P = (total - n)/(count - 1) in 40..=2929.
            (encode_frame(&id, 1, 2, 40, &[]), "does not fit"),
            (encode_frame(&id, 1, 2, 80, &[1; 41]), "does not fit"),
            (encode_frame(&id, 2, 3, 80 + 10, &[1; 11]), "does not fit"),
            (encode_frame(&id, 1, 2, 39 + 5, &[1; 5]), "does not fit"),
            (encode_frame(&id, 1, 2, 5000 + 10, &[1; 10]), "does not fit"),
            (encode_frame(&id, 1, 2, 5, &[1; 10]), "does not fit"),
        ];
        for (frame, needle) in cases {
            let mut r = Reassembler::new();
            assert_frame_error(r.push(&frame), needle);
            assert_eq!(r, Reassembler::new());
        }

        // Edges that are valid.
        for frame in [
            encode_frame(&id, 0, 1, 0, &[]),
            encode_frame(&id, 0, 2, 41, &p),
            encode_frame(&id, 1, 2, 41, &[1]),
            encode_frame(&id, 1, 2, 80, &p),
            encode_frame(&id, 4095, 4096, 4096 * 2929, &[1; 2929]),
            encode_frame(&id, 0, 4096, 4095 * 2929 + 1, &[1; 2929]),
        ] {
            Reassembler::new().push(&frame).unwrap();
        }

        let mut bad_magic = encode_frame(&id, 0, 1, 40, &p);
        bad_magic[0] = b'X';
        let check = sha256_prefix::<4>(&bad_magic[..bad_magic.len() - 4]);
        let at = bad_magic.len() - 4;
        bad_magic[at..].copy_from_slice(&check);
        assert_frame_error(Reassembler::new().push(&bad_magic), "not a caravan");

        let mut next_version = encode_frame(&id, 0, 1, 40, &p);
        next_version[3] = 2;
        let check = sha256_prefix::<4>(&next_version[..next_version.len() - 4]);
        next_version[at..].copy_from_slice(&check);
        assert_frame_error(Reassembler::new().push(&next_version), "version 2");
    }

    #[test]
    fn a_conflicting_duplicate_is_refused() {
        let bundle = bytes(3 * P, 4);
        let frames = split(&bundle, DEFAULT_MAX_FRAME).unwrap();
        let id = sha256_prefix::<8>(&bundle);
        let mut other_payload = bundle[P..2 * P].to_vec();
        other_payload[0] ^= 1;
        let conflicting = encode_frame(&id, 1, 3, (3 * P) as u32, &other_payload);

        let mut r = Reassembler::new();
        r.push(&frames[1]).unwrap();
        assert_frame_error(r.clone().push(&conflicting), "different content");
        assert_refused(&mut r, &conflicting);
        assert!(r.push(&frames[1]).unwrap().duplicate);
        r.push(&frames[0]).unwrap();
        r.push(&frames[2]).unwrap();
        assert_eq!(r.finish().unwrap(), bundle);

        // Accepted first, the forged frame is caught by finish.
        let mut r = Reassembler::new();
        r.push(&conflicting).unwrap();
        assert_refused(&mut r, &frames[1]);
        r.push(&frames[0]).unwrap();
        r.push(&frames[2]).unwrap();
        match r.finish() {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, BUNDLE_FIELD);
                assert!(reason.contains("does not match its identifier"), "{reason}");
            }
            other => panic!("forged bundle accepted: {other:?}"),
        }
    }

    #[test]
    fn base45_rfc9285_vectors() {
        let vectors: [(&[u8], &str); 5] = [
            (b"AB", "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
            (b"", ""),
        ];
        for (raw, text) in vectors {
            assert_eq!(frame_to_text(raw), text);
            assert_eq!(frame_from_text(text).unwrap(), raw);
        }
        assert_eq!(frame_to_text(&[0xFF, 0xFF]), "FGW");
        assert_eq!(frame_to_text(&[0xFF]), "U5");
    }

    #[test]
    fn base45_rejects_invalid_text() {
        for bad in [
            "GGW",  // 65536
            ":::",  // far above 65535
            "V5",   // 256 in a 2-character tail
            "::",   // above 255
            "A",    // length 1 mod 3
            "BB8A", // length 1 mod 3
            "bb8",  // lowercase is not base45
            "BB\n", // not in the alphabet
            "BBé",  // non-ASCII
        ] {
            match frame_from_text(bad) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, TEXT_FIELD),
                other => panic!("{bad:?} decoded: {other:?}"),
            }
        }
        let too_long = "0".repeat(4431);
        assert!(frame_from_text(&too_long).is_err());
        assert_eq!(frame_from_text(&"00".repeat(2215)).unwrap().len(), 2953);
    }

    #[test]
    fn text_frames_reassemble() {
        let bundle = bytes(3000, 8);
        let frames = split(&bundle, DEFAULT_MAX_FRAME).unwrap();
        let mut r = Reassembler::new();
        for frame in &frames {
            let text = frame_to_text(frame);
            assert!(text.len() <= DEFAULT_MAX_FRAME.div_ceil(2) * 3);
            assert!(text.bytes().all(|b| BASE45_ALPHABET.contains(&b)));
            r.push(&frame_from_text(&text).unwrap()).unwrap();
        }
        assert_eq!(r.finish().unwrap(), bundle);
        // A version 40-L code holds 4,296 alphanumeric characters: 2,864-byte frames.
        assert_eq!(frame_to_text(&[0; 2864]).len(), 4296);
    }

    /// A bundle, a frame size, an order of the frames, and duplicates to inject.
    fn scan_scenario() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<u8>>, Vec<usize>)> {
        (
            prop::collection::vec(any::<u8>(), 0..6000),
            prop_oneof![64usize..=200, 200usize..=MAX_MAX_FRAME],
        )
            .prop_flat_map(|(bundle, max_frame)| {
                let frames = split(&bundle, max_frame).unwrap();
                let n = frames.len();
                let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
                let dups = prop::collection::vec((0..n, any::<prop::sample::Index>()), 0..12);
                (Just(bundle), Just(frames), order, dups)
            })
            .prop_map(|(bundle, frames, mut order, dups)| {
                for (frame, at) in dups {
                    let at = at.index(order.len() + 1);
                    order.insert(at, frame);
                }
                (bundle, frames, order)
            })
    }

    proptest! {
        #[test]
        fn prop_reassembles_in_any_order_with_duplicates(
            (bundle, frames, order) in scan_scenario()
        ) {
            let mut r = Reassembler::new();
            let mut seen = std::collections::BTreeSet::new();
            for (step, &i) in order.iter().enumerate() {
                prop_assert!(!r.is_complete());
                let progress = r.push(&frames[i]).unwrap();
                let fresh = seen.insert(i);
                prop_assert_eq!(progress.duplicate, !fresh);
                prop_assert_eq!(progress.received, seen.len());
                prop_assert_eq!(progress.total, frames.len());
                prop_assert_eq!(progress.complete, seen.len() == frames.len());
                let missing: Vec<u16> =
                    (0..frames.len() as u16).filter(|m| !seen.contains(&usize::from(*m))).collect();
                prop_assert_eq!(r.missing(), missing);
                if progress.complete {
                    // Every later entry of `order` is a duplicate.
                    prop_assert!(order[step + 1..].iter().all(|j| seen.contains(j)));
                    break;
                }
            }
            prop_assert!(r.is_complete());
            prop_assert_eq!(r.finish().unwrap(), bundle);
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..3100),
            valid_first in any::<bool>(),
        ) {
            let mut r = Reassembler::new();
            if valid_first {
                r.push(&split(b"some bundle", 64).unwrap()[0]).unwrap();
            }
            let before = r.clone();
            if r.push(&data).is_err() {
                prop_assert_eq!(&r, &before);
            }
            let _ = r.missing();
            let _ = r.finish();
            let _ = frame_from_text(&String::from_utf8_lossy(&data));
        }

        #[test]
        fn prop_corrupted_frames_are_refused(
            bundle in prop::collection::vec(any::<u8>(), 0..3000),
            which in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        ) {
            let frames = split(&bundle, 300).unwrap();
            let mut frame = frames[which.index(frames.len())].clone();
            for (at, xor) in edits {
                let at = at.index(frame.len());
                frame[at] ^= xor;
            }
            let mut r = Reassembler::new();
            r.push(&frames[0]).unwrap();
            let before = r.clone();
            prop_assert!(r.push(&frame).is_err() || frames.contains(&frame));
            if !frames.contains(&frame) {
                prop_assert_eq!(r, before);
            }
        }

        #[test]
        fn prop_base45_round_trip(data in prop::collection::vec(any::<u8>(), 0..3100)) {
            let text = frame_to_text(&data);
            prop_assert_eq!(text.len(), data.len() / 2 * 3 + data.len() % 2 * 2);
            if data.len() <= MAX_MAX_FRAME {
                prop_assert_eq!(frame_from_text(&text).unwrap(), data);
            } else {
                prop_assert!(frame_from_text(&text).is_err());
            }
        }
    }
}
