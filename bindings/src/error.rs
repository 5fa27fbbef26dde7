//! The one error type the apps see: [`CaravanError`] (Kotlin `CaravanException`, Swift
//! `CaravanError`, Python `CaravanError`), mapped from `caravan_core::Error`.
//!
//! Variants say what the app should do (ask for the passphrase again, close the other
//! window, highlight the note, update the app, ...). Messages never contain a key, a
//! passphrase, an invitation or the content of a case or note, exactly as in the core.

use caravan_core::privacy::{Finding, IdentifierKind};
use caravan_core::Error as CoreError;

/// Everything that can go wrong in a call from the app.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CaravanError {
    /// The key or passphrase does not open this store; nothing was changed. Ask again.
    #[error("wrong key or passphrase for this store")]
    WrongKey,
    /// The directory holds no Caravan store; create one first.
    #[error("no caravan store at {path}")]
    NotAStore {
        /// The directory that was opened.
        path: String,
    },
    /// The directory is not empty, so no store can be created there.
    #[error("cannot create a store at {path}: the directory is not empty")]
    AlreadyExists {
        /// The directory given.
        path: String,
    },
    /// Another process (or another open handle) has the store open; close it first.
    #[error("the store at {path} is in use")]
    Locked {
        /// The store directory.
        path: String,
    },
    /// The data was written by a newer Caravan; update the app.
    #[error("{reason}; update the app")]
    UpdateRequired {
        /// What is not supported.
        reason: String,
    },
    /// A store file is damaged; the cases it held are unreadable, the others are fine.
    #[error("store file {file} is damaged: {reason}")]
    Damaged {
        /// File name inside the store directory.
        file: String,
        /// What is wrong (never file content).
        reason: String,
    },
    /// The operating system refused a read or write (disk full, permissions, ...).
    #[error("i/o error on {file}: {reason}")]
    Io {
        /// File or directory concerned.
        file: String,
        /// The operating system's message.
        reason: String,
    },
    /// The store handle cannot be used any more (closed, or an earlier write failed
    /// half-way, or an internal error interrupted a call): open the store again.
    #[error("the store must be opened again: {reason}")]
    ReopenStore {
        /// Why.
        reason: String,
    },
    /// No case with this identifier exists in the store.
    #[error("no case {id}")]
    CaseNotFound {
        /// The identifier, as given.
        id: String,
    },
    /// The case was erased; its content no longer exists.
    #[error("case {id} was erased")]
    CaseErased {
        /// The case identifier.
        id: String,
    },
    /// A code is not in its vocabulary (the form offered something it should not).
    // The code is not carried at all: it may be text a user typed, and the generated
    // Kotlin/Python exception text prints every field (red-team F6 of 2026-12-04, F3 of
    // 2026-12-05).
    #[error("a code given is not one of the {vocabulary} vocabulary")]
    UnknownCode {
        /// Vocabulary identifier, e.g. `means_of_control`.
        vocabulary: String,
    },
    /// An input value is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field or argument concerned.
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// A note contains something that looks like a personal identifier and was not
    /// stored: highlight the findings and ask the worker to rephrase.
    #[error("note refused: {} likely identifier(s)", findings.len())]
    NoteRejected {
        /// What was found and where (character offsets), never the text itself.
        findings: Vec<NoteFinding>,
    },
    /// A bundle, frame or message from another device was refused (tampered with,
    /// from another group, not a member, ...); nothing was changed.
    #[error("refused a message from another device: {reason}")]
    Refused {
        /// Why (never message content).
        reason: String,
    },
    /// The message is for a group or key epoch this device is not part of (or this
    /// device was revoked). Nothing was changed.
    #[error("the message is for a group this device is not part of")]
    NotForThisDevice,
    /// The other device of a live session refused it and sent a refusal before closing
    /// (protocol section 13.5). `code` is its reason (`not-accepted`,
    /// `message-refused`, `unavailable`, `unsupported`); `advice` says what it means for
    /// this device and what to do. What earlier messages of the session brought is stored.
    #[error("the other device refused this live sync ({code}): {advice}")]
    LiveRefused {
        /// The reason code's name (a fixed list).
        code: String,
        /// What to do, from this device's own state (never text from the other device).
        advice: String,
    },
    /// A hand-over receipt came from another device than the one the showing was meant
    /// for (the QR codes shown for `peer` were scanned by `scanned_by`): `peer`'s
    /// position did not move. Show the updates to `peer` again.
    #[error("the hand-over for {peer} was received by {scanned_by}; nothing confirmed")]
    HandoverToAnotherDevice {
        /// The device the showing was meant for (device id, hex).
        peer: String,
        /// The device whose receipt was scanned (device id, hex).
        scanned_by: String,
    },
    /// This device's role does not allow the action (other devices would refuse it
    /// too); show `reason`, which says who may. Nothing was changed.
    #[error("not permitted to {action}: {reason}")]
    NotPermitted {
        /// What was attempted.
        action: String,
        /// Why not, and who may.
        reason: String,
    },
    /// The device is not in a group yet: create one or join with an invitation.
    #[error("this device is not in a group yet; create one or join with an invitation")]
    NoGroup,
    /// The operation was cancelled through its progress callback. An import, an export
    /// or a bulk write stores nothing; a mailbox sync keeps the bundles it had imported
    /// before the cancel (each durable, and reported to the change listener).
    #[error("cancelled; nothing more was stored")]
    Cancelled,
    /// A bug in Caravan (including a panic caught at the boundary). The store was left
    /// unchanged; if it keeps happening, reopen the store and report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed, in words (never case content or secrets).
        reason: String,
    },
}

/// Result alias for the exported functions.
pub type Result<T, E = CaravanError> = std::result::Result<T, E>;

/// A kind of personal identifier the note screen looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum IdentifierType {
    /// A phone number.
    PhoneNumber,
    /// An e-mail address.
    Email,
    /// A national identity number (IIN, PIN, ...).
    NationalId,
    /// A passport or identity document number.
    PassportNumber,
    /// An exact calendar date (possibly a date of birth).
    ExactDate,
    /// A messenger or social-network handle.
    Handle,
    /// A link to a personal profile.
    ProfileLink,
    /// A bank account number (IBAN).
    BankAccount,
    /// A street address.
    Address,
    /// A person's name (in names of teams, devices and partners).
    PersonalName,
}

/// One likely identifier found in a note: what and where, never the text.
///
/// Two kinds of offsets: `start`/`end` count Unicode scalar values (Rust `chars`,
/// Python `str` indices); `start_utf16`/`end_utf16` count UTF-16 code units, which is
/// what Kotlin/Java `String.substring`, Android `Spannable` and Swift `NSRange` /
/// `String.utf16` take. They differ as soon as the text holds a character outside the
/// basic plane (an emoji) before the finding.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NoteFinding {
    /// What it looks like.
    pub kind: IdentifierType,
    /// Offset of its first character, in Unicode scalar values from 0.
    pub start: u32,
    /// Offset one past its last character, in Unicode scalar values.
    pub end: u32,
    /// Offset of its first character, in UTF-16 code units from 0 (Kotlin, Swift
    /// `NSRange`): highlight `text.substring(startUtf16, endUtf16)`.
    pub start_utf16: u32,
    /// Offset one past its last character, in UTF-16 code units.
    pub end_utf16: u32,
    /// A short English description (apps show a localized one from `kind`).
    pub description: String,
}

/// Converts a scalar-value offset in `text` to a UTF-16 offset (clamped to the end).
fn utf16_offset(text: &str, chars: usize) -> u32 {
    let units: usize = text.chars().take(chars).map(char::len_utf16).sum();
    u32::try_from(units).unwrap_or(u32::MAX)
}

impl NoteFinding {
    /// A finding in `text` (the exact text that was screened).
    pub(crate) fn in_text(f: &Finding, text: &str) -> Self {
        NoteFinding {
            start_utf16: utf16_offset(text, f.start),
            end_utf16: utf16_offset(text, f.end),
            ..NoteFinding::from(f)
        }
    }
}

/// Fills in the UTF-16 offsets of a `NoteRejected` error: the core's error carries
/// scalar offsets only, so the binding screens each text the call carried (`texts`, as
/// given by the app) again and takes the one whose findings are those of the error.
/// Texts the core trims (a partner's name) are matched trimmed, and their offsets
/// count from the start of the text as given. Any other error passes through.
pub(crate) fn locate_findings(err: CaravanError, texts: &[&str]) -> CaravanError {
    let CaravanError::NoteRejected { findings } = err else {
        return err;
    };
    let same = |found: &[Finding]| {
        found.len() == findings.len()
            && found.iter().zip(&findings).all(|(a, b)| {
                NoteFinding::from(a).kind == b.kind
                    && u32::try_from(a.start).ok() == Some(b.start)
                    && u32::try_from(a.end).ok() == Some(b.end)
            })
    };
    for text in texts {
        for (lead, screened) in [
            (0, *text),
            (text.len() - text.trim_start().len(), text.trim()),
        ] {
            let found = caravan_core::privacy::find_identifiers(screened);
            if same(&found) {
                let shift = utf16_offset(text, text[..lead].chars().count());
                return CaravanError::NoteRejected {
                    findings: found
                        .iter()
                        .map(|f| {
                            let mut n = NoteFinding::in_text(f, screened);
                            n.start_utf16 = n.start_utf16.saturating_add(shift);
                            n.end_utf16 = n.end_utf16.saturating_add(shift);
                            n
                        })
                        .collect(),
                };
            }
        }
    }
    CaravanError::NoteRejected { findings }
}

/// Without the text, the UTF-16 offsets are the scalar ones (right for text without
/// characters outside the basic plane); the exported calls that screen text replace
/// them with [`locate_findings`] / [`NoteFinding::in_text`].
impl From<&Finding> for NoteFinding {
    fn from(f: &Finding) -> Self {
        NoteFinding {
            start_utf16: u32::try_from(f.start).unwrap_or(u32::MAX),
            end_utf16: u32::try_from(f.end).unwrap_or(u32::MAX),
            kind: match f.kind {
                IdentifierKind::PhoneNumber => IdentifierType::PhoneNumber,
                IdentifierKind::Email => IdentifierType::Email,
                IdentifierKind::NationalId => IdentifierType::NationalId,
                IdentifierKind::PassportNumber => IdentifierType::PassportNumber,
                IdentifierKind::ExactDate => IdentifierType::ExactDate,
                IdentifierKind::Handle => IdentifierType::Handle,
                IdentifierKind::ProfileLink => IdentifierType::ProfileLink,
                IdentifierKind::BankAccount => IdentifierType::BankAccount,
                IdentifierKind::Address => IdentifierType::Address,
                IdentifierKind::PersonalName => IdentifierType::PersonalName,
            },
            start: u32::try_from(f.start).unwrap_or(u32::MAX),
            end: u32::try_from(f.end).unwrap_or(u32::MAX),
            description: f.kind.describe().to_string(),
        }
    }
}

impl From<CoreError> for CaravanError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::WrongKey => CaravanError::WrongKey,
            CoreError::NotAStore { path } => CaravanError::NotAStore { path },
            CoreError::AlreadyExists { path } => CaravanError::AlreadyExists { path },
            CoreError::Locked { path } => CaravanError::Locked { path },
            e @ (CoreError::UnsupportedFormat { .. } | CoreError::UnsupportedMessage { .. }) => {
                CaravanError::UpdateRequired {
                    reason: scrub(&e.to_string()),
                }
            }
            CoreError::Corrupted { file, detail } => CaravanError::Damaged {
                file,
                reason: scrub(&detail),
            },
            CoreError::NeedsRepair { files } => CaravanError::Damaged {
                reason: format!(
                    "the store is damaged ({files}); writes are refused until it is repaired"
                ),
                file: files,
            },
            CoreError::Io { file, source } => CaravanError::Io {
                file,
                reason: source.to_string(),
            },
            CoreError::Poisoned => CaravanError::ReopenStore {
                reason: "an earlier write failed and could not be rolled back".into(),
            },
            CoreError::CaseNotFound { id } => CaravanError::CaseNotFound { id },
            CoreError::CaseErased { id } => CaravanError::CaseErased { id },
            CoreError::UnknownCode { vocabulary, .. } => CaravanError::UnknownCode { vocabulary },
            CoreError::InvalidInput { field, reason } => CaravanError::InvalidInput {
                field,
                reason: scrub(&reason),
            },
            CoreError::NoteRejected { findings } => CaravanError::NoteRejected {
                findings: findings.iter().map(NoteFinding::from).collect(),
            },
            CoreError::Rejected { reason } => CaravanError::Refused {
                reason: scrub(&reason),
            },
            CoreError::NotForThisDevice => CaravanError::NotForThisDevice,
            CoreError::LiveRefused { reason, advice } => CaravanError::LiveRefused {
                code: reason.name().into(),
                advice,
            },
            CoreError::NotPermitted { action, reason } => CaravanError::NotPermitted {
                action: scrub(&action),
                reason: scrub(&reason),
            },
            CoreError::NoGroup => CaravanError::NoGroup,
            CoreError::Cancelled => CaravanError::Cancelled,
            CoreError::Internal(reason) => CaravanError::Internal {
                reason: scrub(&reason),
            },
            other => CaravanError::Internal {
                reason: scrub(&other.to_string()),
            },
        }
    }
}

/// A core error's reason as it may cross the FFI: it becomes `detail()` and the
/// generated exception text (Kotlin `message`, Python `str(e)`), which apps log, so it
/// must quote no text a user typed (red-team F3 of 2026-12-05). The core quotes such
/// text (a column header, a table dimension, a mapping target, a sheet name) in `"…"`
/// (Rust's `{:?}`) or in backquotes, and a parse error of a mapping shows the offending
/// source line on the lines after its first. So only the first line is kept and every
/// quoted part becomes `"…"`: the reason still says what was wrong, not with what.
pub(crate) fn scrub(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                let mut escaped = false;
                for q in chars.by_ref() {
                    match q {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            '`' => {
                out.push_str("`…`");
                for q in chars.by_ref() {
                    if q == '`' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Replaces every occurrence of the texts a call was given (`given`: a file name, ...)
/// in the reasons of `err` with `…`: for the few core messages that name an argument
/// without quoting it. Empty texts are skipped.
pub(crate) fn redact(err: CaravanError, given: &[&str]) -> CaravanError {
    let clean = |mut s: String| {
        for g in given.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
            s = s.replace(g, "…");
        }
        s
    };
    match err {
        CaravanError::InvalidInput { field, reason } => CaravanError::InvalidInput {
            field,
            reason: clean(reason),
        },
        CaravanError::Refused { reason } => CaravanError::Refused {
            reason: clean(reason),
        },
        CaravanError::Internal { reason } => CaravanError::Internal {
            reason: clean(reason),
        },
        other => other,
    }
}

/// What an exception thrown by the app's callback (a `ProgressListener`) becomes: a
/// cancellation. The exception's text is dropped (it could quote anything).
impl From<uniffi::UnexpectedUniFFICallbackError> for CaravanError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CaravanError::Cancelled
    }
}

/// Runs `f`, turning a panic into [`CaravanError::Internal`]: no panic crosses the FFI.
///
/// The panic's message is not copied into the error (it could in principle quote
/// data); the default panic hook still prints it to the platform log.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => Err(CaravanError::Internal {
            reason: "caravan stopped this call on an unexpected failure (a bug); reopen the \
                     store if errors continue"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Red-team F3 of 2026-12-05: what the core quotes, and the source lines of a
    /// parse error, never cross the boundary; the rest of the reason does.
    #[test]
    fn scrubbed_reasons_keep_the_words_and_drop_the_quoted_text() {
        let typed = "Айгерим +7 701 \\\"555\\\" 1234";
        for (reason, kept) in [
            (
                format!("column \"{typed}\" looks like a document number"),
                "looks like",
            ),
            (format!("\"{typed}\" is not one of a, b"), "is not one of"),
            (
                format!(
                    "not a valid mapping file: TOML parse error at line 1\n1 | x = [[[ {typed}\n"
                ),
                "TOML parse error at line 1",
            ),
            (format!("unknown field `{typed}`"), "unknown field"),
            (format!("unclosed \"{typed}"), "unclosed"),
        ] {
            let clean = scrub(&reason);
            assert!(clean.contains(kept), "{clean}");
            for part in ["Айгерим", "701", "555", "1234"] {
                assert!(!clean.contains(part), "{clean}");
            }
        }
        let err = CaravanError::from(CoreError::UnknownCode {
            vocabulary: "gender".into(),
            code: typed.into(),
        });
        assert!(!format!("{err:?} {err}").contains("701"));
    }
}
