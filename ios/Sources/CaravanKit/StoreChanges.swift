import CaravanCore
import Foundation

/// The store's change feed, as the Android module's `StoreChanges`: the one
/// `ChangeListener` registered on the store, fanned out to any number of subscribers,
/// each with its own `AsyncStream` (a view's task comes and goes without registering
/// or removing anything on the store, so a locked or wiped store is never touched by a
/// subscriber's clean-up). A slow subscriber loses the oldest events, never blocks the
/// core's callback. Events: the changed case ids (sync, and local edits: the core tells
/// those too, decision 0019); an empty list for a membership change, or for a change
/// the app reports itself (`onCasesChanged(ids: [])`).
public final class StoreChanges: ChangeListener, @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [UUID: AsyncStream<[String]>.Continuation] = [:]

    public init() {}

    /// A new subscription; it ends when the consuming task is cancelled.
    public func stream() -> AsyncStream<[String]> {
        AsyncStream(bufferingPolicy: .bufferingNewest(64)) { continuation in
            let id = UUID()
            lock.lock()
            subscribers[id] = continuation
            lock.unlock()
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.lock.lock()
                self.subscribers[id] = nil
                self.lock.unlock()
            }
        }
    }

    /// Called by the core after a sync, a local edit or a membership change.
    public func onCasesChanged(ids: [String]) {
        lock.lock()
        let all = Array(subscribers.values)
        lock.unlock()
        for subscriber in all { subscriber.yield(ids) }
    }
}
