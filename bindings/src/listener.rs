//! Callbacks implemented by the app (Kotlin, Swift, Python) and called by Rust.

/// Told which cases changed when sync (a bundle, the mailbox, a live session) brought
/// changes, so that the UI can refresh. Local edits made through the same handle do
/// not call it: the app made them and knows.
///
/// It is called on the thread that made the sync call, after the store's lock was
/// released, so it may call back into the store (or post to the UI thread).
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// `ids`: the cases created, changed or erased (32 hex digits each).
    fn on_cases_changed(&self, ids: Vec<String>);
}

/// Progress of a long call: `done` of `total` items. Return `false` to cancel; the call
/// then fails with `Cancelled` and stores nothing.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// Called on the thread running the call, after each batch of items.
    fn on_progress(&self, done: u64, total: u64) -> bool;
}
