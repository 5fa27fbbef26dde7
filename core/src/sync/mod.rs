//! Sync between devices: identities, encrypted envelopes, bundles, live sessions.

pub use crate::identity::{DeviceId, DeviceIdentity, PUBLIC_KEY_LEN, SIGNATURE_LEN};
mod admission;
/// The envelope codec: public only to the fuzz targets (feature `fuzz`); apps and
/// the CLI reach it through the store and [`check_message`].
#[cfg(feature = "fuzz")]
pub mod envelope;
#[cfg(not(feature = "fuzz"))]
pub(crate) mod envelope;
mod group;
mod keywrap;
pub mod qr;
pub use crate::error::{LiveRefusal, REFUSAL_LABEL};
mod remote;
pub(crate) mod rights;
pub(crate) mod signatures;
pub use remote::JoinRequest;
pub(crate) mod share;
pub use share::AgreementOffer;
#[cfg(test)]
pub(crate) mod vectors;
#[cfg(test)]
pub(crate) mod vectors_membership;
#[cfg(test)]
mod vectors_sharing;

pub use group::{invitation_code, Invitation, Member, Role};
pub(crate) use group::{invitation_id, shown_name, GroupState, MemberOp, Membership};
#[cfg(test)]
pub(crate) use group::{MemberRecord, CLOCK_AHEAD};
mod message;

pub(crate) use crate::identity::change_message;
#[cfg(test)]
pub(crate) use message::{decode_body, encode_body};
pub(crate) use message::{
    open as open_message, seal as seal_message, CaseChanges, LiveHeader, MailboxTag, Payload,
};

/// Checks that `bytes` are a Caravan message (an envelope of a protocol version and
/// cipher suite this build speaks) without opening it: a photo or a truncated file is
/// refused as such (typed), before a store looks for a key that opens it.
pub fn check_message(bytes: &[u8]) -> crate::error::Result<()> {
    envelope::parse(bytes).map(|_| ())
}
