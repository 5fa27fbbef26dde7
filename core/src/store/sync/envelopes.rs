//! Opening what another device sent (key updates, welcome keys, the main envelope)
//! and sealing what this device sends, with the key its membership gives it.

use crate::codec::B32;
use crate::store::*;
use crate::sync::{DeviceId, GroupState, Payload};

impl Store {
    /// The key this device seals with: the group's current key, unless this device
    /// was revoked.
    pub(in crate::store) fn sending_key(&self) -> Result<crate::sync::envelope::EpochKey> {
        let group = self.group()?;
        if group.view().pending.contains_key(&self.identity.id()) {
            return Err(waiting_for_admission());
        }
        if self.index.sync.group.is_some() && self.team().role().is_none() {
            return Err(Error::NotPermitted {
                action: "sync".into(),
                reason: "this device was revoked from its group".into(),
            });
        }
        group.current_key()
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
    pub(in crate::store) fn open_incoming(
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
        // A key update where the main envelope belongs: the bundle was cut short or its
        // envelopes reordered (red team round 5 F3); its main part is missing.
        if !payload.keys.is_empty()
            && payload.cases.is_empty()
            && payload.members.is_empty()
            && payload.tombstones.is_empty()
            && payload.live.is_none()
        {
            return Err(Error::rejected(
                "this message ends with a key update: its main part is missing or out of \
                 order (a bundle cut short, or its parts reordered); nothing was imported: \
                 ask for the bundle again",
            ));
        }
        members.append(&mut payload.members);
        payload.members = members;
        Ok((sender, payload, via, unopened))
    }

    /// Seals a payload with the current group key. After a key rotation, the membership
    /// log goes first in one envelope per older key this device holds, so that members
    /// who have not heard of the rotation learn their new key (sealed to their X25519
    /// key in the log) before they meet the main envelope. A revoked device can read
    /// those envelopes, but they hold no case data and no key for it.
    pub(in crate::store) fn seal_for_group(
        &self,
        payload: &Payload,
        key_updates: bool,
    ) -> Result<Vec<u8>> {
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
}

/// The error of a device another device was admitted on the same invitation before.
pub(super) fn not_admitted() -> Error {
    Error::NotPermitted {
        action: "sync".into(),
        reason: "a coordinator admitted another device on the invitation this device joined \
                 with, so this device is not a member and can read nothing; ask a coordinator \
                 for a new invitation"
            .into(),
    }
}

/// The error of a device that joined and waits for a coordinator to admit it.
pub(super) fn waiting_for_admission() -> Error {
    Error::NotPermitted {
        action: "sync".into(),
        reason: "this device waits to be admitted: send a bundle to the coordinator who \
                 invited it and import the coordinator's reply"
            .into(),
    }
}

/// Says in the report how many envelopes of a bundle (or live message) this device could
/// not open (red team round 3, L4): an admission or key update for another device looks
/// exactly like a damaged one, so the import goes on, but the skip is no longer silent.
pub(in crate::store) fn note_unopened(report: &mut SyncReport, unopened: usize) {
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

/// Says in a bundle import's report what to do when cases wait for changes that were
/// not in it (red team round 5: a phone restored from an older copy lacks what it had
/// received since, and incremental bundles from others never send it again).
pub(in crate::store) fn note_waiting(report: &mut SyncReport) {
    if report.cases_waiting == 0 {
        return;
    }
    report.notices.push(format!(
        "{} case(s) wait for changes this device does not have (in an earlier bundle not \
         imported here, or lost when this phone was restored from an older copy): import \
         the missing bundles, or ask the sender for a full bundle (`caravan bundle export` \
         without `--since`)",
        report.cases_waiting
    ));
}
