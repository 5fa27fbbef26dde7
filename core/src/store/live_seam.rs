//! Test-only views of a store's live-session memory, for the live-session vectors
//! (`sync::vectors_live`): what docs/protocol.md section 13.1 says a device keeps.

use super::*;
use crate::codec::B32;
use crate::sync::{DeviceId, GroupState};

/// What a device keeps about one peer (section 13.1), and its own state map.
pub(crate) struct LiveMemory {
    /// Its own state map, sorted by case id (live cases' heads, erased cases empty).
    pub(crate) state: Vec<(CaseId, Vec<[u8; 32]>)>,
    /// `peers[peer]`, sorted by case id.
    pub(crate) peer_state: Option<Vec<(CaseId, Vec<[u8; 32]>)>>,
    /// `peer_meta[peer]`.
    pub(crate) peer_meta: Option<[u8; 32]>,
    /// `last_peer`.
    pub(crate) last_peer: Option<[u8; 32]>,
}

impl Store {
    /// This device's live-session memory about `peer`.
    pub(crate) fn live_memory(&self, peer: &DeviceId) -> LiveMemory {
        let sorted = |m: &index::HeadsMap| {
            let mut v: Vec<(CaseId, Vec<[u8; 32]>)> = m
                .iter()
                .map(|(c, hs)| (*c, hs.iter().map(|h| h.0).collect()))
                .collect();
            v.sort();
            v
        };
        let mut state: index::HeadsMap = self
            .index
            .cases
            .iter()
            .map(|(id, e)| (*id, e.heads.clone()))
            .collect();
        for id in self.index.tombstones.keys() {
            state.insert(*id, Vec::new());
        }
        let key = B32(peer.0);
        LiveMemory {
            state: sorted(&state),
            peer_state: self.index.sync.peers.get(&key).map(sorted),
            peer_meta: self.index.sync.peer_meta.get(&key).map(|m| m.0),
            last_peer: self.index.sync.last_peer.map(|p| p.0),
        }
    }

    /// The group state, for the vectors' keys and records.
    pub(crate) fn group_for_vectors(&self) -> &GroupState {
        self.index.sync.group.as_ref().expect("a group")
    }
}
