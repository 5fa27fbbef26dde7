//! Hand-overs whose position moves only when the peer confirms: QR codes shown from
//! one phone to another, where nothing tells the sender whether the other phone scanned
//! every frame.
//!
//! [`Store::export_bundle`] with [`BundleScope::SinceLast`] moves the target's position
//! when it exports: the next bundle for that target carries only what changed since.
//! For a QR showing that is data loss waiting to happen: a showing cut short, or two
//! phones served under one name, and the cases never reach a phone. Here the export
//! ([`Store::export_handover`]) leaves the position where it is and returns a
//! [`Handover`]; the receiving phone, once it imported the whole bundle, shows back a
//! short receipt ([`handover_receipt`], a small QR code), and only
//! [`Store::confirm_handover`] with that receipt moves the position. Until then every
//! showing to that peer carries everything since its last confirmed position again
//! (bundles are idempotent, so the repeats cost bytes, never data).
//!
//! A pending hand-over lives in memory only: after a restart the next showing simply
//! starts from the last confirmed position. Nothing new is written to disk: a confirmed
//! position is an ordinary `SinceLast` cursor of the target's name.

use super::index::SyncDelta;
use super::*;
use crate::sync::DeviceId;

/// The label hashed into a receipt (v2: bound to the receiving device).
const RECEIPT_LABEL: &[u8] = b"caravan/handover-receipt/v2";

/// The text every receipt starts with.
const RECEIPT_PREFIX: &str = "caravan-received:";

/// How many bytes of the receiving device's id a receipt names (16 hex digits): enough
/// to tell the team's devices apart; the full id is hashed into the digest.
const DEVICE_PREFIX: usize = 8;

fn receipt_digest(device: &DeviceId, bundle_digest: &[u8; 32]) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &[RECEIPT_LABEL, &device.0, bundle_digest].concat(),
    );
    crate::model::hex_encode(&digest.as_ref()[..12])
}

fn bundle_digest(bundle: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bundle).as_ref());
    out
}

/// What the receiving phone shows back once it imported a bundle completely: a short
/// text (`caravan-received:`, 16 hex digits naming the receiving device, `-`, 24 hex
/// digits) that fits a small QR code.
///
/// The digest binds the bundle (its ciphertext bytes, so one showing: every sealing
/// differs) to the device that received it: a receipt shown by another phone than the
/// one the showing was meant for does not confirm it (see [`Handover::check_receipt`]).
/// It proves that the phone showing it holds the bundle, and says nothing about the
/// bundle's content.
pub fn handover_receipt(receiver: &DeviceId, bundle: &[u8]) -> String {
    format!(
        "{RECEIPT_PREFIX}{}-{}",
        crate::model::hex_encode(&receiver.0[..DEVICE_PREFIX]),
        receipt_digest(receiver, &bundle_digest(bundle))
    )
}

/// A receipt split into the device prefix it names and its digest (both lowercase hex);
/// `None` if it is not a receipt's text.
fn parse_receipt(receipt: &str) -> Option<(String, String)> {
    let rest = receipt.trim().to_ascii_lowercase();
    let rest = rest.strip_prefix(RECEIPT_PREFIX)?;
    let (device, digest) = rest.split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(device, 2 * DEVICE_PREFIX) && hex(digest, 24)).then(|| (device.into(), digest.into()))
}

/// Whether a receipt confirms a hand-over ([`Handover::check_receipt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptCheck {
    /// The receipt is the peer's, for this very showing: confirm it.
    Confirmed,
    /// This showing was received by another device (named): the peer it was meant for
    /// has not confirmed anything; its position must not move.
    ReceivedByAnother(DeviceId),
    /// Not a receipt of this showing (another showing's, malformed, forged).
    NoMatch,
}

/// A bundle shown to a peer and not confirmed yet: confirm it with the receipt the peer
/// shows back ([`Store::confirm_handover`]), or drop it (nothing moves).
pub struct Handover {
    peer: DeviceId,
    bundle: [u8; 32],
    deltas: Option<Vec<SyncDelta>>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Handover {
    /// The device the showing is meant for.
    pub fn peer(&self) -> &DeviceId {
        &self.peer
    }

    /// The receipt the peer will show for this bundle.
    pub fn receipt(&self) -> String {
        format!(
            "{RECEIPT_PREFIX}{}-{}",
            crate::model::hex_encode(&self.peer.0[..DEVICE_PREFIX]),
            receipt_digest(&self.peer, &self.bundle)
        )
    }

    /// Checks `receipt` against this showing. `others` are the devices that might have
    /// scanned it instead (the team's members): a receipt one of them made for this
    /// showing is [`ReceiptCheck::ReceivedByAnother`].
    pub fn check_receipt(&self, receipt: &str, others: &[DeviceId]) -> ReceiptCheck {
        let Some((device, digest)) = parse_receipt(receipt) else {
            return ReceiptCheck::NoMatch;
        };
        let names = |d: &DeviceId| crate::model::hex_encode(&d.0[..DEVICE_PREFIX]) == device;
        if names(&self.peer) && receipt_digest(&self.peer, &self.bundle) == digest {
            return ReceiptCheck::Confirmed;
        }
        others
            .iter()
            .filter(|d| **d != self.peer && names(d))
            .find(|d| receipt_digest(d, &self.bundle) == digest)
            .map_or(ReceiptCheck::NoMatch, |d| {
                ReceiptCheck::ReceivedByAnother(*d)
            })
    }
}

/// The name the position of `peer` is kept under: its id in hex, as the apps named it
/// before hand-overs were bound to devices.
fn target(peer: &DeviceId) -> String {
    crate::model::hex_encode(&peer.0)
}

impl Store {
    fn check_peer(&self, peer: &DeviceId) -> Result<()> {
        if *peer == self.device_id() {
            return Err(Error::invalid(
                "peer",
                "a hand-over is for another device, not this one",
            ));
        }
        Ok(())
    }

    /// Seals a bundle of what changed since `peer`'s last confirmed position (or
    /// everything, the first time), without moving that position.
    pub fn export_handover(&mut self, peer: &DeviceId) -> Result<(Vec<u8>, Handover)> {
        self.check_peer(peer)?;
        let (bytes, deltas) = self.export_bundle_deferred(BundleScope::SinceLast(target(peer)))?;
        let handover = Handover {
            peer: *peer,
            bundle: bundle_digest(&bytes),
            deltas,
        };
        Ok((bytes, handover))
    }

    /// Seals a bundle of everything (whatever `peer`'s position), without moving that
    /// position; confirming it sets the position to everything the bundle carried. For
    /// a peer that lost its data, or got a showing meant for someone else.
    pub fn export_handover_everything(&mut self, peer: &DeviceId) -> Result<(Vec<u8>, Handover)> {
        self.check_peer(peer)?;
        let (bytes, _) = self.export_bundle_deferred(BundleScope::Everything)?;
        let deltas = vec![SyncDelta::Cursor {
            name: target(peer),
            updates: self.state_updates(None),
            replace: true,
        }];
        let handover = Handover {
            peer: *peer,
            bundle: bundle_digest(&bytes),
            deltas: Some(deltas),
        };
        Ok((bytes, handover))
    }

    /// Moves `handover`'s peer to what its bundle carried: the peer confirmed it.
    /// Confirming an older hand-over after a newer one may move the position back,
    /// which only makes the next bundle larger.
    pub fn confirm_handover(&mut self, handover: Handover) -> Result<()> {
        self.check_writable()?;
        match handover.deltas {
            Some(deltas) if !deltas.is_empty() => self.write_sync(deltas),
            _ => Ok(()),
        }
    }

    /// How many cases changed since `peer`'s last confirmed position (all of them
    /// before the first confirmation): what a hand-over to it would carry.
    pub fn waiting_for(&self, peer: &DeviceId) -> usize {
        let base = self.index.sync.cursors.get(&target(peer));
        self.state_updates(base).len()
    }

    /// The receipt this device shows back for a bundle it imported.
    pub fn handover_receipt(&self, bundle: &[u8]) -> String {
        handover_receipt(&self.device_id(), bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edit, ScalarField};
    use crate::sync::Role;

    fn team(dir: &Path) -> (Store, Store, Store) {
        let key = StoreKey::generate().expect("key");
        let mut a = Store::create(dir.join("a"), &key).expect("a");
        a.create_group("team", "A").expect("group");
        let mut join = |name: &str| {
            let mut s = Store::create(dir.join(name), &key).expect("store");
            let inv = a.invite(Role::Coordinator).expect("invite");
            s.join_group(inv.as_text(), name).expect("join");
            // The coordinator admits the device by importing its join (decision 0016).
            let hello = s.export_bundle(BundleScope::Everything).expect("hello");
            a.import_bundle(&hello).expect("admit");
            s
        };
        let mut b = join("b");
        let mut c = join("c");
        let all = a.export_bundle(BundleScope::Everything).expect("all");
        for s in [&mut b, &mut c] {
            s.import_bundle(&all).expect("admitted");
        }
        (a, b, c)
    }

    fn case(s: &mut Store) -> CaseId {
        s.add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
            .expect("case")
    }

    fn members(s: &Store) -> Vec<DeviceId> {
        s.members().iter().map(|m| m.device).collect()
    }

    /// The scenario: A shows B, edits, shows C; and a showing cut short.
    #[test]
    fn nothing_is_lost_when_a_showing_is_not_confirmed() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let (bid, cid) = (b.device_id(), c.device_id());
        let first = case(&mut a);
        // A shows B; B never finishes scanning (no receipt).
        let (_lost, _pending) = a.export_handover(&bid).expect("export");
        assert_eq!(a.waiting_for(&bid), 1, "still waiting for B");
        // A shows B again; B imports and shows its receipt; A confirms.
        let (bundle, pending) = a.export_handover(&bid).expect("export");
        let got = b.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (1, 0));
        assert_eq!(b.handover_receipt(&bundle), pending.receipt());
        assert_eq!(
            pending.check_receipt(&b.handover_receipt(&bundle), &members(&a)),
            ReceiptCheck::Confirmed
        );
        a.confirm_handover(pending).expect("confirm");
        assert_eq!(a.waiting_for(&bid), 0);
        // A edits and adds; then shows C, who gets both cases whole.
        let second = case(&mut a);
        assert_eq!(a.waiting_for(&bid), 1);
        assert_eq!(a.waiting_for(&cid), 2);
        let (bundle, _) = a.export_handover(&cid).expect("export");
        let got = c.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (2, 0));
        assert!(c.case(&first).is_ok() && c.case(&second).is_ok());
        // B gets the second case next time.
        let (bundle, _) = a.export_handover(&bid).expect("export");
        let got = b.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (1, 0));
    }

    /// Red-team F2 of 2026-12-04: a showing meant for B, scanned by C, gave a receipt
    /// that confirmed B's position. Now C's receipt names C and is refused for B's
    /// showing; B's position stays, and B still gets everything.
    #[test]
    fn a_receipt_from_another_device_does_not_confirm_the_showing() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, b, mut c) = team(dir.path());
        let (bid, cid) = (b.device_id(), c.device_id());
        case(&mut a);
        let (bundle, for_b) = a.export_handover(&bid).expect("export");
        // C scans the showing meant for B.
        let got = c.import_bundle(&bundle).expect("c imports");
        assert_eq!(got.cases_created, 1);
        let from_c = c.handover_receipt(&bundle);
        assert_ne!(from_c, for_b.receipt());
        assert_eq!(
            for_b.check_receipt(&from_c, &members(&a)),
            ReceiptCheck::ReceivedByAnother(cid)
        );
        // Without the members list it is simply no match; never a confirmation.
        assert_eq!(for_b.check_receipt(&from_c, &[]), ReceiptCheck::NoMatch);
        // A receipt of the same device for another bundle does not match either.
        assert_eq!(
            for_b.check_receipt(&b.handover_receipt(b"other"), &members(&a)),
            ReceiptCheck::NoMatch
        );
        for junk in ["", "caravan-received:", "caravan-received:zz-00", "hello"] {
            assert_eq!(
                for_b.check_receipt(junk, &members(&a)),
                ReceiptCheck::NoMatch
            );
        }
        assert_eq!(a.waiting_for(&bid), 1, "B's position did not move");
        // B's own receipt (any case, surrounding blanks) confirms.
        let from_b = format!(" {} ", b.handover_receipt(&bundle).to_uppercase());
        assert_eq!(
            for_b.check_receipt(&from_b, &members(&a)),
            ReceiptCheck::Confirmed
        );
    }

    /// Re-sending everything to a peer whose position is ahead of what it holds (it
    /// lost its data): the next showing carries every case, and confirming it leaves
    /// nothing waiting.
    #[test]
    fn everything_can_be_shown_again_to_a_peer() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let bid = b.device_id();
        case(&mut a);
        case(&mut a);
        let (bundle, pending) = a.export_handover(&bid).expect("export");
        b.import_bundle(&bundle).expect("import");
        a.confirm_handover(pending).expect("confirm");
        assert_eq!(a.waiting_for(&bid), 0);
        // B restored an old backup: its position says nothing waits, so the usual
        // showing carries nothing new; the full one carries both cases (C, which has
        // none yet, stands in for the restored phone: bundles are for the whole team).
        let (small, _) = a.export_handover(&bid).expect("export");
        let (full, pending) = a.export_handover_everything(&bid).expect("everything");
        assert_eq!(c.import_bundle(&small).expect("small").cases_created, 0);
        let got = c.import_bundle(&full).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (2, 0));
        assert_eq!(a.waiting_for(&bid), 0, "showing moved nothing");
        a.confirm_handover(pending).expect("confirm");
        assert_eq!(a.waiting_for(&bid), 0);
        case(&mut a);
        assert_eq!(a.waiting_for(&bid), 1);
    }

    /// The old behaviour, for contrast: `SinceLast` moves at export, so a second phone
    /// served under the same name misses the first case.
    #[test]
    fn since_last_moves_at_export_which_is_why_handovers_exist() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        case(&mut a);
        let to_b = a
            .export_bundle(BundleScope::SinceLast("qr".into()))
            .expect("b");
        b.import_bundle(&to_b).expect("import");
        let second = case(&mut a);
        a.update_case(&second, &[Edit::set(ScalarField::Gender, "Masculine")])
            .expect("edit");
        let to_c = a
            .export_bundle(BundleScope::SinceLast("qr".into()))
            .expect("c");
        let got = c.import_bundle(&to_c).expect("import");
        assert_eq!(got.cases_created, 1, "C got only the second case");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_handover_to_oneself_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, _, _) = team(dir.path());
        let me = a.device_id();
        assert!(matches!(
            a.export_handover(&me),
            Err(Error::InvalidInput { .. })
        ));
    }
}
