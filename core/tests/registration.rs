//! Registration dates: a case carried over from an earlier register keeps its real
//! month of registration, exports place it there, and cases stored before the field
//! existed keep the day they were typed in.

use caravan_core::export::{Collected, DateWindow};
use caravan_core::{CaseFilter, Edit, Error, ScalarField, Store, StoreKey, Timestamp, YearMonth};

fn consenting(extra: Vec<Edit>) -> Vec<Edit> {
    let mut edits = vec![
        Edit::set(ScalarField::Gender, "Feminine"),
        Edit::Consent {
            share_with_partners: None,
            include_in_statistics: Some(true),
        },
    ];
    edits.extend(extra);
    edits
}

fn ym(s: &str) -> YearMonth {
    YearMonth::parse(s).expect("year-month")
}

fn day(y: i32, m: u32, d: u32) -> Timestamp {
    Timestamp::from_ymd(y, m, d).expect("date")
}

#[test]
fn a_registration_month_is_kept_and_used_by_exports() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let mut store = Store::create(dir.path().join("s"), &key).expect("store");
    let old = store
        .add_case(&consenting(vec![Edit::SetRegistration {
            when: Some(ym("2019-03")),
        }]))
        .expect("old case");
    let today = store.add_case(&consenting(vec![])).expect("case of today");
    drop(store);
    let mut store = Store::open(dir.path().join("s"), &key).expect("reopen");
    let record = store.case(&old).expect("read");
    assert_eq!(record.registration, Some(ym("2019-03")));
    assert_eq!(record.registered(), day(2019, 3, 1));
    let now = store.case(&today).expect("read");
    assert_eq!(now.registration, None);
    let (y, m, d) = now.created_at.ymd();
    assert_eq!(
        now.registered(),
        day(y, m, d),
        "no month set: the day it was typed in"
    );

    // Exports: the year of registration and the date window follow the month set.
    let all = Collected::from_store(&mut store, &DateWindow::default()).expect("collect");
    let years: Vec<i32> = all.records.iter().map(|r| r.year()).collect();
    assert!(years.contains(&2019), "{years:?}");
    assert!(years.contains(&y), "{years:?}");
    let window = DateWindow {
        from: Some(day(2019, 1, 1)),
        to: Some(day(2020, 1, 1)),
    };
    let in_2019 = Collected::from_store(&mut store, &window).expect("collect");
    assert_eq!(in_2019.records.len(), 1);
    assert_eq!(in_2019.records[0].id, old);
    assert_eq!(in_2019.input.outside_dates, 1);
}

#[test]
fn a_future_or_day_precise_registration_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let mut store = Store::create(dir.path().join("s"), &key).expect("store");
    let (y, _, _) = Timestamp::now().ymd();
    let next_year = YearMonth::new(y as u16 + 1, Some(1)).expect("ym");
    let err = store
        .add_case(&consenting(vec![Edit::SetRegistration {
            when: Some(next_year),
        }]))
        .expect_err("a registration in the future");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(store.list(&CaseFilter::default()).is_empty());
    assert!(
        YearMonth::parse("2020-03-14").is_err(),
        "month precision at most"
    );
}

#[test]
fn a_registration_can_be_corrected_and_cleared() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let mut store = Store::create(dir.path().join("s"), &key).expect("store");
    let id = store
        .add_case(&consenting(vec![Edit::SetRegistration {
            when: Some(ym("2018")),
        }]))
        .expect("case");
    assert_eq!(store.case(&id).expect("read").registered(), day(2018, 1, 1));
    store
        .update_case(
            &id,
            &[Edit::SetRegistration {
                when: Some(ym("2018-11")),
            }],
        )
        .expect("correct");
    assert_eq!(
        store.case(&id).expect("read").registered(),
        day(2018, 11, 1)
    );
    store
        .update_case(&id, &[Edit::SetRegistration { when: None }])
        .expect("clear");
    let record = store.case(&id).expect("read");
    assert_eq!(record.registration, None);
    let (y, m, d) = record.created_at.ymd();
    assert_eq!(record.registered(), day(y, m, d));
}
