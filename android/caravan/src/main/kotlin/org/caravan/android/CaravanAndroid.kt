package org.caravan.android

import android.content.Context
import java.io.File
import kotlin.concurrent.thread

/**
 * Wires the Android pieces together: the store in app-private storage, the key vault
 * next to it wrapped by the Android Keystore, and the auto-lock. Everything lives under
 * `noBackupFilesDir`, so neither cloud backup nor device-to-device transfer copies it.
 * Android-only (compiled by Gradle, not by check-jvm.sh).
 */
object CaravanAndroid {
    /** The store session of this app: create once, in `Application.onCreate`. */
    fun session(context: Context): StoreSession {
        val base = context.noBackupFilesDir
        val vault = KeyVault(File(base, "vault"), AndroidKeystoreKey(context.applicationContext))
        return StoreSession(File(base, "store"), vault)
    }

    /** Locks [session] after [timeoutMs] in the background; call once from `Application.onCreate`. */
    fun installAutoLock(session: StoreSession, timeoutMs: Long = AutoLock.DEFAULT_TIMEOUT_MS, onLocked: () -> Unit) {
        // The store closes off the main thread (a running sync finishes first); the UI
        // shows the PIN screen at once.
        AppLifecycleLock(AutoLock(timeoutMs) { thread(name = "caravan-lock") { session.lock() }; onLocked() }).install()
    }

}
