import CaravanCore
import Foundation
import Network

/// Live sync with a colleague's phone (or a laptop running `caravan sync listen|connect`)
/// on the same Wi-Fi or hotspot, over TCP. Each message is a 4-byte big-endian length and
/// the sealed message the core produced; everything on the wire is end-to-end encrypted.
///
/// Blocking: call from a background task (`Task.detached`).
public enum LocalNetworkSync {
    public static let defaultPort: UInt16 = 7700
    static let maxMessage = 64 << 20

    public enum SyncError: Error { case network(String), tooLarge, timeout }

    /// Waits for one colleague on `port`, then syncs as the responder.
    public static func listen(store: CaravanStore, port: UInt16 = defaultPort, onListening: (UInt16) -> Void = { _ in }) throws -> SyncSummary {
        let listener = try NWListener(using: .tcp, on: NWEndpoint.Port(rawValue: port)!)
        let queue = DispatchQueue(label: "caravan.listen")
        let accepted = DispatchSemaphore(value: 0)
        var connection: NWConnection?
        listener.newConnectionHandler = { c in
            if connection == nil {
                connection = c
                accepted.signal()
            } else {
                c.cancel()
            }
        }
        listener.start(queue: queue)
        onListening(port)
        defer { listener.cancel() }
        guard accepted.wait(timeout: .now() + 120) == .success, let c = connection else { throw SyncError.timeout }
        let framed = try Framed(c)
        defer { framed.close() }
        return try run(store: store, framed: framed, session: store.liveAccept(), first: nil)
    }

    /// Connects to a colleague listening at `host`:`port` and syncs as the initiator.
    public static func connect(store: CaravanStore, host: String, port: UInt16 = defaultPort) throws -> SyncSummary {
        let framed = try Framed(NWConnection(host: NWEndpoint.Host(host), port: NWEndpoint.Port(rawValue: port)!, using: .tcp))
        defer { framed.close() }
        let start = try store.liveStart()
        return try run(store: store, framed: framed, session: start.session, first: start.message)
    }

    private static func run(store: CaravanStore, framed: Framed, session: LiveSync, first: Data?) throws -> SyncSummary {
        if let first { try framed.send(first) }
        while try !session.isDone() {
            let message = try framed.receive()
            let reply: Data?
            do {
                reply = try store.liveReceive(session: session, message: message)
            } catch {
                // Tell the other phone why before closing (protocol section 13.5): a reason
                // code only. Best effort: it may have hung up already.
                if let refusal = try? session.refusal() { try? framed.send(refusal) }
                throw error
            }
            if let reply { try framed.send(reply) }
        }
        return try session.summary()
    }

    /// A started NWConnection driven synchronously, with length-prefixed messages.
    final class Framed {
        private let connection: NWConnection
        private let queue = DispatchQueue(label: "caravan.connection")

        init(_ connection: NWConnection) throws {
            self.connection = connection
            let ready = DispatchSemaphore(value: 0)
            var failure: Error?
            connection.stateUpdateHandler = { state in
                switch state {
                case .ready: ready.signal()
                case .failed(let e), .waiting(let e): failure = e; ready.signal()
                default: break
                }
            }
            connection.start(queue: queue)
            guard ready.wait(timeout: .now() + 15) == .success else { throw SyncError.timeout }
            if let failure { throw SyncError.network("\(failure)") }
        }

        func send(_ message: Data) throws {
            var frame = withUnsafeBytes(of: UInt32(message.count).bigEndian) { Data($0) }
            frame.append(message)
            let done = DispatchSemaphore(value: 0)
            var failure: NWError?
            connection.send(content: frame, completion: .contentProcessed { failure = $0; done.signal() })
            done.wait()
            if let failure { throw SyncError.network("\(failure)") }
        }

        func receive() throws -> Data {
            let header = try read(4)
            let length = Int(header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard length <= LocalNetworkSync.maxMessage else { throw SyncError.tooLarge }
            return length == 0 ? Data() : try read(length)
        }

        private func read(_ count: Int) throws -> Data {
            var out = Data()
            while out.count < count {
                let done = DispatchSemaphore(value: 0)
                var chunk: Data?
                var failure: NWError?
                var ended = false
                connection.receive(minimumIncompleteLength: 1, maximumLength: count - out.count) { data, _, isComplete, error in
                    chunk = data; failure = error; ended = isComplete
                    done.signal()
                }
                guard done.wait(timeout: .now() + 60) == .success else { throw SyncError.timeout }
                if let failure { throw SyncError.network("\(failure)") }
                if let chunk { out.append(chunk) }
                if ended && out.count < count { throw SyncError.network("connection closed") }
            }
            return out
        }

        func close() { connection.cancel() }
    }
}

extension CaravanStore {
    /// Syncs through a folder picked in the Files app (a USB drive, an SD card reader, a
    /// cloud folder): the security-scoped URL is a real path, so the core's own folder
    /// mailbox reads and writes it directly (no copy). A folder reached only through an
    /// API would implement the core's `Mailbox` protocol (its `place()` returning a
    /// stable name for that folder, so each place keeps its own position) and go
    /// through `syncThrough(mailbox:progress:)`, as Android's document tree does.
    public func syncFolder(_ url: URL) throws -> MailboxSummary {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        return try syncMailbox(dir: url.path)
    }

    /// Syncs through a folder of the team's WebDAV server (Nextcloud, ownCloud):
    /// `https://…`; the password is sent to the server only (HTTP Basic over TLS), never
    /// stored or logged by the core.
    public func syncWebDAV(_ url: String, user: String?, password: String?) throws -> MailboxSummary {
        try syncWebdav(url: url, user: user, password: password, progress: nil)
    }

    /// The updates `peer` has not confirmed yet, as base45 texts to show one QR code after
    /// another. Showing moves nothing: the peer's position moves when `confirmHandover`
    /// gets the receipt the peer shows back, signed with the peer phone's device key, so
    /// no other phone can make it (as on Android: one `peer` per colleague's phone, its
    /// member device id; decision 0024).
    public func qrFrames(peer: String, maxFrame: UInt32 = 1000) throws -> [String] {
        try handoverFrames(peer: peer, maxFrame: maxFrame).map { qrFrameToText(frame: $0) }
    }

    /// Like `qrFrames` but carrying everything, whatever `peer` confirmed before: for a
    /// colleague whose phone lost its data, or when a showing was scanned by another
    /// phone (`confirmHandover` then throws `CaravanError.HandoverToAnotherDevice`).
    public func qrFramesEverything(peer: String, maxFrame: UInt32 = 1000) throws -> [String] {
        try handoverFramesEverything(peer: peer, maxFrame: maxFrame).map { qrFrameToText(frame: $0) }
    }
}
