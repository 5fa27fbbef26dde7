import CommonCrypto
import CryptoKit
import Foundation

/// What entering a PIN led to.
public enum UnlockResult {
    /// The PIN was right: open the store with this key.
    case unlocked(storeKey: Data)
    /// The duress PIN was entered: run the panic wipe.
    case duress
    /// Wrong PIN, with the tries left before the vault reports `tooManyAttempts`.
    case wrongPin(attemptsLeft: Int)
    /// Too many wrong PINs: run the panic wipe.
    case tooManyAttempts
}

/// Errors of the vault itself (not of the PIN).
public enum KeyVaultError: Error {
    case pinTooShort, duressSameAsPin, badStoreKey, notSetUp, unreadable, randomFailed
}

/// Keeps the store's 32-byte key in the Keychain, sealed under the PIN, with an optional
/// duress PIN. The same design as the Android app's `KeyVault`:
///
/// - the store key is sealed with AES-256-GCM under a key derived from the PIN
///   (PBKDF2-HMAC-SHA256);
/// - the sealed key, the salts and a salted hash of the duress PIN are one Keychain item
///   (this device only, only while unlocked), so the short PIN can only be tried on this
///   phone, and `maxAttempts` wrong PINs wipe it;
/// - both derivations run for every PIN, so the duress check takes no visible extra time.
public final class KeyVault {
    public static let minPin = 4
    private static let version: UInt8 = 1
    private static let aad = Data("caravan key vault v1".utf8)

    private let record: KeychainItem
    private let attempts: KeychainItem
    private let iterations: Int
    private let maxAttempts: Int

    public init(service: String = "org.fieldnotes.vault", iterations: Int = 120_000, maxAttempts: Int = 10) {
        record = KeychainItem(service: service, account: "vault")
        attempts = KeychainItem(service: service, account: "attempts")
        self.iterations = iterations
        self.maxAttempts = maxAttempts
    }

    /// Whether a PIN has been set up.
    public var isSetUp: Bool { (try? record.read()) != nil }

    /// Stores `storeKey` under `pin`, with an optional `duressPin`, replacing any earlier vault.
    public func setUp(pin: String, duressPin: String?, storeKey: Data) throws {
        guard storeKey.count == 32 else { throw KeyVaultError.badStoreKey }
        guard pin.count >= Self.minPin else { throw KeyVaultError.pinTooShort }
        if let duress = duressPin {
            guard duress.count >= Self.minPin else { throw KeyVaultError.pinTooShort }
            guard duress != pin else { throw KeyVaultError.duressSameAsPin }
        }
        let pinSalt = try Self.random(16)
        let duressSalt = try Self.random(16)
        let pinKey = SymmetricKey(data: Self.derive(pin, pinSalt, iterations))
        let sealed = try AES.GCM.seal(storeKey, using: pinKey, authenticating: Self.aad).combined!
        // Without a duress PIN, a random verifier that no PIN can match keeps the format fixed.
        let duressHash = try duressPin.map { Self.derive($0, duressSalt, iterations) } ?? Self.random(32)
        var data = Data([Self.version])
        data.append(contentsOf: withUnsafeBytes(of: UInt32(iterations).bigEndian, Array.init))
        data.append(pinSalt)
        data.append(duressSalt)
        data.append(duressHash)
        data.append(sealed)
        try record.write(data)
        try attempts.write(Data("0".utf8))
    }

    /// Tries `pin`. Slow on purpose (PBKDF2): call it off the main thread.
    public func unlock(pin: String) throws -> UnlockResult {
        guard let data = try record.read() else { throw KeyVaultError.notSetUp }
        let bytes = [UInt8](data)
        guard bytes.count > 1 + 4 + 16 + 16 + 32, bytes[0] == Self.version else { throw KeyVaultError.unreadable }
        let rounds = Int(bytes[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let pinSalt = Data(bytes[5..<21])
        let duressSalt = Data(bytes[21..<37])
        let duressHash = Data(bytes[37..<69])
        let sealed = Data(bytes[69...])

        let asDuress = Self.derive(pin, duressSalt, rounds)
        let pinKey = SymmetricKey(data: Self.derive(pin, pinSalt, rounds))
        if Self.constantTimeEqual(asDuress, duressHash) { return .duress }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let key = try AES.GCM.open(box, using: pinKey, authenticating: Self.aad)
            try attempts.write(Data("0".utf8))
            return .unlocked(storeKey: key)
        } catch CryptoKitError.authenticationFailure {
            let failures = (Int(String(decoding: (try? attempts.read()) ?? Data(), as: UTF8.self)) ?? 0) + 1
            try attempts.write(Data(String(failures).utf8))
            return failures >= maxAttempts ? .tooManyAttempts : .wrongPin(attemptsLeft: maxAttempts - failures)
        }
    }

    /// Deletes the vault from the Keychain: the store key is gone for good.
    public func destroy() {
        record.delete()
        attempts.delete()
    }

    private static func random(_ n: Int) throws -> Data {
        var bytes = [UInt8](repeating: 0, count: n)
        guard SecRandomCopyBytes(kSecRandomDefault, n, &bytes) == errSecSuccess else { throw KeyVaultError.randomFailed }
        return Data(bytes)
    }

    private static func derive(_ pin: String, _ salt: Data, _ rounds: Int) -> Data {
        var out = [UInt8](repeating: 0, count: 32)
        let password = Array(pin.utf8)
        salt.withUnsafeBytes { saltBytes in
            _ = CCKeyDerivationPBKDF(
                CCPBKDFAlgorithm(kCCPBKDF2),
                password.map { Int8(bitPattern: $0) }, password.count,
                saltBytes.bindMemory(to: UInt8.self).baseAddress, salt.count,
                CCPseudoRandomAlgorithm(kCCPRFHmacAlgSHA256), UInt32(rounds),
                &out, out.count
            )
        }
        return Data(out)
    }

    private static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
