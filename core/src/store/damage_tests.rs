//! The damage matrix: every kind of store file × every kind of damage × every stage of
//! compaction. For each: no panic; every acknowledged record is readable or reported
//! lost; nothing is silently missing; reads leave the damaged file as it is; `check`
//! reports what is lost and `repair` leaves a healthy store holding everything that
//! was readable.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::*;
use crate::model::ScalarField;

/// The cases of a store and the notes each was acknowledged with.
type Model = BTreeMap<CaseId, Vec<String>>;

#[derive(Clone, Copy, Debug)]
enum Hit {
    FlipHead,
    FlipMiddle,
    FlipTail,
    Random,
    TruncateZero,
    TruncateHalf,
    TruncateOne,
    Delete,
}

const HITS: [Hit; 8] = [
    Hit::FlipHead,
    Hit::FlipMiddle,
    Hit::FlipTail,
    Hit::Random,
    Hit::TruncateZero,
    Hit::TruncateHalf,
    Hit::TruncateOne,
    Hit::Delete,
];

fn key() -> StoreKey {
    StoreKey::from_bytes(&[42u8; 32]).expect("key")
}

fn add(store: &mut Store, model: &mut Model, n: usize) {
    let id = store
        .add_case(&[Edit::set(ScalarField::CaseStatus, "Active")])
        .expect("add");
    let note = format!("note {n}");
    store.update_case(&id, &[Edit::note(&note)]).expect("note");
    model.insert(id, vec![note]);
}

/// A case of one record (no note): damage to that record loses the case whole.
fn add_bare(store: &mut Store, model: &mut Model) {
    let id = store
        .add_case(&[Edit::set(ScalarField::CaseStatus, "Closed")])
        .expect("add");
    model.insert(id, Vec::new());
}

/// Builds the store of one stage in `dir`; returns what was acknowledged.
fn build(dir: &Path, stage: &str) -> Model {
    let mut model = Model::new();
    let mut store = Store::create(dir, &key()).expect("create");
    for n in 0..6 {
        add(&mut store, &mut model, n);
    }
    // The privacy ledger is a store file too (R2-4 of the 2026-12-05 red team).
    store
        .set_privacy_ledger(b"{\"spent\":1.5}")
        .expect("ledger");
    if stage == "journal only" {
        add_bare(&mut store, &mut model);
        return model;
    }
    let gen = store.index.gen;
    let old: Vec<(String, Vec<u8>)> = [
        files::journal_name(gen),
        files::index_name(gen),
        files::end_name(gen),
    ]
    .into_iter()
    .filter_map(|n| fs::read(dir.join(&n)).ok().map(|b| (n, b)))
    .collect();
    store.compact_now().expect("compact");
    add_bare(&mut store, &mut model);
    if stage == "two journal generations" {
        // A compaction interrupted before it deleted the old generation.
        drop(store);
        for (name, bytes) in old {
            fs::write(dir.join(name), bytes).expect("restore");
        }
        return model;
    }
    for n in 6..9 {
        add(&mut store, &mut model, n);
    }
    model
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("ls").flatten() {
        fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// Applies `hit` to `path`; false if it does not apply (an empty file).
fn damage(path: &Path, hit: Hit, seed: u64) -> bool {
    let mut bytes = fs::read(path).expect("read");
    let len = bytes.len();
    if len == 0 && !matches!(hit, Hit::Delete) {
        return false;
    }
    match hit {
        Hit::FlipHead => bytes[0] ^= 0x01,
        Hit::FlipMiddle => bytes[len / 2] ^= 0x10,
        Hit::FlipTail => bytes[len - 1] ^= 0x80,
        Hit::Random => {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let at = (x as usize) % len;
            for b in bytes.iter_mut().skip(at).take(16) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b ^= (x as u8) | 1;
            }
        }
        Hit::TruncateZero => bytes.clear(),
        Hit::TruncateHalf => bytes.truncate(len / 2),
        Hit::TruncateOne => bytes.truncate(len - 1),
        Hit::Delete => {
            fs::remove_file(path).expect("delete");
            return true;
        }
    }
    fs::write(path, bytes).expect("write");
    true
}

/// What one cell of the matrix found.
#[derive(Default, Debug)]
struct Outcome {
    intact: bool,
    lost_reported: u64,
    missing: u64,
}

/// Opens the damaged store, reads everything, and checks the rules. Panics with
/// `label` on a broken rule.
fn examine(dir: &Path, damaged: &str, hit: Hit, model: &Model, label: &str) -> Outcome {
    let before = snapshot(dir);
    let mut out = Outcome::default();
    let mut store = match Store::open(dir, &key()) {
        Ok(s) => s,
        // One damaged file never keeps the store closed: each header has a copy, the
        // index is rebuilt, and the other files lose only what they held.
        Err(e) => panic!("{label}: the store does not open: {e}"),
    };
    let listed: Vec<CaseId> = store
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    let mut missing = 0u64;
    let mut unreadable = 0u64;
    for (id, notes) in model {
        if !listed.contains(id) {
            missing += 1 + notes.len() as u64;
            continue;
        }
        match store.case(id) {
            Ok(record) => {
                let have: Vec<String> = record.notes.into_iter().map(|n| n.text).collect();
                missing += notes.iter().filter(|n| !have.contains(n)).count() as u64;
            }
            Err(Error::Corrupted { .. }) => unreadable += 1,
            Err(e) => panic!("{label}: reading a case failed with {e}"),
        }
    }
    let report = store.check();
    let reported: u64 = store.damage().iter().map(|d| d.records_lost).sum();
    out.lost_reported = reported + unreadable;
    out.missing = missing;
    assert!(
        missing <= reported,
        "{label}: {missing} acknowledged record(s) missing, {reported} reported lost: {:?}",
        store.damage()
    );
    if missing + unreadable > 0 {
        assert!(
            report.data_lost(),
            "{label}: check does not report the loss"
        );
    }
    // Loss stays local: a flip costs at most the two frames it may touch (journal
    // frames here hold one record), and files that hold no unique data (headers, the
    // index, end marks, the lock) cost nothing.
    let journal = damaged.starts_with("journal-");
    if journal
        && matches!(
            hit,
            Hit::FlipHead | Hit::FlipMiddle | Hit::FlipTail | Hit::Random
        )
    {
        assert!(missing <= 2, "{label}: one flip cost {missing} records");
    }
    if !journal && !damaged.starts_with("pack-") {
        assert_eq!(
            missing + unreadable,
            0,
            "{label}: lost data to damage of a copy"
        );
    }
    out.intact = missing + unreadable == 0;
    if damaged == privacy_ledger::LEDGER_FILE {
        // Never silently "no ledger" (a reset budget): `check` names it as data lost,
        // and the exports see it damaged or lost.
        assert!(
            report
                .damage
                .iter()
                .any(|d| d.file == damaged && d.records_lost > 0)
                && report.data_lost(),
            "{label}: check does not report the ledger: {:?}",
            report.damage
        );
        assert!(
            matches!(
                store.privacy_ledger_state(),
                Ok(LedgerState::Damaged { .. } | LedgerState::Lost { .. })
            ),
            "{label}: {:?}",
            store.privacy_ledger_state()
        );
    }
    drop(store);
    let after = snapshot(dir);
    // The damaged file is as it was after the damage (unless it is an older
    // generation's leftover, which an open of a healthy generation deletes).
    if let Some(was) = before.get(damaged) {
        let stale_leftover = !store_generation_file(dir, damaged);
        match after.get(damaged) {
            Some(now) => assert_eq!(now, was, "{label}: a read changed the damaged file"),
            None => assert!(stale_leftover, "{label}: a read deleted the damaged file"),
        }
    }
    out
}

/// Whether `name` belongs to the newest generation (or is not a generation file).
fn store_generation_file(dir: &Path, name: &str) -> bool {
    let newest = snapshot(dir)
        .keys()
        .filter_map(|n| match FileName::parse(n) {
            Some(FileName::Index(g)) | Some(FileName::Journal(g)) => Some(g),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    match FileName::parse(name) {
        Some(FileName::Index(g)) | Some(FileName::Journal(g)) | Some(FileName::End(g)) => {
            g >= newest
        }
        _ => true,
    }
}

/// After `repair`, the store opens without damage, takes writes, and every case that
/// was readable before still reads the same.
fn repair_and_verify(dir: &Path, model: &Model, label: &str) -> u64 {
    let readable: BTreeMap<CaseId, Vec<String>> = match Store::open(dir, &key()) {
        Ok(mut s) => model
            .keys()
            .filter_map(|id| {
                s.case(id)
                    .ok()
                    .map(|r| (*id, r.notes.into_iter().map(|n| n.text).collect()))
            })
            .collect(),
        Err(_) => return 0,
    };
    let present = snapshot(dir);
    let report = Store::repair(dir, &key()).unwrap_or_else(|e| panic!("{label}: repair: {e}"));
    let mut store = Store::open(dir, &key()).expect("open after repair");
    assert!(
        store.damage().is_empty(),
        "{label}: damage after repair: {:?} (repair: {report:?})",
        store.damage()
    );
    // F11: the cases gone are exactly those the repair names, plus the count it
    // gives of cases whose ids no authentic file holds.
    let after: BTreeSet<CaseId> = store
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    let gone: BTreeSet<CaseId> = model
        .keys()
        .filter(|id| !after.contains(id))
        .copied()
        .collect();
    let named: BTreeSet<CaseId> = report.lost_cases.iter().copied().collect();
    assert!(
        named.is_subset(&gone),
        "{label}: repair names cases that are still there: {named:?} vs gone {gone:?}"
    );
    assert_eq!(
        gone.len() as u64,
        named.len() as u64 + report.lost_unnamed,
        "{label}: {} case(s) gone, repair reports {} by id and {} without (gone {gone:?})",
        gone.len(),
        named.len(),
        report.lost_unnamed
    );
    assert!(
        after.iter().all(|id| model.contains_key(id)),
        "{label}: a case appeared"
    );
    for (id, notes) in &readable {
        let have: Vec<String> = store
            .case(id)
            .unwrap_or_else(|e| panic!("{label}: case lost by repair: {e}"))
            .notes
            .into_iter()
            .map(|n| n.text)
            .collect();
        assert_eq!(&have, notes, "{label}: repair changed a case");
    }
    // The ledger is never reset by damage or a repair: whole, or lost until the data
    // officer restarts it.
    assert!(
        matches!(
            store.privacy_ledger_state(),
            Ok(LedgerState::Present(_) | LedgerState::Lost { .. })
        ),
        "{label}: ledger after repair: {:?}",
        store.privacy_ledger_state()
    );
    store
        .add_case(&[Edit::set(ScalarField::CaseStatus, "Closed")])
        .unwrap_or_else(|e| panic!("{label}: no writes after repair: {e}"));
    for d in &report.found.damage {
        if let Some(bytes) = present.get(&d.file) {
            let aside = fs::read(dir.join(format!("{}{}", files::DAMAGED_PREFIX, d.file)));
            assert_eq!(
                aside.ok().as_ref(),
                Some(bytes),
                "{label}: {} was not kept aside as it was",
                d.file
            );
        }
    }
    gone.len() as u64
}

#[test]
fn damage_matrix() {
    let stages = [
        "journal only",
        "after a compaction",
        "two journal generations",
    ];
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cells = 0;
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (s, stage) in stages.iter().enumerate() {
        let pristine = tmp.path().join(format!("pristine-{s}"));
        let model = build(&pristine, stage);
        let names: Vec<String> = snapshot(&pristine).into_keys().collect();
        for name in &names {
            for (h, hit) in HITS.iter().enumerate() {
                let dir = tmp.path().join(format!("cell-{s}-{name}-{h}"));
                copy_dir(&pristine, &dir);
                if !damage(&dir.join(name), *hit, (s * 100 + h) as u64) {
                    fs::remove_dir_all(&dir).ok();
                    continue;
                }
                let label = format!("{stage} / {name} / {hit:?}");
                let out = examine(&dir, name, *hit, &model, &label);
                let gone = repair_and_verify(&dir, &model, &label);
                cells += 1;
                *totals.entry("cells").or_default() += 1;
                *totals
                    .entry(if out.intact {
                        "opened, everything readable"
                    } else {
                        "opened, losses reported"
                    })
                    .or_default() += 1;
                *totals.entry("records missing").or_default() += out.missing;
                *totals.entry("records reported lost").or_default() += out.lost_reported;
                *totals.entry("cases gone after repair").or_default() += gone;
                fs::remove_dir_all(&dir).ok();
            }
        }
    }
    eprintln!("damage matrix: {totals:?}");
    assert!(cells >= 150, "only {cells} cells ran");
}
