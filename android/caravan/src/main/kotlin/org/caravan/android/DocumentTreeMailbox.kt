package org.caravan.android

import android.content.Context
import android.net.Uri
import androidx.documentfile.provider.DocumentFile

/**
 * A [MailboxFolder] over a folder the worker picked with the system file picker
 * (`ACTION_OPEN_DOCUMENT_TREE`): a USB stick (USB OTG), an SD card, or a folder of a
 * cloud or file-sharing app. Android-only (compiled by Gradle, not by check-jvm.sh).
 */
class DocumentTreeFolder(private val context: Context, treeUri: Uri) : MailboxFolder {
    private val root: DocumentFile =
        checkNotNull(DocumentFile.fromTreeUri(context, treeUri)) { "not a folder" }

    override fun list(): List<String> {
        val out = mutableListOf<String>()
        fun walk(dir: DocumentFile, prefix: String) {
            for (f in dir.listFiles()) {
                val name = f.name ?: continue
                if (f.isDirectory) walk(f, "$prefix$name/") else out += "$prefix$name"
            }
        }
        walk(root, "")
        return out
    }

    override fun read(path: String): ByteArray {
        val file = checkNotNull(find(path)) { "no file $path" }
        return checkNotNull(context.contentResolver.openInputStream(file.uri)).use { it.readBytes() }
    }

    override fun write(path: String, bytes: ByteArray) {
        val parts = path.split('/')
        var dir = root
        for (name in parts.dropLast(1)) {
            dir = dir.findFile(name) ?: checkNotNull(dir.createDirectory(name)) { "cannot create $name" }
        }
        val name = parts.last()
        val file = dir.findFile(name)
            ?: checkNotNull(dir.createFile("application/octet-stream", name)) { "cannot create $name" }
        // "wt": truncate, so a shorter bundle leaves no tail of the old one.
        checkNotNull(context.contentResolver.openOutputStream(file.uri, "wt")).use { it.write(bytes) }
    }

    override fun delete(path: String) {
        find(path)?.delete()
    }

    private fun find(path: String): DocumentFile? =
        path.split('/').fold(root as DocumentFile?) { dir, name -> dir?.findFile(name) }
}
