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

/// An outbox emptied on the server (its writer numbers again from 1): receipts that
/// claim more than it holds are stale, so its new bundles are neither skipped by the
/// readers nor pruned by the writer before they are read.
#[test]
fn an_emptied_outbox_numbers_again_and_is_read_again() {
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
    let key = t[0].store.sending_key().expect("key");
    fs::remove_dir_all(dir.join(outbox_name(key.bytes(), &t[0].store.team().device_id().0)))
        .expect("emptied");
    t[0].store.add_case(&case(4)).expect("add");
    for _ in 0..2 {
        let r = t[0].store.sync_mailbox(dir).expect("sync");
        assert_eq!(r.bundles_pruned, 0, "device 1 has read nothing new yet");
    }
    assert_eq!(own_bundles(&t[0].store, dir), vec![1]);
    t[1].store.sync_mailbox(dir).expect("sync");
    assert_eq!(case_count(&t[1].store), 5);
}
