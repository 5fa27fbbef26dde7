//! `caravan partner`: sharing agreements with partner agencies (each a team of its
//! own), referring cases under them, and the bundles that carry them.

use std::path::PathBuf;

use caravan_core::{Result, Store};
use clap::Subcommand;
use serde_json::json;

use crate::inputs::{io, text_or_file};

/// `caravan partner ...`
#[derive(Debug, Subcommand)]
pub(crate) enum PartnerCommand {
    /// Partner agency: ask for a sharing agreement. Prints a request to send over any
    /// channel and a code to read out over the phone.
    Request {
        /// Your agency's name as the other agency will see it.
        #[arg(long)]
        name: String,
    },
    /// Sharing agency: agree to share the listed fields with the agency whose request
    /// this is, once the code read out over the phone matches.
    Agree {
        /// The partner's request (text, or @FILE).
        #[arg(long = "for")]
        request: String,
        /// The code the partner read out over the phone.
        #[arg(long)]
        code: String,
        /// Fields the partner may see, comma-separated (e.g. gender,age_band,citizenship).
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        /// Your agency's name as the partner will see it.
        #[arg(long = "as")]
        agency: String,
    },
    /// Partner agency: accept an agreement offer, once the code read out matches.
    Accept {
        /// The offer (text, or @FILE).
        offer: String,
        /// The code the sharing agency read out over the phone.
        #[arg(long)]
        code: String,
    },
    /// List this device's sharing agreements.
    List,
    /// Refer a case to the partner of an agreement (needs the person's consent to sharing).
    Share {
        /// Case id (or a unique prefix of at least 4 hex digits).
        case: String,
        /// The agreement's id (or a unique prefix).
        #[arg(long)]
        agreement: String,
        /// The service referred to (a service_type code, e.g. Shelter).
        #[arg(long)]
        service: String,
    },
    /// Withdraw a shared case, or (without a case) end the whole agreement.
    Revoke {
        /// The agreement's id (or a unique prefix).
        #[arg(long)]
        agreement: String,
        /// The case to withdraw.
        case: Option<String>,
    },
    /// Write a share bundle for the other agency (ciphertext: any channel will do).
    Export {
        /// The agreement's id (or a unique prefix).
        #[arg(long)]
        agreement: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Take in a share bundle from the other agency.
    Import {
        /// The bundle file.
        file: PathBuf,
    },
}

/// Runs a partner command.
pub(crate) fn run(store: &mut Store, json: bool, cmd: PartnerCommand) -> Result<()> {
    let say = |value, text| crate::output::say(json, value, text);
    match cmd {
        PartnerCommand::Request { name } => {
            let req = store.partners().partner_request(&name)?;
            say(
                json!({"request": req.as_text(), "code": req.code()}),
                format!(
                    "Sharing request (send it to the other agency's coordinator over any channel):\n{}\n\n\
                     Then call them and read out this code: {}",
                    req.as_text(),
                    req.code()
                ),
            );
        }
        PartnerCommand::Agree {
            request,
            code,
            fields,
            agency,
        } => {
            let request = text_or_file(request)?;
            let (id, offer) = store
                .partners_mut()
                .partner_agree(&agency, &request, &code, &fields)?;
            say(
                json!({"agreement": id, "offer": offer.as_text(), "code": offer.code()}),
                format!(
                    "Agreement {id} made: the partner may see {}.\nSend this offer back (any channel):\n{}\n\n\
                     and read out this code on the phone: {}",
                    fields.join(", "),
                    offer.as_text(),
                    offer.code()
                ),
            );
        }
        PartnerCommand::Accept { offer, code } => {
            let offer = text_or_file(offer)?;
            let id = store.partners_mut().partner_accept(&offer, &code)?;
            say(
                json!({"agreement": id}),
                format!(
                    "Agreement {id} accepted. Shared cases arrive with `caravan partner import`."
                ),
            );
        }
        PartnerCommand::List => {
            let list = store.partners().agreements();
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|a| {
                        json!({"agreement": a.id, "partner": a.partner, "fields": a.fields,
                               "sharing": a.sharing, "shared_cases": a.shared_cases, "ended": a.ended})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else if list.is_empty() {
                println!("No sharing agreements.");
            } else {
                for a in list {
                    println!(
                        "  {}  {} {:<28} {} case(s); fields: {}{}",
                        &a.id[..8],
                        if a.sharing {
                            "sharing with"
                        } else {
                            "receiving from"
                        },
                        a.partner,
                        a.shared_cases,
                        a.fields.join(", "),
                        if a.ended { "  (ended)" } else { "" }
                    );
                }
            }
        }
        PartnerCommand::Share {
            case,
            agreement,
            service,
        } => {
            let id = store.resolve(&case)?;
            store.partners_mut().share_case(&agreement, &id, &service)?;
            say(
                json!({"case": id.to_hex(), "shared": true}),
                format!(
                    "Case {} referred for {service}; it goes with the next `caravan partner export`.",
                    id.short()
                ),
            );
        }
        PartnerCommand::Revoke { agreement, case } => match case {
            Some(case) => {
                let id = store.resolve(&case)?;
                store.partners_mut().unshare_case(&agreement, &id)?;
                say(
                    json!({"case": id.to_hex(), "shared": false}),
                    format!(
                        "Case {} withdrawn: the partner gets no further updates of it.",
                        id.short()
                    ),
                );
            }
            None => {
                store.partners_mut().end_agreement(&agreement)?;
                say(
                    json!({"agreement": agreement, "ended": true}),
                    "Agreement ended: nothing more is sent or taken in under it.".into(),
                );
            }
        },
        PartnerCommand::Export { agreement, out } => {
            let bytes = store.partners_mut().export_share(&agreement)?;
            std::fs::write(&out, &bytes).map_err(io(&out))?;
            say(
                json!({"bytes": bytes.len(), "out": out.display().to_string()}),
                format!(
                    "Wrote {} bytes of ciphertext to {}.",
                    bytes.len(),
                    out.display()
                ),
            );
        }
        PartnerCommand::Import { file } => {
            let bytes = caravan_core::store::inputs::read_bounded(
                &file,
                caravan_core::store::inputs::MAX_BUNDLE_FILE,
                "share bundle",
            )?;
            let r = store.partners_mut().import_share(&bytes)?;
            say(
                json!({"cases_received": r.cases_received, "cases_updated": r.cases_updated,
                       "withdrawn": r.withdrawn, "statuses_copied": r.statuses_copied,
                       "notes_copied": r.notes_copied, "notes_refused": r.notes_refused}),
                format!(
                    "{} shared case(s) received, {} updated, {} withdrawn; {} referral status(es) and {} note(s) copied{}.",
                    r.cases_received,
                    r.cases_updated,
                    r.withdrawn,
                    r.statuses_copied,
                    r.notes_copied,
                    if r.notes_refused > 0 {
                        format!(" ({} note(s) refused by the identifier screen)", r.notes_refused)
                    } else {
                        String::new()
                    }
                ),
            );
        }
    }
    Ok(())
}
