//! Frontline screening: do the answers make the person a *potential victim*?
//!
//! The rule follows the Palermo Protocol's "means" element (force, fraud, coercion)
//! and the "potential victim" of Kazakhstan's 2024 law (a person in a vulnerable
//! situation), and is deliberately explainable: the result lists every answer that
//! led to it. It supports a referral decision; it is not a formal identification.
//!
//! - **PotentialVictim** when any of:
//!   1. the person is a minor and at least one indicator is present (for children the
//!      means element is not required);
//!   2. at least one indicator is present and at least one vulnerability factor;
//!   3. indicators are present in two or more categories (force, fraud, coercion).
//! - **AtRisk** when indicators or vulnerability factors are present but none of the
//!   rules above holds (refer for prevention and follow-up).
//! - **NoIndicators** otherwise.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{CaseRecord, Screening};
use crate::vocab::*;

/// The outcome of a screening and the answers it rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The outcome.
    pub outcome: ScreeningOutcome,
    /// Indicators answered "yes".
    pub indicators: Vec<Indicator>,
    /// Categories those indicators fall in.
    pub categories: Vec<IndicatorCategory>,
    /// Vulnerability factors present (including "minor" derived from the age band).
    pub vulnerabilities: Vec<Vulnerability>,
    /// Whether the person is (or was, when exploited) a minor.
    pub minor: bool,
    /// The rule that decided, in plain English (apps build localized text from the
    /// structured fields above).
    pub explanation: String,
}

/// Assesses the screening answers recorded on a case.
pub fn assess(record: &CaseRecord) -> Assessment {
    let minor = record.age_band.as_ref().and_then(AgeBand::is_minor) == Some(true)
        || [
            &record.majority_at_registration,
            &record.majority_at_exploitation,
        ]
        .iter()
        .any(|m| **m == Some(MajorityStatus::Minor));
    assess_answers(&record.screening, minor)
}

/// Assesses screening answers on their own (`minor`: whether the person is or was a
/// minor when exploited; a `Minor` vulnerability factor counts too).
pub fn assess_answers(screening: &Screening, minor: bool) -> Assessment {
    let indicators: Vec<Indicator> = screening
        .indicators
        .iter()
        .filter(|(_, a)| **a == Answer::Yes)
        .map(|(i, _)| i.clone())
        .collect();
    let categories: BTreeSet<IndicatorCategory> =
        indicators.iter().filter_map(Indicator::category).collect();
    let minor = minor || screening.vulnerabilities.contains(&Vulnerability::Minor);
    let mut vulnerabilities: BTreeSet<Vulnerability> = screening.vulnerabilities.clone();
    if minor {
        vulnerabilities.insert(Vulnerability::Minor);
    }
    let any_indicator = !indicators.is_empty();
    let (outcome, explanation) = if minor && any_indicator {
        (
            ScreeningOutcome::PotentialVictim,
            "a minor with at least one trafficking indicator",
        )
    } else if any_indicator && !vulnerabilities.is_empty() {
        (
            ScreeningOutcome::PotentialVictim,
            "trafficking indicators together with a vulnerable situation",
        )
    } else if categories.len() >= 2 {
        (
            ScreeningOutcome::PotentialVictim,
            "trafficking indicators in more than one category (force, fraud, coercion)",
        )
    } else if any_indicator {
        (
            ScreeningOutcome::AtRisk,
            "a trafficking indicator in one category only, and no vulnerability factor",
        )
    } else if !vulnerabilities.is_empty() {
        (
            ScreeningOutcome::AtRisk,
            "a vulnerable situation without trafficking indicators",
        )
    } else {
        (
            ScreeningOutcome::NoIndicators,
            "no trafficking indicator and no vulnerability factor",
        )
    };
    Assessment {
        outcome,
        indicators,
        categories: categories.into_iter().collect(),
        vulnerabilities: vulnerabilities.into_iter().collect(),
        minor,
        explanation: explanation.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screening(yes: &[Indicator], vulnerable: &[Vulnerability]) -> Screening {
        Screening {
            indicators: yes.iter().map(|i| (i.clone(), Answer::Yes)).collect(),
            vulnerabilities: vulnerable.iter().cloned().collect(),
        }
    }

    #[test]
    fn the_rules_decide_and_explain() {
        let one_coercion = [Indicator::DocumentsWithheld];
        let a = assess_answers(&screening(&one_coercion, &[]), false);
        assert_eq!(a.outcome, ScreeningOutcome::AtRisk);
        assert_eq!(a.indicators, one_coercion);

        let a = assess_answers(
            &screening(&one_coercion, &[Vulnerability::IrregularMigrationStatus]),
            false,
        );
        assert_eq!(a.outcome, ScreeningOutcome::PotentialVictim);
        assert!(a.explanation.contains("vulnerable"));

        let a = assess_answers(&screening(&one_coercion, &[]), true);
        assert_eq!(
            a.outcome,
            ScreeningOutcome::PotentialVictim,
            "minors need no means element"
        );
        assert!(a.minor && a.vulnerabilities.contains(&Vulnerability::Minor));

        let two_categories = [
            Indicator::DocumentsWithheld,
            Indicator::DeceivedAboutNatureOfWork,
        ];
        let a = assess_answers(&screening(&two_categories, &[]), false);
        assert_eq!(a.outcome, ScreeningOutcome::PotentialVictim);
        assert_eq!(
            a.categories,
            [IndicatorCategory::Fraud, IndicatorCategory::Coercion]
        );

        let a = assess_answers(&screening(&[], &[Vulnerability::Debt]), false);
        assert_eq!(a.outcome, ScreeningOutcome::AtRisk);
        assert_eq!(
            assess_answers(&Screening::default(), false).outcome,
            ScreeningOutcome::NoIndicators
        );

        // "No" and "DontKnow" answers are not indicators.
        let mut s = screening(&[], &[]);
        s.indicators.insert(Indicator::PhysicalViolence, Answer::No);
        s.indicators
            .insert(Indicator::DebtBondage, Answer::DontKnow);
        assert_eq!(assess_answers(&s, true).outcome, ScreeningOutcome::AtRisk);
    }
}
