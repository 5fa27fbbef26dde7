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
use crate::sync::{DeviceId, DeviceIdentity, SIGNATURE_LEN};

/// The label signed in a receipt (v3: signed with the receiving device's key; v2 was
/// an unkeyed hash that anyone who saw the showing could compute, red-team F1 of
/// 2026-12-05).
const RECEIPT_LABEL: &[u8] = b"caravan/handover-receipt/v3";

/// The text every receipt starts with.
const RECEIPT_PREFIX: &str = "caravan-received:";

/// How many bytes of the receiving device's id a receipt names (16 hex digits): enough
/// to tell the team's devices apart; the full id is in the signed message.
const DEVICE_PREFIX: usize = 8;

/// What a receipt's signature covers: the label, the receiving device's id, the
/// sending device's id and the SHA-256 of the bundle's bytes (docs/protocol.md,
/// "Hand-over receipts").
fn receipt_message(receiver: &DeviceId, sender: &DeviceId, bundle_digest: &[u8; 32]) -> Vec<u8> {
    [RECEIPT_LABEL, &receiver.0, &sender.0, bundle_digest].concat()
}

fn bundle_digest(bundle: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(crate::crypto::sha256(bundle).as_ref());
    out
}

/// What the receiving phone shows back once it imported a bundle completely: a short
/// text (`caravan-received:`, 16 hex digits naming the receiving device, `-`, the 128
/// hex digits of its Ed25519 signature over [`receipt_message`]) that fits a small QR
/// code (162 characters, all in QR's alphanumeric set once upper-cased).
///
/// Only the receiving device can make it: the signature is by its device key, over
/// its own id, the id of the device that sealed the bundle and the bundle's digest
/// (its ciphertext bytes, so one showing: every sealing differs). A receipt shown by
/// another phone than the one the showing was meant for does not confirm it (see
/// [`Handover::check_receipt`]).
pub(crate) fn handover_receipt(
    receiver: &DeviceIdentity,
    sender: &DeviceId,
    bundle: &[u8],
) -> String {
    let me = receiver.id();
    let sig = receiver.sign(&receipt_message(&me, sender, &bundle_digest(bundle)));
    format!(
        "{RECEIPT_PREFIX}{}-{}",
        crate::codec::hex_encode(&me.0[..DEVICE_PREFIX]),
        crate::codec::hex_encode(&sig)
    )
}

/// A receipt split into the device prefix it names (lowercase hex) and its signature;
/// `None` if it is not a receipt's text.
fn parse_receipt(receipt: &str) -> Option<(String, [u8; SIGNATURE_LEN])> {
    let rest = receipt.trim().to_ascii_lowercase();
    let rest = rest.strip_prefix(RECEIPT_PREFIX)?;
    let (device, sig) = rest.split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !(hex(device, 2 * DEVICE_PREFIX) && hex(sig, 2 * SIGNATURE_LEN)) {
        return None;
    }
    let mut out = [0u8; SIGNATURE_LEN];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(sig.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((device.into(), out))
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
    sender: DeviceId,
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

    /// What identifies this showing: the SHA-256 of its bundle (every sealing differs).
    pub fn showing(&self) -> [u8; 32] {
        self.bundle
    }

    /// Checks `receipt` against this showing: it must be signed by the peer's device
    /// key over the peer's id, this device's id and this bundle's digest. `others` are
    /// the devices that might have scanned it instead (the team's members): a receipt
    /// one of them signed for this showing is [`ReceiptCheck::ReceivedByAnother`].
    pub fn check_receipt(&self, receipt: &str, others: &[DeviceId]) -> ReceiptCheck {
        let Some((device, sig)) = parse_receipt(receipt) else {
            return ReceiptCheck::NoMatch;
        };
        let names = |d: &DeviceId| crate::codec::hex_encode(&d.0[..DEVICE_PREFIX]) == device;
        let signed_by =
            |d: &DeviceId| d.verify(&receipt_message(d, &self.sender, &self.bundle), &sig);
        if names(&self.peer) && signed_by(&self.peer) {
            return ReceiptCheck::Confirmed;
        }
        others
            .iter()
            .filter(|d| **d != self.peer && names(d))
            .find(|d| signed_by(d))
            .map_or(ReceiptCheck::NoMatch, |d| {
                ReceiptCheck::ReceivedByAnother(*d)
            })
    }
}

/// The name the position of `peer` is kept under: its id in hex, as the apps named it
/// before hand-overs were bound to devices.
fn target(peer: &DeviceId) -> String {
    crate::codec::hex_encode(&peer.0)
}

impl Store {
    fn check_peer(&self, peer: &DeviceId) -> Result<()> {
        if *peer == self.team().device_id() {
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
            sender: self.team().device_id(),
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
            sender: self.team().device_id(),
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

    /// Imports a hand-over bundle as [`Store::import_bundle_with_progress`] does and
    /// gives the receipt this device shows back to the sender, signed with its device
    /// key (`None` when some case waits for earlier changes: the import is not
    /// complete, and the sender should show everything instead).
    pub fn import_handover_with_progress(
        &mut self,
        bytes: &[u8],
        progress: Progress<'_>,
    ) -> Result<(SyncReport, Option<String>)> {
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
        progress(2, 2);
        let receipt =
            (report.cases_waiting == 0).then(|| handover_receipt(&self.identity, &sender, bytes));
        Ok((report, receipt))
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
        a.team_mut().create_group("team", "A").expect("group");
        let mut join = |name: &str| {
            let mut s = Store::create(dir.join(name), &key).expect("store");
            let inv = a.team_mut().invite(Role::Coordinator).expect("invite");
            s.team_mut().join_group(inv.as_text(), name).expect("join");
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
        s.team().members().iter().map(|m| m.device).collect()
    }

    /// `s` imports `bundle` as a hand-over and gives its receipt.
    fn receive(s: &mut Store, bundle: &[u8]) -> (SyncReport, String) {
        let (report, receipt) = s
            .import_handover_with_progress(bundle, &mut |_, _| true)
            .expect("import");
        (report, receipt.expect("complete import, a receipt"))
    }

    /// The scenario: A shows B, edits, shows C; and a showing cut short.
    #[test]
    fn nothing_is_lost_when_a_showing_is_not_confirmed() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let (bid, cid) = (b.team().device_id(), c.team().device_id());
        let first = case(&mut a);
        // A shows B; B never finishes scanning (no receipt).
        let (_lost, _pending) = a.export_handover(&bid).expect("export");
        assert_eq!(a.waiting_for(&bid), 1, "still waiting for B");
        // A shows B again; B imports and shows its receipt; A confirms.
        let (bundle, pending) = a.export_handover(&bid).expect("export");
        let (got, receipt) = receive(&mut b, &bundle);
        assert_eq!((got.cases_created, got.cases_waiting), (1, 0));
        assert_eq!(
            pending.check_receipt(&receipt, &members(&a)),
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
    /// that confirmed B's position. Now C's receipt is signed by C and is refused for
    /// B's showing; B's position stays, and B still gets everything.
    #[test]
    fn a_receipt_from_another_device_does_not_confirm_the_showing() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let (aid, bid, cid) = (
            a.team().device_id(),
            b.team().device_id(),
            c.team().device_id(),
        );
        case(&mut a);
        let (bundle, for_b) = a.export_handover(&bid).expect("export");
        // C scans the showing meant for B.
        let (got, from_c) = receive(&mut c, &bundle);
        assert_eq!(got.cases_created, 1);
        assert_eq!(
            for_b.check_receipt(&from_c, &members(&a)),
            ReceiptCheck::ReceivedByAnother(cid)
        );
        // Without the members list it is simply no match; never a confirmation.
        assert_eq!(for_b.check_receipt(&from_c, &[]), ReceiptCheck::NoMatch);
        // B's signature over another bundle does not match.
        assert_eq!(
            for_b.check_receipt(&handover_receipt(&b.identity, &aid, b"other"), &members(&a)),
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
        let (_, from_b) = receive(&mut b, &bundle);
        let from_b = format!(" {} ", from_b.to_uppercase());
        assert_eq!(
            for_b.check_receipt(&from_b, &members(&a)),
            ReceiptCheck::Confirmed
        );
    }

    /// Red-team F1 of 2026-12-05: the receipt was an unkeyed hash of public data (the
    /// receiver's id and the bundle), so anyone who saw the showing could make B's
    /// receipt and move B's position past cases B never got. Now it is B's signature:
    /// every receipt B did not sign, for this showing from this sender, is no match.
    #[test]
    fn a_receipt_only_the_receiving_device_can_make() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let (aid, bid, cid) = (
            a.team().device_id(),
            b.team().device_id(),
            c.team().device_id(),
        );
        case(&mut a);
        let (bundle, for_b) = a.export_handover(&bid).expect("export");
        let others = members(&a);
        let named_b = format!(
            "{RECEIPT_PREFIX}{}-",
            crate::codec::hex_encode(&bid.0[..DEVICE_PREFIX])
        );
        // 1. the old (v2) receipt, computed from public data by whoever saw the frames
        let v2 = crate::crypto::sha256(
            &[
                b"caravan/handover-receipt/v2".as_slice(),
                &bid.0,
                &bundle_digest(&bundle),
            ]
            .concat(),
        );
        let old = format!("{named_b}{}", crate::codec::hex_encode(&v2.as_ref()[..12]));
        // 2. C's own signature for this showing, relabelled with B's prefix
        let (_, from_c) = receive(&mut c, &bundle);
        let (_, sig_c) = from_c.split_once('-').expect("receipt");
        let relabelled = format!("{named_b}{sig_c}");
        // 3. C signing the message of B's receipt with its own key
        let in_b_name = format!(
            "{named_b}{}",
            crate::codec::hex_encode(&c.identity.sign(&receipt_message(
                &bid,
                &aid,
                &bundle_digest(&bundle)
            )))
        );
        // 4. B's genuine signature for the same bundle said to come from another
        //    sender (C), and B's signature of another bundle from A
        let wrong_sender = handover_receipt(&b.identity, &cid, &bundle);
        let wrong_bundle = handover_receipt(&b.identity, &aid, &bundle[1..]);
        // 5. a signature of the right shape that nobody made
        let random = format!("{named_b}{}", "ab".repeat(SIGNATURE_LEN));
        for forged in [
            old,
            relabelled,
            in_b_name,
            wrong_sender,
            wrong_bundle,
            random,
        ] {
            assert_eq!(
                for_b.check_receipt(&forged, &others),
                ReceiptCheck::NoMatch,
                "{forged}"
            );
        }
        assert_eq!(a.waiting_for(&bid), 1, "B's position did not move");
        // B's own receipt confirms; it names B and is 162 characters long.
        let (_, from_b) = receive(&mut b, &bundle);
        assert!(
            from_b.starts_with(&named_b) && from_b.len() == 162,
            "{from_b}"
        );
        assert_eq!(
            for_b.check_receipt(&from_b, &others),
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
        let bid = b.team().device_id();
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
        let me = a.team().device_id();
        assert!(matches!(
            a.export_handover(&me),
            Err(Error::InvalidInput { .. })
        ));
    }
}
