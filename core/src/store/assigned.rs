//! Which cases a coordinator assigned to this device: for a case list's "assigned to
//! me" filter.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use super::*;

impl<S: Borrow<Store>> Team<S> {
    /// The cases assigned to this device (empty outside a group). Derives the
    /// membership from its records once: call it once per listing, not per case.
    pub fn cases_assigned_to_me(&self) -> BTreeSet<CaseId> {
        let me = self.device_id();
        self.store()
            .index
            .sync
            .group
            .as_ref()
            .map(|g| {
                g.view()
                    .assigned
                    .into_iter()
                    .filter(|(_, devices)| devices.contains(&me))
                    .map(|(case, _)| case)
                    .collect()
            })
            .unwrap_or_default()
    }
}
