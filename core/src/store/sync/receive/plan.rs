//! The verification step of receiving: a pure function from what the store knows (by
//! shared reference) and an opened payload to a [`ReceivePlan`], or to the error that
//! refuses the whole message.
//!
//! It decides everything that does not need a case document: the merged membership
//! (and whether the sender may send at all), the notices for coordinators, which
//! erasures are accepted, every tombstone's and every change's signature (checked in
//! parallel slices), which changes apply, which wait in quarantine and which are
//! dropped (and why), which quarantined changes a coordinator's decision releases,
//! which parked changes can never apply, which applied changes are to be withdrawn and
//! which cases may hold changes of a device this message cuts off.
//!
//! It reads no file and writes nothing: no `&mut Store`, no I/O. (A key rotation a
//! coordinator owes the group draws a random key: planning the same message twice then
//! gives two different keys, both unwritten.)

use std::collections::BTreeSet;

use automerge::{AutoCommit, Change};
use serde_bytes::ByteBuf;

use super::{SignedChanges, SyncReport};
use crate::codec::{B32, B64};
use crate::parallel::{chunked, par_map_from, PARALLEL_FROM};
use crate::store::index::{PendingChange, SyncDelta, SyncState};
use crate::store::*;
use crate::sync::signatures::{self, ChangeSignature};
use crate::sync::{CaseChanges, DeviceId, GroupState, Membership, Payload};

/// How many cases' changes one worker parses and checks together (their signatures in
/// batches).
const VERIFY_SLICE: usize = 64;

/// What the plan reads of the store, all by shared reference.
pub(crate) struct Known<'a> {
    /// The group as this device holds it.
    pub(crate) group: &'a GroupState,
    /// The sync state: parked and quarantined changes.
    pub(crate) sync: &'a SyncState,
    /// Erased cases.
    pub(crate) tombstones: &'a BTreeMap<CaseId, Tombstone>,
    /// The cases this device holds (only their ids are read).
    pub(crate) cases: &'a HashMap<CaseId, Entry>,
    /// This device's identity (to open keys sealed to it and sign key deliveries).
    pub(crate) identity: &'a DeviceIdentity,
}

/// Everything the verification step decided about one message; the apply step
/// ([`Store::apply_plan`]) executes it.
pub(crate) struct ReceivePlan {
    /// The group with the message's membership records merged (and any admission, key
    /// delivery or rotation this device owes it).
    pub(crate) group: GroupState,
    /// Whether `group` differs from the stored group and must be written.
    pub(crate) group_changed: bool,
    /// The membership `group` gives: the changes are judged by it.
    pub(crate) view: Membership,
    /// The counts and lines known before any document is touched (members added,
    /// notices, refused erasures, changes on erased cases, rejected changes).
    pub(crate) report: SyncReport,
    /// Erasures accepted (signatures verified, signed by a coordinator), applied after
    /// the batch.
    pub(crate) tombstones: Vec<Tombstone>,
    /// Every case erased once the message is applied (before and by it).
    pub(crate) erased: BTreeSet<CaseId>,
    /// How many of the cases in the payload were sent (any order).
    pub(crate) sent: usize,
    /// Per case of the payload (in its order), then per case only a release touches:
    /// what to apply, quarantine and drop.
    pub(crate) cases: Vec<CasePlan>,
    /// The quarantine entries a coordinator's decision (or an erasure) changes: the
    /// changes still undecided, per case.
    pub(crate) quarantine_updates: Vec<SyncDelta>,
    /// Quarantined changes a coordinator accepted (or whose author is active again),
    /// by case: they joined the changes to apply.
    pub(crate) released: Vec<(CaseId, Vec<B32>)>,
    /// Changes a coordinator has now rejected that this device may have applied, by
    /// case: withdrawn with what builds on them.
    pub(crate) withdrawals: BTreeMap<CaseId, BTreeSet<[u8; 32]>>,
    /// Devices this message cuts off (revoked or displaced) that were active before.
    pub(crate) cut: BTreeSet<[u8; 32]>,
    /// The cases that may hold undecided changes of a device in `cut` (empty if `cut`
    /// is).
    pub(crate) cut_cases: Vec<CaseId>,
}

/// What the plan decided about one case.
pub(crate) struct CasePlan {
    /// The case.
    pub(crate) case: CaseId,
    /// Verified changes to apply: by active members, or accepted by a coordinator.
    pub(crate) apply: SignedChanges,
    /// Verified changes by revoked devices, to set aside for a coordinator (unless the
    /// case's document already holds them: the apply step checks).
    pub(crate) quarantine: SignedChanges,
    /// Changes dropped: by revoked devices, rejected by a coordinator.
    pub(crate) rejected: Vec<B32>,
    /// The whole document, if one was sent (and no change of it is held back).
    pub(crate) loaded: Option<Box<AutoCommit>>,
    /// The heads the sender declared.
    pub(crate) declared: Vec<Hash>,
    /// A case new to this device with nothing parked, quarantined or sent whole: built
    /// on the parallel first-sync path. Its position in the payload.
    pub(crate) fast: Option<usize>,
    /// A case new to this device, sent as changes, with nothing parked: built in
    /// parallel (`fast` ones first).
    pub(crate) fresh: bool,
    /// The case's parked changes that can still apply.
    pub(crate) parked: SignedChanges,
    /// Whether the case had parked changes.
    pub(crate) had_parked: bool,
    /// Parked changes dropped: they build on a change a coordinator rejected.
    pub(crate) dead: usize,
}

impl std::fmt::Debug for ReceivePlan {
    /// Everything the plan holds, changes by hash (the group by its records' digest: it
    /// holds keys).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivePlan")
            .field("group", &B32(self.group.records_digest()))
            .field("group_changed", &self.group_changed)
            .field("view", &self.view)
            .field("report", &self.report)
            .field("tombstones", &self.tombstones)
            .field("erased", &self.erased)
            .field("sent", &self.sent)
            .field("cases", &self.cases)
            .field("quarantine_updates", &self.quarantine_updates.len())
            .field("released", &self.released)
            .field("withdrawals", &self.withdrawals)
            .field("cut", &self.cut)
            .field("cut_cases", &self.cut_cases)
            .finish()
    }
}

impl std::fmt::Debug for CasePlan {
    /// The case's decisions, changes by hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hashes = |v: &SignedChanges| v.iter().map(|(c, _)| B32(c.hash().0)).collect::<Vec<_>>();
        f.debug_struct("CasePlan")
            .field("case", &self.case)
            .field("apply", &hashes(&self.apply))
            .field("quarantine", &hashes(&self.quarantine))
            .field("rejected", &self.rejected)
            .field("loaded", &self.loaded.is_some())
            .field("declared", &self.declared)
            .field("fast", &self.fast)
            .field("fresh", &self.fresh)
            .field("parked", &hashes(&self.parked))
            .field("had_parked", &self.had_parked)
            .field("dead", &self.dead)
            .finish()
    }
}

/// Whether two memberships list a different team as [`Store::members`] shows it: a
/// device more or less, or one with another name, role or active state.
fn team_differs(a: &Membership, b: &Membership) -> bool {
    a.members.len() != b.members.len()
        || a.members
            .iter()
            .zip(&b.members)
            .any(|((da, ma), (db, mb))| {
                da != db || ma.name != mb.name || ma.role != mb.role || ma.active != mb.active
            })
}

/// Verifies a payload from `sender` (opened under the single-use invitation `via`, if
/// a welcome key opened it, decision 0016) against what this device knows, and decides
/// what receiving it does; or refuses it whole. Reads nothing but its arguments.
pub(crate) fn plan(
    known: &Known<'_>,
    sender: DeviceId,
    payload: Payload,
    via: Option<B32>,
) -> Result<ReceivePlan> {
    let mut report = SyncReport::default();
    // Membership: merge, open keys sealed to us, check the sender.
    let mut group = known.group.clone();
    if via.is_some() && (!payload.cases.is_empty() || !payload.tombstones.is_empty()) {
        return Err(Error::rejected(
            "a message under an invitation's key carries case data",
        ));
    }
    let before = known.group.view();
    report.members_added = group.merge_records(payload.members);
    let mut keys_new = group.absorb_keys(known.identity);
    let mut view = group.view();
    if let Some((invite, _, name)) = view.reused.iter().find(|(_, d, _)| *d == sender) {
        return Err(Error::rejected(format!(
            "{}. The second device is not a member and can read nothing",
            reuse_notice(&view, invite, &sender, name)
        )));
    }
    // A coordinator admits a device waiting on one of its single-use invitations, the
    // first to reach it.
    if via.is_some() && view.pending.contains_key(&sender) {
        let admitted = group.admit_pending(known.identity)?;
        if admitted > 0 {
            report.members_added += admitted;
            view = group.view();
        }
    }
    // Welcome keys are kept until their device holds the group key: it sent under it,
    // or (on the joining device) the key was opened.
    let me = known.identity.id();
    for (invite, _) in group.welcome_keys() {
        let done = match view.bound.get(&invite.0) {
            Some(ds) if ds.contains(&me) => group.current_key().is_ok(),
            Some(ds) => ds.contains(&sender) && via.is_none(),
            None => false,
        };
        if done && group.forget_welcome(&invite) {
            keys_new = true;
        }
    }
    if view.active(&sender).is_none() {
        return Err(Error::rejected(if view.members.contains_key(&sender) {
            "the sending device was revoked from this group"
        } else {
            "the sender is not a member of this group"
        }));
    }
    // A coordinator rotates the key when a device that is no member holds it (one
    // revoked while another coordinator rotated), and hands the current key to members
    // who joined while it rotated.
    let rotated = group.rotate_if_exposed(known.identity)?;
    let delivered = group.deliver_keys(known.identity)? || rotated;
    let view = if delivered { group.view() } else { view };
    if view.is_coordinator(&me) {
        for (invite, device, name) in &view.reused {
            if !before
                .reused
                .iter()
                .any(|(i, d, _)| i == invite && d == device)
            {
                report
                    .notices
                    .push(reuse_notice(&view, invite, device, name));
            }
        }
        // Every coordinator that learns of a contested invitation is told, with both
        // devices: it decides by revoking the one that should not be a member.
        for (invite, devices) in &view.contested {
            if before.contested.get(invite) != Some(devices) {
                report.notices.push(contest_notice(&view, invite, devices));
            }
        }
    }
    // Erasures: every signature verified, a member's erasure without the right refused.
    let mut tombstones = Vec::new();
    for t in payload.tombstones {
        if known.tombstones.contains_key(&t.case)
            || tombstones.iter().any(|x: &Tombstone| x.case == t.case)
        {
            continue;
        }
        let signer = t
            .signature
            .as_ref()
            .filter(|s| DeviceId(s.by).verify(&t.signed_bytes(), &s.sig))
            .map(|s| DeviceId(s.by))
            .ok_or_else(|| Error::rejected("an erasure's signature does not verify"))?;
        if view.members.contains_key(&signer) && !view.is_coordinator(&signer) {
            // A member erasing without the right: refused, the rest goes on.
            report.cases_refused += 1;
            continue;
        }
        if !view.members.contains_key(&signer) {
            return Err(Error::rejected("an erasure is not signed by a member"));
        }
        tombstones.push(t);
    }
    let erased: BTreeSet<CaseId> = known
        .tombstones
        .keys()
        .chain(tombstones.iter().map(|t| &t.case))
        .copied()
        .collect();
    let (wanted, ignored): (Vec<CaseChanges>, Vec<CaseChanges>) = payload
        .cases
        .into_iter()
        .partition(|cc| !erased.contains(&cc.case));
    report.ignored_erased += ignored.len();
    let on_erased: usize = ignored
        .iter()
        .map(|cc| cc.changes.len().max(usize::from(cc.doc.is_some())))
        .sum();
    if on_erased > 0 {
        report.changes_dropped += on_erased;
        report.dropped.push(format!(
            "{on_erased} change(s) on {} case(s) erased on this team",
            ignored.len()
        ));
    }
    // Parsing and signature checks are independent per case: spread them over cores, a
    // slice of cases at a time so that their signatures are checked in batches
    // (`crate::sync::signatures`). Changes by revoked devices are set aside for
    // quarantine unless a coordinator already accepted (or rejected) them.
    let eligible = |cc: &CaseChanges| {
        cc.doc.is_none()
            && !known.cases.contains_key(&cc.case)
            && !known.sync.pending.contains_key(&cc.case)
            && !known.sync.quarantine.contains_key(&cc.case)
    };
    let verify = |slice: Vec<(usize, bool, CaseChanges)>| -> Result<Vec<CasePlan>> {
        let mut checks = Vec::new();
        let mut out = Vec::with_capacity(slice.len());
        for (i, eligible, cc) in slice {
            let (changes, loaded) = parse_changes(cc.doc.as_deref(), cc.changes, &cc.sigs)?;
            let mut apply = Vec::with_capacity(changes.len());
            let mut quarantine = Vec::new();
            let mut rejected = Vec::new();
            for (c, sig) in changes {
                let (author, info) = view.by_actor(c.actor_id().to_bytes()).ok_or_else(|| {
                    Error::rejected("a change was written by a device that is not a member")
                })?;
                checks.push(ChangeSignature {
                    author,
                    message: crate::sync::change_message(&cc.case, &c.hash().0),
                    signature: sig,
                });
                match (info.active, view.resolved.get(&c.hash().0)) {
                    (true, _) | (false, Some(true)) => apply.push((c, sig)),
                    (false, Some(false)) => rejected.push(B32(c.hash().0)),
                    (false, None) => quarantine.push((c, sig)),
                }
            }
            // A whole document with held-back changes is applied change by change.
            let loaded = if quarantine.is_empty() { loaded } else { None };
            let fast = (eligible && quarantine.is_empty() && loaded.is_none()).then_some(i);
            out.push(CasePlan {
                case: cc.case,
                apply,
                quarantine,
                rejected,
                loaded,
                declared: cc.heads,
                fast,
                fresh: false,
                parked: Vec::new(),
                had_parked: false,
                dead: 0,
            });
        }
        if !signatures::all_valid(&checks) {
            return Err(Error::rejected(
                "a change's author signature does not verify",
            ));
        }
        Ok(out)
    };
    // Slices of at most VERIFY_SLICE cases, at least two of them once the payload is
    // large enough to share out.
    let sent = wanted.len();
    let slice = if wanted.len() < PARALLEL_FROM {
        wanted.len().max(1)
    } else {
        VERIFY_SLICE.min(wanted.len().div_ceil(2))
    };
    let slices = chunked(
        wanted
            .into_iter()
            .enumerate()
            .map(|(i, cc)| (i, eligible(&cc), cc))
            .collect(),
        slice,
    );
    let mut cases: Vec<CasePlan> = Vec::with_capacity(sent);
    for slice in par_map_from(slices, 2, verify) {
        cases.extend(slice?);
    }
    let rejected: usize = cases.iter().map(|c| c.rejected.len()).sum();
    if rejected > 0 {
        report.changes_dropped += rejected;
        report.dropped.push(format!(
            "{rejected} change(s) by revoked devices that a coordinator rejected"
        ));
    }
    // Quarantined changes a coordinator has now accepted join the changes to apply.
    let mut quarantine_updates = Vec::new();
    let mut released: Vec<(CaseId, SignedChanges)> = Vec::new();
    for (case, q) in &known.sync.quarantine {
        if erased.contains(case) {
            // Nothing left to decide on an erased case.
            quarantine_updates.push(quarantine_delta(*case, &[]));
            continue;
        }
        let all = signed(q);
        // An author active again (a revocation the log's order now places after one
        // of the revoking coordinator, so it no longer counts) is no longer cut off:
        // its changes leave the quarantine and apply, as on every device that never
        // held them there (red team round 3 M1).
        // (Changes by an author active all along are there because they lost a
        // clash: the clash rule settles them whenever their case is received.)
        let active_again = |c: &Change| {
            view.by_actor(c.actor_id().to_bytes())
                .is_some_and(|(d, m)| m.active && !before.members.get(&d).is_some_and(|b| b.active))
        };
        let (decided, open): (SignedChanges, SignedChanges) = all
            .into_iter()
            .partition(|(c, _)| view.resolved.contains_key(&c.hash().0) || active_again(c));
        if decided.is_empty() {
            continue;
        }
        let accepted: SignedChanges = decided
            .into_iter()
            .filter(|(c, _)| match view.resolved.get(&c.hash().0) {
                Some(accept) => *accept,
                None => true,
            })
            .collect();
        quarantine_updates.push(quarantine_delta(*case, &open));
        if !accepted.is_empty() {
            released.push((*case, accepted));
        }
    }
    let released_hashes = released
        .iter()
        .map(|(case, v)| (*case, v.iter().map(|(c, _)| B32(c.hash().0)).collect()))
        .collect();
    for (case, changes) in released {
        match cases.iter_mut().find(|v| v.case == case) {
            Some(v) => {
                v.apply.extend(changes);
                v.loaded = None;
            }
            None => cases.push(CasePlan {
                case,
                apply: changes,
                quarantine: Vec::new(),
                rejected: Vec::new(),
                loaded: None,
                declared: Vec::new(),
                fast: None,
                fresh: false,
                parked: Vec::new(),
                had_parked: false,
                dead: 0,
            }),
        }
    }
    for cp in &mut cases {
        cp.fresh = cp.loaded.is_none()
            && !known.cases.contains_key(&cp.case)
            && !known.sync.pending.contains_key(&cp.case);
        // Parked changes that build on a change a coordinator rejected can never apply
        // (and an author's later change may reuse their sequence number): dropped, as
        // on every device that learns of the rejection.
        let parked = signed(known.sync.pending.get(&cp.case).map_or(&[], Vec::as_slice));
        cp.had_parked = !parked.is_empty();
        (cp.parked, cp.dead) = without_rejected(parked, &view.resolved);
    }
    // Changes a coordinator has now rejected, applied here before this device knew of
    // their author's revocation: withdrawn, with the changes that build on them
    // (decision 0020).
    let mut withdrawals: BTreeMap<CaseId, BTreeSet<[u8; 32]>> = BTreeMap::new();
    for (h, accept) in &view.resolved {
        if !accept && before.resolved.get(h) != Some(&false) {
            if let Some(case) = view.resolved_case.get(h) {
                if !erased.contains(case) && known.cases.contains_key(case) {
                    withdrawals.entry(*case).or_default().insert(*h);
                }
            }
        }
    }
    // Devices this message shows cut off (revoked, or displaced): their changes that no
    // coordinator decided leave the cases that hold them (decision 0020).
    let cut: BTreeSet<[u8; 32]> = view
        .members
        .iter()
        .filter(|(d, m)| !m.active && before.members.get(d).is_some_and(|b| b.active))
        .map(|(d, _)| d.0)
        .collect();
    let cut_cases = if cut.is_empty() {
        Vec::new()
    } else {
        known
            .cases
            .keys()
            .filter(|c| !erased.contains(c))
            .copied()
            .collect()
    };
    let group_changed = report.members_added > 0 || keys_new || delivered;
    report.team_changed = group_changed && team_differs(&before, &view);
    Ok(ReceivePlan {
        group,
        group_changed,
        view,
        report,
        tombstones,
        erased,
        sent,
        cases,
        quarantine_updates,
        released: released_hashes,
        withdrawals,
        cut,
        cut_cases,
    })
}

/// Held changes (parked or quarantined) with their signatures; those that no longer
/// parse are left out.
pub(crate) fn signed(held: &[PendingChange]) -> SignedChanges {
    held.iter()
        .filter_map(|PendingChange(b, s)| Change::from_bytes(b.clone()).ok().map(|c| (c, s.0)))
        .collect()
}

/// Parses the changes of one case: individual changes (signatures in order), or a
/// whole document (signatures in change-hash order).
fn parse_changes(
    doc: Option<&[u8]>,
    changes: Vec<ByteBuf>,
    sigs: &[B64],
) -> Result<(SignedChanges, Option<Box<AutoCommit>>)> {
    if let Some(bytes) = doc {
        let mut am = AutoCommit::load(bytes)
            .map_err(|_| Error::rejected("a case document does not load"))?;
        let mut all: Vec<Change> = am.get_changes(&[]);
        all.sort_by_key(|c| c.hash());
        if all.len() != sigs.len() {
            return Err(Error::rejected(
                "every change needs exactly one author signature",
            ));
        }
        let pairs = all.into_iter().zip(sigs.iter().map(|s| s.0)).collect();
        return Ok((pairs, Some(Box::new(am))));
    }
    let mut out = Vec::with_capacity(changes.len());
    for (bytes, sig) in changes.into_iter().zip(sigs) {
        let c = Change::from_bytes(bytes.into_vec())
            .map_err(|_| Error::rejected("a change does not parse"))?;
        out.push((c, sig.0));
    }
    Ok((out, None))
}

/// `changes` without those that build, directly or through one another, on a change
/// `resolved` marks rejected; and how many were left out.
fn without_rejected(
    changes: SignedChanges,
    resolved: &BTreeMap<[u8; 32], bool>,
) -> (SignedChanges, usize) {
    let mut dead: BTreeSet<[u8; 32]> = BTreeSet::new();
    loop {
        let before = dead.len();
        for (c, _) in &changes {
            if c.deps()
                .iter()
                .any(|d| resolved.get(&d.0) == Some(&false) || dead.contains(&d.0))
            {
                dead.insert(c.hash().0);
            }
        }
        if dead.len() == before {
            break;
        }
    }
    let n = dead.len();
    let kept = changes
        .into_iter()
        .filter(|(c, _)| !dead.contains(&c.hash().0))
        .collect();
    (kept, n)
}

/// "invitation … was used again by …": what a coordinator is told of a second use.
fn reuse_notice(view: &Membership, invite: &[u8; 32], device: &DeviceId, name: &str) -> String {
    let admitted = view
        .bound
        .get(invite)
        .and_then(|ds| ds.first())
        .and_then(|d| view.members.get(d).map(|m| (d, m.name.clone())));
    let (first, first_name) = admitted.map(|(d, n)| (d.short(), n)).unwrap_or_default();
    format!(
        "invitation {} was used again by device {} (\"{name}\"); it admitted device {first} \
         (\"{first_name}\") already",
        crate::sync::invitation_id(&B32(*invite)),
        device.short(),
    )
}

/// The notice of a contested invitation (decision 0022): both devices, and what a
/// coordinator does about it.
fn contest_notice(view: &Membership, invite: &[u8; 32], devices: &[DeviceId]) -> String {
    let named: Vec<String> = devices
        .iter()
        .map(|d| {
            let name = view.members.get(d).map(|m| m.name.as_str()).unwrap_or("");
            format!("device {} (\"{name}\")", d.short())
        })
        .collect();
    format!(
        "invitation {} was used again: coordinators' devices admitted {} (a copy of a \
         phone restored from a backup, or two coordinators apart); none of them has more \
         than a field worker's rights until a coordinator revokes the one that should not \
         be a member (`member revoke <device>`)",
        crate::sync::invitation_id(&B32(*invite)),
        named.join(" and "),
    )
}
