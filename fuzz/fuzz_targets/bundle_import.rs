//! Fuzz target: importing arbitrary bytes as a bundle never panics, and a refused
//! bundle leaves the store unchanged. Inputs starting with 0x01 are a genuine bundle
//! (from the corpus) with the rest of the input XORed over it, so the fuzzer also
//! explores bytes that get past the envelope.
#![no_main]

use std::sync::{Mutex, OnceLock};

use caravan_core::sync::Role;
use caravan_core::{BundleScope, Edit, SetField, Store, StoreKey};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    store: Store,
    genuine: Vec<u8>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let (da, db) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
        let mut a = Store::create(da.path().join("s"), &StoreKey::generate().expect("key")).expect("a");
        let mut b = Store::create(db.path().join("s"), &StoreKey::generate().expect("key")).expect("b");
        a.team_mut().create_group("Fuzz", "A").expect("group");
        b.team_mut().join_group(a.team_mut().invite(Role::Coordinator).expect("invite").as_text(), "B").expect("join");
        a.add_case(&[Edit::add(SetField::Citizenship, "KZ"), Edit::note("a plain note")]).expect("add");
        let genuine = a.export_bundle(BundleScope::Everything).expect("bundle");
        Mutex::new(Fixture { store: b, genuine, _dirs: (da, db) })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut f = fixture().lock().expect("lock");
    let input: Vec<u8> = match data.split_first() {
        Some((1, rest)) => {
            let mut g = f.genuine.clone();
            for (i, b) in rest.iter().enumerate() {
                let n = g.len();
                g[i % n] ^= b;
            }
            g
        }
        _ => data.to_vec(),
    };
    let before = f.store.len();
    if f.store.import_bundle(&input).is_err() {
        assert_eq!(f.store.len(), before, "a refused bundle changed the store");
    }
});
