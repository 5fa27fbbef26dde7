"""The Python side of the FFI benchmark (bindings/bench.sh): the same calls as
caravan-ffi-bench makes in Rust, through the generated bindings."""

import statistics
import sys
import time

import caravan_ffi as cv

COUNTRIES = ["KZ", "KG", "TJ", "UZ", "TM"]
PAGE = 50  # rows of the first page of a list screen


def edits(i):
    return [
        cv.CaseEdit.SET(field=cv.ScalarField.GENDER, code="Feminine" if i % 2 == 0 else "Masculine"),
        cv.CaseEdit.SET(field=cv.ScalarField.AGE_BAND, code="18-20"),
        cv.CaseEdit.ADD(field=cv.SetField.CITIZENSHIP, code=COUNTRIES[i % len(COUNTRIES)]),
        cv.CaseEdit.ADD(field=cv.SetField.EXPLOITATION, code="ForcedLabour"),
        cv.CaseEdit.ADD(field=cv.SetField.MEANS_OF_CONTROL, code="DebtBondage"),
        cv.CaseEdit.ADD_ROUTE_EVENT(kind="Exploitation", country="RU", year=2024, month=5),
    ]


def main(directory, cases=10_000, adds=1_000, rounds=30):
    key = cv.generate_store_key()
    store = cv.CaravanStore.create(f"{directory}/list", key)
    store.import_cases([edits(i) for i in range(cases)], None)
    everything = cv.CaseListFilter()
    times = []
    for r in range(rounds + 5):
        t = time.perf_counter()
        listed = store.list_cases(everything)
        ms = (time.perf_counter() - t) * 1e3
        assert len(listed) == cases
        if r >= 5:
            times.append(ms)
    # The paged path of a list screen: every id in list order, then the first page.
    paged = []
    for r in range(rounds + 5):
        t = time.perf_counter()
        ids = store.list_case_ids(everything)
        page = store.case_summaries(ids[:PAGE])
        ms = (time.perf_counter() - t) * 1e3
        assert len(ids) == cases and len(page) == PAGE
        if r >= 5:
            paged.append(ms)
    # Not timed: the summaries carry what the case list shows, and their vocabulary
    # values resolve to the codes that were stored.
    listed = store.list_cases(everything)
    assert sum(cv.code_of("gender", s.gender) == "Feminine" for s in listed) == cases // 2
    assert {cv.code_of("country", s.citizenship[0]) for s in listed} == set(COUNTRIES)
    assert all([cv.code_of("exploitation_type", c) for c in s.exploitation] == ["ForcedLabour"]
               for s in listed)
    store.close_store()

    store = cv.CaravanStore.create(f"{directory}/add", key)
    batch = [edits(i) for i in range(adds)]
    t = time.perf_counter()
    for e in batch:
        store.add_case(e)
    add_ms = (time.perf_counter() - t) * 1e3
    store.close_store()
    print(
        f"python list_ms={statistics.median(times):.3f} add_ms={add_ms:.1f} "
        f"paged_ms={statistics.median(paged):.3f}"
    )


if __name__ == "__main__":
    # bench.sh passes ADDS=0 on repeat runs: `bench.py DIR [ADDS]`.
    main(sys.argv[1], adds=int(sys.argv[2]) if len(sys.argv) > 2 else 1_000)
