#!/usr/bin/env bash
# Runs every Caravan test: the Rust workspace (unit, integration, crash-consistency,
# CLI end to end, doc tests). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust workspace tests"
cargo test --workspace --locked
