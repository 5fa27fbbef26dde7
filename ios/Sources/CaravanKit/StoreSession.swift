import CaravanCore
import Foundation

/// Destroys everything Caravan keeps on this phone, at once: run on the duress PIN, after
/// too many wrong PINs, or from the "Erase everything" menu item. Never throws half-way.
public protocol PanicWipe {
    func wipe()
}

/// The app's panic wipe, in this order: the core's wipe (through the open handle, which
/// it closes first, or `panicWipeDir` when the store is locked: the store header is
/// overwritten, so no key opens the store any more, and its files are deleted), then the
/// Keychain items (the key), then whatever is left in the directory.
public struct StoreWiper: PanicWipe {
    let vault: KeyVault
    let storeDir: URL
    let wipeStore: () -> Void

    public func wipe() {
        wipeStore()
        vault.destroy()
        try? FileManager.default.removeItem(at: storeDir)
    }
}

/// What the unlock screen does next.
public enum UnlockOutcome {
    /// The store is open (after the duress PIN: a fresh, empty store).
    case opened(CaravanStore)
    /// Wrong PIN.
    case wrongPin(attemptsLeft: Int)
    /// Too many wrong PINs: everything was wiped; start from set-up.
    case wiped
}

/// Set-up, unlock, lock and panic wipe of the one store on the phone (the logic behind
/// the unlock screen; the same as the Android app's `StoreSession`). With the duress PIN,
/// everything is wiped and a new empty store is set up under that PIN, so whoever is
/// watching sees an ordinary, empty notebook that keeps working.
public final class StoreSession {
    public let storeDir: URL
    public let vault: KeyVault
    public private(set) var store: CaravanStore?

    /// The store lives in Application Support, excluded from iCloud/iTunes backups.
    public init(storeDir: URL = StoreSession.defaultStoreDir(), vault: KeyVault = KeyVault()) {
        self.storeDir = storeDir
        self.vault = vault
    }

    public static func defaultStoreDir() -> URL {
        let base = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        return base.appendingPathComponent("store", isDirectory: true)
    }

    public var panicWipe: PanicWipe { StoreWiper(vault: vault, storeDir: storeDir, wipeStore: { self.wipeStore() }) }

    public var isSetUp: Bool { vault.isSetUp && FileManager.default.fileExists(atPath: storeDir.path) }

    /// Creates the store and the vault. Slow (key derivation): call it off the main thread.
    @discardableResult
    public func setUp(pin: String, duressPin: String?) throws -> CaravanStore {
        panicWipe.wipe()
        let key = try generateStoreKey()
        do {
            try vault.setUp(pin: pin, duressPin: duressPin, storeKey: key)
            try FileManager.default.createDirectory(at: storeDir.deletingLastPathComponent(), withIntermediateDirectories: true)
            let store = try CaravanStore.create(dir: storeDir.path, key: key)
            excludeFromBackup(storeDir)
            self.store = store
            return store
        } catch {
            panicWipe.wipe()
            throw error
        }
    }

    /// Tries `pin`. Slow (key derivation): call it off the main thread.
    public func unlock(pin: String) throws -> UnlockOutcome {
        switch try vault.unlock(pin: pin) {
        case .unlocked(let key):
            let store = try CaravanStore.open(dir: storeDir.path, key: key)
            self.store = store
            return .opened(store)
        case .wrongPin(let left):
            return .wrongPin(attemptsLeft: left)
        case .duress:
            return .opened(try setUp(pin: pin, duressPin: nil))
        case .tooManyAttempts:
            panicWipe.wipe()
            return .wiped
        }
    }

    /// Closes the store; the PIN is needed again.
    public func lock() {
        store?.closeStore()
        store = nil
    }

    /// Wipes everything now.
    public func panic() { panicWipe.wipe() }

    /// The core's panic wipe: through the open handle (it closes the handle first), or on
    /// the directory when the store is locked. Never throws: the wipe goes on regardless.
    private func wipeStore() {
        let open = store
        store = nil
        if let open = open {
            try? open.panicWipe()
        } else {
            try? panicWipeDir(dir: storeDir.path)
        }
    }

    private func excludeFromBackup(_ url: URL) {
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        var url = url
        try? url.setResourceValues(values)
    }
}
