//! The mailbox as a transport: four operations on a two-level tree of files
//! (`<outbox>/<name>`), so the same sync runs over a folder or USB stick
//! ([`FsMailbox`]), a WebDAV server (`WebDavMailbox`, feature `webdav`) or a folder
//! the app reaches through its own API (the Android document tree, through the
//! bindings' foreign trait).
//!
//! Whatever sits behind the trait is untrusted: names it lists are checked by the
//! sync before use ([`check_path`]), what it returns is authenticated by the sync,
//! and a read must refuse, without reading it whole, a file over the limit.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::files;
use crate::store::inputs;

/// A mailbox: a place that holds, for each device, an outbox of bundle files, and
/// that only ever sees ciphertext.
///
/// Paths are `<outbox>/<name>`: exactly one `/`, neither part empty, `.` or `..`, no
/// `\`. Implementations may be called from one thread at a time per sync.
pub trait Mailbox {
    /// Every file two levels down (`<outbox>/<name>`), in any order. An empty or missing
    /// mailbox lists nothing (a folder may create itself here).
    fn list(&self) -> Result<Vec<String>>;

    /// The bytes of `path` if it holds at most `limit` bytes. A larger file (or one that
    /// is not a plain file) is refused with [`Error::Rejected`] **before** more than
    /// `limit + 1` bytes are read, so a hostile server or stick cannot exhaust memory.
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>>;

    /// Creates `path` (and its outbox) atomically: a reader sees either no file or the
    /// whole new file, never a part of it. The sync only ever writes a new name; an
    /// implementation should refuse to replace a file already there (the folder and
    /// WebDAV mailboxes do), so a planted file can never make it overwrite a bundle.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<()>;

    /// Deletes `path`; deleting a file that is already gone is not an error.
    fn remove(&self, path: &str) -> Result<()>;

    /// A name for messages: the folder or the server's URL, **without credentials**.
    fn describe(&self) -> String;

    /// What identifies this place for the device's position in it (what it has
    /// written there): two mailboxes with the same place share one position. By
    /// default [`Mailbox::describe`].
    fn place(&self) -> String {
        self.describe()
    }
}

/// Splits a mailbox path into `(outbox, name)`, refusing anything that is not exactly
/// `<outbox>/<name>` of plain names (a listing from a hostile server or app must not
/// make the sync touch `..` or an absolute path).
pub(crate) fn check_path(path: &str) -> Option<(&str, &str)> {
    let (outbox, name) = path.split_once('/')?;
    let plain = |s: &str| {
        !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0']) && s.len() <= 255
    };
    (plain(outbox) && plain(name)).then_some((outbox, name))
}

/// A mailbox in a folder of the file system: a USB stick, an SD card, a folder a cloud
/// app keeps in sync. Reads are [`inputs::read_bounded`] (FIFOs, devices and files over
/// the limit refused unread); writes are a temporary file, fsync, rename, fsync of the
/// folder.
#[derive(Clone, Debug)]
pub struct FsMailbox {
    root: PathBuf,
}

impl FsMailbox {
    /// The mailbox in folder `root` (created at the first sync if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsMailbox { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, path: &str) -> Result<PathBuf> {
        let (outbox, name) = check_path(path).ok_or_else(|| bad_path(path))?;
        Ok(self.root.join(outbox).join(name))
    }

    fn io(&self) -> impl Fn(std::io::Error) -> Error + '_ {
        |e| Error::io(self.describe(), e)
    }
}

/// At most this many characters of a folder's path appear in a message.
const MAX_SHOWN_PATH: usize = 120;

/// A path for messages, bounded: its last [`MAX_SHOWN_PATH`] characters after an
/// ellipsis when longer (an absurd path must not fill a log or a crash report).
fn shown(path: &Path) -> String {
    let full = path.display().to_string();
    let n = full.chars().count();
    if n <= MAX_SHOWN_PATH {
        return full;
    }
    let tail: String = full.chars().skip(n - MAX_SHOWN_PATH).collect();
    format!("…{tail}")
}

/// A refused listing path; never quoted (a hostile listing can hold anything).
fn bad_path(_path: &str) -> Error {
    Error::rejected("a mailbox path that is not <outbox>/<file> was not used")
}

impl Mailbox for FsMailbox {
    fn list(&self) -> Result<Vec<String>> {
        fs::create_dir_all(&self.root).map_err(self.io())?;
        let mut out = Vec::new();
        let mut outboxes = 0;
        for sub in fs::read_dir(&self.root).map_err(self.io())?.flatten() {
            // `is_dir` follows links, as the folder sync always did; files inside are
            // still read only through `read_bounded`.
            if !sub.path().is_dir() {
                continue;
            }
            // Bounded (F10 of the round-3 mailbox red team): a folder of a million
            // entries is refused, typed, without listing it whole.
            outboxes += 1;
            if outboxes > super::MAX_OUTBOXES {
                return Err(super::too_many_outboxes());
            }
            let outbox = sub.file_name().to_string_lossy().into_owned();
            for (i, f) in fs::read_dir(sub.path())
                .map_err(self.io())?
                .flatten()
                .enumerate()
            {
                if i == super::MAX_FILES_PER_OUTBOX {
                    return Err(super::too_many_files());
                }
                out.push(format!("{outbox}/{}", f.file_name().to_string_lossy()));
            }
        }
        Ok(out)
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let target = self.path(path)?;
        // A file of the mailbox is a plain file in it: a link (planted by whoever can
        // write the shared folder) could make the sync read anything the device can
        // (red team round 6, L6). Refused unread, like a FIFO.
        if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::rejected(format!(
                "mailbox file {path} is a link, not a file; it was not read"
            )));
        }
        inputs::read_bounded(&target, limit, "bundle")
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let target = self.path(path)?;
        let (outbox, name) = check_path(path).ok_or_else(|| bad_path(path))?;
        let dir = self.root.join(outbox);
        // An outbox replaced by a link (by whoever can write the shared folder) would
        // send this device's bundles, and its clean-up, anywhere: refused.
        if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::rejected(
                "an outbox in the mailbox folder is not a plain folder (a link?); nothing \
                 was written",
            ));
        }
        fs::create_dir_all(&dir).map_err(self.io())?;
        // Never replace a file: a bundle already there under this name (planted, or
        // written by a copy of this device) stays, and the sync stops, typed.
        if fs::symlink_metadata(&target).is_ok() {
            return Err(Error::rejected(
                "a file with the name of this device's next bundle is already in the \
                 mailbox; nothing was replaced",
            ));
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, bytes).map_err(self.io())?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(self.io())?;
        fs::rename(&tmp, &target).map_err(self.io())?;
        files::sync_dir(&dir)
    }

    fn remove(&self, path: &str) -> Result<()> {
        let target = self.path(path)?;
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io()(e)),
        }
        match target.parent() {
            Some(dir) => files::sync_dir(dir),
            None => Ok(()),
        }
    }

    fn describe(&self) -> String {
        shown(&self.root)
    }

    /// The folder's full path, made absolute where it exists (`box` and `./box` are
    /// one place).
    fn place(&self) -> String {
        let full = fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        format!("folder {}", full.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_two_level_paths_pass() {
        assert_eq!(
            check_path("ab12/0000000001.cvb"),
            Some(("ab12", "0000000001.cvb"))
        );
        for bad in [
            "", "a", "/a", "a/", "../x", "a/..", "./x", "a/b/c", "a\\b/c", "a/b\0",
        ] {
            assert_eq!(check_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_folder_mailbox_round_trips_and_refuses_escapes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let m = FsMailbox::new(tmp.path().join("box"));
        assert!(m.list().expect("list").is_empty());
        m.write("out1/0000000001.cvb", b"one").expect("write");
        let err = m
            .write("out1/0000000001.cvb", b"uno")
            .expect_err("never replaced");
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        assert_eq!(m.list().expect("list"), vec!["out1/0000000001.cvb"]);
        assert_eq!(m.read("out1/0000000001.cvb", 3).expect("read"), b"one");
        // An outbox replaced by a link to elsewhere is refused, nothing written there.
        #[cfg(unix)]
        {
            let elsewhere = tmp.path().join("elsewhere");
            fs::create_dir_all(&elsewhere).expect("mkdir");
            std::os::unix::fs::symlink(&elsewhere, tmp.path().join("box").join("out2"))
                .expect("link");
            let err = m
                .write("out2/0000000001.cvb", b"x")
                .expect_err("linked outbox");
            assert!(matches!(err, Error::Rejected { .. }), "{err}");
            assert_eq!(fs::read_dir(&elsewhere).expect("dir").count(), 0);
            // A file of an outbox that is a link is refused unread (round 6, L6).
            let secret = tmp.path().join("secret.txt");
            fs::write(&secret, b"not for the mailbox").expect("write");
            std::os::unix::fs::symlink(&secret, tmp.path().join("box/out1/0000000002.cvb"))
                .expect("link");
            let err = m
                .read("out1/0000000002.cvb", 1 << 20)
                .expect_err("linked file");
            assert!(matches!(err, Error::Rejected { .. }), "{err}");
            fs::remove_file(tmp.path().join("box/out1/0000000002.cvb")).expect("unlink");
        }
        // A path of any length is not quoted in a message.
        let long = "x".repeat(100_000);
        let err = FsMailbox::new(tmp.path().join("file").join(&long))
            .list()
            .expect_err("not a folder");
        assert!(err.to_string().len() < 400, "{}", err.to_string().len());
        let err = m
            .read("out1/0000000001.cvb", 2)
            .expect_err("over the limit");
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        for bad in ["../escape", "out1/../../x", "x"] {
            assert!(matches!(m.write(bad, b"x"), Err(Error::Rejected { .. })));
        }
        assert!(!tmp.path().join("escape").exists());
        m.remove("out1/0000000001.cvb").expect("remove");
        m.remove("out1/0000000001.cvb").expect("already gone");
        assert!(m.list().expect("list").is_empty());
    }
}
