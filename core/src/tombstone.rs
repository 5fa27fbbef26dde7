//! Tombstones: the signed, permanent record that a case was erased. Shared by the
//! store (which keeps them forever) and the sync protocol (which carries them), so it
//! sits below both.

use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, Timestamp};
use crate::vocab::ErasureReason;

/// Why a case was erased; kept forever so the erasure can propagate and cannot be
/// undone by a stale replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The erased case.
    #[serde(rename = "case")]
    pub case: CaseId,
    /// When it was erased.
    #[serde(rename = "erased_at")]
    pub erased_at: Timestamp,
    /// Why.
    #[serde(rename = "reason")]
    pub reason: ErasureReason,
    /// The erasing device and its signature, so other devices can check who erased.
    #[serde(rename = "signature", default)]
    pub signature: Option<TombstoneSignature>,
}

/// Who erased a case, and their signature over
/// `"caravan/erase/v1" ‖ case ‖ erased_at (i64 BE) ‖ reason code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TombstoneSignature {
    /// The erasing device's public key.
    #[serde(rename = "by", with = "serde_bytes")]
    pub by: [u8; 32],
    /// Its Ed25519 signature.
    #[serde(rename = "sig", with = "serde_bytes")]
    pub sig: [u8; 64],
}

impl Tombstone {
    /// The bytes a tombstone signature covers.
    pub(crate) fn signed_bytes(&self) -> Vec<u8> {
        use crate::vocab::Vocabulary;
        [
            b"caravan/erase/v1".as_slice(),
            &self.case.0,
            &self.erased_at.0.to_be_bytes(),
            self.reason.code().as_bytes(),
        ]
        .concat()
    }
}
