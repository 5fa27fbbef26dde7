//! What each role may change in a case, checked by every device that receives changes.
//!
//! | role | may change |
//! |---|---|
//! | coordinator | any case, any field but the case's identity (below) |
//! | field worker | cases it created (it wrote the case's first change) or that a coordinator assigned to it |
//! | partner | only referrals and notes, only on cases assigned to it; never creates a case |
//!
//! And for everybody, coordinators included: a case is created by exactly one change
//! (the only one without dependencies), and its `schema`, `id` and `created_at` are
//! never written again (a later change that writes one is refused), so
//! the creator read from the document is the device that really created it.
//!
//! Changes by revoked devices never get here: the ingest quarantines them, and applies
//! them only once a coordinator accepted them ([`super::MemberOp::Resolve`]), which
//! this check then honours.

use automerge::{legacy, AutoCommit, Change, ReadDoc, ROOT};

use super::group::{Membership, Role};
use super::DeviceId;
use crate::error::{Error, Result};
use crate::model::CaseId;

/// Root keys written once, by the change that creates the case.
const IMMUTABLE: &[&str] = &["schema", "id", "created_at"];
/// What a partner may change.
const PARTNER_FIELDS: &[&str] = &["referrals", "notes"];

/// Checks `new` changes, already applied to `doc` (a staging copy), against the
/// authors' rights. `was_empty`: the device had no change of this case before.
pub(crate) fn check_changes(
    view: &Membership,
    case: &CaseId,
    was_empty: bool,
    doc: &mut AutoCommit,
    new: &[&Change],
) -> Result<()> {
    let roots = new
        .iter()
        .filter(|c| c.deps().is_empty())
        .map(|c| c.hash())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if roots > 1 || (roots == 1 && !was_empty) {
        return Err(refused(
            case,
            "a change tries to create the case a second time",
        ));
    }
    let creator = creator(view, doc);
    for c in new {
        let Some((author, info)) = view.by_actor(c.actor_id().to_bytes()) else {
            return Err(refused(
                case,
                "a change was written by a device that is not a member",
            ));
        };
        // Whatever the role, and even accepted from quarantine: only the creating
        // change writes the case's identity.
        if !c.deps().is_empty() && touches_immutable(c) {
            return Err(refused(case, "a change rewrites the case's identity"));
        }
        if view.resolved.get(&c.hash().0) == Some(&true) {
            continue; // a coordinator accepted it from quarantine
        }
        match info.role {
            Role::Coordinator => {}
            Role::FieldWorker => {
                if creator != Some(author) && !view.is_assigned(case, &author) {
                    return Err(refused(
                        case,
                        "a field worker changed a case it neither created nor was assigned",
                    ));
                }
            }
            Role::Partner => {
                if !view.is_assigned(case, &author) {
                    return Err(refused(
                        case,
                        "a partner changed a case that was not shared with it",
                    ));
                }
                if c.deps().is_empty() {
                    return Err(refused(case, "a partner may not create cases"));
                }
                for op in c.decode().operations {
                    let field = top_level_field(doc, &op.obj);
                    if !field.is_some_and(|f| PARTNER_FIELDS.contains(&f.as_str())) {
                        return Err(refused(
                            case,
                            "a partner changed a field other than referrals and notes",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The device that wrote the case's `id` (the creating change).
fn creator(view: &Membership, doc: &AutoCommit) -> Option<DeviceId> {
    match doc.get(ROOT, "id").ok().flatten() {
        Some((_, automerge::ObjId::Id(_, actor, _))) => {
            view.by_actor(actor.to_bytes()).map(|(d, _)| d)
        }
        _ => None,
    }
}

fn touches_immutable(c: &Change) -> bool {
    c.decode().operations.iter().any(|op| {
        op.obj == legacy::ObjectId::Root
            && matches!(&op.key, legacy::Key::Map(k) if IMMUTABLE.contains(&k.as_str()))
    })
}

/// The root key under which the object `obj` lives (`None` for the root itself or an
/// object the document does not hold).
fn top_level_field(doc: &AutoCommit, obj: &legacy::ObjectId) -> Option<String> {
    let legacy::ObjectId::Id(id) = obj else {
        return None;
    };
    let exid = doc.import_obj(&format!("{}@{}", id.0, id.1)).ok()?;
    let last = doc.parents(&exid).ok()?.last()?;
    match last.prop {
        automerge::Prop::Map(k) if last.obj == ROOT => Some(k),
        _ => None,
    }
}

/// The ingest refuses this case's changes and goes on with the rest of the payload.
fn refused(case: &CaseId, why: &str) -> Error {
    Error::NotPermitted {
        action: format!("apply changes to case {}", case.short()),
        reason: why.into(),
    }
}
