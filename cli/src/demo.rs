//! `caravan demo`: Caravan's main job on embedded defaults, narrated.
//!
//! An outreach worker in southern Kazakhstan registers cases offline on a phone whose
//! store key comes from the platform keystore; the demo shows the note screen, the
//! indicator screening, a referral to a partner shelter, search, what the store looks
//! like to someone who seizes the phone, and real erasure.

use std::path::Path;

use caravan_core::sync::Role;
use caravan_core::vocab::{ErasureReason, Lang, Vocabulary};
use caravan_core::{
    assess, BundleScope, CaseFilter, Edit, Error, Result, ScalarField, SetField, Store, StoreKey,
    YearMonth,
};

use crate::output;

fn step(n: u32, text: &str) {
    println!("\n── {n}. {text}");
}

/// Every sentence the demo states as a fact is checked: a claim that does not hold
/// stops the demo with an error instead of being printed.
fn ensure(holds: bool, claim: &str) -> Result<()> {
    if holds {
        Ok(())
    } else {
        Err(Error::Internal(format!("demo check failed: {claim}")))
    }
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

    step(
        1,
        "Aigerim (NGO outreach, Shymkent, Kazakhstan) opens Caravan offline.",
    );
    let mut store = Store::create(&dir, &key)?;
    println!("   A new encrypted store; its 32-byte key would live in the Android Keystore.");

    step(
        2,
        "She registers three cases met at the border crossing. No names, no dates of birth.",
    );
    let cases = [
        vec![
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::set(ScalarField::TraffickingStatus, "Possible"),
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::set(ScalarField::AgeBand, "18-20"),
            Edit::add(SetField::Citizenship, "UZ"),
            Edit::AddRouteEvent {
                kind: "Recruitment".into(),
                country: "UZ".into(),
                when: Some(YearMonth::new(2024, Some(3))?),
            },
            Edit::AddRouteEvent {
                kind: "Transit".into(),
                country: "KZ".into(),
                when: Some(YearMonth::new(2024, Some(4))?),
            },
            Edit::AddRouteEvent {
                kind: "Exploitation".into(),
                country: "RU".into(),
                when: Some(YearMonth::new(2024, Some(5))?),
            },
            Edit::add(SetField::Exploitation, "ForcedLabour"),
            Edit::add(SetField::LabourIndustry, "F_Construction"),
            Edit::add(SetField::MeansOfControl, "WithholdsDocuments"),
            Edit::add(SetField::MeansOfControl, "DebtBondage"),
            Edit::add(SetField::RecruitmentMethod, "ThroughOnlineSocialNetworks"),
            Edit::add(SetField::RecruitmentApp, "Telegram"),
            Edit::Consent {
                share_with_partners: Some(true),
                include_in_statistics: Some(true),
            },
            Edit::note(
                "Recruited through a Telegram job channel; passport kept by the foreman in Moscow.",
            ),
        ],
        vec![
            Edit::set(ScalarField::CaseStatus, "Active"),
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::set(ScalarField::AgeBand, "9-17"),
            Edit::add(SetField::Citizenship, "KZ"),
            Edit::AddRouteEvent {
                kind: "Exploitation".into(),
                country: "AE".into(),
                when: Some(YearMonth::new(2023, None)?),
            },
            Edit::add(SetField::Exploitation, "SexualExploitation"),
            Edit::add(SetField::MeansOfControl, "FalsePromises"),
            Edit::Consent {
                share_with_partners: Some(false),
                include_in_statistics: Some(true),
            },
        ],
        vec![
            Edit::set(ScalarField::CaseStatus, "FollowUp"),
            Edit::set(ScalarField::Gender, "Masculine"),
            Edit::set(ScalarField::AgeBand, "30-38"),
            Edit::add(SetField::Citizenship, "TJ"),
            Edit::AddRouteEvent {
                kind: "Exploitation".into(),
                country: "KZ".into(),
                when: Some(YearMonth::new(2024, Some(9))?),
            },
            Edit::add(SetField::Exploitation, "ForcedLabour"),
            Edit::add(SetField::LabourIndustry, "A_AgricultureForestryAndFishing"),
            Edit::note(
                "Cotton harvest near the border; ZX-SENTINEL-KEPT wages withheld for the season.",
            ),
        ],
    ];
    let mut ids = Vec::new();
    for edits in &cases {
        ids.push(store.add_case(edits)?);
    }
    print!(
        "{}",
        output::summaries_table(&store.list(&CaseFilter::default()), Lang::En)
    );

    step(
        3,
        "A note with a phone number is refused before it is stored.",
    );
    match store.update_case(
        &ids[0],
        &[Edit::note(
            "Her sister can be reached on +998 90 123 45 67.",
        )],
    ) {
        Err(e @ Error::NoteRejected { .. }) => println!("   refused: {e}"),
        Ok(()) => {
            return Err(Error::Internal(
                "the demo expected the note to be refused".into(),
            ))
        }
        Err(e) => return Err(e),
    }
    store.update_case(
        &ids[0],
        &[Edit::note(
            "Her sister in Tashkent knows her whereabouts; contact via the shelter.",
        )],
    )?;
    println!("   rephrased and stored.");

    step(
        4,
        "Screening the second case (a minor) with the indicator questionnaire.",
    );
    store.update_case(
        &ids[1],
        &[
            Edit::Answer {
                indicator: "DeceivedAboutNatureOfWork".into(),
                answer: "Yes".into(),
            },
            Edit::Answer {
                indicator: "DocumentsWithheld".into(),
                answer: "DontKnow".into(),
            },
            Edit::add(SetField::Vulnerability, "LackOfParentalCare"),
        ],
    )?;
    let assessment = assess(&store.case(&ids[1])?);
    print!(
        "{}",
        indent(&output::assessment_text(&assessment, Lang::En))
    );
    println!(
        "   ru: {}",
        assessment.outcome.label(Lang::Ru).unwrap_or_default()
    );

    step(
        5,
        "She refers the first case to a partner shelter in Almaty; the shelter accepts.",
    );
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
    store.update_case(
        &ids[0],
        &[Edit::SetReferralStatus {
            referral,
            status: "Accepted".into(),
        }],
    )?;
    let r = store.case(&ids[0])?;
    println!(
        "   referral → {} [{}]",
        r.referrals[0].partner,
        r.referrals[0]
            .status()
            .map(|s| s.code().to_string())
            .unwrap_or_default()
    );

    step(
        6,
        "Search: forced labour cases involving Kazakhstan (summaries only, no history loaded).",
    );
    let filter = CaseFilter {
        country: Some(caravan_core::vocab::Country::parse("KZ")?),
        exploitation: Some(caravan_core::vocab::ExploitationType::ForcedLabour),
        ..CaseFilter::default()
    };
    print!(
        "{}",
        output::summaries_table(&store.list(&filter), Lang::Ru)
    );

    step(
        7,
        "What someone who seizes the phone finds in the store directory:",
    );
    for (name, size) in listing(&dir)? {
        println!("   {name:<20} {size:>7} bytes");
    }
    let sentinel = occurrences(&dir, "ZX-SENTINEL-KEPT")?;
    ensure(
        sentinel == 0,
        "the note's text does not appear in the store files",
    )?;
    println!("   The text \"ZX-SENTINEL-KEPT\" from a note appears in the files {sentinel} times.");
    drop(store);
    match Store::open(&dir, &StoreKey::generate()?) {
        Err(e @ Error::WrongKey) => println!("   Opening with another key: {e}."),
        other => {
            return Err(Error::Internal(format!(
                "expected a wrong-key error, got {other:?}"
            )))
        }
    }

    step(
        8,
        "The third person asks for their record to be deleted: erase it for real.",
    );
    let mut store = Store::open(&dir, &key)?;
    let before = data_files(&dir)?;
    store.erase_case(&ids[2], ErasureReason::PersonRequested)?;
    match store.case(&ids[2]) {
        Err(e @ Error::CaseErased { .. }) => println!("   reading it now: {e}"),
        _ => return Err(Error::Internal("erased case still readable".into())),
    }
    let after = data_files(&dir)?;
    let unchanged = before
        .iter()
        .filter(|(name, bytes)| after.iter().any(|(n, b)| n == name && b == bytes))
        .count();
    ensure(
        !before.is_empty() && unchanged == 0,
        "every journal, pack and index file from before the erasure was rewritten or removed",
    )?;
    println!(
        "   All {} journal and index file(s) that could hold it were rewritten or removed; a tombstone (id, date, reason) remains so the erasure can follow the case to other devices.",
        before.len()
    );
    drop(store);
    let mut store = Store::open(&dir, &key)?;
    ensure(
        matches!(store.case(&ids[2]), Err(Error::CaseErased { .. }))
            && store.len() == 2
            && store.tombstones().count() == 1,
        "after reopening, the case stays erased with one tombstone and two live cases",
    )?;
    println!(
        "   Reopened: {} live case(s), {} tombstone(s).",
        store.len(),
        store.tombstones().count()
    );

    cross_border(base, &mut store, &ids)
}

/// The cross-border part: three devices, offline edits, and every way to sync.
fn cross_border(base: &Path, aigerim: &mut Store, ids: &[caravan_core::CaseId]) -> Result<()> {
    let mailbox = base.join("shared-folder");
    let mut transport_bytes: Vec<Vec<u8>> = Vec::new();

    step(
        9,
        "Aigerim creates a team and invites two colleagues in person (QR code): Bakyt as a \
         field worker, Dana as a coordinator.",
    );
    aigerim
        .team_mut()
        .create_group("Central Asia outreach", "Aigerim, Shymkent")?;
    let mut bakyt = Store::create(base.join("bakyt-phone"), &StoreKey::generate()?)?;
    let mut dana = Store::create(base.join("dana-laptop"), &StoreKey::generate()?)?;
    let inv = aigerim.team_mut().invite(Role::FieldWorker)?;
    println!(
        "   invitation for Bakyt (Osh, Kyrgyzstan): {}…  ({} characters)",
        &inv.as_text()[..32],
        inv.as_text().len()
    );
    bakyt.team_mut().join_group(inv.as_text(), "Bakyt, Osh")?;
    dana.team_mut().join_group(
        aigerim.team_mut().invite(Role::Coordinator)?.as_text(),
        "Dana, coordinator, Almaty",
    )?;
    // The invitations carry no team key: each phone's first bundle reaches Aigerim,
    // whose device admits it and answers with the key sealed to that phone alone.
    for s in [&mut bakyt, &mut dana] {
        let join = s.export_bundle(BundleScope::Everything)?;
        aigerim.import_bundle(&join)?;
        let reply = aigerim.export_bundle(BundleScope::Everything)?;
        s.import_bundle(&reply)?;
    }
    println!("   each phone's join reached Aigerim, whose reply admitted it (one exchange each)");
    // Someone photographed Bakyt's invitation and uses it on another phone.
    let mut stranger = Store::create(base.join("stranger-phone"), &StoreKey::generate()?)?;
    stranger
        .team_mut()
        .join_group(inv.as_text(), "Unknown phone")?;
    let second = stranger.export_bundle(BundleScope::Everything)?;
    transport_bytes.push(second.clone());
    let before = data_files(aigerim.dir())?;
    let refusal = match aigerim.import_bundle(&second) {
        Err(e) if e.to_string().contains("used again") => e.to_string(),
        other => {
            return Err(Error::Internal(format!(
                "demo check failed: a second use of an invitation was not refused ({other:?})"
            )))
        }
    };
    ensure(
        data_files(aigerim.dir())? == before,
        "the refused second use changed no byte of Aigerim's store",
    )?;
    let answer = aigerim.export_bundle(BundleScope::Everything)?;
    let stranger_reads = stranger.import_bundle(&answer).is_ok() || !stranger.is_empty();
    ensure(
        !stranger_reads,
        "the second phone reads nothing of the team's cases",
    )?;
    ensure(
        aigerim
            .team()
            .members()
            .iter()
            .any(|m| m.name == "Bakyt, Osh" && m.active)
            && aigerim
                .team()
                .members()
                .iter()
                .all(|m| m.name != "Unknown phone"),
        "Bakyt stays the member the invitation admitted",
    )?;
    println!("   the same invitation used again on another phone: refused ({refusal});");
    println!(
        "   Aigerim's store is unchanged, the other phone reads no case, Bakyt stays a member."
    );

    step(
        10,
        "Everyone syncs through a shared folder (it only ever holds ciphertext).",
    );
    for _ in 0..2 {
        for s in [&mut bakyt, &mut dana, &mut *aigerim] {
            let r = s.sync_mailbox(&mailbox)?;
            if r.bundles_written + r.bundles_imported > 0 {
                println!(
                    "   {:<24} read {} bundle(s), wrote {} ({} bytes) — {} new case(s)",
                    member_name(s),
                    r.bundles_imported,
                    r.bundles_written,
                    r.bytes_written,
                    r.changes.cases_created
                );
            }
        }
    }
    for m in aigerim.team().members() {
        println!(
            "   member {}  {:<13} {}",
            m.device.short(),
            m.role.code(),
            m.name
        );
    }
    // A field worker edits the cases it created or was assigned; every device checks.
    let case = ids[0];
    aigerim
        .team_mut()
        .assign_case(&case, &bakyt.team().device_id(), true)?;
    aigerim.sync_mailbox(&mailbox)?;
    bakyt.sync_mailbox(&mailbox)?;
    match bakyt.erase_case(&case, ErasureReason::EnteredInError) {
        Err(Error::NotPermitted { reason, .. }) => {
            println!(
                "   Aigerim assigns case {} to Bakyt; Bakyt may not erase cases: {reason}",
                case.short()
            )
        }
        _ => return Err(Error::Internal("a field worker could erase".into())),
    }

    step(11, "Offline, at the same time: Aigerim and Bakyt both edit the case assigned to him; Bakyt registers a new one.");
    aigerim.update_case(
        &case,
        &[
            Edit::add(SetField::MeansOfControl, "PhysicalThreats"),
            Edit::set(ScalarField::DecidedBy, "NGO"),
        ],
    )?;
    bakyt.update_case(
        &case,
        &[
            Edit::add(SetField::MeansOfControl, "ThreatensChildrenFamily"),
            Edit::set(ScalarField::DecidedBy, "Police"),
        ],
    )?;
    let new_case = bakyt.add_case(&[
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::set(ScalarField::Gender, "Masculine"),
        Edit::set(ScalarField::AgeBand, "21-23"),
        Edit::add(SetField::Citizenship, "KG"),
        Edit::AddRouteEvent {
            kind: "Exploitation".into(),
            country: "KR".into(),
            when: Some(YearMonth::new(2024, Some(2))?),
        },
        Edit::add(SetField::Exploitation, "ForcedLabour"),
        Edit::note("Factory work in Korea; wages withheld; ZX-SENTINEL-TRANSIT"),
    ])?;

    step(
        12,
        "They meet at the border post and sync live over the local network (TCP).",
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Io {
        file: "loopback".into(),
        source: e,
    })?;
    let addr = listener.local_addr().map_err(|e| Error::Io {
        file: "loopback".into(),
        source: e,
    })?;
    let bakyt_ref = &mut bakyt;
    let bakyt_key_session = std::thread::scope(
        |scope| -> Result<(caravan_core::LiveSession, Vec<Vec<u8>>)> {
            let server = scope.spawn(move || -> Result<caravan_core::LiveSession> {
                let (stream, _) = listener.accept().map_err(|e| Error::Io {
                    file: "loopback".into(),
                    source: e,
                })?;
                let session = bakyt_ref.live_accept()?;
                crate::sync_cmd::run_live(bakyt_ref, stream, session, None, true)
            });
            let stream = std::net::TcpStream::connect(addr).map_err(|e| Error::Io {
                file: "loopback".into(),
                source: e,
            })?;
            let tap = Tap {
                inner: stream,
                seen: Vec::new(),
            };
            let (session, first) = aigerim.live_start()?;
            let mut tap = tap;
            let s = crate::sync_cmd::run_live(aigerim, &mut tap, session, Some(first), true)?;
            server
                .join()
                .map_err(|_| Error::Internal("the listening side panicked".into()))??;
            Ok((s, std::mem::take(&mut tap.seen)))
        },
    )?;
    let (live, captured) = bakyt_key_session;
    transport_bytes.extend(captured);
    println!(
        "   {} messages, {} bytes sent, {} bytes received; {} change(s) applied on Aigerim's phone",
        live.messages_sent + live.messages_received,
        live.bytes_sent,
        live.bytes_received,
        live.report.changes_applied
    );
    let merged = aigerim.case(&case)?;
    let codes: Vec<String> = merged
        .means_of_control
        .iter()
        .map(|m| m.code().to_string())
        .collect();
    ensure(
        ["PhysicalThreats", "ThreatensChildrenFamily"]
            .iter()
            .all(|c| codes.iter().any(|m| m == c)),
        "both offline additions to the means of control survive the merge",
    )?;
    ensure(
        merged.conflicts.iter().any(|c| c.field == "decided_by"),
        "the two concurrent values of decided_by are kept as a conflict",
    )?;
    println!(
        "   both additions survive; means of control on case {}: {}",
        case.short(),
        merged
            .means_of_control
            .iter()
            .map(|m| m.code().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for c in &merged.conflicts {
        println!(
            "   conflict for the coordinator: {} shows {}, also written: {}",
            c.field,
            c.current,
            c.others.join(", ")
        );
    }

    step(
        13,
        "Bakyt hands Dana his day of updates as QR codes (no network at the shelter).",
    );
    let day = bakyt.export_bundle(BundleScope::SinceLast("dana".into()))?;
    let frames = caravan_core::sync::qr::split(&day, caravan_core::sync::qr::DEFAULT_MAX_FRAME)?;
    transport_bytes.extend(frames.iter().cloned());
    let mut scanner = caravan_core::sync::qr::Reassembler::new();
    for f in frames.iter().rev().chain(frames.iter().take(1)) {
        scanner.push(f)?; // scanned in reverse order, one twice
    }
    let r = dana.import_bundle(&scanner.finish()?)?;
    println!(
        "   {} bytes in {} QR frame(s) of at most {} bytes; Dana's laptop: {} new case(s), {} change(s)",
        day.len(),
        frames.len(),
        frames.iter().map(Vec::len).max().unwrap_or(0),
        r.cases_created,
        r.changes_applied
    );

    step(
        14,
        "Dana resolves the conflict, and erases a case the person asked to delete.",
    );
    dana.sync_mailbox(&mailbox)?;
    dana.update_case(&case, &[Edit::set(ScalarField::DecidedBy, "NGO")])?;
    dana.erase_case(&ids[1], ErasureReason::PersonRequested)?;
    let folder_before = folder_files(&mailbox)?;
    for _ in 0..2 {
        for s in [&mut dana, &mut bakyt, &mut *aigerim] {
            s.sync_mailbox(&mailbox)?;
        }
    }
    for s in [&mut *aigerim, &mut bakyt, &mut dana] {
        ensure(
            matches!(s.case(&ids[1]), Err(Error::CaseErased { .. })),
            "the erasure reached every device",
        )?;
        let c = s.case(&case)?;
        ensure(
            c.conflicts.iter().all(|c| c.field != "decided_by")
                && c.scalar_code(ScalarField::DecidedBy).as_deref() == Some("NGO"),
            "Dana's choice resolved the decided_by conflict on every device",
        )?;
    }
    let folder_after = folder_files(&mailbox)?;
    let kept = folder_before
        .iter()
        .filter(|(name, bytes)| folder_after.iter().any(|(n, b)| n == name && b == bytes))
        .count();
    ensure(
        kept == 0,
        "every file the folder held before the erasure was rewritten or removed",
    )?;
    println!(
        "   the conflict is resolved (decided_by = NGO) and the case erased on all three devices;"
    );
    println!(
        "   all {} file(s) the folder held before the erasure were rewritten or removed.",
        folder_before.len()
    );

    step(15, "Check: all three devices converge.");
    let a = snapshot(aigerim)?;
    let b = snapshot(&mut bakyt)?;
    let d = snapshot(&mut dana)?;
    if a != b || a != d {
        return Err(Error::Internal("devices did not converge".into()));
    }
    println!(
        "   3 devices hold the same {} case(s), identical field by field.",
        a.len()
    );

    step(
        16,
        "Dana refers the first case across the border, to a shelter in Istanbul: an agency \
         with its own team and key. By e-mail they agree which fields the shelter sees, \
         checking codes read out over the phone.",
    );
    let mut shelter = Store::create(base.join("istanbul-shelter"), &StoreKey::generate()?)?;
    shelter
        .team_mut()
        .create_group("Istanbul shelter", "Shelter coordinator")?;
    let request = shelter.partners().partner_request("Istanbul shelter")?;
    let fields: Vec<String> = ["gender", "age_band", "citizenship", "exploitation"]
        .map(String::from)
        .to_vec();
    let (agreement, offer) = dana.partners_mut().partner_agree(
        "Central Asia outreach",
        request.as_text(),
        request.code(),
        &fields,
    )?;
    let at_shelter = shelter
        .partners_mut()
        .partner_accept(offer.as_text(), offer.code())?;
    println!(
        "   codes read out: request {}, offer {}; fields agreed: {}",
        request.code(),
        offer.code(),
        fields.join(", ")
    );
    dana.partners_mut()
        .share_case(&agreement, &case, "Shelter")?;
    // Across the border, the share bundles travel through a relay that sees only
    // ciphertext: a local WebDAV server when one is installed, else a shared folder.
    let relay = crate::demo_relay::Relay::start(&base.join("relay"))?;
    println!("   transport across the border: {}", relay.said);
    let to_shelter = dana.partners_mut().export_share(&agreement)?;
    let arrived = relay.carry("almaty-to-istanbul/0000000001.cvs", &to_shelter)?;
    shelter.partners_mut().import_share(&arrived)?;
    let copy_id = shelter
        .list(&CaseFilter::default())
        .first()
        .map(|c| c.id)
        .ok_or_else(|| Error::Internal("the shared case did not arrive".into()))?;
    let seen = shelter.case(&copy_id)?;
    println!(
        "   the shelter sees: gender {}, age band {}, citizenship {}, exploitation {}; \
         means of control: {}, notes: {}, route: {}; the NGO's case id: {}",
        seen.scalar_code(ScalarField::Gender).unwrap_or_default(),
        seen.scalar_code(ScalarField::AgeBand).unwrap_or_default(),
        seen.set_codes(SetField::Citizenship).join("+"),
        seen.set_codes(SetField::Exploitation).join("+"),
        seen.means_of_control.len(),
        seen.notes.len(),
        seen.route.len(),
        if copy_id == case {
            "visible"
        } else {
            "not visible"
        }
    );
    if !seen.means_of_control.is_empty()
        || !seen.notes.is_empty()
        || !seen.route.is_empty()
        || copy_id == case
    {
        return Err(Error::Internal("the shelter saw more than agreed".into()));
    }
    let referral = seen.referrals[0].id.clone();
    shelter.update_case(
        &copy_id,
        &[
            Edit::SetReferralStatus {
                referral,
                status: "Accepted".into(),
            },
            Edit::note("Bed assigned for two weeks; ZX-SENTINEL-SHELTER legal aid on Monday."),
        ],
    )?;
    let to_dana = shelter.partners_mut().export_share(&at_shelter)?;
    let arrived = relay.carry("istanbul-to-almaty/0000000001.cvs", &to_dana)?;
    let back = dana.partners_mut().import_share(&arrived)?;
    // What the relay stored is what it saw.
    let stored = walk(&relay.files)?
        .into_iter()
        .map(|entry| {
            std::fs::read(&entry).map_err(|e| Error::Io {
                file: entry.display().to_string(),
                source: e,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    println!(
        "   the relay holds {} file(s), {} bytes, all ciphertext (checked in step 18)",
        stored.len(),
        stored.iter().map(Vec::len).sum::<usize>()
    );
    transport_bytes.extend(stored);
    drop(relay);
    let real = dana.case(&case)?;
    let status = real
        .referrals
        .iter()
        .find(|r| r.partner == "Istanbul shelter")
        .and_then(|r| r.history.last())
        .map(|e| e.status.code().to_string())
        .unwrap_or_default();
    println!(
        "   back in Almaty: the referral to the shelter is {status}; {} service note(s) copied into the case",
        back.notes_copied
    );
    if status != "Accepted" || back.notes_copied != 1 {
        return Err(Error::Internal(
            "the shelter's update did not come back".into(),
        ));
    }

    step(
        17,
        "Bakyt's phone is taken at the border. Dana revokes it: the team key rotates.",
    );
    let seized = bakyt.team().device_id();
    dana.team_mut().revoke(&seized)?;
    // Before Aigerim hears of the revocation, the phone hands her a late note on the
    // case it created: not knowing, she applies it.
    bakyt.update_case(&new_case, &[Edit::note("Late note from the seized phone")])?;
    let late_note = bakyt.export_bundle(BundleScope::Everything)?;
    transport_bytes.push(late_note.clone());
    aigerim.import_bundle(&late_note)?;
    let has_late_note = |s: &mut Store| -> Result<bool> {
        Ok(s.case(&new_case)?
            .notes
            .iter()
            .any(|n| n.text == "Late note from the seized phone"))
    };
    ensure(
        has_late_note(aigerim)?,
        "Aigerim applies the phone's late note before she hears of the revocation",
    )?;
    dana.sync_mailbox(&mailbox)?;
    aigerim.sync_mailbox(&mailbox)?;
    let after = aigerim.add_case(&[
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, "KZ"),
        Edit::note("Registered after the revocation; ZX-SENTINEL-AFTER"),
    ])?;
    aigerim.sync_mailbox(&mailbox)?;
    dana.sync_mailbox(&mailbox)?;
    // Whoever holds the phone now writes a case before the phone hears of the
    // revocation, then tries to read the folder and to write to the team.
    let late = bakyt.add_case(&[
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, "KG"),
        Edit::note("Written on the seized phone; ZX-SENTINEL-SEIZED"),
    ])?;
    let forged = bakyt.export_bundle(BundleScope::Everything)?;
    transport_bytes.push(forged.clone());
    let on_phone = bakyt.sync_mailbox(&mailbox);
    let phone_reads_new_case = bakyt.case(&after).is_ok();
    // On each remaining device the seized phone's late case is either refused
    // outright or held in quarantine; it never enters the case list.
    let mut refused = true;
    for s in [&mut *aigerim, &mut dana] {
        let held = match s.import_bundle(&forged) {
            Err(Error::Rejected { .. }) => true,
            Ok(r) => r.changes_quarantined + r.cases_refused > 0 && r.cases_created == 0,
            Err(e) => return Err(e),
        };
        refused &= held && s.case(&late).is_err();
    }
    ensure(
        on_phone.is_err(),
        "the seized phone can no longer sync through the folder",
    )?;
    println!(
        "   key epoch now {}. On the seized phone: folder sync {}; the new case {}; what it sends {}.",
        aigerim.team().key_epoch().unwrap_or(0),
        match &on_phone {
            Ok(_) => "runs".to_string(),
            Err(e) => format!("fails ({e})"),
        },
        if phone_reads_new_case { "IS READABLE" } else { "is unreadable" },
        if refused {
            "is refused or quarantined by both remaining devices"
        } else {
            "IS ACCEPTED"
        },
    );
    if phone_reads_new_case || !refused {
        return Err(Error::Internal("the revoked phone still takes part".into()));
    }
    for m in dana.team().members().iter().filter(|m| !m.active) {
        println!("   revoked: {} {}", m.device.short(), m.name);
    }
    // Dana, who knew of the revocation, holds the late note (and the late case) in
    // quarantine; she rejects them, and the note disappears from Aigerim's copy too.
    aigerim.sync_mailbox(&mailbox)?;
    dana.sync_mailbox(&mailbox)?;
    let held = dana.team().quarantined();
    ensure(
        held.iter()
            .any(|q| q.case == new_case && q.notes.iter().any(|n| n.contains("Late note"))),
        "Dana sees the late note in quarantine, with its text",
    )?;
    for q in held {
        dana.team_mut().resolve_quarantine(&q.case, false)?;
    }
    dana.sync_mailbox(&mailbox)?;
    aigerim.sync_mailbox(&mailbox)?;
    ensure(
        !has_late_note(&mut dana)? && !has_late_note(aigerim)?,
        "the rejected late note disappears from every device, Aigerim's included",
    )?;
    ensure(
        dana.team().quarantined().is_empty() && aigerim.team().quarantined().is_empty(),
        "nothing is left in quarantine on either device",
    )?;
    println!(
        "   Dana rejected the late note Aigerim had applied before she knew: it is gone from both devices; nothing waits in quarantine."
    );
    if snapshot(aigerim)? != snapshot(&mut dana)? {
        return Err(Error::Internal(
            "the remaining devices did not converge".into(),
        ));
    }
    println!("   Aigerim and Dana still converge; the new case never reached the phone.");

    step(18, "Check: no transport saw plaintext.");
    for entry in walk(&mailbox)? {
        transport_bytes.push(std::fs::read(&entry).map_err(|e| Error::Io {
            file: entry.display().to_string(),
            source: e,
        })?);
    }
    let total: usize = transport_bytes.iter().map(Vec::len).sum();
    let mut needles: Vec<String> = [
        "ZX-SENTINEL-TRANSIT",
        "ZX-SENTINEL-KEPT",
        "ZX-SENTINEL-AFTER",
        "ZX-SENTINEL-SHELTER",
        "ZX-SENTINEL-SEIZED",
        // team and device names
        "Central Asia outreach",
        "Istanbul shelter",
        "Shelter coordinator",
        "Aigerim, Shymkent",
        "Bakyt, Osh",
        "Dana, coordinator, Almaty",
    ]
    .map(String::from)
    .to_vec();
    // every case id, in hex and as raw bytes
    needles.extend(
        ids.iter()
            .chain([&new_case, &after, &late])
            .map(|id| id.to_hex()),
    );
    let leaks = needles
        .iter()
        .map(|n| {
            transport_bytes
                .iter()
                .map(|b| b.windows(n.len()).filter(|w| *w == n.as_bytes()).count())
                .sum::<usize>()
        })
        .sum::<usize>();
    println!(
        "   {} bytes crossed the folder, the network, the QR codes and the share bundles;",
        total
    );
    println!(
        "   searched for {} plaintexts (note texts, team and device names, case ids): found {leaks}.",
        needles.len()
    );
    if leaks > 0 {
        return Err(Error::Internal("plaintext reached a transport".into()));
    }
    println!("\nDone.");
    Ok(())
}

/// Records the transport saw.
struct Tap<S> {
    inner: S,
    seen: Vec<Vec<u8>>,
}

impl<S: std::io::Read> std::io::Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.push(buf[..n].to_vec());
        Ok(n)
    }
}

impl<S: std::io::Write> std::io::Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.seen.push(buf.to_vec());
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn member_name(s: &Store) -> String {
    let me = s.team().device_id();
    s.team()
        .members()
        .into_iter()
        .find(|m| m.device == me)
        .map(|m| m.name)
        .unwrap_or_else(|| "this device".into())
}

fn snapshot(s: &mut Store) -> Result<Vec<caravan_core::CaseRecord>> {
    let ids: Vec<_> = s
        .list(&CaseFilter::default())
        .iter()
        .map(|c| c.id)
        .collect();
    let mut v = ids
        .iter()
        .map(|id| s.case(id))
        .collect::<Result<Vec<_>>>()?;
    v.sort_by_key(|r| r.id);
    Ok(v)
}

fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let io = |e| Error::Io {
        file: dir.display().to_string(),
        source: e,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)?.flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path())?);
        } else {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

fn listing(dir: &Path) -> Result<Vec<(String, u64)>> {
    let io = |e| Error::Io {
        file: dir.display().to_string(),
        source: e,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.metadata().map_err(io)?.len(),
        ));
    }
    out.sort();
    Ok(out)
}

fn occurrences(dir: &Path, needle: &str) -> Result<usize> {
    let io = |e| Error::Io {
        file: dir.display().to_string(),
        source: e,
    };
    let mut n = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let bytes = std::fs::read(entry.map_err(io)?.path()).map_err(io)?;
        n += bytes
            .windows(needle.len())
            .filter(|w| *w == needle.as_bytes())
            .count();
    }
    Ok(n)
}

/// The bytes of every journal, pack and index file of a store directory.
fn data_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (name, _) in listing(dir)? {
        if ["journal-", "pack-", "index-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| Error::Io {
                file: path.display().to_string(),
                source: e,
            })?;
            out.push((name, bytes));
        }
    }
    Ok(out)
}

/// The bytes of every file below a folder, by path.
fn folder_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    walk(dir)?
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| Error::Io {
                file: path.display().to_string(),
                source: e,
            })?;
            Ok((path.display().to_string(), bytes))
        })
        .collect()
}
