package org.caravan.android

import android.content.Context
import android.net.Uri
import android.provider.DocumentsContract
import androidx.documentfile.provider.DocumentFile
import org.caravan.core.Mailbox
import org.caravan.core.MailboxException

/**
 * The core's `Mailbox` over a folder the worker picked with the system file picker
 * (`ACTION_OPEN_DOCUMENT_TREE`): a USB stick (USB OTG), an SD card, or a folder of a
 * cloud or file-sharing app. The core syncs through it directly (no staging copy).
 * Android-only (compiled by Gradle, not by check-jvm.sh; [FileMailbox] is its JVM twin).
 *
 * Reads check the document's size before opening it; writes go to a temporary document
 * that is then renamed (Storage Access Framework rename), so a reader never sees half a
 * bundle. Failures of the provider become [MailboxException.Unavailable].
 */
class DocumentTreeMailbox(private val context: Context, private val treeUri: Uri) : Mailbox {
    private val root: DocumentFile =
        checkNotNull(DocumentFile.fromTreeUri(context, treeUri)) { "not a folder" }

    override fun list(): List<String> = guarded {
        root.listFiles().filter { it.isDirectory }.flatMap { dir ->
            val outbox = dir.name ?: return@flatMap emptyList()
            dir.listFiles().mapNotNull { f -> f.name?.let { "$outbox/$it" } }
        }
    }

    override fun read(path: String, limit: ULong): ByteArray = guarded {
        val file = find(path) ?: throw MailboxException.Unavailable("$path is gone")
        if (!file.isFile) throw MailboxException.Refused("$path is not a plain file")
        if (file.length().toULong() > limit) throw MailboxException.Refused("$path is ${file.length()} bytes")
        val input = context.contentResolver.openInputStream(file.uri)
            ?: throw MailboxException.Unavailable("cannot open $path")
        input.use { readAtMost(it, limit) }
    }

    override fun write(path: String, bytes: ByteArray) = guarded {
        val (outbox, name) = split(path)
        val dir = root.findFile(outbox)
            ?: root.createDirectory(outbox)
            ?: throw MailboxException.Unavailable("cannot create $outbox")
        val tmpName = ".$name.tmp"
        dir.findFile(tmpName)?.delete()
        val tmp = dir.createFile("application/octet-stream", tmpName)
            ?: throw MailboxException.Unavailable("cannot create $tmpName")
        val out = context.contentResolver.openOutputStream(tmp.uri, "wt")
            ?: throw MailboxException.Unavailable("cannot write $tmpName")
        out.use { it.write(bytes) }
        dir.findFile(name)?.delete()
        // renameDocument may answer a new URI; the name is what readers look up.
        DocumentsContract.renameDocument(context.contentResolver, tmp.uri, name)
            ?: throw MailboxException.Unavailable("cannot rename $tmpName")
        Unit
    }

    override fun remove(path: String) = guarded {
        find(path)?.delete()
        Unit
    }

    /** The picked tree's URI: the device keeps its position per place (never shown). */
    override fun place(): String = "tree $treeUri"

    private fun split(path: String): Pair<String, String> {
        val parts = path.split('/')
        if (parts.size != 2 || parts.any { it.isEmpty() || it == "." || it == ".." }) {
            throw MailboxException.Refused("$path is not <outbox>/<file>")
        }
        return parts[0] to parts[1]
    }

    private fun find(path: String): DocumentFile? {
        val (outbox, name) = split(path)
        return root.findFile(outbox)?.findFile(name)
    }

    /** Provider failures (security, I/O, a removed stick) become Unavailable. */
    private inline fun <T> guarded(block: () -> T): T = try {
        block()
    } catch (e: MailboxException) {
        throw e
    } catch (e: Exception) {
        throw MailboxException.Unavailable(e.javaClass.simpleName)
    }
}
