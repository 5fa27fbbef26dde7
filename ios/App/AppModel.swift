import CaravanCore
import CaravanKit
import SwiftUI

/// The app's state: the store session, the open store, labels, and a revision counter
/// that bumps when sync changed cases (views reload on it).
@MainActor
final class AppModel: ObservableObject {
    let session = StoreSession()
    let labels = Labels()
    @Published private(set) var store: CaravanStore?
    @Published private(set) var revision = 0
    private var backgroundSince: Date?
    /// Lock after this long in the background.
    let autoLockAfter: TimeInterval = 60

    var isSetUp: Bool { session.isSetUp }

    func setUp(pin: String, duressPin: String?) async throws {
        let session = self.session
        let store = try await Task.detached { try session.setUp(pin: pin, duressPin: duressPin) }.value
        opened(store)
    }

    func unlock(pin: String) async throws -> UnlockOutcome {
        let session = self.session
        let outcome = try await Task.detached { try session.unlock(pin: pin) }.value
        if case .opened(let store) = outcome { opened(store) }
        return outcome
    }

    /// Every change (sync, team, local edits), for any number of subscribers
    /// (`for await ids in model.changes.stream()`); `revision` follows it too.
    let changes = StoreChanges()
    private var revisionTask: Task<Void, Never>?

    private func opened(_ store: CaravanStore) {
        store.setChangeListener(listener: changes)
        if revisionTask == nil {
            let stream = changes.stream()
            revisionTask = Task { @MainActor [weak self] in
                for await _ in stream { self?.revision += 1 }
            }
        }
        self.store = store
    }

    func lock() {
        session.lock()
        store = nil
    }

    func panic() {
        session.panic()
        store = nil
    }

    /// A change the core's listener does not tell (the sync screen's hand-over
    /// confirmations, invitations): told to every subscriber (and so to `revision`).
    /// Local edits and membership changes need not call it: the core tells them
    /// (decision 0019).
    func changed() { changes.onCasesChanged(ids: []) }

    /// Runs a store call off the main thread.
    func run<T>(_ work: @escaping (CaravanStore) throws -> T) async throws -> T {
        guard let store else { throw CaravanError.ReopenStore(reason: "locked") }
        return try await Task.detached { try work(store) }.value
    }

    func scenePhaseChanged(_ phase: ScenePhase) {
        switch phase {
        case .background:
            backgroundSince = Date()
        case .active:
            if let since = backgroundSince, Date().timeIntervalSince(since) >= autoLockAfter { lock() }
            backgroundSince = nil
        default:
            break
        }
    }

    /// A short message for the user, for an error from the core: the core's own
    /// `userMessage` in the app's language (English or Russian), never `"\(error)"`
    /// (the developer's detail, `error.detail()`, is for logs only).
    static func message(_ error: Error) -> String {
        let language = Locale.preferredLanguages.first ?? "en"
        if let error = error as? CaravanError {
            return error.userMessage(language: language)
        }
        return String(localized: "Something went wrong. Try again.")
    }
}

