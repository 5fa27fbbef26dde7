#!/usr/bin/env bash
# Runs every Caravan test: the Rust workspace (unit, integration, crash-consistency,
# CLI end to end, doc tests), then the generated Kotlin and Python bindings' tests
# (bindings/tests/run.sh; needs kotlinc and JNA, which .ci/run installs). This is the
# README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust workspace tests"
cargo test --workspace --locked

echo "== Binding tests: generated Kotlin (desktop JVM) and Python"
bash bindings/tests/run.sh
