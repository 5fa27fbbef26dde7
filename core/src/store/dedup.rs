//! Blind indices in the store: the agreement key, sealed in its own file, and each
//! case's index, kept in the case document (see [`crate::dedup`]).
//!
//! - **The key** is in `dedup-key`, sealed like every other file with a key derived
//!   from the store key (AEAD context `caravan/store/dedup-key`), written atomically.
//!   It is never in a clear file and never synced: each device of the agreement gets
//!   it in person ([`DedupKey::to_handover_code`]).
//! - **The index** of a case is a field of the case's document
//!   ([`Edit::SetBlindIndex`]): it is sealed with the case, syncs to the team's devices
//!   with it, and goes when the case is erased.

use std::borrow::Borrow;

use super::files;
use super::Store;
use crate::dedup::{
    find_duplicates, find_duplicates_within, BlindIndex, DedupKey, IndexEntry, IndexList,
    PossibleDuplicate,
};
use crate::error::{Error, Result};
use crate::model::{CaseId, Edit};

/// File holding the sealed agreement key.
pub(super) const KEY_FILE: &str = "dedup-key";
/// AEAD context of that file.
const CTX_DEDUP_KEY: &[u8] = b"caravan/store/dedup-key";

/// Blind indices for finding possible duplicates across agencies: the agreement key and
/// the cases' indices. [`Store::dedup`] reads the key, [`Store::dedup_mut`] does the rest.
pub struct Dedup<S>(S);

impl Store {
    /// Reads of the blind-index agreement key.
    pub fn dedup(&self) -> Dedup<&Store> {
        Dedup(self)
    }

    /// Blind indices: setting the agreement key, the cases' indices, the list for a partner
    /// and the possible duplicates (reading a case's index goes through its document, so
    /// it needs the store mutably).
    pub fn dedup_mut(&mut self) -> Dedup<&mut Store> {
        Dedup(self)
    }
}

impl<S: Borrow<Store>> Dedup<S> {
    /// The store this handle reads.
    fn store(&self) -> &Store {
        self.0.borrow()
    }

    /// The agreement key kept in this store, if one was set.
    pub fn dedup_key(&self) -> Result<Option<DedupKey>> {
        let store = self.store();
        let path = store.dir.join(KEY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let sealed = files::read_file(&store.dir, KEY_FILE)?;
        let plain = zeroize::Zeroizing::new(
            store
                .sealer
                .open(CTX_DEDUP_KEY, &sealed)
                .ok_or_else(|| Error::corrupted(KEY_FILE, "does not authenticate"))?,
        );
        DedupKey::from_stored(&plain)
            .map(Some)
            .map_err(|_| Error::corrupted(KEY_FILE, "not a dedup key"))
    }
}

impl Dedup<&mut Store> {
    /// Keeps `key` as this store's agreement key (sealed, written atomically),
    /// replacing any earlier one. Indices made with an earlier key stay on their cases
    /// but never match indices of the new one.
    pub fn set_dedup_key(&mut self, key: &DedupKey) -> Result<()> {
        self.0.check_writable()?;
        let sealed = self.0.sealer.seal(CTX_DEDUP_KEY, &key.to_stored())?;
        files::write_atomic(&self.0.dir, KEY_FILE, &sealed)?;
        files::sync_dir(&self.0.dir)
    }

    /// Forgets the agreement key (e.g. when the agreement ends). Returns whether there
    /// was one. The file is deleted; the sealed bytes may linger on flash storage, but
    /// they are ciphertext under the store key.
    pub fn remove_dedup_key(&mut self) -> Result<bool> {
        self.0.check_writable()?;
        let existed = self.0.dir.join(KEY_FILE).exists();
        files::remove(&self.0.dir, KEY_FILE)?;
        files::sync_dir(&self.0.dir)?;
        Ok(existed)
    }

    /// Stores `index` with the case (replacing an earlier one), durably. It syncs to
    /// the team's devices with the case and is erased with it.
    pub fn set_blind_index(&mut self, id: &CaseId, index: &BlindIndex) -> Result<()> {
        self.0.update_case(
            id,
            &[Edit::SetBlindIndex {
                index: Some(index.clone()),
            }],
        )
    }

    /// Removes the case's blind index, if any.
    pub fn clear_blind_index(&mut self, id: &CaseId) -> Result<()> {
        self.0
            .update_case(id, &[Edit::SetBlindIndex { index: None }])
    }

    /// The case's blind index, if one was set.
    pub fn blind_index(&mut self, id: &CaseId) -> Result<Option<BlindIndex>> {
        let doc = self.0.take_doc(id)?;
        let index = doc.blind_index();
        self.0.cache_put(*id, doc);
        index
    }

    /// Every live case that has a blind index, by case id. Reads every case document,
    /// so it takes a while in a large store. A case whose index does not decode (made
    /// by a newer version) is left out: it could not match anyway.
    pub fn blind_indices(&mut self) -> Result<Vec<(CaseId, BlindIndex)>> {
        let ids: Vec<CaseId> = self.0.index.cases.keys().copied().collect();
        let mut out = Vec::new();
        for id in ids {
            match self.blind_index(&id) {
                Ok(Some(index)) => out.push((id, index)),
                Ok(None) | Err(Error::InvalidInput { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The list to hand to a partner agency: the id and blind index of every case that
    /// has one and whose person consented to sharing with partners; nothing else.
    pub fn export_blind_indices(&mut self) -> Result<IndexList> {
        let mut entries = Vec::new();
        for (case, index) in self.blind_indices()? {
            // Only cases whose person agreed to sharing with partners leave the device,
            // even as a blind index (see docs/decisions/0007-blind-index.md).
            if self.0.case(&case)?.consent.allows_sharing() {
                entries.push(IndexEntry { case, index });
            }
        }
        Ok(IndexList::new(entries))
    }

    /// Our cases that may be the same person as a case in `theirs` (a partner's
    /// [`IndexList`]), strongest first. Entries made under another agreement key never
    /// match. A flag is a reason for a human to follow up, not a finding.
    pub fn possible_duplicates(&mut self, theirs: &IndexList) -> Result<Vec<PossibleDuplicate>> {
        let ours = self.blind_indices()?;
        let theirs: Vec<(CaseId, BlindIndex)> = theirs
            .entries
            .iter()
            .map(|e| (e.case, e.index.clone()))
            .collect();
        Ok(find_duplicates(&ours, &theirs))
    }

    /// Pairs of cases of this store that may be the same person, strongest first.
    pub fn possible_duplicates_within(&mut self) -> Result<Vec<PossibleDuplicate>> {
        Ok(find_duplicates_within(&self.blind_indices()?))
    }
}

#[cfg(test)]
mod tests {
    use crate::dedup::{BirthDate, Identity, MatchStrength, StretchCost};
    use crate::vocab::ErasureReason;
    use crate::{Edit, ScalarField, Store, StoreKey};

    use super::*;

    fn key() -> DedupKey {
        DedupKey::from_bytes(&[3u8; 32])
            .and_then(|k| k.with_cost(StretchCost::MINIMAL))
            .expect("key")
    }

    #[test]
    fn key_is_sealed_and_indices_live_with_their_case() {
        let tmp = tempfile::tempdir().expect("tmp");
        let store_key = StoreKey::generate().expect("key");
        let mut store = Store::create(tmp.path().join("s"), &store_key).expect("store");
        assert!(store.dedup().dedup_key().expect("none").is_none());
        let k = key();
        store.dedup_mut().set_dedup_key(&k).expect("set");
        let raw = std::fs::read(store.dir().join(KEY_FILE)).expect("file");
        assert!(!raw.windows(32).any(|w| w == k.expose_bytes()));
        let back = store.dedup().dedup_key().expect("get").expect("some");
        assert_eq!(back.expose_bytes(), k.expose_bytes());
        assert_eq!(back.cost(), StretchCost::MINIMAL);

        let a = store
            .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
            .expect("a");
        let b = store
            .add_case(&[Edit::set(ScalarField::Gender, "Feminine")])
            .expect("b");
        let person = |g: &str, f: &str| {
            let id = Identity::new(g, f, BirthDate::full(1999, 3, 14).expect("d")).expect("id");
            BlindIndex::compute(&k, &id).expect("index")
        };
        store
            .dedup_mut()
            .set_blind_index(&a, &person("Aigerim", "Kairatkyzy"))
            .expect("set");
        store
            .dedup_mut()
            .set_blind_index(&b, &person("Айгерим", "Кайраткызы"))
            .expect("set");
        let dir = store.dir().to_path_buf();
        drop(store);

        // Survives reopening (and compaction); the key file is unreadable with another key.
        let mut store = Store::open(&dir, &store_key).expect("reopen");
        store.compact_now().expect("compact");
        assert!(store.dedup().dedup_key().expect("key").is_some());
        let within = store
            .dedup_mut()
            .possible_duplicates_within()
            .expect("within");
        assert_eq!(within.len(), 1);
        assert_eq!(within[0].found.strength, MatchStrength::Strong);
        assert_eq!(store.dedup_mut().blind_indices().expect("all").len(), 2);

        store.dedup_mut().clear_blind_index(&b).expect("clear");
        assert_eq!(store.dedup_mut().blind_index(&b).expect("b"), None);
        store
            .erase_case(&a, ErasureReason::PersonRequested)
            .expect("erase");
        assert!(store.dedup_mut().blind_indices().expect("all").is_empty());

        assert!(store.dedup_mut().remove_dedup_key().expect("rm"));
        assert!(store.dedup().dedup_key().expect("none").is_none());
        assert!(!store.dedup_mut().remove_dedup_key().expect("rm again"));
    }

    #[test]
    fn a_tampered_key_file_is_reported_not_used() {
        let tmp = tempfile::tempdir().expect("tmp");
        let store_key = StoreKey::generate().expect("key");
        let mut store = Store::create(tmp.path().join("s"), &store_key).expect("store");
        store.dedup_mut().set_dedup_key(&key()).expect("set");
        let path = store.dir().join(KEY_FILE);
        let mut raw = std::fs::read(&path).expect("read");
        raw[20] ^= 1;
        std::fs::write(&path, &raw).expect("write");
        assert!(matches!(
            store.dedup().dedup_key(),
            Err(Error::Corrupted { .. })
        ));
    }
}
