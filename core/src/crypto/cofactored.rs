//! Cofactored Ed25519 verification of change signatures, one at a time or many at a
//! time, and the rules for Ed25519 keys (curve25519-dalek; ring has no batch API).
//!
//! A first sync brings thousands of changes, each with its author's Ed25519 signature
//! (see `crate::sync::change_message`). Checked one by one they cost more than building
//! the documents; checked together (one multi-scalar multiplication for a batch of up
//! to 128) they cost a quarter of that.
//!
//! Every change signature is checked with the *cofactored* equation
//! `[8]([s]B - R - [k]A) = 0`, `k = SHA-512(R ‖ A ‖ message) mod ℓ`: alone, with
//! exactly that equation ([`holds_alone`]); in a batch, with
//! `[8](Σ zᵢ([sᵢ]B - Rᵢ - [kᵢ]Aᵢ)) = 0` for fresh random 128-bit coefficients `zᵢ`
//! (from the system random generator, [`super::random`]). Multiplying by the cofactor 8 removes every
//! small-order component, so what remains lies in the group of prime order ℓ, where a
//! non-zero term survives random coefficients except with probability about 2⁻¹²⁷:
//! a batch passes exactly when each of its signatures passes alone. Whether a change is
//! accepted therefore never depends on the payload it arrives in (decision 0013). A
//! signature made by Ed25519 signing (RFC 8032) always passes; signatures crafted with
//! small-order components in `R` or `A` pass too, the same way on every device.
//!
//! Encodings, the same in both paths: `s` must be below ℓ; `R` and `A` must be
//! canonical encodings of curve points ([`canonical_point`]); `A` must not be of small
//! order ([`acceptable_key`]: with such a key anybody could satisfy the cofactored
//! equation). The same key rule is applied wherever a device key enters the membership
//! or verifies anything (`crate::sync::DeviceId::is_acceptable`, through [`acceptable_key`]).
//!
//! If a batch fails, the whole payload is refused; the error does not say which change
//! (the sender is a member either way, and the store stays unchanged).

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};

use super::hash::sha512;
use super::random::fill_random;

/// How many signatures one batch checks: past this, a larger batch saves little and
/// holds more memory.
const BATCH: usize = 128;

/// One signature to check: the signer's Ed25519 key, the signed message and the
/// signature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignatureCheck<'a> {
    /// The signer's public key.
    pub(crate) key: &'a [u8; 32],
    /// What was signed.
    pub(crate) message: &'a [u8],
    /// The Ed25519 signature.
    pub(crate) signature: &'a [u8; 64],
}

/// Whether 32 bytes are the canonical encoding of a point: the 255-bit `y` is below
/// p = 2²⁵⁵ − 19, and the sign bit of `x` is clear when `x` is 0 (that is, when `y` is
/// 1 or p − 1). Any other 32 bytes that decode are a second spelling of some point.
pub(crate) fn canonical_point(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    y[31] &= 0x7f;
    let sign = bytes[31] & 0x80 != 0;
    // y ≥ p: the top byte 0x7f, then thirty 0xff, then a low byte ≥ 0xed.
    if y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed {
        return false;
    }
    let one = y[0] == 1 && y[1..].iter().all(|&b| b == 0);
    let minus_one = y[0] == 0xec && y[1..31].iter().all(|&b| b == 0xff) && y[31] == 0x7f;
    !(sign && (one || minus_one))
}

/// Whether Caravan accepts 32 bytes as an Ed25519 key: the canonical encoding of a
/// point that is not of small order.
pub(crate) fn acceptable_key(bytes: &[u8; 32]) -> bool {
    device_key_point(bytes).is_some()
}

/// The curve point of an Ed25519 device key, or `None` when the key is refused: a
/// non-canonical encoding, not a point, or a point of small order.
fn device_key_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canonical_point(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes)
        .decompress()
        .filter(|p| !p.is_small_order())
}

/// A signature decoded for checking: `s`, `R`, `k` and the author's key `A`.
struct Decoded {
    s: Scalar,
    r: EdwardsPoint,
    k: Scalar,
    a: EdwardsPoint,
}

/// Decodes `check` against its author's key point; `None` when `s` is not below ℓ or
/// `R` is not a canonically encoded point.
fn decode(check: &SignatureCheck<'_>, a: EdwardsPoint) -> Option<Decoded> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&check.signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&check.signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    if !canonical_point(&r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    let wide = sha512(&[&r_bytes, check.key, check.message]);
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    Some(Decoded { s, r, k, a })
}

/// The cofactored equation for one signature: `[8]([s]B - R - [k]A) = 0`.
fn holds_alone(d: &Decoded) -> bool {
    (EdwardsPoint::vartime_double_scalar_mul_basepoint(&-d.k, &d.a, &d.s) - d.r)
        .mul_by_cofactor()
        .is_identity()
}

/// The cofactored batch equation `[8](Σ zᵢ([sᵢ]B - Rᵢ - [kᵢ]Aᵢ)) = 0` with random odd
/// 128-bit `zᵢ`. `false` also when the system random generator fails (the payload is
/// then refused, which is safe, and a retry can succeed).
fn batch_holds(batch: &[Decoded]) -> bool {
    let mut random = vec![0u8; 16 * batch.len()];
    if fill_random(&mut random).is_err() {
        return false;
    }
    let zs: Vec<Scalar> = random
        .chunks_exact(16)
        .map(|c| {
            let mut z = [0u8; 16];
            z.copy_from_slice(c);
            Scalar::from(u128::from_le_bytes(z) | 1)
        })
        .collect();
    let b: Scalar = batch.iter().zip(&zs).map(|(d, z)| z * d.s).sum();
    let scalars = std::iter::once(b)
        .chain(zs.iter().map(|z| -z))
        .chain(batch.iter().zip(&zs).map(|(d, z)| -(z * d.k)));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(batch.iter().map(|d| d.r))
        .chain(batch.iter().map(|d| d.a));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Whether every signature in `checks` verifies (see the module doc for the equation
/// and the encoding rules). The answer for each signature is the same alone and in any
/// batch.
pub(crate) fn all_valid(checks: &[SignatureCheck<'_>]) -> bool {
    let mut keys: HashMap<[u8; 32], Option<EdwardsPoint>> = HashMap::new();
    for batch in checks.chunks(BATCH) {
        let mut decoded = Vec::with_capacity(batch.len());
        for check in batch {
            let key = *keys
                .entry(*check.key)
                .or_insert_with(|| device_key_point(check.key));
            let Some(d) = key.and_then(|a| decode(check, a)) else {
                return false;
            };
            decoded.push(d);
        }
        let holds = match decoded.as_slice() {
            [one] => holds_alone(one),
            many => batch_holds(many),
        };
        if !holds {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ed25519::{self, SigningKey};

    // What the sync layer signs, rebuilt here from this layer's primitives, so the
    // crypto layer's tests need nothing above it (the identity module's own tests and
    // the spec vectors check `identity::change_message` and `DeviceIdentity`).

    /// A device key as `identity::DeviceId` holds it.
    #[derive(Clone, Copy)]
    struct DeviceId([u8; 32]);

    impl DeviceId {
        fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
            ed25519::verify(&self.0, message, signature)
        }
    }

    /// A signing key as `identity::DeviceIdentity` holds it.
    struct DeviceIdentity(SigningKey);

    impl DeviceIdentity {
        fn generate() -> Option<DeviceIdentity> {
            let pkcs8 = ed25519::generate_pkcs8().ok()?;
            SigningKey::from_pkcs8(&pkcs8).map(DeviceIdentity)
        }

        fn from_seed(seed: &[u8; 32]) -> Option<DeviceIdentity> {
            SigningKey::from_seed(seed).map(DeviceIdentity)
        }

        fn id(&self) -> DeviceId {
            DeviceId(self.0.public_key())
        }

        fn sign(&self, message: &[u8]) -> [u8; 64] {
            self.0.sign(message)
        }
    }

    /// A case id as `ids::CaseId` holds it.
    struct CaseId([u8; 16]);

    /// `identity::change_message`: `"caravan/change/v1" ‖ case ‖ change hash`.
    fn change_message(case: &CaseId, hash: &[u8; 32]) -> Vec<u8> {
        [b"caravan/change/v1".as_slice(), &case.0, hash].concat()
    }

    /// A change signature as `sync::signatures` holds it.
    struct ChangeSignature {
        author: DeviceId,
        message: Vec<u8>,
        signature: [u8; 64],
    }

    /// [`super::all_valid`] over change signatures, as `sync::signatures` calls it.
    fn all_valid(checks: &[ChangeSignature]) -> bool {
        let checks: Vec<SignatureCheck<'_>> = checks
            .iter()
            .map(|c| SignatureCheck {
                key: &c.author.0,
                message: &c.message,
                signature: &c.signature,
            })
            .collect();
        super::all_valid(&checks)
    }

    fn signed(me: &DeviceIdentity, n: u8) -> ChangeSignature {
        let message = change_message(&CaseId([n; 16]), &[n; 32]);
        ChangeSignature {
            author: me.id(),
            signature: me.sign(&message),
            message,
        }
    }

    #[test]
    fn ring_signatures_pass_in_batches_of_any_size() {
        let (a, b) = (
            DeviceIdentity::generate().expect("a"),
            DeviceIdentity::generate().expect("b"),
        );
        let checks: Vec<ChangeSignature> = (0..=255u8)
            .map(|n| signed(if n % 3 == 0 { &a } else { &b }, n))
            .collect();
        assert!(all_valid(&checks));
        assert!(all_valid(&checks[..1]));
        assert!(all_valid(&[]));
    }

    #[test]
    fn one_bad_signature_fails_its_batch_wherever_it_is() {
        let me = DeviceIdentity::generate().expect("id");
        for bad in [0usize, 1, 127, 128, 199] {
            let mut checks: Vec<ChangeSignature> = (0..200).map(|n| signed(&me, n as u8)).collect();
            checks[bad].signature[10] ^= 1;
            assert!(!all_valid(&checks), "bad signature at {bad} passed");
            let mut checks: Vec<ChangeSignature> = (0..200).map(|n| signed(&me, n as u8)).collect();
            checks[bad].message[20] ^= 1;
            assert!(!all_valid(&checks), "changed message at {bad} passed");
            let mut checks: Vec<ChangeSignature> = (0..200).map(|n| signed(&me, n as u8)).collect();
            checks[bad].author = DeviceIdentity::generate().expect("other").id();
            assert!(!all_valid(&checks), "other author at {bad} passed");
        }
    }

    #[test]
    fn small_order_keys_and_forged_signatures_are_refused() {
        // The identity point (y = 1) is of small order: with it, R = identity and s = 0
        // would satisfy the cofactored equation for any message.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let forged = ChangeSignature {
            author: DeviceId(identity),
            message: change_message(&CaseId([1; 16]), &[1; 32]),
            signature: {
                let mut s = [0u8; 64];
                s[..32].copy_from_slice(&identity);
                s
            },
        };
        assert!(!all_valid(&[forged]));
        // Not a point at all.
        let me = DeviceIdentity::generate().expect("id");
        let mut check = signed(&me, 1);
        check.author = DeviceId([0xff; 32]);
        assert!(!all_valid(&[check]));
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    /// A signature by the key of seed `33 34 … 52` over the change message of case
    /// `[1; 16]` and hash `[2; 32]`, made with `R = [r]B + T` for a point `T` of order 8
    /// (`s = r + k·a` as usual): it fails the plain equation and satisfies the
    /// cofactored one. Made with tests/vectors/check.py's Ed25519 (see the commit).
    fn torsion_signature() -> ChangeSignature {
        let me = DeviceIdentity::from_seed(
            &unhex("333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152")
                .try_into()
                .expect("32"),
        )
        .expect("seed");
        assert_eq!(
            crate::codec::hex_encode(&me.id().0),
            "4e30e537da0d74adc0642b2c330da7732994c460585e39a70a1dd511a608c47b"
        );
        let message = change_message(&CaseId([1; 16]), &[2; 32]);
        let signature: [u8; 64] = unhex(
            "a5c0862e36bbacbdf3c9efde3f449422925546c5b81fd430218765cd32afb2e3\
             5f47e7484c9bad7e8b7d9b4efc20b37402f1248efda823ff4cb3eff4f5dece06",
        )
        .try_into()
        .expect("64");
        // Not a valid signature by the plain equation every other check uses.
        assert!(!me.id().verify(&message, &signature));
        ChangeSignature {
            author: me.id(),
            message,
            signature,
        }
    }

    /// Bytes of a point of order 8.
    const ORDER_8: &str = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a";

    /// `[i]T` for a point `T` of order 8.
    fn torsion(i: u8) -> EdwardsPoint {
        let bytes: [u8; 32] = unhex(ORDER_8).try_into().expect("32");
        let t = CompressedEdwardsY(bytes).decompress().expect("a point");
        assert!(t.is_small_order() && !t.is_identity());
        t * Scalar::from(i)
    }

    /// A signature made as an attacker would: key `[a]B + [key_t]T`, nonce point
    /// `[r]B + [nonce_t]T`, `s = r + k·a` (plus `bump`: 0 makes it satisfy the
    /// cofactored equation, anything else breaks it).
    fn crafted(seed: u8, key_t: u8, nonce_t: u8, bump: u8) -> ChangeSignature {
        // Below ℓ and never 0 (a key of small order is refused, whatever it signs).
        let mut a = [seed; 32];
        a[31] = 1;
        let a = Scalar::from_bytes_mod_order(a);
        let r = Scalar::from_bytes_mod_order([seed ^ 0x5a; 32]);
        let key = (ED25519_BASEPOINT_POINT * a + torsion(key_t)).compress();
        let nonce = (ED25519_BASEPOINT_POINT * r + torsion(nonce_t)).compress();
        let message = change_message(&CaseId([seed; 16]), &[key_t; 32]);
        let wide = sha512(&[nonce.as_bytes(), key.as_bytes(), &message]);
        let k = Scalar::from_bytes_mod_order_wide(&wide);
        let s = r + k * a + Scalar::from(bump);
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(nonce.as_bytes());
        signature[32..].copy_from_slice(s.as_bytes());
        ChangeSignature {
            author: DeviceId(key.to_bytes()),
            message,
            signature,
        }
    }

    /// What must hold for devices to converge: a change signature gets the same answer
    /// alone and in any batch (decision 0013). ed25519-dalek 2.2's `verify_batch`
    /// (used up to this revision) failed it: without the cofactor, the torsion
    /// component cancels only when the batch's coefficient for this signature is a
    /// multiple of 8, and that coefficient depended on its companions.
    #[test]
    fn a_crafted_signature_gets_the_same_answer_in_every_batch() {
        let alone = all_valid(&[torsion_signature()]);
        assert!(alone, "the cofactored equation accepts it");
        let other = DeviceIdentity::from_seed(&[9; 32]).expect("seed");
        for n in 1..=64u8 {
            let mut batch: Vec<ChangeSignature> = (0..n).map(|i| signed(&other, i)).collect();
            batch.push(torsion_signature());
            assert_eq!(
                all_valid(&batch),
                alone,
                "accepted alone: {alone}; the answer changed with {n} honest companions"
            );
        }
    }

    /// One signature of a payload, by kind: 0 honest, 1 crafted with torsion
    /// components (valid by the cofactored equation), 2 crafted and invalid, 3 honest
    /// over another message, 4 the fixed crafted signature above.
    fn of_kind(kind: u8, n: u8, honest: &DeviceIdentity) -> (ChangeSignature, bool) {
        match kind {
            0 => (signed(honest, n), true),
            1 => (crafted(n, n % 8, n / 8 % 8, 0), true),
            2 => (crafted(n, n % 8, n / 8 % 8, 1 + n % 7), false),
            3 => {
                let mut c = signed(honest, n);
                c.message[20] ^= 1;
                (c, false)
            }
            _ => (torsion_signature(), true),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 24, ..proptest::prelude::ProptestConfig::default()
        })]

        /// Over payloads of honest, crafted-valid and invalid signatures in any order
        /// and number (across the 128 boundary): the payload passes exactly when each
        /// of its signatures passes alone, and alone each gets the cofactored answer.
        #[test]
        fn every_signature_gets_its_own_answer_in_any_batch(
            kinds in proptest::collection::vec((0u8..5, proptest::prelude::any::<u8>()), 1..300),
            bad_share in 0u8..4,
        ) {
            let honest = DeviceIdentity::from_seed(&[7; 32]).expect("seed");
            let mut expected_all = true;
            let mut checks = Vec::with_capacity(kinds.len());
            for (kind, n) in kinds {
                // Most payloads hold no invalid signature, so that the valid ones are
                // really tested together.
                let kind = if kind == 2 || kind == 3 { if bad_share == 0 { kind } else { 1 } } else { kind };
                let (check, expected) = of_kind(kind, n, &honest);
                proptest::prop_assert_eq!(all_valid(std::slice::from_ref(&check)), expected);
                expected_all &= expected;
                checks.push(check);
            }
            proptest::prop_assert_eq!(all_valid(&checks), expected_all);
        }
    }

    #[test]
    fn canonical_point_matches_decode_and_encode() {
        let mut samples: Vec<[u8; 32]> = Vec::new();
        // Every y below 19 and its second spelling y + p, with either sign bit.
        for y in 0u8..19 {
            let mut low = [0u8; 32];
            low[0] = y;
            let mut high = [0xffu8; 32];
            high[0] = 0xed + y;
            high[31] = 0x7f;
            samples.extend([low, high]);
        }
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        samples.push(minus_one);
        for n in 0..=255u8 {
            samples.push(DeviceIdentity::from_seed(&[n; 32]).expect("seed").id().0);
            samples.push(crate::crypto::sha256(&[n]));
        }
        let signed_too: Vec<[u8; 32]> = samples
            .iter()
            .map(|s| {
                let mut s = *s;
                s[31] ^= 0x80;
                s
            })
            .collect();
        samples.extend(signed_too);
        let mut non_canonical_points = 0;
        for bytes in samples {
            if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                let round_trips = point.compress().to_bytes() == bytes;
                assert_eq!(canonical_point(&bytes), round_trips, "{bytes:?}");
                non_canonical_points += usize::from(!round_trips);
            }
        }
        assert!(non_canonical_points >= 4, "the edge cases were exercised");
    }

    /// `R` = the identity point, `s = k·a`: valid by the cofactored equation when `R`
    /// is spelled canonically; refused, alone and in a batch, for each of its other
    /// spellings (sign bit set; y = p + 1).
    #[test]
    fn non_canonical_nonce_points_are_refused_in_every_batch() {
        let a = Scalar::from_bytes_mod_order([3; 32]);
        let key = (ED25519_BASEPOINT_POINT * a).compress();
        let message = change_message(&CaseId([4; 16]), &[5; 32]);
        let with_nonce = |r: [u8; 32]| {
            let wide = sha512(&[&r, key.as_bytes(), &message]);
            let s = Scalar::from_bytes_mod_order_wide(&wide) * a;
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&r);
            signature[32..].copy_from_slice(s.as_bytes());
            ChangeSignature {
                author: DeviceId(key.to_bytes()),
                message: message.clone(),
                signature,
            }
        };
        let mut canonical = [0u8; 32];
        canonical[0] = 1;
        let mut signed_zero = canonical;
        signed_zero[31] = 0x80;
        let mut y_plus_p = [0xffu8; 32];
        y_plus_p[0] = 0xee;
        y_plus_p[31] = 0x7f;
        let other = DeviceIdentity::from_seed(&[9; 32]).expect("seed");
        for (r, expected) in [(canonical, true), (signed_zero, false), (y_plus_p, false)] {
            assert!(CompressedEdwardsY(r).decompress().is_some());
            assert_eq!(all_valid(&[with_nonce(r)]), expected);
            for n in [1u8, 7, 127, 200] {
                let mut batch: Vec<ChangeSignature> = (0..n).map(|i| signed(&other, i)).collect();
                batch.insert(usize::from(n) / 2, with_nonce(r));
                assert_eq!(all_valid(&batch), expected, "{n} companions");
            }
        }
        // A scalar s not below ℓ is refused too (ℓ + s spells the same scalar).
        let mut check = signed(&other, 1);
        let mut s = [0u8; 32];
        s.copy_from_slice(&check.signature[32..]);
        let s_plus_l = Scalar::from_bytes_mod_order(s).to_bytes();
        let l: [u8; 32] = unhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .try_into()
            .expect("32");
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s_plus_l[i]) + u16::from(l[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        check.signature[32..].copy_from_slice(&sum);
        assert!(!all_valid(&[check]));
    }

    #[test]
    fn device_keys_must_be_canonical_and_not_of_small_order() {
        let me = DeviceIdentity::generate().expect("id");
        assert!(device_key_point(&me.id().0).is_some());
        for i in 0..8 {
            assert!(device_key_point(&torsion(i).compress().to_bytes()).is_none());
        }
        // A point of large order whose y is below 19, spelled as y + p.
        let y = (2u8..19)
            .find(|&y| {
                let mut b = [0u8; 32];
                b[0] = y;
                CompressedEdwardsY(b)
                    .decompress()
                    .is_some_and(|p| !p.is_small_order())
            })
            .expect("such a y exists");
        let mut canonical = [0u8; 32];
        canonical[0] = y;
        let mut other = [0xffu8; 32];
        other[0] = 0xed + y;
        other[31] = 0x7f;
        assert!(device_key_point(&canonical).is_some());
        assert!(CompressedEdwardsY(other).decompress().is_some());
        assert!(device_key_point(&other).is_none());
    }
}
