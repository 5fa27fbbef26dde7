//! The mailbox: store-and-forward sync through a shared place (a USB stick, a synced
//! cloud folder, a WebDAV server, a folder the app reaches through its own API) that
//! only ever holds ciphertext. The place is a [`Mailbox`] (module `transport`); this
//! module is the sync over it, the same for every transport.
//!
//! ```text
//! <mailbox>/<outbox>/<seq>.cvb
//! ```
//!
//! Each device writes only into its own outbox, named
//! `hex(HMAC-SHA256(epoch key, "caravan/outbox/v1" ‖ device public key)[..8])`: opaque
//! to anyone without the group key. Bundles are numbered, written to a temporary name
//! and renamed, so a reader never sees half a file (and would reject one anyway).
//! A sync first reads every other outbox (skipping bundles already imported, by
//! content hash; a bundle whose changes wait for earlier ones is read again next
//! time), then appends one bundle of what changed since this device's previous
//! bundle. When this device has learnt of an erasure since it last wrote, it deletes
//! its own older bundles and writes one fresh bundle of everything, so erased content
//! leaves the folder once every device has synced.

mod transport;
#[cfg(feature = "webdav")]
mod webdav;

use std::path::Path;

pub use self::transport::{FsMailbox, Mailbox};
#[cfg(feature = "webdav")]
pub use self::webdav::WebDavMailbox;

use super::index::SyncDelta;
use super::sync::{cursor_meta_key, Members};
use super::*;
use crate::sync::B32;

/// What a mailbox sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxReport {
    /// Bundles read from other devices' outboxes and imported.
    pub bundles_imported: usize,
    /// Bytes of those bundles.
    pub bytes_read: usize,
    /// Bundles written to this device's outbox (0 or 1).
    pub bundles_written: usize,
    /// Bytes written.
    pub bytes_written: usize,
    /// Older bundles of this device deleted after an erasure.
    pub bundles_removed: usize,
    /// Files that were refused (corrupted, tampered with, not a bundle), by name.
    pub refused: Vec<String>,
    /// What the imports changed.
    pub changes: SyncReport,
}

impl Store {
    /// Syncs through the mailbox directory `dir` (created if missing).
    pub fn sync_mailbox(&mut self, dir: &Path) -> Result<MailboxReport> {
        self.sync_mailbox_with_progress(dir, &mut |_, _| true)
    }

    /// [`Store::sync_mailbox`], telling `progress` before each bundle it reads (`done`
    /// of `total` bundles not imported yet) and once at the end. Returning `false`
    /// cancels with [`Error::Cancelled`] between two bundles: the bundles imported so far
    /// stay imported (each import is durable on its own, and the next sync skips them),
    /// and this device's own bundle is not written.
    pub fn sync_mailbox_with_progress(
        &mut self,
        dir: &Path,
        progress: Progress<'_>,
    ) -> Result<MailboxReport> {
        self.sync_through(&FsMailbox::new(dir), progress)
    }

    /// Syncs through any [`Mailbox`] (a folder, a WebDAV server, a folder the app reaches
    /// through its own API), with `progress` as in [`Store::sync_mailbox_with_progress`].
    ///
    /// Every step is durable on its own: an error from the mailbox (a server gone, a
    /// stick pulled out) stops the sync with the bundles imported so far kept, and the
    /// next sync carries on. Names the mailbox lists that are not `<outbox>/<file>` are
    /// ignored; files it refuses to read (too large, not a file) are reported in
    /// [`MailboxReport::refused`].
    pub fn sync_through(
        &mut self,
        mailbox: &dyn Mailbox,
        progress: Progress<'_>,
    ) -> Result<MailboxReport> {
        self.check_writable()?;
        let key = self.sending_key()?;
        let outbox_name = outbox_name(key.bytes(), &self.device_id().0);
        let mut report = MailboxReport::default();

        // 1. Read the other devices' outboxes.
        let mut files = Vec::new();
        let mut own = Vec::new();
        for path in mailbox.list()? {
            let Some((outbox, name)) = transport::check_path(&path) else {
                continue;
            };
            if !name.ends_with(".cvb") {
                continue;
            }
            if outbox == outbox_name {
                own.push((name.to_owned(), path.clone()));
            } else {
                files.push(path.clone());
            }
        }
        files.sort();
        let total = files.len();
        for (done, path) in files.into_iter().enumerate() {
            if !progress(done, total) {
                return Err(Error::Cancelled);
            }
            // A file over the limit is refused unread, like any other bad file.
            let bytes = match mailbox.read(&path, inputs::MAX_BUNDLE_FILE) {
                Ok(bytes) => bytes,
                Err(e @ Error::Rejected { .. }) => {
                    report.refused.push(format!("{path}: {e}"));
                    continue;
                }
                // Listed, then removed by its writer before it was read (an outbox
                // pruned while this device synced): nothing to read, and the next
                // listing no longer names it. It does not stop the sync (F8 of the
                // round-3 mailbox red team).
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let digest = crate::crypto::sha256(&bytes);
            let mut hash = [0u8; 32];
            hash.copy_from_slice(digest.as_ref());
            if self.index.sync.seen.contains(&B32(hash)) {
                continue;
            }
            match self.import_bundle(&bytes) {
                Ok(r) => {
                    report.bundles_imported += 1;
                    report.bytes_read += bytes.len();
                    if r.cases_waiting == 0 {
                        self.write_sync(vec![SyncDelta::Seen { bundle: B32(hash) }])?;
                    }
                    report.changes += &r;
                }
                Err(Error::NotForThisDevice) => {}
                Err(e @ (Error::Rejected { .. } | Error::UnsupportedMessage { .. })) => {
                    report.refused.push(format!("{path}: {e}"));
                }
                Err(e) => return Err(e),
            }
        }

        if !progress(total, total) {
            return Err(Error::Cancelled);
        }

        // 2. Write what changed since our previous bundle (everything after an erasure).
        // Each place (folder, server, the app's mailbox) has its own position: what
        // went to a USB stick has not reached the team's server (red team round 3 F3).
        // A place this device never wrote to under its own position gets everything.
        let cursor_name = place_cursor(&mailbox.place());
        let tombstones = self.index.tombstones.len();
        let rewrite = tombstones
            > self
                .index
                .sync
                .outbox_tombstones_at
                .get(&cursor_name)
                .copied()
                .unwrap_or(0);
        own.sort();
        let next = match own.iter().filter_map(|(name, _)| own_number(name)).max() {
            None => 1,
            Some(n) if n < LAST_NUMBER => n + 1,
            Some(_) => {
                return Err(Error::invalid(
                    "mailbox",
                    "this device's outbox holds a file numbered 9999999999, which it never \
                     wrote and cannot follow; remove that file from the mailbox and sync again",
                ))
            }
        };
        // No bundle of this device's own left at this place (a new stick at the same
        // path, a folder emptied on the server): whatever it wrote there before is
        // gone, so it writes everything again (red team round 3, F3 variation).
        let emptied = own.is_empty();
        let cursor = if rewrite || emptied {
            None
        } else {
            self.index.sync.cursors.get(&cursor_name).cloned()
        };
        let meta = self.group()?.records_digest();
        // Membership records last written to this place, tracked like a peer's.
        let meta_key = cursor_meta_key(&cursor_name);
        let meta_changed = self
            .index
            .sync
            .peer_meta
            .get(&meta_key)
            .is_none_or(|m| emptied || m.0 != meta);
        let updates = self.state_updates(cursor.as_ref());
        if rewrite || meta_changed || !updates.is_empty() {
            // Readers may pick bundles up in any order: each carries at least the proofs
            // of membership of its sender and authors, and the full records when they
            // changed since the last bundle written here.
            let members = if rewrite || meta_changed {
                Members::All
            } else {
                Members::Proofs
            };
            let payload = self.payload_since(cursor.as_ref(), members)?;
            let bytes = self.seal_for_group(&payload, rewrite || meta_changed)?;
            inputs::check_bundle_size(bytes.len())?;
            mailbox.write(&format!("{outbox_name}/{next:010}.cvb"), &bytes)?;
            report.bundles_written = 1;
            report.bytes_written = bytes.len();
            if rewrite {
                for (_, old) in own {
                    mailbox.remove(&old)?;
                    report.bundles_removed += 1;
                }
            }
            self.write_sync(vec![
                SyncDelta::Cursor {
                    name: cursor_name.clone(),
                    updates,
                    replace: rewrite || emptied,
                },
                SyncDelta::OutboxTombstonesAt {
                    name: cursor_name,
                    count: tombstones,
                },
                SyncDelta::PeerMeta {
                    peer: meta_key,
                    meta: B32(meta),
                },
            ])?;
        }
        Ok(report)
    }
}

/// The name of a device's outbox: `hex(HMAC-SHA256(epoch key, "caravan/outbox/v1" ‖
/// device public key)[..8])` (docs/protocol.md, section 15).
pub(crate) fn outbox_name(epoch_key: &[u8; 32], device: &[u8; 32]) -> String {
    let tag = crate::crypto::hmac_sha256(
        epoch_key,
        &[b"caravan/outbox/v1".as_slice(), device].concat(),
    );
    crate::model::hex_encode(&tag[..8])
}

/// The highest number a bundle of this device's outbox can carry (ten digits).
const LAST_NUMBER: u64 = 9_999_999_999;

/// The number of a bundle this device wrote into its outbox (`NNNNNNNNNN.cvb`, exactly
/// ten ASCII digits), or `None` for any other name: a name planted by whoever can
/// write the mailbox (more digits, other digits, a sign) is never taken for one, so it
/// can neither overflow the sequence nor make it start again at a used number (red
/// team round 3 F1).
fn own_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".cvb")?;
    if stem.len() != 10 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The name of a mailbox place's position among the export cursors: `mailbox ` and the
/// first 16 bytes of SHA-256 of the place, in hex (the place itself, a path or a URL,
/// is not kept in the index).
fn place_cursor(place: &str) -> String {
    let digest = crate::crypto::sha256(place.as_bytes());
    format!(
        "mailbox {}",
        crate::model::hex_encode(&digest.as_ref()[..16])
    )
}
