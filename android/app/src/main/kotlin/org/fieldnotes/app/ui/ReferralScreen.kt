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
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
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
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.caravan.core.CaseReferral
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R
import org.fieldnotes.app.Screen

/** Referrals of a case: refer to a service at a partner organisation, update a status. */
@Composable
fun ReferralScreen(model: AppViewModel, caseId: String) {
    val labels = model.labels
    val scope = rememberCoroutineScope()
    var referrals by remember { mutableStateOf<List<CaseReferral>>(emptyList()) }
    var service by remember { mutableStateOf<String?>(null) }
    var partner by remember { mutableStateOf("") }
    var orgType by remember { mutableStateOf<String?>(null) }
    var reason by remember { mutableStateOf<String?>(null) }
    var error by remember { mutableStateOf<String?>(null) }
    var reload by remember { mutableStateOf(0) }

    fun run(block: suspend () -> Unit) = scope.launch {
        try {
            block()
            error = null
            reload++
            model.changed()
        } catch (e: Exception) {
            error = AppViewModel.message(model.getApplication(), e)
        }
    }

    LaunchedEffect(caseId, reload, model.revision) {
        try {
            referrals = model.repository.get(caseId).referrals
        } catch (e: Exception) {
            error = AppViewModel.message(model.getApplication(), e)
        }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.referral_title)) },
                navigationIcon = { TextButton(onClick = { model.go(Screen.Form(caseId)) }) { Text("←") } },
            )
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp)) {
            referrals.forEach { r ->
                Text(
                    "${labels.label("service_type", r.service)} — ${r.partner}",
                    style = MaterialTheme.typography.titleSmall,
                )
                ChoiceDropdown(stringResource(R.string.referral_status), labels.choices("referral_status"), r.status) { status ->
                    if (status != null && status != r.status) run { model.repository.setReferralStatus(caseId, r.id, status) }
                }
                HorizontalDivider()
            }
            Text(stringResource(R.string.referral_new), style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 12.dp))
            ChoiceDropdown(stringResource(R.string.referral_service), labels.choices("service_type"), service) { service = it }
            OutlinedTextField(
                value = partner,
                onValueChange = { partner = it },
                label = { Text(stringResource(R.string.referral_partner)) },
                supportingText = { Text(stringResource(R.string.referral_partner_help)) },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            ChoiceDropdown(stringResource(R.string.referral_org_type), labels.choices("organisation_type"), orgType) { orgType = it }
            ChoiceDropdown(stringResource(R.string.referral_reason), labels.choices("referral_reason"), reason) { reason = it }
            ErrorText(error)
            Button(
                enabled = service != null && partner.isNotBlank(),
                modifier = Modifier.fillMaxWidth().padding(vertical = 8.dp),
                onClick = {
                    val s = service ?: return@Button
                    run {
                        model.repository.refer(caseId, s, partner.trim(), orgType, reason)
                        service = null
                        partner = ""
                    }
                },
            ) { Text(stringResource(R.string.referral_refer)) }
        }
    }
}
