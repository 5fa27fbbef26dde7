//! Edits: the only way a case record changes.
//!
//! An edit names a field and gives codes as strings (the same strings the CLI and
//! the mobile apps pass). [`CaseDoc::apply`](super::CaseDoc::apply) validates every
//! edit of a batch first (vocabulary codes, note screening, lengths) and applies the
//! batch all-or-nothing.

use serde::{Deserialize, Serialize};

use super::{ScalarField, SetField, YearMonth};

/// One change to a case record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    /// Sets a single-valued field to a code, or clears it (`None`). Setting a field
    /// that has a conflict resolves the conflict.
    Set {
        /// Which field.
        field: ScalarField,
        /// The new code, or `None` to clear.
        code: Option<String>,
    },
    /// Adds a code to a set-valued field.
    Add {
        /// Which field.
        field: SetField,
        /// The code to add.
        code: String,
    },
    /// Removes a code from a set-valued field.
    Remove {
        /// Which field.
        field: SetField,
        /// The code to remove.
        code: String,
    },
    /// Records consent; `None` leaves that part unchanged.
    Consent {
        /// Consent to share with partner agencies.
        share_with_partners: Option<bool>,
        /// Consent to include in statistics.
        include_in_statistics: Option<bool>,
    },
    /// Records the answer to one screening indicator.
    Answer {
        /// Indicator code.
        indicator: String,
        /// Answer code (`Yes`, `No`, `DontKnow`, `Declined`).
        answer: String,
    },
    /// Appends a route event.
    AddRouteEvent {
        /// `Recruitment`, `Transit` or `Exploitation`.
        kind: String,
        /// Country code (alpha-2 or alpha-3).
        country: String,
        /// Year or year-month, if known.
        when: Option<YearMonth>,
    },
    /// Appends a dated note (screened for identifiers first).
    AddNote {
        /// The note text.
        text: String,
    },
    /// Adds a referral with status `Requested`.
    AddReferral {
        /// Service type code.
        service: String,
        /// Partner organisation name.
        partner: String,
        /// Organisation type code.
        organisation_type: Option<String>,
        /// Referral reason code.
        reason: Option<String>,
    },
    /// Appends a status change to an existing referral.
    SetReferralStatus {
        /// The referral's identifier.
        referral: String,
        /// New status code.
        status: String,
    },
    /// Sets the month (or year) the case was registered, e.g. for a case carried over
    /// from an earlier register; `None` goes back to the day the case was typed in
    /// (`created_at`). Month precision at most, never later than the current month.
    SetRegistration {
        /// Year or year-month of registration.
        when: Option<YearMonth>,
    },
    /// Sets the case's blind index for cross-agency duplicate detection, or removes it
    /// (`None`). It holds keyed one-way tokens only, never the identifying details; see
    /// [`crate::dedup`] and [`Dedup::set_blind_index`](crate::Dedup::set_blind_index).
    SetBlindIndex {
        /// The index, or `None` to remove it.
        index: Option<crate::dedup::BlindIndex>,
    },
}

impl Edit {
    /// Shorthand for [`Edit::Set`] with a value.
    pub fn set(field: ScalarField, code: impl Into<String>) -> Edit {
        Edit::Set {
            field,
            code: Some(code.into()),
        }
    }

    /// Shorthand for [`Edit::Add`].
    pub fn add(field: SetField, code: impl Into<String>) -> Edit {
        Edit::Add {
            field,
            code: code.into(),
        }
    }

    /// Shorthand for [`Edit::AddNote`].
    pub fn note(text: impl Into<String>) -> Edit {
        Edit::AddNote { text: text.into() }
    }
}
