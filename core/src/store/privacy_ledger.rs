//! The privacy ledger of a store's statistics, sealed in its own file.
//!
//! The export module keeps there what was published from the store's cases: the
//! differential privacy budget spent and the k-anonymous release pinned for exact
//! outputs (decision 0018, docs/export.md). The store only keeps the bytes: sealed
//! with a key derived from the store key (AEAD context `caravan/store/privacy-ledger`),
//! written atomically, never synced to other devices, deleted by a panic wipe.

use super::files;
use super::Store;
use crate::error::{Error, Result};

/// File holding the sealed ledger.
pub(super) const LEDGER_FILE: &str = "privacy-ledger";
/// AEAD context of that file.
const CTX_LEDGER: &[u8] = b"caravan/store/privacy-ledger";
/// The largest ledger accepted (a ledger is a few hundred bytes per output).
const MAX_LEDGER_BYTES: u64 = 16 << 20;

impl Store {
    /// The privacy ledger's bytes, if one was written.
    pub fn privacy_ledger(&self) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(LEDGER_FILE);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(LEDGER_FILE, e)),
        };
        if len > MAX_LEDGER_BYTES {
            return Err(Error::corrupted(LEDGER_FILE, "larger than any ledger"));
        }
        let sealed = files::read_file(&self.dir, LEDGER_FILE)?;
        self.sealer
            .open(CTX_LEDGER, &sealed)
            .map(Some)
            .ok_or_else(|| Error::corrupted(LEDGER_FILE, "does not authenticate"))
    }

    /// Replaces the privacy ledger with `bytes` (sealed, written atomically, durable).
    pub fn set_privacy_ledger(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_writable()?;
        if bytes.len() as u64 > MAX_LEDGER_BYTES {
            return Err(Error::invalid("privacy ledger", "too large"));
        }
        let sealed = self.sealer.seal(CTX_LEDGER, bytes)?;
        files::write_atomic(&self.dir, LEDGER_FILE, &sealed)?;
        files::sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreKey};

    #[test]
    fn the_ledger_is_sealed_kept_and_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let key = StoreKey::generate().unwrap();
        let mut store = Store::create(&path, &key).unwrap();
        assert_eq!(store.privacy_ledger().unwrap(), None);
        store.set_privacy_ledger(b"{\"epsilon\":1.5}").unwrap();
        drop(store);
        let raw = std::fs::read(path.join(super::LEDGER_FILE)).unwrap();
        assert!(!raw.windows(7).any(|w| w == b"epsilon"), "sealed");
        let store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger().unwrap().as_deref(),
            Some(&b"{\"epsilon\":1.5}"[..])
        );
        // Tampering is detected; the other key cannot read it.
        drop(store);
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(path.join(super::LEDGER_FILE), &bad).unwrap();
        let store = Store::open(&path, &key).unwrap();
        assert!(store.privacy_ledger().is_err());
        drop(store);
        Store::panic_wipe(&path).unwrap();
        assert!(
            !path.exists(),
            "the wipe deletes the ledger and the directory"
        );
    }
}
