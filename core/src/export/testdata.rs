//! Generated case records with realistic skew, for tests: most people from a few
//! Central Asian citizenships, a long tail of rare countries, most exploited in Russia,
//! Kazakhstan, Turkey and the UAE.

use std::collections::BTreeSet;

use crate::model::StatRecord;
use crate::model::*;
use crate::vocab::*;

/// SplitMix64: a small deterministic generator for test data (never for noise).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn weighted<T: Clone>(&mut self, items: &[(T, usize)]) -> T {
        let total: usize = items.iter().map(|(_, w)| w).sum();
        let mut r = self.below(total);
        for (item, w) in items {
            if r < *w {
                return item.clone();
            }
            r -= w;
        }
        items[items.len() - 1].0.clone()
    }
}

const CITIZENSHIP: &[(&str, usize)] = &[
    ("KG", 250),
    ("TJ", 240),
    ("UZ", 230),
    ("KZ", 150),
    ("TM", 30),
    ("AF", 12),
    ("AZ", 8),
    ("RU", 8),
    ("UA", 6),
    ("MN", 5),
    ("PK", 5),
    ("GE", 4),
    ("AM", 4),
    ("IN", 3),
    ("BD", 3),
    ("NP", 2),
    ("CN", 2),
    ("VN", 2),
    ("BY", 2),
    ("MD", 2),
    ("IR", 2),
    ("TR", 1),
    ("LK", 1),
    ("PH", 1),
    ("NG", 1),
    ("ET", 1),
    ("KE", 1),
    ("SY", 1),
    ("IQ", 1),
    ("MM", 1),
    ("LA", 1),
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

fn set<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    items.into_iter().collect()
}

/// `n` case records; `consent_percent` of them agreed to inclusion in statistics, the
/// rest said no or were not asked.
pub(crate) fn cases(n: usize, seed: u64, consent_percent: usize) -> Vec<CaseRecord> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| case(&mut rng, consent_percent)).collect()
}

/// `n` consenting records.
pub(crate) fn skewed(n: usize, seed: u64) -> Vec<StatRecord> {
    cases(n, seed, 100)
        .iter()
        .filter_map(|c| StatRecord::from_case(c).ok())
        .collect()
}

fn case(rng: &mut Rng, consent_percent: usize) -> CaseRecord {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    id[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let year = 2017 + rng.below(9) as i32;
    let day = rng.below(365) as i64;
    let created_at = Timestamp(
        Timestamp::from_ymd(year, 1, 1).map_or(0, |t| t.0) + day * 86_400_000 + 3_600_000,
    );
    let age = rng.weighted(&[
        (AgeBand::Age9To17, 6),
        (AgeBand::Age18To20, 10),
        (AgeBand::Age21To23, 15),
        (AgeBand::Age24To26, 15),
        (AgeBand::Age27To29, 14),
        (AgeBand::Age30To38, 24),
        (AgeBand::Age39To47, 11),
        (AgeBand::Age48Plus, 5),
    ]);
    let minor = age.is_minor() == Some(true);
    let majority = if minor {
        MajorityStatus::Minor
    } else {
        MajorityStatus::Adult
    };
    let gender = rng.weighted(&[
        (Some(Gender::Masculine), 55),
        (Some(Gender::Feminine), 42),
        (Some(Gender::NonConforming), 1),
        (None, 2),
    ]);
    let home = Country::from_code(rng.weighted(CITIZENSHIP));
    let mut citizenship = set([home.clone()]);
    if rng.percent(3) {
        citizenship.insert(Country::from_code("RU"));
    }
    let destination = Country::from_code(rng.weighted(DESTINATION));
    let when = YearMonth::new(year as u16, None).ok();
    let mut route = vec![RouteEvent {
        kind: RouteEventKind::Recruitment,
        country: home,
        when,
    }];
    if rng.percent(20) {
        route.push(RouteEvent {
            kind: RouteEventKind::Transit,
            country: Country::from_code("KZ"),
            when,
        });
    }
    route.push(RouteEvent {
        kind: RouteEventKind::Exploitation,
        country: destination,
        when,
    });
    let main = rng.weighted(&[
        (ExploitationType::ForcedLabour, 72),
        (ExploitationType::SexualExploitation, 16),
        (ExploitationType::ForcedCriminality, 3),
        (ExploitationType::ForcedBegging, 3),
        (ExploitationType::Servitude, 2),
        (ExploitationType::ForcedMarriage, 3),
        (ExploitationType::ChildLabour, 1),
    ]);
    let mut exploitation = set([main.clone()]);
    if rng.percent(8) {
        exploitation.insert(ExploitationType::SexualExploitation);
    }
    let labour = if main == ExploitationType::ForcedLabour && rng.percent(85) {
        set([rng.weighted(&[
            (LabourIndustry::Construction, 35),
            (LabourIndustry::AgricultureForestryAndFishing, 25),
            (LabourIndustry::Manufacturing, 12),
            (LabourIndustry::AccommodationAndFoodServiceActivities, 10),
            (
                LabourIndustry::WholesaleAndRetailTradeRepairOfMotorVehicles,
                8,
            ),
            (LabourIndustry::ActivitiesOfHouseholdsAsEmployers, 7),
            (LabourIndustry::TransportationAndStorage, 3),
        ])])
    } else {
        BTreeSet::new()
    };
    let sexual = if exploitation.contains(&ExploitationType::SexualExploitation) {
        set([rng.weighted(&[
            (SexualExploitationType::Prostitution, 80),
            (SexualExploitationType::Pornography, 10),
            (SexualExploitationType::RemoteInteractiveServices, 5),
            (SexualExploitationType::PrivateSexualServices, 5),
        ])])
    } else {
        BTreeSet::new()
    };
    let means_pool = [
        (MeansOfControl::WithholdsDocuments, 30),
        (MeansOfControl::TakesEarnings, 25),
        (MeansOfControl::DebtBondage, 15),
        (MeansOfControl::FalsePromises, 20),
        (MeansOfControl::ExcessiveWorkingHours, 12),
        (MeansOfControl::RestrictsMovement, 10),
        (MeansOfControl::PhysicalThreats, 8),
        (MeansOfControl::PsychologicalAbuse, 5),
        (MeansOfControl::PhysicalAbuse, 4),
        (MeansOfControl::PsychoactiveSubstance, 2),
    ];
    let nmeans = rng.weighted(&[(0usize, 15), (1, 35), (2, 30), (3, 15), (4, 5)]);
    let means = set((0..nmeans).map(|_| rng.weighted(&means_pool)));
    let recruiter = if rng.percent(40) {
        set([rng.weighted(&[
            (RecruiterRelation::Friend, 40),
            (RecruiterRelation::Family, 20),
            (RecruiterRelation::IntimatePartner, 10),
            (RecruiterRelation::Other, 30),
        ])])
    } else {
        BTreeSet::new()
    };
    let mut referrals = Vec::new();
    for i in 0..rng.weighted(&[(0usize, 40), (1, 40), (2, 20)]) {
        let service = rng.weighted(&[
            (ServiceType::Shelter, 30),
            (ServiceType::Legal, 25),
            (ServiceType::Health, 15),
            (ServiceType::Psychosocial, 15),
            (ServiceType::Repatriation, 15),
        ]);
        let status = rng.weighted(&[
            (ReferralStatus::Requested, 20),
            (ReferralStatus::Accepted, 30),
            (ReferralStatus::Completed, 40),
            (ReferralStatus::Declined, 10),
        ]);
        referrals.push(Referral {
            id: format!("r{i}"),
            service,
            partner: "Partner".into(),
            organisation_type: None,
            reason: None,
            history: vec![ReferralEvent {
                at: created_at,
                status,
            }],
        });
    }
    let stats = if rng.percent(consent_percent) {
        Some(true)
    } else if rng.percent(50) {
        Some(false)
    } else {
        None
    };
    CaseRecord {
        id: CaseId(id),
        created_at,
        registration: None,
        case_status: Some(CaseStatus::Active),
        trafficking_status: Some(TraffickingStatus::Actual),
        decided_by: None,
        gender,
        age_band: Some(age),
        majority_at_registration: Some(majority.clone()),
        majority_at_exploitation: Some(majority),
        majority_at_entry: None,
        relationship_to_trafficker: None,
        citizenship,
        exploitation,
        labour_industry: labour,
        sexual_exploitation: sexual,
        means_of_control: means,
        recruitment_method: BTreeSet::new(),
        recruitment_app: BTreeSet::new(),
        recruiter_relation: recruiter,
        route,
        consent: Consent {
            share_with_partners: Some(true),
            include_in_statistics: stats,
        },
        screening: Screening::default(),
        referrals,
        notes: Vec::new(),
        conflicts: Vec::new(),
    }
}
