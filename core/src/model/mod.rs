//! The anonymized case record: its fields, edits, Automerge layout and screening.

mod doc;
mod edit;
mod fields;
#[cfg(test)]
mod layout_spec;
mod record;
mod screening;
mod stats;
mod summary;

#[cfg(test)]
pub(crate) use crate::ids::FIXED_NOW;
pub use crate::ids::{CaseId, Timestamp, YearMonth};
pub(crate) use doc::{stored_chunk, CaseDoc, ChangeSig, DUPLICATE_SEQ};
pub use doc::{validate_edits, MAX_NOTE_CHARS, MAX_PARTNER_CHARS};
pub use edit::Edit;
pub use fields::{ScalarField, SetField};
pub use record::{
    CaseRecord, Conflict, Consent, Note, Referral, ReferralEvent, RouteEvent, Screening,
};
pub use screening::{assess, assess_answers, Assessment};
pub use stats::{Excluded, StatRecord, StatReferral, StatRouteEvent};
pub(crate) use stats::{Holders, StoredStats};
pub use summary::{CaseFilter, CaseSummary};
