//! `caravan-bench export --cases N [--json]`: a k-anonymized CTDC export (k = 11, with
//! the generalization search) of N generated cases with realistic skew: most people
//! from a few Central Asian citizenships, a long tail of rare countries, most exploited
//! in Russia, Kazakhstan, Turkey and the UAE. The cases are built in memory as
//! `CaseRecord`s; the timed part is what `caravan export records --generalize` does
//! after reading the store: the consent and date filter, the projection to CTDC
//! columns, the generalization search, suppression, and writing the CSV.

use std::collections::BTreeSet;
use std::time::Instant;

use caravan_core::export::{export_records, Collected, DateWindow, RecordOptions};
use caravan_core::vocab::*;
use caravan_core::{
    CaseId, CaseRecord, Consent, Edit, Referral, ReferralEvent, RouteEvent, Screening, Store,
    StoreKey, Timestamp, YearMonth,
};
use serde::Serialize;

/// SplitMix64, for generating cases.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
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

/// Citizenship weights (per mille): five Central Asian countries, then a long tail.
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

fn generate(rng: &mut Rng) -> CaseRecord {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    id[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let year = 2017 + rng.below(9) as i32;
    let start = Timestamp::from_ymd(year, 1, 1).map_or(0, |t| t.0);
    let created_at = Timestamp(start + rng.below(365) as i64 * 86_400_000);
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
    let majority = if age.is_minor() == Some(true) {
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
    let mut citizenship: BTreeSet<Country> = [home.clone()].into_iter().collect();
    if rng.percent(3) {
        citizenship.insert(Country::from_code("RU"));
    }
    let when = YearMonth::new(year as u16, Some(1 + rng.below(12) as u8)).ok();
    let mut route = vec![RouteEvent {
        kind: RouteEventKind::Recruitment,
        country: home,
        when,
    }];
    if rng.percent(20) {
        let via = Country::from_code("KZ");
        route.push(RouteEvent {
            kind: RouteEventKind::Transit,
            country: via,
            when,
        });
    }
    let destination = Country::from_code(rng.weighted(DESTINATION));
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
    let mut exploitation: BTreeSet<ExploitationType> = [main.clone()].into_iter().collect();
    if rng.percent(8) {
        exploitation.insert(ExploitationType::SexualExploitation);
    }
    let mut labour_industry = BTreeSet::new();
    if main == ExploitationType::ForcedLabour && rng.percent(85) {
        labour_industry.insert(rng.weighted(&[
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
        ]));
    }
    let mut sexual_exploitation = BTreeSet::new();
    if exploitation.contains(&ExploitationType::SexualExploitation) {
        sexual_exploitation.insert(rng.weighted(&[
            (SexualExploitationType::Prostitution, 80),
            (SexualExploitationType::Pornography, 10),
            (SexualExploitationType::RemoteInteractiveServices, 5),
            (SexualExploitationType::PrivateSexualServices, 5),
        ]));
    }
    let means = [
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
    let n_means = rng.weighted(&[(0usize, 15), (1, 35), (2, 30), (3, 15), (4, 5)]);
    let means_of_control = (0..n_means).map(|_| rng.weighted(&means)).collect();
    let mut recruiter_relation = BTreeSet::new();
    if rng.percent(40) {
        recruiter_relation.insert(rng.weighted(&[
            (RecruiterRelation::Friend, 40),
            (RecruiterRelation::Family, 20),
            (RecruiterRelation::IntimatePartner, 10),
            (RecruiterRelation::Other, 30),
        ]));
    }
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
            partner: "Safe House Almaty".into(),
            organisation_type: Some(OrganisationType::Ngo),
            reason: None,
            history: vec![ReferralEvent {
                at: created_at,
                status,
            }],
        });
    }
    // 92% agreed to inclusion in statistics; the others said no or were not asked.
    let include_in_statistics = if rng.percent(92) {
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
        labour_industry,
        sexual_exploitation,
        means_of_control,
        recruitment_method: BTreeSet::new(),
        recruitment_app: BTreeSet::new(),
        recruiter_relation,
        route,
        consent: Consent {
            share_with_partners: Some(true),
            include_in_statistics,
        },
        screening: Screening::default(),
        referrals,
        notes: Vec::new(),
        conflicts: Vec::new(),
    }
}

/// What `export` measures.
#[derive(Serialize, Debug)]
struct ExportReport {
    /// Generated cases.
    cases: usize,
    /// Cases with statistics consent (the export's input).
    eligible: usize,
    /// k.
    k: u32,
    /// Consent filter + projection + generalization search + suppression + CSV, in ms.
    export_ms: f64,
    /// Records released.
    released: usize,
    /// Records redacted (groups smaller than k).
    redacted: usize,
    /// Records plain suppression (no generalization) releases, for comparison.
    plain_suppression_released: usize,
    /// The generalization chosen: attribute → level name.
    generalization: Vec<(String, String)>,
    /// Lattice nodes the search evaluated.
    nodes_evaluated: usize,
    /// Columns released.
    columns: usize,
    /// CSV size in bytes.
    csv_bytes: usize,
    /// The same export end to end from an encrypted store holding `cases` synthetic
    /// cases (the store benchmark's generator): reading every case from disk
    /// (decrypt, load its Automerge document, read the record), in ms.
    store_read_ms: f64,
    /// Reading the store plus the export pipeline above, in ms: what
    /// `caravan export records --generalize` spends after unlocking.
    store_export_ms: f64,
    /// Records the end-to-end export released.
    store_released: usize,
}

/// Generates `cases` cases, exports them at k = 11 with generalization, and prints the
/// measurements (one JSON object with `json`, else a short table).
pub(crate) fn run(cases: usize, json: bool) {
    let mut rng = Rng(0x00C0_FFEE);
    let records: Vec<CaseRecord> = (0..cases).map(|_| generate(&mut rng)).collect();
    let started = Instant::now();
    let collected = Collected::from_cases(&records, &DateWindow::default());
    let opts = RecordOptions {
        generalize: true,
        ..RecordOptions::default()
    };
    let export = match export_records(&collected.records, &opts) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("caravan-bench: export failed: {e}");
            std::process::exit(1);
        }
    };
    let csv = export.to_csv();
    let export_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(records);
    let (store_read_ms, store_export_ms, store_released) = match from_store(cases, &opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("caravan-bench: end-to-end export failed: {e}");
            std::process::exit(1);
        }
    };
    let r = &export.report;
    let report = ExportReport {
        cases,
        eligible: r.eligible,
        k: r.k,
        export_ms,
        released: r.released,
        redacted: r.redacted_small_groups,
        plain_suppression_released: r.plain_suppression_released,
        generalization: r
            .generalization
            .iter()
            .map(|g| (g.attribute.clone(), g.level_name.clone()))
            .collect(),
        nodes_evaluated: r.nodes_evaluated,
        columns: export.columns().len(),
        csv_bytes: csv.len(),
        store_read_ms,
        store_export_ms,
        store_released,
    };
    if json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("caravan-bench: {e}"),
        }
        return;
    }
    println!("cases                        {}", report.cases);
    println!("eligible (consent)           {}", report.eligible);
    println!(
        "export (k = {}, generalized) {:.0} ms",
        report.k, report.export_ms
    );
    println!("released                     {}", report.released);
    println!("redacted                     {}", report.redacted);
    println!(
        "plain suppression releases   {}",
        report.plain_suppression_released
    );
    for (attr, level) in &report.generalization {
        println!("  {attr:<26} {level}");
    }
    println!("lattice nodes evaluated      {}", report.nodes_evaluated);
    println!(
        "from an encrypted store      {:.0} ms (reading {:.0} ms), {} released",
        report.store_export_ms, report.store_read_ms, report.store_released
    );
}

/// Imports `cases` synthetic cases into a fresh store (not timed), then times reading
/// them all back and exporting them with `opts`. Returns (read ms, total ms, released).
fn from_store(
    cases: usize,
    opts: &RecordOptions,
) -> Result<(f64, f64, usize), Box<dyn std::error::Error>> {
    let tmp = tempfile::Builder::new()
        .prefix("caravan-bench-export-")
        .tempdir()?;
    let key = StoreKey::generate()?;
    let edits: Vec<Vec<Edit>> = crate::synth::cases(cases, 42)
        .iter()
        .map(crate::synth::SynthCase::edits)
        .collect();
    eprintln!("importing {cases} cases into a store for the end-to-end export …");
    let dir = tmp.path().join("store");
    {
        let mut store = Store::create(&dir, &key)?;
        for chunk in edits.chunks(10_000) {
            store.import(chunk, &mut |_, _| true)?;
        }
    }
    drop(edits);
    let mut store = Store::open(&dir, &key)?;
    let started = Instant::now();
    let collected = Collected::from_store(&mut store, &DateWindow::default())?;
    let read_ms = started.elapsed().as_secs_f64() * 1000.0;
    let export = export_records(&collected.records, opts)?;
    let csv = export.to_csv();
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    std::hint::black_box(csv);
    Ok((read_ms, total_ms, export.report.released))
}
