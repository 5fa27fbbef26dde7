package org.caravan.android

import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import org.caravan.core.ChangeListener

/**
 * The store's change feed behind [CaseRepository.changes]: the one [ChangeListener]
 * registered on the store, fanned out to any number of collectors through a
 * [SharedFlow] (a screen's collector comes and goes without registering or removing
 * anything on the store, so a locked or wiped store can never be touched by a
 * collector's clean-up). A slow collector loses the oldest events, never blocks the
 * core's callback: screens reload on any event anyway.
 */
class StoreChanges : ChangeListener {
    private val flow = MutableSharedFlow<List<String>>(
        extraBufferCapacity = 64,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /** The events: changed case ids; an empty list for a team change. */
    val changes: SharedFlow<List<String>> = flow.asSharedFlow()

    /** Called by the core after a sync, a local edit or a membership change (decision 0019). */
    override fun onCasesChanged(ids: List<String>) {
        flow.tryEmit(ids)
    }
}
