//! Sync between devices: identities, encrypted envelopes, bundles, live sessions.

pub use crate::identity::{DeviceId, DeviceIdentity, PUBLIC_KEY_LEN, SIGNATURE_LEN};
mod admission;
pub mod envelope;
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
    open as open_message, seal as seal_message, CaseChanges, LiveHeader, Payload,
};
