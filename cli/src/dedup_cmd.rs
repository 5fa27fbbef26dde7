//! `caravan dedup`: cross-agency duplicate detection with keyed blind indices.
//!
//! The identifying details typed for `dedup index` are used to compute the index and
//! dropped; they are never written anywhere, and never printed back.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use caravan_core::dedup::{
    BirthDate, BlindIndex, DedupKey, Identity, IndexList, PossibleDuplicate, StretchCost,
    MAX_INDEX_LIST_BYTES,
};
use caravan_core::{Error, Result, Store};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::output;

/// `caravan dedup ...`
#[derive(Debug, Subcommand)]
pub(crate) enum DedupCommand {
    /// The data-sharing agreement's key: create, import, export, show, remove.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Compute a case's blind index from the person's details (typed or prompted; the
    /// details are never stored) and keep the index with the case.
    Index(IndexArgs),
    /// Remove a case's blind index.
    Clear {
        /// Case id (or a unique prefix of at least 4 hex digits).
        id: String,
    },
    /// Write the case ids and blind indices of this store for a partner agency (no
    /// identifying details, no other case content).
    ExportIndex {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Flag "possible same person" between this store's cases and a partner's index
    /// file, or (without a file) among this store's own cases.
    Check {
        /// A partner's file from `caravan dedup export-index`.
        file: Option<PathBuf>,
    },
}

/// `caravan dedup key ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a new agreement key and keep it (sealed) in this store.
    New {
        /// Argon2id memory per token in KiB (all agencies of the agreement use the
        /// same; default 16384). Lower values make dictionary attacks with a leaked
        /// key cheaper.
        #[arg(long, default_value_t = StretchCost::AGREEMENT.memory_kib)]
        memory_kib: u32,
        /// Argon2id passes per token (default 2).
        #[arg(long, default_value_t = StretchCost::AGREEMENT.iterations)]
        passes: u32,
        /// Replace the key this store already has.
        #[arg(long)]
        replace: bool,
    },
    /// Import the agreement key from a hand-over code (argument, @FILE, or a line on
    /// standard input; an argument is visible in the shell history, prefer the others).
    Import {
        /// The code (caravan-dedup-key:…), or @path/to/file; omit to read standard input.
        code: Option<String>,
        /// Replace the key this store already has.
        #[arg(long)]
        replace: bool,
    },
    /// Print the hand-over code for a partner's device: show it in person, as a QR code.
    Export {
        /// Write it to this file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the key's public fingerprint and cost (never the key).
    Show,
    /// Forget the agreement key.
    Remove {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Details for `caravan dedup index`; any that are missing are asked for.
#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Case id (or a unique prefix of at least 4 hex digits).
    pub(crate) id: String,
    /// Given name(s), in Cyrillic or Latin letters.
    #[arg(long)]
    pub(crate) given: Option<String>,
    /// Family name (given and family may be swapped; empty for a single name).
    #[arg(long)]
    pub(crate) family: Option<String>,
    /// Date of birth: YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY, or the year alone.
    #[arg(long)]
    pub(crate) born: Option<String>,
    /// Patronymic (Kairatovich, Kairatuly, Rustam o‘g‘li, Nurlan kyzy), if known.
    #[arg(long)]
    pub(crate) patronymic: Option<String>,
    /// Place of birth (settlement), if known.
    #[arg(long)]
    pub(crate) place: Option<String>,
}

/// Runs one `caravan dedup` command.
pub(crate) fn run(store: &mut Store, json: bool, cmd: DedupCommand) -> Result<()> {
    match cmd {
        DedupCommand::Key(cmd) => key(store, json, cmd),
        DedupCommand::Index(args) => index(store, json, args),
        DedupCommand::Clear { id } => {
            let id = store.resolve(&id)?;
            store.dedup_mut().clear_blind_index(&id)?;
            print(json, json!({"id": id.to_hex(), "cleared": true}), || {
                format!("Blind index of case {} removed.\n", id.short())
            });
            Ok(())
        }
        DedupCommand::ExportIndex { out } => {
            let list = store.dedup_mut().export_blind_indices()?;
            if list.entries.is_empty() {
                return Err(Error::InvalidInput {
                    field: "dedup export-index".into(),
                    reason: "no case has a blind index yet; use `caravan dedup index CASE`".into(),
                });
            }
            let bytes = list.to_cbor()?;
            std::fs::write(&out, &bytes).map_err(|e| Error::Io {
                file: out.display().to_string(),
                source: e,
            })?;
            let n = list.entries.len();
            print(
                json,
                json!({"out": out.display().to_string(), "cases": n, "bytes": bytes.len()}),
                || {
                    format!(
                        "Wrote the blind indices of {n} case(s) to {} ({} bytes): case ids and \
                         keyed tokens only.\n",
                        out.display(),
                        bytes.len()
                    )
                },
            );
            Ok(())
        }
        DedupCommand::Check { file } => check(store, json, file.as_deref()),
    }
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        print!("{}", text());
    }
}

fn key(store: &mut Store, json: bool, cmd: KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::New {
            memory_kib,
            passes,
            replace,
        } => {
            refuse_replacing(store, replace)?;
            let key = DedupKey::generate()?.with_cost(StretchCost {
                memory_kib,
                iterations: passes,
            })?;
            store.dedup_mut().set_dedup_key(&key)?;
            if key.cost() != StretchCost::AGREEMENT {
                eprintln!(
                    "warning: a cost other than the default ({} KiB, {} passes) changes how \
                     expensive a dictionary attack is if the key leaks",
                    StretchCost::AGREEMENT.memory_kib,
                    StretchCost::AGREEMENT.iterations
                );
            }
            key_done(json, &key, "Created a new agreement key")
        }
        KeyCommand::Import { code, replace } => {
            refuse_replacing(store, replace)?;
            let text = match code {
                Some(c) if c.starts_with('@') => read_text(Path::new(&c[1..]))?,
                Some(c) => c,
                None => prompt("Agreement key code: ")?,
            };
            let key = DedupKey::from_handover_code(&text)?;
            store.dedup_mut().set_dedup_key(&key)?;
            key_done(json, &key, "Imported the agreement key")
        }
        KeyCommand::Export { out } => {
            let key = need_key(store)?;
            let code = key.to_handover_code();
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{}\n", code.as_str())).map_err(|e| {
                        Error::Io {
                            file: path.display().to_string(),
                            source: e,
                        }
                    })?;
                    print(
                        json,
                        json!({"out": path.display().to_string(), "fingerprint": key.fingerprint()}),
                        || {
                            format!(
                                "Wrote the hand-over code to {}; delete the file once it is imported.\n",
                                path.display()
                            )
                        },
                    );
                }
                None => {
                    eprintln!(
                        "Whoever holds this code can test guessed names against the indices: \
                         show it in person, never send it by messenger."
                    );
                    print(
                        json,
                        json!({"code": code.as_str(), "fingerprint": key.fingerprint()}),
                        || format!("{}\n", code.as_str()),
                    );
                }
            }
            Ok(())
        }
        KeyCommand::Show => match store.dedup().dedup_key()? {
            Some(key) => key_done(json, &key, "Agreement key"),
            None => {
                print(json, json!({"key": null}), || {
                    "No agreement key; create one with `caravan dedup key new` or import one.\n"
                        .into()
                });
                Ok(())
            }
        },
        KeyCommand::Remove { yes } => {
            if !yes {
                return Err(Error::InvalidInput {
                    field: "dedup key remove".into(),
                    reason: "indices cannot be made again without the key; pass --yes to confirm"
                        .into(),
                });
            }
            let removed = store.dedup_mut().remove_dedup_key()?;
            print(json, json!({"removed": removed}), || {
                if removed {
                    "Agreement key removed from this store.\n".into()
                } else {
                    "This store had no agreement key.\n".into()
                }
            });
            Ok(())
        }
    }
}

fn key_done(json: bool, key: &DedupKey, what: &str) -> Result<()> {
    let cost = key.cost();
    print(
        json,
        json!({
            "fingerprint": key.fingerprint(),
            "memory_kib": cost.memory_kib,
            "passes": cost.iterations,
        }),
        || {
            format!(
                "{what}: fingerprint {} (Argon2id {} KiB, {} passes per token).\nCompare the \
                 fingerprint with the partner agency, read aloud.\n",
                key.fingerprint(),
                cost.memory_kib,
                cost.iterations
            )
        },
    );
    Ok(())
}

fn refuse_replacing(store: &Store, replace: bool) -> Result<()> {
    if !replace && store.dedup().dedup_key()?.is_some() {
        return Err(Error::InvalidInput {
            field: "dedup key".into(),
            reason: "this store already has an agreement key; indices made with it will not \
                     match indices of a new one. Pass --replace to replace it"
                .into(),
        });
    }
    Ok(())
}

fn need_key(store: &Store) -> Result<DedupKey> {
    store
        .dedup()
        .dedup_key()?
        .ok_or_else(|| Error::InvalidInput {
            field: "dedup key".into(),
            reason: "this store has no agreement key; `caravan dedup key new` or `key import`"
                .into(),
        })
}

fn read_text(path: &Path) -> Result<String> {
    crate::inputs::read_input_text(path, "input file")
}

/// Asks for one line (on standard error, so `--json` output stays clean).
fn prompt(question: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{question}");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::InvalidInput {
            field: "input".into(),
            reason: format!("could not read standard input: {e}"),
        })?;
    Ok(line.trim().to_string())
}

fn index(store: &mut Store, json: bool, a: IndexArgs) -> Result<()> {
    let key = need_key(store)?;
    let id = store.resolve(&a.id)?;
    // Ask for what was not given; the optional fields only if nothing was given.
    let asked_all = a.given.is_none() && a.family.is_none() && a.born.is_none();
    let given = match a.given {
        Some(v) => v,
        None => prompt("Given name(s): ")?,
    };
    let family = match a.family {
        Some(v) => v,
        None => prompt("Family name (empty if none): ")?,
    };
    let born = match a.born {
        Some(v) => v,
        None => prompt("Date of birth (YYYY-MM-DD, DD.MM.YYYY or YYYY): ")?,
    };
    let optional = |given: Option<String>, question: &str| -> Result<Option<String>> {
        match given {
            Some(v) => Ok(Some(v)),
            None if asked_all => Ok(Some(prompt(question)?).filter(|s| !s.is_empty())),
            None => Ok(None),
        }
    };
    let patronymic = optional(a.patronymic, "Patronymic (empty if unknown): ")?;
    let place = optional(a.place, "Place of birth (empty if unknown): ")?;

    let mut identity = Identity::new(&given, &family, BirthDate::parse(&born)?)?;
    if let Some(p) = &patronymic {
        identity = identity.with_patronymic(p);
    }
    if let Some(p) = &place {
        identity = identity.with_place_of_birth(p);
    }
    drop((given, family, born, patronymic, place));
    let index = BlindIndex::compute(&key, &identity)?;
    drop(identity);
    store.dedup_mut().set_blind_index(&id, &index)?;

    let related: Vec<PossibleDuplicate> = store
        .dedup_mut()
        .possible_duplicates_within()?
        .into_iter()
        .filter(|d| d.ours == id || d.other == id)
        .collect();
    let kinds: Vec<u8> = index.tokens.iter().map(|t| u8::from(t.kind)).collect();
    print(
        json,
        json!({
            "id": id.to_hex(),
            "tokens": kinds.len(),
            "fingerprint": index.key_fingerprint(),
            "matches": matches_json(&related),
        }),
        || {
            let mut s = format!(
                "Blind index of case {} stored ({} tokens); the details were not stored.\n",
                id.short(),
                kinds.len()
            );
            if !related.is_empty() {
                s.push_str("In this store:\n");
                s.push_str(&matches_table(&related));
            }
            s
        },
    );
    Ok(())
}

fn check(store: &mut Store, json: bool, file: Option<&Path>) -> Result<()> {
    let (found, foreign, total) = match file {
        Some(path) => {
            let name = path.display().to_string();
            let len = std::fs::metadata(path)
                .map_err(|e| Error::Io {
                    file: name.clone(),
                    source: e,
                })?
                .len();
            if len > MAX_INDEX_LIST_BYTES as u64 {
                return Err(Error::InvalidInput {
                    field: "index list".into(),
                    reason: "larger than 64 MiB".into(),
                });
            }
            let bytes = caravan_core::store::inputs::read_bounded(
                path,
                MAX_INDEX_LIST_BYTES as u64,
                "index list",
            )?;
            let list = IndexList::from_cbor(&bytes)?;
            let ours = store.dedup().dedup_key()?.map(|k| k.fingerprint());
            let foreign = match &ours {
                Some(fp) => list
                    .entries
                    .iter()
                    .filter(|e| &e.index.key_fingerprint() != fp)
                    .count(),
                None => 0,
            };
            let total = list.entries.len();
            (
                store.dedup_mut().possible_duplicates(&list)?,
                foreign,
                total,
            )
        }
        None => (store.dedup_mut().possible_duplicates_within()?, 0, 0),
    };
    print(
        json,
        json!({"matches": matches_json(&found), "other_agreement": foreign, "entries": total}),
        || {
            let mut s = String::new();
            if foreign > 0 {
                s.push_str(&format!(
                    "warning: {foreign} of {total} entries were made with another agreement key \
                     (fingerprint differs) and can never match.\n"
                ));
            }
            if found.is_empty() {
                s.push_str("No possible same person found.\n");
            } else {
                s.push_str(&matches_table(&found));
                s.push_str(
                    "A flag is a reason to follow up through the agreement, not a finding.\n",
                );
            }
            s
        },
    );
    Ok(())
}

fn matches_json(found: &[PossibleDuplicate]) -> serde_json::Value {
    found
        .iter()
        .map(|d| {
            json!({
                "ours": d.ours.to_hex(),
                "other": d.other.to_hex(),
                "strength": format!("{:?}", d.found.strength),
                "reason": d.found.reason(),
            })
        })
        .collect()
}

fn matches_table(found: &[PossibleDuplicate]) -> String {
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|d| {
            vec![
                "possible same person".into(),
                d.ours.short(),
                d.other.short(),
                format!("{:?}", d.found.strength),
                d.found.reason(),
            ]
        })
        .collect();
    output::table(&["flag", "case", "other case", "strength", "reason"], &rows)
}
