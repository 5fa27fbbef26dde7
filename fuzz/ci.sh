#!/usr/bin/env bash
# Short fuzzing run for CI: every fuzz target for $FUZZ_SECONDS seconds (default 20),
# starting from the checked-in corpus (fuzz/corpus/<target>/, read only: new inputs go
# to a scratch directory). A crash, panic or failed assertion fails the run and leaves
# the input in fuzz/artifacts/<target>/. Stable toolchain, no sanitizer (safe Rust).
#
#   bash fuzz/ci.sh            # installs cargo-fuzz if it is missing (≈ 3 min)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi

targets=(envelope_decode bundle_import qr_reassembly store_open)
echo "== building fuzz targets (release, coverage instrumentation, no sanitizer)"
cargo fuzz build --sanitizer none

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  mkdir -p "$scratch/$t"
  status=0
  cargo fuzz run --sanitizer none "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$scratch/$t.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units)' "$scratch/$t.log" || true
  if [[ $status -ne 0 ]]; then
    tail -40 "$scratch/$t.log" >&2
    echo "fuzz target $t failed (exit $status); the input is in fuzz/artifacts/$t/" >&2
    exit "$status"
  fi
done
echo "fuzzing: no crash in ${#targets[@]} targets"
