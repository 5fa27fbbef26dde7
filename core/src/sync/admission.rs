//! A single-use invitation admitted more than once: a *contested* invitation
//! (decision 0022, which replaces the ranking of decision 0016).
//!
//! Two valid `Admit` records on one invitation exist only when coordinators' devices
//! were apart: two coordinators admitted different devices, or a coordinator's phone
//! was restored from a copy taken before it admitted the first device and admitted a
//! second one. Nothing in the records tells which device was meant: the admission
//! time comes from a phone's clock (it may be behind, or both admissions may fall in
//! one second), and whatever a device writes after its admission to "use" it, an
//! intruder can write as well. So no admission of a contested invitation outranks
//! another. Every device applies the same rule to the same records:
//!
//! - every device a valid `Admit` names on the invitation is a member (so an honest
//!   member admitted first is never removed, demoted below a field worker or
//!   displaced by the other admission);
//! - while more than one of them is active, none of them has more than a field
//!   worker's rights: a coordinator invitation grants no coordinator rights, so the
//!   membership records its devices write (revoke, role, invite, admit) have no
//!   effect;
//! - a coordinator that is not itself contested decides by revoking the device that
//!   should not be a member: from that record on, the one left holds the
//!   invitation's role. The revoked device is cut off as any revoked device is.
//!
//! Every coordinator that learns of a contest is told in its sync report, naming
//! both devices.

use std::collections::BTreeMap;

use super::group::{MemberInfo, Role};
use crate::identity::DeviceId;

/// The rights a device admitted on a contested invitation holds until the contest is
/// decided: at most a field worker's.
pub(super) fn capped(role: Role) -> Role {
    match role {
        Role::Coordinator => Role::FieldWorker,
        other => other,
    }
}

/// Sets the role of the active devices admitted on one invitation: the invitation's
/// `role` when one is left, the capped role while more than one is active.
pub(super) fn settle(
    members: &mut BTreeMap<DeviceId, MemberInfo>,
    role: Role,
    admitted: &[DeviceId],
) {
    let live: Vec<DeviceId> = admitted
        .iter()
        .filter(|d| members.get(d).is_some_and(|m| m.active))
        .copied()
        .collect();
    let role = if live.len() > 1 { capped(role) } else { role };
    for d in live {
        if let Some(m) = members.get_mut(&d) {
            m.role = role;
        }
    }
}
