import Foundation
import Security

/// One small secret in the iOS Keychain: readable only while the phone is unlocked, never
/// synced to iCloud and never restored to another phone
/// (`kSecAttrAccessibleWhenUnlockedThisDeviceOnly`).
public struct KeychainItem {
    /// The Keychain service (one per app).
    public let service: String
    /// The item's name within the service.
    public let account: String

    public init(service: String, account: String) {
        self.service = service
        self.account = account
    }

    /// A Keychain call that failed, with its `OSStatus`.
    public struct KeychainError: Error, CustomStringConvertible {
        public let status: OSStatus
        public var description: String { "keychain error \(status)" }
    }

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    /// The stored bytes, or nil if the item does not exist.
    public func read() throws -> Data? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &result)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = result as? Data else { throw KeychainError(status: status) }
        return data
    }

    /// Creates or replaces the item.
    public func write(_ data: Data) throws {
        var q = query
        q[kSecValueData as String] = data
        q[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        var status = SecItemAdd(q as CFDictionary, nil)
        if status == errSecDuplicateItem {
            let update: [String: Any] = [
                kSecValueData as String: data,
                kSecAttrAccessible as String: kSecAttrAccessibleWhenUnlockedThisDeviceOnly,
            ]
            status = SecItemUpdate(query as CFDictionary, update as CFDictionary)
        }
        guard status == errSecSuccess else { throw KeychainError(status: status) }
    }

    /// Deletes the item (no error if it does not exist).
    public func delete() {
        SecItemDelete(query as CFDictionary)
    }
}
