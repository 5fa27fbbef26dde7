//! Bounded reads of files that come from outside: bundles (USB, messengers), mailbox
//! folders a relay or a colleague writes into, QR frames, partner share bundles.
//!
//! One file from a relay must not be able to exhaust a phone's memory, so the size is
//! taken from the file's metadata and checked against a documented limit **before**
//! anything is read, and the read itself stops one byte past the limit (a file that
//! grows between the check and the read is refused too). The limits are those of the
//! formats themselves: nothing larger could be accepted anyway.
//!
//! | input | limit |
//! |---|---|
//! | bundle file, mailbox file, partner share bundle | [`MAX_BUNDLE_FILE`] (65 MiB) |
//! | one QR frame file | [`MAX_QR_FRAME_FILE`] (2,953 bytes) |
//! | live message (CLI `sync listen`/`connect`) | 64 MiB, read in 1 MiB chunks |

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest bundle, mailbox or share file read: one envelope at its limit
/// ([`crate::sync::envelope::MAX_ENVELOPE`], 64 MiB) plus 1 MiB for the key-update
/// envelopes that may precede it.
pub const MAX_BUNDLE_FILE: u64 = (64 << 20) + (1 << 20);

/// Largest QR frame file read: the largest frame ([`crate::sync::qr::MAX_MAX_FRAME`]).
pub const MAX_QR_FRAME_FILE: u64 = crate::sync::qr::MAX_MAX_FRAME as u64;

/// Reads `path` whole if it is at most `limit` bytes; otherwise refuses it with
/// [`Error::Rejected`] (naming `what` and both sizes) without reading it.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(&name, e))?;
    let size = file.metadata().map_err(|e| Error::io(&name, e))?.len();
    let too_big = |size: String| {
        Error::rejected(format!(
            "{what} {name} is {size} bytes, more than the limit of {limit} bytes; it was not read"
        ))
    };
    if size > limit {
        return Err(too_big(size.to_string()));
    }
    let mut out = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(&name, e))?;
    if out.len() as u64 > limit {
        return Err(too_big("more than that".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_over_the_limit_are_refused_before_they_are_read() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("junk.cvb");
        // A sparse 1 GiB file: reading it would allocate 1 GiB.
        File::create(&path)
            .and_then(|f| f.set_len(1 << 30))
            .expect("sparse file");
        let err = read_bounded(&path, MAX_BUNDLE_FILE, "bundle").expect_err("refused");
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        assert!(err.to_string().contains("1073741824 bytes"), "{err}");
        // At the limit: read; one byte over: refused.
        let small = tmp.path().join("frame");
        std::fs::write(&small, vec![7u8; 2953]).expect("write");
        assert_eq!(
            read_bounded(&small, MAX_QR_FRAME_FILE, "QR frame")
                .expect("read")
                .len(),
            2953
        );
        std::fs::write(&small, vec![7u8; 2954]).expect("write");
        assert!(read_bounded(&small, MAX_QR_FRAME_FILE, "QR frame").is_err());
    }
}
