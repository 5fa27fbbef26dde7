//! Sync between devices: identities, encrypted envelopes, bundles, live sessions.

mod identity;

pub use identity::{DeviceId, DeviceIdentity, PUBLIC_KEY_LEN, SIGNATURE_LEN};
mod admission;
pub mod envelope;
mod group;
mod keywrap;
pub mod qr;
mod refusal;
pub use refusal::{LiveRefusal, REFUSAL_LABEL};
mod remote;
pub(crate) mod rights;
pub(crate) mod signatures;
pub use remote::JoinRequest;
pub(crate) mod share;
pub use share::AgreementOffer;
#[cfg(test)]
mod vectors;
#[cfg(test)]
mod vectors_live;
#[cfg(test)]
mod vectors_membership;
#[cfg(test)]
mod vectors_sharing;

#[cfg(test)]
pub(crate) use group::CLOCK_AHEAD;
pub use group::{invitation_code, Invitation, Member, Role};
pub(crate) use group::{invitation_id, shown_name, GroupState, MemberOp, Membership, B32, B64};
mod message;

pub(crate) use identity::change_message;
#[cfg(test)]
pub(crate) use message::{decode_body, encode_body};
pub(crate) use message::{
    open as open_message, seal as seal_message, CaseChanges, LiveHeader, Payload,
};
