//! Receiving what another device sent, in two steps (decision 0030):
//!
//! 1. [`plan`] verifies the opened payload against what this device knows, taking only
//!    shared references (the group, the sync state, the erased cases, the ids of the
//!    cases held, the identity) and doing no I/O. It merges the membership records into
//!    a *copy* of the group (the sender must be a member of it), checks every
//!    tombstone's signature and every change's author signature (by the member whose
//!    actor id wrote it, in parallel slices), and classifies each change: to apply, to
//!    quarantine (by a revoked device, undecided), or dropped (on an erased case, or
//!    rejected by a coordinator). It also decides the quarantine releases, the parked
//!    changes that can never apply, the withdrawals and the cases to search for changes
//!    of a device this message cuts off. The result is a [`plan::ReceivePlan`], or the
//!    error that refuses the whole message.
//! 2. [`Store::apply_plan`] executes the plan. Everything that needs a case document
//!    is its job: loading documents, the rights check (it needs the document), applying
//!    changes to a fork of each document (missing dependencies park them as
//!    *pending*), building the cases new to this device on all cores, dropping
//!    quarantine candidates a document already holds, and rebuilding documents for
//!    withdrawals and cut-outs ([`rebuild`]). A case where two versions of one change
//!    meet (a phone restored from an older copy) is settled by [`clash`], the same on
//!    every device (decision 0031). The group and every updated case and
//!    sync delta are written through one transaction helper
//!    ([`Store::persist_batch`], one `fdatasync`); the accepted erasures follow it.
//!
//! A refused message changes no byte; the call returns only once everything is
//! durable (and only then does a live session reply).

mod apply;
pub(super) mod clash;
pub(crate) mod plan;
mod rebuild;

use automerge::Change;

use self::plan::{Known, ReceivePlan};
use crate::codec::B32;
use crate::store::*;
use crate::sync::{DeviceId, Payload};

/// Automerge changes, each with its author's Ed25519 signature.
pub(crate) type SignedChanges = Vec<(Change, [u8; 64])>;

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
    /// Changes set aside for a coordinator: by revoked devices (to accept or reject), or
    /// lost to another version of the same change (decision 0031; to reject).
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
    /// used again by device …"), and envelopes of the bundle this device could not open
    /// (see `envelopes_unopened`), one line each.
    pub notices: Vec<String>,
    /// Envelopes before the main one (admission or key updates) that no key of this
    /// device opens: meant for another device, or damaged (indistinguishable; the rest of
    /// the bundle is verified and imported on its own).
    pub envelopes_unopened: usize,
    /// The cases whose content this changed on this device (created, updated,
    /// rebuilt, erased or withdrawn), sorted, each once: what an app redraws.
    pub changed: Vec<CaseId>,
    /// Whether the team as [`Team::members`](crate::Team::members) lists it changed: a device joined or was
    /// admitted, renamed, given another role, revoked or made active again. (Records
    /// that change no member, such as a coordinator's decision on a quarantined change
    /// or a key rotation, leave it `false`.)
    pub team_changed: bool,
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
            envelopes_unopened,
            changed,
            team_changed,
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
        self.envelopes_unopened += envelopes_unopened;
        self.changed.extend(changed.iter().copied());
        self.changed.sort();
        self.changed.dedup();
        self.team_changed |= team_changed;
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
        let plan = self.plan_receive(sender, payload, via)?;
        self.apply_plan(plan)
    }

    /// The plan of receiving `payload` from `sender` (see [`plan::plan`]): nothing is
    /// read from disk or written.
    pub(in crate::store) fn plan_receive(
        &self,
        sender: DeviceId,
        payload: Payload,
        via: Option<B32>,
    ) -> Result<ReceivePlan> {
        let known = Known {
            group: self.group()?,
            sync: &self.index.sync,
            tombstones: &self.index.tombstones,
            cases: &self.index.cases,
            identity: &self.identity,
        };
        plan::plan(&known, sender, payload, via)
    }
}
