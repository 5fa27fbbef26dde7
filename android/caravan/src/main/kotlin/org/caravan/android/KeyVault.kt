package org.caravan.android

import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.File
import java.security.GeneralSecurityException
import java.security.MessageDigest
import java.security.SecureRandom
import javax.crypto.AEADBadTagException
import javax.crypto.SecretKeyFactory
import javax.crypto.spec.PBEKeySpec
import javax.crypto.spec.SecretKeySpec

/** What entering a PIN led to. */
sealed class UnlockResult {
    /** The PIN was right: open the store with [storeKey], then wipe the array. */
    class Unlocked(val storeKey: ByteArray) : UnlockResult()

    /** The duress PIN was entered: run the panic wipe and show an empty, ordinary app. */
    object Duress : UnlockResult()

    /** Wrong PIN; [attemptsLeft] more tries before the vault wipes itself. */
    data class WrongPin(val attemptsLeft: Int) : UnlockResult()

    /** Too many wrong PINs: run the panic wipe. */
    object TooManyAttempts : UnlockResult()
}

/**
 * Keeps the store's 32-byte key on the phone, wrapped twice, and unlocks it with a PIN.
 *
 * - Inner layer: AES-256-GCM under a key derived from the PIN (PBKDF2-HMAC-SHA256), so
 *   the PIN is needed.
 * - Outer layer: the hardware [WrappingKey] (Android Keystore / iOS Keychain), so the
 *   file copied off the phone cannot be brute-forced elsewhere; the short PIN is only
 *   tried on this phone, and [maxAttempts] wrong PINs wipe the vault.
 *
 * A **duress PIN** (optional) is kept only as a salted PBKDF2 hash inside the outer
 * layer. Entering it returns [UnlockResult.Duress]; the app then runs [PanicWipe]. Both
 * derivations run for every PIN, so the duress check takes no visible extra time.
 *
 * This class has no `android.*` dependency; [dir] should be an app-private directory
 * excluded from backups (`Context.getNoBackupFilesDir()`).
 */
class KeyVault(
    private val dir: File,
    private val hardware: WrappingKey,
    private val iterations: Int = DEFAULT_ITERATIONS,
    private val maxAttempts: Int = DEFAULT_MAX_ATTEMPTS,
) {
    private val vaultFile = File(dir, "vault.bin")
    private val attemptsFile = File(dir, "attempts")
    private val random = SecureRandom()

    /** Whether a PIN has been set up (the app shows "choose a PIN" otherwise). */
    fun isSetUp(): Boolean = vaultFile.isFile && hardware.exists()

    /**
     * Stores [storeKey] under [pin], with an optional [duressPin], replacing any earlier
     * vault. The caller wipes [storeKey] afterwards.
     */
    fun setUp(pin: CharArray, duressPin: CharArray?, storeKey: ByteArray) {
        require(storeKey.size == 32) { "the store key has 32 bytes" }
        require(pin.size >= MIN_PIN) { "the PIN has at least $MIN_PIN digits" }
        if (duressPin != null) {
            require(duressPin.size >= MIN_PIN) { "the duress PIN has at least $MIN_PIN digits" }
            require(!duressPin.contentEquals(pin)) { "the duress PIN must differ from the PIN" }
        }
        dir.mkdirs()
        hardware.ensureCreated()
        val pinSalt = randomBytes(SALT)
        val pinKey = derive(pin, pinSalt, iterations)
        val sealed = AesGcm.seal(SecretKeySpec(pinKey, "AES"), storeKey, AAD)
        pinKey.fill(0)
        val duressSalt = randomBytes(SALT)
        // Without a duress PIN, a random verifier that no PIN can match keeps the format fixed.
        val duressHash = duressPin?.let { derive(it, duressSalt, iterations) } ?: randomBytes(32)
        val record = ByteArrayOutputStream().also { bytes ->
            DataOutputStream(bytes).use { out ->
                out.writeByte(VERSION)
                out.writeInt(iterations)
                out.write(pinSalt)
                out.write(duressSalt)
                out.write(duressHash)
                out.writeInt(sealed.size)
                out.write(sealed)
            }
        }.toByteArray()
        writeAtomically(vaultFile, hardware.wrap(record))
        record.fill(0)
        writeAttempts(0)
    }

    /** Tries [pin]; see [UnlockResult]. Slow on purpose (PBKDF2): call it off the UI thread. */
    fun unlock(pin: CharArray): UnlockResult {
        check(isSetUp()) { "no PIN has been set up" }
        val record = try {
            hardware.unwrap(vaultFile.readBytes())
        } catch (e: GeneralSecurityException) {
            // The hardware key no longer opens the vault (key invalidated, file damaged).
            throw VaultUnreadableException(e)
        }
        DataInputStream(record.inputStream()).use { input ->
            val version = input.readUnsignedByte()
            if (version != VERSION) throw VaultUnreadableException(null)
            val rounds = input.readInt()
            val pinSalt = ByteArray(SALT).also(input::readFully)
            val duressSalt = ByteArray(SALT).also(input::readFully)
            val duressHash = ByteArray(32).also(input::readFully)
            val sealed = ByteArray(input.readInt()).also(input::readFully)
            record.fill(0)

            val asDuress = derive(pin, duressSalt, rounds)
            val pinKey = derive(pin, pinSalt, rounds)
            if (MessageDigest.isEqual(asDuress, duressHash)) {
                pinKey.fill(0)
                return UnlockResult.Duress
            }
            return try {
                val storeKey = AesGcm.open(SecretKeySpec(pinKey, "AES"), sealed, AAD)
                writeAttempts(0)
                UnlockResult.Unlocked(storeKey)
            } catch (e: AEADBadTagException) {
                val failures = readAttempts() + 1
                writeAttempts(failures)
                if (failures >= maxAttempts) UnlockResult.TooManyAttempts
                else UnlockResult.WrongPin(maxAttempts - failures)
            } finally {
                pinKey.fill(0)
            }
        }
    }

    /** Deletes the hardware key and the vault files: the store key is gone for good. */
    fun destroy() {
        hardware.destroy()
        vaultFile.delete()
        attemptsFile.delete()
    }

    private fun randomBytes(n: Int) = ByteArray(n).also(random::nextBytes)

    private fun readAttempts(): Int =
        runCatching { attemptsFile.readText().trim().toInt() }.getOrDefault(0)

    private fun writeAttempts(n: Int) = writeAtomically(attemptsFile, n.toString().toByteArray())

    /** Thrown when the vault cannot be read at all; the store key is lost (reinstall). */
    class VaultUnreadableException(cause: Throwable?) :
        Exception("the key vault cannot be read on this device", cause)

    companion object {
        /** PBKDF2 rounds: about half a second on a low-end phone. */
        const val DEFAULT_ITERATIONS = 120_000

        /** Wrong PINs in a row before the vault reports [UnlockResult.TooManyAttempts]. */
        const val DEFAULT_MAX_ATTEMPTS = 10

        /** Shortest PIN accepted. */
        const val MIN_PIN = 4

        private const val VERSION = 1
        private const val SALT = 16
        private val AAD = "caravan key vault v1".toByteArray()

        private fun derive(pin: CharArray, salt: ByteArray, rounds: Int): ByteArray {
            val spec = PBEKeySpec(pin, salt, rounds, 256)
            try {
                return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).encoded
            } finally {
                spec.clearPassword()
            }
        }
    }
}

/** Writes [file] through a temporary file and a rename, so a crash leaves old or new. */
internal fun writeAtomically(file: File, bytes: ByteArray) {
    val tmp = File(file.parentFile, file.name + ".tmp")
    tmp.outputStream().use { out ->
        out.write(bytes)
        out.fd.sync()
    }
    if (!tmp.renameTo(file)) {
        file.delete()
        check(tmp.renameTo(file)) { "cannot replace ${file.name}" }
    }
}
