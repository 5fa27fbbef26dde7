//! Changes by revoked devices set aside for a coordinator (decision 0020): listing
//! them with a preview of what they would change, and accepting or rejecting them
//! (a signed decision that goes through [`Store::ingest`] like any received record).

use std::borrow::Borrow;
use std::collections::BTreeSet;

use automerge::{AutoCommit, Change};

use super::SyncReport;
use crate::codec::B32;
use crate::store::index::PendingChange;
use crate::store::*;
use crate::sync::{DeviceId, MemberOp, Payload};

/// A case with changes set aside for a coordinator: changes by a revoked device, or
/// changes that lost to another version of the same change (decision 0031).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// The case.
    pub case: CaseId,
    /// How many changes wait.
    pub changes: usize,
    /// The devices that wrote them.
    pub authors: Vec<DeviceId>,
    /// How many of them lost to another version of the same change (a phone restored
    /// from an older copy wrote twice with one number), or build on one that did:
    /// these can only be rejected.
    pub clashing: usize,
    /// Whether the changes create the case (this device does not have it).
    pub new_case: bool,
    /// The fields the changes would change, by name (e.g. `case_status`, `notes`).
    pub fields: Vec<String>,
    /// The texts of the notes the changes would add.
    pub notes: Vec<String>,
    /// For a new case, the case as the changes would create it (a few fields, no
    /// notes), to decide on; empty otherwise or if the changes do not apply alone.
    pub summary: String,
}

impl<S: Borrow<Store>> Team<S> {
    /// Changes by revoked devices that arrived after their revocation, per case,
    /// waiting for a coordinator to accept or reject them.
    pub fn quarantined(&self) -> Vec<Quarantined> {
        let store = self.store();
        let view = match store.index.sync.group.as_ref() {
            Some(g) => g.view(),
            None => return Vec::new(),
        };
        store
            .index
            .sync
            .quarantine
            .iter()
            .map(|(case, q)| {
                let mut authors = BTreeSet::new();
                for PendingChange(b, _) in q {
                    if let Ok(c) = Change::from_bytes(b.clone()) {
                        if let Some((d, _)) = view.by_actor(c.actor_id().to_bytes()) {
                            authors.insert(d);
                        }
                    }
                }
                let signed: Vec<(Change, [u8; 64])> = q
                    .iter()
                    .filter_map(|PendingChange(b, s)| {
                        Change::from_bytes(b.clone()).ok().map(|c| (c, s.0))
                    })
                    .collect();
                // Changes that lost a clash (or build on one) are previewed on the case
                // without the version kept; the others on the case as it is (red team
                // round 5: a mixed quarantine showed nothing).
                let lost = store.lost_in_quarantine(case, &signed);
                let (lost_ones, others): (Vec<_>, Vec<_>) = signed
                    .iter()
                    .cloned()
                    .partition(|(c, _)| lost.contains(&c.hash().0));
                let mut preview = store.preview_quarantined(case, &others, false);
                let rivals = store.preview_quarantined(case, &lost_ones, true);
                preview.0.extend(rivals.0);
                preview.0.sort();
                preview.0.dedup();
                preview.1.extend(rivals.1);
                if preview.2.is_empty() {
                    preview.2 = rivals.2;
                }
                let clashing = lost.len();
                Quarantined {
                    case: *case,
                    changes: q.len(),
                    authors: authors.into_iter().collect(),
                    clashing,
                    new_case: !store.index.cases.contains_key(case),
                    fields: preview.0,
                    notes: preview.1,
                    summary: preview.2,
                }
            })
            .collect()
    }
}

impl Store {
    /// What quarantined changes would change if accepted: the fields, the notes they
    /// add, and a short summary of a case they create (applied to a copy, never
    /// stored).
    fn preview_quarantined(
        &self,
        case: &CaseId,
        changes: &[(Change, [u8; 64])],
        without_rivals: bool,
    ) -> (Vec<String>, Vec<String>, String) {
        if changes.is_empty() {
            return Default::default();
        }
        let exists = self.index.cases.contains_key(case);
        let base = if exists {
            match self.read_doc(case) {
                Ok(d) if without_rivals => {
                    super::receive::clash::without_rivals(d, case, changes, &self.actor)
                }
                Ok(d) => d,
                Err(_) => return Default::default(),
            }
        } else {
            CaseDoc::empty(*case, self.actor.clone())
        };
        let before = if exists { base.record().ok() } else { None };
        let mut after_doc = base;
        let allow = |_: &mut AutoCommit, _: bool, _: &[&Change]| Ok(());
        if !matches!(after_doc.apply_verified(changes, &allow), Ok(Ok(_))) {
            return Default::default();
        }
        let Ok(after) = after_doc.record() else {
            return Default::default();
        };
        let to_map = |r: &CaseRecord| match serde_json::to_value(r) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let (b, a) = (
            before.as_ref().map(to_map).unwrap_or_default(),
            to_map(&after),
        );
        let fields = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(*v) && !matches!(k.as_str(), "id" | "created_at"))
            .filter(|(_, v)| exists || !is_empty(v))
            .map(|(k, _)| k.clone())
            .collect();
        let old_notes: BTreeSet<String> = before
            .as_ref()
            .map(|r| r.notes.iter().map(|n| n.id.clone()).collect())
            .unwrap_or_default();
        let notes = after
            .notes
            .iter()
            .filter(|n| !old_notes.contains(&n.id))
            .map(|n| n.text.clone())
            .collect();
        let summary = if exists {
            String::new()
        } else {
            a.iter()
                .filter(|(k, v)| {
                    !matches!(k.as_str(), "id" | "created_at" | "notes" | "conflicts")
                        && !is_empty(v)
                })
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        (fields, notes, summary)
    }
}

impl Team<&mut Store> {
    /// Accepts (applies) or rejects (drops) a case's quarantined changes. The decision
    /// is a signed membership record, so every device decides the same once it syncs.
    /// Coordinators only.
    pub fn resolve_quarantine(&mut self, case: &CaseId, accept: bool) -> Result<SyncReport> {
        self.0.check_writable()?;
        let q = self
            .0
            .index
            .sync
            .quarantine
            .get(case)
            .cloned()
            .ok_or_else(|| Error::invalid("case", "this case has no quarantined changes"))?;
        let mut g = self.0.group()?.clone();
        g.require_coordinator(&self.0.identity, "resolve quarantined changes")?;
        let all: Vec<Change> = q
            .iter()
            .filter_map(|PendingChange(b, _)| Change::from_bytes(b.clone()).ok())
            .collect();
        // Changes that lost a clash, or build on one, can never apply (decision 0031):
        // they can only be rejected; accepting decides the others (red team round 5:
        // accepting a note built on a lost version dropped it everywhere).
        let held: Vec<Change> = if accept {
            let signed: Vec<(Change, [u8; 64])> =
                all.iter().map(|c| (c.clone(), [0u8; 64])).collect();
            let lost = self.0.lost_in_quarantine(case, &signed);
            all.into_iter()
                .filter(|c| !lost.contains(&c.hash().0))
                .collect()
        } else {
            all
        };
        if held.is_empty() {
            return Err(cannot_accept());
        }
        if accept && self.0.index.cases.contains_key(case) {
            // Changes that reuse an author's sequence number for another change than
            // this device holds can never apply: accepting them would decide nothing.
            let mut doc = self.0.take_doc(case)?;
            let clash = doc.clashes_with(&held);
            self.0.cache_put(*case, doc);
            if clash {
                return Err(cannot_accept());
            }
        }
        let changes = held.iter().map(|c| B32(c.hash().0)).collect();
        let before = g.records.clone();
        g.append(
            &self.0.identity,
            MemberOp::Resolve {
                case: *case,
                changes,
                accept,
            },
        )?;
        let decision: Vec<_> = g.records.difference(&before).cloned().collect();
        // A case the revoked device created, rejected: erased on every device (a
        // signed erasure), so a device that applied it before it knew of the
        // revocation drops it too (decision 0020).
        let tombstones = if !accept && !self.0.index.cases.contains_key(case) {
            let mut t = Tombstone {
                case: *case,
                erased_at: Timestamp::now(),
                reason: ErasureReason::Other,
                signature: None,
            };
            let sig = self.0.identity.sign(&t.signed_bytes());
            t.signature = Some(TombstoneSignature {
                by: self.0.identity.id().0,
                sig,
            });
            vec![t]
        } else {
            Vec::new()
        };
        // The decision goes through the ingest pipeline, as if this device had sent
        // it: applied (or dropped, or withdrawn) and written in one batch.
        let me = self.0.identity.id();
        let mut report = self.0.ingest(
            me,
            Payload {
                members: decision,
                tombstones,
                ..Payload::default()
            },
        )?;
        report.members_added = 0;
        Ok(report)
    }
}

/// Whether a JSON value of a case field holds nothing (null, empty list or object).
fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

impl Store {
    /// The quarantined changes of `case` (of `q`) that can never apply: they lose a
    /// clash with what the case holds, or build on one that does (decision 0031), by
    /// the rule every device applies, with each of them taken as accepted.
    fn lost_in_quarantine(&self, case: &CaseId, q: &[(Change, [u8; 64])]) -> BTreeSet<[u8; 32]> {
        let mut held = if self.index.cases.contains_key(case) {
            match self.read_doc(case) {
                Ok(d) => d,
                Err(_) => return BTreeSet::new(),
            }
        } else {
            CaseDoc::empty(*case, self.actor.clone())
        }
        .changes_since(&[]);
        let mine: BTreeSet<[u8; 32]> = held.iter().map(|(c, _)| c.hash().0).collect();
        held.extend(
            q.iter()
                .filter(|(c, _)| !mine.contains(&c.hash().0))
                .cloned(),
        );
        let all: Vec<&Change> = held.iter().map(|(c, _)| c).collect();
        let asked: BTreeSet<[u8; 32]> = q.iter().map(|(c, _)| c.hash().0).collect();
        super::receive::clash::settle(&all)
            .into_iter()
            .zip(&all)
            .filter(|(f, c)| *f == super::receive::clash::Fate::Lost && asked.contains(&c.hash().0))
            .map(|(_, c)| c.hash().0)
            .collect()
    }
}

/// Why quarantined changes that clash with the version every device keeps cannot be
/// accepted (a local decision, so not "a message refused").
fn cannot_accept() -> Error {
    Error::NotPermitted {
        action: "accept these quarantined changes".into(),
        reason: "two different changes by one device carry the same sequence number (a phone \
                 restored from an older copy of its store?) and every device keeps the other \
                 version; they can only be rejected (`member quarantine reject`); nothing was \
                 changed"
            .into(),
    }
}
