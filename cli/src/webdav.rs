//! `caravan sync dir https://…`: the WebDAV mailbox and its credentials.
//!
//! The user name comes from `CARAVAN_WEBDAV_USER`; the password from
//! `CARAVAN_WEBDAV_PASSWORD`, else the first line of the file named by
//! `CARAVAN_WEBDAV_PASSWORD_FILE`, else a hidden prompt on the terminal. No user: no
//! credentials are sent. Neither the password nor the header made from it is ever
//! printed (the mailbox's `Debug` and messages name the URL only).

use caravan_core::store::inputs;
use caravan_core::{Error, Result, WebDavMailbox};
use zeroize::Zeroizing;

const USER: &str = "CARAVAN_WEBDAV_USER";
const PASSWORD: &str = "CARAVAN_WEBDAV_PASSWORD";
const PASSWORD_FILE: &str = "CARAVAN_WEBDAV_PASSWORD_FILE";

fn password() -> Result<Zeroizing<String>> {
    if let Ok(p) = std::env::var(PASSWORD) {
        return Ok(Zeroizing::new(p));
    }
    if let Ok(file) = std::env::var(PASSWORD_FILE) {
        // A file that is no text, too large or no regular file is the user's input,
        // not a message from another device (red team round 6, L2): exit 2.
        let text = Zeroizing::new(
            inputs::read_text_bounded(std::path::Path::new(&file), "WebDAV password file")
                .map_err(|e| match e {
                    Error::Rejected { reason } => Error::InvalidInput {
                        field: PASSWORD_FILE.into(),
                        reason,
                    },
                    other => other,
                })?,
        );
        return Ok(Zeroizing::new(
            text.lines().next().unwrap_or("").trim_end().to_owned(),
        ));
    }
    rpassword::prompt_password("WebDAV password: ")
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidInput {
            field: "WebDAV password".into(),
            reason: format!("no terminal to ask on; set {PASSWORD} or {PASSWORD_FILE}"),
        })
}

/// The WebDAV mailbox at `url`, with the credentials from the environment.
pub(crate) fn mailbox(url: &str) -> Result<WebDavMailbox> {
    let credentials = match std::env::var(USER) {
        Ok(user) if !user.is_empty() => Some((user, password()?)),
        _ => None,
    };
    WebDavMailbox::new(url, credentials)
}
