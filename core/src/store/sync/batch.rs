//! The one transaction helper of sync: case documents and sync-state deltas written
//! with one `fdatasync`, all or nothing (a failed write rolls the journal back and
//! leaves the index as it was).

use crate::model::ChangeSig;
use crate::parallel::{chunked, par_map};
use crate::store::index::SyncDelta;
use crate::store::*;

impl Store {
    /// Writes several case documents and sync deltas with one fsync (all or nothing).
    pub(in crate::store) fn persist_batch(
        &mut self,
        docs: Vec<ToWrite>,
        deltas: Vec<SyncDelta>,
    ) -> Result<()> {
        if docs.is_empty() && deltas.is_empty() {
            return Ok(());
        }
        let start_len = self.journal.len;
        let start_lsn = self.index.next_lsn;
        let now = Timestamp::now();
        let mut records = Vec::new();
        let mut kept = Vec::new();
        // Saving, summarising and sealing each document is independent: do it on all
        // cores. Many documents at once (a first sync) are sealed into blocks, so that
        // compaction later copies them as they are instead of repacking.
        let jobs: Vec<(u64, ToWrite)> = docs
            .into_iter()
            .enumerate()
            .map(|(i, job)| {
                let job = match job {
                    ToWrite::Doc { case, doc, full } => {
                        let chunks = self.index.cases.get(&case).map_or(0, |e| e.frames.len());
                        // A case stored in many chunks is rewritten whole.
                        let full = full || chunks >= self.options.max_chunks;
                        ToWrite::Doc { case, doc, full }
                    }
                    prepared => prepared,
                };
                (start_lsn + i as u64, job)
            })
            .collect();
        let written = jobs.len() as u64;
        let in_blocks = jobs.len() >= BLOCK_RECORDS;
        let parts = chunked(jobs, BLOCK_RECORDS);
        let sealer = &self.sealer;
        // Only the newest documents stay in the cache; the others are dropped here, on
        // all cores (dropping thousands of documents one by one is not free).
        let cached_from = (start_lsn + written).saturating_sub(self.options.cache_size as u64);
        let sealed = par_map(parts, |part| -> Result<Vec<SealedDocs>> {
            let mut out = Vec::new();
            let mut block: BlockBuilder<(CaseId, Record, Option<CaseDoc>)> =
                BlockBuilder::default();
            for (lsn, job) in part {
                let p = match job {
                    ToWrite::Doc { case, doc, full } => {
                        Prepared::new(case, *doc, full, None, true, now)?
                    }
                    ToWrite::Prepared(p) => p,
                };
                let (id, full) = (p.case, p.full);
                let record = Record::Put {
                    lsn,
                    case: id,
                    full,
                    summary: p.summary,
                    doc: p.bytes,
                    sigs: p.sigs,
                    heads: p.heads,
                    stats: Some(p.stats),
                    request: None,
                };
                let doc = p.doc.filter(|_| lsn >= cached_from);
                if in_blocks {
                    block.push(cbor(&record)?, (id, strip_doc(record), doc));
                    if block.is_full() {
                        out.push(block.seal(sealer)?);
                    }
                } else {
                    let frame = format::seal_frame(sealer, CTX_FRAME, &record)?;
                    out.push((frame, vec![(id, strip_doc(record), doc)]));
                }
            }
            if !block.is_empty() {
                out.push(block.seal(sealer)?);
            }
            Ok(out)
        });
        let result: Result<()> = (|| {
            self.index.next_lsn += written;
            for part in sealed {
                for (frame, items) in part? {
                    let off = self.journal.append(&frame)?;
                    for (slot, (id, record, doc)) in items.into_iter().enumerate() {
                        records.push((Loc(JOURNAL, off, frame.len() as u32, slot as u16), record));
                        if let Some(doc) = doc {
                            kept.push((id, doc));
                        }
                    }
                }
            }
            for delta in deltas {
                let record = Record::Sync {
                    lsn: self.index.next_lsn,
                    delta,
                };
                self.index.next_lsn += 1;
                let frame = format::seal_frame(&self.sealer, CTX_FRAME, &record)?;
                let off = self.journal.append(&frame)?;
                records.push((Loc::frame(JOURNAL, off, frame.len() as u32), record));
            }
            self.journal.sync()
        })();
        if let Err(e) = result {
            self.index.next_lsn = start_lsn;
            if self.journal.rollback_to(start_len).is_err() {
                self.poisoned = true;
            }
            return Err(e);
        }
        for (loc, record) in records {
            self.index.apply(record, loc);
        }
        for (id, doc) in kept {
            self.cache_put(id, doc);
        }
        self.maybe_compact()
    }

    /// Writes sync-state changes durably.
    pub(crate) fn write_sync(&mut self, deltas: Vec<SyncDelta>) -> Result<()> {
        self.persist_batch(Vec::new(), deltas)
    }
}

/// A case document to write.
pub(in crate::store) enum ToWrite {
    /// Store what the document has new (`full`: all of it).
    Doc {
        case: CaseId,
        doc: Box<CaseDoc>,
        full: bool,
    },
    /// A record prepared on a worker thread.
    Prepared(Box<Prepared>),
}

/// A case's next record, prepared off the store's thread: the chunk to store, its
/// changes' signatures, the heads after it, the summary and projection, and the
/// document if the cache is to keep it.
pub(in crate::store) struct Prepared {
    pub(in crate::store) case: CaseId,
    full: bool,
    bytes: Vec<u8>,
    sigs: Vec<ChangeSig>,
    heads: Vec<Hash>,
    summary: CaseSummary,
    stats: StoredStats,
    doc: Option<CaseDoc>,
}

impl Prepared {
    /// Prepares the record of `doc`. `stored`: the chunk to store if it is already at
    /// hand (a new case's changes, as they came); otherwise the document's unstored
    /// changes (`full`: the whole document). `keep`: keep the document for the cache.
    pub(in crate::store) fn new(
        case: CaseId,
        mut doc: CaseDoc,
        full: bool,
        stored: Option<(Vec<u8>, Vec<ChangeSig>)>,
        keep: bool,
        now: Timestamp,
    ) -> Result<Box<Prepared>> {
        let (bytes, sigs) = match stored {
            Some(chunk) => {
                doc.mark_saved();
                chunk
            }
            None => doc.chunk_to_store(full),
        };
        let heads = doc.heads().into_iter().map(|h| Hash(h.0)).collect();
        let (summary, stats) = describe(&doc, now)?;
        Ok(Box::new(Prepared {
            case,
            full,
            bytes,
            sigs,
            heads,
            summary,
            stats,
            doc: keep.then_some(doc),
        }))
    }
}

/// A sealed frame (one record, or a block of many) and its cases' records (without
/// documents, for the index) and the documents the cache keeps.
type SealedDocs = (Vec<u8>, Vec<(CaseId, Record, Option<CaseDoc>)>);
