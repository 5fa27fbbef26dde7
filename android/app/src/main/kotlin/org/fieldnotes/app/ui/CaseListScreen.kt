@file:OptIn(ExperimentalMaterial3Api::class)

package org.fieldnotes.app.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.HorizontalDivider
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
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.caravan.core.CaseListFilter
import org.caravan.core.CaseSummary
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R
import org.fieldnotes.app.Screen

/** The case list with filters by status, country, type of exploitation and conflicts. */
@Composable
fun CaseListScreen(model: AppViewModel) {
    val labels = model.labels
    var filter by remember { mutableStateOf(CaseListFilter()) }
    var cases by remember { mutableStateOf<List<CaseSummary>>(emptyList()) }
    var error by remember { mutableStateOf<String?>(null) }
    var menu by remember { mutableStateOf(false) }
    var confirmWipe by remember { mutableStateOf(false) }

    LaunchedEffect(filter, model.revision) {
        try {
            cases = model.repository.list(filter)
            error = null
        } catch (e: Exception) {
            error = AppViewModel.message(model.getApplication(), e)
        }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.app_name)) },
                actions = {
                    TextButton(onClick = { model.go(Screen.Sync) }) { Text(stringResource(R.string.sync_title)) }
                    TextButton(onClick = { menu = true }) { Text("⋮") }
                    DropdownMenu(expanded = menu, onDismissRequest = { menu = false }) {
                        DropdownMenuItem(text = { Text(stringResource(R.string.menu_lock)) }, onClick = { menu = false; model.lock() })
                        DropdownMenuItem(text = { Text(stringResource(R.string.menu_wipe)) }, onClick = { menu = false; confirmWipe = true })
                    }
                },
            )
        },
        floatingActionButton = {
            FloatingActionButton(onClick = { model.go(Screen.Form(null)) }) { Text("+") }
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            Column(Modifier.padding(horizontal = 12.dp)) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Column(Modifier.weight(1f)) {
                        ChoiceDropdown(stringResource(R.string.filter_status), labels.choices("case_status"), filter.caseStatus) {
                            filter = filter.copy(caseStatus = it)
                        }
                    }
                    Column(Modifier.weight(1f)) {
                        ChoiceDropdown(stringResource(R.string.filter_country), labels.choices("country"), filter.country) {
                            filter = filter.copy(country = it)
                        }
                    }
                }
                ChoiceDropdown(stringResource(R.string.filter_exploitation), labels.choices("exploitation_type"), filter.exploitation) {
                    filter = filter.copy(exploitation = it)
                }
                FilterChip(
                    selected = filter.conflictsOnly,
                    onClick = { filter = filter.copy(conflictsOnly = !filter.conflictsOnly) },
                    label = { Text(stringResource(R.string.filter_conflicts)) },
                )
                ErrorText(error)
            }
            if (cases.isEmpty()) {
                Text(stringResource(R.string.list_empty), modifier = Modifier.padding(16.dp))
            }
            LazyColumn {
                items(cases, key = { it.id }) { case ->
                    CaseRow(model, case)
                    HorizontalDivider()
                }
            }
        }
    }

    if (confirmWipe) {
        AlertDialog(
            onDismissRequest = { confirmWipe = false },
            title = { Text(stringResource(R.string.menu_wipe)) },
            text = { Text(stringResource(R.string.wipe_confirm)) },
            confirmButton = { TextButton(onClick = { confirmWipe = false; model.panic() }) { Text(stringResource(R.string.menu_wipe)) } },
            dismissButton = { TextButton(onClick = { confirmWipe = false }) { Text(stringResource(R.string.cancel)) } },
        )
    }
}

@Composable
private fun CaseRow(model: AppViewModel, case: CaseSummary) {
    val labels = model.labels
    Column(
        Modifier.fillMaxWidth().clickable { model.go(Screen.Form(case.id)) }.padding(horizontal = 16.dp, vertical = 10.dp),
    ) {
        val who = listOfNotNull(
            case.gender?.let { labels.label("gender", it) },
            case.ageBand?.let { labels.label("age_band", it) },
            case.citizenship.takeIf { it.isNotEmpty() }?.joinToString("/") { labels.code("country", it) },
        ).joinToString(" · ")
        Text(who.ifEmpty { case.id.take(8) }, style = MaterialTheme.typography.titleMedium)
        val what = listOfNotNull(
            case.caseStatus?.let { labels.label("case_status", it) },
            labels.labels("exploitation_type", case.exploitation).takeIf { it.isNotEmpty() },
        ).joinToString(" · ")
        if (what.isNotEmpty()) Text(what, style = MaterialTheme.typography.bodyMedium)
        Text(
            stringResource(R.string.list_counts, case.notes.toInt(), case.referrals.toInt()) +
                if (case.conflicts > 0u) " · " + stringResource(R.string.list_conflicts, case.conflicts.toInt()) else "",
            style = MaterialTheme.typography.bodySmall,
        )
    }
}
