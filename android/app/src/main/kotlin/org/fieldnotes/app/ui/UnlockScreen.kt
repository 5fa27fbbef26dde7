package org.fieldnotes.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.caravan.android.KeyVault
import org.caravan.android.UnlockOutcome
import org.fieldnotes.app.AppViewModel
import org.fieldnotes.app.R

/**
 * PIN entry. First launch: choose a PIN and, optionally, a duress PIN (entering it later
 * wipes everything and shows an empty notebook). Afterwards: enter the PIN.
 */
@Composable
fun UnlockScreen(model: AppViewModel) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var setUp by remember { mutableStateOf(model.isSetUp) }
    var pin by remember { mutableStateOf("") }
    var confirm by remember { mutableStateOf("") }
    var duress by remember { mutableStateOf("") }
    var error by remember { mutableStateOf<String?>(null) }
    var busy by remember { mutableStateOf(false) }

    Column(
        Modifier.fillMaxSize().padding(24.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineMedium)
        Text(stringResource(if (setUp) R.string.unlock_enter_pin else R.string.unlock_choose_pin))
        PinField(stringResource(R.string.unlock_pin), pin) { pin = it }
        if (!setUp) {
            PinField(stringResource(R.string.unlock_confirm), confirm) { confirm = it }
            PinField(stringResource(R.string.unlock_duress), duress) { duress = it }
            Text(stringResource(R.string.unlock_duress_help), style = MaterialTheme.typography.bodySmall)
        }
        ErrorText(error)
        Button(
            enabled = !busy && pin.length >= KeyVault.MIN_PIN,
            modifier = Modifier.fillMaxWidth(),
            onClick = {
                error = null
                if (!setUp && pin != confirm) {
                    error = context.getString(R.string.unlock_mismatch)
                    return@Button
                }
                if (!setUp && duress.isNotEmpty() && (duress.length < KeyVault.MIN_PIN || duress == pin)) {
                    error = context.getString(R.string.unlock_duress_invalid)
                    return@Button
                }
                busy = true
                scope.launch {
                    try {
                        if (!setUp) {
                            model.setUp(pin, duress.ifEmpty { null })
                        } else {
                            when (val outcome = model.unlock(pin)) {
                                is UnlockOutcome.Opened -> Unit
                                is UnlockOutcome.WrongPin -> error =
                                    context.getString(R.string.error_wrong_pin_left, outcome.attemptsLeft)
                                UnlockOutcome.Wiped -> {
                                    error = context.getString(R.string.unlock_wiped)
                                    setUp = false
                                }
                            }
                        }
                    } catch (e: Exception) {
                        error = AppViewModel.message(model.getApplication(), e)
                    } finally {
                        pin = ""
                        busy = false
                    }
                }
            },
        ) { Text(stringResource(if (setUp) R.string.unlock_open else R.string.unlock_create)) }
    }
}

@Composable
private fun PinField(label: String, value: String, onChange: (String) -> Unit) {
    OutlinedTextField(
        value = value,
        onValueChange = { v -> onChange(v.filter(Char::isDigit).take(12)) },
        label = { Text(label) },
        singleLine = true,
        visualTransformation = PasswordVisualTransformation(),
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
        modifier = Modifier.fillMaxWidth(),
    )
}
