//! Deterministic synthetic cases: a tiny SplitMix64 generator and skewed, realistic
//! case contents for Central Asian labour-migration trafficking cases.
//!
//! One [`SynthCase`] is rendered two ways: as the [`Edit`]s the store imports, and (in
//! `baseline.rs`) as a map in a plain Automerge document, so both hold the same values.

use caravan_core::{Edit, ScalarField, SetField, YearMonth};

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and good enough for test data.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `true` with probability `percent` / 100.
    pub(crate) fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// One item, chosen with the given weights.
    fn weighted<T: Copy>(&mut self, items: &[(T, usize)]) -> T {
        let total: usize = items.iter().map(|(_, w)| w).sum();
        let mut r = self.below(total);
        for (item, w) in items {
            if r < *w {
                return *item;
            }
            r -= w;
        }
        items[items.len() - 1].0
    }

    /// `k` distinct items, each drawn with the given weights among those not yet taken.
    fn distinct<T: Copy + PartialEq>(&mut self, items: &[(T, usize)], k: usize) -> Vec<T> {
        let mut left: Vec<(T, usize)> = items.to_vec();
        let mut out = Vec::with_capacity(k);
        while out.len() < k && !left.is_empty() {
            let pick = self.weighted(&left);
            left.retain(|(t, _)| *t != pick);
            out.push(pick);
        }
        out
    }

    /// `n` random bytes.
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        out
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One route event: kind, country, year, month.
#[derive(Clone, Debug)]
pub(crate) struct SynthRoute {
    /// `Recruitment`, `Transit` or `Exploitation`.
    pub(crate) kind: &'static str,
    /// Alpha-2 country code.
    pub(crate) country: &'static str,
    /// Year of the event.
    pub(crate) year: u16,
    /// Month, if known.
    pub(crate) month: Option<u8>,
}

/// One referral.
#[derive(Clone, Debug)]
pub(crate) struct SynthReferral {
    /// Identifier the core would give it (random 8 bytes, hex); baseline only.
    pub(crate) id: String,
    /// Service type code.
    pub(crate) service: &'static str,
    /// Partner organisation name.
    pub(crate) partner: &'static str,
    /// Organisation type code.
    pub(crate) organisation_type: Option<&'static str>,
    /// Referral reason code.
    pub(crate) reason: Option<&'static str>,
}

/// The contents of one synthetic case.
#[derive(Clone, Debug)]
pub(crate) struct SynthCase {
    /// Case id bytes (the core draws its own; the baseline stores these).
    pub(crate) id: [u8; 16],
    /// Scalar fields: (document key, code).
    pub(crate) scalars: Vec<(ScalarField, &'static str)>,
    /// Set fields: (field, codes), distinct codes.
    pub(crate) sets: Vec<(SetField, Vec<&'static str>)>,
    /// Route events, in order.
    pub(crate) route: Vec<SynthRoute>,
    /// Consent: share with partners, include in statistics.
    pub(crate) consent: (bool, bool),
    /// Indicator answers: (indicator code, answer code).
    pub(crate) indicators: Vec<(&'static str, &'static str)>,
    /// The note text.
    pub(crate) note: &'static str,
    /// The note's identifier (baseline only; the core draws its own).
    pub(crate) note_id: String,
    /// An optional referral.
    pub(crate) referral: Option<SynthReferral>,
}

const HOME: &[(&str, usize)] = &[("KZ", 20), ("KG", 25), ("TJ", 25), ("UZ", 25), ("TM", 5)];
const LONG_TAIL: &[(&str, usize)] = &[
    ("AF", 3),
    ("AZ", 3),
    ("AM", 2),
    ("GE", 2),
    ("UA", 2),
    ("BY", 1),
    ("MD", 1),
    ("MN", 2),
    ("CN", 1),
    ("IN", 1),
    ("PK", 2),
    ("BD", 1),
    ("NP", 1),
    ("VN", 1),
    ("RU", 3),
    ("IR", 1),
    ("TR", 1),
    ("LK", 1),
    ("PH", 1),
    ("NG", 1),
];
const DESTINATION: &[(&str, usize)] = &[
    ("RU", 45),
    ("KZ", 15),
    ("TR", 12),
    ("AE", 10),
    ("KR", 8),
    ("PL", 2),
    ("DE", 2),
    ("SA", 2),
    ("QA", 1),
    ("CN", 1),
    ("GB", 1),
    ("IL", 1),
];
const TRANSIT: &[(&str, usize)] = &[("KZ", 40), ("RU", 25), ("TR", 15), ("UZ", 10), ("AE", 10)];
const CASE_STATUS: &[(&str, usize)] = &[
    ("Active", 50),
    ("FollowUp", 25),
    ("Closed", 15),
    ("ClosedReferred", 10),
];
const TRAFFICKING_STATUS: &[(&str, usize)] = &[
    ("Possible", 60),
    ("Actual", 35),
    ("NotAVictimOfTrafficking", 5),
];
const GENDER: &[(&str, usize)] = &[
    ("Masculine", 55),
    ("Feminine", 43),
    ("NonSpecifiedUnknown", 2),
];
const AGE_BAND: &[(&str, usize)] = &[
    ("9-17", 5),
    ("18-20", 10),
    ("21-23", 15),
    ("24-26", 15),
    ("27-29", 15),
    ("30-38", 25),
    ("39-47", 10),
    ("48+", 5),
];
const EXPLOITATION: &[(&str, usize)] = &[
    ("ForcedLabour", 70),
    ("SexualExploitation", 15),
    ("ForcedCriminality", 4),
    ("ForcedBegging", 3),
    ("Servitude", 3),
    ("ForcedMarriage", 3),
    ("ChildLabour", 2),
];
const LABOUR_INDUSTRY: &[(&str, usize)] = &[
    ("F_Construction", 30),
    ("A_AgricultureForestryAndFishing", 20),
    ("C_Manufacturing", 15),
    ("I_AccommodationAndFoodServiceActivities", 12),
    ("G_WholesaleAndRetailTradeRepairOfMotorVehicles", 10),
    ("T_ActivitiesOfHouseholdsAsEmployers", 8),
    ("H_TransportationAndStorage", 5),
];
const MEANS_OF_CONTROL: &[(&str, usize)] = &[
    ("WithholdsDocuments", 30),
    ("TakesEarnings", 25),
    ("DebtBondage", 20),
    ("FalsePromises", 20),
    ("ExcessiveWorkingHours", 15),
    ("RestrictsMovement", 12),
    ("PhysicalThreats", 10),
    ("ThreatsLawEnforcement", 8),
    ("PsychologicalAbuse", 6),
    ("PhysicalAbuse", 5),
    ("WithholdsNecessities", 3),
    ("SexualAbuse", 2),
];
const RECRUITMENT_METHOD: &[(&str, usize)] = &[
    ("ThroughFriendsOrSocialEvents", 30),
    ("ThroughOnlineSocialNetworks", 25),
    ("ThroughAnOnlineAdvertisement", 15),
    ("ThroughFamilyOrFamilyEvents", 15),
    ("AtWork", 5),
    ("AtAPlaceOfBusiness", 5),
    ("Other", 5),
];
const RECRUITMENT_APP: &[(&str, usize)] = &[
    ("Telegram", 35),
    ("WhatsApp", 30),
    ("Instagram", 10),
    ("Facebook", 8),
    ("TikTok", 7),
    ("Viber", 5),
    ("Other", 5),
];
const INDICATOR: &[(&str, usize)] = &[
    ("DocumentsWithheld", 20),
    ("WagesWithheld", 20),
    ("DeceivedAboutConditionsOrPay", 15),
    ("ExcessiveWorkingHours", 15),
    ("DebtBondage", 12),
    ("RestrictedMovementOrCommunication", 10),
    ("DeceivedAboutNatureOfWork", 10),
    ("ThreatOfDenunciationToAuthorities", 8),
    ("UnderConstantSurveillance", 5),
    ("PhysicalViolence", 5),
    ("DeceptiveRecruitmentFees", 5),
    ("ConfinedOrLockedIn", 4),
];
const ANSWER: &[(&str, usize)] = &[("Yes", 50), ("No", 25), ("DontKnow", 20), ("Declined", 5)];
const VULNERABILITY: &[(&str, usize)] = &[
    ("IrregularMigrationStatus", 35),
    ("Debt", 30),
    ("MaterialOrEmotionalDependency", 15),
    ("Homelessness", 8),
    ("LackOfParentalCare", 5),
    ("Disability", 4),
    ("SubstanceDependence", 3),
];
const NOTES: &[(&str, usize)] = &[
    (
        "Worked long hours on a construction site, passport kept by the employer.",
        3,
    ),
    (
        "Recruited through an online job advert; wages were never paid in full.",
        3,
    ),
    (
        "Housed in a crowded dormitory, not allowed to leave without a supervisor.",
        2,
    ),
    (
        "Promised work in a restaurant, made to work on a farm instead, unpaid.",
        2,
    ),
    (
        "Owes a large debt to the recruiter for travel and housing costs.",
        2,
    ),
    (
        "Worked in a sewing workshop, locked in at night, phone taken away.",
        1,
    ),
    (
        "Returned home with help from a consulate; needs medical care and shelter.",
        1,
    ),
    (
        "Работал на стройке без выходных, паспорт забрал работодатель.",
        2,
    ),
    (
        "Обещали работу в кафе, но заставили работать на складе бесплатно.",
        2,
    ),
    (
        "Долг вербовщику за дорогу и жильё постоянно растёт, денег не платят.",
        1,
    ),
];
const SERVICE: &[(&str, usize)] = &[
    ("Shelter", 30),
    ("Legal", 25),
    ("Health", 15),
    ("Psychosocial", 15),
    ("Repatriation", 15),
];
const PARTNER: &[(&str, usize)] = &[
    ("Safe House Almaty", 3),
    ("Legal Aid Bishkek", 3),
    ("Migrant Support Centre Dushanbe", 2),
    ("Tashkent Rehabilitation Centre", 2),
    ("IOM Central Asia", 1),
];
const ORGANISATION_TYPE: &[(&str, usize)] = &[
    ("NGO", 70),
    ("InternationalOrganisation", 15),
    ("LocalGovernmentOrganisation", 15),
];
const REASON: &[(&str, usize)] = &[
    ("AdditionalServicesRequired", 60),
    ("MigrationOrChangeOfLocation", 20),
];

impl SynthCase {
    /// Draws one case from `rng`.
    pub(crate) fn generate(rng: &mut SplitMix64) -> SynthCase {
        let id = rng.bytes::<16>();
        let scalars = vec![
            (ScalarField::CaseStatus, rng.weighted(CASE_STATUS)),
            (
                ScalarField::TraffickingStatus,
                rng.weighted(TRAFFICKING_STATUS),
            ),
            (ScalarField::Gender, rng.weighted(GENDER)),
            (ScalarField::AgeBand, rng.weighted(AGE_BAND)),
        ];
        let citizenship = if rng.percent(90) {
            vec![citizenship(rng)]
        } else {
            let first = citizenship(rng);
            let mut second = citizenship(rng);
            while second == first {
                second = citizenship(rng);
            }
            vec![first, second]
        };
        let home = citizenship[0];
        let events = rng.weighted(&[(1usize, 30), (2, 50), (3, 20)]);
        let mut year = rng.between(2017, 2025) as u16;
        let mut route = Vec::with_capacity(events);
        let mut push = |rng: &mut SplitMix64, kind: &'static str, country: &'static str| {
            let month = if rng.percent(80) {
                Some(rng.between(1, 12) as u8)
            } else {
                None
            };
            route.push(SynthRoute {
                kind,
                country,
                year,
                month,
            });
            if rng.percent(30) {
                year = (year + 1).min(2025);
            }
        };
        if events >= 2 {
            push(rng, "Recruitment", home);
        }
        if events == 3 {
            let via = rng.weighted(TRANSIT);
            push(rng, "Transit", via);
        }
        let destination = rng.weighted(DESTINATION);
        push(rng, "Exploitation", destination);

        let exploitation = {
            let k = if rng.percent(85) { 1 } else { 2 };
            rng.distinct(EXPLOITATION, k)
        };
        let labour_industry = {
            let k = rng.weighted(&[(0usize, 20), (1, 65), (2, 15)]);
            rng.distinct(LABOUR_INDUSTRY, k)
        };
        let means = {
            let k = rng.weighted(&[(1usize, 30), (2, 35), (3, 25), (4, 10)]);
            rng.distinct(MEANS_OF_CONTROL, k)
        };
        let method = vec![rng.weighted(RECRUITMENT_METHOD)];
        let app = vec![rng.weighted(RECRUITMENT_APP)];
        let consent = (rng.percent(70), rng.percent(90));
        let indicators = {
            let k = rng.between(2, 4);
            rng.distinct(INDICATOR, k)
                .into_iter()
                .map(|i| (i, rng.weighted(ANSWER)))
                .collect()
        };
        let vulnerability = {
            let k = rng.weighted(&[(0usize, 35), (1, 45), (2, 20)]);
            rng.distinct(VULNERABILITY, k)
        };
        let note = rng.weighted(NOTES);
        let note_id = hex(&rng.bytes::<8>());
        let referral = if rng.percent(30) {
            Some(SynthReferral {
                id: hex(&rng.bytes::<8>()),
                service: rng.weighted(SERVICE),
                partner: rng.weighted(PARTNER),
                organisation_type: if rng.percent(90) {
                    Some(rng.weighted(ORGANISATION_TYPE))
                } else {
                    None
                },
                reason: if rng.percent(50) {
                    Some(rng.weighted(REASON))
                } else {
                    None
                },
            })
        } else {
            None
        };
        let sets = vec![
            (SetField::Citizenship, citizenship),
            (SetField::Exploitation, exploitation),
            (SetField::LabourIndustry, labour_industry),
            (SetField::MeansOfControl, means),
            (SetField::RecruitmentMethod, method),
            (SetField::RecruitmentApp, app),
            (SetField::Vulnerability, vulnerability),
        ];
        SynthCase {
            id,
            scalars,
            sets,
            route,
            consent,
            indicators,
            note,
            note_id,
            referral,
        }
    }

    /// The case as the edits an app would pass to `Store::add_case` / `import`.
    pub(crate) fn edits(&self) -> Vec<Edit> {
        let mut out = Vec::with_capacity(32);
        for (field, code) in &self.scalars {
            out.push(Edit::set(*field, *code));
        }
        for (field, codes) in self
            .sets
            .iter()
            .filter(|(f, _)| *f == SetField::Citizenship)
        {
            out.extend(codes.iter().map(|c| Edit::add(*field, *c)));
        }
        for r in &self.route {
            out.push(Edit::AddRouteEvent {
                kind: r.kind.into(),
                country: r.country.into(),
                when: Some(YearMonth {
                    year: r.year,
                    month: r.month,
                }),
            });
        }
        for (field, codes) in self
            .sets
            .iter()
            .filter(|(f, _)| *f != SetField::Citizenship)
        {
            out.extend(codes.iter().map(|c| Edit::add(*field, *c)));
        }
        out.push(Edit::Consent {
            share_with_partners: Some(self.consent.0),
            include_in_statistics: Some(self.consent.1),
        });
        for (indicator, answer) in &self.indicators {
            out.push(Edit::Answer {
                indicator: (*indicator).into(),
                answer: (*answer).into(),
            });
        }
        out.push(Edit::note(self.note));
        if let Some(r) = &self.referral {
            out.push(Edit::AddReferral {
                service: r.service.into(),
                partner: r.partner.into(),
                organisation_type: r.organisation_type.map(Into::into),
                reason: r.reason.map(Into::into),
            });
        }
        out
    }
}

/// A citizenship: 80% from the five Central Asian states, else the long tail.
fn citizenship(rng: &mut SplitMix64) -> &'static str {
    if rng.percent(80) {
        rng.weighted(HOME)
    } else {
        rng.weighted(LONG_TAIL)
    }
}

/// `n` cases from `seed`; the same arguments always give the same cases.
pub(crate) fn cases(n: usize, seed: u64) -> Vec<SynthCase> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| SynthCase::generate(&mut rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        let a = cases(200, 7);
        let b = cases(200, 7);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let dir = tempfile::tempdir().expect("tempdir");
        let key = caravan_core::StoreKey::generate().expect("key");
        let mut store = caravan_core::Store::create(dir.path().join("s"), &key).expect("create");
        let edits: Vec<Vec<Edit>> = a.iter().map(SynthCase::edits).collect();
        let ids = store
            .import(&edits, &mut |_, _| true)
            .expect("every synthetic case is valid");
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
