// The Kotlin side of the FFI benchmark (bindings/bench.sh): the same calls as
// caravan-ffi-bench makes in Rust, through the generated bindings on the JVM.
// `BenchKt DIR [ADDS]` prints `kotlin list_ms=<median> add_ms=<total> paged_ms=<median>`
// (paged: `listCaseIds` of all 10,000 cases, then `caseSummaries` of the first 50).

import org.caravan.android.CaseTableReader
import org.caravan.core.*
import java.io.File

val COUNTRIES = listOf("KZ", "KG", "TJ", "UZ", "TM")

/** Rows of the first page of a list screen. */
const val PAGE = 50

fun edits(i: Int): List<CaseEdit> = listOf(
    CaseEdit.Set(ScalarField.GENDER, if (i % 2 == 0) "Feminine" else "Masculine"),
    CaseEdit.Set(ScalarField.AGE_BAND, "18-20"),
    CaseEdit.Add(SetField.CITIZENSHIP, COUNTRIES[i % COUNTRIES.size]),
    CaseEdit.Add(SetField.EXPLOITATION, "ForcedLabour"),
    CaseEdit.Add(SetField.MEANS_OF_CONTROL, "DebtBondage"),
    CaseEdit.AddRouteEvent("Exploitation", "RU", 2024.toUShort(), 5.toUByte()),
)

fun main(args: Array<String>) {
    val dir = File(args[0])
    val cases = 10_000
    val adds = args.getOrNull(1)?.toInt() ?: 1_000 // bench.sh passes 0 on repeat runs
    val rounds = 30
    val warmup = 20 // the JIT compiles the generated readers during these
    val key = generateStoreKey()
    val store = CaravanStore.create(File(dir, "list").path, key)
    store.importCases(List(cases) { edits(it) }, null)
    val everything = CaseListFilter()
    val times = mutableListOf<Double>()
    repeat(rounds + warmup) { r ->
        val t = System.nanoTime()
        val listed = store.listCases(everything)
        val ms = (System.nanoTime() - t) / 1e6
        check(listed.size == cases)
        if (r >= warmup) times.add(ms)
    }
    // The paged path of a list screen: every id in list order, then the first page.
    val paged = mutableListOf<Double>()
    repeat(rounds + warmup) { r ->
        val t = System.nanoTime()
        val ids = store.listCaseIds(everything)
        val page = store.caseSummaries(ids.take(PAGE))
        val ms = (System.nanoTime() - t) / 1e6
        check(ids.size == cases && page.size == PAGE)
        if (r >= warmup) paged.add(ms)
    }
    // The compact table (listCaseTable, read with the Android module's CaseTableReader):
    // `table`: the call and the reader, as a list screen that decodes the rows it shows;
    // `table_read`: the same, then every field of every row read (ids as strings, lists
    // as arrays), the work listCases does for all rows.
    val tabled = mutableListOf<Double>()
    val tableRead = mutableListOf<Double>()
    var sink = 0L
    repeat(rounds + warmup) { r ->
        val t = System.nanoTime()
        val reader = CaseTableReader(store.listCaseTable(everything))
        val ms = (System.nanoTime() - t) / 1e6
        check(reader.size == cases)
        val t2 = System.nanoTime()
        val reader2 = CaseTableReader(store.listCaseTable(everything))
        for (i in 0 until reader2.size) {
            sink += reader2.id(i).length + reader2.createdAtMs(i) + reader2.updatedAtMs(i) +
                reader2.caseStatus(i) + reader2.traffickingStatus(i) + reader2.gender(i) + reader2.ageBand(i) +
                reader2.referrals(i) + reader2.notes(i) + reader2.conflicts(i) +
                reader2.citizenship(i).size + reader2.routeCountries(i).size + reader2.exploitation(i).size
        }
        val ms2 = (System.nanoTime() - t2) / 1e6
        if (r >= warmup) { tabled.add(ms); tableRead.add(ms2) }
    }
    check(sink != 0L)
    // Not timed: the table holds what listCases gives, row for row.
    run {
        val reader = CaseTableReader(store.listCaseTable(everything))
        val rows = store.listCases(everything)
        fun idx(v: VocabularyCode?): Int = when (v) {
            null -> CaseTableReader.NONE
            is VocabularyCode.Known -> v.index.toInt()
            is VocabularyCode.Unknown -> CaseTableReader.NEWER
        }
        for ((i, s) in rows.withIndex()) {
            check(reader.id(i) == s.id && reader.updatedAtMs(i) == s.updatedAtMs && reader.createdAtMs(i) == s.createdAtMs) { "row $i" }
            check(reader.gender(i) == idx(s.gender) && reader.ageBand(i) == idx(s.ageBand) && reader.caseStatus(i) == idx(s.caseStatus)) { "codes $i" }
            check(reader.citizenship(i).toList() == s.citizenship.map(::idx) && reader.exploitation(i).toList() == s.exploitation.map(::idx)) { "lists $i" }
            check(reader.routeCountries(i).toList() == s.routeCountries.map(::idx) && reader.notes(i) == s.notes.toInt()) { "route $i" }
        }
    }
    // Not timed: the listed summaries carry what the case list shows, and their
    // vocabulary values resolve to the codes that were stored.
    val listed = store.listCases(everything)
    val tables = vocabularies().associateBy { it.id }
    fun code(vocabulary: String, value: VocabularyCode?): String? = when (value) {
        null -> null
        is VocabularyCode.Known -> tables.getValue(vocabulary).entries[value.index.toInt()].code
        is VocabularyCode.Unknown -> value.code
    }
    check(listed.count { code("gender", it.gender) == "Feminine" } == cases / 2) { "genders" }
    check(listed.all { code("age_band", it.ageBand) == "18-20" }) { "age bands" }
    check(listed.map { code("country", it.citizenship.single()) }.toSet() == COUNTRIES.toSet()) { "citizenship" }
    check(listed.all { s -> s.routeCountries.map { code("country", it) } == listOf("RU") }) { "route" }
    check(listed.all { s -> s.exploitation.map { code("exploitation_type", it) } == listOf("ForcedLabour") }) { "exploitation" }
    store.closeStore()

    val adding = CaravanStore.create(File(dir, "add").path, key)
    val batch = List(adds) { edits(it) }
    val t = System.nanoTime()
    for (e in batch) adding.addCase(e)
    val addMs = (System.nanoTime() - t) / 1e6
    adding.closeStore()
    times.sort()
    paged.sort()
    tabled.sort()
    tableRead.sort()
    println("kotlin list_ms=%.3f add_ms=%.1f paged_ms=%.3f table_ms=%.3f table_read_ms=%.3f".format(
        times[times.size / 2], addMs, paged[paged.size / 2], tabled[tabled.size / 2], tableRead[tableRead.size / 2]))
}
