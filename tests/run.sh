#!/usr/bin/env bash
# Runs every Caravan test: the protocol vectors re-derived without caravan-core
# (tests/vectors/check.py, Python stdlib), the Rust workspace (unit, integration, crash-consistency,
# CLI end to end, doc tests), then the generated Kotlin and Python bindings' tests
# (bindings/tests/run.sh). This is the README's test command and what CI runs (.ci/run
# calls it unchanged).
#
# On a machine with only Rust it first installs what the binding tests need
# (tests/install-tools.sh: kotlinc from npm's kotlin-compiler, JNA from Debian's
# libjna-java, java and python3 if missing; idempotent, nothing fetched when present;
# system packages need root, and without root it says what to install and stops before
# running anything).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tools for the binding tests (tests/install-tools.sh)"
tools="$(bash tests/install-tools.sh | tail -1)"
export KOTLINC="${tools#KOTLINC=}"
KOTLINC="${KOTLINC%% JNA_JAR=*}"
export JNA_JAR="${tools##* JNA_JAR=}"
echo "kotlinc: $KOTLINC; JNA: $JNA_JAR"

# Apache is installed: the WebDAV mailbox test must run, not skip.
if [[ -x /usr/sbin/apache2 && -f /usr/lib/apache2/modules/mod_dav.so ]]; then
  export CARAVAN_REQUIRE_WEBDAV=1
fi

echo "== Protocol vectors, checked without caravan-core (tests/vectors/check.py)"
python3 tests/vectors/check.py

echo "== Rust workspace tests"
cargo test --workspace --locked

echo "== Analyst readers: pandas, pyarrow and openpyxl read every export format (tests/analyst)"
analyst_py="$(bash tests/analyst/install.sh | tail -1)"
cargo build -q -p caravan-cli --locked
"$analyst_py" tests/analyst/read_exports.py target/debug/caravan

echo "== Binding tests: generated Kotlin (desktop JVM) and Python"
bash bindings/tests/run.sh
