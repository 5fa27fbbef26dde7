#!/usr/bin/env bash
# Generates the bindings (bindings/generate.sh), then runs the Python and Kotlin
# binding tests against the freshly built library, then android/check-jvm.sh (the
# Android library module's platform-neutral Kotlin, compiled against the same bindings
# and run on the JVM). Part of the README's test command (tests/run.sh) and of CI.
# Installs nothing itself: tests/run.sh runs tests/install-tools.sh first (run that
# script once when calling this one directly).
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
  echo "bindings tests: missing tools (bash tests/install-tools.sh installs them). Install:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

bash bindings/generate.sh

echo "== Python binding tests"
RUST_BACKTRACE=0 PYTHONPATH="$out/python" python3 bindings/tests/python/test_caravan.py

echo "== Kotlin binding tests (desktop JVM, JNA)"
# The generated bindings are compiled once into their own jar (reused by
# android/check-jvm.sh below), then the test against it; both are kept while their
# sources are unchanged.
build="$target/kotlin-tests"
mkdir -p "$build"
kotlin_home="$(cd "$(dirname "$(readlink -f "$kotlinc")")/.." && pwd)"
stdlib="$kotlin_home/lib/kotlin-stdlib.jar"
generated="$out/kotlin/org/caravan/core/caravan_ffi.kt"
kotlinc_quiet() {
  "$kotlinc" -nowarn -jvm-target 17 "$@" 2>&1 | grep -v '^warning: unable to find kotlin-stdlib.jar' || true
}
stamp="$(cat "$generated" "$jna" | sha256sum | cut -c1-16)"
bindings_jar="$build/caravan-bindings-$stamp.jar"
if [[ ! -f "$bindings_jar" ]]; then
  rm -f "$build"/caravan-bindings-*.jar
  kotlinc_quiet -module-name caravan-bindings -cp "$jna" -d "$bindings_jar" "$generated"
  [[ -f "$bindings_jar" ]] || { echo "kotlinc failed on the generated bindings" >&2; exit 1; }
fi
test_stamp="$(cat "$bindings_jar" bindings/tests/kotlin/CaravanTest.kt | sha256sum | cut -c1-16)"
test_jar="$build/caravan-test-$test_stamp.jar"
if [[ ! -f "$test_jar" ]]; then
  rm -f "$build"/caravan-test-*.jar
  kotlinc_quiet -module-name caravan-test -cp "$jna:$bindings_jar" -d "$test_jar" bindings/tests/kotlin/CaravanTest.kt
  [[ -f "$test_jar" ]] || { echo "kotlinc failed on the Kotlin tests" >&2; exit 1; }
fi
RUST_BACKTRACE=0 java -Djna.library.path="$out" -cp "$test_jar:$bindings_jar:$jna:$stdlib" CaravanTestKt

echo "== Android library module's platform-neutral Kotlin on the desktop JVM (android/check-jvm.sh)"
KOTLINC="$kotlinc" JNA_JAR="$jna" CARAVAN_BINDINGS="$out" CARAVAN_BINDINGS_JAR="$bindings_jar" \
  bash android/check-jvm.sh
