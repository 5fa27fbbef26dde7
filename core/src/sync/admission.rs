//! Which `Admit` binds a single-use invitation that was admitted more than once
//! (decision 0016, "Two admissions of one invitation").
//!
//! Two `Admit` records on one invitation exist only when coordinators' devices were
//! apart: two coordinators admitted different devices, or a coordinator's phone was
//! restored from a copy taken before it admitted the first device and admitted a
//! second one. Every device ranks the `Admit` records of such an invitation the same
//! way, from the records alone:
//!
//! 1. an `Admit` that is *anchored* comes first: a membership record written by the
//!    device it admits descends from it (the device published its keys after it was
//!    admitted), so a device that has acted as a member in the log is never replaced
//!    by one that has not. No record is written for this alone: a record more per
//!    admission made every later sync send the whole log (edit sync 3,030 B);
//! 2. then the earlier admission time (`at`, written by the coordinator: a phone
//!    restored from an older copy admits its second device *after* the first device
//!    was admitted, so the first admission wins even once both devices used it);
//! 3. then the order of the log (causal, then record hash).
//!
//! The first `Admit` in this ranking that is valid at its place in the log binds the
//! invitation; the devices the others name are *displaced*: listed as cut off (their
//! changes are quarantined like a revoked device's), reported to coordinators as
//! having used the invitation again, and the group key rotates without them.

use std::collections::{BTreeMap, BTreeSet};

use super::group::{MemberOp, MemberRecord};

/// For each invitation with more than one `Admit` record in `order`, the hashes of
/// its `Admit` records, best first. `order` is the log in its deterministic order
/// (hash, record); `children` maps a record's hash to the records naming it as parent.
pub(super) fn ranked_admits(
    order: &[([u8; 32], &MemberRecord)],
    children: &BTreeMap<[u8; 32], Vec<[u8; 32]>>,
) -> BTreeMap<[u8; 32], Vec<[u8; 32]>> {
    type Candidate = (usize, u64, [u8; 32], [u8; 32]);
    let mut by_invite: BTreeMap<[u8; 32], Vec<Candidate>> = BTreeMap::new();
    for (pos, (h, r)) in order.iter().enumerate() {
        if let MemberRecord::Op {
            op: MemberOp::Admit {
                invite, member, at, ..
            },
            ..
        } = r
        {
            by_invite.entry(invite.0).or_default().push((
                pos,
                at.unwrap_or(u64::MAX),
                *h,
                member.0,
            ));
        }
    }
    by_invite.retain(|_, admits| admits.len() > 1);
    if by_invite.is_empty() {
        return BTreeMap::new();
    }
    let authors: BTreeMap<[u8; 32], [u8; 32]> = order
        .iter()
        .filter_map(|(h, r)| match r {
            MemberRecord::Op { author, .. } => Some((*h, author.0)),
            _ => None,
        })
        .collect();
    by_invite
        .into_iter()
        .map(|(invite, admits)| {
            let mut ranked: Vec<(bool, u64, usize, [u8; 32])> = admits
                .into_iter()
                .map(|(pos, at, h, member)| (!anchored(h, &member, children, &authors), at, pos, h))
                .collect();
            ranked.sort();
            (invite, ranked.into_iter().map(|(.., h)| h).collect())
        })
        .collect()
}

/// Whether a record written by `member` descends from the record `admit`.
fn anchored(
    admit: [u8; 32],
    member: &[u8; 32],
    children: &BTreeMap<[u8; 32], Vec<[u8; 32]>>,
    authors: &BTreeMap<[u8; 32], [u8; 32]>,
) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![admit];
    while let Some(h) = todo.pop() {
        for c in children.get(&h).into_iter().flatten() {
            if !seen.insert(*c) {
                continue;
            }
            if authors.get(c) == Some(member) {
                return true;
            }
            todo.push(*c);
        }
    }
    false
}
