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
/// invitations, requests and offers), read through the core's bounded reader: a
/// regular file of at most 1 MiB of UTF-8 (a FIFO or a device is refused unopened).
pub(crate) fn text_or_file(arg: String) -> Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => caravan_core::store::inputs::read_text_bounded(Path::new(path), "file"),
        None => Ok(arg),
    }
}

/// A whole input file (an extract, a CSV, a key file, an index list), through the
/// core's bounded reader, as UTF-8 text.
pub(crate) fn read_input_text(path: &Path, what: &str) -> Result<String> {
    let bytes = caravan_core::store::inputs::read_bounded(
        path,
        caravan_core::store::inputs::MAX_BUNDLE_FILE,
        what,
    )?;
    String::from_utf8(bytes).map_err(|_| Error::InvalidInput {
        field: what.into(),
        reason: format!("{} is not UTF-8 text", path.display()),
    })
}
