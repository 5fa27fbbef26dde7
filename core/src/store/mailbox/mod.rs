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
//!
//! Retention (protocol section 15.2, decision 0032): after its bundle, a device writes
//! a sealed, signed read receipt (`<outbox>/<seq>.cvr`) saying how far it has read
//! every other outbox, and deletes its own bundles that every active member's receipt
//! covers (never its newest). A member whose receipt carries a generation not served
//! yet (a newcomer, a restored device) gets a bundle of everything. Listings and
//! reads are bounded ([`MAX_OUTBOXES`], [`MAX_FILES_PER_OUTBOX`],
//! [`MAX_READS_PER_OUTBOX`]).

mod retention;
mod transport;
#[cfg(feature = "webdav")]
mod webdav;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use self::transport::{FsMailbox, Mailbox};
#[cfg(feature = "webdav")]
pub use self::webdav::WebDavMailbox;

use super::index::SyncDelta;
use super::sync::{cursor_meta_key, Members};
use super::*;
use crate::codec::B32;
use retention::Receipt;

/// At most this many outboxes in one mailbox (red team round 3, F10): a listing with
/// more stops the sync with a typed error before anything is read. With retention
/// (section 15.2) an outbox holds a few files, and a team has far fewer devices.
pub const MAX_OUTBOXES: usize = 1024;

/// At most this many files listed in one outbox (the folder and WebDAV mailboxes stop
/// listing past it with a typed error, so a flooded outbox cannot exhaust memory).
pub const MAX_FILES_PER_OUTBOX: usize = 4096;

/// At most this many bundles read from one outbox in one sync, lowest numbers first;
/// the rest wait for the next sync ([`MailboxReport::deferred`]). Bundles a device's
/// own last receipt says it imported are not read again.
pub const MAX_READS_PER_OUTBOX: usize = 256;

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
    /// Bundles left unread this time because their outbox had more than
    /// [`MAX_READS_PER_OUTBOX`] new ones: the next sync reads on.
    pub deferred: usize,
    /// This device's own bundles deleted because every active member has read them
    /// (retention, protocol section 15.2).
    pub bundles_pruned: usize,
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
    /// and this device's own bundle is not written. [`Store::sync_through_into`] with an
    /// [`FsMailbox`] also tells what a cancelled sync imported.
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
    /// [`MailboxReport::refused`]. A sync that stops early (cancelled, or an error)
    /// returns only the error: [`Store::sync_through_into`] also tells what it did
    /// before it stopped.
    pub fn sync_through(
        &mut self,
        mailbox: &dyn Mailbox,
        progress: Progress<'_>,
    ) -> Result<MailboxReport> {
        let mut report = MailboxReport::default();
        self.sync_through_into(mailbox, progress, &mut report)?;
        Ok(report)
    }

    /// [`Store::sync_through`], writing what it does into `report` as it goes (`report`
    /// is added to: pass a fresh one). When the sync stops early, with
    /// [`Error::Cancelled`] between two bundles or any other error, `report` still says
    /// what was done before: the bundles imported (durable, each on its own) and, in
    /// [`MailboxReport::changes`], the cases they changed
    /// ([`SyncReport::changed`]) and whether the team changed, so that an app can
    /// redraw them before it shows the error. The same holds for a sync that
    /// completes, as with `Ok(())`.
    pub fn sync_through_into(
        &mut self,
        mailbox: &dyn Mailbox,
        progress: Progress<'_>,
        report: &mut MailboxReport,
    ) -> Result<()> {
        self.check_writable()?;
        let key = self.sending_key()?;
        let own_outbox = outbox_name(key.bytes(), &self.team().device_id().0);
        let outbox_name = own_outbox.as_str();
        let cursor_name = place_cursor(&mailbox.place());

        // 0. The listing: bundles and receipts, per outbox (F10: bounded).
        let listing = Listing::of(mailbox.list()?, outbox_name)?;
        // This device's own last receipt here, if it is the one its index says it
        // wrote (otherwise the index is older than the outbox: restored from a copy).
        let mine = self.own_receipt(mailbox, &listing, &cursor_name, &key);

        // 1. Read the other devices' outboxes, lowest numbers first, at most
        // MAX_READS_PER_OUTBOX new ones each; skip what our own receipt says we read.
        let mut files = Vec::new();
        for (outbox, bundles) in &listing.others {
            let skip = trusted(mine.as_ref(), outbox, bundles);
            let mut taken = 0;
            for (number, path) in bundles {
                if number.is_some_and(|n| n <= skip) {
                    continue;
                }
                if taken == MAX_READS_PER_OUTBOX {
                    report.deferred += 1;
                    continue;
                }
                taken += 1;
                files.push(path.clone());
            }
        }
        files.sort();
        let mut done: BTreeSet<String> = BTreeSet::new();
        // Bundles imported in full that say they hold everything their writer had.
        let mut everything_read: BTreeSet<String> = BTreeSet::new();
        let total = files.len();
        for (done_count, path) in files.into_iter().enumerate() {
            if !progress(done_count, total) {
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
            let file = transport::check_path(&path)
                .and_then(|(outbox, name)| Some((outbox.to_owned(), own_number(name)?)));
            if self.index.sync.seen.contains(&B32(hash)) {
                // Imported before (above the claim: a gap stopped it): whether it holds
                // everything is read again from the bundle itself, not remembered.
                let tag = self
                    .open_incoming(&bytes)
                    .ok()
                    .and_then(|(_, payload, _, _)| payload.mailbox);
                match tag {
                    // Another file's bytes under this name: not read, not credited.
                    Some(t) if !file.as_ref().is_some_and(|(o, n)| t.names(o, *n)) => {
                        report.refused.push(format!(
                            "{path}: the mailbox handed over another file's bytes under this \
                             name; not counted as read"
                        ));
                    }
                    Some(t) => {
                        if t.everything {
                            everything_read.insert(path.clone());
                        }
                        done.insert(path);
                    }
                    None => {
                        done.insert(path);
                    }
                }
                continue;
            }
            let imported = self.import_bundle_from(
                &bytes,
                file.as_ref().map(|(outbox, n)| (outbox.as_str(), *n)),
            );
            match imported {
                Ok((r, holds_everything)) => {
                    report.bundles_imported += 1;
                    report.bytes_read += bytes.len();
                    if r.cases_waiting == 0 {
                        self.write_sync(vec![SyncDelta::Seen { bundle: B32(hash) }])?;
                        if holds_everything {
                            everything_read.insert(path.clone());
                        }
                        done.insert(path);
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

        // The other members' receipts (section 15.2): who needs a bundle of everything
        // (a generation not served yet), and how far every one has read this outbox.
        let members = self.receipt_holders()?;
        let own_top = listing
            .own
            .iter()
            .filter_map(|(name, _)| own_number(name))
            .max()
            .unwrap_or(0);
        let mut floor = u64::MAX;
        let mut unserved = Vec::new();
        for member in &members {
            let theirs = self::outbox_name(key.bytes(), member);
            let receipt = listing
                .receipts
                .get(&theirs)
                .and_then(|r| r.last())
                .and_then(|(_, path)| mailbox.read(path, retention::MAX_RECEIPT_FILE).ok())
                .and_then(|bytes| Receipt::open(&bytes, &key))
                .filter(|r| r.device == *member);
            match receipt {
                // No receipt, or one that does not open or verify: holds everything.
                None => floor = 0,
                Some(r) => {
                    // A claim past our highest bundle here is stale: our outbox was
                    // emptied and numbers again from 1 (it holds nothing back).
                    let read = r.read_in(outbox_name);
                    floor = floor.min(if read > own_top { 0 } else { read });
                    let served = served_key(&cursor_name, member);
                    if self.index.sync.peer_meta.get(&served) != Some(&generation_b32(r.generation))
                    {
                        unserved.push((served, generation_b32(r.generation)));
                    }
                }
            }
        }

        // 2. Write what changed since our previous bundle (everything after an erasure).
        // Each place (folder, server, the app's mailbox) has its own position: what
        // went to a USB stick has not reached the team's server (red team round 3 F3).
        // A place this device never wrote to under its own position gets everything.
        let tombstones = self.index.tombstones.len();
        let rewrite = tombstones
            > self
                .index
                .sync
                .outbox_tombstones_at
                .get(&cursor_name)
                .copied()
                .unwrap_or(0);
        let mut own = listing.own.clone();
        own.sort();
        // A bundle of ours that every reader is stuck below and that does not open
        // (damaged at the place) is removed and everything written again (red team
        // round 6, M1); readers skip the gap it leaves.
        let damaged = self.damaged_own_bundle(mailbox, &own, floor, own_top)?;
        if let Some(damaged) = &damaged {
            mailbox.remove(damaged)?;
            own.retain(|(_, path)| path != damaged);
            report.refused.push(format!(
                "{damaged}: this device's own bundle no longer opens (damaged at the \
                 mailbox); removed, and everything written again"
            ));
        }
        let numbers: Vec<u64> = own
            .iter()
            .filter_map(|(name, _)| own_number(name))
            .collect();
        let highest = numbers.iter().copied().max();
        // The newest bundle this device wrote here, as its index recorded it. Numbers
        // are never used twice at a place (red team round 6, H1): a reader's receipt
        // would skip a reused number, and this device would prune it.
        let newest_key = place_key(&cursor_name, "newest");
        let recorded = self
            .index
            .sync
            .peer_meta
            .get(&newest_key)
            .and_then(own_number_of);
        // Lost at the place: the newest bundle this device wrote is gone, or one between
        // its lowest and newest listed ones (retention only removes the lowest). Those
        // who had not read it get everything again (red team round 6, H1, M2).
        let lost = damaged.is_some()
            || recorded.is_some_and(|r| !numbers.contains(&r))
            || numbers.windows(2).any(|w| w[1] != w[0] + 1);
        let next = match highest.max(recorded) {
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
        // gone, so it writes everything again (red team round 3, F3 variation). A
        // member whose receipt carries a generation not served yet (a newcomer, a
        // device restored from a copy) gets everything too (section 15.2), unless
        // this device's last bundle of everything here is still in its outbox: then
        // that bundle and the ones after it already hold everything.
        let emptied = own.is_empty();
        let everything_key = place_key(&cursor_name, "everything");
        let complete = self
            .index
            .sync
            .peer_meta
            .get(&everything_key)
            .and_then(own_number_of)
            .is_some_and(|n| own.iter().any(|(name, _)| own_number(name) == Some(n)));
        let serve = !unserved.is_empty() && !complete;
        let epoch_everything_key = place_key(&cursor_name, &format!("everything/{}", key.epoch));
        let epoch_everything = self
            .index
            .sync
            .peer_meta
            .get(&epoch_everything_key)
            .and_then(own_number_of)
            .filter(|n| {
                own.iter()
                    .any(|(name, _)| own_number(name).is_some_and(|o| o >= *n))
            });
        let everything = rewrite || emptied || serve || lost;
        let cursor = if everything {
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
        let mut newest = highest;
        if everything || meta_changed || !updates.is_empty() {
            // Readers may pick bundles up in any order: each carries at least the proofs
            // of membership of its sender and authors, and the full records when they
            // changed since the last bundle written here.
            let members = if everything || meta_changed {
                Members::All
            } else {
                Members::Proofs
            };
            let mut payload = self.payload_since(cursor.as_ref(), members)?;
            payload.mailbox = Some(crate::sync::MailboxTag {
                outbox: outbox_name.to_owned(),
                number: next,
                everything,
            });
            let bytes = self.seal_for_group(&payload, everything || meta_changed)?;
            inputs::check_bundle_size(bytes.len())?;
            mailbox.write(&format!("{outbox_name}/{next:010}.cvb"), &bytes)?;
            newest = Some(next);
            report.bundles_written = 1;
            report.bytes_written = bytes.len();
            if rewrite {
                for (_, old) in &own {
                    mailbox.remove(old)?;
                    report.bundles_removed += 1;
                }
            }
            let mut deltas = vec![
                SyncDelta::PeerMeta {
                    peer: newest_key,
                    meta: number_b32(next),
                },
                SyncDelta::Cursor {
                    name: cursor_name.clone(),
                    updates,
                    replace: everything,
                },
                SyncDelta::OutboxTombstonesAt {
                    name: cursor_name.clone(),
                    count: tombstones,
                },
                SyncDelta::PeerMeta {
                    peer: meta_key,
                    meta: B32(meta),
                },
            ];
            if everything {
                deltas.push(SyncDelta::PeerMeta {
                    peer: everything_key,
                    meta: number_b32(next),
                });
                // The first bundle of everything in this epoch's outbox: once every
                // member has read past it, the outboxes of earlier epochs can go (5.).
                if epoch_everything.is_none() {
                    deltas.push(SyncDelta::PeerMeta {
                        peer: epoch_everything_key,
                        meta: number_b32(next),
                    });
                }
            }
            deltas.extend(
                unserved
                    .drain(..)
                    .map(|(peer, meta)| SyncDelta::PeerMeta { peer, meta }),
            );
            self.write_sync(deltas)?;
        }
        if !unserved.is_empty() {
            // Served by the bundles already here.
            self.write_sync(
                unserved
                    .into_iter()
                    .map(|(peer, meta)| SyncDelta::PeerMeta { peer, meta })
                    .collect(),
            )?;
        }

        // 3. Our receipt: how far we have read every other outbox (only what was
        // imported with nothing waiting, in number order, counts).
        self.write_receipt(
            mailbox,
            &listing,
            mine,
            (&done, &everything_read),
            &cursor_name,
            &key,
            outbox_name,
        )?;

        // 4. Retention: our bundles every active member has read go, but never our
        // newest (the numbering goes on from it). A rewrite removed them already.
        if !rewrite {
            let keep_from = newest.unwrap_or(0);
            for (name, path) in &own {
                if own_number(name).is_some_and(|n| n <= floor && n < keep_from) {
                    mailbox.remove(path)?;
                    report.bundles_pruned += 1;
                }
            }
        }

        // 5. Outboxes of earlier epochs (section 15.2): after a rotation this device
        // writes into a new outbox, whose first bundle holds everything. Once every
        // active member has read past that bundle, the outboxes it wrote under earlier
        // keys hold nothing anyone needs (a member still without the new key has no
        // receipt under it, and holds them back).
        if epoch_everything.is_some_and(|n| floor >= n) {
            let me = self.team().device_id().0;
            for old in self.group()?.all_keys() {
                if old.epoch == key.epoch {
                    continue;
                }
                let name = self::outbox_name(old.bytes(), &me);
                for (_, path) in listing.others.get(&name).into_iter().flatten() {
                    mailbox.remove(path)?;
                    report.bundles_pruned += 1;
                }
                for (_, path) in listing.receipts.get(&name).into_iter().flatten() {
                    mailbox.remove(path)?;
                }
            }
        }
        Ok(())
    }

    /// The bundle of ours just above `floor` (what the member furthest behind needs
    /// next), when a member is at least two bundles behind and that bundle no longer
    /// opens or verifies here: damaged at the place, so no member can read past it.
    /// Reading it back costs one bounded read, only while someone lags.
    fn damaged_own_bundle(
        &mut self,
        mailbox: &dyn Mailbox,
        own: &[(String, String)],
        floor: u64,
        newest: u64,
    ) -> Result<Option<String>> {
        let Some(next) = floor.checked_add(1).filter(|n| *n < newest) else {
            return Ok(None);
        };
        let Some((_, path)) = own.iter().find(|(name, _)| own_number(name) == Some(next)) else {
            return Ok(None);
        };
        let bytes = match mailbox.read(path, inputs::MAX_BUNDLE_FILE) {
            Ok(bytes) => bytes,
            Err(Error::Rejected { .. }) => return Ok(Some(path.clone())),
            Err(_) => return Ok(None),
        };
        let outbox = transport::check_path(path).map_or("", |(outbox, _)| outbox);
        match self.import_bundle_from(&bytes, Some((outbox, next))) {
            Err(Error::Rejected { .. } | Error::UnsupportedMessage { .. }) => {
                Ok(Some(path.clone()))
            }
            _ => Ok(None),
        }
    }

    /// The members whose receipts hold this device's outbox back: every active
    /// member but this device, partners (they hold no group key and never read the
    /// mailbox) and devices waiting to be admitted. Revoked devices hold nothing back.
    fn receipt_holders(&self) -> Result<Vec<[u8; 32]>> {
        let view = self.group()?.view();
        let me = self.team().device_id();
        Ok(view
            .members
            .iter()
            .filter(|(d, m)| {
                m.active
                    && **d != me
                    && m.role != crate::sync::Role::Partner
                    && !view.pending.contains_key(d)
            })
            .map(|(d, _)| d.0)
            .collect())
    }

    /// This device's newest receipt at this place, if it opens and is the one its
    /// index recorded writing there.
    fn own_receipt(
        &self,
        mailbox: &dyn Mailbox,
        listing: &Listing,
        cursor_name: &str,
        key: &crate::sync::envelope::EpochKey,
    ) -> Option<Receipt> {
        let (_, path) = listing.own_receipts.last()?;
        let bytes = mailbox.read(path, retention::MAX_RECEIPT_FILE).ok()?;
        let recorded = self
            .index
            .sync
            .peer_meta
            .get(&place_key(cursor_name, "receipt"))?;
        if recorded.0 != crate::crypto::sha256(&bytes) {
            return None;
        }
        Receipt::open(&bytes, key).filter(|r| r.device == self.team().device_id().0)
    }

    /// Writes this device's receipt when it says something new, then removes its
    /// older receipts. A device whose index is older than its own last receipt at
    /// this place (restored from a copy) takes a new generation, so every member
    /// writes it a bundle of everything.
    #[allow(clippy::too_many_arguments)]
    fn write_receipt(
        &mut self,
        mailbox: &dyn Mailbox,
        listing: &Listing,
        mine: Option<Receipt>,
        (done, everything_read): (&BTreeSet<String>, &BTreeSet<String>),
        cursor_name: &str,
        key: &crate::sync::envelope::EpochKey,
        outbox_name: &str,
    ) -> Result<()> {
        let (others, own_receipts) = (&listing.others, &listing.own_receipts);
        let gen_key = place_key(cursor_name, "generation");
        let generation = match (&mine, self.index.sync.peer_meta.get(&gen_key)) {
            (Some(r), _) => r.generation,
            // Receipts of ours are there but not the one we recorded: restored.
            (None, Some(g)) if own_receipts.is_empty() => g.0[..16].try_into().unwrap_or([0; 16]),
            _ => crate::crypto::random_array::<16>()?,
        };
        let mut read = Vec::new();
        for (outbox, bundles) in others {
            let Some(tag) = retention::tag(outbox) else {
                continue;
            };
            // Consecutive numbers only (red team round 6, B-F1): a number missing from
            // the listing may still be on its way (a folder synced by a third-party
            // client delivers files in any order), so the claim stops before it,
            // unless a bundle past it holds everything its writer had.
            let mut upto = trusted(mine.as_ref(), outbox, bundles);
            let mut gap = false;
            for (number, path) in bundles {
                let Some(n) = number else { continue };
                if *n <= upto {
                    continue;
                }
                if !done.contains(path) {
                    gap = true;
                } else if everything_read.contains(path) {
                    upto = *n;
                    gap = false;
                } else if !gap && *n == upto + 1 {
                    upto = *n;
                } else {
                    gap = true;
                }
            }
            if upto > 0 {
                read.push((tag, upto));
            }
        }
        read.sort();
        read.truncate(MAX_OUTBOXES);
        let receipt = Receipt {
            device: self.team().device_id().0,
            generation,
            read,
        };
        if mine.as_ref() == Some(&receipt) {
            return Ok(());
        }
        let next = own_receipts.last().map_or(1, |(n, _)| n + 1);
        if next > LAST_NUMBER {
            // A planted 9999999999.cvr: no receipt, so this device holds the others
            // back, which is safe.
            return Ok(());
        }
        let bytes = receipt.seal(&self.identity, key)?;
        mailbox.write(&format!("{outbox_name}/{next:010}.cvr"), &bytes)?;
        self.write_sync(vec![
            SyncDelta::PeerMeta {
                peer: place_key(cursor_name, "receipt"),
                meta: B32(crate::crypto::sha256(&bytes)),
            },
            SyncDelta::PeerMeta {
                peer: gen_key,
                meta: generation_b32(generation),
            },
        ])?;
        for (_, old) in own_receipts {
            mailbox.remove(old)?;
        }
        Ok(())
    }
}

/// How far this device's own trusted receipt says it read `outbox`, or 0 when it
/// claims more than the outbox's highest listed bundle: that outbox was emptied and
/// numbers again from 1, so its new bundles must not be skipped.
fn trusted(mine: Option<&Receipt>, outbox: &str, bundles: &[(Option<u64>, String)]) -> u64 {
    let claimed = mine.map_or(0, |r| r.read_in(outbox));
    let top = bundles.iter().filter_map(|(n, _)| *n).max().unwrap_or(0);
    if claimed > top {
        0
    } else {
        claimed
    }
}

/// The listing of a mailbox, sorted out: this device's bundles and receipts, and
/// every other outbox's bundles (numbered when exactly ten digits) and receipts.
struct Listing {
    own: Vec<(String, String)>,
    own_receipts: Vec<(u64, String)>,
    others: BTreeMap<String, Vec<(Option<u64>, String)>>,
    receipts: BTreeMap<String, Vec<(u64, String)>>,
}

impl Listing {
    /// Sorts `paths` out; more than [`MAX_OUTBOXES`] outboxes, or more than
    /// [`MAX_FILES_PER_OUTBOX`] files in one, is a typed error.
    fn of(paths: Vec<String>, outbox_name: &str) -> Result<Listing> {
        let mut l = Listing {
            own: Vec::new(),
            own_receipts: Vec::new(),
            others: BTreeMap::new(),
            receipts: BTreeMap::new(),
        };
        let mut outboxes: BTreeMap<String, usize> = BTreeMap::new();
        for path in &paths {
            let Some((outbox, name)) = transport::check_path(path) else {
                continue;
            };
            let count = match outboxes.get_mut(outbox) {
                Some(count) => count,
                None => {
                    if outboxes.len() == MAX_OUTBOXES {
                        return Err(too_many_outboxes());
                    }
                    outboxes.entry(outbox.to_owned()).or_insert(0)
                }
            };
            *count += 1;
            if *count > MAX_FILES_PER_OUTBOX {
                return Err(too_many_files());
            }
            if let Some(n) = receipt_number(name) {
                if outbox == outbox_name {
                    l.own_receipts.push((n, path.clone()));
                } else {
                    l.receipts
                        .entry(outbox.to_owned())
                        .or_default()
                        .push((n, path.clone()));
                }
            } else if !name.ends_with(".cvb") {
                continue;
            } else if outbox == outbox_name {
                l.own.push((name.to_owned(), path.clone()));
            } else {
                l.others
                    .entry(outbox.to_owned())
                    .or_default()
                    .push((own_number(name), path.clone()));
            }
        }
        l.own_receipts.sort();
        for r in l.receipts.values_mut() {
            r.sort();
        }
        for b in l.others.values_mut() {
            // Numbered bundles in number order, then any other names.
            b.sort_by(|x, y| (x.0.is_none(), x.0, &x.1).cmp(&(y.0.is_none(), y.0, &y.1)));
        }
        Ok(l)
    }
}

/// The typed error for a listing of more than [`MAX_OUTBOXES`] outboxes.
pub(crate) fn too_many_outboxes() -> Error {
    Error::invalid(
        "mailbox",
        format!(
            "the mailbox holds more than {MAX_OUTBOXES} outboxes, more than any team has \
             devices; nothing was read (remove the folders that are not the team's)"
        ),
    )
}

/// The typed error for an outbox listing more than [`MAX_FILES_PER_OUTBOX`] files.
pub(crate) fn too_many_files() -> Error {
    Error::invalid(
        "mailbox",
        format!(
            "an outbox in the mailbox holds more than {MAX_FILES_PER_OUTBOX} files; nothing \
             was read (a member who never syncs holds old bundles back: revoke a lost \
             device, or remove files that are not the team's)"
        ),
    )
}

/// The number of a receipt (`NNNNNNNNNN.cvr`, exactly ten ASCII digits).
fn receipt_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".cvr")?;
    if stem.len() != 10 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A key of the index's per-peer records for something this device keeps per place.
fn place_key(cursor_name: &str, what: &str) -> B32 {
    cursor_meta_key(&format!("{cursor_name} {what}"))
}

/// The key recording which generation of `member`'s receipts this device served at
/// a place (wrote a bundle of everything for).
fn served_key(cursor_name: &str, member: &[u8; 32]) -> B32 {
    place_key(
        cursor_name,
        &format!("served {}", crate::codec::hex_encode(member)),
    )
}

/// A bundle number as an index record (u64 BE, zero-padded).
fn number_b32(n: u64) -> B32 {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_be_bytes());
    B32(out)
}

/// The bundle number of [`number_b32`].
fn own_number_of(b: &B32) -> Option<u64> {
    Some(u64::from_be_bytes(b.0[..8].try_into().ok()?))
}

/// A generation as an index record (zero-padded).
fn generation_b32(generation: [u8; 16]) -> B32 {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&generation);
    B32(out)
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod retention_tests;

/// The name of a device's outbox: `hex(HMAC-SHA256(epoch key, "caravan/outbox/v1" ‖
/// device public key)[..8])` (docs/protocol.md, section 15).
pub(crate) fn outbox_name(epoch_key: &[u8; 32], device: &[u8; 32]) -> String {
    let tag = crate::crypto::hmac_sha256(
        epoch_key,
        &[b"caravan/outbox/v1".as_slice(), device].concat(),
    );
    crate::codec::hex_encode(&tag[..8])
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
        crate::codec::hex_encode(&digest.as_ref()[..16])
    )
}
