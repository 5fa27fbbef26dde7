package org.fieldnotes.app

import android.app.Application
import org.caravan.android.CaravanAndroid
import org.caravan.android.StoreSession

/** Holds the one store session of the app and locks it after a minute in the background. */
class FieldNotesApp : Application() {
    /** The store session: set-up, unlock, lock, panic wipe. */
    lateinit var session: StoreSession
        private set

    /** Called when the auto-lock closed the store; the UI goes back to the PIN screen. */
    var onLocked: () -> Unit = {}

    override fun onCreate() {
        super.onCreate()
        session = CaravanAndroid.session(this)
        CaravanAndroid.installAutoLock(session) { onLocked() }
    }
}
