@file:OptIn(ExperimentalMaterial3Api::class)

package org.fieldnotes.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
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
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.caravan.android.ScreeningForm
import org.caravan.core.ScreeningAssessment
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R

/**
 * Indicator screening: one answer per indicator, the vulnerability factors, then the
 * core's assessment with the answers it rests on (it supports a referral decision; it
 * is not a formal identification).
 */
@Composable
fun ScreeningScreen(model: AppViewModel, caseId: String) {
    val labels = model.labels
    val scope = rememberCoroutineScope()
    var stored by remember { mutableStateOf(ScreeningForm()) }
    var form by remember { mutableStateOf(ScreeningForm()) }
    var result by remember { mutableStateOf<ScreeningAssessment?>(null) }
    var error by remember { mutableStateOf<String?>(null) }
    val answers = remember { labels.choices("answer") }

    LaunchedEffect(caseId) {
        try {
            stored = ScreeningForm.of(model.repository.get(caseId))
            form = stored
        } catch (e: Exception) {
            error = AppViewModel.message(model.getApplication(), e)
        }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.screening_title)) },
                navigationIcon = { TextButton(onClick = { model.go(org.fieldnotes.app.Screen.Form(caseId)) }) { Text("←") } },
            )
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp)) {
            for (indicator in labels.choices("indicator")) {
                val selected = form.answers[indicator.code]
                ChoiceChips(indicator.label, answers, setOfNotNull(selected)) { answer ->
                    form = form.answer(indicator.code, answer)
                }
            }
            ChoiceChips(stringResource(R.string.screening_vulnerabilities), labels.choices("vulnerability"), form.vulnerabilities) {
                form = form.toggleVulnerability(it)
            }
            ErrorText(error)
            Button(
                modifier = Modifier.fillMaxWidth().padding(vertical = 8.dp),
                onClick = {
                    scope.launch {
                        try {
                            result = model.repository.screen(caseId, form, stored)
                            stored = form
                            model.changed()
                        } catch (e: Exception) {
                            error = AppViewModel.message(model.getApplication(), e)
                        }
                    }
                },
            ) { Text(stringResource(R.string.screening_assess)) }
            result?.let { a ->
                Text(labels.label("screening_outcome", a.outcome), style = MaterialTheme.typography.titleLarge)
                if (a.minor) Text(labels.label("vulnerability", "Minor"))
                if (a.indicators.isNotEmpty()) {
                    Text(stringResource(R.string.screening_because), style = MaterialTheme.typography.titleSmall)
                    a.indicators.forEach { Text("• " + labels.label("indicator", it)) }
                }
                if (a.categories.isNotEmpty()) Text(labels.labels("indicator_category", a.categories))
                if (a.vulnerabilities.isNotEmpty()) Text(labels.labels("vulnerability", a.vulnerabilities))
                Text(stringResource(R.string.screening_disclaimer), style = MaterialTheme.typography.bodySmall)
            }
        }
    }
}
