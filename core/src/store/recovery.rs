//! Opening a store's files and telling a torn write from damage; `check` and `repair`.
//!
//! Rules (docs/storage-format.md, "Opening and recovery"; decision 0017):
//!
//! - Only a torn write may be discarded: bytes at the very end of the current journal,
//!   after what its end mark (`end-<gen>`) says was acknowledged, with no valid frame
//!   after them. Anything else that does not authenticate is damage, reported with
//!   the file and the records it cost (by LSN: journal records are numbered without
//!   gaps, so a gap, or a valid frame after a bad one, proves damage).
//! - A store opened with damage is read-only: nothing is truncated, compacted,
//!   upgraded or deleted, so what a recovery could save stays on disk. `repair` keeps
//!   the damaged files aside (`damaged-<name>`), drops what does not authenticate and
//!   writes a clean generation.
//! - A rebuild reads every journal generation and every pack.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::path::Path;

use super::end_mark;
use super::files::{self, FileName};
use super::format::{
    self, Block, EndMark, Header, Record, CTX_INDEX, FORMAT_VERSION, HEADER_COPY_FILE, HEADER_FILE,
};
use super::index::{Index, Loc, JOURNAL, LOST};
use super::{frame_error, strip_doc, Damage, Store};
use crate::crypto::{Sealer, StoreKey};
use crate::error::{Error, Result};
use crate::model::CaseId;

/// File numbers of older journal generations found by a rebuild (they are read like
/// packs until the rebuild's compaction has carried their records over).
pub(crate) const OLD_JOURNAL_BASE: u32 = 0xF000_0000;

/// The error detail when no file of the store authenticates under a header.
pub(crate) const NOTHING_AUTHENTICATES: &str =
    "no record of this store authenticates (neither the device record nor any case)";

/// The `file` of damage entries that name cases lost whole (not a file).
pub(crate) const LOST_CASES: &str = "lost cases";

/// What `check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Store files read.
    pub files: u64,
    /// Frames that authenticated.
    pub frames: u64,
    /// Records in them.
    pub records: u64,
    /// Every problem, naming its file (empty for a healthy store).
    pub damage: Vec<Damage>,
    /// Live cases that cannot be read (a frame of theirs is damaged or missing).
    pub unreadable_cases: Vec<CaseId>,
    /// Cases that left no authentic record at all (damage lost every record of
    /// them), by id: the end mark names the cases that were only in the journal.
    pub gone_cases: Vec<CaseId>,
    /// How many more cases left no authentic record, whose ids are not known.
    pub gone_unnamed: u64,
}

impl CheckReport {
    /// Whether acknowledged data is missing (a record or a case is lost).
    pub fn data_lost(&self) -> bool {
        !self.unreadable_cases.is_empty()
            || !self.gone_cases.is_empty()
            || self.gone_unnamed > 0
            || self.damage.iter().any(|d| d.records_lost > 0)
    }
}

/// What `repair` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// What `check` found before the repair.
    pub found: CheckReport,
    /// Damaged files kept aside, as `damaged-<name>`, in the store directory.
    pub kept_aside: Vec<String>,
    /// Every case lost, by id: those dropped because a record of theirs did not
    /// authenticate (unreadable), and those that left no authentic record at all.
    pub lost_cases: Vec<CaseId>,
    /// How many more cases were lost whose ids no authentic file holds (only after a
    /// lost index snapshot together with a damaged pack). The cases gone are exactly
    /// `lost_cases` plus this many.
    pub lost_unnamed: u64,
    /// Whether anything was rewritten (false for a healthy store).
    pub repaired: bool,
}

/// The header copies found in a store directory.
pub(crate) struct Headers {
    /// Headers that decode, with the file they came from and whether their bytes are
    /// exactly their encoding (a flip in the padding decodes but is damage).
    candidates: Vec<(Header, &'static str, bool)>,
    /// Files that are missing or do not decode.
    problems: Vec<(&'static str, String, bool)>,
}

impl Headers {
    pub(crate) fn read(dir: &Path) -> Result<Headers> {
        let mut candidates = Vec::new();
        let mut problems = Vec::new();
        for name in [HEADER_FILE, HEADER_COPY_FILE] {
            match fs::read(dir.join(name)) {
                Ok(bytes) => match Header::decode(&bytes) {
                    Ok(h) => {
                        let canonical = h.encode().map(|e| e == bytes).unwrap_or(false);
                        candidates.push((h, name, canonical));
                    }
                    Err(e @ Error::UnsupportedFormat { .. }) => return Err(e),
                    Err(Error::Corrupted { detail, .. }) => problems.push((name, detail, true)),
                    Err(e) => problems.push((name, e.to_string(), true)),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    problems.push((name, "missing".into(), false))
                }
                Err(e) => return Err(Error::io(name, e)),
            }
        }
        if candidates.is_empty() {
            return Err(match problems.iter().find(|p| p.2) {
                Some((name, why, _)) => Error::corrupted(*name, why.clone()),
                None => Error::NotAStore {
                    path: dir.display().to_string(),
                },
            });
        }
        // Exact copies first, the primary before the copy.
        candidates.sort_by_key(|c| !c.2);
        Ok(Headers {
            candidates,
            problems,
        })
    }

    /// The KDF parameters to try, in order (normally one set).
    pub(crate) fn kdfs(&self) -> Vec<Option<crate::crypto::KdfParams>> {
        let mut out: Vec<Option<crate::crypto::KdfParams>> = Vec::new();
        for (h, _, _) in &self.candidates {
            if !out.iter().any(|k| same_kdf(k, &h.kdf)) {
                out.push(h.kdf.clone());
            }
        }
        out
    }

    /// The header `key` opens, and the damage found in the header files. Fails with
    /// [`Error::WrongKey`] if no copy accepts the key.
    pub(crate) fn choose(&self, key: &StoreKey) -> Result<(Header, Vec<Damage>)> {
        let mut all = self.choose_all(key)?;
        Ok(all.swap_remove(0))
    }

    /// Every distinct header copy `key` opens, in order of preference, each with the
    /// damage found in the header files if it is the one used. Two copies that both
    /// accept the key but differ (another store's header copied over one of them,
    /// with the same passphrase) are both tried by an open: the one under which the
    /// store's files authenticate wins (F4 of the 2026-12-04 red team).
    pub(crate) fn choose_all(&self, key: &StoreKey) -> Result<Vec<(Header, Vec<Damage>)>> {
        let mut out: Vec<(Header, Vec<Damage>)> = Vec::new();
        for (header, from, _) in &self.candidates {
            if header.verify(key).is_err() {
                continue;
            }
            let bytes = header.encode()?;
            let mut seen = false;
            for (h, _) in &out {
                seen |= h.encode()? == bytes;
            }
            if !seen {
                out.push((header.clone(), self.damage_if_used(header, from)?));
            }
        }
        if out.is_empty() {
            return Err(Error::WrongKey);
        }
        Ok(out)
    }

    /// The damage in the header files when `header` (read from `from`) is used.
    fn damage_if_used(&self, header: &Header, from: &str) -> Result<Vec<Damage>> {
        let mut damage = Vec::new();
        let good = header.encode()?;
        for (h, name, canonical) in &self.candidates {
            let same = h.encode().map(|e| e == good).unwrap_or(false);
            if !*canonical || !same {
                damage.push(Damage::new(
                    *name,
                    format!("does not match the other header copy ({from} was used)"),
                    0,
                ));
            }
        }
        for (name, why, present) in &self.problems {
            // Before format 5 there was no copy: its absence is no damage.
            if !*present && *name == HEADER_COPY_FILE && header.format < format::END_MARK_FORMAT {
                continue;
            }
            damage.push(Damage::new(*name, format!("{why}; {from} was used"), 0));
        }
        Ok(damage)
    }
}

fn same_kdf(a: &Option<crate::crypto::KdfParams>, b: &Option<crate::crypto::KdfParams>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

/// Writes both header copies (the copy first), durably.
pub(crate) fn write_headers(dir: &Path, header: &Header) -> Result<()> {
    let bytes = header.encode()?;
    files::write_atomic(dir, HEADER_COPY_FILE, &bytes)?;
    files::write_atomic(dir, HEADER_FILE, &bytes)?;
    files::sync_dir(dir)
}

/// A run of bytes of a file that holds no authentic frame.
#[derive(Clone, Copy, Debug)]
struct BadRun {
    start: u64,
    end: u64,
}

/// The frames of one file: records found (with where), and the bad runs between them.
#[derive(Default)]
struct Scan {
    records: Vec<(Record, u64, u32, u16)>,
    frames: u64,
    bad: Vec<BadRun>,
    /// Records that did not parse inside authentic frames: (offset, slot).
    bad_records: Vec<(u64, u16)>,
}

#[cfg(test)]
thread_local! {
    /// Offsets a resynchronising scan tried, and journal bytes read into memory, on
    /// this thread (for the tests of F13: a forged length must cost neither).
    pub(crate) static SCAN_COST: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

#[cfg(test)]
fn count_cost(probes: u64, read: u64) {
    SCAN_COST.with(|c| {
        let (p, r) = c.get();
        c.set((p + probes, r + read));
    });
}

#[cfg(not(test))]
fn count_cost(_probes: u64, _read: u64) {}

/// Walks every frame of `bytes`. After a frame that does not open, looks for the next
/// offset where one does (a damaged length must not hide the frames after it), but
/// only below `resync_until`: past it (a format-6 journal's bytes after what its end
/// mark confirms, which no acknowledged write can be in), a frame that does not open
/// ends the scan at once, and so does, anywhere, a length that runs past the end of
/// the bytes once no offset below `resync_until` is left (red team F13: a forged
/// 250 MiB length in a sparse journal cost a read of the whole file and a try at every
/// offset).
fn scan(sealer: &Sealer, bytes: &[u8], resync_until: usize) -> Scan {
    let mut out = Scan::default();
    let mut off = 0usize;
    let limit = resync_until.min(bytes.len());
    let open_at = |at: usize| -> Option<(usize, Block)> {
        let rest = &bytes[at..];
        // The length is checked against the bytes left before anything is read or
        // allocated for the frame.
        let len = format::frame_len(rest).ok()?;
        if len > rest.len() {
            return None;
        }
        Block::open(sealer, &rest[..len]).ok().map(|b| (len, b))
    };
    let mut probes = 0u64;
    while off < bytes.len() {
        match open_at(off) {
            Some((len, block)) => {
                out.frames += 1;
                for slot in 0..block.len() as u16 {
                    match block.get::<Record>(slot) {
                        Ok(r) => out.records.push((r, off as u64, len as u32, slot)),
                        Err(_) => out.bad_records.push((off as u64, slot)),
                    }
                }
                off += len;
            }
            None => {
                let next = if off + 1 < limit {
                    (off + 1..limit)
                        .find(|&p| {
                            probes += 1;
                            open_at(p).is_some()
                        })
                        .unwrap_or(limit)
                } else {
                    bytes.len()
                };
                match out.bad.last_mut() {
                    Some(run) if run.end == off as u64 => run.end = next as u64,
                    _ => out.bad.push(BadRun {
                        start: off as u64,
                        end: next as u64,
                    }),
                }
                off = next;
            }
        }
    }
    count_cost(probes, 0);
    out
}

/// Reads a journal for [`scan`]: the bytes its end mark confirms whole, and after
/// them only frames whose length fits in the file, one after the other, stopping at
/// the first that does not (`confirmed = None`: the whole file, as for a journal
/// without a format-6 mark). Returns the bytes and the file's length. So a forged
/// frame length after the confirmed bytes costs neither memory nor time, however
/// large the (sparse) file is.
pub(crate) fn read_journal(path: &Path, confirmed: Option<u64>) -> std::io::Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let mut file = File::open(path)?;
    let total = file.metadata()?.len();
    let Some(confirmed) = confirmed else {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        count_cost(0, bytes.len() as u64);
        let total = bytes.len() as u64;
        return Ok((bytes, total));
    };
    let head = confirmed.min(total);
    let mut bytes = Vec::new();
    (&mut file).take(head).read_to_end(&mut bytes)?;
    let mut pos = bytes.len() as u64;
    while pos + 4 <= total {
        let mut prefix = [0u8; 4];
        files::read_at(&file, &mut prefix, pos)?;
        let Ok(len) = format::frame_len(&prefix) else {
            break;
        };
        if pos + len as u64 > total {
            break;
        }
        let at = bytes.len();
        bytes.resize(at + len, 0);
        files::read_at(&file, &mut bytes[at..], pos)?;
        pos += len as u64;
    }
    count_cost(0, bytes.len() as u64);
    Ok((bytes, total))
}

/// Copies the store file `name` aside as `damaged-<name>` (or `damaged-<name>-<n>`),
/// durably; returns the name it got.
pub(crate) fn keep_aside(dir: &Path, name: &str) -> Result<String> {
    let mut aside = format!("{}{name}", files::DAMAGED_PREFIX);
    let mut n = 1;
    while dir.join(&aside).exists() {
        n += 1;
        aside = format!("{}{name}-{n}", files::DAMAGED_PREFIX);
    }
    fs::copy(dir.join(name), dir.join(&aside))
        .and_then(|_| File::open(dir.join(&aside))?.sync_all())
        .map_err(|e| Error::io(&aside, e))?;
    files::sync_dir(dir)?;
    Ok(aside)
}

/// Loads the index at open: the newest valid snapshot plus its journal, or a rebuild
/// from every frame if the snapshot is lost.
pub(crate) struct Opener<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) sealer: &'a Sealer,
    pub(crate) damage: Vec<Damage>,
    /// Damage was found: nothing may be written until a repair.
    pub(crate) needs_repair: bool,
    /// Older journal generations a rebuild reads records from: file number and name.
    pub(crate) old_journals: Vec<(u32, String)>,
    /// What the end mark of the current journal confirms (0 if none).
    pub(crate) end: EndMark,
    /// Whether `end-<gen>` was found and authenticated.
    pub(crate) end_found: bool,
    /// Whether that mark is format 6 and read whole (both slots and every id record
    /// authenticate): then nothing after what it confirms was acknowledged.
    pub(crate) end_clean: bool,
    /// Format 6: the mark's slot `seq` and `ids_len` (for writing the next marks).
    pub(crate) end_slots: Option<(u64, u64)>,
    /// The store's format before this open (format 4 had no end marks).
    pub(crate) format: u32,
}

/// The outcome of loading: the index, the valid length of the current journal, and
/// frames of cases whose erasure was interrupted.
pub(crate) type Loaded = (Index, u64, Vec<Loc>);

impl Opener<'_> {
    /// How far a scan of the current journal resynchronises after a bad frame: up to
    /// what a format-6 end mark confirms (every acknowledged write of such a store is
    /// confirmed before it returns, so no acknowledged record lies after it); the
    /// whole file without one (formats 4 and 5 confirmed at close only).
    pub(crate) fn resync_until(&self) -> Option<u64> {
        (self.end_found && self.end_slots.is_some()).then_some(self.end.len)
    }

    fn damaged(&mut self, file: impl Into<String>, problem: String, lost: u64) {
        self.needs_repair = true;
        self.damage.push(Damage::new(file, problem, lost));
    }

    /// Cases the end mark knew of that are not in `index` (nor erased): they left no
    /// authentic record. The ids the mark names (cases that were only in the
    /// journal), and how many more are gone without a name (by the mark's count of
    /// live cases). Reported as damage naming them.
    pub(crate) fn gone_cases(&mut self, index: &Index) -> (Vec<CaseId>, u64) {
        if !self.end_found {
            return (Vec::new(), 0);
        }
        let named: Vec<CaseId> = self
            .end
            .journal_cases
            .iter()
            .filter(|id| {
                !index.cases.contains_key(id)
                    && !index.tombstones.contains_key(id)
                    && !index.unapplied.contains(id)
            })
            .copied()
            .collect();
        let total = self
            .end
            .cases
            .map_or(0, |c| c.saturating_sub(index.known_cases()));
        let unnamed = total.saturating_sub(named.len() as u64);
        if !named.is_empty() {
            let ids: Vec<String> = named.iter().map(|c| c.to_hex()).collect();
            self.damaged(
                LOST_CASES,
                format!(
                    "{} case(s) left no authentic record and are lost: {} (their records \
                     are among those reported lost in {})",
                    named.len(),
                    ids.join(", "),
                    files::journal_name(self.end.gen)
                ),
                0,
            );
        }
        if unnamed > 0 {
            self.damaged(
                LOST_CASES,
                format!(
                    "{unnamed} more case(s) left no authentic record and are lost; no \
                     authentic file holds their ids"
                ),
                unnamed,
            );
        }
        (named, unnamed)
    }

    pub(crate) fn load(&mut self) -> Result<Loaded> {
        let mut indexes = Vec::new();
        let mut journals = Vec::new();
        let mut packs = Vec::new();
        let listing =
            fs::read_dir(self.dir).map_err(|e| Error::io(self.dir.display().to_string(), e))?;
        for entry in listing.flatten() {
            match FileName::parse(&entry.file_name().to_string_lossy()) {
                Some(FileName::Index(g)) => indexes.push(g),
                Some(FileName::Journal(g)) => journals.push(g),
                Some(FileName::Pack(n)) => packs.push(n),
                _ => {}
            }
        }
        indexes.sort_unstable();
        journals.sort_unstable();
        packs.sort_unstable();
        let newest_journal = journals.last().copied();
        let mut newer_tombstones = BTreeMap::new();
        match indexes.last().copied() {
            // A journal newer than every snapshot: that generation's snapshot is lost.
            Some(gen) if newest_journal.is_none_or(|j| j <= gen) => {
                let name = files::index_name(gen);
                let bytes = files::read_file(self.dir, &name)?;
                match format::open_frame::<Index>(self.sealer, CTX_INDEX, &bytes) {
                    Ok(mut index)
                        if self
                            .newest_generation_whole(gen, &index, &journals, &indexes, &packs) =>
                    {
                        index.gen = gen;
                        // A snapshot is written when its journal is new and empty, so
                        // any superseded location in it that points into a journal (or
                        // into a pack that no longer exists) is stale: the same offsets
                        // of the new journal hold other frames. Older builds kept them.
                        let kept: Vec<u32> = packs.clone();
                        index.drop_old_frames_in(|f| {
                            f == JOURNAL || (f != LOST && !kept.contains(&f))
                        });
                        self.read_end(gen);
                        let start = index.next_lsn;
                        let (len, records) = self.journal(gen, Some(start))?;
                        let mut purge = Vec::new();
                        for (record, loc) in records {
                            purge.extend(index.apply(strip_doc(record), loc));
                        }
                        return Ok((index, len, purge));
                    }
                    Ok(snapshot) => {
                        // An older generation is still on disk and a file of the
                        // newest one is damaged: read every generation, so that what
                        // the older one holds intact is not lost (reported above).
                        // The snapshot still authenticates: its erasures hold even if
                        // the pack that carried their records is lost, so an erased
                        // case never comes back from the older generation.
                        newer_tombstones = snapshot.tombstones.clone();
                    }
                    Err(e) => self.damaged(
                        name,
                        format!(
                            "{}; the index was rebuilt from the other files",
                            frame_error(&e)
                        ),
                        0,
                    ),
                }
            }
            _ => self.damage.push(Damage::new(
                "index",
                "no index snapshot of the newest generation; the index was rebuilt from \
                 the other files"
                    .into(),
                0,
            )),
        }
        let gen = indexes
            .last()
            .copied()
            .unwrap_or(0)
            .max(newest_journal.unwrap_or(0));
        let (mut index, len, mut purge) = self.rebuild(gen, &journals, &packs)?;
        for (case, tombstone) in newer_tombstones {
            if let Some(entry) = index.cases.remove(&case) {
                purge.extend(entry.frames.into_iter().chain(entry.old));
            }
            index.tombstones.entry(case).or_insert(tombstone);
        }
        Ok((index, len, purge))
    }

    /// Whether the packs the snapshot of `gen` relies on are whole, checked only when
    /// an older generation is still present (a compaction was interrupted before it
    /// deleted it). A damaged or missing pack is reported, and the caller then
    /// rebuilds from every generation instead of trusting the snapshot; the older
    /// files are kept, since the store is then opened with damage.
    fn newest_generation_whole(
        &mut self,
        gen: u64,
        index: &Index,
        journals: &[u64],
        indexes: &[u64],
        packs: &[u32],
    ) -> bool {
        let older = journals.iter().chain(indexes).any(|g| *g < gen)
            || packs.iter().any(|n| !index.packs.contains(n));
        if !older {
            return true;
        }
        let mut whole = true;
        // Where the snapshot expects each pack to reach at least: a pack cut at a
        // frame boundary (or emptied) authenticates to its end, yet misses frames the
        // snapshot points to (R2-1 of the 2026-12-05 red team).
        let mut reach: HashMap<u32, u64> = HashMap::new();
        for entry in index.cases.values() {
            for loc in &entry.frames {
                let end = loc.offset().saturating_add(u64::from(loc.len()));
                let r = reach.entry(loc.file()).or_insert(0);
                *r = (*r).max(end);
            }
        }
        for &n in &index.packs {
            let name = files::pack_name(n);
            match fs::read(self.dir.join(&name)) {
                Ok(bytes) => {
                    let s = scan(self.sealer, &bytes, usize::MAX);
                    if !s.bad.is_empty() || !s.bad_records.is_empty() {
                        whole = false;
                    }
                    if reach.get(&n).is_some_and(|r| *r > bytes.len() as u64) {
                        whole = false;
                        self.damaged(
                            name,
                            "shorter than the index snapshot expects (frames are missing); \
                             the index was rebuilt from every generation"
                                .into(),
                            0,
                        );
                    }
                }
                Err(_) => {
                    whole = false;
                    self.damaged(
                        name,
                        "missing or unreadable; the index was rebuilt from every generation".into(),
                        0,
                    );
                }
            }
        }
        if !whole {
            self.damage.push(Damage::new(
                files::index_name(gen),
                "a pack of this generation is damaged and an older generation is present: \
                 the index was rebuilt from every generation and nothing was deleted"
                    .into(),
                0,
            ));
            self.needs_repair = true;
        }
        whole
    }

    /// Reads `end-<gen>` into `self.end`; a missing or bad one is damage (format 5
    /// and later). Format 6: a slot that does not authenticate is damage (the other
    /// slot's mark is used), and so is an id record the mark confirms that does not
    /// authenticate. A slot is one write within one 512-byte sector, so a crash does
    /// not tear it on a disk that writes sectors whole (what PostgreSQL assumes of
    /// its `pg_control`); if one does, the damage report names it, and nothing the
    /// other slot confirms is lost.
    fn read_end(&mut self, gen: u64) {
        let name = files::end_name(gen);
        match fs::read(self.dir.join(&name)) {
            Ok(bytes) => match end_mark::parse(self.sealer, gen, &bytes) {
                Ok(read) => {
                    if read.bad_slot {
                        self.damaged(
                            name.clone(),
                            format!(
                                "one of its two slots does not authenticate (damage, or \
                                 a mark write torn by a power loss); the other confirms \
                                 the journal up to byte {}",
                                read.mark.len
                            ),
                            0,
                        );
                    }
                    if read.bad_ids {
                        self.damaged(
                            name.clone(),
                            "its record of the cases held only by the journal does not \
                             authenticate: cases lost with the journal may not all be named"
                                .into(),
                            0,
                        );
                    }
                    self.end_clean = read.slots.is_some() && !read.bad_slot && !read.bad_ids;
                    self.end = read.mark;
                    self.end_slots = read.slots;
                    self.end_found = true;
                }
                Err(why) => self.damaged(
                    name,
                    format!("{why}; the journal's end cannot be confirmed"),
                    0,
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.format >= format::END_MARK_FORMAT {
                    self.damaged(
                        name,
                        "missing; the journal's end cannot be confirmed".into(),
                        0,
                    );
                }
            }
            Err(_) => self.damaged(name, "unreadable".into(), 0),
        }
    }

    /// Reads the current journal: its records (with their locations) and the length
    /// to keep. `start` is the LSN its first record must have (from the snapshot).
    fn journal(&mut self, gen: u64, start: Option<u64>) -> Result<(u64, Vec<(Record, Loc)>)> {
        let name = files::journal_name(gen);
        let confirmed = if self.end_found { self.end.len } else { 0 };
        let resync = self.resync_until();
        let (bytes, total) = match read_journal(&self.dir.join(&name), resync) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), 0),
            Err(e) => return Err(Error::io(&name, e)),
        };
        let mut scan = scan(
            self.sealer,
            &bytes,
            resync.map_or(usize::MAX, |r| r as usize),
        );
        // Bytes after the last frame that fits in the file (not read): one bad run
        // to the end, after the confirmed bytes, so a torn write.
        if (bytes.len() as u64) < total {
            match scan.bad.last_mut() {
                Some(run) if run.end == bytes.len() as u64 => run.end = total,
                _ => scan.bad.push(BadRun {
                    start: bytes.len() as u64,
                    end: total,
                }),
            }
        }
        let mut valid = total;
        // LSNs of the records on either side of each bad run tell how many were lost.
        let mut expect = start;
        let mut records = Vec::with_capacity(scan.records.len());
        let mut by_off: BTreeMap<u64, (u64, u64)> = BTreeMap::new(); // off -> (first, next)
        for (record, off, len, slot) in scan.records {
            let lsn = record.lsn();
            let e = by_off.entry(off).or_insert((lsn, lsn + 1));
            e.0 = e.0.min(lsn);
            e.1 = e.1.max(lsn + 1);
            records.push((record, Loc(JOURNAL, off, len, slot)));
        }
        let mut tail_bad: Option<BadRun> = None;
        let mut bad = scan.bad.into_iter().peekable();
        let mut frames = by_off.into_iter().peekable();
        // Walk frames and bad runs in file order.
        loop {
            let next_frame = frames.peek().map(|(o, _)| *o);
            let next_bad = bad.peek().map(|b| b.start);
            let frame_first = match (next_frame, next_bad) {
                (None, None) => break,
                (Some(f), Some(b)) => f < b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if frame_first {
                let Some((off, (first, next))) = frames.next() else {
                    break;
                };
                if let Some(want) = expect.filter(|w| first > *w) {
                    self.damaged(
                        name.clone(),
                        format!(
                            "records {want}..{} are missing before byte {off}; they are lost",
                            first - 1
                        ),
                        first - want,
                    );
                }
                expect = Some(expect.map_or(next, |e| e.max(next)));
                continue;
            }
            let Some(run) = bad.next() else { break };
            if run.end == total && run.start >= confirmed {
                // A torn write after everything acknowledged: never acknowledged itself.
                valid = run.start;
            } else if run.end == total {
                tail_bad = Some(run);
            } else {
                // Records lost here show as the LSN gap before the next frame.
                self.damaged(
                    name.clone(),
                    format!(
                        "bytes {}..{} do not authenticate (valid frames follow)",
                        run.start, run.end
                    ),
                    0,
                );
            }
        }
        for (off, slot) in scan.bad_records {
            self.damaged(
                name.clone(),
                format!("record {slot} of the frame at byte {off} does not parse; it is lost"),
                1,
            );
        }
        // Acknowledged records after the last authentic one.
        let missing = match expect {
            Some(e) if self.end_found => self.end.next_lsn.saturating_sub(e),
            _ => 0,
        };
        let from = expect.map_or_else(|| "?".to_string(), |e| e.to_string());
        if let Some(run) = tail_bad {
            let lost = missing.max(1);
            self.damaged(
                name.clone(),
                format!(
                    "bytes {}..{} do not authenticate although they were acknowledged \
                     (not a torn write); {lost} record(s) from LSN {from} are lost",
                    run.start, run.end
                ),
                lost,
            );
        } else if total < confirmed {
            let lost = missing.max(1);
            self.damaged(
                name.clone(),
                format!(
                    "{total} bytes long, but {confirmed} bytes were acknowledged; {lost} \
                     record(s) from LSN {from} are lost"
                ),
                lost,
            );
        } else if missing > 0 {
            self.damaged(
                name.clone(),
                format!("{missing} acknowledged record(s) from LSN {from} are not in it"),
                missing,
            );
        }
        // Valid frames after what a cleanly read format-6 mark confirms belong to a
        // write that never returned (a bulk import is one write, confirmed once when
        // it ends): never acknowledged, so discarded like a torn write, which makes
        // every write all or nothing across a crash (decision 0029). With a damaged
        // mark the newer slot may have confirmed them: they are kept.
        if self.end_clean && tail_bad.is_none() && valid > confirmed {
            records.retain(|(_, loc)| loc.offset() < confirmed);
            valid = confirmed;
        }
        Ok((valid, records))
    }

    /// Rebuilds the index from every pack and every journal generation.
    fn rebuild(&mut self, gen: u64, journals: &[u64], packs: &[u32]) -> Result<Loaded> {
        // (record, location, preference): of two copies of one LSN, the higher
        // preference is kept: the current journal, then packs, then older journals.
        let mut all: Vec<(Record, Loc, u8)> = Vec::new();
        for &n in packs {
            let name = files::pack_name(n);
            let bytes = files::read_file(self.dir, &name)?;
            let s = scan(self.sealer, &bytes, usize::MAX);
            self.report_pack_scan(&name, &s);
            for (r, off, len, slot) in s.records {
                all.push((r, Loc(n, off, len, slot), 1));
            }
        }
        for (k, &g) in journals.iter().filter(|g| **g < gen).enumerate() {
            let name = files::journal_name(g);
            let bytes = files::read_file(self.dir, &name)?;
            let s = scan(self.sealer, &bytes, usize::MAX);
            let file_no = OLD_JOURNAL_BASE + k as u32;
            // An older journal's torn tail is a crash artefact like the current one's.
            for run in s.bad.iter().filter(|r| r.end != bytes.len() as u64) {
                self.damaged(
                    name.clone(),
                    format!(
                        "bytes {}..{} do not authenticate; what they held is lost unless \
                         a pack holds it",
                        run.start, run.end
                    ),
                    0,
                );
            }
            if !s.records.is_empty() {
                self.old_journals.push((file_no, name));
            }
            for (r, off, len, slot) in s.records {
                all.push((r, Loc(file_no, off, len, slot), 0));
            }
        }
        self.read_end(gen);
        let (current_len, records) = self.journal(gen, None)?;
        for (r, loc) in records {
            all.push((r, loc, 2));
        }
        all.sort_by_key(|(r, _, pref)| (r.lsn(), *pref));
        let mut index = Index::default();
        index.gen = gen;
        index.next_lsn = 1;
        index.packs = packs.to_vec();
        index.next_pack = packs.last().map_or(0, |n| n + 1);
        let mut seen = BTreeSet::new();
        let mut kept = Vec::new();
        for (record, loc, _) in all.into_iter().rev() {
            if seen.insert(record.lsn()) {
                kept.push((record, loc));
            }
        }
        let mut erased = Vec::new();
        for (record, loc) in kept.into_iter().rev() {
            erased.extend(index.apply(strip_doc(record), loc));
        }
        Ok((index, current_len, erased))
    }

    fn report_pack_scan(&mut self, name: &str, s: &Scan) {
        for run in &s.bad {
            self.damaged(
                name.to_string(),
                format!(
                    "bytes {}..{} do not authenticate; the records there are lost",
                    run.start, run.end
                ),
                1,
            );
        }
        for (off, slot) in &s.bad_records {
            self.damaged(
                name.to_string(),
                format!("record {slot} of the frame at byte {off} does not parse"),
                1,
            );
        }
    }
}

impl Store {
    /// Verifies every frame of every file of the store and every record the index
    /// points to, and reports what is damaged. Reads only.
    pub fn check(&self) -> CheckReport {
        let mut report = CheckReport {
            damage: self.damage.clone(),
            gone_cases: self.gone_cases.clone(),
            gone_unnamed: self.gone_unnamed,
            ..CheckReport::default()
        };
        let mut bad_frames: BTreeSet<(u32, u64)> = BTreeSet::new();
        // Every pack, whole.
        let mut files_seen: Vec<(u32, String)> = self
            .index
            .packs
            .iter()
            .map(|&n| (n, files::pack_name(n)))
            .collect();
        files_seen.extend(self.extra.iter().map(|(n, (name, _))| (*n, name.clone())));
        for (n, name) in &files_seen {
            let bytes = match fs::read(self.dir.join(name)) {
                Ok(b) => b,
                Err(_) => continue, // reported at open as missing
            };
            report.files += 1;
            let s = scan(&self.sealer, &bytes, usize::MAX);
            report.frames += s.frames;
            report.records += s.records.len() as u64;
            for run in &s.bad {
                report.damage.push(Damage::new(
                    name.clone(),
                    format!("bytes {}..{} do not authenticate", run.start, run.end),
                    0,
                ));
                for loc in self.all_locs_in(*n) {
                    if loc.offset() >= run.start && loc.offset() < run.end {
                        bad_frames.insert(loc.frame_key());
                    }
                }
            }
        }
        // The journal was read at open (its damage is reported then); count it, read
        // as the open read it (bounded by the end mark, F13).
        let path = self.dir.join(self.journal.name());
        if let Ok((bytes, _)) = read_journal(&path, self.journal_resync) {
            report.files += 1;
            let resync = self.journal_resync.map_or(usize::MAX, |r| r as usize);
            let s = scan(&self.sealer, &bytes, resync);
            report.frames += s.frames;
            report.records += s.records.len() as u64;
        }
        // Every record the index points to.
        let mut lost_cases = BTreeSet::new();
        let mut cases: Vec<(&CaseId, Loc)> = self
            .index
            .cases
            .iter()
            .map(|(id, e)| (id, e.frames.first().copied().unwrap_or(Loc(LOST, 0, 0, 0))))
            .collect();
        cases.sort_by_key(|(_, l)| l.frame_key());
        let mut blocks = HashMap::new();
        for (id, _) in cases {
            if self.read_stored(id, &mut blocks).is_err() {
                lost_cases.insert(*id);
            }
        }
        for loc in self.index.meta_frames.iter().chain(&self.index.group_frame) {
            let ok = self
                .file_of(*loc)
                .and_then(|(name, f)| super::read_frame(f, &name, *loc))
                .ok()
                .and_then(|frame| Block::open(&self.sealer, &frame).ok())
                .is_some_and(|b| b.get::<Record>(loc.slot()).is_ok());
            if !ok {
                bad_frames.insert(loc.frame_key());
                report.damage.push(Damage::new(
                    self.file_label(loc.file()),
                    format!(
                        "a device, erasure or team record at byte {} is unreadable; the \
                         index still holds it and a repair writes it again",
                        loc.offset()
                    ),
                    0,
                ));
            }
        }
        for id in &lost_cases {
            let file = self
                .index
                .cases
                .get(id)
                .and_then(|e| {
                    e.frames
                        .iter()
                        .find(|l| bad_frames.contains(&l.frame_key()) || l.file() == LOST)
                        .or(e.frames.first())
                })
                .map_or_else(|| "index".to_string(), |l| self.file_label(l.file()));
            report.damage.push(Damage::new(
                file,
                format!("case {} cannot be read", id.short()),
                1,
            ));
        }
        report.unreadable_cases = lost_cases.into_iter().collect();
        // The privacy ledger (R2-4 of the 2026-12-05 red team: `check` said "no
        // damage" of a damaged one while the exports refused it).
        if let Some(d) = self.ledger_damage() {
            report.files += 1;
            report.damage.push(d);
        } else if self.dir.join(super::privacy_ledger::LEDGER_FILE).is_file() {
            report.files += 1;
        }
        report
    }

    /// Authenticates every frame of every pack (each pack read once) and, if one is
    /// damaged or missing, records the damage and makes the store read-only until a
    /// repair: writes then fail with [`Error::NeedsRepair`]. Opening reads only the
    /// index and the journal, so pack damage is otherwise found only when a case in
    /// it is read; a command that writes, or spends privacy budget or pins a release,
    /// calls this first (the CLI does on every store it opens for writing), so that
    /// nothing is written to a store whose damage is not yet repaired (R2-5 of the
    /// 2026-12-05 red team). Returns the damage it found. Reads only.
    pub fn verify_packs(&mut self) -> Vec<Damage> {
        let mut found = Vec::new();
        let mut reach: HashMap<u32, u64> = HashMap::new();
        for entry in self.index.cases.values() {
            for loc in &entry.frames {
                let end = loc.offset().saturating_add(u64::from(loc.len()));
                let r = reach.entry(loc.file()).or_insert(0);
                *r = (*r).max(end);
            }
        }
        for &n in &self.index.packs {
            let name = files::pack_name(n);
            let bytes = match fs::read(self.dir.join(&name)) {
                Ok(b) => b,
                Err(_) => {
                    found.push(Damage::new(name, "missing or unreadable".into(), 1));
                    continue;
                }
            };
            let s = scan(&self.sealer, &bytes, usize::MAX);
            for run in &s.bad {
                found.push(Damage::new(
                    name.clone(),
                    format!("bytes {}..{} do not authenticate", run.start, run.end),
                    1,
                ));
            }
            for (off, slot) in &s.bad_records {
                found.push(Damage::new(
                    name.clone(),
                    format!("record {slot} of the frame at byte {off} does not parse"),
                    1,
                ));
            }
            if reach.get(&n).is_some_and(|r| *r > bytes.len() as u64) {
                found.push(Damage::new(
                    name,
                    "shorter than the index expects (frames are missing)".into(),
                    1,
                ));
            }
        }
        if !found.is_empty() {
            self.needs_repair = true;
            self.damage.extend(found.iter().cloned());
        }
        found
    }

    /// Which of `ids` cannot be read: every frame holding a record of theirs is read
    /// and authenticated (each frame once, in parallel), as [`Store::case`] would.
    /// One [`Damage`] per unreadable case, naming the file and the case; empty when
    /// all of them read. Reads only. A list that shows summaries (which the index
    /// holds) calls it so that it can say which listed cases are unreadable.
    pub fn verify_cases(&self, ids: &[CaseId]) -> Vec<Damage> {
        let mut by_frame: BTreeMap<(u32, u64), Vec<(CaseId, Loc)>> = BTreeMap::new();
        for id in ids {
            if let Some(e) = self.index.cases.get(id) {
                for loc in &e.frames {
                    by_frame
                        .entry(loc.frame_key())
                        .or_default()
                        .push((*id, *loc));
                }
            }
        }
        let groups: Vec<Vec<(CaseId, Loc)>> = by_frame.into_values().collect();
        let bad = crate::parallel::par_map(groups, |group| {
            let (id0, loc0) = group[0];
            let opened = self.open_block(&id0, loc0);
            let mut bad = Vec::new();
            for (id, loc) in group {
                let why = match &opened {
                    Err(Error::Corrupted { detail, .. }) if detail.contains("missing") => {
                        "the file is missing".to_string()
                    }
                    Err(_) => format!("its record at byte {} does not authenticate", loc.offset()),
                    Ok((_, block)) => match block.get::<format::ChunkOnly>(loc.slot()) {
                        Ok(format::ChunkOnly::Put { case, .. }) if case == id => continue,
                        _ => format!("its record at byte {} does not parse", loc.offset()),
                    },
                };
                bad.push((id, self.file_label(loc.file()), why));
            }
            bad
        });
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (id, file, why) in bad.into_iter().flatten() {
            if seen.insert(id) {
                out.push(Damage::new(
                    file,
                    format!("case {id} cannot be read: {why}"),
                    1,
                ));
            }
        }
        out
    }

    fn all_locs_in(&self, file: u32) -> Vec<Loc> {
        let mut out: Vec<Loc> = self
            .index
            .meta_frames
            .iter()
            .chain(&self.index.group_frame)
            .copied()
            .collect();
        for e in self.index.cases.values() {
            out.extend(e.frames.iter().copied());
        }
        out.retain(|l| l.file() == file);
        out
    }

    /// The name of the file a location's number stands for.
    pub(crate) fn file_label(&self, file: u32) -> String {
        match file {
            JOURNAL => self.journal.name(),
            LOST => "a deleted file".into(),
            n => match self.extra.get(&n) {
                Some((name, _)) => name.clone(),
                None => files::pack_name(n),
            },
        }
    }

    /// Checks the store in `dir` and, if anything is damaged, repairs it: the damaged
    /// files are kept aside as `damaged-<name>`, every record that authenticates is
    /// written into a new generation, and cases with no authentic copy are dropped
    /// (listed in the report). A healthy store is left as it is.
    pub fn repair(dir: impl AsRef<Path>, key: &StoreKey) -> Result<RepairReport> {
        let mut store = Store::open_inner(dir.as_ref(), key, Default::default(), true)?;
        store.repair_open()
    }

    /// [`Store::repair`] for a store opened with a passphrase.
    pub fn repair_with_passphrase(dir: impl AsRef<Path>, passphrase: &str) -> Result<RepairReport> {
        let dir = dir.as_ref();
        super::with_passphrase(dir, passphrase, |key| Store::repair(dir, key))
    }

    /// Opens the store in `dir` for reading only: nothing is written, even a torn
    /// journal tail stays (for `check`).
    pub fn open_read_only(dir: impl AsRef<Path>, key: &StoreKey) -> Result<Store> {
        Store::open_inner(dir.as_ref(), key, Default::default(), true)
    }

    /// [`Store::open_read_only`] with a passphrase.
    pub fn open_read_only_with_passphrase(
        dir: impl AsRef<Path>,
        passphrase: &str,
    ) -> Result<Store> {
        let dir = dir.as_ref();
        super::with_passphrase(dir, passphrase, |key| Store::open_read_only(dir, key))
    }

    fn repair_open(&mut self) -> Result<RepairReport> {
        let found = self.check();
        let mut report = RepairReport {
            found: found.clone(),
            ..RepairReport::default()
        };
        if found.damage.is_empty() && found.unreadable_cases.is_empty() {
            return Ok(report);
        }
        // Keep every damaged file aside, as it is.
        let mut damaged: BTreeSet<String> = found.damage.iter().map(|d| d.file.clone()).collect();
        damaged.retain(|f| self.dir.join(f).is_file());
        for name in damaged {
            report.kept_aside.push(keep_aside(&self.dir, &name)?);
        }
        files::sync_dir(&self.dir)?;
        // Drop what has no authentic copy.
        for id in &found.unreadable_cases {
            self.index.cases.remove(id);
            self.cache.remove(id);
            report.lost_cases.push(*id);
        }
        report.lost_cases.extend(found.gone_cases.iter().copied());
        report.lost_cases.sort_unstable();
        report.lost_unnamed = found.gone_unnamed;
        let sealer = &self.sealer;
        let readable = |store: &Store, loc: &Loc| {
            store
                .file_of(*loc)
                .and_then(|(name, f)| super::read_frame(f, &name, *loc))
                .ok()
                .and_then(|frame| Block::open(sealer, &frame).ok())
                .is_some_and(|b| b.get::<Record>(loc.slot()).is_ok())
        };
        let metas: Vec<Loc> = self.index.meta_frames.clone();
        let kept: Vec<Loc> = metas.into_iter().filter(|l| readable(self, l)).collect();
        let mut meta_lost = kept.len() != self.index.meta_frames.len() || self.device_lost;
        self.index.meta_frames = kept;
        if let Some(g) = self.index.group_frame {
            if !readable(self, &g) {
                self.index.group_frame = None;
                meta_lost = true;
            }
        }
        let present: Vec<u32> = self.packs.keys().copied().collect();
        self.index.packs.retain(|n| present.contains(n));
        // A fresh header pair, and a new generation holding everything that is left.
        write_headers(
            &self.dir,
            &Header {
                format: FORMAT_VERSION,
                ..self.header.clone()
            },
        )?;
        self.needs_repair = false;
        self.read_only = false;
        self.journal = files::Journal::open(&self.dir, self.index.gen, self.journal.len, true)?;
        if meta_lost {
            // The index still knows the device key, the tombstones and the team: write
            // them again, so the files alone can rebuild the index as before.
            self.rewrite_meta()?;
        }
        // A damaged or stale privacy ledger (kept aside above) is removed; the store
        // keeps its record of it, so the exports refuse until it is restarted.
        self.repair_ledger()?;
        self.rewrite_all = true;
        self.compact(&[])?;
        self.rewrite_all = false;
        self.damage.clear();
        self.device_lost = false;
        self.gone_cases.clear();
        self.gone_unnamed = 0;
        report.repaired = true;
        Ok(report)
    }
}

impl Store {
    /// Appends the device record, every tombstone and the team record again.
    fn rewrite_meta(&mut self) -> Result<()> {
        let mut records = vec![Record::Device {
            lsn: 0,
            key: self.index.device_key.clone(),
        }];
        for t in self.index.tombstones.values() {
            records.push(Record::Erase {
                lsn: 0,
                tombstone: t.clone(),
            });
        }
        if let Some(group) = self.index.sync.group.clone() {
            records.push(Record::Sync {
                lsn: 0,
                delta: super::index::SyncDelta::Group(group),
            });
        }
        // The privacy ledger's count and digest: losing them would let a rolled-back
        // ledger file pass (docs/export.md, "The ledger").
        if let Some((writes, digest)) = self.index.ledger {
            records.push(Record::Ledger {
                lsn: 0,
                writes,
                digest,
            });
        }
        for mut record in records {
            let lsn = self.index.next_lsn;
            match &mut record {
                Record::Device { lsn: l, .. }
                | Record::Erase { lsn: l, .. }
                | Record::Sync { lsn: l, .. }
                | Record::Ledger { lsn: l, .. }
                | Record::Put { lsn: l, .. } => *l = lsn,
            }
            let loc = self.append_durably(&record)?;
            self.index.next_lsn += 1;
            self.index.apply(record, loc);
        }
        Ok(())
    }
}
