//! A team: a group with a symmetric key per epoch and a signed membership record set.
//!
//! Membership is a grow-only set of signed records, so devices that see the same
//! records in any order derive the same members:
//!
//! - `Genesis`: the creator's key and the group name; the group id is
//!   `SHA-256("caravan/group/v1" ‖ creator ‖ nonce)[..16]`, so nobody can claim it.
//! - `Invite`: a member publishes the public key of a one-time invitation key pair
//!   derived from a secret that travels out of band (a QR code shown in person).
//! - `Join`: a new device, signed with its own key *and* the invitation key, which
//!   proves it holds the invitation. Each invitation admits one device (if two join
//!   concurrently with one invitation, the smaller device key wins everywhere).
//!
//! Roles, revocation and key rotation come with the membership issue; here every
//! member may invite, and the group has one key epoch.

use std::collections::{BTreeMap, BTreeSet};

use ring::hkdf;
use serde::{Deserialize, Serialize};

use super::envelope::EpochKey;
use super::identity::{DeviceId, DeviceIdentity};
use crate::error::{Error, Result};

/// 32 bytes as a CBOR byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct B32(#[serde(with = "serde_bytes")] pub(crate) [u8; 32]);

/// 64 bytes (a signature) as a CBOR byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct B64(#[serde(with = "serde_bytes")] pub(crate) [u8; 64]);

/// A signed membership record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum MemberRecord {
    Genesis {
        group: [u8; 16],
        nonce: [u8; 16],
        creator: B32,
        name: String,
        creator_name: String,
        sig: B64,
    },
    Invite {
        group: [u8; 16],
        by: B32,
        invite: B32,
        sig: B64,
    },
    Join {
        group: [u8; 16],
        member: B32,
        name: String,
        invite: B32,
        invite_sig: B64,
        sig: B64,
    },
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

fn group_id(creator: &[u8; 32], nonce: &[u8; 16]) -> [u8; 16] {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        &[b"caravan/group/v1".as_slice(), creator, nonce].concat(),
    );
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
}

/// What this device knows about its group. Holds secret keys: never printed.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct GroupState {
    pub(crate) id: [u8; 16],
    pub(crate) name: String,
    keys: Vec<(u32, B32)>,
    pub(crate) records: BTreeSet<MemberRecord>,
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
        Ok(GroupState {
            id,
            name: name.into(),
            keys: vec![(0, B32(*key.bytes()))],
            records,
        })
    }

    /// The current epoch's key.
    pub(crate) fn current_key(&self) -> Result<EpochKey> {
        self.keys
            .iter()
            .max_by_key(|(e, _)| *e)
            .map(|(e, k)| EpochKey::new(*e, k.0))
            .ok_or_else(|| Error::Internal("group without a key".into()))
    }

    /// The key of the epoch a message names, if this device has it.
    pub(crate) fn key_for(&self, tag: &[u8; 16], epoch: u32) -> Option<EpochKey> {
        self.keys
            .iter()
            .filter(|(e, _)| *e == epoch)
            .map(|(e, k)| EpochKey::new(*e, k.0))
            .find(|k| &k.routing_tag() == tag)
    }

    /// Adds records received from another device; returns how many were new and valid.
    pub(crate) fn merge_records(&mut self, records: Vec<MemberRecord>) -> usize {
        let mut added = 0;
        for r in records {
            let group = match &r {
                MemberRecord::Genesis { group, .. }
                | MemberRecord::Invite { group, .. }
                | MemberRecord::Join { group, .. } => *group,
            };
            if group == self.id && record_signature_ok(&r) && self.records.insert(r) {
                added += 1;
            }
        }
        added
    }

    /// The members derived from the records (deterministic for any record order).
    pub(crate) fn members(&self) -> BTreeMap<DeviceId, String> {
        let mut members = BTreeMap::new();
        for r in &self.records {
            if let MemberRecord::Genesis {
                group,
                nonce,
                creator,
                creator_name,
                ..
            } = r
            {
                if *group == self.id && group_id(&creator.0, nonce) == self.id {
                    members.insert(DeviceId(creator.0), creator_name.clone());
                }
            }
        }
        let mut invites: BTreeSet<[u8; 32]> = BTreeSet::new();
        loop {
            let before = (members.len(), invites.len());
            for r in &self.records {
                if let MemberRecord::Invite { by, invite, .. } = r {
                    if members.contains_key(&DeviceId(by.0)) {
                        invites.insert(invite.0);
                    }
                }
            }
            // One device per invitation: the smallest device key among its joins.
            let mut by_invite: BTreeMap<[u8; 32], (&B32, &String)> = BTreeMap::new();
            for r in &self.records {
                if let MemberRecord::Join {
                    member,
                    name,
                    invite,
                    ..
                } = r
                {
                    if invites.contains(&invite.0) {
                        let e = by_invite.entry(invite.0).or_insert((member, name));
                        if member.0 < e.0 .0 {
                            *e = (member, name);
                        }
                    }
                }
            }
            for (member, name) in by_invite.into_values() {
                members
                    .entry(DeviceId(member.0))
                    .or_insert_with(|| name.clone());
            }
            if (members.len(), invites.len()) == before {
                break;
            }
        }
        members
    }

    /// The records that prove `device` is a member: the genesis, and for an invited
    /// device its join, the invitation it used, and the inviter's own proof.
    pub(crate) fn proof_of(&self, device: &DeviceId) -> Vec<MemberRecord> {
        let mut out: Vec<MemberRecord> = Vec::new();
        let mut todo = vec![device.0];
        while let Some(d) = todo.pop() {
            for r in &self.records {
                let keep = match r {
                    MemberRecord::Genesis { creator, .. } => creator.0 == d,
                    MemberRecord::Join { member, .. } => member.0 == d,
                    MemberRecord::Invite { .. } => false,
                };
                if keep && !out.contains(r) {
                    out.push(r.clone());
                    if let MemberRecord::Join { invite, .. } = r {
                        for i in &self.records {
                            if let MemberRecord::Invite {
                                invite: inv, by, ..
                            } = i
                            {
                                if inv == invite && !out.contains(i) {
                                    out.push(i.clone());
                                    todo.push(by.0);
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The member whose Automerge actor id is `actor`.
    pub(crate) fn member_by_actor(
        &self,
        members: &BTreeMap<DeviceId, String>,
        actor: &[u8],
    ) -> Option<DeviceId> {
        members
            .keys()
            .find(|d| d.actor().as_slice() == actor)
            .copied()
    }

    /// Digest of the record set (to tell whether a peer needs ours).
    pub(crate) fn records_digest(&self) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for r in &self.records {
            if let Ok(bytes) = crate::store::cbor(r) {
                ctx.update(&(bytes.len() as u64).to_le_bytes());
                ctx.update(&bytes);
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Creates a one-time invitation and records it (signed by `me`).
    pub(crate) fn invite(&mut self, me: &DeviceIdentity) -> Result<Invitation> {
        if !self.members().contains_key(&me.id()) {
            return Err(Error::invalid(
                "invite",
                "this device is not a member of its group",
            ));
        }
        let secret: [u8; 16] = crate::crypto::random_array()?;
        let invite_key = invite_identity(&secret)?;
        let invite = invite_key.id().0;
        let sig = B64(me.sign(&invite_msg(&self.id, &invite)));
        self.records.insert(MemberRecord::Invite {
            group: self.id,
            by: B32(me.id().0),
            invite: B32(invite),
            sig,
        });
        let welcome = crate::store::cbor(self)?;
        let sealed = super::envelope::seal(&welcome_key(&secret), &welcome)?;
        let mut raw = secret.to_vec();
        raw.extend_from_slice(&sealed);
        Ok(Invitation {
            text: format!("{INVITE_PREFIX}{}", base32(&raw)),
        })
    }

    /// Joins the group an invitation is for, as `me` named `name`.
    pub(crate) fn join(invitation: &str, me: &DeviceIdentity, name: &str) -> Result<GroupState> {
        let bad = || Error::invalid("invitation", "this is not a valid Caravan invitation");
        let body = invitation
            .trim()
            .strip_prefix(INVITE_PREFIX)
            .ok_or_else(bad)?;
        let raw = unbase32(body).ok_or_else(bad)?;
        if raw.len() < 16 + 80 {
            return Err(bad());
        }
        let (secret, sealed) = raw.split_at(16);
        let secret: [u8; 16] = secret.try_into().map_err(|_| bad())?;
        let parsed = super::envelope::parse(sealed)?;
        let plain = super::envelope::open(&parsed, &welcome_key(&secret)).map_err(|_| bad())?;
        let mut group: GroupState = ciborium::from_reader(plain.as_slice()).map_err(|_| bad())?;
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
        if !group.members().contains_key(&me.id()) {
            return Err(Error::invalid(
                "invitation",
                "the invitation was not issued by a member of the group",
            ));
        }
        Ok(group)
    }
}

/// Trims and checks a group or device name (1–80 characters, no identifiers).
fn checked_name<'a>(name: &'a str, what: &str) -> Result<&'a str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::invalid(what, "give a name of 1 to 80 characters"));
    }
    crate::privacy::screen_note(name)?;
    Ok(name)
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
    }
}

const INVITE_PREFIX: &str = "caravan-invite:";

/// A one-time invitation to join a group: show it as a QR code, in person.
/// Whoever holds it can join once, so it must not travel over untrusted channels.
pub struct Invitation {
    text: String,
}

impl Invitation {
    /// The invitation as text (for a QR code).
    pub fn as_text(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Invitation(<secret>)")
    }
}

fn expand32(secret: &[u8; 16], label: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"caravan/invite/v1").extract(secret);
    let mut out = [0u8; 32];
    match prk.expand(&[label], hkdf::HKDF_SHA256) {
        Ok(okm) => {
            if okm.fill(&mut out).is_err() {
                unreachable!("32 bytes fit")
            }
        }
        Err(_) => unreachable!("HKDF-SHA256 can expand to 32 bytes"),
    }
    out
}

fn invite_identity(secret: &[u8; 16]) -> Result<DeviceIdentity> {
    DeviceIdentity::from_seed(&expand32(secret, b"sign"))
}

fn welcome_key(secret: &[u8; 16]) -> EpochKey {
    EpochKey::new(0, expand32(secret, b"welcome"))
}

const B32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub(crate) fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u64, 0u32);
    for &b in data {
        buf = (buf << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32_ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32_ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes [`base32`] (case-insensitive; spaces and dashes ignored).
pub(crate) fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.chars().filter(|c| !matches!(c, ' ' | '-' | '\n')) {
        let v = B32_ALPHABET
            .iter()
            .position(|a| *a as char == c.to_ascii_uppercase())? as u64;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_invite_join_and_converge_in_any_order() {
        let a = DeviceIdentity::generate().expect("a");
        let b = DeviceIdentity::generate().expect("b");
        let c = DeviceIdentity::generate().expect("c");
        let mut ga = GroupState::create(&a, "Shymkent outreach", "Aigerim").expect("create");
        let inv = ga.invite(&a).expect("invite");
        assert!(
            !format!("{inv:?}").contains(&inv.as_text()[20..30]),
            "the secret is not printed"
        );
        let gb = GroupState::join(inv.as_text(), &b, "Bakyt, Osh").expect("join");
        assert_eq!(gb.id, ga.id);
        assert_eq!(gb.members().len(), 2);
        // The creator learns of b through b's records.
        assert_eq!(ga.merge_records(gb.records.iter().cloned().collect()), 1);
        assert_eq!(ga.members(), gb.members());
        // An invitation admits one device only.
        let gc = GroupState::join(inv.as_text(), &c, "Someone else");
        let mut all = ga.clone();
        if let Ok(gc) = gc {
            all.merge_records(gc.records.iter().cloned().collect());
        }
        assert_eq!(
            all.members().len(),
            2,
            "a reused invitation admits nobody else"
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

    #[test]
    fn tampered_or_foreign_invitations_are_refused() {
        let a = DeviceIdentity::generate().expect("a");
        let mut g = GroupState::create(&a, "Team", "Aigerim").expect("create");
        let inv = g.invite(&a).expect("invite");
        let text = inv.as_text();
        let mut bad = text.to_string();
        let i = bad.len() - 10;
        bad.replace_range(i..i + 1, if &text[i..i + 1] == "A" { "B" } else { "A" });
        assert!(GroupState::join(&bad, &a, "x").is_err());
        assert!(GroupState::join("caravan-invite:", &a, "x").is_err());
        assert!(GroupState::join("hello", &a, "x").is_err());
    }

    #[test]
    fn base32_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(unbase32(&base32(data)).as_deref(), Some(data));
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
