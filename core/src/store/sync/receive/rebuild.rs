//! The rebuilding part of the apply step (decision 0020): withdrawing changes a
//! coordinator rejected after this device applied them, and cutting the undecided
//! changes of a device this message cuts off out of the cases that hold them. Both
//! rebuild a case's document from the changes that stay.

use std::collections::BTreeSet;

use automerge::{AutoCommit, Change};

use super::{SignedChanges, SyncReport};
use crate::codec::B64;
use crate::store::index::{PendingChange, SyncDelta};
use crate::store::sync::batch::ToWrite;
use crate::store::*;
use crate::sync::Membership;

impl Store {
    /// Withdraws from each case the changes `withdrawals` names (rejected by a
    /// coordinator), with the changes that build on them: the case is rebuilt without
    /// them and written whole. A document already due to be written is taken from
    /// `to_write`.
    pub(super) fn withdraw(
        &mut self,
        withdrawals: BTreeMap<CaseId, BTreeSet<[u8; 32]>>,
        to_write: &mut Vec<ToWrite>,
        report: &mut SyncReport,
    ) -> Result<()> {
        for (case, rejected) in withdrawals {
            let at = to_write
                .iter()
                .position(|w| matches!(w, ToWrite::Doc { case: c, .. } if *c == case));
            // A document already due to be written keeps its `full` flag: a rebuilt
            // document must be written whole, or the store would keep the old one.
            let (mut doc, was_full) = match at {
                Some(i) => match to_write.remove(i) {
                    ToWrite::Doc { doc, full, .. } => (*doc, full),
                    prepared @ ToWrite::Prepared(_) => {
                        to_write.push(prepared);
                        continue;
                    }
                },
                None => (self.take_doc(&case)?, false),
            };
            match withdrawn(&mut doc, &case, &rejected, &self.actor)? {
                Some((rebuilt, n)) => {
                    report.changes_dropped += n;
                    report.dropped.push(format!(
                        "{n} change(s) withdrawn from a case: a coordinator rejected them \
                         (or what they build on)"
                    ));
                    to_write.push(ToWrite::Doc {
                        case,
                        doc: Box::new(rebuilt),
                        full: true,
                    });
                }
                None => match at {
                    Some(_) => to_write.push(ToWrite::Doc {
                        case,
                        doc: Box::new(doc),
                        full: was_full,
                    }),
                    None => self.cache_put(case, doc),
                },
            }
        }
        Ok(())
    }

    /// Changes by a device in `cut` (revoked, or displaced by this message), applied
    /// here before this device knew, that no coordinator decided: moved out of their
    /// case into the quarantine, and the changes that build on them parked, exactly as
    /// if they had arrived after the cut; a case that holds nothing else leaves the
    /// store whole, into the quarantine (decision 0020, red team 2026-12-05 T3).
    pub(super) fn cut_out_undecided(
        &mut self,
        view: &Membership,
        cut: &BTreeSet<[u8; 32]>,
        cases: Vec<CaseId>,
        to_write: &mut Vec<ToWrite>,
        deltas: &mut Vec<SyncDelta>,
        report: &mut SyncReport,
    ) -> Result<()> {
        if cut.is_empty() {
            return Ok(());
        }
        let undecided = |c: &Change| {
            !view.resolved.contains_key(&c.hash().0)
                && view
                    .by_actor(c.actor_id().to_bytes())
                    .is_some_and(|(d, _)| cut.contains(&d.0))
        };
        for case in cases {
            let at = to_write.iter().position(|w| match w {
                ToWrite::Doc { case: c, .. } => *c == case,
                ToWrite::Prepared(p) => p.case == case,
            });
            let (mut doc, was_full) = match at {
                Some(i) => match to_write.remove(i) {
                    ToWrite::Doc { doc, full, .. } => (*doc, full),
                    prepared @ ToWrite::Prepared(_) => {
                        // Built under this message's membership already.
                        to_write.push(prepared);
                        continue;
                    }
                },
                None => (self.take_doc(&case)?, false),
            };
            let Some(cut) = cut_out(&mut doc, &case, &undecided, &self.actor)? else {
                match at {
                    Some(_) => to_write.push(ToWrite::Doc {
                        case,
                        doc: Box::new(doc),
                        full: was_full,
                    }),
                    None => self.cache_put(case, doc),
                }
                continue;
            };
            let quarantine = merged(
                latest(deltas, &case, true).or(self.index.sync.quarantine.get(&case)),
                &cut.quarantined,
            );
            let parked = merged(
                latest(deltas, &case, false).or(self.index.sync.pending.get(&case)),
                &cut.parked,
            );
            report.changes_quarantined += cut.quarantined.len();
            deltas.push(SyncDelta::Quarantine {
                case,
                changes: quarantine,
            });
            if !cut.parked.is_empty() {
                deltas.push(SyncDelta::Pending {
                    case,
                    changes: parked,
                });
            }
            match cut.rest {
                Some(rebuilt) => to_write.push(ToWrite::Doc {
                    case,
                    doc: Box::new(rebuilt),
                    full: true,
                }),
                None => deltas.push(SyncDelta::Unapplied { case }),
            }
        }
        Ok(())
    }
}

/// The case `doc` rebuilt without the changes in `rejected` and every change that
/// depends on one of them, and how many were left out; `None` if it holds none of
/// them, or if nothing would be left (the rejecting coordinator's erasure removes
/// such a case on every device).
fn withdrawn(
    doc: &mut CaseDoc,
    case: &CaseId,
    rejected: &BTreeSet<[u8; 32]>,
    actor: &ActorId,
) -> Result<Option<(CaseDoc, usize)>> {
    let all = doc.changes_since(&[]);
    let mut out: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut keep = Vec::with_capacity(all.len());
    // Automerge returns changes in causal order: a change's dependencies come first.
    for (c, sig) in all {
        if rejected.contains(&c.hash().0) || c.deps().iter().any(|d| out.contains(&d.0)) {
            out.insert(c.hash().0);
        } else {
            keep.push((c, sig));
        }
    }
    if out.is_empty() || keep.is_empty() {
        return Ok(None);
    }
    let mut rebuilt = CaseDoc::empty(*case, actor.clone());
    let allow = |_: &mut AutoCommit, _: bool, _: &[&Change]| Ok(());
    match rebuilt.apply_verified(&keep, &allow)? {
        Ok(_) => Ok(Some((rebuilt, out.len()))),
        Err(_) => Err(Error::Internal(
            "a case's remaining changes miss a dependency".into(),
        )),
    }
}

/// A case's changes split at a cut (decision 0020): the undecided changes of a cut-off
/// author, the changes of others that build on them, and the case rebuilt from the
/// rest (`None` when nothing is left).
pub(super) struct CutOut {
    quarantined: SignedChanges,
    parked: SignedChanges,
    pub(super) rest: Option<CaseDoc>,
}

/// The case `doc` split at a cut: every change `out` names, and every change that
/// depends on one of them, leave it; `None` if it holds none of them.
pub(super) fn cut_out(
    doc: &mut CaseDoc,
    case: &CaseId,
    out: &dyn Fn(&Change) -> bool,
    actor: &ActorId,
) -> Result<Option<CutOut>> {
    let all = doc.changes_since(&[]);
    let mut gone: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut quarantined = Vec::new();
    let mut parked = Vec::new();
    let mut keep = Vec::with_capacity(all.len());
    // Automerge returns changes in causal order: a change's dependencies come first.
    for (c, sig) in all {
        if out(&c) {
            gone.insert(c.hash().0);
            quarantined.push((c, sig));
        } else if c.deps().iter().any(|d| gone.contains(&d.0)) {
            gone.insert(c.hash().0);
            parked.push((c, sig));
        } else {
            keep.push((c, sig));
        }
    }
    if gone.is_empty() {
        return Ok(None);
    }
    let rest = if keep.is_empty() {
        None
    } else {
        let mut rebuilt = CaseDoc::empty(*case, actor.clone());
        let allow = |_: &mut AutoCommit, _: bool, _: &[&Change]| Ok(());
        match rebuilt.apply_verified(&keep, &allow)? {
            Ok(_) => Some(rebuilt),
            Err(_) => {
                return Err(Error::Internal(
                    "a case's remaining changes miss a dependency".into(),
                ))
            }
        }
    };
    Ok(Some(CutOut {
        quarantined,
        parked,
        rest,
    }))
}

/// The quarantined (`quarantine`) or parked changes of `case` that the last delta of
/// this batch sets, if one does.
pub(super) fn latest<'a>(
    deltas: &'a [SyncDelta],
    case: &CaseId,
    quarantine: bool,
) -> Option<&'a Vec<PendingChange>> {
    deltas.iter().rev().find_map(|d| match d {
        SyncDelta::Quarantine { case: c, changes } if quarantine && c == case => Some(changes),
        SyncDelta::Pending { case: c, changes } if !quarantine && c == case => Some(changes),
        _ => None,
    })
}

/// `held` with `more` added (each change once).
fn merged(held: Option<&Vec<PendingChange>>, more: &[(Change, [u8; 64])]) -> Vec<PendingChange> {
    let mut out: Vec<PendingChange> = held.cloned().unwrap_or_default();
    for (c, s) in more {
        let bytes = c.raw_bytes().to_vec();
        if !out.iter().any(|PendingChange(b, _)| *b == bytes) {
            out.push(PendingChange(bytes, B64(*s)));
        }
    }
    out
}
