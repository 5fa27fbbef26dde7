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
//! is one or more CBOR records one after the other (a *block*), or, when the top bit of
//! `body_len` is set, those records compressed together with raw DEFLATE and the preset
//! dictionary of `dictionary.rs` (used whenever it is smaller). A record inside a frame
//! is addressed by its *slot*, its position in the block. An update writes a block of
//! one record; bulk imports and compaction write blocks of up to [`BLOCK_RECORDS`]
//! records, which DEFLATE compresses against each other.
//! File names are generation and pack numbers only.

use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::dictionary::FRAME_DICTIONARY;
use crate::codec::cbor;
use crate::crypto::{padme, KdfParams, Sealer, StoreKey, SEAL_OVERHEAD};
use crate::error::{Error, Result};
use crate::ids::Hash;
use crate::model::StoredStats;
use crate::model::{CaseId, CaseSummary, ChangeSig};
use crate::tombstone::Tombstone;

/// Format version this build writes. (Format 1, without compressed frame bodies, was
/// never released.) Format 4 writes case summaries in their compact encoding
/// (`super::summary_codec`) instead of as CBOR maps. Format 5 adds a second copy of
/// the header ([`HEADER_COPY_FILE`]) and the journal's end mark (`end-<gen>`, see
/// [`EndMark`]), so damage to either is told apart from a torn write. Format 6 writes
/// the end mark in place, in one of two alternating slots, with the ids of the cases
/// held only by the journal appended after them ([`EndSlot`], [`EndIds`]), so that
/// confirming a write costs one `fdatasync` (format-5 marks are still read).
pub(crate) const FORMAT_VERSION: u32 = 6;
/// The first format with end marks and two header copies.
pub(crate) const END_MARK_FORMAT: u32 = 5;
/// Oldest format this build opens. A format-2 store is a format-3 store whose frames
/// all hold one record, and a format-3 store is a format-4 store whose summaries are
/// all CBOR maps (which format 4 still reads): opening one rewrites its header as the
/// current format (see `Store::open_with`), so builds that only know the older format
/// refuse it from then on, as its new records hold compact summaries.
pub(crate) const OLDEST_FORMAT: u32 = 2;
/// Most records one block frame holds.
pub(crate) const BLOCK_RECORDS: usize = 32;
/// A block is closed once its records' CBOR reaches this many bytes.
pub(crate) const BLOCK_BYTES: usize = 64 << 10;
/// Name of the clear header file.
pub(crate) const HEADER_FILE: &str = "caravan.hdr";
/// Name of the second copy of the header (format 5), so one damaged sector or a lost
/// header file does not lose the store.
pub(crate) const HEADER_COPY_FILE: &str = "caravan.hdr2";
/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
pub(crate) const MAGIC: &str = "caravan-store";
/// Size the header is padded to, so KDF choices do not show in its size.
pub(crate) const HEADER_SIZE: usize = 256;
/// Largest frame accepted when reading (a corrupted length must not allocate GBs).
pub(crate) const MAX_FRAME: usize = 256 * 1024 * 1024;

/// AEAD context of journal and pack frames.
pub(crate) const CTX_FRAME: &[u8] = b"caravan/store/frame";
/// AEAD context of index snapshots.
pub(crate) const CTX_INDEX: &[u8] = b"caravan/store/index";
/// AEAD context of the journal's end mark.
pub(crate) const CTX_END: &[u8] = b"caravan/store/end";
/// AEAD context of a record of journal-only case ids in `end-<gen>` (format 6).
pub(crate) const CTX_END_IDS: &[u8] = b"caravan/store/end-ids";
/// Clear magic at the start of a format-6 `end-<gen>` (a format-5 one starts with a
/// frame length).
pub(crate) const END_MAGIC: &[u8; 8] = b"cvn-end6";
/// Size of each of the two slots of a format-6 `end-<gen>`.
pub(crate) const END_SLOT: u64 = 504;
/// Where the two slots start: each lies within one 512-byte sector of its own.
pub(crate) const END_SLOT_AT: [u64; 2] = [8, 512];
/// Where the records of journal-only case ids start in a format-6 `end-<gen>`.
pub(crate) const END_IDS_AT: u64 = 1024;

/// One slot of a format-6 `end-<gen>`: `magic ‖ slot 0 | slot 1 | id records` (slot 0
/// at byte 8, slot 1 at byte 512, the ids from byte 1024). Each slot is one sealed
/// frame, zero-padded to [`END_SLOT`] bytes, within one 512-byte sector; the slot
/// with the highest `seq` that authenticates is the mark. A write confirms itself by
/// writing the slot the previous mark is not in, in place, and one `fdatasync`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndSlot {
    /// The generation of the journal.
    #[serde(rename = "gen")]
    pub(crate) gen: u64,
    /// Sequence number of the mark (the newer slot has the higher one).
    #[serde(rename = "seq")]
    pub(crate) seq: u64,
    /// Bytes of the journal that were acknowledged.
    #[serde(rename = "len")]
    pub(crate) len: u64,
    /// The next LSN after the journal's last acknowledged record.
    #[serde(rename = "next_lsn")]
    pub(crate) next_lsn: u64,
    /// Cases known, live or erased (see [`EndMark::cases`]).
    #[serde(rename = "cases")]
    pub(crate) cases: u64,
    /// Bytes of id records after [`END_IDS_AT`] that this mark confirms; anything
    /// after them was never confirmed (a write that did not finish).
    #[serde(rename = "ids_len")]
    pub(crate) ids_len: u64,
}

/// A record of `end-<gen>` (format 6) naming cases that became journal-only (new in
/// this generation) since the previous record. Appended and synced before the slot
/// that confirms it, so the union of the confirmed records is the mark's
/// `journal_cases`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndIds {
    /// The generation of the journal.
    #[serde(rename = "gen")]
    pub(crate) gen: u64,
    /// The new ids.
    #[serde(rename = "ids")]
    pub(crate) ids: Vec<CaseId>,
}

/// What `end-<gen>` says of `journal-<gen>`: written when a store is closed after
/// writing (and as `len = 0` when a generation starts), so every byte up to `len`
/// was acknowledged. A frame before `len` that does not authenticate, or a journal
/// shorter than `len`, is damage, never a torn write; only bytes after `len` (written
/// by a session that did not close) may be a torn write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndMark {
    /// The generation of the journal.
    #[serde(rename = "gen")]
    pub(crate) gen: u64,
    /// Bytes of the journal that were acknowledged.
    #[serde(rename = "len")]
    pub(crate) len: u64,
    /// The next LSN after the journal's last acknowledged record.
    #[serde(rename = "next_lsn")]
    pub(crate) next_lsn: u64,
    /// Cases known when the mark was written, live or erased (absent in marks of
    /// older builds): after damage, how many cases left no record at all. Erased
    /// ones count, so that an erasure in the journal past the mark (a kill before
    /// its compaction finished) is not taken for a loss.
    #[serde(rename = "cases", default)]
    pub(crate) cases: Option<u64>,
    /// Cases every record of which is in this journal (registered, or received, since
    /// the generation began): if damage to the journal loses all of them, these are
    /// the ids a repair names as lost.
    #[serde(rename = "journal_cases", default)]
    pub(crate) journal_cases: Vec<CaseId>,
}

/// The clear header: nothing in it depends on case content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    #[serde(rename = "magic")]
    pub(crate) magic: String,
    #[serde(rename = "format")]
    pub(crate) format: u32,
    #[serde(rename = "store_id", with = "serde_bytes")]
    pub(crate) store_id: Vec<u8>,
    #[serde(rename = "kdf")]
    pub(crate) kdf: Option<KdfParams>,
    #[serde(rename = "key_check", with = "serde_bytes")]
    pub(crate) key_check: Vec<u8>,
}

impl Header {
    pub(crate) fn new(key: &StoreKey, kdf: Option<KdfParams>) -> Result<Header> {
        let store_id = crate::crypto::random_array::<16>()?.to_vec();
        let key_check = key.check_value(&store_id)?.to_vec();
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
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&header.format) {
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

/// A record inside a journal or pack frame. Each record is self-describing, so the
/// index can be rebuilt from the frames alone.
// `Put` is much larger than the other variants, but records are short-lived values
// built right before sealing or right after opening; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Record {
    /// A chunk of a case's Automerge document: the whole document (`full`), or the
    /// changes since the previous chunk.
    #[serde(rename = "Put")]
    Put {
        #[serde(rename = "lsn")]
        lsn: u64,
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "full")]
        full: bool,
        #[serde(rename = "summary", with = "super::summary_codec")]
        summary: CaseSummary,
        #[serde(rename = "doc", with = "serde_bytes")]
        doc: Vec<u8>,
        /// Author signatures of the changes in `doc`.
        #[serde(rename = "sigs")]
        sigs: Vec<ChangeSig>,
        /// The document's heads after this chunk.
        #[serde(rename = "heads")]
        heads: Vec<Hash>,
        /// The case's statistical projection after this chunk: exports read it from the
        /// case's newest frame instead of loading the document. Absent in frames that
        /// only feed the index.
        #[serde(rename = "stats", default, skip_serializing_if = "Option::is_none")]
        stats: Option<StoredStats>,
        /// The digest of the request that registered the case (`add_case_once`), on
        /// its first record and on every later whole-document record of it, so that a
        /// retry is compared with the original request, not with the case as edited
        /// since (R2-6 of the 2026-12-05 red team). Absent for other cases; builds
        /// before it ignore it.
        #[serde(rename = "request", default, skip_serializing_if = "Option::is_none")]
        request: Option<Hash>,
    },
    /// A case was erased.
    #[serde(rename = "Erase")]
    Erase {
        #[serde(rename = "lsn")]
        lsn: u64,
        #[serde(rename = "tombstone")]
        tombstone: Tombstone,
    },
    /// A change to the sync state (group, peers, cursors, pending changes).
    #[serde(rename = "Sync")]
    Sync {
        #[serde(rename = "lsn")]
        lsn: u64,
        #[serde(rename = "delta")]
        delta: super::index::SyncDelta,
    },
    /// This device's Ed25519 identity (PKCS#8); its actor id derives from it.
    #[serde(rename = "Device")]
    Device {
        #[serde(rename = "lsn")]
        lsn: u64,
        #[serde(rename = "key", with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// The privacy ledger file was written for the `writes`-th time, with this
    /// SHA-256 digest: deleting it or putting an older copy back is detected.
    #[serde(rename = "Ledger")]
    Ledger {
        #[serde(rename = "lsn")]
        lsn: u64,
        #[serde(rename = "writes")]
        writes: u64,
        #[serde(rename = "digest")]
        digest: Hash,
    },
}

/// What exports read of a `Put` record: the other fields are skipped while parsing,
/// never built (no document bytes copied, no summary allocated).
#[derive(Debug, Deserialize)]
pub(crate) enum StatsOnly {
    /// A [`Record::Put`].
    #[serde(rename = "Put")]
    Put {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "stats", default)]
        stats: Option<StoredStats>,
    },
}

/// What reading a case's document needs of a `Put` record: the summary and projection
/// are skipped while parsing.
#[derive(Debug, Deserialize)]
pub(crate) enum ChunkOnly {
    /// A [`Record::Put`].
    #[serde(rename = "Put")]
    Put {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "doc", with = "serde_bytes")]
        doc: Vec<u8>,
        #[serde(rename = "sigs")]
        sigs: Vec<ChangeSig>,
    },
}

impl Record {
    pub(crate) fn lsn(&self) -> u64 {
        match self {
            Record::Put { lsn, .. }
            | Record::Erase { lsn, .. }
            | Record::Device { lsn, .. }
            | Record::Ledger { lsn, .. }
            | Record::Sync { lsn, .. } => *lsn,
        }
    }
}

/// Seals `value` into a complete frame (length prefix included): an index snapshot,
/// or a block of one record.
pub(crate) fn seal_frame<T: Serialize>(
    sealer: &Sealer,
    context: &[u8],
    value: &T,
) -> Result<Vec<u8>> {
    seal_body(sealer, context, cbor(value)?, Compression::fast())
}

/// Seals a block of several records (each already CBOR-encoded) into one frame. They
/// are compressed together, at the fast level: a first sync seals hundreds of blocks
/// while the user waits, and the default level saves only about 80 bytes per case
/// (measured at 10,000 cases: 530 against 613 bytes on disk, limit 1,000).
pub(crate) fn seal_block(sealer: &Sealer, records: &[Vec<u8>]) -> Result<Vec<u8>> {
    if records.is_empty() || records.len() > BLOCK_RECORDS {
        return Err(Error::Internal(format!(
            "a block of {} records",
            records.len()
        )));
    }
    seal_body(sealer, CTX_FRAME, records.concat(), Compression::fast())
}

fn seal_body(
    sealer: &Sealer,
    context: &[u8],
    cbor: Vec<u8>,
    level: Compression,
) -> Result<Vec<u8>> {
    let (body, flag) = match deflate(&cbor, level) {
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

/// Opens one complete frame (`bytes` is exactly the frame) holding a single value:
/// an index snapshot, or the first record of a block.
pub(crate) fn open_frame<T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    context: &[u8],
    bytes: &[u8],
) -> Result<T, FrameError> {
    parse(&open_body(sealer, context, bytes)?)
}

/// Opens one complete frame and returns its body, inflated: for journal and pack
/// frames, a block of records (see [`Block`]).
pub(crate) fn open_body(
    sealer: &Sealer,
    context: &[u8],
    bytes: &[u8],
) -> Result<Vec<u8>, FrameError> {
    let total = frame_len(bytes)?;
    if bytes.len() < total {
        return Err(FrameError::Incomplete);
    }
    let mut plain = sealer
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
    if prefix & DEFLATED != 0 {
        return inflate(body).ok_or(FrameError::Invalid("payload does not inflate"));
    }
    plain.truncate(4 + body_len);
    plain.drain(..4);
    Ok(plain)
}

fn parse<T: serde::de::DeserializeOwned>(cbor: &[u8]) -> Result<T, FrameError> {
    ciborium::from_reader(cbor).map_err(|_| FrameError::Invalid("payload does not parse"))
}

/// The records of an opened journal or pack frame: CBOR items one after the other.
pub(crate) struct Block {
    body: Vec<u8>,
    /// Where each record starts and ends in `body`.
    slots: Vec<(usize, usize)>,
}

impl Block {
    /// Opens a journal or pack frame and finds its records. A block with no record,
    /// more than [`BLOCK_RECORDS`], or bytes that are not CBOR items is invalid.
    pub(crate) fn open(sealer: &Sealer, bytes: &[u8]) -> Result<Block, FrameError> {
        let body = open_body(sealer, CTX_FRAME, bytes)?;
        let mut slots = Vec::new();
        let mut start = 0;
        while start < body.len() {
            if slots.len() == BLOCK_RECORDS {
                return Err(FrameError::Invalid("too many records in a block"));
            }
            let end =
                cbor_item_end(&body, start).ok_or(FrameError::Invalid("payload does not parse"))?;
            slots.push((start, end));
            start = end;
        }
        if slots.is_empty() {
            return Err(FrameError::Invalid("empty block"));
        }
        Ok(Block { body, slots })
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The CBOR bytes of the record in `slot`.
    pub(crate) fn raw(&self, slot: u16) -> Result<&[u8], FrameError> {
        let &(start, end) = self
            .slots
            .get(usize::from(slot))
            .ok_or(FrameError::Invalid("no record in that slot"))?;
        Ok(&self.body[start..end])
    }

    /// Parses the record in `slot`.
    pub(crate) fn get<T: serde::de::DeserializeOwned>(&self, slot: u16) -> Result<T, FrameError> {
        parse(self.raw(slot)?)
    }
}

/// Where the CBOR item starting at `start` ends, walking only its headers (records
/// are parsed for real when read), or `None` if it is malformed or cut short.
fn cbor_item_end(b: &[u8], start: usize) -> Option<usize> {
    fn item(b: &[u8], pos: &mut usize, depth: u32) -> Option<()> {
        if depth > 64 {
            return None;
        }
        let first = *b.get(*pos)?;
        *pos += 1;
        let (major, info) = (first >> 5, first & 0x1f);
        let mut take = |n: usize| -> Option<u64> {
            let bytes = b.get(*pos..pos.checked_add(n)?)?;
            *pos += n;
            Some(bytes.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x)))
        };
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(take(1)?),
            25 => Some(take(2)?),
            26 => Some(take(4)?),
            27 => Some(take(8)?),
            31 if (2..=5).contains(&major) => None, // indefinite length, up to a break
            _ => return None,
        };
        let at_break = |pos: &mut usize| -> Option<bool> {
            let stop = *b.get(*pos)? == 0xff;
            *pos += usize::from(stop);
            Some(stop)
        };
        match (major, arg) {
            (0 | 1 | 7, _) => {}
            (2 | 3, Some(n)) => {
                *pos = pos.checked_add(usize::try_from(n).ok()?)?;
                if *pos > b.len() {
                    return None;
                }
            }
            (4, Some(n)) => {
                for _ in 0..n {
                    item(b, pos, depth + 1)?;
                }
            }
            (5, Some(n)) => {
                for _ in 0..n {
                    item(b, pos, depth + 1)?;
                    item(b, pos, depth + 1)?;
                }
            }
            (6, Some(_)) => item(b, pos, depth + 1)?,
            (2..=4, None) => {
                while !at_break(pos)? {
                    item(b, pos, depth + 1)?;
                }
            }
            (5, None) => {
                while !at_break(pos)? {
                    item(b, pos, depth + 1)?;
                    item(b, pos, depth + 1)?;
                }
            }
            _ => return None,
        }
        Some(())
    }
    let mut pos = start;
    item(b, &mut pos, 0)?;
    Some(pos)
}

/// The top bit of a payload's length prefix: the body is DEFLATE-compressed.
const DEFLATED: u32 = 1 << 31;
/// Bodies shorter than this are stored as they are.
const DEFLATE_FROM: usize = 64;

/// Raw DEFLATE of `cbor` with the preset dictionary ([`FRAME_DICTIONARY`]) if that is
/// smaller, at `level` (the store uses the fast level throughout, see [`seal_block`]).
fn deflate(cbor: &[u8], level: Compression) -> Option<Vec<u8>> {
    use flate2::{Compress, FlushCompress, Status};
    if cbor.len() < DEFLATE_FROM {
        return None;
    }
    let mut c = Compress::new(level, false);
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
            inflate(&deflate(&[7; 1000], Compression::fast()).expect("deflate")),
            Some(vec![7; 1000])
        );
        let mut trailing = deflate(&[7; 1000], Compression::fast()).expect("deflate");
        trailing.push(0);
        assert_eq!(inflate(&trailing), None, "trailing bytes are refused");
        assert_eq!(inflate(b"not deflate at all"), None);
        let whole = deflate(&b"case ".repeat(500), Compression::fast()).expect("deflate");
        for cut in 0..whole.len() {
            assert_eq!(inflate(&whole[..cut]), None, "cut at {cut}");
        }
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            inflate(&deflate(&big, Compression::default()).expect("deflate")),
            Some(big)
        );
        assert_eq!(
            deflate(&[1, 2, 3], Compression::fast()),
            None,
            "short bodies stay as they are"
        );
    }

    #[test]
    fn cbor_items_are_delimited_like_ciborium_reads_them() {
        use std::collections::BTreeMap;
        let mut map = BTreeMap::new();
        map.insert(
            "k".to_string(),
            (vec![1u64 << 40, 3], -7i64, 2.5f64, None::<u8>),
        );
        let values = [
            cbor(&map).expect("cbor"),
            cbor(&serde_bytes::ByteBuf::from(vec![9u8; 300])).expect("cbor"),
            cbor(&"text ✓").expect("cbor"),
            cbor(&(true, [0u16; 40].to_vec())).expect("cbor"),
            vec![0x9f, 0x01, 0x5f, 0x41, 0x00, 0xff, 0xff], // indefinite array and bytes
            vec![0xc1, 0x1a, 0, 0, 0, 1],                   // a tagged number
        ];
        for v in &values {
            assert_eq!(cbor_item_end(v, 0), Some(v.len()), "{v:02x?}");
            for cut in 0..v.len() {
                assert_eq!(cbor_item_end(&v[..cut], 0), None, "{v:02x?} cut at {cut}");
            }
        }
        let two = [values[0].clone(), values[1].clone()].concat();
        assert_eq!(cbor_item_end(&two, 0), Some(values[0].len()));
        assert_eq!(cbor_item_end(&two, values[0].len()), Some(two.len()));
        assert_eq!(cbor_item_end(&[0x1c], 0), None, "reserved additional info");
        assert_eq!(cbor_item_end(&[0xff], 0), None, "a lone break");
        assert_eq!(cbor_item_end(&[0x81; 100], 0), None, "nesting too deep");
    }

    #[test]
    fn blocks_hold_several_records_addressed_by_slot() {
        let key = StoreKey::generate().expect("key");
        let sealer = key.sealer(b"t");
        let records: Vec<Vec<u8>> = (0..5u8)
            .map(|i| {
                cbor(&Record::Device {
                    lsn: u64::from(i),
                    key: vec![i; 40],
                })
                .expect("cbor")
            })
            .collect();
        let frame = seal_block(&sealer, &records).expect("seal");
        let block = Block::open(&sealer, &frame).expect("open");
        assert_eq!(block.len(), 5);
        for (i, want) in records.iter().enumerate() {
            let slot = i as u16;
            assert_eq!(block.raw(slot).expect("raw"), want.as_slice());
            assert_eq!(block.get::<Record>(slot).expect("get").lsn(), i as u64);
        }
        assert!(block.get::<Record>(5).is_err(), "no sixth record");
        for cut in 0..frame.len() {
            assert!(Block::open(&sealer, &frame[..cut]).is_err(), "cut at {cut}");
        }
        // A frame of one record, as format 2 wrote every frame, is a block of one.
        let single = seal_frame(
            &sealer,
            CTX_FRAME,
            &Record::Device {
                lsn: 3,
                key: vec![],
            },
        )
        .expect("seal");
        let one = Block::open(&sealer, &single).expect("open");
        assert_eq!(
            (one.len(), one.get::<Record>(0).expect("get").lsn()),
            (1, 3)
        );
        // Empty and oversized blocks are refused when sealing and when opening.
        assert!(seal_block(&sealer, &[]).is_err());
        let many = vec![records[0].clone(); BLOCK_RECORDS + 1];
        assert!(seal_block(&sealer, &many).is_err());
        let sealed =
            seal_body(&sealer, CTX_FRAME, many.concat(), Compression::fast()).expect("seal");
        assert!(Block::open(&sealer, &sealed).is_err());
        let empty = seal_body(&sealer, CTX_FRAME, Vec::new(), Compression::fast()).expect("seal");
        assert!(Block::open(&sealer, &empty).is_err());
        // Bytes after the last record that are not a whole CBOR item are refused.
        let mut trailing = records.concat();
        trailing.push(0x5f);
        let sealed = seal_body(&sealer, CTX_FRAME, trailing, Compression::fast()).expect("seal");
        assert!(Block::open(&sealer, &sealed).is_err());
    }
}
