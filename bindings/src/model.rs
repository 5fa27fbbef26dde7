//! The case model as the apps see it: edits in, summaries and records out.
//!
//! Categorical values cross the boundary as their stable vocabulary **codes**
//! (`"DebtBondage"`), except in [`CaseSummary`], where they are [`VocabularyCode`]s
//! (indices into the vocabularies, so long lists stay cheap); the apps turn either into
//! labels with [`crate::vocab`]. Times are milliseconds since the Unix epoch (UTC).

use caravan_core as core_;
use caravan_core::vocab::{AgeBand, CaseStatus, Country, ExploitationType, Vocabulary};
use caravan_core::{CaseId, Timestamp, YearMonth};

use crate::error::{CaravanError, Result};
use crate::vocab::{ToVocabularyCode, VocabularyCode};

macro_rules! mirror_fields {
    ($(#[$meta:meta])* $name:ident => $core:ty { $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl From<$name> for $core {
            fn from(f: $name) -> $core {
                match f { $( $name::$variant => <$core>::$variant ),+ }
            }
        }

        impl From<$core> for $name {
            fn from(f: $core) -> $name {
                match f { $( <$core>::$variant => $name::$variant ),+ }
            }
        }
    };
}

mirror_fields! {
    /// A single-valued field of a case (concurrent edits become a visible conflict).
    ScalarField => core_::ScalarField {
        /// Case-management status (`case_status`).
        CaseStatus,
        /// Possible / actual / not a victim of trafficking (`trafficking_status`).
        TraffickingStatus,
        /// Which kind of organisation decided the trafficking status (`decision_organisation`).
        DecidedBy,
        /// Gender (`gender`).
        Gender,
        /// CTDC age band, never an exact age (`age_band`).
        AgeBand,
        /// Adult or minor when registered (`majority_status`).
        MajorityAtRegistration,
        /// Adult or minor when exploited (`majority_status`).
        MajorityAtExploitation,
        /// Adult or minor when entering the country of exploitation (`majority_status`).
        MajorityAtEntry,
        /// Relationship to the trafficker (`relationship_to_trafficker`).
        RelationshipToTrafficker,
    }
}

mirror_fields! {
    /// A set-valued field of a case (concurrent additions all survive).
    SetField => core_::SetField {
        /// Citizenship(s), ISO 3166-1 alpha-2 (`country`).
        Citizenship,
        /// Types of exploitation (`exploitation_type`).
        Exploitation,
        /// Forced-labour industries (`labour_industry`).
        LabourIndustry,
        /// Types of sexual exploitation (`sexual_exploitation_type`).
        SexualExploitation,
        /// Means of control (`means_of_control`).
        MeansOfControl,
        /// Recruitment methods (`recruitment_method`).
        RecruitmentMethod,
        /// Apps used in recruitment or exploitation (`recruitment_app`).
        RecruitmentApp,
        /// The recruiter's relation to the person (`recruiter_relation`).
        RecruiterRelation,
        /// Vulnerability factors (`vulnerability`).
        Vulnerability,
    }
}

/// One change to a case. A batch of edits is validated first and applied all or
/// nothing (an unknown code or a refused note leaves the case unchanged).
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum CaseEdit {
    /// Sets a single-valued field to a code, or clears it (`None`); resolves a conflict.
    Set {
        /// Which field.
        field: ScalarField,
        /// The code, or `None` to clear.
        code: Option<String>,
    },
    /// Adds a code to a set-valued field.
    Add {
        /// Which field.
        field: SetField,
        /// The code.
        code: String,
    },
    /// Removes a code from a set-valued field.
    Remove {
        /// Which field.
        field: SetField,
        /// The code.
        code: String,
    },
    /// Records consent; `None` leaves that part unchanged.
    Consent {
        /// Consent to share with partner agencies.
        share_with_partners: Option<bool>,
        /// Consent to inclusion in statistics.
        include_in_statistics: Option<bool>,
    },
    /// Records the answer to one screening indicator (`indicator` and `answer` vocabularies).
    Answer {
        /// Indicator code.
        indicator: String,
        /// `Yes`, `No`, `DontKnow` or `Declined`.
        answer: String,
    },
    /// Appends a route event (month precision at most).
    AddRouteEvent {
        /// `Recruitment`, `Transit` or `Exploitation`.
        kind: String,
        /// Country code (alpha-2 or alpha-3).
        country: String,
        /// Year, if known.
        year: Option<u16>,
        /// Month 1..=12, if known (needs a year).
        month: Option<u8>,
    },
    /// Appends a dated note; refused with `NoteRejected` if it holds an identifier.
    AddNote {
        /// The text.
        text: String,
    },
    /// Adds a referral with status `Requested`.
    AddReferral {
        /// Service type code.
        service: String,
        /// Partner organisation's name (an organisation, never a person).
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
    /// Sets the month (or year) the case was registered, for a case carried over from
    /// an earlier register (`year` `None`: back to the day it was typed in).
    SetRegistration {
        /// Year of registration.
        year: Option<u16>,
        /// Month 1..=12, if known (needs a year).
        month: Option<u8>,
    },
}

impl CaseEdit {
    /// The core edit.
    pub(crate) fn into_core(self) -> Result<core_::Edit> {
        Ok(match self {
            CaseEdit::Set { field, code } => core_::Edit::Set {
                field: field.into(),
                code,
            },
            CaseEdit::Add { field, code } => core_::Edit::Add {
                field: field.into(),
                code,
            },
            CaseEdit::Remove { field, code } => core_::Edit::Remove {
                field: field.into(),
                code,
            },
            CaseEdit::Consent {
                share_with_partners,
                include_in_statistics,
            } => core_::Edit::Consent {
                share_with_partners,
                include_in_statistics,
            },
            CaseEdit::Answer { indicator, answer } => core_::Edit::Answer { indicator, answer },
            CaseEdit::AddRouteEvent {
                kind,
                country,
                year,
                month,
            } => core_::Edit::AddRouteEvent {
                kind,
                country,
                when: match (year, month) {
                    (Some(y), m) => Some(YearMonth::new(y, m)?),
                    (None, None) => None,
                    (None, Some(_)) => {
                        return Err(CaravanError::InvalidInput {
                            field: "route event".into(),
                            reason: "a month needs a year".into(),
                        })
                    }
                },
            },
            CaseEdit::AddNote { text } => core_::Edit::AddNote { text },
            CaseEdit::AddReferral {
                service,
                partner,
                organisation_type,
                reason,
            } => core_::Edit::AddReferral {
                service,
                partner,
                organisation_type,
                reason,
            },
            CaseEdit::SetReferralStatus { referral, status } => {
                core_::Edit::SetReferralStatus { referral, status }
            }
            CaseEdit::SetRegistration { year, month } => core_::Edit::SetRegistration {
                when: match (year, month) {
                    (Some(y), m) => Some(YearMonth::new(y, m)?),
                    (None, None) => None,
                    (None, Some(_)) => {
                        return Err(CaravanError::InvalidInput {
                            field: "registration".into(),
                            reason: "a month needs a year".into(),
                        })
                    }
                },
            },
        })
    }
}

/// Converts a batch of edits.
pub(crate) fn core_edits(edits: Vec<CaseEdit>) -> Result<Vec<core_::Edit>> {
    edits.into_iter().map(CaseEdit::into_core).collect()
}

/// The free texts of `edits` that the core screens for identifiers (notes, partner
/// names), for [`crate::error::locate_findings`].
pub(crate) fn screened_texts(edits: &[core_::Edit]) -> Vec<&str> {
    edits
        .iter()
        .filter_map(|e| match e {
            core_::Edit::AddNote { text } => Some(text.as_str()),
            core_::Edit::AddReferral { partner, .. } => Some(partner.as_str()),
            _ => None,
        })
        .collect()
}

/// Parses a case id (32 hex digits).
pub(crate) fn case_id(id: &str) -> Result<CaseId> {
    Ok(CaseId::parse(id)?)
}

fn code<V: Vocabulary>(v: &Option<V>) -> Option<String> {
    v.as_ref().map(|v| v.code().to_string())
}

fn codes<'a, V: Vocabulary + 'a>(v: impl IntoIterator<Item = &'a V>) -> Vec<String> {
    v.into_iter().map(|v| v.code().to_string()).collect()
}

fn countries<'a>(v: impl IntoIterator<Item = &'a Country>) -> Vec<String> {
    v.into_iter().map(|c| c.code().to_string()).collect()
}

/// What the case list shows: the searchable gist of a case, read without loading it.
///
/// Vocabulary values are [`VocabularyCode`]s (an index into the vocabulary the field
/// names, or the code itself if this version does not know it), not code strings: a
/// list of 10,000 summaries then costs one string per case to move across the FFI (the
/// id) instead of about eight (docs/decisions/0008-ffi-bindings.md).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseSummary {
    /// Case identifier (32 hex digits).
    pub id: String,
    /// When it was registered (ms since the epoch).
    pub created_at_ms: i64,
    /// When this device last stored a change to it (ms since the epoch).
    pub updated_at_ms: i64,
    /// Case-management status (`case_status` vocabulary).
    pub case_status: Option<VocabularyCode>,
    /// Trafficking status (`trafficking_status` vocabulary).
    pub trafficking_status: Option<VocabularyCode>,
    /// Gender (`gender` vocabulary).
    pub gender: Option<VocabularyCode>,
    /// Age band (`age_band` vocabulary).
    pub age_band: Option<VocabularyCode>,
    /// Citizenship(s) (`country` vocabulary).
    pub citizenship: Vec<VocabularyCode>,
    /// Countries on the route, deduplicated (`country` vocabulary).
    pub route_countries: Vec<VocabularyCode>,
    /// Types of exploitation (`exploitation_type` vocabulary).
    pub exploitation: Vec<VocabularyCode>,
    /// Number of referrals.
    pub referrals: u32,
    /// Number of notes.
    pub notes: u32,
    /// Number of unresolved same-field conflicts.
    pub conflicts: u32,
}

fn value<V: ToVocabularyCode>(v: Option<V>) -> Option<VocabularyCode> {
    v.as_ref().map(ToVocabularyCode::to_vocabulary_code)
}

/// Converts a list of values, reusing its allocation (a value and a [`VocabularyCode`]
/// have the same size): a summary's lists cost no new allocation.
pub(crate) fn values<V: ToVocabularyCode>(v: Vec<V>) -> Vec<VocabularyCode> {
    v.into_iter().map(|v| v.to_vocabulary_code()).collect()
}

impl From<core_::CaseSummary> for CaseSummary {
    fn from(s: core_::CaseSummary) -> Self {
        CaseSummary {
            id: s.id.to_hex(),
            created_at_ms: s.created_at.0,
            updated_at_ms: s.updated_at.0,
            case_status: value(s.case_status),
            trafficking_status: value(s.trafficking_status),
            gender: value(s.gender),
            age_band: value(s.age_band),
            citizenship: values(s.citizenship),
            route_countries: values(s.route_countries),
            exploitation: values(s.exploitation),
            referrals: s.referrals,
            notes: s.notes,
            conflicts: s.conflicts,
        }
    }
}

/// A search over the case list; every criterion that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct CaseListFilter {
    /// Case-management status code.
    #[uniffi(default)]
    pub case_status: Option<String>,
    /// A country (alpha-2 or alpha-3) of citizenship or on the route.
    #[uniffi(default)]
    pub country: Option<String>,
    /// A type of exploitation code.
    #[uniffi(default)]
    pub exploitation: Option<String>,
    /// Registered at or after this time (ms since the epoch).
    #[uniffi(default)]
    pub created_from_ms: Option<i64>,
    /// Registered before this time (ms since the epoch).
    #[uniffi(default)]
    pub created_to_ms: Option<i64>,
    /// Only cases with unresolved conflicts.
    #[uniffi(default)]
    pub conflicts_only: bool,
}

impl CaseListFilter {
    /// The core filter; codes are checked against their vocabularies.
    pub(crate) fn to_core(&self) -> Result<core_::CaseFilter> {
        Ok(core_::CaseFilter {
            case_status: self
                .case_status
                .as_deref()
                .map(CaseStatus::parse_known)
                .transpose()?,
            country: self.country.as_deref().map(Country::parse).transpose()?,
            exploitation: self
                .exploitation
                .as_deref()
                .map(ExploitationType::parse_known)
                .transpose()?,
            created_from: self.created_from_ms.map(Timestamp),
            created_to: self.created_to_ms.map(Timestamp),
            conflicts_only: self.conflicts_only,
        })
    }
}

/// One step of the route.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RouteStep {
    /// `Recruitment`, `Transit` or `Exploitation`.
    pub kind: String,
    /// Country, alpha-2.
    pub country: String,
    /// Year, if known.
    pub year: Option<u16>,
    /// Month, if known.
    pub month: Option<u8>,
}

/// One screening answer.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct IndicatorAnswer {
    /// Indicator code.
    pub indicator: String,
    /// Answer code.
    pub answer: String,
}

/// One status change of a referral.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReferralStatusChange {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Status code.
    pub status: String,
}

/// A referral to a service, with its status history.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseReferral {
    /// Identifier within the case (for `SetReferralStatus`).
    pub id: String,
    /// Service type code.
    pub service: String,
    /// Partner organisation's name.
    pub partner: String,
    /// Organisation type code.
    pub organisation_type: Option<String>,
    /// Referral reason code.
    pub reason: Option<String>,
    /// The latest status code.
    pub status: Option<String>,
    /// Status changes, oldest first.
    pub history: Vec<ReferralStatusChange>,
}

/// A dated note.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseNote {
    /// Identifier within the case.
    pub id: String,
    /// When it was written (ms since the epoch).
    pub at_ms: i64,
    /// The text (screened for identifiers before it was stored).
    pub text: String,
}

/// Concurrent edits of one field, for a coordinator to resolve (by setting the field).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FieldConflict {
    /// The field's key, e.g. `gender` or `consent.include_in_statistics`.
    pub field: String,
    /// The value every device currently shows.
    pub current: String,
    /// The other concurrently written values.
    pub others: Vec<String>,
}

/// One whole anonymized case record.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseDetails {
    /// Case identifier.
    pub id: String,
    /// When it was registered (ms since the epoch).
    pub created_at_ms: i64,
    /// Case-management status code.
    pub case_status: Option<String>,
    /// Trafficking status code.
    pub trafficking_status: Option<String>,
    /// Decision organisation code.
    pub decided_by: Option<String>,
    /// Gender code.
    pub gender: Option<String>,
    /// Age band code.
    pub age_band: Option<String>,
    /// Majority status at registration.
    pub majority_at_registration: Option<String>,
    /// Majority status at exploitation.
    pub majority_at_exploitation: Option<String>,
    /// Majority status at entry.
    pub majority_at_entry: Option<String>,
    /// Relationship to the trafficker.
    pub relationship_to_trafficker: Option<String>,
    /// Citizenship(s), alpha-2.
    pub citizenship: Vec<String>,
    /// Types of exploitation.
    pub exploitation: Vec<String>,
    /// Forced-labour industries.
    pub labour_industry: Vec<String>,
    /// Types of sexual exploitation.
    pub sexual_exploitation: Vec<String>,
    /// Means of control.
    pub means_of_control: Vec<String>,
    /// Recruitment methods.
    pub recruitment_method: Vec<String>,
    /// Recruitment apps.
    pub recruitment_app: Vec<String>,
    /// Recruiter relation.
    pub recruiter_relation: Vec<String>,
    /// The route.
    pub route: Vec<RouteStep>,
    /// Consent to share with partners (`None`: not asked yet).
    pub consent_share_with_partners: Option<bool>,
    /// Consent to inclusion in statistics (`None`: not asked yet).
    pub consent_include_in_statistics: Option<bool>,
    /// Screening answers.
    pub screening_answers: Vec<IndicatorAnswer>,
    /// Vulnerability factors recorded.
    pub vulnerabilities: Vec<String>,
    /// Referrals.
    pub referrals: Vec<CaseReferral>,
    /// Notes, oldest first.
    pub notes: Vec<CaseNote>,
    /// Unresolved same-field conflicts.
    pub conflicts: Vec<FieldConflict>,
}

impl From<&core_::CaseRecord> for CaseDetails {
    fn from(r: &core_::CaseRecord) -> Self {
        CaseDetails {
            id: r.id.to_hex(),
            created_at_ms: r.created_at.0,
            case_status: code(&r.case_status),
            trafficking_status: code(&r.trafficking_status),
            decided_by: code(&r.decided_by),
            gender: code(&r.gender),
            age_band: code(&r.age_band),
            majority_at_registration: code(&r.majority_at_registration),
            majority_at_exploitation: code(&r.majority_at_exploitation),
            majority_at_entry: code(&r.majority_at_entry),
            relationship_to_trafficker: code(&r.relationship_to_trafficker),
            citizenship: countries(&r.citizenship),
            exploitation: codes(&r.exploitation),
            labour_industry: codes(&r.labour_industry),
            sexual_exploitation: codes(&r.sexual_exploitation),
            means_of_control: codes(&r.means_of_control),
            recruitment_method: codes(&r.recruitment_method),
            recruitment_app: codes(&r.recruitment_app),
            recruiter_relation: codes(&r.recruiter_relation),
            route: r
                .route
                .iter()
                .map(|e| RouteStep {
                    kind: e.kind.code().to_string(),
                    country: e.country.code().to_string(),
                    year: e.when.map(|w| w.year),
                    month: e.when.and_then(|w| w.month),
                })
                .collect(),
            consent_share_with_partners: r.consent.share_with_partners,
            consent_include_in_statistics: r.consent.include_in_statistics,
            screening_answers: r
                .screening
                .indicators
                .iter()
                .map(|(i, a)| IndicatorAnswer {
                    indicator: i.code().to_string(),
                    answer: a.code().to_string(),
                })
                .collect(),
            vulnerabilities: codes(&r.screening.vulnerabilities),
            referrals: r
                .referrals
                .iter()
                .map(|f| CaseReferral {
                    id: f.id.clone(),
                    service: f.service.code().to_string(),
                    partner: f.partner.clone(),
                    organisation_type: code(&f.organisation_type),
                    reason: code(&f.reason),
                    status: f.status().map(|s| s.code().to_string()),
                    history: f
                        .history
                        .iter()
                        .map(|h| ReferralStatusChange {
                            at_ms: h.at.0,
                            status: h.status.code().to_string(),
                        })
                        .collect(),
                })
                .collect(),
            notes: r
                .notes
                .iter()
                .map(|n| CaseNote {
                    id: n.id.clone(),
                    at_ms: n.at.0,
                    text: n.text.clone(),
                })
                .collect(),
            conflicts: r
                .conflicts
                .iter()
                .map(|c| FieldConflict {
                    field: c.field.clone(),
                    current: c.current.clone(),
                    others: c.others.clone(),
                })
                .collect(),
        }
    }
}

/// The outcome of a screening and the answers it rests on (supports a referral
/// decision; not a formal identification).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ScreeningAssessment {
    /// `PotentialVictim`, `AtRisk` or `NoIndicators` (`screening_outcome` vocabulary).
    pub outcome: String,
    /// Indicators answered "yes".
    pub indicators: Vec<String>,
    /// Their categories (force, fraud, coercion).
    pub categories: Vec<String>,
    /// Vulnerability factors present (including `Minor` derived from the age band).
    pub vulnerabilities: Vec<String>,
    /// Whether the person is or was a minor when exploited.
    pub minor: bool,
    /// The deciding rule in plain English (apps localize from the fields above).
    pub explanation: String,
}

impl From<core_::Assessment> for ScreeningAssessment {
    fn from(a: core_::Assessment) -> Self {
        ScreeningAssessment {
            outcome: a.outcome.code().to_string(),
            indicators: codes(&a.indicators),
            categories: codes(&a.categories),
            vulnerabilities: codes(&a.vulnerabilities),
            minor: a.minor,
            explanation: a.explanation,
        }
    }
}

/// Whether an age band code lies entirely below 18 (`None` for an unknown code).
pub(crate) fn age_band_is_minor(code: &str) -> Option<bool> {
    AgeBand::from_code(code).is_minor()
}
