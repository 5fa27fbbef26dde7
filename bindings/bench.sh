#!/usr/bin/env bash
# FFI overhead: lists 10,000 case summaries and adds 1,000 cases from Rust (directly on
# caravan_core), from Kotlin (JVM, JNA) and from Python through the generated bindings,
# in the same run, on release builds, and prints the ratios to Rust
# (docs/benchmarks.md, "FFI overhead").
#
#   bash bindings/bench.sh
#
# Needs what bindings/tests/run.sh needs (kotlinc, JNA, python3). Each language works in
# its own fresh store in a temporary directory (on the file system of $TMPDIR: adding
# cases is one fsync per case, so that disk decides the add times).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="$target/bindings"

kotlinc="${KOTLINC:-}"
if [[ -z "$kotlinc" ]]; then
  if command -v kotlinc >/dev/null; then
    kotlinc="$(command -v kotlinc)"
  elif command -v npm >/dev/null && [[ -x "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc" ]]; then
    kotlinc="$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc"
  fi
fi
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
[[ -n "$kotlinc" && -x "$kotlinc" && -f "$jna" ]] || {
  echo "needs kotlinc and JNA: see bindings/tests/run.sh" >&2
  exit 1
}
kotlin_home="$(cd "$(dirname "$(readlink -f "$kotlinc")")/.." && pwd)"

echo "== release build and bindings"
bash bindings/generate.sh --release >/dev/null
cargo build --locked --release -p caravan-ffi --bin caravan-ffi-bench
build="$target/kotlin-tests"
mkdir -p "$build"
sources=("$out/kotlin/org/caravan/core/caravan_ffi.kt" android/caravan/src/main/kotlin/org/caravan/android/CaseTableReader.kt bindings/bench/Bench.kt)
stamp="$(cat "${sources[@]}" "$jna" | sha256sum | cut -c1-16)"
jar="$build/caravan-bench-$stamp.jar"
if [[ ! -f "$jar" ]]; then
  rm -f "$build"/caravan-bench-*.jar
  "$kotlinc" -nowarn -jvm-target 17 -cp "$jna" -d "$jar" "${sources[@]}" 2>&1 \
    | grep -v '^warning: unable to find kotlin-stdlib.jar' || true
  [[ -f "$jar" ]] || { echo "kotlinc failed" >&2; exit 1; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rust" "$work/kotlin" "$work/python"
echo "== machine"
echo "cpu: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
echo "system: $(uname -sr); load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "store directory on: $(df -T "$work" | awk 'NR==2 { print $2 }') ($work)"
echo "tools: $(rustc --version), $(java -version 2>&1 | head -1), JNA $(unzip -p "$jna" META-INF/MANIFEST.MF 2>/dev/null | sed -n 's/^Implementation-Version: //p' | tr -d '\r'), kotlinc $(cat "$kotlin_home/build.txt" 2>/dev/null), $(python3 --version)"

repeats="${BENCH_REPEATS:-3}"
echo "== runs: $repeats rounds of Rust, Kotlin, Python in turn (list: median of 30 calls after"
echo "   warm-up, in a store of 10,000 cases, Rust's time including freeing the summaries;"
echo "   paged: list_case_ids of all, then case_summaries of the first 50, median of 30;"
echo "   add: 1,000 add_case calls, total, first round only)"
value() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A lists=() adds=() pages=()
for round in $(seq 1 "$repeats"); do
  n=0
  if [[ $round -eq 1 ]]; then n=1000; fi
  rm -rf "$work/rust" "$work/kotlin" "$work/python"
  mkdir -p "$work/rust" "$work/kotlin" "$work/python"
  rust="$("$target/release/caravan-ffi-bench" --adds "$n" "$work/rust")"
  kotlin="$(java -Djna.library.path="$out" -cp "$jar:$jna:$kotlin_home/lib/kotlin-stdlib.jar" BenchKt "$work/kotlin" "$n")"
  python="$(PYTHONPATH="$out/python" python3 bindings/bench/bench.py "$work/python" "$n")"
  for lang in rust kotlin python; do
    line="${!lang}"
    echo "round $round: $line"
    lists[$lang]+=" $(value "$line" list_ms)"
    if [[ $round -eq 1 ]]; then adds[$lang]="$(value "$line" add_ms)"; fi
  done
  pages[kotlin]+=" $(value "$kotlin" paged_ms)"
  pages[python]+=" $(value "$python" paged_ms)"
  pages[table]+=" $(value "$kotlin" table_ms)"
  pages[table_read]+=" $(value "$kotlin" table_read_ms)"
  lists[only]+=" $(value "$rust" list_only_ms)"
  lists[wrapped]+=" $(value "$rust" wrapped_list_ms)"
  lists[lowered]+=" $(value "$rust" lowered_list_ms)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"

echo "== medians over the rounds, and ratios to Rust (Store::list and freeing its result)"
rl="$(median <<<"${lists[rust]}")"
ro="$(median <<<"${lists[only]}")"
printf '%-34s list %8.2f ms   add %8.1f ms\n' "rust (caravan_core::Store)" "$rl" "${adds[rust]}"
printf '%-34s list %8.2f ms   (%.2fx)\n' "rust list, freed after the clock" "$ro" \
  "$(awk -v a="$ro" -v b="$rl" 'BEGIN { print a / b }')"
printf '%-34s list %8.2f ms   (%.2fx)\n' "rust via the wrapper, no crossing" "$(median <<<"${lists[wrapped]}")" \
  "$(awk -v a="$(median <<<"${lists[wrapped]}")" -v b="$rl" 'BEGIN { print a / b }')"
printf '%-34s list %8.2f ms   (%.2fx)\n' "rust wrapper + serialised + freed" "$(median <<<"${lists[lowered]}")" \
  "$(awk -v a="$(median <<<"${lists[lowered]}")" -v b="$rl" 'BEGIN { print a / b }')"
for lang in kotlin python; do
  ll="$(median <<<"${lists[$lang]}")"
  printf '%-34s list %8.2f ms (%.2fx)   add %8.1f ms (%.2fx)\n' "$lang" "$ll" \
    "$(awk -v a="$ll" -v b="$rl" 'BEGIN { print a / b }')" "${adds[$lang]}" \
    "$(awk -v a="${adds[$lang]}" -v b="${adds[rust]}" 'BEGIN { print a / b }')"
done
for lang in kotlin python; do
  pl="$(median <<<"${pages[$lang]}")"
  printf '%-34s       %8.2f ms (%.2fx)\n' "$lang paged: all ids + 50 summaries" "$pl" \
    "$(awk -v a="$pl" -v b="$rl" 'BEGIN { print a / b }')"
done
for kind in table table_read; do
  tl="$(median <<<"${pages[$kind]}")"
  printf '%-34s       %8.2f ms (%.2fx)\n' "kotlin listCaseTable ($kind)" "$tl" \
    "$(awk -v a="$tl" -v b="$rl" 'BEGIN { print a / b }')"
done
kl="$(median <<<"${lists[kotlin]}")"
awk -v r="$(awk -v a="$kl" -v b="$rl" 'BEGIN { print a / b }')" \
  -v o="$(awk -v a="$kl" -v b="$ro" 'BEGIN { print a / b }')" 'BEGIN {
  printf "target (Kotlin list <= 2x Rust): %.2fx, %s (%.2fx against the Rust list freed after the clock)\n", r, (r <= 2 ? "met" : "MISSED"), o
}'
tr_="$(median <<<"${pages[table_read]}")"
awk -v r="$(awk -v a="$tr_" -v b="$rl" 'BEGIN { print a / b }')" 'BEGIN {
  printf "target with listCaseTable, every field of every row read: %.2fx, %s\n", r, (r <= 2 ? "met" : "MISSED")
}'
