//! The exported API called from Rust, as the generated bindings call it: the error
//! mapping, the panic guard, the listeners and the absence of secrets in errors.

use std::sync::{Arc, Mutex};

use caravan_ffi::*;

fn edits(country: &str) -> Vec<CaseEdit> {
    vec![
        CaseEdit::Set {
            field: ScalarField::Gender,
            code: Some("Feminine".into()),
        },
        CaseEdit::Add {
            field: SetField::Citizenship,
            code: country.into(),
        },
        CaseEdit::Consent {
            share_with_partners: Some(true),
            include_in_statistics: Some(true),
        },
    ]
}

#[derive(Default)]
struct Heard(Mutex<Vec<String>>);

impl ChangeListener for Heard {
    fn on_cases_changed(&self, ids: Vec<String>) -> Result<(), CaravanError> {
        self.0.lock().expect("lock").extend(ids);
        Ok(())
    }
}

struct CancelAfter(u64);

impl ProgressListener for CancelAfter {
    fn on_progress(&self, done: u64, _total: u64) -> Result<bool, CaravanError> {
        Ok(done < self.0)
    }
}

#[test]
fn a_forced_panic_arrives_as_an_internal_error() {
    match debug_force_panic() {
        Err(CaravanError::Internal { reason }) => assert!(reason.contains("bug")),
        other => panic!("expected Internal, got {other:?}"),
    }
    // A panic in a listener does not undo a finished sync or escape either.
    struct Panics;
    impl ChangeListener for Panics {
        fn on_cases_changed(&self, _: Vec<String>) -> Result<(), CaravanError> {
            panic!("listener bug");
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    b.set_change_listener(Some(Arc::new(Panics)));
    a.add_case(edits("KZ")).expect("add");
    let bundle = a.export_bundle(BundleScope::Everything).expect("export");
    assert_eq!(b.import_bundle(bundle).expect("import").cases_created, 1);
}

fn pair(dir: &std::path::Path) -> (Arc<CaravanStore>, Arc<CaravanStore>) {
    let store = |name: &str| {
        let key = generate_store_key().expect("key");
        CaravanStore::create(dir.join(name).display().to_string(), key).expect("create")
    };
    let (a, b) = (store("a"), store("b"));
    a.create_group("Team".into(), "A".into()).expect("group");
    b.join_group(
        a.invite(MemberRole::Coordinator).expect("invite"),
        "B".into(),
    )
    .expect("join");
    a.import_bundle(b.export_bundle(BundleScope::Everything).expect("export"))
        .expect("membership");
    (a, b)
}

#[test]
fn errors_are_typed_and_carry_no_secret() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("s").display().to_string();
    let key = generate_store_key().expect("key");
    let store = CaravanStore::create(path.clone(), key.clone()).expect("create");
    let id = store.add_case(edits("KZ")).expect("add");

    let phone = "+7 701 234 5678";
    let err = store
        .add_note(id.clone(), format!("Call her on {phone}"))
        .expect_err("refused");
    match &err {
        CaravanError::NoteRejected { findings } => {
            assert_eq!(findings[0].kind, IdentifierType::PhoneNumber);
            assert_eq!((findings[0].start, findings[0].end), (12, 27));
        }
        other => panic!("expected NoteRejected, got {other:?}"),
    }
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("701"), "{text}");
    }

    let other = generate_store_key().expect("key");
    let err = CaravanStore::open(path.clone(), other.clone())
        .map(|_| ())
        .expect_err("wrong key");
    assert!(matches!(err, CaravanError::WrongKey));
    let err = CaravanStore::open(path.clone(), key.clone())
        .map(|_| ())
        .expect_err("locked");
    assert!(matches!(err, CaravanError::Locked { .. }), "{err:?}");
    for k in [&key, &other] {
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        for text in [err.to_string(), format!("{err:?}"), format!("{store:?}")] {
            assert!(!text.contains(&hex));
        }
    }
    assert!(matches!(
        store.update_case(
            id.clone(),
            vec![CaseEdit::Set {
                field: ScalarField::Gender,
                code: Some("Female".into())
            }]
        ),
        Err(CaravanError::UnknownCode { .. })
    ));
    assert!(matches!(
        store.get_case("nothex".into()),
        Err(CaravanError::InvalidInput { .. })
    ));
    assert!(matches!(
        store.export_bundle(BundleScope::Everything),
        Err(CaravanError::NoGroup)
    ));
    store
        .erase_case(id.clone(), "PersonRequested".into())
        .expect("erase");
    assert!(matches!(
        store.get_case(id),
        Err(CaravanError::CaseErased { .. })
    ));
    store.close_store();
    assert!(matches!(
        store.case_count(),
        Err(CaravanError::ReopenStore { .. })
    ));
    let again = CaravanStore::open(path, key).expect("reopen after close");
    assert_eq!(again.case_count().expect("count"), 0);
}

#[test]
fn sync_tells_the_listener_and_progress_can_cancel() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    let heard = Arc::new(Heard::default());
    b.set_change_listener(Some(heard.clone()));
    let ids = a
        .import_cases(vec![edits("KG"); 300], None)
        .expect("import");
    let r = b
        .import_bundle(a.export_bundle(BundleScope::Everything).expect("export"))
        .expect("import bundle");
    assert_eq!(r.cases_created, 300);
    let mut heard_ids = heard.0.lock().expect("lock").clone();
    heard_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(heard_ids, expected);
    assert_eq!(r.changed_case_ids, expected);

    let err = a
        .import_cases(vec![edits("KG"); 600], Some(Arc::new(CancelAfter(256))))
        .expect_err("cancelled");
    assert!(matches!(err, CaravanError::Cancelled));
    assert_eq!(a.case_count().expect("count"), 300);
    let err = a
        .export_records(
            ExportFormat::Csv,
            ExportOptions::default(),
            Some(Arc::new(CancelAfter(64))),
        )
        .expect_err("cancelled");
    assert!(matches!(err, CaravanError::Cancelled));
    let out = a
        .export_records(ExportFormat::Csv, ExportOptions::default(), None)
        .expect("export");
    assert_eq!((out.released, out.eligible), (300, Some(300)));
    assert_eq!(out.redacted, Some(0));
    assert!(
        out.accounting.is_none(),
        "the accounting only when asked for"
    );
}

#[test]
fn vocabularies_drive_forms() {
    let all = vocabularies();
    assert!(all.iter().any(|v| v.id == "means_of_control"));
    assert!(all
        .iter()
        .all(|v| v.entries.iter().all(|e| !e.label_ru.is_empty())));
    assert_eq!(
        label("gender".into(), "Feminine".into(), "ru".into()).expect("label"),
        Some("Женский".into())
    );
    for f in [
        ScalarField::CaseStatus,
        ScalarField::Gender,
        ScalarField::AgeBand,
    ] {
        assert!(vocabulary(scalar_field_vocabulary(f)).is_some());
    }
    assert!(vocabulary(set_field_vocabulary(SetField::Citizenship)).is_some());
}

#[test]
fn panic_wipe_leaves_nothing_the_right_key_opens() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("store");
    let path = dir.display().to_string();
    let key = generate_store_key().expect("key");
    let store = CaravanStore::create(path.clone(), key.clone()).expect("create");
    store.add_case(edits("KZ")).expect("add");
    store.panic_wipe().expect("wipe");
    assert!(matches!(
        store.case_count(),
        Err(CaravanError::ReopenStore { .. })
    ));
    assert!(matches!(
        CaravanStore::open(path.clone(), key.clone()),
        Err(CaravanError::NotAStore { .. })
    ));
    assert!(!dir.exists());
    store
        .panic_wipe()
        .expect("wiping a wiped handle again is a no-op");

    // A store that is not open: the free function.
    CaravanStore::create(path.clone(), key.clone())
        .expect("create")
        .close_store();
    panic_wipe_dir(path.clone()).expect("wipe dir");
    assert!(matches!(
        CaravanStore::open(path, key),
        Err(CaravanError::NotAStore { .. })
    ));
}

#[test]
fn summaries_carry_vocabulary_values_that_resolve_to_the_stored_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = generate_store_key().expect("key");
    let store =
        CaravanStore::create(dir.path().join("s").display().to_string(), key).expect("create");
    let mut case = edits("KZ");
    case.extend([
        CaseEdit::Set {
            field: ScalarField::CaseStatus,
            code: Some("FollowUp".into()),
        },
        CaseEdit::Add {
            field: SetField::Exploitation,
            code: "ForcedLabour".into(),
        },
        CaseEdit::AddRouteEvent {
            kind: "Exploitation".into(),
            country: "RUS".into(),
            year: Some(2024),
            month: None,
        },
    ]);
    let id = store.add_case(case).expect("add");
    let other = store.add_case(edits("KG")).expect("add");

    let listed = store.list_cases(CaseListFilter::default()).expect("list");
    assert_eq!(listed.len(), 2);
    let summary = listed.iter().find(|s| s.id == id).expect("listed");
    // What the app does: index the vocabulary tables it read once.
    let table = |id: &str| vocabulary(id.into()).expect("vocabulary");
    let code = |vocabulary_id: &str, value: &VocabularyCode| match value {
        VocabularyCode::Known { index } => table(vocabulary_id).entries[usize::from(*index)]
            .code
            .clone(),
        VocabularyCode::Unknown { code } => code.clone(),
    };
    let one = |vocabulary_id: &str, value: &Option<VocabularyCode>| {
        value.as_ref().map(|v| code(vocabulary_id, v))
    };
    assert_eq!(one("gender", &summary.gender).as_deref(), Some("Feminine"));
    assert_eq!(
        one("case_status", &summary.case_status).as_deref(),
        Some("FollowUp")
    );
    assert_eq!(one("age_band", &summary.age_band), None);
    assert_eq!(one("trafficking_status", &summary.trafficking_status), None);
    let many = |vocabulary_id: &str, values: &[VocabularyCode]| -> Vec<String> {
        values.iter().map(|v| code(vocabulary_id, v)).collect()
    };
    assert_eq!(many("country", &summary.citizenship), ["KZ"]);
    assert_eq!(many("country", &summary.route_countries), ["RU"]);
    assert_eq!(
        many("exploitation_type", &summary.exploitation),
        ["ForcedLabour"]
    );
    // The exported `code_of` agrees, and so does `label`.
    let citizenship = summary.citizenship[0].clone();
    assert_eq!(code_of("country".into(), citizenship).expect("code"), "KZ");
    let gender = code_of("gender".into(), summary.gender.clone().expect("gender")).expect("code");
    assert_eq!(
        label("gender".into(), gender, "ru".into()).expect("label"),
        Some("Женский".into())
    );
    // A page of summaries is the same records, in the order of the ids.
    assert_eq!(
        store
            .case_summaries(vec![other.clone(), id.clone()])
            .expect("page"),
        [
            listed
                .iter()
                .find(|s| s.id == other)
                .expect("other")
                .clone(),
            summary.clone()
        ]
    );
    assert_eq!(store.case_summary(id).expect("one"), *summary);
}

/// Red team round 3, F6: the app's results carried the exact remainder (`redacted 7`,
/// `eligible 125`) that the published text hides as `<11`. By default every count a
/// result carries may be published; the exact accounting comes only when asked for
/// (`accounting`, CONFIDENTIAL, as the CLI's `--accounting`).
#[test]
fn app_exports_return_no_count_below_k_unless_the_accounting_is_asked_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = generate_store_key().expect("key");
    let a = CaravanStore::create(dir.path().join("a").display().to_string(), key).expect("a");
    let mut cases = vec![edits("KG"); 118];
    cases.extend(vec![edits("UZ"); 7]);
    a.import_cases(cases, None).expect("import");

    let out = a
        .export_records(ExportFormat::Csv, ExportOptions::default(), None)
        .expect("records");
    assert_eq!(out.released, 118);
    assert_eq!((out.redacted, out.eligible), (None, None), "{out:?}");
    assert!(out.accounting.is_none());
    let shown = format!("{:?}", (out.k, out.released, out.redacted, out.eligible));
    assert!(!shown.contains('7') && !shown.contains("125"), "{shown}");

    let table = a
        .export_table(
            vec!["citizenship".into()],
            ExportFormat::Csv,
            ExportOptions::default(),
            None,
        )
        .expect("table");
    assert_eq!(table.released_total, 118);
    assert_eq!(table.suppressed_total, None, "{table:?}");
    assert!(table.accounting.is_none());
    assert!(table.text.contains("<11"), "{}", table.text);

    // Asked for on purpose: the exact accounting, for the data officer only.
    let confidential = ExportOptions {
        accounting: true,
        ..ExportOptions::default()
    };
    let out = a
        .export_records(ExportFormat::Csv, confidential.clone(), None)
        .expect("records with the accounting");
    assert_eq!(
        (out.redacted, out.eligible),
        (None, None),
        "still not published"
    );
    let acc = out.accounting.expect("asked for");
    assert_eq!((acc.cases, acc.eligible, acc.redacted), (125, 125, 7));
    let table = a
        .export_table(
            vec!["citizenship".into()],
            ExportFormat::Csv,
            confidential,
            None,
        )
        .expect("table with the accounting");
    assert_eq!(table.accounting.map(|i| i.redacted), Some(7));
}

/// The analyst with two outputs, through the app: exact tables made from the app
/// share the store's sealed privacy ledger with the CLI, so a second table of the same
/// cases at a smaller k, or after the data changed, is refused instead of letting the
/// two be subtracted (issue 15; docs/export.md, "One release").
#[test]
fn exact_outputs_from_the_app_follow_the_one_release_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = generate_store_key().expect("key");
    let a = CaravanStore::create(dir.path().join("a").display().to_string(), key).expect("a");
    let mut cases = vec![edits("KG"); 30];
    cases.extend(vec![edits("UZ"); 3]);
    a.import_cases(cases, None).expect("import");
    let at = |k: u32| ExportOptions {
        k,
        ..ExportOptions::default()
    };
    let first = a
        .export_table(vec!["citizenship".into()], ExportFormat::Csv, at(11), None)
        .expect("first table");
    assert!(
        !first.text.contains("UZ"),
        "3 people are fewer than k: {}",
        first.text
    );
    // The same table again is fine: it is the pinned release.
    a.export_table(vec!["citizenship".into()], ExportFormat::Csv, at(11), None)
        .expect("same release again");
    // A second release at a smaller k would show UZ 3: refused, nothing shown.
    let err = a
        .export_table(vec!["citizenship".into()], ExportFormat::Csv, at(2), None)
        .expect_err("another k is another release");
    assert!(matches!(err, CaravanError::InvalidInput { .. }), "{err:?}");
    let err = a
        .export_records(ExportFormat::Csv, at(2), None)
        .expect_err("records at another k");
    assert!(matches!(err, CaravanError::InvalidInput { .. }), "{err:?}");
    // One more case changes the data: the next exact output would be subtracted from
    // the first, so it is refused too.
    a.add_case(edits("UZ")).expect("add");
    let err = a
        .export_table(vec!["citizenship".into()], ExportFormat::Csv, at(11), None)
        .expect_err("changed data is a new release");
    assert!(matches!(err, CaravanError::InvalidInput { .. }), "{err:?}");
}

/// A progress callback that calls back into the same store (to refresh a count, or to
/// close it on lock): the inner call is refused at once with a typed error instead of
/// waiting for ever on the lock the outer call holds; a close asked for from inside
/// closes the store when the outer call ends; the handle works afterwards.
#[test]
fn a_callback_calling_back_into_the_store_never_deadlocks_it() {
    struct Reentrant {
        store: Mutex<Option<Arc<CaravanStore>>>,
        inner: Mutex<Vec<String>>,
        close: bool,
    }
    impl ProgressListener for Reentrant {
        fn on_progress(&self, _done: u64, _total: u64) -> Result<bool, CaravanError> {
            let store = self.store.lock().expect("lock").clone();
            if let Some(store) = store {
                let answer = match store.case_count() {
                    Ok(n) => format!("count {n}"),
                    Err(e) => format!("{e:?}"),
                };
                self.inner.lock().expect("lock").push(answer);
                if self.close {
                    store.close_store();
                }
            }
            Ok(true)
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("a").display().to_string();
    let key = generate_store_key().expect("key");
    let a = CaravanStore::create(path.clone(), key.clone()).expect("a");
    let listener = Arc::new(Reentrant {
        store: Mutex::new(Some(a.clone())),
        inner: Mutex::new(Vec::new()),
        close: false,
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let (a2, l2) = (a.clone(), listener.clone());
    std::thread::spawn(move || {
        let r = a2.import_cases(vec![edits("KG"); 100], Some(l2));
        tx.send(r.map(|ids| ids.len())).ok();
    });
    let imported = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the import returned instead of waiting on itself");
    assert_eq!(imported.expect("import"), 100);
    let answers = listener.inner.lock().expect("lock").clone();
    assert!(!answers.is_empty());
    assert!(
        answers.iter().all(|a| a.starts_with("InvalidInput")),
        "{answers:?}"
    );
    assert_eq!(a.case_count().expect("the handle still works"), 100);

    // Closing from inside a callback (an app locking while an import runs).
    let closing = Arc::new(Reentrant {
        store: Mutex::new(Some(a.clone())),
        inner: Mutex::new(Vec::new()),
        close: true,
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let (a3, l3) = (a.clone(), closing.clone());
    std::thread::spawn(move || {
        tx.send(a3.import_cases(vec![edits("KG"); 10], Some(l3)).is_ok())
            .ok();
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("no deadlock on a close from a callback");
    assert!(matches!(
        a.case_count(),
        Err(CaravanError::ReopenStore { .. })
    ));
    *listener.store.lock().expect("lock") = None;
    *closing.store.lock().expect("lock") = None;
    let reopened = CaravanStore::open(path, key).expect("reopen");
    assert!(reopened.case_count().expect("count") >= 100);
}

/// Issue 14 through the bindings: a damaged pack leaves its cases listed; the app
/// learns which ones cannot be read from `verify_cases` (file and case named), gets
/// the typed `Damaged` error for them, and reads every other case.
#[test]
fn unreadable_cases_are_named_and_the_others_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s").display().to_string();
    let key = generate_store_key().expect("key");
    let store = CaravanStore::create(dir.clone(), key.clone()).expect("create");
    let packed: Vec<String> = (0..3)
        .map(|_| store.add_case(edits("KZ")).expect("add"))
        .collect();
    store.compact().expect("compact");
    let fresh = store.add_case(edits("UZ")).expect("add");
    store.close_store();
    let pack = std::fs::read_dir(&dir)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pack-"))
        })
        .expect("a pack");
    let mut bytes = std::fs::read(&pack).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    std::fs::write(&pack, bytes).expect("flip");

    let store = CaravanStore::open(dir, key).expect("open");
    let ids = store.list_case_ids(CaseListFilter::default()).expect("ids");
    assert_eq!(ids.len(), 4, "every case is listed");
    let bad = store.verify_cases(ids).expect("verify");
    let mut named: Vec<&str> = Vec::new();
    for d in &bad {
        assert!(d.file.starts_with("pack-"), "{d:?}");
        assert_eq!(d.records_lost, 1);
        named.extend(
            packed
                .iter()
                .filter(|id| d.problem.contains(id.as_str()))
                .map(String::as_str),
        );
    }
    let mut want: Vec<&str> = packed.iter().map(String::as_str).collect();
    want.sort_unstable();
    named.sort_unstable();
    assert_eq!(named, want, "exactly the packed cases are named: {bad:?}");
    for id in &packed {
        assert!(matches!(
            store.get_case(id.clone()),
            Err(CaravanError::Damaged { .. })
        ));
    }
    store.get_case(fresh).expect("an undamaged case reads");
}

/// An app's own mailbox over a map, naming its place.
struct MapMailbox {
    place: String,
    files: Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
}

impl MapMailbox {
    fn new(place: &str) -> Arc<MapMailbox> {
        Arc::new(MapMailbox {
            place: place.into(),
            files: Mutex::default(),
        })
    }
}

impl Mailbox for MapMailbox {
    fn list(&self) -> Result<Vec<String>, MailboxError> {
        Ok(self.files.lock().expect("lock").keys().cloned().collect())
    }
    fn read(&self, path: String, limit: u64) -> Result<Vec<u8>, MailboxError> {
        let files = self.files.lock().expect("lock");
        let bytes = files.get(&path).ok_or(MailboxError::Unavailable {
            reason: "gone".into(),
        })?;
        if bytes.len() as u64 > limit {
            return Err(MailboxError::Refused {
                reason: "too large".into(),
            });
        }
        Ok(bytes.clone())
    }
    fn write(&self, path: String, bytes: Vec<u8>) -> Result<(), MailboxError> {
        self.files.lock().expect("lock").insert(path, bytes);
        Ok(())
    }
    fn remove(&self, path: String) -> Result<(), MailboxError> {
        self.files.lock().expect("lock").remove(&path);
        Ok(())
    }
    fn place(&self) -> Result<String, MailboxError> {
        Ok(self.place.clone())
    }
}

/// Two places an app syncs with through its own `Mailbox` each keep their own position
/// (red team round 3, F3 for app mailboxes): a case that went to the first place also
/// goes to the second, so a device reading only the second gets everything.
#[test]
fn two_app_mailboxes_each_get_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    // b is admitted by a's reply (no case yet).
    b.import_bundle(a.export_bundle(BundleScope::Everything).expect("reply"))
        .expect("admitted");
    let (one, two) = (MapMailbox::new("tree one"), MapMailbox::new("tree two"));
    a.add_case(edits("KZ")).expect("add");
    a.sync_through(one.clone(), None).expect("sync one");
    a.sync_through(two.clone(), None).expect("sync two");
    a.add_case(edits("KG")).expect("add");
    assert_eq!(
        a.sync_through(one.clone(), None)
            .expect("one")
            .bundles_written,
        1
    );
    // The second place has not had the second case yet: it gets it now.
    assert_eq!(
        a.sync_through(two.clone(), None)
            .expect("two")
            .bundles_written,
        1
    );
    let got = b.sync_through(two, None).expect("b reads two");
    assert_eq!(got.changes.cases_created, 2, "{got:?}");
    // A place that throws stops the sync before anything is read, typed.
    struct NoPlace;
    impl Mailbox for NoPlace {
        fn list(&self) -> Result<Vec<String>, MailboxError> {
            panic!("listed before the place was known")
        }
        fn read(&self, _: String, _: u64) -> Result<Vec<u8>, MailboxError> {
            unreachable!()
        }
        fn write(&self, _: String, _: Vec<u8>) -> Result<(), MailboxError> {
            unreachable!()
        }
        fn remove(&self, _: String) -> Result<(), MailboxError> {
            unreachable!()
        }
        fn place(&self) -> Result<String, MailboxError> {
            Err(MailboxError::Unavailable {
                reason: "no tree".into(),
            })
        }
    }
    assert!(matches!(
        a.sync_through(Arc::new(NoPlace), None),
        Err(CaravanError::Io { .. })
    ));
}
