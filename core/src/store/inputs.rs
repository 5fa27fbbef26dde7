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
//! | bundle file, mailbox file, partner share bundle | [`MAX_BUNDLE_FILE`] (32 MiB) |
//! | text argument from a file (`@FILE`) | [`MAX_TEXT_FILE`] (1 MiB) |
//!
//! Only regular files are read: a FIFO, a device or a socket is refused before it
//! is opened (it could block forever or never end).
//! | one QR frame file | [`MAX_QR_FRAME_FILE`] (2,953 bytes) |
//! | live message (CLI `sync listen`/`connect`) | 64 MiB, read in 1 MiB chunks |

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest bundle, mailbox or share file read or written: 32 MiB. A refused file of
/// this size is read whole before its envelopes are parsed, and the process that
/// refuses it must stay within 64 MB (a phone's budget for one import); the exporters
/// refuse to write a larger bundle (send fewer cases per bundle instead).
pub const MAX_BUNDLE_FILE: u64 = 32 << 20;

/// Largest QR frame file read: the largest frame ([`crate::sync::qr::MAX_MAX_FRAME`]).
pub const MAX_QR_FRAME_FILE: u64 = crate::sync::qr::MAX_MAX_FRAME as u64;

/// Largest text argument read from a file (`@FILE`: invitations, join requests,
/// partner offers and codes): 1 MiB, far above any of them.
pub const MAX_TEXT_FILE: u64 = 1 << 20;

/// `O_NONBLOCK`: opening a FIFO that slipped past the type check must not wait for a
/// writer.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(any(target_os = "macos", target_os = "ios"))]
const O_NONBLOCK: i32 = 0x0004;

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios"
    ))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, O_NONBLOCK);
    options.open(path)
}

/// Refuses `path` as [`read_bounded`] would from its metadata alone (not a regular
/// file, or more than `limit` bytes), without opening it: callers check their inputs
/// this way before costly work such as unlocking a store (a 1 GB junk file is then
/// refused before the passphrase's key derivation takes its memory).
pub fn check_input(path: &Path, limit: u64, what: &str) -> Result<()> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(&name, e))?;
    if !meta.is_file() {
        return Err(Error::rejected(format!(
            "{what} {name} is not a regular file (a FIFO, a device, a socket or a \
             directory); it was not read"
        )));
    }
    if meta.len() > limit {
        return Err(Error::rejected(format!(
            "{what} {name} is {} bytes, more than the limit of {limit} bytes; it was not read",
            meta.len()
        )));
    }
    Ok(())
}

/// Reads `path` whole if it is a regular file (symbolic links followed) of at most
/// `limit` bytes; otherwise refuses it with [`Error::Rejected`] (naming `what` and
/// the reason) without reading it: FIFOs, devices, sockets and directories are
/// refused from their metadata before they are opened, and the read stops one byte
/// past `limit` (a file that grows after the check is refused too).
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let not_regular = || {
        Error::rejected(format!(
            "{what} {name} is not a regular file (a FIFO, a device, a socket or a \
             directory); it was not read"
        ))
    };
    let too_big = |size: u64| {
        Error::rejected(format!(
            "{what} {name} is {size} bytes, more than the limit of {limit} bytes; it was not read"
        ))
    };
    check_input(path, limit, what)?;
    let file = open_nonblocking(path).map_err(|e| Error::io(&name, e))?;
    // The file may have been replaced between the check and the open.
    let meta = file.metadata().map_err(|e| Error::io(&name, e))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(&name, e))?;
    if out.len() as u64 > limit {
        return Err(Error::rejected(format!(
            "{what} {name} grew past the limit of {limit} bytes while it was read; it was \
             refused"
        )));
    }
    Ok(out)
}

/// [`read_bounded`] for text: at most [`MAX_TEXT_FILE`] bytes of UTF-8.
pub fn read_text_bounded(path: &Path, what: &str) -> Result<String> {
    let bytes = read_bounded(path, MAX_TEXT_FILE, what)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::rejected(format!(
            "{what} {} is not UTF-8 text; it was refused",
            path.display()
        ))
    })
}

/// Refuses to write a bundle larger than [`MAX_BUNDLE_FILE`]: no Caravan device would
/// read it.
pub fn check_bundle_size(len: usize) -> Result<()> {
    if len as u64 > MAX_BUNDLE_FILE {
        return Err(Error::rejected(format!(
            "the bundle would be {len} bytes, more than the limit of {MAX_BUNDLE_FILE} bytes \
             that devices read; send fewer cases per bundle"
        )));
    }
    Ok(())
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

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_links_to_them_are_refused_unopened() {
        let tmp = tempfile::tempdir().expect("tmp");
        let fifo = tmp.path().join("0000000003.cvb");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let link = tmp.path().join("zero.cvb");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        // Without the type check the FIFO blocks forever and /dev/zero never ends.
        for path in [
            fifo.as_path(),
            Path::new("/dev/zero"),
            link.as_path(),
            tmp.path(),
        ] {
            let err = read_bounded(path, MAX_BUNDLE_FILE, "bundle").expect_err("refused");
            assert!(matches!(err, Error::Rejected { .. }), "{err}");
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let err = read_text_bounded(Path::new("/dev/zero"), "invitation").expect_err("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let big = tmp.path().join("big.txt");
        File::create(&big)
            .and_then(|f| f.set_len(MAX_TEXT_FILE + 1))
            .expect("sparse");
        let err = read_text_bounded(&big, "invitation").expect_err("refused");
        assert!(err.to_string().contains("more than the limit"), "{err}");
    }
}
