//! A bundle import that reports progress and may be cancelled (the apps' progress
//! listener, a panic wipe): [`Store::import_bundle_with_progress`].

use super::*;

impl Store {
    /// Imports a bundle as [`Store::import_bundle`] does, telling `progress` before it
    /// opens the bundle (0 of 2: decryption and signature checks follow) and before it
    /// applies it (1 of 2: verification, building the cases and the one write follow),
    /// and once it is stored (2 of 2). Returning `false` at 0 or 1 cancels with
    /// [`Error::Cancelled`] and writes nothing (the import is whole or nothing anyway:
    /// everything is checked before the one batch is written); the answer at 2 is
    /// ignored, the import being durable by then.
    pub fn import_bundle_with_progress(
        &mut self,
        bytes: &[u8],
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        self.check_writable()?;
        if !progress(0, 2) {
            return Err(Error::Cancelled);
        }
        let (sender, payload, via, unopened) = self.open_incoming(bytes)?;
        if !progress(1, 2) {
            return Err(Error::Cancelled);
        }
        let mut report = self.ingest_from(sender, payload, via)?;
        sync::note_unopened(&mut report, unopened);
        sync::note_waiting(&mut report);
        progress(2, 2);
        Ok(report)
    }
}
