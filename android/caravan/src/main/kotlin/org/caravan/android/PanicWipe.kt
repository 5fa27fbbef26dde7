package org.caravan.android

import java.io.File
import org.caravan.core.panicWipeDir

/**
 * Destroys everything Caravan keeps on this phone, at once and without asking: run on
 * the duress PIN, after too many wrong PINs, or from a hidden menu item.
 *
 * It must never throw half-way: each step is attempted even if an earlier one failed.
 */
fun interface PanicWipe {
    /** Wipes; returns only when the key and the store are gone. */
    fun wipe()
}

/**
 * The panic wipe of the app, in this order:
 *
 * 1. [wipeStore]: the core's panic wipe. It closes the open handle
 *    (`CaravanStore.panicWipe()`), or takes the directory when no store is open
 *    (`panicWipeDir`, the default here), overwrites the store header so that no key
 *    opens the store any more, and deletes the store's files;
 * 2. the [vault] deletes the hardware key and the wrapped key file (crypto-shredding:
 *    whatever flash blocks keep of the deleted files is ciphertext under a key that no
 *    longer exists);
 * 3. [storeDir] is deleted recursively, in case anything is left.
 */
class StoreWiper(
    private val vault: KeyVault,
    private val storeDir: File,
    private val wipeStore: () -> Unit = { panicWipeDir(storeDir.absolutePath) },
) : PanicWipe {
    override fun wipe() {
        runCatching(wipeStore)
        runCatching(vault::destroy)
        runCatching { storeDir.deleteRecursively() }
    }
}
