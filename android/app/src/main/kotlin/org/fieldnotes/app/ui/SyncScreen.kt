@file:OptIn(ExperimentalMaterial3Api::class)

package org.fieldnotes.app.ui

import android.content.Intent
import android.os.Build
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
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
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import com.journeyapps.barcodescanner.ScanContract
import com.journeyapps.barcodescanner.ScanOptions
import java.net.Inet4Address
import java.net.NetworkInterface
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import org.caravan.android.CaravanAndroid
import org.caravan.android.DocumentTreeMailbox
import org.caravan.android.LocalNetworkSync
import org.caravan.core.GroupMember
import org.caravan.core.MemberRole
import org.caravan.core.invitationCode
import org.caravan.core.QrReassembler
import org.caravan.core.SyncSummary
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R

private enum class ScanPurpose { Frames, Invitation, Receipt }

/** The label of a member's role, in the phone's language. */
private fun roleLabel(role: MemberRole): Int = when (role) {
    MemberRole.COORDINATOR -> R.string.role_coordinator
    MemberRole.FIELD_WORKER -> R.string.role_field_worker
    MemberRole.PARTNER -> R.string.role_partner
}

/**
 * Team and sync: create or join a team (invitation shown and scanned as a QR code, in
 * person), then sync by QR codes (show / scan frames), through a shared folder (USB
 * stick, SD card, a file-sharing app's folder) or live on the local network.
 */
@Composable
fun SyncScreen(model: AppViewModel) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    val repo = model.repository
    var group by remember { mutableStateOf<String?>(null) }
    var members by remember { mutableStateOf<List<GroupMember>>(emptyList()) }
    var myRole by remember { mutableStateOf<MemberRole?>(null) }
    var status by remember { mutableStateOf<String?>(null) }
    var error by remember { mutableStateOf<String?>(null) }
    var showing by remember { mutableStateOf<List<String>>(emptyList()) }
    var teamName by remember { mutableStateOf("") }
    var deviceName by remember { mutableStateOf(Build.MODEL ?: "") }
    var peer by remember { mutableStateOf("") }
    var reload by remember { mutableStateOf(0) }
    val scan = remember { QrReassembler() }
    var purpose by remember { mutableStateOf(ScanPurpose.Frames) }

    fun report(s: SyncSummary) = context.getString(
        R.string.sync_done, s.casesCreated.toInt(), s.casesUpdated.toInt(), s.casesErased.toInt(),
    )

    fun run(block: suspend () -> String?) = scope.launch {
        error = null
        try {
            status = block()
            reload++
        } catch (e: Exception) {
            error = AppViewModel.message(model.getApplication(), e)
        }
    }

    LaunchedEffect(reload) {
        group = repo.groupName()
        members = if (group != null) repo.members() else emptyList()
        myRole = if (group != null) repo.myRole() else null
    }

    // The scanner returns one code per launch; frames relaunch it until the bundle is complete.
    lateinit var scanner: androidx.activity.compose.ManagedActivityResultLauncher<ScanOptions, com.journeyapps.barcodescanner.ScanIntentResult>
    scanner = rememberLauncherForActivityResult(ScanContract()) { result ->
        val text = result.contents ?: return@rememberLauncherForActivityResult
        when (purpose) {
            ScanPurpose.Invitation -> run {
                repo.join(text, deviceName.trim())
                context.getString(R.string.team_joined) + " " + context.getString(R.string.team_compare_code, invitationCode(text))
            }
            ScanPurpose.Frames -> run {
                val (progress, summary, receipt) = repo.scanned(scan, text)
                if (summary == null) {
                    scanner.launch(scanOptions(context.getString(R.string.qr_scan_progress, progress.received.toInt(), progress.total.toInt())))
                    context.getString(R.string.qr_scan_progress, progress.received.toInt(), progress.total.toInt())
                } else {
                    model.changed()
                    // The sender's position moves only when it scans this receipt.
                    showing = listOfNotNull(receipt)
                    report(summary) + " " + context.getString(
                        if (receipt != null) R.string.qr_show_receipt else R.string.qr_incomplete,
                    )
                }
            }
            ScanPurpose.Receipt -> run {
                val peer = repo.confirmHandover(text)
                reload++
                context.getString(R.string.qr_confirmed, members.firstOrNull { it.deviceId == peer }?.name ?: peer)
            }
        }
    }

    val folderPicker = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocumentTree()) { uri ->
        if (uri != null) {
            context.contentResolver.takePersistableUriPermission(
                uri, Intent.FLAG_GRANT_READ_URI_PERMISSION or Intent.FLAG_GRANT_WRITE_URI_PERMISSION,
            )
            run {
                val s = repo.syncFolder(DocumentTreeMailbox(context, uri))
                model.changed()
                context.getString(R.string.folder_done, s.bundlesImported.toInt(), s.bundlesWritten.toInt()) + " " + report(s.changes)
            }
        }
    }

    // Show the frames one after another, looping, until the other phone has them all.
    var frame by remember { mutableStateOf(0) }
    LaunchedEffect(showing) {
        frame = 0
        while (showing.size > 1) {
            delay(FRAME_MS)
            frame = (frame + 1) % showing.size
        }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.sync_title)) },
                navigationIcon = { TextButton(onClick = model::back) { Text("←") } },
            )
        },
    ) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(8.dp),
        ) {
            status?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            ErrorText(error)
            if (showing.isNotEmpty()) {
                Column(horizontalAlignment = Alignment.CenterHorizontally, modifier = Modifier.fillMaxWidth()) {
                    QrCode(showing[frame.coerceIn(0, showing.size - 1)])
                    if (showing.size > 1) Text("${frame + 1} / ${showing.size}")
                    TextButton(onClick = { showing = emptyList() }) { Text(stringResource(R.string.done)) }
                }
            }

            Text(stringResource(R.string.team_title), style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(
                value = deviceName, onValueChange = { deviceName = it }, singleLine = true,
                label = { Text(stringResource(R.string.team_device_name)) }, modifier = Modifier.fillMaxWidth(),
            )
            if (group == null) {
                OutlinedTextField(
                    value = teamName, onValueChange = { teamName = it }, singleLine = true,
                    label = { Text(stringResource(R.string.team_name)) }, modifier = Modifier.fillMaxWidth(),
                )
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Button(enabled = teamName.isNotBlank() && deviceName.isNotBlank(), onClick = {
                        run { repo.createGroup(teamName.trim(), deviceName.trim()); null }
                    }) { Text(stringResource(R.string.team_create)) }
                    OutlinedButton(enabled = deviceName.isNotBlank(), onClick = {
                        purpose = ScanPurpose.Invitation
                        scanner.launch(scanOptions(context.getString(R.string.team_scan_invitation)))
                    }) { Text(stringResource(R.string.team_join)) }
                }
            } else {
                Text(group ?: "", style = MaterialTheme.typography.titleSmall)
                val coordinator = myRole == MemberRole.COORDINATOR
                members.forEach { m ->
                    Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        val role = stringResource(roleLabel(m.role))
                        val state = if (m.active) "" else " — " + stringResource(R.string.member_revoked)
                        Text("• ${m.name} (${m.shortId}, $role)$state" + if (m.thisDevice) " ★" else "")
                        if (coordinator && m.active && !m.thisDevice) {
                            TextButton(onClick = { run { repo.revoke(m.deviceId); context.getString(R.string.member_revoked_help) } }) {
                                Text(stringResource(R.string.member_revoke))
                            }
                        }
                    }
                }
                if (coordinator) {
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        OutlinedButton(onClick = { run { val inv = repo.invite(MemberRole.FIELD_WORKER); showing = listOf(inv); context.getString(R.string.team_invite_help) + " " + context.getString(R.string.team_compare_code, invitationCode(inv)) } }) {
                            Text(stringResource(R.string.team_invite))
                        }
                        OutlinedButton(onClick = { run { val inv = repo.invite(MemberRole.COORDINATOR); showing = listOf(inv); context.getString(R.string.team_invite_help) + " " + context.getString(R.string.team_compare_code, invitationCode(inv)) } }) {
                            Text(stringResource(R.string.team_invite_coordinator))
                        }
                    }
                }
            }
            HorizontalDivider()

            Text(stringResource(R.string.qr_title), style = MaterialTheme.typography.titleMedium)
            // One hand-over target per colleague's phone, with what waits for it.
            for (m in members.filter { it.active && !it.thisDevice }) {
                var waiting by remember(m.deviceId, reload) { mutableStateOf<Long?>(null) }
                LaunchedEffect(m.deviceId, reload) { waiting = runCatching { repo.waiting(m.deviceId) }.getOrNull() }
                Button(enabled = group != null, onClick = {
                    run { showing = repo.qrFrames(m.deviceId); context.getString(R.string.qr_show_help, m.name) }
                }) {
                    Text(stringResource(R.string.qr_show_to, m.name, (waiting ?: 0L).toInt()))
                }
                // For a colleague whose phone lost its data, or when a showing reached
                // the wrong phone: everything, whatever was confirmed before.
                TextButton(enabled = group != null, onClick = {
                    run { showing = repo.qrFramesEverything(m.deviceId); context.getString(R.string.qr_show_help, m.name) }
                }) {
                    Text(stringResource(R.string.qr_show_all_to, m.name))
                }
            }
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedButton(enabled = group != null, onClick = {
                    purpose = ScanPurpose.Frames
                    scanner.launch(scanOptions(context.getString(R.string.qr_scan)))
                }) { Text(stringResource(R.string.qr_scan)) }
                OutlinedButton(enabled = group != null, onClick = {
                    purpose = ScanPurpose.Receipt
                    scanner.launch(scanOptions(context.getString(R.string.qr_scan_receipt)))
                }) { Text(stringResource(R.string.qr_scan_receipt)) }
            }
            HorizontalDivider()

            Text(stringResource(R.string.folder_title), style = MaterialTheme.typography.titleMedium)
            Text(stringResource(R.string.folder_help), style = MaterialTheme.typography.bodySmall)
            Button(enabled = group != null, onClick = { folderPicker.launch(null) }) { Text(stringResource(R.string.folder_pick)) }
            HorizontalDivider()

            Text(stringResource(R.string.lan_title), style = MaterialTheme.typography.titleMedium)
            Button(enabled = group != null, onClick = {
                run {
                    report(repo.listen { port -> status = context.getString(R.string.lan_listening, localAddresses(), port) })
                }
            }) { Text(stringResource(R.string.lan_listen)) }
            OutlinedTextField(
                value = peer, onValueChange = { peer = it.trim() }, singleLine = true,
                label = { Text(stringResource(R.string.lan_address)) }, modifier = Modifier.fillMaxWidth(),
            )
            OutlinedButton(enabled = group != null && peer.isNotEmpty(), onClick = {
                run {
                    val host = peer.substringBefore(':')
                    val port = peer.substringAfter(':', "").toIntOrNull() ?: LocalNetworkSync.DEFAULT_PORT
                    report(repo.connect(host, port))
                }
            }) { Text(stringResource(R.string.lan_connect)) }
        }
    }
}

private const val FRAME_MS = 700L

private fun scanOptions(prompt: String): ScanOptions = ScanOptions()
    .setDesiredBarcodeFormats(ScanOptions.QR_CODE)
    .setPrompt(prompt)
    .setBeepEnabled(false)
    .setOrientationLocked(true)

/** This phone's IPv4 addresses on Wi-Fi or a hotspot, for the colleague to type. */
private fun localAddresses(): String =
    NetworkInterface.getNetworkInterfaces().toList()
        .filter { it.isUp && !it.isLoopback }
        .flatMap { it.inetAddresses.toList() }
        .filterIsInstance<Inet4Address>()
        .filter { it.isSiteLocalAddress }
        .joinToString(", ") { it.hostAddress ?: "" }
