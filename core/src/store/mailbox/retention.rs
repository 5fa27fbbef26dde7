//! Read receipts and outbox retention (docs/protocol.md, section 15.2; decision 0032).
//!
//! Each device writes into its own outbox a small *read receipt*
//! (`<outbox>/<ten digits>.cvr`), sealed under the group's current key and signed by
//! the device: for every other outbox, the highest bundle number up to which it has
//! imported everything. A device deletes its own bundles numbered at or below the
//! minimum over every active member's receipt; a member without a valid receipt
//! holds everything back. The place sees one more small ciphertext file per device.

use crate::error::{Error, Result};
use crate::sync::envelope::{self, EpochKey};
use crate::sync::{DeviceId, DeviceIdentity};

/// The domain of a receipt's plaintext and signature.
const DOMAIN: &[u8] = b"caravan/receipt/v1";

/// Largest receipt file read: 64 KiB (1,024 outboxes take 16 KiB, plus the envelope).
pub(crate) const MAX_RECEIPT_FILE: u64 = 64 << 10;

/// A read receipt, opened and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The device that wrote it (its signature was checked).
    pub(crate) device: [u8; 32],
    /// Chosen at random when the device starts writing receipts at a place, and again
    /// when it finds its index older than its own last receipt there (restored from a
    /// copy): a generation no member has served yet asks each for a bundle of
    /// everything.
    pub(crate) generation: [u8; 16],
    /// Per other outbox (its 8-byte name), the highest bundle number up to which the
    /// device imported every bundle; sorted by outbox.
    pub(crate) read: Vec<([u8; 8], u64)>,
}

impl Receipt {
    /// The highest number read in `outbox` (hex name), 0 when not named.
    pub(crate) fn read_in(&self, outbox: &str) -> u64 {
        let Some(tag) = tag(outbox) else { return 0 };
        self.read
            .binary_search_by(|(t, _)| t.cmp(&tag))
            .map(|i| self.read[i].1)
            .unwrap_or(0)
    }

    /// The signed body: device ‖ generation ‖ count (u16 BE) ‖ count × (outbox ‖ u64 BE).
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(50 + self.read.len() * 16);
        out.extend_from_slice(&self.device);
        out.extend_from_slice(&self.generation);
        out.extend_from_slice(&(self.read.len() as u16).to_be_bytes());
        for (t, n) in &self.read {
            out.extend_from_slice(t);
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    /// Signs and seals the receipt under `key`.
    pub(crate) fn seal(&self, identity: &DeviceIdentity, key: &EpochKey) -> Result<Vec<u8>> {
        if self.read.len() > super::MAX_OUTBOXES {
            return Err(Error::Internal("a receipt over its limit".into()));
        }
        let body = self.body();
        let sig = identity.sign(&signed(key.epoch, &body));
        let plain = [DOMAIN, &body, &sig].concat();
        envelope::seal(key, &plain)
    }

    /// Opens and verifies a receipt sealed under `key`; `None` for anything that does
    /// not open, does not parse exactly, or is not signed by the device it names.
    pub(crate) fn open(bytes: &[u8], key: &EpochKey) -> Option<Receipt> {
        let parsed = envelope::parse(bytes).ok()?;
        let plain = envelope::open(&parsed, key).ok()?;
        let rest = plain.strip_prefix(DOMAIN)?;
        if rest.len() < 32 + 16 + 2 + 64 {
            return None;
        }
        let device: [u8; 32] = rest[..32].try_into().ok()?;
        let generation: [u8; 16] = rest[32..48].try_into().ok()?;
        let n = u16::from_be_bytes([rest[48], rest[49]]) as usize;
        if n > super::MAX_OUTBOXES || rest.len() != 50 + n * 16 + 64 {
            return None;
        }
        let mut read = Vec::with_capacity(n);
        for i in 0..n {
            let e = &rest[50 + i * 16..66 + i * 16];
            let t: [u8; 8] = e[..8].try_into().ok()?;
            let v = u64::from_be_bytes(e[8..].try_into().ok()?);
            // Strictly sorted: one entry per outbox.
            if read.last().is_some_and(|(p, _)| *p >= t) {
                return None;
            }
            read.push((t, v));
        }
        let body = &rest[..50 + n * 16];
        let sig = &rest[50 + n * 16..];
        if !DeviceId(device).verify(&signed(key.epoch, body), sig) {
            return None;
        }
        Some(Receipt {
            device,
            generation,
            read,
        })
    }
}

/// What a receipt's signature covers: domain ‖ epoch (u32 BE) ‖ body.
fn signed(epoch: u32, body: &[u8]) -> Vec<u8> {
    [DOMAIN, &epoch.to_be_bytes(), body].concat()
}

/// The 8 bytes of an outbox name (16 lowercase hex digits).
pub(crate) fn tag(outbox: &str) -> Option<[u8; 8]> {
    if outbox.len() != 16 {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = outbox.get(i * 2..i * 2 + 2)?;
        if pair.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_refuse_any_other_key_or_signer() {
        let me = DeviceIdentity::generate().expect("id");
        let key = EpochKey::new(3, [7; 32]);
        let r = Receipt {
            device: me.id().0,
            generation: [1; 16],
            read: vec![([0; 8], 4), ([0xab; 8], 9)],
        };
        let sealed = r.seal(&me, &key).expect("seal");
        assert_eq!(Receipt::open(&sealed, &key), Some(r.clone()));
        assert_eq!(r.read_in("abababababababab"), 9);
        assert_eq!(r.read_in("0101010101010101"), 0);
        assert_eq!(Receipt::open(&sealed, &EpochKey::new(3, [8; 32])), None);
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(Receipt::open(&flipped, &key), None);
        // Naming another device than the signer: refused.
        let other = DeviceIdentity::generate().expect("id");
        let forged = Receipt {
            device: other.id().0,
            ..r
        };
        assert_eq!(
            Receipt::open(&forged.seal(&me, &key).expect("seal"), &key),
            None
        );
    }
}
