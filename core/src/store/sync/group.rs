//! Group and membership operations: creating and joining a group, invitations,
//! revocation, roles and case assignments, and the rights checks this device applies
//! to its own changes before writing them (other devices apply the same on receipt,
//! see [`super::receive`]).

use std::borrow::Borrow;

use crate::codec::B32;
use crate::store::index::SyncDelta;
use crate::store::*;
use crate::sync::{DeviceId, GroupState, Invitation, JoinRequest, Member, MemberOp, Role};

#[cfg(test)]
thread_local! {
    /// Tests turn this device's own rights checks off to forge what a modified app
    /// could send, and check that the *receiving* devices refuse it.
    pub(crate) static LOCAL_CHECKS_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The team of this device: membership, invitations, roles, case assignments and the
/// quarantine. [`Store::team`] gives the reads, [`Store::team_mut`] the changes too.
pub struct Team<S>(pub(in crate::store) S);

impl Store {
    /// Reads of this device's team: its members, roles, assignments and quarantine.
    pub fn team(&self) -> Team<&Store> {
        Team(self)
    }

    /// Changes to this device's team: creating or joining a group, inviting, revoking,
    /// roles, assignments and quarantine decisions (and every read of [`Store::team`]).
    pub fn team_mut(&mut self) -> Team<&mut Store> {
        Team(self)
    }
}

impl<S: Borrow<Store>> Team<S> {
    /// The store this handle reads.
    pub(in crate::store) fn store(&self) -> &Store {
        self.0.borrow()
    }

    /// This device's public identity.
    pub fn device_id(&self) -> DeviceId {
        self.store().identity.id()
    }

    /// The group's name, if this device is in one.
    pub fn group_name(&self) -> Option<String> {
        self.store()
            .index
            .sync
            .group
            .as_ref()
            .map(|g| crate::sync::shown_name(&g.name))
    }

    /// The group's members, revoked ones included (`active` false).
    pub fn members(&self) -> Vec<Member> {
        self.store()
            .index
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
        self.store()
            .index
            .sync
            .group
            .as_ref()
            .map(|g| g.view().epoch)
    }

    /// This device's role in its group (`None` outside a group, or once revoked).
    pub fn role(&self) -> Option<Role> {
        let g = self.store().index.sync.group.as_ref()?;
        g.view().active(&self.device_id()).map(|m| m.role)
    }

    /// The role this device joined with while it waits for a coordinator to admit it
    /// (`None` once admitted, or outside a group). Until then it holds no group key.
    pub fn awaiting_admission(&self) -> Option<Role> {
        let g = self.store().index.sync.group.as_ref()?;
        g.view().pending.get(&self.device_id()).map(|(_, r)| *r)
    }

    /// A join request for joining a group from afar: send its text over any channel,
    /// and read its code out over the phone to the coordinator.
    pub fn join_request(&self, device_name: &str) -> Result<JoinRequest> {
        let store = self.store();
        if store.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        JoinRequest::new(&store.identity, device_name)
    }

    /// Checks a join request received over any channel and gives its code, to compare
    /// with the one the requester reads out.
    pub fn read_join_request(&self, request: &str) -> Result<JoinRequest> {
        JoinRequest::parse(request)
    }
}

impl Team<&mut Store> {
    /// Creates a group named `name` with this device, named `device_name`, as its
    /// first member and coordinator.
    pub fn create_group(&mut self, name: &str, device_name: &str) -> Result<()> {
        self.0.check_writable()?;
        if self.0.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        let g = GroupState::create(&self.0.identity, name, device_name)?;
        self.0.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Creates a one-time invitation admitting one device as `role` (show it as a QR
    /// code, in person). Coordinators only.
    pub fn invite(&mut self, role: Role) -> Result<Invitation> {
        self.0.check_writable()?;
        let mut g = self.0.group()?.clone();
        let inv = g.invite(&self.0.identity, role)?;
        self.0.write_sync(vec![SyncDelta::Group(g)])?;
        Ok(inv)
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
        self.0.check_writable()?;
        let mut g = self.0.group()?.clone();
        let inv = g.invite_remote(&self.0.identity, role, request, heard_code)?;
        self.0.write_sync(vec![SyncDelta::Group(g)])?;
        Ok(inv)
    }

    /// Joins the group of an invitation (shown in person, or sealed to this device's
    /// join request), naming this device `device_name`.
    pub fn join_group(&mut self, invitation: &str, device_name: &str) -> Result<()> {
        self.0.check_writable()?;
        if self.0.index.sync.group.is_some() {
            return Err(Error::invalid("group", "this device is already in a group"));
        }
        let g = GroupState::join(invitation, &self.0.identity, device_name)?;
        self.0.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Revokes a member's device for good and rotates the group key: the new key goes,
    /// sealed to their X25519 keys, to every remaining member but partners. The revoked
    /// device can open nothing sealed afterwards, every message it sends is refused,
    /// and its late changes are quarantined. Coordinators only.
    pub fn revoke(&mut self, device: &DeviceId) -> Result<()> {
        self.0.check_writable()?;
        let mut g = self.0.group()?.clone();
        let view = g.require_coordinator(&self.0.identity, "revoke a member")?;
        if *device == self.0.identity.id() {
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
        for (case, changes) in self.0.changes_by(device)? {
            g.append(
                &self.0.identity,
                MemberOp::Resolve {
                    case,
                    changes,
                    accept: true,
                },
            )?;
        }
        g.append(
            &self.0.identity,
            MemberOp::Revoke {
                member: B32(device.0),
            },
        )?;
        g.rekey(&self.0.identity)?;
        self.0.write_sync(vec![SyncDelta::Group(g)])
    }

    /// Gives an active member another role. Coordinators only.
    pub fn set_role(&mut self, device: &DeviceId, role: Role) -> Result<()> {
        if *device == self.0.identity.id() {
            return Err(Error::invalid(
                "member",
                "a coordinator cannot change its own role; ask another coordinator",
            ));
        }
        self.0.member_op(
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
        if !self.0.index.cases.contains_key(case) {
            return Err(Error::CaseNotFound { id: case.to_hex() });
        }
        self.0.member_op(
            "assign a case",
            device,
            MemberOp::Assign {
                case: *case,
                member: B32(device.0),
                assigned,
            },
        )
    }
}

impl Store {
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

    /// Appends a coordinator's membership operation on an active member's `device`.
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
    pub(in crate::store) fn check_local_rights(
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
    pub(in crate::store) fn check_may_erase(&self) -> Result<()> {
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

    /// The group this device is in (`NoGroup` outside one).
    pub(crate) fn group(&self) -> Result<&GroupState> {
        self.index.sync.group.as_ref().ok_or(Error::NoGroup)
    }
}
