package org.caravan.android

import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner

/**
 * Feeds the whole app's foreground/background transitions into [AutoLock], so that the
 * store is closed and the PIN asked again after the app has been away too long.
 * Android-only (compiled by Gradle, not by check-jvm.sh).
 */
class AppLifecycleLock(private val autoLock: AutoLock) : DefaultLifecycleObserver {
    /** Starts observing the process lifecycle; call once from `Application.onCreate`. */
    fun install() = ProcessLifecycleOwner.get().lifecycle.addObserver(this)

    override fun onStop(owner: LifecycleOwner) = autoLock.onBackground()

    override fun onStart(owner: LifecycleOwner) = autoLock.onForeground()
}
