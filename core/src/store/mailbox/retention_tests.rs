//! Retention (protocol section 15.2): outbox bundles go only once every active member
//! has read them; newcomers and restored devices still get everything.

use super::*;
use crate::crypto::StoreKey;
use crate::model::{Edit, ScalarField, SetField};
use crate::sync::{DeviceId, Role};

struct Device {
    _tmp: tempfile::TempDir,
    store: Store,
    key: StoreKey,
    dir: PathBuf,
}

fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let dir = tmp.path().join("s");
    let store = Store::create(&dir, &key).expect("create");
    Device {
        _tmp: tmp,
        store,
        key,
        dir,
    }
}

/// Brings `newcomer` into the group of `coordinator`, as the in-person exchange does.
fn admit(coordinator: &mut Store, newcomer: &mut Store, name: &str) {
    let inv = coordinator
        .team_mut()
        .invite(Role::Coordinator)
        .expect("invite");
    newcomer
        .team_mut()
        .join_group(inv.as_text(), name)
        .expect("join");
    let b = newcomer
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    coordinator.import_bundle(&b).expect("import");
    let reply = coordinator
        .export_bundle(BundleScope::Everything)
        .expect("reply");
    newcomer.import_bundle(&reply).expect("admitted");
    let b = newcomer
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    coordinator.import_bundle(&b).expect("import");
}

fn team(n: usize) -> Vec<Device> {
    let mut t: Vec<Device> = (0..n).map(|_| device()).collect();
    t[0].store
        .team_mut()
        .create_group("Team", "Device 0")
        .expect("group");
    for i in 1..n {
        let (first, rest) = t.split_at_mut(i);
        admit(
            &mut first[0].store,
            &mut rest[0].store,
            &format!("Device {i}"),
        );
    }
    t
}

fn case(n: usize) -> Vec<Edit> {
    vec![
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, ["KZ", "KG", "TJ"][n % 3]),
        Edit::note(format!("case number {n}")),
    ]
}

/// The bundle numbers in `store`'s own outbox in `folder`.
fn own_bundles(store: &Store, folder: &Path) -> Vec<u64> {
    let key = store.sending_key().expect("key");
    let outbox = outbox_name(key.bytes(), &store.team().device_id().0);
    let mut out: Vec<u64> = fs::read_dir(folder.join(outbox))
        .map(|d| {
            d.flatten()
                .filter_map(|f| own_number(&f.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn case_count(store: &Store) -> usize {
    store.index.cases.len()
}

/// Three devices converge through a folder; a device's bundles go only once the other
/// two have read them, and a member who never syncs holds everything back.
#[test]
fn bundles_are_pruned_only_once_every_member_has_read_them() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    // Devices 0 and 1 only: device 2 has never synced, so nothing of theirs goes.
    for n in 0..4 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in &mut t[..2] {
            let r = d.store.sync_mailbox(dir).expect("sync");
            assert_eq!(r.bundles_pruned, 0, "device 2 has read nothing");
        }
    }
    assert_eq!(own_bundles(&t[0].store, dir), vec![1, 2, 3, 4]);
    // Device 2 reads everything; then each device prunes what all three have read,
    // keeping its newest bundle.
    t[2].store.sync_mailbox(dir).expect("sync");
    assert_eq!(case_count(&t[2].store), 4);
    t[1].store.sync_mailbox(dir).expect("sync");
    let r = t[0].store.sync_mailbox(dir).expect("sync");
    assert_eq!(r.bundles_pruned, 3, "{r:?}");
    assert_eq!(own_bundles(&t[0].store, dir), vec![4]);
    // Later bundles go the same way, and every device keeps converging.
    for n in 4..8 {
        t[n % 3].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    for d in t.iter_mut() {
        d.store.sync_mailbox(dir).expect("sync");
    }
    for d in &t {
        assert_eq!(case_count(&d.store), 8);
        assert!(own_bundles(&d.store, dir).len() <= 2, "kept small");
    }
    // Nothing readable of a case is in a receipt: the folder holds ciphertext only.
    for sub in fs::read_dir(dir).expect("dir").flatten() {
        for f in fs::read_dir(sub.path()).expect("dir").flatten() {
            let b = fs::read(f.path()).expect("read");
            assert!(!b.windows(11).any(|w| w == b"case number"));
        }
    }
}

/// A revoked device holds nothing back: once it is revoked, the others prune.
#[test]
fn a_revoked_member_does_not_hold_bundles_back() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    let revoked: DeviceId = t[2].store.team().device_id();
    t[0].store.team_mut().revoke(&revoked).expect("revoke");
    for n in 0..4 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in &mut t[..2] {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(case_count(&t[1].store), 4);
    let r = t[0].store.sync_mailbox(dir).expect("sync");
    let left = own_bundles(&t[0].store, dir);
    assert_eq!(left.len(), 1, "only the newest is kept: {left:?} {r:?}");
    assert!(left[0] >= 4);
}

/// A receipt that does not open or verify (garbage, another group's key, signed by
/// another device than it names, a flipped byte) prunes nothing.
#[test]
fn a_tampered_or_foreign_receipt_prunes_nothing() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    let key = t[0].store.sending_key().expect("key");
    let other_id = t[1].store.team().device_id();
    let theirs = outbox_name(key.bytes(), &other_id.0);
    fs::create_dir_all(dir.join(&theirs)).expect("mkdir");
    // What device 1 would claim: bundles 1 to 5 of device 0 read.
    let mine = outbox_name(key.bytes(), &t[0].store.team().device_id().0);
    let claim = |device: [u8; 32]| Receipt {
        device,
        generation: [9; 16],
        read: vec![(retention::tag(&mine).expect("tag"), 5)],
    };
    let stranger = DeviceIdentity::generate().expect("id");
    let genuine = claim(other_id.0)
        .seal(&t[1].store.identity, &key)
        .expect("seal");
    let mut flipped = genuine.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x40;
    let forged: Vec<Vec<u8>> = vec![
        b"not a receipt".to_vec(),
        // Another group's key.
        claim(other_id.0)
            .seal(
                &t[1].store.identity,
                &crate::sync::envelope::EpochKey::new(key.epoch, [1; 32]),
            )
            .expect("seal"),
        // Signed by a stranger, naming device 1.
        claim(other_id.0).seal(&stranger, &key).expect("seal"),
        // Signed by device 0 itself, naming device 1.
        claim(other_id.0)
            .seal(&t[0].store.identity, &key)
            .expect("seal"),
        // Device 1's genuine receipt, one byte flipped.
        flipped,
    ];
    for (i, bytes) in forged.iter().enumerate() {
        let path = dir.join(&theirs).join(format!("{:010}.cvr", i + 1));
        fs::write(&path, bytes).expect("plant");
        t[0].store.add_case(&case(i)).expect("add");
        let r = t[0].store.sync_mailbox(dir).expect("sync");
        assert_eq!(r.bundles_pruned, 0, "receipt {i}");
    }
    assert_eq!(own_bundles(&t[0].store, dir), vec![1, 2, 3, 4, 5]);
    // The genuine receipt (the newest) does prune: the check above was not vacuous.
    fs::write(dir.join(&theirs).join("0000000009.cvr"), &genuine).expect("plant");
    t[0].store.add_case(&case(9)).expect("add");
    let r = t[0].store.sync_mailbox(dir).expect("sync");
    assert_eq!(r.bundles_pruned, 5, "{r:?}");
}

/// A member who joins after bundles were pruned still gets everything: its first
/// receipt carries a generation no member has served, and a member whose bundle of
/// everything is gone from its outbox writes a new one.
#[test]
fn a_late_joiner_still_gets_everything() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    let mut pruned = 0;
    for n in 0..6 {
        t[n % 3].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            pruned += d.store.sync_mailbox(dir).expect("sync").bundles_pruned;
        }
    }
    assert!(pruned >= 6, "bundles were pruned before the join: {pruned}");
    assert!(own_bundles(&t[0].store, dir).first() > Some(&1));
    // The newcomer is admitted in person, but the coordinator's reply carries the
    // membership only (no case): everything else it must find in the mailbox.
    let mut late = device();
    let inv = t[0]
        .store
        .team_mut()
        .invite(Role::Coordinator)
        .expect("invite");
    late.store
        .team_mut()
        .join_group(inv.as_text(), "Late")
        .expect("join");
    let b = late
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join");
    t[0].store.import_bundle(&b).expect("import");
    let records = crate::sync::Payload {
        members: t[0]
            .store
            .group()
            .expect("g")
            .records
            .iter()
            .cloned()
            .collect(),
        ..crate::sync::Payload::default()
    };
    let reply = t[0].store.seal_for_group(&records, true).expect("reply");
    late.store.import_bundle(&reply).expect("admitted");
    assert_eq!(case_count(&late.store), 0);
    t.push(late);
    for _ in 0..3 {
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(case_count(&t[3].store), 6);
    // And once it has read them, the bundles of everything go too.
    for d in t.iter_mut() {
        d.store.sync_mailbox(dir).expect("sync");
    }
    for d in &t {
        assert!(own_bundles(&d.store, dir).len() <= 2);
    }
}

/// A device restored from an old copy of its store (its index older than its own
/// receipts in the mailbox) takes a new generation and gets everything again,
/// even what was pruned after its copy was taken (and does not trust a receipt of
/// its own that its index did not record writing).
#[test]
fn a_restored_device_gets_everything_again() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    t[0].store.add_case(&case(0)).expect("add");
    for d in t.iter_mut() {
        d.store.sync_mailbox(dir).expect("sync");
    }
    // An old copy of device 1's store, taken after its first sync (its index records
    // its first receipt, no longer the newest once it syncs on).
    let copy = tempfile::tempdir().expect("copy");
    let src = t[1].dir.clone();
    copy_dir(&src, copy.path());
    for n in 1..5 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(own_bundles(&t[0].store, dir).len(), 1, "pruned");
    // Device 1 restored from the copy: its store has the first case only.
    let spare = device();
    drop(std::mem::replace(&mut t[1].store, spare.store));
    fs::remove_dir_all(&src).expect("rm");
    copy_dir(copy.path(), &src);
    t[1].store = Store::open(&src, &t[1].key).expect("open");
    assert_eq!(case_count(&t[1].store), 1);
    for _ in 0..2 {
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(case_count(&t[1].store), 5);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// F10: more outboxes than [`MAX_OUTBOXES`], or more files in one than
/// [`MAX_FILES_PER_OUTBOX`], is a typed error before anything is read; more new bundles
/// in one outbox than [`MAX_READS_PER_OUTBOX`] are read over several syncs.
#[test]
fn listings_are_bounded_and_reads_per_sync_capped() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    // Bounded partial sync: device 0 writes more bundles than one sync reads.
    let extra = 3;
    for n in 0..MAX_READS_PER_OUTBOX + extra {
        let r = t[0]
            .store
            .sync_through(&Numbered(FsMailbox::new(dir), n), &mut |_, _| true)
            .expect("sync");
        assert_eq!(r.bundles_written, 1);
    }
    let first = t[1].store.sync_mailbox(dir).expect("sync");
    assert_eq!(first.deferred, extra, "{first:?}");
    assert_eq!(first.bundles_imported, MAX_READS_PER_OUTBOX);
    let second = t[1].store.sync_mailbox(dir).expect("sync");
    assert_eq!((second.deferred, second.bundles_imported), (0, extra));
    // Too many outboxes: typed, nothing read.
    let crowded = tempfile::tempdir().expect("crowded");
    for i in 0..=MAX_OUTBOXES {
        fs::create_dir_all(crowded.path().join(format!("{i:016x}"))).expect("mkdir");
    }
    let err = t[1]
        .store
        .sync_mailbox(crowded.path())
        .expect_err("too many");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    // Too many files in one outbox: typed too, from the folder and from any mailbox.
    let flooded = tempfile::tempdir().expect("flooded");
    let junk = flooded.path().join("0123456789abcdef");
    fs::create_dir_all(&junk).expect("mkdir");
    for i in 0..=MAX_FILES_PER_OUTBOX {
        fs::write(junk.join(format!("{i:010}.cvb")), b"x").expect("write");
    }
    let err = t[1]
        .store
        .sync_mailbox(flooded.path())
        .expect_err("flooded");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let paths: Vec<String> = (0..=MAX_FILES_PER_OUTBOX)
        .map(|i| format!("0123456789abcdef/{i:010}.cvb"))
        .collect();
    let err = Listing::of(paths, "fedcba9876543210")
        .err()
        .expect("flooded");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

/// A folder mailbox whose place is its own per `n`, so each sync writes a bundle (a
/// new position every time) into the same outbox.
struct Numbered(FsMailbox, usize);

impl Mailbox for Numbered {
    fn list(&self) -> Result<Vec<String>> {
        self.0.list()
    }
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        self.0.read(path, limit)
    }
    fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.0.write(path, bytes)
    }
    fn remove(&self, path: &str) -> Result<()> {
        // Never prunes: the other device has not read anything yet.
        self.0.remove(path)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn place(&self) -> String {
        format!("numbered {}", self.1)
    }
}

/// An outbox emptied on the server: its writer numbers on above the newest bundle it
/// wrote there (a number a receipt may claim is never used again, red team round 6
/// H1) and writes everything, which is neither skipped by the readers nor pruned by
/// the writer before it is read.
#[test]
fn an_emptied_outbox_numbers_on_and_is_read_again() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    for n in 0..4 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert!(own_bundles(&t[0].store, dir).first() > Some(&2), "pruned");
    let newest = *own_bundles(&t[0].store, dir).last().expect("newest");
    let key = t[0].store.sending_key().expect("key");
    fs::remove_dir_all(dir.join(outbox_name(key.bytes(), &t[0].store.team().device_id().0)))
        .expect("emptied");
    t[0].store.add_case(&case(4)).expect("add");
    for _ in 0..2 {
        let r = t[0].store.sync_mailbox(dir).expect("sync");
        assert_eq!(r.bundles_pruned, 0, "device 1 has read nothing new yet");
    }
    assert_eq!(own_bundles(&t[0].store, dir), vec![newest + 1]);
    t[1].store.sync_mailbox(dir).expect("sync");
    assert_eq!(case_count(&t[1].store), 5);
}

/// The files in the outbox `store` wrote under the key of `epoch`.
fn outbox_files(store: &Store, folder: &Path, epoch: u32) -> usize {
    let key = store
        .group()
        .expect("group")
        .all_keys()
        .into_iter()
        .find(|k| k.epoch == epoch)
        .expect("the key of that epoch");
    let outbox = outbox_name(key.bytes(), &store.team().device_id().0);
    fs::read_dir(folder.join(outbox))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

/// After a rotation each device writes into a new outbox; its outbox of the earlier
/// epoch goes only once every active member has read past the bundle of everything
/// that opened the new one (protocol section 15.2). A member who has not synced since
/// the rotation holds it back, and loses nothing.
#[test]
fn outboxes_of_earlier_epochs_go_once_every_member_read_the_new_one() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    for n in 0..3 {
        t[n].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    let old_epoch = t[0].store.sending_key().expect("key").epoch;
    // A case device 1 never reads from the old outbox: written just before the
    // rotation.
    t[0].store.add_case(&case(3)).expect("add");
    t[0].store.sync_mailbox(dir).expect("sync");
    let revoked = t[2].store.team().device_id();
    t[0].store
        .team_mut()
        .revoke(&revoked)
        .expect("revoke: the key rotates");
    assert_ne!(t[0].store.sending_key().expect("key").epoch, old_epoch);
    // Device 0 syncs twice: its new outbox opens with everything, but device 1 has
    // not read it, so the old outbox stays.
    for _ in 0..2 {
        t[0].store.add_case(&case(4)).expect("add");
        t[0].store.sync_mailbox(dir).expect("sync");
        assert!(
            outbox_files(&t[0].store, dir, old_epoch) > 0,
            "the old outbox went before device 1 read the new one"
        );
    }
    // Device 1 reads the new outbox and gets the new key from it (this sync still
    // writes under the key it started with, so device 0 sees no receipt yet) ...
    t[1].store.sync_mailbox(dir).expect("sync");
    assert_eq!(case_count(&t[1].store), case_count(&t[0].store));
    t[0].store.sync_mailbox(dir).expect("sync");
    assert!(outbox_files(&t[0].store, dir, old_epoch) > 0);
    // ... its next sync writes its receipt under the new key; then device 0 removes
    // its old outbox.
    t[1].store.sync_mailbox(dir).expect("sync");
    let r = t[0].store.sync_mailbox(dir).expect("sync");
    assert_eq!(outbox_files(&t[0].store, dir, old_epoch), 0, "{r:?}");
    // Device 1's old outbox goes the same way once device 0 has read its new one.
    t[1].store.add_case(&case(5)).expect("add");
    for _ in 0..3 {
        for d in t[..2].iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(outbox_files(&t[1].store, dir, old_epoch), 0);
    assert_eq!(case_count(&t[0].store), 7);
    assert_eq!(case_count(&t[1].store), 7);
    // A newcomer after all this still gets every case.
    let mut late = device();
    admit(&mut t[0].store, &mut late.store, "Device 3");
    for _ in 0..2 {
        for d in t[..2].iter_mut().chain(std::iter::once(&mut late)) {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(case_count(&late.store), 7);
}

/// The path of `store`'s own outbox in `folder` (under its current key).
fn own_outbox(store: &Store, folder: &Path) -> PathBuf {
    let key = store.sending_key().expect("key");
    folder.join(outbox_name(key.bytes(), &store.team().device_id().0))
}

/// A team of `n` that has synced once through a new folder, then three bundles of
/// device 0 (a case each) that no one else has read yet.
fn three_unread_bundles(n: usize) -> (Vec<Device>, tempfile::TempDir) {
    let mut t = team(n);
    let folder = tempfile::tempdir().expect("mailbox");
    for d in t.iter_mut() {
        d.store.sync_mailbox(folder.path()).expect("sync");
    }
    for n in 0..3 {
        t[0].store.add_case(&case(n)).expect("add");
        t[0].store.sync_mailbox(folder.path()).expect("sync");
    }
    (t, folder)
}

/// Red team round 6, H1 and M2: a bundle lost at the place (its newest file, a file in
/// the middle, or the whole outbox) is never followed by a reused number, and the
/// members who had not read it get everything again: every device converges, every
/// sync exits without error.
#[test]
fn a_bundle_lost_at_the_place_loses_nothing() {
    for loss in ["newest", "middle", "whole outbox"] {
        // Device 0 writes three bundles no one reads before one goes missing.
        let (mut t, folder) = three_unread_bundles(3);
        let dir = folder.path();
        let outbox = own_outbox(&t[0].store, dir);
        let mut bundles = own_bundles(&t[0].store, dir);
        assert!(bundles.len() >= 2, "{loss}: {bundles:?}");
        match loss {
            "newest" => {
                fs::remove_file(outbox.join(format!("{:010}.cvb", bundles.pop().expect("newest"))))
                    .expect("rm")
            }
            "middle" => {
                fs::remove_file(outbox.join(format!("{:010}.cvb", bundles[bundles.len() - 2])))
                    .expect("rm")
            }
            _ => fs::remove_dir_all(&outbox).expect("rm -r"),
        }
        let before = own_bundles(&t[0].store, dir).into_iter().max().unwrap_or(0);
        for n in 3..6 {
            t[0].store.add_case(&case(n)).expect("add");
            for d in t.iter_mut() {
                d.store.sync_mailbox(dir).expect("sync");
            }
            let numbers = own_bundles(&t[0].store, dir);
            assert!(
                numbers.iter().all(|x| *x > before) || numbers.contains(&before),
                "{loss}: a number was used twice: {numbers:?} after {before}"
            );
        }
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
        for (i, d) in t.iter().enumerate() {
            assert_eq!(case_count(&d.store), 6, "{loss}: device {i}");
        }
    }
}

/// Red team round 6, M1: a bundle damaged at the place, which no member can read past,
/// is found by its writer, removed and everything written again.
#[test]
fn a_bundle_damaged_at_the_place_is_served_again() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    for d in t.iter_mut() {
        d.store.sync_mailbox(dir).expect("sync");
    }
    t[0].store.add_case(&case(0)).expect("add");
    t[0].store.sync_mailbox(dir).expect("sync");
    let outbox = own_outbox(&t[0].store, dir);
    let newest = *own_bundles(&t[0].store, dir).last().expect("newest");
    let path = outbox.join(format!("{newest:010}.cvb"));
    let mut bytes = fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&path, bytes).expect("damage");
    for n in 1..4 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            let _ = d.store.sync_mailbox(dir).expect("sync");
        }
    }
    for d in t.iter_mut() {
        d.store.sync_mailbox(dir).expect("sync");
    }
    for (i, d) in t.iter().enumerate() {
        assert_eq!(case_count(&d.store), 4, "device {i}");
    }
    assert!(
        own_bundles(&t[0].store, dir).len() <= 2,
        "the outbox prunes again: {:?}",
        own_bundles(&t[0].store, dir)
    );
}

/// Red team round 6, H1 (second reproduction): a member's receipt claims bundle 7 of an
/// outbox; the outbox is emptied while that member is away, and its writer writes ten
/// more bundles. Had the writer numbered again from 1, the member's claim would cover
/// the new bundles 1 to 7: it would skip them and the writer would prune them.
#[test]
fn a_claim_never_covers_a_bundle_written_after_the_outbox_was_emptied() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    let dir = folder.path();
    for n in 0..7 {
        t[0].store.add_case(&case(n)).expect("add");
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    fs::remove_dir_all(own_outbox(&t[0].store, dir)).expect("emptied");
    for n in 7..17 {
        t[0].store.add_case(&case(n)).expect("add");
        t[0].store.sync_mailbox(dir).expect("sync");
    }
    for _ in 0..2 {
        for d in t.iter_mut() {
            d.store.sync_mailbox(dir).expect("sync");
        }
    }
    assert_eq!(case_count(&t[0].store), 17);
    assert_eq!(case_count(&t[1].store), 17);
}

/// A folder mailbox that misbehaves like a synced folder or a confused app: it hides
/// one file from its listing (delivered late), or hands over another file's bytes.
struct Faulty {
    folder: FsMailbox,
    hidden: Option<String>,
    swapped: Option<(String, String)>,
}

impl Mailbox for Faulty {
    fn list(&self) -> Result<Vec<String>> {
        let all = self.folder.list()?;
        Ok(all
            .into_iter()
            .filter(|p| Some(p) != self.hidden.as_ref())
            .collect())
    }
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        match &self.swapped {
            Some((asked, given)) if asked == path => self.folder.read(given, limit),
            _ => self.folder.read(path, limit),
        }
    }
    fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.folder.write(path, bytes)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.folder.remove(path)
    }
    fn describe(&self) -> String {
        self.folder.describe()
    }
}

/// Red team round 6 (bindings), F1 and F2: device 1 syncs while device 0's middle
/// bundle is missing from the listing (on its way), or while the mailbox hands over
/// the bytes of another bundle under its name. Device 1's receipt must not credit that
/// bundle, device 0 must not prune it, and device 1 gets its case on a later sync.
#[test]
fn a_bundle_not_read_is_never_credited() {
    for fault in ["late", "swapped"] {
        let (mut t, folder) = three_unread_bundles(2);
        let dir = folder.path();
        let outbox = own_outbox(&t[0].store, dir);
        let name = outbox
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let numbers = own_bundles(&t[0].store, dir);
        let middle = format!("{name}/{:010}.cvb", numbers[numbers.len() - 2]);
        let previous = format!("{name}/{:010}.cvb", numbers[numbers.len() - 3]);
        let faulty = Faulty {
            folder: FsMailbox::new(dir),
            hidden: (fault == "late").then(|| middle.clone()),
            swapped: (fault == "swapped").then(|| (middle.clone(), previous.clone())),
        };
        // The sync through the faulty mailbox writes its bundle and receipt to the same
        // folder, so give it the folder's place.
        let r = t[1]
            .store
            .sync_through(&faulty, &mut |_, _| true)
            .expect("sync");
        if fault == "swapped" {
            assert_eq!(r.refused.len(), 1, "{fault}: {r:?}");
        }
        for _ in 0..2 {
            t[0].store.sync_mailbox(dir).expect("sync");
            assert!(
                outbox
                    .join(middle.rsplit('/').next().expect("file"))
                    .exists(),
                "{fault}: device 0 pruned a bundle device 1 never read"
            );
        }
        t[1].store.sync_mailbox(dir).expect("sync");
        assert_eq!(case_count(&t[1].store), 3, "{fault}");
    }
}
