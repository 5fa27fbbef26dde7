//! The app-facing view of one anonymized case record.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{CaseId, Timestamp, YearMonth};
use crate::vocab::*;

/// One anonymized case record, as read from its Automerge document.
///
/// There is deliberately no field for a name, phone number, address, exact date of
/// birth or document number. Every categorical value comes from a vocabulary; codes
/// from newer versions appear as `Unknown(code)` and are preserved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case identifier.
    pub id: CaseId,
    /// When the case was registered on the device that created it.
    pub created_at: Timestamp,
    /// The month (or year) the case was registered, when it differs from the day it
    /// was typed in (a case carried over from an earlier register); `None`: registered
    /// at `created_at`. See [`CaseRecord::registered`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<YearMonth>,
    /// Case-management status.
    pub case_status: Option<CaseStatus>,
    /// Trafficking status.
    pub trafficking_status: Option<TraffickingStatus>,
    /// Who decided the trafficking status.
    pub decided_by: Option<DecisionOrganisation>,
    /// Gender.
    pub gender: Option<Gender>,
    /// CTDC age band.
    pub age_band: Option<AgeBand>,
    /// Majority status at registration.
    pub majority_at_registration: Option<MajorityStatus>,
    /// Majority status at exploitation.
    pub majority_at_exploitation: Option<MajorityStatus>,
    /// Majority status at entry.
    pub majority_at_entry: Option<MajorityStatus>,
    /// Relationship to the trafficker.
    pub relationship_to_trafficker: Option<RelationshipToTrafficker>,
    /// Citizenship(s).
    pub citizenship: BTreeSet<Country>,
    /// Types of exploitation.
    pub exploitation: BTreeSet<ExploitationType>,
    /// Forced-labour industries.
    pub labour_industry: BTreeSet<LabourIndustry>,
    /// Types of sexual exploitation.
    pub sexual_exploitation: BTreeSet<SexualExploitationType>,
    /// Means of control.
    pub means_of_control: BTreeSet<MeansOfControl>,
    /// Recruitment methods.
    pub recruitment_method: BTreeSet<RecruitmentMethod>,
    /// Apps used in recruitment or exploitation.
    pub recruitment_app: BTreeSet<RecruitmentApp>,
    /// Recruiter relation (CTDC).
    pub recruiter_relation: BTreeSet<RecruiterRelation>,
    /// Route: recruitment, transit and exploitation events.
    pub route: Vec<RouteEvent>,
    /// Consent recorded with the person.
    pub consent: Consent,
    /// Screening answers.
    pub screening: Screening,
    /// Assistance and referrals.
    pub referrals: Vec<Referral>,
    /// Append-only dated notes, oldest first.
    pub notes: Vec<Note>,
    /// Same-field conflicts left by concurrent edits, for a coordinator to resolve.
    pub conflicts: Vec<Conflict>,
}

/// One step of the trafficking route, at month precision at most.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RouteEvent {
    /// Recruitment, transit or exploitation.
    pub kind: RouteEventKind,
    /// Where it happened.
    pub country: Country,
    /// When, if known (year, or year and month).
    pub when: Option<YearMonth>,
}

/// What the person consented to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Consent to share the case with partner agencies (`None`: not asked yet).
    pub share_with_partners: Option<bool>,
    /// Consent to include the case in statistics (`None`: not asked yet).
    pub include_in_statistics: Option<bool>,
}

impl Consent {
    /// True only if the person explicitly agreed to sharing with partners.
    pub fn allows_sharing(&self) -> bool {
        self.share_with_partners == Some(true)
    }

    /// True only if the person explicitly agreed to inclusion in statistics.
    pub fn allows_statistics(&self) -> bool {
        self.include_in_statistics == Some(true)
    }
}

/// Answers to the frontline screening questionnaire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screening {
    /// Answer per trafficking indicator asked.
    pub indicators: BTreeMap<Indicator, Answer>,
    /// Vulnerability factors recorded.
    pub vulnerabilities: BTreeSet<Vulnerability>,
}

/// A referral of the person to a service, with its status history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Identifier of the referral within the case.
    pub id: String,
    /// Service referred to.
    pub service: ServiceType,
    /// The partner organisation's name (an organisation, never a person).
    pub partner: String,
    /// Kind of partner organisation.
    pub organisation_type: Option<OrganisationType>,
    /// Why the referral was made.
    pub reason: Option<ReferralReason>,
    /// Status changes, oldest first.
    pub history: Vec<ReferralEvent>,
}

impl Referral {
    /// The latest status (ties broken by code, so every device agrees).
    pub fn status(&self) -> Option<&ReferralStatus> {
        self.history.last().map(|e| &e.status)
    }
}

/// One status change of a referral.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReferralEvent {
    /// When the status changed.
    pub at: Timestamp,
    /// The new status.
    pub status: ReferralStatus,
}

/// A dated free-text note. Notes are append-only and were screened for identifiers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Identifier of the note within the case.
    pub id: String,
    /// When it was written.
    pub at: Timestamp,
    /// The text.
    pub text: String,
}

/// Concurrent edits of one single-valued field that a coordinator should resolve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The field's key (e.g. `"gender"`, or `"consent.include_in_statistics"`).
    pub field: String,
    /// The value every device currently shows (chosen deterministically).
    pub current: String,
    /// The other concurrently written values.
    pub others: Vec<String>,
}

impl CaseRecord {
    /// The day of registration (midnight UTC): the first day of the registration
    /// month (January for a year alone) if one was set, else the day `created_at`
    /// falls on (what every case stored before registration dates existed keeps).
    pub fn registered(&self) -> Timestamp {
        match self.registration {
            Some(w) => Timestamp::from_ymd(i32::from(w.year), u32::from(w.month.unwrap_or(1)), 1)
                .unwrap_or(self.created_at),
            None => {
                let (y, m, d) = self.created_at.ymd();
                Timestamp::from_ymd(y, m, d).unwrap_or(self.created_at)
            }
        }
    }

    /// The code of a single-valued field, if set.
    pub fn scalar_code(&self, field: super::ScalarField) -> Option<String> {
        use super::ScalarField as F;
        fn c<V: Vocabulary>(v: &Option<V>) -> Option<String> {
            v.as_ref().map(|v| v.code().to_string())
        }
        match field {
            F::CaseStatus => c(&self.case_status),
            F::TraffickingStatus => c(&self.trafficking_status),
            F::DecidedBy => c(&self.decided_by),
            F::Gender => c(&self.gender),
            F::AgeBand => c(&self.age_band),
            F::MajorityAtRegistration => c(&self.majority_at_registration),
            F::MajorityAtExploitation => c(&self.majority_at_exploitation),
            F::MajorityAtEntry => c(&self.majority_at_entry),
            F::RelationshipToTrafficker => c(&self.relationship_to_trafficker),
        }
    }

    /// The codes of a set-valued field, sorted.
    pub fn set_codes(&self, field: super::SetField) -> Vec<String> {
        use super::SetField as F;
        fn c<'a, V: Vocabulary + 'a>(v: impl IntoIterator<Item = &'a V>) -> Vec<String> {
            let mut out: Vec<String> = v.into_iter().map(|v| v.code().to_string()).collect();
            out.sort();
            out
        }
        match field {
            F::Citizenship => {
                let mut out: Vec<String> = self
                    .citizenship
                    .iter()
                    .map(|v| v.code().to_string())
                    .collect();
                out.sort();
                out
            }
            F::Exploitation => c(&self.exploitation),
            F::LabourIndustry => c(&self.labour_industry),
            F::SexualExploitation => c(&self.sexual_exploitation),
            F::MeansOfControl => c(&self.means_of_control),
            F::RecruitmentMethod => c(&self.recruitment_method),
            F::RecruitmentApp => c(&self.recruitment_app),
            F::RecruiterRelation => c(&self.recruiter_relation),
            F::Vulnerability => c(&self.screening.vulnerabilities),
        }
    }
}
