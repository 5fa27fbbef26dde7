//! What the change listener is told after a sync: exactly the cases the core's report
//! names (no summary is diffed any more), an empty list for a team change, nothing for
//! a sync that changed nothing, and what a cancelled mailbox sync imported before the
//! cancel.

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
    ]
}

/// Every call of the change listener, in order, each list sorted.
#[derive(Default)]
struct Calls(Mutex<Vec<Vec<String>>>);

impl Calls {
    /// The calls heard since the last `take`.
    fn take(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

impl ChangeListener for Calls {
    fn on_cases_changed(&self, mut ids: Vec<String>) -> Result<(), CaravanError> {
        ids.sort();
        self.0.lock().expect("lock").push(ids);
        Ok(())
    }
}

/// Cancels once `done` reaches the given count.
struct CancelAt(u64);

impl ProgressListener for CancelAt {
    fn on_progress(&self, done: u64, _total: u64) -> Result<bool, CaravanError> {
        Ok(done < self.0)
    }
}

/// A coordinator `a` and a member `b` admitted by `a`, each knowing the other; `b`
/// listens through the returned `Calls`, which start empty.
fn team(dir: &std::path::Path) -> (Arc<CaravanStore>, Arc<CaravanStore>, Arc<Calls>) {
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
    b.import_bundle(a.export_bundle(BundleScope::Everything).expect("reply"))
        .expect("admitted");
    let calls = Arc::new(Calls::default());
    b.set_change_listener(Some(calls.clone()));
    (a, b, calls)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A bundle that changes 2 of the 5 cases `b` holds tells exactly those 2, once, and
/// its summary names the same; importing it again tells nothing.
#[test]
fn a_sync_tells_exactly_the_cases_it_changed() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b, calls) = team(dir.path());
    let ids: Vec<String> = ["KZ", "KG", "UZ", "TJ", "TM"]
        .iter()
        .map(|c| a.add_case(edits(c)).expect("add"))
        .collect();
    let first = b
        .import_bundle(a.export_bundle(BundleScope::Everything).expect("export"))
        .expect("import");
    assert_eq!(first.changed_case_ids, sorted(ids.clone()));
    assert_eq!(calls.take(), vec![sorted(ids.clone())]);

    for id in &ids[1..3] {
        a.add_note(id.clone(), "Seen at the shelter".into())
            .expect("note");
    }
    let bundle = a.export_bundle(BundleScope::Everything).expect("export");
    let second = b.import_bundle(bundle.clone()).expect("import");
    let two = sorted(ids[1..3].to_vec());
    assert_eq!(second.changed_case_ids, two);
    assert_eq!(calls.take(), vec![two], "exactly the changed cases, once");

    // The same bundle again changes nothing: nothing is told.
    let again = b.import_bundle(bundle).expect("import again");
    assert!(again.changed_case_ids.is_empty(), "{again:?}");
    assert_eq!(calls.take(), Vec::<Vec<String>>::new());
    // Nor by a mailbox sync with nothing to read.
    let mailbox = dir.path().join("empty-mailbox").display().to_string();
    b.sync_mailbox(mailbox, None).expect("mailbox sync");
    assert_eq!(calls.take(), Vec::<Vec<String>>::new());
}

/// A mailbox sync cancelled after the first of three bundles tells the case of that
/// bundle (imported and durable) and still fails with `Cancelled`; the next sync tells
/// the other two.
#[test]
fn a_cancelled_mailbox_sync_tells_what_it_imported() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b, calls) = team(dir.path());
    let mailbox = dir.path().join("mailbox").display().to_string();
    let mut ids = Vec::new();
    for country in ["KZ", "KG", "UZ"] {
        ids.push(a.add_case(edits(country)).expect("add"));
        let r = a.sync_mailbox(mailbox.clone(), None).expect("a syncs");
        assert_eq!(r.bundles_written, 1, "one bundle per case");
    }

    let err = b
        .sync_mailbox(mailbox.clone(), Some(Arc::new(CancelAt(1))))
        .expect_err("cancelled");
    assert!(matches!(err, CaravanError::Cancelled), "{err:?}");
    assert_eq!(calls.take(), vec![vec![ids[0].clone()]]);
    assert_eq!(b.case_count().expect("count"), 1);

    let rest = b.sync_mailbox(mailbox, None).expect("sync on");
    let later = sorted(ids[1..].to_vec());
    assert_eq!(rest.changes.changed_case_ids, later);
    assert_eq!(calls.take(), vec![later]);
}

/// A membership change learnt by sync (a role changed by a coordinator) is told with
/// no case id, as a local one is; a case changed with it is told on its own.
#[test]
fn a_team_change_by_sync_is_told_with_no_case_id() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b, calls) = team(dir.path());
    let b_id = b.device_id().expect("id");
    a.set_member_role(b_id, MemberRole::FieldWorker)
        .expect("role");
    b.import_bundle(a.export_bundle(BundleScope::Everything).expect("export"))
        .expect("import");
    assert_eq!(calls.take(), vec![Vec::<String>::new()]);
    assert_eq!(b.my_role().expect("role"), Some(MemberRole::FieldWorker));

    let id = a.add_case(edits("KZ")).expect("add");
    a.set_member_role(b.device_id().expect("id"), MemberRole::Coordinator)
        .expect("role");
    b.import_bundle(a.export_bundle(BundleScope::Everything).expect("export"))
        .expect("import");
    assert_eq!(calls.take(), vec![vec![id], Vec::new()]);
}

/// A live session tells what each message stored, exactly.
#[test]
fn a_live_session_tells_the_cases_it_received() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b, calls) = team(dir.path());
    let id = a.add_case(edits("KZ")).expect("add");
    let start = b.live_start().expect("start");
    let theirs = a.live_accept().expect("accept");
    let mut to_a = Some(start.message);
    let mut heard = Vec::new();
    for _ in 0..8 {
        let Some(message) = to_a.take() else { break };
        let Some(reply) = a.live_receive(theirs.clone(), message).expect("a") else {
            break;
        };
        to_a = b
            .live_receive(start.session.clone(), reply)
            .expect("b receives");
        heard.extend(calls.take());
    }
    assert!(start.session.is_done().expect("done"));
    assert_eq!(heard, vec![vec![id.clone()]]);
    // The session's summary names the same case (red team round 6, B-F4).
    let summary = start.session.summary().expect("summary");
    assert_eq!(summary.changed_case_ids, vec![id]);
}
