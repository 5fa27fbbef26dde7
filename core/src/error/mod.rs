//! The crate's error type.
//!
//! Messages are lowercase, say what went wrong and what to do, and never contain a
//! key, a passphrase, or the content of a case or note (an identifier found in a note
//! is reported by kind and position, not by value).

use std::fmt;

mod finding;
mod refusal;

pub use finding::{Finding, IdentifierKind};
pub use refusal::{LiveRefusal, REFUSAL_LABEL};

/// Result alias used throughout `caravan-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `caravan-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key (or passphrase) does not open this store. Nothing was changed.
    #[error("wrong key or passphrase for this store")]
    WrongKey,

    /// The directory holds no Caravan store.
    #[error("no caravan store at {path}")]
    NotAStore {
        /// The directory that was opened.
        path: String,
    },

    /// The directory already holds a store (or other files) and cannot be initialised.
    #[error("cannot create a store at {path}: the directory is not empty")]
    AlreadyExists {
        /// The directory that was given.
        path: String,
    },

    /// The store was written by a format version this build does not read.
    #[error(
        "store format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedFormat {
        /// Version found on disk.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },

    /// Another process has the store open.
    #[error("the store at {path} is in use by another process")]
    Locked {
        /// The store directory.
        path: String,
    },

    /// A file of the store failed authentication or could not be parsed.
    #[error("store file {file} is corrupted or was tampered with: {detail}")]
    Corrupted {
        /// File name inside the store directory.
        file: String,
        /// What is wrong, in words (never file content).
        detail: String,
    },

    /// The store was opened with damage in some file: it can be read (what was lost is
    /// in [`crate::Store::damage`]) but writes are refused until `repair` has kept the
    /// damaged files aside, so nothing overwrites what a recovery could still save.
    #[error("the store is damaged ({files}); writes are refused until it is repaired (`caravan check`, then `caravan repair`); nothing was changed")]
    NeedsRepair {
        /// The damaged files, comma-separated.
        files: String,
    },

    /// An operating-system error while reading or writing a store file.
    #[error("i/o error on {file}: {source}")]
    Io {
        /// File (or directory) concerned.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A previous write failed in a way that could not be rolled back; reopen the store.
    #[error("the store stopped accepting writes after an earlier i/o failure; reopen it")]
    Poisoned,

    /// No case with this identifier exists in the store.
    #[error("no case {id}")]
    CaseNotFound {
        /// The case identifier, as given.
        id: String,
    },

    /// The case was erased; its content no longer exists.
    #[error("case {id} was erased")]
    CaseErased {
        /// The case identifier.
        id: String,
    },

    /// A code entered on this device is not in the named vocabulary.
    #[error("{code:?} is not a code of the {vocabulary} vocabulary")]
    UnknownCode {
        /// Vocabulary identifier, e.g. `means_of_control`.
        vocabulary: String,
        /// The code that was given.
        code: String,
    },

    /// An input value is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field or argument concerned.
        field: String,
        /// Why it was refused.
        reason: String,
    },

    /// A note contains something that looks like a personal identifier; it was not stored.
    #[error("note refused: {}", Findings(findings))]
    NoteRejected {
        /// What was found and where (character offsets), never the text itself.
        findings: Vec<Finding>,
    },

    /// A message, bundle or frame from another device or a transport was refused:
    /// it is malformed, does not authenticate, or breaks a rule. Nothing was changed.
    #[error("refused a message from another device: {reason}; nothing was changed")]
    Rejected {
        /// Why, in words (never message content).
        reason: String,
    },

    /// This device's role in its group does not allow the action (other devices would
    /// refuse it too). Nothing was changed.
    #[error("not permitted to {action}: {reason}")]
    NotPermitted {
        /// What was attempted, in words.
        action: String,
        /// Why not, and who may.
        reason: String,
    },

    /// A message for a group or key epoch this device has no key for.
    #[error(
        "no key this device holds opens the message: it is for another team, an old message \
         already handled (a join message once its device was admitted), or sealed after a \
         key rotation this device has not heard of (import that device's earlier bundles \
         first); nothing was changed"
    )]
    NotForThisDevice,

    /// A message in a protocol version or cipher suite this build does not speak.
    #[error("unsupported message format (version {version}, suite {suite}); update Caravan")]
    UnsupportedMessage {
        /// Version found.
        version: u64,
        /// Cipher suite found.
        suite: u64,
    },

    /// The other device of a live session refused it and sent a refusal frame before
    /// closing (docs/protocol.md section 13.5). What this device stored from earlier
    /// messages of the session stays; the refused message changed nothing there.
    #[error("the other device refused this live sync ({reason}): {advice}")]
    LiveRefused {
        /// The reason code the other device sent (a fixed list, nothing else).
        reason: LiveRefusal,
        /// What it means for this device and what to do, from this device's own state
        /// (never from the other device: the frame carries only the code).
        advice: String,
    },

    /// The device is not in a group yet (create one or join with an invitation).
    #[error("this device is not in a group yet; create one or join with an invitation")]
    NoGroup,

    /// The operation was cancelled through its progress callback. An import, an export
    /// or a bulk write stores nothing; a mailbox sync keeps the bundles it had imported
    /// before the cancel (each durable, and reported to the change listener).
    #[error("cancelled; nothing more was stored")]
    Cancelled,

    /// An unexpected internal failure (a bug); the store was left unchanged.
    #[error("internal error: {0}")]
    Internal(String),
}

struct Findings<'a>(&'a [Finding]);

impl fmt::Display for Findings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, finding) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(file: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            file: file.into(),
            source,
        }
    }

    pub(crate) fn corrupted(file: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupted {
            file: file.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn rejected(reason: impl Into<String>) -> Self {
        Error::Rejected {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Internal(format!("automerge: {e}"))
    }
}
