//! The mailbox as a foreign trait: the app hands the core a [`Mailbox`] it implements
//! over whatever it reaches the shared folder through (Android's Storage Access
//! Framework document tree, iOS's security-scoped folder URL), and the core's one
//! mailbox sync runs over it directly: no mirror, no staging copy. Also a WebDAV
//! server ([`CaravanStore::sync_webdav`]).
//!
//! Whatever the app's mailbox does, the store stays usable: a throw (declared or not)
//! becomes a typed error of the sync call (`Io`, or a refused file in the summary), the
//! bundles imported before it stay imported (each is durable), and the store's lock is
//! never unwound through (foreign errors are values, not panics).

use std::sync::Arc;

use caravan_core::{Error as CoreError, Result as CoreResult};
use zeroize::Zeroizing;

use crate::listener::ProgressListener;
use crate::store::{mailbox_progress_fn, CaravanStore, Synced};
use crate::sync::{mailbox_sync, MailboxSummary};
use crate::Result;

/// What an app's [`Mailbox`] throws.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum MailboxError {
    /// This file is refused (larger than the limit, not a plain file): the sync lists
    /// it in `MailboxSummary.refused` and carries on.
    #[error("refused: {reason}")]
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// The folder cannot be used now (removed, permission revoked, full): the sync
    /// stops with an `Io` error; what it imported before stays.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why, in words.
        reason: String,
    },
}

/// Any other exception thrown by the app's mailbox: the folder is unavailable. Its
/// text is dropped (it could quote anything).
impl From<uniffi::UnexpectedUniFFICallbackError> for MailboxError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        MailboxError::Unavailable {
            reason: "the app's mailbox failed unexpectedly".into(),
        }
    }
}

/// A shared folder the app reaches through its own API, holding one outbox per device:
/// files `<outbox>/<name>` (exactly one `/`). It only ever receives ciphertext.
#[uniffi::export(with_foreign)]
pub trait Mailbox: Send + Sync {
    /// Every file two levels down, as `<outbox>/<name>`. A missing or empty folder
    /// lists nothing.
    fn list(&self) -> Result<Vec<String>, MailboxError>;
    /// The bytes of `path`. **Check the size before reading**: a file larger than
    /// `limit` bytes must be refused with `Refused`, unread (a hostile stick must not
    /// exhaust memory); the core refuses anything longer anyway.
    fn read(&self, path: String, limit: u64) -> Result<Vec<u8>, MailboxError>;
    /// Creates or replaces `path` (creating its outbox) so that a reader never sees a
    /// part of it: write a temporary name, then rename.
    fn write(&self, path: String, bytes: Vec<u8>) -> Result<(), MailboxError>;
    /// Deletes `path`; a file already gone is not an error.
    fn remove(&self, path: String) -> Result<(), MailboxError>;
    /// A stable name for this place (for example the document tree's URI, or
    /// `"file " + canonical path`), never shown and never written anywhere: the device
    /// keeps one position (what it already wrote there) per place, so two places it
    /// syncs with each get everything. Return the same text for the same place every
    /// time, and different texts for different places. An empty text is the one place
    /// every app mailbox shared before places had names (keep it for a single folder
    /// that synced before this method existed, so it is not written whole again).
    fn place(&self) -> Result<String, MailboxError>;
}

/// The app's mailbox seen by the core, with the place it named.
struct Foreign {
    inner: Arc<dyn Mailbox>,
    place: String,
}

impl Foreign {
    /// Asks the app's mailbox for its place once, before the sync (a throw stops the
    /// sync before anything is read, typed `Io`).
    fn new(inner: Arc<dyn Mailbox>) -> CoreResult<Foreign> {
        let place = inner.place().map_err(|e| to_core(e, None))?;
        Ok(Foreign { inner, place })
    }
}

const NAME: &str = "the app's mailbox folder";

/// At most this many characters of the app's own reason reach an error (red team
/// round 6, B-F7: the app's storage layer may say anything, at any length).
const MAX_REASON_CHARS: usize = 300;

fn to_core(e: MailboxError, path: Option<&str>) -> CoreError {
    let bounded = |reason: String| {
        let mut out: String = reason.chars().take(MAX_REASON_CHARS).collect();
        if out.len() < reason.len() {
            out.push('…');
        }
        out
    };
    match e {
        MailboxError::Refused { reason } => CoreError::Rejected {
            reason: format!(
                "{NAME} refused {}: {}",
                path.unwrap_or("a file"),
                bounded(reason)
            ),
        },
        MailboxError::Unavailable { reason } => CoreError::Io {
            file: NAME.into(),
            source: std::io::Error::other(bounded(reason)),
        },
    }
}

impl caravan_core::Mailbox for Foreign {
    fn list(&self) -> CoreResult<Vec<String>> {
        self.inner.list().map_err(|e| to_core(e, None))
    }

    fn read(&self, path: &str, limit: u64) -> CoreResult<Vec<u8>> {
        let bytes = self
            .inner
            .read(path.to_owned(), limit)
            .map_err(|e| to_core(e, Some(path)))?;
        if bytes.len() as u64 > limit {
            return Err(CoreError::Rejected {
                reason: format!(
                    "{NAME} returned {} bytes for {path}, more than the limit of {limit}",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    fn write(&self, path: &str, bytes: &[u8]) -> CoreResult<()> {
        self.inner
            .write(path.to_owned(), bytes.to_vec())
            .map_err(|e| to_core(e, Some(path)))
    }

    fn remove(&self, path: &str) -> CoreResult<()> {
        self.inner
            .remove(path.to_owned())
            .map_err(|e| to_core(e, Some(path)))
    }

    fn describe(&self) -> String {
        NAME.into()
    }

    /// The app's place, or (empty) the one name every app mailbox shared before.
    fn place(&self) -> String {
        if self.place.is_empty() {
            NAME.into()
        } else {
            format!("app {}", self.place)
        }
    }
}

#[uniffi::export]
impl CaravanStore {
    /// Syncs through a mailbox the app implements (a document-tree folder, a
    /// security-scoped folder), exactly as [`CaravanStore::sync_mailbox`] does through a
    /// file system path: reads the other devices' bundles, then writes this device's;
    /// the change listener is told which cases changed; `progress` as there (its
    /// last tick cannot cancel what was applied). A throw
    /// from the mailbox stops the sync with a typed error (`Io`; the cases of the
    /// bundles imported before are told to the change listener first), or, for
    /// `Refused` on a read, lists the file in `refused` and carries on; the store stays
    /// usable.
    /// The device keeps its position per [`Mailbox::place`], so two places each get
    /// everything.
    #[uniffi::method(default(progress = None))]
    pub fn sync_through(
        &self,
        mailbox: Arc<dyn Mailbox>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<MailboxSummary> {
        let report = self.syncing(|s| {
            let foreign = match Foreign::new(mailbox) {
                Ok(foreign) => foreign,
                Err(e) => return Synced::unchanged(Err(e.into())),
            };
            let mut progress = mailbox_progress_fn(self, &progress);
            mailbox_sync(s, &foreign, &mut progress)
        })?;
        Ok(MailboxSummary::new(&report))
    }

    /// Syncs through a folder of a WebDAV server (Nextcloud, ownCloud, any WebDAV
    /// storage): `url` is `https://…` (`http://` only to this device), `user` and
    /// `password` the server's (HTTP Basic; never stored, logged or put in an error).
    /// Otherwise as [`CaravanStore::sync_mailbox`]; server failures are `Io` errors
    /// naming the URL and the HTTP status, and lose nothing.
    #[uniffi::method(default(user = None, password = None, progress = None))]
    pub fn sync_webdav(
        &self,
        url: String,
        user: Option<String>,
        password: Option<String>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<MailboxSummary> {
        let password = Zeroizing::new(password.unwrap_or_default());
        let credentials = user.map(|u| (u, password));
        // Inside `syncing`: a closed handle answers `ReopenStore` before the URL is read.
        let report = self.syncing(|s| {
            let mailbox = match caravan_core::WebDavMailbox::new(&url, credentials) {
                Ok(mailbox) => mailbox,
                Err(e) => return Synced::unchanged(Err(e.into())),
            };
            let mut progress = mailbox_progress_fn(self, &progress);
            mailbox_sync(s, &mailbox, &mut progress)
        })?;
        Ok(MailboxSummary::new(&report))
    }
}
