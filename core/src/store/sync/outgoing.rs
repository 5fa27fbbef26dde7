//! What this device sends: its state (every case's heads), and the payload a peer
//! whose state is known (or unknown) lacks, read in storage order on all cores.

use std::collections::BTreeSet;

use automerge::{Change, ChangeHash};
use serde_bytes::ByteBuf;

use crate::codec::B64;
use crate::model::ChangeSig;
use crate::parallel::{chunked, par_map};
use crate::store::index::{HeadsMap, PendingChange};
use crate::store::*;
use crate::sync::{CaseChanges, Payload};

impl Store {
    /// Every case's heads, and erased cases with no heads: the state peers compare.
    pub(super) fn state(&self) -> HeadsMap {
        let mut m: HeadsMap = self
            .index
            .cases
            .iter()
            .map(|(id, e)| (*id, e.heads.clone()))
            .collect();
        for id in self.index.tombstones.keys() {
            m.insert(*id, Vec::new());
        }
        m
    }

    /// Entries of the current state that differ from `base`.
    pub(in crate::store) fn state_updates(
        &self,
        base: Option<&HeadsMap>,
    ) -> Vec<(CaseId, Vec<Hash>)> {
        let mut v: Vec<(CaseId, Vec<Hash>)> = self
            .state()
            .into_iter()
            .filter(|(id, h)| base.and_then(|b| b.get(id)) != Some(h))
            .collect();
        v.sort();
        v
    }

    /// The payload a peer whose state is `base` lacks (`None`: everything).
    pub(in crate::store) fn payload_since(
        &mut self,
        base: Option<&HeadsMap>,
        members: Members,
    ) -> Result<Payload> {
        // The cases the peer lacks (None: all of it), read in storage order so that
        // a block of many cases is opened once, on all cores.
        let mut work: Vec<(CaseId, Option<Vec<Hash>>, FrameKey)> = Vec::new();
        let mut whole = false;
        for (id, entry) in &self.index.cases {
            match base.and_then(|b| b.get(id)) {
                Some(theirs) if *theirs == entry.heads => {}
                theirs => {
                    whole |= theirs.is_none();
                    let key = entry.frames.first().map_or((0, 0), |l| l.frame_key());
                    work.push((*id, theirs.cloned(), key));
                }
            }
        }
        work.sort_by_key(|(id, _, key)| (*key, *id));
        let mut cached: HashMap<CaseId, CaseDoc> = HashMap::new();
        for (id, _, _) in &work {
            if let Some(doc) = self.cache.remove(id) {
                cached.insert(*id, doc);
            }
        }
        self.cache_order.retain(|c| !cached.contains_key(c));
        let work: Vec<ToRead> = work
            .into_iter()
            .map(|(id, theirs, _)| {
                let doc = cached.remove(&id);
                (id, theirs, doc)
            })
            .collect();
        let chunks = chunked(work, 64);
        let this = &*self;
        let read =
            par_map(chunks, |chunk| {
                let mut blocks = HashMap::new();
                chunk
                .into_iter()
                .map(|(id, theirs, doc)| -> Result<(CaseChanges, Vec<[u8; 16]>, Option<CaseDoc>)> {
                    let was_cached = doc.is_some();
                    let mut doc = match (doc, &theirs) {
                        (Some(d), _) => d,
                        (None, None) => {
                            // The peer lacks the whole case: send its changes as stored
                            // if they are (no document to load).
                            let (bytes, sigs) = this.read_stored(&id, &mut blocks)?;
                            if let Some(delta) = this.stored_delta(&id, &bytes, &sigs) {
                                return Ok((delta, Vec::new(), None));
                            }
                            CaseDoc::load(id, &bytes, sigs, this.actor.clone())?
                        }
                        (None, Some(_)) => this.read_doc_with(&id, &mut blocks)?,
                    };
                    let (delta, actors) = delta_of(&id, &mut doc, theirs.as_deref().unwrap_or(&[]));
                    Ok((delta, actors, was_cached.then_some(doc)))
                })
                .collect::<Vec<_>>()
            });
        let mut cases = Vec::with_capacity(read.iter().map(Vec::len).sum());
        let mut authors: BTreeSet<[u8; 16]> = BTreeSet::new();
        let mut back = Vec::new();
        let mut failed = None;
        for item in read.into_iter().flatten() {
            match item {
                Ok((delta, actors, doc)) => {
                    if !whole {
                        authors.extend(actors);
                    }
                    if let Some(doc) = doc {
                        back.push((delta.case, doc));
                    }
                    cases.push(delta);
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        for (id, doc) in back {
            self.cache_put(id, doc);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        // Quarantined changes travel too, so that every device, coordinators
        // included, ends up holding what any device holds (decision 0020): a device
        // that applied them before it knew of the cut moves them into its quarantine,
        // and a coordinator holds them to decide.
        for (id, q) in &self.index.sync.quarantine {
            if self.index.tombstones.contains_key(id) {
                continue;
            }
            let at = match cases.iter().position(|c| c.case == *id) {
                Some(i) => i,
                None => {
                    cases.push(CaseChanges {
                        case: *id,
                        doc: None,
                        sigs: Vec::new(),
                        changes: Vec::new(),
                        heads: self
                            .index
                            .cases
                            .get(id)
                            .map(|e| e.heads.clone())
                            .unwrap_or_default(),
                    });
                    cases.len() - 1
                }
            };
            for PendingChange(bytes, sig) in q {
                if !whole {
                    if let Ok(c) = Change::from_bytes(bytes.clone()) {
                        if let Ok(a) = <[u8; 16]>::try_from(c.actor_id().to_bytes()) {
                            authors.insert(a);
                        }
                    }
                }
                cases[at].changes.push(ByteBuf::from(bytes.clone()));
                cases[at].sigs.push(*sig);
            }
        }
        cases.sort_by_key(|c| c.case);
        let tombstones = self
            .index
            .tombstones
            .values()
            .filter(|t| {
                base.and_then(|b| b.get(&t.case))
                    .is_none_or(|h| !h.is_empty())
            })
            .cloned()
            .collect();
        let group = self.group()?;
        let members = if members == Members::All || whole {
            group.records.iter().cloned().collect()
        } else if members == Members::Nothing {
            Vec::new()
        } else {
            // The recipient must be able to check every author of what we forward, and us.
            let view = group.view();
            let mut proof = group.proof_of(&self.identity.id());
            for actor in authors {
                if let Some((d, _)) = view.by_actor(&actor) {
                    for r in group.proof_of(&d) {
                        if !proof.contains(&r) {
                            proof.push(r);
                        }
                    }
                }
            }
            proof
        };
        Ok(Payload {
            cases,
            tombstones,
            members,
            live: None,
            keys: Vec::new(),
            mailbox: None,
        })
    }

    /// All of a case's changes as stored, for a peer that lacks the case, if it is
    /// stored as signed changes (see [`crate::store::chunks`]). The authors are not needed:
    /// such a payload carries the whole membership log.
    fn stored_delta(&self, id: &CaseId, bytes: &[u8], sigs: &[ChangeSig]) -> Option<CaseChanges> {
        let changes = chunks::signed_changes(bytes, sigs)?;
        Some(CaseChanges {
            case: *id,
            doc: None,
            sigs: changes.iter().map(|(_, s)| B64(*s)).collect(),
            changes: changes
                .iter()
                .map(|(c, _)| ByteBuf::from(c.to_vec()))
                .collect(),
            heads: self.index.cases.get(id)?.heads.clone(),
        })
    }
}

/// The changes of a case after heads `theirs` (individual changes, with their
/// signatures, rather than the saved document: raw changes of many cases compress
/// together several times better in a message body), and the actors who wrote them.
fn delta_of(id: &CaseId, doc: &mut CaseDoc, theirs: &[Hash]) -> (CaseChanges, Vec<[u8; 16]>) {
    let known: Vec<ChangeHash> = theirs
        .iter()
        .map(|h| ChangeHash(h.0))
        .filter(|h| doc.has_change(h))
        .collect();
    let changes = doc.changes_since(&known);
    let heads = doc.heads().into_iter().map(|h| Hash(h.0)).collect();
    let actors = changes
        .iter()
        .filter_map(|(c, _)| <[u8; 16]>::try_from(c.actor_id().to_bytes()).ok())
        .collect();
    let delta = CaseChanges {
        case: *id,
        doc: None,
        sigs: changes.iter().map(|(_, s)| B64(*s)).collect(),
        changes: changes
            .into_iter()
            .map(|(c, _)| ByteBuf::from(c.raw_bytes().to_vec()))
            .collect(),
        heads,
    };
    (delta, actors)
}

/// A frame's file and offset.
type FrameKey = (u32, u64);

/// A case to read for a peer: the peer's heads of it (`None`: it has none) and the
/// document, if it was in the cache.
type ToRead = (CaseId, Option<Vec<Hash>>, Option<CaseDoc>);

/// Which membership records a payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Members {
    /// The whole membership log: the recipient may know nothing of the group.
    All,
    /// The proofs of membership of the sender and of every author of forwarded changes.
    Proofs,
    /// None: the recipient has the same membership log as we do.
    Nothing,
}

impl Members {
    /// Everything if the peer's records differ, nothing otherwise.
    pub(super) fn all_if(differs: bool) -> Self {
        if differs {
            Members::All
        } else {
            Members::Nothing
        }
    }
}
