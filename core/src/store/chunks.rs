//! A case's stored changes, sent as they are: the bytes of a record are Automerge
//! chunks one after another, and a case written as changes (see
//! [`crate::model::CaseDoc::unsaved_changes`]) can go to a peer that lacks it without
//! loading its document: split the chunks, check each against the signature stored
//! beside it, send.
//!
//! An Automerge chunk (binary format, "chunk container") is: the magic bytes
//! `85 6f 4a 83`, a 4-byte checksum, a type byte (0 document, 1 change, 2 compressed
//! change), the data length as unsigned LEB128, the data. A change's hash is the
//! SHA-256 of everything after the checksum, so for an (uncompressed) change chunk it
//! is computed here from the bytes alone.
//!
//! Anything else (a compacted document, a compressed change, a signature that does not
//! belong to the chunk at its place) returns `None`, and the caller loads the document
//! instead. The peer verifies every change and signature anyway; this only has to be
//! right for what this device stored itself.

use crate::model::ChangeSig;

/// The magic bytes that open every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of an uncompressed change.
const CHANGE: u8 = 1;

/// Splits `bytes` into change chunks, each with the signature at the same place in
/// `sigs` after checking that it is that change's: `None` unless every chunk is an
/// uncompressed change and `sigs` holds exactly their signatures in their order.
pub(crate) fn signed_changes<'a>(
    bytes: &'a [u8],
    sigs: &[ChangeSig],
) -> Option<Vec<(&'a [u8], [u8; 64])>> {
    let mut out = Vec::with_capacity(sigs.len());
    let mut rest = bytes;
    let mut sigs = sigs.iter();
    while !rest.is_empty() {
        let (chunk, after) = next_change_chunk(rest)?;
        let sig = sigs.next()?;
        let hash = crate::crypto::sha256(&chunk[8..]);
        if hash.as_ref() != sig.0 {
            return None;
        }
        out.push((chunk, sig.1));
        rest = after;
    }
    if sigs.next().is_some() {
        return None;
    }
    Some(out)
}

/// The first chunk of `bytes` if it is an uncompressed change, and what follows it.
fn next_change_chunk(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    if bytes.get(..4)? != MAGIC || *bytes.get(8)? != CHANGE {
        return None;
    }
    let (len, leb) = super::leb128::read(bytes.get(9..)?)?;
    let len = usize::try_from(len).ok()?;
    let end = 9usize.checked_add(leb)?.checked_add(len)?;
    (end <= bytes.len()).then(|| bytes.split_at(end))
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    /// A document with `n` changes: their chunks one after another, and fake
    /// signatures (the hash's first byte repeated) in the same order.
    fn changes(n: usize) -> (Vec<u8>, Vec<ChangeSig>) {
        let mut doc = AutoCommit::new();
        for i in 0..n {
            doc.put(ROOT, "k", i as u64).expect("put");
            doc.put(ROOT, "text", "x".repeat(300 * (i % 2)))
                .expect("put");
            doc.commit();
        }
        let mut bytes = Vec::new();
        let mut sigs = Vec::new();
        for c in doc.get_changes(&[]) {
            bytes.extend_from_slice(c.raw_bytes());
            sigs.push(ChangeSig(c.hash().0, [c.hash().0[0]; 64]));
        }
        (bytes, sigs)
    }

    #[test]
    fn changes_split_with_their_own_signatures() {
        let (bytes, sigs) = changes(3);
        let split = signed_changes(&bytes, &sigs).expect("splits");
        assert_eq!(split.len(), 3);
        for ((chunk, sig), stored) in split.iter().zip(&sigs) {
            let change = automerge::Change::from_bytes(chunk.to_vec()).expect("a change");
            assert_eq!(change.hash().0, stored.0);
            assert_eq!(*sig, stored.1);
        }
        assert_eq!(
            split.iter().map(|(c, _)| c.len()).sum::<usize>(),
            bytes.len()
        );
    }

    #[test]
    fn anything_else_is_left_to_the_document() {
        let (bytes, sigs) = changes(3);
        // signatures out of order, missing, or one too many
        let mut swapped = sigs.clone();
        swapped.swap(0, 1);
        assert!(signed_changes(&bytes, &swapped).is_none());
        assert!(signed_changes(&bytes, &sigs[..2]).is_none());
        let mut extra = sigs.clone();
        extra.push(sigs[0].clone());
        assert!(signed_changes(&bytes, &extra).is_none());
        // a compacted document, a truncated chunk, trailing garbage
        let mut doc = AutoCommit::load(&bytes).expect("load");
        assert!(signed_changes(&doc.save(), &sigs).is_none());
        assert!(signed_changes(&bytes[..bytes.len() - 1], &sigs).is_none());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(signed_changes(&longer, &sigs).is_none());
        // a compressed change chunk (the second change is large enough to compress)
        let (big, big_sigs) = changes(2);
        let second = signed_changes(&big, &big_sigs).expect("splits")[1]
            .0
            .to_vec();
        let mut second = automerge::Change::from_bytes(second).expect("second");
        let compressed = second.bytes().into_owned();
        assert_ne!(compressed, second.raw_bytes(), "compressed");
        assert!(signed_changes(&compressed, &big_sigs[1..]).is_none());
    }

    #[test]
    fn length_fields_never_overflow() {
        let mut huge = MAGIC.to_vec();
        huge.extend([0, 0, 0, 0, CHANGE]);
        huge.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(next_change_chunk(&huge).is_none());
    }
}
