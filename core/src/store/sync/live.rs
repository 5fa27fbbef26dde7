//! Live sessions: two devices online at the same time exchange their states and
//! then exactly what the other lacks, each message received through
//! [`super::receive`] and stored durably before the reply is sealed.

use automerge::ChangeHash;

use super::envelopes::not_admitted;
use super::{Members, SyncReport};
use crate::codec::B32;
use crate::store::index::{HeadsMap, PendingChange, SyncDelta};
use crate::store::*;
use crate::sync::{DeviceId, LiveHeader, Payload};

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
    /// What the latest [`Store::live_receive`] call stored on this device (its
    /// [`SyncReport::changed`] cases and [`SyncReport::team_changed`]): cleared when the
    /// call starts and set as soon as the message's changes are durable, so it holds
    /// them even when the call fails afterwards (sealing the reply, say).
    pub last_received: SyncReport,
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
            last_received: SyncReport::default(),
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
            last_received: SyncReport::default(),
            messages_sent: 0,
            bytes_sent: 0,
            messages_received: 0,
            bytes_received: 0,
        })
    }

    /// Feeds one message from the peer into the session. Returns the reply to send, if
    /// any; the session is done when [`LiveSession::is_done`] says so. The message's
    /// changes are stored durably before this returns, and
    /// [`LiveSession::last_received`] tells what they changed (even when this fails
    /// after storing them). A refused message leaves the session as it was, but for
    /// `last_received`, cleared.
    pub fn live_receive(
        &mut self,
        session: &mut LiveSession,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        session.last_received = SyncReport::default();
        if session.done {
            return Err(Error::invalid(
                "live session",
                "the session has already finished",
            ));
        }
        if let Some(reason) = crate::error::LiveRefusal::parse(bytes) {
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
        if sender == self.team().device_id() {
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
        super::note_unopened(&mut report, unopened);
        session.peer = Some(sender);
        session.id = expected_id;
        session.messages_received = received;
        session.bytes_received += bytes.len();
        session.report += &report;
        session.last_received = report;
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
    /// [`LiveRefusal::NotAccepted`]: crate::error::LiveRefusal::NotAccepted
    pub fn live_refusal(&self, session: &LiveSession, error: &Error) -> Option<Vec<u8>> {
        use crate::error::LiveRefusal as R;
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
    fn refused_by_peer(&self, reason: crate::error::LiveRefusal) -> Error {
        use crate::error::LiveRefusal as R;
        let advice = match reason {
            R::NotAccepted if self.team().awaiting_admission().is_some() => {
                "it does not accept this device, which is still waiting to be admitted: its \
                 invitation was probably used already by another device (an invitation admits \
                 one device only), or the other device is not the coordinator who invited it. \
                 Ask a coordinator for a new invitation and join with it"
            }
            R::NotAccepted => {
                "it does not accept this device as a member of its group: this device may have \
                 been revoked, or the two devices are not in the same team, or the other device \
                 missed a key rotation (then let it start the sync, or send it a bundle, which \
                 carries the new key). Ask a coordinator to check this device in the member list"
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

    /// The session header of this device's next message.
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

    /// Seals this device's next message of the session and counts it.
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

    /// Every case's heads (erased ones with none), sorted: what the peer compares.
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

    /// The digest of the membership records, erased cases and quarantine, which two
    /// devices compare to skip sending what the other holds.
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

/// SHA-256 over the sorted entries of a state map.
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
