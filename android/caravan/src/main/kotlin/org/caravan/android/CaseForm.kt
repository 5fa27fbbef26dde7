package org.caravan.android

import org.caravan.core.CaseDetails
import org.caravan.core.CaseEdit
import org.caravan.core.ScalarField
import org.caravan.core.SetField

/** The fields of the short case form, in the order a worker fills them in. */
object FormFields {
    /** Single-valued fields shown as drop-downs. */
    val scalars: List<ScalarField> = listOf(
        ScalarField.GENDER,
        ScalarField.AGE_BAND,
        ScalarField.CASE_STATUS,
        ScalarField.TRAFFICKING_STATUS,
        ScalarField.RELATIONSHIP_TO_TRAFFICKER,
    )

    /** Set-valued fields shown as chips (screening vulnerabilities live on their own screen). */
    val sets: List<SetField> = listOf(
        SetField.CITIZENSHIP,
        SetField.EXPLOITATION,
        SetField.LABOUR_INDUSTRY,
        SetField.SEXUAL_EXPLOITATION,
        SetField.MEANS_OF_CONTROL,
        SetField.RECRUITMENT_METHOD,
        SetField.RECRUITMENT_APP,
        SetField.RECRUITER_RELATION,
    )
}

/**
 * What the case form holds: codes only, never labels. [edits] turns the difference
 * from the stored case into the batch of [CaseEdit]s the core applies all or nothing.
 */
data class CaseForm(
    val scalars: Map<ScalarField, String?> = emptyMap(),
    val sets: Map<SetField, Set<String>> = emptyMap(),
    val shareWithPartners: Boolean? = null,
    val includeInStatistics: Boolean? = null,
    /** A new note to append (notes are append-only); blank for none. */
    val newNote: String = "",
) {
    /** The form with [field] set to [code] (or cleared). */
    fun with(field: ScalarField, code: String?): CaseForm = copy(scalars = scalars + (field to code))

    /** The form with [code] added to or removed from [field]. */
    fun toggle(field: SetField, code: String): CaseForm {
        val now = sets[field].orEmpty()
        return copy(sets = sets + (field to if (code in now) now - code else now + code))
    }

    /** The edits that turn [stored] (or an empty case) into this form. */
    fun edits(stored: CaseForm = CaseForm()): List<CaseEdit> {
        val edits = mutableListOf<CaseEdit>()
        for ((field, code) in scalars) {
            if (code != stored.scalars[field]) edits += CaseEdit.Set(field, code)
        }
        for (field in sets.keys + stored.sets.keys) {
            val now = sets[field].orEmpty()
            val before = stored.sets[field].orEmpty()
            (now - before).sorted().forEach { edits += CaseEdit.Add(field, it) }
            (before - now).sorted().forEach { edits += CaseEdit.Remove(field, it) }
        }
        val share = shareWithPartners.takeIf { it != stored.shareWithPartners }
        val stats = includeInStatistics.takeIf { it != stored.includeInStatistics }
        if (share != null || stats != null) edits += CaseEdit.Consent(share, stats)
        if (newNote.isNotBlank()) edits += CaseEdit.AddNote(newNote.trim())
        return edits
    }

    companion object {
        /** The form showing a stored case. */
        fun of(case: CaseDetails): CaseForm = CaseForm(
            scalars = mapOf(
                ScalarField.GENDER to case.gender,
                ScalarField.AGE_BAND to case.ageBand,
                ScalarField.CASE_STATUS to case.caseStatus,
                ScalarField.TRAFFICKING_STATUS to case.traffickingStatus,
                ScalarField.RELATIONSHIP_TO_TRAFFICKER to case.relationshipToTrafficker,
            ),
            sets = mapOf(
                SetField.CITIZENSHIP to case.citizenship.toSet(),
                SetField.EXPLOITATION to case.exploitation.toSet(),
                SetField.LABOUR_INDUSTRY to case.labourIndustry.toSet(),
                SetField.SEXUAL_EXPLOITATION to case.sexualExploitation.toSet(),
                SetField.MEANS_OF_CONTROL to case.meansOfControl.toSet(),
                SetField.RECRUITMENT_METHOD to case.recruitmentMethod.toSet(),
                SetField.RECRUITMENT_APP to case.recruitmentApp.toSet(),
                SetField.RECRUITER_RELATION to case.recruiterRelation.toSet(),
            ),
            shareWithPartners = case.consentShareWithPartners,
            includeInStatistics = case.consentIncludeInStatistics,
        )
    }
}

/**
 * The screening questionnaire: one answer per indicator (`Yes`, `No`, `DontKnow`,
 * `Declined`) and the vulnerability factors. The core assesses the stored answers
 * (`CaravanStore.assessCase`); this class only collects them.
 */
data class ScreeningForm(
    val answers: Map<String, String> = emptyMap(),
    val vulnerabilities: Set<String> = emptySet(),
) {
    /** The form with [indicator] answered [answer]. */
    fun answer(indicator: String, answer: String): ScreeningForm =
        copy(answers = answers + (indicator to answer))

    /** The form with vulnerability [code] toggled. */
    fun toggleVulnerability(code: String): ScreeningForm =
        copy(vulnerabilities = if (code in vulnerabilities) vulnerabilities - code else vulnerabilities + code)

    /** The edits that record this form over [stored]. */
    fun edits(stored: ScreeningForm): List<CaseEdit> {
        val edits = mutableListOf<CaseEdit>()
        for ((indicator, answer) in answers.toSortedMap()) {
            if (stored.answers[indicator] != answer) edits += CaseEdit.Answer(indicator, answer)
        }
        (vulnerabilities - stored.vulnerabilities).sorted()
            .forEach { edits += CaseEdit.Add(SetField.VULNERABILITY, it) }
        (stored.vulnerabilities - vulnerabilities).sorted()
            .forEach { edits += CaseEdit.Remove(SetField.VULNERABILITY, it) }
        return edits
    }

    companion object {
        /** The questionnaire as stored on [case]. */
        fun of(case: CaseDetails): ScreeningForm = ScreeningForm(
            answers = case.screeningAnswers.associate { it.indicator to it.answer },
            vulnerabilities = case.vulnerabilities.toSet(),
        )
    }
}
