//! Multi-device sync tests on real stores.

use super::sync::SyncReport;
use super::*;
use crate::model::{ScalarField, SetField};

struct Device {
    _tmp: tempfile::TempDir,
    store: Store,
    key: StoreKey,
    dir: PathBuf,
}

fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(&dir, &key).expect("create");
    Device {
        _tmp: tmp,
        store,
        key,
        dir,
    }
}

/// A group of `n` devices: the first creates it, the others join with invitations.
fn team(n: usize) -> Vec<Device> {
    let mut devices: Vec<Device> = (0..n).map(|_| device()).collect();
    devices[0]
        .store
        .team_mut()
        .create_group("Cross-border team", "Device 0")
        .expect("group");
    for i in 1..n {
        let inv = devices[0]
            .store
            .team_mut()
            .invite(crate::sync::Role::Coordinator)
            .expect("invite");
        devices[i]
            .store
            .team_mut()
            .join_group(inv.as_text(), &format!("Device {i}"))
            .expect("join");
        // The newcomer's join record reaches the creator with its first bundle.
        let b = devices[i]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("bundle");
        devices[0].store.import_bundle(&b).expect("import");
        // The creator admitted it; its reply hands over the key, sealed to it.
        let reply = devices[0]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("reply");
        devices[i].store.import_bundle(&reply).expect("admitted");
        // Its next bundle, under the group key, tells the creator it holds the key.
        let b = devices[i]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("bundle");
        devices[0].store.import_bundle(&b).expect("import");
    }
    devices
}

fn records(store: &mut Store) -> Vec<CaseRecord> {
    let ids: Vec<CaseId> = store
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    let mut v: Vec<CaseRecord> = ids.iter().map(|id| store.case(id).expect("case")).collect();
    v.sort_by_key(|r| r.id);
    v
}

fn live(a: &mut Store, b: &mut Store) -> (LiveSession, LiveSession) {
    let (mut sa, mut msg) = a.live_start().expect("start");
    let mut sb = b.live_accept().expect("accept");
    for _ in 0..8 {
        match b.live_receive(&mut sb, &msg).expect("b receives") {
            Some(reply) => msg = reply,
            None => break,
        }
        match a.live_receive(&mut sa, &msg).expect("a receives") {
            Some(reply) => msg = reply,
            None => break,
        }
    }
    assert!(sa.is_done() && sb.is_done(), "both sides finish");
    (sa, sb)
}

fn edits(n: usize) -> Vec<Edit> {
    vec![
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, ["KZ", "KG", "TJ"][n % 3]),
        Edit::add(SetField::Exploitation, "ForcedLabour"),
        Edit::note(format!("case number {n} met at the border crossing")),
    ]
}

#[test]
fn bundles_carry_cases_both_ways_and_converge() {
    let mut t = team(2);
    let ids: Vec<CaseId> = (0..5)
        .map(|n| t[0].store.add_case(&edits(n)).expect("add"))
        .collect();
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    let r = t[1].store.import_bundle(&bundle).expect("import");
    assert_eq!(r.cases_created, 5);
    // Concurrent edits of different fields and concurrent set additions.
    t[0].store
        .update_case(&ids[0], &[Edit::set(ScalarField::Gender, "Feminine")])
        .expect("a");
    t[0].store
        .update_case(
            &ids[0],
            &[Edit::add(SetField::MeansOfControl, "DebtBondage")],
        )
        .expect("a");
    t[1].store
        .update_case(&ids[0], &[Edit::set(ScalarField::AgeBand, "18-20")])
        .expect("b");
    t[1].store
        .update_case(
            &ids[0],
            &[Edit::add(SetField::MeansOfControl, "WithholdsDocuments")],
        )
        .expect("b");
    let id_b = t[1].store.add_case(&edits(9)).expect("b adds");
    let from_a = t[0]
        .store
        .export_bundle(BundleScope::SinceLast("b".into()))
        .expect("a");
    let from_b = t[1]
        .store
        .export_bundle(BundleScope::SinceLast("a".into()))
        .expect("b");
    t[1].store.import_bundle(&from_a).expect("b imports");
    t[0].store.import_bundle(&from_b).expect("a imports");
    let (ra, rb) = (records(&mut t[0].store), records(&mut t[1].store));
    assert_eq!(ra, rb, "both devices converge");
    let merged = ra.iter().find(|r| r.id == ids[0]).expect("case");
    assert_eq!(merged.gender, Some(crate::vocab::Gender::Feminine));
    assert_eq!(merged.age_band, Some(crate::vocab::AgeBand::Age18To20));
    assert_eq!(merged.means_of_control.len(), 2);
    assert!(ra.iter().any(|r| r.id == id_b));
    // Importing again changes nothing (idempotent).
    assert_eq!(
        t[1].store.import_bundle(&from_a).expect("again"),
        SyncReport::default()
    );
    // Everything survives a reopen.
    let Device {
        store, key, dir, ..
    } = &mut t[1];
    let _ = std::mem::replace(
        store,
        Store::create(dir.with_extension("x"), key).expect("placeholder"),
    );
    let mut reopened = Store::open(dir.as_path(), key).expect("reopen");
    assert_eq!(records(&mut reopened), rb);
}

#[test]
fn live_sessions_converge_and_repeat_syncs_take_two_small_messages() {
    let mut t = team(2);
    for n in 0..20 {
        t[0].store.add_case(&edits(n)).expect("add");
    }
    for n in 20..25 {
        t[1].store.add_case(&edits(n)).expect("add");
    }
    let (a, b) = t.split_at_mut(1);
    let (sa, _) = live(&mut a[0].store, &mut b[0].store);
    assert_eq!(records(&mut a[0].store), records(&mut b[0].store));
    assert_eq!(a[0].store.len(), 25);
    assert!(sa.messages_sent + sa.messages_received <= 4);
    // One field edited: the next session is two messages in one round trip.
    let id = a[0].store.list(&CaseFilter::default())[3].id;
    a[0].store
        .update_case(&id, &[Edit::set(ScalarField::CaseStatus, "FollowUp")])
        .expect("edit");
    let (sa, sb) = live(&mut a[0].store, &mut b[0].store);
    assert_eq!(sa.messages_sent + sa.messages_received, 2, "one round trip");
    let bytes = sa.bytes_sent + sa.bytes_received;
    assert!(bytes <= 1_500, "edit sync took {bytes} bytes");
    assert_eq!(sb.report.changes_applied, 1);
    assert_eq!(records(&mut a[0].store), records(&mut b[0].store));
    // Concurrent edits on both sides, still two messages.
    let other = a[0].store.list(&CaseFilter::default())[7].id;
    a[0].store
        .update_case(&id, &[Edit::add(SetField::MeansOfControl, "DebtBondage")])
        .expect("a");
    b[0].store
        .update_case(&other, &[Edit::set(ScalarField::Gender, "Masculine")])
        .expect("b");
    let (sa, _) = live(&mut a[0].store, &mut b[0].store);
    assert_eq!(sa.messages_sent + sa.messages_received, 2);
    assert_eq!(records(&mut a[0].store), records(&mut b[0].store));
}

#[test]
fn hostile_bytes_are_refused_and_change_nothing() {
    let mut t = team(2);
    t[0].store.add_case(&edits(1)).expect("add");
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    let before = t[1].store.disk_usage().expect("du");
    for i in (0..bundle.len()).step_by(7) {
        let mut bad = bundle.clone();
        bad[i] ^= 0x10;
        assert!(t[1].store.import_bundle(&bad).is_err(), "flip at {i}");
    }
    for cut in (0..bundle.len()).step_by(11) {
        assert!(
            t[1].store.import_bundle(&bundle[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    assert_eq!(t[1].store.disk_usage().expect("du"), before);
    assert_eq!(t[1].store.len(), 0);
    // A device of another group, and a stranger using a leaked group key, are refused.
    let mut outsider = team(1);
    outsider[0].store.add_case(&edits(2)).expect("add");
    let foreign = outsider[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    assert!(matches!(
        t[1].store.import_bundle(&foreign),
        Err(Error::NotForThisDevice)
    ));
    let key = t[0].store.group().expect("g").current_key().expect("k");
    let stranger = DeviceIdentity::generate().expect("id");
    let forged =
        crate::sync::seal_message(&key, &stranger, &crate::sync::Payload::default()).expect("seal");
    assert!(matches!(
        t[1].store.import_bundle(&forged),
        Err(Error::Rejected { .. })
    ));
    t[1].store
        .import_bundle(&bundle)
        .expect("the genuine bundle still imports");
    assert_eq!(t[1].store.len(), 1);
}

#[test]
fn erasure_propagates_and_stale_devices_cannot_resurrect() {
    let mut t = team(3);
    let id = t[0].store.add_case(&edits(1)).expect("add");
    let all = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    t[1].store.import_bundle(&all).expect("b");
    t[2].store.import_bundle(&all).expect("c");
    // c edits the case offline; a erases it.
    t[2].store
        .update_case(&id, &[Edit::note("a late note from the field")])
        .expect("c edits");
    let stale = t[2]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("stale");
    t[0].store
        .erase_case(&id, ErasureReason::PersonRequested)
        .expect("erase");
    let erasure = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    let r = t[1].store.import_bundle(&erasure).expect("b");
    assert_eq!(r.cases_erased, 1);
    assert!(matches!(
        t[1].store.case(&id),
        Err(Error::CaseErased { .. })
    ));
    // The stale device's bundle does not bring it back anywhere.
    let r = t[0].store.import_bundle(&stale).expect("a");
    assert_eq!(r.ignored_erased, 1);
    assert!(matches!(
        t[0].store.case(&id),
        Err(Error::CaseErased { .. })
    ));
    // The stale device itself erases it when it syncs.
    t[2].store.import_bundle(&erasure).expect("c");
    assert!(matches!(
        t[2].store.case(&id),
        Err(Error::CaseErased { .. })
    ));
}

#[test]
fn bundles_apply_in_any_order_with_gaps_and_duplicates() {
    let mut t = team(2);
    let id = t[0].store.add_case(&edits(1)).expect("add");
    let first = t[0]
        .store
        .export_bundle(BundleScope::SinceLast("b".into()))
        .expect("1");
    t[0].store
        .update_case(&id, &[Edit::note("second step")])
        .expect("u");
    let second = t[0]
        .store
        .export_bundle(BundleScope::SinceLast("b".into()))
        .expect("2");
    t[0].store
        .update_case(&id, &[Edit::note("third step")])
        .expect("u");
    let third = t[0]
        .store
        .export_bundle(BundleScope::SinceLast("b".into()))
        .expect("3");
    // Out of order: the later bundles wait for the first.
    let r = t[1].store.import_bundle(&third).expect("3");
    assert_eq!(r.cases_waiting, 1);
    let r = t[1].store.import_bundle(&second).expect("2");
    assert_eq!(r.cases_waiting, 1);
    assert_eq!(t[1].store.len(), 0);
    t[1].store.import_bundle(&first).expect("1");
    t[1].store.import_bundle(&second).expect("dup");
    t[1].store.import_bundle(&third).expect("dup");
    assert_eq!(records(&mut t[0].store), records(&mut t[1].store));
    assert_eq!(t[1].store.case(&id).expect("case").notes.len(), 3);
}

#[test]
fn a_mailbox_folder_syncs_three_devices_and_forgets_erased_cases() {
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let id = t[0]
        .store
        .add_case(&[Edit::note("MAILBOXSENTINEL brick kiln")])
        .expect("add");
    t[1].store.add_case(&edits(2)).expect("add");
    for _ in 0..2 {
        for d in t.iter_mut() {
            d.store.sync_mailbox(folder.path()).expect("sync");
        }
    }
    let r0 = records(&mut t[0].store);
    assert_eq!(r0.len(), 2);
    assert_eq!(records(&mut t[1].store), r0);
    assert_eq!(records(&mut t[2].store), r0);
    // A second sync with nothing new writes nothing and reads nothing new.
    let quiet = t[2].store.sync_mailbox(folder.path()).expect("sync");
    assert_eq!((quiet.bundles_written, quiet.bundles_imported), (0, 0));
    // The folder holds ciphertext only.
    let scan = |needle: &[u8]| -> usize {
        let mut hits = 0;
        for sub in fs::read_dir(folder.path()).expect("dir").flatten() {
            for f in fs::read_dir(sub.path()).expect("dir").flatten() {
                let b = fs::read(f.path()).expect("read");
                hits += b.windows(needle.len()).filter(|w| *w == needle).count();
            }
        }
        hits
    };
    assert_eq!(scan(b"MAILBOXSENTINEL"), 0);
    assert_eq!(scan(id.to_hex().as_bytes()), 0);
    assert_eq!(scan(&id.0), 0);
    // Erase: after every device has synced, no bundle in the folder can bring it back.
    t[0].store
        .erase_case(&id, ErasureReason::EnteredInError)
        .expect("erase");
    for _ in 0..2 {
        for d in t.iter_mut() {
            d.store.sync_mailbox(folder.path()).expect("sync");
        }
    }
    for d in t.iter_mut() {
        assert!(matches!(d.store.case(&id), Err(Error::CaseErased { .. })));
    }
    let newcomer_key = t[0].store.group().expect("g").current_key().expect("k");
    let mut seen_erased_content = 0;
    for sub in fs::read_dir(folder.path()).expect("dir").flatten() {
        for f in fs::read_dir(sub.path()).expect("dir").flatten() {
            // Read receipts (section 15.2) hold no case.
            if f.path().extension().is_some_and(|e| e == "cvr") {
                continue;
            }
            let bytes = fs::read(f.path()).expect("read");
            let (_, payload) =
                crate::sync::open_message(&bytes, |_, _| Some(newcomer_key.clone())).expect("open");
            seen_erased_content += payload.cases.iter().filter(|c| c.case == id).count();
        }
    }
    assert_eq!(
        seen_erased_content, 0,
        "every outbox was rewritten without the erased case"
    );
    // A tampered file is refused by name and does not stop the sync.
    // A tampered file (planted in every outbox) is refused by name and does not stop the
    // sync; a device reads only the other two outboxes.
    for sub in fs::read_dir(folder.path()).expect("dir").flatten() {
        fs::write(sub.path().join("0999999999.cvb"), b"not a bundle").expect("write");
    }
    let r = t[2].store.sync_mailbox(folder.path()).expect("sync");
    assert_eq!(r.refused.len(), 2, "{:?}", r.refused);
}

#[test]
fn a_newcomer_can_sync_live_on_first_contact() {
    let mut a = device();
    let mut b = device();
    a.store.team_mut().create_group("Team", "A").expect("group");
    a.store.add_case(&edits(1)).expect("add");
    let inv = a
        .store
        .team_mut()
        .invite(crate::sync::Role::Coordinator)
        .expect("invite");
    b.store
        .team_mut()
        .join_group(inv.as_text(), "B")
        .expect("join");
    // b connects live before a has ever heard of it.
    let (sb, _) = live(&mut b.store, &mut a.store);
    assert_eq!(sb.report.cases_created, 1);
    assert_eq!(a.store.team().members().len(), 2);
    assert_eq!(records(&mut a.store), records(&mut b.store));
}

#[test]
fn replayed_or_misdirected_live_messages_are_refused() {
    let mut t = team(2);
    t[0].store.add_case(&edits(1)).expect("add");
    let (a, b) = t.split_at_mut(1);
    let (a, b) = (&mut a[0].store, &mut b[0].store);
    live(a, b);
    // Capture a first message, finish that session, then replay it into a new one.
    a.update_case(
        &a.list(&CaseFilter::default())[0].id.clone(),
        &[Edit::set(ScalarField::Gender, "Feminine")],
    )
    .expect("edit");
    let (_, captured) = a.live_start().expect("start");
    let mut s1 = b.live_accept().expect("accept");
    b.live_receive(&mut s1, &captured).expect("first delivery");
    let mut s2 = b.live_accept().expect("accept");
    let replay = b.live_receive(&mut s2, &captured);
    // A replayed first message starts a harmless new session (its changes are already
    // applied); a replayed reply inside a session is refused as out of order.
    if let Ok(Some(reply)) = replay {
        let mut s3 = b.live_accept().expect("accept");
        assert!(
            matches!(b.live_receive(&mut s3, &reply), Err(Error::Rejected { .. })),
            "own message"
        );
    }
    let (mut sa, m1) = a.live_start().expect("start");
    let mut sb = b.live_accept().expect("accept");
    let m2 = b.live_receive(&mut sb, &m1).expect("m1").expect("reply");
    assert!(
        matches!(a.live_receive(&mut sa, &m1), Err(Error::Rejected { .. })),
        "own message back"
    );
    let mut other = a.live_start().expect("another session").0;
    assert!(
        matches!(a.live_receive(&mut other, &m2), Err(Error::Rejected { .. })),
        "reply from another session"
    );
    a.live_receive(&mut sa, &m2).expect("the genuine reply");
    assert_eq!(records(a), records(b));
}

/// Every sync report says how many conflicts it created and which changes it dropped,
/// and why (issue 13, item 7).
#[test]
fn reports_count_conflicts_created_and_changes_dropped_with_reasons() {
    let mut t = team(2);
    let id = t[0].store.add_case(&edits(1)).expect("add");
    let other = t[0].store.add_case(&edits(2)).expect("add");
    let b = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("b");
    t[1].store.import_bundle(&b).expect("import");
    // Both edit one field while apart: one conflict, on the device that merges.
    t[0].store
        .update_case(&id, &[Edit::set(ScalarField::Gender, "Feminine")])
        .expect("a");
    t[1].store
        .update_case(&id, &[Edit::set(ScalarField::Gender, "Masculine")])
        .expect("b");
    // And device 1 adds to a case device 0 erases meanwhile.
    t[1].store
        .update_case(&other, &[Edit::set(ScalarField::CaseStatus, "Closed")])
        .expect("b");
    t[0].store
        .erase_case(&other, ErasureReason::EnteredInError)
        .expect("erase");
    let b = t[1]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("b");
    let r = t[0].store.import_bundle(&b).expect("import");
    assert_eq!(r.conflicts_created, 1, "{r:?}");
    assert!(r.changes_dropped >= 1, "{r:?}");
    assert!(r.dropped.iter().any(|d| d.contains("erased")), "{r:?}");
    // The same bundle again creates nothing new.
    let again = t[0].store.import_bundle(&b).expect("again");
    assert_eq!(again.conflicts_created, 0);
}

/// Red team round 3 (F1): names planted in this device's own outbox (a number past
/// u64, one at u64::MAX, full-width digits, a sign) neither panic the sync nor make it
/// start again at 1 and replace the device's first bundle.
#[test]
fn names_planted_in_a_devices_own_outbox_neither_panic_nor_replace_its_bundles() {
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    t[0].store.add_case(&edits(1)).expect("add");
    t[0].store.sync_mailbox(folder.path()).expect("first sync");
    let outbox = fs::read_dir(folder.path())
        .expect("dir")
        .flatten()
        .next()
        .expect("own outbox")
        .path();
    let first = outbox.join("0000000001.cvb");
    let first_bytes = fs::read(&first).expect("first bundle");
    for planted in [
        "18446744073709551615.cvb",
        "99999999999999999999999.cvb",
        "１２３.cvb",
        "+000000005.cvb",
    ] {
        fs::write(outbox.join(planted), b"planted").expect("plant");
    }
    let second = t[0].store.add_case(&edits(2)).expect("add");
    let report = t[0].store.sync_mailbox(folder.path()).expect("sync");
    assert_eq!(report.bundles_written, 1);
    assert_eq!(
        fs::read(&first).expect("first"),
        first_bytes,
        "first bundle intact"
    );
    assert!(outbox.join("0000000002.cvb").exists());
    t[1].store.sync_mailbox(folder.path()).expect("reader");
    assert_eq!(records(&mut t[1].store).len(), 2);
    assert!(t[1].store.case(&second).is_ok());
    // A planted 9999999999 cannot be followed: a typed refusal, nothing replaced.
    fs::write(outbox.join("9999999999.cvb"), b"planted").expect("plant");
    t[0].store.add_case(&edits(1)).expect("add");
    let err = t[0]
        .store
        .sync_mailbox(folder.path())
        .expect_err("cannot follow");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert_eq!(fs::read(&first).expect("first"), first_bytes);
}

/// Red team round 3 (F3): each mailbox place has its own position. A device that
/// synced through a USB stick and later through the team's server writes to the
/// server everything the stick got too, so a device reading only the server misses
/// nothing; after an erasure each place's outbox is rewritten when it is next synced.
#[test]
fn each_mailbox_place_gets_everything_whatever_went_to_another() {
    let mut t = team(3);
    let stick = tempfile::tempdir().expect("stick");
    let server = tempfile::tempdir().expect("server");
    let first = t[0].store.add_case(&edits(1)).expect("add");
    t[0].store.sync_mailbox(stick.path()).expect("stick");
    let second = t[0].store.add_case(&edits(2)).expect("add");
    t[0].store.sync_mailbox(server.path()).expect("server");
    t[1].store
        .sync_mailbox(server.path())
        .expect("reader of the server");
    assert!(
        t[1].store.case(&first).is_ok(),
        "what went to the stick reached the server"
    );
    assert!(t[1].store.case(&second).is_ok());
    // The same place named another way is one place: nothing new is written.
    let again = FsMailbox::new(
        server
            .path()
            .join(".")
            .join("..")
            .join(server.path().file_name().expect("name")),
    );
    let quiet = t[0]
        .store
        .sync_through(&again, &mut |_, _| true)
        .expect("same place");
    assert_eq!(quiet.bundles_written, 0);
    // A new stick at the same path (the folder emptied): everything is written again.
    let fresh = tempfile::tempdir().expect("a new stick");
    t[0].store.sync_mailbox(fresh.path()).expect("new stick");
    for e in fs::read_dir(fresh.path()).expect("dir").flatten() {
        fs::remove_dir_all(e.path()).expect("emptied");
    }
    let again = t[0]
        .store
        .sync_mailbox(fresh.path())
        .expect("same path, emptied");
    assert_eq!(again.bundles_written, 1);
    t[2].store
        .sync_mailbox(fresh.path())
        .expect("reader of the new stick");
    assert!(t[2].store.case(&first).is_ok() && t[2].store.case(&second).is_ok());
    // An erasure: the stick's outbox, synced after the server's, is rewritten too.
    t[0].store
        .erase_case(&first, ErasureReason::EnteredInError)
        .expect("erase");
    t[0].store.sync_mailbox(server.path()).expect("server");
    t[0].store.sync_mailbox(stick.path()).expect("stick");
    t[2].store
        .sync_mailbox(stick.path())
        .expect("reader of the stick");
    assert!(
        t[2].store.case(&first).is_err(),
        "no bundle left on the stick brings the erased case"
    );
}

/// F8 of the round-3 mailbox red team: a file listed and then gone before it is read
/// (its writer pruned its outbox meanwhile) stopped the whole mailbox sync.
#[test]
fn a_listed_file_gone_before_it_is_read_does_not_stop_the_sync() {
    use crate::store::{FsMailbox, Mailbox};
    struct Vanishing(FsMailbox);
    impl Mailbox for Vanishing {
        fn list(&self) -> Result<Vec<String>> {
            let mut all = self.0.list()?;
            // A file another device's outbox held a moment ago.
            all.push(format!("{}/0000000001.cvb", "a".repeat(32)));
            Ok(all)
        }
        fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
            self.0.read(path, limit)
        }
        fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
            self.0.write(path, bytes)
        }
        fn remove(&self, path: &str) -> Result<()> {
            self.0.remove(path)
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    let mut t = team(2);
    let folder = tempfile::tempdir().expect("mailbox");
    t[0].store.add_case(&edits(1)).expect("add");
    t[0].store.sync_mailbox(folder.path()).expect("sync");
    let vanishing = Vanishing(FsMailbox::new(folder.path()));
    let r = t[1]
        .store
        .sync_through(&vanishing, &mut |_, _| true)
        .expect("a vanished file is skipped");
    assert_eq!(r.bundles_imported, 1);
    assert_eq!(records(&mut t[1].store), records(&mut t[0].store));
}

/// Red team round 3, L4: a bundle whose first envelope (an admission update for another
/// device, which this device cannot open) was damaged is imported, but the skipped
/// envelope is reported, not silent; one under a key this device holds that fails is
/// tampering for sure and refused whole.
#[test]
fn an_envelope_this_device_cannot_open_is_reported() {
    let mut t = team(2);
    // A invites C, which joins; A admits it: A's bundles now begin with C's admission
    // update under C's welcome key, which B does not hold.
    let mut c = device();
    let inv = t[0]
        .store
        .team_mut()
        .invite(crate::sync::Role::FieldWorker)
        .expect("invite");
    c.store
        .team_mut()
        .join_group(inv.as_text(), "Device C")
        .expect("join");
    let join = c
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join");
    t[0].store.import_bundle(&join).expect("admit");
    t[0].store.add_case(&edits(1)).expect("add");
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let parts = crate::sync::envelope::split(&bundle).expect("split");
    assert_eq!(
        parts.len(),
        2,
        "an admission update, then the main envelope"
    );
    let first = parts[0].len();
    let mut tampered = bundle.clone();
    tampered[first - 3] ^= 0x40; // in the admission update's ciphertext
    let before = snapshot(&t[1].dir);
    let r = t[1].store.import_bundle(&tampered).expect("import");
    assert_eq!(r.cases_created, 1);
    assert_eq!(r.envelopes_unopened, 1);
    assert!(
        r.notices.iter().any(|n| n.contains(
            "1 envelope of this bundle could not be opened by this device (meant for another \
             device, or damaged)"
        )),
        "{:?}",
        r.notices
    );
    assert_ne!(before, snapshot(&t[1].dir));
    // The untampered bundle says the same: the two cannot be told apart.
    let r = t[1].store.import_bundle(&bundle).expect("again");
    assert_eq!(r.envelopes_unopened, 1);
    // The same damage in the main envelope (a key B holds) is refused, nothing changed.
    let mut bad_main = bundle.clone();
    let n = bad_main.len();
    bad_main[n - 3] ^= 0x40;
    let before = snapshot(&t[1].dir);
    let err = t[1].store.import_bundle(&bad_main).expect_err("tampered");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert_eq!(before, snapshot(&t[1].dir));
    // C, whose update it is, opens it (it is waiting for exactly this).
    let r = c.store.import_bundle(&bundle).expect("c admitted");
    assert_eq!(r.envelopes_unopened, 0);
}

/// Every file of a store directory and its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// The refusal frame of live sessions (protocol section 13.5): a second device on an
/// already-used invitation, and a revoked device, each get a clear typed error instead
/// of a closed connection, and the refusing store is unchanged.
#[test]
fn a_refused_live_session_says_why_and_changes_nothing() {
    use crate::error::LiveRefusal;
    let mut t = team(1);
    let inv = t[0]
        .store
        .team_mut()
        .invite(crate::sync::Role::FieldWorker)
        .expect("invite");
    let (mut b, mut e) = (device(), device());
    b.store
        .team_mut()
        .join_group(inv.as_text(), "Bakyt")
        .expect("b joins");
    e.store
        .team_mut()
        .join_group(inv.as_text(), "Eve")
        .expect("e joins");
    let join = b.store.export_bundle(BundleScope::Everything).expect("b");
    t[0].store.import_bundle(&join).expect("a admits b");

    // E, on the used invitation, starts a live session with A.
    let (mut se, first) = e.store.live_start().expect("e starts");
    let before = snapshot(&t[0].dir);
    let mut sa = t[0].store.live_accept().expect("accept");
    let err = t[0]
        .store
        .live_receive(&mut sa, &first)
        .expect_err("A refuses E");
    let frame = t[0]
        .store
        .live_refusal(&sa, &err)
        .expect("a refusal to send");
    assert_eq!(frame, LiveRefusal::NotAccepted.frame());
    assert_eq!(
        before,
        snapshot(&t[0].dir),
        "the refusing store is unchanged"
    );
    let e_before = snapshot(&e.dir);
    let got = e
        .store
        .live_receive(&mut se, &frame)
        .expect_err("E is refused");
    let text = got.to_string();
    assert!(
        matches!(
            got,
            Error::LiveRefused {
                reason: LiveRefusal::NotAccepted,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("the other device refused this live sync")
            && text.contains("used already by another device")
            && text.contains("Ask a coordinator for a new invitation"),
        "{text}"
    );
    assert_eq!(e_before, snapshot(&e.dir));
    // A refusal is not answered.
    assert_eq!(e.store.live_refusal(&se, &got), None);

    // A revoked device that has not heard of it: refused the same way, with its advice.
    let mut t = team(3);
    let c = t[2].store.team().device_id();
    t[0].store.team_mut().revoke(&c).expect("revoke");
    let (mut sc, first) = t[2].store.live_start().expect("c starts");
    let before = snapshot(&t[0].dir);
    let mut sa = t[0].store.live_accept().expect("accept");
    let err = t[0]
        .store
        .live_receive(&mut sa, &first)
        .expect_err("A refuses the revoked C");
    let frame = t[0].store.live_refusal(&sa, &err).expect("refusal");
    assert_eq!(before, snapshot(&t[0].dir));
    let got = t[2]
        .store
        .live_receive(&mut sc, &frame)
        .expect_err("C is refused")
        .to_string();
    assert!(got.contains("may have been revoked"), "{got}");
}

/// Red team round 5 F3: a bundle cut down to its key updates, or with its main envelope
/// moved before them, imported with exit 0 and no word (the key update was taken for
/// the main envelope). Now refused, typed, nothing changed.
#[test]
fn a_bundle_cut_down_to_its_key_updates_is_refused_unchanged() {
    let mut t = team(3);
    let gone = t[2].store.team().device_id();
    t[0].store
        .team_mut()
        .revoke(&gone)
        .expect("revoke: the key rotates");
    t[0].store.add_case(&edits(1)).expect("add");
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let parts = crate::sync::envelope::split(&bundle).expect("split");
    assert!(parts.len() >= 2, "key updates, then the main envelope");
    let main = parts.last().expect("main").to_vec();
    let updates: Vec<u8> = parts[..parts.len() - 1].concat();
    let reordered: Vec<u8> = [main.clone(), updates.clone()].concat();
    for (what, bytes) in [("cut down", updates), ("reordered", reordered)] {
        let before = snapshot(&t[1].dir);
        let err = t[1].store.import_bundle(&bytes).expect_err(what);
        assert!(
            matches!(&err, Error::Rejected { reason } if reason.contains("main part is missing")),
            "{what}: {err}"
        );
        assert_eq!(before, snapshot(&t[1].dir), "{what}: nothing changed");
    }
    let r = t[1].store.import_bundle(&bundle).expect("the whole bundle");
    assert_eq!(r.cases_created, 1);
}

/// Issue 17: a mailbox sync that stops early, cancelled between two bundles or failing
/// on a read, still says through [`Store::sync_through_into`] which cases the bundles
/// it imported before changed (they are durable), and nothing more.
#[test]
fn a_mailbox_sync_stopped_early_still_reports_what_it_imported() {
    use crate::store::{FsMailbox, Mailbox};
    /// Fails every read after the first.
    struct Failing(FsMailbox, std::cell::Cell<usize>);
    impl Mailbox for Failing {
        fn list(&self) -> Result<Vec<String>> {
            self.0.list()
        }
        fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
            self.1.set(self.1.get() + 1);
            if self.1.get() > 1 {
                return Err(Error::Io {
                    file: path.into(),
                    source: std::io::Error::other("the stick was pulled out"),
                });
            }
            self.0.read(path, limit)
        }
        fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
            self.0.write(path, bytes)
        }
        fn remove(&self, path: &str) -> Result<()> {
            self.0.remove(path)
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    let mut t = team(3);
    let folder = tempfile::tempdir().expect("mailbox");
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(t[0].store.add_case(&edits(n)).expect("add"));
        let r = t[0].store.sync_mailbox(folder.path()).expect("sync");
        assert_eq!(r.bundles_written, 1);
    }
    // Cancelled after the first of three bundles.
    let mut report = MailboxReport::default();
    let got = t[1].store.sync_through_into(
        &FsMailbox::new(folder.path()),
        &mut |done, _| done < 1,
        &mut report,
    );
    assert!(matches!(got, Err(Error::Cancelled)), "{got:?}");
    assert_eq!(report.bundles_imported, 1);
    assert_eq!(report.changes.changed, vec![ids[0]]);
    assert!(
        report.changes.team_changed,
        "device 1 learnt of device 2 with the first bundle"
    );
    assert_eq!(report.bundles_written, 0, "its own bundle is not written");
    // A read failing after the first bundle: the same (before device 1 writes a
    // bundle of everything that device 2 might read first).
    let mut report = MailboxReport::default();
    let failing = Failing(FsMailbox::new(folder.path()), Default::default());
    let got = t[2]
        .store
        .sync_through_into(&failing, &mut |_, _| true, &mut report);
    assert!(matches!(got, Err(Error::Io { .. })), "{got:?}");
    assert_eq!(report.changes.changed, vec![ids[0]]);
    // The rest is told by the next sync, once.
    let rest = t[1].store.sync_mailbox(folder.path()).expect("sync on");
    let mut later = ids[1..].to_vec();
    later.sort();
    assert_eq!(rest.changes.changed, later);
    assert!(!rest.changes.team_changed, "nothing new about the team");
}

/// Issue 17: a role changed by a coordinator is a team change in the report of the
/// device that learns it; a bundle carrying the same records again is not.
#[test]
fn a_role_change_learnt_by_sync_is_a_team_change() {
    let mut t = team(2);
    let b = t[1].store.team().device_id();
    t[0].store
        .team_mut()
        .set_role(&b, crate::sync::Role::FieldWorker)
        .expect("role");
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    let r = t[1].store.import_bundle(&bundle).expect("import");
    assert!(r.team_changed, "{r:?}");
    assert!(r.changed.is_empty());
    let again = t[1].store.import_bundle(&bundle).expect("again");
    assert!(!again.team_changed, "{again:?}");
    // A live session's last message: what it stored, case by case.
    let id = t[0].store.add_case(&edits(1)).expect("add");
    let (a, b) = t.split_at_mut(1);
    let (sa, sb) = live(&mut a[0].store, &mut b[0].store);
    assert_eq!(sb.report.changed, vec![id]);
    assert!(sa.report.changed.is_empty());
}
