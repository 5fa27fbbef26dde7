//! A team: a group with a symmetric key per epoch and a signed, hash-linked
//! membership log.
//!
//! The log is a set of signed records. Devices that hold the same records derive the
//! same membership, whatever order the records arrived in, because the membership is
//! a function of the set ([`GroupState::view`]): the records are put in one
//! deterministic causal order and replayed through the rules below.
//!
//! - `Genesis`: the creator's key and the group name; the group id is
//!   `SHA-256("caravan/group/v1" ‖ creator ‖ nonce)[..16]`, so nobody can claim it.
//!   The creator is the first coordinator.
//! - `Invite` (version 1 records): a member publishes the public key of a one-time
//!   invitation key pair derived from a secret that travels out of band. Admits a
//!   field worker.
//! - `Join`: a new device, signed with its own key *and* the invitation key, which
//!   proves it holds the invitation. A version-1 invitation admits the first `Join`.
//! - `Op`: every later change (invite with a role, publish an X25519 key, set a role,
//!   revoke, rekey, assign a case, resolve quarantined changes, admit a device on a
//!   single-use invitation), signed by its author and linked to the hashes of the
//!   records its author had seen (`parents`).
//!
//! **Single-use invitations** (decision 0016): `InviteOnce` carries no key; a device
//! that joins on it waits until a coordinator's `Admit` names it, with the current key
//! sealed to it. The first `Admit` of an invitation in the order binds it; a `Join` on
//! it by any other device has no effect, on every device.
//!
//! **Order.** A record comes after its parents: an `Op`'s explicit parents, an
//! `Invite`'s author's admission, a `Join`'s invitation. Among records whose parents
//! are all placed, revocations come first, then the smaller record hash. A record
//! whose parents are missing waits.
//!
//! **Rules.** Only an active coordinator may invite, set roles, revoke, rekey,
//! assign or resolve; any active member may publish its own X25519 key. A record by
//! an author who is revoked at its place in the order has no effect. So when two
//! coordinators revoke each other while apart, the revocation placed first wins and
//! the other has no effect, on every device.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::envelope::EpochKey;
use crate::codec::{base32, unbase32, B32, B64};
use crate::error::{Error, Result};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::model::CaseId;

/// What a member may do. Enforced by every device that receives a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Invites, revokes, erases, assigns cases, shares with partners; edits any case.
    #[serde(rename = "Coordinator")]
    Coordinator,
    /// Creates cases; edits the cases it created or that were assigned to it.
    #[serde(rename = "FieldWorker")]
    FieldWorker,
    /// A partner agency's device: updates referrals and adds notes on the cases
    /// assigned to it, nothing else. It receives no group key.
    #[serde(rename = "Partner")]
    Partner,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Coordinator, Role::FieldWorker, Role::Partner];

    /// The stable code (`coordinator`, `field_worker`, `partner`).
    pub fn code(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::FieldWorker => "field_worker",
            Role::Partner => "partner",
        }
    }

    /// Parses [`Role::code`].
    pub fn from_code(code: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == code.trim())
            .ok_or_else(|| Error::invalid("role", "give coordinator, field_worker or partner"))
    }
}

/// A signed membership record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum MemberRecord {
    #[serde(rename = "Genesis")]
    Genesis {
        #[serde(rename = "group")]
        group: [u8; 16],
        #[serde(rename = "nonce")]
        nonce: [u8; 16],
        #[serde(rename = "creator")]
        creator: B32,
        #[serde(rename = "name")]
        name: String,
        #[serde(rename = "creator_name")]
        creator_name: String,
        #[serde(rename = "sig")]
        sig: B64,
    },
    #[serde(rename = "Invite")]
    Invite {
        #[serde(rename = "group")]
        group: [u8; 16],
        #[serde(rename = "by")]
        by: B32,
        #[serde(rename = "invite")]
        invite: B32,
        #[serde(rename = "sig")]
        sig: B64,
    },
    #[serde(rename = "Join")]
    Join {
        #[serde(rename = "group")]
        group: [u8; 16],
        #[serde(rename = "member")]
        member: B32,
        #[serde(rename = "name")]
        name: String,
        #[serde(rename = "invite")]
        invite: B32,
        #[serde(rename = "invite_sig")]
        invite_sig: B64,
        #[serde(rename = "sig")]
        sig: B64,
    },
    #[serde(rename = "Op")]
    Op {
        #[serde(rename = "group")]
        group: [u8; 16],
        #[serde(rename = "parents")]
        parents: Vec<B32>,
        #[serde(rename = "author")]
        author: B32,
        #[serde(rename = "op")]
        op: MemberOp,
        #[serde(rename = "sig")]
        sig: B64,
    },
}

/// What an `Op` record does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum MemberOp {
    /// An invitation that admits one device with `role`.
    #[serde(rename = "Invite")]
    Invite {
        #[serde(rename = "invite")]
        invite: B32,
        #[serde(rename = "role")]
        role: Role,
    },
    /// The author's static X25519 public key, and the newest key epoch it holds.
    #[serde(rename = "Keys")]
    Keys {
        #[serde(rename = "x25519")]
        x25519: B32,
        #[serde(rename = "epoch")]
        epoch: u32,
    },
    /// Gives an active member another role.
    #[serde(rename = "SetRole")]
    SetRole {
        #[serde(rename = "member")]
        member: B32,
        #[serde(rename = "role")]
        role: Role,
    },
    /// Removes a member for good. A rekey follows.
    #[serde(rename = "Revoke")]
    Revoke {
        #[serde(rename = "member")]
        member: B32,
    },
    /// The key of `epoch`, sealed to each listed member's X25519 key.
    #[serde(rename = "Rekey")]
    Rekey {
        #[serde(rename = "epoch")]
        epoch: u32,
        #[serde(rename = "keys")]
        keys: Vec<(B32, ByteBuf)>,
    },
    /// Assigns a case to a member (or takes it back).
    #[serde(rename = "Assign")]
    Assign {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "member")]
        member: B32,
        #[serde(rename = "assigned")]
        assigned: bool,
    },
    /// Accepts or rejects quarantined changes (by change hash) of a revoked device.
    #[serde(rename = "Resolve")]
    Resolve {
        #[serde(rename = "case")]
        case: CaseId,
        #[serde(rename = "changes")]
        changes: Vec<B32>,
        #[serde(rename = "accept")]
        accept: bool,
    },
    /// A single-use invitation (decision 0016): admits with `role` the one device a
    /// coordinator's `Admit` names; carries no key.
    #[serde(rename = "InviteOnce")]
    InviteOnce {
        #[serde(rename = "invite")]
        invite: B32,
        #[serde(rename = "role")]
        role: Role,
    },
    /// A coordinator admits `member` on the single-use invitation `invite` and hands it
    /// the key of `epoch`, sealed to `x25519` (empty for a partner), at `at` (Unix
    /// seconds, the coordinator's clock; absent in records written before it existed).
    /// If an invitation has several, the best-ranked valid one binds it
    /// ([`super::admission`]); the others displace their device.
    #[serde(rename = "Admit")]
    Admit {
        #[serde(rename = "invite")]
        invite: B32,
        #[serde(rename = "member")]
        member: B32,
        #[serde(rename = "x25519")]
        x25519: B32,
        #[serde(rename = "epoch")]
        epoch: u32,
        #[serde(rename = "key")]
        key: ByteBuf,
        #[serde(rename = "at", default, skip_serializing_if = "Option::is_none")]
        at: Option<u64>,
    },
}

impl MemberRecord {
    fn group(&self) -> [u8; 16] {
        match self {
            MemberRecord::Genesis { group, .. }
            | MemberRecord::Invite { group, .. }
            | MemberRecord::Join { group, .. }
            | MemberRecord::Op { group, .. } => *group,
        }
    }

    /// SHA-256 of the record's CBOR encoding: what `parents` name.
    pub(crate) fn hash(&self) -> [u8; 32] {
        let bytes = crate::codec::cbor(self).unwrap_or_default();
        let d = crate::crypto::sha256(&bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

fn genesis_msg(group: &[u8; 16], nonce: &[u8; 16], name: &str, creator_name: &str) -> Vec<u8> {
    let name_len = (name.len() as u32).to_be_bytes();
    [
        b"caravan/genesis/v1".as_slice(),
        group,
        nonce,
        &name_len,
        name.as_bytes(),
        creator_name.as_bytes(),
    ]
    .concat()
}

fn invite_msg(group: &[u8; 16], invite: &[u8; 32]) -> Vec<u8> {
    [b"caravan/invite/v1".as_slice(), group, invite].concat()
}

fn join_msg(group: &[u8; 16], member: &[u8; 32], name: &str, invite: &[u8; 32]) -> Vec<u8> {
    [
        b"caravan/join/v1".as_slice(),
        group,
        member,
        invite,
        name.as_bytes(),
    ]
    .concat()
}

/// What an `Op` signature covers: `"caravan/member-op/v1" ‖ CBOR [group, parents, author, op]`.
fn op_msg(group: &[u8; 16], parents: &[B32], author: &B32, op: &MemberOp) -> Vec<u8> {
    let mut m = b"caravan/member-op/v1".to_vec();
    m.extend_from_slice(&crate::codec::cbor(&(group, parents, author, op)).unwrap_or_default());
    m
}

fn group_id(creator: &[u8; 32], nonce: &[u8; 16]) -> [u8; 16] {
    let d = crate::crypto::sha256(&[b"caravan/group/v1".as_slice(), creator, nonce].concat());
    let mut id = [0u8; 16];
    id.copy_from_slice(&d.as_ref()[..16]);
    id
}

/// A member as apps see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The device's identity.
    pub device: DeviceId,
    /// The name given when it joined (e.g. "Aigerim, Shymkent").
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// False once revoked (revoked devices are listed so the app can show who was cut off).
    pub active: bool,
}

/// One member in the derived membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MemberInfo {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) active: bool,
    pub(crate) x25519: Option<[u8; 32]>,
    /// The newest key epoch this member is known to hold.
    pub(crate) known_epoch: u32,
}

impl MemberInfo {
    fn new(name: String, role: Role) -> MemberInfo {
        MemberInfo {
            name: shown_name(&name),
            role,
            active: true,
            x25519: None,
            known_epoch: 0,
        }
    }
}

/// The membership derived from the log (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Membership {
    /// Every member ever admitted, revoked ones included.
    pub(crate) members: BTreeMap<DeviceId, MemberInfo>,
    /// Cases assigned to members.
    pub(crate) assigned: BTreeMap<CaseId, BTreeSet<DeviceId>>,
    /// Quarantined changes a coordinator accepted (true) or rejected (false); when
    /// coordinators decided one change differently, the decision last in the log's
    /// order holds.
    pub(crate) resolved: BTreeMap<[u8; 32], bool>,
    /// The case of each decided change.
    pub(crate) resolved_case: BTreeMap<[u8; 32], CaseId>,
    /// Valid rekeys in order: (epoch, sealed keys).
    pub(crate) rekeys: Vec<(u32, Vec<(B32, ByteBuf)>)>,
    /// The newest key epoch.
    pub(crate) epoch: u32,
    /// Every member by its Automerge actor id.
    actors: BTreeMap<[u8; 16], DeviceId>,
    /// Devices that joined on a single-use invitation no coordinator has admitted
    /// anyone on yet: the invitation and its role.
    pub(crate) pending: BTreeMap<DeviceId, ([u8; 32], Role)>,
    /// Single-use invitations and the devices valid `Admit` records named on each, in
    /// the log's order (more than one: the invitation is contested,
    /// [`super::admission`]).
    pub(crate) bound: BTreeMap<[u8; 32], Vec<DeviceId>>,
    /// Joins on a single-use invitation that admitted another device: (invitation,
    /// device, name).
    pub(crate) reused: Vec<([u8; 32], DeviceId, String)>,
    /// Contested invitations not decided yet: the active devices admitted on each
    /// (none of them holds more than a field worker's rights).
    pub(crate) contested: BTreeMap<[u8; 32], Vec<DeviceId>>,
}

impl Membership {
    /// The member, if active.
    pub(crate) fn active(&self, d: &DeviceId) -> Option<&MemberInfo> {
        self.members.get(d).filter(|m| m.active)
    }

    /// Whether `d` is an active coordinator.
    pub(crate) fn is_coordinator(&self, d: &DeviceId) -> bool {
        self.active(d).is_some_and(|m| m.role == Role::Coordinator)
    }

    /// The member (active or revoked) whose Automerge actor id is `actor` (asked for
    /// every change received, so looked up in a map rather than hashed each time).
    pub(crate) fn by_actor(&self, actor: &[u8]) -> Option<(DeviceId, &MemberInfo)> {
        let d = self.actors.get(<&[u8; 16]>::try_from(actor).ok()?)?;
        self.members.get(d).map(|m| (*d, m))
    }

    /// Whether the case is assigned to `d`.
    pub(crate) fn is_assigned(&self, case: &CaseId, d: &DeviceId) -> bool {
        self.assigned.get(case).is_some_and(|s| s.contains(d))
    }

    /// Whether a device that is not an active member holds the newest key epoch (a
    /// displaced device, or one revoked while another coordinator rotated): a
    /// coordinator then rotates the key again, without it.
    pub(crate) fn exposed(&self) -> bool {
        self.members
            .values()
            .any(|m| !m.active && m.role != Role::Partner && m.known_epoch >= self.epoch)
    }

    /// Active members (other than partners) that do not hold the newest epoch key
    /// and have published an X25519 key to receive it.
    pub(crate) fn lacking_key(&self) -> Vec<(DeviceId, [u8; 32])> {
        self.members
            .iter()
            .filter(|(_, m)| m.active && m.role != Role::Partner && m.known_epoch < self.epoch)
            .filter_map(|(d, m)| m.x25519.map(|x| (*d, x)))
            .collect()
    }
}

/// What this device knows about its group. Holds secret keys: never printed.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct GroupState {
    #[serde(rename = "id")]
    pub(crate) id: [u8; 16],
    #[serde(rename = "name")]
    pub(crate) name: String,
    #[serde(rename = "keys")]
    keys: Vec<(u32, B32)>,
    #[serde(rename = "records")]
    pub(crate) records: BTreeSet<MemberRecord>,
    /// Welcome keys of single-use invitations, by invitation key: on a coordinator,
    /// those it issued, until the admitted device has the group key; on a device that
    /// joined, its own until it is admitted. Messages between the two before the
    /// joining device holds the group key travel under it (decision 0016).
    #[serde(rename = "welcome", default, skip_serializing_if = "Vec::is_empty")]
    welcome: Vec<(B32, B32)>,
}

impl std::fmt::Debug for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GroupState({}, {} records, <keys redacted>)",
            self.name,
            self.records.len()
        )
    }
}

impl Drop for GroupState {
    fn drop(&mut self) {
        for (_, k) in &mut self.keys {
            zeroize::Zeroize::zeroize(&mut k.0);
        }
        for (_, k) in &mut self.welcome {
            zeroize::Zeroize::zeroize(&mut k.0);
        }
    }
}

impl GroupState {
    /// A new group created by `me`.
    pub(crate) fn create(me: &DeviceIdentity, name: &str, device_name: &str) -> Result<GroupState> {
        let name = checked_name(name, "group name")?;
        let creator_name = checked_name(device_name, "device name")?;
        let nonce: [u8; 16] = crate::crypto::random_array()?;
        let creator = me.id().0;
        let id = group_id(&creator, &nonce);
        let sig = B64(me.sign(&genesis_msg(&id, &nonce, name, creator_name)));
        let mut records = BTreeSet::new();
        records.insert(MemberRecord::Genesis {
            group: id,
            nonce,
            creator: B32(creator),
            name: name.into(),
            creator_name: creator_name.into(),
            sig,
        });
        let key = EpochKey::generate(0)?;
        let mut g = GroupState {
            id,
            name: name.into(),
            keys: vec![(0, B32(*key.bytes()))],
            records,
            welcome: Vec::new(),
        };
        g.publish_keys(me)?;
        Ok(g)
    }

    /// The current epoch's key: the key of the log's newest epoch, and for two keys of
    /// one epoch (two coordinators rekeyed concurrently) the one placed last in the
    /// log's order. A device that does not hold it yet gets a typed error rather than
    /// sealing with an older key a revoked device may hold.
    pub(crate) fn current_key(&self) -> Result<EpochKey> {
        let epoch = self.view().epoch;
        self.keys
            .iter()
            .rev()
            .find(|(e, _)| *e == epoch)
            .map(|(e, k)| EpochKey::new(*e, k.0))
            .ok_or_else(|| {
                Error::invalid(
                    "group key",
                    "this device does not hold the group's current key (a partner device, \
                     or one waiting for a coordinator to deliver the key after a rotation)",
                )
            })
    }

    /// Test hook: take another device's epoch keys.
    #[cfg(test)]
    pub(crate) fn copy_keys_from(&mut self, other: &GroupState) {
        self.keys = other.keys.clone();
    }

    /// Every epoch key this device holds, oldest epoch first.
    pub(crate) fn all_keys(&self) -> Vec<EpochKey> {
        let mut v: Vec<EpochKey> = self
            .keys
            .iter()
            .map(|(e, k)| EpochKey::new(*e, k.0))
            .collect();
        v.sort_by_key(|k| k.epoch);
        v
    }

    /// The key of the epoch a message names, if this device has it.
    pub(crate) fn key_for(&self, tag: &[u8; 16], epoch: u32) -> Option<EpochKey> {
        self.keys
            .iter()
            .filter(|(e, _)| *e == epoch)
            .map(|(e, k)| EpochKey::new(*e, k.0))
            .find(|k| &k.routing_tag() == tag)
    }

    /// The welcome key of a single-use invitation this device holds whose tag is `tag`.
    pub(crate) fn welcome_key_for(&self, tag: &[u8; 16], epoch: u32) -> Option<(B32, EpochKey)> {
        if epoch != 0 {
            return None;
        }
        self.welcome
            .iter()
            .map(|(i, k)| (*i, EpochKey::new(0, k.0)))
            .find(|(_, k)| &k.routing_tag() == tag)
    }

    /// The welcome keys this device holds, with their invitations.
    pub(crate) fn welcome_keys(&self) -> Vec<(B32, EpochKey)> {
        self.welcome
            .iter()
            .map(|(i, k)| (*i, EpochKey::new(0, k.0)))
            .collect()
    }

    /// Forgets the welcome key of `invite` (its device holds the group key now).
    pub(crate) fn forget_welcome(&mut self, invite: &B32) -> bool {
        let before = self.welcome.len();
        self.welcome.retain(|(i, _)| i != invite);
        self.welcome.len() != before
    }

    /// The `Admit` record of a single-use invitation, if one is in the log and valid,
    /// and the `Join` it admitted (its parent): what a device holding only the welcome
    /// needs to place it.
    pub(crate) fn admit_records(&self, invite: &B32, view: &Membership) -> Vec<MemberRecord> {
        let Some(admitted) = view.bound.get(&invite.0) else {
            return Vec::new();
        };
        self.records
            .iter()
            .filter(|r| match r {
                MemberRecord::Op {
                    op:
                        MemberOp::Admit {
                            invite: i,
                            member: m,
                            ..
                        },
                    ..
                } => i == invite && admitted.iter().any(|d| d.0 == m.0),
                MemberRecord::Join {
                    invite: i,
                    member: m,
                    ..
                } => i == invite && admitted.iter().any(|d| d.0 == m.0),
                _ => false,
            })
            .cloned()
            .collect()
    }

    /// The records `me` wrote itself (a device waiting to be admitted sends these).
    pub(crate) fn own_records(&self, me: &DeviceId) -> Vec<MemberRecord> {
        self.records
            .iter()
            .filter(|r| match r {
                MemberRecord::Join { member, .. } => member.0 == me.0,
                MemberRecord::Op { author, .. } => author.0 == me.0,
                _ => false,
            })
            .cloned()
            .collect()
    }

    /// As a coordinator, admits every device waiting on a single-use invitation that
    /// admitted nobody yet: an `Admit` record per device, the current key sealed to
    /// its X25519 key (from its own `Keys` record), linked to its `Join` only, so the
    /// device can place it with what it holds. Returns how many were admitted.
    pub(crate) fn admit_pending(&mut self, me: &DeviceIdentity) -> Result<usize> {
        let view = self.view();
        if !view.is_coordinator(&me.id()) || view.pending.is_empty() {
            return Ok(0);
        }
        let Ok(key) = self.current_key() else {
            return Ok(0);
        };
        let mut admitted = 0;
        let mut taken: BTreeSet<[u8; 32]> = BTreeSet::new();
        for (device, (invite, role)) in &view.pending {
            if !taken.insert(*invite) {
                continue;
            }
            let x25519 = self.records.iter().find_map(|r| match r {
                MemberRecord::Op {
                    author,
                    op: MemberOp::Keys { x25519, .. },
                    ..
                } if author.0 == device.0 => Some(*x25519),
                _ => None,
            });
            let join = self.records.iter().find(|r| {
                matches!(r, MemberRecord::Join { member, invite: i, .. }
                    if member.0 == device.0 && i.0 == *invite)
            });
            let (Some(x25519), Some(join)) = (x25519, join) else {
                taken.remove(invite);
                continue;
            };
            let parents = vec![B32(join.hash())];
            let sealed = if *role == Role::Partner {
                Vec::new()
            } else {
                super::keywrap::seal_key(key.bytes(), &self.id, key.epoch, &device.0, &x25519.0)?
            };
            let op = MemberOp::Admit {
                invite: B32(*invite),
                member: B32(device.0),
                x25519,
                epoch: key.epoch,
                key: ByteBuf::from(sealed),
                at: Some(unix_now()),
            };
            self.append_with_parents(me, parents, op);
            admitted += 1;
        }
        Ok(admitted)
    }

    /// Adds records received from another device; returns how many were new and valid.
    pub(crate) fn merge_records(&mut self, records: Vec<MemberRecord>) -> usize {
        let mut added = 0;
        for r in records {
            if r.group() == self.id && record_signature_ok(&r) && self.records.insert(r) {
                added += 1;
            }
        }
        added
    }

    /// Opens the epoch keys sealed to `me` in the log's valid rekeys (after new records
    /// arrived) and puts them last, in the log's order, so the current key is the last
    /// one of the newest epoch. Returns whether any key was new.
    pub(crate) fn absorb_keys(&mut self, me: &DeviceIdentity) -> bool {
        let view = self.view();
        let secret = me.x25519();
        let my = me.id().0;
        let mut valid: Vec<(u32, B32)> = Vec::new();
        for (epoch, keys) in &view.rekeys {
            for (member, sealed) in keys {
                if member.0 != my {
                    continue;
                }
                if let Some(k) = super::keywrap::open_key(sealed, &self.id, *epoch, &my, secret) {
                    valid.push((*epoch, B32(*k)));
                }
            }
        }
        // Keys are told apart by epoch and routing tag (public), never by comparing
        // key bytes.
        let id = |(e, k): &(u32, B32)| (*e, EpochKey::new(*e, k.0).routing_tag());
        let valid_ids: Vec<(u32, [u8; 16])> = valid.iter().map(id).collect();
        let held: Vec<(u32, [u8; 16])> = self.keys.iter().map(id).collect();
        let changed = valid_ids.iter().any(|v| !held.contains(v));
        self.keys.retain(|k| !valid_ids.contains(&id(k)));
        self.keys.extend(valid);
        changed
    }

    /// The current epoch's key as sealed to each member in the log's valid rekeys and
    /// admissions (what a key-update envelope carries, without naming the recipients).
    pub(crate) fn current_sealed_keys(&self, view: &Membership) -> Vec<(u32, ByteBuf)> {
        view.rekeys
            .iter()
            .filter(|(e, _)| *e == view.epoch)
            .flat_map(|(e, keys)| {
                keys.iter()
                    .filter(|(m, _)| view.active(&DeviceId(m.0)).is_some())
                    .map(|(_, k)| (*e, k.clone()))
            })
            .collect()
    }

    /// Opens, for trying only, whichever of `keys` was sealed to `me`. The key is kept
    /// only once a valid record in the log gives it ([`GroupState::absorb_keys`]).
    pub(crate) fn open_offered(
        &self,
        me: &DeviceIdentity,
        keys: &[(u32, ByteBuf)],
    ) -> Vec<EpochKey> {
        let secret = me.x25519();
        let my = me.id().0;
        keys.iter()
            .filter_map(|(e, sealed)| {
                super::keywrap::open_key(sealed, &self.id, *e, &my, secret)
                    .map(|k| EpochKey::new(*e, *k))
            })
            .collect()
    }

    /// The members derived from the records: active ones, with their names.
    #[cfg(test)]
    pub(crate) fn members(&self) -> BTreeMap<DeviceId, String> {
        self.view()
            .members
            .into_iter()
            .filter(|(_, m)| m.active)
            .map(|(d, m)| (d, m.name))
            .collect()
    }

    /// The parents of a record: explicit for `Op`s, implied for version 1 records.
    /// `None` if a parent is missing (the record waits).
    fn parents(
        &self,
        r: &MemberRecord,
        by_hash: &BTreeMap<[u8; 32], &MemberRecord>,
    ) -> Option<Vec<[u8; 32]>> {
        match r {
            MemberRecord::Genesis { .. } => Some(Vec::new()),
            MemberRecord::Invite { by, .. } => {
                let p: Vec<[u8; 32]> = by_hash
                    .iter()
                    .filter(|(_, x)| admits(x, &by.0))
                    .map(|(h, _)| *h)
                    .collect();
                (!p.is_empty()).then_some(p)
            }
            MemberRecord::Join { invite, .. } => {
                let p: Vec<[u8; 32]> = by_hash
                    .iter()
                    .filter(|(_, x)| creates_invite(x, &invite.0))
                    .map(|(h, _)| *h)
                    .collect();
                (!p.is_empty()).then_some(p)
            }
            MemberRecord::Op { parents, .. } => parents
                .iter()
                .all(|p| by_hash.contains_key(&p.0))
                .then(|| parents.iter().map(|p| p.0).collect()),
        }
    }

    /// The records in the log's deterministic causal order (records whose parents are
    /// missing are left out), with each record's hash, and the records naming each
    /// record as a parent.
    #[allow(clippy::type_complexity)]
    fn linked_order(
        &self,
    ) -> (
        Vec<([u8; 32], &MemberRecord)>,
        BTreeMap<[u8; 32], Vec<[u8; 32]>>,
    ) {
        let by_hash: BTreeMap<[u8; 32], &MemberRecord> = self
            .records
            .iter()
            .filter(|r| r.group() == self.id)
            .map(|r| (r.hash(), r))
            .collect();
        let mut waiting: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        let mut children: BTreeMap<[u8; 32], Vec<[u8; 32]>> = BTreeMap::new();
        let mut ready = BinaryHeap::new();
        for (h, r) in &by_hash {
            let Some(parents) = self.parents(r, &by_hash) else {
                continue;
            };
            let parents: BTreeSet<[u8; 32]> = parents.into_iter().filter(|p| p != h).collect();
            if parents.is_empty() {
                ready.push(std::cmp::Reverse((rank(r), *h)));
            } else {
                waiting.insert(*h, parents.len());
                for p in parents {
                    children.entry(p).or_default().push(*h);
                }
            }
        }
        let mut out = Vec::with_capacity(by_hash.len());
        let mut placed: BTreeMap<[u8; 32], Vec<[u8; 32]>> = BTreeMap::new();
        while let Some(std::cmp::Reverse((_, h))) = ready.pop() {
            out.push((h, by_hash[&h]));
            let kids = children.remove(&h).unwrap_or_default();
            for c in &kids {
                if let Some(n) = waiting.get_mut(c) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(c);
                        ready.push(std::cmp::Reverse((rank(by_hash[c]), *c)));
                    }
                }
            }
            placed.insert(h, kids);
        }
        (out, placed)
    }

    /// The membership the records imply (the same for every order they arrived in).
    /// An invitation admitted more than once is *contested* ([`super::admission`]):
    /// its devices hold at most a field worker's rights from the start of the log
    /// until a coordinator revokes all but one. Which invitations are contested is
    /// decided with their devices' rights already capped, so nothing a contested
    /// device writes (demoting the coordinator who admitted the other device, say) can
    /// make the other admission invalid: the replay starts from every invitation with
    /// two `Admit` records and is repeated with the invitations that had two valid
    /// ones, until the two agree (a bounded number of times).
    pub(crate) fn view(&self) -> Membership {
        let (order, _) = self.linked_order();
        let mut admits: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        for (_, r) in &order {
            if let MemberRecord::Op {
                op: MemberOp::Admit { invite, .. },
                ..
            } = r
            {
                *admits.entry(invite.0).or_default() += 1;
            }
        }
        let mut contested: BTreeSet<[u8; 32]> = admits
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(i, _)| i)
            .collect();
        for _ in 0..=contested.len() {
            let view = self.replay(&order, &contested);
            let found: BTreeSet<[u8; 32]> = view
                .bound
                .iter()
                .filter(|(_, ds)| ds.len() > 1)
                .map(|(i, _)| *i)
                .collect();
            if found == contested {
                return view;
            }
            contested = found;
        }
        self.replay(&order, &contested)
    }

    /// Replays the ordered log through the rules, the devices admitted on the
    /// invitations in `contested` holding at most a field worker's rights from their
    /// admission on (a second valid `Admit` on another invitation contests it from its
    /// place on).
    fn replay(
        &self,
        order: &[([u8; 32], &MemberRecord)],
        contested: &BTreeSet<[u8; 32]>,
    ) -> Membership {
        let mut st = Membership::default();
        let mut invites: BTreeMap<[u8; 32], Role> = BTreeMap::new();
        // Single-use invitations: unbound ones, and bound ones with the admitted
        // device, its role, X25519 key and key epoch.
        let mut once: BTreeMap<[u8; 32], Role> = BTreeMap::new();
        // Single-use invitations bound: the invitation's role and each device a valid
        // `Admit` named, with its X25519 key and key epoch.
        #[allow(clippy::type_complexity)]
        let mut bound: BTreeMap<[u8; 32], (Role, Vec<(DeviceId, [u8; 32], u32)>)> = BTreeMap::new();
        let mut joins: BTreeMap<([u8; 32], DeviceId), String> = BTreeMap::new();
        for (_, r) in order {
            match r {
                MemberRecord::Genesis {
                    nonce,
                    creator,
                    creator_name,
                    ..
                } => {
                    if group_id(&creator.0, nonce) == self.id && st.members.is_empty() {
                        st.members.insert(
                            DeviceId(creator.0),
                            MemberInfo::new(creator_name.clone(), Role::Coordinator),
                        );
                    }
                }
                MemberRecord::Invite { by, invite, .. } => {
                    if st.is_coordinator(&DeviceId(by.0)) {
                        invites.entry(invite.0).or_insert(Role::FieldWorker);
                    }
                }
                MemberRecord::Join {
                    member,
                    name,
                    invite,
                    ..
                } => {
                    let device = DeviceId(member.0);
                    if st.members.contains_key(&device) {
                        continue;
                    }
                    if let Some(role) = invites.remove(&invite.0) {
                        // A version-1 invitation: the first Join in the order admits.
                        st.members
                            .insert(device, MemberInfo::new(name.clone(), role));
                    } else if let Some(role) = once.get(&invite.0) {
                        // A single-use invitation nobody was admitted on yet: waits.
                        st.pending.insert(device, (invite.0, *role));
                        joins.insert((invite.0, device), name.clone());
                    } else if let Some((role, admitted)) = bound.get(&invite.0) {
                        if let Some((_, x25519, epoch)) = admitted.iter().find(|a| a.0 == device) {
                            let held = if contested.contains(&invite.0) {
                                super::admission::capped(*role)
                            } else {
                                *role
                            };
                            let mut m = MemberInfo::new(name.clone(), held);
                            m.x25519 = Some(*x25519);
                            m.known_epoch = *epoch;
                            st.members.insert(device, m);
                            let devices: Vec<DeviceId> = admitted.iter().map(|a| a.0).collect();
                            if devices.len() > 1 {
                                super::admission::settle(&mut st.members, *role, &devices);
                            }
                        } else {
                            st.reused.push((invite.0, device, shown_name(name)));
                        }
                    }
                }
                MemberRecord::Op { author, op, .. } => {
                    let author = DeviceId(author.0);
                    if let MemberOp::Admit {
                        invite,
                        member,
                        x25519,
                        epoch,
                        key,
                        ..
                    } = op
                    {
                        if let Some((role, admitted)) = bound.get_mut(&invite.0) {
                            // A second admission on a bound invitation: contested.
                            let device = DeviceId(member.0);
                            let valid = st.is_coordinator(&author)
                                && !st.members.contains_key(&device)
                                && !admitted.iter().any(|a| a.0 == device);
                            if !valid {
                                continue;
                            }
                            let role = *role;
                            admitted.push((device, x25519.0, *epoch));
                            if role != Role::Partner && !key.is_empty() {
                                st.rekeys.push((*epoch, vec![(*member, key.clone())]));
                            }
                            // Its Join was counted as a second use when it came: it is
                            // a member now, with the capped role.
                            let reused = st
                                .reused
                                .iter()
                                .position(|(i, d, _)| *i == invite.0 && *d == device)
                                .map(|at| st.reused.remove(at).2);
                            if let Some(name) = joins.remove(&(invite.0, device)).or(reused) {
                                st.pending.remove(&device);
                                let mut m = MemberInfo::new(name, super::admission::capped(role));
                                m.x25519 = Some(x25519.0);
                                m.known_epoch = *epoch;
                                st.members.insert(device, m);
                            }
                            let devices: Vec<DeviceId> = admitted.iter().map(|a| a.0).collect();
                            super::admission::settle(&mut st.members, role, &devices);
                            continue;
                        }
                    }
                    if st.active(&author).is_none() {
                        continue;
                    }
                    let coordinator = st.is_coordinator(&author);
                    match op {
                        MemberOp::Keys { x25519, epoch } => {
                            if let Some(m) = st.members.get_mut(&author) {
                                m.x25519 = Some(x25519.0);
                                m.known_epoch = m.known_epoch.max(*epoch);
                            }
                        }
                        _ if !coordinator => {}
                        MemberOp::Invite { invite, role } => {
                            invites.entry(invite.0).or_insert(*role);
                        }
                        // A coordinator never demotes or revokes itself, so every valid
                        // record leaves at least one active coordinator.
                        MemberOp::SetRole { member, .. } | MemberOp::Revoke { member }
                            if member.0 == author.0 => {}
                        MemberOp::SetRole { member, role } => {
                            if let Some(m) = st.members.get_mut(&DeviceId(member.0)) {
                                if m.active {
                                    m.role = *role;
                                }
                            }
                        }
                        MemberOp::Revoke { member } => {
                            if let Some(m) = st.members.get_mut(&DeviceId(member.0)) {
                                m.active = false;
                            }
                            // A coordinator decides a contested invitation by revoking
                            // the device that should not be a member.
                            let contest = bound.values().find(|(_, admitted)| {
                                admitted.len() > 1 && admitted.iter().any(|a| a.0 .0 == member.0)
                            });
                            if let Some((role, admitted)) = contest {
                                let devices: Vec<DeviceId> = admitted.iter().map(|a| a.0).collect();
                                super::admission::settle(&mut st.members, *role, &devices);
                            }
                        }
                        MemberOp::Rekey { epoch, keys } => {
                            if *epoch >= st.epoch {
                                st.epoch = *epoch;
                                for (m, _) in keys {
                                    if let Some(m) = st.members.get_mut(&DeviceId(m.0)) {
                                        m.known_epoch = m.known_epoch.max(*epoch);
                                    }
                                }
                                st.rekeys.push((*epoch, keys.clone()));
                            }
                        }
                        MemberOp::Assign {
                            case,
                            member,
                            assigned,
                        } => {
                            if st.active(&DeviceId(member.0)).is_some() {
                                let set = st.assigned.entry(*case).or_default();
                                if *assigned {
                                    set.insert(DeviceId(member.0));
                                } else {
                                    set.remove(&DeviceId(member.0));
                                }
                            }
                        }
                        MemberOp::Resolve {
                            case,
                            changes,
                            accept,
                        } => {
                            for c in changes {
                                st.resolved.insert(c.0, *accept);
                                st.resolved_case.insert(c.0, *case);
                            }
                        }
                        MemberOp::InviteOnce { invite, role } => {
                            if !bound.contains_key(&invite.0) && !invites.contains_key(&invite.0) {
                                once.entry(invite.0).or_insert(*role);
                            }
                        }
                        MemberOp::Admit {
                            invite,
                            member,
                            x25519,
                            epoch,
                            key,
                            ..
                        } => {
                            let device = DeviceId(member.0);
                            if st.members.contains_key(&device) {
                                continue;
                            }
                            // The first Admit of an invitation in the order binds it.
                            let Some(role) = once.remove(&invite.0) else {
                                continue;
                            };
                            bound.insert(invite.0, (role, vec![(device, x25519.0, *epoch)]));
                            let member_role = if contested.contains(&invite.0) {
                                super::admission::capped(role)
                            } else {
                                role
                            };
                            if role != Role::Partner && !key.is_empty() {
                                st.rekeys.push((*epoch, vec![(*member, key.clone())]));
                            }
                            // Devices that joined on it wait no more: one is admitted
                            // (if its Join came first), the others used it again.
                            let waiting: Vec<(DeviceId, String)> = joins
                                .iter()
                                .filter(|((i, _), _)| *i == invite.0)
                                .map(|((_, d), n)| (*d, n.clone()))
                                .collect();
                            for (d, name) in waiting {
                                joins.remove(&(invite.0, d));
                                st.pending.remove(&d);
                                if d == device {
                                    let mut m = MemberInfo::new(name, member_role);
                                    m.x25519 = Some(x25519.0);
                                    m.known_epoch = *epoch;
                                    st.members.insert(d, m);
                                } else {
                                    st.reused.push((invite.0, d, name));
                                }
                            }
                        }
                    }
                }
            }
        }
        st.actors = st.members.keys().map(|d| (d.actor(), *d)).collect();
        st.contested = bound
            .iter()
            .filter_map(|(i, (_, admitted))| {
                let live: Vec<DeviceId> = admitted
                    .iter()
                    .map(|a| a.0)
                    .filter(|d| st.active(d).is_some())
                    .collect();
                (live.len() > 1).then_some((*i, live))
            })
            .collect();
        st.bound = bound
            .into_iter()
            .map(|(i, (_, admitted))| (i, admitted.into_iter().map(|a| a.0).collect()))
            .collect();
        st
    }

    /// Hashes of the records no other record names as a parent: what a new `Op` links to.
    fn heads(&self) -> Vec<B32> {
        let by_hash: BTreeMap<[u8; 32], &MemberRecord> =
            self.records.iter().map(|r| (r.hash(), r)).collect();
        let mut named: BTreeSet<[u8; 32]> = BTreeSet::new();
        for r in by_hash.values() {
            named.extend(self.parents(r, &by_hash).unwrap_or_default());
        }
        by_hash
            .keys()
            .filter(|h| !named.contains(*h))
            .map(|h| B32(*h))
            .collect()
    }

    /// Signs `op` as `me`, linked to the current heads, and adds it to the log.
    pub(crate) fn append(&mut self, me: &DeviceIdentity, op: MemberOp) -> Result<()> {
        let parents = self.heads();
        self.append_with_parents(me, parents, op);
        Ok(())
    }

    fn append_with_parents(&mut self, me: &DeviceIdentity, parents: Vec<B32>, op: MemberOp) {
        let author = B32(me.id().0);
        let sig = B64(me.sign(&op_msg(&self.id, &parents, &author, &op)));
        self.records.insert(MemberRecord::Op {
            group: self.id,
            parents,
            author,
            op,
            sig,
        });
    }

    /// Publishes this device's X25519 key and the newest epoch it holds.
    pub(crate) fn publish_keys(&mut self, me: &DeviceIdentity) -> Result<()> {
        let epoch = self.keys.iter().map(|(e, _)| *e).max().unwrap_or(0);
        let x25519 = B32(me.x25519().public());
        self.append(me, MemberOp::Keys { x25519, epoch })
    }

    /// Requires `me` to be an active coordinator.
    pub(crate) fn require_coordinator(
        &self,
        me: &DeviceIdentity,
        action: &str,
    ) -> Result<Membership> {
        let view = self.view();
        if view.is_coordinator(&me.id()) {
            Ok(view)
        } else {
            Err(Error::NotPermitted {
                action: action.into(),
                reason: "only a coordinator of the group may do this".into(),
            })
        }
    }

    /// Rotates to a new epoch: a fresh key sealed to every active member but partners
    /// (and to this device).
    pub(crate) fn rekey(&mut self, me: &DeviceIdentity) -> Result<()> {
        let view = self.require_coordinator(me, "rotate the group key")?;
        let epoch = view.epoch + 1;
        let key = EpochKey::generate(epoch)?;
        let keys = self.seal_to(&view, &key, |_| true)?;
        self.append(me, MemberOp::Rekey { epoch, keys })?;
        // This device reads its own key back from the record, like every member.
        self.absorb_keys(me);
        Ok(())
    }

    /// As a coordinator, rotates the key when a device that is no active member holds
    /// the newest one ([`Membership::exposed`]: a displaced device, or one revoked
    /// while another coordinator rotated). Returns whether it rotated.
    pub(crate) fn rotate_if_exposed(&mut self, me: &DeviceIdentity) -> Result<bool> {
        let view = self.view();
        if !view.is_coordinator(&me.id()) || !view.exposed() {
            return Ok(false);
        }
        self.rekey(me)?;
        Ok(true)
    }

    /// Delivers the current key to active members who lack it (e.g. they joined while
    /// a revocation rotated the key). Returns whether a record was added.
    pub(crate) fn deliver_keys(&mut self, me: &DeviceIdentity) -> Result<bool> {
        let view = self.view();
        if !view.is_coordinator(&me.id()) {
            return Ok(false);
        }
        let key = self.current_key()?;
        if key.epoch != view.epoch {
            return Ok(false);
        }
        let lacking: BTreeSet<DeviceId> = view.lacking_key().into_iter().map(|(d, _)| d).collect();
        if lacking.is_empty() {
            return Ok(false);
        }
        let keys = self.seal_to(&view, &key, |d| lacking.contains(d))?;
        self.append(
            me,
            MemberOp::Rekey {
                epoch: key.epoch,
                keys,
            },
        )?;
        Ok(true)
    }

    fn seal_to(
        &self,
        view: &Membership,
        key: &EpochKey,
        want: impl Fn(&DeviceId) -> bool,
    ) -> Result<Vec<(B32, ByteBuf)>> {
        let mut keys = Vec::new();
        for (d, m) in &view.members {
            if !m.active || m.role == Role::Partner || !want(d) {
                continue;
            }
            if let Some(x) = m.x25519 {
                let sealed = super::keywrap::seal_key(key.bytes(), &self.id, key.epoch, &d.0, &x)?;
                keys.push((B32(d.0), ByteBuf::from(sealed)));
            }
        }
        Ok(keys)
    }

    /// The records that prove what `device` may do: the ancestors of every record that
    /// admits it, gives it a role or a case, or revokes it.
    pub(crate) fn proof_of(&self, device: &DeviceId) -> Vec<MemberRecord> {
        let by_hash: BTreeMap<[u8; 32], &MemberRecord> =
            self.records.iter().map(|r| (r.hash(), r)).collect();
        let mut todo: Vec<[u8; 32]> = by_hash
            .iter()
            .filter(|(_, r)| about(r, &device.0))
            .map(|(h, _)| *h)
            .collect();
        let mut seen: BTreeSet<[u8; 32]> = BTreeSet::new();
        while let Some(h) = todo.pop() {
            if !seen.insert(h) {
                continue;
            }
            if let Some(r) = by_hash.get(&h) {
                todo.extend(self.parents(r, &by_hash).unwrap_or_default());
            }
        }
        seen.into_iter()
            .filter_map(|h| by_hash.get(&h).map(|r| (*r).clone()))
            .collect()
    }

    /// Digest of the record set (to tell whether a peer needs ours).
    pub(crate) fn records_digest(&self) -> [u8; 32] {
        let mut ctx = crate::crypto::Sha256::new();
        for r in &self.records {
            if let Ok(bytes) = crate::codec::cbor(r) {
                ctx.update(&(bytes.len() as u64).to_le_bytes());
                ctx.update(&bytes);
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Creates a one-time invitation admitting one device as `role`, and records it
    /// (signed by `me`, who must be a coordinator). A partner's invitation carries no
    /// group key. Shown in person, as a QR code.
    pub(crate) fn invite(&mut self, me: &DeviceIdentity, role: Role) -> Result<Invitation> {
        let (raw, invite) = self.invitation_bytes(me, role, None)?;
        Ok(Invitation {
            text: format!("{INVITE_PREFIX}{}", base32(&raw)),
            invite,
        })
    }

    /// Like [`GroupState::invite`], for a device that is not here: the invitation is
    /// sealed to the X25519 key of its join request, so it may travel over any
    /// channel. `heard_code` is the request's code as the requester read it out over
    /// the phone; a mismatch means the request was replaced on the way, and nothing is
    /// recorded.
    pub(crate) fn invite_remote(
        &mut self,
        me: &DeviceIdentity,
        role: Role,
        request: &str,
        heard_code: &str,
    ) -> Result<Invitation> {
        let req = super::remote::JoinRequest::parse(request)?;
        if !super::remote::codes_match(req.code(), heard_code) {
            return Err(Error::invalid(
                "verification code",
                "the code read over the phone does not match this request; it may have been \
                 replaced on the way: do not invite, ask for a new request",
            ));
        }
        let (raw, invite) = self.invitation_bytes(me, role, Some(&req))?;
        let raw = zeroize::Zeroizing::new(raw);
        let sealed = super::keywrap::seal_to(REMOTE_LABEL, &req.device().0, req.x25519(), &raw)?;
        Ok(Invitation {
            text: format!("{REMOTE_PREFIX}{}", base32(&sealed)),
            invite,
        })
    }

    /// Records a single-use invitation for `role` and returns `secret ‖ sealed
    /// welcome`. The welcome holds the membership log and no key (decision 0016): the
    /// key reaches the joining device sealed to its own X25519 key in the `Admit`
    /// record of the coordinator who admits it. For a device that asked from afar
    /// (`request`), that record is written here, so it holds the key on joining.
    fn invitation_bytes(
        &mut self,
        me: &DeviceIdentity,
        role: Role,
        request: Option<&super::remote::JoinRequest>,
    ) -> Result<(Vec<u8>, B32)> {
        self.require_coordinator(me, "invite")?;
        let secret: [u8; 16] = crate::crypto::random_array()?;
        let invite_key = invite_identity(&secret)?;
        let invite = B32(invite_key.id().0);
        self.append(me, MemberOp::InviteOnce { invite, role })?;
        match request {
            Some(req) => {
                let key = self.current_key()?;
                let member = req.device();
                let sealed = if role == Role::Partner {
                    Vec::new()
                } else {
                    super::keywrap::seal_key(
                        key.bytes(),
                        &self.id,
                        key.epoch,
                        &member.0,
                        req.x25519(),
                    )?
                };
                self.append(
                    me,
                    MemberOp::Admit {
                        invite,
                        member: B32(member.0),
                        x25519: B32(*req.x25519()),
                        epoch: key.epoch,
                        key: ByteBuf::from(sealed),
                        at: Some(unix_now()),
                    },
                )?;
            }
            None => self
                .welcome
                .push((invite, B32(*welcome_key(&secret)?.bytes()))),
        }
        let mut welcome_state = self.clone();
        welcome_state.keys.clear();
        welcome_state.welcome.clear();
        let welcome = crate::codec::cbor(&welcome_state)?;
        let sealed = super::envelope::seal(&welcome_key(&secret)?, &welcome)?;
        let mut raw = secret.to_vec();
        raw.extend_from_slice(&sealed);
        Ok((raw, invite))
    }

    /// Joins the group an invitation is for, as `me` named `name`.
    pub(crate) fn join(invitation: &str, me: &DeviceIdentity, name: &str) -> Result<GroupState> {
        let bad = || Error::invalid("invitation", "this is not a valid Caravan invitation");
        let text = invitation.trim();
        let raw = if let Some(body) = text.strip_prefix(REMOTE_PREFIX) {
            let sealed = unbase32(body).ok_or_else(bad)?;
            super::keywrap::open_from(REMOTE_LABEL, &me.id().0, &sealed, me.x25519()).ok_or_else(
                || {
                    Error::invalid(
                        "invitation",
                        "this invitation was sealed for another device's join request",
                    )
                },
            )?
        } else {
            let body = text.strip_prefix(INVITE_PREFIX).ok_or_else(bad)?;
            zeroize::Zeroizing::new(unbase32(body).ok_or_else(bad)?)
        };
        if raw.len() < 16 + 80 {
            return Err(bad());
        }
        let (secret, sealed) = raw.split_at(16);
        let secret: [u8; 16] = secret.try_into().map_err(|_| bad())?;
        let parsed = super::envelope::parse(sealed)?;
        let plain = super::envelope::open(&parsed, &welcome_key(&secret)?).map_err(|_| bad())?;
        let mut group: GroupState = ciborium::from_reader(plain.as_slice()).map_err(|_| bad())?;
        // Keep only records whose signatures verify.
        let records = std::mem::take(&mut group.records);
        group.merge_records(records.into_iter().collect());
        let name = checked_name(name, "device name")?;
        let invite_key = invite_identity(&secret)?;
        let invite = invite_key.id().0;
        let member = me.id().0;
        let msg = join_msg(&group.id, &member, name, &invite);
        group.records.insert(MemberRecord::Join {
            group: group.id,
            member: B32(member),
            name: name.into(),
            invite: B32(invite),
            invite_sig: B64(invite_key.sign(&msg)),
            sig: B64(me.sign(&msg)),
        });
        group.welcome = vec![(B32(invite), B32(*welcome_key(&secret)?.bytes()))];
        let view = group.view();
        if view.active(&me.id()).is_none() && !view.pending.contains_key(&me.id()) {
            return Err(Error::invalid(
                "invitation",
                "the invitation was not issued by a coordinator of the group, or was used already",
            ));
        }
        group.publish_keys(me)?;
        if view.active(&me.id()).is_some() {
            // Invited from afar: the key is in the log already, sealed to this device.
            group.absorb_keys(me);
            group.welcome.clear();
        }
        Ok(group)
    }
}

/// The time an `Admit` is written at: Unix seconds (0 if the clock is before 1970).
fn unix_now() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    #[cfg(test)]
    let now = match crate::model::FIXED_NOW.with(std::cell::Cell::get) {
        Some(ms) => ms as u64 / 1000,
        None => now,
    } + CLOCK_AHEAD.with(std::cell::Cell::get);
    now
}

#[cfg(test)]
thread_local! {
    /// Tests move this thread's admission clock ahead (seconds), to write an `Admit`
    /// that is later than another one written in the same second.
    pub(crate) static CLOCK_AHEAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Revocations are placed before other records that are ready at the same time.
fn rank(r: &MemberRecord) -> u8 {
    match r {
        MemberRecord::Op {
            op: MemberOp::Revoke { .. },
            ..
        } => 0,
        _ => 1,
    }
}

/// Whether `r` admits `device` (its Genesis or Join).
fn admits(r: &MemberRecord, device: &[u8; 32]) -> bool {
    match r {
        MemberRecord::Genesis { creator, .. } => creator.0 == *device,
        MemberRecord::Join { member, .. } => member.0 == *device,
        _ => false,
    }
}

/// Whether `r` creates the invitation `invite`.
fn creates_invite(r: &MemberRecord, invite: &[u8; 32]) -> bool {
    match r {
        MemberRecord::Invite { invite: i, .. } => i.0 == *invite,
        MemberRecord::Op {
            op: MemberOp::Invite { invite: i, .. } | MemberOp::InviteOnce { invite: i, .. },
            ..
        } => i.0 == *invite,
        _ => false,
    }
}

/// Whether `r` decides what `device` may do: admits it, or names it in a role,
/// revocation or assignment.
fn about(r: &MemberRecord, device: &[u8; 32]) -> bool {
    if admits(r, device) {
        return true;
    }
    match r {
        MemberRecord::Op {
            op:
                MemberOp::SetRole { member, .. }
                | MemberOp::Revoke { member }
                | MemberOp::Assign { member, .. }
                | MemberOp::Admit { member, .. },
            ..
        } => member.0 == *device,
        _ => false,
    }
}

/// Trims and checks a group or device name (1–80 characters, no control or
/// text-direction characters, no identifiers).
pub(crate) fn checked_name<'a>(name: &'a str, what: &str) -> Result<&'a str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::invalid(what, "give a name of 1 to 80 characters"));
    }
    if name.chars().any(hidden_char) {
        return Err(Error::invalid(
            what,
            "a name cannot hold control characters (line breaks, escapes) or characters \
             that reorder or hide text",
        ));
    }
    crate::privacy::screen_name(name, what)?;
    Ok(name)
}

/// Whether `c` is a control character or one that reorders or hides text (bidi
/// overrides and isolates, zero-width marks): refused in names this device writes, and
/// replaced by U+FFFD in names it shows from other devices' records (red team round 5
/// F1: a name with terminal escapes rewrote a coordinator's screen).
fn hidden_char(c: char) -> bool {
    // Control characters, and the "default ignorable" and line-breaking code points a
    // terminal or a viewer may hide or act on (red team round 5 N2).
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
            | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// A name from another device's record as this device shows it: control and
/// text-direction characters replaced by U+FFFD (see [`hidden_char`]).
pub(crate) fn shown_name(name: &str) -> String {
    name.chars()
        .map(|c| if hidden_char(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Checks a record's own signatures (membership is decided by [`GroupState::members`]).
fn record_signature_ok(r: &MemberRecord) -> bool {
    match r {
        MemberRecord::Genesis {
            group,
            nonce,
            creator,
            name,
            creator_name,
            sig,
        } => {
            group_id(&creator.0, nonce) == *group
                && DeviceId(creator.0)
                    .verify(&genesis_msg(group, nonce, name, creator_name), &sig.0)
        }
        MemberRecord::Invite {
            group,
            by,
            invite,
            sig,
        } => DeviceId(by.0).verify(&invite_msg(group, &invite.0), &sig.0),
        MemberRecord::Join {
            group,
            member,
            name,
            invite,
            invite_sig,
            sig,
        } => {
            let msg = join_msg(group, &member.0, name, &invite.0);
            DeviceId(member.0).verify(&msg, &sig.0)
                && DeviceId(invite.0).verify(&msg, &invite_sig.0)
        }
        MemberRecord::Op {
            group,
            parents,
            author,
            op,
            sig,
        } => {
            let admitted_key_ok = match op {
                MemberOp::Admit { member, .. } => DeviceId(member.0).is_acceptable(),
                _ => true,
            };
            parents.len() <= MAX_PARENTS
                && admitted_key_ok
                && DeviceId(author.0).verify(&op_msg(group, parents, author, op), &sig.0)
        }
    }
}

/// At most this many parents per record (strict decoding of untrusted records).
const MAX_PARENTS: usize = 10_000;

const INVITE_PREFIX: &str = "caravan-invite:";
/// Prefix of an invitation sealed to a join request (section 11 of docs/protocol.md).
const REMOTE_PREFIX: &str = "caravan-invite-for:";
/// Label binding a remote invitation's sealing.
const REMOTE_LABEL: &[u8] = b"caravan/invite-for/v1";

/// A one-time invitation to join a group: show it as a QR code, in person.
/// Whoever holds it can join once, so it must not travel over untrusted channels.
pub struct Invitation {
    text: String,
    invite: B32,
}

/// The short public name of an invitation (the first 4 bytes of its invitation key in
/// hex), as a coordinator's notices and `member invite` show it. Not secret.
pub(crate) fn invitation_id(invite: &B32) -> String {
    invite.0[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl Invitation {
    /// The invitation's short public name (e.g. in "invitation 3fa01c2e was used again").
    pub fn id(&self) -> String {
        invitation_id(&self.invite)
    }

    /// The invitation as text (for a QR code).
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// The verification code both people compare after the QR code was scanned (the
    /// invitee's app shows [`invitation_code`] of what it scanned), so that nobody can
    /// slip in a code of their own. Not secret.
    pub fn code(&self) -> String {
        invitation_code(&self.text).unwrap_or_default()
    }
}

/// The verification code of an invitation's text (two groups of 4 base32 characters, e.g. `7KQ2-M9XD`; 40 bits of a hash of
/// the whole invitation), as both phones show it.
pub fn invitation_code(text: &str) -> Result<String> {
    let bad = || Error::invalid("invitation", "this is not a valid Caravan invitation");
    let text = text.trim();
    let raw = match (
        text.strip_prefix(INVITE_PREFIX),
        text.strip_prefix(REMOTE_PREFIX),
    ) {
        (Some(body), _) | (None, Some(body)) => unbase32(body).ok_or_else(bad)?,
        (None, None) => return Err(bad()),
    };
    let d = crate::crypto::sha256(&[b"caravan/invite-code/v1".as_slice(), &raw].concat());
    let c = base32(&d.as_ref()[..5]);
    Ok(format!("{}-{}", &c[..4], &c[4..8]))
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Invitation(<secret>)")
    }
}

fn expand32(secret: &[u8; 16], label: &[u8]) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    crate::crypto::hkdf::hkdf_sha256::<32>(b"caravan/invite/v1", secret, &[label])
}

fn invite_identity(secret: &[u8; 16]) -> Result<DeviceIdentity> {
    let seed = expand32(secret, b"sign")?;
    DeviceIdentity::from_seed(&seed)
}

fn welcome_key(secret: &[u8; 16]) -> Result<EpochKey> {
    Ok(EpochKey::new(0, *expand32(secret, b"welcome")?))
}

#[cfg(test)]
mod tests {

    /// Red team round 5 F1: names with terminal escapes or text-direction characters
    /// are refused when written here, and shown without them when another device's
    /// record carries them.
    #[test]
    fn names_hold_no_control_or_direction_characters() {
        for bad in [
            "Evil\x1b]0;pwned\x07",
            "A\rcaravan: done",
            "abc\u{202E}gnp.exe",
            "x\u{200B}y",
            "Pam\u{2028}caravan: sync done",
            "soft\u{AD}hyphen",
            "tag\u{E0041}s",
            "hangul\u{3164}filler",
        ] {
            assert!(checked_name(bad, "device name").is_err(), "{bad:?}");
        }
        assert_eq!(
            checked_name("  Айгерим, Ош ", "device name").ok(),
            Some("Айгерим, Ош")
        );
        let shown = shown_name("Evil\x1b[2J\u{202E}x");
        assert!(!shown.chars().any(hidden_char), "{shown:?}");
        assert_eq!(shown, "Evil\u{FFFD}[2J\u{FFFD}x");
    }
    use super::*;

    /// The identity point (y = 1), a key of small order, and a signature that ring's
    /// plain equation accepts from it over any message: `R = [1]B`, `s = 1`.
    fn weak_key_and_forgery() -> ([u8; 32], [u8; 64]) {
        let mut key = [0u8; 32];
        key[0] = 1;
        let mut sig = [0x66u8; 64];
        sig[0] = 0x58;
        sig[32..].fill(0);
        sig[32] = 1;
        (key, sig)
    }

    #[test]
    fn small_order_device_keys_never_enter_the_membership() {
        let (weak, forged) = weak_key_and_forgery();
        // The attack is real: ring alone accepts the forgery over any message.
        for message in [&b"genesis"[..], b"join", b"anything"] {
            assert!(crate::crypto::ed25519::verify(&weak, message, &forged));
            assert!(!DeviceId(weak).verify(message, &forged));
        }
        let a = DeviceIdentity::generate().expect("a");
        let mut g = GroupState::create(&a, "Team", "Phone").expect("create");
        let before = g.records.clone();
        // A genesis of the same group id cannot be made by another key, so the forged
        // genesis is checked on its own.
        let nonce = [3u8; 16];
        let group = group_id(&weak, &nonce);
        let genesis = MemberRecord::Genesis {
            group,
            nonce,
            creator: B32(weak),
            name: "Team".into(),
            creator_name: "Phone".into(),
            sig: B64(forged),
        };
        assert!(!record_signature_ok(&genesis));
        // A join signed by the weak key (and "by" a weak invitation key).
        let join = MemberRecord::Join {
            group: g.id,
            member: B32(weak),
            name: "Phone".into(),
            invite: B32(weak),
            invite_sig: B64(forged),
            sig: B64(forged),
        };
        assert!(!record_signature_ok(&join));
        // A coordinator's admit naming the weak key, honestly signed by the coordinator.
        let admit = |member: [u8; 32]| {
            let op = MemberOp::Admit {
                invite: B32([5; 32]),
                member: B32(member),
                x25519: B32([6; 32]),
                epoch: 1,
                key: ByteBuf::from(vec![7u8; 40]),
                at: None,
            };
            let author = B32(a.id().0);
            let sig = a.sign(&op_msg(&g.id, &[], &author, &op));
            MemberRecord::Op {
                group: g.id,
                parents: Vec::new(),
                author,
                op,
                sig: B64(sig),
            }
        };
        assert!(record_signature_ok(&admit(
            DeviceIdentity::generate().expect("b").id().0
        )));
        assert!(!record_signature_ok(&admit(weak)));
        // A key spelled non-canonically (y + p for a y below 19) is refused the same way.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[31] = 0x7f;
        for y in 0u8..19 {
            non_canonical[0] = 0xed + y;
            assert!(!DeviceId(non_canonical).is_acceptable());
            assert!(!record_signature_ok(&admit(non_canonical)));
        }
        assert_eq!(g.merge_records(vec![join, admit(weak)]), 0);
        assert_eq!(g.records, before, "nothing recorded");
    }

    #[test]
    fn create_invite_join_and_converge_in_any_order() {
        let a = DeviceIdentity::generate().expect("a");
        let b = DeviceIdentity::generate().expect("b");
        let c = DeviceIdentity::generate().expect("c");
        let mut ga = GroupState::create(&a, "Shymkent outreach", "Aigerim").expect("create");
        let inv = ga.invite(&a, Role::FieldWorker).expect("invite");
        // Both phones show the same verification code; another invitation has another.
        assert_eq!(invitation_code(inv.as_text()).expect("code"), inv.code());
        assert_eq!(inv.code().len(), 9);
        let other = ga.invite(&a, Role::FieldWorker).expect("invite");
        assert_ne!(other.code(), inv.code());
        assert!(invitation_code("hello").is_err());
        assert!(
            !format!("{inv:?}").contains(&inv.as_text()[20..30]),
            "the secret is not printed"
        );
        let mut gb = GroupState::join(inv.as_text(), &b, "Bakyt, Osh").expect("join");
        assert_eq!(gb.id, ga.id);
        // The invitation carries no key: b waits for a coordinator to admit it.
        assert!(gb.current_key().is_err(), "no team key in an invitation");
        assert!(gb.view().pending.contains_key(&b.id()));
        assert_eq!(gb.members().len(), 1);
        // c holds the same text and joins too.
        let mut gc = GroupState::join(inv.as_text(), &c, "Someone else").expect("join");
        // The creator learns of b through b's records and admits it.
        assert_eq!(ga.merge_records(gb.own_records(&b.id())), 2);
        assert_eq!(ga.admit_pending(&a).expect("admit"), 1);
        let admit = ga.admit_records(&B32(inv_key(&inv)), &ga.view());
        assert_eq!(admit.len(), 2, "the Admit and the Join it admits");
        gb.merge_records(admit.clone());
        assert!(gb.absorb_keys(&b));
        assert_eq!(
            gb.current_key().expect("key").bytes(),
            ga.current_key().expect("k").bytes()
        );
        assert_eq!(gb.members().len(), 2);
        // c's Join, reaching a in any order, admits nobody and removes nobody.
        let mut all = ga.clone();
        all.merge_records(gc.own_records(&c.id()));
        assert_eq!(all.admit_pending(&a).expect("admit"), 0);
        assert_eq!(all.members(), ga.members());
        assert_eq!(all.view().reused.len(), 1);
        // c learns of the admission but gets no key.
        gc.merge_records(admit);
        assert!(!gc.absorb_keys(&c));
        assert!(gc.current_key().is_err());
        assert!(gc.view().active(&c.id()).is_none());
        let mut cb = gb.clone();
        cb.merge_records(gc.records.iter().cloned().collect());
        assert_eq!(
            cb.view(),
            all.view(),
            "the same records, the same membership"
        );
        // Forged records are dropped.
        let forged = MemberRecord::Invite {
            group: ga.id,
            by: B32(c.id().0),
            invite: B32([9; 32]),
            sig: B64([0; 64]),
        };
        assert_eq!(ga.merge_records(vec![forged]), 0);
    }

    /// Two admissions of one coordinator invitation (a coordinator's phone restored
    /// from an older copy), T1/T2 of the 2026-12-05 red team: neither admission
    /// outranks the other, whatever the clocks say and whatever its device writes
    /// (using its key, acting as a coordinator); both devices are members with a field
    /// worker's rights until a coordinator revokes one; then the other holds the
    /// invitation's role. Every order of the same records gives the same view.
    #[test]
    fn a_contested_invitation_grants_no_coordinator_right_until_a_coordinator_decides() {
        let a = DeviceIdentity::generate().expect("a");
        let b = DeviceIdentity::generate().expect("b");
        let e = DeviceIdentity::generate().expect("e");
        let mut ga = GroupState::create(&a, "Team", "Aigerim").expect("create");
        let inv = ga.invite(&a, Role::Coordinator).expect("invite");
        let mut restored = ga.clone();
        let mut gb = GroupState::join(inv.as_text(), &b, "Bakyt").expect("join");
        let mut ge = GroupState::join(inv.as_text(), &e, "Eve").expect("join");
        // B is admitted an hour *later* than E by the clocks (T2: a phone's clock
        // decides nothing).
        CLOCK_AHEAD.with(|c| c.set(3600));
        ga.merge_records(gb.own_records(&b.id()));
        assert_eq!(ga.admit_pending(&a).expect("admit"), 1);
        CLOCK_AHEAD.with(|c| c.set(0));
        restored.merge_records(ge.own_records(&e.id()));
        assert_eq!(restored.admit_pending(&a).expect("admit"), 1);
        // E opens its key and acts as a coordinator at once (T1: demotes Aigerim and
        // revokes B, which used to "anchor" its admission).
        ge.merge_records(restored.records.iter().cloned().collect());
        assert!(ge.absorb_keys(&e));
        ge.publish_keys(&e).expect("keys");
        ge.merge_records(gb.records.iter().cloned().collect());
        gb.merge_records(ga.records.iter().cloned().collect());
        assert!(gb.absorb_keys(&b));
        let mut ge_alone = restored.clone();
        ge_alone.merge_records(ge.records.iter().cloned().collect());
        ge_alone.merge_records(gb.own_records(&b.id()));
        ge_alone
            .append(
                &e,
                MemberOp::SetRole {
                    member: B32(a.id().0),
                    role: Role::FieldWorker,
                },
            )
            .expect("e demotes a");
        ge_alone
            .append(
                &e,
                MemberOp::Revoke {
                    member: B32(b.id().0),
                },
            )
            .expect("e revokes b");
        let all = |gs: &[&GroupState]| -> Vec<MemberRecord> {
            gs.iter().flat_map(|g| g.records.iter().cloned()).collect()
        };
        let mut merged = ga.clone();
        merged.merge_records(all(&[&gb, &restored, &ge_alone]));
        let v = merged.view();
        assert_eq!(v.active(&b.id()).map(|m| m.role), Some(Role::FieldWorker));
        assert_eq!(v.active(&e.id()).map(|m| m.role), Some(Role::FieldWorker));
        assert!(v.is_coordinator(&a.id()), "e's demotion has no effect");
        assert_eq!(v.contested.values().next().map(Vec::len), Some(2));
        assert!(v.reused.is_empty() && !v.exposed());
        // Every order of the same records gives the same view.
        let mut other = restored.clone();
        for r in all(&[&gb, &ga, &ge_alone]).into_iter().rev() {
            other.merge_records(vec![r]);
        }
        assert_eq!(other.view(), v);
        // A coordinator decides: E is revoked, B holds the coordinator role.
        merged
            .append(
                &a,
                MemberOp::Revoke {
                    member: B32(e.id().0),
                },
            )
            .expect("a revokes e");
        let v = merged.view();
        assert!(
            v.is_coordinator(&b.id()),
            "the invitation's role after the decision"
        );
        assert!(v.active(&e.id()).is_none() && v.contested.is_empty());
        assert!(v.is_coordinator(&a.id()));
    }

    /// The invitation key of an invitation (test helper).
    fn inv_key(inv: &Invitation) -> [u8; 32] {
        inv.invite.0
    }

    #[test]
    fn tampered_or_foreign_invitations_are_refused() {
        let a = DeviceIdentity::generate().expect("a");
        let mut g = GroupState::create(&a, "Team", "Aigerim").expect("create");
        let inv = g.invite(&a, Role::FieldWorker).expect("invite");
        let text = inv.as_text();
        let mut bad = text.to_string();
        let i = bad.len() - 10;
        bad.replace_range(i..i + 1, if &text[i..i + 1] == "A" { "B" } else { "A" });
        assert!(GroupState::join(&bad, &a, "x").is_err());
        assert!(GroupState::join("caravan-invite:", &a, "x").is_err());
        assert!(GroupState::join("hello", &a, "x").is_err());
    }
}

/// Concurrent membership changes by coordinators who were apart converge.
#[cfg(test)]
mod partition_tests {
    use proptest::prelude::*;

    use super::*;

    /// Three coordinators' devices and three field workers, all knowing the same log.
    struct World {
        ids: Vec<DeviceIdentity>,
        replicas: Vec<GroupState>,
    }

    fn world() -> World {
        let ids: Vec<DeviceIdentity> = (0..6)
            .map(|i| DeviceIdentity::from_pkcs8(&pkcs8(i)).expect("identity"))
            .collect();
        let mut g = GroupState::create(&ids[0], "Team", "Device 0").expect("create");
        for (i, id) in ids.iter().enumerate().skip(1) {
            let role = if i < 3 {
                Role::Coordinator
            } else {
                Role::FieldWorker
            };
            let inv = g.invite(&ids[0], role).expect("invite");
            let joined = GroupState::join(inv.as_text(), id, &format!("Device {i}")).expect("join");
            g.merge_records(joined.records.iter().cloned().collect());
            assert_eq!(g.admit_pending(&ids[0]).expect("admit"), 1);
        }
        let replicas = (0..3)
            .map(|i| {
                let mut r = g.clone();
                r.keys.clear();
                r.keys.push(g.keys[0]);
                r.absorb_keys(&ids[i]);
                r
            })
            .collect();
        World { ids, replicas }
    }

    /// The same six identities for every case of a run, so shrinking replays.
    fn pkcs8(i: u8) -> Vec<u8> {
        static KEYS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            (0..6)
                .map(|_| DeviceIdentity::generate().expect("id").pkcs8().to_vec())
                .collect()
        })[usize::from(i)]
        .clone()
    }

    #[derive(Clone, Debug)]
    enum Action {
        Revoke(usize),
        SetRole(usize, Role),
        Rekey,
        Assign(u8, usize),
        Invite(Role),
        Sync(usize, usize),
    }

    fn action() -> impl Strategy<Value = (usize, Action)> {
        let role = prop_oneof![
            Just(Role::Coordinator),
            Just(Role::FieldWorker),
            Just(Role::Partner)
        ];
        (
            0..3usize,
            prop_oneof![
                (0..6usize).prop_map(Action::Revoke),
                (0..6usize, role.clone()).prop_map(|(t, r)| Action::SetRole(t, r)),
                Just(Action::Rekey),
                (0..4u8, 0..6usize).prop_map(|(c, t)| Action::Assign(c, t)),
                role.prop_map(Action::Invite),
                (0..3usize, 0..3usize).prop_map(|(a, b)| Action::Sync(a, b)),
            ],
        )
    }

    fn apply(w: &mut World, who: usize, a: &Action) {
        let me = &w.ids[who];
        let target = |t: usize| B32(w.ids[t].id().0);
        let g = &mut w.replicas[who];
        let view = g.view();
        // As the store does: only an active coordinator acts, never on itself.
        if !view.is_coordinator(&me.id()) {
            return;
        }
        match a {
            Action::Revoke(t) if *t != who && view.active(&w.ids[*t].id()).is_some() => {
                g.append(me, MemberOp::Revoke { member: target(*t) })
                    .expect("revoke");
                g.rekey(me).expect("rekey");
            }
            Action::SetRole(t, role) if *t != who => {
                g.append(
                    me,
                    MemberOp::SetRole {
                        member: target(*t),
                        role: *role,
                    },
                )
                .expect("role");
            }
            Action::Rekey => g.rekey(me).expect("rekey"),
            Action::Assign(c, t) => {
                g.append(
                    me,
                    MemberOp::Assign {
                        case: CaseId([*c; 16]),
                        member: target(*t),
                        assigned: true,
                    },
                )
                .expect("assign");
            }
            Action::Invite(role) => {
                g.invite(me, *role).expect("invite");
            }
            Action::Sync(from, to) if from != to => {
                let records: Vec<MemberRecord> =
                    w.replicas[*from].records.iter().cloned().collect();
                let r = &mut w.replicas[*to];
                r.merge_records(records);
                r.absorb_keys(&w.ids[*to]);
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn partitioned_coordinators_converge_in_any_order(
            actions in prop::collection::vec(action(), 1..24),
            order in prop::collection::vec(0..3usize, 6),
        ) {
            let mut w = world();
            for (who, a) in &actions {
                apply(&mut w, *who, a);
            }
            // Everyone meets everyone, in an arbitrary order, record by record.
            let all: Vec<MemberRecord> = w
                .replicas
                .iter()
                .flat_map(|r| r.records.iter().cloned())
                .collect();
            for (step, to) in order.iter().enumerate() {
                let mut records = all.clone();
                let k = step % records.len().max(1);
                records.rotate_left(k);
                if step % 2 == 1 {
                    records.reverse();
                }
                let r = &mut w.replicas[*to];
                for rec in records {
                    r.merge_records(vec![rec]);
                }
            }
            for (i, r) in w.replicas.iter_mut().enumerate() {
                r.merge_records(all.clone());
                r.absorb_keys(&w.ids[i]);
            }
            let views: Vec<Membership> = w.replicas.iter().map(GroupState::view).collect();
            for v in &views[1..] {
                prop_assert_eq!(v, &views[0]);
            }
            let v = &views[0];
            prop_assert!(
                v.members.values().any(|m| m.active && m.role == Role::Coordinator),
                "a coordinator always remains"
            );
            // Every device still active and not a partner holds the newest epoch's key,
            // or a coordinator can hand it over (as the store does on its next sync).
            for (i, r) in w.replicas.iter_mut().enumerate() {
                let me = w.ids[i].id();
                if v.active(&me).is_some_and(|m| m.role != Role::Partner) {
                    let has = r.current_key().map(|k| k.epoch).unwrap_or(0);
                    let lacking = v.lacking_key().iter().any(|(d, _)| *d == me);
                    prop_assert!(has == v.epoch || lacking, "device {} has epoch {} of {}", i, has, v.epoch);
                }
            }
        }
    }

    #[test]
    fn two_coordinators_revoking_each_other_leave_exactly_one() {
        let mut w = world();
        apply(&mut w, 1, &Action::Revoke(2));
        apply(&mut w, 2, &Action::Revoke(1));
        let all: Vec<MemberRecord> = w
            .replicas
            .iter()
            .flat_map(|r| r.records.iter().cloned())
            .collect();
        for r in &mut w.replicas {
            r.merge_records(all.clone());
        }
        let v = w.replicas[0].view();
        assert_eq!(v, w.replicas[1].view());
        assert_eq!(v, w.replicas[2].view());
        let active = |i: usize| v.active(&w.ids[i].id()).is_some();
        assert!(active(1) ^ active(2), "exactly one of the two remains");
        assert!(active(0));
    }
}
