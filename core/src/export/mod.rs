//! Statistics safe to publish.
//!
//! Every export starts from the same two steps: only cases whose person explicitly
//! agreed to inclusion in statistics are read ([`StatRecord::from_case`]), then the
//! registration-date window is applied ([`Collected`]). From there:
//!
//! - [`export_records`]: record-level export in the CTDC public schema, k-anonymized
//!   (k = 11 by default, as CTDC), with an optional generalization search;
//! - [`table`]: counts by one to three dimensions, small cells suppressed, optionally
//!   with differential privacy ([`dp`]);
//! - [`chart`]: route diagrams and bar charts drawn from such tables, as SVG and PNG;
//! - [`Extract`] and [`combine`]: several agencies' confidential extracts merged into
//!   one data set without counting a shared case twice.
//!
//! See `docs/export.md` for the CTDC mapping, the algorithms and the residual risks.

pub mod chart;
pub mod codebook;
mod combine;
mod ctdc;
pub mod dp;
pub mod files;
mod kanon;
pub mod ledger;
mod png;
mod regions;
mod schema;
mod source;
mod table_schema;
mod table_text;
mod tables;

#[cfg(test)]
mod disclosure_tests;
#[cfg(test)]
pub(crate) mod testdata;

pub use crate::model::{Excluded, StatRecord, StatReferral, StatRouteEvent};
pub use combine::{combine, Combined, Extract, SourceReport, EXTRACT_FORMAT, MAX_SOURCES};
pub use ctdc::{Attribute, CountryCodes};
pub use kanon::{
    check_k_anonymity, export_records, parse_csv, AttributeLevel, KCheck, PublishedReport,
    RecordExport, RecordOptions, RecordReport, DEFAULT_K,
};
pub use schema::{ColumnType, RecordSheet, Schema, CTDC_COLUMNS, CTDC_SCHEMA_VERSION};
pub use source::{Collected, DateWindow, InputReport};
pub use table_schema::check_table_schema;
pub use table_text::TableLayout;
pub use tables::{
    publishable_remainder, table, table_with_noise, Cell, Dimension, ReleaseSpec, Table, TableSpec,
    MAX_DP_CELLS, UNKNOWN,
};

#[cfg(test)]
mod tests {
    use super::dp::{DpSpec, Mechanism, SeededNoise, DEFAULT_DELTA};
    use super::testdata::{self, Rng};
    use super::*;
    use crate::model::{CaseRecord, Conflict, Edit, ScalarField, SetField};
    use crate::vocab::{Country, RouteEventKind};
    use crate::{RouteEvent, Store, StoreKey};

    /// 40 identical cases from New Zealand exploited in Iceland (a group large enough
    /// to be released), none of which may be exported: no, not asked, or conflicting.
    fn without_consent(seed: u64) -> Vec<CaseRecord> {
        let mut cases = testdata::cases(40, seed, 100);
        for (i, c) in cases.iter_mut().enumerate() {
            c.citizenship = [Country::from_code("NZ")].into_iter().collect();
            c.route = vec![RouteEvent {
                kind: RouteEventKind::Exploitation,
                country: Country::from_code("IS"),
                when: None,
            }];
            match i % 3 {
                0 => c.consent.include_in_statistics = Some(false),
                1 => c.consent.include_in_statistics = None,
                _ => c.conflicts.push(Conflict {
                    field: "consent.include_in_statistics".into(),
                    current: "true".into(),
                    others: vec!["false".into()],
                }),
            }
        }
        cases
    }

    fn assert_absent(what: &str, text: &str) {
        for needle in ["NZ", "NZL", "New Zealand", "ISL", "Iceland", "\"IS\""] {
            assert!(!text.contains(needle), "{what} mentions {needle}");
        }
    }

    #[test]
    fn a_case_without_statistics_consent_never_appears_in_any_output() {
        let mut cases = testdata::cases(3_000, 77, 100);
        let excluded = without_consent(78);
        cases.extend(excluded.iter().cloned());
        let collected = Collected::from_cases(&cases, &DateWindow::default());
        assert_eq!(collected.records.len(), 3_000);
        assert_eq!(collected.input.no_statistics_consent, 27);
        assert_eq!(collected.input.consent_in_conflict, 13);
        assert!(collected.input.adds_up());
        let records = &collected.records;
        for r in records {
            assert!(!excluded.iter().any(|c| c.id == r.id));
        }
        // Record exports, every variant.
        for generalize in [false, true] {
            for country_codes in [CountryCodes::Alpha2, CountryCodes::Alpha3] {
                let opts = RecordOptions {
                    generalize,
                    country_codes,
                    ..RecordOptions::default()
                };
                let e = export_records(records, &opts).unwrap();
                assert_eq!(e.report.eligible, 3_000);
                assert_absent("csv", &e.to_csv());
                assert_absent("json", &e.to_json().unwrap());
            }
        }
        // Tables and charts, exact and DP.
        let years = Some((2015, 2026));
        for dims in [
            vec![Dimension::Citizenship, Dimension::CountryOfExploitation],
            vec![Dimension::Route],
            vec![Dimension::Citizenship],
        ] {
            for dp in [
                None,
                Some(DpSpec {
                    epsilon: 1.0,
                    mechanism: Mechanism::Laplace,
                    max_contributions: None,
                    delta: DEFAULT_DELTA,
                }),
            ] {
                let spec = TableSpec {
                    dp,
                    years,
                    k: 1,
                    ..TableSpec::new(dims.clone())
                };
                let t = table_with_noise(records, &spec, &mut SeededNoise(Rng::new(4))).unwrap();
                let text = t.to_json().unwrap() + &t.to_csv();
                if dp.is_none() {
                    assert_absent("table", &text);
                    // Exact counts include only consenting cases.
                    // (k = 1: the release holds every record.)
                    if dims.len() == 1 && dims[0] == Dimension::Citizenship {
                        assert_eq!(t.total, Some(records.len() as u64));
                    }
                }
                if dims.len() == 2 && dp.is_none() {
                    let chart = chart::route_diagram(&t, "Routes").unwrap();
                    assert_absent("chart", &chart.to_svg());
                }
            }
        }
        // The extract for combining agencies lists them only as withheld ids.
        let extract = Extract::new(Some("A".into()), collected.clone());
        let json = extract.to_json().unwrap();
        assert_absent("extract", &json);
        assert_eq!(extract.withheld.len(), 40);
        assert!(extract
            .records
            .iter()
            .all(|r| !excluded.iter().any(|c| c.id == r.id)));
    }

    #[test]
    fn exports_read_a_real_store() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::generate().unwrap();
        let mut store = Store::create(dir.path().join("s"), &key).unwrap();
        let case = |consent: Option<bool>, citizenship: &str| {
            let mut edits = vec![
                Edit::set(ScalarField::Gender, "Feminine"),
                Edit::set(ScalarField::AgeBand, "18-20"),
                Edit::add(SetField::Citizenship, citizenship),
                Edit::add(SetField::Exploitation, "ForcedLabour"),
            ];
            if consent.is_some() {
                edits.push(Edit::Consent {
                    share_with_partners: None,
                    include_in_statistics: consent,
                });
            }
            edits
        };
        let mut batch = Vec::new();
        for _ in 0..12 {
            batch.push(case(Some(true), "KG"));
        }
        for _ in 0..12 {
            batch.push(case(Some(false), "NZ"));
            batch.push(case(None, "NZ"));
        }
        store.import(&batch, &mut |_, _| true).unwrap();
        let collected = Collected::from_store(&mut store, &DateWindow::default()).unwrap();
        assert_eq!(collected.input.cases, 36);
        assert_eq!(collected.input.eligible, 12);
        assert_eq!(collected.input.no_statistics_consent, 24);
        let e = export_records(&collected.records, &RecordOptions::default()).unwrap();
        assert_eq!(e.report.released, 12);
        assert!(e.to_csv().contains("KGZ"));
        assert_absent("store export", &e.to_csv());
        let future = DateWindow {
            from: Some(crate::Timestamp(i64::MAX / 2)),
            to: None,
        };
        let none = Collected::from_store(&mut store, &future).unwrap();
        assert_eq!(none.input.outside_dates, 12);
        assert!(none.records.is_empty());

        // The projection kept in each case's newest frame follows every later edit: a
        // withdrawn consent, a consent given later, a changed field. Reading the
        // documents themselves gives the same result.
        let ids: Vec<_> = store
            .list(&crate::CaseFilter::default())
            .iter()
            .map(|s| s.id)
            .collect();
        let no = Edit::Consent {
            share_with_partners: None,
            include_in_statistics: Some(false),
        };
        let yes = Edit::Consent {
            share_with_partners: None,
            include_in_statistics: Some(true),
        };
        // Chosen by consent, not by list position (case ids are random): four consents
        // withdrawn, two given, a field changed on the rest, so that the number of
        // eligible cases always changes.
        let (mut withdrawn, mut given) = (0, 0);
        for id in &ids {
            let consented = store.case(id).unwrap().consent.include_in_statistics == Some(true);
            let edits = if consented && withdrawn < 4 {
                withdrawn += 1;
                vec![no.clone()]
            } else if !consented && given < 2 {
                given += 1;
                vec![yes.clone(), Edit::add(SetField::Citizenship, "TJ")]
            } else {
                vec![Edit::add(SetField::Citizenship, "UZ")]
            };
            store.update_case(id, &edits).unwrap();
        }
        assert_eq!((withdrawn, given), (4, 2));
        let fast = Collected::from_store(&mut store, &DateWindow::default()).unwrap();
        let records: Vec<_> = ids.iter().map(|id| store.case(id).unwrap()).collect();
        let slow = Collected::from_cases(&records, &DateWindow::default());
        let sorted = |c: &Collected| {
            let mut r = c.records.clone();
            r.sort_by_key(|s| s.id);
            r
        };
        assert_eq!(sorted(&fast), sorted(&slow));
        assert_eq!(fast.input, slow.input);
        assert_eq!(
            fast.input.eligible,
            12 - 4 + 2,
            "the edits changed who is eligible"
        );
        // And after a reopen (the frames come from disk, not from the cache).
        drop(store);
        let mut store = Store::open(dir.path().join("s"), &key).unwrap();
        let reopened = Collected::from_store(&mut store, &DateWindow::default()).unwrap();
        assert_eq!(sorted(&reopened), sorted(&slow));
    }
}
