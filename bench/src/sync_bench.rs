//! `caravan-bench sync`: Caravan's sync against plain Automerge sync of the same cases
//! held in one document, measured in the same run.
//!
//! - `first_sync_*`: a live session between a device holding every case and an empty
//!   device of the same team, run to completion (all messages, both directions,
//!   including the empty device's durable commit); baseline: `automerge::sync` between
//!   the single baseline document and an empty one, fresh sync states. Both run
//!   `--rounds` times, alternating (each round a new empty device or document, so that a
//!   slower spell of the machine hits both alike); the times are the medians.
//! - `edit_sync_*`: one field of one case edited, then a live session between peers
//!   that synced before; baseline: the same edit, synced with the persisted
//!   `sync::State`s of the first sync.
//! - `edit_bundle_bytes`: a store-and-forward bundle ("since last") carrying that edit.
//! - `day_bundle_bytes`: 20 edits across 10 cases, one "since last" bundle.
//! - `ingest_10k_ms`: a third, empty device importing one bundle of every case.
//! - `edit_sync_bytes_after_rotations`, `edit_bundle_bytes_after_rotations`: the edit
//!   sync and the one-edit "since last" bundle again, after `rotations` (5) key
//!   rotations (five devices joined and revoked), once the peer (or the bundle target)
//!   has caught up with them: what a rotation costs every later sync.

use std::time::Instant;

use automerge::sync::{State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc, ROOT};
use caravan_core::{BundleScope, CaseFilter, Edit, ScalarField, SetField, Store, StoreKey};
use serde::Serialize;

use crate::synth::{SplitMix64, SynthCase};

/// Everything `sync` measures (times in ms, sizes in bytes).
#[derive(Serialize, Debug)]
struct SyncReport {
    cases: usize,
    first_sync_bytes: usize,
    first_sync_messages: usize,
    first_sync_ms: f64,
    baseline_first_sync_bytes: usize,
    baseline_first_sync_messages: usize,
    baseline_first_sync_ms: f64,
    first_sync_bytes_vs_baseline: f64,
    first_sync_ms_vs_baseline: f64,
    first_sync_rounds: usize,
    first_sync_ms_each: Vec<f64>,
    baseline_first_sync_ms_each: Vec<f64>,
    edit_sync_bytes: usize,
    edit_sync_messages: usize,
    edit_sync_ms: f64,
    baseline_edit_sync_bytes: usize,
    baseline_edit_sync_messages: usize,
    edit_bundle_bytes: usize,
    day_bundle_bytes: usize,
    ingest_10k_ms: f64,
    ingest_bundle_bytes: usize,
    rotations: usize,
    edit_sync_bytes_after_rotations: usize,
    edit_bundle_bytes_after_rotations: usize,
}

/// Key rotations before the `*_after_rotations` figures.
const ROTATIONS: usize = 5;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Runs a live session to completion; returns (messages, bytes).
fn live(a: &mut Store, b: &mut Store) -> Result<(usize, usize), String> {
    let e = |e: caravan_core::Error| e.to_string();
    let (mut sa, mut msg) = a.live_start().map_err(e)?;
    let mut sb = b.live_accept().map_err(e)?;
    while let Some(reply) = b.live_receive(&mut sb, &msg).map_err(e)? {
        match a.live_receive(&mut sa, &reply).map_err(e)? {
            Some(r) => msg = r,
            None => break,
        }
    }
    Ok((
        sa.messages_sent + sa.messages_received,
        sa.bytes_sent + sa.bytes_received,
    ))
}

/// Plain Automerge sync until quiet; returns (messages, bytes).
fn am_sync(
    a: &mut AutoCommit,
    b: &mut AutoCommit,
    sa: &mut State,
    sb: &mut State,
) -> Result<(usize, usize), String> {
    let (mut msgs, mut bytes) = (0, 0);
    loop {
        let mut quiet = true;
        if let Some(m) = a.sync().generate_sync_message(sa) {
            let enc = m.encode();
            bytes += enc.len();
            msgs += 1;
            quiet = false;
            let m = automerge::sync::Message::decode(&enc).map_err(|e| e.to_string())?;
            b.sync()
                .receive_sync_message(sb, m)
                .map_err(|e| e.to_string())?;
        }
        if let Some(m) = b.sync().generate_sync_message(sb) {
            let enc = m.encode();
            bytes += enc.len();
            msgs += 1;
            quiet = false;
            let m = automerge::sync::Message::decode(&enc).map_err(|e| e.to_string())?;
            a.sync()
                .receive_sync_message(sa, m)
                .map_err(|e| e.to_string())?;
        }
        if quiet {
            return Ok((msgs, bytes));
        }
    }
}

/// The median of `v` (not empty).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    }
}

/// Runs the sync benchmark.
pub(crate) fn run(n: usize, seed: u64, rounds: usize, json: bool) -> Result<(), String> {
    let rounds = rounds.max(1);
    let e = |e: caravan_core::Error| e.to_string();
    let mut rng = SplitMix64::new(seed);
    let synth: Vec<SynthCase> = (0..n).map(|_| SynthCase::generate(&mut rng)).collect();
    let edits: Vec<Vec<Edit>> = synth.iter().map(SynthCase::edits).collect();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mk = |name: &str| {
        Store::create(tmp.path().join(name), &StoreKey::generate().map_err(e)?).map_err(e)
    };
    let (mut a, mut c) = (mk("a")?, mk("c")?);
    a.team_mut().create_group("Bench team", "A").map_err(e)?;
    eprintln!("importing {n} cases …");
    a.import(&edits, &mut |_, _| true).map_err(e)?;
    c.team_mut()
        .join_group(
            a.team_mut()
                .invite(caravan_core::sync::Role::Coordinator)
                .map_err(e)?
                .as_text(),
            "C",
        )
        .map_err(e)?;
    // Its join reaches A (the invitation carries no key); A's bundle later admits it.
    let join = c.export_bundle(BundleScope::Everything).map_err(e)?;
    a.import_bundle(&join).map_err(e)?;

    eprintln!("baseline document …");
    let (mut base_a, _) = crate::baseline::build(&synth, 1_700_000_000_000, &mut |_| {})
        .map_err(|e| e.to_string())?;
    let mut first_each = Vec::new();
    let mut base_each = Vec::new();
    let mut last = None;
    for round in 1..=rounds {
        eprintln!("first sync, round {round} of {rounds} …");
        let mut b = mk(&format!("b{round}"))?;
        b.team_mut()
            .join_group(
                a.team_mut()
                    .invite(caravan_core::sync::Role::Coordinator)
                    .map_err(e)?
                    .as_text(),
                "B",
            )
            .map_err(e)?;
        let t = Instant::now();
        let (msgs, bytes) = live(&mut b, &mut a)?;
        first_each.push(ms(t));
        if b.len() != n {
            return Err(format!(
                "first sync left {} of {n} cases on the empty device",
                b.len()
            ));
        }
        let mut base_b = AutoCommit::new();
        let (mut sa, mut sb) = (State::new(), State::new());
        let t = Instant::now();
        let (base_msgs, base_bytes) = am_sync(&mut base_a, &mut base_b, &mut sa, &mut sb)?;
        base_each.push(ms(t));
        // The last round's devices go on to the edit sync.
        last = Some((b, (msgs, bytes), base_b, (sa, sb), (base_msgs, base_bytes)));
    }
    let Some((mut b, (first_msgs, first_bytes), mut base_b, (mut sa, mut sb), base_first)) = last
    else {
        return Err("no round ran".into());
    };
    let (base_first_msgs, base_first_bytes) = base_first;
    let (first_ms, base_first_ms) = (median(&first_each), median(&base_each));

    eprintln!("edit sync …");
    let ids: Vec<_> = a
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    a.update_case(&ids[0], &[Edit::set(ScalarField::CaseStatus, "Closed")])
        .map_err(e)?;
    let t = Instant::now();
    let (edit_msgs, edit_bytes) = live(&mut a, &mut b)?;
    let edit_ms = ms(t);
    let case0 = match base_a.get(ROOT, "0").map_err(|e| e.to_string())? {
        Some((_, id)) => id,
        None => return Err("baseline document lacks case 0".into()),
    };
    base_a
        .put(&case0, "case_status", "Closed")
        .map_err(|e| e.to_string())?;
    base_a.commit();
    let (base_edit_msgs, base_edit_bytes) = am_sync(&mut base_a, &mut base_b, &mut sa, &mut sb)?;

    eprintln!("bundles …");
    a.export_bundle(BundleScope::SinceLast("usb".into()))
        .map_err(e)?;
    a.update_case(&ids[1], &[Edit::set(ScalarField::CaseStatus, "FollowUp")])
        .map_err(e)?;
    let edit_bundle = a
        .export_bundle(BundleScope::SinceLast("usb".into()))
        .map_err(e)?;
    for (i, id) in ids.iter().skip(2).take(10).enumerate() {
        a.update_case(
            id,
            &[Edit::set(
                ScalarField::CaseStatus,
                if i % 2 == 0 { "Active" } else { "FollowUp" },
            )],
        )
        .map_err(e)?;
        a.update_case(
            id,
            &[Edit::add(SetField::MeansOfControl, "ExcessiveWorkingHours")],
        )
        .map_err(e)?;
    }
    let day_bundle = a
        .export_bundle(BundleScope::SinceLast("usb".into()))
        .map_err(e)?;

    eprintln!("ingest …");
    let everything = a.export_bundle(BundleScope::Everything).map_err(e)?;
    let t = Instant::now();
    c.import_bundle(&everything).map_err(e)?;
    let ingest_10k_ms = ms(t);
    if c.len() != n {
        return Err(format!("ingest left {} of {n} cases", c.len()));
    }

    eprintln!("{ROTATIONS} rotations …");
    for i in 0..ROTATIONS {
        let mut x = mk(&format!("x{i}"))?;
        x.team_mut()
            .join_group(
                a.team_mut()
                    .invite(caravan_core::sync::Role::FieldWorker)
                    .map_err(e)?
                    .as_text(),
                "X",
            )
            .map_err(e)?;
        let join = x.export_bundle(BundleScope::Everything).map_err(e)?;
        a.import_bundle(&join).map_err(e)?;
        a.team_mut().revoke(&x.team().device_id()).map_err(e)?;
    }
    if a.team().key_epoch() != Some(ROTATIONS as u32) {
        return Err(format!(
            "{:?} rotations, not {ROTATIONS}",
            a.team().key_epoch()
        ));
    }
    // The peer and the bundle target catch up once with the rotations...
    live(&mut a, &mut b)?;
    a.export_bundle(BundleScope::SinceLast("usb".into()))
        .map_err(e)?;
    // ...then one edit, synced live and as a bundle.
    a.update_case(&ids[2], &[Edit::set(ScalarField::CaseStatus, "Closed")])
        .map_err(e)?;
    let (_, edit_bytes_rot) = live(&mut a, &mut b)?;
    if b.team().key_epoch() != Some(ROTATIONS as u32) {
        return Err("the peer did not get the rotated key".into());
    }
    a.update_case(&ids[3], &[Edit::set(ScalarField::CaseStatus, "Closed")])
        .map_err(e)?;
    let edit_bundle_rot = a
        .export_bundle(BundleScope::SinceLast("usb".into()))
        .map_err(e)?;

    let r = SyncReport {
        cases: n,
        first_sync_bytes: first_bytes,
        first_sync_messages: first_msgs,
        first_sync_ms: first_ms,
        baseline_first_sync_bytes: base_first_bytes,
        baseline_first_sync_messages: base_first_msgs,
        baseline_first_sync_ms: base_first_ms,
        first_sync_bytes_vs_baseline: first_bytes as f64 / base_first_bytes.max(1) as f64,
        first_sync_ms_vs_baseline: first_ms / base_first_ms.max(1e-9),
        first_sync_rounds: rounds,
        first_sync_ms_each: first_each,
        baseline_first_sync_ms_each: base_each,
        edit_sync_bytes: edit_bytes,
        edit_sync_messages: edit_msgs,
        edit_sync_ms: edit_ms,
        baseline_edit_sync_bytes: base_edit_bytes,
        baseline_edit_sync_messages: base_edit_msgs,
        edit_bundle_bytes: edit_bundle.len(),
        day_bundle_bytes: day_bundle.len(),
        ingest_10k_ms,
        ingest_bundle_bytes: everything.len(),
        rotations: ROTATIONS,
        edit_sync_bytes_after_rotations: edit_bytes_rot,
        edit_bundle_bytes_after_rotations: edit_bundle_rot.len(),
    };
    if json {
        println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
    } else {
        let check = |ok: bool| if ok { "PASS" } else { "MISS" };
        println!("sync benchmark, {n} cases");
        println!("  first sync      {:>10} B {:>9.1} ms  baseline {:>10} B {:>9.1} ms  ratio {:.2}× / {:.2}×  [{} ≤ 2× bytes, {} ≤ 2× time; medians of {} rounds]",
            r.first_sync_bytes, r.first_sync_ms, r.baseline_first_sync_bytes, r.baseline_first_sync_ms,
            r.first_sync_bytes_vs_baseline, r.first_sync_ms_vs_baseline,
            check(r.first_sync_bytes_vs_baseline <= 2.0), check(r.first_sync_ms_vs_baseline <= 2.0), r.first_sync_rounds);
        println!("  edit sync       {:>10} B in {} messages (baseline {} B in {})  [{} ≤ 1,500 B in ≤ 2]",
            r.edit_sync_bytes, r.edit_sync_messages, r.baseline_edit_sync_bytes, r.baseline_edit_sync_messages,
            check(r.edit_sync_bytes <= 1500 && r.edit_sync_messages <= 2));
        println!(
            "  edit bundle     {:>10} B  [{} ≤ 1,000]",
            r.edit_bundle_bytes,
            check(r.edit_bundle_bytes <= 1000)
        );
        println!(
            "  after {} rotations: edit sync {} B [{} ≤ 1,500], edit bundle {} B [{} ≤ 1,000]",
            r.rotations,
            r.edit_sync_bytes_after_rotations,
            check(r.edit_sync_bytes_after_rotations <= 1500),
            r.edit_bundle_bytes_after_rotations,
            check(r.edit_bundle_bytes_after_rotations <= 1000)
        );
        println!(
            "  day bundle      {:>10} B  [{} ≤ 4,000]",
            r.day_bundle_bytes,
            check(r.day_bundle_bytes <= 4000)
        );
        println!(
            "  ingest          {:>10.1} ms for a {} B bundle",
            r.ingest_10k_ms, r.ingest_bundle_bytes
        );
    }
    Ok(())
}
