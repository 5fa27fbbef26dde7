package org.caravan.android

import java.io.File
import org.caravan.core.CaravanStore
import org.caravan.core.generateStoreKey
import org.caravan.core.panicWipeDir

/** What the unlock screen does next. */
sealed class UnlockOutcome {
    /** The store is open. After the duress PIN it is a fresh, empty store (see [StoreSession.unlock]). */
    class Opened(val repository: CaseRepository) : UnlockOutcome()

    /** Wrong PIN; say so and show [attemptsLeft] when it gets low. */
    data class WrongPin(val attemptsLeft: Int) : UnlockOutcome()

    /** Too many wrong PINs: everything was wiped; the app starts from set-up. */
    object Wiped : UnlockOutcome()
}

/**
 * Set-up, unlock, lock and panic wipe of the one store on the phone: the logic behind
 * the unlock screen, with no `android.*` dependency (the Android app passes an
 * [AndroidKeystoreKey] and app-private directories).
 *
 * - [setUp] makes a random 32-byte store key in the core, creates the store with it and
 *   puts it in the [KeyVault] under the PIN (and the duress PIN).
 * - [unlock] opens the store with the right PIN. With the **duress PIN** it wipes
 *   everything and then sets up a new, empty store under that same PIN, so the person
 *   watching sees an ordinary, empty notebook that keeps working.
 * - [panic] wipes at once (the hidden "wipe" action).
 */
class StoreSession(
    private val storeDir: File,
    private val vault: KeyVault,
    private val newStoreKey: () -> ByteArray = { generateStoreKey() },
) {
    @Volatile
    private var open: CaseRepository? = null

    /** The wipe run by the duress PIN, too many wrong PINs and [panic]. */
    val panicWipe: PanicWipe = StoreWiper(vault, storeDir, wipeStore = ::wipeStore)

    /** Whether a PIN and a store exist. */
    fun isSetUp(): Boolean = vault.isSetUp() && storeDir.isDirectory

    /** The open store, if unlocked. */
    val repository: CaseRepository? get() = open

    /** Creates the store and the vault. Slow (key derivation): call it off the UI thread. */
    fun setUp(pin: CharArray, duressPin: CharArray?): CaseRepository {
        panicWipe.wipe() // a half-finished earlier set-up leaves nothing behind
        val key = newStoreKey()
        try {
            vault.setUp(pin, duressPin, key)
            // The core wipes its copy of the key; this array is wiped below.
            val store = CaravanStore.create(storeDir.absolutePath, key)
            return CaseRepository(store).also { open = it }
        } catch (e: Exception) {
            panicWipe.wipe()
            throw e
        } finally {
            key.fill(0)
        }
    }

    /** Tries [pin]. Slow (key derivation): call it off the UI thread. */
    fun unlock(pin: CharArray): UnlockOutcome =
        when (val result = vault.unlock(pin)) {
            is UnlockResult.Unlocked -> try {
                UnlockOutcome.Opened(CaseRepository(CaravanStore.open(storeDir.absolutePath, result.storeKey)).also { open = it })
            } finally {
                result.storeKey.fill(0)
            }
            is UnlockResult.WrongPin -> UnlockOutcome.WrongPin(result.attemptsLeft)
            UnlockResult.Duress -> UnlockOutcome.Opened(setUp(pin, duressPin = null))
            UnlockResult.TooManyAttempts -> {
                panicWipe.wipe()
                UnlockOutcome.Wiped
            }
        }

    /**
     * Closes the store; the PIN is needed again. The repository's handle stays valid
     * and answers `CaravanException.ReopenStore` (screens still holding it get a typed
     * error, not a crash); collectors of its changes are unaffected. Waits for a call
     * running on another thread (a sync) to finish: call it off the main thread.
     */
    fun lock() {
        val repository = open
        open = null
        repository?.close()
    }

    /** Wipes everything now. */
    fun panic() = panicWipe.wipe()

    /**
     * The core's panic wipe: through the open handle (it closes the handle first), or on
     * the directory when the store is locked.
     */
    private fun wipeStore() {
        val repository = open
        open = null
        if (repository == null) {
            panicWipeDir(storeDir.absolutePath)
            return
        }
        // Does not wait for a running sync: the core destroys the store at once.
        try {
            repository.store.panicWipe()
        } finally {
            repository.store.setChangeListener(null)
        }
    }
}
