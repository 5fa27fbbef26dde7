//! The on-disk format: the clear header, sealed frames and the records inside them.
//!
//! ```text
//! caravan.hdr     clear CBOR, fixed size: magic, format, store id, KDF params, key check
//! index-<gen>     one sealed frame: the index snapshot (summaries + frame locations)
//! journal-<gen>   append-only sealed frames written since index-<gen>
//! pack-<n>        immutable sealed frames moved out of older journals
//! LOCK            advisory lock held while a process has the store open
//! ```
//!
//! A frame is `u32 LE length ‖ salt(16) ‖ ChaCha20-Poly1305(payload) ‖ tag(16)` with a
//! key derived per frame (see `crypto`). The payload is `u32 LE body_len ‖ body ‖ zero
//! padding` padded with Padmé, so frame sizes say little about their content. The body
//! is the CBOR record, or, when the top bit of `body_len` is set, the CBOR record
//! compressed with raw DEFLATE and the preset dictionary of `dictionary.rs` (used
//! whenever it is smaller).
//! File names are generation and pack numbers only.

use serde::{Deserialize, Serialize};

use super::dictionary::FRAME_DICTIONARY;
use crate::crypto::{padme, KdfParams, Sealer, StoreKey, SEAL_OVERHEAD};
use crate::error::{Error, Result};
use crate::export::StoredStats;
use crate::model::{CaseId, CaseSummary, ChangeSig, Timestamp};
use crate::vocab::ErasureReason;

/// Format version this build reads and writes. (Format 1, without compressed frame
/// bodies, was never released.)
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Name of the clear header file.
pub(crate) const HEADER_FILE: &str = "caravan.hdr";
/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
const MAGIC: &str = "caravan-store";
/// Size the header is padded to, so KDF choices do not show in its size.
const HEADER_SIZE: usize = 256;
/// Largest frame accepted when reading (a corrupted length must not allocate GBs).
pub(crate) const MAX_FRAME: usize = 256 * 1024 * 1024;

/// AEAD context of journal and pack frames.
pub(crate) const CTX_FRAME: &[u8] = b"caravan/store/frame";
/// AEAD context of index snapshots.
pub(crate) const CTX_INDEX: &[u8] = b"caravan/store/index";

/// The clear header: nothing in it depends on case content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) magic: String,
    pub(crate) format: u32,
    #[serde(with = "serde_bytes")]
    pub(crate) store_id: Vec<u8>,
    pub(crate) kdf: Option<KdfParams>,
    #[serde(with = "serde_bytes")]
    pub(crate) key_check: Vec<u8>,
}

impl Header {
    pub(crate) fn new(key: &StoreKey, kdf: Option<KdfParams>) -> Result<Header> {
        let store_id = crate::crypto::random_array::<16>()?.to_vec();
        let key_check = key.check_value(&store_id).to_vec();
        Ok(Header {
            magic: MAGIC.into(),
            format: FORMAT_VERSION,
            store_id,
            kdf,
            key_check,
        })
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let mut out = cbor(self)?;
        if out.len() > HEADER_SIZE {
            return Err(Error::Internal("store header too large".into()));
        }
        out.resize(HEADER_SIZE, 0);
        Ok(out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Header> {
        let bad = |detail: &str| Error::corrupted(HEADER_FILE, detail);
        if bytes.len() != HEADER_SIZE {
            return Err(bad("wrong size"));
        }
        let header: Header =
            ciborium::from_reader(bytes).map_err(|_| bad("not a caravan header"))?;
        if header.magic != MAGIC {
            return Err(bad("not a caravan header"));
        }
        if header.format != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                found: header.format,
                supported: FORMAT_VERSION,
            });
        }
        if header.store_id.len() != 16 || header.key_check.len() != 32 {
            return Err(bad("malformed fields"));
        }
        Ok(header)
    }

    /// Checks `key` against the header in constant time.
    pub(crate) fn verify(&self, key: &StoreKey) -> Result<()> {
        if key.verify_check_value(&self.store_id, &self.key_check) {
            Ok(())
        } else {
            Err(Error::WrongKey)
        }
    }

    /// The sealer for this store's frames (keys bound to the store id).
    pub(crate) fn sealer(&self, key: &StoreKey) -> Sealer {
        let mut domain = b"caravan/store/v1/".to_vec();
        domain.extend_from_slice(&self.store_id);
        key.sealer(&domain)
    }
}

/// Why a case was erased; kept forever so the erasure can propagate and cannot be
/// undone by a stale replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The erased case.
    pub case: CaseId,
    /// When it was erased.
    pub erased_at: Timestamp,
    /// Why.
    pub reason: ErasureReason,
    /// The erasing device and its signature, so other devices can check who erased.
    #[serde(default)]
    pub signature: Option<TombstoneSignature>,
}

/// Who erased a case, and their signature over
/// `"caravan/erase/v1" ‖ case ‖ erased_at (i64 BE) ‖ reason code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TombstoneSignature {
    /// The erasing device's public key.
    #[serde(with = "serde_bytes")]
    pub by: [u8; 32],
    /// Its Ed25519 signature.
    #[serde(with = "serde_bytes")]
    pub sig: [u8; 64],
}

impl Tombstone {
    /// The bytes a tombstone signature covers.
    pub(crate) fn signed_bytes(&self) -> Vec<u8> {
        use crate::vocab::Vocabulary;
        [
            b"caravan/erase/v1".as_slice(),
            &self.case.0,
            &self.erased_at.0.to_be_bytes(),
            self.reason.code().as_bytes(),
        ]
        .concat()
    }
}

/// A record inside a journal or pack frame. Each record is self-describing, so the
/// index can be rebuilt from the frames alone.
// `Put` is much larger than the other variants, but records are short-lived values
// built right before sealing or right after opening; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Record {
    /// A chunk of a case's Automerge document: the whole document (`full`), or the
    /// changes since the previous chunk.
    Put {
        lsn: u64,
        case: CaseId,
        full: bool,
        summary: CaseSummary,
        #[serde(with = "serde_bytes")]
        doc: Vec<u8>,
        /// Author signatures of the changes in `doc`.
        sigs: Vec<ChangeSig>,
        /// The document's heads after this chunk.
        heads: Vec<Hash>,
        /// The case's statistical projection after this chunk: exports read it from the
        /// case's newest frame instead of loading the document. Absent in frames that
        /// only feed the index.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stats: Option<StoredStats>,
    },
    /// A case was erased.
    Erase { lsn: u64, tombstone: Tombstone },
    /// A change to the sync state (group, peers, cursors, pending changes).
    Sync {
        lsn: u64,
        delta: super::index::SyncDelta,
    },
    /// This device's Ed25519 identity (PKCS#8); its actor id derives from it.
    Device {
        lsn: u64,
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
}

/// A change hash as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Hash(#[serde(with = "serde_bytes")] pub(crate) [u8; 32]);

/// What exports read of a `Put` record: the other fields are skipped while parsing,
/// never built (no document bytes copied, no summary allocated).
#[derive(Debug, Deserialize)]
pub(crate) enum StatsOnly {
    /// A [`Record::Put`].
    Put {
        case: CaseId,
        #[serde(default)]
        stats: Option<StoredStats>,
    },
}

impl Record {
    pub(crate) fn lsn(&self) -> u64 {
        match self {
            Record::Put { lsn, .. }
            | Record::Erase { lsn, .. }
            | Record::Device { lsn, .. }
            | Record::Sync { lsn, .. } => *lsn,
        }
    }
}

pub(crate) fn cbor<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out)
        .map_err(|e| Error::Internal(format!("cbor encoding: {e}")))?;
    Ok(out)
}

/// Seals `value` into a complete frame (length prefix included).
pub(crate) fn seal_frame<T: Serialize>(
    sealer: &Sealer,
    context: &[u8],
    value: &T,
) -> Result<Vec<u8>> {
    let cbor = cbor(value)?;
    let (body, flag) = match deflate(&cbor) {
        Some(small) => (small, DEFLATED),
        None => (cbor, 0),
    };
    let padded_len = padme(4 + body.len());
    let mut plain = Vec::with_capacity(padded_len);
    plain.extend_from_slice(&(body.len() as u32 | flag).to_le_bytes());
    plain.extend_from_slice(&body);
    plain.resize(padded_len, 0);
    let sealed = sealer.seal(context, &plain)?;
    let mut frame = Vec::with_capacity(4 + sealed.len());
    frame.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    frame.extend_from_slice(&sealed);
    Ok(frame)
}

/// Why a frame could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer bytes remain than the frame needs (a torn write at the end of a file).
    Incomplete,
    /// The length is impossible, or the frame does not authenticate or parse.
    Invalid(&'static str),
}

/// Reads the length prefix at the start of `bytes`: the total frame size.
pub(crate) fn frame_len(bytes: &[u8]) -> Result<usize, FrameError> {
    let prefix: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(FrameError::Incomplete)?;
    let len = u32::from_le_bytes(prefix) as usize;
    if !(SEAL_OVERHEAD + 4..=MAX_FRAME).contains(&len) {
        return Err(FrameError::Invalid("impossible frame length"));
    }
    Ok(4 + len)
}

/// Opens one complete frame (`bytes` is exactly the frame).
pub(crate) fn open_frame<T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    context: &[u8],
    bytes: &[u8],
) -> Result<T, FrameError> {
    let total = frame_len(bytes)?;
    if bytes.len() < total {
        return Err(FrameError::Incomplete);
    }
    let plain = sealer
        .open(context, &bytes[4..total])
        .ok_or(FrameError::Invalid("does not authenticate"))?;
    let prefix = plain
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(FrameError::Invalid("short payload"))?;
    let body_len = (prefix & !DEFLATED) as usize;
    let body = plain
        .get(4..4 + body_len)
        .ok_or(FrameError::Invalid("payload length"))?;
    let parse = |cbor: &[u8]| {
        ciborium::from_reader(cbor).map_err(|_| FrameError::Invalid("payload does not parse"))
    };
    if prefix & DEFLATED == 0 {
        return parse(body);
    }
    parse(&inflate(body).ok_or(FrameError::Invalid("payload does not inflate"))?)
}

/// The top bit of a payload's length prefix: the body is DEFLATE-compressed.
const DEFLATED: u32 = 1 << 31;
/// Bodies shorter than this are stored as they are.
const DEFLATE_FROM: usize = 64;

/// Raw DEFLATE of `cbor` with the preset dictionary ([`FRAME_DICTIONARY`]) if that is
/// smaller. Fast level: frames are written on every update, and the fast level gets
/// nearly all of the gain on this data.
fn deflate(cbor: &[u8]) -> Option<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    if cbor.len() < DEFLATE_FROM {
        return None;
    }
    let mut c = Compress::new(Compression::fast(), false);
    c.set_dictionary(FRAME_DICTIONARY).ok()?;
    // Compressed output larger than the input is useless: stop there.
    let mut out = Vec::with_capacity(cbor.len());
    match c.compress_vec(cbor, &mut out, FlushCompress::Finish).ok()? {
        Status::StreamEnd if out.len() < cbor.len() => Some(out),
        _ => None,
    }
}

/// Inverse of [`deflate`], refusing output beyond [`MAX_FRAME`] and trailing input.
fn inflate(body: &[u8]) -> Option<Vec<u8>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut d = Decompress::new(false);
    d.set_dictionary(FRAME_DICTIONARY).ok()?;
    let mut out = Vec::with_capacity(body.len().saturating_mul(3).min(MAX_FRAME));
    loop {
        let consumed = d.total_in() as usize;
        let status = d
            .decompress_vec(&body[consumed..], &mut out, FlushDecompress::Finish)
            .ok()?;
        match status {
            Status::StreamEnd => break,
            _ if out.len() >= MAX_FRAME => return None,
            _ if out.len() == out.capacity() => {
                out.reserve(out.capacity().max(4096).min(MAX_FRAME + 1 - out.len()))
            }
            // No progress with room left: the input ended before the stream did.
            _ if d.total_in() as usize == consumed => return None,
            _ => {}
        }
    }
    (out.len() <= MAX_FRAME && d.total_in() as usize == body.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_key_check() {
        let key = StoreKey::generate().expect("key");
        let h = Header::new(&key, None).expect("header");
        let bytes = h.encode().expect("encode");
        assert_eq!(bytes.len(), HEADER_SIZE);
        let back = Header::decode(&bytes).expect("decode");
        back.verify(&key).expect("right key");
        let other = StoreKey::generate().expect("key");
        assert!(matches!(back.verify(&other), Err(Error::WrongKey)));
        assert!(Header::decode(&bytes[..100]).is_err());
    }

    #[test]
    fn frames_detect_truncation_and_tampering() {
        let key = StoreKey::generate().expect("key");
        let sealer = key.sealer(b"t");
        let rec = Record::Device {
            lsn: 7,
            key: vec![1; 16],
        };
        let frame = seal_frame(&sealer, CTX_FRAME, &rec).expect("seal");
        let back: Record = open_frame(&sealer, CTX_FRAME, &frame).expect("open");
        assert_eq!(back.lsn(), 7);
        for cut in 0..frame.len() {
            assert!(open_frame::<Record>(&sealer, CTX_FRAME, &frame[..cut]).is_err());
        }
        let mut bad = frame.clone();
        bad[10] ^= 0x40;
        assert_eq!(
            open_frame::<Record>(&sealer, CTX_FRAME, &bad).err(),
            Some(FrameError::Invalid("does not authenticate"))
        );
        assert!(open_frame::<Record>(&sealer, CTX_INDEX, &frame).is_err());
    }

    #[test]
    fn compressible_bodies_are_deflated_and_come_back_unchanged() {
        let key = StoreKey::generate().expect("key");
        let sealer = key.sealer(b"t");
        let rec = Record::Device {
            lsn: 9,
            key: b"ForcedLabour ForcedLabour ForcedLabour ".repeat(40),
        };
        let plain_len = cbor(&rec).expect("cbor").len();
        let frame = seal_frame(&sealer, CTX_FRAME, &rec).expect("seal");
        assert!(
            frame.len() < plain_len / 4,
            "{} vs {plain_len}",
            frame.len()
        );
        let back: Record = open_frame(&sealer, CTX_FRAME, &frame).expect("open");
        match (back, rec) {
            (Record::Device { lsn, key }, Record::Device { key: want, .. }) => {
                assert_eq!((lsn, key), (9, want));
            }
            _ => panic!("another record came back"),
        }

        assert_eq!(
            inflate(&deflate(&[7; 1000]).expect("deflate")),
            Some(vec![7; 1000])
        );
        let mut trailing = deflate(&[7; 1000]).expect("deflate");
        trailing.push(0);
        assert_eq!(inflate(&trailing), None, "trailing bytes are refused");
        assert_eq!(inflate(b"not deflate at all"), None);
        let whole = deflate(&b"case ".repeat(500)).expect("deflate");
        for cut in 0..whole.len() {
            assert_eq!(inflate(&whole[..cut]), None, "cut at {cut}");
        }
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(inflate(&deflate(&big).expect("deflate")), Some(big));
        assert_eq!(deflate(&[1, 2, 3]), None, "short bodies stay as they are");
    }
}
