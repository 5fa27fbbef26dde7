package org.caravan.android

import java.io.File
import org.caravan.core.Mailbox
import org.caravan.core.MailboxException

/**
 * A shared folder used as a mailbox, handed to the core as its `Mailbox` foreign trait
 * (`CaravanStore.syncThrough`): the core's one mailbox sync reads and writes through it
 * directly, with no mirror or staging copy. On Android the folder is a Storage Access
 * Framework tree ([DocumentTreeMailbox]); this one is a plain [File] folder (desktop
 * tests, app-private folders).
 *
 * Paths are `<outbox>/<name>`; the folder only ever receives ciphertext. Reads refuse a
 * file over the limit before reading it; writes go to a temporary name, then rename.
 */
class FileMailbox(private val root: File) : Mailbox {
    override fun list(): List<String> {
        val outboxes = root.listFiles()?.filter { it.isDirectory } ?: return emptyList()
        return outboxes.flatMap { dir ->
            dir.listFiles().orEmpty().map { "${dir.name}/${it.name}" }
        }
    }

    override fun read(path: String, limit: ULong): ByteArray {
        val file = resolve(path)
        if (!file.isFile) throw MailboxException.Refused("$path is not a plain file")
        if (file.length().toULong() > limit) throw MailboxException.Refused("$path is ${file.length()} bytes")
        return try {
            file.inputStream().use { readAtMost(it, limit) }
        } catch (e: java.io.IOException) {
            throw MailboxException.Unavailable(e.message ?: "read failed")
        }
    }

    override fun write(path: String, bytes: ByteArray) {
        val file = resolve(path)
        try {
            file.parentFile?.mkdirs()
            writeAtomically(file, bytes)
        } catch (e: java.io.IOException) {
            throw MailboxException.Unavailable(e.message ?: "write failed")
        }
    }

    override fun remove(path: String) {
        resolve(path).delete()
    }

    /** This folder's canonical path: the device keeps its position per place. */
    override fun place(): String = "file " + root.canonicalPath

    private fun resolve(path: String): File {
        val parts = path.split('/')
        if (parts.size != 2 || parts.any { it.isEmpty() || it == "." || it == ".." }) {
            throw MailboxException.Refused("$path is not <outbox>/<file>")
        }
        return File(File(root, parts[0]), parts[1])
    }
}

/** Reads [input] whole, refusing it once it passes [limit] bytes (a file that grew). */
internal fun readAtMost(input: java.io.InputStream, limit: ULong): ByteArray {
    val out = java.io.ByteArrayOutputStream()
    val buf = ByteArray(64 * 1024)
    var total = 0UL
    while (true) {
        val n = input.read(buf)
        if (n < 0) break
        total += n.toULong()
        if (total > limit) throw MailboxException.Refused("more than $limit bytes")
        out.write(buf, 0, n)
    }
    return out.toByteArray()
}
