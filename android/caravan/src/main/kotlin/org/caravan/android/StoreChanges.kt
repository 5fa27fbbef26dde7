package org.caravan.android

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import org.caravan.core.ChangeListener

/**
 * The ids of cases that sync changed, as a cold [Flow] for Compose
 * (`collectAsStateWithLifecycle`) or a ViewModel: registers a [ChangeListener] on the
 * store while collected and removes it when collection stops. Only one listener can be
 * registered per store, so collect it in one place (the app's view model does).
 *
 * Not compiled by check-jvm.sh: Debian's kotlinx-coroutines (1.0.1, the only one
 * installable on the checking machine) predates `Flow`. Gradle compiles it against 1.10.
 */
fun CaseRepository.changes(): Flow<List<String>> = callbackFlow {
    store.setChangeListener(object : ChangeListener {
        override fun onCasesChanged(ids: List<String>) {
            trySend(ids)
        }
    })
    awaitClose { store.setChangeListener(null) }
}.conflate()
