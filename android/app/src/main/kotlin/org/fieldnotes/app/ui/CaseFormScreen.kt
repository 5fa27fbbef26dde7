@file:OptIn(ExperimentalMaterial3Api::class)

package org.fieldnotes.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Checkbox
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.AnnotatedString
import androidx.compose.ui.text.SpanStyle
import androidx.compose.ui.text.buildAnnotatedString
import androidx.compose.ui.text.input.OffsetMapping
import androidx.compose.ui.text.input.TransformedText
import androidx.compose.ui.text.input.VisualTransformation
import androidx.compose.ui.unit.dp
import java.text.DateFormat
import java.util.Date
import kotlinx.coroutines.launch
import org.caravan.android.CaseForm
import org.caravan.android.FormFields
import org.caravan.android.NoteHighlights
import org.caravan.core.CaseDetails
import org.caravan.core.SetField
import org.caravan.core.scalarFieldVocabulary
import org.caravan.core.setFieldVocabulary
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R
import org.fieldnotes.app.Screen

/**
 * The case form, driven by the vocabularies: drop-downs for single-valued fields, chips
 * for sets, consent, a new note. Shows notes and unresolved conflicts of a stored case.
 */
@Composable
fun CaseFormScreen(model: AppViewModel, caseId: String?) {
    val labels = model.labels
    val scope = rememberCoroutineScope()
    var details by remember { mutableStateOf<CaseDetails?>(null) }
    var stored by remember { mutableStateOf(CaseForm()) }
    var form by remember { mutableStateOf(CaseForm()) }
    var error by remember { mutableStateOf<String?>(null) }
    var confirmErase by remember { mutableStateOf(false) }

    LaunchedEffect(caseId, model.revision) {
        if (caseId != null) {
            try {
                val case = model.repository.get(caseId)
                details = case
                stored = CaseForm.of(case)
                form = stored
            } catch (e: Exception) {
                error = AppViewModel.message(model.getApplication(), e)
            }
        }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(if (caseId == null) R.string.form_new else R.string.form_edit)) },
                navigationIcon = { TextButton(onClick = model::back) { Text("←") } },
            )
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp)) {
            for (field in FormFields.scalars) {
                val vocabulary = scalarFieldVocabulary(field)
                ChoiceDropdown(fieldLabel(vocabulary), labels.choices(vocabulary), form.scalars[field]) {
                    form = form.with(field, it)
                }
            }
            // Countries: a drop-down to add, chips to remove (250 chips would be unusable).
            val citizenship = form.sets[SetField.CITIZENSHIP].orEmpty()
            ChoiceDropdown(stringResource(R.string.form_citizenship_add), labels.choices("country"), null) { code ->
                if (code != null && code !in citizenship) form = form.toggle(SetField.CITIZENSHIP, code)
            }
            ChoiceChips(
                stringResource(R.string.form_citizenship),
                citizenship.map { org.caravan.android.Choice(it, labels.label("country", it)) },
                citizenship,
            ) { form = form.toggle(SetField.CITIZENSHIP, it) }
            for (field in FormFields.sets.filter { it != SetField.CITIZENSHIP }) {
                val vocabulary = setFieldVocabulary(field)
                ChoiceChips(fieldLabel(vocabulary), labels.choices(vocabulary), form.sets[field].orEmpty()) {
                    form = form.toggle(field, it)
                }
            }
            ConsentRow(stringResource(R.string.form_consent_share), form.shareWithPartners) {
                form = form.copy(shareWithPartners = it)
            }
            ConsentRow(stringResource(R.string.form_consent_stats), form.includeInStatistics) {
                form = form.copy(includeInStatistics = it)
            }
            // Likely identifiers are highlighted as the worker types (UTF-16 spans of
            // screenNote's findings, the same the core refuses the note for).
            val noteSpans = remember(form.newNote) {
                NoteHighlights.ranges(form.newNote, NoteHighlights.screen(form.newNote))
            }
            val highlight = MaterialTheme.colorScheme.errorContainer
            OutlinedTextField(
                value = form.newNote,
                onValueChange = { form = form.copy(newNote = it) },
                label = { Text(stringResource(R.string.form_note)) },
                supportingText = { Text(stringResource(R.string.form_note_help)) },
                isError = noteSpans.isNotEmpty(),
                visualTransformation = remember(noteSpans, highlight) { HighlightSpans(noteSpans, highlight) },
                modifier = Modifier.fillMaxWidth(),
                minLines = 2,
            )
            ErrorText(error)
            Button(
                modifier = Modifier.fillMaxWidth().padding(vertical = 8.dp),
                onClick = {
                    scope.launch {
                        try {
                            model.repository.save(caseId, form, stored)
                            model.changed()
                            model.back()
                        } catch (e: Exception) {
                            error = AppViewModel.message(model.getApplication(), e)
                        }
                    }
                },
            ) { Text(stringResource(R.string.save)) }

            val case = details
            if (case != null && caseId != null) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    OutlinedButton(onClick = { model.go(Screen.Screening(caseId)) }) { Text(stringResource(R.string.screening_title)) }
                    OutlinedButton(onClick = { model.go(Screen.Referral(caseId)) }) { Text(stringResource(R.string.referral_title)) }
                }
                if (case.conflicts.isNotEmpty()) {
                    Text(stringResource(R.string.form_conflicts), style = MaterialTheme.typography.titleSmall)
                    case.conflicts.forEach { c ->
                        Text("${c.field}: ${c.current} ≠ ${c.others.joinToString()}", style = MaterialTheme.typography.bodySmall)
                    }
                    Text(stringResource(R.string.form_conflicts_help), style = MaterialTheme.typography.bodySmall)
                }
                if (case.notes.isNotEmpty()) {
                    Text(stringResource(R.string.form_notes), style = MaterialTheme.typography.titleSmall)
                    val format = DateFormat.getDateInstance(DateFormat.MEDIUM)
                    case.notes.forEach { n -> Text("${format.format(Date(n.atMs))} — ${n.text}", style = MaterialTheme.typography.bodySmall) }
                }
                TextButton(onClick = { confirmErase = true }) { Text(stringResource(R.string.form_erase)) }
                if (confirmErase) {
                    ChoiceDropdown(stringResource(R.string.form_erase_reason), labels.choices("erasure_reason"), null) { reason ->
                        if (reason != null) {
                            scope.launch {
                                try {
                                    model.repository.erase(caseId, reason)
                                    model.changed()
                                    model.back()
                                } catch (e: Exception) {
                                    error = AppViewModel.message(model.getApplication(), e)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/** Yes / no / not asked, as one tri-state checkbox row. */
@Composable
private fun ConsentRow(label: String, value: Boolean?, onChange: (Boolean?) -> Unit) {
    Row(verticalAlignment = Alignment.CenterVertically) {
        Checkbox(checked = value == true, onCheckedChange = { onChange(it) })
        Text(label + if (value == null) " (?)" else "")
    }
}

/** The heading of a field: the field's vocabulary name in the app's strings. */
@Composable
private fun fieldLabel(vocabulary: String): String = when (vocabulary) {
    "gender" -> stringResource(R.string.field_gender)
    "age_band" -> stringResource(R.string.field_age_band)
    "case_status" -> stringResource(R.string.field_case_status)
    "trafficking_status" -> stringResource(R.string.field_trafficking_status)
    "relationship_to_trafficker" -> stringResource(R.string.field_relationship)
    "exploitation_type" -> stringResource(R.string.field_exploitation)
    "labour_industry" -> stringResource(R.string.field_labour_industry)
    "sexual_exploitation_type" -> stringResource(R.string.field_sexual_exploitation)
    "means_of_control" -> stringResource(R.string.field_means_of_control)
    "recruitment_method" -> stringResource(R.string.field_recruitment_method)
    "recruitment_app" -> stringResource(R.string.field_recruitment_app)
    "recruiter_relation" -> stringResource(R.string.field_recruiter_relation)
    else -> vocabulary
}

/** Shows [spans] (UTF-16 ranges of the text) on a [color] background; the text itself is unchanged. */
private class HighlightSpans(private val spans: List<IntRange>, private val color: Color) : VisualTransformation {
    override fun filter(text: AnnotatedString): TransformedText {
        val styled = buildAnnotatedString {
            append(text)
            for (r in spans) {
                if (r.last < text.length) addStyle(SpanStyle(background = color), r.first, r.last + 1)
            }
        }
        return TransformedText(styled, OffsetMapping.Identity)
    }
}
