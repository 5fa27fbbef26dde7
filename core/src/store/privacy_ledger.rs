//! The privacy ledger of a store's statistics, sealed in its own file.
//!
//! The export module keeps there what was published from the store's cases: the
//! differential privacy budget spent and the k-anonymous release pinned for exact
//! outputs (decision 0018, docs/export.md). The store only keeps the bytes: sealed
//! with a key derived from the store key (AEAD context `caravan/store/privacy-ledger`),
//! written atomically, never synced to other devices, deleted by a panic wipe.

use super::files;
use super::format::Record;
use super::Store;
use crate::error::{Error, Result};
use crate::ids::Hash;

/// File holding the sealed ledger.
pub(super) const LEDGER_FILE: &str = "privacy-ledger";
/// AEAD context of that file.
const CTX_LEDGER: &[u8] = b"caravan/store/privacy-ledger";
/// The largest ledger accepted (a ledger is a few hundred bytes per output).
const MAX_LEDGER_BYTES: u64 = 16 << 20;
/// What a ledger file's plaintext starts with, before the write count (files written
/// before ledger writes were counted hold the ledger alone).
const MAGIC: &[u8] = b"caravan-ledger/1";

/// What a store holds as its privacy ledger.
#[derive(Debug, PartialEq, Eq)]
pub enum LedgerState {
    /// No ledger was ever written.
    Never,
    /// The ledger's bytes, as last written.
    Present(Vec<u8>),
    /// The store's journal records `writes` writes of a ledger, but the file is missing
    /// or is an older (or another) copy: it was deleted or rolled back.
    Lost {
        /// Writes the journal records.
        writes: u64,
    },
    /// The ledger file is there but does not authenticate or does not parse (a broken
    /// medium, or tampering): what it held is unknown. Never read as "no ledger": the
    /// exports refuse it until the data officer restarts the ledger on purpose
    /// (counting the whole budget as spent), and `check` reports it.
    Damaged {
        /// Writes the journal records (0 if none).
        writes: u64,
    },
}

fn digest(sealed: &[u8]) -> Hash {
    let d = crate::crypto::sha256(sealed);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Hash(out)
}

impl Store {
    /// The privacy ledger's bytes, if one was written. A ledger that was deleted or
    /// rolled back (see [`Store::privacy_ledger_state`]) is an error.
    pub fn privacy_ledger(&self) -> Result<Option<Vec<u8>>> {
        match self.privacy_ledger_state()? {
            LedgerState::Never => Ok(None),
            LedgerState::Present(bytes) => Ok(Some(bytes)),
            LedgerState::Lost { writes } => Err(Error::invalid(
                "privacy ledger",
                format!(
                    "refused: this store's privacy ledger was deleted or replaced by an \
                     older copy (the store recorded {writes} write(s) of it); the privacy \
                     budget spent and the release published are unknown"
                ),
            )),
            LedgerState::Damaged { .. } => Err(Error::corrupted(
                LEDGER_FILE,
                "does not authenticate; the privacy budget spent and the release \
                 published are unknown",
            )),
        }
    }

    /// The privacy ledger, checked against the count and digest of its last write,
    /// which the store keeps in its authenticated journal and index. The file is
    /// accepted when it is that write; a ledger written but whose journal record a
    /// crash lost is one write ahead, and accepted too.
    pub fn privacy_ledger_state(&self) -> Result<LedgerState> {
        let path = self.dir.join(LEDGER_FILE);
        let len = match std::fs::metadata(&path) {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(LEDGER_FILE, e)),
        };
        let Some(len) = len else {
            return Ok(match self.index.ledger {
                None => LedgerState::Never,
                Some((writes, _)) => LedgerState::Lost { writes },
            });
        };
        let recorded = self.index.ledger.map_or(0, |(w, _)| w);
        let damaged = Ok(LedgerState::Damaged { writes: recorded });
        if len > MAX_LEDGER_BYTES {
            return damaged;
        }
        let sealed = files::read_file(&self.dir, LEDGER_FILE)?;
        let Some(opened) = self.sealer.open(CTX_LEDGER, &sealed) else {
            return damaged;
        };
        let Ok((writes, bytes)) = split(&opened) else {
            return damaged;
        };
        match (self.index.ledger, writes) {
            // Nothing recorded yet: a file from before writes were counted, or the
            // first write, whose journal record a crash lost.
            (None, None | Some(1)) => Ok(LedgerState::Present(bytes.to_vec())),
            (Some((w, d)), Some(n)) if (n == w && d == digest(&sealed)) || n == w + 1 => {
                Ok(LedgerState::Present(bytes.to_vec()))
            }
            (Some((w, _)), _) => Ok(LedgerState::Lost { writes: w }),
            (None, Some(_)) => Ok(LedgerState::Lost { writes: 0 }),
        }
    }

    /// Replaces the privacy ledger with `bytes` (sealed, written atomically, durable),
    /// and records the write's count and digest in the journal.
    ///
    /// A damaged ledger file is kept aside (`damaged-privacy-ledger`) before it is
    /// replaced, as `repair` would keep it.
    pub fn set_privacy_ledger(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_writable()?;
        if bytes.len() as u64 > MAX_LEDGER_BYTES {
            return Err(Error::invalid("privacy ledger", "too large"));
        }
        if matches!(self.privacy_ledger_state()?, LedgerState::Damaged { .. }) {
            super::recovery::keep_aside(&self.dir, LEDGER_FILE)?;
        }
        let writes = self.index.ledger.map_or(0, |(w, _)| w) + 1;
        let mut plain = Vec::with_capacity(8 + bytes.len());
        plain.extend_from_slice(MAGIC);
        plain.extend_from_slice(&writes.to_le_bytes());
        plain.extend_from_slice(bytes);
        let sealed = self.sealer.seal(CTX_LEDGER, &plain)?;
        files::write_atomic(&self.dir, LEDGER_FILE, &sealed)?;
        files::sync_dir(&self.dir)?;
        let record = Record::Ledger {
            lsn: self.index.next_lsn,
            writes,
            digest: digest(&sealed),
        };
        let loc = self.append_durably(&record)?;
        self.index.apply(record, loc);
        self.confirm()
    }
}

impl Store {
    /// What `check` says of the privacy ledger: a damaged, deleted or rolled-back
    /// ledger is damage (its content, the budget spent and the release pinned, is
    /// lost: counted as one record lost, so that `check` exits 5).
    pub(crate) fn ledger_damage(&self) -> Option<super::Damage> {
        let problem = match self.privacy_ledger_state() {
            Ok(LedgerState::Never | LedgerState::Present(_)) => return None,
            Ok(LedgerState::Damaged { .. }) | Err(_) => {
                "does not authenticate: the privacy budget spent and the release pinned \
                 are unknown. The exports refuse it; `caravan repair` keeps it aside, and \
                 then the data officer restarts the ledger on purpose with \
                 `--restart-lost-ledger` (the whole budget counted as spent)"
            }
            Ok(LedgerState::Lost { .. }) => {
                "missing, or an older copy than the store last wrote: the privacy budget \
                 spent and the release pinned are unknown. The exports refuse it until the \
                 latest copy is put back or the ledger is restarted on purpose with \
                 `--restart-lost-ledger` (the whole budget counted as spent)"
            }
        };
        Some(super::Damage::new(LEDGER_FILE, problem.to_string(), 1))
    }

    /// For `repair`: a ledger file that is damaged or older than the store's record
    /// (already kept aside by the caller) is removed, and the store keeps its record
    /// of the last write, so the exports find the ledger lost and refuse until it is
    /// restarted on purpose: a repair never resets the budget. A damaged file the
    /// journal has no record of (written before writes were counted, or its record
    /// lost in a crash) gets one now, for the same reason.
    pub(crate) fn repair_ledger(&mut self) -> Result<()> {
        let state = self.privacy_ledger_state()?;
        if !matches!(
            state,
            LedgerState::Damaged { .. } | LedgerState::Lost { .. }
        ) {
            return Ok(());
        }
        let path = self.dir.join(LEDGER_FILE);
        let sealed = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(LEDGER_FILE, e)),
        };
        if self.index.ledger.is_none() {
            let record = Record::Ledger {
                lsn: self.index.next_lsn,
                writes: 1,
                digest: digest(sealed.as_deref().unwrap_or_default()),
            };
            let loc = self.append_durably(&record)?;
            self.index.apply(record, loc);
        }
        if sealed.is_some() {
            files::remove(&self.dir, LEDGER_FILE)?;
            files::sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// The write count and the ledger's bytes; `None` for a file written before writes
/// were counted.
fn split(opened: &[u8]) -> Result<(Option<u64>, &[u8])> {
    let Some(rest) = opened.strip_prefix(MAGIC) else {
        return Ok((None, opened));
    };
    if rest.len() < 8 {
        return Err(Error::corrupted(LEDGER_FILE, "too short"));
    }
    let (count, bytes) = rest.split_at(8);
    let mut c = [0u8; 8];
    c.copy_from_slice(count);
    Ok((Some(u64::from_le_bytes(c)), bytes))
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

    /// R2-4 of the 2026-12-05 red team: a damaged ledger was "no damage" to `check`
    /// and `repair`, and a dead end for the exports. It is now reported by `check`
    /// (as data lost), kept aside and removed by `repair`, and never read as "no
    /// ledger": after the repair the store still knows a ledger was written, so the
    /// exports refuse until it is restarted on purpose.
    #[test]
    fn a_damaged_ledger_is_checked_repaired_and_never_resets_the_budget() {
        use super::LedgerState;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let key = StoreKey::generate().unwrap();
        let mut store = Store::create(&path, &key).unwrap();
        store
            .add_case(&[crate::model::Edit::note("met at the station")])
            .unwrap();
        store.set_privacy_ledger(b"{\"spent\":4}").unwrap();
        assert!(store.check().damage.is_empty());
        drop(store);
        let file = path.join(super::LEDGER_FILE);
        let mut bad = std::fs::read(&file).unwrap();
        let mid = bad.len() / 2;
        bad[mid] ^= 1;
        std::fs::write(&file, &bad).unwrap();
        let store = Store::open_read_only(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Damaged { writes: 1 }
        );
        let report = store.check();
        assert!(
            report.damage.iter().any(
                |d| d.file == super::LEDGER_FILE && d.problem.contains("--restart-lost-ledger")
            ),
            "{:?}",
            report.damage
        );
        assert!(report.data_lost(), "check exits 5");
        drop(store);
        let repaired = Store::repair(&path, &key).unwrap();
        assert!(repaired.repaired);
        assert!(repaired
            .kept_aside
            .contains(&format!("damaged-{}", super::LEDGER_FILE)));
        assert_eq!(
            std::fs::read(path.join(format!("damaged-{}", super::LEDGER_FILE))).unwrap(),
            bad,
            "kept aside as it was"
        );
        let mut store = Store::open(&path, &key).unwrap();
        assert_eq!(store.len(), 1, "the cases are untouched");
        // Never "no ledger": lost, so the exports refuse until a restart on purpose.
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Lost { writes: 1 }
        );
        store.compact_now().unwrap();
        drop(store);
        let mut store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Lost { writes: 1 }
        );
        // The restart (the exports' --restart-lost-ledger) writes a new ledger.
        store.set_privacy_ledger(b"{\"spent\":5}").unwrap();
        assert!(store.check().damage.is_empty());
        // A damaged ledger replaced directly is kept aside first.
        drop(store);
        let mut bad = std::fs::read(&file).unwrap();
        bad[0] ^= 1;
        std::fs::write(&file, &bad).unwrap();
        let mut store = Store::open(&path, &key).unwrap();
        assert!(store.privacy_ledger().is_err());
        store.set_privacy_ledger(b"{\"spent\":5}").unwrap();
        assert_eq!(
            std::fs::read(path.join(format!("damaged-{}-2", super::LEDGER_FILE))).unwrap(),
            bad
        );
    }

    /// Red-team finding F3: deleting the ledger file, or putting an older copy back,
    /// silently reset the privacy budget. The store's journal records each write's
    /// count and digest, so both are detected, also after reopening and compaction.
    #[test]
    fn a_deleted_or_rolled_back_ledger_is_detected() {
        use super::LedgerState;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let key = StoreKey::generate().unwrap();
        let mut store = Store::create(&path, &key).unwrap();
        assert_eq!(store.privacy_ledger_state().unwrap(), LedgerState::Never);
        store.set_privacy_ledger(b"{\"spent\":1}").unwrap();
        let first = std::fs::read(path.join(super::LEDGER_FILE)).unwrap();
        store.set_privacy_ledger(b"{\"spent\":2}").unwrap();
        let second = std::fs::read(path.join(super::LEDGER_FILE)).unwrap();
        assert_eq!(
            store.privacy_ledger().unwrap().as_deref(),
            Some(&b"{\"spent\":2}"[..])
        );
        // Rolled back to the first copy.
        std::fs::write(path.join(super::LEDGER_FILE), &first).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Lost { writes: 2 }
        );
        let e = store.privacy_ledger().unwrap_err();
        assert!(e.to_string().contains("deleted or replaced"), "{e}");
        // Deleted, seen after reopening the store and after a compaction.
        std::fs::remove_file(path.join(super::LEDGER_FILE)).unwrap();
        drop(store);
        let mut store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Lost { writes: 2 }
        );
        store.compact_now().unwrap();
        drop(store);
        let mut store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Lost { writes: 2 }
        );
        // The real copy is accepted; a new write continues the count.
        std::fs::write(path.join(super::LEDGER_FILE), &second).unwrap();
        assert_eq!(
            store.privacy_ledger_state().unwrap(),
            LedgerState::Present(b"{\"spent\":2}".to_vec())
        );
        store.set_privacy_ledger(b"{\"spent\":3}").unwrap();
        drop(store);
        let store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.privacy_ledger().unwrap().as_deref(),
            Some(&b"{\"spent\":3}"[..])
        );
    }
}
