//! Sharing cases with a partner agency's own team: agreement by codes read over the
//! phone, projections with only the agreed fields, referral updates flowing back.

use super::*;
use crate::model::{ScalarField, SetField};
use crate::sync::Role;
use crate::vocab::Vocabulary;

fn store(tmp: &tempfile::TempDir, name: &str) -> Store {
    Store::create(tmp.path().join(name), &StoreKey::generate().expect("key")).expect("create")
}

/// The Almaty NGO (coordinator `a`) and the Istanbul shelter (coordinator `p`, with a
/// field worker `pw`), each a team of its own, agree to share gender, age band and
/// citizenship.
fn agencies(tmp: &tempfile::TempDir) -> (Store, Store, Store, String, String) {
    let mut a = store(tmp, "ngo");
    a.team_mut()
        .create_group("Almaty NGO", "Dana, coordinator")
        .expect("group");
    let mut p = store(tmp, "shelter");
    p.team_mut()
        .create_group("Istanbul shelter", "Shelter coordinator")
        .expect("group");
    let mut pw = store(tmp, "shelter-worker");
    pw.team_mut()
        .join_group(
            p.team_mut()
                .invite(Role::FieldWorker)
                .expect("inv")
                .as_text(),
            "Shelter worker",
        )
        .expect("join");
    p.import_bundle(&pw.export_bundle(BundleScope::Everything).expect("b"))
        .expect("learn");
    let req = p
        .partners()
        .partner_request("Istanbul shelter")
        .expect("request");
    let fields: Vec<String> = ["gender", "age_band", "citizenship"]
        .map(String::from)
        .to_vec();
    // The request was replaced on the way: the codes differ, nothing is agreed.
    let mut other = store(tmp, "mitm");
    other
        .team_mut()
        .create_group("Impostor", "Impostor")
        .expect("group");
    let fake = other
        .partners()
        .partner_request("Istanbul shelter")
        .expect("fake");
    assert!(a
        .partners_mut()
        .partner_agree("Almaty NGO", fake.as_text(), req.code(), &fields)
        .is_err());
    assert!(a.partners().agreements().is_empty());
    let (id, offer) = a
        .partners_mut()
        .partner_agree("Almaty NGO", req.as_text(), req.code(), &fields)
        .expect("agree");
    // The offer opens only with its own code, on the requesting device.
    assert!(p
        .partners_mut()
        .partner_accept(offer.as_text(), "AAAA-BBBB-CCCC-DDDD")
        .is_err());
    assert!(other
        .partners_mut()
        .partner_accept(offer.as_text(), offer.code())
        .is_err());
    let pid = p
        .partners_mut()
        .partner_accept(offer.as_text(), offer.code())
        .expect("accept");
    assert_eq!(id, pid);
    (a, p, pw, id, pid)
}

fn case(consent: bool) -> Vec<Edit> {
    vec![
        Edit::set(ScalarField::Gender, "Feminine"),
        Edit::set(ScalarField::AgeBand, "18-20"),
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, "KZ"),
        Edit::add(SetField::MeansOfControl, "DebtBondage"),
        Edit::note("ZX-SENTINEL-NOT-SHARED met at the bus station"),
        Edit::Consent {
            share_with_partners: Some(consent),
            include_in_statistics: Some(true),
        },
    ]
}

#[test]
fn a_referred_case_reaches_the_partner_with_only_the_agreed_fields_and_updates_flow_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (mut a, mut p, mut pw, id, pid) = agencies(&tmp);
    let shared = a.add_case(&case(true)).expect("case");
    let private = a.add_case(&case(false)).expect("case");
    // Only with consent.
    assert!(matches!(
        a.partners_mut().share_case(&id, &private, "Shelter"),
        Err(Error::NotPermitted { .. })
    ));
    a.partners_mut()
        .share_case(&id, &shared, "Shelter")
        .expect("share");
    assert_eq!(a.case(&shared).expect("c").referrals.len(), 1);
    let bundle = a.partners_mut().export_share(&id).expect("export");
    // The bundle is ciphertext, and another team's group key does not open it.
    assert!(!bundle.windows(10).any(|w| w == b"ZX-SENTINE"));
    assert!(matches!(
        p.import_bundle(&bundle),
        Err(Error::NotForThisDevice)
    ));
    let r = p.partners_mut().import_share(&bundle).expect("import");
    assert_eq!(r.cases_received, 1);
    // The partner's copy: the agreed fields and the referral, nothing else; not the case id.
    let copies = p.list(&CaseFilter::default());
    assert_eq!(copies.len(), 1);
    let copy_id = copies[0].id;
    assert_ne!(copy_id, shared);
    assert_eq!(r.changed, vec![copy_id], "the copy is the case it changed");
    let copy = p.case(&copy_id).expect("copy");
    assert_eq!(copy.gender.as_ref().map(|g| g.code()), Some("Feminine"));
    assert_eq!(copy.age_band.as_ref().map(|g| g.code()), Some("18-20"));
    assert_eq!(
        copy.set_codes(SetField::Citizenship),
        vec!["KZ".to_string()]
    );
    assert!(copy.means_of_control.is_empty(), "not agreed");
    assert!(copy.case_status.is_none(), "not agreed");
    assert!(copy.notes.is_empty(), "notes are never shared");
    assert_eq!(copy.referrals.len(), 1);
    assert_eq!(copy.referrals[0].partner, "Almaty NGO");
    // The shelter's own team works on it: the coordinator assigns it to a worker.
    p.team_mut()
        .assign_case(&copy_id, &pw.team().device_id(), true)
        .expect("assign");
    pw.import_bundle(&p.export_bundle(BundleScope::Everything).expect("b"))
        .expect("sync");
    let referral = copy.referrals[0].id.clone();
    pw.update_case(
        &copy_id,
        &[
            Edit::SetReferralStatus {
                referral,
                status: "Accepted".into(),
            },
            Edit::note("Bed assigned; legal aid appointment on Monday."),
        ],
    )
    .expect("worker updates");
    p.import_bundle(&pw.export_bundle(BundleScope::Everything).expect("b"))
        .expect("sync");
    // Back to the NGO: status and service note land in the real case, once.
    let back = p.partners_mut().export_share(&pid).expect("return");
    let r = a.partners_mut().import_share(&back).expect("import return");
    assert_eq!((r.statuses_copied, r.notes_copied), (1, 1));
    assert_eq!(r.changed, vec![shared], "the real case, once");
    let real = a.case(&shared).expect("case");
    assert_eq!(
        real.referrals[0].history.last().map(|e| e.status.code()),
        Some("Accepted")
    );
    assert!(real
        .notes
        .iter()
        .any(|n| n.text == "[Istanbul shelter] Bed assigned; legal aid appointment on Monday."));
    assert_eq!(
        a.partners_mut().import_share(&back).expect("again"),
        ShareReport::default(),
        "idempotent"
    );
    // A change of an agreed field reaches the copy; others do not.
    a.update_case(
        &shared,
        &[
            Edit::set(ScalarField::AgeBand, "21-23"),
            Edit::add(SetField::MeansOfControl, "PhysicalThreats"),
        ],
    )
    .expect("edit");
    let r = p
        .partners_mut()
        .import_share(&a.partners_mut().export_share(&id).expect("export"))
        .expect("import");
    assert_eq!(r.cases_updated, 1);
    assert_eq!(r.changed, vec![copy_id]);
    let copy = p.case(&copy_id).expect("copy");
    assert_eq!(copy.age_band.as_ref().map(|g| g.code()), Some("21-23"));
    assert!(copy.means_of_control.is_empty());
    // Withdrawing the share stops further updates either way.
    a.partners_mut()
        .unshare_case(&id, &shared)
        .expect("unshare");
    a.update_case(&shared, &[Edit::set(ScalarField::Gender, "Masculine")])
        .expect("edit");
    let r = p
        .partners_mut()
        .import_share(&a.partners_mut().export_share(&id).expect("export"))
        .expect("import");
    assert_eq!(r.withdrawn, 1);
    assert!(r.changed.is_empty(), "a withdrawal changes no case");
    assert_eq!(
        p.case(&copy_id)
            .expect("copy")
            .gender
            .as_ref()
            .map(|g| g.code()),
        Some("Feminine")
    );
    assert!(p.partners_mut().export_share(&pid).is_ok());
    assert_eq!(p.partners().agreements()[0].shared_cases, 0);
}

#[test]
fn share_bundles_from_anyone_but_the_partner_coordinator_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (mut a, mut p, mut pw, id, _) = agencies(&tmp);
    let c = a.add_case(&case(true)).expect("case");
    a.partners_mut()
        .share_case(&id, &c, "Legal")
        .expect("share");
    let bundle = a.partners_mut().export_share(&id).expect("export");
    // A field worker of the partner cannot take it in (it holds no agreement).
    assert!(matches!(
        pw.partners_mut().import_share(&bundle),
        Err(Error::NotPermitted { .. })
    ));
    // A tampered bundle is refused and changes nothing.
    let mut bad = bundle.clone();
    let n = bad.len() / 2;
    bad[n] ^= 1;
    assert!(p.partners_mut().import_share(&bad).is_err());
    assert!(p.list(&CaseFilter::default()).is_empty());
    // The sharing side does not take its own bundle back as a partner's.
    assert!(a.partners_mut().import_share(&bundle).is_err());
    // Ending the agreement stops everything.
    a.partners_mut().end_agreement(&id).expect("end");
    assert!(a.partners_mut().export_share(&id).is_err());
}
