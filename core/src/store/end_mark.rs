//! The journal's end mark, `end-<gen>`: format 6 writes it in place (two alternating
//! slots, one `fdatasync` per write) and appends the ids of the cases held only by
//! the journal after the slots, only when new ones appear. Format-5 marks (one
//! sealed frame, rewritten whole) are still read. See `docs/storage-format.md`,
//! "End marks", and decision 0017.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::Path;

use super::files;
use super::format::{
    self, EndIds, EndMark, EndSlot, CTX_END, CTX_END_IDS, END_IDS_AT, END_MAGIC, END_SLOT,
    END_SLOT_AT,
};
use crate::crypto::Sealer;
use crate::error::{Error, Result};
use crate::model::CaseId;

/// The open `end-<gen>` of a writable store: where the next slot and id record go.
pub(crate) struct MarkFile {
    file: File,
    pub(crate) gen: u64,
    seq: u64,
    ids_len: u64,
    recorded: HashSet<CaseId>,
}

/// What reading `end-<gen>` found.
pub(crate) struct ReadMark {
    /// The mark (for format 6: the newest slot that authenticates, with the ids of
    /// every id record it confirms).
    pub(crate) mark: EndMark,
    /// Format 6: the chosen slot's `seq` and `ids_len` (`None`: a format-5 mark).
    pub(crate) slots: Option<(u64, u64)>,
    /// Format 6: the other slot does not authenticate (damage; reported).
    pub(crate) bad_slot: bool,
    /// Format 6: an id record the chosen slot confirms does not authenticate.
    pub(crate) bad_ids: bool,
}

/// Seals `slot` and pads it to [`END_SLOT`] bytes.
fn slot_bytes(sealer: &Sealer, slot: &EndSlot) -> Result<Vec<u8>> {
    let mut frame = format::seal_frame(sealer, CTX_END, slot)?;
    if frame.len() as u64 > END_SLOT {
        return Err(Error::Internal("an end-mark slot outgrew its room".into()));
    }
    frame.resize(END_SLOT as usize, 0);
    Ok(frame)
}

/// Reads a format-6 (`magic ‖ slot ‖ slot ‖ id records`) or format-5 (one frame)
/// `end-<gen>`. `Err` says why no mark could be read.
pub(crate) fn parse(
    sealer: &Sealer,
    gen: u64,
    bytes: &[u8],
) -> std::result::Result<ReadMark, &'static str> {
    if !bytes.starts_with(END_MAGIC) {
        // Format 5: one sealed frame holding the whole mark.
        return match format::open_frame::<EndMark>(sealer, CTX_END, bytes) {
            Ok(mark) if mark.gen == gen => Ok(ReadMark {
                mark,
                slots: None,
                bad_slot: false,
                bad_ids: false,
            }),
            Ok(_) => Err("belongs to another generation"),
            Err(e) => Err(super::frame_error(&e)),
        };
    }
    if (bytes.len() as u64) < END_IDS_AT {
        return Err("is truncated");
    }
    let open_slot = |i: usize| -> Option<EndSlot> {
        let at = END_SLOT_AT[i] as usize;
        let slot = &bytes[at..at + END_SLOT as usize];
        let n = format::frame_len(slot).ok()?;
        let (frame, padding) = (slot.get(..n)?, slot.get(n..)?);
        // The padding is written with the frame: a byte changed in it is damage too.
        if padding.iter().any(|b| *b != 0) {
            return None;
        }
        format::open_frame::<EndSlot>(sealer, CTX_END, frame)
            .ok()
            .filter(|s| s.gen == gen)
    };
    let slots = [open_slot(0), open_slot(1)];
    let bad_slot = slots.iter().any(Option::is_none);
    let Some(best) = slots.into_iter().flatten().max_by_key(|s| s.seq) else {
        return Err("neither slot authenticates");
    };
    let mut ids = Vec::new();
    let mut bad_ids = false;
    let end = END_IDS_AT.saturating_add(best.ids_len);
    if end > bytes.len() as u64 {
        bad_ids = true;
    }
    let end = end.min(bytes.len() as u64) as usize;
    let mut off = END_IDS_AT as usize;
    while off < end {
        let rest = &bytes[off..end];
        let record = format::frame_len(rest)
            .ok()
            .and_then(|n| rest.get(..n).map(|f| (n, f)))
            .and_then(|(n, f)| {
                format::open_frame::<EndIds>(sealer, CTX_END_IDS, f)
                    .ok()
                    .filter(|r| r.gen == gen)
                    .map(|r| (n, r))
            });
        match record {
            Some((n, r)) => {
                ids.extend(r.ids);
                off += n;
            }
            None => {
                bad_ids = true;
                break;
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ReadMark {
        mark: EndMark {
            gen,
            len: best.len,
            next_lsn: best.next_lsn,
            cases: Some(best.cases),
            journal_cases: ids,
        },
        slots: Some((best.seq, best.ids_len)),
        bad_slot,
        bad_ids,
    })
}

impl MarkFile {
    /// Writes a whole new `end-<gen>` (temporary file, `fsync`, rename; the caller
    /// syncs the directory): both slots hold `mark` (so a healthy file has two that
    /// authenticate), followed by one record of its ids. Used when a generation
    /// starts, when a store is created, and once after an open that found no
    /// format-6 mark (an upgrade from format 5).
    pub(crate) fn create(sealer: &Sealer, dir: &Path, mark: &EndMark) -> Result<MarkFile> {
        let mut ids_record = Vec::new();
        if !mark.journal_cases.is_empty() {
            ids_record = format::seal_frame(
                sealer,
                CTX_END_IDS,
                &EndIds {
                    gen: mark.gen,
                    ids: mark.journal_cases.clone(),
                },
            )?;
        }
        let slot = EndSlot {
            gen: mark.gen,
            seq: 1,
            len: mark.len,
            next_lsn: mark.next_lsn,
            cases: mark.cases.unwrap_or(0),
            ids_len: ids_record.len() as u64,
        };
        let one = slot_bytes(sealer, &slot)?;
        let mut bytes = vec![0u8; END_IDS_AT as usize];
        bytes[..END_MAGIC.len()].copy_from_slice(END_MAGIC);
        for at in END_SLOT_AT {
            bytes[at as usize..(at + END_SLOT) as usize].copy_from_slice(&one);
        }
        bytes.extend_from_slice(&ids_record);
        let name = files::end_name(mark.gen);
        files::write_atomic(dir, &name, &bytes)?;
        MarkFile::open(
            dir,
            mark.gen,
            1,
            slot.ids_len,
            mark.journal_cases.iter().copied().collect(),
        )
    }

    /// Opens an existing format-6 `end-<gen>` for writing the next marks in place.
    pub(crate) fn open(
        dir: &Path,
        gen: u64,
        seq: u64,
        ids_len: u64,
        recorded: HashSet<CaseId>,
    ) -> Result<MarkFile> {
        let name = files::end_name(gen);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(&name))
            .map_err(|e| Error::io(&name, e))?;
        Ok(MarkFile {
            file,
            gen,
            seq,
            ids_len,
            recorded,
        })
    }

    /// Confirms the journal up to `len` durably: appends a record of the ids of
    /// `new_ids` not recorded yet and syncs it (only if there are any), then writes
    /// the slot the newest mark is not in, in place, and syncs it. One `fdatasync`
    /// for a write that registers no new case; no rename, no directory sync. On
    /// error nothing of this state changes (the next call writes the same places).
    pub(crate) fn confirm(
        &mut self,
        sealer: &Sealer,
        len: u64,
        next_lsn: u64,
        cases: u64,
        new_ids: Vec<CaseId>,
    ) -> Result<()> {
        let name = files::end_name(self.gen);
        let io = |e| Error::io(&name, e);
        let new_ids: Vec<CaseId> = new_ids
            .into_iter()
            .filter(|id| !self.recorded.contains(id))
            .collect();
        let mut ids_len = self.ids_len;
        if !new_ids.is_empty() {
            let record = format::seal_frame(
                sealer,
                CTX_END_IDS,
                &EndIds {
                    gen: self.gen,
                    ids: new_ids.clone(),
                },
            )?;
            files::write_at(&self.file, &record, END_IDS_AT + ids_len).map_err(io)?;
            // The ids are durable before any slot confirms them.
            self.file.sync_data().map_err(io)?;
            ids_len += record.len() as u64;
        }
        let seq = self.seq + 1;
        let slot = slot_bytes(
            sealer,
            &EndSlot {
                gen: self.gen,
                seq,
                len,
                next_lsn,
                cases,
                ids_len,
            },
        )?;
        let at = END_SLOT_AT[(seq % 2) as usize];
        files::write_at(&self.file, &slot, at).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.seq = seq;
        self.ids_len = ids_len;
        self.recorded.extend(new_ids);
        Ok(())
    }
}
