//! The demo's cross-border relay: a local WebDAV server when one is available (Apache
//! httpd with `mod_dav`, Debian's `apache2`, started on 127.0.0.1 for the demo only),
//! else a shared folder. Either way the share bundles travel through Caravan's
//! [`Mailbox`] trait, the same one `caravan sync dir` uses, and the demo says which.
//! `CARAVAN_DEMO_RELAY=folder` asks for the folder.

use std::path::{Path, PathBuf};

use caravan_core::{FsMailbox, Mailbox, Result, WebDavMailbox};
use zeroize::Zeroizing;

use crate::local_apache::{self, Apache};

const USER: &str = "shelter-relay";

/// Where the bundles go, and what holds the files the relay stored.
pub(crate) struct Relay {
    /// The relay, as Caravan's mailbox.
    pub(crate) mailbox: Box<dyn Mailbox>,
    /// What it is, for the narration.
    pub(crate) said: String,
    /// The folder holding what the relay stored (the server's files, or the folder).
    pub(crate) files: PathBuf,
    _server: Option<Apache>,
}

impl Relay {
    /// A local WebDAV server under `dir` if Apache with `mod_dav` is installed and
    /// starts, else a folder under `dir` (the reason is in [`Relay::said`]).
    pub(crate) fn start(dir: &Path) -> Result<Relay> {
        let folder_asked = std::env::var("CARAVAN_DEMO_RELAY").as_deref() == Ok("folder");
        let installed = !folder_asked && local_apache::installed();
        let why = if installed {
            match webdav(dir) {
                Ok(relay) => return Ok(relay),
                Err(e) => format!("the local WebDAV server did not start ({e})"),
            }
        } else if folder_asked {
            "CARAVAN_DEMO_RELAY=folder".to_owned()
        } else {
            "no local WebDAV server (Apache httpd with mod_dav) is installed".to_owned()
        };
        let files = dir.join("shared-folder");
        Ok(Relay {
            mailbox: Box::new(FsMailbox::new(&files)),
            said: format!("a shared folder, {} ({why})", files.display()),
            files,
            _server: None,
        })
    }

    /// Puts `bytes` at `path` of the relay (one agency's side), then fetches them from
    /// there (the other's), as they arrive.
    pub(crate) fn carry(&self, path: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        self.mailbox.write(path, bytes)?;
        self.mailbox
            .read(path, caravan_core::store::inputs::MAX_BUNDLE_FILE)
    }
}

/// Starts Apache under `dir` and opens its collection as a mailbox.
fn webdav(dir: &Path) -> std::result::Result<Relay, String> {
    // A password for this run only, never printed.
    let password = Zeroizing::new(format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let server = local_apache::start(dir, USER, &password)?;
    let url = format!("http://127.0.0.1:{}/caravan/", server.port);
    let mailbox =
        WebDavMailbox::new(&url, Some((USER.into(), password))).map_err(|e| e.to_string())?;
    // The listing proves the server speaks WebDAV with these credentials.
    mailbox.list().map_err(|e| e.to_string())?;
    Ok(Relay {
        mailbox: Box::new(mailbox),
        said: format!(
            "the WebDAV server at {url} (Apache httpd with mod_dav, started for this demo \
             on this machine; a team would use its Nextcloud the same way)"
        ),
        files: server.dav.join("caravan"),
        _server: Some(server),
    })
}
