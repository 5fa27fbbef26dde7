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

/// The label hashed with a bundle into its receipt.
const RECEIPT_LABEL: &[u8] = b"caravan/handover-receipt/v1";

/// What the receiving phone shows back once it imported a bundle completely: a short
/// text (`caravan-received:` and 24 hex digits) that fits a small QR code.
///
/// It is a digest of the bundle (ciphertext) bytes: it proves that the phone showing it
/// holds the bundle, and says nothing about the bundle's content.
pub fn handover_receipt(bundle: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, &[RECEIPT_LABEL, bundle].concat());
    format!(
        "caravan-received:{}",
        crate::model::hex_encode(&digest.as_ref()[..12])
    )
}

/// A bundle shown to a peer and not confirmed yet: confirm it with the receipt the peer
/// shows back ([`Store::confirm_handover`]), or drop it (nothing moves).
pub struct Handover {
    target: String,
    receipt: String,
    deltas: Option<Vec<SyncDelta>>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Handover {
    /// The peer's name the position is kept under.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The receipt the peer will show for this bundle.
    pub fn receipt(&self) -> &str {
        &self.receipt
    }
}

fn check_target(target: &str) -> Result<()> {
    if target.trim().is_empty() || target.chars().count() > 200 {
        return Err(Error::invalid(
            "target",
            "name the peer the hand-over is for (1 to 200 characters)",
        ));
    }
    Ok(())
}

impl Store {
    /// Seals a bundle of what changed since `target`'s last confirmed position (or
    /// everything, the first time), without moving that position.
    pub fn export_handover(&mut self, target: &str) -> Result<(Vec<u8>, Handover)> {
        check_target(target)?;
        let (bytes, deltas) =
            self.export_bundle_deferred(BundleScope::SinceLast(target.to_string()))?;
        let handover = Handover {
            target: target.to_string(),
            receipt: handover_receipt(&bytes),
            deltas,
        };
        Ok((bytes, handover))
    }

    /// Moves `handover`'s target to what its bundle carried: the peer confirmed it.
    /// Confirming an older hand-over after a newer one may move the position back,
    /// which only makes the next bundle larger.
    pub fn confirm_handover(&mut self, handover: Handover) -> Result<()> {
        self.check_writable()?;
        match handover.deltas {
            Some(deltas) if !deltas.is_empty() => self.write_sync(deltas),
            _ => Ok(()),
        }
    }

    /// How many cases changed since `target`'s last confirmed position (all of them
    /// before the first confirmation): what a hand-over to it would carry.
    pub fn waiting_for(&self, target: &str) -> usize {
        let base = self.index.sync.cursors.get(target);
        self.state_updates(base).len()
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

    /// The scenario: A shows B, edits, shows C; and a showing cut short.
    #[test]
    fn nothing_is_lost_when_a_showing_is_not_confirmed() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, mut b, mut c) = team(dir.path());
        let first = case(&mut a);
        // A shows B; B never finishes scanning (no receipt).
        let (_lost, _pending) = a.export_handover("B").expect("export");
        assert_eq!(a.waiting_for("B"), 1, "still waiting for B");
        // A shows B again; B imports and shows its receipt; A confirms.
        let (bundle, pending) = a.export_handover("B").expect("export");
        let got = b.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (1, 0));
        assert_eq!(handover_receipt(&bundle), pending.receipt());
        a.confirm_handover(pending).expect("confirm");
        assert_eq!(a.waiting_for("B"), 0);
        // A edits and adds; then shows C, who gets both cases whole.
        let second = case(&mut a);
        assert_eq!(a.waiting_for("B"), 1);
        assert_eq!(a.waiting_for("C"), 2);
        let (bundle, _) = a.export_handover("C").expect("export");
        let got = c.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (2, 0));
        assert!(c.case(&first).is_ok() && c.case(&second).is_ok());
        // B gets the second case next time.
        let (bundle, _) = a.export_handover("B").expect("export");
        let got = b.import_bundle(&bundle).expect("import");
        assert_eq!((got.cases_created, got.cases_waiting), (1, 0));
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
    fn bad_targets_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut a, _, _) = team(dir.path());
        assert!(matches!(
            a.export_handover("  "),
            Err(Error::InvalidInput { .. })
        ));
    }
}
