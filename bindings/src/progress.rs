//! Long calls with progress and cancellation that the first bindings lacked:
//! [`CaravanStore::import_bundle_with_progress`].

use std::sync::Arc;

use crate::error::Result;
use crate::listener::ProgressListener;
use crate::store::{progress_fn, CaravanStore};
use crate::sync::SyncSummary;

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
        let (report, changed) = self.syncing(|s| {
            let mut report = progress_fn(self, &progress);
            Ok(s.import_bundle_with_progress(&bundle, &mut report)?)
        })?;
        Ok(SyncSummary::new(&report, changed))
    }
}
