#!/usr/bin/env bash
# FFI overhead: lists 10,000 case summaries and adds 1,000 cases from Rust (directly on
# caravan_core), from Kotlin (JVM, JNA) and from Python through the generated bindings,
# in the same run, on release builds, and prints the ratios to Rust.
#
#   bash bindings/bench.sh
#
# Needs what bindings/tests/run.sh needs (kotlinc, JNA, python3).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="$target/bindings"

kotlinc="${KOTLINC:-$(command -v kotlinc || echo "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc")}"
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
[[ -x "$kotlinc" && -f "$jna" ]] || { echo "needs kotlinc and JNA: see bindings/tests/run.sh" >&2; exit 1; }

bash bindings/generate.sh --release >/dev/null
cargo build --locked --release -p caravan-ffi --bin caravan-ffi-bench
jar="$target/kotlin-tests/caravan-bench.jar"
mkdir -p "$(dirname "$jar")"
"$kotlinc" -nowarn -cp "$jna" -include-runtime -d "$jar" \
  "$out/kotlin/org/caravan/core/caravan_ffi.kt" bindings/bench/Bench.kt 2>&1 \
  | grep -v '^warning: unable to find kotlin-stdlib.jar' || true

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rust" "$work/kotlin" "$work/python"
echo "machine: $(nproc) cores, $(uname -sr), $(java -version 2>&1 | head -1), $(python3 --version)"
rust="$("$target/release/caravan-ffi-bench" "$work/rust")"
echo "$rust"
kotlin="$(java -Djna.library.path="$out" -cp "$jar:$jna" BenchKt "$work/kotlin")"
echo "$kotlin"
python="$(PYTHONPATH="$out/python" python3 bindings/bench/bench.py "$work/python")"
echo "$python"

value() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
for lang in kotlin python; do
  line="${!lang}"
  awk -v l="$lang" -v rl="$(value "$rust" list_ms)" -v ll="$(value "$line" list_ms)" \
      -v ra="$(value "$rust" add_ms)" -v la="$(value "$line" add_ms)" \
      'BEGIN { printf "%s/rust: list 10,000 summaries %.2fx, add 1,000 cases %.2fx\n", l, ll/rl, la/ra }'
done
