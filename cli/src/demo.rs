//! `caravan demo`: Caravan's main job on embedded defaults, narrated.
//!
//! An outreach worker in southern Kazakhstan registers cases offline on a phone whose
//! store key comes from the platform keystore; the demo shows the note screen, the
//! indicator screening, a referral to a partner shelter, search, what the store looks
//! like to someone who seizes the phone, and real erasure.

use std::path::Path;

use caravan_core::vocab::{ErasureReason, Lang, Vocabulary};
use caravan_core::{
    assess, CaseFilter, Edit, Error, Result, ScalarField, SetField, Store, StoreKey, YearMonth,
};

use crate::output;

fn step(n: u32, text: &str) {
    println!("\n── {n}. {text}");
}

/// Runs the demo in a temporary directory (or in `keep`).
pub(crate) fn run(keep: Option<&Path>) -> Result<()> {
    let tmp;
    let base = match keep {
        Some(dir) => dir.to_path_buf(),
        None => {
            tmp = std::env::temp_dir().join(format!("caravan-demo-{}", std::process::id()));
            tmp
        }
    };
    let result = scenario(&base);
    if keep.is_none() {
        std::fs::remove_dir_all(&base).ok();
    }
    result
}

fn scenario(base: &Path) -> Result<()> {
    println!("Caravan demo: anonymized case records on an outreach worker's phone.");
    println!("Working directory: {}", base.display());
    let dir = base.join("aigerim-phone");
    let key = StoreKey::generate()?;

    step(1, "Aigerim (NGO outreach, Shymkent, Kazakhstan) opens Caravan offline.");
    let mut store = Store::create(&dir, &key)?;
    println!("   A new encrypted store; its 32-byte key would live in the Android Keystore.");

    step(2, "She registers three cases met at the border crossing. No names, no dates of birth.");
    let cases = [
        vec![
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::set(ScalarField::TraffickingStatus, "Possible"),
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::set(ScalarField::AgeBand, "18-20"),
            Edit::add(SetField::Citizenship, "UZ"),
            Edit::AddRouteEvent { kind: "Recruitment".into(), country: "UZ".into(), when: Some(YearMonth::new(2024, Some(3))?) },
            Edit::AddRouteEvent { kind: "Transit".into(), country: "KZ".into(), when: Some(YearMonth::new(2024, Some(4))?) },
            Edit::AddRouteEvent { kind: "Exploitation".into(), country: "RU".into(), when: Some(YearMonth::new(2024, Some(5))?) },
            Edit::add(SetField::Exploitation, "ForcedLabour"),
            Edit::add(SetField::LabourIndustry, "F_Construction"),
            Edit::add(SetField::MeansOfControl, "WithholdsDocuments"),
            Edit::add(SetField::MeansOfControl, "DebtBondage"),
            Edit::add(SetField::RecruitmentMethod, "ThroughOnlineSocialNetworks"),
            Edit::add(SetField::RecruitmentApp, "Telegram"),
            Edit::Consent { share_with_partners: Some(true), include_in_statistics: Some(true) },
            Edit::note("Recruited through a Telegram job channel; passport kept by the foreman in Moscow."),
        ],
        vec![
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::set(ScalarField::AgeBand, "9-17"),
            Edit::add(SetField::Citizenship, "KZ"),
            Edit::AddRouteEvent { kind: "Exploitation".into(), country: "AE".into(), when: Some(YearMonth::new(2023, None)?) },
            Edit::add(SetField::Exploitation, "SexualExploitation"),
            Edit::add(SetField::MeansOfControl, "FalsePromises"),
            Edit::Consent { share_with_partners: Some(false), include_in_statistics: Some(true) },
        ],
        vec![
            Edit::set(ScalarField::CaseStatus, "FollowUp"),
            Edit::set(ScalarField::Gender, "Masculine"),
            Edit::set(ScalarField::AgeBand, "30-38"),
            Edit::add(SetField::Citizenship, "TJ"),
            Edit::AddRouteEvent { kind: "Exploitation".into(), country: "KZ".into(), when: Some(YearMonth::new(2024, Some(9))?) },
            Edit::add(SetField::Exploitation, "ForcedLabour"),
            Edit::add(SetField::LabourIndustry, "A_AgricultureForestryAndFishing"),
            Edit::note("Cotton harvest near the border; ZX-SENTINEL-KEPT wages withheld for the season."),
        ],
    ];
    let mut ids = Vec::new();
    for edits in &cases {
        ids.push(store.add_case(edits)?);
    }
    print!("{}", output::summaries_table(&store.list(&CaseFilter::default()), Lang::En));

    step(3, "A note with a phone number is refused before it is stored.");
    match store.update_case(&ids[0], &[Edit::note("Her sister can be reached on +998 90 123 45 67.")]) {
        Err(e @ Error::NoteRejected { .. }) => println!("   refused: {e}"),
        Ok(()) => return Err(Error::Internal("the demo expected the note to be refused".into())),
        Err(e) => return Err(e),
    }
    store.update_case(&ids[0], &[Edit::note("Her sister in Tashkent knows her whereabouts; contact via the shelter.")])?;
    println!("   rephrased and stored.");

    step(4, "Screening the second case (a minor) with the indicator questionnaire.");
    store.update_case(
        &ids[1],
        &[
            Edit::Answer { indicator: "DeceivedAboutNatureOfWork".into(), answer: "Yes".into() },
            Edit::Answer { indicator: "DocumentsWithheld".into(), answer: "DontKnow".into() },
            Edit::add(SetField::Vulnerability, "LackOfParentalCare"),
        ],
    )?;
    let assessment = assess(&store.case(&ids[1])?);
    print!("{}", indent(&output::assessment_text(&assessment, Lang::En)));
    println!("   ru: {}", assessment.outcome.label(Lang::Ru).unwrap_or_default());

    step(5, "She refers the first case to a partner shelter in Almaty; the shelter accepts.");
    store.update_case(
        &ids[0],
        &[Edit::AddReferral {
            service: "Shelter".into(),
            partner: "Partner shelter, Almaty".into(),
            organisation_type: Some("NGO".into()),
            reason: Some("AdditionalServicesRequired".into()),
        }],
    )?;
    let referral = store.case(&ids[0])?.referrals[0].id.clone();
    store.update_case(&ids[0], &[Edit::SetReferralStatus { referral, status: "Accepted".into() }])?;
    let r = store.case(&ids[0])?;
    println!(
        "   referral → {} [{}]",
        r.referrals[0].partner,
        r.referrals[0].status().map(|s| s.code().to_string()).unwrap_or_default()
    );

    step(6, "Search: forced labour cases involving Kazakhstan (summaries only, no history loaded).");
    let filter = CaseFilter {
        country: Some(caravan_core::vocab::Country::parse("KZ")?),
        exploitation: Some(caravan_core::vocab::ExploitationType::ForcedLabour),
        ..CaseFilter::default()
    };
    print!("{}", output::summaries_table(&store.list(&filter), Lang::Ru));

    step(7, "What someone who seizes the phone finds in the store directory:");
    for (name, size) in listing(&dir)? {
        println!("   {name:<20} {size:>7} bytes");
    }
    println!("   The text \"ZX-SENTINEL-KEPT\" from a note appears in the files {} times.", occurrences(&dir, "ZX-SENTINEL-KEPT")?);
    drop(store);
    match Store::open(&dir, &StoreKey::generate()?) {
        Err(e @ Error::WrongKey) => println!("   Opening with another key: {e}."),
        other => return Err(Error::Internal(format!("expected a wrong-key error, got {other:?}"))),
    }

    step(8, "The third person asks for their record to be deleted: erase it for real.");
    let mut store = Store::open(&dir, &key)?;
    store.erase_case(&ids[2], ErasureReason::PersonRequested)?;
    match store.case(&ids[2]) {
        Err(e) => println!("   reading it now: {e}"),
        Ok(_) => return Err(Error::Internal("erased case still readable".into())),
    }
    println!(
        "   Every file that held it was rewritten; a tombstone (id, date, reason) remains so the erasure can follow the case to other devices."
    );
    println!("   {} live case(s), {} tombstone(s).", store.len(), store.tombstones().count());

    println!("\nDone. Sync between devices and partner agencies is the next part of Caravan.");
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

fn listing(dir: &Path) -> Result<Vec<(String, u64)>> {
    let io = |e| Error::Io { file: dir.display().to_string(), source: e };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        out.push((entry.file_name().to_string_lossy().into_owned(), entry.metadata().map_err(io)?.len()));
    }
    out.sort();
    Ok(out)
}

fn occurrences(dir: &Path, needle: &str) -> Result<usize> {
    let io = |e| Error::Io { file: dir.display().to_string(), source: e };
    let mut n = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let bytes = std::fs::read(entry.map_err(io)?.path()).map_err(io)?;
        n += bytes.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count();
    }
    Ok(n)
}
