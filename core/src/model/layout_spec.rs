//! Checks that a case document has exactly the layout docs/protocol.md section 22
//! specifies for other implementations: root keys and their Automerge types, the
//! containers and their order in the creating change, and the shapes of route events,
//! notes, referrals and their history. If the layout changes, this fails and the
//! section must change with it.

use automerge::{legacy, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use super::{CaseDoc, CaseId, Edit, ScalarField, SetField, Timestamp, YearMonth};
use crate::identity::DeviceIdentity;

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: i64 = 1_767_225_600_000;

fn scalar(doc: &AutoCommit, obj: &ObjId, key: &str) -> ScalarValue {
    match doc.get(obj, key).expect("get") {
        Some((Value::Scalar(v), _)) => v.into_owned(),
        other => panic!("{key}: expected a scalar, got {other:?}"),
    }
}

fn object(doc: &AutoCommit, obj: &ObjId, key: &str, kind: ObjType) -> ObjId {
    match doc.get(obj, key).expect("get") {
        Some((Value::Object(t), id)) if t == kind => id,
        other => panic!("{key}: expected a {kind:?}, got {other:?}"),
    }
}

fn element(doc: &AutoCommit, list: &ObjId, i: usize) -> ObjId {
    match doc.get(list, i).expect("get") {
        Some((Value::Object(ObjType::Map), id)) => id,
        other => panic!("element {i}: expected a map, got {other:?}"),
    }
}

fn is_short_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn case_document_layout_is_as_specified() {
    let me = DeviceIdentity::from_seed(&[5; 32]).expect("seed");
    let actor = automerge::ActorId::from(me.id().actor());
    let id = CaseId([0xa1; 16]);
    let mut case = CaseDoc::create(id, actor, Timestamp(T0)).expect("create");
    case.apply(
        &[
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::add(SetField::Citizenship, "KZ"),
            Edit::Consent {
                share_with_partners: Some(true),
                include_in_statistics: None,
            },
            Edit::Answer {
                indicator: "DebtBondage".into(),
                answer: "Yes".into(),
            },
            Edit::AddRouteEvent {
                kind: "Recruitment".into(),
                country: "KZ".into(),
                when: Some(YearMonth {
                    year: 2025,
                    month: Some(3),
                }),
            },
            Edit::note("Met at the shelter."),
            Edit::AddReferral {
                service: "Health".into(),
                partner: "City clinic".into(),
                organisation_type: None,
                reason: None,
            },
        ],
        Timestamp(T0),
        &me,
    )
    .expect("creation");
    let referral = case.record().expect("record").referrals[0].id.clone();
    case.apply(
        &[Edit::SetReferralStatus {
            referral: referral.clone(),
            status: "Accepted".into(),
        }],
        Timestamp(T0 + 1),
        &me,
    )
    .expect("second change");
    let mut doc = AutoCommit::load(&case.save()).expect("load");

    // Root keys and types.
    let sets = [
        "citizenship",
        "exploitation",
        "labour_industry",
        "sexual_exploitation",
        "means_of_control",
        "recruitment_method",
        "recruitment_app",
        "recruiter_relation",
        "vulnerability",
    ];
    let set_keys: Vec<&str> = SetField::ALL.iter().map(|f| f.key()).collect();
    assert_eq!(
        set_keys, sets,
        "set-valued fields, in the order of section 22"
    );
    let mut keys: Vec<String> = doc.keys(ROOT).collect();
    keys.sort();
    let mut want: Vec<String> = ["schema", "id", "created_at", "gender"]
        .iter()
        .chain(sets.iter())
        .chain(["consent", "indicators", "referrals", "route", "notes"].iter())
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(scalar(&doc, &ROOT, "schema"), ScalarValue::Uint(1));
    assert_eq!(scalar(&doc, &ROOT, "id"), ScalarValue::Bytes(id.0.to_vec()));
    assert_eq!(
        scalar(&doc, &ROOT, "created_at"),
        ScalarValue::Timestamp(T0)
    );
    assert_eq!(
        scalar(&doc, &ROOT, "gender"),
        ScalarValue::Str("Feminine".into())
    );
    for s in sets {
        object(&doc, &ROOT, s, ObjType::Map);
    }
    let citizenship = object(&doc, &ROOT, "citizenship", ObjType::Map);
    assert_eq!(scalar(&doc, &citizenship, "KZ"), ScalarValue::Boolean(true));
    let consent = object(&doc, &ROOT, "consent", ObjType::Map);
    assert_eq!(
        scalar(&doc, &consent, "share_with_partners"),
        ScalarValue::Boolean(true)
    );
    assert!(doc
        .get(&consent, "include_in_statistics")
        .expect("get")
        .is_none());
    let indicators = object(&doc, &ROOT, "indicators", ObjType::Map);
    assert_eq!(
        scalar(&doc, &indicators, "DebtBondage"),
        ScalarValue::Str("Yes".into())
    );

    // Route events, notes, referrals.
    let route = object(&doc, &ROOT, "route", ObjType::List);
    assert_eq!(doc.length(&route), 1);
    let ev = element(&doc, &route, 0);
    assert_eq!(
        scalar(&doc, &ev, "kind"),
        ScalarValue::Str("Recruitment".into())
    );
    assert_eq!(scalar(&doc, &ev, "country"), ScalarValue::Str("KZ".into()));
    assert_eq!(scalar(&doc, &ev, "year"), ScalarValue::Uint(2025));
    assert_eq!(scalar(&doc, &ev, "month"), ScalarValue::Uint(3));
    let notes = object(&doc, &ROOT, "notes", ObjType::List);
    let note = element(&doc, &notes, 0);
    match scalar(&doc, &note, "id") {
        ScalarValue::Str(s) => assert!(is_short_id(&s), "note id {s}"),
        other => panic!("note id {other:?}"),
    }
    assert_eq!(scalar(&doc, &note, "at"), ScalarValue::Timestamp(T0));
    assert_eq!(
        scalar(&doc, &note, "text"),
        ScalarValue::Str("Met at the shelter.".into())
    );
    let referrals = object(&doc, &ROOT, "referrals", ObjType::Map);
    let ids: Vec<String> = doc.keys(&referrals).collect();
    assert_eq!(ids, std::slice::from_ref(&referral));
    assert!(is_short_id(&referral));
    let r = object(&doc, &referrals, &referral, ObjType::Map);
    assert_eq!(
        scalar(&doc, &r, "service"),
        ScalarValue::Str("Health".into())
    );
    assert_eq!(
        scalar(&doc, &r, "partner"),
        ScalarValue::Str("City clinic".into())
    );
    let history = object(&doc, &r, "history", ObjType::List);
    assert_eq!(doc.length(&history), 2);
    for (i, (status, at)) in [("Requested", T0), ("Accepted", T0 + 1)].iter().enumerate() {
        let e = element(&doc, &history, i);
        assert_eq!(
            scalar(&doc, &e, "status"),
            ScalarValue::Str((*status).into())
        );
        assert_eq!(scalar(&doc, &e, "at"), ScalarValue::Timestamp(*at));
    }

    // The creating change: no dependencies, time 0, the containers in the stated
    // order, then the first edits, all in one change.
    let changes = doc.get_changes(&[]);
    assert_eq!(changes.len(), 2, "one change per batch of edits");
    let first = &changes[0];
    assert!(first.deps().is_empty());
    assert_eq!(first.timestamp(), 0);
    assert_eq!(first.actor_id().to_bytes(), &me.id().actor());
    let root_keys: Vec<String> = first
        .decode()
        .operations
        .iter()
        .filter(|op| op.obj == legacy::ObjectId::Root)
        .filter_map(|op| match &op.key {
            legacy::Key::Map(k) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    let mut containers: Vec<&str> = vec!["schema", "id", "created_at"];
    containers.extend(sets);
    containers.extend(["consent", "indicators", "referrals", "route", "notes"]);
    assert_eq!(
        root_keys[..containers.len()],
        containers[..],
        "the creating change writes the containers first, in this order"
    );
    assert!(root_keys[containers.len()..].contains(&"gender".to_string()));
    assert!(!changes[1].deps().is_empty());
}
