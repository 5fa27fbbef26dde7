//! Delivering a group key to a member who is not online: sealed to the member's
//! long-term X25519 key.
//!
//! Each device has a static X25519 key pair derived from its Ed25519 identity
//! (`HKDF-SHA256(salt = "caravan/x25519/v1", ikm = PKCS#8 of the device key)`), and
//! publishes the public half in a signed membership record. To deliver an epoch key,
//! a coordinator's device makes an *ephemeral* X25519 key pair, agrees a
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
//! The primitives (X25519, HKDF, ChaCha20-Poly1305) are in `crate::crypto`.

use zeroize::Zeroizing;

use crate::crypto::aead::AeadKey;
use crate::crypto::hkdf::hkdf_sha256;
use crate::crypto::x25519::agree_ephemeral;
use crate::error::{Error, Result};
use crate::identity::X25519Secret;

/// Length of a sealed epoch key.
pub(crate) const SEALED_KEY_LEN: usize = 32 + 32 + 16;

const LABEL: &[u8] = b"caravan/rekey/v1";

/// What a sealed epoch key is bound to (after the label): group, epoch, recipient.
fn key_context(group: &[u8; 16], epoch: u32, recipient: &[u8; 32]) -> Vec<u8> {
    [group.as_slice(), &epoch.to_be_bytes(), recipient].concat()
}

fn derive_key(
    label: &[u8],
    shared: &[u8],
    eph: &[u8; 32],
    recipient_x: &[u8; 32],
) -> Result<AeadKey> {
    let k = hkdf_sha256::<32>(label, shared, &[eph, recipient_x])?;
    Ok(AeadKey::new(&k))
}

/// Seals `plain` to the holder of the X25519 key `recipient_x`, bound to `label` and
/// `context` (AEAD associated data): `ephemeral public (32) ‖ ciphertext ‖ tag (16)`.
pub(crate) fn seal_to(
    label: &[u8],
    context: &[u8],
    recipient_x: &[u8; 32],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let eph = agree_ephemeral(recipient_x)?
        .ok_or_else(|| Error::invalid("member key", "the X25519 key is not usable"))?;
    let key = derive_key(label, eph.shared.as_ref(), &eph.public, recipient_x)?;
    let mut sealed = plain.to_vec();
    key.seal_append_tag(&[label, context].concat(), &mut sealed)?;
    let mut out = eph.public.to_vec();
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
    let shared = secret.agree(&eph)?;
    let key = derive_key(label, shared.as_ref(), &eph, &secret.public()).ok()?;
    let mut buf = Zeroizing::new(sealed[32..].to_vec());
    let n = key.open_in_place(&[label, context].concat(), &mut buf)?;
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
        let alice = X25519Secret::derive(b"alice pkcs8 stand-in").expect("derive");
        let bob = X25519Secret::derive(b"bob pkcs8 stand-in").expect("derive");
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
            X25519Secret::derive(b"alice pkcs8 stand-in")
                .expect("derive")
                .public(),
            alice.public()
        );
        assert!(format!("{alice:?}").contains("redacted"));
    }
}
