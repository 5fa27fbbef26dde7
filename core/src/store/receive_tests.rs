//! Receiving is a pure plan and an apply step (decision 0030): planning reads only
//! what the store holds in memory and writes nothing; the plan alone decides which
//! changes apply, wait in quarantine or are dropped, and whether the message is
//! refused.

use super::sync::SyncReport;
use super::*;
use crate::codec::B32;
use crate::sync::{DeviceId, Payload, Role};

struct Device {
    _tmp: tempfile::TempDir,
    store: Store,
}

fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("s"), &key).expect("create");
    Device { _tmp: tmp, store }
}

/// 0: coordinator A; then one device per role, all admitted and knowing all.
fn team(roles: &[Role]) -> Vec<Device> {
    let mut t: Vec<Device> = (0..=roles.len()).map(|_| device()).collect();
    t[0].store
        .team_mut()
        .create_group("Team", "A")
        .expect("group");
    for (i, role) in roles.iter().enumerate() {
        let inv = t[0].store.team_mut().invite(*role).expect("invite");
        t[i + 1]
            .store
            .team_mut()
            .join_group(inv.as_text(), &format!("Device {}", i + 1))
            .expect("join");
        send(&mut t, i + 1, 0).expect("admitted");
    }
    for i in 1..t.len() {
        send(&mut t, 0, i).expect("everyone learns");
    }
    t
}

fn send(t: &mut [Device], from: usize, to: usize) -> Result<SyncReport> {
    let b = t[from].store.export_bundle(BundleScope::Everything)?;
    t[to].store.import_bundle(&b)
}

/// Every file of a store directory, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// The message `bytes`, opened by `to` as an import would.
fn opened(to: &Device, bytes: &[u8]) -> (DeviceId, Payload, Option<B32>) {
    let (sender, payload, via, _unopened) = to.store.open_incoming(bytes).expect("opens");
    (sender, payload, via)
}

/// The hashes of the changes `device` wrote among a plan's case's `changes`.
fn by(changes: &[(automerge::Change, [u8; 64])], device: &DeviceId) -> Vec<B32> {
    changes
        .iter()
        .filter(|(c, _)| c.actor_id().to_bytes() == device.actor().as_slice())
        .map(|(c, _)| B32(c.hash().0))
        .collect()
}

#[test]
fn planning_twice_gives_the_same_plan_and_writes_nothing() {
    let mut t = team(&[Role::FieldWorker]);
    for i in 0..3 {
        t[1].store
            .add_case(&[Edit::note(format!("case {i}"))])
            .expect("case");
    }
    let bundle = t[1]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let before = snapshot(t[0].store.dir());
    let (sender, payload, via) = opened(&t[0], &bundle);
    let first = t[0]
        .store
        .plan_receive(sender, payload.clone(), via)
        .expect("plan");
    let second = t[0].store.plan_receive(sender, payload, via).expect("plan");
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    assert_eq!(first.cases.len(), 3, "{first:?}");
    assert!(first.cases.iter().all(|c| c.fresh && c.apply.len() == 1));
    assert!(
        snapshot(t[0].store.dir()) == before,
        "planning changed the store"
    );
    // Applying the plan does what importing does.
    let report = t[0].store.apply_plan(first).expect("apply");
    assert_eq!(report.cases_created, 3, "{report:?}");
    assert!(snapshot(t[0].store.dir()) != before);
    assert_eq!(t[0].store.list(&CaseFilter::default()).len(), 3);
}

#[test]
fn a_plan_for_a_revoked_sender_is_an_error_and_touches_nothing() {
    let mut t = team(&[Role::FieldWorker, Role::FieldWorker]);
    let r = t[2].store.team().device_id();
    t[0].store.team_mut().revoke(&r).expect("revoke");
    t[2].store
        .add_case(&[Edit::note("written by a revoked phone")])
        .expect("case");
    let from_r = t[2]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("old key");
    let before = snapshot(t[0].store.dir());
    let (sender, payload, via) = opened(&t[0], &from_r);
    assert_eq!(sender, r);
    match t[0].store.plan_receive(sender, payload, via) {
        Err(Error::Rejected { reason }) => assert!(reason.contains("revoked"), "{reason}"),
        other => panic!("planned: {other:?}"),
    }
    assert!(
        snapshot(t[0].store.dir()) == before,
        "the refused plan changed the store"
    );
    assert!(t[0].store.import_bundle(&from_r).is_err());
    assert!(snapshot(t[0].store.dir()) == before);
}

#[test]
fn a_plan_quarantines_a_revoked_devices_late_change_and_drops_a_rejected_one() {
    // 0: coordinator A, 1: field worker B (revoked), 2: coordinator C (unaware).
    let mut t = team(&[Role::FieldWorker, Role::Coordinator]);
    let (a, b, c) = (0, 1, 2);
    let b_id = t[b].store.team().device_id();
    let case = t[b]
        .store
        .add_case(&[Edit::note("B's case")])
        .expect("case");
    send(&mut t, b, a).expect("A has B's case");
    send(&mut t, b, c).expect("C has B's case");
    t[a].store.team_mut().revoke(&b_id).expect("revoke");
    t[b].store
        .update_case(&case, &[Edit::note("B's late note")])
        .expect("late note");
    send(&mut t, b, c).expect("C, unaware, applies it");
    let from_c = t[c]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    // At A: B's change from before the revocation applies (accepted by name at the
    // cut), the late one goes to quarantine, nothing is dropped.
    let (sender, payload, via) = opened(&t[a], &from_c);
    let plan = t[a].store.plan_receive(sender, payload, via).expect("plan");
    let cp = plan
        .cases
        .iter()
        .find(|p| p.case == case)
        .expect("B's case");
    let late = by(&cp.quarantine, &b_id);
    assert_eq!(late.len(), 1, "{plan:?}");
    assert!(cp.rejected.is_empty(), "{plan:?}");
    assert!(!by(&cp.apply, &b_id).contains(&late[0]), "{plan:?}");
    assert_eq!(plan.report.changes_dropped, 0, "{plan:?}");
    // A quarantines it, then rejects it; planned again, the same change is dropped.
    let r = t[a].store.import_bundle(&from_c).expect("import");
    assert_eq!(r.changes_quarantined, 1, "{r:?}");
    t[a].store
        .team_mut()
        .resolve_quarantine(&case, false)
        .expect("reject");
    let (sender, payload, via) = opened(&t[a], &from_c);
    let plan = t[a].store.plan_receive(sender, payload, via).expect("plan");
    let cp = plan
        .cases
        .iter()
        .find(|p| p.case == case)
        .expect("B's case");
    assert_eq!(cp.rejected, late, "{plan:?}");
    assert!(by(&cp.quarantine, &b_id).is_empty(), "{plan:?}");
    assert_eq!(plan.report.changes_dropped, 1, "{plan:?}");
    assert!(
        plan.report.dropped.iter().any(|l| l.contains("rejected")),
        "{plan:?}"
    );
}
