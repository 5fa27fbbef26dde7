package org.caravan.android

import java.io.File
import org.caravan.core.CaravanStore
import org.caravan.core.MailboxSummary

/**
 * A shared folder used as a mailbox (a USB stick, an SD card, a folder a cloud app
 * keeps in sync), seen through whatever API the platform gives: on Android a
 * Storage Access Framework tree ([DocumentTreeFolder]), on a desktop a [File].
 *
 * The folder only ever holds ciphertext written by the core.
 */
interface MailboxFolder {
    /** Relative paths (`/`-separated) of every file in the folder, recursively. */
    fun list(): List<String>

    /** The bytes of the file at [path]. */
    fun read(path: String): ByteArray

    /** Creates or replaces the file at [path], creating parent folders. */
    fun write(path: String, bytes: ByteArray)

    /** Deletes the file at [path], if it exists. */
    fun delete(path: String)
}

/** A [MailboxFolder] on a real file system path. */
class FileMailboxFolder(private val root: File) : MailboxFolder {
    override fun list(): List<String> =
        root.walkTopDown().filter { it.isFile }.map { it.relativeTo(root).invariantSeparatorsPath }.toList()

    override fun read(path: String): ByteArray = File(root, path).readBytes()

    override fun write(path: String, bytes: ByteArray) {
        val file = File(root, path)
        file.parentFile?.mkdirs()
        writeAtomically(file, bytes)
    }

    override fun delete(path: String) {
        File(root, path).delete()
    }
}

/**
 * Runs the core's mailbox sync (`CaravanStore.syncMailbox`, which needs a file system
 * path) against a folder that may not have one: the folder is mirrored into [staging],
 * synced there, and what the core wrote or removed is mirrored back. [staging] lives in
 * the app's private cache and is emptied afterwards; it holds ciphertext only.
 */
class MailboxMirror(private val staging: File) {
    /** Syncs [store] through [folder]. */
    fun sync(store: CaravanStore, folder: MailboxFolder): MailboxSummary {
        staging.deleteRecursively()
        staging.mkdirs()
        val local = FileMailboxFolder(staging)
        try {
            val before = folder.list().associateWith { folder.read(it) }
            before.forEach { (path, bytes) -> local.write(path, bytes) }
            val summary = store.syncMailbox(staging.absolutePath)
            val after = local.list().toSet()
            for (path in after) {
                val bytes = local.read(path)
                if (!before[path].contentEqualsOrNull(bytes)) folder.write(path, bytes)
            }
            (before.keys - after).forEach(folder::delete)
            return summary
        } finally {
            staging.deleteRecursively()
        }
    }

    private fun ByteArray?.contentEqualsOrNull(other: ByteArray): Boolean =
        this != null && this.contentEquals(other)
}
