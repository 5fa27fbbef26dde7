//! `caravan`: anonymized trafficking case records in an encrypted store, from a terminal.
//!
//! Exit codes: 0 success, 1 other failure, 2 invalid input or usage, 3 wrong key or
//! passphrase, 4 case not found or erased (or no store there), 5 store damaged (also
//! after a command that could run but found acknowledged data missing) or an i/o
//! error, 6 a bundle or message from another device was refused (also after a `sync
//! dir` that refused a mailbox entry and did the rest, or a live sync the other device
//! refused), 7 this device's role
//! in its team does not allow the action, 8 the store is in use by another process,
//! 9 refused: the store is damaged and read-only until `caravan repair` (nothing was
//! written).
#![forbid(unsafe_code)]

/// The allocator (docs/decisions/0014-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod args;
mod commands;
mod dedup_cmd;
mod demo;
mod demo_relay;
mod export;
mod import_cmd;
mod inputs;
mod local_apache;
mod member_cmd;
mod output;
mod partner_cmd;
mod sync_cmd;
mod unlock;
mod webdav;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) if unlock::DATA_LOST.load(std::sync::atomic::Ordering::SeqCst) => ExitCode::from(5),
        Ok(()) if unlock::INPUT_REFUSED.load(std::sync::atomic::Ordering::SeqCst) => {
            ExitCode::from(6)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("caravan: {e}");
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// `caravan vocab | head` closes standard output early, and `println!` then panics.
/// Stop quietly instead, as other command-line tools do (the reader has all it wanted).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Maps an error to the documented exit code.
fn exit_code(e: &caravan_core::Error) -> u8 {
    use caravan_core::Error::*;
    match e {
        InvalidInput { .. } | UnknownCode { .. } | NoteRejected { .. } | AlreadyExists { .. } => 2,
        WrongKey => 3,
        Locked { .. } => 8,
        CaseNotFound { .. } | CaseErased { .. } | NotAStore { .. } => 4,
        NeedsRepair { .. } => 9,
        Corrupted { .. } | Io { .. } | Poisoned | UnsupportedFormat { .. } => 5,
        Rejected { .. } | NotForThisDevice | UnsupportedMessage { .. } | LiveRefused { .. } => 6,
        NoGroup => 2,
        NotPermitted { .. } => 7,
        _ => 1,
    }
}

/// A next step for the errors people meet most.
fn hint(e: &caravan_core::Error) -> Option<&'static str> {
    use caravan_core::Error::*;
    match e {
        NoteRejected { .. } => Some(
            "rephrase the note without the identifier (e.g. \"March 2023\" instead of a full date)",
        ),
        UnknownCode { .. } => Some("`caravan vocab` lists every vocabulary and its codes"),
        NotAStore { .. } => Some("create one with `caravan init --store DIR`"),
        WrongKey => Some("check the passphrase (CARAVAN_PASSPHRASE or the prompt)"),
        Locked { .. } => Some("another caravan command (or `sync listen`) has the store open"),
        Corrupted { .. } | NeedsRepair { .. } => {
            Some("`caravan check` reports every damaged file; `caravan repair` salvages the rest")
        }
        NoGroup => Some(
            "create a team with `caravan group create NAME`, or join one with `caravan member join`",
        ),
        NotPermitted { .. } => Some("`caravan member list` shows who coordinates the team"),
        _ => None,
    }
}
