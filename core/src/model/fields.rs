//! The editable fields of a case record: their wire names and vocabularies.
//!
//! Fields are addressed by stable names (`"gender"`, `"means_of_control"`) so that the
//! CLI, the FFI and the on-disk document all agree. Each field knows how to validate a
//! code typed on this device (unknown codes are refused) and normalise it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::vocab::*;

macro_rules! fields {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $key:literal => $vocab:ty ),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every field of this kind.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The stable key of this field in the case document and on the wire.
            pub fn key(self) -> &'static str {
                match self { $( $name::$variant => $key ),+ }
            }

            /// Looks a field up by its key.
            pub fn from_key(key: &str) -> Result<$name> {
                match key {
                    $( $key => Ok($name::$variant), )+
                    other => Err(Error::invalid("field", format!("{other:?} is not a field name"))),
                }
            }

            /// The identifier of the vocabulary this field takes its codes from.
            pub fn vocabulary(self) -> &'static str {
                match self { $( $name::$variant => <$vocab as VocabCheck>::ID ),+ }
            }

            /// Validates a code typed on this device and returns its canonical form.
            pub fn check_code(self, code: &str) -> Result<String> {
                match self { $( $name::$variant => <$vocab as VocabCheck>::check(code) ),+ }
            }
        }
    };
}

/// Validation shared by enum vocabularies and countries.
trait VocabCheck {
    const ID: &'static str;
    fn check(code: &str) -> Result<String>;
}

impl<V: Vocabulary> VocabCheck for V {
    const ID: &'static str = V::ID;
    fn check(code: &str) -> Result<String> {
        Ok(V::parse_known(code.trim())?.code().to_string())
    }
}

/// Marker for the country vocabulary in the field table.
struct Countries;

impl VocabCheck for Countries {
    const ID: &'static str = "country";
    fn check(code: &str) -> Result<String> {
        Ok(Country::parse(code)?.code().to_string())
    }
}

fields! {
    /// A single-valued field. Concurrent edits of the same field are kept as a
    /// conflict that a coordinator can resolve.
    ScalarField {
        /// Case-management status.
        CaseStatus = "case_status" => CaseStatus,
        /// Whether the person is a victim of trafficking (possible / actual / not).
        TraffickingStatus = "trafficking_status" => TraffickingStatus,
        /// Which kind of organisation decided the trafficking status.
        DecidedBy = "decided_by" => DecisionOrganisation,
        /// Gender.
        Gender = "gender" => Gender,
        /// CTDC age band (never an exact age).
        AgeBand = "age_band" => AgeBand,
        /// Adult or minor when registered.
        MajorityAtRegistration = "majority_at_registration" => MajorityStatus,
        /// Adult or minor when exploited.
        MajorityAtExploitation = "majority_at_exploitation" => MajorityStatus,
        /// Adult or minor when entering the country of exploitation.
        MajorityAtEntry = "majority_at_entry" => MajorityStatus,
        /// Relationship to the trafficker (HTCDS).
        RelationshipToTrafficker = "relationship_to_trafficker" => RelationshipToTrafficker,
    }
}

fields! {
    /// A set-valued field. Concurrent additions from several devices all survive.
    SetField {
        /// Citizenship(s), ISO 3166-1 alpha-2.
        Citizenship = "citizenship" => Countries,
        /// Types of exploitation.
        Exploitation = "exploitation" => ExploitationType,
        /// Forced-labour industries (ISIC sections).
        LabourIndustry = "labour_industry" => LabourIndustry,
        /// Types of sexual exploitation.
        SexualExploitation = "sexual_exploitation" => SexualExploitationType,
        /// Means of control used by the trafficker.
        MeansOfControl = "means_of_control" => MeansOfControl,
        /// How the person was recruited.
        RecruitmentMethod = "recruitment_method" => RecruitmentMethod,
        /// Apps used in recruitment or exploitation.
        RecruitmentApp = "recruitment_app" => RecruitmentApp,
        /// The recruiter's relation to the person (CTDC).
        RecruiterRelation = "recruiter_relation" => RecruiterRelation,
        /// Vulnerability factors (for screening).
        Vulnerability = "vulnerability" => Vulnerability,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keys_round_trip_and_codes_are_checked() {
        for f in ScalarField::ALL {
            assert_eq!(ScalarField::from_key(f.key()).ok(), Some(*f));
        }
        for f in SetField::ALL {
            assert_eq!(SetField::from_key(f.key()).ok(), Some(*f));
        }
        assert_eq!(
            ScalarField::Gender.check_code("Feminine").ok().as_deref(),
            Some("Feminine")
        );
        assert!(matches!(
            ScalarField::Gender.check_code("Female"),
            Err(Error::UnknownCode { .. })
        ));
        assert_eq!(
            SetField::Citizenship.check_code("kgz").ok().as_deref(),
            Some("KG")
        );
    }
}
