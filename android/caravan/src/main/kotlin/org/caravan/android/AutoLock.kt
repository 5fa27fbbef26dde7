package org.caravan.android

/**
 * Decides when the app locks itself: when it has been in the background longer than
 * [timeoutMs], or at once for a zero timeout. The platform part only reports
 * foreground/background ([AppLifecycleLock] on Android); locking means closing the
 * store and forgetting the key, so the PIN is asked again.
 */
class AutoLock(
    private val timeoutMs: Long = DEFAULT_TIMEOUT_MS,
    private val clock: () -> Long = System::currentTimeMillis,
    private val lock: () -> Unit,
) {
    private var backgroundSince: Long? = null

    /** The app went to the background (home button, another app, screen off). */
    @Synchronized
    fun onBackground() {
        backgroundSince = clock()
        if (timeoutMs == 0L) lock()
    }

    /** The app came back; locks if it was away too long. */
    @Synchronized
    fun onForeground() {
        val since = backgroundSince ?: return
        backgroundSince = null
        if (clock() - since >= timeoutMs) lock()
    }

    companion object {
        /** One minute: long enough to glance at a map, short enough for a seized phone. */
        const val DEFAULT_TIMEOUT_MS = 60_000L
    }
}
