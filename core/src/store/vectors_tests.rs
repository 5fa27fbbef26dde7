//! The spec vectors (tests/vectors) that need a whole store: a bundle of
//! `bundle.json` imported into a real store, and the outbox name of `membership.json`
//! as the mailbox computes it. The vectors themselves are generated and checked in
//! `sync::vectors*`, below the store; these tests sit here so that the sync layer never
//! imports the store (docs/decisions/0033-layers.md).

use serde_json::json;

use crate::error::Error;
use crate::store::Store;
use crate::sync::vectors::{read, unhex, CASE_CHANGES, CASE_DOCUMENT, CASE_ERASED};
use crate::vocab::Vocabulary;

#[test]
fn bundle_vector_imports_into_a_store() {
    let inv = read("invitation.json");
    let file = read("bundle.json");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut store = Store::create(
        tmp.path().join("s"),
        &crate::StoreKey::generate().expect("key"),
    )
    .expect("store");
    store
        .team_mut()
        .join_group(
            inv["invitation"]["text"].as_str().expect("text"),
            "Receiver",
        )
        .expect("join");
    let bundle = unhex(&file["bundle"]);
    let r = store.import_bundle(&bundle).expect("import");
    let want = &file["expected_import"];
    let got = json!({
        "note": want["note"],
        "cases_created": r.cases_created, "cases_updated": r.cases_updated, "changes_applied": r.changes_applied,
        "cases_erased": r.cases_erased, "cases_waiting": r.cases_waiting, "ignored_erased": r.ignored_erased,
        "members_added": r.members_added,
    });
    assert_eq!(&got, want);
    let a = store.case(&CASE_CHANGES).expect("case sent as changes");
    assert_eq!(
        a.gender.map(|g| g.code().to_string()).as_deref(),
        Some("Feminine")
    );
    let b = store.case(&CASE_DOCUMENT).expect("case sent whole");
    assert_eq!(
        b.age_band.map(|g| g.code().to_string()).as_deref(),
        Some("18-20")
    );
    assert!(matches!(
        store.case(&CASE_ERASED),
        Err(Error::CaseErased { .. })
    ));
    // Idempotent.
    let again = store.import_bundle(&bundle).expect("import again");
    assert_eq!(again.changes_applied, 0);
}

/// The outbox name `membership.json` states is the one the mailbox computes.
#[test]
fn membership_vector_outbox_name_is_the_mailbox_s() {
    let file = read("membership.json");
    let coord: [u8; 32] = unhex(&file["devices"][0]["public_key"])
        .try_into()
        .expect("32");
    // The outbox name as the mailbox computes it.
    let o = &file["outbox"];
    let key: [u8; 32] = unhex(&o["epoch_key"]).try_into().expect("32");
    assert_eq!(
        crate::store::outbox_name(&key, &coord),
        o["name"].as_str().expect("name")
    );
}
