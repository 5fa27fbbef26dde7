package org.caravan.android

import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * A key that never leaves secure hardware and wraps (encrypts) small secrets for the app.
 *
 * On Android this is [AndroidKeystoreKey] (an AES-256-GCM key in the Android Keystore,
 * StrongBox when the phone has one). The interface keeps everything that uses it
 * ([KeyVault], [StoreWiper]) free of `android.*` classes, so it compiles and runs on a
 * desktop JVM too.
 */
interface WrappingKey {
    /** Whether the hardware key exists (false before set-up and after a wipe). */
    fun exists(): Boolean

    /** Creates the hardware key if it does not exist yet. */
    fun ensureCreated()

    /** Encrypts [plaintext]; the result carries its own nonce. */
    fun wrap(plaintext: ByteArray): ByteArray

    /** Decrypts what [wrap] returned; throws [java.security.GeneralSecurityException] otherwise. */
    fun unwrap(wrapped: ByteArray): ByteArray

    /** Deletes the hardware key: everything it wrapped becomes unreadable for good. */
    fun destroy()
}

/**
 * A [WrappingKey] held in memory, for desktop tests only: it gives none of the
 * protection of a hardware keystore and must not be used on a phone.
 */
class SoftwareWrappingKey : WrappingKey {
    private var key: SecretKey? = null

    override fun exists(): Boolean = key != null

    override fun ensureCreated() {
        if (key == null) {
            key = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        }
    }

    override fun wrap(plaintext: ByteArray): ByteArray =
        AesGcm.seal(checkNotNull(key) { "no key" }, plaintext)

    override fun unwrap(wrapped: ByteArray): ByteArray =
        AesGcm.open(checkNotNull(key) { "no key" }, wrapped)

    override fun destroy() {
        key = null
    }
}

/** AES-GCM with a random 96-bit nonce prepended to the ciphertext. */
internal object AesGcm {
    private const val NONCE = 12
    private const val TAG_BITS = 128
    private val random = SecureRandom()

    fun seal(key: SecretKey, plaintext: ByteArray, aad: ByteArray? = null): ByteArray {
        val nonce = ByteArray(NONCE).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key, GCMParameterSpec(TAG_BITS, nonce))
        aad?.let(cipher::updateAAD)
        return nonce + cipher.doFinal(plaintext)
    }

    fun open(key: SecretKey, sealed: ByteArray, aad: ByteArray? = null): ByteArray {
        require(sealed.size > NONCE) { "sealed data too short" }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, sealed, 0, NONCE))
        aad?.let(cipher::updateAAD)
        return cipher.doFinal(sealed, NONCE, sealed.size - NONCE)
    }
}
