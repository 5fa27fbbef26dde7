//! The red team's store attacks (findings F1, F2, F4, F13 of the issue-14 review),
//! replayed as they were made: the same damage, the same sequence of calls as the CLI.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::model::ScalarField;

fn key() -> StoreKey {
    StoreKey::from_bytes(&[42u8; 32]).expect("key")
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name() != "LOCK")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

fn flip(path: &Path, at: Option<usize>) {
    let mut b = fs::read(path).expect("read");
    let i = at.unwrap_or(b.len() / 2);
    b[i] ^= 0x10;
    fs::write(path, b).expect("write");
}

fn newest_pack(dir: &Path) -> String {
    snapshot(dir)
        .into_keys()
        .filter(|n| n.starts_with("pack-"))
        .max()
        .expect("a pack")
}

/// F2: a compaction (here: an erasure's) was interrupted after it wrote the new
/// generation and before it deleted the old one; then the new pack is damaged.
/// Reads must delete nothing and read every case from the intact old generation;
/// repair must keep the damaged pack aside and salvage from the old generation.
#[test]
fn damage_with_an_older_generation_present_deletes_nothing_and_salvages_it() {
    older_generation_survives(|pack| flip(pack, None));
}

/// R2-1 of the 2026-12-05 red team: the newest pack cut at a frame boundary (here
/// emptied, or cut after its first frame) authenticates to its end, yet lacks frames
/// the snapshot points to. That too must read from the older generation, and repair
/// must carry its cases over instead of deleting it.
#[test]
fn a_newest_pack_cut_at_a_frame_boundary_is_damage_and_the_older_generation_survives() {
    older_generation_survives(|pack| {
        OpenOptions::new()
            .write(true)
            .open(pack)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
    });
    older_generation_survives(|pack| {
        let bytes = fs::read(pack).expect("read");
        let first = format::frame_len(&bytes).expect("a first frame");
        assert!(first < bytes.len(), "the pack has more than one frame");
        OpenOptions::new()
            .write(true)
            .open(pack)
            .and_then(|f| f.set_len(first as u64))
            .expect("truncate");
    });
}

fn older_generation_survives(damage: impl Fn(&Path)) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let mut live = Vec::new();
    {
        let mut store = Store::create(&dir, &key()).expect("create");
        for _ in 0..10 {
            live.push(
                store
                    .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                    .expect("add"),
            );
        }
        store.compact_now().expect("compact");
        for _ in 0..5 {
            live.push(
                store
                    .add_case(&[Edit::set(ScalarField::Gender, "Masculine")])
                    .expect("add"),
            );
        }
    }
    let old = snapshot(&dir);
    {
        let mut store = Store::open(&dir, &key()).expect("open");
        let victim = live.remove(0);
        store
            .erase_case(&victim, ErasureReason::PersonRequested)
            .expect("erase");
    }
    // The old generation, as a crash during that compaction leaves it.
    for (name, bytes) in &old {
        if !dir.join(name).exists() {
            fs::write(dir.join(name), bytes).expect("restore");
        }
    }
    damage(&dir.join(newest_pack(&dir)));
    let before = snapshot(&dir);

    // `case list` / `case show` (a normal open).
    {
        let mut store = Store::open(&dir, &key()).expect("open");
        assert!(!store.damage().is_empty(), "the damage is reported");
        assert_eq!(store.len(), live.len());
        for id in &live {
            store
                .case(id)
                .expect("every case reads from the older generation");
        }
    }
    assert_eq!(snapshot(&dir), before, "a read deleted or changed a file");
    // `check`.
    {
        let store = Store::open_read_only(&dir, &key()).expect("open");
        let report = store.check();
        assert!(!report.damage.is_empty());
        assert!(report.unreadable_cases.is_empty(), "{report:?}");
    }
    assert_eq!(snapshot(&dir), before, "check deleted or changed a file");
    // `repair`.
    let report = Store::repair(&dir, &key()).expect("repair");
    assert!(report.lost_cases.is_empty(), "{report:?}");
    let pack = newest_pack_of(&before);
    assert_eq!(
        fs::read(dir.join(format!("damaged-{pack}"))).ok().as_ref(),
        before.get(&pack),
        "the damaged pack is kept aside as it was"
    );
    let mut store = Store::open(&dir, &key()).expect("open after repair");
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(store.len(), live.len());
    for id in &live {
        store.case(id).expect("salvaged");
    }
}

fn newest_pack_of(files: &BTreeMap<String, Vec<u8>>) -> String {
    files
        .keys()
        .filter(|n| n.starts_with("pack-"))
        .max()
        .expect("pack")
        .clone()
}

/// F1: the index is lost and the device record's frame does not authenticate. The
/// cases whose frames authenticate stay readable, no error names a missing file, and
/// repair writes a new device record (the store then takes writes).
#[test]
fn a_lost_index_and_a_damaged_device_record_cost_only_that_record() {
    for compacted in [false, true] {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("f1");
        let mut ids = Vec::new();
        {
            let mut store = Store::create(&dir, &key()).expect("create");
            for _ in 0..3 {
                ids.push(
                    store
                        .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                        .expect("add"),
                );
            }
            if compacted {
                store.compact_now().expect("compact");
            }
        }
        let (gen, file) = {
            let store = Store::open(&dir, &key()).expect("open");
            let gen = store.index.gen;
            let file = if compacted {
                files::pack_name(store.index.packs[0])
            } else {
                files::journal_name(gen)
            };
            (gen, file)
        };
        flip(&dir.join(&file), Some(10));
        fs::remove_file(dir.join(files::index_name(gen))).expect("rm index");
        let before = snapshot(&dir);
        let readable: Vec<CaseId> = {
            let mut store = Store::open(&dir, &key())
                .unwrap_or_else(|e| panic!("compacted={compacted}: open: {e}"));
            assert!(!store.damage().is_empty());
            let readable: Vec<CaseId> = ids
                .iter()
                .filter(|id| store.case(id).is_ok())
                .copied()
                .collect();
            if !compacted {
                assert_eq!(readable.len(), 3, "the case frames authenticate");
            }
            readable
        };
        assert_eq!(snapshot(&dir), before, "a read changed a file");
        let check = Store::open_read_only(&dir, &key()).expect("check").check();
        assert!(!check.damage.is_empty());
        let report = Store::repair(&dir, &key()).expect("repair");
        assert!(report.repaired);
        let mut store = Store::open(&dir, &key()).expect("open after repair");
        assert!(store.damage().is_empty(), "{:?}", store.damage());
        for id in &readable {
            store.case(id).expect("salvaged");
        }
        store
            .add_case(&[Edit::set(ScalarField::Gender, "Masculine")])
            .expect("writes after repair");
        let gen = store.index.gen;
        drop(store);
        // The device record is in the files again: the index alone does not hold it.
        fs::remove_file(dir.join(files::index_name(gen))).expect("rm index");
        let store = Store::open(&dir, &key()).expect("reopen");
        assert!(
            !store.damage().iter().any(|d| d.file == "device record"),
            "{:?}",
            store.damage()
        );
    }
}

/// F3: a write the CLI reported is confirmed by the end mark before the report, so
/// a process killed right after it (simulated: the directory copied while the store
/// is still open) cannot later lose that write to a flip taken for a torn write.
#[test]
fn a_confirmed_write_is_never_taken_for_a_torn_tail() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("f3");
    let killed = tmp.path().join("killed");
    {
        let mut store = Store::create(&dir, &key()).expect("create");
        for _ in 0..3 {
            store
                .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                .expect("add");
        }
    }
    let mut store = Store::open(&dir, &key()).expect("open");
    let fourth = store
        .add_case(&[Edit::set(ScalarField::Gender, "Masculine")])
        .expect("add");
    store.confirm().expect("confirm");
    let gen = store.index.gen;
    // kill -9 now: what is on disk is what the copy holds.
    fs::create_dir_all(&killed).expect("mkdir");
    for e in fs::read_dir(&dir).expect("ls").flatten() {
        fs::copy(e.path(), killed.join(e.file_name())).expect("copy");
    }
    drop(store);
    let journal = files::journal_name(gen);
    let mut b = fs::read(killed.join(&journal)).expect("journal");
    let len = b.len();
    b[len - 1] ^= 0x80;
    fs::write(killed.join(&journal), &b).expect("flip");
    let store = Store::open(&killed, &key()).expect("open");
    assert!(
        store.damage().iter().any(|d| d.records_lost > 0),
        "the lost case {} is reported: {:?}",
        fourth.short(),
        store.damage()
    );
    drop(store);
    assert_eq!(
        fs::read(killed.join(&journal)).expect("journal").len(),
        len,
        "a read truncated the journal"
    );
}

/// The end mark on disk confirms the whole journal as it is now.
fn assert_confirmed(store: &Store, what: &str) {
    let gen = store.index.gen;
    let journal = fs::metadata(store.dir.join(files::journal_name(gen)))
        .expect("journal")
        .len();
    let bytes = fs::read(store.dir.join(files::end_name(gen))).expect("end mark");
    let read = end_mark::parse(&store.sealer, gen, &bytes).expect("end mark opens");
    assert!(
        !read.bad_slot && !read.bad_ids,
        "both slots and the ids authenticate"
    );
    let mark: EndMark = read.mark;
    assert_eq!(
        (mark.len, mark.next_lsn),
        (journal, store.index.next_lsn),
        "after {what}, the end mark on disk does not confirm the journal: a kill now \
         would let a flipped tail pass for a torn write"
    );
    // F11: the ids it names, kept in place write by write, are exactly the cases
    // only the journal holds (what a scan of the index finds).
    assert_eq!(
        mark.journal_cases,
        store.journal_cases(),
        "after {what}, the end mark names other journal-only cases than the index holds"
    );
}

/// F3 for every write: each way a write reaches the journal (one record, an import,
/// a batch of sync records) confirms it in the end mark, durably, before the call
/// returns, so the CLI and the apps report success only after that (no `confirm()`
/// needed, no close).
#[test]
fn every_write_is_confirmed_on_disk_before_it_returns() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let mut store = Store::create(&dir, &key()).expect("create");
    assert_confirmed(&store, "create");
    let a = store
        .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
        .expect("add");
    assert_confirmed(&store, "add_case");
    store
        .add_case_once("req-1", &[Edit::set(ScalarField::Gender, "Masculine")])
        .expect("add once");
    assert_confirmed(&store, "add_case_once");
    store
        .update_case(&a, &[Edit::note("met at the shelter")])
        .expect("update");
    assert_confirmed(&store, "update_case");
    store
        .import(
            &vec![vec![Edit::set(ScalarField::Gender, "Feminine")]; 3],
            &mut |_, _| true,
        )
        .expect("import");
    assert_confirmed(&store, "import");
    store
        .team_mut()
        .create_group("team", "phone")
        .expect("group");
    assert_confirmed(&store, "create_group (a sync record batch)");
    store.set_privacy_ledger(b"ledger").expect("ledger");
    assert_confirmed(&store, "set_privacy_ledger");
    store
        .erase_case(&a, ErasureReason::EnteredInError)
        .expect("erase");
    assert_confirmed(&store, "erase_case (a compaction)");
}

/// F4: another store's header (same passphrase) copied over `caravan.hdr` made the
/// store unusable although `caravan.hdr2` was intact. The open now uses the copy
/// under which the store's files authenticate, reports the bad copy, and a repair
/// rewrites it.
#[test]
fn another_stores_header_over_one_copy_loses_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mine = tmp.path().join("mine");
    let other = tmp.path().join("other");
    let kdf = || KdfParams::with_memory_mib(8).expect("kdf");
    let pass = "same passphrase";
    let mut ids = Vec::new();
    {
        let mut store = Store::create_with_passphrase(&mine, pass, kdf()).expect("create");
        for _ in 0..3 {
            ids.push(
                store
                    .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                    .expect("add"),
            );
        }
        Store::create_with_passphrase(&other, pass, kdf()).expect("create other");
    }
    let good = fs::read(mine.join(format::HEADER_COPY_FILE)).expect("hdr2");
    fs::copy(
        other.join(format::HEADER_FILE),
        mine.join(format::HEADER_FILE),
    )
    .expect("copy the other header");
    let before = snapshot(&mine);
    {
        let mut store = Store::open_with_passphrase(&mine, pass).expect("opens");
        assert!(
            store
                .damage()
                .iter()
                .any(|d| d.file == format::HEADER_FILE && d.records_lost == 0),
            "the bad copy is reported: {:?}",
            store.damage()
        );
        for id in &ids {
            store.case(id).expect("every case reads");
        }
    }
    let store = Store::open_read_only_with_passphrase(&mine, pass).expect("opens read-only");
    assert!(!store.check().data_lost());
    drop(store);
    assert_eq!(snapshot(&mine), before, "reads changed nothing");
    let report = Store::repair_with_passphrase(&mine, pass).expect("repair");
    assert!(
        report.repaired && report.lost_cases.is_empty(),
        "{report:?}"
    );
    assert_eq!(fs::read(mine.join(format::HEADER_FILE)).expect("hdr"), good);
    let store = Store::open_with_passphrase(&mine, pass).expect("open");
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(store.len(), 3);
}

/// The end-mark file of a generation, its bytes.
fn end_file(store: &Store) -> (PathBuf, Vec<u8>) {
    let path = store.dir.join(files::end_name(store.index.gen));
    let bytes = fs::read(&path).expect("end mark");
    (path, bytes)
}

/// Format 6: a write confirms itself in place (the file is not replaced, one slot
/// changes), and a slot that does not authenticate is damage, whichever slot it is:
/// reported, nothing written, every case still read (the other slot confirms the
/// journal up to its mark).
#[cfg(unix)]
#[test]
fn the_end_mark_is_written_in_place_and_a_bad_slot_is_damage() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let mut store = Store::create(&dir, &key()).expect("create");
    let id = store.add_case(&[Edit::note("first")]).expect("add");
    let (path, before) = end_file(&store);
    let inode = fs::metadata(&path).expect("meta").ino();
    store
        .update_case(&id, &[Edit::note("second")])
        .expect("update");
    assert_eq!(
        fs::metadata(&path).expect("meta").ino(),
        inode,
        "rewritten, not in place"
    );
    let (_, after) = end_file(&store);
    assert_eq!(after.len(), before.len(), "an update adds no id record");
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    let slot_of = |i: usize| {
        format::END_SLOT_AT
            .iter()
            .position(|&at| (at..at + format::END_SLOT).contains(&(i as u64)))
    };
    let slot = slot_of(changed[0]).expect("a slot changed");
    assert!(
        changed.iter().all(|&i| slot_of(i) == Some(slot)),
        "one slot written"
    );
    drop(store);
    for victim in [slot, 1 - slot] {
        for at in [4, 40, format::END_SLOT as usize - 1] {
            let mut bad = after.clone();
            bad[format::END_SLOT_AT[victim] as usize + at] ^= 0x01;
            fs::write(&path, &bad).expect("write");
            let files_before = snapshot(&dir);
            let mut store = Store::open(&dir, &key()).expect("open with damage");
            assert!(
                store
                    .damage()
                    .iter()
                    .any(|d| d.file == files::end_name(0) && d.problem.contains("slot")),
                "slot {victim} byte {at}: a damaged slot passed unreported: {:?}",
                store.damage()
            );
            let notes: Vec<String> = store
                .case(&id)
                .expect("case")
                .notes
                .into_iter()
                .map(|n| n.text)
                .collect();
            assert_eq!(notes, ["first", "second"]);
            drop(store);
            assert_eq!(snapshot(&dir), files_before, "a read changed the store");
        }
    }
}

/// F11 through the ids appended after the slots: with the journal lost, the repair
/// names the cases only it held; a damaged id record is reported.
#[test]
fn a_damaged_record_of_journal_cases_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let mut store = Store::create(&dir, &key()).expect("create");
    let a = store.add_case(&[Edit::note("a")]).expect("add");
    let b = store.add_case(&[Edit::note("b")]).expect("add");
    let (_, bytes) = end_file(&store);
    assert!(bytes.len() as u64 > format::END_IDS_AT, "ids are recorded");
    let journal = dir.join(files::journal_name(store.index.gen));
    drop(store);
    // The journal lost whole: both cases are named as lost.
    fs::write(&journal, b"").expect("truncate");
    let report = Store::repair(&dir, &key()).expect("repair");
    let named: BTreeSet<CaseId> = report.lost_cases.iter().copied().collect();
    assert_eq!(named, BTreeSet::from([a, b]), "{report:?}");
    // Again with the id record damaged: that is reported as damage of the end mark.
    let tmp2 = tempfile::tempdir().expect("tmp");
    let dir2 = tmp2.path().join("s");
    let mut store = Store::create(&dir2, &key()).expect("create");
    store.add_case(&[Edit::note("a")]).expect("add");
    let (path2, mut bytes2) = end_file(&store);
    drop(store);
    let at = format::END_IDS_AT as usize + 20;
    bytes2[at] ^= 0x04;
    fs::write(&path2, &bytes2).expect("write");
    let store = Store::open(&dir2, &key()).expect("open with damage");
    assert!(
        store
            .damage()
            .iter()
            .any(|d| d.file == files::end_name(0) && d.problem.contains("held only by the journal")),
        "{:?}",
        store.damage()
    );
}

/// Stores written by the previous build (format 5: the end mark one sealed frame)
/// open, are confirmed by that mark (a flip in the confirmed journal is damage), and
/// are upgraded to format 6 by the first writable open.
#[test]
fn a_format_5_end_mark_is_read_and_upgraded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    let mut store = Store::create(&dir, &key()).expect("create");
    let id = store.add_case(&[Edit::note("kept")]).expect("add");
    let gen = store.index.gen;
    let old = EndMark {
        gen,
        len: store.journal.len,
        next_lsn: store.index.next_lsn,
        cases: Some(1),
        journal_cases: vec![id],
    };
    let frame = format::seal_frame(&store.sealer, format::CTX_END, &old).expect("seal");
    let header = Header {
        format: 5,
        ..store.header.clone()
    };
    let journal = dir.join(files::journal_name(gen));
    drop(store);
    fs::write(dir.join(files::end_name(gen)), &frame).expect("write");
    recovery::write_headers(&dir, &header).expect("headers");
    let files_before = snapshot(&dir);
    // A flip in the last (confirmed) frame is damage, not a torn write.
    flip(&journal, Some(fs::read(&journal).expect("j").len() - 3));
    let store = Store::open(&dir, &key()).expect("open with damage");
    assert!(
        !store.damage().is_empty(),
        "a format-5 mark confirmed nothing"
    );
    drop(store);
    for (name, bytes) in &files_before {
        fs::write(dir.join(name), bytes).expect("restore");
    }
    let mut store = Store::open(&dir, &key()).expect("open format 5");
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(store.case(&id).expect("case").notes[0].text, "kept");
    assert_eq!(store.header.format, FORMAT_VERSION);
    assert_confirmed(&store, "the upgrade");
    let (_, bytes) = end_file(&store);
    assert!(
        bytes.starts_with(format::END_MAGIC),
        "the mark was not rewritten"
    );
}

/// F13 of the issue-14 review: a forged frame length of 250 MiB after the journal's
/// acknowledged bytes, in a sparse 200 MiB journal, cost a read of the whole file
/// and a try at every offset (164 s, 535 MB in `check`). The length runs past the
/// end of the file: the rest is a torn write at once, and neither opening, `check`
/// nor a list reads the sparse bytes or tries their offsets. The same forged length
/// inside the acknowledged bytes is damage, and the frames after it are still found
/// (the search for them stays within the acknowledged bytes).
#[test]
fn a_forged_frame_length_costs_neither_memory_nor_a_scan_of_every_offset() {
    use super::recovery::SCAN_COST;
    let cost = || SCAN_COST.with(|c| c.replace((0, 0)));
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("f13");
    let mut ids = Vec::new();
    {
        let mut store = Store::create(&dir, &key()).expect("create");
        for _ in 0..5 {
            ids.push(
                store
                    .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                    .expect("add"),
            );
        }
    }
    let store = Store::open_read_only(&dir, &key()).expect("open");
    let journal = store.dir.join(store.journal.name());
    drop(store);
    let acknowledged = fs::metadata(&journal).expect("journal").len();
    let healthy = fs::read(&journal).expect("journal");
    // A forged length, then a hole up to 200 MiB: the file is sparse.
    let sparse = 200u64 << 20;
    {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("open");
        f.write_all(&(250u32 << 20).to_le_bytes()).expect("write");
        f.set_len(sparse).expect("sparse");
    }
    cost();
    let store = Store::open_read_only(&dir, &key()).expect("open");
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    let report = store.check();
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert!(store.verify_cases(&ids).is_empty(), "every case reads");
    assert_eq!(store.index.cases.len(), 5);
    let (probes, read) = cost();
    assert_eq!(probes, 0, "no offset of the sparse tail was tried");
    assert!(
        read <= 2 * acknowledged,
        "{read} bytes read for a {acknowledged}-byte journal (opened and checked once each)"
    );
    drop(store);
    assert_eq!(
        fs::metadata(&journal).expect("j").len(),
        sparse,
        "reads cut nothing"
    );
    // A writable open cuts the torn write and keeps every case.
    let store = Store::open(&dir, &key()).expect("open");
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(store.index.cases.len(), 5);
    drop(store);
    assert_eq!(fs::metadata(&journal).expect("j").len(), acknowledged);

    // The same length forged over the first frame's: damage inside the acknowledged
    // bytes, reported; the other frames are found by a search bounded by them.
    let mut forged = healthy.clone();
    forged[..4].copy_from_slice(&(250u32 << 20).to_le_bytes());
    fs::write(&journal, &forged).expect("write");
    OpenOptions::new()
        .write(true)
        .open(&journal)
        .and_then(|f| f.set_len(sparse))
        .expect("sparse");
    cost();
    let store = Store::open_read_only(&dir, &key()).expect("open");
    assert!(
        store
            .damage()
            .iter()
            .any(|d| d.problem.contains("bytes 0..") && d.problem.contains("valid frames follow")),
        "the first frame is reported: {:?}",
        store.damage()
    );
    assert!(
        store.index.cases.len() >= 4,
        "the frames after it are found: {}",
        store.index.cases.len()
    );
    let (probes, read) = cost();
    assert!(probes < acknowledged, "{probes} offsets tried");
    assert!(read <= acknowledged, "{read} bytes read");
}
