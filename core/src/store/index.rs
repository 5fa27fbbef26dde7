//! The in-memory index of a store and its on-disk snapshot.
//!
//! The index holds each case's summary and where its document chunks are, so that
//! opening and listing read one file and never a case's history. It is a cache of
//! what the frames say: [`Index::apply`] replays a frame's record into it, and the
//! same function rebuilds the whole index from packs and journals if a snapshot is lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::format::Record;

use crate::ids::Hash;

use crate::codec::{B32, B64};
use crate::model::{CaseId, CaseSummary};
use crate::sync::GroupState;
use crate::tombstone::Tombstone;

/// Marks a location in the current journal rather than in a pack.
pub(crate) const JOURNAL: u32 = u32::MAX;
/// Marks a record that was in an unreadable frame which compaction did not keep
/// because it also held an erased case: reading it fails with `Corrupted`.
pub(crate) const LOST: u32 = u32::MAX - 1;

/// Where a record is: pack number (or [`JOURNAL`]), byte offset and total length of
/// its frame, and its slot in the frame's block (0 for a frame of one record).
///
/// Stored as `[file, offset, len]` when the slot is 0 (as format 2 stored every
/// location) and `[file, offset, len, slot]` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Loc(
    pub(crate) u32,
    pub(crate) u64,
    pub(crate) u32,
    pub(crate) u16,
);

impl Loc {
    /// A frame of one record.
    pub(crate) fn frame(file: u32, offset: u64, len: u32) -> Loc {
        Loc(file, offset, len, 0)
    }
    pub(crate) fn file(self) -> u32 {
        self.0
    }
    pub(crate) fn offset(self) -> u64 {
        self.1
    }
    pub(crate) fn len(self) -> u32 {
        self.2
    }
    pub(crate) fn slot(self) -> u16 {
        self.3
    }
    /// The frame this record is in (file and offset).
    pub(crate) fn frame_key(self) -> (u32, u64) {
        (self.0, self.1)
    }
}

impl Serialize for Loc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(if self.3 == 0 { 3 } else { 4 })?;
        t.serialize_element(&self.0)?;
        t.serialize_element(&self.1)?;
        t.serialize_element(&self.2)?;
        if self.3 != 0 {
            t.serialize_element(&self.3)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Loc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Loc, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Loc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a frame location of 3 or 4 numbers")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Loc, A::Error> {
                use serde::de::Error;
                let file = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let offset = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let len = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(2, &self))?;
                let slot = seq.next_element()?.unwrap_or(0);
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(5, &self));
                }
                Ok(Loc(file, offset, len, slot))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One live case: its summary and the frames that make up its document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(rename = "s", with = "super::summary_codec")]
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
    /// The digest of the request that registered the case (`add_case_once`), if any.
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<Hash>,
}

/// The index of a store.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Generation of the snapshot this index was loaded from or last written as.
    #[serde(rename = "gen")]
    pub(crate) gen: u64,
    /// This device's identity key (PKCS#8), wiped from memory on drop.
    #[serde(rename = "device_key", with = "serde_bytes")]
    pub(crate) device_key: Vec<u8>,
    /// Frames that are not case chunks but must be kept (device, tombstones).
    #[serde(rename = "meta_frames")]
    pub(crate) meta_frames: Vec<Loc>,
    /// Next log sequence number.
    #[serde(rename = "next_lsn")]
    pub(crate) next_lsn: u64,
    /// Number the next pack file gets.
    #[serde(rename = "next_pack")]
    pub(crate) next_pack: u32,
    /// Pack files that hold live frames.
    #[serde(rename = "packs")]
    pub(crate) packs: Vec<u32>,
    /// Live cases.
    #[serde(rename = "cases")]
    pub(crate) cases: HashMap<CaseId, Entry>,
    /// Erased cases, kept forever.
    #[serde(rename = "tombstones")]
    pub(crate) tombstones: BTreeMap<CaseId, Tombstone>,
    /// Sync state: group, what peers are known to have, pending changes.
    #[serde(rename = "sync", default)]
    pub(crate) sync: SyncState,
    /// Where the latest group record is (kept through compactions and rebuilds).
    #[serde(rename = "group_frame", default)]
    pub(crate) group_frame: Option<Loc>,
    /// The privacy ledger's last write (count and digest), and where its record is
    /// (kept like the group record).
    #[serde(rename = "ledger", default)]
    pub(crate) ledger: Option<(u64, Hash)>,
    /// Where the latest ledger record is.
    #[serde(rename = "ledger_frame", default)]
    pub(crate) ledger_frame: Option<Loc>,
    /// Cases that entered the index through a record in the current journal since
    /// the last end mark (never stored): the mark records their ids in place.
    #[serde(skip)]
    pub(crate) fresh: Vec<CaseId>,
    /// Cases a record replayed since the store was opened (or written since) left
    /// without an erasure, all their changes moved into the quarantine (never stored:
    /// an end mark names only cases of the current journal, whose records are replayed
    /// on opening). They are not lost.
    #[serde(skip)]
    pub(crate) unapplied: BTreeSet<CaseId>,
}

/// Heads per case.
pub(crate) type HeadsMap = HashMap<CaseId, Vec<Hash>>;

/// What this device remembers for sync. Only the group is needed to rebuild a store;
/// the rest is an optimisation that falls back to a full exchange if lost.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SyncState {
    #[serde(rename = "group")]
    pub(crate) group: Option<GroupState>,
    /// For each peer device: the heads of every case as of the last completed sync.
    #[serde(rename = "peers")]
    pub(crate) peers: BTreeMap<B32, HeadsMap>,
    /// Heads as of the last bundle exported "since last time", per export target.
    #[serde(rename = "cursors")]
    pub(crate) cursors: BTreeMap<String, HeadsMap>,
    /// Verified changes waiting for their dependencies, per case.
    #[serde(rename = "pending")]
    pub(crate) pending: HashMap<CaseId, Vec<PendingChange>>,
    /// Mailbox bundle files fully imported (by content hash).
    #[serde(rename = "seen")]
    pub(crate) seen: BTreeSet<B32>,
    /// Number of tombstones when this device last rewrote its mailbox outbox.
    #[serde(rename = "outbox_tombstones")]
    pub(crate) outbox_tombstones: usize,
    /// The peer of the last completed live session (the likely next one).
    #[serde(rename = "last_peer", default)]
    pub(crate) last_peer: Option<B32>,
    /// Digest of tombstones and membership records each peer had at the last sync.
    #[serde(rename = "peer_meta", default)]
    pub(crate) peer_meta: BTreeMap<B32, B32>,
    /// Verified changes by revoked devices, per case, waiting for a coordinator.
    #[serde(rename = "quarantine", default)]
    pub(crate) quarantine: BTreeMap<CaseId, Vec<PendingChange>>,
    /// Sharing agreements with partner agencies, by id.
    #[serde(rename = "agreements", default)]
    pub(crate) agreements: BTreeMap<[u8; 16], crate::sync::share::Agreement>,
    /// Per mailbox place (its cursor name): the number of tombstones when this device
    /// last rewrote its outbox there (`outbox_tombstones` is the one of stores that
    /// kept a single position for every mailbox).
    #[serde(rename = "outbox_tombstones_at", default)]
    pub(crate) outbox_tombstones_at: BTreeMap<String, usize>,
}

/// A verified change waiting for its dependencies.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PendingChange(
    #[serde(with = "serde_bytes")] pub(crate) Vec<u8>,
    pub(crate) B64,
);

/// A change to [`SyncState`], written to the journal.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum SyncDelta {
    #[serde(rename = "Group")]
    Group(GroupState),
    #[serde(rename = "Peer")]
    Peer {
        #[serde(rename = "peer")]
        peer: B32,
        #[serde(rename = "updates")]
        updates: Vec<(CaseId, Vec<Hash>)>,
        #[serde(rename = "replace")]
        replace: bool,
    },
    #[serde(rename = "Cursor")]
    Cursor {
        #[serde(rename = "name")]
        name: String,
        #[serde(rename = "updates")]
        updates: Vec<(CaseId, Vec<Hash>)>,
        #[serde(rename = "replace")]
        replace: bool,
    },
    #[serde(rename = "Pending")]
    Pending {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "changes")]
        changes: Vec<PendingChange>,
    },
    #[serde(rename = "Seen")]
    Seen {
        #[serde(rename = "bundle")]
        bundle: B32,
    },
    #[serde(rename = "OutboxTombstones")]
    OutboxTombstones(usize),
    /// The tombstone count of one mailbox place's outbox (see
    /// `SyncState::outbox_tombstones_at`).
    #[serde(rename = "OutboxTombstonesAt")]
    OutboxTombstonesAt {
        #[serde(rename = "name")]
        name: String,
        #[serde(rename = "count")]
        count: usize,
    },
    #[serde(rename = "Finished")]
    Finished {
        #[serde(rename = "peer")]
        peer: B32,
        #[serde(rename = "meta")]
        meta: B32,
    },
    #[serde(rename = "PeerMeta")]
    PeerMeta {
        #[serde(rename = "peer")]
        peer: B32,
        #[serde(rename = "meta")]
        meta: B32,
    },
    #[serde(rename = "Quarantine")]
    Quarantine {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "changes")]
        changes: Vec<PendingChange>,
    },
    #[serde(rename = "Agreement")]
    Agreement(crate::sync::share::Agreement),
    /// Every change of a case moved into the quarantine (a case a revoked device
    /// created, applied here before this device knew of the revocation): the case
    /// leaves the store, without an erasure, until a coordinator accepts it
    /// (decision 0020).
    #[serde(rename = "Unapplied")]
    Unapplied {
        #[serde(rename = "case")]
        case: CaseId,
    },
}

impl SyncState {
    pub(crate) fn apply(&mut self, delta: SyncDelta) {
        match delta {
            SyncDelta::Group(g) => self.group = Some(g),
            SyncDelta::Peer {
                peer,
                updates,
                replace,
            } => {
                let map = self.peers.entry(peer).or_default();
                if replace {
                    map.clear();
                }
                map.extend(updates);
            }
            SyncDelta::Cursor {
                name,
                updates,
                replace,
            } => {
                let map = self.cursors.entry(name).or_default();
                if replace {
                    map.clear();
                }
                map.extend(updates);
            }
            SyncDelta::Pending { case, changes } => {
                if changes.is_empty() {
                    self.pending.remove(&case);
                } else {
                    self.pending.insert(case, changes);
                }
            }
            SyncDelta::Seen { bundle } => {
                self.seen.insert(bundle);
            }
            SyncDelta::OutboxTombstones(n) => self.outbox_tombstones = n,
            SyncDelta::OutboxTombstonesAt { name, count } => {
                self.outbox_tombstones_at.insert(name, count);
            }
            SyncDelta::PeerMeta { peer, meta } => {
                self.peer_meta.insert(peer, meta);
            }
            SyncDelta::Quarantine { case, changes } => {
                if changes.is_empty() {
                    self.quarantine.remove(&case);
                } else {
                    self.quarantine.insert(case, changes);
                }
            }
            SyncDelta::Agreement(a) => {
                self.agreements.insert(a.id, a);
            }
            // The index drops the case itself (`Index::apply`).
            SyncDelta::Unapplied { .. } => {}
            SyncDelta::Finished { peer, meta } => {
                self.last_peer = Some(peer);
                self.peer_meta.insert(peer, meta);
            }
        }
    }
}

impl Index {
    /// Cases known to the store: live or erased (an erasure moves a case from one to
    /// the other, so only damage makes this number drop).
    pub(crate) fn known_cases(&self) -> u64 {
        (self.cases.len() + self.tombstones.len()) as u64
    }

    /// Replays one record found at `loc`. Returns the frames of a case it erased, so
    /// the caller can purge them from the files.
    pub(crate) fn apply(&mut self, record: Record, loc: Loc) -> Vec<Loc> {
        self.next_lsn = self.next_lsn.max(record.lsn() + 1);
        match record {
            Record::Put {
                lsn,
                case,
                full,
                summary,
                heads,
                request,
                ..
            } => {
                if self.tombstones.contains_key(&case) {
                    return vec![loc];
                }
                if loc.file() == JOURNAL && !self.cases.contains_key(&case) {
                    self.fresh.push(case);
                }
                self.unapplied.remove(&case);
                let entry = self.cases.entry(case).or_insert_with(|| Entry {
                    summary: summary.clone(),
                    frames: Vec::new(),
                    lsn,
                    heads: Vec::new(),
                    old: Vec::new(),
                    request: None,
                });
                if request.is_some() {
                    entry.request = request;
                }
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
            Record::Sync { delta, .. } => {
                if matches!(delta, SyncDelta::Group(_)) {
                    self.group_frame = Some(loc);
                }
                if let SyncDelta::Unapplied { case } = &delta {
                    self.unapplied.insert(*case);
                    return self
                        .cases
                        .remove(case)
                        .map(|e| e.frames.into_iter().chain(e.old).collect())
                        .unwrap_or_default();
                }
                self.sync.apply(delta);
                Vec::new()
            }
            Record::Ledger { writes, digest, .. } => {
                if self.ledger.is_none_or(|(w, _)| writes >= w) {
                    self.ledger = Some((writes, digest));
                    self.ledger_frame = Some(loc);
                }
                Vec::new()
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

    /// Every location the index holds, live and superseded, in an order that stays
    /// the same while the index is not otherwise changed.
    pub(crate) fn all_locs(&mut self) -> impl Iterator<Item = &mut Loc> {
        self.meta_frames
            .iter_mut()
            .chain(self.group_frame.iter_mut())
            .chain(self.ledger_frame.iter_mut())
            .chain(
                self.cases
                    .values_mut()
                    .flat_map(|e| e.frames.iter_mut().chain(e.old.iter_mut())),
            )
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.device_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::cbor;

    #[test]
    fn locations_in_slot_0_keep_the_format_2_encoding() {
        let first = Loc(3, 1 << 40, 900, 0);
        assert_eq!(
            cbor(&first).expect("cbor"),
            cbor(&(3u32, 1u64 << 40, 900u32)).expect("cbor")
        );
        let later = Loc(JOURNAL, 7, 9, 31);
        for loc in [first, later] {
            let back: Loc = ciborium::from_reader(&cbor(&loc).expect("cbor")[..]).expect("parse");
            assert_eq!(back, loc);
        }
        let short = cbor(&(1u32, 2u64)).expect("cbor");
        assert!(ciborium::from_reader::<Loc, _>(&short[..]).is_err());
        let long = cbor(&(1u32, 2u64, 3u32, 4u16, 5u8)).expect("cbor");
        assert!(ciborium::from_reader::<Loc, _>(&long[..]).is_err());
    }
}
