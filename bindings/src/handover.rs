//! QR hand-overs that lose nothing: the position of a peer moves only when that peer
//! confirms, by showing back the receipt of the bundle it imported
//! (`caravan_core::store::handover`, decision 0019).
//!
//! Sender: [`CaravanStore::handover_frames`] (one target per peer), then
//! [`CaravanStore::confirm_handover`] with the receipt scanned from the peer's screen;
//! [`CaravanStore::handover_waiting`] says how many cases wait for a peer. Receiver:
//! [`CaravanStore::import_handover`] imports the scanned bundle and gives the receipt to
//! show back (a small QR code).

use std::sync::PoisonError;

use caravan_core::sync::qr;

use crate::error::{guard, CaravanError, Result};
use crate::store::CaravanStore;
use crate::sync::SyncSummary;

/// How many unconfirmed hand-overs a handle remembers (the oldest are forgotten; a
/// forgotten one is simply shown again next time).
const PENDING: usize = 16;

/// What the receiving phone got from a hand-over.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HandoverImport {
    /// What the import changed.
    pub summary: SyncSummary,
    /// The receipt to show back to the sending phone as a QR code (`caravan-received:`
    /// and 24 hex digits), present when the bundle was imported completely (no case
    /// waits for earlier changes). Absent: tell the sender to show everything instead.
    pub receipt: Option<String>,
}

/// The receipt of a bundle (what [`CaravanStore::import_handover`] returns), for apps
/// that import with `import_bundle`.
#[uniffi::export]
pub fn handover_receipt(bundle: Vec<u8>) -> String {
    caravan_core::handover_receipt(&bundle)
}

#[uniffi::export]
impl CaravanStore {
    /// The updates `peer` has not confirmed yet (everything the first time), cut into
    /// QR frames of at most `max_frame` bytes, to show one after another. Showing them
    /// moves nothing: the peer's position moves when [`CaravanStore::confirm_handover`]
    /// gets the receipt the peer shows back. Keep one `peer` name per colleague's phone
    /// (e.g. its member device id).
    pub fn handover_frames(&self, peer: String, max_frame: u32) -> Result<Vec<Vec<u8>>> {
        let (frames, handover) = self.with(|s| {
            let (bundle, handover) = s.export_handover(&peer)?;
            Ok((qr::split(&bundle, max_frame as usize)?, handover))
        })?;
        let mut pending = self
            .handovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.retain(|h| h.receipt() != handover.receipt());
        if pending.len() >= PENDING {
            pending.remove(0);
        }
        pending.push(handover);
        Ok(frames)
    }

    /// Confirms a hand-over with the receipt scanned from the peer's screen: that
    /// peer's position moves to what the bundle carried. Returns the peer's name. A
    /// receipt for no bundle this handle showed (another phone's, or shown before the
    /// store was locked) is `InvalidInput` and moves nothing: show the updates again.
    pub fn confirm_handover(&self, receipt: String) -> Result<String> {
        let receipt = receipt.trim().to_ascii_lowercase();
        let handover = {
            let mut pending = self
                .handovers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let i = pending
                .iter()
                .position(|h| h.receipt() == receipt)
                .ok_or_else(|| CaravanError::InvalidInput {
                    field: "receipt".into(),
                    reason: "not the receipt of a bundle this phone showed since it was \
                             unlocked; show the updates again"
                        .into(),
                })?;
            pending.remove(i)
        };
        let peer = handover.target().to_string();
        self.with(|s| Ok(s.confirm_handover(handover)?))?;
        Ok(peer)
    }

    /// How many cases changed since `peer` last confirmed a hand-over (all of them
    /// before the first confirmation): what the next showing carries.
    pub fn handover_waiting(&self, peer: String) -> Result<u64> {
        self.with(|s| Ok(s.waiting_for(&peer) as u64))
    }

    /// Imports a scanned hand-over bundle (as `import_bundle`, the change listener is
    /// told) and gives the receipt to show back to the sender.
    pub fn import_handover(&self, bundle: Vec<u8>) -> Result<HandoverImport> {
        let summary = self.import_bundle(bundle.clone())?;
        let receipt = guard(|| Ok(caravan_core::handover_receipt(&bundle)))?;
        Ok(HandoverImport {
            receipt: (summary.cases_waiting == 0).then_some(receipt),
            summary,
        })
    }
}
