//! `caravan member`: invitations with roles, joining, the member list, revocation,
//! roles, case assignment, and quarantined changes of revoked devices.

use std::path::PathBuf;

use caravan_core::sync::{DeviceId, Member, Role};
use caravan_core::{Error, Result, Store, SyncReport};
use clap::Subcommand;
use serde_json::json;

use crate::inputs::{io, text_or_file};

/// `caravan member ...`
#[derive(Debug, Subcommand)]
pub(crate) enum MemberCommand {
    /// Create a one-time invitation admitting one device with a role (coordinators
    /// only): shown as a QR code in person, or, with --for, sealed to a join request.
    Invite {
        /// coordinator, field_worker or partner (a partner gets no group key).
        #[arg(long, default_value = "field_worker")]
        role: String,
        /// Also write it to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A join request received from afar (text, or @FILE): the invitation is sealed
        /// to it and may be sent over any channel.
        #[arg(long = "for", requires = "code")]
        request: Option<String>,
        /// The request's code, as the requester read it out over the phone.
        #[arg(long)]
        code: Option<String>,
    },
    /// Ask to join a team from afar: prints a request to send over any channel, and a
    /// code to read out over the phone to the coordinator.
    Request {
        /// A name for this device that colleagues will see (no personal data).
        #[arg(long)]
        name: String,
        /// Also write the request to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join a team with an invitation (text, or @FILE).
    Join {
        /// The invitation text, or @path/to/file.
        invitation: String,
        /// A name for this device that colleagues will see (no personal data).
        #[arg(long)]
        name: String,
    },
    /// List the team's members, their roles, and revoked devices.
    List,
    /// Revoke a device (e.g. a phone taken at a border) and rotate the team key.
    Revoke {
        /// The device's short id (from `caravan member list`) or a unique prefix of it.
        device: String,
    },
    /// Give a member another role (coordinators only).
    Role {
        /// The device's short id or a unique prefix of it.
        device: String,
        /// coordinator, field_worker or partner.
        role: String,
    },
    /// Let a field worker or partner change a case (coordinators only).
    Assign {
        /// Case id (or a unique prefix of at least 4 hex digits).
        case: String,
        /// The device's short id or a unique prefix of it.
        device: String,
        /// Take the case back instead.
        #[arg(long)]
        unassign: bool,
    },
    /// Changes by revoked devices waiting for a coordinator: list, accept or reject.
    Quarantine {
        /// `accept` or `reject` (without: list).
        decision: Option<String>,
        /// The case whose quarantined changes to decide on.
        case: Option<String>,
    },
}

/// Finds an active or revoked member by the start of its short id.
fn find_member(store: &Store, prefix: &str) -> Result<Member> {
    let p = prefix.trim().to_ascii_lowercase();
    let hits: Vec<Member> = store
        .team()
        .members()
        .into_iter()
        .filter(|m| !p.is_empty() && m.device.short().starts_with(&p))
        .collect();
    match hits.len() {
        1 => Ok(hits.into_iter().next().expect("one hit")),
        0 => Err(Error::InvalidInput {
            field: "device".into(),
            reason: format!("no member's short id starts with {p:?}; see `caravan member list`"),
        }),
        _ => Err(Error::InvalidInput {
            field: "device".into(),
            reason: format!("{p:?} matches several members; give more digits"),
        }),
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Coordinator => "coordinator",
        Role::FieldWorker => "field worker",
        Role::Partner => "partner",
    }
}

fn report_text(r: &SyncReport) -> String {
    format!(
        "{} change(s) applied to {} case(s)",
        r.changes_applied,
        r.cases_updated + r.cases_created
    )
}

/// Runs a member command.
pub(crate) fn run(store: &mut Store, json: bool, cmd: MemberCommand) -> Result<()> {
    let say = |value, text| crate::output::say(json, value, text);
    match cmd {
        MemberCommand::Invite {
            role,
            out,
            request,
            code,
        } => {
            let role = Role::from_code(&role)?;
            let (inv, how) = match (request, code) {
                (Some(request), Some(code)) => {
                    let request = text_or_file(request)?;
                    let named = store.team().read_join_request(&request)?.name().to_string();
                    (
                        store.team_mut().invite_remote(&request, role, &code)?,
                        format!(
                            "sealed to the join request of {named:?}: send it over any channel"
                        ),
                    )
                }
                _ => (
                    store.team_mut().invite(role)?,
                    "show it as a QR code, in person; it admits one device".to_string(),
                ),
            };
            if let Some(f) = &out {
                std::fs::write(f, inv.as_text()).map_err(io(f))?;
            }
            say(
                json!({"invitation": inv.as_text(), "role": role.code(), "code": inv.code(), "id": inv.id()}),
                format!(
                    "One-time invitation {} for a {} ({how}):\n{}\n\nAfter scanning, both phones show this code; compare them: {}\n\
                     It carries no team key: this device admits the first device whose bundle it imports, \
                     and hands it the key sealed to that device alone.",
                    inv.id(),
                    role_name(role),
                    inv.as_text(),
                    inv.code()
                ),
            );
        }
        MemberCommand::Request { name, out } => {
            let req = store.team().join_request(&name)?;
            if let Some(f) = &out {
                std::fs::write(f, req.as_text()).map_err(io(f))?;
            }
            say(
                json!({"request": req.as_text(), "code": req.code()}),
                format!(
                    "Join request (send it to a coordinator over any channel):\n{}\n\n\
                     Then call the coordinator and read out this code: {}\n\
                     Join with the invitation you get back: `caravan member join caravan-invite-for:… --name …`",
                    req.as_text(),
                    req.code()
                ),
            );
        }
        MemberCommand::Join { invitation, name } => {
            let text = text_or_file(invitation)?;
            let code = caravan_core::sync::invitation_code(&text)?;
            store.team_mut().join_group(&text, &name)?;
            let waiting = store.team().awaiting_admission();
            let role = store.team().role().or(waiting);
            let next = if waiting.is_some() {
                "This device waits to be admitted: export a bundle for the inviter \
                 (`caravan bundle export`), and import the bundle it answers with."
            } else {
                "Sync once with a member so they learn of this device."
            };
            say(
                json!({"joined": store.team().group_name(), "role": role.map(Role::code),
                       "admitted": waiting.is_none(), "code": code}),
                format!(
                    "Joined team {:?} as a {}. Check that the inviter's screen shows the code {code}.\n{next}",
                    store.team().group_name().unwrap_or_default(),
                    role.map(role_name).unwrap_or("member"),
                ),
            );
        }
        MemberCommand::List => {
            let members = store.team().members();
            let me = store.team().device_id();
            if json {
                let v: Vec<_> = members
                    .iter()
                    .map(|m| {
                        json!({"device": m.device.short(), "name": m.name,
                               "role": m.role.code(), "active": m.active,
                               "this_device": m.device == me})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!("Team {:?}:", store.team().group_name().unwrap_or_default());
                for m in members {
                    let mut notes = Vec::new();
                    if m.device == me {
                        notes.push("this device");
                    }
                    if !m.active {
                        notes.push("REVOKED");
                    }
                    let notes = if notes.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", notes.join(", "))
                    };
                    println!(
                        "  {}  {:<13} {}{notes}",
                        m.device.short(),
                        role_name(m.role),
                        m.name
                    );
                }
            }
        }
        MemberCommand::Revoke { device } => {
            let m = find_member(store, &device)?;
            store.team_mut().revoke(&m.device)?;
            say(
                json!({"revoked": m.device.short()}),
                format!(
                    "Revoked {} ({}). The team key was rotated: that device can read nothing written \
                     from now on, and anything it sends is refused. Sync with the team to pass it on.",
                    m.device.short(),
                    m.name
                ),
            );
        }
        MemberCommand::Role { device, role } => {
            let m = find_member(store, &device)?;
            let role = Role::from_code(&role)?;
            store.team_mut().set_role(&m.device, role)?;
            say(
                json!({"device": m.device.short(), "role": role.code()}),
                format!(
                    "{} ({}) is now a {}.",
                    m.device.short(),
                    m.name,
                    role_name(role)
                ),
            );
        }
        MemberCommand::Assign {
            case,
            device,
            unassign,
        } => {
            let id = store.resolve(&case)?;
            let m = find_member(store, &device)?;
            store.team_mut().assign_case(&id, &m.device, !unassign)?;
            say(
                json!({"case": id.to_hex(), "device": m.device.short(), "assigned": !unassign}),
                format!(
                    "Case {} {} {} ({}).",
                    id.short(),
                    if unassign {
                        "taken back from"
                    } else {
                        "assigned to"
                    },
                    m.device.short(),
                    m.name
                ),
            );
        }
        MemberCommand::Quarantine { decision, case } => match (decision.as_deref(), case) {
            (None, _) => {
                let q = store.team().quarantined();
                if json {
                    let v: Vec<_> = q
                        .iter()
                        .map(|q| {
                            json!({"case": q.case.to_hex(), "changes": q.changes,
                                   "authors": q.authors.iter().map(DeviceId::short).collect::<Vec<_>>(),
                                   "new_case": q.new_case, "clashing": q.clashing, "fields": q.fields, "notes": q.notes,
                                   "summary": q.summary})
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(v));
                } else if q.is_empty() {
                    println!("Nothing is quarantined.");
                } else {
                    println!("Changes set aside, waiting for a coordinator:");
                    for q in q {
                        let authors: Vec<String> = q.authors.iter().map(DeviceId::short).collect();
                        println!(
                            "  case {}  {} change(s) by {}{}",
                            q.case.short(),
                            q.changes,
                            authors.join(", "),
                            if q.new_case { " — a new case" } else { "" }
                        );
                        if q.clashing > 0 {
                            println!(
                                "      {} of them lost to another version of the same change \
                                 (a phone restored from an older copy?): reject only",
                                q.clashing
                            );
                        }
                        if !q.summary.is_empty() {
                            println!("      would create: {}", q.summary);
                        }
                        if !q.fields.is_empty() {
                            println!("      would change: {}", q.fields.join(", "));
                        }
                        for n in &q.notes {
                            println!("      would add the note: {n:?}");
                        }
                    }
                    println!("Decide with `caravan member quarantine accept|reject CASE`.");
                }
            }
            (Some(d @ ("accept" | "reject")), Some(case)) => {
                // A case created by a revoked device is only in quarantine: look there
                // first, with the id (or prefix) the list prints.
                let prefix = case.trim().to_ascii_lowercase();
                let waiting: Vec<_> = store
                    .team()
                    .quarantined()
                    .into_iter()
                    .map(|q| q.case)
                    .filter(|c| !prefix.is_empty() && c.to_hex().starts_with(&prefix))
                    .collect();
                let id = match waiting.as_slice() {
                    [one] => *one,
                    _ => store.resolve(&case)?,
                };
                let report = store.team_mut().resolve_quarantine(&id, d == "accept")?;
                say(
                    json!({"case": id.to_hex(), "decision": d, "changes_applied": report.changes_applied}),
                    format!(
                        "{d}ed the quarantined changes of case {}: {}.",
                        id.short(),
                        report_text(&report)
                    ),
                );
            }
            _ => {
                return Err(Error::InvalidInput {
                    field: "quarantine".into(),
                    reason:
                        "use `caravan member quarantine`, or `... accept CASE` / `... reject CASE`"
                            .into(),
                })
            }
        },
    }
    Ok(())
}
