#!/usr/bin/env bash
# Compiles every hand-written Kotlin file of the `caravan` library module that needs no
# Android class against the generated desktop bindings, then runs a smoke test of that
# layer on the JVM against the host build of libcaravan_ffi (two stores on this machine:
# PIN vault, duress PIN, case form, screening, referral, QR hand-over, live sync over
# loopback TCP, mailbox folder, panic wipe).
#
#   bash android/check-jvm.sh            # generate the bindings if needed, compile, run
#   bash android/check-jvm.sh --compile-only
#
# Needs: Java 17, kotlinc and JNA, found as bindings/tests/run.sh finds them ($KOTLINC,
# PATH or npm's global kotlin-compiler; $JNA_JAR or /usr/share/java/jna.jar;
# tests/install-tools.sh installs both). kotlinx-coroutines comes from the Kotlin compiler's own lib/ folder
# (kotlinx-coroutines-core-jvm.jar, 1.8 in kotlin-compiler 2.x), so nothing else is
# installed. Bindings: $CARAVAN_BINDINGS or $CARGO_TARGET_DIR/bindings (target/bindings),
# made by bindings/generate.sh when absent (bindings/tests/run.sh makes them first).
#
# Not compiled here (they need the Android SDK): see EXCLUDED below. The app module
# (Compose UI) is not compiled here either.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
src="$here/caravan/src/main/kotlin/org/caravan/android"
test_src="$here/caravan/src/jvmTest/kotlin/org/caravan/android"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$target/android-jvm-check"
compile_only=0
[[ "${1:-}" == "--compile-only" ]] && compile_only=1

# Files that need android.*/androidx.* classes (Keystore, process lifecycle, Storage
# Access Framework, Context). Everything else in src/main is compiled and exercised here.
EXCLUDED=(AndroidKeystoreKey.kt AppLifecycleLock.kt CaravanAndroid.kt DocumentTreeMailbox.kt)

# ----- tools ------------------------------------------------------------------------
kotlinc="${KOTLINC:-}"
if [[ -z $kotlinc ]]; then
  if command -v kotlinc >/dev/null; then
    kotlinc="$(command -v kotlinc)"
  elif command -v npm >/dev/null && [[ -x "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc" ]]; then
    kotlinc="$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc"
  fi
fi
[[ -n $kotlinc && -x $kotlinc ]] || {
  echo "kotlinc not found: npm install -g kotlin-compiler (or set KOTLINC)" >&2
  exit 1
}
kotlin_home="$(cd "$(dirname "$(readlink -f "$kotlinc")")/.." && pwd)"
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
coroutines="$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar"
stdlib="$kotlin_home/lib/kotlin-stdlib.jar"
for j in "$jna" "$coroutines" "$stdlib"; do
  [[ -f $j ]] || {
    echo "missing $j (JNA: apt-get install -y libjna-java or set JNA_JAR; the others come with kotlinc)" >&2
    exit 1
  }
done
jars=("$jna" "$coroutines")

# ----- bindings ---------------------------------------------------------------------
cd "$repo"
bindings="${CARAVAN_BINDINGS:-$target/bindings}"
if [[ ! -d $bindings/kotlin ]]; then
  echo "== generating the bindings (bindings/generate.sh)"
  bash bindings/generate.sh
fi
[[ -d $bindings/kotlin ]] || { echo "no Kotlin bindings in $bindings/kotlin" >&2; exit 1; }
library="$bindings/$(cat "$bindings/LIBRARY" 2>/dev/null || echo libcaravan_ffi.so)"
[[ -f $library ]] || { echo "no host library in $bindings (bindings/generate.sh copies it there)" >&2; exit 1; }

# ----- which files ------------------------------------------------------------------
checked=()
for f in "$src"/*.kt; do
  name="$(basename "$f")"
  skip=0
  for e in "${EXCLUDED[@]}"; do [[ $name == "$e" ]] && skip=1; done
  if [[ $skip -eq 1 ]]; then continue; fi
  if grep -qE '^import (android|androidx)\.' "$f"; then
    echo "$name imports android.*/androidx.* but is not in EXCLUDED: keep platform code in its own file" >&2
    exit 1
  fi
  checked+=("$f")
done
for e in "${EXCLUDED[@]}"; do
  [[ -f $src/$e ]] || { echo "EXCLUDED names a missing file: $e" >&2; exit 1; }
done

# ----- compile ----------------------------------------------------------------------
# $CARAVAN_BINDINGS_JAR: the generated bindings already compiled (bindings/tests/run.sh
# passes the jar it built from the same sources, so they are not compiled twice).
# Without it, the generated sources are compiled here together with the layer.
rm -rf "$work"
mkdir -p "$work/classes"
classpath=("${jars[@]}")
sources=("${checked[@]}" "$test_src"/*.kt)
if [[ -n ${CARAVAN_BINDINGS_JAR:-} ]]; then
  [[ -f $CARAVAN_BINDINGS_JAR ]] || { echo "no jar at CARAVAN_BINDINGS_JAR=$CARAVAN_BINDINGS_JAR" >&2; exit 1; }
  classpath+=("$CARAVAN_BINDINGS_JAR")
else
  while IFS= read -r f; do sources+=("$f"); done < <(find "$bindings/kotlin" -name '*.kt')
fi
cp_jars="$(IFS=:; echo "${classpath[*]}")"
echo "== compiling ${#checked[@]} Kotlin files of android/caravan + JvmSmoke.kt (excluded, need Android: ${EXCLUDED[*]})"
"$kotlinc" -nowarn -jvm-target 17 -module-name caravan-android-jvm-check -cp "$cp_jars" -d "$work/classes" \
  "${sources[@]}" 2>&1 | grep -v '^warning: unable to find kotlin-stdlib.jar' || true
[[ -f $work/classes/org/caravan/android/JvmSmokeKt.class ]] || { echo "compilation failed" >&2; exit 1; }
echo "compiled: ${checked[*]##*/}"

if [[ $compile_only -eq 1 ]]; then
  exit 0
fi

# ----- run --------------------------------------------------------------------------
echo "== running the JVM smoke test against $library"
RUST_BACKTRACE=0 java -Djna.library.path="$(dirname "$library")" \
  -cp "$work/classes:$cp_jars:$stdlib" \
  org.caravan.android.JvmSmokeKt "$work/run"
