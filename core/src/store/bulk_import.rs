//! A bulk import written block by block and committed once ([`Store::begin_import`]).
//!
//! The cases come in blocks (a spreadsheet import reads its file a second time and
//! hands over 256 rows at a time), so the importer never holds every case's edits:
//! each block is built in parallel, sealed and appended to the journal, and only its
//! index entries (summaries, no documents) wait for the commit. Nothing is visible
//! before [`BulkImport::finish`]: not in this process (the index is untouched until
//! then), and not after a crash either, because the journal's end mark is written
//! only by `finish`, and an open discards the valid frames after what a cleanly read
//! end mark confirms (they were never acknowledged; decision 0029). A cancel, an
//! error or a drop without `finish` cuts the journal back to where the import began.

use std::collections::HashSet;

use super::format::Record;
use super::index::{Loc, JOURNAL};
use super::Store;
use crate::error::{Error, Result};
use crate::model::{CaseId, Edit, Timestamp};

/// Cases built and sealed together (one parallel build; up to
/// `format::BLOCK_RECORDS` records per frame).
pub const IMPORT_BLOCK: usize = 256;

/// An import in progress: see [`Store::begin_import`].
pub struct BulkImport<'s> {
    store: &'s mut Store,
    now: Timestamp,
    threads: usize,
    /// Journal length and next LSN before the import (what a rollback restores).
    start_len: u64,
    start_lsn: u64,
    /// Index entries of the written cases, applied by `finish`.
    pending: Vec<(Loc, Record)>,
    /// Every offered case's id and whether this import stores it, in order.
    ids: Vec<(CaseId, bool)>,
    /// Ids offered so far (a request repeated within one import is stored once).
    seen: HashSet<CaseId>,
    /// Set by `finish`; otherwise the drop rolls back.
    done: bool,
}

impl Store {
    /// Starts an import that is safe to repeat and all or nothing, even across a
    /// crash: cases are offered in blocks with [`BulkImport::add`] (each with a
    /// request id, from which its case id is derived as in [`Store::add_case_once`],
    /// so a case imported before, or imported and erased, is not stored again), and
    /// nothing is stored until [`BulkImport::finish`].
    pub fn begin_import(&mut self) -> Result<BulkImport<'_>> {
        self.check_writable()?;
        self.check_local_rights(None, &[])?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        Ok(BulkImport {
            now: Timestamp::now(),
            threads,
            start_len: self.journal.len,
            start_lsn: self.index.next_lsn,
            pending: Vec::new(),
            ids: Vec::new(),
            seen: HashSet::new(),
            done: false,
            store: self,
        })
    }
}

impl BulkImport<'_> {
    /// Offers a block of cases, each with its request id (1 to 128 bytes): the ones
    /// not stored before are validated, built and appended to the journal (not yet
    /// visible). An invalid case fails the whole import (the error names it by its
    /// position among all offered cases, from 1) and the import is rolled back.
    pub fn add(&mut self, cases: Vec<(String, Vec<Edit>)>) -> Result<()> {
        let result = self.add_inner(cases);
        if result.is_err() {
            self.rollback();
        }
        result
    }

    fn add_inner(&mut self, cases: Vec<(String, Vec<Edit>)>) -> Result<()> {
        if self.done {
            return Err(Error::Internal("the import was already ended".into()));
        }
        let offered = self.ids.len();
        let mut new_ids = Vec::new();
        let mut new_cases = Vec::new();
        let mut numbers = Vec::new();
        for (i, (request, edits)) in cases.into_iter().enumerate() {
            if request.is_empty() || request.len() > 128 {
                return Err(Error::invalid("request id", "give 1 to 128 bytes"));
            }
            let id = self.store.request_case_id(&request);
            let known = self.store.index.cases.contains_key(&id)
                || self.store.index.tombstones.contains_key(&id)
                || !self.seen.insert(id);
            self.ids.push((id, !known));
            if !known {
                new_ids.push(id);
                new_cases.push(edits);
                numbers.push(offered + i);
            }
        }
        for (chunk, (ids, numbers)) in new_cases.chunks(IMPORT_BLOCK).zip(
            new_ids
                .chunks(IMPORT_BLOCK)
                .zip(numbers.chunks(IMPORT_BLOCK)),
        ) {
            let first_lsn = self.store.index.next_lsn;
            let blocks = self.store.build_parallel(
                chunk,
                Some(ids),
                self.now,
                self.threads,
                (first_lsn, 0),
                Some(numbers),
            )?;
            for (frame, records) in blocks {
                let off = self.store.journal.append(&frame)?;
                for (slot, (_, record)) in records.into_iter().enumerate() {
                    let loc = Loc(JOURNAL, off, frame.len() as u32, slot as u16);
                    self.pending.push((loc, record));
                }
            }
            self.store.index.next_lsn += chunk.len() as u64;
        }
        Ok(())
    }

    /// Cases offered so far.
    pub fn offered(&self) -> usize {
        self.ids.len()
    }

    /// Makes the import durable and visible: one `fsync` of the journal, the index
    /// entries applied, then the end mark that confirms the whole import (or a
    /// compaction). Returns, in order, each offered case's id and whether this import
    /// stored it.
    pub fn finish(mut self) -> Result<Vec<(CaseId, bool)>> {
        if let Err(e) = self.store.journal.sync() {
            self.rollback();
            return Err(e);
        }
        self.done = true;
        // One allocation of the index's table rather than a doubling (and a copy of
        // the old table) per power of two crossed.
        self.store.index.cases.reserve(self.pending.len());
        for (loc, record) in std::mem::take(&mut self.pending) {
            self.store.index.apply(record, loc);
        }
        let ids = std::mem::take(&mut self.ids);
        self.store.maybe_compact()?;
        Ok(ids)
    }

    /// Cuts the journal back to where the import began (or poisons the store if even
    /// that fails).
    fn rollback(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.pending.clear();
        self.store.index.next_lsn = self.start_lsn;
        if self.store.journal.rollback_to(self.start_len).is_err() {
            self.store.poisoned = true;
        }
    }
}

impl Drop for BulkImport<'_> {
    fn drop(&mut self) {
        self.rollback();
    }
}
