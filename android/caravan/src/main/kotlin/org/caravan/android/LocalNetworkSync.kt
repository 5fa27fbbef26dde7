package org.caravan.android

import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.IOException
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import org.caravan.core.CaravanException
import org.caravan.core.CaravanStore
import org.caravan.core.LiveSync
import org.caravan.core.SyncSummary

/**
 * Live sync with a colleague's phone on the same Wi-Fi or hotspot, over TCP.
 *
 * The wire is the CLI's (`caravan sync listen` / `caravan sync connect`): each message
 * is a 4-byte big-endian length and the sealed message the core produced. Everything
 * on the wire is end-to-end encrypted and authenticated by the core, so the network
 * (a café's Wi-Fi, a hotspot) learns nothing but sizes. A phone and a laptop running
 * the CLI can sync with each other.
 *
 * Blocking calls: run them on a background thread ([CaseRepository.listen] and
 * [CaseRepository.connect] do).
 */
object LocalNetworkSync {
    /** The port the CLI and the apps use by default. */
    const val DEFAULT_PORT = 7700

    /** Largest message accepted from the network, as in the CLI. */
    const val MAX_MESSAGE = 64 shl 20

    private const val CONNECT_TIMEOUT_MS = 15_000
    private const val READ_TIMEOUT_MS = 60_000

    /**
     * Waits (up to [acceptTimeoutMs]) for one colleague on [port], then syncs as the
     * responder. [onListening] is told the bound port (show it with this phone's address).
     */
    fun listen(
        store: CaravanStore,
        port: Int = DEFAULT_PORT,
        acceptTimeoutMs: Int = 120_000,
        onListening: (Int) -> Unit = {},
    ): SyncSummary =
        ServerSocket().use { server ->
            server.reuseAddress = true
            server.bind(InetSocketAddress(port))
            server.soTimeout = acceptTimeoutMs
            onListening(server.localPort)
            server.accept().use { socket -> run(store, socket, store.liveAccept(), first = null) }
        }

    /** Connects to a colleague who is listening at [host]:[port] and syncs as the initiator. */
    fun connect(store: CaravanStore, host: String, port: Int = DEFAULT_PORT): SyncSummary =
        Socket().use { socket ->
            socket.connect(InetSocketAddress(host, port), CONNECT_TIMEOUT_MS)
            val start = store.liveStart()
            run(store, socket, start.session, first = start.message)
        }

    /** Moves messages between [socket] and the core until the session is done. */
    private fun run(store: CaravanStore, socket: Socket, session: LiveSync, first: ByteArray?): SyncSummary {
        socket.soTimeout = READ_TIMEOUT_MS
        socket.tcpNoDelay = true
        val input = DataInputStream(socket.getInputStream().buffered())
        val output = DataOutputStream(socket.getOutputStream().buffered())
        try {
            first?.let { send(output, it) }
            while (!session.isDone()) {
                val message = receive(input)
                val reply = try {
                    store.liveReceive(session, message)
                } catch (e: CaravanException) {
                    // Tell the other phone why before closing (protocol section 13.5): a
                    // reason code only. Best effort: it may have hung up already.
                    session.refusal()?.let { runCatching { send(output, it) } }
                    throw e
                }
                reply?.let { send(output, it) }
            }
            return session.summary()
        } finally {
            session.destroy()
        }
    }

    internal fun send(out: DataOutputStream, message: ByteArray) {
        out.writeInt(message.size)
        out.write(message)
        out.flush()
    }

    internal fun receive(input: DataInputStream): ByteArray {
        val length = input.readInt()
        if (length < 0 || length > MAX_MESSAGE) throw IOException("message of $length bytes refused")
        return ByteArray(length).also(input::readFully)
    }
}
