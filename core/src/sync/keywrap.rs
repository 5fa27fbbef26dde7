//! Delivering a group key to a member who is not online: sealed to the member's
//! long-term X25519 key.
//!
//! Each device has a static X25519 key pair derived from its Ed25519 identity
//! (`HKDF-SHA256(salt = "caravan/x25519/v1", ikm = PKCS#8 of the device key)`), and
//! publishes the public half in a signed membership record. To deliver an epoch key,
//! a coordinator's device makes an *ephemeral* X25519 key pair with ring, agrees a
//! secret with the recipient's static public key and seals the epoch key:
//!
//! ```text
//! shared  = X25519(ephemeral secret, recipient public)
//! k       = HKDF-SHA256(salt = "caravan/rekey/v1", ikm = shared,
//!                       info = ephemeral public ‖ recipient public)
//! sealed  = ephemeral public (32) ‖ ChaCha20-Poly1305(k, nonce = 0,
//!              aad = "caravan/rekey/v1" ‖ group ‖ epoch u32 BE ‖ recipient device key,
//!              plaintext = epoch key (32))                       ; 80 bytes in all
//! ```
//!
//! ring only offers ephemeral X25519, so the recipient's side (a static secret) uses
//! `x25519-dalek` (`docs/decisions/0011-membership-log.md`).

use ring::{aead, agreement, hkdf};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of a sealed epoch key.
pub(crate) const SEALED_KEY_LEN: usize = 32 + 32 + 16;

const LABEL: &[u8] = b"caravan/rekey/v1";

/// A device's static X25519 secret, derived from its identity. Zeroized on drop.
pub(crate) struct X25519Secret(StaticSecret);

impl X25519Secret {
    /// Derives the secret from the device's PKCS#8 identity bytes.
    pub(crate) fn derive(pkcs8: &[u8]) -> X25519Secret {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"caravan/x25519/v1").extract(pkcs8);
        let mut seed = Zeroizing::new([0u8; 32]);
        fill(&prk, &[b"static"], &mut seed[..]);
        X25519Secret(StaticSecret::from(*seed))
    }

    /// The public half, to publish in the membership log.
    pub(crate) fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

impl std::fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X25519Secret(<redacted>)")
    }
}

fn fill(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8]) {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    match prk.expand(info, Len(out.len())) {
        Ok(okm) => {
            if okm.fill(out).is_err() {
                unreachable!("the requested length is what was asked for")
            }
        }
        Err(_) => unreachable!("HKDF-SHA256 expands to 32 bytes"),
    }
}

/// What a sealed epoch key is bound to (after the label): group, epoch, recipient.
fn key_context(group: &[u8; 16], epoch: u32, recipient: &[u8; 32]) -> Vec<u8> {
    [group.as_slice(), &epoch.to_be_bytes(), recipient].concat()
}

fn derive_key(
    label: &[u8],
    shared: &[u8],
    eph: &[u8; 32],
    recipient_x: &[u8; 32],
) -> Result<aead::LessSafeKey> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, label).extract(shared);
    let mut k = Zeroizing::new([0u8; 32]);
    fill(&prk, &[eph, recipient_x], &mut k[..]);
    let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &k[..])
        .map_err(|_| Error::Internal("key wrapping key".into()))?;
    Ok(aead::LessSafeKey::new(unbound))
}

/// Seals `plain` to the holder of the X25519 key `recipient_x`, bound to `label` and
/// `context` (AEAD associated data): `ephemeral public (32) ‖ ciphertext ‖ tag (16)`.
pub(crate) fn seal_to(
    label: &[u8],
    context: &[u8],
    recipient_x: &[u8; 32],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let rng = ring::rand::SystemRandom::new();
    let eph = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng)
        .map_err(|_| Error::Internal("the system random generator failed".into()))?;
    let eph_pub: [u8; 32] = eph
        .compute_public_key()
        .map_err(|_| Error::Internal("x25519 public key".into()))?
        .as_ref()
        .try_into()
        .map_err(|_| Error::Internal("x25519 public key length".into()))?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, recipient_x);
    let key = agreement::agree_ephemeral(eph, &peer, |shared| {
        derive_key(label, shared, &eph_pub, recipient_x)
    })
    .map_err(|_| Error::invalid("member key", "the X25519 key is not usable"))??;
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key([0; 12]),
        aead::Aad::from([label, context].concat()),
        &mut sealed,
    )
    .map_err(|_| Error::Internal("sealing failed".into()))?;
    let mut out = eph_pub.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`seal_to`] sealed to this device; `None` if it is not for this device,
/// for another label or context, or was tampered with.
pub(crate) fn open_from(
    label: &[u8],
    context: &[u8],
    sealed: &[u8],
    secret: &X25519Secret,
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 32 + 16 {
        return None;
    }
    let eph: [u8; 32] = sealed[..32].try_into().ok()?;
    let shared = secret.0.diffie_hellman(&PublicKey::from(eph));
    if !shared.was_contributory() {
        return None;
    }
    let key = derive_key(label, shared.as_bytes(), &eph, &secret.public()).ok()?;
    let mut buf = Zeroizing::new(sealed[32..].to_vec());
    let n = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key([0; 12]),
            aead::Aad::from([label, context].concat()),
            &mut buf,
        )
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

/// Seals `epoch_key` to a member: `recipient` is its device key, `recipient_x` its
/// published X25519 public key.
pub(crate) fn seal_key(
    epoch_key: &[u8; 32],
    group: &[u8; 16],
    epoch: u32,
    recipient: &[u8; 32],
    recipient_x: &[u8; 32],
) -> Result<Vec<u8>> {
    seal_to(
        LABEL,
        &key_context(group, epoch, recipient),
        recipient_x,
        epoch_key,
    )
}

/// Opens a key sealed to this device; `None` if it is not for this device or was
/// tampered with.
pub(crate) fn open_key(
    sealed: &[u8],
    group: &[u8; 16],
    epoch: u32,
    me: &[u8; 32],
    secret: &X25519Secret,
) -> Option<Zeroizing<[u8; 32]>> {
    if sealed.len() != SEALED_KEY_LEN {
        return None;
    }
    let plain = open_from(LABEL, &key_context(group, epoch, me), sealed, secret)?;
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(plain.get(..32)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_for_its_recipient_group_and_epoch() {
        let alice = X25519Secret::derive(b"alice pkcs8 stand-in");
        let bob = X25519Secret::derive(b"bob pkcs8 stand-in");
        let key = [7u8; 32];
        let (group, me) = ([1u8; 16], [2u8; 32]);
        let sealed = seal_key(&key, &group, 3, &me, &alice.public()).expect("seal");
        assert_eq!(sealed.len(), SEALED_KEY_LEN);
        assert_eq!(
            open_key(&sealed, &group, 3, &me, &alice).as_deref(),
            Some(&key)
        );
        assert!(open_key(&sealed, &group, 3, &me, &bob).is_none());
        assert!(open_key(&sealed, &group, 4, &me, &alice).is_none());
        assert!(open_key(&sealed, &[9; 16], 3, &me, &alice).is_none());
        assert!(open_key(&sealed, &group, 3, &[3; 32], &alice).is_none());
        let mut bad = sealed.clone();
        bad[40] ^= 1;
        assert!(open_key(&bad, &group, 3, &me, &alice).is_none());
        // Any plaintext, bound to its label and context.
        let boxed = seal_to(b"label", b"ctx", &alice.public(), b"hello").expect("seal");
        assert_eq!(
            open_from(b"label", b"ctx", &boxed, &alice)
                .as_deref()
                .map(Vec::as_slice),
            Some(&b"hello"[..])
        );
        assert!(open_from(b"label", b"other", &boxed, &alice).is_none());
        assert!(open_from(b"other", b"ctx", &boxed, &alice).is_none());
        assert!(open_from(b"label", b"ctx", &boxed, &bob).is_none());
        // Deterministic derivation; the secret never prints.
        assert_eq!(
            X25519Secret::derive(b"alice pkcs8 stand-in").public(),
            alice.public()
        );
        assert!(format!("{alice:?}").contains("redacted"));
    }
}
