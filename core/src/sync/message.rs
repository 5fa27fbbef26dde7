//! What travels inside an envelope: a payload of signed changes, tombstones and
//! membership records, signed by the device that sent it.
//!
//! ```text
//! Signed  = { sender: bstr(32), body: bstr, sig: bstr(64) }
//!           body = 0x00 ‖ CBOR Payload, or 0x01 ‖ raw DEFLATE (RFC 1951) of CBOR Payload
//!           sig = Ed25519(sender, "caravan/message/v1" ‖ routing tag ‖ epoch u32 BE ‖ body)
//! Payload = { cases: [CaseChanges], tombstones: [Tombstone], members: [MemberRecord],
//!             live: LiveHeader? }
//! CaseChanges = { case: bstr(16), doc: bstr?, changes: [bstr], sigs: [bstr(64)], heads: [bstr(32)] }
//! ```
//!
//! The signature covers the body as sent, so a compressed body is authenticated before it
//! is inflated, and inflating stops at [`MAX_PAYLOAD`] bytes (no decompression bombs).
//! Bodies are compressed when that makes them smaller: whole case documents share most
//! of their structure, so a first sync shrinks several times (`docs/protocol.md`).
//!
//! `doc` carries whole-document chunks for a case the recipient does not have;
//! `changes` carries individual Automerge changes. Every change in either has an author
//! signature (`sigs`, in change order); the receiver checks each against the member
//! whose actor id wrote it, so authorship survives forwarding.

use serde::{Deserialize, Serialize};

use super::envelope::{self, EpochKey};
use super::group::MemberRecord;
use crate::codec::{B32, B64};
use crate::error::{Error, Result};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::ids::Hash;
use crate::model::CaseId;
use crate::tombstone::Tombstone;

/// Limits checked before anything large is allocated or parsed further.
pub(crate) const MAX_CASES_PER_MESSAGE: usize = 1_000_000;

/// The largest payload a compressed body may inflate to.
pub(crate) const MAX_PAYLOAD: usize = 256 << 20;

/// Body encodings (the body's first byte).
const BODY_CBOR: u8 = 0;
const BODY_DEFLATE: u8 = 1;

/// Bodies smaller than this are sent uncompressed.
const COMPRESS_FROM: usize = 256;

/// Encodes a payload as a message body: CBOR, deflated when that is smaller.
pub(crate) fn encode_body(payload: &Payload) -> Result<Vec<u8>> {
    let cbor = crate::codec::cbor(payload)?;
    if cbor.len() >= COMPRESS_FROM {
        let mut z = vec![BODY_DEFLATE];
        z.extend(deflate(&cbor)?);
        if z.len() < cbor.len() + 1 {
            return Ok(z);
        }
    }
    let mut body = Vec::with_capacity(cbor.len() + 1);
    body.push(BODY_CBOR);
    body.extend_from_slice(&cbor);
    Ok(body)
}

/// Bodies from this size on are deflated in parts on several cores.
const PARALLEL_DEFLATE_FROM: usize = 1 << 20;
/// The window DEFLATE may refer back to: each part starts knowing this much of the
/// part before it.
const WINDOW: usize = 32 * 1024;

/// Raw DEFLATE of `data` at the default level. A large body (a first sync) is cut into
/// one part per core, each compressed knowing the 32 KiB before it (as `pigz` does);
/// all parts but the last end on a byte boundary without a final block, so the parts
/// joined are one ordinary DEFLATE stream, decoded as usual.
fn deflate(data: &[u8]) -> Result<Vec<u8>> {
    let parts = if data.len() < PARALLEL_DEFLATE_FROM {
        1
    } else {
        crate::parallel::threads()
            .min(data.len() / (PARALLEL_DEFLATE_FROM / 2))
            .max(1)
    };
    let size = data.len().div_ceil(parts);
    let part = |i: usize| -> Result<Vec<u8>> {
        let start = i * size;
        let end = (start + size).min(data.len());
        let last = end == data.len();
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        if start > 0 {
            c.set_dictionary(&data[start.saturating_sub(WINDOW)..start])
                .map_err(|e| Error::Internal(format!("deflate: {e}")))?;
        }
        let flush = if last {
            flate2::FlushCompress::Finish
        } else {
            flate2::FlushCompress::Sync
        };
        let input = &data[start..end];
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            let status = c
                .compress_vec(&input[consumed..], &mut out, flush)
                .map_err(|e| Error::Internal(format!("deflate: {e}")))?;
            let done = c.total_in() as usize == input.len() && out.len() < out.capacity();
            if status == flate2::Status::StreamEnd || (!last && done) {
                return Ok(out);
            }
            out.reserve(out.capacity().max(4096));
        }
    };
    let compressed = crate::parallel::par_map_from((0..parts).collect(), 2, part);
    let mut out = Vec::new();
    for p in compressed {
        out.extend(p?);
    }
    Ok(out)
}

/// Decodes a message body (already authenticated) into a payload.
pub(crate) fn decode_body(body: &[u8]) -> Result<Payload> {
    let parse = |cbor: &[u8]| -> Result<Payload> {
        let mut reader = cbor;
        let payload: Payload = ciborium::from_reader(&mut reader)
            .map_err(|_| Error::rejected("payload does not parse"))?;
        if !reader.is_empty() {
            return Err(Error::rejected("trailing bytes after the payload"));
        }
        Ok(payload)
    };
    match body.split_first() {
        Some((&BODY_CBOR, cbor)) => parse(cbor),
        Some((&BODY_DEFLATE, z)) => {
            let mut cbor = Vec::new();
            let mut inflater =
                std::io::Read::take(flate2::read::DeflateDecoder::new(z), MAX_PAYLOAD as u64 + 1);
            std::io::Read::read_to_end(&mut inflater, &mut cbor)
                .map_err(|_| Error::rejected("the compressed payload does not inflate"))?;
            if cbor.len() > MAX_PAYLOAD {
                return Err(Error::rejected(
                    "the payload inflates beyond the size limit",
                ));
            }
            parse(&cbor)
        }
        Some(_) => Err(Error::rejected(
            "the payload uses an encoding this build does not know; update Caravan",
        )),
        None => Err(Error::rejected("empty message body")),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Signed {
    sender: B32,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    sig: B64,
}

/// The changes of one case in a payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CaseChanges {
    pub(crate) case: CaseId,
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) doc: Option<Vec<u8>>,
    #[serde(default)]
    pub(crate) changes: Vec<serde_bytes::ByteBuf>,
    #[serde(default)]
    pub(crate) sigs: Vec<B64>,
    #[serde(default)]
    pub(crate) heads: Vec<Hash>,
}

/// Live-session fields of a payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct LiveHeader {
    pub(crate) session: [u8; 16],
    pub(crate) step: u8,
    /// Digest of the state both sides agreed on after their last sync, if any.
    #[serde(default)]
    pub(crate) base: Option<B32>,
    /// Every case's heads, when the peer cannot compute a delta.
    #[serde(default)]
    pub(crate) inventory: Option<Vec<(CaseId, Vec<Hash>)>>,
    /// Digest of the sender's tombstones and membership records.
    pub(crate) meta_digest: B32,
    /// The sender has nothing more to send after this message.
    pub(crate) last: bool,
}

/// The body of every message.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Payload {
    #[serde(default)]
    pub(crate) cases: Vec<CaseChanges>,
    #[serde(default)]
    pub(crate) tombstones: Vec<Tombstone>,
    #[serde(default)]
    pub(crate) members: Vec<MemberRecord>,
    #[serde(default)]
    pub(crate) live: Option<LiveHeader>,
    /// Key updates only (decision 0016): the current epoch's key sealed to each member
    /// (`(epoch, sealed)`, recipients not named; each opens only for its own device).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keys: Vec<(u32, serde_bytes::ByteBuf)>,
    /// Mailbox bundles only (protocol section 15.2): which file of which outbox this
    /// is, and whether it holds everything its writer had. Signed with the rest, so a
    /// reader credits what it opened, not a file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mailbox: Option<MailboxTag>,
}

/// What a mailbox bundle says of itself (inside the signed payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MailboxTag {
    /// The outbox it was written into.
    #[serde(rename = "outbox")]
    pub(crate) outbox: String,
    /// Its number there.
    #[serde(rename = "number")]
    pub(crate) number: u64,
    /// Whether it holds everything its writer had (no base position): a reader that
    /// imported it may count every earlier number of that outbox as read.
    #[serde(rename = "everything")]
    pub(crate) everything: bool,
}

impl MailboxTag {
    /// Whether the tag names the mailbox file `number` of `outbox`.
    pub(crate) fn names(&self, outbox: &str, number: u64) -> bool {
        self.outbox == outbox && self.number == number
    }
}

fn signed_message(key: &EpochKey, body: &[u8]) -> Vec<u8> {
    [
        b"caravan/message/v1".as_slice(),
        &key.routing_tag(),
        &key.epoch.to_be_bytes(),
        body,
    ]
    .concat()
}

/// Signs and seals a payload.
pub(crate) fn seal(key: &EpochKey, me: &DeviceIdentity, payload: &Payload) -> Result<Vec<u8>> {
    let body = encode_body(payload)?;
    let sig = B64(me.sign(&signed_message(key, &body)));
    let signed = Signed {
        sender: B32(me.id().0),
        body,
        sig,
    };
    envelope::seal(key, &crate::codec::cbor(&signed)?)
}

/// Opens an envelope with whichever key `key_for` returns for its tag and epoch,
/// checks the sender's signature and decodes the payload. Membership of the sender
/// is checked by the caller (after merging membership records the payload carries).
pub(crate) fn open(
    bytes: &[u8],
    key_for: impl Fn(&[u8; 16], u32) -> Option<EpochKey>,
) -> Result<(DeviceId, Payload)> {
    let parsed = envelope::parse(bytes)?;
    let key = key_for(&parsed.header.tag, parsed.header.epoch).ok_or(Error::NotForThisDevice)?;
    let plain = envelope::open(&parsed, &key)?;
    let signed: Signed = ciborium::from_reader(plain.as_slice())
        .map_err(|_| Error::rejected("message does not parse"))?;
    let sender = DeviceId(signed.sender.0);
    if !sender.verify(&signed_message(&key, &signed.body), &signed.sig.0) {
        return Err(Error::rejected("the sender's signature does not verify"));
    }
    let payload = decode_body(&signed.body)?;
    if payload.cases.len() > MAX_CASES_PER_MESSAGE {
        return Err(Error::rejected("too many cases in one message"));
    }
    for c in &payload.cases {
        let n = c.changes.len();
        if c.doc.is_none() && c.sigs.len() != n {
            return Err(Error::rejected(
                "every change needs exactly one author signature",
            ));
        }
    }
    Ok((sender, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that compress a little, like a first sync's changes: records from a small
    /// vocabulary with varying numbers.
    fn sample(len: usize) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"ForcedLabour ",
            b"KZ ",
            b"Construction ",
            b"DebtBondage ",
            b"KG ",
            b"Active ",
        ];
        let mut out = Vec::with_capacity(len + 16);
        let mut x: u64 = 7;
        while out.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.extend_from_slice(words[(x >> 60) as usize % words.len()]);
            out.extend_from_slice(&(x >> 40).to_le_bytes()[..3]);
        }
        out.truncate(len);
        out
    }

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(z), &mut out)
            .expect("one valid DEFLATE stream");
        out
    }

    #[test]
    fn bodies_deflated_in_parts_are_one_ordinary_stream() {
        for len in [
            300,
            PARALLEL_DEFLATE_FROM - 1,
            PARALLEL_DEFLATE_FROM,
            3 * PARALLEL_DEFLATE_FROM + 12_345,
        ] {
            let data = sample(len);
            let z = deflate(&data).expect("deflate");
            assert_eq!(inflate(&z), data, "length {len}");
            // Parts that know the window before them compress about as well as one part.
            let mut one =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut one, &data).expect("write");
            let one = one.finish().expect("finish");
            assert!(
                z.len() <= one.len() + one.len() / 50 + 64,
                "{} against {}",
                z.len(),
                one.len()
            );
        }
    }
}
