package org.caravan.android

import org.caravan.core.CaseTable
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Reads a [CaseTable] (`CaravanStore.listCaseTable`): a whole case list in two byte
 * buffers, one fixed-size record per row (layout in `bindings/src/table.rs`). Reading a
 * row allocates nothing but what the caller asks for, so a list screen decodes only
 * the rows it shows. Vocabulary values are indices into `vocabularyLabels(language)`'s
 * lists; [NONE] is no value, [NEWER] a code from a newer version (read that case's
 * `caseSummary` to get it).
 */
class CaseTableReader(table: CaseTable) {
    private val rows: ByteBuffer = ByteBuffer.wrap(table.rows).order(ByteOrder.LITTLE_ENDIAN)
    private val lists: ByteBuffer = ByteBuffer.wrap(table.lists).order(ByteOrder.LITTLE_ENDIAN)

    /** How many rows. */
    val size: Int = table.count.toInt()

    init {
        require(table.rows.size == size * ROW_BYTES) { "not a case table" }
    }

    private fun at(row: Int, offset: Int): Int {
        if (row !in 0 until size) throw IndexOutOfBoundsException("row $row of $size")
        return row * ROW_BYTES + offset
    }

    /** The case id of [row] (32 hex digits, as `listCaseIds` gives it). */
    fun id(row: Int): String {
        val base = at(row, 0)
        val out = CharArray(32)
        for (i in 0 until 16) {
            val b = rows.get(base + i).toInt() and 0xFF
            out[2 * i] = HEX[b ushr 4]
            out[2 * i + 1] = HEX[b and 0xF]
        }
        return String(out)
    }

    /** When the case was registered (ms since the epoch). */
    fun createdAtMs(row: Int): Long = rows.getLong(at(row, 16))

    /** When the case was last changed (ms since the epoch). */
    fun updatedAtMs(row: Int): Long = rows.getLong(at(row, 24))

    /** `case_status` index, or [NONE] / [NEWER]. */
    fun caseStatus(row: Int): Int = code(row, 32)

    /** `trafficking_status` index, or [NONE] / [NEWER]. */
    fun traffickingStatus(row: Int): Int = code(row, 34)

    /** `gender` index, or [NONE] / [NEWER]. */
    fun gender(row: Int): Int = code(row, 36)

    /** `age_band` index, or [NONE] / [NEWER]. */
    fun ageBand(row: Int): Int = code(row, 38)

    /** Number of referrals. */
    fun referrals(row: Int): Int = rows.getInt(at(row, 40))

    /** Number of notes. */
    fun notes(row: Int): Int = rows.getInt(at(row, 44))

    /** Number of unresolved conflicts. */
    fun conflicts(row: Int): Int = rows.getInt(at(row, 48))

    /** `country` indices of the citizenship. */
    fun citizenship(row: Int): IntArray = list(row, 0)

    /** `country` indices of the route. */
    fun routeCountries(row: Int): IntArray = list(row, 1)

    /** `exploitation_type` indices. */
    fun exploitation(row: Int): IntArray = list(row, 2)

    private fun code(row: Int, offset: Int): Int = rows.getShort(at(row, offset)).toInt() and 0xFFFF

    private fun list(row: Int, which: Int): IntArray {
        var p = rows.getInt(at(row, 52))
        repeat(which) { p += 2 + 2 * (lists.getShort(p).toInt() and 0xFFFF) }
        val n = lists.getShort(p).toInt() and 0xFFFF
        return IntArray(n) { lists.getShort(p + 2 + 2 * it).toInt() and 0xFFFF }
    }

    companion object {
        /** Bytes per row. */
        const val ROW_BYTES = 56

        /** A vocabulary field with no value. */
        const val NONE = 0xFFFF

        /** A code from a newer version: read the case's summary for it. */
        const val NEWER = 0xFFFE

        private val HEX = "0123456789abcdef".toCharArray()
    }
}
