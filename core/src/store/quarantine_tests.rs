//! Red-team F2 of 2026-12-04 (issue 13, decision 0020): a coordinator's decision on
//! a revoked device's late changes converges, whichever order the devices heard of
//! the revocation, the changes and the decision.

use super::sync::SyncReport;
use super::*;
use crate::sync::{DeviceId, Role};

struct Device {
    tmp: tempfile::TempDir,
    key: StoreKey,
    store: Store,
}

fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("s"), &key).expect("create");
    Device { tmp, key, store }
}

/// Closes and opens a device's store again.
fn reopen(d: &mut Device) {
    let path = d.tmp.path().join("s");
    let other = d.tmp.path().join("placeholder");
    let closed = std::mem::replace(&mut d.store, Store::create(other, &d.key).expect("create"));
    drop(closed);
    d.store = Store::open(path, &d.key).expect("reopen");
}

/// 0: coordinator A; then one device per role, all admitted and knowing all.
fn team(roles: &[Role]) -> Vec<Device> {
    let mut t: Vec<Device> = (0..=roles.len()).map(|_| device()).collect();
    t[0].store
        .team_mut()
        .create_group("Team", "A")
        .expect("group");
    for (i, role) in roles.iter().enumerate() {
        let inv = t[0].store.team_mut().invite(*role).expect("invite");
        t[i + 1]
            .store
            .team_mut()
            .join_group(inv.as_text(), &format!("Device {}", i + 1))
            .expect("join");
        send(&mut t, i + 1, 0).expect("admitted");
    }
    for i in 1..t.len() {
        send(&mut t, 0, i).expect("everyone learns");
    }
    t
}

fn send(t: &mut [Device], from: usize, to: usize) -> Result<SyncReport> {
    let b = t[from].store.export_bundle(BundleScope::Everything)?;
    t[to].store.import_bundle(&b)
}

/// What a device shows: every case's record, and its quarantine.
fn state(d: &mut Device) -> (Vec<CaseRecord>, Vec<Quarantined>) {
    let ids: Vec<CaseId> = d
        .store
        .list(&CaseFilter::default())
        .iter()
        .map(|s| s.id)
        .collect();
    let mut cases: Vec<_> = ids
        .iter()
        .map(|id| d.store.case(id).expect("case"))
        .collect();
    cases.sort_by_key(|c| c.id);
    (cases, d.store.team().quarantined())
}

/// Exchanges bundles both ways between every pair, twice.
fn settle(t: &mut [Device], who: &[usize]) {
    for _ in 0..2 {
        for &a in who {
            for &b in who {
                if a != b {
                    send(t, a, b).expect("exchange");
                }
            }
        }
    }
}

/// F2: B (field worker) creates a case and notes one of A's; A revokes B; C
/// (coordinator, unaware) applies B's late changes; A hears of them through C
/// (quarantined) and rejects: C withdraws them, the case B created is gone on both,
/// both show nothing quarantined, and C does not send them again.
#[test]
fn a_rejected_late_change_is_withdrawn_from_every_device() {
    let mut t = team(&[Role::FieldWorker, Role::Coordinator]);
    let (a, b, c) = (0, 1, 2);
    let shared = t[a]
        .store
        .add_case(&[Edit::note("A's case")])
        .expect("case");
    let b_id = t[b].store.team().device_id();
    t[a].store
        .team_mut()
        .assign_case(&shared, &b_id, true)
        .expect("assign");
    settle(&mut t, &[a, b, c]);
    t[a].store.team_mut().revoke(&b_id).expect("revoke");
    // B, not knowing, writes; C, not knowing either, takes it.
    let created = t[b]
        .store
        .add_case(&[Edit::note("B's late case")])
        .expect("late case");
    t[b].store
        .update_case(&shared, &[Edit::note("B's late note")])
        .expect("late note");
    let r = send(&mut t, b, c).expect("C applies B's changes");
    assert_eq!(
        r.changes_quarantined, 0,
        "C does not know of the revocation"
    );
    assert!(t[c].store.case(&created).is_ok());
    // A hears of them through C: quarantined.
    let r = send(&mut t, c, a).expect("A learns through C");
    assert!(r.changes_quarantined >= 2, "{r:?}");
    assert_eq!(t[a].store.team().quarantined().len(), 2);
    // A rejects both.
    t[a].store
        .team_mut()
        .resolve_quarantine(&created, false)
        .expect("reject case");
    t[a].store
        .team_mut()
        .resolve_quarantine(&shared, false)
        .expect("reject note");
    assert!(t[a].store.team().quarantined().is_empty());
    let r = send(&mut t, a, c).expect("C learns the decision");
    assert!(r.changes_dropped >= 1, "{r:?}");
    settle(&mut t, &[a, c]);
    assert_eq!(
        state(&mut t[a]),
        state(&mut t[c]),
        "the same cases and quarantine"
    );
    assert!(
        t[c].store.case(&created).is_err(),
        "the rejected case is gone"
    );
    let notes = t[c].store.case(&shared).expect("shared").notes;
    assert_eq!(notes.len(), 1, "the rejected note is gone: {notes:?}");
    // Nothing is sent again: a repeat exchange changes nothing.
    let r = send(&mut t, c, a).expect("repeat");
    assert_eq!((r.changes_applied, r.changes_quarantined), (0, 0), "{r:?}");
}

/// Two coordinators decide the same late change apart, one accepting, one rejecting:
/// every device ends with the decision last in the log's order, the same content.
#[test]
fn concurrent_accept_and_reject_by_two_coordinators_converge() {
    for _ in 0..3 {
        let mut t = team(&[Role::FieldWorker, Role::Coordinator, Role::FieldWorker]);
        let (a, b, c, d) = (0, 1, 2, 3);
        let case = t[a]
            .store
            .add_case(&[Edit::note("A's case")])
            .expect("case");
        let b_id = t[b].store.team().device_id();
        t[a].store
            .team_mut()
            .assign_case(&case, &b_id, true)
            .expect("assign");
        settle(&mut t, &[a, b, c, d]);
        t[a].store.team_mut().revoke(&b_id).expect("revoke");
        send(&mut t, a, c).expect("C learns of the revocation");
        t[b].store
            .update_case(&case, &[Edit::note("late")])
            .expect("late");
        // D (unaware) applies it and hands it on to both coordinators.
        send(&mut t, b, d).expect("D applies");
        send(&mut t, d, a).expect("A quarantines");
        send(&mut t, d, c).expect("C quarantines");
        t[a].store
            .team_mut()
            .resolve_quarantine(&case, false)
            .expect("A rejects");
        t[c].store
            .team_mut()
            .resolve_quarantine(&case, true)
            .expect("C accepts");
        settle(&mut t, &[a, c, d]);
        let s = state(&mut t[a]);
        assert_eq!(s, state(&mut t[c]));
        assert_eq!(s, state(&mut t[d]));
        assert!(s.1.is_empty(), "nothing left to decide");
    }
}

/// Summing reports (a folder sync imports several bundles) keeps every count and
/// line: quarantined, refused, conflicts and dropped were lost before.
#[test]
fn summed_reports_keep_every_field() {
    let one = SyncReport {
        cases_created: 1,
        cases_updated: 2,
        changes_applied: 3,
        cases_erased: 4,
        cases_waiting: 5,
        ignored_erased: 6,
        members_added: 7,
        changes_quarantined: 8,
        cases_refused: 9,
        conflicts_created: 10,
        changes_dropped: 11,
        dropped: vec!["why".into()],
        notices: vec!["invitation used again".into()],
        envelopes_unopened: 12,
        changed: vec![CaseId([1; 16]), CaseId([2; 16])],
        team_changed: true,
    };
    let mut total = SyncReport::default();
    total += &one;
    total += &SyncReport::default();
    total += &one;
    assert_eq!(total.changed, one.changed, "each changed case once");
    assert!(total.team_changed, "a team change in any report is kept");
    assert_eq!(
        (
            total.changes_quarantined,
            total.cases_refused,
            total.conflicts_created
        ),
        (16, 18, 20)
    );
    assert_eq!(
        (
            total.changes_dropped,
            total.dropped.len(),
            total.notices.len()
        ),
        (22, 2, 2)
    );
    assert_eq!(total.envelopes_unopened, 24);
    assert_eq!(total.cases_created + total.members_added, 16);
}

/// Red team 2026-12-05 T3 (decision 0020): C applies the revoked B's late case and
/// late note, and writes a note on top of it, before it knows of the revocation; D
/// knew first and receives them all from C. Once C learns of the revocation both show
/// the same: B's changes quarantined (the case B created gone whole from the list),
/// C's note parked, not shown. The coordinator, which never met B after revoking it,
/// gets them from the quarantine of either and decides; every device then shows the
/// same again (accepted: C's parked note comes back with B's).
#[test]
fn late_changes_applied_before_the_revocation_leave_the_case_as_if_they_came_after() {
    for accept in [true, false] {
        let mut t = team(&[Role::FieldWorker, Role::FieldWorker, Role::FieldWorker]);
        let (a, b, c, d) = (0, 1, 2, 3);
        let shared = t[a]
            .store
            .add_case(&[Edit::note("A's case")])
            .expect("case");
        let b_id = t[b].store.team().device_id();
        t[a].store
            .team_mut()
            .assign_case(&shared, &b_id, true)
            .expect("assign");
        let c_id = t[c].store.team().device_id();
        t[a].store
            .team_mut()
            .assign_case(&shared, &c_id, true)
            .expect("assign");
        settle(&mut t, &[a, b, c, d]);
        t[a].store.team_mut().revoke(&b_id).expect("revoke");
        send(&mut t, a, d).expect("D learns of the revocation first");
        let created = t[b]
            .store
            .add_case(&[Edit::note("B's late case")])
            .expect("late case");
        t[b].store
            .update_case(&shared, &[Edit::note("B's late note")])
            .expect("late note");
        send(&mut t, b, c).expect("C applies B's changes");
        t[c].store
            .update_case(&shared, &[Edit::note("C's note on top")])
            .expect("C's note");
        assert_eq!(t[c].store.case(&shared).expect("shared").notes.len(), 3);
        // D (knowing) receives everything from C; C then learns of the revocation.
        let r = send(&mut t, c, d).expect("D quarantines");
        assert_eq!(r.changes_quarantined, 2, "{r:?}");
        let r = send(&mut t, a, c).expect("C learns of the revocation");
        assert_eq!(r.changes_quarantined, 2, "{r:?}");
        let (sc, sd) = (state(&mut t[c]), state(&mut t[d]));
        assert_eq!(sc, sd, "the same content and quarantine, in either order");
        assert_eq!(
            sc.1.len(),
            2,
            "B's late case and note quarantined: {:?}",
            sc.1
        );
        assert!(t[c].store.case(&created).is_err(), "B's case left whole");
        let notes = t[c].store.case(&shared).expect("shared").notes;
        assert_eq!(
            notes.len(),
            1,
            "B's note and C's note on it are out: {notes:?}"
        );
        // What C shows survives closing and opening its store, and no case counts as lost.
        reopen(&mut t[c]);
        assert!(t[c].store.damage().is_empty(), "{:?}", t[c].store.damage());
        assert_eq!(state(&mut t[c]), sd, "after reopening");
        // A holds nothing of it but learns it from either quarantine, and decides.
        send(&mut t, c, a).expect("A learns from C");
        assert_eq!(
            t[a].store.team().quarantined().len(),
            2,
            "A holds them to decide"
        );
        for case in [created, shared] {
            t[a].store
                .team_mut()
                .resolve_quarantine(&case, accept)
                .expect("decide");
        }
        settle(&mut t, &[a, c, d]);
        let s = state(&mut t[a]);
        assert_eq!(s, state(&mut t[c]), "accept: {accept}");
        assert_eq!(s, state(&mut t[d]), "accept: {accept}");
        assert!(s.1.is_empty(), "nothing left to decide");
        let notes = t[d].store.case(&shared).expect("shared").notes.len();
        assert_eq!(notes, if accept { 3 } else { 1 }, "accept: {accept}");
        assert_eq!(t[d].store.case(&created).is_ok(), accept);
    }
}

/// Decision 0020, "An author's own parked change": C's own note, written on top of the
/// revoked B's late note before C knew, is parked when C learns of the revocation. A
/// next note by C would take the parked note's Automerge sequence number (C's document
/// no longer holds it), and two changes by one actor with one sequence number never
/// apply together, so C's edits of that case are refused (typed, nothing changed) until
/// a coordinator decides; after an accept (the parked note returns) or a reject (it
/// stays out on every device) C writes again and every device converges.
#[test]
fn a_device_writing_after_its_own_change_was_parked_still_converges() {
    for accept in [true, false] {
        let mut t = team(&[Role::FieldWorker, Role::FieldWorker]);
        let (a, b, c) = (0, 1, 2);
        let shared = t[a]
            .store
            .add_case(&[Edit::note("A's case")])
            .expect("case");
        for who in [b, c] {
            let id = t[who].store.team().device_id();
            t[a].store
                .team_mut()
                .assign_case(&shared, &id, true)
                .expect("assign");
        }
        settle(&mut t, &[a, b, c]);
        let b_id = t[b].store.team().device_id();
        t[a].store.team_mut().revoke(&b_id).expect("revoke");
        t[b].store
            .update_case(&shared, &[Edit::note("B's late note")])
            .expect("late note");
        send(&mut t, b, c).expect("C applies B's note");
        t[c].store
            .update_case(&shared, &[Edit::note("C's note on top")])
            .expect("C's note");
        send(&mut t, a, c).expect("C learns of the revocation");
        let before = t[c].store.case(&shared).expect("shared");
        match t[c]
            .store
            .update_case(&shared, &[Edit::note("C's next note")])
        {
            Err(Error::NotPermitted { reason, .. }) => {
                assert!(reason.contains("coordinator"), "{reason}")
            }
            other => panic!("C's edit while its own note is parked: {other:?}"),
        }
        assert_eq!(t[c].store.case(&shared).expect("shared"), before);
        send(&mut t, c, a).expect("A learns from C");
        t[a].store
            .team_mut()
            .resolve_quarantine(&shared, accept)
            .expect("A decides");
        settle(&mut t, &[a, c]);
        t[c].store
            .update_case(&shared, &[Edit::note("C's next note")])
            .expect("C writes again once A decided");
        settle(&mut t, &[a, c]);
        assert_eq!(state(&mut t[a]), state(&mut t[c]), "accept: {accept}");
        let notes = t[c].store.case(&shared).expect("shared").notes.len();
        assert_eq!(notes, if accept { 4 } else { 2 }, "accept: {accept}");
    }
}

/// Red team round 3 (H2): F applied the revoked R's late changes (and wrote on top of
/// them) before it knew of the revocation, and learned of the revocation and of C2's
/// rejection in one message. The rebuilt case must be written whole: before the fix
/// the withdrawal was reported but the store kept R's note and field, and three
/// devices ended with three versions of one case.
#[test]
fn a_rejection_learned_together_with_the_revocation_is_withdrawn_for_good() {
    let mut t = team(&[Role::Coordinator, Role::FieldWorker, Role::FieldWorker]);
    let (c1, c2, f, r) = (0, 1, 2, 3);
    let shared = t[r]
        .store
        .add_case(&[Edit::note("R base case")])
        .expect("case");
    settle(&mut t, &[c1, c2, f, r]);
    let f_id = t[f].store.team().device_id();
    t[c1]
        .store
        .team_mut()
        .assign_case(&shared, &f_id, true)
        .expect("assign");
    settle(&mut t, &[c1, c2, f, r]);
    t[r].store
        .update_case(&shared, &[Edit::note("R late note")])
        .expect("late note");
    t[r].store
        .add_case(&[Edit::note("R late case")])
        .expect("late case");
    t[f].store
        .update_case(&shared, &[Edit::note("F note on top")])
        .expect("F's own note");
    send(&mut t, r, f).expect("F applies R's late work");
    t[f].store
        .update_case(&shared, &[Edit::note("F note after R")])
        .expect("F builds on R's note");
    let r_id = t[r].store.team().device_id();
    t[c1].store.team_mut().revoke(&r_id).expect("revoke");
    send(&mut t, f, c2).expect("C2 applies R's work");
    send(&mut t, c1, c2).expect("C2 learns of the revocation");
    send(&mut t, f, c1).expect("C1 receives R's work through F");
    let held: Vec<CaseId> = t[c2]
        .store
        .team()
        .quarantined()
        .iter()
        .map(|q| q.case)
        .collect();
    assert!(!held.is_empty(), "C2 holds R's late work in quarantine");
    for case in held {
        t[c2]
            .store
            .team_mut()
            .resolve_quarantine(&case, false)
            .expect("reject");
    }
    send(&mut t, c2, f).expect("F learns of the revocation and the rejection at once");
    let notes = |d: &mut Device| -> Vec<String> {
        d.store
            .case(&shared)
            .expect("shared")
            .notes
            .into_iter()
            .map(|n| n.text)
            .collect()
    };
    assert_eq!(notes(&mut t[f]), ["R base case", "F note on top"]);
    reopen(&mut t[f]);
    assert_eq!(
        notes(&mut t[f]),
        ["R base case", "F note on top"],
        "after reopening"
    );
    settle(&mut t, &[c1, c2, f]);
    let s = state(&mut t[c1]);
    assert_eq!(s, state(&mut t[c2]));
    assert_eq!(s, state(&mut t[f]));
    assert!(s.1.is_empty(), "nothing left to decide");
    assert_eq!(notes(&mut t[c1]), ["R base case", "F note on top"]);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

/// Red team round 3 (H1): a field worker's phone restored from an older copy writes a
/// second change with a sequence number it had used already, and the two versions
/// reach two coordinators. Their exchanges set that one case aside (typed, with the
/// reason in the report) instead of refusing every payload for good, so the
/// coordinator's revocation of the phone and everything else still reach the other.
#[test]
fn a_phone_restored_from_an_old_copy_cannot_cut_two_coordinators_apart() {
    let mut t = team(&[Role::Coordinator, Role::FieldWorker]);
    let (a, b, f) = (0, 1, 2);
    let case = t[f]
        .store
        .add_case(&[Edit::note("F's case")])
        .expect("case");
    settle(&mut t, &[a, b, f]);
    let saved = t[f].tmp.path().join("backup");
    copy_dir(&t[f].tmp.path().join("s"), &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 1")])
        .expect("v1");
    send(&mut t, f, a).expect("A gets version 1");
    // The phone is restored from the copy and writes again.
    restore(&mut t[f], &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 2")])
        .expect("v2");
    send(&mut t, f, b).expect("B gets version 2");
    let f_id = t[f].store.team().device_id();
    t[a].store
        .team_mut()
        .revoke(&f_id)
        .expect("A revokes the phone");
    let other_case = t[a]
        .store
        .add_case(&[Edit::note("A's new case")])
        .expect("new");
    let report = send(&mut t, a, b).expect("A's bundle still imports on B");
    // The case is settled, not refused: A's revocation accepted version 1 (A held
    // it), so version 2 goes to the quarantine (decision 0031).
    assert_eq!(report.cases_refused, 0, "{report:?}");
    assert!(
        report
            .notices
            .iter()
            .any(|d| d.contains("two versions of one change")),
        "{report:?}"
    );
    assert_eq!(
        t[b].store.case(&case).expect("case"),
        t[a].store.case(&case).expect("case"),
        "B keeps the version A's revocation accepted"
    );
    assert!(
        t[b].store.case(&other_case).is_ok(),
        "A's new case reached B"
    );
    let active = |d: &Device| {
        d.store
            .team()
            .members()
            .iter()
            .any(|m| m.device == f_id && m.active)
    };
    assert!(!active(&t[b]), "the revocation reached B");
    // B now holds version 2 in quarantine, and sends it: A quarantines it too.
    send(&mut t, b, a).expect("B's bundle still imports on A");
    // Accepting it cannot work (A holds version 1 with the same number): a typed
    // refusal that says why, nothing changed; rejecting it does.
    let before = state(&mut t[a]);
    match t[a].store.team_mut().resolve_quarantine(&case, true) {
        Err(Error::NotPermitted { reason, .. }) => {
            assert!(reason.contains("same sequence number"), "{reason}")
        }
        other => panic!("accepting a clashing change: {other:?}"),
    }
    assert_eq!(state(&mut t[a]), before, "a refused accept changes nothing");
    t[a].store
        .team_mut()
        .resolve_quarantine(&case, false)
        .expect("reject");
    settle(&mut t, &[a, b]);
    assert_eq!(state(&mut t[a]), state(&mut t[b]));
    assert!(t[b].store.team().quarantined().is_empty());
}

/// Red team round 3 (M1): two coordinators revoke each other while apart. H learns of
/// Q's revocation of P first (P's late work, which H had applied, moves into H's
/// quarantine), then of P's revocation of Q, which the log's order places first, so P
/// is active again. P's changes must leave H's quarantine: before the fix H kept them
/// there for good, naming an active coordinator, and its quarantine differed from
/// every other device's.
#[test]
fn changes_of_a_member_active_again_leave_the_quarantine() {
    let mut t = team(&[Role::Coordinator, Role::FieldWorker, Role::FieldWorker]);
    let (p, q, h, k) = (0, 1, 2, 3);
    let base = t[p]
        .store
        .add_case(&[Edit::note("base note")])
        .expect("case");
    settle(&mut t, &[p, q, h, k]);
    t[p].store
        .update_case(&base, &[Edit::note("P late note")])
        .expect("P's note");
    t[p].store
        .add_case(&[Edit::note("P late case")])
        .expect("P's case");
    t[q].store
        .update_case(&base, &[Edit::note("Q late note")])
        .expect("Q's note");
    t[q].store
        .add_case(&[Edit::note("Q late case")])
        .expect("Q's case");
    send(&mut t, p, h).expect("H applies P's late work");
    send(&mut t, q, k).expect("K applies Q's late work");
    let (p_id, q_id) = (t[p].store.team().device_id(), t[q].store.team().device_id());
    t[p].store.team_mut().revoke(&q_id).expect("P revokes Q");
    t[q].store.team_mut().revoke(&p_id).expect("Q revokes P");
    // Bundles from the device that ends up revoked are refused: that is expected.
    for (x, y) in [(q, h), (p, h), (p, k), (q, k)] {
        let _ = send(&mut t, x, y);
    }
    for _ in 0..4 {
        for x in [p, q, h, k] {
            for y in [p, q, h, k] {
                if x != y {
                    let _ = send(&mut t, x, y);
                }
            }
        }
    }
    let active: Vec<DeviceId> = t[h]
        .store
        .team()
        .members()
        .iter()
        .filter(|m| m.active)
        .map(|m| m.device)
        .collect();
    let s = state(&mut t[h]);
    for who in [p, q, k] {
        if active.contains(&t[who].store.team().device_id()) {
            assert_eq!(state(&mut t[who]), s, "device {who} and H");
        }
    }
    // Nothing in any quarantine is by an active member.
    for who in [h, k] {
        for entry in t[who].store.team().quarantined() {
            assert!(
                !entry.authors.iter().any(|a| active.contains(a)),
                "device {who} holds an active member's changes in quarantine: {entry:?}"
            );
        }
    }
}

/// Replaces a device's store with a copy taken earlier (a phone restored from a backup).
fn restore(d: &mut Device, saved: &Path) {
    let live = d.tmp.path().join("s");
    let other = d.tmp.path().join("placeholder-restore");
    let placeholder = Store::create(other, &d.key).expect("create");
    drop(std::mem::replace(&mut d.store, placeholder));
    fs::remove_dir_all(&live).expect("rm");
    copy_dir(saved, &live);
    d.store = Store::open(&live, &d.key).expect("open restored");
}

fn note_texts(d: &mut Device, case: &CaseId) -> Vec<String> {
    d.store
        .case(case)
        .expect("case")
        .notes
        .into_iter()
        .map(|n| n.text)
        .collect()
}

/// Red team round 3 re-test (H1, HIGH): a field worker's phone restored from an older
/// copy writes a second version of a change; a colleague writes on each version. Before
/// the clash rule the case stayed in two versions for good and later notes never
/// crossed. Now every device keeps the same version (the lower hash), sets the other
/// and what builds on it aside in the quarantine, shown to coordinators; later notes
/// cross; accepting the set-aside changes is refused, rejecting them converges
/// (decision 0031).
#[test]
fn a_restored_phones_two_versions_converge_on_every_device() {
    let mut t = team(&[Role::Coordinator, Role::FieldWorker]);
    let (a, c, f) = (0, 1, 2);
    let everyone = [a, c, f];
    let case = t[f]
        .store
        .add_case(&[Edit::note("F's case")])
        .expect("case");
    settle(&mut t, &everyone);
    let saved = t[f].tmp.path().join("backup");
    copy_dir(&t[f].tmp.path().join("s"), &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 1")])
        .expect("v1");
    send(&mut t, f, a).expect("A gets version 1");
    t[a].store
        .update_case(&case, &[Edit::note("A on version 1")])
        .expect("A's note");
    restore(&mut t[f], &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 2")])
        .expect("v2");
    send(&mut t, f, c).expect("C gets version 2");
    t[c].store
        .update_case(&case, &[Edit::note("C on version 2")])
        .expect("C's note");
    let first = send(&mut t, a, c).expect("A's bundle imports on C");
    // The case changed on C only if C's version lost (the rule, not the order, decides).
    assert!(first.changed.iter().all(|c| *c == case), "{first:?}");
    assert!(
        first
            .notices
            .iter()
            .any(|n| n.contains("two versions of one change")),
        "{first:?}"
    );
    assert_eq!(first.cases_refused, 0, "{first:?}");
    settle(&mut t, &everyone);
    let reference = state(&mut t[a]);
    for &d in &everyone[1..] {
        assert_eq!(state(&mut t[d]), reference, "device {d} differs from A");
    }
    let notes = note_texts(&mut t[a], &case);
    let v1_kept = notes.iter().any(|n| n == "version 1");
    let v2_kept = notes.iter().any(|n| n == "version 2");
    assert!(v1_kept != v2_kept, "exactly one version is kept: {notes:?}");
    let (kept_note, lost_note, lost_version) = if v1_kept {
        ("A on version 1", "C on version 2", "version 2")
    } else {
        ("C on version 2", "A on version 1", "version 1")
    };
    assert!(notes.iter().any(|n| n == kept_note), "{notes:?}");
    assert!(!notes.iter().any(|n| n == lost_note), "{notes:?}");
    // A coordinator sees what was set aside: both changes, with their notes.
    let q = t[a].store.team().quarantined();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(
        (q[0].case, q[0].changes, q[0].clashing),
        (case, 2, 2),
        "{q:?}"
    );
    for text in [lost_version, lost_note] {
        assert!(q[0].notes.iter().any(|n| n == text), "{text}: {q:?}");
    }
    // Later notes by anyone cross to everyone now, the restored phone included.
    for (d, text) in [(a, "A later"), (c, "C later"), (f, "F later")] {
        t[d].store
            .update_case(&case, &[Edit::note(text)])
            .expect("a later note");
    }
    settle(&mut t, &everyone);
    let reference = state(&mut t[a]);
    for &d in &everyone[1..] {
        assert_eq!(
            state(&mut t[d]),
            reference,
            "device {d} differs after later notes"
        );
    }
    let notes = note_texts(&mut t[c], &case);
    for text in ["A later", "C later", "F later", kept_note] {
        assert!(notes.iter().any(|n| n == text), "{text}: {notes:?}");
    }
    // Accepting them is refused (typed, with the reason, nothing changed); rejecting
    // them empties every device's quarantine and leaves the case as it is.
    let before = state(&mut t[a]);
    match t[a].store.team_mut().resolve_quarantine(&case, true) {
        Err(Error::NotPermitted { reason, .. }) => {
            assert!(reason.contains("same sequence number"), "{reason}")
        }
        other => panic!("accepting changes that lost a clash: {other:?}"),
    }
    assert_eq!(state(&mut t[a]), before, "a refused accept changes nothing");
    t[a].store
        .team_mut()
        .resolve_quarantine(&case, false)
        .expect("reject");
    settle(&mut t, &everyone);
    let reference = state(&mut t[a]);
    assert!(reference.1.is_empty(), "{:?}", reference.1);
    assert_eq!(reference.0, before.0, "rejecting changes no case");
    for &d in &everyone[1..] {
        assert_eq!(
            state(&mut t[d]),
            reference,
            "device {d} after the rejection"
        );
    }
}

/// Red team round 5 (finding 4): version 1 of a restored phone's change reaches only
/// coordinator A, version 2 only coordinator C, and each revokes the phone while apart:
/// each revocation accepts the version its coordinator held. One version wins by the
/// rule; the other, though accepted, stays in every device's quarantine (shown, to be
/// rejected) instead of vanishing unseen.
#[test]
fn two_cuts_accepting_both_versions_lose_neither_unseen() {
    let mut t = team(&[Role::Coordinator, Role::FieldWorker]);
    let (a, c, f) = (0, 1, 2);
    let everyone = [a, c];
    let case = t[f]
        .store
        .add_case(&[Edit::note("F's case")])
        .expect("case");
    settle(&mut t, &[a, c, f]);
    let saved = t[f].tmp.path().join("backup");
    copy_dir(&t[f].tmp.path().join("s"), &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 1")])
        .expect("v1");
    send(&mut t, f, a).expect("A gets version 1");
    restore(&mut t[f], &saved);
    t[f].store
        .update_case(&case, &[Edit::note("version 2")])
        .expect("v2");
    send(&mut t, f, c).expect("C gets version 2");
    let f_id = t[f].store.team().device_id();
    t[a].store.team_mut().revoke(&f_id).expect("A revokes");
    t[c].store
        .team_mut()
        .revoke(&f_id)
        .expect("C revokes, apart");
    settle(&mut t, &everyone);
    let reference = state(&mut t[a]);
    assert_eq!(state(&mut t[c]), reference, "A and C agree");
    let notes = note_texts(&mut t[a], &case);
    let v1 = notes.iter().any(|n| n == "version 1");
    assert!(v1 != notes.iter().any(|n| n == "version 2"), "{notes:?}");
    let lost = if v1 { "version 2" } else { "version 1" };
    let q = &reference.1;
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].clashing, 1, "{q:?}");
    assert!(
        q[0].notes.iter().any(|n| n == lost),
        "the lost version is shown: {q:?}"
    );
    let before = state(&mut t[a]);
    assert!(t[a]
        .store
        .team_mut()
        .resolve_quarantine(&case, true)
        .is_err());
    assert_eq!(state(&mut t[a]), before, "a refused accept changes nothing");
    t[a].store
        .team_mut()
        .resolve_quarantine(&case, false)
        .expect("reject");
    settle(&mut t, &everyone);
    let reference = state(&mut t[a]);
    assert!(reference.1.is_empty(), "{:?}", reference.1);
    assert_eq!(state(&mut t[c]), reference);
}

/// Red team round 5 (t4): a restored field worker's two versions meet at coordinator
/// C, which revokes the phone; coordinator D hears of it all from C first. Whichever
/// version wins, C, D and G end the same (run until each version has won once).
#[test]
fn a_restored_phone_revoked_by_a_coordinator_holding_both_versions_converges() {
    let mut won = [false, false];
    for _ in 0..16 {
        if won.iter().all(|w| *w) {
            break;
        }
        let mut t = team(&[Role::Coordinator, Role::FieldWorker, Role::FieldWorker]);
        let (c, d, f, g) = (0, 1, 2, 3);
        let case = t[c].store.add_case(&[Edit::note("base")]).expect("case");
        for who in [f, g] {
            let id = t[who].store.team().device_id();
            t[c].store
                .team_mut()
                .assign_case(&case, &id, true)
                .expect("assign");
        }
        settle(&mut t, &[c, d, f, g]);
        let saved = t[f].tmp.path().join("backup");
        copy_dir(&t[f].tmp.path().join("s"), &saved);
        for n in ["A1", "A2"] {
            t[f].store.update_case(&case, &[Edit::note(n)]).expect("A");
        }
        send(&mut t, f, g).expect("F -> G");
        t[g].store
            .update_case(&case, &[Edit::note("G on A")])
            .expect("G");
        restore(&mut t[f], &saved);
        for n in ["B1", "B2", "B3"] {
            t[f].store.update_case(&case, &[Edit::note(n)]).expect("B");
        }
        send(&mut t, f, c).expect("F -> C");
        send(&mut t, g, c).expect("G -> C");
        let f_id = t[f].store.team().device_id();
        t[c].store.team_mut().revoke(&f_id).expect("revoke");
        t[f].store
            .update_case(&case, &[Edit::note("B4 late")])
            .expect("late");
        let r = send(&mut t, c, d).expect("C -> D");
        let _ = send(&mut t, g, d);
        let _ = send(&mut t, f, d);
        let _ = send(&mut t, f, g);
        let _ = send(&mut t, c, g);
        for _ in 0..2 {
            for a in [c, d, g, f] {
                for b in [c, d, g, f] {
                    if a != b {
                        let _ = send(&mut t, a, b);
                    }
                }
            }
        }
        let notes = note_texts(&mut t[c], &case);
        let b_won = notes.iter().any(|n| n == "B1");
        won[usize::from(b_won)] = true;
        let reference = state(&mut t[c]);
        // G's note is in the case (A won) or shown in the quarantine (B won), never
        // out of sight (red team round 5 N1).
        let shown = notes.iter().any(|n| n == "G on A")
            || reference
                .1
                .iter()
                .any(|q| q.notes.iter().any(|n| n == "G on A"));
        assert!(
            shown,
            "G's note is neither in the case nor shown (B won: {b_won}): {reference:?}"
        );
        for who in [d, g] {
            assert_eq!(
                state(&mut t[who]),
                reference,
                "device {who} differs (B won: {b_won}); C -> D said {r:?}"
            );
        }
    }
    assert!(
        won.iter().all(|w| *w),
        "each version won at least once: {won:?}"
    );
}
