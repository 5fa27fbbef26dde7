//! Roles, revocation and quarantine on real stores: what every receiving device
//! accepts and refuses.

use super::index::SyncDelta;
use super::sync::{SyncReport, LOCAL_CHECKS_OFF};
use super::*;
use crate::codec::B32;
use crate::model::{ScalarField, SetField};
use crate::sync::{DeviceId, MemberOp, Role};

struct Device {
    _tmp: tempfile::TempDir,
    store: Store,
}

fn device() -> Device {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = StoreKey::generate().expect("key");
    let store = Store::create(tmp.path().join("s"), &key).expect("create");
    Device { _tmp: tmp, store }
}

/// Device 0 creates the group (coordinator); the others join with `roles`; then
/// everyone exchanges bundles so all know all.
fn team(roles: &[Role]) -> Vec<Device> {
    let mut t: Vec<Device> = (0..=roles.len()).map(|_| device()).collect();
    t[0].store
        .team_mut()
        .create_group("Border team", "Coordinator")
        .expect("group");
    for (i, role) in roles.iter().enumerate() {
        let inv = t[0].store.team_mut().invite(*role).expect("invite");
        t[i + 1]
            .store
            .team_mut()
            .join_group(inv.as_text(), &format!("Device {}", i + 1))
            .expect("join");
        if *role == Role::Partner {
            // A partner's invitation carries no group key. To test what receivers do
            // with whatever a partner device sends, give it the key here (as a leak
            // or a modified app would).
            let keys = t[0].store.group().expect("g").clone();
            let mut g = t[i + 1].store.group().expect("g").clone();
            g.copy_keys_from(&keys);
            t[i + 1]
                .store
                .write_sync(vec![SyncDelta::Group(g)])
                .expect("key");
        }
        let hello = t[i + 1]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("hello");
        t[0].store.import_bundle(&hello).expect("creator learns");
    }
    let all = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("all");
    for d in t.iter_mut().skip(1) {
        d.store.import_bundle(&all).expect("everyone learns");
    }
    t
}

/// Sends `from`'s whole state to `to`.
fn send(t: &mut [Device], from: usize, to: usize) -> Result<SyncReport> {
    let b = t[from].store.export_bundle(BundleScope::Everything)?;
    t[to].store.import_bundle(&b)
}

fn case_edits() -> Vec<Edit> {
    vec![
        Edit::set(ScalarField::CaseStatus, "Active"),
        Edit::add(SetField::Citizenship, "KZ"),
        Edit::AddReferral {
            service: "Shelter".into(),
            partner: "Shelter Partner Istanbul".into(),
            organisation_type: Some("NGO".into()),
            reason: None,
        },
    ]
}

/// Runs `f` with this thread's local rights checks off (a modified app).
fn forged<R>(f: impl FnOnce() -> R) -> R {
    LOCAL_CHECKS_OFF.with(|c| c.set(true));
    let r = f();
    LOCAL_CHECKS_OFF.with(|c| c.set(false));
    r
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CreateCase,
    EditOwnCase,
    EditAssignedCase,
    EditOthersCase,
    AddNoteOnAssigned,
    SetReferralStatusOnAssigned,
    EraseCase,
}

const KINDS: [Kind; 7] = [
    Kind::CreateCase,
    Kind::EditOwnCase,
    Kind::EditAssignedCase,
    Kind::EditOthersCase,
    Kind::AddNoteOnAssigned,
    Kind::SetReferralStatusOnAssigned,
    Kind::EraseCase,
];

/// The permission matrix of `crate::sync::rights`.
fn allowed(role: Role, kind: Kind) -> bool {
    match role {
        Role::Coordinator => true,
        Role::FieldWorker => !matches!(kind, Kind::EditOthersCase | Kind::EraseCase),
        Role::Partner => matches!(
            kind,
            Kind::AddNoteOnAssigned | Kind::SetReferralStatusOnAssigned
        ),
    }
}

#[test]
fn permission_matrix_is_enforced_by_every_receiving_device() {
    for role in Role::ALL {
        for kind in KINDS {
            // 0: coordinator, 1: the author with `role`, 2: a field worker, 3: a coordinator.
            let mut t = team(&[role, Role::FieldWorker, Role::Coordinator]);
            let author = t[1].store.team().device_id();
            let case = t[0].store.add_case(&case_edits()).expect("case");
            if matches!(
                kind,
                Kind::EditAssignedCase
                    | Kind::AddNoteOnAssigned
                    | Kind::SetReferralStatusOnAssigned
            ) {
                t[0].store
                    .team_mut()
                    .assign_case(&case, &author, true)
                    .expect("assign");
            }
            for to in 1..4 {
                send(&mut t, 0, to).expect("base state");
            }
            // The author's own case, created while creating was allowed for its role.
            let own = if kind == Kind::EditOwnCase {
                let id = forged(|| t[1].store.add_case(&case_edits())).expect("own case");
                if role != Role::Partner {
                    for to in [0, 2, 3] {
                        send(&mut t, 1, to).expect("own case travels");
                    }
                }
                Some(id)
            } else {
                None
            };
            let referral = t[1].store.case(&case).expect("case").referrals[0]
                .id
                .clone();
            let target = own.unwrap_or(case);
            let before: Vec<Option<CaseRecord>> =
                (0..4).map(|i| t[i].store.case(&target).ok()).collect();
            // The author's device makes the change with its own checks off.
            let made = forged(|| -> Result<Option<CaseId>> {
                let s = &mut t[1].store;
                match kind {
                    Kind::CreateCase => s.add_case(&case_edits()).map(Some),
                    Kind::EditOwnCase | Kind::EditAssignedCase | Kind::EditOthersCase => s
                        .update_case(&target, &[Edit::set(ScalarField::CaseStatus, "FollowUp")])
                        .map(|()| None),
                    Kind::AddNoteOnAssigned => s
                        .update_case(&case, &[Edit::note("shelter confirmed a bed for tonight")])
                        .map(|()| None),
                    Kind::SetReferralStatusOnAssigned => s
                        .update_case(
                            &case,
                            &[Edit::SetReferralStatus {
                                referral: referral.clone(),
                                status: "Accepted".into(),
                            }],
                        )
                        .map(|()| None),
                    Kind::EraseCase => s
                        .erase_case(&case, ErasureReason::RetentionExpired)
                        .map(|()| None),
                }
            })
            .expect("the author's device makes the change");
            // Its own check agrees with the matrix.
            let local = match kind {
                Kind::CreateCase => t[1].store.check_local_rights(None, &[]),
                Kind::EraseCase => t[1].store.check_may_erase(),
                _ => t[1]
                    .store
                    .check_local_rights(Some(&target), &[Edit::note("x")])
                    .and_then(|()| match kind {
                        Kind::AddNoteOnAssigned | Kind::SetReferralStatusOnAssigned => Ok(()),
                        _ => t[1].store.check_local_rights(
                            Some(&target),
                            &[Edit::set(ScalarField::CaseStatus, "FollowUp")],
                        ),
                    }),
            };
            assert_eq!(
                local.is_ok(),
                allowed(role, kind),
                "{role:?} {kind:?}: the author's own device decides like the others"
            );
            for to in [0, 2, 3] {
                let report = send(&mut t, 1, to).expect("the bundle is accepted");
                let ok = allowed(role, kind);
                let what = format!("{role:?} {kind:?} on device {to}");
                match kind {
                    Kind::CreateCase => {
                        let new = made.expect("new case id");
                        assert_eq!(t[to].store.case(&new).is_ok(), ok, "{what}");
                    }
                    Kind::EraseCase => {
                        assert_eq!(t[to].store.case(&case).is_err(), ok, "{what}");
                    }
                    _ => {
                        let after = t[to].store.case(&target).ok();
                        assert_eq!(after != before[to], ok, "{what}");
                    }
                }
                if !ok {
                    assert!(report.cases_refused >= 1, "{what}: refusal is reported");
                }
            }
        }
    }
}

#[test]
fn only_coordinators_change_membership_on_every_device() {
    // 0: coordinator, 1: field worker, 2: partner, 3: observer field worker.
    let mut t = team(&[Role::FieldWorker, Role::Partner, Role::FieldWorker]);
    let ids: Vec<DeviceId> = t.iter().map(|d| d.store.team().device_id()).collect();
    let case = t[0].store.add_case(&case_edits()).expect("case");
    send(&mut t, 0, 3).expect("case");
    for author in [1, 2] {
        // The store refuses locally...
        assert!(matches!(
            t[author].store.team_mut().revoke(&ids[0]),
            Err(Error::NotPermitted { .. })
        ));
        assert!(matches!(
            t[author].store.team_mut().invite(Role::Coordinator),
            Err(Error::NotPermitted { .. })
        ));
        // ...and records forged by a modified app have no effect anywhere.
        let me = &t[author].store.identity;
        let mut g = t[author].store.group().expect("group").clone();
        for op in [
            MemberOp::SetRole {
                member: B32(ids[author].0),
                role: Role::Coordinator,
            },
            MemberOp::Revoke {
                member: B32(ids[0].0),
            },
            MemberOp::Assign {
                case,
                member: B32(ids[author].0),
                assigned: true,
            },
            MemberOp::Invite {
                invite: B32([7; 32]),
                role: Role::Coordinator,
            },
        ] {
            g.append(me, op).expect("append");
        }
        t[author]
            .store
            .write_sync(vec![SyncDelta::Group(g)])
            .expect("write");
        for to in [0, 3] {
            let before = t[to].store.team().members();
            let assigned = t[to].store.group().expect("g").view().assigned.clone();
            send(&mut t, author, to).expect("accepted as a message");
            assert_eq!(
                t[to].store.team().members(),
                before,
                "roles and members unchanged"
            );
            assert_eq!(t[to].store.group().expect("g").view().assigned, assigned);
        }
    }
    // A coordinator's changes do take effect everywhere.
    t[0].store
        .team_mut()
        .set_role(&ids[1], Role::Coordinator)
        .expect("promote");
    send(&mut t, 0, 3).expect("sync");
    let m = t[3].store.team().members();
    assert_eq!(
        m.iter().find(|m| m.device == ids[1]).map(|m| m.role),
        Some(Role::Coordinator)
    );
    assert_eq!(
        t[1].store.team().role(),
        Some(Role::FieldWorker),
        "until it syncs"
    );
    send(&mut t, 0, 1).expect("sync");
    assert_eq!(t[1].store.team().role(), Some(Role::Coordinator));
}

#[test]
fn a_revoked_device_reads_nothing_new_and_is_refused_and_its_late_edits_are_quarantined() {
    // 0: coordinator, 1: field worker, 2: field worker (the seized phone R), 3: coordinator.
    let mut t = team(&[Role::FieldWorker, Role::FieldWorker, Role::Coordinator]);
    let r = t[2].store.team().device_id();
    let case = t[2].store.add_case(&case_edits()).expect("R's case");
    for to in [0, 1, 3] {
        send(&mut t, 2, to).expect("R's case travels");
    }
    // Before anyone hears of the revocation, R edits its case and hands the edit to
    // device 1 (which cannot know yet).
    t[2].store
        .update_case(&case, &[Edit::note("late edit from the seized phone")])
        .expect("edit");
    send(&mut t, 2, 1).expect("device 1 takes it");
    // The coordinator revokes R: a new key epoch, sealed to everyone else.
    t[0].store.team_mut().revoke(&r).expect("revoke");
    assert_eq!(
        t[0].store
            .group()
            .expect("g")
            .current_key()
            .expect("k")
            .epoch,
        1
    );
    let secret_case = t[0]
        .store
        .add_case(&[Edit::note("written after the revocation")])
        .expect("case");
    let bundle = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    // R, with its real keys, opens no envelope sealed after the revocation...
    let parts = crate::sync::envelope::split(&bundle).expect("split");
    let main = parts.last().expect("main");
    let r_group = t[2].store.group().expect("R's group").clone();
    for key in r_group.all_keys() {
        let parsed = crate::sync::envelope::parse(main).expect("parse");
        assert!(crate::sync::envelope::open(&parsed, &key).is_err());
    }
    // What R sends from now on (it does not know yet) is refused everywhere.
    let from_r = t[2]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("R still seals with the old key");
    t[1].store.import_bundle(&bundle).expect("device 1 learns");
    for to in [0, 1] {
        assert!(matches!(
            t[to].store.import_bundle(&from_r),
            Err(Error::Rejected { .. })
        ));
    }
    // ...and importing the bundle tells R only that it was revoked.
    // The import is refused whole (nothing is written), with the reason.
    match t[2].store.import_bundle(&bundle) {
        Err(Error::NotPermitted { reason, .. }) => assert!(reason.contains("revoked"), "{reason}"),
        other => panic!("R's import: {other:?}"),
    }
    assert!(t[2].store.case(&secret_case).is_err());
    assert!(
        t[2].store
            .group()
            .expect("g")
            .current_key()
            .map(|k| k.epoch)
            .unwrap_or(0)
            == 0,
        "R holds no key for epoch 1"
    );
    // The others open it (the new key reaches them inside, sealed to their X25519 keys).
    for to in [1, 3] {
        t[to].store.import_bundle(&bundle).expect("import");
        assert!(t[to].store.case(&secret_case).is_ok());
        assert_eq!(
            t[to]
                .store
                .group()
                .expect("g")
                .current_key()
                .expect("k")
                .epoch,
            1
        );
    }
    // R's late edit, forwarded by device 1, is quarantined on devices that did not have it.
    let notes_before = t[3].store.case(&case).expect("case").notes.len();
    let report = send(&mut t, 1, 3).expect("forwarded");
    assert_eq!(report.changes_quarantined, 1);
    assert_eq!(
        t[3].store.case(&case).expect("case").notes.len(),
        notes_before
    );
    let q = t[3].store.team().quarantined();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].case, q[0].changes, q[0].authors.clone()),
        (case, 1, vec![r])
    );
    // A field worker cannot decide; a coordinator accepts, and every device follows.
    send(&mut t, 1, 0).expect("forwarded");
    assert!(matches!(
        t[1].store.team_mut().resolve_quarantine(&case, true),
        Err(Error::InvalidInput { .. } | Error::NotPermitted { .. })
    ));
    let applied = t[3]
        .store
        .team_mut()
        .resolve_quarantine(&case, true)
        .expect("accept");
    assert_eq!(applied.changes_applied, 1);
    assert_eq!(
        t[3].store.case(&case).expect("case").notes.len(),
        notes_before + 1
    );
    assert!(t[3].store.team().quarantined().is_empty());
    assert_eq!(t[0].store.team().quarantined().len(), 1);
    let report = send(&mut t, 3, 0).expect("the decision travels");
    assert_eq!(report.changes_applied, 1);
    assert!(t[0].store.team().quarantined().is_empty());
    assert_eq!(
        t[0].store.case(&case).expect("case"),
        t[3].store.case(&case).expect("case")
    );
}

#[test]
fn a_member_who_joined_during_a_rotation_gets_the_new_key_from_a_coordinator() {
    // 0 and 1 coordinators; 2 a field worker to revoke.
    let mut t = team(&[Role::Coordinator, Role::FieldWorker]);
    let r = t[2].store.team().device_id();
    // While apart: 1 invites a newcomer (keys of epoch 0), 0 revokes device 2 (epoch 1).
    let inv = t[1]
        .store
        .team_mut()
        .invite(Role::FieldWorker)
        .expect("invite");
    let mut newcomer = device();
    newcomer
        .store
        .team_mut()
        .join_group(inv.as_text(), "Newcomer")
        .expect("join");
    t[0].store.team_mut().revoke(&r).expect("revoke");
    // The newcomer reaches device 1, which now meets the rotation from device 0.
    let hello = newcomer
        .store
        .export_bundle(BundleScope::Everything)
        .expect("hello");
    t[1].store
        .import_bundle(&hello)
        .expect("1 learns of the newcomer");
    send(&mut t, 0, 1).expect("1 learns of the rotation");
    // Device 1, a coordinator, delivered epoch 1 to the newcomer in the log.
    let b = t[1]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    newcomer.store.import_bundle(&b).expect("newcomer imports");
    assert_eq!(
        newcomer
            .store
            .group()
            .expect("g")
            .current_key()
            .expect("k")
            .epoch,
        1
    );
    assert_eq!(
        newcomer.store.team().members().len(),
        t[1].store.team().members().len(),
        "same membership"
    );
}

#[test]
fn partner_invitations_carry_no_group_key() {
    let mut t = [device(), device()];
    t[0].store
        .team_mut()
        .create_group("Border team", "Coordinator")
        .expect("group");
    let inv = t[0].store.team_mut().invite(Role::Partner).expect("invite");
    t[1].store
        .team_mut()
        .join_group(inv.as_text(), "Shelter, Istanbul")
        .expect("join");
    // Its join (under the invitation's welcome key) reaches the coordinator, who
    // admits it: with no key.
    let join = t[1]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join message");
    t[0].store.import_bundle(&join).expect("admitted");
    let case = t[0].store.add_case(&case_edits()).expect("case");
    let b = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    assert!(matches!(
        t[1].store.import_bundle(&b),
        Err(Error::NotForThisDevice)
    ));
    assert!(t[1].store.case(&case).is_err());
    assert!(t[1].store.group().expect("g").current_key().is_err());
}

/// Every file of a store directory, byte for byte.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = fs::read(&path).expect("read");
                out.insert(path, bytes);
            }
        }
    }
    out
}

/// Imports `bytes` into `to`, which must refuse it and keep every byte of its store.
fn refused_unchanged(to: &mut Device, bytes: &[u8], what: &str) -> Error {
    let before = snapshot(to.store.dir());
    let err = match to.store.import_bundle(bytes) {
        Err(e) => e,
        Ok(r) => panic!("{what}: accepted ({r:?})"),
    };
    assert!(
        snapshot(to.store.dir()) == before,
        "{what}: refused ({err:?}) but the store changed"
    );
    // A live session refuses it the same way, and writes nothing either.
    let mut session = to.store.live_accept().expect("accept");
    assert!(
        to.store.live_receive(&mut session, bytes).is_err(),
        "{what}: live"
    );
    assert!(
        snapshot(to.store.dir()) == before,
        "{what}: live changed the store"
    );
    err
}

/// Observation 5 of issue 13: on every refusal path of bundle and live import, the
/// store's files are byte-identical afterwards.
#[test]
fn refused_inputs_change_no_byte_of_the_store() {
    let mut t = team(&[Role::FieldWorker, Role::FieldWorker, Role::Coordinator]);
    let case = t[0].store.add_case(&case_edits()).expect("case");
    for to in 1..4 {
        send(&mut t, 0, to).expect("sync");
        // Once each device has sent under the group key, the coordinator stops adding
        // its admission (under the invitation's welcome key) to its bundles.
        send(&mut t, to, 0).expect("sync back");
    }
    // Damaged bytes of a good bundle, cut and flipped.
    let good = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    for i in (0..good.len()).step_by(97) {
        let mut bad = good.clone();
        bad[i] ^= 0x04;
        refused_unchanged(&mut t[1], &bad, &format!("flip at {i}"));
    }
    refused_unchanged(&mut t[1], &good[..good.len() / 2], "cut");
    // A bundle of another group.
    let mut other = team(&[]);
    other[0].store.add_case(&case_edits()).expect("case");
    let foreign = other[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    refused_unchanged(&mut t[1], &foreign, "another group");
    // An invitation used a second time: the second device's join message.
    let inv = t[0]
        .store
        .team_mut()
        .invite(Role::FieldWorker)
        .expect("invite");
    let (mut x, mut e) = (device(), device());
    x.store
        .team_mut()
        .join_group(inv.as_text(), "X")
        .expect("join");
    e.store
        .team_mut()
        .join_group(inv.as_text(), "E")
        .expect("join");
    let x_join = x
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join");
    let e_join = e
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join");
    t[0].store.import_bundle(&x_join).expect("X admitted");
    let err = refused_unchanged(&mut t[0], &e_join, "invitation used again");
    assert!(err.to_string().contains("was used again by"), "{err}");
    // ...given to a member that is not a coordinator, and to the admitted device.
    let reply = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("reply");
    x.store.import_bundle(&reply).expect("X gets the key");
    refused_unchanged(&mut x, &e_join, "join given to the admitted device");
    // The coordinator's bundle to the second device: it reads nothing, keeps nothing.
    refused_unchanged(&mut e, &reply, "the team's bundle to the second device");
    assert!(e.store.case(&case).is_err());
    // A revoked device: what it sends is refused, and what it is sent too.
    let r = t[2].store.team().device_id();
    t[0].store.team_mut().revoke(&r).expect("revoke");
    send(&mut t, 0, 1).expect("device 1 learns");
    let from_r = t[2]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("old key");
    refused_unchanged(&mut t[0], &from_r, "revoked sender at the coordinator");
    refused_unchanged(&mut t[1], &from_r, "revoked sender at a member");
    let after = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("bundle");
    refused_unchanged(&mut t[2], &after, "the revoked device");
}

/// Observation 4 of issue 13: a revoked device reads nothing written after its
/// revocation, membership records included: not the name, nor the device key, of a
/// member added since, in any envelope of any bundle, with any key it holds.
#[test]
fn a_revoked_device_learns_nothing_of_members_added_after_its_revocation() {
    let mut t = team(&[Role::FieldWorker, Role::FieldWorker]);
    let r = t[2].store.team().device_id();
    let r_group = t[2].store.group().expect("g").clone();
    t[0].store.team_mut().revoke(&r).expect("revoke");
    // A newcomer joins after the revocation.
    let mut n = device();
    let inv = t[0]
        .store
        .team_mut()
        .invite(Role::FieldWorker)
        .expect("invite");
    n.store
        .team_mut()
        .join_group(inv.as_text(), "Nurlan, Turkistan")
        .expect("join");
    let join = n
        .store
        .export_bundle(BundleScope::Everything)
        .expect("join");
    t[0].store.import_bundle(&join).expect("admit");
    let reply = t[0]
        .store
        .export_bundle(BundleScope::Everything)
        .expect("reply");
    n.store
        .import_bundle(&reply)
        .expect("newcomer gets the key");
    // Device 1 has not heard of the rotation: it still gets in through the key update.
    let bundles = [
        t[0].store
            .export_bundle(BundleScope::Everything)
            .expect("bundle"),
        t[0].store
            .export_bundle(BundleScope::SinceLast("usb".into()))
            .expect("bundle"),
    ];
    t[1].store
        .import_bundle(&bundles[0])
        .expect("member catches up");
    assert_eq!(
        t[1].store.team().members().len(),
        t[0].store.team().members().len()
    );
    let secret_id = n.store.team().device_id();
    let me = &t[2].store.identity;
    for bundle in &bundles {
        for part in crate::sync::envelope::split(bundle).expect("split") {
            for key in r_group.all_keys() {
                let Ok((_, payload)) = crate::sync::open_message(part, |_, _| Some(key.clone()))
                else {
                    continue;
                };
                let plain = cbor(&payload).expect("cbor");
                assert!(
                    !plain.windows(32).any(|w| w == secret_id.0),
                    "the newcomer's device key reached the revoked device"
                );
                assert!(
                    !plain.windows(6).any(|w| w == b"Nurlan"),
                    "the newcomer's name reached the revoked device"
                );
                assert!(r_group.open_offered(me, &payload.keys).is_empty());
            }
        }
    }
}

/// Protocol §12: only the creating change writes a case's `schema`, `id` and
/// `created_at`. A coordinator's modified app that rewrites one of them is refused by
/// every receiving device (a coordinator and a field worker), and the refusal changes
/// no byte of their stores.
#[test]
fn not_even_a_coordinator_rewrites_a_case_identity() {
    use automerge::ScalarValue;
    let rewrites = [
        ("created_at", ScalarValue::Timestamp(1)),
        ("schema", ScalarValue::Uint(99)),
        ("id", ScalarValue::Bytes(vec![9; 16])),
    ];
    for (key, value) in rewrites {
        // 0: coordinator (creates the case), 1: coordinator (the forger), 2: field worker.
        let mut t = team(&[Role::Coordinator, Role::FieldWorker]);
        let case = t[0].store.add_case(&case_edits()).expect("case");
        for to in 1..3 {
            send(&mut t, 0, to).expect("sync");
            send(&mut t, to, 0).expect("sync back");
        }
        send(&mut t, 0, 1).expect("settle");
        send(&mut t, 0, 2).expect("settle");
        // An honest edit by the forger travels (the control: the path is open).
        t[1].store
            .update_case(&case, &[Edit::set(ScalarField::CaseStatus, "FollowUp")])
            .expect("edit");
        for to in [0, 2] {
            let old = t[to].store.case(&case).expect("case");
            send(&mut t, 1, to).expect("honest edit");
            assert_ne!(t[to].store.case(&case).expect("case"), old, "device {to}");
        }
        {
            let s = &mut t[1].store;
            let mut doc = s.take_doc(&case).expect("doc");
            doc.forge_root_put(key, value.clone(), &s.identity)
                .expect("forged change");
            s.persist(case, &mut doc, false).expect("forger stores it");
        }
        let bundle = t[1]
            .store
            .export_bundle(BundleScope::Everything)
            .expect("bundle");
        for to in [0, 2] {
            let before = snapshot(t[to].store.dir());
            let record = t[to].store.case(&case).expect("case");
            let report = t[to]
                .store
                .import_bundle(&bundle)
                .expect("the rest is read");
            assert!(
                report.cases_refused >= 1,
                "{key} on device {to}: {report:?}"
            );
            assert!(
                snapshot(t[to].store.dir()) == before,
                "{key} on device {to}: refused but the store changed"
            );
            assert_eq!(t[to].store.case(&case).expect("case"), record);
        }
    }
}
