//! Bundles: a sealed file of changes for a device that is not online at the same time
//! (exported for everyone, or since the last bundle for a named target), and importing
//! one through the receive pipeline.

use super::{Members, SyncReport};
use crate::codec::B32;
use crate::store::index::SyncDelta;
use crate::store::*;

/// Which changes a bundle carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleScope {
    /// Everything this device has: any member can catch up from it alone.
    Everything,
    /// What changed since the last bundle exported for this named target (e.g. a
    /// colleague's name, "usb", "qr"); everything the first time.
    SinceLast(String),
}

impl Store {
    /// Seals a bundle of the changes `scope` asks for.
    pub fn export_bundle(&mut self, scope: BundleScope) -> Result<Vec<u8>> {
        if matches!(scope, BundleScope::SinceLast(_)) {
            // It records the target's new position: a write, refused on a damaged
            // store like every other (an export of everything writes nothing).
            self.check_writable()?;
        }
        let (bytes, deltas) = self.export_bundle_deferred(scope)?;
        if let Some(deltas) = deltas {
            self.write_sync(deltas)?;
        }
        Ok(bytes)
    }

    /// [`Store::export_bundle`] without moving the target's position: the bundle, and
    /// (for [`BundleScope::SinceLast`]) the changes to the position that the export
    /// would make (see `handover.rs`, which writes them once the peer confirmed).
    pub(in crate::store) fn export_bundle_deferred(
        &mut self,
        scope: BundleScope,
    ) -> Result<(Vec<u8>, Option<Vec<SyncDelta>>)> {
        let base = match &scope {
            BundleScope::Everything => None,
            BundleScope::SinceLast(name) => self.index.sync.cursors.get(name).cloned(),
        };
        // Membership: everything, unless this target already got the same records in an
        // earlier bundle; then only the proofs that make this bundle verifiable alone
        // (bundles may arrive in any order, or not at all).
        let meta = B32(self.group()?.records_digest());
        let meta_key = match &scope {
            BundleScope::Everything => None,
            BundleScope::SinceLast(name) => Some(cursor_meta_key(name)),
        };
        let meta_known = meta_key
            .as_ref()
            .and_then(|k| self.index.sync.peer_meta.get(k))
            .is_some_and(|m| *m == meta);
        let members = if meta_known {
            Members::Proofs
        } else {
            Members::All
        };
        let payload = self.payload_since(base.as_ref(), members)?;
        let bytes = self.seal_for_group(&payload, !meta_known)?;
        inputs::check_bundle_size(bytes.len())?;
        if let (BundleScope::SinceLast(name), Some(peer)) = (scope, meta_key) {
            let updates = self.state_updates(base.as_ref());
            let mut deltas = Vec::new();
            if !updates.is_empty() {
                deltas.push(SyncDelta::Cursor {
                    name,
                    updates,
                    replace: false,
                });
            }
            if !meta_known {
                deltas.push(SyncDelta::PeerMeta { peer, meta });
            }
            return Ok((bytes, Some(deltas)));
        }
        Ok((bytes, None))
    }

    /// Imports a bundle: idempotent, in any order, duplicates and gaps tolerated.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<SyncReport> {
        self.import_bundle_from(bytes, None)
            .map(|(report, _)| report)
    }

    /// [`Store::import_bundle`] of the mailbox file `(outbox, number)`: a bundle that
    /// says it is another file (the place or the app's mailbox handed over the wrong
    /// bytes) is refused before anything is stored. Also returns whether the bundle
    /// holds everything its writer had.
    pub(in crate::store) fn import_bundle_from(
        &mut self,
        bytes: &[u8],
        file: Option<(&str, u64)>,
    ) -> Result<(SyncReport, bool)> {
        self.check_writable()?;
        let (sender, payload, via, unopened) = self.open_incoming(bytes)?;
        let mut everything = false;
        if let (Some((outbox, number)), Some(tag)) = (file, &payload.mailbox) {
            if !tag.names(outbox, number) {
                return Err(Error::rejected(format!(
                    "the file {outbox}/{number:010} holds bundle {}/{:010}: the mailbox \
                     handed over another file's bytes; nothing was changed",
                    crate::sync::shown_name(&tag.outbox.chars().take(32).collect::<String>()),
                    tag.number
                )));
            }
            everything = tag.everything;
        }
        let mut report = self.ingest_from(sender, payload, via)?;
        super::note_unopened(&mut report, unopened);
        super::note_waiting(&mut report);
        Ok((report, everything))
    }
}

/// Where the membership digest last exported to the bundle target `name` is kept
/// (beside the peers' digests, which are keyed by device public key).
pub(in crate::store) fn cursor_meta_key(name: &str) -> B32 {
    let digest = crate::crypto::sha256(
        [b"caravan/cursor/".as_slice(), name.as_bytes()]
            .concat()
            .as_slice(),
    );
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    B32(key)
}
