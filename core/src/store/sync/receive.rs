//! Receiving what another device sent.
//!
//! Every incoming payload goes through the same pipeline ([`Store::ingest`]):
//!
//! 1. the envelopes are parsed strictly, their key commitments checked and they are
//!    decrypted (key and admission updates into a copy of the group, nothing written);
//!    the sender's signature is verified ([`crate::sync`]);
//! 2. membership records are merged into a *copy* of the group, and the sender must
//!    be a member of it;
//! 3. every tombstone's signature, and every change's author signature (by the member
//!    whose actor id wrote it), is verified — nothing is written before all pass;
//! 4. changes are applied to a fork of each case's document; missing dependencies
//!    leave the case unchanged and park its changes as *pending*; the declared heads
//!    must then be present;
//! 5. the group state and all updated cases are written with one `fdatasync` (a
//!    refused payload changes no byte); only then does the call return (and a live
//!    session reply).

use std::collections::BTreeSet;

use automerge::{AutoCommit, Change, ChangeHash};
use serde_bytes::ByteBuf;

use super::batch::{Prepared, ToWrite};
use crate::parallel::{chunked, par_map, par_map_from, PARALLEL_FROM};
use crate::store::index::{PendingChange, SyncDelta};
use crate::store::*;
use crate::sync::signatures::{self, ChangeSignature};
use crate::sync::{CaseChanges, DeviceId, Membership, Payload, B32, B64};

/// What an import or a live session did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Cases this device did not have before.
    pub cases_created: usize,
    /// Existing cases that received changes.
    pub cases_updated: usize,
    /// Automerge changes applied.
    pub changes_applied: usize,
    /// Cases erased because another device erased them.
    pub cases_erased: usize,
    /// Cases whose changes wait for earlier changes not received yet.
    pub cases_waiting: usize,
    /// Changes ignored because their case was erased.
    pub ignored_erased: usize,
    /// New membership records learned of.
    pub members_added: usize,
    /// Changes by revoked devices set aside for a coordinator to accept or reject.
    pub changes_quarantined: usize,
    /// Cases whose incoming changes were refused: outside their author's rights.
    pub cases_refused: usize,
    /// Same-field conflicts the applied changes created (concurrent edits of one
    /// field; `caravan case show` lists them for a coordinator to resolve).
    pub conflicts_created: usize,
    /// Changes received and not applied: on erased cases, outside their author's
    /// rights, or rejected by a coordinator (see `dropped`).
    pub changes_dropped: usize,
    /// Why changes were dropped, one line per reason with its count.
    pub dropped: Vec<String>,
    /// What a coordinator must be told about its team (e.g. "invitation 3fa01c2e was
    /// used again by device …"), one line each.
    pub notices: Vec<String>,
}

impl std::ops::AddAssign<&SyncReport> for SyncReport {
    /// Adds another report's counts and lines to this one (several bundles imported
    /// at once): every field, so no count is lost on the way to the user.
    fn add_assign(&mut self, o: &SyncReport) {
        let SyncReport {
            cases_created,
            cases_updated,
            changes_applied,
            cases_erased,
            cases_waiting,
            ignored_erased,
            members_added,
            changes_quarantined,
            cases_refused,
            conflicts_created,
            changes_dropped,
            dropped,
            notices,
        } = o;
        self.cases_created += cases_created;
        self.cases_updated += cases_updated;
        self.changes_applied += changes_applied;
        self.cases_erased += cases_erased;
        self.cases_waiting += cases_waiting;
        self.ignored_erased += ignored_erased;
        self.members_added += members_added;
        self.changes_quarantined += changes_quarantined;
        self.cases_refused += cases_refused;
        self.conflicts_created += conflicts_created;
        self.changes_dropped += changes_dropped;
        self.dropped.extend(dropped.iter().cloned());
        self.notices.extend(notices.iter().cloned());
    }
}

impl Store {
    /// Verifies and applies a payload from `sender` (see the module doc).
    pub(crate) fn ingest(&mut self, sender: DeviceId, payload: Payload) -> Result<SyncReport> {
        self.ingest_from(sender, payload, None)
    }

    /// [`Store::ingest`] for a message that `via` names the single-use invitation of,
    /// if a welcome key opened it (decision 0016).
    pub(in crate::store) fn ingest_from(
        &mut self,
        sender: DeviceId,
        payload: Payload,
        via: Option<B32>,
    ) -> Result<SyncReport> {
        self.check_writable()?;
        let mut report = SyncReport::default();
        // 2. membership: merge, open keys sealed to us, check the sender
        let mut group = self.group()?.clone();
        if via.is_some() && (!payload.cases.is_empty() || !payload.tombstones.is_empty()) {
            return Err(Error::rejected(
                "a message under an invitation's key carries case data",
            ));
        }
        let before = group.view();
        let contested_before = before.contested;
        let reused_before = before.reused;
        let rejected_before = before.resolved;
        report.members_added = group.merge_records(payload.members);
        let mut keys_new = group.absorb_keys(&self.identity);
        let mut view = group.view();
        if let Some((invite, _, name)) = view.reused.iter().find(|(_, d, _)| *d == sender) {
            return Err(Error::rejected(format!(
                "{}. The second device is not a member and can read nothing",
                reuse_notice(&view, invite, &sender, name)
            )));
        }
        // A coordinator admits a device waiting on one of its single-use invitations,
        // the first to reach it.
        if via.is_some() && view.pending.contains_key(&sender) {
            let admitted = group.admit_pending(&self.identity)?;
            if admitted > 0 {
                report.members_added += admitted;
                view = group.view();
            }
        }
        // Welcome keys are kept until their device holds the group key: it sent under
        // it, or (on the joining device) the key was opened.
        let me = self.identity.id();
        for (invite, _) in group.welcome_keys() {
            let done = match view.bound.get(&invite.0) {
                Some(ds) if ds.contains(&me) => group.current_key().is_ok(),
                Some(ds) => ds.contains(&sender) && via.is_none(),
                None => false,
            };
            if done && group.forget_welcome(&invite) {
                keys_new = true;
            }
        }
        if view.active(&sender).is_none() {
            return Err(Error::rejected(if view.members.contains_key(&sender) {
                "the sending device was revoked from this group"
            } else {
                "the sender is not a member of this group"
            }));
        }
        // A coordinator rotates the key when a device that is no member holds it (one
        // revoked while another coordinator rotated), and hands the current key to
        // members who joined while it rotated.
        let rotated = group.rotate_if_exposed(&self.identity)?;
        let delivered = group.deliver_keys(&self.identity)? || rotated;
        let view = if delivered { group.view() } else { view };
        if view.is_coordinator(&me) {
            for (invite, device, name) in &view.reused {
                if !reused_before
                    .iter()
                    .any(|(i, d, _)| i == invite && d == device)
                {
                    report
                        .notices
                        .push(reuse_notice(&view, invite, device, name));
                }
            }
            // Every coordinator that learns of a contested invitation is told, with
            // both devices: it decides by revoking the one that should not be a member.
            for (invite, devices) in &view.contested {
                if contested_before.get(invite) != Some(devices) {
                    report.notices.push(contest_notice(&view, invite, devices));
                }
            }
        }
        // 3. verify everything before writing anything
        let mut tombstones = Vec::new();
        for t in payload.tombstones {
            if self.index.tombstones.contains_key(&t.case)
                || tombstones.iter().any(|x: &Tombstone| x.case == t.case)
            {
                continue;
            }
            let signer = t
                .signature
                .as_ref()
                .filter(|s| DeviceId(s.by).verify(&t.signed_bytes(), &s.sig))
                .map(|s| DeviceId(s.by))
                .ok_or_else(|| Error::rejected("an erasure's signature does not verify"))?;
            if view.members.contains_key(&signer) && !view.is_coordinator(&signer) {
                // A member erasing without the right: refused, the rest goes on.
                report.cases_refused += 1;
                continue;
            }
            if !view.members.contains_key(&signer) {
                return Err(Error::rejected("an erasure is not signed by a member"));
            }
            tombstones.push(t);
        }
        let erased: BTreeSet<CaseId> = self
            .index
            .tombstones
            .keys()
            .chain(tombstones.iter().map(|t| &t.case))
            .copied()
            .collect();
        let (wanted, ignored): (Vec<CaseChanges>, Vec<CaseChanges>) = payload
            .cases
            .into_iter()
            .partition(|cc| !erased.contains(&cc.case));
        report.ignored_erased += ignored.len();
        let on_erased: usize = ignored
            .iter()
            .map(|cc| cc.changes.len().max(usize::from(cc.doc.is_some())))
            .sum();
        if on_erased > 0 {
            report.changes_dropped += on_erased;
            report.dropped.push(format!(
                "{on_erased} change(s) on {} case(s) erased on this team",
                ignored.len()
            ));
        }
        // Parsing and signature checks are independent per case: spread them over cores,
        // a slice of cases at a time so that their signatures are checked in batches
        // (`crate::sync::signatures`). Changes by revoked devices are set aside for
        // quarantine unless a coordinator already accepted (or rejected) them.
        //
        // Cases new to this device, sent as changes, with nothing parked or quarantined
        // for them (the bulk of a first sync), are also built, checked, described and
        // dropped right there once their slice's signatures verify: each worker keeps
        // its own data hot and frees what it allocated, and only the last few documents
        // stay, for the cache.
        let now = Timestamp::now();
        let fresh_ctx = FreshContext {
            actor: self.actor.clone(),
            view: &view,
            now,
        };
        let keep_from = wanted.len().saturating_sub(self.options.cache_size);
        let eligible = |cc: &CaseChanges| {
            cc.doc.is_none()
                && !self.index.cases.contains_key(&cc.case)
                && !self.index.sync.pending.contains_key(&cc.case)
                && !self.index.sync.quarantine.contains_key(&cc.case)
        };
        let rejected = std::sync::atomic::AtomicUsize::new(0);
        let verify = |slice: Vec<(usize, bool, CaseChanges)>| -> Result<Vec<Checked>> {
            let mut checks = Vec::new();
            let mut out = Vec::with_capacity(slice.len());
            let mut fresh = Vec::with_capacity(slice.len());
            for (i, eligible, cc) in slice {
                let (changes, loaded) = parse_changes(cc.doc.as_deref(), cc.changes, &cc.sigs)?;
                let mut keep = Vec::with_capacity(changes.len());
                let mut held = Vec::new();
                for (c, sig) in changes {
                    let (author, info) =
                        view.by_actor(c.actor_id().to_bytes()).ok_or_else(|| {
                            Error::rejected("a change was written by a device that is not a member")
                        })?;
                    checks.push(ChangeSignature {
                        author,
                        message: crate::sync::change_message(&cc.case, &c.hash().0),
                        signature: sig,
                    });
                    match (info.active, view.resolved.get(&c.hash().0)) {
                        (true, _) | (false, Some(true)) => keep.push((c, sig)),
                        (false, Some(false)) => {
                            rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        (false, None) => held.push((c, sig)),
                    }
                }
                // A whole document with held-back changes is applied change by change.
                let loaded = if held.is_empty() { loaded } else { None };
                fresh.push(eligible && held.is_empty() && loaded.is_none());
                out.push((i, (cc.case, keep, loaded, cc.heads), held));
            }
            if !signatures::all_valid(&checks) {
                return Err(Error::rejected(
                    "a change's author signature does not verify",
                ));
            }
            out.into_iter()
                .zip(fresh)
                .map(|((i, verified, held), fresh)| {
                    if !fresh {
                        return Ok(Checked::Verified(Box::new((verified, held))));
                    }
                    let (case, changes, _, declared) = verified;
                    let built = build_fresh(&fresh_ctx, case, changes, &declared, i >= keep_from)?;
                    Ok(Checked::Built(case, built))
                })
                .collect()
        };
        // Slices of at most VERIFY_SLICE cases, at least two of them once the payload is
        // large enough to share out.
        let slice = if wanted.len() < PARALLEL_FROM {
            wanted.len().max(1)
        } else {
            VERIFY_SLICE.min(wanted.len().div_ceil(2))
        };
        let slices = chunked(
            wanted
                .into_iter()
                .enumerate()
                .map(|(i, cc)| (i, eligible(&cc), cc))
                .collect(),
            slice,
        );
        let mut verified: Vec<Verified> = Vec::new();
        let mut held: Vec<(CaseId, SignedChanges)> = Vec::new();
        let mut fused: Vec<(CaseId, Fresh)> = Vec::new();
        for slice in par_map_from(slices, 2, verify) {
            for checked in slice? {
                match checked {
                    Checked::Built(case, built) => fused.push((case, built)),
                    Checked::Verified(checked) => {
                        let ((case, keep, loaded, heads), h) = *checked;
                        if !h.is_empty() {
                            held.push((case, h));
                        }
                        verified.push((case, keep, loaded, heads));
                    }
                }
            }
        }
        let rejected = rejected.into_inner();
        if rejected > 0 {
            report.changes_dropped += rejected;
            report.dropped.push(format!(
                "{rejected} change(s) by revoked devices that a coordinator rejected"
            ));
        }
        // Quarantined changes a coordinator has now accepted join the changes to apply.
        let mut deltas = Vec::new();
        let mut released: Vec<(CaseId, SignedChanges)> = Vec::new();
        for (case, q) in &self.index.sync.quarantine {
            if erased.contains(case) {
                // Nothing left to decide on an erased case.
                deltas.push(quarantine_delta(*case, &[]));
                continue;
            }
            let all: SignedChanges = q
                .iter()
                .filter_map(|PendingChange(b, s)| {
                    Change::from_bytes(b.clone()).ok().map(|c| (c, s.0))
                })
                .collect();
            // An author active again (a revocation the log's order now places after
            // one of the revoking coordinator, so it no longer counts) is no longer cut
            // off: its changes leave the quarantine and apply, as on every device that
            // never held them there (red team round 3 M1).
            let active_again = |c: &Change| {
                view.by_actor(c.actor_id().to_bytes())
                    .is_some_and(|(_, m)| m.active)
            };
            let (decided, open): (SignedChanges, SignedChanges) = all
                .into_iter()
                .partition(|(c, _)| view.resolved.contains_key(&c.hash().0) || active_again(c));
            if decided.is_empty() {
                continue;
            }
            let accepted: SignedChanges = decided
                .into_iter()
                .filter(|(c, _)| match view.resolved.get(&c.hash().0) {
                    Some(accept) => *accept,
                    None => true,
                })
                .collect();
            deltas.push(quarantine_delta(*case, &open));
            if !accepted.is_empty() {
                released.push((*case, accepted));
            }
        }
        for (case, changes) in released {
            match verified.iter_mut().find(|v| v.0 == case) {
                Some(v) => {
                    v.1.extend(changes);
                    v.2 = None;
                }
                None => verified.push((case, changes, None, Vec::new())),
            }
        }
        // New quarantined changes (unless this device already has them).
        for (case, changes) in held {
            let mut fresh: SignedChanges = Vec::new();
            for (c, s) in changes {
                let known = self.index.cases.contains_key(&case)
                    && self.take_doc(&case).map(|mut d| {
                        let k = d.has_change(&c.hash());
                        self.cache_put(case, d);
                        k
                    })?;
                if !known {
                    fresh.push((c, s));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let mut all: SignedChanges = self
                .index
                .sync
                .quarantine
                .get(&case)
                .map(|q| {
                    q.iter()
                        .filter_map(|PendingChange(b, s)| {
                            Change::from_bytes(b.clone()).ok().map(|c| (c, s.0))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let before = all.len();
            for (c, s) in fresh {
                if !all.iter().any(|(x, _)| x.hash() == c.hash()) {
                    all.push((c, s));
                }
            }
            if all.len() > before {
                report.changes_quarantined += all.len() - before;
                deltas.push(quarantine_delta(case, &all));
            }
        }
        // Everything checked: nothing was written so far. The group goes with the cases
        // in one batch (one fsync), erasures after it.
        if report.members_added > 0 || keys_new || delivered {
            deltas.insert(0, SyncDelta::Group(group));
        }
        let mut to_write: Vec<ToWrite> = Vec::new();
        // Cases new to this device, sent as changes with nothing parked for them: build
        // their documents in parallel (the bulk of a first sync).
        let (fresh, verified): (Vec<Verified>, Vec<Verified>) =
            verified.into_iter().partition(|(case, _, loaded, _)| {
                loaded.is_none()
                    && !self.index.cases.contains_key(case)
                    && !self.index.sync.pending.contains_key(case)
            });
        let fresh_ids: Vec<CaseId> = fresh.iter().map(|v| v.0).collect();
        let view = &view;
        let keep_from = fresh.len().saturating_sub(self.options.cache_size);
        let fresh: Vec<(usize, Verified)> = fresh.into_iter().enumerate().collect();
        let built = par_map(fresh, |(i, (case, changes, _, declared))| {
            build_fresh(&fresh_ctx, case, changes, &declared, i >= keep_from)
        });
        let built = fused
            .into_iter()
            .map(|(case, f)| (Ok(f), case))
            .chain(built.into_iter().zip(fresh_ids));
        for (item, case) in built {
            match item? {
                Fresh::Known => {}
                Fresh::Built {
                    prepared,
                    applied,
                    complete,
                } => {
                    report.cases_waiting += usize::from(!complete);
                    report.changes_applied += applied;
                    report.cases_created += 1;
                    to_write.push(ToWrite::Prepared(prepared));
                }
                Fresh::Waiting(changes) => {
                    // Changes whose dependencies have not arrived: park them.
                    deltas.push(park(case, &changes));
                    report.cases_waiting += 1;
                }
                Fresh::Refused(n) => {
                    report.cases_refused += 1;
                    report.changes_dropped += n;
                }
            }
        }
        let mut role_refused = 0usize;
        for (case, changes, loaded, declared) in verified {
            let incoming = changes.len();
            let check = |d: &mut AutoCommit, empty: bool, new: &[&Change]| {
                crate::sync::rights::check_changes(view, &case, empty, d, new)
            };
            let pending: Vec<(Change, [u8; 64])> = self
                .index
                .sync
                .pending
                .get(&case)
                .map(|p| {
                    p.iter()
                        .filter_map(|PendingChange(b, s)| {
                            Change::from_bytes(b.clone()).ok().map(|c| (c, s.0))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let had_pending = !pending.is_empty();
            // Parked changes that build on a change a coordinator rejected can never
            // apply (and an author's later change may reuse their sequence number):
            // dropped here, as on every device that learns of the rejection.
            let (pending, dead) = without_rejected(pending, &view.resolved);
            if dead > 0 {
                deltas.push(park(case, &pending));
                report.changes_dropped += dead;
                report.dropped.push(format!(
                    "{dead} parked change(s) dropped: they build on a change a coordinator \
                     rejected"
                ));
            }
            let exists = self.index.cases.contains_key(&case);
            let outcome = match (exists, loaded) {
                // A case new to this device, sent whole: adopt the loaded document.
                (false, Some(am)) if !had_pending => {
                    let n = changes.len();
                    CaseDoc::adopt(case, am, &changes, self.actor.clone(), &check)
                        .map(|doc| (doc, Ok(n)))
                }
                _ => {
                    let mut doc = if exists {
                        self.take_doc(&case)?
                    } else {
                        CaseDoc::empty(case, self.actor.clone())
                    };
                    let mut all = pending;
                    all.extend(changes);
                    match doc.apply_verified(&all, &check) {
                        Ok(Ok(n)) => Ok((doc, Ok(n))),
                        Ok(Err(_missing)) => {
                            deltas.push(park(case, &all));
                            Ok((doc, Err(())))
                        }
                        Err(e) => {
                            if exists {
                                self.cache_put(case, doc);
                            }
                            Err(e)
                        }
                    }
                }
            };
            let (mut doc, applied) = match outcome {
                Ok(x) => x,
                Err(Error::NotPermitted { .. }) => {
                    // Outside the author's rights: this case's changes are refused (and
                    // dropped, parked ones too); the rest of the payload goes on.
                    if had_pending {
                        deltas.push(SyncDelta::Pending {
                            case,
                            changes: Vec::new(),
                        });
                    }
                    report.cases_refused += 1;
                    role_refused += 1;
                    report.changes_dropped += incoming;
                    continue;
                }
                Err(Error::Rejected { reason }) if reason == crate::model::DUPLICATE_SEQ => {
                    // One case's changes clash with what this device holds (a device
                    // restored from an older copy wrote twice with one number): that
                    // case is set aside, the rest of the payload (membership, other
                    // cases) goes on, so a revocation still spreads (red team round 3
                    // H1). Parked changes stay parked.
                    report.cases_refused += 1;
                    report.changes_dropped += incoming;
                    report
                        .dropped
                        .push(format!("case {}: {reason}", case.short()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match applied {
                Ok(0) => {
                    if exists {
                        self.cache_put(case, doc);
                    }
                }
                Ok(n) => {
                    if !declared.iter().all(|h| doc.knows_head(&ChangeHash(h.0))) {
                        report.cases_waiting += 1;
                    }
                    if had_pending {
                        deltas.push(SyncDelta::Pending {
                            case,
                            changes: Vec::new(),
                        });
                    }
                    report.changes_applied += n;
                    if exists {
                        report.cases_updated += 1;
                    } else {
                        report.cases_created += 1;
                    }
                    to_write.push(ToWrite::Doc {
                        case,
                        doc: Box::new(doc),
                        full: !exists,
                    });
                }
                Err(()) => {
                    report.cases_waiting += 1;
                    if exists {
                        self.cache_put(case, doc);
                    }
                }
            }
        }
        // Changes a coordinator has now rejected, applied here before this device knew
        // of their author's revocation: withdrawn, with the changes that build on them
        // (decision 0020).
        let mut withdraw: BTreeMap<CaseId, BTreeSet<[u8; 32]>> = BTreeMap::new();
        for (h, accept) in &view.resolved {
            if !accept && rejected_before.get(h) != Some(&false) {
                if let Some(case) = view.resolved_case.get(h) {
                    withdraw.entry(*case).or_default().insert(*h);
                }
            }
        }
        for (case, rejected) in withdraw {
            if erased.contains(&case) || !self.index.cases.contains_key(&case) {
                continue;
            }
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
        // Changes by a device this message shows cut off (revoked, or displaced), applied
        // here before this device knew, that no coordinator decided: moved out of their
        // case into the quarantine, and the changes that build on them parked, exactly
        // as if they had arrived after the cut; a case that holds nothing else leaves
        // the store whole, into the quarantine (decision 0020, red team 2026-12-05 T3).
        let newly_cut: BTreeSet<[u8; 32]> = view
            .members
            .iter()
            .filter(|(d, m)| !m.active && before.members.get(d).is_some_and(|b| b.active))
            .map(|(d, _)| d.0)
            .collect();
        if !newly_cut.is_empty() {
            let undecided = |c: &Change| {
                !view.resolved.contains_key(&c.hash().0)
                    && view
                        .by_actor(c.actor_id().to_bytes())
                        .is_some_and(|(d, _)| newly_cut.contains(&d.0))
            };
            let cases: Vec<CaseId> = self
                .index
                .cases
                .keys()
                .filter(|c| !erased.contains(c))
                .copied()
                .collect();
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
                    latest(&deltas, &case, true).or(self.index.sync.quarantine.get(&case)),
                    &cut.quarantined,
                );
                let parked = merged(
                    latest(&deltas, &case, false).or(self.index.sync.pending.get(&case)),
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
        }
        let written: Vec<(CaseId, u32)> = to_write
            .iter()
            .map(|w| match w {
                ToWrite::Doc { case, .. } => *case,
                ToWrite::Prepared(p) => p.case,
            })
            .map(|c| {
                (
                    c,
                    self.index.cases.get(&c).map_or(0, |e| e.summary.conflicts),
                )
            })
            .collect();
        self.persist_batch(to_write, deltas)?;
        for (case, before) in written {
            let after = self
                .index
                .cases
                .get(&case)
                .map_or(0, |e| e.summary.conflicts);
            report.conflicts_created += after.saturating_sub(before) as usize;
        }
        if role_refused > 0 {
            report.dropped.push(format!(
                "{role_refused} case(s) refused: changes outside their author's role"
            ));
        }
        for t in tombstones {
            let existed = self.index.cases.contains_key(&t.case);
            self.apply_tombstone(t)?;
            report.cases_erased += usize::from(existed);
        }
        Ok(report)
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
struct CutOut {
    quarantined: SignedChanges,
    parked: SignedChanges,
    rest: Option<CaseDoc>,
}

/// `changes` without those that build, directly or through one another, on a change
/// `resolved` marks rejected; and how many were left out.
fn without_rejected(
    changes: Vec<(Change, [u8; 64])>,
    resolved: &BTreeMap<[u8; 32], bool>,
) -> (Vec<(Change, [u8; 64])>, usize) {
    let mut dead: BTreeSet<[u8; 32]> = BTreeSet::new();
    loop {
        let before = dead.len();
        for (c, _) in &changes {
            if c.deps()
                .iter()
                .any(|d| resolved.get(&d.0) == Some(&false) || dead.contains(&d.0))
            {
                dead.insert(c.hash().0);
            }
        }
        if dead.len() == before {
            break;
        }
    }
    let n = dead.len();
    let kept = changes
        .into_iter()
        .filter(|(c, _)| !dead.contains(&c.hash().0))
        .collect();
    (kept, n)
}

/// The case `doc` split at a cut: every change `out` names, and every change that
/// depends on one of them, leave it; `None` if it holds none of them.
fn cut_out(
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
fn latest<'a>(
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

/// "invitation … was used again by …": what a coordinator is told of a second use.
fn reuse_notice(view: &Membership, invite: &[u8; 32], device: &DeviceId, name: &str) -> String {
    let admitted = view
        .bound
        .get(invite)
        .and_then(|ds| ds.first())
        .and_then(|d| view.members.get(d).map(|m| (d, m.name.clone())));
    let (first, first_name) = admitted.map(|(d, n)| (d.short(), n)).unwrap_or_default();
    format!(
        "invitation {} was used again by device {} (\"{name}\"); it admitted device {first} \
         (\"{first_name}\") already",
        crate::sync::invitation_id(&B32(*invite)),
        device.short(),
    )
}

/// The notice of a contested invitation (decision 0022): both devices, and what a
/// coordinator does about it.
fn contest_notice(view: &Membership, invite: &[u8; 32], devices: &[DeviceId]) -> String {
    let named: Vec<String> = devices
        .iter()
        .map(|d| {
            let name = view.members.get(d).map(|m| m.name.as_str()).unwrap_or("");
            format!("device {} (\"{name}\")", d.short())
        })
        .collect();
    format!(
        "invitation {} was used again: coordinators' devices admitted {} (a copy of a \
         phone restored from a backup, or two coordinators apart); none of them has more \
         than a field worker's rights until a coordinator revokes the one that should not \
         be a member (`member revoke <device>`)",
        crate::sync::invitation_id(&B32(*invite)),
        named.join(" and "),
    )
}

/// Parses the changes of one case: individual changes (signatures in order), or a
/// whole document (signatures in change-hash order).
fn parse_changes(
    doc: Option<&[u8]>,
    changes: Vec<ByteBuf>,
    sigs: &[B64],
) -> Result<(SignedChanges, Option<Box<AutoCommit>>)> {
    if let Some(bytes) = doc {
        let mut am = AutoCommit::load(bytes)
            .map_err(|_| Error::rejected("a case document does not load"))?;
        let mut all: Vec<Change> = am.get_changes(&[]);
        all.sort_by_key(|c| c.hash());
        if all.len() != sigs.len() {
            return Err(Error::rejected(
                "every change needs exactly one author signature",
            ));
        }
        let pairs = all.into_iter().zip(sigs.iter().map(|s| s.0)).collect();
        return Ok((pairs, Some(Box::new(am))));
    }
    let mut out = Vec::with_capacity(changes.len());
    for (bytes, sig) in changes.into_iter().zip(sigs) {
        let c = Change::from_bytes(bytes.into_vec())
            .map_err(|_| Error::rejected("a change does not parse"))?;
        out.push((c, sig.0));
    }
    Ok((out, None))
}

/// Automerge changes, each with its author's Ed25519 signature.
type SignedChanges = Vec<(Change, [u8; 64])>;

/// A case's changes after their signatures were checked: the case, its changes, the
/// whole document if one was sent, and the heads the sender declared.
type Verified = (CaseId, SignedChanges, Option<Box<AutoCommit>>, Vec<Hash>);

/// What a worker of the ingest returns for one case: built already (a case new to this
/// device), or verified, for the store's thread to apply (with its changes held for
/// quarantine).
enum Checked {
    Built(CaseId, Fresh),
    Verified(Box<(Verified, SignedChanges)>),
}

/// What [`build_fresh`] needs besides the case.
struct FreshContext<'a> {
    /// The actor this device writes as.
    actor: ActorId,
    /// The membership the changes are judged by.
    view: &'a Membership,
    /// The summaries' update time.
    now: Timestamp,
}

/// Builds a case new to this device from its verified changes, checks them against
/// their authors' rights, and prepares its record (keeping the document only if
/// `keep`, for the cache).
fn build_fresh(
    ctx: &FreshContext<'_>,
    case: CaseId,
    changes: SignedChanges,
    declared: &[Hash],
    keep: bool,
) -> Result<Fresh> {
    let mut doc = CaseDoc::empty(case, ctx.actor.clone());
    let check = |d: &mut AutoCommit, empty: bool, new: &[&Change]| {
        crate::sync::rights::check_changes(ctx.view, &case, empty, d, new)
    };
    let applied = match doc.apply_verified(&changes, &check) {
        Err(Error::NotPermitted { .. }) => return Ok(Fresh::Refused(changes.len())),
        Ok(Err(_missing)) => return Ok(Fresh::Waiting(changes)),
        Ok(Ok(0)) => return Ok(Fresh::Known),
        Ok(Ok(n)) => n,
        Err(e) => return Err(e),
    };
    let complete = declared.iter().all(|h| doc.knows_head(&ChangeHash(h.0)));
    // The changes, concatenated, are a valid saved document: store them as they came
    // (signatures in the same order) instead of re-encoding the document.
    let chunk = crate::model::stored_chunk(changes.iter().map(|(c, s)| (c, Some(s))));
    let prepared = Prepared::new(case, doc, true, Some(chunk), keep, ctx.now)?;
    Ok(Fresh::Built {
        prepared,
        applied,
        complete,
    })
}

/// What became of a case new to this device, built on a worker thread.
enum Fresh {
    /// Nothing in the changes was new.
    Known,
    /// Built, checked and described: ready to write. `applied` changes; `complete`:
    /// the document reached the heads the sender declared.
    Built {
        prepared: Box<Prepared>,
        applied: usize,
        complete: bool,
    },
    /// Dependencies have not arrived: park these changes.
    Waiting(SignedChanges),
    /// Outside the author's rights.
    Refused(usize),
}

/// How many cases' changes one worker parses and checks together (their signatures in
/// batches).
const VERIFY_SLICE: usize = 64;
