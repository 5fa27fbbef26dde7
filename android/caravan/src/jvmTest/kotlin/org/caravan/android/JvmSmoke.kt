package org.caravan.android

import java.io.File
import java.util.concurrent.ArrayBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.job
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.caravan.core.BundleScope
import org.caravan.core.CaravanException
import org.caravan.core.CaravanStore
import org.caravan.core.MemberRole
import org.caravan.core.CaseListFilter
import org.caravan.core.ProgressListener
import org.caravan.core.QrReassembler
import org.caravan.core.ScalarField
import org.caravan.core.SetField
import org.caravan.core.VocabularyCode

/**
 * Runs the platform-neutral Kotlin layer of the Android app on a desktop JVM against
 * the host build of the core (android/check-jvm.sh). It checks the app's own logic
 * (vault, duress PIN, form diffing, transports), not the core, which Rust tests cover.
 */
fun main(args: Array<String>) {
    val root = File(args.firstOrNull() ?: "build/jvm-smoke").absoluteFile
    root.deleteRecursively()
    root.mkdirs()
    val checks = Checks()
    try {
        runBlocking { smoke(root, checks) }
    } catch (e: Throwable) {
        checks.fail("unexpected ${e::class.simpleName}: ${e.message}")
        e.printStackTrace()
    } finally {
        root.deleteRecursively()
    }
    println("${checks.passed} passed, ${checks.failed} failed")
    if (checks.failed > 0) kotlin.system.exitProcess(1)
}

private class Checks {
    var passed = 0
    var failed = 0

    fun check(what: String, ok: Boolean) {
        if (ok) passed++ else fail(what)
        println("${if (ok) "ok  " else "FAIL"} $what")
    }

    fun fail(what: String) {
        failed++
        System.err.println("FAIL $what")
    }
}

private fun session(dir: File) =
    StoreSession(File(dir, "store"), KeyVault(File(dir, "vault"), SoftwareWrappingKey(), iterations = 2_000))

private suspend fun smoke(root: File, c: Checks) {
    // --- labels ---------------------------------------------------------------------
    val ru = Labels("ru")
    c.check("Russian label of gender Feminine", ru.label("gender", "Feminine") == "Женский")
    c.check("unknown code shown as itself", ru.label("gender", "SomeNewCode") == "SomeNewCode")
    c.check("form choices come from the vocabulary", Labels("en").choices(SetField.MEANS_OF_CONTROL).any { it.code == "DebtBondage" })
    c.check("Kazakh phone gets Russian labels", Labels.languageFor(java.util.Locale("kk", "KZ")) == "ru")

    // --- set-up, wrong PIN, unlock ----------------------------------------------------
    val a = session(File(root, "a"))
    c.check("fresh phone is not set up", !a.isSetUp())
    var repoA = a.setUp("1234".toCharArray(), "9999".toCharArray())
    c.check("set-up opens an empty store", repoA.list().isEmpty() && a.isSetUp())
    a.lock()
    val wrong = a.unlock("0000".toCharArray())
    c.check("wrong PIN is refused with attempts left", wrong is UnlockOutcome.WrongPin && wrong.attemptsLeft == 9)
    val opened = a.unlock("1234".toCharArray())
    c.check("right PIN opens the store", opened is UnlockOutcome.Opened)
    repoA = (opened as UnlockOutcome.Opened).repository

    // --- case form --------------------------------------------------------------------
    val form = CaseForm()
        .with(ScalarField.GENDER, "Feminine")
        .with(ScalarField.AGE_BAND, "9-17")
        .toggle(SetField.CITIZENSHIP, "KZ")
        .toggle(SetField.MEANS_OF_CONTROL, "DebtBondage")
        .copy(includeInStatistics = true, newNote = "Worked on a cotton farm.")
    val id = repoA.save(null, form)
    val stored = CaseForm.of(repoA.get(id))
    c.check("saved form reads back", stored.scalars[ScalarField.GENDER] == "Feminine" &&
        stored.sets[SetField.CITIZENSHIP] == setOf("KZ") && stored.includeInStatistics == true)
    val edited = stored.toggle(SetField.MEANS_OF_CONTROL, "DebtBondage").toggle(SetField.MEANS_OF_CONTROL, "WithholdsDocuments")
    c.check("form diff is minimal", edited.edits(stored).size == 2)
    repoA.save(id, edited, stored)
    c.check("edit stored", repoA.get(id).meansOfControl == listOf("WithholdsDocuments"))
    c.check("paged listing: ids, then a page of summaries", repoA.summaries(repoA.ids()).map { it.id } == listOf(id))
    c.check("a page of the list with its total", repoA.page(org.caravan.core.CaseQuery(gender = "Feminine",
        sort = org.caravan.core.CaseSort.UPDATED_NEWEST, limit = 10)).let { it.total == 1uL && it.ids == listOf(id) })
    c.check("filter by country", repoA.list(CaseListFilter(country = "KZ")).size == 1 &&
        repoA.list(CaseListFilter(country = "KG")).isEmpty())
    val row = repoA.list().single()
    c.check("list row labels from summary values", ru.label("gender", row.gender!!) == "Женский" &&
        ru.label("age_band", row.ageBand!!) == ru.label("age_band", "9-17") &&
        row.citizenship.map { ru.code("country", it) } == listOf("KZ"))
    // The compact list (listCaseTable) reads back what listCases gives.
    val table = CaseTableReader(repoA.store.listCaseTable(CaseListFilter()))
    c.check("the compact table holds the list's row", table.size == 1 && table.id(0) == row.id &&
        table.updatedAtMs(0) == row.updatedAtMs && table.createdAtMs(0) == row.createdAtMs &&
        table.gender(0) == (row.gender as VocabularyCode.Known).index.toInt() &&
        table.caseStatus(0) == CaseTableReader.NONE == (row.caseStatus == null) &&
        table.citizenship(0).toList() == row.citizenship.map { (it as VocabularyCode.Known).index.toInt() } &&
        table.notes(0) == row.notes.toInt() && table.referrals(0) == row.referrals.toInt())
    c.check("a row past the end is refused", runCatching { table.id(1) }.exceptionOrNull() is IndexOutOfBoundsException)
    c.check("a value from a newer version shows as its code",
        ru.label("gender", VocabularyCode.Unknown("SomeNewCode")) == "SomeNewCode")
    val refused = runCatching { repoA.save(id, edited.copy(newNote = "Call her at +7 701 234 5678"), edited) }
    c.check("note with a phone number refused", refused.exceptionOrNull() is CaravanException.NoteRejected)
    // The note screen highlights the finding: with emoji before it, UTF-16 offsets pick
    // exactly the phone number (scalar offsets would be off by one per emoji).
    val emojiNote = "👩‍👧 met at 🚌 station, call +7 701 234 5678 or 8 (701) 234-56-78"
    val rejected = runCatching { repoA.save(id, edited.copy(newNote = emojiNote), edited) }.exceptionOrNull()
    val spans = NoteHighlights.ranges(emojiNote, NoteHighlights.findingsOf(rejected!!))
    c.check("highlighted spans are the phone numbers (${spans.map { emojiNote.substring(it) }})",
        spans.map { emojiNote.substring(it) } == listOf("+7 701 234 5678", "8 (701) 234-56-78"))
    c.check("screening as the worker types gives the same spans",
        NoteHighlights.ranges(emojiNote, NoteHighlights.screen(emojiNote)) == spans)
    c.check("a clean note highlights nothing", NoteHighlights.screen("Met at the bus station").isEmpty() &&
        NoteHighlights.findingsOf(IllegalStateException()).isEmpty())

    // --- screening and referral ---------------------------------------------------------
    val screening = ScreeningForm().answer("DocumentsWithheld", "Yes").answer("PhysicalViolence", "No")
    val assessment = repoA.screen(id, screening, ScreeningForm.of(repoA.get(id)))
    c.check("minor with an indicator is a potential victim", assessment.outcome == "PotentialVictim" && assessment.minor)
    val referral = repoA.refer(id, "Shelter", "Shelter Almaty", "NGO", null)
    repoA.setReferralStatus(id, referral, "Accepted")
    c.check("referral accepted", repoA.get(id).referrals.single().status == "Accepted")

    // --- team -----------------------------------------------------------------------------
    repoA.createGroup("Osh outreach", "Aigerim, Shymkent")
    val vaultB = KeyVault(File(root, "b/vault"), SoftwareWrappingKey(), iterations = 2_000)
    val b = StoreSession(File(root, "b/store"), vaultB)
    val repoB = b.setUp("4321".toCharArray(), null)
    repoB.join(repoA.invite(MemberRole.FIELD_WORKER), "Bakyt, Osh")
    c.check("B joined A's team", repoB.groupName() == "Osh outreach")
    // The invitation carries no key (decision 0016): B's join reaches A, whose next
    // bundle (here the QR frames) admits B.
    repoA.store.importBundle(repoB.store.exportBundle(BundleScope.Everything))

    // --- QR: frames shown by A, scanned by B in reverse with a repeat ------------------------
    // B's screens watch changes() (StoreChanges.kt); the import must reach the Flow.
    // A showing cut short (B scans one code and walks away) moves nothing.
    val bakyt = repoB.store.deviceId()
    c.check("one case waits for B", repoA.waiting(bakyt) == 1L)
    repoB.scanned(QrReassembler(), repoA.qrFrames(bakyt).first())
    c.check("a showing cut short moves nothing", repoA.waiting(bakyt) == 1L)
    val frames = repoA.qrFrames(bakyt)
    val scan = QrReassembler()
    var lastSummary: org.caravan.core.SyncSummary? = null
    var receipt: String? = null
    val changed = CompletableDeferred<List<String>>()
    coroutineScope {
        // Unconfined + UNDISPATCHED: the listener is registered before launch returns.
        val watcher = launch(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
            repoB.changes().collect { changed.complete(it) }
        }
        for (text in (frames.reversed() + frames.first())) {
            val (_, summary, shown) = repoB.scanned(scan, text)
            if (summary != null) lastSummary = summary
            if (shown != null) receipt = shown
        }
        c.check("changes() Flow told of the synced case", withTimeoutOrNull(10_000) { changed.await() } == listOf(id))
        watcher.cancel()
    }
    c.check("QR hand-over brought the case (${frames.size} frames)", lastSummary?.casesCreated == 1UL || repoB.list().size == 1)
    c.check("B reads A's case", repoB.get(id).meansOfControl == listOf("WithholdsDocuments"))
    c.check("B is a field worker", repoB.myRole() == MemberRole.FIELD_WORKER)
    c.check("B shows a receipt", receipt != null)
    // A receipt only B can make (its signature, red-team F1 of 2026-12-05): one in B's
    // name that B did not sign is refused and moves nothing.
    val forged = receipt!!.substringBefore('-') + "-" + "ab".repeat(64)
    val refusedReceipt = runCatching { repoA.confirmHandover(forged) }
    c.check("a receipt B did not sign is refused", refusedReceipt.exceptionOrNull() is CaravanException.InvalidInput)
    c.check("and moves nothing", repoA.waiting(bakyt) == 1L)
    c.check("A scans B's receipt: the hand-over to B is confirmed", repoA.confirmHandover(receipt!!) == bakyt)
    c.check("nothing waits for B once confirmed", repoA.waiting(bakyt) == 0L)
    // Everything again (B restored an old copy): more frames than the usual showing,
    // and B's receipt for it confirms.
    val all = repoA.qrFramesEverything(bakyt)
    c.check("the full showing carries more", all.size > repoA.qrFrames(bakyt).size)
    val again = QrReassembler()
    val allReceipt = all.map { repoB.scanned(again, it) }.last().receipt
    c.check("B's receipt confirms the full showing", allReceipt != null && repoA.confirmHandover(allReceipt) == bakyt)

    // --- a bundle import on Dispatchers.IO, cancelled with its coroutine -------------------
    // What the apps do instead of UniFFI async (decision 0019): the blocking call on
    // Dispatchers.IO, its progress listener calling ensureActive(); cancelling the
    // coroutine cancels the import, and B's store is left as it was.
    val extra = repoA.save(null, CaseForm(scalars = mapOf(ScalarField.GENDER to "Masculine")))
    val fresh = repoA.store.exportBundle(BundleScope.Everything)
    val casesB = repoB.store.caseCount()
    val importing = CoroutineScope(Dispatchers.IO).async {
        val job = coroutineContext.job
        repoB.store.importBundleWithProgress(fresh, object : ProgressListener {
            override fun onProgress(done: ULong, total: ULong): Boolean {
                if (done == 0uL) job.cancel() // the screen went away
                job.ensureActive()
                return true
            }
        })
    }
    val outcome = runCatching { importing.await() }.exceptionOrNull()
    c.check("a cancelled coroutine cancels the import (${outcome?.javaClass?.simpleName})",
        outcome is CancellationException || outcome is CaravanException.Cancelled)
    c.check("nothing was imported", repoB.store.caseCount() == casesB && runCatching { repoB.get(extra) }.isFailure)
    c.check("the next import brings the case", repoB.store.importBundleWithProgress(fresh, null).casesCreated >= 1uL &&
        repoB.get(extra).gender == "Masculine")

    // --- live sync over loopback TCP ---------------------------------------------------------
    repoA.update(id, CaseForm().toggle(SetField.EXPLOITATION, "ForcedLabour").edits())
    val port = ArrayBlockingQueue<Int>(1)
    var listened: Result<org.caravan.core.SyncSummary>? = null
    val listener = thread { listened = runCatching { LocalNetworkSync.listen(repoB.store, port = 0) { port.put(it) } } }
    val p = checkNotNull(port.poll(30, TimeUnit.SECONDS)) { "listener did not start" }
    LocalNetworkSync.connect(repoA.store, "127.0.0.1", p)
    listener.join(30_000)
    c.check("live sync over TCP succeeded", listened?.isSuccess == true)
    c.check("live sync brought the edit", repoB.get(id).exploitation == listOf("ForcedLabour"))

    // --- shared folder -------------------------------------------------------------------------
    val folder = FileMailbox(File(root, "usb").apply { mkdirs() })
    val id2 = repoB.save(null, CaseForm().with(ScalarField.GENDER, "Masculine").toggle(SetField.CITIZENSHIP, "KG"))
    repoB.syncFolder(folder)
    c.check("folder holds ciphertext files", folder.list().isNotEmpty())
    repoA.syncFolder(folder)
    c.check("folder sync brought B's case to A", repoA.list().any { it.id == id2 })
    c.check("no staging copy: only outboxes in the folder", File(root, "usb").listFiles().orEmpty().all { it.isDirectory })

    // --- revocation ----------------------------------------------------------------------------
    repoA.revoke(repoB.store.deviceId())
    c.check("B is listed as revoked", repoA.members().single { !it.active }.name == "Bakyt, Osh")
    repoA.save(null, CaseForm().with(ScalarField.GENDER, "Feminine"))
    repoA.syncFolder(folder)
    val afterRevocation = runCatching { repoB.syncFolder(folder) }
    c.check("the revoked phone cannot sync", afterRevocation.exceptionOrNull() is CaravanException.NotPermitted)
    c.check("the revoked phone is told why", afterRevocation.exceptionOrNull()?.message.orEmpty().contains("revoked"))

    // --- duress PIN ----------------------------------------------------------------------------
    a.lock()
    val duress = a.unlock("9999".toCharArray())
    c.check("duress PIN opens an empty store", duress is UnlockOutcome.Opened && duress.repository.list().isEmpty())
    a.lock()
    c.check("real PIN no longer works after duress", a.unlock("1234".toCharArray()) is UnlockOutcome.WrongPin)
    c.check("duress PIN is now the only PIN", a.unlock("9999".toCharArray()) is UnlockOutcome.Opened)

    // --- panic wipe and too many attempts ----------------------------------------------------
    val keyB = (vaultB.unlock("4321".toCharArray()) as UnlockResult.Unlocked).storeKey
    b.panic()
    c.check("panic wipe removes store and key", !b.isSetUp() && !File(root, "b/store").exists() && b.repository == null)
    val reopened = runCatching { CaravanStore.open(File(root, "b/store").absolutePath, keyB) }
    c.check("after the panic wipe the right key opens nothing", reopened.exceptionOrNull() is CaravanException.NotAStore)
    val d = StoreSession(File(root, "d/store"), KeyVault(File(root, "d/vault"), SoftwareWrappingKey(), iterations = 1_000, maxAttempts = 2))
    d.setUp("1111".toCharArray(), null)
    d.lock()
    d.unlock("0000".toCharArray())
    c.check("too many wrong PINs wipe", d.unlock("0000".toCharArray()) == UnlockOutcome.Wiped && !d.isSetUp())

    // --- auto-lock -------------------------------------------------------------------------
    var now = 0L
    var locked = 0
    val auto = AutoLock(timeoutMs = 1_000, clock = { now }) { locked++ }
    auto.onBackground(); now = 500; auto.onForeground()
    auto.onBackground(); now = 2_000; auto.onForeground()
    c.check("auto-lock after the timeout only", locked == 1)
    a.lock()

    lockPaths(root, c)
}

/**
 * The app's lock, auto-lock and wipe paths as AppViewModel runs them: the screens
 * collect the repository's changes in a scope on a single-thread "main" dispatcher,
 * then the store is locked (menu or auto-lock) or wiped and the collection cancelled.
 * Nothing may reach the scope's exception handler (an uncaught exception there is a
 * crash on Android), and the closed repository answers with typed errors.
 */
private suspend fun lockPaths(root: File, c: Checks) {
    val main = java.util.concurrent.Executors.newSingleThreadExecutor { Thread(it, "main") }
    val uncaught = java.util.Collections.synchronizedList(mutableListOf<Throwable>())
    val scope = kotlinx.coroutines.CoroutineScope(
        kotlinx.coroutines.SupervisorJob() + main.asCoroutineDispatcher() +
            kotlinx.coroutines.CoroutineExceptionHandler { _, e -> uncaught.add(e) },
    )
    try {
        val s = session(File(root, "lock"))
        s.setUp("2468".toCharArray(), null)
        var now = 0L
        val auto = AutoLock(timeoutMs = 60_000, clock = { now }) { s.lock() }
        for (path in listOf("menu lock", "auto-lock", "panic wipe", "duress PIN")) {
            val repo = s.repository ?: (s.unlock("2468".toCharArray()) as UnlockOutcome.Opened).repository
            val seen = java.util.concurrent.atomic.AtomicInteger()
            val job = scope.launch { repo.changes().collect { seen.incrementAndGet() } }
            val second = scope.launch { repo.changes().collect { seen.incrementAndGet() } }
            kotlinx.coroutines.withContext(main.asCoroutineDispatcher()) { kotlinx.coroutines.yield() }
            repo.add(CaseForm().with(ScalarField.GENDER, "Feminine").edits())
            // The repository reports nothing itself: the core's listener tells both
            // collectors of the local edit (decision 0019).
            val told = withTimeoutOrNull(10_000) { while (seen.get() < 2) kotlinx.coroutines.delay(10); true }
            c.check("$path: the core told both collectors of the local edit (${seen.get()})", told == true)
            when (path) {
                "menu lock" -> s.lock()
                "auto-lock" -> { auto.onBackground(); now += 61_000; auto.onForeground() }
                "panic wipe" -> s.panic()
                "duress PIN" -> { s.lock(); s.unlock("1357".toCharArray()) }
            }
            job.cancel(); second.cancel()
            job.join(); second.join()
            c.check("$path: nothing uncaught in the view model's scope (${uncaught.firstOrNull()})", uncaught.isEmpty())
            val after = runCatching { repo.list() }.exceptionOrNull()
            c.check("$path: the closed repository answers ReopenStore, not $after", after is CaravanException.ReopenStore)
            c.check("$path: setChangeListener(null) on the closed store is harmless",
                runCatching { repo.store.setChangeListener(null) }.isSuccess)
            c.check("$path: closing twice is harmless", runCatching { repo.close() }.isSuccess)
            if (path == "panic wipe") {
                c.check("panic wipe: nothing left", !s.isSetUp())
                s.setUp("2468".toCharArray(), "1357".toCharArray())
            } else if (path != "duress PIN") {
                val again = s.unlock("2468".toCharArray())
                c.check("$path: the PIN opens the store again", again is UnlockOutcome.Opened && again.repository.list().isNotEmpty())
            }
            uncaught.clear()
        }
        s.lock()
    } finally {
        scope.cancel()
        main.shutdown()
    }
}
