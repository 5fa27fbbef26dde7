//! Two versions of one change: the rule every device applies (decision 0031).
//!
//! A phone restored from an older copy of its store writes again with sequence numbers
//! it had already used, so a team can come to hold two different changes by one author
//! with one number (a *clash*). An Automerge document holds at most one of them, and
//! until round 4 each device kept whichever it saw first: the case stayed in two
//! versions for good, and later notes by other members, built on the version their
//! device held, could never cross to a device holding the other.
//!
//! Now every device settles a clashing case by the same rule, over every change it
//! holds for the case (applied, parked, or set aside by this rule before):
//!
//! - a change whose dependencies are all *kept* is *eligible*; among the eligible
//!   changes of one author and sequence number the one with the lowest hash is kept,
//!   the others are *lost*;
//! - a change that depends on a lost change is lost; one that depends on a change
//!   nobody sent yet *waits* (it is parked, as any change with a missing dependency);
//! - a group whose members' fates are not yet known waits for them, so the result
//!   depends only on the set of changes, never on the order they arrived in.
//!
//! Lost changes are withdrawn from the case (which is rebuilt and written whole) and
//! set aside in the case's quarantine, where coordinators see what they would have
//! changed; they can only be rejected (their number is taken). Quarantined changes
//! travel with every payload, so all devices that exchanged the same records end with
//! the same case and the same quarantine.

use std::collections::{BTreeSet, HashMap};

use automerge::{AutoCommit, Change};

use crate::codec::B64;
use crate::model::{CaseDoc, CaseId};
use crate::store::index::{PendingChange, SyncDelta};
use crate::store::Store;
use crate::sync::Membership;
use crate::{Error, Result};

/// What the rule makes of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::sync) enum Fate {
    /// Part of the case.
    Kept,
    /// Lost a clash, or depends on a change that did: set aside.
    Lost,
    /// Depends on a change that has not arrived: parked.
    Waiting,
}

/// The fate of each of `changes` (in the same order; each hash at most once).
pub(in crate::store::sync) fn settle(changes: &[&Change]) -> Vec<Fate> {
    let n = changes.len();
    let index: HashMap<[u8; 32], usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash().0, i))
        .collect();
    let mut groups: HashMap<(&[u8], u64), Vec<usize>> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        groups
            .entry((c.actor_id().to_bytes(), c.seq()))
            .or_default()
            .push(i);
    }
    let mut fate: Vec<Option<Fate>> = vec![None; n];
    loop {
        let mut progress = false;
        // Whether each undecided change is eligible (every dependency kept); decided
        // here when a dependency decides it.
        let mut eligible = vec![false; n];
        for i in 0..n {
            if fate[i].is_some() {
                continue;
            }
            let (mut lost, mut waiting, mut open) = (false, false, false);
            for d in changes[i].deps() {
                match index.get(&d.0).map(|&j| fate[j]) {
                    None => waiting = true,
                    Some(Some(Fate::Lost)) => lost = true,
                    Some(Some(Fate::Waiting)) => waiting = true,
                    Some(Some(Fate::Kept)) => {}
                    Some(None) => open = true,
                }
            }
            if lost {
                fate[i] = Some(Fate::Lost);
                progress = true;
            } else if !open && waiting {
                fate[i] = Some(Fate::Waiting);
                progress = true;
            } else if !open {
                eligible[i] = true;
            }
        }
        for members in groups.values() {
            if members.iter().all(|&i| fate[i].is_some()) {
                continue;
            }
            // Decided only once every member is either eligible or decided.
            if members.iter().any(|&i| fate[i].is_none() && !eligible[i]) {
                continue;
            }
            let winner = members
                .iter()
                .copied()
                .filter(|&i| eligible[i])
                .min_by_key(|&i| changes[i].hash().0);
            for &i in members {
                if fate[i].is_none() {
                    fate[i] = Some(if Some(i) == winner {
                        Fate::Kept
                    } else {
                        Fate::Lost
                    });
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    // Left undecided only by a cycle through one group (a forged change depending on
    // its own rival): lost.
    fate.into_iter().map(|f| f.unwrap_or(Fate::Lost)).collect()
}

/// For a preview: `doc` without the changes that hold the numbers of `changes` (the
/// versions kept where some of `changes` lost a clash) and what builds on them, so
/// that `changes` apply to it and show what they would have changed.
pub(in crate::store::sync) fn without_rivals(
    mut doc: CaseDoc,
    case: &CaseId,
    changes: &[(Change, [u8; 64])],
    actor: &automerge::ActorId,
) -> CaseDoc {
    let numbers: BTreeSet<(&[u8], u64)> = changes
        .iter()
        .map(|(c, _)| (c.actor_id().to_bytes(), c.seq()))
        .collect();
    let mine: BTreeSet<[u8; 32]> = changes.iter().map(|(c, _)| c.hash().0).collect();
    let rival = |c: &Change| {
        !mine.contains(&c.hash().0) && numbers.contains(&(c.actor_id().to_bytes(), c.seq()))
    };
    match super::rebuild::cut_out(&mut doc, case, &rival, actor) {
        Ok(Some(super::rebuild::CutOut {
            rest: Some(rest), ..
        })) => rest,
        _ => doc,
    }
}

/// What settling a case by the rule gives the ingest to write.
pub(super) struct Settlement {
    /// The case to write, and whether whole (it was rebuilt), if it changed.
    pub(super) doc: Option<(CaseDoc, bool)>,
    /// The journal entries: the case's quarantine and parked changes if they changed,
    /// or the case leaving the index when nothing of it is kept.
    pub(super) deltas: Vec<SyncDelta>,
    /// Changes newly part of the case.
    pub(super) applied: usize,
    /// Changes newly set aside in the quarantine.
    pub(super) quarantined: usize,
    /// Changes dropped: rejected by a coordinator (or building on one), or decided by
    /// a coordinator and lost.
    pub(super) dropped: usize,
    /// Some changes wait for a dependency.
    pub(super) waiting: bool,
    /// What a user is told (a clash was found or changed the case).
    pub(super) notice: Option<String>,
    /// The case's quarantine ends as stored: earlier entries of this batch for it go.
    pub(super) keep_stored_quarantine: bool,
}

/// Whether `q` (a case's quarantine) holds changes the rule set aside: changes by
/// authors that are active members, or that a coordinator accepted (a revoked
/// author's undecided changes are there for the revocation, and wait for a
/// coordinator either way).
pub(super) fn holds_set_aside(q: Option<&Vec<PendingChange>>, view: &Membership) -> bool {
    q.is_some_and(|q| {
        q.iter().any(|PendingChange(b, _)| {
            Change::from_bytes(b.clone()).is_ok_and(|c| set_aside_by_rule(&c, view))
        })
    })
}

/// Whether a quarantined change can be there only because it lost a clash: its author
/// is an active member, or a coordinator accepted it.
fn set_aside_by_rule(c: &Change, view: &Membership) -> bool {
    view.resolved.get(&c.hash().0) == Some(&true)
        || view
            .by_actor(c.actor_id().to_bytes())
            .is_some_and(|(_, m)| m.active)
}

fn hashes<'a>(q: impl IntoIterator<Item = &'a PendingChange>) -> BTreeSet<[u8; 32]> {
    q.into_iter()
        .filter_map(|PendingChange(b, _)| Change::from_bytes(b.clone()).ok().map(|c| c.hash().0))
        .collect()
}

impl Store {
    /// Settles `case` by the rule of this module over every change this device holds
    /// for it and `incoming` (verified changes, with the case's parked ones): builds
    /// the case from the kept changes (rebuilt and written whole if one it held is
    /// lost), sets the lost ones aside in its quarantine and parks the waiting ones.
    /// `deltas`: this batch's journal entries so far. A rights error leaves everything
    /// as it was.
    pub(super) fn settle_case(
        &mut self,
        case: CaseId,
        incoming: Vec<(Change, [u8; 64])>,
        view: &Membership,
        deltas: &[SyncDelta],
    ) -> Result<Settlement> {
        let exists = self.index.cases.contains_key(&case);
        let mut doc = if exists {
            self.take_doc(&case)?
        } else {
            CaseDoc::empty(case, self.actor.clone())
        };
        let held = doc.changes_since(&[]);
        let prev_q: Vec<PendingChange> = super::rebuild::latest(deltas, &case, true)
            .or(self.index.sync.quarantine.get(&case))
            .cloned()
            .unwrap_or_default();
        let prev_p: Vec<PendingChange> = super::rebuild::latest(deltas, &case, false)
            .or(self.index.sync.pending.get(&case))
            .cloned()
            .unwrap_or_default();
        let active = |c: &Change| {
            view.by_actor(c.actor_id().to_bytes())
                .is_some_and(|(_, m)| m.active)
        };
        let (set_aside, untouched): (Vec<PendingChange>, Vec<PendingChange>) =
            prev_q.iter().cloned().partition(|PendingChange(b, _)| {
                Change::from_bytes(b.clone()).is_ok_and(|c| set_aside_by_rule(&c, view))
            });
        // Everything not in the document yet, once.
        let mut seen: BTreeSet<[u8; 32]> = held.iter().map(|(c, _)| c.hash().0).collect();
        let mut extra = Vec::new();
        for (c, s) in incoming.into_iter().chain(super::plan::signed(&set_aside)) {
            if seen.insert(c.hash().0) {
                extra.push((c, s));
            }
        }
        // Decided first, as everywhere else: a change a coordinator rejected, and what
        // builds on it, is dropped; an undecided change by a revoked author is not a
        // candidate (it belongs in the quarantine, what builds on it waits).
        let mut dead: BTreeSet<[u8; 32]> = BTreeSet::new();
        loop {
            let before = dead.len();
            for (c, _) in held.iter().chain(&extra) {
                if view.resolved.get(&c.hash().0) == Some(&false)
                    || c.deps().iter().any(|d| dead.contains(&d.0))
                {
                    dead.insert(c.hash().0);
                }
            }
            if dead.len() == before {
                break;
            }
        }
        let cut_off = |c: &Change| !active(c) && view.resolved.get(&c.hash().0) != Some(&true);
        let mut revoked = Vec::new();
        let mut withdrawn = 0;
        let mut candidates = |v: Vec<(Change, [u8; 64])>, from_doc: bool| {
            let mut out = Vec::with_capacity(v.len());
            for (c, s) in v {
                if dead.contains(&c.hash().0) {
                    withdrawn += usize::from(from_doc);
                } else if cut_off(&c) {
                    withdrawn += usize::from(from_doc);
                    revoked.push((c, s));
                } else {
                    out.push((c, s));
                }
            }
            out
        };
        let held = candidates(held, true);
        let extra = candidates(extra, false);
        let all: Vec<&Change> = held.iter().chain(&extra).map(|(c, _)| c).collect();
        let mut fates = settle(&all);
        // An undecided change by a revoked author whose number a kept change holds can
        // never apply (accepting it is refused): what builds on it is lost, set aside
        // where coordinators see it, not parked out of sight (red team round 5 N1: a
        // colleague's note on a restored phone's lost version vanished once the phone
        // was revoked).
        let quarantined_revoked = super::plan::signed(&untouched);
        let revoked_all: Vec<&Change> = revoked
            .iter()
            .chain(&quarantined_revoked)
            .map(|(c, _)| c)
            .collect();
        let kept_numbers: BTreeSet<(&[u8], u64)> = all
            .iter()
            .zip(&fates)
            .filter(|(_, f)| **f == Fate::Kept)
            .map(|(c, _)| (c.actor_id().to_bytes(), c.seq()))
            .collect();
        let mut dead_ends: BTreeSet<[u8; 32]> = revoked_all
            .iter()
            .filter(|c| kept_numbers.contains(&(c.actor_id().to_bytes(), c.seq())))
            .map(|c| c.hash().0)
            .chain(
                all.iter()
                    .zip(&fates)
                    .filter(|(_, f)| **f == Fate::Lost)
                    .map(|(c, _)| c.hash().0),
            )
            .collect();
        loop {
            let before = dead_ends.len();
            for c in &revoked_all {
                if c.deps().iter().any(|d| dead_ends.contains(&d.0)) {
                    dead_ends.insert(c.hash().0);
                }
            }
            for (c, f) in all.iter().zip(fates.iter_mut()) {
                if *f == Fate::Waiting && c.deps().iter().any(|d| dead_ends.contains(&d.0)) {
                    *f = Fate::Lost;
                    dead_ends.insert(c.hash().0);
                }
            }
            if dead_ends.len() == before {
                break;
            }
        }
        let twice = written_twice(
            &held
                .iter()
                .chain(&extra)
                .chain(&revoked)
                .map(|(c, _)| c)
                .collect::<Vec<_>>(),
        );
        let (held_fates, extra_fates) = fates.split_at(held.len());
        let (mut kept_held, mut lost, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for ((c, s), f) in held.iter().zip(held_fates) {
            match f {
                Fate::Kept => kept_held.push((c.clone(), *s)),
                Fate::Lost => lost.push((c.clone(), *s)),
                Fate::Waiting => waiting.push((c.clone(), *s)),
            }
        }
        let withdrawn = withdrawn + lost.len() + waiting.len();
        let mut kept_new = Vec::new();
        for ((c, s), f) in extra.into_iter().zip(extra_fates) {
            match f {
                Fate::Kept => kept_new.push((c, s)),
                Fate::Lost => lost.push((c, s)),
                Fate::Waiting => waiting.push((c, s)),
            }
        }
        // A lost change stays in the quarantine even if a coordinator accepted it (two
        // coordinators' cuts each accepted one version, red team round 5): it still
        // cannot apply, and only a rejection removes it, so no one loses it unseen.
        let check = |d: &mut AutoCommit, empty: bool, new: &[&Change]| {
            crate::sync::rights::check_changes(view, &case, empty, d, new)
        };
        let allow = |_: &mut AutoCommit, _: bool, _: &[&Change]| Ok(());
        let missing = || Error::Internal("a case's kept changes miss a dependency".into());
        let built = if withdrawn > 0 {
            let mut rebuilt = CaseDoc::empty(case, self.actor.clone());
            rebuilt
                .apply_verified(&kept_held, &allow)?
                .map_err(|_| missing())?;
            rebuilt
                .apply_verified(&kept_new, &check)
                .and_then(|r| r.map_err(|_| missing()))
                .map(|_| Some((rebuilt, true)))
        } else if kept_new.is_empty() {
            Ok(None)
        } else {
            doc.apply_verified(&kept_new, &check)
                .and_then(|r| r.map_err(|_| missing()))
                .map(|_| None)
        };
        let mut out = match built {
            Ok(Some(rebuilt)) => Settlement {
                doc: (!kept_held.is_empty() || !kept_new.is_empty()).then_some(rebuilt),
                ..Settlement::empty()
            },
            Ok(None) if !kept_new.is_empty() => Settlement {
                doc: Some((doc, !exists)),
                ..Settlement::empty()
            },
            Ok(None) => {
                if exists {
                    self.cache_put(case, doc);
                }
                Settlement::empty()
            }
            Err(e) => {
                if exists {
                    self.cache_put(case, doc);
                }
                return Err(e);
            }
        };
        if exists && out.doc.is_none() && withdrawn > 0 {
            out.deltas.push(SyncDelta::Unapplied { case });
        }
        out.applied = kept_new.len();
        out.dropped = dead.len();
        out.waiting = !waiting.is_empty();
        // Counted and written against what the store holds: when this batch released a
        // change from the quarantine and the rule sets it aside again, nothing changed.
        let before_q = hashes(self.index.sync.quarantine.get(&case).into_iter().flatten());
        let mut quarantine = untouched;
        for (c, s) in lost.iter().chain(&revoked) {
            if !quarantine
                .iter()
                .any(|PendingChange(b, _)| b == c.raw_bytes())
            {
                quarantine.push(PendingChange(c.raw_bytes().to_vec(), B64(*s)));
            }
        }
        let after_q = hashes(&quarantine);
        // New: in neither the stored quarantine nor this batch's (counted already).
        let batch_q = hashes(&prev_q);
        out.quarantined = after_q
            .iter()
            .filter(|h| !before_q.contains(*h) && !batch_q.contains(*h))
            .count();
        if after_q != before_q {
            out.deltas.push(SyncDelta::Quarantine {
                case,
                changes: quarantine,
            });
        } else {
            out.keep_stored_quarantine = true;
        }
        let parked: Vec<PendingChange> = waiting
            .iter()
            .map(|(c, s)| PendingChange(c.raw_bytes().to_vec(), B64(*s)))
            .collect();
        if hashes(&parked) != hashes(&prev_p) {
            out.deltas.push(SyncDelta::Pending {
                case,
                changes: parked,
            });
        }
        if !twice.is_empty() && (out.quarantined > 0 || withdrawn > 0) {
            out.notice = Some(clash_notice(
                view,
                &case,
                &twice,
                withdrawn,
                out.quarantined,
            ));
        }
        Ok(out)
    }
}

impl Settlement {
    fn empty() -> Settlement {
        Settlement {
            doc: None,
            deltas: Vec::new(),
            applied: 0,
            quarantined: 0,
            dropped: 0,
            waiting: false,
            notice: None,
            keep_stored_quarantine: false,
        }
    }
}

/// The authors (actor ids) that wrote two changes with one number among `all`.
fn written_twice(all: &[&Change]) -> BTreeSet<Vec<u8>> {
    let mut numbers: BTreeSet<(&[u8], u64)> = BTreeSet::new();
    all.iter()
        .filter(|c| !numbers.insert((c.actor_id().to_bytes(), c.seq())))
        .map(|c| c.actor_id().to_bytes().to_vec())
        .collect()
}

/// "case …: device … ("…") wrote two versions of one change …": what a user is told.
fn clash_notice(
    view: &Membership,
    case: &CaseId,
    twice: &BTreeSet<Vec<u8>>,
    withdrawn: usize,
    quarantined: usize,
) -> String {
    let authors: Vec<String> = twice
        .iter()
        .map(|a| match view.by_actor(a) {
            Some((d, m)) => format!("device {} (\"{}\")", d.short(), m.name),
            None => "a device".into(),
        })
        .collect();
    let who = if authors.is_empty() {
        "a device".to_string()
    } else {
        authors.join(" and ")
    };
    format!(
        "case {}: {who} wrote two versions of one change (a phone restored from an older \
         copy of its store?); every device keeps the same one: {withdrawn} change(s) \
         withdrawn from this device's copy, {quarantined} set aside in the quarantine for \
         a coordinator to see and reject (`member quarantine`)",
        case.short()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, ActorId, AutoCommit, ROOT};
    use proptest::prelude::*;

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    /// A shared first change, then per branch a chain of changes by `actor` (or other
    /// authors on top, `others`), as two phones holding one copy would write.
    struct Story {
        changes: Vec<Change>,
    }

    fn story(branches: &[(u8, usize)], extra_author_on_each: bool) -> Story {
        let mut base = AutoCommit::new().with_actor(actor(1));
        base.put(ROOT, "start", 1).expect("put");
        base.commit();
        let mut changes: Vec<Change> = base.get_changes(&[]).into_iter().collect();
        for (b, (who, len)) in branches.iter().enumerate() {
            let mut d = base.fork().with_actor(actor(*who));
            for k in 0..*len {
                d.put(ROOT, format!("b{b}k{k}"), k as i64).expect("put");
                d.commit();
            }
            if extra_author_on_each {
                d.set_actor(actor(50 + b as u8));
                d.put(ROOT, format!("note{b}"), "on top").expect("put");
                d.commit();
            }
            for c in d.get_changes(&base.get_heads()) {
                if !changes.iter().any(|x| x.hash() == c.hash()) {
                    changes.push(c);
                }
            }
        }
        Story { changes }
    }

    fn fates(changes: &[Change]) -> HashMap<[u8; 32], Fate> {
        let refs: Vec<&Change> = changes.iter().collect();
        settle(&refs)
            .into_iter()
            .zip(changes)
            .map(|(f, c)| (c.hash().0, f))
            .collect()
    }

    fn kept_apply(changes: &[Change]) -> AutoCommit {
        let f = fates(changes);
        let mut doc = AutoCommit::new();
        doc.apply_changes(
            changes
                .iter()
                .filter(|c| f[&c.hash().0] == Fate::Kept)
                .cloned(),
        )
        .expect("the kept changes apply together");
        doc
    }

    #[test]
    fn a_case_without_a_clash_keeps_everything() {
        let s = story(&[(2, 3)], true);
        assert!(fates(&s.changes).values().all(|f| *f == Fate::Kept));
    }

    #[test]
    fn the_lower_hash_wins_and_what_builds_on_the_other_is_lost() {
        // Device 2 wrote two versions of its second change (a restored copy), and a
        // colleague wrote on top of each.
        let s = story(&[(2, 2), (2, 2)], true);
        let f = fates(&s.changes);
        let seconds: Vec<&Change> = s
            .changes
            .iter()
            .filter(|c| c.actor_id() == &actor(2))
            .collect();
        assert_eq!(seconds.len(), 4, "two versions of seq 1 and of seq 2");
        let lost = f.values().filter(|x| **x == Fate::Lost).count();
        assert_eq!(
            lost, 3,
            "one version, its successor and the note on it: {f:?}"
        );
        let kept_notes = s
            .changes
            .iter()
            .filter(|c| c.actor_id().to_bytes()[0] >= 50 && f[&c.hash().0] == Fate::Kept)
            .count();
        assert_eq!(kept_notes, 1);
        // The kept version of seq 1 is the lower hash of the two.
        let seq1: Vec<&&Change> = seconds.iter().filter(|c| c.seq() == 1).collect();
        let low = seq1.iter().min_by_key(|c| c.hash().0).expect("two");
        assert_eq!(f[&low.hash().0], Fate::Kept);
        kept_apply(&s.changes);
    }

    #[test]
    fn a_change_without_its_dependency_waits() {
        let s = story(&[(2, 3)], false);
        let without_second: Vec<Change> = s
            .changes
            .iter()
            .filter(|c| !(c.actor_id() == &actor(2) && c.seq() == 2))
            .cloned()
            .collect();
        let f = fates(&without_second);
        let third = without_second
            .iter()
            .find(|c| c.actor_id() == &actor(2) && c.seq() == 3)
            .expect("third");
        assert_eq!(f[&third.hash().0], Fate::Waiting);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The rule depends on the set of changes only: every order gives the same
        /// fates, the kept changes always apply together (no two share a number), and
        /// every clash leaves exactly one version where both versions are eligible.
        #[test]
        fn the_fates_do_not_depend_on_the_order(
            lens in proptest::collection::vec(1usize..4, 1..4),
            others in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let branches: Vec<(u8, usize)> = lens.iter().map(|l| (2u8, *l)).collect();
            let s = story(&branches, others);
            let expected = fates(&s.changes);
            let mut shuffled = s.changes.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(fates(&shuffled), expected.clone());
            kept_apply(&shuffled);
            let mut per_seq: HashMap<(Vec<u8>, u64), usize> = HashMap::new();
            for c in &s.changes {
                if expected[&c.hash().0] == Fate::Kept {
                    *per_seq.entry((c.actor_id().to_bytes().to_vec(), c.seq())).or_default() += 1;
                }
            }
            prop_assert!(per_seq.values().all(|n| *n == 1));
            // Device 2's first change exists in every branch: one version is kept.
            prop_assert!(per_seq.contains_key(&(actor(2).to_bytes().to_vec(), 1)));
        }
    }
}
