//! What each command does.

use std::io::{BufRead, IsTerminal, Write};

use caravan_core::vocab::{
    Answer, CaseStatus, Country, ErasureReason, ExploitationType, Indicator, Lang, Vocabulary,
    Vulnerability,
};
use caravan_core::{
    assess, assess_answers, CaseFilter, CaseId, Edit, Error, Result, ScalarField, Screening,
    SetField, Store, Timestamp, YearMonth,
};
use serde_json::json;

use crate::args::{
    CaseCommand, Cli, Command, FieldArgs, ListArgs, NoteCommand, ReferArgs, ScreenArgs,
};
use crate::{demo, output, unlock};

/// Runs one parsed command line.
pub(crate) fn run(cli: Cli) -> Result<()> {
    let lang = Lang::from_tag(&cli.lang)?;
    let ctx = Ctx {
        json: cli.json,
        lang,
    };
    match cli.command {
        Command::Init { kdf_memory_mib } => {
            let store = unlock::create(&cli.store, kdf_memory_mib)?;
            ctx.done(json!({"store": store.dir().display().to_string()}), || {
                format!("Created an encrypted store at {}\n", store.dir().display())
            });
            Ok(())
        }
        // Checked before the store is unlocked (once, and only if rows are stored).
        Command::Case(CaseCommand::Import(args)) => {
            crate::import_cmd::run(&cli.store, cli.json, args)
        }
        Command::Case(cmd) => {
            // Reads never create or change a file (F9 of the 2026-12-04 red team).
            let mut store = match &cmd {
                CaseCommand::Show { .. } | CaseCommand::List(_) => {
                    unlock::open_for_reading(&cli.store)?
                }
                _ => unlock::open(&cli.store)?,
            };
            case(&ctx, &mut store, cmd)
        }
        Command::Note(NoteCommand::Add { id, text }) => {
            let mut store = unlock::open(&cli.store)?;
            let id = store.resolve(&id)?;
            store.update_case(&id, &[Edit::note(text)])?;
            ctx.done(json!({"id": id.to_hex()}), || {
                format!("Note added to case {}\n", id.short())
            });
            Ok(())
        }
        Command::Refer(args) => refer(&ctx, &mut unlock::open(&cli.store)?, args),
        Command::Erase { id, reason, yes } => {
            let mut store = unlock::open(&cli.store)?;
            let id = store.resolve(&id)?;
            let reason = ErasureReason::parse_known(&reason)?;
            if !yes {
                confirm_erase(&id)?;
            }
            store.erase_case(&id, reason)?;
            ctx.done(json!({"id": id.to_hex(), "erased": true}), || {
                format!(
                    "Case {} erased; its content is no longer recoverable from this store.\n",
                    id.short()
                )
            });
            Ok(())
        }
        Command::Wipe { yes } => {
            if !yes {
                confirm("wipe", "WIPE")?;
            }
            Store::panic_wipe(&cli.store)?;
            ctx.done(json!({"wiped": true}), || {
                "Store wiped: it can no longer be opened with any key or passphrase.\n".into()
            });
            Ok(())
        }
        Command::Check => check(&ctx, &cli.store),
        Command::Repair { yes } => {
            if !yes {
                confirm("repair", "REPAIR")?;
            }
            repair(&ctx, &cli.store)
        }
        Command::Screen(args) => screen(&ctx, &cli.store, args),
        Command::Vocab { id } => vocab(&ctx, id.as_deref()),
        Command::Group(cmd) => {
            crate::sync_cmd::group(&mut unlock::open(&cli.store)?, cli.json, cmd)
        }
        Command::Member(cmd) => {
            if let crate::member_cmd::MemberCommand::Join { invitation, .. } = &cmd {
                if let Some(path) = invitation.strip_prefix('@') {
                    // Refused from its metadata before the store is unlocked.
                    caravan_core::store::inputs::check_input(
                        std::path::Path::new(path),
                        caravan_core::store::inputs::MAX_TEXT_FILE,
                        "file",
                    )?;
                }
            }
            crate::member_cmd::run(&mut unlock::open(&cli.store)?, cli.json, cmd)
        }
        Command::Partner(cmd) => {
            if let crate::partner_cmd::PartnerCommand::Import { file } = &cmd {
                // Refused from its metadata before the store is unlocked (as bundles).
                caravan_core::store::inputs::check_input(
                    file,
                    caravan_core::store::inputs::MAX_BUNDLE_FILE,
                    "share bundle",
                )?;
            }
            crate::partner_cmd::run(&mut unlock::open(&cli.store)?, cli.json, cmd)
        }
        Command::Bundle(cmd) => {
            crate::sync_cmd::check_bundle_inputs(&cmd)?;
            crate::sync_cmd::bundle(&mut unlock::open(&cli.store)?, cli.json, cmd)
        }
        Command::Sync(crate::sync_cmd::SyncCommand::Listen { addr }) => {
            crate::sync_cmd::listen(&cli.store, cli.json, &addr)
        }
        Command::Sync(cmd) => crate::sync_cmd::sync(&mut unlock::open(&cli.store)?, cli.json, cmd),
        Command::Export(cmd) => {
            crate::export::run(&cli.store, cli.json, Lang::from_tag(&cli.lang)?, cmd)
        }
        Command::Dedup(cmd) => crate::dedup_cmd::run(&mut unlock::open(&cli.store)?, cli.json, cmd),
        Command::Demo { keep } => demo::run(keep.as_deref()),
    }
}

struct Ctx {
    json: bool,
    lang: Lang,
}

impl Ctx {
    /// Prints `value` as JSON, or the text from `text`.
    fn done(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            print!("{}", text());
        }
        // Test hook: die at once after reporting success, as under `kill -9`, with no
        // close (no destructor runs), so that a test can check that what was reported
        // was already confirmed on disk (cli/tests/damage.rs).
        if std::env::var_os("CARAVAN_TEST_ABORT_AFTER_SUCCESS").is_some() {
            std::io::stdout().flush().ok();
            std::process::abort();
        }
    }
}

fn case(ctx: &Ctx, store: &mut Store, cmd: CaseCommand) -> Result<()> {
    match cmd {
        CaseCommand::Add { fields, request_id } => {
            let edits = edits(&fields)?;
            let (id, created) = match &request_id {
                Some(request) => store.add_case_once(request, &edits)?,
                None => (store.add_case(&edits)?, true),
            };
            // Success is said only once the end mark confirms the write (F3).
            store.confirm()?;
            ctx.done(json!({"id": id.to_hex(), "created": created}), || {
                if created {
                    format!("Registered case {} ({})\n", id.short(), id)
                } else {
                    format!(
                        "Case {} ({}) was already registered by this request; nothing changed\n",
                        id.short(),
                        id
                    )
                }
            });
        }
        CaseCommand::Update { id, fields } => {
            let id = store.resolve(&id)?;
            let edits = edits(&fields)?;
            if edits.is_empty() {
                return Err(Error::InvalidInput {
                    field: "update".into(),
                    reason: "nothing to change".into(),
                });
            }
            store.update_case(&id, &edits)?;
            ctx.done(json!({"id": id.to_hex()}), || {
                format!("Updated case {}\n", id.short())
            });
        }
        CaseCommand::Show { id } => {
            let id = store.resolve(&id)?;
            let record = store.case(&id)?;
            let assessment = assess(&record);
            if ctx.json {
                println!("{}", json!({"case": record, "screening": assessment}));
            } else {
                print!("{}", output::record_text(&record, ctx.lang));
                print!("{}", output::assessment_text(&assessment, ctx.lang));
            }
        }
        CaseCommand::Import(_) => {
            // `run` handles it before the store is opened.
            return Err(Error::Internal("case import reached an open store".into()));
        }
        CaseCommand::List(args) => {
            let list = store.list(&filter(&args)?);
            // Summaries come from the index; say which listed cases cannot be read.
            let ids: Vec<CaseId> = list.iter().map(|c| c.id).collect();
            unlock::warn_unreadable(store, &ids);
            if ctx.json {
                let items: Vec<_> = list.iter().map(output::summary_json).collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                print!("{}", output::summaries_table(&list, ctx.lang));
            }
        }
    }
    Ok(())
}

fn split_pair<'a>(arg: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    arg.split_once('=')
        .map(|(a, b)| (a.trim(), b.trim()))
        .ok_or_else(|| Error::InvalidInput {
            field: what.into(),
            reason: format!("{arg:?} is not FIELD=CODE"),
        })
}

fn yes_no(arg: &str, what: &str) -> Result<bool> {
    match arg.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "да" => Ok(true),
        "no" | "n" | "false" | "нет" => Ok(false),
        _ => Err(Error::InvalidInput {
            field: what.into(),
            reason: format!("{arg:?} is not yes or no"),
        }),
    }
}

/// Turns the field flags into edits (validated later, all at once, by the store).
fn edits(f: &FieldArgs) -> Result<Vec<Edit>> {
    let mut out = Vec::new();
    for s in &f.set {
        let (field, code) = split_pair(s, "--set")?;
        out.push(Edit::set(ScalarField::from_key(field)?, code));
    }
    for field in &f.clear {
        out.push(Edit::Set {
            field: ScalarField::from_key(field.trim())?,
            code: None,
        });
    }
    for s in &f.add {
        let (field, code) = split_pair(s, "--add")?;
        out.push(Edit::add(SetField::from_key(field)?, code));
    }
    for s in &f.remove {
        let (field, code) = split_pair(s, "--remove")?;
        out.push(Edit::Remove {
            field: SetField::from_key(field)?,
            code: code.into(),
        });
    }
    for r in &f.route {
        let parts: Vec<&str> = r.split(':').collect();
        let (kind, country, when) = match parts.as_slice() {
            [k, c] => (*k, *c, None),
            [k, c, w] => (*k, *c, Some(YearMonth::parse(w)?)),
            _ => {
                return Err(Error::InvalidInput {
                    field: "--route".into(),
                    reason: format!("{r:?} is not KIND:COUNTRY[:YYYY[-MM]]"),
                })
            }
        };
        out.push(Edit::AddRouteEvent {
            kind: kind.into(),
            country: country.into(),
            when,
        });
    }
    for n in &f.note {
        out.push(Edit::note(n.clone()));
    }
    let share = f
        .consent_share
        .as_deref()
        .map(|v| yes_no(v, "--consent-share"))
        .transpose()?;
    let stats = f
        .consent_stats
        .as_deref()
        .map(|v| yes_no(v, "--consent-stats"))
        .transpose()?;
    if share.is_some() || stats.is_some() {
        out.push(Edit::Consent {
            share_with_partners: share,
            include_in_statistics: stats,
        });
    }
    if let Some(r) = &f.registered {
        let when = match r.trim() {
            "none" => None,
            r => Some(YearMonth::parse(r).map_err(|_| Error::InvalidInput {
                field: "--registered".into(),
                reason: format!("{r:?} is not YYYY or YYYY-MM (month precision at most)"),
            })?),
        };
        out.push(Edit::SetRegistration { when });
    }
    Ok(out)
}

fn filter(a: &ListArgs) -> Result<CaseFilter> {
    Ok(CaseFilter {
        case_status: a
            .status
            .as_deref()
            .map(CaseStatus::parse_known)
            .transpose()?,
        country: a.country.as_deref().map(Country::parse).transpose()?,
        exploitation: a
            .exploitation
            .as_deref()
            .map(ExploitationType::parse_known)
            .transpose()?,
        created_from: a.from.as_deref().map(Timestamp::parse_date).transpose()?,
        created_to: a.to.as_deref().map(Timestamp::parse_date).transpose()?,
        conflicts_only: a.conflicts,
    })
}

fn refer(ctx: &Ctx, store: &mut Store, a: ReferArgs) -> Result<()> {
    let id = store.resolve(&a.id)?;
    if let (Some(referral), Some(status)) = (&a.referral, &a.status) {
        store.update_case(
            &id,
            &[Edit::SetReferralStatus {
                referral: referral.clone(),
                status: status.clone(),
            }],
        )?;
        ctx.done(
            json!({"id": id.to_hex(), "referral": referral, "status": status}),
            || {
                format!(
                    "Referral {referral} of case {} is now {status}\n",
                    id.short()
                )
            },
        );
        return Ok(());
    }
    let before: Vec<String> = store
        .case(&id)?
        .referrals
        .into_iter()
        .map(|r| r.id)
        .collect();
    store.update_case(
        &id,
        &[Edit::AddReferral {
            service: a.service.unwrap_or_default(),
            partner: a.partner.unwrap_or_default(),
            organisation_type: a.org_type,
            reason: a.reason,
        }],
    )?;
    let referral = store
        .case(&id)?
        .referrals
        .into_iter()
        .map(|r| r.id)
        .find(|r| !before.contains(r))
        .unwrap_or_default();
    ctx.done(json!({"id": id.to_hex(), "referral": referral}), || {
        format!(
            "Referral {referral} recorded on case {} (status Requested)\n",
            id.short()
        )
    });
    Ok(())
}

fn confirm_erase(id: &CaseId) -> Result<()> {
    confirm("erase", &id.short())
}

/// Asks the person at the terminal to type `word` before an action that cannot be undone.
fn confirm(action: &str, word: &str) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::InvalidInput {
            field: action.into(),
            reason: format!(
                "{action} cannot be undone; pass --yes to confirm when not at a terminal"
            ),
        });
    }
    eprint!("This cannot be undone. Type {word} to confirm: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).ok();
    if line.trim() == word {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: action.into(),
            reason: "not confirmed; nothing was changed".into(),
        })
    }
}

fn screen(ctx: &Ctx, dir: &std::path::Path, a: ScreenArgs) -> Result<()> {
    let mut answers = Screening::default();
    for pair in &a.answers {
        let (indicator, answer) = split_pair(pair, "--answer")?;
        answers.indicators.insert(
            Indicator::parse_known(indicator)?,
            Answer::parse_known(answer)?,
        );
    }
    for v in &a.vulnerabilities {
        answers
            .vulnerabilities
            .insert(Vulnerability::parse_known(v)?);
    }
    if a.answers.is_empty() && a.vulnerabilities.is_empty() {
        ask(ctx.lang, &mut answers)?;
    }
    let minor = match &a.age_band {
        Some(b) => caravan_core::vocab::AgeBand::parse_known(b)?.is_minor() == Some(true),
        None => false,
    };
    let mut assessment = assess_answers(&answers, minor);
    if let Some(id) = &a.id {
        let mut store = unlock::open(dir)?;
        let id = store.resolve(id)?;
        let mut edits: Vec<Edit> = answers
            .indicators
            .iter()
            .map(|(i, ans)| Edit::Answer {
                indicator: i.code().into(),
                answer: ans.code().into(),
            })
            .collect();
        edits.extend(
            answers
                .vulnerabilities
                .iter()
                .map(|v| Edit::add(SetField::Vulnerability, v.code())),
        );
        if let Some(b) = &a.age_band {
            edits.push(Edit::set(ScalarField::AgeBand, b.clone()));
        }
        store.update_case(&id, &edits)?;
        assessment = assess(&store.case(&id)?);
    }
    if ctx.json {
        println!("{}", json!(assessment));
    } else {
        print!("{}", output::assessment_text(&assessment, ctx.lang));
    }
    Ok(())
}

/// The questionnaire: one line per question on stdin (y / n / ? / -). Works piped too.
fn ask(lang: Lang, answers: &mut Screening) -> Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut next = |prompt: String| -> Option<String> {
        eprint!("{prompt}");
        std::io::stderr().flush().ok();
        lines
            .next()
            .and_then(|l| l.ok())
            .map(|l| l.trim().to_lowercase())
    };
    eprintln!("Answer each question: y = yes, n = no, ? = don't know, - = declined.");
    for indicator in Indicator::ALL {
        let category = indicator
            .category()
            .map(|c| output::label(&c, lang))
            .unwrap_or_default();
        let Some(reply) = next(format!("[{category}] {}? ", output::label(indicator, lang))) else {
            break;
        };
        let answer = match reply.as_str() {
            "y" | "yes" | "д" | "да" => Answer::Yes,
            "n" | "no" | "н" | "нет" => Answer::No,
            "-" => Answer::Declined,
            _ => Answer::DontKnow,
        };
        answers.indicators.insert(indicator.clone(), answer);
    }
    eprintln!("Vulnerable situation (y/n):");
    for v in Vulnerability::ALL {
        let Some(reply) = next(format!("  {}? ", output::label(v, lang))) else {
            break;
        };
        if matches!(reply.as_str(), "y" | "yes" | "д" | "да") {
            answers.vulnerabilities.insert(v.clone());
        }
    }
    Ok(())
}

fn vocab(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    match id {
        None => {
            let all = caravan_core::vocab::all_vocabularies();
            if ctx.json {
                println!("{}", json!(all.iter().map(|v| v.id).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|v| vec![v.id.to_string(), v.entries.len().to_string()])
                    .collect();
                print!("{}", output::table(&["VOCABULARY", "CODES"], &rows));
            }
        }
        Some(id) => {
            let table = caravan_core::vocab::vocabulary(id).ok_or_else(|| Error::InvalidInput {
                field: "vocabulary".into(),
                reason: format!("no vocabulary {id:?}; `caravan vocab` lists them"),
            })?;
            if ctx.json {
                let items: Vec<_> = table
                    .entries
                    .iter()
                    .map(|e| json!({"code": e.code, "en": e.en, "ru": e.ru}))
                    .collect();
                println!("{}", json!(items));
            } else {
                let rows: Vec<Vec<String>> = table
                    .entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.code.to_string(),
                            e.label(ctx.lang).unwrap_or(e.en).to_string(),
                        ]
                    })
                    .collect();
                print!("{}", output::table(&["CODE", "LABEL"], &rows));
            }
        }
    }
    Ok(())
}

/// `caravan check`: verifies every file; exits 5 (through [`unlock::DATA_LOST`]) if
/// acknowledged data is lost.
fn check(ctx: &Ctx, dir: &std::path::Path) -> Result<()> {
    let store = unlock::open_read_only(dir)?;
    let report = store.check();
    if report.data_lost() {
        unlock::DATA_LOST.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let damage: Vec<_> = report
        .damage
        .iter()
        .map(|d| json!({"file": d.file, "problem": d.problem, "records_lost": d.records_lost}))
        .collect();
    let unreadable: Vec<String> = report.unreadable_cases.iter().map(|c| c.to_hex()).collect();
    let gone: Vec<String> = report.gone_cases.iter().map(|c| c.to_hex()).collect();
    ctx.done(
        json!({
            "files": report.files, "frames": report.frames, "records": report.records,
            "damage": damage, "unreadable_cases": unreadable, "gone_cases": gone,
            "gone_unnamed": report.gone_unnamed, "data_lost": report.data_lost(),
        }),
        || {
            let mut out = format!(
                "Checked {} file(s), {} frame(s), {} record(s), {} case(s).\n",
                report.files,
                report.frames,
                report.records,
                store.len()
            );
            if report.damage.is_empty() {
                out.push_str("No damage found.\n");
            }
            for d in &report.damage {
                out.push_str(&format!("DAMAGED {}: {}\n", d.file, d.problem));
            }
            if !report.damage.is_empty() {
                out.push_str(if report.data_lost() {
                    "Acknowledged data is missing. `caravan repair` keeps the damaged files \
                     aside and salvages everything that authenticates.\n"
                } else {
                    "No lost record was found, but with damage a loss cannot be ruled out \
                     everywhere (a missing end mark hides a cut of the journal's tail). \
                     `caravan repair` rewrites the damaged files (keeping them aside) and \
                     names what it cannot salvage.\n"
                });
            }
            out
        },
    );
    Ok(())
}

/// `caravan repair`.
fn repair(ctx: &Ctx, dir: &std::path::Path) -> Result<()> {
    let report = unlock::repair(dir)?;
    let lost: Vec<String> = report.lost_cases.iter().map(|c| c.to_hex()).collect();
    let records_lost: u64 = report.found.damage.iter().map(|d| d.records_lost).sum();
    if report.found.data_lost() {
        unlock::DATA_LOST.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    ctx.done(
        json!({
            "repaired": report.repaired, "kept_aside": report.kept_aside,
            "lost_cases": lost, "lost_unnamed": report.lost_unnamed,
            "records_lost": records_lost,
            "damage": report.found.damage.iter().map(|d| json!({"file": d.file, "problem": d.problem})).collect::<Vec<_>>(),
        }),
        || {
            if !report.repaired {
                return "No damage found; nothing was changed.\n".into();
            }
            let mut out = String::new();
            for d in &report.found.damage {
                out.push_str(&format!("found: {}: {}\n", d.file, d.problem));
            }
            for f in &report.kept_aside {
                out.push_str(&format!("kept aside: {f}\n"));
            }
            for c in &report.lost_cases {
                out.push_str(&format!("lost: case {c}\n"));
            }
            if report.lost_unnamed > 0 {
                out.push_str(&format!(
                    "lost: {} more case(s) whose ids no authentic file holds\n",
                    report.lost_unnamed
                ));
            }
            out.push_str(&format!(
                "Repaired: {} case(s) lost, {} acknowledged record(s) lost in all; the store \
                 is healthy again.\n",
                report.lost_cases.len() as u64 + report.lost_unnamed,
                records_lost
            ));
            out
        },
    );
    Ok(())
}
