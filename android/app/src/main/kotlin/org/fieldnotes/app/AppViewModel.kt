package org.fieldnotes.app

import android.app.Application
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.caravan.android.CaseRepository
import org.caravan.android.Labels
import org.caravan.android.UnlockOutcome
import org.caravan.core.CaravanException

/** Where the app is. */
sealed interface Screen {
    data object Unlock : Screen
    data object Cases : Screen
    data class Form(val caseId: String?) : Screen
    data class Screening(val caseId: String) : Screen
    data class Referral(val caseId: String) : Screen
    data object Sync : Screen
}

/**
 * The app's state: the screen, the open repository, the labels in the phone's language,
 * and a counter that bumps when sync changed cases (screens reload on it).
 */
class AppViewModel(app: Application) : AndroidViewModel(app) {
    private val fieldNotes = app as FieldNotesApp
    private val session = fieldNotes.session
    private var changesJob: Job? = null

    /** Labels in the language Android chose for the app's strings (Russian or English). */
    val labels: Labels = Labels(app.getString(R.string.labels_language))

    var screen: Screen by mutableStateOf(Screen.Unlock)
        private set

    /** Bumped whenever sync changed cases, so lists reload. */
    var revision: Int by mutableStateOf(0)
        private set

    /** Whether a PIN exists (set-up screen otherwise). */
    val isSetUp: Boolean get() = session.isSetUp()

    /** The open store; only valid after unlocking. */
    val repository: CaseRepository get() = checkNotNull(session.repository) { "locked" }

    init {
        fieldNotes.onLocked = { viewModelScope.launch { showLocked() } }
    }

    /** Opens [to]. */
    fun go(to: Screen) {
        screen = to
    }

    /** Back from a sub-screen to the case list. */
    fun back() {
        screen = Screen.Cases
    }

    /** First launch: creates the store under [pin] (and the optional [duressPin]). */
    suspend fun setUp(pin: String, duressPin: String?) {
        withContext(Dispatchers.Default) { session.setUp(pin.toCharArray(), duressPin?.toCharArray()) }
        opened()
    }

    /** Tries [pin]; returns an error message, or null when the store opened. */
    suspend fun unlock(pin: String): UnlockOutcome {
        val outcome = withContext(Dispatchers.Default) { session.unlock(pin.toCharArray()) }
        if (outcome is UnlockOutcome.Opened) opened()
        return outcome
    }

    private fun opened() {
        changesJob?.cancel()
        // Collecting never touches the store (CaseRepository.changes), so cancelling it
        // after a lock or a wipe is harmless.
        changesJob = viewModelScope.launch { repository.changes().collect { revision++ } }
        screen = Screen.Cases
    }

    /**
     * Locks now (the menu's "Lock"). The store is closed off the main thread (a running
     * sync finishes first); the PIN screen shows at once.
     */
    fun lock() {
        showLocked()
        viewModelScope.launch(Dispatchers.IO) { session.lock() }
    }

    /** Wipes everything now (the menu's hidden "Wipe"). */
    fun panic() {
        changesJob?.cancel()
        session.panic()
        screen = Screen.Unlock
    }

    private fun showLocked() {
        changesJob?.cancel()
        screen = Screen.Unlock
    }

    /** Marks the case list stale (after a local save). */
    fun changed() {
        revision++
    }

    override fun onCleared() {
        fieldNotes.onLocked = {}
    }

    companion object {
        /**
         * A short message for the user, in the app's language, for an error from the
         * core: the core's own `userMessage` (English or Russian), never the generated
         * `message` (field dump, empty for some errors). The developer's detail
         * (`e.detail()`) is for logs only.
         */
        fun message(app: Application, e: Throwable): String = when (e) {
            is CaravanException -> e.userMessage(app.getString(R.string.labels_language))
            else -> app.getString(R.string.error_other, e.javaClass.simpleName)
        }
    }
}
