//! The anonymized case record: its fields, edits, Automerge layout and screening.

mod doc;
mod edit;
mod fields;
mod ids;
#[cfg(test)]
mod layout_spec;
mod record;
mod screening;
mod summary;

pub(crate) use doc::{stored_chunk, CaseDoc, ChangeSig, DUPLICATE_SEQ};
pub use doc::{validate_edits, MAX_NOTE_CHARS, MAX_PARTNER_CHARS};
pub use edit::Edit;
pub use fields::{ScalarField, SetField};
pub(crate) use ids::hex_encode;
#[cfg(test)]
pub(crate) use ids::FIXED_NOW;
pub use ids::{CaseId, Timestamp, YearMonth};
pub use record::{
    CaseRecord, Conflict, Consent, Note, Referral, ReferralEvent, RouteEvent, Screening,
};
pub use screening::{assess, assess_answers, Assessment};
pub use summary::{CaseFilter, CaseSummary};
