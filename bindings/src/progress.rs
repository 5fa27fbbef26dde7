//! Long calls with progress and cancellation that the first bindings lacked:
//! [`CaravanStore::import_bundle_with_progress`], and the `*_with_progress` variants of
//! the live receive, the QR import and the exports (bundle, QR frames, partner share).
//!
//! Every variant takes the same [`ProgressListener`] with the same meaning: `false` or
//! a throw cancels with `Cancelled`, and a cancelled call leaves the store exactly as
//! it was (byte for byte: the cancel points all come before the first write).

use std::sync::Arc;

use caravan_core::sync::qr;
use caravan_core::Store;

use crate::error::{CaravanError, Result};
use crate::handover::HandoverImport;
use crate::listener::ProgressListener;
use crate::store::{hex_ids, progress_fn, CaravanStore, Synced};
use crate::sync::{core_scope, BundleScope, LiveSync, SyncSummary};

/// Runs a one-step call `f` as two phases: `progress` is told `(0, 1)` before `f`
/// (where it may cancel: nothing was done yet) and `(1, 1)` once `f` is done (the
/// answer is then ignored: the call is complete, and durable if it wrote anything).
pub(crate) fn phased<T>(
    owner: &CaravanStore,
    store: &mut Store,
    progress: &Option<Arc<dyn ProgressListener>>,
    f: impl FnOnce(&mut Store) -> Result<T>,
) -> Result<T> {
    let mut report = progress_fn(owner, progress);
    if !report(0, 1) {
        return Err(CaravanError::Cancelled);
    }
    let value = f(store)?;
    report(1, 1);
    Ok(value)
}

#[uniffi::export]
impl CaravanStore {
    /// [`CaravanStore::import_bundle`] with progress and cancellation: `progress` is told
    /// `(0, 2)` before the bundle is opened, `(1, 2)` before it is applied and `(2, 2)`
    /// once it is stored. Returning `false` (or throwing) at 0 or 1 cancels with
    /// `Cancelled`, and the store is left exactly as it was; a panic wipe cancels too.
    /// The change listener is told which cases changed.
    pub fn import_bundle_with_progress(
        &self,
        bundle: Vec<u8>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<SyncSummary> {
        let report = self.syncing(|s| {
            let mut report = progress_fn(self, &progress);
            Synced::of(
                s.import_bundle_with_progress(&bundle, &mut report)
                    .map_err(Into::into),
                |r| r,
            )
        })?;
        Ok(SyncSummary::new(&report, hex_ids(&report.changed)))
    }

    /// [`CaravanStore::import_handover`] with progress and cancellation, as
    /// [`CaravanStore::import_bundle_with_progress`]: `(0, 2)`, `(1, 2)`, `(2, 2)`; a
    /// cancel at 0 or 1 leaves the store exactly as it was and gives no receipt.
    pub fn import_handover_with_progress(
        &self,
        bundle: Vec<u8>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<HandoverImport> {
        let (report, receipt) = self.syncing(|s| {
            let mut report = progress_fn(self, &progress);
            Synced::of(
                s.import_handover_with_progress(&bundle, &mut report)
                    .map_err(Into::into),
                |(r, _)| r,
            )
        })?;
        Ok(HandoverImport {
            summary: SyncSummary::new(&report, hex_ids(&report.changed)),
            receipt,
        })
    }

    /// [`CaravanStore::live_receive`] with progress and cancellation: `progress` is told
    /// `(0, 1)` before the message is opened and applied, and `(1, 1)` once its changes
    /// are stored. Cancelling at 0 (`false` or a throw) fails with `Cancelled` and leaves
    /// the store and the session exactly as they were: the same message may be fed
    /// again later. The answer at 1 is ignored (the changes are durable by then).
    pub fn live_receive_with_progress(
        &self,
        session: Arc<LiveSync>,
        message: Vec<u8>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Option<Vec<u8>>> {
        self.syncing(|s| {
            let mut report = progress_fn(self, &progress);
            if !report(0, 1) {
                return Synced::unchanged(Err(CaravanError::Cancelled));
            }
            let received = session.receive(s, &message);
            if received.value.is_ok() {
                report(1, 1);
            }
            received
        })
    }

    /// [`CaravanStore::export_bundle`] with progress and cancellation: `(0, 1)` before
    /// the bundle is built (cancelling there leaves the store, and so a `SinceLast`
    /// position, exactly as it was) and `(1, 1)` once it is sealed.
    pub fn export_bundle_with_progress(
        &self,
        scope: BundleScope,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<u8>> {
        self.with(|s| {
            phased(self, s, &progress, |s| {
                Ok(s.export_bundle(core_scope(scope))?)
            })
        })
    }

    /// [`CaravanStore::export_bundle_frames`] with progress and cancellation, as
    /// [`CaravanStore::export_bundle_with_progress`].
    pub fn export_bundle_frames_with_progress(
        &self,
        scope: BundleScope,
        max_frame: u32,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<Vec<u8>>> {
        self.with(|s| {
            phased(self, s, &progress, |s| {
                let bundle = s.export_bundle(core_scope(scope))?;
                Ok(qr::split(&bundle, max_frame as usize)?)
            })
        })
    }

    /// [`CaravanStore::handover_frames`] (the QR showing for `peer`) with progress and
    /// cancellation: `(0, 1)` before the bundle is built (cancelling there leaves the
    /// store exactly as it was and remembers no showing) and `(1, 1)` once it is cut.
    pub fn handover_frames_with_progress(
        &self,
        peer: String,
        max_frame: u32,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<Vec<u8>>> {
        self.handover_frames_of(peer, max_frame, false, &progress)
    }

    /// [`CaravanStore::export_share`] with progress and cancellation: `(0, 1)` before
    /// the share bundle is built (cancelling there leaves the store and the agreement's
    /// position exactly as they were) and `(1, 1)` once it is sealed.
    pub fn export_share_with_progress(
        &self,
        agreement_id: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<u8>> {
        self.with(|s| {
            phased(self, s, &progress, |s| {
                Ok(s.partners_mut().export_share(&agreement_id)?)
            })
        })
    }
}
