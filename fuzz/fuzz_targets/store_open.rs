//! Fuzz target: opening a store from arbitrary files never panics, never loses the
//! rule "reads never rewrite a damaged file", and every case either reads or fails
//! with a typed error. The first input byte picks a file of a genuine store (header,
//! header copy, index, journal, end mark, pack); with the top bit clear the rest of the
//! input is XORed over that file (so most inputs keep the framing and reach the
//! authentication and recovery logic), with it set the rest replaces the file.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use caravan_core::{CaseFilter, Edit, Error, ScalarField, Store, StoreKey};
use libfuzzer_sys::fuzz_target;

struct Genuine {
    key: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
}

fn genuine() -> &'static Genuine {
    static G: OnceLock<Genuine> = OnceLock::new();
    G.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("s");
        let key = [5u8; 32];
        let mut store = Store::create(&dir, &StoreKey::from_bytes(&key).expect("key")).expect("create");
        for n in 0..4 {
            let id = store.add_case(&[Edit::set(ScalarField::CaseStatus, "Active")]).expect("add");
            store.update_case(&id, &[Edit::note(format!("note {n}"))]).expect("note");
            if n == 1 {
                store.compact_now().expect("compact");
            }
        }
        drop(store);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("ls")
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read")))
            .filter(|(n, _)| n != "LOCK")
            .collect();
        files.sort();
        Genuine { key: key.to_vec(), files }
    })
}

fn snapshot(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read")))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let g = genuine();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("s");
    std::fs::create_dir(&dir).expect("mkdir");
    let target = usize::from(pick & 0x7f) % g.files.len();
    for (i, (name, bytes)) in g.files.iter().enumerate() {
        let mut bytes = bytes.clone();
        if i == target {
            if pick & 0x80 != 0 {
                bytes = rest.to_vec();
            } else if !bytes.is_empty() {
                let n = bytes.len();
                for (j, b) in rest.iter().enumerate() {
                    bytes[j % n] ^= b;
                }
            }
        }
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    let key = StoreKey::from_bytes(&g.key).expect("key");
    let before = snapshot(&dir);
    let Ok(mut store) = Store::open(&dir, &key) else { return };
    let damaged = !store.damage().is_empty();
    let ids: Vec<_> = store.list(&CaseFilter::default()).iter().map(|s| s.id).collect();
    for id in ids {
        match store.case(&id) {
            Ok(_) | Err(Error::Corrupted { .. }) => {}
            Err(e) => panic!("reading a listed case failed with {e}"),
        }
    }
    let _ = store.check();
    drop(store);
    if damaged {
        let after = snapshot(&dir);
        for (name, bytes) in &before {
            assert_eq!(after.get(name), Some(bytes), "a read of a damaged store changed {name}");
        }
    }
});
