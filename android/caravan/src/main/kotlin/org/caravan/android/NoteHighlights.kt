package org.caravan.android

import org.caravan.core.CaravanException
import org.caravan.core.NoteFinding
import org.caravan.core.screenNote

/**
 * Where to highlight likely personal identifiers in a note: the UTF-16 spans
 * (`startUtf16`/`endUtf16`, what Kotlin `substring` and Android spans take) of the
 * findings of `screenNote` as the worker types, or of a `NoteRejected` error.
 */
object NoteHighlights {
    /** The spans of [findings] in [text]: sorted, overlapping ones merged, clamped to the text. */
    fun ranges(text: String, findings: List<NoteFinding>): List<IntRange> {
        val spans = findings
            .map { it.startUtf16.toInt().coerceIn(0, text.length) to it.endUtf16.toInt().coerceIn(0, text.length) }
            .filter { (start, end) -> start < end }
            .sortedBy { it.first }
        val merged = mutableListOf<IntRange>()
        for ((start, end) in spans) {
            val last = merged.lastOrNull()
            if (last != null && start <= last.last + 1) {
                merged[merged.size - 1] = last.first..maxOf(last.last, end - 1)
            } else {
                merged += start until end
            }
        }
        return merged
    }

    /** The findings of a failed save: those of a `NoteRejected`, none for another error. */
    fun findingsOf(error: Throwable): List<NoteFinding> =
        (error as? CaravanException.NoteRejected)?.findings.orEmpty()

    /** Screens [text] as the worker types (no store needed); no findings if it cannot. */
    fun screen(text: String): List<NoteFinding> =
        if (text.isBlank()) emptyList() else runCatching { screenNote(text) }.getOrDefault(emptyList())
}
