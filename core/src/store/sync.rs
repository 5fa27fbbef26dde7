//! The store's side of sync: groups, bundles, live sessions.
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

use super::index::{HeadsMap, PendingChange, SyncDelta};
use super::*;
use crate::model::ChangeSig;
use crate::parallel::{chunked, par_map, par_map_from, PARALLEL_FROM};
use crate::sync::signatures::{self, ChangeSignature};
use crate::sync::{
    CaseChanges, DeviceId, GroupState, Invitation, JoinRequest, LiveHeader, Member, MemberOp,
    Membership, Payload, Role, B32, B64,
};

#[cfg(test)]
thread_local! {
    /// Tests turn this device's own rights checks off to forge what a modified app
    /// could send, and check that the *receiving* devices refuse it.
    pub(crate) static LOCAL_CHECKS_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

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

/// Which changes a bundle carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleScope {
    /// Everything this device has: any member can catch up from it alone.
    Everything,
    /// What changed since the last bundle exported for this named target (e.g. a
    /// colleague's name, "usb", "qr"); everything the first time.
    SinceLast(String),
}

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
    /// used again by device …"), and envelopes of the bundle this device could not open
    /// (see `envelopes_unopened`), one line each.
    pub notices: Vec<String>,
    /// Envelopes before the main one (admission or key updates) that no key of this
    /// device opens: meant for another device, or damaged (indistinguishable; the rest of
    /// the bundle is verified and imported on its own).
    pub envelopes_unopened: usize,
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
    }
}

/// One live sync session with another device, driven by [`Store::live_receive`].
/// The app (or CLI) moves the bytes over any reliable stream.
#[derive(Debug)]
pub struct LiveSession {
    id: [u8; 16],
    initiator: bool,
    sent_inventory: bool,
    /// Whether the peer is known to hold this device's membership records (then the
    /// first message carries no key updates).
    peer_meta_known: Option<bool>,
    peer: Option<DeviceId>,
    done: bool,
    /// What the session has done so far.
    pub report: SyncReport,
    /// Messages and bytes sent and received.
    pub messages_sent: usize,
    /// Bytes sent.
    pub bytes_sent: usize,
    /// Messages received.
    pub messages_received: usize,
    /// Bytes received.
    pub bytes_received: usize,
}

impl LiveSession {
    /// Whether the session has finished.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The device on the other end, once known.
    pub fn peer(&self) -> Option<DeviceId> {
        self.peer
    }
}

impl Store {
    /// This device's public identity.
    pub fn device_id(&self) -> DeviceId {
        self.identity.id()
    }

    /// The group's name, if this device is in one.
    pub fn group_name(&self) -> Option<String> {
        self.index.sync.group.as_ref().map(|g| g.name.clone())
    }

    /// The group's members, revoked ones included (`active` false).
    pub fn members(&self) -> Vec<Member> {
        self.index
            .sync
            .group
            .as_ref()
            .map(|g| {
                g.view()
                    .members
                    .into_iter()
                    .map(|(device, m)| Member {
                        device,
                        name: m.name,
                        role: m.role,
                        active: m.active,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The group's newest key epoch (0 until the first rotation).
    pub fn key_epoch(&self) -> Option<u32> {
        self.index.sync.group.as_ref().map(|g| g.view().epoch)
    }

    /// This device's role in its group (`None` outside a group, or once revoked).
    pub fn role(&self) -> Option<Role> {
        let g = self.index.sync.group.as_ref()?;
        g.view().active(&self.identity.id()).map(|m| m.role)
    }

    /// The role this device joined with while it waits for a coordinator to admit it
    /// (`None` once admitted, or outside a group). Until then it holds no group key.
    pub fn awaiting_admission(&self) -> Option<Role> {
        let g = self.index.sync.group.as_ref()?;
        g.view().pending.get(&self.identity.id()).map(|(_, r)| *r)
    }

    /// Creates a group named `name` with this device, named `device_name`, as its
    /// first member and coordinator.
    pub fn create_group(&mut self, name: &str, device_name: &str) -> Result<()> {
        self.check_writable()?;
        if self.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        let g = GroupState::create(&self.identity, name, device_name)?;
        self.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Creates a one-time invitation admitting one device as `role` (show it as a QR
    /// code, in person). Coordinators only.
    pub fn invite(&mut self, role: Role) -> Result<Invitation> {
        self.check_writable()?;
        let mut g = self.group()?.clone();
        let inv = g.invite(&self.identity, role)?;
        self.write_sync(vec![SyncDelta::Group(g)])?;
        Ok(inv)
    }

    /// A join request for joining a group from afar: send its text over any channel,
    /// and read its code out over the phone to the coordinator.
    pub fn join_request(&self, device_name: &str) -> Result<JoinRequest> {
        if self.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        JoinRequest::new(&self.identity, device_name)
    }

    /// Checks a join request received over any channel and gives its code, to compare
    /// with the one the requester reads out.
    pub fn read_join_request(&self, request: &str) -> Result<JoinRequest> {
        JoinRequest::parse(request)
    }

    /// Invites the device of a join request as `role`, once `heard_code` (the code the
    /// requester read out over the phone) matches the request. The invitation is sealed
    /// to that device and may travel over any channel. Coordinators only.
    pub fn invite_remote(
        &mut self,
        request: &str,
        role: Role,
        heard_code: &str,
    ) -> Result<Invitation> {
        self.check_writable()?;
        let mut g = self.group()?.clone();
        let inv = g.invite_remote(&self.identity, role, request, heard_code)?;
        self.write_sync(vec![SyncDelta::Group(g)])?;
        Ok(inv)
    }

    /// Joins the group of an invitation (shown in person, or sealed to this device's
    /// join request), naming this device `device_name`.
    pub fn join_group(&mut self, invitation: &str, device_name: &str) -> Result<()> {
        self.check_writable()?;
        if self.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        let g = GroupState::join(invitation, &self.identity, device_name)?;
        self.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Revokes a member's device for good and rotates the group key: the new key goes,
    /// sealed to their X25519 keys, to every remaining member but partners. The revoked
    /// device can open nothing sealed afterwards, every message it sends is refused,
    /// and its late changes are quarantined. Coordinators only.
    pub fn revoke(&mut self, device: &DeviceId) -> Result<()> {
        self.check_writable()?;
        let mut g = self.group()?.clone();
        let view = g.require_coordinator(&self.identity, "revoke a member")?;
        if *device == self.identity.id() {
            return Err(Error::invalid(
                "member",
                "a coordinator cannot revoke its own device; ask another coordinator",
            ));
        }
        if view.active(device).is_none() {
            return Err(Error::invalid(
                "member",
                "no active member of the group has this device key",
            ));
        }
        // The cut (decision 0020): every change by the device this coordinator holds
        // now is accepted by name, so every device applies it, whenever it arrives;
        // any other change by the device waits for a coordinator's decision, on every
        // device alike.
        for (case, changes) in self.changes_by(device)? {
            g.append(
                &self.identity,
                MemberOp::Resolve {
                    case,
                    changes,
                    accept: true,
                },
            )?;
        }
        g.append(
            &self.identity,
            MemberOp::Revoke {
                member: B32(device.0),
            },
        )?;
        g.rekey(&self.identity)?;
        self.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Every change `device` wrote that this device holds, by case.
    fn changes_by(&mut self, device: &DeviceId) -> Result<Vec<(CaseId, Vec<B32>)>> {
        let actor = device.actor();
        let ids: Vec<CaseId> = self.index.cases.keys().copied().collect();
        let mut out = Vec::new();
        for id in ids {
            let mut doc = self.take_doc(&id)?;
            let mine: Vec<B32> = doc
                .changes_since(&[])
                .iter()
                .filter(|(c, _)| c.actor_id().to_bytes() == actor.as_slice())
                .map(|(c, _)| B32(c.hash().0))
                .collect();
            self.cache_put(id, doc);
            if !mine.is_empty() {
                out.push((id, mine));
            }
        }
        Ok(out)
    }

    /// Gives an active member another role. Coordinators only.
    pub fn set_role(&mut self, device: &DeviceId, role: Role) -> Result<()> {
        if *device == self.identity.id() {
            return Err(Error::invalid(
                "member",
                "a coordinator cannot change its own role; ask another coordinator",
            ));
        }
        self.member_op(
            "change a member's role",
            device,
            MemberOp::SetRole {
                member: B32(device.0),
                role,
            },
        )
    }

    /// Assigns a case to a member (field worker or partner), or takes it back, so the
    /// member may change it. Coordinators only.
    pub fn assign_case(&mut self, case: &CaseId, device: &DeviceId, assigned: bool) -> Result<()> {
        if !self.index.cases.contains_key(case) {
            return Err(Error::CaseNotFound { id: case.to_hex() });
        }
        self.member_op(
            "assign a case",
            device,
            MemberOp::Assign {
                case: *case,
                member: B32(device.0),
                assigned,
            },
        )
    }

    fn member_op(&mut self, action: &str, device: &DeviceId, op: MemberOp) -> Result<()> {
        self.check_writable()?;
        let mut g = self.group()?.clone();
        let view = g.require_coordinator(&self.identity, action)?;
        if view.active(device).is_none() {
            return Err(Error::invalid(
                "member",
                "no active member of the group has this device key",
            ));
        }
        g.append(&self.identity, op)?;
        self.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Refuses, before anything is written, a local change that this device's role does
    /// not allow (other devices would refuse it on ingest). `case` is `None` for a new
    /// case. Outside a group, everything is allowed.
    pub(super) fn check_local_rights(
        &mut self,
        case: Option<&CaseId>,
        edits: &[Edit],
    ) -> Result<()> {
        #[cfg(test)]
        if LOCAL_CHECKS_OFF.with(std::cell::Cell::get) {
            return Ok(());
        }
        let Some(g) = self.index.sync.group.as_ref() else {
            return Ok(());
        };
        let view = g.view();
        let me = self.identity.id();
        let denied = |reason: &str| Error::NotPermitted {
            action: "change this case".into(),
            reason: reason.into(),
        };
        let Some(info) = view.active(&me) else {
            if view.pending.contains_key(&me) {
                return Err(denied(
                    "this device waits to be admitted: send a bundle to the coordinator who \
                     invited it and import the coordinator's reply",
                ));
            }
            if view.reused.iter().any(|(_, d, _)| *d == me) {
                return Err(denied(
                    "another device was admitted on the invitation this device joined with",
                ));
            }
            return Err(denied("this device was revoked from its group"));
        };
        let Some(case) = case else {
            return match info.role {
                Role::Partner => Err(denied("a partner device cannot create cases")),
                _ => Ok(()),
            };
        };
        match info.role {
            Role::Coordinator => Ok(()),
            Role::FieldWorker => {
                if view.is_assigned(case, &me) {
                    return Ok(());
                }
                let doc = self.take_doc(case)?;
                let creator = doc.creator_actor();
                self.cache_put(*case, doc);
                if creator.as_deref() == Some(me.actor().as_slice()) {
                    Ok(())
                } else {
                    Err(denied(
                        "a field worker changes only the cases it created or was assigned; ask a coordinator",
                    ))
                }
            }
            Role::Partner => {
                if !view.is_assigned(case, &me) {
                    return Err(denied("this case was not shared with this partner device"));
                }
                if edits
                    .iter()
                    .all(|e| matches!(e, Edit::AddNote { .. } | Edit::SetReferralStatus { .. }))
                {
                    Ok(())
                } else {
                    Err(denied(
                        "a partner device only updates referral status and adds notes",
                    ))
                }
            }
        }
    }

    /// Whether this device may erase cases: outside a group, or as a coordinator.
    pub(super) fn check_may_erase(&self) -> Result<()> {
        #[cfg(test)]
        if LOCAL_CHECKS_OFF.with(std::cell::Cell::get) {
            return Ok(());
        }
        match self.index.sync.group.as_ref() {
            None => Ok(()),
            Some(g) if g.view().is_coordinator(&self.identity.id()) => Ok(()),
            Some(_) => Err(Error::NotPermitted {
                action: "erase a case".into(),
                reason: "only a coordinator of the group may erase cases".into(),
            }),
        }
    }

    /// Changes by revoked devices that arrived after their revocation, per case,
    /// waiting for a coordinator to accept or reject them.
    pub fn quarantined(&self) -> Vec<Quarantined> {
        let view = match self.index.sync.group.as_ref() {
            Some(g) => g.view(),
            None => return Vec::new(),
        };
        self.index
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
                let preview = self.preview_quarantined(case, &signed);
                let clashing = signed
                    .iter()
                    .filter(|(c, _)| {
                        view.by_actor(c.actor_id().to_bytes())
                            .is_some_and(|(_, m)| m.active)
                    })
                    .count();
                Quarantined {
                    case: *case,
                    changes: q.len(),
                    authors: authors.into_iter().collect(),
                    clashing,
                    new_case: !self.index.cases.contains_key(case),
                    fields: preview.0,
                    notes: preview.1,
                    summary: preview.2,
                }
            })
            .collect()
    }

    /// What quarantined changes would change if accepted: the fields, the notes they
    /// add, and a short summary of a case they create (applied to a copy, never
    /// stored).
    fn preview_quarantined(
        &self,
        case: &CaseId,
        changes: &[(Change, [u8; 64])],
    ) -> (Vec<String>, Vec<String>, String) {
        let exists = self.index.cases.contains_key(case);
        let base = if exists {
            match self.read_doc(case) {
                Ok(d) => without_rivals(d, case, changes, &self.actor),
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

    /// Accepts (applies) or rejects (drops) a case's quarantined changes. The decision
    /// is a signed membership record, so every device decides the same once it syncs.
    /// Coordinators only.
    pub fn resolve_quarantine(&mut self, case: &CaseId, accept: bool) -> Result<SyncReport> {
        self.check_writable()?;
        let q = self
            .index
            .sync
            .quarantine
            .get(case)
            .cloned()
            .ok_or_else(|| Error::invalid("case", "this case has no quarantined changes"))?;
        let mut g = self.group()?.clone();
        g.require_coordinator(&self.identity, "resolve quarantined changes")?;
        let all: Vec<Change> = q
            .iter()
            .filter_map(|PendingChange(b, _)| Change::from_bytes(b.clone()).ok())
            .collect();
        // Changes by active members are there because they lost a clash (decision
        // 0031): they can only be rejected; accepting decides the others.
        let view = g.view();
        let lost_clash = |c: &Change| {
            view.by_actor(c.actor_id().to_bytes())
                .is_some_and(|(_, m)| m.active)
        };
        let held: Vec<Change> = if accept {
            all.iter().filter(|c| !lost_clash(c)).cloned().collect()
        } else {
            all
        };
        if held.is_empty() {
            return Err(cannot_accept());
        }
        if accept && self.index.cases.contains_key(case) {
            // Changes that reuse an author's sequence number for another change than
            // this device holds can never apply: accepting them would decide nothing.
            let mut doc = self.take_doc(case)?;
            let clash = doc.clashes_with(&held);
            self.cache_put(*case, doc);
            if clash {
                return Err(cannot_accept());
            }
        }
        let changes = held.iter().map(|c| B32(c.hash().0)).collect();
        let before = g.records.clone();
        g.append(
            &self.identity,
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
        let tombstones = if !accept && !self.index.cases.contains_key(case) {
            let mut t = Tombstone {
                case: *case,
                erased_at: Timestamp::now(),
                reason: ErasureReason::Other,
                signature: None,
            };
            let sig = self.identity.sign(&t.signed_bytes());
            t.signature = Some(TombstoneSignature {
                by: self.identity.id().0,
                sig,
            });
            vec![t]
        } else {
            Vec::new()
        };
        // The decision goes through the ingest pipeline, as if this device had sent
        // it: applied (or dropped, or withdrawn) and written in one batch.
        let me = self.identity.id();
        let mut report = self.ingest(
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

    /// The key this device seals with: the group's current key, unless this device
    /// was revoked.
    pub(super) fn sending_key(&self) -> Result<crate::sync::envelope::EpochKey> {
        let group = self.group()?;
        if group.view().pending.contains_key(&self.identity.id()) {
            return Err(waiting_for_admission());
        }
        if self.index.sync.group.is_some() && self.role().is_none() {
            return Err(Error::NotPermitted {
                action: "sync".into(),
                reason: "this device was revoked from its group".into(),
            });
        }
        group.current_key()
    }

    pub(crate) fn group(&self) -> Result<&GroupState> {
        self.index.sync.group.as_ref().ok_or(Error::NoGroup)
    }

    /// Seals a bundle of the changes `scope` asks for.
    pub fn export_bundle(&mut self, scope: BundleScope) -> Result<Vec<u8>> {
        if matches!(scope, BundleScope::SinceLast(_)) {
            // It records the target's new position: a write, refused on a damaged
            // store like every other (an export of everything writes nothing).
            self.check_writable()?;
        }
        let (bytes, deltas) = self.export_bundle_deferred(scope)?;
        if let Some(deltas) = deltas {
            self.write_sync(deltas)?;
        }
        Ok(bytes)
    }

    /// [`Store::export_bundle`] without moving the target's position: the bundle, and
    /// (for [`BundleScope::SinceLast`]) the changes to the position that the export
    /// would make (see `handover.rs`, which writes them once the peer confirmed).
    pub(super) fn export_bundle_deferred(
        &mut self,
        scope: BundleScope,
    ) -> Result<(Vec<u8>, Option<Vec<SyncDelta>>)> {
        let base = match &scope {
            BundleScope::Everything => None,
            BundleScope::SinceLast(name) => self.index.sync.cursors.get(name).cloned(),
        };
        // Membership: everything, unless this target already got the same records in an
        // earlier bundle; then only the proofs that make this bundle verifiable alone
        // (bundles may arrive in any order, or not at all).
        let meta = B32(self.group()?.records_digest());
        let meta_key = match &scope {
            BundleScope::Everything => None,
            BundleScope::SinceLast(name) => Some(cursor_meta_key(name)),
        };
        let meta_known = meta_key
            .as_ref()
            .and_then(|k| self.index.sync.peer_meta.get(k))
            .is_some_and(|m| *m == meta);
        let members = if meta_known {
            Members::Proofs
        } else {
            Members::All
        };
        let payload = self.payload_since(base.as_ref(), members)?;
        let bytes = self.seal_for_group(&payload, !meta_known)?;
        inputs::check_bundle_size(bytes.len())?;
        if let (BundleScope::SinceLast(name), Some(peer)) = (scope, meta_key) {
            let updates = self.state_updates(base.as_ref());
            let mut deltas = Vec::new();
            if !updates.is_empty() {
                deltas.push(SyncDelta::Cursor {
                    name,
                    updates,
                    replace: false,
                });
            }
            if !meta_known {
                deltas.push(SyncDelta::PeerMeta { peer, meta });
            }
            return Ok((bytes, Some(deltas)));
        }
        Ok((bytes, None))
    }

    /// Imports a bundle: idempotent, in any order, duplicates and gaps tolerated.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<SyncReport> {
        self.check_writable()?;
        let (sender, payload, via, unopened) = self.open_incoming(bytes)?;
        let mut report = self.ingest_from(sender, payload, via)?;
        note_unopened(&mut report, unopened);
        Ok(report)
    }

    /// Opens what another device sent: one envelope, or key-update envelopes followed
    /// by the main one (see [`Store::seal_for_group`]). Nothing is written here: the
    /// key updates this device can open are merged into a copy of the group (they may
    /// hold the key of the main envelope) and their records join the main payload, so
    /// the whole message is then verified and applied at once, or refused whole. The
    /// third value names the single-use invitation whose welcome key opened the main
    /// envelope (a device waiting to be admitted, decision 0016). The fourth value counts
    /// the envelopes before the main one that no key of this device opens (meant for
    /// another device, or damaged: the two cannot be told apart), see [`note_unopened`].
    pub(super) fn open_incoming(
        &self,
        bytes: &[u8],
    ) -> Result<(DeviceId, Payload, Option<B32>, usize)> {
        let parts = crate::sync::envelope::split(bytes)?;
        let (main, updates) = parts
            .split_last()
            .ok_or_else(|| Error::rejected("empty message"))?;
        let mut group = self.group()?.clone();
        let mut members = Vec::new();
        let any_key = |g: &GroupState, tag: &[u8; 16], epoch: u32| {
            g.key_for(tag, epoch)
                .or_else(|| g.welcome_key_for(tag, epoch).map(|(_, k)| k))
        };
        let mut offered: Vec<crate::sync::envelope::EpochKey> = Vec::new();
        let mut offered_none = false;
        let mut unopened = 0;
        for part in updates {
            match crate::sync::open_message(part, |t, e| any_key(&group, t, e)) {
                Ok((_, payload)) => {
                    if !payload.cases.is_empty() || !payload.tombstones.is_empty() {
                        // Only the last envelope of a message carries case data: this
                        // one ended a message of its own.
                        return Err(Error::rejected(
                            "this file holds more than one message (a bundle doubled, or \
                             two bundles joined into one file); nothing was imported: \
                             import each bundle file on its own",
                        ));
                    }
                    group.merge_records(payload.members.clone());
                    group.absorb_keys(&self.identity);
                    members.extend(payload.members);
                    let opened = group.open_offered(&self.identity, &payload.keys);
                    offered_none |= !payload.keys.is_empty() && opened.is_empty();
                    offered.extend(opened);
                }
                // Under a key this device does not hold: an admission or key update for
                // another device, or one whose header was damaged. (One under a key it
                // holds that fails to open is refused above: that is tampering for sure.)
                Err(Error::NotForThisDevice) => unopened += 1,
                Err(e) => return Err(e),
            }
        }
        let main_key = |t: &[u8; 16], e: u32| {
            group.key_for(t, e).or_else(|| {
                offered
                    .iter()
                    .find(|k| k.epoch == e && &k.routing_tag() == t)
                    .cloned()
            })
        };
        let opened = match crate::sync::open_message(main, main_key) {
            Ok((sender, payload)) => Ok((sender, payload, None)),
            Err(Error::NotForThisDevice) => {
                let parsed = crate::sync::envelope::parse(main)?;
                match group.welcome_key_for(&parsed.header.tag, parsed.header.epoch) {
                    Some((invite, key)) => {
                        crate::sync::open_message(main, |_, _| Some(key.clone()))
                            .map(|(s, p)| (s, p, Some(invite)))
                    }
                    None => Err(Error::NotForThisDevice),
                }
            }
            Err(e) => Err(e),
        };
        let (sender, mut payload, via) = match opened {
            Ok(x) => x,
            Err(Error::NotForThisDevice) => {
                let me = self.identity.id();
                let view = group.view();
                if view.reused.iter().any(|(_, d, _)| *d == me) {
                    return Err(not_admitted());
                }
                if view.pending.contains_key(&me) {
                    return Err(waiting_for_admission());
                }
                if offered_none || view.members.get(&me).is_some_and(|m| !m.active) {
                    return Err(Error::NotPermitted {
                        action: "sync".into(),
                        reason: "the team's key rotated and none of the new keys is for this \
                                 device: it was revoked from its group (it can read nothing \
                                 sent since), or must wait for a coordinator to hand it the key"
                            .into(),
                    });
                }
                return Err(Error::NotForThisDevice);
            }
            Err(e) => return Err(e),
        };
        members.append(&mut payload.members);
        payload.members = members;
        Ok((sender, payload, via, unopened))
    }

    /// Seals a payload with the current group key. After a key rotation, the membership
    /// log goes first in one envelope per older key this device holds, so that members
    /// who have not heard of the rotation learn their new key (sealed to their X25519
    /// key in the log) before they meet the main envelope. A revoked device can read
    /// those envelopes, but they hold no case data and no key for it.
    pub(super) fn seal_for_group(&self, payload: &Payload, key_updates: bool) -> Result<Vec<u8>> {
        let group = self.group()?;
        let view = group.view();
        let me = self.identity.id();
        if view.reused.iter().any(|(_, d, _)| *d == me) {
            return Err(not_admitted());
        }
        if view.pending.contains_key(&me) {
            // Waiting to be admitted: this device's own records (its Join and X25519
            // key), under its invitation's welcome key, for the coordinator.
            let (_, welcome) = group
                .welcome_keys()
                .into_iter()
                .next()
                .ok_or_else(waiting_for_admission)?;
            let join = Payload {
                members: group.own_records(&me),
                live: payload.live.clone(),
                ..Payload::default()
            };
            return crate::sync::seal_message(&welcome, &self.identity, &join);
        }
        let key = self.sending_key()?;
        let mut out = Vec::new();
        // Devices this coordinator admitted that may not hold the key yet: their Admit
        // record (the key sealed to them) under their invitation's welcome key, to
        // peers that may lack our records (an admitted device lacks them).
        for (invite, welcome) in group.welcome_keys() {
            let admitted = view.bound.get(&invite.0);
            if !key_updates || admitted.is_none_or(|ds| ds.iter().all(|d| view.active(d).is_none()))
            {
                continue;
            }
            let admit = group.admit_records(&invite, &view);
            if !admit.is_empty() {
                let update = Payload {
                    members: admit,
                    ..Payload::default()
                };
                out.extend(crate::sync::seal_message(
                    &welcome,
                    &self.identity,
                    &update,
                )?);
            }
        }
        // After a rotation, a peer that may lack our records gets, under each older key
        // we hold, the current key sealed to every member (recipients unnamed): enough
        // to open the main envelope, whose records then prove the key. A revoked device
        // learns nothing from it, not even who the members are; a peer known to hold our
        // records gets none (decision 0016).
        if key.epoch > 0 && key_updates {
            let update = Payload {
                keys: group.current_sealed_keys(&view),
                ..Payload::default()
            };
            for old in group.all_keys().into_iter().filter(|k| k.epoch < key.epoch) {
                out.extend(crate::sync::seal_message(&old, &self.identity, &update)?);
            }
        }
        out.extend(crate::sync::seal_message(&key, &self.identity, payload)?);
        Ok(out)
    }

    /// Every case's heads, and erased cases with no heads: the state peers compare.
    fn state(&self) -> HeadsMap {
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
    pub(super) fn state_updates(&self, base: Option<&HeadsMap>) -> Vec<(CaseId, Vec<Hash>)> {
        let mut v: Vec<(CaseId, Vec<Hash>)> = self
            .state()
            .into_iter()
            .filter(|(id, h)| base.and_then(|b| b.get(id)) != Some(h))
            .collect();
        v.sort();
        v
    }

    /// The payload a peer whose state is `base` lacks (`None`: everything).
    pub(super) fn payload_since(
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
        })
    }

    /// All of a case's changes as stored, for a peer that lacks the case, if it is
    /// stored as signed changes (see [`super::chunks`]). The authors are not needed:
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

    /// Verifies and applies a payload from `sender` (see the module doc).
    pub(crate) fn ingest(&mut self, sender: DeviceId, payload: Payload) -> Result<SyncReport> {
        self.ingest_from(sender, payload, None)
    }

    /// [`Store::ingest`] for a message that `via` names the single-use invitation of,
    /// if a welcome key opened it (decision 0016).
    pub(super) fn ingest_from(
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
            // (Changes by an author active all along are there because they lost a
            // clash: `clash` settles them whenever their case is received.)
            let active_again = |c: &Change| {
                view.by_actor(c.actor_id().to_bytes())
                    .is_some_and(|(d, m)| {
                        m.active && !before.members.get(&d).is_some_and(|b| b.active)
                    })
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
                Fresh::Clash(changes) => {
                    let n = changes.len();
                    match self.settle_case(case, changes, view, &deltas) {
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
            // A case holding changes that lost a clash is settled by the clash rule
            // whatever arrives for it, so that a change building on a lost one is set
            // aside with it on every device (decision 0031).
            let quarantine = latest(&deltas, &case, true).or(self.index.sync.quarantine.get(&case));
            if clash::holds_set_aside(quarantine, view) {
                let mut all = pending;
                all.extend(changes);
                match self.settle_case(case, all, view, &deltas) {
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
                            deltas.push(park(case, &all));
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
                        match self.settle_case(case, all, view, &deltas) {
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

    /// Writes several case documents and sync deltas with one fsync (all or nothing).
    fn persist_batch(&mut self, docs: Vec<ToWrite>, deltas: Vec<SyncDelta>) -> Result<()> {
        if docs.is_empty() && deltas.is_empty() {
            return Ok(());
        }
        let start_len = self.journal.len;
        let start_lsn = self.index.next_lsn;
        let now = Timestamp::now();
        let mut records = Vec::new();
        let mut kept = Vec::new();
        // Saving, summarising and sealing each document is independent: do it on all
        // cores. Many documents at once (a first sync) are sealed into blocks, so that
        // compaction later copies them as they are instead of repacking.
        let jobs: Vec<(u64, ToWrite)> = docs
            .into_iter()
            .enumerate()
            .map(|(i, job)| {
                let job = match job {
                    ToWrite::Doc { case, doc, full } => {
                        let chunks = self.index.cases.get(&case).map_or(0, |e| e.frames.len());
                        // A case stored in many chunks is rewritten whole.
                        let full = full || chunks >= self.options.max_chunks;
                        ToWrite::Doc { case, doc, full }
                    }
                    prepared => prepared,
                };
                (start_lsn + i as u64, job)
            })
            .collect();
        let written = jobs.len() as u64;
        let in_blocks = jobs.len() >= BLOCK_RECORDS;
        let parts = chunked(jobs, BLOCK_RECORDS);
        let sealer = &self.sealer;
        // Only the newest documents stay in the cache; the others are dropped here, on
        // all cores (dropping thousands of documents one by one is not free).
        let cached_from = (start_lsn + written).saturating_sub(self.options.cache_size as u64);
        let sealed = par_map(parts, |part| -> Result<Vec<SealedDocs>> {
            let mut out = Vec::new();
            let mut block: BlockBuilder<(CaseId, Record, Option<CaseDoc>)> =
                BlockBuilder::default();
            for (lsn, job) in part {
                let p = match job {
                    ToWrite::Doc { case, doc, full } => {
                        Prepared::new(case, *doc, full, None, true, now)?
                    }
                    ToWrite::Prepared(p) => p,
                };
                let (id, full) = (p.case, p.full);
                let record = Record::Put {
                    lsn,
                    case: id,
                    full,
                    summary: p.summary,
                    doc: p.bytes,
                    sigs: p.sigs,
                    heads: p.heads,
                    stats: Some(p.stats),
                    request: None,
                };
                let doc = p.doc.filter(|_| lsn >= cached_from);
                if in_blocks {
                    block.push(cbor(&record)?, (id, strip_doc(record), doc));
                    if block.is_full() {
                        out.push(block.seal(sealer)?);
                    }
                } else {
                    let frame = format::seal_frame(sealer, CTX_FRAME, &record)?;
                    out.push((frame, vec![(id, strip_doc(record), doc)]));
                }
            }
            if !block.is_empty() {
                out.push(block.seal(sealer)?);
            }
            Ok(out)
        });
        let result: Result<()> = (|| {
            self.index.next_lsn += written;
            for part in sealed {
                for (frame, items) in part? {
                    let off = self.journal.append(&frame)?;
                    for (slot, (id, record, doc)) in items.into_iter().enumerate() {
                        records.push((Loc(JOURNAL, off, frame.len() as u32, slot as u16), record));
                        if let Some(doc) = doc {
                            kept.push((id, doc));
                        }
                    }
                }
            }
            for delta in deltas {
                let record = Record::Sync {
                    lsn: self.index.next_lsn,
                    delta,
                };
                self.index.next_lsn += 1;
                let frame = format::seal_frame(&self.sealer, CTX_FRAME, &record)?;
                let off = self.journal.append(&frame)?;
                records.push((Loc::frame(JOURNAL, off, frame.len() as u32), record));
            }
            self.journal.sync()
        })();
        if let Err(e) = result {
            self.index.next_lsn = start_lsn;
            if self.journal.rollback_to(start_len).is_err() {
                self.poisoned = true;
            }
            return Err(e);
        }
        for (loc, record) in records {
            self.index.apply(record, loc);
        }
        for (id, doc) in kept {
            self.cache_put(id, doc);
        }
        self.maybe_compact()
    }

    /// Writes sync-state changes durably.
    pub(crate) fn write_sync(&mut self, deltas: Vec<SyncDelta>) -> Result<()> {
        self.persist_batch(Vec::new(), deltas)
    }

    // ----- live sessions -----------------------------------------------------------

    /// Starts a live session as the initiator; send the returned bytes to the peer.
    pub fn live_start(&mut self) -> Result<(LiveSession, Vec<u8>)> {
        let expected = self.index.sync.last_peer;
        let base = expected
            .and_then(|p| self.index.sync.peers.get(&p))
            .map(|known| (state_digest(known), known.clone()));
        let mut session = LiveSession {
            id: crate::crypto::random_array()?,
            initiator: true,
            sent_inventory: base.is_none(),
            peer_meta_known: None,
            peer: None,
            done: false,
            report: SyncReport::default(),
            messages_sent: 0,
            bytes_sent: 0,
            messages_received: 0,
            bytes_received: 0,
        };
        let meta = self.meta_digest()?;
        let meta_known = expected
            .and_then(|p| self.index.sync.peer_meta.get(&p))
            .is_some_and(|m| m.0 == meta);
        session.peer_meta_known = Some(meta_known);
        let mut payload = match &base {
            Some((_, known)) => {
                // The device that answers may not be the expected one and may not know this
                // device or the authors we forward: prove them (a few hundred bytes).
                self.payload_since(
                    Some(known),
                    if meta_known {
                        Members::Proofs
                    } else {
                        Members::All
                    },
                )?
            }
            None => Payload::default(),
        };
        if !meta_known {
            payload.members = self.group()?.records.iter().cloned().collect();
        }
        payload.live = Some(LiveHeader {
            session: session.id,
            step: 1,
            base: base.as_ref().map(|(d, _)| B32(*d)),
            inventory: if base.is_none() {
                Some(self.inventory())
            } else {
                None
            },
            meta_digest: B32(self.meta_digest()?),
            last: false,
        });
        let bytes = self.seal_live(&payload, &mut session)?;
        Ok((session, bytes))
    }

    /// Starts a live session as the responder; feed it the initiator's first message.
    pub fn live_accept(&self) -> Result<LiveSession> {
        Ok(LiveSession {
            id: [0; 16],
            initiator: false,
            sent_inventory: false,
            peer_meta_known: None,
            peer: None,
            done: false,
            report: SyncReport::default(),
            messages_sent: 0,
            bytes_sent: 0,
            messages_received: 0,
            bytes_received: 0,
        })
    }

    /// Feeds one message from the peer into the session. Returns the reply to send, if
    /// any; the session is done when [`LiveSession::is_done`] says so. The message's
    /// changes are stored durably before this returns.
    pub fn live_receive(
        &mut self,
        session: &mut LiveSession,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        if session.done {
            return Err(Error::invalid(
                "live session",
                "the session has already finished",
            ));
        }
        if let Some(reason) = crate::sync::LiveRefusal::parse(bytes) {
            return Err(self.refused_by_peer(reason));
        }
        // A refused message leaves the session exactly as it was.
        let received = session.messages_received + 1;
        let (sender, mut payload, via, unopened) = self.open_incoming(bytes)?;
        let live = payload
            .live
            .take()
            .ok_or_else(|| Error::rejected("not a live-session message"))?;
        let expected_id = if received == 1 && !session.initiator {
            live.session
        } else {
            session.id
        };
        if live.session != expected_id || usize::from(live.step) != session.messages_sent + received
        {
            return Err(Error::rejected(
                "message from another session, or out of order",
            ));
        }
        if let Some(p) = session.peer {
            if p != sender {
                return Err(Error::rejected(
                    "message from a different device than the session's peer",
                ));
            }
        }
        if sender == self.device_id() {
            return Err(Error::rejected("a device cannot sync with itself"));
        }
        // A device that this message shows to be cut off (displaced or revoked) could
        // not answer it: refused before anything is written, not after.
        let mut probe = self.group()?.clone();
        probe.merge_records(payload.members.clone());
        let after = probe.view();
        let me = self.identity.id();
        if after.reused.iter().any(|(_, d, _)| *d == me) {
            return Err(not_admitted());
        }
        if after.members.get(&me).is_some_and(|m| !m.active) {
            return Err(Error::NotPermitted {
                action: "sync".into(),
                reason: "this device was revoked from its group".into(),
            });
        }
        let peer = B32(sender.0);
        // What the peer will have after this message: its declared heads for what it sent.
        let declared: Vec<(CaseId, Vec<Hash>)> = payload
            .cases
            .iter()
            .map(|c| (c.case, c.heads.clone()))
            .collect();
        let mut report = self.ingest_from(sender, payload, via)?;
        note_unopened(&mut report, unopened);
        session.peer = Some(sender);
        session.id = expected_id;
        session.messages_received = received;
        session.bytes_received += bytes.len();
        session.report += &report;
        if live.last && session.messages_sent > 0 {
            return self.finish(session, peer).map(|()| None);
        }
        let our_known = self.index.sync.peers.get(&peer).cloned();
        let fast =
            live.base.is_some() && our_known.as_ref().map(state_digest).map(B32) == live.base;
        let meta_differs = live.meta_digest.0 != self.meta_digest()?;
        session.peer_meta_known = Some(!meta_differs);
        let mut reply = Payload::default();
        let mut last = true;
        if let Some(inv) = &live.inventory {
            // The peer told us exactly what it has.
            let theirs: HeadsMap = inv.iter().cloned().collect();
            reply = self.payload_since(Some(&theirs), Members::all_if(meta_differs))?;
            let news = self.peer_has_news(&theirs);
            if news && !session.sent_inventory {
                reply.live = Some(self.live_header(session, Some(self.inventory()), false)?);
                session.sent_inventory = true;
                last = false;
            }
        } else if fast {
            let mut base = our_known.unwrap_or_default();
            base.extend(declared);
            reply = self.payload_since(Some(&base), Members::all_if(meta_differs))?;
        } else {
            // We cannot tell what the peer lacks: send our inventory and let it ask.
            reply.members = self.group()?.records.iter().cloned().collect();
            reply.live = Some(self.live_header(session, Some(self.inventory()), false)?);
            session.sent_inventory = true;
            last = false;
        }
        if reply.live.is_none() {
            reply.live = Some(self.live_header(session, None, last)?);
        }
        let bytes = self.seal_live(&reply, session)?;
        if last {
            self.finish(session, peer)?;
        }
        Ok(Some(bytes))
    }

    /// The refusal frame to send the peer before closing, after [`Store::live_receive`]
    /// (or [`Store::live_start`]) failed with `error` (docs/protocol.md section 13.5);
    /// `None` when the error is a refusal the peer sent (it is not answered). The frame
    /// holds one reason code and nothing else: [`LiveRefusal::NotAccepted`] whenever the
    /// peer has not yet proved in this session that it is an active member, so a device
    /// outside the group learns nothing but "refused".
    ///
    /// [`LiveRefusal::NotAccepted`]: crate::sync::LiveRefusal::NotAccepted
    pub fn live_refusal(&self, session: &LiveSession, error: &Error) -> Option<Vec<u8>> {
        use crate::sync::LiveRefusal as R;
        let reason = match error {
            Error::LiveRefused { .. } => return None,
            Error::UnsupportedMessage { .. } => R::Unsupported,
            Error::Rejected { .. } | Error::NotForThisDevice | Error::InvalidInput { .. } => {
                if session.peer.is_some() {
                    R::MessageRefused
                } else {
                    R::NotAccepted
                }
            }
            // This device cannot take part: its own membership, or its store.
            _ => R::Unavailable,
        };
        Some(reason.frame())
    }

    /// The error for a refusal frame received from the peer, with advice from this
    /// device's own state.
    fn refused_by_peer(&self, reason: crate::sync::LiveRefusal) -> Error {
        use crate::sync::LiveRefusal as R;
        let advice = match reason {
            R::NotAccepted if self.awaiting_admission().is_some() => {
                "it does not accept this device, which is still waiting to be admitted: its \
                 invitation was probably used already by another device (an invitation admits \
                 one device only), or the other device is not the coordinator who invited it. \
                 Ask a coordinator for a new invitation and join with it"
            }
            R::NotAccepted => {
                "it does not accept this device as a member of its group: this device may have \
                 been revoked, or the two devices are not in the same team. Ask a coordinator \
                 to check this device in the member list"
            }
            R::MessageRefused => {
                "it refused a message of this session (it did not verify, or broke a rule of \
                 the protocol); what was exchanged before is stored. Run the sync again, and if \
                 it is refused again ask a coordinator"
            }
            R::Unavailable => {
                "it cannot sync now (its store refuses writes, or it is not an active member \
                 itself). Ask the person holding it to check that device"
            }
            R::Unsupported => {
                "it does not read this device's message format. Update Caravan on both devices"
            }
        };
        Error::LiveRefused {
            reason,
            advice: advice.into(),
        }
    }

    fn live_header(
        &self,
        session: &LiveSession,
        inventory: Option<Vec<(CaseId, Vec<Hash>)>>,
        last: bool,
    ) -> Result<LiveHeader> {
        Ok(LiveHeader {
            session: session.id,
            step: (session.messages_sent + session.messages_received + 1) as u8,
            base: None,
            inventory,
            meta_digest: B32(self.meta_digest()?),
            last,
        })
    }

    fn seal_live(&mut self, payload: &Payload, session: &mut LiveSession) -> Result<Vec<u8>> {
        let bytes = if session.messages_sent == 0 {
            // The first message of each side: key updates unless the peer is known to
            // hold our records already.
            let known = session.peer_meta_known.unwrap_or(false);
            self.seal_for_group(payload, !known)?
        } else {
            let key = self.sending_key()?;
            crate::sync::seal_message(&key, &self.identity, payload)?
        };
        session.messages_sent += 1;
        session.bytes_sent += bytes.len();
        Ok(bytes)
    }

    /// Remembers that the peer now has exactly our state.
    fn finish(&mut self, session: &mut LiveSession, peer: B32) -> Result<()> {
        let known = self.index.sync.peers.get(&peer);
        let updates = self.state_updates(known);
        let mut deltas = vec![SyncDelta::Finished {
            peer,
            meta: B32(self.meta_digest()?),
        }];
        if !updates.is_empty() || known.is_none() {
            deltas.push(SyncDelta::Peer {
                peer,
                updates,
                replace: false,
            });
        }
        self.write_sync(deltas)?;
        session.done = true;
        Ok(())
    }

    fn inventory(&self) -> Vec<(CaseId, Vec<Hash>)> {
        let mut v: Vec<(CaseId, Vec<Hash>)> = self.state().into_iter().collect();
        v.sort();
        v
    }

    /// Whether a peer with state `theirs` has something we lack.
    fn peer_has_news(&mut self, theirs: &HeadsMap) -> bool {
        for (id, heads) in theirs {
            if heads.is_empty() {
                if !self.index.tombstones.contains_key(id) {
                    return true;
                }
                continue;
            }
            match self.index.cases.get(id) {
                None => {
                    if !self.index.tombstones.contains_key(id) {
                        return true;
                    }
                }
                Some(e) if e.heads == *heads => {}
                Some(_) => match self.take_doc(id) {
                    Ok(mut doc) => {
                        let all = heads.iter().all(|h| doc.has_change(&ChangeHash(h.0)));
                        self.cache_put(*id, doc);
                        if !all {
                            return true;
                        }
                    }
                    Err(_) => return true,
                },
            }
        }
        false
    }

    fn meta_digest(&self) -> Result<[u8; 32]> {
        let mut ctx = crate::crypto::Sha256::new();
        ctx.update(&self.group()?.records_digest());
        for id in self.index.tombstones.keys() {
            ctx.update(&id.0);
        }
        // What is held in quarantine, so that two devices holding the same cases but
        // not the same quarantine still exchange it.
        for (id, q) in &self.index.sync.quarantine {
            ctx.update(&id.0);
            for PendingChange(bytes, _) in q {
                ctx.update(crate::crypto::sha256(bytes).as_ref());
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Ok(out)
    }
}

/// Says in the report how many envelopes of a bundle (or live message) this device could
/// not open (red team round 3, L4): an admission or key update for another device looks
/// exactly like a damaged one, so the import goes on, but the skip is no longer silent.
pub(super) fn note_unopened(report: &mut SyncReport, unopened: usize) {
    if unopened == 0 {
        return;
    }
    report.envelopes_unopened += unopened;
    report.notices.push(format!(
        "{unopened} envelope{s} of this bundle could not be opened by this device (meant for \
         another device, or damaged); the rest was checked and imported",
        s = if unopened == 1 { "" } else { "s" }
    ));
}

/// SHA-256 over the sorted entries of a state map.
/// Whether a JSON value of a case field holds nothing (null, empty list or object).
fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// The error of a device another device was admitted on the same invitation before.
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

/// Adds what the clash rule made of a case to this ingest's report, writes and journal
/// entries.
fn take_settlement(
    case: CaseId,
    exists: bool,
    s: clash::Settlement,
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
    deltas.extend(s.deltas);
    report.notices.extend(s.notice);
}

/// For a preview: `doc` without the changes that hold the numbers of `changes` (the
/// versions kept where some of `changes` lost a clash) and what builds on them, so
/// that `changes` apply to it and show what they would have changed.
fn without_rivals(
    mut doc: CaseDoc,
    case: &CaseId,
    changes: &[(Change, [u8; 64])],
    actor: &ActorId,
) -> CaseDoc {
    let numbers: BTreeSet<(&[u8], u64)> = changes
        .iter()
        .map(|(c, _)| (c.actor_id().to_bytes(), c.seq()))
        .collect();
    let mine: BTreeSet<[u8; 32]> = changes.iter().map(|(c, _)| c.hash().0).collect();
    let rival = |c: &Change| {
        !mine.contains(&c.hash().0) && numbers.contains(&(c.actor_id().to_bytes(), c.seq()))
    };
    match cut_out(&mut doc, case, &rival, actor) {
        Ok(Some(CutOut {
            rest: Some(rest), ..
        })) => rest,
        _ => doc,
    }
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

fn not_admitted() -> Error {
    Error::NotPermitted {
        action: "sync".into(),
        reason: "a coordinator admitted another device on the invitation this device joined \
                 with, so this device is not a member and can read nothing; ask a coordinator \
                 for a new invitation"
            .into(),
    }
}

/// The error of a device that joined and waits for a coordinator to admit it.
fn waiting_for_admission() -> Error {
    Error::NotPermitted {
        action: "sync".into(),
        reason: "this device waits to be admitted: send a bundle to the coordinator who \
                 invited it and import the coordinator's reply"
            .into(),
    }
}

fn state_digest(map: &HeadsMap) -> [u8; 32] {
    let mut entries: Vec<(&CaseId, &Vec<Hash>)> = map.iter().collect();
    entries.sort();
    let mut ctx = crate::crypto::Sha256::new();
    for (id, heads) in entries {
        ctx.update(&id.0);
        ctx.update(&(heads.len() as u32).to_le_bytes());
        for h in heads {
            ctx.update(&h.0);
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
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

/// Where the membership digest last exported to the bundle target `name` is kept
/// (beside the peers' digests, which are keyed by device public key).
pub(super) fn cursor_meta_key(name: &str) -> B32 {
    let digest = crate::crypto::sha256(
        [b"caravan/cursor/".as_slice(), name.as_bytes()]
            .concat()
            .as_slice(),
    );
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    B32(key)
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

/// A case document to write.
enum ToWrite {
    /// Store what the document has new (`full`: all of it).
    Doc {
        case: CaseId,
        doc: Box<CaseDoc>,
        full: bool,
    },
    /// A record prepared on a worker thread.
    Prepared(Box<Prepared>),
}

/// A case's next record, prepared off the store's thread: the chunk to store, its
/// changes' signatures, the heads after it, the summary and projection, and the
/// document if the cache is to keep it.
struct Prepared {
    case: CaseId,
    full: bool,
    bytes: Vec<u8>,
    sigs: Vec<ChangeSig>,
    heads: Vec<Hash>,
    summary: CaseSummary,
    stats: StoredStats,
    doc: Option<CaseDoc>,
}

impl Prepared {
    /// Prepares the record of `doc`. `stored`: the chunk to store if it is already at
    /// hand (a new case's changes, as they came); otherwise the document's unstored
    /// changes (`full`: the whole document). `keep`: keep the document for the cache.
    fn new(
        case: CaseId,
        mut doc: CaseDoc,
        full: bool,
        stored: Option<(Vec<u8>, Vec<ChangeSig>)>,
        keep: bool,
        now: Timestamp,
    ) -> Result<Box<Prepared>> {
        let (bytes, sigs) = match stored {
            Some(chunk) => {
                doc.mark_saved();
                chunk
            }
            None => doc.chunk_to_store(full),
        };
        let heads = doc.heads().into_iter().map(|h| Hash(h.0)).collect();
        let (summary, stats) = describe(&doc, now)?;
        Ok(Box::new(Prepared {
            case,
            full,
            bytes,
            sigs,
            heads,
            summary,
            stats,
            doc: keep.then_some(doc),
        }))
    }
}

/// A frame's file and offset.
type FrameKey = (u32, u64);

/// A case to read for a peer: the peer's heads of it (`None`: it has none) and the
/// document, if it was in the cache.
type ToRead = (CaseId, Option<Vec<Hash>>, Option<CaseDoc>);

/// A sealed frame (one record, or a block of many) and its cases' records (without
/// documents, for the index) and the documents the cache keeps.
type SealedDocs = (Vec<u8>, Vec<(CaseId, Record, Option<CaseDoc>)>);

/// How many cases' changes one worker parses and checks together (their signatures in
/// batches).
const VERIFY_SLICE: usize = 64;

/// Which membership records a payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Members {
    /// The whole membership log: the recipient may know nothing of the group.
    All,
    /// The proofs of membership of the sender and of every author of forwarded changes.
    Proofs,
    /// None: the recipient has the same membership log as we do.
    Nothing,
}

impl Members {
    fn all_if(differs: bool) -> Self {
        if differs {
            Members::All
        } else {
            Members::Nothing
        }
    }
}
