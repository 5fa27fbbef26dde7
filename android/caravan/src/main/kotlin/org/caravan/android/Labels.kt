package org.caravan.android

import java.util.Locale
import org.caravan.core.ScalarField
import org.caravan.core.SetField
import org.caravan.core.VocabularyCode
import org.caravan.core.VocabularyEntry
import org.caravan.core.VocabularyInfo
import org.caravan.core.scalarFieldVocabulary
import org.caravan.core.setFieldVocabulary
import org.caravan.core.vocabularies

/** One choice of a form: a vocabulary code and its label in the worker's language. */
data class Choice(val code: String, val label: String)

/**
 * Vocabulary labels in the phone's language: Russian on a phone set to Russian (also
 * Kazakh and Kyrgyz phones, where Russian is the common second language), English
 * otherwise. Codes from a newer app version have no label and are shown as the code.
 *
 * The vocabularies are read once from the core (`vocabularies()`), so forms and lists
 * need no FFI call per label. Case summaries carry their values as [VocabularyCode]s,
 * indices into these same tables: [code] and [label] resolve them by indexing.
 */
class Labels(val language: String) {
    private val tables: Map<String, VocabularyInfo> = vocabularies().associateBy { it.id }

    /** The choices of vocabulary [vocabularyId], in the core's display order. */
    fun choices(vocabularyId: String): List<Choice> =
        tables[vocabularyId]?.entries.orEmpty().map { Choice(it.code, labelOf(it)) }

    /** The choices of a single-valued field. */
    fun choices(field: ScalarField): List<Choice> = choices(scalarFieldVocabulary(field))

    /** The choices of a set-valued field. */
    fun choices(field: SetField): List<Choice> = choices(setFieldVocabulary(field))

    /** The label of [code] in vocabulary [vocabularyId], or the code itself if unknown. */
    fun label(vocabularyId: String, code: String): String =
        tables[vocabularyId]?.entries?.firstOrNull { it.code == code }?.let(::labelOf) ?: code

    /** Labels for several codes, joined for a list row. */
    fun labels(vocabularyId: String, codes: List<String>): String =
        codes.joinToString(", ") { label(vocabularyId, it) }

    /** The code of a summary [value] of vocabulary [vocabularyId]. */
    fun code(vocabularyId: String, value: VocabularyCode): String = when (value) {
        is VocabularyCode.Known -> entry(vocabularyId, value).code
        is VocabularyCode.Unknown -> value.code
    }

    /** The label of a summary [value] of vocabulary [vocabularyId], or its code if unknown. */
    fun label(vocabularyId: String, value: VocabularyCode): String = when (value) {
        is VocabularyCode.Known -> labelOf(entry(vocabularyId, value))
        is VocabularyCode.Unknown -> value.code
    }

    /** Labels for several summary values, joined for a list row. */
    @JvmName("labelsOfValues")
    fun labels(vocabularyId: String, values: List<VocabularyCode>): String =
        values.joinToString(", ") { label(vocabularyId, it) }

    /**
     * The entry a known value points at. The tables come from the same library as the
     * summaries, so a missing entry is a programming error (a wrong vocabulary id).
     */
    private fun entry(vocabularyId: String, value: VocabularyCode.Known): VocabularyEntry =
        tables[vocabularyId]?.entries?.getOrNull(value.index.toInt())
            ?: error("no entry ${value.index} in vocabulary $vocabularyId")

    private fun labelOf(entry: VocabularyEntry): String =
        if (language == "ru") entry.labelRu else entry.labelEn

    companion object {
        /** Languages whose speakers get Russian labels (until their own labels are complete). */
        private val RUSSIAN = setOf("ru", "kk", "ky", "tg", "uz", "tk", "be")

        /** The label language for [locale]: `ru` or `en`. */
        fun languageFor(locale: Locale = Locale.getDefault()): String =
            if (locale.language in RUSSIAN) "ru" else "en"
    }
}
