//! The encrypted, crash-safe device store.
//!
//! One directory holds all of a device's cases. Everything but a fixed-size clear
//! header is sealed with keys derived from the 32-byte store key (from the platform
//! keystore, or from a passphrase through Argon2id). See `docs/storage-format.md`.
//!
//! - **Durable and atomic.** An update is one frame appended to the journal and
//!   `fdatasync`ed, then confirmed in the journal's end mark (durable), before the
//!   call returns; a torn frame at the end of the journal past the end mark (a crash
//!   mid-write) was never acknowledged and is cut off on the next writable open.
//! - **Fast to open.** An index snapshot holds every case's summary and where its
//!   document chunks are; opening reads the snapshot and the (short) journal, never a
//!   case's history. Listing and searching use summaries only.
//! - **Compaction** moves journal frames into an immutable pack file and writes a new
//!   snapshot (temporary file, fsync, rename), then starts a new journal.
//! - **Damage stays local.** A frame that fails authentication makes only its case
//!   unreadable ([`Error::Corrupted`] names the file); a lost or corrupted snapshot is
//!   rebuilt from the frames, which are self-describing. See [`Store::damage`].
//! - **Erasure is real.** Erasing a case writes a tombstone, then rewrites every file
//!   that held one of its frames without them and deletes the old files: no file of
//!   the store holds the case's content afterwards, under any key. The tombstone
//!   stays, so the erasure can propagate and no stale copy can bring the case back.

mod assigned;
mod bulk_import;
mod chunks;
mod dedup;
mod dictionary;
mod end_mark;
mod files;
mod format;
mod handover;
mod import_progress;
mod index;
pub mod inputs;
mod leb128;
mod mailbox;
mod privacy_ledger;
mod recovery;
mod share;
mod summary_codec;
mod sync;
mod wipe;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use automerge::ActorId;

use self::files::{FileName, Journal};
use self::format::{
    Block, EndMark, Header, Record, BLOCK_BYTES, BLOCK_RECORDS, CTX_FRAME, CTX_INDEX,
    FORMAT_VERSION, LOCK_FILE,
};
use self::index::{Entry, Index, Loc, JOURNAL, LOST};
use crate::crypto::{KdfParams, Sealer, StoreKey};
use crate::error::{Error, Result};
use crate::identity::DeviceIdentity;
use crate::model::StoredStats;
use crate::model::{
    CaseDoc, CaseFilter, CaseId, CaseRecord, CaseSummary, ChangeSig, Edit, Timestamp,
};
use crate::vocab::ErasureReason;

pub use self::bulk_import::{BulkImport, IMPORT_BLOCK};
pub use self::dedup::Dedup;
pub use self::handover::{Handover, ReceiptCheck};
#[cfg(test)]
pub(crate) use self::mailbox::outbox_name;
#[cfg(feature = "webdav")]
pub use self::mailbox::WebDavMailbox;
pub use self::mailbox::{
    FsMailbox, Mailbox, MailboxReport, MAX_FILES_PER_OUTBOX, MAX_OUTBOXES, MAX_READS_PER_OUTBOX,
};
pub use self::privacy_ledger::LedgerState;
pub use self::recovery::{CheckReport, RepairReport};
pub use self::share::{PartnerAgreement, Partners, ShareReport};
pub use self::sync::{BundleScope, LiveSession, Quarantined, SyncReport, Team};
pub(crate) use crate::codec::cbor;
pub(crate) use crate::ids::Hash;
pub use crate::tombstone::{Tombstone, TombstoneSignature};

/// Something wrong found while opening a store. The store still opened; cases not
/// affected are readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The file concerned.
    pub file: String,
    /// What was wrong and what was done about it.
    pub problem: String,
    /// Acknowledged records known to be lost because of it (at least 1 when some are
    /// lost but how many is unknown; 0 when nothing was lost, e.g. a damaged index that
    /// was rebuilt from the other files).
    pub records_lost: u64,
}

impl Damage {
    pub(crate) fn new(file: impl Into<String>, problem: String, records_lost: u64) -> Damage {
        Damage {
            file: file.into(),
            problem,
            records_lost,
        }
    }
}

/// Tuning knobs; the defaults suit phones.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Compact when the journal grows past this many bytes.
    pub journal_limit: u64,
    /// Write a case's whole document instead of a delta once it has this many chunks.
    pub max_chunks: usize,
    /// How many case documents to keep in memory.
    pub cache_size: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            journal_limit: 4 << 20,
            max_chunks: 8,
            cache_size: 64,
        }
    }
}

/// Progress of a long operation: `done` of `total` items. Return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

/// An open store. Not shared between processes: a second `open` of the same directory
/// fails with [`Error::Locked`] until this one is dropped.
pub struct Store {
    dir: PathBuf,
    _lock: File,
    sealer: Sealer,
    actor: ActorId,
    identity: DeviceIdentity,
    index: Index,
    journal: Journal,
    packs: HashMap<u32, File>,
    cache: HashMap<CaseId, CaseDoc>,
    cache_order: VecDeque<CaseId>,
    damage: Vec<Damage>,
    poisoned: bool,
    options: StoreOptions,
    /// The header the key opened (rewritten as both copies by a repair).
    header: Header,
    /// Older journal generations a rebuild still reads from, by file number.
    extra: HashMap<u32, (String, File)>,
    /// Damage was found at open: writes are refused until a repair.
    needs_repair: bool,
    /// Opened for reading only (`check`): nothing is written, not even the end mark.
    read_only: bool,
    /// Journal bytes the end mark on disk confirms; a close writes a new mark if the
    /// journal grew.
    confirmed: u64,
    /// How far `check` resynchronises in the journal after a bad frame (what the
    /// open used: the format-6 end mark's length, or `None` for the whole file).
    journal_resync: Option<u64>,
    /// Compaction rewrites every pack (repair).
    rewrite_all: bool,
    /// No device record authenticated at open: the key in the index is new, and a
    /// repair writes it.
    device_lost: bool,
    /// Cases the end mark knew of that left no record at all (damage), by id...
    gone_cases: Vec<CaseId>,
    /// ...and how many more left none, whose ids no authentic file holds.
    gone_unnamed: u64,
    /// The current generation's end mark, open for writing in place (format 6).
    mark: Option<end_mark::MarkFile>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("cases", &self.index.cases.len())
            .finish()
    }
}

/// How many times (20 ms apart) opening retries a lock held elsewhere before it reports
/// [`Error::Locked`].
const LOCK_RETRIES: u32 = 5;

impl Store {
    /// Creates a new store in `dir` (which must be empty or absent), opened with `key`.
    pub fn create(dir: impl AsRef<Path>, key: &StoreKey) -> Result<Store> {
        Store::create_with(dir.as_ref(), key, None, StoreOptions::default())
    }

    /// Creates a new store whose key is derived from `passphrase` with `kdf`.
    pub fn create_with_passphrase(
        dir: impl AsRef<Path>,
        passphrase: &str,
        kdf: KdfParams,
    ) -> Result<Store> {
        let key = StoreKey::from_passphrase(passphrase, &kdf)?;
        Store::create_with(dir.as_ref(), &key, Some(kdf), StoreOptions::default())
    }

    /// Creates a store with explicit options.
    pub fn create_with(
        dir: &Path,
        key: &StoreKey,
        kdf: Option<KdfParams>,
        options: StoreOptions,
    ) -> Result<Store> {
        let name = dir.display().to_string();
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(|e| Error::io(&name, e))?;
            if entries.next().is_some() {
                return Err(Error::AlreadyExists { path: name });
            }
        }
        fs::create_dir_all(dir).map_err(|e| Error::io(&name, e))?;
        let header = Header::new(key, kdf)?;
        let sealer = header.sealer(key);
        let identity = DeviceIdentity::generate()?;
        let key_bytes = identity.pkcs8().to_vec();
        let device = format::seal_frame(
            &sealer,
            CTX_FRAME,
            &Record::Device {
                lsn: 0,
                key: key_bytes.clone(),
            },
        )?;
        let mut index = Index::default();
        index.device_key = key_bytes;
        index.next_lsn = 1;
        index
            .meta_frames
            .push(Loc::frame(JOURNAL, 0, device.len() as u32));
        let snapshot = format::seal_frame(&sealer, CTX_INDEX, &index)?;
        files::write_atomic(dir, &files::index_name(0), &snapshot)?;
        files::write_atomic(dir, &files::journal_name(0), &device)?;
        end_mark::MarkFile::create(
            &sealer,
            dir,
            &EndMark {
                gen: 0,
                len: device.len() as u64,
                next_lsn: 1,
                cases: Some(0),
                journal_cases: Vec::new(),
            },
        )?;
        File::create(dir.join(LOCK_FILE)).map_err(|e| Error::io(LOCK_FILE, e))?;
        // The header goes last: a directory with a header is a complete store.
        recovery::write_headers(dir, &header)?;
        Store::open_with(dir, key, options)
    }

    /// Opens the store in `dir` with `key`. A wrong key fails with [`Error::WrongKey`]
    /// before anything is read beyond the header or written.
    pub fn open(dir: impl AsRef<Path>, key: &StoreKey) -> Result<Store> {
        Store::open_with(dir.as_ref(), key, StoreOptions::default())
    }

    /// Opens a store whose key is derived from a passphrase (parameters from its header).
    pub fn open_with_passphrase(dir: impl AsRef<Path>, passphrase: &str) -> Result<Store> {
        let dir = dir.as_ref();
        with_passphrase(dir, passphrase, |key| Store::open(dir, key))
    }

    /// Opens with explicit options.
    pub fn open_with(dir: &Path, key: &StoreKey, options: StoreOptions) -> Result<Store> {
        Store::open_inner(dir, key, options, false)
    }

    /// Opens the store; `read_only` writes nothing at all (`check`). A store with
    /// damage is opened read-only whatever `read_only` says (see [`Store::damage`]).
    fn open_inner(
        dir: &Path,
        key: &StoreKey,
        options: StoreOptions,
        read_only: bool,
    ) -> Result<Store> {
        let choices = recovery::Headers::read(dir)?.choose_all(key)?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| Error::io(LOCK_FILE, e))?;
        // A lock just released can still be held for a moment by a child process that
        // another thread of this process is starting (between its fork and exec the
        // child holds a copy of every descriptor, the lock file's too): a few short
        // retries, so only a store really in use is reported as locked.
        let mut tries = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if tries < LOCK_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        path: dir.display().to_string(),
                    })
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::io(LOCK_FILE, e)),
            }
        }
        // Normally one header; if the two copies differ and both accept the key, the
        // one under which the store's files authenticate.
        let mut chosen = None;
        for (header, header_damage) in choices {
            let sealer = header.sealer(key);
            let mut opener = recovery::Opener {
                dir,
                sealer: &sealer,
                needs_repair: !header_damage.is_empty(),
                damage: header_damage,
                old_journals: Vec::new(),
                end: EndMark::default(),
                end_found: false,
                end_clean: false,
                end_slots: None,
                format: header.format,
            };
            let (index, journal_len, purge) = opener.load()?;
            if index.device_key.is_empty() && index.cases.is_empty() && index.tombstones.is_empty()
            {
                continue;
            }
            let (gone_cases, gone_unnamed) = opener.gone_cases(&index);
            let confirmed = if opener.end_found { opener.end.len } else { 0 };
            let journal_resync = opener.resync_until();
            let marks = (
                opener.end_slots,
                std::mem::take(&mut opener.end.journal_cases),
            );
            let recovery::Opener {
                damage,
                needs_repair,
                old_journals,
                ..
            } = opener;
            chosen = Some((
                header,
                sealer,
                (index, journal_len, purge),
                (gone_cases, gone_unnamed, confirmed, marks),
                (damage, needs_repair, old_journals, journal_resync),
            ));
            break;
        }
        let Some((
            header,
            sealer,
            (mut index, journal_len, purge),
            (gone_cases, gone_unnamed, confirmed, (end_slots, recorded)),
            (mut damage, mut needs_repair, old_journals, journal_resync),
        )) = chosen
        else {
            // Nothing authenticates under any header the key opens: not this store's
            // files, or all of them are lost.
            return Err(Error::corrupted("store", recovery::NOTHING_AUTHENTICATES));
        };
        let mut extra = HashMap::new();
        for (n, name) in old_journals {
            let f = File::open(dir.join(&name)).map_err(|e| Error::io(&name, e))?;
            extra.insert(n, (name, f));
        }
        let mut device_lost = false;
        if index.device_key.is_empty() {
            // The device record's frame is damaged and no snapshot holds its key: the
            // cases that authenticate stay readable; a repair writes a new device key.
            index.device_key = DeviceIdentity::generate()?.pkcs8().to_vec();
            device_lost = true;
            needs_repair = true;
            damage.push(Damage::new(
                "device record",
                "no copy of the device record authenticates; the cases that do are \
                 readable, and a repair writes a new device key (the device then joins \
                 its team again)"
                    .into(),
                0,
            ));
        }
        let identity = DeviceIdentity::from_pkcs8(&index.device_key)?;
        // A store opened for reading, or with damage, writes nothing: not even a
        // missing journal is created.
        let journal = if read_only || needs_repair {
            Journal::open_read(dir, index.gen)?
        } else {
            Journal::open(dir, index.gen, journal_len, false)?
        };
        let mut store = Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            sealer,
            actor: ActorId::from(identity.id().actor()),
            identity,
            packs: HashMap::new(),
            index,
            journal,
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            damage,
            poisoned: false,
            options,
            header: header.clone(),
            extra,
            needs_repair,
            read_only,
            confirmed,
            journal_resync,
            rewrite_all: false,
            device_lost,
            gone_cases,
            gone_unnamed,
            mark: None,
        };
        store.open_packs()?;
        if store.read_only || store.needs_repair {
            // Nothing is written: not the torn tail, not a compaction, not a header.
            return Ok(store);
        }
        if header.format < FORMAT_VERSION {
            // Formats 2 to 4 are read as they are (one record per frame; summaries as
            // CBOR maps; no end mark, one header): the header changes, so that builds
            // that know only the older format refuse the store from now on (its new
            // records differ), and gains its copy.
            let upgraded = Header {
                format: FORMAT_VERSION,
                ..header
            };
            recovery::write_headers(dir, &upgraded)?;
            store.header = upgraded;
        }
        if let Some((seq, ids_len)) = end_slots {
            // A format-6 mark: the next ones are written in place.
            store.mark = Some(end_mark::MarkFile::open(
                dir,
                store.index.gen,
                seq,
                ids_len,
                recorded.into_iter().collect(),
            )?);
        }
        if store.confirmed != store.journal.len || header.format < FORMAT_VERSION {
            // What the journal now holds was acknowledged (a torn tail was cut off).
            store.write_end_mark()?;
        }
        let rebuilt = store.damage.iter().any(|d| d.problem.contains("rebuilt"));
        if !purge.is_empty() || rebuilt {
            // An erasure was interrupted, or the snapshot was rebuilt: finish the job.
            store.compact(&purge)?;
        } else {
            store.remove_stale_files()?;
        }
        Ok(store)
    }

    /// Problems found when the store was opened (empty for a healthy store).
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of live (not erased) cases.
    pub fn len(&self) -> usize {
        self.index.cases.len()
    }

    /// Whether the store holds no live case.
    pub fn is_empty(&self) -> bool {
        self.index.cases.is_empty()
    }

    /// Summaries of the cases matching `filter`, most recently updated first.
    /// Reads no case document.
    pub fn list(&self, filter: &CaseFilter) -> Vec<CaseSummary> {
        let mut out: Vec<CaseSummary> = self
            .index
            .cases
            .values()
            .map(|e| &e.summary)
            .filter(|s| filter.matches(s))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        out
    }

    /// The summary of one case.
    pub fn summary(&self, id: &CaseId) -> Result<&CaseSummary> {
        self.entry(id).map(|e| &e.summary)
    }

    /// Finds a case by a unique prefix of its hex id (at least 4 digits).
    pub fn resolve(&self, prefix: &str) -> Result<CaseId> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "case id",
                "give at least 4 hexadecimal digits of the id",
            ));
        }
        let mut found = self
            .index
            .cases
            .keys()
            .filter(|id| id.to_hex().starts_with(&prefix));
        match (found.next(), found.next()) {
            (Some(id), None) => Ok(*id),
            (Some(_), Some(_)) => Err(Error::invalid(
                "case id",
                format!("{prefix} matches several cases"),
            )),
            (None, _) => {
                if let Some(t) = self
                    .index
                    .tombstones
                    .keys()
                    .find(|id| id.to_hex().starts_with(&prefix))
                {
                    return Err(Error::CaseErased { id: t.to_hex() });
                }
                Err(Error::CaseNotFound { id: prefix })
            }
        }
    }

    /// Tombstones of erased cases.
    pub fn tombstones(&self) -> impl Iterator<Item = &Tombstone> {
        self.index.tombstones.values()
    }

    /// Creates a case from `edits` (validated all-or-nothing) and stores it durably.
    pub fn add_case(&mut self, edits: &[Edit]) -> Result<CaseId> {
        self.check_writable()?;
        self.check_local_rights(None, edits)?;
        let (id, mut doc) = self.new_case_doc(edits, Timestamp::now())?;
        self.persist(id, &mut doc, true)?;
        self.cache_put(id, doc);
        Ok(id)
    }

    /// [`Store::add_case`] that is safe to retry: the case's id is derived from
    /// `request_id` (a caller-chosen id of this request, e.g. a UUID made before the
    /// first attempt, 1 to 128 bytes) with this device's key, so a retry after an
    /// unknown outcome (a crash or a kill after the write reached the disk) finds the
    /// case the first attempt stored instead of creating a second one. Returns the id
    /// and whether this call created the case; a retry does not apply `edits` again.
    /// Fails with [`Error::CaseErased`] if that case was created and then erased.
    pub fn add_case_once(&mut self, request_id: &str, edits: &[Edit]) -> Result<(CaseId, bool)> {
        if request_id.is_empty() || request_id.len() > 128 {
            return Err(Error::invalid("request id", "give 1 to 128 bytes"));
        }
        let id = self.request_case_id(request_id);
        if self.index.tombstones.contains_key(&id) {
            return Err(Error::CaseErased { id: id.to_hex() });
        }
        let digest = request_digest(request_id, edits)?;
        if let Some(entry) = self.index.cases.get(&id) {
            match entry.request {
                // The original request is known: the exact retry is its success, even
                // after the case was edited; other content is refused.
                Some(d) if d == digest => return Ok((id, false)),
                Some(_) => return Err(reused_request()),
                // A case registered before requests were recorded: compared with the
                // case as it is.
                None => {
                    self.check_same_request(&id, edits)?;
                    return Ok((id, false));
                }
            }
        }
        self.check_writable()?;
        self.check_local_rights(None, edits)?;
        let now = Timestamp::now();
        let mut doc = CaseDoc::create(id, self.actor.clone(), now)?;
        doc.apply(edits, now, &self.identity)?;
        self.persist_request(id, &mut doc, true, Some(digest))?;
        self.cache_put(id, doc);
        Ok((id, true))
    }

    /// A retry of [`Store::add_case_once`] must carry the same edits as the attempt
    /// that registered the case: the case as those edits register it (same id,
    /// author and time) must equal the stored case (but for the random ids of its
    /// notes and referrals).
    /// Otherwise the request id was reused for other content, and the call is refused
    /// (F12 of the 2026-12-04 red team). A case changed since it was registered is
    /// refused too: its content no longer matches the request.
    fn check_same_request(&mut self, id: &CaseId, edits: &[Edit]) -> Result<()> {
        let stored = self.case(id)?;
        let at = stored.created_at;
        let mut fresh = CaseDoc::create(*id, self.actor.clone(), at)?;
        fresh.apply(edits, at, &self.identity)?;
        let fresh = fresh.record()?;
        // Notes and referrals get random ids: compare without them.
        fn drop_inner_ids(v: &mut serde_json::Value, top: bool) {
            match v {
                serde_json::Value::Object(map) => {
                    if !top {
                        map.remove("id");
                    }
                    map.values_mut().for_each(|v| drop_inner_ids(v, false));
                }
                serde_json::Value::Array(items) => {
                    items.iter_mut().for_each(|v| drop_inner_ids(v, false))
                }
                _ => {}
            }
        }
        fn comparable(r: &CaseRecord) -> Result<serde_json::Value> {
            let mut v = serde_json::to_value(r).map_err(|e| Error::Internal(e.to_string()))?;
            drop_inner_ids(&mut v, true);
            Ok(v)
        }
        if comparable(&stored)? != comparable(&fresh)? {
            return Err(reused_request());
        }
        Ok(())
    }

    /// The case id a request id stands for on this device: the first 16 bytes of
    /// SHA-256 of this device's (deterministic) Ed25519 signature of the request id,
    /// so it looks random to anyone without the device key.
    fn request_case_id(&self, request_id: &str) -> CaseId {
        let message = [b"caravan/request-id/v1\0".as_slice(), request_id.as_bytes()].concat();
        let sig = self.identity.sign(&message);
        let digest = crate::crypto::sha256(&sig);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_ref()[..16]);
        CaseId(id)
    }

    /// Applies `edits` to a case (validated all-or-nothing) and stores them durably.
    pub fn update_case(&mut self, id: &CaseId, edits: &[Edit]) -> Result<()> {
        self.check_writable()?;
        self.entry(id)?;
        self.check_local_rights(Some(id), edits)?;
        self.check_no_own_change_on_hold(id)?;
        let mut doc = self.take_doc(id)?;
        if let Err(e) = doc.apply(edits, Timestamp::now(), &self.identity) {
            self.cache_put(*id, doc);
            return Err(e);
        }
        // On failure the document is dropped (not cached), so memory never runs ahead of disk.
        self.persist(*id, &mut doc, false)?;
        self.cache_put(*id, doc);
        Ok(())
    }

    /// Refuses a local edit of a case while one of this device's own changes on it is
    /// parked behind a revoked device's change that no coordinator has decided yet
    /// (decision 0020, "An author's own parked change"). The parked change keeps its
    /// Automerge sequence number; an edit now would take the same number, and two
    /// changes by one actor with one number never apply together, so the devices could
    /// not converge once the parked change comes back. The case can be edited again as
    /// soon as a coordinator accepts (the parked change returns) or rejects (it stays
    /// out for good on every device) what it builds on.
    fn check_no_own_change_on_hold(&self, id: &CaseId) -> Result<()> {
        let undecided = self
            .index
            .sync
            .quarantine
            .get(id)
            .is_some_and(|q| !q.is_empty());
        let own_parked = || {
            self.index.sync.pending.get(id).is_some_and(|parked| {
                parked.iter().any(|index::PendingChange(bytes, _)| {
                    automerge::Change::from_bytes(bytes.clone())
                        .is_ok_and(|c| c.actor_id() == &self.actor)
                })
            })
        };
        if undecided && own_parked() {
            return Err(Error::NotPermitted {
                action: "edit this case now".into(),
                reason: "an edit of yours on it builds on a revoked device's change that waits \
                         for a coordinator's decision (member quarantine); the case can be \
                         edited again once a coordinator accepts or rejects it"
                    .into(),
            });
        }
        Ok(())
    }

    /// Reads a whole case record.
    pub fn case(&mut self, id: &CaseId) -> Result<CaseRecord> {
        let doc = self.take_doc(id)?;
        let record = doc.record();
        self.cache_put(*id, doc);
        record
    }

    /// What exports need of many cases, with each case's registration time, read in
    /// parallel from each case's newest frame (no Automerge document is loaded unless
    /// that frame predates the projection). Cases are read frame by frame, so a block
    /// of many cases is opened once however many of them are asked for: pass all the
    /// ids at once. One result per id, in order.
    pub(crate) fn statistics(&self, ids: &[CaseId]) -> Vec<Result<(Timestamp, StoredStats)>> {
        type Wanted = (usize, CaseId, Loc);
        let mut out: Vec<Option<Result<(Timestamp, StoredStats)>>> =
            ids.iter().map(|_| None).collect();
        let mut by_frame: BTreeMap<(u32, u64), Vec<Wanted>> = BTreeMap::new();
        for (i, id) in ids.iter().enumerate() {
            match self.entry(id).map(|e| e.frames.last().copied()) {
                Ok(Some(loc)) => by_frame
                    .entry(loc.frame_key())
                    .or_default()
                    .push((i, *id, loc)),
                Ok(None) => out[i] = Some(self.stats_from_doc(id)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        let groups: Vec<Vec<Wanted>> = by_frame.into_values().collect();
        let read = crate::parallel::par_map(groups, |group| {
            let block = self.open_block(&group[0].1, group[0].2);
            group
                .into_iter()
                .map(|(i, id, loc)| {
                    let block = match &block {
                        Ok(b) => b,
                        // Unreadable: the error again, naming this case.
                        Err(_) => {
                            let again = match self.open_block(&id, loc) {
                                Err(e) => e,
                                Ok(_) => Error::Internal("a frame read differently twice".into()),
                            };
                            return (i, Err(again));
                        }
                    };
                    let created_at = match self.entry(&id) {
                        Ok(e) => e.summary.created_at,
                        Err(e) => return (i, Err(e)),
                    };
                    match block.1.get::<format::StatsOnly>(loc.slot()) {
                        Ok(format::StatsOnly::Put {
                            case,
                            stats: Some(stats),
                        }) if case == id => (i, Ok((created_at, stats))),
                        // Authentic but without a projection: read the document.
                        _ => (i, self.stats_from_doc(&id)),
                    }
                })
                .collect::<Vec<_>>()
        });
        for (i, result) in read.into_iter().flatten() {
            out[i] = Some(result);
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Internal("a case was not read".into()))))
            .collect()
    }

    /// A case's projection computed from its document.
    fn stats_from_doc(&self, id: &CaseId) -> Result<(Timestamp, StoredStats)> {
        let created_at = self.entry(id)?.summary.created_at;
        let stats = match self.cache.get(id) {
            Some(doc) => describe(doc, created_at)?.1,
            None => describe(&self.read_doc(id)?, created_at)?.1,
        };
        Ok((created_at, stats))
    }

    /// Imports many cases at once: each is validated and built (in parallel), then all
    /// are written with a single fsync. All or nothing: if one case is invalid, the
    /// error names it and nothing is stored.
    pub fn import(&mut self, cases: &[Vec<Edit>], progress: Progress<'_>) -> Result<Vec<CaseId>> {
        self.import_with_ids(cases, None, progress)
    }

    /// [`Store::import`] that is safe to repeat: each case comes with a request id (as
    /// in [`Store::add_case_once`], 1 to 128 bytes) from which its case id is derived,
    /// so a case whose request was already imported (or imported and then erased) is
    /// not stored again. All or nothing for the new ones. Returns, in order, each
    /// case's id and whether this call created it.
    pub fn import_once(
        &mut self,
        cases: Vec<(String, Vec<Edit>)>,
        progress: Progress<'_>,
    ) -> Result<Vec<(CaseId, bool)>> {
        let total = cases.len();
        let mut bulk = self.begin_import()?;
        let mut cases = cases.into_iter();
        loop {
            let block: Vec<(String, Vec<Edit>)> = cases.by_ref().take(IMPORT_BLOCK).collect();
            if block.is_empty() {
                break;
            }
            bulk.add(block)?;
            if !progress(bulk.offered(), total) {
                return Err(Error::Cancelled);
            }
        }
        bulk.finish()
    }

    /// [`Store::import`] with the cases' ids given (`ids[i]` for `cases[i]`, none of
    /// them stored yet) or drawn at random.
    fn import_with_ids(
        &mut self,
        cases: &[Vec<Edit>],
        fixed: Option<&[CaseId]>,
        progress: Progress<'_>,
    ) -> Result<Vec<CaseId>> {
        if fixed.is_some_and(|f| f.len() != cases.len()) {
            return Err(Error::Internal("one id per imported case".into()));
        }
        self.check_writable()?;
        self.check_local_rights(None, &[])?;
        let now = Timestamp::now();
        let total = cases.len();
        let start_len = self.journal.len;
        let start_lsn = self.index.next_lsn;
        let mut ids = Vec::with_capacity(total);
        let mut pending: Vec<(Loc, Record)> = Vec::with_capacity(total);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let batch = 256;
        let result: Result<()> = (|| {
            for (b, chunk) in cases.chunks(batch).enumerate() {
                let first = (self.index.next_lsn, b * batch);
                let chunk_ids = fixed.map(|f| &f[b * batch..b * batch + chunk.len()]);
                for (frame, records) in
                    self.build_parallel(chunk, chunk_ids, now, threads, first, None)?
                {
                    let off = self.journal.append(&frame)?;
                    for (slot, (id, record)) in records.into_iter().enumerate() {
                        let loc = Loc(JOURNAL, off, frame.len() as u32, slot as u16);
                        pending.push((loc, record));
                        ids.push(id);
                    }
                }
                self.index.next_lsn += chunk.len() as u64;
                if !progress(ids.len(), total) {
                    return Err(Error::Cancelled);
                }
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
        for (loc, record) in pending {
            self.index.apply(record, loc);
        }
        self.maybe_compact()?;
        Ok(ids)
    }

    /// Erases a case for real: afterwards no file of the store holds its content.
    /// A tombstone (id, time, reason) is kept so the erasure can propagate.
    pub fn erase_case(&mut self, id: &CaseId, reason: ErasureReason) -> Result<()> {
        self.check_writable()?;
        self.entry(id)?;
        self.check_may_erase()?;
        let mut tombstone = Tombstone {
            case: *id,
            erased_at: Timestamp::now(),
            reason,
            signature: None,
        };
        let sig = self.identity.sign(&tombstone.signed_bytes());
        tombstone.signature = Some(TombstoneSignature {
            by: self.identity.id().0,
            sig,
        });
        self.apply_tombstone(tombstone)
    }

    /// Records a (verified) tombstone and purges the case's content, if present.
    pub(crate) fn apply_tombstone(&mut self, tombstone: Tombstone) -> Result<()> {
        let id = tombstone.case;
        if self.index.tombstones.contains_key(&id) {
            return Ok(());
        }
        let record = Record::Erase {
            lsn: self.index.next_lsn,
            tombstone,
        };
        let loc = self.append_durably(&record)?;
        self.index.next_lsn += 1;
        let purged = self.index.apply(record, loc);
        self.cache.remove(&id);
        self.cache_order.retain(|c| *c != id);
        self.index.sync.pending.remove(&id);
        self.compact(&purged)
    }

    /// Moves the journal into a pack, writes a new index snapshot and removes files
    /// that hold nothing live. Runs by itself when the journal grows large.
    pub fn compact_now(&mut self) -> Result<()> {
        self.check_writable()?;
        self.compact(&[])
    }

    /// Total bytes of all files in the store directory.
    pub fn disk_usage(&self) -> Result<u64> {
        let mut total = 0;
        for entry in
            fs::read_dir(&self.dir).map_err(|e| Error::io(self.dir.display().to_string(), e))?
        {
            let entry = entry.map_err(|e| Error::io(self.dir.display().to_string(), e))?;
            total += entry
                .metadata()
                .map_err(|e| Error::io(self.dir.display().to_string(), e))?
                .len();
        }
        Ok(total)
    }

    // ----- internals -------------------------------------------------------------

    fn check_writable(&self) -> Result<()> {
        if self.poisoned {
            Err(Error::Poisoned)
        } else if self.needs_repair {
            let mut files: Vec<&str> = self.damage.iter().map(|d| d.file.as_str()).collect();
            files.dedup();
            Err(Error::NeedsRepair {
                files: files.join(", "),
            })
        } else if self.read_only {
            Err(Error::invalid("store", "it was opened for reading only"))
        } else {
            Ok(())
        }
    }

    /// Confirms every write of this session in the journal's end mark, durably.
    /// Every write already does it before it returns (and a close too), so this is
    /// normally a no-op; after it, damage anywhere in those writes is reported as
    /// damage, never taken for a torn write.
    pub fn confirm(&mut self) -> Result<()> {
        if self.read_only || self.needs_repair || self.poisoned {
            return Ok(());
        }
        if self.journal.len != self.confirmed {
            self.write_end_mark()?;
        }
        Ok(())
    }

    /// Live cases every record of which is in the current journal (a scan of the
    /// index: only when a mark file is written whole).
    fn journal_cases(&self) -> Vec<CaseId> {
        let mut out: Vec<CaseId> = self
            .index
            .cases
            .iter()
            .filter(|(_, e)| !e.frames.is_empty() && e.frames.iter().all(|l| l.file() == JOURNAL))
            .map(|(id, _)| *id)
            .collect();
        out.sort_unstable();
        out
    }

    /// Writes `end-<gen>` confirming the whole journal as it is now (durable), with
    /// the cases the index now holds.
    ///
    /// Normally in place (format 6): the ids of cases new in the journal since the
    /// last mark (the index collects them as it applies records, so no scan), then
    /// one slot, each synced. Written whole (temporary file, rename, directory sync)
    /// only when no format-6 mark of this generation is open (an upgrade from format
    /// 5), or after a failed in-place write (the ids it took are then found again by
    /// a scan).
    fn write_end_mark(&mut self) -> Result<()> {
        let next_lsn = self.index.next_lsn;
        let cases = self.index.known_cases();
        let fresh = std::mem::take(&mut self.index.fresh);
        let gen = self.index.gen;
        let in_place = match self.mark.as_mut() {
            Some(m) if m.gen == gen => Some(m),
            _ => None,
        };
        if let Some(mark) = in_place {
            let new_ids: Vec<CaseId> = fresh
                .into_iter()
                .filter(|id| {
                    self.index.cases.get(id).is_some_and(|e| {
                        !e.frames.is_empty() && e.frames.iter().all(|l| l.file() == JOURNAL)
                    })
                })
                .collect();
            if let Err(e) = mark.confirm(&self.sealer, self.journal.len, next_lsn, cases, new_ids) {
                self.mark = None;
                return Err(e);
            }
        } else {
            self.mark = None;
            let mark = end_mark::MarkFile::create(
                &self.sealer,
                &self.dir,
                &EndMark {
                    gen,
                    len: self.journal.len,
                    next_lsn,
                    cases: Some(cases),
                    journal_cases: self.journal_cases(),
                },
            )?;
            files::sync_dir(&self.dir)?;
            self.mark = Some(mark);
        }
        self.confirmed = self.journal.len;
        Ok(())
    }

    fn entry(&self, id: &CaseId) -> Result<&Entry> {
        if self.index.tombstones.contains_key(id) {
            return Err(Error::CaseErased { id: id.to_hex() });
        }
        self.index
            .cases
            .get(id)
            .ok_or_else(|| Error::CaseNotFound { id: id.to_hex() })
    }

    fn new_case_doc(&self, edits: &[Edit], now: Timestamp) -> Result<(CaseId, CaseDoc)> {
        let id = loop {
            let id = CaseId::random()?;
            if !self.index.cases.contains_key(&id) && !self.index.tombstones.contains_key(&id) {
                break id;
            }
        };
        let mut doc = CaseDoc::create(id, self.actor.clone(), now)?;
        doc.apply(edits, now, &self.identity)?;
        Ok((id, doc))
    }

    /// Builds `cases` on `threads` threads and seals them into blocks of up to
    /// [`BLOCK_RECORDS`] records. `first` is the LSN of the first case and its number
    /// (from 0) in the whole import. Returns each block's frame with its cases' ids and
    /// records (without their documents, for the index), in the order of `cases`.
    fn build_parallel(
        &self,
        cases: &[Vec<Edit>],
        ids: Option<&[CaseId]>,
        now: Timestamp,
        threads: usize,
        first: (u64, usize),
        numbers: Option<&[usize]>,
    ) -> Result<Vec<SealedBlock>> {
        let build = |edits: &Vec<Edit>, i: usize, lsn: u64| -> Result<(CaseId, Record)> {
            let (id, mut doc) = match ids.and_then(|ids| ids.get(i)) {
                Some(id) => {
                    let mut doc = CaseDoc::create(*id, self.actor.clone(), now)?;
                    doc.apply(edits, now, &self.identity)?;
                    (*id, doc)
                }
                None => self.new_case_doc(edits, now)?,
            };
            let (summary, stats) = describe(&doc, now)?;
            let (bytes, sigs) = doc.unsaved_changes();
            let heads = doc.heads().into_iter().map(|h| Hash(h.0)).collect();
            let record = Record::Put {
                lsn,
                case: id,
                full: true,
                summary,
                doc: bytes,
                sigs,
                heads,
                stats: Some(stats),
                request: None,
            };
            Ok((id, record))
        };
        let per = cases.len().div_ceil(threads).max(1);
        let part = |p: usize, part: &[Vec<Edit>]| -> Result<Vec<SealedBlock>> {
            let mut blocks = Vec::new();
            let mut block = BlockBuilder::default();
            for (j, edits) in part.iter().enumerate() {
                let i = p * per + j;
                let number = numbers.and_then(|n| n.get(i)).map_or(first.1 + i, |n| *n);
                let (id, record) = build(edits, i, first.0 + i as u64)
                    .map_err(|e| with_case_number(e, number + 1))?;
                block.push(cbor(&record)?, (id, strip_doc(record)));
                if block.is_full() {
                    blocks.push(block.seal(&self.sealer)?);
                }
            }
            if !block.is_empty() {
                blocks.push(block.seal(&self.sealer)?);
            }
            Ok(blocks)
        };
        let out = std::thread::scope(|s| {
            let handles: Vec<_> = cases
                .chunks(per)
                .enumerate()
                .map(|(p, chunk)| s.spawn(move || part(p, chunk)))
                .collect();
            handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
        });
        let mut all = Vec::new();
        for blocks in out {
            all.extend(blocks.map_err(|_| Error::Internal("an import worker panicked".into()))??);
        }
        Ok(all)
    }

    /// Writes a case's new changes (or whole document) as one durable journal frame.
    fn persist(&mut self, id: CaseId, doc: &mut CaseDoc, new: bool) -> Result<()> {
        self.persist_request(id, doc, new, None)
    }

    /// [`Store::persist`], recording the digest of the request that registers a new
    /// case. A whole-document record of a case carries its request digest on, so
    /// that it survives the compaction that drops the superseded first record.
    fn persist_request(
        &mut self,
        id: CaseId,
        doc: &mut CaseDoc,
        new: bool,
        request: Option<Hash>,
    ) -> Result<()> {
        let chunks = self.index.cases.get(&id).map_or(0, |e| e.frames.len());
        let full = new || chunks >= self.options.max_chunks;
        let request = request.or_else(|| {
            self.index
                .cases
                .get(&id)
                .and_then(|e| e.request)
                .filter(|_| full)
        });
        let (bytes, sigs) = doc.chunk_to_store(full);
        let heads = doc.heads().into_iter().map(|h| Hash(h.0)).collect();
        let (summary, stats) = describe(doc, Timestamp::now())?;
        let record = Record::Put {
            lsn: self.index.next_lsn,
            case: id,
            full,
            summary,
            doc: bytes,
            sigs,
            heads,
            stats: Some(stats),
            request,
        };
        let loc = self.append_durably(&record)?;
        self.index.next_lsn += 1;
        self.index.apply(strip_doc(record), loc);
        self.maybe_compact()
    }

    /// Appends one record and fsyncs; on failure the journal is cut back so the store
    /// is exactly as before (or the store is poisoned if even that fails).
    fn append_durably(&mut self, record: &Record) -> Result<Loc> {
        let frame = format::seal_frame(&self.sealer, CTX_FRAME, record)?;
        let before = self.journal.len;
        let res = self
            .journal
            .append(&frame)
            .and_then(|off| self.journal.sync().map(|()| off));
        match res {
            Ok(off) => Ok(Loc::frame(JOURNAL, off, frame.len() as u32)),
            Err(e) => {
                if self.journal.rollback_to(before).is_err() {
                    self.poisoned = true;
                }
                Err(e)
            }
        }
    }

    /// Ends every write: compacts if the journal grew large, else confirms the write
    /// in the end mark (durable). So a write reported as done is confirmed on disk:
    /// damage in it later is reported, never taken for a torn write (F3 of the
    /// red-team round of 2026-12-04). If the mark cannot be written the call fails
    /// although the write is in the journal (an unknown outcome, as after a crash).
    fn maybe_compact(&mut self) -> Result<()> {
        if self.journal.len > self.options.journal_limit {
            self.compact(&[])
        } else {
            self.confirm()
        }
    }

    fn take_doc(&mut self, id: &CaseId) -> Result<CaseDoc> {
        if let Some(doc) = self.cache.remove(id) {
            self.cache_order.retain(|c| c != id);
            return Ok(doc);
        }
        self.read_doc(id)
    }

    /// Reads a case's document from disk (not from the cache).
    fn read_doc(&self, id: &CaseId) -> Result<CaseDoc> {
        self.read_doc_with(id, &mut HashMap::new())
    }

    /// Reads a case's document from disk, keeping the blocks it opens in `blocks` so
    /// that cases stored in the same block open it once (bulk readers).
    fn read_doc_with(&self, id: &CaseId, blocks: &mut OpenBlocks) -> Result<CaseDoc> {
        let (bytes, sigs) = self.read_stored(id, blocks)?;
        CaseDoc::load(*id, &bytes, sigs, self.actor.clone()).map_err(|e| match e {
            // Chunks that authenticate but do not form a document: one of the case's
            // records is missing (lost to damage elsewhere).
            Error::Internal(_) => {
                let file = self
                    .entry(id)
                    .ok()
                    .and_then(|e| e.frames.first())
                    .map_or_else(|| "index".to_string(), |l| self.file_label(l.file()));
                Error::corrupted(
                    file,
                    format!("case {id} is missing a record of its document"),
                )
            }
            other => other,
        })
    }

    /// A case's stored document bytes (its chunks in order) and the signatures of its
    /// changes, read as [`Store::read_doc_with`] does.
    fn read_stored(
        &self,
        id: &CaseId,
        blocks: &mut OpenBlocks,
    ) -> Result<(Vec<u8>, Vec<ChangeSig>)> {
        let entry = self.entry(id)?;
        let mut bytes = Vec::new();
        let mut all_sigs = Vec::new();
        for loc in entry.frames.clone() {
            if !blocks.contains_key(&loc.frame_key()) {
                if blocks.len() >= 4 {
                    blocks.clear();
                }
                blocks.insert(loc.frame_key(), self.open_block(id, loc)?);
            }
            let Some((name, block)) = blocks.get(&loc.frame_key()) else {
                return Err(Error::Internal("no block".into()));
            };
            match block.get::<format::ChunkOnly>(loc.slot()) {
                Ok(format::ChunkOnly::Put { case, doc, sigs }) if case == *id => {
                    bytes.extend_from_slice(&doc);
                    all_sigs.extend(sigs);
                }
                Ok(_) => {
                    return Err(Error::corrupted(
                        name.as_str(),
                        format!("a frame of case {id} holds another record"),
                    ))
                }
                Err(e) => {
                    return Err(Error::corrupted(
                        name.as_str(),
                        format!("a frame of case {id} {}", frame_error(&e)),
                    ))
                }
            }
        }
        Ok((bytes, all_sigs))
    }

    /// Reads and opens the frame holding `loc` (a record of case `id`).
    fn open_block(&self, id: &CaseId, loc: Loc) -> Result<(String, Block)> {
        let (name, file) = self.file_of(loc)?;
        let frame = read_frame(file, &name, loc)?;
        match Block::open(&self.sealer, &frame) {
            Ok(block) => Ok((name, block)),
            Err(e) => Err(Error::corrupted(
                name,
                format!("a frame of case {id} {}", frame_error(&e)),
            )),
        }
    }

    fn cache_put(&mut self, id: CaseId, doc: CaseDoc) {
        while self.cache.len() >= self.options.cache_size.max(1) {
            match self.cache_order.pop_front() {
                Some(old) => {
                    self.cache.remove(&old);
                }
                None => self.cache.clear(),
            }
        }
        self.cache.insert(id, doc);
        self.cache_order.push_back(id);
    }

    fn file_of(&self, loc: Loc) -> Result<(String, &File)> {
        if loc.file() == JOURNAL {
            return Ok((self.journal.name(), self.journal.file()?));
        }
        if loc.file() == LOST {
            return Err(Error::corrupted(
                "a deleted file",
                "the frame was unreadable and held an erased case, so it was not kept",
            ));
        }
        if let Some((name, f)) = self.extra.get(&loc.file()) {
            return Ok((name.clone(), f));
        }
        let name = files::pack_name(loc.file());
        match self.packs.get(&loc.file()) {
            Some(f) => Ok((name, f)),
            None => Err(Error::corrupted(name, "the pack file is missing")),
        }
    }

    fn open_packs(&mut self) -> Result<()> {
        for &n in &self.index.packs {
            let name = files::pack_name(n);
            match File::open(self.dir.join(&name)) {
                Ok(f) => {
                    self.packs.insert(n, f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let lost = self
                        .index
                        .cases
                        .values()
                        .filter(|e| e.frames.iter().any(|l| l.file() == n))
                        .count() as u64;
                    self.damage.push(Damage::new(
                        name,
                        format!("missing; {lost} case(s) with a record in it cannot be read"),
                        lost.max(1),
                    ));
                    self.needs_repair = true;
                }
                Err(e) => return Err(Error::io(name, e)),
            }
        }
        Ok(())
    }

    /// Writes live frames from the journal and from packs that need rewriting into one
    /// new pack, then a new snapshot and journal, then deletes what is no longer used.
    /// `purge` lists frames that must not survive (an erased case's).
    fn compact(&mut self, purge: &[Loc]) -> Result<()> {
        let dir = self.dir.clone();
        let new_gen = self.index.gen + 1;
        // What each frame holds: live records (by slot), and dead ones (superseded or
        // purged) that must not be carried over.
        let mut frames: HashMap<(u32, u64), FrameUse> = HashMap::new();
        let mut note = |loc: &Loc, live: bool, meta: bool, purged: bool| {
            let u = frames.entry(loc.frame_key()).or_insert(FrameUse {
                len: loc.len(),
                ..FrameUse::default()
            });
            if live {
                u.live.push(loc.slot());
            } else {
                u.dead += 1;
            }
            u.meta |= meta;
            u.purged |= purged;
        };
        for loc in self
            .index
            .meta_frames
            .iter()
            .chain(&self.index.group_frame)
            .chain(&self.index.ledger_frame)
        {
            note(loc, true, true, false);
        }
        for entry in self.index.cases.values() {
            for loc in &entry.frames {
                note(loc, true, false, false);
            }
            for loc in &entry.old {
                note(loc, false, false, false);
            }
        }
        for loc in purge {
            note(loc, false, false, true);
        }
        // Which packs to rewrite: those holding purged records, and mostly-dead ones.
        let mut live_bytes: BTreeMap<u32, u64> = BTreeMap::new();
        for (&(file, _), u) in &frames {
            let known = u.live.len() as u64 + u64::from(u.dead);
            *live_bytes.entry(file).or_default() +=
                u64::from(u.len) * u.live.len() as u64 / known.max(1);
        }
        let mut rewrite: BTreeSet<u32> = frames
            .iter()
            .filter(|(_, u)| u.purged)
            .map(|(k, _)| k.0)
            .filter(|f| *f != JOURNAL)
            .collect();
        let small = self.index.packs.len() > 4;
        for (&n, file) in &self.packs {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let live = live_bytes.get(&n).copied().unwrap_or(0);
            if live * 2 < size || (small && size < (1 << 20)) || self.rewrite_all {
                rewrite.insert(n);
            }
        }
        // Older journals a rebuild read are always carried over, like the journal.
        rewrite.extend(self.extra.keys().copied());
        // Carry the live records of the journal and of those packs into a new pack.
        let pack_no = self.index.next_pack;
        let pack_file = files::pack_name(pack_no);
        let tmp_path = dir.join(format!("{pack_file}.tmp"));
        let io = |e| Error::io(format!("{pack_file}.tmp"), e);
        let mut out = BufWriter::new(File::create(&tmp_path).map_err(io)?);
        let mut written: u64 = 0;
        let mut todo: Vec<((u32, u64), FrameUse)> = frames
            .into_iter()
            .filter(|((f, _), u)| !u.live.is_empty() && (*f == JOURNAL || rewrite.contains(f)))
            .collect();
        todo.sort_by_key(|(k, _)| *k);
        // Whole frames copied as they are, and records moved one by one into new blocks.
        let mut moved_frames: HashMap<(u32, u64), Loc> = HashMap::new();
        let mut moved: HashMap<((u32, u64), u16), Loc> = HashMap::new();
        let mut lost: BTreeSet<(u32, u64)> = BTreeSet::new();
        let mut block: BlockBuilder<((u32, u64), u16)> = BlockBuilder::default();
        let put_block = |block: &mut BlockBuilder<((u32, u64), u16)>,
                         out: &mut BufWriter<File>,
                         written: &mut u64,
                         moved: &mut HashMap<((u32, u64), u16), Loc>|
         -> Result<()> {
            let (frame, from) = block.seal(&self.sealer)?;
            out.write_all(&frame).map_err(io)?;
            for (slot, key) in from.into_iter().enumerate() {
                moved.insert(key, Loc(pack_no, *written, frame.len() as u32, slot as u16));
            }
            *written += frame.len() as u64;
            Ok(())
        };
        for (key, mut u) in todo {
            let at = Loc::frame(key.0, key.1, u.len);
            let (name, file) = self.file_of(at)?;
            let frame = read_frame(file, &name, at)?;
            // A block of many live records (or a big one) gains nothing from being
            // repacked: copy it byte for byte, like a meta frame.
            let whole = u.dead == 0 && (u.live.len() >= REPACK_BELOW || at.len() >= 8 << 10);
            let opened = if u.meta || whole {
                None
            } else {
                Block::open(&self.sealer, &frame).ok()
            };
            match opened {
                Some(b) => {
                    u.live.sort_unstable();
                    u.live.dedup();
                    for slot in u.live {
                        match b.raw(slot) {
                            Ok(raw) => {
                                block.push(raw.to_vec(), (key, slot));
                                if block.is_full() {
                                    put_block(&mut block, &mut out, &mut written, &mut moved)?;
                                }
                            }
                            Err(_) => {
                                lost.insert(key);
                            }
                        }
                    }
                }
                // Unreadable: kept as it is (its cases stay unreadable, not missing),
                // unless it holds an erased case's record.
                None if !u.meta && !whole && u.purged => {
                    lost.insert(key);
                }
                None => {
                    out.write_all(&frame).map_err(io)?;
                    moved_frames.insert(key, Loc::frame(pack_no, written, at.len()));
                    written += u64::from(at.len());
                }
            }
        }
        if !block.is_empty() {
            put_block(&mut block, &mut out, &mut written, &mut moved)?;
        }
        let out = out.into_inner().map_err(|e| io(e.into_error()))?;
        out.sync_all().map_err(io)?;
        drop(out);
        let mut index_packs: Vec<u32> = self
            .index
            .packs
            .iter()
            .copied()
            .filter(|n| !rewrite.contains(n))
            .collect();
        if written > 0 {
            fs::rename(&tmp_path, dir.join(&pack_file)).map_err(|e| Error::io(&pack_file, e))?;
            // The pack's name must be durable before any index refers to it.
            files::sync_dir(&dir)?;
            index_packs.push(pack_no);
        } else {
            files::remove(&dir, &format!("{pack_file}.tmp"))?;
        }
        // Superseded locations in the journal and in the packs about to go are stale in
        // the new generation (its journal reuses the same offsets): drop them before
        // the snapshot, keeping a copy in case the snapshot cannot be written.
        let gone = |f: u32| f == JOURNAL || f == LOST || rewrite.contains(&f);
        let saved_old: Vec<(CaseId, Vec<Loc>)> = self
            .index
            .cases
            .iter()
            .filter(|(_, e)| e.old.iter().any(|l| gone(l.file())))
            .map(|(id, e)| (*id, e.old.clone()))
            .collect();
        self.index.drop_old_frames_in(gone);
        // The new snapshot, in memory first (so a failure leaves the index untouched).
        let before: Vec<Loc> = self.index.all_locs().map(|l| *l).collect();
        for loc in self.index.all_locs() {
            let key = loc.frame_key();
            if let Some(to) = moved.get(&(key, loc.slot())) {
                *loc = *to;
            } else if let Some(to) = moved_frames.get(&key) {
                *loc = Loc(to.file(), to.offset(), to.len(), loc.slot());
            } else if lost.contains(&key) {
                *loc = Loc(LOST, 0, 0, 0);
            }
        }
        let old_packs = std::mem::replace(&mut self.index.packs, index_packs);
        let old_gen = self.index.gen;
        self.index.gen = new_gen;
        self.index.next_pack = pack_no + u32::from(written > 0);
        let snapshot = format::seal_frame(&self.sealer, CTX_INDEX, &self.index);
        let committed = snapshot.and_then(|s| {
            // The end mark first: with the snapshot, an empty journal is confirmed.
            let mark = EndMark {
                gen: new_gen,
                len: 0,
                next_lsn: self.index.next_lsn,
                cases: Some(self.index.known_cases()),
                journal_cases: Vec::new(),
            };
            let mark = end_mark::MarkFile::create(&self.sealer, &dir, &mark)?;
            files::write_atomic(&dir, &files::index_name(new_gen), &s)?;
            files::write_atomic(&dir, &files::journal_name(new_gen), &[])?;
            files::sync_dir(&dir)?;
            Ok(mark)
        });
        let mark = match committed {
            Ok(mark) => mark,
            Err(e) => {
                // Undo the in-memory switch; the files of the old generation are intact.
                for (loc, was) in self.index.all_locs().zip(before) {
                    *loc = was;
                }
                for (id, old) in saved_old {
                    if let Some(e) = self.index.cases.get_mut(&id) {
                        e.old = old;
                    }
                }
                self.index.packs = old_packs;
                self.index.gen = old_gen;
                self.index.next_pack = pack_no;
                files::remove(&dir, &files::index_name(new_gen)).ok();
                files::remove(&dir, &files::end_name(new_gen)).ok();
                files::remove(&dir, &pack_file).ok();
                return Err(e);
            }
        };
        // Switch to the new generation.
        self.journal = Journal::open(&dir, new_gen, 0, false)?;
        self.confirmed = 0;
        self.mark = Some(mark);
        self.index.fresh.clear();
        for n in &rewrite {
            self.packs.remove(n);
            self.extra.remove(n);
        }
        if written > 0 {
            let f = File::open(dir.join(&pack_file)).map_err(|e| Error::io(&pack_file, e))?;
            self.packs.insert(pack_no, f);
        }
        self.remove_stale_files()
    }

    /// Deletes temporary files, older generations and packs the index does not use.
    fn remove_stale_files(&mut self) -> Result<()> {
        let listing =
            fs::read_dir(&self.dir).map_err(|e| Error::io(self.dir.display().to_string(), e))?;
        let mut removed = false;
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = match FileName::parse(&name) {
                Some(FileName::Temp) => true,
                Some(FileName::Index(g)) | Some(FileName::Journal(g)) | Some(FileName::End(g)) => {
                    g != self.index.gen
                }
                Some(FileName::Pack(n)) => !self.index.packs.contains(&n),
                Some(FileName::Damaged) | None => false,
            };
            if stale {
                files::remove(&self.dir, &name)?;
                removed = true;
            }
        }
        if removed {
            files::sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Runs `open` with the key `passphrase` gives the store in `dir`: the key of the
/// first header copy's parameters, or, if that key opens no header or no file of
/// the store authenticates under it (another store's header copied over one copy,
/// with the same passphrase: F4 of the 2026-12-04 red team), the other copy's.
fn with_passphrase<T>(
    dir: &Path,
    passphrase: &str,
    mut open: impl FnMut(&StoreKey) -> Result<T>,
) -> Result<T> {
    let headers = recovery::Headers::read(dir)?;
    let mut last = Err(Error::WrongKey);
    for kdf in headers.kdfs() {
        let kdf = kdf.ok_or_else(|| {
            Error::invalid(
                "passphrase",
                "this store is opened with a device key, not a passphrase",
            )
        })?;
        let key = StoreKey::from_passphrase(passphrase, &kdf)?;
        if let Err(e) = headers.choose(&key) {
            last = Err(e);
            continue;
        }
        match open(&key) {
            Err(Error::Corrupted { file, detail }) if detail == recovery::NOTHING_AUTHENTICATES => {
                last = Err(Error::Corrupted { file, detail });
            }
            other => return other,
        }
    }
    last
}

impl Drop for Store {
    fn drop(&mut self) {
        // Confirm what this session appended: from now on a damaged frame anywhere in
        // it is damage, not a torn write. Best effort: without it, the next open
        // treats the unconfirmed tail as it did before.
        if !self.read_only
            && !self.needs_repair
            && !self.poisoned
            && self.journal.len != self.confirmed
        {
            let _ = self.write_end_mark();
        }
    }
}

pub(crate) fn read_frame(file: &File, name: &str, loc: Loc) -> Result<Vec<u8>> {
    let mut frame = vec![0u8; loc.len() as usize];
    files::read_at(file, &mut frame, loc.offset()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupted(name, "the file is truncated")
        } else {
            Error::io(name, e)
        }
    })?;
    Ok(frame)
}

pub(crate) fn frame_error(e: &format::FrameError) -> &'static str {
    match e {
        format::FrameError::Incomplete => "is truncated",
        format::FrameError::Invalid(why) => why,
    }
}

/// What is stored about a case beside its document, read from it once: the summary
/// for the index (updated at `now`) and the projection exports read, with the
/// person's blind-index link if one was set.
fn describe(doc: &CaseDoc, now: Timestamp) -> Result<(CaseSummary, StoredStats)> {
    let (record, blind_index) = doc.record_and_blind_index()?;
    let link = blind_index.and_then(|b| b.link_key());
    Ok((
        CaseSummary::of(&record, now),
        StoredStats::of(&record, link),
    ))
}

/// Changes waiting for dependencies that have not arrived, kept for a later sync.
fn park(case: CaseId, changes: &[(automerge::Change, [u8; 64])]) -> index::SyncDelta {
    index::SyncDelta::Pending {
        case,
        changes: changes
            .iter()
            .map(|(c, s)| index::PendingChange(c.raw_bytes().to_vec(), crate::codec::B64(*s)))
            .collect(),
    }
}

/// A journal entry setting a case's quarantined changes (none: the entry goes).
fn quarantine_delta(case: CaseId, changes: &[(automerge::Change, [u8; 64])]) -> index::SyncDelta {
    index::SyncDelta::Quarantine {
        case,
        changes: changes
            .iter()
            .map(|(c, s)| index::PendingChange(c.raw_bytes().to_vec(), crate::codec::B64(*s)))
            .collect(),
    }
}

/// The digest of an `add_case_once` request, stored with the case it registered:
/// SHA-256 of a domain tag, the request id and the CBOR encoding of the edits (the
/// request as given, before notes and referrals get their random ids). It stays
/// sealed in the store and is purged with the case.
fn request_digest(request_id: &str, edits: &[Edit]) -> Result<Hash> {
    let mut ctx = crate::crypto::Sha256::new();
    ctx.update(b"caravan/request/v1\0");
    ctx.update(&(request_id.len() as u64).to_le_bytes());
    ctx.update(request_id.as_bytes());
    ctx.update(&cbor(&edits)?);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(Hash(out))
}

fn reused_request() -> Error {
    Error::invalid(
        "request id",
        "request id reused with different content: it registered a case with another \
         request (nothing was changed; use a new request id for a new case)",
    )
}

/// The index keeps summaries, not documents: drop the bytes before replaying.
pub(crate) fn strip_doc(record: Record) -> Record {
    match record {
        Record::Put {
            lsn,
            case,
            full,
            summary,
            heads,
            request,
            ..
        } => Record::Put {
            lsn,
            case,
            full,
            summary,
            doc: Vec::new(),
            sigs: Vec::new(),
            heads,
            stats: None,
            request,
        },
        other => other,
    }
}

/// A frame with fewer live records than this is repacked into a shared block when
/// compaction carries it over.
const REPACK_BELOW: usize = BLOCK_RECORDS / 4;

/// What compaction knows of one frame from the index.
#[derive(Default)]
struct FrameUse {
    /// Total frame length.
    len: u32,
    /// Slots of live records.
    live: Vec<u16>,
    /// Records superseded or purged.
    dead: u32,
    /// A meta frame (device, tombstone, group): always copied as it is.
    meta: bool,
    /// Holds a record being erased.
    purged: bool,
}

/// Blocks opened by a bulk reader, by frame, with their file's name.
type OpenBlocks = HashMap<(u32, u64), (String, Block)>;

/// A sealed block frame and the records in it (without documents, for the index).
type SealedBlock = (Vec<u8>, Vec<(CaseId, Record)>);

/// Records gathered into one block frame, closed at [`BLOCK_RECORDS`] records or
/// [`BLOCK_BYTES`] bytes of CBOR.
struct BlockBuilder<T> {
    cbor: Vec<Vec<u8>>,
    bytes: usize,
    items: Vec<T>,
}

impl<T> Default for BlockBuilder<T> {
    fn default() -> Self {
        BlockBuilder {
            cbor: Vec::new(),
            bytes: 0,
            items: Vec::new(),
        }
    }
}

impl<T> BlockBuilder<T> {
    fn push(&mut self, cbor: Vec<u8>, item: T) {
        self.bytes += cbor.len();
        self.cbor.push(cbor);
        self.items.push(item);
    }

    fn is_full(&self) -> bool {
        self.cbor.len() >= BLOCK_RECORDS || self.bytes >= BLOCK_BYTES
    }

    fn is_empty(&self) -> bool {
        self.cbor.is_empty()
    }

    /// Seals the records gathered so far into a frame and starts over.
    fn seal(&mut self, sealer: &Sealer) -> Result<(Vec<u8>, Vec<T>)> {
        let frame = format::seal_block(sealer, &self.cbor)?;
        self.cbor.clear();
        self.bytes = 0;
        Ok((frame, std::mem::take(&mut self.items)))
    }
}

fn with_case_number(e: Error, n: usize) -> Error {
    match e {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field: format!("case {n}: {field}"),
            reason,
        },
        Error::UnknownCode { vocabulary, code } => Error::UnknownCode {
            vocabulary: format!("{vocabulary} (case {n})"),
            code,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod damage_tests;

#[cfg(test)]
mod attack_tests;

#[cfg(test)]
mod admission_tests;
#[cfg(test)]
mod adversary_sim;
#[cfg(test)]
mod format_golden_tests;
#[cfg(test)]
mod live_seam;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod quarantine_tests;
#[cfg(test)]
mod receive_tests;
#[cfg(test)]
mod share_tests;
#[cfg(test)]
mod sync_tests;
#[cfg(test)]
mod vectors_tests;
