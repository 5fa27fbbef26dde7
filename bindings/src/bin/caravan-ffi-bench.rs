//! The Rust side of the FFI benchmark (`bindings/bench.sh`): the same calls the
//! Kotlin and Python benchmarks make through the bindings, made directly on
//! `caravan_core::Store`, so the difference is the cost of crossing the FFI.
//!
//! `caravan-ffi-bench [--cases 10000] [--adds 1000] [--rounds 30] DIR` prints one line:
//! `rust list_ms=<median> add_ms=<total> list_only_ms=<median> wrapped_list_ms=<median>
//! lowered_list_ms=<median>`.
//!
//! `list_ms` is one whole listing: `Store::list` and freeing the summaries it returned,
//! as the exported call does inside (its Rust side frees the core's summaries before it
//! returns, so a Rust time without the freeing would leave out work that the Kotlin and
//! Python times include). `list_only_ms` is `Store::list` alone, the summaries freed
//! after the clock stopped (how this benchmark measured until 2026-12-02).
//! `wrapped_list_ms` is the exported `CaravanStore::list_cases` called from Rust (the
//! binding's conversion to `CaseSummary` records, no FFI crossing), records freed;
//! `lowered_list_ms` serialises the records into the buffer that crosses the FFI instead
//! and frees that, which is all the Rust side of the exported call. What remains of the
//! Kotlin and Python times is the crossing and the decoding on their side.

use std::time::Instant;

use caravan_core::{CaseFilter, Edit, ScalarField, SetField, Store, StoreKey, YearMonth};

/// The case every benchmark adds (same edits in Kotlin and Python).
fn edits(i: usize) -> Vec<Edit> {
    let countries = ["KZ", "KG", "TJ", "UZ", "TM"];
    vec![
        Edit::set(
            ScalarField::Gender,
            if i.is_multiple_of(2) {
                "Feminine"
            } else {
                "Masculine"
            },
        ),
        Edit::set(ScalarField::AgeBand, "18-20"),
        Edit::add(SetField::Citizenship, countries[i % countries.len()]),
        Edit::add(SetField::Exploitation, "ForcedLabour"),
        Edit::add(SetField::MeansOfControl, "DebtBondage"),
        Edit::AddRouteEvent {
            kind: "Exploitation".into(),
            country: "RU".into(),
            when: YearMonth::new(2024, Some(5)).ok(),
        },
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cases = 10_000;
    let mut adds = 1_000;
    let mut rounds = 30;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || -> Result<usize, Box<dyn std::error::Error>> {
            Ok(args.next().ok_or("missing number")?.parse()?)
        };
        match a.as_str() {
            "--cases" => cases = num()?,
            "--adds" => adds = num()?,
            "--rounds" => rounds = num()?,
            other => dir = Some(std::path::PathBuf::from(other)),
        }
    }
    let dir = dir.ok_or("usage: caravan-ffi-bench [--cases N] [--adds N] [--rounds N] DIR")?;
    let key = StoreKey::generate()?;

    // Listing: a store of `cases` cases, imported in bulk, listed `rounds` times.
    let mut store = Store::create(dir.join("list"), &key)?;
    let batch: Vec<Vec<Edit>> = (0..cases).map(edits).collect();
    store.import(&batch, &mut |_, _| true)?;
    let filter = CaseFilter::default();
    let (mut times, mut only) = (Vec::new(), Vec::new());
    for round in 0..rounds + 5 {
        // A whole listing: the summaries are read, then freed.
        let t = Instant::now();
        let list = store.list(&filter);
        let listed = list.len();
        drop(list);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(listed, cases);
        // The listing alone, freed after the clock stopped.
        let t = Instant::now();
        let list = store.list(&filter);
        let only_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(list.len(), cases);
        drop(list);
        if round >= 5 {
            times.push(ms);
            only.push(only_ms);
        }
    }
    let list_ms = median(times);
    let list_only_ms = median(only);
    drop(store);

    // The same listing through the exported wrapper, still in Rust (no FFI crossing).
    let wrapped = caravan_ffi::CaravanStore::open(
        dir.join("list").display().to_string(),
        key.expose_bytes().to_vec(),
    )?;
    let everything = caravan_ffi::CaseListFilter::default();
    let mut times = Vec::new();
    for round in 0..rounds + 5 {
        let t = Instant::now();
        let list = wrapped.list_cases(everything.clone())?;
        let listed = list.len();
        drop(list);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(listed, cases);
        if round >= 5 {
            times.push(ms);
        }
    }
    let wrapped_list_ms = median(times);

    // ... and also serialised into the buffer that crosses the FFI, then freed: all the
    // work the exported call does on the Rust side.
    let mut times = Vec::new();
    for round in 0..rounds + 5 {
        let t = Instant::now();
        let list = wrapped.list_cases(everything.clone())?;
        let buffer =
            <Vec<caravan_ffi::CaseSummary> as uniffi::Lower<caravan_ffi::UniFfiTag>>::lower(list);
        let bytes = buffer.len();
        buffer.destroy();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(bytes > cases);
        if round >= 5 {
            times.push(ms);
        }
    }
    let lowered_list_ms = median(times);
    wrapped.close_store();

    // Adding: `adds` cases one call each (each is durable: one fsync per case).
    let mut store = Store::create(dir.join("add"), &key)?;
    let t = Instant::now();
    for i in 0..adds {
        store.add_case(&edits(i))?;
    }
    let add_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "rust list_ms={list_ms:.3} add_ms={add_ms:.1} list_only_ms={list_only_ms:.3} \
         wrapped_list_ms={wrapped_list_ms:.3} lowered_list_ms={lowered_list_ms:.3}"
    );
    Ok(())
}
