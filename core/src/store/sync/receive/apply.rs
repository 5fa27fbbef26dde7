//! The apply step of receiving: [`Store::apply_plan`] executes a [`ReceivePlan`].
//!
//! Everything that needs a case document happens here: loading it, the rights check
//! (it needs the document: who created the case), applying the changes, parking them
//! when dependencies are missing, building the cases new to this device (in parallel:
//! the bulk of a first sync), dropping quarantine candidates the document already
//! holds, and rebuilding documents for withdrawals and cut-outs
//! ([`super::rebuild`]). Then the group, every document and every sync delta are
//! written through one transaction helper ([`Store::persist_batch`], one `fdatasync`);
//! the accepted erasures follow it, each one durable on its own (see decision 0030).

use automerge::{AutoCommit, Change, ChangeHash};

use super::plan::{signed, CasePlan, ReceivePlan};
use super::{SignedChanges, SyncReport};
use crate::parallel::par_map;
use crate::store::index::SyncDelta;
use crate::store::sync::batch::{Prepared, ToWrite};
use crate::store::*;
use crate::sync::Membership;

impl Store {
    /// Executes a plan of [`super::plan::plan`]: applies, builds, withdraws and cuts
    /// out, writes it all in one batch, then applies the erasures. Returns what was
    /// done. A failure before the batch is written leaves every file as it was.
    pub(in crate::store) fn apply_plan(&mut self, plan: ReceivePlan) -> Result<SyncReport> {
        let ReceivePlan {
            group,
            group_changed,
            view,
            mut report,
            tombstones,
            erased,
            sent,
            mut cases,
            quarantine_updates,
            released: _,
            withdrawals,
            cut,
            cut_cases,
        } = plan;
        let mut deltas = quarantine_updates;
        // New quarantined changes (unless this device already has them).
        let held: Vec<(CaseId, SignedChanges)> = cases
            .iter_mut()
            .filter(|cp| !cp.quarantine.is_empty())
            .map(|cp| (cp.case, std::mem::take(&mut cp.quarantine)))
            .collect();
        for (case, changes) in held {
            self.hold_in_quarantine(case, changes, &mut deltas, &mut report)?;
        }
        // Everything checked: nothing was written so far. The group goes with the cases
        // in one batch (one fsync), erasures after it.
        if group_changed {
            deltas.insert(0, SyncDelta::Group(group));
        }
        let mut to_write: Vec<ToWrite> = Vec::new();
        // Cases new to this device, sent as changes with nothing parked for them: build
        // their documents in parallel (the bulk of a first sync). Those with nothing
        // quarantined either go first, as they came; each worker keeps its own data hot
        // and frees what it allocated, and only the last few documents stay, for the
        // cache.
        let now = Timestamp::now();
        let fresh_ctx = FreshContext {
            actor: self.actor.clone(),
            view: &view,
            now,
        };
        let (fast, rest): (Vec<CasePlan>, Vec<CasePlan>) =
            cases.into_iter().partition(|cp| cp.fast.is_some());
        let (fresh, verified): (Vec<CasePlan>, Vec<CasePlan>) =
            rest.into_iter().partition(|cp| cp.fresh);
        let fast_from = sent.saturating_sub(self.options.cache_size);
        let fresh_from = fresh.len().saturating_sub(self.options.cache_size);
        let jobs: Vec<(CasePlan, bool)> = fast
            .into_iter()
            .map(|cp| {
                let keep = cp.fast.is_some_and(|i| i >= fast_from);
                (cp, keep)
            })
            .chain(
                fresh
                    .into_iter()
                    .enumerate()
                    .map(|(i, cp)| (cp, i >= fresh_from)),
            )
            .collect();
        let built = par_map(jobs, |(cp, keep)| {
            (
                cp.case,
                build_fresh(&fresh_ctx, cp.case, cp.apply, &cp.declared, keep),
            )
        });
        for (case, item) in built {
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
                    // Some changes' dependencies have not arrived: what can apply does,
                    // the rest is parked.
                    let n = changes.len();
                    match self.settle_case(case, changes, &view, &deltas) {
                        Ok(s) => {
                            take_settlement(case, false, s, &mut report, &mut to_write, &mut deltas)
                        }
                        Err(Error::NotPermitted { .. }) => {
                            report.cases_refused += 1;
                            report.changes_dropped += n;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Fresh::Refused(n) => {
                    report.cases_refused += 1;
                    report.changes_dropped += n;
                }
                Fresh::Clash(changes) => {
                    let n = changes.len();
                    match self.settle_case(case, changes, &view, &deltas) {
                        Ok(s) => {
                            take_settlement(case, false, s, &mut report, &mut to_write, &mut deltas)
                        }
                        Err(Error::NotPermitted { .. }) => {
                            report.cases_refused += 1;
                            report.changes_dropped += n;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let mut role_refused = 0usize;
        for cp in verified {
            let CasePlan {
                case,
                apply: changes,
                loaded,
                declared,
                parked: pending,
                had_parked: had_pending,
                dead,
                ..
            } = cp;
            let incoming = changes.len();
            let check = |d: &mut AutoCommit, empty: bool, new: &[&Change]| {
                crate::sync::rights::check_changes(&view, &case, empty, d, new)
            };
            if dead > 0 {
                deltas.push(park(case, &pending));
                report.changes_dropped += dead;
                report.dropped.push(format!(
                    "{dead} parked change(s) dropped: they build on a change a coordinator \
                     rejected"
                ));
            }
            let exists = self.index.cases.contains_key(&case);
            // A case holding changes that lost a clash is settled by the clash rule
            // whatever arrives for it, so that a change building on a lost one is set
            // aside with it on every device (decision 0031).
            let quarantine = super::rebuild::latest(&deltas, &case, true).or(self
                .index
                .sync
                .quarantine
                .get(&case));
            if super::clash::holds_set_aside(quarantine, &view) {
                let mut all = pending;
                all.extend(changes);
                match self.settle_case(case, all, &view, &deltas) {
                    Ok(s) => {
                        take_settlement(case, exists, s, &mut report, &mut to_write, &mut deltas)
                    }
                    Err(Error::NotPermitted { .. }) => {
                        report.cases_refused += 1;
                        role_refused += 1;
                        report.changes_dropped += incoming;
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            let mut clash_input: Option<SignedChanges> = None;
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
                            // Settled change by change below: what can apply does, the
                            // rest is parked (red team round 5: one change missing a
                            // dependency held back a whole chain that could apply).
                            clash_input = Some(all);
                            Ok((doc, Err(())))
                        }
                        Err(e) => {
                            if exists {
                                self.cache_put(case, doc);
                            }
                            if matches!(&e, Error::Rejected { reason } if reason == crate::model::DUPLICATE_SEQ)
                            {
                                clash_input = Some(all);
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
                    // restored from an older copy wrote twice with one number): the
                    // case is settled by the clash rule, the same on every device
                    // (decision 0031); the rest of the payload goes on either way.
                    if let Some(all) = clash_input.take() {
                        match self.settle_case(case, all, &view, &deltas) {
                            Ok(s) => {
                                take_settlement(
                                    case,
                                    exists,
                                    s,
                                    &mut report,
                                    &mut to_write,
                                    &mut deltas,
                                );
                                continue;
                            }
                            Err(Error::NotPermitted { .. }) => {
                                report.cases_refused += 1;
                                role_refused += 1;
                                report.changes_dropped += incoming;
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
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
                    if exists {
                        self.cache_put(case, doc);
                    }
                    let all = clash_input.take().unwrap_or_default();
                    match self.settle_case(case, all, &view, &deltas) {
                        Ok(s) => take_settlement(
                            case,
                            exists,
                            s,
                            &mut report,
                            &mut to_write,
                            &mut deltas,
                        ),
                        Err(Error::NotPermitted { .. }) => {
                            report.cases_refused += 1;
                            role_refused += 1;
                            report.changes_dropped += incoming;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.withdraw(withdrawals, &mut to_write, &mut report)?;
        self.cut_out_undecided(
            &view,
            &cut,
            cut_cases,
            &mut to_write,
            &mut deltas,
            &mut report,
        )?;
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
        let unapplied: Vec<CaseId> = deltas
            .iter()
            .filter_map(|d| match d {
                SyncDelta::Unapplied { case } => Some(*case),
                _ => None,
            })
            .collect();
        self.persist_batch(to_write, deltas)?;
        report.changed.extend(written.iter().map(|(c, _)| *c));
        report.changed.extend(unapplied);
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
        // Erasures after the batch, each durable on its own: erasing purges the case's
        // content by compaction, which must follow the durable erasure record
        // (decision 0030). `erased` already counted them for the changes above.
        debug_assert!(tombstones.iter().all(|t| erased.contains(&t.case)));
        for t in tombstones {
            let existed = self.index.cases.contains_key(&t.case);
            let case = t.case;
            self.apply_tombstone(t)?;
            report.cases_erased += usize::from(existed);
            if existed {
                report.changed.push(case);
            }
        }
        report.changed.sort();
        report.changed.dedup();
        Ok(report)
    }

    /// Adds a case's changes by revoked devices to its quarantine, but those its
    /// document already holds (applied before this device knew of the revocation) and
    /// those already quarantined.
    fn hold_in_quarantine(
        &mut self,
        case: CaseId,
        changes: SignedChanges,
        deltas: &mut Vec<SyncDelta>,
        report: &mut SyncReport,
    ) -> Result<()> {
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
            return Ok(());
        }
        let mut all: SignedChanges = signed(
            self.index
                .sync
                .quarantine
                .get(&case)
                .map_or(&[], Vec::as_slice),
        );
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
        Ok(())
    }
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
        Err(Error::Rejected { reason }) if reason == crate::model::DUPLICATE_SEQ => {
            return Ok(Fresh::Clash(changes))
        }
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
    /// Two versions of one change: settled by the clash rule on the store's thread.
    Clash(SignedChanges),
}

/// Adds what the clash rule made of a case to this ingest's report, writes and journal
/// entries.
fn take_settlement(
    case: CaseId,
    exists: bool,
    s: super::clash::Settlement,
    report: &mut SyncReport,
    to_write: &mut Vec<ToWrite>,
    deltas: &mut Vec<SyncDelta>,
) {
    report.changes_applied += s.applied;
    report.changes_quarantined += s.quarantined;
    report.cases_waiting += usize::from(s.waiting);
    if let Some((doc, full)) = s.doc {
        if exists {
            report.cases_updated += 1;
        } else {
            report.cases_created += 1;
        }
        to_write.push(ToWrite::Doc {
            case,
            doc: Box::new(doc),
            full,
        });
    }
    if s.dropped > 0 {
        report.changes_dropped += s.dropped;
        report.dropped.push(format!(
            "case {}: {} change(s) dropped: a coordinator rejected them (or what they build \
             on), or decided on them and they lost to another version of the same change",
            case.short(),
            s.dropped
        ));
    }
    if s.keep_stored_quarantine {
        deltas.retain(|d| !matches!(d, SyncDelta::Quarantine { case: c, .. } if *c == case));
    }
    deltas.extend(s.deltas);
    report.notices.extend(s.notice);
}
