package org.caravan.android

import java.util.Locale
import org.caravan.core.ScalarField
import org.caravan.core.SetField
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
 * need no FFI call per label.
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
