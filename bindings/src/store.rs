//! [`CaravanStore`]: one open encrypted store, shared by the app's threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::thread::ThreadId;

use caravan_core::vocab::{ErasureReason, Vocabulary};
use caravan_core::{CaseFilter, CaseId, Error as CoreError, KdfParams, Store, StoreKey, Timestamp};
use zeroize::Zeroizing;

use crate::error::{guard, locate_findings, CaravanError, Result};
use crate::listener::{ChangeListener, ProgressListener};
use crate::model::{
    case_id, core_edits, screened_texts, CaseDetails, CaseEdit, CaseListFilter, CaseSummary,
    ScreeningAssessment,
};

/// A problem found when the store was opened; the store still opened.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoreDamage {
    /// The file concerned.
    pub file: String,
    /// What was wrong and what was done about it.
    pub problem: String,
    /// Acknowledged records lost because of it (0: nothing lost).
    pub records_lost: u64,
}

/// An erased case: only its id, when and why remain.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ErasedCase {
    /// Case identifier.
    pub id: String,
    /// When it was erased (ms since the epoch).
    pub erased_at_ms: i64,
    /// `erasure_reason` code.
    pub reason: String,
}

/// An open store. Every method may be called from any thread (calls are serialized);
/// long calls should not run on the UI thread.
///
/// **Closing: call [`CaravanStore::close_store`]**, the one close. It releases the
/// store's lock and its keys and drops the change listener; the handle stays valid, its
/// methods then fail with the typed `ReopenStore` error, and `set_change_listener(None)`,
/// `close_store` and `panic_wipe` stay harmless. In Kotlin, `close()` (and so `use {}`)
/// is `closeStore()` too (Caravan's generator patches it); UniFFI's `destroy()` frees
/// the handle itself, after which every call throws `CaravanException.ReopenStore`
/// (patched as well; unpatched UniFFI throws `IllegalStateException`). The apps'
/// wrappers call `closeStore()` and let the garbage collector free the handle
/// (decision 0019).
#[derive(uniffi::Object)]
pub struct CaravanStore {
    inner: Mutex<Option<Store>>,
    listener: Mutex<Option<Arc<dyn ChangeListener>>>,
    /// The store directory, kept so that [`CaravanStore::panic_wipe`] works on a closed
    /// or poisoned handle too.
    dir: PathBuf,
    /// Set by [`CaravanStore::panic_wipe`]: a running call stops at its next progress
    /// point, and whichever call holds the store when it ends drops it and wipes again.
    wiping: AtomicBool,
    /// QR hand-overs shown and not confirmed yet (`handover.rs`); memory only.
    pub(crate) handovers: Mutex<Vec<caravan_core::Handover>>,
    /// The thread running a call on the store right now, if any. A call made from that
    /// same thread (an app's progress callback calling back into the store) cannot take
    /// the store's lock again: it is refused at once instead of waiting for ever.
    owner: Mutex<Option<ThreadId>>,
    /// Set by [`CaravanStore::close_store`] called from inside a callback of a running
    /// call: that call closes the store when it ends.
    close_requested: AtomicBool,
}

/// Clears [`CaravanStore::owner`] when a call ends, however it ends.
struct OwnerReset<'a>(&'a Mutex<Option<ThreadId>>);

impl Drop for OwnerReset<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl std::fmt::Debug for CaravanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaravanStore")
    }
}

/// Takes the key bytes, zeroizing the FFI copy whatever happens.
fn store_key(key: Vec<u8>) -> Result<StoreKey> {
    let key = Zeroizing::new(key);
    Ok(StoreKey::from_bytes(&key)?)
}

impl CaravanStore {
    /// Wraps an opened store. Every pack is authenticated first
    /// ([`Store::verify_packs`]), as the CLI does: a store with pack damage refuses
    /// every write with `Damaged` until it is repaired, and reads go on (R2-5 of the
    /// 2026-12-05 red team).
    fn wrap(mut store: Store) -> Arc<Self> {
        store.verify_packs();
        Arc::new(CaravanStore {
            dir: store.dir().to_path_buf(),
            inner: Mutex::new(Some(store)),
            listener: Mutex::new(None),
            wiping: AtomicBool::new(false),
            handovers: Mutex::new(Vec::new()),
            owner: Mutex::new(None),
            close_requested: AtomicBool::new(false),
        })
    }

    /// Whether the calling thread is inside a call on this store (a callback calling
    /// back in).
    fn reentrant(&self) -> bool {
        *self.owner.lock().unwrap_or_else(PoisonError::into_inner)
            == Some(std::thread::current().id())
    }

    /// Runs `f` on the open store, inside the panic guard.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        guard(|| {
            if self.reentrant() {
                return Err(CaravanError::InvalidInput {
                    field: "callback".into(),
                    reason: "a store method was called from inside a progress or change \
                             callback of a call still running on this store; call it after \
                             that call returns"
                        .into(),
                });
            }
            let mut slot = self.inner.lock().map_err(|_| CaravanError::ReopenStore {
                reason: "an earlier call on this handle failed unexpectedly".into(),
            })?;
            let store = slot.as_mut().ok_or_else(|| CaravanError::ReopenStore {
                reason: "this handle was closed".into(),
            })?;
            *self.owner.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(std::thread::current().id());
            let reset = OwnerReset(&self.owner);
            let result = f(store);
            drop(reset);
            if self.close_requested.swap(false, Ordering::SeqCst) {
                // close_store() was called from a callback of this call: close now.
                drop(slot.take());
            }
            if self.wiping.load(Ordering::SeqCst) {
                // A panic wipe ran while `f` held the store: finish it now (drop the
                // store and its keys, delete what `f` may have written since).
                drop(slot.take());
                drop(slot);
                wipe_leftovers(&self.dir)?;
                return Err(CaravanError::ReopenStore {
                    reason: "the store was wiped".into(),
                });
            }
            result
        })
    }

    /// Drops the unconfirmed hand-overs (they hold case positions).
    /// Drops the unconfirmed hand-overs and the change listener: what a close and a
    /// panic wipe both let go of before the store itself.
    fn release_listener_and_handovers(&self) {
        self.handovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        drop(
            self.listener
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Whether a panic wipe asked running calls to stop.
    pub(crate) fn wiping(&self) -> bool {
        self.wiping.load(Ordering::SeqCst)
    }

    /// Tells the change listener `ids` (after the store's lock was released: the listener
    /// may call back into the store). What it throws or panics is contained and ignored:
    /// the change it reports is done and durable.
    pub(crate) fn notify(&self, ids: Vec<String>) {
        let listener = self.listener.lock().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            if !matches!(
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    listener.on_cases_changed(ids)
                })),
                Ok(Ok(()))
            ) {
                eprintln!("caravan: the change listener failed; ignored");
            }
        }
    }

    /// Runs a local edit `f` on the open store, then, when it succeeded, tells the
    /// change listener the cases `ids` names (none for a membership change).
    pub(crate) fn editing<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T>,
        ids: impl FnOnce(&T) -> Vec<String>,
    ) -> Result<T> {
        let value = self.with(f)?;
        self.notify(ids(&value));
        Ok(value)
    }

    /// Runs a sync call `f`, then tells the change listener which cases it changed.
    pub(crate) fn syncing<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T>,
    ) -> Result<(T, Vec<String>)> {
        // The changes are gathered even when `f` fails part-way (a mailbox sync
        // cancelled after some bundles): what was stored is durable and must be told.
        let (value, changed, team_changed) = self.with(|store| {
            let before = stamps(store);
            let team_before = store.team().members();
            let value = f(store);
            let after = stamps(store);
            // Membership that changed by sync (a member added, a role, a revocation)
            // is told like a local membership change: with no case ids (F8 of the
            // 2026-12-05 red team).
            let team_changed = store.team().members() != team_before;
            let mut changed: Vec<String> = after
                .iter()
                .filter(|(id, t)| before.get(*id) != Some(*t))
                .map(|(id, _)| id.to_hex())
                .chain(
                    before
                        .keys()
                        .filter(|id| !after.contains_key(*id))
                        .map(CaseId::to_hex),
                )
                .collect();
            changed.sort();
            Ok((value, changed, team_changed))
        })?;
        if !changed.is_empty() {
            self.notify(changed.clone());
        }
        if team_changed {
            self.notify(Vec::new());
        }
        Ok((value?, changed))
    }
}

fn stamps(store: &Store) -> HashMap<CaseId, Timestamp> {
    store
        .list(&CaseFilter::default())
        .into_iter()
        .map(|s| (s.id, s.updated_at))
        .collect()
}

/// Deletes what is left of a store whose header a panic wipe already destroyed (the
/// lock file, anything a dropped handle wrote meanwhile). The header being gone,
/// "not a store" here means nothing of it was left.
fn wipe_leftovers(dir: &std::path::Path) -> Result<()> {
    match Store::panic_wipe(dir) {
        Ok(()) | Err(CoreError::NotAStore { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Asks an optional foreign progress listener whether to go on: `true` to continue.
///
/// Every answer other than `Ok(true)` cancels: `Ok(false)`, an error (an exception the
/// app threw, which UniFFI hands over as `CaravanError`, see
/// `From<UnexpectedUniFFICallbackError>`), and a panic in the callback machinery, which
/// is caught here, inside the store call, so that it never unwinds through the store's
/// lock and poisons it.
pub(crate) fn keep_going(
    listener: &Option<Arc<dyn ProgressListener>>,
    done: u64,
    total: u64,
) -> bool {
    let Some(listener) = listener else {
        return true;
    };
    matches!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            listener.on_progress(done, total)
        })),
        Ok(Ok(true))
    )
}

/// Adapts an optional foreign progress listener to the core's callback ([`keep_going`]);
/// a panic wipe of `store` cancels too.
pub(crate) fn progress_fn<'a>(
    store: &'a CaravanStore,
    listener: &'a Option<Arc<dyn ProgressListener>>,
) -> impl FnMut(usize, usize) -> bool + 'a {
    move |done, total| !store.wiping() && keep_going(listener, done as u64, total as u64)
}

/// The progress of a mailbox sync (folder, app mailbox, WebDAV): as [`progress_fn`],
/// except that the last tick `(total, total)`, told once every bundle was applied, cannot
/// cancel (only a panic wipe can): the call completes and its summary says what was
/// applied (red-team F6 of 2026-12-05). With nothing to read, `(0, 0)` still cancels.
pub(crate) fn mailbox_progress_fn<'a>(
    store: &'a CaravanStore,
    listener: &'a Option<Arc<dyn ProgressListener>>,
) -> impl FnMut(usize, usize) -> bool + 'a {
    let mut report = progress_fn(store, listener);
    move |done, total| report(done, total) || (total > 0 && done == total && !store.wiping())
}

#[uniffi::export]
impl CaravanStore {
    /// Creates a store in `dir` (empty or absent) with a 32-byte key from the platform
    /// keystore (see `generate_store_key`). The key bytes are wiped after use.
    #[uniffi::constructor]
    pub fn create(dir: String, key: Vec<u8>) -> Result<Arc<Self>> {
        guard(|| Ok(Self::wrap(Store::create(&dir, &store_key(key)?)?)))
    }

    /// Opens the store in `dir` with its 32-byte key. A wrong key fails with `WrongKey`
    /// and changes nothing.
    #[uniffi::constructor]
    pub fn open(dir: String, key: Vec<u8>) -> Result<Arc<Self>> {
        guard(|| Ok(Self::wrap(Store::open(&dir, &store_key(key)?)?)))
    }

    /// Creates a store whose key is derived from a passphrase (Argon2id, 64 MiB), for
    /// devices without a usable keystore.
    #[uniffi::constructor]
    pub fn create_with_passphrase(dir: String, passphrase: String) -> Result<Arc<Self>> {
        let passphrase = Zeroizing::new(passphrase);
        guard(|| {
            Ok(Self::wrap(Store::create_with_passphrase(
                &dir,
                &passphrase,
                KdfParams::recommended()?,
            )?))
        })
    }

    /// Opens a store created with a passphrase.
    #[uniffi::constructor]
    pub fn open_with_passphrase(dir: String, passphrase: String) -> Result<Arc<Self>> {
        let passphrase = Zeroizing::new(passphrase);
        guard(|| Ok(Self::wrap(Store::open_with_passphrase(&dir, &passphrase)?)))
    }

    /// The one close: releases the store's lock and its keys and drops the change
    /// listener. The handle stays valid: later calls fail with `ReopenStore`, and
    /// closing again, `set_change_listener(None)` and `panic_wipe` are harmless. Waits
    /// for a call running on another thread to finish (call it off the UI thread).
    pub fn close_store(&self) {
        if self.reentrant() {
            // Called from a callback of a running call, which holds the store: that
            // call closes it when it ends (waiting here would wait for ever).
            self.close_requested.store(true, Ordering::SeqCst);
            return;
        }
        self.release_listener_and_handovers();
        drop(
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Panic wipe: destroys the store so that no key opens it any more (the header is
    /// overwritten first) and deletes its files, then closes this handle. Later calls on
    /// this handle fail with `ReopenStore`; opening the directory fails with `NotAStore`.
    /// Works on a closed handle too. Other handles to the same store must be closed
    /// first. Deleting the key from the platform keystore stays the app's job.
    ///
    /// It does not wait for a call running on another thread (an import, a sync): the
    /// store is destroyed at once, the running call stops at its next progress point
    /// (or at its end) and fails, and the thread that ran it drops the store's keys and
    /// deletes anything it wrote meanwhile before it returns.
    pub fn panic_wipe(&self) -> Result<()> {
        guard(|| {
            self.wiping.store(true, Ordering::SeqCst);
            self.release_listener_and_handovers();
            // The header first: from here on no key opens the store.
            match Store::panic_wipe(&self.dir) {
                // This handle's store, already wiped (the directory is gone): done.
                Err(CoreError::NotAStore { .. }) if !self.dir.exists() => return Ok(()),
                other => other?,
            }
            // If no call runs, drop the store (and its keys) now; a poisoned lock must not
            // stop a wipe. A running call finishes the job itself (see `with`).
            let idle = match self.inner.try_lock() {
                Ok(mut slot) => Some(slot.take()),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner().take()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(store) = idle {
                drop(store);
                wipe_leftovers(&self.dir)?;
            }
            Ok(())
        })
    }

    /// Registers (or, with `None`, removes) the listener told about changes: brought by
    /// sync, local edits and membership changes ([`ChangeListener`]). Harmless on a closed or wiped handle (nothing will be told).
    pub fn set_change_listener(&self, listener: Option<Arc<dyn ChangeListener>>) {
        *self.listener.lock().unwrap_or_else(PoisonError::into_inner) = listener;
    }

    /// The store directory.
    pub fn dir(&self) -> Result<String> {
        self.with(|s| Ok(s.dir().display().to_string()))
    }

    /// Problems found when the store was opened (empty for a healthy store).
    pub fn damage(&self) -> Result<Vec<StoreDamage>> {
        self.with(|s| {
            Ok(s.damage()
                .iter()
                .map(|d| StoreDamage {
                    file: d.file.clone(),
                    problem: d.problem.clone(),
                    records_lost: d.records_lost,
                })
                .collect())
        })
    }

    /// Verifies every frame of every store file and every record the index points to
    /// (reads only; may take a while on a large store: not on the UI thread). Returns
    /// every problem found, empty for a healthy store; a problem with
    /// `records_lost > 0` means acknowledged data is missing.
    pub fn check(&self) -> Result<Vec<StoreDamage>> {
        self.with(|s| {
            Ok(s.check()
                .damage
                .iter()
                .map(|d| StoreDamage {
                    file: d.file.clone(),
                    problem: d.problem.clone(),
                    records_lost: d.records_lost,
                })
                .collect())
        })
    }

    /// Which of `ids` cannot be read (issue 14). `list_cases` shows summaries, which
    /// the index holds, so it also lists a case whose records are in a damaged file;
    /// `get_case` of such a case fails with the typed `Damaged` error naming the file,
    /// and every other case stays readable. Call this with the ids a screen shows (or
    /// all of `list_case_ids`) to mark the unreadable ones: one `StoreDamage` per
    /// unreadable case, naming its file and the case (`records_lost` 1); empty when
    /// they all read. Reads every record of those cases, each frame once: not on the
    /// UI thread for a long list.
    pub fn verify_cases(&self, ids: Vec<String>) -> Result<Vec<StoreDamage>> {
        self.with(|s| {
            let ids = ids.iter().map(|i| case_id(i)).collect::<Result<Vec<_>>>()?;
            Ok(s.verify_cases(&ids)
                .into_iter()
                .map(|d| StoreDamage {
                    file: d.file,
                    problem: d.problem,
                    records_lost: d.records_lost,
                })
                .collect())
        })
    }

    /// Number of live (not erased) cases.
    pub fn case_count(&self) -> Result<u64> {
        self.with(|s| Ok(s.len() as u64))
    }

    /// Summaries of the cases matching `filter`, most recently updated first: what the
    /// case list shows. Reads no case document, and the summaries carry vocabulary values
    /// as `VocabularyCode`s, so it is fast even for tens of thousands of cases.
    pub fn list_cases(&self, filter: CaseListFilter) -> Result<Vec<CaseSummary>> {
        self.with(|s| {
            let filter = filter.to_core()?;
            Ok(s.list(&filter).into_iter().map(CaseSummary::from).collect())
        })
    }

    /// The ids of the cases matching `filter`, in the order of `list_cases`: for a list
    /// screen that loads the summaries of the rows it shows, page by page, with
    /// `case_summaries`. Cheaper across the FFI than `list_cases` for a long list.
    pub fn list_case_ids(&self, filter: CaseListFilter) -> Result<Vec<String>> {
        self.with(|s| {
            let filter = filter.to_core()?;
            Ok(s.list(&filter).iter().map(|c| c.id.to_hex()).collect())
        })
    }

    /// The summaries of `ids`, in the same order (a page of `list_case_ids`). Cases
    /// erased since the ids were listed (by a sync, for example) are left out.
    pub fn case_summaries(&self, ids: Vec<String>) -> Result<Vec<CaseSummary>> {
        self.with(|s| {
            let mut page = Vec::with_capacity(ids.len());
            for id in &ids {
                match s.summary(&case_id(id)?) {
                    Ok(summary) => page.push(CaseSummary::from(summary.clone())),
                    Err(CoreError::CaseNotFound { .. } | CoreError::CaseErased { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(page)
        })
    }

    /// The summary of one case.
    pub fn case_summary(&self, id: String) -> Result<CaseSummary> {
        self.with(|s| Ok(CaseSummary::from(s.summary(&case_id(&id)?)?.clone())))
    }

    /// The full id of the case whose id starts with `prefix` (at least 4 hex digits).
    pub fn resolve(&self, prefix: String) -> Result<String> {
        self.with(|s| Ok(s.resolve(&prefix)?.to_hex()))
    }

    /// Registers a case from `edits` (validated all or nothing); returns its id.
    pub fn add_case(&self, edits: Vec<CaseEdit>) -> Result<String> {
        self.editing(
            |s| {
                let edits = core_edits(edits)?;
                s.add_case(&edits)
                    .map(|id| id.to_hex())
                    .map_err(|e| locate_findings(e.into(), &screened_texts(&edits)))
            },
            |id| vec![id.clone()],
        )
    }

    /// [`CaravanStore::add_case`], safe to retry: `request_id` is an id the app makes
    /// before the first attempt (a UUID) and reuses for retries. A retry after an
    /// unknown outcome (the app was killed, the call timed out) returns the case the
    /// first attempt stored instead of creating a second one (its edits are not applied
    /// again). Fails with `CaseErased` if that case was erased since.
    pub fn add_case_once(&self, edits: Vec<CaseEdit>, request_id: String) -> Result<String> {
        self.editing(
            |s| {
                Ok(s.add_case_once(&request_id, &core_edits(edits)?)?
                    .0
                    .to_hex())
            },
            |id| vec![id.clone()],
        )
    }

    /// Applies `edits` to a case (validated all or nothing).
    pub fn update_case(&self, id: String, edits: Vec<CaseEdit>) -> Result<()> {
        let told = id.clone();
        self.editing(
            |s| {
                let edits = core_edits(edits)?;
                s.update_case(&case_id(&id)?, &edits)
                    .map_err(|e| locate_findings(e.into(), &screened_texts(&edits)))
            },
            |()| vec![told],
        )
    }

    /// Reads a whole case.
    pub fn get_case(&self, id: String) -> Result<CaseDetails> {
        self.with(|s| Ok(CaseDetails::from(&s.case(&case_id(&id)?)?)))
    }

    /// Appends a dated note. A note with a likely identifier (phone number, e-mail,
    /// ID or passport number, exact date) is refused with `NoteRejected`.
    pub fn add_note(&self, id: String, text: String) -> Result<()> {
        self.update_case(id, vec![CaseEdit::AddNote { text }])
    }

    /// Refers the person to a service; returns the new referral's id.
    pub fn refer(
        &self,
        id: String,
        service: String,
        partner: String,
        organisation_type: Option<String>,
        reason: Option<String>,
    ) -> Result<String> {
        let told = id.clone();
        self.editing(
            |s| {
                let id = case_id(&id)?;
                let before: Vec<String> =
                    s.case(&id)?.referrals.into_iter().map(|r| r.id).collect();
                let edits = [caravan_core::Edit::AddReferral {
                    service,
                    partner,
                    organisation_type,
                    reason,
                }];
                s.update_case(&id, &edits)
                    .map_err(|e| locate_findings(e.into(), &screened_texts(&edits)))?;
                s.case(&id)?
                    .referrals
                    .into_iter()
                    .map(|r| r.id)
                    .find(|r| !before.contains(r))
                    .ok_or_else(|| CaravanError::Internal {
                        reason: "the new referral was not found after it was stored".into(),
                    })
            },
            |_| vec![told],
        )
    }

    /// Records a referral's new status (`referral_status` code).
    pub fn set_referral_status(&self, id: String, referral: String, status: String) -> Result<()> {
        self.update_case(id, vec![CaseEdit::SetReferralStatus { referral, status }])
    }

    /// Assesses the screening answers recorded on a case.
    pub fn assess_case(&self, id: String) -> Result<ScreeningAssessment> {
        self.with(|s| Ok(caravan_core::assess(&s.case(&case_id(&id)?)?).into()))
    }

    /// Registers many cases at once with one fsync, all or nothing; `progress` is told
    /// after each batch of 256 and may cancel (then nothing is stored).
    pub fn import_cases(
        &self,
        cases: Vec<Vec<CaseEdit>>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<String>> {
        self.editing(
            |s| {
                let cases = cases
                    .into_iter()
                    .map(core_edits)
                    .collect::<Result<Vec<_>>>()?;
                let mut report = progress_fn(self, &progress);
                let ids = s.import(&cases, &mut report).map_err(|e| {
                    let texts: Vec<&str> = cases.iter().flat_map(|c| screened_texts(c)).collect();
                    locate_findings(e.into(), &texts)
                })?;
                Ok(ids.iter().map(CaseId::to_hex).collect())
            },
            Clone::clone,
        )
    }

    /// Erases a case for real (no file keeps its content); `reason` is an
    /// `erasure_reason` code. The erasure propagates to the other devices by sync.
    pub fn erase_case(&self, id: String, reason: String) -> Result<()> {
        let told = id.clone();
        self.editing(
            |s| {
                let reason = ErasureReason::parse_known(&reason)?;
                Ok(s.erase_case(&case_id(&id)?, reason)?)
            },
            |()| vec![told],
        )
    }

    /// The erased cases (tombstones).
    pub fn erased_cases(&self) -> Result<Vec<ErasedCase>> {
        self.with(|s| {
            Ok(s.tombstones()
                .map(|t| ErasedCase {
                    id: t.case.to_hex(),
                    erased_at_ms: t.erased_at.0,
                    reason: t.reason.code().to_string(),
                })
                .collect())
        })
    }

    /// Compacts the store now (it also compacts by itself as the journal grows).
    pub fn compact(&self) -> Result<()> {
        self.with(|s| Ok(s.compact_now()?))
    }

    /// Total bytes of the store's files.
    pub fn disk_usage(&self) -> Result<u64> {
        self.with(|s| Ok(s.disk_usage()?))
    }
}

/// What [`repair_store`] did: the damaged files it kept aside and the cases it lost.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoreRepair {
    /// What a check found before the repair (empty for a healthy store).
    pub found: Vec<StoreDamage>,
    /// Damaged files kept aside in the store directory, as `damaged-<name>`.
    pub kept_aside: Vec<String>,
    /// Every case lost, by id.
    pub lost_case_ids: Vec<String>,
    /// How many more cases were lost whose ids no authentic file holds.
    pub lost_unnamed: u64,
    /// Whether anything was rewritten (false for a healthy store).
    pub repaired: bool,
}

impl From<caravan_core::RepairReport> for StoreRepair {
    fn from(r: caravan_core::RepairReport) -> Self {
        StoreRepair {
            found: r
                .found
                .damage
                .iter()
                .map(|d| StoreDamage {
                    file: d.file.clone(),
                    problem: d.problem.clone(),
                    records_lost: d.records_lost,
                })
                .collect(),
            kept_aside: r.kept_aside,
            lost_case_ids: r.lost_cases.iter().map(ToString::to_string).collect(),
            lost_unnamed: r.lost_unnamed,
            repaired: r.repaired,
        }
    }
}

/// Repairs the closed store in `dir` (as `caravan repair`): salvages every record that
/// authenticates, keeps each damaged file aside, and names every case lost. A store
/// whose packs are damaged refuses writes with `Damaged` until this has run. Close
/// every handle on the store first (`StoreInUse` otherwise); open it again afterwards.
#[uniffi::export]
pub fn repair_store(dir: String, key: Vec<u8>) -> Result<StoreRepair> {
    guard(|| Ok(Store::repair(&dir, &store_key(key)?)?.into()))
}

/// [`repair_store`] for a store opened with a passphrase.
#[uniffi::export]
pub fn repair_store_with_passphrase(dir: String, passphrase: String) -> Result<StoreRepair> {
    let passphrase = Zeroizing::new(passphrase);
    guard(|| Ok(Store::repair_with_passphrase(&dir, &passphrase)?.into()))
}
