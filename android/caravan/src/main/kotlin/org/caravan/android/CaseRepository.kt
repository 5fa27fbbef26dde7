package org.caravan.android

import java.io.File
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.withContext
import org.caravan.core.CaravanStore
import org.caravan.core.CaseDetails
import org.caravan.core.CaseEdit
import org.caravan.core.CaseListFilter
import org.caravan.core.CasePage
import org.caravan.core.CaseQuery
import org.caravan.core.CaseSummary
import org.caravan.core.GroupMember
import org.caravan.core.Mailbox
import org.caravan.core.MailboxSummary
import org.caravan.core.MemberRole
import org.caravan.core.QrReassembler
import org.caravan.core.QuarantinedCase
import org.caravan.core.ScanProgress
import org.caravan.core.ScreeningAssessment
import org.caravan.core.SyncSummary
import org.caravan.core.qrFrameToText

/**
 * The open store, as the app's screens use it: every call is a `suspend` function that
 * runs on [io] (never on the UI thread) and throws `CaravanException` subclasses from
 * the core unchanged, so a screen can say exactly what went wrong.
 *
 * It adds nothing to the core's logic; it only moves calls off the main thread, bundles
 * the two or three core calls a screen needs, and tells [changes] what changed.
 *
 * **Closing.** [close] is the one close: it calls the core's `closeStore()`, never
 * UniFFI's `close()`/`destroy()`, so the handle stays valid and every later call fails
 * with the typed `CaravanException.ReopenStore` (never `IllegalStateException`), and
 * collectors of [changes] never touch the store, so cancelling them after a lock is
 * harmless.
 */
class CaseRepository(
    /** The open store; closed by [close]. */
    val store: CaravanStore,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
    private val feed = StoreChanges()

    init {
        store.setChangeListener(feed)
    }

    /**
     * What changed, for any number of collectors (list screen, detail screen, sync
     * screen): the ids of the cases that sync brought, or that were created, edited,
     * erased or assigned on this phone; an empty list when the team changed (members,
     * roles). The core tells all of these itself (its change listener fires for local
     * edits and membership changes too, decision 0019): this repository adds nothing.
     * Collecting never touches the store: it works the same before and
     * after [close].
     */
    fun changes(): SharedFlow<List<String>> = feed.changes

    /** Summaries matching [filter], most recently updated first. */
    suspend fun list(filter: CaseListFilter = CaseListFilter()): List<CaseSummary> =
        withContext(io) { store.listCases(filter) }

    /**
     * The ids matching [filter], in list order, for a long list that loads its rows page
     * by page with [summaries]: much less crosses the FFI than with [list].
     */
    suspend fun ids(filter: CaseListFilter = CaseListFilter()): List<String> =
        withContext(io) { store.listCaseIds(filter) }

    /**
     * One page of the case list for [query] (filters, sort, offset, limit) and the total
     * that match: load the page's rows with [summaries].
     */
    suspend fun page(query: CaseQuery): CasePage = withContext(io) { store.queryCases(query) }

    /** The summaries of [ids] (a page of [ids]), in that order; erased cases left out. */
    suspend fun summaries(ids: List<String>): List<CaseSummary> =
        withContext(io) { store.caseSummaries(ids) }

    /** A whole case. */
    suspend fun get(id: String): CaseDetails = withContext(io) { store.getCase(id) }

    /** Registers a case from [edits]; returns its id. */
    suspend fun add(edits: List<CaseEdit>): String = withContext(io) { store.addCase(edits) }

    /** Applies [edits] to case [id], all or nothing; a no-op for an empty list. */
    suspend fun update(id: String, edits: List<CaseEdit>) = withContext(io) {
        if (edits.isNotEmpty()) store.updateCase(id, edits)
    }

    /** Saves the case form: a new case when [id] is null. Returns the case id. */
    suspend fun save(id: String?, form: CaseForm, stored: CaseForm = CaseForm()): String =
        withContext(io) {
            val edits = form.edits(stored)
            val saved = if (id == null) store.addCase(edits) else id.also { if (edits.isNotEmpty()) store.updateCase(it, edits) }
            saved
        }

    /** Stores the screening answers and returns the core's assessment. */
    suspend fun screen(id: String, form: ScreeningForm, stored: ScreeningForm): ScreeningAssessment =
        withContext(io) {
            val edits = form.edits(stored)
            if (edits.isNotEmpty()) store.updateCase(id, edits)
            store.assessCase(id)
        }

    /** Refers the person to a service; returns the referral id. */
    suspend fun refer(id: String, service: String, partner: String, organisationType: String?, reason: String?): String =
        withContext(io) { store.refer(id, service, partner, organisationType, reason) }

    /** Records a referral's new status. */
    suspend fun setReferralStatus(id: String, referral: String, status: String) =
        withContext(io) { store.setReferralStatus(id, referral, status) }

    /** Erases a case for real (an `erasure_reason` code). */
    suspend fun erase(id: String, reason: String) = withContext(io) { store.eraseCase(id, reason) }

    // ----- team ------------------------------------------------------------------------

    /** The group's name, or null before this phone joined one. */
    suspend fun groupName(): String? = withContext(io) { store.groupName() }

    /** The group's members. */
    suspend fun members(): List<GroupMember> = withContext(io) { store.members() }

    /** Creates a team with this phone as its first member and coordinator. */
    suspend fun createGroup(name: String, deviceName: String) =
        withContext(io) { store.createGroup(name, deviceName) }

    /** This phone's role in its team, or null before joining or once revoked. */
    suspend fun myRole(): MemberRole? = withContext(io) { store.myRole() }

    /** A one-time invitation admitting one phone as [role], to show as a QR code in person only. */
    suspend fun invite(role: MemberRole = MemberRole.FIELD_WORKER): String = withContext(io) { store.invite(role) }

    /** Revokes a member's phone (e.g. taken at a border); the team key rotates. */
    suspend fun revoke(deviceId: String) = withContext(io) { store.revokeMember(deviceId) }

    /** Lets a field worker or partner change a case (or takes it back). */
    suspend fun assign(caseId: String, deviceId: String, assigned: Boolean = true) =
        withContext(io) { store.assignCase(caseId, deviceId, assigned) }

    /** Cases holding changes by revoked phones, waiting for a coordinator. */
    suspend fun quarantined(): List<QuarantinedCase> = withContext(io) { store.quarantined() }

    /** Accepts or rejects a case's quarantined changes. */
    suspend fun resolveQuarantine(caseId: String, accept: Boolean): SyncSummary =
        withContext(io) { store.resolveQuarantine(caseId, accept) }

    /** Joins the team of a scanned invitation. */
    suspend fun join(invitation: String, deviceName: String) =
        withContext(io) { store.joinGroup(invitation, deviceName) }

    // ----- sync ------------------------------------------------------------------------

    /**
     * The updates [peer] has not confirmed yet (everything the first time), as base45
     * texts to show one QR code after another (alphanumeric mode; frames of at most
     * [maxFrame] bytes). Keep one [peer] per colleague's phone (its member device id).
     * Showing moves nothing: the peer's position moves when [confirmHandover] gets the
     * receipt the peer shows back, so a showing cut short, or shown to another phone,
     * loses nothing.
     */
    suspend fun qrFrames(peer: String, maxFrame: Int = QR_FRAME_BYTES): List<String> =
        withContext(io) { store.handoverFrames(peer, maxFrame.toUInt()).map(::qrFrameToText) }

    /**
     * Like [qrFrames] but carrying everything, whatever [peer] confirmed before: for a
     * colleague whose phone lost its data or restored an old copy, or when a showing was
     * scanned by someone else ([confirmHandover] then fails with
     * `CaravanException.HandoverToAnotherDevice`).
     */
    suspend fun qrFramesEverything(peer: String, maxFrame: Int = QR_FRAME_BYTES): List<String> =
        withContext(io) { store.handoverFramesEverything(peer, maxFrame.toUInt()).map(::qrFrameToText) }

    /** How many cases wait for [peer]: what the next showing to it carries. */
    suspend fun waiting(peer: String): Long = withContext(io) { store.handoverWaiting(peer).toLong() }

    /**
     * Confirms a hand-over with the receipt scanned from the peer's screen; returns the
     * peer's device id. A receipt from another phone than the one the codes were for
     * fails with `CaravanException.HandoverToAnotherDevice` and confirms nothing; one the
     * peer's phone did not sign (forged, replayed, of an older showing) fails with
     * `CaravanException.InvalidInput` and confirms nothing (decision 0024).
     */
    suspend fun confirmHandover(receipt: String): String = withContext(io) { store.confirmHandover(receipt) }

    /**
     * Adds one scanned QR text to [scan]; once the bundle is complete, imports it and
     * gives the receipt to show back to the sender as a QR code, signed with this
     * phone's device key so no other phone can make it (null when some case waits for
     * earlier changes: ask the sender for everything).
     */
    suspend fun scanned(scan: QrReassembler, text: String): QrScan =
        withContext(io) {
            val progress = scan.pushText(text)
            if (!progress.complete) {
                QrScan(progress, null, null)
            } else {
                val imported = store.importHandover(scan.finish())
                QrScan(progress, imported.summary, imported.receipt)
            }
        }

    /** Syncs through a shared folder ([DocumentTreeMailbox], [FileMailbox]): the core reads and writes it directly. */
    suspend fun syncFolder(folder: Mailbox): MailboxSummary =
        withContext(io) { store.syncThrough(folder, null) }

    /** Syncs through a folder of the team's WebDAV server (Nextcloud, ownCloud): `https://…`. */
    suspend fun syncWebDav(url: String, user: String?, password: String?): MailboxSummary =
        withContext(io) { store.syncWebdav(url, user, password, null) }

    /** Waits for a colleague on the local network, then syncs. */
    suspend fun listen(port: Int = LocalNetworkSync.DEFAULT_PORT, onListening: (Int) -> Unit = {}): SyncSummary =
        withContext(io) { LocalNetworkSync.listen(store, port, onListening = onListening) }

    /** Syncs with a colleague listening at [host]. */
    suspend fun connect(host: String, port: Int = LocalNetworkSync.DEFAULT_PORT): SyncSummary =
        withContext(io) { LocalNetworkSync.connect(store, host, port) }

    /**
     * Closes the store and releases its lock (the core's `closeStore()`; see the class
     * comment). Harmless when called again. Waits for a call running on another thread:
     * call it off the main thread when a sync may run ([StoreSession.lock] does).
     */
    override fun close() {
        store.setChangeListener(null)
        store.closeStore()
    }

    /** What one scanned QR code gave: progress; once complete, the import and the receipt. */
    data class QrScan(val progress: ScanProgress, val summary: SyncSummary?, val receipt: String?)

    companion object {
        /** QR frame size: a version-25-ish code that cheap phone cameras read at arm's length. */
        const val QR_FRAME_BYTES = 1000
    }
}
