//! Panic wipe: one call that makes a store unreadable at once.
//!
//! Bound by the apps to a duress PIN, so it must be quick and must not fail half-way
//! because of a stray file. It first overwrites the store header in place with random
//! bytes and syncs it: the header holds the store id that every file key is derived
//! from (with the platform-keystore key) and, for a passphrase store, the Argon2id salt,
//! so from that moment the store cannot be opened with any key or passphrase. Then it
//! deletes every file the store owns (snapshot, journal, packs, temporary files, the
//! duplicate-detection agreement key, the lock), then the header itself, and the
//! directory if nothing else is left in it.
//! Files that are not the store's are left alone, and a directory without a store
//! header (either copy) is refused with [`Error::NotAStore`] before anything is
//! touched, so pointing it at a wrong directory (a typo) destroys nothing and says so.
//!
//! What stays the app's job: deleting the store key from the Android Keystore or iOS
//! Keychain (flash storage may keep old blocks of deleted files; they are ciphertext
//! under that key), and dropping every open handle (an open [`Store`] holds its keys in
//! memory until it is dropped).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::dedup::KEY_FILE as DEDUP_KEY_FILE;
use super::files::{self, FileName};
use super::format::{HEADER_COPY_FILE, HEADER_FILE, HEADER_SIZE, LOCK_FILE, MAGIC};
use super::privacy_ledger::LEDGER_FILE;
use super::Store;
use crate::error::{Error, Result};

impl Store {
    /// Destroys the store in `dir` so it can no longer be opened, with any key, then
    /// deletes its files. Close (drop) every handle to the store first.
    ///
    /// A directory that holds no store header (either copy; a header already
    /// overwritten by an interrupted wipe still counts) is refused with
    /// [`Error::NotAStore`] and nothing in it is touched: a second wipe of the same
    /// directory reports that there is no store left. Files in `dir` that are not the
    /// store's are kept. Needs no key.
    pub fn panic_wipe(dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let not_a_store = || Error::NotAStore {
            path: dir.display().to_string(),
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_a_store()),
            Err(e) => return Err(Error::io(dir.display().to_string(), e)),
        };
        let headers = [dir.join(HEADER_FILE), dir.join(HEADER_COPY_FILE)];
        if !headers.iter().any(|h| is_caravan_header(h)) {
            return Err(not_a_store());
        }
        let mut owned = Vec::new();
        let mut foreign = false;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == HEADER_FILE || name == HEADER_COPY_FILE {
                continue;
            }
            if name == LOCK_FILE
                || name == DEDUP_KEY_FILE
                || name == LEDGER_FILE
                || FileName::parse(&name).is_some()
            {
                owned.push(name);
            } else {
                foreign = true;
            }
        }
        for header in headers.iter().filter(|h| h.is_file()) {
            destroy_header(header)?;
        }
        for name in &owned {
            remove(&dir.join(name), name)?;
        }
        for (header, name) in headers.iter().zip([HEADER_FILE, HEADER_COPY_FILE]) {
            if header.exists() {
                remove(header, name)?;
            }
        }
        files::sync_dir(dir)?;
        if !foreign {
            // Best effort: the store is already gone; an app may hold the directory open.
            let _ = fs::remove_dir(dir);
        }
        Ok(())
    }
}

/// What an interrupted wipe leaves at the start of a header it overwrote, so that a
/// second wipe still recognises the store's remains (the rest is random: the store id
/// and the salt are gone).
const WIPED_MARK: &[u8] = b"caravan-wiped\n";

/// Whether `path` is a Caravan header: a regular file of a header's size that names
/// the format (its magic, even if other bytes of it are damaged) or that an
/// interrupted wipe overwrote. Any other file called `caravan.hdr` (a typo'd
/// directory, someone else's) does not make a directory a store.
fn is_caravan_header(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != HEADER_SIZE as u64 {
        return false;
    }
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    bytes.starts_with(WIPED_MARK) || bytes.windows(MAGIC.len()).any(|w| w == MAGIC.as_bytes())
}

/// Overwrites the header in place with random bytes of the same length (after a mark
/// saying it was wiped) and syncs it.
fn destroy_header(path: &Path) -> Result<()> {
    let len = fs::metadata(path)
        .map_err(|e| Error::io(HEADER_FILE, e))?
        .len() as usize;
    let mut noise = vec![0u8; len];
    for chunk in noise.chunks_mut(32) {
        let random = crate::crypto::random_array::<32>()?;
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    let mark = WIPED_MARK.len().min(len);
    noise[..mark].copy_from_slice(&WIPED_MARK[..mark]);
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(HEADER_FILE, e))?;
    file.write_all(&noise)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(HEADER_FILE, e))
}

fn remove(path: &Path, name: &str) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(name, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::StoreKey;
    use crate::model::Edit;
    use crate::model::ScalarField;

    #[test]
    fn a_wiped_store_cannot_be_opened_and_its_files_are_gone() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("store");
        let key = StoreKey::from_bytes(&[7u8; 32]).expect("key");
        {
            let mut store = Store::create(&dir, &key).expect("create");
            store
                .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
                .expect("add");
        }
        Store::panic_wipe(&dir).expect("wipe");
        assert!(!dir.exists(), "the emptied directory is removed");
        assert!(matches!(
            Store::open(&dir, &key),
            Err(Error::NotAStore { .. })
        ));
        assert!(
            matches!(Store::panic_wipe(&dir), Err(Error::NotAStore { .. })),
            "nothing left to wipe is said, not claimed as a wipe"
        );
    }

    /// Every file in `names` still holds what the test wrote into it.
    fn assert_untouched(dir: &Path, names: &[&str]) {
        for name in names {
            assert_eq!(
                fs::read(dir.join(name)).expect("kept"),
                b"someone else's",
                "{name} untouched"
            );
        }
    }

    #[test]
    fn a_directory_that_is_not_a_store_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("photos");
        fs::create_dir(&dir).expect("dir");
        let names = ["LOCK", "holiday.tmp", "journal-00000000", "notes.txt"];
        for name in names {
            fs::write(dir.join(name), b"someone else's").expect("write");
        }
        let err = Store::panic_wipe(&dir).expect_err("not a store");
        assert!(matches!(err, Error::NotAStore { .. }), "{err}");
        assert_untouched(&dir, &names);
        // A junk header (not a Caravan header) does not make it a store (F8).
        fs::write(dir.join(HEADER_FILE), b"hi").expect("junk header");
        let err = Store::panic_wipe(&dir).expect_err("junk header");
        assert!(matches!(err, Error::NotAStore { .. }), "{err}");
        assert_untouched(&dir, &names);
        let typo = tmp.path().join("typo");
        assert!(matches!(
            Store::panic_wipe(&typo),
            Err(Error::NotAStore { .. })
        ));
        assert!(!typo.exists());
    }

    #[test]
    fn the_header_is_destroyed_before_anything_else_and_foreign_files_stay() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("store");
        let key = StoreKey::from_bytes(&[9u8; 32]).expect("key");
        drop(Store::create(&dir, &key).expect("create"));
        // Foreign files, some with names that look like the store's (R2-7 of the
        // 2026-12-05 red team), and the store's own temporary and set-aside files.
        let foreign = [
            "damaged-report.pdf",
            "my.tmp",
            "journal-notes.txt",
            "pack-list.txt",
            "photo.jpg",
        ];
        for name in foreign {
            fs::write(dir.join(name), b"not the store's").expect("foreign");
        }
        for name in ["journal-00000000.tmp", "damaged-pack-00000000-2"] {
            fs::write(dir.join(name), b"the store's").expect("own");
        }
        // One header copy destroyed: the other still opens the store (and the damage
        // is reported); both destroyed: no key opens it any more.
        destroy_header(&dir.join(HEADER_FILE)).expect("destroy");
        let store = Store::open(&dir, &key).expect("the copy opens it");
        assert_eq!(store.damage()[0].file, HEADER_FILE);
        drop(store);
        destroy_header(&dir.join(HEADER_COPY_FILE)).expect("destroy");
        assert!(Store::open(&dir, &key).is_err());
        // Both headers overwritten (an interrupted wipe): still the store's remains.
        Store::panic_wipe(&dir).expect("wipe");
        let mut left: Vec<String> = fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(left, expected);
    }
}
