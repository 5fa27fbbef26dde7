//! The store's side of sync, one concern per module:
//!
//! - [`group`]: creating and joining a group, invitations, revocation, roles and case
//!   assignments, and this device's own rights checks;
//! - [`envelopes`]: opening what another device sent and sealing what this one sends;
//! - [`outgoing`]: this device's state and the payload a peer lacks;
//! - [`bundle`]: bundles (files of changes) exported and imported;
//! - [`live`]: live sessions between two devices online together;
//! - [`receive`]: every incoming payload, verified into a plan without I/O and then
//!   applied (decision 0030);
//! - [`quarantine`]: changes by revoked devices waiting for a coordinator;
//! - [`batch`]: the one transaction helper that writes documents and sync deltas with
//!   one `fdatasync`.

mod batch;
mod bundle;
mod envelopes;
mod group;
mod live;
mod outgoing;
mod quarantine;
mod receive;
#[cfg(test)]
mod vectors_live;

pub(super) use self::bundle::cursor_meta_key;
pub use self::bundle::BundleScope;
pub(super) use self::envelopes::{note_unopened, note_waiting};
pub use self::group::Team;
#[cfg(test)]
pub(crate) use self::group::LOCAL_CHECKS_OFF;
pub use self::live::LiveSession;
pub(super) use self::outgoing::Members;
pub use self::quarantine::Quarantined;
pub use self::receive::SyncReport;
