//! # caravan-ffi
//!
//! Thin UniFFI wrappers over `caravan-core` for the Android and iOS apps (and Python,
//! used by the binding tests). Everything the apps call is here; no logic is: each
//! exported function converts its arguments, calls the core and converts the result.
//!
//! - [`CaravanStore`]: open or create an encrypted store with a 32-byte key from the
//!   platform keystore; cases (add, edit, notes, referrals, screening, erasure), groups
//!   (create, invite, join, members), sync (bundles, QR frames, the mailbox folder,
//!   live sessions whose bytes the app carries), exports, panic wipe ([`panic_wipe_dir`]
//!   for a store that is not open).
//! - Vocabularies and labels ([`vocabularies`], [`label`], [`code_of`]) to build forms and
//!   to label case summaries, whose values are [`VocabularyCode`]s.
//! - [`ChangeListener`] and [`ProgressListener`]: callbacks the app implements.
//! - [`CaravanError`]: the one error the app sees (`CaravanException` in Kotlin).
//!   No panic crosses the boundary: every call runs under `catch_unwind` and a panic
//!   arrives as `CaravanError::Internal` (see [`debug_force_panic`]).
//!
//! Keys cross the boundary as bytes and are wiped on the Rust side after use; no key,
//! passphrase or invitation appears in an error message or `Debug` output.
//!
//! This crate cannot `forbid(unsafe_code)` like the rest of the workspace: the
//! scaffolding UniFFI's macros generate here is `extern "C"` code that uses `unsafe`.
//! The crate's own code has no `unsafe` (see `docs/decisions/0008-ffi-bindings.md`).
//!
//! Bindings are generated in library mode by `bindings/generate.sh`; the Kotlin and
//! Python tests in `bindings/tests/` run the realistic flow on the desktop.

uniffi::setup_scaffolding!();

/// The allocator of the apps' library (docs/decisions/0014-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod error;
mod export;
mod handover;
mod import;
mod listener;
mod listing;
mod mailbox;
mod messages;
mod model;
mod partner;
mod progress;
mod store;
mod sync;
mod table;
mod vocab;

pub use error::{CaravanError, IdentifierType, NoteFinding, Result};
pub use export::{ExportFormat, ExportInput, ExportOptions, RecordExportResult, TableExportResult};
pub use handover::HandoverImport;
pub use import::{ImportBadRow, SpreadsheetImport};
pub use listener::{ChangeListener, ProgressListener};
pub use listing::{CasePage, CaseQuery, CaseSort};
pub use mailbox::{Mailbox, MailboxError};
pub use model::{
    CaseDetails, CaseEdit, CaseListFilter, CaseNote, CaseReferral, CaseSummary, FieldConflict,
    IndicatorAnswer, ReferralStatusChange, RouteStep, ScalarField, ScreeningAssessment, SetField,
};
pub use partner::{AgreementOfferInfo, PartnerAgreementInfo, ShareSummary};
pub use store::{
    repair_store, repair_store_with_passphrase, CaravanStore, ErasedCase, StoreDamage, StoreRepair,
};
pub use sync::{
    invitation_code, qr_frame_to_text, qr_split, BundleScope, GroupMember, JoinRequestInfo,
    LiveStart, LiveSync, MailboxSummary, MemberRole, QrReassembler, QuarantinedCase, ScanProgress,
    SyncSummary,
};
pub use table::CaseTable;
pub use vocab::{
    age_band_is_minor, code_of, indicator_category, label, scalar_field_key,
    scalar_field_vocabulary, set_field_key, set_field_vocabulary, vocabularies, vocabulary,
    vocabulary_labels, VocabularyCode, VocabularyEntry, VocabularyInfo, VocabularyLabels,
};

use caravan_core::vocab::{Answer, Indicator, Vocabulary, Vulnerability};

use crate::error::guard;

/// A fresh random 32-byte store key, to keep in the Android Keystore / iOS Keychain.
#[uniffi::export]
pub fn generate_store_key() -> Result<Vec<u8>> {
    guard(|| Ok(caravan_core::StoreKey::generate()?.expose_bytes().to_vec()))
}

/// Panic wipe of the store in `dir` when no handle to it is open (for an open store,
/// call `CaravanStore.panic_wipe()`): no key opens it afterwards and its files are
/// deleted; files that are not the store's are kept. A directory with no store is left
/// as it is. Deleting the key from the platform keystore stays the app's job.
#[uniffi::export]
pub fn panic_wipe_dir(dir: String) -> Result<()> {
    guard(|| Ok(caravan_core::Store::panic_wipe(&dir)?))
}

/// Screens a note for likely personal identifiers as the worker types, so the app can
/// highlight them; an empty list means the note would be accepted.
#[uniffi::export]
pub fn screen_note(text: String) -> Vec<NoteFinding> {
    caravan_core::privacy::find_identifiers(&text)
        .iter()
        .map(|f| NoteFinding::in_text(f, &text))
        .collect()
}

/// Assesses screening answers before they are stored (e.g. while the questionnaire
/// is on screen). `minor`: the person is or was a minor when exploited.
#[uniffi::export]
pub fn assess_answers(
    answers: Vec<IndicatorAnswer>,
    vulnerabilities: Vec<String>,
    minor: bool,
) -> Result<ScreeningAssessment> {
    guard(|| {
        let mut screening = caravan_core::Screening::default();
        for a in answers {
            screening.indicators.insert(
                Indicator::parse_known(&a.indicator)?,
                Answer::parse_known(&a.answer)?,
            );
        }
        for v in vulnerabilities {
            screening
                .vulnerabilities
                .insert(Vulnerability::parse_known(&v)?);
        }
        Ok(caravan_core::assess_answers(&screening, minor).into())
    })
}

/// The version of the Caravan core in this library.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Panics inside the boundary's guard, for tests proving that a panic arrives as
/// `CaravanError::Internal` (Kotlin `CaravanException.Internal`) and never crosses the
/// FFI. It changes nothing.
#[uniffi::export]
pub fn debug_force_panic() -> Result<()> {
    guard(|| panic!("forced panic for testing the FFI boundary"))
}
