//! `import_spreadsheet` through the bindings: the documented example, a bad row that
//! stops all, `skip_bad`, a dry run, and typed errors for a bad mapping or file.

use caravan_ffi::*;

fn docs(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/import")
            .join(name),
    )
    .expect("docs file")
}

fn store() -> (tempfile::TempDir, std::sync::Arc<CaravanStore>) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = CaravanStore::create(
        dir.path().join("s").display().to_string(),
        generate_store_key().expect("key"),
    )
    .expect("store");
    (dir, store)
}

fn template() -> String {
    String::from_utf8(docs("ngo-template.toml")).expect("utf-8")
}

#[test]
fn the_documented_example_imports_through_the_bindings() {
    let (_dir, store) = store();
    let csv = docs("ngo-example.csv");
    let dry = store
        .import_spreadsheet(
            "cases.csv".into(),
            csv.clone(),
            template(),
            true,
            false,
            None,
        )
        .expect("dry run");
    assert_eq!((dry.rows, dry.good, dry.applied), (4, 4, false));
    let done = store
        .import_spreadsheet("cases.csv".into(), csv, template(), false, false, None)
        .expect("import");
    assert!(done.applied);
    assert_eq!(done.case_ids.len(), 4);
    let details = store.get_case(done.case_ids[0].clone()).expect("case");
    assert_eq!(details.gender.as_deref(), Some("Feminine"));
}

#[test]
fn bad_rows_are_listed_and_stop_all_unless_skipped() {
    let (_dir, store) = store();
    let mapping = "version = 1\n[columns]\nSex = \"gender\"\n".to_string();
    let csv = b"Sex\nFeminine\nnope\n".to_vec();
    let r = store
        .import_spreadsheet(
            "c.csv".into(),
            csv.clone(),
            mapping.clone(),
            false,
            false,
            None,
        )
        .expect("report");
    assert!(!r.applied);
    assert_eq!(
        r.bad,
        vec![ImportBadRow {
            row: 3,
            column: Some("1 (A)".into()),
            reason: "not a gender code or label".into(),
        }]
    );
    assert!(r.case_ids.is_empty());
    let r = store
        .import_spreadsheet("c.csv".into(), csv, mapping.clone(), false, true, None)
        .expect("report");
    assert!(r.applied);
    assert_eq!(r.case_ids.len(), 1);
    // A bad mapping or file is a typed error.
    for (name, mapping) in [
        ("c.csv", "version = 1\n[columns]\nName = \"note\"\n"),
        ("c.xls", "version = 1\n[columns]\nSex = \"gender\"\n"),
    ] {
        let err = store
            .import_spreadsheet(
                name.into(),
                b"Sex\nF\n".to_vec(),
                mapping.into(),
                false,
                false,
                None,
            )
            .expect_err("refused");
        assert!(matches!(err, CaravanError::InvalidInput { .. }), "{err:?}");
    }
}
