//! # caravan-core
//!
//! The core of Caravan: anonymized human-trafficking case records that merge without
//! conflicts (Automerge), an encrypted crash-safe store for them on a phone, and the
//! rules that keep identifiers out (controlled vocabularies, note screening).
//!
//! ```no_run
//! use caravan_core::{CaseFilter, Edit, ScalarField, SetField, Store, StoreKey};
//! # fn main() -> caravan_core::Result<()> {
//! let key = StoreKey::generate()?; // apps keep this in the Android Keystore / iOS Keychain
//! let mut store = Store::create("/path/to/store", &key)?;
//! let id = store.add_case(&[
//!     Edit::set(ScalarField::Gender, "Feminine"),
//!     Edit::add(SetField::Citizenship, "KZ"),
//!     Edit::add(SetField::MeansOfControl, "DebtBondage"),
//!     Edit::note("Worked on a cotton farm; documents taken by the employer."),
//! ])?;
//! let cases = store.list(&CaseFilter::default());
//! assert_eq!(cases[0].id, id);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod codec;
mod crypto;
pub mod dedup;
pub mod error;
pub mod export;
mod identity;
mod ids;
pub mod import;
#[cfg(test)]
mod layers;
pub mod model;
mod parallel;
pub mod privacy;
pub mod store;
pub mod sync;
mod tombstone;
pub mod vocab;

pub use crypto::{KdfParams, StoreKey};
pub use error::{Error, Result};
pub use model::{
    assess, assess_answers, Assessment, CaseFilter, CaseId, CaseRecord, CaseSummary, Conflict,
    Consent, Edit, Note, Referral, ReferralEvent, RouteEvent, ScalarField, Screening, SetField,
    Timestamp, YearMonth,
};
#[cfg(feature = "webdav")]
pub use store::WebDavMailbox;
pub use store::{
    BundleScope, CheckReport, Damage, Dedup, FsMailbox, Handover, LedgerState, LiveSession,
    Mailbox, MailboxReport, PartnerAgreement, Partners, Progress, Quarantined, ReceiptCheck,
    RepairReport, ShareReport, Store, StoreOptions, SyncReport, Team, Tombstone,
    TombstoneSignature, MAX_FILES_PER_OUTBOX, MAX_OUTBOXES, MAX_READS_PER_OUTBOX,
};
pub use sync::LiveRefusal;
