//! Callbacks implemented by the app (Kotlin, Swift, Python) and called by Rust.

/// Told which cases changed, so that the UI can refresh: when sync (a bundle, the
/// mailbox, a live session, a partner share) brought changes, after every successful
/// local edit through the handle (a case added, updated, noted, referred, erased,
/// assigned, imported: its id), and after a membership change (a group created or
/// joined, a role changed, a member revoked: no id, an empty list). An app's change
/// stream needs to report nothing itself (decision 0019).
///
/// It is called on the thread that made the call, after the store's lock was
/// released, so it may call back into the store (or post to the UI thread). What it
/// throws is contained: it reaches Rust as an error (never a panic) and is ignored.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// `ids`: the cases created, changed or erased (32 hex digits each). An error
    /// (exception) thrown here is ignored: the sync it reports is done and durable.
    fn on_cases_changed(&self, ids: Vec<String>) -> Result<(), crate::CaravanError>;
}

/// Progress of a long call: `done` of `total` items. Return `false` to cancel; the call
/// then fails with `Cancelled` (and stores nothing, or, for calls made of several
/// durable steps such as a mailbox sync, keeps the steps already done: each call says).
///
/// **Throwing cancels too**, whatever is thrown: Kotlin's `ensureActive()` in a
/// cancelled coroutine, Swift's `try Task.checkCancellation()`, a Python exception.
/// The call returns `Cancelled` and the store stays usable (no `ReopenStore`): the
/// binding never unwinds through the store's lock (see [`crate::store`]'s `progress_fn`).
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// Called on the thread running the call, after each batch of items. `Ok(false)`
    /// or any error (exception) cancels.
    fn on_progress(&self, done: u64, total: u64) -> Result<bool, crate::CaravanError>;
}
