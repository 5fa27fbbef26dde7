//! File-system helpers: names, positioned reads, durable writes, the journal.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The kinds of files in a store directory, parsed from their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileName {
    Index(u64),
    Journal(u64),
    Pack(u32),
    /// The end mark of a journal generation (format 5).
    End(u64),
    /// A damaged file that `repair` kept aside (`damaged-<name>`): never read, only
    /// deleted by a wipe.
    Damaged,
    Temp,
}

impl FileName {
    /// Only the store's own names parse: `<store file>.tmp` and `damaged-<store
    /// file>[-<n>]` name a store file, so a foreign `my.tmp` or `damaged-report.pdf`
    /// in the directory is never taken for one (and never deleted: R2-7 of the
    /// 2026-12-05 red team).
    pub(crate) fn parse(name: &str) -> Option<FileName> {
        if let Some(stem) = name.strip_suffix(".tmp") {
            return is_store_file(stem).then_some(FileName::Temp);
        }
        if let Some(rest) = name.strip_prefix(DAMAGED_PREFIX) {
            let base = match rest.rsplit_once('-') {
                Some((base, n))
                    if !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && is_store_file(base) =>
                {
                    base
                }
                _ => rest,
            };
            return is_store_file(base).then_some(FileName::Damaged);
        }
        let (kind, num) = name.split_once('-')?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match kind {
            "index" => num.parse().ok().map(FileName::Index),
            "journal" => num.parse().ok().map(FileName::Journal),
            "pack" => num.parse().ok().map(FileName::Pack),
            "end" => num.parse().ok().map(FileName::End),
            _ => None,
        }
    }
}

/// Whether `name` is one of the files a store writes (not a temporary or a damaged
/// copy): a header copy, the lock, the privacy ledger, the dedup key, or a numbered
/// index, journal, pack or end mark.
fn is_store_file(name: &str) -> bool {
    use super::format::{HEADER_COPY_FILE, HEADER_FILE, LOCK_FILE};
    matches!(
        name,
        HEADER_FILE
            | HEADER_COPY_FILE
            | LOCK_FILE
            | super::privacy_ledger::LEDGER_FILE
            | super::dedup::KEY_FILE
    ) || matches!(
        FileName::parse(name),
        Some(FileName::Index(_) | FileName::Journal(_) | FileName::Pack(_) | FileName::End(_))
    )
}

pub(crate) fn index_name(gen: u64) -> String {
    format!("index-{gen:08}")
}

pub(crate) fn journal_name(gen: u64) -> String {
    format!("journal-{gen:08}")
}

pub(crate) fn pack_name(n: u32) -> String {
    format!("pack-{n:08}")
}

pub(crate) fn end_name(gen: u64) -> String {
    format!("end-{gen:08}")
}

/// Names of damaged files kept aside by a repair start with this.
pub(crate) const DAMAGED_PREFIX: &str = "damaged-";

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(windows)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n =
            std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset + done as u64)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        done += n;
    }
    Ok(())
}

/// Makes renames and new files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `name` atomically: a temporary file, fsync, rename. The caller syncs the dir.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |e| Error::io(name, e);
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, dir.join(name)).map_err(io)
}

/// Reads a whole file of the store.
pub(crate) fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    fs::read(dir.join(name)).map_err(|e| Error::io(name, e))
}

/// Removes a file if it exists.
pub(crate) fn remove(dir: &Path, name: &str) -> Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(name, e)),
    }
}

/// The append-only journal of the current generation.
pub(crate) struct Journal {
    pub(crate) gen: u64,
    /// `None`: the journal is missing and the store was opened for reading only
    /// (a read never creates a file).
    pub(crate) file: Option<File>,
    pub(crate) len: u64,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating if needed) the journal of `gen`, truncated to `valid_len` (a
    /// torn tail), or, if `keep` (a damaged store, opened for reading), as it is.
    pub(crate) fn open(dir: &Path, gen: u64, valid_len: u64, keep: bool) -> Result<Journal> {
        let name = journal_name(gen);
        let path = dir.join(&name);
        let io = |e| Error::io(journal_name(gen), e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        if keep {
            return Ok(Journal {
                gen,
                file: Some(file),
                len: actual,
                path,
            });
        }
        if actual != valid_len {
            file.set_len(valid_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(Journal {
            gen,
            file: Some(file),
            len: valid_len,
            path,
        })
    }

    /// Opens the journal of `gen` for reading only, as it is: nothing is created or
    /// changed (a missing journal stays missing; it then reads as empty).
    pub(crate) fn open_read(dir: &Path, gen: u64) -> Result<Journal> {
        let name = journal_name(gen);
        let path = dir.join(&name);
        let io = |e| Error::io(journal_name(gen), e);
        let (file, len) = match File::open(&path) {
            Ok(f) => {
                let len = f.metadata().map_err(io)?.len();
                (Some(f), len)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0),
            Err(e) => return Err(io(e)),
        };
        Ok(Journal {
            gen,
            file,
            len,
            path,
        })
    }

    /// The open file, or an error if it is missing (opened for reading only).
    pub(crate) fn file(&self) -> Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| Error::corrupted(self.name(), "the journal file is missing"))
    }

    pub(crate) fn name(&self) -> String {
        journal_name(self.gen)
    }

    /// Appends bytes at the end (not yet durable).
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<u64> {
        let offset = self.len;
        let res = write_at_end(self.file()?, bytes, offset);
        match res {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(offset)
            }
            Err(e) => Err(Error::io(self.name(), e)),
        }
    }

    /// Makes everything appended so far durable.
    pub(crate) fn sync(&self) -> Result<()> {
        self.file()?
            .sync_data()
            .map_err(|e| Error::io(self.name(), e))
    }

    /// Cuts the journal back to `len` after a failed write; durable.
    pub(crate) fn rollback_to(&mut self, len: u64) -> Result<()> {
        let io = |e| Error::io(self.path.display().to_string(), e);
        let file = self.file()?;
        file.set_len(len).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.len = len;
        Ok(())
    }
}

#[cfg(unix)]
fn write_at_end(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

/// Writes all of `bytes` at `offset` (not yet durable).
pub(crate) fn write_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    write_at_end(file, bytes, offset)
}

#[cfg(windows)]
fn write_at_end(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        done +=
            std::os::windows::fs::FileExt::seek_write(file, &bytes[done..], offset + done as u64)?;
    }
    Ok(())
}
