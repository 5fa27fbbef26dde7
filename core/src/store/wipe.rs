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
//! Files that are not the store's are left alone, so pointing it at a wrong directory
//! destroys nothing else.
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
use super::format::{HEADER_FILE, LOCK_FILE};
use super::privacy_ledger::LEDGER_FILE;
use super::Store;
use crate::error::{Error, Result};

impl Store {
    /// Destroys the store in `dir` so it can no longer be opened, with any key, then
    /// deletes its files. Close (drop) every handle to the store first.
    ///
    /// Idempotent: wiping a directory that holds no store (or an already wiped one)
    /// succeeds and changes nothing. Files in `dir` that are not the store's are kept.
    pub fn panic_wipe(dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir.display().to_string(), e)),
        };
        let mut owned = Vec::new();
        let mut foreign = false;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == HEADER_FILE {
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
        let header = dir.join(HEADER_FILE);
        if header.exists() {
            destroy_header(&header)?;
        }
        for name in &owned {
            remove(&dir.join(name), name)?;
        }
        if header.exists() {
            remove(&header, HEADER_FILE)?;
        }
        files::sync_dir(dir)?;
        if !foreign {
            // Best effort: the store is already gone; an app may hold the directory open.
            let _ = fs::remove_dir(dir);
        }
        Ok(())
    }
}

/// Overwrites the header in place with random bytes of the same length and syncs it.
fn destroy_header(path: &Path) -> Result<()> {
    let len = fs::metadata(path)
        .map_err(|e| Error::io(HEADER_FILE, e))?
        .len() as usize;
    let mut noise = vec![0u8; len];
    for chunk in noise.chunks_mut(32) {
        let random = crate::crypto::random_array::<32>()?;
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
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
        Store::panic_wipe(&dir).expect("wiping again is a no-op");
    }

    #[test]
    fn the_header_is_destroyed_before_anything_else_and_foreign_files_stay() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("store");
        let key = StoreKey::from_bytes(&[9u8; 32]).expect("key");
        drop(Store::create(&dir, &key).expect("create"));
        fs::write(dir.join("photo.jpg"), b"not the store's").expect("foreign");
        // The header alone destroyed: no key opens the store any more.
        destroy_header(&dir.join(HEADER_FILE)).expect("destroy");
        assert!(Store::open(&dir, &key).is_err());
        Store::panic_wipe(&dir).expect("wipe");
        let left: Vec<String> = fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["photo.jpg".to_string()]);
    }
}
