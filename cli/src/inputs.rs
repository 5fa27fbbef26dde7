//! Small helpers for command arguments that name files.

use std::path::Path;

use caravan_core::{Error, Result};

/// Maps an I/O error on `path` to the core's error type (exit code 5).
pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        file: path.display().to_string(),
        source: e,
    }
}

/// The argument itself, or the content of the file it names after `@` (for long
/// invitations, requests and offers).
pub(crate) fn text_or_file(arg: String) -> Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(io(Path::new(path))),
        None => Ok(arg),
    }
}
