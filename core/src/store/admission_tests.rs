//! Red-team F1/F1b of 2026-12-04 and T1/T2 of 2026-12-05 (issue 13): one single-use
//! invitation admitted twice, by a coordinator's phone restored from a copy taken
//! before its first admission. Nobody is displaced and no contested device holds more
//! than a field worker's rights (decision 0022); every coordinator is told, naming
//! both devices; once a coordinator revokes the intruder it is cut off on every
//! device and reads nothing written after.

use std::path::{Path, PathBuf};

use super::*;
use crate::sync::{Role, CLOCK_AHEAD};

/// A device: its store in a temporary directory, and the store's key.
pub(super) struct Device {
    pub(super) tmp: tempfile::TempDir,
    pub(super) key: StoreKey,
    pub(super) store: Store,
}

/// A new device with an empty store.
pub(super) fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("s"), &key).expect("create");
    Device { tmp, key, store }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The device as restored from a copy of its store taken now.
pub(super) fn backup(d: &Device) -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    copy_dir(d.store.dir(), &tmp.path().join("s"));
    let store = Store::open(tmp.path().join("s"), &d.key).expect("open the copy");
    Device {
        tmp,
        key: d.key.clone(),
        store,
    }
}

fn send(from: &mut Device, to: &mut Device) -> Result<SyncReport> {
    let b = from.store.export_bundle(BundleScope::Everything)?;
    to.store.import_bundle(&b)
}

fn active(d: &Device, who: &Device) -> bool {
    let id = who.store.team().device_id();
    d.store
        .team()
        .members()
        .iter()
        .any(|m| m.device == id && m.active)
}

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

fn edits(status: &str) -> Vec<Edit> {
    vec![Edit::set(crate::model::ScalarField::CaseStatus, status)]
}

/// One run of F1: A invites; B and E join with the same text; A admits B, B opens
/// its key and adds a case; A's phone is restored from the copy taken after the
/// invitation and admits E, which adds a case too (so both admissions are used).
/// `e_first_at_b`: whether B hears of E's admission (and E's case) before A' hears
/// of B's.
fn run(e_first_at_b: bool) {
    let mut a = device();
    a.store
        .team_mut()
        .create_group("Border team", "Aigerim")
        .expect("group");
    let inv = a
        .store
        .team_mut()
        .invite(Role::FieldWorker)
        .expect("invite");
    let restored = backup(&a);
    let (mut b, mut e) = (device(), device());
    b.store
        .team_mut()
        .join_group(inv.as_text(), "Bakyt")
        .expect("b joins");
    e.store
        .team_mut()
        .join_group(inv.as_text(), "Eve")
        .expect("e joins");
    // A admits B with its clock an hour ahead (so the restored phone's admission of
    // E below carries the earlier time: T2, the clocks decide nothing).
    CLOCK_AHEAD.with(|c| c.set(3600));
    send(&mut b, &mut a).expect("a admits b");
    CLOCK_AHEAD.with(|c| c.set(0));
    send(&mut a, &mut b).expect("b is admitted");
    assert!(active(&b, &b));
    b.store.add_case(&edits("Active")).expect("b adds a case");
    send(&mut b, &mut a).expect("a learns b's case");
    // A's phone, restored from the older copy, admits E.
    let mut a2 = restored;
    send(&mut e, &mut a2).expect("the restored phone admits e");
    send(&mut a2, &mut e).expect("e is admitted there");
    assert!(active(&e, &e));
    e.store.add_case(&edits("Closed")).expect("e adds a case");
    send(&mut e, &mut a2).expect("a2 learns e's case");
    if e_first_at_b {
        // B hears first: it stays a member (E too, with no more than B's rights,
        // until a coordinator decides); never a refusal of the whole bundle.
        send(&mut a2, &mut b).expect("b imports the restored phone's bundle");
        assert!(active(&b, &b), "b stays a member");
        assert!(active(&b, &e), "e waits for a coordinator's decision at b");
        b.store
            .add_case(&edits("Active"))
            .expect("b still adds cases");
    }
    // The restored phone hears of B's admission: it is told, naming both devices.
    let r = send(&mut b, &mut a2).expect("a2 imports b's bundle");
    let (b_short, e_short) = (
        b.store.team().device_id().short(),
        e.store.team().device_id().short(),
    );
    assert!(
        r.notices
            .iter()
            .any(|n| n.contains("was used again") && n.contains(&e_short) && n.contains(&b_short)),
        "the coordinator is told: {r:?}"
    );
    assert!(active(&a2, &b) && active(&a2, &e), "nobody is displaced");
    // The coordinator decides: E is revoked, the key rotates without it.
    let epoch_before = a2.store.team().key_epoch().expect("epoch");
    a2.store
        .team_mut()
        .revoke(&e.store.team().device_id())
        .expect("revoke e");
    assert!(active(&a2, &b) && !active(&a2, &e));
    assert!(
        a2.store.team().key_epoch().expect("epoch") > epoch_before,
        "the key rotated"
    );
    // The original phone, told too, agrees.
    send(&mut b, &mut a).expect("a imports b's bundle");
    send(&mut a2, &mut a).expect("a learns everything");
    send(&mut a, &mut b).expect("b learns everything");
    send(&mut a, &mut a2).expect("a2 learns everything");
    for d in [&a, &a2, &b] {
        assert!(active(d, &b), "b is a member everywhere");
        assert!(!active(d, &e), "e is cut off everywhere");
    }
    assert_eq!(a.store.team().members(), b.store.team().members());
    assert_eq!(a.store.team().members(), a2.store.team().members());
    // What A' writes next, E cannot read, and its refusal changes no byte.
    a2.store.add_case(&edits("Active")).expect("a2 adds a case");
    let bundle = a2
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let before = snapshot(e.store.dir());
    let before_count = e.store.len();
    assert!(
        e.store.import_bundle(&bundle).is_err(),
        "e reads nothing new"
    );
    assert_eq!(
        snapshot(e.store.dir()),
        before,
        "a refused import changes no byte"
    );
    assert_eq!(e.store.len(), before_count);
    // What E sends is refused.
    let err = send(&mut e, &mut a2).expect_err("e is refused");
    assert!(err.to_string().contains("revoked"), "{err}");
    drop((a.tmp, a2.tmp, b.tmp, e.tmp));
}

/// F1 and F1b (red team 2026-12-04), and T2 (2026-12-05: the restored phone's clock
/// says its admission came first): a coordinator's phone restored from an older copy
/// admits a second device on an invitation already used; the member admitted first
/// is never displaced, whichever order the devices hear of it, over several runs
/// (record hashes differ each run, so a hash tie-break would lose some).
#[test]
fn a_restored_coordinator_admitting_a_second_device_displaces_nobody_whatever_the_clocks() {
    for _ in 0..3 {
        run(true);
        run(false);
    }
}

fn role_at(d: &Device, who: &Device) -> Option<Role> {
    let id = who.store.team().device_id();
    d.store
        .team()
        .members()
        .into_iter()
        .find(|m| m.device == id && m.active)
        .map(|m| m.role)
}

/// Red team 2026-12-05 T1: a photographed coordinator invitation used by an attacker
/// E on a coordinator's phone restored from a copy taken before it admitted C. E
/// acts at once as a coordinator (revokes the field worker B, demotes Alice), which
/// "anchored" its admission under the old ranking. Now the invitation is contested
/// on every device that sees both admissions: neither C nor E has coordinator rights,
/// E's revoke and role change have no effect, B and Alice keep their membership and
/// role, the coordinator is told, and revoking E gives C its role back.
fn t1_run() {
    let mut a = device();
    a.store
        .team_mut()
        .create_group("Border team", "Alice")
        .expect("group");
    let mut b = device();
    let inv_b = a
        .store
        .team_mut()
        .invite(Role::FieldWorker)
        .expect("invite b");
    b.store
        .team_mut()
        .join_group(inv_b.as_text(), "Bakyt")
        .expect("b joins");
    send(&mut b, &mut a).expect("a admits b");
    send(&mut a, &mut b).expect("b is admitted");
    let inv_c = a
        .store
        .team_mut()
        .invite(Role::Coordinator)
        .expect("invite c");
    let restored = backup(&a);
    let (mut c, mut e) = (device(), device());
    c.store
        .team_mut()
        .join_group(inv_c.as_text(), "Chen")
        .expect("c joins");
    e.store
        .team_mut()
        .join_group(inv_c.as_text(), "Eve")
        .expect("e joins");
    send(&mut c, &mut a).expect("a admits c");
    send(&mut a, &mut c).expect("c is admitted");
    c.store.add_case(&edits("Active")).expect("c adds a case");
    send(&mut c, &mut a).expect("a learns c's case");
    send(&mut c, &mut b).expect("b learns c's case");
    send(&mut a, &mut b).expect("b learns a's records");
    assert_eq!(role_at(&a, &c), Some(Role::Coordinator));
    // The restored phone admits E, and E acts as a coordinator at once.
    let mut a2 = restored;
    send(&mut e, &mut a2).expect("the restored phone admits e");
    send(&mut a2, &mut e).expect("e is admitted there");
    e.store
        .team_mut()
        .revoke(&b.store.team().device_id())
        .expect("e revokes b (locally)");
    e.store
        .team_mut()
        .set_role(&a.store.team().device_id(), Role::FieldWorker)
        .expect("e demotes alice (locally)");
    send(&mut e, &mut a2).expect("the restored phone imports e's records");
    // Until it hears of C, the restored phone believes E (nothing tells them apart).
    // E rotated the key when it revoked B: what the restored phone sends now, C
    // cannot read, and the refusal changes no byte.
    let before = snapshot(c.store.dir());
    assert!(send(&mut a2, &mut c).is_err());
    assert_eq!(snapshot(c.store.dir()), before);
    // The restored phone learns of C's admission: Alice is a coordinator again there,
    // B a member, E's records have no effect, and she is told of both devices.
    let r = send(&mut c, &mut a2).expect("a2 imports c's bundle");
    let (c_short, e_short) = (
        c.store.team().device_id().short(),
        e.store.team().device_id().short(),
    );
    assert!(
        r.notices
            .iter()
            .any(|n| n.contains("was used again") && n.contains(&c_short) && n.contains(&e_short)),
        "the coordinator is told of both devices: {r:?}"
    );
    // Devices that know both admissions: E's records change nothing.
    send(&mut a2, &mut c).expect("c imports the restored phone's bundle");
    send(&mut a2, &mut b).expect("b imports the restored phone's bundle");
    for d in [&a2, &b, &c] {
        assert!(active(d, &b), "b stays a member");
        assert_eq!(
            role_at(d, &a),
            Some(Role::Coordinator),
            "alice keeps her role"
        );
        assert_eq!(
            role_at(d, &e),
            Some(Role::FieldWorker),
            "e holds no coordinator right"
        );
        assert_eq!(role_at(d, &c), Some(Role::FieldWorker), "contested");
    }
    assert!(
        c.store
            .team_mut()
            .revoke(&e.store.team().device_id())
            .is_err(),
        "a contested device cannot decide its own contest"
    );
    // E, told too, cannot act as a coordinator any more.
    send(&mut a2, &mut e).expect("e learns c's admission");
    assert_eq!(e.store.team().role(), Some(Role::FieldWorker));
    assert!(e
        .store
        .team_mut()
        .revoke(&c.store.team().device_id())
        .is_err());
    // Alice decides: E is revoked, C holds the coordinator role, everywhere.
    let epoch_before = a2.store.team().key_epoch().expect("epoch");
    a2.store
        .team_mut()
        .revoke(&e.store.team().device_id())
        .expect("alice revokes e");
    assert!(
        a2.store.team().key_epoch().expect("epoch") > epoch_before,
        "the key rotated"
    );
    for _ in 0..2 {
        send(&mut a2, &mut a).expect("a learns");
        send(&mut a, &mut b).expect("b learns");
        send(&mut a, &mut c).expect("c learns");
        send(&mut c, &mut a).expect("a learns from c");
        send(&mut b, &mut a2).expect("a2 learns from b");
        send(&mut a, &mut a2).expect("a2 learns from a");
    }
    for d in [&a, &a2, &b, &c] {
        assert!(active(d, &b), "b is a member everywhere");
        assert_eq!(role_at(d, &a), Some(Role::Coordinator));
        assert_eq!(
            role_at(d, &c),
            Some(Role::Coordinator),
            "c's role after the decision"
        );
        assert!(!active(d, &e), "e is cut off everywhere");
    }
    assert_eq!(a.store.team().members(), c.store.team().members());
    assert_eq!(a.store.team().members(), a2.store.team().members());
    assert_eq!(a.store.team().members(), b.store.team().members());
    assert_eq!(a.store.len(), b.store.len(), "c's case reached the team");
    // What Alice writes next, E cannot read; the refusal changes no byte.
    a.store.add_case(&edits("Active")).expect("a adds a case");
    let bundle = a
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let before = snapshot(e.store.dir());
    assert!(
        e.store.import_bundle(&bundle).is_err(),
        "e reads nothing new"
    );
    assert_eq!(snapshot(e.store.dir()), before);
    drop((a.tmp, a2.tmp, b.tmp, c.tmp, e.tmp));
}

/// T1 (red team 2026-12-05), three runs (record hashes, so log orders, differ).
#[test]
fn a_contested_coordinator_admission_removes_and_demotes_nobody() {
    for _ in 0..3 {
        t1_run();
    }
}

/// T4 (red team 2026-12-05): a doubled bundle, and an incremental bundle imported
/// before the earlier one that told of a key rotation, are refused with what happened
/// and what to do, and change no byte.
#[test]
fn doubled_and_out_of_order_bundles_say_what_happened() {
    let mut a = device();
    a.store
        .team_mut()
        .create_group("Border team", "Alice")
        .expect("group");
    let (mut d, mut x) = (device(), device());
    for (dev, name) in [(&mut d, "Dana"), (&mut x, "Xan")] {
        let inv = a
            .store
            .team_mut()
            .invite(Role::FieldWorker)
            .expect("invite");
        dev.store
            .team_mut()
            .join_group(inv.as_text(), name)
            .expect("join");
        send(dev, &mut a).expect("admitted");
        send(&mut a, dev).expect("key");
    }
    let since = || BundleScope::SinceLast("dana".into());
    a.store.add_case(&edits("Active")).expect("case");
    let i1 = a.store.export_bundle(since()).expect("i1");
    // Doubled: refused whole, saying so.
    let mut doubled = i1.clone();
    doubled.extend_from_slice(&i1);
    let before = snapshot(d.store.dir());
    let err = d.store.import_bundle(&doubled).expect_err("doubled");
    assert!(err.to_string().contains("more than one message"), "{err}");
    assert_eq!(snapshot(d.store.dir()), before);
    // A rotation (X revoked), then two more incremental bundles; D gets the last first.
    a.store
        .team_mut()
        .revoke(&x.store.team().device_id())
        .expect("revoke x");
    let i2 = a.store.export_bundle(since()).expect("i2");
    a.store.add_case(&edits("Closed")).expect("case");
    let i3 = a.store.export_bundle(since()).expect("i3");
    // Its envelope names no group (only a routing tag and an epoch), so the device
    // cannot tell it from another team's: the message gives both, and what to do.
    let err = d.store.import_bundle(&i3).expect_err("i3 first");
    assert!(matches!(err, Error::NotForThisDevice));
    let err = err.to_string();
    assert!(
        err.contains("earlier bundles first") && err.contains("already handled"),
        "the out-of-order bundle says what to do: {err}"
    );
    assert_eq!(snapshot(d.store.dir()), before);
    d.store.import_bundle(&i1).expect("i1");
    d.store.import_bundle(&i2).expect("i2");
    d.store.import_bundle(&i3).expect("i3 after");
    assert_eq!(d.store.len(), 2);
    drop((a.tmp, d.tmp, x.tmp));
}
