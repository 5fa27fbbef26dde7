//! The in-memory index of a store and its on-disk snapshot.
//!
//! The index holds each case's summary and where its document chunks are, so that
//! opening and listing read one file and never a case's history. It is a cache of
//! what the frames say: [`Index::apply`] replays a frame's record into it, and the
//! same function rebuilds the whole index from packs and journals if a snapshot is lost.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::format::{Hash, Record, Tombstone};
use crate::model::{CaseId, CaseSummary};

/// Marks a location in the current journal rather than in a pack.
pub(crate) const JOURNAL: u32 = u32::MAX;

/// Where a frame is: pack number (or [`JOURNAL`]), byte offset, total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Loc(pub(crate) u32, pub(crate) u64, pub(crate) u32);

impl Loc {
    pub(crate) fn file(self) -> u32 {
        self.0
    }
    pub(crate) fn offset(self) -> u64 {
        self.1
    }
    pub(crate) fn len(self) -> u32 {
        self.2
    }
}

/// One live case: its summary and the frames that make up its document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(rename = "s")]
    pub(crate) summary: CaseSummary,
    #[serde(rename = "f")]
    pub(crate) frames: Vec<Loc>,
    #[serde(rename = "l")]
    pub(crate) lsn: u64,
    /// The document's current heads (for sync inventories without loading it).
    #[serde(rename = "h", default)]
    pub(crate) heads: Vec<Hash>,
    /// Superseded frames still in some file: they hold older versions of the case,
    /// so erasure must purge them too. Dropped when their file is rewritten.
    #[serde(rename = "o", default)]
    pub(crate) old: Vec<Loc>,
}

/// The index of a store.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Generation of the snapshot this index was loaded from or last written as.
    pub(crate) gen: u64,
    /// This device's identity key (PKCS#8), wiped from memory on drop.
    #[serde(with = "serde_bytes")]
    pub(crate) device_key: Vec<u8>,
    /// Frames that are not case chunks but must be kept (device, tombstones).
    pub(crate) meta_frames: Vec<Loc>,
    /// Next log sequence number.
    pub(crate) next_lsn: u64,
    /// Number the next pack file gets.
    pub(crate) next_pack: u32,
    /// Pack files that hold live frames.
    pub(crate) packs: Vec<u32>,
    /// Live cases.
    pub(crate) cases: HashMap<CaseId, Entry>,
    /// Erased cases, kept forever.
    pub(crate) tombstones: BTreeMap<CaseId, Tombstone>,
}

impl Index {
    /// Replays one record found at `loc`. Returns the frames of a case it erased, so
    /// the caller can purge them from the files.
    pub(crate) fn apply(&mut self, record: Record, loc: Loc) -> Vec<Loc> {
        self.next_lsn = self.next_lsn.max(record.lsn() + 1);
        match record {
            Record::Put { lsn, case, full, summary, heads, .. } => {
                if self.tombstones.contains_key(&case) {
                    return vec![loc];
                }
                let entry = self
                    .cases
                    .entry(case)
                    .or_insert_with(|| Entry {
                        summary: summary.clone(),
                        frames: Vec::new(),
                        lsn,
                        heads: Vec::new(),
                        old: Vec::new(),
                    });
                if full {
                    let superseded: Vec<Loc> = entry.frames.drain(..).collect();
                    entry.old.extend(superseded);
                }
                entry.frames.push(loc);
                if lsn >= entry.lsn {
                    entry.summary = summary;
                    entry.lsn = lsn;
                    entry.heads = heads;
                }
                Vec::new()
            }
            Record::Erase { tombstone, .. } => {
                let purged = self
                    .cases
                    .remove(&tombstone.case)
                    .map(|e| e.frames.into_iter().chain(e.old).collect())
                    .unwrap_or_default();
                self.tombstones.insert(tombstone.case, tombstone);
                self.meta_frames.push(loc);
                purged
            }
            Record::Device { key, .. } => {
                self.device_key = key;
                self.meta_frames.push(loc);
                Vec::new()
            }
        }
    }

    /// Forgets superseded frames that lived in files about to disappear.
    pub(crate) fn drop_old_frames_in(&mut self, gone: impl Fn(u32) -> bool) {
        for entry in self.cases.values_mut() {
            entry.old.retain(|l| !gone(l.file()));
        }
    }

    /// Every live frame location (case chunks and meta frames).
    pub(crate) fn live_frames(&mut self) -> impl Iterator<Item = &mut Loc> {
        self.meta_frames.iter_mut().chain(self.cases.values_mut().flat_map(|e| e.frames.iter_mut()))
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.device_key);
    }
}
