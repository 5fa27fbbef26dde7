//! Convergence of a team of devices under every sync path, with an unreliable transport.
//!
//! Two property-based tests drive 3–5 real stores (in temporary directories) through a
//! random sequence of steps:
//!
//! - local edits on a random device: add a case, set a single-valued field, add or
//!   remove a set code, add a note, and (rarely) erase a case;
//! - live sessions between two devices, run to completion, or cut after a few
//!   messages (a dropped connection);
//! - bundles (`Everything` or `SinceLast(receiver)`) that are delivered, lost,
//!   imported twice, or held back and delivered later in a shuffled order;
//! - bundles carried by QR frames (`max_frame` 200) that are shuffled, partly shown
//!   twice and partly never scanned (an incomplete scan imports nothing);
//! - chains of `SinceLast` bundles, one after each edit, delivered shuffled and lossy.
//!
//! Transport failures are modelled by the test: the stores must accept every genuine
//! message. Along the way, re-importing a bundle must change nothing, and a finished
//! live session must leave both devices identical (unless one may hold parked changes).
//! After a final full mesh (every device sends `Everything` to every other, twice;
//! the second round must change nothing) and the late delivery of any bundle still held
//! back (stale: must change nothing), every device lists the same cases with equal
//! `CaseRecord`s, and the acknowledged edits are all there: exactly the created cases
//! minus the erased ones, erased cases erased (with a tombstone) everywhere, exactly the
//! acknowledged notes on each case, every added set code that no device ever removed,
//! no set code that was never added, and single-valued fields holding a value some
//! device set.
//!
//! The "cold" team is set up as the apps do it (each joiner's first bundle reaches the
//! creator only); in the "warm" team every member already knows every other.
//!
//! Another test checks that everything a transport carries (bundle files, QR frames,
//! live-session messages, the store's own mailbox folder) is ciphertext: no note text,
//! partner name, case id, group name or device name appears in clear.
//!
//! `CONVERGENCE_CASES=n` runs `n` cases per property instead of 24, and
//! `CONVERGENCE_STEPS=n` allows up to `n` steps instead of 40. Failing seeds are
//! saved in `convergence.proptest-regressions` and replayed first. Only the public API
//! of `caravan-core` is used.

use std::collections::{BTreeMap, BTreeSet};

use caravan_core::sync::qr;
use caravan_core::vocab::{ErasureReason, Vocabulary};
use caravan_core::{
    BundleScope, CaseFilter, CaseId, CaseRecord, Edit, Error, ScalarField, SetField, Store,
    StoreKey, SyncReport,
};
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, FileFailurePersistence, TestCaseError, TestRunner,
};

// ----- the team ----------------------------------------------------------------------

const GROUP_NAME: &str = "Southern Crossing Team";

struct Device {
    _tmp: tempfile::TempDir,
    store: Store,
    /// The name other devices use for this one in `BundleScope::SinceLast`.
    name: String,
    /// Whether an import ever left changes waiting here (they may still be parked).
    parked: bool,
}

fn device(i: usize) -> Device {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("store"), &key).expect("create store");
    Device {
        _tmp: tmp,
        store,
        name: format!("device {}", letters(i as u64)),
        parked: false,
    }
}

/// How much the members know about each other when the random steps begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// As an app sets a team up: each joiner's first bundle reaches the creator and the
    /// creator's answer admits it, so the creator knows everyone and a joiner knows the
    /// creator and earlier joiners.
    Cold,
    /// As `Cold`, then the creator's bundle reaches every joiner: everyone knows everyone.
    Warm,
}

/// A team of `n` devices: the first creates the group, the others join by invitation.
fn team(n: usize, setup: Setup) -> Vec<Device> {
    let mut devices: Vec<Device> = (0..n).map(device).collect();
    devices[0]
        .store
        .team_mut()
        .create_group(GROUP_NAME, "Coordinator phone")
        .expect("create group");
    for i in 1..n {
        let invitation = devices[0]
            .store
            .team_mut()
            .invite(caravan_core::sync::Role::Coordinator)
            .expect("invite");
        let name = format!("Outreach phone {}", letters(i as u64));
        devices[i]
            .store
            .team_mut()
            .join_group(invitation.as_text(), &name)
            .expect("join");
        let hello = devices[i]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("hello");
        devices[0]
            .store
            .import_bundle(&hello)
            .expect("creator learns of the joiner");
        // The creator admits it; its reply hands over the key (the in-person exchange
        // of decision 0016).
        let reply = devices[0]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("reply");
        devices[i]
            .store
            .import_bundle(&reply)
            .expect("joiner is admitted");
    }
    if setup == Setup::Warm {
        let roster = devices[0]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("roster");
        for d in &mut devices[1..] {
            d.store
                .import_bundle(&roster)
                .expect("joiner learns of the team");
        }
    }
    devices
}

/// Two distinct devices of the team, mutably.
fn pair(devices: &mut [Device], a: usize, b: usize) -> (&mut Device, &mut Device) {
    assert_ne!(a, b);
    if a < b {
        let (x, y) = devices.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = devices.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

/// Encodes `n` in lower-case letters (notes are screened for digit runs).
fn letters(mut n: u64) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

fn ids(store: &Store) -> Vec<CaseId> {
    let mut v: Vec<CaseId> = store
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    v.sort();
    v
}

fn records(store: &mut Store) -> Result<Vec<CaseRecord>, String> {
    ids(store)
        .iter()
        .map(|id| {
            store
                .case(id)
                .map_err(|e| format!("case {} is listed but does not read: {e}", id.to_hex()))
        })
        .collect()
}

// ----- transports ----------------------------------------------------------------------

/// Runs a live session between `a` (initiator) and `b`. With `cut: Some(k)` the
/// connection drops once `k` messages have been delivered (`0`: even the first one is
/// lost). Returns whether it finished, and what each side did. Every message sent is
/// appended to `wire`.
fn live_session(
    a: &mut Store,
    b: &mut Store,
    cut: Option<usize>,
    wire: &mut Vec<Vec<u8>>,
) -> Result<(bool, SyncReport, SyncReport), String> {
    let (mut sa, mut msg) = a.live_start().map_err(|e| format!("live_start: {e}"))?;
    let mut sb = b.live_accept().map_err(|e| format!("live_accept: {e}"))?;
    let mut delivered = 0;
    loop {
        wire.push(msg.clone());
        if cut == Some(delivered) {
            return Ok((false, sa.report, sb.report));
        }
        delivered += 1;
        let (side, result) = if delivered % 2 == 1 {
            ("responder", b.live_receive(&mut sb, &msg))
        } else {
            ("initiator", a.live_receive(&mut sa, &msg))
        };
        match result {
            Ok(Some(reply)) => msg = reply,
            Ok(None) => break,
            Err(e) => return Err(format!("the {side} refused live message {delivered}: {e}")),
        }
        if delivered > 16 {
            return Err("the live session goes on after 16 messages".into());
        }
    }
    if !(sa.is_done() && sb.is_done()) {
        return Err(format!(
            "live session did not finish (initiator done: {}, responder done: {})",
            sa.is_done(),
            sb.is_done()
        ));
    }
    Ok((true, sa.report, sb.report))
}

/// Runs a live session between `a` (initiator) and `b` to completion.
fn live(a: &mut Store, b: &mut Store, wire: &mut Vec<Vec<u8>>) -> Result<(), String> {
    live_session(a, b, None, wire).map(|_| ())
}

fn import(d: &mut Device, bundle: &[u8], what: &str) -> Result<SyncReport, String> {
    let r = d
        .store
        .import_bundle(bundle)
        .map_err(|e| format!("a genuine bundle was refused ({what}): {e}"))?;
    if r.cases_waiting > 0 {
        d.parked = true;
        bump(Count::Waiting);
    }
    Ok(r)
}

/// A tiny deterministic generator for the transport's random choices (seeded by the
/// strategy, so a failing case replays exactly).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Carries `bundle` over QR frames of at most `max_frame` bytes: the frames are
/// shuffled, some are shown twice and, with `drop_percent`, some are never scanned.
/// Returns the bundle if the scan completed.
fn qr_transfer(
    bundle: &[u8],
    max_frame: usize,
    drop_percent: u64,
    rng: &mut Rng,
) -> Result<Option<Vec<u8>>, String> {
    let frames = qr::split(bundle, max_frame).map_err(|e| format!("qr split: {e}"))?;
    let mut shown: Vec<&Vec<u8>> = Vec::new();
    for f in &frames {
        if !rng.chance(drop_percent) {
            shown.push(f);
        }
        if rng.chance(25) {
            shown.push(f);
        }
    }
    rng.shuffle(&mut shown);
    let mut scanner = qr::Reassembler::new();
    for f in shown {
        scanner
            .push(f)
            .map_err(|e| format!("a genuine qr frame was refused: {e}"))?;
    }
    if !scanner.is_complete() {
        return Ok(None);
    }
    scanner
        .finish()
        .map(Some)
        .map_err(|e| format!("a complete qr scan did not reassemble: {e}"))
}

// ----- steps ---------------------------------------------------------------------------

/// Single-valued fields and codes the edits choose from (few, so edits collide).
const SCALARS: &[(ScalarField, &[&str])] = &[
    (ScalarField::CaseStatus, &["Active", "FollowUp", "Closed"]),
    (ScalarField::Gender, &["Feminine", "Masculine"]),
    (ScalarField::AgeBand, &["18-20", "21-23"]),
];

/// Set-valued fields and codes the edits choose from.
const SETS: &[(SetField, &[&str])] = &[
    (
        SetField::MeansOfControl,
        &["DebtBondage", "PhysicalThreats", "FalsePromises"],
    ),
    (SetField::Citizenship, &["KZ", "KG", "TJ"]),
];

/// A local edit; `case` picks one of the device's cases (modulo their number).
#[derive(Clone, Debug)]
enum EditOp {
    AddCase {
        scalar: Option<(u8, u8)>,
        code: Option<(u8, u8)>,
        note: bool,
    },
    Set {
        case: u8,
        field: u8,
        code: u8,
    },
    Add {
        case: u8,
        field: u8,
        code: u8,
    },
    Remove {
        case: u8,
        field: u8,
        code: u8,
    },
    Note {
        case: u8,
    },
    Erase {
        case: u8,
    },
}

/// What the transport does to a bundle.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Deliver,
    Lose,
    Duplicate,
    /// Held in the receiver's queue; a later `Flush` delivers the queue shuffled.
    Delay,
}

/// One step; device numbers are taken modulo the team size, and a receiver equal to
/// the sender is moved to the next device.
#[derive(Clone, Debug)]
enum Step {
    Edit {
        on: u8,
        op: EditOp,
    },
    /// A live session; with `cut: Some(k)` the connection drops after `k` messages.
    Live {
        from: u8,
        to: u8,
        cut: Option<u8>,
    },
    Bundle {
        from: u8,
        to: u8,
        since_last: bool,
        fate: Fate,
    },
    Qr {
        from: u8,
        to: u8,
        since_last: bool,
        drop_percent: u8,
        seed: u64,
    },
    Flush {
        to: u8,
        seed: u64,
    },
    /// The sender edits and exports a `SinceLast` bundle after each edit; the chain
    /// reaches the receiver shuffled, with `drop_percent` of the bundles lost.
    Chain {
        from: u8,
        to: u8,
        edits: Vec<EditOp>,
        drop_percent: u8,
        seed: u64,
    },
}

fn edit_op() -> impl Strategy<Value = EditOp> {
    let scalar = (0..SCALARS.len() as u8, 0..3u8);
    let set = (0..SETS.len() as u8, 0..3u8);
    prop_oneof![
        4 => (proptest::option::of(scalar.clone()), proptest::option::of(set.clone()), any::<bool>())
            .prop_map(|(scalar, code, note)| EditOp::AddCase { scalar, code, note }),
        4 => (any::<u8>(), scalar).prop_map(|(case, (field, code))| EditOp::Set { case, field, code }),
        4 => (any::<u8>(), set.clone()).prop_map(|(case, (field, code))| EditOp::Add { case, field, code }),
        2 => (any::<u8>(), set).prop_map(|(case, (field, code))| EditOp::Remove { case, field, code }),
        4 => any::<u8>().prop_map(|case| EditOp::Note { case }),
        1 => any::<u8>().prop_map(|case| EditOp::Erase { case }),
    ]
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        3 => Just(Fate::Deliver),
        1 => Just(Fate::Lose),
        1 => Just(Fate::Duplicate),
        2 => Just(Fate::Delay),
    ]
}

/// The traffic of a scenario: how often each kind of step comes up.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// A bit of everything.
    Mixed,
    /// Mostly live sessions (and the membership and peer-state logic they rely on).
    Live,
    /// Bundles and QR codes only: nothing but store-and-forward repairs losses.
    Bundles,
}

fn step(mix: Mix) -> impl Strategy<Value = Step> {
    let dev = || 0..5u8;
    // Weights of: edit, live, bundle, qr, flush, chain.
    let weights: [u32; 6] = match mix {
        Mix::Mixed => [10, 3, 4, 2, 1, 1],
        Mix::Live => [6, 8, 1, 1, 1, 0],
        Mix::Bundles => [8, 0, 5, 3, 2, 2],
    };
    let options: [BoxedStrategy<Step>; 6] = [
        (dev(), edit_op())
            .prop_map(|(on, op)| Step::Edit { on, op })
            .boxed(),
        (
            dev(),
            dev(),
            prop_oneof![4 => Just(None), 1 => (0..4u8).prop_map(Some)],
        )
            .prop_map(|(from, to, cut)| Step::Live { from, to, cut })
            .boxed(),
        (dev(), dev(), any::<bool>(), fate())
            .prop_map(|(from, to, since_last, fate)| Step::Bundle {
                from,
                to,
                since_last,
                fate,
            })
            .boxed(),
        (
            dev(),
            dev(),
            any::<bool>(),
            prop_oneof![Just(0u8), Just(5), Just(30)],
            any::<u64>(),
        )
            .prop_map(|(from, to, since_last, drop_percent, seed)| Step::Qr {
                from,
                to,
                since_last,
                drop_percent,
                seed,
            })
            .boxed(),
        (dev(), any::<u64>())
            .prop_map(|(to, seed)| Step::Flush { to, seed })
            .boxed(),
        (
            dev(),
            dev(),
            proptest::collection::vec(edit_op(), 2..5),
            prop_oneof![Just(0u8), Just(30)],
            any::<u64>(),
        )
            .prop_map(|(from, to, edits, drop_percent, seed)| Step::Chain {
                from,
                to,
                edits,
                drop_percent,
                seed,
            })
            .boxed(),
    ];
    proptest::strategy::Union::new_weighted(
        weights
            .into_iter()
            .zip(options)
            .filter(|(w, _)| *w > 0)
            .collect(),
    )
}

/// A number from the environment variable `name`, or `default`.
fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A team size, the traffic mix and up to 40 steps (`CONVERGENCE_STEPS` to change).
fn scenario() -> impl Strategy<Value = (usize, Mix, Vec<Step>)> {
    let max_steps = env_or("CONVERGENCE_STEPS", 40).max(1);
    (
        3..=5usize,
        prop_oneof![Just(Mix::Mixed), Just(Mix::Live), Just(Mix::Bundles)],
    )
        .prop_flat_map(move |(n, mix)| {
            (
                Just(n),
                Just(mix),
                proptest::collection::vec(step(mix), 1..=max_steps),
            )
        })
}

// ----- what the devices acknowledged ---------------------------------------------------

/// Every edit a store acknowledged (returned `Ok` for), to check against at the end.
#[derive(Default)]
struct Model {
    created: BTreeSet<CaseId>,
    erased: BTreeSet<CaseId>,
    /// Note texts per case (each text is unique in a run).
    notes: BTreeMap<CaseId, Vec<String>>,
    /// (case, set field index, code) ever added / ever removed, on any device.
    added: BTreeSet<(CaseId, usize, String)>,
    removed: BTreeSet<(CaseId, usize, String)>,
    /// Codes ever set per (case, scalar field index).
    scalars: BTreeMap<(CaseId, usize), BTreeSet<String>>,
    next_note: u64,
}

impl Model {
    fn note_text(&mut self) -> String {
        self.next_note += 1;
        format!(
            "Met at the shelter, entry {}; documents kept by the employer.",
            letters(self.next_note)
        )
    }
}

/// What the property exercised, counted per test thread (printed with `--nocapture`).
#[derive(Clone, Copy)]
enum Count {
    Edits,
    Erasures,
    Live,
    LiveCut,
    Delivered,
    Lost,
    Duplicated,
    Delayed,
    QrComplete,
    QrIncomplete,
    Waiting,
}

const COUNT_NAMES: [&str; 11] = [
    "edits",
    "erasures",
    "live sessions",
    "cut",
    "bundles delivered",
    "lost",
    "duplicated",
    "delayed",
    "qr scans complete",
    "qr scans incomplete",
    "imports leaving changes waiting",
];

thread_local! {
    static COUNTS: std::cell::RefCell<[usize; 11]> = const { std::cell::RefCell::new([0; 11]) };
}

fn bump(c: Count) {
    COUNTS.with(|counts| counts.borrow_mut()[c as usize] += 1);
}

fn counts_report() -> String {
    COUNTS.with(|counts| {
        let counts = counts.borrow();
        COUNT_NAMES
            .iter()
            .zip(counts.iter())
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Whether an import changed anything (ignoring changes for erased cases is no change).
fn changed(r: &SyncReport) -> bool {
    r.cases_created + r.cases_updated + r.changes_applied + r.cases_erased + r.members_added > 0
}

// ----- running a scenario ----------------------------------------------------------------

fn apply_edit(d: &mut Device, op: &EditOp, model: &mut Model) -> Result<(), String> {
    let cases = ids(&d.store);
    let pick = |i: u8| cases.get(usize::from(i) % cases.len().max(1)).copied();
    let op = match op {
        EditOp::AddCase { .. } => op.clone(),
        EditOp::Set { case, .. }
        | EditOp::Add { case, .. }
        | EditOp::Remove { case, .. }
        | EditOp::Note { case }
        | EditOp::Erase { case }
            if pick(*case).is_none() =>
        {
            EditOp::AddCase {
                scalar: None,
                code: None,
                note: true,
            }
        }
        other => other.clone(),
    };
    let fail = |what: &str, e: Error| format!("{} refused a local edit ({what}): {e}", d.name);
    bump(Count::Edits);
    match op {
        EditOp::AddCase { scalar, code, note } => {
            let mut edits = Vec::new();
            let mut text = None;
            if let Some((f, c)) = scalar {
                let (field, codes) = SCALARS[usize::from(f)];
                edits.push(Edit::set(field, codes[usize::from(c) % codes.len()]));
            }
            if let Some((f, c)) = code {
                let (field, codes) = SETS[usize::from(f)];
                edits.push(Edit::add(field, codes[usize::from(c) % codes.len()]));
            }
            if note {
                let t = model.note_text();
                edits.push(Edit::note(t.clone()));
                text = Some(t);
            }
            let id = d.store.add_case(&edits).map_err(|e| fail("add case", e))?;
            model.created.insert(id);
            if let Some((f, c)) = scalar {
                let codes = SCALARS[usize::from(f)].1;
                let code = codes[usize::from(c) % codes.len()].to_string();
                model
                    .scalars
                    .entry((id, usize::from(f)))
                    .or_default()
                    .insert(code);
            }
            if let Some((f, c)) = code {
                let codes = SETS[usize::from(f)].1;
                model.added.insert((
                    id,
                    usize::from(f),
                    codes[usize::from(c) % codes.len()].to_string(),
                ));
            }
            model.notes.entry(id).or_default().extend(text);
        }
        EditOp::Set { case, field, code } => {
            let id = pick(case).expect("picked");
            let (f, codes) = SCALARS[usize::from(field)];
            let code = codes[usize::from(code) % codes.len()];
            d.store
                .update_case(&id, &[Edit::set(f, code)])
                .map_err(|e| fail("set", e))?;
            model
                .scalars
                .entry((id, usize::from(field)))
                .or_default()
                .insert(code.to_string());
        }
        EditOp::Add { case, field, code } => {
            let id = pick(case).expect("picked");
            let (f, codes) = SETS[usize::from(field)];
            let code = codes[usize::from(code) % codes.len()];
            d.store
                .update_case(&id, &[Edit::add(f, code)])
                .map_err(|e| fail("add code", e))?;
            model
                .added
                .insert((id, usize::from(field), code.to_string()));
        }
        EditOp::Remove { case, field, code } => {
            let id = pick(case).expect("picked");
            let (f, codes) = SETS[usize::from(field)];
            let code = codes[usize::from(code) % codes.len()];
            d.store
                .update_case(
                    &id,
                    &[Edit::Remove {
                        field: f,
                        code: code.to_string(),
                    }],
                )
                .map_err(|e| fail("remove code", e))?;
            model
                .removed
                .insert((id, usize::from(field), code.to_string()));
        }
        EditOp::Note { case } => {
            let id = pick(case).expect("picked");
            let text = model.note_text();
            d.store
                .update_case(&id, &[Edit::note(text.clone())])
                .map_err(|e| fail("note", e))?;
            model.notes.entry(id).or_default().push(text);
        }
        EditOp::Erase { case } => {
            let id = pick(case).expect("picked");
            d.store
                .erase_case(&id, ErasureReason::EnteredInError)
                .map_err(|e| fail("erase", e))?;
            model.erased.insert(id);
            bump(Count::Erasures);
        }
    }
    Ok(())
}

fn scope(since_last: bool, to: &Device) -> BundleScope {
    if since_last {
        BundleScope::SinceLast(to.name.clone())
    } else {
        BundleScope::Everything
    }
}

/// Runs `steps` on a team of `n`, then the full mesh, then checks convergence and the
/// acknowledged edits. `Err` describes the first failure.
fn run(n: usize, setup: Setup, steps: &[Step]) -> Result<(), String> {
    let mut devices = team(n, setup);
    let mut model = Model::default();
    // Bundles held back per receiver, with a description of where they came from.
    let mut queues: Vec<Vec<(Vec<u8>, String)>> = vec![Vec::new(); n];
    let mut wire = Vec::new();
    let ends = |from: u8, to: u8| {
        let from = usize::from(from) % n;
        let mut to = usize::from(to) % n;
        if to == from {
            to = (to + 1) % n;
        }
        (from, to)
    };
    for (k, step) in steps.iter().enumerate() {
        let at = |e: String| format!("step {k} ({step:?}): {e}");
        match step {
            Step::Edit { on, op } => {
                let on = usize::from(*on) % n;
                apply_edit(&mut devices[on], op, &mut model).map_err(at)?;
            }
            Step::Live { from, to, cut } => {
                let (from, to) = ends(*from, *to);
                let (a, b) = pair(&mut devices, from, to);
                wire.clear();
                let cut = cut.map(usize::from);
                let (done, ra, rb) =
                    live_session(&mut a.store, &mut b.store, cut, &mut wire).map_err(at)?;
                a.parked |= ra.cases_waiting > 0;
                b.parked |= rb.cases_waiting > 0;
                if !done {
                    bump(Count::LiveCut);
                    continue;
                }
                bump(Count::Live);
                // A finished session is a full two-way sync: unless changes may be
                // parked on either side (and resolved mid-session), both now hold the same.
                if !a.parked && !b.parked {
                    let (ia, ib) = (ids(&a.store), ids(&b.store));
                    if ia != ib {
                        return Err(at(format!(
                            "after the session {} has {} cases and {} has {}",
                            a.name,
                            ia.len(),
                            b.name,
                            ib.len()
                        )));
                    }
                    if records(&mut a.store).map_err(at)? != records(&mut b.store).map_err(at)? {
                        return Err(at(format!(
                            "after the session {} and {} hold different records",
                            a.name, b.name
                        )));
                    }
                }
            }
            Step::Bundle {
                from,
                to,
                since_last,
                fate,
            } => {
                let (from, to) = ends(*from, *to);
                let (a, b) = pair(&mut devices, from, to);
                let bundle = a
                    .store
                    .export_bundle(scope(*since_last, b))
                    .map_err(|e| at(format!("export: {e}")))?;
                let what = format!("step {k}, {} -> {}", a.name, b.name);
                match fate {
                    Fate::Deliver => {
                        import(b, &bundle, &what).map_err(at)?;
                        bump(Count::Delivered);
                    }
                    Fate::Lose => bump(Count::Lost),
                    Fate::Duplicate => {
                        import(b, &bundle, &what).map_err(at)?;
                        let again = import(b, &bundle, &what).map_err(at)?;
                        if changed(&again) {
                            return Err(at(format!(
                                "importing the same bundle twice changed something: {again:?}"
                            )));
                        }
                        bump(Count::Duplicated);
                    }
                    Fate::Delay => {
                        queues[to].push((bundle, what));
                        bump(Count::Delayed);
                    }
                }
            }
            Step::Qr {
                from,
                to,
                since_last,
                drop_percent,
                seed,
            } => {
                let (from, to) = ends(*from, *to);
                let (a, b) = pair(&mut devices, from, to);
                let bundle = a
                    .store
                    .export_bundle(scope(*since_last, b))
                    .map_err(|e| at(format!("export: {e}")))?;
                let mut rng = Rng(*seed);
                match qr_transfer(&bundle, 200, u64::from(*drop_percent), &mut rng).map_err(at)? {
                    Some(scanned) => {
                        if scanned != bundle {
                            return Err(at("the qr scan reassembled different bytes".into()));
                        }
                        let what = format!("step {k}, qr {} -> {}", a.name, b.name);
                        import(b, &scanned, &what).map_err(at)?;
                        bump(Count::QrComplete);
                    }
                    None => bump(Count::QrIncomplete),
                }
            }
            Step::Flush { to, seed } => {
                let to = usize::from(*to) % n;
                let mut held = std::mem::take(&mut queues[to]);
                Rng(*seed).shuffle(&mut held);
                for (bundle, what) in held {
                    import(&mut devices[to], &bundle, &format!("delayed, {what}")).map_err(at)?;
                }
            }
            Step::Chain {
                from,
                to,
                edits,
                drop_percent,
                seed,
            } => {
                let (from, to) = ends(*from, *to);
                let (a, b) = pair(&mut devices, from, to);
                let mut chain = Vec::new();
                for (i, op) in edits.iter().enumerate() {
                    apply_edit(a, op, &mut model).map_err(at)?;
                    let bundle = a
                        .store
                        .export_bundle(scope(true, b))
                        .map_err(|e| at(format!("export: {e}")))?;
                    chain.push((i, bundle));
                }
                let mut rng = Rng(*seed);
                rng.shuffle(&mut chain);
                for (i, bundle) in chain {
                    if rng.chance(u64::from(*drop_percent)) {
                        bump(Count::Lost);
                        continue;
                    }
                    let what = format!("step {k}, chain bundle {i}, {} -> {}", a.name, b.name);
                    import(b, &bundle, &what).map_err(at)?;
                    bump(Count::Delivered);
                }
            }
        }
    }

    // The final full mesh: every device sends everything to every other, twice.
    for round in 0..2 {
        for from in 0..n {
            for to in 0..n {
                if from == to {
                    continue;
                }
                let (a, b) = pair(&mut devices, from, to);
                let bundle = a
                    .store
                    .export_bundle(BundleScope::Everything)
                    .map_err(|e| format!("mesh round {round}, export by {}: {e}", a.name))?;
                let what = format!("mesh round {round}, {} -> {}", a.name, b.name);
                let r = import(b, &bundle, &what)?;
                if round == 1 && (changed(&r) || r.cases_waiting > 0) {
                    return Err(format!(
                        "{what}: a second full round still changed something: {r:?}"
                    ));
                }
            }
        }
    }
    // Bundles still held back arrive late, after the team has converged: they are stale.
    for (to, held) in queues.into_iter().enumerate() {
        for (bundle, what) in held {
            let r = import(&mut devices[to], &bundle, &format!("stale, {what}"))?;
            if changed(&r) {
                return Err(format!(
                    "a stale bundle ({what}) changed a converged device: {r:?}"
                ));
            }
        }
    }

    check(&mut devices, &model)
}

fn scalar_code(r: &CaseRecord, field: ScalarField) -> Option<String> {
    match field {
        ScalarField::CaseStatus => r.case_status.as_ref().map(|c| c.code().to_string()),
        ScalarField::Gender => r.gender.as_ref().map(|c| c.code().to_string()),
        ScalarField::AgeBand => r.age_band.as_ref().map(|c| c.code().to_string()),
        other => unreachable!("the test does not edit {other:?}"),
    }
}

fn set_codes(r: &CaseRecord, field: SetField) -> BTreeSet<String> {
    match field {
        SetField::MeansOfControl => r
            .means_of_control
            .iter()
            .map(|c| c.code().to_string())
            .collect(),
        SetField::Citizenship => r.citizenship.iter().map(|c| c.code().to_string()).collect(),
        other => unreachable!("the test does not edit {other:?}"),
    }
}

/// The end-state claims: identical devices, and every acknowledged edit visible.
fn check(devices: &mut [Device], model: &Model) -> Result<(), String> {
    let first_name = devices[0].name.clone();
    let first_ids = ids(&devices[0].store);
    let first = records(&mut devices[0].store)?;
    for d in devices.iter_mut().skip(1) {
        let theirs = ids(&d.store);
        if theirs != first_ids {
            return Err(format!(
                "{} lists {} cases, {} lists {}: the case sets diverge",
                first_name,
                first_ids.len(),
                d.name,
                theirs.len()
            ));
        }
        let recs = records(&mut d.store)?;
        for (x, y) in first.iter().zip(&recs) {
            if x != y {
                return Err(format!(
                    "case {} diverges:\n{x:#?}\nversus on {}:\n{y:#?}",
                    x.id.to_hex(),
                    d.name
                ));
            }
        }
    }
    // Exactly the acknowledged cases that were not erased.
    let expected: Vec<CaseId> = model.created.difference(&model.erased).copied().collect();
    if first_ids != expected {
        return Err(format!(
            "the team has {} cases, but {} were created and {} erased",
            first_ids.len(),
            model.created.len(),
            model.erased.len()
        ));
    }
    // Erased everywhere.
    for id in &model.erased {
        for d in devices.iter_mut() {
            match d.store.case(id) {
                Err(Error::CaseErased { .. }) => {}
                other => {
                    return Err(format!(
                        "erased case {} on {}: {:?}",
                        id.to_hex(),
                        d.name,
                        other.map(|r| r.id.to_hex())
                    ))
                }
            }
            if !d.store.tombstones().any(|t| t.case == *id) {
                return Err(format!(
                    "{} has no tombstone for erased case {}",
                    d.name,
                    id.to_hex()
                ));
            }
        }
    }
    for r in &first {
        let id = r.id;
        // Notes are append-only: exactly the acknowledged ones, each once.
        let mut got: Vec<&str> = r.notes.iter().map(|n| n.text.as_str()).collect();
        got.sort_unstable();
        let mut want: Vec<&str> = model
            .notes
            .get(&id)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        want.sort_unstable();
        if got != want {
            return Err(format!(
                "case {}: notes {got:?}, acknowledged {want:?}",
                id.to_hex()
            ));
        }
        // Set codes: every acknowledged addition never removed anywhere is present, and
        // nothing that was never added appears.
        for (fi, (field, codes)) in SETS.iter().enumerate() {
            let present = set_codes(r, *field);
            for code in codes.iter().map(|c| c.to_string()) {
                let key = (id, fi, code.clone());
                let added = model.added.contains(&key);
                let removed = model.removed.contains(&key);
                if added && !removed && !present.contains(&code) {
                    return Err(format!(
                        "case {}: acknowledged {field:?} {code} was lost",
                        id.to_hex()
                    ));
                }
                if !added && present.contains(&code) {
                    return Err(format!(
                        "case {}: {field:?} {code} appeared without being added",
                        id.to_hex()
                    ));
                }
            }
        }
        // Scalars: the value is one that some device set, and present if any did.
        for (fi, (field, _)) in SCALARS.iter().enumerate() {
            let value = scalar_code(r, *field);
            match (model.scalars.get(&(id, fi)), value) {
                (None, None) => {}
                (Some(set), Some(v)) if set.contains(&v) => {}
                (set, v) => {
                    return Err(format!(
                        "case {}: {field:?} is {v:?}, acknowledged values {set:?}",
                        id.to_hex()
                    ))
                }
            }
        }
    }
    Ok(())
}

// ----- the properties ------------------------------------------------------------------

/// Runs the property on `setup` with proptest's runner (failing seeds are saved next to
/// this file, in `convergence.proptest-regressions`, and replayed first).
fn property(setup: Setup, test_name: &'static str) {
    let cases = env_or("CONVERGENCE_CASES", 24) as u32;
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 512,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        test_name: Some(test_name),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let started = std::time::Instant::now();
    let result = runner.run(&scenario(), |(n, _mix, steps)| {
        run(n, setup, &steps).map_err(|e| TestCaseError::fail(format!("{n} devices: {e}")))
    });
    eprintln!(
        "{test_name}: {cases} cases in {:.1?}; {}",
        started.elapsed(),
        counts_report()
    );
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
}

/// The team as the apps set it up: each joiner has only told the creator about itself.
#[test]
fn a_cold_team_converges_over_unreliable_transports() {
    property(
        Setup::Cold,
        "a_cold_team_converges_over_unreliable_transports",
    );
}

/// The same once every member knows every other (membership already spread).
#[test]
fn a_warm_team_converges_over_unreliable_transports() {
    property(
        Setup::Warm,
        "a_warm_team_converges_over_unreliable_transports",
    );
}

// ----- what the transports see ---------------------------------------------------------

const SENTINEL: &str = "SENTINELWOMBAT";

/// Occurrences of `needle` in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Writes `bundle` into `sender`'s outbox under `mailbox`, as a shared folder would
/// hold it, and returns the bytes read back from the file.
fn post(mailbox: &std::path::Path, sender: &str, bundle: &[u8]) -> Vec<u8> {
    let outbox = mailbox.join(sender.replace(' ', "-"));
    std::fs::create_dir_all(&outbox).expect("outbox");
    let n = std::fs::read_dir(&outbox).expect("outbox").count();
    let path = outbox.join(format!("{:04}.cvb", n + 1));
    std::fs::write(&path, bundle).expect("write bundle");
    std::fs::read(&path).expect("read bundle")
}

#[test]
fn transports_see_only_ciphertext() {
    let mut t = team(3, Setup::Cold);
    let partner = format!("{SENTINEL} Shelter House");
    let id = t[0]
        .store
        .add_case(&[
            Edit::set(ScalarField::Gender, "Feminine"),
            Edit::add(SetField::MeansOfControl, "DebtBondage"),
            Edit::note(format!("{SENTINEL} was seen at the brick kiln.")),
            Edit::AddReferral {
                service: "Shelter".into(),
                partner: partner.clone(),
                organisation_type: Some("NGO".into()),
                reason: None,
            },
        ])
        .expect("add case");
    let mailbox = tempfile::tempdir().expect("mailbox");
    let mut captured: Vec<Vec<u8>> = Vec::new();

    // Bundles through files: the creator posts everything, the others read it.
    let everything = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("export");
    let posted = post(mailbox.path(), &t[0].name, &everything);
    for d in &mut t[1..] {
        d.store
            .import_bundle(&posted)
            .expect("import from the mailbox");
    }
    // A member adds a note and posts what changed since its last bundle to the creator.
    t[1].store
        .update_case(
            &id,
            &[Edit::note(format!("{SENTINEL} asked about the shelter."))],
        )
        .expect("note");
    let name0 = t[0].name.clone();
    let since = t[1]
        .store
        .export_bundle(BundleScope::SinceLast(name0))
        .expect("export");
    let posted = post(mailbox.path(), &t[1].name, &since);
    t[0].store
        .import_bundle(&posted)
        .expect("import from the mailbox");
    // The same bundle shown as QR frames.
    let frames = qr::split(&since, 200).expect("split");
    captured.extend(frames.iter().cloned());
    captured.extend(frames.iter().map(|f| qr::frame_to_text(f).into_bytes()));

    // A live session carrying a new sentinel note to the newest member.
    t[0].store
        .update_case(
            &id,
            &[Edit::note(format!("{SENTINEL} returned with a friend."))],
        )
        .expect("note");
    let (creator, newest) = pair(&mut t, 0, 2);
    let mut wire = Vec::new();
    live(&mut creator.store, &mut newest.store, &mut wire).expect("live session");
    assert!(
        wire.len() >= 2,
        "the live session exchanged {} messages",
        wire.len()
    );
    captured.extend(wire);

    // The store's own mailbox transport, to a second folder.
    let shared = tempfile::tempdir().expect("shared folder");
    for _ in 0..2 {
        for d in &mut t {
            d.store.sync_mailbox(shared.path()).expect("sync mailbox");
        }
    }

    // The content really travelled.
    for d in &mut t {
        let r = d.store.case(&id).expect("case everywhere");
        let sentinel_notes = r.notes.iter().filter(|n| n.text.contains(SENTINEL)).count();
        assert_eq!(sentinel_notes, 3, "{} has every note", d.name);
        assert!(
            r.referrals.iter().any(|x| x.partner == partner),
            "{} has the referral",
            d.name
        );
    }

    // Nothing readable on the way.
    let mut files = files_under(mailbox.path());
    files.extend(files_under(shared.path()));
    assert!(
        files.len() >= 2 + t.len(),
        "only {} files were written",
        files.len()
    );
    for f in &files {
        captured.push(std::fs::read(f).expect("read file"));
    }
    let hex = id.to_hex();
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("sentinel", SENTINEL.as_bytes().to_vec()),
        ("sentinel, lower case", SENTINEL.to_lowercase().into_bytes()),
        ("partner name", partner.as_bytes().to_vec()),
        ("case id (hex)", hex.as_bytes().to_vec()),
        ("case id (upper-case hex)", hex.to_uppercase().into_bytes()),
        ("case id (raw bytes)", id.0.to_vec()),
        ("group name", GROUP_NAME.as_bytes().to_vec()),
        ("device name", b"Outreach phone".to_vec()),
    ];
    for (i, bytes) in captured.iter().enumerate() {
        for (what, needle) in &needles {
            assert_eq!(
                occurrences(bytes, needle),
                0,
                "the {what} is readable in captured message {i}"
            );
        }
    }
}

// ----- regressions -----------------------------------------------------------------------

/// Found by `a_cold_team_converges_over_unreliable_transports`; its seed is in
/// `convergence.proptest-regressions` (it shrinks to 4 devices, `Live 2 -> 3` then
/// `Live 2 -> 1`; an earlier version of the strategy shrank to 5 devices, `Live 0 -> 4`
/// then `Live 4 -> 1`).
///
/// A member that joined after another could not start a live session with it once it
/// had finished a live session with anyone (as initiator or responder): `live_start`
/// left the group's membership records out of its first message when the *last peer*
/// already had them (`meta_known`), but the device that answers may be another one,
/// which has never heard of the initiator, and it refused the message ("the sender is
/// not a member of this group"). Fails on commit dd3b1c1; passes once the first message
/// always proves the initiator's membership.
#[test]
fn a_live_session_reaches_a_member_that_never_heard_of_the_initiator() {
    for newest_starts_first_session in [false, true] {
        let mut t = team(3, Setup::Cold);
        t[2].store
            .add_case(&[Edit::note("Met at the bus station.")])
            .expect("add");
        let mut wire = Vec::new();
        // The newest member syncs live with the creator (who knows everyone)...
        let (creator, newest) = pair(&mut t, 0, 2);
        if newest_starts_first_session {
            live(&mut newest.store, &mut creator.store, &mut wire).expect("first session");
        } else {
            live(&mut creator.store, &mut newest.store, &mut wire).expect("first session");
        }
        // ...then starts a session with the first joiner, who has never heard of it.
        let (newest, first) = pair(&mut t, 2, 1);
        assert_eq!(
            live(&mut newest.store, &mut first.store, &mut wire),
            Ok(()),
            "newest member started the first session: {newest_starts_first_session}"
        );
        assert_eq!(t[1].store.team().members().len(), 3);
        let (a, b) = pair(&mut t, 1, 2);
        assert_eq!(records(&mut a.store), records(&mut b.store));
    }
}
