#!/usr/bin/env bash
# Generates the bindings (bindings/generate.sh), then runs the Python and Kotlin
# binding tests against the freshly built library. Part of the README's test command
# (tests/run.sh) and of CI. Installs nothing: .ci/run installs kotlinc and JNA.
#
# Finds kotlinc on PATH, in $KOTLINC, or in npm's global kotlin-compiler package,
# and JNA in $JNA_JAR or /usr/share/java/jna.jar.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
out="$target/bindings"

missing=()
command -v python3 >/dev/null || missing+=("python3 (apt-get install -y python3)")
command -v java >/dev/null || missing+=("java 17+ (apt-get install -y openjdk-17-jdk-headless)")
kotlinc="${KOTLINC:-}"
if [[ -z "$kotlinc" ]]; then
  if command -v kotlinc >/dev/null; then
    kotlinc="$(command -v kotlinc)"
  elif command -v npm >/dev/null && [[ -x "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc" ]]; then
    kotlinc="$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc"
  fi
fi
[[ -n "$kotlinc" && -x "$kotlinc" ]] || missing+=("kotlinc (npm install -g kotlin-compiler, or set KOTLINC)")
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
[[ -f "$jna" ]] || missing+=("JNA (apt-get update && apt-get install -y libjna-java, or set JNA_JAR)")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "bindings tests: missing tools; CI installs them in .ci/run. Install:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

bash bindings/generate.sh

echo "== Python binding tests"
RUST_BACKTRACE=0 PYTHONPATH="$out/python" python3 bindings/tests/python/test_caravan.py

echo "== Kotlin binding tests (desktop JVM, JNA)"
build="$target/kotlin-tests"
mkdir -p "$build"
sources=("$out/kotlin/org/caravan/core/caravan_ffi.kt" bindings/tests/kotlin/CaravanTest.kt)
stamp="$(cat "${sources[@]}" "$jna" | sha256sum | cut -c1-16)"
jar="$build/caravan-test-$stamp.jar"
if [[ ! -f "$jar" ]]; then
  rm -f "$build"/caravan-test-*.jar
  "$kotlinc" -nowarn -cp "$jna" -include-runtime -d "$jar" "${sources[@]}" 2>&1 \
    | grep -v '^warning: unable to find kotlin-stdlib.jar' || true
  [[ -f "$jar" ]] || { echo "kotlinc failed" >&2; exit 1; }
fi
RUST_BACKTRACE=0 java -Djna.library.path="$out" -cp "$jar:$jna" CaravanTestKt
