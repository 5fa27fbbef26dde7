//! Change signatures, checked many at a time.
//!
//! A first sync brings thousands of changes, each with its author's Ed25519 signature
//! (see [`super::change_message`]). They are checked with the *cofactored* equation,
//! alone or in batches of up to 128, so that a batch passes exactly when each of its
//! signatures passes alone and whether a change is accepted never depends on the
//! payload it arrives in (decision 0013). The equations, the encoding rules and the
//! rule for device keys are in `crate::crypto::cofactored`.
//!
//! If a batch fails, the whole payload is refused; the error does not say which change
//! (the sender is a member either way, and the store stays unchanged).

use super::DeviceId;
use crate::crypto::cofactored::{self, SignatureCheck};

/// One change signature to check: the author, the signed message
/// ([`super::change_message`]) and the signature.
pub(crate) struct ChangeSignature {
    /// The device that authored the change.
    pub(crate) author: DeviceId,
    /// What the author signed.
    pub(crate) message: Vec<u8>,
    /// The Ed25519 signature.
    pub(crate) signature: [u8; 64],
}

/// Whether every signature in `checks` verifies by the cofactored equation (see
/// `crate::crypto::cofactored`). The answer for each signature is the same alone and
/// in any batch.
pub(crate) fn all_valid(checks: &[ChangeSignature]) -> bool {
    let checks: Vec<SignatureCheck<'_>> = checks
        .iter()
        .map(|c| SignatureCheck {
            key: &c.author.0,
            message: &c.message,
            signature: &c.signature,
        })
        .collect();
    cofactored::all_valid(&checks)
}
