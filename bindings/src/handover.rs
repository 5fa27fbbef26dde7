//! QR hand-overs that lose nothing: the position of a peer moves only when that peer
//! confirms, by showing back the receipt of the bundle it imported
//! (`caravan_core::store::handover`, decision 0019).
//!
//! Sender: [`CaravanStore::handover_frames`] (one per peer's device id), then
//! [`CaravanStore::confirm_handover`] with the receipt scanned from the peer's screen;
//! [`CaravanStore::handover_waiting`] says how many cases wait for a peer. Receiver:
//! [`CaravanStore::import_handover`] imports the scanned bundle and gives the receipt to
//! show back (a small QR code), signed with the receiving device's key, so no one else
//! can make it (red-team F1 of 2026-12-05).

use std::sync::{Arc, PoisonError};

use caravan_core::sync::{qr, DeviceId};
use caravan_core::ReceiptCheck;

use crate::error::{CaravanError, Result};
use crate::listener::ProgressListener;
use crate::progress::phased;
use crate::store::CaravanStore;
use crate::sync::{device_id, hex, SyncSummary};

/// How many unconfirmed hand-overs a handle remembers (the oldest are forgotten; a
/// forgotten one is simply shown again next time).
const PENDING: usize = 16;

/// What the receiving phone got from a hand-over.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HandoverImport {
    /// What the import changed.
    pub summary: SyncSummary,
    /// The receipt to show back to the sending phone as a QR code (`caravan-received:`,
    /// 16 hex digits naming this device, `-` and the 128 hex digits of this device's
    /// signature over its id, the sender's id and the bundle's digest), present when the bundle was imported completely (no case
    /// waits for earlier changes). Absent: tell the sender to show everything instead.
    pub receipt: Option<String>,
}

impl CaravanStore {
    /// Remembers a showing until its receipt comes back.
    fn remember(&self, handover: caravan_core::Handover) {
        let mut pending = self
            .handovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.retain(|h| h.showing() != handover.showing());
        if pending.len() >= PENDING {
            pending.remove(0);
        }
        pending.push(handover);
    }
}

#[uniffi::export]
impl CaravanStore {
    /// The updates `peer` has not confirmed yet (everything the first time), cut into
    /// QR frames of at most `max_frame` bytes, to show one after another. `peer` is the
    /// device id (64 hex digits, `GroupMember.device_id`) of the colleague's phone the
    /// codes are for. Showing them moves nothing: the peer's position moves when
    /// [`CaravanStore::confirm_handover`] gets the receipt that very phone shows back.
    pub fn handover_frames(&self, peer: String, max_frame: u32) -> Result<Vec<Vec<u8>>> {
        self.handover_frames_of(peer, max_frame, false, &None)
    }

    /// Like [`CaravanStore::handover_frames`], but carrying everything, whatever
    /// `peer`'s position: to re-send all to a phone that lost its data, restored an
    /// old copy, or whose showing was scanned by someone else. Confirming it sets the
    /// peer's position to everything it carried.
    pub fn handover_frames_everything(&self, peer: String, max_frame: u32) -> Result<Vec<Vec<u8>>> {
        self.handover_frames_of(peer, max_frame, true, &None)
    }

    /// Confirms a hand-over with the receipt scanned from the peer's screen: that
    /// peer's position moves to what the bundle carried. Returns the peer's device id.
    /// A receipt shown by another team member's phone than the one the codes were meant
    /// for is `HandoverToAnotherDevice` and moves nothing; a receipt for no bundle this
    /// handle showed (shown before the store was locked, forged, not signed by the
    /// peer, malformed, already confirmed, or of a showing older than one confirmed
    /// since) is `InvalidInput` and moves nothing: show the updates again.
    pub fn confirm_handover(&self, receipt: String) -> Result<String> {
        let members: Vec<DeviceId> =
            self.with(|s| Ok(s.team().members().iter().map(|m| m.device).collect()))?;
        let handover = {
            let mut pending = self
                .handovers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut other = None;
            let mut found = None;
            for (i, h) in pending.iter().enumerate() {
                match h.check_receipt(&receipt, &members) {
                    ReceiptCheck::Confirmed => {
                        found = Some(i);
                        break;
                    }
                    ReceiptCheck::ReceivedByAnother(d) => other = Some((*h.peer(), d)),
                    ReceiptCheck::NoMatch => {}
                }
            }
            match (found, other) {
                (Some(i), _) => {
                    // The showings to the same peer made before this one are covered
                    // by it: their receipts, if they come later, are old and refused
                    // (confirming them would only move the position back).
                    let confirmed = pending.remove(i);
                    let mut index = 0;
                    pending.retain(|h| {
                        index += 1;
                        index > i || h.peer() != confirmed.peer()
                    });
                    confirmed
                }
                (None, Some((peer, scanned_by))) => {
                    return Err(CaravanError::HandoverToAnotherDevice {
                        peer: hex(&peer.0),
                        scanned_by: hex(&scanned_by.0),
                    })
                }
                (None, None) => {
                    return Err(CaravanError::InvalidInput {
                        field: "receipt".into(),
                        reason: "not the receipt of a bundle this phone showed since it was \
                                 unlocked; show the updates again"
                            .into(),
                    })
                }
            }
        };
        let peer = hex(&handover.peer().0);
        self.with(|s| Ok(s.confirm_handover(handover)?))?;
        Ok(peer)
    }

    /// How many cases changed since `peer` (a device id) last confirmed a hand-over
    /// (all of them before the first confirmation): what the next showing carries.
    pub fn handover_waiting(&self, peer: String) -> Result<u64> {
        self.with(|s| Ok(s.waiting_for(&device_id(&peer)?) as u64))
    }

    /// Imports a scanned hand-over bundle (as `import_bundle`, the change listener is
    /// told) and gives the receipt to show back to the sender, signed with this
    /// device's key: only this device can make it.
    pub fn import_handover(&self, bundle: Vec<u8>) -> Result<HandoverImport> {
        self.import_handover_with_progress(bundle, None)
    }
}

impl CaravanStore {
    /// A QR showing for `peer`, told to `progress` by phase
    /// ([`crate::progress::phased`]): a cancel builds and remembers nothing.
    pub(crate) fn handover_frames_of(
        &self,
        peer: String,
        max_frame: u32,
        everything: bool,
        progress: &Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<Vec<u8>>> {
        let (frames, handover) = self.with(|s| {
            phased(self, s, progress, |s| {
                let peer = device_id(&peer)?;
                let (bundle, handover) = if everything {
                    s.export_handover_everything(&peer)?
                } else {
                    s.export_handover(&peer)?
                };
                Ok((qr::split(&bundle, max_frame as usize)?, handover))
            })
        })?;
        self.remember(handover);
        Ok(frames)
    }
}
